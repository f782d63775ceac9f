//! Voice pipeline: decode -> 16 kHz -> volume normalisation -> silence trimming -> power mel
//! -> 1.6 s partials every 0.77 s -> GE2E embeddings -> mean -> L2 (Resemblyzer's
//! `embed_utterance` with its default rate 1.3 and coverage 0.75).

pub mod audio;
pub mod embed;
pub mod features;

use crate::error::{MatcherError, Result};
use crate::models::ModelStore;
use crate::template::Template;
use audio::{Audio, SAMPLE_RATE};
use embed::{PARTIAL_FRAMES, SpeakerEncoder};
use features::{HOP, MelSpectrogram, N_MELS};

/// Speech shorter than this after silence trimming is refused.
pub const MIN_SPEECH_SECONDS: f32 = 1.0;
const FRAME_STEP: usize = 77;
const MIN_COVERAGE: f64 = 0.75;
const TARGET_DBFS: f32 = -30.0;

pub struct VoicePipeline {
    encoder: SpeakerEncoder,
    mel: MelSpectrogram,
}

/// Resemblyzer's `compute_partial_slices`: frame ranges of the partials for `n_samples`.
pub fn partial_slices(n_samples: usize) -> Vec<(usize, usize)> {
    let n_frames = (n_samples + 1).div_ceil(HOP);
    let steps = (n_frames + FRAME_STEP + 1)
        .saturating_sub(PARTIAL_FRAMES)
        .max(1);
    let mut slices: Vec<(usize, usize)> = (0..steps)
        .step_by(FRAME_STEP)
        .map(|i| (i, i + PARTIAL_FRAMES))
        .collect();
    if let Some(&(start, end)) = slices.last() {
        let coverage = (n_samples as f64 - (start * HOP) as f64) / ((end - start) * HOP) as f64;
        if coverage < MIN_COVERAGE && slices.len() > 1 {
            slices.pop();
        }
    }
    slices
}

/// Resampling, volume normalisation and silence trimming, with the refusals (silence, too
/// little speech).
pub fn preprocess(audio: &Audio) -> Result<Vec<f32>> {
    let mut wav = audio::resample(&audio.samples, audio.rate, SAMPLE_RATE);
    if wav.iter().all(|s| s.abs() < 1e-4) {
        return Err(MatcherError::Silence);
    }
    audio::normalize_volume(&mut wav, TARGET_DBFS);
    let wav = audio::trim_long_silences(&wav);
    if wav.is_empty() {
        return Err(MatcherError::Silence);
    }
    let seconds = wav.len() as f32 / SAMPLE_RATE as f32;
    if seconds < MIN_SPEECH_SECONDS {
        return Err(MatcherError::AudioTooShort {
            seconds,
            min: MIN_SPEECH_SECONDS,
        });
    }
    Ok(wav)
}

impl VoicePipeline {
    pub fn load(store: &ModelStore) -> Result<Self> {
        Ok(Self {
            encoder: SpeakerEncoder::load(store)?,
            mel: MelSpectrogram::new(SAMPLE_RATE),
        })
    }

    /// See [`preprocess`].
    pub fn preprocess(&self, audio: &Audio) -> Result<Vec<f32>> {
        preprocess(audio)
    }

    /// Resemblyzer's `embed_utterance` on an already preprocessed 16 kHz waveform.
    pub fn embed_preprocessed(&self, wav: &[f32]) -> Result<Template> {
        let slices = partial_slices(wav.len());
        let needed = slices.last().map_or(0, |s| s.1 * HOP);
        let mut padded = wav.to_vec();
        if needed >= padded.len() {
            padded.resize(needed, 0.0);
        }
        let mel = self.mel.compute(&padded);
        let partials: Vec<Vec<[f32; N_MELS]>> = slices
            .iter()
            .filter_map(|&(a, b)| mel.get(a..b).map(<[_]>::to_vec))
            .collect();
        let embeds = self.encoder.embed_partials(&partials)?;
        let mut mean = vec![0f32; embed::EMBEDDING_DIM];
        for e in &embeds {
            for (m, v) in mean.iter_mut().zip(e) {
                *m += v / embeds.len() as f32;
            }
        }
        Template::new(embed::model_id(), mean)
    }

    pub fn template(&self, audio: &Audio) -> Result<Template> {
        let wav = self.preprocess(audio)?;
        self.embed_preprocessed(&wav)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partials_follow_resemblyzer() {
        // 3 s: 301 frames -> starts 0, 77 (154 dropped: coverage of 1.6 s window too low).
        assert_eq!(
            partial_slices(48_000),
            vec![(0, 160), (77, 237), (154, 314)]
        );
        assert_eq!(partial_slices(8_000), vec![(0, 160)]);
        let two = partial_slices(16_000 * 2);
        assert_eq!(two.first(), Some(&(0, 160)));
    }
}
