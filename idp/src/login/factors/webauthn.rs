//! Passkeys and security keys: the WebAuthn assertion ceremony. The challenge is stored
//! server-side and taken (single use) inside the check transaction; the keys' signature
//! counters are updated there too.

use crate::crypto;
use crate::oidc::error::{OidcError, OidcResult};
use crate::service::Service;
use crate::store::users;
use crate::store::{AnyConnection, StoreResult, captures, challenges};
use authenticators::Factor;
use authenticators::webauthn::Passkey;

const PURPOSE: &str = "webauthn-login";
/// A sign-in with a passkey and no username: the challenge is the transaction's.
const PURPOSE_DISCOVERABLE: &str = "webauthn-discoverable";

/// How long a browser has to answer a WebAuthn challenge.
pub const CHALLENGE_TTL: i64 = 300;

/// The citizen's registered passkeys: (credential row id, passkey).
pub fn passkeys(c: &mut AnyConnection, user_id: &str) -> StoreResult<Vec<(String, Passkey)>> {
    Ok(users::credentials_of(c, user_id)?
        .into_iter()
        .filter(|r| r.kind == users::CredentialKind::Passkey)
        .filter_map(|r| {
            serde_json::from_slice::<Passkey>(&r.data)
                .ok()
                .map(|p| (r.id, p))
        })
        .collect())
}

/// WebAuthn as configured; it is off when the issuer's host is not a domain name.
fn available(svc: &Service) -> OidcResult<&authenticators::webauthn::WebAuthn> {
    svc.webauthn
        .as_ref()
        .ok_or_else(|| OidcError::invalid_request("WebAuthn is not available"))
}

/// Starts an assertion: (challenge id, options for `navigator.credentials.get`).
pub fn begin(svc: &Service, user_id: &str, now: i64) -> OidcResult<serde_json::Value> {
    let webauthn = available(svc)?;
    let keys: Vec<Passkey> = svc
        .db
        .run(|c| passkeys(c, user_id))?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let challenge = webauthn
        .begin(&keys, now)
        .ok_or_else(|| OidcError::invalid_request("no security key or passkey is registered"))?;
    let id = crypto::random_token();
    svc.db.run(|c| {
        challenges::insert(
            c,
            &id,
            user_id,
            PURPOSE,
            &challenge.state,
            now + CHALLENGE_TTL,
        )
    })?;
    Ok(serde_json::json!({ "challenge": id, "options": challenge.options }))
}

/// Inside the check transaction: true when the assertion answers the (now consumed)
/// challenge with one of the citizen's keys.
pub fn verify(
    svc: &Service,
    conn: &mut AnyConnection,
    user_id: &str,
    challenge_id: &str,
    credential: &str,
    now: i64,
) -> StoreResult<bool> {
    let Some(webauthn) = svc.webauthn.as_ref() else {
        return Ok(false);
    };
    let Some(state) = challenges::take(conn, challenge_id, user_id, PURPOSE, now)? else {
        return Ok(false);
    };
    let rows = passkeys(conn, user_id)?;
    let keys: Vec<Passkey> = rows.iter().map(|(_, p)| p.clone()).collect();
    let challenge = Some(authenticators::webauthn::Challenge {
        options: serde_json::Value::Null,
        state,
    });
    let Ok(v) = webauthn.finish(&keys, &challenge, credential, now) else {
        return Ok(false);
    };
    save_counters(conn, &rows, &v.updated.unwrap_or_default(), now)?;
    Ok(true)
}

/// Stores the keys whose signature counter moved.
fn save_counters(
    conn: &mut AnyConnection,
    rows: &[(String, Passkey)],
    updated: &[Passkey],
    now: i64,
) -> StoreResult<()> {
    for ((id, before), after) in rows.iter().zip(updated) {
        let (b, a) = (serde_json::to_vec(before), serde_json::to_vec(after));
        if let (Ok(b), Ok(a)) = (b, a)
            && a != b
        {
            users::set_data(conn, id, &a, now)?;
        }
    }
    Ok(())
}

/// Starts a sign-in with whichever passkey the browser holds (no username first): the
/// challenge is held by `holder` (the login transaction) until the answer names the
/// account.
pub fn begin_discoverable(svc: &Service, holder: &str, now: i64) -> OidcResult<serde_json::Value> {
    let webauthn = available(svc)?;
    let challenge = webauthn.begin_discoverable().map_err(OidcError::server)?;
    let id = crypto::random_token();
    // Held by the transaction, not an account: with the face captures' challenges.
    svc.db.run(|c| {
        captures::replace(
            c,
            &id,
            holder,
            PURPOSE_DISCOVERABLE,
            &challenge.state,
            now + CHALLENGE_TTL,
        )
    })?;
    Ok(serde_json::json!({ "challenge": id, "options": challenge.options }))
}

/// The account a discoverable answer names, if it names one that exists; unproved until
/// `verify_discoverable`.
pub fn identify(svc: &Service, credential: &str) -> OidcResult<Option<String>> {
    let Some(id) = svc.webauthn.as_ref().and_then(|w| w.identify(credential)) else {
        return Ok(None);
    };
    Ok(svc
        .db
        .run(|c| users::find(c, &id))?
        .filter(|u| !u.disabled)
        .map(|u| u.id))
}

/// Inside the check transaction: true when the answer to `holder`'s (now consumed)
/// challenge is signed by one of `user_id`'s passkeys, with the user verified.
pub fn verify_discoverable(
    svc: &Service,
    conn: &mut AnyConnection,
    holder: &str,
    user_id: &str,
    challenge_id: &str,
    credential: &str,
    now: i64,
) -> StoreResult<bool> {
    let Some(webauthn) = svc.webauthn.as_ref() else {
        return Ok(false);
    };
    let Some(state) = captures::take(conn, challenge_id, holder, PURPOSE_DISCOVERABLE, now)? else {
        return Ok(false);
    };
    let rows = passkeys(conn, user_id)?;
    let keys: Vec<Passkey> = rows.iter().map(|(_, p)| p.clone()).collect();
    let Ok(v) = webauthn.finish_discoverable(&state, credential, &keys) else {
        return Ok(false);
    };
    save_counters(conn, &rows, &v.updated.unwrap_or_default(), now)?;
    Ok(true)
}
