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

/// Resemblyzer GE2E cosine threshold for FMR 1%, calibrated on 9 speakers of public council
/// meetings (`matcher eval COUNCIL_DIR --fmr 0.01`: 19 of 1,910 impostor pairs at or above
/// 0.82809), rounded up; FNMR there is 23%. Voice is a weak factor: no threshold on this
/// data reaches FMR 1e-4 with a usable FNMR (EVALUATION.md).
pub const VOICE_COSINE: f32 = 0.829;

/// dlib ResNet v1 cosine threshold between the portrait of an identity document, as a
/// phone photographs it, and a live capture (registration). Not yet calibrated: equal to
/// the live-to-live threshold until `matcher eval-document` has measured it.
pub const DOCUMENT_COSINE: f32 = FACE_COSINE;
