//! dlib's 5-point shape predictor (an ensemble of regression trees, Kazemi & Sullivan),
//! evaluated exactly as `dlib::shape_predictor::operator()` does.
//!
//! Points: 0, 1 = outer and inner corner of the eye on the image's right; 2, 3 = outer and
//! inner corner of the image-left eye; 4 = base of the nose.

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use image::RgbImage;

use crate::error::{MatcherError, Result};
use crate::models::ModelStore;

pub const WEIGHTS_FILE: &str = "shape_predictor_5_face_landmarks.safetensors";
pub const NUM_POINTS: usize = 5;

/// A face box in dlib's convention: inclusive pixel bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaceBox {
    pub left: i64,
    pub top: i64,
    pub right: i64,
    pub bottom: i64,
}

impl FaceBox {
    pub fn width(&self) -> i64 {
        self.right - self.left + 1
    }
    pub fn height(&self) -> i64 {
        self.bottom - self.top + 1
    }
}

/// Landmarks rounded to whole pixels, as dlib's `full_object_detection` holds them.
pub type Landmarks = [[i64; 2]; NUM_POINTS];

pub struct ShapePredictor {
    initial: Vec<[f32; 2]>,
    cascades: usize,
    trees: usize,
    splits: usize,
    leaves: usize,
    features: usize,
    split_idx: Vec<u32>,
    split_thresh: Vec<f32>,
    leaf_values: Vec<f32>,
    anchor_idx: Vec<u32>,
    deltas: Vec<f32>,
}

fn take(tensors: &mut HashMap<String, Tensor>, name: &str) -> Result<Tensor> {
    tensors.remove(name).ok_or_else(|| MatcherError::Model {
        name: WEIGHTS_FILE.into(),
        reason: format!("tensor {name} missing"),
    })
}

fn bad(reason: String) -> MatcherError {
    MatcherError::Model {
        name: WEIGHTS_FILE.into(),
        reason,
    }
}

/// Round half up, as dlib converts a floating point vector to a pixel `point`.
fn round_px(v: f64) -> i64 {
    (v + 0.5).floor() as i64
}

impl ShapePredictor {
    pub fn load(store: &ModelStore) -> Result<Self> {
        let path = store.verified_path(WEIGHTS_FILE)?;
        let mut t = candle_core::safetensors::load(&path, &Device::Cpu)?;
        let split_idx = take(&mut t, "split_idx")?;
        let (cascades, trees, splits, two) = split_idx.dims4()?;
        let leaf_values = take(&mut t, "leaf_values")?;
        let (_, _, leaves, coords) = leaf_values.dims4()?;
        let anchor_idx = take(&mut t, "anchor_idx")?;
        let (_, features) = anchor_idx.dims2()?;
        if two != 2 || coords != 2 * NUM_POINTS || leaves != splits + 1 {
            return Err(bad(format!(
                "unexpected shapes: splits {:?}, leaves {:?}",
                split_idx.dims(),
                leaf_values.dims()
            )));
        }
        let initial: Vec<f32> = take(&mut t, "initial_shape")?.flatten_all()?.to_vec1()?;
        let sp = Self {
            initial: initial.chunks_exact(2).map(|c| [c[0], c[1]]).collect(),
            cascades,
            trees,
            splits,
            leaves,
            features,
            split_idx: split_idx.flatten_all()?.to_vec1()?,
            split_thresh: take(&mut t, "split_thresh")?.flatten_all()?.to_vec1()?,
            leaf_values: leaf_values.flatten_all()?.to_vec1()?,
            anchor_idx: anchor_idx.flatten_all()?.to_vec1()?,
            deltas: take(&mut t, "deltas")?.flatten_all()?.to_vec1()?,
        };
        let consistent = sp.initial.len() == NUM_POINTS
            && sp.split_thresh.len() == cascades * trees * splits
            && sp.deltas.len() == cascades * features * 2
            && sp.split_idx.iter().all(|&i| (i as usize) < features)
            && sp.anchor_idx.iter().all(|&i| (i as usize) < NUM_POINTS);
        if !consistent {
            return Err(bad("inconsistent tensors".into()));
        }
        Ok(sp)
    }

    /// The mean of the landmarks predicted for boxes with `rect`'s centre and `scales` times
    /// its size, rounded to whole pixels.
    pub fn predict_mean(&self, img: &RgbImage, rect: FaceBox, scales: &[f64]) -> Landmarks {
        let (cx, cy) = (
            (rect.left + rect.right) as f64 / 2.0,
            (rect.top + rect.bottom) as f64 / 2.0,
        );
        let mut sum = [[0f64; 2]; NUM_POINTS];
        for &k in scales {
            let half_w = (rect.right - rect.left) as f64 * k / 2.0;
            let half_h = (rect.bottom - rect.top) as f64 * k / 2.0;
            let b = FaceBox {
                left: round_px(cx - half_w),
                top: round_px(cy - half_h),
                right: round_px(cx + half_w),
                bottom: round_px(cy + half_h),
            };
            for (s, p) in sum.iter_mut().zip(self.predict(img, b)) {
                s[0] += p[0] as f64;
                s[1] += p[1] as f64;
            }
        }
        let n = scales.len().max(1) as f64;
        sum.map(|p| [round_px(p[0] / n), round_px(p[1] / n)])
    }

    /// Landmarks of the face in `rect`, in image pixels, rounded like dlib.
    pub fn predict(&self, img: &RgbImage, rect: FaceBox) -> Landmarks {
        let shape = self.predict_normalised(img, rect);
        let (sx, sy) = (
            (rect.right - rect.left) as f64,
            (rect.bottom - rect.top) as f64,
        );
        let mut out = [[0i64; 2]; NUM_POINTS];
        for (o, p) in out.iter_mut().zip(&shape) {
            *o = [
                round_px(rect.left as f64 + f64::from(p[0]) * sx),
                round_px(rect.top as f64 + f64::from(p[1]) * sy),
            ];
        }
        out
    }

    /// The shape in the box's unit square (dlib's "normalised" space).
    fn predict_normalised(&self, img: &RgbImage, rect: FaceBox) -> Vec<[f32; 2]> {
        let mut current = self.initial.clone();
        let mut pixels = vec![0f32; self.features];
        let (w, h) = (i64::from(img.width()), i64::from(img.height()));
        let (sx, sy) = (
            (rect.right - rect.left) as f64,
            (rect.bottom - rect.top) as f64,
        );
        for cascade in 0..self.cascades {
            let m = similarity(&self.initial, &current);
            for (f, value) in pixels.iter_mut().enumerate() {
                let k = cascade * self.features + f;
                let anchor = current[self.anchor_idx[k] as usize];
                let (dx, dy) = (self.deltas[2 * k], self.deltas[2 * k + 1]);
                let u = m[0] * dx + m[1] * dy + anchor[0];
                let v = m[2] * dx + m[3] * dy + anchor[1];
                let x = round_px(rect.left as f64 + f64::from(u) * sx);
                let y = round_px(rect.top as f64 + f64::from(v) * sy);
                *value = if x >= 0 && y >= 0 && x < w && y < h {
                    let p = img.get_pixel(x as u32, y as u32).0;
                    ((u32::from(p[0]) + u32::from(p[1]) + u32::from(p[2])) / 3) as f32
                } else {
                    0.0
                };
            }
            for tree in 0..self.trees {
                let t = cascade * self.trees + tree;
                let mut node = 0;
                while node < self.splits {
                    let s = t * self.splits + node;
                    let a = pixels[self.split_idx[2 * s] as usize];
                    let b = pixels[self.split_idx[2 * s + 1] as usize];
                    node = if a - b > self.split_thresh[s] {
                        2 * node + 1
                    } else {
                        2 * node + 2
                    };
                }
                let leaf = (t * self.leaves + node - self.splits) * 2 * NUM_POINTS;
                for (i, p) in current.iter_mut().enumerate() {
                    p[0] += self.leaf_values[leaf + 2 * i];
                    p[1] += self.leaf_values[leaf + 2 * i + 1];
                }
            }
        }
        current
    }
}

/// Linear part (row-major 2x2) of the least-squares similarity transform taking `from` to
/// `to` (Umeyama's method, which in 2-D has this closed form).
fn similarity(from: &[[f32; 2]], to: &[[f32; 2]]) -> [f32; 4] {
    let n = from.len() as f32;
    let mean = |pts: &[[f32; 2]]| {
        let (sx, sy) = pts
            .iter()
            .fold((0f32, 0f32), |(x, y), p| (x + p[0], y + p[1]));
        (sx / n, sy / n)
    };
    let (fx, fy) = mean(from);
    let (tx, ty) = mean(to);
    let (mut a, mut b, mut var) = (0f32, 0f32, 0f32);
    for (f, t) in from.iter().zip(to) {
        let (px, py) = (f[0] - fx, f[1] - fy);
        let (qx, qy) = (t[0] - tx, t[1] - ty);
        a += px * qx + py * qy;
        b += px * qy - py * qx;
        var += px * px + py * py;
    }
    if var == 0.0 {
        return [1.0, 0.0, 0.0, 1.0];
    }
    [a / var, -b / var, b / var, a / var]
}
