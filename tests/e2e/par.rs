//! Pushed authorization requests (RFC 9126): pushed by an authenticated client, checked as
//! the authorization endpoint would, used once and only by their client; clients that must
//! push cannot start a sign-in any other way.

use crate::*;
use serde_json::Value;

async fn push(s: &TestServer, who: Option<(&str, &str)>, form: &[(&str, &str)]) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(s.url("/par")).form(form);
    if let Some((id, secret)) = who {
        req = req.basic_auth(id, Some(secret));
    }
    let res = req.send().await.expect("par");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn pushed_authorization_requests(backend: Backend) {
    let s = server_with_client(backend).await;
    s.add_client(&[
        "--id",
        "strict",
        "--secret",
        SECRET,
        "--redirect-uri",
        REDIRECT,
        "--require-par",
    ]);
    let portal = Some(("portal", SECRET));
    let verifier = idp::crypto::random_token();
    let challenge = idp::crypto::pkce_s256(&verifier);
    let request = [
        ("response_type", "code"),
        ("client_id", "portal"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile"),
        ("state", "st-par"),
        ("nonce", "n-par"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];

    // Refused pushes: no client authentication, a redirect URI not registered, a
    // request_uri inside, another client's id.
    assert_eq!(push(&s, None, &request).await.0, 401);
    let mut bad = request.to_vec();
    bad[2] = ("redirect_uri", "https://evil.example/cb");
    let (status, body) = push(&s, portal, &bad).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    let mut inner = request.to_vec();
    inner.push(("request_uri", "urn:ietf:params:oauth:request_uri:x"));
    assert_eq!(push(&s, portal, &inner).await.0, 400);
    let mut other = request.to_vec();
    other[1] = ("client_id", "strict");
    assert_eq!(push(&s, portal, &other).await.0, 400);
    let mut scope = request.to_vec();
    scope[3] = ("scope", "profile");
    let (status, body) = push(&s, portal, &scope).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );

    // Pushed, then the browser comes with client_id and request_uri only.
    let (status, body) = push(&s, portal, &request).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["expires_in"], 60);
    let uri = body["request_uri"].as_str().unwrap().to_string();
    assert!(uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let url = s.url(&format!(
        "/authorize?client_id=portal&request_uri={}",
        enc(&uri)
    ));
    // Only its client may use it.
    let browser = Browser::new();
    let stranger = browser
        .get(&s.url(&format!(
            "/authorize?client_id=strict&request_uri={}",
            enc(&uri)
        )))
        .await;
    assert_eq!(stranger.status, 400);
    // Several browsers at once: exactly one gets the request.
    let attempts = (0..6).map(|_| {
        let url = url.clone();
        async move { Browser::new().get(&url).await.status }
    });
    let statuses = futures_join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 303 || *s == 400),
        "{statuses:?}"
    );

    // A fresh push goes all the way: sign-in, code, tokens with the pushed PKCE.
    let (_, body) = push(&s, portal, &request).await;
    let uri = body["request_uri"].as_str().unwrap();
    let url = s.url(&format!(
        "/authorize?client_id=portal&request_uri={}&scope=openid%20email",
        enc(uri)
    ));
    let back = browser.login(&s.issuer, &url, "anna", PASSWORD).await;
    let q = query(&back);
    assert_eq!(q.get("state").map(String::as_str), Some("st-par"));
    let (status, tokens) = redeem(&s, &q["code"], &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    // The pushed scope counts, not one added to the browser's URL.
    assert_eq!(tokens["scope"], "openid profile");

    // A client that must push: a plain request comes back as an error at the client.
    let plain = s.url(&format!(
        "/authorize?client_id=strict&response_type=code&scope=openid&redirect_uri={}&state=x&code_challenge={challenge}&code_challenge_method=S256",
        enc(REDIRECT)
    ));
    let page = browser.follow(&s.issuer, browser.get(&plain).await).await;
    let q = query(&page.location.expect("back to the client"));
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"));
    let mut strict = request.to_vec();
    strict[1] = ("client_id", "strict");
    let (status, _) = push(&s, Some(("strict", SECRET)), &strict).await;
    assert_eq!(status, 201);

    let d = discovery(&s).await;
    assert_eq!(d["pushed_authorization_request_endpoint"], s.url("/par"));
    assert_eq!(d["require_pushed_authorization_requests"], false);
}

/// Runs the futures concurrently and collects their outputs in order.
async fn futures_join_all<F: std::future::Future<Output = u16> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<u16> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

on_both_databases!(pushed_authorization_requests);
