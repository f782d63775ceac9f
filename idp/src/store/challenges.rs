//! Server-side state of a factor between its two halves, single use.

use super::schema::challenges;
use super::{AnyConnection, StoreResult};
use diesel::prelude::*;

pub fn insert(
    conn: &mut AnyConnection,
    id: &str,
    user_id: &str,
    purpose: &str,
    state: &str,
    expires_at: i64,
) -> StoreResult<()> {
    diesel::insert_into(challenges::table)
        .values((
            challenges::id.eq(id),
            challenges::user_id.eq(user_id),
            challenges::purpose.eq(purpose),
            challenges::state.eq(state),
            challenges::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Removes and returns the state of a live challenge of this user and purpose; `None`
/// when it does not exist, has expired, or was taken already.
pub fn take(
    conn: &mut AnyConnection,
    id: &str,
    user_id: &str,
    purpose: &str,
    now: i64,
) -> StoreResult<Option<String>> {
    if !super::searchable(id) {
        return Ok(None);
    }
    let row: Option<(String, i64)> = unique!(
        challenges::table
            .find(id)
            .filter(challenges::user_id.eq(user_id))
            .filter(challenges::purpose.eq(purpose))
            .select((challenges::state, challenges::expires_at)),
        conn
    )?;
    let deleted = diesel::delete(challenges::table.find(id)).execute(conn)?;
    Ok(row
        .filter(|(_, exp)| *exp > now && deleted == 1)
        .map(|(s, _)| s))
}

/// The live challenge of this user and purpose (the newest, should there be several):
/// (id, state).
pub fn latest(
    conn: &mut AnyConnection,
    user_id: &str,
    purpose: &str,
    now: i64,
) -> StoreResult<Option<(String, String)>> {
    Ok(challenges::table
        .filter(challenges::user_id.eq(user_id))
        .filter(challenges::purpose.eq(purpose))
        .filter(challenges::expires_at.gt(now))
        .order(challenges::expires_at.desc())
        .select((challenges::id, challenges::state))
        .first(conn)
        .optional()?)
}

/// Removes the user's challenges of one purpose (a new code replaces the old ones).
pub fn clear(conn: &mut AnyConnection, user_id: &str, purpose: &str) -> StoreResult<()> {
    diesel::delete(
        challenges::table
            .filter(challenges::user_id.eq(user_id))
            .filter(challenges::purpose.eq(purpose)),
    )
    .execute(conn)?;
    Ok(())
}
