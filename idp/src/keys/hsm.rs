//! The key-encryption key in a hardware security module, through PKCS#11 (`cryptoki`):
//! tested against SoftHSM2, and the same for a network HSM or a cloud KMS that offers a
//! PKCS#11 module.
//!
//! The key is two secret-key objects of one value in the token, neither extractable nor
//! readable: an AES key (`<label>-seal`) that seals and opens values at rest with
//! AES-256-GCM inside the module, and a generic secret (`<label>-derive`) from which the
//! provider's other keys are derived by HMAC-SHA256 inside the module (see `kek`). Both
//! compute exactly what the key file does with the same value, so an installation moves
//! from a key file to a module by importing the file's key (`idp keys import-kek`), and
//! everything sealed, every pairwise `sub` and every client secret's hash stays valid;
//! the key file is then deleted. The derived keys live in the provider's memory, as with
//! a key file; the key itself never leaves the module after the import.
//!
//! Token signing keys made while the key-encryption key is in a module are made in the
//! module too (`<label>-sign-<kid>`: an EC P-256 or RSA 2048 key pair whose private half is
//! sensitive and not extractable), and every signature is made there; the database holds
//! only their public halves and labels.
//!
//! An instance keeps one session per core (`Hsm::connect`), each connected again on its
//! own when lost, so that signatures of concurrent requests run side by side in the module.

use super::kek::KekError;
use super::provider::{KeyProvider, NONCE_LEN, SigningKeys};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

/// Where the key is: the PKCS#11 module (a shared library), the token's label, the
/// user PIN, and the label of the key's objects.
#[derive(Clone)]
pub struct HsmConfig {
    pub module: PathBuf,
    pub token: String,
    pub pin: String,
    pub key: String,
}

/// Everything but the PIN, which no log may show.
impl std::fmt::Debug for HsmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HsmConfig")
            .field("module", &self.module)
            .field("token", &self.token)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// A connection to the token: its settings, and sessions, each behind its own lock and
/// connected again when it is lost (`Hsm::run`). An operation takes the next free session,
/// so that the operations of several threads (signatures above all) run side by side in
/// the module.
pub struct Hsm {
    cfg: HsmConfig,
    sessions: Vec<Mutex<Connected>>,
    next: AtomicUsize,
}

/// The most sessions an instance opens (one per core up to this).
const MAX_SESSIONS: usize = 8;

/// A logged-in session with the token, the key's two objects, and the signing keys found
/// so far (by label). Handles hold for one connection only.
struct Connected {
    session: Session,
    seal_key: ObjectHandle,
    derive_key: ObjectHandle,
    signing_keys: std::collections::HashMap<String, ObjectHandle>,
}

/// Whether an error means the session is gone (closed, logged out, the module or its
/// device restarted) or a handle of it is stale: connecting again may help.
fn lost(e: &cryptoki::error::Error) -> bool {
    use cryptoki::error::RvError as Rv;
    matches!(
        e,
        cryptoki::error::Error::Pkcs11(
            Rv::SessionHandleInvalid
                | Rv::SessionClosed
                | Rv::UserNotLoggedIn
                | Rv::DeviceRemoved
                | Rv::DeviceError
                | Rv::TokenNotPresent
                | Rv::CryptokiNotInitialized
                | Rv::ObjectHandleInvalid
                | Rv::KeyHandleInvalid,
            _
        )
    )
}

/// Logs in to the token named in `cfg` and finds the key.
fn connected(cfg: &HsmConfig) -> Result<Connected, KekError> {
    let session = session(cfg)?;
    let missing = || {
        KekError::Hsm(format!(
            "the token has no key labelled {}: `idp keys import-kek` puts one there",
            cfg.key
        ))
    };
    let seal_key =
        find(&session, &format!("{}-seal", cfg.key), KeyType::AES)?.ok_or_else(missing)?;
    let derive_key = find(
        &session,
        &format!("{}-derive", cfg.key),
        KeyType::GENERIC_SECRET,
    )?
    .ok_or_else(missing)?;
    Ok(Connected {
        session,
        seal_key,
        derive_key,
        signing_keys: Default::default(),
    })
}

/// The private half of the signing key labelled `label`, found once per session; an
/// error of its own (inside) when the token has none, or more than one.
fn signing_key(
    c: &mut Connected,
    label: &str,
) -> Result<Result<ObjectHandle, KekError>, cryptoki::error::Error> {
    if let Some(handle) = c.signing_keys.get(label) {
        return Ok(Ok(*handle));
    }
    let found = c.session.find_objects(&[
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::Label(label.as_bytes().to_vec()),
    ])?;
    Ok(match found.as_slice() {
        [one] => {
            c.signing_keys.insert(label.to_string(), *one);
            Ok(*one)
        }
        [] => Err(KekError::Hsm(format!(
            "the token has no signing key labelled {label}"
        ))),
        _ => Err(KekError::Hsm(format!(
            "the token has several signing keys labelled {label}"
        ))),
    })
}

/// The DER of the named curve P-256 (OID 1.2.840.10045.3.1.7), as `CKA_EC_PARAMS` takes it.
const P256: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// 65537, the public exponent of the RSA keys made here.
const RSA_EXPONENT: [u8; 3] = [0x01, 0x00, 0x01];

/// The public half of a key pair the module made, as JWK members, from its attributes
/// (`CKA_EC_POINT`, or `CKA_MODULUS` and `CKA_PUBLIC_EXPONENT`).
fn public_jwk(
    alg: super::Alg,
    attributes: Vec<Attribute>,
) -> Result<serde_json::Map<String, serde_json::Value>, KekError> {
    let bad = |what: &str| KekError::Hsm(format!("the module gave {what}"));
    let b64 = |bytes: &[u8]| serde_json::Value::from(crate::crypto::b64url(bytes));
    // Big-endian integers without leading zeros (RFC 7518 6.3.1).
    let unsigned = |bytes: &[u8]| -> Vec<u8> {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        bytes[start..].to_vec()
    };
    let mut jwk = serde_json::Map::new();
    match alg {
        super::Alg::Es256 => {
            let Some(Attribute::EcPoint(point)) = attributes.into_iter().next() else {
                return Err(bad("no public point"));
            };
            // An uncompressed point, 04 || x || y, maybe inside a DER OCTET STRING.
            let raw = match point.as_slice() {
                [0x04, 0x41, rest @ ..] if rest.len() == 65 => rest,
                p => p,
            };
            let [0x04, xy @ ..] = raw else {
                return Err(bad("a compressed point"));
            };
            if xy.len() != 64 {
                return Err(bad("a point of another curve"));
            }
            jwk.insert("kty".into(), "EC".into());
            jwk.insert("crv".into(), "P-256".into());
            jwk.insert("x".into(), b64(&xy[..32]));
            jwk.insert("y".into(), b64(&xy[32..]));
        }
        super::Alg::Rs256 => {
            jwk.insert("kty".into(), "RSA".into());
            for attribute in attributes {
                match attribute {
                    Attribute::Modulus(n) => {
                        let n = unsigned(&n);
                        if n.len() != 256 {
                            return Err(bad("an RSA key of another size"));
                        }
                        jwk.insert("n".into(), b64(&n));
                    }
                    Attribute::PublicExponent(e) if unsigned(&e) == RSA_EXPONENT => {
                        jwk.insert("e".into(), b64(&RSA_EXPONENT));
                    }
                    Attribute::PublicExponent(_) => return Err(bad("another RSA exponent")),
                    _ => {}
                }
            }
            if !(jwk.contains_key("n") && jwk.contains_key("e")) {
                return Err(bad("no RSA public key"));
            }
        }
    }
    Ok(jwk)
}

fn failed(what: &str, e: impl std::fmt::Display) -> KekError {
    KekError::Hsm(format!("{what}: {e}"))
}

/// A user session with the token named in `cfg`.
fn session(cfg: &HsmConfig) -> Result<Session, KekError> {
    let pkcs11 = Pkcs11::new(&cfg.module).map_err(|e| failed("loading the PKCS#11 module", e))?;
    match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(())
        | Err(cryptoki::error::Error::Pkcs11(
            cryptoki::error::RvError::CryptokiAlreadyInitialized,
            _,
        )) => {}
        Err(e) => return Err(failed("initialising the PKCS#11 module", e)),
    }
    let slots = pkcs11
        .get_slots_with_initialized_token()
        .map_err(|e| failed("listing the tokens", e))?;
    let slot = slots
        .into_iter()
        .find(|s| {
            pkcs11
                .get_token_info(*s)
                .is_ok_and(|t| t.label().trim_end() == cfg.token)
        })
        .ok_or_else(|| KekError::Hsm(format!("no token labelled {}", cfg.token)))?;
    let session = pkcs11
        .open_rw_session(slot)
        .map_err(|e| failed("opening a session", e))?;
    // Logging in is the application's, not the session's: the sessions opened after the
    // first are logged in already.
    match session.login(UserType::User, Some(&AuthPin::from(cfg.pin.clone()))) {
        Ok(())
        | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserAlreadyLoggedIn, _)) => {
            Ok(session)
        }
        Err(e) => Err(failed("logging in to the token", e)),
    }
}

fn find(
    session: &Session,
    label: &str,
    key_type: KeyType,
) -> Result<Option<ObjectHandle>, KekError> {
    let found = session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(key_type),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(|e| failed("looking for the key", e))?;
    Ok(found.first().copied())
}

impl Hsm {
    /// Logs in to the token and finds the key, in one session per core (at most
    /// `MAX_SESSIONS`).
    pub fn connect(cfg: &HsmConfig) -> Result<Hsm, KekError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Hsm::with_sessions(cfg, cores.min(MAX_SESSIONS))
    }

    /// Up to `count` sessions: the first must open; a module that allows fewer gets fewer.
    fn with_sessions(cfg: &HsmConfig, count: usize) -> Result<Hsm, KekError> {
        let mut sessions = vec![Mutex::new(connected(cfg)?)];
        while sessions.len() < count {
            match connected(cfg) {
                Ok(c) => sessions.push(Mutex::new(c)),
                Err(e) => {
                    tracing::warn!(error = %e, sessions = sessions.len(), "the security module opened no more sessions");
                    break;
                }
            }
        }
        Ok(Hsm {
            cfg: cfg.clone(),
            sessions,
            next: AtomicUsize::new(0),
        })
    }

    /// A free session, looking from the next in turn; when all are busy, the next in turn
    /// once it is free. A session an operation panicked in is used on (an operation that
    /// finds it lost connects it again).
    fn take(&self) -> MutexGuard<'_, Connected> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.sessions.len();
        for i in 0..count {
            match self.sessions[(start + i) % count].try_lock() {
                Ok(c) => return c,
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.sessions[start % count]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `op` on the connection. When the session was lost, connects again (logging
    /// in, finding the objects anew) and runs it once more. `what` names the operation in
    /// errors.
    fn run<T>(
        &self,
        what: &str,
        op: impl Fn(&mut Connected) -> Result<T, cryptoki::error::Error>,
    ) -> Result<T, KekError> {
        let mut c = self.take();
        match op(&mut c) {
            Err(e) if lost(&e) => {
                tracing::warn!(error = %e, "the security module's session was lost; connecting again");
                *c = connected(&self.cfg)?;
                op(&mut c).map_err(|e| failed(what, e))
            }
            result => result.map_err(|e| failed(what, e)),
        }
    }

    /// Puts `key` into the token as the key labelled `cfg.key`, unreadable from then on.
    /// Refused when the token holds a key of that label already.
    pub fn import(cfg: &HsmConfig, key: &[u8; 32]) -> Result<(), KekError> {
        let session = session(cfg)?;
        let seal = format!("{}-seal", cfg.key);
        let derive = format!("{}-derive", cfg.key);
        if find(&session, &seal, KeyType::AES)?.is_some()
            || find(&session, &derive, KeyType::GENERIC_SECRET)?.is_some()
        {
            return Err(KekError::Hsm(format!(
                "the token holds a key labelled {} already",
                cfg.key
            )));
        }
        let common = |label: String, key_type: KeyType| {
            vec![
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(key_type),
                Attribute::Label(label.into_bytes()),
                Attribute::Value(key.to_vec()),
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
            ]
        };
        let mut sealing = common(seal, KeyType::AES);
        sealing.extend([Attribute::Encrypt(true), Attribute::Decrypt(true)]);
        let mut deriving = common(derive, KeyType::GENERIC_SECRET);
        deriving.extend([Attribute::Sign(true), Attribute::Verify(true)]);
        for template in [sealing, deriving] {
            session
                .create_object(&template)
                .map_err(|e| failed("storing the key", e))?;
        }
        Ok(())
    }

    /// The label of the signing key `kid` made here.
    fn signing_label(&self, kid: &str) -> String {
        format!("{}-sign-{kid}", self.cfg.key)
    }

    /// Whether `label` is one `signing_label` makes: nothing else is a signing key of
    /// ours, whatever the database says.
    fn is_signing_label(&self, label: &str) -> bool {
        label.starts_with(&format!("{}-sign-", self.cfg.key))
    }

    /// Refused for a label `signing_label` does not make.
    fn ours(&self, label: &str) -> Result<(), KekError> {
        match self.is_signing_label(label) {
            true => Ok(()),
            false => Err(KekError::Hsm(format!(
                "{label} is not a signing key's label"
            ))),
        }
    }
}

impl KeyProvider for Hsm {
    /// AES-256-GCM in the module, as `kek` seals: a random nonce, then the ciphertext and
    /// its tag.
    fn seal(&self, plain: &[u8], context: &str) -> Result<Vec<u8>, KekError> {
        let iv = crate::crypto::random_bytes::<NONCE_LEN>();
        let sealed = self.run("sealing", |c| {
            let mut iv = iv;
            let params = GcmParams::new(&mut iv, context.as_bytes(), 128.into())?;
            c.session
                .encrypt(&Mechanism::AesGcm(params), c.seal_key, plain)
        })?;
        let mut out = iv.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, KekError> {
        if sealed.len() < NONCE_LEN {
            return Err(KekError::Open);
        }
        let (iv, body) = sealed.split_at(NONCE_LEN);
        // A value that does not open is `Open`; a module that does not answer is not.
        let opened = self.run("opening", |c| {
            let mut iv = iv.to_vec();
            let params = GcmParams::new(&mut iv, context.as_bytes(), 128.into())?;
            match c
                .session
                .decrypt(&Mechanism::AesGcm(params), c.seal_key, body)
            {
                Err(e) if lost(&e) => Err(e),
                other => Ok(other.ok()),
            }
        })?;
        opened.ok_or(KekError::Open)
    }

    /// HMAC-SHA256 of `data` in the module, under the key's derivation object.
    fn hmac(&self, data: &[u8]) -> Result<[u8; 32], KekError> {
        let mac = self.run("deriving a key", |c| {
            c.session.sign(&Mechanism::Sha256Hmac, c.derive_key, data)
        })?;
        mac.as_slice()
            .try_into()
            .map_err(|_| KekError::Hsm(format!("an HMAC of {} bytes", mac.len())))
    }

    fn signing_keys(&self) -> Option<&dyn SigningKeys> {
        Some(self)
    }
}

impl SigningKeys for Hsm {
    /// Makes a signing key pair `kid` for `alg` in the token, labelled `signing_label(kid)`,
    /// its private half sensitive, not extractable and good for signing only; returns the
    /// label and its public half as JWK members.
    fn generate(
        &self,
        alg: super::Alg,
        kid: &str,
    ) -> Result<(String, serde_json::Map<String, serde_json::Value>), KekError> {
        let label = self.signing_label(kid);
        let named = |class| {
            vec![
                Attribute::Class(class),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(kid.as_bytes().to_vec()),
                Attribute::Token(true),
            ]
        };
        let mut public = named(ObjectClass::PUBLIC_KEY);
        public.push(Attribute::Verify(true));
        let mut private = named(ObjectClass::PRIVATE_KEY);
        private.extend([
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(false),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
        ]);
        let (mechanism, parts) = match alg {
            super::Alg::Es256 => {
                public.push(Attribute::EcParams(P256.to_vec()));
                (Mechanism::EccKeyPairGen, vec![AttributeType::EcPoint])
            }
            super::Alg::Rs256 => {
                public.extend([
                    Attribute::ModulusBits(2048.into()),
                    Attribute::PublicExponent(RSA_EXPONENT.to_vec()),
                ]);
                (
                    Mechanism::RsaPkcsKeyPairGen,
                    vec![AttributeType::Modulus, AttributeType::PublicExponent],
                )
            }
        };
        let attributes = self.run("making a signing key", |c| {
            let (public, _) = c.session.generate_key_pair(&mechanism, &public, &private)?;
            c.session.get_attributes(public, &parts)
        })?;
        Ok((label, public_jwk(alg, attributes)?))
    }

    /// Fails unless the token holds the signing key labelled `label`.
    fn check(&self, label: &str) -> Result<(), KekError> {
        self.ours(label)?;
        self.run("looking for a signing key", |c| signing_key(c, label))?
            .map(|_| ())
    }

    /// Signs `message` in the module with the key labelled `label`: ES256 is ECDSA P-256
    /// over its SHA-256 (`r || s`, 64 bytes, as JWS has it), RS256 PKCS#1 v1.5 with
    /// SHA-256 (256 bytes).
    fn sign(&self, alg: super::Alg, label: &str, message: &[u8]) -> Result<Vec<u8>, KekError> {
        self.ours(label)?;
        let (mechanism, input, length) = match alg {
            super::Alg::Es256 => (
                Mechanism::Ecdsa,
                crate::crypto::sha256(message).to_vec(),
                64,
            ),
            super::Alg::Rs256 => (Mechanism::Sha256RsaPkcs, message.to_vec(), 256),
        };
        // Found in the session first (again after a reconnection, whose handles are new).
        let signature = self.run("signing", |c| match signing_key(c, label)? {
            Ok(key) => c.session.sign(&mechanism, key, &input).map(Ok),
            Err(e) => Ok(Err(e)),
        })??;
        if signature.len() != length {
            return Err(KekError::Hsm(format!(
                "the module gave a signature of {} bytes, not {length}",
                signature.len()
            )));
        }
        Ok(signature)
    }

    /// Destroys both halves of the signing key labelled `label`, a label of
    /// `signing_label` only (nothing found: nothing to do).
    fn destroy(&self, label: &str) -> Result<(), KekError> {
        self.ours(label)?;
        self.run("destroying a signing key", |c| {
            for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
                let found = c.session.find_objects(&[
                    Attribute::Class(class),
                    Attribute::Label(label.as_bytes().to_vec()),
                ])?;
                for object in found {
                    c.session.destroy_object(object)?;
                }
            }
            Ok(())
        })?;
        // No session keeps its handle: a later object could be given the same one.
        for session in &self.sessions {
            let mut c = session.lock().unwrap_or_else(PoisonError::into_inner);
            c.signing_keys.remove(label);
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// The SoftHSM2 module of Debian's `softhsm2` package (the tests need it).
    pub const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

    /// A new SoftHSM2 token, labelled `idp`, in a directory of its own; the
    /// configuration that reaches it (with `key` as the key's label).
    pub fn token(dir: &std::path::Path, key: &str) -> HsmConfig {
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).expect("token directory");
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .expect("softhsm2.conf");
        // SoftHSM2 reads where its tokens are from the environment. Each test runs in a
        // process of its own (nextest), so no other test sees this.
        unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
        let pkcs11 = Pkcs11::new(SOFTHSM).expect("SoftHSM2 (Debian package softhsm2)");
        pkcs11
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .expect("initialise");
        let slot = pkcs11.get_slots_with_token().expect("slots")[0];
        let so = AuthPin::from("so-pin-5678".to_string());
        pkcs11.init_token(slot, &so, "idp").expect("init token");
        let session = pkcs11.open_rw_session(slot).expect("session");
        session.login(UserType::So, Some(&so)).expect("SO login");
        session
            .init_pin(&AuthPin::from("user-pin-1234".to_string()))
            .expect("user PIN");
        HsmConfig {
            module: SOFTHSM.into(),
            token: "idp".into(),
            pin: "user-pin-1234".into(),
            key: key.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::token;
    use super::*;
    use crate::keys::kek::Kek;
    use std::sync::Arc;

    #[test]
    fn a_key_imported_into_the_module_seals_and_derives_as_its_file_did() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = token(dir.path(), "idp-kek");
        let file = dir.path().join("kek.key");
        let local = Kek::load_or_create(&file).unwrap();
        let bytes: [u8; 32] = std::fs::read(&file).unwrap().try_into().unwrap();
        let sealed_before = local.seal(b"a signing key", "kid-1").unwrap();

        Hsm::import(&cfg, &bytes).unwrap();
        assert!(
            Hsm::import(&cfg, &bytes).is_err(),
            "a second key of the same label"
        );
        let in_module = Kek::from_provider(Arc::new(Hsm::connect(&cfg).unwrap())).unwrap();
        // What the file sealed, the module opens, and the other way round.
        assert_eq!(
            in_module.open(&sealed_before, "kid-1").unwrap(),
            b"a signing key"
        );
        assert!(in_module.open(&sealed_before, "kid-2").is_err());
        let sealed_now = in_module.seal(b"a data key", "user:u1").unwrap();
        assert_eq!(local.open(&sealed_now, "user:u1").unwrap(), b"a data key");
        // The derived keys are the same: client secrets' hashes and pairwise subjects hold.
        assert_eq!(
            in_module.client_secrets().hash("s3cret-s3cret-s3cret"),
            local.client_secrets().hash("s3cret-s3cret-s3cret")
        );
        assert_eq!(in_module.biometric_secret(1), local.biometric_secret(1));
    }

    #[test]
    fn signing_keys_are_made_and_used_in_the_module() {
        use crate::keys::{Alg, KeySet, ensure_active, module_label, published_rows};
        let dir = tempfile::tempdir().unwrap();
        let cfg = token(dir.path(), "idp-kek");
        Hsm::import(&cfg, &[7; 32]).unwrap();
        let hsm = Arc::new(Hsm::connect(&cfg).unwrap());
        let kek = Kek::from_provider(hsm.clone()).unwrap();
        let db = crate::store::Db::open(dir.path().join("k.sqlite").to_str().unwrap(), 2).unwrap();
        const NOW: i64 = 1_800_000_000;
        let made = db
            .run(|c| Ok(ensure_active(c, &kek, NOW)))
            .unwrap()
            .unwrap();
        assert_eq!(made, 2);
        let rows = db.run(|c| published_rows(c, NOW)).unwrap();
        for row in &rows {
            // The database holds the label only: no key material, sealed or not.
            let label = module_label(&row.private_key).expect("a key of the module");
            assert_eq!(label, format!("idp-kek-sign-{}", row.kid));
        }
        let keys = db.run(|c| Ok(KeySet::load(c, &kek, NOW))).unwrap().unwrap();
        let mut claims = serde_json::Map::new();
        claims.insert("sub".into(), "anna".into());
        for alg in Alg::ALL {
            let jwt = keys.sign(alg, &claims).unwrap();
            // Checked with the published key alone, as a relying party checks it.
            let header = crate::crypto::b64url_decode(jwt.split('.').next().unwrap()).unwrap();
            let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
            let row = rows.iter().find(|r| r.kid == header["kid"]).unwrap();
            let jwk = josekit::jwk::Jwk::from_bytes(row.public_jwk.as_bytes()).unwrap();
            let verifier: Box<dyn josekit::jws::JwsVerifier> = match alg {
                Alg::Es256 => Box::new(josekit::jws::ES256.verifier_from_jwk(&jwk).unwrap()),
                Alg::Rs256 => Box::new(josekit::jws::RS256.verifier_from_jwk(&jwk).unwrap()),
            };
            let (payload, _) = josekit::jws::deserialize_compact(&jwt, verifier.as_ref()).unwrap();
            assert_eq!(payload, br#"{"sub":"anna"}"#);
        }
        // The audit chain's checkpoints are signed in the module too.
        let checkpoint = db
            .tx(|c| crate::audit::checkpoint::sign(c, &kek, "https://id.example", 1, "h", NOW))
            .unwrap();
        let published = db.run(crate::audit::checkpoint::published).unwrap();
        assert!(published.verifies(&checkpoint));
        assert!(
            published.jwks()["keys"][0].get("d").is_none(),
            "public only"
        );
        // The private halves cannot be read out of the module.
        let label = module_label(&rows[0].private_key).unwrap().to_string();
        let read = hsm.run("reading", |c| {
            let key = signing_key(c, &label)?.expect("the key");
            c.session.get_attributes(key, &[AttributeType::Value])
        });
        assert!(
            !matches!(read.as_deref(), Ok([Attribute::Value(v)]) if !v.is_empty()),
            "{read:?}"
        );
        // A retired key, still published, only verifies: the key set loads without its
        // private half.
        let first = rows.iter().map(|r| r.kid.clone()).collect::<Vec<_>>();
        db.tx(|c| {
            crate::keys::rotate(c, &kek, NOW, 60)
                .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))
        })
        .unwrap();
        hsm.destroy(&label).unwrap();
        let keys = db.run(|c| Ok(KeySet::load(c, &kek, NOW + 1))).unwrap();
        assert!(keys.is_ok_and(|k| k.sign(Alg::Es256, &claims).is_ok()));
        // Rotated out and no longer published, they are destroyed in the module, after
        // the rotation.
        db.tx(|c| {
            crate::keys::rotate(c, &kek, NOW + 61, 60)
                .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))
        })
        .unwrap();
        assert_eq!(crate::keys::destroy_unpublished(&db, &kek, NOW + 61), 2);
        for kid in &first {
            assert!(
                hsm.check(&hsm.signing_label(kid)).is_err(),
                "{kid} destroyed"
            );
        }
        let rows = db.run(|c| published_rows(c, NOW + 61)).unwrap();
        assert_eq!(rows.len(), 4, "the second and third keys of each algorithm");
        for row in &rows {
            assert!(hsm.check(module_label(&row.private_key).unwrap()).is_ok());
        }
        // Nothing but a signing key is destroyed, whatever label the database names.
        for label in ["idp-kek-seal", "idp-kek-derive", "other-sign-x"] {
            assert!(hsm.destroy(label).is_err(), "{label}");
        }
        let sealed = kek.seal(b"still here", "ctx").unwrap();
        assert_eq!(kek.open(&sealed, "ctx").unwrap(), b"still here");
        // A key-encryption key rotation leaves them where they are; without the module the
        // key set cannot load, and says why.
        let resealed = db
            .tx(|c| Ok(crate::keys::rotation::reseal(c, &kek, NOW)))
            .unwrap();
        assert!(resealed.is_ok(), "{resealed:?}");
        let file = Kek::from_bytes(&[7; 32]);
        let Err(e) = db.run(|c| Ok(KeySet::load(c, &file, NOW))).unwrap() else {
            panic!("loaded a key of the module without it");
        };
        assert!(e.to_string().contains("[pkcs11]"), "{e}");
    }

    #[test]
    fn a_lost_session_is_opened_again() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = token(dir.path(), "idp-kek");
        Hsm::import(&cfg, &[9; 32]).unwrap();
        let hsm = Hsm::connect(&cfg).unwrap();
        let (label, _) = hsm.generate(crate::keys::Alg::Es256, "k1").unwrap();
        assert_eq!(
            hsm.sign(crate::keys::Alg::Es256, &label, b"one")
                .unwrap()
                .len(),
            64
        );
        let sealed = hsm.seal(b"secret", "ctx").unwrap();
        // Another part of the process (or the module restarting) logs the application out:
        // the session's private objects are out of reach until it logs in again.
        let pkcs11 = Pkcs11::new(testing::SOFTHSM).unwrap();
        let _ = pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
        let slot = pkcs11.get_slots_with_token().unwrap()[0];
        pkcs11.open_rw_session(slot).unwrap().logout().unwrap();
        assert_eq!(
            hsm.sign(crate::keys::Alg::Es256, &label, b"two")
                .unwrap()
                .len(),
            64
        );
        assert_eq!(hsm.open(&sealed, "ctx").unwrap(), b"secret");
        assert!(matches!(hsm.open(&sealed, "other"), Err(KekError::Open)));
    }

    #[test]
    fn threads_sign_side_by_side_in_sessions_of_their_own() {
        use crate::keys::Alg;
        let dir = tempfile::tempdir().unwrap();
        let cfg = token(dir.path(), "idp-kek");
        Hsm::import(&cfg, &[5; 32]).unwrap();
        let hsm = Hsm::with_sessions(&cfg, 3).unwrap();
        let (label, public) = hsm.generate(Alg::Es256, "k1").unwrap();
        let jwk = josekit::jwk::Jwk::from_map(public).unwrap();
        let verifier = josekit::jws::ES256.verifier_from_jwk(&jwk).unwrap();
        // Three threads in the module at once, each in a session of its own: with one
        // session, each would wait out the others' deadline alone.
        let inside = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for t in 0..3 {
                let (hsm, label, verifier) = (&hsm, &label, &verifier);
                let (inside, most) = (&inside, &most);
                scope.spawn(move || {
                    hsm.run("waiting for the others", |_| {
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        let deadline =
                            std::time::Instant::now() + std::time::Duration::from_secs(5);
                        while inside.load(Ordering::SeqCst) < 3
                            && std::time::Instant::now() < deadline
                        {
                            std::thread::yield_now();
                        }
                        most.fetch_max(inside.load(Ordering::SeqCst), Ordering::SeqCst);
                        Ok(())
                    })
                    .unwrap();
                    for n in 0..20 {
                        let message = format!("{t}.{n}");
                        let signature = hsm.sign(Alg::Es256, label, message.as_bytes()).unwrap();
                        use josekit::jws::JwsVerifier;
                        verifier.verify(message.as_bytes(), &signature).unwrap();
                    }
                });
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 3);
        let knowing = |label: &str| {
            hsm.sessions
                .iter()
                .filter(|s| s.lock().unwrap().signing_keys.contains_key(label))
                .count()
        };
        assert_eq!(knowing(&label), 3, "every session signed");
        hsm.destroy(&label).unwrap();
        assert_eq!(
            knowing(&label),
            0,
            "no session keeps a destroyed key's handle"
        );
        assert!(hsm.check(&label).is_err());
    }

    #[test]
    fn the_pin_is_never_printed() {
        let cfg = HsmConfig {
            module: "/m.so".into(),
            token: "idp".into(),
            pin: "secret-pin-4321".into(),
            key: "idp-kek".into(),
        };
        assert!(!format!("{cfg:?}").contains("secret-pin-4321"));
    }

    #[test]
    fn a_wrong_pin_or_an_absent_key_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = token(dir.path(), "idp-kek");
        let Err(e) = Hsm::connect(&cfg) else {
            panic!("opened a key that is not there");
        };
        assert!(e.to_string().contains("idp keys import-kek"), "{e}");
        let wrong = HsmConfig {
            pin: "not-the-pin".into(),
            ..cfg
        };
        let Err(e) = Hsm::connect(&wrong) else {
            panic!("logged in with a wrong PIN");
        };
        assert!(e.to_string().contains("logging in"), "{e}");
    }
}
