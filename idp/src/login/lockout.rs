//! Lockout: after three failed attempts of a factor, the account's use of that factor is
//! locked for a period that doubles with every lock (one minute, two, four, ... at most a
//! day) until the factor succeeds again. An unknown username is locked the same way, so
//! that the behaviour does not tell whether an account exists.

use crate::audit::{self, Entry};
use crate::crypto;
use crate::store::lockouts::{self, Lockout};
use crate::store::{AnyConnection, StoreResult};
use authenticators::FactorKind;
use serde_json::json;

pub const MAX_FAILURES: i32 = 3;
const FIRST_LOCK: i64 = 60;
const LONGEST_LOCK: i64 = 24 * 3600;

/// The key lockouts are kept under: the account id, or a hash of an unknown username.
pub fn subject(user_id: Option<&str>, username: &str) -> String {
    match user_id {
        Some(id) => id.to_string(),
        None => format!(
            "unknown:{}",
            crypto::secret_hash(&username.trim().to_lowercase())
        ),
    }
}

/// When the factor is locked at `now`, until when.
pub fn locked_until(
    conn: &mut AnyConnection,
    subject: &str,
    factor: FactorKind,
    now: i64,
) -> StoreResult<Option<i64>> {
    Ok(lockouts::find(conn, subject, factor.name())?
        .map(|l| l.locked_until)
        .filter(|until| *until > now))
}

/// The counter after one more failure; `Some(until)` when this failure locks the factor.
pub fn after_failure(
    prev: Option<Lockout>,
    subject: &str,
    factor: FactorKind,
    now: i64,
) -> (Lockout, Option<i64>) {
    let mut l = prev.unwrap_or(Lockout {
        subject: subject.to_string(),
        factor: factor.name().to_string(),
        failures: 0,
        locks: 0,
        locked_until: 0,
        updated_at: now,
    });
    if l.failures >= MAX_FAILURES && l.locked_until <= now {
        // The previous lock has run out: a fresh round of attempts.
        l.failures = 0;
    }
    l.failures += 1;
    l.updated_at = now;
    let mut locked = None;
    if l.failures >= MAX_FAILURES {
        let period = (FIRST_LOCK << l.locks.min(20)).min(LONGEST_LOCK);
        l.locks += 1;
        l.locked_until = now + period;
        locked = Some(l.locked_until);
    }
    (l, locked)
}

/// The account a lockout subject stands for, if it is one.
fn account(subject: &str) -> Option<&str> {
    (!subject.starts_with("unknown:")).then_some(subject)
}

/// Counts a failure, audited; returns `Some(until)` when it locks the factor.
pub fn record_failure(
    conn: &mut AnyConnection,
    subject: &str,
    factor: FactorKind,
    now: i64,
) -> StoreResult<Option<i64>> {
    let prev = lockouts::find(conn, subject, factor.name())?;
    let (next, locked) = after_failure(prev, subject, factor, now);
    lockouts::save(conn, &next)?;
    let user_id = account(subject);
    let failed = Entry {
        kind: "auth.failed",
        user_id,
        client_id: None,
        detail: json!({ "factor": factor.name() }),
    };
    audit::append(conn, failed, now)?;
    if let Some(until) = locked {
        let detail =
            json!({ "factor": factor.name(), "until": until, "known_account": user_id.is_some() });
        audit::append(
            conn,
            Entry {
                kind: "factor.locked",
                user_id,
                client_id: None,
                detail,
            },
            now,
        )?;
    }
    Ok(locked)
}

/// Clears the counter after a success, audited.
pub fn record_success(
    conn: &mut AnyConnection,
    subject: &str,
    factor: FactorKind,
    now: i64,
) -> StoreResult<()> {
    lockouts::clear(conn, subject, factor.name())?;
    let detail = json!({ "factor": factor.name() });
    audit::append(
        conn,
        Entry {
            kind: "auth.succeeded",
            user_id: account(subject),
            client_id: None,
            detail,
        },
        now,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn third_failure_locks_and_each_lock_lasts_twice_as_long() {
        let f = FactorKind::Password;
        let (l, locked) = after_failure(None, "u", f, 1000);
        assert_eq!((l.failures, locked), (1, None));
        let (l, locked) = after_failure(Some(l), "u", f, 1001);
        assert_eq!(locked, None);
        let (l, locked) = after_failure(Some(l), "u", f, 1002);
        assert_eq!(locked, Some(1062));
        // After the lock ends, three more failures lock for two minutes.
        let (l, _) = after_failure(Some(l), "u", f, 1100);
        let (l, _) = after_failure(Some(l), "u", f, 1101);
        let (l, locked) = after_failure(Some(l), "u", f, 1102);
        assert_eq!(locked, Some(1102 + 120));
        assert_eq!(l.locks, 2);
    }

    #[test]
    fn unknown_usernames_have_a_subject_of_their_own() {
        assert_eq!(subject(None, "Nobody "), subject(None, "nobody"));
        assert_ne!(subject(None, "nobody"), subject(Some("u1"), "nobody"));
    }
}
