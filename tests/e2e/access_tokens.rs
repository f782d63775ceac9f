//! JWT access tokens (RFC 9068) for clients that choose them: what they hold, that the
//! provider's own resources and introspection accept them without a stored row, that
//! they are usable only by their client, and that revoking one (or its grant) works.

use crate::*;
use base64::Engine;
use serde_json::Value;

const API_SECRET: &str = "an-api-client-secret-of-good-length";

async fn form(
    s: &TestServer,
    path: &str,
    who: (&str, &str),
    form: &[(&str, &str)],
) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(s.url(path))
        .basic_auth(who.0, Some(who.1))
        .form(form)
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn rows(s: &TestServer, table: &str) -> i64 {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    s.state
        .db
        .run(|c| {
            Ok(
                diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                    .get_result::<N>(c)?
                    .n,
            )
        })
        .expect("count")
}

async fn jwt_access_tokens(backend: Backend) {
    let s = server_with_client(backend).await;
    s.cli(&[
        "client",
        "update",
        "--id",
        "portal",
        "--access-token-format",
        "jwt",
    ])
    .expect("client update");
    let [flag, config] = s.api_scopes_config(&["tax.read"]);
    s.add_client(&[
        &flag,
        &config,
        "--id",
        "api",
        "--secret",
        API_SECRET,
        "--redirect-uri",
        REDIRECT,
        "--grant",
        "client_credentials",
        "--scope",
        "tax.read",
        // Scopes about a person: never in a token without one.
        "--scope",
        "phone",
        "--scope",
        "address",
        "--access-token-format",
        "jwt",
    ]);
    let api = ("api", API_SECRET);
    let portal = ("portal", SECRET);

    // client_credentials: a signed at+jwt, and nothing written.
    let (grants_before, tokens_before) = (rows(&s, "grants"), rows(&s, "access_tokens"));
    let (status, body) = form(&s, "/token", api, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        (rows(&s, "grants"), rows(&s, "access_tokens")),
        (grants_before, tokens_before)
    );
    let header = jwt_part(&token, 0);
    assert_eq!(header["typ"], "at+jwt");
    let claims = verified_es256(&s, &token).await;
    assert_eq!(claims["iss"], s.issuer.as_str());
    assert_eq!(claims["client_id"], "api");
    assert_eq!(claims["sub"], "api");
    assert_eq!(claims["aud"], "api");
    assert_eq!(claims["scope"], "tax.read");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));

    // Introspection: its client sees it; another client learns nothing.
    let (_, mine) = form(&s, "/introspect", api, &[("token", &token)]).await;
    assert_eq!(mine["active"], true, "{mine}");
    assert_eq!(mine["client_id"], "api");
    assert_eq!(mine["scope"], "tax.read");
    let (_, theirs) = form(&s, "/introspect", portal, &[("token", &token)]).await;
    assert_eq!(theirs, serde_json::json!({"active": false}));
    // Another client cannot revoke it either.
    let (status, _) = form(&s, "/revoke", portal, &[("token", &token)]).await;
    assert_eq!(status, 200);
    let (_, still) = form(&s, "/introspect", api, &[("token", &token)]).await;
    assert_eq!(still["active"], true);
    // A forged one (the payload changed, the signature kept) and a truncated one.
    let mut forged: Vec<&str> = token.split('.').collect();
    let other_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(claims.to_string().replace("tax.read", "tax.write"));
    forged[1] = &other_payload;
    let (_, f) = form(&s, "/introspect", api, &[("token", &forged.join("."))]).await;
    assert_eq!(f["active"], false);
    let (_, t) = form(
        &s,
        "/introspect",
        api,
        &[("token", &token[..token.len() - 3])],
    )
    .await;
    assert_eq!(t["active"], false);
    // Revoked by its client: inactive at once.
    let (status, _) = form(&s, "/revoke", api, &[("token", &token)]).await;
    assert_eq!(status, 200);
    let (_, gone) = form(&s, "/introspect", api, &[("token", &token)]).await;
    assert_eq!(gone["active"], false);

    // A person's JWT access token from the code flow: accepted at UserInfo, carries the
    // sign-in's acr and amr; the ID token, signed by the same key, is not an access token.
    let browser = Browser::new();
    let t = tokens(&s, &browser).await;
    let access = t["access_token"].as_str().unwrap();
    let id_token = t["id_token"].as_str().unwrap();
    let claims = jwt_part(access, 1);
    assert_eq!(jwt_part(access, 0)["typ"], "at+jwt");
    assert_eq!(claims["client_id"], "portal");
    assert!(
        claims["acr"].is_string() && claims["amr"].is_array(),
        "{claims}"
    );
    assert_eq!(claims["sub"], jwt_part(id_token, 1)["sub"]);
    assert_eq!(userinfo(&s, access).await.0, 200);
    assert_eq!(userinfo(&s, id_token).await.0, 401);
    let (_, intro) = form(&s, "/introspect", portal, &[("token", access)]).await;
    assert_eq!(intro["active"], true);
    assert_eq!(intro["acr"], claims["acr"]);
    // Revoking the refresh token revokes the grant, and with it the JWT.
    let refresh = t["refresh_token"].as_str().unwrap();
    let (status, _) = form(&s, "/revoke", portal, &[("token", refresh)]).await;
    assert_eq!(status, 200);
    assert_eq!(userinfo(&s, access).await.0, 401);
    let (_, intro) = form(&s, "/introspect", portal, &[("token", access)]).await;
    assert_eq!(intro["active"], false);

    // The same grant revoked by eight requests at once: each is answered 200, and the
    // grant's JWT is denied (the denial is written once, whoever comes first).
    let t = tokens(&s, &browser).await;
    let access = t["access_token"].as_str().unwrap().to_string();
    let refresh = t["refresh_token"].as_str().unwrap().to_string();
    let revocations: Vec<_> = (0..8)
        .map(|_| {
            let (url, refresh) = (s.url("/revoke"), refresh.clone());
            tokio::spawn(async move {
                reqwest::Client::new()
                    .post(url)
                    .basic_auth("portal", Some(SECRET))
                    .form(&[("token", refresh.as_str())])
                    .send()
                    .await
                    .expect("revoke")
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for r in revocations {
        assert_eq!(r.await.unwrap(), 200);
    }
    assert_eq!(userinfo(&s, &access).await.0, 401);
}

on_both_databases!(jwt_access_tokens);
