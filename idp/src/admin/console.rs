//! The admin console: the built-in public OIDC client that the Admin UI (served under
//! `/admin`) signs administrators in with. Every start of `idp serve` makes sure it exists
//! with the settings the UI needs (its callback under the current issuer, the `admin`
//! scope, PKCE as a public client), repairing what was changed, and it cannot be removed:
//! without it nobody could sign in to the UI.

use super::clients::{self, ClientChanges, ClientView, Credentials, NewClient};
use super::{Actor, AdminError, AdminResult, Context, invalid};
use crate::policy::ADMIN_SCOPE;

/// The console's client id.
pub const CLIENT_ID: &str = "admin-console";
/// Where the provider sends the administrator back after signing in.
pub const CALLBACK_PATH: &str = "/admin/callback";
/// Where the UI lives, and where a sign-out returns to.
pub const HOME_PATH: &str = "/admin/";
/// An access token lives as long as an idle browser session (the UI keeps it in memory
/// only and asks for a new one by signing in again).
const ACCESS_TOKEN_TTL: i64 = 900;

/// What `ensure` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ensured {
    Created,
    /// It existed; these settings were put back.
    Repaired(Vec<String>),
    Unchanged,
}

/// The settings the UI relies on, for this issuer.
struct Wanted {
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    scopes: Vec<String>,
    grant_types: Vec<String>,
}

fn wanted(issuer: &str) -> Wanted {
    let base = issuer.trim_end_matches('/');
    Wanted {
        redirect_uris: vec![format!("{base}{CALLBACK_PATH}")],
        post_logout_redirect_uris: vec![format!("{base}{HOME_PATH}")],
        scopes: ["openid", "profile", ADMIN_SCOPE]
            .map(str::to_string)
            .to_vec(),
        // No refresh token: a stolen one would outlive the administrator's session.
        grant_types: vec!["authorization_code".to_string()],
    }
}

/// Creates the console, or puts back the settings the UI needs.
pub fn ensure(ctx: &Context, actor: &Actor, now: i64) -> AdminResult<Ensured> {
    let want = wanted(&ctx.config.issuer);
    let current = match clients::show(ctx, CLIENT_ID) {
        Ok(c) => c,
        Err(AdminError::NotFound { .. }) => {
            let mut new = NewClient::new(CLIENT_ID, Credentials::Public, want.redirect_uris);
            new.name = Some("Admin console".to_string());
            new.post_logout_redirect_uris = want.post_logout_redirect_uris;
            new.scopes = want.scopes;
            new.grant_types = want.grant_types;
            new.risk_level = Some("high".to_string());
            new.access_token_ttl = Some(ACCESS_TOKEN_TTL);
            return match clients::create(ctx, actor, new, now) {
                Ok(_) => Ok(Ensured::Created),
                // Another instance starting at the same moment created it.
                Err(AdminError::Conflict { .. }) => Ok(Ensured::Unchanged),
                Err(e) => Err(e),
            };
        }
        Err(e) => return Err(e),
    };
    if current.auth_method != "none" {
        return Err(invalid(
            "client_id",
            format!(
                "the client id {CLIENT_ID} is reserved for the admin console, a public \
                 client; this one authenticates with {}: remove it (`idp client remove \
                 --id {CLIENT_ID}`) and start again",
                current.auth_method
            ),
        ));
    }
    let Some(changes) = repairs(&current, want) else {
        return Ok(Ensured::Unchanged);
    };
    let updated = clients::update(ctx, actor, CLIENT_ID, changes, now)?;
    Ok(Ensured::Repaired(
        updated.changed.iter().map(|s| s.to_string()).collect(),
    ))
}

/// The settings that differ from what the UI needs, if any.
fn repairs(current: &ClientView, want: Wanted) -> Option<ClientChanges> {
    let mut c = ClientChanges::default();
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    if current.redirect_uris != want.redirect_uris {
        c.redirect_uris = Some(want.redirect_uris);
    }
    if current.post_logout_redirect_uris != want.post_logout_redirect_uris {
        c.post_logout_redirect_uris = Some(want.post_logout_redirect_uris);
    }
    if sorted(&current.scopes) != sorted(&want.scopes) {
        c.scopes = Some(want.scopes);
    }
    if current.grant_types != want.grant_types {
        c.grant_types = Some(want.grant_types);
    }
    if current.risk_level != "high" {
        c.risk_level = Some("high".to_string());
    }
    let any = c.redirect_uris.is_some()
        || c.post_logout_redirect_uris.is_some()
        || c.scopes.is_some()
        || c.grant_types.is_some()
        || c.risk_level.is_some();
    any.then_some(c)
}

/// Refuses to remove the console: the Admin UI cannot sign anybody in without it. A
/// confidential client that took its id by mistake may go.
pub fn refuse_removal(client: &ClientView) -> AdminResult<()> {
    if client.id == CLIENT_ID && client.auth_method == "none" {
        return Err(invalid(
            "id",
            format!(
                "{CLIENT_ID} is the built-in client of the admin console and cannot be removed"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::audit::Kind;

    #[test]
    fn created_once_repaired_when_changed_and_not_removable() {
        let (_dir, svc) = crate::service::for_tests();
        let ctx = Context::from(&svc);
        assert_eq!(ensure(&ctx, &cli(), T0).unwrap(), Ensured::Created);
        let c = clients::show(&ctx, CLIENT_ID).unwrap();
        assert_eq!(c.auth_method, "none");
        assert_eq!(c.redirect_uris, ["http://127.0.0.1:8080/admin/callback"]);
        assert_eq!(c.scopes, ["openid", "profile", "admin"]);
        assert_eq!(c.grant_types, ["authorization_code"]);
        assert_eq!(ensure(&ctx, &cli(), T0).unwrap(), Ensured::Unchanged);

        let broken = ClientChanges {
            redirect_uris: Some(vec!["https://elsewhere.example/cb".into()]),
            scopes: Some(vec!["openid".into()]),
            ..Default::default()
        };
        clients::update(&ctx, &cli(), CLIENT_ID, broken, T0).unwrap();
        let Ensured::Repaired(fixed) = ensure(&ctx, &cli(), T0).unwrap() else {
            panic!("repaired expected");
        };
        assert!(fixed.contains(&"redirect_uris".to_string()), "{fixed:?}");
        assert!(fixed.contains(&"scopes".to_string()), "{fixed:?}");
        let c = clients::show(&ctx, CLIENT_ID).unwrap();
        assert_eq!(c.redirect_uris, ["http://127.0.0.1:8080/admin/callback"]);
        assert_eq!(c.scopes, ["openid", "profile", "admin"]);

        assert!(matches!(
            clients::remove(&ctx, &cli(), CLIENT_ID, T0),
            Err(AdminError::Invalid { field: "id", .. })
        ));
        assert!(clients::show(&ctx, CLIENT_ID).is_ok());
        let created = kinds(&svc.db)
            .into_iter()
            .filter(|k| *k == Kind::ClientCreated)
            .count();
        assert_eq!(created, 1);
    }

    #[test]
    fn a_confidential_client_of_that_name_is_refused() {
        let (_dir, svc) = crate::service::for_tests();
        let ctx = Context::from(&svc);
        let mut c = NewClient::new(
            CLIENT_ID,
            Credentials::GenerateSecret,
            vec!["https://x.example/cb".into()],
        );
        c.scopes = vec!["openid".into()];
        clients::create(&ctx, &cli(), c, T0).unwrap();
        assert!(matches!(
            ensure(&ctx, &cli(), T0),
            Err(AdminError::Invalid { .. })
        ));
        // That one may be removed, and the console then takes its place.
        clients::remove(&ctx, &cli(), CLIENT_ID, T0).unwrap();
        assert_eq!(ensure(&ctx, &cli(), T0).unwrap(), Ensured::Created);
    }
}
