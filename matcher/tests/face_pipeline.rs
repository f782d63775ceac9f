//! The face pipeline end to end: acceptance, the rejection reasons, and the error rates on
//! the shared labelled crops (which must be present: this test fails if they are missing).

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use matcher::MatcherError;
use matcher::eval::score_pairs;
use matcher::face::landmarks::FaceBox;
use matcher::face::{FaceLocation, FacePipeline, load_image};
use matcher::models::ModelStore;

fn fixture(name: &str) -> RgbImage {
    load_image(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn pipeline() -> FacePipeline {
    FacePipeline::load(&ModelStore::from_env()).unwrap()
}

const DETECT: FaceLocation = FaceLocation::Detect { upsample: false };
// The HOG box dlib found in obama.png (golden.json).
const OBAMA_BOX: FaceBox = FaceBox {
    left: 126,
    top: 46,
    right: 215,
    bottom: 136,
};

#[test]
fn same_person_scores_above_different_people() {
    let p = pipeline();
    let obama = p.template(&fixture("obama.png"), DETECT).unwrap();
    let obama2 = p.template(&fixture("obama2.png"), DETECT).unwrap();
    let biden = p.template(&fixture("biden.png"), DETECT).unwrap();
    let same = obama.cosine(&obama2).unwrap();
    let diff = obama.cosine(&biden).unwrap();
    println!("obama/obama2 {same:.4}, obama/biden {diff:.4}");
    let threshold = matcher::thresholds::FACE_COSINE;
    assert!(same >= threshold, "{same}");
    assert!(diff < threshold, "{diff}");
}

#[test]
fn a_template_is_the_same_for_a_chip_and_its_mirror_image() {
    // Version 2 templates sum the descriptors of the chip and of its mirror image, so they
    // cannot tell the two apart; a single descriptor can.
    let p = pipeline();
    let chip = p.sample(&fixture("obama.png"), DETECT).unwrap().chip;
    let mirror = image::imageops::flip_horizontal(&chip);
    let t = p.embedder().embed_chips(&[&chip, &mirror]).unwrap();
    assert_eq!(t[0].model().to_string(), "dlib-resnet-v1@2");
    assert!(t[0].cosine(&t[1]).unwrap() > 0.999_999);
    let d = p.embedder().raw_descriptors(&[&chip, &mirror]).unwrap();
    let dot: f32 = d[0].iter().zip(&d[1]).map(|(a, b)| a * b).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!(dot / (norm(&d[0]) * norm(&d[1])) < 0.999);
}

#[test]
fn rejects_an_image_without_a_face() {
    let blank = RgbImage::from_pixel(240, 200, Rgb([128, 120, 110]));
    let p = pipeline();
    let err = p.template(&blank, DETECT).unwrap_err();
    assert!(matches!(err, MatcherError::NoFace), "{err}");
    assert!(err.is_unusable_input());
    let tiny = RgbImage::from_pixel(3, 2, Rgb([1, 2, 3]));
    assert!(matches!(
        p.template(&tiny, DETECT),
        Err(MatcherError::NoFace)
    ));
}

#[test]
fn rejects_an_image_with_two_faces() {
    let (a, b) = (fixture("obama.png"), fixture("biden.png"));
    let mut both = RgbImage::new(a.width() + b.width(), a.height().max(b.height()));
    image::imageops::replace(&mut both, &a, 0, 0);
    image::imageops::replace(&mut both, &b, i64::from(a.width()), 0);
    let err = pipeline().template(&both, DETECT).unwrap_err();
    assert!(matches!(err, MatcherError::SeveralFaces(2)), "{err}");
}

#[test]
fn rejects_a_too_small_face() {
    let tiny = image::imageops::resize(
        &fixture("obama_chip.png"),
        30,
        30,
        image::imageops::FilterType::Triangle,
    );
    let err = pipeline()
        .template(&tiny, FaceLocation::WholeImage { pad: 0.0 })
        .unwrap_err();
    assert!(
        matches!(err, MatcherError::FaceTooSmall { size: 30, .. }),
        "{err}"
    );
}

#[test]
fn rejects_dark_and_blurred_faces() {
    let p = pipeline();
    let img = fixture("obama.png");
    assert!(p.template(&img, FaceLocation::Box(OBAMA_BOX)).is_ok());
    let mut dark = img.clone();
    for px in dark.pixels_mut() {
        px.0 = px.0.map(|v| v / 6);
    }
    let err = p.template(&dark, FaceLocation::Box(OBAMA_BOX)).unwrap_err();
    assert!(matches!(err, MatcherError::TooDark { .. }), "{err}");
    let blurred = image::imageops::blur(&img, 3.0);
    let err = p
        .template(&blurred, FaceLocation::Box(OBAMA_BOX))
        .unwrap_err();
    assert!(matches!(err, MatcherError::TooBlurred { .. }), "{err}");
}

fn shared_faces() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/faces-labelled");
    assert!(
        dir.is_dir(),
        "shared test data missing: {} (see shared/data/README.md)",
        dir.display()
    );
    dir
}

#[test]
fn labelled_crops_separate_people() {
    let p = pipeline();
    let mut samples = Vec::new();
    let mut people: Vec<_> = std::fs::read_dir(shared_faces())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    people.sort();
    for person in people {
        let id = person.file_name().unwrap().to_string_lossy().into_owned();
        for f in std::fs::read_dir(&person).unwrap() {
            let img = load_image(&f.unwrap().path()).unwrap();
            let t = p
                .template(&img, FaceLocation::WholeImage { pad: 0.25 })
                .unwrap();
            samples.push((id.clone(), t));
        }
    }
    assert_eq!(samples.len(), 40);
    let scores = score_pairs(&samples, |a, b| a.cosine(b).unwrap());
    assert_eq!((scores.genuine.len(), scores.impostor.len()), (80, 700));
    let (eer, _) = scores.eer();
    let op = scores.threshold_for_fmr(1e-4);
    println!(
        "EER {eer:.4}; no false match at {:.4}: FNMR {:.4}",
        op.threshold, op.fnmr
    );
    assert!(eer < 0.05, "EER {eer}");
    assert_eq!(op.false_matches, 0);
    assert!(op.fnmr < 0.10, "FNMR {}", op.fnmr);

    // Cancellable templates: the same 780 pairs scored after a secret orthogonal transform
    // give the same scores, so the same decisions at every threshold.
    let q = matcher::cancellable::Transform::from_secret(b"a deployment's secret", 128);
    let protected: Vec<_> = samples
        .iter()
        .map(|(id, t)| (id.clone(), q.apply(t).unwrap()))
        .collect();
    let after = score_pairs(&protected, |a, b| a.cosine(b).unwrap());
    let moved = scores
        .genuine
        .iter()
        .zip(&after.genuine)
        .chain(scores.impostor.iter().zip(&after.impostor))
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    println!("cosines move by at most {moved:e} under the transform");
    assert!(moved < 1e-5, "{moved}");
    let op_after = after.threshold_for_fmr(1e-4);
    assert_eq!(
        (op_after.false_matches, op_after.false_non_matches),
        (op.false_matches, op.false_non_matches)
    );
}

/// A capture frame's face, found by BlazeFace and its box mapped onto MMOD's, gives nearly the
/// landmarks and the template that MMOD's box gives, so templates and the threshold stay
/// valid; two faces in a frame are refused.
#[test]
fn frame_detector_path_agrees_with_mmod() {
    let p = pipeline();
    for name in [
        "obama.png",
        "obama2.png",
        "biden.png",
        "capture_one_face.png",
    ] {
        let img = fixture(name);
        let frame = p.sample(&img, FaceLocation::Frame).unwrap();
        let still = p.sample(&img, DETECT).unwrap();
        let eyes = |l: &[[i64; 2]; 5]| {
            let (a, b) = (
                [
                    (l[0][0] + l[1][0]) as f64 / 2.0,
                    (l[0][1] + l[1][1]) as f64 / 2.0,
                ],
                [
                    (l[2][0] + l[3][0]) as f64 / 2.0,
                    (l[2][1] + l[3][1]) as f64 / 2.0,
                ],
            );
            (a[0] - b[0]).hypot(a[1] - b[1])
        };
        let worst = frame
            .landmarks
            .iter()
            .zip(&still.landmarks)
            .map(|(a, b)| ((a[0] - b[0]) as f64).hypot((a[1] - b[1]) as f64))
            .fold(0.0, f64::max);
        let relative = worst / eyes(&still.landmarks);
        let t_frame = p.template(&img, FaceLocation::Frame).unwrap();
        let t_still = p.template(&img, DETECT).unwrap();
        let cosine = t_frame.cosine(&t_still).unwrap();
        println!("{name}: landmarks {relative:.3} of the eye distance apart, cosine {cosine:.4}");
        assert!(relative < 0.08, "{name}: landmarks {relative} apart");
        assert!(cosine > 0.995, "{name}: cosine {cosine}");
    }
    let two = fixture("capture_two_faces.png");
    assert!(matches!(
        p.sample(&two, FaceLocation::Frame),
        Err(MatcherError::SeveralFaces(2))
    ));
}
