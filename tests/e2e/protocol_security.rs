//! The protocol's security rules, each attempted as an attacker would: claims beyond the
//! consented scopes, introspection and revocation of another client's tokens, codes
//! burnt by the wrong client, foreign `id_token_hint`s, client assertions from the
//! future, guessing client secrets, and the transport (HSTS, slow bodies).

use crate::flow::authorize_url_for;
use crate::*;

const OTHER_SECRET: &str = "another-client-secret-of-length";

fn add_secret_client(s: &TestServer, id: &str, extra: &[&str]) {
    let mut args = vec![
        "--id",
        id,
        "--secret",
        OTHER_SECRET,
        "--redirect-uri",
        REDIRECT,
    ];
    args.extend_from_slice(extra);
    s.add_client(&args);
}

/// Signs `anna` in for `client` and returns the code and the PKCE verifier.
async fn code_for(
    s: &TestServer,
    browser: &Browser,
    client: &str,
    extra: &str,
) -> (String, String) {
    let (url, verifier) = authorize_url_for(s, client, extra);
    let back = browser.login(&s.issuer, &url, "anna", PASSWORD).await;
    let code = query(&back).remove("code").expect("code");
    (code, verifier)
}

async fn post_as(
    s: &TestServer,
    path: &str,
    client: &str,
    secret: &str,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let res = reqwest::Client::new()
        .post(s.url(path))
        .basic_auth(client, Some(secret))
        .form(form)
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

async fn redeem_as(
    s: &TestServer,
    client: &str,
    secret: &str,
    code: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    post_as(s, "/token", client, secret, &form).await
}

/// A client registered for `openid` only asks for the e-mail address one claim at a
/// time: neither the ID token nor UserInfo carries it.
async fn claims_beyond_the_granted_scopes_are_dropped(backend: Backend) {
    let s = server_with_client(backend).await;
    add_secret_client(&s, "narrow", &["--scope", "openid"]);
    let claims = r#"{"userinfo":{"email":null,"name":{"essential":true}},"id_token":{"email":null,"email_verified":null}}"#;
    let extra = format!(
        "&claims={}",
        url::form_urlencoded::byte_serialize(claims.as_bytes()).collect::<String>()
    );
    let browser = Browser::new();
    let (code, verifier) = code_for(&s, &browser, "narrow", &extra).await;
    let (status, t) = redeem_as(&s, "narrow", OTHER_SECRET, &code, REDIRECT, Some(&verifier)).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["scope"], "openid");
    let id = jwt_payload(t["id_token"].as_str().unwrap());
    for c in ["email", "email_verified", "name"] {
        assert!(id.get(c).is_none(), "ID token releases {c}: {id}");
    }
    let (status, info) = userinfo(&s, t["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(info["sub"].is_string(), "{info}");
    for c in ["email", "email_verified", "name"] {
        assert!(info.get(c).is_none(), "UserInfo releases {c}: {info}");
    }

    // The client registered (and consented) for email still gets it.
    let (code, verifier) = code_for(&s, &browser, "portal", &extra).await;
    let (status, t) = redeem(&s, &code, &verifier).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(
        jwt_payload(t["id_token"].as_str().unwrap())["email"],
        "anna@example.invalid"
    );
    assert_eq!(
        userinfo(&s, t["access_token"].as_str().unwrap()).await.1["email"],
        "anna@example.invalid"
    );
}

/// The ID token carries the claims a client asks for there (`claims.id_token`); the
/// scopes' claims come from UserInfo (OIDC Core 5.4), unless the client is registered
/// for them in the ID token (`--id-token-claims scopes`), for one that reads no UserInfo.
async fn the_id_token_carries_the_claims_asked_for(backend: Backend) {
    let s = server_with_client(backend).await;
    let browser = Browser::new();
    let id_token_of = |t: &serde_json::Value| jwt_payload(t["id_token"].as_str().unwrap());
    let (code, verifier) = code_for(&s, &browser, "portal", "").await;
    let (status, t) = redeem(&s, &code, &verifier).await;
    assert_eq!(status, 200, "{t}");
    let id = id_token_of(&t);
    for c in ["email", "email_verified", "name", "preferred_username"] {
        assert!(id.get(c).is_none(), "{c} in the ID token: {id}");
    }
    let (_, info) = userinfo(&s, t["access_token"].as_str().unwrap()).await;
    assert_eq!(info["email"], "anna@example.invalid", "{info}");
    assert_eq!(info["preferred_username"], "anna");

    add_secret_client(&s, "legacy", &["--id-token-claims", "scopes"]);
    let (code, verifier) = code_for(&s, &browser, "legacy", "").await;
    let (status, t) = redeem_as(&s, "legacy", OTHER_SECRET, &code, REDIRECT, Some(&verifier)).await;
    assert_eq!(status, 200, "{t}");
    let id = id_token_of(&t);
    assert_eq!(id["email"], "anna@example.invalid", "{id}");
    assert_eq!(id["preferred_username"], "anna");
    // And back: the setting changes what the next ID token carries.
    s.cli(&[
        "client",
        "update",
        "--id",
        "legacy",
        "--id-token-claims",
        "requested",
    ])
    .unwrap();
    // The command line is another process: the server follows its change within a
    // second, here at once.
    s.state.db.follow_clients().unwrap();
    let (status, t) = post_as(
        &s,
        "/token",
        "legacy",
        OTHER_SECRET,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{t}");
    assert!(id_token_of(&t).get("email").is_none());
    let refused = s.cli(&[
        "client",
        "update",
        "--id",
        "legacy",
        "--id-token-claims",
        "all",
    ]);
    assert!(refused.unwrap_err().contains("id_token_claims"));
}

/// The `phone` scope (OIDC Core 5.4): consented to in words, it releases the mobile number
/// and whether it was verified, which an administrator's change of the number undoes.
async fn the_phone_scope_releases_the_mobile_number(backend: Backend) {
    let s = server_with_client(backend).await;
    add_secret_client(&s, "caller", &["--scope", "openid", "--scope", "phone"]);
    s.cli(&[
        "user",
        "update",
        "--username",
        "anna",
        "--phone-verified",
        "true",
    ])
    .unwrap();
    let browser = Browser::new();
    let (url, verifier) = authorize_url_for(&s, "caller", "");
    let url = url.replace("scope=openid%20profile%20email", "scope=openid%20phone");
    let consent = browser.follow(&s.issuer, browser.get(&url).await).await;
    let consent = if consent.form_action().ends_with("/login") {
        let login = browser
            .post(
                &format!("{}{}", s.issuer, consent.form_action()),
                &[
                    ("csrf", &consent.hidden("csrf")),
                    ("username", "anna"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        browser.follow(&s.issuer, login).await
    } else {
        consent
    };
    assert!(
        consent.body.contains("Your mobile phone number"),
        "{}",
        consent.body
    );
    let allowed = browser
        .post(
            &format!("{}{}", s.issuer, consent.form_action()),
            &[("csrf", &consent.hidden("csrf")), ("decision", "allow")],
        )
        .await;
    let back = browser.follow(&s.issuer, allowed).await;
    let code = query(back.location.as_deref().unwrap())
        .remove("code")
        .unwrap();
    let (status, t) = redeem_as(&s, "caller", OTHER_SECRET, &code, REDIRECT, Some(&verifier)).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["scope"], "openid phone");
    let (_, info) = userinfo(&s, t["access_token"].as_str().unwrap()).await;
    assert_eq!(info["phone_number"], "+36301234567", "{info}");
    assert_eq!(info["phone_number_verified"], true);
    assert!(info.get("email").is_none());
    s.cli(&[
        "user",
        "update",
        "--username",
        "anna",
        "--phone",
        "+36301111111",
    ])
    .unwrap();
    let (_, info) = userinfo(&s, t["access_token"].as_str().unwrap()).await;
    assert_eq!(info["phone_number"], "+36301111111");
    assert_eq!(
        info["phone_number_verified"], false,
        "a new number is unverified"
    );
}

/// Signs `anna` in for `client` with `scope` (and `extra` parameters), giving the consent
/// page's text to `consented` before allowing; the token response.
async fn tokens_with_scope(
    s: &TestServer,
    client: &str,
    scope: &str,
    extra: &str,
    consented: impl FnOnce(&str),
) -> serde_json::Value {
    let browser = Browser::new();
    let (url, verifier) = authorize_url_for(s, client, extra);
    let scope: String = url::form_urlencoded::byte_serialize(scope.as_bytes()).collect();
    let url = url.replace(
        "scope=openid%20profile%20email",
        &format!("scope={}", scope.replace('+', "%20")),
    );
    let page = browser.follow(&s.issuer, browser.get(&url).await).await;
    let login = browser
        .post(
            &format!("{}{}", s.issuer, page.form_action()),
            &[
                ("csrf", &page.hidden("csrf")),
                ("username", "anna"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let consent = browser.follow(&s.issuer, login).await;
    assert!(
        consent.form_action().ends_with("/consent"),
        "{}",
        consent.body
    );
    consented(&consent.body);
    let allowed = browser
        .post(
            &format!("{}{}", s.issuer, consent.form_action()),
            &[("csrf", &consent.hidden("csrf")), ("decision", "allow")],
        )
        .await;
    let back = browser.follow(&s.issuer, allowed).await;
    let code = query(back.location.as_deref().unwrap())
        .remove("code")
        .unwrap();
    let (status, t) = redeem_as(s, client, OTHER_SECRET, &code, REDIRECT, Some(&verifier)).await;
    assert_eq!(status, 200, "{t}");
    t
}

/// The `address` scope (OIDC Core 5.4): consented to in words, it releases the postal
/// address as a JSON object of its parts (5.1.1) at UserInfo. Without the scope the
/// address is not released, not even when the `claims` parameter asks for it; an
/// administrator's change shows at once, and a removed address is released no more.
async fn the_address_scope_releases_the_postal_address(backend: Backend) {
    let s = server_with_client(backend).await;
    let scopes = [
        "--scope", "openid", "--scope", "phone", "--scope", "address",
    ];
    add_secret_client(&s, "caller", &scopes);
    s.cli(&[
        "user",
        "update",
        "--username",
        "anna",
        "--street-address",
        "Fő utca 1.",
        "--postal-code",
        "1011",
        "--locality",
        "Budapest",
        "--country",
        "HU",
    ])
    .unwrap();
    let refused = s.cli(&[
        "user",
        "update",
        "--username",
        "anna",
        "--locality",
        "Buda\u{7}pest",
    ]);
    assert!(refused.unwrap_err().contains("address"));

    let t = tokens_with_scope(&s, "caller", "openid address", "", |consent| {
        assert!(consent.contains("Your postal address"), "{consent}");
        assert!(!consent.contains("Your mobile phone number"), "{consent}");
    })
    .await;
    assert_eq!(t["scope"], "openid address");
    let access = t["access_token"].as_str().unwrap().to_string();
    let (status, info) = userinfo(&s, &access).await;
    assert_eq!(status, 200);
    assert_eq!(
        info["address"],
        serde_json::json!({
            "street_address": "Fő utca 1.",
            "postal_code": "1011",
            "locality": "Budapest",
            "country": "HU",
        }),
        "{info}"
    );
    for c in ["email", "phone_number", "name"] {
        assert!(info.get(c).is_none(), "{c} without its scope: {info}");
    }
    let id = jwt_payload(t["id_token"].as_str().unwrap());
    assert!(
        id.get("address").is_none(),
        "not asked for in the ID token: {id}"
    );

    // Another scope, with the address asked for one claim at a time: not released.
    let claims = r#"{"userinfo":{"address":{"essential":true}},"id_token":{"address":null}}"#;
    let extra = format!(
        "&claims={}",
        url::form_urlencoded::byte_serialize(claims.as_bytes()).collect::<String>()
    );
    let other = tokens_with_scope(&s, "caller", "openid phone", &extra, |consent| {
        assert!(!consent.contains("Your postal address"), "{consent}");
    })
    .await;
    assert_eq!(other["scope"], "openid phone");
    let (_, info) = userinfo(&s, other["access_token"].as_str().unwrap()).await;
    assert_eq!(info["phone_number"], "+36301234567", "{info}");
    assert!(info.get("address").is_none(), "{info}");
    let id = jwt_payload(other["id_token"].as_str().unwrap());
    assert!(id.get("address").is_none(), "{id}");

    // Changed by an administrator: the new address replaces the old one as a whole.
    s.cli(&[
        "user",
        "update",
        "--username",
        "anna",
        "--formatted-address",
        "Kossuth tér 2.\n4024 Debrecen\nHungary",
    ])
    .unwrap();
    let (_, info) = userinfo(&s, &access).await;
    assert_eq!(
        info["address"],
        serde_json::json!({ "formatted": "Kossuth tér 2.\n4024 Debrecen\nHungary" }),
        "{info}"
    );
    s.cli(&["user", "update", "--username", "anna", "--clear-address"])
        .unwrap();
    let (status, info) = userinfo(&s, &access).await;
    assert_eq!(status, 200);
    assert!(info.get("address").is_none(), "{info}");
}

/// Introspection answers for the token's own client and for registered resource
/// servers; any other client learns only `active: false`.
async fn introspection_is_for_the_owner_and_resource_servers(backend: Backend) {
    let s = server_with_client(backend).await;
    add_secret_client(&s, "other", &[]);
    add_secret_client(&s, "api", &["--resource-server"]);
    let t = tokens(&s, &Browser::new()).await;
    for token in [&t["access_token"], &t["refresh_token"]] {
        let token = token.as_str().unwrap();
        let (status, foreign) = post_as(
            &s,
            "/introspect",
            "other",
            OTHER_SECRET,
            &[("token", token)],
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(foreign, serde_json::json!({"active": false}), "{foreign}");
        let (status, rs) =
            post_as(&s, "/introspect", "api", OTHER_SECRET, &[("token", token)]).await;
        assert_eq!(status, 200);
        assert_eq!(rs["active"], true, "{rs}");
        assert_eq!(rs["client_id"], "portal");
        assert_eq!(introspect(&s, token).await["active"], true);
    }
}

/// RFC 7009 2.2: another client's token is answered like an unknown one, and stays valid.
async fn revocation_of_foreign_tokens_is_a_silent_no_op(backend: Backend) {
    let s = server_with_client(backend).await;
    add_secret_client(&s, "other", &[]);
    let t = tokens(&s, &Browser::new()).await;
    let access = t["access_token"].as_str().unwrap();
    let refresh = t["refresh_token"].as_str().unwrap();
    let unknown = post_as(
        &s,
        "/revoke",
        "other",
        OTHER_SECRET,
        &[("token", "no-such-token")],
    )
    .await;
    assert_eq!(unknown.0, 200);
    for (token, hint) in [
        (refresh, "refresh_token"),
        (access, "access_token"),
        (refresh, "access_token"),
        (access, "refresh_token"),
    ] {
        let foreign = post_as(
            &s,
            "/revoke",
            "other",
            OTHER_SECRET,
            &[("token", token), ("token_type_hint", hint)],
        )
        .await;
        assert_eq!(foreign, unknown, "the answers cannot be told apart");
    }
    assert_eq!(introspect(&s, refresh).await["active"], true);
    assert_eq!(introspect(&s, access).await["active"], true);
}

/// A code presented by another client, with another redirect URI or without the right
/// PKCE verifier is refused and not used up: its client redeems it afterwards.
async fn a_wrongly_presented_code_is_not_consumed(backend: Backend) {
    let s = server_with_client(backend).await;
    add_secret_client(&s, "other", &[]);
    let browser = Browser::new();
    let (code, verifier) = code_for(&s, &browser, "portal", "").await;
    let wrong = idp::crypto::random_token();
    let attempts = [
        ("other", OTHER_SECRET, REDIRECT, Some(verifier.as_str())),
        (
            "portal",
            SECRET,
            "https://rp.example/other",
            Some(verifier.as_str()),
        ),
        ("portal", SECRET, REDIRECT, Some(wrong.as_str())),
        ("portal", SECRET, REDIRECT, None),
    ];
    for (client, secret, redirect, v) in attempts {
        let (status, body) = redeem_as(&s, client, secret, &code, redirect, v).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{client} {redirect} {v:?}: {body}"
        );
    }
    let (status, body) = redeem(&s, &code, &verifier).await;
    assert_eq!(
        status, 200,
        "the rightful client still redeems the code: {body}"
    );

    // Ten parallel redemptions by the rightful client: exactly one succeeds, while the
    // wrong client hammers the same code.
    let (code, verifier) = code_for(&s, &browser, "portal", "").await;
    let mut tasks = Vec::new();
    for i in 0..14 {
        let (code, verifier) = (code.clone(), verifier.clone());
        let base = s.issuer.clone();
        tasks.push(tokio::spawn(async move {
            let (client, secret) = if i % 3 == 2 {
                ("other", OTHER_SECRET)
            } else {
                ("portal", SECRET)
            };
            let res = reqwest::Client::new()
                .post(format!("{base}/token"))
                .basic_auth(client, Some(secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", &verifier),
                ])
                .send()
                .await
                .expect("token request");
            (client, res.status().as_u16())
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (client, status) = t.await.unwrap();
        match status {
            200 => {
                assert_eq!(client, "portal");
                ok += 1
            }
            400 => {}
            other => panic!("{client}: status {other}"),
        }
    }
    assert_eq!(ok, 1, "exactly one redemption succeeds");
}

/// An `id_token_hint` issued to one client is refused at another client's authorization
/// request and logout.
async fn id_token_hint_must_belong_to_the_client(backend: Backend) {
    let s = server_with_client(backend).await;
    add_secret_client(
        &s,
        "other",
        &["--post-logout-redirect-uri", "https://rp.example/bye"],
    );
    let browser = Browser::new();
    let t = tokens(&s, &browser).await;
    let hint = t["id_token"].as_str().unwrap().to_string();
    let extra = format!("&id_token_hint={hint}");

    let (url, _) = authorize_url_for(&s, "other", &extra);
    let page = browser.follow(&s.issuer, browser.get(&url).await).await;
    let back = page.location.expect("an error redirected to the client");
    let q = query(&back);
    assert_eq!(
        q.get("error").map(String::as_str),
        Some("invalid_request"),
        "{back}"
    );
    assert!(back.starts_with(REDIRECT));

    // Its own client may use it.
    let (url, _) = authorize_url_for(&s, "portal", &extra);
    let page = browser.follow(&s.issuer, browser.get(&url).await).await;
    if let Some(loc) = &page.location {
        assert!(!query(loc).contains_key("error"), "{loc}");
    }

    // Logout at another client's name with this hint.
    let page = browser
        .get(&s.url(&format!(
            "/logout?id_token_hint={hint}&client_id=other&post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fbye"
        )))
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert_eq!(
        introspect(&s, t["refresh_token"].as_str().unwrap()).await["active"],
        true,
        "the session was not ended"
    );
}

/// A private_key_jwt assertion that is not valid yet, issued in the future or living longer
/// than an hour is refused.
async fn client_assertions_from_the_future_are_refused(backend: Backend) {
    let s = TestServer::start(backend).await;
    let kp = josekit::jws::ES256.generate_key_pair().unwrap();
    let mut public = josekit::jwk::KeyPair::to_jwk_public_key(&kp);
    public.set_key_id("k1");
    let jwks_path = s.dir.path().join("client-jwks.json");
    std::fs::write(&jwks_path, format!("{{\"keys\":[{public}]}}")).unwrap();
    let [flag, config] = s.api_scopes_config(&["tax.read"]);
    s.add_client(&[
        &flag,
        &config,
        "--id",
        "service",
        "--jwks-file",
        jwks_path.to_str().unwrap(),
        "--redirect-uri",
        REDIRECT,
        "--grant",
        "client_credentials",
        "--scope",
        "tax.read",
    ]);
    let signer = josekit::jws::ES256
        .signer_from_der(josekit::jwk::KeyPair::to_der_private_key(&kp))
        .unwrap();
    let now = s.state.clock.now();
    let call = |jti: &str, extra: serde_json::Value| {
        let mut header = josekit::jws::JwsHeader::new();
        header.set_key_id("k1");
        let mut payload = serde_json::json!({"iss": "service", "sub": "service",
            "aud": s.url("/token"), "jti": jti, "exp": now + 120});
        for (k, v) in extra.as_object().unwrap() {
            payload[k] = v.clone();
        }
        let a = josekit::jws::serialize_compact(payload.to_string().as_bytes(), &header, &signer)
            .unwrap();
        let s = &s;
        async move {
            with_assertion(s, &a, &[("grant_type", "client_credentials")])
                .await
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        call("a", serde_json::json!({"nbf": now + 86400})).await,
        401
    );
    assert_eq!(call("b", serde_json::json!({"iat": now + 3600})).await, 401);
    assert_eq!(
        call("c", serde_json::json!({"iat": now + 30, "nbf": now + 30})).await,
        200,
        "within the clock skew"
    );
    assert_eq!(
        call("d", serde_json::json!({"iat": now, "nbf": now - 10})).await,
        200
    );
    // An hour's lifetime (client libraries' default) is accepted, a longer one refused.
    assert_eq!(call("e", serde_json::json!({"exp": now + 3590})).await, 200);
    assert_eq!(call("f", serde_json::json!({"exp": now + 3700})).await, 401);
}

/// Guessing a client secret: after ten failures in a minute for one client id the token,
/// introspection and revocation endpoints answer 429 with Retry-After, even for the right
/// secret, until the minute is over; twenty failures from one address block it as well.
async fn failed_client_authentication_is_throttled(backend: Backend) {
    let s = server_with_client(backend).await;
    add_secret_client(&s, "other", &[]);
    // Start at the beginning of a window, so the minute does not end halfway.
    let now = s.state.clock.now();
    s.state.clock.advance(60 - now.rem_euclid(60));
    let form = [("grant_type", "client_credentials")];
    for i in 0..10 {
        let (status, body) = post_as(
            &s,
            "/token",
            "portal",
            &format!("wrong-secret-{i:02}-xxxxxxx"),
            &form,
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{i}"
        );
    }
    for path in ["/token", "/introspect", "/revoke"] {
        let res = reqwest::Client::new()
            .post(s.url(path))
            .basic_auth("portal", Some(SECRET))
            .form(&[("grant_type", "client_credentials"), ("token", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 429, "{path}");
        let wait: i64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
    }
    // Another client from the same address is not blocked yet.
    let (status, _) = post_as(&s, "/introspect", "other", OTHER_SECRET, &[("token", "x")]).await;
    assert_eq!(status, 200);
    // A new minute: the right secret works again.
    s.state.clock.advance(60);
    let (status, _) = post_as(&s, "/introspect", "portal", SECRET, &[("token", "x")]).await;
    assert_eq!(status, 200);

    // Twenty failures from one address, spread over made-up client ids.
    for i in 0..20 {
        let (status, _) = post_as(
            &s,
            "/revoke",
            &format!("guess-{i}"),
            "wrong-secret-wrong",
            &[("token", "x")],
        )
        .await;
        assert_eq!(status, 401, "{i}");
    }
    let (status, _) = post_as(&s, "/introspect", "other", OTHER_SECRET, &[("token", "x")]).await;
    assert_eq!(status, 429, "the address is blocked for every client");
}

/// Client secrets are stored as a keyed hash; a row of the old unsalted SHA-256 form is
/// still accepted and re-hashed on its first use; `--generate-secret` makes one.
async fn client_secrets_are_stored_with_a_keyed_hash(backend: Backend) {
    let s = server_with_client(backend).await;
    let stored = |id: &str| {
        let id = id.to_string();
        s.state
            .db
            .run(move |c| idp::store::clients::find(c, &id))
            .unwrap()
            .expect("client")
            .secret_hash
            .expect("a secret hash")
    };
    let h = stored("portal");
    assert!(h.starts_with("hmac-sha256$"), "{h}");
    assert_ne!(h, idp::crypto::secret_hash(SECRET));

    // A client registered before keyed hashes.
    add_secret_client(&s, "legacy", &[]);
    let old = idp::crypto::secret_hash(OTHER_SECRET);
    let (db, old2) = (s.state.db.clone(), old.clone());
    db.run(move |c| {
        use diesel::prelude::*;
        use idp::store::schema::clients;
        diesel::update(clients::table.find("legacy"))
            .set(clients::secret_hash.eq(old2))
            .execute(c)?;
        Ok(())
    })
    .unwrap();
    let (status, _) = post_as(
        &s,
        "/introspect",
        "legacy",
        "wrong-secret-wrong-secret",
        &[("token", "x")],
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(stored("legacy"), old, "a failure changes nothing");
    let (status, _) = post_as(&s, "/introspect", "legacy", OTHER_SECRET, &[("token", "x")]).await;
    assert_eq!(status, 200);
    let upgraded = stored("legacy");
    assert!(upgraded.starts_with("hmac-sha256$"), "{upgraded}");
    let (status, _) = post_as(&s, "/introspect", "legacy", OTHER_SECRET, &[("token", "x")]).await;
    assert_eq!(status, 200, "the re-hashed secret still works");

    s.add_client(&[
        "--id",
        "generated",
        "--generate-secret",
        "--redirect-uri",
        REDIRECT,
    ]);
    assert!(stored("generated").starts_with("hmac-sha256$"));
}

/// HSTS on every response when the issuer is https, none for an http issuer.
async fn hsts_when_the_issuer_is_https(backend: Backend) {
    let s = TestServer::start_with(backend, Some("https://id.example.gov")).await;
    let http = reqwest::Client::new();
    for path in [
        "/.well-known/openid-configuration",
        "/no-such-page",
        "/token",
    ] {
        let res = http.post(format!("{}{path}", s.base)).send().await.unwrap();
        assert_eq!(
            res.headers()
                .get("strict-transport-security")
                .and_then(|v| v.to_str().ok()),
            Some("max-age=31536000; includeSubDomains"),
            "{path}: {}",
            res.status()
        );
        let res = http.get(format!("{}{path}", s.base)).send().await.unwrap();
        assert!(
            res.headers().get("strict-transport-security").is_some(),
            "{path}"
        );
    }
    let dev = TestServer::start(backend).await;
    let res = http
        .get(dev.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("strict-transport-security").is_none());
}

/// The database file, its WAL and shared-memory files, outbox messages and the key file
/// are readable by their owner only.
async fn data_files_are_private(backend: Backend) {
    use std::os::unix::fs::PermissionsExt;
    let s = server_with_client(backend).await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // Writes, so that the WAL exists.
    tokens(&s, &Browser::new()).await;
    if backend == Backend::Sqlite {
        for suffix in ["", "-wal", "-shm"] {
            let p = std::path::PathBuf::from(format!("{}{suffix}", s.database_url));
            assert!(p.exists(), "{}", p.display());
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }
    assert_eq!(mode(&s.kek_file), 0o600);
    let outbox = s.dir.path().join("outbox-test");
    let sender = idp::notify::Outbox {
        dir: outbox.clone(),
    };
    idp::notify::Sender::send(
        &sender,
        &idp::notify::Message {
            channel: idp::notify::Channel::Email,
            to: "anna@example.invalid".into(),
            subject: "code".into(),
            body: "123456".into(),
        },
    )
    .unwrap();
    assert_eq!(mode(&outbox), 0o700);
    for e in std::fs::read_dir(&outbox).unwrap() {
        assert_eq!(mode(&e.unwrap().path()), 0o600);
    }
    // A key file others can read is refused at start.
    std::fs::set_permissions(&s.kek_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = idp::keys::kek::Kek::load_or_create(&s.kek_file);
    assert!(refused.is_err());
}

/// Writes `head`, then the rest one byte every two seconds; returns what the server
/// answered (possibly nothing) and how long until it answered or closed.
async fn trickle(addr: &str, head: &[u8], rest: &[u8]) -> (String, std::time::Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let started = std::time::Instant::now();
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(head).await.unwrap();
    let (mut rd, mut wr) = conn.into_split();
    let writer = tokio::spawn({
        let rest = rest.to_vec();
        async move {
            for b in rest {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                if wr.write_all(&[b]).await.is_err() {
                    break;
                }
            }
        }
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        rd.read_to_end(&mut answer),
    )
    .await;
    let took = started.elapsed();
    writer.abort();
    (String::from_utf8_lossy(&answer).into_owned(), took)
}

/// A body (or a head) trickled one byte every two seconds is cut off within seconds.
async fn slow_requests_are_cut_off(backend: Backend) {
    let s = server_with_client(backend).await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let body =
        b"grant_type=client_credentials&scope=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let head = format!(
        "POST /token HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let (answer, took) = trickle(&addr, head.as_bytes(), body).await;
    assert!(took < std::time::Duration::from_secs(15), "body: {took:?}");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    eprintln!(
        "trickled body cut off after {took:?}: {:?}",
        answer.lines().next()
    );

    let (answer, took) = trickle(
        &addr,
        b"POST /token HTTP/1.1\r\n",
        b"Host: 127.0.0.1xxxxxxxxxxxxxxxxxxxxxx",
    )
    .await;
    assert!(took < std::time::Duration::from_secs(10), "head: {took:?}");
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    eprintln!(
        "trickled head cut off after {took:?}: {:?}",
        answer.lines().next()
    );
}

on_both_databases!(
    claims_beyond_the_granted_scopes_are_dropped,
    the_phone_scope_releases_the_mobile_number,
    the_address_scope_releases_the_postal_address,
    the_id_token_carries_the_claims_asked_for,
    introspection_is_for_the_owner_and_resource_servers,
    revocation_of_foreign_tokens_is_a_silent_no_op,
    a_wrongly_presented_code_is_not_consumed,
    id_token_hint_must_belong_to_the_client,
    client_assertions_from_the_future_are_refused,
    failed_client_authentication_is_throttled,
    client_secrets_are_stored_with_a_keyed_hash,
    hsts_when_the_issuer_is_https,
    data_files_are_private,
    slow_requests_are_cut_off,
);
