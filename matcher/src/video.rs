//! Frames from a video file, for liveness: YUV4MPEG2 (`.y4m`) and Motion JPEG (`.mjpeg`,
//! concatenated JPEG frames), the two formats Chromium's fake camera plays back. Other
//! containers need decoding elsewhere first (e.g. `ffmpeg -i in.mp4 out.y4m`).

use crate::error::{MatcherError, Result};
use image::RgbImage;
use std::path::Path;

/// Longest video read, in frames: liveness needs a few seconds, not a film.
pub const MAX_FRAMES: usize = 900;

fn bad(path: &Path, why: &str) -> MatcherError {
    MatcherError::Image(format!("{}: {why}", path.display()))
}

/// Whether the file looks like a video this module reads.
pub fn is_video(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("y4m" | "mjpeg" | "mjpg")
    )
}

pub fn read_frames(path: &Path) -> Result<Vec<RgbImage>> {
    let data = std::fs::read(path).map_err(|e| bad(path, &e.to_string()))?;
    if data.starts_with(b"YUV4MPEG2 ") {
        y4m(&data).map_err(|why| bad(path, &why))
    } else if data.starts_with(&[0xFF, 0xD8]) {
        mjpeg(&data).map_err(|why| bad(path, &why))
    } else {
        Err(bad(path, "not a YUV4MPEG2 or Motion JPEG video"))
    }
}

/// YUV4MPEG2 with 4:2:0, 4:4:4 or monochrome frames, converted with BT.601.
fn y4m(data: &[u8]) -> std::result::Result<Vec<RgbImage>, String> {
    let header_end = data
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("no header line")?;
    let header = std::str::from_utf8(&data[..header_end]).map_err(|_| "header is not text")?;
    let (mut w, mut h, mut chroma) = (0usize, 0usize, "420");
    for token in header.split(' ').skip(1) {
        match token.split_at(1) {
            ("W", v) => w = v.parse().map_err(|_| "bad width")?,
            ("H", v) => h = v.parse().map_err(|_| "bad height")?,
            ("C", v) => chroma = v,
            _ => {}
        }
    }
    if w == 0 || h == 0 || w > 8192 || h > 8192 {
        return Err(format!("unsupported frame size {w}x{h}"));
    }
    let (cw, ch) = match chroma {
        c if c.starts_with("420") => (w.div_ceil(2), h.div_ceil(2)),
        c if c.starts_with("444") => (w, h),
        "mono" => (0, 0),
        other => return Err(format!("unsupported chroma subsampling {other}")),
    };
    let frame_len = w * h + 2 * cw * ch;
    let mut frames = Vec::new();
    let mut at = header_end + 1;
    while at < data.len() && frames.len() < MAX_FRAMES {
        let line_end = data[at..]
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("truncated frame header")?
            + at;
        if !data[at..line_end].starts_with(b"FRAME") {
            return Err("expected FRAME".into());
        }
        let start = line_end + 1;
        let plane = data
            .get(start..start + frame_len)
            .ok_or("truncated frame")?;
        let (y, rest) = plane.split_at(w * h);
        let (u, v) = rest.split_at(cw * ch);
        let mut img = RgbImage::new(w as u32, h as u32);
        for (x, yy, px) in img.enumerate_pixels_mut() {
            let (x, yy) = (x as usize, yy as usize);
            let luma = f32::from(y[yy * w + x]);
            let (cb, cr) = if cw == 0 {
                (128.0, 128.0)
            } else {
                let i = (yy * ch / h) * cw + x * cw / w;
                (f32::from(u[i]), f32::from(v[i]))
            };
            let c = 1.164 * (luma - 16.0);
            let to = |f: f32| f.round().clamp(0.0, 255.0) as u8;
            *px = image::Rgb([
                to(c + 1.596 * (cr - 128.0)),
                to(c - 0.392 * (cb - 128.0) - 0.813 * (cr - 128.0)),
                to(c + 2.017 * (cb - 128.0)),
            ]);
        }
        frames.push(img);
        at = start + frame_len;
    }
    Ok(frames)
}

/// Motion JPEG: JPEG frames one after another, split at start-of-image markers that
/// follow an end-of-image marker (entropy-coded data never contains either unescaped).
fn mjpeg(data: &[u8]) -> std::result::Result<Vec<RgbImage>, String> {
    let mut frames = Vec::new();
    let mut start = 0;
    let mut i = 2;
    while i + 1 < data.len() && frames.len() < MAX_FRAMES {
        if data[i] == 0xFF && data[i + 1] == 0xD9 {
            let frame = &data[start..i + 2];
            let img = image::load_from_memory_with_format(frame, image::ImageFormat::Jpeg)
                .map_err(|e| format!("frame {}: {e}", frames.len()))?;
            frames.push(img.to_rgb8());
            start = i + 2;
            while start + 1 < data.len() && !(data[start] == 0xFF && data[start + 1] == 0xD8) {
                start += 1;
            }
            i = start + 2;
        } else {
            i += 1;
        }
    }
    if frames.is_empty() {
        return Err("no complete JPEG frame".into());
    }
    Ok(frames)
}

/// Writes frames as YUV4MPEG2 4:2:0 (BT.601), for tests and for Chromium's fake camera.
pub fn write_y4m(frames: &[RgbImage], fps: u32) -> Vec<u8> {
    let (w, h) = frames
        .first()
        .map_or((0, 0), |f| (f.width() as usize, f.height() as usize));
    let mut out = format!("YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n").into_bytes();
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    for f in frames {
        out.extend_from_slice(b"FRAME\n");
        let px = |x: usize, y: usize| {
            let p = f.get_pixel(x.min(w - 1) as u32, y.min(h - 1) as u32).0;
            (f32::from(p[0]), f32::from(p[1]), f32::from(p[2]))
        };
        let to = |v: f32| v.round().clamp(0.0, 255.0) as u8;
        for y in 0..h {
            for x in 0..w {
                let (r, g, b) = px(x, y);
                out.push(to(16.0 + 0.257 * r + 0.504 * g + 0.098 * b));
            }
        }
        let mut u = Vec::with_capacity(cw * ch);
        let mut v = Vec::with_capacity(cw * ch);
        for y in 0..ch {
            for x in 0..cw {
                let (r, g, b) = px(2 * x, 2 * y);
                u.push(to(128.0 - 0.148 * r - 0.291 * g + 0.439 * b));
                v.push(to(128.0 + 0.439 * r - 0.368 * g - 0.071 * b));
            }
        }
        out.extend_from_slice(&u);
        out.extend_from_slice(&v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture() -> RgbImage {
        RgbImage::from_fn(8, 6, |x, y| {
            image::Rgb([(x * 30) as u8, (y * 40) as u8, 200])
        })
    }

    #[test]
    fn y4m_round_trips_within_rounding() {
        let frames = vec![picture(), picture()];
        let data = write_y4m(&frames, 25);
        let back = y4m(&data).unwrap();
        assert_eq!(back.len(), 2);
        let (a, b) = (frames[0].get_pixel(2, 2).0, back[0].get_pixel(2, 2).0);
        for c in 0..3 {
            assert!(
                (i32::from(a[c]) - i32::from(b[c])).abs() <= 12,
                "{a:?} vs {b:?}"
            );
        }
        assert!(
            y4m(&data[..data.len() - 5]).is_err(),
            "a truncated frame is an error"
        );
    }

    #[test]
    fn mjpeg_splits_concatenated_frames() {
        let mut data = Vec::new();
        for _ in 0..3 {
            let mut jpeg = Vec::new();
            image::DynamicImage::ImageRgb8(picture())
                .write_to(
                    &mut std::io::Cursor::new(&mut jpeg),
                    image::ImageFormat::Jpeg,
                )
                .unwrap();
            data.extend_from_slice(&jpeg);
        }
        assert_eq!(mjpeg(&data).unwrap().len(), 3);
        assert!(mjpeg(&data[..data.len() / 3 - 10]).is_err());
    }
}
