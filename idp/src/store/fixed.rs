//! Statements of fixed text for the hottest writes of the token endpoint. Diesel looks up a
//! prepared statement by the query's type only when the query's text cannot vary; the
//! insert of a row with optional columns can (on SQLite a `None` leaves its column out),
//! so diesel writes the whole SQL text on every call just to find the statement again.
//! Inserting the token rows with these took a fifth off the instructions of a
//! `client_credentials` request (`bench/profile`).
//! An `Insert` names the columns it is given (every field of its row) and binds `NULL` for
//! a `None`, so it is prepared once per connection and found again by its type.
//!
//! Diesel prepares every `UPDATE` anew (its changeset could leave columns out), which
//! SQLite parses and plans each time: 30 k instructions for the refresh token's rotation.
//! `execute_fixed!` runs an update whose text cannot vary as a statement prepared once per
//! connection and found again by a type of its call site.

use super::{AnyConnection, StoreResult};
use diesel::query_builder::{QueryFragment, QueryId};
use diesel::{PgConnection, QueryResult, RunQueryDsl, SqliteConnection};

/// The insert of one row of `T` (one of the types `insert!` names) with every column.
pub(crate) struct Insert<'a, T>(pub &'a T);

impl<T: 'static> QueryId for Insert<'_, T> {
    type QueryId = Insert<'static, T>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<T, C> RunQueryDsl<C> for Insert<'_, T> {}

impl<T> Insert<'_, T>
where
    for<'b> Insert<'b, T>: QueryFragment<diesel::sqlite::Sqlite> + QueryFragment<diesel::pg::Pg>,
    T: 'static,
{
    pub(crate) fn execute(self, conn: &mut AnyConnection) -> StoreResult<()> {
        let rows: QueryResult<usize> = match conn {
            AnyConnection::Sqlite(c) => RunQueryDsl::<SqliteConnection>::execute(self, c),
            AnyConnection::Postgresql(c) => RunQueryDsl::<PgConnection>::execute(self, c),
        };
        rows?;
        Ok(())
    }
}

/// A query whose text is the same on every call (no optional value, no list of binds),
/// found in the connection's statement cache by `Site`, a type of its own call site
/// (`execute_fixed!` makes one). Not for a generic function whose query depends on its
/// type parameters: every instance of it would share the one statement.
pub(crate) struct Fixed<Site, Q>(Q, std::marker::PhantomData<Site>);

impl<Site, Q> Fixed<Site, Q> {
    pub(crate) fn new(query: Q) -> Self {
        Fixed(query, std::marker::PhantomData)
    }
}

impl<Site: 'static, Q> QueryId for Fixed<Site, Q> {
    type QueryId = Site;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<Site, Q, DB> QueryFragment<DB> for Fixed<Site, Q>
where
    Q: QueryFragment<DB>,
    DB: diesel::backend::Backend,
{
    fn walk_ast<'b>(&'b self, out: diesel::query_builder::AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }

    /// Its text does not vary, so one prepared statement serves every call.
    fn is_safe_to_cache_prepared(&self, _: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Site, Q, C> RunQueryDsl<C> for Fixed<Site, Q> {}

/// Executes `$query`, a statement whose text is the same on every call, on the backend's
/// own connection, prepared once per connection; the number of rows it changed.
macro_rules! execute_fixed {
    ($query:expr, $conn:expr $(,)?) => {{
        use diesel::RunQueryDsl as _;
        struct FixedSite;
        let query = $crate::store::fixed::Fixed::<FixedSite, _>::new($query);
        let rows = match $conn {
            $crate::store::AnyConnection::Sqlite(c) => query.execute(c),
            $crate::store::AnyConnection::Postgresql(c) => query.execute(c),
        };
        rows.map_err($crate::store::StoreError::from)
    }};
}
pub(crate) use execute_fixed;

/// `QueryFragment` for `Insert<T>` on both backends: `INSERT INTO table (columns) VALUES
/// (binds)`, every field of `T` bound with its SQL type, in the order given.
macro_rules! insert {
    ($row:path => $table:ident { $($field:ident: $sql:ty),+ $(,)? }) => {
        // Compile errors otherwise: every field of the row is listed, every name is a
        // column of the table, and its SQL type is the column's.
        const _: () = {
            fn check<C: diesel::Expression<SqlType = S>, S>(_: C) {}
            #[allow(dead_code)]
            fn every_field(row: &$row) {
                let $row { $($field: _),+ } = row;
            }
            #[allow(dead_code)]
            fn types() {
                $(check::<_, $sql>($crate::store::schema::$table::$field);)+
            }
        };
        $crate::store::fixed::insert!(@backend diesel::sqlite::Sqlite, $row, $table, $($field: $sql),+);
        $crate::store::fixed::insert!(@backend diesel::pg::Pg, $row, $table, $($field: $sql),+);
    };
    (@backend $db:ty, $row:path, $table:ident, $($field:ident: $sql:ty),+) => {
        impl diesel::query_builder::QueryFragment<$db> for $crate::store::fixed::Insert<'_, $row> {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, $db>,
            ) -> diesel::QueryResult<()> {
                out.push_sql(concat!(
                    "INSERT INTO ", stringify!($table), " (",
                    $crate::store::fixed::insert!(@columns $($field),+),
                    ") VALUES ("
                ));
                let mut first = true;
                $(
                    if !std::mem::take(&mut first) {
                        out.push_sql(", ");
                    }
                    out.push_bind_param::<$sql, _>(&self.0.$field)?;
                )+
                out.push_sql(")");
                Ok(())
            }
        }
    };
    (@columns $first:ident $(, $rest:ident)*) => {
        concat!(stringify!($first) $(, ", ", stringify!($rest))*)
    };
}
pub(crate) use insert;

use diesel::sql_types::{BigInt, Bool, Nullable, Text};

insert!(super::tokens::Grant => grants {
    id: Text,
    client_id: Text,
    user_id: Nullable<Text>,
    scope: Text,
    sid: Nullable<Text>,
    acr: Nullable<Text>,
    amr: Text,
    auth_time: Nullable<BigInt>,
    claims: Nullable<Text>,
    revoked: Bool,
    created_at: BigInt,
    subject: Nullable<Text>,
    jkt: Nullable<Text>,
    x5t: Nullable<Text>,
});

insert!(super::tokens::AccessToken => access_tokens {
    token_hash: Text,
    grant_id: Text,
    scope: Text,
    revoked: Bool,
    created_at: BigInt,
    expires_at: BigInt,
    x5t: Nullable<Text>,
    jkt: Nullable<Text>,
});

insert!(super::tokens::RefreshToken => refresh_tokens {
    token_hash: Text,
    grant_id: Text,
    parent_hash: Nullable<Text>,
    scope: Text,
    rotated: Bool,
    created_at: BigInt,
    expires_at: BigInt,
});
