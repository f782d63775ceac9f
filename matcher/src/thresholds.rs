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
    } else {
        None
    }
}

/// dlib ResNet v1 cosine threshold; placeholder of dlib's own published operating point
/// (Euclidean 0.6 on raw descriptors, about cosine 0.92 on these normalised ones) until
/// `matcher eval` recalibrates it.
pub const FACE_COSINE: f32 = 0.92;
