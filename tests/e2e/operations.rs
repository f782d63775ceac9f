//! What operators watch: Prometheus metrics (requests, factor checks by outcome, lockouts)
//! for the addresses allowed to scrape them, and readiness that checks the database and
//! that the signing keys can sign.

use crate::*;

async fn metrics_count_requests_and_factor_checks(backend: Backend) {
    let s = server_with_client(backend).await;
    let ready = reqwest::get(s.url("/health/ready")).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["status"],
        "ready"
    );
    // A wrong password, three times: refused twice, then locked.
    let b = Browser::new();
    for _ in 0..3 {
        let (u, _) = authorize_url(&s, "");
        let page = b.follow(&s.issuer, b.get(&u).await).await;
        let action = format!("{}{}", s.issuer, page.form_action());
        let csrf = page.hidden("csrf");
        b.post(
            &action,
            &[("csrf", &csrf), ("username", "anna"), ("password", "wrong")],
        )
        .await;
    }
    let text = reqwest::get(s.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |line: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(line))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{line} in\n{text}"))
    };
    assert_eq!(
        value(r#"idp_factor_checks_total{factor="password",outcome="refused"}"#),
        2.0
    );
    assert_eq!(
        value(r#"idp_factor_checks_total{factor="password",outcome="locked"}"#),
        1.0
    );
    assert_eq!(value(r#"idp_lockouts_total{factor="password"}"#), 1.0);
    assert!(
        value(r#"idp_http_requests_total{method="GET",route="/authorize",status="303"}"#) >= 3.0
    );
    assert!(text.contains("idp_http_request_duration_seconds_bucket"));
    assert!(!text.contains("anna"), "no user in the labels");
}

on_both_databases!(metrics_count_requests_and_factor_checks);
