//! Password factor: argon2id hashes with OWASP's parameters (19 MiB, t=2, p=1), and a
//! verification that costs the same whether or not the account exists.

use crate::{Factor, FactorError, FactorKind, Verified};
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Longest password accepted; longer input is refused before hashing so that a huge
/// body cannot buy a long computation.
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password is empty")]
    Empty,
    #[error("the password is longer than {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
    #[error("the password could not be hashed: {0}")]
    Hash(String),
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, Some(32)).unwrap_or(Params::DEFAULT);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a new password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.is_empty() {
        return Err(PasswordError::Empty);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Checks passwords. Holds a hash of a random password so that a login for an unknown
/// user performs the same argon2 work as one for a known user.
pub struct PasswordChecker {
    decoy: String,
}

impl PasswordChecker {
    pub fn new() -> Result<Self, PasswordError> {
        Ok(Self {
            decoy: hash("decoy password that nobody knows")?,
        })
    }

    /// `stored` is the account's PHC string, or `None` when the account does not exist or
    /// has no password: then the decoy is checked and the answer is always `false`.
    pub fn verify(&self, stored: Option<&str>, presented: &str) -> bool {
        // An oversized password is refused, but the work is still done on a bounded
        // prefix so that the timing does not tell.
        let oversized = presented.len() > MAX_PASSWORD_BYTES;
        let presented = &presented[..presented.floor_char_boundary(MAX_PASSWORD_BYTES)];
        let target = stored.unwrap_or(&self.decoy);
        let ok = hasher()
            .verify_password(presented.as_bytes(), target)
            .is_ok();
        ok && stored.is_some() && !oversized
    }
}

/// The password factor. The credential is the account's PHC string, or `None` for an
/// unknown account (which is checked against the decoy and always fails).
impl Factor for PasswordChecker {
    type Credential = Option<String>;
    type Challenge = ();
    type Response = str;

    fn kind(&self) -> FactorKind {
        FactorKind::Password
    }

    fn begin(&self, _credential: &Option<String>, _now: i64) {}

    fn finish(
        &self,
        credential: &Option<String>,
        _challenge: &(),
        response: &str,
        _now: i64,
    ) -> Result<Verified<Option<String>>, FactorError> {
        if self.verify(credential.as_deref(), response) {
            Ok(Verified {
                updated: None,
                kind: FactorKind::Password,
            })
        } else {
            Err(FactorError::Mismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_with_owasp_parameters_and_verifies() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        let c = PasswordChecker::new().unwrap();
        assert!(c.verify(Some(&h), "correct horse"));
        assert!(!c.verify(Some(&h), "correct horsE"));
        assert!(!c.verify(None, "correct horse"));
        assert!(!c.verify(Some("not a phc string"), "x"));
    }

    #[test]
    fn refuses_empty_and_oversized_passwords() {
        assert!(matches!(hash(""), Err(PasswordError::Empty)));
        let long = "a".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(matches!(hash(&long), Err(PasswordError::TooLong)));
        let c = PasswordChecker::new().unwrap();
        let h = hash(&"a".repeat(MAX_PASSWORD_BYTES)).unwrap();
        assert!(!c.verify(Some(&h), &long));
    }
}
