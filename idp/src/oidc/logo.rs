//! Clients' logos (RFC 7591 `logo_uri`). A page that loaded a logo from the client's
//! server would tell the client of every citizen who opens it, when and from where; so
//! the provider fetches the logo once (when the client is registered or its `logo_uri`
//! changes, under `oidc::fetch`'s rules), keeps it, and serves it itself. What the client
//! sent is decoded as PNG or JPEG and re-encoded as a PNG of at most `MAX_SIDE` pixels a
//! side: nothing but pixels is kept (no script, as an SVG could carry; no metadata).

use image::{ImageFormat, ImageReader};
use std::io::Cursor;

/// The longest side of a kept logo, in pixels (shown at 64 CSS pixels, sharp at 2x).
pub const MAX_SIDE: u32 = 128;
/// The largest image accepted for decoding, in pixels a side.
const MAX_DECODED_SIDE: u32 = 2048;

/// Fetches the logo at `uri` and makes it a PNG to keep.
pub fn fetch(uri: &str, private_addresses: bool) -> Result<Vec<u8>, String> {
    let bytes = super::fetch::fetch_bytes(uri, private_addresses, "image/png, image/jpeg")?;
    prepare(&bytes)
}

/// The logo kept for `client_id`, if it has one.
pub fn kept(db: &crate::store::Db, client_id: &str) -> super::error::OidcResult<Option<Vec<u8>>> {
    Ok(db.run(|c| crate::store::client_logos::get(c, client_id))?)
}

/// Where the pages load a client's logo from.
pub fn path(client_id: &str) -> String {
    let id: String = url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    format!("/clients/{id}/logo")
}

/// A PNG or JPEG image, checked and re-encoded as a PNG of at most `MAX_SIDE` a side.
pub fn prepare(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let unreadable = || "is not a readable image".to_string();
    match reader.format() {
        Some(ImageFormat::Jpeg) if !authenticators::picture::jpeg_layout_supported(bytes) => {
            return Err(unreadable());
        }
        Some(ImageFormat::Png | ImageFormat::Jpeg) => {}
        _ => return Err("is not a PNG or JPEG image".into()),
    }
    let (w, h) = reader.into_dimensions().map_err(|_| unreadable())?;
    if w == 0 || h == 0 || w > MAX_DECODED_SIDE || h > MAX_DECODED_SIDE {
        return Err(format!(
            "must be at most {MAX_DECODED_SIDE} pixels a side (is {w}x{h})"
        ));
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let img = authenticators::picture::guarded(|| reader.decode())
        .ok_or_else(unreadable)?
        .map_err(|_| unreadable())?;
    let img = if w > MAX_SIDE || h > MAX_SIDE {
        img.thumbnail(MAX_SIDE, MAX_SIDE)
    } else {
        img
    };
    let mut png = Vec::new();
    img.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(w: u32, h: u32, format: ImageFormat) -> Vec<u8> {
        let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            w,
            h,
            image::Rgb([10, 80, 160]),
        ));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), format).unwrap();
        out
    }

    fn side(png: &[u8]) -> (u32, u32) {
        image::load_from_memory_with_format(png, ImageFormat::Png)
            .map(|i| (i.width(), i.height()))
            .expect("a PNG")
    }

    #[test]
    fn png_and_jpeg_logos_become_small_pngs() {
        assert_eq!(
            side(&prepare(&encoded(64, 32, ImageFormat::Png)).unwrap()),
            (64, 32)
        );
        let large = prepare(&encoded(1024, 512, ImageFormat::Jpeg)).unwrap();
        assert_eq!(side(&large), (128, 64));
    }

    #[test]
    fn anything_else_is_refused() {
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
        assert_eq!(prepare(svg).unwrap_err(), "is not a PNG or JPEG image");
        assert!(prepare(b"<html><body>hello</body></html>").is_err());
        // A PNG header on something that is not a PNG.
        let mut broken = encoded(16, 16, ImageFormat::Png);
        broken.truncate(40);
        assert!(prepare(&broken).is_err());
        assert!(
            prepare(&encoded(3000, 10, ImageFormat::Png))
                .unwrap_err()
                .contains("at most 2048")
        );
    }
}
