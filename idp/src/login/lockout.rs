//! Lockout: after three failed attempts of a factor (by default; the policy says), the
//! account's use of that factor is locked for a period that doubles with every lock (one
//! minute, two, four, ... at most a day) until the factor succeeds again. An unknown username is locked the same way, so
//! that the behaviour does not tell whether an account exists.

use crate::crypto;
use crate::store::lockouts::Lockout;

const LONGEST_LOCK: i64 = 24 * 3600;

/// How many failures lock a factor, and for how long the first lock lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutRule {
    pub max_failures: i32,
    /// Seconds; each further lock doubles it.
    pub first_lock: i64,
}

impl LockoutRule {
    /// Three failures, then a minute (the security specification's rule).
    pub const DEFAULT: LockoutRule = LockoutRule {
        max_failures: 3,
        first_lock: 60,
    };
}

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

/// The counter after one more failure; `Some(until)` when this failure locks the factor.
pub fn after_failure(mut l: Lockout, rule: LockoutRule, now: i64) -> (Lockout, Option<i64>) {
    if l.failures >= rule.max_failures && l.locked_until <= now {
        // The previous lock has run out: a fresh round of attempts.
        l.failures = 0;
    }
    l.failures += 1;
    l.updated_at = now;
    let mut locked = None;
    if l.failures >= rule.max_failures {
        let period = (rule.first_lock << l.locks.min(20)).min(LONGEST_LOCK);
        l.locks += 1;
        l.locked_until = now + period;
        locked = Some(l.locked_until);
    }
    (l, locked)
}

/// The counter after a success: a fresh start, the lock history forgotten.
pub fn after_success(mut l: Lockout, now: i64) -> Lockout {
    l.failures = 0;
    l.locks = 0;
    l.locked_until = 0;
    l.updated_at = now;
    l
}

/// Clears the failures counted against `factor` of `user_id` and its lock, as a success
/// would (in the caller's transaction).
pub fn clear(
    conn: &mut crate::store::AnyConnection,
    user_id: &str,
    factor: authenticators::FactorKind,
    now: i64,
) -> crate::store::StoreResult<()> {
    let counter = crate::store::lockouts::lock(conn, user_id, factor.name(), now)?;
    crate::store::lockouts::save(conn, &after_success(counter, now))
}

/// Lifts the lock on one factor of an account because the citizen proved `with` (another
/// of their factors), audited in the caller's transaction.
pub fn lift(
    conn: &mut crate::store::AnyConnection,
    user_id: &str,
    factor: authenticators::FactorKind,
    with: authenticators::FactorKind,
    now: i64,
) -> crate::store::StoreResult<()> {
    clear(conn, user_id, factor, now)?;
    let entry = crate::audit::Entry {
        kind: crate::audit::Kind::FactorSelfUnlocked,
        user_id: Some(user_id),
        client_id: None,
        detail: serde_json::json!({ "factor": factor.name(), "with": with.name() }),
    };
    crate::audit::append(conn, entry, now)?;
    Ok(())
}

/// The account a lockout subject stands for, if it is one.
pub fn account(subject: &str) -> Option<&str> {
    (!subject.starts_with("unknown:")).then_some(subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: LockoutRule = LockoutRule::DEFAULT;

    fn fresh() -> Lockout {
        Lockout {
            subject: "u".into(),
            factor: "password".into(),
            failures: 0,
            locks: 0,
            locked_until: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn third_failure_locks_and_each_lock_lasts_twice_as_long() {
        let (l, locked) = after_failure(fresh(), R, 1000);
        assert_eq!((l.failures, locked), (1, None));
        let (l, locked) = after_failure(l, R, 1001);
        assert_eq!(locked, None);
        let (l, locked) = after_failure(l, R, 1002);
        assert_eq!(locked, Some(1062));
        // After the lock ends, three more failures lock for two minutes.
        let (l, _) = after_failure(l, R, 1100);
        let (l, _) = after_failure(l, R, 1101);
        let (l, locked) = after_failure(l, R, 1102);
        assert_eq!(locked, Some(1102 + 120));
        assert_eq!(l.locks, 2);
        // A success forgets it all.
        let l = after_success(l, 1200);
        let (_, locked) = after_failure(
            after_failure(after_failure(l, R, 1201).0, R, 1202).0,
            R,
            1203,
        );
        assert_eq!(locked, Some(1203 + 60));
    }

    #[test]
    fn unknown_usernames_have_a_subject_of_their_own() {
        assert_eq!(subject(None, "Nobody "), subject(None, "nobody"));
        assert_ne!(subject(None, "nobody"), subject(Some("u1"), "nobody"));
    }
}
