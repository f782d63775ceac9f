//! The provider's signing keys: rotate, retire, list. Rotating also gives the audit log a
//! new checkpoint key (the old ones stay published).

use super::{Actor, AdminError, AdminResult, Context, Resource, Subject, invalid, record};
use crate::audit::Kind;
use serde::Serialize;
use serde_json::json;

/// Clock skew allowed to relying parties that check an ID token after its key retired.
const SKEW: i64 = 300;

/// A published signing key (never its private part).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    pub kid: String,
    pub alg: String,
    pub active: bool,
    pub created_at: i64,
    pub retire_at: Option<i64>,
    /// The private key is in the security module (made and used there).
    pub in_module: bool,
}

/// Adds a new active key for every algorithm. The previous keys stop signing now and stay
/// published for the longest ID token lifetime plus clock skew. Returns the new key ids.
pub fn rotate(ctx: &Context, actor: &Actor, now: i64) -> AdminResult<Vec<String>> {
    let publish_for = ctx.config.id_token_ttl + SKEW;
    let kids = ctx.db.try_tx(|c| {
        let kids = crate::keys::rotate(c, ctx.kek, now, publish_for)?;
        let audit_kid = crate::audit::checkpoint::rotate(c, ctx.kek, now)?;
        let detail = json!({
            "kids": kids,
            "old_keys_published_for": publish_for,
            "audit_kid": audit_kid,
        });
        record(c, actor, Kind::KeysRotated, Subject::Provider, detail, now)?;
        Ok::<_, AdminError>(kids)
    })?;
    // Keys of the security module no longer published go, once the rotation is recorded.
    crate::keys::destroy_unpublished(ctx.db, ctx.kek, now);
    Ok(kids)
}

/// Re-seals under the current key-encryption key everything the extra one sealed
/// (`keys::rotation`), in one transaction, and records it.
pub fn rotate_kek(
    ctx: &Context,
    actor: &Actor,
    now: i64,
) -> AdminResult<crate::keys::rotation::Resealed> {
    ctx.db.try_tx(|c| {
        let done = crate::keys::rotation::reseal(c, ctx.kek, now)?;
        let detail = json!({ "moved": done.moved, "already": done.already });
        record(c, actor, Kind::KekRotated, Subject::Provider, detail, now)?;
        Ok(done)
    })
}

/// Withdraws a key that was rotated out before its time (say it leaked): it is no longer
/// published, so tokens it signed stop verifying at once. The active key cannot be
/// retired this way; rotate first.
pub fn retire(ctx: &Context, actor: &Actor, kid: &str, now: i64) -> AdminResult<()> {
    ctx.db.try_tx(|c| {
        let published = crate::keys::published_rows(c, now)?;
        match published.iter().find(|k| k.kid == kid) {
            None => {
                return Err(AdminError::NotFound {
                    resource: Resource::Key,
                    id: kid.to_string(),
                });
            }
            Some(k) if k.active => {
                return Err(invalid(
                    "kid",
                    "this key signs now; rotate the keys first, then retire it",
                ));
            }
            Some(_) => {}
        }
        crate::store::keys::withdraw(c, kid, now)?;
        let detail = json!({ "kid": kid });
        record(c, actor, Kind::KeyRetired, Subject::Provider, detail, now)?;
        Ok(())
    })
}

/// Renews the secret transform of the biometric templates (cancellable templates): every
/// face and voice template moves to a new generation, so that a gallery copied before no
/// longer matches what is stored. Returns the new generation and how many templates moved.
/// The templates move a batch per transaction; the act is audited when they all have.
pub fn renew_transform(
    svc: &crate::service::Service,
    actor: &Actor,
    now: i64,
) -> AdminResult<(u32, usize)> {
    let (generation, moved) = crate::biometrics::renew_transform(svc, now)?;
    svc.db.tx(|c| {
        let detail = json!({ "generation": generation, "templates": moved });
        record(
            c,
            actor,
            Kind::BiometricTransformRenewed,
            Subject::Provider,
            detail,
            now,
        )
    })?;
    Ok((generation, moved))
}

pub fn list(ctx: &Context, now: i64) -> AdminResult<Vec<KeyView>> {
    let rows = ctx.db.run(|c| crate::keys::published_rows(c, now))?;
    Ok(rows
        .into_iter()
        .map(|k| KeyView {
            in_module: crate::keys::module_label(&k.private_key).is_some(),
            kid: k.kid,
            alg: k.alg,
            active: k.active,
            created_at: k.created_at,
            retire_at: k.retire_at,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn rotation_adds_keys_and_is_recorded() {
        let (_dir, svc) = crate::service::for_tests();
        let ctx = Context::from(&svc);
        let now = crate::now();
        let before = list(&ctx, now).unwrap();
        let kids = rotate(&ctx, &cli(), now).unwrap();
        assert_eq!(kids.len(), crate::keys::Alg::ALL.len());
        let after = list(&ctx, now).unwrap();
        for kid in &kids {
            assert!(after.iter().any(|k| &k.kid == kid && k.active));
        }
        for old in &before {
            let k = after
                .iter()
                .find(|k| k.kid == old.kid)
                .expect("still published");
            assert!(!k.active);
        }
        let e = events(&svc.db).pop().unwrap();
        assert_eq!(e.kind(), Some(Kind::KeysRotated));
        assert_eq!(detail(&e)["kids"], json!(kids));
    }

    #[test]
    fn renewing_the_biometric_transform_is_recorded() {
        let (_dir, svc) = crate::service::for_tests();
        let (generation, moved) = renew_transform(&svc, &cli(), T0).unwrap();
        assert_eq!((generation, moved), (2, 0));
        let e = events(&svc.db).pop().unwrap();
        assert_eq!(e.kind(), Some(Kind::BiometricTransformRenewed));
        assert_eq!(detail(&e)["generation"], 2);
    }
}
