//! What an authorization request needs from the citizen, given their browser session:
//! a login, an account choice, consent, or nothing more. Pure logic; time is a value.

pub mod factors;
pub mod flow;
pub mod lockout;
pub mod logout;
pub mod session;

use crate::oidc::authorize::{AuthorizeRequest, Prompt};
use crate::oidc::error::{ErrorCode, OidcError};
use crate::policy::{Policy, Requirement};
use crate::store::sessions::BrowserSession;
use authenticators::FactorKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Login,
    /// Another factor is needed; any of these (enrolled by the citizen) helps.
    StepUp(Vec<FactorKind>),
    SelectAccount,
    Consent,
    Issue,
    Fail(OidcError),
}

/// What the login transaction knows about the session it runs in.
pub struct Situation<'a> {
    pub session: Option<&'a BrowserSession>,
    /// The session's `sub` as the requesting client sees it (`oidc::subject`), when an
    /// `id_token_hint` is to be compared with it.
    pub subject: Option<&'a str>,
    /// The citizen authenticated, or chose the account, within this transaction.
    pub confirmed_in_transaction: bool,
    /// Scopes the citizen has consented to for this client.
    pub consented: &'a [String],
    /// The citizen answered the consent page within this transaction.
    pub consented_in_transaction: bool,
    pub policy: &'a Policy,
    /// The factors the session's user has enrolled.
    pub enrolled: &'a [FactorKind],
    pub now: i64,
}

/// What a login asks of the citizen's authentication: from a client's authorization
/// request, or from the account pages (no client, no consent).
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub prompt: &'a [Prompt],
    pub max_age: Option<i64>,
    /// The subject of a valid `id_token_hint`.
    pub hint_subject: Option<&'a str>,
    pub requirement: Requirement,
    /// The scopes that need the citizen's consent.
    pub scopes: &'a [String],
}

impl<'a> Ask<'a> {
    pub fn of_request(req: &'a AuthorizeRequest) -> Ask<'a> {
        Ask {
            prompt: &req.prompt,
            max_age: req.max_age,
            hint_subject: req.hint_subject.as_deref(),
            requirement: req.requirement,
            scopes: &req.scopes,
        }
    }

    fn has_prompt(&self, p: Prompt) -> bool {
        self.prompt.contains(&p)
    }
}

pub fn decide(req: &Ask, s: &Situation) -> Next {
    let none = req.has_prompt(Prompt::None);
    let need = |code: ErrorCode, what: &str, interactive: Next| {
        if none {
            Next::Fail(OidcError::new(code, what))
        } else {
            interactive
        }
    };
    let Some(session) = s.session else {
        return need(
            ErrorCode::LoginRequired,
            "the user is not signed in",
            Next::Login,
        );
    };

    if !s.confirmed_in_transaction {
        if req.has_prompt(Prompt::Login) {
            return Next::Login;
        }
        // max_age=0 is prompt=login (OIDC Core 3.1.2.1), whatever the clock resolution.
        if let Some(max_age) = req.max_age
            && (max_age == 0 || s.now - session.auth_time > max_age)
        {
            return need(
                ErrorCode::LoginRequired,
                "the authentication is older than max_age",
                Next::Login,
            );
        }
        if let Some(hint) = req.hint_subject
            && Some(hint) != s.subject
        {
            return need(
                ErrorCode::LoginRequired,
                "the signed-in user is not the one in id_token_hint",
                Next::Login,
            );
        }
    }

    let done = session.factor_list();
    let level = req.requirement.level;
    if !s.policy.satisfies(&done, level) {
        let helpful = s.policy.helpful(&done, s.enrolled, level);
        if !helpful.is_empty() {
            // Step-up: only what is missing, in the same session.
            return need(
                ErrorCode::LoginRequired,
                "a stronger authentication is required",
                Next::StepUp(helpful),
            );
        }
    }
    if !s.policy.satisfies(&done, level) && req.requirement.mandatory {
        if s.confirmed_in_transaction {
            // The citizen signed in just now with everything they have.
            return Next::Fail(OidcError::new(
                ErrorCode::UnmetAuthenticationRequirements,
                "the required level of assurance could not be reached",
            ));
        }
        return need(
            ErrorCode::LoginRequired,
            "a stronger authentication is required",
            Next::Login,
        );
    }

    if !s.confirmed_in_transaction && req.has_prompt(Prompt::SelectAccount) {
        return Next::SelectAccount;
    }

    let all_consented = req.scopes.iter().all(|sc| s.consented.contains(sc));
    if !s.consented_in_transaction && (req.has_prompt(Prompt::Consent) || !all_consented) {
        return need(
            ErrorCode::ConsentRequired,
            "the user has not consented to these scopes",
            Next::Consent,
        );
    }
    Next::Issue
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Level, Requirement};

    fn req(
        prompt: Vec<Prompt>,
        max_age: Option<i64>,
        level: Level,
        mandatory: bool,
    ) -> AuthorizeRequest {
        AuthorizeRequest {
            client_id: "c".into(),
            redirect_uri: "https://rp/cb".into(),
            scopes: vec!["openid".into(), "email".into()],
            state: None,
            nonce: None,
            code_challenge: None,
            prompt,
            max_age,
            login_hint: None,
            hint_subject: None,
            ui_locales: vec![],
            acr_values: vec![],
            claims: None,
            requirement: Requirement { level, mandatory },
            response_mode: Default::default(),
            dpop_jkt: None,
        }
    }

    fn ask(
        prompt: Vec<Prompt>,
        max_age: Option<i64>,
        level: Level,
        mandatory: bool,
    ) -> Ask<'static> {
        let r = Box::leak(Box::new(req(prompt, max_age, level, mandatory)));
        Ask::of_request(r)
    }

    fn session(auth_time: i64) -> BrowserSession {
        BrowserSession {
            id: "h".into(),
            sid: "sid".into(),
            user_id: "u1".into(),
            acr: Level::Low.acr().into(),
            amr: r#"["pwd"]"#.into(),
            auth_time,
            created_at: auth_time,
            last_seen: auth_time,
            idle_expires_at: auth_time + 900,
            expires_at: auth_time + 3600,
            factors: r#"["password"]"#.into(),
            device: None,
        }
    }

    fn consented() -> Vec<String> {
        vec!["openid".into(), "email".into()]
    }

    #[test]
    fn no_session_needs_login_or_fails_with_prompt_none() {
        let s = Situation {
            session: None,
            subject: None,
            confirmed_in_transaction: false,
            consented: &[],
            consented_in_transaction: false,
            policy: &Policy::default(),
            enrolled: &[FactorKind::Password],
            now: 100,
        };
        assert_eq!(
            decide(&ask(vec![], None, Level::Low, false), &s),
            Next::Login
        );
        let Next::Fail(e) = decide(&ask(vec![Prompt::None], None, Level::Low, false), &s) else {
            panic!()
        };
        assert_eq!(e.code, ErrorCode::LoginRequired);
    }

    #[test]
    fn max_age_and_prompt_login_force_a_new_login_once() {
        let sess = session(100);
        let c = consented();
        let s = Situation {
            session: Some(&sess),
            subject: None,
            confirmed_in_transaction: false,
            consented: &c,
            consented_in_transaction: false,
            policy: &Policy::default(),
            enrolled: &[FactorKind::Password],
            now: 200,
        };
        assert_eq!(
            decide(&ask(vec![], Some(50), Level::Low, false), &s),
            Next::Login
        );
        assert_eq!(
            decide(&ask(vec![], Some(150), Level::Low, false), &s),
            Next::Issue
        );
        assert_eq!(
            decide(&ask(vec![Prompt::Login], None, Level::Low, false), &s),
            Next::Login
        );
        let after = Situation {
            confirmed_in_transaction: true,
            ..s
        };
        assert_eq!(
            decide(
                &ask(vec![Prompt::Login], Some(0), Level::Low, false),
                &after
            ),
            Next::Issue
        );
    }

    #[test]
    fn consent_is_asked_when_missing_or_prompted() {
        let sess = session(100);
        let s = Situation {
            session: Some(&sess),
            subject: None,
            confirmed_in_transaction: false,
            consented: &[],
            consented_in_transaction: false,
            policy: &Policy::default(),
            enrolled: &[FactorKind::Password],
            now: 101,
        };
        assert_eq!(
            decide(&ask(vec![], None, Level::Low, false), &s),
            Next::Consent
        );
        let Next::Fail(e) = decide(&ask(vec![Prompt::None], None, Level::Low, false), &s) else {
            panic!()
        };
        assert_eq!(e.code, ErrorCode::ConsentRequired);
        let c = consented();
        let s = Situation { consented: &c, ..s };
        assert_eq!(
            decide(&ask(vec![Prompt::Consent], None, Level::Low, false), &s),
            Next::Consent
        );
        let answered = Situation {
            consented_in_transaction: true,
            ..s
        };
        assert_eq!(
            decide(
                &ask(vec![Prompt::Consent], None, Level::Low, false),
                &answered
            ),
            Next::Issue
        );
    }

    #[test]
    fn a_mandatory_level_that_cannot_be_reached_fails_after_login() {
        let sess = session(100);
        let c = consented();
        let s = Situation {
            session: Some(&sess),
            subject: None,
            confirmed_in_transaction: false,
            consented: &c,
            consented_in_transaction: false,
            policy: &Policy::default(),
            enrolled: &[FactorKind::Password],
            now: 101,
        };
        assert_eq!(
            decide(&ask(vec![], None, Level::High, true), &s),
            Next::Login
        );
        let after = Situation {
            confirmed_in_transaction: true,
            ..s
        };
        let Next::Fail(e) = decide(&ask(vec![], None, Level::High, true), &after) else {
            panic!()
        };
        assert_eq!(e.code, ErrorCode::UnmetAuthenticationRequirements);
        // Voluntary acr_values give the best achievable level instead.
        assert_eq!(
            decide(&ask(vec![], None, Level::High, false), &after),
            Next::Issue
        );
    }

    #[test]
    fn select_account_is_asked_once() {
        let sess = session(100);
        let c = consented();
        let s = Situation {
            session: Some(&sess),
            subject: None,
            confirmed_in_transaction: false,
            consented: &c,
            consented_in_transaction: false,
            policy: &Policy::default(),
            enrolled: &[FactorKind::Password],
            now: 101,
        };
        assert_eq!(
            decide(
                &ask(vec![Prompt::SelectAccount], None, Level::Low, false),
                &s
            ),
            Next::SelectAccount
        );
        let after = Situation {
            confirmed_in_transaction: true,
            ..s
        };
        assert_eq!(
            decide(
                &ask(vec![Prompt::SelectAccount], None, Level::Low, false),
                &after
            ),
            Next::Issue
        );
    }
}
