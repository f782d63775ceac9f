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

/// dlib ResNet v1 cosine threshold: the lowest score at which none of the 700 impostor
/// pairs of the shared labelled crops matched (`matcher eval ../shared/data/faces-labelled
/// --face detect --pad 0.25`, max impostor 0.91592), rounded up. With 700 impostor pairs
/// this supports FMR <= 0.43% (95% upper bound), not the 1e-4 target: see EVALUATION.md.
pub const FACE_COSINE: f32 = 0.916;

/// Resemblyzer GE2E cosine threshold: the lowest score at which none of the 39 impostor
/// pairs of the voice evaluation set matched (`matcher eval VOICE_DIR`, max impostor
/// 0.78485), rounded up. 39 pairs support only FMR <= 7.4% (95% upper bound).
pub const VOICE_COSINE: f32 = 0.785;
