//! Failed-attempt counters per account (or unknown username) and factor.

use super::schema::lockouts;
use super::{AnyConnection, StoreResult};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = lockouts)]
pub struct Lockout {
    pub subject: String,
    pub factor: String,
    pub failures: i32,
    /// How many times the factor was locked since the last success: the next lock lasts
    /// longer.
    pub locks: i32,
    pub locked_until: i64,
    pub updated_at: i64,
}

pub fn find(conn: &mut AnyConnection, subject: &str, factor: &str) -> StoreResult<Option<Lockout>> {
    Ok(lockouts::table
        .find((subject, factor))
        .select(Lockout::as_select())
        .first(conn)
        .optional()?)
}

pub fn save(conn: &mut AnyConnection, l: &Lockout) -> StoreResult<()> {
    diesel::delete(lockouts::table.find((&l.subject, &l.factor))).execute(conn)?;
    diesel::insert_into(lockouts::table)
        .values(l)
        .execute(conn)?;
    Ok(())
}

pub fn clear(conn: &mut AnyConnection, subject: &str, factor: &str) -> StoreResult<()> {
    diesel::delete(lockouts::table.find((subject, factor))).execute(conn)?;
    Ok(())
}
