//! The refresh token grant: every use rotates the token; presenting a token that was
//! already rotated revokes the whole grant (the token family). A FAPI 2.0 client's token
//! is not rotated (FAPI 2.0 Security Profile 5.3.2.1: a client that missed the answer
//! must be able to retry); like every confidential client's, it is constrained by the
//! client's authentication.
//!
//! DPoP (RFC 9449 5): a public client's refresh token is used only with the key its grant
//! is bound to; a confidential client may prove a new key, to which the grant's tokens
//! are then bound.

use super::{TokenContext, commit_outcome};
use crate::crypto;
use crate::oidc::error::{ErrorCode, OidcError, OidcResult};
use crate::oidc::params::{Params, space_list};
use crate::oidc::tokens::{self, TokenResponse, Unsigned};
use crate::store::clients::Client;
use crate::store::tokens::{self as rows, Redemption};

pub fn refresh(
    ctx: &TokenContext,
    client: &Client,
    params: &Params,
    holder: super::Holder,
) -> OidcResult<TokenResponse> {
    let token = params.require("refresh_token")?;
    let hash = crypto::token_key(token);
    let invalid = || OidcError::invalid_grant("the refresh token is invalid");
    let gone = || OidcError::invalid_grant("the refresh token has expired or was revoked");

    // Checked before rotating, so that another client presenting a stolen token cannot
    // burn it for its owner.
    let (stored, grant) = ctx
        .db
        .run(|c| rows::find_refresh_token(c, &hash))?
        .ok_or_else(invalid)?;
    if grant.client_id != client.id {
        return Err(invalid());
    }
    if stored.expires_at <= ctx.now || grant.revoked {
        return Err(gone());
    }
    let rebinding = if client.is_public() {
        super::Rebinding::Refused
    } else {
        super::Rebinding::Allowed
    };
    // A refresh token bound to a DPoP key is refused without a proof (and a public
    // client's with another key or certificate), before it is rotated.
    if let Some(e) = super::unbound(&grant, holder, rebinding) {
        return Err(e);
    }
    let rotates = !client.is_fapi2();
    let scope = match params.get("scope") {
        None => stored.scope.clone(),
        Some(s) => {
            let granted: Vec<&str> = stored.scope.split(' ').collect();
            let asked = space_list(Some(s));
            if asked.iter().any(|a| !granted.contains(&a.as_str())) {
                return Err(OidcError::new(
                    ErrorCode::InvalidScope,
                    "the requested scope exceeds the original grant",
                ));
            }
            asked.join(" ")
        }
    };

    let unsigned = commit_outcome(ctx.db, |conn| {
        let redemption = if rotates {
            rows::rotate_refresh_token(conn, &hash)?
        } else {
            // Read again in the transaction: revoked or expired since the check above?
            match rows::find_refresh_token(conn, &hash)? {
                Some((t, g)) if !t.rotated && !g.revoked && t.expires_at > ctx.now => {
                    Redemption::Fresh(t, Box::new(g))
                }
                _ => Redemption::Unknown,
            }
        };
        let mut grant = match redemption {
            // Revoked (consent withdrawn, signed out) since the check above: nothing is
            // issued on it.
            Redemption::Fresh(_, grant) if grant.revoked => return Ok(Err(gone())),
            Redemption::Fresh(_, grant) => *grant,
            Redemption::Replayed(grant_id) => {
                tracing::warn!(grant = %grant_id, "refresh token reused; grant revoked");
                rows::revoke_grant(conn, &grant_id, ctx.now)?;
                let detail =
                    serde_json::json!({ "credential": "refresh_token", "grant": grant_id });
                let entry = crate::audit::Entry {
                    kind: crate::audit::Kind::TokenReplayed,
                    user_id: None,
                    client_id: Some(&client.id),
                    detail,
                };
                crate::audit::append(conn, entry, ctx.now)?;
                return Ok(Err(OidcError::invalid_grant(
                    "the refresh token was already used",
                )));
            }
            Redemption::Unknown => return Ok(Err(invalid())),
        };
        if let Err(e) = super::bind(conn, &mut grant, holder, rebinding)? {
            return Ok(Err(e));
        }
        super::audit_issued(ctx, conn, client, &grant, "refresh_token", &scope)?;
        let access = tokens::stored_access_token(conn, client, &grant, &scope, ctx.now)?;
        // The new refresh token keeps the original scope so that a narrower access token
        // now does not narrow later refreshes.
        let refresh = if rotates {
            Some(tokens::issue_refresh_token(
                conn,
                &grant,
                &stored.scope,
                Some(&hash),
                client.refresh_token_ttl,
                ctx.now,
            )?)
        } else {
            None
        };
        let id_token =
            tokens::id_token_claims(conn, ctx.provider, client, &grant, &scope, None, ctx.now)?;
        Ok(Ok(Unsigned {
            client,
            grant,
            scope: scope.clone(),
            access,
            refresh,
            id_token,
        }))
    })?;
    let spent = match rotates {
        true => rows::Spent::RefreshToken(&hash),
        false => rows::Spent::Nothing,
    };
    super::signed(ctx, unsigned, spent)
}
