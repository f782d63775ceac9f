//! The UserInfo endpoint: bearer token in the `Authorization` header (GET or POST) or,
//! for POST, in the form body (RFC 6750 2.1, 2.2).

use super::{AppState, blocking, form_params, no_store_json};
use crate::oidc::error::{ErrorCode, OidcError};
use crate::oidc::userinfo;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

fn bearer(req: &HttpRequest) -> Option<Result<String, OidcError>> {
    let h = req.headers().get(header::AUTHORIZATION)?;
    let v = h.to_str().unwrap_or("");
    Some(match v.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("bearer ") && v.len() > 7 => {
            Ok(v[7..].trim().to_string())
        }
        _ => Err(OidcError::invalid_request(
            "the Authorization header must be a Bearer token",
        )),
    })
}

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let token = bearer(&req);
    answer(state, token).await
}

pub async fn post(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let from_header = bearer(&req);
    let token = if body.is_empty() {
        from_header
    } else {
        match form_params(&req, &body) {
            Err(e) => Some(Err(e)),
            Ok(p) => match (from_header, p.get("access_token")) {
                (Some(_), Some(_)) => Some(Err(OidcError::invalid_request(
                    "the access token was given more than once",
                ))),
                (Some(h), None) => Some(h),
                (None, t) => t.map(|t| Ok(t.to_string())),
            },
        }
    };
    answer(state, token).await
}

async fn answer(
    state: web::Data<AppState>,
    token: Option<Result<String, OidcError>>,
) -> HttpResponse {
    let token = match token {
        None => {
            return HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"idp\""))
                .finish();
        }
        Some(Err(e)) => return bearer_error(&e),
        Some(Ok(t)) => t,
    };
    let st = state.into_inner();
    let now = st.clock.now();
    match blocking(move || userinfo::userinfo(&st.bearer(), &token, now)).await {
        Ok(claims) => no_store_json(serde_json::Value::Object(claims).to_string()),
        Err(e) => bearer_error(&e),
    }
}

/// RFC 6750 3: the error in `WWW-Authenticate` as well as in the body.
fn bearer_error(e: &OidcError) -> HttpResponse {
    let status = match e.code {
        ErrorCode::InvalidRequest => 400,
        other => other.status(),
    };
    let challenge = format!(
        "Bearer realm=\"idp\", error=\"{}\", error_description=\"{}\"",
        e.code.as_str(),
        e.description.replace(['"', '\\'], "'")
    );
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::UNAUTHORIZED),
    )
    .insert_header((header::WWW_AUTHENTICATE, challenge))
    .insert_header((header::CACHE_CONTROL, "no-store"))
    .json(serde_json::json!({ "error": e.code.as_str(), "error_description": e.description }))
}
