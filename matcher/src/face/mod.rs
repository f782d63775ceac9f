//! Face pipeline: locate -> 5 landmarks -> aligned chip -> quality checks -> embedding.

pub mod align;
pub mod detect;
pub mod embed;
pub mod eyes;
pub mod landmarks;

use image::RgbImage;

use crate::error::{MatcherError, Result};
use crate::models::ModelStore;
use crate::template::Template;
use detect::FaceDetector;
use embed::{CHIP_SIZE, FaceEmbedder};
use eyes::EyeLandmarker;
use landmarks::{FaceBox, Landmarks, ShapePredictor};

/// Where the face is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaceLocation {
    /// The image is a tight crop of one face (e.g. an ID photo or a capture page's oval):
    /// the face box is the whole image, which is first padded by `pad` times its size on
    /// every side by repeating its border pixels, so the aligned chip has no black edges.
    WholeImage { pad: f32 },
    /// A face box found by a detector or given by the caller.
    Box(FaceBox),
    /// Run the CNN detector; exactly one face must be found. `upsample` doubles the image
    /// first so that faces of 40-80 px are found too (four times slower).
    Detect { upsample: bool },
}

/// Long side above which detection runs on a reduced copy of the image.
pub const MAX_DETECT_SIDE: u32 = 1024;
/// Minimum usable face, in pixels across the face box.
pub const MIN_FACE_PX: i64 = 40;
/// Face width at which a tracked face is searched for in the next video frame.
pub const TRACK_FACE_PX: f64 = 120.0;
/// Narrowest eye (corner to corner, in pixels) whose opening is measured for liveness.
pub const MIN_EYE_PX: f64 = 4.0;
/// Minimum mean brightness of the aligned chip (0-255).
pub const MIN_BRIGHTNESS: f32 = 40.0;
/// Minimum variance of the Laplacian of the chip's grey centre: below it the face is too
/// blurred for the embedding to mean anything.
pub const MIN_SHARPNESS: f32 = 20.0;

/// What the pipeline produced for one face, kept for liveness and debugging.
#[derive(Debug, Clone)]
pub struct FaceSample {
    pub face_box: FaceBox,
    pub landmarks: Landmarks,
    pub chip: RgbImage,
}

pub struct FacePipeline {
    detector: FaceDetector,
    predictor: ShapePredictor,
    embedder: FaceEmbedder,
    eyes: EyeLandmarker,
}

/// Pads an image on every side by repeating its edge pixels.
pub fn pad_edges(img: &RgbImage, pad: u32) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    RgbImage::from_fn(w + 2 * pad, h + 2 * pad, |x, y| {
        let sx = x.saturating_sub(pad).min(w.saturating_sub(1));
        let sy = y.saturating_sub(pad).min(h.saturating_sub(1));
        *img.get_pixel(sx, sy)
    })
}

/// Mean brightness and variance of the Laplacian over the chip's central half.
pub fn chip_quality(chip: &RgbImage) -> (f32, f32) {
    let (w, h) = (chip.width() as usize, chip.height() as usize);
    let grey: Vec<f32> = chip
        .pixels()
        .map(|p| (f32::from(p.0[0]) + f32::from(p.0[1]) + f32::from(p.0[2])) / 3.0)
        .collect();
    let mean = grey.iter().sum::<f32>() / grey.len().max(1) as f32;
    let mut lap = Vec::new();
    for y in (h / 4).max(1)..(3 * h / 4).min(h.saturating_sub(1)) {
        for x in (w / 4).max(1)..(3 * w / 4).min(w.saturating_sub(1)) {
            let i = y * w + x;
            lap.push(grey[i - 1] + grey[i + 1] + grey[i - w] + grey[i + w] - 4.0 * grey[i]);
        }
    }
    let n = lap.len().max(1) as f32;
    let m = lap.iter().sum::<f32>() / n;
    let var = lap.iter().map(|v| (v - m) * (v - m)).sum::<f32>() / n;
    (mean, var)
}

impl FacePipeline {
    pub fn load(store: &ModelStore) -> Result<Self> {
        Ok(Self {
            detector: FaceDetector::load(store)?,
            predictor: ShapePredictor::load(store)?,
            embedder: FaceEmbedder::load(store)?,
            eyes: EyeLandmarker::load(store)?,
        })
    }

    pub fn detector(&self) -> &FaceDetector {
        &self.detector
    }

    /// The one face of the image, or why there is not exactly one. Images whose long side
    /// exceeds [`MAX_DETECT_SIDE`] are searched at that size (faces of 80 px and more
    /// there) and the box is scaled back; landmarks then use the full resolution.
    pub fn locate_one(&self, img: &RgbImage, upsample: bool) -> Result<FaceBox> {
        let long_side = img.width().max(img.height());
        let scale = (f64::from(MAX_DETECT_SIDE) / f64::from(long_side.max(1))).min(1.0);
        self.locate_scaled(img, scale, upsample)
    }

    /// The one face of `img` searched at `scale` (at most 1), its box in `img`'s pixels.
    fn locate_scaled(&self, img: &RgbImage, scale: f64, upsample: bool) -> Result<FaceBox> {
        let faces = if scale < 1.0 {
            let w = ((f64::from(img.width()) * scale).round() as u32).max(1);
            let h = ((f64::from(img.height()) * scale).round() as u32).max(1);
            let small = image::imageops::resize(img, w, h, image::imageops::FilterType::Triangle);
            self.detector.detect(&small, upsample)?
        } else {
            self.detector.detect(img, upsample)?
        };
        match faces.as_slice() {
            [] => Err(MatcherError::NoFace),
            [one] => {
                let b = one.face_box;
                let up = |v: i64| (v as f64 / scale).round() as i64;
                Ok(FaceBox {
                    left: up(b.left),
                    top: up(b.top),
                    right: up(b.right),
                    bottom: up(b.bottom),
                })
            }
            many => Err(MatcherError::SeveralFaces(many.len())),
        }
    }

    pub fn predictor(&self) -> &ShapePredictor {
        &self.predictor
    }

    pub fn embedder(&self) -> &FaceEmbedder {
        &self.embedder
    }

    /// Landmarks and aligned chip, with the size/brightness/sharpness checks applied.
    pub fn sample(&self, img: &RgbImage, location: FaceLocation) -> Result<FaceSample> {
        let (padded, face_box) = match location {
            FaceLocation::WholeImage { pad } => {
                let side = img.width().max(img.height()) as f32;
                let p = (pad.clamp(0.0, 2.0) * side).round() as u32;
                let padded = pad_edges(img, p);
                let b = FaceBox {
                    left: i64::from(p),
                    top: i64::from(p),
                    right: i64::from(p + img.width()) - 1,
                    bottom: i64::from(p + img.height()) - 1,
                };
                (std::borrow::Cow::Owned(padded), b)
            }
            FaceLocation::Box(b) => (std::borrow::Cow::Borrowed(img), b),
            FaceLocation::Detect { upsample } => (
                std::borrow::Cow::Borrowed(img),
                self.locate_one(img, upsample)?,
            ),
        };
        let size = face_box.width().min(face_box.height());
        if size < MIN_FACE_PX {
            return Err(MatcherError::FaceTooSmall {
                size: size.max(0) as u32,
                min: MIN_FACE_PX as u32,
            });
        }
        let landmarks = self.predictor.predict(&padded, face_box);
        let chip = align::face_chip(&padded, &landmarks, CHIP_SIZE, align::DEFAULT_PADDING);
        let (brightness, sharpness) = chip_quality(&chip);
        if brightness < MIN_BRIGHTNESS {
            return Err(MatcherError::TooDark {
                mean: brightness,
                min: MIN_BRIGHTNESS,
            });
        }
        if sharpness < MIN_SHARPNESS {
            return Err(MatcherError::TooBlurred {
                sharpness,
                min: MIN_SHARPNESS,
            });
        }
        // Report landmarks in the caller's image coordinates.
        let shift = face_box_offset(location, &face_box);
        let landmarks = landmarks.map(|p| [p[0] - shift, p[1] - shift]);
        Ok(FaceSample {
            face_box,
            landmarks,
            chip,
        })
    }

    /// Eye openness of each frame of a video for liveness (None where no usable face was
    /// found). The face is tracked: after a full-frame detection, the next frame is searched
    /// only around the last box, scaled so that the face is about [`TRACK_FACE_PX`] wide,
    /// which costs a fraction of a full detection; a frame where that finds no single face
    /// falls back to a full detection.
    pub fn sequence_openness(&self, frames: &[RgbImage]) -> Result<Vec<Option<f32>>> {
        let mut last: Option<FaceBox> = None;
        let mut out = Vec::with_capacity(frames.len());
        for img in frames {
            let found = match last.and_then(|b| self.locate_near(img, b).ok()) {
                Some(b) => Ok(b),
                None => self.locate_one(img, false),
            };
            let sample = found.and_then(|b| self.sample(img, FaceLocation::Box(b)));
            match sample {
                Ok(s) => {
                    last = Some(s.face_box);
                    out.push(self.eye_openness(img, &s.landmarks)?);
                }
                Err(e) if e.is_unusable_input() => {
                    last = None;
                    out.push(None);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Eyelid opening of a face (mean aspect ratio of its two eyes, see
    /// [`eyes::aspect_ratio`]), or None when an eye is narrower than [`MIN_EYE_PX`].
    pub fn eye_openness(&self, img: &RgbImage, landmarks: &Landmarks) -> Result<Option<f32>> {
        let Some(crops) = eyes::eye_crops(img, landmarks, MIN_EYE_PX) else {
            return Ok(None);
        };
        let contours = self.eyes.contours(&[&crops[0], &crops[1]])?;
        Ok(eyes::openness(&contours))
    }

    /// The one face in the neighbourhood of `near` (half its size on every side).
    fn locate_near(&self, img: &RgbImage, near: FaceBox) -> Result<FaceBox> {
        let size = near.width().max(near.height()).max(1);
        let clamp_x = |v: i64| v.clamp(0, i64::from(img.width()));
        let clamp_y = |v: i64| v.clamp(0, i64::from(img.height()));
        let (x0, y0) = (clamp_x(near.left - size / 2), clamp_y(near.top - size / 2));
        let (x1, y1) = (
            clamp_x(near.right + size / 2 + 1),
            clamp_y(near.bottom + size / 2 + 1),
        );
        if x1 - x0 < 2 || y1 - y0 < 2 {
            return Err(MatcherError::NoFace);
        }
        let roi = image::imageops::crop_imm(
            img,
            x0 as u32,
            y0 as u32,
            (x1 - x0) as u32,
            (y1 - y0) as u32,
        )
        .to_image();
        let b = self.locate_scaled(&roi, (TRACK_FACE_PX / size as f64).min(1.0), false)?;
        Ok(FaceBox {
            left: x0 + b.left,
            top: y0 + b.top,
            right: x0 + b.right,
            bottom: y0 + b.bottom,
        })
    }

    pub fn template(&self, img: &RgbImage, location: FaceLocation) -> Result<Template> {
        let sample = self.sample(img, location)?;
        let mut t = self.embedder.embed_chips(&[&sample.chip])?;
        t.pop().ok_or_else(|| MatcherError::Model {
            name: embed::WEIGHTS_FILE.into(),
            reason: "no output".into(),
        })
    }
}

fn face_box_offset(location: FaceLocation, face_box: &FaceBox) -> i64 {
    match location {
        FaceLocation::WholeImage { .. } => face_box.left,
        FaceLocation::Box(_) | FaceLocation::Detect { .. } => 0,
    }
}

/// Square RGB images of `side` pixels as one `(N, 3, side, side)` tensor, each value
/// `normalise(channel, value)`; `what` names the images in the error for a wrong size.
pub(crate) fn planar_batch(
    images: &[&RgbImage],
    side: u32,
    what: &str,
    device: &candle_core::Device,
    normalise: impl Fn(usize, u8) -> f32,
) -> Result<candle_core::Tensor> {
    let n = side as usize;
    let mut data = Vec::with_capacity(images.len() * 3 * n * n);
    for img in images {
        if img.dimensions() != (side, side) {
            return Err(MatcherError::Image(format!(
                "{what} must be {side}x{side}, got {}x{}",
                img.width(),
                img.height()
            )));
        }
        for c in 0..3 {
            data.extend(img.pixels().map(|p| normalise(c, p.0[c])));
        }
    }
    Ok(candle_core::Tensor::from_vec(
        data,
        (images.len(), 3, n, n),
        device,
    )?)
}

/// Reads an image file as RGB.
pub fn load_image(path: &std::path::Path) -> Result<RgbImage> {
    let reader = image::ImageReader::open(path)
        .map_err(|e| MatcherError::Image(format!("{}: {e}", path.display())))?
        .with_guessed_format()
        .map_err(|e| MatcherError::Image(format!("{}: {e}", path.display())))?;
    let img = reader
        .decode()
        .map_err(|e| MatcherError::Image(format!("{}: {e}", path.display())))?;
    Ok(img.to_rgb8())
}
