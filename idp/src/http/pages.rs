//! Server-rendered pages for people: localised, accessible, never cached, and framed by
//! nobody.

use crate::i18n::{Lang, Texts};
use crate::oidc::error::OidcError;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

pub fn lang(req: &HttpRequest, ui_locales: &[String]) -> Lang {
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::choose(ui_locales, accept)
}

pub fn html(status: u16, body: Result<String, askama::Error>) -> HttpResponse {
    match body {
        Ok(body) => HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "page rendering failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub t: &'a Texts,
    pub client_name: &'a str,
    pub tx: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
    pub failed: bool,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub t: &'a Texts,
    pub client_name: &'a str,
    pub tx: &'a str,
    pub csrf: &'a str,
    pub scopes: Vec<&'a str>,
}

#[derive(Template)]
#[template(path = "select_account.html")]
pub struct SelectAccountPage<'a> {
    pub t: &'a Texts,
    pub client_name: &'a str,
    pub tx: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    t: &'a Texts,
    code: &'a str,
    description: &'a str,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage<'a> {
    pub t: &'a Texts,
    pub done: bool,
    pub csrf: &'a str,
    pub pending: &'a str,
}

/// A readable page for an error that cannot be sent back to a client.
pub fn error_page(
    req: &HttpRequest,
    ui_locales: &[String],
    status: u16,
    e: &OidcError,
) -> HttpResponse {
    let t = lang(req, ui_locales).texts();
    html(
        status,
        ErrorPage {
            t,
            code: e.code.as_str(),
            description: &e.description,
        }
        .render(),
    )
}

/// What a scope means, in the citizen's language.
pub fn describe_scope<'a>(t: &'a Texts, scope: &'a str) -> &'a str {
    match scope {
        "openid" => t.scope_openid,
        "profile" => t.scope_profile,
        "email" => t.scope_email,
        other => other,
    }
}
