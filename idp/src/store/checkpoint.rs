//! Checkpoints of SQLite's write-ahead log, off the writers' path.
//!
//! SQLite copies the log's pages into the database file ("checkpoint") itself, by default
//! inside the commit that takes the log past 1,000 pages. The process's one writing
//! connection (`batch`) would then copy and fsync while every queued request waits, and
//! under a steady load it checkpointed several times a second, writing the same hot pages
//! again each time. Here the writing connection checkpoints only past
//! `WRITER_AUTOCHECKPOINT` pages (a safety net), and a thread of the store's own runs a
//! passive checkpoint every `PERIOD` on a connection of its own: it copies what no reader
//! still needs while the writer goes on, and a page written many times in a period is
//! copied once. The log is reused from its start once a checkpoint has copied all of it.

use super::{AnyConnection, StoreError};
use diesel::QueryableByName;
use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;
use std::sync::Weak;
use std::time::Duration;

/// How often the store's thread checkpoints.
const PERIOD: Duration = Duration::from_millis(500);

/// Log pages (4 KiB each) past which the writing connection checkpoints in its commit,
/// should the store's thread fall behind.
pub(super) const WRITER_AUTOCHECKPOINT: u32 = 16_000;

/// What a checkpoint did, in log pages (SQLite's `wal_checkpoint` answer).
#[derive(Debug, QueryableByName)]
struct Checkpointed {
    /// 1 when a reader or writer kept it from finishing (a passive one does not wait).
    #[diesel(sql_type = BigInt)]
    busy: i64,
    /// Pages in the log.
    #[diesel(sql_type = BigInt)]
    log: i64,
    /// Pages of the log now in the database file.
    #[diesel(sql_type = BigInt)]
    checkpointed: i64,
}

/// A passive checkpoint on `conn`: copies what it can without waiting for anyone.
fn passive(conn: &mut AnyConnection) -> Result<Checkpointed, StoreError> {
    let AnyConnection::Sqlite(c) = conn else {
        return Err(StoreError::Corrupt("a checkpoint is SQLite's".into()));
    };
    Ok(diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result(c)?)
}

/// Starts the store's checkpoint thread. It stops once `alive` is gone (the store was
/// dropped); a failure is logged and tried again in the next period.
pub(super) fn spawn<T: Send + Sync + 'static>(
    connect: impl Fn() -> Result<AnyConnection, StoreError> + Send + 'static,
    alive: Weak<T>,
) {
    let spawned = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let mut conn = None;
            // Warned once per run of failures, not every period.
            let mut failing = false;
            loop {
                std::thread::sleep(PERIOD);
                if alive.strong_count() == 0 {
                    break;
                }
                let result = match conn.take() {
                    Some(c) => Ok(c),
                    None => connect(),
                }
                .and_then(|mut c| {
                    let done = passive(&mut c)?;
                    // A connection a failure may have broken is opened anew next time.
                    conn = Some(c);
                    Ok(done)
                });
                match result {
                    Ok(done) => {
                        if failing {
                            failing = false;
                            tracing::info!("checkpointing the database log works again");
                        }
                        if done.log > 0 {
                            tracing::trace!(
                                busy = done.busy,
                                log = done.log,
                                checkpointed = done.checkpointed,
                                "checkpointed the database log"
                            );
                        }
                    }
                    Err(e) if !failing => {
                        failing = true;
                        tracing::warn!(error = %e, "checkpointing the database log failed; trying again every period");
                    }
                    Err(_) => {}
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "the database log checkpoint thread could not start; the writer checkpoints");
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Db, StoreResult};
    use diesel::connection::SimpleConnection;

    /// The log reaches the database file while the writer is idle, without a checkpoint of
    /// its own (it would need `WRITER_AUTOCHECKPOINT` pages) and without closing the store.
    #[test]
    fn the_store_copies_the_log_into_the_database_file_by_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        let db = Db::open(path.to_str().unwrap(), 2).unwrap();
        db.run(|c| Ok(c.batch_execute("CREATE TABLE t (x BLOB)")?))
            .unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        for _ in 0..50 {
            db.tx(|c| -> StoreResult<()> {
                Ok(c.batch_execute("INSERT INTO t VALUES (zeroblob(4000))")?)
            })
            .unwrap();
        }
        // Without the thread the file would stay as it is until the store closes.
        let deadline = std::time::Instant::now() + 4 * super::PERIOD;
        while std::fs::metadata(&path).unwrap().len() < before + 200_000 {
            assert!(
                std::time::Instant::now() < deadline,
                "the log was not copied into the database file"
            );
            std::thread::sleep(super::PERIOD / 10);
        }
    }
}
