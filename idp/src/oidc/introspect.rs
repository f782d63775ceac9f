//! Token introspection (RFC 7662) for resource servers, which authenticate as
//! confidential clients. A client registered as a resource server may introspect any
//! token; any other client only the tokens issued to it. For a token the caller may not
//! see, the answer is `{"active": false}`, the same as for an unknown one (RFC 7662 2.2),
//! so that a client cannot learn about another client's users. A JWT access token is
//! answered without a database read (`oidc::access_jwt`).

use super::Provider;
use super::access_jwt;
use super::bearer::{self, Bearer, Checker};
use super::error::{OidcError, OidcResult};
use super::params::Params;
use crate::crypto;
use crate::store::clients::Client;
use crate::store::tokens;
use serde_json::{Map, Value, json};

pub fn introspect(
    bearer: &Checker,
    provider: &Provider,
    client: &Client,
    params: &Params,
    now: i64,
) -> OidcResult<Value> {
    if client.is_public() {
        return Err(OidcError::invalid_client(
            "public clients cannot use introspection",
        ));
    }
    let token = params.require("token")?;
    let may_see = |issued_to: &str| client.resource_server || issued_to == client.id;
    if access_jwt::looks_like_jwt(token) {
        return Ok(match bearer.jwt(token, now) {
            Some(v) if may_see(&v.client_id) => describe(provider, &Bearer::from_jwt(&v), None),
            _ => json!({ "active": false }),
        });
    }
    let found = bearer.db.run(|conn| {
        if let Some(b) = bearer::opaque(conn, token, now)? {
            return Ok(Some((b, None)));
        }
        let refresh = tokens::find_refresh_token(conn, &crypto::token_key(token))?
            .filter(|(t, g)| !t.rotated && !g.revoked && t.expires_at > now);
        let Some((rt, grant)) = refresh else {
            return Ok(None);
        };
        // Only a public client's refresh token is bound to its key or certificate (RFC
        // 9449 5, RFC 8705 4); a confidential client's is bound by its authentication.
        let public =
            crate::store::clients::find(conn, &grant.client_id)?.is_some_and(|c| c.is_public());
        let described = Bearer::from_grant(grant, rt.scope, rt.created_at, rt.expires_at);
        let described = Bearer {
            x5t: described.x5t.filter(|_| public),
            jkt: described.jkt.filter(|_| public),
            ..described
        };
        Ok(Some((described, Some("refresh_token"))))
    })?;
    Ok(match found {
        Some((b, kind)) if may_see(&b.client_id) => describe(provider, &b, kind),
        _ => json!({ "active": false }),
    })
}

/// The answer for an active token; `token_type` is an access token's own (`Bearer`, or
/// `DPoP` with the key's thumbprint in `cnf`, RFC 9449 6.2; a certificate's thumbprint
/// there too, RFC 8705 3.2) unless given.
fn describe(provider: &Provider, b: &Bearer, token_type: Option<&str>) -> Value {
    let token_type = token_type.unwrap_or(if b.jkt.is_some() { "DPoP" } else { "Bearer" });
    let mut m = Map::new();
    m.insert("active".into(), true.into());
    m.insert("scope".into(), b.scope.clone().into());
    m.insert("client_id".into(), b.client_id.clone().into());
    m.insert(
        "sub".into(),
        b.subject
            .clone()
            .unwrap_or_else(|| b.client_id.clone())
            .into(),
    );
    m.insert("aud".into(), b.client_id.clone().into());
    m.insert("iss".into(), provider.issuer.clone().into());
    m.insert("token_type".into(), token_type.into());
    m.insert("iat".into(), b.iat.into());
    m.insert("exp".into(), b.exp.into());
    if let Some(acr) = &b.acr {
        m.insert("acr".into(), acr.clone().into());
    }
    if let Some(t) = b.auth_time {
        m.insert("auth_time".into(), t.into());
    }
    if b.subject.is_some() {
        m.insert("amr".into(), b.amr.clone().into());
    }
    if let Some(sid) = &b.sid {
        m.insert("sid".into(), sid.clone().into());
    }
    if let Some(cnf) = super::bearer::confirmation(b.jkt.as_deref(), b.x5t.as_deref()) {
        m.insert("cnf".into(), cnf);
    }
    Value::Object(m)
}
