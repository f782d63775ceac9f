//! The citizen's control of their own data: what biometric data exists about them, where
//! it is kept, under which consent and when each service used it; all their data as one
//! JSON document; closing the account, which deletes it; and what the account page shows
//! of their sessions, consents and activity, with ending a session and withdrawing a
//! consent. Secrets (password hashes,
//! keys, templates) never leave: the export says that they exist, not what they are.

use crate::audit::{self, Entry, Kind};
use crate::oidc::error::{OidcError, OidcResult};
use crate::service::Service;
use crate::store::biometric_consents::{self, BiometricConsent};
use crate::store::registrations::{self, State};
use crate::store::users::{self, CredentialKind};
use crate::store::{AnyConnection, StoreResult, clients, consents, sessions};
use authenticators::FactorKind;
use serde::Serialize;
use serde_json::{Value, json};

/// One use of a biometric factor: when, which service, whether it matched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BiometricUse {
    pub at: i64,
    pub factor: String,
    /// The service's name; none for the account pages.
    pub service: Option<String>,
    pub accepted: bool,
}

/// The citizen's biometric data as they may see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BiometricOverview {
    /// Templates kept, by factor (`face`, `voice`), with when they were made.
    pub templates: Vec<(String, i64)>,
    /// A registration's pictures are kept until a clerk decides: since when.
    pub pictures_since: Option<i64>,
    pub consents: Vec<BiometricConsent>,
    /// The newest uses first.
    pub uses: Vec<BiometricUse>,
}

/// How many uses the overview lists.
const USES: i64 = 50;

fn biometric(kind: CredentialKind) -> bool {
    matches!(kind, CredentialKind::Face | CredentialKind::Voice)
}

pub fn biometrics(svc: &Service, user_id: &str) -> OidcResult<BiometricOverview> {
    Ok(svc.db.run(|c| overview(c, user_id))?)
}

fn overview(c: &mut AnyConnection, user_id: &str) -> StoreResult<BiometricOverview> {
    let templates = users::credentials_of(c, user_id)?
        .into_iter()
        .filter(|k| biometric(k.kind))
        .map(|k| (k.kind.name().to_string(), k.created_at))
        .collect();
    let pictures_since = registrations::latest_of(c, user_id, &[State::Draft, State::Pending])?
        .map(|r| r.created_at);
    let mut uses = Vec::new();
    let modalities = [FactorKind::Face.name(), FactorKind::Voice.name()];
    for e in audit::of_user(c, user_id, 1000)? {
        let accepted = match e.kind() {
            Some(Kind::SignedIn) => true,
            Some(Kind::SignInFailed) => false,
            _ => continue,
        };
        let detail: Value = serde_json::from_str(&e.detail).unwrap_or(Value::Null);
        let Some(factor) = detail["factor"].as_str().filter(|f| modalities.contains(f)) else {
            continue;
        };
        let service = match &e.client_id {
            Some(id) => Some(clients::find(c, id)?.map_or_else(|| id.clone(), |k| k.name)),
            None => None,
        };
        uses.push(BiometricUse {
            at: e.at,
            factor: factor.to_string(),
            service,
            accepted,
        });
        if uses.len() as i64 >= USES {
            break;
        }
    }
    Ok(BiometricOverview {
        templates,
        pictures_since,
        consents: biometric_consents::of_user(c, user_id)?,
        uses,
    })
}

/// Everything kept about the citizen, as JSON: the account, sign-in methods (which, since
/// when, last used; never their secrets), sessions, services and their consents, biometric
/// consents and registrations, and every audit entry about them.
pub fn export(svc: &Service, user_id: &str, now: i64) -> OidcResult<Value> {
    Ok(svc.db.run(|c| {
        let Some(user) = users::find(c, user_id)? else {
            return Ok(Value::Null);
        };
        let factors: Vec<Value> = users::credentials_of(c, user_id)?
            .into_iter()
            .filter(|k| k.kind.factor().is_some())
            .map(|k| {
                json!({
                    "kind": k.kind.name(),
                    "label": k.label,
                    "created_at": k.created_at,
                    "last_used_at": k.last_used_at,
                    "kept_as": match k.kind {
                        CredentialKind::Password => "an argon2id hash",
                        CredentialKind::RecoveryCode => "a hash",
                        CredentialKind::Passkey => "the key's public part",
                        _ => "encrypted with your account's key",
                    },
                })
            })
            .collect();
        let sessions: Vec<Value> = sessions::of_user(c, user_id, now)?
            .into_iter()
            .map(|s| json!({ "started": s.created_at, "last_seen": s.last_seen, "acr": s.acr }))
            .collect();
        let services: Vec<Value> = consents::of_user(c, user_id)?
            .into_iter()
            .map(|(client, scopes)| json!({ "service": client, "scopes": scopes }))
            .collect();
        let registrations: Vec<Value> = registrations::of_user(c, user_id)?
            .into_iter()
            .map(|r| {
                json!({
                    "channel": r.channel.name(),
                    "state": r.state.name(),
                    "document": r.document,
                    "submitted_at": r.submitted_at,
                    "decided_at": r.decided_at,
                    "reason": r.reason,
                })
            })
            .collect();
        let events: Vec<Value> = audit::of_user(c, user_id, i64::MAX)?
            .into_iter()
            .rev()
            .map(|e| {
                json!({
                    "at": e.at,
                    "event": e.kind,
                    "service": e.client_id,
                    "from": e.ip,
                    "detail": serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null),
                })
            })
            .collect();
        Ok(json!({
            "exported_at": now,
            "account": {
                "sub": user.id,
                "username": user.username,
                "name": user.name,
                "email": user.email,
                "email_verified": user.email_verified,
                "phone": user.phone,
                "address": user.address,
                "created_at": user.created_at,
                "language": users::language(c, user_id)?,
            },
            "sign_in_methods": factors,
            "sessions": sessions,
            "services": services,
            "biometric_consents": biometric_consents::of_user(c, user_id)?,
            "registrations": registrations,
            "activity": events,
        }))
    })?)
}

/// Closes the account: the citizen is told first (their address goes with it), then the
/// account and everything of it are deleted in one transaction; its data key with it, so
/// that any copy of a sealed template is unreadable. The audit log keeps the record of
/// the closing, as of every act.
pub fn close_account(
    svc: &Service,
    user_id: &str,
    lang: crate::i18n::Lang,
    now: i64,
) -> OidcResult<()> {
    let user = svc
        .db
        .run(|c| users::find(c, user_id))?
        .ok_or_else(|| OidcError::invalid_request("the account no longer exists"))?;
    let t = lang.texts();
    crate::notify::tell(svc, &user, t.closed_subject, t.closed_body);
    svc.db.tx(|c| {
        crate::oidc::backchannel::end_user(c, user_id, now)?;
        users::delete_account(c, user_id)?;
        let entry = Entry {
            kind: Kind::UserRemoved,
            user_id: Some(user_id),
            client_id: None,
            detail: json!({ "by": { "via": "account" } }),
        };
        audit::append(c, entry, now)?;
        Ok(())
    })?;
    Ok(())
}

/// A service the citizen allowed, and to what (the scopes as granted).
#[derive(Debug, Clone, PartialEq)]
pub struct Consented {
    pub client_id: String,
    pub client_name: String,
    pub scopes: String,
}

/// What the account page shows, read in one go.
#[derive(Debug)]
pub struct AccountOverview {
    pub user: Option<users::User>,
    pub enrolled: Vec<FactorKind>,
    /// Registered passkeys: (credential row id, name).
    pub passkeys: Vec<(String, String)>,
    pub recovery_left: usize,
    pub sessions: Vec<sessions::BrowserSession>,
    pub consents: Vec<Consented>,
    /// One page of the citizen's events, newest first.
    pub events: Vec<audit::Event>,
    /// There are older events: the row id to page back from.
    pub older_activity: Option<i64>,
    /// (sid, client id) of each grant the sessions hold.
    session_clients: Vec<(String, String)>,
    /// The names of the services mentioned, by client id.
    client_names: std::collections::HashMap<String, String>,
}

impl AccountOverview {
    /// A service's name, or its id when it is gone.
    pub fn name_of<'a>(&'a self, client_id: &'a str) -> &'a str {
        self.client_names
            .get(client_id)
            .map_or(client_id, String::as_str)
    }

    /// The names of the services the session `sid` signed in to, each once.
    pub fn services_of(&self, sid: &str) -> String {
        let mut names: Vec<&str> = Vec::new();
        for (s, client) in &self.session_clients {
            let name = self.name_of(client);
            if s == sid && !names.contains(&name) {
                names.push(name);
            }
        }
        names.join(", ")
    }
}

/// Events on one page of the account page's activity.
pub const ACTIVITY_PAGE: i64 = 20;

/// The account page of `user_id`, with the activity from row `before` back.
pub fn account_overview(
    c: &mut AnyConnection,
    user_id: &str,
    before: Option<i64>,
    now: i64,
) -> StoreResult<AccountOverview> {
    let credentials = users::credentials_of(c, user_id)?;
    let consents = consents::of_user(c, user_id)?;
    let session_clients = crate::store::tokens::clients_of_sessions(c, user_id)?;
    // One more than shown: whether there is an older page.
    let mut events = audit::page_of_user(c, user_id, before, ACTIVITY_PAGE + 1)?;
    let older_activity = (events.len() as i64 > ACTIVITY_PAGE).then(|| {
        events.truncate(ACTIVITY_PAGE as usize);
        events.last().map_or(0, |e| e.id)
    });
    let mut client_names = std::collections::HashMap::new();
    let mentioned = consents
        .iter()
        .map(|(id, _)| id.clone())
        .chain(session_clients.iter().map(|(_, id)| id.clone()))
        .chain(events.iter().filter_map(|e| e.client_id.clone()));
    for id in mentioned {
        if let std::collections::hash_map::Entry::Vacant(slot) = client_names.entry(id) {
            let id = slot.key().clone();
            slot.insert(clients::find(c, &id)?.map_or(id, |c| c.name));
        }
    }
    let mut overview = AccountOverview {
        user: users::find(c, user_id)?,
        enrolled: crate::login::flow::enrolled_factors(c, user_id)?,
        passkeys: credentials
            .iter()
            .filter(|r| r.kind == CredentialKind::Passkey)
            .map(|r| (r.id.clone(), r.label.clone().unwrap_or_default()))
            .collect(),
        recovery_left: credentials
            .iter()
            .filter(|r| r.kind == CredentialKind::RecoveryCode)
            .count(),
        sessions: sessions::of_user(c, user_id, now)?,
        consents: Vec::new(),
        events,
        older_activity,
        session_clients,
        client_names,
    };
    overview.consents = consents
        .into_iter()
        .map(|(client_id, scopes)| Consented {
            client_name: overview.name_of(&client_id).to_string(),
            client_id,
            scopes,
        })
        .collect();
    Ok(overview)
}

/// The citizen ends one of their sessions: it and what was issued in it end, audited in
/// the same transaction.
pub fn end_session(svc: &Service, user_id: &str, sid: &str, now: i64) -> OidcResult<()> {
    svc.db.tx(|c| {
        if sessions::delete_by_sid(c, user_id, sid)? {
            crate::oidc::backchannel::session_ended(c, sid, now)?;
        }
        let entry = Entry {
            kind: Kind::SessionEnded,
            user_id: Some(user_id),
            client_id: None,
            detail: json!({ "by": "account page" }),
        };
        audit::append(c, entry, now)?;
        Ok(())
    })?;
    Ok(())
}

/// The citizen withdraws a service's consent: everything it holds for them is revoked,
/// audited in the same transaction.
pub fn withdraw_consent(svc: &Service, user_id: &str, client_id: &str, now: i64) -> OidcResult<()> {
    svc.db.tx(|c| {
        consents::revoke(c, user_id, client_id)?;
        crate::store::tokens::revoke_grants_of_user_client(c, user_id, client_id, now)?;
        let entry = Entry {
            kind: Kind::ConsentWithdrawn,
            user_id: Some(user_id),
            client_id: Some(client_id),
            detail: json!({}),
        };
        audit::append(c, entry, now)?;
        Ok(())
    })?;
    Ok(())
}
