//! The client credentials grant: a confidential client acting on its own behalf. The
//! access token has no user, and neither an ID token nor a refresh token is issued. With
//! JWT access tokens nothing is written.

use super::TokenContext;
use crate::crypto;
use crate::oidc::access_jwt;
use crate::oidc::authorize::STANDARD_SCOPES;
use crate::oidc::error::{ErrorCode, OidcError, OidcResult};
use crate::oidc::params::{Params, space_list};
use crate::oidc::tokens::{self, TokenResponse};
use crate::store::clients::{AccessTokenFormat, Client};
use crate::store::tokens::{self as rows, Grant};

pub fn grant(
    ctx: &TokenContext,
    client: &Client,
    params: &Params,
    holder: super::Holder,
) -> OidcResult<TokenResponse> {
    if client.is_public() {
        return Err(OidcError::new(
            ErrorCode::UnauthorizedClient,
            "public clients cannot use client_credentials",
        ));
    }
    let asked = space_list(params.get("scope"));
    // Scopes about a person make no sense without one.
    let machine_scopes: Vec<&String> = client
        .scopes
        .iter()
        .filter(|s| !STANDARD_SCOPES.contains(&s.as_str()))
        .collect();
    let scope: Vec<String> = if asked.is_empty() {
        machine_scopes.into_iter().cloned().collect()
    } else if asked.iter().all(|a| machine_scopes.contains(&a)) {
        asked
    } else {
        return Err(OidcError::new(
            ErrorCode::InvalidScope,
            "the client may not request this scope",
        ));
    };
    let scope = scope.join(" ");
    let grant = Grant {
        id: crypto::ordered_id(ctx.now),
        client_id: client.id.clone(),
        user_id: None,
        scope: scope.clone(),
        sid: None,
        acr: None,
        amr: "[]".into(),
        auth_time: None,
        claims: None,
        revoked: false,
        created_at: ctx.now,
        subject: None,
        jkt: holder.jkt.map(str::to_string),
        x5t: holder.x5t.map(str::to_string),
    };
    // A JWT needs no row: the grant is only what the token says.
    let access = match client.access_token_format {
        AccessTokenFormat::Jwt => access_jwt::issue(
            ctx.keys,
            &ctx.provider.issuer,
            client,
            &grant,
            &scope,
            ctx.now,
        )?,
        AccessTokenFormat::Opaque => ctx.db.tx(|conn| {
            rows::insert_grant(conn, &grant)?;
            tokens::issue_access_token(conn, &grant, &scope, client.access_token_ttl, ctx.now)
        })?,
    };
    Ok(TokenResponse {
        token_type: super::token_type(&grant),
        access_token: access,
        expires_in: client.access_token_ttl,
        scope,
        id_token: None,
        refresh_token: None,
    })
}
