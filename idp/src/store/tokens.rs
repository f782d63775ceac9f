//! Grants and the credentials issued under them. Every code, access token and refresh
//! token carries its grant id, so revoking a grant (a replayed code, a reused refresh
//! token, a logout) is one statement. Bearer secrets are stored only as hashes.

use super::schema::{access_tokens, authorization_codes, grants, refresh_tokens};
use super::{AnyConnection, StoreResult, denials};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = grants)]
pub struct Grant {
    pub id: String,
    pub client_id: String,
    /// None for `client_credentials`.
    pub user_id: Option<String>,
    pub scope: String,
    pub sid: Option<String>,
    pub acr: Option<String>,
    /// JSON array of RFC 8176 values.
    pub amr: String,
    pub auth_time: Option<i64>,
    /// The `claims` request parameter (JSON), for UserInfo.
    pub claims: Option<String>,
    pub revoked: bool,
    pub created_at: i64,
    /// The person's `sub` as the client sees it (`oidc::subject`), fixed when the grant
    /// was made; none for `client_credentials` (and for grants made before subjects were
    /// kept, whose clients are all `public`).
    pub subject: Option<String>,
    /// The thumbprint of the DPoP key the grant's tokens are bound to (RFC 9449).
    pub jkt: Option<String>,
    /// The thumbprint of the TLS client certificate its access tokens are bound to (RFC
    /// 8705 3).
    pub x5t: Option<String>,
}

impl Grant {
    pub fn amr_list(&self) -> Vec<String> {
        serde_json::from_str(&self.amr).unwrap_or_default()
    }

    /// The `sub` of the person behind the grant, as its client sees it.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref().or(self.user_id.as_deref())
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = authorization_codes)]
pub struct AuthorizationCode {
    pub code_hash: String,
    pub grant_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub consumed: bool,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = access_tokens)]
pub struct AccessToken {
    pub token_hash: String,
    pub grant_id: String,
    pub scope: String,
    pub revoked: bool,
    pub created_at: i64,
    pub expires_at: i64,
    /// The certificate it is bound to (RFC 8705 3), fixed when it is issued.
    pub x5t: Option<String>,
    /// The DPoP key it is bound to (RFC 9449 6), fixed when it is issued.
    pub jkt: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    pub token_hash: String,
    pub grant_id: String,
    pub parent_hash: Option<String>,
    pub scope: String,
    pub rotated: bool,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn insert_grant(conn: &mut AnyConnection, g: &Grant) -> StoreResult<()> {
    super::fixed::Insert(g).execute(conn)
}

pub fn find_grant(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<Grant>> {
    unique!(grants::table.find(id).select(Grant::as_select()), conn)
}

/// Revokes a grant: its refresh tokens and stored access tokens stop working at once, its
/// JWT access tokens as soon as each instance has read the denial (within a second).
pub fn revoke_grant(conn: &mut AnyConnection, grant_id: &str, now: i64) -> StoreResult<()> {
    revoke_grants(conn, vec![grant_id.to_string()], now)?;
    Ok(())
}

/// Revokes what was issued in a browser session that is ending (RP-initiated logout).
/// Binds a grant's tokens to a DPoP key from now on.
pub fn bind_grant(conn: &mut AnyConnection, grant_id: &str, jkt: &str) -> StoreResult<()> {
    diesel::update(grants::table.find(grant_id))
        .set(grants::jkt.eq(jkt))
        .execute(conn)?;
    Ok(())
}

/// Binds a grant's access tokens to a TLS client certificate from now on (or to none).
pub fn bind_grant_certificate(
    conn: &mut AnyConnection,
    grant_id: &str,
    x5t: Option<&str>,
) -> StoreResult<()> {
    diesel::update(grants::table.find(grant_id))
        .set(grants::x5t.eq(x5t))
        .execute(conn)?;
    Ok(())
}

/// The grants issued in a session that are still in force.
pub fn live_grants_of_session(conn: &mut AnyConnection, sid: &str) -> StoreResult<Vec<Grant>> {
    Ok(grants::table
        .filter(grants::sid.eq(sid))
        .filter(grants::revoked.eq(false))
        .order(grants::created_at.asc())
        .select(Grant::as_select())
        .load(conn)?)
}

pub fn revoke_grants_of_session(
    conn: &mut AnyConnection,
    sid: &str,
    now: i64,
) -> StoreResult<usize> {
    let ids = grants::table
        .filter(grants::sid.eq(sid))
        .filter(grants::revoked.eq(false))
        .select(grants::id)
        .load(conn)?;
    revoke_grants(conn, ids, now)
}

/// The services a user's sessions signed in to: (sid, client id) of each grant still in
/// force, oldest first.
pub fn clients_of_sessions(
    conn: &mut AnyConnection,
    user_id: &str,
) -> StoreResult<Vec<(String, String)>> {
    let rows: Vec<(Option<String>, String)> = grants::table
        .filter(grants::user_id.eq(user_id))
        .filter(grants::revoked.eq(false))
        .filter(grants::sid.is_not_null())
        .order(grants::created_at.asc())
        .select((grants::sid, grants::client_id))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(sid, client)| sid.map(|s| (s, client)))
        .collect())
}

/// Revokes everything a client holds for a user (consent withdrawn).
pub fn revoke_grants_of_user_client(
    conn: &mut AnyConnection,
    user_id: &str,
    client_id: &str,
    now: i64,
) -> StoreResult<usize> {
    let ids = grants::table
        .filter(grants::user_id.eq(user_id))
        .filter(grants::client_id.eq(client_id))
        .filter(grants::revoked.eq(false))
        .select(grants::id)
        .load(conn)?;
    revoke_grants(conn, ids, now)
}

/// Revokes every grant of a user that is not revoked yet (an account disabled): its
/// refresh tokens and access tokens stop working. Returns how many were live.
pub fn revoke_grants_of_user(
    conn: &mut AnyConnection,
    user_id: &str,
    now: i64,
) -> StoreResult<usize> {
    let ids = grants::table
        .filter(grants::user_id.eq(user_id))
        .filter(grants::revoked.eq(false))
        .select(grants::id)
        .load(conn)?;
    revoke_grants(conn, ids, now)
}

/// Marks the grants revoked and denies their JWT access tokens; returns how many.
fn revoke_grants(conn: &mut AnyConnection, ids: Vec<String>, now: i64) -> StoreResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::update(grants::table.filter(grants::id.eq_any(&ids)))
        .set(grants::revoked.eq(true))
        .execute(conn)?;
    for id in &ids {
        denials::insert(
            conn,
            denials::Denied::Grant(id),
            denials::outliving_tokens(now),
            now,
        )?;
    }
    Ok(ids.len())
}

pub fn insert_code(conn: &mut AnyConnection, c: &AuthorizationCode) -> StoreResult<()> {
    diesel::insert_into(authorization_codes::table)
        .values(c)
        .execute(conn)?;
    Ok(())
}

pub enum Redemption<T> {
    /// First use: the credential and its grant.
    Fresh(T, Box<Grant>),
    /// Used before: the grant it belongs to, which the caller revokes.
    Replayed(String),
    Unknown,
}

pub enum CodeRedemption {
    /// Used up now: the code and its grant.
    Redeemed(AuthorizationCode, Grant),
    /// Not used up, because the presentation does not match its binding; the caller
    /// tells which part.
    Refused(AuthorizationCode, Grant),
    /// Used before: the grant it belongs to, which the caller revokes.
    Replayed(String),
    Unknown,
}

/// What a redemption must match for the code to be used up.
pub struct CodeBinding<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    /// The S256 transform of the presented verifier, or None when none was presented.
    pub challenge: Option<&'a str>,
    /// The thumbprint of the DPoP key the request proved, if any: a code whose grant is
    /// bound to a key (`dpop_jkt`) needs that one.
    pub jkt: Option<&'a str>,
    pub now: i64,
}

/// Marks a code consumed and returns it, exactly once, and only when the presentation
/// matches what it is bound to (client, redirect URI, PKCE, DPoP key, expiry): a code presented
/// wrongly stays usable by its rightful client. The update with every check in its
/// condition comes first, so that two concurrent redemptions cannot both see it
/// unconsumed and the transaction holds the write lock from its first statement.
pub fn consume_code(
    conn: &mut AnyConnection,
    code_hash: &str,
    binding: &CodeBinding,
) -> StoreResult<CodeRedemption> {
    use diesel::dsl::not;
    let key = binding.jkt.unwrap_or("");
    // This code's own grant, looked up by key, if it belongs to the client (a subquery over
    // all the client's grants would grow with every token the client was ever issued).
    let its_grant: Option<String> = unique!(
        authorization_codes::table
            .find(code_hash)
            .select(authorization_codes::grant_id),
        conn,
    )?;
    let owned = grants::table
        .filter(grants::id.eq(its_grant.unwrap_or_default()))
        .filter(grants::client_id.eq(binding.client_id))
        .filter(
            grants::jkt
                .eq(key)
                .assume_not_null()
                .or(grants::jkt.is_null()),
        )
        .select(grants::id);
    // With a verifier, the stored challenge must be its transform; without one, there
    // must be no stored challenge.
    let pkce = authorization_codes::code_challenge
        .eq(binding.challenge)
        .assume_not_null()
        .or(authorization_codes::code_challenge.is_null().and(
            binding
                .challenge
                .is_none()
                .into_sql::<diesel::sql_types::Bool>(),
        ));
    let claimed = diesel::update(
        authorization_codes::table
            .find(code_hash)
            .filter(not(authorization_codes::consumed))
            .filter(authorization_codes::expires_at.gt(binding.now))
            .filter(authorization_codes::redirect_uri.eq(binding.redirect_uri))
            .filter(authorization_codes::grant_id.eq_any(owned))
            .filter(pkce),
    )
    .set(authorization_codes::consumed.eq(true))
    .execute(conn)?;
    let row: Option<(AuthorizationCode, Grant)> = unique!(
        authorization_codes::table
            .inner_join(grants::table)
            .filter(authorization_codes::code_hash.eq(code_hash))
            .select((AuthorizationCode::as_select(), Grant::as_select())),
        conn,
    )?;
    Ok(match row {
        None => CodeRedemption::Unknown,
        Some((code, grant)) if claimed == 1 => CodeRedemption::Redeemed(code, grant),
        Some((code, _)) if code.consumed => CodeRedemption::Replayed(code.grant_id),
        Some((code, grant)) => CodeRedemption::Refused(code, grant),
    })
}

pub fn insert_access_token(conn: &mut AnyConnection, t: &AccessToken) -> StoreResult<()> {
    super::fixed::Insert(t).execute(conn)
}

/// The access token with this hash and its grant, whatever their state.
pub fn find_access_token(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> StoreResult<Option<(AccessToken, Grant)>> {
    unique!(
        access_tokens::table
            .inner_join(grants::table)
            .filter(access_tokens::token_hash.eq(token_hash))
            .select((AccessToken::as_select(), Grant::as_select())),
        conn,
    )
}

pub fn revoke_access_token(conn: &mut AnyConnection, token_hash: &str) -> StoreResult<()> {
    diesel::update(access_tokens::table.find(token_hash))
        .set(access_tokens::revoked.eq(true))
        .execute(conn)?;
    Ok(())
}

pub fn insert_refresh_token(conn: &mut AnyConnection, t: &RefreshToken) -> StoreResult<()> {
    super::fixed::Insert(t).execute(conn)
}

pub fn find_refresh_token(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> StoreResult<Option<(RefreshToken, Grant)>> {
    unique!(
        refresh_tokens::table
            .inner_join(grants::table)
            .filter(refresh_tokens::token_hash.eq(token_hash))
            .select((RefreshToken::as_select(), Grant::as_select())),
        conn,
    )
}

/// What a token request used up in its transaction, by hash.
#[derive(Debug, Clone, Copy)]
pub enum Spent<'a> {
    Code(&'a str),
    /// A refresh token it rotated.
    RefreshToken(&'a str),
    /// Nothing single-use: a refresh token that is not rotated.
    Nothing,
}

/// Undoes a committed redemption of `grant_id` whose tokens never reached the client:
/// what it `spent` is usable again, and the access and refresh tokens made for it (by
/// hash) are deleted. Nothing is given back once the grant is revoked (a replay in the
/// meantime): its code or token stays used, so that a later one is recorded as a replay.
/// Returns whether it gave back.
pub fn withdraw(
    conn: &mut AnyConnection,
    grant_id: &str,
    spent: Spent,
    access_hash: Option<&str>,
    refresh_hash: Option<&str>,
) -> StoreResult<bool> {
    if find_grant(conn, grant_id)?.is_none_or(|g| g.revoked) {
        return Ok(false);
    }
    match spent {
        Spent::Code(hash) => diesel::update(authorization_codes::table.find(hash))
            .set(authorization_codes::consumed.eq(false))
            .execute(conn)?,
        Spent::RefreshToken(hash) => diesel::update(refresh_tokens::table.find(hash))
            .set(refresh_tokens::rotated.eq(false))
            .execute(conn)?,
        Spent::Nothing => 0,
    };
    if let Some(hash) = access_hash {
        diesel::delete(access_tokens::table.find(hash)).execute(conn)?;
    }
    if let Some(hash) = refresh_hash {
        diesel::delete(refresh_tokens::table.find(hash)).execute(conn)?;
    }
    Ok(true)
}

/// Marks a refresh token rotated and returns it, exactly once; a token that was already
/// rotated comes back as `Replayed`.
pub fn rotate_refresh_token(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> StoreResult<Redemption<RefreshToken>> {
    super::fixed::statement! {
        fn claim(conn, token_hash: str as Text) =
            "UPDATE refresh_tokens SET rotated = TRUE WHERE rotated = FALSE AND token_hash = "
            token_hash;
    }
    let claimed = claim(conn, token_hash)?;
    Ok(match find_refresh_token(conn, token_hash)? {
        None => Redemption::Unknown,
        Some((t, grant)) if claimed == 1 => Redemption::Fresh(t, Box::new(grant)),
        Some((t, _)) => Redemption::Replayed(t.grant_id),
    })
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A grant of client `c` to user `u` for `openid`, bound to `jkt` and `x5t`, for unit
    /// tests.
    pub fn grant(jkt: Option<&str>, x5t: Option<&str>) -> Grant {
        Grant {
            id: "g".into(),
            client_id: "c".into(),
            user_id: Some("u".into()),
            scope: "openid".into(),
            sid: None,
            acr: None,
            amr: "[]".into(),
            auth_time: None,
            claims: None,
            revoked: false,
            created_at: 0,
            subject: None,
            jkt: jkt.map(str::to_string),
            x5t: x5t.map(str::to_string),
        }
    }
}
