//! Citizens' consents to biometric sign-in, kept as the record of what was agreed.

use super::schema::biometric_consents;
use super::{AnyConnection, StoreResult};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, PartialEq, Eq, serde::Serialize)]
#[diesel(table_name = biometric_consents)]
pub struct BiometricConsent {
    pub id: String,
    pub user_id: String,
    /// `face` or `voice` (a `FactorKind` name).
    pub modality: String,
    /// The version of the text the citizen agreed to.
    pub text_version: String,
    pub purpose: String,
    pub granted_at: i64,
    pub withdrawn_at: Option<i64>,
    /// JSON: given in person before a clerk (`witness`), a guardian's consent for a minor.
    pub circumstances: Option<String>,
}

pub fn insert(conn: &mut AnyConnection, c: &BiometricConsent) -> StoreResult<()> {
    diesel::insert_into(biometric_consents::table)
        .values(c)
        .execute(conn)?;
    Ok(())
}

/// The consent in force for a modality, if any.
pub fn active(
    conn: &mut AnyConnection,
    user_id: &str,
    modality: &str,
) -> StoreResult<Option<BiometricConsent>> {
    Ok(biometric_consents::table
        .filter(biometric_consents::user_id.eq(user_id))
        .filter(biometric_consents::modality.eq(modality))
        .filter(biometric_consents::withdrawn_at.is_null())
        .order(biometric_consents::granted_at.desc())
        .select(BiometricConsent::as_select())
        .first(conn)
        .optional()?)
}

/// Every consent the citizen gave, newest first (the history they may see).
pub fn of_user(conn: &mut AnyConnection, user_id: &str) -> StoreResult<Vec<BiometricConsent>> {
    Ok(biometric_consents::table
        .filter(biometric_consents::user_id.eq(user_id))
        .order(biometric_consents::granted_at.desc())
        .select(BiometricConsent::as_select())
        .load(conn)?)
}

/// Marks the consents in force for a modality withdrawn; returns how many there were.
pub fn withdraw(
    conn: &mut AnyConnection,
    user_id: &str,
    modality: &str,
    now: i64,
) -> StoreResult<usize> {
    Ok(diesel::update(
        biometric_consents::table
            .filter(biometric_consents::user_id.eq(user_id))
            .filter(biometric_consents::modality.eq(modality))
            .filter(biometric_consents::withdrawn_at.is_null()),
    )
    .set(biometric_consents::withdrawn_at.eq(now))
    .execute(conn)?)
}
