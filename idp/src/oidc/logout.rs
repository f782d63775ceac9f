//! RP-Initiated Logout 1.0: the end-session request, checked before anything is done; and
//! Front-Channel Logout 1.0: the URIs the signed-out page loads in the browser.

use super::error::{OidcError, OidcResult};
use super::params::{Params, space_list};
use crate::keys::KeySet;
use crate::store::clients::Client;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct LogoutRequest {
    /// Where to send the browser afterwards (already checked against the client), with
    /// the `state` to hand back.
    pub redirect: Option<(String, Option<String>)>,
    pub client_id: Option<String>,
    /// From a valid `id_token_hint`: the session and subject it was issued in.
    pub hint_sid: Option<String>,
    pub hint_sub: Option<String>,
    pub ui_locales: Vec<String>,
}

impl LogoutRequest {
    /// Whether the hint names the browser's session: by its `sid`, or (a hint without
    /// one) by its person's `sub` as the hint's client sees it (`subject`).
    pub fn hints_at(
        &self,
        conn: &mut crate::store::AnyConnection,
        pairwise: &super::subject::PairwiseKey,
        session: &crate::store::sessions::BrowserSession,
    ) -> crate::store::StoreResult<bool> {
        if let Some(sid) = &self.hint_sid {
            return Ok(*sid == session.sid);
        }
        let (Some(sub), Some(client_id)) = (&self.hint_sub, &self.client_id) else {
            return Ok(false);
        };
        Ok(crate::store::clients::find(conn, client_id)?
            .is_some_and(|c| super::subject::of(pairwise, &c, &session.user_id) == *sub))
    }
}

/// The front-channel logout URIs of the services a session signed in to, each with the
/// issuer and the session (`iss`, `sid`), for the browser to load (Front-Channel Logout
/// 1.0, 3).
pub fn frontchannel_uris(issuer: &str, sid: &str, clients: &[Client]) -> Vec<String> {
    clients
        .iter()
        .filter_map(|c| url::Url::parse(c.frontchannel_logout_uri.as_deref()?).ok())
        .map(|mut u| {
            u.query_pairs_mut()
                .append_pair("iss", issuer)
                .append_pair("sid", sid);
            u.to_string()
        })
        .collect()
}

pub fn validate<E>(
    params: &Params,
    keys: &KeySet,
    issuer: &str,
    find_client: impl FnOnce(&str) -> Result<Option<Client>, E>,
) -> Result<OidcResult<LogoutRequest>, E> {
    let mut hint_sid = None;
    let mut hint_sub = None;
    let mut hint_aud = None;
    let mut hint_claims = None;
    if let Some(hint) = params.get("id_token_hint") {
        // An expired ID token is still a valid hint; only its signature and issuer count.
        let Some(claims) = keys
            .verify(hint)
            .filter(|c| c.get("iss").and_then(Value::as_str) == Some(issuer))
        else {
            return Ok(Err(OidcError::invalid_request(
                "id_token_hint is not a valid ID token of this provider",
            )));
        };
        let s = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
        hint_sid = s("sid");
        hint_sub = s("sub");
        // Without `client_id`, the hint's first audience is the client (OIDC RP-Initiated
        // Logout 1.0, 2); with one, the hint must have been issued to it (checked below).
        hint_aud = s("aud").or_else(|| {
            claims
                .get("aud")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        hint_claims = Some(claims);
    }
    if let (Some(c), Some(h)) = (params.get("client_id"), &hint_claims)
        && !super::audience_contains(h, c)
    {
        return Ok(Err(OidcError::invalid_request(
            "id_token_hint was not issued to this client_id",
        )));
    }
    let client_id = match (params.get("client_id"), hint_aud) {
        (Some(c), _) => Some(c.to_string()),
        (None, a) => a,
    };
    let redirect = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let Some(id) = client_id.as_deref() else {
                return Ok(Err(OidcError::invalid_request(
                    "post_logout_redirect_uri needs client_id or id_token_hint",
                )));
            };
            let registered = find_client(id)?
                .is_some_and(|c| c.post_logout_redirect_uris.iter().any(|u| u == uri));
            if !registered {
                return Ok(Err(OidcError::invalid_request(
                    "post_logout_redirect_uri is not registered for this client",
                )));
            }
            Some((uri.to_string(), params.get("state").map(str::to_string)))
        }
    };
    Ok(Ok(LogoutRequest {
        redirect,
        client_id,
        hint_sid,
        hint_sub,
        ui_locales: space_list(params.get("ui_locales")),
    }))
}
