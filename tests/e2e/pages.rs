//! Citizen pages: language from ui_locales or Accept-Language, accessible markup,
//! security headers.

use crate::*;

async fn localised_login_page(backend: Backend) {
    let s = server_with_client(backend).await;
    let b = Browser::new();
    let (u, _) = authorize_url(&s, "&ui_locales=hu%20en");
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    assert!(page.body.contains("<html lang=\"hu\">"));
    assert!(page.body.contains("Bejelentkezés"));
    assert!(
        page.body
            .contains("<label for=\"username\">Felhasználónév</label>")
    );

    let (u, _) = authorize_url(&s, "");
    let res = b
        .http
        .get(&u)
        .header("accept-language", "ru-RU,ru;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    let loc = res.headers()["location"].to_str().unwrap().to_string();
    let res = b
        .http
        .get(s.url(&loc))
        .header("accept-language", "ru-RU,ru;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(res.headers().get("x-request-id").is_some());
    let body = res.text().await.unwrap();
    assert!(body.contains("<html lang=\"ru\">"));
    assert!(body.contains("Пароль"));
    assert!(body.contains("autocomplete=\"current-password\""));

    // The browser-binding cookie is HttpOnly and SameSite=Lax.
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&u)
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
}

async fn health_and_discovery(backend: Backend) {
    let s = server_with_client(backend).await;
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(s.url("/health/live"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(s.url("/health/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let d: serde_json::Value = http
        .get(s.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], s.issuer.as_str());
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(d["response_types_supported"], serde_json::json!(["code"]));
    let jwks: serde_json::Value = http
        .get(d["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert!(algs.contains(&"ES256") && algs.contains(&"RS256"));
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["kid"].is_string() && k.get("d").is_none())
    );
    let missing = http.get(s.url("/no/such/page")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

/// `idp keys rotate` while serving: new tokens carry the new key id, the old key stays
/// in the JWKS for tokens it signed.
async fn key_rotation(backend: Backend) {
    let s = server_with_client(backend).await;
    let kid_of = |t: &serde_json::Value| -> String {
        let header = t["id_token"]
            .as_str()
            .unwrap()
            .split('.')
            .next()
            .unwrap()
            .to_string();
        use base64::Engine;
        let h: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(header)
                .unwrap(),
        )
        .unwrap();
        h["kid"].as_str().unwrap().to_string()
    };
    let before = kid_of(&tokens(&s, &Browser::new()).await);
    s.cli(&["keys", "rotate"]).unwrap();
    let st = s.state.clone();
    assert!(
        tokio::task::spawn_blocking(move || st.reload_keys())
            .await
            .unwrap()
            .unwrap()
    );
    let after = kid_of(&tokens(&s, &Browser::new()).await);
    assert_ne!(before, after);
    let jwks: serde_json::Value = reqwest::get(s.url("/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(kids.contains(&before.as_str()) && kids.contains(&after.as_str()));
    // Once the old key's tokens have expired, it is no longer published.
    s.state.clock.advance(3600);
    let st = s.state.clone();
    let now = s.state.clock.now();
    let rows =
        tokio::task::spawn_blocking(move || st.db.run(|c| idp::keys::published_rows(c, now)))
            .await
            .unwrap()
            .unwrap();
    assert!(rows.iter().all(|k| k.kid != before));
}

on_both_databases!(localised_login_page, health_and_discovery, key_rotation);
