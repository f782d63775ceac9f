//! The citizen-facing steps of a login transaction: sign in, choose the account, consent.
//! Every page works from the stored transaction (validated request, CSRF token, the
//! browser it belongs to) and never re-parses the original query.

use super::pages::{self, ConsentPage, LoginPage, SelectAccountPage};
use super::{AppState, BROWSER_COOKIE, SESSION_COOKIE, blocking, form_params, see_other};
use crate::crypto;
use crate::login::session::{self, SessionTimes};
use crate::login::{self as decision, Next, Situation};
use crate::oidc::authorize::AuthorizeRequest;
use crate::oidc::error::{ErrorCode, OidcError, OidcResult};
use crate::oidc::grants::authorization_code;
use crate::store::sessions::BrowserSession;
use crate::store::transactions::{self, LoginTransaction};
use crate::store::{clients, consents, users};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

/// What happens next in a login.
pub enum Step {
    /// Back to the client, with a code or an error.
    Redirect(String),
    Login,
    Consent,
    SelectAccount,
}

pub fn client_redirect(state: &AppState, redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    let iss = state.provider.issuer.as_str();
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
                q.append_pair("iss", iss);
            }
            url.to_string()
        }
        // Registered URIs are validated when added; this keeps a bad row from panicking.
        Err(_) => redirect_uri.to_string(),
    }
}

pub fn error_redirect(
    state: &AppState,
    redirect_uri: &str,
    client_state: Option<&str>,
    e: &OidcError,
) -> String {
    let mut pairs = vec![
        ("error", e.code.as_str()),
        ("error_description", e.description.as_str()),
    ];
    if let Some(s) = client_state {
        pairs.push(("state", s));
    }
    client_redirect(state, redirect_uri, &pairs)
}

/// Decides the next step and, when nothing more is needed, issues the code. A login
/// transaction that reaches its end (`finish`) is deleted first, and only the request
/// that deletes it may go on, so a double submit cannot issue two codes.
pub fn advance(
    state: &AppState,
    req: &AuthorizeRequest,
    session: Option<&BrowserSession>,
    finish: Option<&str>,
    flags: (bool, bool),
    now: i64,
) -> OidcResult<Step> {
    let (confirmed, consented_now) = flags;
    let consented = match session {
        Some(s) => state
            .db
            .run(|c| consents::scopes(c, &s.user_id, &req.client_id))?,
        None => Vec::new(),
    };
    let situation = Situation {
        session,
        confirmed_in_transaction: confirmed,
        consented: &consented,
        consented_in_transaction: consented_now,
        now,
    };
    let next = decision::decide(req, &situation);
    if matches!(next, Next::Issue | Next::Fail(_))
        && let Some(tx_id) = finish
        && !state.db.run(|c| transactions::delete(c, tx_id))?
    {
        return Err(OidcError::invalid_request(
            "this sign-in was already completed",
        ));
    }
    Ok(match next {
        Next::Login => Step::Login,
        Next::Consent => Step::Consent,
        Next::SelectAccount => Step::SelectAccount,
        Next::Fail(e) => Step::Redirect(error_redirect(
            state,
            &req.redirect_uri,
            req.state.as_deref(),
            &e,
        )),
        Next::Issue => {
            let Some(session) = session else {
                return Err(OidcError::server("issue without a session"));
            };
            let code = state.db.tx(|c| {
                authorization_code::issue_code(c, req, session, state.provider.code_ttl, now)
            })?;
            let mut pairs = vec![("code", code.as_str())];
            if let Some(s) = &req.state {
                pairs.push(("state", s));
            }
            Step::Redirect(client_redirect(state, &req.redirect_uri, &pairs))
        }
    })
}

/// A transaction that exists, is live, and belongs to this browser.
struct Loaded {
    tx: LoginTransaction,
    req: AuthorizeRequest,
    client_name: String,
}

fn load(state: &AppState, tx_id: &str, browser: Option<&str>, now: i64) -> OidcResult<Loaded> {
    let expired = || {
        OidcError::invalid_request(
            "this sign-in has expired or was already completed; start again from the service",
        )
    };
    let tx = state
        .db
        .run(|c| transactions::find_live(c, tx_id, now))?
        .ok_or_else(expired)?;
    let same_browser = browser
        .is_some_and(|b| crypto::constant_time_eq(&crypto::secret_hash(b), &tx.browser_hash));
    if !same_browser {
        return Err(OidcError::invalid_request(
            "this sign-in was started in another browser; start again from the service",
        ));
    }
    let req: AuthorizeRequest = serde_json::from_str(&tx.request).map_err(OidcError::server)?;
    let client_name = state
        .db
        .run(|c| clients::find(c, &req.client_id))?
        .map(|c| c.name)
        .ok_or_else(|| OidcError::invalid_request("the client no longer exists"))?;
    Ok(Loaded {
        tx,
        req,
        client_name,
    })
}

fn check_csrf(loaded: &Loaded, presented: Option<&str>) -> OidcResult<()> {
    if presented.is_some_and(|p| crypto::constant_time_eq(p, &loaded.tx.csrf)) {
        Ok(())
    } else {
        Err(OidcError::invalid_request(
            "the form has expired; reload the page and try again",
        ))
    }
}

enum Shown {
    Step(Step, Box<Loaded>, Option<BrowserSession>),
    LoginFailed(Box<Loaded>, String),
    Next(String),
}

async fn render(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    shown: OidcResult<Shown>,
    ui: &[String],
) -> HttpResponse {
    let (step, loaded, sess) = match shown {
        Err(e) => return pages::error_page(req, ui, e.code.status(), &e),
        Ok(Shown::Next(url)) => return see_other(&url),
        Ok(Shown::LoginFailed(l, username)) => {
            let t = pages::lang(req, &l.req.ui_locales).texts();
            let page = LoginPage {
                t,
                client_name: &l.client_name,
                tx: &l.tx.id,
                csrf: &l.tx.csrf,
                username: &username,
                failed: true,
            };
            return pages::html(401, page.render());
        }
        Ok(Shown::Step(step, l, s)) => (step, l, s),
    };
    let t = pages::lang(req, &loaded.req.ui_locales).texts();
    match step {
        Step::Redirect(url) => see_other(&url),
        Step::Login => {
            let username = loaded.req.login_hint.clone().unwrap_or_default();
            let page = LoginPage {
                t,
                client_name: &loaded.client_name,
                tx: &loaded.tx.id,
                csrf: &loaded.tx.csrf,
                username: &username,
                failed: false,
            };
            pages::html(200, page.render())
        }
        Step::Consent => {
            let scopes = loaded
                .req
                .scopes
                .iter()
                .map(|s| pages::describe_scope(t, s))
                .collect();
            let page = ConsentPage {
                t,
                client_name: &loaded.client_name,
                tx: &loaded.tx.id,
                csrf: &loaded.tx.csrf,
                scopes,
            };
            pages::html(200, page.render())
        }
        Step::SelectAccount => {
            let st = state.clone().into_inner();
            let user_id = sess.map(|s| s.user_id).unwrap_or_default();
            let username = blocking(move || Ok(st.db.run(|c| users::find(c, &user_id))?))
                .await
                .ok()
                .flatten()
                .map(|u| u.name.unwrap_or(u.username))
                .unwrap_or_default();
            let page = SelectAccountPage {
                t,
                client_name: &loaded.client_name,
                tx: &loaded.tx.id,
                csrf: &loaded.tx.csrf,
                username: &username,
            };
            pages::html(200, page.render())
        }
    }
}

/// Runs the next step of a loaded transaction; a finished one is removed.
fn proceed(
    state: &AppState,
    loaded: Loaded,
    sess: Option<BrowserSession>,
    consented_now: bool,
    now: i64,
) -> OidcResult<Shown> {
    let confirmed = match (&loaded.tx.user_id, &sess) {
        (Some(u), Some(s)) => u == &s.user_id,
        _ => false,
    };
    let step = advance(
        state,
        &loaded.req,
        sess.as_ref(),
        Some(&loaded.tx.id),
        (confirmed, consented_now),
        now,
    )?;
    Ok(Shown::Step(step, Box::new(loaded), sess))
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let tx_id = path.into_inner();
    let browser = state.read_cookie(&req, BROWSER_COOKIE);
    let cookie = state.read_cookie(&req, SESSION_COOKIE);
    let force_login = req.query_string() == "login=1";
    let st = state.clone().into_inner();
    let now = state.clock.now();
    let shown = blocking(move || {
        let loaded = load(&st, &tx_id, browser.as_deref(), now)?;
        let sess = st
            .db
            .run(|c| session::resume(c, cookie.as_deref(), st.config.session_idle, now))?;
        if force_login {
            return Ok(Shown::Step(Step::Login, Box::new(loaded), sess));
        }
        proceed(&st, loaded, sess, false, now)
    })
    .await;
    render(&req, &state, shown, &[]).await
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let tx_id = path.into_inner();
    let form = match form_params(&req, &body) {
        Ok(f) => f,
        Err(e) => return pages::error_page(&req, &[], 400, &e),
    };
    let browser = state.read_cookie(&req, BROWSER_COOKIE);
    let old_cookie = state.read_cookie(&req, SESSION_COOKIE);
    let st = state.clone().into_inner();
    let now = state.clock.now();
    let result = blocking(move || {
        let loaded = load(&st, &tx_id, browser.as_deref(), now)?;
        check_csrf(&loaded, form.get("csrf"))?;
        let username = form.get("username").unwrap_or("").trim().to_string();
        let password = form.get("password").unwrap_or("");
        let (user, stored) = st.db.run(|c| {
            let Some(user) = users::find_by_username(c, &username)? else {
                return Ok((None, None));
            };
            let cred = users::credential(c, &user.id, users::PASSWORD)?;
            Ok((Some(user), cred))
        })?;
        let phc = stored
            .as_ref()
            .and_then(|c| std::str::from_utf8(&c.data).ok());
        // Always one argon2 verification, whether or not the user exists.
        let ok = st.passwords.verify(phc, password);
        let user = match user {
            Some(u) if ok && !u.disabled => u,
            _ => {
                tracing::info!(outcome = "failure", factor = "pwd", "login attempt");
                return Ok((Shown::LoginFailed(Box::new(loaded), username), None));
            }
        };
        let times = SessionTimes {
            idle: st.config.session_idle,
            max: st.config.session_max,
        };
        let (cookie, _session) = st.db.tx(|c| {
            if let Some(cred) = &stored {
                users::touch_credential(c, &cred.id, now)?;
            }
            transactions::set_user(c, &loaded.tx.id, &user.id)?;
            session::start(c, old_cookie.as_deref(), &user.id, &["pwd"], &times, now)
        })?;
        tracing::info!(outcome = "success", factor = "pwd", "login attempt");
        Ok((
            Shown::Next(format!("/interaction/{}", loaded.tx.id)),
            Some(cookie),
        ))
    })
    .await;
    match result {
        Ok((shown, cookie)) => {
            let mut res = render(&req, &state, Ok(shown), &[]).await;
            if let Some(c) = cookie {
                let _ = res.add_cookie(&state.cookie(SESSION_COOKIE, c, None));
            }
            res
        }
        Err(e) => render(&req, &state, Err(e), &[]).await,
    }
}

/// The session of a transaction's browser, required for consent and account choice.
fn live_session(state: &AppState, cookie: Option<&str>, now: i64) -> OidcResult<BrowserSession> {
    state
        .db
        .run(|c| session::resume(c, cookie, state.config.session_idle, now))?
        .ok_or_else(|| {
            OidcError::invalid_request("your session has ended; start again from the service")
        })
}

pub async fn consent(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let tx_id = path.into_inner();
    let form = match form_params(&req, &body) {
        Ok(f) => f,
        Err(e) => return pages::error_page(&req, &[], 400, &e),
    };
    let browser = state.read_cookie(&req, BROWSER_COOKIE);
    let cookie = state.read_cookie(&req, SESSION_COOKIE);
    let st = state.clone().into_inner();
    let now = state.clock.now();
    let shown = blocking(move || {
        let loaded = load(&st, &tx_id, browser.as_deref(), now)?;
        check_csrf(&loaded, form.get("csrf"))?;
        let sess = live_session(&st, cookie.as_deref(), now)?;
        match form.get("decision") {
            Some("allow") => {
                st.db.run(|c| {
                    consents::record(
                        c,
                        &sess.user_id,
                        &loaded.req.client_id,
                        &loaded.req.scopes,
                        now,
                    )
                })?;
                proceed(&st, loaded, Some(sess), true, now)
            }
            Some("deny") => {
                st.db.run(|c| transactions::delete(c, &loaded.tx.id))?;
                let e = OidcError::new(ErrorCode::AccessDenied, "the user denied the request");
                Ok(Shown::Next(error_redirect(
                    &st,
                    &loaded.req.redirect_uri,
                    loaded.req.state.as_deref(),
                    &e,
                )))
            }
            _ => Err(OidcError::invalid_request("decision must be allow or deny")),
        }
    })
    .await;
    render(&req, &state, shown, &[]).await
}

pub async fn select(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let tx_id = path.into_inner();
    let form = match form_params(&req, &body) {
        Ok(f) => f,
        Err(e) => return pages::error_page(&req, &[], 400, &e),
    };
    let browser = state.read_cookie(&req, BROWSER_COOKIE);
    let cookie = state.read_cookie(&req, SESSION_COOKIE);
    let st = state.clone().into_inner();
    let now = state.clock.now();
    let shown = blocking(move || {
        let loaded = load(&st, &tx_id, browser.as_deref(), now)?;
        check_csrf(&loaded, form.get("csrf"))?;
        match form.get("choice") {
            Some("continue") => {
                let sess = live_session(&st, cookie.as_deref(), now)?;
                st.db
                    .run(|c| transactions::set_user(c, &loaded.tx.id, &sess.user_id))?;
                Ok(Shown::Next(format!("/interaction/{}", loaded.tx.id)))
            }
            Some("other") => Ok(Shown::Next(format!(
                "/interaction/{}?login=1",
                loaded.tx.id
            ))),
            _ => Err(OidcError::invalid_request(
                "choice must be continue or other",
            )),
        }
    })
    .await;
    render(&req, &state, shown, &[]).await
}
