//! Group commit for SQLite's writers: one connection writes for the whole process, and the
//! transactions of concurrent requests share one database transaction, one commit and one
//! fsync of the log (`group_sync`).
//!
//! A request takes its turn on the writing connection and runs its transaction as a
//! savepoint inside the batch that is open (beginning one when none is). If other requests
//! are queued for their turn, it leaves the batch open for them and waits; the last one in
//! the queue, or the one that fills the batch, commits it and wakes the others. Each answer
//! leaves once its batch is committed and on disk. A request whose own transaction fails
//! rolls back to its savepoint and takes nothing of the others with it; a failed commit
//! fails every request of the batch, and none of their writes stays.
//!
//! Compared with a transaction per request, a burst of token requests writes the log's
//! pages once per batch instead of once per request, the readers' page caches are
//! invalidated once per batch, and the requests hand the write lock on in this process
//! instead of polling SQLite's.

use super::group_sync::GroupSync;
use super::{AnyConnection, StoreError};
use diesel::Connection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

type Manager = <AnyConnection as Connection>::TransactionManager;

/// The savepoint a request's transaction runs in, when it is not the first of its batch.
/// Diesel's own savepoints are SQL text that SQLite parses anew each time (8% of idp's
/// processor time during refresh-token rotation, for the savepoint and its release);
/// these three statements are prepared once per connection and kept in its statement
/// cache.
mod member {
    use diesel::query_builder::{AstPass, QueryFragment, QueryId};
    use diesel::sqlite::{Sqlite, SqliteConnection};
    use diesel::{QueryResult, RunQueryDsl};

    macro_rules! statement {
        ($name:ident, $sql:literal) => {
            #[derive(QueryId)]
            pub(super) struct $name;
            impl QueryFragment<Sqlite> for $name {
                fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
                    out.push_sql($sql);
                    Ok(())
                }
            }
            impl RunQueryDsl<SqliteConnection> for $name {}
        };
    }
    statement!(Begin, "SAVEPOINT batch_member");
    statement!(Release, "RELEASE batch_member");
    statement!(RollBack, "ROLLBACK TO batch_member");
}

/// Runs one of `member`'s statements (SQLite) or diesel's savepoint step (PostgreSQL).
fn member_step<S>(
    conn: &mut AnyConnection,
    sqlite: S,
    other: fn(&mut AnyConnection) -> diesel::QueryResult<()>,
) -> diesel::QueryResult<()>
where
    S: diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite>
        + diesel::query_builder::QueryId
        + diesel::RunQueryDsl<diesel::SqliteConnection>,
{
    match conn {
        AnyConnection::Sqlite(c) => diesel::RunQueryDsl::execute(sqlite, c).map(|_| ()),
        AnyConnection::Postgresql(_) => other(conn),
    }
}

/// Requests in one batch at most: under a steady queue a batch still commits this often.
const MAX_BATCH: usize = 64;

thread_local! {
    /// This thread is inside a writing transaction.
    static WRITING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The process's writing connection and its open batch.
pub(super) struct Batcher {
    slot: Mutex<Slot>,
    /// Requests waiting for their turn on the connection.
    queued: AtomicUsize,
    /// Batches committed so far.
    commits: AtomicU64,
    /// Opens a new writing connection (at start and after a failure left one unusable).
    connect: Box<dyn Fn() -> Result<AnyConnection, StoreError> + Send + Sync>,
    /// The fsync of the log that a committed batch waits for before its requests go on.
    sync: Arc<GroupSync>,
}

struct Slot {
    conn: Option<AnyConnection>,
    open: Option<Open>,
}

/// The batch whose transaction is open, and how many requests have joined it.
struct Open {
    batch: Arc<Batch>,
    members: usize,
}

/// How a batch ended, for the requests that wait for it.
#[derive(Default)]
struct Batch {
    outcome: Mutex<Option<Result<(), Arc<str>>>>,
    ended: Condvar,
}

impl Batch {
    fn end(&self, outcome: Result<(), Arc<str>>) {
        *self.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
        self.ended.notify_all();
    }

    fn wait(&self) -> Result<(), Arc<str>> {
        let mut o = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(outcome) = o.as_ref() {
                return outcome.clone();
            }
            o = self.ended.wait(o).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// A request's turn on the writing connection. Dropped before its transaction returned
/// (it panicked), it rolls the whole batch back and fails its other requests.
struct Turn<'a> {
    slot: MutexGuard<'a, Slot>,
    finished: bool,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        WRITING.set(false);
        if !self.finished {
            abandon(&mut self.slot, "a transaction in the batch panicked");
        }
    }
}

/// Ends the open batch without committing it: its requests get `why`, and the connection
/// is dropped (closing it rolls the transaction back) so that the next request starts on
/// a fresh one, whatever state this one is in.
fn abandon(slot: &mut Slot, why: &str) {
    slot.conn = None;
    if let Some(open) = slot.open.take() {
        open.batch.end(Err(why.into()));
    }
}

impl Batcher {
    pub(super) fn new(
        connect: impl Fn() -> Result<AnyConnection, StoreError> + Send + Sync + 'static,
        sync: Arc<GroupSync>,
    ) -> Self {
        Batcher {
            slot: Mutex::new(Slot {
                conn: None,
                open: None,
            }),
            queued: AtomicUsize::new(0),
            commits: AtomicU64::new(0),
            connect: Box::new(connect),
            sync,
        }
    }

    /// Whether this thread is running a transaction already: a transaction opened inside
    /// another cannot join the batch (it would wait for itself).
    pub(super) fn nested() -> bool {
        WRITING.get()
    }

    /// Runs `f` as one request's transaction in the open batch. Returns once the batch
    /// is committed and on disk (`Ok`), or at once when `f` failed (its writes rolled back).
    pub(super) fn run<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        self.queued.fetch_sub(1, Ordering::SeqCst);
        WRITING.set(true);
        let mut turn = Turn {
            slot,
            finished: false,
        };
        let result = self.in_turn(&mut turn.slot, f);
        turn.finished = true;
        let (result, batch) = result?;
        let last = self.queued.load(Ordering::SeqCst) == 0
            || turn
                .slot
                .open
                .as_ref()
                .is_some_and(|o| o.members >= MAX_BATCH);
        let committed = if last { commit(&mut turn.slot) } else { None };
        // The next batch may begin while this one waits for the disk.
        drop(turn);
        if let Some(committed) = committed {
            let outcome = committed.and_then(|()| {
                self.commits.fetch_add(1, Ordering::Relaxed);
                self.sync.wait_durable().map_err(|e| {
                    format!("the database log could not be written to disk: {e}").into()
                })
            });
            batch.end(outcome);
        }
        // A request whose own transaction failed has nothing in the batch to wait for.
        let value = result?;
        match batch.wait() {
            Ok(()) => Ok(value),
            Err(why) => Err(E::from(StoreError::Batch(why.to_string()))),
        }
    }

    /// Runs `f` in the open batch: the first request of a batch begins its transaction,
    /// the others run in savepoints of it. `Err` only when the batch could not be begun or
    /// broke; `f`'s own failure comes back inside `Ok`, with the batch it was part of.
    #[allow(clippy::type_complexity)]
    fn in_turn<T, E: From<StoreError>>(
        &self,
        slot: &mut Slot,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
    ) -> Result<(Result<T, E>, Arc<Batch>), E> {
        // Out of the slot while in use: a connection dropped on the way (a failure, a
        // panic) closes, which rolls its transaction back.
        let mut conn = match slot.conn.take() {
            Some(c) => c,
            None => (self.connect)()?,
        };
        let first = slot.open.is_none();
        let begun = if first {
            match &mut conn {
                AnyConnection::Sqlite(sqlite) => {
                    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")
                }
                AnyConnection::Postgresql(_) => Manager::begin_transaction(&mut conn),
            }
        } else {
            member_step(&mut conn, member::Begin, Manager::begin_transaction)
        };
        if let Err(e) = begun {
            drop(conn);
            abandon(slot, "a savepoint could not be set");
            return Err(StoreError::from(e).into());
        }
        let batch = slot
            .open
            .get_or_insert_with(|| Open {
                batch: Arc::default(),
                members: 0,
            })
            .batch
            .clone();
        let result = f(&mut conn);
        // The first request's success leaves the transaction open for the batch; its
        // failure rolls back the whole transaction, which holds nothing else.
        let ended = match &result {
            Ok(_) if first => Ok(()),
            Err(_) if first => Manager::rollback_transaction(&mut conn),
            Ok(_) => member_step(&mut conn, member::Release, Manager::commit_transaction),
            Err(_) => member_step(&mut conn, member::RollBack, Manager::rollback_transaction)
                .and_then(|()| member_step(&mut conn, member::Release, |_| Ok(()))),
        };
        if let Err(e) = ended {
            // A failure that rolled back the whole transaction (SQLite does so on a full
            // disk or an I/O error) leaves no savepoint to release or roll back to.
            drop(conn);
            abandon(slot, "the batch's transaction broke");
            return match result {
                Err(own) => Err(own),
                Ok(_) => Err(StoreError::from(e).into()),
            };
        }
        slot.conn = Some(conn);
        if first && result.is_err() {
            slot.open = None;
        } else if let Some(open) = &mut slot.open {
            open.members += 1;
        }
        Ok((result, batch))
    }
}

/// Commits the open batch (`None`: none was open). A failed commit rolls it back.
fn commit(slot: &mut Slot) -> Option<Result<(), Arc<str>>> {
    slot.open.take()?;
    let Some(conn) = slot.conn.as_mut() else {
        return Some(Err("the writing connection was lost".into()));
    };
    let committed = Manager::commit_transaction(conn);
    Some(committed.map_err(|e| {
        // The next batch starts on a fresh connection, whatever state this one is in.
        slot.conn = None;
        format!("the batch could not be committed: {e}").into()
    }))
}

#[cfg(test)]
mod tests {
    use super::super::{Db, StoreError, StoreResult};
    use super::*;
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;
    use std::time::Duration;

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path().join("b.sqlite").to_str().unwrap(), 4).unwrap();
        db.run(|c| Ok(c.batch_execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")?))
            .unwrap();
        (dir, db)
    }

    fn insert(c: &mut AnyConnection, x: i64) -> StoreResult<()> {
        diesel::sql_query("INSERT INTO t (x) VALUES (?)")
            .bind::<BigInt, _>(x)
            .execute(c)?;
        Ok(())
    }

    fn rows(db: &Db) -> Vec<i64> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = BigInt)]
            x: i64,
        }
        db.run(|c| {
            Ok(diesel::sql_query("SELECT x FROM t ORDER BY x")
                .load::<Row>(c)?
                .into_iter()
                .map(|r| r.x)
                .collect())
        })
        .unwrap()
    }

    fn commits(db: &Db) -> u64 {
        db.batcher.as_ref().unwrap().commits.load(Ordering::Relaxed)
    }

    #[test]
    fn concurrent_transactions_share_commits_and_a_failed_one_takes_only_itself() {
        let (_dir, db) = db();
        let before = commits(&db);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let db = db.clone();
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let x = t * 100 + i;
                        let r = db.tx(|c| {
                            insert(c, x)?;
                            // Long enough for the others to queue behind this one.
                            std::thread::sleep(Duration::from_micros(200));
                            if x % 5 == 0 {
                                return Err(StoreError::Corrupt("refused".into()));
                            }
                            Ok(x)
                        });
                        assert_eq!(r.is_ok(), x % 5 != 0, "{x}: {r:?}");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let expected: Vec<i64> = (0..8)
            .flat_map(|t| (0..25).map(move |i| t * 100 + i))
            .filter(|x| x % 5 != 0)
            .collect();
        assert_eq!(rows(&db), expected);
        let batches = commits(&db) - before;
        assert!(batches < 200, "{batches} commits for 200 transactions");
        // A refused insert (the key exists) rolls back its own transaction only.
        let dup = db.tx(|c| {
            insert(c, 1000)?;
            insert(c, 1)
        });
        assert!(dup.is_err());
        assert!(!rows(&db).contains(&1000));
    }

    #[test]
    fn a_panicking_transaction_fails_its_batch_and_the_next_one_works() {
        let (_dir, db) = db();
        let started = std::sync::Arc::new(std::sync::Barrier::new(2));
        let other = {
            let db = db.clone();
            let started = started.clone();
            std::thread::spawn(move || {
                started.wait();
                // Queued behind the panicking transaction, in its batch or the next one.
                std::thread::sleep(Duration::from_millis(20));
                db.tx(|c| insert(c, 2))
            })
        };
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            db.tx(|c| {
                insert(c, 1)?;
                started.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!("a bug");
                #[allow(unreachable_code)]
                Ok(())
            })
        }));
        assert!(panicked.is_err());
        let other = other.join().unwrap();
        assert!(
            !rows(&db).contains(&1),
            "the panicking transaction's row stayed"
        );
        assert_eq!(rows(&db).contains(&2), other.is_ok(), "{other:?}");
        db.tx(|c| insert(c, 3)).unwrap();
        assert!(rows(&db).contains(&3));
    }

    #[test]
    fn a_transaction_inside_another_does_not_join_the_batch() {
        let (_dir, db) = db();
        let inner = db
            .tx(|_| {
                assert!(Batcher::nested());
                Ok(())
            })
            .map(|()| Batcher::nested());
        assert!(
            !inner.unwrap(),
            "still marked as writing after the transaction"
        );
    }
}
