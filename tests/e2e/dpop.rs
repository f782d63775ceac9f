//! DPoP (RFC 9449) over HTTP: tokens bound to the client's key at the token endpoint (with
//! the server's nonce), usable at UserInfo only with a fresh proof of that key; refreshed
//! with a proof (a public client's only with its key; a confidential client's refresh binds
//! the tokens issued from then on to the key it proves); replayed proofs, proofs of another
//! key and bound tokens presented as `Bearer` are refused; a code bound with `dpop_jkt` is not burnt by a wrong
//! key; a client registered to require DPoP gets nothing without it.

use crate::*;
use josekit::jwk::KeyPair;
use josekit::jwk::alg::ec::EcKeyPair;
use serde_json::{Value, json};

/// A client's DPoP key.
pub(crate) struct Key(EcKeyPair);

impl Key {
    pub(crate) fn new() -> Key {
        Key(josekit::jws::ES256.generate_key_pair().unwrap())
    }

    /// A proof for `htm` `htu`, with extra claims (`nonce`, `ath`).
    pub(crate) fn proof(&self, htm: &str, htu: &str, extra: Value) -> String {
        let mut claims = json!({
            "jti": idp::crypto::random_id(),
            "htm": htm,
            "htu": htu,
            "iat": idp::now(),
        });
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let mut header = josekit::jws::JwsHeader::new();
        header.set_token_type("dpop+jwt");
        header.set_jwk(self.0.to_jwk_public_key());
        let signer = josekit::jws::ES256
            .signer_from_jwk(&self.0.to_jwk_private_key())
            .unwrap();
        josekit::jws::serialize_compact(claims.to_string().as_bytes(), &header, &signer).unwrap()
    }

    pub(crate) fn jkt(&self) -> String {
        let public = self.0.to_jwk_public_key();
        let mut canonical = serde_json::Map::new();
        for k in ["crv", "kty", "x", "y"] {
            canonical.insert(k.into(), public.parameter(k).unwrap().clone());
        }
        let digest = idp::crypto::sha256(Value::Object(canonical).to_string().as_bytes());
        idp::crypto::b64url(&digest)
    }
}

/// Who makes a token request: the confidential client `portal`, or a public client.
#[derive(Clone, Copy)]
enum Asking<'a> {
    Portal,
    Public(&'a str),
}

/// A token request of `portal` with a DPoP proof made by `key` (and the nonce, once the
/// server gave one): status, body, and the nonce the server named.
async fn token_with(
    s: &TestServer,
    key: &Key,
    nonce: Option<&str>,
    form: &[(&str, &str)],
) -> (u16, Value, Option<String>) {
    token_by(s, Asking::Portal, key, nonce, form).await
}

async fn token_by(
    s: &TestServer,
    asking: Asking<'_>,
    key: &Key,
    nonce: Option<&str>,
    form: &[(&str, &str)],
) -> (u16, Value, Option<String>) {
    let extra = nonce.map_or(json!({}), |n| json!({ "nonce": n }));
    let req = reqwest::Client::new()
        .post(s.url("/token"))
        .header("DPoP", key.proof("POST", &s.url("/token"), extra));
    let res = match asking {
        Asking::Portal => req.basic_auth("portal", Some(SECRET)).form(form),
        Asking::Public(id) => req.form(&[form, &[("client_id", id)]].concat()),
    }
    .send()
    .await
    .unwrap();
    let next = res
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_string());
    (res.status().as_u16(), res.json().await.unwrap(), next)
}

/// UserInfo with `Authorization: <scheme> <token>` and, if given, a DPoP proof.
async fn userinfo_with(
    s: &TestServer,
    scheme: &str,
    token: &str,
    proof: Option<String>,
) -> (u16, String) {
    let mut req = reqwest::Client::new()
        .get(s.url("/userinfo"))
        .header("authorization", format!("{scheme} {token}"));
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    let res = req.send().await.unwrap();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (res.status().as_u16(), challenge)
}

/// `form` with a proof of `wrong` is refused as `invalid_grant` (what it redeems is bound to
/// another key, and stays usable); with a proof of `right`, DPoP-bound tokens come back.
async fn only_the_bound_key(
    s: &TestServer,
    asking: Asking<'_>,
    wrong: &Key,
    right: &Key,
    form: &[(&str, &str)],
) -> Value {
    let (_, _, nonce) = token_by(s, asking, wrong, None, form).await;
    let nonce = nonce.expect("a DPoP-Nonce header");
    let (status, body, _) = token_by(s, asking, wrong, Some(&nonce), form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, t, _) = token_by(s, asking, right, Some(&nonce), form).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["token_type"], "DPoP");
    t
}

fn ath(token: &str) -> Value {
    json!({ "ath": idp::crypto::b64url(&idp::crypto::sha256(token.as_bytes())) })
}

/// The form that redeems `code` with its PKCE verifier.
fn redemption<'a>(code: &'a str, verifier: &'a str) -> [(&'static str, &'a str); 4] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ]
}

async fn code_for(s: &TestServer, b: &Browser, extra: &str) -> (String, String) {
    let (url, verifier) = authorize_url(s, extra);
    let back = b.login(&s.issuer, &url, "anna", PASSWORD).await;
    (query(&back).remove("code").expect("code"), verifier)
}

async fn tokens_are_bound_to_the_clients_key(backend: Backend) {
    let s = server_with_client(backend).await;
    let discovery = discovery(&s).await;
    assert!(
        discovery["dpop_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("ES256"))
    );
    let b = Browser::new();
    let key = Key::new();
    let (code, verifier) = code_for(&s, &b, "").await;
    let form = redemption(&code, &verifier);
    // The first proof has no nonce: the server names one, and the code is not used up.
    let (status, body, nonce) = token_with(&s, &key, None, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("use_dpop_nonce"))
    );
    let nonce = nonce.expect("a DPoP-Nonce header");
    let (status, t, _) = token_with(&s, &key, Some(&nonce), &form).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["token_type"], "DPoP");
    let access = t["access_token"].as_str().unwrap();
    let refresh = t["refresh_token"].as_str().unwrap();
    let seen = introspect(&s, access).await;
    assert_eq!(seen["token_type"], "DPoP");
    assert_eq!(seen["cnf"]["jkt"], key.jkt().as_str());

    // At UserInfo: only as DPoP, with a proof of the key for this token, once.
    let htu = s.url("/userinfo");
    let (status, challenge) = userinfo_with(&s, "Bearer", access, None).await;
    assert_eq!(status, 401, "a bound token is not a bearer token");
    assert!(challenge.contains("invalid_token"), "{challenge}");
    let proof = key.proof("GET", &htu, ath(access));
    assert_eq!(
        userinfo_with(&s, "DPoP", access, Some(proof.clone()))
            .await
            .0,
        200
    );
    let (status, challenge) = userinfo_with(&s, "DPoP", access, Some(proof)).await;
    assert_eq!(status, 401, "a proof is used once");
    assert!(
        challenge.starts_with("DPoP algs=") && challenge.contains("invalid_dpop_proof"),
        "{challenge}"
    );
    let thief = Key::new();
    let stolen = thief.proof("GET", &htu, ath(access));
    assert_eq!(
        userinfo_with(&s, "DPoP", access, Some(stolen)).await.0,
        401,
        "another key"
    );
    let for_another_token = key.proof("GET", &htu, ath("another token"));
    assert_eq!(
        userinfo_with(&s, "DPoP", access, Some(for_another_token))
            .await
            .0,
        401
    );
    assert_eq!(
        userinfo_with(&s, "DPoP", access, None).await.0,
        401,
        "no proof"
    );

    // The refresh token: not without a proof (and not burnt by that). The client is
    // confidential: its refresh token is constrained by its secret, not by a key (RFC 9449
    // 5), so a refresh may prove a new key, to which the grant's tokens are then bound.
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let (status, body) = post_token(&s, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let new_key = Key::new();
    let (status, t, _) = token_with(&s, &new_key, Some(&nonce), &form).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["token_type"], "DPoP");
    let renewed = t["access_token"].as_str().unwrap();
    assert_eq!(
        introspect(&s, renewed).await["cnf"]["jkt"],
        new_key.jkt().as_str()
    );
    let with_old = key.proof("GET", &htu, ath(renewed));
    assert_eq!(
        userinfo_with(&s, "DPoP", renewed, Some(with_old)).await.0,
        401
    );
    let with_new = new_key.proof("GET", &htu, ath(renewed));
    assert_eq!(
        userinfo_with(&s, "DPoP", renewed, Some(with_new)).await.0,
        200
    );
    // The access token issued before stays bound to the key it was issued for.
    assert_eq!(
        introspect(&s, access).await["cnf"]["jkt"],
        key.jkt().as_str()
    );
    let first_with_new = new_key.proof("GET", &htu, ath(access));
    assert_eq!(
        userinfo_with(&s, "DPoP", access, Some(first_with_new))
            .await
            .0,
        401
    );
    let first_with_its_own = key.proof("GET", &htu, ath(access));
    assert_eq!(
        userinfo_with(&s, "DPoP", access, Some(first_with_its_own))
            .await
            .0,
        200
    );

    // A replayed token request proof is refused.
    let replayed = key.proof("POST", &s.url("/token"), json!({ "nonce": nonce }));
    let send = || {
        reqwest::Client::new()
            .post(s.url("/token"))
            .basic_auth("portal", Some(SECRET))
            .header("DPoP", replayed.clone())
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ])
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 200);
    let again: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(again["error"], "invalid_dpop_proof", "{again}");
}

/// A code bound to a key at the authorization request (`dpop_jkt`) is redeemed only with
/// that key; a wrong key does not use it up.
async fn a_code_bound_with_dpop_jkt_needs_that_key(backend: Backend) {
    let s = server_with_client(backend).await;
    let b = Browser::new();
    let key = Key::new();
    let (code, verifier) = code_for(&s, &b, &format!("&dpop_jkt={}", key.jkt())).await;
    let form = redemption(&code, &verifier);
    let (status, body) = post_token(&s, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let other = Key::new();
    only_the_bound_key(&s, Asking::Portal, &other, &key, &form).await;
    // A malformed thumbprint is refused at the authorization request.
    let (url, _) = authorize_url(&s, "&dpop_jkt=not-a-thumbprint");
    let page = b.get(&url).await;
    let refused = page.location.map(|l| query(&l)).unwrap_or_default();
    assert_eq!(
        refused.get("error").map(String::as_str),
        Some("invalid_request")
    );
}

/// A public client's refresh token is bound to its DPoP key (RFC 9449 5): refused with
/// another key, and not burnt by it.
async fn a_public_clients_refresh_token_needs_its_key(backend: Backend) {
    let s = server_with_client(backend).await;
    s.add_client(&["--id", "spa", "--public", "--redirect-uri", REDIRECT]);
    let b = Browser::new();
    let (url, verifier) = authorize_url(&s, "");
    let url = url.replace("client_id=portal", "client_id=spa");
    let back = b.login(&s.issuer, &url, "anna", PASSWORD).await;
    let code = query(&back).remove("code").expect("code");
    let key = Key::new();
    let redeem = redemption(&code, &verifier);
    let (_, _, nonce) = token_by(&s, Asking::Public("spa"), &key, None, &redeem).await;
    let (status, t, _) = token_by(&s, Asking::Public("spa"), &key, nonce.as_deref(), &redeem).await;
    assert_eq!(status, 200, "{t}");
    let refresh = t["refresh_token"].as_str().expect("a refresh token");
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    only_the_bound_key(&s, Asking::Public("spa"), &Key::new(), &key, &form).await;
}

/// A client registered to require DPoP (RFC 9449 5.2) gets no token without a proof; its
/// code stays usable for the request that has one.
async fn a_client_that_requires_dpop_gets_nothing_without_a_proof(backend: Backend) {
    let s = server_with_client(backend).await;
    s.cli(&[
        "client",
        "update",
        "--id",
        "portal",
        "--dpop-bound-access-tokens",
        "true",
    ])
    .expect("client updated");
    let b = Browser::new();
    let (code, verifier) = code_for(&s, &b, "").await;
    let form = redemption(&code, &verifier);
    let (status, body) = post_token(&s, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    let key = Key::new();
    let (_, _, nonce) = token_with(&s, &key, None, &form).await;
    let (status, t, _) = token_with(&s, &key, nonce.as_deref(), &form).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["token_type"], "DPoP");
}

on_both_databases!(
    tokens_are_bound_to_the_clients_key,
    a_code_bound_with_dpop_jkt_needs_that_key,
    a_public_clients_refresh_token_needs_its_key,
    a_client_that_requires_dpop_gets_nothing_without_a_proof
);
