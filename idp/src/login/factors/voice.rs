//! The voice as a step-up factor (amr `vbm`), never the first or only one: the citizen
//! reads digits the server chose and the recording is compared 1:1 with their enrolled
//! voice. It is analysed before the check's transaction (it takes a while); inside it the
//! challenge is used up (single use, timed) and the templates compared, so that the attempt
//! is counted, locked and audited like every other factor's.

use crate::biometrics::{self, CapturePurpose};
use crate::oidc::error::{OidcError, OidcResult};
use crate::service::Service;
use crate::store::users::{self, CredentialKind};
use crate::store::{AnyConnection, StoreResult};
use authenticators::voice::Unusable;

/// A new recording challenge: the digits the page asks the citizen to read.
pub fn begin(svc: &Service, holder: &str, now: i64) -> OidcResult<serde_json::Value> {
    let (challenge, phrase) =
        biometrics::begin_voice(svc, holder, CapturePurpose::VoiceSignIn, now)?;
    Ok(serde_json::json!({ "challenge": challenge, "phrase": phrase.digits }))
}

/// A recording after analysis, waiting for the check.
pub struct Prepared {
    challenge: String,
    live: Result<matcher::Template, Unusable>,
}

fn expired() -> OidcError {
    OidcError::invalid_request("this recording has expired or was already used; start again")
}

/// Analyses a recording answering `challenge`.
pub fn prepare(
    svc: &Service,
    holder: &str,
    challenge: &str,
    wav: &[u8],
    now: i64,
) -> OidcResult<Prepared> {
    let purpose = CapturePurpose::VoiceSignIn;
    if !biometrics::voice_challenge_live(svc, holder, challenge, purpose, now)? {
        return Err(expired());
    }
    Ok(Prepared {
        challenge: challenge.to_string(),
        live: biometrics::analyse_voice(svc, wav)?,
    })
}

impl Prepared {
    /// A recording without usable speech is not an attempt: the citizen is asked to try
    /// again, nothing is counted.
    pub fn unusable(&self) -> Option<Unusable> {
        self.live.as_ref().err().copied()
    }

    /// The check itself, in the factor check's transaction.
    pub fn verify(
        &self,
        svc: &Service,
        conn: &mut AnyConnection,
        user_id: &str,
        now: i64,
    ) -> StoreResult<Option<()>> {
        let purpose = CapturePurpose::VoiceSignIn;
        if !biometrics::take_voice(conn, user_id, &self.challenge, purpose, now)? {
            return Ok(None);
        }
        let Ok(live) = &self.live else {
            return Ok(None);
        };
        let Some(cred) = users::credential(conn, user_id, CredentialKind::Voice)? else {
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
