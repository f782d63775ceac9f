//! End-to-end tests: a real `idp` on a random port, driven over HTTP. Every test runs
//! against SQLite and against PostgreSQL.

mod access_tokens;
mod admin_api;
mod assurance;
mod audit;
mod authorize_errors;
mod certificates;
mod cli;
mod dpop;
pub mod factors;
pub mod flow;
mod logout;
mod mtls;
mod operations;
mod pages;
mod par;
mod privacy;
mod protocol_security;
mod registration;
mod response_modes;
mod robustness;
mod step_up;
mod subjects;
mod token_errors;
mod webfinger;

pub use idp_e2e::*;

/// A confidential client with the standard scopes, its secret, and a user to sign in.
pub const SECRET: &str = "a-client-secret-of-good-length";
pub const REDIRECT: &str = "https://rp.example/cb";
pub const PASSWORD: &str = "correct horse battery staple";

pub async fn server_with_client(backend: Backend) -> TestServer {
    server_with_client_configured(backend, |_| {}).await
}

/// `server_with_client` with settings adjusted first.
pub async fn server_with_client_configured(
    backend: Backend,
    adjust: impl FnOnce(&mut idp::config::FileConfig),
) -> TestServer {
    let s = TestServer::start_configured(backend, None, |f, _| adjust(f)).await;
    s.add_client(&[
        "--id",
        "portal",
        "--secret",
        SECRET,
        "--redirect-uri",
        REDIRECT,
        "--post-logout-redirect-uri",
        "https://rp.example/bye",
        "--name",
        "Tax portal",
    ]);
    s.add_user("anna", PASSWORD);
    s
}

/// An authorization URL for the `portal` client with PKCE; returns it and the verifier.
pub fn authorize_url(s: &TestServer, extra: &str) -> (String, String) {
    let verifier = idp::crypto::random_token();
    let challenge = idp::crypto::pkce_s256(&verifier);
    let url = s.url(&format!(
        "/authorize?client_id=portal&response_type=code&scope=openid%20profile%20email&redirect_uri={}&state=st-1&nonce=n-1&code_challenge={challenge}&code_challenge_method=S256{extra}",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    ));
    (url, verifier)
}

/// Signs in through the pages and redeems the code; returns the token response.
pub async fn tokens(s: &TestServer, browser: &Browser) -> serde_json::Value {
    let (url, verifier) = authorize_url(s, "");
    let back = browser.login(&s.issuer, &url, "anna", PASSWORD).await;
    let code = query(&back).remove("code").expect("code");
    let res = redeem(s, &code, &verifier).await;
    assert_eq!(res.0, 200, "{}", res.1);
    res.1
}

pub async fn redeem(s: &TestServer, code: &str, verifier: &str) -> (u16, serde_json::Value) {
    post_token(
        s,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

pub async fn post_token(s: &TestServer, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let res = reqwest::Client::new()
        .post(s.url("/token"))
        .basic_auth("portal", Some(SECRET))
        .form(form)
        .send()
        .await
        .expect("token request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

/// Part `i` of a compact JWT (0: header, 1: claims), decoded; nothing verified.
pub fn jwt_part(jwt: &str, i: usize) -> serde_json::Value {
    use base64::Engine;
    let part = jwt.split('.').nth(i).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// The claims of a compact JWT, decoded; nothing verified.
pub fn jwt_payload(jwt: &str) -> serde_json::Value {
    jwt_part(jwt, 1)
}

/// The provider's discovery document.
pub async fn discovery(s: &TestServer) -> serde_json::Value {
    reqwest::get(s.url("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The claims of an ES256 JWT whose signature checks against the key of its `kid` in the
/// provider's published JWK set.
pub async fn verified_es256(s: &TestServer, jwt: &str) -> serde_json::Value {
    let header = jwt_part(jwt, 0);
    assert_eq!(header["alg"], "ES256");
    let jwks: serde_json::Value = reqwest::get(s.url("/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the signing key is published");
    let jwk = josekit::jwk::Jwk::from_bytes(jwk.to_string().as_bytes()).unwrap();
    let verifier = josekit::jws::ES256.verifier_from_jwk(&jwk).unwrap();
    let (payload, _) = josekit::jws::deserialize_compact(jwt, &verifier).expect("signature");
    serde_json::from_slice(&payload).unwrap()
}

/// UserInfo with a bearer token: its status and body.
pub async fn userinfo(s: &TestServer, token: &str) -> (u16, serde_json::Value) {
    let res = reqwest::Client::new()
        .get(s.url("/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .expect("userinfo");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

pub async fn introspect(s: &TestServer, token: &str) -> serde_json::Value {
    reqwest::Client::new()
        .post(s.url("/introspect"))
        .basic_auth("portal", Some(SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("json")
}

/// A document served on loopback at `path` (for any request): what `publish` holds, each
/// fetch counted.
pub async fn document_endpoint(
    path: &str,
) -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}{path}", listener.local_addr().unwrap());
    let publish = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let fetches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (body, count) = (publish.clone(), fetches.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            while reader.read_line(&mut line).await.unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = body.lock().unwrap().clone();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = reader.get_mut().write_all(head.as_bytes()).await;
            let _ = reader.get_mut().write_all(&body).await;
        }
    });
    (uri, publish, fetches)
}

/// A token request authenticated by a client assertion (RFC 7523), `form` besides.
pub async fn with_assertion(
    s: &TestServer,
    assertion: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut all = form.to_vec();
    all.push((
        "client_assertion_type",
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    ));
    all.push(("client_assertion", assertion));
    reqwest::Client::new()
        .post(s.url("/token"))
        .form(&all)
        .send()
        .await
        .expect("token request")
}
