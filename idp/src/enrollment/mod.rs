//! Adding and removing a citizen's factors: authenticator apps, recovery codes, passkeys,
//! and changing the password (`password`).
//! Every change needs a fresh step-up to the strongest level the citizen's factors reach
//! (`login::flow::change_allowed`, checked by the caller before it calls in here), is
//! audited in the transaction that makes it, and is told to the citizen.

use crate::crypto;
use crate::i18n::Lang;
use crate::login::factors::codes::totp_context;
use crate::login::factors::webauthn::{CHALLENGE_TTL, passkeys};
use crate::oidc::error::{OidcError, OidcResult};
use crate::service::Service;
use crate::store::users::{self, Credential, CredentialKind, User};
use crate::store::{AnyConnection, StoreError, StoreResult, challenges};
use authenticators::totp::{self, Totp, TotpCredential};
use authenticators::{Factor, FactorKind, recovery};
use diesel::Connection;
use serde_json::json;

pub mod biometric;
pub mod contact;
pub mod password;
pub mod registration;
pub mod voice;

const WEBAUTHN_REGISTER: &str = "webauthn-register";

/// A change of the citizen's factors, for the audit log and the notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    TotpAdded,
    TotpRemoved,
    RecoveryCodes,
    PasskeyAdded,
    PasskeyRemoved,
    Password,
    FaceAdded,
    FaceRemoved,
    VoiceAdded,
    VoiceRemoved,
}

impl Change {
    fn factor(self) -> FactorKind {
        match self {
            Change::TotpAdded | Change::TotpRemoved => FactorKind::Totp,
            Change::RecoveryCodes => FactorKind::RecoveryCode,
            Change::PasskeyAdded | Change::PasskeyRemoved => FactorKind::WebAuthn,
            Change::Password => FactorKind::Password,
            Change::FaceAdded | Change::FaceRemoved => FactorKind::Face,
            Change::VoiceAdded | Change::VoiceRemoved => FactorKind::Voice,
        }
    }

    fn audit_kind(self) -> crate::audit::Kind {
        match self {
            Change::TotpRemoved
            | Change::PasskeyRemoved
            | Change::FaceRemoved
            | Change::VoiceRemoved => crate::audit::Kind::FactorRemoved,
            Change::Password => crate::audit::Kind::PasswordChanged,
            _ => crate::audit::Kind::FactorEnrolled,
        }
    }
}

/// Records the change in the audit log, in the caller's transaction.
fn audit(
    conn: &mut AnyConnection,
    user_id: &str,
    change: Change,
    extra: Option<&str>,
    now: i64,
) -> StoreResult<()> {
    let mut detail = json!({ "factor": change.factor().name() });
    if let Some(name) = extra {
        detail["name"] = name.into();
    }
    let entry = crate::audit::Entry {
        kind: change.audit_kind(),
        user_id: Some(user_id),
        client_id: None,
        detail,
    };
    crate::audit::append(conn, entry, now)?;
    Ok(())
}

/// Tells the citizen what changed, in their language.
fn notify(svc: &Service, user_id: &str, change: Change, lang: Lang) -> OidcResult<()> {
    let Some(user) = svc.db.run(|c| users::find(c, user_id))? else {
        return Ok(());
    };
    let t = lang.texts();
    let what = match change {
        Change::TotpAdded => t.change_totp_added,
        Change::TotpRemoved => t.change_totp_removed,
        Change::RecoveryCodes => t.change_recovery,
        Change::PasskeyAdded => t.change_passkey_added,
        Change::PasskeyRemoved => t.change_passkey_removed,
        Change::Password => t.change_password,
        Change::FaceAdded => t.change_face_added,
        Change::FaceRemoved => t.change_face_removed,
        Change::VoiceAdded => t.change_voice_added,
        Change::VoiceRemoved => t.change_voice_removed,
    };
    let body = t.changed_body.replace("{change}", what);
    crate::notify::tell(svc, &user, t.changed_subject, &body);
    Ok(())
}

/// Starts setting up an authenticator app: a new secret, pending until confirmed.
pub fn totp_start(svc: &Service, user_id: &str, now: i64) -> OidcResult<()> {
    svc.db.tx(|c| {
        users::delete_credentials(c, user_id, CredentialKind::TotpPending)?;
        let key = crate::keys::user_key::get_or_create(c, &svc.kek, user_id, now)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let id = crypto::random_id();
        let secret = crypto::random_bytes::<{ totp::SECRET_BYTES }>();
        users::insert_credential(
            c,
            &Credential {
                data: key
                    .seal(&secret, &totp_context(&id))
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                id,
                user_id: user_id.to_string(),
                kind: CredentialKind::TotpPending,
                label: None,
                created_at: now,
                last_used_at: None,
                counter: None,
            },
        )
    })?;
    Ok(())
}

/// The signed-in citizen's account, for the pages that change their factors.
pub fn account(svc: &Service, user_id: &str) -> OidcResult<Option<users::User>> {
    Ok(svc.db.run(|c| users::find(c, user_id))?)
}

/// The pending authenticator's secret, decrypted.
pub fn totp_pending(svc: &Service, user_id: &str) -> OidcResult<Option<(Credential, Vec<u8>)>> {
    svc.db.run(|c| {
        let Some(cred) = users::credential(c, user_id, CredentialKind::TotpPending)? else {
            return Ok(Ok(None));
        };
        let key = match crate::keys::user_key::existing(c, &svc.kek, user_id) {
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

/// Activates the pending authenticator once a first code proves it works; it replaces any
/// earlier one. False when the code was wrong (or nothing was pending).
pub fn totp_confirm(
    svc: &Service,
    user_id: &str,
    code: &str,
    lang: Lang,
    now: i64,
) -> OidcResult<bool> {
    let Some((cred, secret)) = totp_pending(svc, user_id)? else {
        return Ok(false);
    };
    let first = TotpCredential {
        secret,
        last_step: None,
    };
    let Ok(v) = Totp.finish(&first, &(), code, now) else {
        return Ok(false);
    };
    let step = v.updated.and_then(|u| u.last_step).unwrap_or_default();
    svc.db.tx(|c| {
        users::delete_credentials(c, user_id, CredentialKind::Totp)?;
        users::set_kind(c, &cred.id, CredentialKind::Totp)?;
        users::advance_counter(c, &cred.id, step, now)?;
        audit(c, user_id, Change::TotpAdded, None, now)
    })?;
    notify(svc, user_id, Change::TotpAdded, lang)?;
    Ok(true)
}

pub fn totp_remove(svc: &Service, user_id: &str, lang: Lang, now: i64) -> OidcResult<()> {
    let removed = svc.db.tx(|c| {
        let n = users::delete_credentials(c, user_id, CredentialKind::Totp)?;
        if n > 0 {
            audit(c, user_id, Change::TotpRemoved, None, now)?;
        }
        Ok(n > 0)
    })?;
    if removed {
        notify(svc, user_id, Change::TotpRemoved, lang)?;
    }
    Ok(())
}

/// New recovery codes, to show once; the earlier ones stop working.
pub fn recovery_codes(
    svc: &Service,
    user_id: &str,
    lang: Lang,
    now: i64,
) -> OidcResult<Vec<String>> {
    let codes = recovery::generate(&crypto::random_bytes::<{ recovery::COUNT * 12 }>());
    svc.db.tx(|c| {
        users::delete_credentials(c, user_id, CredentialKind::RecoveryCode)?;
        for code in &codes {
            users::insert_credential(
                c,
                &Credential {
                    id: crypto::random_id(),
                    user_id: user_id.to_string(),
                    kind: CredentialKind::RecoveryCode,
                    label: None,
                    data: recovery::hash(user_id, code).into_bytes(),
                    created_at: now,
                    last_used_at: None,
                    counter: None,
                },
            )?;
        }
        audit(c, user_id, Change::RecoveryCodes, None, now)
    })?;
    notify(svc, user_id, Change::RecoveryCodes, lang)?;
    Ok(codes)
}

/// Starts registering a passkey: the options for `navigator.credentials.create`.
pub fn passkey_begin(
    svc: &Service,
    user: &User,
    name: &str,
    now: i64,
) -> OidcResult<serde_json::Value> {
    let webauthn = svc
        .webauthn
        .as_ref()
        .ok_or_else(|| OidcError::invalid_request("WebAuthn is not available"))?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(OidcError::invalid_request(
            "give the key a name of 1 to 64 characters",
        ));
    }
    let existing: Vec<_> = svc
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
    let stored = json!({ "state": challenge.state, "name": name }).to_string();
    svc.db.run(|c| {
        challenges::insert(
            c,
            &id,
            &user.id,
            WEBAUTHN_REGISTER,
            &stored,
            now + CHALLENGE_TTL,
        )
    })?;
    Ok(json!({ "challenge": id, "options": challenge.options }))
}

/// Checks the browser's attestation and stores the new passkey under its name.
pub fn passkey_finish(
    svc: &Service,
    user_id: &str,
    challenge: &str,
    credential: &str,
    lang: Lang,
    now: i64,
) -> OidcResult<()> {
    let webauthn = svc
        .webauthn
        .as_ref()
        .ok_or_else(|| OidcError::invalid_request("WebAuthn is not available"))?;
    let stored = svc
        .db
        .run(|c| challenges::take(c, challenge, user_id, WEBAUTHN_REGISTER, now))?
        .ok_or_else(|| OidcError::invalid_request("the challenge has expired; try again"))?;
    let stored: serde_json::Value = serde_json::from_str(&stored).map_err(OidcError::server)?;
    let passkey = webauthn
        .finish_registration(stored["state"].as_str().unwrap_or(""), credential)
        .map_err(|_| {
            OidcError::invalid_request("the security key or passkey could not be registered")
        })?;
    let data = serde_json::to_vec(&passkey).map_err(OidcError::server)?;
    // The row id is the credential id, so one credential cannot be registered twice, to
    // this or to another account.
    let row = Credential {
        id: format!("wa:{}", authenticators::webauthn::credential_id(&passkey)),
        user_id: user_id.to_string(),
        kind: CredentialKind::Passkey,
        label: stored["name"].as_str().map(str::to_string),
        data,
        created_at: now,
        last_used_at: None,
        counter: None,
    };
    let inserted = svc.db.tx(|c| {
        let inserted = c.transaction(|c| users::insert_credential(c, &row));
        match inserted {
            Ok(()) => {}
            Err(StoreError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ))) => return Ok(false),
            Err(e) => return Err(e),
        }
        audit(c, user_id, Change::PasskeyAdded, row.label.as_deref(), now)?;
        Ok(true)
    })?;
    if !inserted {
        return Err(OidcError::invalid_request(
            "this security key or passkey is registered already",
        ));
    }
    notify(svc, user_id, Change::PasskeyAdded, lang)
}

pub fn passkey_remove(
    svc: &Service,
    user_id: &str,
    id: &str,
    lang: Lang,
    now: i64,
) -> OidcResult<()> {
    if !id.starts_with("wa:") {
        return Err(OidcError::invalid_request("not a security key"));
    }
    let removed = svc.db.tx(|c| {
        let removed = users::delete_credential_of(c, user_id, id)?;
        if removed {
            audit(c, user_id, Change::PasskeyRemoved, None, now)?;
        }
        Ok(removed)
    })?;
    if removed {
        notify(svc, user_id, Change::PasskeyRemoved, lang)?;
    }
    Ok(())
}
