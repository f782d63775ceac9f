//! Why a matcher operation failed: unusable input is told apart from broken models.

use thiserror::Error;

/// Every failure of the matcher. Input problems (no face, silence, ...) carry a reason
/// that can be shown to the person capturing; the rest are configuration errors.
#[derive(Debug, Error)]
pub enum MatcherError {
    #[error("no face found")]
    NoFace,
    #[error("{0} faces found, expected exactly one")]
    SeveralFaces(usize),
    #[error("face too small: {size} px across, at least {min} px needed")]
    FaceTooSmall { size: u32, min: u32 },
    #[error("image too dark: mean brightness {mean:.0} of 255, at least {min:.0} needed")]
    TooDark { mean: f32, min: f32 },
    #[error("image too blurred: sharpness {sharpness:.1}, at least {min:.1} needed")]
    TooBlurred { sharpness: f32, min: f32 },
    #[error("cannot read image: {0}")]
    Image(String),
    #[error("cannot read audio: {0}")]
    Audio(String),
    #[error("audio too short: {seconds:.2} s of speech, at least {min:.2} s needed")]
    AudioTooShort { seconds: f32, min: f32 },
    #[error("no speech found: the recording is silent")]
    Silence,
    #[error("model {name}: {reason}")]
    Model { name: String, reason: String },
    #[error("templates come from different models ({0} and {1}); they cannot be compared")]
    ModelMismatch(String, String),
    #[error("invalid template: {0}")]
    InvalidTemplate(String),
    #[error("tensor computation failed: {0}")]
    Tensor(#[from] candle_core::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, MatcherError>;

impl MatcherError {
    /// Whether the error is about the input (the capture should be retried) rather than
    /// about the matcher's own configuration.
    pub fn is_unusable_input(&self) -> bool {
        matches!(
            self,
            Self::NoFace
                | Self::SeveralFaces(_)
                | Self::FaceTooSmall { .. }
                | Self::TooDark { .. }
                | Self::TooBlurred { .. }
                | Self::Image(_)
                | Self::Audio(_)
                | Self::AudioTooShort { .. }
                | Self::Silence
        )
    }
}
