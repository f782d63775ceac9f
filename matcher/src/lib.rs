//! Face and voice biometric templates on CPU with candle: detection, landmarks, alignment,
//! embedding, comparison and 1:N search. Knows nothing of users, storage or HTTP.

pub mod cancellable;
pub mod document_sim;
pub mod error;
pub mod eval;
pub mod face;
pub mod head_turn;
pub mod liveness;
pub mod models;
pub mod search;
pub mod template;
pub mod thresholds;
pub mod video;
pub mod voice;

pub use error::{MatcherError, Result};
pub use search::{Candidate, Gallery};
pub use template::{ModelId, Template};
