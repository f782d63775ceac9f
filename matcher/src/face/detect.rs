//! dlib's CNN face detector ("mmod_human_face_detector", max-margin object detection)
//! re-implemented in candle.
//!
//! Network: three 5x5 stride-2 convolutions (16, 32, 32) with affine + ReLU, three 5x5
//! convolutions of 45 with affine + ReLU, then a 9x9 convolution to one score map. It runs on
//! an image pyramid with a 5/6 ratio per level; each positive score is an 80x80 window
//! centred on output cell (c, r) -> input point (8c + 14, 8r + 14), mapped back to the
//! original image and kept after non-maximum suppression. dlib tiles the pyramid into one
//! image; running the levels one by one differs only at level borders.

use std::path::Path;

use candle_core::{Device, Module, Tensor};
use candle_nn::{Conv2d, Conv2dConfig};
use image::{Rgb, RgbImage};

use crate::error::{MatcherError, Result};
use crate::face::embed::Affine;
use crate::face::landmarks::FaceBox;
use crate::models::ModelStore;

pub const WEIGHTS_FILE: &str = "mmod_human_face_detector.safetensors";
const MEAN_RGB: [f32; 3] = [122.782, 117.001, 104.298];
const MIN_INPUT_SIDE: u32 = 20;
const PYRAMID_PADDING: i64 = 10;
const PYRAMID_OUTER_PADDING: i64 = 11;

/// A tile of the pyramid image (inclusive integer bounds).
#[derive(Debug, Clone, Copy)]
struct Tile {
    l: i64,
    t: i64,
    r: i64,
    b: i64,
}

impl Tile {
    fn width(&self) -> i64 {
        self.r - self.l + 1
    }
    fn height(&self) -> i64 {
        self.b - self.t + 1
    }
    fn contains(&self, (x, y): (i64, i64)) -> bool {
        x >= self.l && x <= self.r && y >= self.t && y <= self.b
    }
    fn intersects(&self, o: &Tile) -> bool {
        self.l.max(o.l) <= self.r.min(o.r) && self.t.max(o.t) <= self.b.min(o.b)
    }
}

/// dlib's `nearest_rect`: the tile containing the point, else the closest one.
fn nearest_rect(rects: &[Tile], p: (i64, i64)) -> usize {
    let mut best = (f64::INFINITY, 0);
    for (i, r) in rects.iter().enumerate() {
        if r.contains(p) {
            return i;
        }
        let nx = p.0.clamp(r.l, r.r);
        let ny = p.1.clamp(r.t, r.b);
        let d = ((nx - p.0) as f64).hypot((ny - p.1) as f64);
        if d < best.0 {
            best = (d, i);
        }
    }
    best.1
}

/// dlib's `create_tiled_pyramid<pyramid_down<6>>` with padding 10 and outer padding 11:
/// the image and its 5/6 reductions packed into one input tensor, and where each went.
fn tiled_pyramid(img: &RgbImage) -> (Vec<f32>, (usize, usize), Vec<Tile>) {
    let (mut nr, mut nc) = (i64::from(img.height()), i64::from(img.width()));
    let mut sizes = vec![(nr, nc)];
    loop {
        nr = nr * 5 / 6;
        nc = nc * 5 / 6;
        if nr * nc == 0 || nr < 5 {
            break;
        }
        sizes.push((nr, nc));
    }
    let (pad, outer) = (PYRAMID_PADDING, PYRAMID_OUTER_PADDING);
    let total_height: i64 = sizes.iter().map(|s| s.0 + pad).sum::<i64>() - 2 * pad;
    let (h0, w0) = sizes[0];
    let mut height = 0;
    let mut prev_width = 0;
    for &(h, w) in &sizes {
        if w <= w0 - prev_width - pad && (height - h0) * 2 >= total_height - h0 {
            break;
        }
        height += h + pad;
        prev_width = w;
    }
    height -= pad;
    let (out_nr, out_nc) = (height + 2 * outer, w0 + 2 * outer);
    let mut rects = Vec::with_capacity(sizes.len());
    let mut y = outer;
    let mut i = 0;
    while y < height + outer && i < sizes.len() {
        let (h, w) = sizes[i];
        rects.push(Tile {
            l: outer,
            t: y,
            r: outer + w - 1,
            b: y + h - 1,
        });
        y += h + pad;
        i += 1;
    }
    y -= pad;
    while i < sizes.len() {
        let (h, w) = sizes[i];
        // Second column, bottom-up, right-aligned.
        let (x1, y1) = (outer + w0 - 1, y - 1);
        let rect = Tile {
            l: x1 - (w - 1),
            t: y1 - (h - 1),
            r: x1,
            b: y1,
        };
        if rect.intersects(&rects[0]) {
            break;
        }
        rects.push(rect);
        y -= h + pad;
        i += 1;
    }
    // Built in the network's input space (mean-subtracted, /256) like dlib's
    // input_rgb_image_pyramid: gaps stay 0 and levels are resized in f32.
    let (w, h) = (out_nc.max(1) as usize, out_nr.max(1) as usize);
    let mut out = vec![0f32; 3 * w * h];
    let (iw, ih) = (img.width() as usize, img.height() as usize);
    let mut level: Vec<f32> = Vec::with_capacity(3 * iw * ih);
    for (c, mean) in MEAN_RGB.iter().enumerate() {
        level.extend(img.pixels().map(|p| (f32::from(p.0[c]) - mean) / 256.0));
    }
    let mut level_dims = (iw, ih);
    for (k, tile) in rects.iter().enumerate() {
        let dims = (tile.width() as usize, tile.height() as usize);
        if k > 0 {
            level = resize_planes(&level, level_dims, dims);
            level_dims = dims;
        }
        let (lw, lh) = level_dims;
        for c in 0..3 {
            for y in 0..lh {
                let row = &level[(c * lh + y) * lw..(c * lh + y + 1) * lw];
                let start = (c * h + tile.t as usize + y) * w + tile.l as usize;
                out[start..start + lw].copy_from_slice(row);
            }
        }
    }
    (out, (w, h), rects)
}

/// dlib's `tt::resize_bilinear` on three planes: corners aligned, f32 arithmetic.
fn resize_planes(src: &[f32], (sw, sh): (usize, usize), (dw, dh): (usize, usize)) -> Vec<f32> {
    let x_scale = (sw as f32 - 1.0) / (dw.max(2) as f32 - 1.0);
    let y_scale = (sh as f32 - 1.0) / (dh.max(2) as f32 - 1.0);
    let mut out = Vec::with_capacity(3 * dw * dh);
    for c in 0..3 {
        let plane = &src[c * sw * sh..(c + 1) * sw * sh];
        for r in 0..dh {
            let y = r as f32 * y_scale;
            let top = (y.floor() as usize).min(sh - 1);
            let bottom = (top + 1).min(sh - 1);
            let tb = y - top as f32;
            for col in 0..dw {
                let x = col as f32 * x_scale;
                let left = (x.floor() as usize).min(sw - 1);
                let right = (left + 1).min(sw - 1);
                let lr = x - left as f32;
                let (tl, tr) = (plane[top * sw + left], plane[top * sw + right]);
                let (bl, br) = (plane[bottom * sw + left], plane[bottom * sw + right]);
                out.push(
                    (1.0 - tb) * ((1.0 - lr) * tl + lr * tr) + tb * ((1.0 - lr) * bl + lr * br),
                );
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub face_box: FaceBox,
    pub confidence: f32,
}

/// A rectangle with real coordinates, dlib's `drectangle` (inclusive bounds).
#[derive(Debug, Clone, Copy)]
struct DRect {
    l: f64,
    t: f64,
    r: f64,
    b: f64,
}

impl DRect {
    fn area(&self) -> f64 {
        if self.r < self.l || self.b < self.t {
            0.0
        } else {
            (self.r - self.l + 1.0) * (self.b - self.t + 1.0)
        }
    }
    fn intersect(&self, o: &DRect) -> DRect {
        DRect {
            l: self.l.max(o.l),
            t: self.t.max(o.t),
            r: self.r.min(o.r),
            b: self.b.min(o.b),
        }
    }
    fn union_box(&self, o: &DRect) -> DRect {
        DRect {
            l: self.l.min(o.l),
            t: self.t.min(o.t),
            r: self.r.max(o.r),
            b: self.b.max(o.b),
        }
    }
}

pub struct FaceDetector {
    convs: Vec<Conv2d>,
    /// The final 9x9 convolution to one channel, as (81 taps, 45 channels) and its bias:
    /// applied as one matmul and 81 shifted sums instead of a 3645-row im2col.
    score_taps: Tensor,
    score_bias: f32,
    affines: Vec<Affine>,
    window: (f64, f64),
    nms_iou: f64,
    nms_covered: f64,
    device: Device,
}

/// The `__metadata__` of a safetensors file (its JSON header).
fn safetensors_metadata(path: &Path) -> Result<serde_json::Map<String, serde_json::Value>> {
    let bad = |reason: String| MatcherError::Model {
        name: WEIGHTS_FILE.into(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let len = bytes
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
        .ok_or_else(|| bad("truncated header".into()))?;
    let header = usize::try_from(len)
        .ok()
        .and_then(|len| bytes.get(8..8 + len))
        .ok_or_else(|| bad("truncated header".into()))?;
    let v: serde_json::Value = serde_json::from_slice(header).map_err(|e| bad(e.to_string()))?;
    v.get("__metadata__")
        .and_then(|m| m.as_object())
        .cloned()
        .ok_or_else(|| bad("no metadata".into()))
}

fn meta_f64(meta: &serde_json::Map<String, serde_json::Value>, key: &str) -> Result<f64> {
    meta.get(key)
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| MatcherError::Model {
            name: WEIGHTS_FILE.into(),
            reason: format!("metadata {key} missing"),
        })
}

/// Bilinear resize with corners aligned, as dlib's `resize_image`.
fn resize(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    let sx = f64::from(img.width() - 1) / f64::from(w.max(2) - 1);
    let sy = f64::from(img.height() - 1) / f64::from(h.max(2) - 1);
    let (maxx, maxy) = (img.width() - 1, img.height() - 1);
    RgbImage::from_fn(w, h, |x, y| {
        let fx = f64::from(x) * sx;
        let fy = f64::from(y) * sy;
        let (x0, y0) = ((fx.floor() as u32).min(maxx), (fy.floor() as u32).min(maxy));
        let (x1, y1) = ((x0 + 1).min(maxx), (y0 + 1).min(maxy));
        let (ax, ay) = (fx - f64::from(x0), fy - f64::from(y0));
        let p = |xx, yy| img.get_pixel(xx, yy).0;
        let (tl, tr, bl, br) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
        let mut out = [0u8; 3];
        for c in 0..3 {
            let v = (1.0 - ay) * ((1.0 - ax) * f64::from(tl[c]) + ax * f64::from(tr[c]))
                + ay * ((1.0 - ax) * f64::from(bl[c]) + ax * f64::from(br[c]));
            out[c] = (v + 0.5).clamp(0.0, 255.0) as u8;
        }
        Rgb(out)
    })
}

impl FaceDetector {
    pub fn load(store: &ModelStore) -> Result<Self> {
        let path = store.verified_path(WEIGHTS_FILE)?;
        let meta = safetensors_metadata(&path)?;
        let vb = ModelStore::map_verified(&path)?;
        let device = Device::Cpu;
        let plan: [(usize, usize, usize, usize); 7] = [
            (3, 16, 5, 2),
            (16, 32, 5, 2),
            (32, 32, 5, 2),
            (32, 45, 5, 1),
            (45, 45, 5, 1),
            (45, 45, 5, 1),
            (45, 1, 9, 1),
        ];
        let mut convs = Vec::new();
        let mut affines = Vec::new();
        for (i, &(cin, cout, k, stride)) in plan.iter().enumerate().take(6) {
            let cfg = Conv2dConfig {
                padding: if stride == 1 { k / 2 } else { 0 },
                stride,
                ..Default::default()
            };
            convs.push(candle_nn::conv2d(
                cin,
                cout,
                k,
                cfg,
                vb.pp(format!("conv{i}")),
            )?);
            affines.push(Affine::new(cout, vb.pp(format!("affine{i}")))?);
        }
        let (cin, _, k, _) = plan[6];
        let w = vb.get((1, cin, k, k), "conv6.weight")?;
        let score_taps = w.reshape((cin, k * k))?.t()?.contiguous()?;
        let score_bias = vb.get(1, "conv6.bias")?.to_vec1::<f32>()?[0];
        Ok(Self {
            convs,
            score_taps,
            score_bias,
            affines,
            window: (
                meta_f64(&meta, "window_width")?,
                meta_f64(&meta, "window_height")?,
            ),
            nms_iou: meta_f64(&meta, "nms_iou")?,
            nms_covered: meta_f64(&meta, "nms_percent_covered")?,
            device,
        })
    }

    /// Score map of a (3, h, w) input: (rows, cols, scores).
    fn score_map(
        &self,
        data: Vec<f32>,
        (w, h): (usize, usize),
    ) -> Result<(usize, usize, Vec<f32>)> {
        let mut x = Tensor::from_vec(data, (1, 3, h, w), &self.device)?;
        for (conv, affine) in self.convs.iter().zip(&self.affines) {
            x = affine.forward(&x.apply(conv)?)?.relu()?;
        }
        let (_, channels, rows, cols) = x.dims4()?;
        // taps[t][p] = sum over channels of w[c][t] * x[c][p]; the 9x9 "same" convolution
        // is then out[r][c] = bias + sum_t taps[t][(r + dy_t, c + dx_t)].
        let taps = self
            .score_taps
            .matmul(&x.reshape((channels, rows * cols))?)?
            .to_vec2::<f32>()?;
        let k = 9usize;
        let half = (k / 2) as i64;
        let mut out = vec![self.score_bias; rows * cols];
        for (t, plane) in taps.iter().enumerate() {
            let (dy, dx) = ((t / k) as i64 - half, (t % k) as i64 - half);
            for r in 0..rows as i64 {
                let sr = r + dy;
                if sr < 0 || sr >= rows as i64 {
                    continue;
                }
                let c0 = (-dx).max(0);
                let c1 = (cols as i64 - dx).min(cols as i64);
                if c0 >= c1 {
                    continue;
                }
                let dst =
                    &mut out[(r as usize) * cols + c0 as usize..(r as usize) * cols + c1 as usize];
                let start = (sr as usize) * cols + (c0 + dx) as usize;
                for (o, v) in dst
                    .iter_mut()
                    .zip(&plane[start..start + (c1 - c0) as usize])
                {
                    *o += v;
                }
            }
        }
        Ok((rows, cols, out))
    }

    /// All faces in the image, most confident first. `upsample` doubles the image first,
    /// finding faces down to about 40 px instead of 80 px.
    pub fn detect(&self, img: &RgbImage, upsample: bool) -> Result<Vec<Detection>> {
        // Far below the 80 px window, and too small for the stride-8 network's input.
        if img.width() < MIN_INPUT_SIDE || img.height() < MIN_INPUT_SIDE {
            return Ok(Vec::new());
        }
        let base;
        let img = if upsample {
            base = resize(img, img.width() * 2, img.height() * 2);
            &base
        } else {
            img
        };
        let (tiled, dims, rects) = tiled_pyramid(img);
        let (rows, cols, scores) = self.score_map(tiled, dims)?;
        let (hw, hh) = ((self.window.0 - 1.0) / 2.0, (self.window.1 - 1.0) / 2.0);
        let mut candidates: Vec<(f32, DRect)> = Vec::new();
        for r in 0..rows {
            for c in 0..cols {
                let score = scores[r * cols + c];
                if score <= 0.0 {
                    continue;
                }
                // Output cell -> input point through the three stride-2 5x5 convolutions.
                let (px, py) = (8.0 * c as f64 + 14.0, 8.0 * r as f64 + 14.0);
                let level = nearest_rect(&rects, (px.round() as i64, py.round() as i64));
                let Some(tile) = rects.get(level) else {
                    continue;
                };
                // pyramid_down<6>::point_up, once per level: p * 6/5 + 0.3.
                let up =
                    |v: f64, origin: i64| (0..level).fold(v - origin as f64, |v, _| v * 1.2 + 0.3);
                let mut rect = DRect {
                    l: up(px - hw, tile.l),
                    t: up(py - hh, tile.t),
                    r: up(px + hw, tile.l),
                    b: up(py + hh, tile.t),
                };
                if upsample {
                    // pyramid_down<2>::rect_down, undoing the doubling.
                    let down = |v: f64| (v - 0.25) / 2.0;
                    rect = DRect {
                        l: down(rect.l),
                        t: down(rect.t),
                        r: down(rect.r),
                        b: down(rect.b),
                    };
                }
                candidates.push((score, rect));
            }
        }
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut kept: Vec<(f32, DRect)> = Vec::new();
        for (score, rect) in candidates {
            if !kept.iter().any(|(_, k)| self.overlaps(k, &rect)) {
                kept.push((score, rect));
            }
        }
        Ok(kept
            .into_iter()
            .map(|(confidence, r)| Detection {
                face_box: FaceBox {
                    left: r.l.round() as i64,
                    top: r.t.round() as i64,
                    right: r.r.round() as i64,
                    bottom: r.b.round() as i64,
                },
                confidence,
            })
            .collect())
    }

    /// dlib's `test_box_overlap` with the model's NMS thresholds.
    fn overlaps(&self, a: &DRect, b: &DRect) -> bool {
        let inner = a.intersect(b).area();
        if inner == 0.0 {
            return false;
        }
        let outer = a.union_box(b).area();
        inner / outer > self.nms_iou
            || inner / a.area() > self.nms_covered
            || inner / b.area() > self.nms_covered
    }
}
