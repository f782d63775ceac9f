//! Provider metadata (OpenID Connect Discovery 1.0, RFC 8414), listing exactly what is
//! implemented, and issuer discovery by WebFinger (RFC 7033, Discovery 1.0 2).

use super::*;
use crate::policy::Level;
use serde_json::{Value, json};

pub const UI_LOCALES: [&str; 4] = ["en", "hu", "ru", "kk"];

/// `scopes`: what `authorize::scopes_supported` gives for the deployment's policy.
pub fn metadata(p: &Provider, scopes: &[String]) -> Value {
    let mut auth_methods = vec![
        "client_secret_basic",
        "client_secret_post",
        "client_secret_jwt",
        "private_key_jwt",
    ];
    // Certificates only where `[mtls]` is configured; CA-issued ones only with its CAs.
    if let Some(mtls) = &p.mtls {
        if mtls.client_cas.is_some() {
            auth_methods.push("tls_client_auth");
        }
        auth_methods.push("self_signed_tls_client_auth");
    }
    auth_methods.push("none");
    let auth_algs = json!(["RS256", "PS256", "ES256", "HS256", "HS384", "HS512"]);
    let mut m = json!({
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
        "id_token_encryption_alg_values_supported": super::encryption::ALGS,
        "id_token_encryption_enc_values_supported": super::encryption::ENCS,
        "userinfo_signing_alg_values_supported": ["ES256", "RS256"],
        "userinfo_encryption_alg_values_supported": super::encryption::ALGS,
        "userinfo_encryption_enc_values_supported": super::encryption::ENCS,
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
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
        "request_uri_parameter_supported": true,
        "require_request_uri_registration": true,
    });
    // The rest in a second part (the macro's recursion has a limit): sign-in and logout.
    let more = json!({
        "acr_values_supported": Level::ALL.iter().map(|l| l.acr()).collect::<Vec<_>>(),
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "ui_locales_supported": UI_LOCALES,
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": true,
        "frontchannel_logout_session_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
    });
    if let (Some(all), Value::Object(rest)) = (m.as_object_mut(), more) {
        all.extend(rest);
    }
    if let Some(mtls) = &p.mtls {
        m["tls_client_certificate_bound_access_tokens"] = true.into();
        // RFC 8705 5: where clients reach the endpoints with a certificate.
        if mtls.alias_base.is_some() {
            let alias = |path| p.endpoint_at(path, true);
            m["mtls_endpoint_aliases"] = json!({
                "token_endpoint": alias(TOKEN_PATH),
                "revocation_endpoint": alias(REVOKE_PATH),
                "introspection_endpoint": alias(INTROSPECT_PATH),
                "pushed_authorization_request_endpoint": alias(PAR_PATH),
                "userinfo_endpoint": alias(USERINFO_PATH),
            });
        }
    }
    m
}

/// The link relation of an OpenID Connect issuer.
pub const ISSUER_REL: &str = "http://openid.net/specs/connect/1.0/issuer";

/// The WebFinger answer (a JRD) naming this provider as the issuer for `resource`: an
/// `acct:` or `https:` identifier on the issuer's host. Every such resource gets the same
/// answer, so it does not tell whether an account exists. None for another host or a
/// resource that is not an identifier; `rel`s other than the issuer's get no link.
pub fn webfinger(p: &Provider, resource: &str, rels: &[&str]) -> Option<Value> {
    let host = url::Url::parse(&p.issuer)
        .ok()?
        .host_str()?
        .to_ascii_lowercase();
    let of = if let Some(acct) = resource.strip_prefix("acct:") {
        acct.rsplit_once('@')?.1.to_ascii_lowercase()
    } else {
        let u = url::Url::parse(resource).ok()?;
        if u.scheme() != "https" && u.scheme() != "http" {
            return None;
        }
        u.host_str()?.to_ascii_lowercase()
    };
    if of != host {
        return None;
    }
    let links: Vec<Value> = if rels.is_empty() || rels.contains(&ISSUER_REL) {
        vec![json!({ "rel": ISSUER_REL, "href": p.issuer })]
    } else {
        Vec::new()
    };
    Some(json!({ "subject": resource, "links": links }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webfinger_names_the_issuer_for_identifiers_on_its_host() {
        let (_dir, svc) = crate::service::for_tests();
        let p = &svc.provider;
        let host = url::Url::parse(&p.issuer)
            .unwrap()
            .host_str()
            .unwrap()
            .to_string();
        for resource in [
            format!("acct:anna@{host}"),
            format!("acct:nobody@{}", host.to_uppercase()),
            format!("{}/anna", p.issuer),
        ] {
            let jrd = webfinger(p, &resource, &[]).expect(&resource);
            assert_eq!(jrd["subject"], resource.as_str());
            assert_eq!(jrd["links"][0]["rel"], ISSUER_REL);
            assert_eq!(jrd["links"][0]["href"], p.issuer.as_str());
        }
        assert_eq!(
            webfinger(
                p,
                &format!("acct:anna@{host}"),
                &["http://webfinger.net/rel/avatar"]
            )
            .unwrap()["links"],
            json!([])
        );
        for elsewhere in [
            "acct:anna@other.example",
            "https://other.example/anna",
            "mailto:anna@x",
            "acct:anna",
        ] {
            assert_eq!(webfinger(p, elsewhere, &[]), None, "{elsewhere}");
        }
    }
}
