//! Time-based one-time passwords (RFC 6238, HMAC-SHA1, 6 digits, 30-second steps), as
//! authenticator apps implement them. A code is accepted for the current step and one step
//! either side (clock drift), and never for a step at or before the last one accepted.

use crate::{Factor, FactorError, FactorKind, Verified};
use hmac::{Hmac, Mac};
use sha1::Sha1;

pub const STEP: i64 = 30;
pub const DIGITS: u32 = 6;
/// 160-bit secrets, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpCredential {
    pub secret: Vec<u8>,
    /// The last time step a code was accepted for.
    pub last_step: Option<i64>,
}

/// The code for a time step (RFC 4226 dynamic truncation).
pub fn code_at(secret: &[u8], step: i64) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = (h[19] & 0x0f) as usize;
    let bin = u32::from_be_bytes([
        h[offset] & 0x7f,
        h[offset + 1],
        h[offset + 2],
        h[offset + 3],
    ]);
    format!(
        "{:0width$}",
        bin % 10u32.pow(DIGITS),
        width = DIGITS as usize
    )
}

pub fn step_of(now: i64) -> i64 {
    now.div_euclid(STEP)
}

/// RFC 4648 base32 without padding, the form authenticator apps take.
pub fn base32(bytes: &[u8]) -> String {
    const A: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0);
    for &b in bytes {
        buf = (buf << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(A[((buf >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(A[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The `otpauth://` URI that authenticator apps read from a QR code.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP}",
        enc(issuer),
        enc(account),
        base32(secret),
        enc(issuer)
    )
}

pub struct Totp;

impl Factor for Totp {
    type Credential = TotpCredential;
    type Challenge = ();
    type Response = str;

    fn kind(&self) -> FactorKind {
        FactorKind::Totp
    }

    fn begin(&self, _credential: &TotpCredential, _now: i64) {}

    fn finish(
        &self,
        credential: &TotpCredential,
        _challenge: &(),
        response: &str,
        now: i64,
    ) -> Result<Verified<TotpCredential>, FactorError> {
        let code: String = response.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FactorError::Malformed);
        }
        let current = step_of(now);
        let matched = (current - 1..=current + 1).find(|&s| {
            let expected = code_at(&credential.secret, s);
            subtle_eq(expected.as_bytes(), code.as_bytes())
        });
        let Some(step) = matched else {
            return Err(FactorError::Mismatch);
        };
        if credential.last_step.is_some_and(|last| step <= last) {
            return Err(FactorError::Replayed);
        }
        Ok(Verified {
            updated: Some(TotpCredential {
                secret: credential.secret.clone(),
                last_step: Some(step),
            }),
            kind: FactorKind::Totp,
        })
    }
}

/// Constant-time comparison of equal-length byte strings.
fn subtle_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_test_vectors() {
        // Appendix B, SHA1, truncated to 6 digits.
        let secret = b"12345678901234567890";
        for (t, code) in [
            (59, "287082"),
            (1111111109, "081804"),
            (1111111111, "050471"),
            (1234567890, "005924"),
            (2000000000, "279037"),
        ] {
            assert_eq!(code_at(secret, step_of(t)), code, "t={t}");
        }
    }

    #[test]
    fn base32_matches_rfc4648() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
    }

    #[test]
    fn accepts_adjacent_steps_once_and_rejects_replays_and_garbage() {
        let cred = TotpCredential {
            secret: b"12345678901234567890".to_vec(),
            last_step: None,
        };
        let now = 1_700_000_000;
        let code = code_at(&cred.secret, step_of(now) - 1);
        let ok = Totp.finish(&cred, &(), &code, now).unwrap();
        let next = ok.updated.unwrap();
        assert_eq!(next.last_step, Some(step_of(now) - 1));
        assert_eq!(
            Totp.finish(&next, &(), &code, now),
            Err(FactorError::Replayed)
        );
        let current = code_at(&cred.secret, step_of(now));
        assert!(Totp.finish(&next, &(), &current, now).is_ok());
        let old = code_at(&cred.secret, step_of(now) - 2);
        assert_eq!(
            Totp.finish(&cred, &(), &old, now),
            Err(FactorError::Mismatch)
        );
        assert_eq!(
            Totp.finish(&cred, &(), "12345", now),
            Err(FactorError::Malformed)
        );
        assert_eq!(
            Totp.finish(&cred, &(), "12a456", now),
            Err(FactorError::Malformed)
        );
    }

    #[test]
    fn otpauth_uri_has_the_base32_secret() {
        let uri = otpauth_uri("Gov ID", "maria@example", b"foobar");
        assert!(uri.starts_with(
            "otpauth://totp/Gov%20ID:maria%40example?secret=MZXW6YTBOI&issuer=Gov%20ID"
        ));
    }
}
