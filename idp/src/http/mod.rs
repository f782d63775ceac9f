//! The HTTP face of the provider (actix-web): the only module that knows about requests,
//! cookies and status codes. Handlers parse, call `oidc`/`login`/`store` on a blocking
//! thread, and render the outcome.

mod account;
pub mod admin_api;
mod admin_ui;
mod authorize;
mod discovery;
mod interaction;
mod logout;
mod pages;
mod registration;
mod theme;
mod timeout;
pub(crate) mod tls;
mod token;
mod userinfo;

use crate::oidc::error::{ErrorCode, OidcError};
use crate::oidc::params::Params;
use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Largest request body accepted by any endpoint but the face capture's.
const MAX_BODY: usize = 64 * 1024;
/// A face capture: 45 frames of 640x480 JPEG (up to about 150 KB each), as base64 in JSON.
pub(crate) const MAX_CAPTURE: usize = 9 * 1024 * 1024;
/// A voice recording: a WAV file in base64, with the form around it.
pub(crate) const MAX_RECORDING: usize = crate::biometrics::MAX_RECORDING_BYTES * 4 / 3 + 4096;

pub use crate::service::Service as AppState;

impl AppState {
    fn cookie_name(&self, base: &str) -> String {
        if self.config.secure_cookies() {
            format!("__Host-{base}")
        } else {
            base.to_string()
        }
    }

    fn cookie<'c>(&self, base: &str, value: String, max_age: Option<i64>) -> Cookie<'c> {
        let mut c = Cookie::build(self.cookie_name(base), value)
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.config.secure_cookies())
            .finish();
        if let Some(age) = max_age {
            c.set_max_age(actix_web::cookie::time::Duration::seconds(age));
        }
        c
    }

    fn read_cookie(&self, req: &HttpRequest, base: &str) -> Option<String> {
        req.cookie(&self.cookie_name(base))
            .map(|c| c.value().to_string())
    }
}

/// In development mode, a page standing for a relying party's callback.
pub const DEV_CALLBACK_PATH: &str = "/dev/callback";

pub const SESSION_COOKIE: &str = "idp_session";
pub const BROWSER_COOKIE: &str = "idp_browser";
/// The language the citizen chose with the pages' language switcher.
pub const LANG_COOKIE: &str = "idp_lang";

/// The id of the request being answered (also sent as `X-Request-Id`).
#[derive(Clone)]
pub struct RequestId(pub String);

impl RequestId {
    /// A random prefix drawn once per process and a count: unique across instances for
    /// following a request through the logs, without a call to the system's random
    /// generator per request (an id is not a secret).
    fn next() -> String {
        static PREFIX: std::sync::LazyLock<u32> =
            std::sync::LazyLock::new(|| u32::from_be_bytes(crate::crypto::random_bytes()));
        static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{:08x}{n:08x}", *PREFIX)
    }
}

/// Starts the server on an already bound listener (tests bind port 0), with TLS when
/// configured.
pub fn start(state: Arc<AppState>, listener: TcpListener) -> std::io::Result<Server> {
    let data = web::Data::from(state.clone());
    let workers = state.config.workers;
    // The `[mtls]` listener: the endpoints' aliases for clients with certificates.
    let alias = match &state.config.mtls {
        Some(m) => match (m.listen, m.server_tls(state.config.tls.as_ref())) {
            (Some(addr), Some(tls)) => Some((TcpListener::bind(addr)?, tls::alias_config(&tls)?)),
            _ => None,
        },
        None => None,
    };
    let alias_addr = match &alias {
        Some((l, _)) => Some(l.local_addr()?),
        None => None,
    };
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .wrap(from_fn(request_context))
            .configure(routes)
    })
    .on_connect(move |conn, ext| {
        use actix_tls::accept::rustls_0_23::TlsStream;
        let Some(tls) = conn.downcast_ref::<TlsStream<actix_web::rt::net::TcpStream>>() else {
            return;
        };
        let (tcp, session) = tls.get_ref();
        ext.insert(tls::TlsConnection);
        if let Some(certs) = session.peer_certificates() {
            ext.insert(tls::PeerCertificates(
                certs.iter().map(|c| c.to_vec()).collect(),
            ));
        }
        // The alias listener's address (its IP may be unspecified: any of the host's).
        if let (Some(alias), Ok(local)) = (alias_addr, tcp.local_addr())
            && local.port() == alias.port()
            && (alias.ip().is_unspecified() || alias.ip() == local.ip())
        {
            ext.insert(tls::AliasListener);
        }
    })
    // The head must arrive within a deadline (408 otherwise); the body has its own in
    // `request_context`. A client that does not close after the answer is dropped.
    .client_request_timeout(timeout::HEAD_TIMEOUT)
    .client_disconnect_timeout(Duration::from_secs(2));
    let mut server = match &state.config.tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls::main_config(&state, tls)?)?,
        None => server.listen(listener)?,
    };
    if let Some((l, config)) = alias {
        server = server.listen_rustls_0_23(l, config)?;
    }
    let mut server = server.shutdown_timeout(10);
    if let Some(w) = workers {
        server = server.workers(w.max(1));
    }
    let server = server.run();
    spawn_every_second(state.clone());
    spawn_logout_deliveries(state.clone());
    spawn_housekeeping(state);
    Ok(server)
}

fn routes(cfg: &mut web::ServiceConfig) {
    use crate::oidc::{
        AUTHORIZE_PATH, INTROSPECT_PATH, JWKS_PATH, LOGOUT_PATH, PAR_PATH, REVOKE_PATH, TOKEN_PATH,
        USERINFO_PATH, registration::REGISTRATION_PATH,
    };
    use web::{get, post};
    // Protocol endpoints and documents.
    cfg.route(
        "/.well-known/openid-configuration",
        get().to(discovery::openid_configuration),
    )
    .route(JWKS_PATH, get().to(discovery::jwks))
    .route("/.well-known/webfinger", get().to(discovery::webfinger))
    .route("/audit/keys", get().to(discovery::audit_keys))
    .route("/audit/checkpoint", get().to(discovery::audit_checkpoint))
    .route(AUTHORIZE_PATH, get().to(authorize::get))
    .route(AUTHORIZE_PATH, post().to(authorize::post))
    .route(TOKEN_PATH, post().to(token::token))
    .route(INTROSPECT_PATH, post().to(token::introspect))
    .route(REVOKE_PATH, post().to(token::revoke))
    .route(PAR_PATH, post().to(token::par))
    .route(REGISTRATION_PATH, post().to(registration::register))
    .route(
        &format!("{REGISTRATION_PATH}/{{id}}"),
        get().to(registration::read),
    )
    .route(
        &format!("{REGISTRATION_PATH}/{{id}}"),
        web::put().to(registration::replace),
    )
    .route(
        &format!("{REGISTRATION_PATH}/{{id}}"),
        web::delete().to(registration::remove),
    )
    .route(USERINFO_PATH, get().to(userinfo::get))
    .route(USERINFO_PATH, post().to(userinfo::post))
    .route(LOGOUT_PATH, get().to(logout::get))
    .route(LOGOUT_PATH, post().to(logout::post))
    .route("/logout/confirm", post().to(logout::confirm));
    // Another method at a protocol endpoint: 405 with the methods it takes (RFC 9110 15.5.6).
    for (path, allow) in [
        (AUTHORIZE_PATH, "GET, POST"),
        (TOKEN_PATH, "POST"),
        (INTROSPECT_PATH, "POST"),
        (REVOKE_PATH, "POST"),
        (PAR_PATH, "POST"),
        (USERINFO_PATH, "GET, POST"),
        (LOGOUT_PATH, "GET, POST"),
        (REGISTRATION_PATH, "POST"),
    ] {
        cfg.route(
            path,
            web::route().to(move || async move {
                HttpResponse::MethodNotAllowed()
                    .insert_header((header::ALLOW, allow))
                    .finish()
            }),
        );
    }
    // The login transaction's pages.
    cfg.route("/interaction/{tx}", get().to(interaction::show))
        .route("/interaction/{tx}/login", post().to(interaction::login))
        .route("/interaction/{tx}/factor", post().to(interaction::factor))
        .route("/interaction/{tx}/forgot", post().to(interaction::forgot))
        .route("/interaction/{tx}/cancel", post().to(interaction::cancel))
        .route(
            "/interaction/{tx}/password",
            post().to(interaction::new_password),
        )
        .route("/interaction/{tx}/code", post().to(interaction::send_code))
        .route(
            "/interaction/{tx}/certificate",
            post().to(interaction::certificate),
        )
        .route(
            "/interaction/{tx}/webauthn/begin",
            post().to(interaction::webauthn_begin),
        )
        .route(
            "/interaction/{tx}/webauthn/finish",
            post().to(interaction::webauthn_finish),
        )
        .route(
            "/interaction/{tx}/passkey/begin",
            post().to(interaction::passkey_begin),
        )
        .route(
            "/interaction/{tx}/passkey/finish",
            post().to(interaction::passkey_finish),
        )
        .route(
            "/interaction/{tx}/face/begin",
            post().to(interaction::face_begin),
        )
        .service(
            web::resource("/interaction/{tx}/face/finish")
                .app_data(web::PayloadConfig::new(MAX_CAPTURE))
                .route(post().to(interaction::face_finish)),
        )
        .route(
            "/interaction/{tx}/voice/begin",
            post().to(interaction::voice_begin),
        )
        .service(
            web::resource("/interaction/{tx}/voice/finish")
                .app_data(web::PayloadConfig::new(MAX_RECORDING))
                .route(post().to(interaction::voice_finish)),
        )
        .route("/interaction/{tx}/consent", post().to(interaction::consent))
        .route("/interaction/{tx}/select", post().to(interaction::select));
    // The citizen's account.
    cfg.route("/account", get().to(account::show))
        .route("/account/totp", get().to(account::totp_page))
        .route("/account/totp/start", post().to(account::totp_start))
        .route("/account/totp/confirm", post().to(account::totp_confirm))
        .route("/account/totp/remove", post().to(account::totp_remove))
        .route("/account/recovery", post().to(account::recovery_codes))
        .route("/account/face", get().to(account::face_page))
        .route("/account/face/agree", post().to(account::face_agree))
        .route("/account/face/begin", post().to(account::face_begin))
        .service(
            web::resource("/account/face/finish")
                .app_data(web::PayloadConfig::new(MAX_CAPTURE))
                .route(post().to(account::face_finish)),
        )
        .route("/account/face/remove", post().to(account::face_remove))
        .route("/account/data", get().to(account::data_page))
        .route("/account/data/export", get().to(account::data_export))
        .route("/account/close", post().to(account::close_account))
        .route("/account/voice", get().to(account::voice_page))
        .route("/account/voice/agree", post().to(account::voice_agree))
        .route("/account/voice/begin", post().to(account::voice_begin))
        .service(
            web::resource("/account/voice/finish")
                .app_data(web::PayloadConfig::new(MAX_RECORDING))
                .route(post().to(account::voice_finish)),
        )
        .route("/account/voice/remove", post().to(account::voice_remove))
        .service(
            web::resource("/account/face/document")
                .app_data(web::PayloadConfig::new(account::MAX_DOCUMENT))
                .route(post().to(account::face_document)),
        )
        .route(
            "/account/face/register/begin",
            post().to(account::face_register_begin),
        )
        .service(
            web::resource("/account/face/register/finish")
                .app_data(web::PayloadConfig::new(MAX_CAPTURE))
                .route(post().to(account::face_register_finish)),
        )
        .route(
            "/account/face/register/cancel",
            post().to(account::face_register_cancel),
        )
        .route("/account/contact", get().to(account::contact_page))
        .route("/account/contact", post().to(account::contact_start))
        .route(
            "/account/contact/confirm",
            post().to(account::contact_confirm),
        )
        .route("/account/password", get().to(account::password_page))
        .route("/account/password", post().to(account::password_change))
        .route(
            "/account/webauthn/begin",
            post().to(account::webauthn_begin),
        )
        .route(
            "/account/webauthn/finish",
            post().to(account::webauthn_finish),
        )
        .route(
            "/account/webauthn/remove",
            post().to(account::webauthn_remove),
        )
        .route("/account/confirm", get().to(account::confirm_page))
        .route("/account/sessions/end", post().to(account::end_session))
        .route(
            "/account/consents/revoke",
            post().to(account::withdraw_consent),
        );
    admin_api::routes(cfg);
    admin_ui::routes(cfg);
    // Operations and static files.
    cfg.route("/health/live", get().to(discovery::live))
        .route("/health/ready", get().to(discovery::ready))
        .route("/metrics", get().to(discovery::metrics))
        .route("/static/idp.css", get().to(discovery::stylesheet))
        .route("/static/theme.css", get().to(theme::stylesheet))
        .route("/static/logo", get().to(theme::logo))
        .route("/clients/{id}/logo", get().to(theme::client_logo))
        .route("/static/account.js", get().to(discovery::account_script))
        .route("/language", get().to(theme::switch))
        .route(DEV_CALLBACK_PATH, get().to(dev_callback))
        .route(
            "/static/dev-callback.js",
            get().to(discovery::dev_callback_script),
        )
        .route("/static/webauthn.js", get().to(discovery::webauthn_script))
        .route(
            "/static/local-time.js",
            get().to(discovery::local_time_script),
        )
        .route(
            "/static/form-post.js",
            get().to(discovery::form_post_script),
        )
        .route("/static/logout.js", get().to(discovery::logout_script))
        .route("/static/face.js", get().to(discovery::face_script))
        .route("/static/voice.js", get().to(discovery::voice_script))
        .route("/_test/clock", post().to(test_clock))
        .default_service(web::to(not_found));
}

/// Moves the server's clock forward (`?advance=SECONDS`), so that browser tests can
/// expire sessions and codes without sleeping. Exists only in development mode with
/// `IDP_TEST_CLOCK=1` in the environment; otherwise it is an unknown page.
async fn test_clock(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let enabled = state.config.dev && std::env::var("IDP_TEST_CLOCK").as_deref() == Ok("1");
    let seconds = Params::parse(req.query_string().as_bytes())
        .ok()
        .and_then(|p| p.get("advance").and_then(|v| v.parse::<i64>().ok()));
    match (enabled, seconds) {
        (false, _) => not_found(req).await,
        (true, Some(s)) if (0..=366 * 86400).contains(&s) => {
            state.clock.advance(s);
            HttpResponse::Ok().json(serde_json::json!({ "now": state.clock.now() }))
        }
        (true, _) => json_error(&OidcError::invalid_request(
            "advance must be 0 to 31622400 seconds",
        )),
    }
}

/// The development callback page, which shows the authorization response and exchanges
/// the code from the browser; only in development mode.
async fn dev_callback(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if !state.config.dev {
        return not_found(req).await;
    }
    let t = pages::chrome(&req, pages::lang(&req, &[]));
    pages::html(
        200,
        askama::Template::render(&pages::DevCallbackPage { t: &t }),
    )
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    pages::error_page(
        &req,
        &[],
        404,
        &OidcError::invalid_request("there is no such page")
            .told_as(crate::oidc::error::Situation::NotFound),
    )
}

/// Runs `work` on a blocking thread every `period` (the first time one period after
/// start) for as long as the service lives and is not stopping.
fn spawn_every(state: Arc<AppState>, period: Duration, work: fn(&AppState)) {
    let weak = Arc::downgrade(&state);
    drop(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(state) = weak.upgrade() else { break };
            if state.stopping() {
                break;
            }
            let _ = tokio::task::spawn_blocking(move || work(&state)).await;
        }
    });
}

/// Every second: pick up a policy changed through another instance, signing keys rotated
/// or retired elsewhere, and the JWT access tokens revoked through any instance; give the
/// audit events appended since their place in the hash chain, and sign a checkpoint of it
/// when the last is older than the configured interval. Every instance runs one; they take
/// turns on the chain's head.
fn spawn_every_second(state: Arc<AppState>) {
    spawn_every(state, Duration::from_secs(1), |state| {
        // Outside the rounds of background work, which a long purge can hold up: clients
        // changed elsewhere are followed every second whatever else is running.
        if !state.stopping()
            && let Err(e) = state.db.follow_clients()
        {
            tracing::warn!(error = %e, "following changes to clients failed");
        }
        state.in_background(|| {
            if let Err(e) = state.reload_rules() {
                tracing::warn!(error = %e, "reloading the policy failed");
            }
            if let Err(e) = state.follow_keys() {
                tracing::warn!(error = %e, "reloading signing keys failed");
            }
            let now = state.clock.now();
            if let Err(e) = state.denials.sync(&state.db, now) {
                tracing::warn!(error = %e, "reading revoked JWT access tokens failed");
            }
            let every = state.config.audit_checkpoint_seconds;
            let issuer = &state.config.issuer;
            let sealed = crate::audit::seal_pending(&state.db, &state.kek, issuer, every, now);
            if let Err(e) = sealed {
                tracing::warn!(error = %e, "sealing audit events failed");
            }
        })
    });
}

/// Every second: deliver the back-channel logout notices that are due, in a loop of its
/// own so that a slow service delays nothing else. Not a round of `in_background`:
/// stopping need not wait for a slow service (a notice claimed and not finished is tried
/// again by any instance).
fn spawn_logout_deliveries(state: Arc<AppState>) {
    spawn_every(state, Duration::from_secs(1), |state| {
        let now = state.clock.now();
        if let Err(e) = crate::oidc::backchannel::deliver_due(state, now) {
            tracing::warn!(error = %e, "delivering back-channel logout notices failed");
        }
    });
}

/// Every minute: pick up key changes made elsewhere and purge expired rows.
fn spawn_housekeeping(state: Arc<AppState>) {
    spawn_every(state, Duration::from_secs(60), |state| {
        state.in_background(|| {
            if let Err(e) = state.reload_keys() {
                tracing::warn!(error = %e, "reloading signing keys failed");
            }
            match state.purge_expired() {
                Ok(n) if n > 0 => tracing::debug!(rows = n, "purged expired rows"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purging expired rows failed"),
            }
        })
    });
}

/// A request id and a span per request, security headers on every response (HSTS when
/// the issuer is https, also when TLS ends at a proxy in front of us). Only the
/// path is logged: query strings can carry tokens (`id_token_hint`).
async fn request_context(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let id = RequestId::next();
    let span = tracing::info_span!("request", id = %id, method = %req.method(), path = %req.path());
    actix_web::HttpMessage::extensions_mut(&req).insert(RequestId(id.clone()));
    let started = std::time::Instant::now();
    // Browsers only honour HSTS over https, and an http issuer (development) must not
    // pin a host to https.
    let https = req
        .app_data::<web::Data<AppState>>()
        .is_some_and(|st| st.config.issuer.starts_with("https://"));
    // Only requests that announce a body get the deadline (and its timer).
    let has_body = req.headers().contains_key(header::CONTENT_LENGTH)
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    let body_expired = if has_body {
        let (payload, expired) = timeout::limit(actix_web::HttpMessage::take_payload(&mut req));
        req.set_payload(payload);
        Some(expired)
    } else {
        None
    };
    // Handlers' and extractors' errors are already responses here (actix turns them into
    // responses at the route), so every answer passes below and gets the headers.
    let method = req.method().to_string();
    let mut res = next
        .call(req)
        .instrument(span.clone())
        .await?
        .map_into_boxed_body();
    if body_expired.is_some_and(|e| e.load(std::sync::atomic::Ordering::Relaxed)) {
        let e = OidcError::invalid_request("the request body was not received in time");
        let answer = HttpResponse::RequestTimeout()
            .force_close()
            .json(serde_json::json!({
                "error": e.code.as_str(),
                "error_description": e.description,
            }));
        let (request, _) = res.into_parts();
        res = ServiceResponse::new(request, answer);
    }
    let h = res.headers_mut();
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert(header::HeaderName::from_static("x-request-id"), v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let status = res.status().as_u16();
    let route = res.request().match_pattern();
    crate::metrics::get().request(
        &method,
        route.as_deref().unwrap_or("unmatched"),
        status,
        started.elapsed().as_secs_f64(),
    );
    span.in_scope(|| {
        tracing::info!(
            status,
            ms = started.elapsed().as_millis() as u64,
            "request done"
        )
    });
    Ok(res)
}

/// Runs blocking work (database, password hashing) off the async executor.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, OidcError> + Send + 'static,
) -> Result<T, OidcError> {
    web::block(f).await.map_err(|_| {
        OidcError::new(
            ErrorCode::TemporarilyUnavailable,
            "the server is too busy, try again",
        )
    })?
}

/// `blocking` for work that returns with its answer what the answer must wait for
/// (`grants::token_deferred`): the blocking thread is free as soon as the work is done, and
/// the answer waits here, without holding a thread, until what it wrote is on disk.
async fn blocking_deferred<T: Send + 'static>(
    f: impl FnOnce() -> (Result<T, OidcError>, crate::store::Durability) + Send + 'static,
) -> Result<T, OidcError> {
    let (result, durability) = blocking(move || Ok(f())).await?;
    // A failed commit comes first: what the answer would tell of did not stay.
    durability.wait().await?;
    result
}

/// Parses a form body, insisting on the form content type.
fn form_params(req: &HttpRequest, body: &[u8]) -> Result<Params, OidcError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OidcError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    Params::parse(body)
}

fn query_params(req: &HttpRequest) -> Result<Params, OidcError> {
    Params::parse(req.query_string().as_bytes())
}

/// A protocol error as a JSON response (RFC 6749 5.2).
fn json_error(e: &OidcError) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(e.code.status())
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CACHE_CONTROL, "no-store"));
    if e.code == ErrorCode::InvalidClient {
        res.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"idp\""));
    }
    if let Some(seconds) = e.retry_after {
        res.insert_header((header::RETRY_AFTER, seconds.to_string()));
    }
    res.json(serde_json::json!({
        "error": e.code.as_str(),
        "error_description": e.description,
    }))
}

/// The client's address: the peer, or the last address a trusted reverse proxy added to
/// `X-Forwarded-For`.
fn client_ip(state: &AppState, req: &HttpRequest) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !state.config.trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|v| v.trim().parse().ok());
    Some(forwarded.unwrap_or(peer))
}

/// A CSRF token for forms of a signed-in citizen: bound to the session cookie (which
/// scripts cannot read) and to the form's purpose.
fn session_csrf(purpose: &str, session_cookie: &str) -> String {
    crate::crypto::secret_hash(&format!("{purpose}\n{session_cookie}"))
}

fn no_store_json(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .content_type("application/json")
        .body(body)
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}
