//! Storage: one `Db` type over SQLite (the embedded default) and PostgreSQL (selected by a
//! `postgres://` URL). Every query is written once against diesel's multi-backend
//! connection; only connection set-up, migrations, lookups by a unique key (`unique!`),
//! the hottest inserts and updates (`fixed`) and the batch's savepoints know which backend
//! is in use.

/// The row a lookup by a unique key finds, if any, as a `StoreResult`. Diesel's `first`
/// adds `LIMIT ?`, and SQLite recompiles a statement each time a bound LIMIT is bound
/// again (the value could change the query plan): a full parse of the query on every token
/// request. The query runs on the backend's own connection: through the multi-backend
/// connection, diesel walks every load's query once more to dispatch it (a fifth of a
/// client lookup's instructions). The query is written once and typed for each backend.
macro_rules! unique {
    ($query:expr, $conn:expr $(,)?) => {{
        use diesel::RunQueryDsl as _;
        let rows = match $conn {
            $crate::store::AnyConnection::Sqlite(c) => $query.load(c),
            $crate::store::AnyConnection::Postgresql(c) => $query.load(c),
        };
        rows.map(|r| r.into_iter().next())
            .map_err($crate::store::StoreError::from)
    }};
}

pub mod admin_roles;
mod batch;
pub use batch::{Durability, deferring};
pub mod biometric_consents;
pub mod captures;
pub mod challenges;
mod checkpoint;
pub mod client_logos;
pub mod clients;
pub mod consents;
pub mod denials;
pub(crate) mod fixed;
pub mod group_sync;
pub mod keys;
pub mod lockouts;
pub mod logout_deliveries;
pub mod pushed_requests;
pub mod rate_limits;
pub mod registration_tokens;
pub mod registrations;
pub mod schema;
pub mod sealed;
pub mod sessions;
pub mod settings;
pub mod tokens;
pub mod transactions;
pub mod user_keys;
pub mod users;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::time::Duration;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("no database connection available: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// `Db::open_existing` was pointed at a SQLite file that is not there.
    #[error("the database {0} does not exist")]
    Missing(String),
    /// `Db::open_existing` found a database without the provider's tables.
    #[error("the database {0} holds no identity provider data (its schema was never created)")]
    NoSchema(String),
    /// The write-ahead log could not be synced to disk after a commit.
    #[error("the database log could not be written to disk: {0}")]
    Sync(std::io::Error),
    /// The batch of transactions this one was committed with failed (`batch`): none of
    /// their writes stayed.
    #[error("the database transaction was not committed: {0}")]
    Batch(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// A failure that passes, after which the request may be retried: no connection free
    /// in time, the database restarting or unreachable, SQLite busy past its timeout, a
    /// PostgreSQL serialization failure or deadlock, the database's disk full (the write
    /// was rolled back; it passes once an operator frees space), the log not synced.
    /// Answered `503` with `Retry-After`.
    pub fn is_transient(&self) -> bool {
        use diesel::result::{DatabaseErrorKind as Kind, Error};
        match self {
            StoreError::Pool(_)
            | StoreError::Connect(_)
            | StoreError::Sync(_)
            | StoreError::Batch(_) => true,
            StoreError::Query(Error::DatabaseError(kind, info)) => {
                matches!(
                    kind,
                    Kind::SerializationFailure | Kind::ClosedConnection | Kind::UnableToSendCommand
                ) || {
                    let m = info.message();
                    [
                        "database is locked",
                        "database table is locked",
                        "deadlock detected",
                        "terminating connection",
                        "the database system is",
                        "server closed the connection",
                        // SQLITE_FULL; PostgreSQL's disk_full (53100).
                        "database or disk is full",
                        "No space left on device",
                    ]
                    .iter()
                    .any(|t| m.contains(t))
                }
            }
            _ => false,
        }
    }
}

/// Records a single-use value (a hash: a client assertion's or a DPoP proof's id) until
/// `expires_at`; false when it was recorded before. The insert itself decides, so of two
/// concurrent uses only one succeeds. Call it in a transaction of its own: on PostgreSQL a
/// refused insert ends the transaction it is in.
pub fn seen_once(conn: &mut AnyConnection, key: &str, expires_at: i64) -> StoreResult<bool> {
    use diesel::result::{DatabaseErrorKind, Error};
    use schema::client_assertions;
    match diesel::insert_into(client_assertions::table)
        .values((
            client_assertions::jti_hash.eq(key),
            client_assertions::expires_at.eq(expires_at),
        ))
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Whether a key that came from outside can be looked up at all: PostgreSQL text cannot
/// hold NUL, so such a key matches nothing instead of failing the query.
pub(crate) fn searchable(key: &str) -> bool {
    !key.contains('\0')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// The file name in a SQLite database URL.
fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://").unwrap_or(url)
}

/// A connection to PostgreSQL. OpenSSL, which libpq loads, is initialised first without
/// its exit-time clean-up: run at exit while a pool's thread is still connecting, that
/// clean-up crashes the process (openssl/openssl#6214). The first initialisation decides.
pub fn connect_postgres(url: &str) -> diesel::ConnectionResult<PgConnection> {
    openssl::init();
    PgConnection::establish(url)
}

/// Opens connections for the pool, choosing the backend from the URL scheme (diesel's
/// own multi-connection `establish` tries each backend in turn and hides the real error).
#[derive(Clone)]
struct Manager {
    url: String,
    backend: Backend,
}

/// A pooled connection, and whether a failure found it dead (its server restarted or went
/// away): the pool then drops it instead of handing it out again. Checked after a failure
/// (`check_after_failure`) instead of with a query on every checkout, which on PostgreSQL
/// cost a round trip per checkout, two or three per token request.
pub struct Pooled {
    conn: AnyConnection,
    dead: bool,
}

impl std::ops::Deref for Pooled {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

impl Pooled {
    /// After a failure on a PostgreSQL connection: whether it still answers. (A SQLite
    /// connection is a file; it cannot go away.)
    fn check_after_failure(&mut self) {
        if matches!(self.conn, AnyConnection::Postgresql(_))
            && self.conn.batch_execute("SELECT 1").is_err()
        {
            self.dead = true;
        }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Pooled;
    type Error = diesel::ConnectionError;

    fn connect(&self) -> Result<Pooled, diesel::ConnectionError> {
        self.open().map(|conn| Pooled { conn, dead: false })
    }

    fn is_valid(&self, conn: &mut Pooled) -> Result<(), diesel::ConnectionError> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)
    }

    /// Dead, or left in a transaction (a failed rollback).
    fn has_broken(&self, conn: &mut Pooled) -> bool {
        use diesel::connection::TransactionManager;
        type Manager = <AnyConnection as Connection>::TransactionManager;
        conn.dead || Manager::is_broken_transaction_manager(&mut conn.conn)
    }
}

impl Manager {
    fn open(&self) -> Result<AnyConnection, diesel::ConnectionError> {
        match self.backend {
            Backend::Postgres => connect_postgres(&self.url).map(AnyConnection::Postgresql),
            Backend::Sqlite => {
                let path = sqlite_path(&self.url);
                let mut conn = SqliteConnection::establish(path)?;
                // A wait instead of an error on a busy writer. NORMAL synchronous: a
                // commit does not wait for the disk inside the write lock; `Db` waits for
                // it afterwards, many commits sharing one fsync (`group_sync`), so that
                // a committed login or token survives a power cut. WAL (for concurrent
                // readers) is persistent and set once in `Db::open`. The savepoints of a
                // batch (`batch`) keep the pages they would roll back to in memory, not in
                // a temporary file.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
                    BUSY_TIMEOUT.as_millis()
                ))
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }
}

/// How long a SQLite writer waits for the write lock before its request is answered 503.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request waits for a database connection unless told otherwise.
pub const DEFAULT_POOL_WAIT: Duration = Duration::from_secs(10);
/// Connections kept open while idle; more are opened under load, up to the pool's size, and
/// closed again after r2d2's idle timeout.
const MIN_IDLE: u32 = 2;

/// A pool of connections to the provider's database. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
    /// SQLite in a file: the shared fsync of its log after commits.
    sync: Option<std::sync::Arc<group_sync::GroupSync>>,
    /// SQLite in a file: the one connection that writes, shared by concurrent
    /// transactions (`batch`).
    batcher: Option<std::sync::Arc<batch::Batcher>>,
    /// Clients as last read (`clients::Cache`).
    clients: std::sync::Arc<clients::Cache>,
}

impl Db {
    /// Opens the database and brings its schema up to date; a SQLite file that does not
    /// exist yet is created (`serve`, `migrate`).
    pub fn open(url: &str, max_connections: u32) -> StoreResult<Db> {
        Self::open_with(url, max_connections, DEFAULT_POOL_WAIT, false)
    }

    /// `open` or `open_existing` (`existing`) with a pool of `size` connections, where a
    /// request waits at most `wait` for a connection (a database that cannot be reached
    /// meanwhile makes it a `503`).
    pub fn open_pool(url: &str, size: u32, wait: Duration, existing: bool) -> StoreResult<Db> {
        Self::open_with(url, size, wait, existing)
    }

    /// Opens a database that exists already and holds the provider's schema, then applies
    /// the pending migrations. Refuses a missing SQLite file (instead of creating an empty
    /// one, as a mistyped path would) and a database whose schema was never created.
    pub fn open_existing(url: &str, max_connections: u32) -> StoreResult<Db> {
        Self::open_with(url, max_connections, DEFAULT_POOL_WAIT, true)
    }

    fn open_with(
        url: &str,
        max_connections: u32,
        wait: Duration,
        existing: bool,
    ) -> StoreResult<Db> {
        let backend = Backend::of_url(url);
        let manager = Manager {
            url: url.to_string(),
            backend,
        };
        let mut sync = None;
        if backend == Backend::Sqlite {
            let path = std::path::PathBuf::from(sqlite_path(url));
            // Created here with mode 0600 before SQLite opens it (SQLite would create it
            // by the umask, often world-readable). SQLite creates the WAL and shared-memory
            // files with the database file's mode, also when it recreates them later; the
            // ones that exist now (an older database) are narrowed explicitly.
            let private = |p: &std::path::Path| {
                crate::files::ensure_private(p).map_err(|e| {
                    StoreError::Connect(diesel::ConnectionError::BadConnection(format!(
                        "{}: {e}",
                        p.display()
                    )))
                })
            };
            if !url.starts_with(":memory:") && !url.starts_with("file:") {
                if existing && !path.is_file() {
                    return Err(StoreError::Missing(path.display().to_string()));
                }
                private(&path)?;
                sync = Some(std::sync::Arc::new(group_sync::GroupSync::new(&path)));
            }
            let mut first = r2d2::ManageConnection::connect(&manager)?;
            first.batch_execute("PRAGMA journal_mode = WAL;")?;
            for suffix in ["-wal", "-shm"] {
                let side = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
                if side.exists() {
                    crate::files::restrict(&side).map_err(|e| {
                        StoreError::Connect(diesel::ConnectionError::BadConnection(format!(
                            "{}: {e}",
                            side.display()
                        )))
                    })?;
                }
            }
        }
        let pool = r2d2::Pool::builder()
            .max_size(max_connections.max(1))
            // No query on every checkout: a connection a restart broke is found by the
            // failure it causes and dropped then (`Pooled`).
            .test_on_check_out(false)
            // Connections are opened as the load needs them, not all at start: each holds
            // its own parsed schema and page cache (and, on PostgreSQL, a server process).
            .min_idle(Some(MIN_IDLE.min(max_connections.max(1))))
            .connection_timeout(wait)
            .build(manager.clone())?;
        let batcher = sync.as_ref().map(|sync| {
            let writer = manager.clone();
            let batcher = std::sync::Arc::new(batch::Batcher::new(
                move || {
                    let mut conn = writer.open()?;
                    // The store's thread checkpoints (`checkpoint`); this is the safety net.
                    conn.batch_execute(&format!(
                        "PRAGMA wal_autocheckpoint = {};",
                        checkpoint::WRITER_AUTOCHECKPOINT
                    ))?;
                    Ok(conn)
                },
                sync.clone(),
            ));
            checkpoint::spawn(
                move || Ok(manager.open()?),
                std::sync::Arc::downgrade(&batcher),
            );
            batcher
        });
        let db = Db {
            pool,
            backend,
            sync,
            batcher,
            clients: Default::default(),
        };
        if existing && !db.has_schema()? {
            return Err(StoreError::NoSchema(redacted(url)));
        }
        db.migrate()?;
        Ok(db)
    }

    /// Whether the migrations have run on this database at least once.
    fn has_schema(&self) -> StoreResult<bool> {
        use diesel::sql_types::BigInt;
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut conn = self.conn()?;
        let count = match &mut **conn {
            AnyConnection::Sqlite(c) => diesel::sql_query(
                "SELECT COUNT(*) AS n FROM sqlite_master \
                 WHERE type = 'table' AND name = '__diesel_schema_migrations'",
            )
            .get_result::<Count>(c)?,
            AnyConnection::Postgresql(c) => diesel::sql_query(
                "SELECT COUNT(*) AS n FROM information_schema.tables \
                 WHERE table_schema = current_schema() \
                 AND table_name = '__diesel_schema_migrations'",
            )
            .get_result::<Count>(c)?,
        };
        Ok(count.n > 0)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn conn(&self) -> StoreResult<r2d2::PooledConnection<Manager>> {
        Ok(self.pool.get()?)
    }

    /// Applies the embedded migrations that have not run yet; returns how many ran.
    pub fn migrate(&self) -> StoreResult<usize> {
        let mut conn = self.conn()?;
        let ran = match &mut **conn {
            AnyConnection::Sqlite(c) => {
                c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len())
            }
            AnyConnection::Postgresql(c) => c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len()),
        };
        ran.map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// Readiness probe: the database answers a trivial query.
    pub fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conn()?;
        let answered = conn.batch_execute("SELECT 1");
        conn.dead = answered.is_err();
        Ok(answered?)
    }

    /// Runs `f` in one transaction. On SQLite the transaction takes the write lock when it
    /// begins (`BEGIN IMMEDIATE`): a transaction that first reads and then writes would
    /// otherwise fail at once with "database is locked" when another writer committed in
    /// between, instead of waiting its turn. On PostgreSQL, statements that must see one
    /// another take row locks (see `lockouts::lock`).
    pub fn tx<T>(&self, f: impl FnOnce(&mut AnyConnection) -> StoreResult<T>) -> StoreResult<T> {
        self.try_tx(f)
    }

    /// `tx` for callers with an error type of their own (a refused administrative change):
    /// any `Err` rolls the transaction back.
    ///
    /// SQLite in a file: concurrent transactions are committed together, in one batch of
    /// the process's writing connection (`batch`), each in a savepoint of its own. It
    /// returns when the batch is committed and on disk; inside `deferring`, as soon as its
    /// own savepoint is released.
    pub fn try_tx<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        let _writes = self.clients.writes();
        match &self.batcher {
            Some(batcher) if !batch::Batcher::nested() => batcher.run(f),
            _ => self.alone(f),
        }
    }

    /// Clients as last read, for client authentication.
    pub fn clients(&self) -> &clients::Cache {
        &self.clients
    }

    /// Follows the changes to clients made elsewhere (`clients::Cache::follow`). When the
    /// count cannot be read, the cache is emptied: clients are then read from the database
    /// until it can.
    pub fn follow_clients(&self) -> StoreResult<()> {
        let followed = self.run(|c| self.clients.follow(c));
        if followed.is_err() {
            self.clients.forget();
        }
        followed
    }

    /// One transaction on a pooled connection: PostgreSQL, SQLite in memory, and a
    /// transaction opened inside another (which then meets SQLite's write lock, held by
    /// the outer one, and fails after the busy timeout instead of waiting for itself).
    fn alone<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        type Manager = <AnyConnection as Connection>::TransactionManager;
        let mut pooled = self.conn()?;
        let conn: &mut AnyConnection = &mut pooled;
        let begun = match conn {
            AnyConnection::Sqlite(sqlite) => {
                AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")
            }
            AnyConnection::Postgresql(_) => Manager::begin_transaction(conn),
        };
        if let Err(e) = begun {
            pooled.check_after_failure();
            return Err(StoreError::from(e).into());
        }
        match f(conn) {
            Ok(value) => {
                if let Err(e) = Manager::commit_transaction(conn) {
                    pooled.check_after_failure();
                    return Err(StoreError::from(e).into());
                }
                drop(pooled);
                self.durable()?;
                Ok(value)
            }
            Err(e) => {
                // The original error says more than a failed rollback would.
                if Manager::rollback_transaction(conn).is_err() {
                    pooled.check_after_failure();
                }
                Err(e)
            }
        }
    }

    /// Runs `f` on a pooled connection, outside any explicit transaction. What it wrote is
    /// on disk when it returns.
    pub fn run<T>(&self, f: impl FnOnce(&mut AnyConnection) -> StoreResult<T>) -> StoreResult<T> {
        let _writes = self.clients.writes();
        self.run_alone(f)
    }

    fn run_alone<T>(&self, f: impl FnOnce(&mut AnyConnection) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = self.conn()?;
        if self.sync.is_none() {
            let result = f(&mut conn);
            if result.is_err() {
                conn.check_after_failure();
            }
            return result;
        }
        let before = changes_so_far(&mut conn)?;
        let result = f(&mut conn);
        let changed = changes_so_far(&mut conn)? != before;
        drop(conn);
        if changed {
            self.durable()?;
        }
        result
    }

    /// Waits until the commits made so far are on disk (SQLite in a file; PostgreSQL's
    /// commit is durable when it returns).
    fn durable(&self) -> StoreResult<()> {
        match &self.sync {
            Some(s) => s.wait_durable().map_err(StoreError::Sync),
            None => Ok(()),
        }
    }
}

diesel::define_sql_function! {
    /// SQLite's count of the rows a connection has changed since it was opened.
    fn total_changes() -> diesel::sql_types::BigInt;
}

/// Rows this SQLite connection has changed since it was opened (a typed call, so that the
/// statement is prepared once per connection and cached).
fn changes_so_far(conn: &mut AnyConnection) -> StoreResult<i64> {
    match conn {
        AnyConnection::Sqlite(c) => Ok(diesel::select(total_changes()).get_result(c)?),
        AnyConnection::Postgresql(_) => Ok(0),
    }
}

/// A database URL fit for a message: without a password.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Deletes rows that can no longer be used (expired codes, tokens, transactions,
/// sessions, client assertion ids). Returns the number of rows removed.
pub fn purge_expired(conn: &mut AnyConnection, now: i64) -> StoreResult<usize> {
    use schema::*;
    let mut n = 0;
    n += diesel::delete(authorization_codes::table.filter(authorization_codes::expires_at.lt(now)))
        .execute(conn)?;
    n += diesel::delete(login_transactions::table.filter(login_transactions::expires_at.lt(now)))
        .execute(conn)?;
    n += diesel::delete(client_assertions::table.filter(client_assertions::expires_at.lt(now)))
        .execute(conn)?;
    n += diesel::delete(challenges::table.filter(challenges::expires_at.lt(now))).execute(conn)?;
    n += diesel::delete(access_tokens::table.filter(access_tokens::expires_at.lt(now)))
        .execute(conn)?;
    n += diesel::delete(refresh_tokens::table.filter(refresh_tokens::expires_at.lt(now)))
        .execute(conn)?;
    n += crate::store::registrations::purge_drafts(conn, now)?;
    n += denials::purge(conn, now)?;
    n += crate::store::pushed_requests::purge(conn, now)?;
    n += crate::store::registration_tokens::purge(conn, now)?;
    n += diesel::delete(
        browser_sessions::table.filter(
            browser_sessions::expires_at
                .lt(now)
                .or(browser_sessions::idle_expires_at.lt(now)),
        ),
    )
    .execute(conn)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite busy past its timeout is a passing failure: `503` with `Retry-After`, not a
    /// server error.
    #[test]
    fn a_busy_database_is_transient_and_answered_503() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("busy.sqlite");
        let path = path.to_str().unwrap();
        let mut holder = SqliteConnection::establish(path).unwrap();
        holder
            .batch_execute("CREATE TABLE t (x INTEGER); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")
            .unwrap();
        let mut other = SqliteConnection::establish(path).unwrap();
        other.batch_execute("PRAGMA busy_timeout = 0;").unwrap();
        let e = StoreError::from(other.batch_execute("BEGIN IMMEDIATE;").unwrap_err());
        assert!(e.is_transient(), "{e}");
        let answer = crate::oidc::error::OidcError::from(e);
        assert_eq!(answer.code.status(), 503);
        assert_eq!(answer.retry_after, Some(1));
        // So is a full disk: the statement failed and wrote nothing.
        let mut small = SqliteConnection::establish(":memory:").unwrap();
        small
            .batch_execute("PRAGMA max_page_count = 2; CREATE TABLE t (x BLOB);")
            .unwrap();
        let full = small
            .batch_execute("INSERT INTO t VALUES (zeroblob(100000));")
            .unwrap_err();
        let e = StoreError::from(full);
        assert!(e.to_string().contains("full"), "{e}");
        assert!(e.is_transient(), "{e}");
        // A real fault stays a server error.
        let e = StoreError::from(other.batch_execute("SELECT * FROM nowhere;").unwrap_err());
        assert!(!e.is_transient(), "{e}");
        assert_eq!(crate::oidc::error::OidcError::from(e).code.status(), 500);
    }
}
