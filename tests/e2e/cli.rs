//! The `idp` command line against a live server's database, and production cookie names.

use crate::*;

async fn client_and_user_administration(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.cli(&["migrate"])
        .expect("migrate on an up-to-date database");
    s.add_client(&["--id", "a", "--secret", SECRET, "--redirect-uri", REDIRECT]);
    let refused: [&[&str]; 7] = [
        &[
            "client",
            "add",
            "--id",
            "a",
            "--secret",
            SECRET,
            "--redirect-uri",
            REDIRECT,
        ],
        &[
            "client",
            "add",
            "--id",
            "b",
            "--secret",
            "short",
            "--redirect-uri",
            REDIRECT,
        ],
        &[
            "client",
            "add",
            "--id",
            "b",
            "--secret",
            SECRET,
            "--redirect-uri",
            "http://rp.example/cb",
        ],
        &[
            "client",
            "add",
            "--id",
            "b",
            "--secret",
            SECRET,
            "--redirect-uri",
            "https://rp.example/cb#frag",
        ],
        &[
            "client",
            "add",
            "--id",
            "b c",
            "--secret",
            SECRET,
            "--redirect-uri",
            REDIRECT,
        ],
        &["client", "add", "--id", "b", "--redirect-uri", REDIRECT],
        &[
            "client",
            "add",
            "--id",
            "b",
            "--public",
            "--grant",
            "client_credentials",
            "--redirect-uri",
            REDIRECT,
        ],
    ];
    for args in refused {
        assert!(s.cli(args).is_err(), "{args:?} must be refused");
    }
    s.cli(&["client", "list"]).unwrap();
    s.cli(&["client", "remove", "--id", "a"]).unwrap();
    assert!(s.cli(&["client", "remove", "--id", "a"]).is_err());
    s.cli(&["user", "list"]).unwrap();
    s.cli(&["keys", "list"]).unwrap();
    let db = s.state.db.clone();
    let clients = tokio::task::spawn_blocking(move || db.run(idp::store::clients::list))
        .await
        .unwrap()
        .unwrap();
    assert!(clients.is_empty());
}

/// Outside development mode, cookies are `__Host-` prefixed and Secure.
async fn production_cookies(backend: Backend) {
    let s = TestServer::start_with(backend, Some("https://id.example.gov")).await;
    s.add_client(&[
        "--id",
        "portal",
        "--secret",
        SECRET,
        "--redirect-uri",
        REDIRECT,
    ]);
    let (url, _) = authorize_url(&s, "");
    let url = url.replace(&s.issuer, &s.base);
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("__Host-idp_browser="), "{cookie}");
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    let d: serde_json::Value = reqwest::get(format!("{}/.well-known/openid-configuration", s.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["token_endpoint"], "https://id.example.gov/token");
}

on_both_databases!(client_and_user_administration, production_cookies);
