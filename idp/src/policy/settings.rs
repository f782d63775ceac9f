//! The policy as administrators edit it (`admin::policy`, the Admin API's `/policy`): the
//! factor combinations that reach each level, the risk levels of scopes, the lockout and
//! the session lifetimes. Until an administrator changes it, it is what the configuration
//! file says; once changed, the stored one applies on every instance (each checks the
//! stored version every second). `Settings::compile` validates it once into the `Rules`
//! the library runs on.

use super::{ADMIN_SCOPE, Level, Policy, PolicyConfig};
use crate::login::lockout::LockoutRule;
use crate::login::session::SessionTimes;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Factor combinations per level, by factor name (`password`, `totp`, `webauthn`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelSettings {
    /// Each combination reaches `substantial` (a higher level's do too).
    pub substantial: Vec<Vec<String>>,
    pub high: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LockoutSettings {
    /// Failed attempts of a factor that lock it (1-10).
    pub attempts: i32,
    /// The first lock, in seconds (1-3600); each further lock doubles it, up to a day.
    pub first_lock_seconds: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    /// A sign-in session ends after this long without use (60 s to 1 day).
    pub idle_seconds: i64,
    /// ... and after this long whatever happens (at least the idle time, at most 7 days).
    pub max_seconds: i64,
}

/// The editable policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub levels: LevelSettings,
    /// Risk level (`low`, `substantial`, `high`) of each API scope clients may be
    /// registered for; `admin` is always `high`.
    pub scopes: BTreeMap<String, String>,
    pub lockout: LockoutSettings,
    pub sessions: SessionSettings,
}

/// The policy the library runs on, validated.
#[derive(Debug, Clone)]
pub struct Rules {
    pub policy: Policy,
    pub lockout: LockoutRule,
    pub sessions: SessionTimes,
    /// As given, for reading back.
    pub settings: Settings,
}

/// Why settings were refused: the field (as the Admin API names it) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Invalid {
    Invalid {
        field,
        reason: reason.into(),
    }
}

impl Settings {
    /// What the configuration file (with its defaults) says.
    pub fn from_config(policy: &Policy, idle: i64, max: i64) -> Settings {
        let names = |combos: &[Vec<authenticators::FactorKind>]| {
            combos
                .iter()
                .map(|c| c.iter().map(|f| f.name().to_string()).collect())
                .collect()
        };
        Settings {
            levels: LevelSettings {
                substantial: names(&policy.substantial),
                high: names(&policy.high),
            },
            scopes: policy
                .scopes
                .iter()
                .map(|(s, l)| (s.clone(), l.name().to_string()))
                .collect(),
            lockout: LockoutSettings {
                attempts: LockoutRule::DEFAULT.max_failures,
                first_lock_seconds: LockoutRule::DEFAULT.first_lock,
            },
            sessions: SessionSettings {
                idle_seconds: idle,
                max_seconds: max,
            },
        }
    }

    /// Validates the settings into rules, naming the first field that is wrong.
    pub fn compile(&self) -> Result<Rules, Invalid> {
        for scope in self.scopes.keys() {
            let ok = !scope.is_empty()
                && scope.len() <= 64
                && scope
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._:-/".contains(c));
            if !ok {
                return Err(invalid(
                    "scopes",
                    format!("{scope:?}: a scope is 1-64 letters, digits and . _ : - /"),
                ));
            }
        }
        let config = PolicyConfig {
            substantial: Some(self.levels.substantial.clone()),
            high: Some(self.levels.high.clone()),
            scopes: self.scopes.clone().into_iter().collect(),
        };
        if self.levels.high.is_empty() {
            return Err(invalid("levels", "high needs at least one combination"));
        }
        let policy = Policy::from_config(&config).map_err(|e| {
            let field = if e.starts_with("scope") {
                "scopes"
            } else {
                "levels"
            };
            invalid(field, e)
        })?;
        if policy.scopes.get(ADMIN_SCOPE) != Some(&Level::High) {
            return Err(invalid("scopes", "admin is always high"));
        }
        let l = self.lockout;
        if !(1..=10).contains(&l.attempts) {
            return Err(invalid("lockout", "attempts: 1 to 10"));
        }
        if !(1..=3600).contains(&l.first_lock_seconds) {
            return Err(invalid("lockout", "first_lock_seconds: 1 to 3600"));
        }
        let s = self.sessions;
        if !(60..=86_400).contains(&s.idle_seconds) {
            return Err(invalid("sessions", "idle_seconds: 60 to 86400"));
        }
        if !(s.idle_seconds..=7 * 86_400).contains(&s.max_seconds) {
            return Err(invalid(
                "sessions",
                "max_seconds: at least idle_seconds, at most 604800",
            ));
        }
        Ok(Rules {
            policy,
            lockout: LockoutRule {
                max_failures: l.attempts,
                first_lock: l.first_lock_seconds,
            },
            sessions: SessionTimes {
                idle: s.idle_seconds,
                max: s.max_seconds,
            },
            settings: self.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Settings {
        Settings::from_config(&Policy::default(), 900, 43_200)
    }

    #[test]
    fn the_configured_policy_reads_back_and_compiles_to_itself() {
        let s = defaults();
        assert_eq!(s.scopes.get("admin").map(String::as_str), Some("high"));
        assert_eq!(s.lockout.attempts, 3);
        let rules = s.compile().unwrap();
        assert_eq!(rules.settings, s);
        assert_eq!(rules.sessions.idle, 900);
    }

    #[test]
    fn each_wrong_field_is_named() {
        let field = |f: &dyn Fn(&mut Settings)| {
            let mut s = defaults();
            f(&mut s);
            s.compile().unwrap_err().field
        };
        assert_eq!(
            field(&|s| s.levels.high = vec![vec!["voice".into()]]),
            "levels"
        );
        assert_eq!(
            field(&|s| s.levels.high = vec![vec!["retina".into()]]),
            "levels"
        );
        assert_eq!(field(&|s| s.levels.high.clear()), "levels");
        assert_eq!(
            field(&|s| {
                s.scopes.insert("admin".into(), "low".into());
            }),
            "scopes"
        );
        assert_eq!(
            field(&|s| {
                s.scopes.insert("tax read".into(), "low".into());
            }),
            "scopes"
        );
        assert_eq!(
            field(&|s| {
                s.scopes.insert("tax.read".into(), "medium".into());
            }),
            "scopes"
        );
        assert_eq!(field(&|s| s.lockout.attempts = 0), "lockout");
        assert_eq!(field(&|s| s.sessions.max_seconds = 10), "sessions");
    }
}
