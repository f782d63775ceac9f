//! Enrolling the voice, a factor that only adds to another one (`FactorKind::
//! may_stand_alone`). As for the face, nothing is recorded before the citizen has read
//! what is kept and agreed; the recording (digits the server chose, read aloud) becomes a
//! template sealed under the citizen's data key, and the audio is not kept. Withdrawing
//! the consent destroys the template at once. Every step is audited and told.

use super::biometric::{agree_to, consent_for, withdraw_consent_in};
use super::{Change, notify};
use crate::audit::{self, Entry, Kind};
use crate::biometrics::{self, CapturePurpose};
use crate::crypto;
use crate::i18n::Lang;
use crate::oidc::error::{OidcError, OidcResult};
use crate::service::Service;
use crate::store::biometric_consents::BiometricConsent;
use crate::store::users::{self, Credential, CredentialKind};
use authenticators::FactorKind;
use authenticators::voice::Unusable;
use serde_json::json;

/// The version of the consent text (`Texts::voice_*`).
pub const CONSENT_VERSION: &str = "voice-1";
const MODALITY: FactorKind = FactorKind::Voice;

pub fn consent_of(svc: &Service, user_id: &str) -> OidcResult<Option<BiometricConsent>> {
    consent_for(svc, user_id, MODALITY)
}

/// The citizen's enrolled voice, if any.
pub fn enrolled(svc: &Service, user_id: &str) -> OidcResult<Option<Credential>> {
    Ok(svc
        .db
        .run(|c| users::credential(c, user_id, CredentialKind::Voice))?)
}

pub fn agree(svc: &Service, user_id: &str, now: i64) -> OidcResult<()> {
    agree_to(svc, user_id, MODALITY, CONSENT_VERSION, now)
}

fn no_consent() -> OidcError {
    OidcError::invalid_request("agree to the use of your voice first")
}

/// Starts a recording for enrolment: the digits to read.
pub fn begin(svc: &Service, user_id: &str, now: i64) -> OidcResult<(String, String)> {
    consent_of(svc, user_id)?.ok_or_else(no_consent)?;
    let (id, phrase) = biometrics::begin_voice(svc, user_id, CapturePurpose::VoiceEnrol, now)?;
    Ok((id, phrase.digits))
}

/// Enrols the voice of a recording; it replaces an earlier template.
pub fn finish(
    svc: &Service,
    user_id: &str,
    challenge: &str,
    wav: &[u8],
    lang: Lang,
    now: i64,
) -> OidcResult<Result<(), Unusable>> {
    consent_of(svc, user_id)?.ok_or_else(no_consent)?;
    let purpose = CapturePurpose::VoiceEnrol;
    if !biometrics::voice_challenge_live(svc, user_id, challenge, purpose, now)? {
        return Err(super::biometric::expired());
    }
    let analysed = biometrics::analyse_voice(svc, wav)?;
    let stored = svc.db.tx(|c| {
        if !biometrics::take_voice(c, user_id, challenge, purpose, now)? {
            return Ok(None);
        }
        let template = match analysed {
            Ok(t) => t,
            Err(u) => return Ok(Some(Err(u))),
        };
        users::delete_credentials(c, user_id, CredentialKind::Voice)?;
        let id = crypto::random_id();
        let kind = CredentialKind::Voice;
        let sealed = biometrics::seal(svc, c, user_id, kind, &id, &template, now)?;
        users::insert_credential(
            c,
            &Credential {
                id,
                user_id: user_id.into(),
                kind,
                label: Some(template.model().to_string()),
                data: sealed,
                created_at: now,
                last_used_at: None,
                counter: None,
            },
        )?;
        let detail = json!({ "factor": MODALITY.name(), "model": template.model().to_string() });
        let entry = Entry {
            kind: Kind::FactorEnrolled,
            user_id: Some(user_id),
            client_id: None,
            detail,
        };
        audit::append(c, entry, now)?;
        Ok(Some(Ok(())))
    })?;
    let result = stored.ok_or_else(super::biometric::expired)?;
    if result.is_ok() {
        notify(svc, user_id, Change::VoiceAdded, lang)?;
    }
    Ok(result)
}

/// Withdraws the consent: the template is destroyed in the same transaction.
pub fn withdraw(svc: &Service, user_id: &str, lang: Lang, now: i64) -> OidcResult<()> {
    let had = svc
        .db
        .tx(|c| withdraw_consent_in(c, user_id, MODALITY, CredentialKind::Voice, now))?;
    if had {
        notify(svc, user_id, Change::VoiceRemoved, lang)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000;

    fn recording(n: u32) -> Vec<u8> {
        let name = format!(
            "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-{n:04}.wav"
        );
        std::fs::read(&name)
            .unwrap_or_else(|_| panic!("{name} is missing: apt-get install pocketsphinx-testdata"))
    }

    #[test]
    fn the_voice_is_enrolled_after_consent_counts_only_with_another_factor_and_is_withdrawn() {
        let (_dir, svc) = crate::service::for_tests();
        assert!(begin(&svc, "u-anna", T0).is_err(), "nothing before consent");
        agree(&svc, "u-anna", T0).unwrap();
        let (challenge, digits) = begin(&svc, "u-anna", T0).unwrap();
        assert_eq!(digits.split(' ').count(), 6);
        assert!(
            digits
                .split(' ')
                .all(|d| d.len() == 1 && d.chars().all(|c| c.is_ascii_digit()))
        );
        // Silence is no speech (and uses the challenge up like any answer).
        let silence = wav16k(&vec![0i16; 16_000 * 3]);
        assert_eq!(
            finish(&svc, "u-anna", &challenge, &silence, Lang::En, T0 + 4).unwrap(),
            Err(Unusable::NoSpeech)
        );
        let (challenge, _) = begin(&svc, "u-anna", T0 + 5).unwrap();
        assert_eq!(
            finish(
                &svc,
                "u-anna",
                &challenge,
                &recording(870),
                Lang::En,
                T0 + 9
            )
            .unwrap(),
            Ok(())
        );
        // Single use.
        assert!(
            finish(
                &svc,
                "u-anna",
                &challenge,
                &recording(870),
                Lang::En,
                T0 + 10
            )
            .is_err()
        );

        // Step-up: the same reader's other sentence passes, the check path counts it.
        let check = |wav: &[u8], now: i64| {
            let json = crate::login::factors::voice::begin(&svc, "u-anna", now).unwrap();
            let challenge = json["challenge"].as_str().unwrap().to_string();
            let prepared =
                crate::login::factors::voice::prepare(&svc, "u-anna", &challenge, wav, now + 4)
                    .unwrap();
            svc.db
                .tx(|c| prepared.verify(&svc, c, "u-anna", now + 4))
                .unwrap()
        };
        assert_eq!(check(&recording(920), T0 + 20), Some(()));
        let rules = svc.rules();
        let policy = &rules.policy;
        assert_eq!(policy.achieved(&[FactorKind::Voice]), None);
        assert_eq!(
            policy.achieved(&[FactorKind::Password, FactorKind::Voice]),
            Some(crate::policy::Level::Substantial)
        );

        withdraw(&svc, "u-anna", Lang::En, T0 + 30).unwrap();
        let left = svc
            .db
            .run(|c| users::credential(c, "u-anna", CredentialKind::Voice))
            .unwrap();
        assert!(left.is_none(), "the template is destroyed");
        assert_eq!(check(&recording(920), T0 + 40), None);
    }

    /// A WAV file of 16 kHz mono 16-bit samples.
    fn wav16k(samples: &[i16]) -> Vec<u8> {
        let data_len = (samples.len() * 2) as u32;
        let mut out = Vec::with_capacity(44 + data_len as usize);
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + data_len).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&16_000u32.to_le_bytes());
        out.extend_from_slice(&32_000u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&16u16.to_le_bytes());
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data_len.to_le_bytes());
        for s in samples {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }
}
