//! The voice factor (amr `vbm`): an utterance of the citizen, compared with their enrolled
//! voice template at the matcher's calibrated threshold. It is never a factor alone: a
//! voice can be recorded in public or synthesised from such recordings, and the threshold
//! is chosen for a false-match rate of 1%, so voice only adds to another factor
//! (`FactorKind::may_stand_alone`). The threshold was calibrated on utterances of 3 s, so
//! a template is made from the first `MAX_SPEECH_SECONDS` of speech: longer speech scores
//! higher against anyone, and would let more impostors through. The spoken phrase is not
//! checked here (no speech recogniser), so a replayed recording of the citizen passes: see
//! matcher/EVALUATION.md section 3.
//!
//! Input is a WAV file (integer PCM or float, mono or stereo, 8-48 kHz), as a browser
//! makes from Web Audio samples; MediaRecorder's WebM/Opus or MP4/AAC cannot be read.
//! Knows nothing of HTTP or storage.

use matcher::models::ModelStore;
use matcher::voice::VoicePipeline;
use matcher::voice::audio::{self, Audio, SAMPLE_RATE};
use matcher::{MatcherError, Template, thresholds};

/// Largest upload read, in bytes (10 s of 48 kHz 16-bit stereo is 1.9 MB).
pub const MAX_BYTES: usize = 3 << 20;
/// Longest recording analysed, in seconds: room for a slow reader and the pauses around
/// the phrase, while bounding the work (resampling 48 kHz costs more than embedding).
pub const MAX_SECONDS: f32 = 10.0;
/// Sample rates accepted, in Hz.
pub const RATES: std::ops::RangeInclusive<u32> = 8_000..=48_000;
/// Least speech, in seconds after long pauses are cut: the encoder looks at 1.6 s windows,
/// and a shorter sample gives a template too unstable to compare.
pub const MIN_SPEECH_SECONDS: f32 = 1.5;
/// Most speech a template is made from, in seconds: the length the threshold was
/// calibrated for (about six digits read aloud).
pub const MAX_SPEECH_SECONDS: f32 = 3.0;
/// The loudest 30 ms below this level (dBFS) is no speech at all: a muted or absent
/// microphone.
pub const SILENCE_DBFS: f32 = -60.0;
/// The loudest 30 ms below this level (dBFS) is speech too far from the microphone: raising
/// it would raise the room's noise with it.
pub const QUIET_DBFS: f32 = -40.0;
/// More than this share of samples at full scale is a clipped recording.
pub const MAX_CLIPPED: f32 = 0.005;

/// Why an utterance cannot be used, told to the citizen so that they can fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// Not a WAV file of an accepted kind, rate, size or length.
    Unreadable,
    /// Silence, or no sound above the microphone's noise.
    NoSpeech,
    /// Less than `MIN_SPEECH_SECONDS` of speech.
    TooShort,
    /// Speech, but too faint.
    TooQuiet,
    /// Speech so loud that the recording is clipped.
    Clipped,
}

/// The outcome of a verification: accepted (`Ok`) or refused, and the cosine score when
/// the utterance was usable (for the audit log), whatever the decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub outcome: Result<(), Refusal>,
    pub score: Option<f32>,
}

/// Why an utterance was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Unusable(Unusable),
    /// A usable utterance, but not the enrolled voice.
    NoMatch,
}

/// The speaker encoder, loaded once.
pub struct VoiceEngine {
    pipeline: VoicePipeline,
}

impl VoiceEngine {
    pub fn load(models: &ModelStore) -> Result<VoiceEngine, MatcherError> {
        Ok(VoiceEngine {
            pipeline: VoicePipeline::load(models)?,
        })
    }

    /// Decodes an utterance as sent by a browser: a WAV file of at most `MAX_BYTES` and
    /// `MAX_SECONDS`, at a rate in `RATES`.
    pub fn decode(bytes: &[u8]) -> Result<Audio, Unusable> {
        if bytes.len() > MAX_BYTES {
            return Err(Unusable::Unreadable);
        }
        let audio = audio::decode_wav(std::io::Cursor::new(bytes), MAX_SECONDS)
            .map_err(|_| Unusable::Unreadable)?;
        if !RATES.contains(&audio.rate) || audio.samples.iter().any(|s| !s.is_finite()) {
            return Err(Unusable::Unreadable);
        }
        Ok(audio)
    }

    /// The template of a usable utterance, or why it cannot be used.
    pub fn template(&self, utterance: &Audio) -> Result<Result<Template, Unusable>, MatcherError> {
        if let Err(u) = check_level(utterance) {
            return Ok(Err(u));
        }
        let mut speech = match self.pipeline.preprocess(utterance) {
            Ok(s) => s,
            Err(e) => return unusable(e).map(Err),
        };
        if (speech.len() as f32) < MIN_SPEECH_SECONDS * SAMPLE_RATE as f32 {
            return Ok(Err(Unusable::TooShort));
        }
        speech.truncate((MAX_SPEECH_SECONDS * SAMPLE_RATE as f32) as usize);
        self.pipeline.embed_preprocessed(&speech).map(Ok)
    }

    /// Decides whether `utterance` is the voice of `enrolled`.
    pub fn verify(&self, utterance: &Audio, enrolled: &Template) -> Result<Verdict, MatcherError> {
        let live = match self.template(utterance)? {
            Ok(t) => t,
            Err(u) => {
                return Ok(Verdict {
                    outcome: Err(Refusal::Unusable(u)),
                    score: None,
                });
            }
        };
        let (same, score) = VoiceEngine::matches(&live, enrolled)?;
        Ok(Verdict {
            outcome: if same { Ok(()) } else { Err(Refusal::NoMatch) },
            score: Some(score),
        })
    }

    /// Compares a live template with the enrolled one at the calibrated threshold; the
    /// cosine score comes back either way.
    pub fn matches(live: &Template, enrolled: &Template) -> Result<(bool, f32), MatcherError> {
        let score = live.cosine(enrolled)?;
        let threshold = thresholds::for_model(enrolled.model())
            .ok_or_else(|| MatcherError::InvalidTemplate("no threshold for this model".into()))?;
        Ok((score >= threshold.cosine, score))
    }
}

/// Level checks on the recording as it came, before the encoder raises its volume.
fn check_level(utterance: &Audio) -> Result<(), Unusable> {
    let loudest = audio::loudest_window_dbfs(&utterance.samples, utterance.rate);
    if loudest < SILENCE_DBFS {
        Err(Unusable::NoSpeech)
    } else if loudest < QUIET_DBFS {
        Err(Unusable::TooQuiet)
    } else if audio::clipped_fraction(&utterance.samples) > MAX_CLIPPED {
        Err(Unusable::Clipped)
    } else {
        Ok(())
    }
}

fn unusable(e: MatcherError) -> Result<Unusable, MatcherError> {
    match e {
        MatcherError::Silence => Ok(Unusable::NoSpeech),
        MatcherError::AudioTooShort { .. } => Ok(Unusable::TooShort),
        MatcherError::Audio(_) => Ok(Unusable::Unreadable),
        other => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;

    fn engine() -> &'static VoiceEngine {
        static E: OnceLock<VoiceEngine> = OnceLock::new();
        E.get_or_init(|| VoiceEngine::load(&ModelStore::from_env()).unwrap())
    }

    /// Debian's pocketsphinx-testdata (`apt-get install pocketsphinx-testdata`): five
    /// sentences of one LibriVox narrator, and CMU recordings of other speakers.
    fn testdata(name: &str) -> PathBuf {
        let dir = Path::new("/usr/share/pocketsphinx/test/data");
        assert!(
            dir.is_dir(),
            "{} is missing: apt-get install pocketsphinx-testdata",
            dir.display()
        );
        dir.join(name)
    }

    fn narrator(n: u32) -> Vec<u8> {
        let name = format!("librivox/sense_and_sensibility_01_austen_64kb-{n:04}.wav");
        std::fs::read(testdata(&name)).unwrap()
    }

    /// A 16-bit PCM WAV file of `samples` (interleaved when `channels` is 2).
    fn wav(samples: &[f32], rate: u32, channels: u16) -> Vec<u8> {
        let data_len = (samples.len() * 2) as u32;
        let mut out = Vec::with_capacity(44 + samples.len() * 2);
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + data_len).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes()); // PCM
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&rate.to_le_bytes());
        out.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
        out.extend_from_slice(&(channels * 2).to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data_len.to_le_bytes());
        for &s in samples {
            out.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes());
        }
        out
    }

    fn template_of(bytes: &[u8]) -> Result<Template, Unusable> {
        let audio = VoiceEngine::decode(bytes)?;
        engine().template(&audio).unwrap()
    }

    #[test]
    fn the_same_voice_is_accepted_another_refused() {
        let enrolled = template_of(&narrator(870)).unwrap();
        for n in [890, 920] {
            let probe = VoiceEngine::decode(&narrator(n)).unwrap();
            let v = engine().verify(&probe, &enrolled).unwrap();
            assert_eq!(v.outcome, Ok(()), "narrator {n}: {:?}", v.score);
        }
        // "go forward ten meters", a CMU speaker, as a browser would send it: 44.1 kHz stereo.
        let raw = audio::read_audio(&testdata("goforward.raw")).unwrap();
        let up = audio::resample(&raw.samples, raw.rate, 44_100);
        let stereo: Vec<f32> = up.iter().flat_map(|&s| [s, s]).collect();
        let other = VoiceEngine::decode(&wav(&stereo, 44_100, 2)).unwrap();
        let v = engine().verify(&other, &enrolled).unwrap();
        assert_eq!(v.outcome, Err(Refusal::NoMatch), "{:?}", v.score);
        assert!(v.score.is_some());
        // Unusable input is refused before any comparison.
        let silence = Audio {
            samples: vec![0.0; 48_000],
            rate: 16_000,
        };
        let v = engine().verify(&silence, &enrolled).unwrap();
        assert_eq!(
            v,
            Verdict {
                outcome: Err(Refusal::Unusable(Unusable::NoSpeech)),
                score: None
            }
        );
    }

    #[test]
    fn unusable_utterances_are_refused_with_their_reason() {
        let speech = VoiceEngine::decode(&narrator(870)).unwrap();
        let rate = speech.rate;
        let scaled = |g: f32| -> Vec<f32> { speech.samples.iter().map(|s| s * g).collect() };
        assert_eq!(
            template_of(&wav(&vec![0.0; rate as usize * 3], rate, 1)).unwrap_err(),
            Unusable::NoSpeech
        );
        // Faint hiss: no speech either, not a quiet talker.
        let hiss: Vec<f32> = (0..rate * 3)
            .map(|i| ((i * 7919 % 211) as f32 / 211.0 - 0.5) * 1e-3)
            .collect();
        assert_eq!(
            template_of(&wav(&hiss, rate, 1)).unwrap_err(),
            Unusable::NoSpeech
        );
        assert_eq!(
            template_of(&wav(&scaled(0.02), rate, 1)).unwrap_err(),
            Unusable::TooQuiet
        );
        assert_eq!(
            template_of(&wav(&scaled(30.0), rate, 1)).unwrap_err(),
            Unusable::Clipped
        );
        let second = &speech.samples[..rate as usize];
        assert_eq!(
            template_of(&wav(second, rate, 1)).unwrap_err(),
            Unusable::TooShort
        );
        assert_eq!(
            template_of(b"OggS\0\x02....").unwrap_err(),
            Unusable::Unreadable
        );
        // 20 s is longer than the factor reads; 96 kHz is outside the rates it takes.
        let long: Vec<f32> = speech
            .samples
            .iter()
            .cycle()
            .take(rate as usize * 20)
            .copied()
            .collect();
        assert_eq!(
            template_of(&wav(&long, rate, 1)).unwrap_err(),
            Unusable::Unreadable
        );
        assert_eq!(
            template_of(&wav(&speech.samples, 96_000, 1)).unwrap_err(),
            Unusable::Unreadable
        );
        // The untouched recording is usable.
        assert!(template_of(&narrator(870)).is_ok());
    }

    #[test]
    fn only_the_first_seconds_of_speech_make_the_template() {
        // The recording said twice: same level, same pauses in its first seconds, so with
        // the cap both give the very same template; without it the second has more speech.
        let once = VoiceEngine::decode(&narrator(870)).unwrap();
        let twice = Audio {
            samples: [once.samples.as_slice(), once.samples.as_slice()].concat(),
            rate: once.rate,
        };
        let a = engine().template(&once).unwrap().unwrap();
        let b = engine().template(&twice).unwrap().unwrap();
        assert_eq!(a.embedding(), b.embedding());
    }

    #[test]
    fn voice_never_signs_in_alone() {
        assert!(!crate::FactorKind::Voice.may_stand_alone());
        assert!(crate::FactorKind::Face.may_stand_alone());
    }
}
