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
//! SQLite parses and plans each time: 24 k instructions for the refresh token's rotation,
//! as much again for sealing its audit entry. `statement!` writes such a statement's text
//! itself, prepared once per connection.

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

/// A function running one statement of fixed text, prepared once per connection and found
/// again in its statement cache by a type of its own. A wrapper around diesel's `UPDATE`
/// cannot do it: diesel asks the query, through a reference that does not pass the
/// question on, whether it may be cached, and an `UPDATE` says no. So the text is written
/// here, in parts: string literals, and the names of the parameters bound in between.
///
/// ```ignore
/// statement! {
///     /// What it does.
///     pub fn mark(conn, id: str as Text, at: i64 as BigInt) =
///         "UPDATE t SET at = " at " WHERE id = " id;
/// }
/// ```
/// makes `pub fn mark(conn: &mut AnyConnection, id: &str, at: &i64) -> QueryResult<usize>`
/// (the number of rows changed).
macro_rules! statement {
    ($(#[$meta:meta])* $vis:vis fn $name:ident(conn $(, $field:ident: $ty:ty as $sql:ident)* $(,)?) = $($part:tt)+) => {
        $(#[$meta])*
        $vis fn $name(
            conn: &mut $crate::store::AnyConnection,
            $($field: &$ty),*
        ) -> diesel::QueryResult<usize> {
            use diesel::RunQueryDsl as _;
            struct Site;
            struct Query<'a> {
                $($field: $crate::store::fixed::Bind<'a, $ty, diesel::sql_types::$sql>,)*
                _binds: std::marker::PhantomData<&'a ()>,
            }
            impl diesel::query_builder::QueryId for Query<'_> {
                type QueryId = Site;
                const HAS_STATIC_QUERY_ID: bool = true;
            }
            impl<C> diesel::RunQueryDsl<C> for Query<'_> {}
            $crate::store::fixed::statement!(@backend diesel::sqlite::Sqlite, $($part)+);
            $crate::store::fixed::statement!(@backend diesel::pg::Pg, $($part)+);
            let query = Query {
                $($field: $crate::store::fixed::Bind::new($field),)*
                _binds: std::marker::PhantomData };
            match conn {
                $crate::store::AnyConnection::Sqlite(c) => query.execute(c),
                $crate::store::AnyConnection::Postgresql(c) => query.execute(c),
            }
        }
    };
    (@backend $db:ty, $($part:tt)+) => {
        impl diesel::query_builder::QueryFragment<$db> for Query<'_> {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, $db>,
            ) -> diesel::QueryResult<()> {
                $($crate::store::fixed::statement!(@part out, self, $part);)+
                Ok(())
            }
        }
    };
    // The `;` that may end the text.
    (@part $out:ident, $self:ident, ;) => {};
    (@part $out:ident, $self:ident, $text:literal) => {
        $out.push_sql($text);
    };
    (@part $out:ident, $self:ident, $field:ident) => {
        diesel::query_builder::QueryFragment::walk_ast(&$self.$field, $out.reborrow())?;
    };
}
pub(crate) use statement;

/// A parameter of a `statement!`, bound with its SQL type.
pub(crate) struct Bind<'a, T: ?Sized, ST>(&'a T, std::marker::PhantomData<ST>);

impl<'a, T: ?Sized, ST> Bind<'a, T, ST> {
    pub(crate) fn new(value: &'a T) -> Self {
        Bind(value, std::marker::PhantomData)
    }
}

impl<T, ST, DB> QueryFragment<DB> for Bind<'_, T, ST>
where
    T: diesel::serialize::ToSql<ST, DB> + ?Sized,
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<ST>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.push_bind_param::<ST, T>(self.0)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::connection::{Connection, InstrumentationEvent, SimpleConnection};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    statement! {
        fn mark(conn, id: i64 as BigInt, note: str as Text) =
            "UPDATE t SET note = " note " WHERE id = " id;
    }

    /// A `statement!` is prepared on its first run only; the rows it changes are counted.
    #[test]
    fn a_statement_is_prepared_once_per_connection() {
        let mut sqlite = SqliteConnection::establish(":memory:").unwrap();
        sqlite
            .batch_execute("CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT); INSERT INTO t VALUES (1, NULL), (2, NULL);")
            .unwrap();
        let (run, prepared) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let counts = (run.clone(), prepared.clone());
        sqlite.set_instrumentation(move |event: InstrumentationEvent<'_>| match event {
            InstrumentationEvent::StartQuery { .. } => {
                counts.0.fetch_add(1, Ordering::Relaxed);
            }
            InstrumentationEvent::CacheQuery { .. } => {
                counts.1.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        });
        let mut conn = AnyConnection::Sqlite(sqlite);
        assert_eq!(mark(&mut conn, &1, "first").unwrap(), 1);
        assert_eq!(mark(&mut conn, &2, "second").unwrap(), 1);
        assert_eq!(mark(&mut conn, &3, "nobody").unwrap(), 0);
        assert_eq!(run.load(Ordering::Relaxed), 3);
        assert_eq!(
            prepared.load(Ordering::Relaxed),
            1,
            "prepared once, then found again"
        );
        let AnyConnection::Sqlite(sqlite) = &mut conn else {
            unreachable!()
        };
        let notes: Vec<Option<String>> =
            diesel::dsl::sql::<diesel::sql_types::Nullable<Text>>("SELECT note FROM t ORDER BY id")
                .load(sqlite)
                .unwrap();
        assert_eq!(notes, [Some("first".into()), Some("second".into())]);
    }
}
