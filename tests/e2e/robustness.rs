//! Hostile and malformed input on every endpoint: a clear 4xx, never a server error.

use crate::*;
use std::sync::Arc;

async fn garbage_never_gets_a_server_error(backend: Backend) {
    let s = server_with_client(backend).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let pieces = [
        "client_id=portal",
        "client_id=%00",
        "redirect_uri=%ZZ",
        "scope=openid",
        "scope=%FF%FE",
        "response_type=code",
        "prompt=none",
        "max_age=99999999999999999999",
        "claims=%7B%22id_token%22%3A5%7D",
        "claims=%5B%5D",
        "code_challenge=short",
        "code_challenge_method=S256",
        "state=%E2%80%AE",
        "grant_type=authorization_code",
        "grant_type=refresh_token",
        "code=x",
        "token=",
        "=",
        "&&&",
        "id_token_hint=a.b.c",
        "client_assertion=a.b.c",
        "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer",
        "refresh_token=%00%00",
        "access_token=x",
        "ui_locales=%00",
        "login_hint=%3Cscript%3E",
    ];
    let paths = [
        "/authorize",
        "/token",
        "/introspect",
        "/revoke",
        "/userinfo",
        "/logout",
        "/logout/confirm",
        "/interaction/x",
        "/interaction/x/login",
        "/par",
        "/register",
        "/clients/x/logo",
        "/.well-known/webfinger",
    ];
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..300 {
        let n = (next() % 6) as usize;
        let q: Vec<&str> = (0..n)
            .map(|_| pieces[(next() % pieces.len() as u64) as usize])
            .collect();
        let q = q.join("&");
        let path = paths[i % paths.len()];
        let get = http
            .get(format!("{}?{q}", s.url(path)))
            .send()
            .await
            .unwrap();
        assert!(
            get.status().as_u16() < 500,
            "GET {path}?{q}: {}",
            get.status()
        );
        let mut post = http
            .post(s.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(q.clone());
        if next() % 2 == 0 {
            post = post.header("authorization", "Basic !!!notbase64");
        }
        let res = post.send().await.unwrap();
        assert!(
            res.status().as_u16() < 500,
            "POST {path} {q}: {}",
            res.status()
        );
    }
    // Bearer header oddities at UserInfo.
    for h in [
        "Bearer",
        "Bearer ",
        "Basic abc",
        "bearer x y",
        "Bearer \u{7f}",
    ] {
        let res = http
            .get(s.url("/userinfo"))
            .header("authorization", h)
            .send()
            .await;
        match res {
            Ok(res) => assert!(
                matches!(res.status().as_u16(), 400 | 401),
                "{h}: {}",
                res.status()
            ),
            // A header value the HTTP client itself refuses to send never reaches the
            // server; nothing to check then, but only for such a value.
            Err(e) => assert!(e.is_builder(), "{h}: {e}"),
        }
    }
    // Another method at a protocol endpoint: 405, naming the methods it takes.
    for (method, path, allow) in [
        (reqwest::Method::PUT, "/par", "POST"),
        (reqwest::Method::GET, "/token", "POST"),
        (reqwest::Method::DELETE, "/authorize", "GET, POST"),
    ] {
        let res = http.request(method, s.url(path)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 405, "{path}");
        assert_eq!(res.headers()["allow"], allow, "{path}");
    }
}

on_both_databases!(garbage_never_gets_a_server_error);

/// Runs `n` copies of `job` at once; their results in order.
async fn at_once<T, F>(n: usize, job: impl Fn(usize) -> F) -> Vec<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = T> + Send + 'static,
{
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(job(i))).collect();
    let mut out = Vec::with_capacity(n);
    for h in handles {
        out.push(h.await.expect("a client"));
    }
    out
}

/// Fifty clients at once on each endpoint, one endpoint after the other: complete sign-ins
/// (authorization, password, consent, code, token), refresh-token rotation, UserInfo,
/// introspection, discovery and JWKS. Every answer is a success: none is a server error,
/// and none has to be retried.
async fn fifty_clients_at_once_on_each_endpoint(backend: Backend) {
    const N: usize = 50;
    // Every client comes from 127.0.0.1: the per-address limit of sign-in attempts is
    // raised above the fifty sign-ins (it is tested on its own).
    let s = server_with_client_configured(backend, |f| f.attempts_per_minute = Some(1000)).await;
    let s = Arc::new(s);
    let tokens = at_once(N, |_| {
        let s = s.clone();
        async move { tokens(&s, &Browser::new()).await }
    })
    .await;
    let refreshed = at_once(N, |i| {
        let (s, refresh) = (
            s.clone(),
            tokens[i]["refresh_token"].as_str().unwrap().to_owned(),
        );
        async move {
            post_token(
                &s,
                &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            )
            .await
        }
    })
    .await;
    for (status, body) in &refreshed {
        assert_eq!(*status, 200, "{body}");
    }
    let access: Vec<String> = refreshed
        .iter()
        .map(|(_, b)| b["access_token"].as_str().unwrap().to_owned())
        .collect();
    let userinfo = at_once(N, |i| {
        let (s, token) = (s.clone(), access[i].clone());
        async move {
            let res = reqwest::Client::new()
                .get(s.url("/userinfo"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("userinfo");
            res.status().as_u16()
        }
    })
    .await;
    assert!(userinfo.iter().all(|s| *s == 200), "{userinfo:?}");
    let active = at_once(N, |i| {
        let (s, token) = (s.clone(), access[i].clone());
        async move { introspect(&s, &token).await["active"] == true }
    })
    .await;
    assert!(active.iter().all(|a| *a), "{active:?}");
    for path in ["/.well-known/openid-configuration", "/jwks"] {
        let statuses = at_once(N, |_| {
            let url = s.url(path);
            async move { reqwest::get(&url).await.expect(path).status().as_u16() }
        })
        .await;
        assert!(statuses.iter().all(|s| *s == 200), "{path}: {statuses:?}");
    }
}

on_both_databases!(fifty_clients_at_once_on_each_endpoint);
