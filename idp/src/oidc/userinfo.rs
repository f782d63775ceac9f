//! The UserInfo endpoint (OIDC Core 5.3).

use super::bearer::Checker;
use super::claims::user_claims;
use super::dpop::{self, Presentation};
use super::error::{ErrorCode, OidcError, OidcResult};
use crate::store::users;
use serde_json::{Map, Value};

pub fn userinfo(
    bearer: &Checker,
    presented: &Presentation,
    now: i64,
) -> OidcResult<Map<String, Value>> {
    let invalid = || {
        OidcError::new(
            ErrorCode::InvalidToken,
            "the access token is invalid or expired",
        )
    };
    let at = bearer.check(presented.token, now)?.ok_or_else(invalid)?;
    dpop::confirm(bearer.db, at.jkt.as_deref(), presented, now)?;
    if !at.has_scope("openid") {
        return Err(OidcError::new(
            ErrorCode::InsufficientScope,
            "the access token was not issued with the openid scope",
        ));
    }
    let user_id = bearer.user_id(&at)?.ok_or_else(invalid)?;
    let user = bearer
        .db
        .run(|c| users::find(c, &user_id))?
        .ok_or_else(invalid)?;
    let scopes: Vec<&str> = at.scope.split(' ').collect();
    // `claims.userinfo` members are not consulted: only the granted scope releases claims
    // (see `oidc::claims`).
    let mut out = user_claims(&user, &scopes);
    out.insert("sub".into(), at.subject.unwrap_or(user.id).into());
    Ok(out)
}
