//! Resemblyzer's input features: a 40-band *power* mel spectrogram (librosa defaults:
//! n_fft 400, hop 160, periodic Hann window, centred frames with zero padding, Slaney mel
//! scale and area normalisation, not logarithmic).

use std::f64::consts::PI;

pub const N_FFT: usize = 400;
pub const HOP: usize = 160;
pub const N_MELS: usize = 40;
const N_FREQS: usize = N_FFT / 2 + 1;

fn hz_to_mel(hz: f64) -> f64 {
    // Slaney: linear below 1 kHz, logarithmic above.
    let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if hz >= min_log_hz {
        min_log_mel + (hz / min_log_hz).ln() / logstep
    } else {
        hz / f_sp
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
    let min_log_mel = min_log_hz / f_sp;
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel {
        min_log_hz * (logstep * (mel - min_log_mel)).exp()
    } else {
        f_sp * mel
    }
}

/// `librosa.filters.mel(sr, n_fft, n_mels)`: (N_MELS, N_FREQS) row-major.
pub fn mel_filterbank(sample_rate: u32) -> Vec<f64> {
    let sr = f64::from(sample_rate);
    let fft_freqs: Vec<f64> = (0..N_FREQS).map(|i| i as f64 * sr / N_FFT as f64).collect();
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(sr / 2.0));
    let mel_f: Vec<f64> = (0..N_MELS + 2)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (N_MELS + 1) as f64))
        .collect();
    let mut weights = vec![0.0; N_MELS * N_FREQS];
    for m in 0..N_MELS {
        let (f0, f1, f2) = (mel_f[m], mel_f[m + 1], mel_f[m + 2]);
        let enorm = 2.0 / (f2 - f0);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let lower = (f - f0) / (f1 - f0);
            let upper = (f2 - f) / (f2 - f1);
            weights[m * N_FREQS + k] = lower.min(upper).max(0.0) * enorm;
        }
    }
    weights
}

/// Computes mel frames of 16 kHz audio.
pub struct MelSpectrogram {
    filters: Vec<f64>,
    window: Vec<f64>,
    cos: Vec<f64>,
    sin: Vec<f64>,
}

impl MelSpectrogram {
    pub fn new(sample_rate: u32) -> Self {
        let window = (0..N_FFT)
            .map(|n| 0.5 - 0.5 * (2.0 * PI * n as f64 / N_FFT as f64).cos())
            .collect();
        let mut cos = Vec::with_capacity(N_FREQS * N_FFT);
        let mut sin = Vec::with_capacity(N_FREQS * N_FFT);
        for k in 0..N_FREQS {
            for n in 0..N_FFT {
                let a = 2.0 * PI * ((k * n) % N_FFT) as f64 / N_FFT as f64;
                cos.push(a.cos());
                sin.push(a.sin());
            }
        }
        Self {
            filters: mel_filterbank(sample_rate),
            window,
            cos,
            sin,
        }
    }

    /// Frames (1 + len / HOP) x N_MELS, row-major.
    pub fn compute(&self, samples: &[f32]) -> Vec<[f32; N_MELS]> {
        let pad = N_FFT / 2;
        let n_frames = 1 + samples.len() / HOP;
        let at = |i: usize| -> f64 {
            // Centred frames: zero padding of N_FFT / 2 on both sides.
            i.checked_sub(pad)
                .and_then(|j| samples.get(j))
                .map_or(0.0, |&s| f64::from(s))
        };
        let mut frame = vec![0.0f64; N_FFT];
        let mut power = vec![0.0f64; N_FREQS];
        (0..n_frames)
            .map(|t| {
                for (n, v) in frame.iter_mut().enumerate() {
                    *v = at(t * HOP + n) * self.window[n];
                }
                for (k, p) in power.iter_mut().enumerate() {
                    let (c, s) = (
                        &self.cos[k * N_FFT..(k + 1) * N_FFT],
                        &self.sin[k * N_FFT..(k + 1) * N_FFT],
                    );
                    let re: f64 = frame.iter().zip(c).map(|(x, y)| x * y).sum();
                    let im: f64 = frame.iter().zip(s).map(|(x, y)| x * y).sum();
                    *p = re * re + im * im;
                }
                let mut mel = [0f32; N_MELS];
                for (m, out) in mel.iter_mut().enumerate() {
                    let w = &self.filters[m * N_FREQS..(m + 1) * N_FREQS];
                    *out = w.iter().zip(&power).map(|(a, b)| a * b).sum::<f64>() as f32;
                }
                mel
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_mel_scale_round_trips() {
        for hz in [0.0, 500.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-9);
    }

    #[test]
    fn a_tone_lands_in_its_band() {
        let mel = MelSpectrogram::new(16_000);
        let x: Vec<f32> = (0..16_000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin())
            .collect();
        let frames = mel.compute(&x);
        assert_eq!(frames.len(), 101);
        let f = frames[50];
        let best = (0..N_MELS).max_by(|&a, &b| f[a].total_cmp(&f[b])).unwrap();
        let centre = |m: usize| {
            let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(8000.0));
            mel_to_hz(lo + (hi - lo) * (m + 1) as f64 / 41.0)
        };
        assert!(
            (centre(best) - 1000.0).abs() < 200.0,
            "band {best} at {}",
            centre(best)
        );
    }
}
