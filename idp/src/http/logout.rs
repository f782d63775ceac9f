//! RP-Initiated Logout 1.0. With an `id_token_hint` for the current session the citizen
//! is signed out at once; otherwise they are asked first, so that a third-party page
//! cannot sign them out. Ending a session revokes the grants issued in it.

use super::pages::{self, LogoutPage};
use super::{AppState, SESSION_COOKIE, blocking, form_params, query_params, see_other};
use crate::crypto;
use crate::oidc::error::OidcError;
use crate::oidc::logout::{self, LogoutRequest};
use crate::oidc::params::Params;
use crate::store::{clients, sessions, tokens};
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
            &OidcError::invalid_request("the form has expired; sign out again"),
        );
    }
    let raw = form.get("pending").unwrap_or("").to_string();
    let params = Params::parse(raw.as_bytes());
    handle(req, state, params, raw, true).await
}

fn csrf_for(session_cookie: &str) -> String {
    super::session_csrf("logout", session_cookie)
}

enum Outcome {
    Done(LogoutRequest),
    Ask(LogoutRequest),
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
    let outcome = blocking(move || {
        let keys = st.keys();
        let lr = st.db.run(|c| {
            logout::validate(&params, &keys, &st.provider.issuer, |id| {
                clients::find(c, id)
            })
        })??;
        let Some(cookie) = cookie_for_block else {
            return Ok(Outcome::Done(lr));
        };
        let hash = crypto::secret_hash(&cookie);
        let Some(session) = st.db.run(|c| sessions::find_live(c, &hash, now))? else {
            return Ok(Outcome::Done(lr));
        };
        let hinted = st
            .db
            .run(|c| lr.hints_at(c, &st.provider.pairwise, &session))?;
        if !(confirmed || hinted) {
            return Ok(Outcome::Ask(lr));
        }
        st.db.tx(|c| {
            sessions::delete(c, &hash)?;
            tokens::revoke_grants_of_session(c, &session.sid, now)?;
            let detail = serde_json::json!({ "by": "logout", "client": lr.client_id });
            let entry = crate::audit::Entry {
                kind: crate::audit::Kind::SessionEnded,
                user_id: Some(&session.user_id),
                client_id: None,
                detail,
            };
            crate::audit::append(c, entry, now)
        })?;
        tracing::info!("session ended by logout");
        Ok(Outcome::Done(lr))
    })
    .await;
    match outcome {
        Err(e) => pages::error_page(&req, &[], e.code.status(), &e),
        Ok(Outcome::Ask(lr)) => {
            let t = pages::lang(&req, &lr.ui_locales).texts();
            let csrf = cookie.as_deref().map(csrf_for).unwrap_or_default();
            pages::html(
                200,
                LogoutPage {
                    t,
                    done: false,
                    csrf: &csrf,
                    pending: &raw,
                }
                .render(),
            )
        }
        Ok(Outcome::Done(lr)) => {
            let mut res = match &lr.redirect {
                Some((uri, client_state)) => {
                    let mut url = url::Url::parse(uri).ok();
                    if let (Some(u), Some(s)) = (url.as_mut(), client_state) {
                        u.query_pairs_mut().append_pair("state", s);
                    }
                    see_other(&url.map(|u| u.to_string()).unwrap_or_else(|| uri.clone()))
                }
                None => {
                    let t = pages::lang(&req, &lr.ui_locales).texts();
                    pages::html(
                        200,
                        LogoutPage {
                            t,
                            done: true,
                            csrf: "",
                            pending: "",
                        }
                        .render(),
                    )
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
