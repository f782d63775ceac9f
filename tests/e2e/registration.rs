//! Dynamic client registration (RFC 7591) and its management (RFC 7592) over HTTP: a client
//! registers itself with an initial access token, signs a citizen in, reads, replaces and
//! removes its registration; tokens used up, wrong or missing are refused, and metadata the
//! provider cannot honour is refused by name.

use crate::*;
use serde_json::{Value, json};

/// An initial access token good for `uses` registrations, as `idp client
/// registration-token` makes one.
fn initial_token(s: &TestServer, uses: i64) -> String {
    let token = idp::crypto::random_token();
    let db = idp::store::Db::open(&s.database_url, 1).unwrap();
    db.tx(|c| {
        idp::store::registration_tokens::insert(
            c,
            &idp::crypto::secret_hash(&token),
            uses,
            idp::now() + 600,
            idp::now(),
        )
    })
    .unwrap();
    token
}

async fn call(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn a_client_registers_itself_and_manages_its_registration(backend: Backend) {
    let s = server_with_client(backend).await;
    let endpoint = discovery(&s).await["registration_endpoint"]
        .as_str()
        .expect("a registration endpoint")
        .to_string();
    let metadata = json!({
        "client_name": "Benefits portal",
        "redirect_uris": ["https://benefits.example/cb"],
        "post_logout_redirect_uris": ["https://benefits.example/bye"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_post",
        "scope": "openid profile",
        "id_token_signed_response_alg": "RS256",
        "backchannel_logout_uri": "https://benefits.example/logout",
        "logo_uri": "https://benefits.example/logo.png"
    });
    // Without an initial access token, or with an unknown one: nothing is registered.
    let (status, body) = call(
        reqwest::Method::POST,
        &endpoint,
        None,
        Some(metadata.clone()),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    let (status, _) = call(
        reqwest::Method::POST,
        &endpoint,
        Some("guess"),
        Some(metadata.clone()),
    )
    .await;
    assert_eq!(status, 401);

    let token = initial_token(&s, 1);
    // Metadata the provider cannot honour is refused by name, and does not use the token.
    for (member, value) in [
        ("id_token_encrypted_response_alg", json!("RSA-OAEP")),
        ("jwks_uri", json!("https://benefits.example/jwks")),
        ("response_types", json!(["code id_token"])),
    ] {
        let mut bad = metadata.clone();
        bad[member] = value;
        let (status, body) = call(reqwest::Method::POST, &endpoint, Some(&token), Some(bad)).await;
        assert_eq!(status, 400, "{member}");
        assert_eq!(body["error"], "invalid_client_metadata", "{member}");
        assert!(
            body["error_description"].as_str().unwrap().contains(member),
            "{body}"
        );
    }
    let mut wrong_uri = metadata.clone();
    wrong_uri["redirect_uris"] = json!(["http://benefits.example/cb"]);
    let (status, body) = call(
        reqwest::Method::POST,
        &endpoint,
        Some(&token),
        Some(wrong_uri),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_redirect_uri")),
        "{body}"
    );

    let (status, reg) = call(
        reqwest::Method::POST,
        &endpoint,
        Some(&token),
        Some(metadata.clone()),
    )
    .await;
    assert_eq!(status, 201, "{reg}");
    let id = reg["client_id"].as_str().unwrap().to_string();
    let secret = reg["client_secret"].as_str().expect("a secret").to_string();
    assert_eq!(reg["client_secret_expires_at"], 0);
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_post");
    assert_eq!(reg["id_token_signed_response_alg"], "RS256");
    assert_eq!(reg["subject_type"], "pairwise", "the government default");
    assert_eq!(
        reg["backchannel_logout_uri"],
        "https://benefits.example/logout"
    );
    let manage = reg["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let uri = reg["registration_client_uri"].as_str().unwrap().to_string();
    assert_eq!(uri, format!("{endpoint}/{id}"));
    // The initial access token was good for one registration.
    let (status, _) = call(
        reqwest::Method::POST,
        &endpoint,
        Some(&token),
        Some(metadata.clone()),
    )
    .await;
    assert_eq!(status, 401, "used up");

    // The new client signs a citizen in.
    let b = Browser::new();
    let verifier = idp::crypto::random_token();
    let url = s.url(&format!(
        "/authorize?client_id={id}&response_type=code&scope=openid%20profile&redirect_uri=https%3A%2F%2Fbenefits.example%2Fcb&state=s&code_challenge={}&code_challenge_method=S256",
        idp::crypto::pkce_s256(&verifier)
    ));
    let back = b.login(&s.issuer, &url, "anna", PASSWORD).await;
    let code = query(&back).remove("code").expect("code");
    let res = reqwest::Client::new()
        .post(s.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://benefits.example/cb"),
            ("code_verifier", verifier.as_str()),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let t: Value = res.json().await.unwrap();
    assert_eq!(jwt_part(t["id_token"].as_str().unwrap(), 0)["alg"], "RS256");

    // Reading needs the registration access token; an unknown client reads the same.
    let (status, read) = call(reqwest::Method::GET, &uri, Some(&manage), None).await;
    assert_eq!(status, 200);
    assert_eq!(read["client_name"], "Benefits portal");
    assert!(read.get("registration_access_token").is_none() && read.get("client_secret").is_none());
    assert_eq!(
        call(reqwest::Method::GET, &uri, Some(&token), None).await.0,
        401
    );
    assert_eq!(
        call(
            reqwest::Method::GET,
            &format!("{endpoint}/portal"),
            Some(&manage),
            None
        )
        .await
        .0,
        401
    );

    // Replacing: the metadata as a whole; the client id must match, the method stay.
    let mut changed = metadata.clone();
    changed["client_id"] = json!(id);
    changed["redirect_uris"] = json!(["https://benefits.example/cb2"]);
    let (status, updated) = call(
        reqwest::Method::PUT,
        &uri,
        Some(&manage),
        Some(changed.clone()),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        updated["redirect_uris"],
        json!(["https://benefits.example/cb2"])
    );
    let mut other_method = changed.clone();
    other_method["token_endpoint_auth_method"] = json!("none");
    let (status, body) = call(
        reqwest::Method::PUT,
        &uri,
        Some(&manage),
        Some(other_method),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client_metadata"))
    );

    // Removing: the client is gone, and its refresh token with it.
    let (status, _) = call(reqwest::Method::DELETE, &uri, Some(&manage), None).await;
    assert_eq!(status, 204);
    assert_eq!(
        call(reqwest::Method::GET, &uri, Some(&manage), None)
            .await
            .0,
        401
    );
    let res = reqwest::Client::new()
        .post(s.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "the client no longer exists");
}

on_both_databases!(a_client_registers_itself_and_manages_its_registration);
