//! Decision thresholds, calibrated by `matcher eval` (see EVALUATION.md for the data, the
//! target false-match rate and the command that reproduces each figure).

use crate::template::ModelId;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// Accept when the cosine similarity is at least this.
    pub cosine: f32,
}

/// The calibrated threshold of a model, if it has one.
pub fn for_model(model: &ModelId) -> Option<Threshold> {
    if *model == crate::face::embed::model_id() {
        Some(Threshold {
            cosine: FACE_COSINE,
        })
    } else if *model == crate::voice::embed::model_id() {
        Some(Threshold {
            cosine: VOICE_COSINE,
        })
    } else {
        None
    }
}

/// dlib ResNet v1 (flip-averaged templates) cosine threshold for FMR 1e-4, calibrated on
/// the ORL faces (`matcher eval ORL_DIR --pad 0.25 --upsample`: 7 of 78,000 impostor pairs
/// at or above 0.94335), rounded up. Cross-validated on held-out people: FNMR 2.3%, no
/// false match in 14,000 impostor pairs. Scores depend on capture conditions (on tight
/// colour crops the impostor maximum is 0.917), so a deployment recalibrates on its own
/// captures: see EVALUATION.md.
pub const FACE_COSINE: f32 = 0.9434;

/// Resemblyzer GE2E cosine threshold for FMR 1% on utterances of 3 s (the length the voice
/// factor embeds), calibrated on 45 speakers of four sources pooled (`matcher eval
/// POOL_3S_DIR --fmr 0.01`: 139 of 13,999 impostor pairs at or above 0.71504), rounded up;
/// FNMR at 0.716 is 14.8%. Cross-validated on held-out speakers (identity-disjoint folds):
/// FNMR 15.8% (95% upper bound 19.3%), FMR 0.32% with 5 folds and 1.47% with 3, where more
/// held-out impostors share a room and a microphone; such impostors pass about 5% of the
/// time, and so do impostors speaking much longer than 3 s (EVALUATION.md section 3).
/// Voice is a weak factor that only adds to another one.
pub const VOICE_COSINE: f32 = 0.716;

/// dlib ResNet v1 cosine threshold between the portrait of an identity document, as a
/// phone photographs it, and a live capture (registration), for FMR 1e-4. Calibrated on
/// synthetic document versions of the ORL faces (`document_sim`: print contrast and colour
/// cast, rotation and perspective, blur, noise, JPEG) against the other originals
/// (`matcher eval-document ORL_DIR --pad 0.25 --upsample --folds 5`: 7 of 72,298 impostor
/// pairs at or above 0.94795), rounded up; FNMR there 8.4% of 1,958 genuine pairs (twice the
/// live-to-live FNMR of the same images). Cross-validated on held-out people: FNMR 8.4% (95%
/// upper bound 9.5%), no false match in 12,884 impostor pairs. 127 of the 400 document
/// versions were refused as too blurred and are not in these figures. No real photographs
/// of identity documents were available: see EVALUATION.md for what the simulation leaves
/// out; the clerk who approves a registration sees the score.
pub const DOCUMENT_COSINE: f32 = 0.948;
