//! Settings changed at run time, as JSON under a name, versioned.

use super::schema::settings;
use super::{AnyConnection, StoreResult};
use diesel::prelude::*;

/// The stored value and its version.
pub fn get(conn: &mut AnyConnection, name: &str) -> StoreResult<Option<(String, i64)>> {
    unique!(
        settings::table
            .find(name)
            .select((settings::value, settings::version)),
        conn
    )
}

/// The version alone (every instance polls it).
pub fn version(conn: &mut AnyConnection, name: &str) -> StoreResult<Option<i64>> {
    unique!(settings::table.find(name).select(settings::version), conn)
}

/// Stores a new value; returns its version. Two first stores at once: the second finds
/// the row the first inserted and updates it.
pub fn put(conn: &mut AnyConnection, name: &str, value: &str, now: i64) -> StoreResult<i64> {
    use diesel::result::{DatabaseErrorKind, Error};
    let update = |conn: &mut AnyConnection| {
        diesel::update(settings::table.find(name))
            .set((
                settings::value.eq(value),
                settings::version.eq(settings::version + 1),
                settings::updated_at.eq(now),
            ))
            .execute(conn)
    };
    if update(conn)? == 0 {
        // In a savepoint, so that losing the race does not abort the caller's transaction.
        let inserted = conn.transaction(|c| {
            diesel::insert_into(settings::table)
                .values((
                    settings::name.eq(name),
                    settings::value.eq(value),
                    settings::version.eq(1i64),
                    settings::updated_at.eq(now),
                ))
                .execute(c)
        });
        match inserted {
            Ok(_) => {}
            Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                update(conn)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(version(conn, name)?.unwrap_or(1))
}
