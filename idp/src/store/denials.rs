//! Revoked JWT access tokens (RFC 9068), by what they name: the token (`jti`), the grant
//! it was issued under, or its client. A row lives as long as a token it denies could.

use super::schema::token_denials;
use super::{AnyConnection, StoreResult};
use diesel::prelude::*;

/// The longest lifetime an access token may have (what administrators can set): a denial
/// of a grant or a client lasts that long, by when every token it denies has expired.
pub const LONGEST_ACCESS_TOKEN_TTL: i64 = 24 * 3600;

/// Until when a denial of a grant or a client, made at `now`, must last.
pub fn outliving_tokens(now: i64) -> i64 {
    now + LONGEST_ACCESS_TOKEN_TTL
}

/// What a denial names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied<'a> {
    /// One token, by its `jti`.
    Token(&'a str),
    /// Every token issued under a grant (a refresh-token family, a consent, a session).
    Grant(&'a str),
    /// Every token issued to a client (a client removed).
    Client(&'a str),
}

impl Denied<'_> {
    /// The key stored and looked up.
    pub fn key(self) -> String {
        match self {
            Denied::Token(j) => format!("t:{j}"),
            Denied::Grant(g) => format!("g:{g}"),
            Denied::Client(c) => format!("c:{c}"),
        }
    }
}

/// Records that the tokens `denied` names are revoked until `expires_at`. Recording it
/// twice keeps the later expiry.
pub fn insert(
    conn: &mut AnyConnection,
    denied: Denied,
    expires_at: i64,
    now: i64,
) -> StoreResult<()> {
    use diesel::result::{DatabaseErrorKind, Error};
    let key = denied.key();
    let id = key.as_str();
    // In a savepoint: on PostgreSQL a failed insert would abort the caller's transaction.
    let first = conn.transaction(|c| {
        diesel::insert_into(token_denials::table)
            .values((
                token_denials::id.eq(id),
                token_denials::expires_at.eq(expires_at),
                token_denials::created_at.eq(now),
            ))
            .execute(c)
    });
    match first {
        Ok(_) => Ok(()),
        // Denied before (or at this moment by another transaction): keep the later expiry.
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
            diesel::update(
                token_denials::table
                    .find(id)
                    .filter(token_denials::expires_at.lt(expires_at)),
            )
            .set((
                token_denials::expires_at.eq(expires_at),
                token_denials::created_at.eq(now),
            ))
            .execute(conn)?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The denials recorded at or after `since` and still in force at `now`.
pub fn recorded_since(
    conn: &mut AnyConnection,
    since: i64,
    now: i64,
) -> StoreResult<Vec<(String, i64)>> {
    Ok(token_denials::table
        .filter(token_denials::created_at.ge(since))
        .filter(token_denials::expires_at.gt(now))
        .select((token_denials::id, token_denials::expires_at))
        .load(conn)?)
}

pub fn purge(conn: &mut AnyConnection, now: i64) -> StoreResult<usize> {
    Ok(
        diesel::delete(token_denials::table.filter(token_denials::expires_at.le(now)))
            .execute(conn)?,
    )
}
