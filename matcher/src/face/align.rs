//! Alignment: the 150x150 chip dlib's `get_face_chip(img, shape, 150, 0.25)` extracts,
//! reproduced step by step (`get_face_chip_details`, `chip_details`, `extract_image_chip`).
//!
//! A similarity transform maps dlib's 5-point template onto the landmarks; the chip is
//! sampled bilinearly (values truncated to u8, zero outside the image). When the face is
//! much larger than the chip dlib first halves the image in a pyramid; here the halving is
//! a 2x2 box filter, which only matters for faces over ~300 px.

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

/// Affine map from chip pixel (col, row) to source pixel: x = o + col * dc + row * dr.
#[derive(Debug, Clone, Copy)]
struct ChipMap {
    origin: [f64; 2],
    d_col: [f64; 2],
    d_row: [f64; 2],
}

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

fn chip_map(landmarks: &Landmarks, size: u32, padding: f64) -> (ChipMap, f64) {
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
    // chip_details: angle and scale from the transform, the extraction rectangle
    // centred on the image of the chip's centre (dlib's centered_drect shrinks by 1).
    let (px, py) = (m[0], m[2]);
    let angle = py.atan2(px);
    let scale = px.hypot(py);
    let c = [
        m[0] * s / 2.0 + m[1] * s / 2.0 + t[0],
        m[2] * s / 2.0 + m[3] * s / 2.0 + t[1],
    ];
    let half = (s * scale - 1.0) / 2.0;
    let (cos, sin) = (angle.cos(), angle.sin());
    let rot = |x: f64, y: f64| {
        let (dx, dy) = (x - c[0], y - c[1]);
        [cos * dx - sin * dy + c[0], sin * dx + cos * dy + c[1]]
    };
    let tl = rot(c[0] - half, c[1] - half);
    let tr = rot(c[0] + half, c[1] - half);
    let bl = rot(c[0] - half, c[1] + half);
    let span = s - 1.0;
    let map = ChipMap {
        origin: tl,
        d_col: [(tr[0] - tl[0]) / span, (tr[1] - tl[1]) / span],
        d_row: [(bl[0] - tl[0]) / span, (bl[1] - tl[1]) / span],
    };
    // Side of the extraction rectangle in source pixels (dlib's rect width).
    (map, s * scale)
}

/// Halves an image with a 2x2 box filter (odd last row/column dropped).
fn half_size(img: &RgbImage) -> RgbImage {
    let (w, h) = (img.width() / 2, img.height() / 2);
    RgbImage::from_fn(w.max(1), h.max(1), |x, y| {
        let mut acc = [0u32; 3];
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let sx = (2 * x + dx).min(img.width() - 1);
            let sy = (2 * y + dy).min(img.height() - 1);
            let p = img.get_pixel(sx, sy).0;
            for c in 0..3 {
                acc[c] += u32::from(p[c]);
            }
        }
        Rgb([(acc[0] / 4) as u8, (acc[1] / 4) as u8, (acc[2] / 4) as u8])
    })
}

/// The aligned `size` x `size` chip of the face with these landmarks.
pub fn face_chip(img: &RgbImage, landmarks: &Landmarks, size: u32, padding: f64) -> RgbImage {
    let (mut map, mut side) = chip_map(landmarks, size, padding);
    let target_area = f64::from(size) * f64::from(size);
    let mut level = std::borrow::Cow::Borrowed(img);
    // As in dlib: use a halved image while even the halved rectangle exceeds the chip.
    while (side / 2.0) * (side / 2.0) > target_area && level.width() >= 4 && level.height() >= 4 {
        level = std::borrow::Cow::Owned(half_size(&level));
        side /= 2.0;
        // Pixel j of the half image is centred on source x = 2j + 0.5.
        map.origin = [(map.origin[0] - 0.5) / 2.0, (map.origin[1] - 0.5) / 2.0];
        map.d_col = [map.d_col[0] / 2.0, map.d_col[1] / 2.0];
        map.d_row = [map.d_row[0] / 2.0, map.d_row[1] / 2.0];
    }
    let src = level.as_ref();
    let (w, h) = (i64::from(src.width()), i64::from(src.height()));
    RgbImage::from_fn(size, size, |col, row| {
        let (c, r) = (f64::from(col), f64::from(row));
        let x = map.origin[0] + c * map.d_col[0] + r * map.d_row[0];
        let y = map.origin[1] + c * map.d_col[1] + r * map.d_row[1];
        let (left, top) = (x.floor() as i64, y.floor() as i64);
        if left < 0 || top < 0 || left + 1 >= w || top + 1 >= h {
            return Rgb([0, 0, 0]);
        }
        let (fx, fy) = (x - left as f64, y - top as f64);
        let px = |xx: i64, yy: i64| src.get_pixel(xx as u32, yy as u32).0;
        let (tl, tr, bl, br) = (
            px(left, top),
            px(left + 1, top),
            px(left, top + 1),
            px(left + 1, top + 1),
        );
        let mut out = [0u8; 3];
        for ch in 0..3 {
            let v = (1.0 - fy) * ((1.0 - fx) * f64::from(tl[ch]) + fx * f64::from(tr[ch]))
                + fy * ((1.0 - fx) * f64::from(bl[ch]) + fx * f64::from(br[ch]));
            // dlib's vector_to_pixel truncates.
            out[ch] = v as u8;
        }
        Rgb(out)
    })
}
