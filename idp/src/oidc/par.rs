//! Pushed authorization requests (RFC 9126). A client posts its authorization request to
//! the PAR endpoint, authenticated as at the token endpoint; the request is checked there
//! exactly as the authorization endpoint would check it, kept for `LIFETIME` seconds, and
//! the client gets a `request_uri` to send the browser with (`client_id` and
//! `request_uri` only). The browser's URL then carries nothing an attacker could alter or
//! read, and the redirect URI, scopes and PKCE challenge were sent over an authenticated
//! channel. A `request_uri` works once, for the client it was issued to. Pushing can be
//! required of every client (`require_pushed_authorization_requests` in the
//! configuration) or of some (`idp client ... --require-par`).

use super::Provider;
use super::authorize::{self, AuthorizeError};
use super::error::{ErrorCode, OidcError, OidcResult};
use super::params::Params;
use crate::crypto;
use crate::keys::KeySet;
use crate::policy::Policy;
use crate::store::clients::Client;
use crate::store::{AnyConnection, Db, StoreResult, pushed_requests};
use serde::Serialize;

/// The prefix of the `request_uri` values issued here (RFC 9126 2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// How long a pushed request waits for the browser (RFC 9126 suggests a short time).
pub const LIFETIME: i64 = 60;

/// The PAR endpoint's answer (RFC 9126 2.2), sent with `201 Created`.
#[derive(Debug, Serialize)]
pub struct Pushed {
    pub request_uri: String,
    pub expires_in: i64,
}

/// Checks and keeps a pushed request of `client` (already authenticated), sent with
/// `dpop_proof` when the request had a DPoP header; `alias`: it came to the mutual-TLS
/// alias of the endpoint.
#[allow(clippy::too_many_arguments)]
pub fn push(
    db: &Db,
    provider: &Provider,
    keys: &KeySet,
    policy: &Policy,
    client: &Client,
    params: &Params,
    dpop_proof: Option<&str>,
    alias: bool,
    now: i64,
) -> OidcResult<Pushed> {
    if params.contains("request_uri") {
        return Err(OidcError::invalid_request(
            "request_uri cannot be pushed (RFC 9126 2.1)",
        ));
    }
    // A request object (RFC 9101) stands for the request; the authenticated client is its
    // client.
    let mut params = super::request_object::unpack(params.clone(), client, provider, now)?;
    match params.get("client_id") {
        Some(id) if id != client.id => {
            return Err(OidcError::invalid_request(
                "client_id does not match the authenticated client",
            ));
        }
        Some(_) => {}
        None => params.insert("client_id", &client.id),
    }
    // A DPoP proof binds the code to its key (RFC 9449 10.1) as `dpop_jkt` does; sent
    // together, they must name the same key.
    if let Some(proof) = dpop_proof {
        if super::client_auth::forbidden_alg(client, proof) {
            return Err(OidcError::new(
                ErrorCode::InvalidDpopProof,
                "FAPI 2.0: DPoP proofs are signed with PS256, ES256 or EdDSA",
            ));
        }
        let htu = provider.endpoint_at(super::PAR_PATH, alias);
        let jkt = super::dpop::proved_key(db, &provider.dpop_nonces, proof, &htu, now)?;
        match params.get("dpop_jkt") {
            Some(named) if !crypto::constant_time_eq(named, &jkt) => {
                return Err(OidcError::new(
                    ErrorCode::InvalidDpopProof,
                    "dpop_jkt is not the thumbprint of the DPoP proof's key",
                ));
            }
            Some(_) => {}
            None => params.insert("dpop_jkt", &jkt),
        }
    }
    // The same checks as at the authorization endpoint, answered here in JSON.
    let found = Some(client.clone());
    let (client, redirect) = authorize::check_client(&params, |_| Ok::<_, OidcError>(found))?
        .map_err(|AuthorizeError { error, .. }| error)?;
    authorize::validate(&params, &client, redirect, keys, provider, policy, true)
        .map_err(|AuthorizeError { error, .. }| error)?;
    let handle = crypto::random_token();
    db.tx(|c| {
        pushed_requests::insert(
            c,
            &crypto::secret_hash(&handle),
            &client.id,
            &params.encode(),
            now + LIFETIME,
        )
    })?;
    Ok(Pushed {
        request_uri: format!("{REQUEST_URI_PREFIX}{handle}"),
        expires_in: LIFETIME,
    })
}

/// The parameters of an authorization request: a pushed one when the request names it
/// (used up now), otherwise the request's own. The flag says whether it was pushed.
pub fn resolve(db: &Db, params: Params, now: i64) -> OidcResult<(Params, bool)> {
    let Some(uri) = params.get("request_uri") else {
        return Ok((params, false));
    };
    let Some(handle) = uri.strip_prefix(REQUEST_URI_PREFIX) else {
        // Not one of ours: `authorize::validate` answers request_uri_not_supported.
        return Ok((params, false));
    };
    let invalid = |why: &str| OidcError::new(ErrorCode::InvalidRequestUri, why.to_string());
    let client_id = params
        .get("client_id")
        .ok_or_else(|| OidcError::invalid_request("client_id is missing"))?;
    let hash = crypto::secret_hash(handle);
    // Another client's attempt leaves the request to its own client.
    match db.tx(|c| take(c, &hash, client_id, now))? {
        Some(encoded) => Ok((Params::parse(encoded.as_bytes())?, true)),
        None => Err(invalid(
            "the request_uri is unknown, expired, already used or not this client's",
        )),
    }
}

/// Takes `client_id`'s pushed request out, once: of two concurrent takers only one gets it.
fn take(
    conn: &mut AnyConnection,
    hash: &str,
    client_id: &str,
    now: i64,
) -> StoreResult<Option<String>> {
    let Some((owner, params)) = pushed_requests::find(conn, hash, now)? else {
        return Ok(None);
    };
    if owner != client_id {
        return Ok(None);
    }
    Ok(pushed_requests::delete(conn, hash)?.then_some(params))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::clients::{self, Credentials, NewClient};
    use crate::admin::testing::{T0, cli};

    const CB: &str = "https://tax.example.gov/cb";

    fn request(client: &str) -> Params {
        let challenge = crypto::pkce_s256("a-verifier-of-forty-three-characters-at-least");
        Params::parse(
            format!("response_type=code&client_id={client}&redirect_uri={CB}&scope=openid&code_challenge={challenge}&code_challenge_method=S256")
                .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn a_fapi2_clients_dpop_proof_is_signed_as_the_profile_allows() {
        let (_dir, svc) = crate::service::for_tests();
        let ctx = crate::admin::Context::from(&svc);
        let key = josekit::jws::ES256.generate_key_pair().unwrap();
        let jwks = serde_json::json!({ "keys": [
            serde_json::Value::Object(josekit::jwk::KeyPair::to_jwk_public_key(&key).as_ref().clone())
        ] });
        let mut new = NewClient::new("fapi", Credentials::Jwks(jwks.to_string()), vec![CB.into()]);
        new.profile = Some("fapi2".into());
        clients::create(&ctx, &cli(), new, T0).unwrap();
        let client = svc
            .db
            .run(|c| crate::store::clients::find(c, "fapi"))
            .unwrap()
            .unwrap();
        let policy = svc.rules().policy.clone();
        for alg in ["RS256", "ES384"] {
            let header =
                crypto::b64url(format!(r#"{{"typ":"dpop+jwt","alg":"{alg}"}}"#).as_bytes());
            let proof = format!("{header}.e30.x");
            let e = push(
                &svc.db,
                &svc.provider,
                &svc.keys(),
                &policy,
                &client,
                &request("fapi"),
                Some(&proof),
                false,
                T0,
            )
            .unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidDpopProof, "{alg}");
            assert!(
                e.description.contains("FAPI 2.0"),
                "{alg}: {}",
                e.description
            );
        }
    }

    #[test]
    fn a_pushed_request_lasts_a_minute_and_serves_once() {
        let (_dir, svc) = crate::service::for_tests();
        let ctx = crate::admin::Context::from(&svc);
        let new = NewClient::new("portal", Credentials::GenerateSecret, vec![CB.into()]);
        clients::create(&ctx, &cli(), new, T0).unwrap();
        let client = svc
            .db
            .run(|c| crate::store::clients::find(c, "portal"))
            .unwrap()
            .unwrap();
        let policy = svc.rules().policy.clone();
        let push_at = |now| {
            push(
                &svc.db,
                &svc.provider,
                &svc.keys(),
                &policy,
                &client,
                &request("portal"),
                None,
                false,
                now,
            )
            .unwrap()
        };
        let by_uri = |uri: &str| {
            Params::parse(format!("client_id=portal&request_uri={uri}").as_bytes()).unwrap()
        };
        let first = push_at(T0);
        let (params, pushed) = resolve(&svc.db, by_uri(&first.request_uri), T0 + 59).unwrap();
        assert!(pushed);
        assert_eq!(params.get("redirect_uri"), Some(CB));
        let again = resolve(&svc.db, by_uri(&first.request_uri), T0 + 59).unwrap_err();
        assert_eq!(again.code, ErrorCode::InvalidRequestUri);
        let late = push_at(T0);
        let e = resolve(&svc.db, by_uri(&late.request_uri), T0 + LIFETIME).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequestUri);
        // A request without request_uri, or with one that is not ours, passes through.
        let (_, pushed) = resolve(&svc.db, request("portal"), T0).unwrap();
        assert!(!pushed);
        // The purge takes expired requests away.
        let n = svc
            .db
            .tx(|c| pushed_requests::purge(c, T0 + LIFETIME))
            .unwrap();
        assert_eq!(n, 1);
    }
}
