//! The token endpoint's rules, each broken once: every answer is the standard error,
//! never a server error.

use crate::*;

async fn replayed_code_is_rejected_and_revokes_its_tokens(backend: Backend) {
    let s = server_with_client(backend).await;
    let browser = Browser::new();
    let (url, verifier) = authorize_url(&s, "");
    let code = query(&browser.login(&s.issuer, &url, "anna", PASSWORD).await)
        .remove("code")
        .unwrap();
    let (status, first) = redeem(&s, &code, &verifier).await;
    assert_eq!(status, 200);
    let access = first["access_token"].as_str().unwrap();
    let refresh = first["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&s, access).await["active"], true);

    let (status, again) = redeem(&s, &code, &verifier).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(
        introspect(&s, access).await["active"],
        false,
        "replay revokes the access token"
    );
    assert_eq!(
        introspect(&s, refresh).await["active"],
        false,
        "replay revokes the refresh token"
    );
}

async fn code_rules(backend: Backend) {
    let s = server_with_client(backend).await;
    let browser = Browser::new();
    let login = |extra: &'static str| {
        let (url, verifier) = authorize_url(&s, extra);
        let browser = &browser;
        let issuer = s.issuer.clone();
        async move {
            let code = query(&browser.login(&issuer, &url, "anna", PASSWORD).await)
                .remove("code")
                .unwrap();
            (code, verifier)
        }
    };

    // Wrong PKCE verifier, missing verifier.
    let (code, _) = login("").await;
    let wrong = idp::crypto::random_token();
    let (status, body) = redeem(&s, &code, &wrong).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (code, _) = login("").await;
    let (status, body) = post_token(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // Another redirect_uri than the one authorized.
    let (code, verifier) = login("").await;
    let (status, body) = post_token(
        &s,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://rp.example/other"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // Expired: codes live 60 seconds.
    let (code, verifier) = login("").await;
    s.state.clock.advance(61);
    let (status, body) = redeem(&s, &code, &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    // Unknown code, malformed verifier.
    let (status, body) = redeem(&s, "no-such-code", &verifier).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = redeem(&s, "no-such-code", "short").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

async fn refresh_token_reuse_revokes_the_family(backend: Backend) {
    let s = server_with_client(backend).await;
    let first = tokens(&s, &Browser::new()).await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let (status, second) = post_token(
        &s,
        &[("grant_type", "refresh_token"), ("refresh_token", r1)],
    )
    .await;
    assert_eq!(status, 200);
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2, "refresh tokens rotate");

    // A narrower scope is allowed, a wider one is not.
    let (status, body) = post_token(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", r2),
            ("scope", "openid admin"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );

    let (status, body) = post_token(
        &s,
        &[("grant_type", "refresh_token"), ("refresh_token", r1)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = post_token(
        &s,
        &[("grant_type", "refresh_token"), ("refresh_token", r2)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "reuse revoked the whole family"
    );
    assert_eq!(
        introspect(&s, second["access_token"].as_str().unwrap()).await["active"],
        false
    );
}

async fn client_authentication_failures(backend: Backend) {
    let s = server_with_client(backend).await;
    let http = reqwest::Client::new();
    let form = [("grant_type", "client_credentials")];
    for (id, secret) in [("portal", "wrong-secret-wrong-secret"), ("nobody", SECRET)] {
        let res = http
            .post(s.url("/token"))
            .basic_auth(id, Some(secret))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        assert!(res.headers().get("www-authenticate").is_some());
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
    }
    // Secret in the body works as well (client_secret_post); two methods at once do not.
    let (status, _) = (
        http.post(s.url("/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("client_id", "portal"),
                ("client_secret", SECRET),
            ])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        (),
    );
    assert_eq!(
        status, 400,
        "authenticated, then invalid_grant for the bogus token"
    );
    let res = http
        .post(s.url("/token"))
        .basic_auth("portal", Some(SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    // No authentication at all for a confidential client.
    let res = http
        .post(s.url("/token"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // The grant is not allowed for this client / not known at all.
    let (status, body) = post_token(&s, &[("grant_type", "client_credentials")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );
    let (status, body) = post_token(
        &s,
        &[
            ("grant_type", "password"),
            ("username", "anna"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, body) = post_token(&s, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

async fn malformed_bodies(backend: Backend) {
    let s = server_with_client(backend).await;
    let http = reqwest::Client::new();
    for path in ["/token", "/introspect", "/revoke"] {
        let res = http
            .post(s.url(path))
            .basic_auth("portal", Some(SECRET))
            .header("content-type", "application/json")
            .body("{\"grant_type\": \"authorization_code\", ")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{path}");

        let dup = http
            .post(s.url(path))
            .basic_auth("portal", Some(SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=refresh_token&token=a&token=b&refresh_token=a&refresh_token=b")
            .send()
            .await
            .unwrap();
        assert_eq!(dup.status(), 400, "{path}");

        let long = format!(
            "grant_type=refresh_token&refresh_token={}",
            "x".repeat(9000)
        );
        let res = http
            .post(s.url(path))
            .basic_auth("portal", Some(SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(long)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{path}");

        let huge = "a=".to_string() + &"x".repeat(200_000);
        let res = http
            .post(s.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(huge)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 413, "{path}");
    }
}

async fn revocation_and_introspection(backend: Backend) {
    let s = server_with_client(backend).await;
    let t = tokens(&s, &Browser::new()).await;
    let access = t["access_token"].as_str().unwrap();
    let refresh = t["refresh_token"].as_str().unwrap();
    let intro = introspect(&s, access).await;
    assert_eq!(intro["active"], true);
    assert_eq!(intro["client_id"], "portal");
    assert_eq!(intro["acr"], "http://eidas.europa.eu/LoA/low");
    assert!(intro["auth_time"].is_i64());
    assert_eq!(intro["scope"], "openid profile email");

    // Another client cannot revoke it; it is answered as for an unknown token (RFC 7009
    // 2.2), and the token stays active.
    s.add_client(&[
        "--id",
        "other",
        "--secret",
        SECRET,
        "--redirect-uri",
        REDIRECT,
    ]);
    let res = reqwest::Client::new()
        .post(s.url("/revoke"))
        .basic_auth("other", Some(SECRET))
        .form(&[("token", refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(introspect(&s, refresh).await["active"], true);

    // Revoking the refresh token revokes the grant, and the access token with it.
    let res = reqwest::Client::new()
        .post(s.url("/revoke"))
        .basic_auth("portal", Some(SECRET))
        .form(&[("token", refresh), ("token_type_hint", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(introspect(&s, refresh).await["active"], false);
    assert_eq!(introspect(&s, access).await["active"], false);
    // Unknown tokens: 200 and nothing happens.
    let res = reqwest::Client::new()
        .post(s.url("/revoke"))
        .basic_auth("portal", Some(SECRET))
        .form(&[("token", "unknown")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Expired access tokens are inactive.
    let t = tokens(&s, &Browser::new()).await;
    s.state.clock.advance(601);
    assert_eq!(
        introspect(&s, t["access_token"].as_str().unwrap()).await["active"],
        false
    );
}

on_both_databases!(
    replayed_code_is_rejected_and_revokes_its_tokens,
    code_rules,
    refresh_token_reuse_revokes_the_family,
    client_authentication_failures,
    malformed_bodies,
    revocation_and_introspection,
);
