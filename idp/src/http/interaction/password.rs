//! Sign-in with a username and password: one argon2 check whatever the username, lockout
//! per account (or unknown username), a new session on success.

use super::*;

pub async fn login(
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
                let lang = Lang::choose(&loaded.req.ui_locales, accept.as_deref());
                let why = failed_attempt(st, &subject, other.as_ref(), f, lang, now)?;
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
                cookie.as_deref(),
                &user.id,
                f,
                &st.config.policy,
                &times(st),
                now,
            )
        })?;
        tracing::info!(outcome = "success", factor = "pwd", "login attempt");
        Ok((
            Shown::Next(format!("/interaction/{}", loaded.tx.id)),
            Some(cookie),
        ))
    })
    .await
}
