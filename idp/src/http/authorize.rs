//! The authorization endpoint (GET and POST). A request that needs nothing from the
//! citizen is answered at once; otherwise a login transaction is stored and the browser
//! goes to the interaction pages.

use super::{AppState, BROWSER_COOKIE, SESSION_COOKIE, blocking, form_params, pages, query_params};
use crate::crypto;
use crate::login::flow::{self, Begun, Purpose};
use crate::oidc::authorize::{self, AuthorizeError, ClientResponse};
use crate::oidc::error::OidcError;
use crate::oidc::params::Params;
use actix_web::{HttpRequest, HttpResponse, web};

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let params = query_params(&req);
    handle(req, state, params).await
}

pub async fn post(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let params = form_params(&req, &body);
    handle(req, state, params).await
}

enum Outcome {
    Page(OidcError),
    ToClient(ClientResponse),
    Interaction(String),
}

async fn handle(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: Result<Params, OidcError>,
) -> HttpResponse {
    let params = match params {
        Ok(p) => p,
        Err(e) => return pages::error_page(&req, &[], 400, &e),
    };
    let ui_locales = crate::oidc::params::space_list(params.get("ui_locales"));
    let session_cookie = state.read_cookie(&req, SESSION_COOKIE);
    let existing_browser = state.read_cookie(&req, BROWSER_COOKIE);
    let browser = existing_browser
        .clone()
        .unwrap_or_else(crypto::random_token);
    let st = state.clone().into_inner();
    let browser_for_tx = browser.clone();
    let now = state.clock.now();
    let outcome = blocking(move || {
        let keys = st.keys();
        let policy = &st.rules().policy;
        let request = match authorize::receive(&st.db, params, &keys, &st.provider, policy, now)? {
            Ok(r) => r,
            Err(AuthorizeError { error, redirect }) => {
                return Ok(match redirect {
                    Some(r) => Outcome::ToClient(flow::error_response(&st, &r, &error)),
                    None => Outcome::Page(error),
                });
            }
        };
        let purpose = Purpose::Authorize(Box::new(request));
        Ok(
            match flow::begin(
                &st,
                purpose,
                session_cookie.as_deref(),
                &browser_for_tx,
                now,
            )? {
                Begun::ToClient(r) => Outcome::ToClient(r),
                Begun::Interaction(tx) => Outcome::Interaction(tx),
            },
        )
    })
    .await;
    match outcome {
        Ok(Outcome::ToClient(r)) => pages::to_client(&req, &ui_locales, &r),
        Ok(Outcome::Interaction(tx)) => {
            let mut res = super::see_other(&format!("/interaction/{tx}"));
            if existing_browser.is_none() {
                let _ = res.add_cookie(&state.cookie(BROWSER_COOKIE, browser, None));
            }
            res
        }
        Ok(Outcome::Page(e)) => pages::error_page(&req, &ui_locales, 400, &e),
        Err(e) => pages::error_page(&req, &ui_locales, e.code.status(), &e),
    }
}
