//! Discovery, WebFinger, JWKS, health probes and the stylesheet: documents rendered once and served
//! from memory.

use super::{AppState, blocking};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

pub async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/json")
        .body(state.discovery_json().to_string())
}

/// WebFinger (RFC 7033) for issuer discovery: `resource` once, `rel` any number of times.
pub async fn webfinger(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let resources: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "resource")
        .map(|(_, v)| v.as_str())
        .collect();
    let rels: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "rel")
        .map(|(_, v)| v.as_str())
        .collect();
    let [resource] = resources[..] else {
        return HttpResponse::BadRequest()
            .json(serde_json::json!({ "error": "invalid_request", "error_description": "give one resource" }));
    };
    match crate::oidc::discovery::webfinger(&state.provider, resource, &rels) {
        Some(jrd) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .content_type("application/jrd+json")
            .body(jrd.to_string()),
        None => HttpResponse::NotFound().finish(),
    }
}

pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .content_type("application/jwk-set+json")
        .body(state.keys().jwks_json().to_string())
}

/// The public keys that sign the audit log's checkpoints, retired ones included, for
/// anyone verifying an export (`idp audit verify-export`).
pub async fn audit_keys(state: web::Data<AppState>) -> HttpResponse {
    let svc = state.into_inner();
    let found = blocking(move || {
        crate::admin::audit::keys(&crate::admin::Context::from(&*svc))
            .map_err(crate::oidc::error::OidcError::server)
    })
    .await;
    match found {
        Ok(jwks) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
            .content_type("application/jwk-set+json")
            .json(jwks),
        Err(e) => super::json_error(&e),
    }
}

/// The newest signed checkpoint of the audit chain (its place, hash and JWS), so that a
/// third party can record the log's head as it goes and later hold the provider to it.
pub async fn audit_checkpoint(state: web::Data<AppState>) -> HttpResponse {
    let svc = state.into_inner();
    let found = blocking(move || {
        crate::admin::audit::checkpoints(&crate::admin::Context::from(&*svc), 1)
            .map_err(crate::oidc::error::OidcError::server)
    })
    .await;
    match found {
        Ok(list) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .json(list.first()),
        Err(e) => super::json_error(&e),
    }
}

pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "live" }))
}

/// Ready when the database answers and the signing keys can sign.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let svc = state.into_inner();
    match blocking(move || Ok(svc.ready())).await {
        Ok(Ok(())) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Ok(Err(reason)) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "unavailable", "reason": reason })),
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "unavailable", "reason": "busy" })),
    }
}

/// Prometheus metrics, for the addresses that may scrape them (loopback and the trusted
/// proxies): others get "not found", as for any page that is not theirs.
pub async fn metrics(req: actix_web::HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let peer = req.peer_addr().map(|a| a.ip());
    let allowed =
        peer.is_some_and(|ip| ip.is_loopback() || state.config.trusted_proxies.contains(&ip));
    if !allowed {
        return super::not_found(req).await;
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; version=0.0.4")
        .body(crate::metrics::get().render())
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

pub async fn voice_script() -> HttpResponse {
    script(include_str!("../../templates/voice.js"))
}

pub async fn logout_script() -> HttpResponse {
    script(include_str!("../../templates/logout.js"))
}

pub async fn form_post_script() -> HttpResponse {
    script(include_str!("../../templates/form-post.js"))
}

pub async fn dev_callback_script() -> HttpResponse {
    script(include_str!("../../templates/dev-callback.js"))
}

pub async fn account_script() -> HttpResponse {
    script(include_str!("../../templates/account.js"))
}

pub async fn local_time_script() -> HttpResponse {
    script(include_str!("../../templates/local-time.js"))
}
