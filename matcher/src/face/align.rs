//! Alignment: the 150x150 chip dlib's `get_face_chip(img, shape, 150, 0.25)` extracts,
//! reproduced step by step (`get_face_chip_details`, `chip_details`, `extract_image_chip`).
//!
//! A similarity transform maps dlib's 5-point template onto the landmarks; the chip is
//! sampled bilinearly (values truncated to u8, zero outside the source). When the face is
//! much larger than the chip, dlib first halves a crop around it with `pyramid_down<2>`
//! (as many times as needed) and samples that level; the same is done here.

use image::{Rgb, RgbImage};

use crate::face::landmarks::Landmarks;

/// dlib's 5-point chip template (before padding), in the unit square.
const TEMPLATE: [[f64; 2]; 5] = [
    [0.8595674595992, 0.2134981538014],
    [0.6460604764104, 0.2289674387677],
    [0.1205750620789, 0.2137274526848],
    [0.3340850613712, 0.2290642403242],
    [0.4901123135679, 0.6277975316475],
];

pub const DEFAULT_PADDING: f64 = 0.25;

/// Least-squares similarity transform `to ~ s R from + t` as (m, t), m row-major 2x2.
fn similarity(from: &[[f64; 2]], to: &[[f64; 2]]) -> ([f64; 4], [f64; 2]) {
    let n = from.len() as f64;
    let mf = from
        .iter()
        .fold([0.0, 0.0], |m, p| [m[0] + p[0] / n, m[1] + p[1] / n]);
    let mt = to
        .iter()
        .fold([0.0, 0.0], |m, p| [m[0] + p[0] / n, m[1] + p[1] / n]);
    let (mut a, mut b, mut var) = (0.0, 0.0, 0.0);
    for (f, t) in from.iter().zip(to) {
        let (px, py) = (f[0] - mf[0], f[1] - mf[1]);
        let (qx, qy) = (t[0] - mt[0], t[1] - mt[1]);
        a += px * qx + py * qy;
        b += px * qy - py * qx;
        var += px * px + py * py;
    }
    let m = if var > 0.0 {
        [a / var, -b / var, b / var, a / var]
    } else {
        [1.0, 0.0, 0.0, 1.0]
    };
    let t = [
        mt[0] - (m[0] * mf[0] + m[1] * mf[1]),
        mt[1] - (m[2] * mf[0] + m[3] * mf[1]),
    ];
    (m, t)
}

/// dlib's `chip_details` of a face: rotation angle and the extraction rectangle
/// (l, t, r, b) in image pixels.
fn chip_details(landmarks: &Landmarks, size: u32, padding: f64) -> (f64, [f64; 4]) {
    let s = f64::from(size);
    let chip_pts: Vec<[f64; 2]> = TEMPLATE
        .iter()
        .map(|p| {
            [
                (padding + p[0]) / (2.0 * padding + 1.0) * s,
                (padding + p[1]) / (2.0 * padding + 1.0) * s,
            ]
        })
        .collect();
    let img_pts: Vec<[f64; 2]> = landmarks
        .iter()
        .map(|p| [p[0] as f64, p[1] as f64])
        .collect();
    let (m, t) = similarity(&chip_pts, &img_pts);
    let (px, py) = (m[0], m[2]);
    let angle = py.atan2(px);
    let scale = px.hypot(py);
    let c = [
        m[0] * s / 2.0 + m[1] * s / 2.0 + t[0],
        m[2] * s / 2.0 + m[3] * s / 2.0 + t[1],
    ];
    // dlib's centered_drect shrinks width and height by one.
    let half = (s * scale - 1.0) / 2.0;
    (angle, [c[0] - half, c[1] - half, c[0] + half, c[1] + half])
}

/// dlib's drectangle area (inclusive bounds).
fn area(r: &[f64; 4]) -> f64 {
    if r[2] < r[0] || r[3] < r[1] {
        0.0
    } else {
        (r[2] - r[0] + 1.0) * (r[3] - r[1] + 1.0)
    }
}

/// `pyramid_down<2>::rect_down`.
fn rect_down(r: &[f64; 4]) -> [f64; 4] {
    [
        r[0] / 2.0 - 1.25,
        r[1] / 2.0 - 0.75,
        r[2] / 2.0 - 1.25,
        r[3] / 2.0 - 0.75,
    ]
}

fn rotate(c: [f64; 2], p: [f64; 2], angle: f64) -> [f64; 2] {
    let (cos, sin) = (angle.cos(), angle.sin());
    let (dx, dy) = (p[0] - c[0], p[1] - c[1]);
    [cos * dx - sin * dy + c[0], sin * dx + cos * dy + c[1]]
}

fn corners(r: &[f64; 4]) -> [[f64; 2]; 4] {
    [[r[0], r[1]], [r[2], r[1]], [r[0], r[3]], [r[2], r[3]]]
}

/// dlib's `pyramid_down<2>` on RGB: a separable [1 4 6 4 1] filter, every other pixel,
/// integer arithmetic; the output is ((rows - 3) / 2, (cols - 3) / 2).
fn pyramid_down(img: &RgbImage) -> RgbImage {
    let (nr, nc) = (img.height() as usize, img.width() as usize);
    if nr <= 8 || nc <= 8 {
        return RgbImage::new(0, 0);
    }
    let tc = (nc - 3) / 2;
    let mut temp = vec![[0u32; 3]; nr * tc];
    for r in 0..nr {
        for c in 0..tc {
            let oc = 2 * c;
            let mut acc = [0u32; 3];
            for (k, w) in [1u32, 4, 6, 4, 1].iter().enumerate() {
                let p = img.get_pixel((oc + k) as u32, r as u32).0;
                for ch in 0..3 {
                    acc[ch] += u32::from(p[ch]) * w;
                }
            }
            temp[r * tc + c] = acc;
        }
    }
    let dr = (nr - 3) / 2;
    RgbImage::from_fn(tc as u32, dr as u32, |c, d| {
        let (c, r) = (c as usize, 2 + 2 * d as usize);
        let mut acc = [0u32; 3];
        for (k, w) in [1u32, 4, 6, 4, 1].iter().enumerate() {
            let t = temp[(r + k - 2) * tc + c];
            for ch in 0..3 {
                acc[ch] += t[ch] * w;
            }
        }
        Rgb(acc.map(|v| (v / 256) as u8))
    })
}

/// The aligned `size` x `size` chip of the face with these landmarks.
pub fn face_chip(img: &RgbImage, landmarks: &Landmarks, size: u32, padding: f64) -> RgbImage {
    let (angle, rect) = chip_details(landmarks, size, padding);
    let target = f64::from(size) * f64::from(size);
    // Pyramid depth and the border it needs, as extract_image_chips computes them.
    let mut grow = 2.0;
    let mut r = rect_down(&rect);
    let mut depth = 0;
    while area(&r) > target {
        r = rect_down(&r);
        depth += 1;
        grow = grow * 2.0 + 2.0;
    }
    let centre = [(rect[0] + rect[2]) / 2.0, (rect[1] + rect[3]) / 2.0];
    let rot: Vec<[f64; 2]> = corners(&rect)
        .iter()
        .map(|&p| rotate(centre, p, angle))
        .collect();
    let min = |i: usize| rot.iter().map(|p| p[i]).fold(f64::INFINITY, f64::min);
    let max = |i: usize| rot.iter().map(|p| p[i]).fold(f64::NEG_INFINITY, f64::max);
    let (w, h) = (f64::from(img.width()), f64::from(img.height()));
    let grown = [
        (min(0) - grow).max(0.0),
        (min(1) - grow).max(0.0),
        (max(0) + grow).min(w - 1.0),
        (max(1) + grow).min(h - 1.0),
    ];
    // drectangle -> rectangle rounds half away from zero.
    let bb = grown.map(|v| v.round() as i64);
    if bb[2] < bb[0] || bb[3] < bb[1] {
        return RgbImage::new(size, size);
    }
    let sub = image::imageops::crop_imm(
        img,
        bb[0] as u32,
        bb[1] as u32,
        (bb[2] - bb[0] + 1) as u32,
        (bb[3] - bb[1] + 1) as u32,
    )
    .to_image();
    let mut local = [
        rect[0] - bb[0] as f64,
        rect[1] - bb[1] as f64,
        rect[2] - bb[0] as f64,
        rect[3] - bb[1] as f64,
    ];
    let mut src = sub;
    let mut level = 0;
    while level < depth && area(&rect_down(&local)) > target {
        src = pyramid_down(&src);
        local = rect_down(&local);
        level += 1;
    }
    let c = [(local[0] + local[2]) / 2.0, (local[1] + local[3]) / 2.0];
    let [tl, tr, bl, _] = corners(&local).map(|p| rotate(c, p, angle));
    let span = f64::from(size) - 1.0;
    let d_col = [(tr[0] - tl[0]) / span, (tr[1] - tl[1]) / span];
    let d_row = [(bl[0] - tl[0]) / span, (bl[1] - tl[1]) / span];
    let (sw, sh) = (i64::from(src.width()), i64::from(src.height()));
    RgbImage::from_fn(size, size, |col, row| {
        let (cf, rf) = (f64::from(col), f64::from(row));
        let x = tl[0] + cf * d_col[0] + rf * d_row[0];
        let y = tl[1] + cf * d_col[1] + rf * d_row[1];
        let (left, top) = (x.floor() as i64, y.floor() as i64);
        if left < 0 || top < 0 || left + 1 >= sw || top + 1 >= sh {
            return Rgb([0, 0, 0]);
        }
        let (fx, fy) = (x - left as f64, y - top as f64);
        let px = |xx: i64, yy: i64| src.get_pixel(xx as u32, yy as u32).0;
        let (p00, p10, p01, p11) = (
            px(left, top),
            px(left + 1, top),
            px(left, top + 1),
            px(left + 1, top + 1),
        );
        let mut out = [0u8; 3];
        for ch in 0..3 {
            let v = (1.0 - fy) * ((1.0 - fx) * f64::from(p00[ch]) + fx * f64::from(p10[ch]))
                + fy * ((1.0 - fx) * f64::from(p01[ch]) + fx * f64::from(p11[ch]));
            // dlib's vector_to_pixel truncates.
            out[ch] = v as u8;
        }
        Rgb(out)
    })
}
