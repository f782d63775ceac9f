//! Pushed authorization requests (RFC 9126) waiting for their browser, by the hash of
//! their `request_uri` handle.

use super::schema::pushed_requests;
use super::{AnyConnection, StoreResult};
use diesel::prelude::*;

pub fn insert(
    conn: &mut AnyConnection,
    id: &str,
    client_id: &str,
    params: &str,
    expires_at: i64,
) -> StoreResult<()> {
    diesel::insert_into(pushed_requests::table)
        .values((
            pushed_requests::id.eq(id),
            pushed_requests::client_id.eq(client_id),
            pushed_requests::params.eq(params),
            pushed_requests::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The client and parameters of a request still waiting at `now`.
pub fn find(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<Option<(String, String)>> {
    unique!(
        pushed_requests::table
            .find(id)
            .filter(pushed_requests::expires_at.gt(now))
            .select((pushed_requests::client_id, pushed_requests::params)),
        conn,
    )
}

/// Removes a request; false when it was gone already.
pub fn delete(conn: &mut AnyConnection, id: &str) -> StoreResult<bool> {
    Ok(diesel::delete(pushed_requests::table.find(id)).execute(conn)? == 1)
}

pub fn purge(conn: &mut AnyConnection, now: i64) -> StoreResult<usize> {
    Ok(
        diesel::delete(pushed_requests::table.filter(pushed_requests::expires_at.le(now)))
            .execute(conn)?,
    )
}
