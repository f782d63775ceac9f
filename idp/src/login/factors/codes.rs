//! Codes: an authenticator app (TOTP), a code sent by SMS or e-mail, or a recovery code.
//! Each check consumes what it accepts (the time step, the sent code, the recovery code)
//! in the check transaction, so a code works once however many requests carry it.

use crate::crypto;
use crate::i18n::Lang;
use crate::oidc::error::{ErrorCode, OidcError, OidcResult};
use crate::service::Service;
use crate::store::users::{self, User};
use crate::store::{AnyConnection, StoreError, StoreResult, challenges, rate_limits};
use authenticators::recovery::{Recovery, RecoveryCodes};
use authenticators::totp::{Totp, TotpCredential};
use authenticators::{Factor, FactorKind};

/// Factors checked with a typed code.
pub const CODE_FACTORS: [FactorKind; 4] = [
    FactorKind::Totp,
    FactorKind::SmsCode,
    FactorKind::EmailCode,
    FactorKind::RecoveryCode,
];

/// At most this many codes per recipient and channel in `CODE_WINDOW` seconds.
pub const CODES_PER_WINDOW: i32 = 3;
pub const CODE_WINDOW: i64 = 600;

/// Checks a code of one of `CODE_FACTORS`; true when it was accepted (and consumed).
pub fn verify(
    svc: &Service,
    conn: &mut AnyConnection,
    user_id: &str,
    kind: FactorKind,
    code: &str,
    now: i64,
) -> StoreResult<bool> {
    match kind {
        FactorKind::Totp => verify_totp(svc, conn, user_id, code, now),
        FactorKind::SmsCode | FactorKind::EmailCode => {
            verify_sent_code(conn, user_id, kind, code, now)
        }
        FactorKind::RecoveryCode => verify_recovery(conn, user_id, code, now),
        _ => Ok(false),
    }
}

/// The associated data a TOTP secret is sealed with.
pub fn totp_context(credential_id: &str) -> String {
    format!("totp:{credential_id}")
}

/// Checks a TOTP code against the user's active authenticator; the time step is consumed
/// in the same statement that checks it was not used before.
fn verify_totp(
    svc: &Service,
    c: &mut AnyConnection,
    user_id: &str,
    code: &str,
    now: i64,
) -> StoreResult<bool> {
    let Some(cred) = users::credential(c, user_id, users::CredentialKind::Totp)? else {
        return Ok(false);
    };
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
    let Some(key) =
        crate::keys::user_key::existing(c, &svc.kek, user_id).map_err(|e| corrupt(&e))?
    else {
        return Ok(false);
    };
    let secret = key
        .open(&cred.data, &totp_context(&cred.id))
        .map_err(|e| corrupt(&e))?;
    let stored = TotpCredential {
        secret,
        last_step: cred.counter,
    };
    let Ok(v) = Totp.finish(&stored, &(), code, now) else {
        return Ok(false);
    };
    let step = v.updated.and_then(|u| u.last_step).unwrap_or_default();
    users::advance_counter(c, &cred.id, step, now)
}

fn code_purpose(kind: FactorKind) -> String {
    format!("code-{}", kind.name())
}

/// Checks a code sent by SMS or e-mail against the latest one sent; a matching code is
/// deleted, so it works once.
fn verify_sent_code(
    c: &mut AnyConnection,
    user_id: &str,
    kind: FactorKind,
    code: &str,
    now: i64,
) -> StoreResult<bool> {
    let Some((id, state)) = challenges::latest(c, user_id, &code_purpose(kind), now)? else {
        return Ok(false);
    };
    let Ok(sent) = serde_json::from_str::<authenticators::code::SentCode>(&state) else {
        return Ok(false);
    };
    if authenticators::code::check(&sent, code, now).is_err() {
        return Ok(false);
    }
    Ok(challenges::take(c, &id, user_id, &code_purpose(kind), now)?.is_some())
}

/// Checks a recovery code; the used code's row is deleted by the same check.
fn verify_recovery(
    c: &mut AnyConnection,
    user_id: &str,
    code: &str,
    now: i64,
) -> StoreResult<bool> {
    let rows: Vec<_> = users::credentials_of(c, user_id)?
        .into_iter()
        .filter(|r| r.kind == users::CredentialKind::RecoveryCode)
        .collect();
    let codes = RecoveryCodes {
        user_id: user_id.to_string(),
        hashes: rows
            .iter()
            .map(|r| String::from_utf8_lossy(&r.data).into_owned())
            .collect(),
    };
    let Ok(v) = Recovery.finish(&codes, &(), code, now) else {
        return Ok(false);
    };
    let left = v.updated.map(|u| u.hashes).unwrap_or_default();
    let Some(used) = rows
        .iter()
        .find(|r| !left.contains(&String::from_utf8_lossy(&r.data).into_owned()))
    else {
        return Ok(false);
    };
    users::delete_credential(c, &used.id)
}

/// Sends a one-time code by SMS or e-mail (a new code replaces any earlier one), at most
/// `CODES_PER_WINDOW` per channel and account in `CODE_WINDOW`.
pub fn send(svc: &Service, user: &User, kind: FactorKind, lang: Lang, now: i64) -> OidcResult<()> {
    let (factor, channel, to) = match kind {
        FactorKind::SmsCode => (
            authenticators::code::OneTimeCode::sms(),
            crate::notify::Channel::Sms,
            user.phone.clone(),
        ),
        FactorKind::EmailCode => (
            authenticators::code::OneTimeCode::email(),
            crate::notify::Channel::Email,
            user.email.clone(),
        ),
        _ => return Err(OidcError::invalid_request("codes go by sms or email")),
    };
    let to = to
        .ok_or_else(|| OidcError::invalid_request("the account has no address for this channel"))?;
    let t = lang.texts();
    let key = format!("send:{}:{}", kind.name(), user.id);
    if svc.db.tx(|c| rate_limits::hit(c, &key, CODE_WINDOW, now))? > CODES_PER_WINDOW {
        return Err(OidcError::new(ErrorCode::SlowDown, t.too_many_codes));
    }
    let issued = factor.begin(&(), now);
    let state_json = serde_json::to_string(&issued.sent).map_err(OidcError::server)?;
    let id = crypto::random_token();
    svc.db.tx(|c| {
        challenges::clear(c, &user.id, &code_purpose(kind))?;
        challenges::insert(
            c,
            &id,
            &user.id,
            &code_purpose(kind),
            &state_json,
            issued.sent.expires_at,
        )?;
        let entry = crate::audit::Entry {
            kind: crate::audit::Kind::CodeSent,
            user_id: Some(&user.id),
            client_id: None,
            detail: serde_json::json!({ "factor": kind.name() }),
        };
        crate::audit::append(c, entry, now)?;
        Ok(())
    })?;
    let message = crate::notify::Message {
        channel,
        to,
        subject: t.code_subject.to_string(),
        body: t.code_body.replace("{code}", &issued.code),
    };
    svc.notifier.send(&message).map_err(|e| {
        tracing::error!(error = %e, channel = kind.name(), "a one-time code could not be sent");
        OidcError::new(
            ErrorCode::TemporarilyUnavailable,
            "the code could not be sent; try another method",
        )
    })
}
