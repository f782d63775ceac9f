//! Recovery codes: ten single-use codes shown once, stored as hashes. A citizen who lost
//! their second factor uses one in its place.

use crate::{Factor, FactorError, FactorKind, Verified};
use sha2::{Digest, Sha256};

pub const COUNT: usize = 10;
const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// Makes `COUNT` codes like `K7QM-2XPD-HT4W` (60 bits each) from the given random bytes.
pub fn generate(random: &[u8; COUNT * 12]) -> Vec<String> {
    random
        .chunks(12)
        .map(|chunk| {
            let chars: Vec<char> = chunk
                .iter()
                .map(|b| ALPHABET[(b & 31) as usize] as char)
                .collect();
            chars
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect()
}

fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The stored form of a code, salted with the account's id.
pub fn hash(user_id: &str, code: &str) -> String {
    let d = Sha256::digest(format!("{user_id}\n{}", normalise(code)).as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hashes of the codes still unused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryCodes {
    pub user_id: String,
    pub hashes: Vec<String>,
}

pub struct Recovery;

impl Factor for Recovery {
    type Credential = RecoveryCodes;
    type Challenge = ();
    type Response = str;

    fn kind(&self) -> FactorKind {
        FactorKind::RecoveryCode
    }

    fn begin(&self, _credential: &RecoveryCodes, _now: i64) {}

    fn finish(
        &self,
        credential: &RecoveryCodes,
        _challenge: &(),
        response: &str,
        _now: i64,
    ) -> Result<Verified<RecoveryCodes>, FactorError> {
        if normalise(response).len() != 12 {
            return Err(FactorError::Malformed);
        }
        let h = hash(&credential.user_id, response);
        let Some(pos) = credential.hashes.iter().position(|x| *x == h) else {
            return Err(FactorError::Mismatch);
        };
        let mut rest = credential.hashes.clone();
        rest.remove(pos);
        Ok(Verified {
            updated: Some(RecoveryCodes {
                user_id: credential.user_id.clone(),
                hashes: rest,
            }),
            kind: FactorKind::RecoveryCode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_works_once() {
        let mut random = [0u8; COUNT * 12];
        for (i, b) in random.iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
        let codes = generate(&random);
        assert_eq!(codes.len(), COUNT);
        assert_eq!(codes[0].len(), 14);
        let cred = RecoveryCodes {
            user_id: "u1".into(),
            hashes: codes.iter().map(|c| hash("u1", c)).collect(),
        };
        let used = Recovery
            .finish(&cred, &(), &codes[3].to_lowercase(), 0)
            .unwrap()
            .updated
            .unwrap();
        assert_eq!(used.hashes.len(), COUNT - 1);
        assert_eq!(
            Recovery.finish(&used, &(), &codes[3], 0),
            Err(FactorError::Mismatch)
        );
        assert_eq!(
            Recovery.finish(&cred, &(), "short", 0),
            Err(FactorError::Malformed)
        );
        // Another account's hashes do not match.
        let other = RecoveryCodes {
            user_id: "u2".into(),
            hashes: cred.hashes.clone(),
        };
        assert_eq!(
            Recovery.finish(&other, &(), &codes[0], 0),
            Err(FactorError::Mismatch)
        );
    }
}
