//! Risk levels and the assurance they require. `acr` values are the eIDAS levels of
//! assurance; a client has a default risk level, and a request can ask for more with
//! `acr_values` (voluntary) or an essential `acr` claim (mandatory).

use serde::{Deserialize, Serialize};

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

    /// The level that a set of authentication methods (RFC 8176 `amr`) achieves.
    /// One factor of any kind is low; stronger levels need factors added in later work.
    pub fn achieved_by(amr: &[String]) -> Option<Level> {
        if amr.is_empty() {
            None
        } else {
            Some(Level::Low)
        }
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

/// Combines the client's risk level with what the request asks for. Unknown `acr` values
/// are ignored; of several requested values the lowest is enough (any of them satisfies
/// the request).
pub fn requirement(
    client_level: Level,
    acr_values: &[String],
    essential_acr: Option<&[String]>,
) -> Requirement {
    let lowest = |values: &[String]| values.iter().filter_map(|v| Level::from_acr(v)).min();
    let (asked, mandatory) = match essential_acr {
        Some(values) => (lowest(values), true),
        None => (lowest(acr_values), false),
    };
    let level = asked.map_or(client_level, |a| a.max(client_level));
    Requirement {
        level,
        mandatory: (mandatory && asked.is_some()) || client_level > Level::Low,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn client_level_is_a_floor_and_mandatory() {
        let r = requirement(Level::Substantial, &v(&[Level::Low.acr()]), None);
        assert_eq!(r.level, Level::Substantial);
        assert!(r.mandatory);
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
}
