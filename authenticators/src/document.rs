//! Identity documents for registration: the details a citizen gives (kind, number, issuing
//! country, expiry), or reads off the document's machine-readable zone (MRZ, ICAO 9303
//! TD1, TD2 and TD3 layouts), whose check digits are verified here; and the face printed
//! on the document's photograph, compared with the live face at a threshold of its own
//! (a printed portrait photographed by a phone scores lower against a live capture than
//! two live captures do). Knows nothing of HTTP or storage.

use crate::face::{FaceEngine, Unusable};
use image::RgbImage;
use matcher::face::{FaceLocation, MAX_DETECT_SIDE};
use matcher::{MatcherError, Template};

/// The kinds of document accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    Passport,
    IdCard,
    ResidencePermit,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 3] = [
        DocumentKind::Passport,
        DocumentKind::IdCard,
        DocumentKind::ResidencePermit,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DocumentKind::Passport => "passport",
            DocumentKind::IdCard => "id_card",
            DocumentKind::ResidencePermit => "residence_permit",
        }
    }

    pub fn parse(s: &str) -> Option<DocumentKind> {
        DocumentKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// A calendar date (from a form or an MRZ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// A real date of the Gregorian calendar, or none.
    pub fn new(year: i32, month: u32, day: u32) -> Option<Date> {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        ((1..=days).contains(&day) && (1900..=2200).contains(&year)).then_some(Date {
            year,
            month,
            day,
        })
    }

    /// The date of a Unix time (UTC).
    pub fn of_unix(t: i64) -> Date {
        // Howard Hinnant's civil-from-days.
        let z = t.div_euclid(86_400) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// `YYYY-MM-DD`.
    pub fn iso(self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    pub fn parse_iso(s: &str) -> Option<Date> {
        let mut it = s.split('-');
        let (y, m, d) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
    }
}

/// What identifies a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub kind: DocumentKind,
    /// Upper-case letters and digits.
    pub number: String,
    /// ICAO 9303 three-letter code of the issuing state (`HUN`, `KAZ`, `D` for Germany).
    pub country: String,
    pub expires: Date,
    /// The holder's date of birth (a minor's enrolment needs a guardian).
    pub born: Date,
    /// Read from the MRZ with every check digit right.
    pub mrz_checked: bool,
}

impl Document {
    /// The holder's age in whole years on `today`.
    pub fn age_on(&self, today: Date) -> i32 {
        let had_birthday = (today.month, today.day) >= (self.born.month, self.born.day);
        today.year - self.born.year - i32::from(!had_birthday)
    }
}

/// What is wrong with the details given, by field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Kind,
    Number,
    Country,
    Expires,
    /// No date of birth, or one in the future.
    Born,
    /// The document's validity has ended.
    Expired,
    /// Not a machine-readable zone of a known layout.
    MrzUnreadable,
    /// A check digit does not match: a misread or a forged line.
    MrzCheckDigit,
}

/// The details as typed: the number is upper-cased and stripped of spaces and dashes.
pub fn entered(
    kind: &str,
    number: &str,
    country: &str,
    expires: Option<Date>,
    born: Option<Date>,
    today: Date,
) -> Result<Document, Vec<Problem>> {
    let mut problems = Vec::new();
    let kind = DocumentKind::parse(kind);
    if kind.is_none() {
        problems.push(Problem::Kind);
    }
    let number: String = number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect();
    if !(5..=20).contains(&number.len()) || !number.chars().all(|c| c.is_ascii_alphanumeric()) {
        problems.push(Problem::Number);
    }
    let country = country.trim().to_ascii_uppercase();
    if !valid_country(&country) {
        problems.push(Problem::Country);
    }
    match expires {
        None => problems.push(Problem::Expires),
        Some(d) if d < today => problems.push(Problem::Expired),
        Some(_) => {}
    }
    let born = born.filter(|b| *b <= today);
    if born.is_none() {
        problems.push(Problem::Born);
    }
    match (kind, expires, born) {
        (Some(kind), Some(expires), Some(born)) if problems.is_empty() => Ok(Document {
            kind,
            number,
            country,
            expires,
            born,
            mrz_checked: false,
        }),
        _ => Err(problems),
    }
}

/// A state code as ICAO writes it: three letters, or one or two padded with `<` in the
/// MRZ (Germany is `D`).
fn valid_country(c: &str) -> bool {
    (1..=3).contains(&c.len()) && c.chars().all(|ch| ch.is_ascii_uppercase())
}

/// ICAO 9303 check digit: weights 7, 3, 1 over digits, letters (A = 10) and `<` (0).
pub fn check_digit(field: &str) -> Option<u32> {
    let mut sum = 0;
    for (i, c) in field.chars().enumerate() {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            '<' => 0,
            _ => return None,
        };
        sum += v * [7, 3, 1][i % 3];
    }
    Some(sum % 10)
}

fn digit_ok(field: &str, check: char) -> bool {
    let expected = check_digit(field);
    // A field left empty may carry `<` as its check digit.
    expected.is_some()
        && (check.to_digit(10) == expected || (check == '<' && field.chars().all(|c| c == '<')))
}

/// A `YYMMDD` date of the MRZ: an expiry lies within 50 years either side of today, a
/// birth in the century up to today.
fn mrz_date(s: &str, today: Date, birth: bool) -> Option<Date> {
    if s.len() != 6 || !s.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let yy: i32 = s[0..2].parse().ok()?;
    let century = today.year - today.year.rem_euclid(100);
    let mut year = century + yy;
    if birth && year > today.year {
        year -= 100;
    } else if !birth && year < today.year - 50 {
        year += 100;
    }
    Date::new(year, s[2..4].parse().ok()?, s[4..6].parse().ok()?)
}

/// Reads a machine-readable zone as typed or pasted (lines separated by line breaks;
/// spaces ignored; lower case accepted) and checks every check digit.
pub fn read_mrz(text: &str, today: Date) -> Result<Document, Problem> {
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            l.chars()
                .filter(|c| !c.is_whitespace())
                .flat_map(char::to_uppercase)
                .collect::<String>()
        })
        .filter(|l| !l.is_empty())
        .collect();
    if lines
        .iter()
        .any(|l| !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '<'))
    {
        return Err(Problem::MrzUnreadable);
    }
    let lens: Vec<usize> = lines.iter().map(String::len).collect();
    // Each field with its check digit, by layout.
    let (code, state, number, born, expiry, composite, composite_check) = match lens.as_slice() {
        // TD1 (ID cards): 3 lines of 30.
        [30, 30, 30] => {
            let (a, b) = (&lines[0], &lines[1]);
            let composite = format!("{}{}{}{}", &a[5..30], &b[0..7], &b[8..15], &b[18..29]);
            (
                &a[0..2],
                &a[2..5],
                (&a[5..14], a.as_bytes()[14]),
                (&b[0..6], b.as_bytes()[6]),
                (&b[8..14], b.as_bytes()[14]),
                composite,
                b.as_bytes()[29],
            )
        }
        // TD2 (36) and TD3 (passports, 44): 2 lines, the same second-line layout.
        [n @ (36 | 44), m] if n == m => {
            let (a, b) = (&lines[0], &lines[1]);
            let last = n - 1;
            let composite = format!("{}{}{}", &b[0..10], &b[13..20], &b[21..last]);
            (
                &a[0..2],
                &a[2..5],
                (&b[0..9], b.as_bytes()[9]),
                (&b[13..19], b.as_bytes()[19]),
                (&b[21..27], b.as_bytes()[27]),
                composite,
                b.as_bytes()[last],
            )
        }
        _ => return Err(Problem::MrzUnreadable),
    };
    let checks = [number, born, expiry, (composite.as_str(), composite_check)];
    if !checks.iter().all(|(f, c)| digit_ok(f, *c as char)) {
        return Err(Problem::MrzCheckDigit);
    }
    let kind = match code.as_bytes()[0] {
        b'P' => DocumentKind::Passport,
        b'I' | b'A' | b'C' if code.as_bytes().get(1) == Some(&b'R') => {
            DocumentKind::ResidencePermit
        }
        b'I' | b'A' | b'C' => DocumentKind::IdCard,
        _ => return Err(Problem::MrzUnreadable),
    };
    let expires = mrz_date(expiry.0, today, false).ok_or(Problem::MrzUnreadable)?;
    if expires < today {
        return Err(Problem::Expired);
    }
    let born = mrz_date(born.0, today, true).ok_or(Problem::MrzUnreadable)?;
    let number = number.0.trim_end_matches('<').to_string();
    let country = state.trim_end_matches('<').to_string();
    if number.is_empty() || !valid_country(&country) {
        return Err(Problem::MrzUnreadable);
    }
    Ok(Document {
        kind,
        number,
        country,
        expires,
        born,
        mrz_checked: true,
    })
}

/// The largest side of a document photo that is accepted.
pub const MAX_PHOTO_SIDE: u32 = 6000;

/// Decodes a photo of a document (JPEG, PNG or WebP, as a phone's camera or a file gives).
pub fn decode_photo(bytes: &[u8]) -> Result<RgbImage, Unusable> {
    crate::picture::decode_limited(bytes, MAX_PHOTO_SIDE)
}

/// The face printed on the document: the largest one found (a document often carries a
/// second, smaller "ghost" portrait), as a template.
pub fn face_of(
    engine: &FaceEngine,
    photo: &RgbImage,
) -> Result<Result<Template, Unusable>, MatcherError> {
    let pipeline = engine.pipeline();
    let long_side = photo.width().max(photo.height());
    let scale = (f64::from(MAX_DETECT_SIDE) / f64::from(long_side.max(1))).min(1.0);
    let small = if scale < 1.0 {
        let w = ((f64::from(photo.width()) * scale).round() as u32).max(1);
        let h = ((f64::from(photo.height()) * scale).round() as u32).max(1);
        image::imageops::resize(photo, w, h, image::imageops::FilterType::Triangle)
    } else {
        photo.clone()
    };
    // A portrait is small in a photo of the whole document: look again, harder.
    let mut found = pipeline.detector().detect(&small, false)?;
    if found.is_empty() {
        found = pipeline.detector().detect(&small, true)?;
    }
    let Some(largest) = found.iter().max_by_key(|d| {
        (d.face_box.right - d.face_box.left) * (d.face_box.bottom - d.face_box.top)
    }) else {
        return Ok(Err(Unusable::NoFace));
    };
    let b = largest.face_box;
    let up = |v: i64| (v as f64 / scale).round() as i64;
    let face_box = matcher::face::landmarks::FaceBox {
        left: up(b.left),
        top: up(b.top),
        right: up(b.right),
        bottom: up(b.bottom),
    };
    match pipeline.template(photo, FaceLocation::Box(face_box)) {
        Ok(t) => Ok(Ok(t)),
        Err(e) => match crate::face::unusable(&e) {
            Some(u) => Ok(Err(u)),
            None => Err(e),
        },
    }
}

/// Compares the live face with the document's at the cross-capture threshold; the cosine
/// score comes back either way (the clerk sees it).
pub fn matches(live: &Template, document: &Template) -> Result<(bool, f32), MatcherError> {
    let score = live.cosine(document)?;
    Ok((score >= matcher::thresholds::DOCUMENT_COSINE, score))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TODAY: Date = Date {
        year: 2026,
        month: 12,
        day: 6,
    };

    #[test]
    fn check_digits_are_those_of_icao_9303() {
        // ICAO 9303 part 3, 4.9: the worked example.
        assert_eq!(check_digit("520727"), Some(3));
        assert_eq!(check_digit("L898902C3"), Some(6));
        assert_eq!(check_digit("AB2134<<<"), Some(5));
        assert_eq!(check_digit("a"), None);
    }

    /// The specimens of ICAO 9303 with their expiry moved into the future (and the check
    /// digits recomputed from the rule).
    #[test]
    fn the_three_layouts_are_read_and_checked() {
        let td3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n\
                   L898902C36UTO7408122F3204153ZE184226B<<<<<16";
        let d = read_mrz(td3, TODAY).expect("TD3");
        assert_eq!(d.kind, DocumentKind::Passport);
        assert_eq!(
            (d.number.as_str(), d.country.as_str()),
            ("L898902C3", "UTO")
        );
        assert_eq!(d.expires, Date::new(2032, 4, 15).unwrap());
        assert_eq!(d.born, Date::new(1974, 8, 12).unwrap());
        assert_eq!(d.age_on(TODAY), 52);
        assert!(d.mrz_checked);

        let td1 = "I<UTOD231458907<<<<<<<<<<<<<<<\n\
                   7408122F3204153UTO<<<<<<<<<<<2\n\
                   ERIKSSON<<ANNA<MARIA<<<<<<<<<<";
        let d = read_mrz(td1, TODAY).expect("TD1");
        assert_eq!(d.kind, DocumentKind::IdCard);
        assert_eq!(d.number, "D23145890");

        let td2 = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\n\
                   D231458907UTO7408122F3204153<<<<<<<2";
        let d = read_mrz(td2, TODAY).expect("TD2");
        assert_eq!(d.number, "D23145890");
    }

    #[test]
    fn a_misread_or_changed_character_fails_its_check_digit() {
        let changed = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n\
                       L898902C46UTO7408122F3204153ZE184226B<<<<<16";
        assert_eq!(read_mrz(changed, TODAY), Err(Problem::MrzCheckDigit));
        // The expiry moved without its check digit.
        let later = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n\
                     L898902C36UTO7408122F3304153ZE184226B<<<<<16";
        assert_eq!(read_mrz(later, TODAY), Err(Problem::MrzCheckDigit));
        assert_eq!(read_mrz("P<UTO", TODAY), Err(Problem::MrzUnreadable));
        assert_eq!(read_mrz("", TODAY), Err(Problem::MrzUnreadable));
    }

    #[test]
    fn an_expired_document_is_refused() {
        // The original specimen expired on 15 April 2012.
        let expired = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n\
                       L898902C36UTO7408122F1204159ZE184226B<<<<<10";
        assert_eq!(read_mrz(expired, TODAY), Err(Problem::Expired));
        let typed = entered(
            "passport",
            "ab 123 456",
            "hun",
            Date::new(2020, 1, 1),
            Date::new(1990, 1, 1),
            TODAY,
        );
        assert_eq!(typed, Err(vec![Problem::Expired]));
    }

    #[test]
    fn typed_details_are_normalised_and_each_bad_field_named() {
        let d = entered(
            "id_card",
            "ab-123 456",
            "hun",
            Date::new(2030, 2, 28),
            Date::new(2010, 12, 7),
            TODAY,
        )
        .unwrap();
        assert_eq!((d.number.as_str(), d.country.as_str()), ("AB123456", "HUN"));
        assert!(!d.mrz_checked);
        assert_eq!(d.age_on(TODAY), 15, "sixteen tomorrow");
        assert_eq!(
            entered("visa", "1", "H1", None, Date::new(2027, 1, 1), TODAY),
            Err(vec![
                Problem::Kind,
                Problem::Number,
                Problem::Country,
                Problem::Expires,
                Problem::Born
            ])
        );
    }

    #[test]
    fn dates_are_real_and_unix_times_fall_on_their_day() {
        assert!(Date::new(2028, 2, 29).is_some());
        assert!(Date::new(2027, 2, 29).is_none());
        assert_eq!(Date::of_unix(0), Date::new(1970, 1, 1).unwrap());
        assert_eq!(
            Date::of_unix(1_796_515_200),
            Date::new(2026, 12, 6).unwrap()
        );
        assert_eq!(Date::parse_iso("2030-02-28"), Date::new(2030, 2, 28));
        assert_eq!(Date::parse_iso("2030-2-28"), None);
    }
}
