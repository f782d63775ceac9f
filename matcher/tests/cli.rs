//! The `matcher` binary: JSON on stdout, non-zero exit and one line on stderr otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn run(args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_matcher"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json, stderr)
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("matcher-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn embed_prints_model_dim_and_unit_embedding() {
    let (code, v, _) = run(&["embed", fixture("obama.png").to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(v["model"], "dlib-resnet-v1@2");
    assert_eq!(v["dim"], 128);
    let e: Vec<f64> = v["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let norm: f64 = e.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);
}

#[test]
fn compare_decides_with_the_calibrated_threshold() {
    let (code, v, _) = run(&[
        "compare",
        fixture("obama.png").to_str().unwrap(),
        fixture("obama2.png").to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["match"], true);
    let calibrated = f64::from(matcher::thresholds::FACE_COSINE);
    assert!((v["threshold"].as_f64().unwrap() - calibrated).abs() < 1e-6);
    let (_, v, _) = run(&[
        "compare",
        fixture("obama.png").to_str().unwrap(),
        fixture("biden.png").to_str().unwrap(),
    ]);
    assert_eq!(v["match"], false);
}

#[test]
fn unusable_input_exits_non_zero_with_one_line() {
    let dir = temp_dir("blank");
    let blank = dir.join("blank.png");
    image::RgbImage::from_pixel(200, 200, image::Rgb([90, 90, 90]))
        .save(&blank)
        .unwrap();
    let (code, v, stderr) = run(&["embed", blank.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(v, Value::Null);
    assert_eq!(stderr.trim(), "no face found");
    let (code, _, stderr) = run(&["embed", dir.join("missing.png").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(stderr.trim().lines().count(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn identify_and_eval_over_directories() {
    let dir = temp_dir("gallery");
    for (person, file) in [
        ("obama", "obama.png"),
        ("obama", "obama2.png"),
        ("biden", "biden.png"),
    ] {
        std::fs::create_dir_all(dir.join(person)).unwrap();
        std::fs::copy(fixture(file), dir.join(person).join(file)).unwrap();
    }
    let (code, v, _) = run(&[
        "identify",
        fixture("obama2.png").to_str().unwrap(),
        dir.to_str().unwrap(),
        "--top",
        "2",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["gallery_size"], 3);
    assert_eq!(v["candidates"][0]["id"], "obama");
    assert_eq!(v["candidates"].as_array().unwrap().len(), 2);

    let plot = dir.join("det.png");
    let (code, v, _) = run(&[
        "eval",
        dir.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["genuine_pairs"], 1);
    assert_eq!(v["impostor_pairs"], 2);
    assert_eq!(v["fnmr"], 0.0);
    // Two impostor pairs support no better than FMR <= 78% at 95% confidence.
    assert!(v["fmr_upper_95"].as_f64().unwrap() > 0.7);
    assert!(image::open(&plot).unwrap().width() > 100);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bench_search_prints_figures() {
    let (code, v, _) = run(&["bench-search", "--templates", "20000", "--queries", "3"]);
    assert_eq!(code, 0);
    assert_eq!(v["templates"], 20000);
    assert!(v["search_ms_median"].as_f64().unwrap() > 0.0);
}

#[test]
fn liveness_of_a_held_up_photo_is_refused() {
    let dir = temp_dir("frames");
    let img = image::open(fixture("biden.png")).unwrap().to_rgb8();
    for (i, f) in matcher::liveness::synthetic::still_photo(&img, 10, 3)
        .iter()
        .enumerate()
    {
        f.save(dir.join(format!("{i:03}.png"))).unwrap();
    }
    let (code, v, _) = run(&["liveness", dir.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(v["live"], false);
    assert_eq!(v["blinks"], 0);
    assert_eq!(v["frames_with_face"], 10);
    assert_eq!(v["per_frame"].as_array().unwrap().len(), 10);
    // The same sequence as a video file (what Chromium's fake camera plays).
    let frames = matcher::liveness::synthetic::still_photo(&img, 10, 3);
    let video = dir.join("held-up.y4m");
    std::fs::write(&video, matcher::video::write_y4m(&frames, 10)).unwrap();
    let (code, v, _) = run(&["liveness", video.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(
        (v["live"].as_bool(), v["frames_with_face"].as_u64()),
        (Some(false), Some(10))
    );
    let (code, _, stderr) = run(&["liveness", fixture("biden.png").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("directory of frames or a .y4m"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
