//! Logins in progress: one row per `/authorize` that needs the citizen, holding the
//! validated request so that the login pages never re-parse the original query.

use super::schema::login_transactions;
use super::{AnyConnection, StoreResult};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = login_transactions)]
pub struct LoginTransaction {
    pub id: String,
    /// Hash of the browser-binding cookie: the transaction is only usable from the
    /// browser that started it.
    pub browser_hash: String,
    pub csrf: String,
    /// What the login is for (`login::flow::Purpose`), as JSON.
    pub request: String,
    /// Set once the citizen has authenticated in this transaction.
    pub user_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// The step the transaction waits for (`login::flow::Stage`), as JSON; none before
    /// its first page.
    pub stage: Option<String>,
}

pub fn insert(conn: &mut AnyConnection, t: &LoginTransaction) -> StoreResult<()> {
    diesel::insert_into(login_transactions::table)
        .values(t)
        .execute(conn)?;
    Ok(())
}

pub fn find_live(
    conn: &mut AnyConnection,
    id: &str,
    now: i64,
) -> StoreResult<Option<LoginTransaction>> {
    if !super::searchable(id) {
        return Ok(None);
    }
    let t: Option<LoginTransaction> = unique!(
        login_transactions::table
            .find(id)
            .select(LoginTransaction::as_select()),
        conn
    )?;
    Ok(t.filter(|t| now < t.expires_at))
}

pub fn set_user(conn: &mut AnyConnection, id: &str, user_id: &str) -> StoreResult<()> {
    diesel::update(login_transactions::table.find(id))
        .set(login_transactions::user_id.eq(user_id))
        .execute(conn)?;
    Ok(())
}

pub fn set_stage(conn: &mut AnyConnection, id: &str, stage: &str) -> StoreResult<()> {
    diesel::update(login_transactions::table.find(id))
        .set(login_transactions::stage.eq(stage))
        .execute(conn)?;
    Ok(())
}

/// Moves a transaction from stage `from` to `to`; false when it was no longer at `from`
/// (another request moved it first), so that a stage serves once.
pub fn replace_stage(
    conn: &mut AnyConnection,
    id: &str,
    from: &str,
    to: &str,
) -> StoreResult<bool> {
    let n = diesel::update(
        login_transactions::table
            .find(id)
            .filter(login_transactions::stage.eq(from)),
    )
    .set(login_transactions::stage.eq(to))
    .execute(conn)?;
    Ok(n == 1)
}

/// Ends a transaction; returns false when it was already gone (a double submit).
pub fn delete(conn: &mut AnyConnection, id: &str) -> StoreResult<bool> {
    Ok(diesel::delete(login_transactions::table.find(id)).execute(conn)? > 0)
}

/// Ends the logins in progress of a user (an account disabled or removed).
pub fn delete_of_user(conn: &mut AnyConnection, user_id: &str) -> StoreResult<usize> {
    Ok(
        diesel::delete(login_transactions::table.filter(login_transactions::user_id.eq(user_id)))
            .execute(conn)?,
    )
}
