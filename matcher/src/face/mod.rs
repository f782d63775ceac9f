//! Face pipeline: locate -> 5 landmarks -> aligned chip -> quality checks -> embedding.
//!
//! Two detectors locate faces: dlib's MMOD CNN (`detect.rs`) in still photographs, where it
//! is the more accurate, and MediaPipe's BlazeFace (`blazeface.rs`) in camera frames, where
//! a capture's 45 frames must be analysed in well under a second.

pub mod align;
pub mod blazeface;
pub mod detect;
pub mod embed;
pub mod eyes;
pub mod landmarks;
mod layers;

use std::time::Duration;

use image::RgbImage;

use crate::error::{MatcherError, Result};
use crate::models::ModelStore;
use crate::template::Template;
use blazeface::FrameDetector;
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
    /// A camera frame: run the fast BlazeFace detector on the whole frame; exactly one face
    /// must be found.
    Frame,
    /// A face box from BlazeFace ([`blazeface::Detection::face_box`]): the landmarks are the
    /// mean of the shape predictor's answers for boxes of [`FRAME_BOX_SCALES`] times its side.
    FrameBox(FaceBox),
}

/// Long side above which detection runs on a reduced copy of the image.
pub const MAX_DETECT_SIDE: u32 = 1024;
/// Minimum usable face, in pixels across the face box.
pub const MIN_FACE_PX: i64 = 40;
/// Box sizes, relative to the box mapped from BlazeFace's, whose landmarks are averaged for
/// a frame. The shape predictor's answer moves by a pixel here and there with the box it
/// starts from, and BlazeFace's box is no MMOD box: on the ORL faces a 3% larger or smaller
/// box alone moved the FNMR at FMR 1e-4 between 2.2% and 2.9% (EVALUATION.md, section 2).
/// The mean over sizes 6% apart either way takes most of that chance out; five predictions
/// cost about 2 ms.
pub const FRAME_BOX_SCALES: [f64; 5] = [0.94, 0.97, 1.0, 1.03, 1.06];
/// Frames that go through the networks in one batch: enough to spread each network
/// operation's fixed cost, few enough to keep a long video's memory bounded.
pub const FRAME_BATCH: usize = 10;
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

/// Time spent in each stage of [`FacePipeline::capture_faces`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CaptureTimes {
    /// Letterboxing, BlazeFace and its decoding.
    pub detect: Duration,
    /// Shape predictor, aligned chip and its quality checks.
    pub landmarks_align: Duration,
    /// Eye crops and the eyelid network.
    pub eyes: Duration,
}

/// One frame of a capture: its face and how open the eyes are (None when an eye is too
/// narrow to measure).
#[derive(Debug, Clone)]
pub struct FrameFace {
    pub sample: FaceSample,
    pub openness: Option<f32>,
}

pub struct FacePipeline {
    detector: FaceDetector,
    frames: FrameDetector,
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
            frames: FrameDetector::load(store)?,
            predictor: ShapePredictor::load(store)?,
            embedder: FaceEmbedder::load(store)?,
            eyes: EyeLandmarker::load(store)?,
        })
    }

    pub fn detector(&self) -> &FaceDetector {
        &self.detector
    }

    pub fn frame_detector(&self) -> &FrameDetector {
        &self.frames
    }

    /// The one face of a camera frame found by BlazeFace, as the box the shape predictor
    /// expects.
    pub fn locate_in_frame(&self, img: &RgbImage) -> Result<FaceBox> {
        let found = self.frames.detect(&[img])?.pop().unwrap_or_default();
        one_face(&found)
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
            FaceLocation::Box(b) | FaceLocation::FrameBox(b) => {
                (std::borrow::Cow::Borrowed(img), b)
            }
            FaceLocation::Detect { upsample } => (
                std::borrow::Cow::Borrowed(img),
                self.locate_one(img, upsample)?,
            ),
            FaceLocation::Frame => (std::borrow::Cow::Borrowed(img), self.locate_in_frame(img)?),
        };
        let size = face_box.width().min(face_box.height());
        if size < MIN_FACE_PX {
            return Err(MatcherError::FaceTooSmall {
                size: size.max(0) as u32,
                min: MIN_FACE_PX as u32,
            });
        }
        let landmarks = match location {
            FaceLocation::Frame | FaceLocation::FrameBox(_) => {
                self.predictor
                    .predict_mean(&padded, face_box, &FRAME_BOX_SCALES)
            }
            _ => self.predictor.predict(&padded, face_box),
        };
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

    /// Each frame's face (landmarks, chip, quality checks passed) and eye openness, or why
    /// the frame is unusable. Every frame is searched whole by BlazeFace, [`FRAME_BATCH`]
    /// frames per network pass, and the eyes of a batch's frames go through the eyelid
    /// network together.
    pub fn capture_faces(&self, frames: &[RgbImage]) -> Result<Vec<Result<FrameFace>>> {
        self.capture_faces_timed(frames, &mut CaptureTimes::default(), &|| Duration::ZERO)
    }

    /// [`Self::capture_faces`], adding the time each stage took to `times` as told by `clock`
    /// (e.g. the thread's CPU time).
    pub fn capture_faces_timed(
        &self,
        frames: &[RgbImage],
        times: &mut CaptureTimes,
        clock: &dyn Fn() -> Duration,
    ) -> Result<Vec<Result<FrameFace>>> {
        let mut out = Vec::with_capacity(frames.len());
        for chunk in frames.chunks(FRAME_BATCH) {
            let refs: Vec<&RgbImage> = chunk.iter().collect();
            let start = clock();
            let detections = self.frames.detect(&refs)?;
            let lap = clock();
            times.detect += lap.saturating_sub(start);
            let start = lap;
            let mut samples = Vec::with_capacity(chunk.len());
            for (img, found) in chunk.iter().zip(detections) {
                match one_face(&found).and_then(|b| self.sample(img, FaceLocation::FrameBox(b))) {
                    Err(e) if !e.is_unusable_input() => return Err(e),
                    s => samples.push(s),
                }
            }
            let lap = clock();
            times.landmarks_align += lap.saturating_sub(start);
            let start = lap;
            let crops: Vec<Option<[RgbImage; 2]>> = chunk
                .iter()
                .zip(&samples)
                .map(|(img, s)| {
                    let s = s.as_ref().ok()?;
                    eyes::eye_crops(img, &s.landmarks, MIN_EYE_PX)
                })
                .collect();
            let batch: Vec<&RgbImage> = crops.iter().flatten().flatten().collect();
            let contours = self.eyes.contours(&batch)?;
            let mut per_face = contours.chunks(2);
            for (sample, crop) in samples.into_iter().zip(&crops) {
                let openness = match crop {
                    Some(_) => per_face.next().and_then(eyes::openness),
                    None => None,
                };
                out.push(sample.map(|sample| FrameFace { sample, openness }));
            }
            times.eyes += clock().saturating_sub(start);
        }
        Ok(out)
    }

    /// Eye openness of each frame of a video for liveness (None where no usable face was
    /// found), from [`Self::capture_faces`].
    pub fn sequence_openness(&self, frames: &[RgbImage]) -> Result<Vec<Option<f32>>> {
        Ok(self
            .capture_faces(frames)?
            .into_iter()
            .map(|f| f.ok().and_then(|f| f.openness))
            .collect())
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
        FaceLocation::Box(_)
        | FaceLocation::Detect { .. }
        | FaceLocation::Frame
        | FaceLocation::FrameBox(_) => 0,
    }
}

/// The box of the one detection, or why there is not exactly one.
fn one_face(found: &[blazeface::Detection]) -> Result<FaceBox> {
    match found {
        [] => Err(MatcherError::NoFace),
        [one] => Ok(one.face_box()),
        many => Err(MatcherError::SeveralFaces(many.len())),
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
