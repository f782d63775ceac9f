//! Provider metadata (OpenID Connect Discovery 1.0, RFC 8414), listing exactly what is
//! implemented.

use super::*;
use crate::policy::Level;
use serde_json::{Value, json};

pub const UI_LOCALES: [&str; 4] = ["en", "hu", "ru", "kk"];

/// `scopes`: what `authorize::scopes_supported` gives for the deployment's policy.
pub fn metadata(p: &Provider, scopes: &[String]) -> Value {
    let auth_methods = json!([
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none"
    ]);
    let auth_algs = json!(["RS256", "PS256", "ES256"]);
    json!({
        "issuer": p.issuer,
        "authorization_endpoint": p.endpoint(AUTHORIZE_PATH),
        "token_endpoint": p.endpoint(TOKEN_PATH),
        "userinfo_endpoint": p.endpoint(USERINFO_PATH),
        "jwks_uri": p.endpoint(JWKS_PATH),
        "revocation_endpoint": p.endpoint(REVOKE_PATH),
        "introspection_endpoint": p.endpoint(INTROSPECT_PATH),
        "end_session_endpoint": p.endpoint(LOGOUT_PATH),
        "pushed_authorization_request_endpoint": p.endpoint(PAR_PATH),
        "registration_endpoint": p.endpoint(super::registration::REGISTRATION_PATH),
        "require_pushed_authorization_requests": p.require_pushed_requests,
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": GrantType::ALL.map(GrantType::name),
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": auth_algs,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": auth_algs,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": auth_algs,
        "code_challenge_methods_supported": ["S256"],
        "dpop_signing_alg_values_supported": super::dpop::ALGS,
        "claims_supported": claims::SUPPORTED,
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "acr_values_supported": Level::ALL.iter().map(|l| l.acr()).collect::<Vec<_>>(),
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "ui_locales_supported": UI_LOCALES,
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": true,
        "frontchannel_logout_session_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    })
}
