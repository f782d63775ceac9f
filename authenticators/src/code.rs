//! One-time codes sent by SMS or e-mail: six digits, valid for a few minutes, single use.
//! `begin` makes the code to send and the state to keep (only its hash); `finish` checks a
//! response against that state. Sending, rate limits per recipient and lockout are the
//! caller's part.

use crate::{Factor, FactorError, FactorKind, Verified};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a sent code stays valid.
pub const VALIDITY: i64 = 300;

/// What the server keeps about a sent code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentCode {
    pub hash: String,
    pub expires_at: i64,
}

fn hash(code: &str) -> String {
    Sha256::digest(code.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub struct OneTimeCode {
    kind: FactorKind,
}

impl OneTimeCode {
    pub fn sms() -> Self {
        OneTimeCode {
            kind: FactorKind::SmsCode,
        }
    }

    pub fn email() -> Self {
        OneTimeCode {
            kind: FactorKind::EmailCode,
        }
    }
}

/// A code to send, and what to keep of it.
pub struct Issued {
    pub code: String,
    pub sent: SentCode,
}

impl Factor for OneTimeCode {
    type Credential = ();
    type Challenge = Issued;
    type Response = str;

    fn kind(&self) -> FactorKind {
        self.kind
    }

    fn begin(&self, _credential: &(), now: i64) -> Issued {
        let mut buf = [0u8; 4];
        getrandom::fill(&mut buf).expect("operating system random generator");
        // 2^32 is not a multiple of 10^6; the bias of well under 0.03% does not matter here.
        let code = format!("{:06}", u32::from_le_bytes(buf) % 1_000_000);
        Issued {
            sent: SentCode {
                hash: hash(&code),
                expires_at: now + VALIDITY,
            },
            code,
        }
    }

    fn finish(
        &self,
        _credential: &(),
        challenge: &Issued,
        response: &str,
        now: i64,
    ) -> Result<Verified<()>, FactorError> {
        check(&challenge.sent, response, now)?;
        Ok(Verified {
            updated: None,
            kind: self.kind,
        })
    }
}

/// Checks a response against a kept code (what `finish` does, for state read back from
/// storage).
pub fn check(sent: &SentCode, response: &str, now: i64) -> Result<(), FactorError> {
    let code: String = response.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FactorError::Malformed);
    }
    if now >= sent.expires_at {
        return Err(FactorError::Replayed);
    }
    let h = hash(&code);
    let same = h.len() == sent.hash.len()
        && h.bytes()
            .zip(sent.hash.bytes())
            .fold(0u8, |a, (x, y)| a | (x ^ y))
            == 0;
    if same {
        Ok(())
    } else {
        Err(FactorError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_works_until_it_expires() {
        let f = OneTimeCode::sms();
        let issued = f.begin(&(), 1000);
        assert_eq!(issued.code.len(), 6);
        assert!(
            f.finish(&(), &issued, &issued.code, 1000 + VALIDITY - 1)
                .is_ok()
        );
        assert_eq!(
            f.finish(&(), &issued, &issued.code, 1000 + VALIDITY),
            Err(FactorError::Replayed)
        );
        let wrong = if issued.code == "000000" {
            "000001"
        } else {
            "000000"
        };
        assert_eq!(
            f.finish(&(), &issued, wrong, 1000),
            Err(FactorError::Mismatch)
        );
        assert_eq!(
            f.finish(&(), &issued, "12ab56", 1000),
            Err(FactorError::Malformed)
        );
        assert_ne!(f.begin(&(), 1000).sent, issued.sent);
    }
}
