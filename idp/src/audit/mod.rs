//! The audit log: append-only, hash-chained and signed. Every sign-in attempt, lockout,
//! enrolment and removal of a factor, withdrawal of consent, ended session, detected token
//! replay and administrative act is an event; a citizen sees their own events on the
//! account page. Events never hold secrets, tokens or biometric data.
//!
//! A request appends its event in its own transaction with nothing shared (`append`); a
//! sealer gives pending events their place in the chain (`chain::seal`) and signs a
//! checkpoint of the chain's head now and then (`checkpoint`). `chain::verify` names the
//! first event that was altered, removed or moved; `export` writes the log as JSON lines
//! that a third party verifies against the published checkpoint keys.

pub mod chain;
pub mod checkpoint;
pub mod export;

use crate::store::fixed::Insert;
use crate::store::schema::audit_events;
use crate::store::{AnyConnection, StoreResult};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde_json::Value;
use std::net::IpAddr;

/// An event as stored. `seq`, `prev_hash` and `hash` are empty until it is sealed.
#[derive(Debug, Clone, Queryable, Selectable, PartialEq)]
#[diesel(table_name = audit_events)]
pub struct Event {
    /// Row id, in the order events were appended on one instance; pages of searches.
    pub id: i64,
    /// Place in the chain.
    pub seq: Option<i64>,
    pub at: i64,
    pub kind: String,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    /// The client address the act came from, when it came over the network.
    pub ip: Option<String>,
    /// JSON object with the event's particulars.
    pub detail: String,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

struct NewEvent {
    at: i64,
    kind: &'static str,
    user_id: Option<String>,
    client_id: Option<String>,
    ip: Option<String>,
    detail: String,
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
    /// A service was told of an ended session by back-channel logout, or could not be
    /// (the detail says which, and after how many attempts).
    LogoutNotified,
    /// A used code or rotated refresh token came back; its grant was revoked.
    TokenReplayed,
    /// Tokens about a citizen were issued to a client (a code redeemed, a refresh).
    TokensIssued,
    /// Tokens issued were never sent, because they could not be signed: the code or
    /// refresh token is usable again.
    TokensWithdrawn,
    /// The citizen allowed a service the scopes it asked for.
    ConsentGiven,
    /// The citizen's password was changed.
    PasswordChanged,
    /// The citizen agreed to keep a biometric template (which text, for what).
    BiometricConsentGiven,
    /// The citizen withdrew it; the template was destroyed in the same transaction.
    BiometricConsentWithdrawn,
    /// The citizen changed their e-mail address or mobile number (after a code sent to
    /// the new one came back).
    ContactChanged,
    /// A registration for face sign-in with a document waits for a clerk.
    RegistrationSubmitted,
    /// A live capture did not match the document's portrait.
    RegistrationFailed,
    /// The citizen cancelled a registration (or withdrew their consent); its pictures
    /// and templates were destroyed.
    RegistrationWithdrawn,
    /// A clerk approved a registration: the face became a sign-in factor.
    RegistrationApproved,
    /// A clerk rejected a registration, with a reason.
    RegistrationRejected,
    /// A clerk looked at a registration's document photo or live frame.
    RegistrationEvidenceViewed,
    /// Administration (the CLI, the Admin API); the detail's `by` says who acted.
    ClientCreated,
    ClientUpdated,
    ClientRemoved,
    ClientSecretRotated,
    /// An initial access token for dynamic client registration was made.
    RegistrationTokenIssued,
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
    /// A signing key that no longer signed was withdrawn before its time.
    KeyRetired,
    /// Everything the previous key-encryption key sealed was re-sealed by the new one.
    KekRotated,
    /// The policy (levels, scopes, lockout, sessions) was changed.
    PolicyChanged,
    /// The secret transform of the biometric templates was renewed; they all moved.
    BiometricTransformRenewed,
    /// An account was given an administrative role (administrator, clerk, auditor).
    RoleGranted,
    /// An account's administrative role was taken away.
    RoleRevoked,
}

impl Kind {
    pub const ALL: [Kind; 43] = [
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
        Kind::LogoutNotified,
        Kind::TokenReplayed,
        Kind::TokensIssued,
        Kind::TokensWithdrawn,
        Kind::ConsentGiven,
        Kind::PasswordChanged,
        Kind::BiometricConsentGiven,
        Kind::BiometricConsentWithdrawn,
        Kind::ContactChanged,
        Kind::RegistrationSubmitted,
        Kind::RegistrationFailed,
        Kind::RegistrationWithdrawn,
        Kind::RegistrationApproved,
        Kind::RegistrationRejected,
        Kind::RegistrationEvidenceViewed,
        Kind::ClientCreated,
        Kind::ClientUpdated,
        Kind::ClientRemoved,
        Kind::ClientSecretRotated,
        Kind::RegistrationTokenIssued,
        Kind::UserCreated,
        Kind::UserUpdated,
        Kind::UserDisabled,
        Kind::UserEnabled,
        Kind::UserRemoved,
        Kind::PasswordSet,
        Kind::KeysRotated,
        Kind::KeyRetired,
        Kind::KekRotated,
        Kind::PolicyChanged,
        Kind::BiometricTransformRenewed,
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
            Kind::LogoutNotified => "logout.notified",
            Kind::TokenReplayed => "token.replayed",
            Kind::TokensIssued => "token.issued",
            Kind::TokensWithdrawn => "token.withdrawn",
            Kind::ConsentGiven => "consent.given",
            Kind::PasswordChanged => "password.changed",
            Kind::BiometricConsentGiven => "biometric.consent-given",
            Kind::BiometricConsentWithdrawn => "biometric.consent-withdrawn",
            Kind::ContactChanged => "contact.changed",
            Kind::RegistrationSubmitted => "registration.submitted",
            Kind::RegistrationFailed => "registration.failed",
            Kind::RegistrationWithdrawn => "registration.withdrawn",
            Kind::RegistrationApproved => "registration.approved",
            Kind::RegistrationRejected => "registration.rejected",
            Kind::RegistrationEvidenceViewed => "registration.evidence-viewed",
            Kind::ClientCreated => "client.created",
            Kind::ClientUpdated => "client.updated",
            Kind::ClientRemoved => "client.removed",
            Kind::RegistrationTokenIssued => "client.registration-token-issued",
            Kind::ClientSecretRotated => "client.secret-rotated",
            Kind::UserCreated => "user.created",
            Kind::UserUpdated => "user.updated",
            Kind::UserDisabled => "user.disabled",
            Kind::UserEnabled => "user.enabled",
            Kind::UserRemoved => "user.removed",
            Kind::PasswordSet => "password.set",
            Kind::KeysRotated => "keys.rotated",
            Kind::KeyRetired => "key.retired",
            Kind::KekRotated => "kek.rotated",
            Kind::PolicyChanged => "policy.changed",
            Kind::BiometricTransformRenewed => "biometrics.transform-renewed",
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

/// Appends an event in the caller's transaction (so it is on record exactly when the act
/// is). Nothing shared is written: concurrent appends do not wait
/// for one another; the sealer chains them later.
pub fn append(conn: &mut AnyConnection, e: Entry, now: i64) -> StoreResult<()> {
    append_from(conn, e, None, now)
}

/// `append`, noting the client address the act came from.
pub fn append_from(
    conn: &mut AnyConnection,
    e: Entry,
    ip: Option<IpAddr>,
    now: i64,
) -> StoreResult<()> {
    Insert(&NewEvent {
        at: now,
        kind: e.kind.name(),
        user_id: e.user_id.map(str::to_string),
        client_id: e.client_id.map(str::to_string),
        ip: ip.map(|a| a.to_string()),
        detail: e.detail.to_string(),
    })
    .execute(conn)
}

crate::store::fixed::insert!(NewEvent => audit_events {
    at: BigInt,
    kind: Text,
    user_id: Nullable<Text>,
    client_id: Nullable<Text>,
    ip: Nullable<Text>,
    detail: Text,
});

/// Seals pending events, a batch per transaction, until none is left; signs a checkpoint
/// when the last is older than `checkpoint_every` seconds. Returns what the rounds did.
pub fn seal_pending(
    db: &crate::store::Db,
    kek: &crate::keys::kek::Kek,
    issuer: &str,
    checkpoint_every: i64,
    now: i64,
) -> StoreResult<chain::Sealed> {
    let mut total = chain::Sealed::default();
    loop {
        let round = db.tx(|c| chain::seal(c, kek, issuer, checkpoint_every, now))?;
        total.events += round.events;
        total.checkpoint = round.checkpoint.or(total.checkpoint);
        if round.events < chain::BATCH as usize {
            return Ok(total);
        }
    }
}

/// How many events of each of `kinds` fell into each `bucket`-second interval from
/// `from` to `until`: `(interval index, kind, count)`, intervals without events left out.
pub fn counts(
    conn: &mut AnyConnection,
    kinds: &[Kind],
    from: i64,
    until: i64,
    bucket: i64,
) -> StoreResult<Vec<(i64, Kind, i64)>> {
    use diesel::sql_types::{BigInt, Text};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        b: i64,
        #[diesel(sql_type = Text)]
        kind: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    // The names are this module's own constants, never input.
    let names: Vec<String> = kinds.iter().map(|k| format!("'{}'", k.name())).collect();
    let sql = |p: [&str; 4]| {
        format!(
            "SELECT (at - {}) / {} AS b, kind, COUNT(*) AS n FROM audit_events \
             WHERE at >= {} AND at < {} AND kind IN ({}) GROUP BY 1, 2",
            p[0],
            p[1],
            p[2],
            p[3],
            names.join(", ")
        )
    };
    let rows: Vec<Row> = match conn {
        AnyConnection::Sqlite(c) => diesel::sql_query(sql(["?", "?", "?", "?"]))
            .bind::<BigInt, _>(from)
            .bind::<BigInt, _>(bucket)
            .bind::<BigInt, _>(from)
            .bind::<BigInt, _>(until)
            .load(c)?,
        AnyConnection::Postgresql(c) => diesel::sql_query(sql(["$1", "$2", "$3", "$4"]))
            .bind::<BigInt, _>(from)
            .bind::<BigInt, _>(bucket)
            .bind::<BigInt, _>(from)
            .bind::<BigInt, _>(until)
            .load(c)?,
    };
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((r.b, Kind::parse(&r.kind)?, r.n)))
        .collect())
}

/// The newest events of one citizen.
pub fn of_user(conn: &mut AnyConnection, user_id: &str, limit: i64) -> StoreResult<Vec<Event>> {
    page_of_user(conn, user_id, None, limit)
}

/// As `of_user`, from the events older than row `before` (the next page back).
pub fn page_of_user(
    conn: &mut AnyConnection,
    user_id: &str,
    before: Option<i64>,
    limit: i64,
) -> StoreResult<Vec<Event>> {
    let mut q = audit_events::table
        .filter(audit_events::user_id.eq(user_id))
        .into_boxed();
    if let Some(b) = before {
        q = q.filter(audit_events::id.lt(b));
    }
    Ok(q.order(audit_events::id.desc())
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
    /// Only events with a greater row id (paging).
    pub after_id: Option<i64>,
}

/// Events matching the filter, in the order they were appended, at most `limit`.
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
    if let Some(s) = f.after_id {
        q = q.filter(audit_events::id.gt(s));
    }
    Ok(q.order(audit_events::id)
        .limit(limit)
        .select(Event::as_select())
        .load(conn)?)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod kind_tests {
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
