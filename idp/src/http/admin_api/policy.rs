//! `/policy`: factor combinations per level, scope risk levels, lockout and sessions.

use super::{AppState, body, call, ok};
use crate::admin::policy;
use crate::admin::roles::Access;
use crate::policy::settings::Settings;
use actix_web::{HttpRequest, HttpResponse, web};

/// The policy in force.
#[utoipa::path(
    operation_id = "getPolicy",
    get,
    path = "/admin/api/v1/policy",
    tag = "policy",
    responses((status = 200, body = Settings))
)]
pub(super) async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    call(&req, &state, Access::Read, |c| ok(policy::get(&c.ctx)?)).await
}

/// Replaces the policy; it applies on this instance at once and on the others within a
/// second.
#[utoipa::path(
    operation_id = "putPolicy",
    put,
    path = "/admin/api/v1/policy",
    tag = "policy",
    request_body(content = Settings, example = json!({
        "levels": {
            "substantial": [["password", "totp"], ["password", "recovery"]],
            "high": [["password", "webauthn"], ["password", "x509"]]
        },
        "scopes": { "tax.read": "low", "payments": "high" },
        "lockout": { "attempts": 3, "first_lock_seconds": 60 },
        "sessions": { "idle_seconds": 900, "max_seconds": 43200 }
    })),
    responses(
        (status = 200, body = Settings),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn put(
    req: HttpRequest,
    state: web::Data<AppState>,
    bytes: web::Bytes,
) -> HttpResponse {
    call(&req, &state, Access::Change, move |c| {
        let new: Settings = body(&bytes)?;
        let stored = policy::put(&c.ctx, &c.principal.actor(), new, c.now)?;
        if let Err(e) = c.state.reload_rules() {
            tracing::warn!(error = %e, "applying the new policy failed");
        }
        ok(stored)
    })
    .await
}
