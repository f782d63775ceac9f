//! Initial access tokens of dynamic client registration (RFC 7591 3), by hash.

use super::schema::registration_tokens;
use super::{AnyConnection, StoreResult};
use diesel::prelude::*;

pub fn insert(
    conn: &mut AnyConnection,
    token_hash: &str,
    uses: i64,
    expires_at: i64,
    now: i64,
) -> StoreResult<()> {
    diesel::insert_into(registration_tokens::table)
        .values((
            registration_tokens::token_hash.eq(token_hash),
            registration_tokens::uses_left.eq(uses),
            registration_tokens::expires_at.eq(expires_at),
            registration_tokens::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Whether the token is live and has uses left (read only: `use_once` decides).
pub fn usable(conn: &mut AnyConnection, token_hash: &str, now: i64) -> StoreResult<bool> {
    if !super::searchable(token_hash) {
        return Ok(false);
    }
    let found: Option<String> = unique!(
        registration_tokens::table
            .find(token_hash)
            .filter(registration_tokens::uses_left.gt(0))
            .filter(registration_tokens::expires_at.gt(now))
            .select(registration_tokens::token_hash),
        conn
    )?;
    Ok(found.is_some())
}

/// Uses the token once, if it is live and has uses left: one conditional update decides,
/// so that concurrent registrations cannot use it more often than it allows.
pub fn use_once(conn: &mut AnyConnection, token_hash: &str, now: i64) -> StoreResult<bool> {
    if !super::searchable(token_hash) {
        return Ok(false);
    }
    let used = diesel::update(
        registration_tokens::table
            .find(token_hash)
            .filter(registration_tokens::uses_left.gt(0))
            .filter(registration_tokens::expires_at.gt(now)),
    )
    .set(registration_tokens::uses_left.eq(registration_tokens::uses_left - 1))
    .execute(conn)?;
    Ok(used == 1)
}

pub fn purge(conn: &mut AnyConnection, now: i64) -> StoreResult<usize> {
    Ok(diesel::delete(
        registration_tokens::table.filter(
            registration_tokens::expires_at
                .le(now)
                .or(registration_tokens::uses_left.le(0)),
        ),
    )
    .execute(conn)?)
}
