//! Texts of the citizen-facing pages in English, Hungarian and Russian, and the choice of
//! language from `ui_locales` or the browser's `Accept-Language`.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Hu,
    Ru,
}

pub struct Texts {
    pub code: &'static str,
    pub sign_in_title: &'static str,
    pub signing_in_to: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub sign_in: &'static str,
    pub login_failed: &'static str,
    pub consent_title: &'static str,
    pub consent_intro: &'static str,
    pub allow: &'static str,
    pub deny: &'static str,
    pub scope_openid: &'static str,
    pub scope_profile: &'static str,
    pub scope_email: &'static str,
    pub select_title: &'static str,
    pub continue_as: &'static str,
    pub use_another: &'static str,
    pub error_title: &'static str,
    pub error_hint: &'static str,
    pub logout_title: &'static str,
    pub logout_question: &'static str,
    pub logout_button: &'static str,
    pub logged_out: &'static str,
    pub required: &'static str,
}

static EN: Texts = Texts {
    code: "en",
    sign_in_title: "Sign in",
    signing_in_to: "You are signing in to",
    username: "Username",
    password: "Password",
    sign_in: "Sign in",
    login_failed: "The username or password is incorrect.",
    consent_title: "Allow access",
    consent_intro: "This service asks for access to the following information about you:",
    allow: "Allow",
    deny: "Deny",
    scope_openid: "Your identifier in this service",
    scope_profile: "Your name and username",
    scope_email: "Your e-mail address",
    select_title: "Choose an account",
    continue_as: "Continue as",
    use_another: "Use another account",
    error_title: "The request cannot be completed",
    error_hint: "Go back to the service you came from and try again.",
    logout_title: "Sign out",
    logout_question: "Do you want to sign out?",
    logout_button: "Sign out",
    logged_out: "You have been signed out.",
    required: "required",
};

static HU: Texts = Texts {
    code: "hu",
    sign_in_title: "Bejelentkezés",
    signing_in_to: "Ebbe a szolgáltatásba jelentkezik be:",
    username: "Felhasználónév",
    password: "Jelszó",
    sign_in: "Bejelentkezés",
    login_failed: "A felhasználónév vagy a jelszó hibás.",
    consent_title: "Hozzáférés engedélyezése",
    consent_intro: "Ez a szolgáltatás a következő adataihoz kér hozzáférést:",
    allow: "Engedélyezem",
    deny: "Elutasítom",
    scope_openid: "Az Ön azonosítója ebben a szolgáltatásban",
    scope_profile: "Az Ön neve és felhasználóneve",
    scope_email: "Az Ön e-mail-címe",
    select_title: "Fiók kiválasztása",
    continue_as: "Folytatás mint",
    use_another: "Másik fiók használata",
    error_title: "A kérés nem teljesíthető",
    error_hint: "Térjen vissza a szolgáltatáshoz, ahonnan érkezett, és próbálja újra.",
    logout_title: "Kijelentkezés",
    logout_question: "Ki szeretne jelentkezni?",
    logout_button: "Kijelentkezés",
    logged_out: "Sikeresen kijelentkezett.",
    required: "kötelező",
};

static RU: Texts = Texts {
    code: "ru",
    sign_in_title: "Вход",
    signing_in_to: "Вы входите в сервис",
    username: "Имя пользователя",
    password: "Пароль",
    sign_in: "Войти",
    login_failed: "Неверное имя пользователя или пароль.",
    consent_title: "Разрешение доступа",
    consent_intro: "Этот сервис запрашивает доступ к следующим сведениям о вас:",
    allow: "Разрешить",
    deny: "Отклонить",
    scope_openid: "Ваш идентификатор в этом сервисе",
    scope_profile: "Ваше имя и имя пользователя",
    scope_email: "Ваш адрес электронной почты",
    select_title: "Выберите учётную запись",
    continue_as: "Продолжить как",
    use_another: "Войти в другую учётную запись",
    error_title: "Запрос не может быть выполнен",
    error_hint: "Вернитесь в сервис, из которого вы пришли, и попробуйте снова.",
    logout_title: "Выход",
    logout_question: "Вы хотите выйти?",
    logout_button: "Выйти",
    logged_out: "Вы вышли из системы.",
    required: "обязательно",
};

impl Lang {
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::Hu => &HU,
            Lang::Ru => &RU,
        }
    }

    fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.trim().to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "hu" => Some(Lang::Hu),
            "ru" => Some(Lang::Ru),
            _ => None,
        }
    }

    /// The first supported language of `ui_locales` (in the request's order), else the
    /// best of `Accept-Language` by quality, else English.
    pub fn choose(ui_locales: &[String], accept_language: Option<&str>) -> Lang {
        if let Some(l) = ui_locales.iter().find_map(|t| Lang::from_tag(t)) {
            return l;
        }
        let mut best: Option<(f32, Lang)> = None;
        for part in accept_language.unwrap_or("").split(',') {
            let mut it = part.split(';');
            let Some(lang) = it.next().and_then(Lang::from_tag) else {
                continue;
            };
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_locales_win_then_accept_language_by_quality() {
        assert_eq!(
            Lang::choose(&["de".into(), "hu-HU".into()], Some("ru")),
            Lang::Hu
        );
        assert_eq!(
            Lang::choose(&[], Some("de;q=1, ru;q=0.8, en;q=0.5")),
            Lang::Ru
        );
        assert_eq!(Lang::choose(&[], Some("hu;q=0, en")), Lang::En);
        assert_eq!(Lang::choose(&[], None), Lang::En);
    }
}
