//! The citizen's own account pages: sign-in methods (authenticator app, recovery codes),
//! where they are signed in (each session can be ended), and the services they allowed
//! (consent can be withdrawn, which revokes what the service holds).

use super::interaction::json_failure;
use super::pages::{
    self, AccountPage, ContactPage, DataPage, DocumentValues, FaceDocumentPage, FacePage, Message,
    PasswordPage, RecoveryCodesPage, SessionRow, TotpSetupPage, VoicePage,
};
use super::{
    AppState, BROWSER_COOKIE, SESSION_COOKIE, blocking, form_params, see_other, session_csrf,
};
use crate::crypto;
use crate::enrollment;
use crate::enrollment::biometric::FaceStep;
use crate::enrollment::contact::Contact;
use crate::enrollment::registration::{DocumentForm, DocumentRefused};
use crate::i18n::Lang;
use crate::login::flow::{self, Begun, Purpose, ReturnTo};
use crate::login::session;
use crate::oidc::error::{OidcError, OidcResult, Situation};
use crate::oidc::params::Params;
use crate::policy::{Level, Requirement};
use crate::privacy;
use crate::store::sessions::BrowserSession;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use authenticators::FactorKind;
use authenticators::document::Date;
use authenticators::totp;
use std::sync::Arc;

fn csrf(cookie: &str) -> String {
    session_csrf("account", cookie)
}

/// The signed-in citizen, or where to send the browser to sign in first.
enum Access {
    Granted(BrowserSession, String),
    SignIn {
        tx: String,
        new_browser: Option<String>,
    },
}

/// Which account pages an action needs: viewing and ending sessions or consents need any
/// sign-in; changing factors needs `flow::change_allowed`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Needs {
    SignIn,
    Change,
}

fn access(
    st: Arc<AppState>,
    req: &HttpRequest,
    needs: Needs,
    now: i64,
) -> impl FnOnce() -> OidcResult<Access> + use<> {
    access_to(st, req, needs, ReturnTo::Overview, now)
}

/// As `access`; a sign-in or step-up it needs returns to `back`.
fn access_to(
    st: Arc<AppState>,
    req: &HttpRequest,
    needs: Needs,
    back: ReturnTo,
    now: i64,
) -> impl FnOnce() -> OidcResult<Access> + use<> {
    let cookie = st.read_cookie(req, SESSION_COOKIE);
    let browser = st.read_cookie(req, BROWSER_COOKIE);
    move || {
        let sess = st
            .db
            .run(|c| session::resume(c, cookie.as_deref(), st.rules().sessions.idle, now))?;
        let purpose = match (sess, &cookie) {
            (Some(s), Some(c)) => match needs {
                Needs::SignIn => return Ok(Access::Granted(s, c.clone())),
                Needs::Change => {
                    match st
                        .db
                        .run(|conn| flow::change_allowed(&st, conn, &s, back, now))?
                    {
                        Ok(()) => return Ok(Access::Granted(s, c.clone())),
                        // A step-up in the same session: only what is missing.
                        Err(purpose) => purpose,
                    }
                }
            },
            _ => Purpose::Account {
                requirement: Requirement {
                    level: Level::Low,
                    mandatory: false,
                },
                max_age: None,
                back,
            },
        };
        let new_browser = browser.is_none().then(crypto::random_token);
        let b = browser.or_else(|| new_browser.clone()).unwrap_or_default();
        match flow::begin(&st, purpose, cookie.as_deref(), &b, now)? {
            Begun::Interaction(tx) => Ok(Access::SignIn { tx, new_browser }),
            Begun::ToClient(_) => Err(OidcError::server("an account sign-in needs a transaction")),
        }
    }
}

fn sign_in(state: &AppState, tx: &str, new_browser: Option<String>) -> HttpResponse {
    let mut res = see_other(&format!("/interaction/{tx}"));
    if let Some(b) = new_browser {
        let _ = res.add_cookie(&state.cookie(BROWSER_COOKIE, b, None));
    }
    res
}

/// The signed-in citizen's session, account cookie and what the account page shows (with
/// the activity from row `before` back); else the page to answer with (a sign-in first, or
/// an error).
async fn signed_in_view(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    before: Option<i64>,
    now: i64,
) -> Result<(BrowserSession, String, privacy::AccountOverview), HttpResponse> {
    let get_access = access(state.clone().into_inner(), req, Needs::SignIn, now);
    let st = state.clone().into_inner();
    let result = blocking(move || {
        let (sess, cookie) = match get_access()? {
            Access::Granted(s, c) => (s, c),
            Access::SignIn { tx, new_browser } => return Ok(Err((tx, new_browser))),
        };
        let view = st
            .db
            .run(|c| privacy::account_overview(c, &sess.user_id, before, now))?;
        Ok(Ok((sess, cookie, view)))
    })
    .await;
    match result {
        Err(e) => Err(pages::error_page(req, &[], e.code.status(), &e)),
        Ok(Err((tx, b))) => Err(sign_in(state, &tx, b)),
        Ok(Ok(x)) => Ok(x),
    }
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let now = state.clock.now();
    let query = Params::parse(req.query_string().as_bytes()).unwrap_or_default();
    let before = query.get("before").and_then(|b| b.parse::<i64>().ok());
    let (sess, cookie, view) = match signed_in_view(&req, &state, before, now).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let lang = pages::lang(&req, &[]);
    let t = &pages::chrome(&req, lang);
    let (email, phone) = view
        .user
        .as_ref()
        .map(|u| (u.email.clone(), u.phone.clone()))
        .unwrap_or_default();
    let name = view.user.as_ref().and_then(|u| u.name.clone());
    let address = view
        .user
        .as_ref()
        .and_then(|u| u.address.as_ref())
        .map(|a| a.one_line());
    let display_name = view
        .user
        .as_ref()
        .map(|u| u.name.clone().unwrap_or_else(|| u.username.clone()))
        .unwrap_or_default();
    let sessions = view
        .sessions
        .iter()
        .map(|s| {
            let device = session::Device::of_session(s);
            let services = view.services_of(&s.sid);
            SessionRow {
                current: s.id == sess.id,
                started: pages::LocalTime::new(lang, s.created_at),
                last_seen: pages::LocalTime::new(lang, s.last_seen),
                device: device.name(t.session_unknown_device),
                address: device.address,
                services,
                sid: s.sid.clone(),
            }
        })
        .collect();
    let activity = view
        .events
        .iter()
        .map(|e| {
            let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or_default();
            let particulars = detail["factor"]
                .as_str()
                .and_then(FactorKind::parse)
                .map(|f| t.factor_name(f).to_string())
                .or_else(|| {
                    e.client_id
                        .as_deref()
                        .map(|id| view.name_of(id).to_string())
                })
                .unwrap_or_default();
            (
                pages::LocalTime::new(lang, e.at),
                e.kind().map_or("", |k| t.event(k)),
                particulars,
            )
        })
        .collect();
    let page = AccountPage {
        t,
        display_name: &display_name,
        csrf: &csrf(&cookie),
        changed: match query.get("changed").unwrap_or("") {
            "password" => t.password_changed_notice,
            "contact" => t.contact_changed_notice,
            "name" => t.name_changed_notice,
            "recovery" => t.recovery_saved_notice,
            "session-ended" => t.session_ended_notice,
            "consent-withdrawn" => t.consent_withdrawn_notice,
            "totp-removed" => t.totp_removed_notice,
            "passkey-removed" => t.passkey_removed_notice,
            "face-removed" => t.face_removed_notice,
            "voice-removed" => t.voice_removed_notice,
            _ => "",
        },
        name,
        email,
        phone,
        address,
        totp: view.enrolled.contains(&FactorKind::Totp),
        face: view.enrolled.contains(&FactorKind::Face),
        voice: view.enrolled.contains(&FactorKind::Voice),
        recovery_left: view.recovery_left,
        passkeys: view.passkeys,
        webauthn: state.webauthn.is_some(),
        activity,
        older_activity: view.older_activity,
        paged: before.is_some(),
        sessions,
        consents: view.consents,
    };
    pages::html(200, page.render())
}

/// Runs an action of the signed-in citizen off the executor, after checking the form's
/// CSRF token. `Ok(Err(..))` is where to send a browser to sign in (or step up) first.
async fn run_action<T, F>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    form: Params,
    needs: Needs,
    action: F,
) -> OidcResult<Result<T, (String, Option<String>)>>
where
    T: Send + 'static,
    F: FnOnce(&AppState, &BrowserSession, &Params, Lang, i64) -> OidcResult<T> + Send + 'static,
{
    let now = state.clock.now();
    let get_access = access(state.clone().into_inner(), req, needs, now);
    let st = state.clone().into_inner();
    let lang = pages::lang(req, &[]);
    blocking(move || {
        let (sess, cookie) = match get_access()? {
            Access::Granted(s, c) => (s, c),
            Access::SignIn { tx, new_browser } => return Ok(Err((tx, new_browser))),
        };
        let ok = form
            .get("csrf")
            .is_some_and(|t| crypto::constant_time_eq(t, &csrf(&cookie)));
        if !ok {
            return Err(OidcError::invalid_request(
                "the form has expired; reload the page and try again",
            )
            .told_as(Situation::FormExpired));
        }
        Ok(Ok(action(&st, &sess, &form, lang, now)?))
    })
    .await
}

/// A form action of the account page, answered with a page or a redirect.
async fn act<F>(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
    needs: Needs,
    action: F,
) -> HttpResponse
where
    F: FnOnce(&AppState, &BrowserSession, &Params, Lang, i64) -> OidcResult<Done> + Send + 'static,
{
    let form = match form_params(&req, &body) {
        Ok(f) => f,
        Err(e) => return pages::error_page(&req, &[], 400, &e),
    };
    let result = run_action(&req, &state, form, needs, action).await;
    let t = &pages::chrome(&req, pages::lang(&req, &[]));
    match result {
        Err(e) => pages::error_page(&req, &[], e.code.status(), &e),
        Ok(Err((tx, b))) => sign_in(&state, &tx, b),
        Ok(Ok(Done::Back)) => see_other("/account"),
        Ok(Ok(Done::To(url))) => see_other(&url),
        Ok(Ok(Done::Codes(codes))) => {
            pages::html(200, RecoveryCodesPage { t, codes: &codes }.render())
        }
        Ok(Ok(Done::TotpRetry)) => totp_setup(&req, &state, t.code_failed).await,
        Ok(Ok(Done::PasswordRetry(why))) => password_form(&req, &state, Some(why)).await,
        Ok(Ok(Done::FaceConsentMissing)) => face_form(&req, &state, true).await,
        Ok(Ok(Done::VoiceConsentMissing)) => voice_form(&req, &state, true).await,
        Ok(Ok(Done::CloseNotConfirmed)) => data_form(&req, &state, true).await,
        Ok(Ok(Done::Closed)) => {
            let page = pages::notice_page(t, t.closed_subject, t.closed_page);
            let mut res = pages::html(200, page);
            let _ = res.add_removal_cookie(&state.cookie(SESSION_COOKIE, String::new(), None));
            res
        }
        Ok(Ok(Done::SignedOut)) => {
            let page = pages::notice_page(t, t.signed_out_title, t.session_ended_notice);
            let mut res = pages::html(200, page);
            let _ = res.add_removal_cookie(&state.cookie(SESSION_COOKIE, String::new(), None));
            res
        }
        Ok(Ok(Done::Contact(step))) => contact_form(&req, &state, step).await,
    }
}

enum Done {
    Back,
    To(String),
    Codes(Vec<String>),
    TotpRetry,
    PasswordRetry(enrollment::password::Refused),
    FaceConsentMissing,
    VoiceConsentMissing,
    CloseNotConfirmed,
    /// The account is gone.
    Closed,
    /// The citizen ended the session of this browser.
    SignedOut,
    Contact(ContactStep),
}

/// The page that changes the password, with why the last try was refused.
async fn password_form(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    refused: Option<enrollment::password::Refused>,
) -> HttpResponse {
    let now = state.clock.now();
    let st = state.clone().into_inner();
    let get_access = access_to(st, req, Needs::Change, ReturnTo::Password, now);
    let result = blocking(get_access).await;
    let cookie = match result {
        Err(e) => return pages::error_page(req, &[], e.code.status(), &e),
        Ok(Access::SignIn { tx, new_browser }) => return sign_in(state, &tx, new_browser),
        Ok(Access::Granted(_, c)) => c,
    };
    let t = &pages::chrome(req, pages::lang(req, &[]));
    // Each problem belongs to the field it is about (the error summary links there).
    let (field, message) = pages::password_problem(t, refused);
    let page = PasswordPage {
        t,
        csrf: &csrf(&cookie),
        field,
        error: message,
        action: "/account/password",
        recovery: false,
    };
    pages::html(if refused.is_none() { 200 } else { 400 }, page.render())
}

pub async fn password_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    password_form(&req, &state, None).await
}

/// Sets a new password; the other sessions of the account end.
pub async fn password_change(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(
        req,
        state,
        body,
        Needs::Change,
        |st, sess, form, lang, now| {
            let new = form.get("password").unwrap_or("");
            let confirm = form.get("confirm").unwrap_or("");
            match enrollment::password::change(st, sess, new, confirm, lang, now)? {
                Ok(()) => Ok(Done::To("/account?changed=password".into())),
                Err(why) => Ok(Done::PasswordRetry(why)),
            }
        },
    )
    .await
}

pub async fn totp_start(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(req, state, body, Needs::Change, |st, sess, _, _, now| {
        enrollment::totp_start(st, &sess.user_id, now)?;
        Ok(Done::To("/account/totp".into()))
    })
    .await
}

async fn totp_setup(req: &HttpRequest, state: &web::Data<AppState>, error: &str) -> HttpResponse {
    let now = state.clock.now();
    let get_access = access(state.clone().into_inner(), req, Needs::Change, now);
    let st = state.clone().into_inner();
    let result = blocking(move || {
        let (sess, cookie) = match get_access()? {
            Access::Granted(s, c) => (s, c),
            Access::SignIn { tx, new_browser } => return Ok(Err((tx, new_browser))),
        };
        let user = enrollment::account(&st, &sess.user_id)?;
        Ok(Ok((
            cookie,
            user,
            enrollment::totp_pending(&st, &sess.user_id)?,
        )))
    })
    .await;
    let (cookie, user, pending) = match result {
        Err(e) => return pages::error_page(req, &[], e.code.status(), &e),
        Ok(Err((tx, b))) => return sign_in(state, &tx, b),
        Ok(Ok(x)) => x,
    };
    let Some((_, secret)) = pending else {
        return see_other("/account");
    };
    let account = user.map(|u| u.username).unwrap_or_default();
    let issuer_label = url::Url::parse(&state.provider.issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| state.provider.issuer.clone());
    let uri = totp::otpauth_uri(&issuer_label, &account, &secret);
    let t = &pages::chrome(req, pages::lang(req, &[]));
    let page = TotpSetupPage {
        t,
        csrf: &csrf(&cookie),
        qr_svg: &pages::qr_svg(&uri).unwrap_or_default(),
        uri: &uri,
        key: &totp::base32(&secret),
        error,
    };
    pages::html(if error.is_empty() { 200 } else { 400 }, page.render())
}

pub async fn totp_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    totp_setup(&req, &state, "").await
}

/// Activates the pending authenticator once the citizen proves it works with a first
/// code; it replaces any earlier one.
pub async fn totp_confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(
        req,
        state,
        body,
        Needs::Change,
        |st, sess, form, lang, now| {
            let code = form.get("code").unwrap_or("");
            if enrollment::totp_confirm(st, &sess.user_id, code, lang, now)? {
                Ok(Done::Back)
            } else if enrollment::totp_pending(st, &sess.user_id)?.is_some() {
                Ok(Done::TotpRetry)
            } else {
                Ok(Done::Back)
            }
        },
    )
    .await
}

pub async fn totp_remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(req, state, body, Needs::Change, |st, sess, _, lang, now| {
        enrollment::totp_remove(st, &sess.user_id, lang, now)?;
        Ok(Done::To("/account?changed=totp-removed".into()))
    })
    .await
}

/// New recovery codes, shown once; the earlier ones stop working.
pub async fn recovery_codes(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(req, state, body, Needs::Change, |st, sess, _, lang, now| {
        Ok(Done::Codes(enrollment::recovery_codes(
            st,
            &sess.user_id,
            lang,
            now,
        )?))
    })
    .await
}

/// What the confirmation page asks before an act that cannot be undone.
enum Confirm {
    EndSession { sid: String },
    Withdraw { client_id: String },
    RemoveTotp,
    RemovePasskey { id: String },
    RemoveFace,
    RemoveVoice,
}

impl Confirm {
    fn parse(q: &Params) -> Option<Confirm> {
        let arg = |name: &str| q.get(name).map(str::to_string);
        Some(match q.get("action")? {
            "end-session" => Confirm::EndSession { sid: arg("sid")? },
            "withdraw" => Confirm::Withdraw {
                client_id: arg("client_id")?,
            },
            "remove-totp" => Confirm::RemoveTotp,
            "remove-passkey" => Confirm::RemovePasskey { id: arg("id")? },
            "remove-face" => Confirm::RemoveFace,
            "remove-voice" => Confirm::RemoveVoice,
            _ => return None,
        })
    }
}

/// `GET /account/confirm?action=…`: asks before ending a session, withdrawing a consent
/// or removing a sign-in method, naming what it is about; the form it shows does it.
pub async fn confirm_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let now = state.clock.now();
    let query = Params::parse(req.query_string().as_bytes()).ok();
    let Some(what) = query.as_ref().and_then(Confirm::parse) else {
        let e = OidcError::invalid_request("unknown confirmation");
        return pages::error_page(&req, &[], 400, &e);
    };
    let (sess, cookie, view) = match signed_in_view(&req, &state, None, now).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let t = &pages::chrome(&req, pages::lang(&req, &[]));
    let gone = || {
        let e = OidcError::invalid_request("there is no such item on this account")
            .told_as(Situation::NotFound);
        pages::error_page(&req, &[], 404, &e)
    };
    let fill = |template: &str, what: &str| template.replace("{what}", what);
    let (question, hint, action, field, button) = match &what {
        Confirm::EndSession { sid } => {
            let Some(s) = view.sessions.iter().find(|s| &s.sid == sid) else {
                return gone();
            };
            let name = session::Device::of_session(s).name(t.session_unknown_device);
            let hint = if s.sid == sess.sid {
                t.confirm_end_this_session
            } else {
                ""
            };
            (
                fill(t.confirm_end_session, &name),
                hint,
                "/account/sessions/end",
                Some(("sid", sid.clone())),
                t.end_session,
            )
        }
        Confirm::Withdraw { client_id } => {
            let Some(c) = view.consents.iter().find(|c| &c.client_id == client_id) else {
                return gone();
            };
            (
                fill(t.confirm_withdraw, &c.client_name),
                t.confirm_withdraw_hint,
                "/account/consents/revoke",
                Some(("client_id", client_id.clone())),
                t.withdraw,
            )
        }
        Confirm::RemoveTotp => {
            if !view.enrolled.contains(&FactorKind::Totp) {
                return gone();
            }
            (
                t.confirm_remove_totp.to_string(),
                t.confirm_remove_factor_hint,
                "/account/totp/remove",
                None,
                t.remove,
            )
        }
        Confirm::RemoveFace | Confirm::RemoveVoice => {
            let (factor, question, action) = match what {
                Confirm::RemoveFace => (
                    FactorKind::Face,
                    t.confirm_remove_face,
                    "/account/face/remove",
                ),
                _ => (
                    FactorKind::Voice,
                    t.confirm_remove_voice,
                    "/account/voice/remove",
                ),
            };
            if !view.enrolled.contains(&factor) {
                return gone();
            }
            (
                question.to_string(),
                t.confirm_remove_biometric_hint,
                action,
                None,
                t.face_remove,
            )
        }
        Confirm::RemovePasskey { id } => {
            let Some((_, name)) = view.passkeys.iter().find(|(i, _)| i == id) else {
                return gone();
            };
            (
                fill(t.confirm_remove_passkey, name),
                t.confirm_remove_factor_hint,
                "/account/webauthn/remove",
                Some(("id", id.clone())),
                t.remove,
            )
        }
    };
    let page = pages::ConfirmPage {
        t,
        csrf: &csrf(&cookie),
        question: &question,
        hint,
        action,
        field,
        button,
    };
    pages::html(200, page.render())
}

pub async fn end_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(req, state, body, Needs::SignIn, |st, sess, form, _, now| {
        let sid = form.require("sid")?.to_string();
        privacy::end_session(st, &sess.user_id, &sid, now)?;
        Ok(match sid == sess.sid {
            true => Done::SignedOut,
            false => Done::To("/account?changed=session-ended".into()),
        })
    })
    .await
}

pub async fn withdraw_consent(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(req, state, body, Needs::SignIn, |st, sess, form, _, now| {
        let client_id = form.require("client_id")?;
        privacy::withdraw_consent(st, &sess.user_id, client_id, now)?;
        Ok(Done::To("/account?changed=consent-withdrawn".into()))
    })
    .await
}

/// An action of the account page's script (the WebAuthn ceremonies), answered in JSON. A
/// browser that must step up first is told where to go (`next`).
async fn act_json<F>(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
    action: F,
) -> HttpResponse
where
    F: FnOnce(&AppState, &BrowserSession, &Params, Lang, i64) -> OidcResult<serde_json::Value>
        + Send
        + 'static,
{
    let form = match form_params(&req, &body) {
        Ok(f) => f,
        Err(e) => return json_failure(&e),
    };
    act_json_on(req, state, form, action).await
}

/// As `act_json`, for a request whose fields were read already.
async fn act_json_on<F>(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: Params,
    action: F,
) -> HttpResponse
where
    F: FnOnce(&AppState, &BrowserSession, &Params, Lang, i64) -> OidcResult<serde_json::Value>
        + Send
        + 'static,
{
    match run_action(&req, &state, form, Needs::Change, action).await {
        Ok(Ok(v)) => HttpResponse::Ok()
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .json(v),
        Ok(Err((tx, b))) => {
            let mut res = HttpResponse::Forbidden()
                .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
                .json(serde_json::json!({
                    "error": "step_up_required",
                    "error_description": "confirm it is you with your strongest sign-in method first",
                    "next": format!("/interaction/{tx}"),
                }));
            if let Some(b) = b {
                let _ = res.add_cookie(&state.cookie(BROWSER_COOKIE, b, None));
            }
            res
        }
        Err(e) => json_failure(&e),
    }
}

/// Starts registering a passkey: the options for `navigator.credentials.create`.
pub async fn webauthn_begin(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act_json(req, state, body, |st, sess, form, _, now| {
        let user = enrollment::account(st, &sess.user_id)?
            .ok_or_else(|| OidcError::invalid_request("the account no longer exists"))?;
        enrollment::passkey_begin(st, &user, form.get("name").unwrap_or(""), now)
    })
    .await
}

/// Checks the browser's attestation and stores the new passkey under its name.
pub async fn webauthn_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act_json(req, state, body, |st, sess, form, lang, now| {
        enrollment::passkey_finish(
            st,
            &sess.user_id,
            form.get("challenge").unwrap_or(""),
            form.get("credential").unwrap_or(""),
            lang,
            now,
        )?;
        Ok(serde_json::json!({ "next": "/account" }))
    })
    .await
}

pub async fn webauthn_remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(
        req,
        state,
        body,
        Needs::Change,
        |st, sess, form, lang, now| {
            enrollment::passkey_remove(st, &sess.user_id, form.require("id")?, lang, now)?;
            Ok(Done::To("/account?changed=passkey-removed".into()))
        },
    )
    .await
}

/// The face sign-in page of the account: what is kept and why, and the consent to it;
/// once agreed, the capture.
pub async fn face_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    face_form(&req, &state, false).await
}

async fn face_form(req: &HttpRequest, state: &web::Data<AppState>, missing: bool) -> HttpResponse {
    let now = state.clock.now();
    let st = state.clone().into_inner();
    let get_access = access_to(st.clone(), req, Needs::Change, ReturnTo::Face, now);
    let result = blocking(move || {
        let (sess, cookie) = match get_access()? {
            Access::Granted(s, c) => (s, c),
            Access::SignIn { tx, new_browser } => return Ok(Err((tx, new_browser))),
        };
        let step = enrollment::biometric::step(&st, &sess.user_id)?;
        let agreed = enrollment::biometric::consent_of(&st, &sess.user_id)?.map(|c| c.granted_at);
        Ok(Ok((cookie, step, agreed)))
    })
    .await;
    let (cookie, step, agreed) = match result {
        Err(e) => return pages::error_page(req, &[], e.code.status(), &e),
        Ok(Err((tx, b))) => return sign_in(state, &tx, b),
        Ok(Ok(x)) => x,
    };
    let lang = pages::lang(req, &[]);
    let t = &pages::chrome(req, lang);
    let csrf = csrf(&cookie);
    let mismatch =
        Params::parse(req.query_string().as_bytes()).is_ok_and(|q| q.get("mismatch") == Some("1"));
    let (begin, finish) = match step {
        FaceStep::RegisterCapture => (
            "/account/face/register/begin",
            "/account/face/register/finish",
        ),
        _ => ("/account/face/begin", "/account/face/finish"),
    };
    let page = match step {
        FaceStep::Document { rejected } => {
            let rejected = rejected.map(|(at, reason)| {
                Message::with_time(
                    &t.reg_rejected.replace("{reason}", &reason),
                    pages::LocalTime::new(lang, at),
                )
            });
            return document_page(
                t,
                &csrf,
                Vec::new(),
                &DocumentValues::default(),
                rejected,
                mismatch,
            );
        }
        step => FacePage {
            t,
            csrf: &csrf,
            consent: step == FaceStep::Consent,
            registration: st_registration(state),
            agreed: agreed.map(|at| pages::LocalTime::new(lang, at)),
            missing,
            pending: match step {
                FaceStep::Pending { since } => Some(Message::with_time(
                    t.reg_pending_body,
                    pages::LocalTime::new(lang, since),
                )),
                _ => None,
            },
            enrolled: match step {
                FaceStep::Enrolled { since } => Some(pages::LocalTime::new(lang, since)),
                _ => None,
            },
            begin,
            finish,
            messages: &pages::face_messages(t),
        },
    };
    pages::html(if missing { 400 } else { 200 }, page.render())
}

fn st_registration(state: &AppState) -> bool {
    state.config.biometrics.enrolment == crate::config::Enrolment::Registration
}

fn document_page(
    t: &pages::Chrome,
    csrf: &str,
    errors: Vec<(&'static str, String)>,
    values: &DocumentValues,
    rejected: Option<Message>,
    mismatch: bool,
) -> HttpResponse {
    let status = if errors.is_empty() { 200 } else { 400 };
    let page = FaceDocumentPage {
        t,
        csrf,
        errors,
        values,
        rejected,
        mismatch,
    };
    pages::html(status, page.render())
}

/// The most a document photo may weigh.
pub const MAX_DOCUMENT: usize = 12 * 1024 * 1024;

/// Reads a `multipart/form-data` body: its text fields as form parameters (with their
/// usual checks), and the content of the file field `file`.
async fn multipart(
    req: &HttpRequest,
    body: web::Bytes,
    file: &str,
) -> OidcResult<(Params, Vec<u8>)> {
    let bad = || OidcError::invalid_request("the form could not be read; try again");
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multer::parse_boundary(content_type).map_err(|_| bad())?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let mut text = url::form_urlencoded::Serializer::new(String::new());
    let mut content = Vec::new();
    while let Some(field) = form.next_field().await.map_err(|_| bad())? {
        let name = field.name().unwrap_or("").to_string();
        let data = field.bytes().await.map_err(|_| bad())?;
        if name == file {
            content = data.to_vec();
        } else {
            text.append_pair(&name, std::str::from_utf8(&data).map_err(|_| bad())?);
        }
    }
    Ok((Params::parse(text.finish().as_bytes())?, content))
}

/// A date typed as day, month and year (`{name}-day`, ...); none unless all three make one.
fn typed_date(form: &Params, name: &str) -> (Option<Date>, [String; 3]) {
    let part = |p: &str| {
        form.get(&format!("{name}-{p}"))
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let parts = [part("day"), part("month"), part("year")];
    let date = match (parts[0].parse(), parts[1].parse(), parts[2].parse()) {
        (Ok(d), Ok(m), Ok(y)) if parts[2].len() == 4 => Date::new(y, m, d),
        _ => None,
    };
    (date, parts)
}

/// The document step of a registration: details and a photo.
pub async fn face_document(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let (form, photo) = match multipart(&req, body, "photo").await {
        Ok(x) => x,
        Err(e) => return pages::error_page(&req, &[], 400, &e),
    };
    let result = run_action(
        &req,
        &state,
        form,
        Needs::Change,
        move |st, sess, form, lang, now| {
            let (expires, expires_parts) = typed_date(form, "expires");
            let (born, born_parts) = typed_date(form, "born");
            let values = DocumentValues {
                kind: form.get("kind").unwrap_or("").to_string(),
                number: form.get("number").unwrap_or("").to_string(),
                country: form.get("country").unwrap_or("").to_string(),
                expires: expires_parts,
                born: born_parts,
                mrz: form.get("mrz").unwrap_or("").to_string(),
            };
            let doc = DocumentForm {
                kind: &values.kind,
                number: &values.number,
                country: &values.country,
                expires,
                born,
                mrz: &values.mrz,
            };
            let refused = enrollment::registration::submit_document(
                st,
                &sess.user_id,
                &doc,
                &photo,
                lang,
                now,
            )?;
            Ok((refused.err(), values))
        },
    )
    .await;
    let lang = pages::lang(&req, &[]);
    let t = &pages::chrome(&req, lang);
    match result {
        Err(e) => pages::error_page(&req, &[], e.code.status(), &e),
        Ok(Err((tx, b))) => sign_in(&state, &tx, b),
        Ok(Ok((None, _))) => see_other("/account/face"),
        Ok(Ok((Some(refused), values))) => {
            let cookie = state.read_cookie(&req, SESSION_COOKIE).unwrap_or_default();
            let errors = document_errors(
                t,
                &refused,
                !values.mrz.trim().is_empty(),
                state.config.biometrics.adult_age,
            );
            document_page(t, &csrf(&cookie), errors, &values, None, false)
        }
    }
}

/// Each refusal as the field it is about and what to do, in the form's order.
fn document_errors(
    t: &crate::i18n::Texts,
    refused: &DocumentRefused,
    mrz_given: bool,
    adult_age: u32,
) -> Vec<(&'static str, String)> {
    use authenticators::document::Problem;
    use authenticators::face::Unusable;
    match refused {
        DocumentRefused::Details(problems) => problems
            .iter()
            .map(|p| match p {
                Problem::Kind => ("kind-passport", t.reg_err_kind),
                Problem::Number => ("number", t.reg_err_number),
                Problem::Country => ("country", t.reg_err_country),
                Problem::Expires => ("expires-day", t.reg_err_expires),
                Problem::Expired if mrz_given => ("mrz", t.reg_err_expired),
                Problem::Expired => ("expires-day", t.reg_err_expired),
                Problem::Born => ("born-day", t.reg_err_born),
                Problem::MrzUnreadable => ("mrz", t.reg_err_mrz_unreadable),
                Problem::MrzCheckDigit => ("mrz", t.reg_err_mrz_check),
            })
            .map(|(f, m)| (f, m.to_string()))
            .collect(),
        DocumentRefused::Photo(u) => vec![(
            "photo",
            match u {
                Unusable::Unreadable => t.reg_err_photo_unreadable,
                Unusable::NoFace | Unusable::SeveralFaces => t.reg_err_photo_no_face,
                Unusable::TooSmall => t.reg_err_photo_small,
                Unusable::TooDark => t.reg_err_photo_dark,
                Unusable::TooBlurred => t.reg_err_photo_blurred,
            }
            .to_string(),
        )],
        DocumentRefused::Minor => vec![(
            "born-day",
            t.reg_err_minor.replace("{age}", &adult_age.to_string()),
        )],
    }
}

pub async fn face_register_begin(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act_json(req, state, body, |st, sess, _, _, now| {
        let (challenge, cue) = enrollment::registration::begin_capture(st, &sess.user_id, now)?;
        Ok(serde_json::json!({ "challenge": challenge, "cue": cue }))
    })
    .await
}

pub async fn face_register_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    use enrollment::registration::CaptureRefused;
    let (capture, frames) = match super::interaction::Capture::read(&body) {
        Ok(c) => c,
        Err(e) => return json_failure(&e),
    };
    let mut form = Params::default();
    form.insert("csrf", &capture.csrf);
    act_json_on(req, state, form, move |st, sess, _, lang, now| {
        let result = enrollment::registration::finish_capture(
            st,
            &sess.user_id,
            &capture.challenge,
            &frames,
            lang,
            now,
        )?;
        Ok(match result {
            Ok(()) => serde_json::json!({ "next": "/account/face" }),
            Err(CaptureRefused::Face(r)) => {
                serde_json::json!({ "refused": flow::FaceAnswer::Refused(r) })
            }
            Err(CaptureRefused::Mismatch { left }) if left > 0 => {
                serde_json::json!({ "refused": "mismatch" })
            }
            Err(CaptureRefused::Mismatch { .. }) => {
                serde_json::json!({ "next": "/account/face?mismatch=1" })
            }
        })
    })
    .await
}

/// The citizen cancels their registration; its pictures are deleted at once.
pub async fn face_register_cancel(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(req, state, body, Needs::Change, |st, sess, _, _, now| {
        enrollment::registration::cancel(st, &sess.user_id, now)?;
        Ok(Done::To("/account/face".into()))
    })
    .await
}

/// Records the consent (the box must be ticked), then shows the capture.
pub async fn face_agree(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(req, state, body, Needs::Change, |st, sess, form, _, now| {
        if form.get("agree") != Some("yes") {
            return Ok(Done::FaceConsentMissing);
        }
        enrollment::biometric::agree(st, &sess.user_id, now)?;
        Ok(Done::To("/account/face".into()))
    })
    .await
}

pub async fn face_begin(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act_json(req, state, body, |st, sess, _, _, now| {
        let (challenge, cue) = enrollment::biometric::begin(st, &sess.user_id, now)?;
        Ok(serde_json::json!({ "challenge": challenge, "cue": cue }))
    })
    .await
}

pub async fn face_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let (capture, frames) = match super::interaction::Capture::read(&body) {
        Ok(c) => c,
        Err(e) => return json_failure(&e),
    };
    let mut form = Params::default();
    form.insert("csrf", &capture.csrf);
    act_json_on(req, state, form, move |st, sess, _, lang, now| {
        let result = enrollment::biometric::finish(
            st,
            &sess.user_id,
            &capture.challenge,
            &frames,
            lang,
            now,
        )?;
        Ok(match result {
            Ok(()) => serde_json::json!({ "next": "/account?changed=face" }),
            Err(r) => serde_json::json!({ "refused": flow::FaceAnswer::Refused(r) }),
        })
    })
    .await
}

/// Withdraws the consent; the template is destroyed at once.
pub async fn face_remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(req, state, body, Needs::Change, |st, sess, _, lang, now| {
        enrollment::biometric::withdraw(st, &sess.user_id, lang, now)?;
        Ok(Done::To("/account?changed=face-removed".into()))
    })
    .await
}

/// The voice page of the account: what is kept and why, the consent, then the recording.
pub async fn voice_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    voice_form(&req, &state, false).await
}

async fn voice_form(req: &HttpRequest, state: &web::Data<AppState>, missing: bool) -> HttpResponse {
    let now = state.clock.now();
    let st = state.clone().into_inner();
    let get_access = access_to(st.clone(), req, Needs::Change, ReturnTo::Voice, now);
    let result = blocking(move || {
        let (sess, cookie) = match get_access()? {
            Access::Granted(s, c) => (s, c),
            Access::SignIn { tx, new_browser } => return Ok(Err((tx, new_browser))),
        };
        let consent = enrollment::voice::consent_of(&st, &sess.user_id)?;
        let enrolled = enrollment::voice::enrolled(&st, &sess.user_id)?;
        Ok(Ok((cookie, consent, enrolled)))
    })
    .await;
    let (cookie, consent, enrolled) = match result {
        Err(e) => return pages::error_page(req, &[], e.code.status(), &e),
        Ok(Err((tx, b))) => return sign_in(state, &tx, b),
        Ok(Ok(x)) => x,
    };
    let lang = pages::lang(req, &[]);
    let t = &pages::chrome(req, lang);
    let page = VoicePage {
        t,
        csrf: &csrf(&cookie),
        agreed: consent.map(|c| pages::LocalTime::new(lang, c.granted_at)),
        enrolled: enrolled.map(|c| pages::LocalTime::new(lang, c.created_at)),
        missing,
        voice_messages: &pages::voice_messages(t),
    };
    pages::html(if missing { 400 } else { 200 }, page.render())
}

/// Records the consent to the voice (the box must be ticked), then shows the recording.
pub async fn voice_agree(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(req, state, body, Needs::Change, |st, sess, form, _, now| {
        if form.get("agree") != Some("yes") {
            return Ok(Done::VoiceConsentMissing);
        }
        enrollment::voice::agree(st, &sess.user_id, now)?;
        Ok(Done::To("/account/voice".into()))
    })
    .await
}

pub async fn voice_begin(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act_json(req, state, body, |st, sess, _, _, now| {
        let (challenge, phrase) = enrollment::voice::begin(st, &sess.user_id, now)?;
        Ok(serde_json::json!({ "challenge": challenge, "phrase": phrase }))
    })
    .await
}

pub async fn voice_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let (recording, audio) = match super::interaction::Recording::read(&body) {
        Ok(r) => r,
        Err(e) => return json_failure(&e),
    };
    let mut form = Params::default();
    form.insert("csrf", &recording.csrf);
    act_json_on(req, state, form, move |st, sess, _, lang, now| {
        let result =
            enrollment::voice::finish(st, &sess.user_id, &recording.challenge, &audio, lang, now)?;
        Ok(match result {
            Ok(()) => serde_json::json!({ "next": "/account?changed=voice" }),
            Err(u) => serde_json::json!({ "refused": flow::VoiceAnswer::Unusable(u) }),
        })
    })
    .await
}

/// Withdraws the consent to the voice; the template is destroyed at once.
pub async fn voice_remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(req, state, body, Needs::Change, |st, sess, _, lang, now| {
        enrollment::voice::withdraw(st, &sess.user_id, lang, now)?;
        Ok(Done::To("/account?changed=voice-removed".into()))
    })
    .await
}

/// The citizen's data: the biometric data kept, consents and uses; download; closing.
pub async fn data_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    data_form(&req, &state, false).await
}

async fn data_form(req: &HttpRequest, state: &web::Data<AppState>, missing: bool) -> HttpResponse {
    let now = state.clock.now();
    let st = state.clone().into_inner();
    let get_access = access(st.clone(), req, Needs::SignIn, now);
    let result = blocking(move || {
        let (sess, cookie) = match get_access()? {
            Access::Granted(s, c) => (s, c),
            Access::SignIn { tx, new_browser } => return Ok(Err((tx, new_browser))),
        };
        Ok(Ok((
            cookie,
            crate::privacy::biometrics(&st, &sess.user_id)?,
        )))
    })
    .await;
    let (cookie, overview) = match result {
        Err(e) => return pages::error_page(req, &[], e.code.status(), &e),
        Ok(Err((tx, b))) => return sign_in(state, &tx, b),
        Ok(Ok(x)) => x,
    };
    let lang = pages::lang(req, &[]);
    let t = &pages::chrome(req, lang);
    let factor = |name: &str| match name {
        "voice" => t.voice_method,
        _ => t.face_method,
    };
    let at = |time: i64| pages::LocalTime::new(lang, time);
    let mut kept: Vec<Message> = overview
        .templates
        .iter()
        .map(|(f, since)| {
            Message::with_time(&t.bio_template.replace("{factor}", factor(f)), at(*since))
        })
        .collect();
    if let Some(since) = overview.pictures_since {
        kept.push(Message::with_time(t.bio_pictures, at(since)));
    }
    let consents = overview
        .consents
        .iter()
        .map(|c| {
            let text = t
                .bio_consent_row
                .replace("{factor}", factor(&c.modality))
                .replace("{version}", &c.text_version);
            (
                Message::with_time(&text, at(c.granted_at)),
                c.withdrawn_at.map(at),
            )
        })
        .collect();
    let uses = overview
        .uses
        .iter()
        .map(|u| {
            let service = u.service.as_deref().unwrap_or(t.bio_use_account);
            let what = t
                .bio_use_row
                .replace("{factor}", factor(&u.factor))
                .replace("{service}", service);
            (at(u.at), what, u.accepted)
        })
        .collect();
    let page = DataPage {
        t,
        csrf: &csrf(&cookie),
        kept,
        consents,
        uses,
        missing,
    };
    pages::html(if missing { 400 } else { 200 }, page.render())
}

/// All the citizen's data as a JSON download (after a fresh step-up, as it is all of it).
pub async fn data_export(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let now = state.clock.now();
    let st = state.clone().into_inner();
    let get_access = access(st.clone(), &req, Needs::Change, now);
    let result = blocking(move || {
        let (sess, _) = match get_access()? {
            Access::Granted(s, c) => (s, c),
            Access::SignIn { tx, new_browser } => return Ok(Err((tx, new_browser))),
        };
        Ok(Ok(crate::privacy::export(&st, &sess.user_id, now)?))
    })
    .await;
    match result {
        Err(e) => pages::error_page(&req, &[], e.code.status(), &e),
        Ok(Err((tx, b))) => sign_in(&state, &tx, b),
        Ok(Ok(data)) => HttpResponse::Ok()
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .insert_header((
                actix_web::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"my-data.json\"",
            ))
            .content_type("application/json")
            .body(serde_json::to_string_pretty(&data).unwrap_or_default()),
    }
}

/// Closes the account (the box must be ticked), after a fresh step-up.
pub async fn close_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(
        req,
        state,
        body,
        Needs::Change,
        |st, sess, form, lang, now| {
            if form.get("confirm") != Some("yes") {
                return Ok(Done::CloseNotConfirmed);
            }
            crate::privacy::close_account(st, &sess.user_id, lang, now)?;
            Ok(Done::Closed)
        },
    )
    .await
}

/// The page that changes the e-mail address (`?what=email`) or mobile number.
pub async fn contact_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let what = Params::parse(req.query_string().as_bytes())
        .ok()
        .and_then(|q| q.get("what").and_then(Contact::parse))
        .unwrap_or(Contact::Email);
    contact_form(
        &req,
        &state,
        ContactStep::Ask {
            what,
            refused: None,
        },
    )
    .await
}

/// Where a change of contact details stands.
enum ContactStep {
    /// Ask for the new address or name (again, when the last was refused).
    Ask {
        what: Contact,
        refused: Option<enrollment::contact::Refused>,
    },
    /// Ask for the code sent to `to` (again, after a wrong one).
    Code {
        what: Contact,
        to: String,
        wrong: bool,
    },
}

async fn contact_form(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    step: ContactStep,
) -> HttpResponse {
    let now = state.clock.now();
    let st = state.clone().into_inner();
    let get_access = access_to(st, req, Needs::Change, ReturnTo::Contact, now);
    let cookie = match blocking(get_access).await {
        Err(e) => return pages::error_page(req, &[], e.code.status(), &e),
        Ok(Access::SignIn { tx, new_browser }) => return sign_in(state, &tx, new_browser),
        Ok(Access::Granted(_, c)) => c,
    };
    let t = &pages::chrome(req, pages::lang(req, &[]));
    let changing = match &step {
        ContactStep::Ask { what, .. } | ContactStep::Code { what, .. } => *what,
    };
    let title = match changing {
        Contact::Email => t.contact_email_title,
        Contact::Phone => t.contact_phone_title,
        Contact::Name => t.name_title,
    };
    let (what, to, error) = match &step {
        ContactStep::Ask { what, refused } => {
            use enrollment::contact::Refused;
            let error = match (refused, what) {
                (None, _) => "",
                (Some(Refused::NoAddress), _) => t.name_no_address,
                (Some(_), Contact::Email) => t.contact_invalid_email,
                (Some(_), Contact::Phone) => t.contact_invalid_phone,
                (Some(_), Contact::Name) => t.name_invalid,
            };
            (Some(*what), String::new(), error)
        }
        ContactStep::Code { to, wrong, .. } => {
            (None, to.clone(), if *wrong { t.code_failed } else { "" })
        }
    };
    let page = ContactPage {
        t,
        csrf: &csrf(&cookie),
        title,
        what: what.map(Contact::name).unwrap_or(""),
        intro: &t.contact_code_intro.replace("{to}", &to),
        error,
    };
    pages::html(if error.is_empty() { 200 } else { 400 }, page.render())
}

/// Sends a code to the new address.
pub async fn contact_start(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(
        req,
        state,
        body,
        Needs::Change,
        |st, sess, form, lang, now| {
            let what = form
                .get("what")
                .and_then(Contact::parse)
                .ok_or_else(|| OidcError::invalid_request("what must be email, phone or name"))?;
            let value = form.get("value").unwrap_or("");
            Ok(
                match enrollment::contact::start(st, &sess.user_id, what, value, lang, now)? {
                    Ok(p) => Done::Contact(ContactStep::Code {
                        what: p.contact,
                        to: p.to,
                        wrong: false,
                    }),
                    Err(refused) => Done::Contact(ContactStep::Ask {
                        what,
                        refused: Some(refused),
                    }),
                },
            )
        },
    )
    .await
}

/// Makes the change when the code sent to the new address comes back.
pub async fn contact_confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(
        req,
        state,
        body,
        Needs::Change,
        |st, sess, form, lang, now| {
            let code = form.get("code").unwrap_or("");
            Ok(
                match enrollment::contact::confirm(st, &sess.user_id, code, lang, now)? {
                    Ok(Contact::Name) => Done::To("/account?changed=name".into()),
                    Ok(_) => Done::To("/account?changed=contact".into()),
                    Err(_) => match enrollment::contact::pending(st, &sess.user_id, now)? {
                        Some(p) => Done::Contact(ContactStep::Code {
                            what: p.contact,
                            to: p.to,
                            wrong: true,
                        }),
                        None => Done::To("/account/contact".into()),
                    },
                },
            )
        },
    )
    .await
}
