//! ID tokens and UserInfo answers encrypted to the client (OIDC Core 10.2, 5.3.2, Dynamic
//! Registration 2): a client registered with `id_token_encrypted_response_alg` gets its ID
//! tokens signed and then encrypted (a nested JWT, `cty` `JWT`) to a key of its registered
//! `jwks`; one registered with `userinfo_encrypted_response_alg` gets its UserInfo answers
//! encrypted the same way (the claims in JSON, or the signed JWT when it also asked for
//! one), so that only it can read the citizen's claims, whatever carries them.

use super::error::{OidcError, OidcResult};
use crate::store::clients::Client;
use josekit::jwe::{self, JweEncrypter, JweHeader};
use josekit::jwk::{Jwk, JwkSet};

/// Key management algorithms an ID token may be encrypted with.
pub const ALGS: [&str; 5] = [
    "RSA-OAEP",
    "RSA-OAEP-256",
    "ECDH-ES",
    "ECDH-ES+A128KW",
    "ECDH-ES+A256KW",
];
/// Content encryptions; the first is the default (OIDC Dynamic Registration 2).
pub const ENCS: [&str; 4] = ["A128CBC-HS256", "A256CBC-HS512", "A128GCM", "A256GCM"];

/// The encrypter for `alg` made from a key of the set that fits it: of the right type, not
/// meant for signatures only, and not limited to another algorithm.
fn encrypter(jwks: &JwkSet, alg: &str) -> Option<(Box<dyn JweEncrypter>, Option<String>)> {
    let fits = |k: &&Jwk| {
        let kty = if alg.starts_with("RSA") { "RSA" } else { "EC" };
        k.key_type() == kty
            && k.key_use().is_none_or(|u| u == "enc")
            && k.algorithm().is_none_or(|a| a == alg)
    };
    let key = jwks.keys().into_iter().find(fits)?;
    let made: Box<dyn JweEncrypter> = match alg {
        "RSA-OAEP" => Box::new(jwe::RSA_OAEP.encrypter_from_jwk(key).ok()?),
        "RSA-OAEP-256" => Box::new(jwe::RSA_OAEP_256.encrypter_from_jwk(key).ok()?),
        "ECDH-ES" => Box::new(jwe::ECDH_ES.encrypter_from_jwk(key).ok()?),
        "ECDH-ES+A128KW" => Box::new(jwe::ECDH_ES_A128KW.encrypter_from_jwk(key).ok()?),
        "ECDH-ES+A256KW" => Box::new(jwe::ECDH_ES_A256KW.encrypter_from_jwk(key).ok()?),
        _ => return None,
    };
    Some((made, key.key_id().map(str::to_string)))
}

/// Whether the client's registered keys hold one that `alg` can encrypt to.
pub fn has_key_for(jwks: Option<&str>, alg: &str) -> bool {
    jwks.and_then(|j| JwkSet::from_bytes(j).ok())
        .is_some_and(|set| encrypter(&set, alg).is_some())
}

/// The signed ID token as the client wants it: encrypted when it registered an algorithm.
pub fn id_token_for(client: &Client, signed: String) -> OidcResult<String> {
    let Some(alg) = client.id_token_encrypted_response_alg.as_deref() else {
        return Ok(signed);
    };
    let enc = client.id_token_encrypted_response_enc.as_deref();
    encrypt(client, alg, enc, signed.as_bytes(), Some("JWT"))
}

/// A UserInfo answer encrypted as the client registered (`None`: it did not ask for it):
/// `body` is the signed JWT when `signed`, otherwise the claims in JSON.
pub fn userinfo_for(client: &Client, body: &[u8], signed: bool) -> Option<OidcResult<String>> {
    let alg = client.userinfo_encrypted_response_alg.as_deref()?;
    let enc = client.userinfo_encrypted_response_enc.as_deref();
    Some(encrypt(client, alg, enc, body, signed.then_some("JWT")))
}

/// `payload` encrypted to a key of the client's `jwks` with `alg` and `enc` (default
/// A128CBC-HS256), in compact serialization.
fn encrypt(
    client: &Client,
    alg: &str,
    enc: Option<&str>,
    payload: &[u8],
    content_type: Option<&str>,
) -> OidcResult<String> {
    let jwks = client
        .jwks
        .as_deref()
        .and_then(|j| JwkSet::from_bytes(j).ok())
        .ok_or_else(|| OidcError::server("an encrypting client has no keys"))?;
    let (encrypter, kid) =
        encrypter(&jwks, alg).ok_or_else(|| OidcError::server("no key of the client fits"))?;
    let mut header = JweHeader::new();
    header.set_content_encryption(enc.unwrap_or(ENCS[0]));
    if let Some(cty) = content_type {
        header.set_content_type(cty);
    }
    if let Some(kid) = kid {
        header.set_key_id(kid);
    }
    jwe::serialize_compact(payload, &header, encrypter.as_ref()).map_err(OidcError::server)
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jwk::KeyPair;
    use serde_json::{Value, json};

    fn key_set(public: &Jwk) -> String {
        json!({ "keys": [Value::Object(public.as_ref().clone())] }).to_string()
    }

    #[test]
    fn an_id_token_is_encrypted_to_the_clients_key_and_only_it_opens_it() {
        let key = jwe::ECDH_ES_A128KW
            .generate_ec_key_pair(josekit::jwk::alg::ec::EcCurve::P256)
            .unwrap();
        let mut public = key.to_jwk_public_key();
        public.set_key_id("enc-1");
        let jwks = key_set(&public);
        assert!(has_key_for(Some(&jwks), "ECDH-ES+A128KW"));
        assert!(
            !has_key_for(Some(&jwks), "RSA-OAEP"),
            "an EC key cannot do RSA"
        );
        assert!(!has_key_for(None, "ECDH-ES"));
        let mut signing_only = public.clone();
        signing_only.set_key_use("sig");
        assert!(!has_key_for(Some(&key_set(&signing_only)), "ECDH-ES"));

        let mut client = crate::store::clients::testing::client();
        client.jwks = Some(jwks);
        assert_eq!(
            id_token_for(&client, "a.b.c".into()).unwrap(),
            "a.b.c",
            "not asked for"
        );
        client.id_token_encrypted_response_alg = Some("ECDH-ES+A128KW".into());
        client.id_token_encrypted_response_enc = Some("A256GCM".into());
        let sealed = id_token_for(&client, "header.claims.signature".into()).unwrap();
        assert_eq!(sealed.split('.').count(), 5, "a compact JWE");
        let decrypter = jwe::ECDH_ES_A128KW
            .decrypter_from_jwk(&key.to_jwk_private_key())
            .unwrap();
        let (plain, header) = jwe::deserialize_compact(&sealed, &decrypter).unwrap();
        assert_eq!(plain, b"header.claims.signature");
        assert_eq!(header.content_encryption(), Some("A256GCM"));
        assert_eq!(header.content_type(), Some("JWT"));
        assert_eq!(header.key_id(), Some("enc-1"));
        let stranger = jwe::ECDH_ES_A128KW
            .generate_ec_key_pair(josekit::jwk::alg::ec::EcCurve::P256)
            .unwrap();
        let wrong = jwe::ECDH_ES_A128KW
            .decrypter_from_jwk(&stranger.to_jwk_private_key())
            .unwrap();
        assert!(jwe::deserialize_compact(&sealed, &wrong).is_err());
    }

    #[test]
    fn userinfo_is_encrypted_as_json_or_as_the_signed_jwt() {
        let key = jwe::RSA_OAEP_256.generate_key_pair(2048).unwrap();
        let mut client = crate::store::clients::testing::client();
        client.jwks = Some(key_set(&key.to_jwk_public_key()));
        assert!(
            userinfo_for(&client, b"{}", false).is_none(),
            "not asked for"
        );
        client.userinfo_encrypted_response_alg = Some("RSA-OAEP-256".into());
        let decrypter = jwe::RSA_OAEP_256
            .decrypter_from_jwk(&key.to_jwk_private_key())
            .unwrap();
        let open = |sealed: String| jwe::deserialize_compact(&sealed, &decrypter).unwrap();
        // Claims only encrypted: the plaintext is their JSON, with no content type.
        let (plain, header) = open(
            userinfo_for(&client, br#"{"sub":"x"}"#, false)
                .unwrap()
                .unwrap(),
        );
        assert_eq!(plain, br#"{"sub":"x"}"#);
        assert_eq!(header.content_type(), None);
        assert_eq!(header.content_encryption(), Some("A128CBC-HS256"));
        // Signed, then encrypted: a nested JWT.
        client.userinfo_encrypted_response_enc = Some("A128GCM".into());
        let (plain, header) = open(userinfo_for(&client, b"h.c.s", true).unwrap().unwrap());
        assert_eq!(plain, b"h.c.s");
        assert_eq!(header.content_type(), Some("JWT"));
        assert_eq!(header.content_encryption(), Some("A128GCM"));
        // Its ID tokens stay as they were.
        assert_eq!(id_token_for(&client, "a.b.c".into()).unwrap(), "a.b.c");
    }
}
