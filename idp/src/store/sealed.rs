//! The values sealed directly by the key-encryption key, for re-sealing them under a new
//! one (`keys::rotation`): signing keys, the audit checkpoint keys and the per-user data
//! keys. (Everything else secret is sealed by a user's data key or a key derived from the
//! key-encryption key, which a rotation keeps.)

use super::schema::{audit_keys, signing_keys, user_keys};
use super::{AnyConnection, StoreResult};
use diesel::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealed {
    SigningKey,
    AuditKey,
    UserKey,
}

impl Sealed {
    pub const ALL: [Sealed; 3] = [Sealed::SigningKey, Sealed::AuditKey, Sealed::UserKey];

    /// Every row of this kind: its key (kid, user id) and the sealed value.
    pub fn all(self, conn: &mut AnyConnection) -> StoreResult<Vec<(String, Vec<u8>)>> {
        Ok(match self {
            Sealed::SigningKey => signing_keys::table
                .select((signing_keys::kid, signing_keys::private_key))
                .order(signing_keys::kid)
                .load(conn)?,
            Sealed::AuditKey => audit_keys::table
                .select((audit_keys::kid, audit_keys::private_key))
                .order(audit_keys::kid)
                .load(conn)?,
            Sealed::UserKey => user_keys::table
                .select((user_keys::user_id, user_keys::wrapped))
                .order(user_keys::user_id)
                .load(conn)?,
        })
    }

    /// Replaces the sealed value of the row `id`.
    pub fn replace(self, conn: &mut AnyConnection, id: &str, sealed: &[u8]) -> StoreResult<()> {
        match self {
            Sealed::SigningKey => diesel::update(signing_keys::table.find(id))
                .set(signing_keys::private_key.eq(sealed))
                .execute(conn)?,
            Sealed::AuditKey => diesel::update(audit_keys::table.find(id))
                .set(audit_keys::private_key.eq(sealed))
                .execute(conn)?,
            Sealed::UserKey => diesel::update(user_keys::table.find(id))
                .set(user_keys::wrapped.eq(sealed))
                .execute(conn)?,
        };
        Ok(())
    }
}
