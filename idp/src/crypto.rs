//! Small cryptographic helpers: random identifiers, hashes of bearer secrets, encodings.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Base64url without padding, decoded; None when it is not.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The operating system's generator failing leaves nothing safe to do.
    getrandom::fill(&mut buf).expect("operating system random generator failed");
    buf
}

/// A 256-bit random secret, base64url: codes, tokens, cookies.
pub fn random_token() -> String {
    b64url(&random_bytes::<32>())
}

/// A 128-bit random identifier, hex: rows that are not secrets (subjects, grants, sids).
pub fn random_id() -> String {
    hex(&random_bytes::<16>())
}

/// `random_id` after the second `now` (8 hex digits): rows inserted at about the same
/// time sort next to each other, so that a burst of them adds to the same few pages of an
/// index instead of a page each (grants: one per token issued to a client).
pub fn ordered_id(now: i64) -> String {
    // Seconds since 1970 fit 32 bits until 2106.
    format!("{:08x}{}", now.clamp(0, u32::MAX.into()), random_id())
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// How bearer secrets are stored: SHA-256, hex. The secrets are 256-bit random values,
/// so a fast hash is enough to make a database dump useless.
pub fn secret_hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// HMAC-SHA256 of the parts, one after the other, under `key`.
pub fn hmac_sha256(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// SHA-256, raw.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// PKCE S256: BASE64URL(SHA256(verifier)).
pub fn pkce_s256(verifier: &str) -> String {
    b64url(&Sha256::digest(verifier.as_bytes()))
}

/// OIDC `at_hash`: left half of the SHA-256 of the access token (ES256 and RS256 both
/// use SHA-256), base64url.
pub fn left_half_hash(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    b64url(&d[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn secret_hashes_are_lowercase_hex_sha256() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            secret_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hex(&[0x00, 0x0f, 0xf0, 0xff]), "000ff0ff");
    }

    #[test]
    fn random_values_differ_and_have_the_promised_size() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(random_id().len(), 32);
        let (a, b) = (ordered_id(1_800_000_000), ordered_id(1_800_000_001));
        assert_eq!((a.len(), b.len()), (40, 40));
        assert!(a < b && a.starts_with("6b49d200"), "{a} {b}");
        assert_ne!(ordered_id(5)[8..], ordered_id(5)[8..]);
    }
}
