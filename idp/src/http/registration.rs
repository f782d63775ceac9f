//! Dynamic client registration over HTTP (RFC 7591, RFC 7592): JSON in, JSON out; what is
//! decided is `oidc::registration`'s.

use super::{AppState, blocking, client_ip};
use crate::admin::Actor;
use crate::oidc::registration::{self, Refused};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

/// The bearer token of the `Authorization` header, if any.
fn bearer(req: &HttpRequest) -> Option<String> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

fn answer(status: StatusCode, result: Result<Option<Value>, Refused>) -> HttpResponse {
    let (status, body) = match result {
        Ok(body) => (status, body),
        Err(r) => {
            let mut res = HttpResponse::build(
                StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST),
            );
            if r.status == 401 {
                res.insert_header((header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\""));
            }
            return res
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(r.body());
        }
    };
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CACHE_CONTROL, "no-store"));
    match body {
        Some(b) => res.json(b),
        None => res.finish(),
    }
}

/// Runs a registration operation on a blocking thread with the request's token and actor.
async fn run(
    req: &HttpRequest,
    state: web::Data<AppState>,
    status: StatusCode,
    op: impl FnOnce(&AppState, Option<&str>, &Actor, i64) -> Result<Option<Value>, Refused>
    + Send
    + 'static,
) -> HttpResponse {
    let token = bearer(req);
    let actor = Actor::Registration {
        ip: client_ip(&state, req),
    };
    let st = state.into_inner();
    let now = st.clock.now();
    let result = blocking(move || Ok(op(&st, token.as_deref(), &actor, now))).await;
    match result {
        Ok(r) => answer(status, r),
        Err(e) => super::json_error(&e),
    }
}

pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    run(
        &req,
        state,
        StatusCode::CREATED,
        move |st, token, actor, now| registration::register(st, token, &body, actor, now).map(Some),
    )
    .await
}

fn client_id(req: &HttpRequest) -> String {
    req.match_info().get("id").unwrap_or_default().to_string()
}

pub async fn read(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let id = client_id(&req);
    run(&req, state, StatusCode::OK, move |st, token, _, _| {
        registration::read(st, &id, token).map(Some)
    })
    .await
}

pub async fn replace(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let id = client_id(&req);
    run(&req, state, StatusCode::OK, move |st, token, actor, now| {
        registration::replace(st, &id, token, &body, actor, now).map(Some)
    })
    .await
}

pub async fn remove(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let id = client_id(&req);
    run(
        &req,
        state,
        StatusCode::NO_CONTENT,
        move |st, token, actor, now| {
            registration::remove(st, &id, token, actor, now).map(|()| None)
        },
    )
    .await
}
