//! Server-rendered pages for people: localised, accessible, never cached, and framed by
//! nobody.

use super::{AppState, LANG_COOKIE, RequestId};
use crate::i18n::{Lang, Texts};
use crate::oidc::authorize::{ClientResponse, ResponseMode};
use crate::oidc::error::OidcError;
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use askama::Template;

const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/// The page's language: the one the citizen chose with the language switcher (a
/// cookie), else the service's `ui_locales`, else the browser's `Accept-Language`.
pub fn lang(req: &HttpRequest, ui_locales: &[String]) -> Lang {
    let chosen = req
        .app_data::<web::Data<AppState>>()
        .and_then(|st| st.read_cookie(req, LANG_COOKIE))
        .and_then(|v| Lang::from_tag(&v));
    chosen.unwrap_or_else(|| {
        let accept = req
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        Lang::choose(ui_locales, accept)
    })
}

/// What frames every page: its texts (a `Chrome` reads as the `Texts` it holds), and for
/// this request the operator's header with the language switcher, and the footer.
pub struct Chrome {
    texts: &'static Texts,
    pub lang: Lang,
    /// The operator's name in the header.
    pub operator: String,
    /// A logo is served at `/static/logo`.
    pub logo: bool,
    /// A colour is configured: `/static/theme.css` sets it.
    pub themed: bool,
    pub languages: Vec<LanguageLink>,
    /// The footer's links: (text, address).
    pub links: Vec<(&'static str, String)>,
    /// The request's id, which error pages give as the support reference.
    pub reference: String,
}

/// One language in the switcher.
pub struct LanguageLink {
    pub code: &'static str,
    pub name: &'static str,
    /// Sets the language and comes back to this page.
    pub href: String,
    pub current: bool,
}

impl std::ops::Deref for Chrome {
    type Target = Texts;
    fn deref(&self) -> &Texts {
        self.texts
    }
}

/// The frame of the page answering `req`, in `lang`.
pub fn chrome(req: &HttpRequest, lang: Lang) -> Chrome {
    let t = lang.texts();
    let state = req.app_data::<web::Data<AppState>>();
    let theme = state.map(|s| &s.config.theme);
    let back = here(req);
    let languages = Lang::ALL
        .into_iter()
        .map(|l| LanguageLink {
            code: l.texts().code,
            name: l.native_name(),
            href: format!(
                "/language?{}",
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("to", l.texts().code)
                    .append_pair("back", &back)
                    .finish()
            ),
            current: l == lang,
        })
        .collect();
    let links = theme
        .map(|th| {
            [
                (t.help_link, &th.help_url),
                (t.privacy_link, &th.privacy_url),
                (t.accessibility_link, &th.accessibility_url),
            ]
            .into_iter()
            .filter_map(|(text, url)| url.clone().map(|u| (text, u)))
            .collect()
        })
        .unwrap_or_default();
    Chrome {
        texts: t,
        lang,
        operator: theme
            .and_then(|th| th.name(lang))
            .unwrap_or(t.service_name)
            .to_string(),
        logo: theme.is_some_and(|th| th.logo.is_some()),
        themed: theme.is_some_and(|th| th.colour.is_some()),
        languages,
        links,
        reference: req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default(),
    }
}

/// The page to come back to after switching language: this one when it was asked for
/// with GET, else the page whose form was sent.
fn here(req: &HttpRequest) -> String {
    let path = req.path();
    if req.method() == Method::GET {
        return req
            .uri()
            .path_and_query()
            .map_or(path, |p| p.as_str())
            .to_string();
    }
    let mut parts = path.split('/').skip(1);
    match (parts.next(), parts.next()) {
        (Some("interaction"), Some(tx)) => format!("/interaction/{tx}"),
        (
            Some("account"),
            Some(page @ ("totp" | "face" | "voice" | "data" | "contact" | "password")),
        ) => {
            format!("/account/{page}")
        }
        _ => "/account".to_string(),
    }
}

/// Where the language switcher may send the browser back to: a path on this server.
pub fn safe_back(back: &str) -> Option<&str> {
    let ok = back.starts_with('/')
        && !back.starts_with("//")
        && !back.contains('\\')
        && !back.chars().any(char::is_control);
    ok.then_some(back)
}

pub fn html(status: u16, body: Result<String, askama::Error>) -> HttpResponse {
    html_with_csp(status, body, CSP.to_string())
}

/// `html`, for a page that frames the given addresses (front-channel logout): their
/// origins, and only theirs, may be framed.
pub fn html_framing(
    status: u16,
    body: Result<String, askama::Error>,
    framed: &[String],
) -> HttpResponse {
    let origins: Vec<String> = framed
        .iter()
        .filter_map(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .collect();
    if origins.is_empty() {
        return html(status, body);
    }
    html_with_csp(
        status,
        body,
        format!("{CSP}; frame-src {}", origins.join(" ")),
    )
}

fn html_with_csp(status: u16, body: Result<String, askama::Error>, csp: String) -> HttpResponse {
    match body {
        Ok(body) => HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::CONTENT_SECURITY_POLICY, csp))
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "page rendering failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub t: &'a Chrome,
    pub client_name: &'a str,
    /// Where the client's logo is served, when it has one.
    pub logo: Option<&'a str>,
    /// The client's privacy notice and terms, when it gave them.
    pub links: &'a crate::login::flow::ClientLinks,
    /// Signing in to a service (not the account pages): offer the way back to it.
    pub service: bool,
    pub tx: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
    /// Shown in an error summary when not empty.
    pub error: &'a Message,
    /// The id of the field the error is about (`password`), or empty (a certificate).
    pub error_field: &'a str,
    /// Offer sign-in with a client certificate.
    pub certificate: bool,
    /// Offer sign-in with a passkey, no username first.
    pub passkey: bool,
    /// The password is locked; it can be unlocked with these factors: (name, link text).
    pub unlock: Vec<(&'a str, &'a str)>,
    /// A notice above the form (the password was unlocked, or reset); may be empty.
    pub notice: &'a str,
    /// Offer sign-in with the face alone (1:N), with the capture's messages.
    pub face: bool,
    pub messages: &'a str,
}

#[derive(Template)]
#[template(path = "factor.html")]
pub struct FactorPage<'a> {
    pub t: &'a Chrome,
    pub client_name: &'a str,
    /// Signing in to a service (not the account pages): offer the way back to it.
    pub service: bool,
    pub tx: &'a str,
    pub csrf: &'a str,
    /// `webauthn`, `totp` or `recovery`.
    pub factor: &'a str,
    /// Other factors the citizen may use instead: (name, link text).
    pub alternatives: Vec<(&'a str, &'a str)>,
    /// For codes by SMS or e-mail: a code was sent, ask for it.
    pub sent: bool,
    pub error: &'a Message,
    /// The factor unlocks the password rather than adding to the session.
    pub unlock: bool,
    /// The factor proves a citizen who forgot their password.
    pub recover: bool,
    /// For the face: `face_messages`.
    pub messages: &'a str,
    /// For the voice: `voice_messages`.
    pub voice_messages: &'a str,
}

/// The voice page of the account: what is kept and why, the consent, the recording.
#[derive(Template)]
#[template(path = "voice.html")]
pub struct VoicePage<'a> {
    pub t: &'a Chrome,
    pub csrf: &'a str,
    /// When the citizen agreed; none: the consent is asked first.
    pub agreed: Option<LocalTime>,
    /// The voice is enrolled, since then.
    pub enrolled: Option<LocalTime>,
    /// The consent form came back without its box ticked.
    pub missing: bool,
    pub voice_messages: &'a str,
}

pub struct SessionRow {
    pub sid: String,
    pub started: LocalTime,
    pub last_seen: LocalTime,
    pub current: bool,
    /// "Chrome, Android", or the texts' "unknown browser".
    pub device: String,
    pub address: Option<String>,
    /// The services this session signed in to, by name.
    pub services: String,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    pub t: &'a Chrome,
    pub display_name: &'a str,
    pub csrf: &'a str,
    /// What was just changed (a password, contact details), for the success notice.
    pub changed: &'a str,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The postal address on one line (shown, not changed here).
    pub address: Option<String>,
    pub totp: bool,
    pub face: bool,
    pub voice: bool,
    pub recovery_left: usize,
    /// Registered passkeys: (credential row id, name).
    pub passkeys: Vec<(String, String)>,
    /// Whether passkeys can be added (the issuer's host is a domain name).
    pub webauthn: bool,
    /// The citizen's recent audit events: (time, what, particulars).
    pub activity: Vec<(LocalTime, &'a str, String)>,
    /// There are older events: the row id to page back from.
    pub older_activity: Option<i64>,
    /// This is an older page of the activity.
    pub paged: bool,
    pub sessions: Vec<SessionRow>,
    pub consents: Vec<crate::privacy::Consented>,
}

#[derive(Template)]
#[template(path = "totp_setup.html")]
pub struct TotpSetupPage<'a> {
    pub t: &'a Chrome,
    pub csrf: &'a str,
    pub qr_svg: &'a str,
    /// The `otpauth://` address, which an app on the same phone opens.
    pub uri: &'a str,
    pub key: &'a str,
    pub error: &'a str,
}

impl TotpSetupPage<'_> {
    /// The key in groups of four, easier to read out and type.
    pub fn key_groups(&self) -> String {
        let chars: Vec<char> = self.key.chars().collect();
        chars
            .chunks(4)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(Template)]
#[template(path = "password.html")]
pub struct PasswordPage<'a> {
    pub t: &'a Chrome,
    pub csrf: &'a str,
    /// The id of the field the error is about; empty when there is none.
    pub field: &'a str,
    pub error: &'a str,
    /// Where the form goes.
    pub action: &'a str,
    /// A new password after forgetting the old one (else a change on the account page).
    pub recovery: bool,
}

/// Why a new password was refused, as (the id of the field it is about, the message);
/// both empty when it was not.
pub fn password_problem(
    t: &Texts,
    refused: Option<crate::enrollment::password::Refused>,
) -> (&'static str, &'static str) {
    use crate::enrollment::password::Refused;
    use crate::policy::password::Weakness;
    match refused {
        None => ("", ""),
        Some(Refused::Weak(Weakness::TooShort)) => ("new-password", t.password_too_short),
        Some(Refused::Weak(Weakness::TooLong)) => ("new-password", t.password_too_long),
        Some(Refused::Weak(Weakness::Guessable)) => ("new-password", t.password_guessable),
        Some(Refused::Mismatch) => ("confirm-password", t.password_mismatch),
    }
}

/// "Forgot your password?": which account.
#[derive(Template)]
#[template(path = "forgot.html")]
pub struct ForgotPage<'a> {
    pub t: &'a Chrome,
    pub client_name: &'a str,
    /// Signing in to a service (not the account pages): offer the way back to it.
    pub service: bool,
    pub tx: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
    /// No online recovery for that account.
    pub none: bool,
}

#[derive(Template)]
#[template(path = "contact.html")]
pub struct ContactPage<'a> {
    pub t: &'a Chrome,
    pub csrf: &'a str,
    pub title: &'a str,
    /// `email`, `phone` or `name` while asking for the new one; empty while asking for the
    /// code.
    pub what: &'a str,
    /// Where the code went (asking for it).
    pub intro: &'a str,
    pub error: &'a str,
}

#[derive(Template)]
#[template(path = "face.html")]
pub struct FacePage<'a> {
    pub t: &'a Chrome,
    pub csrf: &'a str,
    /// The consent is asked first.
    pub consent: bool,
    /// The deployment registers faces with an identity document and a clerk.
    pub registration: bool,
    /// When the citizen agreed.
    pub agreed: Option<LocalTime>,
    /// The consent form came back without its box ticked.
    pub missing: bool,
    /// The registration waits for a clerk, since then.
    pub pending: Option<Message>,
    /// The face is a sign-in factor, since then.
    pub enrolled: Option<LocalTime>,
    /// The capture's endpoints.
    pub begin: &'a str,
    pub finish: &'a str,
    /// For the capture script: `face_messages`.
    pub messages: &'a str,
}

/// The citizen's data: biometric data kept, consents, uses; download; closing the account.
#[derive(Template)]
#[template(path = "data.html")]
pub struct DataPage<'a> {
    pub t: &'a Chrome,
    pub csrf: &'a str,
    /// What biometric data is kept (templates, registration pictures), with since when.
    pub kept: Vec<Message>,
    /// Each consent, and when it was withdrawn.
    pub consents: Vec<(Message, Option<LocalTime>)>,
    /// Uses: when, which factor for which service, whether accepted.
    pub uses: Vec<(LocalTime, String, bool)>,
    /// The closing form came back without its box ticked.
    pub missing: bool,
}

/// The document step of a registration for face sign-in.
#[derive(Template)]
#[template(path = "face_document.html")]
pub struct FaceDocumentPage<'a> {
    pub t: &'a Chrome,
    pub csrf: &'a str,
    /// Each problem with the id of the field it is about, in the form's order.
    pub errors: Vec<(&'static str, String)>,
    /// What the citizen typed, to fill the form again.
    pub values: &'a DocumentValues,
    /// The last registration was rejected: when, and the clerk's words.
    pub rejected: Option<Message>,
    /// The live face did not match the document three times.
    pub mismatch: bool,
}

/// The document form's fields as typed.
#[derive(Debug, Clone, Default)]
pub struct DocumentValues {
    pub kind: String,
    pub number: String,
    pub country: String,
    pub expires: [String; 3],
    pub born: [String; 3],
    pub mrz: String,
}

impl<'a> FaceDocumentPage<'a> {
    /// The kinds of document: value and label.
    pub fn kinds(&self) -> Vec<(&'static str, &'a str)> {
        let t = self.t;
        vec![
            ("passport", t.reg_kind_passport),
            ("id_card", t.reg_kind_id_card),
            ("residence_permit", t.reg_kind_residence_permit),
        ]
    }

    /// The two dates: name, id of the first input, legend, hint, and the parts as typed.
    pub fn dates(
        &self,
    ) -> Vec<(
        &'static str,
        &'static str,
        &'a str,
        &'a str,
        &'a [String; 3],
    )> {
        let t = self.t;
        vec![
            (
                "expires",
                "expires-day",
                t.reg_expires_legend,
                t.reg_date_hint,
                &self.values.expires,
            ),
            (
                "born",
                "born-day",
                t.reg_born_legend,
                t.reg_born_hint,
                &self.values.born,
            ),
        ]
    }

    /// The error about field `id`, if any.
    pub fn error_of(&self, id: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == id)
            .map(|(_, m)| m.as_str())
    }
}

/// What the capture script shows for each answer (`flow::FaceAnswer::code`) and for the
/// browser's own problems, as a JSON object.
pub fn face_messages(t: &Texts) -> String {
    serde_json::json!({
        "no_camera": t.face_no_camera,
        "denied": t.face_denied,
        "unreadable": t.face_unreadable,
        "no_face": t.face_no_face,
        "several_faces": t.face_several,
        "too_small": t.face_too_small,
        "too_dark": t.face_too_dark,
        "too_blurred": t.face_too_blurred,
        "no_blink": t.face_no_blink,
        "no_turn": t.face_no_turn,
        "no_match": t.face_no_match,
        "busy": t.face_busy,
        "locked": t.face_locked,
        "hold": t.face_hold_still,
        "blink": t.face_blink_now,
        "left": t.face_turn_left,
        "right": t.face_turn_right,
        "checking": t.face_checking,
        "mismatch": t.reg_mismatch,
    })
    .to_string()
}

/// What the recording script shows for each answer (`flow::VoiceAnswer::code`) and for
/// the browser's own problems, as a JSON object.
pub fn voice_messages(t: &Texts) -> String {
    serde_json::json!({
        "no_microphone": t.voice_no_microphone,
        "denied": t.voice_denied,
        "unreadable": t.face_unreadable,
        "no_speech": t.voice_no_speech,
        "too_short": t.voice_too_short,
        "too_quiet": t.voice_too_quiet,
        "clipped": t.voice_clipped,
        "no_match": t.voice_no_match,
        "busy": t.face_busy,
        "locked": t.face_locked,
        "recording": t.voice_recording,
        "checking": t.face_checking,
    })
    .to_string()
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryCodesPage<'a> {
    pub t: &'a Chrome,
    pub codes: &'a [String],
}

impl RecoveryCodesPage<'_> {
    /// The codes as a text file, for the download link (a `data:` address).
    pub fn download(&self) -> String {
        let mut text = format!("{}\n\n", self.t.recovery_method);
        for c in self.codes {
            text.push_str(c);
            text.push('\n');
        }
        format!(
            "data:text/plain;charset=utf-8,{}",
            url::form_urlencoded::byte_serialize(text.as_bytes())
                .collect::<String>()
                .replace('+', "%20")
        )
    }
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub t: &'a Chrome,
    pub client_name: &'a str,
    /// Where the client's logo is served, when it has one.
    pub logo: Option<&'a str>,
    /// The client's privacy notice and terms, when it gave them.
    pub links: &'a crate::login::flow::ClientLinks,
    pub tx: &'a str,
    pub csrf: &'a str,
    pub scopes: Vec<&'a str>,
}

#[derive(Template)]
#[template(path = "select_account.html")]
pub struct SelectAccountPage<'a> {
    pub t: &'a Chrome,
    pub client_name: &'a str,
    /// Signing in to a service (not the account pages): offer the way back to it.
    pub service: bool,
    pub tx: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    t: &'a Chrome,
    title: &'a str,
    cause: &'a str,
    next: &'a str,
    code: &'a str,
    description: &'a str,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage<'a> {
    pub t: &'a Chrome,
    pub done: bool,
    pub csrf: &'a str,
    pub pending: &'a str,
    /// Who is signed in, and which service asked (the question names both).
    pub account: &'a str,
    pub service: Option<&'a str>,
    /// Front-channel logout URIs loaded in hidden frames once signed out.
    pub frontchannel: &'a [String],
    /// Where the browser goes next (the service's post-logout redirect), if anywhere.
    pub next: Option<&'a str>,
}

/// A readable page for an error that cannot be sent back to a client.
pub fn error_page(
    req: &HttpRequest,
    ui_locales: &[String],
    status: u16,
    e: &OidcError,
) -> HttpResponse {
    let t = chrome(req, lang(req, ui_locales));
    html(status, error_body(&t, e))
}

/// A page that only tells something that happened.
#[derive(Template)]
#[template(path = "notice.html")]
struct NoticePage<'a> {
    t: &'a Chrome,
    title: &'a str,
    text: &'a str,
}

/// Asks before an act that cannot be undone (GOV.UK: a warning button and a way back).
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage<'a> {
    pub t: &'a Chrome,
    pub csrf: &'a str,
    pub question: &'a str,
    /// What follows from it; may be empty.
    pub hint: &'a str,
    /// Where the form goes, and the field naming the item.
    pub action: &'a str,
    pub field: Option<(&'static str, String)>,
    pub button: &'a str,
}

/// The development callback page (`--dev` only).
#[derive(Template)]
#[template(path = "dev_callback.html")]
pub struct DevCallbackPage<'a> {
    pub t: &'a Chrome,
}

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPostPage<'a> {
    t: &'a Chrome,
    redirect_uri: &'a str,
    params: &'a [(String, String)],
}

/// The authorization response as the client asked for it: a redirect with the response in
/// the query, or (form_post) a page whose form the browser posts to the redirect URI.
pub fn to_client(req: &HttpRequest, ui_locales: &[String], r: &ClientResponse) -> HttpResponse {
    match r.mode {
        ResponseMode::Query => super::see_other(&r.location()),
        ResponseMode::FormPost => {
            let t = chrome(req, lang(req, ui_locales));
            let page = FormPostPage {
                t: &t,
                redirect_uri: &r.redirect_uri,
                params: &r.params,
            };
            html(200, page.render())
        }
    }
}

pub fn notice_page(t: &Chrome, title: &str, text: &str) -> Result<String, askama::Error> {
    NoticePage { t, title, text }.render()
}

pub fn error_body(t: &Chrome, e: &OidcError) -> Result<String, askama::Error> {
    let (title, cause, next) = t.situation(e.situation());
    ErrorPage {
        t,
        title,
        cause,
        next,
        code: e.code.as_str(),
        description: &e.description,
    }
    .render()
}

/// A moment on a page: written in the page's language in UTC, and marked up so that the
/// pages' script (`local-time.js`) rewrites it in the reader's own time zone.
#[derive(Debug, Clone)]
pub struct LocalTime {
    /// RFC 3339, for the `datetime` attribute.
    pub iso: String,
    pub text: String,
}

impl LocalTime {
    pub fn new(lang: Lang, t: i64) -> LocalTime {
        let (y, m, d, hh, mm) = crate::i18n::civil(t);
        LocalTime {
            iso: format!(
                "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{:02}Z",
                t.rem_euclid(60)
            ),
            text: lang.datetime(t),
        }
    }
}

/// As markup: `<time datetime="…">…</time>`. Both parts are made here of digits and month
/// names only, so templates may print it unescaped (`|safe`).
impl std::fmt::Display for LocalTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<time datetime=\"{}\">{}</time>", self.iso, self.text)
    }
}

/// A sentence for an alert, possibly with a moment in it.
#[derive(Debug, Clone, Default)]
pub struct Message {
    pub before: String,
    pub time: Option<LocalTime>,
    pub after: String,
}

impl Message {
    pub fn plain(text: &str) -> Message {
        Message {
            before: text.to_string(),
            ..Message::default()
        }
    }

    /// `template` holds `{time}` where the moment goes.
    pub fn with_time(template: &str, time: LocalTime) -> Message {
        let (before, after) = template.split_once("{time}").unwrap_or((template, ""));
        Message {
            before: before.to_string(),
            time: Some(time),
            after: after.to_string(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.before.is_empty() && self.time.is_none() && self.after.is_empty()
    }
}

/// A QR code as an inline SVG (black modules on white, with the standard quiet zone).
pub fn qr_svg(text: &str) -> Option<String> {
    let qr = qrcodegen::QrCode::encode_text(text, qrcodegen::QrCodeEcc::Medium).ok()?;
    let size = qr.size();
    let border = 4;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    let dim = size + 2 * border;
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {dim} {dim}\" shape-rendering=\"crispEdges\" aria-hidden=\"true\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

impl AccountPage<'_> {
    /// What a consent lets the service see, in words.
    pub fn scopes_of(&self, c: &crate::privacy::Consented) -> String {
        let mut scopes: Vec<&str> = c.scopes.split_whitespace().collect();
        // The identifier first, then the standard claims, then the services' own scopes.
        let rank = |s: &&str| ["openid", "profile", "email"].iter().position(|o| o == s);
        scopes.sort_by_key(|s| rank(s).unwrap_or(usize::MAX));
        scopes
            .into_iter()
            .map(|s| describe_scope(self.t, s))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// What a scope means, in the citizen's language.
pub fn describe_scope<'a>(t: &'a Texts, scope: &'a str) -> &'a str {
    match scope {
        "openid" => t.scope_openid,
        "profile" => t.scope_profile,
        "email" => t.scope_email,
        "phone" => t.scope_phone,
        "address" => t.scope_address,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_carry_their_instant_and_a_written_form() {
        let t = LocalTime::new(Lang::Hu, 1_795_000_000);
        assert_eq!(t.iso, "2026-11-18T11:06:40Z");
        assert_eq!(t.text, "2026. november 18. 11:06 UTC");
        let m = Message::with_time("after {time}.", t);
        assert_eq!((m.before.as_str(), m.after.as_str()), ("after ", "."));
    }

    #[test]
    fn qr_codes_are_svg() {
        let svg = qr_svg("otpauth://totp/x?secret=AAAA").unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<path d=\"M"));
    }
}
