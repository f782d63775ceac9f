//! `/users`: citizens' accounts.

use super::{AppState, Reply, call, ok, path_id, query};
use crate::admin::roles::Access;
use crate::admin::users::{self, UserDetails, UserRef, UserView};
use crate::store::users::Address;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Part of a username, name or e-mail address (any case); all accounts when left out.
    pub q: Option<String>,
}

/// What disabling an account ended.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DisabledUser {
    /// False when the account was disabled already.
    pub changed: bool,
    pub sessions_ended: usize,
    pub grants_revoked: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnabledUser {
    /// False when the account was not disabled.
    pub changed: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UnlockedUser {
    /// How many sign-in methods were locked.
    pub unlocked: usize,
}

/// Searches accounts (at most 200).
#[utoipa::path(
    operation_id = "searchUsers",
    get,
    path = "/admin/api/v1/users",
    tag = "users",
    params(UserQuery),
    responses(
        (status = 200, body = Vec<UserView>),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn search(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let q = req.query_string().to_string();
    call(&req, &state, Access::Read, move |c| {
        let q: UserQuery = query(&q)?;
        ok(users::search(&c.ctx, q.q.as_deref().unwrap_or(""))?)
    })
    .await
}

/// One account with its sign-in methods, sessions and locks.
#[utoipa::path(
    operation_id = "showUser",
    get,
    path = "/admin/api/v1/users/{id}",
    tag = "users",
    params(("id" = String, Path, description = "The account id (sub)")),
    responses(
        (status = 200, body = UserDetails),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let id = path_id(&req);
    call(&req, &state, Access::Read, move |c| {
        ok(users::show(&c.ctx, UserRef::Id(&id), c.now)?)
    })
    .await
}

/// Refuses the account's sign-in: ends its sessions and revokes its tokens.
#[utoipa::path(
    operation_id = "disableUser",
    post,
    path = "/admin/api/v1/users/{id}/disable",
    tag = "users",
    params(("id" = String, Path, description = "The account id (sub)")),
    responses(
        (status = 200, body = DisabledUser),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn disable(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let id = path_id(&req);
    call(&req, &state, Access::Change, move |c| {
        let d = users::disable(&c.ctx, &c.principal.actor(), UserRef::Id(&id), c.now)?;
        ok(DisabledUser {
            changed: d.changed,
            sessions_ended: d.sessions,
            grants_revoked: d.grants,
        })
    })
    .await
}

/// Allows a disabled account to sign in again.
#[utoipa::path(
    operation_id = "enableUser",
    post,
    path = "/admin/api/v1/users/{id}/enable",
    tag = "users",
    params(("id" = String, Path, description = "The account id (sub)")),
    responses(
        (status = 200, body = EnabledUser),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn enable(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let id = path_id(&req);
    call(&req, &state, Access::Change, move |c| {
        let changed = users::enable(&c.ctx, &c.principal.actor(), UserRef::Id(&id), c.now)?;
        ok(EnabledUser { changed })
    })
    .await
}

/// Lifts the locks that failed attempts put on the account's sign-in methods.
#[utoipa::path(
    operation_id = "unlockUser",
    post,
    path = "/admin/api/v1/users/{id}/unlock",
    tag = "users",
    params(("id" = String, Path, description = "The account id (sub)")),
    responses(
        (status = 200, body = UnlockedUser),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn unlock(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let id = path_id(&req);
    call(&req, &state, Access::Change, move |c| {
        let unlocked = users::unlock(&c.ctx, &c.principal.actor(), UserRef::Id(&id), c.now)?;
        ok(UnlockedUser { unlocked })
    })
    .await
}

/// Removes the account and everything of it (the audit log keeps its entries).
#[utoipa::path(
    operation_id = "removeUser",
    delete,
    path = "/admin/api/v1/users/{id}",
    tag = "users",
    params(("id" = String, Path, description = "The account id (sub)")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn remove(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let id = path_id(&req);
    call(&req, &state, Access::Change, move |c| {
        users::remove(&c.ctx, &c.principal.actor(), UserRef::Id(&id), c.now)?;
        Ok(Reply::NoContent)
    })
    .await
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EndedSessions {
    /// How many sign-in sessions were ended.
    pub ended: usize,
}

/// Ends every sign-in session of the account and revokes the tokens issued in them.
#[utoipa::path(
    operation_id = "endUserSessions",
    post,
    path = "/admin/api/v1/users/{id}/sessions/end",
    tag = "users",
    params(("id" = String, Path, description = "The account id (sub)")),
    responses(
        (status = 200, body = EndedSessions),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn end_sessions(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let id = path_id(&req);
    call(&req, &state, Access::Change, move |c| {
        let ended = users::end_sessions(&c.ctx, &c.principal.actor(), UserRef::Id(&id), c.now)?;
        ok(EndedSessions { ended })
    })
    .await
}

/// Ends one sign-in session (by its `sid`) and revokes the tokens issued in it.
#[utoipa::path(
    operation_id = "endSession",
    delete,
    path = "/admin/api/v1/sessions/{id}",
    tag = "users",
    params(("id" = String, Path, description = "The session's sid")),
    responses(
        (status = 204),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn end_session(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let sid = path_id(&req);
    call(&req, &state, Access::Change, move |c| {
        users::end_session(&c.ctx, &c.principal.actor(), &sid, c.now)?;
        Ok(Reply::NoContent)
    })
    .await
}

/// Removes one sign-in method of the account (a lost key, a stolen phone's authenticator
/// app, a face template to enrol again); the citizen is told. Not the password.
#[utoipa::path(
    operation_id = "resetUserFactor",
    delete,
    path = "/admin/api/v1/users/{id}/factors/{factor}",
    tag = "users",
    params(
        ("id" = String, Path, description = "The account id (sub)"),
        ("factor" = String, Path, description = "The sign-in method's id (`factors[].id`)"),
    ),
    responses(
        (status = 204),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn reset_factor(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let id = path_id(&req);
    let factor = req.match_info().get("factor").unwrap_or("").to_string();
    call(&req, &state, Access::Change, move |c| {
        let actor = c.principal.actor();
        users::reset_factor(&c.ctx, &actor, UserRef::Id(&id), &factor, c.now)?;
        Ok(Reply::NoContent)
    })
    .await
}

/// An account to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// 1-64 characters: letters, digits and . _ - @
    pub username: String,
    /// At least 8 characters, not guessable (NIST SP 800-63B).
    pub password: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// The address was verified (by a clerk, say).
    #[serde(default)]
    pub email_verified: bool,
    /// E.164, for one-time codes by SMS.
    pub phone: Option<String>,
    /// The number was verified.
    #[serde(default)]
    pub phone_verified: bool,
    /// The postal address (OIDC Core 5.1.1): at least one part.
    pub address: Option<Address>,
}

/// `null` removes a value, a value replaces it, leaving it out keeps it.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Changes to an account's name and contact data.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// `null` removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    /// `null` removes it; a new address is unverified unless `email_verified` says so.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    pub email_verified: Option<bool>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    pub phone_verified: Option<bool>,
    /// Replaces the whole postal address; `null` removes it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Address>)]
    pub address: Option<Option<Address>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UpdatedUser {
    #[serde(flatten)]
    pub user: UserView,
    /// The fields that changed.
    pub changed: Vec<String>,
}

/// Creates an account (the password follows the policy).
#[utoipa::path(
    operation_id = "createUser",
    post,
    path = "/admin/api/v1/users",
    tag = "users",
    request_body = CreateUser,
    responses(
        (status = 201, body = UserView),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
        (status = 409, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    bytes: web::Bytes,
) -> HttpResponse {
    call(&req, &state, Access::Change, move |c| {
        let u: CreateUser = super::body(&bytes)?;
        let new = users::NewUser {
            username: u.username,
            password: u.password,
            name: u.name,
            email: u.email,
            email_verified: u.email_verified,
            phone: u.phone,
            phone_verified: u.phone_verified,
            address: u.address,
        };
        let created = users::create(&c.ctx, &c.principal.actor(), new, c.now)?;
        super::json(actix_web::http::StatusCode::CREATED, created)
    })
    .await
}

/// Changes an account's name or contact data.
#[utoipa::path(
    operation_id = "updateUser",
    patch,
    path = "/admin/api/v1/users/{id}",
    tag = "users",
    params(("id" = String, Path, description = "The account id (sub)")),
    request_body = UserPatch,
    responses(
        (status = 200, body = UpdatedUser),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    bytes: web::Bytes,
) -> HttpResponse {
    let id = path_id(&req);
    call(&req, &state, Access::Change, move |c| {
        let p: UserPatch = super::body(&bytes)?;
        let changes = users::UserChanges {
            name: p.name,
            email: p.email,
            email_verified: p.email_verified,
            phone: p.phone,
            phone_verified: p.phone_verified,
            address: p.address,
        };
        let u = users::update(
            &c.ctx,
            &c.principal.actor(),
            UserRef::Id(&id),
            changes,
            c.now,
        )?;
        ok(UpdatedUser {
            user: u.user,
            changed: u.changed.iter().map(|s| s.to_string()).collect(),
        })
    })
    .await
}

/// Who the token's holder is: their account and roles (for the admin UI).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub sub: String,
    pub username: String,
    /// `administrator`, `clerk`, `auditor`.
    pub roles: Vec<String>,
}

/// The token holder's own account and roles.
#[utoipa::path(
    operation_id = "me",
    get,
    path = "/admin/api/v1/me",
    tag = "users",
    responses((status = 200, body = Me))
)]
pub(super) async fn me(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    call(&req, &state, Access::Own, move |c| {
        let who = UserRef::Id(&c.principal.user_id);
        let details = users::show(&c.ctx, who, c.now)?;
        ok(Me {
            sub: details.user.sub,
            username: details.user.username,
            roles: c
                .principal
                .roles
                .iter()
                .map(|r| r.name().to_string())
                .collect(),
        })
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Lookup {
    /// The exact username, or the account ID.
    pub account: String,
}

/// The account of exactly this username or account ID: how a clerk finds the citizen at the counter
/// (a clerk may not search or read accounts).
#[utoipa::path(
    operation_id = "lookupUser",
    get,
    path = "/admin/api/v1/users/lookup",
    tag = "users",
    params(Lookup),
    responses(
        (status = 200, body = users::Found),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn lookup(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let q = req.query_string().to_string();
    call(&req, &state, Access::Clerical, move |c| {
        let l: Lookup = query(&q)?;
        ok(users::lookup(&c.ctx, &l.account)?)
    })
    .await
}
