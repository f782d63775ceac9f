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

/// The language switcher: the choice is remembered in a cookie and wins over the
/// service's `ui_locales` and the browser's language, on sign-in and account pages alike;
/// it only sends the browser back to a path of this server.
async fn the_chosen_language_is_kept(backend: Backend) {
    let s = server_with_client(backend).await;
    let b = Browser::new();
    let (u, _) = authorize_url(&s, "&ui_locales=hu");
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    assert!(page.body.contains("<html lang=\"hu\">"));
    // Each language is offered in its own name, linking back to this very page.
    let tx_path = page
        .body
        .split("action=\"")
        .nth(1)
        .and_then(|r| r.split("/login\"").next())
        .expect("the login form")
        .to_string();
    let kk_link = format!(
        "/language?to=kk&#38;back={}",
        url::form_urlencoded::byte_serialize(tx_path.as_bytes()).collect::<String>()
    );
    assert!(page.body.contains(&kk_link), "{}", page.body);
    assert!(
        page.body
            .contains("lang=\"kk\" hreflang=\"kk\">Қазақша</a>")
    );
    assert!(
        page.body
            .contains("<span aria-current=\"true\" lang=\"hu\">Magyar</span>")
    );

    let switched = b.get(&s.url(&kk_link.replace("&#38;", "&"))).await;
    assert_eq!(switched.status, 303);
    assert_eq!(switched.location.as_deref(), Some(tx_path.as_str()));
    let page = b.get(&s.url(&tx_path)).await;
    assert!(page.body.contains("<html lang=\"kk\">"), "{}", page.body);
    // A later sign-in asking for Hungarian stays in Kazakh.
    let (u, _) = authorize_url(&s, "&ui_locales=hu");
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    assert!(page.body.contains("<html lang=\"kk\">"));

    // Elsewhere than a path of this server, or an unknown language: refused.
    for bad in [
        "/language?to=kk&back=%2F%2Fevil.example%2F",
        "/language?to=kk&back=https%3A%2F%2Fevil.example%2F",
        "/language?to=xx&back=%2Faccount",
        "/language?to=kk",
    ] {
        let page = b.get(&s.url(bad)).await;
        assert_eq!(page.status, 400, "{bad}");
        assert!(page.location.is_none());
    }
}

/// Error pages tell a person the cause and one next step in their language, give the
/// request's id as the support reference, and keep the OAuth details folded away.
async fn error_pages_for_people(backend: Backend) {
    let s = server_with_client(backend).await;
    let http = reqwest::Client::new();
    let res = http
        .get(s.url("/no/such/page"))
        .header("accept-language", "hu")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let body = res.text().await.unwrap();
    assert!(body.contains("<h1>Az oldal nem található</h1>"), "{body}");
    assert!(body.contains(&format!("<strong class=\"reference\">{id}</strong>")));
    assert!(body.contains("<details>") && body.contains("invalid_request"));

    // A sign-in page visited again after it ended: the sign-in is over, start again.
    let b = Browser::new();
    let page = b.get(&s.url("/interaction/not-a-transaction")).await;
    assert_eq!(page.status, 400);
    assert!(
        page.body.contains("<h1>This sign-in has ended</h1>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("sign in again"));

    // A service's broken request.
    let page = b.get(&s.url("/authorize?client_id=nobody")).await;
    assert!(
        page.body.contains("request cannot be completed"),
        "{}",
        page.body
    );
}

/// The operator's name, colour, logo and footer links frame every page.
async fn the_operators_theme(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let logo = dir.path().join("logo.svg");
    std::fs::write(
        &logo,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>",
    )
    .unwrap();
    let s = server_with_client_configured(backend, |f| {
        f.theme = Some(idp::theme::ThemeConfig {
            name: Some("Gov Sign-in".into()),
            names: [("hu".to_string(), "Kormányzati belépés".to_string())].into(),
            logo_file: Some(logo.clone()),
            colour: Some("#0b3d91".into()),
            help_url: Some("https://gov.example/help".into()),
            privacy_url: Some("https://gov.example/privacy".into()),
            accessibility_url: None,
        })
    })
    .await;
    let b = Browser::new();
    let (u, _) = authorize_url(&s, "&ui_locales=hu");
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    assert!(
        page.body.contains(
            "<img src=\"/static/logo\" alt=\"\" class=\"logo\">Kormányzati belépés</span>"
        ),
        "{}",
        page.body
    );
    assert!(page.body.contains("– Kormányzati belépés</title>"));
    assert!(
        page.body
            .contains("<link rel=\"stylesheet\" href=\"/static/theme.css\">")
    );
    assert!(
        page.body
            .contains("<a href=\"https://gov.example/help\">Súgó</a>")
    );
    assert!(
        page.body
            .contains("<a href=\"https://gov.example/privacy\">Adatvédelem</a>")
    );
    assert!(
        !page.body.contains("Akadálymentességi"),
        "no statement configured"
    );
    let http = reqwest::Client::new();
    let css = http.get(s.url("/static/theme.css")).send().await.unwrap();
    assert_eq!(css.text().await.unwrap(), ":root { --brand: #0b3d91; }\n");
    let res = http.get(s.url("/static/logo")).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );

    // Without a theme: the texts' own name, and no theme files.
    let plain = server_with_client(backend).await;
    let page = b.get(&plain.url("/no/such/page")).await;
    assert!(page.body.contains("Sign-in service</span>"));
    assert!(!page.body.contains("theme.css") && !page.body.contains("<footer"));
    assert_eq!(b.get(&plain.url("/static/theme.css")).await.status, 404);
    assert_eq!(b.get(&plain.url("/static/logo")).await.status, 404);
}

/// The account page shows the latest twenty events and pages back through older ones.
async fn account_activity_pages(backend: Backend) {
    let s = server_with_client(backend).await;
    let b = Browser::new();
    tokens(&s, &b).await;
    let anna = s
        .state
        .db
        .run(|c| idp::store::users::find_by_username(c, "anna"))
        .unwrap()
        .unwrap()
        .id;
    let now = s.state.clock.now();
    for _ in 0..30 {
        s.state
            .db
            .run(|c| {
                let e = idp::audit::Entry {
                    kind: idp::audit::Kind::SessionEnded,
                    user_id: Some(&anna),
                    client_id: None,
                    detail: serde_json::json!({}),
                };
                idp::audit::append(c, e, now)
            })
            .unwrap();
    }
    let items = |p: &Page| {
        let list = p.body.split("<ul class=\"activity\">").nth(1).unwrap();
        list.split("</ul>").next().unwrap().matches("<li>").count()
    };
    let first = b.get(&s.url("/account")).await;
    assert_eq!(items(&first), 20);
    assert!(!first.body.contains("Latest activity"));
    let marker = "href=\"/account?before=";
    let start = first.body.find(marker).expect("a link to older events") + marker.len();
    let before = &first.body[start..start + first.body[start..].find('#').unwrap()];
    let second = b.get(&s.url(&format!("/account?before={before}"))).await;
    assert_eq!(second.status, 200);
    let older = items(&second);
    assert!(older >= 10, "the rest: {older}");
    assert!(second.body.contains("Latest activity"));
    // Nothing is shown twice: the second page starts below the first.
    assert!(!second.body.contains(marker) || older == 20);
    // Nonsense paging is the first page.
    assert_eq!(items(&b.get(&s.url("/account?before=x")).await), 20);
}

on_both_databases!(
    account_activity_pages,
    localised_login_page,
    health_and_discovery,
    key_rotation,
    the_chosen_language_is_kept,
    error_pages_for_people,
    the_operators_theme
);
