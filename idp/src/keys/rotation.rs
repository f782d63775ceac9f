//! Rotation of the key-encryption key, without downtime:
//!
//! 1. Make the new key (`idp keys new-kek --file NEW`) and give it to every instance as
//!    `extra_kek_file`, the current key staying `kek_file`; restart them one by one. Each
//!    can now open what the new key will seal.
//! 2. Swap the two (`kek_file = NEW`, `extra_kek_file = OLD`) and restart them one by
//!    one: they seal under the new key and still open what the old one sealed.
//! 3. `idp keys rotate-kek` re-seals under the new key everything sealed directly by the
//!    old one (`reseal`), in one transaction.
//! 4. Remove `extra_kek_file`, restart them one by one, and destroy the old key.
//!
//! The keys derived from the key-encryption key (client secret hashes, pairwise subjects,
//! DPoP nonces, biometric transforms) are pinned in the database (`Kek::pinned`) and
//! re-sealed with the rest, so they do not change.

use super::kek::{Kek, KekError};
use crate::store::sealed::Sealed;
use crate::store::{AnyConnection, StoreError, settings};

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Key(#[from] KekError),
    #[error("{what} {id} opens with neither key-encryption key")]
    Unreadable { what: &'static str, id: String },
}

/// What `reseal` found and moved.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Values that were sealed by the extra key and now are by the current one.
    pub moved: usize,
    /// Values already sealed by the current key.
    pub already: usize,
}

/// The context each kind of value is sealed in (what `seal` bound it to).
fn context(kind: Sealed, id: &str) -> String {
    match kind {
        Sealed::SigningKey | Sealed::AuditKey => id.to_string(),
        Sealed::UserKey => super::user_key::context(id),
    }
}

fn what(kind: Sealed) -> &'static str {
    match kind {
        Sealed::SigningKey => "signing key",
        Sealed::AuditKey => "audit checkpoint key",
        Sealed::UserKey => "the data key of user",
    }
}

/// Re-seals under `kek`'s current key every value sealed directly by a key-encryption
/// key, and the pinned derived keys. Call it in one transaction: a value that neither key
/// opens stops the whole rotation, and nothing is changed.
pub fn reseal(conn: &mut AnyConnection, kek: &Kek, now: i64) -> Result<Resealed, RotationError> {
    let mut done = Resealed::default();
    for kind in Sealed::ALL {
        for (id, sealed) in kind.all(conn)? {
            // A signing or audit key made in the security module is not sealed: nothing
            // to do.
            if kind != Sealed::UserKey && super::module_label(&sealed).is_some() {
                continue;
            }
            let ctx = context(kind, &id);
            let (plain, by_extra) =
                kek.open_telling(&sealed, &ctx)
                    .map_err(|_| RotationError::Unreadable {
                        what: what(kind),
                        id: id.clone(),
                    })?;
            if !by_extra {
                done.already += 1;
                continue;
            }
            kind.replace(conn, &id, &kek.seal(&plain, &ctx)?)?;
            done.moved += 1;
        }
    }
    let derived = crate::crypto::b64url(&kek.seal_derived()?);
    settings::put(conn, super::kek::DERIVED_SETTING, &derived, now)?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Db;

    const NOW: i64 = 1_800_000_000;

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path().join("r.sqlite").to_str().unwrap(), 2).unwrap();
        (dir, db)
    }

    fn add_user(c: &mut AnyConnection, id: &str) -> crate::store::StoreResult<()> {
        let user = crate::store::users::User {
            id: id.into(),
            username: id.into(),
            email: None,
            email_verified: false,
            name: None,
            disabled: false,
            created_at: NOW,
            updated_at: NOW,
            phone: None,
            phone_verified: false,
            address: None,
        };
        let password = crate::store::users::Credential {
            id: format!("c-{id}"),
            user_id: id.into(),
            kind: crate::store::users::PASSWORD,
            label: None,
            data: b"not a real hash".to_vec(),
            created_at: NOW,
            last_used_at: None,
            counter: None,
        };
        crate::store::users::insert_with_password(c, &user, &password)?;
        Ok(())
    }

    /// A signing key, an audit checkpoint key and a user's data key, all sealed by `kek`.
    fn seal_some(db: &Db, kek: &Kek) -> Kek {
        db.tx(|c| {
            add_user(c, "u-1")?;
            crate::keys::ensure_active(c, kek, NOW).unwrap();
            crate::audit::checkpoint::rotate(c, kek, NOW)?;
            Ok(crate::keys::user_key::get_or_create(c, kek, "u-1", NOW).unwrap())
        })
        .unwrap()
    }

    /// Everything `seal_some` sealed opens with `kek`, and the user's key is `user_key`.
    fn opens_all(db: &Db, kek: &Kek, user_key: &Kek) -> bool {
        db.run(|c| {
            let signing = crate::keys::KeySet::load(c, kek, NOW).is_ok();
            let mut every_row = true;
            for kind in Sealed::ALL {
                for (id, sealed) in kind.all(c)? {
                    every_row &= kek.open(&sealed, &context(kind, &id)).is_ok();
                }
            }
            let user = crate::keys::user_key::existing(c, kek, "u-1")
                .ok()
                .flatten()
                .is_some_and(|k| {
                    let sealed = user_key.seal(b"totp seed", "totp:1").unwrap();
                    k.open(&sealed, "totp:1").is_ok()
                });
            Ok(signing && every_row && user)
        })
        .unwrap()
    }

    #[test]
    fn a_rotation_reseals_everything_and_keeps_the_derived_keys() {
        let (_dir, db) = db();
        let old = Kek::from_bytes(&[1; 32]).pinned(&db, NOW).unwrap();
        let user_key = seal_some(&db, &old);
        let secret_hash = old.client_secrets().hash("a client secret of length");
        let pairwise = old.pairwise();
        let new_key = Kek::from_bytes(&[2; 32]);
        assert!(!opens_all(&db, &new_key, &user_key), "the new key alone");

        // Step 2: the new key seals, the old one still opens.
        let both = new_key
            .clone()
            .with_extra(old.clone())
            .pinned(&db, NOW)
            .unwrap();
        assert!(opens_all(&db, &both, &user_key));
        // Two signing keys (ES256 and RS256), an audit key, a user key.
        let rows = db
            .run(|c| {
                let mut n = 0;
                for kind in Sealed::ALL {
                    n += kind.all(c)?.len();
                }
                Ok(n)
            })
            .unwrap();
        assert_eq!(rows, 4);
        let done = db.tx(|c| Ok(reseal(c, &both, NOW))).unwrap().unwrap();
        assert_eq!(
            done,
            Resealed {
                moved: 4,
                already: 0
            }
        );
        let again = db.tx(|c| Ok(reseal(c, &both, NOW))).unwrap().unwrap();
        assert_eq!(
            again,
            Resealed {
                moved: 0,
                already: 4
            }
        );

        // Step 4: the new key alone opens everything; the old one nothing.
        let new_alone = Kek::from_bytes(&[2; 32]).pinned(&db, NOW).unwrap();
        assert!(opens_all(&db, &new_alone, &user_key));
        assert!(!opens_all(&db, &Kek::from_bytes(&[1; 32]), &user_key));
        assert!(
            Kek::from_bytes(&[1; 32]).pinned(&db, NOW).is_err(),
            "the old key no longer opens the derived keys"
        );
        // Client secrets and pairwise subjects are unchanged.
        assert_eq!(
            new_alone.client_secrets().hash("a client secret of length"),
            secret_hash
        );
        assert_eq!(new_alone.pairwise().0, pairwise.0);
        assert_ne!(
            Kek::from_bytes(&[2; 32])
                .client_secrets()
                .hash("a client secret of length"),
            secret_hash,
            "not pinned, the new key would derive other keys"
        );
    }

    #[test]
    fn an_extra_key_before_the_derived_keys_are_pinned_is_refused() {
        let (_dir, db) = db();
        let both = Kek::from_bytes(&[2; 32]).with_extra(Kek::from_bytes(&[1; 32]));
        assert!(matches!(both.pinned(&db, NOW), Err(KekError::NotPinned)));
    }

    #[test]
    fn a_value_neither_key_opens_stops_the_rotation_and_changes_nothing() {
        let (_dir, db) = db();
        let old = Kek::from_bytes(&[1; 32]).pinned(&db, NOW).unwrap();
        seal_some(&db, &old);
        // A user key sealed by a third key, which the rotation cannot read.
        db.tx(|c| {
            add_user(c, "u-2")?;
            crate::keys::user_key::get_or_create(c, &Kek::from_bytes(&[3; 32]), "u-2", NOW)
                .unwrap();
            Ok(())
        })
        .unwrap();
        let both = Kek::from_bytes(&[2; 32]).with_extra(old.clone());
        let both = both.pinned(&db, NOW).unwrap();
        let refused = db.try_tx(|c| reseal(c, &both, NOW));
        assert!(
            matches!(&refused, Err(RotationError::Unreadable { id, .. }) if id == "u-2"),
            "{refused:?}"
        );
        // Nothing was re-sealed: the old key alone still opens what it sealed.
        let old_alone = Kek::from_bytes(&[1; 32]);
        db.run(|c| {
            assert!(crate::keys::KeySet::load(c, &old_alone, NOW).is_ok());
            let user = crate::keys::user_key::existing(c, &old_alone, "u-1");
            assert!(user.is_ok_and(|k| k.is_some()));
            Ok(())
        })
        .unwrap();
    }
}
