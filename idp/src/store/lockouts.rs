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

/// Takes the counter of a subject and factor for the rest of the caller's transaction:
/// concurrent checks of the same factor wait here until this one commits. The row is
/// created (all zero) when there is none, so that there is always a row to lock.
pub fn lock(
    conn: &mut AnyConnection,
    subject: &str,
    factor: &str,
    now: i64,
) -> StoreResult<Lockout> {
    use diesel::result::{DatabaseErrorKind, Error};
    let fresh = Lockout {
        subject: subject.to_string(),
        factor: factor.to_string(),
        failures: 0,
        locks: 0,
        locked_until: 0,
        updated_at: now,
    };
    // The first statement writes: on SQLite the transaction holds the write lock from its
    // start; on PostgreSQL the update takes the row lock.
    let touch = || {
        diesel::update(lockouts::table.find((subject, factor)))
            .set(lockouts::updated_at.eq(lockouts::updated_at))
    };
    if touch().execute(conn)? == 0 {
        // In a savepoint: a concurrent first attempt may insert the same row, and on
        // PostgreSQL a failed statement would abort the whole transaction.
        let inserted = conn.transaction(|c| {
            diesel::insert_into(lockouts::table)
                .values(&fresh)
                .execute(c)
        });
        match inserted {
            Ok(_) => {}
            Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                touch().execute(conn)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    unique!(
        lockouts::table
            .find((subject, factor))
            .select(Lockout::as_select()),
        conn
    )?
    .ok_or(super::StoreError::Query(diesel::result::Error::NotFound))
}

/// Writes a counter taken with `lock`.
pub fn save(conn: &mut AnyConnection, l: &Lockout) -> StoreResult<()> {
    diesel::update(lockouts::table.find((&l.subject, &l.factor)))
        .set((
            lockouts::failures.eq(l.failures),
            lockouts::locks.eq(l.locks),
            lockouts::locked_until.eq(l.locked_until),
            lockouts::updated_at.eq(l.updated_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Lifts every lock of an account (an administrator's unlock); returns how many factors
/// were locked.
pub fn clear_all(conn: &mut AnyConnection, subject: &str, now: i64) -> StoreResult<usize> {
    Ok(diesel::update(
        lockouts::table
            .filter(lockouts::subject.eq(subject))
            .filter(lockouts::locked_until.gt(now)),
    )
    .set((
        lockouts::failures.eq(0),
        lockouts::locked_until.eq(0),
        lockouts::updated_at.eq(now),
    ))
    .execute(conn)?)
}

/// The factors of a subject that are locked now.
pub fn locked(conn: &mut AnyConnection, subject: &str, now: i64) -> StoreResult<Vec<Lockout>> {
    Ok(lockouts::table
        .filter(lockouts::subject.eq(subject))
        .filter(lockouts::locked_until.gt(now))
        .order(lockouts::factor)
        .select(Lockout::as_select())
        .load(conn)?)
}

/// Forgets every counter of a subject (an account removed).
pub fn delete_subject(conn: &mut AnyConnection, subject: &str) -> StoreResult<usize> {
    Ok(diesel::delete(lockouts::table.filter(lockouts::subject.eq(subject))).execute(conn)?)
}
