//! The face as a sign-in factor: 1:1 for the account that is signing in (a step-up), or
//! 1:N to find who is in front of the camera (sign-in without a username, where a
//! deployment allows it). The capture is analysed before the check's transaction (it takes
//! a while); inside it, the challenge is used up (single use, timed) and, 1:1, the live
//! template compared with the enrolled one, so the attempt is counted, locked and audited
//! like every other factor's. A challenge belongs to its `holder`: the account, or for a
//! 1:N sign-in the login transaction (`holder_of_transaction`).

use crate::biometrics::{self, CapturePurpose, Issued};
use crate::oidc::error::{OidcError, OidcResult};
use crate::service::Service;
use crate::store::users::{self, CredentialKind};
use crate::store::{AnyConnection, StoreResult};
use authenticators::face::{Refusal, Unusable};

/// A new capture challenge: what the page needs to film it.
pub fn begin(svc: &Service, holder: &str, now: i64) -> OidcResult<serde_json::Value> {
    let (challenge, cue) = biometrics::begin(svc, holder, CapturePurpose::SignIn, now)?;
    Ok(serde_json::json!({ "challenge": challenge, "cue": cue }))
}

/// A capture after analysis, waiting for the check.
pub struct Prepared {
    challenge: String,
    issued: Issued,
    live: Result<matcher::Template, Refusal>,
}

/// Analyses a capture answering `challenge`.
pub fn prepare(
    svc: &Service,
    holder: &str,
    challenge: &str,
    frames: &[Vec<u8>],
    now: i64,
) -> OidcResult<Prepared> {
    let issued = biometrics::cue_of(svc, holder, challenge, CapturePurpose::SignIn, now)?
        .ok_or_else(|| {
            OidcError::invalid_request("this capture has expired or was already used; start again")
        })?;
    Ok(Prepared {
        challenge: challenge.to_string(),
        live: biometrics::analyse(svc, frames, &issued.cue)?,
        issued,
    })
}

impl Prepared {
    /// A capture that shows no usable face is not an attempt: the citizen is asked to
    /// try again, nothing is counted.
    pub fn unusable(&self) -> Option<Unusable> {
        match self.live {
            Err(Refusal::Unusable(u)) => Some(u),
            _ => None,
        }
    }

    /// Why the capture failed, if the check refuses it: not live, or not the enrolled face.
    pub fn refusal(&self) -> Refusal {
        match self.live {
            Err(r) => r,
            Ok(_) => Refusal::NoMatch,
        }
    }

    /// 1:N: the account whose enrolled face this live one is, if exactly one clearly is.
    pub fn identify(&self, svc: &Service) -> OidcResult<Option<String>> {
        match &self.live {
            Ok(live) => biometrics::identify(svc, live),
            Err(_) => Ok(None),
        }
    }

    /// 1:N, in the factor check's transaction (the account was found by `identify`): the
    /// challenge is used up; the capture was live.
    pub fn take_identified(
        &self,
        conn: &mut AnyConnection,
        holder: &str,
        now: i64,
    ) -> StoreResult<Option<()>> {
        let purpose = CapturePurpose::SignIn;
        let taken = biometrics::take(conn, holder, &self.challenge, purpose, &self.issued, now)?;
        Ok((taken && self.live.is_ok()).then_some(()))
    }

    /// 1:1, the check itself, in the factor check's transaction.
    pub fn verify(
        &self,
        svc: &Service,
        conn: &mut AnyConnection,
        user_id: &str,
        now: i64,
    ) -> StoreResult<Option<()>> {
        let purpose = CapturePurpose::SignIn;
        if !biometrics::take(conn, user_id, &self.challenge, purpose, &self.issued, now)? {
            return Ok(None);
        }
        let Ok(live) = &self.live else {
            return Ok(None);
        };
        let Some(cred) = users::credential(conn, user_id, CredentialKind::Face)? else {
            return Ok(None);
        };
        let Some(enrolled) = biometrics::open(svc, conn, &cred)? else {
            return Ok(None);
        };
        let Ok((same, _score)) = biometrics::compare(svc, live, &enrolled) else {
            return Ok(None);
        };
        if same {
            users::touch_credential(conn, &cred.id, now)?;
        }
        Ok(same.then_some(()))
    }
}
