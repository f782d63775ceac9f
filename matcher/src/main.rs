//! `matcher` command line: prints JSON on stdout; unusable input exits non-zero with a
//! one-line reason on stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{Value, json};

use matcher::document_sim;
use matcher::eval::{
    OperatingPoint, cross_validate, score_pairs, spoof_acceptance, upper_bound_95,
};
use matcher::face::{FaceLocation, FacePipeline, FaceSample, load_image, pad_edges};
use matcher::models::ModelStore;
use matcher::search::synthetic_templates;
use matcher::voice::VoicePipeline;
use matcher::voice::audio::read_audio;
use matcher::{Gallery, MatcherError, ModelId, Template};
use matcher::{head_turn, liveness};

#[derive(Parser)]
#[command(
    name = "matcher",
    about = "Face and voice templates, comparison and 1:N search"
)]
struct Cli {
    /// Modality; by default chosen from the file extension.
    #[arg(long, global = true)]
    modality: Option<Modality>,
    /// How to find the face: run the CNN detector (exactly one face required), or treat
    /// the whole image as a tight face crop.
    #[arg(long, global = true, value_enum, default_value_t = FaceMode::Detect)]
    face: FaceMode,
    /// Pad images by this fraction of their size first, repeating edge pixels (helps the
    /// detector and alignment on tight crops).
    #[arg(long, global = true, default_value_t = 0.0)]
    pad: f32,
    /// Double the image before detection to find faces of 40-80 px.
    #[arg(long, global = true)]
    upsample: bool,
    /// Face detector of `--face detect`: dlib's MMOD CNN (still photographs) or BlazeFace (the
    /// detector of capture frames).
    #[arg(long, global = true, value_enum, default_value_t = Detector::Mmod)]
    detector: Detector,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FaceMode {
    Detect,
    Whole,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Detector {
    Mmod,
    Blazeface,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Modality {
    Face,
    Voice,
}

#[derive(Subcommand)]
enum Command {
    /// Print the embedding of one face image.
    Embed { file: PathBuf },
    /// Compare two samples: score, threshold and decision.
    Compare { a: PathBuf, b: PathBuf },
    /// Rank a gallery directory (one sub-directory or file per identity) against a probe.
    Identify {
        probe: PathBuf,
        gallery: PathBuf,
        #[arg(long, default_value_t = 5)]
        top: usize,
    },
    /// Error rates over a directory with one sub-directory of samples per person.
    Eval {
        dir: PathBuf,
        /// Write a DET curve (FNMR against FMR, log axes) to this PNG.
        #[arg(long)]
        plot: Option<PathBuf>,
        /// False-match rate the threshold is chosen for.
        #[arg(long, default_value_t = 1e-4)]
        fmr: f64,
        /// Also report the rates at this threshold (e.g. one calibrated on other data).
        #[arg(long)]
        threshold: Option<f32>,
        /// Identity-disjoint cross-validation of the threshold with this many folds.
        #[arg(long)]
        folds: Option<usize>,
        /// Synthetic speech (one sub-directory per synthetic voice): how often a voice
        /// tuned toward each person is accepted as that person (at `--threshold`, or the
        /// configured threshold).
        #[arg(long)]
        attacks: Option<PathBuf>,
    },
    /// Cross-capture error rates, identity document against live face: every image of a
    /// directory with one sub-directory per person becomes a synthetic "document portrait as
    /// a phone photographs it" (`document_sim`: print contrast and colour cast, reduced to a
    /// face box of 100-130 px, rotation and perspective, blur, sensor noise, JPEG), and the
    /// document version of each image is scored against the original of every other image.
    EvalDocument {
        dir: PathBuf,
        /// False-match rate the threshold is chosen for.
        #[arg(long, default_value_t = 1e-4)]
        fmr: f64,
        /// Also report the rates at this threshold.
        #[arg(long)]
        threshold: Option<f32>,
        /// Identity-disjoint cross-validation of the threshold with this many folds.
        #[arg(long)]
        folds: Option<usize>,
        /// Base seed of the degradations (each image's own seed also depends on its name).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write each document version here (PERSON/FILE.png), to look at.
        #[arg(long)]
        save: Option<PathBuf>,
    },
    /// Blink liveness over a directory of video frames (image files, in name order) or a
    /// YUV4MPEG2 / Motion JPEG video.
    Liveness { frames: PathBuf },
    /// The yaw of the face in each image (see `head_turn::yaw`), and for a directory of
    /// video frames or a video, the head turns found in it.
    Pose { files: Vec<PathBuf> },
    /// Liveness error rates from still photographs: each image becomes a held-up-photo
    /// attack sequence (APCER) and a sequence with a synthetic blink (BPCER, synthetic).
    LivenessEval {
        dir: PathBuf,
        #[arg(long, default_value_t = 15)]
        frames: usize,
    },
    /// Write a test video (YUV4MPEG2, e.g. for Chromium's fake camera) of a photograph held
    /// to the camera: centred on a `--width` x `--height` canvas, with jitter and noise, and
    /// with synthetic blinks (painted-over eyes) at the given frames. Synthetic: it tests
    /// the decision logic, not real liveness.
    SynthVideo {
        image: PathBuf,
        out: PathBuf,
        #[arg(long, default_value_t = 10)]
        fps: u32,
        #[arg(long, default_value_t = 30)]
        frames: usize,
        /// Frames (from 0) whose eyes are shut, e.g. --closed 12,13.
        #[arg(long, value_delimiter = ',')]
        closed: Vec<usize>,
        /// Frames whose head is turned to the citizen's left (synthetic, `--degrees`).
        #[arg(long, value_delimiter = ',')]
        left: Vec<usize>,
        /// Frames whose head is turned to the citizen's right.
        #[arg(long, value_delimiter = ',')]
        right: Vec<usize>,
        #[arg(long, default_value_t = 25.0)]
        degrees: f32,
        #[arg(long, default_value_t = 320)]
        width: u32,
        #[arg(long, default_value_t = 240)]
        height: u32,
        /// Also write each frame as DIR/N.png.
        #[arg(long)]
        frames_dir: Option<PathBuf>,
    },
    /// Time face detection + embedding of one image, and voice embedding per 3 s.
    BenchEmbed {
        image: PathBuf,
        #[arg(long)]
        audio: Option<PathBuf>,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Time a whole face-capture decision as the face factor makes it: decoding the frames
    /// (sent as JPEG, quality 85), each frame's face and eyelids, the blink analysis and the
    /// template of the most open-eyed frame. CPU time of the whole process, from its tick
    /// counts (10 ms steps) and summed over its threads' nanosecond counts, also per stage.
    BenchCapture {
        /// A video (.y4m, .mjpeg) or a directory of frames.
        frames: PathBuf,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Fit the mapping from BlazeFace's box to the box dlib's shape predictor expects (MMOD's)
    /// on images (directories are searched recursively) and videos (every `--every`th frame);
    /// print the fitted constants, and how far the landmarks from the compiled mapping's box
    /// are from those from MMOD's box.
    BoxFit {
        inputs: Vec<PathBuf>,
        #[arg(long, default_value_t = 10)]
        every: usize,
        /// Also list each face: both boxes, BlazeFace's keypoints, both sets of landmarks.
        #[arg(long)]
        details: bool,
    },
    /// Time 1:N search over synthetic templates.
    BenchSearch {
        #[arg(long, default_value_t = 1_000_000)]
        templates: usize,
        #[arg(long, default_value_t = 128)]
        dim: usize,
        #[arg(long, default_value_t = 20)]
        queries: usize,
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
}

struct Engines {
    face: Option<FacePipeline>,
    voice: Option<VoicePipeline>,
    face_mode: FaceMode,
    pad: f32,
    upsample: bool,
    detector: Detector,
}

impl Engines {
    fn face(&mut self) -> matcher::Result<&FacePipeline> {
        if self.face.is_none() {
            self.face = Some(FacePipeline::load(&ModelStore::from_env())?);
        }
        self.face.as_ref().ok_or_else(|| MatcherError::Model {
            name: "face".into(),
            reason: "not loaded".into(),
        })
    }

    /// The face sample of an image, located as the command-line options say.
    fn face_sample(&mut self, img: &image::RgbImage) -> matcher::Result<FaceSample> {
        let (mode, pad, upsample) = (self.face_mode, self.pad, self.upsample);
        let detect = match self.detector {
            Detector::Mmod => FaceLocation::Detect { upsample },
            Detector::Blazeface => FaceLocation::Frame,
        };
        let face = self.face()?;
        match mode {
            FaceMode::Whole => face.sample(img, FaceLocation::WholeImage { pad }),
            FaceMode::Detect => {
                let side = img.width().max(img.height()) as f32;
                let p = (pad.clamp(0.0, 2.0) * side).round() as u32;
                if p > 0 {
                    face.sample(&pad_edges(img, p), detect)
                } else {
                    face.sample(img, detect)
                }
            }
        }
    }

    fn face_template(&mut self, sample: &FaceSample) -> matcher::Result<Template> {
        self.face()?
            .embedder()
            .embed_chips(&[&sample.chip])?
            .pop()
            .ok_or_else(|| MatcherError::Model {
                name: "face".into(),
                reason: "no output".into(),
            })
    }

    fn template(&mut self, path: &Path, modality: Option<Modality>) -> matcher::Result<Template> {
        match modality.unwrap_or_else(|| modality_of(path)) {
            Modality::Face => {
                let img = load_image(path)?;
                let sample = self.face_sample(&img)?;
                self.face_template(&sample)
            }
            Modality::Voice => {
                let audio = read_audio(path)?;
                if self.voice.is_none() {
                    self.voice = Some(VoicePipeline::load(&ModelStore::from_env())?);
                }
                match &self.voice {
                    Some(v) => v.template(&audio),
                    None => Err(MatcherError::Model {
                        name: "voice".into(),
                        reason: "not loaded".into(),
                    }),
                }
            }
        }
    }
}

fn modality_of(path: &Path) -> Modality {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "wav" | "raw" | "flac" => Modality::Voice,
        _ => Modality::Face,
    }
}

/// The frames of a video, or the images of a directory in name order.
fn read_frames(path: &Path) -> matcher::Result<Vec<image::RgbImage>> {
    if path.is_dir() {
        files_in(path)?.iter().map(|f| load_image(f)).collect()
    } else if matcher::video::is_video(path) {
        matcher::video::read_frames(path)
    } else {
        Err(MatcherError::Image(format!(
            "{}: give a directory of frames or a .y4m / .mjpeg video \
             (e.g. ffmpeg -i video.mp4 video.y4m)",
            path.display()
        )))
    }
}

fn bench_capture(face: &FacePipeline, path: &Path, runs: usize) -> matcher::Result<Value> {
    let frames = read_frames(path)?;
    let jpegs = frames
        .iter()
        .map(|f| {
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
                .encode_image(f)
                .map(|_| out)
                .map_err(|e| MatcherError::Image(e.to_string()))
        })
        .collect::<matcher::Result<Vec<_>>>()?;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let mut stages: [Vec<f64>; 6] = Default::default();
    let (mut wall, mut cpu, mut threads_cpu) = (Vec::new(), Vec::new(), Vec::new());
    let mut last = Value::Null;
    for _ in 0..runs.max(1) {
        let cpu_start = process_cpu_s();
        let threads_start = threads_cpu_time();
        let start = Instant::now();
        let decoded = jpegs
            .iter()
            .map(|j| {
                image::load_from_memory_with_format(j, image::ImageFormat::Jpeg)
                    .map(|i| i.to_rgb8())
                    .map_err(|e| MatcherError::Image(e.to_string()))
            })
            .collect::<matcher::Result<Vec<_>>>()?;
        let decode = threads_cpu_time().saturating_sub(threads_start);
        let mut times = matcher::face::CaptureTimes::default();
        let faces = face.capture_faces_timed(&decoded, &mut times, &threads_cpu_time)?;
        let t = threads_cpu_time();
        let openness: Vec<Option<f32>> = faces
            .iter()
            .map(|f| f.as_ref().ok().and_then(|f| f.openness))
            .collect();
        let report = liveness::analyse(&openness);
        let yaws = head_turn::yaws(&faces);
        let turns = head_turn::analyse(&yaws);
        let analyse = threads_cpu_time().saturating_sub(t);
        let t = threads_cpu_time();
        let best = openness
            .iter()
            .zip(&yaws)
            .enumerate()
            .filter(|(_, (_, y))| turns.frontal(**y))
            .filter_map(|(i, (o, _))| o.map(|o| (i, o)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .and_then(|(i, _)| faces.get(i)?.as_ref().ok());
        if let Some(f) = best {
            std::hint::black_box(face.embedder().embed_chips(&[&f.sample.chip])?);
        }
        let embed = threads_cpu_time().saturating_sub(t);
        wall.push(ms(start.elapsed()));
        cpu.push((process_cpu_s() - cpu_start) * 1e3);
        threads_cpu.push(ms(threads_cpu_time().saturating_sub(threads_start)));
        for (v, d) in stages.iter_mut().zip([
            decode,
            times.detect,
            times.landmarks_align,
            times.eyes,
            analyse,
            embed,
        ]) {
            v.push(ms(d));
        }
        last = json!({"live": report.live, "blinks": report.blinks, "turns": turns.turns,
                      "frames_with_face": report.frames_with_face});
    }
    let worst = |v: &[f64]| v.iter().copied().fold(f64::NAN, f64::max);
    let [decode, detect, landmarks, eyes, analyse, embed] = &mut stages;
    Ok(json!({
        "frames": frames.len(),
        "width": frames.first().map(|f| f.width()), "height": frames.first().map(|f| f.height()),
        "runs": runs.max(1),
        "threads": candle_core::utils::get_num_threads(),
        "decision": last,
        "cpu_ms_median": median(&mut cpu.clone()), "cpu_ms_worst": worst(&cpu),
        "threads_cpu_ms_median": median(&mut threads_cpu.clone()),
        "threads_cpu_ms_worst": worst(&threads_cpu),
        "wall_ms_median": median(&mut wall.clone()), "wall_ms_worst": worst(&wall),
        "stage_cpu_ms_median": {
            "decode_jpeg": median(decode),
            "detect_blazeface": median(detect),
            "landmarks_align_quality": median(landmarks),
            "eye_crops_and_lids": median(eyes),
            "blink_and_turn_analysis": median(analyse),
            "embed_best_frame": median(embed),
        },
    }))
}

fn box_fit(
    face: &FacePipeline,
    inputs: &[PathBuf],
    (every, details): (usize, bool),
    pad: f32,
    upsample: bool,
) -> matcher::Result<Value> {
    use matcher::face::blazeface::{BOX_SHIFT_X, BOX_SHIFT_Y, BOX_SIDE};
    fn collect(path: &Path, out: &mut Vec<PathBuf>) -> matcher::Result<()> {
        if path.is_dir() {
            for p in files_in(path)? {
                collect(&p, out)?;
            }
        } else {
            out.push(path.to_path_buf());
        }
        Ok(())
    }
    let mut files = Vec::new();
    for input in inputs {
        collect(input, &mut files)?;
    }
    // Per face: MMOD's centre offset and side in units of BlazeFace's box side, and the
    // largest landmark distance between the two boxes' landmarks over the eye distance.
    let (mut shift_x, mut shift_y, mut side, mut landmark_error) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut frames_seen, mut skipped) = (0usize, 0usize);
    let mut faces = Vec::new();
    for file in &files {
        let frames = if matcher::video::is_video(file) {
            matcher::video::read_frames(file)?
                .into_iter()
                .step_by(every)
                .collect()
        } else {
            match load_image(file) {
                Ok(img) => vec![img],
                Err(_) => continue,
            }
        };
        for img in frames {
            frames_seen += 1;
            let img = if pad > 0.0 {
                let long = img.width().max(img.height()) as f32;
                pad_edges(&img, (pad.clamp(0.0, 2.0) * long).round() as u32)
            } else {
                img
            };
            let mmod = face.locate_one(&img, upsample);
            let found = face.frame_detector().detect(&[&img])?;
            let (Ok(m), [d]) = (mmod, found.first().map_or(&[][..], |f| f.as_slice())) else {
                skipped += 1;
                continue;
            };
            let s = ((d.xmax - d.xmin) + (d.ymax - d.ymin)) as f64 / 2.0;
            let (bx, by) = (
                f64::from(d.xmin + d.xmax) / 2.0,
                f64::from(d.ymin + d.ymax) / 2.0,
            );
            let (mx, my) = (
                (m.left + m.right) as f64 / 2.0,
                (m.top + m.bottom) as f64 / 2.0,
            );
            // Not the same face.
            if (mx - bx).hypot(my - by) > 0.5 * s {
                skipped += 1;
                continue;
            }
            shift_x.push((mx - bx) / s);
            shift_y.push((my - by) / s);
            side.push(m.width() as f64 / s);
            let a = face.predictor().predict(&img, m);
            let b = face.predictor().predict(&img, d.face_box());
            let eye = |l: &matcher::face::landmarks::Landmarks, i: usize, j: usize| {
                [
                    (l[i][0] + l[j][0]) as f64 / 2.0,
                    (l[i][1] + l[j][1]) as f64 / 2.0,
                ]
            };
            let (e1, e2) = (eye(&a, 0, 1), eye(&a, 2, 3));
            let eye_distance = (e1[0] - e2[0]).hypot(e1[1] - e2[1]).max(1.0);
            let worst = a
                .iter()
                .zip(&b)
                .map(|(p, q)| ((p[0] - q[0]) as f64).hypot((p[1] - q[1]) as f64))
                .fold(0.0, f64::max);
            landmark_error.push(worst / eye_distance);
            if details {
                faces.push(json!({
                    "file": file.display().to_string(),
                    "blazeface": [d.xmin, d.ymin, d.xmax, d.ymax], "keypoints": d.keypoints,
                    "mmod": [m.left, m.top, m.right, m.bottom], "mmod_landmarks": a,
                    "landmarks": b,
                }));
            }
        }
    }
    let quartiles = |v: &mut Vec<f64>| -> Value {
        v.sort_by(f64::total_cmp);
        let q = |f: f64| {
            v.get(((v.len() as f64 - 1.0) * f).round() as usize)
                .copied()
        };
        json!({"q25": q(0.25), "median": q(0.5), "q75": q(0.75), "p95": q(0.95), "max": q(1.0)})
    };
    Ok(json!({
        "frames": frames_seen, "faces_used": side.len(), "skipped": skipped,
        "fitted": {
            "side": quartiles(&mut side),
            "shift_x": quartiles(&mut shift_x),
            "shift_y": quartiles(&mut shift_y),
        },
        "compiled": {"side": BOX_SIDE, "shift_x": BOX_SHIFT_X, "shift_y": BOX_SHIFT_Y},
        "landmark_error_over_eye_distance": quartiles(&mut landmark_error),
        "faces": faces,
    }))
}

/// CPU time of all of this process's threads (nanoseconds, summed over
/// /proc/self/task/*/schedstat: candle runs some operations on a rayon worker even with one
/// thread); zero where /proc cannot be read.
fn threads_cpu_time() -> std::time::Duration {
    let ns: u64 = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .filter_map(|task| {
            let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
            stat.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum();
    std::time::Duration::from_nanos(ns)
}

/// CPU time of the whole process (all threads), from /proc (in USER_HZ = 100 ticks).
fn process_cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    match (tick(11), tick(12)) {
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => f64::NAN,
    }
}

fn threshold_for(model: &ModelId) -> f32 {
    matcher::thresholds::for_model(model).map_or(f32::NAN, |t| t.cosine)
}

fn files_in(dir: &Path) -> matcher::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| MatcherError::Image(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    Ok(files)
}

/// Templates of a directory with one sub-directory of samples per identity; unusable
/// samples are listed in `skipped`. Returns the number of identities and the templates.
fn labelled_templates(
    engines: &mut Engines,
    dir: &Path,
    modality: Option<Modality>,
    skipped: &mut Vec<Value>,
) -> matcher::Result<(usize, Vec<(String, Template)>)> {
    let mut samples = Vec::new();
    let mut people = 0;
    for person in files_in(dir)?.into_iter().filter(|p| p.is_dir()) {
        people += 1;
        let id = person
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for file in files_in(&person)? {
            match engines.template(&file, modality) {
                Ok(t) => samples.push((id.clone(), t)),
                Err(e) if e.is_unusable_input() => skipped
                    .push(json!({"file": file.display().to_string(), "reason": e.to_string()})),
                Err(e) => return Err(e),
            }
        }
    }
    Ok((people, samples))
}

/// One image of `eval-document`: which one, and the template of its live (original) and of
/// its document version.
enum Capture {
    Live(usize, Template),
    Document(usize, Template),
}

impl Capture {
    fn parts(&self) -> (bool, usize, &Template) {
        match self {
            Capture::Live(i, t) => (false, *i, t),
            Capture::Document(i, t) => (true, *i, t),
        }
    }
}

/// Document version of image A against the live image B: scored only when one is a document
/// and the other live, and A is not B (NaN otherwise: not a pair).
fn cross_capture_score(a: &Capture, b: &Capture) -> f32 {
    let ((a_doc, a_image, a), (b_doc, b_image, b)) = (a.parts(), b.parts());
    if a_doc == b_doc || a_image == b_image {
        f32::NAN
    } else {
        a.cosine(b).unwrap_or(f32::NAN)
    }
}

fn eval_document(
    engines: &mut Engines,
    dir: &Path,
    fmr: f64,
    threshold: Option<f32>,
    folds: Option<usize>,
    seed: u64,
    save: Option<&Path>,
) -> matcher::Result<Value> {
    let mut captures: Vec<(String, Capture)> = Vec::new();
    let mut lives: Vec<(String, Template)> = Vec::new();
    let (mut people, mut images, mut skipped) = (0, 0, Vec::new());
    let (mut scales, mut doc_box_heights) = (Vec::new(), Vec::new());
    for person in files_in(dir)?.into_iter().filter(|p| p.is_dir()) {
        people += 1;
        let id = person
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for file in files_in(&person)? {
            let name = format!(
                "{id}/{}",
                file.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            );
            let mut skip = |side: &str, e: MatcherError| -> matcher::Result<()> {
                if e.is_unusable_input() {
                    skipped.push(json!({"file": file.display().to_string(), "side": side,
                                        "reason": e.to_string()}));
                    Ok(())
                } else {
                    Err(e)
                }
            };
            let img = match load_image(&file) {
                Ok(img) => img,
                Err(e) => {
                    skip("live", e)?;
                    continue;
                }
            };
            let live = match engines.face_sample(&img) {
                Ok(s) => s,
                Err(e) => {
                    skip("live", e)?;
                    continue;
                }
            };
            let face_height = live.face_box.height() as f32;
            let degradation =
                document_sim::Degradation::draw(face_height, document_sim::seed_of(&name, seed));
            let doc_img =
                document_sim::degrade(&img, &degradation, document_sim::seed_of(&name, seed))?;
            if let Some(out) = save {
                let path = out.join(&name).with_extension("png");
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| MatcherError::Image(format!("{}: {e}", parent.display())))?;
                }
                doc_img
                    .save(&path)
                    .map_err(|e| MatcherError::Image(format!("{}: {e}", path.display())))?;
            }
            let doc = match engines.face_sample(&doc_img) {
                Ok(s) => s,
                Err(e) => {
                    skip("document", e)?;
                    continue;
                }
            };
            scales.push(f64::from(degradation.scale));
            doc_box_heights.push(doc.face_box.height() as f64);
            let live_t = engines.face_template(&live)?;
            let doc_t = engines.face_template(&doc)?;
            lives.push((id.clone(), live_t.clone()));
            captures.push((id.clone(), Capture::Live(images, live_t)));
            captures.push((id.clone(), Capture::Document(images, doc_t)));
            images += 1;
        }
    }
    let scores = score_pairs(&captures, cross_capture_score);
    let op = scores.threshold_for_fmr(fmr);
    let (eer, eer_threshold) = scores.eer();
    // FMR `fmr` is observable only with at least 1/fmr impostor pairs; below that the
    // threshold is the lowest with no false match, and its 95% bound says what it supports.
    let observable = scores.impostor.len() as f64 * fmr >= 1.0;
    let cross_validation = folds.map(|k| cross_validate(&captures, k, fmr, cross_capture_score));
    let live_scores = score_pairs(&lives, |a, b| a.cosine(b).unwrap_or(f32::NAN));
    let live_op = live_scores.threshold_for_fmr(fmr);
    let quartiles = |v: &mut Vec<f64>| -> Value {
        v.sort_by(f64::total_cmp);
        let q = |f: f64| {
            v.get(((v.len() as f64 - 1.0) * f).round() as usize)
                .copied()
        };
        json!({"min": q(0.0), "q25": q(0.25), "median": q(0.5), "q75": q(0.75), "max": q(1.0)})
    };
    let mut genuine: Vec<f64> = scores.genuine.iter().map(|&s| f64::from(s)).collect();
    Ok(json!({
        "model": lives.first().map(|s| s.1.model().to_string()),
        "people": people, "images_used": images, "skipped": skipped,
        "document_scale": quartiles(&mut scales),
        "document_face_box_px": quartiles(&mut doc_box_heights),
        "pairs": "document version of image A against the live image B, A != B (both directions)",
        "genuine_pairs": scores.genuine.len(), "impostor_pairs": scores.impostor.len(),
        "target_fmr": fmr,
        "target_fmr_observable": observable,
        "threshold": op.threshold, "fmr": op.fmr, "fnmr": op.fnmr,
        "false_matches": op.false_matches, "false_non_matches": op.false_non_matches,
        "fmr_upper_95": op.fmr_upper_95, "fnmr_upper_95": op.fnmr_upper_95,
        "eer": eer, "eer_threshold": eer_threshold,
        "at_document_threshold": scores.at(matcher::thresholds::DOCUMENT_COSINE),
        "at_face_threshold": scores.at(matcher::thresholds::FACE_COSINE),
        "at_given_threshold": threshold.map(|t| scores.at(t)),
        "cross_validation": cross_validation,
        "genuine_scores": quartiles(&mut genuine),
        "impostor_max": scores.impostor.iter().copied().reduce(f32::max),
        "live_to_live": {
            "genuine_pairs": live_scores.genuine.len(), "impostor_pairs": live_scores.impostor.len(),
            "threshold": live_op.threshold, "fnmr": live_op.fnmr,
            "false_matches": live_op.false_matches, "eer": live_scores.eer().0,
        },
    }))
}

fn run(cli: Cli) -> matcher::Result<Value> {
    let mut engines = Engines {
        face: None,
        voice: None,
        face_mode: cli.face,
        pad: cli.pad,
        upsample: cli.upsample,
        detector: cli.detector,
    };
    match cli.command {
        Command::Embed { file } => {
            let t = engines.template(&file, cli.modality)?;
            Ok(json!({"model": t.model().to_string(), "dim": t.dim(), "embedding": t.embedding()}))
        }
        Command::Compare { a, b } => {
            let ta = engines.template(&a, cli.modality)?;
            let tb = engines.template(&b, cli.modality)?;
            let score = ta.cosine(&tb)?;
            let threshold = threshold_for(ta.model());
            Ok(json!({"score": score, "threshold": threshold, "match": score >= threshold}))
        }
        Command::Identify {
            probe,
            gallery,
            top,
        } => {
            let p = engines.template(&probe, cli.modality)?;
            let mut g = Gallery::new(p.model().clone(), p.dim());
            let mut skipped = Vec::new();
            for entry in files_in(&gallery)? {
                let (id, samples) = if entry.is_dir() {
                    let id = entry.file_name().map(|n| n.to_string_lossy().into_owned());
                    (id, files_in(&entry)?)
                } else {
                    let id = entry.file_stem().map(|n| n.to_string_lossy().into_owned());
                    (id, vec![entry.clone()])
                };
                let id = id.unwrap_or_default();
                for s in samples {
                    match engines.template(&s, cli.modality) {
                        Ok(t) => g.add(id.clone(), &t)?,
                        Err(e) if e.is_unusable_input() => skipped.push(
                            json!({"file": s.display().to_string(), "reason": e.to_string()}),
                        ),
                        Err(e) => return Err(e),
                    }
                }
            }
            let threshold = threshold_for(p.model());
            let hits: Vec<Value> = g
                .top_k(&p, top)?
                .into_iter()
                .map(|c| json!({"id": c.id, "score": c.score, "match": c.score >= threshold}))
                .collect();
            Ok(
                json!({"gallery_size": g.len(), "threshold": threshold, "candidates": hits, "skipped": skipped}),
            )
        }
        Command::Eval {
            dir,
            plot,
            fmr,
            threshold,
            folds,
            attacks,
        } => {
            let mut skipped = Vec::new();
            let (people, samples) =
                labelled_templates(&mut engines, &dir, cli.modality, &mut skipped)?;
            if let Some(first) = samples.first() {
                let model = first.1.model().clone();
                if let Some(other) = samples.iter().find(|s| s.1.model() != &model) {
                    return Err(MatcherError::ModelMismatch(
                        model.to_string(),
                        other.1.model().to_string(),
                    ));
                }
            }
            let scores = score_pairs(&samples, |a, b| a.cosine(b).unwrap_or(f32::NAN));
            let op = scores.threshold_for_fmr(fmr);
            let (eer, eer_threshold) = scores.eer();
            let configured = samples
                .first()
                .map(|s| threshold_for(s.1.model()))
                .filter(|t| t.is_finite())
                .map(|t| scores.at(t));
            if let Some(path) = &plot {
                draw_det(path, &scores.det_curve(), &op)?;
            }
            let cross_validation = folds
                .map(|k| cross_validate(&samples, k, fmr, |a, b| a.cosine(b).unwrap_or(f32::NAN)));
            let spoof = match &attacks {
                Some(attack_dir) => {
                    let (_, synthetic) =
                        labelled_templates(&mut engines, attack_dir, cli.modality, &mut skipped)?;
                    let at = threshold
                        .or_else(|| samples.first().map(|s| threshold_for(s.1.model())))
                        .unwrap_or(f32::NAN);
                    Some(spoof_acceptance(&samples, &synthetic, at, |a, b| {
                        a.cosine(b).unwrap_or(f32::NAN)
                    }))
                }
                None => None,
            };
            Ok(json!({
                "model": samples.first().map(|s| s.1.model().to_string()),
                "people": people, "samples": samples.len(), "skipped": skipped,
                "genuine_pairs": scores.genuine.len(), "impostor_pairs": scores.impostor.len(),
                "target_fmr": fmr,
                "threshold": op.threshold, "fmr": op.fmr, "fnmr": op.fnmr,
                "false_matches": op.false_matches, "false_non_matches": op.false_non_matches,
                "fmr_upper_95": op.fmr_upper_95, "fnmr_upper_95": op.fnmr_upper_95,
                "eer": eer, "eer_threshold": eer_threshold,
                "at_configured_threshold": configured,
                "at_given_threshold": threshold.map(|t| scores.at(t)),
                "cross_validation": cross_validation,
                "spoof": spoof,
                "genuine_min": scores.genuine.iter().copied().reduce(f32::min),
                "impostor_max": scores.impostor.iter().copied().reduce(f32::max),
            }))
        }
        Command::EvalDocument {
            dir,
            fmr,
            threshold,
            folds,
            seed,
            save,
        } => eval_document(
            &mut engines,
            &dir,
            fmr,
            threshold,
            folds,
            seed,
            save.as_deref(),
        ),
        Command::Liveness { frames } => {
            let images = read_frames(&frames)?;
            let openness = engines.face()?.sequence_openness(&images)?;
            Ok(serde_json::to_value(liveness::analyse(&openness)).unwrap_or(Value::Null))
        }
        Command::Pose { files } => {
            let face = engines.face()?;
            let mut out = Vec::new();
            for path in files {
                if path.is_dir() || matcher::video::is_video(&path) {
                    let images = read_frames(&path)?;
                    let yaws = head_turn::yaws(&face.capture_faces(&images)?);
                    out.push(json!({ "file": path.display().to_string(),
                        "turns": head_turn::analyse(&yaws), "yaw": yaws }));
                    continue;
                }
                let img = load_image(&path)?;
                let img = if cli.pad > 0.0 {
                    let side = img.width().max(img.height()) as f32;
                    pad_edges(&img, (cli.pad.clamp(0.0, 2.0) * side).round() as u32)
                } else {
                    img
                };
                out.push(
                    match face.sample(&img, FaceLocation::Detect { upsample: false }) {
                        Ok(s) => json!({ "file": path.display().to_string(),
                        "yaw": head_turn::yaw(&s.landmarks) }),
                        Err(e) if e.is_unusable_input() => {
                            json!({ "file": path.display().to_string(),
                        "skipped": e.to_string() })
                        }
                        Err(e) => return Err(e),
                    },
                );
            }
            Ok(Value::Array(out))
        }
        Command::LivenessEval { dir, frames } => {
            let face = engines.face()?;
            let mut images = Vec::new();
            for entry in files_in(&dir)? {
                if entry.is_dir() {
                    images.extend(files_in(&entry)?);
                } else {
                    images.push(entry);
                }
            }
            let location = FaceLocation::Detect { upsample: false };
            let (mut attacks, mut accepted, mut bona_fide, mut rejected) = (0, 0, 0, 0);
            let mut skipped = Vec::new();
            // Each attack sequence's lowest relative openness: how near it came to a blink.
            let mut attack_lowest = Vec::new();
            for (i, path) in images.iter().enumerate() {
                let img = load_image(path)?;
                let img = if cli.pad > 0.0 {
                    let side = img.width().max(img.height()) as f32;
                    pad_edges(&img, (cli.pad.clamp(0.0, 2.0) * side).round() as u32)
                } else {
                    img
                };
                let sample = match face.sample(&img, location) {
                    Ok(s) => s,
                    Err(e) if e.is_unusable_input() => {
                        skipped.push(
                            json!({"file": path.display().to_string(), "reason": e.to_string()}),
                        );
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let seed = i as u64 * 7919 + 1;
                let score = |seq: &[image::RgbImage]| -> matcher::Result<liveness::LivenessReport> {
                    Ok(liveness::analyse(&face.sequence_openness(seq)?))
                };
                attacks += 1;
                let report = score(&liveness::synthetic::still_photo(&img, frames, seed))?;
                if report.live {
                    accepted += 1;
                }
                let lowest = report.per_frame.iter().filter_map(|f| f.openness);
                attack_lowest.push(lowest.fold(f32::INFINITY, f32::min));
                let mut blink = liveness::synthetic::still_photo(&img, frames, seed + 1);
                let shut = liveness::synthetic::close_eyes(&img, &sample.landmarks);
                let mid = frames / 2;
                for (k, f) in liveness::synthetic::still_photo(&shut, 2, seed + 2)
                    .into_iter()
                    .enumerate()
                {
                    if let Some(slot) = blink.get_mut(mid + k) {
                        *slot = f;
                    }
                }
                bona_fide += 1;
                if !score(&blink)?.live {
                    rejected += 1;
                }
            }
            attack_lowest.sort_by(f32::total_cmp);
            attack_lowest.truncate(10);
            Ok(json!({
                "frames_per_sequence": frames,
                "attack_sequences": attacks, "attacks_accepted": accepted,
                "apcer": accepted as f64 / attacks.max(1) as f64,
                "apcer_upper_95": upper_bound_95(accepted, attacks),
                "attack_lowest_openness": attack_lowest,
                "synthetic_blink_sequences": bona_fide, "synthetic_blinks_rejected": rejected,
                "bpcer_synthetic": rejected as f64 / bona_fide.max(1) as f64,
                "skipped": skipped,
            }))
        }
        Command::SynthVideo {
            image,
            out,
            fps,
            frames,
            closed,
            left,
            right,
            degrees,
            width,
            height,
            frames_dir,
        } => {
            use matcher::liveness::synthetic;
            let face = engines.face()?;
            let img = fit_on_canvas(&load_image(&image)?, width, height);
            let sample = face.sample(&img, FaceLocation::Detect { upsample: false })?;
            let mut video = synthetic::still_photo(&img, frames, 7);
            let changed = [
                (synthetic::close_eyes(&img, &sample.landmarks), &closed, 11),
                (
                    synthetic::turn_head(&img, &sample.landmarks, degrees),
                    &left,
                    13,
                ),
                (
                    synthetic::turn_head(&img, &sample.landmarks, -degrees),
                    &right,
                    17,
                ),
            ];
            for (picture, at, seed) in changed {
                let jittered = synthetic::still_photo(&picture, frames, seed);
                for &i in at.iter().filter(|&&i| i < frames) {
                    video[i] = jittered[i].clone();
                }
            }
            std::fs::write(&out, matcher::video::write_y4m(&video, fps))
                .map_err(|e| MatcherError::Image(format!("{}: {e}", out.display())))?;
            if let Some(dir) = frames_dir {
                for (i, f) in video.iter().enumerate() {
                    let path = dir.join(format!("{i}.png"));
                    f.save(&path)
                        .map_err(|e| MatcherError::Image(format!("{}: {e}", path.display())))?;
                }
            }
            Ok(
                json!({ "frames": frames, "fps": fps, "closed": closed, "left": left, "right": right,
                        "width": width, "height": height }),
            )
        }
        Command::BenchEmbed { image, audio, runs } => {
            let start = Instant::now();
            let detector = engines.detector;
            let face = engines.face()?;
            let load_s = start.elapsed().as_secs_f64();
            let img = load_image(&image)?;
            let mut detect_ms = Vec::new();
            let mut total_ms = Vec::new();
            let mut eyes_ms = Vec::new();
            let (mut detect_cpu, mut total_cpu) = (Vec::new(), Vec::new());
            let cpu_ms = |from: std::time::Duration| {
                threads_cpu_time().saturating_sub(from).as_secs_f64() * 1e3
            };
            // A frame's landmarks come from BlazeFace's box the way a capture's do.
            let location = |b| match detector {
                Detector::Mmod => FaceLocation::Box(b),
                Detector::Blazeface => FaceLocation::FrameBox(b),
            };
            for _ in 0..runs.max(1) {
                let t = Instant::now();
                let cpu = threads_cpu_time();
                let b = match detector {
                    Detector::Mmod => face.locate_one(&img, false)?,
                    Detector::Blazeface => face.locate_in_frame(&img)?,
                };
                detect_ms.push(t.elapsed().as_secs_f64() * 1e3);
                detect_cpu.push(cpu_ms(cpu));
                std::hint::black_box(face.template(&img, location(b))?);
                total_ms.push(t.elapsed().as_secs_f64() * 1e3);
                total_cpu.push(cpu_ms(cpu));
                let landmarks = face.sample(&img, location(b))?.landmarks;
                let t = Instant::now();
                std::hint::black_box(face.eye_openness(&img, &landmarks)?);
                eyes_ms.push(t.elapsed().as_secs_f64() * 1e3);
            }
            let mut out = json!({
                "image": image.display().to_string(),
                "width": img.width(), "height": img.height(),
                "detector": if detector == Detector::Mmod { "mmod" } else { "blazeface" },
                "face_models_load_s": load_s,
                "detect_ms_median": median(&mut detect_ms),
                "detect_landmarks_align_embed_ms_median": median(&mut total_ms),
                "detect_cpu_ms_median": median(&mut detect_cpu),
                "detect_landmarks_align_embed_cpu_ms_median": median(&mut total_cpu),
                "eye_crops_and_lids_ms_median": median(&mut eyes_ms),
            });
            if let Some(audio) = audio {
                let a = read_audio(&audio)?;
                let voice = VoicePipeline::load(&ModelStore::from_env())?;
                let wav = voice.preprocess(&a)?;
                let three_s: Vec<f32> = wav.iter().copied().cycle().take(48_000).collect();
                let mut ms = Vec::new();
                for _ in 0..runs.max(1) {
                    let t = Instant::now();
                    std::hint::black_box(voice.embed_preprocessed(&three_s)?);
                    ms.push(t.elapsed().as_secs_f64() * 1e3);
                }
                out["voice_embed_3s_ms_median"] = json!(median(&mut ms));
            }
            out["peak_rss_mib"] = json!(peak_rss_mib());
            Ok(out)
        }
        Command::BenchCapture { frames, runs } => bench_capture(engines.face()?, &frames, runs),
        Command::BoxFit {
            inputs,
            every,
            details,
        } => box_fit(
            engines.face()?,
            &inputs,
            (every.max(1), details),
            cli.pad,
            cli.upsample,
        ),
        Command::BenchSearch {
            templates,
            dim,
            queries,
            top,
        } => {
            let model = ModelId::new("synthetic", 1);
            let start = Instant::now();
            let mut g = Gallery::with_capacity(model.clone(), dim, templates);
            // Generate in blocks to keep the temporary templates small.
            let mut seed = 1u64;
            while g.len() < templates {
                let n = (templates - g.len()).min(100_000);
                for t in synthetic_templates(&model, dim, n, seed) {
                    g.add(format!("t{}", g.len()), &t)?;
                }
                seed += 1;
            }
            let build_s = start.elapsed().as_secs_f64();
            let probes = synthetic_templates(&model, dim, queries, 12345);
            let mut times = Vec::with_capacity(queries);
            for p in &probes {
                let t = Instant::now();
                let hits = g.top_k(p, top)?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
                std::hint::black_box(hits);
            }
            times.sort_by(f64::total_cmp);
            let median = times.get(times.len() / 2).copied().unwrap_or(f64::NAN);
            let max = times.last().copied().unwrap_or(f64::NAN);
            Ok(json!({
                "templates": g.len(), "dim": dim, "top": top, "queries": queries,
                "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
                "build_seconds": build_s, "search_ms_median": median, "search_ms_max": max,
                // f32 rows, 8-bit codes, and a scale and an L1 norm per row.
                "gallery_bytes": g.len() * (dim * 5 + 8),
                "peak_rss_mib": peak_rss_mib(),
            }))
        }
    }
}

/// A DET curve on log axes; zero rates are drawn at the axis floor.
fn draw_det(path: &Path, curve: &[(f64, f64)], op: &OperatingPoint) -> matcher::Result<()> {
    use plotters::prelude::*;
    let err = |e: &dyn std::fmt::Display| MatcherError::Image(format!("{}: {e}", path.display()));
    let has_font = register_font();
    let floor = 1e-4;
    let root = BitMapBackend::new(path, (720, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(60);
    if has_font {
        builder.caption("DET curve", ("sans-serif", 24));
    }
    let mut chart = builder
        .build_cartesian_2d((floor..1.0f64).log_scale(), (floor..1.0f64).log_scale())
        .map_err(|e| err(&e))?;
    let mut mesh = chart.configure_mesh();
    if has_font {
        mesh.x_desc("FMR (false match rate)")
            .y_desc("FNMR (false non-match rate)");
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw().map_err(|e| err(&e))?;
    let clamp = |v: f64| v.max(floor);
    chart
        .draw_series(LineSeries::new(
            curve.iter().map(|&(x, y)| (clamp(x), clamp(y))),
            BLUE.stroke_width(2),
        ))
        .map_err(|e| err(&e))?;
    chart
        .draw_series(std::iter::once(Circle::new(
            (clamp(op.fmr), clamp(op.fnmr)),
            6,
            RED.filled(),
        )))
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// Gives plotters a font for its labels: DejaVu Sans from the system, if installed.
fn register_font() -> bool {
    const CANDIDATES: [&str; 2] = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    ];
    CANDIDATES.iter().any(|p| match std::fs::read(p) {
        Ok(bytes) => plotters::style::register_font(
            "sans-serif",
            plotters::style::FontStyle::Normal,
            Box::leak(bytes.into_boxed_slice()),
        )
        .is_ok(),
        Err(_) => false,
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Peak resident memory of this process (Linux), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            if e.is_unusable_input() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The image scaled to fit `width` x `height` (keeping its proportions), centred on a grey
/// canvas of that size.
fn fit_on_canvas(img: &image::RgbImage, width: u32, height: u32) -> image::RgbImage {
    let scale = (f64::from(width) / f64::from(img.width()))
        .min(f64::from(height) / f64::from(img.height()));
    let (w, h) = (
        ((f64::from(img.width()) * scale).round() as u32).max(1),
        ((f64::from(img.height()) * scale).round() as u32).max(1),
    );
    let small = image::imageops::resize(img, w, h, image::imageops::FilterType::Triangle);
    let mut canvas = image::RgbImage::from_pixel(width, height, image::Rgb([128, 128, 128]));
    image::imageops::overlay(
        &mut canvas,
        &small,
        i64::from((width - w) / 2),
        i64::from((height - h) / 2),
    );
    canvas
}
