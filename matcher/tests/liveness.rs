//! Liveness end to end on frame sequences made from a committed photograph: a held-up still
//! photo must fail; a (synthetic) blink must pass.

use std::path::Path;

use matcher::face::{FaceLocation, FacePipeline, load_image};
use matcher::liveness::{analyse, synthetic};
use matcher::models::ModelStore;

const DETECT: FaceLocation = FaceLocation::Detect { upsample: false };

fn run(p: &FacePipeline, frames: &[image::RgbImage]) -> matcher::liveness::LivenessReport {
    analyse(&p.sequence_openness(frames).unwrap())
}

#[test]
fn still_photo_fails_and_a_blink_passes() {
    let p = FacePipeline::load(&ModelStore::from_env()).unwrap();
    let img = load_image(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/obama.png"))
        .unwrap();
    let still = synthetic::still_photo(&img, 14, 7);
    let report = run(&p, &still);
    println!("still: {report:?}");
    assert_eq!(report.frames_with_face, 14);
    assert!(!report.live);
    assert_eq!(report.blinks, 0);

    let sample = p.sample(&img, DETECT).unwrap();
    let closed = synthetic::close_eyes(&img, &sample.landmarks);
    let mut frames = synthetic::still_photo(&img, 14, 9);
    let shut = synthetic::still_photo(&closed, 2, 11);
    frames[6] = shut[0].clone();
    frames[7] = shut[1].clone();
    let report = run(&p, &frames);
    println!("blink: {:?}", report.per_frame);
    assert_eq!(report.blinks, 1, "{report:?}");
    assert!(report.live);
    assert!(report.per_frame[6].eyes_closed && report.per_frame[7].eyes_closed);
}
