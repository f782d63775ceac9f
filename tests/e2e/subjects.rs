//! Subject identifiers (OIDC Core 8): new clients see pairwise subjects, one per sector;
//! clients of one sector see the same; a public client sees the account id. The ID token,
//! UserInfo, introspection and a JWT access token all say the same `sub`, and an
//! `id_token_hint` with a pairwise `sub` still finds its citizen.

use crate::*;
use serde_json::Value;

/// Signs in at `client` (secret `SECRET`) and redeems the code; the token response.
async fn sign_in(s: &TestServer, browser: &Browser, client: &str, redirect: &str) -> Value {
    let verifier = idp::crypto::random_token();
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let url = s.url(&format!(
        "/authorize?client_id={client}&response_type=code&scope=openid%20profile&redirect_uri={}&state=s&nonce=n&code_challenge={}&code_challenge_method=S256",
        enc(redirect),
        idp::crypto::pkce_s256(&verifier)
    ));
    let back = browser.login(&s.issuer, &url, "anna", PASSWORD).await;
    let code = query(&back).remove("code").expect("code");
    let res = reqwest::Client::new()
        .post(s.url("/token"))
        .basic_auth(client, Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(res.status(), 200);
    res.json().await.expect("json")
}

async fn pairwise_and_public_subjects(backend: Backend) {
    let s = server_with_client(backend).await;
    let add = |id: &str, redirect: &str, extra: &[&str]| {
        let mut args = vec!["--id", id, "--secret", SECRET, "--redirect-uri", redirect];
        args.extend_from_slice(extra);
        s.add_client(&args);
    };
    // `portal` (https://rp.example/cb) is pairwise by default, in the sector rp.example.
    add(
        "sibling",
        "https://app.rp.example/cb",
        &["--sector-identifier", "rp.example"],
    );
    add(
        "other",
        "https://other.example/cb",
        &["--access-token-format", "jwt"],
    );
    add(
        "legacy",
        "https://legacy.example/cb",
        &["--subject-type", "public"],
    );
    // Redirect URIs on two hosts and no sector: refused, with the reason.
    let refused = s.cli(&[
        "client",
        "add",
        "--id",
        "spread",
        "--secret",
        SECRET,
        "--redirect-uri",
        "https://a.example/cb",
        "--redirect-uri",
        "https://b.example/cb",
    ]);
    assert!(refused.unwrap_err().contains("several hosts"));
    let account = s
        .state
        .db
        .run(|c| idp::store::users::find_by_username(c, "anna"))
        .unwrap()
        .unwrap()
        .id;

    let browser = Browser::new();
    let mut subs = std::collections::HashMap::new();
    for (client, redirect) in [
        ("portal", REDIRECT),
        ("sibling", "https://app.rp.example/cb"),
        ("other", "https://other.example/cb"),
        ("legacy", "https://legacy.example/cb"),
    ] {
        let t = sign_in(&s, &browser, client, redirect).await;
        let sub = jwt_payload(t["id_token"].as_str().unwrap())["sub"].clone();
        let access = t["access_token"].as_str().unwrap();
        assert_eq!(
            userinfo(&s, access).await.1["sub"],
            sub,
            "{client}: UserInfo"
        );
        let intro: Value = reqwest::Client::new()
            .post(s.url("/introspect"))
            .basic_auth(client, Some(SECRET))
            .form(&[("token", access)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(intro["sub"], sub, "{client}: introspection");
        if client == "other" {
            assert_eq!(jwt_payload(access)["sub"], sub, "the JWT access token");
        }
        // The hint of this client's ID token names the signed-in citizen: no login asked.
        let hint = t["id_token"].as_str().unwrap();
        let url = s.url(&format!(
            "/authorize?client_id={client}&response_type=code&scope=openid&redirect_uri={}&prompt=none&id_token_hint={hint}&code_challenge={}&code_challenge_method=S256",
            url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>(),
            idp::crypto::pkce_s256(&idp::crypto::random_token())
        ));
        let back = browser.follow(&s.issuer, browser.get(&url).await).await;
        let q = query(&back.location.expect("back to the client"));
        assert!(q.contains_key("code"), "{client}: {q:?}");
        subs.insert(client, sub.as_str().unwrap().to_string());
    }
    assert_eq!(subs["portal"], subs["sibling"], "one sector, one sub");
    assert_ne!(subs["portal"], subs["other"], "another sector, another sub");
    assert_eq!(subs["legacy"], account, "public: the account id");
    assert_ne!(subs["portal"], account);
    assert_ne!(subs["other"], account);
    let d = discovery(&s).await;
    assert_eq!(
        d["subject_types_supported"],
        serde_json::json!(["public", "pairwise"])
    );
}

on_both_databases!(pairwise_and_public_subjects);
