//! Step-up with codes: an authenticator app (TOTP), a code sent by SMS or e-mail, or a
//! recovery code.

use super::*;

/// Checks a TOTP code against the user's active authenticator; the time step is consumed
/// in the same statement that checks it was not used before.
pub(super) fn verify_totp(
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

pub(super) fn code_purpose(kind: FactorKind) -> String {
    format!("code-{}", kind.name())
}

/// Checks a code sent by SMS or e-mail against the latest one sent; a matching code is
/// deleted, so it works once.
pub(super) fn verify_sent_code(
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
pub(super) const CODES_PER_WINDOW: i32 = 3;

pub(super) const CODE_WINDOW: i64 = 600;

/// Sends a one-time code by SMS or e-mail for step-up, then asks for it.
pub async fn send_code(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    on_post(req, state, path, body, |st, p, now| {
        send_code_step(st, p, now).map(|shown| (shown, None))
    })
    .await
}

/// Sends the code and asks for it.
fn send_code_step(st: &AppState, p: Posted, now: i64) -> OidcResult<Shown> {
    let Posted {
        loaded,
        form,
        cookie,
        accept,
        ..
    } = p;
    let sess = live_session(st, cookie.as_deref(), now)?;
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
    let to = to
        .ok_or_else(|| OidcError::invalid_request("the account has no address for this channel"))?;
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
    crate::http::audit(
        st,
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
}

/// Checks a recovery code; the used code's row is deleted by the same check.
pub(super) fn verify_recovery(
    c: &mut AnyConnection,
    user_id: &str,
    code: &str,
    now: i64,
) -> OidcResult<bool> {
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
    on_post(req, state, path, body, move |st, p, now| {
        let Posted {
            loaded,
            form,
            cookie,
            ip,
            accept,
            ..
        } = p;

        crate::http::throttle(st, ip, now)?;
        let sess = live_session(st, cookie.as_deref(), now)?;
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
                FactorKind::Totp => verify_totp(st, c, &user_id, code, now),
                FactorKind::SmsCode | FactorKind::EmailCode => {
                    verify_sent_code(c, &user_id, kind, code, now)
                }
                _ => verify_recovery(c, &user_id, code, now),
            };
            Ok(r)
        })??;
        if !ok {
            let user = st.db.run(|c| users::find(c, &user_id))?;
            let lang = Lang::choose(&loaded.req.ui_locales, accept.as_deref());
            let why = failed_attempt(st, &user_id, user.as_ref(), kind, lang, now)?;
            return Ok((
                Shown::FactorRefused(Box::new(loaded), offered, kind, why),
                None,
            ));
        }
        let (new_cookie, _) = st.db.tx(|c| {
            lockout::record_success(c, &user_id, kind, now)?;
            transactions::set_user(c, &loaded.tx.id, &user_id)?;
            session::step_up(c, &sess, kind, &st.config.policy, &times(st), now)
        })?;
        tracing::info!(outcome = "success", factor = kind.name(), "step-up attempt");
        Ok((
            Shown::Next(format!("/interaction/{}", loaded.tx.id)),
            Some(new_cookie),
        ))
    })
    .await
}
