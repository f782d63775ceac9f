//! The token endpoint: client authentication, then one module per grant type.

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;

use super::client_auth;
use super::dpop;
use super::error::{ErrorCode, OidcError, OidcResult};
use super::mtls::Certificate;
use super::params::Params;
use super::tokens::{TokenResponse, Unsigned};
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
    /// The request's DPoP proof (RFC 9449), if it has one.
    pub dpop_proof: Option<&'a str>,
    /// The TLS client certificate of the connection (RFC 8705), if it presented one.
    pub certificate: Option<&'a Certificate>,
    /// Whether the request came to the mutual-TLS alias of the endpoint (`[mtls]`).
    pub alias: bool,
    pub now: i64,
}

/// What a token request proved it holds, for its tokens to be bound to: a DPoP key (RFC
/// 9449), and the TLS client certificate when the client's tokens are bound to it (RFC
/// 8705). Thumbprints both.
#[derive(Debug, Clone, Copy, Default)]
pub struct Holder<'a> {
    pub jkt: Option<&'a str>,
    pub x5t: Option<&'a str>,
}

/// `token` for the endpoint, which waits for the disk without holding a thread: its
/// transactions return once their own part of the batch is done (`store::deferring`), and
/// the answer may leave only once the `Durability` returned with it is met.
pub fn token_deferred(
    ctx: &TokenContext,
    params: &Params,
    authorization: Option<&str>,
) -> (OidcResult<TokenResponse>, crate::store::Durability) {
    crate::store::deferring(|| token(ctx, params, authorization))
}

/// Handles a token request. `authorization` is the raw `Authorization` header, if any.
pub fn token(
    ctx: &TokenContext,
    params: &Params,
    authorization: Option<&str>,
) -> OidcResult<TokenResponse> {
    let grant_type = params.require("grant_type")?;
    let presented = client_auth::presented(authorization, params)?;
    // The URL the request was sent to (a DPoP proof names it); an assertion may name the
    // issuer or either of the endpoint's URLs.
    let token_endpoint = ctx.provider.endpoint_at(TOKEN_PATH, ctx.alias);
    let audiences = [
        ctx.provider.issuer.as_str(),
        &ctx.provider.endpoint(TOKEN_PATH),
        &ctx.provider.endpoint_at(TOKEN_PATH, true),
    ];
    let client = client_auth::authenticate_throttled(
        ctx.db,
        ctx.provider,
        &presented,
        ctx.certificate,
        &audiences,
        ctx.client_address,
        ctx.now,
    )?;
    // Keys published at a URI, for encrypted ID tokens.
    let client = ctx.provider.client_keys.filled(client, ctx.now);
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
    let proved = match ctx.dpop_proof {
        None if client.dpop_bound_access_tokens => {
            return Err(OidcError::new(
                ErrorCode::InvalidDpopProof,
                "this client's token requests must carry a DPoP proof",
            ));
        }
        None => None,
        Some(proof) if client_auth::forbidden_alg(&client, proof) => {
            return Err(OidcError::new(
                ErrorCode::InvalidDpopProof,
                "FAPI 2.0: DPoP proofs are signed with PS256, ES256 or EdDSA",
            ));
        }
        Some(proof) => Some(dpop::proved_key(
            ctx.db,
            &ctx.provider.dpop_nonces,
            proof,
            &token_endpoint,
            ctx.now,
        )?),
    };
    let x5t = match ctx.certificate {
        _ if !client.tls_client_certificate_bound_access_tokens => None,
        Some(c) => Some(c.thumbprint()),
        None => {
            return Err(OidcError::invalid_request(
                "this client's tokens are bound to its TLS client certificate: present one",
            ));
        }
    };
    let holder = Holder {
        jkt: proved.as_deref(),
        x5t: x5t.as_deref(),
    };
    match grant {
        GrantType::AuthorizationCode => authorization_code::redeem(ctx, &client, params, holder),
        GrantType::RefreshToken => refresh_token::refresh(ctx, &client, params, holder),
        GrantType::ClientCredentials => client_credentials::grant(ctx, &client, params, holder),
    }
}

/// How a grant already bound to a DPoP key or a certificate takes another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rebinding {
    /// Refused: a code bound with `dpop_jkt`, or a public client's refresh token, is used
    /// only with its key or certificate (RFC 9449 5, 10; RFC 8705 4).
    Refused,
    /// The grant's tokens are bound to the new key or certificate from now on: a
    /// confidential client's refresh token is constrained by the client's authentication,
    /// not by a key (RFC 9449 5, RFC 8705 4), so the client may prove a new one when it
    /// refreshes.
    Allowed,
}

/// In the issuing transaction: the DPoP key and certificate this request's tokens are
/// bound to. A grant bound already needs a proof (with its key unless `rebinding` allows
/// another); a grant not bound yet is bound to what was proved now, for all its tokens
/// from now on.
fn bind(
    conn: &mut crate::store::AnyConnection,
    grant: &mut crate::store::tokens::Grant,
    holder: Holder,
    rebinding: Rebinding,
) -> Result<OidcResult<()>, crate::store::StoreError> {
    if let Some(e) = unbound(grant, holder, rebinding) {
        return Ok(Err(e));
    }
    if let Some(key) = holder.jkt
        && grant.jkt.as_deref() != Some(key)
    {
        crate::store::tokens::bind_grant(conn, &grant.id, key)?;
        grant.jkt = Some(key.to_string());
    }
    // A confidential client's binding is what its client registration says now.
    if grant.x5t.as_deref() != holder.x5t
        && (rebinding == Rebinding::Allowed || grant.x5t.is_none())
    {
        crate::store::tokens::bind_grant_certificate(conn, &grant.id, holder.x5t)?;
        grant.x5t = holder.x5t.map(str::to_string);
    }
    Ok(Ok(()))
}

/// Why a request that proved `holder` may not use a grant bound to a DPoP key or a
/// certificate.
fn unbound(
    grant: &crate::store::tokens::Grant,
    holder: Holder,
    rebinding: Rebinding,
) -> Option<OidcError> {
    if rebinding == Rebinding::Refused
        && let Some(bound) = grant.x5t.as_deref()
        && holder
            .x5t
            .is_none_or(|t| !crate::crypto::constant_time_eq(bound, t))
    {
        return Some(OidcError::invalid_grant(
            "the grant is bound to another TLS client certificate",
        ));
    }
    match (grant.jkt.as_deref(), holder.jkt) {
        (Some(_), Some(_)) if rebinding == Rebinding::Allowed => None,
        (Some(bound), Some(key)) if crate::crypto::constant_time_eq(bound, key) => None,
        (Some(_), Some(_)) => Some(OidcError::invalid_grant(
            "the grant is bound to another DPoP key than the proof's",
        )),
        (Some(_), None) => Some(OidcError::invalid_grant(
            "the grant is bound to a DPoP key: send a DPoP proof made with it",
        )),
        (None, _) => None,
    }
}

/// The token type of a grant's access tokens (RFC 9449 5).
pub(crate) fn token_type(grant: &crate::store::tokens::Grant) -> &'static str {
    if grant.jkt.is_some() {
        "DPoP"
    } else {
        "Bearer"
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

/// Signs what a committed transaction issued. Signing can fail after the commit: the
/// client then gets an error and no token. When the failure passes (a security module
/// that does not answer now: `503 temporarily_unavailable`), a second transaction
/// withdraws the issue, so that the client's retry is not taken for a replay, which would
/// revoke the grant and sign the citizen out of the service. What the request `spent` is
/// usable again, the tokens made for it are deleted, and the audit log says so. A lasting
/// failure (no key for the client's algorithm, a client key that cannot encrypt) withdraws
/// nothing: a retry could not succeed, and would only be counted as the replay it is.
/// A retry sent before the withdrawal is still taken for a replay; the retry must prove
/// the DPoP key or certificate the first attempt bound the grant to.
fn signed(
    ctx: &TokenContext,
    unsigned: Unsigned,
    spent: crate::store::tokens::Spent,
) -> OidcResult<TokenResponse> {
    let (access, refresh) = (unsigned.access.clone(), unsigned.refresh.clone());
    let (grant, client_id) = (unsigned.grant.clone(), unsigned.client.id.clone());
    let error = match unsigned.sign(ctx.provider, ctx.keys, ctx.now) {
        Ok(response) => return Ok(response),
        Err(e) if e.code != ErrorCode::TemporarilyUnavailable => return Err(e),
        Err(e) => e,
    };
    let access_hash = access.as_deref().map(crate::crypto::token_key);
    let refresh_hash = refresh.as_deref().map(crate::crypto::token_key);
    let withdrawn = ctx.db.tx(|conn| {
        let rows = (access_hash.as_deref(), refresh_hash.as_deref());
        if !crate::store::tokens::withdraw(conn, &grant.id, spent, rows.0, rows.1)? {
            return Ok(false);
        }
        let entry = crate::audit::Entry {
            kind: crate::audit::Kind::TokensWithdrawn,
            user_id: grant.user_id.as_deref(),
            client_id: Some(&client_id),
            detail: serde_json::json!({ "grant": grant.id, "error": error.code.as_str() }),
        };
        crate::audit::append(conn, entry, ctx.now).map(|_| true)
    });
    match withdrawn {
        Ok(true) => {
            tracing::warn!(grant = %grant.id, "tokens could not be signed; their issue was withdrawn")
        }
        Ok(false) => {
            tracing::warn!(grant = %grant.id, "tokens could not be signed; the grant was revoked meanwhile")
        }
        Err(e) => {
            tracing::error!(grant = %grant.id, error = %e, "tokens could not be signed, nor their issue withdrawn")
        }
    }
    Err(error)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tokens::Grant;
    use crate::store::tokens::testing::grant;

    /// Tokens that cannot be signed after their transaction committed, because the
    /// security module does not answer, are withdrawn: the client's retry gets them, not a
    /// replay's revocation; a later replay still revokes. A lasting failure withdraws
    /// nothing.
    #[test]
    fn a_signing_failure_gives_back_the_code_and_the_refresh_token() {
        use crate::admin::clients::{Credentials, NewClient, create};
        use crate::store::tokens::{self as rows, AuthorizationCode};
        let (_dir, svc) = crate::service::for_tests();
        let now = crate::now();
        let secret = "a-secret-long-enough-for-anyone";
        let redirect = "https://rp.example/cb";
        let new = NewClient::new(
            "rp",
            Credentials::Secret(secret.into()),
            vec![redirect.into()],
        );
        let actor = crate::admin::Actor::Cli { os_user: None };
        create(&crate::admin::Context::from(&svc), &actor, new, now).unwrap();
        let grant = Grant {
            client_id: "rp".into(),
            user_id: Some("u-anna".into()),
            ..grant(None, None)
        };
        let code = AuthorizationCode {
            code_hash: crate::crypto::secret_hash("the-code"),
            grant_id: grant.id.clone(),
            redirect_uri: redirect.into(),
            code_challenge: None,
            nonce: None,
            consumed: false,
            expires_at: now + 60,
        };
        svc.db
            .tx(|c| {
                rows::insert_grant(c, &grant)?;
                rows::insert_code(c, &code)
            })
            .unwrap();
        let (working, broken) = (svc.keys(), KeySet::unanswered());
        let token = |keys: &KeySet, body: String| {
            let ctx = TokenContext {
                db: &svc.db,
                provider: &svc.provider,
                keys,
                client_address: None,
                dpop_proof: None,
                certificate: None,
                alias: false,
                now,
            };
            let body = format!("{body}&client_id=rp&client_secret={secret}");
            super::token(&ctx, &Params::parse(body.as_bytes()).unwrap(), None)
        };
        let redeem = format!("grant_type=authorization_code&code=the-code&redirect_uri={redirect}");
        let failed = token(&broken, redeem.clone()).unwrap_err();
        assert_eq!(failed.code, ErrorCode::TemporarilyUnavailable);
        let issued = token(&working, redeem.clone()).unwrap();
        assert!(issued.id_token.is_some());

        let refresh = |t: &str| format!("grant_type=refresh_token&refresh_token={t}");
        let first = issued.refresh_token.unwrap();
        assert_eq!(
            token(&broken, refresh(&first)).unwrap_err().code,
            ErrorCode::TemporarilyUnavailable
        );
        let refreshed = token(&working, refresh(&first)).unwrap();
        let second = refreshed.refresh_token.unwrap();

        // Two withdrawals on record; the tokens they withdrew are gone.
        let withdrawn = crate::admin::testing::events(&svc.db)
            .into_iter()
            .filter(|e| e.kind() == Some(crate::audit::Kind::TokensWithdrawn))
            .count();
        assert_eq!(withdrawn, 2);
        let live: i64 = svc
            .db
            .run(|c| {
                use crate::store::schema::refresh_tokens::dsl::*;
                use diesel::prelude::*;
                Ok(refresh_tokens
                    .filter(rotated.eq(false))
                    .count()
                    .get_result(c)?)
            })
            .unwrap();
        assert_eq!(live, 1, "only the last refresh token is usable");
        // A lasting failure gives nothing back: its retry is a replay, which revokes.
        assert_eq!(
            token(&KeySet::empty(), refresh(&second)).unwrap_err().code,
            ErrorCode::ServerError
        );
        assert_eq!(
            token(&working, refresh(&second)).unwrap_err().code,
            ErrorCode::InvalidGrant
        );
        // And a replay is still one: the used code finds its grant revoked.
        assert_eq!(
            token(&working, redeem).unwrap_err().code,
            ErrorCode::InvalidGrant
        );
    }

    fn holder<'a>(jkt: Option<&'a str>, x5t: Option<&'a str>) -> Holder<'a> {
        Holder { jkt, x5t }
    }

    #[test]
    fn a_bound_grant_takes_only_its_key_or_certificate_unless_rebinding_is_allowed() {
        use Rebinding::{Allowed, Refused};
        let refused = |g: &Grant, h, r| unbound(g, h, r).is_some();
        // Nothing bound: anything goes (and is bound by `bind`).
        let free = grant(None, None);
        assert!(!refused(&free, holder(None, None), Refused));
        assert!(!refused(&free, holder(Some("k"), Some("c")), Refused));
        // A certificate: the same one, or, for a confidential client, a renewed one.
        let to_cert = grant(None, Some("c1"));
        assert!(!refused(&to_cert, holder(None, Some("c1")), Refused));
        assert!(refused(&to_cert, holder(None, Some("c2")), Refused));
        assert!(refused(&to_cert, holder(None, None), Refused));
        assert!(!refused(&to_cert, holder(None, Some("c2")), Allowed));
        assert!(!refused(&to_cert, holder(None, None), Allowed));
        // A DPoP key needs a proof even where another key may be bound.
        let to_key = grant(Some("k1"), None);
        assert!(!refused(&to_key, holder(Some("k1"), None), Refused));
        assert!(refused(&to_key, holder(Some("k2"), None), Refused));
        assert!(!refused(&to_key, holder(Some("k2"), None), Allowed));
        assert!(refused(&to_key, holder(None, None), Allowed));
    }
}
