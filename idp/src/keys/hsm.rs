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

use super::kek::KekError;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use std::path::PathBuf;
use std::sync::Mutex;

const NONCE_LEN: usize = 12;

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

/// A logged-in session with the token and the key's two objects.
pub struct Hsm {
    session: Mutex<Session>,
    seal_key: ObjectHandle,
    derive_key: ObjectHandle,
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
    session
        .login(UserType::User, Some(&AuthPin::from(cfg.pin.clone())))
        .map_err(|e| failed("logging in to the token", e))?;
    Ok(session)
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
    /// Logs in to the token and finds the key.
    pub fn connect(cfg: &HsmConfig) -> Result<Hsm, KekError> {
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
        Ok(Hsm {
            session: Mutex::new(session),
            seal_key,
            derive_key,
        })
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

    fn session(&self) -> Result<std::sync::MutexGuard<'_, Session>, KekError> {
        self.session
            .lock()
            .map_err(|_| KekError::Hsm("the session is unusable after a panic".into()))
    }

    /// AES-256-GCM in the module, as `kek` seals: a random nonce, then the ciphertext and
    /// its tag.
    pub fn seal(&self, plain: &[u8], context: &str) -> Result<Vec<u8>, KekError> {
        let mut iv = crate::crypto::random_bytes::<NONCE_LEN>();
        let params = GcmParams::new(&mut iv, context.as_bytes(), 128.into())
            .map_err(|e| failed("sealing", e))?;
        let sealed = self
            .session()?
            .encrypt(&Mechanism::AesGcm(params), self.seal_key, plain)
            .map_err(|e| failed("sealing", e))?;
        let mut out = iv.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, KekError> {
        if sealed.len() < NONCE_LEN {
            return Err(KekError::Open);
        }
        let (iv, body) = sealed.split_at(NONCE_LEN);
        let mut iv = iv.to_vec();
        let params =
            GcmParams::new(&mut iv, context.as_bytes(), 128.into()).map_err(|_| KekError::Open)?;
        self.session()?
            .decrypt(&Mechanism::AesGcm(params), self.seal_key, body)
            .map_err(|_| KekError::Open)
    }

    /// HMAC-SHA256 of `data` in the module, under the key's derivation object.
    pub fn hmac(&self, data: &[u8]) -> Result<[u8; 32], KekError> {
        let mac = self
            .session()?
            .sign(&Mechanism::Sha256Hmac, self.derive_key, data)
            .map_err(|e| failed("deriving a key", e))?;
        mac.as_slice()
            .try_into()
            .map_err(|_| KekError::Hsm(format!("an HMAC of {} bytes", mac.len())))
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
        let in_module = Kek::from_hsm(Hsm::connect(&cfg).unwrap()).unwrap();
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
