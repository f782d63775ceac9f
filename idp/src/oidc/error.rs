//! Protocol errors with exactly the codes of RFC 6749, RFC 6750, RFC 7009, RFC 9449 (DPoP),
//! OIDC Core and OIDC Unmet Authentication Requirements. The HTTP layer turns them into responses.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    ServerError,
    TemporarilyUnavailable,
    InteractionRequired,
    LoginRequired,
    ConsentRequired,
    RequestNotSupported,
    RequestUriNotSupported,
    /// The `request_uri` is unknown, expired, used or another client's (OIDC Core 3.1.2.6).
    InvalidRequestUri,
    /// The request object is not signed by the client, or not for this provider or now.
    InvalidRequestObject,
    RegistrationNotSupported,
    InvalidToken,
    InsufficientScope,
    UnsupportedTokenType,
    UnmetAuthenticationRequirements,
    /// Too many attempts from one client address (answered with 429).
    SlowDown,
    /// Too many failed client authentications for a client id or from an address:
    /// `invalid_client` with 429 and `Retry-After`. The code stays `invalid_client`
    /// because RFC 6749 5.2 clients know it and treat it as "do not retry blindly";
    /// `slow_down` belongs to the device grant (RFC 8628) and generic OAuth libraries
    /// would not recognise it at the token endpoint.
    ClientAuthThrottled,
    /// A DPoP proof is missing where one is needed, or is not valid (RFC 9449 5, 7).
    InvalidDpopProof,
    /// The DPoP proof must carry the server's nonce, given in `DPoP-Nonce` (RFC 9449 8).
    UseDpopNonce,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidRequest => "invalid_request",
            InvalidClient | ClientAuthThrottled => "invalid_client",
            InvalidGrant => "invalid_grant",
            UnauthorizedClient => "unauthorized_client",
            UnsupportedGrantType => "unsupported_grant_type",
            UnsupportedResponseType => "unsupported_response_type",
            InvalidScope => "invalid_scope",
            AccessDenied => "access_denied",
            ServerError => "server_error",
            TemporarilyUnavailable => "temporarily_unavailable",
            InteractionRequired => "interaction_required",
            LoginRequired => "login_required",
            ConsentRequired => "consent_required",
            RequestNotSupported => "request_not_supported",
            RequestUriNotSupported => "request_uri_not_supported",
            InvalidRequestUri => "invalid_request_uri",
            InvalidRequestObject => "invalid_request_object",
            RegistrationNotSupported => "registration_not_supported",
            InvalidToken => "invalid_token",
            InsufficientScope => "insufficient_scope",
            UnsupportedTokenType => "unsupported_token_type",
            UnmetAuthenticationRequirements => "unmet_authentication_requirements",
            SlowDown => "slow_down",
            InvalidDpopProof => "invalid_dpop_proof",
            UseDpopNonce => "use_dpop_nonce",
        }
    }

    /// The HTTP status for a direct (non-redirect) response.
    pub fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            InvalidClient | InvalidToken => 401,
            InsufficientScope => 403,
            SlowDown | ClientAuthThrottled => 429,
            ServerError => 500,
            TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcError {
    pub code: ErrorCode,
    pub description: String,
    /// Seconds after which the request may be retried (HTTP `Retry-After`).
    pub retry_after: Option<i64>,
    /// What a person is told when the error reaches them as a page, when the code alone
    /// does not say it.
    situation: Option<Situation>,
}

/// What went wrong, as a person who meets the error on a page needs to know it: each has
/// a plain cause and one next step in every language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Situation {
    /// No page at that address.
    NotFound,
    /// The sign-in expired, was finished already, or was started in another browser.
    SignInOver,
    /// A form was sent too late or twice.
    FormExpired,
    /// The service that sent the person asked for something that cannot be done.
    ServiceRequest,
    /// Too many attempts from the person's connection.
    TooMany,
    /// The account has no factor that reaches the level the service needs.
    NoMethod,
    /// The provider cannot answer now.
    Unavailable,
}

impl OidcError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        OidcError {
            code,
            description: description.into(),
            retry_after: None,
            situation: None,
        }
    }

    /// The answer to a refused DPoP proof: `invalid_dpop_proof`, or `use_dpop_nonce` (the
    /// HTTP layer adds the nonce to use).
    pub fn dpop(refused: super::dpop::Refused) -> Self {
        match refused {
            super::dpop::Refused::Invalid(why) => Self::new(ErrorCode::InvalidDpopProof, why),
            super::dpop::Refused::UseNonce => Self::new(
                ErrorCode::UseDpopNonce,
                "the DPoP proof must carry the nonce in the DPoP-Nonce header",
            ),
        }
    }

    /// The same error, told to a person as `situation`.
    pub fn told_as(mut self, situation: Situation) -> Self {
        self.situation = Some(situation);
        self
    }

    /// What a person is told: the situation given, else the one the code implies.
    pub fn situation(&self) -> Situation {
        use ErrorCode::*;
        self.situation.unwrap_or(match self.code {
            SlowDown | ClientAuthThrottled => Situation::TooMany,
            ServerError | TemporarilyUnavailable => Situation::Unavailable,
            _ => Situation::ServiceRequest,
        })
    }

    pub fn with_retry_after(mut self, seconds: i64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, d)
    }

    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, d)
    }

    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, d)
    }

    /// A failure of ours, not of the request. The detail goes to the log, not the client.
    pub fn server(detail: impl fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            ErrorCode::ServerError,
            "the server could not complete the request",
        )
    }
}

impl fmt::Display for OidcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OidcError {}

impl From<crate::store::StoreError> for OidcError {
    fn from(e: crate::store::StoreError) -> Self {
        if e.is_transient() {
            tracing::warn!(error = %e, "database busy or unavailable");
            return Self::new(
                ErrorCode::TemporarilyUnavailable,
                "the service is temporarily unavailable; retry shortly",
            )
            .with_retry_after(1);
        }
        Self::server(e)
    }
}

impl From<crate::keys::KeyError> for OidcError {
    /// A security module that does not sign now is a passing trouble (`503`, retry); any
    /// other key error is the server's.
    fn from(e: crate::keys::KeyError) -> Self {
        if let crate::keys::KeyError::Jose(josekit::JoseError::InvalidSignature(cause)) = &e
            && cause.downcast_ref::<crate::keys::kek::KekError>().is_some()
        {
            tracing::error!(error = %e, "the security module did not sign");
            return Self::new(
                ErrorCode::TemporarilyUnavailable,
                "the service is temporarily unavailable; retry shortly",
            )
            .with_retry_after(1);
        }
        Self::server(e)
    }
}

pub type OidcResult<T> = Result<T, OidcError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_that_does_not_sign_is_a_passing_trouble() {
        let down = crate::keys::kek::KekError::Hsm("the token is not present".into());
        let e: OidcError =
            crate::keys::KeyError::Jose(josekit::JoseError::InvalidSignature(down.into())).into();
        assert_eq!(e.code, ErrorCode::TemporarilyUnavailable);
        assert_eq!(e.code.status(), 503);
        let other: OidcError = crate::keys::KeyError::NoActiveKey("ES256").into();
        assert_eq!(other.code, ErrorCode::ServerError);
    }
}
