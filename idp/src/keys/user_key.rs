//! Per-user data keys: each citizen's secrets (TOTP seeds, later biometric templates) are
//! sealed with a key of their own, itself sealed with the key-encryption key.

use super::kek::{Kek, KekError};
use crate::store::{AnyConnection, StoreError, user_keys};

#[derive(Debug, thiserror::Error)]
pub enum UserKeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the user's data key cannot be unwrapped: {0}")]
    Unwrap(#[from] KekError),
}

pub(crate) fn context(user_id: &str) -> String {
    format!("user-key:{user_id}")
}

/// The user's data key, created on first use.
pub fn get_or_create(
    conn: &mut AnyConnection,
    kek: &Kek,
    user_id: &str,
    now: i64,
) -> Result<Kek, UserKeyError> {
    if let Some(k) = existing(conn, kek, user_id)? {
        return Ok(k);
    }
    let key = crate::crypto::random_bytes::<32>();
    user_keys::insert(conn, user_id, &kek.seal(&key, &context(user_id))?, now)?;
    Ok(Kek::from_bytes(&key))
}

/// The user's data key, if they have one.
pub fn existing(
    conn: &mut AnyConnection,
    kek: &Kek,
    user_id: &str,
) -> Result<Option<Kek>, UserKeyError> {
    let Some(wrapped) = user_keys::find(conn, user_id)? else {
        return Ok(None);
    };
    let raw = kek.open(&wrapped, &context(user_id))?;
    let key: [u8; 32] = raw.as_slice().try_into().map_err(|_| KekError::Open)?;
    Ok(Some(Kek::from_bytes(&key)))
}
