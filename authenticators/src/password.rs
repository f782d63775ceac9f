//! Password factor: argon2id hashes with OWASP's parameters (19 MiB, t=2, p=1), and a
//! verification that costs the same whether or not the account exists.

use crate::{Factor, FactorError, FactorKind, Verified};
use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::Mutex;

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
/// user performs the same argon2 work as one for a known user, and argon2's working memory
/// for reuse.
pub struct PasswordChecker {
    decoy: String,
    scratch: Scratch,
}

/// argon2's working memory (19 MiB at the default cost), kept between checks, one per
/// processor at most. Fresh memory for every check cost a quarter of a sign-in's
/// processor time in page faults and in giving the pages back; a check that finds none
/// free (more checks at once than processors) takes fresh memory and lets it go after.
struct Scratch {
    free: Mutex<Vec<Vec<Block>>>,
    keep: usize,
    /// The size of each kept buffer: the blocks of the default cost.
    blocks: usize,
}

impl Scratch {
    fn new() -> Self {
        Scratch {
            free: Mutex::new(Vec::new()),
            keep: std::thread::available_parallelism().map_or(1, |n| n.get()),
            blocks: hasher().params().block_count(),
        }
    }

    /// Runs `f` on at least `blocks` blocks of memory. Only memory of the default cost is
    /// kept: a stored hash of a higher cost gets fresh memory that does not stay behind.
    fn with<T>(&self, blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        if blocks > self.blocks {
            return f(&mut vec![Block::new(); blocks]);
        }
        let taken = self.free.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut memory = taken.unwrap_or_else(|| vec![Block::new(); self.blocks]);
        let value = f(&mut memory);
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        if free.len() < self.keep {
            free.push(memory);
        }
        value
    }
}

impl PasswordChecker {
    pub fn new() -> Result<Self, PasswordError> {
        Ok(Self {
            decoy: hash("decoy password that nobody knows")?,
            scratch: Scratch::new(),
        })
    }

    /// Whether `presented` hashes to the PHC string `stored` (argon2 of any variant,
    /// version and cost it names), compared in constant time.
    fn matches(&self, presented: &[u8], stored: &str) -> bool {
        let Ok(phc) = PasswordHash::new(stored) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
            return false;
        };
        let (Ok(algorithm), Ok(params)) = (
            Algorithm::try_from(phc.algorithm.as_str()),
            Params::try_from(&phc),
        ) else {
            return false;
        };
        let version = match phc.version.map(Version::try_from).transpose() {
            Ok(v) => v.unwrap_or_default(),
            Err(_) => return false,
        };
        let argon2 = Argon2::new(algorithm, version, params);
        let mut out = vec![0u8; expected.len()];
        let hashed = self.scratch.with(argon2.params().block_count(), |memory| {
            argon2.hash_password_into_with_memory(presented, salt.as_ref(), &mut out, memory)
        });
        // `Output`'s equality is constant-time.
        hashed.is_ok() && Output::new(&out).is_ok_and(|o| &o == expected)
    }

    /// `stored` is the account's PHC string, or `None` when the account does not exist or
    /// has no password: then the decoy is checked and the answer is always `false`.
    pub fn verify(&self, stored: Option<&str>, presented: &str) -> bool {
        // An oversized password is refused, but the work is still done on a bounded
        // prefix so that the timing does not tell.
        let oversized = presented.len() > MAX_PASSWORD_BYTES;
        let presented = &presented[..presented.floor_char_boundary(MAX_PASSWORD_BYTES)];
        let target = stored.unwrap_or(&self.decoy);
        let ok = self.matches(presented.as_bytes(), target);
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
    fn verifies_hashes_of_other_costs_and_reuses_memory() {
        let c = PasswordChecker::new().unwrap();
        // A hash made elsewhere at another cost and variant (argon2i, m=8 MiB, t=1).
        let params = Params::new(8 * 1024, 1, 1, Some(32)).unwrap();
        let other = Argon2::new(Algorithm::Argon2i, Version::V0x13, params)
            .hash_password(b"old password")
            .unwrap()
            .to_string();
        assert!(
            other.starts_with("$argon2i$v=19$m=8192,t=1,p=1$"),
            "{other}"
        );
        assert!(c.verify(Some(&other), "old password"));
        assert!(!c.verify(Some(&other), "old passwork"));
        let h = hash("correct horse").unwrap();
        for _ in 0..3 {
            assert!(c.verify(Some(&h), "correct horse"));
        }
        // A higher cost than the default (24 MiB) gets memory of its own and leaves the
        // kept buffers as they were.
        let kept_before = c.scratch.free.lock().unwrap().len();
        let params = Params::new(24 * 1024, 1, 1, Some(32)).unwrap();
        let costly = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"costly password")
            .unwrap()
            .to_string();
        assert!(c.verify(Some(&costly), "costly password"));
        let kept = c.scratch.free.lock().unwrap();
        assert_eq!(kept.len(), kept_before);
        assert!(!kept.is_empty() && kept.len() <= c.scratch.keep);
        assert!(kept.iter().all(|m| m.len() == c.scratch.blocks));
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
