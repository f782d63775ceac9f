//! Ending a browser session at the provider (RP-Initiated Logout 1.0). With an
//! `id_token_hint` for the current session the citizen is signed out at once; otherwise
//! they are asked first, and the question names the account and the service that asked,
//! so that a third-party page cannot sign them out unnoticed. Ending a session revokes the
//! grants issued in it and writes the back-channel notices of its services, in the same
//! transaction as its audit entry; the services that listen in the browser
//! (front-channel) are named for the signed-out page to load.

use crate::crypto;
use crate::oidc::backchannel;
use crate::oidc::error::OidcResult;
use crate::oidc::logout::{self, LogoutRequest};
use crate::oidc::params::Params;
use crate::service::Service;
use crate::store::{clients, sessions, users};

/// What a logout request comes to.
#[derive(Debug)]
pub enum Ending {
    /// Ask the citizen first.
    Ask {
        request: LogoutRequest,
        /// The signed-in account as the citizen knows it (their name, else username).
        account: String,
        /// The service that sent them here, by its name, when known.
        service: Option<String>,
    },
    /// Signed out (or there was no session): where to go now, and the front-channel
    /// logout URIs the browser loads first.
    Done {
        request: LogoutRequest,
        frontchannel: Vec<String>,
    },
}

/// Checks the request and, when the citizen confirmed it or its hint names this session,
/// ends the session that `session_cookie` holds.
pub fn end(
    svc: &Service,
    params: &Params,
    session_cookie: Option<&str>,
    confirmed: bool,
    now: i64,
) -> OidcResult<Ending> {
    let keys = svc.keys();
    let request = svc.db.run(|c| {
        logout::validate(params, &keys, &svc.provider.issuer, |id| {
            clients::find(c, id)
        })
    })??;
    let nothing_to_end = |request| Ending::Done {
        request,
        frontchannel: Vec::new(),
    };
    let Some(cookie) = session_cookie else {
        return Ok(nothing_to_end(request));
    };
    let hash = crypto::secret_hash(cookie);
    let Some(session) = svc.db.run(|c| sessions::find_live(c, &hash, now))? else {
        return Ok(nothing_to_end(request));
    };
    let hinted = svc
        .db
        .run(|c| request.hints_at(c, &svc.provider.pairwise, &session))?;
    if !(confirmed || hinted) {
        let (account, service) = svc.db.run(|c| {
            let user = users::find(c, &session.user_id)?;
            let service = match &request.client_id {
                Some(id) => clients::find(c, id)?.map(|c| c.name),
                None => None,
            };
            Ok((user.map(|u| u.name.unwrap_or(u.username)), service))
        })?;
        return Ok(Ending::Ask {
            account: account.unwrap_or_default(),
            service,
            request,
        });
    }
    let ended = svc.db.tx(|c| {
        sessions::delete(c, &hash)?;
        let ended = backchannel::session_ended(c, &session.sid, now)?;
        let detail = serde_json::json!({ "by": "logout", "client": request.client_id });
        let entry = crate::audit::Entry {
            kind: crate::audit::Kind::SessionEnded,
            user_id: Some(&session.user_id),
            client_id: None,
            detail,
        };
        crate::audit::append(c, entry, now)?;
        Ok(ended)
    })?;
    tracing::info!("session ended by logout");
    let issuer = &svc.provider.issuer;
    Ok(Ending::Done {
        frontchannel: logout::frontchannel_uris(issuer, &session.sid, &ended.clients),
        request,
    })
}
