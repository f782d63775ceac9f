//! Starting and ending the citizen's browser session. A new session (new cookie secret,
//! new `sid`) is made on every successful login, so that a session id planted before
//! login is worthless afterwards.

use crate::crypto;
use crate::policy::Level;
use crate::store::sessions::{self, BrowserSession};
use crate::store::{AnyConnection, StoreResult};

pub struct SessionTimes {
    pub idle: i64,
    pub max: i64,
}

/// Replaces the browser's session (if any) with a new one for `user_id`, authenticated
/// now by `amr`. Returns the cookie value and the session.
pub fn start(
    conn: &mut AnyConnection,
    previous_cookie: Option<&str>,
    user_id: &str,
    amr: &[&str],
    times: &SessionTimes,
    now: i64,
) -> StoreResult<(String, BrowserSession)> {
    if let Some(old) = previous_cookie {
        sessions::delete(conn, &crypto::secret_hash(old))?;
    }
    let amr: Vec<String> = amr.iter().map(|s| s.to_string()).collect();
    let level = Level::achieved_by(&amr).unwrap_or(Level::Low);
    let cookie = crypto::random_token();
    let session = BrowserSession {
        id: crypto::secret_hash(&cookie),
        sid: crypto::random_id(),
        user_id: user_id.to_string(),
        acr: level.acr().to_string(),
        amr: serde_json::Value::from(amr).to_string(),
        auth_time: now,
        created_at: now,
        last_seen: now,
        idle_expires_at: now + times.idle,
        expires_at: now + times.max,
    };
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
