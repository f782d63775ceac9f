//! The Admin API under `/admin/api/v1`: JSON over HTTP for the administration layer
//! (`crate::admin`). Handlers parse the request, check the bearer token
//! (`admin::roles::authorize`), call the operation on a blocking thread and map its
//! answer; errors are RFC 9457 problem details. The OpenAPI 3.1 document is generated
//! from the handlers and types here and served at `/admin/api/v1/openapi.json`.

mod audit;
mod clients;
mod enrolment;
mod policy;
mod registrations;
mod users;

use super::AppState;
use crate::admin::roles::{self, Access, Principal, Refusal};
use crate::admin::{AdminError, AdminResult, Context};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

pub const BASE: &str = "/admin/api/v1";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Identity provider Admin API",
        version = "1",
        description = "Administration of relying parties, accounts, signing keys and the audit log. \
            Every call needs a bearer access token issued by this provider with the `admin` \
            scope, for a sign-in at `http://eidas.europa.eu/LoA/high`, whose subject holds the \
            role `administrator` (everything), `auditor` (GET only, not the registration \
            queue) or `clerk` (the registration queue only)."
    ),
    paths(
        clients::list,
        clients::create,
        clients::show,
        clients::update,
        clients::remove,
        clients::rotate_secret,
        users::search,
        users::show,
        users::disable,
        users::enable,
        users::unlock,
        users::remove,
        users::create,
        users::update,
        users::me,
        users::lookup,
        users::end_sessions,
        users::end_session,
        users::reset_factor,
        policy::get,
        policy::put,
        enrolment::check,
        enrolment::begin_face,
        enrolment::enrol_face,
        enrolment::begin_voice,
        enrolment::enrol_voice,
        audit::search,
        audit::verify,
        audit::export,
        audit::checkpoints,
        audit::stats,
        audit::list_keys,
        audit::rotate_keys,
        audit::retire_key,
        registrations::list,
        registrations::show,
        registrations::image,
        registrations::approve,
        registrations::reject,
        openapi_json,
    ),
    components(schemas(Problem, crate::admin::registrations::Picture)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "clients", description = "Relying parties"),
        (name = "users", description = "Citizens' accounts"),
        (name = "audit", description = "The audit log"),
        (name = "keys", description = "Signing keys"),
        (name = "registrations", description = "Registrations for face sign-in, for clerks"),
        (name = "policy", description = "Assurance levels, scope risk levels, lockout, sessions"),
        (name = "enrolment", description = "Service-centre enrolment of a citizen present in person, for clerks"),
    )
)]
pub struct ApiDoc;

/// Adds the bearer scheme, the refusals every protected operation can answer (401, 403)
/// and a description to every response that has none.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        let problem = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/problem+json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build(),
            )
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let protected = !path.ends_with("/openapi.json");
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.put,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let responses = &mut op.responses.responses;
                if protected {
                    responses.entry("401".into()).or_insert_with(|| {
                        problem(
                            "No valid access token, or one from a sign-in below level high \
                             (WWW-Authenticate: Bearer, RFC 9470 insufficient_user_authentication)",
                        )
                    });
                    responses.entry("403".into()).or_insert_with(|| {
                        problem("The token lacks the admin scope, or the role does not allow this")
                    });
                }
                for (status, r) in responses.iter_mut() {
                    if let RefOr::T(r) = r
                        && r.description.is_empty()
                    {
                        r.description = describe(status).to_string();
                    }
                }
            }
        }
    }
}

fn describe(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "204" => "No content",
        "400" => "Invalid input (problem details name the field)",
        "404" => "Not found",
        "409" => "Exists already",
        _ => "See the problem details",
    }
}

/// The OpenAPI document, as served.
pub fn openapi_document() -> String {
    ApiDoc::openapi()
        .to_json()
        .unwrap_or_else(|_| "{}".to_string())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    use web::{delete, get, patch, post, put};
    // `allow` lists the resource's methods for the 405 answer to any other (RFC 9110 15.5.6).
    let resource = |path: &str, allow: &'static str| {
        web::resource(path).default_service(web::to(move || method_not_allowed(allow)))
    };
    cfg.service(
        web::scope(BASE)
            .service(resource("/openapi.json", "GET").route(get().to(openapi_json)))
            .service(
                resource("/clients", "GET, POST")
                    .route(get().to(clients::list))
                    .route(post().to(clients::create)),
            )
            .service(
                resource("/clients/{id}", "GET, PATCH, DELETE")
                    .route(get().to(clients::show))
                    .route(patch().to(clients::update))
                    .route(delete().to(clients::remove)),
            )
            .service(
                resource("/clients/{id}/secret", "POST").route(post().to(clients::rotate_secret)),
            )
            .service(
                resource("/users", "GET, POST")
                    .route(get().to(users::search))
                    .route(post().to(users::create)),
            )
            .service(resource("/me", "GET").route(get().to(users::me)))
            .service(resource("/users/lookup", "GET").route(get().to(users::lookup)))
            .service(
                resource("/users/{id}", "GET, PATCH, DELETE")
                    .route(get().to(users::show))
                    .route(patch().to(users::update))
                    .route(delete().to(users::remove)),
            )
            .service(resource("/users/{id}/disable", "POST").route(post().to(users::disable)))
            .service(resource("/users/{id}/enable", "POST").route(post().to(users::enable)))
            .service(resource("/users/{id}/unlock", "POST").route(post().to(users::unlock)))
            .service(
                resource("/users/{id}/sessions/end", "POST").route(post().to(users::end_sessions)),
            )
            .service(
                resource("/users/{id}/factors/{factor}", "DELETE")
                    .route(delete().to(users::reset_factor)),
            )
            .service(resource("/sessions/{id}", "DELETE").route(delete().to(users::end_session)))
            .service(
                resource("/users/{id}/enrolment/check", "POST").route(post().to(enrolment::check)),
            )
            .service(
                resource("/users/{id}/enrolment/face/begin", "POST")
                    .route(post().to(enrolment::begin_face)),
            )
            .service(
                resource("/users/{id}/enrolment/face", "POST")
                    .app_data(web::PayloadConfig::new(super::MAX_CAPTURE))
                    .route(post().to(enrolment::enrol_face)),
            )
            .service(
                resource("/users/{id}/enrolment/voice/begin", "POST")
                    .route(post().to(enrolment::begin_voice)),
            )
            .service(
                resource("/users/{id}/enrolment/voice", "POST")
                    .app_data(web::PayloadConfig::new(super::MAX_RECORDING))
                    .route(post().to(enrolment::enrol_voice)),
            )
            .service(
                resource("/policy", "GET, PUT")
                    .route(get().to(policy::get))
                    .route(put().to(policy::put)),
            )
            .service(resource("/audit", "GET").route(get().to(audit::search)))
            .service(resource("/audit/verify", "GET").route(get().to(audit::verify)))
            .service(resource("/audit/export", "GET").route(get().to(audit::export)))
            .service(resource("/audit/checkpoints", "GET").route(get().to(audit::checkpoints)))
            .service(resource("/audit/stats", "GET").route(get().to(audit::stats)))
            .service(resource("/keys", "GET").route(get().to(audit::list_keys)))
            .service(resource("/keys/rotate", "POST").route(post().to(audit::rotate_keys)))
            .service(resource("/keys/{id}/retire", "POST").route(post().to(audit::retire_key)))
            .service(resource("/registrations", "GET").route(get().to(registrations::list)))
            .service(resource("/registrations/{id}", "GET").route(get().to(registrations::show)))
            .service(
                resource("/registrations/{id}/images/{which}", "GET")
                    .route(get().to(registrations::image)),
            )
            .service(
                resource("/registrations/{id}/approve", "POST")
                    .route(post().to(registrations::approve)),
            )
            .service(
                resource("/registrations/{id}/reject", "POST")
                    .route(post().to(registrations::reject)),
            )
            .default_service(web::to(not_found)),
    );
}

/// The OpenAPI 3.1 document of this API (needs no token).
#[utoipa::path(
    get,
    operation_id = "openapi",
    path = "/admin/api/v1/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(openapi_document())
}

async fn not_found() -> HttpResponse {
    problem(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "there is no such resource in the Admin API",
        None,
    )
}

async fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut res = problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "this resource does not support the method",
        None,
    );
    res.headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    res
}

/// An RFC 9457 problem detail.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What went wrong, for the administrator to read.
    pub detail: String,
    /// For a validation error: the input that was refused, as this API names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

const PROBLEM_BASE: &str = "tag:idp,2026:admin-api:problem:";

fn problem(
    status: StatusCode,
    kind: &str,
    title: &str,
    detail: &str,
    field: Option<&str>,
) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("application/problem+json")
        .json(Problem {
            kind: format!("{PROBLEM_BASE}{kind}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail: detail.to_string(),
            field: field.map(str::to_string),
        })
}

fn admin_error(e: &AdminError) -> HttpResponse {
    match e {
        AdminError::Invalid { field, reason } => problem(
            StatusCode::BAD_REQUEST,
            "validation",
            "Invalid input",
            reason,
            Some(field),
        ),
        AdminError::WeakPassword(_) => problem(
            StatusCode::BAD_REQUEST,
            "validation",
            "Invalid input",
            &e.to_string(),
            Some("password"),
        ),
        AdminError::NotFound { .. } => problem(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            &e.to_string(),
            None,
        ),
        AdminError::Conflict { .. } => problem(
            StatusCode::CONFLICT,
            "conflict",
            "Conflict",
            &e.to_string(),
            None,
        ),
        AdminError::Store(s) if s.is_transient() => {
            tracing::warn!(error = %e, "admin API operation met a busy database");
            let mut res = problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Temporarily unavailable",
                "the database is busy; nothing was changed; retry shortly",
                None,
            );
            res.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from_static("1"),
            );
            res
        }
        AdminError::Store(_) | AdminError::Keys(_) | AdminError::Rotation(_) => {
            tracing::error!(error = %e, "admin API operation failed");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server",
                "Server error",
                "the operation failed on the server; it was not carried out",
                None,
            )
        }
    }
}

fn refusal(r: &Refusal) -> HttpResponse {
    let (status, challenge, kind, title, detail) = match r {
        Refusal::InvalidToken => (
            StatusCode::UNAUTHORIZED,
            "Bearer realm=\"admin\", error=\"invalid_token\"".to_string(),
            "invalid-token",
            "Unauthorized",
            "the access token is invalid, expired or revoked",
        ),
        Refusal::InsufficientScope => (
            StatusCode::FORBIDDEN,
            format!(
                "Bearer realm=\"admin\", error=\"insufficient_scope\", scope=\"{}\"",
                crate::policy::ADMIN_SCOPE
            ),
            "insufficient-scope",
            "Forbidden",
            "the access token was not issued to a person with the admin scope",
        ),
        Refusal::InsufficientAssurance { required } => (
            StatusCode::UNAUTHORIZED,
            format!(
                "Bearer realm=\"admin\", error=\"insufficient_user_authentication\", \
                 error_description=\"a sign-in at a higher level of assurance is required\", \
                 acr_values=\"{required}\""
            ),
            "insufficient-user-authentication",
            "Unauthorized",
            "the sign-in behind the access token did not reach the level of assurance high",
        ),
        Refusal::Forbidden => (
            StatusCode::FORBIDDEN,
            String::new(),
            "forbidden",
            "Forbidden",
            "your administrative role does not allow this operation",
        ),
    };
    let mut res = problem(status, kind, title, detail, None);
    if let Ok(v) = header::HeaderValue::from_str(&challenge)
        && !challenge.is_empty()
    {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

fn no_token() -> HttpResponse {
    let mut res = problem(
        StatusCode::UNAUTHORIZED,
        "no-token",
        "Unauthorized",
        "an access token is required (Authorization: Bearer)",
        None,
    );
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"admin\""),
    );
    res
}

/// The bearer token of the request (RFC 6750 2.1), if any.
fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

/// What a successful operation answers.
enum Reply {
    Json(StatusCode, Value),
    /// A body of this content type.
    Text(&'static str, Vec<u8>),
    NoContent,
}

fn ok(value: impl Serialize) -> AdminResult<Reply> {
    json(StatusCode::OK, value)
}

fn json(status: StatusCode, value: impl Serialize) -> AdminResult<Reply> {
    let v = serde_json::to_value(value).map_err(|e| {
        crate::admin::AdminError::Store(crate::store::StoreError::Corrupt(e.to_string()))
    })?;
    Ok(Reply::Json(status, v))
}

/// What an operation is given: the provider, the administrator and the time.
struct Call<'a> {
    ctx: Context<'a>,
    state: &'a AppState,
    principal: Principal,
    now: i64,
}

/// Checks the token for `access`, then runs the operation on a blocking thread.
async fn call(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    access: Access,
    op: impl FnOnce(&Call) -> AdminResult<Reply> + Send + 'static,
) -> HttpResponse {
    let Some(token) = bearer(req) else {
        return no_token();
    };
    let ip = super::client_ip(state, req);
    let state = state.clone().into_inner();
    let answer = web::block(move || -> AdminResult<Result<Reply, Refusal>> {
        let ctx = Context::from(&*state);
        let now = state.clock.now();
        match roles::authorize(&ctx, &state.bearer(), &token, access, now)? {
            Err(r) => Ok(Err(r)),
            Ok(mut principal) => {
                principal.ip = ip;
                let call = Call {
                    ctx,
                    state: &state,
                    principal,
                    now,
                };
                op(&call).map(Ok)
            }
        }
    })
    .await;
    match answer {
        // The blocking pool queues work rather than refusing it: this is the operation
        // having panicked, a fault of the server, not a busy one.
        Err(_) => {
            tracing::error!("admin API operation panicked");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server",
                "Server error",
                "the operation failed on the server",
                None,
            )
        }
        Ok(Err(e)) => admin_error(&e),
        Ok(Ok(Err(r))) => refusal(&r),
        Ok(Ok(Ok(Reply::NoContent))) => HttpResponse::NoContent()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Ok(Ok(Ok(Reply::Text(content_type, body)))) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .content_type(content_type)
            .body(body),
        Ok(Ok(Ok(Reply::Json(status, v)))) => HttpResponse::build(status)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(v),
    }
}

/// A JSON request body; an empty body is `{}`.
fn body<T: DeserializeOwned>(bytes: &[u8]) -> AdminResult<T> {
    // No body at all is an empty object; anything else must be JSON (white space alone is
    // not, and is refused like any other malformed body).
    let bytes: &[u8] = if bytes.is_empty() { b"{}" } else { bytes };
    serde_json::from_slice(bytes)
        .map_err(|e| crate::admin::invalid("body", format!("not the expected JSON: {e}")))
}

/// The query string's parameters.
fn query<T: DeserializeOwned>(q: &str) -> AdminResult<T> {
    web::Query::<T>::from_query(q)
        .map(web::Query::into_inner)
        .map_err(|e| crate::admin::invalid("query", e.to_string()))
}

/// The `{id}` of the path.
fn path_id(req: &HttpRequest) -> String {
    req.match_info().get("id").unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_named_and_documents_its_refusals() {
        let doc: Value = serde_json::from_str(&openapi_document()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
        let mut ids = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            assert!(path.starts_with(BASE), "{path}");
            for (method, op) in item.as_object().unwrap() {
                ids.push(op["operationId"].as_str().unwrap().to_string());
                let responses = op["responses"].as_object().unwrap();
                assert!(
                    responses.values().all(|r| r["description"] != ""),
                    "{method} {path}"
                );
                if !path.ends_with("/openapi.json") {
                    for status in ["401", "403"] {
                        assert!(responses.contains_key(status), "{method} {path} {status}");
                    }
                }
            }
        }
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "operation ids are unique");
    }
}
