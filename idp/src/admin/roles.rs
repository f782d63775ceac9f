//! Administrative roles and who may use the Admin API.
//!
//! An account holds any of three roles: an `administrator` may do everything, an
//! `auditor` only reads, a `clerk` works the registration queue and service-centre
//! enrolment (not clients, users, keys or the audit log). Roles are granted and revoked
//! here (by the CLI or an administrator), each change audited.
//!
//! A request to the Admin API carries a bearer access token this provider issued. It is
//! accepted when the token is live and not revoked, was granted the `admin` scope, was
//! issued for a sign-in at level `high`, and its subject holds a role that allows the
//! operation.

use super::users::{UserRef, find};
use super::{Actor, AdminResult, Context, Subject, invalid, record};
use crate::audit::Kind;
use crate::policy::{ADMIN_SCOPE, Level};
use crate::store::admin_roles::{self as store, RoleRow};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Administrator,
    Clerk,
    Auditor,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Administrator, Role::Clerk, Role::Auditor];

    pub fn name(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::Clerk => "clerk",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::parse(s).ok_or_else(|| {
            let known: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
            format!("{s} is not one of {}", known.join(" "))
        })
    }
}

/// What an Admin API operation does with the provider's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Clients, users, keys and the audit log: look.
    Read,
    /// Clients, users, keys: change.
    Change,
    /// The registration queue and service-centre enrolment: a clerk's work (and an
    /// administrator's), not an auditor's.
    Clerical,
    /// One's own account and roles: any role.
    Own,
}

/// Gives an account a role; false when it held the role already (nothing written).
pub fn grant(
    ctx: &Context,
    actor: &Actor,
    who: UserRef,
    role: Role,
    now: i64,
) -> AdminResult<bool> {
    ctx.db.try_tx(|c| {
        let user = find(c, who)?;
        let row = RoleRow {
            user_id: user.id.clone(),
            role: role.name().to_string(),
            granted_at: now,
        };
        if !store::insert(c, &row)? {
            return Ok(false);
        }
        let detail = json!({ "role": role.name() });
        record(
            c,
            actor,
            Kind::RoleGranted,
            Subject::User(&user.id),
            detail,
            now,
        )?;
        Ok(true)
    })
}

/// Takes a role away; false when the account did not hold it (nothing written).
pub fn revoke(
    ctx: &Context,
    actor: &Actor,
    who: UserRef,
    role: Role,
    now: i64,
) -> AdminResult<bool> {
    ctx.db.try_tx(|c| {
        let user = find(c, who)?;
        if !store::delete(c, &user.id, role.name())? {
            return Ok(false);
        }
        let detail = json!({ "role": role.name() });
        record(
            c,
            actor,
            Kind::RoleRevoked,
            Subject::User(&user.id),
            detail,
            now,
        )?;
        Ok(true)
    })
}

/// The roles an account holds.
pub fn of_user(ctx: &Context, who: UserRef) -> AdminResult<Vec<Role>> {
    ctx.db.run(|c| {
        Ok((|| {
            let user = find(c, who)?;
            Ok(roles_of(c, &user.id)?)
        })())
    })?
}

fn roles_of(
    c: &mut crate::store::AnyConnection,
    user_id: &str,
) -> crate::store::StoreResult<Vec<Role>> {
    // A name this version does not know grants nothing.
    Ok(store::of_user(c, user_id)?
        .iter()
        .filter_map(|r| Role::parse(r))
        .collect())
}

/// An administrator whose token was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub roles: Vec<Role>,
    /// The client address the request came from (set by the caller, for the audit log).
    pub ip: Option<std::net::IpAddr>,
}

impl Principal {
    pub fn may(&self, access: Access) -> bool {
        self.roles.iter().any(|r| match r {
            _ if access == Access::Own => true,
            Role::Administrator => true,
            Role::Auditor => access == Access::Read,
            Role::Clerk => access == Access::Clerical,
        })
    }

    /// Who acts, for the audit entries of the changes this administrator makes.
    pub fn actor(&self) -> Actor {
        Actor::Admin {
            user_id: self.user_id.clone(),
            ip: self.ip,
        }
    }
}

/// Why a bearer token does not admit its holder to the Admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown, expired or revoked.
    InvalidToken,
    /// Not issued with the `admin` scope, or not for a person.
    InsufficientScope,
    /// The sign-in behind it did not reach `high`; the acr value needed.
    InsufficientAssurance { required: &'static str },
    /// The person holds no role that allows the operation.
    Forbidden,
}

/// Checks a bearer token (either format, `oidc::bearer`) for an operation (see the
/// module's first lines).
pub fn authorize(
    ctx: &Context,
    bearer: &crate::oidc::bearer::Checker,
    token: &str,
    access: Access,
    now: i64,
) -> AdminResult<Result<Principal, Refusal>> {
    let Some(at) = bearer.check(token, now)? else {
        return Ok(Err(Refusal::InvalidToken));
    };
    // The API takes bearer tokens only: a token bound to a DPoP key or a certificate is
    // worthless without a proof of it, so it is refused here rather than accepted without.
    if at.is_sender_constrained() {
        return Ok(Err(Refusal::InvalidToken));
    }
    if !at.has_scope(ADMIN_SCOPE) {
        return Ok(Err(Refusal::InsufficientScope));
    }
    let Some(user_id) = bearer.user_id(&at)? else {
        return Ok(Err(Refusal::InsufficientScope));
    };
    let level = at.acr.as_deref().and_then(Level::from_acr);
    if level != Some(Level::High) {
        return Ok(Err(Refusal::InsufficientAssurance {
            required: Level::High.acr(),
        }));
    }
    let principal = Principal {
        roles: ctx.db.run(|c| roles_of(c, &user_id))?,
        user_id,
        ip: None,
    };
    if !principal.may(access) {
        return Ok(Err(Refusal::Forbidden));
    }
    Ok(Ok(principal))
}

/// A role named by an administrator.
pub fn role(name: &str) -> AdminResult<Role> {
    name.parse().map_err(|e: String| invalid("role", e))
}

#[cfg(test)]
mod tests {
    use super::super::clients::{self, Credentials, NewClient};
    use super::super::testing::*;
    use super::super::users::{self, NewUser};
    use super::*;
    use crate::store::tokens::{self, Grant};

    fn setup() -> (tempfile::TempDir, crate::service::Service, String) {
        let (dir, svc) = crate::service::for_tests();
        let ctx = Context::from(&svc);
        let mut console = NewClient::new(
            "console",
            Credentials::Public,
            vec!["https://admin.example.gov/cb".into()],
        );
        console.scopes = vec!["openid".into(), ADMIN_SCOPE.into()];
        clients::create(&ctx, &cli(), console, T0).unwrap();
        let new = NewUser {
            username: "root".into(),
            password: "correct horse battery staple".into(),
            name: None,
            email: None,
            email_verified: false,
            phone_verified: false,
            address: None,
            phone: None,
        };
        let id = users::create(&ctx, &cli(), new, T0).unwrap().sub;
        (dir, svc, id)
    }

    fn token(svc: &crate::service::Service, user: &str, scope: &str, acr: Level) -> String {
        bound_token(svc, user, scope, acr, None, None)
    }

    /// A token bound to a DPoP key (`jkt`) or a TLS certificate (`x5t`).
    fn bound_token(
        svc: &crate::service::Service,
        user: &str,
        scope: &str,
        acr: Level,
        jkt: Option<&str>,
        x5t: Option<&str>,
    ) -> String {
        let grant = Grant {
            id: crate::crypto::random_id(),
            client_id: "console".into(),
            user_id: Some(user.into()),
            scope: scope.into(),
            sid: None,
            acr: Some(acr.acr().into()),
            amr: "[]".into(),
            auth_time: Some(T0),
            claims: None,
            revoked: false,
            created_at: T0,
            subject: None,
            jkt: jkt.map(str::to_string),
            x5t: x5t.map(str::to_string),
        };
        svc.db
            .tx(|c| {
                tokens::insert_grant(c, &grant)?;
                crate::oidc::tokens::issue_access_token(c, &grant, scope, 600, T0)
            })
            .unwrap()
    }

    #[test]
    fn roles_are_granted_revoked_and_recorded() {
        let (_dir, svc, id) = setup();
        let ctx = Context::from(&svc);
        let who = UserRef::Id(&id);
        assert!(grant(&ctx, &cli(), who, Role::Auditor, T0).unwrap());
        assert!(!grant(&ctx, &cli(), who, Role::Auditor, T0).unwrap());
        assert!(grant(&ctx, &cli(), who, Role::Administrator, T0).unwrap());
        assert_eq!(
            of_user(&ctx, who).unwrap(),
            vec![Role::Administrator, Role::Auditor]
        );
        assert!(revoke(&ctx, &cli(), who, Role::Auditor, T0).unwrap());
        assert!(!revoke(&ctx, &cli(), who, Role::Auditor, T0).unwrap());
        assert_eq!(of_user(&ctx, who).unwrap(), vec![Role::Administrator]);
        let granted: Vec<Kind> = kinds(&svc.db)
            .into_iter()
            .filter(|k| matches!(k, Kind::RoleGranted | Kind::RoleRevoked))
            .collect();
        assert_eq!(
            granted,
            [Kind::RoleGranted, Kind::RoleGranted, Kind::RoleRevoked]
        );
        assert_eq!(detail(&events(&svc.db).pop().unwrap())["role"], "auditor");
        assert!(matches!(
            role("root"),
            Err(crate::admin::AdminError::Invalid { field: "role", .. })
        ));
    }

    #[test]
    fn tokens_need_scope_assurance_and_role() {
        let (_dir, svc, id) = setup();
        let ctx = Context::from(&svc);
        let now = T0 + 1;
        let high = token(&svc, &id, "openid admin", Level::High);
        // No role yet.
        assert_eq!(
            authorize(&ctx, &svc.bearer(), &high, Access::Read, now).unwrap(),
            Err(Refusal::Forbidden)
        );
        grant(&ctx, &cli(), UserRef::Id(&id), Role::Auditor, T0).unwrap();
        let p = authorize(&ctx, &svc.bearer(), &high, Access::Read, now)
            .unwrap()
            .unwrap();
        assert_eq!(
            p.actor(),
            Actor::Admin {
                user_id: id.clone(),
                ip: None,
            }
        );
        assert_eq!(
            authorize(&ctx, &svc.bearer(), &high, Access::Change, now).unwrap(),
            Err(Refusal::Forbidden)
        );
        grant(&ctx, &cli(), UserRef::Id(&id), Role::Administrator, T0).unwrap();
        assert!(
            authorize(&ctx, &svc.bearer(), &high, Access::Change, now)
                .unwrap()
                .is_ok()
        );

        let substantial = token(&svc, &id, "admin", Level::Substantial);
        assert_eq!(
            authorize(&ctx, &svc.bearer(), &substantial, Access::Read, now).unwrap(),
            Err(Refusal::InsufficientAssurance {
                required: Level::High.acr()
            })
        );
        let no_scope = token(&svc, &id, "openid", Level::High);
        assert_eq!(
            authorize(&ctx, &svc.bearer(), &no_scope, Access::Read, now).unwrap(),
            Err(Refusal::InsufficientScope)
        );
        assert_eq!(
            authorize(&ctx, &svc.bearer(), "junk", Access::Read, now).unwrap(),
            Err(Refusal::InvalidToken)
        );
        // Expired.
        assert_eq!(
            authorize(&ctx, &svc.bearer(), &high, Access::Read, T0 + 601).unwrap(),
            Err(Refusal::InvalidToken)
        );
        // Bound to a key or a certificate: the API takes bearer tokens only.
        for (jkt, x5t) in [(Some("key"), None), (None, Some("certificate"))] {
            let bound = bound_token(&svc, &id, "openid admin", Level::High, jkt, x5t);
            assert_eq!(
                authorize(&ctx, &svc.bearer(), &bound, Access::Read, now).unwrap(),
                Err(Refusal::InvalidToken),
                "{jkt:?} {x5t:?}"
            );
        }
    }

    #[test]
    fn a_clerk_works_only_the_registration_queue_and_an_auditor_only_reads() {
        let p = Principal {
            user_id: "u".into(),
            roles: vec![Role::Clerk],
            ip: None,
        };
        assert!(!p.may(Access::Read) && !p.may(Access::Change));
        assert!(p.may(Access::Clerical));
        let auditor = Principal {
            roles: vec![Role::Auditor],
            ..p
        };
        assert!(auditor.may(Access::Read) && !auditor.may(Access::Clerical));
    }
}
