//! The citizen-facing steps of a login transaction. Each handler parses the request into
//! a `login::flow::Event`, lets the flow decide, and renders its answer: a page, a
//! redirect, or JSON for the WebAuthn script.

use super::pages::{self, ConsentPage, FactorPage, LoginPage, Message, SelectAccountPage};
use super::{AppState, BROWSER_COOKIE, SESSION_COOKIE, blocking, form_params, see_other};
use crate::i18n::{Lang, Texts};
use crate::login::factors::Refusal;
use crate::login::flow::{
    self, Answer, Choice, Event, FactorMode, LoginNotice, Screen, Turn, View, Visit,
};
use crate::oidc::error::{ErrorCode, OidcError, OidcResult, Situation};
use crate::oidc::params::Params;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use authenticators::FactorKind;

/// What the handler needs from the request, read before the work moves off the executor.
struct Request {
    tx: String,
    browser: Option<String>,
    session: Option<String>,
    ip: Option<std::net::IpAddr>,
    accept: Option<String>,
    agent: Option<String>,
}

impl Request {
    fn read(req: &HttpRequest, state: &AppState, tx: String) -> Request {
        Request {
            tx,
            browser: state.read_cookie(req, BROWSER_COOKIE),
            session: state.read_cookie(req, SESSION_COOKIE),
            ip: super::client_ip(state, req),
            accept: req
                .headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            agent: req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        }
    }

    fn visit<'a>(&'a self, csrf: Option<&'a str>) -> Visit<'a> {
        Visit {
            tx: &self.tx,
            browser: self.browser.as_deref(),
            session: self.session.as_deref(),
            csrf,
            ip: self.ip,
            accept_language: self.accept.as_deref(),
            user_agent: self.agent.as_deref(),
        }
    }
}

/// Parses the form (if any), runs the event it makes through the flow off the executor.
async fn run<F>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    tx: String,
    body: Option<&web::Bytes>,
    event: F,
) -> OidcResult<Turn>
where
    F: for<'a> FnOnce(&'a Params) -> OidcResult<Event<'a>> + Send + 'static,
{
    let (form, is_form) = match body {
        Some(b) => (form_params(req, b)?, true),
        None => (Params::parse(req.query_string().as_bytes())?, false),
    };
    let request = Request::read(req, state, tx);
    let st = state.clone().into_inner();
    let now = state.clock.now();
    blocking(move || {
        let csrf = if is_form {
            Some(form.get("csrf").unwrap_or(""))
        } else {
            None
        };
        let event = event(&form)?;
        flow::handle(&st, request.visit(csrf), event, now)
    })
    .await
}

/// Renders the flow's answer as a page or redirect, with the new session cookie.
async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    turn: OidcResult<Turn>,
) -> HttpResponse {
    let turn = match turn {
        Ok(t) => t,
        Err(e) => return pages::error_page(&req, &[], e.code.status(), &e),
    };
    let lang = pages::lang(&req, &turn.view.ui_locales);
    let mut res = match turn.answer {
        Answer::Redirect(url) => see_other(&url),
        Answer::ToClient(r) => pages::to_client(&req, &turn.view.ui_locales, &r),
        Answer::Json(v) => json_answer(200, v),
        Answer::Show(screen) => render(&pages::chrome(&req, lang), &turn.view, &state, screen),
    };
    if let Some(c) = turn.session_cookie {
        let _ = res.add_cookie(&state.cookie(SESSION_COOKIE, c, None));
    }
    res
}

/// The same for the WebAuthn script: errors as JSON.
async fn json(state: web::Data<AppState>, turn: OidcResult<Turn>) -> HttpResponse {
    match turn {
        Ok(Turn {
            answer: Answer::Json(v),
            session_cookie,
            ..
        }) => {
            let mut res = json_answer(200, v);
            if let Some(c) = session_cookie {
                let _ = res.add_cookie(&state.cookie(SESSION_COOKIE, c, None));
            }
            res
        }
        Ok(_) => json_failure(&OidcError::server("the flow answered a script with a page")),
        Err(e) => json_failure(&e),
    }
}

fn refusal_text(lang: Lang, r: Refusal, wrong: &'static str) -> Message {
    let t = lang.texts();
    match r {
        Refusal::Wrong => Message::plain(wrong),
        Refusal::Certificate => Message::plain(t.certificate_failed),
        Refusal::Locked { until, .. } => {
            Message::with_time(t.locked, pages::LocalTime::new(lang, until))
        }
    }
}

/// Factors that have a step-up page, in the order they are offered.
const STEP_UP_FACTORS: [FactorKind; 8] = [
    FactorKind::WebAuthn,
    FactorKind::Face,
    FactorKind::Voice,
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
        FactorKind::Face => t.use_face,
        FactorKind::Voice => t.use_voice,
        _ => t.use_totp,
    }
}

fn render(t: &pages::Chrome, view: &View, state: &AppState, screen: Screen) -> HttpResponse {
    let lang = t.lang;
    let client_name = view.client_name.as_deref().unwrap_or(t.account_title);
    let service = view.client_name.is_some();
    let status = |error: &Message| if error.is_empty() { 200 } else { 401 };
    let labels = |factors: &[FactorKind]| -> Vec<(&'static str, &'static str)> {
        STEP_UP_FACTORS
            .into_iter()
            .filter(|f| factors.contains(f))
            .map(|f| (f.name(), factor_label(t, f)))
            .collect()
    };
    match screen {
        Screen::Login {
            username,
            refusal,
            unlock,
            notice,
        } => {
            let error = refusal
                .map(|r| refusal_text(lang, r, t.login_failed))
                .unwrap_or_default();
            let page = LoginPage {
                t,
                client_name,
                links: &view.client_links,
                logo: view.client_logo.as_deref(),
                service,
                tx: &view.tx,
                csrf: &view.csrf,
                username: &username,
                error: &error,
                error_field: match refusal {
                    Some(Refusal::Certificate) | None => "",
                    Some(_) => "password",
                },
                certificate: state.certificates.is_some(),
                passkey: state.webauthn.is_some(),
                unlock: labels(&unlock),
                notice: match notice {
                    Some(LoginNotice::Unlocked) => t.unlocked_notice,
                    Some(LoginNotice::PasswordReset) => t.password_reset_notice,
                    None => "",
                },
                face: state.config.biometrics.identify,
                messages: &pages::face_messages(t),
            };
            pages::html(status(&error), page.render())
        }
        Screen::Factor {
            offered,
            chosen,
            sent,
            refusal,
            mode,
        } => {
            let usable: Vec<FactorKind> = STEP_UP_FACTORS
                .into_iter()
                .filter(|f| offered.contains(f))
                .collect();
            let Some(first) = usable.first() else {
                let e = OidcError::new(
                    ErrorCode::AccessDenied,
                    "no enrolled factor reaches the level",
                )
                .told_as(Situation::NoMethod);
                let body = pages::error_body(t, &e);
                return pages::html(403, body);
            };
            let factor = chosen.filter(|f| usable.contains(f)).unwrap_or(*first);
            let alternatives = usable
                .iter()
                .filter(|f| **f != factor)
                .map(|f| (f.name(), factor_label(t, *f)))
                .collect();
            let error = refusal
                .map(|r| refusal_text(lang, r, t.code_failed))
                .unwrap_or_default();
            let page = FactorPage {
                t,
                client_name,
                service,
                tx: &view.tx,
                csrf: &view.csrf,
                factor: factor.name(),
                alternatives,
                sent,
                error: &error,
                unlock: mode == FactorMode::Unlock,
                recover: mode == FactorMode::Recover,
                messages: &pages::face_messages(t),
                voice_messages: &pages::voice_messages(t),
            };
            pages::html(status(&error), page.render())
        }
        Screen::Consent { scopes } => {
            let page = ConsentPage {
                t,
                client_name,
                links: &view.client_links,
                logo: view.client_logo.as_deref(),
                tx: &view.tx,
                csrf: &view.csrf,
                scopes: scopes.iter().map(|s| pages::describe_scope(t, s)).collect(),
            };
            pages::html(200, page.render())
        }
        Screen::Forgot { username, none } => {
            let page = pages::ForgotPage {
                t,
                client_name,
                service,
                tx: &view.tx,
                csrf: &view.csrf,
                username: &username,
                none,
            };
            pages::html(if none { 404 } else { 200 }, page.render())
        }
        Screen::NewPassword { refused } => {
            let (field, error) = pages::password_problem(t, refused);
            let action = format!("/interaction/{}/password", view.tx);
            let page = pages::PasswordPage {
                t,
                csrf: &view.csrf,
                field,
                error,
                action: &action,
                recovery: true,
            };
            pages::html(if error.is_empty() { 200 } else { 400 }, page.render())
        }
        Screen::SelectAccount { display_name } => {
            let page = SelectAccountPage {
                t,
                client_name,
                service,
                tx: &view.tx,
                csrf: &view.csrf,
                username: &display_name,
            };
            pages::html(200, page.render())
        }
    }
}

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

fn factor_param(form: &Params) -> OidcResult<FactorKind> {
    form.get("factor")
        .and_then(FactorKind::parse)
        .ok_or_else(|| OidcError::invalid_request("unknown factor"))
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let turn = run(&req, &state, path.into_inner(), None, |q| {
        Ok(Event::Show {
            factor: q.get("factor").and_then(FactorKind::parse),
            sent: q.get("sent") == Some("1"),
            unlocked: q.get("unlocked") == Some("1"),
            forgot: q.get("forgot") == Some("1"),
        })
    })
    .await;
    page(req, state, turn).await
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let turn = run(&req, &state, path.into_inner(), Some(&body), |f| {
        Ok(Event::Password {
            username: f.get("username").unwrap_or(""),
            password: f.get("password").unwrap_or(""),
        })
    })
    .await;
    page(req, state, turn).await
}

/// "Forgot your password?": the account's username.
pub async fn forgot(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let turn = run(&req, &state, path.into_inner(), Some(&body), |f| {
        Ok(Event::Forgot {
            username: f.get("username").unwrap_or(""),
        })
    })
    .await;
    page(req, state, turn).await
}

/// The new password after a recovery.
pub async fn new_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let turn = run(&req, &state, path.into_inner(), Some(&body), |f| {
        Ok(Event::NewPassword {
            password: f.get("password").unwrap_or(""),
            confirm: f.get("confirm").unwrap_or(""),
        })
    })
    .await;
    page(req, state, turn).await
}

pub async fn factor(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let turn = run(&req, &state, path.into_inner(), Some(&body), |f| {
        let factor = factor_param(f)?;
        if !crate::login::factors::codes::CODE_FACTORS.contains(&factor) {
            return Err(OidcError::invalid_request("unknown factor"));
        }
        Ok(Event::Code {
            factor,
            code: f.get("code").unwrap_or(""),
        })
    })
    .await;
    page(req, state, turn).await
}

pub async fn send_code(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let turn = run(&req, &state, path.into_inner(), Some(&body), |f| {
        Ok(Event::SendCode(factor_param(f)?))
    })
    .await;
    page(req, state, turn).await
}

pub async fn certificate(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let chain = crate::http::tls::citizen_chain(&state, &req);
    let turn = run(&req, &state, path.into_inner(), Some(&body), move |_| {
        Ok(Event::Certificate(chain))
    })
    .await;
    page(req, state, turn).await
}

pub async fn webauthn_begin(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let turn = run(&req, &state, path.into_inner(), Some(&body), |_| {
        Ok(Event::WebAuthnBegin)
    })
    .await;
    json(state, turn).await
}

pub async fn webauthn_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let turn = run(&req, &state, path.into_inner(), Some(&body), |f| {
        Ok(Event::WebAuthnFinish {
            challenge: f.get("challenge").unwrap_or(""),
            credential: f.get("credential").unwrap_or(""),
        })
    })
    .await;
    json(state, turn).await
}

/// The citizen goes back to the service without signing in.
pub async fn cancel(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let turn = run(&req, &state, path.into_inner(), Some(&body), |_| {
        Ok(Event::Cancel)
    })
    .await;
    page(req, state, turn).await
}

/// Sign-in with a passkey and no username: the options for the browser.
pub async fn passkey_begin(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let turn = run(&req, &state, path.into_inner(), Some(&body), |_| {
        Ok(Event::PasskeyBegin)
    })
    .await;
    json(state, turn).await
}

/// Sign-in with a passkey and no username: the browser's answer.
pub async fn passkey_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let turn = run(&req, &state, path.into_inner(), Some(&body), |f| {
        Ok(Event::PasskeyFinish {
            challenge: f.get("challenge").unwrap_or(""),
            credential: f.get("credential").unwrap_or(""),
        })
    })
    .await;
    json(state, turn).await
}

pub async fn consent(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let turn = run(&req, &state, path.into_inner(), Some(&body), |f| {
        match f.get("decision") {
            Some("allow") => Ok(Event::Consent { allow: true }),
            Some("deny") => Ok(Event::Consent { allow: false }),
            _ => Err(OidcError::invalid_request("decision must be allow or deny")),
        }
    })
    .await;
    page(req, state, turn).await
}

pub async fn select(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let turn = run(&req, &state, path.into_inner(), Some(&body), |f| {
        match f.get("choice") {
            Some("continue") => Ok(Event::Choose(Choice::Continue)),
            Some("other") => Ok(Event::Choose(Choice::Other)),
            _ => Err(OidcError::invalid_request(
                "choice must be continue or other",
            )),
        }
    })
    .await;
    page(req, state, turn).await
}

pub async fn face_begin(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let turn = run(&req, &state, path.into_inner(), Some(&body), |_| {
        Ok(Event::FaceBegin)
    })
    .await;
    json(state, turn).await
}

/// A face capture as the page sends it: the frames as base64 JPEG, PNG or WebP.
#[derive(serde::Deserialize)]
pub struct Capture {
    pub csrf: String,
    pub challenge: String,
    pub frames: Vec<String>,
}

impl Capture {
    /// Parses the JSON body and decodes its frames (a `data:` URL prefix is allowed).
    pub fn read(body: &[u8]) -> OidcResult<(Capture, Vec<Vec<u8>>)> {
        use base64::Engine;
        let unreadable = || OidcError::invalid_request("the capture could not be read");
        let capture: Capture = serde_json::from_slice(body).map_err(|_| unreadable())?;
        if capture.frames.len() > authenticators::face::MAX_FRAMES {
            return Err(unreadable());
        }
        let frames = capture
            .frames
            .iter()
            .map(|f| {
                let b64 = f.split_once("base64,").map_or(f.as_str(), |(_, b)| b);
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| unreadable())
            })
            .collect::<OidcResult<Vec<_>>>()?;
        Ok((capture, frames))
    }
}

pub async fn face_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (capture, frames) = match Capture::read(&body) {
        Ok(c) => c,
        Err(e) => return json_failure(&e),
    };
    let request = Request::read(&req, &state, path.into_inner());
    let st = state.clone().into_inner();
    let now = state.clock.now();
    let turn = blocking(move || {
        let event = Event::FaceFinish {
            challenge: &capture.challenge,
            frames: &frames,
        };
        flow::handle(&st, request.visit(Some(&capture.csrf)), event, now)
    })
    .await;
    json(state, turn).await
}

pub async fn voice_begin(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let turn = run(&req, &state, path.into_inner(), Some(&body), |_| {
        Ok(Event::VoiceBegin)
    })
    .await;
    json(state, turn).await
}

/// A voice recording as the page sends it: a WAV file in base64.
#[derive(serde::Deserialize)]
pub struct Recording {
    pub csrf: String,
    pub challenge: String,
    pub audio: String,
}

impl Recording {
    /// Parses the JSON body and decodes its audio (a `data:` URL prefix is allowed).
    pub fn read(body: &[u8]) -> OidcResult<(Recording, Vec<u8>)> {
        use base64::Engine;
        let unreadable = || OidcError::invalid_request("the recording could not be read");
        let r: Recording = serde_json::from_slice(body).map_err(|_| unreadable())?;
        let b64 = r
            .audio
            .split_once("base64,")
            .map_or(r.audio.as_str(), |(_, b)| b);
        let audio = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| unreadable())?;
        Ok((r, audio))
    }
}

pub async fn voice_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (recording, audio) = match Recording::read(&body) {
        Ok(r) => r,
        Err(e) => return json_failure(&e),
    };
    let request = Request::read(&req, &state, path.into_inner());
    let st = state.clone().into_inner();
    let now = state.clock.now();
    let turn = blocking(move || {
        let event = Event::VoiceFinish {
            challenge: &recording.challenge,
            audio: &audio,
        };
        flow::handle(&st, request.visit(Some(&recording.csrf)), event, now)
    })
    .await;
    json(state, turn).await
}
