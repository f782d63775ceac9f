//! Registration for face sign-in with an identity document, online (as KAÜ does it): after
//! the consent (`biometric::agree`), the citizen gives their document's details (typed, or
//! its machine-readable zone with every check digit right) and a photo of it; the server
//! finds the portrait on it. Then a live capture with a blink on the server's cue; its face
//! must match the portrait at the cross-capture threshold (three tries, then the document
//! must be given again). The registration then waits for a clerk (`admin::registrations`),
//! who sees the document photo, the live frame and the score, and approves or rejects it
//! with a reason; only then is the face a sign-in factor. The pictures and templates are
//! sealed with the citizen's data key and destroyed when the clerk decides, the citizen
//! cancels, or the consent is withdrawn. Minors register at a service centre with a
//! guardian. Every step is audited in its transaction and told to the citizen.

use crate::audit::{self, Entry, Kind};
use crate::biometrics::{self, CapturePurpose};
use crate::config::Enrolment;
use crate::crypto;
use crate::i18n::Lang;
use crate::oidc::error::{OidcError, OidcResult};
use crate::service::Service;
use crate::store::registrations::{
    self, Channel, DRAFT_TTL, DocumentDetails, Evidence, Registration, State,
};
use crate::store::{AnyConnection, StoreError, StoreResult};
use authenticators::document::{self, Date, Document, Problem};
use authenticators::face::{Cue, Refusal, Unusable};
use serde_json::json;

/// Live captures that may fail to match the document before it must be given again.
pub const MAX_ATTEMPTS: i32 = 3;
/// The longest side a document photo is kept at for the clerk.
const KEPT_PHOTO_SIDE: u32 = 1600;

/// What the citizen typed about their document.
#[derive(Debug, Clone, Default)]
pub struct DocumentForm<'a> {
    pub kind: &'a str,
    pub number: &'a str,
    pub country: &'a str,
    pub expires: Option<Date>,
    pub born: Option<Date>,
    /// The machine-readable zone, when given instead of the fields.
    pub mrz: &'a str,
}

/// Why the document step was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentRefused {
    Details(Vec<Problem>),
    Photo(Unusable),
    /// Younger than the deployment's adult age: at a service centre, with a guardian.
    Minor,
}

/// Why a live capture was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureRefused {
    Face(Refusal),
    /// A live face, not the document's; `left` more tries before the document must be
    /// given again.
    Mismatch {
        left: i32,
    },
}

/// Where the citizen's registration stands, for their pages.
#[derive(Debug, Clone, PartialEq)]
pub enum Standing {
    None,
    /// The document was given; the live capture comes next.
    Draft {
        attempts: i32,
    },
    Pending {
        submitted_at: i64,
    },
    Rejected {
        decided_at: i64,
        reason: String,
    },
    Approved {
        decided_at: i64,
    },
}

/// Sealing contexts: each piece of evidence is bound to its registration and role.
pub(crate) fn context(id: &str, part: &str) -> String {
    format!("registration:{id}:{part}")
}

fn entry(kind: Kind, user_id: &str, detail: serde_json::Value) -> Entry<'_> {
    Entry {
        kind,
        user_id: Some(user_id),
        client_id: None,
        detail,
    }
}

fn not_offered() -> OidcError {
    OidcError::invalid_request("registration with a document is not offered here")
}

/// The stored form of a document.
pub(crate) fn details(d: &Document) -> DocumentDetails {
    DocumentDetails {
        kind: d.kind.name().to_string(),
        number: d.number.clone(),
        country: d.country.clone(),
        expires: d.expires.iso(),
        born: d.born.iso(),
        mrz_checked: d.mrz_checked,
    }
}

/// Reads the form: the MRZ when given (its details win), else the typed fields.
pub fn read_document(form: &DocumentForm, today: Date) -> Result<Document, Vec<Problem>> {
    if form.mrz.trim().is_empty() {
        document::entered(
            form.kind,
            form.number,
            form.country,
            form.expires,
            form.born,
            today,
        )
    } else {
        document::read_mrz(form.mrz, today).map_err(|p| vec![p])
    }
}

/// The portrait on a document photo, and the photo as kept for the clerk (a JPEG of at
/// most `KEPT_PHOTO_SIDE`, metadata dropped). Runs the networks in a matcher slot.
pub(crate) fn portrait(
    svc: &Service,
    photo: &[u8],
) -> OidcResult<Result<(matcher::Template, Vec<u8>), Unusable>> {
    let img = match document::decode_photo(photo) {
        Ok(img) => img,
        Err(u) => return Ok(Err(u)),
    };
    let (engine, _slot) = svc.biometrics.face()?;
    let template = match document::face_of(&engine, &img).map_err(OidcError::server)? {
        Ok(t) => t,
        Err(u) => return Ok(Err(u)),
    };
    let kept = if img.width().max(img.height()) > KEPT_PHOTO_SIDE {
        let small = image::DynamicImage::ImageRgb8(img).resize(
            KEPT_PHOTO_SIDE,
            KEPT_PHOTO_SIDE,
            image::imageops::FilterType::Triangle,
        );
        small.to_rgb8()
    } else {
        img
    };
    let jpeg = authenticators::face::to_jpeg(&kept).map_err(OidcError::server)?;
    Ok(Ok((template, jpeg)))
}

/// The document step: checks the details and the photo and keeps them as a draft (an
/// earlier draft is replaced).
pub fn submit_document(
    svc: &Service,
    user_id: &str,
    form: &DocumentForm,
    photo: &[u8],
    lang: Lang,
    now: i64,
) -> OidcResult<Result<(), DocumentRefused>> {
    if svc.config.biometrics.enrolment != Enrolment::Registration {
        return Err(not_offered());
    }
    super::biometric::consent_of(svc, user_id)?.ok_or_else(super::biometric::no_consent)?;
    if let Standing::Pending { .. } = standing(svc, user_id)? {
        return Err(OidcError::invalid_request(
            "your registration is waiting for a clerk; cancel it first to start again",
        ));
    }
    let today = Date::of_unix(now);
    let doc = match read_document(form, today) {
        Ok(d) => d,
        Err(p) => return Ok(Err(DocumentRefused::Details(p))),
    };
    if doc.age_on(today) < svc.config.biometrics.adult_age as i32 {
        return Ok(Err(DocumentRefused::Minor));
    }
    let (template, jpeg) = match portrait(svc, photo)? {
        Ok(p) => p,
        Err(u) => return Ok(Err(DocumentRefused::Photo(u))),
    };
    svc.db.tx(|c| {
        registrations::delete_drafts(c, user_id)?;
        let id = crypto::random_id();
        let seal = |c: &mut AnyConnection, part: &str, bytes: &[u8]| {
            biometrics::seal_bytes(svc, c, user_id, &context(&id, part), bytes, now)
        };
        let evidence = Evidence {
            registration_id: id.clone(),
            document_template: seal(c, "document-template", &template.to_bytes())?,
            document_image: seal(c, "document-image", &jpeg)?,
            live_template: None,
            face_image: None,
        };
        let r = Registration {
            id,
            user_id: user_id.to_string(),
            channel: Channel::Online,
            state: State::Draft,
            document: details(&doc),
            match_score: None,
            attempts: 0,
            locale: lang.texts().code.to_string(),
            created_at: now,
            submitted_at: None,
            decided_at: None,
            decided_by: None,
            reason: None,
        };
        registrations::insert(c, &r, &evidence)
    })?;
    Ok(Ok(()))
}

/// The citizen's draft that is still live.
fn live_draft(c: &mut AnyConnection, user_id: &str, now: i64) -> StoreResult<Option<Registration>> {
    Ok(registrations::latest_of(c, user_id, &[State::Draft])?
        .filter(|r| r.created_at >= now - DRAFT_TTL))
}

fn no_draft() -> OidcError {
    OidcError::invalid_request("give the details and a photo of your document first")
}

/// Starts the live capture of a registration: the blink cue the page shows.
pub fn begin_capture(svc: &Service, user_id: &str, now: i64) -> OidcResult<(String, Cue)> {
    svc.db
        .run(|c| live_draft(c, user_id, now))?
        .ok_or_else(no_draft)?;
    biometrics::begin(svc, user_id, CapturePurpose::Register, now)
}

/// The live capture: its face must be live and match the document's portrait; the
/// registration then waits for a clerk.
pub fn finish_capture(
    svc: &Service,
    user_id: &str,
    challenge: &str,
    frames: &[Vec<u8>],
    lang: Lang,
    now: i64,
) -> OidcResult<Result<(), CaptureRefused>> {
    let purpose = CapturePurpose::Register;
    let issued = biometrics::cue_of(svc, user_id, challenge, purpose, now)?
        .ok_or_else(super::biometric::expired)?;
    let draft = svc
        .db
        .run(|c| live_draft(c, user_id, now))?
        .ok_or_else(no_draft)?;
    let portrait = svc.db.run(|c| {
        let Some(e) = registrations::evidence(c, &draft.id)? else {
            return Ok(None);
        };
        let ctx = context(&draft.id, "document-template");
        Ok(
            biometrics::open_bytes(svc, c, user_id, &ctx, &e.document_template)?
                .and_then(|b| matcher::Template::from_bytes(&b).ok()),
        )
    })?;
    let portrait = portrait.ok_or_else(no_draft)?;
    // The networks run before the transaction, which then only stores.
    let analysed = biometrics::analyse_capture(svc, frames, &issued.cue)?;
    let compared = match &analysed {
        Ok(capture) => {
            let (same, score) =
                document::matches(&capture.template, &portrait).map_err(OidcError::server)?;
            let jpeg = authenticators::face::to_jpeg(&capture.frame).map_err(OidcError::server)?;
            Some((same, score, jpeg))
        }
        Err(_) => None,
    };
    let outcome = svc.db.tx(|c| {
        if !biometrics::take(c, user_id, challenge, purpose, &issued, now)? {
            return Ok(None);
        }
        let Some(mut r) = registrations::lock(c, &draft.id)?.filter(|r| r.state == State::Draft)
        else {
            return Ok(None);
        };
        let (capture, (same, score, jpeg)) = match (&analysed, compared) {
            (Err(refusal), _) => return Ok(Some(Err(CaptureRefused::Face(*refusal)))),
            (Ok(capture), Some(c)) => (capture, c),
            (Ok(_), None) => return Ok(None),
        };
        if !same {
            r.attempts += 1;
            let left = MAX_ATTEMPTS - r.attempts;
            let detail = json!({
                "registration": r.id,
                "reason": "live face does not match the document",
                "score": score,
            });
            audit::append(c, entry(Kind::RegistrationFailed, user_id, detail), now)?;
            if left <= 0 {
                registrations::delete_drafts(c, user_id)?;
            } else {
                registrations::save(c, &r)?;
            }
            return Ok(Some(Err(CaptureRefused::Mismatch { left: left.max(0) })));
        }
        let Some(mut evidence) = registrations::evidence(c, &r.id)? else {
            return Ok(None);
        };
        let seal = |c: &mut AnyConnection, part: &str, bytes: &[u8]| {
            biometrics::seal_bytes(svc, c, user_id, &context(&r.id, part), bytes, now)
        };
        evidence.live_template = Some(seal(c, "live-template", &capture.template.to_bytes())?);
        evidence.face_image = Some(seal(c, "face-image", &jpeg)?);
        registrations::save_evidence(c, &evidence)?;
        r.state = State::Pending;
        r.match_score = Some(score);
        r.submitted_at = Some(now);
        registrations::save(c, &r)?;
        let detail = json!({
            "registration": r.id,
            "channel": r.channel.name(),
            "document": r.document.kind,
            "mrz_checked": r.document.mrz_checked,
            "score": score,
        });
        audit::append(c, entry(Kind::RegistrationSubmitted, user_id, detail), now)?;
        Ok(Some(Ok(())))
    })?;
    let result = outcome.ok_or_else(super::biometric::expired)?;
    if result.is_ok() {
        let t = lang.texts();
        tell(
            svc,
            user_id,
            t.registration_received_subject,
            t.registration_received_body,
        )?;
    }
    Ok(result)
}

/// The citizen's registration as it stands (the newest one).
pub fn standing(svc: &Service, user_id: &str) -> OidcResult<Standing> {
    let all = [
        State::Draft,
        State::Pending,
        State::Approved,
        State::Rejected,
    ];
    let latest = svc.db.run(|c| registrations::latest_of(c, user_id, &all))?;
    Ok(match latest {
        None => Standing::None,
        Some(r) => match r.state {
            State::Draft if r.created_at >= svc.clock.now() - DRAFT_TTL => Standing::Draft {
                attempts: r.attempts,
            },
            State::Draft | State::Withdrawn => Standing::None,
            State::Pending => Standing::Pending {
                submitted_at: r.submitted_at.unwrap_or(r.created_at),
            },
            State::Rejected => Standing::Rejected {
                decided_at: r.decided_at.unwrap_or(r.created_at),
                reason: r.reason.unwrap_or_default(),
            },
            State::Approved => Standing::Approved {
                decided_at: r.decided_at.unwrap_or(r.created_at),
            },
        },
    })
}

/// The citizen cancels their draft or waiting registration: its pictures and templates are
/// destroyed at once.
pub fn cancel(svc: &Service, user_id: &str, now: i64) -> OidcResult<()> {
    svc.db.tx(|c| cancel_in(c, user_id, now))?;
    Ok(())
}

/// Cancels in the caller's transaction (also when the consent is withdrawn); returns
/// whether there was anything to cancel.
pub(crate) fn cancel_in(c: &mut AnyConnection, user_id: &str, now: i64) -> StoreResult<bool> {
    let drafts = registrations::delete_drafts(c, user_id)?;
    let Some(mut r) = registrations::latest_of(c, user_id, &[State::Pending])? else {
        return Ok(drafts > 0);
    };
    registrations::destroy_evidence(c, &r.id)?;
    r.state = State::Withdrawn;
    r.decided_at = Some(now);
    registrations::save(c, &r)?;
    let detail = json!({ "registration": r.id, "evidence_destroyed": true });
    audit::append(c, entry(Kind::RegistrationWithdrawn, user_id, detail), now)?;
    Ok(true)
}

/// Tells the citizen about their registration.
pub(crate) fn tell(svc: &Service, user_id: &str, subject: &str, body: &str) -> OidcResult<()> {
    let user = svc
        .db
        .run(|c| crate::store::users::find(c, user_id))?
        .ok_or_else(|| OidcError::server(StoreError::Corrupt("no such account".into())))?;
    crate::notify::tell(svc, &user, subject, body);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::Actor;
    use crate::admin::registrations as queue;
    use crate::biometrics::testing::{capture, document_photo};
    use crate::store::users::{self, CredentialKind};

    const T0: i64 = 1_800_000_000;

    fn typed(born: Date) -> DocumentForm<'static> {
        DocumentForm {
            kind: "id_card",
            number: "ab 123 456",
            country: "hun",
            expires: Date::new(2031, 3, 27),
            born: Some(born),
            mrz: "",
        }
    }

    fn adult() -> DocumentForm<'static> {
        typed(Date::new(1961, 8, 4).unwrap())
    }

    fn clerk() -> Actor {
        Actor::Admin {
            user_id: "u-clerk".into(),
            ip: Some([192, 0, 2, 9].into()),
        }
    }

    /// Consent, the document with `portrait`, then a live capture of `live`.
    fn register(svc: &Service, portrait: &str, live: &str, now: i64) -> Result<(), CaptureRefused> {
        crate::enrollment::biometric::agree(svc, "u-anna", now).unwrap();
        let photo = document_photo(portrait);
        submit_document(svc, "u-anna", &adult(), &photo, Lang::Hu, now)
            .unwrap()
            .expect("document accepted");
        capture_again(svc, live, now)
    }

    fn capture_again(svc: &Service, live: &str, now: i64) -> Result<(), CaptureRefused> {
        let (challenge, cue) = begin_capture(svc, "u-anna", now).unwrap();
        let frames = capture(live, &cue);
        finish_capture(svc, "u-anna", &challenge, &frames, Lang::Hu, now + 3).unwrap()
    }

    fn kinds(svc: &Service) -> Vec<Kind> {
        let mut k: Vec<Kind> = svc
            .db
            .run(|c| crate::audit::of_user(c, "u-anna", 50))
            .unwrap()
            .iter()
            .filter_map(|e| e.kind())
            .collect();
        k.reverse();
        k
    }

    fn pending_id(svc: &Service) -> String {
        let list = queue::list(svc, Some("pending"), None).unwrap();
        assert_eq!(list.len(), 1);
        list[0].id.clone()
    }

    #[test]
    fn an_approved_registration_makes_the_face_a_factor_and_destroys_the_pictures() {
        let (_dir, svc) = crate::service::for_tests();
        // Nothing is taken before the consent.
        let photo = document_photo("obama2.png");
        assert!(submit_document(&svc, "u-anna", &adult(), &photo, Lang::Hu, T0).is_err());
        assert_eq!(register(&svc, "obama2.png", "obama.png", T0), Ok(()));
        assert!(matches!(
            standing(&svc, "u-anna").unwrap(),
            Standing::Pending { .. }
        ));
        // Not a factor before a clerk approves it.
        let face = |svc: &Service| {
            svc.db
                .run(|c| users::credential(c, "u-anna", CredentialKind::Face))
                .unwrap()
        };
        assert!(face(&svc).is_none());

        let id = pending_id(&svc);
        let v = queue::show(&svc, &id).unwrap();
        assert_eq!(v.document.number, "AB123456");
        assert!(v.images && v.match_score.unwrap() >= v.match_threshold);
        // The clerk sees the pictures (JPEGs), and the citizen sees that they did.
        let jpeg = queue::picture(&svc, &clerk(), &id, queue::Picture::Face, T0 + 10).unwrap();
        assert_eq!(&jpeg[..2], &[0xff, 0xd8]);
        let document = queue::picture(&svc, &clerk(), &id, queue::Picture::Document, T0 + 10);
        assert!(document.is_ok());

        let v = queue::approve(&svc, &clerk(), &id, T0 + 20).unwrap();
        assert_eq!((v.state.as_str(), v.images), ("approved", false));
        assert_eq!(v.decided_by.as_deref(), Some("u-clerk"));
        let cred = face(&svc).expect("a face factor");
        let enrolled = svc
            .db
            .run(|c| crate::biometrics::open(&svc, c, &cred))
            .unwrap();
        assert!(enrolled.is_some(), "sealed under her key");
        let evidence = svc.db.run(|c| registrations::evidence(c, &id)).unwrap();
        assert!(evidence.is_none(), "the pictures and templates are gone");
        assert!(queue::picture(&svc, &clerk(), &id, queue::Picture::Face, T0 + 21).is_err());
        // Decided once.
        assert!(queue::reject(&svc, &clerk(), &id, "late", T0 + 22).is_err());
        assert_eq!(
            kinds(&svc),
            [
                Kind::BiometricConsentGiven,
                Kind::RegistrationSubmitted,
                Kind::RegistrationEvidenceViewed,
                Kind::RegistrationEvidenceViewed,
                Kind::RegistrationApproved,
                Kind::FactorEnrolled,
            ]
        );
        let told: Vec<String> = svc
            .outbox_for_tests()
            .into_iter()
            .map(|m| m.subject)
            .collect();
        let t = Lang::Hu.texts();
        assert!(
            told.contains(&t.registration_received_subject.to_string()),
            "{told:?}"
        );
        assert!(
            told.contains(&t.registration_approved_subject.to_string()),
            "{told:?}"
        );
    }

    #[test]
    fn another_face_than_the_documents_is_refused_three_times_then_the_document_is_asked_again() {
        let (_dir, svc) = crate::service::for_tests();
        assert_eq!(
            register(&svc, "obama2.png", "biden.png", T0),
            Err(CaptureRefused::Mismatch { left: 2 })
        );
        assert_eq!(
            capture_again(&svc, "biden.png", T0 + 10),
            Err(CaptureRefused::Mismatch { left: 1 })
        );
        assert_eq!(
            capture_again(&svc, "biden.png", T0 + 20),
            Err(CaptureRefused::Mismatch { left: 0 })
        );
        assert_eq!(standing(&svc, "u-anna").unwrap(), Standing::None);
        assert!(begin_capture(&svc, "u-anna", T0 + 30).is_err());
        assert!(queue::list(&svc, None, None).unwrap().is_empty());
        assert_eq!(
            kinds(&svc)
                .iter()
                .filter(|k| **k == Kind::RegistrationFailed)
                .count(),
            3
        );
    }

    #[test]
    fn a_rejection_gives_its_reason_and_a_withdrawn_consent_cancels_a_waiting_registration() {
        let (_dir, svc) = crate::service::for_tests();
        register(&svc, "obama2.png", "obama.png", T0).unwrap();
        let id = pending_id(&svc);
        assert!(
            queue::reject(&svc, &clerk(), &id, "  ", T0 + 5).is_err(),
            "a reason is needed"
        );
        let v = queue::reject(
            &svc,
            &clerk(),
            &id,
            "The document photo is unreadable",
            T0 + 5,
        )
        .unwrap();
        assert_eq!(v.state, "rejected");
        assert_eq!(
            standing(&svc, "u-anna").unwrap(),
            Standing::Rejected {
                decided_at: T0 + 5,
                reason: "The document photo is unreadable".into()
            }
        );
        let notice = svc
            .outbox_for_tests()
            .into_iter()
            .find(|m| m.subject == Lang::Hu.texts().registration_rejected_subject)
            .expect("told");
        assert!(notice.body.contains("The document photo is unreadable"));

        // Again; then the consent goes, and the waiting registration with it.
        capture_after_new_document(&svc, T0 + 100);
        let id = pending_id(&svc);
        crate::enrollment::biometric::withdraw(&svc, "u-anna", Lang::En, T0 + 200).unwrap();
        assert_eq!(queue::show(&svc, &id).unwrap().state, "withdrawn");
        assert!(
            svc.db
                .run(|c| registrations::evidence(c, &id))
                .unwrap()
                .is_none()
        );
        assert!(queue::approve(&svc, &clerk(), &id, T0 + 201).is_err());
    }

    fn capture_after_new_document(svc: &Service, now: i64) {
        let photo = document_photo("obama2.png");
        submit_document(svc, "u-anna", &adult(), &photo, Lang::En, now)
            .unwrap()
            .unwrap();
        capture_again(svc, "obama.png", now).unwrap();
    }

    #[test]
    fn details_are_checked_and_a_minor_is_sent_to_a_service_centre() {
        let (_dir, svc) = crate::service::for_tests();
        crate::enrollment::biometric::agree(&svc, "u-anna", T0).unwrap();
        let photo = document_photo("obama2.png");
        let today = Date::of_unix(T0);
        let minor = typed(Date::new(today.year - 15, 1, 1).unwrap());
        assert_eq!(
            submit_document(&svc, "u-anna", &minor, &photo, Lang::En, T0).unwrap(),
            Err(DocumentRefused::Minor)
        );
        let mut bad = adult();
        bad.number = "1";
        assert_eq!(
            submit_document(&svc, "u-anna", &bad, &photo, Lang::En, T0).unwrap(),
            Err(DocumentRefused::Details(vec![Problem::Number]))
        );
        // No portrait in a picture without a face.
        let blank = authenticators::face::to_jpeg(&image::RgbImage::from_pixel(
            800,
            500,
            image::Rgb([230, 230, 230]),
        ))
        .unwrap();
        assert_eq!(
            submit_document(&svc, "u-anna", &adult(), &blank, Lang::En, T0).unwrap(),
            Err(DocumentRefused::Photo(Unusable::NoFace))
        );
        assert_eq!(
            submit_document(&svc, "u-anna", &adult(), b"not a picture", Lang::En, T0).unwrap(),
            Err(DocumentRefused::Photo(Unusable::Unreadable))
        );
        assert_eq!(standing(&svc, "u-anna").unwrap(), Standing::None);
    }

    /// Two clerks decide the same registration at once: one decision stands, the other is
    /// refused, and the audit log holds one.
    #[test]
    fn two_clerks_deciding_at_once_make_one_decision() {
        let (_dir, svc) = crate::service::for_tests();
        register(&svc, "obama2.png", "obama.png", T0).unwrap();
        let id = pending_id(&svc);
        let results: Vec<bool> = std::thread::scope(|s| {
            let a = s.spawn(|| queue::approve(&svc, &clerk(), &id, T0 + 10).is_ok());
            let b = s.spawn(|| queue::reject(&svc, &clerk(), &id, "no", T0 + 10).is_ok());
            vec![a.join().unwrap(), b.join().unwrap()]
        });
        assert_eq!(results.iter().filter(|ok| **ok).count(), 1, "{results:?}");
        let decisions = kinds(&svc)
            .into_iter()
            .filter(|k| matches!(k, Kind::RegistrationApproved | Kind::RegistrationRejected))
            .count();
        assert_eq!(decisions, 1);
    }
}
