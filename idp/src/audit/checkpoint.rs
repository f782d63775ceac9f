//! Signed checkpoints of the audit chain. A checkpoint is a JWS (ES256) over the chain's
//! head at one moment (`{"iss", "seq", "hash", "iat"}`), signed with an audit key of the
//! provider. The public audit keys are published for good (`/audit/keys`), retired ones
//! included, so that a third party holding an export and those keys can tell that no
//! event up to a checkpoint was altered, removed or moved, without trusting the database.

use crate::keys::kek::Kek;
use crate::store::schema::{audit_checkpoints, audit_keys};
use crate::store::{AnyConnection, StoreError, StoreResult};
use diesel::prelude::*;
use josekit::jwk::Jwk;
use josekit::jws::{ES256, JwsHeader, JwsVerifier};
use serde_json::{Value, json};

/// The JWS `typ` of a checkpoint.
pub const TYP: &str = "audit-checkpoint+jwt";

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_checkpoints)]
pub struct Checkpoint {
    /// The last event it covers.
    pub seq: i64,
    /// That event's hash.
    pub hash: String,
    pub at: i64,
    pub kid: String,
    /// Compact JWS over `{"iss", "seq", "hash", "iat"}`.
    pub jws: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_keys)]
struct KeyRow {
    kid: String,
    public_jwk: String,
    private_key: Vec<u8>,
    created_at: i64,
    active: bool,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("audit key: {e}"))
}

/// An ES256 key, made as the token signing keys are (`keys::make_key`: in the security
/// module when the key-encryption key is there).
fn generate(kek: &Kek, now: i64) -> StoreResult<KeyRow> {
    let kid = format!("audit-{}", &crate::crypto::random_token()[..12]);
    let (private_key, jwk) =
        crate::keys::make_key(crate::keys::Alg::Es256, kek, &kid).map_err(corrupt)?;
    Ok(KeyRow {
        private_key,
        public_jwk: jwk.to_string(),
        kid,
        created_at: now,
        active: true,
    })
}

/// The key that signs checkpoints now, created on first use.
fn active(conn: &mut AnyConnection, kek: &Kek, now: i64) -> StoreResult<KeyRow> {
    let found = audit_keys::table
        .filter(audit_keys::active.eq(true))
        .order(audit_keys::created_at.desc())
        .select(KeyRow::as_select())
        .first(conn)
        .optional()?;
    match found {
        Some(k) => Ok(k),
        None => {
            let k = generate(kek, now)?;
            diesel::insert_into(audit_keys::table)
                .values(&k)
                .execute(conn)?;
            Ok(k)
        }
    }
}

/// A new audit key signs from now on; the previous ones stay published. Returns its id.
pub fn rotate(conn: &mut AnyConnection, kek: &Kek, now: i64) -> StoreResult<String> {
    diesel::update(audit_keys::table)
        .set(audit_keys::active.eq(false))
        .execute(conn)?;
    let k = generate(kek, now)?;
    diesel::insert_into(audit_keys::table)
        .values(&k)
        .execute(conn)?;
    Ok(k.kid)
}

/// Signs and stores a checkpoint of the chain's head, in the caller's transaction.
pub fn sign(
    conn: &mut AnyConnection,
    kek: &Kek,
    issuer: &str,
    seq: i64,
    hash: &str,
    now: i64,
) -> StoreResult<Checkpoint> {
    let key = active(conn, kek, now)?;
    let signer = crate::keys::signer(kek, crate::keys::Alg::Es256, &key.kid, &key.private_key)
        .map_err(corrupt)?;
    let mut header = JwsHeader::new();
    header.set_token_type(TYP);
    header.set_key_id(&key.kid);
    let payload = json!({ "iss": issuer, "seq": seq, "hash": hash, "iat": now });
    let jws = josekit::jws::serialize_compact(payload.to_string().as_bytes(), &header, &*signer)
        .map_err(corrupt)?;
    let cp = Checkpoint {
        seq,
        hash: hash.to_string(),
        at: now,
        kid: key.kid,
        jws,
    };
    diesel::insert_into(audit_checkpoints::table)
        .values(&cp)
        .execute(conn)?;
    Ok(cp)
}

/// The newest checkpoints first, at most `limit`.
pub fn latest(conn: &mut AnyConnection, limit: i64) -> StoreResult<Vec<Checkpoint>> {
    Ok(audit_checkpoints::table
        .order(audit_checkpoints::seq.desc())
        .limit(limit)
        .select(Checkpoint::as_select())
        .load(conn)?)
}

/// Public audit keys, as published, with their verifiers.
pub struct PublishedKeys {
    keys: Vec<(String, Box<dyn JwsVerifier>)>,
    jwks: Value,
}

impl PublishedKeys {
    /// From a JWK set (`{"keys": [...]}`), as a third party downloads it.
    pub fn from_jwks(jwks: &Value) -> Result<PublishedKeys, String> {
        let list = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("a JWK set has a \"keys\" array")?;
        let mut keys = Vec::with_capacity(list.len());
        for k in list {
            let map = k.as_object().ok_or("each key is a JSON object")?.clone();
            let jwk = Jwk::from_map(map).map_err(|e| e.to_string())?;
            let kid = jwk.key_id().ok_or("each key has a kid")?.to_string();
            let verifier = ES256.verifier_from_jwk(&jwk).map_err(|e| e.to_string())?;
            keys.push((kid, Box::new(verifier) as Box<dyn JwsVerifier>));
        }
        Ok(PublishedKeys {
            keys,
            jwks: jwks.clone(),
        })
    }

    /// The JWK set.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }

    /// Whether the checkpoint's signature verifies under the key it names and says what
    /// the checkpoint says (the place and hash it covers).
    pub fn verifies(&self, cp: &Checkpoint) -> bool {
        let payload = josekit::jws::deserialize_compact_with_selector(&cp.jws, |h| {
            let typ_ok = h.token_type() == Some(TYP) && h.algorithm() == Some("ES256");
            Ok(h.key_id()
                .filter(|kid| typ_ok && *kid == cp.kid)
                .and_then(|kid| self.keys.iter().find(|(k, _)| k == kid))
                .map(|(_, v)| v.as_ref()))
        });
        let Ok((payload, _)) = payload else {
            return false;
        };
        let Ok(claims) = serde_json::from_slice::<Value>(&payload) else {
            return false;
        };
        claims["seq"].as_i64() == Some(cp.seq) && claims["hash"].as_str() == Some(&cp.hash)
    }
}

/// Every audit key ever used, as published.
pub fn published(conn: &mut AnyConnection) -> StoreResult<PublishedKeys> {
    let rows: Vec<String> = audit_keys::table
        .order(audit_keys::created_at)
        .select(audit_keys::public_jwk)
        .load(conn)?;
    let keys = rows
        .iter()
        .map(|r| serde_json::from_str::<Value>(r).map_err(corrupt))
        .collect::<StoreResult<Vec<_>>>()?;
    PublishedKeys::from_jwks(&json!({ "keys": keys })).map_err(corrupt)
}
