//! Eyelid landmarks: MediaPipe's iris landmark network re-implemented in candle, and the
//! eye crops it reads.
//!
//! Input: a 64x64 RGB crop around one eye, values in [0, 1]. The crop is a square of
//! [`CROP_SCALE`] times the distance between the eye's corners, centred between them and
//! rotated so that the eye's axis is horizontal; the network was trained on the image-left
//! eye (outer corner on the left), so the other eye's crop is mirrored. Output: 71 eye
//! contour and eyebrow points and 5 iris points, (x, y, z) in crop pixels.
//!
//! Network (BlazeBlock style): a 3x3 stride-2 convolution (TensorFlow "same" padding, i.e.
//! one extra row and column at the bottom and right) and PReLU, then residual blocks of
//! 1x1 convolution (2x2 stride 2 when the block halves the resolution) + PReLU, 3x3
//! depthwise convolution, 1x1 convolution, added to the input (max-pooled and zero-padded
//! to the new width when halving) and PReLU. Blocks 0-9 are shared; 10-17 lead to the
//! contour head and 18-25 to the iris head, each head a 2x2 convolution on the 2x2 map.
//! Block k's layers are `conv2d_{2k+1}`, `p_re_lu_{2k+1}`, `depthwise_conv2d_{k}`,
//! `conv2d_{2k+2}`, `p_re_lu_{2k+2}`, the TFLite names kept by the converter (block 0's
//! depthwise layer is plain `depthwise_conv2d`).

use candle_core::{Device, Module, Tensor};
use candle_nn::VarBuilder;
use image::{Rgb, RgbImage};

use crate::error::Result;
use crate::face::landmarks::Landmarks;
use crate::face::layers::{Depthwise3x3, PatchConv, Prelu, StemConv, pad_channels};
use crate::models::ModelStore;

pub const WEIGHTS_FILE: &str = "mediapipe_iris_landmark.safetensors";
/// Side of the network's input crop.
pub const CROP_SIZE: u32 = 64;
/// Crop side relative to the distance between the eye's corners (MediaPipe's ROI scale).
pub const CROP_SCALE: f64 = 2.3;
/// Contour points per eye: 0 outer corner, 1-7 lower lid, 8 inner corner, 9-15 upper lid
/// (lids from the outer to the inner corner); the remaining 55 outline the eyebrow and
/// the skin around the eye.
pub const CONTOUR_POINTS: usize = 71;
const IRIS_POINTS: usize = 5;

struct Block {
    /// 1x1, or 2x2 with stride 2 when the block halves the resolution.
    expand: PatchConv,
    act1: Prelu,
    depthwise: Depthwise3x3,
    project: PatchConv,
    act2: Prelu,
    halves: bool,
    pad_channels: usize,
}

impl Block {
    /// Block `k` from `cin` to `cout` channels (the middle has half of `cout`).
    fn new(vb: &VarBuilder, k: usize, cin: usize, cout: usize, halves: bool) -> Result<Self> {
        let mid = cout / 2;
        // TFLite numbers a layer name's repeats from the second: depthwise_conv2d, _1, _2...
        let depthwise_name = match k {
            0 => "depthwise_conv2d".to_owned(),
            _ => format!("depthwise_conv2d_{k}"),
        };
        let kernel = if halves { 2 } else { 1 };
        Ok(Self {
            expand: PatchConv::new(cin, mid, kernel, vb.pp(format!("conv2d_{}", 2 * k + 1)))?,
            act1: Prelu::new(mid, vb.pp(format!("p_re_lu_{}", 2 * k + 1)))?,
            depthwise: Depthwise3x3::new(mid, 1, vb.pp(depthwise_name))?,
            project: PatchConv::new(mid, cout, 1, vb.pp(format!("conv2d_{}", 2 * k + 2)))?,
            act2: Prelu::new(cout, vb.pp(format!("p_re_lu_{}", 2 * k + 2)))?,
            halves,
            pad_channels: cout - cin,
        })
    }
}

impl Module for Block {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let h = self.act1.forward(&self.expand.forward(x)?)?;
        let h = self.project.forward(&self.depthwise.forward(&h)?)?;
        let skip = if self.halves {
            x.max_pool2d(2)?
        } else {
            x.clone()
        };
        self.act2
            .forward(&(h + pad_channels(skip, self.pad_channels)?)?)
    }
}

/// The iris landmark network. Activations are channel-major, `(C, N, H, W)` (`layers.rs`).
pub struct IrisNet {
    stem: StemConv,
    stem_act: Prelu,
    trunk: Vec<Block>,
    contour_branch: Vec<Block>,
    contour_head: PatchConv,
    iris_branch: Vec<Block>,
    iris_head: PatchConv,
}

impl IrisNet {
    pub fn new(vb: VarBuilder) -> Result<Self> {
        let stem = StemConv::new(3, 64, 3, vb.pp("conv2d"))?;
        let stem_act = Prelu::new(64, vb.pp("p_re_lu"))?;
        let mut trunk = Vec::new();
        for k in 0..10 {
            let (cin, cout) = match k {
                0..=4 => (64, if k == 4 { 128 } else { 64 }),
                _ => (128, 128),
            };
            trunk.push(Block::new(&vb, k, cin, cout, k == 4 || k == 9)?);
        }
        let branch = |first: usize| -> Result<Vec<Block>> {
            (0..8)
                .map(|i| Block::new(&vb, first + i, 128, 128, i == 2 || i == 5))
                .collect()
        };
        Ok(Self {
            stem,
            stem_act,
            trunk,
            contour_branch: branch(10)?,
            contour_head: PatchConv::new(
                128,
                3 * CONTOUR_POINTS,
                2,
                vb.pp("conv_eyes_contours_and_brows"),
            )?,
            iris_branch: branch(18)?,
            iris_head: PatchConv::new(128, 3 * IRIS_POINTS, 2, vb.pp("conv_iris"))?,
        })
    }

    /// `(N, 3, 64, 64)` crops -> contour `(N, 213)` and iris `(N, 15)` coordinates.
    pub fn forward(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let h = self.shared(x)?;
        Ok((
            head(&h, &self.contour_branch, &self.contour_head)?,
            head(&h, &self.iris_branch, &self.iris_head)?,
        ))
    }

    /// The contour head alone (liveness needs no iris points): `(N, 213)`.
    pub fn contour(&self, x: &Tensor) -> Result<Tensor> {
        head(&self.shared(x)?, &self.contour_branch, &self.contour_head)
    }

    /// Stem and the shared blocks 0-9, channel-major.
    fn shared(&self, x: &Tensor) -> Result<Tensor> {
        // TensorFlow "same" padding for a 3x3 stride-2 convolution on an even size.
        let x = x.pad_with_zeros(2, 0, 1)?.pad_with_zeros(3, 0, 1)?;
        let stem = self.stem.forward(&x)?;
        let mut h = self.stem_act.forward(&stem)?;
        for b in &self.trunk {
            h = b.forward(&h)?;
        }
        Ok(h)
    }
}

/// One branch of blocks and its 2x2 head convolution on the 2x2 map: `(N, values)`.
fn head(shared: &Tensor, blocks: &[Block], conv: &PatchConv) -> Result<Tensor> {
    let mut y = shared.clone();
    for b in blocks {
        y = b.forward(&y)?;
    }
    Ok(conv.flat(&y)?.t()?.contiguous()?)
}

/// The 71 contour points of one eye in its crop's frame, in units of the crop side with the
/// outer corner on the left whichever eye it is.
pub type EyeContour = [[f32; 2]; CONTOUR_POINTS];

/// Eyelid opening: the mean distance between the lids at the three middle points of each
/// lid, divided by the distance between the corners. About 0.3 for an open eye, under 0.1
/// for a closed one; unchanged by scale, rotation and mirroring.
pub fn aspect_ratio(c: &EyeContour) -> f32 {
    let dist = |a: [f32; 2], b: [f32; 2]| (a[0] - b[0]).hypot(a[1] - b[1]);
    let width = dist(c[0], c[8]).max(1e-6);
    let opening: f32 = (3..=5).map(|i| dist(c[i], c[8 + i])).sum::<f32>() / 3.0;
    opening / width
}

/// A square crop of `size` pixels whose centre is `centre`, side `side` image pixels and
/// x axis along `axis` (a unit vector), mirrored left-right if `mirror`; bilinear
/// sampling, edge pixels repeated outside the image.
pub fn rotated_crop(
    img: &RgbImage,
    centre: [f64; 2],
    axis: [f64; 2],
    side: f64,
    size: u32,
    mirror: bool,
) -> RgbImage {
    let step = side / f64::from(size);
    let (w, h) = (f64::from(img.width()), f64::from(img.height()));
    let px = |x: f64, y: f64| -> [f64; 3] {
        let p = img
            .get_pixel(x.clamp(0.0, w - 1.0) as u32, y.clamp(0.0, h - 1.0) as u32)
            .0;
        p.map(f64::from)
    };
    RgbImage::from_fn(size, size, |cx, cy| {
        let u = if mirror {
            f64::from(size - 1 - cx)
        } else {
            f64::from(cx)
        };
        let (u, v) = (
            (u + 0.5) * step - side / 2.0,
            (f64::from(cy) + 0.5) * step - side / 2.0,
        );
        let x = centre[0] + u * axis[0] - v * axis[1] - 0.5;
        let y = centre[1] + u * axis[1] + v * axis[0] - 0.5;
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        let (a, b, c, d) = (
            px(x0, y0),
            px(x0 + 1.0, y0),
            px(x0, y0 + 1.0),
            px(x0 + 1.0, y0 + 1.0),
        );
        Rgb(std::array::from_fn(|i| {
            let top = a[i] * (1.0 - fx) + b[i] * fx;
            let bottom = c[i] * (1.0 - fx) + d[i] * fx;
            (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
        }))
    })
}

/// Crops of the image-left eye and of the mirrored image-right eye, from dlib's 5 points
/// (None if an eye is narrower than `min_width` pixels).
pub fn eye_crops(img: &RgbImage, lm: &Landmarks, min_width: f64) -> Option<[RgbImage; 2]> {
    // Image-left eye: outer corner 2 -> inner corner 3; image-right eye: inner 1 -> outer 0.
    let crop = |from: [i64; 2], to: [i64; 2], mirror: bool| -> Option<RgbImage> {
        let (a, b) = (
            [from[0] as f64, from[1] as f64],
            [to[0] as f64, to[1] as f64],
        );
        let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
        let width = dx.hypot(dy);
        if width < min_width.max(1.0) {
            return None;
        }
        let centre = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
        Some(rotated_crop(
            img,
            centre,
            [dx / width, dy / width],
            CROP_SCALE * width,
            CROP_SIZE,
            mirror,
        ))
    };
    Some([crop(lm[2], lm[3], false)?, crop(lm[1], lm[0], true)?])
}

/// The network's outputs, one row per crop: 71 contour and 5 iris points as x, y, z in
/// crop pixels.
#[derive(Debug, Default)]
pub struct RawOutputs {
    pub contour: Vec<Vec<f32>>,
    pub iris: Vec<Vec<f32>>,
}

pub struct EyeLandmarker {
    net: IrisNet,
    device: Device,
}

impl EyeLandmarker {
    pub fn load(store: &ModelStore) -> Result<Self> {
        Ok(Self {
            net: IrisNet::new(store.var_builder(WEIGHTS_FILE)?)?,
            device: Device::Cpu,
        })
    }

    /// The raw network outputs for 64x64 crops.
    pub fn raw(&self, crops: &[&RgbImage]) -> Result<RawOutputs> {
        if crops.is_empty() {
            return Ok(RawOutputs::default());
        }
        let (contour, iris) = self.net.forward(&self.batch(crops)?)?;
        Ok(RawOutputs {
            contour: contour.to_vec2()?,
            iris: iris.to_vec2()?,
        })
    }

    /// The crops as the network's input: values in [0, 1].
    fn batch(&self, crops: &[&RgbImage]) -> Result<Tensor> {
        crate::face::planar_batch(crops, CROP_SIZE, "eye crop", &self.device, |_, v| {
            f32::from(v) / 255.0
        })
    }

    /// Contours of the crops, in units of the crop side (the iris head is not run).
    pub fn contours(&self, crops: &[&RgbImage]) -> Result<Vec<EyeContour>> {
        if crops.is_empty() {
            return Ok(Vec::new());
        }
        let side = CROP_SIZE as f32;
        let contour = self.net.contour(&self.batch(crops)?)?.to_vec2::<f32>()?;
        Ok(contour
            .iter()
            .map(|v| std::array::from_fn(|i| [v[3 * i] / side, v[3 * i + 1] / side]))
            .collect())
    }
}

/// Mean aspect ratio of a face's two eyes, the per-frame openness used for liveness.
pub fn openness(contours: &[EyeContour]) -> Option<f32> {
    if contours.is_empty() {
        return None;
    }
    Some(contours.iter().map(aspect_ratio).sum::<f32>() / contours.len() as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aspect_ratio_of_an_ellipse_is_its_height_over_width() {
        let mut c = [[0f32; 2]; CONTOUR_POINTS];
        for i in 0..=8 {
            let t = std::f32::consts::PI * i as f32 / 8.0;
            let (x, y) = (0.5 - 0.2 * t.cos(), 0.5 + 0.06 * t.sin());
            c[i] = [x, y];
            if (1..8).contains(&i) {
                c[8 + i] = [x, 1.0 - y];
            }
        }
        let r = aspect_ratio(&c);
        let want = (3..=5)
            .map(|i| 0.12 * (std::f32::consts::PI * i as f32 / 8.0).sin())
            .sum::<f32>()
            / 3.0
            / 0.4;
        assert!((r - want).abs() < 1e-5, "{r} vs {want}");
    }

    #[test]
    fn a_crop_follows_the_eye_axis_and_mirrors() {
        let img = RgbImage::from_fn(40, 40, |x, _| Rgb([(x * 6) as u8, 0, 0]));
        // Axis along +x: brightness grows to the right of the crop, or to the left mirrored.
        let c = rotated_crop(&img, [20.0, 20.0], [1.0, 0.0], 20.0, 8, false);
        assert!(c.get_pixel(7, 4).0[0] > c.get_pixel(0, 4).0[0]);
        let m = rotated_crop(&img, [20.0, 20.0], [1.0, 0.0], 20.0, 8, true);
        assert_eq!(m.get_pixel(0, 4), c.get_pixel(7, 4));
        // Axis along +y: the crop's rows follow the image's columns.
        let r = rotated_crop(&img, [20.0, 20.0], [0.0, 1.0], 20.0, 8, false);
        assert!(r.get_pixel(4, 0).0[0] > r.get_pixel(4, 7).0[0]);
    }
}
