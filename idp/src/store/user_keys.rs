//! Per-user data keys, wrapped by the key-encryption key. Deleting a user's key makes every
//! secret sealed with it unreadable (crypto-shredding).

use super::schema::user_keys;
use super::{AnyConnection, StoreResult};
use diesel::prelude::*;

pub fn find(conn: &mut AnyConnection, user_id: &str) -> StoreResult<Option<Vec<u8>>> {
    unique!(
        user_keys::table.find(user_id).select(user_keys::wrapped),
        conn
    )
}

pub fn insert(
    conn: &mut AnyConnection,
    user_id: &str,
    wrapped: &[u8],
    now: i64,
) -> StoreResult<()> {
    diesel::insert_into(user_keys::table)
        .values((
            user_keys::user_id.eq(user_id),
            user_keys::wrapped.eq(wrapped),
            user_keys::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}
