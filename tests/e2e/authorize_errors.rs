//! The authorization endpoint's errors (OIDC Core 3.1.2.6): shown to the person when the
//! client or redirect URI cannot be trusted, redirected to the client otherwise.

use crate::*;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn url(s: &TestServer, query: &str) -> String {
    s.url(&format!("/authorize?{query}"))
}

fn base() -> String {
    format!(
        "client_id=portal&redirect_uri={}&state=st-9&scope=openid&code_challenge={CHALLENGE}&code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    )
}

async fn page_errors(backend: Backend) {
    let s = server_with_client(backend).await;
    let b = Browser::new();
    let cases = [
        (
            "response_type=code&redirect_uri=https%3A%2F%2Frp.example%2Fcb&scope=openid",
            "client_id",
        ),
        (
            "client_id=nobody&response_type=code&redirect_uri=https%3A%2F%2Frp.example%2Fcb&scope=openid",
            "invalid_client",
        ),
        (
            "client_id=portal&response_type=code&scope=openid",
            "redirect_uri",
        ),
        (
            "client_id=portal&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&scope=openid",
            "not registered",
        ),
        (
            "client_id=portal&response_type=code&redirect_uri=https%3A%2F%2Frp.example%2Fcb%2F&scope=openid",
            "not registered",
        ),
        (
            "client_id=portal&client_id=portal&response_type=code&redirect_uri=https%3A%2F%2Frp.example%2Fcb",
            "more than once",
        ),
    ];
    for (q, expect) in cases {
        let page = b.get(&url(&s, q)).await;
        assert_eq!(page.status, 400, "{q}");
        assert!(page.location.is_none(), "{q} must not redirect");
        assert!(page.body.contains(expect), "{q}: {}", page.body);
        assert!(page.body.contains("<html lang=\"en\">"));
    }
    let long_state = format!("{}&response_type=code&nonce={}", base(), "n".repeat(9000));
    let page = b.get(&url(&s, &long_state)).await;
    assert_eq!(page.status, 400);
    assert!(page.location.is_none());
}

async fn redirected_errors(backend: Backend) {
    let s = server_with_client(backend).await;
    let b = Browser::new();
    let cases = [
        ("", "invalid_request"),
        ("&response_type=token", "unsupported_response_type"),
        // A request object the client could not have signed (it has no keys).
        ("&response_type=code&request=eyJ", "invalid_request_object"),
        (
            // Not one the client registered: not fetched.
            "&response_type=code&request_uri=https%3A%2F%2Fx",
            "invalid_request_uri",
        ),
        (
            "&response_type=code&registration=%7B%7D",
            "registration_not_supported",
        ),
        (
            "&response_type=code&response_mode=fragment",
            "invalid_request",
        ),
        ("&response_type=code&prompt=none%20login", "invalid_request"),
        ("&response_type=code&prompt=bogus", "invalid_request"),
        ("&response_type=code&max_age=-1", "invalid_request"),
        ("&response_type=code&claims=not-json", "invalid_request"),
        (
            "&response_type=code&id_token_hint=abc.def.ghi",
            "invalid_request",
        ),
        ("&response_type=code&prompt=none", "login_required"),
    ];
    for (extra, code) in cases {
        let page = b.get(&url(&s, &format!("{}{extra}", base()))).await;
        assert_eq!(page.status, 303, "{extra}: {}", page.body);
        let q = query(page.location.as_deref().unwrap());
        assert_eq!(q.get("error").map(String::as_str), Some(code), "{extra}");
        assert_eq!(q.get("state").map(String::as_str), Some("st-9"), "{extra}");
        assert_eq!(q.get("iss"), Some(&s.issuer), "{extra}");
        assert!(page.location.unwrap().starts_with(REDIRECT));
    }
    let no_openid = base().replace("scope=openid", "scope=profile") + "&response_type=code";
    let q = query(&b.get(&url(&s, &no_openid)).await.location.unwrap());
    assert_eq!(q["error"], "invalid_scope");
    let plain = base().replace("code_challenge_method=S256", "code_challenge_method=plain")
        + "&response_type=code";
    let q = query(&b.get(&url(&s, &plain)).await.location.unwrap());
    assert_eq!(q["error"], "invalid_request");
}

/// Signing in, single sign-on, and what prompt, max_age and acr change.
async fn prompts_and_sessions(backend: Backend) {
    let s = server_with_client(backend).await;
    let b = Browser::new();
    // Wrong password and unknown user look the same.
    let (u, _) = authorize_url(&s, "");
    let login = b.follow(&s.issuer, b.get(&u).await).await;
    assert_eq!(login.status, 200);
    let action = format!("{}{}", s.issuer, login.form_action());
    let csrf = login.hidden("csrf");
    let wrong = b
        .post(
            &action,
            &[("csrf", &csrf), ("username", "anna"), ("password", "nope")],
        )
        .await;
    let unknown = b
        .post(
            &action,
            &[
                ("csrf", &csrf),
                ("username", "nobody"),
                ("password", "nope"),
            ],
        )
        .await;
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert!(wrong.body.contains("role=\"alert\""));
    assert_eq!(
        wrong.body.replace("anna", "X"),
        unknown.body.replace("nobody", "X")
    );
    // A wrong CSRF token is refused.
    let forged = b
        .post(
            &action,
            &[
                ("csrf", "forged"),
                ("username", "anna"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(forged.status, 400);

    // First login: password, then consent.
    let first = b.login(&s.issuer, &u, "anna", PASSWORD).await;
    assert!(query(&first).contains_key("code"));

    // Single sign-on: no page at all the second time.
    let (u2, _) = authorize_url(&s, "&prompt=none");
    let again = b.follow(&s.issuer, b.get(&u2).await).await;
    assert!(
        query(again.location.as_deref().unwrap()).contains_key("code"),
        "SSO with prompt=none"
    );

    // prompt=login and max_age=0 ask for the password again; prompt=consent asks consent.
    for extra in ["&prompt=login", "&max_age=0"] {
        let (u, _) = authorize_url(&s, extra);
        let page = b.follow(&s.issuer, b.get(&u).await).await;
        assert!(page.form_action().ends_with("/login"), "{extra}");
        let back = b.login(&s.issuer, &u, "anna", PASSWORD).await;
        assert!(query(&back).contains_key("code"), "{extra}");
    }
    // The client's registered default_max_age counts for requests that name no max_age.
    let default_max_age = |seconds: &str| {
        let args = [
            "client",
            "update",
            "--id",
            "portal",
            "--default-max-age",
            seconds,
        ];
        s.cli(&args).unwrap();
    };
    default_max_age("0");
    let (u, _) = authorize_url(&s, "");
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    assert!(page.form_action().ends_with("/login"), "default_max_age=0");
    let back = b.login(&s.issuer, &u, "anna", PASSWORD).await;
    assert!(query(&back).contains_key("code"));
    default_max_age("-1");
    let again = b.follow(&s.issuer, b.get(&u2).await).await;
    assert!(
        query(again.location.as_deref().unwrap()).contains_key("code"),
        "removed: single sign-on again"
    );
    let (u, _) = authorize_url(&s, "&prompt=consent");
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    assert!(page.form_action().ends_with("/consent"));
    let deny = b
        .post(
            &format!("{}{}", s.issuer, page.form_action()),
            &[("csrf", &page.hidden("csrf")), ("decision", "deny")],
        )
        .await;
    let q = query(deny.location.as_deref().unwrap());
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("access_denied", "st-1")
    );

    let (u, _) = authorize_url(&s, "&prompt=select_account");
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    assert!(page.form_action().ends_with("/select"));
    assert!(page.body.contains("Citizen anna"));

    // Voluntary acr_values above what a password gives: the achieved level is reported.
    let (u, v) = authorize_url(&s, "&acr_values=http%3A%2F%2Feidas.europa.eu%2FLoA%2Fhigh");
    let back = b.login(&s.issuer, &u, "anna", PASSWORD).await;
    let (_, t) = redeem(&s, &query(&back)["code"], &v).await;
    assert!(t["id_token"].is_string());
    assert_eq!(
        introspect(&s, t["access_token"].as_str().unwrap()).await["acr"],
        "http://eidas.europa.eu/LoA/low"
    );

    // Essential acr that cannot be reached fails after the login.
    let claims = url::form_urlencoded::byte_serialize(
        br#"{"id_token":{"acr":{"essential":true,"values":["http://eidas.europa.eu/LoA/high"]}}}"#,
    )
    .collect::<String>();
    let (u, _) = authorize_url(&s, &format!("&claims={claims}"));
    let back = b.login(&s.issuer, &u, "anna", PASSWORD).await;
    assert_eq!(query(&back)["error"], "unmet_authentication_requirements");

    // Idle sessions end after 15 minutes.
    s.state.clock.advance(16 * 60);
    let (u, _) = authorize_url(&s, "&prompt=none");
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    assert_eq!(
        query(page.location.as_deref().unwrap())["error"],
        "login_required"
    );
}

/// The login transaction belongs to the browser that started it.
async fn transaction_is_bound_to_its_browser(backend: Backend) {
    let s = server_with_client(backend).await;
    let (u, _) = authorize_url(&s, "");
    let mine = Browser::new();
    let page = mine.follow(&s.issuer, mine.get(&u).await).await;
    let action = format!("{}{}", s.issuer, page.form_action());
    let other = Browser::new();
    let res = other
        .post(
            &action,
            &[
                ("csrf", &page.hidden("csrf")),
                ("username", "anna"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status, 400);
    assert!(res.body.contains("another browser"));
    // Expired transactions are refused with a readable page.
    s.state.clock.advance(31 * 60);
    let res = mine
        .post(
            &action,
            &[
                ("csrf", &page.hidden("csrf")),
                ("username", "anna"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status, 400);
    assert!(res.body.contains("expired"));
}

async fn authorize_by_post(backend: Backend) {
    let s = server_with_client(backend).await;
    let b = Browser::new();
    let verifier = idp::crypto::random_token();
    let challenge = idp::crypto::pkce_s256(&verifier);
    let page = b
        .post(
            &s.url("/authorize"),
            &[
                ("client_id", "portal"),
                ("response_type", "code"),
                ("scope", "openid"),
                ("redirect_uri", REDIRECT),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("login_hint", "anna"),
            ],
        )
        .await;
    let page = b.follow(&s.issuer, page).await;
    assert!(
        page.body.contains("value=\"anna\""),
        "login_hint prefills the username"
    );
}

/// The way back: the sign-in page's cancel button returns the browser to the service with
/// `access_denied` and its `state`, once, and only with the form's token.
async fn the_citizen_can_go_back_to_the_service(backend: Backend) {
    let s = server_with_client(backend).await;
    let (u, _) = authorize_url(&s, "");
    let b = Browser::new();
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    assert!(
        page.body.contains("Cancel and go back to Tax portal"),
        "{}",
        page.body
    );
    let tx = page.form_action().split('/').nth(2).unwrap().to_string();
    let cancel = s.url(&format!("/interaction/{tx}/cancel"));
    let forged = b.post(&cancel, &[("csrf", "forged")]).await;
    assert_eq!(forged.status, 400);
    let back = b.post(&cancel, &[("csrf", &page.hidden("csrf"))]).await;
    assert_eq!(back.status, 303);
    let q = query(back.location.as_deref().unwrap());
    assert!(back.location.as_deref().unwrap().starts_with(REDIRECT));
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "st-1");
    let again = b.post(&cancel, &[("csrf", &page.hidden("csrf"))]).await;
    assert_eq!(again.status, 400, "the sign-in is over");
    // The account pages' sign-in has no service to go back to.
    let account = b.follow(&s.issuer, b.get(&s.url("/account")).await).await;
    assert!(!account.body.contains("way-back"));
}

on_both_databases!(
    page_errors,
    redirected_errors,
    prompts_and_sessions,
    transaction_is_bound_to_its_browser,
    authorize_by_post,
    the_citizen_can_go_back_to_the_service
);
