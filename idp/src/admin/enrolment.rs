//! Service-centre enrolment: a clerk enrols the face or voice of a citizen present in
//! person (seed `000_*`). The clerk has seen the identity document and records its details;
//! the citizen reads the consent text and agrees before the clerk, who is recorded as the
//! witness; a minor's guardian gives their consent too, recorded with it. The capture
//! itself goes through the same liveness and analysis as online (the clerk's camera films
//! the citizen blinking on the server's cue; the microphone records the digits read), so
//! a clerk cannot enrol a photograph. The enrolment is recorded as a registration of the
//! service-centre channel, approved by that clerk, and audited; the citizen is told.

use super::users::{UserRef, find};
use super::{Actor, AdminError, AdminResult, invalid};
use crate::audit::{self, Entry, Kind};
use crate::biometrics::{self, CapturePurpose};
use crate::crypto;
use crate::enrollment::registration::{DocumentForm, details, read_document};
use crate::service::Service;
use crate::store::biometric_consents::{self, BiometricConsent};
use crate::store::registrations::{self, Channel, Registration, State};
use crate::store::users::{self, Credential, CredentialKind};
use crate::store::{AnyConnection, StoreResult};
use authenticators::FactorKind;
use authenticators::document::Date;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The versions of the texts read to (or by) the citizen at the counter.
pub const FACE_TEXT: &str = "face-service-centre-1";
pub const VOICE_TEXT: &str = "voice-service-centre-1";

/// The document the clerk saw, as they record it: typed, or its machine-readable zone.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeenDocument {
    /// `passport`, `id_card` or `residence_permit`.
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub number: String,
    /// ICAO code of the issuing state.
    #[serde(default)]
    pub country: String,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub expires: String,
    /// The holder's date of birth, `YYYY-MM-DD`.
    #[serde(default)]
    pub born: String,
    /// Instead of the fields: the machine-readable zone, lines separated by line breaks.
    #[serde(default)]
    pub mrz: String,
}

/// A parent or guardian who consents for a minor, present with them.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Guardian {
    pub name: String,
    /// `parent` or `guardian`.
    pub relation: String,
    /// The number of the identity document the clerk saw of the guardian.
    pub document_number: String,
}

/// What the clerk records besides the capture.
#[derive(Debug, Clone)]
pub struct InPerson {
    pub document: SeenDocument,
    /// The citizen read the consent text and agreed, before the clerk.
    pub consent: bool,
    /// For a citizen under the deployment's adult age.
    pub guardian: Option<Guardian>,
}

/// What a service-centre enrolment made.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Enrolled {
    /// `face` or `voice`.
    pub factor: String,
    /// The registration that records it (channel `service_centre`, approved).
    pub registration: String,
}

/// Who holds a service-centre capture challenge: the citizen, at the counter.
fn holder(user_id: &str) -> String {
    format!("service-centre:{user_id}")
}

/// A capture challenge for the citizen's face: the cue the clerk's page films by.
pub fn begin_face(svc: &Service, who: UserRef, now: i64) -> AdminResult<serde_json::Value> {
    let user = svc.db.run(|c| Ok(find(c, who)))??;
    let (challenge, cue) =
        biometrics::begin(svc, &holder(&user.id), CapturePurpose::ServiceCentre, now)
            .map_err(oidc)?;
    Ok(json!({ "challenge": challenge, "cue": cue }))
}

/// A recording challenge for the citizen's voice: the digits to read.
pub fn begin_voice(svc: &Service, who: UserRef, now: i64) -> AdminResult<serde_json::Value> {
    let user = svc.db.run(|c| Ok(find(c, who)))??;
    let (challenge, phrase) = biometrics::begin_voice(
        svc,
        &holder(&user.id),
        CapturePurpose::ServiceCentreVoice,
        now,
    )
    .map_err(oidc)?;
    Ok(json!({ "challenge": challenge, "phrase": phrase.digits }))
}

fn oidc(e: crate::oidc::error::OidcError) -> AdminError {
    invalid("capture", e.description)
}

/// Checks what the clerk recorded: the consent, the document, and for a minor the
/// guardian. Returns the stored document details and the consent's circumstances.
fn recorded(
    svc: &Service,
    actor: &Actor,
    form: &InPerson,
    now: i64,
) -> AdminResult<(
    crate::store::registrations::DocumentDetails,
    serde_json::Value,
)> {
    if !form.consent {
        return Err(invalid(
            "consent",
            "the citizen must read the consent text and agree first",
        ));
    }
    let d = &form.document;
    let today = Date::of_unix(now);
    let doc = read_document(
        &DocumentForm {
            kind: &d.kind,
            number: &d.number,
            country: &d.country,
            expires: Date::parse_iso(&d.expires),
            born: Date::parse_iso(&d.born),
            mrz: &d.mrz,
        },
        today,
    )
    .map_err(|problems| {
        let list: Vec<String> = problems.iter().map(|p| format!("{p:?}")).collect();
        invalid("document", format!("not accepted: {}", list.join(", ")))
    })?;
    let minor = doc.age_on(today) < svc.config.biometrics.adult_age as i32;
    let guardian = match (&form.guardian, minor) {
        (None, true) => {
            return Err(invalid(
                "guardian",
                format!(
                    "the citizen is under {}: a parent's or guardian's consent is needed",
                    svc.config.biometrics.adult_age
                ),
            ));
        }
        (Some(g), _) => {
            super::display_text("guardian", &g.name, 200)?;
            super::display_text("guardian", &g.document_number, 40)?;
            if !matches!(g.relation.as_str(), "parent" | "guardian") {
                return Err(invalid("guardian", "relation: parent or guardian"));
            }
            Some(g)
        }
        (None, false) => None,
    };
    let witness = match actor {
        Actor::Admin { user_id, .. } => json!(user_id),
        Actor::Cli { os_user } => json!(os_user),
        Actor::Registration { .. } => serde_json::Value::Null,
    };
    let circumstances = json!({
        "in_person": true,
        "witness": witness,
        "guardian": guardian,
        "minor": minor,
    });
    Ok((details(&doc), circumstances))
}

/// Checks what the clerk recorded (the account, the consent, the document, a minor's
/// guardian) before anything is filmed; nothing is written.
pub fn check(
    svc: &Service,
    actor: &Actor,
    who: UserRef,
    form: &InPerson,
    now: i64,
) -> AdminResult<()> {
    svc.db.run(|c| Ok(find(c, who)))??;
    recorded(svc, actor, form, now)?;
    Ok(())
}

/// Enrols the face of the citizen at the counter from a live capture.
pub fn enrol_face(
    svc: &Service,
    actor: &Actor,
    who: UserRef,
    form: &InPerson,
    challenge: &str,
    frames: &[Vec<u8>],
    now: i64,
) -> AdminResult<Enrolled> {
    let user = svc.db.run(|c| Ok(find(c, who)))??;
    let (document, circumstances) = recorded(svc, actor, form, now)?;
    let purpose = CapturePurpose::ServiceCentre;
    let holder = holder(&user.id);
    let issued = biometrics::cue_of(svc, &holder, challenge, purpose, now)
        .map_err(oidc)?
        .ok_or_else(|| invalid("challenge", "expired or used; start the capture again"))?;
    let template = match biometrics::analyse(svc, frames, &issued.cue).map_err(oidc)? {
        Ok(t) => t,
        Err(r) => {
            let why = crate::login::flow::FaceAnswer::Refused(r).code();
            return Err(invalid("frames", format!("the capture was refused: {why}")));
        }
    };
    let enrolled = svc.db.try_tx(|c| {
        if !biometrics::take(c, &holder, challenge, purpose, &issued, now)? {
            return Err(invalid(
                "challenge",
                "expired or used; start the capture again",
            ));
        }
        let kind = CredentialKind::Face;
        let r = store(
            svc,
            c,
            actor,
            &user.id,
            (FactorKind::Face, kind, FACE_TEXT),
            &template,
            document.clone(),
            &circumstances,
            now,
        )?;
        Ok(r)
    })?;
    // In the language the citizen last signed in with.
    let t = svc
        .db
        .run(|c| crate::notify::language_of(c, &user.id))?
        .texts();
    crate::enrollment::registration::tell(
        svc,
        &user.id,
        t.registration_approved_subject,
        t.registration_approved_body,
    )
    .ok();
    Ok(enrolled)
}

/// Enrols the voice of the citizen at the counter from a recording.
pub fn enrol_voice(
    svc: &Service,
    actor: &Actor,
    who: UserRef,
    form: &InPerson,
    challenge: &str,
    wav: &[u8],
    now: i64,
) -> AdminResult<Enrolled> {
    let user = svc.db.run(|c| Ok(find(c, who)))??;
    let (document, circumstances) = recorded(svc, actor, form, now)?;
    let purpose = CapturePurpose::ServiceCentreVoice;
    let holder = holder(&user.id);
    let template = match biometrics::analyse_voice(svc, wav).map_err(oidc)? {
        Ok(t) => t,
        Err(u) => {
            let why = crate::login::flow::VoiceAnswer::Unusable(u).code();
            return Err(invalid(
                "audio",
                format!("the recording was refused: {why}"),
            ));
        }
    };
    let enrolled = svc.db.try_tx(|c| {
        if !biometrics::take_voice(c, &holder, challenge, purpose, now)? {
            return Err(invalid(
                "challenge",
                "expired or used; start the recording again",
            ));
        }
        let r = store(
            svc,
            c,
            actor,
            &user.id,
            (FactorKind::Voice, CredentialKind::Voice, VOICE_TEXT),
            &template,
            document.clone(),
            &circumstances,
            now,
        )?;
        Ok(r)
    })?;
    let t = svc
        .db
        .run(|c| crate::notify::language_of(c, &user.id))?
        .texts();
    let body = t.changed_body.replace("{change}", t.change_voice_added);
    crate::enrollment::registration::tell(svc, &user.id, t.changed_subject, &body).ok();
    Ok(enrolled)
}

/// In the caller's transaction: the consent (in person), the template as the factor (an
/// earlier one replaced), the registration that records it, and their audit entries.
#[allow(clippy::too_many_arguments)]
fn store(
    svc: &Service,
    c: &mut AnyConnection,
    actor: &Actor,
    user_id: &str,
    (factor, kind, text): (FactorKind, CredentialKind, &str),
    template: &matcher::Template,
    document: crate::store::registrations::DocumentDetails,
    circumstances: &serde_json::Value,
    now: i64,
) -> StoreResult<Enrolled> {
    biometric_consents::withdraw(c, user_id, factor.name(), now)?;
    biometric_consents::insert(
        c,
        &BiometricConsent {
            id: crypto::random_id(),
            user_id: user_id.into(),
            modality: factor.name().into(),
            text_version: text.into(),
            purpose: crate::enrollment::biometric::PURPOSE.into(),
            granted_at: now,
            withdrawn_at: None,
            circumstances: Some(circumstances.to_string()),
        },
    )?;
    users::delete_credentials(c, user_id, kind)?;
    let credential = crypto::random_id();
    let sealed = biometrics::seal(svc, c, user_id, kind, &credential, template, now)?;
    users::insert_credential(
        c,
        &Credential {
            id: credential,
            user_id: user_id.into(),
            kind,
            label: Some(template.model().to_string()),
            data: sealed,
            created_at: now,
            last_used_at: None,
            counter: None,
        },
    )?;
    let clerk = match actor {
        Actor::Admin { user_id, .. } => Some(user_id.clone()),
        Actor::Cli { os_user } => os_user.clone(),
        Actor::Registration { .. } => None,
    };
    let registration = Registration {
        id: crypto::random_id(),
        user_id: user_id.into(),
        channel: Channel::ServiceCentre,
        state: State::Approved,
        document,
        match_score: None,
        attempts: 0,
        locale: crate::notify::language_of(c, user_id)?.texts().code.into(),
        created_at: now,
        submitted_at: Some(now),
        decided_at: Some(now),
        decided_by: clerk,
        reason: None,
    };
    registrations::insert_decided(c, &registration)?;
    let by = actor.to_json();
    for (kind, detail) in [
        (
            Kind::BiometricConsentGiven,
            json!({ "factor": factor.name(), "text": text, "in_person": true, "by": by }),
        ),
        (
            Kind::RegistrationApproved,
            json!({ "registration": registration.id, "channel": "service_centre", "by": by }),
        ),
        (
            Kind::FactorEnrolled,
            json!({ "factor": factor.name(), "registration": registration.id, "by": by }),
        ),
    ] {
        let entry = Entry {
            kind,
            user_id: Some(user_id),
            client_id: None,
            detail,
        };
        audit::append_from(c, entry, actor.ip(), now)?;
    }
    Ok(Enrolled {
        factor: factor.name().into(),
        registration: registration.id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::biometrics::testing::capture;
    use crate::store::registrations as regs;

    const T0: i64 = 1_800_000_000;

    fn clerk() -> Actor {
        Actor::Admin {
            user_id: "u-clerk".into(),
            ip: None,
        }
    }

    fn seen(born: &str) -> InPerson {
        InPerson {
            document: SeenDocument {
                kind: "passport".into(),
                number: "HU1234567".into(),
                country: "HUN".into(),
                expires: "2031-01-01".into(),
                born: born.into(),
                mrz: String::new(),
            },
            consent: true,
            guardian: None,
        }
    }

    fn frames_for(svc: &Service, photo: &str) -> (String, Vec<Vec<u8>>) {
        let begun = begin_face(svc, UserRef::Id("u-anna"), T0).unwrap();
        let cue: authenticators::face::Cue = serde_json::from_value(begun["cue"].clone()).unwrap();
        let challenge = begun["challenge"].as_str().unwrap().to_string();
        (challenge, capture(photo, &cue))
    }

    #[test]
    fn a_clerk_enrols_a_face_in_person_recorded_as_witnessed() {
        let (_dir, svc) = crate::service::for_tests();
        let who = UserRef::Id("u-anna");
        let (challenge, frames) = frames_for(&svc, "obama.png");
        let mut no_consent = seen("1970-05-01");
        no_consent.consent = false;
        let refused = enrol_face(
            &svc,
            &clerk(),
            who,
            &no_consent,
            &challenge,
            &frames,
            T0 + 3,
        );
        assert!(matches!(
            refused,
            Err(AdminError::Invalid {
                field: "consent",
                ..
            })
        ));

        let done = enrol_face(
            &svc,
            &clerk(),
            who,
            &seen("1970-05-01"),
            &challenge,
            &frames,
            T0 + 3,
        )
        .unwrap();
        assert_eq!(done.factor, "face");
        // Used once.
        let again = enrol_face(
            &svc,
            &clerk(),
            who,
            &seen("1970-05-01"),
            &challenge,
            &frames,
            T0 + 4,
        );
        assert!(matches!(
            again,
            Err(AdminError::Invalid {
                field: "challenge",
                ..
            })
        ));

        let cred = svc
            .db
            .run(|c| users::credential(c, "u-anna", CredentialKind::Face))
            .unwrap()
            .expect("the face is a factor");
        assert!(
            svc.db
                .run(|c| biometrics::open(&svc, c, &cred))
                .unwrap()
                .is_some()
        );
        let r = svc
            .db
            .run(|c| regs::find(c, &done.registration))
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.channel, r.state),
            (Channel::ServiceCentre, State::Approved)
        );
        assert_eq!(r.decided_by.as_deref(), Some("u-clerk"));
        let consent = svc
            .db
            .run(|c| biometric_consents::active(c, "u-anna", "face"))
            .unwrap()
            .unwrap();
        assert_eq!(consent.text_version, FACE_TEXT);
        let how: serde_json::Value =
            serde_json::from_str(consent.circumstances.as_deref().unwrap()).unwrap();
        assert_eq!(
            (how["in_person"].clone(), how["witness"].clone()),
            (json!(true), json!("u-clerk"))
        );
    }

    #[test]
    fn a_minor_needs_a_guardian_and_a_photograph_is_not_enrolled() {
        let (_dir, svc) = crate::service::for_tests();
        let who = UserRef::Id("u-anna");
        let year = Date::of_unix(T0).year - 12;
        let child = seen(&format!("{year}-03-01"));
        let (challenge, frames) = frames_for(&svc, "obama.png");
        let refused = enrol_face(&svc, &clerk(), who, &child, &challenge, &frames, T0 + 3);
        assert!(matches!(
            refused,
            Err(AdminError::Invalid {
                field: "guardian",
                ..
            })
        ));
        let mut with_guardian = child.clone();
        with_guardian.guardian = Some(Guardian {
            name: "Kovács Mária".into(),
            relation: "parent".into(),
            document_number: "HU7654321".into(),
        });
        enrol_face(
            &svc,
            &clerk(),
            who,
            &with_guardian,
            &challenge,
            &frames,
            T0 + 3,
        )
        .unwrap();
        let consent = svc
            .db
            .run(|c| biometric_consents::active(c, "u-anna", "face"))
            .unwrap()
            .unwrap();
        let how: serde_json::Value =
            serde_json::from_str(consent.circumstances.as_deref().unwrap()).unwrap();
        assert_eq!(how["guardian"]["name"], "Kovács Mária");
        assert_eq!(how["minor"], true);

        // A photograph held to the clerk's camera does not blink.
        let begun = begin_face(&svc, who, T0 + 10).unwrap();
        let cue: authenticators::face::Cue = serde_json::from_value(begun["cue"].clone()).unwrap();
        let still = vec![capture("obama2.png", &cue)[0].clone(); cue.frames];
        let refused = enrol_face(
            &svc,
            &clerk(),
            who,
            &seen("1970-05-01"),
            begun["challenge"].as_str().unwrap(),
            &still,
            T0 + 13,
        );
        assert!(
            matches!(&refused, Err(AdminError::Invalid { field: "frames", reason }) if reason.contains("no_blink")),
            "{refused:?}"
        );
    }

    #[test]
    fn a_clerk_enrols_a_voice_in_person() {
        let (_dir, svc) = crate::service::for_tests();
        let who = UserRef::Id("u-anna");
        let begun = begin_voice(&svc, who, T0).unwrap();
        let wav = std::fs::read(
            "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav",
        )
        .expect("apt-get install pocketsphinx-testdata");
        let challenge = begun["challenge"].as_str().unwrap();
        let done = enrol_voice(
            &svc,
            &clerk(),
            who,
            &seen("1970-05-01"),
            challenge,
            &wav,
            T0 + 5,
        )
        .unwrap();
        assert_eq!(done.factor, "voice");
        assert!(
            svc.db
                .run(|c| users::credential(c, "u-anna", CredentialKind::Voice))
                .unwrap()
                .is_some()
        );
    }
}
