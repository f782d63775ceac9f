//! RP-Initiated Logout 1.0 over HTTP: the pages and the session cookie; what is decided
//! is `login::logout`'s.

use super::pages::{self, LogoutPage};
use super::{AppState, SESSION_COOKIE, blocking, form_params, query_params, see_other};
use crate::crypto;
use crate::login::logout::{self, Ending};
use crate::oidc::error::OidcError;
use crate::oidc::params::Params;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let params = query_params(&req);
    let raw = req.query_string().to_string();
    handle(req, state, params, raw, false).await
}

pub async fn post(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let params = form_params(&req, &body);
    let raw = String::from_utf8_lossy(&body).into_owned();
    handle(req, state, params, raw, false).await
}

/// The confirmation form: the original request comes back in `pending` and is checked
/// again; `csrf` proves the form was served to this browser's session.
pub async fn confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let form = match form_params(&req, &body) {
        Ok(f) => f,
        Err(e) => return pages::error_page(&req, &[], 400, &e),
    };
    let cookie = state.read_cookie(&req, SESSION_COOKIE);
    let csrf_ok = match (&cookie, form.get("csrf")) {
        (Some(c), Some(t)) => crypto::constant_time_eq(&csrf_for(c), t),
        _ => false,
    };
    if !csrf_ok {
        return pages::error_page(
            &req,
            &[],
            400,
            &OidcError::invalid_request("the form has expired; sign out again")
                .told_as(crate::oidc::error::Situation::FormExpired),
        );
    }
    let raw = form.get("pending").unwrap_or("").to_string();
    let params = Params::parse(raw.as_bytes());
    handle(req, state, params, raw, true).await
}

fn csrf_for(session_cookie: &str) -> String {
    super::session_csrf("logout", session_cookie)
}

async fn handle(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: Result<Params, OidcError>,
    raw: String,
    confirmed: bool,
) -> HttpResponse {
    let params = match params {
        Ok(p) => p,
        Err(e) => return pages::error_page(&req, &[], 400, &e),
    };
    let cookie = state.read_cookie(&req, SESSION_COOKIE);
    let st = state.clone().into_inner();
    let cookie_for_block = cookie.clone();
    let now = state.clock.now();
    let ending =
        blocking(move || logout::end(&st, &params, cookie_for_block.as_deref(), confirmed, now))
            .await;
    match ending {
        Err(e) => pages::error_page(&req, &[], e.code.status(), &e),
        Ok(Ending::Ask {
            request,
            account,
            service,
        }) => {
            let t = &pages::chrome(&req, pages::lang(&req, &request.ui_locales));
            let csrf = cookie.as_deref().map(csrf_for).unwrap_or_default();
            pages::html(
                200,
                LogoutPage {
                    t,
                    done: false,
                    csrf: &csrf,
                    pending: &raw,
                    account: &account,
                    service: service.as_deref(),
                    frontchannel: &[],
                    next: None,
                }
                .render(),
            )
        }
        Ok(Ending::Done {
            request,
            frontchannel,
        }) => {
            let next = request.redirect.as_ref().map(|(uri, client_state)| {
                let mut url = url::Url::parse(uri).ok();
                if let (Some(u), Some(s)) = (url.as_mut(), client_state) {
                    u.query_pairs_mut().append_pair("state", s);
                }
                url.map(|u| u.to_string()).unwrap_or_else(|| uri.clone())
            });
            let mut res = match next {
                // Nothing for the browser to load first: straight back to the service.
                Some(next) if frontchannel.is_empty() => see_other(&next),
                next => {
                    let t = &pages::chrome(&req, pages::lang(&req, &request.ui_locales));
                    let page = LogoutPage {
                        t,
                        done: true,
                        csrf: "",
                        pending: "",
                        account: "",
                        service: None,
                        frontchannel: &frontchannel,
                        next: next.as_deref(),
                    };
                    pages::html_framing(200, page.render(), &frontchannel)
                }
            };
            if cookie.is_some() {
                let mut gone = state.cookie(SESSION_COOKIE, String::new(), Some(0));
                gone.make_removal();
                let _ = res.add_cookie(&gone);
            }
            res
        }
    }
}
