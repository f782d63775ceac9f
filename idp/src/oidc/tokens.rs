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

pub fn issue_access_token(
    conn: &mut AnyConnection,
    grant: &Grant,
    scope: &str,
    ttl: i64,
    now: i64,
) -> StoreResult<String> {
    let token = crypto::new_token();
    tokens::insert_access_token(
        conn,
        &AccessToken {
            token_hash: crypto::token_key(&token),
            grant_id: grant.id.clone(),
            scope: scope.to_string(),
            revoked: false,
            created_at: now,
            expires_at: now + ttl,
            x5t: grant.x5t.clone(),
            jkt: grant.jkt.clone(),
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
    let token = crypto::new_token();
    tokens::insert_refresh_token(
        conn,
        &RefreshToken {
            token_hash: crypto::token_key(&token),
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

/// Tokens decided in the issuing transaction (opaque ones stored there), of which the
/// signed ones are signed once it has committed (`sign`): no signature is computed while
/// the database's write lock is held, and a transaction that rolls back wasted none.
pub struct Unsigned<'a> {
    pub client: &'a Client,
    pub grant: Grant,
    pub scope: String,
    /// An opaque access token, stored; `None` for a JWT access token, signed in `sign`.
    pub access: Option<String>,
    pub refresh: Option<String>,
    /// The ID token's claims, without `at_hash` (which hashes the access token).
    pub id_token: Option<Map<String, Value>>,
}

/// An opaque access token stored in the caller's transaction for a client that takes
/// them; `None` for a client that takes JWTs (signed by `Unsigned::sign`).
pub fn stored_access_token(
    conn: &mut AnyConnection,
    client: &Client,
    grant: &Grant,
    scope: &str,
    now: i64,
) -> StoreResult<Option<String>> {
    match client.access_token_format {
        AccessTokenFormat::Opaque => Ok(Some(issue_access_token(
            conn,
            grant,
            scope,
            client.access_token_ttl,
            now,
        )?)),
        AccessTokenFormat::Jwt => Ok(None),
    }
}

impl Unsigned<'_> {
    /// Signs what needs a signature: a JWT access token, then the ID token with its
    /// `at_hash`, in the client's algorithm (and encrypted when the client asked so).
    pub fn sign(self, provider: &Provider, keys: &KeySet, now: i64) -> OidcResult<TokenResponse> {
        let client = self.client;
        let access = match self.access {
            Some(a) => a,
            None => super::access_jwt::issue(
                keys,
                &provider.issuer,
                client,
                &self.grant,
                &self.scope,
                now,
            )?,
        };
        let id_token = match self.id_token {
            Some(mut c) => {
                c.insert("at_hash".into(), crypto::left_half_hash(&access).into());
                let alg = Alg::parse(&client.id_token_alg).unwrap_or(Alg::Es256);
                let signed = keys.sign(alg, &c)?;
                Some(super::encryption::id_token_for(client, signed)?)
            }
            None => None,
        };
        Ok(TokenResponse {
            access_token: access,
            token_type: super::grants::token_type(&self.grant),
            expires_in: client.access_token_ttl,
            scope: self.scope,
            id_token,
            refresh_token: self.refresh,
        })
    }
}

/// The claims of the ID token for a person's grant (`None` without `openid` in `scope`
/// or for a client's own grant), read in the issuing transaction; `Unsigned::sign` adds
/// `at_hash` and signs them.
pub fn id_token_claims(
    conn: &mut AnyConnection,
    provider: &Provider,
    client: &Client,
    grant: &Grant,
    scope: &str,
    nonce: Option<&str>,
    now: i64,
) -> StoreResult<Option<Map<String, Value>>> {
    let Some(user_id) = grant.user_id.as_deref() else {
        return Ok(None);
    };
    let scopes: Vec<&str> = scope.split(' ').collect();
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
    if client.id_token_claims == IdTokenClaims::Requested {
        let asked: Option<Value> = grant
            .claims
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok());
        let asked = super::authorize::requested_claims(asked.as_ref(), "id_token");
        c.retain(|name, _| asked.contains(name));
    }
    c.insert("iss".into(), provider.issuer.clone().into());
    c.insert("sub".into(), grant.subject().unwrap_or(&user.id).into());
    c.insert("aud".into(), client.id.clone().into());
    c.insert("azp".into(), client.id.clone().into());
    c.insert("iat".into(), now.into());
    c.insert("exp".into(), (now + provider.id_token_ttl).into());
    if let Some(n) = nonce {
        c.insert("nonce".into(), n.into());
    }
    authentication_claims(&mut c, grant);
    Ok(Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// New tokens are stored under their ordering digits and hash, and found by them; a
    /// token issued before the digits, stored under its hash alone, is found as before.
    #[test]
    fn tokens_are_found_whether_issued_with_ordering_digits_or_before() {
        use crate::admin::clients::{Credentials, NewClient, create};
        let (_dir, svc) = crate::service::for_tests();
        let now = crate::now();
        let new = NewClient::new(
            "rp",
            Credentials::Secret("a-secret-long-enough-for-anyone".into()),
            vec!["https://rp.example/cb".into()],
        );
        let actor = crate::admin::Actor::Cli { os_user: None };
        create(&crate::admin::Context::from(&svc), &actor, new, now).unwrap();
        let grant = Grant {
            id: crypto::ordered_id(now),
            client_id: "rp".into(),
            user_id: None,
            scope: "api".into(),
            created_at: now,
            ..tokens::testing::grant(None, None)
        };
        let (old_access, old_refresh) = (crypto::random_token(), crypto::random_token());
        let (access, refresh) = svc
            .db
            .tx(|c| {
                tokens::insert_grant(c, &grant)?;
                tokens::insert_access_token(
                    c,
                    &AccessToken {
                        token_hash: crypto::secret_hash(&old_access),
                        grant_id: grant.id.clone(),
                        scope: "api".into(),
                        revoked: false,
                        created_at: now,
                        expires_at: now + 60,
                        x5t: None,
                        jkt: None,
                    },
                )?;
                tokens::insert_refresh_token(
                    c,
                    &RefreshToken {
                        token_hash: crypto::secret_hash(&old_refresh),
                        grant_id: grant.id.clone(),
                        parent_hash: None,
                        scope: "api".into(),
                        rotated: false,
                        created_at: now,
                        expires_at: now + 60,
                    },
                )?;
                Ok((
                    issue_access_token(c, &grant, "api", 60, now)?,
                    issue_refresh_token(c, &grant, "api", None, 60, now)?,
                ))
            })
            .unwrap();
        svc.db
            .run(|c| {
                for token in [&access, &old_access] {
                    let found = crate::oidc::bearer::opaque(c, token, now)?;
                    assert_eq!(found.map(|b| b.client_id).as_deref(), Some("rp"));
                }
                for token in [&refresh, &old_refresh] {
                    let (found, _) =
                        tokens::find_refresh_token(c, &crypto::token_key(token))?.expect("found");
                    assert!(!found.rotated);
                }
                let (stored, _) =
                    tokens::find_access_token(c, &crypto::token_key(&access))?.expect("found");
                assert!(stored.token_hash.starts_with(&access[..14]));
                // The hash alone does not find a new token.
                assert!(tokens::find_access_token(c, &crypto::secret_hash(&access))?.is_none());
                Ok(())
            })
            .unwrap();
    }
}
