//! Citizens' accounts and their credentials (one row per factor instance).

use super::schema::{credentials, users};
use super::{AnyConnection, StoreResult};
use authenticators::FactorKind;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;
use serde::{Deserialize, Serialize};
use std::io::Write;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    /// Also the OIDC subject identifier.
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// For one-time codes by SMS (E.164, e.g. +36301234567).
    pub phone: Option<String>,
    /// A code sent to `phone` came back (or an administrator vouched for it).
    pub phone_verified: bool,
    /// The postal address, released as the `address` claim.
    pub address: Option<Address>,
}

/// A postal address as the `address` claim carries it (OIDC Core 5.1.1): every part is
/// optional, `formatted` and `street_address` may have several lines (separated by `\n`).
/// Stored as this JSON object in `users.address`, so that the claim is what was stored.
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    AsExpression,
    FromSqlRow,
    utoipa::ToSchema,
)]
#[diesel(sql_type = Text)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// The full address as it is written on an envelope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    /// House number, street name, post office box, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    /// City or locality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    /// State, province, prefecture or region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// The country's name or code, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl Address {
    /// Each part by its claim member name.
    pub fn parts(&self) -> [(&'static str, Option<&str>); 6] {
        [
            ("formatted", self.formatted.as_deref()),
            ("street_address", self.street_address.as_deref()),
            ("locality", self.locality.as_deref()),
            ("region", self.region.as_deref()),
            ("postal_code", self.postal_code.as_deref()),
            ("country", self.country.as_deref()),
        ]
    }

    /// The address on one line, for a page: `formatted` when there is one, otherwise the
    /// parts in their usual order (street, postal code and locality, region, country).
    pub fn one_line(&self) -> String {
        let lines = |s: &str| {
            s.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(f) = &self.formatted {
            return lines(f);
        }
        let place = [self.postal_code.as_deref(), self.locality.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        [
            self.street_address.as_deref().map(lines),
            Some(place).filter(|p| !p.is_empty()),
            self.region.clone(),
            self.country.clone(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
    }
}

// The column holds the JSON text; diesel's multi-backend connection needs the conversion
// for each backend it dispatches to.
impl FromSql<Text, Sqlite> for Address {
    fn from_sql(
        bytes: <Sqlite as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        let json = <String as FromSql<Text, Sqlite>>::from_sql(bytes)?;
        Ok(serde_json::from_str(&json)?)
    }
}

impl FromSql<Text, Pg> for Address {
    fn from_sql(
        bytes: <Pg as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        let json = <String as FromSql<Text, Pg>>::from_sql(bytes)?;
        Ok(serde_json::from_str(&json)?)
    }
}

impl FromSql<Text, super::MultiBackend> for Address {
    fn from_sql(
        bytes: <super::MultiBackend as diesel::backend::Backend>::RawValue<'_>,
    ) -> deserialize::Result<Self> {
        bytes.from_sql::<Address, Text>()
    }
}

impl ToSql<Text, Sqlite> for Address {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(serde_json::to_string(self)?);
        Ok(IsNull::No)
    }
}

impl ToSql<Text, Pg> for Address {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(serde_json::to_string(self)?.as_bytes())?;
        Ok(IsNull::No)
    }
}

impl ToSql<Text, super::MultiBackend> for Address {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, super::MultiBackend>) -> serialize::Result {
        out.set_value((Text, self));
        Ok(IsNull::No)
    }
}

/// What a credential row holds; stored by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// An argon2id hash (PHC string).
    Password,
    /// A TOTP secret, sealed with the citizen's data key; `counter` is the last step used.
    Totp,
    /// A TOTP secret waiting for its first code (not yet a factor).
    TotpPending,
    /// The hash of one single-use recovery code.
    RecoveryCode,
    /// A WebAuthn passkey (webauthn-rs's JSON), with its signature counter.
    Passkey,
    /// A face template (the matcher's format), sealed with the citizen's data key.
    Face,
    /// A voice template, sealed likewise.
    Voice,
}

impl CredentialKind {
    pub const ALL: [CredentialKind; 7] = [
        CredentialKind::Password,
        CredentialKind::Totp,
        CredentialKind::TotpPending,
        CredentialKind::RecoveryCode,
        CredentialKind::Passkey,
        CredentialKind::Face,
        CredentialKind::Voice,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CredentialKind::Password => "password",
            CredentialKind::Totp => "totp",
            CredentialKind::TotpPending => "totp-pending",
            CredentialKind::RecoveryCode => "recovery",
            CredentialKind::Passkey => "webauthn",
            CredentialKind::Face => "face",
            CredentialKind::Voice => "voice",
        }
    }

    pub fn parse(name: &str) -> Option<CredentialKind> {
        CredentialKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The factor it lets its holder prove; none while it is pending.
    pub fn factor(self) -> Option<FactorKind> {
        match self {
            CredentialKind::Password => Some(FactorKind::Password),
            CredentialKind::Totp => Some(FactorKind::Totp),
            CredentialKind::TotpPending => None,
            CredentialKind::RecoveryCode => Some(FactorKind::RecoveryCode),
            CredentialKind::Passkey => Some(FactorKind::WebAuthn),
            CredentialKind::Face => Some(FactorKind::Face),
            CredentialKind::Voice => Some(FactorKind::Voice),
        }
    }
}

impl TryFrom<String> for CredentialKind {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        CredentialKind::parse(&name).ok_or_else(|| format!("unknown credential kind {name}"))
    }
}

impl From<CredentialKind> for String {
    fn from(k: CredentialKind) -> String {
        k.name().to_string()
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = credentials)]
pub struct Credential {
    pub id: String,
    pub user_id: String,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub kind: CredentialKind,
    pub label: Option<String>,
    pub data: Vec<u8>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// For factors that must not accept the same value twice (the last TOTP step).
    pub counter: Option<i64>,
}

pub const PASSWORD: CredentialKind = CredentialKind::Password;

pub fn find(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<User>> {
    if !super::searchable(id) {
        return Ok(None);
    }
    unique!(users::table.find(id).select(User::as_select()), conn)
}

pub fn find_by_username(conn: &mut AnyConnection, username: &str) -> StoreResult<Option<User>> {
    if !super::searchable(username) {
        return Ok(None);
    }
    unique!(
        users::table
            .filter(users::username.eq(username))
            .select(User::as_select()),
        conn
    )
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>);

/// The accounts with this e-mail address (compared without regard to case; indexed); at
/// most two, enough to tell whether it is unique.
pub fn find_all_by_email(conn: &mut AnyConnection, email: &str) -> StoreResult<Vec<User>> {
    if !super::searchable(email) {
        return Ok(Vec::new());
    }
    Ok(users::table
        .filter(lower(users::email).eq(email.to_lowercase()))
        .limit(2)
        .select(User::as_select())
        .load(conn)?)
}

pub fn list(conn: &mut AnyConnection) -> StoreResult<Vec<User>> {
    Ok(users::table
        .order(users::username)
        .select(User::as_select())
        .load(conn)?)
}

/// Inserts a user with a password credential; returns false when the username is taken.
pub fn insert_with_password(
    conn: &mut AnyConnection,
    user: &User,
    credential: &Credential,
) -> StoreResult<bool> {
    if find_by_username(conn, &user.username)?.is_some() {
        return Ok(false);
    }
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)?;
    diesel::insert_into(credentials::table)
        .values(credential.clone())
        .execute(conn)?;
    Ok(true)
}

pub fn credential(
    conn: &mut AnyConnection,
    user_id: &str,
    kind: CredentialKind,
) -> StoreResult<Option<Credential>> {
    Ok(credentials::table
        .filter(credentials::user_id.eq(user_id))
        .filter(credentials::kind.eq(kind.name()))
        .select(Credential::as_select())
        .first(conn)
        .optional()?)
}

pub fn credentials_of(conn: &mut AnyConnection, user_id: &str) -> StoreResult<Vec<Credential>> {
    Ok(credentials::table
        .filter(credentials::user_id.eq(user_id))
        .order(credentials::created_at)
        .select(Credential::as_select())
        .load(conn)?)
}

pub fn insert_credential(conn: &mut AnyConnection, c: &Credential) -> StoreResult<()> {
    diesel::insert_into(credentials::table)
        .values(c.clone())
        .execute(conn)?;
    Ok(())
}

/// Removes the user's credentials of one kind; returns how many there were.
pub fn delete_credentials(
    conn: &mut AnyConnection,
    user_id: &str,
    kind: CredentialKind,
) -> StoreResult<usize> {
    Ok(diesel::delete(
        credentials::table
            .filter(credentials::user_id.eq(user_id))
            .filter(credentials::kind.eq(kind.name())),
    )
    .execute(conn)?)
}

pub fn delete_credential(conn: &mut AnyConnection, id: &str) -> StoreResult<bool> {
    Ok(diesel::delete(credentials::table.find(id)).execute(conn)? > 0)
}

/// Moves a credential's counter forward, only if it is still below `counter`: of two
/// concurrent uses of the same TOTP step, only one succeeds.
pub fn advance_counter(
    conn: &mut AnyConnection,
    id: &str,
    counter: i64,
    now: i64,
) -> StoreResult<bool> {
    let changed = diesel::update(
        credentials::table.find(id).filter(
            credentials::counter
                .is_null()
                .or(credentials::counter.lt(counter)),
        ),
    )
    .set((
        credentials::counter.eq(counter),
        credentials::last_used_at.eq(now),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Replaces a credential's stored data (a WebAuthn counter moved forward).
pub fn set_data(conn: &mut AnyConnection, id: &str, data: &[u8], now: i64) -> StoreResult<()> {
    diesel::update(credentials::table.find(id))
        .set((
            credentials::data.eq(data),
            credentials::last_used_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Removes one credential of a user; false when the user has no such credential.
pub fn delete_credential_of(
    conn: &mut AnyConnection,
    user_id: &str,
    id: &str,
) -> StoreResult<bool> {
    Ok(diesel::delete(
        credentials::table
            .filter(credentials::id.eq(id))
            .filter(credentials::user_id.eq(user_id)),
    )
    .execute(conn)?
        > 0)
}

pub fn set_kind(conn: &mut AnyConnection, id: &str, kind: CredentialKind) -> StoreResult<()> {
    diesel::update(credentials::table.find(id))
        .set(credentials::kind.eq(kind.name()))
        .execute(conn)?;
    Ok(())
}

pub fn touch_credential(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<()> {
    diesel::update(credentials::table.find(id))
        .set(credentials::last_used_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Writes a user's name and contact data (and `updated_at`); false when there is no such
/// user.
pub fn update_profile(conn: &mut AnyConnection, user: &User) -> StoreResult<bool> {
    Ok(diesel::update(users::table.find(&user.id))
        .set((
            users::name.eq(&user.name),
            users::email.eq(&user.email),
            users::email_verified.eq(user.email_verified),
            users::phone.eq(&user.phone),
            users::phone_verified.eq(user.phone_verified),
            users::address.eq(&user.address),
            users::updated_at.eq(user.updated_at),
        ))
        .execute(conn)?
        > 0)
}

pub fn set_disabled(
    conn: &mut AnyConnection,
    id: &str,
    disabled: bool,
    now: i64,
) -> StoreResult<bool> {
    Ok(diesel::update(users::table.find(id))
        .set((users::disabled.eq(disabled), users::updated_at.eq(now)))
        .execute(conn)?
        > 0)
}

/// Removes an account; its credentials, sessions, consents, grants, challenges and data
/// key go with it (foreign keys).
pub fn delete(conn: &mut AnyConnection, id: &str) -> StoreResult<bool> {
    Ok(diesel::delete(users::table.find(id)).execute(conn)? > 0)
}

/// Deletes an account and everything of it: what cascades from the account row (its
/// credentials, data key, sessions, grants, consents, registrations) and what is kept
/// under its id elsewhere (login transactions, lock counters).
pub fn delete_account(conn: &mut AnyConnection, id: &str) -> StoreResult<bool> {
    super::transactions::delete_of_user(conn, id)?;
    super::lockouts::delete_subject(conn, id)?;
    delete(conn, id)
}

pub fn credential_by_id(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<Credential>> {
    unique!(
        credentials::table.find(id).select(Credential::as_select()),
        conn
    )
}

/// Replaces a credential's stored data (a template moved to a new transform).
pub fn replace_data(conn: &mut AnyConnection, id: &str, data: &[u8]) -> StoreResult<()> {
    diesel::update(credentials::table.find(id))
        .set(credentials::data.eq(data))
        .execute(conn)?;
    Ok(())
}

/// Every credential of one kind (the face templates for the 1:N index).
pub fn credentials_of_kind(
    conn: &mut AnyConnection,
    kind: CredentialKind,
) -> StoreResult<Vec<Credential>> {
    Ok(credentials::table
        .filter(credentials::kind.eq(kind.name()))
        .order(credentials::id)
        .select(Credential::as_select())
        .load(conn)?)
}

/// The language (a code such as `hu`) the citizen last signed in with.
pub fn language(conn: &mut AnyConnection, user_id: &str) -> StoreResult<Option<String>> {
    use super::schema::user_languages;
    unique!(
        user_languages::table
            .find(user_id)
            .select(user_languages::lang),
        conn
    )
}

/// Remembers the language the citizen signed in with (written only when it changed).
pub fn set_language(
    conn: &mut AnyConnection,
    user_id: &str,
    lang: &str,
    now: i64,
) -> StoreResult<()> {
    use super::schema::user_languages;
    use diesel::result::{DatabaseErrorKind, Error};
    if language(conn, user_id)?.as_deref() == Some(lang) {
        return Ok(());
    }
    let changed = diesel::update(user_languages::table.find(user_id))
        .set((
            user_languages::lang.eq(lang),
            user_languages::updated_at.eq(now),
        ))
        .execute(conn)?;
    if changed > 0 {
        return Ok(());
    }
    // In a savepoint: a sign-in at the same moment may insert the row first (on
    // PostgreSQL a failed insert would abort the caller's transaction); its language stands.
    let first = conn.transaction(|c| {
        diesel::insert_into(user_languages::table)
            .values((
                user_languages::user_id.eq(user_id),
                user_languages::lang.eq(lang),
                user_languages::updated_at.eq(now),
            ))
            .execute(c)
    });
    match first {
        Ok(_) | Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The ids of every credential of `kind`.
pub fn credential_ids_of_kind(
    conn: &mut AnyConnection,
    kind: CredentialKind,
) -> StoreResult<Vec<String>> {
    Ok(credentials::table
        .filter(credentials::kind.eq(kind.name()))
        .select(credentials::id)
        .load(conn)?)
}

/// A value that changes whenever a credential of `kind` is added or removed: how many
/// there are, and the newest's creation time and id.
pub fn kind_version(
    conn: &mut AnyConnection,
    kind: CredentialKind,
) -> StoreResult<(i64, Option<i64>, Option<String>)> {
    use diesel::dsl::{count_star, max};
    let of_kind = credentials::table.filter(credentials::kind.eq(kind.name()));
    let n: i64 = of_kind.select(count_star()).first(conn)?;
    let newest: Option<i64> = of_kind.select(max(credentials::created_at)).first(conn)?;
    let last_id: Option<String> = of_kind.select(max(credentials::id)).first(conn)?;
    Ok((n, newest, last_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::for_tests;

    fn raw_address(c: &mut AnyConnection, id: &str) -> StoreResult<Option<String>> {
        Ok(users::table
            .find(id)
            .select(users::address)
            .first::<Option<String>>(c)?)
    }

    #[test]
    fn an_address_is_kept_as_the_json_object_of_its_parts() {
        let (_dir, svc) = for_tests();
        let mut anna = svc.db.run(|c| find(c, "u-anna")).unwrap().unwrap();
        assert_eq!(anna.address, None);
        assert_eq!(svc.db.run(|c| raw_address(c, "u-anna")).unwrap(), None);
        anna.address = Some(Address {
            street_address: Some("Fő utca 1.\n2. emelet".into()),
            locality: Some("Budapest".into()),
            country: Some("HU".into()),
            ..Default::default()
        });
        assert!(svc.db.tx(|c| update_profile(c, &anna)).unwrap());
        assert_eq!(
            svc.db.run(|c| raw_address(c, "u-anna")).unwrap().as_deref(),
            Some(
                r#"{"street_address":"Fő utca 1.\n2. emelet","locality":"Budapest","country":"HU"}"#
            ),
            "the claim's JSON, without the parts there are not"
        );
        let read = svc.db.run(|c| find(c, "u-anna")).unwrap().unwrap();
        assert_eq!(read.address, anna.address);
        let listed = svc.db.run(list).unwrap();
        assert_eq!(listed[0].address, anna.address);

        anna.address = None;
        assert!(svc.db.tx(|c| update_profile(c, &anna)).unwrap());
        assert_eq!(svc.db.run(|c| raw_address(c, "u-anna")).unwrap(), None);
    }

    #[test]
    fn an_address_reads_on_one_line() {
        let parts = Address {
            street_address: Some("Fő utca 1.\n2. emelet 3.".into()),
            locality: Some("Budapest".into()),
            postal_code: Some("1011".into()),
            country: Some("HU".into()),
            ..Default::default()
        };
        assert_eq!(
            parts.one_line(),
            "Fő utca 1., 2. emelet 3., 1011 Budapest, HU"
        );
        let written = Address {
            formatted: Some("Kossuth tér 2.\n4024 Debrecen\n".into()),
            ..parts
        };
        assert_eq!(written.one_line(), "Kossuth tér 2., 4024 Debrecen");
        let region = Address {
            region: Some("Almaty".into()),
            ..Default::default()
        };
        assert_eq!(region.one_line(), "Almaty");
    }
}
