//! Fixed-window rate limit counters.

use super::schema::rate_limits;
use super::{AnyConnection, StoreResult};
use diesel::prelude::*;

/// Counts one event for `key` in the current window of `window` seconds and returns the
/// count so far in that window (this event included).
pub fn hit(conn: &mut AnyConnection, key: &str, window: i64, now: i64) -> StoreResult<i32> {
    use diesel::result::{DatabaseErrorKind, Error};
    let start = now - now.rem_euclid(window);
    let this_window = rate_limits::table
        .find(key)
        .filter(rate_limits::window_start.eq(start));
    // The write comes first, so the transaction holds the write lock from the start.
    let bumped = diesel::update(this_window)
        .set(rate_limits::count.eq(rate_limits::count + 1))
        .execute(conn)?;
    if bumped == 0 {
        diesel::delete(rate_limits::table.find(key)).execute(conn)?;
        // In a savepoint: on PostgreSQL a failed insert would abort the caller's
        // transaction.
        let first = conn.transaction(|c| {
            diesel::insert_into(rate_limits::table)
                .values((
                    rate_limits::key.eq(key),
                    rate_limits::window_start.eq(start),
                    rate_limits::count.eq(1),
                ))
                .execute(c)
        });
        match first {
            Ok(_) => return Ok(1),
            // Another instance started the window at the same moment.
            Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                diesel::update(this_window)
                    .set(rate_limits::count.eq(rate_limits::count + 1))
                    .execute(conn)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    unique!(this_window.select(rate_limits::count), conn)?
        .ok_or(super::StoreError::Query(diesel::result::Error::NotFound))
}

/// The counts so far in the current window of `window` seconds for each of `keys` (0 for
/// a key without events in it), without counting anything. One lookup per key: a
/// statement of fixed shape, prepared once per connection. (An `IN` list of binds is
/// prepared anew on every call; `key = ? OR key = ?` is prepared once, but SQLite builds
/// the list anew on every run and costs more than the two lookups.)
pub fn counts(
    conn: &mut AnyConnection,
    keys: &[&str],
    window: i64,
    now: i64,
) -> StoreResult<Vec<i32>> {
    let start = now - now.rem_euclid(window);
    keys.iter()
        .map(|k| {
            let this_window = rate_limits::table
                .find(*k)
                .filter(rate_limits::window_start.eq(start))
                .select(rate_limits::count);
            Ok(unique!(this_window, conn)?.unwrap_or(0))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_read_per_key_and_window() {
        let (_dir, svc) = crate::service::for_tests();
        let now = 1_800_000_030;
        svc.db
            .tx(|c| {
                for _ in 0..3 {
                    hit(c, "a", 60, now)?;
                }
                hit(c, "b", 60, now)?;
                hit(c, "d", 60, now - 60)
            })
            .unwrap();
        let counts = |keys: &[&str], at: i64| svc.db.run(|c| counts(c, keys, 60, at)).unwrap();
        assert_eq!(counts(&["a", "b"], now), [3, 1]);
        assert_eq!(counts(&["b", "a"], now), [1, 3]);
        assert_eq!(counts(&["b"], now), [1]);
        assert_eq!(counts(&["a", "c", "b"], now), [3, 0, 1]);
        assert_eq!(counts(&["d", "a"], now), [0, 3], "d's window is over");
        assert_eq!(counts(&["a", "b"], now + 60), [0, 0]);
        assert!(counts(&[], now).is_empty());
    }
}
