//! AES-256-GCM sealing of secrets at rest, and the key-encryption key. The key is in a
//! key provider (`provider::KeyProvider`): by default a local file of 32 random bytes,
//! created with mode 0600 on first use (every instance that shares a database must be
//! given the same file); or a hardware security module through PKCS#11 (`hsm`), which
//! seals inside the module. `Kek` is also the type of the per-user data keys it wraps.

use super::provider::{KeyProvider, LocalKey, SigningKeys, open_with, seal_with};
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::KeyInit;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum KekError {
    #[error("key file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("a sealed value could not be opened (wrong key file, or the data was altered)")]
    Open,
    #[error("hardware security module: {0}")]
    Hsm(String),
    #[error("the derived keys could not be read or stored: {0}")]
    Store(String),
    /// An extra key is configured on an installation whose derived keys were never
    /// pinned in its database.
    #[error(
        "the database holds no derived keys yet: start the provider once with its current \
         key-encryption key alone (no extra_kek_file) before rotating"
    )]
    NotPinned,
}

#[derive(Clone)]
pub struct Kek {
    provider: Arc<dyn KeyProvider>,
    /// A second key that opens what it sealed but seals nothing: the key before a
    /// rotation, or the next one while the instances learn it (`with_extra`).
    extra: Option<Arc<dyn KeyProvider>>,
    derived: Derived,
}

/// The keys derived from the key-encryption key for purposes other than sealing. Pinned
/// in the database under the key (`pinned`), so that a new key-encryption key keeps them:
/// otherwise every client secret's hash and every pairwise `sub` would change with it.
#[derive(Clone, PartialEq, Eq)]
struct Derived {
    client_secret_hash: [u8; 32],
    client_secret_seal: [u8; 32],
    pairwise: [u8; 32],
    /// The root of the secrets of the biometric template transforms.
    biometric_root: [u8; 32],
    /// The key of DPoP nonces.
    dpop_nonce: [u8; 32],
}

impl Derived {
    fn new<E>(derive: impl Fn(&str) -> Result<[u8; 32], E>) -> Result<Derived, E> {
        Ok(Derived {
            client_secret_hash: derive("idp client secret hash v1")?,
            client_secret_seal: derive("idp client secret seal v1")?,
            pairwise: derive("idp pairwise subject v1")?,
            biometric_root: derive("idp biometric transform v1")?,
            dpop_nonce: derive("idp dpop nonce v1")?,
        })
    }

    fn to_bytes(&self) -> Vec<u8> {
        [
            self.client_secret_hash,
            self.client_secret_seal,
            self.pairwise,
            self.biometric_root,
            self.dpop_nonce,
        ]
        .concat()
    }

    fn from_bytes(b: &[u8]) -> Option<Derived> {
        if b.len() != 5 * 32 {
            return None;
        }
        let part = |i: usize| -> Option<[u8; 32]> { b.get(i * 32..(i + 1) * 32)?.try_into().ok() };
        Some(Derived {
            client_secret_hash: part(0)?,
            client_secret_seal: part(1)?,
            pairwise: part(2)?,
            biometric_root: part(3)?,
            dpop_nonce: part(4)?,
        })
    }
}

/// The setting that holds the derived keys, sealed, and the sealing's context.
pub(crate) const DERIVED_SETTING: &str = "kek.derived-keys";
const DERIVED_CONTEXT: &str = "derived keys";

impl Kek {
    pub fn from_bytes(key: &[u8; 32]) -> Kek {
        let derived = |purpose: &str| Ok::<_, std::convert::Infallible>(derive(key, purpose));
        match Derived::new(derived) {
            Ok(derived) => Kek {
                provider: Arc::new(LocalKey::new(key)),
                extra: None,
                derived,
            },
            Err(never) => match never {},
        }
    }

    /// The key in another provider (a security module): it seals there, and the keys
    /// derived from it are derived there (the same values as from the same key in a file).
    pub fn from_provider(provider: Arc<dyn KeyProvider>) -> Result<Kek, KekError> {
        let derived =
            Derived::new(|purpose: &str| provider.hmac(&[purpose.as_bytes(), &[1]].concat()))?;
        Ok(Kek {
            provider,
            extra: None,
            derived,
        })
    }

    /// The provider the key is in.
    pub(crate) fn provider(&self) -> &Arc<dyn KeyProvider> {
        &self.provider
    }

    /// Where signing keys are made and used, when the key's provider keeps them (a
    /// security module); otherwise they are sealed under the key in the database.
    pub fn signing_keys(&self) -> Option<&dyn SigningKeys> {
        self.provider.signing_keys()
    }

    /// This key, also opening what `extra` sealed (a rotation: see `keys::rotation`).
    pub fn with_extra(mut self, extra: Kek) -> Kek {
        self.extra = Some(extra.provider);
        self
    }

    /// This key with the derived keys pinned in the database: the ones stored there
    /// (sealed under this key or the extra one), or, on an installation's first start
    /// with this version, this key's own, which are stored. Refused with an extra key and
    /// nothing stored: the keys would be derived from the new key, not the old one.
    pub fn pinned(mut self, db: &crate::store::Db, now: i64) -> Result<Kek, KekError> {
        use crate::store::settings;
        let store = |e: crate::store::StoreError| KekError::Store(e.to_string());
        match db
            .run(|c| settings::get(c, DERIVED_SETTING))
            .map_err(store)?
        {
            Some((text, _)) => {
                let sealed = crate::crypto::b64url_decode(&text).ok_or(KekError::Open)?;
                let raw = self.open(&sealed, DERIVED_CONTEXT)?;
                self.derived = Derived::from_bytes(&raw).ok_or(KekError::Open)?;
            }
            None if self.extra.is_some() => return Err(KekError::NotPinned),
            None => {
                let text = crate::crypto::b64url(&self.seal_derived()?);
                db.tx(|c| settings::put(c, DERIVED_SETTING, &text, now))
                    .map_err(store)?;
            }
        }
        Ok(self)
    }

    /// The derived keys sealed under this key (for `pinned`, and anew by a rotation).
    pub(crate) fn seal_derived(&self) -> Result<Vec<u8>, KekError> {
        self.seal(&self.derived.to_bytes(), DERIVED_CONTEXT)
    }

    /// The keyed hash for client secrets and the sealing of those the provider must read
    /// back, under keys derived from this one.
    pub fn client_secrets(&self) -> ClientSecrets {
        ClientSecrets {
            hash_key: self.derived.client_secret_hash,
            seal: Aes256Gcm::new(&self.derived.client_secret_seal.into()),
        }
    }

    /// The key of pairwise subject identifiers (`oidc::subject`). Derived from this key
    /// like the client secrets' hash key, and pinned with it (`pinned`).
    pub fn pairwise(&self) -> crate::oidc::subject::PairwiseKey {
        crate::oidc::subject::PairwiseKey(self.derived.pairwise)
    }

    /// The key of DPoP nonces (`oidc::dpop::Nonces`), the same on every instance.
    pub fn dpop_nonces(&self) -> crate::oidc::dpop::Nonces {
        crate::oidc::dpop::Nonces::new(self.derived.dpop_nonce)
    }

    /// The secret of generation `n` of the biometric template transform (cancellable
    /// templates): each generation's is derived from this key, so the key provider holds
    /// them all and nothing else does.
    pub fn biometric_secret(&self, generation: u32) -> [u8; 32] {
        derive(
            &self.derived.biometric_root,
            &format!("generation {generation}"),
        )
    }

    /// Loads the key file, creating it when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Kek, KekError> {
        if !path.exists() {
            let key = crate::crypto::random_bytes::<32>();
            write_private(path, &key).map_err(|e| KekError::File {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        }
        Self::load(path)
    }

    /// Loads a key file that must exist already.
    pub fn load(path: &Path) -> Result<Kek, KekError> {
        let err = |reason: String| KekError::File {
            path: path.display().to_string(),
            reason,
        };
        if !path.exists() {
            return Err(err("does not exist".into()));
        }
        // A key others could read is as good as published: refuse it rather than use it.
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        if crate::files::readable_by_others(&meta) {
            return Err(err(
                "the key file is accessible to group or others; restrict it with chmod 600".into(),
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| err(format!("expected 32 bytes, found {}", bytes.len())))?;
        Ok(Kek::from_bytes(&key))
    }

    /// Encrypts `plain`, bound to `context` (e.g. the key id) as associated data. Only a
    /// security module can fail to.
    pub fn seal(&self, plain: &[u8], context: &str) -> Result<Vec<u8>, KekError> {
        self.provider.seal(plain, context)
    }

    /// Opens what `seal` sealed with this key, or with the extra key.
    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, KekError> {
        self.open_telling(sealed, context).map(|(plain, _)| plain)
    }

    /// `open`, also telling whether it was the extra key that opened it (a value a
    /// rotation must re-seal).
    pub(crate) fn open_telling(
        &self,
        sealed: &[u8],
        context: &str,
    ) -> Result<(Vec<u8>, bool), KekError> {
        let opened = self.provider.open(sealed, context);
        match (opened, &self.extra) {
            (Ok(plain), _) => Ok((plain, false)),
            (Err(e), Some(extra)) => extra
                .open(sealed, context)
                .map(|plain| (plain, true))
                .map_err(|_| e),
            (Err(e), None) => Err(e),
        }
    }
}

/// A subkey for one purpose: HMAC-SHA256 of the purpose under the key-encryption key
/// (HKDF-Expand with a single block), so the KEK itself is used only for sealing.
fn derive(key: &[u8; 32], purpose: &str) -> [u8; 32] {
    crate::crypto::hmac_sha256(key, &[purpose.as_bytes(), &[1]])
}

/// Client secrets at rest: HMAC-SHA256 under a key derived from the KEK, written
/// `hmac-sha256$<hex>`. A keyed hash and not argon2id: the token endpoint checks a secret
/// on every request and must stay fast (argon2id would cost tens of milliseconds and
/// megabytes per request, an easy denial of service); a stolen database alone, without
/// the key file, still allows no offline guessing of admin-chosen secrets, which is what
/// the unsalted SHA-256 of before allowed.
///
/// A `client_secret_jwt` client's secret is also kept sealed (AES-256-GCM under another
/// derived key, bound to the client id): the provider must have the secret itself to check
/// the HMAC of the client's assertions.
#[derive(Clone)]
pub struct ClientSecrets {
    hash_key: [u8; 32],
    seal: Aes256Gcm,
}

impl std::fmt::Debug for ClientSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecrets(..)")
    }
}

const SECRET_HASH_PREFIX: &str = "hmac-sha256$";
const SEALED_SECRET_PREFIX: &str = "aes256gcm$";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretCheck {
    Matches,
    /// Matches a row of the old unsalted SHA-256 form: the caller stores `hash()` anew.
    MatchesLegacy,
    Wrong,
}

impl ClientSecrets {
    pub fn hash(&self, secret: &str) -> String {
        let mac = crate::crypto::hmac_sha256(&self.hash_key, &[secret.as_bytes()]);
        format!("{SECRET_HASH_PREFIX}{}", crate::crypto::hex(&mac))
    }

    /// Compares in constant time. Rows without the prefix are the unsalted SHA-256 hex
    /// digests written before keyed hashes; they are accepted so that registered clients
    /// keep working, and re-hashed on their first successful use (a migration cannot do
    /// it: the database does not hold the key, and the secret is not known before the
    /// client presents it).
    pub fn check(&self, stored: &str, secret: &str) -> SecretCheck {
        let eq = crate::crypto::constant_time_eq;
        if stored.starts_with(SECRET_HASH_PREFIX) {
            if eq(stored, &self.hash(secret)) {
                SecretCheck::Matches
            } else {
                SecretCheck::Wrong
            }
        } else if eq(stored, &crate::crypto::secret_hash(secret)) {
            SecretCheck::MatchesLegacy
        } else {
            SecretCheck::Wrong
        }
    }

    /// `secret` sealed for `client_id`, as text for the client's row.
    pub fn seal(&self, client_id: &str, secret: &str) -> String {
        let sealed = seal_with(&self.seal, secret.as_bytes(), client_id);
        format!("{SEALED_SECRET_PREFIX}{}", crate::crypto::b64url(&sealed))
    }

    /// The secret `seal` made for `client_id`; `None` when it was made for another
    /// client, under another key, or altered.
    pub fn open(&self, client_id: &str, sealed: &str) -> Option<String> {
        let b64 = sealed.strip_prefix(SEALED_SECRET_PREFIX)?;
        let bytes = crate::crypto::b64url_decode(b64)?;
        let plain = open_with(&self.seal, &bytes, client_id).ok()?;
        String::from_utf8(plain).ok()
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::files::write_new_private(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_secrets_are_keyed_and_legacy_rows_recognised() {
        let a = Kek::from_bytes(&[7; 32]).client_secrets();
        let b = Kek::from_bytes(&[8; 32]).client_secrets();
        let h = a.hash("s3cret-s3cret-s3cret");
        assert!(h.starts_with("hmac-sha256$"));
        assert_ne!(
            h,
            b.hash("s3cret-s3cret-s3cret"),
            "the hash depends on the key"
        );
        assert_eq!(a.check(&h, "s3cret-s3cret-s3cret"), SecretCheck::Matches);
        assert_eq!(a.check(&h, "s3cret-s3cret-s3creT"), SecretCheck::Wrong);
        assert_eq!(b.check(&h, "s3cret-s3cret-s3cret"), SecretCheck::Wrong);
        let legacy = crate::crypto::secret_hash("old-secret-old-secret");
        assert_eq!(
            a.check(&legacy, "old-secret-old-secret"),
            SecretCheck::MatchesLegacy
        );
        assert_eq!(
            a.check(&legacy, "old-secret-old-secreT"),
            SecretCheck::Wrong
        );
    }

    #[test]
    fn sealed_client_secrets_open_only_for_their_client_and_key() {
        let a = Kek::from_bytes(&[7; 32]).client_secrets();
        let b = Kek::from_bytes(&[8; 32]).client_secrets();
        let sealed = a.seal("portal", "s3cret-s3cret-s3cret");
        assert!(sealed.starts_with("aes256gcm$"));
        assert!(!sealed.contains("s3cret"));
        assert_ne!(
            sealed,
            a.seal("portal", "s3cret-s3cret-s3cret"),
            "a fresh nonce"
        );
        assert_eq!(
            a.open("portal", &sealed).as_deref(),
            Some("s3cret-s3cret-s3cret")
        );
        assert_eq!(a.open("other", &sealed), None, "bound to the client id");
        assert_eq!(b.open("portal", &sealed), None, "under this key only");
        // One character of the ciphertext changed.
        let i = "aes256gcm$".len() + 20;
        let c = if &sealed[i..=i] == "A" { "B" } else { "A" };
        let altered = format!("{}{c}{}", &sealed[..i], &sealed[i + 1..]);
        assert_eq!(a.open("portal", &altered), None);
        assert_eq!(a.open("portal", "hmac-sha256$00"), None);
    }

    #[test]
    fn seals_and_opens_and_detects_tampering_or_wrong_context() {
        let dir = tempfile::tempdir().unwrap();
        let kek = Kek::load_or_create(&dir.path().join("kek")).unwrap();
        let sealed = kek.seal(b"private key", "kid-1").unwrap();
        assert_eq!(kek.open(&sealed, "kid-1").unwrap(), b"private key");
        assert!(kek.open(&sealed, "kid-2").is_err());
        let mut bad = sealed.clone();
        bad[20] ^= 1;
        assert!(kek.open(&bad, "kid-1").is_err());
        // The same file gives the same key.
        let again = Kek::load_or_create(&dir.path().join("kek")).unwrap();
        assert_eq!(again.open(&sealed, "kid-1").unwrap(), b"private key");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek");
        Kek::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "created for the owner only");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let Err(e) = Kek::load_or_create(&path) else {
            panic!("a world-readable key file was loaded")
        };
        assert!(e.to_string().contains("chmod 600"), "{e}");
    }
}
