//! Client authentication at the token, introspection and revocation endpoints:
//! `client_secret_basic`, `client_secret_post`, `client_secret_jwt` and `private_key_jwt`
//! (RFC 7523, OIDC Core 9), `tls_client_auth` and `self_signed_tls_client_auth` (RFC 8705,
//! `mtls`), and `none`.

use super::Provider;
use super::error::{ErrorCode, OidcError, OidcResult};
use super::mtls::{self, Certificate};
use super::params::Params;
use crate::crypto;
use crate::keys::kek::SecretCheck;
use crate::store::clients::{self, AuthMethod, Client};
use crate::store::{AnyConnection, Db, StoreResult, rate_limits};
use base64::Engine;
use josekit::jwk::JwkSet;
use josekit::jws::{ES256, HS256, HS384, HS512, JwsVerifier, PS256, RS256};
use serde_json::Value;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Longest lifetime accepted for a client assertion: an hour, what client libraries such
/// as authlib give theirs (RFC 7523 3 leaves it to the server). Its `jti` is remembered
/// until it expires, so it is used once however long it lives.
const MAX_ASSERTION_LIFETIME: i64 = 3600;
/// Clock difference tolerated between a client and us for `iat` and `nbf`.
const CLOCK_SKEW: i64 = 60;

/// Failed client authentications tolerated per client id, and per client address, in a
/// window of `FAILURE_WINDOW` seconds; beyond that every authentication is refused with
/// 429 until the window ends, the right secret included, so that guessing a secret costs
/// a minute per ten tries. The address limit is higher because several clients may sit
/// behind one address. Counted in the database, so that all instances share the count.
pub const FAILURES_PER_CLIENT: i32 = 10;
pub const FAILURES_PER_ADDRESS: i32 = 20;
pub const FAILURE_WINDOW: i64 = 60;

/// How the client presented itself.
pub enum Presented {
    Basic {
        id: String,
        secret: String,
    },
    Post {
        id: String,
        secret: String,
    },
    Jwt {
        assertion: String,
    },
    /// Only its id: a public client, or one that authenticates with the TLS client
    /// certificate of the connection.
    IdOnly {
        id: String,
    },
}

/// Reads the client's credentials from the `Authorization` header value and the body.
/// Using more than one method in a request is an error (RFC 6749 2.3).
pub fn presented(authorization: Option<&str>, params: &Params) -> OidcResult<Presented> {
    let basic = match authorization.and_then(|h| Some((h.get(..6)?, h.get(6..)?))) {
        Some((scheme, rest)) if !rest.is_empty() && scheme.eq_ignore_ascii_case("basic ") => {
            Some(parse_basic(rest)?)
        }
        _ => None,
    };
    let post_secret = params.get("client_secret");
    let assertion = params.get("client_assertion");
    let methods = [basic.is_some(), post_secret.is_some(), assertion.is_some()]
        .iter()
        .filter(|m| **m)
        .count();
    if methods > 1 {
        return Err(OidcError::invalid_request(
            "more than one client authentication method was used",
        ));
    }
    if let Some((id, secret)) = basic {
        if params.get("client_id").is_some_and(|c| c != id) {
            return Err(OidcError::invalid_request(
                "client_id does not match the authenticated client",
            ));
        }
        return Ok(Presented::Basic { id, secret });
    }
    if let Some(assertion) = assertion {
        if params.get("client_assertion_type") != Some(JWT_BEARER) {
            return Err(OidcError::invalid_request(
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
        }
        return Ok(Presented::Jwt {
            assertion: assertion.to_string(),
        });
    }
    let id = params
        .get("client_id")
        .ok_or_else(|| OidcError::invalid_client("client authentication is missing"))?
        .to_string();
    Ok(match post_secret {
        Some(secret) => Presented::Post {
            id,
            secret: secret.to_string(),
        },
        None => Presented::IdOnly { id },
    })
}

impl Presented {
    /// The client id the request claims, before anything is verified (for a client
    /// assertion, its unverified `iss`).
    fn claimed_id(&self) -> Option<String> {
        match self {
            Presented::Basic { id, .. } | Presented::Post { id, .. } | Presented::IdOnly { id } => {
                Some(id.clone())
            }
            Presented::Jwt { assertion } => unverified_payload(assertion)
                .and_then(|p| p.get("iss").and_then(Value::as_str).map(str::to_string)),
        }
    }
}

/// `authenticate`, refused with 429 while the claimed client id or the address (None
/// when unknown) is over its limit of failures, and counting each failure. The counts
/// are read before and written after the check (not in one transaction), so a burst of
/// concurrent guesses can overshoot a limit by at most the number of requests in flight;
/// counting every attempt up front instead would throttle busy honest clients.
pub fn authenticate_throttled(
    db: &Db,
    provider: &Provider,
    presented: &Presented,
    certificate: Option<&Certificate>,
    audiences: &[&str],
    address: Option<&str>,
    now: i64,
) -> OidcResult<Client> {
    // Hashed: ids and addresses come from outside, and keys must stay short and free of
    // NUL (PostgreSQL text).
    let mut keys: Vec<(String, i32)> = Vec::new();
    if let Some(id) = presented.claimed_id() {
        keys.push((
            format!("client-auth:id:{}", crypto::secret_hash(&id)),
            FAILURES_PER_CLIENT,
        ));
    }
    if let Some(a) = address {
        keys.push((
            format!("client-auth:ip:{}", crypto::secret_hash(a)),
            FAILURES_PER_ADDRESS,
        ));
    }
    let names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
    // The counts and the check on one connection.
    let result = db.run(|c| {
        let counts = rate_limits::counts(c, &names, FAILURE_WINDOW, now)?;
        if counts.iter().zip(&keys).any(|(n, (_, limit))| n >= limit) {
            tracing::warn!("client authentication throttled after repeated failures");
            return Ok(Err(throttled(now)));
        }
        Ok(authenticate(
            c,
            db.clients(),
            provider,
            presented,
            certificate,
            audiences,
            now,
        ))
    })?;
    if let Err(e) = &result
        && e.code == ErrorCode::InvalidClient
    {
        db.tx(|c| {
            for k in &names {
                rate_limits::hit(c, k, FAILURE_WINDOW, now)?;
            }
            Ok(())
        })?;
    }
    result
}

fn throttled(now: i64) -> OidcError {
    OidcError::new(
        ErrorCode::ClientAuthThrottled,
        "too many failed client authentications; retry later",
    )
    .with_retry_after(FAILURE_WINDOW - now.rem_euclid(FAILURE_WINDOW))
}

/// The payload of a JWS, not verified.
fn unverified_payload(jws: &str) -> Option<Value> {
    unverified_part(jws, 1)
}

fn unverified_part(jws: &str, i: usize) -> Option<Value> {
    let part = jws.split('.').nth(i)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The algorithms of the FAPI 2.0 Security Profile (5.4.1): for client assertions,
/// request objects and DPoP proofs of its clients.
pub const FAPI2_ALGS: [&str; 3] = ["PS256", "ES256", "EdDSA"];

/// Whether a JWS from `client` is signed with an algorithm its profile forbids: FAPI 2.0
/// clients sign only with `FAPI2_ALGS` (no RS256, no ES384).
pub(crate) fn forbidden_alg(client: &Client, jws: &str) -> bool {
    client.is_fapi2()
        && unverified_part(jws, 0)
            .and_then(|h| h.get("alg").and_then(Value::as_str).map(str::to_string))
            .is_none_or(|alg| !FAPI2_ALGS.contains(&alg.as_str()))
}

fn parse_basic(encoded: &str) -> OidcResult<(String, String)> {
    let bad = || OidcError::invalid_client("malformed Basic authorization header");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (id, secret) = raw.split_once(':').ok_or_else(bad)?;
    // RFC 6749 2.3.1: both parts are form-urlencoded before base64.
    let decode = |s: &str| -> OidcResult<String> {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .ok_or_else(bad)
    };
    Ok((decode(id)?, decode(secret)?))
}

/// Checks the presented credentials (and the connection's client certificate, if any)
/// against the registered client. Every failure is the same `invalid_client`, so that a
/// caller learns nothing about which part was wrong.
pub fn authenticate(
    conn: &mut AnyConnection,
    cache: &clients::Cache,
    provider: &Provider,
    presented: &Presented,
    certificate: Option<&Certificate>,
    audiences: &[&str],
    now: i64,
) -> OidcResult<Client> {
    let secrets = &provider.client_secrets;
    let fail = || OidcError::invalid_client("client authentication failed");
    match presented {
        Presented::Basic { id, secret } | Presented::Post { id, secret } => {
            let client = cache.find(conn, id, now)?.ok_or_else(fail)?;
            let stored = match (&client.auth_method, client.secret_hash.as_deref()) {
                (AuthMethod::Secret, Some(h)) => h,
                _ => return Err(fail()),
            };
            match secrets.check(stored, secret) {
                SecretCheck::Matches => Ok(client),
                SecretCheck::MatchesLegacy => {
                    let rehashed = secrets.hash(secret);
                    clients::replace_secret_hash(conn, &client.id, stored, &rehashed, now)?;
                    tracing::info!(client = %client.id, "client secret re-hashed with the keyed hash");
                    Ok(client)
                }
                SecretCheck::Wrong => Err(fail()),
            }
        }
        Presented::IdOnly { id } => {
            let client = cache.find(conn, id, now)?.ok_or_else(fail)?;
            let cas = provider.mtls.as_ref().and_then(|m| m.client_cas.as_ref());
            let authenticated = match (client.auth_method, certificate) {
                (AuthMethod::None, _) => true,
                (AuthMethod::TlsClientAuth, Some(cert)) => {
                    mtls::pki_authenticates(cas, client.tls_client_auth.as_ref(), cert, now)
                }
                (AuthMethod::SelfSignedTlsClientAuth, Some(cert)) => {
                    mtls::self_signed_authenticates(client.jwks.as_deref(), cert, now)
                }
                _ => false,
            };
            // Certificates are taken only where the provider is configured for them.
            if authenticated && (client.is_public() || provider.mtls.is_some()) {
                Ok(client)
            } else {
                Err(fail())
            }
        }
        Presented::Jwt { assertion } => {
            verify_assertion(conn, cache, provider, assertion, audiences, now)
        }
    }
}

fn verify_assertion(
    conn: &mut AnyConnection,
    cache: &clients::Cache,
    provider: &Provider,
    assertion: &str,
    audiences: &[&str],
    now: i64,
) -> OidcResult<Client> {
    let fail = |why: &str| OidcError::invalid_client(format!("client assertion rejected: {why}"));
    // The issuer is read before the signature is checked, only to find the client's keys.
    let unverified = unverified_payload(assertion).ok_or_else(|| fail("malformed"))?;
    let client_id = unverified
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(|| fail("no iss"))?;
    let client = cache
        .find(conn, client_id, now)?
        .ok_or_else(|| fail("unknown client"))?;
    let claims = match client.auth_method {
        AuthMethod::PrivateKeyJwt => {
            if forbidden_alg(&client, assertion) {
                return Err(fail("RS256 is not allowed for this client (FAPI 2.0)"));
            }
            // Keys registered with the client, or fetched from its jwks_uri (again, when
            // the client has rotated them). A fetch happens at most every few minutes
            // per client, on this connection's time.
            provider
                .client_keys
                .verify(&client, assertion, now, verify_with_jwks)
        }
        AuthMethod::SecretJwt => {
            let secret = client
                .sealed_secret
                .as_deref()
                .and_then(|s| provider.client_secrets.open(&client.id, s))
                .ok_or_else(|| fail("the client's secret cannot be read"))?;
            verify_with_secret(assertion, secret.as_bytes())
        }
        AuthMethod::Secret
        | AuthMethod::None
        | AuthMethod::TlsClientAuth
        | AuthMethod::SelfSignedTlsClientAuth => {
            return Err(fail("the client is not registered for signed assertions"));
        }
    }
    .ok_or_else(|| fail("bad signature"))?;

    let str_claim = |k: &str| claims.get(k).and_then(Value::as_str);
    if str_claim("iss") != Some(&client.id) || str_claim("sub") != Some(&client.id) {
        return Err(fail("iss and sub must be the client id"));
    }
    let aud_ok = match claims.get("aud") {
        // FAPI 2.0 (Security Profile 5.3.2.1): the issuer, as a string, and nothing else,
        // so that an assertion made for another server's endpoint is not accepted here.
        Some(Value::String(a)) if client.is_fapi2() => *a == provider.issuer,
        _ if client.is_fapi2() => false,
        Some(Value::String(a)) => audiences.contains(&a.as_str()),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .any(|a| audiences.contains(&a)),
        _ => false,
    };
    if !aud_ok {
        return Err(fail(if client.is_fapi2() {
            "aud must be the issuer (FAPI 2.0)"
        } else {
            "aud must be the issuer or the endpoint"
        }));
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(|| fail("no exp"))?;
    if exp <= now || exp > now + MAX_ASSERTION_LIFETIME {
        return Err(fail("expired or too long-lived"));
    }
    check_times(&claims, now).map_err(fail)?;
    let jti = str_claim("jti").ok_or_else(|| fail("no jti"))?;
    if !remember_jti(conn, &client.id, jti, exp)? {
        return Err(fail("jti was used before"));
    }
    Ok(client)
}

/// `iat` and `nbf` (RFC 7519 4.1.5-6): an assertion made or valid only in the future
/// (beyond the clock skew) is refused, so that one signed ahead of time cannot be kept
/// for later. `iat` is optional in RFC 7523 3, but when present it must be a number.
fn check_times(claims: &serde_json::Map<String, Value>, now: i64) -> Result<(), &'static str> {
    for (name, why) in [("iat", "issued in the future"), ("nbf", "not yet valid")] {
        match claims.get(name) {
            None => {}
            Some(v) => match v.as_i64() {
                Some(t) if t <= now + CLOCK_SKEW => {}
                Some(_) => return Err(why),
                None => return Err("iat and nbf must be numbers"),
            },
        }
    }
    Ok(())
}

/// Verifies a JWS against a client's JWK set (RS256, PS256, ES256).
pub fn verify_with_jwks(token: &str, jwks: &JwkSet) -> Option<serde_json::Map<String, Value>> {
    let verifiers: Vec<(Option<String>, &'static str, Box<dyn JwsVerifier>)> = jwks
        .keys()
        .into_iter()
        .flat_map(|jwk| {
            let kid = jwk.key_id().map(str::to_string);
            let mut v: Vec<(Option<String>, &'static str, Box<dyn JwsVerifier>)> = Vec::new();
            match jwk.key_type() {
                "RSA" => {
                    if let Ok(x) = RS256.verifier_from_jwk(jwk) {
                        v.push((kid.clone(), "RS256", Box::new(x)));
                    }
                    if let Ok(x) = PS256.verifier_from_jwk(jwk) {
                        v.push((kid, "PS256", Box::new(x)));
                    }
                }
                "EC" => {
                    if let Ok(x) = ES256.verifier_from_jwk(jwk) {
                        v.push((kid, "ES256", Box::new(x)));
                    }
                }
                _ => {}
            }
            v
        })
        .collect();
    let (payload, _) = josekit::jws::deserialize_compact_with_selector(token, |h| {
        Ok(verifiers
            .iter()
            .find(|(kid, alg, _)| {
                Some(*alg) == h.algorithm()
                    && (h.key_id().is_none() || kid.as_deref() == h.key_id())
            })
            .map(|(_, _, v)| v.as_ref()))
    })
    .ok()?;
    serde_json::from_slice(&payload).ok()
}

/// Verifies a JWS made with an HMAC of `secret` (`client_secret_jwt`): HS256, and HS384
/// or HS512 when the secret is at least as long as their hash (RFC 7518 3.2).
fn verify_with_secret(token: &str, secret: &[u8]) -> Option<serde_json::Map<String, Value>> {
    let verifiers: Vec<_> = [HS256, HS384, HS512]
        .into_iter()
        .filter_map(|alg| alg.verifier_from_bytes(secret).ok())
        .collect();
    let (payload, _) = josekit::jws::deserialize_compact_with_selector(token, |h| {
        Ok(verifiers
            .iter()
            .find(|v| Some(v.algorithm().name()) == h.algorithm())
            .map(|v| v as &dyn JwsVerifier))
    })
    .ok()?;
    serde_json::from_slice(&payload).ok()
}

/// Records an assertion id until it expires; false when it was already recorded. The
/// insert itself decides, so two concurrent uses cannot both succeed.
fn remember_jti(
    conn: &mut AnyConnection,
    client_id: &str,
    jti: &str,
    exp: i64,
) -> StoreResult<bool> {
    let key = crypto::secret_hash(&format!("{client_id}\n{jti}"));
    crate::store::seen_once(conn, &key, exp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn times(v: Value) -> Result<(), &'static str> {
        check_times(v.as_object().unwrap(), 1000)
    }

    #[test]
    fn assertions_from_the_future_are_refused() {
        assert!(times(json!({})).is_ok());
        assert!(times(json!({"iat": 1000, "nbf": 1000})).is_ok());
        assert!(
            times(json!({"iat": 1060, "nbf": 1060})).is_ok(),
            "within the skew"
        );
        assert_eq!(times(json!({"iat": 1061})), Err("issued in the future"));
        assert_eq!(times(json!({"nbf": 1000 + 86400})), Err("not yet valid"));
        assert!(times(json!({"nbf": "soon"})).is_err());
    }

    /// Found by fuzzing: a header whose sixth byte is inside a character panicked.
    #[test]
    fn authorization_headers_of_any_text_are_read_without_panicking() {
        let params = Params::default();
        for header in [
            "Ba\u{8d}c ZnV6ei1zZWNyZXQ6",
            "Basic",
            "basic ",
            "Básic eDp5",
        ] {
            let Err(refused) = presented(Some(header), &params) else {
                panic!("{header} was taken for credentials");
            };
            assert_eq!(refused.code, ErrorCode::InvalidClient, "{header}");
        }
        let basic = presented(Some("bAsIc eDp5"), &params).unwrap();
        assert!(matches!(basic, Presented::Basic { id, secret } if id == "x" && secret == "y"));
    }

    mod cached_clients {
        use super::super::*;
        use crate::admin::Context;
        use crate::admin::clients::{self as admin, Credentials, NewClient, NewSecret};
        use crate::admin::testing::{T0, cli};
        use crate::service::{Service, for_tests};
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

        /// A confidential client `m2m` with a secret of its own; its secret.
        fn registered(svc: &Service) -> String {
            let mut new = NewClient::new("m2m", Credentials::GenerateSecret, Vec::new());
            new.grant_types = vec!["client_credentials".into()];
            let created = admin::create(&Context::from(svc), &cli(), new, T0).expect("created");
            created.secret.expect("a secret")
        }

        fn with_secret(svc: &Service, secret: &str) -> OidcResult<Client> {
            let presented = Presented::Basic {
                id: "m2m".into(),
                secret: secret.into(),
            };
            let aud = [svc.provider.issuer.as_str()];
            authenticate_throttled(&svc.db, &svc.provider, &presented, None, &aud, None, T0)
        }

        /// Client authentication reads its client from a cache; a rotation must still
        /// refuse the old secret to every request that begins after it returned, however
        /// many requests read the client meanwhile.
        #[test]
        fn a_rotated_secret_is_refused_as_soon_as_the_rotation_returns() {
            let (_dir, svc) = for_tests();
            let old = registered(&svc);
            with_secret(&svc, &old).expect("the secret is accepted");
            let rotated = AtomicBool::new(false);
            let stale = AtomicUsize::new(0);
            let checked = AtomicUsize::new(0);
            std::thread::scope(|s| {
                for _ in 0..6 {
                    s.spawn(|| {
                        for _ in 0..200 {
                            let after = rotated.load(Ordering::SeqCst);
                            let accepted = with_secret(&svc, &old).is_ok();
                            if after {
                                checked.fetch_add(1, Ordering::SeqCst);
                                if accepted {
                                    stale.fetch_add(1, Ordering::SeqCst);
                                }
                            }
                        }
                    });
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
                let ctx = Context::from(&svc);
                admin::rotate_secret(&ctx, &cli(), "m2m", NewSecret::Generate, T0)
                    .expect("rotated");
                rotated.store(true, Ordering::SeqCst);
            });
            assert!(
                checked.load(Ordering::SeqCst) > 0,
                "no request began after it"
            );
            assert_eq!(
                stale.load(Ordering::SeqCst),
                0,
                "the old secret was accepted"
            );
        }

        #[test]
        fn another_instance_follows_a_change_at_its_next_look() {
            let (_dir, a) = for_tests();
            let secret = registered(&a);
            let db = crate::store::Db::open(&a.config.database_url, 2).expect("database");
            let b = Service::new(
                a.config.clone(),
                db,
                crate::keys::kek::Kek::from_bytes(&[7; 32]),
            )
            .expect("second instance");
            b.db.follow_clients().unwrap();
            with_secret(&b, &secret).expect("accepted on the other instance");
            let ctx = Context::from(&a);
            let new = admin::rotate_secret(&ctx, &cli(), "m2m", NewSecret::Generate, T0)
                .expect("rotated")
                .expect("a new secret");
            with_secret(&a, &secret).expect_err("refused where it was rotated");
            b.db.follow_clients().unwrap();
            with_secret(&b, &secret).expect_err("refused on the other instance");
            with_secret(&b, &new).expect("the new secret is accepted there");
            admin::remove(&ctx, &cli(), "m2m", T0).expect("removed");
            b.db.follow_clients().unwrap();
            with_secret(&b, &new).expect_err("a removed client is refused there");
        }
    }
}
