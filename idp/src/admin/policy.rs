//! The policy administrators change at run time: factor combinations per level, scope risk
//! levels, lockout and session lifetimes (`policy::settings`). A change is validated, stored
//! and audited (with what it was and what it became) in one transaction; this instance
//! applies it at once, the others within a second.

use super::{Actor, AdminError, AdminResult, Context, Subject, invalid, record};
use crate::audit::Kind;
use crate::policy::settings::Settings;
use crate::service::POLICY;
use serde_json::{Value, json};

/// The policy in force.
pub fn get(ctx: &Context) -> AdminResult<Settings> {
    Ok(ctx.rules.settings.clone())
}

/// Replaces the policy; returns it as stored.
pub fn put(ctx: &Context, actor: &Actor, new: Settings, now: i64) -> AdminResult<Settings> {
    new.compile().map_err(|e| AdminError::Invalid {
        field: e.field,
        reason: e.reason,
    })?;
    let old = ctx.rules.settings.clone();
    let json = serde_json::to_string(&new).map_err(|e| invalid("body", e.to_string()))?;
    ctx.db.try_tx(|c| {
        let version = crate::store::settings::put(c, POLICY, &json, now)?;
        let detail = json!({ "version": version, "changed": changes(&old, &new) });
        record(
            c,
            actor,
            Kind::PolicyChanged,
            Subject::Provider,
            detail,
            now,
        )?;
        Ok::<_, AdminError>(())
    })?;
    Ok(new)
}

/// Each top-level part that differs, as it was and as it is.
fn changes(old: &Settings, new: &Settings) -> Value {
    let (old, new) = (
        serde_json::to_value(old).unwrap_or(Value::Null),
        serde_json::to_value(new).unwrap_or(Value::Null),
    );
    let mut out = serde_json::Map::new();
    if let (Some(o), Some(n)) = (old.as_object(), new.as_object()) {
        for (k, v) in n {
            if o.get(k) != Some(v) {
                out.insert(k.clone(), json!({ "from": o.get(k), "to": v }));
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::policy::Level;
    use authenticators::FactorKind;

    #[test]
    fn a_changed_policy_applies_to_every_instance_and_is_recorded() {
        let (_dir, svc) = crate::service::for_tests();
        let ctx = Context::from(&svc);
        let mut s = get(&ctx).unwrap();
        assert_eq!(s.lockout.attempts, 3);
        s.scopes.insert("payments".into(), "high".into());
        s.lockout.attempts = 5;
        s.sessions.idle_seconds = 600;
        put(&ctx, &cli(), s.clone(), T0).unwrap();
        // This instance (as the Admin API reloads it) and any other see it.
        assert!(svc.reload_rules().unwrap());
        let rules = svc.rules();
        assert_eq!(rules.policy.scope_level(&["payments".into()]), Level::High);
        assert_eq!(rules.lockout.max_failures, 5);
        assert_eq!(rules.sessions.idle, 600);
        assert!(svc.discovery_json().contains("payments"));
        assert!(!svc.reload_rules().unwrap(), "nothing new");
        let e = events(&svc.db).pop().unwrap();
        assert_eq!(e.kind(), Some(Kind::PolicyChanged));
        let d = detail(&e);
        assert_eq!(d["changed"]["lockout"]["from"]["attempts"], 3);
        assert_eq!(d["changed"]["lockout"]["to"]["attempts"], 5);
        assert!(
            d["changed"].get("levels").is_none(),
            "unchanged parts are left out"
        );

        // A policy that cannot be is refused, nothing written.
        let before = events(&svc.db).len();
        let mut bad = s.clone();
        bad.levels.substantial = vec![vec![FactorKind::Voice.name().to_string()]];
        let refused = put(&Context::from(&svc), &cli(), bad, T0 + 1);
        assert!(matches!(
            refused,
            Err(AdminError::Invalid {
                field: "levels",
                ..
            })
        ));
        assert_eq!(events(&svc.db).len(), before);
    }
}
