//! The citizen's own account pages: sign-in methods (authenticator app, recovery codes),
//! where they are signed in (each session can be ended), and the services they allowed
//! (consent can be withdrawn, which revokes what the service holds).

use super::interaction::{
    CHALLENGE_TTL, enrolled_factors, json_failure, passkeys, start_transaction, totp_context,
};
use super::pages::{self, AccountPage, ConsentRow, RecoveryCodesPage, SessionRow, TotpSetupPage};
use super::{
    AppState, BROWSER_COOKIE, SESSION_COOKIE, blocking, form_params, see_other, session_csrf,
};
use crate::crypto;
use crate::login::session;
use crate::oidc::authorize::AuthorizeRequest;
use crate::oidc::error::{OidcError, OidcResult};
use crate::oidc::params::Params;
use crate::policy::{Level, Requirement};
use crate::store::sessions::{self, BrowserSession};
use crate::store::users::{self, Credential};
use crate::store::{challenges, clients, consents, tokens};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use authenticators::totp::{self, Totp, TotpCredential};
use authenticators::{Factor, FactorKind, recovery};
use std::sync::Arc;

const PENDING_TOTP: &str = "totp-pending";

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

fn access(
    st: Arc<AppState>,
    req: &HttpRequest,
    now: i64,
) -> impl FnOnce() -> OidcResult<Access> + use<> {
    let cookie = st.read_cookie(req, SESSION_COOKIE);
    let browser = st.read_cookie(req, BROWSER_COOKIE);
    move || {
        let sess = st
            .db
            .run(|c| session::resume(c, cookie.as_deref(), st.config.session_idle, now))?;
        if let (Some(s), Some(c)) = (sess, cookie) {
            return Ok(Access::Granted(s, c));
        }
        let new_browser = browser.is_none().then(crypto::random_token);
        let b = browser.or_else(|| new_browser.clone()).unwrap_or_default();
        let request = AuthorizeRequest::for_account(Requirement {
            level: Level::Low,
            mandatory: false,
        });
        let tx = start_transaction(&st, &request, &b, now)?;
        Ok(Access::SignIn { tx, new_browser })
    }
}

fn sign_in(state: &AppState, tx: &str, new_browser: Option<String>) -> HttpResponse {
    let mut res = see_other(&format!("/interaction/{tx}"));
    if let Some(b) = new_browser {
        let _ = res.add_cookie(&state.cookie(BROWSER_COOKIE, b, None));
    }
    res
}

/// What the account page shows, read in one go.
struct AccountView {
    user: Option<users::User>,
    enrolled: Vec<FactorKind>,
    passkeys: Vec<(String, String)>,
    recovery_left: usize,
    sessions: Vec<BrowserSession>,
    consents: Vec<ConsentRow>,
    events: Vec<crate::audit::Event>,
}

fn account_view(
    c: &mut crate::store::AnyConnection,
    user_id: &str,
    now: i64,
) -> crate::store::StoreResult<AccountView> {
    let credentials = users::credentials_of(c, user_id)?;
    let mut consented = Vec::new();
    for (client_id, scopes) in consents::of_user(c, user_id)? {
        let client_name = clients::find(c, &client_id)?
            .map(|c| c.name)
            .unwrap_or_else(|| client_id.clone());
        consented.push(ConsentRow {
            client_id,
            client_name,
            scopes,
        });
    }
    Ok(AccountView {
        user: users::find(c, user_id)?,
        enrolled: enrolled_factors(c, user_id)?,
        passkeys: credentials
            .iter()
            .filter(|r| r.kind == FactorKind::WebAuthn.name())
            .map(|r| (r.id.clone(), r.label.clone().unwrap_or_default()))
            .collect(),
        recovery_left: credentials
            .iter()
            .filter(|r| r.kind == FactorKind::RecoveryCode.name())
            .count(),
        sessions: sessions::of_user(c, user_id, now)?,
        consents: consented,
        events: crate::audit::of_user(c, user_id, 20)?,
    })
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let now = state.clock.now();
    let get_access = access(state.clone().into_inner(), &req, now);
    let st = state.clone().into_inner();
    let result = blocking(move || {
        let (sess, cookie) = match get_access()? {
            Access::Granted(s, c) => (s, c),
            Access::SignIn { tx, new_browser } => return Ok(Err((tx, new_browser))),
        };
        let view = st.db.run(|c| account_view(c, &sess.user_id, now))?;
        Ok(Ok((sess, cookie, view)))
    })
    .await;
    let (sess, cookie, view) = match result {
        Err(e) => return pages::error_page(&req, &[], e.code.status(), &e),
        Ok(Err((tx, b))) => return sign_in(&state, &tx, b),
        Ok(Ok(x)) => x,
    };
    let t = pages::lang(&req, &[]).texts();
    let display_name = view
        .user
        .map(|u| u.name.unwrap_or(u.username))
        .unwrap_or_default();
    let sessions = view
        .sessions
        .into_iter()
        .map(|s| SessionRow {
            current: s.id == sess.id,
            started: pages::utc(s.created_at),
            last_seen: pages::utc(s.last_seen),
            sid: s.sid,
        })
        .collect();
    let activity = view
        .events
        .iter()
        .map(|e| {
            let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or_default();
            let particulars = detail["factor"]
                .as_str()
                .map(str::to_string)
                .or_else(|| e.client_id.clone())
                .unwrap_or_default();
            (pages::utc(e.at), t.event(&e.kind), particulars)
        })
        .collect();
    let page = AccountPage {
        t,
        display_name: &display_name,
        csrf: &csrf(&cookie),
        totp: view.enrolled.contains(&FactorKind::Totp),
        recovery_left: view.recovery_left,
        passkeys: view.passkeys,
        webauthn: state.webauthn.is_some(),
        activity,
        sessions,
        consents: view.consents,
    };
    pages::html(200, page.render())
}

/// Runs an action of the signed-in citizen off the executor, after checking the form's
/// CSRF token. `Ok(Err(..))` is where to send a browser without a session to sign in.
async fn run_action<T, F>(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    form: Params,
    action: F,
) -> OidcResult<Result<T, (String, Option<String>)>>
where
    T: Send + 'static,
    F: FnOnce(&AppState, &BrowserSession, &Params, i64) -> OidcResult<T> + Send + 'static,
{
    let now = state.clock.now();
    let get_access = access(state.clone().into_inner(), req, now);
    let st = state.clone().into_inner();
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
            ));
        }
        Ok(Ok(action(&st, &sess, &form, now)?))
    })
    .await
}

/// A form action of the account page, answered with a page or a redirect.
async fn act<F>(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
    action: F,
) -> HttpResponse
where
    F: FnOnce(&AppState, &BrowserSession, &Params, i64) -> OidcResult<Done> + Send + 'static,
{
    let form = match form_params(&req, &body) {
        Ok(f) => f,
        Err(e) => return pages::error_page(&req, &[], 400, &e),
    };
    let result = run_action(&req, &state, form, action).await;
    let t = pages::lang(&req, &[]).texts();
    match result {
        Err(e) => pages::error_page(&req, &[], e.code.status(), &e),
        Ok(Err((tx, b))) => sign_in(&state, &tx, b),
        Ok(Ok(Done::Back)) => see_other("/account"),
        Ok(Ok(Done::To(url))) => see_other(&url),
        Ok(Ok(Done::Codes(codes))) => {
            pages::html(200, RecoveryCodesPage { t, codes: &codes }.render())
        }
        Ok(Ok(Done::TotpRetry)) => totp_setup(&req, &state, t.code_failed).await,
    }
}

enum Done {
    Back,
    To(String),
    Codes(Vec<String>),
    TotpRetry,
}

pub async fn totp_start(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(req, state, body, |st, sess, _, now| {
        st.db.tx(|c| {
            users::delete_credentials(c, &sess.user_id, PENDING_TOTP)?;
            let key = crate::keys::user_key::get_or_create(c, &st.kek, &sess.user_id, now)
                .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
            let id = crypto::random_id();
            let secret = crypto::random_bytes::<{ totp::SECRET_BYTES }>();
            users::insert_credential(
                c,
                &Credential {
                    data: key.seal(&secret, &totp_context(&id)),
                    id,
                    user_id: sess.user_id.clone(),
                    kind: PENDING_TOTP.into(),
                    label: None,
                    created_at: now,
                    last_used_at: None,
                    counter: None,
                },
            )
        })?;
        Ok(Done::To("/account/totp".into()))
    })
    .await
}

/// The pending authenticator's secret, decrypted.
fn pending_totp(st: &AppState, user_id: &str) -> OidcResult<Option<(Credential, Vec<u8>)>> {
    st.db.run(|c| {
        let Some(cred) = users::credential(c, user_id, PENDING_TOTP)? else {
            return Ok(Ok(None));
        };
        let key = match crate::keys::user_key::existing(c, &st.kek, user_id) {
            Ok(Some(k)) => k,
            Ok(None) => return Ok(Ok(None)),
            Err(e) => return Ok(Err(OidcError::server(e))),
        };
        Ok(key
            .open(&cred.data, &totp_context(&cred.id))
            .map(|s| Some((cred, s)))
            .map_err(OidcError::server))
    })?
}

async fn totp_setup(req: &HttpRequest, state: &web::Data<AppState>, error: &str) -> HttpResponse {
    let now = state.clock.now();
    let get_access = access(state.clone().into_inner(), req, now);
    let st = state.clone().into_inner();
    let result = blocking(move || {
        let (sess, cookie) = match get_access()? {
            Access::Granted(s, c) => (s, c),
            Access::SignIn { tx, new_browser } => return Ok(Err((tx, new_browser))),
        };
        let user = st.db.run(|c| users::find(c, &sess.user_id))?;
        Ok(Ok((cookie, user, pending_totp(&st, &sess.user_id)?)))
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
    let t = pages::lang(req, &[]).texts();
    let page = TotpSetupPage {
        t,
        csrf: &csrf(&cookie),
        qr_svg: &pages::qr_svg(&uri).unwrap_or_default(),
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
    act(req, state, body, |st, sess, form, now| {
        let Some((cred, secret)) = pending_totp(st, &sess.user_id)? else {
            return Ok(Done::Back);
        };
        let check = Totp.finish(
            &TotpCredential {
                secret,
                last_step: None,
            },
            &(),
            form.get("code").unwrap_or(""),
            now,
        );
        let Ok(v) = check else {
            return Ok(Done::TotpRetry);
        };
        let step = v.updated.and_then(|u| u.last_step).unwrap_or_default();
        st.db.tx(|c| {
            users::delete_credentials(c, &sess.user_id, FactorKind::Totp.name())?;
            users::set_kind(c, &cred.id, FactorKind::Totp.name())?;
            users::advance_counter(c, &cred.id, step, now)
        })?;
        super::audit(
            st,
            "factor.enrolled",
            Some(&sess.user_id),
            None,
            serde_json::json!({ "factor": "totp" }),
            now,
        )?;
        Ok(Done::Back)
    })
    .await
}

pub async fn totp_remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(req, state, body, |st, sess, _, now| {
        st.db
            .run(|c| users::delete_credentials(c, &sess.user_id, FactorKind::Totp.name()))?;
        super::audit(
            st,
            "factor.removed",
            Some(&sess.user_id),
            None,
            serde_json::json!({ "factor": "totp" }),
            now,
        )?;
        Ok(Done::Back)
    })
    .await
}

/// New recovery codes, shown once; the earlier ones stop working.
pub async fn recovery_codes(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(req, state, body, |st, sess, _, now| {
        let codes = recovery::generate(&crypto::random_bytes::<{ recovery::COUNT * 12 }>());
        st.db.tx(|c| {
            users::delete_credentials(c, &sess.user_id, FactorKind::RecoveryCode.name())?;
            for code in &codes {
                users::insert_credential(
                    c,
                    &Credential {
                        id: crypto::random_id(),
                        user_id: sess.user_id.clone(),
                        kind: FactorKind::RecoveryCode.name().into(),
                        label: None,
                        data: recovery::hash(&sess.user_id, code).into_bytes(),
                        created_at: now,
                        last_used_at: None,
                        counter: None,
                    },
                )?;
            }
            Ok(())
        })?;
        super::audit(
            st,
            "factor.enrolled",
            Some(&sess.user_id),
            None,
            serde_json::json!({ "factor": "recovery" }),
            now,
        )?;
        Ok(Done::Codes(codes))
    })
    .await
}

pub async fn end_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(req, state, body, |st, sess, form, now| {
        let sid = form.require("sid")?.to_string();
        st.db.tx(|c| {
            if sessions::delete_by_sid(c, &sess.user_id, &sid)? {
                tokens::revoke_grants_of_session(c, &sid)?;
            }
            Ok(())
        })?;
        super::audit(
            st,
            "session.ended",
            Some(&sess.user_id),
            None,
            serde_json::json!({ "by": "account page" }),
            now,
        )?;
        Ok(Done::Back)
    })
    .await
}

pub async fn withdraw_consent(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act(req, state, body, |st, sess, form, now| {
        let client_id = form.require("client_id")?.to_string();
        st.db.tx(|c| {
            consents::revoke(c, &sess.user_id, &client_id)?;
            tokens::revoke_grants_of_user_client(c, &sess.user_id, &client_id)?;
            Ok(())
        })?;
        super::audit(
            st,
            "consent.withdrawn",
            Some(&sess.user_id),
            Some(&client_id),
            serde_json::json!({}),
            now,
        )?;
        Ok(Done::Back)
    })
    .await
}

const WEBAUTHN_REGISTER: &str = "webauthn-register";

/// An action of the account page's script (the WebAuthn ceremonies), answered in JSON.
async fn act_json<F>(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
    action: F,
) -> HttpResponse
where
    F: FnOnce(&AppState, &BrowserSession, &Params, i64) -> OidcResult<serde_json::Value>
        + Send
        + 'static,
{
    let form = match form_params(&req, &body) {
        Ok(f) => f,
        Err(e) => return json_failure(&e),
    };
    match run_action(&req, &state, form, action).await {
        Ok(Ok(v)) => HttpResponse::Ok()
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .json(v),
        Ok(Err(_)) => json_failure(&OidcError::invalid_request(
            "your session has ended; sign in again",
        )),
        Err(e) => json_failure(&e),
    }
}

/// Starts registering a passkey: the options for `navigator.credentials.create`.
pub async fn webauthn_begin(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act_json(req, state, body, |st, sess, form, now| {
        let webauthn = st
            .webauthn
            .as_ref()
            .ok_or_else(|| OidcError::invalid_request("WebAuthn is not available"))?;
        let name = form.get("name").unwrap_or("").trim().to_string();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(OidcError::invalid_request(
                "give the key a name of 1 to 64 characters",
            ));
        }
        let user = st
            .db
            .run(|c| users::find(c, &sess.user_id))?
            .ok_or_else(|| OidcError::invalid_request("the account no longer exists"))?;
        let existing: Vec<_> = st
            .db
            .run(|c| passkeys(c, &user.id))?
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        let display = user.name.clone().unwrap_or_else(|| user.username.clone());
        let challenge = webauthn
            .begin_registration(&user.id, &user.username, &display, &existing)
            .map_err(OidcError::server)?;
        let id = crypto::random_token();
        let stored = serde_json::json!({ "state": challenge.state, "name": name }).to_string();
        st.db.run(|c| {
            challenges::insert(
                c,
                &id,
                &user.id,
                WEBAUTHN_REGISTER,
                &stored,
                now + CHALLENGE_TTL,
            )
        })?;
        Ok(serde_json::json!({ "challenge": id, "options": challenge.options }))
    })
    .await
}

/// Checks the browser's attestation and stores the new passkey under its name.
pub async fn webauthn_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    act_json(req, state, body, |st, sess, form, now| {
        let webauthn = st
            .webauthn
            .as_ref()
            .ok_or_else(|| OidcError::invalid_request("WebAuthn is not available"))?;
        let stored = st
            .db
            .run(|c| {
                challenges::take(
                    c,
                    form.get("challenge").unwrap_or(""),
                    &sess.user_id,
                    WEBAUTHN_REGISTER,
                    now,
                )
            })?
            .ok_or_else(|| OidcError::invalid_request("the challenge has expired; try again"))?;
        let stored: serde_json::Value = serde_json::from_str(&stored).map_err(OidcError::server)?;
        let passkey = webauthn
            .finish_registration(
                stored["state"].as_str().unwrap_or(""),
                form.get("credential").unwrap_or(""),
            )
            .map_err(|_| {
                OidcError::invalid_request("the security key or passkey could not be registered")
            })?;
        let data = serde_json::to_vec(&passkey).map_err(OidcError::server)?;
        // The row id is the credential id, so one credential cannot be registered twice,
        // to this or to another account.
        let row = Credential {
            id: format!("wa:{}", authenticators::webauthn::credential_id(&passkey)),
            user_id: sess.user_id.clone(),
            kind: FactorKind::WebAuthn.name().into(),
            label: stored["name"].as_str().map(str::to_string),
            data,
            created_at: now,
            last_used_at: None,
            counter: None,
        };
        let inserted = st.db.run(|c| match users::insert_credential(c, &row) {
            Ok(()) => Ok(true),
            Err(crate::store::StoreError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ))) => Ok(false),
            Err(e) => Err(e),
        })?;
        if !inserted {
            return Err(OidcError::invalid_request(
                "this security key or passkey is registered already",
            ));
        }
        super::audit(
            st,
            "factor.enrolled",
            Some(&sess.user_id),
            None,
            serde_json::json!({ "factor": "webauthn", "name": row.label }),
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
    act(req, state, body, |st, sess, form, now| {
        let id = form.require("id")?.to_string();
        if !id.starts_with("wa:") {
            return Err(OidcError::invalid_request("not a security key"));
        }
        st.db
            .run(|c| users::delete_credential_of(c, &sess.user_id, &id))?;
        super::audit(
            st,
            "factor.removed",
            Some(&sess.user_id),
            None,
            serde_json::json!({ "factor": "webauthn" }),
            now,
        )?;
        Ok(Done::Back)
    })
    .await
}
