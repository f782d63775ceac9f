//! Challenges held by a login transaction or an account rather than tied to the users
//! table: face captures asked for and not yet answered (`biometrics`), and passkey sign-ins
//! without a username. Single use, timed.

use super::schema::capture_challenges;
use super::{AnyConnection, StoreResult};
use diesel::prelude::*;

/// Stores a new challenge; earlier ones of the same holder and purpose are dropped.
pub fn replace(
    conn: &mut AnyConnection,
    id: &str,
    holder: &str,
    purpose: &str,
    state: &str,
    expires_at: i64,
) -> StoreResult<()> {
    diesel::delete(
        capture_challenges::table
            .filter(capture_challenges::holder.eq(holder))
            .filter(capture_challenges::purpose.eq(purpose)),
    )
    .execute(conn)?;
    diesel::insert_into(capture_challenges::table)
        .values((
            capture_challenges::id.eq(id),
            capture_challenges::holder.eq(holder),
            capture_challenges::purpose.eq(purpose),
            capture_challenges::state.eq(state),
            capture_challenges::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The state of a live challenge, left in place.
pub fn peek(
    conn: &mut AnyConnection,
    id: &str,
    holder: &str,
    purpose: &str,
    now: i64,
) -> StoreResult<Option<String>> {
    if !super::searchable(id) {
        return Ok(None);
    }
    unique!(
        capture_challenges::table
            .find(id)
            .filter(capture_challenges::holder.eq(holder))
            .filter(capture_challenges::purpose.eq(purpose))
            .filter(capture_challenges::expires_at.gt(now))
            .select(capture_challenges::state),
        conn
    )
}

/// Removes and returns the state of a live challenge; `None` when it does not exist, has
/// expired, or was taken already (of two concurrent takes, one gets it).
pub fn take(
    conn: &mut AnyConnection,
    id: &str,
    holder: &str,
    purpose: &str,
    now: i64,
) -> StoreResult<Option<String>> {
    let state = peek(conn, id, holder, purpose, now)?;
    let deleted = diesel::delete(
        capture_challenges::table
            .find(id)
            .filter(capture_challenges::holder.eq(holder)),
    )
    .execute(conn)?;
    Ok(state.filter(|_| deleted == 1))
}
