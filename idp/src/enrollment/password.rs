//! Changing the password. Like every change of a factor it needs a fresh step-up to the
//! citizen's strongest level (checked by the caller with `login::flow::change_allowed`).
//! The new password must pass the password policy; it replaces the old hash, every other
//! session of the account ends (with what was issued in it), the change is audited in the
//! same transaction, and the citizen is told.

use super::{Change, audit, notify};
use crate::i18n::Lang;
use crate::oidc::error::{OidcError, OidcResult};
use crate::policy::password::{self, Weakness};
use crate::service::Service;
use crate::store::sessions::{self, BrowserSession};
use crate::store::{AnyConnection, StoreResult, users};

/// Why a new password was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Weak(Weakness),
    /// The confirmation differs.
    Mismatch,
}

/// Sets a new password for the session's citizen; the other sessions end.
pub fn change(
    svc: &Service,
    session: &BrowserSession,
    new: &str,
    confirm: &str,
    lang: Lang,
    now: i64,
) -> OidcResult<Result<(), Refused>> {
    let keep = Some(session.id.as_str());
    let set = set(svc, &session.user_id, keep, new, confirm, lang, now, |_| {
        Ok(true)
    })?;
    Ok(set.map(|_| ()))
}

/// Sets a new password for a citizen who forgot theirs and was proved by another factor
/// (`login::flow`'s recovery, which is that step-up); every session of the account ends.
/// `claim` takes the permission to do it, once, in the same transaction (false: it was
/// used already). Returns the username to sign in with.
pub fn reset(
    svc: &Service,
    user_id: &str,
    new: &str,
    confirm: &str,
    lang: Lang,
    now: i64,
    claim: impl FnOnce(&mut AnyConnection) -> StoreResult<bool>,
) -> OidcResult<Result<String, Refused>> {
    set(svc, user_id, None, new, confirm, lang, now, claim)
}

/// Replaces the password hash, clears the failures counted against the old one, ends the
/// account's sessions but `keep` with what was issued in them, audits the change in the
/// same transaction and tells the citizen.
#[allow(clippy::too_many_arguments)]
fn set(
    svc: &Service,
    user_id: &str,
    keep: Option<&str>,
    new: &str,
    confirm: &str,
    lang: Lang,
    now: i64,
    claim: impl FnOnce(&mut AnyConnection) -> StoreResult<bool>,
) -> OidcResult<Result<String, Refused>> {
    let user = svc
        .db
        .run(|c| users::find(c, user_id))?
        .ok_or_else(|| OidcError::invalid_request("the account no longer exists"))?;
    let personal = [
        user.username.as_str(),
        user.name.as_deref().unwrap_or(""),
        user.email.as_deref().unwrap_or(""),
    ];
    if let Err(w) = password::check(new, &personal) {
        return Ok(Err(Refused::Weak(w)));
    }
    if new != confirm {
        return Ok(Err(Refused::Mismatch));
    }
    // Hashing takes a while: before the transaction, so that it holds no lock meanwhile.
    let hash = authenticators::password::hash(new).map_err(OidcError::server)?;
    svc.db.try_tx(|c| {
        if !claim(c)? {
            return Err(
                OidcError::invalid_request("the new password was set already")
                    .told_as(crate::oidc::error::Situation::FormExpired),
            );
        }
        match users::credential(c, user_id, users::PASSWORD)? {
            Some(cred) => users::set_data(c, &cred.id, hash.as_bytes(), now)?,
            None => users::insert_credential(
                c,
                &users::Credential {
                    id: crate::crypto::random_id(),
                    user_id: user_id.to_string(),
                    kind: users::PASSWORD,
                    label: None,
                    data: hash.into_bytes(),
                    created_at: now,
                    last_used_at: None,
                    counter: None,
                },
            )?,
        }
        // Failures counted against the old password do not hold the new one back.
        crate::login::lockout::clear(c, user_id, authenticators::FactorKind::Password, now)?;
        // No session id is empty: without one to keep, every session ends.
        for sid in sessions::delete_others(c, user_id, keep.unwrap_or(""))? {
            crate::oidc::backchannel::session_ended(c, &sid, now)?;
        }
        Ok(audit(c, user_id, Change::Password, None, now)?)
    })?;
    notify(svc, user_id, Change::Password, lang)?;
    Ok(Ok(user.username))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::factors::password as login_password;

    const T0: i64 = 1_800_000_000;

    fn session_of(svc: &Service, id: &str) -> BrowserSession {
        let s = BrowserSession {
            id: id.into(),
            sid: format!("sid-{id}"),
            user_id: "u-anna".into(),
            acr: crate::policy::Level::Low.acr().into(),
            amr: "[\"pwd\"]".into(),
            auth_time: T0,
            created_at: T0,
            last_seen: T0,
            idle_expires_at: T0 + 900,
            expires_at: T0 + 3600,
            factors: "[\"password\"]".into(),
            device: None,
        };
        svc.db.run(|c| sessions::insert(c, &s)).unwrap();
        s
    }

    fn password_works(svc: &Service, password: &str) -> bool {
        let attempt = login_password::prepare(svc, "anna", password, T0).unwrap();
        svc.db.tx(|c| attempt.verify(c, T0)).unwrap().is_some()
    }

    #[test]
    fn a_strong_password_replaces_the_old_one_and_ends_other_sessions() {
        let (_dir, svc) = crate::service::for_tests();
        let here = session_of(&svc, "here");
        session_of(&svc, "elsewhere");
        let new = "tulip lantern orbit seven";
        assert_eq!(change(&svc, &here, new, new, Lang::En, T0).unwrap(), Ok(()));
        assert!(password_works(&svc, new));
        assert!(!password_works(&svc, "correct horse"));
        let left = svc.db.run(|c| sessions::of_user(c, "u-anna", T0)).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].id, "here");
        let events = svc
            .db
            .run(|c| crate::audit::of_user(c, "u-anna", 1))
            .unwrap();
        assert_eq!(events[0].kind(), Some(crate::audit::Kind::PasswordChanged));
        let mail = svc.outbox_for_tests();
        assert!(
            mail.iter()
                .any(|m| m.body.contains("your password was changed")),
            "{mail:?}"
        );
    }

    #[test]
    fn weak_or_mistyped_passwords_change_nothing() {
        let (_dir, svc) = crate::service::for_tests();
        let here = session_of(&svc, "here");
        let weak = [
            ("abc", Refused::Weak(Weakness::TooShort)),
            ("password1", Refused::Weak(Weakness::Guessable)),
            ("anna2026!", Refused::Weak(Weakness::Guessable)),
        ];
        for (p, why) in weak {
            assert_eq!(change(&svc, &here, p, p, Lang::En, T0).unwrap(), Err(why));
        }
        let new = "tulip lantern orbit seven";
        assert_eq!(
            change(&svc, &here, new, "tulip lantern orbit", Lang::En, T0).unwrap(),
            Err(Refused::Mismatch)
        );
        assert!(password_works(&svc, "correct horse"));
        let events = svc
            .db
            .run(|c| crate::audit::of_user(c, "u-anna", 10))
            .unwrap();
        assert!(events.is_empty(), "{events:?}");
    }
}
