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
const PHONE: [&str; 2] = ["phone_number", "phone_number_verified"];
const ADDRESS: [&str; 1] = ["address"];

/// Every claim name this provider can release.
pub const SUPPORTED: [&str; 18] = [
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
    "phone_number",
    "phone_number_verified",
    "address",
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
        "phone_number" => user.phone.clone().map(Value::from),
        "phone_number_verified" => user
            .phone
            .as_ref()
            .map(|_| Value::from(user.phone_verified)),
        // A JSON object of the parts there are (OIDC Core 5.1.1).
        "address" => user
            .address
            .as_ref()
            .and_then(|a| serde_json::to_value(a).ok()),
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
    if scopes.contains(&"phone") {
        names.extend(PHONE);
    }
    if scopes.contains(&"address") {
        names.extend(ADDRESS);
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
    use crate::store::users::Address;

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
            phone_verified: false,
            address: None,
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
        assert!(c.get("phone_number").is_none());
        // Without a number, the phone scope releases nothing; with one, both claims.
        assert!(user_claims(&user(), &["openid", "phone"]).is_empty());
        let mut with_phone = user();
        with_phone.phone = Some("+36301234567".into());
        let c = user_claims(&with_phone, &["openid", "phone"]);
        assert_eq!(c.get("phone_number"), Some(&Value::from("+36301234567")));
        assert_eq!(c.get("phone_number_verified"), Some(&Value::from(false)));
        assert!(c.get("email").is_none());
    }

    fn with_address() -> User {
        User {
            address: Some(Address {
                street_address: Some("Fő utca 1.\n2. emelet 3.".into()),
                locality: Some("Budapest".into()),
                postal_code: Some("1011".into()),
                country: Some("HU".into()),
                ..Default::default()
            }),
            ..user()
        }
    }

    #[test]
    fn the_address_scope_releases_the_address_as_an_object() {
        // Without an address, the scope releases nothing.
        assert!(user_claims(&user(), &["openid", "address"]).is_empty());
        let c = user_claims(&with_address(), &["openid", "address"]);
        assert_eq!(
            c.get("address"),
            Some(&serde_json::json!({
                "street_address": "Fő utca 1.\n2. emelet 3.",
                "locality": "Budapest",
                "postal_code": "1011",
                "country": "HU",
            })),
            "only the parts there are"
        );
        assert_eq!(c.len(), 1, "{c:?}");
    }

    #[test]
    fn the_address_is_released_only_for_the_address_scope() {
        let u = with_address();
        for scopes in [
            &["openid"][..],
            &["openid", "profile", "email", "phone"],
            // Scope values are exact (RFC 6749 3.3).
            &["openid", "Address", "addresses"],
        ] {
            assert!(
                user_claims(&u, scopes).get("address").is_none(),
                "{scopes:?}"
            );
        }
        let all = user_claims(&u, &["openid", "profile", "email", "phone", "address"]);
        assert!(all.contains_key("address") && all.contains_key("email"));
        assert!(SUPPORTED.contains(&"address"));
    }
}
