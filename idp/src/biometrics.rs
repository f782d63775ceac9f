//! What enrolment and sign-in with the face share: the matcher's networks, loaded once on
//! first use; a bound on how many captures are analysed at once (beyond it the answer is
//! "busy, retry", so a burst of captures never takes every worker from token requests);
//! the capture challenge the server words (`Cue`, drawn at random, single use, timed); and
//! the sealing of templates under the citizen's data key.

use crate::crypto;
use crate::keys::user_key;
use crate::oidc::error::{ErrorCode, OidcError, OidcResult};
use crate::service::Service;
use crate::store::{AnyConnection, StoreResult, challenges};
use authenticators::face::{Cue, FaceEngine, Refusal, Unusable};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// A capture must arrive within this many seconds of its challenge.
pub const CAPTURE_TTL: i64 = 120;
/// Captures analysed at once, per instance.
pub const MAX_CONCURRENT: usize = 2;

#[derive(Default)]
pub struct Biometrics {
    engine: OnceLock<Result<Arc<FaceEngine>, String>>,
    busy: AtomicUsize,
}

/// A slot of the matcher, given back when dropped.
pub struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Biometrics {
    /// The face networks (loaded on first use, from `MATCHER_MODELS_DIR` or the source
    /// tree's `matcher/models`), with a free slot to run them; `503` when none is free.
    pub fn face(&self) -> OidcResult<(Arc<FaceEngine>, Slot<'_>)> {
        let engine = self
            .engine
            .get_or_init(|| {
                FaceEngine::load(&matcher::models::ModelStore::from_env())
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|e| {
                tracing::error!(error = %e, "the face networks cannot be loaded");
                OidcError::new(
                    ErrorCode::TemporarilyUnavailable,
                    "sign-in with the face is not available now",
                )
            })?;
        let taken = self
            .busy
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_CONCURRENT).then_some(n + 1)
            })
            .is_ok();
        if !taken {
            let mut e = OidcError::new(
                ErrorCode::TemporarilyUnavailable,
                "many people are using face sign-in right now; try again in a few seconds",
            );
            e.retry_after = Some(5);
            return Err(e);
        }
        Ok((engine, Slot(&self.busy)))
    }
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
}

impl CapturePurpose {
    fn challenge(self) -> &'static str {
        match self {
            CapturePurpose::Enrol => "face-enrol",
            CapturePurpose::SignIn => "face-sign-in",
        }
    }
}

/// A new capture challenge with a blink asked for at a random moment; its id and cue.
pub fn begin(
    svc: &Service,
    user_id: &str,
    purpose: CapturePurpose,
    now: i64,
) -> OidcResult<(String, Cue)> {
    let r = u32::from_le_bytes(crypto::random_bytes::<4>());
    let cue = Cue::at(800 + r % 800);
    let issued = Issued {
        cue,
        issued_at: now,
    };
    let id = crypto::random_token();
    let state = serde_json::to_string(&issued).map_err(OidcError::server)?;
    svc.db.tx(|c| {
        challenges::clear(c, user_id, purpose.challenge())?;
        challenges::insert(
            c,
            &id,
            user_id,
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
    user_id: &str,
    challenge: &str,
    purpose: CapturePurpose,
    now: i64,
) -> OidcResult<Option<Issued>> {
    let state = svc
        .db
        .run(|c| challenges::peek(c, challenge, user_id, purpose.challenge(), now))?;
    Ok(state.and_then(|s| serde_json::from_str(&s).ok()))
}

/// Uses up a challenge, in the caller's transaction: true when it was live, is the one
/// the capture was analysed for, and the capture took at least as long as it should (a
/// capture sent sooner was not filmed live).
pub fn take(
    conn: &mut AnyConnection,
    user_id: &str,
    challenge: &str,
    purpose: CapturePurpose,
    analysed: &Issued,
    now: i64,
) -> StoreResult<bool> {
    let Some(state) = challenges::take(conn, challenge, user_id, purpose.challenge(), now)? else {
        return Ok(false);
    };
    let Ok(issued) = serde_json::from_str::<Issued>(&state) else {
        return Ok(false);
    };
    let long_enough = now - issued.issued_at >= i64::from(issued.cue.duration_ms() / 1000) - 1;
    Ok(issued.cue == analysed.cue && issued.issued_at == analysed.issued_at && long_enough)
}

/// Decodes the frames and decides liveness, off the caller's transaction (it takes a
/// while); the live face's template, or why not.
pub fn analyse(
    svc: &Service,
    frames: &[Vec<u8>],
    cue: &Cue,
) -> OidcResult<Result<matcher::Template, Refusal>> {
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
    Ok(live.map(|l| l.template))
}

fn context(credential_id: &str) -> String {
    format!("face-template:{credential_id}")
}

/// A template sealed under the citizen's data key (created on first use).
pub fn seal(
    svc: &Service,
    conn: &mut AnyConnection,
    user_id: &str,
    credential_id: &str,
    template: &matcher::Template,
    now: i64,
) -> StoreResult<Vec<u8>> {
    let key = user_key::get_or_create(conn, &svc.kek, user_id, now)
        .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
    Ok(key.seal(&template.to_bytes(), &context(credential_id)))
}

/// Opens a sealed template; `None` if it cannot be opened (another key, altered bytes).
pub fn open(
    svc: &Service,
    conn: &mut AnyConnection,
    user_id: &str,
    credential_id: &str,
    sealed: &[u8],
) -> StoreResult<Option<matcher::Template>> {
    let Some(key) = user_key::existing(conn, &svc.kek, user_id)
        .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?
    else {
        return Ok(None);
    };
    Ok(key
        .open(sealed, &context(credential_id))
        .ok()
        .and_then(|b| matcher::Template::from_bytes(&b).ok()))
}
