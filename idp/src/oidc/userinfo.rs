//! Bearer access tokens and the UserInfo endpoint (OIDC Core 5.3).

use super::claims::user_claims;
use super::error::{ErrorCode, OidcError, OidcResult};
use crate::crypto;
use crate::store::tokens::{self, AccessToken, Grant};
use crate::store::users;
use crate::store::{AnyConnection, StoreResult};
use serde_json::{Map, Value};

/// The access token and its grant when the token is usable at `now`.
pub fn active_access_token(
    conn: &mut AnyConnection,
    token: &str,
    now: i64,
) -> StoreResult<Option<(AccessToken, Grant)>> {
    Ok(
        tokens::find_access_token(conn, &crypto::secret_hash(token))?
            .filter(|(t, g)| !t.revoked && !g.revoked && t.expires_at > now),
    )
}

pub fn userinfo(conn: &mut AnyConnection, token: &str, now: i64) -> OidcResult<Map<String, Value>> {
    let invalid = || {
        OidcError::new(
            ErrorCode::InvalidToken,
            "the access token is invalid or expired",
        )
    };
    let (at, grant) = active_access_token(conn, token, now)?.ok_or_else(invalid)?;
    let scopes: Vec<&str> = at.scope.split(' ').collect();
    if !scopes.contains(&"openid") {
        return Err(OidcError::new(
            ErrorCode::InsufficientScope,
            "the access token was not issued with the openid scope",
        ));
    }
    let user_id = grant.user_id.as_deref().ok_or_else(invalid)?;
    let user = users::find(conn, user_id)?.ok_or_else(invalid)?;
    // `claims.userinfo` members are not consulted: only the granted scope releases claims
    // (see `oidc::claims`).
    let mut out = user_claims(&user, &scopes);
    out.insert("sub".into(), user.id.into());
    Ok(out)
}
