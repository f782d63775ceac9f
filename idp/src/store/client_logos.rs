//! Clients' logos, kept as checked PNG images (see `oidc::logo`).

use super::schema::client_logos;
use super::{AnyConnection, StoreResult};
use diesel::prelude::*;

/// Stores (or replaces) a client's logo.
pub fn put(conn: &mut AnyConnection, client_id: &str, png: &[u8], now: i64) -> StoreResult<()> {
    delete(conn, client_id)?;
    diesel::insert_into(client_logos::table)
        .values((
            client_logos::client_id.eq(client_id),
            client_logos::png.eq(png),
            client_logos::fetched_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// A client's logo, if it has one.
pub fn get(conn: &mut AnyConnection, client_id: &str) -> StoreResult<Option<Vec<u8>>> {
    unique!(
        client_logos::table
            .find(client_id)
            .select(client_logos::png),
        conn
    )
}

pub fn delete(conn: &mut AnyConnection, client_id: &str) -> StoreResult<()> {
    diesel::delete(client_logos::table.find(client_id)).execute(conn)?;
    Ok(())
}
