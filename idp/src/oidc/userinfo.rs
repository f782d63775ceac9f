//! The UserInfo endpoint (OIDC Core 5.3): the claims in JSON, or, for a client registered
//! with `userinfo_signed_response_alg`, in a JWT signed for it (5.3.2).

use super::bearer::Checker;
use super::claims::user_claims;
use super::dpop::{self, Presentation};
use super::error::{ErrorCode, OidcError, OidcResult};
use crate::keys::Alg;
use crate::store::{clients, users};
use serde_json::{Map, Value};

/// UserInfo as the client wants it.
#[derive(Debug)]
pub enum Answer {
    Json(Map<String, Value>),
    /// `application/jwt`.
    Signed(String),
}

pub fn userinfo(bearer: &Checker, presented: &Presentation, now: i64) -> OidcResult<Answer> {
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
    let client = bearer.db.run(|c| clients::find(c, &at.client_id))?;
    let Some(alg) = client
        .as_ref()
        .and_then(|c| c.userinfo_signed_response_alg.as_deref())
        .and_then(Alg::parse)
    else {
        return Ok(Answer::Json(out));
    };
    out.insert("iss".into(), bearer.issuer.into());
    out.insert("aud".into(), at.client_id.clone().into());
    out.insert("iat".into(), now.into());
    Ok(Answer::Signed(bearer.keys.sign(alg, &out)?))
}
