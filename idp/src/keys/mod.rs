//! Token signing keys. One active key per algorithm (ES256 by default, RS256 for clients
//! that ask for it); `rotate` adds new keys while the retired ones stay published in the
//! JWKS until every token they signed has expired. Private keys are sealed with the
//! key-encryption key before they reach the database, and parsed once into a `KeySet`;
//! while the key-encryption key is in a security module, new keys are made and used in the
//! module instead (`hsm`), and the database keeps only their labels.

pub mod hsm;
pub mod kek;
pub mod provider;
pub mod rotation;
pub mod user_key;

use crate::store::keys::{self as rows, SigningKeyRow};
use crate::store::{AnyConnection, StoreError, StoreResult};
use josekit::jwk::Jwk;
use josekit::jwk::KeyPair;
use josekit::jws::{ES256, JwsHeader, JwsSigner, JwsVerifier, RS256};
use kek::Kek;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    Es256,
    Rs256,
}

impl Alg {
    pub const ALL: [Alg; 2] = [Alg::Es256, Alg::Rs256];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::Rs256 => "RS256",
        }
    }

    pub fn parse(s: &str) -> Option<Alg> {
        match s {
            "ES256" => Some(Alg::Es256),
            "RS256" => Some(Alg::Rs256),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("signing key {kid}: {reason}")]
    Key { kid: String, reason: String },
    #[error("no active {0} signing key")]
    NoActiveKey(&'static str),
    #[error("JOSE operation failed: {0}")]
    Jose(#[from] josekit::JoseError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The `private_key` of a key made in the security module: this prefix, then its label.
const IN_MODULE: &[u8] = b"pkcs11:";

/// The label of a signing key that lives in the security module, from its row's
/// `private_key`; none for a key sealed in the database.
pub fn module_label(private_key: &[u8]) -> Option<&str> {
    std::str::from_utf8(private_key.strip_prefix(IN_MODULE)?).ok()
}

/// Signs inside the key provider (a security module) with a key made there, found by its
/// label.
#[derive(Clone)]
struct ModuleSigner {
    provider: std::sync::Arc<dyn provider::KeyProvider>,
    label: String,
    alg: Alg,
}

impl std::fmt::Debug for ModuleSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleSigner")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl JwsSigner for ModuleSigner {
    fn algorithm(&self) -> &dyn josekit::jws::JwsAlgorithm {
        match self.alg {
            Alg::Es256 => &ES256,
            Alg::Rs256 => &RS256,
        }
    }

    fn key_id(&self) -> Option<&str> {
        None
    }

    fn signature_len(&self) -> usize {
        match self.alg {
            Alg::Es256 => 64,
            Alg::Rs256 => 256,
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, josekit::JoseError> {
        self.provider
            .signing_keys()
            .ok_or_else(|| kek::KekError::Hsm("the key provider keeps no signing keys".into()))
            .and_then(|keys| keys.sign(self.alg, &self.label, message))
            .map_err(|e| josekit::JoseError::InvalidSignature(e.into()))
    }

    fn box_clone(&self) -> Box<dyn JwsSigner> {
        Box::new(self.clone())
    }
}

/// ES256 signatures made with ring: the same signatures as josekit's (ECDSA on P-256 with
/// SHA-256, the 64 bytes of r and s of RFC 7518 3.4) in about three quarters of its
/// processor time. An ID token or a JWT access token is signed on every token request that
/// issues one.
#[derive(Clone)]
struct RingEs256(std::sync::Arc<ring::signature::EcdsaKeyPair>);

impl RingEs256 {
    /// From the private key `make_key` seals (SEC 1 DER, as josekit writes it), through
    /// its scalar and point; `None` when it is not a P-256 key.
    fn from_der(der: &[u8]) -> Option<Self> {
        use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
        let jwk = EcKeyPair::from_der(der, Some(EcCurve::P256))
            .ok()?
            .to_jwk_key_pair();
        let part = |name: &str| crate::crypto::b64url_decode(jwk.parameter(name)?.as_str()?);
        let (d, x, y) = (part("d")?, part("x")?, part("y")?);
        let point = [&[4][..], &x, &y].concat();
        let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let rng = ring::rand::SystemRandom::new();
        let pair =
            ring::signature::EcdsaKeyPair::from_private_key_and_public_key(alg, &d, &point, &rng)
                .ok()?;
        Some(RingEs256(std::sync::Arc::new(pair)))
    }
}

impl std::fmt::Debug for RingEs256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingEs256").finish_non_exhaustive()
    }
}

impl JwsSigner for RingEs256 {
    fn algorithm(&self) -> &dyn josekit::jws::JwsAlgorithm {
        &ES256
    }

    fn key_id(&self) -> Option<&str> {
        None
    }

    fn signature_len(&self) -> usize {
        64
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, josekit::JoseError> {
        let rng = ring::rand::SystemRandom::new();
        match self.0.sign(&rng, message) {
            Ok(signature) => Ok(signature.as_ref().to_vec()),
            Err(_) => Err(josekit::JoseError::InvalidSignature(
                std::io::Error::other("the ES256 signature could not be made").into(),
            )),
        }
    }

    fn box_clone(&self) -> Box<dyn JwsSigner> {
        Box::new(self.clone())
    }
}

struct SigningKey {
    kid: String,
    alg: Alg,
    active: bool,
    /// Only an active key signs; a retired one, still published, only verifies.
    signer: Option<Box<dyn JwsSigner>>,
    verifier: Box<dyn JwsVerifier>,
}

/// The published keys, parsed once, with the JWKS document rendered once.
pub struct KeySet {
    keys: Vec<SigningKey>,
    jwks_json: String,
}

impl KeySet {
    pub fn load(conn: &mut AnyConnection, kek: &Kek, now: i64) -> Result<KeySet, KeyError> {
        let rows = rows::published(conn, now)?;
        let mut keys = Vec::with_capacity(rows.len());
        let mut jwks = Vec::with_capacity(rows.len());
        for row in rows {
            let err = |reason: String| KeyError::Key {
                kid: row.kid.clone(),
                reason,
            };
            let alg = Alg::parse(&row.alg).ok_or_else(|| err(format!("algorithm {}", row.alg)))?;
            let jwk = Jwk::from_bytes(row.public_jwk.as_bytes())?;
            let verifier: Box<dyn JwsVerifier> = match alg {
                Alg::Es256 => Box::new(ES256.verifier_from_jwk(&jwk)?),
                Alg::Rs256 => Box::new(RS256.verifier_from_jwk(&jwk)?),
            };
            let signer = match row.active {
                true => Some(signer(kek, alg, &row.kid, &row.private_key)?),
                false => None,
            };
            jwks.push(Value::Object(jwk.as_ref().clone()));
            keys.push(SigningKey {
                kid: row.kid,
                alg,
                active: row.active,
                signer,
                verifier,
            });
        }
        let jwks_json = serde_json::json!({ "keys": jwks }).to_string();
        Ok(KeySet { keys, jwks_json })
    }

    /// A key set without keys: it signs nothing, for good (for tests of signing failures).
    #[cfg(test)]
    pub(crate) fn empty() -> KeySet {
        KeySet {
            keys: Vec::new(),
            jwks_json: r#"{"keys":[]}"#.into(),
        }
    }

    /// A key set whose one key is in a security module that does not answer (for tests of
    /// passing signing failures).
    #[cfg(test)]
    pub(crate) fn unanswered() -> KeySet {
        let mut jwk = ES256.generate_key_pair().expect("key").to_jwk_public_key();
        jwk.set_key_id("unanswered");
        let signer = ModuleSigner {
            provider: std::sync::Arc::new(provider::LocalKey::new(&[0; 32])),
            label: "unanswered".into(),
            alg: Alg::Es256,
        };
        KeySet {
            keys: vec![SigningKey {
                kid: "unanswered".into(),
                alg: Alg::Es256,
                active: true,
                signer: Some(Box::new(signer)),
                verifier: Box::new(ES256.verifier_from_jwk(&jwk).expect("verifier")),
            }],
            jwks_json: r#"{"keys":[]}"#.into(),
        }
    }

    pub fn jwks_json(&self) -> &str {
        &self.jwks_json
    }

    /// Identifies the key set's content: changes when a key is added or retired.
    pub fn fingerprint(&self) -> String {
        fingerprint_of(self.keys.iter().map(|k| (k.kid.as_str(), k.active)))
    }

    fn active(&self, alg: Alg) -> Result<(&SigningKey, &dyn JwsSigner), KeyError> {
        self.keys
            .iter()
            .find_map(|k| Some((k, k.signer.as_deref()?)).filter(|_| k.alg == alg))
            .ok_or(KeyError::NoActiveKey(alg.as_str()))
    }

    /// Signs `claims` as a compact JWS with the active key of `alg`.
    pub fn sign(&self, alg: Alg, claims: &Map<String, Value>) -> Result<String, KeyError> {
        self.sign_typed(alg, "JWT", claims)
    }

    /// `sign` with the header's `typ` (RFC 8725 3.11: each kind of JWT its own type).
    pub fn sign_typed(
        &self,
        alg: Alg,
        typ: &str,
        claims: &Map<String, Value>,
    ) -> Result<String, KeyError> {
        let (key, signer) = self.active(alg)?;
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_key_id(&key.kid);
        let payload =
            serde_json::to_vec(claims).map_err(|e| josekit::JoseError::InvalidJson(e.into()))?;
        Ok(josekit::jws::serialize_compact(&payload, &header, signer)?)
    }

    /// Verifies a JWS signed by one of the published keys (selected by `kid`) and returns
    /// its claims. Expiry is the caller's business.
    pub fn verify(&self, token: &str) -> Option<Map<String, Value>> {
        self.verify_typed(token, None)
    }

    /// `verify`, and when `typ` is given, the header's `typ` must be it (compared without
    /// case and without an `application/` prefix, RFC 7515 4.1.9).
    pub fn verify_typed(&self, token: &str, typ: Option<&str>) -> Option<Map<String, Value>> {
        let (payload, header) = josekit::jws::deserialize_compact_with_selector(token, |h| {
            Ok(h.key_id().and_then(|kid| {
                self.keys
                    .iter()
                    .find(|k| k.kid == kid && Some(k.alg.as_str()) == h.algorithm())
                    .map(|k| k.verifier.as_ref())
            }))
        })
        .ok()?;
        if let Some(wanted) = typ {
            let got = header.token_type()?;
            let got = got
                .strip_prefix("application/")
                .or_else(|| got.strip_prefix("APPLICATION/"))
                .unwrap_or(got);
            if !got.eq_ignore_ascii_case(wanted) {
                return None;
            }
        }
        serde_json::from_slice(&payload).ok()
    }
}

/// Makes a key pair `kid` for `alg`: in the security module when the key-encryption key is
/// there, otherwise here, sealed. Returns what the database keeps of its private half (a
/// label, or the sealed key) and its public half (with `kid`, `alg` and `use`).
pub(crate) fn make_key(alg: Alg, kek: &Kek, kid: &str) -> Result<(Vec<u8>, Jwk), KeyError> {
    let failed = |e: kek::KekError| KeyError::Key {
        kid: kid.to_string(),
        reason: e.to_string(),
    };
    let (private_key, mut jwk) = match kek.signing_keys() {
        Some(module) => {
            let (label, public) = module.generate(alg, kid).map_err(failed)?;
            (
                [IN_MODULE, label.as_bytes()].concat(),
                Jwk::from_map(public)?,
            )
        }
        None => {
            let (der, jwk) = match alg {
                Alg::Es256 => {
                    let kp = ES256.generate_key_pair()?;
                    (kp.to_der_private_key(), kp.to_jwk_public_key())
                }
                Alg::Rs256 => {
                    let kp = RS256.generate_key_pair(2048)?;
                    (kp.to_der_private_key(), kp.to_jwk_public_key())
                }
            };
            (kek.seal(&der, kid).map_err(failed)?, jwk)
        }
    };
    jwk.set_key_id(kid);
    jwk.set_algorithm(alg.as_str());
    jwk.set_key_use("sig");
    Ok((private_key, jwk))
}

/// The signer of a key `make_key` made, from what the database keeps of it.
pub(crate) fn signer(
    kek: &Kek,
    alg: Alg,
    kid: &str,
    private_key: &[u8],
) -> Result<Box<dyn JwsSigner>, KeyError> {
    let err = |reason: String| KeyError::Key {
        kid: kid.to_string(),
        reason,
    };
    Ok(match module_label(private_key) {
        Some(label) => {
            let module = kek.signing_keys().ok_or_else(|| {
                err("it is in a security module: configure [pkcs11] to reach it".into())
            })?;
            module.check(label).map_err(|e| err(e.to_string()))?;
            Box::new(ModuleSigner {
                provider: kek.provider().clone(),
                label: label.to_string(),
                alg,
            })
        }
        None => {
            let der = kek.open(private_key, kid).map_err(|e| err(e.to_string()))?;
            match alg {
                Alg::Es256 => match RingEs256::from_der(&der) {
                    Some(ring) => Box::new(ring),
                    None => Box::new(ES256.signer_from_der(&der)?),
                },
                Alg::Rs256 => Box::new(RS256.signer_from_der(&der)?),
            }
        }
    })
}

fn generate(alg: Alg, kek: &Kek, now: i64) -> Result<SigningKeyRow, KeyError> {
    let kid = crate::crypto::random_token()[..16].to_string();
    let (private_key, jwk) = make_key(alg, kek, &kid)?;
    Ok(SigningKeyRow {
        private_key,
        public_jwk: jwk.to_string(),
        kid,
        alg: alg.as_str().to_string(),
        active: true,
        created_at: now,
        retire_at: None,
    })
}

/// Creates an active key for every algorithm that has none. Returns how many were made.
pub fn ensure_active(conn: &mut AnyConnection, kek: &Kek, now: i64) -> Result<usize, KeyError> {
    let published = rows::published(conn, now)?;
    let mut made = 0;
    for alg in Alg::ALL {
        if !published.iter().any(|k| k.active && k.alg == alg.as_str()) {
            rows::insert(conn, &generate(alg, kek, now)?)?;
            made += 1;
        }
    }
    Ok(made)
}

/// Adds a new active key for every algorithm; the previous keys stop signing now and stay
/// published for `publish_for` seconds, the longest lifetime of a token they signed.
pub fn rotate(
    conn: &mut AnyConnection,
    kek: &Kek,
    now: i64,
    publish_for: i64,
) -> Result<Vec<String>, KeyError> {
    let mut kids = Vec::new();
    for alg in Alg::ALL {
        let row = generate(alg, kek, now)?;
        rows::retire_active(conn, alg.as_str(), now + publish_for)?;
        rows::insert(conn, &row)?;
        kids.push(row.kid);
    }
    Ok(kids)
}

/// Destroys in the security module the keys made there that are no longer published, as
/// far as it can: after a rotation has committed, so that a module that refuses leaves
/// the rotation done (the next one tries again). Returns how many it destroyed.
pub fn destroy_unpublished(db: &crate::store::Db, kek: &Kek, now: i64) -> usize {
    let Some(module) = kek.signing_keys() else {
        return 0;
    };
    let rows = match db.run(|c| rows::unpublished(c, now)) {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "the retired signing keys could not be listed");
            return 0;
        }
    };
    let mut destroyed = 0;
    for (kid, private_key) in rows {
        let Some(label) = module_label(&private_key) else {
            continue;
        };
        match module.destroy(label) {
            Ok(()) => destroyed += 1,
            Err(e) => tracing::warn!(%kid, error = %e, "a retired signing key stays in the module"),
        }
    }
    destroyed
}

/// Which keys are published and which of them sign, as one string: equal strings, the
/// same key set.
pub fn fingerprint_of<'a>(keys: impl Iterator<Item = (&'a str, bool)>) -> String {
    let mut ids: Vec<String> = keys
        .map(|(kid, active)| format!("{kid}:{active}"))
        .collect();
    ids.sort();
    ids.join(",")
}

/// The fingerprint of the keys published now, read without their key material.
pub fn published_fingerprint(conn: &mut AnyConnection, now: i64) -> StoreResult<String> {
    let ids = rows::published_ids(conn, now)?;
    Ok(fingerprint_of(ids.iter().map(|(k, a)| (k.as_str(), *a))))
}

pub fn published_rows(conn: &mut AnyConnection, now: i64) -> StoreResult<Vec<SigningKeyRow>> {
    rows::published(conn, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys `make_key` makes are signed with by ring, and josekit verifies what ring
    /// signed with the published half.
    #[test]
    fn es256_keys_sign_with_ring_and_verify_with_their_published_half() {
        let kp = ES256.generate_key_pair().unwrap();
        let ring = RingEs256::from_der(&kp.to_der_private_key()).expect("ring takes the key");
        let verifier = ES256.verifier_from_jwk(&kp.to_jwk_public_key()).unwrap();
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        let jws = josekit::jws::serialize_compact(b"{\"a\":1}", &header, &ring).unwrap();
        let (payload, _) = josekit::jws::deserialize_compact(&jws, &verifier).unwrap();
        assert_eq!(payload, b"{\"a\":1}");
        // Another key's verifier refuses it.
        let other = ES256.generate_key_pair().unwrap().to_jwk_public_key();
        let other = ES256.verifier_from_jwk(&other).unwrap();
        assert!(josekit::jws::deserialize_compact(&jws, &other).is_err());
        assert!(RingEs256::from_der(b"not a key").is_none());
    }
}
