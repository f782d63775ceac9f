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

fn accept_language(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
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
    let accept = accept_language(&req);
    let ip = super::client_ip(&state, &req);
    let st = state.clone().into_inner();
    let now = state.clock.now();
    let result = blocking(move || {
        let loaded = load(&st, &tx_id, browser.as_deref(), now)?;
        check_csrf(&loaded, form.get("csrf"))?;
        super::throttle(&st, ip, now)?;
        let username = form.get("username").unwrap_or("").trim().to_string();
        let password = form.get("password").unwrap_or("");
        let (user, stored) = st.db.run(|c| {
            let Some(user) = users::find_by_username(c, &username)? else {
                return Ok((None, None));
            };
            let cred = users::credential(c, &user.id, users::PASSWORD)?;
            Ok((Some(user), cred))
        })?;
        let subject = lockout::subject(user.as_ref().map(|u| u.id.as_str()), &username);
        let f = FactorKind::Password;
        if let Some(until) = st.db.run(|c| lockout::locked_until(c, &subject, f, now))? {
            return Ok((
                Shown::LoginRefused(Box::new(loaded), username, Refusal::LockedUntil(until)),
                None,
            ));
        }
        let phc = stored
            .as_ref()
            .and_then(|c| String::from_utf8(c.data.clone()).ok());
        // Always one argon2 verification, whether or not the user exists.
        let verified = st.passwords.finish(&phc, &(), password, now).is_ok();
        let user = match user {
            Some(u) if verified && !u.disabled => u,
            other => {
                tracing::info!(outcome = "failure", factor = "pwd", "login attempt");
                let locked = st.db.tx(|c| lockout::record_failure(c, &subject, f, now))?;
                let why = match locked {
                    Some(until) => {
                        tracing::warn!(factor = "pwd", "factor locked after repeated failures");
                        if let Some(u) = &other {
                            notify_locked(
                                &st,
                                u,
                                Lang::choose(&loaded.req.ui_locales, accept.as_deref()),
                            );
                        }
                        Refusal::LockedUntil(until)
                    }
                    None => Refusal::Wrong,
                };
                return Ok((Shown::LoginRefused(Box::new(loaded), username, why), None));
            }
        };
        let (cookie, _session) = st.db.tx(|c| {
            lockout::record_success(c, &subject, f, now)?;
            if let Some(cred) = &stored {
                users::touch_credential(c, &cred.id, now)?;
            }
            transactions::set_user(c, &loaded.tx.id, &user.id)?;
            session::start(
                c,
                old_cookie.as_deref(),
                &user.id,
                f,
                &st.config.policy,
                &times(&st),
                now,
            )
        })?;
        tracing::info!(outcome = "success", factor = "pwd", "login attempt");
        Ok((
            Shown::Next(format!("/interaction/{}", loaded.tx.id)),
            Some(cookie),
        ))
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

/// Checks a TOTP code against the user's active authenticator; the time step is consumed
/// in the same statement that checks it was not used before.
fn verify_totp(
    state: &AppState,
    c: &mut AnyConnection,
    user_id: &str,
    code: &str,
    now: i64,
) -> OidcResult<bool> {
    let Some(cred) = users::credential(c, user_id, FactorKind::Totp.name())? else {
        return Ok(false);
    };
    let Some(key) =
        crate::keys::user_key::existing(c, &state.kek, user_id).map_err(OidcError::server)?
    else {
        return Ok(false);
    };
    let secret = key
        .open(&cred.data, &totp_context(&cred.id))
        .map_err(OidcError::server)?;
    let stored = TotpCredential {
        secret,
        last_step: cred.counter,
    };
    let Ok(v) = Totp.finish(&stored, &(), code, now) else {
        return Ok(false);
    };
    let step = v.updated.and_then(|u| u.last_step).unwrap_or_default();
    Ok(users::advance_counter(c, &cred.id, step, now)?)
}

/// The associated data a TOTP secret is sealed with.
pub fn totp_context(credential_id: &str) -> String {
    format!("totp:{credential_id}")
}

fn code_purpose(kind: FactorKind) -> String {
    format!("code-{}", kind.name())
}

/// Checks a code sent by SMS or e-mail against the latest one sent; a matching code is
/// deleted, so it works once.
fn verify_sent_code(
    c: &mut AnyConnection,
    user_id: &str,
    kind: FactorKind,
    code: &str,
    now: i64,
) -> OidcResult<bool> {
    let Some((id, state)) = challenges::latest(c, user_id, &code_purpose(kind), now)? else {
        return Ok(false);
    };
    let Ok(sent) = serde_json::from_str::<authenticators::code::SentCode>(&state) else {
        return Ok(false);
    };
    if authenticators::code::check(&sent, code, now).is_err() {
        return Ok(false);
    }
    Ok(challenges::take(c, &id, user_id, &code_purpose(kind), now)?.is_some())
}

/// At most this many codes per recipient and channel in `CODE_WINDOW` seconds.
const CODES_PER_WINDOW: i32 = 3;
const CODE_WINDOW: i64 = 600;

/// Sends a one-time code by SMS or e-mail for step-up, then asks for it.
pub async fn send_code(
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
    let accept = accept_language(&req);
    let st = state.clone().into_inner();
    let now = state.clock.now();
    let result = blocking(move || {
        let loaded = load(&st, &tx_id, browser.as_deref(), now)?;
        check_csrf(&loaded, form.get("csrf"))?;
        let sess = live_session(&st, cookie.as_deref(), now)?;
        let (kind, factor) = match form.get("factor") {
            Some("sms") => (
                FactorKind::SmsCode,
                authenticators::code::OneTimeCode::sms(),
            ),
            Some("email") => (
                FactorKind::EmailCode,
                authenticators::code::OneTimeCode::email(),
            ),
            _ => return Err(OidcError::invalid_request("codes go by sms or email")),
        };
        let user = st
            .db
            .run(|c| users::find(c, &sess.user_id))?
            .ok_or_else(|| OidcError::invalid_request("the account no longer exists"))?;
        let (channel, to) = match kind {
            FactorKind::SmsCode => (crate::notify::Channel::Sms, user.phone.clone()),
            _ => (crate::notify::Channel::Email, user.email.clone()),
        };
        let to = to.ok_or_else(|| {
            OidcError::invalid_request("the account has no address for this channel")
        })?;
        let key = format!("send:{}:{}", kind.name(), user.id);
        if st
            .db
            .tx(|c| crate::store::rate_limits::hit(c, &key, CODE_WINDOW, now))?
            > CODES_PER_WINDOW
        {
            let t = Lang::choose(&loaded.req.ui_locales, accept.as_deref()).texts();
            return Err(OidcError::new(ErrorCode::SlowDown, t.too_many_codes));
        }
        let issued = factor.begin(&(), now);
        let state_json = serde_json::to_string(&issued.sent).map_err(OidcError::server)?;
        let id = crypto::random_token();
        // A new code replaces any earlier one.
        st.db.tx(|c| {
            challenges::clear(c, &user.id, &code_purpose(kind))?;
            challenges::insert(
                c,
                &id,
                &user.id,
                &code_purpose(kind),
                &state_json,
                issued.sent.expires_at,
            )
        })?;
        let t = Lang::choose(&loaded.req.ui_locales, accept.as_deref()).texts();
        let message = crate::notify::Message {
            channel,
            to,
            subject: t.code_subject.to_string(),
            body: t.code_body.replace("{code}", &issued.code),
        };
        st.notifier.send(&message).map_err(|e| {
            tracing::error!(error = %e, channel = kind.name(), "a one-time code could not be sent");
            OidcError::new(
                ErrorCode::TemporarilyUnavailable,
                "the code could not be sent; try another method",
            )
        })?;
        super::audit(
            &st,
            "code.sent",
            Some(&user.id),
            None,
            serde_json::json!({ "factor": kind.name() }),
            now,
        )?;
        Ok(Shown::Next(format!(
            "/interaction/{}?factor={}&sent=1",
            loaded.tx.id,
            kind.name()
        )))
    })
    .await;
    render(&req, &state, result).await
}

/// Checks a recovery code; the used code's row is deleted by the same check.
fn verify_recovery(c: &mut AnyConnection, user_id: &str, code: &str, now: i64) -> OidcResult<bool> {
    let rows: Vec<_> = users::credentials_of(c, user_id)?
        .into_iter()
        .filter(|r| r.kind == FactorKind::RecoveryCode.name())
        .collect();
    let codes = RecoveryCodes {
        user_id: user_id.to_string(),
        hashes: rows
            .iter()
            .map(|r| String::from_utf8_lossy(&r.data).into_owned())
            .collect(),
    };
    let Ok(v) = Recovery.finish(&codes, &(), code, now) else {
        return Ok(false);
    };
    let left = v.updated.map(|u| u.hashes).unwrap_or_default();
    let Some(used) = rows
        .iter()
        .find(|r| !left.contains(&String::from_utf8_lossy(&r.data).into_owned()))
    else {
        return Ok(false);
    };
    Ok(users::delete_credential(c, &used.id)?)
}

pub async fn factor(
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
    let accept = accept_language(&req);
    let ip = super::client_ip(&state, &req);
    let st = state.clone().into_inner();
    let now = state.clock.now();
    let result = blocking(move || {
        let loaded = load(&st, &tx_id, browser.as_deref(), now)?;
        check_csrf(&loaded, form.get("csrf"))?;
        super::throttle(&st, ip, now)?;
        let sess = live_session(&st, cookie.as_deref(), now)?;
        if loaded
            .tx
            .user_id
            .as_ref()
            .is_some_and(|u| u != &sess.user_id)
        {
            return Err(OidcError::invalid_request(
                "this sign-in belongs to another account",
            ));
        }
        let kind = form
            .get("factor")
            .and_then(FactorKind::parse)
            .filter(|f| {
                matches!(
                    f,
                    FactorKind::Totp
                        | FactorKind::RecoveryCode
                        | FactorKind::SmsCode
                        | FactorKind::EmailCode
                )
            })
            .ok_or_else(|| OidcError::invalid_request("unknown factor"))?;
        let code = form.get("code").unwrap_or("");
        let user_id = sess.user_id.clone();
        let offered = st.db.run(|c| enrolled_factors(c, &user_id))?;
        if let Some(until) = st
            .db
            .run(|c| lockout::locked_until(c, &user_id, kind, now))?
        {
            return Ok((
                Shown::FactorRefused(Box::new(loaded), offered, kind, Refusal::LockedUntil(until)),
                None,
            ));
        }
        let ok = st.db.tx(|c| {
            let r = match kind {
                FactorKind::Totp => verify_totp(&st, c, &user_id, code, now),
                FactorKind::SmsCode | FactorKind::EmailCode => {
                    verify_sent_code(c, &user_id, kind, code, now)
                }
                _ => verify_recovery(c, &user_id, code, now),
            };
            Ok(r)
        })??;
        if !ok {
            tracing::info!(outcome = "failure", factor = kind.name(), "step-up attempt");
            let locked = st
                .db
                .tx(|c| lockout::record_failure(c, &user_id, kind, now))?;
            let why = match locked {
                Some(until) => {
                    if let Some(u) = st.db.run(|c| users::find(c, &user_id))? {
                        notify_locked(
                            &st,
                            &u,
                            Lang::choose(&loaded.req.ui_locales, accept.as_deref()),
                        );
                    }
                    Refusal::LockedUntil(until)
                }
                None => Refusal::Wrong,
            };
            return Ok((
                Shown::FactorRefused(Box::new(loaded), offered, kind, why),
                None,
            ));
        }
        let (new_cookie, _) = st.db.tx(|c| {
            lockout::record_success(c, &user_id, kind, now)?;
            transactions::set_user(c, &loaded.tx.id, &user_id)?;
            session::step_up(c, &sess, kind, &st.config.policy, &times(&st), now)
        })?;
        tracing::info!(outcome = "success", factor = kind.name(), "step-up attempt");
        Ok((
            Shown::Next(format!("/interaction/{}", loaded.tx.id)),
            Some(new_cookie),
        ))
    })
    .await;
    with_session_cookie(&req, &state, result).await
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
    render(&req, &state, shown).await
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
    render(&req, &state, shown).await
}

/// The citizen's registered passkeys: (credential row id, passkey).
pub fn passkeys(c: &mut AnyConnection, user_id: &str) -> StoreResult<Vec<(String, Passkey)>> {
    Ok(users::credentials_of(c, user_id)?
        .into_iter()
        .filter(|r| r.kind == FactorKind::WebAuthn.name())
        .filter_map(|r| {
            serde_json::from_slice::<Passkey>(&r.data)
                .ok()
                .map(|p| (r.id, p))
        })
        .collect())
}

const WEBAUTHN_LOGIN: &str = "webauthn-login";
/// How long a browser has to answer a WebAuthn challenge.
pub const CHALLENGE_TTL: i64 = 300;

fn json_answer(status: u16, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .insert_header((header::CACHE_CONTROL, "no-store"))
    .json(body)
}

pub fn json_failure(e: &OidcError) -> HttpResponse {
    json_answer(
        e.code.status(),
        serde_json::json!({ "error": e.code.as_str(), "error_description": e.description }),
    )
}

/// Starts a WebAuthn assertion for step-up: the options for `navigator.credentials.get`.
pub async fn webauthn_begin(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let tx_id = path.into_inner();
    let form = match form_params(&req, &body) {
        Ok(f) => f,
        Err(e) => return json_failure(&e),
    };
    let browser = state.read_cookie(&req, BROWSER_COOKIE);
    let cookie = state.read_cookie(&req, SESSION_COOKIE);
    let st = state.clone().into_inner();
    let now = state.clock.now();
    let result = blocking(move || {
        let loaded = load(&st, &tx_id, browser.as_deref(), now)?;
        check_csrf(&loaded, form.get("csrf"))?;
        let sess = live_session(&st, cookie.as_deref(), now)?;
        let webauthn = st
            .webauthn
            .as_ref()
            .ok_or_else(|| OidcError::invalid_request("WebAuthn is not available"))?;
        let keys: Vec<Passkey> = st
            .db
            .run(|c| passkeys(c, &sess.user_id))?
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        let challenge = webauthn.begin(&keys, now).ok_or_else(|| {
            OidcError::invalid_request("no security key or passkey is registered")
        })?;
        let id = crypto::random_token();
        st.db.run(|c| {
            challenges::insert(
                c,
                &id,
                &sess.user_id,
                WEBAUTHN_LOGIN,
                &challenge.state,
                now + CHALLENGE_TTL,
            )
        })?;
        Ok(serde_json::json!({ "challenge": id, "options": challenge.options }))
    })
    .await;
    match result {
        Ok(v) => json_answer(200, v),
        Err(e) => json_failure(&e),
    }
}

/// Checks the browser's assertion; on success the session gains the WebAuthn factor.
pub async fn webauthn_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let tx_id = path.into_inner();
    let form = match form_params(&req, &body) {
        Ok(f) => f,
        Err(e) => return json_failure(&e),
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
        super::throttle(&st, ip, now)?;
        let sess = live_session(&st, cookie.as_deref(), now)?;
        let user_id = sess.user_id.clone();
        let kind = FactorKind::WebAuthn;
        if st
            .db
            .run(|c| lockout::locked_until(c, &user_id, kind, now))?
            .is_some()
        {
            return Err(OidcError::new(
                ErrorCode::AccessDenied,
                "too many failed attempts; try again later",
            ));
        }
        let webauthn = st
            .webauthn
            .as_ref()
            .ok_or_else(|| OidcError::invalid_request("WebAuthn is not available"))?;
        let state_json = st
            .db
            .run(|c| {
                challenges::take(
                    c,
                    form.get("challenge").unwrap_or(""),
                    &user_id,
                    WEBAUTHN_LOGIN,
                    now,
                )
            })?
            .ok_or_else(|| OidcError::invalid_request("the challenge has expired; try again"))?;
        let rows = st.db.run(|c| passkeys(c, &user_id))?;
        let keys: Vec<Passkey> = rows.iter().map(|(_, p)| p.clone()).collect();
        let challenge = Some(authenticators::webauthn::Challenge {
            options: serde_json::Value::Null,
            state: state_json,
        });
        match webauthn.finish(&keys, &challenge, form.get("credential").unwrap_or(""), now) {
            Ok(v) => {
                let updated = v.updated.unwrap_or_default();
                let (new_cookie, _) = st.db.tx(|c| {
                    for ((id, before), after) in rows.iter().zip(&updated) {
                        let (b, a) = (serde_json::to_vec(before), serde_json::to_vec(after));
                        if let (Ok(b), Ok(a)) = (b, a)
                            && a != b
                        {
                            users::set_data(c, id, &a, now)?;
                        }
                    }
                    lockout::record_success(c, &user_id, kind, now)?;
                    transactions::set_user(c, &loaded.tx.id, &user_id)?;
                    session::step_up(c, &sess, kind, &st.config.policy, &times(&st), now)
                })?;
                tracing::info!(outcome = "success", factor = "webauthn", "step-up attempt");
                Ok((
                    serde_json::json!({ "next": format!("/interaction/{}", loaded.tx.id) }),
                    new_cookie,
                ))
            }
            Err(_) => {
                tracing::info!(outcome = "failure", factor = "webauthn", "step-up attempt");
                if st
                    .db
                    .tx(|c| lockout::record_failure(c, &user_id, kind, now))?
                    .is_some()
                    && let Some(u) = st.db.run(|c| users::find(c, &user_id))?
                {
                    notify_locked(
                        &st,
                        &u,
                        Lang::choose(&loaded.req.ui_locales, accept.as_deref()),
                    );
                }
                Err(OidcError::new(
                    ErrorCode::AccessDenied,
                    "the security key or passkey could not be verified",
                ))
            }
        }
    })
    .await;
    match result {
        Ok((v, new_cookie)) => {
            let mut res = json_answer(200, v);
            let _ = res.add_cookie(&state.cookie(SESSION_COOKIE, new_cookie, None));
            res
        }
        Err(e) => json_failure(&e),
    }
}

/// Percent-decoding as reverse proxies escape certificates (`%XX`; `+` is a plus sign).
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The client certificate of this request: from the TLS connection, or from the
/// configured header when the request comes from a trusted reverse proxy.
fn presented_chain(state: &AppState, req: &HttpRequest) -> Option<Vec<Vec<u8>>> {
    if let Some(peer) = req.conn_data::<super::PeerCertificates>() {
        return Some(peer.0.clone());
    }
    let x509 = state.config.x509.as_ref()?;
    let from_proxy = req
        .peer_addr()
        .is_some_and(|a| state.config.trusted_proxies.contains(&a.ip()));
    if !from_proxy {
        return None;
    }
    let encoded = req
        .headers()
        .get(x509.proxy_header.as_str())?
        .to_str()
        .ok()?;
    let pem = percent_decode(encoded)?;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let chain: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .filter_map(Result::ok)
        .map(|c| c.to_vec())
        .collect();
    (!chain.is_empty()).then_some(chain)
}

/// Sign-in, or step-up, with an X.509 client certificate.
pub async fn certificate(
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
    let chain = presented_chain(&state, &req);
    let browser = state.read_cookie(&req, BROWSER_COOKIE);
    let cookie = state.read_cookie(&req, SESSION_COOKIE);
    let ip = super::client_ip(&state, &req);
    let st = state.clone().into_inner();
    let now = state.clock.now();
    let result = blocking(move || {
        let loaded = load(&st, &tx_id, browser.as_deref(), now)?;
        check_csrf(&loaded, form.get("csrf"))?;
        super::throttle(&st, ip, now)?;
        let certs = st
            .certificates
            .as_ref()
            .ok_or_else(|| OidcError::invalid_request("certificate sign-in is not configured"))?;
        let refused = |loaded: Loaded| {
            Ok((
                Shown::LoginRefused(Box::new(loaded), String::new(), Refusal::Certificate),
                None,
            ))
        };
        let Some(chain) = chain else {
            return refused(loaded);
        };
        let Ok(name) = certs.identify(&chain, now) else {
            super::audit(
                &st,
                "auth.failed",
                None,
                None,
                serde_json::json!({ "factor": "x509", "reason": "certificate" }),
                now,
            )?;
            return refused(loaded);
        };
        let user = st.db.run(|c| {
            if certs.mapping().is_email() {
                users::find_by_email(c, &name)
            } else {
                users::find_by_username(c, &name)
            }
        })?;
        let Some(user) = user.filter(|u| !u.disabled) else {
            let detail = serde_json::json!({ "factor": "x509", "reason": "no account" });
            super::audit(&st, "auth.failed", None, None, detail, now)?;
            return refused(loaded);
        };
        let kind = FactorKind::Certificate;
        let current = st
            .db
            .run(|c| session::resume(c, cookie.as_deref(), st.config.session_idle, now))?;
        let (new_cookie, _) = st.db.tx(|c| {
            transactions::set_user(c, &loaded.tx.id, &user.id)?;
            let detail = serde_json::json!({ "factor": "x509" });
            let entry = crate::audit::Entry {
                kind: "auth.succeeded",
                user_id: Some(&user.id),
                client_id: None,
                detail,
            };
            crate::audit::append(c, entry, now)?;
            match current.as_ref().filter(|s| s.user_id == user.id) {
                // Signed in already: the certificate is one more factor.
                Some(s) => session::step_up(c, s, kind, &st.config.policy, &times(&st), now),
                None => session::start(
                    c,
                    cookie.as_deref(),
                    &user.id,
                    kind,
                    &st.config.policy,
                    &times(&st),
                    now,
                ),
            }
        })?;
        Ok((
            Shown::Next(format!("/interaction/{}", loaded.tx.id)),
            Some(new_cookie),
        ))
    })
    .await;
    with_session_cookie(&req, &state, result).await
}
