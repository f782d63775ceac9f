//! The citizen-facing steps of a login transaction: sign in, add a factor (step-up),
//! choose the account, consent. Every page works from the stored transaction (validated
//! request, CSRF token, the browser it belongs to) and never re-parses the original query.

use super::pages::{self, ConsentPage, FactorPage, LoginPage, SelectAccountPage};
use super::{AppState, BROWSER_COOKIE, SESSION_COOKIE, blocking, form_params, see_other};
use crate::crypto;
use crate::i18n::{Lang, Texts};
use crate::login::session::{self, SessionTimes};
use crate::login::{self as decision, Next, Situation, lockout};
use crate::oidc::authorize::AuthorizeRequest;
use crate::oidc::error::{ErrorCode, OidcError, OidcResult};
use crate::oidc::grants::authorization_code;
use crate::store::sessions::BrowserSession;
use crate::store::transactions::{self, LoginTransaction};
use crate::store::users::{self, User};
use crate::store::{AnyConnection, StoreResult, challenges, clients, consents};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use authenticators::recovery::{Recovery, RecoveryCodes};
use authenticators::totp::{Totp, TotpCredential};
use authenticators::webauthn::Passkey;
use authenticators::{Factor, FactorKind};

mod certificate;
mod codes;
mod password;
mod webauthn;

pub use certificate::certificate;
pub use codes::{factor, send_code, totp_context};
pub use password::login;
pub use webauthn::{CHALLENGE_TTL, json_failure, passkeys, webauthn_begin, webauthn_finish};

/// What happens next in a login.
pub enum Step {
    /// Back to the client (with a code or an error), or to the account page.
    Redirect(String),
    Login,
    MoreFactors(Vec<FactorKind>),
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

/// The factors a citizen has enrolled and can use to sign in.
pub fn enrolled_factors(conn: &mut AnyConnection, user_id: &str) -> StoreResult<Vec<FactorKind>> {
    let mut kinds: Vec<FactorKind> = users::credentials_of(conn, user_id)?
        .iter()
        .filter_map(|c| FactorKind::parse(&c.kind))
        .collect();
    // Codes can be sent to the contact details on the account.
    if let Some(u) = users::find(conn, user_id)? {
        if u.phone.is_some() {
            kinds.push(FactorKind::SmsCode);
        }
        if u.email.is_some() {
            kinds.push(FactorKind::EmailCode);
        }
    }
    kinds.sort();
    kinds.dedup();
    Ok(kinds)
}

/// Stores a login transaction for `req`, bound to the browser; returns its id.
pub fn start_transaction(
    state: &AppState,
    req: &AuthorizeRequest,
    browser: &str,
    now: i64,
) -> OidcResult<String> {
    let tx = LoginTransaction {
        id: crypto::random_token(),
        browser_hash: crypto::secret_hash(browser),
        csrf: crypto::random_token(),
        request: serde_json::to_string(req).map_err(OidcError::server)?,
        user_id: None,
        created_at: now,
        expires_at: now + state.config.login_ttl,
    };
    state.db.run(|c| transactions::insert(c, &tx))?;
    Ok(tx.id)
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
    let (consented, enrolled) = match session {
        Some(s) => state.db.run(|c| {
            Ok((
                consents::scopes(c, &s.user_id, &req.client_id)?,
                enrolled_factors(c, &s.user_id)?,
            ))
        })?,
        None => (Vec::new(), Vec::new()),
    };
    // Anyone may hold a card from a configured CA: certificates need no enrolment.
    let mut enrolled = enrolled;
    if state.certificates.is_some() && session.is_some() {
        enrolled.push(FactorKind::Certificate);
    }
    let situation = Situation {
        session,
        confirmed_in_transaction: confirmed,
        consented: &consented,
        consented_in_transaction: consented_now,
        policy: &state.config.policy,
        enrolled: &enrolled,
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
        Next::StepUp(f) => Step::MoreFactors(f),
        Next::Consent => Step::Consent,
        Next::SelectAccount => Step::SelectAccount,
        Next::Fail(e) if req.is_account() => return Err(e),
        Next::Fail(e) => Step::Redirect(error_redirect(
            state,
            &req.redirect_uri,
            req.state.as_deref(),
            &e,
        )),
        Next::Issue if req.is_account() => Step::Redirect("/account".into()),
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
    /// Empty for the account pages.
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
    let client_name = if req.is_account() {
        String::new()
    } else {
        state
            .db
            .run(|c| clients::find(c, &req.client_id))?
            .map(|c| c.name)
            .ok_or_else(|| OidcError::invalid_request("the client no longer exists"))?
    };
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

/// Why a factor was refused, for the page.
enum Refusal {
    Wrong,
    LockedUntil(i64),
    /// No valid certificate of a known account.
    Certificate,
}

impl Refusal {
    fn text(&self, t: &Texts, wrong: &'static str) -> String {
        match self {
            Refusal::Wrong => wrong.to_string(),
            Refusal::Certificate => t.certificate_failed.to_string(),
            Refusal::LockedUntil(until) => format!("{} {}.", t.locked, pages::utc(*until)),
        }
    }
}

enum Shown {
    Step {
        step: Step,
        loaded: Box<Loaded>,
        session: Option<BrowserSession>,
        /// The factor asked for on the step-up page (`?factor=`).
        factor: Option<String>,
        /// A code was sent by SMS or e-mail (`?sent=1`): ask for it.
        sent: bool,
    },
    LoginRefused(Box<Loaded>, String, Refusal),
    FactorRefused(Box<Loaded>, Vec<FactorKind>, FactorKind, Refusal),
    Next(String),
}

/// Factors that have a step-up page, in the order they are offered.
const STEP_UP_FACTORS: [FactorKind; 6] = [
    FactorKind::WebAuthn,
    FactorKind::Certificate,
    FactorKind::Totp,
    FactorKind::SmsCode,
    FactorKind::EmailCode,
    FactorKind::RecoveryCode,
];

fn factor_label(t: &Texts, f: FactorKind) -> &'static str {
    match f {
        FactorKind::WebAuthn => t.webauthn_use,
        FactorKind::Certificate => t.certificate_use,
        FactorKind::SmsCode => t.use_sms,
        FactorKind::EmailCode => t.use_email,
        FactorKind::RecoveryCode => t.use_recovery,
        _ => t.use_totp,
    }
}

fn factor_page(
    t: &Texts,
    l: &Loaded,
    offered: &[FactorKind],
    wanted: Option<&str>,
    error: &str,
    sent: bool,
) -> HttpResponse {
    let usable: Vec<FactorKind> = STEP_UP_FACTORS
        .into_iter()
        .filter(|f| offered.contains(f))
        .collect();
    let Some(first) = usable.first() else {
        return pages::html(403, error_body(t, t.no_method));
    };
    let factor = usable
        .iter()
        .find(|f| Some(f.name()) == wanted)
        .unwrap_or(first);
    let alternatives = usable
        .iter()
        .filter(|f| *f != factor)
        .map(|f| (f.name(), factor_label(t, *f)))
        .collect();
    let name = if l.client_name.is_empty() {
        t.account_title
    } else {
        &l.client_name
    };
    let page = FactorPage {
        t,
        client_name: name,
        tx: &l.tx.id,
        csrf: &l.tx.csrf,
        factor: factor.name(),
        alternatives,
        sent,
        error,
    };
    pages::html(if error.is_empty() { 200 } else { 401 }, page.render())
}

fn error_body(t: &Texts, description: &str) -> Result<String, askama::Error> {
    pages::error_body(t, ErrorCode::AccessDenied.as_str(), description)
}

fn login_page(
    t: &Texts,
    l: &Loaded,
    username: &str,
    error: &str,
    certificate: bool,
) -> HttpResponse {
    let name = if l.client_name.is_empty() {
        t.account_title
    } else {
        &l.client_name
    };
    let page = LoginPage {
        t,
        client_name: name,
        tx: &l.tx.id,
        csrf: &l.tx.csrf,
        username,
        error,
        certificate,
    };
    pages::html(if error.is_empty() { 200 } else { 401 }, page.render())
}

async fn render(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    shown: OidcResult<Shown>,
) -> HttpResponse {
    let shown = match shown {
        Err(e) => return pages::error_page(req, &[], e.code.status(), &e),
        Ok(s) => s,
    };
    let (step, loaded, sess, factor, sent) = match shown {
        Shown::Next(url) => return see_other(&url),
        Shown::LoginRefused(l, username, why) => {
            let t = pages::lang(req, &l.req.ui_locales).texts();
            let message = why.text(t, t.login_failed);
            return login_page(t, &l, &username, &message, state.certificates.is_some());
        }
        Shown::FactorRefused(l, offered, factor, why) => {
            let t = pages::lang(req, &l.req.ui_locales).texts();
            return factor_page(
                t,
                &l,
                &offered,
                Some(factor.name()),
                &why.text(t, t.code_failed),
                true,
            );
        }
        Shown::Step {
            step,
            loaded,
            session,
            factor,
            sent,
        } => (step, loaded, session, factor, sent),
    };
    let t = pages::lang(req, &loaded.req.ui_locales).texts();
    match step {
        Step::Redirect(url) => see_other(&url),
        Step::Login => {
            let username = loaded.req.login_hint.clone().unwrap_or_default();
            login_page(t, &loaded, &username, "", state.certificates.is_some())
        }
        Step::MoreFactors(offered) => {
            factor_page(t, &loaded, &offered, factor.as_deref(), "", sent)
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
    Ok(Shown::Step {
        step,
        loaded: Box::new(loaded),
        session: sess,
        factor: None,
        sent: false,
    })
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let tx_id = path.into_inner();
    let browser = state.read_cookie(&req, BROWSER_COOKIE);
    let cookie = state.read_cookie(&req, SESSION_COOKIE);
    let query =
        crate::oidc::params::Params::parse(req.query_string().as_bytes()).unwrap_or_default();
    let force_login = query.get("login") == Some("1");
    let wanted_factor = query.get("factor").map(str::to_string);
    let sent = query.get("sent") == Some("1");
    let st = state.clone().into_inner();
    let now = state.clock.now();
    let shown = blocking(move || {
        let loaded = load(&st, &tx_id, browser.as_deref(), now)?;
        let sess = st
            .db
            .run(|c| session::resume(c, cookie.as_deref(), st.config.session_idle, now))?;
        if force_login {
            return Ok(Shown::Step {
                step: Step::Login,
                loaded: Box::new(loaded),
                session: sess,
                factor: None,
                sent: false,
            });
        }
        match proceed(&st, loaded, sess, false, now)? {
            Shown::Step {
                step,
                loaded,
                session,
                ..
            } => Ok(Shown::Step {
                step,
                loaded,
                session,
                factor: wanted_factor,
                sent,
            }),
            other => Ok(other),
        }
    })
    .await;
    render(&req, &state, shown).await
}

fn times(state: &AppState) -> SessionTimes {
    SessionTimes {
        idle: state.config.session_idle,
        max: state.config.session_max,
    }
}

/// Tells the citizen, through their channel, that a factor of their account was locked.
fn notify_locked(state: &AppState, user: &User, lang: Lang) {
    let Some(to) = &user.email else { return };
    let t = lang.texts();
    let message = crate::notify::Message {
        channel: crate::notify::Channel::Email,
        to: to.clone(),
        subject: t.locked_subject.to_string(),
        body: t.locked_body.to_string(),
    };
    if let Err(e) = state.notifier.send(&message) {
        tracing::warn!(error = %e, "lockout notification failed");
    }
}

/// Counts a failed check of a factor (audited) and, when that locks the factor, tells the
/// citizen; returns why the attempt is refused.
fn failed_attempt(
    st: &AppState,
    subject: &str,
    user: Option<&User>,
    factor: FactorKind,
    lang: Lang,
    now: i64,
) -> OidcResult<Refusal> {
    tracing::info!(
        outcome = "failure",
        factor = factor.name(),
        "authentication attempt"
    );
    let locked = st
        .db
        .tx(|c| lockout::record_failure(c, subject, factor, now))?;
    Ok(match locked {
        Some(until) => {
            if let Some(u) = user {
                notify_locked(st, u, lang);
            }
            Refusal::LockedUntil(until)
        }
        None => Refusal::Wrong,
    })
}

fn accept_language(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// What a form post to a login transaction brings to its action: the transaction (live,
/// of this browser, CSRF token checked), the form, the session cookie, the client's
/// address and languages.
struct Posted {
    loaded: Loaded,
    form: crate::oidc::params::Params,
    cookie: Option<String>,
    ip: Option<std::net::IpAddr>,
    accept: Option<String>,
}

/// What an action decides: the page or redirect, and a new session cookie to set.
type Outcome = OidcResult<(Shown, Option<String>)>;

/// Handles a form post to a login transaction: parses the form, loads and checks the
/// transaction, runs `action` off the executor and renders its outcome.
async fn on_post<F>(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
    action: F,
) -> HttpResponse
where
    F: FnOnce(&AppState, Posted, i64) -> Outcome + Send + 'static,
{
    let tx_id = path.into_inner();
    let form = match form_params(&req, &body) {
        Ok(f) => f,
        Err(e) => return pages::error_page(&req, &[], 400, &e),
    };
    let browser = state.read_cookie(&req, BROWSER_COOKIE);
    let cookie = state.read_cookie(&req, SESSION_COOKIE);
    let accept = accept_language(&req);
    let ip = super::client_ip(&state, &req);
    let st = state.clone().into_inner();
    let now = state.clock.now();
    let result = blocking(move || {
        let loaded = load(&st, &tx_id, browser.as_deref(), now)?;
        check_csrf(&loaded, form.get("csrf"))?;
        let posted = Posted {
            loaded,
            form,
            cookie,
            ip,
            accept,
        };
        action(&st, posted, now)
    })
    .await;
    with_session_cookie(&req, &state, result).await
}

async fn with_session_cookie(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    result: OidcResult<(Shown, Option<String>)>,
) -> HttpResponse {
    match result {
        Ok((shown, cookie)) => {
            let mut res = render(req, state, Ok(shown)).await;
            if let Some(c) = cookie {
                let _ = res.add_cookie(&state.cookie(SESSION_COOKIE, c, None));
            }
            res
        }
        Err(e) => render(req, state, Err(e)).await,
    }
}

/// The session of a transaction's browser, required for consent, step-up and account
/// choice.
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
    on_post(req, state, path, body, |st, p, now| {
        consent_step(st, p, now).map(|shown| (shown, None))
    })
    .await
}

/// Records consent (and goes on) or refuses it.
fn consent_step(st: &AppState, p: Posted, now: i64) -> OidcResult<Shown> {
    let Posted {
        loaded,
        form,
        cookie,
        ..
    } = p;
    let sess = live_session(st, cookie.as_deref(), now)?;
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
            proceed(st, loaded, Some(sess), true, now)
        }
        Some("deny") => {
            st.db.run(|c| transactions::delete(c, &loaded.tx.id))?;
            let e = OidcError::new(ErrorCode::AccessDenied, "the user denied the request");
            Ok(Shown::Next(error_redirect(
                st,
                &loaded.req.redirect_uri,
                loaded.req.state.as_deref(),
                &e,
            )))
        }
        _ => Err(OidcError::invalid_request("decision must be allow or deny")),
    }
}

pub async fn select(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    on_post(req, state, path, body, |st, p, now| {
        select_step(st, p, now).map(|shown| (shown, None))
    })
    .await
}

/// Continues as the signed-in account, or signs in as another.
fn select_step(st: &AppState, p: Posted, now: i64) -> OidcResult<Shown> {
    let Posted {
        loaded,
        form,
        cookie,
        ..
    } = p;
    match form.get("choice") {
        Some("continue") => {
            let sess = live_session(st, cookie.as_deref(), now)?;
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
}
