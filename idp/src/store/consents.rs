//! Consent given by a citizen to a client, per scope: one row per (user, client) holding
//! the union of the scopes consented to.

use super::schema::consents;
use super::{AnyConnection, StoreResult};
use diesel::prelude::*;

pub fn scopes(
    conn: &mut AnyConnection,
    user_id: &str,
    client_id: &str,
) -> StoreResult<Vec<String>> {
    let s: Option<String> = unique!(
        consents::table
            .find((user_id, client_id))
            .select(consents::scope),
        conn
    )?;
    Ok(s.map(|s| s.split(' ').map(str::to_string).collect())
        .unwrap_or_default())
}

/// Records consent to `scopes` in addition to what was consented before.
pub fn record(
    conn: &mut AnyConnection,
    user_id: &str,
    client_id: &str,
    scopes: &[String],
    now: i64,
) -> StoreResult<()> {
    use diesel::result::{DatabaseErrorKind, Error};
    // Twice at most: when a consent given at the same moment is inserted first, it is
    // read again and widened.
    for _ in 0..2 {
        let mut all = self::scopes(conn, user_id, client_id)?;
        all.extend(scopes.iter().cloned());
        all.sort();
        all.dedup();
        all.retain(|s| !s.is_empty());
        let widened = diesel::update(consents::table.find((user_id, client_id)))
            .set((
                consents::scope.eq(all.join(" ")),
                consents::created_at.eq(now),
            ))
            .execute(conn)?;
        if widened > 0 {
            return Ok(());
        }
        // In a savepoint: on PostgreSQL a failed insert would abort the caller's transaction.
        let first = conn.transaction(|c| {
            diesel::insert_into(consents::table)
                .values((
                    consents::user_id.eq(user_id),
                    consents::client_id.eq(client_id),
                    consents::scope.eq(all.join(" ")),
                    consents::created_at.eq(now),
                ))
                .execute(c)
        });
        match first {
            Ok(_) => return Ok(()),
            Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(super::StoreError::Query(Error::RollbackTransaction))
}

pub fn revoke(conn: &mut AnyConnection, user_id: &str, client_id: &str) -> StoreResult<bool> {
    Ok(diesel::delete(consents::table.find((user_id, client_id))).execute(conn)? > 0)
}

/// Every consent of a user: (client id, scopes).
pub fn of_user(conn: &mut AnyConnection, user_id: &str) -> StoreResult<Vec<(String, String)>> {
    Ok(consents::table
        .filter(consents::user_id.eq(user_id))
        .order(consents::client_id)
        .select((consents::client_id, consents::scope))
        .load(conn)?)
}
