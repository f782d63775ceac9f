//! Claims about the citizen released by scope (OIDC Core 5.4) or requested one by one
//! with the `claims` parameter (OIDC Core 5.5).

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

/// The user's claims for the granted scopes plus the individually requested ones.
pub fn user_claims(user: &User, scopes: &[&str], requested: &[String]) -> Map<String, Value> {
    let mut names: Vec<&str> = Vec::new();
    if scopes.contains(&"profile") {
        names.extend(PROFILE);
    }
    if scopes.contains(&"email") {
        names.extend(EMAIL);
    }
    names.extend(requested.iter().map(String::as_str));
    let mut out = Map::new();
    for n in names {
        if let Some(v) = value_of(user, n) {
            out.insert(n.to_string(), v);
        }
    }
    out
}
