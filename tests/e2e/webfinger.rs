//! Issuer discovery by WebFinger (RFC 7033, OpenID Connect Discovery 1.0 2).

use crate::*;
use serde_json::Value;

async fn webfinger_leads_to_the_issuer(backend: Backend) {
    let s = server_with_client(backend).await;
    let host = url::Url::parse(&s.issuer)
        .unwrap()
        .host_str()
        .unwrap()
        .to_string();
    let get = |query: String| reqwest::get(s.url(&format!("/.well-known/webfinger?{query}")));
    let rel = "http%3A%2F%2Fopenid.net%2Fspecs%2Fconnect%2F1.0%2Fissuer";
    let res = get(format!("resource=acct%3Aanna%40{host}&rel={rel}"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/jrd+json");
    let jrd: Value = res.json().await.unwrap();
    assert_eq!(jrd["links"][0]["href"], s.issuer.as_str());
    // An account that does not exist gets the same answer.
    let nobody: Value = get(format!("resource=acct%3Anobody%40{host}&rel={rel}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(nobody["links"], jrd["links"]);
    assert_eq!(
        get("resource=acct%3Aanna%40other.example".into())
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(get("rel=x".into()).await.unwrap().status(), 400);
}

on_both_databases!(webfinger_leads_to_the_issuer);
