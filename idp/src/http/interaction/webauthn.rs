//! Step-up with a passkey or security key: the WebAuthn assertion ceremony, answered in
//! JSON to the page's script.

use super::*;

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

pub(super) const WEBAUTHN_LOGIN: &str = "webauthn-login";

/// How long a browser has to answer a WebAuthn challenge.
pub const CHALLENGE_TTL: i64 = 300;

pub(super) fn json_answer(status: u16, body: serde_json::Value) -> HttpResponse {
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
    let ip = crate::http::client_ip(&state, &req);
    let st = state.clone().into_inner();
    let now = state.clock.now();
    let result = blocking(move || {
        let loaded = load(&st, &tx_id, browser.as_deref(), now)?;
        check_csrf(&loaded, form.get("csrf"))?;
        crate::http::throttle(&st, ip, now)?;
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
                let user = st.db.run(|c| users::find(c, &user_id))?;
                let lang = Lang::choose(&loaded.req.ui_locales, accept.as_deref());
                failed_attempt(&st, &user_id, user.as_ref(), kind, lang, now)?;
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
