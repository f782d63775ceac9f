//! DPoP (RFC 9449): tokens bound to a key the client holds. With each token request the
//! client sends a proof (a JWT signed by its key, with the public key in the header) for
//! that request's method and URI; the tokens issued are bound to the key's thumbprint
//! (`jkt`): a JWT access token carries it as `cnf.jkt`, an opaque one and the grant's
//! refresh tokens keep it in the database. Whoever presents such a token must prove the
//! same key again, for that request, once: a stolen token alone is worthless.
//!
//! A proof sent with a pushed authorization request binds the code to its key (RFC 9449
//! 10.1), as `dpop_jkt` does.
//!
//! The token and PAR endpoints ask for a server nonce (`DPoP-Nonce`): a proof must carry one of the
//! last two five-minute periods, so that a proof made in advance cannot be used later.
//! Nonces are keyed MACs of their period (`Nonces`), the same on every instance and stored
//! nowhere. Each proof's `jti` is recorded until it could no longer be accepted, by an
//! insert that only one request can make.

use crate::crypto;
use crate::store::{AnyConnection, StoreResult};
use serde_json::{Map, Value};

/// The proof's `typ`.
pub const TYP: &str = "dpop+jwt";
/// The signature algorithms a proof may use (asymmetric only, as the RFC requires).
pub const ALGS: [&str; 5] = ["ES256", "ES384", "RS256", "PS256", "EdDSA"];
/// How far a proof's `iat` may be from the server's clock.
const WINDOW: i64 = 60;
/// How long a nonce period lasts; a nonce of this or the previous period is accepted.
const NONCE_PERIOD: i64 = 300;
/// The longest `jti` accepted.
const MAX_JTI: usize = 256;

/// Why a proof was not accepted: answered as `invalid_dpop_proof`, or, for a missing or
/// stale nonce, as `use_dpop_nonce` with a fresh one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Invalid(&'static str),
    UseNonce,
}

/// A proof that checked out: the thumbprint of its key, and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    pub jkt: String,
    pub jti: String,
}

/// What a proof must be for.
pub struct Expected<'a> {
    /// The HTTP method.
    pub htm: &'a str,
    /// The endpoint's URI (without query or fragment).
    pub htu: &'a str,
    /// The access token presented with the proof, at a resource (its hash is `ath`).
    pub access_token: Option<&'a str>,
    /// Whether a nonce of ours is required.
    pub nonce: Option<&'a Nonces>,
}

/// Checks a proof's form, signature and claims (not yet its `jti`: see `remember`).
pub fn check(proof: &str, expected: &Expected, now: i64) -> Result<Proof, Refused> {
    use Refused::Invalid;
    let header_part = proof.split('.').next().unwrap_or_default();
    let header: Map<String, Value> = crypto::b64url_decode(header_part)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(Invalid("the DPoP proof is not a JWT"))?;
    if header.get("typ").and_then(Value::as_str) != Some(TYP) {
        return Err(Invalid("the DPoP proof's typ is not dpop+jwt"));
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !ALGS.contains(&alg) {
        return Err(Invalid("the DPoP proof's algorithm is not supported"));
    }
    let jwk = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or(Invalid("the DPoP proof has no jwk"))?;
    const PRIVATE: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];
    if PRIVATE.iter().any(|m| jwk.contains_key(*m)) {
        return Err(Invalid("the DPoP proof's jwk is not a public key"));
    }
    let jkt = thumbprint(jwk).ok_or(Invalid("the DPoP proof's jwk is not a usable key"))?;
    let claims = verified(proof, alg, jwk).ok_or(Invalid("the DPoP proof's signature is wrong"))?;
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= MAX_JTI)
        .ok_or(Invalid("the DPoP proof has no usable jti"))?;
    if text("htm") != Some(expected.htm) {
        return Err(Invalid("the DPoP proof is for another method"));
    }
    if text("htu").and_then(normalized) != normalized(expected.htu) {
        return Err(Invalid("the DPoP proof is for another URI"));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(Invalid("the DPoP proof has no iat"))?;
    if (iat - now).abs() > WINDOW {
        return Err(Invalid("the DPoP proof is too old or from the future"));
    }
    if let Some(token) = expected.access_token {
        let ath = crypto::b64url(&crypto::sha256(token.as_bytes()));
        if text("ath").is_none_or(|a| !crypto::constant_time_eq(a, &ath)) {
            return Err(Invalid("the DPoP proof is not for this access token"));
        }
    }
    if let Some(nonces) = expected.nonce
        && !text("nonce").is_some_and(|n| nonces.accepts(n, now))
    {
        return Err(Refused::UseNonce);
    }
    Ok(Proof {
        jkt,
        jti: jti.to_string(),
    })
}

/// How an access token was presented at a resource of ours: with which scheme, and the
/// DPoP proof sent with it.
pub struct Presentation<'a> {
    pub token: &'a str,
    /// `Authorization: DPoP` rather than `Bearer`.
    pub dpop_scheme: bool,
    pub proof: Option<&'a str>,
    pub htm: &'a str,
    pub htu: &'a str,
}

/// Whether a token was presented as it must be (RFC 9449 7): a token bound to a key only
/// with the `DPoP` scheme and a proof of that key for this request and this token, used
/// once; a token bound to no key only as `Bearer`.
pub fn confirm(
    db: &crate::store::Db,
    bound_to: Option<&str>,
    p: &Presentation,
    now: i64,
) -> crate::oidc::error::OidcResult<()> {
    use crate::oidc::error::{ErrorCode, OidcError};
    let Some(jkt) = bound_to else {
        if p.dpop_scheme {
            return Err(OidcError::new(
                ErrorCode::InvalidToken,
                "the access token is not bound to a DPoP key: present it as Bearer",
            ));
        }
        return Ok(());
    };
    let (true, Some(proof)) = (p.dpop_scheme, p.proof) else {
        return Err(OidcError::new(
            ErrorCode::InvalidToken,
            "the access token is bound to a DPoP key: present it as DPoP with a proof",
        ));
    };
    let expected = Expected {
        htm: p.htm,
        htu: p.htu,
        access_token: Some(p.token),
        nonce: None,
    };
    let invalid = |why: &str| OidcError::new(ErrorCode::InvalidDpopProof, why);
    let proof = check(proof, &expected, now).map_err(|r| match r {
        Refused::Invalid(why) => invalid(why),
        Refused::UseNonce => invalid("the DPoP proof needs a nonce"),
    })?;
    if !crypto::constant_time_eq(&proof.jkt, jkt) {
        return Err(invalid(
            "the DPoP proof is signed by another key than the token is bound to",
        ));
    }
    if !db.tx(|c| remember(c, &proof, now))? {
        return Err(invalid("the DPoP proof was used before"));
    }
    Ok(())
}

/// Records a proof as used, in the caller's transaction; false when it was used before
/// (the insert decides, so of two concurrent uses only one succeeds).
pub fn remember(conn: &mut AnyConnection, proof: &Proof, now: i64) -> StoreResult<bool> {
    let key = crypto::secret_hash(&format!("dpop\n{}\n{}", proof.jkt, proof.jti));
    crate::store::seen_once(conn, &key, now + 2 * WINDOW)
}

/// The thumbprint of the key a proof sent to our endpoint `htu` (token, PAR) was made with:
/// the proof is for a POST there, carries a current nonce, and was not used before.
pub fn proved_key(
    db: &crate::store::Db,
    nonces: &Nonces,
    proof: &str,
    htu: &str,
    now: i64,
) -> crate::oidc::error::OidcResult<String> {
    use crate::oidc::error::{ErrorCode, OidcError};
    let expected = Expected {
        htm: "POST",
        htu,
        access_token: None,
        nonce: Some(nonces),
    };
    let proof = check(proof, &expected, now).map_err(OidcError::dpop)?;
    if !db.tx(|c| remember(c, &proof, now))? {
        return Err(OidcError::new(
            ErrorCode::InvalidDpopProof,
            "the DPoP proof was used before",
        ));
    }
    Ok(proof.jkt)
}

/// The URI as `htu` is compared (RFC 9449 4.3): without query and fragment, after the
/// syntax-based normalisation of RFC 3986 6.2.2 and 6.2.3 (scheme and host in lower case,
/// no default port, percent-encoding and dot segments normalised).
fn normalized(uri: &str) -> Option<String> {
    let mut u = url::Url::parse(uri).ok()?;
    u.set_query(None);
    u.set_fragment(None);
    Some(u.into())
}

/// The JWK SHA-256 thumbprint (RFC 7638) of an EC, RSA or OKP public key.
pub fn thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let member = |k: &str| jwk.get(k).and_then(Value::as_str);
    let required: &[&str] = match member("kty")? {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    // The required members in lexicographic order, no white space (RFC 7638 3).
    let mut canonical = Map::new();
    for k in required {
        canonical.insert((*k).to_string(), Value::from(member(k)?));
    }
    let json = serde_json::to_string(&canonical).ok()?;
    Some(crypto::b64url(&crypto::sha256(json.as_bytes())))
}

/// The claims of a compact JWS signed with `alg` by the key `jwk`.
fn verified(proof: &str, alg: &str, jwk: &Map<String, Value>) -> Option<Map<String, Value>> {
    use josekit::jws;
    let jwk = josekit::jwk::Jwk::from_map(jwk.clone()).ok()?;
    let verifier: Box<dyn jws::JwsVerifier> = match alg {
        "ES256" => Box::new(jws::ES256.verifier_from_jwk(&jwk).ok()?),
        "ES384" => Box::new(jws::ES384.verifier_from_jwk(&jwk).ok()?),
        "RS256" => Box::new(jws::RS256.verifier_from_jwk(&jwk).ok()?),
        "PS256" => Box::new(jws::PS256.verifier_from_jwk(&jwk).ok()?),
        "EdDSA" => Box::new(jws::EdDSA.verifier_from_jwk(&jwk).ok()?),
        _ => return None,
    };
    let (payload, _) = jws::deserialize_compact(proof, verifier.as_ref()).ok()?;
    serde_json::from_slice(&payload).ok()
}

/// Server nonces: the period number and a MAC of it under a key derived from the
/// key-encryption key, so that every instance makes and accepts the same ones.
#[derive(Clone)]
pub struct Nonces {
    key: [u8; 32],
}

impl std::fmt::Debug for Nonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nonces(..)")
    }
}

impl Nonces {
    pub fn new(key: [u8; 32]) -> Nonces {
        Nonces { key }
    }

    fn of_period(&self, period: i64) -> String {
        let mac = crypto::hmac_sha256(&self.key, &[b"dpop nonce", &period.to_be_bytes()]);
        format!("{period}.{}", crypto::b64url(&mac[..16]))
    }

    /// The nonce to hand out at `now`.
    pub fn current(&self, now: i64) -> String {
        self.of_period(now.div_euclid(NONCE_PERIOD))
    }

    /// Whether `nonce` is one of this or the previous period.
    pub fn accepts(&self, nonce: &str, now: i64) -> bool {
        let period = now.div_euclid(NONCE_PERIOD);
        [period, period - 1]
            .iter()
            .any(|p| crypto::constant_time_eq(nonce, &self.of_period(*p)))
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use josekit::jwk::alg::ec::EcKeyPair;
    use serde_json::{Value, json};

    /// A client's DPoP key.
    pub struct Key(pub EcKeyPair);

    impl Key {
        pub fn new() -> Key {
            Key(josekit::jws::ES256.generate_key_pair().expect("key"))
        }

        /// A proof for `htm` `htu` at `iat`, with the given extra claims.
        pub fn proof(&self, htm: &str, htu: &str, iat: i64, extra: Value) -> String {
            let mut claims =
                json!({ "jti": crate::crypto::random_id(), "htm": htm, "htu": htu, "iat": iat });
            if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
                c.extend(e.clone());
            }
            self.signed(&claims, crate::oidc::dpop::TYP, true)
        }

        /// `claims` signed with this key, `typ` in the header, the public key with it or not.
        pub fn signed(&self, claims: &Value, typ: &str, with_jwk: bool) -> String {
            use josekit::jwk::KeyPair;
            let mut header = josekit::jws::JwsHeader::new();
            header.set_token_type(typ);
            if with_jwk {
                header.set_jwk(self.0.to_jwk_public_key());
            }
            let signer = josekit::jws::ES256
                .signer_from_jwk(&self.0.to_jwk_private_key())
                .expect("signer");
            josekit::jws::serialize_compact(claims.to_string().as_bytes(), &header, &signer)
                .expect("signed")
        }

        pub fn jkt(&self) -> String {
            use josekit::jwk::KeyPair;
            let public = self.0.to_jwk_public_key();
            super::thumbprint(public.as_ref()).expect("thumbprint")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::Key;
    use super::*;
    use serde_json::json;

    const T0: i64 = 1_800_000_000;
    const HTU: &str = "https://idp.example/token";

    fn expected<'a>(nonce: Option<&'a Nonces>) -> Expected<'a> {
        Expected {
            htm: "POST",
            htu: HTU,
            access_token: None,
            nonce,
        }
    }

    #[test]
    fn the_rfc_7638_example_thumbprint() {
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(jwk.as_object().unwrap()).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn a_proof_for_this_request_names_its_key() {
        let key = Key::new();
        let proof = key.proof("POST", HTU, T0, json!({}));
        let got = check(&proof, &expected(None), T0).expect("accepted");
        assert_eq!(got.jkt, key.jkt());
        // A query on the URI does not count, nor do the case of the scheme and host or a
        // default port (RFC 9449 4.3, RFC 3986 6.2.2-3).
        for htu in [
            format!("{HTU}?x=1"),
            "HTTPS://IDP.Example/token".to_string(),
            "https://idp.example:443/token#f".to_string(),
        ] {
            let proof = key.proof("POST", &htu, T0 + 59, json!({}));
            assert!(check(&proof, &expected(None), T0).is_ok(), "{htu}");
        }
        let path_case = key.proof("POST", "https://idp.example/TOKEN", T0, json!({}));
        assert!(check(&path_case, &expected(None), T0).is_err());
    }

    #[test]
    fn proofs_for_something_else_are_refused() {
        let key = Key::new();
        let refused = |proof: String| check(&proof, &expected(None), T0).unwrap_err();
        let invalid = |why| Refused::Invalid(why);
        assert_eq!(
            refused(key.proof("GET", HTU, T0, json!({}))),
            invalid("the DPoP proof is for another method")
        );
        assert_eq!(
            refused(key.proof("POST", "https://idp.example/userinfo", T0, json!({}))),
            invalid("the DPoP proof is for another URI")
        );
        assert_eq!(
            refused(key.proof("POST", HTU, T0 - 61, json!({}))),
            invalid("the DPoP proof is too old or from the future")
        );
        assert_eq!(
            refused(key.proof("POST", HTU, T0 + 61, json!({}))),
            invalid("the DPoP proof is too old or from the future")
        );
        let claims = json!({ "jti": "j", "htm": "POST", "htu": HTU, "iat": T0 });
        assert_eq!(
            refused(key.signed(&claims, "JWT", true)),
            invalid("the DPoP proof's typ is not dpop+jwt")
        );
        assert_eq!(
            refused(key.signed(&claims, TYP, false)),
            invalid("the DPoP proof has no jwk")
        );
        // Signed by another key than the one in its header.
        let other = Key::new().proof("POST", HTU, T0, json!({}));
        let mine = key.proof("POST", HTU, T0, json!({}));
        let forged = format!(
            "{}.{}",
            mine.rsplit_once('.').unwrap().0,
            other.rsplit_once('.').unwrap().1
        );
        assert_eq!(
            refused(forged),
            invalid("the DPoP proof's signature is wrong")
        );
        assert_eq!(
            refused("not a jwt".into()),
            invalid("the DPoP proof is not a JWT")
        );
    }

    #[test]
    fn at_a_resource_the_proof_names_the_access_token() {
        let key = Key::new();
        let ath = crypto::b64url(&crypto::sha256(b"the-token"));
        let e = |token| Expected {
            htm: "GET",
            htu: "https://idp.example/userinfo",
            access_token: Some(token),
            nonce: None,
        };
        let proof = key.proof(
            "GET",
            "https://idp.example/userinfo",
            T0,
            json!({ "ath": ath }),
        );
        assert!(check(&proof, &e("the-token"), T0).is_ok());
        assert_eq!(
            check(&proof, &e("another-token"), T0),
            Err(Refused::Invalid(
                "the DPoP proof is not for this access token"
            ))
        );
    }

    #[test]
    fn nonces_of_the_last_two_periods_are_accepted() {
        let nonces = Nonces::new([9; 32]);
        let key = Key::new();
        let n = nonces.current(T0);
        assert!(nonces.accepts(&n, T0 + NONCE_PERIOD));
        assert!(!nonces.accepts(&n, T0 + 2 * NONCE_PERIOD));
        assert!(
            !Nonces::new([8; 32]).accepts(&n, T0),
            "another deployment's"
        );
        let without = key.proof("POST", HTU, T0, json!({}));
        assert_eq!(
            check(&without, &expected(Some(&nonces)), T0),
            Err(Refused::UseNonce)
        );
        let with = key.proof("POST", HTU, T0, json!({ "nonce": n }));
        assert!(check(&with, &expected(Some(&nonces)), T0).is_ok());
    }

    #[test]
    fn a_proof_is_used_once_even_by_concurrent_requests() {
        let (_dir, svc) = crate::service::for_tests();
        let key = Key::new();
        let proof = check(&key.proof("POST", HTU, T0, json!({})), &expected(None), T0).unwrap();
        let used: Vec<bool> = std::thread::scope(|s| {
            let tries: Vec<_> = (0..4)
                .map(|_| s.spawn(|| svc.db.tx(|c| remember(c, &proof, T0)).expect("stored")))
                .collect();
            tries
                .into_iter()
                .map(|t| t.join().expect("thread"))
                .collect()
        });
        assert_eq!(used.iter().filter(|u| **u).count(), 1, "{used:?}");
    }
}
