//! The UserInfo endpoint (OIDC Core 5.3): the claims in JSON, or, for a client registered
//! with `userinfo_signed_response_alg`, in a JWT signed for it, and for one registered with
//! `userinfo_encrypted_response_alg`, encrypted to its key (5.3.2).

use super::bearer::Checker;
use super::claims::user_claims;
use super::client_keys::ClientKeys;
use super::dpop::{self, Presentation};
use super::encryption;
use super::error::{ErrorCode, OidcError, OidcResult};
use super::mtls::{self, Certificate};
use crate::keys::Alg;
use crate::store::{clients, users};
use serde_json::{Map, Value};

/// UserInfo as the client wants it.
#[derive(Debug)]
pub enum Answer {
    Json(Map<String, Value>),
    /// Signed, encrypted, or both: `application/jwt`.
    Jwt(String),
}

/// `client_keys`: for encrypting to a client that publishes its keys at a URI;
/// `certificate`: the TLS client certificate of the connection, if it presented one.
pub fn userinfo(
    bearer: &Checker,
    client_keys: &ClientKeys,
    presented: &Presentation,
    certificate: Option<&Certificate>,
    now: i64,
) -> OidcResult<Answer> {
    let invalid = || {
        OidcError::new(
            ErrorCode::InvalidToken,
            "the access token is invalid or expired",
        )
    };
    let at = bearer.check(presented.token, now)?.ok_or_else(invalid)?;
    mtls::confirm(at.x5t.as_deref(), certificate)?;
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
    let Some(client) = bearer.db.run(|c| clients::find(c, &at.client_id))? else {
        return Ok(Answer::Json(out));
    };
    if let Some(proof) = presented.proof
        && super::client_auth::forbidden_alg(&client, proof)
    {
        return Err(OidcError::new(
            ErrorCode::InvalidDpopProof,
            "FAPI 2.0: DPoP proofs are signed with PS256, ES256 or EdDSA",
        ));
    }
    let signing = client
        .userinfo_signed_response_alg
        .as_deref()
        .and_then(Alg::parse);
    if signing.is_none() && client.userinfo_encrypted_response_alg.is_none() {
        return Ok(Answer::Json(out));
    }
    let body = match signing {
        Some(alg) => {
            out.insert("iss".into(), bearer.issuer.into());
            out.insert("aud".into(), at.client_id.clone().into());
            out.insert("iat".into(), now.into());
            bearer.keys.sign(alg, &out)?
        }
        None => Value::Object(out).to_string(),
    };
    let client = client_keys.filled(client, now);
    match encryption::userinfo_for(&client, body.as_bytes(), signing.is_some()) {
        Some(encrypted) => encrypted.map(Answer::Jwt),
        None => Ok(Answer::Jwt(body)),
    }
}
