//! Back-channel logout notices waiting to reach a service (OIDC Back-Channel Logout 1.0):
//! written in the transaction that ended the session, claimed by one instance at a time,
//! removed when delivered or given up.

use super::schema::logout_deliveries;
use super::{AnyConnection, StoreResult};
use diesel::prelude::*;

/// One notice: that session `sid` of the person the client knows as `subject` ended.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = logout_deliveries)]
pub struct Delivery {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub sid: String,
    pub subject: String,
    /// Attempts made so far.
    pub attempts: i64,
    pub next_at: i64,
    pub created_at: i64,
}

pub fn insert(conn: &mut AnyConnection, d: &Delivery) -> StoreResult<()> {
    diesel::insert_into(logout_deliveries::table)
        .values(d)
        .execute(conn)?;
    Ok(())
}

/// Takes up to `limit` notices due at `now` for this instance: each is moved to
/// `now + lease` by an update that only one instance can make, so that no other takes it
/// while this one tries. Returns the notices as they were before the move.
pub fn claim_due(
    conn: &mut AnyConnection,
    now: i64,
    lease: i64,
    limit: i64,
) -> StoreResult<Vec<Delivery>> {
    let due: Vec<Delivery> = logout_deliveries::table
        .filter(logout_deliveries::next_at.le(now))
        .order(logout_deliveries::next_at.asc())
        .limit(limit)
        .select(Delivery::as_select())
        .load(conn)?;
    let mut claimed = Vec::with_capacity(due.len());
    for d in due {
        let moved = diesel::update(
            logout_deliveries::table
                .find(&d.id)
                .filter(logout_deliveries::next_at.eq(d.next_at)),
        )
        .set(logout_deliveries::next_at.eq(now + lease))
        .execute(conn)?;
        if moved == 1 {
            claimed.push(d);
        }
    }
    Ok(claimed)
}

/// Removes a notice (delivered, or given up); false when it was gone already.
pub fn delete(conn: &mut AnyConnection, id: &str) -> StoreResult<bool> {
    Ok(diesel::delete(logout_deliveries::table.find(id)).execute(conn)? == 1)
}

/// Records a failed attempt and when to try again.
pub fn retry_at(
    conn: &mut AnyConnection,
    id: &str,
    attempts: i64,
    next_at: i64,
) -> StoreResult<()> {
    diesel::update(logout_deliveries::table.find(id))
        .set((
            logout_deliveries::attempts.eq(attempts),
            logout_deliveries::next_at.eq(next_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The notices still waiting for a user's sessions (for tests and the data export).
pub fn of_user(conn: &mut AnyConnection, user_id: &str) -> StoreResult<Vec<Delivery>> {
    Ok(logout_deliveries::table
        .filter(logout_deliveries::user_id.eq(user_id))
        .order(logout_deliveries::created_at.asc())
        .select(Delivery::as_select())
        .load(conn)?)
}
