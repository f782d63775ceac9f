//! Changing the e-mail address, the mobile number or the name. Like a change of factors it
//! needs a fresh step-up to the citizen's strongest level (the caller checks it). A new
//! address must show that it reaches the citizen: a code is sent there; a corrected name is
//! confirmed by a code sent to the citizen's own address. The change is made only when the
//! code comes back, on the one factor-check path (counted, locked, audited); the citizen is
//! then told at the address that was on the account before, so that a change they did not
//! make does not go unnoticed.

use crate::audit::{self, Entry, Kind};
use crate::i18n::Lang;
use crate::login::factors::{self, Attempt, Checked, Refusal};
use crate::notify::{self, Channel, Message};
use crate::oidc::error::{ErrorCode, OidcError, OidcResult};
use crate::service::Service;
use crate::store::users::{self, User};
use crate::store::{challenges, rate_limits};
use authenticators::Factor;
use authenticators::FactorKind;
use authenticators::code::{OneTimeCode, SentCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

const PURPOSE: &str = "contact-change";
/// At most this many codes to new addresses per account in `WINDOW` seconds.
const PER_WINDOW: i32 = 3;
const WINDOW: i64 = 600;

/// Which detail changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Contact {
    Email,
    Phone,
    /// The name the account shows and gives to services (the `name` claim).
    Name,
}

impl Contact {
    pub fn parse(s: &str) -> Option<Contact> {
        match s {
            "email" => Some(Contact::Email),
            "phone" => Some(Contact::Phone),
            "name" => Some(Contact::Name),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Contact::Email => "email",
            Contact::Phone => "phone",
            Contact::Name => "name",
        }
    }
}

/// A change waiting for its code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub contact: Contact,
    /// Where the code went: the new address, or for a name the citizen's own.
    pub to: String,
    /// The corrected name (a change of name only).
    #[serde(default)]
    new_name: Option<String>,
    /// The code went by SMS.
    #[serde(default)]
    by_sms: bool,
    sent: SentCode,
}

impl Pending {
    /// The code factor that confirms the change.
    fn factor(&self) -> FactorKind {
        if self.by_sms {
            FactorKind::SmsCode
        } else {
            FactorKind::EmailCode
        }
    }
}

/// Why a change was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not an e-mail address, not a mobile number in E.164 form, or an empty or overlong
    /// name.
    Invalid,
    /// A name cannot be confirmed: the account has no address to send a code to.
    NoAddress,
    /// The code was wrong or has run out.
    Code(Refusal),
}

/// Sends a code to the new address (for a name, to the citizen's own); the change waits
/// for it.
pub fn start(
    svc: &Service,
    user_id: &str,
    contact: Contact,
    value: &str,
    lang: Lang,
    now: i64,
) -> OidcResult<Result<Pending, Refused>> {
    let (to, new_name, by_sms) = match contact {
        Contact::Email => match crate::admin::users::email(value) {
            Ok(to) => (to, None, false),
            Err(_) => return Ok(Err(Refused::Invalid)),
        },
        Contact::Phone => match crate::admin::users::phone(value) {
            Ok(to) => (to, None, true),
            Err(_) => return Ok(Err(Refused::Invalid)),
        },
        Contact::Name => {
            let Ok(name) = crate::admin::users::name(value) else {
                return Ok(Err(Refused::Invalid));
            };
            let user = svc
                .db
                .run(|c| users::find(c, user_id))?
                .ok_or_else(|| OidcError::invalid_request("the account no longer exists"))?;
            match (user.email, user.phone) {
                (Some(e), _) => (e, Some(name), false),
                (None, Some(p)) => (p, Some(name), true),
                (None, None) => return Ok(Err(Refused::NoAddress)),
            }
        }
    };
    let t = lang.texts();
    let key = format!("contact:{user_id}");
    if svc.db.tx(|c| rate_limits::hit(c, &key, WINDOW, now))? > PER_WINDOW {
        return Err(OidcError::new(ErrorCode::SlowDown, t.too_many_codes));
    }
    let factor = if by_sms {
        OneTimeCode::sms()
    } else {
        OneTimeCode::email()
    };
    let issued = factor.begin(&(), now);
    let pending = Pending {
        contact,
        to: to.clone(),
        new_name,
        by_sms,
        sent: issued.sent,
    };
    let state = serde_json::to_string(&pending).map_err(OidcError::server)?;
    svc.db.tx(|c| {
        challenges::clear(c, user_id, PURPOSE)?;
        challenges::insert(
            c,
            &crate::crypto::random_token(),
            user_id,
            PURPOSE,
            &state,
            pending.sent.expires_at,
        )?;
        let detail = json!({ "factor": pending.factor().name(), "purpose": PURPOSE });
        audit::append(c, entry(Kind::CodeSent, user_id, detail), now)
    })?;
    let (subject, body) = match contact {
        Contact::Name => (t.name_code_subject, t.name_code_body),
        _ => (t.contact_code_subject, t.contact_code_body),
    };
    let message = Message {
        channel: if by_sms { Channel::Sms } else { Channel::Email },
        to,
        subject: subject.into(),
        body: body.replace("{code}", &issued.code),
    };
    svc.notifier.send(&message).map_err(|e| {
        tracing::error!(error = %e, "a code to a new address could not be sent");
        OidcError::new(
            ErrorCode::TemporarilyUnavailable,
            "the code could not be sent; try again later",
        )
    })?;
    Ok(Ok(pending))
}

/// The change waiting for its code, if any.
pub fn pending(svc: &Service, user_id: &str, now: i64) -> OidcResult<Option<Pending>> {
    let state = svc
        .db
        .run(|c| challenges::latest(c, user_id, PURPOSE, now))?;
    Ok(state.and_then(|(_, s)| serde_json::from_str(&s).ok()))
}

fn entry<'a>(kind: Kind, user_id: &'a str, detail: serde_json::Value) -> Entry<'a> {
    Entry {
        kind,
        user_id: Some(user_id),
        client_id: None,
        detail,
    }
}

/// Makes the change if `code` is the one sent; the citizen is told at the address (or
/// number) that was on the account before.
pub fn confirm(
    svc: &Service,
    user_id: &str,
    code: &str,
    lang: Lang,
    now: i64,
) -> OidcResult<Result<Contact, Refused>> {
    let Some(pending) = pending(svc, user_id, now)? else {
        return Ok(Err(Refused::Code(Refusal::Wrong)));
    };
    let result = svc.db.tx(|c| {
        let attempt = Attempt {
            subject: user_id,
            factor: pending.factor(),
            ip: None,
            client_id: None,
            rule: svc.rules().lockout,
        };
        let verify = |c: &mut crate::store::AnyConnection| {
            let Some((id, state)) = challenges::latest(c, user_id, PURPOSE, now)? else {
                return Ok(None);
            };
            let Ok(p) = serde_json::from_str::<Pending>(&state) else {
                return Ok(None);
            };
            if authenticators::code::check(&p.sent, code, now).is_err() {
                return Ok(None);
            }
            Ok(challenges::take(c, &id, user_id, PURPOSE, now)?.map(|_| p))
        };
        match factors::check(c, attempt, now, verify)? {
            Checked::Accepted(p) => {
                let Some(before) = users::find(c, user_id)? else {
                    return Ok(Ok(None));
                };
                let mut after = before.clone();
                match p.contact {
                    Contact::Email => {
                        after.email = Some(p.to.clone());
                        after.email_verified = true;
                    }
                    Contact::Phone => {
                        after.phone = Some(p.to.clone());
                        after.phone_verified = true;
                    }
                    Contact::Name => after.name = p.new_name.clone(),
                }
                after.updated_at = now;
                users::update_profile(c, &after)?;
                // The addresses are personal data: the log says what changed, not to what.
                let detail = json!({ "changed": p.contact.name(), "by": "citizen" });
                audit::append(c, entry(Kind::ContactChanged, user_id, detail), now)?;
                Ok(Ok(Some((before, p))))
            }
            Checked::Refused(r) => Ok(Err(r)),
        }
    })?;
    match result {
        Ok(Some((before, p))) => {
            tell_old_address(svc, &before, &p, lang);
            Ok(Ok(p.contact))
        }
        Ok(None) => Err(OidcError::invalid_request("the account no longer exists")),
        Err(r) => Ok(Err(Refused::Code(r))),
    }
}

/// Tells the citizen, at the address that was on the account before.
fn tell_old_address(svc: &Service, before: &User, p: &Pending, lang: Lang) {
    let t = lang.texts();
    let change = match p.contact {
        Contact::Name => t.change_name,
        _ => t.change_contact,
    };
    let body = t.changed_body.replace("{change}", change);
    let mut old = before.clone();
    // The notice goes where the old detail pointed, when there was one.
    if p.contact == Contact::Phone && before.phone.is_some() {
        old.email = None;
    }
    notify::tell(svc, &old, t.changed_subject, &body);
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000;

    /// The code in the one message sent to `to`.
    fn code_sent_to(svc: &Service, to: &str) -> String {
        let body = svc
            .outbox_for_tests()
            .into_iter()
            .find(|m| m.to == to)
            .expect("a message")
            .body;
        body.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .unwrap()
            .to_string()
    }

    #[test]
    fn a_new_address_counts_only_once_its_code_comes_back() {
        let (_dir, svc) = crate::service::for_tests();
        let invalid = start(&svc, "u-anna", Contact::Email, "not-an-email", Lang::En, T0);
        assert!(matches!(invalid, Ok(Err(Refused::Invalid))));
        let p = start(
            &svc,
            "u-anna",
            Contact::Email,
            "anna@new.example",
            Lang::En,
            T0,
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.to, "anna@new.example");
        let code = code_sent_to(&svc, "anna@new.example");
        // Nothing changes until the code comes back; a wrong one is counted.
        let user = |svc: &Service| svc.db.run(|c| users::find(c, "u-anna")).unwrap().unwrap();
        assert_eq!(user(&svc).email.as_deref(), Some("anna@example.invalid"));
        let wrong = confirm(&svc, "u-anna", "000000", Lang::En, T0 + 1).unwrap();
        assert_eq!(wrong, Err(Refused::Code(Refusal::Wrong)));
        assert_eq!(
            confirm(&svc, "u-anna", &code, Lang::En, T0 + 2).unwrap(),
            Ok(Contact::Email)
        );
        assert_eq!(user(&svc).email.as_deref(), Some("anna@new.example"));
        // Single use; and the old address was told.
        assert!(
            confirm(&svc, "u-anna", &code, Lang::En, T0 + 3)
                .unwrap()
                .is_err()
        );
        let told = svc
            .outbox_for_tests()
            .iter()
            .any(|m| m.to == "anna@example.invalid" && m.subject.contains("changed"));
        assert!(told, "the old address is told");
        let kinds: Vec<_> = svc
            .db
            .run(|c| crate::audit::of_user(c, "u-anna", 1))
            .unwrap()
            .iter()
            .filter_map(|e| e.kind())
            .collect();
        assert_eq!(kinds, [Kind::ContactChanged]);

        // A mobile number likewise, and the number it proved is verified.
        assert!(!user(&svc).phone_verified);
        start(
            &svc,
            "u-anna",
            Contact::Phone,
            "+36301234567",
            Lang::En,
            T0 + 10,
        )
        .unwrap()
        .unwrap();
        let code = code_sent_to(&svc, "+36301234567");
        assert_eq!(
            confirm(&svc, "u-anna", &code, Lang::En, T0 + 11).unwrap(),
            Ok(Contact::Phone)
        );
        let after = user(&svc);
        assert_eq!(after.phone.as_deref(), Some("+36301234567"));
        assert!(after.phone_verified);
    }

    /// A corrected name is confirmed by a code to the citizen's own address.
    #[test]
    fn a_corrected_name_counts_only_once_the_code_to_the_citizen_comes_back() {
        let (_dir, svc) = crate::service::for_tests();
        for bad in ["", "   ", "Anna\u{7}", &"x".repeat(201)] {
            let r = start(&svc, "u-anna", Contact::Name, bad, Lang::En, T0);
            assert!(matches!(r, Ok(Err(Refused::Invalid))), "{bad:?}");
        }
        let p = start(&svc, "u-anna", Contact::Name, " Anna Kovács ", Lang::Hu, T0)
            .unwrap()
            .unwrap();
        assert_eq!(p.to, "anna@example.invalid");
        let mail = svc
            .outbox_for_tests()
            .into_iter()
            .find(|m| m.to == "anna@example.invalid")
            .expect("a code");
        assert_eq!(mail.subject, Lang::Hu.texts().name_code_subject);
        let code = code_sent_to(&svc, "anna@example.invalid");
        let name = |svc: &Service| {
            svc.db
                .run(|c| users::find(c, "u-anna"))
                .unwrap()
                .unwrap()
                .name
        };
        assert_eq!(name(&svc), None);
        let wrong = confirm(&svc, "u-anna", "000000", Lang::Hu, T0 + 1).unwrap();
        assert_eq!(wrong, Err(Refused::Code(Refusal::Wrong)));
        assert_eq!(name(&svc), None);
        assert_eq!(
            confirm(&svc, "u-anna", &code, Lang::Hu, T0 + 2).unwrap(),
            Ok(Contact::Name)
        );
        assert_eq!(name(&svc).as_deref(), Some("Anna Kovács"));
        let told = svc.outbox_for_tests().iter().any(|m| {
            m.to == "anna@example.invalid" && m.body.contains(Lang::Hu.texts().change_name)
        });
        assert!(told, "the citizen is told");
        let events = svc
            .db
            .run(|c| crate::audit::of_user(c, "u-anna", 1))
            .unwrap();
        assert_eq!(events[0].kind(), Some(Kind::ContactChanged));
        assert!(
            events[0].detail.contains("\"name\""),
            "{}",
            events[0].detail
        );
        assert!(
            !events[0].detail.contains("Kovács"),
            "the log keeps no personal data"
        );
    }

    #[test]
    fn a_name_cannot_be_confirmed_without_an_address() {
        let (_dir, svc) = crate::service::for_tests();
        svc.db
            .tx(|c| {
                let mut u = users::find(c, "u-anna")?.unwrap();
                u.email = None;
                u.phone = None;
                users::update_profile(c, &u)
            })
            .unwrap();
        let r = start(&svc, "u-anna", Contact::Name, "Anna", Lang::En, T0);
        assert!(matches!(r, Ok(Err(Refused::NoAddress))));
        assert!(svc.outbox_for_tests().is_empty());
    }
}
