//! Citizens' single sign-on sessions in the browser. The cookie holds a random secret;
//! the row is keyed by its hash, and `sid` is the public identifier put in ID tokens.

use super::schema::browser_sessions;
use super::{AnyConnection, StoreResult};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = browser_sessions)]
pub struct BrowserSession {
    pub id: String,
    pub sid: String,
    pub user_id: String,
    pub acr: String,
    /// JSON array of RFC 8176 values.
    pub amr: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub last_seen: i64,
    pub idle_expires_at: i64,
    pub expires_at: i64,
    /// JSON array of the factor names completed in this session.
    pub factors: String,
    /// Where it was signed in (`login::session::Device` as JSON).
    pub device: Option<String>,
}

impl BrowserSession {
    pub fn is_live(&self, now: i64) -> bool {
        now < self.idle_expires_at && now < self.expires_at
    }

    pub fn factor_list(&self) -> Vec<authenticators::FactorKind> {
        let names: Vec<String> = serde_json::from_str(&self.factors).unwrap_or_default();
        names
            .iter()
            .filter_map(|n| authenticators::FactorKind::parse(n))
            .collect()
    }
}

/// The live session with this id hash, if any.
pub fn find_live(
    conn: &mut AnyConnection,
    id_hash: &str,
    now: i64,
) -> StoreResult<Option<BrowserSession>> {
    let s: Option<BrowserSession> = unique!(
        browser_sessions::table
            .find(id_hash)
            .select(BrowserSession::as_select()),
        conn,
    )?;
    Ok(s.filter(|s| s.is_live(now)))
}

pub fn insert(conn: &mut AnyConnection, s: &BrowserSession) -> StoreResult<()> {
    diesel::insert_into(browser_sessions::table)
        .values(s)
        .execute(conn)?;
    Ok(())
}

/// Moves the idle deadline forward after activity.
pub fn extend(conn: &mut AnyConnection, id_hash: &str, now: i64, idle: i64) -> StoreResult<()> {
    diesel::update(browser_sessions::table.find(id_hash))
        .set((
            browser_sessions::last_seen.eq(now),
            browser_sessions::idle_expires_at.eq(now + idle),
        ))
        .execute(conn)?;
    Ok(())
}

/// The user's live sessions, newest first.
pub fn of_user(
    conn: &mut AnyConnection,
    user_id: &str,
    now: i64,
) -> StoreResult<Vec<BrowserSession>> {
    Ok(browser_sessions::table
        .filter(browser_sessions::user_id.eq(user_id))
        .filter(browser_sessions::expires_at.gt(now))
        .filter(browser_sessions::idle_expires_at.gt(now))
        .order(browser_sessions::created_at.desc())
        .select(BrowserSession::as_select())
        .load(conn)?)
}

/// Whose session `sid` is, if it exists.
pub fn owner_of_sid(conn: &mut AnyConnection, sid: &str) -> StoreResult<Option<String>> {
    if !super::searchable(sid) {
        return Ok(None);
    }
    unique!(
        browser_sessions::table
            .filter(browser_sessions::sid.eq(sid))
            .select(browser_sessions::user_id),
        conn
    )
}

/// Ends one of the user's sessions by its public id; false when there is none.
pub fn delete_by_sid(conn: &mut AnyConnection, user_id: &str, sid: &str) -> StoreResult<bool> {
    Ok(diesel::delete(
        browser_sessions::table
            .filter(browser_sessions::user_id.eq(user_id))
            .filter(browser_sessions::sid.eq(sid)),
    )
    .execute(conn)?
        > 0)
}

pub fn delete(conn: &mut AnyConnection, id_hash: &str) -> StoreResult<Option<BrowserSession>> {
    let s = unique!(
        browser_sessions::table
            .find(id_hash)
            .select(BrowserSession::as_select()),
        conn,
    )?;
    diesel::delete(browser_sessions::table.find(id_hash)).execute(conn)?;
    Ok(s)
}

/// Ends every session of the user but `keep` (an id hash); returns the ended sessions'
/// public ids.
pub fn delete_others(
    conn: &mut AnyConnection,
    user_id: &str,
    keep: &str,
) -> StoreResult<Vec<String>> {
    let others = browser_sessions::table
        .filter(browser_sessions::user_id.eq(user_id))
        .filter(browser_sessions::id.ne(keep));
    let sids = others.select(browser_sessions::sid).load(conn)?;
    diesel::delete(others).execute(conn)?;
    Ok(sids)
}

/// Ends every session of a user; returns the ended sessions' public ids.
pub fn delete_of_user(conn: &mut AnyConnection, user_id: &str) -> StoreResult<Vec<String>> {
    let all = browser_sessions::table.filter(browser_sessions::user_id.eq(user_id));
    let sids = all.select(browser_sessions::sid).load(conn)?;
    diesel::delete(all).execute(conn)?;
    Ok(sids)
}
