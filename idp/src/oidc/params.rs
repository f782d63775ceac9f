//! Request parameters of the protocol endpoints, parsed strictly: a parameter given twice
//! is an error (RFC 6749 3.1), an empty one counts as absent, and sizes are bounded.

use super::error::{OidcError, OidcResult};
use std::collections::HashMap;

/// Longest value accepted for any one parameter.
pub const MAX_VALUE_BYTES: usize = 8 * 1024;
/// Most parameters accepted in one request.
pub const MAX_PARAMS: usize = 64;

#[derive(Debug, Default, Clone)]
pub struct Params(HashMap<String, String>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` bytes (a query string or a form body).
    pub fn parse(raw: &[u8]) -> OidcResult<Params> {
        let mut map = HashMap::new();
        for (count, (k, v)) in url::form_urlencoded::parse(raw).enumerate() {
            if count >= MAX_PARAMS {
                return Err(OidcError::invalid_request("too many parameters"));
            }
            if v.len() > MAX_VALUE_BYTES || k.len() > 256 {
                return Err(OidcError::invalid_request(format!(
                    "parameter {} is too long",
                    truncate(&k)
                )));
            }
            // NUL cannot be stored in PostgreSQL text and has no place in any parameter.
            if k.contains('\0') || v.contains('\0') {
                return Err(OidcError::invalid_request(format!(
                    "parameter {} contains a NUL character",
                    truncate(&k)
                )));
            }
            if v.is_empty() {
                continue;
            }
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(OidcError::invalid_request(format!(
                    "parameter {} is given more than once",
                    truncate(&k)
                )));
            }
        }
        Ok(Params(map))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn require(&self, key: &str) -> OidcResult<&str> {
        self.get(key)
            .ok_or_else(|| OidcError::invalid_request(format!("{key} is required")))
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn insert(&mut self, key: &str, value: &str) {
        self.0.insert(key.to_string(), value.to_string());
    }

    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }

    /// The parameters form-urlencoded, as `parse` reads them back.
    pub fn encode(&self) -> String {
        let mut pairs: Vec<(&String, &String)> = self.0.iter().collect();
        pairs.sort();
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Splits a space-delimited list (scope, prompt, acr_values, ui_locales), dropping empties.
pub fn space_list(s: Option<&str>) -> Vec<String> {
    s.map(|s| {
        s.split(' ')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_duplicates_and_oversized_values_and_ignores_empty_ones() {
        assert!(Params::parse(b"a=1&a=2").is_err());
        assert!(Params::parse(b"a=%00").is_err());
        let p = Params::parse(b"a=1&b=&c=x%20y").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        let long = format!("a={}", "x".repeat(MAX_VALUE_BYTES + 1));
        assert!(Params::parse(long.as_bytes()).is_err());
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=1")).collect();
        assert!(Params::parse(many.join("&").as_bytes()).is_err());
    }
}
