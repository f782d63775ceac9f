//! AES-256-GCM sealing of secrets at rest, and the key-encryption key. The default key
//! provider is a local file of 32 random bytes, created with mode 0600 on first use;
//! every instance that shares a database must be given the same file. `Kek` is also the
//! type of the per-user data keys it wraps.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use std::path::Path;

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum KekError {
    #[error("key file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("a sealed value could not be opened (wrong key file, or the data was altered)")]
    Open,
}

#[derive(Clone)]
pub struct Kek {
    cipher: Aes256Gcm,
}

impl Kek {
    pub fn from_bytes(key: &[u8; 32]) -> Kek {
        Kek {
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    /// Loads the key file, creating it when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Kek, KekError> {
        let err = |reason: String| KekError::File {
            path: path.display().to_string(),
            reason,
        };
        if !path.exists() {
            let key = crate::crypto::random_bytes::<32>();
            write_private(path, &key).map_err(|e| err(e.to_string()))?;
        }
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| err(format!("expected 32 bytes, found {}", bytes.len())))?;
        Ok(Kek::from_bytes(&key))
    }

    /// Encrypts `plain`, bound to `context` (e.g. the key id) as associated data.
    pub fn seal(&self, plain: &[u8], context: &str) -> Vec<u8> {
        let nonce_bytes = crate::crypto::random_bytes::<NONCE_LEN>();
        let nonce = Nonce::from(nonce_bytes);
        let mut out = nonce_bytes.to_vec();
        let ct = self
            .cipher
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

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, KekError> {
        if sealed.len() < NONCE_LEN {
            return Err(KekError::Open);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| KekError::Open)?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| KekError::Open)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_detects_tampering_or_wrong_context() {
        let dir = tempfile::tempdir().unwrap();
        let kek = Kek::load_or_create(&dir.path().join("kek")).unwrap();
        let sealed = kek.seal(b"private key", "kid-1");
        assert_eq!(kek.open(&sealed, "kid-1").unwrap(), b"private key");
        assert!(kek.open(&sealed, "kid-2").is_err());
        let mut bad = sealed.clone();
        bad[20] ^= 1;
        assert!(kek.open(&bad, "kid-1").is_err());
        // The same file gives the same key.
        let again = Kek::load_or_create(&dir.path().join("kek")).unwrap();
        assert_eq!(again.open(&sealed, "kid-1").unwrap(), b"private key");
    }
}
