//! Risk levels and the assurance they require. `acr` values are the eIDAS levels of
//! assurance. Each level above `low` is reached by one of a list of factor combinations,
//! configurable per deployment; the default follows the assurance ladder: `low` is any one
//! factor, `substantial` two factors of different kinds, `high` two different factors of
//! which one is phishing-resistant and device-bound (WebAuthn, X.509). A client has a
//! default risk level, scopes can carry their own, and a request can ask for more with
//! `acr_values` (voluntary) or an essential `acr` claim (mandatory).

pub mod password;
pub mod settings;

use authenticators::{Category, FactorKind};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    Low,
    Substantial,
    High,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Low, Level::Substantial, Level::High];

    pub fn acr(self) -> &'static str {
        match self {
            Level::Low => "http://eidas.europa.eu/LoA/low",
            Level::Substantial => "http://eidas.europa.eu/LoA/substantial",
            Level::High => "http://eidas.europa.eu/LoA/high",
        }
    }

    pub fn from_acr(acr: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.acr() == acr)
    }

    /// The risk-level names used in configuration: `low`, `substantial`, `high`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Substantial => "substantial",
            Level::High => "high",
        }
    }

    pub fn from_name(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.name() == s)
    }
}

/// The scope of access tokens for the Admin API: built in, at risk level `high`, which a
/// deployment's policy may not lower.
pub const ADMIN_SCOPE: &str = "admin";

/// The policy section of the configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Factor combinations that reach `substantial`, e.g. `[["password", "totp"]]`.
    pub substantial: Option<Vec<Vec<String>>>,
    /// Factor combinations that reach `high`.
    pub high: Option<Vec<Vec<String>>>,
    /// Risk level per scope, e.g. `payments = "high"`.
    #[serde(default)]
    pub scopes: HashMap<String, String>,
}

/// The deployment's assurance policy.
#[derive(Debug, Clone)]
pub struct Policy {
    substantial: Vec<Vec<FactorKind>>,
    high: Vec<Vec<FactorKind>>,
    scopes: HashMap<String, Level>,
}

impl Default for Policy {
    fn default() -> Self {
        let mut substantial = Vec::new();
        let mut high = Vec::new();
        for (i, a) in FactorKind::ALL.iter().enumerate() {
            for b in &FactorKind::ALL[i + 1..] {
                if a.category() != b.category() {
                    substantial.push(vec![*a, *b]);
                }
                let resistant = |f: &FactorKind| f.category() == Category::PhishingResistant;
                if resistant(a) || resistant(b) {
                    high.push(vec![*a, *b]);
                }
            }
        }
        Policy {
            substantial,
            high,
            scopes: HashMap::from([(ADMIN_SCOPE.to_string(), Level::High)]),
        }
    }
}

impl Policy {
    pub fn from_config(c: &PolicyConfig) -> Result<Policy, String> {
        let combos = |v: &Vec<Vec<String>>| -> Result<Vec<Vec<FactorKind>>, String> {
            v.iter()
                .map(|combo| {
                    if combo.is_empty() {
                        return Err("an empty factor combination".to_string());
                    }
                    let kinds = combo
                        .iter()
                        .map(|n| FactorKind::parse(n).ok_or_else(|| format!("unknown factor {n}")))
                        .collect::<Result<Vec<_>, _>>()?;
                    if !kinds.iter().any(|k| k.may_stand_alone()) {
                        return Err(format!(
                            "{}: voice only adds to a factor that may stand alone",
                            combo.join(" + ")
                        ));
                    }
                    Ok(kinds)
                })
                .collect()
        };
        let mut p = Policy::default();
        if let Some(s) = &c.substantial {
            p.substantial = combos(s)?;
        }
        if let Some(h) = &c.high {
            p.high = combos(h)?;
        }
        for (scope, level) in &c.scopes {
            let l = Level::from_name(level)
                .ok_or_else(|| format!("scope {scope}: unknown risk level {level}"))?;
            if scope == ADMIN_SCOPE && l != Level::High {
                return Err(format!(
                    "scope {ADMIN_SCOPE}: the Admin API's scope is always at risk level high"
                ));
            }
            p.scopes.insert(scope.clone(), l);
        }
        Ok(p)
    }

    pub fn satisfies(&self, done: &[FactorKind], level: Level) -> bool {
        match level {
            // Voice only adds to another factor.
            Level::Low => done.iter().any(|f| f.may_stand_alone()),
            // A higher level satisfies a lower one.
            Level::Substantial => {
                self.satisfies(done, Level::High)
                    || self
                        .substantial
                        .iter()
                        .any(|c| c.iter().all(|f| done.contains(f)))
            }
            Level::High => self.high.iter().any(|c| c.iter().all(|f| done.contains(f))),
        }
    }

    /// The highest level the completed factors reach.
    pub fn achieved(&self, done: &[FactorKind]) -> Option<Level> {
        Level::ALL
            .into_iter()
            .rev()
            .find(|l| self.satisfies(done, *l))
    }

    /// Enrolled factors that bring `done` closer to `target`: the missing members of the
    /// reachable combinations for the target that need the fewest further factors.
    pub fn helpful(
        &self,
        done: &[FactorKind],
        enrolled: &[FactorKind],
        target: Level,
    ) -> Vec<FactorKind> {
        if self.satisfies(done, target) {
            return Vec::new();
        }
        let targets: Vec<&Vec<FactorKind>> = match target {
            Level::Low => {
                return enrolled
                    .iter()
                    .copied()
                    .filter(|f| f.may_stand_alone())
                    .collect();
            }
            Level::Substantial => self.substantial.iter().chain(self.high.iter()).collect(),
            Level::High => self.high.iter().collect(),
        };
        let missing: Vec<Vec<FactorKind>> = targets
            .into_iter()
            .filter(|combo| {
                combo
                    .iter()
                    .all(|f| done.contains(f) || enrolled.contains(f))
            })
            .map(|combo| {
                combo
                    .iter()
                    .filter(|f| !done.contains(f))
                    .copied()
                    .collect()
            })
            .collect();
        let fewest = missing.iter().map(Vec::len).min().unwrap_or(0);
        let mut out: Vec<FactorKind> = missing
            .into_iter()
            .filter(|m| m.len() == fewest)
            .flatten()
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The scopes the deployment gives a risk level (its API scopes).
    pub fn declared_scopes(&self) -> impl Iterator<Item = &str> {
        self.scopes.keys().map(String::as_str)
    }

    /// The highest risk level among the scopes.
    pub fn scope_level(&self, scopes: &[String]) -> Level {
        scopes
            .iter()
            .filter_map(|s| self.scopes.get(s))
            .copied()
            .max()
            .unwrap_or(Level::Low)
    }
}

/// What a request needs from the citizen's authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    pub level: Level,
    /// When true, a login that cannot reach `level` fails; otherwise the best achievable
    /// level is reported in `acr`.
    pub mandatory: bool,
}

/// Combines the client's and the scopes' risk levels (a floor, mandatory) with what the
/// request asks for. Unknown `acr` values are ignored; of several requested values the
/// lowest is enough (any of them satisfies the request).
pub fn requirement(
    floor: Level,
    acr_values: &[String],
    essential_acr: Option<&[String]>,
) -> Requirement {
    let lowest = |values: &[String]| values.iter().filter_map(|v| Level::from_acr(v)).min();
    let (asked, mandatory) = match essential_acr {
        Some(values) => (lowest(values), true),
        None => (lowest(acr_values), false),
    };
    let level = asked.map_or(floor, |a| a.max(floor));
    Requirement {
        level,
        mandatory: (mandatory && asked.is_some()) || floor > Level::Low,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FactorKind::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn voice_reaches_nothing_alone_and_adds_to_another_factor() {
        let p = Policy::default();
        assert_eq!(p.achieved(&[Voice]), None);
        assert_eq!(p.achieved(&[Password, Voice]), Some(Level::Substantial));
        // Face and voice are both inherence: not two independent kinds by default.
        assert_eq!(p.achieved(&[Face, Voice]), Some(Level::Low));
        assert_eq!(
            p.helpful(&[], &[Voice, Password], Level::Low),
            vec![Password]
        );
        let only_voice = PolicyConfig {
            substantial: Some(vec![v(&["voice"])]),
            ..Default::default()
        };
        let e = Policy::from_config(&only_voice).unwrap_err();
        assert!(e.contains("voice only adds"), "{e}");
        // A deployment may accept face and voice together (KAÜ-style biometrics).
        let both = PolicyConfig {
            substantial: Some(vec![v(&["face", "voice"])]),
            ..Default::default()
        };
        let p = Policy::from_config(&both).unwrap();
        assert_eq!(p.achieved(&[Face, Voice]), Some(Level::Substantial));
    }

    #[test]
    fn floor_is_mandatory() {
        let r = requirement(Level::Substantial, &v(&[Level::Low.acr()]), None);
        assert_eq!((r.level, r.mandatory), (Level::Substantial, true));
    }

    #[test]
    fn acr_values_are_voluntary_and_essential_acr_is_mandatory() {
        let r = requirement(Level::Low, &v(&[Level::High.acr()]), None);
        assert_eq!((r.level, r.mandatory), (Level::High, false));
        let ess = v(&[Level::High.acr(), Level::Substantial.acr()]);
        let r = requirement(Level::Low, &[], Some(&ess));
        assert_eq!((r.level, r.mandatory), (Level::Substantial, true));
        let r = requirement(Level::Low, &v(&["urn:unknown"]), None);
        assert_eq!((r.level, r.mandatory), (Level::Low, false));
    }

    #[test]
    fn default_ladder() {
        let p = Policy::default();
        assert_eq!(p.achieved(&[]), None);
        assert_eq!(p.achieved(&[Password]), Some(Level::Low));
        assert_eq!(p.achieved(&[Password, Totp]), Some(Level::Substantial));
        assert_eq!(
            p.achieved(&[Totp, RecoveryCode]),
            Some(Level::Low),
            "same category"
        );
        assert_eq!(p.achieved(&[Password, WebAuthn]), Some(Level::High));
        assert_eq!(p.achieved(&[Face, Certificate]), Some(Level::High));
        assert_eq!(
            p.achieved(&[Face, Voice]),
            Some(Level::Low),
            "two of the same category"
        );
    }

    #[test]
    fn step_up_asks_only_for_what_is_missing_and_reachable() {
        let p = Policy::default();
        assert_eq!(
            p.helpful(&[Password], &[Password, Totp], Level::Substantial),
            vec![Totp]
        );
        assert_eq!(
            p.helpful(&[Password], &[Password], Level::Substantial),
            vec![]
        );
        assert_eq!(
            p.helpful(&[Password, Totp], &[Password, Totp], Level::High),
            vec![]
        );
        assert_eq!(
            p.helpful(&[Password], &[Password, Totp, WebAuthn], Level::High),
            vec![WebAuthn]
        );
        assert_eq!(
            p.helpful(&[Password, Totp], &[Password, Totp], Level::Substantial),
            vec![]
        );
    }

    #[test]
    fn the_admin_scope_is_built_in_at_high() {
        let p = Policy::default();
        assert_eq!(p.scope_level(&[ADMIN_SCOPE.to_string()]), Level::High);
        assert!(p.declared_scopes().any(|s| s == ADMIN_SCOPE));
        let lowered = PolicyConfig {
            scopes: [(ADMIN_SCOPE.to_string(), "low".to_string())].into(),
            ..PolicyConfig::default()
        };
        assert!(Policy::from_config(&lowered).is_err());
        let configured = PolicyConfig {
            scopes: [("payments".to_string(), "substantial".to_string())].into(),
            ..PolicyConfig::default()
        };
        let p = Policy::from_config(&configured).unwrap();
        assert_eq!(p.scope_level(&[ADMIN_SCOPE.to_string()]), Level::High);
    }

    #[test]
    fn configured_combinations_and_scope_levels() {
        let c = PolicyConfig {
            substantial: Some(vec![v(&["password", "totp"])]),
            high: Some(vec![v(&["password", "webauthn"])]),
            scopes: [("payments".to_string(), "high".to_string())].into(),
        };
        let p = Policy::from_config(&c).unwrap();
        assert_eq!(p.achieved(&[Password, SmsCode]), Some(Level::Low));
        assert_eq!(p.achieved(&[Password, Totp]), Some(Level::Substantial));
        assert_eq!(p.scope_level(&v(&["openid", "payments"])), Level::High);
        let bad = PolicyConfig {
            high: Some(vec![v(&["password", "telepathy"])]),
            ..PolicyConfig::default()
        };
        assert!(Policy::from_config(&bad).is_err());
    }
}
