//! Issuing tokens under a grant: access tokens in the client's format (opaque and stored
//! hashed, or JWTs that are not stored), opaque refresh tokens (stored hashed) and signed
//! ID tokens.

use super::Provider;
use super::claims::user_claims;
use super::error::OidcResult;
use crate::crypto;
use crate::keys::{Alg, KeySet};
use crate::store::clients::{AccessTokenFormat, Client, IdTokenClaims};
use crate::store::tokens::{self, AccessToken, Grant, RefreshToken};
use crate::store::users;
use crate::store::{AnyConnection, StoreResult};
use serde::Serialize;
use serde_json::{Map, Value};

/// The token endpoint's successful answer (RFC 6749 5.1, OIDC Core 3.1.3.3).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// An access token for `client` under `grant`, in the client's format: an opaque one is
/// stored (in the caller's transaction), a JWT only signed.
pub fn access_token(
    conn: &mut AnyConnection,
    keys: &KeySet,
    issuer: &str,
    client: &Client,
    grant: &Grant,
    scope: &str,
    now: i64,
) -> StoreResult<OidcResult<String>> {
    Ok(match client.access_token_format {
        AccessTokenFormat::Opaque => Ok(issue_access_token(
            conn,
            grant,
            scope,
            client.access_token_ttl,
            now,
        )?),
        AccessTokenFormat::Jwt => {
            super::access_jwt::issue(keys, issuer, client, grant, scope, now).map_err(Into::into)
        }
    })
}

pub fn issue_access_token(
    conn: &mut AnyConnection,
    grant: &Grant,
    scope: &str,
    ttl: i64,
    now: i64,
) -> StoreResult<String> {
    let token = crypto::random_token();
    tokens::insert_access_token(
        conn,
        &AccessToken {
            token_hash: crypto::secret_hash(&token),
            grant_id: grant.id.clone(),
            scope: scope.to_string(),
            revoked: false,
            created_at: now,
            expires_at: now + ttl,
        },
    )?;
    Ok(token)
}

pub fn issue_refresh_token(
    conn: &mut AnyConnection,
    grant: &Grant,
    scope: &str,
    parent_hash: Option<&str>,
    ttl: i64,
    now: i64,
) -> StoreResult<String> {
    let token = crypto::random_token();
    tokens::insert_refresh_token(
        conn,
        &RefreshToken {
            token_hash: crypto::secret_hash(&token),
            grant_id: grant.id.clone(),
            parent_hash: parent_hash.map(str::to_string),
            scope: scope.to_string(),
            rotated: false,
            created_at: now,
            expires_at: now + ttl,
        },
    )?;
    Ok(token)
}

/// How the person behind `grant` signed in: `auth_time`, `acr`, `amr` and the session's
/// `sid`, as ID tokens and JWT access tokens carry them.
pub fn authentication_claims(c: &mut Map<String, Value>, grant: &Grant) {
    if let Some(t) = grant.auth_time {
        c.insert("auth_time".into(), t.into());
    }
    if let Some(acr) = &grant.acr {
        c.insert("acr".into(), acr.clone().into());
    }
    c.insert("amr".into(), grant.amr_list().into());
    if let Some(sid) = &grant.sid {
        c.insert("sid".into(), sid.clone().into());
    }
}

pub struct IdTokenInput<'a> {
    pub client: &'a Client,
    pub grant: &'a Grant,
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
    pub access_token: &'a str,
}

/// Builds and signs the ID token for a user grant, with the client's algorithm.
pub fn id_token(
    conn: &mut AnyConnection,
    provider: &Provider,
    keys: &KeySet,
    input: IdTokenInput,
    now: i64,
) -> OidcResult<Option<String>> {
    let grant = input.grant;
    let Some(user_id) = grant.user_id.as_deref() else {
        return Ok(None);
    };
    let scopes: Vec<&str> = input.scope.split(' ').collect();
    if !scopes.contains(&"openid") {
        return Ok(None);
    }
    let Some(user) = users::find(conn, user_id)? else {
        return Ok(None);
    };
    // Only the granted scope releases claims (see `oidc::claims`); of those, the client's
    // ID tokens carry the ones it asked for there (`claims.id_token`), or all of them
    // when it is registered so (`acr` is asked for through the policy instead).
    let mut c: Map<String, Value> = user_claims(&user, &scopes);
    if input.client.id_token_claims == IdTokenClaims::Requested {
        let asked: Option<Value> = grant
            .claims
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok());
        let asked = super::authorize::requested_claims(asked.as_ref(), "id_token");
        c.retain(|name, _| asked.contains(name));
    }
    c.insert("iss".into(), provider.issuer.clone().into());
    c.insert("sub".into(), grant.subject().unwrap_or(&user.id).into());
    c.insert("aud".into(), input.client.id.clone().into());
    c.insert("azp".into(), input.client.id.clone().into());
    c.insert("iat".into(), now.into());
    c.insert("exp".into(), (now + provider.id_token_ttl).into());
    if let Some(n) = input.nonce {
        c.insert("nonce".into(), n.into());
    }
    authentication_claims(&mut c, grant);
    c.insert(
        "at_hash".into(),
        crypto::left_half_hash(input.access_token).into(),
    );
    let alg = Alg::parse(&input.client.id_token_alg).unwrap_or(Alg::Es256);
    let signed = keys.sign(alg, &c)?;
    super::encryption::id_token_for(input.client, signed).map(Some)
}
