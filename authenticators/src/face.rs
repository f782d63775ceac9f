//! The face factor: a short capture of frames in which the citizen blinks, then turns their
//! head to a side, each when asked, at moments and to a side the server chose (`Cue`).
//! Liveness is decided here from the frames, never by the browser: the eyes must close
//! within the blink's window, and at most once outside it (a natural blink); the head must
//! turn to the asked side within the turn's window, and neither earlier nor the other way.
//! So a photograph held to the camera, a recording of an earlier capture or a video found
//! online fails. The face of the capture, looking straight on, becomes a template
//! (enrolment) or is compared with the enrolled one at the matcher's calibrated threshold
//! (verification). Knows nothing of HTTP or storage.

use image::RgbImage;
use matcher::face::FacePipeline;
use matcher::head_turn::{self, Side, TurnReport};
use matcher::liveness::{self, LivenessReport};
use matcher::{MatcherError, Template, thresholds};

/// The longest side of a frame that is analysed; larger frames are refused.
pub const MAX_FRAME_SIDE: u32 = 1280;
/// Most frames in one capture.
pub const MAX_FRAMES: usize = 60;

/// What the server asked for: `frames` frames, one every `interval_ms`; a blink between
/// `from_ms` and `until_ms` after the first frame, and a turn of the head to `turn` that
/// starts between `turn_from_ms` and `turn_until_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cue {
    pub frames: usize,
    pub interval_ms: u32,
    pub from_ms: u32,
    pub until_ms: u32,
    pub turn: Side,
    pub turn_from_ms: u32,
    pub turn_until_ms: u32,
}

impl Cue {
    /// A capture of 4.5 seconds at 10 frames a second: the blink asked for at `blink_ms`
    /// and accepted for 1.2 s, then the turn to `turn` asked for at `turn_ms` (at least
    /// 1.4 s after the blink) and accepted for 1.4 s. The server draws all three at random.
    pub fn new(blink_ms: u32, turn: Side, turn_ms: u32) -> Cue {
        let turn_ms = turn_ms.max(blink_ms + 1400);
        Cue {
            frames: 45,
            interval_ms: 100,
            from_ms: blink_ms,
            until_ms: blink_ms + 1200,
            turn,
            turn_from_ms: turn_ms,
            turn_until_ms: turn_ms + 1400,
        }
    }

    /// How long the capture takes, in milliseconds.
    pub fn duration_ms(&self) -> u32 {
        self.frames as u32 * self.interval_ms
    }

    fn at_ms(&self, frame: usize) -> u32 {
        frame as u32 * self.interval_ms
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
    /// No turn of the head to the asked side when asked (or a turn the other way only).
    NoTurn,
    /// Blinks, but not when asked: a recording.
    NotOnCue,
    /// A turn to the asked side before it was asked for, or a turn the other way as well: a
    /// recording.
    TurnNotOnCue,
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
    /// The first frame of the head's turn to the asked side.
    pub turned_at: usize,
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
        crate::picture::decode_limited(bytes, MAX_FRAME_SIDE)
    }

    /// Decides whether `frames` show one live face that blinked and turned on `cue`; if so,
    /// its template (from the frame looking straight on where the eyes are most open).
    pub fn live(
        &self,
        frames: &[RgbImage],
        cue: &Cue,
    ) -> Result<Result<Live, Refusal>, MatcherError> {
        if frames.len() != cue.frames || frames.is_empty() {
            return Ok(Err(Refusal::Unusable(Unusable::Unreadable)));
        }
        // Every frame is searched whole by the fast frame detector; the first frame says what
        // is wrong with the picture, if anything is.
        let faces = self.pipeline.capture_faces(frames)?;
        if let Some(Err(e)) = faces.first() {
            return Ok(Err(Refusal::Unusable(
                unusable(e).unwrap_or(Unusable::NoFace),
            )));
        }
        let openness: Vec<Option<f32>> = faces
            .iter()
            .map(|f| f.as_ref().ok().and_then(|f| f.openness))
            .collect();
        let yaws = head_turn::yaws(&faces);
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
        let turns = head_turn::analyse(&yaws);
        let turned_at = match turned_on_cue(&turns, cue) {
            Ok(at) => at,
            Err(r) => return Ok(Err(r)),
        };
        // The template comes from the frame looking straight on where the eyes are most
        // open, from the face the liveness analysis already found there.
        let best = openness
            .iter()
            .zip(&yaws)
            .enumerate()
            .filter(|(_, (_, y))| turns.frontal(**y))
            .filter_map(|(i, (o, _))| o.map(|o| (i, o)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i);
        let (Some(best), Some(Ok(face))) = (best, best.and_then(|i| faces.get(i))) else {
            return Ok(Err(Refusal::Unusable(Unusable::NoFace)));
        };
        let template = self
            .pipeline
            .embedder()
            .embed_chips(&[&face.sample.chip])?
            .pop()
            .ok_or_else(|| MatcherError::Model {
                name: matcher::face::embed::WEIGHTS_FILE.into(),
                reason: "no output".into(),
            })?;
        Ok(Ok(Live {
            template,
            frame: best,
            blinks_on_cue: on,
            blinks_off_cue: off,
            turned_at,
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
        .filter(|&&start| (cue.from_ms..=cue.until_ms).contains(&cue.at_ms(start)))
        .count();
    (on, report.blink_starts.len() - on)
}

/// The first frame of a turn to the asked side that starts inside the turn's window; a
/// turn the other way, or one to the asked side before the window, is a recording's.
fn turned_on_cue(turns: &TurnReport, cue: &Cue) -> Result<usize, Refusal> {
    let window = cue.turn_from_ms..=cue.turn_until_ms;
    let asked = turns.turns.iter().filter(|t| t.side == cue.turn);
    let Some(on) = asked.clone().find(|t| window.contains(&cue.at_ms(t.start))) else {
        return Err(Refusal::NoTurn);
    };
    let early = asked.clone().any(|t| cue.at_ms(t.start) < cue.turn_from_ms);
    let other_way = turns.turns.iter().any(|t| t.side != cue.turn);
    if early || other_way {
        return Err(Refusal::TurnNotOnCue);
    }
    Ok(on.start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use matcher::face::{FaceLocation, load_image};
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

    /// A photograph "held to the camera" for a cue's capture: eyes shut at `closed`, the
    /// head turned (25 degrees, synthetic) at `turned`.
    fn capture(name: &str, cue: &Cue, closed: &[usize], turned: &[(usize, Side)]) -> Vec<RgbImage> {
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
        let turn = |side| {
            let degrees = if side == Side::Left { 25.0 } else { -25.0 };
            synthetic::still_photo(
                &synthetic::turn_head(&img, &sample.landmarks, degrees),
                cue.frames,
                9,
            )
        };
        let (left, right) = (turn(Side::Left), turn(Side::Right));
        let mut frames = synthetic::still_photo(&img, cue.frames, 3);
        for &i in closed {
            frames[i] = shut[i].clone();
        }
        for &(i, side) in turned {
            frames[i] = if side == Side::Left { &left } else { &right }[i].clone();
        }
        frames
    }

    /// The head turned to `side` for four frames from `from`.
    fn turned(from: usize, side: Side) -> Vec<(usize, Side)> {
        (from..from + 4).map(|i| (i, side)).collect()
    }

    #[test]
    fn a_blink_and_a_turn_on_cue_are_live_and_match_the_same_person_only() {
        // The blink from 1.0 s, the turn to the left from 2.6 s.
        let cue = Cue::new(1000, Side::Left, 2600);
        // Frames 12 and 13 are 1.2 and 1.3 s in, frame 28 is 2.8 s in: inside the windows.
        let turn = turned(28, Side::Left);
        let live = engine()
            .live(&capture("obama.png", &cue, &[12, 13], &turn), &cue)
            .unwrap()
            .expect("live");
        assert_eq!((live.blinks_on_cue, live.blinks_off_cue), (1, 0));
        assert_eq!(live.turned_at, 28);
        assert!(
            !(28..32).contains(&live.frame),
            "the template looks straight on"
        );
        let again = engine()
            .live(&capture("obama2.png", &cue, &[14], &turn), &cue)
            .unwrap()
            .expect("live");
        let (same, score) = FaceEngine::matches(&again.template, &live.template).unwrap();
        assert!(same, "another photograph of the same man scores {score}");
        let other = engine()
            .live(&capture("biden.png", &cue, &[12, 13], &turn), &cue)
            .unwrap()
            .expect("live");
        let (same, score) = FaceEngine::matches(&other.template, &live.template).unwrap();
        assert!(!same, "another man scores {score}");
    }

    #[test]
    fn a_still_photo_and_a_blink_or_turn_off_cue_are_refused() {
        let cue = Cue::new(1500, Side::Right, 3000);
        let refusal = |closed: &[usize], turn: &[(usize, Side)]| {
            engine()
                .live(&capture("obama.png", &cue, closed, turn), &cue)
                .unwrap()
                .unwrap_err()
        };
        let on_cue = turned(31, Side::Right);
        assert_eq!(refusal(&[], &[]), Refusal::NoBlink);
        // A recording whose blink came at another moment (0.4 s, before the window).
        assert_eq!(refusal(&[4, 5], &on_cue), Refusal::NotOnCue);
        // A blink on cue, but the head kept still, or turned the other way.
        assert_eq!(refusal(&[17], &[]), Refusal::NoTurn);
        assert_eq!(refusal(&[17], &turned(31, Side::Left)), Refusal::NoTurn);
        // The asked side, but only before the window (a recording), or before and in it.
        assert_eq!(refusal(&[17], &turned(20, Side::Right)), Refusal::NoTurn);
        let mut twice = turned(20, Side::Right);
        twice.extend(on_cue.iter().copied());
        assert_eq!(refusal(&[17], &twice), Refusal::TurnNotOnCue);
        // Both ways: someone turning a recording's head for it.
        let mut both = on_cue.clone();
        both.extend(turned(36, Side::Left));
        assert_eq!(refusal(&[17], &both), Refusal::TurnNotOnCue);
        // Too few frames, or an empty picture.
        let still = capture("obama.png", &cue, &[], &[]);
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
