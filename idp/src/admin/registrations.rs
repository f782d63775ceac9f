//! The registration queue a clerk works: registrations for face sign-in with an identity
//! document wait here (`enrollment::registration`). The clerk sees the document's details,
//! its photo, the live frame and the score of the one against the other, and approves or
//! rejects with a reason. Approval makes the live template the citizen's face factor;
//! either way the pictures and templates are destroyed in the same transaction, the
//! decision is audited with who made it, and the citizen is told. Looking at the pictures
//! is audited too (the citizen sees it among their activity).

use super::{Actor, AdminError, AdminResult, Resource, invalid};
use crate::audit::{self, Entry, Kind};
use crate::biometrics;
use crate::crypto;
use crate::enrollment::registration::{context, tell};
use crate::i18n::Lang;
use crate::service::Service;
use crate::store::registrations::{self, Registration, State};
use crate::store::users::{self, Credential, CredentialKind};
use crate::store::{AnyConnection, StoreResult, biometric_consents};
use serde::Serialize;
use serde_json::json;

/// The most registrations one listing returns.
pub const MAX_LIST: i64 = 500;
/// The longest reason a clerk may give.
pub const MAX_REASON: usize = 500;

/// The document as a clerk sees it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DocumentView {
    /// `passport`, `id_card` or `residence_permit`.
    pub kind: String,
    pub number: String,
    /// ICAO code of the issuing state.
    pub country: String,
    /// `YYYY-MM-DD`.
    pub expires: String,
    /// The holder's date of birth, `YYYY-MM-DD`.
    pub born: String,
    /// Read from the machine-readable zone with every check digit right.
    pub mrz_checked: bool,
}

/// A registration as a clerk sees it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RegistrationView {
    pub id: String,
    pub user_id: String,
    pub username: String,
    pub name: Option<String>,
    /// `online` or `service_centre`.
    pub channel: String,
    /// `pending`, `approved`, `rejected` or `withdrawn`.
    pub state: String,
    pub submitted_at: Option<i64>,
    pub document: DocumentView,
    /// Cosine of the document's portrait against the live face.
    pub match_score: Option<f32>,
    /// The threshold the score had to reach.
    pub match_threshold: f32,
    /// Whether the pictures can still be looked at (only while pending).
    pub images: bool,
    pub decided_at: Option<i64>,
    /// The clerk's account id.
    pub decided_by: Option<String>,
    pub reason: Option<String>,
}

fn view(c: &mut AnyConnection, r: Registration) -> StoreResult<RegistrationView> {
    let user = users::find(c, &r.user_id)?;
    let images = r.state == State::Pending && registrations::evidence(c, &r.id)?.is_some();
    Ok(RegistrationView {
        username: user
            .as_ref()
            .map(|u| u.username.clone())
            .unwrap_or_default(),
        name: user.and_then(|u| u.name),
        id: r.id,
        user_id: r.user_id,
        channel: r.channel.name().to_string(),
        state: r.state.name().to_string(),
        submitted_at: r.submitted_at,
        document: DocumentView {
            kind: r.document.kind,
            number: r.document.number,
            country: r.document.country,
            expires: r.document.expires,
            born: r.document.born,
            mrz_checked: r.document.mrz_checked,
        },
        match_score: r.match_score,
        match_threshold: matcher::thresholds::DOCUMENT_COSINE,
        images,
        decided_at: r.decided_at,
        decided_by: r.decided_by,
        reason: r.reason,
    })
}

fn not_found(id: &str) -> AdminError {
    AdminError::NotFound {
        resource: Resource::Registration,
        id: id.to_string(),
    }
}

/// Registrations in `state` (every one but drafts when none is given), oldest first.
pub fn list(
    svc: &Service,
    state: Option<&str>,
    limit: Option<i64>,
) -> AdminResult<Vec<RegistrationView>> {
    let state = match state {
        None => None,
        Some(s) => Some(
            State::parse(s)
                .filter(|s| *s != State::Draft)
                .ok_or_else(|| invalid("state", "one of pending, approved, rejected, withdrawn"))?,
        ),
    };
    let limit = limit.unwrap_or(100);
    if !(1..=MAX_LIST).contains(&limit) {
        return Err(invalid("limit", format!("between 1 and {MAX_LIST}")));
    }
    Ok(svc.db.run(|c| {
        registrations::list(c, state, limit)?
            .into_iter()
            .map(|r| view(c, r))
            .collect()
    })?)
}

pub fn show(svc: &Service, id: &str) -> AdminResult<RegistrationView> {
    svc.db.run(|c| {
        Ok(
            match registrations::find(c, id)?.filter(|r| r.state != State::Draft) {
                Some(r) => Ok(view(c, r)?),
                None => Err(not_found(id)),
            },
        )
    })?
}

/// Which picture of a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Picture {
    /// The photo of the identity document.
    Document,
    /// The live frame the template came from.
    Face,
}

impl Picture {
    pub fn parse(s: &str) -> Option<Picture> {
        match s {
            "document" => Some(Picture::Document),
            "face" => Some(Picture::Face),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Picture::Document => "document",
            Picture::Face => "face",
        }
    }
}

/// A picture of a pending registration (a JPEG). The look is audited.
pub fn picture(
    svc: &Service,
    actor: &Actor,
    id: &str,
    which: Picture,
    now: i64,
) -> AdminResult<Vec<u8>> {
    svc.db.try_tx(|c| {
        let r = registrations::find(c, id)?
            .filter(|r| r.state == State::Pending)
            .ok_or_else(|| not_found(id))?;
        let e = registrations::evidence(c, id)?.ok_or_else(|| not_found(id))?;
        let (sealed, part) = match which {
            Picture::Document => (Some(e.document_image), "document-image"),
            Picture::Face => (e.face_image, "face-image"),
        };
        let sealed = sealed.ok_or_else(|| not_found(id))?;
        let jpeg = biometrics::open_bytes(svc, c, &r.user_id, &context(id, part), &sealed)?
            .ok_or_else(|| not_found(id))?;
        let detail = json!({ "registration": id, "picture": which.name(), "by": actor.to_json() });
        let entry = Entry {
            kind: Kind::RegistrationEvidenceViewed,
            user_id: Some(&r.user_id),
            client_id: None,
            detail,
        };
        audit::append_from(c, entry, actor.ip(), now)?;
        Ok(jpeg)
    })
}

/// Takes a pending registration for a decision (its row locked): two clerks deciding at
/// once cannot both decide.
fn pending(c: &mut AnyConnection, id: &str) -> AdminResult<Registration> {
    let r = registrations::lock(c, id)?
        .filter(|r| r.state != State::Draft)
        .ok_or_else(|| not_found(id))?;
    if r.state != State::Pending {
        return Err(invalid(
            "state",
            format!("this registration is {} already", r.state.name()),
        ));
    }
    Ok(r)
}

fn decided(
    c: &mut AnyConnection,
    mut r: Registration,
    state: State,
    actor: &Actor,
    reason: Option<String>,
    now: i64,
) -> StoreResult<Registration> {
    registrations::destroy_evidence(c, &r.id)?;
    r.state = state;
    r.decided_at = Some(now);
    r.decided_by = match actor {
        Actor::Admin { user_id, .. } => Some(user_id.clone()),
        Actor::Cli { os_user } => os_user.clone(),
        Actor::Registration { .. } => None,
    };
    r.reason = reason;
    registrations::save(c, &r)?;
    Ok(r)
}

fn lang_of(r: &Registration) -> Lang {
    Lang::choose(std::slice::from_ref(&r.locale), None)
}

/// Approves a pending registration: its live template becomes the citizen's face factor
/// (replacing an earlier one), the pictures are destroyed, and the citizen is told.
pub fn approve(svc: &Service, actor: &Actor, id: &str, now: i64) -> AdminResult<RegistrationView> {
    let (r, view) = svc.db.try_tx(|c| {
        let r = pending(c, id)?;
        if biometric_consents::active(c, &r.user_id, "face")?.is_none() {
            return Err(invalid("state", "the citizen has withdrawn their consent"));
        }
        let e = registrations::evidence(c, id)?.ok_or_else(|| not_found(id))?;
        let template = e
            .live_template
            .as_deref()
            .map(|sealed| {
                biometrics::open_bytes(svc, c, &r.user_id, &context(id, "live-template"), sealed)
            })
            .transpose()?
            .flatten()
            .and_then(|b| matcher::Template::from_bytes(&b).ok())
            .ok_or_else(|| invalid("state", "the registration's live capture cannot be read"))?;
        users::delete_credentials(c, &r.user_id, CredentialKind::Face)?;
        let credential = crypto::random_id();
        let sealed = biometrics::seal(
            svc,
            c,
            &r.user_id,
            CredentialKind::Face,
            &credential,
            &template,
            now,
        )?;
        users::insert_credential(
            c,
            &Credential {
                id: credential,
                user_id: r.user_id.clone(),
                kind: CredentialKind::Face,
                label: Some(template.model().to_string()),
                data: sealed,
                created_at: now,
                last_used_at: None,
                counter: None,
            },
        )?;
        let r = decided(c, r, State::Approved, actor, None, now)?;
        let detail = json!({
            "registration": r.id,
            "channel": r.channel.name(),
            "score": r.match_score,
            "by": actor.to_json(),
        });
        record(c, actor, Kind::RegistrationApproved, &r.user_id, detail, now)?;
        let detail = json!({ "factor": "face", "model": template.model().to_string(), "registration": r.id });
        record(c, actor, Kind::FactorEnrolled, &r.user_id, detail, now)?;
        let v = view(c, r.clone())?;
        Ok((r, v))
    })?;
    let t = lang_of(&r).texts();
    told(tell(
        svc,
        &r.user_id,
        t.registration_approved_subject,
        t.registration_approved_body,
    ));
    Ok(view)
}

/// Rejects a pending registration with a reason the citizen is told; the pictures and
/// templates are destroyed.
pub fn reject(
    svc: &Service,
    actor: &Actor,
    id: &str,
    reason: &str,
    now: i64,
) -> AdminResult<RegistrationView> {
    let reason = super::display_text("reason", reason, MAX_REASON)?;
    let (r, view) = svc.db.try_tx(|c| {
        let r = pending(c, id)?;
        let r = decided(c, r, State::Rejected, actor, Some(reason.clone()), now)?;
        let detail = json!({ "registration": r.id, "reason": reason, "by": actor.to_json() });
        record(
            c,
            actor,
            Kind::RegistrationRejected,
            &r.user_id,
            detail,
            now,
        )?;
        let v = view(c, r.clone())?;
        Ok::<_, AdminError>((r, v))
    })?;
    let t = lang_of(&r).texts();
    let body = t.registration_rejected_body.replace("{reason}", &reason);
    told(tell(
        svc,
        &r.user_id,
        t.registration_rejected_subject,
        &body,
    ));
    Ok(view)
}

/// The decision stands whether or not the notice could be sent.
fn told(sent: crate::oidc::error::OidcResult<()>) {
    if let Err(e) = sent {
        tracing::warn!(error = %e, "the citizen could not be told of the decision");
    }
}

fn record(
    c: &mut AnyConnection,
    actor: &Actor,
    kind: Kind,
    user_id: &str,
    detail: serde_json::Value,
    now: i64,
) -> StoreResult<()> {
    let entry = Entry {
        kind,
        user_id: Some(user_id),
        client_id: None,
        detail,
    };
    audit::append_from(c, entry, actor.ip(), now)
}
