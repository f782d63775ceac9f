//! A helper for resource servers (the APIs behind relying parties) implementing RFC 9470,
//! OAuth 2.0 Step Up Authentication Challenge: given the introspection of a bearer token
//! (RFC 7662, as this provider answers it) and what an operation needs, it allows the call
//! or produces the `WWW-Authenticate` challenge that sends the client back for a stronger
//! or more recent authentication. No HTTP framework involved.

use crate::policy::Level;
use serde_json::Value;

/// What an operation needs from the token and the user's authentication.
#[derive(Debug, Clone, Default)]
pub struct Needs {
    /// The clients (token audiences) whose tokens this API serves. A token is accepted
    /// only when its `aud` or `client_id` is one of them; an empty list accepts no token,
    /// so that forgetting to say whom an API serves fails closed (a token a citizen gave
    /// one portal must not be replayable at another portal's API).
    pub audiences: Vec<String>,
    /// Scopes the token must all carry (RFC 6750 3.1 `insufficient_scope` otherwise).
    pub scopes: Vec<String>,
    /// Acceptable `acr` values; eIDAS levels are ordered, so a higher level also passes.
    pub acr_values: Vec<String>,
    /// The authentication must not be older than this many seconds.
    pub max_age: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Answer 401 with this `WWW-Authenticate` value.
    Challenge(String),
    /// Answer 403 with this `WWW-Authenticate` value (the token lacks a scope).
    Forbidden(String),
}

fn audience_ok(introspection: &Value, audiences: &[String]) -> bool {
    let listed = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut named = listed(introspection.get("aud"));
    named.extend(listed(introspection.get("client_id")));
    named.iter().any(|n| audiences.contains(n))
}

fn scopes_ok(introspection: &Value, needed: &[String]) -> bool {
    let have: Vec<&str> = introspection
        .get("scope")
        .and_then(Value::as_str)
        .map(|s| s.split(' ').collect())
        .unwrap_or_default();
    needed.iter().all(|n| have.contains(&n.as_str()))
}

fn acr_satisfies(token_acr: Option<&str>, acceptable: &[String]) -> bool {
    if acceptable.is_empty() {
        return true;
    }
    let Some(acr) = token_acr else { return false };
    if acceptable.iter().any(|a| a == acr) {
        return true;
    }
    match Level::from_acr(acr) {
        Some(have) => acceptable
            .iter()
            .filter_map(|a| Level::from_acr(a))
            .any(|need| have >= need),
        None => false,
    }
}

fn quote(s: &str) -> String {
    s.replace(['"', '\\'], "")
}

/// Decides on one call. `introspection` is the provider's answer for the bearer token.
pub fn check(introspection: &Value, needs: &Needs, now: i64) -> Verdict {
    if introspection.get("active").and_then(Value::as_bool) != Some(true) {
        return Verdict::Challenge(
            "Bearer error=\"invalid_token\", error_description=\"The access token is not active\""
                .into(),
        );
    }
    if !audience_ok(introspection, &needs.audiences) {
        return Verdict::Challenge(
            "Bearer error=\"invalid_token\", error_description=\"The access token was not issued for this service\""
                .into(),
        );
    }
    if !scopes_ok(introspection, &needs.scopes) {
        let values: Vec<String> = needs.scopes.iter().map(|a| quote(a)).collect();
        return Verdict::Forbidden(format!(
            "Bearer error=\"insufficient_scope\", error_description=\"The access token lacks a scope\", scope=\"{}\"",
            values.join(" ")
        ));
    }
    let acr = introspection.get("acr").and_then(Value::as_str);
    let auth_time = introspection.get("auth_time").and_then(Value::as_i64);
    let acr_ok = acr_satisfies(acr, &needs.acr_values);
    let fresh = match needs.max_age {
        None => true,
        Some(max) => auth_time.is_some_and(|t| now - t <= max),
    };
    if acr_ok && fresh {
        return Verdict::Allowed;
    }
    let mut v = String::from(
        "Bearer error=\"insufficient_user_authentication\", error_description=\"A different authentication level is required\"",
    );
    if !acr_ok {
        let values: Vec<String> = needs.acr_values.iter().map(|a| quote(a)).collect();
        v.push_str(&format!(", acr_values=\"{}\"", values.join(" ")));
    }
    if let Some(max) = needs.max_age
        && !fresh
    {
        v.push_str(&format!(", max_age=\"{max}\""));
    }
    Verdict::Challenge(v)
}

/// Reads an RFC 9470 challenge, as a client does: (`acr_values`, `max_age`) to put in the
/// next authorization request. None when the header is not such a challenge.
pub fn parse_challenge(header: &str) -> Option<(Option<String>, Option<i64>)> {
    if !header.contains("error=\"insufficient_user_authentication\"") {
        return None;
    }
    let param = |name: &str| -> Option<String> {
        let key = format!("{name}=\"");
        let start = header.find(&key)? + key.len();
        let end = header[start..].find('"')? + start;
        Some(header[start..end].to_string())
    };
    Some((
        param("acr_values"),
        param("max_age").and_then(|m| m.parse().ok()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn needs(acr: &[Level], max_age: Option<i64>) -> Needs {
        Needs {
            audiences: vec!["portal".into()],
            scopes: vec!["openid".into()],
            acr_values: acr.iter().map(|l| l.acr().to_string()).collect(),
            max_age,
        }
    }

    #[test]
    fn higher_levels_pass_lower_requirements() {
        let token = json!({"active": true, "client_id": "portal", "aud": "portal", "scope": "openid profile", "acr": Level::High.acr(), "auth_time": 100});
        assert_eq!(
            check(&token, &needs(&[Level::Substantial], None), 200),
            Verdict::Allowed
        );
    }

    #[test]
    fn too_low_or_too_old_gets_the_rfc9470_challenge() {
        let token = json!({"active": true, "client_id": "portal", "aud": "portal", "scope": "openid profile", "acr": Level::Low.acr(), "auth_time": 100});
        let Verdict::Challenge(h) = check(&token, &needs(&[Level::Substantial], Some(60)), 1000)
        else {
            panic!()
        };
        assert!(h.starts_with("Bearer error=\"insufficient_user_authentication\""));
        assert!(h.contains("acr_values=\"http://eidas.europa.eu/LoA/substantial\""));
        assert!(h.contains("max_age=\"60\""));
        assert_eq!(
            parse_challenge(&h),
            Some((Some(Level::Substantial.acr().to_string()), Some(60)))
        );
        let fresh = json!({"active": true, "client_id": "portal", "aud": "portal", "scope": "openid profile", "acr": Level::Substantial.acr(), "auth_time": 990});
        assert_eq!(
            check(&fresh, &needs(&[Level::Substantial], Some(60)), 1000),
            Verdict::Allowed
        );
    }

    #[test]
    fn tokens_of_other_clients_or_without_the_scope_are_refused() {
        let token = |aud: &str, scope: &str| {
            json!({"active": true, "client_id": aud, "aud": aud, "scope": scope,
                   "acr": Level::High.acr(), "auth_time": 100})
        };
        let n = needs(&[Level::Substantial], None);
        assert_eq!(check(&token("portal", "openid"), &n, 200), Verdict::Allowed);
        let Verdict::Challenge(h) = check(&token("other", "openid"), &n, 200) else {
            panic!("another client's token")
        };
        assert!(h.contains("invalid_token"));
        let Verdict::Forbidden(h) = check(&token("portal", "profile"), &n, 200) else {
            panic!("a token without the scope")
        };
        assert!(h.contains("insufficient_scope") && h.contains("scope=\"openid\""));
        // Saying nothing about the audience accepts nothing.
        let open = Needs::default();
        assert!(matches!(
            check(&token("portal", "openid"), &open, 200),
            Verdict::Challenge(_)
        ));
    }

    #[test]
    fn inactive_tokens_are_invalid_tokens() {
        let Verdict::Challenge(h) = check(&json!({"active": false}), &Needs::default(), 0) else {
            panic!()
        };
        assert!(h.contains("invalid_token"));
        assert_eq!(parse_challenge(&h), None);
    }
}
