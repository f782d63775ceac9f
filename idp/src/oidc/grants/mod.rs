//! The token endpoint: client authentication, then one module per grant type.

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;

use super::client_auth;
use super::error::{ErrorCode, OidcError, OidcResult};
use super::params::Params;
use super::tokens::TokenResponse;
use super::{GrantType, Provider, TOKEN_PATH};
use crate::keys::KeySet;
use crate::store::Db;

/// What the token endpoint needs besides the request.
pub struct TokenContext<'a> {
    pub db: &'a Db,
    pub provider: &'a Provider,
    pub keys: &'a KeySet,
    /// The client's network address, for throttling failed client authentication.
    pub client_address: Option<&'a str>,
    pub now: i64,
}

/// Handles a token request. `authorization` is the raw `Authorization` header, if any.
pub fn token(
    ctx: &TokenContext,
    params: &Params,
    authorization: Option<&str>,
) -> OidcResult<TokenResponse> {
    let grant_type = params.require("grant_type")?;
    let presented = client_auth::presented(authorization, params)?;
    let token_endpoint = ctx.provider.endpoint(TOKEN_PATH);
    let audiences = [ctx.provider.issuer.as_str(), token_endpoint.as_str()];
    let client = client_auth::authenticate_throttled(
        ctx.db,
        &ctx.provider.client_secrets,
        &presented,
        &audiences,
        ctx.client_address,
        ctx.now,
    )?;
    let Some(grant) = GrantType::parse(grant_type) else {
        return Err(OidcError::new(
            ErrorCode::UnsupportedGrantType,
            "the grant type is not supported",
        ));
    };
    if !client.allows_grant(grant_type) {
        return Err(OidcError::new(
            ErrorCode::UnauthorizedClient,
            "the client may not use this grant type",
        ));
    }
    match grant {
        GrantType::AuthorizationCode => authorization_code::redeem(ctx, &client, params),
        GrantType::RefreshToken => refresh_token::refresh(ctx, &client, params),
        GrantType::ClientCredentials => client_credentials::grant(ctx, &client, params),
    }
}

/// Runs `f` in a transaction that commits even when `f` answers with a protocol error,
/// so that a revocation decided on the way (a replayed code) is kept.
fn commit_outcome<T>(
    db: &crate::store::Db,
    f: impl FnOnce(&mut crate::store::AnyConnection) -> Result<OidcResult<T>, crate::store::StoreError>,
) -> OidcResult<T> {
    db.tx(f)?
}

/// Records, in the issuing transaction, that tokens about a citizen went to a client
/// (the citizen sees which service received their details, and when).
fn audit_issued(
    ctx: &TokenContext,
    conn: &mut crate::store::AnyConnection,
    client: &crate::store::clients::Client,
    grant: &crate::store::tokens::Grant,
    via: &str,
    scope: &str,
) -> Result<(), crate::store::StoreError> {
    let Some(user_id) = grant.user_id.as_deref() else {
        return Ok(());
    };
    let entry = crate::audit::Entry {
        kind: crate::audit::Kind::TokensIssued,
        user_id: Some(user_id),
        client_id: Some(&client.id),
        detail: serde_json::json!({ "grant_type": via, "grant": grant.id, "scope": scope }),
    };
    let ip = ctx.client_address.and_then(|a| a.parse().ok());
    crate::audit::append_from(conn, entry, ip, ctx.now)?;
    Ok(())
}
