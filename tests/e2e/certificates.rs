//! X.509 client certificate sign-in: over real TLS terminated by `idp` (TLS 1.3 only),
//! where expired, revoked and foreign certificates are refused in the handshake, and from
//! a trusted reverse proxy's header, where the same checks apply.

use crate::*;
use idp::config::{TlsConfig, X509Config};
use idp_e2e::pki::{Issued, Pki, escaped};
use std::net::SocketAddr;

struct Setup {
    ca: Pki,
    valid: Issued,
    expired: Issued,
    revoked: Issued,
    foreign: Issued,
}

fn setup() -> Setup {
    let ca = Pki::new("Citizen CA");
    let foreign_ca = Pki::new("Some other CA");
    Setup {
        valid: ca.client("anna", 1001, 2024, 2099),
        expired: ca.client("anna", 1002, 2020, 2021),
        revoked: ca.client("anna", 1003, 2024, 2099),
        foreign: foreign_ca.client("anna", 1004, 2024, 2099),
        ca,
    }
}

fn x509(dir: &std::path::Path, ca: &Pki) -> X509Config {
    std::fs::write(dir.join("ca.pem"), &ca.ca_pem).unwrap();
    std::fs::write(dir.join("crl.pem"), ca.crl(&[1003])).unwrap();
    X509Config {
        ca_files: vec![dir.join("ca.pem")],
        crl_files: vec![dir.join("crl.pem")],
        mapping: "subject-cn".into(),
        proxy_header: "x-client-cert".into(),
    }
}

fn tls_browser(ca: &Pki, addr: SocketAddr, identity: Option<&Issued>, tls12: bool) -> Browser {
    let mut b = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.ca_pem.as_bytes()).unwrap())
        .resolve("localhost", addr);
    if let Some(id) = identity {
        b = b.identity(reqwest::Identity::from_pem(id.identity_pem().as_bytes()).unwrap());
    }
    if tls12 {
        b = b.max_tls_version(reqwest::tls::Version::TLS_1_2);
    }
    Browser::with(b)
}

/// Opens the sign-in page and presses "sign in with a certificate"; returns the page after
/// and the PKCE verifier of the request.
async fn certificate_sign_in(s: &TestServer, b: &Browser) -> (Page, String) {
    let (u, verifier) = authorize_url(s, "");
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    assert!(
        page.body.contains("/certificate\""),
        "the login page offers certificates"
    );
    let action = page
        .body
        .split("action=\"")
        .nth(2)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let after = b
        .post(
            &format!("{}{action}", s.issuer),
            &[("csrf", &page.hidden("csrf"))],
        )
        .await;
    (after, verifier)
}

async fn certificate_login_over_tls(backend: Backend) {
    let pki = setup();
    let server = pki.ca.server("localhost");
    let s = TestServer::start_configured(backend, None, |f, (port, dir)| {
        std::fs::write(dir.join("server.pem"), &server.cert_pem).unwrap();
        std::fs::write(dir.join("server.key"), &server.key_pem).unwrap();
        f.issuer = Some(format!("https://localhost:{port}"));
        f.dev = Some(false);
        f.tls = Some(TlsConfig {
            cert_file: dir.join("server.pem"),
            key_file: dir.join("server.key"),
            tls13_only: true,
        });
        f.x509 = Some(x509(dir, &pki.ca));
    })
    .await;
    s.add_client(&[
        "--id",
        "portal",
        "--secret",
        SECRET,
        "--redirect-uri",
        REDIRECT,
    ]);
    s.add_user("anna", PASSWORD);
    let addr: SocketAddr = s.base.trim_start_matches("http://").parse().unwrap();

    let b = tls_browser(&pki.ca, addr, Some(&pki.valid), false);
    let (after, verifier) = certificate_sign_in(&s, &b).await;
    let consent = b.follow(&s.issuer, after).await;
    let back = b
        .post(
            &format!("{}{}", s.issuer, consent.form_action()),
            &[("csrf", &consent.hidden("csrf")), ("decision", "allow")],
        )
        .await;
    let back = b
        .follow(&s.issuer, back)
        .await
        .location
        .expect("back at the client");
    let code = query(&back)["code"].clone();
    let res = b
        .http
        .post(format!("{}/token", s.issuer))
        .basic_auth("portal", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let t: serde_json::Value = res.json().await.unwrap();
    let intro: serde_json::Value = b
        .http
        .post(format!("{}/introspect", s.issuer))
        .basic_auth("portal", Some(SECRET))
        .form(&[("token", t["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(intro["amr"], serde_json::json!(["sc"]));

    // Expired, revoked and foreign certificates do not get through the handshake.
    for (what, cert) in [
        ("expired", &pki.expired),
        ("revoked", &pki.revoked),
        ("foreign", &pki.foreign),
    ] {
        let b = tls_browser(&pki.ca, addr, Some(cert), false);
        assert!(
            b.try_get(&s.url("/health/live")).await.is_err(),
            "{what} certificate refused"
        );
    }
    // Without a certificate the site still works (other factors); TLS 1.2 is refused.
    let plain = tls_browser(&pki.ca, addr, None, false);
    assert_eq!(
        plain.try_get(&s.url("/health/live")).await.unwrap().status,
        200
    );
    let old = tls_browser(&pki.ca, addr, None, true);
    assert!(
        old.try_get(&s.url("/health/live")).await.is_err(),
        "TLS 1.2 refused"
    );
}

async fn certificate_from_a_trusted_proxy(backend: Backend) {
    let pki = setup();
    let s = TestServer::start_configured(backend, None, |f, (_, dir)| {
        f.x509 = Some(x509(dir, &pki.ca));
        f.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    s.add_client(&[
        "--id",
        "portal",
        "--secret",
        SECRET,
        "--redirect-uri",
        REDIRECT,
    ]);
    s.add_user("anna", PASSWORD);
    let with_header = |cert: &Issued| {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-client-cert", escaped(&cert.cert_pem).parse().unwrap());
        Browser::with(reqwest::Client::builder().default_headers(headers))
    };
    let (ok, _) = certificate_sign_in(&s, &with_header(&pki.valid)).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    for cert in [&pki.expired, &pki.revoked, &pki.foreign] {
        let (refused, _) = certificate_sign_in(&s, &with_header(cert)).await;
        assert_eq!(refused.status, 401);
        assert!(refused.body.contains("No valid certificate"));
    }
}

async fn proxy_header_from_elsewhere_is_ignored(backend: Backend) {
    let pki = setup();
    // 127.0.0.1 is not among the trusted proxies: the header counts for nothing.
    let s = TestServer::start_configured(backend, None, |f, (_, dir)| {
        f.x509 = Some(x509(dir, &pki.ca));
        f.trusted_proxies = vec!["192.0.2.1".parse().unwrap()];
    })
    .await;
    s.add_client(&[
        "--id",
        "portal",
        "--secret",
        SECRET,
        "--redirect-uri",
        REDIRECT,
    ]);
    s.add_user("anna", PASSWORD);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "x-client-cert",
        escaped(&pki.valid.cert_pem).parse().unwrap(),
    );
    let (page, _) = certificate_sign_in(
        &s,
        &Browser::with(reqwest::Client::builder().default_headers(headers)),
    )
    .await;
    assert_eq!(page.status, 401);
}

on_both_databases!(
    certificate_login_over_tls,
    certificate_from_a_trusted_proxy,
    proxy_header_from_elsewhere_is_ignored
);
