//! `/audit` (the log, its verification, export, checkpoints and statistics) and `/keys`
//! (signing keys).

use super::{AppState, Reply, call, ok, query};
use crate::admin::audit::{self, CheckpointView, Page, Stats};
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
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Whether the hash chain and its signed checkpoints are intact.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Verification {
    pub intact: bool,
    /// The number of sealed events checked, when intact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<i64>,
    /// Signed checkpoints checked, when intact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoints: Option<i64>,
    /// Events appended but not yet sealed (they are sealed within seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<i64>,
    /// The first event that was altered, removed or reordered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Events appended at or after this time (Unix seconds).
    pub from: Option<i64>,
    /// Events appended before this time (Unix seconds).
    pub until: Option<i64>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CheckpointQuery {
    /// How many, newest first, 1-1000 [default: 100].
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Start (Unix seconds).
    pub from: i64,
    /// End (Unix seconds), after `from`.
    pub until: i64,
    /// Interval length in seconds, at least 60, at most 1000 intervals [default: 3600].
    #[param(minimum = 60)]
    pub bucket: Option<i64>,
}

/// The most events one export over the API holds; narrower ranges page through more.
pub const MAX_EXPORT: i64 = 100_000;

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

/// Recomputes the hash chain of the whole log and checks every signed checkpoint.
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
            Ok(v) => Verification {
                intact: true,
                events: Some(v.events),
                checkpoints: Some(v.checkpoints),
                pending: Some(v.pending),
                problem: None,
            },
            Err(p) => Verification {
                intact: false,
                events: None,
                checkpoints: None,
                pending: None,
                problem: Some(p.to_string()),
            },
        };
        ok(v)
    })
    .await
}

/// The log as JSON lines: sealed events (with the exact stored detail) and signed
/// checkpoints in chain order, ending at a checkpoint, verifiable offline with
/// `idp audit verify-export` and the keys at `/audit/keys`.
#[utoipa::path(
    operation_id = "exportAudit",
    get,
    path = "/admin/api/v1/audit/export",
    tag = "audit",
    params(ExportQuery),
    responses(
        (status = 200, description = "One JSON object per line", content_type = "application/x-ndjson", body = String),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn export(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let q = req.query_string().to_string();
    call(&req, &state, Access::Read, move |c| {
        let q: ExportQuery = query(&q)?;
        let mut out = Vec::new();
        let mut events = 0i64;
        let mut sink = |line: &crate::audit::export::Line| {
            if matches!(line, crate::audit::export::Line::Event { .. }) {
                events += 1;
                if events > MAX_EXPORT {
                    return Err(std::io::Error::other("too many events"));
                }
            }
            serde_json::to_writer(&mut out, line)?;
            out.push(b'\n');
            Ok(())
        };
        let range = crate::audit::export::Range {
            from: q.from,
            until: q.until,
        };
        if audit::export(&c.ctx, range, &mut sink)?.is_err() {
            return Err(crate::admin::invalid(
                "until",
                format!("at most {MAX_EXPORT} events per export; choose a narrower from/until"),
            ));
        }
        Ok(Reply::Text("application/x-ndjson", out))
    })
    .await
}

/// The newest signed checkpoints of the chain.
#[utoipa::path(
    operation_id = "listAuditCheckpoints",
    get,
    path = "/admin/api/v1/audit/checkpoints",
    tag = "audit",
    params(CheckpointQuery),
    responses(
        (status = 200, body = Vec<CheckpointView>),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn checkpoints(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let q = req.query_string().to_string();
    call(&req, &state, Access::Read, move |c| {
        let q: CheckpointQuery = query(&q)?;
        ok(audit::checkpoints(&c.ctx, q.limit.unwrap_or(100))?)
    })
    .await
}

/// Sign-in successes, failures and lockouts per interval, for a chart.
#[utoipa::path(
    operation_id = "auditStats",
    get,
    path = "/admin/api/v1/audit/stats",
    tag = "audit",
    params(StatsQuery),
    responses(
        (status = 200, body = Stats),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn stats(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let q = req.query_string().to_string();
    call(&req, &state, Access::Read, move |c| {
        let q: StatsQuery = query(&q)?;
        ok(audit::stats(
            &c.ctx,
            q.from,
            q.until,
            q.bucket.unwrap_or(3600),
        )?)
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

/// Withdraws a signing key that was rotated out, before its time (say it leaked): tokens
/// it signed stop verifying at once. The active key is refused; rotate first.
#[utoipa::path(
    operation_id = "retireKey",
    post,
    path = "/admin/api/v1/keys/{id}/retire",
    tag = "keys",
    params(("id" = String, Path, description = "The key id (kid)")),
    responses(
        (status = 204),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn retire_key(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let kid = super::path_id(&req);
    call(&req, &state, Access::Change, move |c| {
        keys::retire(&c.ctx, &c.principal.actor(), &kid, c.now)?;
        if let Err(e) = c.state.reload_keys() {
            tracing::warn!(error = %e, "reloading signing keys after retirement failed");
        }
        Ok(Reply::NoContent)
    })
    .await
}
