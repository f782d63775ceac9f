//! `/audit` (the log) and `/keys` (signing keys).

use super::{AppState, call, ok, query};
use crate::admin::audit::{self, Page};
use crate::admin::keys::{self, KeyView};
use crate::admin::roles::Access;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Events about this account (its id).
    pub user: Option<String>,
    /// Events of this kind (`client.created`, `auth.failed`, ...).
    pub kind: Option<String>,
    /// At or after this time (Unix seconds).
    pub from: Option<i64>,
    /// Before this time (Unix seconds).
    pub until: Option<i64>,
    /// The previous page's `next_after`.
    pub after: Option<i64>,
    /// Events per page, 1-1000 [default: 100].
    pub limit: Option<i64>,
}

/// Whether the hash chain is intact.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Verification {
    pub intact: bool,
    /// The number of events checked, when intact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<i64>,
    /// The first event that was altered, removed or reordered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RotatedKeys {
    /// The new active keys.
    pub kids: Vec<String>,
}

/// Searches the audit log, oldest first, a page at a time.
#[utoipa::path(
    operation_id = "searchAudit",
    get,
    path = "/admin/api/v1/audit",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, body = Page),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn search(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let q = req.query_string().to_string();
    call(&req, &state, Access::Read, move |c| {
        let q: AuditQuery = query(&q)?;
        let q = audit::Query {
            user_id: q.user,
            kind: q.kind,
            from: q.from,
            until: q.until,
            after: q.after,
            limit: q.limit,
        };
        ok(audit::search(&c.ctx, &q)?)
    })
    .await
}

/// Recomputes the hash chain of the whole log.
#[utoipa::path(
    operation_id = "verifyAudit",
    get,
    path = "/admin/api/v1/audit/verify",
    tag = "audit",
    responses((status = 200, body = Verification))
)]
pub(super) async fn verify(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    call(&req, &state, Access::Read, |c| {
        let v = match audit::verify(&c.ctx)? {
            Ok(n) => Verification {
                intact: true,
                events: Some(n),
                problem: None,
            },
            Err(p) => Verification {
                intact: false,
                events: None,
                problem: Some(p),
            },
        };
        ok(v)
    })
    .await
}

/// The published signing keys.
#[utoipa::path(
    operation_id = "listKeys",
    get,
    path = "/admin/api/v1/keys",
    tag = "keys",
    responses((status = 200, body = Vec<KeyView>))
)]
pub(super) async fn list_keys(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    call(&req, &state, Access::Read, |c| {
        ok(keys::list(&c.ctx, c.now)?)
    })
    .await
}

/// Adds a new active key for every algorithm; the previous keys stop signing and stay
/// published for the longest ID token lifetime.
#[utoipa::path(
    operation_id = "rotateKeys",
    post,
    path = "/admin/api/v1/keys/rotate",
    tag = "keys",
    responses((status = 200, body = RotatedKeys))
)]
pub(super) async fn rotate_keys(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    call(&req, &state, Access::Change, |c| {
        let kids = keys::rotate(&c.ctx, &c.principal.actor(), c.now)?;
        // This instance signs with the new keys at once; others pick them up within a
        // minute (housekeeping).
        if let Err(e) = c.state.reload_keys() {
            tracing::warn!(error = %e, "reloading signing keys after rotation failed");
        }
        ok(RotatedKeys { kids })
    })
    .await
}
