//! Blink-based liveness: a still photograph held to the camera does not blink.
//!
//! Each frame's eye openness is the eyelid aspect ratio from MediaPipe's iris landmark
//! network (`face::eyes`): the distance between the upper and lower lid over the distance
//! between the eye's corners, averaged over both eyes. It is divided by a local open-eye
//! level, the 80th percentile of the frames within `REFERENCE_FRAMES` on either side, so
//! that slow changes (looking down, a narrower eye) are not taken for blinks. A blink is a
//! run of 1 to `MAX_BLINK_FRAMES` frames below `CLOSED_RATIO` between frames above
//! `OPEN_RATIO`.

use serde::Serialize;

/// Relative openness under which the eyes count as closed. Chosen on real video
/// (EVALUATION.md): 0.6 finds every labelled blink and no unlabelled dip; held-up photos
/// stay above it by a wide margin.
pub const CLOSED_RATIO: f32 = 0.6;
/// Relative openness above which the eyes count as open again.
pub const OPEN_RATIO: f32 = 0.85;
/// Longest closure still counted as a blink (0.5 s at 30 frames per second).
pub const MAX_BLINK_FRAMES: usize = 15;
/// Frames on either side of a frame that set its open-eye reference level.
pub const REFERENCE_FRAMES: usize = 15;
/// Fewest frames with a face for a decision.
pub const MIN_FRAMES: usize = 10;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FrameScore {
    pub frame: usize,
    /// Openness relative to the local open-eye level; None when no usable face was found.
    pub openness: Option<f32>,
    pub eyes_closed: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LivenessReport {
    pub live: bool,
    pub blinks: usize,
    /// The first closed-eye frame of each blink, in order.
    pub blink_starts: Vec<usize>,
    pub frames: usize,
    pub frames_with_face: usize,
    pub reason: String,
    pub per_frame: Vec<FrameScore>,
}

/// Decides liveness from per-frame eye openness (None = no usable face in that frame).
pub fn analyse(openness: &[Option<f32>]) -> LivenessReport {
    let per_frame: Vec<FrameScore> = openness
        .iter()
        .enumerate()
        .map(|(frame, o)| {
            let lo = frame.saturating_sub(REFERENCE_FRAMES);
            let hi = (frame + REFERENCE_FRAMES + 1).min(openness.len());
            let mut near: Vec<f32> = openness[lo..hi].iter().flatten().copied().collect();
            near.sort_by(f32::total_cmp);
            let reference = near.get(near.len() * 4 / 5).copied().unwrap_or(0.0);
            let rel = o.filter(|_| reference > 0.0).map(|o| o / reference);
            FrameScore {
                frame,
                openness: rel,
                eyes_closed: rel.is_some_and(|r| r < CLOSED_RATIO),
            }
        })
        .collect();
    // Count closed runs bounded by open frames on both sides (frames without a face end a
    // run without counting as open).
    let mut blink_starts = Vec::new();
    let mut state_open_before = false;
    let mut closed_run = 0usize;
    let mut run_start = 0usize;
    for f in &per_frame {
        match f.openness {
            Some(r) if r < CLOSED_RATIO => {
                if closed_run == 0 {
                    run_start = f.frame;
                }
                closed_run += 1;
            }
            Some(r) if r > OPEN_RATIO => {
                if state_open_before && (1..=MAX_BLINK_FRAMES).contains(&closed_run) {
                    blink_starts.push(run_start);
                }
                state_open_before = true;
                closed_run = 0;
            }
            Some(_) => {}
            None => {
                state_open_before = false;
                closed_run = 0;
            }
        }
    }
    let blinks = blink_starts.len();
    let frames_with_face = openness.iter().flatten().count();
    let (live, reason) = if frames_with_face < MIN_FRAMES {
        (
            false,
            format!("a face was found in {frames_with_face} frames, at least {MIN_FRAMES} needed"),
        )
    } else if blinks == 0 {
        (false, "no blink seen".to_owned())
    } else {
        (true, format!("{blinks} blink(s) seen"))
    };
    LivenessReport {
        live,
        blinks,
        blink_starts,
        frames: openness.len(),
        frames_with_face,
        reason,
        per_frame,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(values: &[f32]) -> Vec<Option<f32>> {
        values.iter().map(|&v| Some(v)).collect()
    }

    #[test]
    fn a_constant_sequence_has_no_blink() {
        let r = analyse(&seq(&[0.3; 30]));
        assert!(!r.live);
        assert_eq!(r.blinks, 0);
    }

    #[test]
    fn a_dip_between_open_frames_is_a_blink() {
        let mut v = vec![0.3f32; 30];
        v[10] = 0.12;
        v[11] = 0.1;
        v[20] = 0.15;
        let r = analyse(&seq(&v));
        assert_eq!(r.blinks, 2);
        assert_eq!(r.blink_starts, [10, 20]);
        assert!(r.live);
        assert!(r.per_frame[11].eyes_closed && !r.per_frame[12].eyes_closed);
    }

    #[test]
    fn long_closures_and_missing_faces_do_not_count() {
        let mut v = vec![0.3f32; 40];
        for x in v.iter_mut().skip(5).take(MAX_BLINK_FRAMES + 1) {
            *x = 0.1;
        }
        assert_eq!(analyse(&seq(&v)).blinks, 0);
        let mut w = seq(&[0.3; 30]);
        w[10] = None;
        w[11] = Some(0.1);
        assert_eq!(analyse(&w).blinks, 0);
        let short = analyse(&seq(&[0.3, 0.1, 0.3]));
        assert!(!short.live);
    }
}

/// Presentation-attack material for evaluating liveness without video data: a still
/// photograph "held to the camera" (small shifts, brightness changes and sensor noise), and
/// a crude synthetic blink (eye regions painted over with cheek colour and a lash line).
/// Synthetic blinks test the decision logic only; they are no substitute for real video.
pub mod synthetic {
    use image::{Rgb, RgbImage};

    use crate::face::landmarks::Landmarks;

    fn xorshift(state: &mut u64) -> f32 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        (*state >> 40) as f32 / (1u64 << 24) as f32
    }

    /// `n` frames of one photograph with jitter of up to 3 px, +-8% brightness and noise.
    pub fn still_photo(img: &RgbImage, n: usize, seed: u64) -> Vec<RgbImage> {
        let mut s = seed.max(1);
        (0..n)
            .map(|_| {
                let (dx, dy) = (
                    (xorshift(&mut s) * 7.0) as i64 - 3,
                    (xorshift(&mut s) * 7.0) as i64 - 3,
                );
                let gain = 0.92 + 0.16 * xorshift(&mut s);
                let (w, h) = (i64::from(img.width()), i64::from(img.height()));
                RgbImage::from_fn(img.width(), img.height(), |x, y| {
                    let sx = (i64::from(x) + dx).clamp(0, w - 1) as u32;
                    let sy = (i64::from(y) + dy).clamp(0, h - 1) as u32;
                    let p = img.get_pixel(sx, sy).0;
                    let noise = (xorshift(&mut s) - 0.5) * 6.0;
                    Rgb(p.map(|v| (f32::from(v) * gain + noise).clamp(0.0, 255.0) as u8))
                })
            })
            .collect()
    }

    /// The face of the image turned about a vertical axis by `degrees` (positive: toward
    /// the image's right, the citizen's own left), rendered from a crude depth model: the
    /// face an ellipsoid around the eyes and nose, with a ridge for the nose standing out of
    /// it. Each row is remapped horizontally; the background stays. A logic check for the
    /// head-turn challenge, not a picture of a real turn.
    pub fn turn_head(img: &RgbImage, landmarks: &Landmarks, degrees: f32) -> RgbImage {
        let p = |i: usize| (landmarks[i][0] as f32, landmarks[i][1] as f32);
        let eyes = [p(0), p(1), p(2), p(3)];
        let (ex, ey) = (
            eyes.iter().map(|e| e.0).sum::<f32>() / 4.0,
            eyes.iter().map(|e| e.1).sum::<f32>() / 4.0,
        );
        let span = ((p(0).0 - p(2).0).powi(2) + (p(0).1 - p(2).1).powi(2))
            .sqrt()
            .max(1.0);
        let (nx, ny) = p(4);
        // The face's half width and half height, and its centre a little below the eyes.
        let (rx, ry, cy) = (0.85 * span, 1.25 * span, ey + 0.45 * span);
        let depth = |x: f32, y: f32| -> f32 {
            let (u, v) = ((x - ex) / rx, (y - cy) / ry);
            let face = rx * (1.0 - u * u - v * v).max(0.0).sqrt();
            // The nose: from between the eyes down to its base, highest at the base.
            let along = ((y - ey) / (ny - ey).max(1.0)).clamp(0.0, 1.15);
            let across = (x - (ex + (nx - ex) * along.min(1.0))) / (0.13 * span);
            let nose = if (ey..ny + 0.1 * span).contains(&y) {
                0.32 * span * along.min(1.0) * (-across * across).exp()
            } else {
                0.0
            };
            face + nose
        };
        // Points move sideways by their depth (the foreshortening, a few per cent, is left out).
        let sin = degrees.to_radians().sin();
        let shift = |x: f32, y: f32| depth(x, y) * sin;
        let (w, h) = (img.width(), img.height());
        RgbImage::from_fn(w, h, |x, y| {
            let (xo, yf) = (x as f32, y as f32);
            // Where this output pixel comes from: solve x + shift(x) = xo by iteration.
            let mut xs = xo;
            for _ in 0..12 {
                xs = xo - shift(xs, yf);
            }
            let xs = xs.clamp(0.0, (w - 1) as f32);
            let (x0, t) = (xs.floor() as u32, xs.fract());
            let (a, b) = (
                img.get_pixel(x0, y).0,
                img.get_pixel((x0 + 1).min(w - 1), y).0,
            );
            Rgb(std::array::from_fn(|c| {
                (f32::from(a[c]) * (1.0 - t) + f32::from(b[c]) * t).round() as u8
            }))
        })
    }

    /// The image with both eyes painted shut.
    pub fn close_eyes(img: &RgbImage, landmarks: &Landmarks) -> RgbImage {
        let mut out = img.clone();
        for (a, b) in [(landmarks[0], landmarks[1]), (landmarks[2], landmarks[3])] {
            let (ax, ay, bx, by) = (a[0] as f64, a[1] as f64, b[0] as f64, b[1] as f64);
            let (cx, cy) = ((ax + bx) / 2.0, (ay + by) / 2.0);
            let width = (bx - ax).hypot(by - ay).max(1.0);
            let (ux, uy) = ((bx - ax) / width, (by - ay) / width);
            let (vx, vy) = (-uy, ux);
            // Skin below the eye, on the side away from the eyebrow.
            let (sx, sy) = if vy > 0.0 {
                (cx + 0.8 * width * vx, cy + 0.8 * width * vy)
            } else {
                (cx - 0.8 * width * vx, cy - 0.8 * width * vy)
            };
            let skin = *img.get_pixel(
                (sx.max(0.0) as u32).min(img.width() - 1),
                (sy.max(0.0) as u32).min(img.height() - 1),
            );
            let r = width.ceil() as i64;
            for y in (cy as i64 - r)..=(cy as i64 + r) {
                for x in (cx as i64 - r)..=(cx as i64 + r) {
                    if x < 0 || y < 0 || x >= i64::from(out.width()) || y >= i64::from(out.height())
                    {
                        continue;
                    }
                    let (px, py) = (x as f64 - cx, y as f64 - cy);
                    let (u, v) = (px * ux + py * uy, px * vx + py * vy);
                    // Skin over the eye, blended into its surroundings so that the patch
                    // leaves no eye-shaped outline, and the closed lid's lash line: an arc
                    // sagging a little below the corners' axis.
                    let radius = ((u / width).powi(2) + (v / (0.6 * width)).powi(2)).sqrt();
                    let cover = ((1.0 - radius) / 0.3).clamp(0.0, 1.0);
                    if cover <= 0.0 {
                        continue;
                    }
                    let down = if vy > 0.0 { v } else { -v };
                    let sag = 0.08 * width * (1.0 - (u / (0.5 * width)).powi(2)).max(0.0);
                    let lash = (down - sag).abs() < 1.0 && u.abs() < 0.5 * width;
                    let target = if lash { Rgb([40, 30, 30]) } else { skin };
                    let p = out.get_pixel_mut(x as u32, y as u32);
                    for c in 0..3 {
                        let mixed =
                            cover * f64::from(target.0[c]) + (1.0 - cover) * f64::from(p.0[c]);
                        p.0[c] = mixed.round() as u8;
                    }
                }
            }
        }
        out
    }
}
