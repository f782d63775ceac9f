//! One check path for every factor. In one transaction: take the factor's lockout counter
//! (a row lock; the write lock on SQLite), refuse if it is locked, verify, count the
//! failure or clear the counter, and audit; the caller updates the session in the same
//! transaction. Concurrent guesses therefore queue behind one another and every one of
//! them is counted before the next is verified: none can slip past a lock that an earlier
//! one set. Each factor module only says how it verifies.

pub mod certificate;
pub mod codes;
pub mod face;
pub mod password;
pub mod voice;
pub mod webauthn;

/// Who holds the challenge of a sign-in that names the account only by its answer (the
/// face 1:N, a passkey without a username): the login transaction.
pub fn holder_of_transaction(tx: &str) -> String {
    format!("transaction:{tx}")
}

use super::lockout::{self, LockoutRule};
use crate::audit::{self, Entry, Kind};
use crate::store::lockouts;
use crate::store::{AnyConnection, StoreResult};
use authenticators::FactorKind;
use serde_json::json;

/// Whose factor is tried.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The lockout subject: the account id, or a hash of an unknown username
    /// (`lockout::subject`).
    pub subject: &'a str,
    pub factor: FactorKind,
    /// The client address the attempt came from (for the audit log).
    pub ip: Option<std::net::IpAddr>,
    /// The service the citizen is signing in to, if any (for the audit log: the citizen
    /// sees which service used which of their factors).
    pub client_id: Option<&'a str>,
    /// How many failures lock the factor, and for how long (the policy's).
    pub rule: LockoutRule,
}

/// Why a factor was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The response did not match.
    Wrong,
    /// Too many failures: locked until then. `now` is true when this attempt set the
    /// lock (the citizen is then told).
    Locked { until: i64, now: bool },
    /// No valid certificate of a known account.
    Certificate,
}

#[derive(Debug)]
pub enum Checked<T> {
    Accepted(T),
    Refused(Refusal),
}

/// Runs one attempt of a factor inside the caller's transaction. `verify` sees the
/// database with the counter locked and returns what the factor proved, or `None`.
pub fn check<T>(
    conn: &mut AnyConnection,
    attempt: Attempt,
    now: i64,
    verify: impl FnOnce(&mut AnyConnection) -> StoreResult<Option<T>>,
) -> StoreResult<Checked<T>> {
    let factor = attempt.factor.name();
    let ip = attempt.ip;
    let client = attempt.client_id;
    let counter = lockouts::lock(conn, attempt.subject, factor, now)?;
    let user_id = lockout::account(attempt.subject);
    if counter.locked_until > now {
        crate::metrics::get().factor_check(factor, crate::metrics::Outcome::Refused);
        let detail = json!({ "factor": factor, "reason": "locked" });
        audit::append_from(
            conn,
            entry(Kind::SignInFailed, user_id, client, detail),
            ip,
            now,
        )?;
        return Ok(Checked::Refused(Refusal::Locked {
            until: counter.locked_until,
            now: false,
        }));
    }
    match verify(conn)? {
        Some(proved) => {
            crate::metrics::get().factor_check(factor, crate::metrics::Outcome::Accepted);
            lockouts::save(conn, &lockout::after_success(counter, now))?;
            let detail = json!({ "factor": factor });
            audit::append_from(
                conn,
                entry(Kind::SignedIn, user_id, client, detail),
                ip,
                now,
            )?;
            Ok(Checked::Accepted(proved))
        }
        None => {
            let (counted, locked) = lockout::after_failure(counter, attempt.rule, now);
            lockouts::save(conn, &counted)?;
            audit::append_from(
                conn,
                entry(
                    Kind::SignInFailed,
                    user_id,
                    client,
                    json!({ "factor": factor }),
                ),
                ip,
                now,
            )?;
            let Some(until) = locked else {
                crate::metrics::get().factor_check(factor, crate::metrics::Outcome::Refused);
                return Ok(Checked::Refused(Refusal::Wrong));
            };
            crate::metrics::get().factor_check(factor, crate::metrics::Outcome::Locked);
            let detail =
                json!({ "factor": factor, "until": until, "known_account": user_id.is_some() });
            audit::append_from(
                conn,
                entry(Kind::FactorLocked, user_id, client, detail),
                ip,
                now,
            )?;
            Ok(Checked::Refused(Refusal::Locked { until, now: true }))
        }
    }
}

fn entry<'a>(
    kind: Kind,
    user_id: Option<&'a str>,
    client_id: Option<&'a str>,
    detail: serde_json::Value,
) -> Entry<'a> {
    Entry {
        kind,
        user_id,
        client_id,
        detail,
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::store::Db;

    const T0: i64 = 1_800_000_000;

    fn attempt(db: &Db, right: bool, now: i64) -> Checked<()> {
        let a = Attempt {
            subject: "u-anna",
            factor: FactorKind::Totp,
            ip: None,
            client_id: None,
            rule: LockoutRule::DEFAULT,
        };
        db.tx(|c| check(c, a, now, |_| Ok(right.then_some(()))))
            .expect("check")
    }

    #[test]
    fn the_third_failure_locks_and_the_lock_holds_against_the_right_answer() {
        let (_dir, svc) = crate::service::for_tests();
        assert!(matches!(
            attempt(&svc.db, false, T0),
            Checked::Refused(Refusal::Wrong)
        ));
        assert!(matches!(
            attempt(&svc.db, false, T0 + 1),
            Checked::Refused(Refusal::Wrong)
        ));
        let Checked::Refused(Refusal::Locked { until, now: true }) =
            attempt(&svc.db, false, T0 + 2)
        else {
            panic!("the third failure locks")
        };
        assert_eq!(until, T0 + 2 + 60);
        assert!(matches!(
            attempt(&svc.db, true, T0 + 3),
            Checked::Refused(Refusal::Locked { now: false, .. })
        ));
        assert!(matches!(
            attempt(&svc.db, true, until),
            Checked::Accepted(())
        ));
        // A success starts the count afresh.
        assert!(matches!(
            attempt(&svc.db, false, until + 1),
            Checked::Refused(Refusal::Wrong)
        ));
    }

    /// Twenty threads guess at once; one has the right answer. Each check runs in its own
    /// transaction with the counter locked, so exactly three failures are counted before
    /// the lock, and the right answer is accepted only if it came before them.
    #[test]
    fn concurrent_checks_queue_behind_the_lock() {
        let (_dir, svc) = crate::service::for_tests();
        let results: Vec<(usize, Checked<()>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..20)
                .map(|i| {
                    let db = svc.db.clone();
                    s.spawn(move || (i, attempt(&db, i == 7, T0)))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let accepted = results
            .iter()
            .filter(|(_, r)| matches!(r, Checked::Accepted(())))
            .count();
        let wrong = results
            .iter()
            .filter(|(_, r)| matches!(r, Checked::Refused(Refusal::Wrong)))
            .count();
        let locking = results
            .iter()
            .filter(|(_, r)| matches!(r, Checked::Refused(Refusal::Locked { now: true, .. })))
            .count();
        assert!(accepted <= 1);
        if accepted == 0 {
            // Two wrong, the third locks, the other seventeen (the right one among them)
            // are refused as locked.
            assert_eq!((wrong, locking), (2, 1), "{results:?}");
        } else {
            // The right answer came first or after one or two failures and cleared them;
            // the rest then counted afresh: at most 2 + 2 wrong before a lock.
            assert!(wrong <= 4 && locking == 1, "{results:?}");
        }
        let events = svc
            .db
            .run(|c| crate::audit::of_user(c, "u-anna", 100))
            .unwrap();
        assert_eq!(
            events
                .iter()
                .filter(|e| matches!(e.kind(), Some(Kind::SignedIn | Kind::SignInFailed)))
                .count(),
            20,
            "every attempt is audited"
        );
    }
}
