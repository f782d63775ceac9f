//! Mutual-TLS client authentication and certificate-bound access tokens (RFC 8705), over
//! real TLS: the `[mtls]` listener that `idp` terminates, published as the endpoints'
//! aliases, and certificates forwarded by a trusted reverse proxy.

use crate::*;
use idp::config::{MtlsConfig, TlsConfig};
use idp_e2e::pki::{Issued, Pki, escaped, self_signed};
use serde_json::{Value, json};
use std::net::SocketAddr;

struct Setup {
    server_ca: Pki,
    /// The CA of `tls_client_auth` clients (PEM).
    client_ca: String,
    /// `CN=portal` from the clients' CA.
    portal: Issued,
    /// `CN=portal` again, renewed.
    renewed: Issued,
    /// `CN=portal` from another CA.
    foreign: Issued,
    /// `CN=intruder` from the clients' CA.
    intruder: Issued,
    /// The certificate `own-cert` registered.
    own: Issued,
}

fn setup() -> Setup {
    let client_ca = Pki::new("Client CA");
    Setup {
        server_ca: Pki::new("Server CA"),
        portal: client_ca.client("portal", 1, 2024, 2099),
        renewed: client_ca.client("portal", 4, 2024, 2099),
        foreign: Pki::new("Other CA").client("portal", 2, 2024, 2099),
        intruder: client_ca.client("intruder", 3, 2024, 2099),
        own: self_signed("own-cert"),
        client_ca: client_ca.ca_pem,
    }
}

/// A JWK set that registers `cert` for `self_signed_tls_client_auth`, in a file.
fn jwks_file(s: &TestServer, cert: &Issued) -> String {
    use base64::Engine;
    let path = s.dir.path().join("own.jwks");
    let jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        "x5c": [base64::engine::general_purpose::STANDARD.encode(&cert.cert_der)],
    }]});
    std::fs::write(&path, jwks.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

/// The `x5t#S256` of a certificate.
fn thumbprint(c: &Issued) -> String {
    idp::crypto::b64url(&idp::crypto::sha256(&c.cert_der))
}

/// An https client trusting the server CA, with `identity` as its certificate;
/// `localhost` is the loopback address (the port comes from each URL).
fn client(ca: &Pki, identity: Option<&Issued>) -> Browser {
    let mut b = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.ca_pem.as_bytes()).unwrap())
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], 0)));
    if let Some(id) = identity {
        b = b.identity(reqwest::Identity::from_pem(id.identity_pem().as_bytes()).unwrap());
    }
    Browser::with(b)
}

async fn form(b: &Browser, url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let res = b.http.post(url).form(form).send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn client_credentials(b: &Browser, url: &str, id: &str) -> (u16, Value) {
    form(
        b,
        url,
        &[("grant_type", "client_credentials"), ("client_id", id)],
    )
    .await
}

async fn mtls_clients_and_bound_tokens(backend: Backend) {
    let pki = setup();
    let server = pki.server_ca.server("localhost");
    let alias_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client_ca = pki.client_ca.clone();
    let s = TestServer::start_configured(backend, None, |f, (port, dir)| {
        std::fs::write(dir.join("server.pem"), &server.cert_pem).unwrap();
        std::fs::write(dir.join("server.key"), &server.key_pem).unwrap();
        std::fs::write(dir.join("clients-ca.pem"), &client_ca).unwrap();
        f.issuer = Some(format!("https://localhost:{port}"));
        f.dev = Some(false);
        f.tls = Some(TlsConfig {
            cert_file: dir.join("server.pem"),
            key_file: dir.join("server.key"),
            tls13_only: false,
        });
        f.mtls = Some(MtlsConfig {
            cert_file: None,
            key_file: None,
            listen: Some(SocketAddr::from(([127, 0, 0, 1], alias_port))),
            url: Some(format!("https://localhost:{alias_port}")),
            ca_files: vec![dir.join("clients-ca.pem")],
            crl_files: Vec::new(),
            proxy_header: None,
        });
    })
    .await;
    let alias = format!("https://localhost:{alias_port}");
    let jwks = jwks_file(&s, &pki.own);
    s.add_client(&[
        "--id",
        "pki-client",
        "--tls-client-auth",
        "subject_dn=CN=portal",
        "--grant",
        "client_credentials",
        "--scope",
        "openid",
        "--tls-bound-access-tokens",
        "--access-token-format",
        "jwt",
    ]);
    s.add_client(&[
        "--id",
        "renewing",
        "--tls-client-auth",
        "subject_dn=CN=portal",
        "--redirect-uri",
        REDIRECT,
        "--tls-bound-access-tokens",
    ]);
    s.add_client(&[
        "--id",
        "own-cert",
        "--jwks-file",
        &jwks,
        "--self-signed-tls",
        "--grant",
        "client_credentials",
        "--grant",
        "authorization_code",
        "--redirect-uri",
        REDIRECT,
        "--tls-bound-access-tokens",
    ]);
    s.add_client(&[
        "--id",
        "app",
        "--public",
        "--redirect-uri",
        REDIRECT,
        "--tls-bound-access-tokens",
    ]);
    add_resource_server(&s);
    s.add_user("anna", PASSWORD);
    let with = |id: Option<&Issued>| client(&pki.server_ca, id);

    // The aliases and the methods are published.
    let d: Value = with(None)
        .http
        .get(s.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        d["mtls_endpoint_aliases"]["token_endpoint"],
        format!("{alias}/token")
    );
    assert_eq!(
        d["mtls_endpoint_aliases"]["userinfo_endpoint"],
        format!("{alias}/userinfo")
    );
    assert_eq!(d["tls_client_certificate_bound_access_tokens"], true);
    let methods = d["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    for m in ["tls_client_auth", "self_signed_tls_client_auth"] {
        assert!(methods.contains(&json!(m)), "{m} in {methods:?}");
    }

    // tls_client_auth: the CA and the registered DN.
    let token_at = format!("{alias}/token");
    let (status, body) =
        client_credentials(&with(Some(&pki.portal)), &token_at, "pki-client").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let jwt = body["access_token"].as_str().unwrap();
    assert_eq!(jwt_payload(jwt)["cnf"]["x5t#S256"], thumbprint(&pki.portal));
    for (who, cert) in [
        ("none", None),
        ("another CA", Some(&pki.foreign)),
        ("another name", Some(&pki.intruder)),
        ("self-signed", Some(&pki.own)),
    ] {
        let (status, body) = client_credentials(&with(cert), &token_at, "pki-client").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{who}: {body}"
        );
    }

    // self_signed_tls_client_auth: the registered certificate, and no other.
    let (status, body) = client_credentials(&with(Some(&pki.own)), &token_at, "own-cert").await;
    assert_eq!(status, 200, "{body}");
    let opaque = body["access_token"].as_str().unwrap().to_string();
    let (status, body) = client_credentials(&with(Some(&pki.portal)), &token_at, "own-cert").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    // Introspection tells a resource server the certificate the token is bound to.
    let seen = introspect_as(&with(None).http, &s, &opaque).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["cnf"]["x5t#S256"], thumbprint(&pki.own));

    // A person's tokens: the code is redeemed with the certificate, and UserInfo answers
    // only over a connection that presents it.
    let browser = with(None);
    let tokens = tokens_for(&s, &browser, "own-cert", &with(Some(&pki.own)), &token_at).await;
    let at = tokens["access_token"].as_str().unwrap();
    let userinfo = |b: Browser, url: String| async move { userinfo_over(&b, &url, at).await };
    let (status, _) = userinfo(with(Some(&pki.own)), format!("{alias}/userinfo")).await;
    assert_eq!(status, 200);
    for (who, b, url) in [
        ("no certificate", with(None), s.url("/userinfo")),
        (
            "no certificate at the alias",
            with(None),
            format!("{alias}/userinfo"),
        ),
        (
            "another certificate",
            with(Some(&pki.portal)),
            format!("{alias}/userinfo"),
        ),
    ] {
        let (status, challenge) = userinfo(b, url).await;
        assert_eq!(status, 401, "{who}");
        assert!(
            challenge.unwrap_or_default().contains("invalid_token"),
            "{who}"
        );
    }
    // A public client's tokens are bound to whatever certificate it presented, its refresh
    // token included (RFC 8705 4): another certificate cannot use it, nor use it up.
    let tokens = tokens_for(&s, &browser, "app", &with(Some(&pki.intruder)), &token_at).await;
    let refresh = [
        ("grant_type", "refresh_token"),
        ("client_id", "app"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ];
    let (status, body) = form(&with(Some(&pki.portal)), &token_at, &refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, body) = form(&with(None), &token_at, &refresh).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = form(&with(Some(&pki.intruder)), &token_at, &refresh).await;
    assert_eq!(status, 200, "{body}");
    let seen = introspect_as(&with(None).http, &s, body["access_token"].as_str().unwrap()).await;
    assert_eq!(seen["cnf"]["x5t#S256"], thumbprint(&pki.intruder));

    // A confidential client refreshes with a renewed certificate: the new tokens are bound
    // to it, the tokens issued before stay bound to the old one.
    let first = tokens_for(
        &s,
        &browser,
        "renewing",
        &with(Some(&pki.portal)),
        &token_at,
    )
    .await;
    let refresh = [
        ("grant_type", "refresh_token"),
        ("client_id", "renewing"),
        ("refresh_token", first["refresh_token"].as_str().unwrap()),
    ];
    let (status, second) = form(&with(Some(&pki.renewed)), &token_at, &refresh).await;
    assert_eq!(status, 200, "{second}");
    for (tokens, cert, other) in [
        (&first, &pki.portal, &pki.renewed),
        (&second, &pki.renewed, &pki.portal),
    ] {
        let at = tokens["access_token"].as_str().unwrap();
        let seen = introspect_as(&with(None).http, &s, at).await;
        assert_eq!(seen["cnf"]["x5t#S256"], thumbprint(cert));
        let url = format!("{alias}/userinfo");
        assert_eq!(userinfo_over(&with(Some(cert)), &url, at).await.0, 200);
        assert_eq!(userinfo_over(&with(Some(other)), &url, at).await.0, 401);
    }

    // A DPoP proof sent to the alias names the alias's URL (RFC 9449 4.3), not the issuer's.
    let key = crate::dpop::Key::new();
    let dpop_at = |htu: &str, nonce: Option<&str>| {
        let proof = key.proof(
            "POST",
            htu,
            nonce.map_or(json!({}), |n| json!({ "nonce": n })),
        );
        let http = with(None).http;
        let url = token_at.clone();
        async move {
            let res = http
                .post(url)
                .basic_auth("api", Some(SECRET))
                .header("DPoP", proof)
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap();
            let nonce = res
                .headers()
                .get("dpop-nonce")
                .map(|v| v.to_str().unwrap().to_string());
            (
                res.status().as_u16(),
                res.json::<Value>().await.unwrap(),
                nonce,
            )
        }
    };
    let (_, _, nonce) = dpop_at(&token_at, None).await;
    let nonce = nonce.expect("a DPoP nonce");
    let (status, body, _) = dpop_at(&token_at, Some(&nonce)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let (status, body, _) = dpop_at(&s.url("/token"), Some(&nonce)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "{body}"
    );

    // A certificate in a header means nothing here: no proxy is configured, and the alias
    // listener takes certificates from the TLS connection only.
    let res = with(None)
        .http
        .post(&token_at)
        .header("x-client-cert", escaped(&pki.own.cert_pem))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "own-cert"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);

    // A token request of a bound client without a certificate is refused.
    let (status, body) = form(
        &with(None),
        &s.url("/token"),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "own-cert"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
}

/// Signs anna in through `browser` for `client` (PKCE, scope openid) and redeems the code
/// at `token_at` over the connection of `over`; the token response.
async fn tokens_for(
    s: &TestServer,
    browser: &Browser,
    client: &str,
    over: &Browser,
    token_at: &str,
) -> Value {
    let verifier = idp::crypto::random_token();
    let url = s.url(&format!(
        "/authorize?client_id={client}&response_type=code&scope=openid&redirect_uri={}&state=s&nonce=n&code_challenge={}&code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        idp::crypto::pkce_s256(&verifier)
    ));
    let back = browser.login(&s.issuer, &url, "anna", PASSWORD).await;
    let code = query(&back)["code"].clone();
    let redeem = [
        ("grant_type", "authorization_code"),
        ("client_id", client),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, tokens) = form(over, token_at, &redeem).await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// UserInfo at `url` with `token`, over the connection of `b`: the status and the
/// `WWW-Authenticate` challenge.
async fn userinfo_over(b: &Browser, url: &str, token: &str) -> (u16, Option<String>) {
    let res = b.http.get(url).bearer_auth(token).send().await.unwrap();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    (res.status().as_u16(), challenge)
}

/// Behind a reverse proxy that terminates TLS: the certificate comes in its header, and
/// only from a trusted proxy.
async fn mtls_through_a_trusted_proxy(backend: Backend) {
    let own = self_signed("own-cert");
    let s = TestServer::start_configured(backend, None, |f, _| {
        f.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        f.mtls = Some(MtlsConfig {
            cert_file: None,
            key_file: None,
            listen: None,
            url: None,
            ca_files: Vec::new(),
            crl_files: Vec::new(),
            proxy_header: Some("x-ssl-client-cert".into()),
        });
    })
    .await;
    let jwks = jwks_file(&s, &own);
    s.add_client(&[
        "--id",
        "own-cert",
        "--jwks-file",
        &jwks,
        "--self-signed-tls",
        "--grant",
        "client_credentials",
        "--tls-bound-access-tokens",
    ]);
    add_resource_server(&s);
    let d = discovery(&s).await;
    assert!(
        d.get("mtls_endpoint_aliases").is_none(),
        "no alias without a url"
    );
    let methods = d["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(
        !methods.contains(&json!("tls_client_auth")),
        "no CAs configured"
    );
    let send = |header: Option<String>| {
        let url = s.url("/token");
        async move {
            let mut req = reqwest::Client::new().post(url).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "own-cert"),
            ]);
            if let Some(h) = header {
                req = req.header("x-ssl-client-cert", h);
            }
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = send(Some(escaped(&own.cert_pem))).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let seen = introspect_as(&reqwest::Client::new(), &s, token).await;
    assert_eq!(seen["cnf"]["x5t#S256"], thumbprint(&own));
    let (status, _) = send(Some(escaped(&self_signed("own-cert").cert_pem))).await;
    assert_eq!(status, 401, "another certificate");
    let (status, _) = send(None).await;
    assert_eq!(status, 401, "no certificate");
    // The X.509 sign-in's header is not the clients' one.
    let res = reqwest::Client::new()
        .post(s.url("/token"))
        .header("x-client-cert", escaped(&own.cert_pem))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "own-cert"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401, "another header");
}

/// The resource server `api`, which introspects the others' tokens.
fn add_resource_server(s: &TestServer) {
    s.add_client(&[
        "--id",
        "api",
        "--secret",
        SECRET,
        "--resource-server",
        "--grant",
        "client_credentials",
    ]);
}

/// Introspection by the resource server `api`.
async fn introspect_as(http: &reqwest::Client, s: &TestServer, token: &str) -> Value {
    http.post(s.url("/introspect"))
        .basic_auth("api", Some(SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

on_both_databases!(mtls_clients_and_bound_tokens, mtls_through_a_trusted_proxy);
