//! Signing keys: private parts encrypted at rest, public JWKs published while a key is
//! active or until its retirement time has passed.

use super::schema::signing_keys;
use super::{AnyConnection, StoreResult};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub alg: String,
    /// AES-256-GCM ciphertext of the DER private key.
    pub private_key: Vec<u8>,
    pub public_jwk: String,
    pub active: bool,
    pub created_at: i64,
    /// When a retired key stops being published.
    pub retire_at: Option<i64>,
}

/// Keys that are active or retired but still published at `now`.
pub fn published(conn: &mut AnyConnection, now: i64) -> StoreResult<Vec<SigningKeyRow>> {
    Ok(signing_keys::table
        .filter(
            signing_keys::active
                .eq(true)
                .or(signing_keys::retire_at.gt(now)),
        )
        .order(signing_keys::created_at.desc())
        .select(SigningKeyRow::as_select())
        .load(conn)?)
}

/// The published keys' ids and whether each signs, without their key material: cheap
/// enough to compare every second.
pub fn published_ids(conn: &mut AnyConnection, now: i64) -> StoreResult<Vec<(String, bool)>> {
    Ok(signing_keys::table
        .filter(
            signing_keys::active
                .eq(true)
                .or(signing_keys::retire_at.gt(now)),
        )
        .select((signing_keys::kid, signing_keys::active))
        .load(conn)?)
}

/// The ids and `private_key`s of keys no longer published at `now`.
pub fn unpublished(conn: &mut AnyConnection, now: i64) -> StoreResult<Vec<(String, Vec<u8>)>> {
    Ok(signing_keys::table
        .filter(signing_keys::active.eq(false))
        .filter(signing_keys::retire_at.le(now))
        .select((signing_keys::kid, signing_keys::private_key))
        .load(conn)?)
}

pub fn insert(conn: &mut AnyConnection, k: &SigningKeyRow) -> StoreResult<()> {
    diesel::insert_into(signing_keys::table)
        .values(k)
        .execute(conn)?;
    Ok(())
}

/// Retires the active keys of `alg`, keeping them published until `retire_at`.
pub fn retire_active(conn: &mut AnyConnection, alg: &str, retire_at: i64) -> StoreResult<usize> {
    Ok(diesel::update(
        signing_keys::table
            .filter(signing_keys::alg.eq(alg))
            .filter(signing_keys::active.eq(true)),
    )
    .set((
        signing_keys::active.eq(false),
        signing_keys::retire_at.eq(retire_at),
    ))
    .execute(conn)?)
}

/// Stops publishing a key that no longer signs (it was rotated out): from `now` on, tokens
/// it signed no longer verify. Returns false when there is no such inactive, published key.
pub fn withdraw(conn: &mut AnyConnection, kid: &str, now: i64) -> StoreResult<bool> {
    Ok(diesel::update(
        signing_keys::table
            .filter(signing_keys::kid.eq(kid))
            .filter(signing_keys::active.eq(false))
            .filter(signing_keys::retire_at.gt(now)),
    )
    .set(signing_keys::retire_at.eq(now))
    .execute(conn)?
        > 0)
}
