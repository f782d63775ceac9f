//! The whole relying-party journey with the `openidconnect` crate (an OpenID-certified
//! library's Rust counterpart): discovery, code flow with PKCE, ID token signature checked
//! against the JWKS, UserInfo, refresh, revocation and RP-initiated logout.

use crate::*;
use openidconnect::core::*;
use openidconnect::*;

async fn full_flow(backend: Backend, alg: &str) {
    let s = TestServer::start(backend).await;
    s.add_client(&[
        "--id",
        "rp",
        "--secret",
        SECRET,
        "--redirect-uri",
        REDIRECT,
        "--post-logout-redirect-uri",
        "https://rp.example/bye",
        "--id-token-alg",
        alg,
    ]);
    s.add_user("anna", PASSWORD);

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let meta = ProviderMetadataWithLogout::discover_async(
        IssuerUrl::new(s.issuer.clone()).unwrap(),
        &http,
    )
    .await
    .expect("discovery");
    let end_session = meta
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .expect("end_session_endpoint");
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new("rp".into()),
        Some(ClientSecret::new(SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    let browser = Browser::new();
    let back = browser
        .login(&s.issuer, auth_url.as_str(), "anna", PASSWORD)
        .await;
    let q = query(&back);
    assert_eq!(q.get("state"), Some(csrf.secret()));
    assert_eq!(q.get("iss"), Some(&s.issuer));
    let code = q.get("code").expect("code").clone();

    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = token.id_token().expect("id_token");
    let signing = if alg == "RS256" {
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256
    } else {
        CoreJwsSigningAlgorithm::EcdsaP256Sha256
    };
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs(vec![signing.clone()]);
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("ID token verifies against JWKS");
    assert_eq!(id_token.signing_alg().unwrap(), &signing);
    let at_hash = AccessTokenHash::from_token(
        token.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&at_hash));
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some("http://eidas.europa.eu/LoA/low")
    );
    assert_eq!(claims.auth_method_refs().unwrap()[0].as_str(), "pwd");
    assert!(claims.auth_time().is_some());
    // The scopes' claims come from UserInfo (OIDC Core 5.4), not in the ID token.
    assert_eq!(claims.preferred_username(), None);
    assert_eq!(claims.email(), None);
    let raw = id_token.to_string();
    let payload: serde_json::Value =
        serde_json::from_slice(&base64_url(raw.split('.').nth(1).unwrap())).unwrap();
    assert!(payload["sid"].is_string(), "sid claim: {payload}");

    let info: CoreUserInfoClaims = client
        .user_info(token.access_token().clone(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(
        info.email().map(|e| e.as_str()),
        Some("anna@example.invalid")
    );
    assert_eq!(
        info.name().and_then(|n| n.get(None)).map(|n| n.as_str()),
        Some("Citizen anna")
    );

    let refreshed = client
        .exchange_refresh_token(token.refresh_token().expect("refresh token"))
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(
        refreshed.access_token().secret(),
        token.access_token().secret()
    );
    let new_id = refreshed.id_token().expect("new ID token on refresh");
    let new_claims = new_id
        .claims(&verifier, |_: Option<&Nonce>| Ok(()))
        .expect("refreshed ID token verifies");
    assert_eq!(new_claims.subject(), claims.subject());
    assert_eq!(new_claims.auth_time(), claims.auth_time());

    // The library refuses to revoke over plain HTTP, so revocation (RFC 7009) is a form post.
    let revoked = http
        .post(s.url("/revoke"))
        .basic_auth("rp", Some(SECRET))
        .form(&[
            ("token", refreshed.access_token().secret().as_str()),
            ("token_type_hint", "access_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let after: Result<CoreUserInfoClaims, _> = client
        .user_info(refreshed.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await;
    assert!(
        after.is_err(),
        "a revoked access token must not reach UserInfo"
    );

    let logout = LogoutRequest::from(end_session)
        .set_id_token_hint(id_token)
        .set_post_logout_redirect_uri(
            PostLogoutRedirectUrl::new("https://rp.example/bye".into()).unwrap(),
        )
        .set_state(CsrfToken::new("bye-state".into()))
        .http_get_url();
    let page = browser.get(logout.as_str()).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(
        page.location.as_deref(),
        Some("https://rp.example/bye?state=bye-state")
    );
    // The session is gone: a silent login now fails, and the grant's tokens are revoked.
    let (url, _) = authorize_url_for(&s, "rp", "&prompt=none");
    let silent = browser.follow(&s.issuer, browser.get(&url).await).await;
    assert_eq!(
        query(&silent.location.unwrap())
            .get("error")
            .map(String::as_str),
        Some("login_required")
    );
    let refresh_after_logout = client
        .exchange_refresh_token(refreshed.refresh_token().unwrap())
        .unwrap()
        .request_async(&http)
        .await;
    assert!(
        refresh_after_logout.is_err(),
        "logout revokes the session's grants"
    );
    s.stop().await;
}

fn base64_url(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .expect("base64url")
}

pub fn authorize_url_for(s: &TestServer, client: &str, extra: &str) -> (String, String) {
    let (url, v) = authorize_url(s, extra);
    (
        url.replace("client_id=portal", &format!("client_id={client}")),
        v,
    )
}

async fn es256_flow(backend: Backend) {
    full_flow(backend, "ES256").await
}

async fn rs256_flow(backend: Backend) {
    full_flow(backend, "RS256").await
}

/// A public client (no secret) must use PKCE, and then gets tokens.
async fn public_client_with_pkce(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.add_client(&["--id", "spa", "--public", "--redirect-uri", REDIRECT]);
    s.add_user("anna", PASSWORD);
    let browser = Browser::new();
    let (url, verifier) = authorize_url_for(&s, "spa", "");
    let back = browser.login(&s.issuer, &url, "anna", PASSWORD).await;
    let code = query(&back).remove("code").unwrap();
    let res = reqwest::Client::new()
        .post(s.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
            ("client_id", "spa"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["id_token"].is_string());

    // Without a code_challenge the request is refused, back at the client.
    let url = url.split("&code_challenge=").next().unwrap().to_string();
    let page = browser.follow(&s.issuer, browser.get(&url).await).await;
    let q = query(&page.location.expect("redirect to client"));
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"));
    assert_eq!(q.get("state").map(String::as_str), Some("st-1"));
}

/// private_key_jwt (RFC 7523) with a key the client holds, and client_credentials.
async fn private_key_jwt_and_client_credentials(backend: Backend) {
    use josekit::jwk::KeyPair;
    let s = TestServer::start(backend).await;
    let kp = josekit::jws::ES256.generate_key_pair().unwrap();
    let mut public = kp.to_jwk_public_key();
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
        .signer_from_der(kp.to_der_private_key())
        .unwrap();
    let assertion = |jti: &str, aud: &str| {
        let mut header = josekit::jws::JwsHeader::new();
        header.set_key_id("k1");
        let now = idp::now();
        let payload = serde_json::json!({"iss": "service", "sub": "service", "aud": aud, "jti": jti, "exp": now + 60, "iat": now});
        josekit::jws::serialize_compact(payload.to_string().as_bytes(), &header, &signer).unwrap()
    };
    let http = reqwest::Client::new();
    let call =
        async |a: String| with_assertion(&s, &a, &[("grant_type", "client_credentials")]).await;
    let res = call(assertion("j1", &s.url("/token"))).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["scope"], "tax.read");
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let token = body["access_token"].as_str().unwrap().to_string();

    // The same assertion id again, a wrong audience: refused.
    let again = call(assertion("j1", &s.url("/token"))).await;
    assert_eq!(again.status(), 401);
    let wrong_aud = call(assertion("j2", "https://elsewhere.example")).await;
    assert_eq!(wrong_aud.status(), 401);

    // Introspection by the service itself.
    let intro: serde_json::Value = http
        .post(s.url("/introspect"))
        .form(&[
            ("token", token.as_str()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion("j3", &s.issuer)),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(intro["active"], true);
    assert_eq!(intro["client_id"], "service");
    assert_eq!(intro["sub"], "service");
}

/// `client_secret_jwt`: assertions signed with an HMAC of the client's secret, which the
/// provider keeps sealed; the secret itself is never accepted as a password, a replayed or
/// wrongly keyed assertion is refused, and a rotated secret replaces the old one at once.
async fn client_secret_jwt(backend: Backend) {
    // 64 bytes or more: long enough for HS512 too.
    const HMAC_SECRET: &str = "an-hmac-secret-of-at-least-thirty-two-bytes-or-sixty-four-for-hs512";
    let s = TestServer::start(backend).await;
    let [flag, config] = s.api_scopes_config(&["tax.read"]);
    let add = |id: &str, secret: &str| {
        s.cli(&[
            "client",
            "add",
            &flag,
            &config,
            "--id",
            id,
            "--secret",
            secret,
            "--secret-jwt",
            "--grant",
            "client_credentials",
            "--scope",
            "tax.read",
        ])
    };
    let short = add("short", "sixteen-chars-long-secret").unwrap_err();
    assert!(short.contains("32 bytes"), "{short}");
    add("service", HMAC_SECRET).unwrap();

    let now = idp::now();
    let assertion = |secret: &str, alg: &str, jti: &str| {
        let payload = serde_json::json!({"iss": "service", "sub": "service",
            "aud": s.url("/token"), "jti": jti, "exp": now + 60, "iat": now});
        let signer: Box<dyn josekit::jws::JwsSigner> = match alg {
            "HS256" => Box::new(josekit::jws::HS256.signer_from_bytes(secret).unwrap()),
            _ => Box::new(josekit::jws::HS512.signer_from_bytes(secret).unwrap()),
        };
        let header = josekit::jws::JwsHeader::new();
        josekit::jws::serialize_compact(payload.to_string().as_bytes(), &header, &*signer).unwrap()
    };
    let http = reqwest::Client::new();
    let call =
        async |a: String| with_assertion(&s, &a, &[("grant_type", "client_credentials")]).await;
    let status = |r: reqwest::Response| r.status().as_u16();
    let ok = call(assertion(HMAC_SECRET, "HS256", "j1")).await;
    let body: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(body["scope"], "tax.read", "{body}");
    assert_eq!(body["scope"], "tax.read");
    assert_eq!(
        status(call(assertion(HMAC_SECRET, "HS512", "j2")).await),
        200
    );
    // Replayed, signed with another secret, or the secret sent as a password: refused.
    assert_eq!(
        status(call(assertion(HMAC_SECRET, "HS256", "j1")).await),
        401
    );
    let other = "another-hmac-secret-of-at-least-32-bytes";
    assert_eq!(status(call(assertion(other, "HS256", "j3")).await), 401);
    let basic = http
        .post(s.url("/token"))
        .basic_auth("service", Some(HMAC_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(status(basic), 401);

    // Kept sealed: the secret is nowhere in the client's row.
    let ctx = idp::admin::Context::from(&*s.state);
    let row = s
        .state
        .db
        .run(|c| idp::store::clients::find(c, "service"))
        .unwrap()
        .unwrap();
    let sealed = row.sealed_secret.clone().unwrap();
    assert!(!format!("{sealed}{:?}", row.secret_hash).contains(HMAC_SECRET));

    // Rotated: the old secret stops working at once, the new one works.
    let actor = idp::admin::Actor::Cli { os_user: None };
    let new = idp::admin::clients::NewSecret::Given(other.into());
    idp::admin::clients::rotate_secret(&ctx, &actor, "service", new, now).unwrap();
    assert_eq!(
        status(call(assertion(HMAC_SECRET, "HS256", "j4")).await),
        401
    );
    assert_eq!(status(call(assertion(other, "HS256", "j5")).await), 200);
    let too_short = idp::admin::clients::NewSecret::Given("sixteen-chars-long-secret".into());
    assert!(idp::admin::clients::rotate_secret(&ctx, &actor, "service", too_short, now).is_err());
}

/// private_key_jwt with keys published at a `jwks_uri`: fetched once and cached, fetched
/// again when the client signs with a key it has rotated in (no sooner than 30 s after the
/// last fetch), the rotated-out key then refused. The command line takes only https.
async fn private_key_jwt_with_a_jwks_uri(backend: Backend) {
    use idp::admin::clients::{Credentials, NewClient};
    use std::sync::atomic::Ordering::SeqCst;
    let s =
        TestServer::start_configured(backend, None, |f, _| f.fetch_private_addresses = Some(true))
            .await;
    let (uri, publish, fetches) = document_endpoint("/jwks").await;
    let key = |kid: &str| {
        let pair = josekit::jws::ES256.generate_key_pair().unwrap();
        let mut public = josekit::jwk::KeyPair::to_jwk_public_key(&pair);
        public.set_key_id(kid);
        let signer = josekit::jws::ES256
            .signer_from_der(josekit::jwk::KeyPair::to_der_private_key(&pair))
            .unwrap();
        (format!("{{\"keys\":[{public}]}}"), signer)
    };
    let (set1, signer1) = key("k1");
    let (set2, signer2) = key("k2");
    *publish.lock().unwrap() = set1.into_bytes();

    let refused = s
        .cli(&["client", "add", "--id", "plain", "--jwks-uri", &uri])
        .unwrap_err();
    assert!(refused.contains("https"), "{refused}");
    let ctx = idp::admin::Context::from(&*s.state);
    let new = NewClient::new("service", Credentials::JwksUri(uri), vec![REDIRECT.into()]);
    let actor = idp::admin::Actor::Cli { os_user: None };
    idp::admin::clients::create(&ctx, &actor, new, s.state.clock.now()).unwrap();

    // Authenticated when the answer is about the refresh token, not the client.
    let jti = std::sync::atomic::AtomicUsize::new(0);
    let authenticated = |signer: &josekit::jws::alg::ecdsa::EcdsaJwsSigner, kid: &str| {
        let now = s.state.clock.now();
        let n = jti.fetch_add(1, SeqCst);
        let payload = serde_json::json!({"iss": "service", "sub": "service",
            "aud": s.url("/token"), "jti": format!("j{n}"), "exp": now + 60, "iat": now});
        let mut header = josekit::jws::JwsHeader::new();
        header.set_key_id(kid);
        let a = josekit::jws::serialize_compact(payload.to_string().as_bytes(), &header, signer)
            .unwrap();
        let s = &s;
        async move {
            let form = [("grant_type", "refresh_token"), ("refresh_token", "none")];
            let res = with_assertion(s, &a, &form).await;
            let status = res.status();
            let body: serde_json::Value = res.json().await.unwrap();
            match body["error"].as_str() {
                Some("invalid_grant") => true,
                Some("invalid_client") => false,
                _ => panic!("{status} {body}"),
            }
        }
    };
    assert!(authenticated(&signer1, "k1").await);
    assert!(authenticated(&signer1, "k1").await);
    assert_eq!(fetches.load(SeqCst), 1, "fetched once, then cached");

    // The client rotates its keys: within 30 s of the last fetch the new key is not known
    // yet; after, it is fetched and the old key no longer works.
    *publish.lock().unwrap() = set2.into_bytes();
    assert!(!authenticated(&signer2, "k2").await);
    assert_eq!(fetches.load(SeqCst), 1);
    s.state.clock.advance(31);
    assert!(authenticated(&signer2, "k2").await);
    assert_eq!(fetches.load(SeqCst), 2);
    assert!(!authenticated(&signer1, "k1").await);
    assert_eq!(fetches.load(SeqCst), 2, "no fetch on every bad signature");
}

/// A request object passed by reference (`request_uri`, OIDC Core 6.2): fetched from a URI
/// the client registered and honoured as if sent as `request`; a URI it did not register is
/// not fetched.
async fn a_request_object_by_reference(backend: Backend) {
    use idp::admin::clients::{Credentials, NewClient};
    use std::sync::atomic::Ordering::SeqCst;
    let s =
        server_with_client_configured(backend, |f| f.fetch_private_addresses = Some(true)).await;
    let (uri, publish, fetches) = document_endpoint("/request.jwt").await;
    let pair = josekit::jws::ES256.generate_key_pair().unwrap();
    let mut public = josekit::jwk::KeyPair::to_jwk_public_key(&pair);
    public.set_key_id("r1");
    let mut new = NewClient::new(
        "rp",
        Credentials::Jwks(format!("{{\"keys\":[{public}]}}")),
        vec![REDIRECT.into()],
    );
    new.request_uris = vec![uri.clone()];
    let ctx = idp::admin::Context::from(&*s.state);
    let actor = idp::admin::Actor::Cli { os_user: None };
    idp::admin::clients::create(&ctx, &actor, new, s.state.clock.now()).unwrap();

    let now = s.state.clock.now();
    let object = serde_json::json!({"iss": "rp", "aud": s.issuer, "exp": now + 300,
        "client_id": "rp", "response_type": "code", "redirect_uri": REDIRECT,
        "scope": "openid", "state": "by-reference", "nonce": "n-1"});
    let mut header = josekit::jws::JwsHeader::new();
    header.set_key_id("r1");
    let signer = josekit::jws::ES256
        .signer_from_der(josekit::jwk::KeyPair::to_der_private_key(&pair))
        .unwrap();
    *publish.lock().unwrap() =
        josekit::jws::serialize_compact(object.to_string().as_bytes(), &header, &signer)
            .unwrap()
            .into_bytes();
    let encode = |u: &str| url::form_urlencoded::byte_serialize(u.as_bytes()).collect::<String>();
    let authorize = |u: &str| {
        s.url(&format!(
            "/authorize?client_id=rp&request_uri={}",
            encode(u)
        ))
    };

    let back = Browser::new()
        .login(&s.issuer, &authorize(&uri), "anna", PASSWORD)
        .await;
    let answer = query(&back);
    assert_eq!(
        answer["state"], "by-reference",
        "the object's parameters count"
    );
    assert!(answer.contains_key("code"));
    assert_eq!(fetches.load(SeqCst), 1);

    let unregistered = uri.replace("/request.jwt", "/other.jwt");
    let b = Browser::new();
    let page = b
        .follow(&s.issuer, b.get(&authorize(&unregistered)).await)
        .await;
    assert!(
        page.location.is_none() && page.status == 400,
        "{}",
        page.status
    );
    assert!(page.body.contains("request_uri"), "{}", page.body);
    assert_eq!(
        fetches.load(SeqCst),
        1,
        "an unregistered URI is not fetched"
    );
}

on_both_databases!(
    es256_flow,
    rs256_flow,
    public_client_with_pkce,
    private_key_jwt_and_client_credentials,
    client_secret_jwt,
    private_key_jwt_with_a_jwks_uri,
    a_request_object_by_reference
);
