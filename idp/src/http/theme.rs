//! What frames the citizen's pages: the language switcher, the operator's logo and colour
//! (see `crate::theme`), and the logos of services (see `crate::oidc::logo`).

use super::{AppState, LANG_COOKIE, pages, see_other};
use crate::i18n::Lang;
use crate::oidc::error::OidcError;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// How long the chosen language is remembered: a year.
const REMEMBERED: i64 = 365 * 24 * 3600;

/// `GET /language?to=hu&back=/account`: remembers the language and goes back to the page.
pub async fn switch(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let query = crate::oidc::params::Params::parse(req.query_string().as_bytes()).ok();
    let lang = query
        .as_ref()
        .and_then(|q| q.get("to"))
        .and_then(Lang::from_tag);
    let back = query
        .as_ref()
        .and_then(|q| q.get("back"))
        .and_then(pages::safe_back);
    match (lang, back) {
        (Some(lang), Some(back)) => {
            let mut res = see_other(back);
            let code = lang.texts().code.to_string();
            let _ = res.add_cookie(&state.cookie(LANG_COOKIE, code, Some(REMEMBERED)));
            res
        }
        _ => pages::error_page(
            &req,
            &[],
            400,
            &OidcError::invalid_request("to must be a language of the pages and back a path"),
        ),
    }
}

/// The operator's logo, when one is configured.
pub async fn logo(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match &state.config.theme.logo {
        Some(logo) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            // An SVG opened on its own runs nothing.
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            ))
            .content_type(logo.content_type)
            .body(logo.bytes.clone()),
        None => super::not_found(req).await,
    }
}

/// A service's logo, as the provider keeps it (a PNG it made).
pub async fn client_logo(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let st = state.into_inner();
    let id = id.into_inner();
    match super::blocking(move || crate::oidc::logo::kept(&st.db, &id)).await {
        Ok(Some(png)) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox",
            ))
            .content_type("image/png")
            .body(png),
        Ok(None) => super::not_found(req).await,
        Err(e) => pages::error_page(&req, &[], e.code.status(), &e),
    }
}

/// The operator's colour, when one is configured.
pub async fn stylesheet(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match state.config.theme.stylesheet() {
        Some(css) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .content_type("text/css; charset=utf-8")
            .body(css),
        None => super::not_found(req).await,
    }
}
