//! A synthetic "identity-document portrait as a phone photographs it", made from a face
//! photograph, for calibrating the document-to-live threshold (`matcher eval-document`,
//! EVALUATION.md). No labelled photographs of real identity documents are to be had from
//! package registries, so the degradations are modelled instead, in the order they happen:
//!
//! 1. **Print and laminate**: contrast reduced (blacks lifted, whites dulled), a warm colour
//!    cast (blue reduced, red raised a little, as yellowed laminate and dye printing give) and
//!    some saturation lost.
//! 2. **Size**: the portrait (about 35x45 mm at 300 dpi) re-photographed with the whole
//!    card in view: the image is reduced so that the detector's face box is 100-130 px high.
//!    Images whose face is already smaller are not enlarged.
//! 3. **Pose of the card**: an in-plane rotation of 1.5-4 degrees either way and a mild
//!    perspective (keystone of up to 6% across the image, both axes), resampled bilinearly
//!    with the edge pixels repeated outside the image.
//! 4. **Optics**: a Gaussian blur of sigma 0.5-0.9 px at that face size (focus, print dot
//!    spread); on a face already smaller than 100-130 px, proportionally less.
//! 5. **Sensor noise**: Gaussian, sigma 2-5 grey levels per channel.
//! 6. **JPEG** at quality 60-80, decoded again.
//!
//! Every parameter is drawn from a seeded generator, so one seed always gives the same
//! image. What it cannot model: holograms and guilloches printed over the face, glare on the
//! laminate, the halftone or dye-sublimation texture of real card printing, ghost portraits,
//! the age gap between the document photograph and the live face (the photographs given are
//! usually from one period), and a phone's own sharpening and denoising.

use image::{Rgb, RgbImage};

use crate::error::{MatcherError, Result};

/// Height of the detector's face box, in pixels, that the portrait is reduced to: drawn
/// uniformly from this range.
pub const FACE_BOX_PX: (f32, f32) = (100.0, 130.0);

/// The parameters one seed draws (reported so that a run can be inspected).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Degradation {
    /// Scale applied to the image (at most 1).
    pub scale: f32,
    pub contrast: f32,
    /// Added to every channel after the contrast reduction (0-255).
    pub lift: f32,
    pub red_gain: f32,
    pub blue_gain: f32,
    /// Fraction of the colour replaced by grey (0 = unchanged).
    pub desaturation: f32,
    pub rotation_deg: f32,
    /// Perspective terms: relative scale change from one side of the image to the other.
    pub keystone_x: f32,
    pub keystone_y: f32,
    pub blur_sigma: f32,
    pub noise_sigma: f32,
    pub jpeg_quality: u8,
}

impl Degradation {
    /// Draws the parameters for an image whose face box is `face_height` pixels high.
    pub fn draw(face_height: f32, seed: u64) -> Degradation {
        let mut rng = SplitMix(seed);
        let mut between = |lo: f32, hi: f32| lo + (hi - lo) * rng.unit();
        let target = between(FACE_BOX_PX.0, FACE_BOX_PX.1);
        let scale = if face_height > 0.0 {
            (target / face_height).min(1.0)
        } else {
            1.0
        };
        let contrast = between(0.72, 0.85);
        let lift = between(14.0, 28.0);
        let red_gain = between(1.0, 1.05);
        let blue_gain = between(0.86, 0.94);
        let desaturation = between(0.15, 0.3);
        let sign = |v: f32| if v < 0.5 { -1.0 } else { 1.0 };
        let rotation_deg = between(1.5, 4.0) * sign(between(0.0, 1.0));
        let keystone_x = between(-0.06, 0.06);
        let keystone_y = between(-0.06, 0.06);
        // The blur is the document's, in units of its 100-130 px face: a face already
        // smaller than that (not enlarged) is blurred proportionally less, or it would be
        // degraded twice, by its own low resolution and by a blur meant for a larger face.
        let blur_sigma = between(0.5, 0.9) * (face_height * scale / target).min(1.0);
        let noise_sigma = between(2.0, 5.0);
        let jpeg_quality = between(60.0, 80.99).floor() as u8;
        Degradation {
            scale,
            contrast,
            lift,
            red_gain,
            blue_gain,
            desaturation,
            rotation_deg,
            keystone_x,
            keystone_y,
            blur_sigma,
            noise_sigma,
            jpeg_quality,
        }
    }
}

/// The document-portrait version of `img`, whose face box is `face_height` pixels high, with
/// the degradations `seed` draws (see the module documentation).
pub fn document_portrait(img: &RgbImage, face_height: f32, seed: u64) -> Result<RgbImage> {
    let d = Degradation::draw(face_height, seed);
    degrade(img, &d, seed)
}

/// Applies `d` to `img`; `seed` drives the sensor noise.
pub fn degrade(img: &RgbImage, d: &Degradation, seed: u64) -> Result<RgbImage> {
    // 1. Print and laminate.
    let mut printed = img.clone();
    for p in printed.pixels_mut() {
        let [r, g, b] = p.0.map(f32::from);
        let grey = 0.299 * r + 0.587 * g + 0.114 * b;
        let desat = |c: f32| c + d.desaturation * (grey - c);
        let tone = |c: f32, gain: f32| (d.lift + d.contrast * desat(c)) * gain;
        *p = Rgb([
            to_u8(tone(r, d.red_gain)),
            to_u8(tone(g, 1.0)),
            to_u8(tone(b, d.blue_gain)),
        ]);
    }
    // 2. Size.
    let (w, h) = (
        ((img.width() as f32 * d.scale).round() as u32).max(1),
        ((img.height() as f32 * d.scale).round() as u32).max(1),
    );
    let small = if (w, h) == img.dimensions() {
        printed
    } else {
        image::imageops::resize(&printed, w, h, image::imageops::FilterType::Triangle)
    };
    // 3. Pose of the card.
    let posed = warp(&small, d.rotation_deg, d.keystone_x, d.keystone_y);
    // 4. Optics.
    let blurred = image::imageops::blur(&posed, d.blur_sigma);
    // 5. Sensor noise.
    let mut rng = SplitMix(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut noisy = blurred;
    for p in noisy.pixels_mut() {
        for c in p.0.iter_mut() {
            *c = to_u8(f32::from(*c) + d.noise_sigma * rng.gaussian());
        }
    }
    // 6. JPEG.
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, d.jpeg_quality)
        .encode_image(&noisy)
        .map_err(|e| MatcherError::Image(format!("JPEG encoding: {e}")))?;
    image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg)
        .map(|i| i.to_rgb8())
        .map_err(|e| MatcherError::Image(format!("JPEG decoding: {e}")))
}

/// Rotation about the centre and a keystone: each output pixel (x, y), in coordinates
/// centred and divided by the image size, samples the input at the rotated point divided by
/// `1 + kx * x + ky * y`.
fn warp(img: &RgbImage, rotation_deg: f32, kx: f32, ky: f32) -> RgbImage {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let (sin, cos) = rotation_deg.to_radians().sin_cos();
    RgbImage::from_fn(img.width(), img.height(), |x, y| {
        let (u, v) = (x as f32 + 0.5 - w / 2.0, y as f32 + 0.5 - h / 2.0);
        let z = 1.0 + kx * (u / w) + ky * (v / h);
        let (ru, rv) = ((cos * u - sin * v) / z, (sin * u + cos * v) / z);
        bilinear(img, ru + w / 2.0 - 0.5, rv + h / 2.0 - 0.5)
    })
}

fn bilinear(img: &RgbImage, x: f32, y: f32) -> Rgb<u8> {
    let max_x = img.width().saturating_sub(1) as f32;
    let max_y = img.height().saturating_sub(1) as f32;
    let (x, y) = (x.clamp(0.0, max_x), y.clamp(0.0, max_y));
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as u32, y0 as u32);
    let (x1, y1) = ((x0 + 1).min(max_x as u32), (y0 + 1).min(max_y as u32));
    let px = |x: u32, y: u32| img.get_pixel(x, y).0.map(f32::from);
    let (a, b, c, e) = (px(x0, y0), px(x1, y0), px(x0, y1), px(x1, y1));
    let mut out = [0u8; 3];
    for (i, o) in out.iter_mut().enumerate() {
        let top = a[i] + fx * (b[i] - a[i]);
        let bottom = c[i] + fx * (e[i] - c[i]);
        *o = to_u8(top + fy * (bottom - top));
    }
    Rgb(out)
}

fn to_u8(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// A seed for one image from its name (FNV-1a), so that an image is degraded the same way
/// whatever else is in the directory.
pub fn seed_of(name: &str, base: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ base;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// SplitMix64: small, fast and fully determined by its seed.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Standard normal (Box-Muller).
    fn gaussian(&mut self) -> f32 {
        let u1 = self.unit().max(1e-7);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 200x240 image with a smooth colour gradient and a dark disc (a "face").
    fn picture() -> RgbImage {
        RgbImage::from_fn(200, 240, |x, y| {
            let (dx, dy) = (x as f32 - 100.0, y as f32 - 110.0);
            if dx * dx + dy * dy < 60.0 * 60.0 {
                Rgb([40, 30, 20])
            } else {
                Rgb([(x + 40) as u8, (y / 2 + 60) as u8, 200 - (x / 2) as u8])
            }
        })
    }

    fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f32 {
        let sum: u64 = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(p, q)| u64::from(p.abs_diff(*q)))
            .sum();
        sum as f32 / a.as_raw().len() as f32
    }

    #[test]
    fn one_seed_gives_one_image_and_it_is_degraded() {
        let img = picture();
        // Face box of 240 px: reduced to 100-130 px, so about half the size.
        let a = document_portrait(&img, 240.0, 7).expect("degraded");
        let b = document_portrait(&img, 240.0, 7).expect("degraded");
        assert_eq!(a.as_raw(), b.as_raw());
        let d = Degradation::draw(240.0, 7);
        assert!(d.scale > 100.0 / 240.0 - 1e-6 && d.scale < 130.0 / 240.0 + 1e-6);
        assert_eq!(
            a.dimensions(),
            (
                (200.0 * d.scale).round() as u32,
                (240.0 * d.scale).round() as u32
            )
        );
        let c = document_portrait(&img, 240.0, 8).expect("degraded");
        assert_ne!(a.as_raw(), c.as_raw());
        // Compare at the original size: the degraded image differs clearly but is the same
        // picture (the disc stays dark, the background light).
        let back = image::imageops::resize(&a, 200, 240, image::imageops::FilterType::Triangle);
        let diff = mean_abs_diff(&img, &back);
        assert!(diff > 5.0 && diff < 60.0, "mean difference {diff}");
        let centre = back.get_pixel(100, 110).0;
        let corner = back.get_pixel(190, 20).0;
        assert!(centre.iter().all(|&v| v < 110), "{centre:?}");
        assert!(corner[0] > 150, "{corner:?}");
    }

    #[test]
    fn small_faces_are_not_enlarged_and_contrast_drops() {
        let img = picture();
        let d = Degradation::draw(80.0, 3);
        assert_eq!(d.scale, 1.0);
        // The blur shrinks with the face: at most 0.9 * 80 / 100.
        assert!(d.blur_sigma > 0.0 && d.blur_sigma <= 0.72);
        let out = degrade(&img, &d, 3).expect("degraded");
        assert_eq!(out.dimensions(), img.dimensions());
        let spread = |i: &RgbImage| {
            let g: Vec<f32> = i.pixels().map(|p| f32::from(p.0[1])).collect();
            let mean = g.iter().sum::<f32>() / g.len() as f32;
            (g.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / g.len() as f32).sqrt()
        };
        assert!(spread(&out) < 0.9 * spread(&img));
    }

    #[test]
    fn warp_without_rotation_or_keystone_is_the_identity() {
        let img = picture();
        assert_eq!(warp(&img, 0.0, 0.0, 0.0).as_raw(), img.as_raw());
        assert_ne!(warp(&img, 3.0, 0.0, 0.0).as_raw(), img.as_raw());
    }

    #[test]
    fn seeds_depend_on_names() {
        assert_eq!(seed_of("s1/1.pgm", 1), seed_of("s1/1.pgm", 1));
        assert_ne!(seed_of("s1/1.pgm", 1), seed_of("s1/2.pgm", 1));
        assert_ne!(seed_of("s1/1.pgm", 1), seed_of("s1/1.pgm", 2));
    }
}
