//! The login transaction as a stored state machine. A transaction holds what the login is
//! for (`Purpose`), the step it waits for (`Stage`), and the account that authenticated
//! in it. Every event (a page view, a factor's answer, consent, the account choice) is
//! checked against the stage, applied, and answered with what comes next (`Answer`): a
//! page to show, a redirect, or JSON for the page's script. `http/interaction` only parses
//! the request into an `Event` and renders the `Answer`.

use super::factors::{self, Attempt, Checked, Refusal};
use super::session::{self, SessionTimes};
use super::{Ask, Next, Situation, decide};
use crate::crypto;
use crate::i18n::Lang;
use crate::oidc::authorize::{AuthorizeRequest, ClientRedirect, ClientResponse};
use crate::oidc::error::{ErrorCode, OidcError, OidcResult};
use crate::oidc::grants::authorization_code;
use crate::oidc::subject;
use crate::policy::{Level, Requirement};
use crate::service::Service;
use crate::store::sessions::BrowserSession;
use crate::store::transactions::{self, LoginTransaction};
use crate::store::users::{self, User};
use crate::store::{AnyConnection, StoreResult, clients, consents};
use authenticators::FactorKind;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// What a login transaction is for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Purpose {
    /// A client's authorization request: ends with a code or an error at its redirect URI.
    Authorize(Box<AuthorizeRequest>),
    /// The citizen's account pages: ends back there. `max_age` asks for factors proven
    /// that recently (before a change of factors or contact details).
    Account {
        requirement: Requirement,
        max_age: Option<i64>,
        #[serde(default)]
        back: ReturnTo,
    },
}

/// The account page a login for the account pages returns to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ReturnTo {
    #[default]
    Overview,
    Password,
    Face,
    Voice,
    Contact,
}

impl ReturnTo {
    pub fn path(self) -> &'static str {
        match self {
            ReturnTo::Overview => "/account",
            ReturnTo::Password => "/account/password",
            ReturnTo::Face => "/account/face",
            ReturnTo::Voice => "/account/voice",
            ReturnTo::Contact => "/account/contact",
        }
    }
}

impl Purpose {
    fn ask(&self) -> Ask<'_> {
        match self {
            Purpose::Authorize(req) => Ask::of_request(req),
            Purpose::Account {
                requirement,
                max_age,
                ..
            } => Ask {
                prompt: &[],
                max_age: *max_age,
                hint_subject: None,
                requirement: *requirement,
                scopes: &[],
            },
        }
    }

    pub fn ui_locales(&self) -> &[String] {
        match self {
            Purpose::Authorize(req) => &req.ui_locales,
            Purpose::Account { .. } => &[],
        }
    }
}

/// The step a transaction waits for. A form for another step is refused, so that no form
/// skips a step (the account choice cannot stand in for a required login).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    /// The first factor: a password or a certificate.
    Login,
    /// The citizen chose to sign in with another account: a login, whatever the session.
    OtherAccount,
    /// One more factor, any of these.
    StepUp(Vec<FactorKind>),
    /// The account's `locked` factor (its password) is locked; any factor of `with`
    /// lifts the lock. A password may still be tried (it is refused until the lock ends).
    Unlock {
        user: String,
        locked: FactorKind,
        with: Vec<FactorKind>,
    },
    /// The citizen forgot the password of `user`: any factor of `with` proves them.
    Recover {
        user: String,
        with: Vec<FactorKind>,
    },
    /// A factor proved the citizen: a new password for `user` until `until`.
    NewPassword {
        user: String,
        until: i64,
    },
    SelectAccount,
    Consent,
}

/// What a factor page proves the citizen for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorMode {
    /// One more factor for the session.
    StepUp,
    /// Lifting the lock on the password.
    Unlock,
    /// Setting a new password after forgetting it.
    Recover,
}

/// A notice at the top of the login page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginNotice {
    /// The password's lock was lifted.
    Unlocked,
    /// A new password was set; sign in with it.
    PasswordReset,
}

/// The answer of the account chooser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Continue,
    Other,
}

/// Why a face capture was not accepted, as the capture page's script is told (it shows
/// the matching message).
#[derive(Debug, Clone, Copy)]
pub enum FaceAnswer {
    Unusable(authenticators::face::Unusable),
    Refused(authenticators::face::Refusal),
    Locked,
}

impl FaceAnswer {
    pub fn code(self) -> &'static str {
        use authenticators::face::{Refusal as R, Unusable as U};
        match self {
            FaceAnswer::Unusable(u) | FaceAnswer::Refused(R::Unusable(u)) => match u {
                U::Unreadable => "unreadable",
                U::NoFace => "no_face",
                U::SeveralFaces => "several_faces",
                U::TooSmall => "too_small",
                U::TooDark => "too_dark",
                U::TooBlurred => "too_blurred",
            },
            // Not blinking and blinking at the wrong moment read the same to the citizen, and
            // so do the turns of the head.
            FaceAnswer::Refused(R::NoBlink | R::NotOnCue) => "no_blink",
            FaceAnswer::Refused(R::NoTurn | R::TurnNotOnCue) => "no_turn",
            FaceAnswer::Refused(R::NoMatch) => "no_match",
            FaceAnswer::Locked => "locked",
        }
    }
}

impl Serialize for FaceAnswer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// Why a voice recording was not accepted, as the recording page's script is told.
#[derive(Debug, Clone, Copy)]
pub enum VoiceAnswer {
    Unusable(authenticators::voice::Unusable),
    NoMatch,
    Locked,
}

impl VoiceAnswer {
    pub fn code(self) -> &'static str {
        use authenticators::voice::Unusable as U;
        match self {
            VoiceAnswer::Unusable(U::Unreadable) => "unreadable",
            VoiceAnswer::Unusable(U::NoSpeech) => "no_speech",
            VoiceAnswer::Unusable(U::TooShort) => "too_short",
            VoiceAnswer::Unusable(U::TooQuiet) => "too_quiet",
            VoiceAnswer::Unusable(U::Clipped) => "clipped",
            VoiceAnswer::NoMatch => "no_match",
            VoiceAnswer::Locked => "locked",
        }
    }
}

impl Serialize for VoiceAnswer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// What the browser sent to a transaction.
#[derive(Debug)]
pub enum Event<'a> {
    /// A view of the current step; `factor` is the one the citizen picked among those
    /// offered, `sent` that a code was sent for it.
    Show {
        factor: Option<FactorKind>,
        sent: bool,
        /// Coming back after the password was unlocked.
        unlocked: bool,
        /// The citizen follows "Forgot your password?".
        forgot: bool,
    },
    /// The account whose password the citizen forgot.
    Forgot {
        username: &'a str,
    },
    /// The new password after a recovery, typed twice.
    NewPassword {
        password: &'a str,
        confirm: &'a str,
    },
    Password {
        username: &'a str,
        password: &'a str,
    },
    Code {
        factor: FactorKind,
        code: &'a str,
    },
    SendCode(FactorKind),
    WebAuthnBegin,
    WebAuthnFinish {
        challenge: &'a str,
        credential: &'a str,
    },
    /// The client certificate chain the connection or a trusted proxy presented.
    Certificate(Option<Vec<Vec<u8>>>),
    /// Sign-in with a passkey and no username: the options, then the browser's answer.
    PasskeyBegin,
    PasskeyFinish {
        challenge: &'a str,
        credential: &'a str,
    },
    /// The face capture page asks for its challenge, and sends the frames filmed for it.
    FaceBegin,
    FaceFinish {
        challenge: &'a str,
        frames: &'a [Vec<u8>],
    },
    /// The voice recording page asks for its digits, and sends the recording (WAV).
    VoiceBegin,
    VoiceFinish {
        challenge: &'a str,
        audio: &'a [u8],
    },
    Consent {
        allow: bool,
    },
    Choose(Choice),
    /// The citizen gives up and goes back to the service, which hears `access_denied`.
    Cancel,
}

/// Who sent it: the transaction's id, the browser and session cookies, the form's CSRF
/// token (none for a page view), the client's address and languages.
#[derive(Debug, Clone, Copy)]
pub struct Visit<'a> {
    pub tx: &'a str,
    pub browser: Option<&'a str>,
    pub session: Option<&'a str>,
    pub csrf: Option<&'a str>,
    pub ip: Option<IpAddr>,
    pub accept_language: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// A page of the login.
#[derive(Debug)]
pub enum Screen {
    Login {
        username: String,
        refusal: Option<Refusal>,
        /// The password is locked and these factors can unlock it.
        unlock: Vec<FactorKind>,
        notice: Option<LoginNotice>,
    },
    Factor {
        offered: Vec<FactorKind>,
        chosen: Option<FactorKind>,
        sent: bool,
        refusal: Option<Refusal>,
        mode: FactorMode,
    },
    /// Which account's password was forgotten; `none`: that account has no factor that can
    /// prove the citizen online (the help desk or a service centre can).
    Forgot {
        username: String,
        none: bool,
    },
    /// The new password, with why the last one was not taken.
    NewPassword {
        refused: Option<crate::enrollment::password::Refused>,
    },
    Consent {
        scopes: Vec<String>,
    },
    SelectAccount {
        display_name: String,
    },
}

#[derive(Debug)]
pub enum Answer {
    Show(Screen),
    /// To the account page, or to this transaction's next page.
    Redirect(String),
    /// The authorization response, to the client.
    ToClient(ClientResponse),
    /// For the page's script (WebAuthn).
    Json(serde_json::Value),
}

/// What the pages around an answer need to know about the transaction.
#[derive(Debug, Clone)]
pub struct View {
    pub tx: String,
    pub csrf: String,
    /// The client's name; none for the account pages.
    pub client_name: Option<String>,
    /// The client's privacy notice and terms of use, to link from its pages.
    pub client_links: ClientLinks,
    /// Where the client's logo is served, when it has one.
    pub client_logo: Option<String>,
    pub ui_locales: Vec<String>,
}

/// A client's pages that citizens may want to read before they sign in or consent.
#[derive(Debug, Clone, Default)]
pub struct ClientLinks {
    pub policy: Option<String>,
    pub terms: Option<String>,
}

#[derive(Debug)]
pub struct Turn {
    pub view: View,
    pub answer: Answer,
    /// A new session cookie value to set.
    pub session_cookie: Option<String>,
}

/// Starts a login transaction bound to the browser; returns its id.
pub fn start(svc: &Service, purpose: &Purpose, browser: &str, now: i64) -> OidcResult<String> {
    let tx = LoginTransaction {
        id: crypto::random_token(),
        browser_hash: crypto::secret_hash(browser),
        csrf: crypto::random_token(),
        request: serde_json::to_string(purpose).map_err(OidcError::server)?,
        user_id: None,
        created_at: now,
        expires_at: now + svc.config.login_ttl,
        stage: None,
    };
    svc.db.run(|c| transactions::insert(c, &tx))?;
    Ok(tx.id)
}

/// A transaction that exists, is live, and belongs to this browser.
struct Loaded {
    tx: LoginTransaction,
    purpose: Purpose,
    stage: Option<Stage>,
    view: View,
    /// The client address of the request (for the audit log).
    ip: Option<IpAddr>,
    /// Where a session started now is signed in.
    device: session::Device,
}

impl Loaded {
    /// An attempt at `factor` of `subject` in this transaction, counted under the policy's
    /// lockout rule.
    fn attempt<'a>(&'a self, svc: &Service, subject: &'a str, factor: FactorKind) -> Attempt<'a> {
        Attempt {
            subject,
            factor,
            ip: self.ip,
            client_id: self.client_id(),
            rule: svc.rules().lockout,
        }
    }

    /// The service the citizen signs in to; none for the account pages.
    fn client_id(&self) -> Option<&str> {
        match &self.purpose {
            Purpose::Authorize(req) => Some(&req.client_id),
            Purpose::Account { .. } => None,
        }
    }
}

fn load(svc: &Service, visit: &Visit, now: i64) -> OidcResult<Loaded> {
    let tx = svc
        .db
        .run(|c| transactions::find_live(c, visit.tx, now))?
        .ok_or_else(|| {
            OidcError::invalid_request(
                "this sign-in has expired or was already completed; start again from the service",
            )
            .told_as(crate::oidc::error::Situation::SignInOver)
        })?;
    let same_browser = visit
        .browser
        .is_some_and(|b| crypto::constant_time_eq(&crypto::secret_hash(b), &tx.browser_hash));
    if !same_browser {
        return Err(OidcError::invalid_request(
            "this sign-in was started in another browser; start again from the service",
        )
        .told_as(crate::oidc::error::Situation::SignInOver));
    }
    if let Some(presented) = visit.csrf
        && !crypto::constant_time_eq(presented, &tx.csrf)
    {
        return Err(OidcError::invalid_request(
            "the form has expired; reload the page and try again",
        )
        .told_as(crate::oidc::error::Situation::FormExpired));
    }
    let purpose: Purpose = serde_json::from_str(&tx.request).map_err(OidcError::server)?;
    let stage = match &tx.stage {
        Some(s) => Some(serde_json::from_str(s).map_err(OidcError::server)?),
        None => None,
    };
    let client = match &purpose {
        Purpose::Account { .. } => None,
        Purpose::Authorize(req) => Some(
            svc.db
                .run(|c| clients::find(c, &req.client_id))?
                .ok_or_else(|| OidcError::invalid_request("the client no longer exists"))?,
        ),
    };
    let client_links = client
        .as_ref()
        .map(|c| ClientLinks {
            policy: c.policy_uri.clone(),
            terms: c.tos_uri.clone(),
        })
        .unwrap_or_default();
    let client_logo = client
        .as_ref()
        .filter(|c| c.logo_uri.is_some())
        .map(|c| crate::oidc::logo::path(&c.id));
    let view = View {
        tx: tx.id.clone(),
        csrf: tx.csrf.clone(),
        client_name: client.map(|c| c.name),
        client_links,
        client_logo,
        ui_locales: purpose.ui_locales().to_vec(),
    };
    Ok(Loaded {
        tx,
        purpose,
        stage,
        view,
        ip: visit.ip,
        device: session::Device::of(visit.user_agent, visit.ip),
    })
}

fn not_now() -> OidcError {
    OidcError::invalid_request(
        "this step of the sign-in is not open now; go back to the service and start again",
    )
}

/// Applies one event to a transaction. A form post (`visit.csrf` given) must carry the
/// transaction's CSRF token.
pub fn handle(svc: &Service, visit: Visit, event: Event, now: i64) -> OidcResult<Turn> {
    let mut l = load(svc, &visit, now)?;
    if !matches!(event, Event::Show { .. }) && visit.csrf.is_none() {
        return Err(OidcError::invalid_request("the form's token is missing"));
    }
    let session = svc
        .db
        .run(|c| session::resume(c, visit.session, svc.rules().sessions.idle, now))?;
    let lang = Lang::choose(l.purpose.ui_locales(), visit.accept_language);
    let stage = l.stage.clone();
    let at = |s: &Stage| stage.as_ref() == Some(s);
    let offered = |f: FactorKind| match &stage {
        Some(Stage::StepUp(o))
        | Some(Stage::Unlock { with: o, .. })
        | Some(Stage::Recover { with: o, .. }) => o.contains(&f),
        _ => false,
    };
    // The password (or a certificate) may be given instead of proving an unlock or a
    // recovery: the citizen remembered it.
    let first_factor = at(&Stage::Login)
        || at(&Stage::OtherAccount)
        || matches!(
            stage,
            Some(Stage::Unlock { .. }) | Some(Stage::Recover { .. })
        );
    let (answer, cookie) = match event {
        Event::Show {
            factor,
            sent,
            unlocked,
            forgot,
        } => {
            let answer = match &stage {
                _ if forgot && first_factor => Answer::Show(Screen::Forgot {
                    username: String::new(),
                    none: false,
                }),
                // Back from the unlock page to the login, with the unlock still offered.
                Some(Stage::Unlock { with, .. }) if factor == Some(FactorKind::Password) => {
                    let mut screen = login_screen(&l.purpose, None);
                    if let Screen::Login { unlock, .. } = &mut screen {
                        *unlock = with.clone();
                    }
                    Answer::Show(screen)
                }
                Some(Stage::Recover { .. }) if factor == Some(FactorKind::Password) => {
                    Answer::Show(login_screen(&l.purpose, None))
                }
                _ => show(svc, &mut l, session.as_ref(), now)?,
            };
            (with_choice(answer, factor, sent, unlocked), None)
        }
        Event::Forgot { username } if first_factor => {
            throttle(svc, visit.ip, now)?;
            (recovery(svc, &l, username)?, None)
        }
        Event::NewPassword { password, confirm } => {
            let Some(Stage::NewPassword { user, until }) = &stage else {
                return Err(not_now());
            };
            if now > *until {
                save_stage(svc, &l.tx.id, &Stage::Login)?;
                return Err(OidcError::invalid_request(
                    "the time to set a new password ran out; start again",
                )
                .told_as(crate::oidc::error::Situation::FormExpired));
            }
            // The permission serves once: taken in the transaction that sets the password.
            let from = l.tx.stage.clone().unwrap_or_default();
            let to = serde_json::to_string(&Stage::Login).map_err(OidcError::server)?;
            let claim =
                |c: &mut AnyConnection| transactions::replace_stage(c, &l.tx.id, &from, &to);
            let reset =
                crate::enrollment::password::reset(svc, user, password, confirm, lang, now, claim)?;
            match reset {
                Ok(username) => {
                    let screen = Screen::Login {
                        username,
                        refusal: None,
                        unlock: Vec::new(),
                        notice: Some(LoginNotice::PasswordReset),
                    };
                    (Answer::Show(screen), None)
                }
                Err(refused) => (
                    Answer::Show(Screen::NewPassword {
                        refused: Some(refused),
                    }),
                    None,
                ),
            }
        }
        Event::Password { username, password } if first_factor => {
            throttle(svc, visit.ip, now)?;
            password_login(svc, &l, visit.session, username, password, lang, now)?
        }
        Event::Certificate(chain) if first_factor || offered(FactorKind::Certificate) => {
            throttle(svc, visit.ip, now)?;
            certificate(
                svc,
                &l,
                visit.session,
                session.as_ref(),
                chain.as_deref(),
                lang,
                now,
            )?
        }
        Event::Code { factor, code } if offered(factor) => {
            throttle(svc, visit.ip, now)?;
            let who = proving(&l, &stage, session)?;
            let verify = |c: &mut AnyConnection| {
                Ok(factors::codes::verify(svc, c, who.user_id(), factor, code, now)?.then_some(()))
            };
            match prove(svc, &l, &who, factor, lang, now, verify)? {
                Ok(Proved::StepUp(cookie)) => (next_page(&l), Some(cookie)),
                Ok(Proved::Unlocked { username }) => {
                    let screen = Screen::Login {
                        username,
                        refusal: None,
                        unlock: Vec::new(),
                        notice: Some(LoginNotice::Unlocked),
                    };
                    (Answer::Show(screen), None)
                }
                Ok(Proved::Recovered) => (next_page(&l), None),
                Err(refusal) => (factor_refused(&stage, factor, refusal), None),
            }
        }
        Event::SendCode(factor) if offered(factor) => {
            let who = proving(&l, &stage, session)?;
            let user = account_of(svc, who.user_id())?;
            factors::codes::send(svc, &user, factor, lang, now)?;
            let url = format!("/interaction/{}?factor={}&sent=1", l.tx.id, factor.name());
            (Answer::Redirect(url), None)
        }
        Event::WebAuthnBegin if offered(FactorKind::WebAuthn) => {
            let who = proving(&l, &stage, session)?;
            let options = factors::webauthn::begin(svc, who.user_id(), now)?;
            (Answer::Json(options), None)
        }
        Event::WebAuthnFinish {
            challenge,
            credential,
        } if offered(FactorKind::WebAuthn) => {
            throttle(svc, visit.ip, now)?;
            let who = proving(&l, &stage, session)?;
            let verify = |c: &mut AnyConnection| {
                let ok =
                    factors::webauthn::verify(svc, c, who.user_id(), challenge, credential, now)?;
                Ok(ok.then_some(()))
            };
            let kind = FactorKind::WebAuthn;
            let next = |query: &str| {
                let url = format!("/interaction/{}{query}", l.tx.id);
                Answer::Json(serde_json::json!({ "next": url }))
            };
            match prove(svc, &l, &who, kind, lang, now, verify)? {
                Ok(Proved::StepUp(cookie)) => (next(""), Some(cookie)),
                Ok(Proved::Unlocked { .. }) => (next("?unlocked=1"), None),
                Ok(Proved::Recovered) => (next(""), None),
                Err(Refusal::Locked { .. }) => {
                    return Err(OidcError::new(
                        ErrorCode::AccessDenied,
                        "too many failed attempts; try again later",
                    ));
                }
                Err(_) => {
                    return Err(OidcError::new(
                        ErrorCode::AccessDenied,
                        "the security key or passkey could not be verified",
                    ));
                }
            }
        }
        Event::PasskeyBegin if first_factor && svc.webauthn.is_some() => {
            let holder = factors::holder_of_transaction(&l.tx.id);
            let options = factors::webauthn::begin_discoverable(svc, &holder, now)?;
            (Answer::Json(options), None)
        }
        Event::PasskeyFinish {
            challenge,
            credential,
        } if first_factor && svc.webauthn.is_some() => {
            throttle(svc, visit.ip, now)?;
            passkey_login(svc, &l, visit.session, challenge, credential, lang, now)?
        }
        Event::FaceBegin if first_factor && svc.config.biometrics.identify => {
            let holder = factors::holder_of_transaction(&l.tx.id);
            (Answer::Json(factors::face::begin(svc, &holder, now)?), None)
        }
        Event::FaceFinish { challenge, frames }
            if first_factor && svc.config.biometrics.identify =>
        {
            throttle(svc, visit.ip, now)?;
            face_identify(svc, &l, visit.session, challenge, frames, lang, now)?
        }
        Event::FaceBegin if offered(FactorKind::Face) => {
            let who = proving(&l, &stage, session)?;
            (
                Answer::Json(factors::face::begin(svc, who.user_id(), now)?),
                None,
            )
        }
        Event::FaceFinish { challenge, frames } if offered(FactorKind::Face) => {
            throttle(svc, visit.ip, now)?;
            let who = proving(&l, &stage, session)?;
            let prepared = factors::face::prepare(svc, who.user_id(), challenge, frames, now)?;
            let refused = |why: FaceAnswer| Answer::Json(serde_json::json!({ "refused": why }));
            if let Some(u) = prepared.unusable() {
                (refused(FaceAnswer::Unusable(u)), None)
            } else {
                let verify = |c: &mut AnyConnection| prepared.verify(svc, c, who.user_id(), now);
                match prove(svc, &l, &who, FactorKind::Face, lang, now, verify)? {
                    Ok(Proved::StepUp(cookie)) => {
                        let next = format!("/interaction/{}", l.tx.id);
                        (
                            Answer::Json(serde_json::json!({ "next": next })),
                            Some(cookie),
                        )
                    }
                    Ok(Proved::Unlocked { .. }) => {
                        let next = format!("/interaction/{}?unlocked=1", l.tx.id);
                        (Answer::Json(serde_json::json!({ "next": next })), None)
                    }
                    Ok(Proved::Recovered) => {
                        let next = format!("/interaction/{}", l.tx.id);
                        (Answer::Json(serde_json::json!({ "next": next })), None)
                    }
                    Err(Refusal::Locked { .. }) => (refused(FaceAnswer::Locked), None),
                    Err(_) => (refused(FaceAnswer::Refused(prepared.refusal())), None),
                }
            }
        }
        Event::VoiceBegin if offered(FactorKind::Voice) => {
            let who = proving(&l, &stage, session)?;
            (
                Answer::Json(factors::voice::begin(svc, who.user_id(), now)?),
                None,
            )
        }
        Event::VoiceFinish { challenge, audio } if offered(FactorKind::Voice) => {
            throttle(svc, visit.ip, now)?;
            let who = proving(&l, &stage, session)?;
            let prepared = factors::voice::prepare(svc, who.user_id(), challenge, audio, now)?;
            let refused = |why: VoiceAnswer| Answer::Json(serde_json::json!({ "refused": why }));
            if let Some(u) = prepared.unusable() {
                (refused(VoiceAnswer::Unusable(u)), None)
            } else {
                let verify = |c: &mut AnyConnection| prepared.verify(svc, c, who.user_id(), now);
                match prove(svc, &l, &who, FactorKind::Voice, lang, now, verify)? {
                    Ok(Proved::StepUp(cookie)) => {
                        let next = format!("/interaction/{}", l.tx.id);
                        (
                            Answer::Json(serde_json::json!({ "next": next })),
                            Some(cookie),
                        )
                    }
                    Ok(Proved::Unlocked { .. }) => {
                        let next = format!("/interaction/{}?unlocked=1", l.tx.id);
                        (Answer::Json(serde_json::json!({ "next": next })), None)
                    }
                    Ok(Proved::Recovered) => {
                        let next = format!("/interaction/{}", l.tx.id);
                        (Answer::Json(serde_json::json!({ "next": next })), None)
                    }
                    Err(Refusal::Locked { .. }) => (refused(VoiceAnswer::Locked), None),
                    Err(_) => (refused(VoiceAnswer::NoMatch), None),
                }
            }
        }
        Event::Consent { allow } if at(&Stage::Consent) => {
            let sess = own_session(&l, session)?;
            let Purpose::Authorize(req) = &l.purpose else {
                return Err(not_now());
            };
            if !allow {
                svc.db.run(|c| transactions::delete(c, &l.tx.id))?;
                let e = OidcError::new(ErrorCode::AccessDenied, "the user denied the request");
                (
                    Answer::ToClient(error_response(svc, &req.to_client(), &e)),
                    None,
                )
            } else {
                svc.db.tx(|c| {
                    consents::record(c, &sess.user_id, &req.client_id, &req.scopes, now)?;
                    let entry = crate::audit::Entry {
                        kind: crate::audit::Kind::ConsentGiven,
                        user_id: Some(&sess.user_id),
                        client_id: Some(&req.client_id),
                        detail: serde_json::json!({ "scopes": req.scopes }),
                    };
                    crate::audit::append_from(c, entry, l.ip, now)?;
                    Ok(())
                })?;
                (advance(svc, &mut l, Some(&sess), true, now)?, None)
            }
        }
        Event::Cancel => {
            let Purpose::Authorize(req) = &l.purpose else {
                return Err(not_now());
            };
            svc.db.run(|c| transactions::delete(c, &l.tx.id))?;
            let e = OidcError::new(ErrorCode::AccessDenied, "the user cancelled the sign-in");
            (
                Answer::ToClient(error_response(svc, &req.to_client(), &e)),
                None,
            )
        }
        Event::Choose(choice) if at(&Stage::SelectAccount) => {
            let sess = live(session)?;
            let stage = match choice {
                Choice::Continue => {
                    svc.db
                        .run(|c| transactions::set_user(c, &l.tx.id, &sess.user_id))?;
                    None
                }
                Choice::Other => Some(Stage::OtherAccount),
            };
            if let Some(s) = stage {
                save_stage(svc, &l.tx.id, &s)?;
            }
            (next_page(&l), None)
        }
        _ => return Err(not_now()),
    };
    Ok(Turn {
        view: l.view,
        answer,
        session_cookie: cookie,
    })
}

/// The current step's page. After "use another account" it is the login page whatever
/// the session says, until someone signs in.
fn show(
    svc: &Service,
    l: &mut Loaded,
    session: Option<&BrowserSession>,
    now: i64,
) -> OidcResult<Answer> {
    if l.stage == Some(Stage::OtherAccount) && l.tx.user_id.is_none() {
        return Ok(Answer::Show(login_screen(&l.purpose, None)));
    }
    match &l.stage {
        Some(Stage::Unlock { with, .. }) | Some(Stage::Recover { with, .. }) => {
            let mode = match &l.stage {
                Some(Stage::Recover { .. }) => FactorMode::Recover,
                _ => FactorMode::Unlock,
            };
            return Ok(Answer::Show(Screen::Factor {
                offered: with.clone(),
                chosen: None,
                sent: false,
                refusal: None,
                mode,
            }));
        }
        Some(Stage::NewPassword { .. }) => {
            return Ok(Answer::Show(Screen::NewPassword { refused: None }));
        }
        _ => {}
    }
    advance(svc, l, session, false, now)
}

fn login_screen(purpose: &Purpose, refusal: Option<Refusal>) -> Screen {
    let username = match purpose {
        Purpose::Authorize(req) => req.login_hint.clone().unwrap_or_default(),
        Purpose::Account { .. } => String::new(),
    };
    Screen::Login {
        username,
        refusal,
        unlock: Vec::new(),
        notice: None,
    }
}

fn with_choice(answer: Answer, factor: Option<FactorKind>, sent: bool, unlocked: bool) -> Answer {
    match answer {
        Answer::Show(Screen::Factor {
            offered,
            refusal,
            mode,
            ..
        }) => Answer::Show(Screen::Factor {
            chosen: factor.filter(|f| offered.contains(f)),
            sent: sent && factor.is_some(),
            offered,
            refusal,
            mode,
        }),
        Answer::Show(Screen::Login {
            username,
            refusal,
            unlock,
            notice,
        }) => Answer::Show(Screen::Login {
            username,
            refusal,
            unlock,
            notice: if unlocked {
                Some(LoginNotice::Unlocked)
            } else {
                notice
            },
        }),
        other => other,
    }
}

fn next_page(l: &Loaded) -> Answer {
    Answer::Redirect(format!("/interaction/{}", l.tx.id))
}

fn save_stage(svc: &Service, tx: &str, stage: &Stage) -> OidcResult<()> {
    let json = serde_json::to_string(stage).map_err(OidcError::server)?;
    svc.db.run(|c| transactions::set_stage(c, tx, &json))?;
    Ok(())
}

/// Where an authorization request goes: straight back to the client (nothing is needed
/// from the citizen, or `prompt=none` cannot be met), or to a new login transaction.
#[derive(Debug)]
pub enum Begun {
    ToClient(ClientResponse),
    Interaction(String),
}

/// Starts the login for `purpose`: answers at once when the browser's session is enough,
/// otherwise stores a transaction bound to `browser`.
pub fn begin(
    svc: &Service,
    purpose: Purpose,
    session_cookie: Option<&str>,
    browser: &str,
    now: i64,
) -> OidcResult<Begun> {
    let session = svc
        .db
        .run(|c| session::resume(c, session_cookie, svc.rules().sessions.idle, now))?;
    match next_step(svc, &purpose, None, session.as_ref(), false, now)? {
        Step::Done(outcome) => match conclude(svc, &purpose, session.as_ref(), outcome, now)? {
            Answer::ToClient(r) => Ok(Begun::ToClient(r)),
            _ => Err(OidcError::server(
                "a finished login answers with a redirect",
            )),
        },
        Step::Stay(..) => Ok(Begun::Interaction(start(svc, &purpose, browser, now)?)),
    }
}

enum Step {
    /// Wait at this stage, showing this page.
    Stay(Stage, Screen),
    /// Nothing more is needed: issue, or fail with this error.
    Done(Result<(), OidcError>),
}

/// What the login needs next, given the session and what happened in the transaction.
fn next_step(
    svc: &Service,
    purpose: &Purpose,
    tx_user: Option<&str>,
    session: Option<&BrowserSession>,
    consented_now: bool,
    now: i64,
) -> OidcResult<Step> {
    let ask = purpose.ask();
    let (consented, enrolled, subject) = match (session, purpose) {
        (Some(s), Purpose::Authorize(req)) => svc.db.run(|c| {
            // Only an id_token_hint needs the session's `sub` as this client sees it.
            let subject = match &req.hint_subject {
                Some(_) => clients::find(c, &req.client_id)?
                    .map(|client| subject::of(&svc.provider.pairwise, &client, &s.user_id)),
                None => None,
            };
            Ok((
                consents::scopes(c, &s.user_id, &req.client_id)?,
                sign_in_factors(svc, c, &s.user_id)?,
                subject,
            ))
        })?,
        (Some(s), Purpose::Account { .. }) => (
            Vec::new(),
            svc.db.run(|c| sign_in_factors(svc, c, &s.user_id))?,
            None,
        ),
        (None, _) => (Vec::new(), Vec::new(), None),
    };
    let confirmed = matches!((tx_user, session), (Some(u), Some(s)) if u == s.user_id);
    let rules = svc.rules();
    let situation = Situation {
        session,
        subject: subject.as_deref(),
        confirmed_in_transaction: confirmed,
        consented: &consented,
        consented_in_transaction: consented_now,
        policy: &rules.policy,
        enrolled: &enrolled,
        now,
    };
    Ok(match decide(&ask, &situation) {
        Next::Login => Step::Stay(Stage::Login, login_screen(purpose, None)),
        Next::StepUp(offered) => Step::Stay(
            Stage::StepUp(offered.clone()),
            Screen::Factor {
                offered,
                chosen: None,
                sent: false,
                refusal: None,
                mode: FactorMode::StepUp,
            },
        ),
        Next::SelectAccount => {
            let display_name = match session {
                Some(s) => svc
                    .db
                    .run(|c| users::find(c, &s.user_id))?
                    .map(|u| u.name.unwrap_or(u.username))
                    .unwrap_or_default(),
                None => String::new(),
            };
            Step::Stay(Stage::SelectAccount, Screen::SelectAccount { display_name })
        }
        Next::Consent => Step::Stay(
            Stage::Consent,
            Screen::Consent {
                scopes: ask.scopes.to_vec(),
            },
        ),
        Next::Issue => Step::Done(Ok(())),
        Next::Fail(e) => Step::Done(Err(e)),
    })
}

/// Decides what comes next and records it as the stage; when nothing more is needed,
/// ends the transaction (only the request that deletes it goes on, so a double submit
/// cannot issue two codes) and redirects.
fn advance(
    svc: &Service,
    l: &mut Loaded,
    session: Option<&BrowserSession>,
    consented_now: bool,
    now: i64,
) -> OidcResult<Answer> {
    let tx_user = l.tx.user_id.as_deref();
    match next_step(svc, &l.purpose, tx_user, session, consented_now, now)? {
        Step::Stay(stage, screen) => {
            if l.stage.as_ref() != Some(&stage) {
                save_stage(svc, &l.tx.id, &stage)?;
                l.stage = Some(stage);
            }
            Ok(Answer::Show(screen))
        }
        Step::Done(outcome) => {
            if !svc.db.run(|c| transactions::delete(c, &l.tx.id))? {
                return Err(OidcError::invalid_request(
                    "this sign-in was already completed",
                ));
            }
            conclude(svc, &l.purpose, session, outcome, now)
        }
    }
}

/// The end of a login: a code (or the error) for the client, or back to the account.
fn conclude(
    svc: &Service,
    purpose: &Purpose,
    session: Option<&BrowserSession>,
    outcome: Result<(), OidcError>,
    now: i64,
) -> OidcResult<Answer> {
    let req = match (purpose, outcome) {
        (Purpose::Account { back, .. }, Ok(())) => {
            return Ok(Answer::Redirect(back.path().into()));
        }
        (Purpose::Account { .. }, Err(e)) => return Err(e),
        (Purpose::Authorize(req), Err(e)) => {
            return Ok(Answer::ToClient(error_response(svc, &req.to_client(), &e)));
        }
        (Purpose::Authorize(req), Ok(())) => req,
    };
    let session = session.ok_or_else(|| OidcError::server("issue without a session"))?;
    let code = svc
        .db
        .tx(|c| authorization_code::issue_code(c, &svc.provider, req, session, now))?;
    Ok(Answer::ToClient(client_response(
        svc,
        &req.to_client(),
        &[("code", code.as_str())],
    )))
}

/// The factors a citizen has enrolled, as `enrolled_factors`, plus certificates when
/// they are configured (anyone may hold a card from a configured CA).
fn sign_in_factors(
    svc: &Service,
    c: &mut AnyConnection,
    user_id: &str,
) -> StoreResult<Vec<FactorKind>> {
    let mut kinds = enrolled_factors(c, user_id)?;
    if svc.certificates.is_some() && !kinds.contains(&FactorKind::Certificate) {
        kinds.push(FactorKind::Certificate);
    }
    Ok(kinds)
}

/// The factors a citizen has enrolled: their credentials, and codes by SMS or e-mail to
/// the contact details on the account.
pub fn enrolled_factors(conn: &mut AnyConnection, user_id: &str) -> StoreResult<Vec<FactorKind>> {
    let mut kinds: Vec<FactorKind> = users::credentials_of(conn, user_id)?
        .iter()
        .filter_map(|c| c.kind.factor())
        .collect();
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

fn times(svc: &Service) -> SessionTimes {
    svc.rules().sessions
}

fn live(session: Option<BrowserSession>) -> OidcResult<BrowserSession> {
    session.ok_or_else(|| {
        OidcError::invalid_request("your session has ended; start again from the service")
    })
}

/// The session for a step-up: live, and of the account this transaction signed in (if
/// one did).
fn own_session(l: &Loaded, session: Option<BrowserSession>) -> OidcResult<BrowserSession> {
    let sess = live(session)?;
    if l.tx.user_id.as_ref().is_some_and(|u| u != &sess.user_id) {
        return Err(OidcError::invalid_request(
            "this sign-in belongs to another account",
        ));
    }
    Ok(sess)
}

fn account_of(svc: &Service, user_id: &str) -> OidcResult<User> {
    svc.db
        .run(|c| users::find(c, user_id))?
        .ok_or_else(|| OidcError::invalid_request("the account no longer exists"))
}

/// Counts a credential check from `ip`; refuses once the address made more than the
/// configured number in the current minute (shared by all instances via the database).
pub fn throttle(svc: &Service, ip: Option<IpAddr>, now: i64) -> OidcResult<()> {
    let Some(ip) = ip else { return Ok(()) };
    let count = svc
        .db
        .tx(|c| crate::store::rate_limits::hit(c, &format!("ip:{ip}"), 60, now))?;
    if count > svc.config.attempts_per_minute {
        tracing::warn!(client = %ip, "rate limit reached for credential checks");
        return Err(OidcError::new(
            ErrorCode::SlowDown,
            "too many sign-in attempts from your network; wait a minute and try again",
        ));
    }
    Ok(())
}

/// Tells the citizen that a factor of their account was locked.
fn notify_locked(svc: &Service, user: &User, lang: Lang) {
    let t = lang.texts();
    crate::notify::tell(svc, user, t.locked_subject, t.locked_body);
}

fn password_login(
    svc: &Service,
    l: &Loaded,
    previous_cookie: Option<&str>,
    username: &str,
    password: &str,
    lang: Lang,
    now: i64,
) -> OidcResult<(Answer, Option<String>)> {
    let attempt = factors::password::prepare(svc, username, password, now)?;
    let subject = attempt.subject();
    let kind = FactorKind::Password;
    let result = svc.db.tx(|c| {
        let a = l.attempt(svc, &subject, kind);
        match factors::check(c, a, now, |c| attempt.verify(c, now))? {
            Checked::Accepted(user) => Ok(Ok(signed_in(
                c,
                svc,
                l,
                previous_cookie,
                &user.id,
                kind,
                lang,
                now,
            )?)),
            Checked::Refused(r) => Ok(Err(r)),
        }
    })?;
    match result {
        Ok(cookie) => {
            tracing::info!(outcome = "success", factor = kind.name(), "login attempt");
            Ok((next_page(l), Some(cookie)))
        }
        Err(refusal) => {
            tracing::info!(outcome = "failure", factor = kind.name(), "login attempt");
            if let (Refusal::Locked { now: true, .. }, Some(u)) = (refusal, &attempt.user) {
                notify_locked(svc, u, lang);
            }
            let with = match (refusal, &attempt.user) {
                (Refusal::Locked { .. }, Some(u)) => offer_unlock(svc, l, &u.id, kind)?,
                _ => Vec::new(),
            };
            let screen = Screen::Login {
                username: attempt.username.clone(),
                refusal: Some(refusal),
                unlock: with,
                notice: None,
            };
            Ok((Answer::Show(screen), None))
        }
    }
}

/// The account `user_id` signed in with `kind` (as the first factor) in this transaction:
/// the transaction and the citizen's language remember it, and a new session starts on this
/// device. Returns the session cookie.
#[allow(clippy::too_many_arguments)]
fn signed_in(
    c: &mut AnyConnection,
    svc: &Service,
    l: &Loaded,
    previous_cookie: Option<&str>,
    user_id: &str,
    kind: FactorKind,
    lang: Lang,
    now: i64,
) -> StoreResult<String> {
    transactions::set_user(c, &l.tx.id, user_id)?;
    users::set_language(c, user_id, lang.texts().code, now)?;
    let rules = svc.rules();
    let times = times(svc);
    let (cookie, _) = session::start(
        c,
        previous_cookie,
        user_id,
        kind,
        &rules.policy,
        &times,
        &l.device,
        now,
    )?;
    Ok(cookie)
}

/// A first factor whose answer named the account (the face 1:N, a passkey without a
/// username), checked on the one path: counted and locked like any factor of `user_id`,
/// and on success the citizen is signed in (the session cookie). A lock set now is told.
#[allow(clippy::too_many_arguments)]
fn identified(
    svc: &Service,
    l: &Loaded,
    previous_cookie: Option<&str>,
    user_id: &str,
    kind: FactorKind,
    lang: Lang,
    now: i64,
    verify: impl FnOnce(&mut AnyConnection) -> StoreResult<Option<()>>,
) -> OidcResult<Result<String, Refusal>> {
    let result = svc.db.tx(|c| {
        let a = l.attempt(svc, user_id, kind);
        match factors::check(c, a, now, verify)? {
            Checked::Accepted(()) => Ok(Ok(signed_in(
                c,
                svc,
                l,
                previous_cookie,
                user_id,
                kind,
                lang,
                now,
            )?)),
            Checked::Refused(r) => Ok(Err(r)),
        }
    })?;
    let outcome = if result.is_ok() { "success" } else { "failure" };
    tracing::info!(
        outcome,
        factor = kind.name(),
        "sign-in naming the account by its answer"
    );
    if let Err(Refusal::Locked { now: true, .. }) = result
        && let Some(u) = svc.db.run(|c| users::find(c, user_id))?
    {
        notify_locked(svc, &u, lang);
    }
    Ok(result)
}

/// Sign-in with a passkey alone, no username: the account its user handle names, proved by
/// its signature on the one check path (counted and locked like any factor of that
/// account); a new session with that factor. An answer naming nobody is audited against
/// the address, which the throttle bounds.
fn passkey_login(
    svc: &Service,
    l: &Loaded,
    previous_cookie: Option<&str>,
    challenge: &str,
    credential: &str,
    lang: Lang,
    now: i64,
) -> OidcResult<(Answer, Option<String>)> {
    let holder = factors::holder_of_transaction(&l.tx.id);
    let refused = || {
        OidcError::new(
            ErrorCode::AccessDenied,
            "the security key or passkey could not be verified",
        )
    };
    let Some(user_id) = factors::webauthn::identify(svc, credential)? else {
        let detail = serde_json::json!({ "factor": "webauthn", "reason": "not identified" });
        audit_failure(svc, detail, l.ip, now)?;
        return Err(refused());
    };
    let verify = |c: &mut AnyConnection| {
        let ok = factors::webauthn::verify_discoverable(
            svc, c, &holder, &user_id, challenge, credential, now,
        )?;
        Ok(ok.then_some(()))
    };
    let kind = FactorKind::WebAuthn;
    let result = identified(svc, l, previous_cookie, &user_id, kind, lang, now, verify)?;
    match result {
        Ok(cookie) => {
            let next = format!("/interaction/{}", l.tx.id);
            Ok((
                Answer::Json(serde_json::json!({ "next": next })),
                Some(cookie),
            ))
        }
        Err(Refusal::Locked { .. }) => Err(OidcError::new(
            ErrorCode::AccessDenied,
            "too many failed attempts; try again later",
        )),
        Err(_) => Err(refused()),
    }
}

/// Sign-in with the face alone, 1:N: whoever the live face clearly is signs in (one factor:
/// the level it reaches is the policy's for the face).
fn face_identify(
    svc: &Service,
    l: &Loaded,
    previous_cookie: Option<&str>,
    challenge: &str,
    frames: &[Vec<u8>],
    lang: Lang,
    now: i64,
) -> OidcResult<(Answer, Option<String>)> {
    let holder = factors::holder_of_transaction(&l.tx.id);
    let prepared = factors::face::prepare(svc, &holder, challenge, frames, now)?;
    let refused = |why: FaceAnswer| Answer::Json(serde_json::json!({ "refused": why }));
    if let Some(u) = prepared.unusable() {
        return Ok((refused(FaceAnswer::Unusable(u)), None));
    }
    let Some(user_id) = prepared.identify(svc)? else {
        // Nobody to count the failure against: the address's throttle bounds the tries.
        let detail = serde_json::json!({ "factor": "face", "reason": "not identified" });
        audit_failure(svc, detail, l.ip, now)?;
        return Ok((refused(FaceAnswer::Refused(prepared.refusal())), None));
    };
    let verify = |c: &mut AnyConnection| prepared.take_identified(c, &holder, now);
    let kind = FactorKind::Face;
    let result = identified(svc, l, previous_cookie, &user_id, kind, lang, now, verify)?;
    match result {
        Ok(cookie) => {
            let next = format!("/interaction/{}", l.tx.id);
            Ok((
                Answer::Json(serde_json::json!({ "next": next })),
                Some(cookie),
            ))
        }
        Err(Refusal::Locked { .. }) => Ok((refused(FaceAnswer::Locked), None)),
        Err(_) => Ok((refused(FaceAnswer::Refused(prepared.refusal())), None)),
    }
}

/// Checks a further factor of the signed-in citizen; on success the session gains it
/// (a new session id, the same `sid`).
fn step_up(
    svc: &Service,
    l: &Loaded,
    sess: &BrowserSession,
    kind: FactorKind,
    lang: Lang,
    now: i64,
    verify: impl FnOnce(&mut AnyConnection) -> StoreResult<Option<()>>,
) -> OidcResult<Result<String, Refusal>> {
    let result = svc.db.tx(|c| {
        let a = l.attempt(svc, &sess.user_id, kind);
        match factors::check(c, a, now, verify)? {
            Checked::Accepted(()) => {
                transactions::set_user(c, &l.tx.id, &sess.user_id)?;
                let rules = svc.rules();
                let policy = &rules.policy;
                let (cookie, _) = session::step_up(c, sess, kind, policy, &times(svc), now)?;
                Ok(Ok(cookie))
            }
            Checked::Refused(r) => Ok(Err(r)),
        }
    })?;
    let outcome = if result.is_ok() { "success" } else { "failure" };
    tracing::info!(outcome, factor = kind.name(), "step-up attempt");
    if let Err(Refusal::Locked { now: true, .. }) = result
        && let Some(u) = svc.db.run(|c| users::find(c, &sess.user_id))?
    {
        notify_locked(svc, &u, lang);
    }
    Ok(result)
}

/// The step-up page again, with why the factor was refused; the same factors are offered.
fn factor_refused(stage: &Option<Stage>, factor: FactorKind, refusal: Refusal) -> Answer {
    let (offered, mode) = match stage {
        Some(Stage::StepUp(offered)) => (offered.clone(), FactorMode::StepUp),
        Some(Stage::Unlock { with, .. }) => (with.clone(), FactorMode::Unlock),
        Some(Stage::Recover { with, .. }) => (with.clone(), FactorMode::Recover),
        _ => (vec![factor], FactorMode::StepUp),
    };
    Answer::Show(Screen::Factor {
        offered,
        chosen: Some(factor),
        sent: true,
        refusal: Some(refusal),
        mode,
    })
}

/// Factors that can lift the lock on a password: any the citizen holds that proves
/// possession of something else (a certificate is not one: anyone may hold a card).
const UNLOCK_FACTORS: [FactorKind; 5] = [
    FactorKind::WebAuthn,
    FactorKind::Totp,
    FactorKind::SmsCode,
    FactorKind::EmailCode,
    FactorKind::RecoveryCode,
];

/// After `locked` was refused as locked: the factors of the account that can unlock it,
/// and the transaction waits for one of them (or for the password, once the lock ends).
fn offer_unlock(
    svc: &Service,
    l: &Loaded,
    user_id: &str,
    locked: FactorKind,
) -> OidcResult<Vec<FactorKind>> {
    let with: Vec<FactorKind> = svc
        .db
        .run(|c| enrolled_factors(c, user_id))?
        .into_iter()
        .filter(|f| UNLOCK_FACTORS.contains(f) && *f != locked)
        .collect();
    if !with.is_empty() {
        let stage = Stage::Unlock {
            user: user_id.to_string(),
            locked,
            with: with.clone(),
        };
        save_stage(svc, &l.tx.id, &stage)?;
    }
    Ok(with)
}

/// Factors that prove a citizen who forgot their password: the strongest kind the account
/// holds (a passkey, else an authenticator app, else a code by text message or e-mail), and
/// recovery codes, which are kept for exactly this.
fn recovery_factors(enrolled: &[FactorKind]) -> Vec<FactorKind> {
    use FactorKind::*;
    let tiers: [&[FactorKind]; 3] = [&[WebAuthn], &[Totp], &[SmsCode, EmailCode]];
    let mut with: Vec<FactorKind> = tiers
        .iter()
        .map(|tier| {
            tier.iter()
                .copied()
                .filter(|f| enrolled.contains(f))
                .collect::<Vec<_>>()
        })
        .find(|found| !found.is_empty())
        .unwrap_or_default();
    if enrolled.contains(&RecoveryCode) {
        with.push(RecoveryCode);
    }
    with
}

/// "Forgot your password?" for `username`: the transaction waits for one of the account's
/// recovery factors. An account without one (or no such account) is told to ask the help
/// desk, in the same words.
fn recovery(svc: &Service, l: &Loaded, username: &str) -> OidcResult<Answer> {
    let username = username.trim();
    let user = svc.db.run(|c| users::find_by_username(c, username))?;
    let with = match &user {
        Some(u) if !u.disabled => recovery_factors(&svc.db.run(|c| enrolled_factors(c, &u.id))?),
        _ => Vec::new(),
    };
    match user {
        Some(u) if !with.is_empty() => {
            let stage = Stage::Recover {
                user: u.id,
                with: with.clone(),
            };
            save_stage(svc, &l.tx.id, &stage)?;
            Ok(Answer::Show(Screen::Factor {
                offered: with,
                chosen: None,
                sent: false,
                refusal: None,
                mode: FactorMode::Recover,
            }))
        }
        _ => Ok(Answer::Show(Screen::Forgot {
            username: username.to_string(),
            none: true,
        })),
    }
}

/// Whose factor a step answers: the signed-in citizen's (a step-up), the account whose
/// password is locked (an unlock), or the account whose password was forgotten.
enum Proving {
    StepUp(BrowserSession),
    Unlock { user: String, locked: FactorKind },
    Recover { user: String },
}

impl Proving {
    fn user_id(&self) -> &str {
        match self {
            Proving::StepUp(s) => &s.user_id,
            Proving::Unlock { user, .. } | Proving::Recover { user } => user,
        }
    }
}

fn proving(
    l: &Loaded,
    stage: &Option<Stage>,
    session: Option<BrowserSession>,
) -> OidcResult<Proving> {
    match stage {
        Some(Stage::Unlock { user, locked, .. }) => Ok(Proving::Unlock {
            user: user.clone(),
            locked: *locked,
        }),
        Some(Stage::Recover { user, .. }) => Ok(Proving::Recover { user: user.clone() }),
        _ => Ok(Proving::StepUp(own_session(l, session)?)),
    }
}

enum Proved {
    /// The session gained the factor: its new cookie.
    StepUp(String),
    /// The lock is lifted; the citizen signs in again as `username`.
    Unlocked { username: String },
    /// The citizen who forgot their password is proved: a new one may be set.
    Recovered,
}

fn prove(
    svc: &Service,
    l: &Loaded,
    who: &Proving,
    kind: FactorKind,
    lang: Lang,
    now: i64,
    verify: impl FnOnce(&mut AnyConnection) -> StoreResult<Option<()>>,
) -> OidcResult<Result<Proved, Refusal>> {
    match who {
        Proving::StepUp(sess) => {
            Ok(step_up(svc, l, sess, kind, lang, now, verify)?.map(Proved::StepUp))
        }
        Proving::Unlock { user, locked } => unlock(svc, l, user, *locked, kind, lang, now, verify),
        Proving::Recover { user } => recover(svc, l, user, kind, lang, now, verify),
    }
}

/// How long the citizen has to choose a new password once a factor proved them.
const NEW_PASSWORD_SECONDS: i64 = 10 * 60;

/// Checks `kind` of the account whose password was forgotten, on the one check path; on
/// success the transaction waits for the new password, in the same transaction.
fn recover(
    svc: &Service,
    l: &Loaded,
    user_id: &str,
    kind: FactorKind,
    lang: Lang,
    now: i64,
    verify: impl FnOnce(&mut AnyConnection) -> StoreResult<Option<()>>,
) -> OidcResult<Result<Proved, Refusal>> {
    let next = Stage::NewPassword {
        user: user_id.to_string(),
        until: now + NEW_PASSWORD_SECONDS,
    };
    let next = serde_json::to_string(&next).map_err(OidcError::server)?;
    let result = svc.db.tx(|c| {
        let a = l.attempt(svc, user_id, kind);
        match factors::check(c, a, now, verify)? {
            Checked::Accepted(()) => {
                transactions::set_stage(c, &l.tx.id, &next)?;
                Ok(Ok(Proved::Recovered))
            }
            Checked::Refused(r) => Ok(Err(r)),
        }
    })?;
    let outcome = if result.is_ok() { "success" } else { "failure" };
    tracing::info!(outcome, factor = kind.name(), "password recovery attempt");
    if let Err(Refusal::Locked { now: true, .. }) = result
        && let Some(u) = svc.db.run(|c| users::find(c, user_id))?
    {
        notify_locked(svc, &u, lang);
    }
    Ok(result)
}

/// Checks `kind` of the account; on success lifts the lock on `locked` and goes back to
/// the login, all in one transaction, and tells the citizen.
#[allow(clippy::too_many_arguments)]
fn unlock(
    svc: &Service,
    l: &Loaded,
    user_id: &str,
    locked: FactorKind,
    kind: FactorKind,
    lang: Lang,
    now: i64,
    verify: impl FnOnce(&mut AnyConnection) -> StoreResult<Option<()>>,
) -> OidcResult<Result<Proved, Refusal>> {
    let login = serde_json::to_string(&Stage::Login).map_err(OidcError::server)?;
    let result = svc.db.tx(|c| {
        let a = l.attempt(svc, user_id, kind);
        match factors::check(c, a, now, verify)? {
            Checked::Accepted(()) => {
                super::lockout::lift(c, user_id, locked, kind, now)?;
                transactions::set_stage(c, &l.tx.id, &login)?;
                Ok(Ok(()))
            }
            Checked::Refused(r) => Ok(Err(r)),
        }
    })?;
    let outcome = if result.is_ok() { "success" } else { "failure" };
    tracing::info!(outcome, factor = kind.name(), "unlock attempt");
    let user = svc.db.run(|c| users::find(c, user_id))?;
    let t = lang.texts();
    match (result, user) {
        (Ok(()), Some(u)) => {
            crate::notify::tell(svc, &u, t.unlocked_subject, t.unlocked_body);
            Ok(Ok(Proved::Unlocked {
                username: u.username,
            }))
        }
        (Ok(()), None) => Err(OidcError::invalid_request("the account no longer exists")),
        (Err(r), user) => {
            if let (Refusal::Locked { now: true, .. }, Some(u)) = (r, &user) {
                notify_locked(svc, u, lang);
            }
            Ok(Err(r))
        }
    }
}

/// Sign-in, or step-up, with an X.509 client certificate.
fn certificate(
    svc: &Service,
    l: &Loaded,
    previous_cookie: Option<&str>,
    session: Option<&BrowserSession>,
    chain: Option<&[Vec<u8>]>,
    lang: Lang,
    now: i64,
) -> OidcResult<(Answer, Option<String>)> {
    if svc.certificates.is_none() {
        return Err(OidcError::invalid_request(
            "certificate sign-in is not configured",
        ));
    }
    let refused = || Answer::Show(login_screen(&l.purpose, Some(Refusal::Certificate)));
    let Some(name) = factors::certificate::identify(svc, chain, now) else {
        let detail = serde_json::json!({ "factor": "x509", "reason": "certificate" });
        audit_failure(svc, detail, l.ip, now)?;
        return Ok((refused(), None));
    };
    let kind = FactorKind::Certificate;
    // At a step-up the certificate adds to the session; at a login it starts a new one.
    let step_up_of = match &l.stage {
        Some(Stage::StepUp(_)) => session,
        _ => None,
    };
    let result = svc.db.tx(|c| {
        let Some(user) = factors::certificate::account(svc, c, &name)? else {
            return Ok(None);
        };
        let a = l.attempt(svc, &user.id, kind);
        let Checked::Accepted(()) = factors::check(c, a, now, |_| Ok(Some(())))? else {
            return Ok(Some(Err(())));
        };
        transactions::set_user(c, &l.tx.id, &user.id)?;
        users::set_language(c, &user.id, lang.texts().code, now)?;
        let rules = svc.rules();
        let policy = &rules.policy;
        let (cookie, _) = match step_up_of.filter(|s| s.user_id == user.id) {
            Some(s) => session::step_up(c, s, kind, policy, &times(svc), now)?,
            None => session::start(
                c,
                previous_cookie,
                &user.id,
                kind,
                policy,
                &times(svc),
                &l.device,
                now,
            )?,
        };
        Ok(Some(Ok(cookie)))
    })?;
    match result {
        Some(Ok(cookie)) => Ok((next_page(l), Some(cookie))),
        Some(Err(())) => Ok((refused(), None)),
        None => {
            let detail = serde_json::json!({ "factor": "x509", "reason": "no account" });
            audit_failure(svc, detail, l.ip, now)?;
            Ok((refused(), None))
        }
    }
}

fn audit_failure(
    svc: &Service,
    detail: serde_json::Value,
    ip: Option<IpAddr>,
    now: i64,
) -> OidcResult<()> {
    let entry = crate::audit::Entry {
        kind: crate::audit::Kind::SignInFailed,
        user_id: None,
        client_id: None,
        detail,
    };
    svc.db
        .tx(|c| crate::audit::append_from(c, entry, ip, now))?;
    Ok(())
}

/// The authorization response to `to`, with the issuer (RFC 9207) and the state added.
pub fn client_response(
    svc: &Service,
    to: &ClientRedirect,
    pairs: &[(&str, &str)],
) -> ClientResponse {
    let mut params: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Some(s) = &to.state {
        params.push(("state".into(), s.clone()));
    }
    params.push(("iss".into(), svc.provider.issuer.clone()));
    ClientResponse {
        redirect_uri: to.redirect_uri.clone(),
        params,
        mode: to.mode,
    }
}

pub fn error_response(svc: &Service, to: &ClientRedirect, e: &OidcError) -> ClientResponse {
    client_response(
        svc,
        to,
        &[
            ("error", e.code.as_str()),
            ("error_description", e.description.as_str()),
        ],
    )
}

/// Changing a citizen's factors or contact details needs the highest level their own
/// factors reach, proven within this many seconds. Certificates do not count towards that
/// level: anyone may hold a card from a configured CA.
pub const CHANGE_MAX_AGE: i64 = 300;

/// Whether `session` may change its citizen's factors or contact details now; otherwise
/// the login (purpose) that would allow it.
pub fn change_allowed(
    svc: &Service,
    conn: &mut AnyConnection,
    session: &BrowserSession,
    back: ReturnTo,
    now: i64,
) -> StoreResult<Result<(), Purpose>> {
    let enrolled = enrolled_factors(conn, &session.user_id)?;
    let rules = svc.rules();
    let policy = &rules.policy;
    let strongest = policy.achieved(&enrolled).unwrap_or(Level::Low);
    let done = session.factor_list();
    if policy.satisfies(&done, strongest) && now - session.auth_time <= CHANGE_MAX_AGE {
        return Ok(Ok(()));
    }
    Ok(Err(Purpose::Account {
        requirement: Requirement {
            level: strongest,
            mandatory: true,
        },
        max_age: Some(CHANGE_MAX_AGE),
        back,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000;

    fn visit<'a>(tx: &'a str, csrf: Option<&'a str>) -> Visit<'a> {
        Visit {
            tx,
            browser: Some("browser"),
            session: None,
            csrf,
            ip: None,
            accept_language: None,
            user_agent: None,
        }
    }

    fn account_login(svc: &Service) -> (String, String) {
        let purpose = Purpose::Account {
            requirement: Requirement {
                level: Level::Low,
                mandatory: false,
            },
            max_age: None,
            back: ReturnTo::Overview,
        };
        let Begun::Interaction(tx) = begin(svc, purpose, None, "browser", T0).unwrap() else {
            panic!("no session: a transaction")
        };
        let turn = handle(svc, visit(&tx, None), show_event(), T0).unwrap();
        assert!(matches!(turn.answer, Answer::Show(Screen::Login { .. })));
        (tx, turn.view.csrf)
    }

    fn show_event() -> Event<'static> {
        Event::Show {
            factor: None,
            sent: false,
            unlocked: false,
            forgot: false,
        }
    }

    #[test]
    fn forms_of_other_steps_are_refused() {
        let (_dir, svc) = crate::service::for_tests();
        let (tx, csrf) = account_login(&svc);
        let v = visit(&tx, Some(&csrf));
        for event in [
            Event::Choose(Choice::Continue),
            Event::Consent { allow: true },
            Event::Code {
                factor: FactorKind::RecoveryCode,
                code: "x",
            },
            Event::WebAuthnBegin,
        ] {
            let e = handle(&svc, v, event, T0).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRequest);
        }
        // A form without the transaction's CSRF token is refused.
        let password = || Event::Password {
            username: "anna",
            password: "correct horse",
        };
        assert!(handle(&svc, visit(&tx, Some("forged")), password(), T0).is_err());
        assert!(handle(&svc, visit(&tx, None), password(), T0).is_err());
        // The login itself is open, and leads back to the account.
        let turn = handle(&svc, v, password(), T0).unwrap();
        let cookie = turn.session_cookie.expect("a session");
        assert!(
            matches!(turn.answer, Answer::Redirect(ref u) if u == &format!("/interaction/{tx}"))
        );
        let signed_in = Visit {
            session: Some(&cookie),
            ..visit(&tx, None)
        };
        let turn = handle(&svc, signed_in, show_event(), T0).unwrap();
        assert!(matches!(turn.answer, Answer::Redirect(ref u) if u == "/account"));
        // Done: the transaction is gone.
        assert!(handle(&svc, signed_in, show_event(), T0).is_err());
    }

    #[test]
    fn three_wrong_passwords_lock_the_login() {
        let (_dir, svc) = crate::service::for_tests();
        let (tx, csrf) = account_login(&svc);
        let v = visit(&tx, Some(&csrf));
        let try_password = |password, now| {
            let turn = handle(
                &svc,
                v,
                Event::Password {
                    username: "anna",
                    password,
                },
                now,
            )
            .unwrap();
            match turn.answer {
                Answer::Show(Screen::Login { refusal, .. }) => refusal,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(try_password("wrong", T0), Some(Refusal::Wrong));
        assert_eq!(try_password("wrong", T0 + 1), Some(Refusal::Wrong));
        assert_eq!(
            try_password("wrong", T0 + 2),
            Some(Refusal::Locked {
                until: T0 + 62,
                now: true
            })
        );
        assert!(matches!(
            try_password("correct horse", T0 + 3),
            Some(Refusal::Locked { now: false, .. })
        ));
    }

    /// The language of a sign-in is remembered for notices that others' acts cause.
    #[test]
    fn the_language_of_a_sign_in_is_remembered() {
        let (_dir, svc) = crate::service::for_tests();
        let language = || svc.db.run(|c| users::language(c, "u-anna")).unwrap();
        assert_eq!(language(), None);
        let (tx, csrf) = account_login(&svc);
        let v = Visit {
            accept_language: Some("hu-HU,hu;q=0.9,en;q=0.5"),
            ..visit(&tx, Some(&csrf))
        };
        let event = Event::Password {
            username: "anna",
            password: "wrong",
        };
        handle(&svc, v, event, T0).unwrap();
        assert_eq!(language(), None, "not by a failed attempt");
        let event = Event::Password {
            username: "anna",
            password: "correct horse",
        };
        assert!(
            handle(&svc, v, event, T0 + 1)
                .unwrap()
                .session_cookie
                .is_some()
        );
        assert_eq!(language().as_deref(), Some("hu"));
    }

    #[test]
    fn a_forgotten_password_is_reset_after_the_strongest_factor() {
        let (_dir, svc) = crate::service::for_tests();
        let codes = crate::enrollment::recovery_codes(&svc, "u-anna", Lang::En, T0).expect("codes");
        let (tx, csrf) = account_login(&svc);
        let v = visit(&tx, Some(&csrf));
        let go = |event, now| handle(&svc, v, event, now);
        // The new password cannot be given before a factor proved the citizen.
        let early = Event::NewPassword {
            password: "a brand new passphrase",
            confirm: "a brand new passphrase",
        };
        assert!(go(early, T0).is_err());
        // Three wrong guesses lock the password; the recovery lifts that with the new one.
        for _ in 0..3 {
            let wrong = Event::Password {
                username: "anna",
                password: "wrong",
            };
            assert!(go(wrong, T0).unwrap().session_cookie.is_none());
        }
        // An unknown account and one without recovery factors read alike.
        let Answer::Show(Screen::Forgot { none: true, .. }) =
            go(Event::Forgot { username: "nobody" }, T0).unwrap().answer
        else {
            panic!("no online recovery")
        };
        // Anna has an e-mail address and recovery codes: those are offered.
        let Answer::Show(Screen::Factor { offered, mode, .. }) =
            go(Event::Forgot { username: "anna" }, T0).unwrap().answer
        else {
            panic!("the recovery factors")
        };
        assert_eq!(mode, FactorMode::Recover);
        assert_eq!(offered, [FactorKind::EmailCode, FactorKind::RecoveryCode]);
        // A wrong code is refused on the one check path; a right one asks for the password.
        let code = |code, now| {
            let event = Event::Code {
                factor: FactorKind::RecoveryCode,
                code,
            };
            go(event, now).unwrap()
        };
        assert!(matches!(
            code("not-a-code", T0 + 1).answer,
            Answer::Show(Screen::Factor {
                refusal: Some(Refusal::Wrong),
                mode: FactorMode::Recover,
                ..
            })
        ));
        let proved = code(&codes[0], T0 + 2);
        assert!(proved.session_cookie.is_none(), "proving does not sign in");
        let shown = handle(&svc, visit(&tx, None), show_event(), T0 + 3).unwrap();
        assert!(matches!(
            shown.answer,
            Answer::Show(Screen::NewPassword { refused: None })
        ));
        // A weak or mistyped one is refused; a good one is set and the login comes back.
        let weak = Event::NewPassword {
            password: "password",
            confirm: "password",
        };
        assert!(matches!(
            go(weak, T0 + 4).unwrap().answer,
            Answer::Show(Screen::NewPassword { refused: Some(_) })
        ));
        // Four at once: the permission serves exactly one of them.
        let choices = [
            "a brand new passphrase",
            "another fresh passphrase",
            "a third long passphrase",
            "yet one more passphrase",
        ];
        let shared = &svc;
        let results: Vec<OidcResult<Turn>> = std::thread::scope(|scope| {
            let handles: Vec<_> = choices
                .iter()
                .map(|p| {
                    scope.spawn(move || {
                        let set = Event::NewPassword {
                            password: p,
                            confirm: p,
                        };
                        handle(shared, v, set, T0 + 5)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let set: Vec<usize> = (0..4)
            .filter(|i| {
                matches!(&results[*i], Ok(Turn { answer: Answer::Show(Screen::Login { notice: Some(LoginNotice::PasswordReset), username, .. }), .. }) if username == "anna")
            })
            .collect();
        assert_eq!(set.len(), 1, "exactly one reset: {results:?}");
        assert!(results.iter().filter(|r| r.is_err()).count() == 3);
        let fresh = choices[set[0]];
        // Only once: the stage is the login again.
        let again = Event::NewPassword {
            password: "another new passphrase",
            confirm: "another new passphrase",
        };
        assert!(go(again, T0 + 6).is_err());
        let old = Event::Password {
            username: "anna",
            password: "correct horse",
        };
        assert!(go(old, T0 + 7).unwrap().session_cookie.is_none());
        let new = Event::Password {
            username: "anna",
            password: fresh,
        };
        assert!(go(new, T0 + 8).unwrap().session_cookie.is_some());
    }

    #[test]
    fn a_passkey_holder_recovers_with_the_passkey_or_a_recovery_code() {
        use FactorKind::*;
        assert_eq!(
            recovery_factors(&[Password, WebAuthn, Totp, EmailCode, RecoveryCode]),
            [WebAuthn, RecoveryCode]
        );
        assert_eq!(recovery_factors(&[Password, Totp, SmsCode]), [Totp]);
        assert_eq!(
            recovery_factors(&[Password, SmsCode, EmailCode]),
            [SmsCode, EmailCode]
        );
        assert!(recovery_factors(&[Password, Face, Certificate]).is_empty());
    }

    #[test]
    fn another_factor_unlocks_a_locked_password() {
        let (_dir, svc) = crate::service::for_tests();
        let codes = crate::enrollment::recovery_codes(&svc, "u-anna", Lang::En, T0).expect("codes");
        let (tx, csrf) = account_login(&svc);
        let v = visit(&tx, Some(&csrf));
        let password = |username, password, now| {
            handle(&svc, v, Event::Password { username, password }, now).unwrap()
        };
        password("anna", "wrong", T0);
        password("anna", "wrong", T0 + 1);
        let Answer::Show(Screen::Login {
            unlock, refusal, ..
        }) = password("anna", "wrong", T0 + 2).answer
        else {
            panic!("the login page")
        };
        assert!(matches!(refusal, Some(Refusal::Locked { .. })));
        assert_eq!(unlock, [FactorKind::RecoveryCode, FactorKind::EmailCode]);
        // The page of the transaction is now the unlock page, with the same factors.
        let Answer::Show(Screen::Factor { offered, mode, .. }) =
            handle(&svc, visit(&tx, None), show_event(), T0 + 3)
                .unwrap()
                .answer
        else {
            panic!("the unlock page")
        };
        assert_eq!(mode, FactorMode::Unlock);
        assert_eq!(offered, [FactorKind::RecoveryCode, FactorKind::EmailCode]);
        let code = |code, now| {
            let event = Event::Code {
                factor: FactorKind::RecoveryCode,
                code,
            };
            handle(&svc, v, event, now).unwrap()
        };
        // A wrong code is refused and counted like any other factor's.
        let turn = code("not-a-code", T0 + 4);
        assert!(matches!(
            turn.answer,
            Answer::Show(Screen::Factor {
                refusal: Some(Refusal::Wrong),
                mode: FactorMode::Unlock,
                ..
            })
        ));
        // A right one lifts the lock, without signing in.
        let turn = code(&codes[0], T0 + 5);
        assert!(turn.session_cookie.is_none());
        assert!(matches!(
            turn.answer,
            Answer::Show(Screen::Login { notice: Some(LoginNotice::Unlocked), ref username, .. }) if username == "anna"
        ));
        let events = svc
            .db
            .run(|c| crate::audit::of_user(c, "u-anna", 5))
            .unwrap();
        assert_eq!(
            events[0].kind(),
            Some(crate::audit::Kind::FactorSelfUnlocked)
        );
        // The same code cannot unlock twice, and the stage is the login again.
        let again = handle(
            &svc,
            v,
            Event::Code {
                factor: FactorKind::RecoveryCode,
                code: &codes[0],
            },
            T0 + 6,
        );
        assert!(again.is_err());
        let turn = password("anna", "correct horse", T0 + 7);
        assert!(turn.session_cookie.is_some(), "{:?}", turn.answer);
    }

    #[test]
    fn an_unknown_account_is_offered_no_unlock() {
        let (_dir, svc) = crate::service::for_tests();
        let (tx, csrf) = account_login(&svc);
        let v = visit(&tx, Some(&csrf));
        let mut last = None;
        for i in 0..3 {
            let event = Event::Password {
                username: "nobody",
                password: "wrong",
            };
            last = Some(handle(&svc, v, event, T0 + i).unwrap().answer);
        }
        let Some(Answer::Show(Screen::Login {
            unlock, refusal, ..
        })) = last
        else {
            panic!("the login page")
        };
        assert!(matches!(refusal, Some(Refusal::Locked { .. })));
        assert!(unlock.is_empty());
    }
}
