//! What enrolment and sign-in with the face share: the matcher's networks, loaded once on
//! first use; a bound on how many captures are analysed at once (beyond it the answer is
//! "busy, retry", so a burst of captures never takes every worker from token requests);
//! the capture challenge the server words (`Cue`, drawn at random, single use, timed); and
//! the sealing of templates under the citizen's data key.

use crate::crypto;
use crate::keys::user_key;
use crate::oidc::error::{ErrorCode, OidcError, OidcResult};
use crate::service::Service;
use crate::store::users::CredentialKind;
use crate::store::{AnyConnection, StoreResult, captures};
use authenticators::face::{Cue, FaceEngine, Refusal, Unusable};
use authenticators::voice::VoiceEngine;
use matcher::Gallery;
use matcher::cancellable::Transform;
use matcher::head_turn::Side;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

/// A capture must arrive within this many seconds of its challenge.
pub const CAPTURE_TTL: i64 = 120;
/// Most frames of one face capture.
pub const MAX_FRAMES: usize = authenticators::face::MAX_FRAMES;
/// The largest voice recording accepted.
pub const MAX_RECORDING_BYTES: usize = authenticators::voice::MAX_BYTES;
/// Captures analysed at once, per instance.
pub const MAX_CONCURRENT: usize = 2;

#[derive(Default)]
pub struct Biometrics {
    engine: OnceLock<Result<Arc<FaceEngine>, String>>,
    voice: OnceLock<Result<Arc<VoiceEngine>, String>>,
    /// The template transforms by generation and dimension, made once.
    transforms: std::sync::Mutex<std::collections::HashMap<(u32, usize), Arc<Transform>>>,
    busy: AtomicUsize,
    /// The 1:N index of face templates.
    index: RwLock<Index>,
}

/// What the 1:N index was brought up to date with: the face credentials' count, newest
/// creation time and largest id, and the transform generation.
type IndexVersion = ((i64, Option<i64>, Option<String>), u32);

/// The 1:N index: protected face templates, a gallery per transform generation, each
/// entry under its credential's id. Kept up to date incrementally: templates added since
/// are opened and added, those destroyed are dropped; a renewed transform rebuilds it.
#[derive(Default)]
struct Index {
    version: Option<IndexVersion>,
    /// Credential id to its citizen.
    members: std::collections::HashMap<String, String>,
    galleries: Vec<(u32, Gallery)>,
}

/// A slot of the matcher, given back when dropped.
pub struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
        crate::metrics::get().matcher_busy.dec();
    }
}

impl Biometrics {
    /// The face networks (loaded on first use, from `MATCHER_MODELS_DIR` or the source
    /// tree's `matcher/models`), with a free slot to run them; `503` when none is free.
    pub fn face(&self) -> OidcResult<(Arc<FaceEngine>, Slot<'_>)> {
        let engine = loaded(&self.engine, "face", || {
            FaceEngine::load(&matcher::models::ModelStore::from_env())
        })?;
        Ok((engine, self.slot()?))
    }

    /// The speaker encoder, as `face`.
    pub fn voice(&self) -> OidcResult<(Arc<VoiceEngine>, Slot<'_>)> {
        let engine = loaded(&self.voice, "voice", || {
            VoiceEngine::load(&matcher::models::ModelStore::from_env())
        })?;
        Ok((engine, self.slot()?))
    }

    /// One of the `MAX_CONCURRENT` slots of the matcher, face and voice alike.
    fn slot(&self) -> OidcResult<Slot<'_>> {
        let taken = self
            .busy
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_CONCURRENT).then_some(n + 1)
            })
            .is_ok();
        if !taken {
            let mut e = OidcError::new(
                ErrorCode::TemporarilyUnavailable,
                "many people are using biometric sign-in right now; try again in a few seconds",
            );
            e.retry_after = Some(5);
            return Err(e);
        }
        crate::metrics::get().matcher_busy.inc();
        Ok(Slot(&self.busy))
    }
}

/// An engine loaded once; an engine that cannot be loaded makes its factor unavailable.
fn loaded<E>(
    cell: &OnceLock<Result<Arc<E>, String>>,
    what: &str,
    load: impl FnOnce() -> Result<E, matcher::MatcherError>,
) -> OidcResult<Arc<E>> {
    cell.get_or_init(|| load().map(Arc::new).map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| {
            tracing::error!(error = %e, modality = what, "the matcher's networks cannot be loaded");
            OidcError::new(
                ErrorCode::TemporarilyUnavailable,
                "biometric sign-in is not available now",
            )
        })
}

/// What a capture was asked for: stored with its challenge.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Issued {
    pub cue: Cue,
    pub issued_at: i64,
}

/// Why captures exist: enrolment or sign-in (their challenges are not interchangeable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapturePurpose {
    Enrol,
    SignIn,
    /// The live face of a registration, compared with the document's portrait.
    Register,
    VoiceEnrol,
    VoiceSignIn,
    /// A face filmed by a clerk's camera at a service centre.
    ServiceCentre,
    /// A voice recorded at a service centre.
    ServiceCentreVoice,
}

impl CapturePurpose {
    fn challenge(self) -> &'static str {
        match self {
            CapturePurpose::Enrol => "face-enrol",
            CapturePurpose::SignIn => "face-sign-in",
            CapturePurpose::Register => "face-register",
            CapturePurpose::VoiceEnrol => "voice-enrol",
            CapturePurpose::VoiceSignIn => "voice-sign-in",
            CapturePurpose::ServiceCentre => "face-service-centre",
            CapturePurpose::ServiceCentreVoice => "voice-service-centre",
        }
    }
}

/// A new capture challenge: a blink asked for at a random moment, then a turn of the head to
/// a random side at another; its id and cue.
pub fn begin(
    svc: &Service,
    holder: &str,
    purpose: CapturePurpose,
    now: i64,
) -> OidcResult<(String, Cue)> {
    let [r, side, later] = crypto::random_bytes::<3>().map(u32::from);
    let blink = 600 + r * 600 / 256;
    let side = if side % 2 == 0 {
        Side::Left
    } else {
        Side::Right
    };
    let cue = Cue::new(blink, side, blink + 1400 + later * 400 / 256);
    let issued = Issued {
        cue,
        issued_at: now,
    };
    let id = crypto::random_token();
    let state = serde_json::to_string(&issued).map_err(OidcError::server)?;
    svc.db.tx(|c| {
        captures::replace(
            c,
            &id,
            holder,
            purpose.challenge(),
            &state,
            now + CAPTURE_TTL,
        )
    })?;
    Ok((id, cue))
}

/// The cue of a live challenge, without using it up.
pub fn cue_of(
    svc: &Service,
    holder: &str,
    challenge: &str,
    purpose: CapturePurpose,
    now: i64,
) -> OidcResult<Option<Issued>> {
    let state = svc
        .db
        .run(|c| captures::peek(c, challenge, holder, purpose.challenge(), now))?;
    Ok(state.and_then(|s| serde_json::from_str(&s).ok()))
}

/// Uses up a challenge, in the caller's transaction: true when it was live, is the one
/// the capture was analysed for, and the capture took at least as long as it should (a
/// capture sent sooner was not filmed live).
pub fn take(
    conn: &mut AnyConnection,
    holder: &str,
    challenge: &str,
    purpose: CapturePurpose,
    analysed: &Issued,
    now: i64,
) -> StoreResult<bool> {
    let Some(state) = captures::take(conn, challenge, holder, purpose.challenge(), now)? else {
        return Ok(false);
    };
    let Ok(issued) = serde_json::from_str::<Issued>(&state) else {
        return Ok(false);
    };
    let long_enough = now - issued.issued_at >= i64::from(issued.cue.duration_ms() / 1000) - 1;
    Ok(issued.cue == analysed.cue && issued.issued_at == analysed.issued_at && long_enough)
}

/// What a voice recording was asked for: digits to read aloud, chosen at random. (No
/// recogniser checks what was said; the digits give the citizen something natural to say
/// for the 3 s the threshold was calibrated on.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phrase {
    pub digits: String,
    pub issued_at: i64,
}

/// Digits read aloud in a recording.
const PHRASE_DIGITS: usize = 6;

/// A new voice challenge: its id and the digits to read.
pub fn begin_voice(
    svc: &Service,
    holder: &str,
    purpose: CapturePurpose,
    now: i64,
) -> OidcResult<(String, Phrase)> {
    let digits: Vec<String> = crypto::random_bytes::<PHRASE_DIGITS>()
        .iter()
        .map(|b| (b % 10).to_string())
        .collect();
    let phrase = Phrase {
        digits: digits.join(" "),
        issued_at: now,
    };
    let id = crypto::random_token();
    let state = serde_json::to_string(&phrase).map_err(OidcError::server)?;
    svc.db.tx(|c| {
        captures::replace(
            c,
            &id,
            holder,
            purpose.challenge(),
            &state,
            now + CAPTURE_TTL,
        )
    })?;
    Ok((id, phrase))
}

/// Uses up a voice challenge in the caller's transaction: true when it was live.
pub fn take_voice(
    conn: &mut AnyConnection,
    holder: &str,
    challenge: &str,
    purpose: CapturePurpose,
    now: i64,
) -> StoreResult<bool> {
    Ok(captures::take(conn, challenge, holder, purpose.challenge(), now)?.is_some())
}

/// Whether a voice challenge is live (it stays so).
pub fn voice_challenge_live(
    svc: &Service,
    holder: &str,
    challenge: &str,
    purpose: CapturePurpose,
    now: i64,
) -> OidcResult<bool> {
    Ok(svc
        .db
        .run(|c| captures::peek(c, challenge, holder, purpose.challenge(), now))?
        .is_some())
}

/// Decodes a recording and makes its template, off the caller's transaction.
pub fn analyse_voice(
    svc: &Service,
    wav: &[u8],
) -> OidcResult<Result<matcher::Template, authenticators::voice::Unusable>> {
    let audio = match VoiceEngine::decode(wav) {
        Ok(a) => a,
        Err(u) => return Ok(Err(u)),
    };
    let (engine, _slot) = svc.biometrics.voice()?;
    engine.template(&audio).map_err(OidcError::server)
}

/// A live capture: the template and the frame it was made from.
pub struct Capture {
    pub template: matcher::Template,
    /// The frame with the eyes most open, as decoded.
    pub frame: image::RgbImage,
}

/// Decodes the frames and decides liveness, off the caller's transaction (it takes a
/// while); the live face's template, or why not.
pub fn analyse(
    svc: &Service,
    frames: &[Vec<u8>],
    cue: &Cue,
) -> OidcResult<Result<matcher::Template, Refusal>> {
    Ok(analyse_capture(svc, frames, cue)?.map(|c| c.template))
}

/// `analyse`, keeping the frame the template came from (for a clerk to look at).
pub fn analyse_capture(
    svc: &Service,
    frames: &[Vec<u8>],
    cue: &Cue,
) -> OidcResult<Result<Capture, Refusal>> {
    if frames.len() != cue.frames {
        return Ok(Err(Refusal::Unusable(Unusable::Unreadable)));
    }
    let mut images = Vec::with_capacity(frames.len());
    for f in frames {
        match FaceEngine::decode(f) {
            Ok(img) => images.push(img),
            Err(u) => return Ok(Err(Refusal::Unusable(u))),
        }
    }
    let (engine, _slot) = svc.biometrics.face()?;
    let live = engine.live(&images, cue).map_err(OidcError::server)?;
    Ok(live.map(|l| Capture {
        template: l.template,
        frame: images.swap_remove(l.frame.min(images.len() - 1)),
    }))
}

/// Seals bytes of the citizen's biometric data (a template, a picture) under their data
/// key (created on first use), bound to `context`.
pub fn seal_bytes(
    svc: &Service,
    conn: &mut AnyConnection,
    user_id: &str,
    context: &str,
    bytes: &[u8],
    now: i64,
) -> StoreResult<Vec<u8>> {
    let key = user_key::get_or_create(conn, &svc.kek, user_id, now)
        .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
    key.seal(bytes, context)
        .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))
}

/// Opens what `seal_bytes` sealed; `None` if it cannot be opened (another key or context,
/// altered bytes, a key deleted).
pub fn open_bytes(
    svc: &Service,
    conn: &mut AnyConnection,
    user_id: &str,
    context: &str,
    sealed: &[u8],
) -> StoreResult<Option<Vec<u8>>> {
    let Some(key) = user_key::existing(conn, &svc.kek, user_id)
        .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?
    else {
        return Ok(None);
    };
    Ok(key.open(sealed, context).ok())
}

fn context(kind: CredentialKind, credential_id: &str) -> String {
    format!("{}-template:{credential_id}", kind.name())
}

/// A stored template: protected by the secret orthogonal transform of its generation
/// (cancellable templates, ISO/IEC 24745). Generation 0 is a template stored before
/// templates were protected.
#[derive(Debug, Clone)]
pub struct Protected {
    pub template: matcher::Template,
    pub generation: u32,
}

/// The setting that holds the transform generation new templates are protected with.
const TRANSFORM: &str = "biometric-transform";
/// What precedes a protected template inside its sealed bytes (then the generation).
const PROTECTED_MAGIC: &[u8; 3] = b"CT1";

/// The generation new templates are protected with (1 until renewed).
pub fn current_generation(conn: &mut AnyConnection) -> StoreResult<u32> {
    let stored = crate::store::settings::get(conn, TRANSFORM)?;
    Ok(stored
        .and_then(|(v, _)| serde_json::from_str::<serde_json::Value>(&v).ok())
        .and_then(|v| v["generation"].as_u64())
        .map_or(1, |g| g as u32))
}

/// The transform of a generation for templates of `dim` dimensions.
fn transform(svc: &Service, generation: u32, dim: usize) -> Arc<Transform> {
    let mut cache = svc
        .biometrics
        .transforms
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    cache
        .entry((generation, dim))
        .or_insert_with(|| {
            Arc::new(Transform::from_secret(
                &svc.kek.biometric_secret(generation),
                dim,
            ))
        })
        .clone()
}

/// A live template as the stored ones of `generation` are: transformed the same way.
pub fn protect(
    svc: &Service,
    generation: u32,
    live: &matcher::Template,
) -> Result<matcher::Template, matcher::MatcherError> {
    if generation == 0 {
        return Ok(live.clone());
    }
    transform(svc, generation, live.dim()).apply(live)
}

fn protected_bytes(generation: u32, t: &matcher::Template) -> Vec<u8> {
    let mut out = PROTECTED_MAGIC.to_vec();
    out.extend_from_slice(&generation.to_be_bytes());
    out.extend_from_slice(&t.to_bytes());
    out
}

fn read_protected(bytes: &[u8]) -> Option<Protected> {
    match bytes.strip_prefix(PROTECTED_MAGIC) {
        Some(rest) if rest.len() > 4 => {
            let (g, t) = rest.split_at(4);
            Some(Protected {
                generation: u32::from_be_bytes(g.try_into().ok()?),
                template: matcher::Template::from_bytes(t).ok()?,
            })
        }
        Some(_) => None,
        None => Some(Protected {
            generation: 0,
            template: matcher::Template::from_bytes(bytes).ok()?,
        }),
    }
}

/// A template of credential `kind` (face or voice), protected by the current transform
/// and sealed under the citizen's data key (created on first use), bound to its credential.
pub fn seal(
    svc: &Service,
    conn: &mut AnyConnection,
    user_id: &str,
    kind: CredentialKind,
    credential_id: &str,
    template: &matcher::Template,
    now: i64,
) -> StoreResult<Vec<u8>> {
    let generation = current_generation(conn)?;
    let protected = protect(svc, generation, template)
        .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
    let ctx = context(kind, credential_id);
    let bytes = protected_bytes(generation, &protected);
    seal_bytes(svc, conn, user_id, &ctx, &bytes, now)
}

/// Opens a sealed template credential; `None` if it cannot be opened (another key,
/// altered bytes).
pub fn open(
    svc: &Service,
    conn: &mut AnyConnection,
    cred: &crate::store::users::Credential,
) -> StoreResult<Option<Protected>> {
    let ctx = context(cred.kind, &cred.id);
    Ok(open_bytes(svc, conn, &cred.user_id, &ctx, &cred.data)?.and_then(|b| read_protected(&b)))
}

/// Compares a live template with a stored one (protecting the live one as the stored one
/// is), at the model's calibrated threshold.
pub fn compare(
    svc: &Service,
    live: &matcher::Template,
    enrolled: &Protected,
) -> Result<(bool, f32), matcher::MatcherError> {
    let live = protect(svc, enrolled.generation, live)?;
    let score = live.cosine(&enrolled.template)?;
    let threshold = matcher::thresholds::for_model(enrolled.template.model()).ok_or_else(|| {
        matcher::MatcherError::InvalidTemplate("no threshold for this model".into())
    })?;
    Ok((score >= threshold.cosine, score))
}

/// Renews the transform (a leaked gallery becomes unlinkable to the new one): every face
/// and voice template is moved to a new generation, a batch per transaction. Returns the
/// new generation and how many templates moved.
pub fn renew_transform(svc: &Service, now: i64) -> StoreResult<(u32, usize)> {
    let generation = svc.db.tx(|c| {
        let next = current_generation(c)? + 1;
        crate::store::settings::put(
            c,
            TRANSFORM,
            &serde_json::json!({ "generation": next }).to_string(),
            now,
        )?;
        Ok(next)
    })?;
    let mut moved = 0;
    for kind in [CredentialKind::Face, CredentialKind::Voice] {
        let ids: Vec<String> = svc.db.run(|c| {
            Ok(crate::store::users::credentials_of_kind(c, kind)?
                .into_iter()
                .map(|k| k.id)
                .collect())
        })?;
        for batch in ids.chunks(200) {
            moved += svc.db.tx(|c| {
                let mut n = 0;
                for id in batch {
                    let Some(cred) = crate::store::users::credential_by_id(c, id)? else {
                        continue;
                    };
                    let Some(p) = open(svc, c, &cred)? else {
                        continue;
                    };
                    if p.generation == generation {
                        continue;
                    }
                    let raw = if p.generation == 0 {
                        p.template
                    } else {
                        transform(svc, p.generation, p.template.dim())
                            .invert(&p.template)
                            .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?
                    };
                    let data = seal(svc, c, &cred.user_id, kind, &cred.id, &raw, now)?;
                    crate::store::users::replace_data(c, &cred.id, &data)?;
                    n += 1;
                }
                Ok(n)
            })?;
        }
    }
    Ok((generation, moved))
}

/// 1:N identification over the face templates of every citizen who enrolled (enrolment
/// needs consent; withdrawal deletes the template). The index lives in memory and is
/// brought up to date whenever the set of templates in the database changed, so every
/// instance follows additions and withdrawals made through any other. The best candidate must reach the
/// calibrated threshold and lead the second by `identify_margin`.
pub fn identify(svc: &Service, live: &matcher::Template) -> OidcResult<Option<String>> {
    let index = index(svc)?;
    let mut top = Vec::new();
    for (generation, gallery) in index.galleries.iter().filter(|(_, g)| !g.is_empty()) {
        let probe = protect(svc, *generation, live).map_err(OidcError::server)?;
        top.extend(gallery.top_k(&probe, 2).map_err(OidcError::server)?);
    }
    top.sort_by(|a, b| b.score.total_cmp(&a.score));
    let Some(best) = top.first() else {
        return Ok(None);
    };
    let threshold = matcher::thresholds::for_model(live.model())
        .ok_or_else(|| OidcError::server("no threshold for the live template's model"))?;
    let margin = top
        .get(1)
        .map_or(f32::INFINITY, |second| best.score - second.score);
    let found = best.score >= threshold.cosine && margin >= svc.config.biometrics.identify_margin;
    Ok(found
        .then(|| index.members.get(&best.id).cloned())
        .flatten())
}

/// The 1:N index, brought up to date with the database first if templates were added or
/// destroyed through any instance since.
fn index(svc: &Service) -> OidcResult<std::sync::RwLockReadGuard<'_, Index>> {
    let version = svc.db.run(|c| {
        Ok((
            crate::store::users::kind_version(c, CredentialKind::Face)?,
            current_generation(c)?,
        ))
    })?;
    fn poisoned<T>(_: T) -> OidcError {
        OidcError::server("the 1:N index is unusable after a panic")
    }
    {
        let index = svc.biometrics.index.read().map_err(poisoned)?;
        if index.version.as_ref() == Some(&version) {
            return Ok(index);
        }
    }
    {
        let mut index = svc.biometrics.index.write().map_err(poisoned)?;
        if index.version.as_ref() != Some(&version) {
            update(svc, &mut index, version)?;
        }
    }
    svc.biometrics.index.read().map_err(poisoned)
}

fn update(svc: &Service, index: &mut Index, version: IndexVersion) -> OidcResult<()> {
    if index.version.as_ref().map(|v| v.1) != Some(version.1) {
        // A renewed transform re-sealed every template: start again.
        *index = Index::default();
    }
    let ids: std::collections::HashSet<String> = svc
        .db
        .run(|c| crate::store::users::credential_ids_of_kind(c, CredentialKind::Face))?
        .into_iter()
        .collect();
    let before = index.members.len();
    index.members.retain(|cred, _| ids.contains(cred));
    if index.members.len() < before {
        let members = &index.members;
        for (_, gallery) in &mut index.galleries {
            gallery.retain(|cred| members.contains_key(cred));
        }
    }
    let added: Vec<&String> = ids
        .iter()
        .filter(|id| !index.members.contains_key(*id))
        .collect();
    let rows = svc.db.run(|c| {
        let creds = if index.members.is_empty() {
            crate::store::users::credentials_of_kind(c, CredentialKind::Face)?
        } else {
            let mut creds = Vec::with_capacity(added.len());
            for id in &added {
                creds.extend(crate::store::users::credential_by_id(c, id)?);
            }
            creds
        };
        let mut out = Vec::with_capacity(creds.len());
        for cred in creds {
            if let Some(p) = open(svc, c, &cred)? {
                out.push((cred, p));
            }
        }
        Ok(out)
    })?;
    // The current model's templates, a gallery per generation; an older model's are left
    // out.
    let model = matcher::face::embed::model_id();
    for (cred, p) in rows {
        if *p.template.model() != model {
            tracing::warn!("a face template of another model is not in the 1:N index");
            continue;
        }
        let i = match index.galleries.iter().position(|(g, _)| *g == p.generation) {
            Some(i) => i,
            None => {
                let gallery = Gallery::new(model.clone(), p.template.dim());
                index.galleries.push((p.generation, gallery));
                index.galleries.len() - 1
            }
        };
        if index.galleries[i]
            .1
            .add(cred.id.clone(), &p.template)
            .is_err()
        {
            tracing::warn!("a face template of another dimension is not in the 1:N index");
            continue;
        }
        index.members.insert(cred.id, cred.user_id);
    }
    index.version = Some(version);
    Ok(())
}

#[cfg(test)]
pub(crate) mod testing {
    use authenticators::face::Cue;
    use matcher::face::{FaceLocation, FacePipeline, load_image};
    use matcher::head_turn::Side;
    use matcher::liveness::synthetic;

    fn fixture(photo: &str) -> image::RgbImage {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../matcher/tests/fixtures");
        load_image(&dir.join(photo)).expect("fixture")
    }

    fn png(img: &image::RgbImage) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png)
            .expect("png");
        out.into_inner()
    }

    /// A photograph of `photo` held to the camera for `cue`, its eyes shut just inside the
    /// blink's window (a synthetic blink) and its head turned to the asked side just inside
    /// the turn's (a synthetic turn), as PNG frames.
    pub fn capture(photo: &str, cue: &Cue) -> Vec<Vec<u8>> {
        let img = fixture(photo);
        let pipeline = FacePipeline::load(&matcher::models::ModelStore::from_env()).unwrap();
        let sample = pipeline
            .sample(&img, FaceLocation::Detect { upsample: false })
            .unwrap();
        let shut = synthetic::close_eyes(&img, &sample.landmarks);
        let degrees = match cue.turn {
            Side::Left => 25.0,
            Side::Right => -25.0,
        };
        let turned = synthetic::turn_head(&img, &sample.landmarks, degrees);
        let blink = (cue.from_ms / cue.interval_ms) as usize + 2;
        let turn = (cue.turn_from_ms / cue.interval_ms) as usize + 3;
        let (open, shut, turned) = (png(&img), png(&shut), png(&turned));
        (0..cue.frames)
            .map(|i| match i {
                _ if i == blink || i == blink + 1 => shut.clone(),
                _ if (turn..turn + 4).contains(&i) => turned.clone(),
                _ => open.clone(),
            })
            .collect()
    }

    /// A synthetic identity document: a pale card with bars for its printed lines and the
    /// portrait `photo` on its left, photographed straight on (a JPEG).
    pub fn document_photo(photo: &str) -> Vec<u8> {
        let portrait = fixture(photo);
        let (w, h) = (300, 300 * portrait.height() / portrait.width().max(1));
        let portrait =
            image::imageops::resize(&portrait, w, h, image::imageops::FilterType::Triangle);
        let mut card =
            image::RgbImage::from_pixel(1000, 100 + h.max(400), image::Rgb([236, 228, 210]));
        image::imageops::overlay(&mut card, &portrait, 50, 60);
        for line in 0..6 {
            for y in 0..14 {
                for x in 420..900 - line * 40 {
                    card.put_pixel(x, 90 + line * 50 + y, image::Rgb([70, 70, 90]));
                }
            }
        }
        authenticators::face::to_jpeg(&card).expect("jpeg")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::users::{self, Credential, CredentialKind};
    use matcher::face::{FaceLocation, FacePipeline, load_image};

    const T0: i64 = 1_800_000_000;

    fn template(photo: &str) -> matcher::Template {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../matcher/tests/fixtures");
        let p = FacePipeline::load(&matcher::models::ModelStore::from_env()).unwrap();
        p.template(
            &load_image(&dir.join(photo)).unwrap(),
            FaceLocation::Detect { upsample: false },
        )
        .unwrap()
    }

    /// A second instance on the same database and key.
    fn second_instance(first: &Service) -> Service {
        let file = crate::config::FileConfig {
            data_dir: Some(first.config.data_dir.clone()),
            issuer: Some(first.config.issuer.clone()),
            database_url: Some(first.config.database_url.clone()),
            dev: Some(true),
            ..Default::default()
        };
        let config = crate::config::Config::resolve(file).unwrap();
        let db = crate::store::Db::open(&config.database_url, 4).unwrap();
        Service::new(config, db, crate::keys::kek::Kek::from_bytes(&[7; 32])).unwrap()
    }

    fn enrol(svc: &Service, user_id: &str, t: &matcher::Template) {
        svc.db
            .tx(|c| {
                let id = crypto::random_id();
                let data = seal(svc, c, user_id, CredentialKind::Face, &id, t, T0)?;
                users::insert_credential(
                    c,
                    &Credential {
                        id,
                        user_id: user_id.into(),
                        kind: CredentialKind::Face,
                        label: None,
                        data,
                        created_at: T0,
                        last_used_at: None,
                        counter: None,
                    },
                )
            })
            .unwrap();
    }

    /// Cancellable templates: what is stored is the transformed template; scores are
    /// those of the raw templates; renewing the transform moves every template, after
    /// which 1:1 and 1:N still work and the new stored template is unlinkable to the old.
    #[test]
    fn templates_are_stored_transformed_and_the_transform_renews() {
        let (_dir, svc) = crate::service::for_tests();
        let enrolled = template("obama.png");
        let probe = template("obama2.png");
        enrol(&svc, "u-anna", &enrolled);
        let stored = |svc: &Service| {
            svc.db
                .run(|c| {
                    let cred = crate::store::users::credential(c, "u-anna", CredentialKind::Face)?
                        .expect("a face");
                    open(svc, c, &cred)
                })
                .unwrap()
                .expect("opens")
        };
        let first = stored(&svc);
        assert_eq!(first.generation, 1);
        let raw = enrolled.cosine(&probe).unwrap();
        assert!(
            enrolled.cosine(&first.template).unwrap() < 0.5,
            "the stored template is not the raw one"
        );
        let (same, score) = compare(&svc, &probe, &first).unwrap();
        assert!(same && (score - raw).abs() < 1e-5, "{score} vs {raw}");
        assert_eq!(identify(&svc, &probe).unwrap().as_deref(), Some("u-anna"));

        let (generation, moved) = renew_transform(&svc, T0 + 1).unwrap();
        assert_eq!((generation, moved), (2, 1));
        let second = stored(&svc);
        assert_eq!(second.generation, 2);
        assert!(
            first.template.cosine(&second.template).unwrap().abs() < 0.4,
            "a gallery leaked before the renewal does not match the new one"
        );
        let (same, score) = compare(&svc, &probe, &second).unwrap();
        assert!(same && (score - raw).abs() < 1e-5);
        assert_eq!(identify(&svc, &probe).unwrap().as_deref(), Some("u-anna"));
        assert_eq!(identify(&svc, &template("biden.png")).unwrap(), None);
    }

    #[test]
    fn every_instance_follows_enrolments_and_withdrawals_in_its_index() {
        let (_dir, a) = crate::service::for_tests();
        let b = second_instance(&a);
        let enrolled = template("obama.png");
        let probe = template("obama2.png");
        assert_eq!(identify(&b, &probe).unwrap(), None, "nobody enrolled yet");
        enrol(&a, "u-anna", &enrolled);
        assert_eq!(identify(&b, &probe).unwrap().as_deref(), Some("u-anna"));
        // Another man is nobody.
        assert_eq!(identify(&b, &template("biden.png")).unwrap(), None);
        // A second citizen joins the index without a rebuild.
        a.db.tx(|c| {
            let joe = users::User {
                id: "u-joe".into(),
                username: "joe".into(),
                email: None,
                email_verified: false,
                name: None,
                disabled: false,
                created_at: T0,
                updated_at: T0,
                phone: None,
                phone_verified: false,
                address: None,
            };
            let password = Credential {
                id: "c-joe".into(),
                user_id: joe.id.clone(),
                kind: users::PASSWORD,
                label: None,
                data: b"unused".to_vec(),
                created_at: T0,
                last_used_at: None,
                counter: None,
            };
            users::insert_with_password(c, &joe, &password)
        })
        .unwrap();
        enrol(&a, "u-joe", &template("biden.png"));
        assert_eq!(
            identify(&b, &template("biden.png")).unwrap().as_deref(),
            Some("u-joe")
        );
        // Withdrawn on the first instance: the second's index drops her at once and keeps
        // him.
        crate::enrollment::biometric::withdraw(&a, "u-anna", crate::i18n::Lang::En, T0).unwrap();
        assert_eq!(identify(&b, &probe).unwrap(), None);
        assert_eq!(
            identify(&b, &template("biden.png")).unwrap().as_deref(),
            Some("u-joe")
        );
    }
}
