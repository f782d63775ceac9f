//! Request objects (RFC 9101, OIDC Core 6.1): the authorization request as a JWT the client
//! signed with one of its registered keys, passed as `request` (at the authorization
//! endpoint or pushed to the PAR endpoint). Only the object's parameters count: the
//! request's own, but for `client_id`, are ignored (RFC 9101 5). Unsigned objects
//! (`alg=none`) and objects of clients without registered keys (`jwks` or `jwks_uri`)
//! are refused. An object passed by reference (`request_uri`, OIDC Core 6.2) is fetched
//! only from a URI the client registered (`request_uris`); any other
//! `request_uri` that is not one of this server's pushed requests is not fetched.

use super::Provider;
use super::client_auth::verify_with_jwks;
use super::error::{ErrorCode, OidcError, OidcResult};
use super::params::Params;
use crate::store::clients::Client;
use serde_json::Value;

/// The longest a request object may be valid (FAPI 2.0 asks for at most an hour).
const MAX_LIFETIME: i64 = 3600;
/// Tolerated difference between the client's clock and ours.
const CLOCK_SKEW: i64 = 60;
/// Claims about the object itself rather than the request.
const ENVELOPE: [&str; 6] = ["iss", "aud", "exp", "iat", "nbf", "jti"];

fn invalid(why: &str) -> OidcError {
    OidcError::new(ErrorCode::InvalidRequestObject, why.to_string())
}

/// The request object at the request's `request_uri`, as if it had come as `request`:
/// fetched (under `oidc::fetch`'s rules) only when the URI is one of the `request_uris` the
/// client registered. A request of an unknown client is left to `authorize::check_client`.
/// Pushed requests' URIs are this provider's own and were resolved before (`par`).
pub fn by_reference<E>(
    mut params: Params,
    find: impl FnOnce(&str) -> Result<Option<Client>, E>,
    provider: &Provider,
) -> Result<OidcResult<Params>, E> {
    let Some(uri) = params.get("request_uri").map(str::to_string) else {
        return Ok(Ok(params));
    };
    let Some(client) = params.get("client_id").map(find).transpose()?.flatten() else {
        return Ok(Ok(params));
    };
    let refused = |why: String| Ok(Err(OidcError::new(ErrorCode::InvalidRequestUri, why)));
    if params.contains("request") {
        return refused("request and request_uri cannot both be given".into());
    }
    if !client.request_uris.contains(&uri) {
        return refused("the request_uri is not one the client registered (request_uris)".into());
    }
    match super::fetch::fetch(&uri, provider.fetch_private_addresses) {
        Ok(object) => {
            params.remove("request_uri");
            params.insert("request", object.trim());
            Ok(Ok(params))
        }
        Err(e) => {
            tracing::warn!(client = %client.id, error = %e, "a request_uri could not be fetched");
            refused(format!("the request_uri could not be fetched: {e}"))
        }
    }
}

/// `unpack` for a request at the authorization endpoint, whose client is found by its
/// `client_id` first (an unknown client is left to `authorize::check_client`).
pub fn unpack_for<E>(
    params: Params,
    find: impl FnOnce(&str) -> Result<Option<Client>, E>,
    provider: &Provider,
    now: i64,
) -> Result<OidcResult<Params>, E> {
    if !params.contains("request") {
        return Ok(Ok(params));
    }
    let Some(client) = params.get("client_id").map(find).transpose()?.flatten() else {
        return Ok(Ok(params));
    };
    Ok(unpack(params, &client, provider, now))
}

/// The request's parameters: those of its request object when it has one (checked against
/// `client`, the client its `client_id` names), otherwise its own.
pub fn unpack(
    params: Params,
    client: &Client,
    provider: &Provider,
    now: i64,
) -> OidcResult<Params> {
    let Some(object) = params.get("request") else {
        return Ok(params);
    };
    let issuer = provider.issuer.as_str();
    if client.jwks.is_none() && client.jwks_uri.is_none() {
        return Err(invalid(
            "request objects must be signed with the client's registered keys (jwks)",
        ));
    }
    if super::client_auth::forbidden_alg(client, object) {
        return Err(invalid(
            "RS256 is not allowed for this client's request objects (FAPI 2.0)",
        ));
    }
    let claims = provider
        .client_keys
        .verify(client, object, now, verify_with_jwks)
        .ok_or_else(|| invalid("the request object is not signed by one of the client's keys"))?;
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    if text("iss") != Some(client.id.as_str()) {
        return Err(invalid("the request object's iss must be the client_id"));
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == issuer,
        Some(Value::Array(a)) => a.iter().any(|a| a.as_str() == Some(issuer)),
        _ => false,
    };
    if !aud_ok {
        return Err(invalid("the request object's aud must be the issuer"));
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid("the request object has no exp"))?;
    if exp <= now || exp > now + MAX_LIFETIME + CLOCK_SKEW {
        return Err(invalid("the request object has expired or lives too long"));
    }
    if claims
        .get("nbf")
        .is_some_and(|n| n.as_i64().is_none_or(|n| n > now + CLOCK_SKEW))
    {
        return Err(invalid("the request object is not valid yet"));
    }
    if text("client_id").is_some_and(|c| c != client.id) {
        return Err(invalid("the request object is for another client"));
    }
    if let (Some(outer), Some(inner)) = (params.get("response_type"), text("response_type"))
        && outer != inner
    {
        return Err(invalid("response_type differs from the request object's"));
    }
    let mut inner = Params::default();
    inner.insert("client_id", &client.id);
    for (name, value) in &claims {
        if ENVELOPE.contains(&name.as_str()) || name == "client_id" {
            continue;
        }
        let value = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => continue,
            // `claims` and the like travel as JSON text, as in a URL.
            other => other.to_string(),
        };
        if name == "request" || name == "request_uri" {
            return Err(invalid("a request object cannot hold another"));
        }
        inner.insert(name, &value);
    }
    Ok(inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::clients::{Credentials, NewClient, create};
    use crate::admin::testing::cli;
    use josekit::jwk::KeyPair;
    use josekit::jwk::alg::ec::EcKeyPair;
    use serde_json::json;

    const T0: i64 = 1_800_000_000;

    /// A client registered with the public half of a fresh key, and that key.
    fn client(svc: &crate::service::Service, id: &str, with_keys: bool) -> (Client, EcKeyPair) {
        let key = josekit::jws::ES256.generate_key_pair().unwrap();
        let public = key.to_jwk_public_key();
        let jwks = json!({ "keys": [Value::Object(public.as_ref().clone())] });
        let credentials = if with_keys {
            Credentials::Jwks(jwks.to_string())
        } else {
            Credentials::GenerateSecret
        };
        let new = NewClient::new(id, credentials, vec!["https://rp.example/cb".into()]);
        create(&crate::admin::Context::from(svc), &cli(), new, T0).unwrap();
        let found = svc.db.run(|c| crate::store::clients::find(c, id)).unwrap();
        (found.unwrap(), key)
    }

    fn signed(key: &EcKeyPair, claims: Value) -> String {
        let header = josekit::jws::JwsHeader::new();
        let signer = josekit::jws::ES256
            .signer_from_jwk(&key.to_jwk_private_key())
            .unwrap();
        josekit::jws::serialize_compact(claims.to_string().as_bytes(), &header, &signer).unwrap()
    }

    fn outer(object: &str, client_id: &str) -> Params {
        let mut p = Params::default();
        p.insert("client_id", client_id);
        p.insert("response_type", "code");
        p.insert("scope", "openid profile email");
        p.insert("request", object);
        p
    }

    fn claims(issuer: &str) -> Value {
        json!({
            "iss": "rp", "aud": issuer, "exp": T0 + 300, "nbf": T0, "client_id": "rp",
            "response_type": "code", "redirect_uri": "https://rp.example/cb", "scope": "openid",
            "state": "s1", "max_age": 600,
            "claims": { "id_token": { "acr": { "essential": true } } }
        })
    }

    #[test]
    fn only_the_signed_objects_parameters_count() {
        let (_dir, svc) = crate::service::for_tests();
        let issuer = svc.provider.issuer.clone();
        let (rp, key) = client(&svc, "rp", true);
        let p = unpack(
            outer(&signed(&key, claims(&issuer)), "rp"),
            &rp,
            &svc.provider,
            T0,
        )
        .unwrap();
        assert_eq!(p.get("client_id"), Some("rp"));
        assert_eq!(p.get("scope"), Some("openid"), "the outer scope is ignored");
        assert_eq!(p.get("redirect_uri"), Some("https://rp.example/cb"));
        assert_eq!(p.get("max_age"), Some("600"));
        assert_eq!(
            serde_json::from_str::<Value>(p.get("claims").unwrap()).unwrap()["id_token"]["acr"]["essential"],
            true
        );
        assert!(!p.contains("request") && !p.contains("iss") && !p.contains("exp"));
        // Without a request object the request stays as it is.
        let mut plain = Params::default();
        plain.insert("client_id", "rp");
        assert_eq!(
            unpack(plain, &rp, &svc.provider, T0)
                .unwrap()
                .get("client_id"),
            Some("rp")
        );
    }

    #[test]
    fn objects_not_made_by_the_client_for_us_now_are_refused() {
        let (_dir, svc) = crate::service::for_tests();
        let issuer = svc.provider.issuer.clone();
        let (rp, key) = client(&svc, "rp", true);
        let refused = |object: String| {
            let e = unpack(outer(&object, "rp"), &rp, &svc.provider, T0).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequestObject);
            e.description
        };
        let with = |k: &str, v: Value| {
            let mut c = claims(&issuer);
            c[k] = v;
            signed(&key, c)
        };
        let without = |k: &str| {
            let mut c = claims(&issuer);
            c.as_object_mut().unwrap().remove(k);
            signed(&key, c)
        };
        // Unsigned (alg=none), or signed by someone else.
        let payload = crate::crypto::b64url(claims(&issuer).to_string().as_bytes());
        assert!(refused(format!("eyJhbGciOiJub25lIn0.{payload}.")).contains("not signed"));
        let stranger = josekit::jws::ES256.generate_key_pair().unwrap();
        assert!(refused(signed(&stranger, claims(&issuer))).contains("not signed"));
        assert!(refused(with("aud", json!("https://other.example"))).contains("aud"));
        assert!(refused(with("iss", json!("someone"))).contains("iss"));
        assert!(refused(without("exp")).contains("exp"));
        assert!(refused(with("exp", json!(T0))).contains("expired"));
        assert!(refused(with("exp", json!(T0 + 2 * MAX_LIFETIME))).contains("too long"));
        assert!(refused(with("nbf", json!(T0 + 600))).contains("not valid yet"));
        assert!(refused(with("client_id", json!("other"))).contains("another client"));
        assert!(refused(with("response_type", json!("token"))).contains("response_type"));
        assert!(refused(with("request", json!("x"))).contains("another"));
        // A client without registered keys cannot sign one.
        let (secret_client, secret_key) = client(&svc, "secret-rp", false);
        let e = unpack(
            outer(&signed(&secret_key, claims(&issuer)), "secret-rp"),
            &secret_client,
            &svc.provider,
            T0,
        )
        .unwrap_err();
        assert!(e.description.contains("jwks"), "{e}");
    }
}
