//! `/users/{id}/enrolment/...`: a clerk enrols the face or voice of a citizen present at a
//! service centre (the capture filmed or recorded by the clerk's page, decided by the
//! server as online).

use super::{AppState, body, call, ok, path_id};
use crate::admin::enrolment::{self, Enrolled, Guardian, InPerson, SeenDocument};
use crate::admin::roles::Access;
use crate::admin::users::UserRef;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

/// A face capture at the counter, with what the clerk recorded.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FaceEnrolment {
    pub document: SeenDocument,
    /// The citizen read the consent text and agreed, before the clerk.
    pub consent: bool,
    /// For a citizen under the deployment's adult age.
    pub guardian: Option<Guardian>,
    /// From `.../face/begin`.
    pub challenge: String,
    /// The frames filmed for the cue, as base64 JPEG, PNG or WebP (`data:` URLs allowed).
    pub frames: Vec<String>,
}

/// A voice recording at the counter, with what the clerk recorded.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoiceEnrolment {
    pub document: SeenDocument,
    /// The citizen read the consent text and agreed, before the clerk.
    pub consent: bool,
    /// For a citizen under the deployment's adult age.
    pub guardian: Option<Guardian>,
    /// From `.../voice/begin`.
    pub challenge: String,
    /// The recording as a base64 WAV file (16-bit PCM; `data:` URL allowed).
    pub audio: String,
}

fn decoded(field: &'static str, b64: &str) -> crate::admin::AdminResult<Vec<u8>> {
    use base64::Engine;
    let b64 = b64.split_once("base64,").map_or(b64, |(_, b)| b);
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| crate::admin::invalid(field, "not base64"))
}

/// Starts a face capture for the citizen: the blink cue the clerk's page films by.
#[utoipa::path(
    operation_id = "beginFaceEnrolment",
    post,
    path = "/admin/api/v1/users/{id}/enrolment/face/begin",
    tag = "enrolment",
    params(("id" = String, Path, description = "The account id (sub)")),
    responses(
        (status = 200, description = "`{challenge, cue}`", body = Object),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn begin_face(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let id = path_id(&req);
    call(&req, &state, Access::Clerical, move |c| {
        ok(enrolment::begin_face(c.state, UserRef::Id(&id), c.now)?)
    })
    .await
}

/// Enrols the citizen's face from the capture; recorded as an approved service-centre
/// registration with the consent given in person.
#[utoipa::path(
    operation_id = "enrolFace",
    post,
    path = "/admin/api/v1/users/{id}/enrolment/face",
    tag = "enrolment",
    params(("id" = String, Path, description = "The account id (sub)")),
    request_body = FaceEnrolment,
    responses(
        (status = 200, body = Enrolled),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn enrol_face(
    req: HttpRequest,
    state: web::Data<AppState>,
    bytes: web::Bytes,
) -> HttpResponse {
    let id = path_id(&req);
    call(&req, &state, Access::Clerical, move |c| {
        let f: FaceEnrolment = body(&bytes)?;
        if f.frames.len() > crate::biometrics::MAX_FRAMES {
            return Err(crate::admin::invalid("frames", "too many frames"));
        }
        let frames = f
            .frames
            .iter()
            .map(|b| decoded("frames", b))
            .collect::<Result<Vec<_>, _>>()?;
        let actor = c.principal.actor();
        ok(enrolment::enrol_face(
            c.state,
            &actor,
            UserRef::Id(&id),
            &InPerson {
                document: f.document,
                consent: f.consent,
                guardian: f.guardian,
            },
            &f.challenge,
            &frames,
            c.now,
        )?)
    })
    .await
}

/// Starts a voice recording for the citizen: the digits to read.
#[utoipa::path(
    operation_id = "beginVoiceEnrolment",
    post,
    path = "/admin/api/v1/users/{id}/enrolment/voice/begin",
    tag = "enrolment",
    params(("id" = String, Path, description = "The account id (sub)")),
    responses(
        (status = 200, description = "`{challenge, phrase}`", body = Object),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn begin_voice(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let id = path_id(&req);
    call(&req, &state, Access::Clerical, move |c| {
        ok(enrolment::begin_voice(c.state, UserRef::Id(&id), c.now)?)
    })
    .await
}

/// Enrols the citizen's voice from the recording.
#[utoipa::path(
    operation_id = "enrolVoice",
    post,
    path = "/admin/api/v1/users/{id}/enrolment/voice",
    tag = "enrolment",
    params(("id" = String, Path, description = "The account id (sub)")),
    request_body = VoiceEnrolment,
    responses(
        (status = 200, body = Enrolled),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn enrol_voice(
    req: HttpRequest,
    state: web::Data<AppState>,
    bytes: web::Bytes,
) -> HttpResponse {
    let id = path_id(&req);
    call(&req, &state, Access::Clerical, move |c| {
        let v: VoiceEnrolment = body(&bytes)?;
        let audio = decoded("audio", &v.audio)?;
        let actor = c.principal.actor();
        ok(enrolment::enrol_voice(
            c.state,
            &actor,
            UserRef::Id(&id),
            &InPerson {
                document: v.document,
                consent: v.consent,
                guardian: v.guardian,
            },
            &v.challenge,
            &audio,
            c.now,
        )?)
    })
    .await
}

/// What the clerk recorded, checked before anything is filmed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentCheck {
    pub document: SeenDocument,
    /// The citizen read the consent text and agreed, before the clerk.
    pub consent: bool,
    /// For a citizen under the deployment's adult age.
    pub guardian: Option<Guardian>,
}

/// Checks the account, the consent, the document and (for a minor) the guardian, before
/// the capture; nothing is written.
#[utoipa::path(
    operation_id = "checkEnrolment",
    post,
    path = "/admin/api/v1/users/{id}/enrolment/check",
    tag = "enrolment",
    params(("id" = String, Path, description = "The account id (sub)")),
    request_body = EnrolmentCheck,
    responses(
        (status = 204),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn check(
    req: HttpRequest,
    state: web::Data<AppState>,
    bytes: web::Bytes,
) -> HttpResponse {
    let id = path_id(&req);
    call(&req, &state, Access::Clerical, move |c| {
        let f: EnrolmentCheck = body(&bytes)?;
        let form = InPerson {
            document: f.document,
            consent: f.consent,
            guardian: f.guardian,
        };
        enrolment::check(
            c.state,
            &c.principal.actor(),
            UserRef::Id(&id),
            &form,
            c.now,
        )?;
        Ok(super::Reply::NoContent)
    })
    .await
}
