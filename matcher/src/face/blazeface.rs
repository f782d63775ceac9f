//! MediaPipe's short-range face detector (BlazeFace) re-implemented in candle: the detector
//! for camera frames, where dlib's MMOD detector (`detect.rs`) is far too slow to run on every
//! frame. MMOD stays the detector of still photographs (document photos, `matcher embed`).
//!
//! Pre-processing, as MediaPipe's `ImageToTensorCalculator` on the CPU: the frame is
//! letterboxed into a square centred on it (zero outside the frame), the square's corners
//! mapped onto the corners of a 128x128 RGB input, bilinear, values `pixel / 127.5 - 1`.
//!
//! Network: a 5x5 stride-2 convolution (TensorFlow "same" padding: one extra row and column
//! at the bottom and right) and ReLU, then 16 blocks of 3x3 depthwise convolution (stride 2 in
//! blocks 2, 5 and 11), 1x1 convolution, added to the input (max-pooled when halving, channels
//! zero-padded when widening) and ReLU. Two heads of 1x1 convolutions read the 16x16 map after
//! block 10 (2 anchors per cell) and the 8x8 map after block 15 (6 anchors per cell): 896
//! anchors, each with one score logit and 16 values (box centre and size, six keypoints).
//!
//! Post-processing, as MediaPipe's `face_detection_short_range` graph: SSD anchors
//! ([`ssd_anchors`]), box and keypoint decoding relative to the anchors, sigmoid scores kept
//! from [`MIN_SCORE`], weighted non-maximum suppression at IoU [`NMS_IOU`] ([`weighted_nms`]),
//! then the letterbox removed.
//!
//! Internally the network keeps activations channel-major, `(C, N, H, W)` (see `layers.rs`).

use candle_core::{Device, Module, Tensor};
use candle_nn::VarBuilder;
use image::{Rgb, RgbImage};

use crate::error::{MatcherError, Result};
use crate::face::landmarks::FaceBox;
use crate::face::layers::{Depthwise3x3, PatchConv, StemConv, pad_channels};
use crate::models::ModelStore;

pub const WEIGHTS_FILE: &str = "mediapipe_face_detection_short_range.safetensors";
/// Side of the network's square input.
pub const INPUT_SIZE: u32 = 128;
pub const NUM_ANCHORS: usize = 896;
const NUM_COORDS: usize = 16;
/// Keypoints per face: the eye on the image's left (the subject's right), the other eye, nose
/// tip, mouth centre, and the ear tragions on the image's left and right.
pub const NUM_KEYPOINTS: usize = 6;
/// Lowest score (after the sigmoid) of a kept detection: MediaPipe's `min_score_thresh`.
pub const MIN_SCORE: f32 = 0.5;
/// IoU above which detections are merged: MediaPipe's `min_suppression_threshold`.
pub const NMS_IOU: f32 = 0.3;
const SCORE_CLIP: f32 = 100.0;
/// OpenCV's bilinear warps sample on a grid of 1/32 pixel (`INTER_TAB_SIZE`).
const SUBPIXELS: f64 = 32.0;

/// The face box dlib's shape predictor expects, from a BlazeFace box of side `s` (the mean of
/// its width and height, in pixels) centred at `(cx, cy)`: a square of side `BOX_SIDE * s`
/// centred at `(cx + BOX_SHIFT_X * s, cy + BOX_SHIFT_Y * s)`, MMOD's box as the predictor
/// was trained on. BlazeFace's box is a little larger and lower than MMOD's. Fitted with
/// `matcher box-fit` against MMOD's boxes on the evaluation data (EVALUATION.md, section
/// 1): the medians of the three sets (colour photos, ORL, video frames) are 0.94-0.97 for the
/// side, -0.03 to -0.04 and -0.07 to -0.13 for the shifts; the constants are their means.
pub const BOX_SIDE: f32 = 0.95;
pub const BOX_SHIFT_X: f32 = -0.035;
pub const BOX_SHIFT_Y: f32 = -0.095;

/// One SSD anchor, relative to the input: centre and size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchor {
    pub x_center: f32,
    pub y_center: f32,
    pub w: f32,
    pub h: f32,
}

/// MediaPipe's `SsdAnchorsCalculator` options of the short-range model.
struct AnchorOptions {
    input_size: u32,
    min_scale: f32,
    max_scale: f32,
    strides: [u32; 4],
    aspect_ratios: [f32; 1],
    interpolated_scale_aspect_ratio: f32,
    anchor_offset: f32,
    fixed_anchor_size: bool,
}

const SHORT_RANGE: AnchorOptions = AnchorOptions {
    input_size: INPUT_SIZE,
    min_scale: 0.148_437_5,
    max_scale: 0.75,
    strides: [8, 16, 16, 16],
    aspect_ratios: [1.0],
    interpolated_scale_aspect_ratio: 1.0,
    anchor_offset: 0.5,
    fixed_anchor_size: true,
};

fn anchor_scale(o: &AnchorOptions, layer: usize) -> f32 {
    let n = o.strides.len();
    if n == 1 {
        (o.min_scale + o.max_scale) / 2.0
    } else {
        o.min_scale + (o.max_scale - o.min_scale) * layer as f32 / (n - 1) as f32
    }
}

/// The 896 anchors of the short-range model, in the order of the network's outputs: layers
/// of equal stride share one feature map, each contributing one anchor per aspect ratio and
/// one at the interpolated scale; cells row by row, anchors within a cell.
pub fn ssd_anchors() -> Vec<Anchor> {
    let o = &SHORT_RANGE;
    let mut anchors = Vec::with_capacity(NUM_ANCHORS);
    let mut layer = 0;
    while layer < o.strides.len() {
        let mut shapes: Vec<(f32, f32)> = Vec::new(); // (scale, aspect ratio)
        let mut last = layer;
        while last < o.strides.len() && o.strides[last] == o.strides[layer] {
            let scale = anchor_scale(o, last);
            for &ratio in &o.aspect_ratios {
                shapes.push((scale, ratio));
            }
            if o.interpolated_scale_aspect_ratio > 0.0 {
                let next = if last == o.strides.len() - 1 {
                    1.0
                } else {
                    anchor_scale(o, last + 1)
                };
                shapes.push(((scale * next).sqrt(), o.interpolated_scale_aspect_ratio));
            }
            last += 1;
        }
        let cells = o.input_size.div_ceil(o.strides[layer]) as usize;
        for y in 0..cells {
            for x in 0..cells {
                for &(scale, ratio) in &shapes {
                    let (w, h) = if o.fixed_anchor_size {
                        (1.0, 1.0)
                    } else {
                        (scale * ratio.sqrt(), scale / ratio.sqrt())
                    };
                    anchors.push(Anchor {
                        x_center: (x as f32 + o.anchor_offset) / cells as f32,
                        y_center: (y as f32 + o.anchor_offset) / cells as f32,
                        w,
                        h,
                    });
                }
            }
        }
        layer = last;
    }
    anchors
}

/// A detection relative to the network input (or, after [`Letterbox::project`], in image
/// pixels): score, box corners and keypoints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub score: f32,
    pub xmin: f32,
    pub ymin: f32,
    pub xmax: f32,
    pub ymax: f32,
    pub keypoints: [[f32; 2]; NUM_KEYPOINTS],
}

impl Detection {
    fn area(&self) -> f32 {
        (self.xmax - self.xmin).max(0.0) * (self.ymax - self.ymin).max(0.0)
    }

    /// Intersection over union, 0 when either box is empty (MediaPipe's `OverlapSimilarity`).
    pub fn iou(&self, o: &Detection) -> f32 {
        let w = self.xmax.min(o.xmax) - self.xmin.max(o.xmin);
        let h = self.ymax.min(o.ymax) - self.ymin.max(o.ymin);
        if w <= 0.0 || h <= 0.0 {
            return 0.0;
        }
        let inter = w * h;
        let union = self.area() + o.area() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }

    /// The box dlib's shape predictor expects (see [`BOX_SIDE`]), from a detection in image
    /// pixels.
    pub fn face_box(&self) -> FaceBox {
        let s = ((self.xmax - self.xmin) + (self.ymax - self.ymin)) / 2.0;
        let cx = (self.xmin + self.xmax) / 2.0 + BOX_SHIFT_X * s;
        let cy = (self.ymin + self.ymax) / 2.0 + BOX_SHIFT_Y * s;
        let side = (BOX_SIDE * s).round().max(1.0) as i64;
        // Inclusive bounds whose centre is (cx, cy), as dlib's centered_rect.
        let left = (cx - (side - 1) as f32 / 2.0).round() as i64;
        let top = (cy - (side - 1) as f32 / 2.0).round() as i64;
        FaceBox {
            left,
            top,
            right: left + side - 1,
            bottom: top + side - 1,
        }
    }
}

/// Decodes the network's outputs of one image: detections with a score of at least
/// [`MIN_SCORE`], relative to the input (MediaPipe's `TensorsToDetectionsCalculator` with
/// `reverse_output_order`, scales of 128, sigmoid scores clipped at 100).
pub fn decode(logits: &[f32], regressors: &[f32], anchors: &[Anchor]) -> Vec<Detection> {
    let scale = INPUT_SIZE as f32;
    let mut out = Vec::new();
    for (i, a) in anchors.iter().enumerate() {
        let (Some(&logit), Some(r)) = (
            logits.get(i),
            regressors.get(i * NUM_COORDS..(i + 1) * NUM_COORDS),
        ) else {
            break;
        };
        let score = 1.0 / (1.0 + (-logit.clamp(-SCORE_CLIP, SCORE_CLIP)).exp());
        if score < MIN_SCORE {
            continue;
        }
        let xc = r[0] / scale * a.w + a.x_center;
        let yc = r[1] / scale * a.h + a.y_center;
        let w = r[2] / scale * a.w;
        let h = r[3] / scale * a.h;
        let keypoints = std::array::from_fn(|k| {
            [
                r[4 + 2 * k] / scale * a.w + a.x_center,
                r[5 + 2 * k] / scale * a.h + a.y_center,
            ]
        });
        out.push(Detection {
            score,
            xmin: xc - w / 2.0,
            ymin: yc - h / 2.0,
            xmax: xc + w / 2.0,
            ymax: yc + h / 2.0,
            keypoints,
        });
    }
    out
}

/// MediaPipe's weighted non-maximum suppression: the best remaining detection absorbs every
/// remaining one that overlaps it by more than `iou` (itself included); the merged box and
/// keypoints are the score-weighted means of the absorbed ones, the score the best one's.
pub fn weighted_nms(mut detections: Vec<Detection>, iou: f32) -> Vec<Detection> {
    detections.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out = Vec::new();
    while let Some(&best) = detections.first() {
        let (absorbed, rest): (Vec<Detection>, Vec<Detection>) =
            detections.into_iter().partition(|d| d.iou(&best) > iou);
        detections = rest;
        if absorbed.is_empty() {
            // An empty box overlaps nothing, not even itself: MediaPipe stops there.
            break;
        }
        let total: f32 = absorbed.iter().map(|d| d.score).sum();
        let mean = |f: &dyn Fn(&Detection) -> f32| -> f32 {
            absorbed.iter().map(|d| f(d) * d.score).sum::<f32>() / total
        };
        out.push(Detection {
            score: best.score,
            xmin: mean(&|d| d.xmin),
            ymin: mean(&|d| d.ymin),
            xmax: mean(&|d| d.xmax),
            ymax: mean(&|d| d.ymax),
            keypoints: std::array::from_fn(|k| {
                [mean(&|d| d.keypoints[k][0]), mean(&|d| d.keypoints[k][1])]
            }),
        });
    }
    out
}

/// Where the square input sits on the image: its top-left corner and side, in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub left: f32,
    pub top: f32,
    pub side: f32,
}

impl Letterbox {
    /// The square of side max(width, height) centred on the image.
    pub fn of(width: u32, height: u32) -> Letterbox {
        let side = width.max(height) as f32;
        Letterbox {
            left: (width as f32 - side) / 2.0,
            top: (height as f32 - side) / 2.0,
            side,
        }
    }

    /// A detection relative to the input, in image pixels (MediaPipe's
    /// `DetectionProjectionCalculator`, times the image size).
    pub fn project(&self, d: &Detection) -> Detection {
        let x = |v: f32| self.left + v * self.side;
        let y = |v: f32| self.top + v * self.side;
        Detection {
            score: d.score,
            xmin: x(d.xmin),
            ymin: y(d.ymin),
            xmax: x(d.xmax),
            ymax: y(d.ymax),
            keypoints: d.keypoints.map(|p| [x(p[0]), y(p[1])]),
        }
    }

    /// The 128x128 network input: output pixel (u, v) samples the image at
    /// `(left + u * side / 128, top + v * side / 128)` (pixel centres at integers, as
    /// OpenCV's `warpPerspective` maps the square's corners onto the input's), rounded to
    /// OpenCV's grid of 1/32 pixel, bilinear, black outside the image, rounded to whole grey
    /// levels. Where a position falls exactly halfway between two grid points, OpenCV's
    /// rounding goes either way with the rounding noise of its inverted matrix, and the two
    /// inputs can differ by a few grey levels at a sharp edge; when the side is a multiple of
    /// 128 (a 640x480 frame) every position is a whole pixel and the inputs are identical.
    pub fn input(&self, img: &RgbImage) -> RgbImage {
        let step = f64::from(self.side) / f64::from(INPUT_SIZE);
        let grid = |v: f64| ((v * SUBPIXELS).round_ties_even() / SUBPIXELS) as f32;
        let (w, h) = (img.width() as i64, img.height() as i64);
        let px = |x: i64, y: i64| -> [f32; 3] {
            if x < 0 || y < 0 || x >= w || y >= h {
                [0.0; 3]
            } else {
                img.get_pixel(x as u32, y as u32).0.map(f32::from)
            }
        };
        RgbImage::from_fn(INPUT_SIZE, INPUT_SIZE, |u, v| {
            let sx = grid(f64::from(self.left) + f64::from(u) * step);
            let sy = grid(f64::from(self.top) + f64::from(v) * step);
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            let (a, b, c, d) = (
                px(x0, y0),
                px(x0 + 1, y0),
                px(x0, y0 + 1),
                px(x0 + 1, y0 + 1),
            );
            Rgb(std::array::from_fn(|i| {
                let top = a[i] + (b[i] - a[i]) * fx;
                let bottom = c[i] + (d[i] - c[i]) * fx;
                (top + (bottom - top) * fy + 0.5).floor().clamp(0.0, 255.0) as u8
            }))
        })
    }
}

struct Block {
    depthwise: Depthwise3x3,
    pointwise: PatchConv,
    pad_channels: usize,
}

impl Module for Block {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = self.pointwise.forward(&self.depthwise.forward(x)?)?;
        let skip = if self.depthwise.stride == 2 {
            x.max_pool2d(2)?
        } else {
            x.clone()
        };
        (y + pad_channels(skip, self.pad_channels)?)?.relu()
    }
}

/// Blocks as (input channels, output channels, stride).
const BLOCKS: [(usize, usize, usize); 16] = [
    (24, 24, 1),
    (24, 28, 1),
    (28, 32, 2),
    (32, 36, 1),
    (36, 42, 1),
    (42, 48, 2),
    (48, 56, 1),
    (56, 64, 1),
    (64, 72, 1),
    (72, 80, 1),
    (80, 88, 1),
    (88, 96, 2),
    (96, 96, 1),
    (96, 96, 1),
    (96, 96, 1),
    (96, 96, 1),
];
/// The 16x16 head reads the output of this block.
const FIRST_HEAD_AFTER: usize = 10;

/// The BlazeFace short-range network.
pub struct BlazeFace {
    stem: StemConv,
    blocks: Vec<Block>,
    classifier_16: PatchConv,
    regressor_16: PatchConv,
    classifier_8: PatchConv,
    regressor_8: PatchConv,
}

impl BlazeFace {
    /// Block `k`'s layers are `depthwise_conv2d_{k}` (plain `depthwise_conv2d` for block 0)
    /// and `conv2d_{k+1}`; the heads are named after their map's stride in TFLite's export
    /// (`classificator_8`/`regressor_8` on the 16x16 map, `_16` on the 8x8 map).
    pub fn new(vb: VarBuilder) -> Result<Self> {
        let stem = StemConv::new(3, 24, 5, vb.pp("conv2d"))?;
        let mut blocks = Vec::with_capacity(BLOCKS.len());
        for (k, &(cin, cout, stride)) in BLOCKS.iter().enumerate() {
            let depthwise_name = match k {
                0 => "depthwise_conv2d".to_owned(),
                _ => format!("depthwise_conv2d_{k}"),
            };
            blocks.push(Block {
                depthwise: Depthwise3x3::new(cin, stride, vb.pp(depthwise_name))?,
                pointwise: PatchConv::new(cin, cout, 1, vb.pp(format!("conv2d_{}", k + 1)))?,
                pad_channels: cout - cin,
            });
        }
        let c16 = BLOCKS[FIRST_HEAD_AFTER].1;
        let c8 = BLOCKS[BLOCKS.len() - 1].1;
        Ok(Self {
            stem,
            blocks,
            classifier_16: PatchConv::new(c16, 2, 1, vb.pp("classificator_8"))?,
            regressor_16: PatchConv::new(c16, 2 * NUM_COORDS, 1, vb.pp("regressor_8"))?,
            classifier_8: PatchConv::new(c8, 6, 1, vb.pp("classificator_16"))?,
            regressor_8: PatchConv::new(c8, 6 * NUM_COORDS, 1, vb.pp("regressor_16"))?,
        })
    }

    /// `(N, 3, 128, 128)` inputs in [-1, 1] -> score logits `(N, 896)` and regressors
    /// `(N, 896, 16)`, in the anchors' order.
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let n = x.dim(0)?;
        // TensorFlow "same" padding of a 5x5 stride-2 convolution on 128: 1 before, 2 after.
        let x = x.pad_with_zeros(2, 1, 2)?.pad_with_zeros(3, 1, 2)?;
        let mut h = self.stem.forward(&x)?.relu()?;
        let mut map16 = None;
        for (k, block) in self.blocks.iter().enumerate() {
            h = block.forward(&h)?;
            if k == FIRST_HEAD_AFTER {
                map16 = Some(h.clone());
            }
        }
        let map16 = map16.ok_or_else(|| MatcherError::Model {
            name: WEIGHTS_FILE.into(),
            reason: "no 16x16 map".into(),
        })?;
        // (values per cell, N * cells) -> (N, cells * anchors per cell, values per anchor),
        // the NHWC order of TFLite's reshape.
        let per_anchor = |head: &PatchConv, map: &Tensor, values: usize| -> Result<Tensor> {
            let (_, _, mh, mw) = map.dims4()?;
            let y = head.flat(map)?;
            let per_cell = y.dim(0)?;
            Ok(y.reshape((per_cell, n, mh * mw))?
                .permute((1, 2, 0))?
                .contiguous()?
                .reshape((n, mh * mw * per_cell / values, values))?)
        };
        let logits = Tensor::cat(
            &[
                per_anchor(&self.classifier_16, &map16, 1)?,
                per_anchor(&self.classifier_8, &h, 1)?,
            ],
            1,
        )?
        .squeeze(2)?;
        let regressors = Tensor::cat(
            &[
                per_anchor(&self.regressor_16, &map16, NUM_COORDS)?,
                per_anchor(&self.regressor_8, &h, NUM_COORDS)?,
            ],
            1,
        )?;
        Ok((logits, regressors))
    }
}

/// The detector: network, anchors and the pre- and post-processing around them.
pub struct FrameDetector {
    net: BlazeFace,
    anchors: Vec<Anchor>,
    device: Device,
}

impl FrameDetector {
    pub fn load(store: &ModelStore) -> Result<Self> {
        Ok(Self {
            net: BlazeFace::new(store.var_builder(WEIGHTS_FILE)?)?,
            anchors: ssd_anchors(),
            device: Device::Cpu,
        })
    }

    /// The raw network outputs for 128x128 inputs: per image, 896 logits and 896 x 16
    /// regression values.
    pub fn raw(&self, inputs: &[&RgbImage]) -> Result<Vec<(Vec<f32>, Vec<f32>)>> {
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let x = crate::face::planar_batch(
            inputs,
            INPUT_SIZE,
            "detector input",
            &self.device,
            |_, v| f32::from(v) / 127.5 - 1.0,
        )?;
        let (logits, regressors) = self.net.forward(&x)?;
        let logits = logits.to_vec2::<f32>()?;
        let regressors = regressors.flatten_from(1)?.to_vec2::<f32>()?;
        Ok(logits.into_iter().zip(regressors).collect())
    }

    /// The faces of each image, best first, in image pixels. All images go through the
    /// network in one batch.
    pub fn detect(&self, images: &[&RgbImage]) -> Result<Vec<Vec<Detection>>> {
        let boxes: Vec<Letterbox> = images
            .iter()
            .map(|img| Letterbox::of(img.width(), img.height()))
            .collect();
        let inputs: Vec<RgbImage> = images
            .iter()
            .zip(&boxes)
            .map(|(img, lb)| lb.input(img))
            .collect();
        let refs: Vec<&RgbImage> = inputs.iter().collect();
        let raw = self.raw(&refs)?;
        Ok(raw
            .iter()
            .zip(&boxes)
            .map(|((logits, regressors), lb)| {
                weighted_nms(decode(logits, regressors, &self.anchors), NMS_IOU)
                    .iter()
                    .map(|d| lb.project(d))
                    .collect()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_mediapipes_896() {
        let a = ssd_anchors();
        assert_eq!(a.len(), NUM_ANCHORS);
        // 16x16 cells with 2 anchors each, then 8x8 cells with 6.
        assert_eq!((a[0].x_center, a[0].y_center), (0.5 / 16.0, 0.5 / 16.0));
        assert_eq!(a[1], a[0]);
        assert_eq!(a[2].x_center, 1.5 / 16.0);
        assert_eq!(
            (a[511].x_center, a[511].y_center),
            (15.5 / 16.0, 15.5 / 16.0)
        );
        assert_eq!((a[512].x_center, a[512].y_center), (0.5 / 8.0, 0.5 / 8.0));
        assert_eq!(a[517], a[512]);
        assert_eq!(a[518].x_center, 1.5 / 8.0);
        assert!(a.iter().all(|a| a.w == 1.0 && a.h == 1.0));
    }

    fn det(score: f32, x: f32, y: f32, side: f32) -> Detection {
        Detection {
            score,
            xmin: x,
            ymin: y,
            xmax: x + side,
            ymax: y + side,
            keypoints: [[x, y]; NUM_KEYPOINTS],
        }
    }

    #[test]
    fn weighted_nms_merges_overlaps_by_score() {
        let out = weighted_nms(
            vec![
                det(0.6, 0.12, 0.1, 0.2),
                det(0.9, 0.1, 0.1, 0.2),
                det(0.7, 0.6, 0.6, 0.2),
            ],
            NMS_IOU,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].score, 0.9);
        let want = (0.9 * 0.1 + 0.6 * 0.12) / 1.5;
        assert!((out[0].xmin - want).abs() < 1e-6, "{}", out[0].xmin);
        assert!((out[0].keypoints[3][0] - want).abs() < 1e-6);
        assert_eq!(out[1], det(0.7, 0.6, 0.6, 0.2));
    }

    #[test]
    fn a_face_box_is_a_square_around_the_shifted_centre() {
        let d = det(0.9, 100.0, 200.0, 100.0);
        let b = d.face_box();
        assert_eq!(b.width(), 95);
        assert_eq!(b.height(), 95);
        let cx = (b.left + b.right) as f32 / 2.0;
        let cy = (b.top + b.bottom) as f32 / 2.0;
        assert!((cx - (150.0 + BOX_SHIFT_X * 100.0)).abs() <= 0.5, "{b:?}");
        assert!((cy - (250.0 + BOX_SHIFT_Y * 100.0)).abs() <= 0.5, "{b:?}");
    }

    #[test]
    fn letterbox_maps_corners_and_centres() {
        let lb = Letterbox::of(640, 480);
        assert_eq!(
            lb,
            Letterbox {
                left: 0.0,
                top: -80.0,
                side: 640.0
            }
        );
        let img = RgbImage::from_fn(640, 480, |x, y| Rgb([(x / 5) as u8, (y / 5) as u8, 7]));
        let input = lb.input(&img);
        // Rows above and below the frame are black; inside, sample (u, v) is pixel (5u, 5v - 80).
        assert_eq!(input.get_pixel(3, 10).0, [0, 0, 0]);
        assert_eq!(input.get_pixel(3, 16).0, [3, 0, 7]);
        assert_eq!(input.get_pixel(100, 60).0, [100, 44, 7]);
        assert_eq!(input.get_pixel(3, 112).0, [0, 0, 0]);
    }
}
