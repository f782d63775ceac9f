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
    signing_out_at_the_provider_leads_on
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
