//! Dynamic client registration (RFC 7591) and its management (RFC 7592) over HTTP: a client
//! registers itself with an initial access token, signs a citizen in, reads, replaces and
//! removes its registration; tokens used up, wrong or missing are refused, and metadata the
//! provider cannot honour is refused by name. A registered client may have its ID tokens
//! encrypted to its own key.

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

/// A registration refused as `invalid_client_metadata`, its description naming `what`.
fn refused_naming(status: u16, body: &Value, what: &str) {
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_client_metadata")),
        "{body}"
    );
    assert!(
        body["error_description"].as_str().unwrap().contains(what),
        "{body}"
    );
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
        "backchannel_logout_uri": "https://benefits.example/logout"
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
        (
            "sector_identifier_uri",
            json!("https://benefits.example/s.json"),
        ),
        ("jwks_uri", json!("https://benefits.example/jwks")),
        ("response_types", json!(["code id_token"])),
        ("default_acr_values", json!(["urn:example:gold"])),
        // Logout notices go to https and public addresses only, for a self-registered client.
        ("backchannel_logout_uri", json!("http://127.0.0.1:9/logout")),
        ("backchannel_logout_uri", json!("https://10.1.2.3/logout")),
    ] {
        let mut bad = metadata.clone();
        bad[member] = value;
        let (status, body) = call(reqwest::Method::POST, &endpoint, Some(&token), Some(bad)).await;
        refused_naming(status, &body, member);
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
    refused_naming(status, &body, "token_endpoint_auth_method");

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

/// A client registered with its own keys (private_key_jwt) and an encryption algorithm gets
/// its ID tokens signed by the provider and encrypted to its key: only it can read them;
/// with UserInfo signing and encryption algorithms, UserInfo comes as a JWT signed for it
/// and encrypted to it.
async fn a_registered_client_receives_encrypted_id_tokens(backend: Backend) {
    use josekit::jwk::KeyPair;
    let s = server_with_client(backend).await;
    let endpoint = discovery(&s).await["registration_endpoint"]
        .as_str()
        .unwrap()
        .to_string();
    let signing = josekit::jws::ES256.generate_key_pair().unwrap();
    let mut signing_public = signing.to_jwk_public_key();
    signing_public.set_key_id("sig-1");
    signing_public.set_key_use("sig");
    let sealing = josekit::jwe::ECDH_ES_A128KW
        .generate_ec_key_pair(josekit::jwk::alg::ec::EcCurve::P256)
        .unwrap();
    let mut sealing_public = sealing.to_jwk_public_key();
    sealing_public.set_key_id("enc-1");
    sealing_public.set_key_use("enc");
    let jwks = json!({ "keys": [
        Value::Object(signing_public.as_ref().clone()),
        Value::Object(sealing_public.as_ref().clone()),
    ] });
    let token = initial_token(&s, 1);
    let (status, reg) = call(
        reqwest::Method::POST,
        &endpoint,
        Some(&token),
        Some(json!({
            "redirect_uris": ["https://sealed.example/cb"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": jwks,
            "id_token_encrypted_response_alg": "ECDH-ES+A128KW",
            "id_token_encrypted_response_enc": "A256GCM",
            "id_token_signed_response_alg": "ES256",
            "userinfo_signed_response_alg": "ES256",
            "userinfo_encrypted_response_alg": "ECDH-ES+A128KW",
            "require_auth_time": true,
            "default_max_age": 3600,
            // The lowest listed is asked for: low, so the password alone signs in below.
            "default_acr_values": [
                "http://eidas.europa.eu/LoA/low",
                "http://eidas.europa.eu/LoA/low",
                "http://eidas.europa.eu/LoA/substantial",
            ],
        })),
    )
    .await;
    assert_eq!(status, 201, "{reg}");
    assert_eq!(reg["id_token_encrypted_response_alg"], "ECDH-ES+A128KW");
    assert_eq!(reg["userinfo_encrypted_response_alg"], "ECDH-ES+A128KW");
    assert_eq!(reg["userinfo_encrypted_response_enc"], "A128CBC-HS256");
    assert_eq!(reg["default_max_age"], 3600);
    assert_eq!(
        reg["default_acr_values"],
        json!([
            "http://eidas.europa.eu/LoA/low",
            "http://eidas.europa.eu/LoA/substantial"
        ])
    );
    let id = reg["client_id"].as_str().unwrap().to_string();

    let b = Browser::new();
    let verifier = idp::crypto::random_token();
    let url = s.url(&format!(
        "/authorize?client_id={id}&response_type=code&scope=openid%20email&redirect_uri=https%3A%2F%2Fsealed.example%2Fcb&state=s&nonce=n1&code_challenge={}&code_challenge_method=S256&claims=%7B%22id_token%22%3A%7B%22email%22%3Anull%7D%7D",
        idp::crypto::pkce_s256(&verifier)
    ));
    let back = b.login(&s.issuer, &url, "anna", PASSWORD).await;
    let code = query(&back).remove("code").expect("code");
    let mut header = josekit::jws::JwsHeader::new();
    header.set_key_id("sig-1");
    let now = idp::now();
    let claims = json!({ "iss": id, "sub": id, "aud": s.url("/token"), "jti": "a1", "exp": now + 60, "iat": now });
    let signer = josekit::jws::ES256
        .signer_from_jwk(&signing.to_jwk_private_key())
        .unwrap();
    let assertion =
        josekit::jws::serialize_compact(claims.to_string().as_bytes(), &header, &signer).unwrap();
    let res = reqwest::Client::new()
        .post(s.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "https://sealed.example/cb"),
            ("code_verifier", verifier.as_str()),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let t: Value = res.json().await.unwrap();
    let sealed = t["id_token"].as_str().unwrap();
    assert_eq!(sealed.split('.').count(), 5, "a JWE, not a readable JWT");
    let decrypter = josekit::jwe::ECDH_ES_A128KW
        .decrypter_from_jwk(&sealing.to_jwk_private_key())
        .unwrap();
    let (inner, jwe_header) = josekit::jwe::deserialize_compact(sealed, &decrypter).unwrap();
    assert_eq!(jwe_header.content_encryption(), Some("A256GCM"));
    assert_eq!(jwe_header.content_type(), Some("JWT"));
    let inner = String::from_utf8(inner).unwrap();
    let id_token = verified_es256(&s, &inner).await;
    assert_eq!(id_token["aud"], id.as_str());
    assert_eq!(id_token["nonce"], "n1");
    assert!(id_token["auth_time"].is_i64(), "{id_token}");
    assert_eq!(id_token["email"], "anna@example.invalid");
    // UserInfo answers it in a JWT signed for it, then encrypted to it (OIDC Core 5.3.2).
    let res = reqwest::Client::new()
        .get(s.url("/userinfo"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "application/jwt");
    let sealed = res.text().await.unwrap();
    assert_eq!(sealed.split('.').count(), 5, "a JWE: {sealed}");
    let (inner, jwe_header) = josekit::jwe::deserialize_compact(&sealed, &decrypter).unwrap();
    assert_eq!(jwe_header.content_encryption(), Some("A128CBC-HS256"));
    assert_eq!(jwe_header.content_type(), Some("JWT"));
    let info = verified_es256(&s, &String::from_utf8(inner).unwrap()).await;
    assert_eq!(info["iss"], s.issuer.as_str());
    assert_eq!(info["aud"], id.as_str());
    assert_eq!(info["sub"], id_token["sub"]);
    assert_eq!(info["email"], "anna@example.invalid");
    // A client without a key to encrypt to cannot ask for it.
    for member in [
        "id_token_encrypted_response_alg",
        "userinfo_encrypted_response_alg",
    ] {
        let token = initial_token(&s, 1);
        let (status, body) = call(
            reqwest::Method::POST,
            &endpoint,
            Some(&token),
            Some(json!({ "redirect_uris": ["https://plain.example/cb"], member: "RSA-OAEP" })),
        )
        .await;
        refused_naming(status, &body, member);
    }
}

/// A client registered for `client_secret_jwt` receives a secret it signs its assertions
/// with (and cannot send as a password).
async fn a_client_registers_for_client_secret_jwt(backend: Backend) {
    let s = TestServer::start(backend).await;
    let (status, reg) = call(
        reqwest::Method::POST,
        &s.url("/register"),
        Some(&initial_token(&s, 1)),
        Some(json!({
            "redirect_uris": ["https://benefits.example/cb"],
            "token_endpoint_auth_method": "client_secret_jwt",
        })),
    )
    .await;
    assert_eq!(status, 201, "{reg}");
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_jwt");
    let id = reg["client_id"].as_str().unwrap();
    let secret = reg["client_secret"].as_str().expect("a secret");
    let now = idp::now();
    let payload = json!({"iss": id, "sub": id, "aud": s.url("/token"),
        "jti": "r1", "exp": now + 60, "iat": now});
    let signer = josekit::jws::HS256.signer_from_bytes(secret).unwrap();
    let header = josekit::jws::JwsHeader::new();
    let assertion =
        josekit::jws::serialize_compact(payload.to_string().as_bytes(), &header, &signer).unwrap();
    let http = reqwest::Client::new();
    let token = |auth: [(&str, &str); 2]| {
        let [a, b] = auth;
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", "none"),
            a,
            b,
        ];
        let req = http.post(s.url("/token")).form(&form);
        async move { req.send().await.unwrap() }
    };
    // Authenticated (the refresh token is what is wrong), and with the secret sent as a
    // password, not.
    let jwt_bearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    let signed = token([
        ("client_assertion_type", jwt_bearer),
        ("client_assertion", &assertion),
    ]);
    let body: Value = signed.await.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "{body}");
    let posted = token([("client_id", id), ("client_secret", secret)]).await;
    assert_eq!(posted.status(), 401);
}

/// private_key_jwt with a `jwks_uri` (https): registered and read back; with `jwks` as
/// well, refused. The client's privacy notice and terms are linked from its sign-in page.
async fn a_client_registers_its_jwks_uri(backend: Backend) {
    let s = TestServer::start(backend).await;
    let token = initial_token(&s, 2);
    let metadata = json!({
        "redirect_uris": ["https://benefits.example/cb"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": "https://benefits.example/jwks",
        "policy_uri": "https://benefits.example/privacy",
        "tos_uri": "https://benefits.example/terms",
    });
    let mut plain = metadata.clone();
    plain["policy_uri"] = json!("http://benefits.example/privacy");
    let (status, body) = call(
        reqwest::Method::POST,
        &s.url("/register"),
        Some(&token),
        Some(plain),
    )
    .await;
    refused_naming(status, &body, "policy_uri");
    let mut both = metadata.clone();
    both["jwks"] = json!({"keys": []});
    let (status, body) = call(
        reqwest::Method::POST,
        &s.url("/register"),
        Some(&token),
        Some(both),
    )
    .await;
    refused_naming(status, &body, "not both");
    let (status, reg) = call(
        reqwest::Method::POST,
        &s.url("/register"),
        Some(&token),
        Some(metadata),
    )
    .await;
    assert_eq!(status, 201, "{reg}");
    assert_eq!(reg["jwks_uri"], "https://benefits.example/jwks");
    assert_eq!(
        reg["id_token_signed_response_alg"], "RS256",
        "the default when none is named (OIDC Dynamic Registration 2)"
    );
    assert!(reg.get("client_secret").is_none());
    assert_eq!(reg["policy_uri"], "https://benefits.example/privacy");
    let b = Browser::new();
    let authorize = format!(
        "/authorize?client_id={}&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Fbenefits.example%2Fcb",
        reg["client_id"].as_str().unwrap()
    );
    let page = b.follow(&s.issuer, b.get(&s.url(&authorize)).await).await;
    assert!(page.form_action().ends_with("/login"));
    for (href, text) in [
        (
            "https://benefits.example/privacy",
            "The service&#39;s privacy notice",
        ),
        (
            "https://benefits.example/terms",
            "The service&#39;s terms of use",
        ),
    ] {
        assert!(
            page.body.contains(&format!("href=\"{href}\"")),
            "{}",
            page.body
        );
        assert!(page.body.contains(text), "{}", page.body);
    }
}

/// A `sector_identifier_uri` (OIDC Core 8.1): fetched at registration, it must list the
/// client's redirect URIs; its host is the sector, so two clients on different hosts that
/// name the same document share pairwise subjects. It cannot change afterwards.
async fn clients_share_a_sector_through_its_document(backend: Backend) {
    let s =
        TestServer::start_configured(backend, None, |f, _| f.fetch_private_addresses = Some(true))
            .await;
    let (sector_uri, publish, fetches) = document_endpoint("/sector.json").await;
    *publish.lock().unwrap() = json!(["https://a.example/cb", "https://b.example/cb"])
        .to_string()
        .into_bytes();
    let token = initial_token(&s, 3);
    let endpoint = s.url("/register");
    let register = |redirect: &str| {
        let body = json!({
            "redirect_uris": [redirect],
            "sector_identifier_uri": sector_uri,
        });
        call(reqwest::Method::POST, &endpoint, Some(&token), Some(body))
    };
    let (status, body) = register("https://c.example/cb").await;
    refused_naming(status, &body, "c.example");
    let (_, a) = register("https://a.example/cb").await;
    let (_, b) = register("https://b.example/cb").await;
    assert_eq!(a["sector_identifier_uri"], sector_uri.as_str());
    assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 3);
    let ctx = idp::admin::Context::from(&*s.state);
    let sector = |reg: &Value| {
        let id = reg["client_id"].as_str().unwrap();
        idp::admin::clients::show(&ctx, id)
            .unwrap()
            .sector_identifier
    };
    assert_eq!(sector(&a), Some("127.0.0.1".to_string()));
    assert_eq!(sector(&a), sector(&b));

    // Replacing the registration with another document is refused.
    let mut changed = a.clone();
    for k in [
        "registration_access_token",
        "registration_client_uri",
        "client_secret",
        "client_secret_expires_at",
        "client_id_issued_at",
    ] {
        changed.as_object_mut().unwrap().remove(k);
    }
    changed["sector_identifier_uri"] = json!("https://elsewhere.example/sector.json");
    let (status, body) = call(
        reqwest::Method::PUT,
        a["registration_client_uri"].as_str().unwrap(),
        a["registration_access_token"].as_str(),
        Some(changed),
    )
    .await;
    refused_naming(status, &body, "sector_identifier_uri");
}

/// A client's logo (RFC 7591 `logo_uri`): fetched once at registration, kept as a small PNG
/// and served by the provider on the sign-in page, so that the page loads nothing from the
/// client; anything but a PNG or JPEG image is refused; an administrator can remove it.
async fn a_clients_logo_is_served_from_here(backend: Backend) {
    let s =
        TestServer::start_configured(backend, None, |f, _| f.fetch_private_addresses = Some(true))
            .await;
    let (logo_uri, publish, fetches) = document_endpoint("/logo.png").await;
    *publish.lock().unwrap() = br#"{"not": "an image"}"#.to_vec();
    let token = initial_token(&s, 2);
    let metadata =
        json!({ "redirect_uris": ["https://benefits.example/cb"], "logo_uri": logo_uri });
    let endpoint = s.url("/register");
    let register = || {
        call(
            reqwest::Method::POST,
            &endpoint,
            Some(&token),
            Some(metadata.clone()),
        )
    };
    // Without a usable initial access token, nothing is fetched.
    let (status, _) = call(
        reqwest::Method::POST,
        &endpoint,
        Some("guess"),
        Some(metadata.clone()),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(fetches.load(std::sync::atomic::Ordering::SeqCst), 0);
    let (status, body) = register().await;
    refused_naming(status, &body, "logo_uri");

    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        400,
        200,
        image::Rgb([0, 90, 160]),
    ))
    .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
    .unwrap();
    *publish.lock().unwrap() = png;
    let (status, reg) = register().await;
    assert_eq!(status, 201, "{reg}");
    assert_eq!(reg["logo_uri"], logo_uri.as_str());
    let id = reg["client_id"].as_str().unwrap();
    let b = Browser::new();
    let authorize = format!(
        "/authorize?client_id={id}&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Fbenefits.example%2Fcb"
    );
    let page = b.follow(&s.issuer, b.get(&s.url(&authorize)).await).await;
    let src = format!("/clients/{id}/logo");
    assert!(
        page.body.contains(&format!("src=\"{src}\"")),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains(&logo_uri),
        "the page names nothing of the client's"
    );
    let served = reqwest::get(s.url(&src)).await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    let kept = image::load_from_memory(&served.bytes().await.unwrap()).unwrap();
    assert_eq!((kept.width(), kept.height()), (128, 64));
    assert_eq!(
        fetches.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "fetched at registration only"
    );

    // Removed by an administrator: gone from the page and from the provider.
    let ctx = idp::admin::Context::from(&*s.state);
    let changes = idp::admin::clients::ClientChanges {
        logo_uri: Some(String::new()),
        ..Default::default()
    };
    let actor = idp::admin::Actor::Cli { os_user: None };
    idp::admin::clients::update(&ctx, &actor, id, changes, idp::now()).unwrap();
    assert_eq!(reqwest::get(s.url(&src)).await.unwrap().status(), 404);
    let page = b.follow(&s.issuer, b.get(&s.url(&authorize)).await).await;
    assert!(!page.body.contains("client-logo"));
}

on_both_databases!(
    a_clients_logo_is_served_from_here,
    clients_share_a_sector_through_its_document,
    a_client_registers_its_jwks_uri,
    a_client_registers_itself_and_manages_its_registration,
    a_registered_client_receives_encrypted_id_tokens,
    a_client_registers_for_client_secret_jwt
);
