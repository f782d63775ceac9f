//! Administration: the one place where relying parties and citizens' accounts are created,
//! changed and removed. The `idp` command line, the Admin API and the admin UI all call
//! these operations and only parse their input and print their answers.
//!
//! Every operation validates its input once, then writes the change and its audit entry in
//! one transaction: a change is never on record without its entry, and a refused change
//! writes neither. The caller says who acts (`Actor`, recorded as the entry's `by`) and
//! passes the time.

pub mod audit;
pub mod clients;
pub mod console;
pub mod enrolment;
pub mod keys;
pub mod policy;
pub mod registrations;
pub mod roles;
pub mod users;

use crate::audit::{Entry, Kind};
use crate::config::Config;
use crate::keys::kek::Kek;
use crate::policy::password::Weakness;
use crate::service::Service;
use crate::store::{AnyConnection, Db, StoreError, StoreResult};
use serde_json::{Value, json};

/// Who performs an administrative act.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The `idp` command on the server, run by this operating-system user (when known).
    Cli { os_user: Option<String> },
    /// An administrator signed in to the Admin API, by account id, from this address.
    Admin {
        user_id: String,
        ip: Option<std::net::IpAddr>,
    },
    /// A client registering or managing itself (RFC 7591, 7592), from this address.
    Registration { ip: Option<std::net::IpAddr> },
}

impl Actor {
    /// The client address the act came from, if over the network.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        match self {
            Actor::Admin { ip, .. } | Actor::Registration { ip } => *ip,
            Actor::Cli { .. } => None,
        }
    }

    /// The `by` of an audit entry.
    pub fn to_json(&self) -> Value {
        match self {
            Actor::Cli { os_user } => json!({ "via": "cli", "os_user": os_user }),
            Actor::Admin { user_id, .. } => json!({ "via": "admin_api", "user_id": user_id }),
            Actor::Registration { .. } => json!({ "via": "registration" }),
        }
    }
}

/// What the operations need of the provider.
#[derive(Clone)]
pub struct Context<'a> {
    pub db: &'a Db,
    /// Hashes client secrets.
    pub kek: &'a Kek,
    pub config: &'a Config,
    /// The policy in force: which API scopes exist.
    pub rules: std::sync::Arc<crate::policy::settings::Rules>,
    /// Tells citizens of changes made to their sign-in methods.
    pub notifier: std::sync::Arc<crate::notify::Notifier>,
}

impl<'a> Context<'a> {
    /// For the command line: the policy in force as stored (or configured).
    pub fn new(db: &'a Db, kek: &'a Kek, config: &'a Config) -> Result<Context<'a>, String> {
        let rules = crate::service::stored_rules(db, config)?;
        let notifier = std::sync::Arc::new(crate::notify::Notifier::new(&config.notify)?);
        Ok(Context {
            db,
            kek,
            config,
            rules,
            notifier,
        })
    }
}

impl<'a> From<&'a Service> for Context<'a> {
    fn from(svc: &'a Service) -> Context<'a> {
        Context {
            db: &svc.db,
            kek: &svc.kek,
            config: &svc.config,
            rules: svc.rules(),
            notifier: svc.notifier.clone(),
        }
    }
}

/// What an administrative operation acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Client,
    User,
    Key,
    Registration,
    Session,
    Factor,
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Resource::Client => "client",
            Resource::User => "user",
            Resource::Key => "signing key",
            Resource::Registration => "registration",
            Resource::Session => "session",
            Resource::Factor => "sign-in method",
        })
    }
}

/// Why an administrative operation was refused. The message is meant for the
/// administrator; `field` names the input as the Admin API spells it.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("password: {}", .0.describe())]
    WeakPassword(Weakness),
    #[error("there is no {resource} {id}")]
    NotFound { resource: Resource, id: String },
    #[error("a {resource} {id} exists already")]
    Conflict { resource: Resource, id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyError),
    /// The key-encryption key could not be rotated (a value neither key opens).
    #[error(transparent)]
    Rotation(#[from] crate::keys::rotation::RotationError),
}

pub type AdminResult<T> = Result<T, AdminError>;

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> AdminError {
    AdminError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// One entry of an administrative act, in the caller's transaction; `detail` is an object
/// to which `by` is added.
pub(crate) fn record(
    conn: &mut AnyConnection,
    actor: &Actor,
    kind: Kind,
    subject: Subject,
    mut detail: Value,
    now: i64,
) -> StoreResult<()> {
    detail["by"] = actor.to_json();
    let (user_id, client_id) = match subject {
        Subject::User(id) => (Some(id), None),
        Subject::Client(id) => (None, Some(id)),
        Subject::Provider => (None, None),
    };
    let entry = Entry {
        kind,
        user_id,
        client_id,
        detail,
    };
    crate::audit::append_from(conn, entry, actor.ip(), now)
}

/// Whom an audit entry is about.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Subject<'a> {
    User(&'a str),
    Client(&'a str),
    /// The provider itself (its keys, its policy).
    Provider,
}

/// Text an administrator typed for a person to read (a name): trimmed, not empty, at most
/// `max` characters, no control characters.
pub(crate) fn display_text(field: &'static str, value: &str, max: usize) -> AdminResult<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(invalid(field, "may not be empty"));
    }
    if v.chars().count() > max {
        return Err(invalid(field, format!("at most {max} characters")));
    }
    if v.chars().any(char::is_control) {
        return Err(invalid(field, "may not contain control characters"));
    }
    Ok(v.to_string())
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::audit::Event;
    use crate::store::schema::audit_events;
    use diesel::prelude::*;

    pub const T0: i64 = 1_800_000_000;

    pub fn cli() -> Actor {
        Actor::Cli {
            os_user: Some("operator".into()),
        }
    }

    /// Every audit entry, oldest first.
    pub fn events(db: &Db) -> Vec<Event> {
        db.run(|c| {
            Ok(audit_events::table
                .order(audit_events::id)
                .select(Event::as_select())
                .load(c)?)
        })
        .expect("audit events")
    }

    pub fn kinds(db: &Db) -> Vec<Kind> {
        events(db).iter().filter_map(Event::kind).collect()
    }

    pub fn detail(e: &Event) -> Value {
        serde_json::from_str(&e.detail).expect("JSON detail")
    }
}
