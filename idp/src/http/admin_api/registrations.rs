//! `/registrations`: the queue of registrations for face sign-in a clerk works.

use super::{AppState, Reply, body, call, ok, path_id, query};
use crate::admin::registrations::{self, Picture, RegistrationView};
use crate::admin::roles::Access;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RegistrationQuery {
    /// `pending`, `approved`, `rejected` or `withdrawn`; all of them when left out.
    #[param(pattern = "^(pending|approved|rejected|withdrawn)$")]
    pub state: Option<String>,
    /// At most this many, oldest submission first, 1-500 [default: 100].
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// Why, in words the citizen is told (at most 500 characters).
    pub reason: String,
}

/// Registrations, oldest submission first.
#[utoipa::path(
    operation_id = "listRegistrations",
    get,
    path = "/admin/api/v1/registrations",
    tag = "registrations",
    params(RegistrationQuery),
    responses(
        (status = 200, body = RegistrationList),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let q = req.query_string().to_string();
    call(&req, &state, Access::Clerical, move |c| {
        let q: RegistrationQuery = query(&q)?;
        let items = registrations::list(c.state, q.state.as_deref(), q.limit)?;
        ok(RegistrationList { items })
    })
    .await
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RegistrationList {
    pub items: Vec<RegistrationView>,
}

/// One registration.
#[utoipa::path(
    operation_id = "showRegistration",
    get,
    path = "/admin/api/v1/registrations/{id}",
    tag = "registrations",
    params(("id" = String, Path, description = "The registration id")),
    responses(
        (status = 200, body = RegistrationView),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let id = path_id(&req);
    call(&req, &state, Access::Clerical, move |c| {
        ok(registrations::show(c.state, &id)?)
    })
    .await
}

/// A picture of a pending registration: `document` (the photo of the identity document)
/// or `face` (the live frame). Each look is audited, and shown to the citizen.
#[utoipa::path(
    operation_id = "registrationImage",
    get,
    path = "/admin/api/v1/registrations/{id}/images/{which}",
    tag = "registrations",
    params(
        ("id" = String, Path, description = "The registration id"),
        ("which" = Picture, Path, description = "`document` or `face`"),
    ),
    responses(
        (status = 200, description = "The picture", content_type = "image/jpeg", body = Vec<u8>),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn image(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let id = path_id(&req);
    let which = req.match_info().get("which").and_then(Picture::parse);
    call(&req, &state, Access::Clerical, move |c| {
        let which = which.ok_or_else(|| crate::admin::invalid("which", "document or face"))?;
        let jpeg = registrations::picture(c.state, &c.principal.actor(), &id, which, c.now)?;
        Ok(Reply::Text("image/jpeg", jpeg))
    })
    .await
}

/// Approves a pending registration: the citizen can sign in with their face; the pictures
/// are deleted and the citizen is told.
#[utoipa::path(
    operation_id = "approveRegistration",
    post,
    path = "/admin/api/v1/registrations/{id}/approve",
    tag = "registrations",
    params(("id" = String, Path, description = "The registration id")),
    responses(
        (status = 200, body = RegistrationView),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn approve(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let id = path_id(&req);
    call(&req, &state, Access::Clerical, move |c| {
        ok(registrations::approve(
            c.state,
            &c.principal.actor(),
            &id,
            c.now,
        )?)
    })
    .await
}

/// Rejects a pending registration with a reason the citizen is told; the pictures are
/// deleted.
#[utoipa::path(
    operation_id = "rejectRegistration",
    post,
    path = "/admin/api/v1/registrations/{id}/reject",
    tag = "registrations",
    params(("id" = String, Path, description = "The registration id")),
    request_body = Rejection,
    responses(
        (status = 200, body = RegistrationView),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn reject(
    req: HttpRequest,
    state: web::Data<AppState>,
    bytes: web::Bytes,
) -> HttpResponse {
    let id = path_id(&req);
    call(&req, &state, Access::Clerical, move |c| {
        let r: Rejection = body(&bytes)?;
        ok(registrations::reject(
            c.state,
            &c.principal.actor(),
            &id,
            &r.reason,
            c.now,
        )?)
    })
    .await
}
