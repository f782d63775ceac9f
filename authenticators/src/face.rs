//! The face factor: a short capture of frames in which the citizen blinks when asked, at a
//! moment the server chose (`Cue`). Liveness is decided here from the frames, never by the
//! browser: the eyes must close within the cue's window, and at most once outside it (a
//! natural blink), so that a recording of an earlier capture, a video found online or a
//! photograph held to the camera fails. The face of the capture becomes a template
//! (enrolment) or is compared with the enrolled one at the matcher's calibrated threshold
//! (verification). Knows nothing of HTTP or storage.

use image::RgbImage;
use matcher::face::{FaceLocation, FacePipeline};
use matcher::liveness::{self, LivenessReport};
use matcher::{MatcherError, Template, thresholds};

/// The longest side of a frame that is analysed; larger frames are refused.
pub const MAX_FRAME_SIDE: u32 = 1280;
/// Most frames in one capture.
pub const MAX_FRAMES: usize = 60;

/// What the server asked for: `frames` frames, one every `interval_ms`, with a blink
/// between `from_ms` and `until_ms` after the first frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cue {
    pub frames: usize,
    pub interval_ms: u32,
    pub from_ms: u32,
    pub until_ms: u32,
}

impl Cue {
    /// A capture of 3 seconds at 10 frames a second with the blink asked for at `at_ms`
    /// (the server draws it at random, between 0.8 and 1.6 s) and accepted for 1.2 s.
    pub fn at(at_ms: u32) -> Cue {
        Cue {
            frames: 30,
            interval_ms: 100,
            from_ms: at_ms,
            until_ms: at_ms + 1200,
        }
    }

    /// How long the capture takes, in milliseconds.
    pub fn duration_ms(&self) -> u32 {
        self.frames as u32 * self.interval_ms
    }
}

/// Why a capture cannot be used, told to the citizen so that they can fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// A frame is not a JPEG, PNG or WebP image of an allowed size, or frames are missing.
    Unreadable,
    NoFace,
    SeveralFaces,
    TooSmall,
    TooDark,
    TooBlurred,
}

/// Why a capture was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Unusable(Unusable),
    /// No blink at all: a photograph, or eyes kept open.
    NoBlink,
    /// Blinks, but not when asked: a recording.
    NotOnCue,
    /// A live face, but not the enrolled one.
    NoMatch,
}

/// The result of a live capture: its template, and how the liveness decision went.
#[derive(Debug)]
pub struct Live {
    pub template: Template,
    /// The frame the template was made from (the eyes most open).
    pub frame: usize,
    pub blinks_on_cue: usize,
    pub blinks_off_cue: usize,
}

/// The face networks, loaded once.
pub struct FaceEngine {
    pipeline: FacePipeline,
}

impl FaceEngine {
    pub fn load(models: &matcher::models::ModelStore) -> Result<FaceEngine, MatcherError> {
        Ok(FaceEngine {
            pipeline: FacePipeline::load(models)?,
        })
    }

    /// The networks, for checks of other pictures (a document's portrait).
    pub fn pipeline(&self) -> &FacePipeline {
        &self.pipeline
    }

    /// Decodes one frame as sent by a browser (JPEG, PNG or WebP).
    pub fn decode(bytes: &[u8]) -> Result<RgbImage, Unusable> {
        decode_limited(bytes, MAX_FRAME_SIDE)
    }

    /// Decides whether `frames` show one live face that blinked on `cue`; if so, its
    /// template (from the frame where the eyes are most open).
    pub fn live(
        &self,
        frames: &[RgbImage],
        cue: &Cue,
    ) -> Result<Result<Live, Refusal>, MatcherError> {
        if frames.len() != cue.frames || frames.is_empty() {
            return Ok(Err(Refusal::Unusable(Unusable::Unreadable)));
        }
        // The first frame says what is wrong with the picture, if anything is.
        let detect = FaceLocation::Detect { upsample: false };
        if let Err(e) = self.pipeline.sample(&frames[0], detect) {
            return match unusable(&e) {
                Some(u) => Ok(Err(Refusal::Unusable(u))),
                None => Err(e),
            };
        }
        let openness = self.pipeline.sequence_openness(frames)?;
        let report = liveness::analyse(&openness);
        let (on, off) = blinks_on_cue(&report, cue);
        if !report.live {
            let r = if report.frames_with_face < liveness::MIN_FRAMES {
                Refusal::Unusable(Unusable::NoFace)
            } else {
                Refusal::NoBlink
            };
            return Ok(Err(r));
        }
        if on == 0 || off > 1 {
            return Ok(Err(Refusal::NotOnCue));
        }
        let best = openness
            .iter()
            .enumerate()
            .filter_map(|(i, o)| o.map(|o| (i, o)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(0, |(i, _)| i);
        let template = match self.pipeline.template(&frames[best], detect) {
            Ok(t) => t,
            Err(e) => {
                return match unusable(&e) {
                    Some(u) => Ok(Err(Refusal::Unusable(u))),
                    None => Err(e),
                };
            }
        };
        Ok(Ok(Live {
            template,
            frame: best,
            blinks_on_cue: on,
            blinks_off_cue: off,
        }))
    }

    /// Compares a live template with the enrolled one at the calibrated threshold; the
    /// cosine score comes back either way (for the audit log).
    pub fn matches(live: &Template, enrolled: &Template) -> Result<(bool, f32), MatcherError> {
        let score = live.cosine(enrolled)?;
        let threshold = thresholds::for_model(enrolled.model())
            .ok_or_else(|| MatcherError::InvalidTemplate("no threshold for this model".into()))?;
        Ok((score >= threshold.cosine, score))
    }
}

/// Decodes a JPEG, PNG or WebP picture whose sides are at most `max_side`.
pub(crate) fn decode_limited(bytes: &[u8], max_side: u32) -> Result<RgbImage, Unusable> {
    let format = image::guess_format(bytes).map_err(|_| Unusable::Unreadable)?;
    if !matches!(
        format,
        image::ImageFormat::Jpeg | image::ImageFormat::Png | image::ImageFormat::WebP
    ) {
        return Err(Unusable::Unreadable);
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(max_side);
    limits.max_image_height = Some(max_side);
    limits.max_alloc = Some(160 << 20);
    reader.limits(limits);
    let img = reader.decode().map_err(|_| Unusable::Unreadable)?;
    Ok(img.to_rgb8())
}

/// A picture as a JPEG for people to look at (a clerk checking a registration): decoded
/// and encoded again, so that nothing but the pixels is kept (no location or camera data).
pub fn to_jpeg(img: &RgbImage) -> Result<Vec<u8>, MatcherError> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(img)
        .map_err(|e| MatcherError::Image(e.to_string()))?;
    Ok(out)
}

pub(crate) fn unusable(e: &MatcherError) -> Option<Unusable> {
    Some(match e {
        MatcherError::NoFace => Unusable::NoFace,
        MatcherError::SeveralFaces(_) => Unusable::SeveralFaces,
        MatcherError::FaceTooSmall { .. } => Unusable::TooSmall,
        MatcherError::TooDark { .. } => Unusable::TooDark,
        MatcherError::TooBlurred { .. } => Unusable::TooBlurred,
        MatcherError::Image(_) => Unusable::Unreadable,
        _ => return None,
    })
}

/// Blinks that start inside the cue's window, and those that start outside it.
fn blinks_on_cue(report: &LivenessReport, cue: &Cue) -> (usize, usize) {
    let on = report
        .blink_starts
        .iter()
        .filter(|&&start| (cue.from_ms..=cue.until_ms).contains(&(start as u32 * cue.interval_ms)))
        .count();
    (on, report.blink_starts.len() - on)
}

#[cfg(test)]
mod tests {
    use super::*;
    use matcher::face::load_image;
    use matcher::liveness::synthetic;
    use std::path::Path;
    use std::sync::OnceLock;

    fn engine() -> &'static FaceEngine {
        static E: OnceLock<FaceEngine> = OnceLock::new();
        E.get_or_init(|| FaceEngine::load(&matcher::models::ModelStore::from_env()).unwrap())
    }

    fn photo(name: &str) -> RgbImage {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../matcher/tests/fixtures");
        load_image(&dir.join(name)).unwrap()
    }

    /// A photograph "held to the camera" for a cue's capture, eyes shut at `closed`.
    fn capture(name: &str, cue: &Cue, closed: &[usize]) -> Vec<RgbImage> {
        let img = photo(name);
        let e = engine();
        let sample = e
            .pipeline
            .sample(&img, FaceLocation::Detect { upsample: false })
            .unwrap();
        let shut = synthetic::still_photo(
            &synthetic::close_eyes(&img, &sample.landmarks),
            cue.frames,
            5,
        );
        let mut frames = synthetic::still_photo(&img, cue.frames, 3);
        for &i in closed {
            frames[i] = shut[i].clone();
        }
        frames
    }

    #[test]
    fn a_blink_on_cue_is_live_and_matches_the_same_person_only() {
        let cue = Cue::at(1000);
        // Frames 12 and 13 are 1.2 and 1.3 s in: inside the window.
        let live = engine()
            .live(&capture("obama.png", &cue, &[12, 13]), &cue)
            .unwrap()
            .expect("live");
        assert_eq!((live.blinks_on_cue, live.blinks_off_cue), (1, 0));
        let again = engine()
            .live(&capture("obama2.png", &cue, &[14]), &cue)
            .unwrap()
            .expect("live");
        let (same, score) = FaceEngine::matches(&again.template, &live.template).unwrap();
        assert!(same, "another photograph of the same man scores {score}");
        let other = engine()
            .live(&capture("biden.png", &cue, &[12, 13]), &cue)
            .unwrap()
            .expect("live");
        let (same, score) = FaceEngine::matches(&other.template, &live.template).unwrap();
        assert!(!same, "another man scores {score}");
    }

    #[test]
    fn a_still_photo_and_a_blink_off_cue_are_refused() {
        let cue = Cue::at(1500);
        let still = capture("obama.png", &cue, &[]);
        assert_eq!(
            engine().live(&still, &cue).unwrap().unwrap_err(),
            Refusal::NoBlink
        );
        // A recording whose blink came at another moment (0.4 s, before the window).
        let replay = capture("obama.png", &cue, &[4, 5]);
        assert_eq!(
            engine().live(&replay, &cue).unwrap().unwrap_err(),
            Refusal::NotOnCue
        );
        // Too few frames, or an empty picture.
        assert_eq!(
            engine().live(&still[..10], &cue).unwrap().unwrap_err(),
            Refusal::Unusable(Unusable::Unreadable)
        );
        let grey = vec![RgbImage::from_pixel(320, 240, image::Rgb([128, 128, 128])); cue.frames];
        assert_eq!(
            engine().live(&grey, &cue).unwrap().unwrap_err(),
            Refusal::Unusable(Unusable::NoFace)
        );
    }

    #[test]
    fn frames_are_read_from_jpeg_png_and_webp_only() {
        let img = photo("obama.png");
        for format in [
            image::ImageFormat::Jpeg,
            image::ImageFormat::Png,
            image::ImageFormat::WebP,
        ] {
            let mut bytes = std::io::Cursor::new(Vec::new());
            image::DynamicImage::ImageRgb8(img.clone())
                .write_to(&mut bytes, format)
                .unwrap();
            let back = FaceEngine::decode(bytes.get_ref()).unwrap();
            assert_eq!(back.dimensions(), img.dimensions(), "{format:?}");
        }
        assert_eq!(FaceEngine::decode(b"GIF89a...."), Err(Unusable::Unreadable));
        assert_eq!(
            FaceEngine::decode(b"not an image"),
            Err(Unusable::Unreadable)
        );
    }
}
