//! Hostile and malformed input on every endpoint: a clear 4xx, never a server error.

use crate::*;

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
        if let Ok(res) = res {
            assert!(
                matches!(res.status().as_u16(), 400 | 401),
                "{h}: {}",
                res.status()
            );
        }
    }
}

on_both_databases!(garbage_never_gets_a_server_error);
