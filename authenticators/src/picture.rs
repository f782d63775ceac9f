//! Pictures from outside (a face capture's frames, a document photo; a client's logo uses
//! the checks): decoded with limits on size and memory, and only in the forms a camera or
//! a browser makes. Knows nothing of HTTP or storage.

use crate::face::Unusable;
use image::{ImageFormat, RgbImage};

/// Most memory one decoding may take.
const MAX_ALLOC: u64 = 160 << 20;

/// Decodes a JPEG, PNG or WebP picture whose sides are at most `max_side`.
pub(crate) fn decode_limited(bytes: &[u8], max_side: u32) -> Result<RgbImage, Unusable> {
    let format = image::guess_format(bytes).map_err(|_| Unusable::Unreadable)?;
    match format {
        ImageFormat::Jpeg if !jpeg_layout_supported(bytes) => return Err(Unusable::Unreadable),
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP => {}
        _ => return Err(Unusable::Unreadable),
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(max_side);
    limits.max_image_height = Some(max_side);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let img = guarded(|| reader.decode())
        .ok_or(Unusable::Unreadable)?
        .map_err(|_| Unusable::Unreadable)?;
    Ok(img.to_rgb8())
}

/// Runs a decoder on untrusted bytes; `None` when it panicked. The layout checks keep out
/// the files known to make a decoder panic; this is for those not yet known. (Under the
/// fuzzer a panic still aborts: libFuzzer's panic hook runs before any unwinding.)
pub fn guarded<T>(decode: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).ok()
}

/// Whether a JPEG's headers, read up to its first scan, have the layout cameras and browsers
/// write: well-formed segments, one after the other; one frame, baseline, extended or
/// progressive with Huffman coding; grey (one component) or colour (three), every sampling
/// factor 1 or 2, and no component sampled more finely than the first (luma). The decoder
/// (zune-jpeg 0.5.15) panics on a progressive frame whose chroma is sampled more finely
/// than its luma. Files with stray bytes between segments, and 4:1:1 sampling, are refused
/// too, although some decoders read them: rare, and not what a phone or browser sends.
pub fn jpeg_layout_supported(bytes: &[u8]) -> bool {
    let Some(mut rest) = bytes.strip_prefix(&[0xFF, 0xD8]) else {
        return false;
    };
    let mut frame = None;
    loop {
        // A marker: 0xFF, any number of fill bytes 0xFF, then its code.
        let Some(after) = rest.strip_prefix(&[0xFF]) else {
            return false;
        };
        let start = after.iter().position(|&b| b != 0xFF).unwrap_or(after.len());
        let Some((&code, after)) = after[start..].split_first() else {
            return false;
        };
        // Every segment before the first scan has a length, which counts its own two bytes.
        let Some(&[high, low]) = after.first_chunk::<2>() else {
            return false;
        };
        let length = usize::from(u16::from_be_bytes([high, low]));
        if length < 2 || after.len() < length {
            return false;
        }
        let body = &after[2..length];
        rest = &after[length..];
        match code {
            // SOF0, SOF1, SOF2: the first and only frame.
            0xC0..=0xC2 if frame.is_none() => frame = Some(body),
            // Any other frame: lossless, hierarchical, arithmetic coding, or a second one.
            0xC0..=0xCF if !matches!(code, 0xC4 | 0xC8 | 0xCC) => return false,
            // The first scan: the frame must have come before it.
            0xDA => return frame.is_some_and(frame_supported),
            // An APP0 segment shorter than the identifier at its start: zune-jpeg reads
            // the identifier's five bytes whatever the length says, so it would read the
            // rest of the file differently.
            0xE0 if length < 7 => return false,
            // Tables, restart interval, comments, application data.
            0xC4 | 0xDB | 0xDD | 0xE0..=0xEF | 0xFE => {}
            _ => return false,
        }
    }
}

/// A frame header (after its length): precision, height, width, then per component its id,
/// sampling factors and quantisation table.
fn frame_supported(frame: &[u8]) -> bool {
    let Some((&[precision, _, _, _, _, count], components)) = frame.split_first_chunk::<6>() else {
        return false;
    };
    if precision != 8 || !matches!(count, 1 | 3) || components.len() != 3 * usize::from(count) {
        return false;
    }
    let factors: Vec<(u8, u8)> = components
        .chunks_exact(3)
        .map(|c| (c[1] >> 4, c[1] & 0x0F))
        .collect();
    let (luma_h, luma_v) = factors[0];
    factors
        .iter()
        .all(|&(h, v)| (1..=2).contains(&h) && (1..=2).contains(&v) && h <= luma_h && v <= luma_v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A picture of `width` by `height` pixels as JPEG, from the `image` crate's encoder
    /// (colour, every component sampled 1x1).
    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8])
        });
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&img)
            .unwrap();
        out
    }

    /// Offset of the first frame header's first component in `bytes`.
    fn first_component(bytes: &[u8]) -> usize {
        let sof = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        // marker (2), length (2), precision (1), height (2), width (2), count (1)
        sof + 10
    }

    #[test]
    fn a_cameras_jpeg_is_decoded() {
        let bytes = jpeg(33, 17);
        assert!(jpeg_layout_supported(&bytes));
        assert_eq!(decode_limited(&bytes, 64).unwrap().dimensions(), (33, 17));
        assert_eq!(decode_limited(&bytes, 32), Err(Unusable::Unreadable));
    }

    #[test]
    fn chroma_sampled_more_finely_than_luma_is_refused() {
        let mut bytes = jpeg(16, 16);
        let luma = first_component(&bytes);
        assert_eq!(
            bytes[luma + 1],
            0x11,
            "the encoder samples every component 1x1"
        );
        // Luma 2x2 and chroma 1x1 (4:2:0, as cameras write) is the usual layout.
        bytes[luma + 1] = 0x22;
        assert!(jpeg_layout_supported(&bytes));
        // Luma 1x1 and the second component 2x2, as in the input below, is not.
        bytes[luma + 1] = 0x11;
        bytes[luma + 4] = 0x22;
        assert!(!jpeg_layout_supported(&bytes));
        assert_eq!(decode_limited(&bytes, 64), Err(Unusable::Unreadable));
    }

    /// A seed of the `image` fuzz target.
    fn seed(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../fuzz/seeds/image/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn camera_layouts_baseline_and_progressive_are_decoded() {
        for name in ["small.jpg", "progressive.jpg"] {
            let bytes = seed(name);
            assert!(jpeg_layout_supported(&bytes), "{name}");
            assert!(decode_limited(&bytes, 4096).is_ok(), "{name}");
        }
    }

    #[test]
    fn an_app0_segment_shorter_than_its_identifier_is_refused() {
        let good = jpeg(8, 8);
        let short = [
            &good[..2],
            &[0xFF, 0xE0, 0x00, 0x06, 0, 0, 0, 0],
            &good[2..],
        ]
        .concat();
        assert!(!jpeg_layout_supported(&short));
        let empty = [&good[..2], &[0xFF, 0xE0, 0x00, 0x02], &good[2..]].concat();
        assert!(!jpeg_layout_supported(&empty));
        let jfif = [&good[..2], b"\xFF\xE0\x00\x07JFIF\x00", &good[2..]].concat();
        assert!(jpeg_layout_supported(&jfif));
    }

    #[test]
    fn a_decoder_panic_is_an_unreadable_picture() {
        // The input below panics zune-jpeg 0.5.15 when it gets past the layout check; when
        // a newer decoder reads it, this test fails and the check can be reconsidered.
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fuzz/regressions/image/progressive-chroma-finer-than-luma.jpg"
        ))
        .unwrap();
        let reader =
            image::ImageReader::with_format(std::io::Cursor::new(&bytes), ImageFormat::Jpeg);
        assert!(guarded(|| reader.decode()).is_none());
        assert_eq!(guarded(|| 7), Some(7));
    }

    #[test]
    fn a_progressive_jpeg_that_panicked_the_decoder_is_unreadable() {
        // Found by the `image` fuzz target: zune-jpeg 0.5.15 panicked in its upsampler on
        // it. It is also kept under fuzz/regressions/image/.
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fuzz/regressions/image/progressive-chroma-finer-than-luma.jpg"
        ))
        .unwrap();
        assert_eq!(image::guess_format(&bytes).unwrap(), ImageFormat::Jpeg);
        assert!(!jpeg_layout_supported(&bytes));
        assert_eq!(decode_limited(&bytes, 64), Err(Unusable::Unreadable));
    }

    #[test]
    fn malformed_jpeg_headers_are_refused() {
        let good = jpeg(8, 8);
        let luma = first_component(&good);
        let mut cases: Vec<(&str, Vec<u8>)> = vec![
            ("no start of image", good[2..].to_vec()),
            ("cut inside the headers", good[..luma].to_vec()),
            ("no frame before the scan", {
                let sof = luma - 10;
                let len = usize::from(u16::from_be_bytes([good[sof + 2], good[sof + 3]]));
                [&good[..sof], &good[sof + 2 + len..]].concat()
            }),
            (
                "a byte that is not a marker",
                [&good[..2], &[0x00], &good[2..]].concat(),
            ),
        ];
        let mut lossless = good.clone();
        lossless[luma - 9] = 0xC3;
        cases.push(("a lossless frame", lossless));
        let mut twelve_bits = good.clone();
        twelve_bits[luma - 6] = 12;
        cases.push(("12-bit samples", twelve_bits));
        let mut factor_three = good.clone();
        factor_three[luma + 1] = 0x32;
        cases.push(("a sampling factor of 3", factor_three));
        for (what, bytes) in cases {
            assert!(!jpeg_layout_supported(&bytes), "{what}");
            assert_eq!(
                decode_limited(&bytes, 64),
                Err(Unusable::Unreadable),
                "{what}"
            );
        }
        // Fill bytes before a marker are allowed.
        let filled = [&good[..2], &[0xFF, 0xFF], &good[2..]].concat();
        assert!(jpeg_layout_supported(&filled));
    }
}
