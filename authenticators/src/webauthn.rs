//! FIDO2 / WebAuthn with `webauthn-rs`: passkeys and security keys, user verification
//! required. A citizen may register several, each with a name. The relying party id is
//! the issuer's host name, the origin the issuer's origin.

use crate::{Factor, FactorError, FactorKind, Verified};
use serde_json::Value;
use webauthn_rs::prelude::*;

pub use webauthn_rs::prelude::Passkey;

pub struct WebAuthn {
    webauthn: Webauthn,
}

/// Options for the browser (`navigator.credentials.create/get`) and the server-side state
/// to keep until the browser answers.
pub struct Challenge {
    pub options: Value,
    pub state: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("WebAuthn needs a domain name as issuer host (not an IP address): {0}")]
    Configuration(String),
}

impl WebAuthn {
    pub fn new(issuer: &str, rp_name: &str) -> Result<WebAuthn, SetupError> {
        let origin = Url::parse(issuer).map_err(|e| SetupError::Configuration(e.to_string()))?;
        let rp_id = origin
            .domain()
            .ok_or_else(|| SetupError::Configuration(issuer.to_string()))?
            .to_string();
        let webauthn = WebauthnBuilder::new(&rp_id, &origin)
            .and_then(|b| b.rp_name(rp_name).build())
            .map_err(|e| SetupError::Configuration(e.to_string()))?;
        Ok(WebAuthn { webauthn })
    }

    /// Starts registering a new passkey for the user, excluding the ones they have.
    pub fn begin_registration(
        &self,
        user_id: &str,
        username: &str,
        display_name: &str,
        existing: &[Passkey],
    ) -> Result<Challenge, FactorError> {
        let handle = Uuid::parse_str(user_id).map_err(|_| FactorError::Malformed)?;
        let exclude = existing.iter().map(|p| p.cred_id().clone()).collect();
        let (ccr, state) = self
            .webauthn
            .start_passkey_registration(handle, username, display_name, Some(exclude))
            .map_err(|_| FactorError::Malformed)?;
        let mut options = serde_json::to_value(ccr).map_err(|_| FactorError::Malformed)?;
        // A passkey the authenticator can keep (discoverable) signs in without a username;
        // "preferred" leaves security keys with little room free to decline.
        if let Some(selection) = options["publicKey"]["authenticatorSelection"].as_object_mut() {
            selection.insert("residentKey".into(), "preferred".into());
        }
        Ok(Challenge {
            options,
            state: serde_json::to_string(&state).map_err(|_| FactorError::Malformed)?,
        })
    }

    /// Starts a sign-in with whichever passkey the browser holds for this site: no
    /// username first (discoverable credentials). A button starts it, so the request is
    /// modal, not the browser's autofill.
    pub fn begin_discoverable(&self) -> Result<Challenge, FactorError> {
        let (rcr, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|_| FactorError::Malformed)?;
        let mut options = serde_json::to_value(rcr).map_err(|_| FactorError::Malformed)?;
        if let Some(o) = options.as_object_mut() {
            o.remove("mediation");
        }
        Ok(Challenge {
            options,
            state: serde_json::to_string(&state).map_err(|_| FactorError::Malformed)?,
        })
    }

    /// The account a discoverable answer names by its user handle (the account id, as
    /// registered), unchecked: `finish_discoverable` proves it.
    pub fn identify(&self, response: &str) -> Option<String> {
        let answer: PublicKeyCredential = serde_json::from_str(response).ok()?;
        let (handle, _) = self
            .webauthn
            .identify_discoverable_authentication(&answer)
            .ok()?;
        Some(handle.simple().to_string())
    }

    /// Checks a discoverable answer against the passkeys of the account it named; returns
    /// them with the signature counter moved on.
    pub fn finish_discoverable(
        &self,
        state: &str,
        response: &str,
        keys: &[Passkey],
    ) -> Result<Verified<Vec<Passkey>>, FactorError> {
        let state: DiscoverableAuthentication =
            serde_json::from_str(state).map_err(|_| FactorError::Malformed)?;
        let answer: PublicKeyCredential =
            serde_json::from_str(response).map_err(|_| FactorError::Malformed)?;
        let (_, id) = self
            .webauthn
            .identify_discoverable_authentication(&answer)
            .map_err(|_| FactorError::Malformed)?;
        let key = keys
            .iter()
            .find(|k| {
                let known: &[u8] = k.cred_id().as_ref();
                known == id
            })
            .ok_or(FactorError::Mismatch)?;
        let result = self
            .webauthn
            .finish_discoverable_authentication_v2(&answer, state, key)
            .map_err(|_| FactorError::Mismatch)?;
        checked(keys, &result)
    }

    /// Checks the browser's answer to a registration; returns the new passkey.
    pub fn finish_registration(&self, state: &str, response: &str) -> Result<Passkey, FactorError> {
        let state: PasskeyRegistration =
            serde_json::from_str(state).map_err(|_| FactorError::Malformed)?;
        let reg: RegisterPublicKeyCredential =
            serde_json::from_str(response).map_err(|_| FactorError::Malformed)?;
        self.webauthn
            .finish_passkey_registration(&reg, &state)
            .map_err(|_| FactorError::Mismatch)
    }
}

/// The id of a passkey, base64url, as the browser reports it.
pub fn credential_id(p: &Passkey) -> String {
    use base64::Engine;
    let id: &[u8] = p.cred_id().as_ref();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

impl Factor for WebAuthn {
    /// Every passkey the citizen has registered.
    type Credential = Vec<Passkey>;
    /// `None` when the citizen has no passkey.
    type Challenge = Option<Challenge>;
    /// The browser's `PublicKeyCredential`, as JSON.
    type Response = str;

    fn kind(&self) -> FactorKind {
        FactorKind::WebAuthn
    }

    fn begin(&self, credential: &Vec<Passkey>, _now: i64) -> Option<Challenge> {
        if credential.is_empty() {
            return None;
        }
        let (rcr, state) = self
            .webauthn
            .start_passkey_authentication(credential)
            .ok()?;
        Some(Challenge {
            options: serde_json::to_value(rcr).ok()?,
            state: serde_json::to_string(&state).ok()?,
        })
    }

    fn finish(
        &self,
        credential: &Vec<Passkey>,
        challenge: &Option<Challenge>,
        response: &str,
        _now: i64,
    ) -> Result<Verified<Vec<Passkey>>, FactorError> {
        let challenge = challenge.as_ref().ok_or(FactorError::Malformed)?;
        let state: PasskeyAuthentication =
            serde_json::from_str(&challenge.state).map_err(|_| FactorError::Malformed)?;
        let answer: PublicKeyCredential =
            serde_json::from_str(response).map_err(|_| FactorError::Malformed)?;
        let result = self
            .webauthn
            .finish_passkey_authentication(&answer, &state)
            .map_err(|_| FactorError::Mismatch)?;
        checked(credential, &result)
    }
}

/// A verified assertion: the user was verified, and the key's counter moved on.
fn checked(
    keys: &[Passkey],
    result: &AuthenticationResult,
) -> Result<Verified<Vec<Passkey>>, FactorError> {
    if !result.user_verified() {
        return Err(FactorError::Mismatch);
    }
    let mut updated = keys.to_vec();
    for p in updated.iter_mut() {
        // A counter that did not move forward marks a cloned authenticator.
        if p.update_credential(result) == Some(false) && result.counter() > 0 {
            return Err(FactorError::Replayed);
        }
    }
    Ok(Verified {
        updated: Some(updated),
        kind: FactorKind::WebAuthn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_a_domain_and_issues_registration_options() {
        assert!(WebAuthn::new("http://127.0.0.1:8080", "idp").is_err());
        let w = WebAuthn::new("http://localhost:8080", "idp").unwrap();
        let c = w
            .begin_registration("0123456789abcdef0123456789abcdef", "anna", "Anna", &[])
            .unwrap();
        assert_eq!(c.options["publicKey"]["rp"]["id"], "localhost");
        assert_eq!(
            c.options["publicKey"]["authenticatorSelection"]["userVerification"],
            "required"
        );
        assert_eq!(
            c.options["publicKey"]["authenticatorSelection"]["residentKey"],
            "preferred"
        );
        assert!(w.finish_registration(&c.state, "{}").is_err());
        assert!(w.begin(&vec![], 0).is_none());
        // Without a username: no credentials listed, a modal request.
        let d = w.begin_discoverable().unwrap();
        assert!(d.options.get("mediation").is_none());
        assert!(
            d.options["publicKey"]["allowCredentials"]
                .as_array()
                .is_none_or(|a| a.is_empty())
        );
        assert!(w.identify("{}").is_none());
        assert!(w.finish_discoverable(&d.state, "{}", &[]).is_err());
    }
}
