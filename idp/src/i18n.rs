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
    pub otp_title: &'static str,
    pub otp_intro: &'static str,
    pub totp_label: &'static str,
    pub recovery_label: &'static str,
    pub use_recovery: &'static str,
    pub use_totp: &'static str,
    pub verify: &'static str,
    pub code_failed: &'static str,
    pub locked: &'static str,
    pub no_method: &'static str,
    pub account_title: &'static str,
    pub methods_title: &'static str,
    pub password_method: &'static str,
    pub totp_method: &'static str,
    pub recovery_method: &'static str,
    pub active: &'static str,
    pub not_set_up: &'static str,
    pub set_up: &'static str,
    pub remove: &'static str,
    pub unused: &'static str,
    pub new_codes: &'static str,
    pub codes_intro: &'static str,
    pub back_to_account: &'static str,
    pub sessions_title: &'static str,
    pub this_session: &'static str,
    pub signed_in_at: &'static str,
    pub last_active: &'static str,
    pub end_session: &'static str,
    pub consents_title: &'static str,
    pub withdraw: &'static str,
    pub none_yet: &'static str,
    pub totp_setup_title: &'static str,
    pub totp_setup_intro: &'static str,
    pub qr_alt: &'static str,
    pub manual_key: &'static str,
    pub confirm: &'static str,
    pub sign_out: &'static str,
    pub locked_subject: &'static str,
    pub locked_body: &'static str,
    pub changed_subject: &'static str,
    /// `{change}` stands for what changed.
    pub changed_body: &'static str,
    pub change_totp_added: &'static str,
    pub change_totp_removed: &'static str,
    pub change_recovery: &'static str,
    pub change_passkey_added: &'static str,
    pub change_passkey_removed: &'static str,
    pub webauthn_intro: &'static str,
    pub webauthn_use: &'static str,
    pub webauthn_failed: &'static str,
    pub passkeys_method: &'static str,
    pub passkey_name: &'static str,
    pub add_passkey: &'static str,
    pub certificate_use: &'static str,
    pub certificate_failed: &'static str,
    pub use_sms: &'static str,
    pub use_email: &'static str,
    pub send_code: &'static str,
    pub send_intro_sms: &'static str,
    pub send_intro_email: &'static str,
    pub sms_label: &'static str,
    pub email_label: &'static str,
    pub code_subject: &'static str,
    pub code_body: &'static str,
    pub too_many_codes: &'static str,
    pub activity_title: &'static str,
    pub ev_signed_in: &'static str,
    pub ev_failed: &'static str,
    pub ev_locked: &'static str,
    pub ev_unlocked: &'static str,
    pub ev_enrolled: &'static str,
    pub ev_removed: &'static str,
    pub ev_consent_withdrawn: &'static str,
    pub ev_session_ended: &'static str,
    pub ev_code_sent: &'static str,
    pub ev_token_replayed: &'static str,
    pub ev_password_changed: &'static str,
    pub unlock_intro: &'static str,
    pub unlock_title: &'static str,
    pub unlock_factor_intro: &'static str,
    pub unlocked_notice: &'static str,
    pub unlocked_subject: &'static str,
    pub unlocked_body: &'static str,
    pub ev_self_unlocked: &'static str,
    pub back_to_sign_in: &'static str,
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
    otp_title: "Additional verification",
    otp_intro: "This service needs a stronger sign-in. Confirm it is you with a second method.",
    totp_label: "6-digit code from your authenticator app",
    recovery_label: "Recovery code",
    use_recovery: "Use a recovery code instead",
    use_totp: "Use your authenticator app",
    verify: "Verify",
    code_failed: "The code is not correct.",
    locked: "Too many failed attempts. You can try again after {time}.",
    no_method: "Your account has no method that reaches the level this service needs. Set one up in your account.",
    account_title: "Your account",
    methods_title: "Sign-in methods",
    password_method: "Password",
    totp_method: "Authenticator app",
    recovery_method: "Recovery codes",
    active: "Active",
    not_set_up: "Not set up",
    set_up: "Set up",
    remove: "Remove",
    unused: "unused",
    new_codes: "Create new recovery codes",
    codes_intro: "Keep these codes somewhere safe. Each works once, and they are shown only now. Earlier codes no longer work.",
    back_to_account: "Back to your account",
    sessions_title: "Where you are signed in",
    this_session: "this browser",
    signed_in_at: "Signed in",
    last_active: "last active",
    end_session: "End",
    consents_title: "Services you allowed",
    withdraw: "Withdraw",
    none_yet: "None.",
    totp_setup_title: "Set up an authenticator app",
    totp_setup_intro: "Scan this QR code with your authenticator app, or type in the key. Then enter the code the app shows.",
    qr_alt: "QR code for your authenticator app",
    manual_key: "Key",
    confirm: "Confirm",
    sign_out: "Sign out",
    locked_subject: "A sign-in method of your account was locked",
    locked_body: "There were too many failed attempts to sign in to your account. The method is locked for a while. If this was not you, change your password.",
    changed_subject: "Your sign-in methods were changed",
    changed_body: "A change was made to how you sign in to your account: {change}. If this was not you, contact the help desk at once and end your other sessions on your account page.",
    change_totp_added: "an authenticator app was set up",
    change_totp_removed: "the authenticator app was removed",
    change_recovery: "new recovery codes were created",
    change_passkey_added: "a security key or passkey was added",
    change_passkey_removed: "a security key or passkey was removed",
    webauthn_intro: "Confirm with your security key or passkey.",
    webauthn_use: "Use security key or passkey",
    webauthn_failed: "The security key or passkey could not be verified. Try again.",
    passkeys_method: "Security keys and passkeys",
    passkey_name: "Name of the new key",
    add_passkey: "Add a security key or passkey",
    certificate_use: "Sign in with a certificate or eID card",
    certificate_failed: "No valid certificate of a known account was presented.",
    use_sms: "Get a code by text message",
    use_email: "Get a code by e-mail",
    send_code: "Send the code",
    send_intro_sms: "We will send a code to the mobile number registered with your account.",
    send_intro_email: "We will send a code to the e-mail address registered with your account.",
    sms_label: "Code from the text message",
    email_label: "Code from the e-mail",
    code_subject: "Your sign-in code",
    code_body: "Your sign-in code is {code}. It is valid for 5 minutes. If you did not try to sign in, ignore this message.",
    too_many_codes: "Too many codes were sent recently. Wait a few minutes and try again.",
    activity_title: "Recent activity",
    ev_signed_in: "Signed in",
    ev_failed: "Failed sign-in attempt",
    ev_locked: "Sign-in method locked",
    ev_unlocked: "Sign-in methods unlocked by the help desk",
    ev_enrolled: "Sign-in method added",
    ev_removed: "Sign-in method removed",
    ev_consent_withdrawn: "Consent withdrawn",
    ev_session_ended: "Session ended",
    ev_code_sent: "Sign-in code sent",
    ev_token_replayed: "A service’s access was withdrawn because a used sign-in link came back",
    ev_password_changed: "Password changed",
    unlock_intro: "You can unlock your password now by confirming it is you with another of your sign-in methods:",
    unlock_title: "Unlock your password",
    unlock_factor_intro: "Confirm it is you with another sign-in method. Your password will then work again.",
    unlocked_notice: "Your password is unlocked. Sign in again.",
    unlocked_subject: "Your password was unlocked",
    unlocked_body: "Your password was unlocked by someone who confirmed your identity with another of your sign-in methods. If this was not you, change your password and contact the help desk.",
    ev_self_unlocked: "Password unlocked with another sign-in method",
    back_to_sign_in: "Back to sign in",
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
    otp_title: "További ellenőrzés",
    otp_intro: "Ez a szolgáltatás erősebb bejelentkezést igényel. Igazolja magát egy második módszerrel.",
    totp_label: "A hitelesítő alkalmazás 6 jegyű kódja",
    recovery_label: "Helyreállítási kód",
    use_recovery: "Helyreállítási kód használata",
    use_totp: "Hitelesítő alkalmazás használata",
    verify: "Ellenőrzés",
    code_failed: "A kód nem megfelelő.",
    locked: "Túl sok sikertelen próbálkozás. {time} után próbálkozhat újra.",
    no_method: "Fiókjában nincs olyan módszer, amely eléri a szolgáltatás által igényelt szintet. Állítson be egyet a fiókjában.",
    account_title: "Az Ön fiókja",
    methods_title: "Bejelentkezési módszerek",
    password_method: "Jelszó",
    totp_method: "Hitelesítő alkalmazás",
    recovery_method: "Helyreállítási kódok",
    active: "Aktív",
    not_set_up: "Nincs beállítva",
    set_up: "Beállítás",
    remove: "Eltávolítás",
    unused: "felhasználatlan",
    new_codes: "Új helyreállítási kódok",
    codes_intro: "Tartsa biztonságos helyen ezeket a kódokat. Mindegyik egyszer használható, és csak most láthatók. A korábbi kódok érvénytelenek.",
    back_to_account: "Vissza a fiókhoz",
    sessions_title: "Ahol be van jelentkezve",
    this_session: "ez a böngésző",
    signed_in_at: "Bejelentkezve",
    last_active: "utoljára aktív",
    end_session: "Befejezés",
    consents_title: "Engedélyezett szolgáltatások",
    withdraw: "Visszavonás",
    none_yet: "Nincs.",
    totp_setup_title: "Hitelesítő alkalmazás beállítása",
    totp_setup_intro: "Olvassa be ezt a QR-kódot a hitelesítő alkalmazással, vagy írja be a kulcsot. Ezután adja meg az alkalmazás által mutatott kódot.",
    qr_alt: "QR-kód a hitelesítő alkalmazáshoz",
    manual_key: "Kulcs",
    confirm: "Megerősítés",
    sign_out: "Kijelentkezés",
    locked_subject: "Fiókja egyik bejelentkezési módszerét zároltuk",
    locked_body: "Túl sok sikertelen bejelentkezési kísérlet történt a fiókjába. A módszert egy időre zároltuk. Ha nem Ön volt, változtassa meg jelszavát.",
    changed_subject: "Megváltoztak bejelentkezési módjai",
    changed_body: "Megváltozott, hogyan jelentkezik be fiókjába: {change}. Ha nem Ön volt, azonnal forduljon az ügyfélszolgálathoz, és fiókja oldalán zárja le többi munkamenetét.",
    change_totp_added: "hitelesítő alkalmazást állítottak be",
    change_totp_removed: "a hitelesítő alkalmazást eltávolították",
    change_recovery: "új helyreállító kódok készültek",
    change_passkey_added: "biztonsági kulcsot vagy azonosítókulcsot adtak hozzá",
    change_passkey_removed: "biztonsági kulcsot vagy azonosítókulcsot távolítottak el",
    webauthn_intro: "Erősítse meg biztonsági kulcsával vagy azonosítókulcsával (passkey).",
    webauthn_use: "Biztonsági kulcs vagy passkey használata",
    webauthn_failed: "A biztonsági kulcsot vagy a passkeyt nem sikerült ellenőrizni. Próbálja újra.",
    passkeys_method: "Biztonsági kulcsok és passkeyek",
    passkey_name: "Az új kulcs neve",
    add_passkey: "Biztonsági kulcs vagy passkey hozzáadása",
    certificate_use: "Bejelentkezés tanúsítvánnyal vagy eSzemélyivel",
    certificate_failed: "Nem érkezett érvényes, ismert fiókhoz tartozó tanúsítvány.",
    use_sms: "Kód kérése SMS-ben",
    use_email: "Kód kérése e-mailben",
    send_code: "Kód küldése",
    send_intro_sms: "Kódot küldünk a fiókjához tartozó mobilszámra.",
    send_intro_email: "Kódot küldünk a fiókjához tartozó e-mail-címre.",
    sms_label: "Az SMS-ben kapott kód",
    email_label: "Az e-mailben kapott kód",
    code_subject: "Bejelentkezési kódja",
    code_body: "Bejelentkezési kódja: {code}. 5 percig érvényes. Ha nem Ön próbált bejelentkezni, hagyja figyelmen kívül ezt az üzenetet.",
    too_many_codes: "Túl sok kódot küldtünk az utóbbi időben. Várjon néhány percet, és próbálja újra.",
    activity_title: "Legutóbbi események",
    ev_signed_in: "Bejelentkezés",
    ev_failed: "Sikertelen bejelentkezési kísérlet",
    ev_locked: "Bejelentkezési módszer zárolva",
    ev_unlocked: "Az ügyfélszolgálat feloldotta a bejelentkezési módszerek zárolását",
    ev_enrolled: "Bejelentkezési módszer hozzáadva",
    ev_removed: "Bejelentkezési módszer eltávolítva",
    ev_consent_withdrawn: "Hozzájárulás visszavonva",
    ev_session_ended: "Munkamenet befejezve",
    ev_code_sent: "Bejelentkezési kód elküldve",
    ev_token_replayed: "Egy szolgáltatás hozzáférését visszavontuk, mert egy már felhasznált bejelentkezési hivatkozást újra beküldtek",
    ev_password_changed: "Jelszó megváltoztatva",
    unlock_intro: "Jelszavát most is feloldhatja, ha egy másik bejelentkezési módszerével igazolja magát:",
    unlock_title: "Jelszó feloldása",
    unlock_factor_intro: "Igazolja magát egy másik bejelentkezési módszerrel, és jelszava újra használható lesz.",
    unlocked_notice: "Jelszava zárolását feloldottuk. Jelentkezzen be újra.",
    unlocked_subject: "Jelszava zárolását feloldották",
    unlocked_body: "Jelszava zárolását valaki feloldotta, aki egy másik bejelentkezési módszerével igazolta magát. Ha nem Ön volt, változtassa meg jelszavát, és forduljon az ügyfélszolgálathoz.",
    ev_self_unlocked: "Jelszó feloldva egy másik bejelentkezési módszerrel",
    back_to_sign_in: "Vissza a bejelentkezéshez",
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
    otp_title: "Дополнительная проверка",
    otp_intro: "Этому сервису нужен более надёжный вход. Подтвердите свою личность вторым способом.",
    totp_label: "6-значный код из приложения-аутентификатора",
    recovery_label: "Код восстановления",
    use_recovery: "Использовать код восстановления",
    use_totp: "Использовать приложение-аутентификатор",
    verify: "Подтвердить",
    code_failed: "Неверный код.",
    locked: "Слишком много неудачных попыток. Повторить попытку можно после {time}.",
    no_method: "В вашей учётной записи нет способа входа нужного уровня. Настройте его в учётной записи.",
    account_title: "Ваша учётная запись",
    methods_title: "Способы входа",
    password_method: "Пароль",
    totp_method: "Приложение-аутентификатор",
    recovery_method: "Коды восстановления",
    active: "Активен",
    not_set_up: "Не настроено",
    set_up: "Настроить",
    remove: "Удалить",
    unused: "не использовано",
    new_codes: "Создать новые коды",
    codes_intro: "Сохраните эти коды в надёжном месте. Каждый действует один раз и показан только сейчас. Прежние коды больше не действуют.",
    back_to_account: "Вернуться в учётную запись",
    sessions_title: "Где выполнен вход",
    this_session: "этот браузер",
    signed_in_at: "Вход выполнен",
    last_active: "последняя активность",
    end_session: "Завершить",
    consents_title: "Разрешённые сервисы",
    withdraw: "Отозвать",
    none_yet: "Нет.",
    totp_setup_title: "Настройка приложения-аутентификатора",
    totp_setup_intro: "Отсканируйте QR-код приложением-аутентификатором или введите ключ вручную. Затем введите код, который покажет приложение.",
    qr_alt: "QR-код для приложения-аутентификатора",
    manual_key: "Ключ",
    confirm: "Подтвердить",
    sign_out: "Выйти",
    locked_subject: "Способ входа в вашу учётную запись заблокирован",
    locked_body: "Было слишком много неудачных попыток входа в вашу учётную запись. Способ входа временно заблокирован. Если это были не вы, смените пароль.",
    changed_subject: "Способы входа в вашу учётную запись изменены",
    changed_body: "Изменён способ входа в вашу учётную запись: {change}. Если это были не вы, немедленно обратитесь в службу поддержки и завершите другие сеансы на странице учётной записи.",
    change_totp_added: "подключено приложение-аутентификатор",
    change_totp_removed: "приложение-аутентификатор удалено",
    change_recovery: "созданы новые коды восстановления",
    change_passkey_added: "добавлен ключ безопасности или ключ доступа",
    change_passkey_removed: "удалён ключ безопасности или ключ доступа",
    webauthn_intro: "Подтвердите вход ключом безопасности или ключом доступа (passkey).",
    webauthn_use: "Использовать ключ безопасности или passkey",
    webauthn_failed: "Не удалось проверить ключ безопасности или passkey. Попробуйте ещё раз.",
    passkeys_method: "Ключи безопасности и passkey",
    passkey_name: "Название нового ключа",
    add_passkey: "Добавить ключ безопасности или passkey",
    certificate_use: "Войти с сертификатом или eID-картой",
    certificate_failed: "Не предъявлен действительный сертификат известной учётной записи.",
    use_sms: "Получить код по SMS",
    use_email: "Получить код по электронной почте",
    send_code: "Отправить код",
    send_intro_sms: "Мы отправим код на номер телефона, указанный в вашей учётной записи.",
    send_intro_email: "Мы отправим код на адрес электронной почты, указанный в вашей учётной записи.",
    sms_label: "Код из SMS",
    email_label: "Код из письма",
    code_subject: "Ваш код для входа",
    code_body: "Ваш код для входа: {code}. Он действует 5 минут. Если вы не пытались войти, проигнорируйте это сообщение.",
    too_many_codes: "Недавно было отправлено слишком много кодов. Подождите несколько минут и попробуйте снова.",
    activity_title: "Недавние события",
    ev_signed_in: "Вход",
    ev_failed: "Неудачная попытка входа",
    ev_locked: "Способ входа заблокирован",
    ev_unlocked: "Служба поддержки сняла блокировку способов входа",
    ev_enrolled: "Добавлен способ входа",
    ev_removed: "Удалён способ входа",
    ev_consent_withdrawn: "Согласие отозвано",
    ev_session_ended: "Сеанс завершён",
    ev_code_sent: "Отправлен код для входа",
    ev_token_replayed: "Доступ сервиса отозван: уже использованная ссылка для входа была предъявлена повторно",
    ev_password_changed: "Пароль изменён",
    unlock_intro: "Вы можете разблокировать пароль сейчас, подтвердив личность другим способом входа:",
    unlock_title: "Разблокировка пароля",
    unlock_factor_intro: "Подтвердите личность другим способом входа, и пароль снова заработает.",
    unlocked_notice: "Пароль разблокирован. Войдите снова.",
    unlocked_subject: "Ваш пароль разблокирован",
    unlocked_body: "Ваш пароль разблокировал человек, подтвердивший личность другим вашим способом входа. Если это были не вы, смените пароль и обратитесь в службу поддержки.",
    ev_self_unlocked: "Пароль разблокирован другим способом входа",
    back_to_sign_in: "Вернуться ко входу",
};

impl Texts {
    /// How an audit event is shown to the citizen it concerns.
    pub fn event(&self, kind: crate::audit::Kind) -> &'static str {
        use crate::audit::Kind;
        match kind {
            Kind::SignedIn => self.ev_signed_in,
            Kind::SignInFailed => self.ev_failed,
            Kind::FactorLocked => self.ev_locked,
            Kind::FactorUnlocked => self.ev_unlocked,
            Kind::FactorSelfUnlocked => self.ev_self_unlocked,
            Kind::FactorEnrolled => self.ev_enrolled,
            Kind::FactorRemoved => self.ev_removed,
            Kind::ConsentWithdrawn => self.ev_consent_withdrawn,
            Kind::SessionEnded => self.ev_session_ended,
            Kind::CodeSent => self.ev_code_sent,
            Kind::TokenReplayed => self.ev_token_replayed,
            Kind::PasswordChanged => self.ev_password_changed,
        }
    }
}

impl Lang {
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::Hu => &HU,
            Lang::Ru => &RU,
        }
    }

    /// A moment as people write it in this language, in UTC (the pages' script shows it
    /// in the reader's own time zone): "1 December 2026, 20:36 UTC".
    pub fn datetime(self, t: i64) -> String {
        let (y, m, d, hh, mm) = civil(t);
        let month = |names: [&'static str; 12]| names[(m - 1) as usize];
        match self {
            Lang::En => format!("{d} {} {y}, {hh:02}:{mm:02} UTC", month(EN_MONTHS)),
            Lang::Hu => format!("{y}. {} {d}. {hh:02}:{mm:02} UTC", month(HU_MONTHS)),
            Lang::Ru => format!("{d} {} {y} г., {hh:02}:{mm:02} UTC", month(RU_MONTHS)),
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

const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const HU_MONTHS: [&str; 12] = [
    "január",
    "február",
    "március",
    "április",
    "május",
    "június",
    "július",
    "augusztus",
    "szeptember",
    "október",
    "november",
    "december",
];
/// In the genitive, as after a day number.
const RU_MONTHS: [&str; 12] = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
];

/// A Unix time as (year, month, day, hour, minute) in UTC (H. Hinnant's days-to-civil).
pub fn civil(t: i64) -> (i64, i64, i64, i64, i64) {
    let (days, secs) = (t.div_euclid(86400), t.rem_euclid(86400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs / 3600, secs % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_written_in_each_language() {
        let t = 1_795_000_000; // 2026-11-18 11:06 UTC
        assert_eq!(Lang::En.datetime(t), "18 November 2026, 11:06 UTC");
        assert_eq!(Lang::Hu.datetime(t), "2026. november 18. 11:06 UTC");
        assert_eq!(Lang::Ru.datetime(t), "18 ноября 2026 г., 11:06 UTC");
        assert_eq!(civil(0), (1970, 1, 1, 0, 0));
        assert_eq!(civil(951_782_400), (2000, 2, 29, 0, 0));
    }

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
