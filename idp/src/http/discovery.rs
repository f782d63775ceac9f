//! Discovery, JWKS, health probes and the stylesheet: documents rendered once and served
//! from memory.

use super::{AppState, blocking};
use actix_web::http::header;
use actix_web::{HttpResponse, web};

pub async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/json")
        .body(state.discovery_json.clone())
}

pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .content_type("application/jwk-set+json")
        .body(state.keys().jwks_json().to_string())
}

pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "live" }))
}

pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.clone();
    match blocking(move || Ok(db.ping())).await {
        Ok(Ok(())) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({ "status": "unavailable", "reason": "database" }))
        }
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "unavailable", "reason": "busy" })),
    }
}

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .content_type("text/css; charset=utf-8")
        .body(include_str!("../../templates/idp.css"))
}

fn script(body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .content_type("text/javascript; charset=utf-8")
        .body(body)
}

pub async fn webauthn_script() -> HttpResponse {
    script(include_str!("../../templates/webauthn.js"))
}

pub async fn face_script() -> HttpResponse {
    script(include_str!("../../templates/face.js"))
}

pub async fn local_time_script() -> HttpResponse {
    script(include_str!("../../templates/local-time.js"))
}
