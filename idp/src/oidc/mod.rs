//! The OpenID Connect and OAuth 2.0 protocol: request parsing and checks, grants, tokens
//! and errors. Nothing here knows about HTTP; handlers in `http` call these functions
//! with parsed parameters and the current time, and turn the results into responses.

pub mod authorize;
pub mod claims;
pub mod client_auth;
pub mod discovery;
pub mod error;
pub mod grants;
pub mod introspect;
pub mod logout;
pub mod params;
pub mod revoke;
pub mod tokens;
pub mod userinfo;

/// Settings of the protocol that every endpoint shares.
#[derive(Debug, Clone)]
pub struct Provider {
    /// The issuer identifier, without a trailing slash.
    pub issuer: String,
    pub id_token_ttl: i64,
    pub code_ttl: i64,
}

pub const AUTHORIZE_PATH: &str = "/authorize";
pub const TOKEN_PATH: &str = "/token";
pub const USERINFO_PATH: &str = "/userinfo";
pub const JWKS_PATH: &str = "/jwks";
pub const REVOKE_PATH: &str = "/revoke";
pub const INTROSPECT_PATH: &str = "/introspect";
pub const LOGOUT_PATH: &str = "/logout";

impl Provider {
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}
