//! Numerical faithfulness against dlib 20.0.1 (fixtures made by convert/make_golden.py), the
//! TFLite runtime running MediaPipe's iris network (convert/make_iris_golden.py), and the TFLite
//! runtime and MediaPipe itself running the short-range face detector
//! (convert/make_blazeface_golden.py).

use std::path::{Path, PathBuf};

use matcher::face::align::{DEFAULT_PADDING, face_chip};
use matcher::face::blazeface::{FrameDetector, Letterbox};
use matcher::face::detect::FaceDetector;
use matcher::face::embed::FaceEmbedder;
use matcher::face::eyes::{EyeLandmarker, eye_crops};
use matcher::face::landmarks::{FaceBox, ShapePredictor};
use matcher::face::load_image;
use matcher::models::ModelStore;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("golden.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn face_box(case: &Value) -> FaceBox {
    let r: Vec<i64> = floats(&case["rect"]).iter().map(|&x| x as i64).collect();
    FaceBox {
        left: r[0],
        top: r[1],
        right: r[2],
        bottom: r[3],
    }
}

#[test]
fn resnet_reproduces_dlib_descriptors_within_1e4() {
    let embedder = FaceEmbedder::load(&ModelStore::from_env()).unwrap();
    let cases = cases();
    let chips: Vec<_> = cases
        .iter()
        .map(|c| load_image(&fixtures().join(c["chip"].as_str().unwrap())).unwrap())
        .collect();
    let refs: Vec<_> = chips.iter().collect();
    let got = embedder.raw_descriptors(&refs).unwrap();
    let mut worst = 0f64;
    for (case, desc) in cases.iter().zip(&got) {
        let want = floats(&case["chip_embedding"]);
        assert_eq!(desc.len(), want.len());
        for (g, w) in desc.iter().zip(&want) {
            worst = worst.max((f64::from(*g) - w).abs());
        }
    }
    println!("max abs diff vs dlib: {worst:e}");
    assert!(worst < 1e-4, "max abs diff {worst}");
}

#[test]
fn shape_predictor_reproduces_dlib_landmarks() {
    let sp = ShapePredictor::load(&ModelStore::from_env()).unwrap();
    for case in cases() {
        let img = load_image(&fixtures().join(case["image"].as_str().unwrap())).unwrap();
        let got = sp.predict(&img, face_box(&case));
        let want: Vec<Vec<f64>> = case["landmarks"]
            .as_array()
            .unwrap()
            .iter()
            .map(floats)
            .collect();
        for (g, w) in got.iter().zip(&want) {
            // dlib rounds to whole pixels; the same arithmetic gives the same pixels.
            assert!(
                g[0] as f64 == w[0] && g[1] as f64 == w[1],
                "{}: {got:?} vs {want:?}",
                case["name"]
            );
        }
    }
}

#[test]
fn chip_reproduces_dlib_get_face_chip() {
    for case in cases() {
        let img = load_image(&fixtures().join(case["image"].as_str().unwrap())).unwrap();
        let want = load_image(&fixtures().join(case["chip"].as_str().unwrap())).unwrap();
        let lm: Vec<[i64; 2]> = case["landmarks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let p = floats(p);
                [p[0] as i64, p[1] as i64]
            })
            .collect();
        let lm: [[i64; 2]; 5] = lm.try_into().unwrap();
        let got = face_chip(&img, &lm, 150, DEFAULT_PADDING);
        let mut worst = 0i32;
        let mut off = 0usize;
        for (g, w) in got.pixels().zip(want.pixels()) {
            for c in 0..3 {
                let d = (i32::from(g.0[c]) - i32::from(w.0[c])).abs();
                worst = worst.max(d);
                off += usize::from(d > 0);
            }
        }
        println!(
            "{}: max pixel diff {worst}, {off} values differ",
            case["name"]
        );
        assert!(worst <= 1, "{}: max pixel diff {worst}", case["name"]);
    }
}

fn iou(a: &FaceBox, b: &[f64]) -> f64 {
    let (l, t, r, btm) = (
        (a.left as f64).max(b[0]),
        (a.top as f64).max(b[1]),
        (a.right as f64).min(b[2]),
        (a.bottom as f64).min(b[3]),
    );
    let inter = ((r - l + 1.0).max(0.0)) * ((btm - t + 1.0).max(0.0));
    let area_b = (b[2] - b[0] + 1.0) * (b[3] - b[1] + 1.0);
    inter / ((a.width() * a.height()) as f64 + area_b - inter)
}

#[test]
fn cnn_detector_finds_dlibs_boxes() {
    let detector = FaceDetector::load(&ModelStore::from_env()).unwrap();
    for case in cases() {
        let img = load_image(&fixtures().join(case["image"].as_str().unwrap())).unwrap();
        let got = detector.detect(&img, false).unwrap();
        let want: Vec<Vec<f64>> = case["mmod_detections"]
            .as_array()
            .unwrap()
            .iter()
            .map(floats)
            .collect();
        assert_eq!(
            got.len(),
            want.len(),
            "{}: {got:?} vs {want:?}",
            case["name"]
        );
        for (g, w) in got.iter().zip(&want) {
            let overlap = iou(&g.face_box, w);
            println!(
                "{}: {:?} conf {:.3} vs dlib {:?}, IoU {overlap:.3}",
                case["name"], g.face_box, g.confidence, w
            );
            let b = &g.face_box;
            assert_eq!(
                [b.left, b.top, b.right, b.bottom],
                [w[0] as i64, w[1] as i64, w[2] as i64, w[3] as i64],
                "{}",
                case["name"]
            );
            assert!(
                (f64::from(g.confidence) - w[4]).abs() < 1e-3,
                "{}",
                case["name"]
            );
        }
    }
}

#[test]
fn chip_of_a_large_face_goes_through_dlibs_pyramid() {
    let text = std::fs::read_to_string(fixtures().join("golden.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let cases = v["large_chip_cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let small = load_image(&fixtures().join(case["image"].as_str().unwrap())).unwrap();
        let k = case["repeat"].as_u64().unwrap() as u32;
        // Pixel repetition, exactly as numpy's repeat in make_golden.py.
        let img = image::RgbImage::from_fn(small.width() * k, small.height() * k, |x, y| {
            *small.get_pixel(x / k, y / k)
        });
        let want = load_image(&fixtures().join(case["chip"].as_str().unwrap())).unwrap();
        let lm: Vec<[i64; 2]> = case["landmarks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let p = floats(p);
                [p[0] as i64, p[1] as i64]
            })
            .collect();
        let got = face_chip(&img, &lm.try_into().unwrap(), 150, DEFAULT_PADDING);
        let differ = got
            .pixels()
            .zip(want.pixels())
            .flat_map(|(g, w)| (0..3).map(move |c| (i32::from(g.0[c]) - i32::from(w.0[c])).abs()))
            .filter(|&d| d > 0)
            .count();
        println!("{}: {differ} values differ", case["chip"]);
        assert_eq!(differ, 0, "{}", case["chip"]);
    }
}

#[test]
fn eye_crops_and_iris_network_reproduce_tflite() {
    let text = std::fs::read_to_string(fixtures().join("iris_golden.json")).unwrap();
    let golden: Value = serde_json::from_str(&text).unwrap();
    let landmarker = EyeLandmarker::load(&ModelStore::from_env()).unwrap();
    let faces = cases();
    let (mut worst_pixel, mut worst_out) = (0i32, 0f64);
    for case in golden["cases"].as_array().unwrap() {
        let face = faces.iter().find(|f| f["image"] == case["image"]).unwrap();
        let lm: Vec<f64> = face["landmarks"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(floats)
            .collect();
        let landmarks: [[i64; 2]; 5] =
            std::array::from_fn(|i| [lm[2 * i] as i64, lm[2 * i + 1] as i64]);
        let img = load_image(&fixtures().join(case["image"].as_str().unwrap())).unwrap();
        let crops = eye_crops(&img, &landmarks, 4.0).unwrap();
        let stored = load_image(&fixtures().join(case["crop"].as_str().unwrap())).unwrap();
        let ours = &crops[case["eye"].as_u64().unwrap() as usize];
        for (a, b) in ours.pixels().zip(stored.pixels()) {
            for c in 0..3 {
                worst_pixel = worst_pixel.max((i32::from(a.0[c]) - i32::from(b.0[c])).abs());
            }
        }
        // The network on the stored crop, against the TFLite runtime, in crop-side units.
        let out = landmarker.raw(&[&stored]).unwrap();
        // The contour-only path liveness uses gives the same points.
        let contour = landmarker.contours(&[&stored]).unwrap();
        for (i, p) in contour[0].iter().enumerate() {
            assert_eq!(p[0], out.contour[0][3 * i] / 64.0);
            assert_eq!(p[1], out.contour[0][3 * i + 1] / 64.0);
        }
        for (got, key) in [(&out.contour[0], "contour"), (&out.iris[0], "iris")] {
            let want = floats(&case[key]);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                worst_out = worst_out.max((f64::from(*g) - w).abs() / 64.0);
            }
        }
    }
    println!("eye crops: max pixel diff {worst_pixel}; iris network: max abs diff {worst_out:e}");
    assert!(
        worst_pixel <= 1,
        "crop differs by {worst_pixel} grey levels"
    );
    assert!(worst_out < 1e-4, "max abs diff {worst_out}");
}

#[test]
fn blazeface_reproduces_tflite_and_mediapipe() {
    let text = std::fs::read_to_string(fixtures().join("blazeface_golden.json")).unwrap();
    let golden: Value = serde_json::from_str(&text).unwrap();
    let detector = FrameDetector::load(&ModelStore::from_env()).unwrap();
    let (mut worst_pixel, mut worst_logit, mut worst_reg) = (0i32, 0f64, 0f64);
    let (mut worst_box, mut worst_score) = (0f64, 0f64);
    for case in golden["cases"].as_array().unwrap() {
        let name = case["image"].as_str().unwrap();
        let img = load_image(&fixtures().join(name)).unwrap();
        // Pre-processing: our letterboxed input against OpenCV's, in grey levels.
        let stored = load_image(&fixtures().join(case["input"].as_str().unwrap())).unwrap();
        let ours = Letterbox::of(img.width(), img.height()).input(&img);
        let mut case_worst = 0;
        for (a, b) in ours.pixels().zip(stored.pixels()) {
            for c in 0..3 {
                case_worst = case_worst.max((i32::from(a.0[c]) - i32::from(b.0[c])).abs());
            }
        }
        // A 640x480 frame samples whole pixels: identical. Elsewhere OpenCV rounds positions
        // halfway between its 1/32-pixel grid points either way (see `Letterbox::input`).
        if img.width().max(img.height()).is_multiple_of(128) {
            assert_eq!(case_worst, 0, "{name}: letterboxed input differs");
        }
        worst_pixel = worst_pixel.max(case_worst);
        // The network on OpenCV's input against the TFLite runtime: every logit (relative to its
        // size where it exceeds 1), and the 16 regression values of the best anchors in units
        // of the input side.
        let raw = detector.raw(&[&stored]).unwrap();
        let (logits, regressors) = &raw[0];
        let want = floats(&case["logits"]);
        assert_eq!(logits.len(), want.len());
        // Far-off anchors reach logits of -600: relative error there, absolute near 0.
        for (g, w) in logits.iter().zip(&want) {
            worst_logit = worst_logit.max((f64::from(*g) - w).abs() / w.abs().max(1.0));
        }
        for top in case["top"].as_array().unwrap() {
            let i = top["anchor"].as_u64().unwrap() as usize;
            for (g, w) in regressors[16 * i..16 * i + 16]
                .iter()
                .zip(floats(&top["regressors"]))
            {
                worst_reg = worst_reg.max((f64::from(*g) - w).abs() / 128.0);
            }
        }
        // Anchors, decoding, weighted NMS and letterbox removal against MediaPipe's own face
        // detection on the image, relative to the image size.
        let found = detector.detect(&[&img]).unwrap().remove(0);
        let want = case["mediapipe"].as_array().unwrap();
        assert_eq!(found.len(), want.len(), "{name}: {found:?}");
        let (w, h) = (f64::from(img.width()), f64::from(img.height()));
        for (d, m) in found.iter().zip(want) {
            let b = floats(&m["box"]);
            let ours = [
                f64::from(d.xmin) / w,
                f64::from(d.ymin) / h,
                f64::from(d.xmax - d.xmin) / w,
                f64::from(d.ymax - d.ymin) / h,
            ];
            let mut diffs: Vec<f64> = ours.iter().zip(&b).map(|(o, m)| (o - m).abs()).collect();
            for (k, p) in m["keypoints"].as_array().unwrap().iter().enumerate() {
                let p = floats(p);
                diffs.push((f64::from(d.keypoints[k][0]) / w - p[0]).abs());
                diffs.push((f64::from(d.keypoints[k][1]) / h - p[1]).abs());
            }
            worst_box = diffs.into_iter().fold(worst_box, f64::max);
            worst_score =
                worst_score.max((f64::from(d.score) - m["score"].as_f64().unwrap()).abs());
        }
    }
    println!(
        "blazeface: input max pixel diff {worst_pixel}; logits max diff {worst_logit:e}, \
         regressors {worst_reg:e} of the input side; detections vs MediaPipe: box and \
         keypoints {worst_box:e} of the image size, score {worst_score:e}"
    );
    assert!(
        worst_pixel <= 3,
        "input differs by {worst_pixel} grey levels"
    );
    assert!(worst_logit < 1e-4, "logit diff {worst_logit}");
    assert!(worst_reg < 1e-5, "regressor diff {worst_reg}");
    assert!(worst_box < 1e-3, "box diff {worst_box}");
    assert!(worst_score < 1e-3, "score diff {worst_score}");
}
