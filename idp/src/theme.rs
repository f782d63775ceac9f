//! The operator's look of the citizen-facing pages: the name and logo in the header, the
//! main colour, and the help, privacy and accessibility links in the footer.
//!
//! ```toml
//! [theme]
//! name = "Government Sign-in"
//! names = { hu = "Kormányzati bejelentkezés" }
//! logo_file = "/etc/idp/logo.svg"
//! colour = "#1d4ed8"
//! help_url = "https://gov.example/help"
//! privacy_url = "https://gov.example/privacy"
//! accessibility_url = "https://gov.example/accessibility"
//! ```

use crate::i18n::Lang;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The `[theme]` table of the configuration file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThemeConfig {
    /// The operator's name in the header [default: the texts' own "Sign-in service"].
    pub name: Option<String>,
    /// The name in other languages, by language tag (`hu`, `ru`, `kk`).
    #[serde(default)]
    pub names: BTreeMap<String, String>,
    /// An SVG or PNG logo shown before the name (at most 256 KiB).
    pub logo_file: Option<PathBuf>,
    /// The header's and main buttons' colour, `#rrggbb`; white text on it must keep the
    /// 4.5:1 contrast WCAG 2.2 AA asks for.
    pub colour: Option<String>,
    pub help_url: Option<String>,
    pub privacy_url: Option<String>,
    pub accessibility_url: Option<String>,
}

/// A logo as served at `/static/logo`.
#[derive(Debug, Clone)]
pub struct Logo {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

/// The checked theme.
#[derive(Debug, Default, Clone)]
pub struct Theme {
    name: Option<String>,
    names: BTreeMap<Lang, String>,
    pub logo: Option<Logo>,
    pub colour: Option<String>,
    pub help_url: Option<String>,
    pub privacy_url: Option<String>,
    pub accessibility_url: Option<String>,
}

const MAX_LOGO: u64 = 256 * 1024;

impl Theme {
    pub fn from_config(c: ThemeConfig) -> Result<Theme, String> {
        let mut names = BTreeMap::new();
        for (tag, name) in c.names {
            let lang = Lang::from_tag(&tag)
                .ok_or_else(|| format!("theme.names: unknown language {tag}"))?;
            names.insert(lang, non_empty("theme.names", name)?);
        }
        let name = c.name.map(|n| non_empty("theme.name", n)).transpose()?;
        let colour = c.colour.map(|c| checked_colour(&c)).transpose()?;
        let logo = c.logo_file.map(|p| read_logo(&p)).transpose()?;
        let url = |field: &str, u: Option<String>| -> Result<Option<String>, String> {
            u.map(|u| match url::Url::parse(&u) {
                Ok(p) if p.scheme() == "https" || p.scheme() == "http" => Ok(u),
                _ => Err(format!("theme.{field}: not an http(s) URL: {u}")),
            })
            .transpose()
        };
        Ok(Theme {
            name,
            names,
            logo,
            colour,
            help_url: url("help_url", c.help_url)?,
            privacy_url: url("privacy_url", c.privacy_url)?,
            accessibility_url: url("accessibility_url", c.accessibility_url)?,
        })
    }

    /// The operator's name in `lang`: its own, else the configured name, else none (the
    /// pages then say "Sign-in service" in the reader's language).
    pub fn name(&self, lang: Lang) -> Option<&str> {
        self.names
            .get(&lang)
            .or(self.name.as_ref())
            .map(String::as_str)
    }

    /// The stylesheet that sets the main colour, when one is configured.
    pub fn stylesheet(&self) -> Option<String> {
        self.colour
            .as_ref()
            .map(|c| format!(":root {{ --brand: {c}; }}\n"))
    }
}

fn non_empty(field: &str, s: String) -> Result<String, String> {
    let s = s.trim().to_string();
    if s.is_empty() || s.chars().count() > 80 {
        return Err(format!("{field}: 1 to 80 characters"));
    }
    Ok(s)
}

/// `#rrggbb`, dark enough that white text on it has a contrast of at least 4.5:1.
fn checked_colour(c: &str) -> Result<String, String> {
    let hex = c
        .strip_prefix('#')
        .filter(|h| h.len() == 6 && h.chars().all(|ch| ch.is_ascii_hexdigit()))
        .ok_or_else(|| format!("theme.colour: not #rrggbb: {c}"))?;
    let channel = |i: usize| {
        let v = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0)) / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
    let contrast = 1.05 / (luminance + 0.05);
    if contrast < 4.5 {
        return Err(format!(
            "theme.colour: white text on {c} has a contrast of {contrast:.2}:1; WCAG 2.2 AA needs 4.5:1"
        ));
    }
    Ok(c.to_ascii_lowercase())
}

fn read_logo(path: &std::path::Path) -> Result<Logo, String> {
    let shown = path.display();
    let content_type = match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("svg") => "image/svg+xml",
        Some(e) if e.eq_ignore_ascii_case("png") => "image/png",
        _ => return Err(format!("theme.logo_file: {shown}: an .svg or .png file")),
    };
    let size = std::fs::metadata(path)
        .map_err(|e| format!("theme.logo_file: {shown}: {e}"))?
        .len();
    if size > MAX_LOGO {
        return Err(format!("theme.logo_file: {shown}: larger than 256 KiB"));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("theme.logo_file: {shown}: {e}"))?;
    Ok(Logo {
        bytes,
        content_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_must_keep_contrast_with_white_text() {
        assert_eq!(checked_colour("#1D4ED8").unwrap(), "#1d4ed8");
        assert!(checked_colour("#000000").is_ok());
        // Yellow and a light grey fail; so do other notations.
        assert!(checked_colour("#facc15").unwrap_err().contains("4.5:1"));
        assert!(checked_colour("#949494").is_err());
        assert!(checked_colour("1d4ed8").is_err());
        assert!(checked_colour("#1d4ed").is_err());
        assert!(checked_colour("blue").is_err());
    }

    #[test]
    fn names_fall_back_to_the_configured_one() {
        let theme = Theme::from_config(ThemeConfig {
            name: Some("Gov Sign-in".into()),
            names: [("hu".to_string(), "Kormányzati belépés".to_string())].into(),
            ..ThemeConfig::default()
        })
        .unwrap();
        assert_eq!(theme.name(Lang::Hu), Some("Kormányzati belépés"));
        assert_eq!(theme.name(Lang::Ru), Some("Gov Sign-in"));
        assert_eq!(Theme::default().name(Lang::En), None);
        let bad = ThemeConfig {
            names: [("xx".to_string(), "?".to_string())].into(),
            ..ThemeConfig::default()
        };
        assert!(
            Theme::from_config(bad)
                .unwrap_err()
                .contains("unknown language")
        );
    }

    #[test]
    fn links_must_be_web_addresses_and_logos_images() {
        let bad = ThemeConfig {
            help_url: Some("javascript:alert(1)".into()),
            ..ThemeConfig::default()
        };
        assert!(Theme::from_config(bad).is_err());
        let not_image = ThemeConfig {
            logo_file: Some("/etc/passwd".into()),
            ..ThemeConfig::default()
        };
        assert!(
            Theme::from_config(not_image)
                .unwrap_err()
                .contains(".svg or .png")
        );
    }
}
