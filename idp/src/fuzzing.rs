//! Entry points for coverage-guided fuzzing of every parser of untrusted input, run by
//! `cargo fuzz` from `fuzz/` (one target per function here) and, for every input kept in
//! `fuzz/seeds/` and `fuzz/regressions/`, by this module's unit test. Each function takes
//! the fuzzer's bytes and drives the library the way a request would: over a provider on a
//! fresh SQLite database, with registered clients, so that parsing goes on past the first
//! check. A finding is a panic, a sanitizer report, a hang or a runaway allocation.

use crate::admin::clients::{Credentials, NewClient, create};
use crate::admin::{Actor, Context};
use crate::oidc::grants::{self, TokenContext};
use crate::oidc::params::Params;
use crate::oidc::{authorize, client_auth, dpop, logout, mtls};
use crate::service::Service;
use crate::store::clients;
use josekit::jwk::KeyPair;
use josekit::jwk::alg::ec::EcKeyPair;
use josekit::jws::JwsSigner;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};

/// The registered clients: one with a secret, one with keys (`private_key_jwt`).
pub const SECRET_CLIENT: &str = "fuzz-secret";
pub const SECRET: &str = "fuzz-secret-value";
pub const KEYS_CLIENT: &str = "fuzz-keys";
pub const REDIRECT_URI: &str = "https://rp.example/cb";

struct Harness {
    _dir: tempfile::TempDir,
    svc: Service,
    /// The key of `KEYS_CLIENT`, whose public half it registered.
    client_key: EcKeyPair,
    client_jwks: String,
    webauthn: authenticators::webauthn::WebAuthn,
    registration_state: String,
    /// The browser's client data answering `registration_state`'s challenge.
    registration_client_data: String,
    discoverable_state: String,
    /// The client data answering `discoverable_state`'s challenge.
    discoverable_client_data: String,
    /// The passkey the seed attestation registers: sign-in answers are checked against it.
    passkey: authenticators::webauthn::Passkey,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let (dir, svc) = crate::service::for_tests();
        let ctx = Context::from(&svc);
        let actor = Actor::Cli { os_user: None };
        let now = crate::now();
        let mut secret = NewClient::new(
            SECRET_CLIENT,
            Credentials::Secret(SECRET.into()),
            vec![REDIRECT_URI.into()],
        );
        secret.grant_types = ["authorization_code", "refresh_token", "client_credentials"]
            .map(String::from)
            .to_vec();
        secret.resource_server = true;
        create(&ctx, &actor, secret, now).expect("secret client");
        let client_key = josekit::jws::ES256.generate_key_pair().expect("key");
        let public = Value::Object(client_key.to_jwk_public_key().as_ref().clone());
        let client_jwks = json!({ "keys": [public] }).to_string();
        let mut keyed = NewClient::new(
            KEYS_CLIENT,
            Credentials::Jwks(client_jwks.clone()),
            vec![REDIRECT_URI.into()],
        );
        keyed.grant_types = ["authorization_code", "client_credentials"]
            .map(String::from)
            .to_vec();
        keyed.access_token_format = Some("jwt".into());
        create(&ctx, &actor, keyed, now).expect("keyed client");
        let webauthn = authenticators::webauthn::WebAuthn::new("https://idp.example", "Fuzz")
            .expect("webauthn");
        let registration_state = webauthn
            .begin_registration(USER_ID, "anna", "Anna", &[])
            .expect("registration")
            .state;
        let discoverable_state = webauthn.begin_discoverable().expect("sign-in").state;
        let client_data = |kind: &str, state: &str| {
            let challenge = serde_json::from_str::<Value>(state)
                .ok()
                .and_then(|v| find_string(&v, "challenge"))
                .expect("challenge");
            json!({
                "type": kind,
                "challenge": challenge,
                "origin": "https://idp.example",
                "crossOrigin": false,
            })
            .to_string()
        };
        let registration_client_data = client_data("webauthn.create", &registration_state);
        let discoverable_client_data = client_data("webauthn.get", &discoverable_state);
        let passkey = webauthn
            .finish_registration(
                &registration_state,
                &attested(&registration_client_data, SEED_ATTESTATION),
            )
            .expect("the seed attestation registers");
        Harness {
            _dir: dir,
            svc,
            client_key,
            client_jwks,
            webauthn,
            registration_state,
            registration_client_data,
            discoverable_state,
            discoverable_client_data,
            passkey,
        }
    })
}

/// The time of each run: moved on by a minute per input, so that failure counters and
/// single-use values recorded by earlier inputs age out instead of throttling every later
/// one.
fn now() -> i64 {
    static STEP: AtomicI64 = AtomicI64::new(0);
    crate::now() + 60 * STEP.fetch_add(1, Ordering::Relaxed)
}

/// The bytes as text, invalid UTF-8 replaced, for the parsers that take text (headers,
/// tokens, JSON answers).
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// An authorization request's query string: parameters, PAR references, request objects
/// by value (unsigned), the `claims` parameter, PKCE, `max_age`, `acr_values`, prompts.
pub fn authorize(data: &[u8]) {
    let h = harness();
    let Ok(params) = Params::parse(data) else {
        return;
    };
    let keys = h.svc.keys();
    let rules = h.svc.rules();
    let _ = authorize::receive(
        &h.svc.db,
        params,
        &keys,
        &h.svc.provider,
        &rules.policy,
        now(),
    );
}

/// A token request: the `Authorization` header, a line break, the DPoP header, a line
/// break, then the form body.
pub fn token(data: &[u8]) {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let authorization = parts.next().map(text).filter(|s| !s.is_empty());
    let proof = parts.next().map(text).filter(|s| !s.is_empty());
    let body = parts.next().unwrap_or_default();
    token_request(authorization.as_deref(), proof.as_deref(), body, now());
}

fn token_request(authorization: Option<&str>, proof: Option<&str>, body: &[u8], now: i64) {
    let h = harness();
    let Ok(params) = Params::parse(body) else {
        return;
    };
    let keys = h.svc.keys();
    let ctx = TokenContext {
        db: &h.svc.db,
        provider: &h.svc.provider,
        keys: &keys,
        client_address: Some("192.0.2.1"),
        dpop_proof: proof,
        certificate: None,
        alias: false,
        now,
    };
    let _ = grants::token(&ctx, &params, authorization);
}

/// A JWT whose header and payload the fuzzer writes (separated by a NUL byte) and whose
/// signature is valid, so that what follows the signature check is reached: as a request
/// object and a client assertion of the client with keys, as a DPoP proof of that key, and,
/// signed by the provider, as an `id_token_hint` and an access token. In a payload that is
/// a JSON object, the times (`iat`, `nbf`, `exp`, `auth_time`) count in seconds from the
/// input's clock, so that inputs stay as current as the seeds made them.
pub fn signed_jwt(data: &[u8]) {
    let h = harness();
    let t = now();
    let mut parts = data.splitn(2, |b| *b == 0);
    let header = parts.next().unwrap_or_default();
    let payload = timed(parts.next().unwrap_or_default(), t);
    let payload = payload.as_slice();
    let by_client = sign_raw(&h.client_key, header, payload);

    let mut params = Params::default();
    params.insert("client_id", KEYS_CLIENT);
    params.insert("redirect_uri", REDIRECT_URI);
    params.insert("request", &by_client);
    let keys = h.svc.keys();
    let rules = h.svc.rules();
    let _ = authorize::receive(&h.svc.db, params, &keys, &h.svc.provider, &rules.policy, t);

    let assertion = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair(
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        )
        .append_pair("client_assertion", &by_client)
        .finish();
    token_request(None, None, assertion.as_bytes(), t);

    // As a DPoP proof: the header names the key that signed it, unless it names one itself.
    let proof = match serde_json::from_slice::<Map<String, Value>>(header) {
        Ok(mut object) => {
            let jwk = h.client_key.to_jwk_public_key();
            object
                .entry("jwk")
                .or_insert(Value::Object(jwk.as_ref().clone()));
            sign_raw(&h.client_key, object_bytes(&object).as_bytes(), payload)
        }
        Err(_) => by_client,
    };
    let htu = h.svc.provider.endpoint(crate::oidc::TOKEN_PATH);
    let expected = dpop::Expected {
        htm: "POST",
        htu: &htu,
        access_token: None,
        nonce: None,
    };
    let _ = dpop::check(&proof, &expected, t);
    let body =
        format!("grant_type=client_credentials&client_id={SECRET_CLIENT}&client_secret={SECRET}");
    token_request(None, Some(&proof), body.as_bytes(), t);

    // Signed by the provider: only its payload is the fuzzer's.
    if let Ok(claims) = serde_json::from_slice::<Map<String, Value>>(payload) {
        let alg = crate::keys::Alg::Es256;
        if let Ok(id_token) = keys.sign(alg, &claims) {
            let mut params = Params::default();
            params.insert("id_token_hint", &id_token);
            let _ = logout::validate(&params, &keys, &h.svc.provider.issuer, |id| {
                h.svc.db.run(|c| clients::find(c, id))
            });
        }
        if let Ok(access_token) = keys.sign_typed(alg, "at+jwt", &claims) {
            bearer(&access_token, t);
        }
    }
}

/// A token string as a client or resource presents it: checked as the provider's own JWT,
/// as a client's, as a DPoP proof and as a bearer token (UserInfo and introspection).
pub fn jwt(data: &[u8]) {
    let h = harness();
    let token = text(data);
    let keys = h.svc.keys();
    let _ = keys.verify(&token);
    let _ = keys.verify_typed(&token, Some("at+jwt"));
    if let Ok(jwks) = josekit::jwk::JwkSet::from_bytes(h.client_jwks.as_bytes()) {
        let _ = client_auth::verify_with_jwks(&token, &jwks);
    }
    let htu = h.svc.provider.endpoint(crate::oidc::TOKEN_PATH);
    let expected = dpop::Expected {
        htm: "POST",
        htu: &htu,
        access_token: Some(&token),
        nonce: None,
    };
    let t = now();
    let _ = dpop::check(&token, &expected, t);
    bearer(&token, t);
}

fn bearer(token: &str, now: i64) {
    let h = harness();
    let checker = h.svc.bearer();
    let _ = checker.check(token, now);
    let Ok(Some(client)) = h.svc.db.run(|c| clients::find(c, SECRET_CLIENT)) else {
        return;
    };
    let mut params = Params::default();
    params.insert("token", token);
    let _ = crate::oidc::introspect::introspect(&checker, &h.svc.provider, &client, &params, now);
}

/// A browser's WebAuthn answer (JSON), to a registration and to a discoverable sign-in;
/// then the same bytes in answers whose client data is right, so that what the
/// authenticator wrote is parsed: as an attestation object (CBOR) in a registration, and
/// as authenticator data and a signature (separated by a NUL byte) in a sign-in with the
/// harness's passkey.
pub fn webauthn(data: &[u8]) {
    let h = harness();
    let response = text(data);
    let (state, passkeys) = (&h.discoverable_state, std::slice::from_ref(&h.passkey));
    let _ = h
        .webauthn
        .finish_registration(&h.registration_state, &response);
    let _ = h.webauthn.identify(&response);
    let _ = h.webauthn.finish_discoverable(state, &response, passkeys);
    let registration = attested(&h.registration_client_data, data);
    let _ = h
        .webauthn
        .finish_registration(&h.registration_state, &registration);
    let mut parts = data.splitn(2, |b| *b == 0);
    let authenticator_data = parts.next().unwrap_or_default();
    let signature = parts.next().unwrap_or_default();
    let b64 = crate::crypto::b64url;
    let sign_in = json!({
        "id": CREDENTIAL_ID,
        "rawId": CREDENTIAL_ID,
        "type": "public-key",
        "response": {
            "authenticatorData": b64(authenticator_data),
            "clientDataJSON": b64(h.discoverable_client_data.as_bytes()),
            "signature": b64(signature),
            "userHandle": b64(&USER_HANDLE),
        },
        "extensions": {},
    });
    let _ = h
        .webauthn
        .finish_discoverable(state, &sign_in.to_string(), passkeys);
}

/// The passkey of the seed attestation: its credential id (bytes 0 to 15) and its account.
const SEED_ATTESTATION: &[u8] = include_bytes!("../../fuzz/seeds/webauthn/none-attestation");
const CREDENTIAL_ID: &str = "AAECAwQFBgcICQoLDA0ODw";
const USER_ID: &str = "5b0a4a3e-6f0e-4d43-9c55-0a9d6a1e2f10";
const USER_HANDLE: [u8; 16] = [
    0x5b, 0x0a, 0x4a, 0x3e, 0x6f, 0x0e, 0x4d, 0x43, 0x9c, 0x55, 0x0a, 0x9d, 0x6a, 0x1e, 0x2f, 0x10,
];

/// A registration answer carrying `attestation` as its attestation object, with
/// `client_data` (which answers the harness's challenge).
fn attested(client_data: &str, attestation: &[u8]) -> String {
    let b64 = crate::crypto::b64url;
    json!({
        "id": CREDENTIAL_ID,
        "rawId": CREDENTIAL_ID,
        "type": "public-key",
        "response": {
            "attestationObject": b64(attestation),
            "clientDataJSON": b64(client_data.as_bytes()),
        },
        "extensions": {},
    })
    .to_string()
}

/// The first string member named `name` anywhere in `value`.
fn find_string(value: &Value, name: &str) -> Option<String> {
    match value {
        Value::Object(o) => o
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| o.values().find_map(|v| find_string(v, name))),
        Value::Array(a) => a.iter().find_map(|v| find_string(v, name)),
        _ => None,
    }
}

/// A certificate (DER) as a citizen's X.509 sign-in and a client's mutual TLS read it, and
/// the same bytes as a reverse proxy's certificate header.
pub fn certificate(data: &[u8]) {
    use authenticators::certificate::{Mapping, identity};
    for mapping in Mapping::ALL {
        let _ = identity(data, mapping);
    }
    let t = now();
    if let Some(cert) = mtls::Certificate::new(vec![data.to_vec()]) {
        let _ = cert.thumbprint();
        let jwks = harness().client_jwks.as_str();
        let _ = mtls::self_signed_authenticates(Some(jwks), &cert, t);
        use x509_parser::prelude::{FromDer, X509Certificate};
        if let Ok((_, parsed)) = X509Certificate::from_der(data) {
            for (name, value) in [
                ("tls_client_auth_subject_dn", "CN=client,O=Example,C=HU"),
                ("tls_client_auth_san_dns", "client.example"),
                ("tls_client_auth_san_uri", "https://client.example/"),
                ("tls_client_auth_san_ip", "192.0.2.7"),
                ("tls_client_auth_san_email", "client@example.invalid"),
            ] {
                if let Some(wanted) = mtls::SubjectName::from_metadata(name, value) {
                    let _ = wanted.matches(&parsed);
                }
            }
        }
    }
    let _ = crate::http::tls::proxy_chain(&text(data));
}

/// A registered subject name (`tls_client_auth_subject_dn`) as a client registers it.
pub fn subject_dn(data: &[u8]) {
    let _ = mtls::SubjectName::from_metadata("tls_client_auth_subject_dn", &text(data));
}

/// An uploaded picture: a face capture and a document photo, decoded before the matcher;
/// a client's logo as fetched from its `logo_uri`.
pub fn image(data: &[u8]) {
    let _ = authenticators::face::FaceEngine::decode(data);
    let _ = authenticators::document::decode_photo(data);
    let _ = crate::oidc::logo::prepare(data);
}

/// An uploaded recording, decoded before the matcher.
pub fn audio(data: &[u8]) {
    let _ = authenticators::voice::VoiceEngine::decode(data);
}

/// A stored biometric template (the matcher's format): what reads back is written the same.
pub fn template(data: &[u8]) {
    if let Ok(template) = matcher::Template::from_bytes(data) {
        let again = matcher::Template::from_bytes(&template.to_bytes()).expect("written");
        assert_eq!(again.to_bytes(), template.to_bytes());
        let _ = template.cosine(&again);
    }
}

/// `payload` with its times counted from `now`, when it is a JSON object.
fn timed(payload: &[u8], now: i64) -> Vec<u8> {
    let Ok(mut claims) = serde_json::from_slice::<Map<String, Value>>(payload) else {
        return payload.to_vec();
    };
    for name in ["iat", "nbf", "exp", "auth_time"] {
        if let Some(Value::Number(n)) = claims.get(name)
            && let Some(offset) = n.as_i64()
        {
            claims.insert(name.into(), now.saturating_add(offset).into());
        }
    }
    object_bytes(&claims).into_bytes()
}

/// A compact JWS with the given header and payload bytes, signed by `key`.
fn sign_raw(key: &EcKeyPair, header: &[u8], payload: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        crate::crypto::b64url(header),
        crate::crypto::b64url(payload)
    );
    let signer = josekit::jws::ES256
        .signer_from_jwk(&key.to_jwk_private_key())
        .expect("signer");
    let signature = signer.sign(input.as_bytes()).expect("signature");
    format!("{input}.{}", crate::crypto::b64url(&signature))
}

fn object_bytes(object: &Map<String, Value>) -> String {
    Value::Object(object.clone()).to_string()
}

/// A fuzz target: it takes the fuzzer's bytes.
pub type Target = fn(&[u8]);

/// The fuzz targets by name, for the replay of kept inputs.
pub const TARGETS: &[(&str, Target)] = &[
    ("authorize", authorize),
    ("token", token),
    ("signed_jwt", signed_jwt),
    ("jwt", jwt),
    ("webauthn", webauthn),
    ("certificate", certificate),
    ("subject_dn", subject_dn),
    ("image", image),
    ("audio", audio),
    ("template", template),
];

#[cfg(test)]
mod tests {
    /// The harness reaches past the client data: the seed attestation registers a passkey
    /// (at its start), and a sign-in answer with authenticator data signed by that passkey's
    /// key (fuzz/seeds/webauthn/none-attestation was made with it) signs in.
    #[test]
    fn the_webauthn_harness_answers_its_own_challenges() {
        use josekit::jws::JwsSigner;
        let h = super::harness();
        let seed =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/webauthn/sign-in");
        let data = std::fs::read(seed).expect("seed");
        let authenticator_data = &data[..37];
        let client_data = h.discoverable_client_data.as_bytes();
        let key = josekit::jwk::Jwk::from_bytes(
            br#"{"kty":"EC","crv":"P-256","x":"nZTQdvCLQm1_wXK95lJz_j82Y5bSZqmcjeFSAFIiXTI","y":"CZtVTCQQlomdGaDUtNArGgR-NYhIel3Sd6lTzrqzalo","d":"q0CV4twDDdYiXB0y4gSD0n30v6Vrp1JTXeU5N82oLa0"}"#,
        )
        .unwrap();
        let signer = josekit::jws::ES256.signer_from_jwk(&key).unwrap();
        let signed = [authenticator_data, &crate::crypto::sha256(client_data)].concat();
        let raw = signer.sign(&signed).unwrap();
        let answer = |signature: &[u8]| {
            serde_json::json!({
                "id": super::CREDENTIAL_ID,
                "rawId": super::CREDENTIAL_ID,
                "type": "public-key",
                "response": {
                    "authenticatorData": crate::crypto::b64url(authenticator_data),
                    "clientDataJSON": crate::crypto::b64url(client_data),
                    "signature": crate::crypto::b64url(signature),
                    "userHandle": crate::crypto::b64url(&super::USER_HANDLE),
                },
            })
            .to_string()
        };
        let finish = |signature: &[u8]| {
            h.webauthn.finish_discoverable(
                &h.discoverable_state,
                &answer(signature),
                std::slice::from_ref(&h.passkey),
            )
        };
        assert!(finish(&der_signature(&raw)).is_ok());
        assert!(
            finish(&data[38..]).is_err(),
            "the seed's own signature is not valid"
        );
    }

    /// An ECDSA signature `r || s` in DER, as WebAuthn carries it.
    fn der_signature(raw: &[u8]) -> Vec<u8> {
        let integer = |half: &[u8]| {
            let half = &half[half.iter().take_while(|b| **b == 0).count()..];
            let pad = half.first().is_some_and(|b| *b >= 0x80);
            let mut out = vec![0x02, (half.len() + usize::from(pad)) as u8];
            if pad {
                out.push(0);
            }
            out.extend_from_slice(half);
            out
        };
        let body = [integer(&raw[..32]), integer(&raw[32..])].concat();
        [vec![0x30, body.len() as u8], body].concat()
    }

    /// Every seed and every input that once made a target fail runs through it again.
    #[test]
    fn kept_inputs_pass_every_target() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        let mut ran = 0;
        for (name, target) in super::TARGETS {
            let mut inputs = 0;
            for dir in ["seeds", "regressions"] {
                let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
                    continue;
                };
                for entry in entries {
                    let path = entry.expect("entry").path();
                    let data = std::fs::read(&path).expect("input");
                    target(&data);
                    inputs += 1;
                }
            }
            assert!(inputs > 0, "no seeds for the fuzz target {name}");
            ran += inputs;
        }
        assert!(ran >= super::TARGETS.len());
    }
}
