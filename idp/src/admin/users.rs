//! Citizens' accounts: create, change the name and contact data, disable and enable,
//! unlock, set the password, remove, list, show.
//!
//! Usernames are 1-128 letters, digits and `. _ - @ +`, beginning with a letter or digit;
//! e-mail addresses are checked by `email_address` (an address with a domain name, no
//! display name); mobile numbers are E.164 (`+36301234567`); postal addresses are the
//! parts of OIDC Core 5.1.1, each bounded text (see `address`); passwords follow
//! `policy::password` (NIST SP 800-63B).

use super::{
    Actor, AdminError, AdminResult, Context, Resource, Subject, display_text, invalid, record,
};
use crate::audit::Kind;
use crate::crypto;
use crate::oidc::backchannel;
use crate::policy::password;
use crate::store::users::{self as store, Address, Credential, PASSWORD, User};
use crate::store::{AnyConnection, lockouts, sessions, transactions};
use serde::Serialize;
use serde_json::{Map, Value, json};

const MAX_USERNAME_CHARS: usize = 128;
const MAX_NAME_CHARS: usize = 200;
/// Each part of a postal address but `formatted`, which holds all of them.
const MAX_ADDRESS_PART_CHARS: usize = 200;
const MAX_FORMATTED_ADDRESS_CHARS: usize = 500;

/// Which account an operation is about.
#[derive(Debug, Clone, Copy)]
pub enum UserRef<'a> {
    /// The account id (the OIDC `sub`).
    Id(&'a str),
    Username(&'a str),
}

impl std::fmt::Display for UserRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserRef::Id(id) => write!(f, "with id {id}"),
            UserRef::Username(u) => f.write_str(u),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// The address was verified (by a clerk, say): relying parties see
    /// `email_verified: true`.
    pub email_verified: bool,
    /// For one-time codes by SMS, E.164.
    pub phone: Option<String>,
    /// The number was verified: relying parties see `phone_number_verified: true`.
    pub phone_verified: bool,
    /// The postal address (the `address` claim).
    pub address: Option<Address>,
}

/// Changes to an account's name and contact data: `None` leaves a value as it is,
/// `Some(None)` removes it.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    /// Whether the (new or current) address was verified; a new address is unverified
    /// unless this says otherwise.
    pub email_verified: Option<bool>,
    pub phone: Option<Option<String>>,
    /// Like `email_verified`, for the mobile number.
    pub phone_verified: Option<bool>,
    /// A new postal address replaces the whole of the old one.
    pub address: Option<Option<Address>>,
}

/// An account as administrators see it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub sub: String,
    pub username: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub phone: Option<String>,
    pub phone_verified: bool,
    pub address: Option<Address>,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<&User> for UserView {
    fn from(u: &User) -> UserView {
        UserView {
            sub: u.id.clone(),
            username: u.username.clone(),
            name: u.name.clone(),
            email: u.email.clone(),
            email_verified: u.email_verified,
            phone: u.phone.clone(),
            phone_verified: u.phone_verified,
            address: u.address.clone(),
            disabled: u.disabled,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// One sign-in method of an account (never its secret data).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FactorView {
    pub id: String,
    pub kind: String,
    pub label: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// A live browser session of an account.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub sid: String,
    pub acr: String,
    #[schema(value_type = Vec<String>)]
    pub amr: Value,
    pub auth_time: i64,
    pub created_at: i64,
    pub last_seen: i64,
    pub expires_at: i64,
}

/// A factor locked by failed attempts.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LockView {
    pub factor: String,
    pub locked_until: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UserDetails {
    #[serde(flatten)]
    pub user: UserView,
    pub factors: Vec<FactorView>,
    pub sessions: Vec<SessionView>,
    pub locked: Vec<LockView>,
    /// Administrative roles (administrator, clerk, auditor).
    pub roles: Vec<String>,
}

/// What disabling an account ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disabled {
    /// False when the account was disabled already (nothing was written).
    pub changed: bool,
    pub sessions: usize,
    pub grants: usize,
}

pub fn create(ctx: &Context, actor: &Actor, new: NewUser, now: i64) -> AdminResult<UserView> {
    let username = username(&new.username)?;
    let name = new
        .name
        .as_deref()
        .map(|n| display_text("name", n, MAX_NAME_CHARS))
        .transpose()?;
    let email = new.email.as_deref().map(email).transpose()?;
    let phone = new.phone.as_deref().map(phone).transpose()?;
    let address = new.address.map(address).transpose()?;
    let hash = password_hash(&new.password, &username, name.as_deref(), email.as_deref())?;
    let user = User {
        id: crypto::random_id(),
        username,
        email_verified: new.email_verified && email.is_some(),
        email,
        name,
        disabled: false,
        created_at: now,
        updated_at: now,
        phone_verified: new.phone_verified && phone.is_some(),
        phone,
        address,
    };
    let credential = password_credential(&user.id, hash, now);
    ctx.db.try_tx(|c| {
        if !store::insert_with_password(c, &user, &credential)? {
            return Err(AdminError::Conflict {
                resource: Resource::User,
                id: user.username.clone(),
            });
        }
        let detail = json!({
            "username": user.username,
            "email": user.email.is_some(),
            "phone": user.phone.is_some(),
            "address": user.address.is_some(),
        });
        record(
            c,
            actor,
            Kind::UserCreated,
            Subject::User(&user.id),
            detail,
            now,
        )?;
        Ok(())
    })?;
    Ok(UserView::from(&user))
}

/// The account and the names of what changed (none: nothing written).
#[derive(Debug)]
pub struct Updated {
    pub user: UserView,
    pub changed: Vec<&'static str>,
}

pub fn update(
    ctx: &Context,
    actor: &Actor,
    who: UserRef,
    changes: UserChanges,
    now: i64,
) -> AdminResult<Updated> {
    let name = changes
        .name
        .map(|n| {
            n.as_deref()
                .map(|n| display_text("name", n, MAX_NAME_CHARS))
                .transpose()
        })
        .transpose()?;
    let new_email = changes
        .email
        .map(|e| e.as_deref().map(email).transpose())
        .transpose()?;
    let new_phone = changes
        .phone
        .map(|p| p.as_deref().map(phone).transpose())
        .transpose()?;
    let new_address = changes
        .address
        .map(|a| a.map(address).transpose())
        .transpose()?;
    ctx.db.try_tx(|c| {
        let mut user = find(c, who)?;
        // Which parts changed; the values of contact data stay out of the log.
        let mut changed: Map<String, Value> = Map::new();
        if let Some(n) = name
            && user.name != n
        {
            changed.insert("name".into(), json!(n));
            user.name = n;
        }
        if let Some(e) = new_email
            && user.email != e
        {
            changed.insert("email".into(), json!(e.is_some()));
            user.email = e;
            user.email_verified = false;
        }
        if let Some(p) = new_phone
            && user.phone != p
        {
            changed.insert("phone".into(), json!(p.is_some()));
            user.phone = p;
            user.phone_verified = false;
        }
        if let Some(a) = new_address
            && user.address != a
        {
            changed.insert("address".into(), json!(a.is_some()));
            user.address = a;
        }
        if let Some(v) = changes.email_verified {
            let v = v && user.email.is_some();
            if user.email_verified != v {
                changed.insert("email_verified".into(), json!(v));
                user.email_verified = v;
            }
        }
        if let Some(v) = changes.phone_verified {
            let v = v && user.phone.is_some();
            if user.phone_verified != v {
                changed.insert("phone_verified".into(), json!(v));
                user.phone_verified = v;
            }
        }
        let names: Vec<&'static str> = [
            "name",
            "email",
            "email_verified",
            "phone",
            "phone_verified",
            "address",
        ]
        .into_iter()
        .filter(|f| changed.contains_key(*f))
        .collect();
        if names.is_empty() {
            return Ok(Updated {
                user: UserView::from(&user),
                changed: names,
            });
        }
        user.updated_at = now;
        store::update_profile(c, &user)?;
        let detail = json!({ "changed": changed });
        record(
            c,
            actor,
            Kind::UserUpdated,
            Subject::User(&user.id),
            detail,
            now,
        )?;
        Ok(Updated {
            user: UserView::from(&user),
            changed: names,
        })
    })
}

/// Refuses the account's sign-in from now on: ends its sessions and logins in progress
/// and revokes its grants (refresh tokens and stored access tokens), in the same
/// transaction.
pub fn disable(ctx: &Context, actor: &Actor, who: UserRef, now: i64) -> AdminResult<Disabled> {
    ctx.db.try_tx(|c| {
        let user = find(c, who)?;
        if user.disabled {
            return Ok(Disabled {
                changed: false,
                sessions: 0,
                grants: 0,
            });
        }
        store::set_disabled(c, &user.id, true, now)?;
        let (sessions, grants) = backchannel::end_user(c, &user.id, now)?;
        transactions::delete_of_user(c, &user.id)?;
        let detail = json!({ "sessions_ended": sessions, "grants_revoked": grants });
        record(
            c,
            actor,
            Kind::UserDisabled,
            Subject::User(&user.id),
            detail,
            now,
        )?;
        Ok(Disabled {
            changed: true,
            sessions,
            grants,
        })
    })
}

/// Allows a disabled account to sign in again; false when it was not disabled.
pub fn enable(ctx: &Context, actor: &Actor, who: UserRef, now: i64) -> AdminResult<bool> {
    ctx.db.try_tx(|c| {
        let user = find(c, who)?;
        if !user.disabled {
            return Ok(false);
        }
        store::set_disabled(c, &user.id, false, now)?;
        record(
            c,
            actor,
            Kind::UserEnabled,
            Subject::User(&user.id),
            json!({}),
            now,
        )?;
        Ok(true)
    })
}

/// Ends every sign-in session of the account and revokes the tokens issued in them;
/// returns how many sessions there were.
pub fn end_sessions(ctx: &Context, actor: &Actor, who: UserRef, now: i64) -> AdminResult<usize> {
    ctx.db.try_tx(|c| {
        let user = find(c, who)?;
        let mut ended = 0;
        for s in sessions::of_user(c, &user.id, now)? {
            ended += end(c, actor, &user.id, &s.sid, now)? as usize;
        }
        Ok(ended)
    })
}

/// Ends one sign-in session (by its `sid`) and revokes the tokens issued in it.
pub fn end_session(ctx: &Context, actor: &Actor, sid: &str, now: i64) -> AdminResult<()> {
    ctx.db.try_tx(|c| {
        let user_id = sessions::owner_of_sid(c, sid)?.ok_or_else(|| AdminError::NotFound {
            resource: super::Resource::Session,
            id: sid.to_string(),
        })?;
        end(c, actor, &user_id, sid, now)?;
        Ok(())
    })
}

fn end(
    c: &mut AnyConnection,
    actor: &Actor,
    user_id: &str,
    sid: &str,
    now: i64,
) -> crate::store::StoreResult<bool> {
    if !sessions::delete_by_sid(c, user_id, sid)? {
        return Ok(false);
    }
    let grants = backchannel::session_ended(c, sid, now)?.grants_revoked;
    let detail = json!({ "sid": sid, "grants_revoked": grants });
    record(
        c,
        actor,
        Kind::SessionEnded,
        Subject::User(user_id),
        detail,
        now,
    )?;
    Ok(true)
}

/// Removes one sign-in method of the account (a lost key, an authenticator app on a stolen
/// phone, a face template to enrol again); the citizen is told. The password cannot be
/// removed this way (set a new one).
pub fn reset_factor(
    ctx: &Context,
    actor: &Actor,
    who: UserRef,
    credential_id: &str,
    now: i64,
) -> AdminResult<()> {
    let (user, lang) = ctx.db.try_tx(|c| {
        let user = find(c, who)?;
        let cred = store::credentials_of(c, &user.id)?
            .into_iter()
            .find(|k| k.id == credential_id)
            .ok_or_else(|| AdminError::NotFound {
                resource: super::Resource::Factor,
                id: credential_id.to_string(),
            })?;
        if cred.kind == PASSWORD {
            return Err(invalid(
                "factor",
                "the password is not removed; set a new one instead",
            ));
        }
        store::delete_credential(c, &cred.id)?;
        let detail = json!({ "factor": cred.kind.name(), "credential": cred.id });
        record(
            c,
            actor,
            Kind::FactorRemoved,
            Subject::User(&user.id),
            detail,
            now,
        )?;
        // The notice in the language the citizen last signed in with.
        Ok((user.clone(), crate::notify::language_of(c, &user.id)?))
    })?;
    let t = lang.texts();
    let body = t
        .changed_body
        .replace("{change}", t.change_reset_by_help_desk);
    crate::notify::tell_via(&ctx.notifier, &user, t.changed_subject, &body);
    Ok(())
}

/// Lifts the locks that failed attempts put on the account's sign-in methods; returns
/// how many were locked.
pub fn unlock(ctx: &Context, actor: &Actor, who: UserRef, now: i64) -> AdminResult<usize> {
    ctx.db.try_tx(|c| {
        let user = find(c, who)?;
        let n = lockouts::clear_all(c, &user.id, now)?;
        let detail = json!({ "factors": n });
        record(
            c,
            actor,
            Kind::FactorUnlocked,
            Subject::User(&user.id),
            detail,
            now,
        )?;
        Ok(n)
    })
}

/// Sets the account's password (replacing the one it had, if any).
pub fn set_password(
    ctx: &Context,
    actor: &Actor,
    who: UserRef,
    new_password: &str,
    now: i64,
) -> AdminResult<()> {
    // The policy needs the account's own data; hashing is slow, so it happens before the
    // transaction, which then checks that the account is still the same one.
    let user = ctx.db.run(|c| Ok(find(c, who)))??;
    let hash = password_hash(
        new_password,
        &user.username,
        user.name.as_deref(),
        user.email.as_deref(),
    )?;
    ctx.db.try_tx(|c| {
        let current = find(c, UserRef::Id(&user.id))?;
        store::delete_credentials(c, &current.id, PASSWORD)?;
        store::insert_credential(c, &password_credential(&current.id, hash, now))?;
        record(
            c,
            actor,
            Kind::PasswordSet,
            Subject::User(&current.id),
            json!({}),
            now,
        )?;
        Ok(())
    })
}

/// Removes the account and everything of it: credentials, sessions, consents, grants,
/// its data key (which makes anything sealed with it unreadable) and its lock counters.
/// The audit log keeps its entries.
pub fn remove(ctx: &Context, actor: &Actor, who: UserRef, now: i64) -> AdminResult<()> {
    ctx.db.try_tx(|c| {
        let user = find(c, who)?;
        backchannel::end_user(c, &user.id, now)?;
        store::delete_account(c, &user.id)?;
        let detail = json!({ "username": user.username });
        record(
            c,
            actor,
            Kind::UserRemoved,
            Subject::User(&user.id),
            detail,
            now,
        )?;
        Ok(())
    })
}

/// An account as a clerk at a service centre finds it: enough to compare with the
/// citizen's document.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Found {
    pub sub: String,
    pub username: String,
    pub name: Option<String>,
}

/// The account of exactly this username, or else of this account ID (a clerk looks up the
/// citizen at the counter).
pub fn lookup(ctx: &Context, account: &str) -> AdminResult<Found> {
    let account = account.trim();
    ctx.db.run(|c| {
        let user = match store::find_by_username(c, account)? {
            Some(u) => Some(u),
            None => store::find(c, account)?,
        };
        Ok(user
            .map(|u| Found {
                sub: u.id,
                username: u.username,
                name: u.name,
            })
            .ok_or_else(|| AdminError::NotFound {
                resource: Resource::User,
                id: account.to_string(),
            }))
    })?
}

/// The most accounts a search returns.
pub const MAX_SEARCH: usize = 200;

/// Accounts whose username, name or e-mail address contains `q` (ignoring case), at most
/// `MAX_SEARCH`; every account (as many) when `q` is empty.
pub fn search(ctx: &Context, q: &str) -> AdminResult<Vec<UserView>> {
    let q = q.trim().to_lowercase();
    if q.chars().count() > MAX_USERNAME_CHARS {
        return Err(invalid(
            "q",
            format!("at most {MAX_USERNAME_CHARS} characters"),
        ));
    }
    let all = ctx.db.run(store::list)?;
    let hit = |u: &User| {
        [Some(&u.username), u.name.as_ref(), u.email.as_ref()]
            .into_iter()
            .flatten()
            .any(|v| v.to_lowercase().contains(&q))
    };
    Ok(all
        .iter()
        .filter(|u| hit(u))
        .take(MAX_SEARCH)
        .map(UserView::from)
        .collect())
}

pub fn list(ctx: &Context) -> AdminResult<Vec<UserView>> {
    let all = ctx.db.run(store::list)?;
    Ok(all.iter().map(UserView::from).collect())
}

/// The account with its sign-in methods, live sessions and locks.
pub fn show(ctx: &Context, who: UserRef, now: i64) -> AdminResult<UserDetails> {
    ctx.db.run(|c| {
        Ok((|| {
            let user = find(c, who)?;
            let factors = store::credentials_of(c, &user.id)?
                .into_iter()
                .map(|f| FactorView {
                    id: f.id,
                    kind: f.kind.into(),
                    label: f.label,
                    created_at: f.created_at,
                    last_used_at: f.last_used_at,
                })
                .collect();
            let sessions = sessions::of_user(c, &user.id, now)?
                .into_iter()
                .map(|s| SessionView {
                    amr: serde_json::from_str(&s.amr).unwrap_or(Value::Null),
                    sid: s.sid,
                    acr: s.acr,
                    auth_time: s.auth_time,
                    created_at: s.created_at,
                    last_seen: s.last_seen,
                    expires_at: s.expires_at.min(s.idle_expires_at),
                })
                .collect();
            let locked = lockouts::locked(c, &user.id, now)?
                .into_iter()
                .map(|l| LockView {
                    factor: l.factor,
                    locked_until: l.locked_until,
                })
                .collect();
            let roles = crate::store::admin_roles::of_user(c, &user.id)?;
            Ok(UserDetails {
                user: UserView::from(&user),
                factors,
                sessions,
                locked,
                roles,
            })
        })())
    })?
}

pub(crate) fn find(c: &mut AnyConnection, who: UserRef) -> AdminResult<User> {
    let user = match who {
        UserRef::Id(id) => store::find(c, id)?,
        UserRef::Username(u) => store::find_by_username(c, u)?,
    };
    user.ok_or_else(|| AdminError::NotFound {
        resource: Resource::User,
        id: who.to_string(),
    })
}

fn password_credential(user_id: &str, hash: String, now: i64) -> Credential {
    Credential {
        id: crypto::random_id(),
        user_id: user_id.to_string(),
        kind: PASSWORD,
        label: None,
        data: hash.into_bytes(),
        created_at: now,
        last_used_at: None,
        counter: None,
    }
}

/// Checks a new password against the policy and the account's own data, then hashes it.
fn password_hash(
    new_password: &str,
    username: &str,
    name: Option<&str>,
    email: Option<&str>,
) -> AdminResult<String> {
    let personal = [username, name.unwrap_or(""), email.unwrap_or("")];
    password::check(new_password, &personal).map_err(AdminError::WeakPassword)?;
    authenticators::password::hash(new_password)
        .map_err(|e| invalid("password", format!("cannot be hashed: {e}")))
}

pub fn username(u: &str) -> AdminResult<String> {
    let n = u.chars().count();
    if n == 0 || n > MAX_USERNAME_CHARS {
        return Err(invalid(
            "username",
            format!("1-{MAX_USERNAME_CHARS} characters"),
        ));
    }
    let allowed = |ch: char| ch.is_alphanumeric() || ".-_@+".contains(ch);
    if !u.chars().all(allowed) || !u.starts_with(char::is_alphanumeric) {
        return Err(invalid(
            "username",
            format!("{u:?}: letters, digits and . _ - @ +, beginning with a letter or digit"),
        ));
    }
    Ok(u.to_string())
}

pub fn email(e: &str) -> AdminResult<String> {
    use email_address::{EmailAddress, Options};
    let options = Options::default()
        .with_required_tld()
        .without_domain_literal()
        .without_display_text();
    let e = e.trim();
    EmailAddress::parse_with_options(e, options)
        .map_err(|why| invalid("email", format!("{e:?} is not an e-mail address: {why}")))?;
    Ok(e.to_string())
}

/// A person's name as the account shows it: not empty, no control characters, at most
/// `MAX_NAME_CHARS`.
pub fn name(n: &str) -> AdminResult<String> {
    display_text("name", n, MAX_NAME_CHARS)
}

/// E.164: a plus sign, then a country code that does not begin with 0, 8 to 15 digits in
/// all.
pub fn phone(p: &str) -> AdminResult<String> {
    let p = p.trim();
    let digits = p.strip_prefix('+').unwrap_or("");
    let ok = (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if !ok {
        return Err(invalid(
            "phone",
            format!("{p:?} is not in E.164 form (+ and 8-15 digits, e.g. +36301234567)"),
        ));
    }
    Ok(p.to_string())
}

/// A postal address (OIDC Core 5.1.1) with at least one part; each part trimmed (an empty
/// one is left out), at most `MAX_ADDRESS_PART_CHARS` (`formatted`:
/// `MAX_FORMATTED_ADDRESS_CHARS`), without control characters except the line breaks
/// that `formatted` and `street_address` may have (`\r\n` is kept as `\n`). The country is
/// kept as given: a name or a code.
pub fn address(a: Address) -> AdminResult<Address> {
    let part = |name: &'static str, value: Option<String>| -> AdminResult<Option<String>> {
        let Some(v) = value else { return Ok(None) };
        let multiline = matches!(name, "formatted" | "street_address");
        let v = if multiline {
            v.replace("\r\n", "\n")
        } else {
            v
        };
        let v = v.trim();
        if v.is_empty() {
            return Ok(None);
        }
        let max = if name == "formatted" {
            MAX_FORMATTED_ADDRESS_CHARS
        } else {
            MAX_ADDRESS_PART_CHARS
        };
        if v.chars().count() > max {
            return Err(invalid(
                "address",
                format!("{name}: at most {max} characters"),
            ));
        }
        if v.chars()
            .any(|c| c.is_control() && !(multiline && c == '\n'))
        {
            let what = if multiline {
                "may not contain control characters other than line breaks"
            } else {
                "may not contain control characters"
            };
            return Err(invalid("address", format!("{name}: {what}")));
        }
        Ok(Some(v.to_string()))
    };
    let checked = Address {
        formatted: part("formatted", a.formatted)?,
        street_address: part("street_address", a.street_address)?,
        locality: part("locality", a.locality)?,
        region: part("region", a.region)?,
        postal_code: part("postal_code", a.postal_code)?,
        country: part("country", a.country)?,
    };
    if checked == Address::default() {
        return Err(invalid("address", "give at least one part"));
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::policy::password::Weakness;
    use crate::service::for_tests;
    use crate::store::sessions::BrowserSession;
    use crate::store::tokens::Grant;

    const STRONG: &str = "correct horse battery staple";

    fn maria() -> NewUser {
        NewUser {
            username: "maria".into(),
            password: STRONG.into(),
            name: Some("Maria Kovács".into()),
            email: Some("maria@example.gov".into()),
            email_verified: false,
            phone: Some("+36301234567".into()),
            phone_verified: false,
            address: None,
        }
    }

    #[test]
    fn create_checks_every_value_and_records_the_account() {
        let (_dir, svc) = for_tests();
        let ctx = Context::from(&svc);
        let before = events(&svc.db).len();
        let refused: Vec<(NewUser, &str)> = vec![
            (
                NewUser {
                    password: "abc".into(),
                    ..maria()
                },
                "password",
            ),
            (
                NewUser {
                    password: "password".into(),
                    ..maria()
                },
                "password",
            ),
            (
                NewUser {
                    password: "maria@example.gov".into(),
                    ..maria()
                },
                "password",
            ),
            (
                NewUser {
                    email: Some("not-an-email".into()),
                    ..maria()
                },
                "email",
            ),
            (
                NewUser {
                    email: Some("maria@localhost".into()),
                    ..maria()
                },
                "email",
            ),
            (
                NewUser {
                    email: Some("Maria <maria@example.gov>".into()),
                    ..maria()
                },
                "email",
            ),
            (
                NewUser {
                    phone: Some("06301234567".into()),
                    ..maria()
                },
                "phone",
            ),
            (
                NewUser {
                    phone: Some("+0630123456".into()),
                    ..maria()
                },
                "phone",
            ),
            (
                NewUser {
                    username: "".into(),
                    ..maria()
                },
                "username",
            ),
            (
                NewUser {
                    username: "maria kovacs".into(),
                    ..maria()
                },
                "username",
            ),
            (
                NewUser {
                    username: "-maria".into(),
                    ..maria()
                },
                "username",
            ),
            (
                NewUser {
                    username: "anna".into(),
                    ..maria()
                },
                "conflict",
            ),
        ];
        for (new, field) in refused {
            match create(&ctx, &cli(), new.clone(), T0) {
                Err(AdminError::Invalid { field: f, .. }) => assert_eq!(f, field, "{new:?}"),
                Err(AdminError::WeakPassword(_)) => assert_eq!(field, "password", "{new:?}"),
                Err(AdminError::Conflict { .. }) => assert_eq!(field, "conflict", "{new:?}"),
                other => panic!("{new:?} must be refused on {field}: {other:?}"),
            }
        }
        let weak = create(
            &ctx,
            &cli(),
            NewUser {
                password: "abc".into(),
                ..maria()
            },
            T0,
        );
        assert!(matches!(
            weak,
            Err(AdminError::WeakPassword(Weakness::TooShort))
        ));
        let common = create(
            &ctx,
            &cli(),
            NewUser {
                password: "password".into(),
                ..maria()
            },
            T0,
        );
        assert!(matches!(
            common,
            Err(AdminError::WeakPassword(Weakness::Guessable))
        ));
        assert_eq!(
            events(&svc.db).len(),
            before,
            "a refused change writes no entry"
        );

        let view = create(&ctx, &cli(), maria(), T0).expect("created");
        assert_eq!(view.email.as_deref(), Some("maria@example.gov"));
        assert!(!view.email_verified);
        let all = events(&svc.db);
        assert_eq!(all.len(), before + 1);
        let e = all.last().unwrap();
        assert_eq!(e.kind(), Some(Kind::UserCreated));
        assert_eq!(e.user_id.as_deref(), Some(view.sub.as_str()));
        assert_eq!(detail(e)["by"]["via"], "cli");
        assert!(!e.detail.contains(STRONG));
        let stored = svc
            .db
            .run(|c| store::credential(c, &view.sub, PASSWORD))
            .unwrap()
            .expect("a password credential");
        let hash = String::from_utf8(stored.data).unwrap();
        assert!(svc.passwords.verify(Some(&hash), STRONG));
    }

    #[test]
    fn update_changes_contact_data_and_keeps_it_out_of_the_log() {
        let (_dir, svc) = for_tests();
        let ctx = Context::from(&svc);
        let who = UserRef::Username("anna");
        let bad = UserChanges {
            email: Some(Some("not-an-email".into())),
            ..Default::default()
        };
        assert!(matches!(
            update(&ctx, &cli(), who, bad, T0),
            Err(AdminError::Invalid { field: "email", .. })
        ));
        let before = events(&svc.db).len();
        let changes = UserChanges {
            name: Some(Some("Anna Nagy".into())),
            email: Some(Some("anna.nagy@example.gov".into())),
            phone: Some(Some("+36209876543".into())),
            ..Default::default()
        };
        let updated = update(&ctx, &cli(), who, changes, T0).unwrap();
        assert_eq!(updated.changed, vec!["name", "email", "phone"]);
        assert!(!updated.user.email_verified, "a new address is unverified");
        assert_eq!(updated.user.updated_at, T0);
        let e = events(&svc.db).pop().unwrap();
        assert_eq!(e.kind(), Some(Kind::UserUpdated));
        assert!(!e.detail.contains("anna.nagy"), "{}", e.detail);
        assert!(!e.detail.contains("+3620"), "{}", e.detail);
        let cleared = UserChanges {
            phone: Some(None),
            ..Default::default()
        };
        let updated = update(&ctx, &cli(), who, cleared, T0 + 1).unwrap();
        assert_eq!(updated.user.phone, None);
        let same = UserChanges {
            name: Some(Some("Anna Nagy".into())),
            ..Default::default()
        };
        assert!(
            update(&ctx, &cli(), who, same, T0 + 2)
                .unwrap()
                .changed
                .is_empty()
        );
        assert_eq!(events(&svc.db).len(), before + 2);
    }

    fn session_and_grant(svc: &crate::service::Service, n: &str) {
        let session = BrowserSession {
            id: format!("hash-{n}"),
            sid: format!("sid-{n}"),
            user_id: "u-anna".into(),
            acr: crate::policy::Level::Low.acr().into(),
            amr: "[\"pwd\"]".into(),
            auth_time: T0,
            created_at: T0,
            last_seen: T0,
            idle_expires_at: T0 + 900,
            expires_at: T0 + 3600,
            factors: "[\"password\"]".into(),
            device: None,
        };
        svc.db.tx(|c| sessions::insert(c, &session)).unwrap();
    }

    #[test]
    fn disabling_ends_sessions_and_revokes_grants_in_the_same_transaction() {
        let (_dir, svc) = for_tests();
        let ctx = Context::from(&svc);
        let portal = super::super::clients::NewClient::new(
            "portal",
            super::super::clients::Credentials::GenerateSecret,
            vec!["https://portal.example.gov/cb".into()],
        );
        super::super::clients::create(&ctx, &cli(), portal, T0).unwrap();
        session_and_grant(&svc, "1");
        session_and_grant(&svc, "2");
        let grant = Grant {
            id: "g-1".into(),
            client_id: "portal".into(),
            user_id: Some("u-anna".into()),
            scope: "openid".into(),
            sid: Some("sid-1".into()),
            acr: None,
            amr: "[]".into(),
            auth_time: Some(T0),
            claims: None,
            revoked: false,
            created_at: T0,
            subject: None,
            jkt: None,
            x5t: None,
        };
        svc.db
            .tx(|c| crate::store::tokens::insert_grant(c, &grant))
            .unwrap();
        let who = UserRef::Username("anna");
        assert_eq!(show(&ctx, who, T0 + 1).unwrap().sessions.len(), 2);

        let d = disable(&ctx, &cli(), who, T0 + 1).unwrap();
        assert_eq!(
            d,
            Disabled {
                changed: true,
                sessions: 2,
                grants: 1
            }
        );
        let details = show(&ctx, who, T0 + 2).unwrap();
        assert!(details.user.disabled);
        assert!(details.sessions.is_empty());
        let revoked: bool = svc
            .db
            .run(|c| {
                use crate::store::schema::grants;
                use diesel::prelude::*;
                Ok(grants::table.find("g-1").select(grants::revoked).first(c)?)
            })
            .unwrap();
        assert!(revoked);
        let e = events(&svc.db).pop().unwrap();
        assert_eq!(e.kind(), Some(Kind::UserDisabled));
        assert_eq!(detail(&e)["sessions_ended"], 2);
        // Again: nothing to do, nothing written.
        let before = events(&svc.db).len();
        assert!(!disable(&ctx, &cli(), who, T0 + 3).unwrap().changed);
        assert_eq!(events(&svc.db).len(), before);
        // The password factor refuses a disabled account.
        let signs_in = |now| {
            let attempt =
                crate::login::factors::password::prepare(&svc, "anna", "correct horse", now)
                    .unwrap();
            svc.db.tx(|c| attempt.verify(c, now)).unwrap().is_some()
        };
        assert!(!signs_in(T0 + 4));

        assert!(enable(&ctx, &cli(), who, T0 + 5).unwrap());
        assert!(!enable(&ctx, &cli(), who, T0 + 6).unwrap());
        assert_eq!(kinds(&svc.db)[before..], [Kind::UserEnabled]);
        assert!(signs_in(T0 + 7));
    }

    #[test]
    fn set_password_follows_the_policy_and_replaces_the_old_one() {
        let (_dir, svc) = for_tests();
        let ctx = Context::from(&svc);
        let who = UserRef::Username("anna");
        let before = events(&svc.db).len();
        for weak in ["abc", "password", "anna@example.invalid"] {
            let r = set_password(&ctx, &cli(), who, weak, T0);
            assert!(
                matches!(r, Err(AdminError::WeakPassword(_))),
                "{weak}: {r:?}"
            );
        }
        assert_eq!(events(&svc.db).len(), before);
        set_password(&ctx, &cli(), who, "tihany ferry at midnight", T0).unwrap();
        let creds = svc.db.run(|c| store::credentials_of(c, "u-anna")).unwrap();
        let passwords: Vec<_> = creds.iter().filter(|c| c.kind == PASSWORD).collect();
        assert_eq!(passwords.len(), 1);
        let hash = String::from_utf8(passwords[0].data.clone()).unwrap();
        assert!(
            svc.passwords
                .verify(Some(&hash), "tihany ferry at midnight")
        );
        assert!(!svc.passwords.verify(Some(&hash), "correct horse"));
        assert_eq!(kinds(&svc.db)[before..], [Kind::PasswordSet]);
        let missing = set_password(&ctx, &cli(), UserRef::Username("nobody"), STRONG, T0);
        assert!(matches!(missing, Err(AdminError::NotFound { .. })));
    }

    /// The help desk's act is told in the language the citizen last signed in with.
    #[test]
    fn a_factor_reset_is_told_in_the_citizens_language() {
        let (_dir, svc) = for_tests();
        let ctx = Context::from(&svc);
        let id = svc
            .db
            .tx(|c| {
                store::set_language(c, "u-anna", "hu", T0)?;
                let totp = Credential {
                    id: "c-totp".into(),
                    user_id: "u-anna".into(),
                    kind: store::CredentialKind::Totp,
                    label: None,
                    data: Vec::new(),
                    created_at: T0,
                    last_used_at: None,
                    counter: None,
                };
                store::insert_credential(c, &totp)?;
                Ok(totp.id)
            })
            .unwrap();
        reset_factor(&ctx, &cli(), UserRef::Username("anna"), &id, T0 + 1).unwrap();
        let hu = crate::i18n::Lang::Hu.texts();
        let told = svc.outbox_for_tests();
        assert!(
            told.iter().any(|m| m.to == "anna@example.invalid"
                && m.subject == hu.changed_subject
                && m.body.contains(hu.change_reset_by_help_desk)),
            "{told:?}"
        );
    }

    #[test]
    fn unlock_and_remove_are_recorded_with_who_acted() {
        let (_dir, svc) = for_tests();
        let ctx = Context::from(&svc);
        let who = UserRef::Username("anna");
        let lock = |now| {
            svc.db
                .tx(|c| {
                    let l = lockouts::lock(c, "u-anna", "password", now)?;
                    let rule = crate::login::lockout::LockoutRule::DEFAULT;
                    let (l, _) = crate::login::lockout::after_failure(
                        crate::login::lockout::after_failure(
                            crate::login::lockout::after_failure(l, rule, now).0,
                            rule,
                            now,
                        )
                        .0,
                        rule,
                        now,
                    );
                    lockouts::save(c, &l)
                })
                .unwrap()
        };
        lock(T0);
        assert_eq!(show(&ctx, who, T0 + 1).unwrap().locked.len(), 1);
        let admin = Actor::Admin {
            user_id: "u-admin".into(),
            ip: Some([192, 0, 2, 7].into()),
        };
        assert_eq!(unlock(&ctx, &admin, who, T0 + 1).unwrap(), 1);
        assert!(show(&ctx, who, T0 + 2).unwrap().locked.is_empty());
        let e = events(&svc.db).pop().unwrap();
        assert_eq!(e.kind(), Some(Kind::FactorUnlocked));
        assert_eq!(
            detail(&e)["by"],
            json!({"via": "admin_api", "user_id": "u-admin"})
        );
        assert_eq!(e.ip.as_deref(), Some("192.0.2.7"), "from where");

        remove(&ctx, &cli(), who, T0 + 3).unwrap();
        assert!(matches!(
            show(&ctx, who, T0 + 4),
            Err(AdminError::NotFound { .. })
        ));
        assert!(matches!(
            remove(&ctx, &cli(), who, T0 + 4),
            Err(AdminError::NotFound { .. })
        ));
        let e = events(&svc.db).pop().unwrap();
        assert_eq!(e.kind(), Some(Kind::UserRemoved));
        assert_eq!(e.user_id.as_deref(), Some("u-anna"));
        assert!(list(&ctx).unwrap().is_empty());
        let counters = svc.db.run(|c| lockouts::locked(c, "u-anna", 0)).unwrap();
        assert!(counters.is_empty(), "the lock counters go with the account");
        crate::audit::seal_pending(&svc.db, &svc.kek, "https://id.example", 0, T0 + 5).unwrap();
        let verified = svc.db.run(crate::audit::chain::verify).unwrap().unwrap();
        assert_eq!(verified.events, events(&svc.db).len() as i64);
    }

    fn budapest() -> Address {
        Address {
            street_address: Some("Fő utca 1.".into()),
            locality: Some("Budapest".into()),
            postal_code: Some("1011".into()),
            country: Some("Hungary".into()),
            ..Default::default()
        }
    }

    #[test]
    fn addresses_are_trimmed_bounded_and_free_of_control_characters() {
        let given = Address {
            formatted: Some("  Fő utca 1.\r\n1011 Budapest\r\nHungary ".into()),
            street_address: Some("Fő utca 1.\n2. emelet 3.".into()),
            region: Some("   ".into()),
            country: Some("hu".into()),
            ..Default::default()
        };
        let checked = address(given).unwrap();
        assert_eq!(
            checked.formatted.as_deref(),
            Some("Fő utca 1.\n1011 Budapest\nHungary")
        );
        assert_eq!(
            checked.street_address.as_deref(),
            Some("Fő utca 1.\n2. emelet 3.")
        );
        assert_eq!(checked.region, None, "an empty part is left out");
        assert_eq!(
            checked.country.as_deref(),
            Some("hu"),
            "the country as given"
        );
        assert_eq!(
            address(Address {
                formatted: Some("x".repeat(MAX_FORMATTED_ADDRESS_CHARS)),
                locality: Some("é".repeat(MAX_ADDRESS_PART_CHARS)),
                ..Default::default()
            })
            .unwrap()
            .locality
            .map(|l| l.chars().count()),
            Some(MAX_ADDRESS_PART_CHARS),
            "the bounds count characters"
        );

        let refused = [
            Address::default(),
            Address {
                locality: Some(" ".into()),
                ..Default::default()
            },
            Address {
                locality: Some("é".repeat(MAX_ADDRESS_PART_CHARS + 1)),
                ..budapest()
            },
            Address {
                formatted: Some("x".repeat(MAX_FORMATTED_ADDRESS_CHARS + 1)),
                ..Default::default()
            },
            Address {
                street_address: Some("x".repeat(MAX_ADDRESS_PART_CHARS + 1)),
                ..Default::default()
            },
            Address {
                locality: Some("Buda\npest".into()),
                ..budapest()
            },
            Address {
                postal_code: Some("10\t11".into()),
                ..budapest()
            },
            Address {
                street_address: Some("Fő utca 1.\r2. emelet".into()),
                ..budapest()
            },
            Address {
                formatted: Some("Fő utca 1.\u{1b}[2J".into()),
                ..Default::default()
            },
            Address {
                country: Some("Hungary\u{0}".into()),
                ..budapest()
            },
        ];
        for a in refused {
            assert!(
                matches!(
                    address(a.clone()),
                    Err(AdminError::Invalid {
                        field: "address",
                        ..
                    })
                ),
                "{a:?}"
            );
        }
    }

    #[test]
    fn an_address_is_stored_and_only_its_presence_is_logged() {
        let (_dir, svc) = for_tests();
        let ctx = Context::from(&svc);
        let refused = create(
            &ctx,
            &cli(),
            NewUser {
                address: Some(Address::default()),
                ..maria()
            },
            T0,
        );
        assert!(matches!(
            refused,
            Err(AdminError::Invalid {
                field: "address",
                ..
            })
        ));
        let view = create(
            &ctx,
            &cli(),
            NewUser {
                address: Some(budapest()),
                ..maria()
            },
            T0,
        )
        .unwrap();
        assert_eq!(view.address, Some(budapest()));
        let stored = svc.db.run(|c| store::find(c, &view.sub)).unwrap().unwrap();
        assert_eq!(stored.address, Some(budapest()));
        let e = events(&svc.db).pop().unwrap();
        assert_eq!(e.kind(), Some(Kind::UserCreated));
        assert_eq!(detail(&e)["address"], true);
        assert!(!e.detail.contains("Budapest"), "{}", e.detail);

        // Changed: the whole address is replaced, the log says only that it changed.
        let who = UserRef::Username("anna");
        let moved = Address {
            locality: Some("Debrecen".into()),
            ..Default::default()
        };
        let changes = UserChanges {
            address: Some(Some(moved.clone())),
            ..Default::default()
        };
        let updated = update(&ctx, &cli(), who, changes, T0 + 1).unwrap();
        assert_eq!(updated.changed, vec!["address"]);
        assert_eq!(updated.user.address, Some(moved.clone()));
        assert_eq!(updated.user.updated_at, T0 + 1);
        let e = events(&svc.db).pop().unwrap();
        assert_eq!(e.kind(), Some(Kind::UserUpdated));
        assert_eq!(detail(&e)["changed"], json!({ "address": true }));
        assert!(!e.detail.contains("Debrecen"), "{}", e.detail);
        let before = events(&svc.db).len();
        let same = UserChanges {
            address: Some(Some(moved)),
            ..Default::default()
        };
        assert!(
            update(&ctx, &cli(), who, same, T0 + 2)
                .unwrap()
                .changed
                .is_empty()
        );
        assert_eq!(
            events(&svc.db).len(),
            before,
            "nothing changed, nothing logged"
        );
        let bad = UserChanges {
            address: Some(Some(Address {
                region: Some("\u{7}".into()),
                ..Default::default()
            })),
            ..Default::default()
        };
        assert!(update(&ctx, &cli(), who, bad, T0 + 3).is_err());
        let cleared = UserChanges {
            address: Some(None),
            ..Default::default()
        };
        let updated = update(&ctx, &cli(), who, cleared, T0 + 3).unwrap();
        assert_eq!(updated.changed, vec!["address"]);
        assert_eq!(updated.user.address, None);
        let stored = svc.db.run(|c| store::find(c, "u-anna")).unwrap().unwrap();
        assert_eq!(stored.address, None);
        assert_eq!(
            detail(&events(&svc.db).pop().unwrap())["changed"],
            json!({ "address": false })
        );
    }
}
