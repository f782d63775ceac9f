//! Token revocation (RFC 7009). Revoking a refresh token revokes its whole grant, and
//! with it every access token issued under it; revoking an access token revokes just it
//! (a JWT access token through a denial, `oidc::access_jwt`). A token issued to another
//! client is left alone and answered exactly like an unknown one (RFC 7009 2.2), so that
//! the endpoint tells a caller nothing about other clients' tokens.

use super::access_jwt;
use super::bearer::Checker;
use super::error::OidcResult;
use super::params::Params;
use crate::crypto;
use crate::store::clients::Client;
use crate::store::denials::Denied;
use crate::store::tokens;

pub fn revoke(bearer: &Checker, client: &Client, params: &Params, now: i64) -> OidcResult<()> {
    let token = params.require("token")?;
    let ignored =
        || tracing::warn!(client = %client.id, "revocation of another client's token ignored");
    if access_jwt::looks_like_jwt(token) {
        // An expired or already revoked JWT needs nothing more.
        if let Some(v) = bearer.jwt(token, now) {
            if v.client_id != client.id {
                ignored();
                return Ok(());
            }
            bearer.db.tx(|c| access_jwt::deny(c, &v, now))?;
            bearer.denials.note(Denied::Token(&v.jti), v.exp);
        }
        return Ok(());
    }
    let hash = crypto::token_key(token);
    let refresh_first = params.get("token_type_hint") != Some("access_token");
    let revoked_grant = bearer.db.tx(|conn| {
        for refresh in [refresh_first, !refresh_first] {
            if refresh {
                if let Some((_, grant)) = tokens::find_refresh_token(conn, &hash)? {
                    if grant.client_id == client.id {
                        tokens::revoke_grant(conn, &grant.id, now)?;
                        return Ok(Some(grant.id));
                    }
                    ignored();
                    return Ok(None);
                }
            } else if let Some((_, grant)) = tokens::find_access_token(conn, &hash)? {
                if grant.client_id == client.id {
                    tokens::revoke_access_token(conn, &hash)?;
                } else {
                    ignored();
                }
                return Ok(None);
            }
        }
        // Unknown or expired tokens: nothing to do, and success (RFC 7009 2.2).
        Ok(None)
    })?;
    if let Some(g) = revoked_grant {
        bearer.denials.note(
            Denied::Grant(&g),
            crate::store::denials::outliving_tokens(now),
        );
    }
    Ok(())
}
