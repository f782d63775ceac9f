//! Claims about the citizen released by scope (OIDC Core 5.4) or requested one by one
//! with the `claims` parameter (OIDC Core 5.5).
//!
//! The granted scope is the only source of release: it is what the client is registered
//! for and what the citizen saw and accepted on the consent page. A claim requested one by
//! one (`claims.userinfo.*`, `claims.id_token.*`) is released only when a granted scope
//! covers it; anything beyond is dropped silently, as OIDC Core 5.5 allows for claims the
//! provider does not release, so that the parameter cannot widen what was consented to.

use crate::store::users::User;
use serde_json::{Map, Value};

const PROFILE: [&str; 3] = ["name", "preferred_username", "updated_at"];
const EMAIL: [&str; 2] = ["email", "email_verified"];

/// Every claim name this provider can release.
pub const SUPPORTED: [&str; 15] = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "sid",
    "name",
    "preferred_username",
    "updated_at",
    "email",
    "email_verified",
];

fn value_of(user: &User, claim: &str) -> Option<Value> {
    match claim {
        "name" => user.name.clone().map(Value::from),
        "preferred_username" => Some(Value::from(user.username.clone())),
        "updated_at" => Some(Value::from(user.updated_at)),
        "email" => user.email.clone().map(Value::from),
        "email_verified" => user
            .email
            .as_ref()
            .map(|_| Value::from(user.email_verified)),
        _ => None,
    }
}

/// The user's claims for the granted scopes, and nothing else. Individually requested
/// claims are not an argument on purpose: a claim a granted scope covers is released
/// anyway, and one it does not cover is dropped (see the module's first lines).
pub fn user_claims(user: &User, scopes: &[&str]) -> Map<String, Value> {
    let mut names: Vec<&str> = Vec::new();
    if scopes.contains(&"profile") {
        names.extend(PROFILE);
    }
    if scopes.contains(&"email") {
        names.extend(EMAIL);
    }
    let mut out = Map::new();
    for n in names {
        if let Some(v) = value_of(user, n) {
            out.insert(n.to_string(), v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: "u1".into(),
            username: "anna".into(),
            email: Some("anna@example.invalid".into()),
            email_verified: true,
            name: Some("Anna".into()),
            disabled: false,
            created_at: 1,
            updated_at: 2,
            phone: None,
        }
    }

    #[test]
    fn only_the_granted_scopes_release_claims() {
        let c = user_claims(&user(), &["openid"]);
        assert!(c.is_empty(), "{c:?}");
        let c = user_claims(&user(), &["openid", "profile"]);
        assert_eq!(c.get("name"), Some(&Value::from("Anna")));
        assert!(c.get("email").is_none());
        let c = user_claims(&user(), &["openid", "email"]);
        assert_eq!(c.get("email"), Some(&Value::from("anna@example.invalid")));
    }
}
