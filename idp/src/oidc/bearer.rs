//! Bearer access tokens presented to the provider (UserInfo, introspection, the Admin
//! API): an opaque reference is looked up in the database, a JWT (RFC 9068,
//! `oidc::access_jwt`) is checked by its signature, expiry and the deny list without a
//! database read. Both answer the same `Bearer`, so that every caller decides alike.

use super::access_jwt::{self, DenyList, Verifications, Verified};
use crate::crypto;
use crate::keys::KeySet;
use crate::store::tokens::{self, Grant};
use crate::store::{AnyConnection, Db, StoreResult};
use serde_json::Value;
use std::sync::Arc;

/// A usable access token: who it was issued to, for whom, with what.
#[derive(Debug, Clone, PartialEq)]
pub struct Bearer {
    pub client_id: String,
    /// The person's account, when the token says it (an opaque token's grant); a JWT names
    /// only its grant (`Checker::user_id`).
    pub user_id: Option<String>,
    /// The person's `sub` as the client sees it; none for a client acting on its own.
    pub subject: Option<String>,
    pub grant_id: Option<String>,
    pub scope: String,
    pub acr: Option<String>,
    pub amr: Vec<String>,
    pub auth_time: Option<i64>,
    pub sid: Option<String>,
    pub iat: i64,
    pub exp: i64,
    /// The thumbprint of the DPoP key the token is bound to (RFC 9449): whoever presents
    /// it must prove that key.
    pub jkt: Option<String>,
    /// The thumbprint of the TLS client certificate the token is bound to (RFC 8705 3):
    /// whoever presents it must present that certificate.
    pub x5t: Option<String>,
}

/// The `cnf` claim of a token bound to a DPoP key (`jkt`, RFC 9449 6) or a TLS client
/// certificate (`x5t#S256`, RFC 8705 3.1); none for a token bound to neither.
pub fn confirmation(jkt: Option<&str>, x5t: Option<&str>) -> Option<Value> {
    let mut cnf = serde_json::Map::new();
    if let Some(jkt) = jkt {
        cnf.insert("jkt".into(), jkt.into());
    }
    if let Some(x5t) = x5t {
        cnf.insert(X5T.into(), x5t.into());
    }
    (!cnf.is_empty()).then_some(Value::Object(cnf))
}

const X5T: &str = "x5t#S256";

impl Bearer {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }

    /// Whether the token is usable only with a proof of a key or certificate.
    pub fn is_sender_constrained(&self) -> bool {
        self.jkt.is_some() || self.x5t.is_some()
    }

    /// A token stored under `grant` with these scope and times.
    pub fn from_grant(grant: Grant, scope: String, iat: i64, exp: i64) -> Bearer {
        Bearer {
            amr: grant.amr_list(),
            subject: grant.subject().map(str::to_string),
            grant_id: Some(grant.id),
            client_id: grant.client_id,
            user_id: grant.user_id,
            scope,
            acr: grant.acr,
            auth_time: grant.auth_time,
            sid: grant.sid,
            jkt: grant.jkt,
            x5t: grant.x5t,
            iat,
            exp,
        }
    }

    pub fn from_jwt(v: &Verified) -> Bearer {
        let c = &v.claims;
        let text = |name: &str| c.get(name).and_then(Value::as_str).map(str::to_string);
        Bearer {
            user_id: None,
            // Only a person's token names a grant; a client's own has its id as `sub`.
            subject: v.grant_id.as_ref().and(text("sub")),
            grant_id: v.grant_id.clone(),
            scope: text("scope").unwrap_or_default(),
            acr: text("acr"),
            amr: c
                .get("amr")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            auth_time: c.get("auth_time").and_then(Value::as_i64),
            sid: text("sid"),
            jkt: confirmed(c, "jkt"),
            x5t: confirmed(c, X5T),
            iat: c.get("iat").and_then(Value::as_i64).unwrap_or(v.exp),
            exp: v.exp,
            client_id: v.client_id.clone(),
        }
    }
}

/// A member of a JWT's `cnf` claim.
fn confirmed(claims: &serde_json::Map<String, Value>, member: &str) -> Option<String> {
    claims
        .get("cnf")
        .and_then(|cnf| cnf.get(member))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Checks bearer tokens of both formats.
pub struct Checker<'a> {
    pub db: &'a Db,
    pub keys: Arc<KeySet>,
    pub denials: &'a DenyList,
    pub verified: &'a Verifications,
    pub issuer: &'a str,
}

impl Checker<'_> {
    /// The token when it is usable at `now`; none when it is unknown, expired or revoked.
    pub fn check(&self, token: &str, now: i64) -> StoreResult<Option<Bearer>> {
        if access_jwt::looks_like_jwt(token) {
            return Ok(self.jwt(token, now).map(|v| Bearer::from_jwt(&v)));
        }
        self.db.run(|c| opaque(c, token, now))
    }

    /// The account behind a person's token: an opaque token's grant says it; a JWT's
    /// grant is read (a revoked grant has no one behind it).
    pub fn user_id(&self, bearer: &Bearer) -> StoreResult<Option<String>> {
        if bearer.user_id.is_some() {
            return Ok(bearer.user_id.clone());
        }
        let Some(grant_id) = &bearer.grant_id else {
            return Ok(None);
        };
        Ok(self
            .db
            .run(|c| tokens::find_grant(c, grant_id))?
            .filter(|g| !g.revoked)
            .and_then(|g| g.user_id))
    }

    /// A JWT access token of ours that is usable at `now`.
    pub fn jwt(&self, token: &str, now: i64) -> Option<Arc<Verified>> {
        self.verified
            .verify(&self.keys, self.issuer, token)
            .filter(|v| self.denials.admits(v, now))
    }
}

/// An opaque access token that is usable at `now`.
pub fn opaque(conn: &mut AnyConnection, token: &str, now: i64) -> StoreResult<Option<Bearer>> {
    Ok(tokens::find_access_token(conn, &crypto::token_key(token))?
        .filter(|(t, g)| !t.revoked && !g.revoked && t.expires_at > now)
        .map(|(at, g)| Bearer {
            // The key and certificate the token was bound to when issued, whatever the
            // grant's later tokens are bound to; a token that names none (written by
            // an instance of an earlier version, during an upgrade) takes the grant's,
            // so that it is never less bound than it was.
            x5t: at.x5t.or_else(|| g.x5t.clone()),
            jkt: at.jkt.or_else(|| g.jkt.clone()),
            ..Bearer::from_grant(g, at.scope, at.created_at, at.expires_at)
        }))
}
