//! Enrolling the face for sign-in. Nothing is captured before the citizen has read what is
//! kept, why, where, for how long and for which services, and agreed (the consent is
//! recorded with the version of the text, its purpose and time). The capture must be live
//! (`biometrics::analyse`); only the template is kept, sealed under the citizen's data key,
//! never the frames. Withdrawing the consent destroys the template at once. Every step is
//! audited in the transaction that makes it, and told to the citizen.

use super::{Change, notify};
use crate::audit::{self, Entry, Kind};
use crate::biometrics::{self, CapturePurpose};
use crate::config::Enrolment;
use crate::crypto;
use crate::i18n::Lang;
use crate::oidc::error::{OidcError, OidcResult};
use crate::service::Service;
use crate::store::biometric_consents::{self, BiometricConsent};
use crate::store::users::{self, Credential, CredentialKind};
use crate::store::{AnyConnection, StoreResult};
use authenticators::FactorKind;
use authenticators::face::{Cue, Refusal};
use serde_json::json;

/// The version of the consent text (`Texts::face_consent_*`); a new text gets a new one.
pub const CONSENT_VERSION: &str = "face-1";
/// The version of the text for registrations, which keep pictures until a clerk decides
/// (`Texts::reg_what`).
pub const REGISTRATION_CONSENT_VERSION: &str = "face-registration-1";

/// The text the citizen reads in this deployment.
fn consent_version(svc: &Service) -> &'static str {
    match svc.config.biometrics.enrolment {
        Enrolment::SelfService => CONSENT_VERSION,
        Enrolment::Registration => REGISTRATION_CONSENT_VERSION,
    }
}
/// What the template may be used for.
pub const PURPOSE: &str = "sign-in";
const MODALITY: FactorKind = FactorKind::Face;

fn entry(kind: Kind, user_id: &str, detail: serde_json::Value) -> Entry<'_> {
    Entry {
        kind,
        user_id: Some(user_id),
        client_id: None,
        detail,
    }
}

/// The consent in force, if any.
pub fn consent_of(svc: &Service, user_id: &str) -> OidcResult<Option<BiometricConsent>> {
    consent_for(svc, user_id, MODALITY)
}

/// The consent in force for a modality (face or voice), if any.
pub(crate) fn consent_for(
    svc: &Service,
    user_id: &str,
    modality: FactorKind,
) -> OidcResult<Option<BiometricConsent>> {
    Ok(svc
        .db
        .run(|c| biometric_consents::active(c, user_id, modality.name()))?)
}

/// Records the citizen's agreement to the current text (once; agreeing again changes
/// nothing).
pub fn agree(svc: &Service, user_id: &str, now: i64) -> OidcResult<()> {
    agree_to(svc, user_id, MODALITY, consent_version(svc), now)
}

/// Records the agreement to text `version` about `modality`, audited.
pub(crate) fn agree_to(
    svc: &Service,
    user_id: &str,
    modality: FactorKind,
    version: &str,
    now: i64,
) -> OidcResult<()> {
    svc.db.tx(|c| {
        if biometric_consents::active(c, user_id, modality.name())?.is_some() {
            return Ok(());
        }
        biometric_consents::insert(
            c,
            &BiometricConsent {
                id: crypto::random_id(),
                user_id: user_id.into(),
                modality: modality.name().into(),
                text_version: version.into(),
                purpose: PURPOSE.into(),
                granted_at: now,
                withdrawn_at: None,
                circumstances: None,
            },
        )?;
        let detail = json!({ "factor": modality.name(), "text": version, "purpose": PURPOSE });
        audit::append(c, entry(Kind::BiometricConsentGiven, user_id, detail), now)?;
        Ok(())
    })?;
    Ok(())
}

/// Withdraws the consent to `modality` and destroys its templates, in the caller's
/// transaction; audited when there was anything. Returns whether there was.
pub(crate) fn withdraw_consent_in(
    c: &mut AnyConnection,
    user_id: &str,
    modality: FactorKind,
    templates: CredentialKind,
    now: i64,
) -> StoreResult<bool> {
    let destroyed = users::delete_credentials(c, user_id, templates)?;
    let consents = biometric_consents::withdraw(c, user_id, modality.name(), now)?;
    if destroyed + consents == 0 {
        return Ok(false);
    }
    let detail = json!({ "factor": modality.name(), "templates_destroyed": destroyed });
    audit::append(
        c,
        entry(Kind::BiometricConsentWithdrawn, user_id, detail),
        now,
    )?;
    Ok(true)
}

pub(crate) fn no_consent() -> OidcError {
    OidcError::invalid_request("agree to the use of your face first")
}

/// What the citizen's face page asks of them now.
#[derive(Debug, Clone, PartialEq)]
pub enum FaceStep {
    /// To read what is kept and agree.
    Consent,
    /// A capture that enrols the face (a deployment without registrations).
    Capture { agreed_at: i64 },
    /// Their identity document (registration); a rejected registration's date and reason.
    Document { rejected: Option<(i64, String)> },
    /// The live capture compared with the document.
    RegisterCapture,
    /// Their registration waits for a clerk.
    Pending { since: i64 },
    /// The face is a sign-in factor.
    Enrolled { since: i64 },
}

pub fn step(svc: &Service, user_id: &str) -> OidcResult<FaceStep> {
    use super::registration::Standing;
    let Some(consent) = consent_of(svc, user_id)? else {
        return Ok(FaceStep::Consent);
    };
    if svc.config.biometrics.enrolment == Enrolment::SelfService {
        return Ok(FaceStep::Capture {
            agreed_at: consent.granted_at,
        });
    }
    let enrolled = svc
        .db
        .run(|c| users::credential(c, user_id, CredentialKind::Face))?;
    Ok(
        match (super::registration::standing(svc, user_id)?, enrolled) {
            (Standing::Pending { submitted_at }, _) => FaceStep::Pending {
                since: submitted_at,
            },
            (Standing::Draft { .. }, _) => FaceStep::RegisterCapture,
            (_, Some(cred)) => FaceStep::Enrolled {
                since: cred.created_at,
            },
            (Standing::Rejected { decided_at, reason }, None) => FaceStep::Document {
                rejected: Some((decided_at, reason)),
            },
            (_, None) => FaceStep::Document { rejected: None },
        },
    )
}

/// Where a deployment enrols faces through registrations with a document, the account
/// page cannot enrol one directly.
fn self_service(svc: &Service) -> OidcResult<()> {
    if svc.config.biometrics.enrolment == Enrolment::SelfService {
        Ok(())
    } else {
        Err(OidcError::invalid_request(
            "your face is registered with your identity document here",
        ))
    }
}

/// Starts a capture for enrolment: the blink cue the page shows.
pub fn begin(svc: &Service, user_id: &str, now: i64) -> OidcResult<(String, Cue)> {
    self_service(svc)?;
    consent_of(svc, user_id)?.ok_or_else(no_consent)?;
    biometrics::begin(svc, user_id, CapturePurpose::Enrol, now)
}

/// Enrols the face of a live capture; it replaces an earlier template.
pub fn finish(
    svc: &Service,
    user_id: &str,
    challenge: &str,
    frames: &[Vec<u8>],
    lang: Lang,
    now: i64,
) -> OidcResult<Result<(), Refusal>> {
    self_service(svc)?;
    consent_of(svc, user_id)?.ok_or_else(no_consent)?;
    let issued = biometrics::cue_of(svc, user_id, challenge, CapturePurpose::Enrol, now)?
        .ok_or_else(expired)?;
    // The networks run before the transaction, which then only stores.
    let analysed = biometrics::analyse(svc, frames, &issued.cue)?;
    let stored = svc.db.tx(|c| {
        if !biometrics::take(c, user_id, challenge, CapturePurpose::Enrol, &issued, now)? {
            return Ok(None);
        }
        let template = match analysed {
            Ok(t) => t,
            Err(r) => return Ok(Some(Err(r))),
        };
        users::delete_credentials(c, user_id, CredentialKind::Face)?;
        let id = crypto::random_id();
        let sealed = biometrics::seal(svc, c, user_id, CredentialKind::Face, &id, &template, now)?;
        users::insert_credential(
            c,
            &Credential {
                id,
                user_id: user_id.into(),
                kind: CredentialKind::Face,
                label: Some(template.model().to_string()),
                data: sealed,
                created_at: now,
                last_used_at: None,
                counter: None,
            },
        )?;
        let detail = json!({ "factor": MODALITY.name(), "model": template.model().to_string() });
        audit::append(c, entry(Kind::FactorEnrolled, user_id, detail), now)?;
        Ok(Some(Ok(())))
    })?;
    let result = stored.ok_or_else(expired)?;
    if result.is_ok() {
        notify(svc, user_id, Change::FaceAdded, lang)?;
    }
    Ok(result)
}

pub(crate) fn expired() -> OidcError {
    OidcError::invalid_request("this capture has expired or was already used; start again")
}

/// Withdraws the consent: the template is destroyed in the same transaction, and the face
/// no longer counts for any sign-in.
pub fn withdraw(svc: &Service, user_id: &str, lang: Lang, now: i64) -> OidcResult<()> {
    let had = svc.db.tx(|c| withdraw_in(c, user_id, now))?;
    if had {
        notify(svc, user_id, Change::FaceRemoved, lang)?;
    }
    Ok(())
}

fn withdraw_in(c: &mut AnyConnection, user_id: &str, now: i64) -> StoreResult<bool> {
    // A registration in progress goes with the consent, its pictures first.
    let cancelled = super::registration::cancel_in(c, user_id, now)?;
    let withdrawn = withdraw_consent_in(c, user_id, MODALITY, CredentialKind::Face, now)?;
    Ok(cancelled || withdrawn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::biometrics::testing::capture as filmed;
    use crate::store::biometric_consents;

    const T0: i64 = 1_800_000_000;

    fn capture(cue: &Cue) -> Vec<Vec<u8>> {
        filmed("obama.png", cue)
    }

    #[test]
    fn enrolment_needs_consent_seals_the_template_and_withdrawal_destroys_it() {
        let (_dir, svc) = crate::service::for_tests_with(|f| {
            f.biometrics = Some(crate::config::BiometricsConfig {
                enrolment: Enrolment::SelfService,
                ..Default::default()
            });
        });
        assert!(
            begin(&svc, "u-anna", T0).is_err(),
            "no capture before consent"
        );
        agree(&svc, "u-anna", T0).unwrap();
        let (challenge, cue) = begin(&svc, "u-anna", T0).unwrap();
        let frames = capture(&cue);
        // Sent sooner than the capture can take: not filmed live.
        let early = finish(&svc, "u-anna", &challenge, &frames, Lang::En, T0);
        assert!(early.is_err());
        let (challenge, cue) = begin(&svc, "u-anna", T0).unwrap();
        let frames = capture(&cue);
        let done = finish(&svc, "u-anna", &challenge, &frames, Lang::En, T0 + 3).unwrap();
        assert_eq!(done, Ok(()));
        // Single use.
        assert!(finish(&svc, "u-anna", &challenge, &frames, Lang::En, T0 + 4).is_err());

        let cred = svc
            .db
            .run(|c| users::credential(c, "u-anna", CredentialKind::Face))
            .unwrap()
            .expect("a template");
        let template = svc
            .db
            .run(|c| biometrics::open(&svc, c, &cred))
            .unwrap()
            .expect("its owner's key opens it");
        assert_eq!(template.generation, 1, "stored protected by the transform");
        let plain = template.template.to_bytes();
        assert!(
            !cred
                .data
                .windows(16)
                .any(|w| plain.windows(16).any(|p| p == w)),
            "the stored bytes are ciphertext"
        );
        // Another citizen's data key (any other key) cannot open it.
        let foreign = crate::keys::kek::Kek::from_bytes(&crypto::random_bytes::<32>());
        assert!(
            foreign
                .open(&cred.data, &format!("face-template:{}", cred.id))
                .is_err()
        );

        withdraw(&svc, "u-anna", Lang::En, T0 + 5).unwrap();
        let left = svc
            .db
            .run(|c| users::credential(c, "u-anna", CredentialKind::Face))
            .unwrap();
        assert!(left.is_none(), "the template is destroyed");
        let consents = svc
            .db
            .run(|c| biometric_consents::of_user(c, "u-anna"))
            .unwrap();
        assert_eq!(consents.len(), 1);
        assert_eq!(consents[0].withdrawn_at, Some(T0 + 5));
        assert_eq!(consents[0].text_version, CONSENT_VERSION);
        let kinds: Vec<_> = svc
            .db
            .run(|c| crate::audit::of_user(c, "u-anna", 10))
            .unwrap()
            .iter()
            .filter_map(|e| e.kind())
            .collect();
        assert_eq!(
            kinds,
            [
                Kind::BiometricConsentWithdrawn,
                Kind::FactorEnrolled,
                Kind::BiometricConsentGiven
            ]
        );
    }
}
