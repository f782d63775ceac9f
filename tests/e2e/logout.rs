//! RP-initiated logout without an ID token hint asks first; bad redirect targets are
//! refused on a page.

use crate::*;

/// Answers the question page "Sign out".
async fn confirm(s: &TestServer, b: &Browser, question: &Page) -> Page {
    let form = [
        ("csrf", question.hidden("csrf")),
        ("pending", question.hidden("pending")),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post(&s.url("/logout/confirm"), &form).await
}

async fn logout_asks_without_a_hint(backend: Backend) {
    let s = server_with_client(backend).await;
    let b = Browser::new();
    let t = tokens(&s, &b).await;
    let page = b.get(&s.url("/logout?client_id=portal&post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fbye&state=s1")).await;
    assert_eq!(page.status, 200);
    assert!(page.form_action().ends_with("/logout/confirm"));
    // The question names the account and the service that asked, with a way back.
    assert!(
        page.body
            .contains("You are signed in as <strong>Citizen anna</strong>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("requested by <strong>Tax portal</strong>")
    );
    assert!(
        page.body
            .contains("<a href=\"/account\">No, stay signed in</a>")
    );
    // Still signed in until confirmed.
    assert_eq!(
        introspect(&s, t["refresh_token"].as_str().unwrap()).await["active"],
        true
    );
    let done = confirm(&s, &b, &page).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        done.location.as_deref(),
        Some("https://rp.example/bye?state=s1")
    );
    assert_eq!(
        introspect(&s, t["refresh_token"].as_str().unwrap()).await["active"],
        false
    );

    // A forged confirmation does nothing.
    let t = tokens(&s, &b).await;
    let res = b
        .post(
            &s.url("/logout/confirm"),
            &[("csrf", "forged"), ("pending", "")],
        )
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(
        introspect(&s, t["refresh_token"].as_str().unwrap()).await["active"],
        true
    );
}

async fn logout_redirect_must_be_registered(backend: Backend) {
    let s = server_with_client(backend).await;
    let b = Browser::new();
    for q in [
        "client_id=portal&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F",
        "post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fbye",
        "id_token_hint=not.a.token",
    ] {
        let page = b.get(&s.url(&format!("/logout?{q}"))).await;
        assert_eq!(page.status, 400, "{q}");
        assert!(page.location.is_none(), "{q}");
    }
    // Without a session there is nothing to ask: straight to the registered URI.
    let page = b
        .get(&s.url(
            "/logout?client_id=portal&post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fbye",
        ))
        .await;
    assert_eq!(page.location.as_deref(), Some("https://rp.example/bye"));
}

on_both_databases!(
    logout_asks_without_a_hint,
    logout_redirect_must_be_registered,
    signing_out_at_the_provider_leads_on,
    services_hear_of_the_logout_by_both_channels
);

/// Signing out at the provider itself: no service named, and the last page leads on.
async fn signing_out_at_the_provider_leads_on(backend: Backend) {
    let s = server_with_client(backend).await;
    let b = Browser::new();
    tokens(&s, &b).await;
    let page = b.get(&s.url("/logout")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("requested by"), "{}", page.body);
    let done = confirm(&s, &b, &page).await;
    assert_eq!(done.status, 200);
    assert!(
        done.body.contains("You have been signed out."),
        "{}",
        done.body
    );
    assert!(
        done.body
            .contains("<a href=\"/account\">Go to your account</a>")
    );
}

/// A relying party's back-channel logout endpoint on loopback: each `logout_token` it is
/// POSTed goes to the channel; it answers 200.
async fn backchannel_endpoint() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/backchannel", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body).await;
            let form = url::form_urlencoded::parse(&body);
            let token = form.into_iter().find(|(k, _)| k == "logout_token");
            let _ = tx.send(token.map(|(_, v)| v.into_owned()).unwrap_or_default());
            let reply = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
            let _ = reader.get_mut().write_all(reply.as_bytes()).await;
        }
    });
    (uri, rx)
}

/// Signing out at one service (with an ID token hint) ends the session at the others: the
/// service with a back-channel endpoint receives a logout token signed by the provider,
/// naming the session and the citizen as it knows them, and the signed-out page loads the
/// front-channel URI with the issuer and session before going back to the service.
async fn services_hear_of_the_logout_by_both_channels(backend: Backend) {
    let s = server_with_client(backend).await;
    let (backchannel, mut heard) = backchannel_endpoint().await;
    s.cli(&[
        "client",
        "update",
        "--id",
        "portal",
        "--backchannel-logout-uri",
        &backchannel,
        "--frontchannel-logout-uri",
        "https://rp.example/frontchannel",
    ])
    .expect("client updated");
    let discovery = discovery(&s).await;
    for feature in [
        "backchannel_logout_supported",
        "backchannel_logout_session_supported",
        "frontchannel_logout_supported",
        "frontchannel_logout_session_supported",
    ] {
        assert_eq!(discovery[feature], true, "{feature}");
    }
    let b = Browser::new();
    let t = tokens(&s, &b).await;
    let id_token = t["id_token"].as_str().unwrap();
    let signed_in = jwt_payload(id_token);
    let sid = signed_in["sid"]
        .as_str()
        .expect("the ID token names its session");

    let res = b
        .http
        .get(s.url(&format!(
            "/logout?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fbye&state=s1"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the page that loads the front channel");
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.ends_with("; frame-src https://rp.example"), "{csp}");
    let page = res.text().await.unwrap();
    let issuer: String = url::form_urlencoded::byte_serialize(s.issuer.as_bytes()).collect();
    let frame = format!("src=\"https://rp.example/frontchannel?iss={issuer}&#38;sid={sid}\"");
    assert!(page.contains(&frame), "{frame} in {page}");
    assert!(
        page.contains(
            "<a href=\"https://rp.example/bye?state=s1\" id=\"logout-next\">Continue</a>"
        ),
        "{page}"
    );

    let token = tokio::time::timeout(std::time::Duration::from_secs(20), heard.recv())
        .await
        .expect("the logout token arrives within seconds")
        .expect("a token");
    assert_eq!(jwt_part(&token, 0)["typ"], "logout+jwt");
    let claims = verified_es256(&s, &token).await;
    assert_eq!(claims["iss"], s.issuer.as_str());
    assert_eq!(claims["aud"], "portal");
    assert_eq!(claims["sid"], sid);
    assert_eq!(claims["sub"], signed_in["sub"]);
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims.get("nonce").is_none());
    assert_eq!(
        introspect(&s, t["refresh_token"].as_str().unwrap()).await["active"],
        false
    );
}
