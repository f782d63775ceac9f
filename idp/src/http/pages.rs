//! Server-rendered pages for people: localised, accessible, never cached, and framed by
//! nobody.

use crate::i18n::{Lang, Texts};
use crate::oidc::error::OidcError;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

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
    /// Shown in an alert when not empty.
    pub error: &'a str,
    /// Offer sign-in with a client certificate.
    pub certificate: bool,
}

#[derive(Template)]
#[template(path = "factor.html")]
pub struct FactorPage<'a> {
    pub t: &'a Texts,
    pub client_name: &'a str,
    pub tx: &'a str,
    pub csrf: &'a str,
    /// `webauthn`, `totp` or `recovery`.
    pub factor: &'a str,
    /// Other factors the citizen may use instead: (name, link text).
    pub alternatives: Vec<(&'a str, &'a str)>,
    /// For codes by SMS or e-mail: a code was sent, ask for it.
    pub sent: bool,
    pub error: &'a str,
}

pub struct SessionRow {
    pub sid: String,
    pub started: String,
    pub last_seen: String,
    pub current: bool,
}

pub struct ConsentRow {
    pub client_id: String,
    pub client_name: String,
    pub scopes: String,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    pub t: &'a Texts,
    pub display_name: &'a str,
    pub csrf: &'a str,
    pub totp: bool,
    pub recovery_left: usize,
    /// Registered passkeys: (credential row id, name).
    pub passkeys: Vec<(String, String)>,
    /// Whether passkeys can be added (the issuer's host is a domain name).
    pub webauthn: bool,
    /// The citizen's recent audit events: (time, what, particulars).
    pub activity: Vec<(String, &'a str, String)>,
    pub sessions: Vec<SessionRow>,
    pub consents: Vec<ConsentRow>,
}

#[derive(Template)]
#[template(path = "totp_setup.html")]
pub struct TotpSetupPage<'a> {
    pub t: &'a Texts,
    pub csrf: &'a str,
    pub qr_svg: &'a str,
    pub key: &'a str,
    pub error: &'a str,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage<'a> {
    pub t: &'a Texts,
    pub codes: &'a [String],
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
    html(status, error_body(t, e.code.as_str(), &e.description))
}

pub fn error_body(t: &Texts, code: &str, description: &str) -> Result<String, askama::Error> {
    ErrorPage {
        t,
        code,
        description,
    }
    .render()
}

/// A Unix time as `YYYY-MM-DD HH:MM UTC`.
pub fn utc(t: i64) -> String {
    // Days to civil date (H. Hinnant's algorithm).
    let (days, secs) = (t.div_euclid(86400), t.rem_euclid(86400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// A QR code as an inline SVG (black modules on white, with the standard quiet zone).
pub fn qr_svg(text: &str) -> Option<String> {
    let qr = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium).ok()?;
    let size = qr.size();
    let border = 4;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    let dim = size + 2 * border;
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {dim} {dim}\" shape-rendering=\"crispEdges\" aria-hidden=\"true\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc(1_795_000_000), "2026-11-18 11:06 UTC");
    }

    #[test]
    fn qr_codes_are_svg() {
        let svg = qr_svg("otpauth://totp/x?secret=AAAA").unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<path d=\"M"));
    }
}
