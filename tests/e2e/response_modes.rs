//! The form_post response mode (OAuth 2.0 Form Post Response Mode): the code, or the error,
//! reaches the client as a form the browser posts, never in a URL.

use crate::*;

async fn form_post(backend: Backend) {
    let s = server_with_client(backend).await;
    let browser = Browser::new();
    // Signed in and consented once, the usual way.
    tokens(&s, &browser).await;

    let (url, verifier) = authorize_url(&s, "&response_mode=form_post");
    let page = browser.follow(&s.issuer, browser.get(&url).await).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.location.is_none(), "nothing in a URL");
    assert_eq!(page.form_action(), REDIRECT);
    assert!(page.body.contains("method=\"post\""));
    assert!(page.body.contains("/static/form-post.js"));
    assert_eq!(page.hidden("state"), "st-1");
    assert_eq!(page.hidden("iss"), s.issuer);
    let (status, t) = redeem(&s, &page.hidden("code"), &verifier).await;
    assert_eq!(status, 200, "{t}");
    let script = browser.get(&s.url("/static/form-post.js")).await;
    assert_eq!(script.status, 200);

    // Errors go the same way: prompt=none without a session.
    let stranger = Browser::new();
    let (url, _) = authorize_url(&s, "&response_mode=form_post&prompt=none");
    let page = stranger.follow(&s.issuer, stranger.get(&url).await).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.hidden("error"), "login_required");
    assert_eq!(page.hidden("state"), "st-1");
    // An unknown mode is refused, in the query (the one mode every client reads).
    let (url, _) = authorize_url(&s, "&response_mode=fragment");
    let page = stranger.follow(&s.issuer, stranger.get(&url).await).await;
    let q = query(&page.location.expect("back to the client"));
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"));
    // In Hungarian for a Hungarian browser.
    let (url, _) = authorize_url(&s, "&response_mode=form_post&prompt=none&ui_locales=hu");
    let page = stranger.follow(&s.issuer, stranger.get(&url).await).await;
    assert!(
        page.body.contains("Visszatérés a szolgáltatáshoz"),
        "{}",
        page.body
    );
}

on_both_databases!(form_post);
