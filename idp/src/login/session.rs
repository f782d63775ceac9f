//! Starting, raising and resuming the citizen's browser session. The cookie secret (the
//! session id) is replaced on every login and every step-up, so that a session id planted
//! or seen before is worthless afterwards; `sid`, the public identifier put in ID tokens,
//! stays the same across step-ups of one login.

use crate::crypto;
use crate::policy::{Level, Policy};
use crate::store::sessions::{self, BrowserSession};
use crate::store::{AnyConnection, StoreResult};
use authenticators::FactorKind;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

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

/// Where a session was signed in, as the citizen sees it beside their sessions: the
/// browser's and system's names (not the whole `User-Agent`) and the client address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl Device {
    pub fn of(user_agent: Option<&str>, address: Option<IpAddr>) -> Device {
        let ua = user_agent.unwrap_or("");
        // Order matters: Edge and Opera also say Chrome, Chrome also says Safari.
        const BROWSERS: [(&str, &str); 9] = [
            ("Edg/", "Edge"),
            ("EdgiOS/", "Edge"),
            ("OPR/", "Opera"),
            ("SamsungBrowser/", "Samsung Internet"),
            ("Firefox/", "Firefox"),
            ("FxiOS/", "Firefox"),
            ("CriOS/", "Chrome"),
            ("Chrome/", "Chrome"),
            ("Safari/", "Safari"),
        ];
        const SYSTEMS: [(&str, &str); 7] = [
            ("Android", "Android"),
            ("iPhone", "iOS"),
            ("iPad", "iPadOS"),
            ("Windows", "Windows"),
            ("CrOS", "ChromeOS"),
            ("Mac OS X", "macOS"),
            ("Linux", "Linux"),
        ];
        let find = |table: &[(&str, &'static str)]| {
            table
                .iter()
                .find(|(mark, _)| ua.contains(mark))
                .map(|(_, name)| name.to_string())
        };
        Device {
            browser: find(&BROWSERS),
            system: find(&SYSTEMS),
            address: address.map(|a| a.to_string()),
        }
    }

    /// As stored with the session.
    pub fn stored(&self) -> Option<String> {
        serde_json::to_string(self).ok()
    }

    /// "Chrome, Android": the browser and system as far as known, else `unknown`.
    pub fn name(&self, unknown: &str) -> String {
        match (&self.browser, &self.system) {
            (Some(b), Some(os)) => format!("{b}, {os}"),
            (Some(one), None) | (None, Some(one)) => one.clone(),
            (None, None) => unknown.to_string(),
        }
    }

    /// From a stored session; sessions from before devices were recorded have none.
    pub fn of_session(s: &BrowserSession) -> Device {
        s.device
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default()
    }
}

#[allow(clippy::too_many_arguments)]
fn build(
    user_id: &str,
    sid: String,
    factors: &[FactorKind],
    policy: &Policy,
    created_at: i64,
    times: &SessionTimes,
    now: i64,
    device: Option<String>,
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
        device,
    };
    (cookie, session)
}

/// Replaces the browser's session (if any) with a new one for `user_id`, authenticated
/// now by `factor` on `device`. Returns the cookie value and the session.
#[allow(clippy::too_many_arguments)]
pub fn start(
    conn: &mut AnyConnection,
    previous_cookie: Option<&str>,
    user_id: &str,
    factor: FactorKind,
    policy: &Policy,
    times: &SessionTimes,
    device: &Device,
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
        device.stored(),
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
        current.device.clone(),
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

    #[test]
    fn devices_are_named_by_browser_and_system_only() {
        let cases = [
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome",
                "Android",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                "Safari",
                "iOS",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
                "Edge",
                "Windows",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox",
                "Linux",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                "Safari",
                "macOS",
            ),
        ];
        for (ua, browser, system) in cases {
            let d = Device::of(Some(ua), Some("203.0.113.7".parse().unwrap()));
            assert_eq!(d.browser.as_deref(), Some(browser), "{ua}");
            assert_eq!(d.system.as_deref(), Some(system), "{ua}");
            assert_eq!(d.address.as_deref(), Some("203.0.113.7"));
        }
        let unknown = Device::of(Some("curl/8.5"), None);
        assert_eq!(unknown, Device::default());
        assert_eq!(unknown.stored().as_deref(), Some("{}"));
    }
}
