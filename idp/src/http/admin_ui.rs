//! The Admin UI under `/admin`: the browser app built from `admin-ui/` and committed as
//! `admin-ui/dist`, embedded in the binary so that serving it needs no Node.js. Hashed
//! assets are cached for good; every other path is the app's page, whose script routes
//! it in the browser. The app talks only to the Admin API and signs in through the
//! provider as the built-in client `admin-console` (`crate::admin::console`).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../admin-ui/dist/"]
struct Build;

/// Scripts and styles only from here; pictures also from `blob:` (the registration
/// queue's document and face images, fetched with the bearer token); API calls only to
/// this origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
     font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(page))
        .route("/admin/assets/{file:.+}", web::get().to(asset))
        .route("/admin/{path:.*}", web::get().to(page));
}

/// A built file under `assets/`: its name carries its hash, so it never changes.
async fn asset(req: HttpRequest) -> HttpResponse {
    let name = req.match_info().get("file").unwrap_or("");
    match Build::get(&format!("assets/{name}")) {
        Some(file) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, content_type(name)))
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .body(file.data.into_owned()),
        None => HttpResponse::NotFound()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .content_type("text/plain; charset=utf-8")
            .body("no such file"),
    }
}

/// The app's page, for every route of the app (the script reads the path).
async fn page(req: HttpRequest) -> HttpResponse {
    // The API's unknown paths answer as the API does, not with the page.
    if req.path().starts_with("/admin/api/") {
        return HttpResponse::NotFound()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .content_type("application/problem+json")
            .body(r#"{"type":"tag:idp,2026:admin-api:problem:not-found","title":"Not found","status":404,"detail":"there is no such resource in the Admin API"}"#);
    }
    let Some(file) = Build::get("index.html") else {
        tracing::error!("the admin UI's index.html is missing from the build");
        return HttpResponse::InternalServerError().finish();
    };
    let mut res = HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .content_type("text/html; charset=utf-8")
        .body(file.data.into_owned());
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    res
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "json" | "map" => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_is_embedded_and_its_page_loads_only_embedded_assets() {
        let index = Build::get("index.html").expect("index.html is embedded");
        let html = String::from_utf8(index.data.into_owned()).expect("UTF-8");
        let mut refs = 0;
        for part in html.split("/admin/assets/").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| !matches!(c, '"' | '\'' | ' ' | '>'))
                .collect();
            assert!(
                Build::get(&format!("assets/{name}")).is_some(),
                "assets/{name} is embedded"
            );
            assert_ne!(content_type(&name), "application/octet-stream", "{name}");
            refs += 1;
        }
        assert!(
            refs >= 2,
            "the page loads its script and stylesheet: {html}"
        );
    }

    #[test]
    fn the_audit_view_names_every_kind_of_event() {
        // The app's dictionary; tests/browser/admin-build checks the other languages.
        let texts = include_str!("../../../admin-ui/src/messages.js");
        let missing: Vec<&str> = crate::audit::Kind::ALL
            .iter()
            .map(|k| k.name())
            .filter(|name| !texts.contains(&format!("'kind.{name}'")))
            .collect();
        assert!(
            missing.is_empty(),
            "admin-ui/src/messages.js lacks {missing:?}"
        );
    }
}
