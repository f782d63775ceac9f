//! What a new password must be (NIST SP 800-63B, 3.1.1.2): at least 8 characters, counted
//! as Unicode code points, at most 256; not a common, breached or guessable password, nor
//! built from the account's own name, username or e-mail address. The guessability check
//! is zxcvbn's estimate (score 3 of 4 at least: "safely unguessable", about 10^8 guesses).
//! No composition rules (digits, symbols), no expiry: the guideline advises against both.

use zxcvbn::Score;

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 256;

/// Why a password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weakness {
    TooShort,
    TooLong,
    /// Common, breached, a keyboard pattern, a date, or made of the account's own data.
    Guessable,
}

impl Weakness {
    /// For administrators (the CLI and the Admin API); the citizen's pages say it in
    /// their language.
    pub fn describe(self) -> String {
        match self {
            Weakness::TooShort => format!("the password must have at least {MIN_CHARS} characters"),
            Weakness::TooLong => format!("the password must have at most {MAX_CHARS} characters"),
            Weakness::Guessable => {
                "the password is too easy to guess: it is common, follows a pattern, or contains the account's own name; a few unrelated words make a strong one".into()
            }
        }
    }
}

/// Checks a new password; `personal` are the account's username, name and e-mail address.
pub fn check(password: &str, personal: &[&str]) -> Result<(), Weakness> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(Weakness::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(Weakness::TooLong);
    }
    // zxcvbn's cost grows with the length; beyond 100 characters its estimate of the
    // prefix already says enough.
    let prefix: String = password.chars().take(100).collect();
    let mut inputs: Vec<&str> = Vec::new();
    for p in personal.iter().filter(|p| !p.is_empty()) {
        inputs.push(p);
        inputs.extend(p.split(['@', '.', ' ', '_', '-']).filter(|w| w.len() >= 3));
    }
    if zxcvbn::zxcvbn(&prefix, &inputs).score() < Score::Three {
        return Err(Weakness::Guessable);
    }
    // zxcvbn rates any password of three parts at 10^8 guesses at least, however
    // guessable each part is ("annakovacs1990"): the account's own words count for
    // nothing, so what remains without them must be unguessable by itself.
    let lower = prefix.to_lowercase();
    let mut words: Vec<String> = inputs
        .iter()
        .map(|w| w.to_lowercase())
        .filter(|w| w.chars().count() >= 3)
        .collect();
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    let mut rest = lower.clone();
    for w in &words {
        rest = rest.replace(w.as_str(), " ");
    }
    if rest != lower && zxcvbn::zxcvbn(rest.trim(), &[]).score() < Score::Three {
        return Err(Weakness::Guessable);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_short_common_and_personal_passwords() {
        assert_eq!(check("abc", &[]), Err(Weakness::TooShort));
        assert_eq!(check("password", &[]), Err(Weakness::Guessable));
        assert_eq!(check("12345678", &[]), Err(Weakness::Guessable));
        assert_eq!(check("qwertyuiop", &[]), Err(Weakness::Guessable));
        assert_eq!(
            check(
                "annakovacs1990",
                &["annak", "Anna Kovács", "anna.kovacs@example.hu"]
            ),
            Err(Weakness::Guessable)
        );
        assert_eq!(
            check("maria@example.gov", &["maria", "", "maria@example.gov"]),
            Err(Weakness::Guessable)
        );
        assert_eq!(
            check(&"x".repeat(MAX_CHARS + 1), &[]),
            Err(Weakness::TooLong)
        );
    }

    #[test]
    fn accepts_long_unrelated_words_in_any_script() {
        assert_eq!(check("correct horse battery staple", &["anna"]), Ok(()));
        // The account's own words are no help, but no harm either.
        assert_eq!(
            check("anna correct horse battery staple", &["anna"]),
            Ok(())
        );
        assert_eq!(check("тихий вечер над рекой", &[]), Ok(()));
        assert_eq!(check("sárga villamos éjfélkor", &[]), Ok(()));
    }
}
