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

/// An access or refresh token: `random_token` after 14 hex digits of the microsecond it
/// was made at. The digits order the keys the tokens are stored under (`token_key`), not
/// what a token means: nothing reads a time from them.
pub fn new_token() -> String {
    let micros = since_epoch().as_micros();
    // 56 bits of microseconds last until the year 4253.
    format!("{:014x}{}", micros & ((1 << 56) - 1), random_token())
}

/// The clock's time since 1970, for the digits that order tokens and ids (zero on a clock
/// set before 1970: they then order nothing, and mean nothing either way).
fn since_epoch() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Hex digits that order a token made by `new_token`.
const TOKEN_ORDER: usize = 14;

/// The key an access or refresh token is stored under: its SHA-256 (`secret_hash`), after
/// its ordering digits when it was made by `new_token`. Tokens issued together then sit
/// next to each other in the index of tokens, which grows at its end: a batch of tokens
/// writes a few pages of it instead of one page each, and the pages a new token goes to
/// are the ones in memory. Tokens issued before (43 characters, no digits) are stored
/// under their hash alone.
pub fn token_key(token: &str) -> String {
    let hash = secret_hash(token);
    match token.get(..TOKEN_ORDER) {
        Some(order)
            if token.len() == TOKEN_ORDER + 43
                && order
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            format!("{order}{hash}")
        }
        _ => hash,
    }
}

/// A 128-bit random identifier, hex: rows that are not secrets (subjects, grants, sids).
pub fn random_id() -> String {
    hex(&random_bytes::<16>())
}

/// 40 hex digits: the second `now` (8), the microsecond within the second this is called
/// at (5), and 108 random bits (27). Rows inserted at about the same time sort next to
/// each other, so that a burst of them adds to the same page or two of an index instead of
/// a page each (grants: one per token issued to a client). The microseconds only order;
/// nothing reads a time from them.
pub fn ordered_id(now: i64) -> String {
    let micros = since_epoch().subsec_micros();
    // Seconds since 1970 fit 32 bits until 2106; a second's microseconds fit 20 bits.
    let random = random_id();
    format!(
        "{:08x}{micros:05x}{}",
        now.clamp(0, u32::MAX.into()),
        &random[..27]
    )
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
    fn tokens_are_stored_in_the_order_they_were_made() {
        let (a, b) = (new_token(), new_token());
        assert_eq!((a.len(), b.len()), (57, 57));
        let (ka, kb) = (token_key(&a), token_key(&b));
        assert!(ka <= kb, "{ka} {kb}");
        assert_eq!(ka, format!("{}{}", &a[..14], secret_hash(&a)));
        // Made before the digits: stored under the hash alone, as they always were.
        let old = random_token();
        assert_eq!(token_key(&old), secret_hash(&old));
        // Whatever else is presented is hashed, whole: the digits must be lowercase hex.
        let forged = format!("{}{}", "Z".repeat(14), random_token());
        assert_eq!(token_key(&forged), secret_hash(&forged));
        let wide = format!("{}{}", "é".repeat(7), random_token());
        assert_eq!(token_key(&wide), secret_hash(&wide));
        assert_eq!(token_key(""), secret_hash(""));
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
        assert_ne!(ordered_id(5)[13..], ordered_id(5)[13..]);
        assert!(ordered_id(5).bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
