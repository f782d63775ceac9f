//! Where the key-encryption key is kept, and what is done with it there: the interface
//! every key provider implements. Two ship: the local key file (`LocalKey`, the default)
//! and a hardware security module through PKCS#11 (`hsm::Hsm`), which network HSMs and the
//! cloud KMSs that offer a PKCS#11 library plug into. A backend with an interface of its
//! own (a cloud KMS's API) implements these traits and is given to `Kek::from_provider`.

use super::Alg;
use super::kek::KekError;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use serde_json::{Map, Value};

pub(crate) const NONCE_LEN: usize = 12;

/// The key-encryption key's operations. Each must compute exactly what the key file does
/// with the same key value, so that an installation can move between providers by
/// importing the key (`idp keys import-kek`) and everything sealed and derived holds.
pub trait KeyProvider: Send + Sync {
    /// AES-256-GCM of `plain` with a random nonce, written before the ciphertext and its
    /// tag, bound to `context` as associated data.
    fn seal(&self, plain: &[u8], context: &str) -> Result<Vec<u8>, KekError>;

    /// Opens what `seal` sealed: `KekError::Open` when it does not open under this key and
    /// context, another error when the provider does not answer.
    fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, KekError>;

    /// HMAC-SHA256 of `data` under the key: the provider's other keys are derived so.
    fn hmac(&self, data: &[u8]) -> Result<[u8; 32], KekError>;

    /// Where token signing keys are made and used when this provider keeps them itself;
    /// `None` when they are kept in the database, sealed under the key.
    fn signing_keys(&self) -> Option<&dyn SigningKeys> {
        None
    }
}

/// Token signing keys made, used and destroyed inside a key provider. The database keeps
/// their labels and public halves only.
pub trait SigningKeys: Send + Sync {
    /// Makes a key pair `kid` for `alg`, its private half for signing only and never to be
    /// read out; returns its label and its public half as JWK members.
    fn generate(&self, alg: Alg, kid: &str) -> Result<(String, Map<String, Value>), KekError>;

    /// Fails unless the provider holds the private half of the key labelled `label`.
    fn check(&self, label: &str) -> Result<(), KekError>;

    /// A JWS signature of `message`: `r || s` (64 bytes) for ES256, PKCS#1 v1.5 (256
    /// bytes) for RS256.
    fn sign(&self, alg: Alg, label: &str, message: &[u8]) -> Result<Vec<u8>, KekError>;

    /// Destroys the key labelled `label`; refused for a label `generate` does not make.
    fn destroy(&self, label: &str) -> Result<(), KekError>;
}

/// The key in this process's memory, read from the key file (`Kek::load`).
pub struct LocalKey {
    cipher: Aes256Gcm,
    key: [u8; 32],
}

impl LocalKey {
    pub fn new(key: &[u8; 32]) -> LocalKey {
        LocalKey {
            cipher: Aes256Gcm::new(key.into()),
            key: *key,
        }
    }
}

impl KeyProvider for LocalKey {
    fn seal(&self, plain: &[u8], context: &str) -> Result<Vec<u8>, KekError> {
        Ok(seal_with(&self.cipher, plain, context))
    }

    fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, KekError> {
        open_with(&self.cipher, sealed, context)
    }

    fn hmac(&self, data: &[u8]) -> Result<[u8; 32], KekError> {
        Ok(crate::crypto::hmac_sha256(&self.key, &[data]))
    }
}

/// AES-256-GCM with a random nonce, written before the ciphertext.
pub(crate) fn seal_with(cipher: &Aes256Gcm, plain: &[u8], context: &str) -> Vec<u8> {
    let nonce_bytes = crate::crypto::random_bytes::<NONCE_LEN>();
    let nonce = Nonce::from(nonce_bytes);
    let mut out = nonce_bytes.to_vec();
    let ct = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plain,
                aad: context.as_bytes(),
            },
        )
        // Encryption only fails for inputs of gigabytes.
        .expect("AES-GCM encryption of a small value");
    out.extend_from_slice(&ct);
    out
}

pub(crate) fn open_with(
    cipher: &Aes256Gcm,
    sealed: &[u8],
    context: &str,
) -> Result<Vec<u8>, KekError> {
    if sealed.len() < NONCE_LEN {
        return Err(KekError::Open);
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| KekError::Open)?;
    cipher
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: ct,
                aad: context.as_bytes(),
            },
        )
        .map_err(|_| KekError::Open)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::kek::Kek;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A provider of another kind, as a KMS backend would be: it computes what the key file
    /// does (here by means of one), and counts what it is asked.
    struct Elsewhere {
        key: LocalKey,
        calls: AtomicUsize,
    }

    impl KeyProvider for Elsewhere {
        fn seal(&self, plain: &[u8], context: &str) -> Result<Vec<u8>, KekError> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            self.key.seal(plain, context)
        }

        fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, KekError> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            self.key.open(sealed, context)
        }

        fn hmac(&self, data: &[u8]) -> Result<[u8; 32], KekError> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            self.key.hmac(data)
        }
    }

    #[test]
    fn a_provider_of_another_kind_plugs_in_and_agrees_with_the_key_file() {
        let elsewhere = Arc::new(Elsewhere {
            key: LocalKey::new(&[3; 32]),
            calls: AtomicUsize::new(0),
        });
        let plugged = Kek::from_provider(elsewhere.clone()).unwrap();
        let file = Kek::from_bytes(&[3; 32]);
        let sealed = plugged.seal(b"a data key", "user:u1").unwrap();
        assert_eq!(file.open(&sealed, "user:u1").unwrap(), b"a data key");
        let sealed = file.seal(b"a signing key", "kid").unwrap();
        assert_eq!(plugged.open(&sealed, "kid").unwrap(), b"a signing key");
        assert!(matches!(
            plugged.open(&sealed, "other"),
            Err(KekError::Open)
        ));
        // Derived through the provider: the same client secret hashes and subjects.
        assert_eq!(
            plugged.client_secrets().hash("s3cret"),
            file.client_secrets().hash("s3cret")
        );
        assert_eq!(plugged.biometric_secret(2), file.biometric_secret(2));
        assert!(plugged.signing_keys().is_none(), "signing keys stay sealed");
        // Five derivations, then one seal and two opens.
        assert_eq!(elsewhere.calls.load(Ordering::Relaxed), 8);
    }
}
