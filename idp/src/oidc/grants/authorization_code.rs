//! The authorization code grant: codes are stored hashed, live `code_ttl` seconds, are
//! bound to the client, redirect URI and PKCE challenge, and can be redeemed once. A
//! second redemption revokes everything the first one issued. A code presented by
//! another client, with another redirect URI or without the right verifier is refused
//! without being used up, so that whoever intercepts a code cannot burn it for its client.

use super::{TokenContext, commit_outcome};
use crate::crypto;
use crate::oidc::authorize::AuthorizeRequest;
use crate::oidc::error::{OidcError, OidcResult};
use crate::oidc::params::Params;
use crate::oidc::tokens::{self, TokenResponse, Unsigned};
use crate::store::clients::Client;
use crate::store::sessions::BrowserSession;
use crate::store::tokens::{self as rows, AuthorizationCode, CodeBinding, CodeRedemption, Grant};
use crate::store::{AnyConnection, StoreError, StoreResult};

/// Creates the grant and its code for an authorized request; returns the code.
pub fn issue_code(
    conn: &mut AnyConnection,
    provider: &crate::oidc::Provider,
    req: &AuthorizeRequest,
    session: &BrowserSession,
    now: i64,
) -> StoreResult<String> {
    // The `sub` the client will see, fixed for the life of the grant.
    let subject = crate::store::clients::find(conn, &req.client_id)?
        .map(|client| crate::oidc::subject::of(&provider.pairwise, &client, &session.user_id));
    let grant = Grant {
        id: crypto::ordered_id(now),
        client_id: req.client_id.clone(),
        user_id: Some(session.user_id.clone()),
        scope: req.scope_string(),
        sid: Some(session.sid.clone()),
        acr: Some(session.acr.clone()),
        amr: session.amr.clone(),
        auth_time: Some(session.auth_time),
        claims: req.claims.as_ref().map(|c| c.to_string()),
        revoked: false,
        created_at: now,
        subject,
        jkt: req.dpop_jkt.clone(),
        // Bound, if the client asks for it, when the code is redeemed.
        x5t: None,
    };
    rows::insert_grant(conn, &grant)?;
    let code = crypto::random_token();
    rows::insert_code(
        conn,
        &AuthorizationCode {
            code_hash: crypto::secret_hash(&code),
            grant_id: grant.id,
            redirect_uri: req.redirect_uri.clone(),
            code_challenge: req.code_challenge.clone(),
            nonce: req.nonce.clone(),
            consumed: false,
            expires_at: now + provider.code_ttl,
        },
    )?;
    Ok(code)
}

pub fn redeem(
    ctx: &TokenContext,
    client: &Client,
    params: &Params,
    holder: super::Holder,
) -> OidcResult<TokenResponse> {
    let code = params.require("code")?;
    let redirect_uri = params.require("redirect_uri")?;
    let verifier = params.get("code_verifier");
    if let Some(v) = verifier {
        let ok = (43..=128).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        if !ok {
            return Err(OidcError::invalid_request(
                "code_verifier must be 43 to 128 unreserved characters",
            ));
        }
    }
    let code_hash = crypto::secret_hash(code);
    let challenge = verifier.map(crypto::pkce_s256);
    let binding = CodeBinding {
        client_id: &client.id,
        redirect_uri,
        challenge: challenge.as_deref(),
        jkt: holder.jkt,
        now: ctx.now,
    };
    let unsigned = commit_outcome(ctx.db, |conn| {
        let (code, grant) = match rows::consume_code(conn, &code_hash, &binding)? {
            CodeRedemption::Unknown => {
                return Ok(Err(OidcError::invalid_grant(
                    "the authorization code is invalid",
                )));
            }
            // Any presentation of a used code is a leak (RFC 6749 4.1.2), whoever sends it.
            CodeRedemption::Replayed(grant_id) => {
                tracing::warn!(grant = %grant_id, "authorization code replayed; grant revoked");
                rows::revoke_grant(conn, &grant_id, ctx.now)?;
                let detail = serde_json::json!({ "credential": "code", "grant": grant_id });
                let entry = crate::audit::Entry {
                    kind: crate::audit::Kind::TokenReplayed,
                    user_id: None,
                    client_id: Some(&client.id),
                    detail,
                };
                crate::audit::append(conn, entry, ctx.now)?;
                return Ok(Err(OidcError::invalid_grant(
                    "the authorization code was already used",
                )));
            }
            CodeRedemption::Refused(code, grant) => {
                let why = check(&code, &grant, client, redirect_uri, verifier, ctx.now)
                    .err()
                    .or_else(|| super::unbound(&grant, holder, super::Rebinding::Refused));
                return Ok(Err(why.unwrap_or_else(|| {
                    OidcError::invalid_grant("the authorization code is invalid")
                })));
            }
            CodeRedemption::Redeemed(code, grant) => (code, grant),
        };
        // Checked again in full (the update's condition covers all but the grant's
        // revocation); the constant-time comparison of the verifier is here.
        if let Err(e) = check(&code, &grant, client, redirect_uri, verifier, ctx.now) {
            return Ok(Err(e));
        }
        let mut grant = grant;
        if let Err(e) = super::bind(conn, &mut grant, holder, super::Rebinding::Refused)? {
            return Ok(Err(e));
        }
        issue(ctx, conn, client, grant, code.nonce.as_deref()).map(Ok)
    })?;
    super::signed(ctx, unsigned, rows::Spent::Code(&code_hash))
}

fn check(
    code: &AuthorizationCode,
    grant: &Grant,
    client: &Client,
    redirect_uri: &str,
    verifier: Option<&str>,
    now: i64,
) -> OidcResult<()> {
    let invalid = OidcError::invalid_grant;
    if grant.client_id != client.id {
        return Err(invalid(
            "the authorization code was issued to another client",
        ));
    }
    if code.expires_at <= now {
        return Err(invalid("the authorization code has expired"));
    }
    if grant.revoked {
        return Err(invalid("the grant was revoked"));
    }
    if code.redirect_uri != redirect_uri {
        return Err(invalid(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&code.code_challenge, verifier) {
        (Some(challenge), Some(v))
            if crypto::constant_time_eq(challenge, &crypto::pkce_s256(v)) =>
        {
            Ok(())
        }
        (Some(_), Some(_)) => Err(invalid("code_verifier does not match the code_challenge")),
        (Some(_), None) => Err(invalid("code_verifier is required")),
        (None, Some(_)) => Err(invalid(
            "code_verifier given but no code_challenge was sent",
        )),
        (None, None) => Ok(()),
    }
}

fn issue<'a>(
    ctx: &TokenContext,
    conn: &mut AnyConnection,
    client: &'a Client,
    grant: Grant,
    nonce: Option<&str>,
) -> Result<Unsigned<'a>, StoreError> {
    super::audit_issued(
        ctx,
        conn,
        client,
        &grant,
        "authorization_code",
        &grant.scope,
    )?;
    let access = tokens::stored_access_token(conn, client, &grant, &grant.scope, ctx.now)?;
    let refresh = if client.allows_grant("refresh_token") {
        Some(tokens::issue_refresh_token(
            conn,
            &grant,
            &grant.scope,
            None,
            client.refresh_token_ttl,
            ctx.now,
        )?)
    } else {
        None
    };
    let id_token = tokens::id_token_claims(
        conn,
        ctx.provider,
        client,
        &grant,
        &grant.scope,
        nonce,
        ctx.now,
    )?;
    Ok(Unsigned {
        client,
        scope: grant.scope.clone(),
        grant,
        access,
        refresh,
        id_token,
    })
}
