//! Audio input for the speaker encoder: decoding, resampling to 16 kHz, Resemblyzer's volume
//! normalisation and trimming of long silences.

use std::path::Path;

use crate::error::{MatcherError, Result};

pub const SAMPLE_RATE: u32 = 16_000;
const INT16_MAX: f32 = 32767.0;

/// Mono samples in [-1, 1] and their rate.
#[derive(Debug, Clone)]
pub struct Audio {
    pub samples: Vec<f32>,
    pub rate: u32,
}

/// Reads a WAV file (PCM or float, any rate, channels averaged) or a headerless `.raw`
/// file, which is taken as 16 kHz mono s16le (the CMU test recordings' format).
pub fn read_audio(path: &Path) -> Result<Audio> {
    let bad = |e: &dyn std::fmt::Display| MatcherError::Audio(format!("{}: {e}", path.display()));
    let is_raw = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("raw"));
    if is_raw {
        let bytes = std::fs::read(path).map_err(|e| bad(&e))?;
        let samples = bytes
            .chunks_exact(2)
            .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
            .collect();
        return Ok(Audio {
            samples,
            rate: SAMPLE_RATE,
        });
    }
    let file = std::fs::File::open(path).map_err(|e| bad(&e))?;
    decode_wav(std::io::BufReader::new(file), f32::INFINITY).map_err(|e| match e {
        MatcherError::Audio(reason) => bad(&reason),
        other => other,
    })
}

/// Decodes a WAV stream: integer PCM of 8 to 32 bits or 32-bit float, any rate, channels
/// averaged. Refuses a stream longer than `max_seconds` (from its header, before reading the
/// samples), so that a caller bounds its work on input it does not trust.
pub fn decode_wav<R: std::io::Read>(input: R, max_seconds: f32) -> Result<Audio> {
    let bad = |e: &dyn std::fmt::Display| MatcherError::Audio(e.to_string());
    let mut reader = hound::WavReader::new(input).map_err(|e| bad(&e))?;
    let spec = reader.spec();
    if spec.sample_rate == 0 || spec.channels == 0 {
        return Err(bad(&"no sample rate or no channel"));
    }
    let seconds = reader.duration() as f32 / spec.sample_rate as f32;
    if seconds > max_seconds {
        return Err(bad(&format_args!(
            "{seconds:.1} s long, at most {max_seconds:.1} s accepted"
        )));
    }
    let channels = usize::from(spec.channels);
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| bad(&e))?,
        hound::SampleFormat::Int => {
            let scale = 2f32.powi(i32::from(spec.bits_per_sample.clamp(1, 32)) - 1);
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 / scale))
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| bad(&e))?
        }
    };
    let samples = interleaved
        .chunks(channels)
        .map(|c| c.iter().sum::<f32>() / c.len() as f32)
        .collect();
    Ok(Audio {
        samples,
        rate: spec.sample_rate,
    })
}

/// Level in dBFS of the loudest 30 ms of `samples` (at `rate`): how loud the speech is
/// before any normalisation, to tell silence and a far-away talker apart from speech.
pub fn loudest_window_dbfs(samples: &[f32], rate: u32) -> f32 {
    let window = (rate as usize * 3 / 100).max(1);
    samples
        .chunks(window)
        .map(|w| {
            let ms = w.iter().map(|s| s * s).sum::<f32>() / w.len() as f32;
            10.0 * ms.max(1e-12).log10()
        })
        .fold(-120.0, f32::max)
}

/// Share of samples at full scale (within 0.1% of it): a clipped recording has flat tops
/// whose harmonics change the voice's spectrum.
pub fn clipped_fraction(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.iter().filter(|s| s.abs() >= 0.999).count() as f32 / samples.len() as f32
}

/// Band-limited resampling with a Hann-windowed sinc (16 zero crossings each side).
pub fn resample(samples: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || samples.is_empty() || from == 0 || to == 0 {
        return samples.to_vec();
    }
    let ratio = f64::from(to) / f64::from(from);
    let cutoff = ratio.min(1.0) * 0.97;
    let half_width = 16.0 / cutoff;
    let out_len = (samples.len() as f64 * ratio).round() as usize;
    let n = samples.len() as i64;
    (0..out_len)
        .map(|i| {
            let t = i as f64 / ratio;
            let first = (t - half_width).ceil() as i64;
            let last = (t + half_width).floor() as i64;
            let mut acc = 0.0;
            for j in first.max(0)..=last.min(n - 1) {
                let x = t - j as f64;
                let sinc = if x.abs() < 1e-9 {
                    1.0
                } else {
                    let a = std::f64::consts::PI * x * cutoff;
                    a.sin() / a
                };
                let w = 0.5 + 0.5 * (std::f64::consts::PI * x / half_width).cos();
                acc += f64::from(samples[j as usize]) * cutoff * sinc * w;
            }
            acc as f32
        })
        .collect()
}

/// Raises the level to `target_dbfs` (never lowers it), as Resemblyzer does with -30 dBFS.
pub fn normalize_volume(samples: &mut [f32], target_dbfs: f32) {
    if samples.is_empty() {
        return;
    }
    let mean_sq = samples
        .iter()
        .map(|s| f64::from(s * INT16_MAX).powi(2))
        .sum::<f64>()
        / samples.len() as f64;
    let rms = mean_sq.sqrt() as f32;
    if rms <= 0.0 {
        return;
    }
    let dbfs = 20.0 * (rms / INT16_MAX).log10();
    let change = target_dbfs - dbfs;
    if change > 0.0 {
        let gain = 10f32.powf(change / 20.0);
        for s in samples.iter_mut() {
            *s *= gain;
        }
    }
}

const VAD_WINDOW: usize = 480; // 30 ms at 16 kHz
const VAD_AVERAGE_WIDTH: usize = 8;
const VAD_MAX_SILENCE: usize = 6;
/// A 30 ms window is voiced when its level is within this many dB of the loudest window...
const VAD_RANGE_DB: f32 = 30.0;
/// ...and above this absolute level.
const VAD_FLOOR_DBFS: f32 = -55.0;

/// Keeps voiced 30 ms windows and silences of up to 6 windows around them, with
/// Resemblyzer's smoothing (moving average of 8, dilation by 7). Resemblyzer decides
/// "voiced" with WebRTC's VAD; here it is an energy test, which is close on clean speech.
pub fn trim_long_silences(samples: &[f32]) -> Vec<f32> {
    let windows: Vec<&[f32]> = samples.chunks_exact(VAD_WINDOW).collect();
    if windows.is_empty() {
        return Vec::new();
    }
    let level: Vec<f32> = windows
        .iter()
        .map(|w| {
            let ms = w.iter().map(|s| s * s).sum::<f32>() / w.len() as f32;
            10.0 * ms.max(1e-12).log10()
        })
        .collect();
    let loudest = level.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let voiced: Vec<f32> = level
        .iter()
        .map(|&l| f32::from(u8::from(l > VAD_FLOOR_DBFS && l > loudest - VAD_RANGE_DB)))
        .collect();
    // Moving average (zero padded, centred as numpy's cumsum version), then rounded.
    let n = voiced.len();
    let (pad_l, width) = ((VAD_AVERAGE_WIDTH - 1) / 2, VAD_AVERAGE_WIDTH);
    let smoothed: Vec<bool> = (0..n)
        .map(|i| {
            let lo = i as i64 - pad_l as i64;
            let sum: f32 = (lo..lo + width as i64)
                .filter(|&j| j >= 0 && (j as usize) < n)
                .map(|j| voiced[j as usize])
                .sum();
            (sum / width as f32).round() >= 1.0
        })
        .collect();
    // Binary dilation with a centred structure of VAD_MAX_SILENCE + 1 ones.
    let reach = VAD_MAX_SILENCE / 2;
    let keep: Vec<bool> = (0..n)
        .map(|i| {
            let lo = i.saturating_sub(reach);
            let hi = (i + reach).min(n - 1);
            (lo..=hi).any(|j| smoothed[j])
        })
        .collect();
    windows
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .flat_map(|(w, _)| w.iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, rate: u32, seconds: f32, amp: f32) -> Vec<f32> {
        (0..(rate as f32 * seconds) as usize)
            .map(|i| amp * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    #[test]
    fn resampling_keeps_a_tone_and_its_length() {
        let x = tone(440.0, 44_100, 0.5, 0.5);
        let y = resample(&x, 44_100, 16_000);
        assert_eq!(y.len(), 8000);
        let expect = tone(440.0, 16_000, 0.5, 0.5);
        let err = y[200..7800]
            .iter()
            .zip(&expect[200..7800])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 0.01, "{err}");
    }

    #[test]
    fn volume_is_only_raised() {
        let mut quiet = tone(200.0, 16_000, 0.2, 0.001);
        normalize_volume(&mut quiet, -30.0);
        let rms = (quiet.iter().map(|s| s * s).sum::<f32>() / quiet.len() as f32).sqrt();
        assert!((20.0 * rms.log10() + 30.0).abs() < 0.1);
        let mut loud = tone(200.0, 16_000, 0.2, 0.9);
        let before = loud.clone();
        normalize_volume(&mut loud, -30.0);
        assert_eq!(loud, before);
    }

    fn wav_bytes(samples: &[i16], rate: u32, channels: u16) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut out = std::io::Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
        for &s in samples {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        out.into_inner()
    }

    #[test]
    fn wav_streams_are_decoded_to_mono_and_bounded_in_length() {
        // Stereo: left 0.5, right -0.25 full scale -> mono 0.125.
        let stereo: Vec<i16> = (0..2000).flat_map(|_| [16384, -8192]).collect();
        let a = decode_wav(std::io::Cursor::new(wav_bytes(&stereo, 8000, 2)), 1.0).unwrap();
        assert_eq!((a.samples.len(), a.rate), (2000, 8000));
        assert!((a.samples[10] - 0.125).abs() < 1e-6);
        // 0.25 s at 8 kHz is refused when at most 0.2 s is accepted.
        assert!(matches!(
            decode_wav(std::io::Cursor::new(wav_bytes(&stereo, 8000, 2)), 0.2),
            Err(MatcherError::Audio(_))
        ));
        assert!(decode_wav(std::io::Cursor::new(b"RIFF....WAVEfmt ".to_vec()), 1.0).is_err());
    }

    #[test]
    fn levels_and_clipping() {
        let x = tone(300.0, 16_000, 0.5, 0.1);
        // A sine of amplitude 0.1 has an RMS of 0.0707: -23 dBFS.
        assert!((loudest_window_dbfs(&x, 16_000) + 23.0).abs() < 0.2);
        assert_eq!(loudest_window_dbfs(&[0.0; 1000], 16_000), -120.0);
        assert_eq!(clipped_fraction(&x), 0.0);
        let clipped: Vec<f32> = tone(300.0, 16_000, 0.5, 3.0)
            .iter()
            .map(|s| s.clamp(-1.0, 1.0))
            .collect();
        assert!(clipped_fraction(&clipped) > 0.5);
    }

    #[test]
    fn long_silences_are_cut_short_ones_kept() {
        let mut x = tone(300.0, 16_000, 1.0, 0.3);
        x.extend(vec![0.0; 48_000]); // 3 s of silence
        x.extend(tone(300.0, 16_000, 1.0, 0.3));
        let y = trim_long_silences(&x);
        assert!(y.len() < 16_000 * 5 / 2, "{}", y.len());
        assert!(y.len() >= 32_000 - 2 * VAD_WINDOW);
        assert!(trim_long_silences(&vec![0.0; 32_000]).is_empty());
    }
}
