//! The OpenID Connect and OAuth 2.0 protocol: request parsing and checks, grants, tokens
//! and errors. Nothing here knows about HTTP; handlers in `http` call these functions
//! with parsed parameters and the current time, and turn the results into responses.

pub mod access_jwt;
pub mod authorize;
pub mod backchannel;
pub mod bearer;
pub mod claims;
pub mod client_auth;
pub mod client_keys;
pub mod discovery;
pub mod dpop;
pub mod encryption;
pub mod error;
pub mod fetch;
pub mod grants;
pub mod introspect;
pub mod logo;
pub mod logout;
pub mod mtls;
pub mod par;
pub mod params;
pub mod registration;
pub mod request_object;
pub mod revoke;
pub mod subject;
pub mod tokens;
pub mod userinfo;

/// Settings of the protocol that every endpoint shares.
#[derive(Debug, Clone)]
pub struct Provider {
    /// The issuer identifier, without a trailing slash.
    pub issuer: String,
    pub id_token_ttl: i64,
    pub code_ttl: i64,
    /// Hashes and checks client secrets, and seals those it must read back (see
    /// `ClientSecrets`).
    pub client_secrets: crate::keys::kek::ClientSecrets,
    /// Keys pairwise subject identifiers (`subject`).
    pub pairwise: subject::PairwiseKey,
    /// Every client must push its authorization requests (`par`).
    pub require_pushed_requests: bool,
    /// Makes and checks the DPoP nonces of the token endpoint (`dpop`).
    pub dpop_nonces: dpop::Nonces,
    /// The keys of clients that publish them at a `jwks_uri`.
    pub client_keys: client_keys::ClientKeys,
    /// Whether documents may be fetched from loopback and private addresses (`fetch`).
    pub fetch_private_addresses: bool,
    /// Mutual-TLS client authentication (`mtls`), when configured.
    pub mtls: Option<Mtls>,
}

/// What `[mtls]` configures for the protocol.
#[derive(Debug, Clone)]
pub struct Mtls {
    /// Where the endpoints are reached with a client certificate (`mtls_endpoint_aliases`,
    /// RFC 8705 5), when not at the issuer.
    pub alias_base: Option<String>,
    /// The CAs of `tls_client_auth` clients; none: only `self_signed_tls_client_auth`.
    pub client_cas: Option<mtls::ClientCas>,
}

/// The grant types the token endpoint implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub const ALL: [GrantType; 3] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ];

    /// The name in requests, client registrations and discovery.
    pub fn name(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }

    pub fn parse(name: &str) -> Option<GrantType> {
        GrantType::ALL.into_iter().find(|g| g.name() == name)
    }
}

pub const AUTHORIZE_PATH: &str = "/authorize";
pub const TOKEN_PATH: &str = "/token";
pub const USERINFO_PATH: &str = "/userinfo";
pub const JWKS_PATH: &str = "/jwks";
pub const REVOKE_PATH: &str = "/revoke";
pub const INTROSPECT_PATH: &str = "/introspect";
pub const LOGOUT_PATH: &str = "/logout";
pub const PAR_PATH: &str = "/par";

/// Whether a token's `aud` (a string or an array, RFC 7519 4.1.3) names `client_id`.
pub fn audience_contains(
    claims: &serde_json::Map<String, serde_json::Value>,
    client_id: &str,
) -> bool {
    use serde_json::Value;
    match claims.get("aud") {
        Some(Value::String(a)) => a == client_id,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(client_id)),
        _ => false,
    }
}

impl Provider {
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    /// The URL a request reached: `path` at the issuer, or at the mutual-TLS alias when
    /// `alias` (the request came to the `[mtls]` listener).
    pub fn endpoint_at(&self, path: &str, alias: bool) -> String {
        match self.mtls.as_ref().and_then(|m| m.alias_base.as_deref()) {
            Some(base) if alias => format!("{base}{path}"),
            _ => self.endpoint(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::audience_contains;
    use serde_json::json;

    #[test]
    fn audience_is_a_string_or_an_array() {
        let one = json!({"aud": "a"});
        let many = json!({"aud": ["b", "a"]});
        let none = json!({"sub": "a"});
        assert!(audience_contains(one.as_object().unwrap(), "a"));
        assert!(!audience_contains(one.as_object().unwrap(), "b"));
        assert!(audience_contains(many.as_object().unwrap(), "a"));
        assert!(!audience_contains(many.as_object().unwrap(), "c"));
        assert!(!audience_contains(none.as_object().unwrap(), "a"));
    }
}
