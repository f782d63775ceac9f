//! The audit log: append-only and hash-chained. Every sign-in attempt, lockout, enrolment
//! and removal of a factor, withdrawal of consent, ended session, detected token replay
//! and administrative act is an event; `idp audit verify` recomputes the chain, and a
//! citizen sees their own events on the account page. Events never hold secrets, tokens
//! or biometric data.

use crate::crypto;
use crate::store::schema::{audit_events, audit_head};
use crate::store::{AnyConnection, StoreError, StoreResult};
use diesel::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq)]
#[diesel(table_name = audit_events)]
pub struct Event {
    pub seq: i64,
    pub at: i64,
    pub kind: String,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    /// JSON object with the event's particulars.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Every kind of event the log holds. The name is what is stored and hashed; it never
/// changes once released, so that old entries keep verifying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A factor was accepted.
    SignedIn,
    /// A factor was refused (wrong, or locked).
    SignInFailed,
    /// Too many failures locked a factor.
    FactorLocked,
    /// An administrator lifted the locks on an account's factors.
    FactorUnlocked,
    /// The citizen lifted a factor's lock by proving another of their factors.
    FactorSelfUnlocked,
    FactorEnrolled,
    FactorRemoved,
    /// A one-time code was sent by e-mail or SMS.
    CodeSent,
    ConsentWithdrawn,
    SessionEnded,
    /// A used code or rotated refresh token came back; its grant was revoked.
    TokenReplayed,
    /// The citizen's password was changed.
    PasswordChanged,
    /// The citizen agreed to keep a biometric template (which text, for what).
    BiometricConsentGiven,
    /// The citizen withdrew it; the template was destroyed in the same transaction.
    BiometricConsentWithdrawn,
    /// The citizen changed their e-mail address or mobile number (after a code sent to
    /// the new one came back).
    ContactChanged,
    /// Administration (the CLI, the Admin API); the detail's `by` says who acted.
    ClientCreated,
    ClientUpdated,
    ClientRemoved,
    ClientSecretRotated,
    UserCreated,
    /// Name, e-mail address or mobile number changed.
    UserUpdated,
    /// Sign-in refused, sessions ended, grants revoked.
    UserDisabled,
    UserEnabled,
    UserRemoved,
    /// An administrator set the citizen's password.
    PasswordSet,
    /// New signing keys; the previous ones stopped signing.
    KeysRotated,
    /// An account was given an administrative role (administrator, clerk, auditor).
    RoleGranted,
    /// An account's administrative role was taken away.
    RoleRevoked,
}

impl Kind {
    pub const ALL: [Kind; 28] = [
        Kind::SignedIn,
        Kind::SignInFailed,
        Kind::FactorLocked,
        Kind::FactorUnlocked,
        Kind::FactorSelfUnlocked,
        Kind::FactorEnrolled,
        Kind::FactorRemoved,
        Kind::CodeSent,
        Kind::ConsentWithdrawn,
        Kind::SessionEnded,
        Kind::TokenReplayed,
        Kind::PasswordChanged,
        Kind::BiometricConsentGiven,
        Kind::BiometricConsentWithdrawn,
        Kind::ContactChanged,
        Kind::ClientCreated,
        Kind::ClientUpdated,
        Kind::ClientRemoved,
        Kind::ClientSecretRotated,
        Kind::UserCreated,
        Kind::UserUpdated,
        Kind::UserDisabled,
        Kind::UserEnabled,
        Kind::UserRemoved,
        Kind::PasswordSet,
        Kind::KeysRotated,
        Kind::RoleGranted,
        Kind::RoleRevoked,
    ];

    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::SignedIn => "auth.succeeded",
            Kind::SignInFailed => "auth.failed",
            Kind::FactorLocked => "factor.locked",
            Kind::FactorUnlocked => "factor.unlocked",
            Kind::FactorSelfUnlocked => "factor.self-unlocked",
            Kind::FactorEnrolled => "factor.enrolled",
            Kind::FactorRemoved => "factor.removed",
            Kind::CodeSent => "code.sent",
            Kind::ConsentWithdrawn => "consent.withdrawn",
            Kind::SessionEnded => "session.ended",
            Kind::TokenReplayed => "token.replayed",
            Kind::PasswordChanged => "password.changed",
            Kind::BiometricConsentGiven => "biometric.consent-given",
            Kind::BiometricConsentWithdrawn => "biometric.consent-withdrawn",
            Kind::ContactChanged => "contact.changed",
            Kind::ClientCreated => "client.created",
            Kind::ClientUpdated => "client.updated",
            Kind::ClientRemoved => "client.removed",
            Kind::ClientSecretRotated => "client.secret-rotated",
            Kind::UserCreated => "user.created",
            Kind::UserUpdated => "user.updated",
            Kind::UserDisabled => "user.disabled",
            Kind::UserEnabled => "user.enabled",
            Kind::UserRemoved => "user.removed",
            Kind::PasswordSet => "password.set",
            Kind::KeysRotated => "keys.rotated",
            Kind::RoleGranted => "role.granted",
            Kind::RoleRevoked => "role.revoked",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl Event {
    /// The event's kind; `None` only for a name this version does not know.
    pub fn kind(&self) -> Option<Kind> {
        Kind::parse(&self.kind)
    }
}

/// What happened, before it gets its place in the chain.
pub struct Entry<'a> {
    pub kind: Kind,
    pub user_id: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub detail: Value,
}

fn hash_of(
    prev: &str,
    seq: i64,
    at: i64,
    kind: &str,
    user: Option<&str>,
    client: Option<&str>,
    detail: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        prev,
        &seq.to_string(),
        &at.to_string(),
        kind,
        user.unwrap_or(""),
        client.unwrap_or(""),
        detail,
    ] {
        // Length-prefixed, so that no two different events hash the same input.
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    crypto::hex(&h.finalize())
}

/// Appends an event. Runs in the caller's transaction; the first statement takes the
/// head's lock, so concurrent appends line up.
pub fn append(conn: &mut AnyConnection, e: Entry, now: i64) -> StoreResult<i64> {
    diesel::update(audit_head::table.find(1))
        .set(audit_head::seq.eq(audit_head::seq + 1))
        .execute(conn)?;
    let (seq, prev): (i64, String) = audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash))
        .first(conn)?;
    let detail = e.detail.to_string();
    let hash = hash_of(
        &prev,
        seq,
        now,
        e.kind.name(),
        e.user_id,
        e.client_id,
        &detail,
    );
    diesel::insert_into(audit_events::table)
        .values(Event {
            seq,
            at: now,
            kind: e.kind.name().to_string(),
            user_id: e.user_id.map(str::to_string),
            client_id: e.client_id.map(str::to_string),
            detail,
            prev_hash: prev,
            hash: hash.clone(),
        })
        .execute(conn)?;
    diesel::update(audit_head::table.find(1))
        .set(audit_head::hash.eq(hash))
        .execute(conn)?;
    Ok(seq)
}

/// The newest events of one citizen.
pub fn of_user(conn: &mut AnyConnection, user_id: &str, limit: i64) -> StoreResult<Vec<Event>> {
    Ok(audit_events::table
        .filter(audit_events::user_id.eq(user_id))
        .order(audit_events::seq.desc())
        .limit(limit)
        .select(Event::as_select())
        .load(conn)?)
}

/// Which events a search returns: every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub user_id: Option<String>,
    pub kind: Option<String>,
    /// At or after (Unix seconds).
    pub from: Option<i64>,
    /// Before (Unix seconds).
    pub until: Option<i64>,
    /// Only events with a greater sequence number (paging).
    pub after_seq: Option<i64>,
}

/// Events matching the filter, oldest first, at most `limit`.
pub fn search(conn: &mut AnyConnection, f: &Filter, limit: i64) -> StoreResult<Vec<Event>> {
    let mut q = audit_events::table.into_boxed();
    if let Some(u) = &f.user_id {
        q = q.filter(audit_events::user_id.eq(u.clone()));
    }
    if let Some(k) = &f.kind {
        q = q.filter(audit_events::kind.eq(k.clone()));
    }
    if let Some(t) = f.from {
        q = q.filter(audit_events::at.ge(t));
    }
    if let Some(t) = f.until {
        q = q.filter(audit_events::at.lt(t));
    }
    if let Some(s) = f.after_seq {
        q = q.filter(audit_events::seq.gt(s));
    }
    Ok(q.order(audit_events::seq)
        .limit(limit)
        .select(Event::as_select())
        .load(conn)?)
}

/// Recomputes the whole chain; returns the number of events, or where it breaks.
pub fn verify(conn: &mut AnyConnection) -> StoreResult<Result<i64, String>> {
    let mut prev = "0".repeat(64);
    let mut expected_seq = 1;
    let mut after = 0i64;
    loop {
        let batch: Vec<Event> = audit_events::table
            .filter(audit_events::seq.gt(after))
            .order(audit_events::seq)
            .limit(1000)
            .select(Event::as_select())
            .load(conn)?;
        if batch.is_empty() {
            break;
        }
        for e in &batch {
            if e.seq != expected_seq {
                return Ok(Err(format!("event {expected_seq} is missing")));
            }
            let h = hash_of(
                &prev,
                e.seq,
                e.at,
                &e.kind,
                e.user_id.as_deref(),
                e.client_id.as_deref(),
                &e.detail,
            );
            if e.prev_hash != prev || e.hash != h {
                return Ok(Err(format!("event {} was altered", e.seq)));
            }
            prev = h;
            expected_seq += 1;
            after = e.seq;
        }
    }
    let (head_seq, head_hash): (i64, String) = audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash))
        .first(conn)
        .map_err(StoreError::from)?;
    if head_seq != expected_seq - 1 || head_hash != prev {
        return Ok(Err(format!(
            "the log ends at event {}, its head says {head_seq}",
            expected_seq - 1
        )));
    }
    Ok(Ok(head_seq))
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn every_kind_has_its_own_name_and_parses_back() {
        let mut names: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Kind::ALL.len());
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.name()), Some(k));
        }
        assert_eq!(Kind::parse("auth.unknown"), None);
    }
}
