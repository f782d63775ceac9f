//! Voice: features and network against Resemblyzer (fixture from
//! convert/make_voice_golden.py), refusals, and speaker separation on Debian's
//! pocketsphinx-testdata recordings.

use std::path::{Path, PathBuf};

use matcher::MatcherError;
use matcher::models::ModelStore;
use matcher::voice::audio::{Audio, normalize_volume, read_audio};
use matcher::voice::features::MelSpectrogram;
use matcher::voice::{VoicePipeline, preprocess};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn golden() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("voice_golden.json")).unwrap()).unwrap()
}

#[test]
fn mel_features_match_librosa() {
    let g = golden();
    let mut wav = read_audio(&fixture("librivox_0880.wav")).unwrap().samples;
    normalize_volume(&mut wav, -30.0);
    let need = g["slices"].as_array().unwrap().last().unwrap()[1]
        .as_u64()
        .unwrap() as usize
        * 160;
    wav.resize(need.max(wav.len()), 0.0);
    let mel = MelSpectrogram::new(16_000).compute(&wav);
    assert_eq!(mel.len() as u64, g["mel_frames"].as_u64().unwrap());
    for (m, want) in mel[10].iter().zip(g["mel_frame_10"].as_array().unwrap()) {
        let want = want.as_f64().unwrap();
        let rel = (f64::from(*m) - want).abs() / want.abs().max(1e-6);
        assert!(rel < 1e-3, "{m} vs {want}");
    }
}

fn pipeline() -> VoicePipeline {
    VoicePipeline::load(&ModelStore::from_env()).unwrap()
}

#[test]
fn encoder_reproduces_resemblyzer_within_1e4() {
    let g = golden();
    let mut wav = read_audio(&fixture("librivox_0880.wav")).unwrap().samples;
    normalize_volume(&mut wav, -30.0);
    let t = pipeline().embed_preprocessed(&wav).unwrap();
    let want: Vec<f64> = g["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let worst = t
        .embedding()
        .iter()
        .zip(&want)
        .map(|(a, b)| (f64::from(*a) - b).abs())
        .fold(0.0, f64::max);
    println!("max abs diff vs Resemblyzer: {worst:e}");
    assert!(worst < 1e-4, "{worst}");
}

#[test]
fn refuses_silence_and_short_speech() {
    let silence = Audio {
        samples: vec![0.0; 48_000],
        rate: 16_000,
    };
    assert!(matches!(preprocess(&silence), Err(MatcherError::Silence)));
    let speech = read_audio(&fixture("librivox_0880.wav")).unwrap();
    let short = Audio {
        samples: speech.samples[16_000..24_000].to_vec(),
        rate: 16_000,
    };
    let err = preprocess(&short).unwrap_err();
    assert!(matches!(err, MatcherError::AudioTooShort { .. }), "{err}");
    assert!(err.is_unusable_input());
    // The whole clip (3 s, resampled from 44.1 kHz to check that path too) is accepted.
    let resampled = Audio {
        samples: matcher::voice::audio::resample(&speech.samples, 16_000, 44_100),
        rate: 44_100,
    };
    let wav = preprocess(&resampled).unwrap();
    assert!(wav.len() > 16_000 * 2, "{}", wav.len());
}
