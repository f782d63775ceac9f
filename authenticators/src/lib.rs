//! Authentication factors. Each factor is a module behind one trait: `begin` produces the
//! challenge (a nonce, options for the browser, a code to send, or nothing), `finish` checks
//! the citizen's response against the credential it is handed and returns the credential's
//! new state and the `amr` values it proves. No factor knows about HTTP or storage.

pub mod certificate;
pub mod code;
pub mod document;
pub mod face;
pub mod password;
pub mod picture;
pub mod recovery;
pub mod totp;
pub mod voice;
pub mod webauthn;

/// Every kind of factor the provider knows, whether or not it is implemented yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FactorKind {
    Password,
    Totp,
    RecoveryCode,
    WebAuthn,
    Certificate,
    SmsCode,
    EmailCode,
    Face,
    Voice,
}

/// Stored by name (`FactorKind::name`), as in configuration.
impl serde::Serialize for FactorKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for FactorKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        FactorKind::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown factor {name}")))
    }
}

/// What kind of evidence a factor is; two factors are independent when their categories
/// differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Knowledge,
    Possession,
    Inherence,
    /// Device-bound and resistant to phishing: WebAuthn with user verification, X.509.
    PhishingResistant,
}

impl FactorKind {
    pub const ALL: [FactorKind; 9] = [
        FactorKind::Password,
        FactorKind::Totp,
        FactorKind::RecoveryCode,
        FactorKind::WebAuthn,
        FactorKind::Certificate,
        FactorKind::SmsCode,
        FactorKind::EmailCode,
        FactorKind::Face,
        FactorKind::Voice,
    ];

    /// The name used in storage and configuration.
    pub fn name(self) -> &'static str {
        match self {
            FactorKind::Password => "password",
            FactorKind::Totp => "totp",
            FactorKind::RecoveryCode => "recovery",
            FactorKind::WebAuthn => "webauthn",
            FactorKind::Certificate => "x509",
            FactorKind::SmsCode => "sms",
            FactorKind::EmailCode => "email",
            FactorKind::Face => "face",
            FactorKind::Voice => "voice",
        }
    }

    pub fn parse(name: &str) -> Option<FactorKind> {
        FactorKind::ALL.into_iter().find(|f| f.name() == name)
    }

    /// RFC 8176 authentication method reference.
    pub fn amr(self) -> &'static str {
        match self {
            FactorKind::Password => "pwd",
            FactorKind::Totp | FactorKind::RecoveryCode | FactorKind::EmailCode => "otp",
            FactorKind::WebAuthn => "hwk",
            FactorKind::Certificate => "sc",
            FactorKind::SmsCode => "sms",
            FactorKind::Face => "face",
            FactorKind::Voice => "vbm",
        }
    }

    /// Whether the factor may be the only one of a sign-in. Voice may not: a voice is
    /// heard and recorded in public, synthetic speech imitates it, and its threshold is set
    /// for a false-match rate of 1% (see `voice`), so it only adds to another factor.
    pub fn may_stand_alone(self) -> bool {
        !matches!(self, FactorKind::Voice)
    }

    pub fn category(self) -> Category {
        match self {
            FactorKind::Password => Category::Knowledge,
            FactorKind::Totp
            | FactorKind::RecoveryCode
            | FactorKind::SmsCode
            | FactorKind::EmailCode => Category::Possession,
            FactorKind::WebAuthn | FactorKind::Certificate => Category::PhishingResistant,
            FactorKind::Face | FactorKind::Voice => Category::Inherence,
        }
    }
}

/// Why a factor refused a response. Deliberately coarse: the citizen learns only that it
/// did not work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactorError {
    #[error("the response does not match")]
    Mismatch,
    #[error("the response was already used")]
    Replayed,
    #[error("the response is malformed")]
    Malformed,
}

/// A successful check: the credential's new state (if it changed) and what it proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified<C> {
    pub updated: Option<C>,
    pub kind: FactorKind,
}

/// One authentication factor.
pub trait Factor {
    /// The stored credential (decrypted), handed in by the caller.
    type Credential;
    /// What `begin` produces for the citizen's side.
    type Challenge;
    /// What the citizen presents.
    type Response: ?Sized;

    fn kind(&self) -> FactorKind;

    fn begin(&self, credential: &Self::Credential, now: i64) -> Self::Challenge;

    fn finish(
        &self,
        credential: &Self::Credential,
        challenge: &Self::Challenge,
        response: &Self::Response,
        now: i64,
    ) -> Result<Verified<Self::Credential>, FactorError>;
}
