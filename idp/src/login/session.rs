//! Starting, raising and resuming the citizen's browser session. The cookie secret (the
//! session id) is replaced on every login and every step-up, so that a session id planted
//! or seen before is worthless afterwards; `sid`, the public identifier put in ID tokens,
//! stays the same across step-ups of one login.

use crate::crypto;
use crate::policy::{Level, Policy};
use crate::store::sessions::{self, BrowserSession};
use crate::store::{AnyConnection, StoreResult};
use authenticators::FactorKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimes {
    pub idle: i64,
    pub max: i64,
}

/// RFC 8176 values for a set of completed factors, with `mfa` when there are several.
pub fn amr_of(factors: &[FactorKind]) -> Vec<String> {
    let mut amr: Vec<String> = Vec::new();
    for f in factors {
        if !amr.iter().any(|a| a == f.amr()) {
            amr.push(f.amr().to_string());
        }
    }
    if factors.len() > 1 {
        amr.push("mfa".into());
    }
    amr
}

fn build(
    user_id: &str,
    sid: String,
    factors: &[FactorKind],
    policy: &Policy,
    created_at: i64,
    times: &SessionTimes,
    now: i64,
) -> (String, BrowserSession) {
    let level = policy.achieved(factors).unwrap_or(Level::Low);
    let names: Vec<&str> = factors.iter().map(|f| f.name()).collect();
    let cookie = crypto::random_token();
    let session = BrowserSession {
        id: crypto::secret_hash(&cookie),
        sid,
        user_id: user_id.to_string(),
        acr: level.acr().to_string(),
        amr: serde_json::Value::from(amr_of(factors)).to_string(),
        auth_time: now,
        created_at,
        last_seen: now,
        idle_expires_at: now + times.idle,
        expires_at: created_at + times.max,
        factors: serde_json::Value::from(names).to_string(),
    };
    (cookie, session)
}

/// Replaces the browser's session (if any) with a new one for `user_id`, authenticated
/// now by `factor`. Returns the cookie value and the session.
pub fn start(
    conn: &mut AnyConnection,
    previous_cookie: Option<&str>,
    user_id: &str,
    factor: FactorKind,
    policy: &Policy,
    times: &SessionTimes,
    now: i64,
) -> StoreResult<(String, BrowserSession)> {
    if let Some(old) = previous_cookie {
        sessions::delete(conn, &crypto::secret_hash(old))?;
    }
    let (cookie, session) = build(
        user_id,
        crypto::random_id(),
        &[factor],
        policy,
        now,
        times,
        now,
    );
    sessions::insert(conn, &session)?;
    Ok((cookie, session))
}

/// Adds a factor to a live session: a new session id with the factors so far plus this
/// one, the same `sid`, `auth_time` now.
pub fn step_up(
    conn: &mut AnyConnection,
    current: &BrowserSession,
    factor: FactorKind,
    policy: &Policy,
    times: &SessionTimes,
    now: i64,
) -> StoreResult<(String, BrowserSession)> {
    let mut factors = current.factor_list();
    if !factors.contains(&factor) {
        factors.push(factor);
    }
    sessions::delete(conn, &current.id)?;
    let (cookie, session) = build(
        &current.user_id,
        current.sid.clone(),
        &factors,
        policy,
        current.created_at,
        times,
        now,
    );
    sessions::insert(conn, &session)?;
    Ok((cookie, session))
}

/// The live session behind a cookie value, with its idle deadline moved forward.
pub fn resume(
    conn: &mut AnyConnection,
    cookie: Option<&str>,
    idle: i64,
    now: i64,
) -> StoreResult<Option<BrowserSession>> {
    let Some(cookie) = cookie else {
        return Ok(None);
    };
    let hash = crypto::secret_hash(cookie);
    let Some(mut s) = sessions::find_live(conn, &hash, now)? else {
        return Ok(None);
    };
    // Written at most once a minute, to spare the database on busy sessions.
    if now - s.last_seen >= 60 {
        sessions::extend(conn, &hash, now, idle)?;
        s.last_seen = now;
        s.idle_expires_at = now + idle;
    }
    Ok(Some(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amr_lists_each_method_once_and_mfa_for_several() {
        assert_eq!(amr_of(&[FactorKind::Password]), vec!["pwd"]);
        assert_eq!(
            amr_of(&[FactorKind::Password, FactorKind::Totp]),
            vec!["pwd", "otp", "mfa"]
        );
    }
}
