//! Group commit for SQLite's writers: one connection writes for the whole process, and the
//! transactions of concurrent requests share one database transaction, one commit and one
//! fsync of the log (`group_sync`).
//!
//! A request takes its turn on the writing connection and runs its transaction as a
//! savepoint inside the batch that is open (beginning one when none is). If other requests
//! are queued for their turn, it leaves the batch open for them and waits; the last one in
//! the queue, or the one that fills the batch, commits it and wakes the others. While the
//! previous batch's fsync is under way, the last one leaves the batch open until it ends,
//! so that the requests arriving meanwhile join it. Each answer
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
    crate::store::fixed::statement!(pub(super) fn begin(conn) = "SAVEPOINT batch_member";);
    crate::store::fixed::statement!(pub(super) fn release(conn) = "RELEASE batch_member";);
    crate::store::fixed::statement!(pub(super) fn roll_back(conn) = "ROLLBACK TO batch_member";);
}

/// Runs one of `member`'s statements (SQLite) or diesel's savepoint step (PostgreSQL).
fn member_step(
    conn: &mut AnyConnection,
    sqlite: fn(&mut AnyConnection) -> diesel::QueryResult<usize>,
    other: fn(&mut AnyConnection) -> diesel::QueryResult<()>,
) -> diesel::QueryResult<()> {
    match conn {
        AnyConnection::Sqlite(_) => sqlite(conn).map(drop),
        AnyConnection::Postgresql(_) => other(conn),
    }
}

/// Requests in one batch at most: under a steady queue a batch still commits this often.
const MAX_BATCH: usize = 64;

thread_local! {
    /// This thread is inside a writing transaction.
    static WRITING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Inside `deferring`: the batches this thread's transactions joined without waiting
    /// for them to be committed.
    static DEFERRED: std::cell::RefCell<Option<Vec<Arc<Batch>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f`, whose transactions in a batch return as soon as their own part is done,
/// without waiting for the batch to be committed and on disk; that wait is the
/// `Durability` returned, which must end before anything `f` decided leaves the process
/// (an answer, a message). Inside `f`, what a transaction wrote is not seen by reads
/// outside a transaction (`Db::run`) until it is committed: `f` must not read back that way
/// what it wrote. A second transaction of `f` waits for the first one's batch before it
/// begins, and fails if that batch failed. The token endpoint's requests are such; the rest
/// of the provider waits in each transaction.
pub fn deferring<R>(f: impl FnOnce() -> R) -> (R, Durability) {
    struct Scope(Option<Vec<Arc<Batch>>>);
    impl Drop for Scope {
        fn drop(&mut self) {
            DEFERRED.set(self.0.take());
        }
    }
    // An outer scope's batches are kept aside, and given back when this one ends.
    let outer = Scope(DEFERRED.replace(Some(Vec::new())));
    let value = f();
    let batches = DEFERRED.replace(None).unwrap_or_default();
    drop(outer);
    (value, Durability(batches))
}

/// Batches joined in `deferring` without waiting for them: see `Durability::wait`.
#[must_use = "what the transactions wrote is not committed and on disk until this is awaited"]
pub struct Durability(Vec<Arc<Batch>>);

impl Durability {
    /// Ends once every batch is committed and on disk: `Err` when one of them failed,
    /// whose writes did not stay.
    pub async fn wait(self) -> Result<(), StoreError> {
        for batch in &self.0 {
            batch.ended().await?;
        }
        Ok(())
    }
}

/// Whether the calling thread is in `deferring`; if so, keeps `batch` for its
/// `Durability`.
fn deferred(batch: &Arc<Batch>) -> bool {
    DEFERRED.with_borrow_mut(|d| match d {
        Some(batches) => {
            if !batches.iter().any(|b| Arc::ptr_eq(b, batch)) {
                batches.push(batch.clone());
            }
            true
        }
        None => false,
    })
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

/// How a batch ended, for the requests that wait for it: on a thread (`wait`), or in a task
/// (`ended`).
#[derive(Default)]
pub(super) struct Batch {
    outcome: Mutex<Option<Result<(), Arc<str>>>>,
    ended: Condvar,
    tasks: tokio::sync::Notify,
}

impl Batch {
    fn end(&self, outcome: Result<(), Arc<str>>) {
        *self.outcome.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
        self.ended.notify_all();
        self.tasks.notify_waiters();
    }

    fn outcome(&self) -> Option<Result<(), StoreError>> {
        let outcome = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        outcome.as_ref().map(failed)
    }

    async fn ended(&self) -> Result<(), StoreError> {
        loop {
            let notified = self.tasks.notified();
            let mut notified = std::pin::pin!(notified);
            // Listening before looking: an end between the two is not missed.
            notified.as_mut().enable();
            if let Some(outcome) = self.outcome() {
                return outcome;
            }
            notified.await;
        }
    }

    fn wait(&self) -> Result<(), StoreError> {
        let mut o = self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(outcome) = o.as_ref() {
                return failed(outcome);
            }
            o = self.ended.wait(o).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// A batch's outcome as its requests report it: a failed batch is `StoreError::Batch`.
fn failed(outcome: &Result<(), Arc<str>>) -> Result<(), StoreError> {
    outcome
        .as_ref()
        .map_err(|why| StoreError::Batch(why.to_string()))
        .copied()
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
        // Inside `deferring`, a transaction begins only once the batches of the ones before
        // it are committed: it is never kept when one of them was not. (Those batches end:
        // a transaction returned before its batch was committed only because another
        // request was queued behind it.)
        for batch in DEFERRED.with_borrow(|d| d.clone().unwrap_or_default()) {
            batch.wait()?;
        }
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
        let full = turn
            .slot
            .open
            .as_ref()
            .is_some_and(|o| o.members >= MAX_BATCH);
        let last = self.queued.load(Ordering::SeqCst) == 0;
        let committed = if full || (last && !self.sync.busy()) {
            let committed = commit(&mut turn.slot);
            // The next batch may begin while this one waits for the disk.
            drop(turn);
            committed
        } else if last {
            // The fsync under way must end before this batch's can begin: until then the
            // batch stays open, and the requests that arrive meanwhile join it.
            drop(turn);
            self.sync.wait_idle();
            let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
            let still_open = slot
                .open
                .as_ref()
                .is_some_and(|o| Arc::ptr_eq(&o.batch, &batch));
            // Another member that waited too may have committed it already.
            if still_open { commit(&mut slot) } else { None }
        } else {
            drop(turn);
            None
        };
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
        if deferred(&batch) {
            return Ok(value);
        }
        batch.wait()?;
        Ok(value)
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
            member_step(&mut conn, member::begin, Manager::begin_transaction)
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
            Ok(_) => member_step(&mut conn, member::release, Manager::commit_transaction),
            Err(_) => member_step(&mut conn, member::roll_back, Manager::rollback_transaction)
                .and_then(|()| member_step(&mut conn, member::release, |_| Ok(()))),
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

    /// Another request queued for its turn while `f` runs, as far as `f`'s transactions
    /// can tell: they leave their batch open for it.
    fn with_one_queued<R>(db: &Db, f: impl FnOnce() -> R) -> R {
        let queued = &db.batcher.as_ref().unwrap().queued;
        queued.fetch_add(1, Ordering::SeqCst);
        let r = f();
        queued.fetch_sub(1, Ordering::SeqCst);
        r
    }

    #[test]
    fn a_deferred_transaction_returns_before_its_batch_is_committed() {
        use futures_util::FutureExt;
        let (_dir, db) = db();
        let before = commits(&db);
        let (value, durability) =
            deferring(|| with_one_queued(&db, || db.tx(|c| insert(c, 1).map(|()| 7))));
        assert_eq!(value.unwrap(), 7);
        // Not committed: reads outside the batch do not see it, and the wait goes on.
        assert_eq!(commits(&db), before);
        assert!(rows(&db).is_empty());
        let mut waiting = Box::pin(durability.wait());
        assert!(waiting.as_mut().now_or_never().is_none());
        // The next transaction is the last of the batch and commits both.
        db.tx(|c| insert(c, 2)).unwrap();
        assert!(matches!(waiting.now_or_never(), Some(Ok(()))));
        assert_eq!(rows(&db), [1, 2]);
        // Outside `deferring`, a transaction waits for its batch again.
        let queued = &db.batcher.as_ref().unwrap().queued;
        let outside = std::thread::scope(|s| {
            queued.fetch_add(1, Ordering::SeqCst);
            let t = s.spawn(|| db.tx(|c| insert(c, 3)));
            std::thread::sleep(Duration::from_millis(50));
            let finished = t.is_finished();
            queued.fetch_sub(1, Ordering::SeqCst);
            db.tx(|c| insert(c, 4)).unwrap();
            t.join().unwrap().unwrap();
            finished
        });
        assert!(!outside, "returned before its batch was committed");
    }

    #[test]
    fn a_deferred_transaction_learns_that_its_batch_failed() {
        use futures_util::FutureExt;
        let (_dir, db) = db();
        let ((), durability) = deferring(|| {
            with_one_queued(&db, || db.tx(|c| insert(c, 1)).unwrap());
            // Nested scopes keep their own batches.
            let ((), inner) = deferring(|| ());
            assert!(matches!(inner.wait().now_or_never(), Some(Ok(()))));
        });
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            db.tx(|_| -> StoreResult<()> { panic!("a bug") })
        }));
        assert!(panicked.is_err());
        let failed = durability
            .wait()
            .now_or_never()
            .expect("the batch has ended");
        assert!(matches!(failed, Err(StoreError::Batch(_))), "{failed:?}");
        assert!(rows(&db).is_empty());
        // A later transaction of the same scope is not kept when an earlier one's batch
        // failed.
        let (later, durability) = deferring(|| {
            let first = with_one_queued(&db, || db.tx(|c| insert(c, 5)));
            // Another request's transaction breaks the batch.
            let panicked = std::thread::scope(|s| {
                s.spawn(|| db.tx(|_| -> StoreResult<()> { panic!("a bug") }))
                    .join()
            });
            assert!(first.is_ok() && panicked.is_err());
            db.tx(|c| insert(c, 6))
        });
        assert!(matches!(later, Err(StoreError::Batch(_))), "{later:?}");
        assert!(durability.wait().now_or_never().unwrap().is_err());
        assert!(rows(&db).is_empty());
        db.tx(|c| insert(c, 2)).unwrap();
        assert_eq!(rows(&db), [2]);
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
