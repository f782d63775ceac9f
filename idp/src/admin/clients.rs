//! Relying parties: register, change, rotate the secret, remove, list, show.
//!
//! Redirect URIs (and post-logout redirect URIs) are absolute, matched exactly, and use
//! https; plain http only on a loopback host (`127.0.0.1`, `[::1]`, `localhost`) and
//! private-use schemes with a dot (`gov.example.app:/cb`), both for native apps (RFC 8252
//! 7.1, 7.3). No wildcard, fragment or user information. Logout URIs (back- and
//! front-channel) are https (plain http on a loopback host), without fragment or user
//! information. Scopes are those the provider
//! supports (`oidc::authorize::scopes_supported`), grant types those the token endpoint
//! implements.

use super::{
    Actor, AdminError, AdminResult, Context, Resource, Subject, display_text, invalid, record,
};
use crate::audit::Kind;
use crate::crypto;
use crate::keys::Alg;
use crate::oidc::GrantType;
use crate::oidc::authorize::{DEFAULT_SCOPES, scopes_supported};
use crate::oidc::mtls::{self, SubjectName};
use crate::policy::Level;
use crate::store::client_logos;
use crate::store::clients::{
    self as store, AccessTokenFormat, AuthMethod, Client, IdTokenClaims, Profile, SubjectType,
};
use crate::store::denials::{self, Denied};
use serde::Serialize;
use serde_json::{Map, Value, json};

pub const MIN_SECRET_CHARS: usize = 16;
const MAX_SECRET_CHARS: usize = 512;
const MAX_ID_LEN: usize = 64;
const MAX_NAME_CHARS: usize = 200;
const MAX_URI_LEN: usize = 2000;
pub const DEFAULT_GRANTS: [GrantType; 2] = [GrantType::AuthorizationCode, GrantType::RefreshToken];
pub const DEFAULT_ACCESS_TOKEN_TTL: i64 = 600;
pub const DEFAULT_REFRESH_TOKEN_TTL: i64 = 8 * 3600;
const MAX_ACCESS_TOKEN_TTL: i64 = denials::LONGEST_ACCESS_TOKEN_TTL;
const MAX_REFRESH_TOKEN_TTL: i64 = 365 * 24 * 3600;

/// How a new client proves its identity at the token endpoint.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A secret the administrator chose (`client_secret_basic` / `client_secret_post`).
    Secret(String),
    /// A random secret made here, returned once; only its keyed hash is stored.
    GenerateSecret,
    /// `client_secret_jwt`: the given secret (at least 32 bytes, as HS256 needs), or a
    /// random one made here and returned once; kept sealed under the key-encryption key,
    /// since the provider must check HMACs with it.
    SecretJwt(Option<String>),
    /// A public client (`none`): PKCE is then required.
    Public,
    /// `private_key_jwt` with the client's public keys (a JWK set, JSON).
    Jwks(String),
    /// `private_key_jwt` with the keys the client publishes at this https URI (fetched,
    /// cached, fetched again when it rotates them: `oidc::client_keys`).
    JwksUri(String),
    /// `tls_client_auth`: a certificate from a CA of `mtls.ca_files` that carries this
    /// name (RFC 8705 2.1).
    TlsClientAuth(SubjectName),
    /// `self_signed_tls_client_auth`: one of the certificates in this JWK set's `x5c`
    /// (RFC 8705 2.2).
    SelfSignedTls(String),
}

impl Credentials {
    /// The method a client with these credentials authenticates with.
    pub fn auth_method(&self) -> AuthMethod {
        match self {
            Credentials::Secret(_) | Credentials::GenerateSecret => AuthMethod::Secret,
            Credentials::SecretJwt(_) => AuthMethod::SecretJwt,
            Credentials::Public => AuthMethod::None,
            Credentials::Jwks(_) | Credentials::JwksUri(_) => AuthMethod::PrivateKeyJwt,
            Credentials::TlsClientAuth(_) => AuthMethod::TlsClientAuth,
            Credentials::SelfSignedTls(_) => AuthMethod::SelfSignedTlsClientAuth,
        }
    }
}

/// A client to register. Empty lists and `None` take the defaults.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub id: String,
    /// Shown to citizens [default: the id].
    pub name: Option<String>,
    pub credentials: Credentials,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// [default: openid profile email]
    pub scopes: Vec<String>,
    /// [default: authorization_code refresh_token]
    pub grant_types: Vec<String>,
    /// ES256 or RS256 [default: ES256].
    pub id_token_alg: Option<String>,
    /// low, substantial or high [default: low].
    pub risk_level: Option<String>,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    /// May introspect tokens issued to other clients (an API).
    pub resource_server: bool,
    /// opaque or jwt (RFC 9068) [default: opaque].
    pub access_token_format: Option<String>,
    /// requested or scopes [default: requested].
    pub id_token_claims: Option<String>,
    /// public or pairwise (OIDC Core 8) [default: pairwise].
    pub subject_type: Option<String>,
    /// The sector of pairwise subjects, a host name [default: the redirect URIs' host].
    pub sector_identifier: Option<String>,
    /// Or an https document listing the client's redirect URIs (OIDC Core 8.1), fetched
    /// now: its host is the sector.
    pub sector_identifier_uri: Option<String>,
    /// https URIs where the client publishes request objects to pass by reference.
    pub request_uris: Vec<String>,
    /// The client's privacy notice and terms of use (https), linked from the pages.
    pub policy_uri: Option<String>,
    pub tos_uri: Option<String>,
    /// The client's logo (https, PNG or JPEG), fetched now and served by the provider.
    pub logo_uri: Option<String>,
    /// Authorization requests must be pushed (RFC 9126).
    pub require_pushed_authorization_requests: bool,
    /// Where the client hears of ended sessions (OIDC Back-Channel Logout 1.0).
    pub backchannel_logout_uri: Option<String>,
    /// Where the browser tells the client of an ended session (Front-Channel Logout 1.0).
    pub frontchannel_logout_uri: Option<String>,
    /// A client registering itself (RFC 7591): the hash of its registration access token.
    pub registration_token_hash: Option<String>,
    /// Every token request must carry a DPoP proof (RFC 9449 5.2).
    pub dpop_bound_access_tokens: bool,
    /// Access tokens bound to the client's TLS certificate (RFC 8705 3).
    pub tls_client_certificate_bound_access_tokens: bool,
    /// Encrypt ID tokens to a key of the client's `jwks` with this algorithm.
    pub id_token_encrypted_response_alg: Option<String>,
    /// ... and this content encryption [default: A128CBC-HS256].
    pub id_token_encrypted_response_enc: Option<String>,
    /// UserInfo answers as a JWT signed with ES256 or RS256.
    pub userinfo_signed_response_alg: Option<String>,
    /// UserInfo answers encrypted to a key of the client's `jwks` with this algorithm.
    pub userinfo_encrypted_response_alg: Option<String>,
    /// ... and this content encryption [default: A128CBC-HS256].
    pub userinfo_encrypted_response_enc: Option<String>,
    /// The `max_age` of the client's requests that name none.
    pub default_max_age: Option<i64>,
    /// The `acr_values` of the client's requests that name none (eIDAS levels).
    pub default_acr_values: Vec<String>,
    /// `fapi2`: held to the FAPI 2.0 Security Profile (pushed requests and DPoP turned on,
    /// private_key_jwt and ES256 required).
    pub profile: Option<String>,
}

impl NewClient {
    /// A client with every default, to be adjusted.
    pub fn new(id: &str, credentials: Credentials, redirect_uris: Vec<String>) -> NewClient {
        NewClient {
            id: id.to_string(),
            name: None,
            credentials,
            redirect_uris,
            post_logout_redirect_uris: Vec::new(),
            scopes: Vec::new(),
            grant_types: Vec::new(),
            id_token_alg: None,
            risk_level: None,
            access_token_ttl: None,
            refresh_token_ttl: None,
            resource_server: false,
            access_token_format: None,
            id_token_claims: None,
            subject_type: None,
            sector_identifier: None,
            sector_identifier_uri: None,
            request_uris: Vec::new(),
            policy_uri: None,
            tos_uri: None,
            logo_uri: None,
            require_pushed_authorization_requests: false,
            backchannel_logout_uri: None,
            frontchannel_logout_uri: None,
            registration_token_hash: None,
            dpop_bound_access_tokens: false,
            tls_client_certificate_bound_access_tokens: false,
            id_token_encrypted_response_alg: None,
            id_token_encrypted_response_enc: None,
            userinfo_signed_response_alg: None,
            userinfo_encrypted_response_alg: None,
            userinfo_encrypted_response_enc: None,
            default_max_age: None,
            default_acr_values: Vec::new(),
            profile: None,
        }
    }
}

/// Changes to a registered client; `None` leaves a setting as it is, a list replaces the
/// registered one.
#[derive(Debug, Clone, Default)]
pub struct ClientChanges {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    pub id_token_alg: Option<String>,
    pub risk_level: Option<String>,
    pub access_token_ttl: Option<i64>,
    pub refresh_token_ttl: Option<i64>,
    pub resource_server: Option<bool>,
    pub access_token_format: Option<String>,
    pub id_token_claims: Option<String>,
    /// Changing it changes the `sub` of every citizen at this client.
    pub subject_type: Option<String>,
    /// Changing it changes the pairwise `sub` of every citizen at this client.
    pub sector_identifier: Option<String>,
    /// Replaces them; an empty list removes them.
    pub request_uris: Option<Vec<String>>,
    /// An empty value removes it.
    pub policy_uri: Option<String>,
    /// An empty value removes it.
    pub tos_uri: Option<String>,
    /// Fetched now; an empty value removes it.
    pub logo_uri: Option<String>,
    pub require_pushed_authorization_requests: Option<bool>,
    /// An empty value removes it.
    pub backchannel_logout_uri: Option<String>,
    /// An empty value removes it.
    pub frontchannel_logout_uri: Option<String>,
    pub dpop_bound_access_tokens: Option<bool>,
    pub tls_client_certificate_bound_access_tokens: Option<bool>,
    /// An empty value stops encrypting ID tokens.
    pub id_token_encrypted_response_alg: Option<String>,
    pub id_token_encrypted_response_enc: Option<String>,
    /// An empty value answers UserInfo in plain JSON again.
    pub userinfo_signed_response_alg: Option<String>,
    /// An empty value stops encrypting UserInfo.
    pub userinfo_encrypted_response_alg: Option<String>,
    pub userinfo_encrypted_response_enc: Option<String>,
    /// A negative value removes it.
    pub default_max_age: Option<i64>,
    /// An empty list removes them.
    pub default_acr_values: Option<Vec<String>>,
    /// An empty value drops the profile.
    pub profile: Option<String>,
}

/// A new client's secret.
#[derive(Debug, Clone)]
pub enum NewSecret {
    Generate,
    Given(String),
}

/// A client as administrators see it: everything but the secret's hash.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ClientView {
    pub id: String,
    pub name: String,
    pub auth_method: &'static str,
    pub has_secret: bool,
    /// The public keys for `private_key_jwt`.
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
    /// Where the client publishes them instead.
    pub jwks_uri: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub id_token_alg: String,
    pub risk_level: String,
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub resource_server: bool,
    /// `opaque` (stored, revoked at once) or `jwt` (RFC 9068: checked without a database
    /// read, revoked within a second).
    pub access_token_format: &'static str,
    /// `requested` (the claims asked for with the `claims` parameter; the scopes' claims
    /// from UserInfo, OIDC Core 5.4) or `scopes` (every claim of the granted scopes).
    pub id_token_claims: &'static str,
    /// `public` (the account id) or `pairwise` (one `sub` per sector, OIDC Core 8.1).
    pub subject_type: &'static str,
    /// The sector of pairwise subjects.
    pub sector_identifier: Option<String>,
    /// The document that gave it, if one did.
    pub sector_identifier_uri: Option<String>,
    /// Where the client publishes request objects to pass by reference.
    pub request_uris: Vec<String>,
    /// The client's privacy notice and terms of use, linked from the pages.
    pub policy_uri: Option<String>,
    pub tos_uri: Option<String>,
    /// Where its logo was fetched from (the provider serves the image).
    pub logo_uri: Option<String>,
    /// Authorization requests must be pushed (RFC 9126).
    pub require_pushed_authorization_requests: bool,
    /// Where the client hears of ended sessions (OIDC Back-Channel Logout 1.0).
    pub backchannel_logout_uri: Option<String>,
    /// Where the browser tells the client of an ended session (Front-Channel Logout 1.0).
    pub frontchannel_logout_uri: Option<String>,
    /// Every token request must carry a DPoP proof (RFC 9449 5.2).
    pub dpop_bound_access_tokens: bool,
    /// For `tls_client_auth`: the name its certificate carries, under its metadata name
    /// (RFC 8705 2.1.2).
    #[schema(value_type = Option<Object>)]
    pub tls_client_auth: Option<SubjectName>,
    /// Access tokens are bound to the TLS client certificate (RFC 8705 3).
    pub tls_client_certificate_bound_access_tokens: bool,
    /// ID tokens are encrypted to the client's key with this algorithm and encryption.
    pub id_token_encrypted_response_alg: Option<String>,
    pub id_token_encrypted_response_enc: Option<String>,
    /// UserInfo answers as a JWT signed with this algorithm.
    pub userinfo_signed_response_alg: Option<String>,
    /// UserInfo answers are encrypted to the client's key with this algorithm and encryption.
    pub userinfo_encrypted_response_alg: Option<String>,
    pub userinfo_encrypted_response_enc: Option<String>,
    /// The `max_age` of the client's requests that name none.
    pub default_max_age: Option<i64>,
    /// The `acr_values` of the client's requests that name none (eIDAS levels).
    pub default_acr_values: Vec<String>,
    /// `fapi2`: held to the FAPI 2.0 Security Profile.
    pub profile: Option<&'static str>,
    pub created_at: i64,
}

impl From<&Client> for ClientView {
    fn from(c: &Client) -> ClientView {
        ClientView {
            id: c.id.clone(),
            name: c.name.clone(),
            auth_method: c.auth_method.as_str(),
            has_secret: c.secret_hash.is_some(),
            jwks: c.jwks.as_deref().and_then(|j| serde_json::from_str(j).ok()),
            jwks_uri: c.jwks_uri.clone(),
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            grant_types: c.grant_types.clone(),
            scopes: c.scopes.clone(),
            id_token_alg: c.id_token_alg.clone(),
            risk_level: c.risk_level.clone(),
            access_token_ttl: c.access_token_ttl,
            refresh_token_ttl: c.refresh_token_ttl,
            resource_server: c.resource_server,
            access_token_format: c.access_token_format.as_str(),
            id_token_claims: c.id_token_claims.as_str(),
            subject_type: c.subject_type.as_str(),
            sector_identifier: c.sector_identifier.clone(),
            sector_identifier_uri: c.sector_identifier_uri.clone(),
            request_uris: c.request_uris.clone(),
            policy_uri: c.policy_uri.clone(),
            tos_uri: c.tos_uri.clone(),
            logo_uri: c.logo_uri.clone(),
            require_pushed_authorization_requests: c.require_pushed_authorization_requests,
            backchannel_logout_uri: c.backchannel_logout_uri.clone(),
            frontchannel_logout_uri: c.frontchannel_logout_uri.clone(),
            dpop_bound_access_tokens: c.dpop_bound_access_tokens,
            tls_client_auth: c.tls_client_auth.clone(),
            tls_client_certificate_bound_access_tokens: c
                .tls_client_certificate_bound_access_tokens,
            id_token_encrypted_response_alg: c.id_token_encrypted_response_alg.clone(),
            id_token_encrypted_response_enc: c.id_token_encrypted_response_enc.clone(),
            userinfo_signed_response_alg: c.userinfo_signed_response_alg.clone(),
            userinfo_encrypted_response_alg: c.userinfo_encrypted_response_alg.clone(),
            userinfo_encrypted_response_enc: c.userinfo_encrypted_response_enc.clone(),
            default_max_age: c.default_max_age,
            default_acr_values: c.default_acr_values.clone(),
            profile: c.profile.map(Profile::as_str),
            created_at: c.created_at,
        }
    }
}

/// A registered client, and its secret when it was generated (shown this once).
#[derive(Debug)]
pub struct Created {
    pub client: ClientView,
    pub secret: Option<String>,
}

/// A changed client and the names of the settings that changed (none: nothing written).
#[derive(Debug)]
pub struct Updated {
    pub client: ClientView,
    pub changed: Vec<&'static str>,
}

pub fn create(ctx: &Context, actor: &Actor, new: NewClient, now: i64) -> AdminResult<Created> {
    create_with(ctx, actor, new, now, |_| Ok(()))
}

/// `create`, with `first` run at the start of the transaction that stores the client: an
/// error from it (a registration token used up) stores nothing.
pub fn create_with(
    ctx: &Context,
    actor: &Actor,
    new: NewClient,
    now: i64,
    first: impl FnOnce(&mut crate::store::AnyConnection) -> AdminResult<()>,
) -> AdminResult<Created> {
    let id = client_id(&new.id)?;
    let name = match &new.name {
        Some(n) => display_text("name", n, MAX_NAME_CHARS)?,
        None => id.clone(),
    };
    let generated = matches!(
        new.credentials,
        Credentials::GenerateSecret | Credentials::SecretJwt(None)
    );
    let jwks_uri = match &new.credentials {
        Credentials::JwksUri(uri) => Some(fetched_uri(ctx, "jwks_uri", uri)?),
        _ => None,
    };
    let tls_client_auth = match &new.credentials {
        Credentials::TlsClientAuth(name) => Some(name.clone()),
        _ => None,
    };
    let (auth_method, secret, jwks) = match new.credentials {
        Credentials::Secret(s) => (AuthMethod::Secret, Some(secret(s)?), None),
        Credentials::GenerateSecret => (AuthMethod::Secret, Some(crypto::random_token()), None),
        Credentials::SecretJwt(s) => {
            let s = s.map(hmac_secret).transpose()?;
            (
                AuthMethod::SecretJwt,
                Some(s.unwrap_or_else(crypto::random_token)),
                None,
            )
        }
        Credentials::Public => (AuthMethod::None, None, None),
        Credentials::Jwks(j) => (AuthMethod::PrivateKeyJwt, None, Some(jwk_set(&j)?)),
        Credentials::JwksUri(_) => (AuthMethod::PrivateKeyJwt, None, None),
        Credentials::TlsClientAuth(_) => (AuthMethod::TlsClientAuth, None, None),
        Credentials::SelfSignedTls(j) => (
            AuthMethod::SelfSignedTlsClientAuth,
            None,
            Some(self_signed_jwks(&j)?),
        ),
    };
    let scopes = if new.scopes.is_empty() {
        DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()
    } else {
        scopes(ctx, &new.scopes)?
    };
    let grant_types = if new.grant_types.is_empty() {
        DEFAULT_GRANTS
            .iter()
            .map(|g| g.name().to_string())
            .collect()
    } else {
        grant_types(&new.grant_types)?
    };
    if new.sector_identifier.is_some() && new.sector_identifier_uri.is_some() {
        return Err(invalid(
            "sector_identifier_uri",
            "give sector_identifier or sector_identifier_uri, not both",
        ));
    }
    // The document is fetched before anything is written (OIDC Core 8.1).
    let sector_document = new
        .sector_identifier_uri
        .as_deref()
        .map(|uri| sector_document(ctx, uri, &new.redirect_uris))
        .transpose()?;
    let logo = new
        .logo_uri
        .as_deref()
        .map(|uri| client_logo(ctx, uri))
        .transpose()?;
    let sealed_secret = secret
        .as_deref()
        .filter(|_| auth_method == AuthMethod::SecretJwt)
        .map(|s| ctx.kek.client_secrets().seal(&id, s));
    let mut client = Client {
        id,
        name,
        secret_hash: secret.as_deref().map(|s| ctx.kek.client_secrets().hash(s)),
        sealed_secret,
        auth_method,
        jwks,
        jwks_uri,
        redirect_uris: redirect_uris("redirect_uris", &new.redirect_uris)?,
        post_logout_redirect_uris: redirect_uris(
            "post_logout_redirect_uris",
            &new.post_logout_redirect_uris,
        )?,
        grant_types,
        scopes,
        id_token_alg: id_token_alg(new.id_token_alg.as_deref().unwrap_or("ES256"))?,
        risk_level: risk_level(new.risk_level.as_deref().unwrap_or("low"))?,
        access_token_ttl: ttl(
            "access_token_ttl",
            new.access_token_ttl.unwrap_or(DEFAULT_ACCESS_TOKEN_TTL),
            MAX_ACCESS_TOKEN_TTL,
        )?,
        refresh_token_ttl: ttl(
            "refresh_token_ttl",
            new.refresh_token_ttl.unwrap_or(DEFAULT_REFRESH_TOKEN_TTL),
            MAX_REFRESH_TOKEN_TTL,
        )?,
        created_at: now,
        resource_server: new.resource_server,
        access_token_format: access_token_format(
            new.access_token_format.as_deref().unwrap_or("opaque"),
        )?,
        id_token_claims: id_token_claims(new.id_token_claims.as_deref().unwrap_or("requested"))?,
        subject_type: subject_type(new.subject_type.as_deref().unwrap_or("pairwise"))?,
        sector_identifier: match (&new.sector_identifier, &sector_document) {
            (Some(s), _) => Some(sector_identifier(s)?),
            (None, Some((_, host))) => Some(host.clone()),
            (None, None) => None,
        },
        sector_identifier_uri: sector_document.map(|(uri, _)| uri),
        request_uris: request_uris(ctx, &new.request_uris)?,
        policy_uri: new
            .policy_uri
            .as_deref()
            .map(|u| page_uri("policy_uri", u))
            .transpose()?,
        tos_uri: new
            .tos_uri
            .as_deref()
            .map(|u| page_uri("tos_uri", u))
            .transpose()?,
        logo_uri: logo.as_ref().map(|(uri, _)| uri.clone()),
        require_pushed_authorization_requests: new.require_pushed_authorization_requests,
        backchannel_logout_uri: new
            .backchannel_logout_uri
            .as_deref()
            .map(|u| logout_uri("backchannel_logout_uri", u))
            .transpose()?,
        frontchannel_logout_uri: new
            .frontchannel_logout_uri
            .as_deref()
            .map(|u| logout_uri("frontchannel_logout_uri", u))
            .transpose()?,
        registration_token_hash: new.registration_token_hash,
        dpop_bound_access_tokens: new.dpop_bound_access_tokens,
        tls_client_auth,
        tls_client_certificate_bound_access_tokens: new.tls_client_certificate_bound_access_tokens,
        id_token_encrypted_response_alg: new
            .id_token_encrypted_response_alg
            .as_deref()
            .map(|a| encryption_alg("id_token_encrypted_response_alg", a))
            .transpose()?,
        id_token_encrypted_response_enc: new
            .id_token_encrypted_response_enc
            .as_deref()
            .map(|e| encryption_enc("id_token_encrypted_response_enc", e))
            .transpose()?,
        userinfo_signed_response_alg: new
            .userinfo_signed_response_alg
            .as_deref()
            .map(|a| signing_alg("userinfo_signed_response_alg", a))
            .transpose()?,
        userinfo_encrypted_response_alg: new
            .userinfo_encrypted_response_alg
            .as_deref()
            .map(|a| encryption_alg("userinfo_encrypted_response_alg", a))
            .transpose()?,
        userinfo_encrypted_response_enc: new
            .userinfo_encrypted_response_enc
            .as_deref()
            .map(|e| encryption_enc("userinfo_encrypted_response_enc", e))
            .transpose()?,
        default_max_age: new.default_max_age.map(max_age).transpose()?,
        default_acr_values: acr_values(&new.default_acr_values)?,
        profile: new.profile.as_deref().map(profile).transpose()?,
    };
    apply_profile(&mut client);
    fix_sector(&mut client)?;
    consistent(&client)?;
    ctx.db.try_tx(|c| {
        first(c)?;
        if !store::insert(c, &client)? {
            return Err(AdminError::Conflict {
                resource: Resource::Client,
                id: client.id.clone(),
            });
        }
        if let Some((_, png)) = &logo {
            client_logos::put(c, &client.id, png, now)?;
        }
        let detail = json!({
            "name": client.name,
            "auth_method": client.auth_method.as_str(),
            "jwks_uri": client.jwks_uri,
            "redirect_uris": client.redirect_uris,
            "post_logout_redirect_uris": client.post_logout_redirect_uris,
            "grant_types": client.grant_types,
            "scopes": client.scopes,
            "id_token_alg": client.id_token_alg,
            "risk_level": client.risk_level,
            "resource_server": client.resource_server,
            "access_token_format": client.access_token_format,
            "id_token_claims": client.id_token_claims,
            "subject_type": client.subject_type,
            "sector_identifier": client.sector_identifier,
            "sector_identifier_uri": client.sector_identifier_uri,
            "request_uris": client.request_uris,
            "policy_uri": client.policy_uri,
            "tos_uri": client.tos_uri,
            "logo_uri": client.logo_uri,
            "require_pushed_authorization_requests": client.require_pushed_authorization_requests,
            "backchannel_logout_uri": client.backchannel_logout_uri,
            "frontchannel_logout_uri": client.frontchannel_logout_uri,
            "dpop_bound_access_tokens": client.dpop_bound_access_tokens,
            "tls_client_auth": client.tls_client_auth,
            "tls_client_certificate_bound_access_tokens": client.tls_client_certificate_bound_access_tokens,
            "id_token_encrypted_response_alg": client.id_token_encrypted_response_alg,
            "id_token_encrypted_response_enc": client.id_token_encrypted_response_enc,
            "userinfo_signed_response_alg": client.userinfo_signed_response_alg,
            "userinfo_encrypted_response_alg": client.userinfo_encrypted_response_alg,
            "userinfo_encrypted_response_enc": client.userinfo_encrypted_response_enc,
            "default_max_age": client.default_max_age,
            "default_acr_values": client.default_acr_values,
            "profile": client.profile.map(Profile::as_str),
        });
        record(
            c,
            actor,
            Kind::ClientCreated,
            Subject::Client(&client.id),
            detail,
            now,
        )?;
        Ok(())
    })?;
    Ok(Created {
        client: ClientView::from(&client),
        secret: secret.filter(|_| generated),
    })
}

pub fn update(
    ctx: &Context,
    actor: &Actor,
    id: &str,
    changes: ClientChanges,
    now: i64,
) -> AdminResult<Updated> {
    // Every given value is checked before the transaction; the combination after it is
    // read, inside.
    let name = changes
        .name
        .as_deref()
        .map(|n| display_text("name", n, MAX_NAME_CHARS))
        .transpose()?;
    let redirects = changes
        .redirect_uris
        .as_deref()
        .map(|u| redirect_uris("redirect_uris", u))
        .transpose()?;
    let post_logout = changes
        .post_logout_redirect_uris
        .as_deref()
        .map(|u| redirect_uris("post_logout_redirect_uris", u))
        .transpose()?;
    let scopes = changes
        .scopes
        .as_deref()
        .map(|s| {
            if s.is_empty() {
                Err(invalid("scopes", "at least one scope is needed"))
            } else {
                scopes(ctx, s)
            }
        })
        .transpose()?;
    let grants = changes
        .grant_types
        .as_deref()
        .map(grant_types)
        .transpose()?;
    let alg = changes
        .id_token_alg
        .as_deref()
        .map(id_token_alg)
        .transpose()?;
    let level = changes.risk_level.as_deref().map(risk_level).transpose()?;
    let format = changes
        .access_token_format
        .as_deref()
        .map(access_token_format)
        .transpose()?;
    let in_id_tokens = changes
        .id_token_claims
        .as_deref()
        .map(id_token_claims)
        .transpose()?;
    let subjects = changes
        .subject_type
        .as_deref()
        .map(subject_type)
        .transpose()?;
    let sector = changes
        .sector_identifier
        .as_deref()
        .map(|s| sector_identifier(s).map(Some))
        .transpose()?;
    let new_request_uris = changes
        .request_uris
        .as_deref()
        .map(|u| request_uris(ctx, u))
        .transpose()?;
    let policy = clearable(changes.policy_uri.as_deref(), |u| page_uri("policy_uri", u))?;
    let terms = clearable(changes.tos_uri.as_deref(), |u| page_uri("tos_uri", u))?;
    // Fetched before the transaction, like a sector document.
    let logo = clearable(changes.logo_uri.as_deref(), |u| client_logo(ctx, u))?;
    let backchannel = clearable(changes.backchannel_logout_uri.as_deref(), |u| {
        logout_uri("backchannel_logout_uri", u)
    })?;
    let frontchannel = clearable(changes.frontchannel_logout_uri.as_deref(), |u| {
        logout_uri("frontchannel_logout_uri", u)
    })?;
    let enc_alg = clearable(changes.id_token_encrypted_response_alg.as_deref(), |a| {
        encryption_alg("id_token_encrypted_response_alg", a)
    })?;
    let enc_enc = clearable(changes.id_token_encrypted_response_enc.as_deref(), |e| {
        encryption_enc("id_token_encrypted_response_enc", e)
    })?;
    let userinfo_alg = clearable(changes.userinfo_signed_response_alg.as_deref(), |a| {
        signing_alg("userinfo_signed_response_alg", a)
    })?;
    let userinfo_enc_alg = clearable(changes.userinfo_encrypted_response_alg.as_deref(), |a| {
        encryption_alg("userinfo_encrypted_response_alg", a)
    })?;
    let userinfo_enc_enc = clearable(changes.userinfo_encrypted_response_enc.as_deref(), |e| {
        encryption_enc("userinfo_encrypted_response_enc", e)
    })?;
    let new_profile = clearable(changes.profile.as_deref(), profile)?;
    let default_max_age = match changes.default_max_age {
        Some(s) if s < 0 => Some(None),
        Some(s) => Some(Some(max_age(s)?)),
        None => None,
    };
    let default_acr_values = changes
        .default_acr_values
        .as_deref()
        .map(acr_values)
        .transpose()?;
    let access = changes
        .access_token_ttl
        .map(|t| ttl("access_token_ttl", t, MAX_ACCESS_TOKEN_TTL))
        .transpose()?;
    let refresh = changes
        .refresh_token_ttl
        .map(|t| ttl("refresh_token_ttl", t, MAX_REFRESH_TOKEN_TTL))
        .transpose()?;
    // New redirect URIs of a client whose sector a document gave must be in it (fetched
    // before the transaction; the sector itself does not change).
    if let Some(uris) = &redirects
        && let Some(uri) = ctx
            .db
            .run(|c| store::find(c, id))?
            .and_then(|c| c.sector_identifier_uri)
    {
        sector_document(ctx, &uri, uris)?;
    }
    ctx.db.try_tx(|c| {
        let mut client = found(store::find(c, id)?, id)?;
        let mut changed: Map<String, Value> = Map::new();
        macro_rules! apply {
            ($field:ident, $new:expr) => {
                if let Some(v) = $new
                    && client.$field != v
                {
                    changed.insert(stringify!($field).into(), json!(v));
                    client.$field = v;
                }
            };
        }
        apply!(name, name);
        apply!(redirect_uris, redirects);
        apply!(post_logout_redirect_uris, post_logout);
        apply!(scopes, scopes);
        apply!(grant_types, grants);
        apply!(id_token_alg, alg);
        apply!(risk_level, level);
        apply!(access_token_ttl, access);
        apply!(refresh_token_ttl, refresh);
        apply!(resource_server, changes.resource_server);
        apply!(access_token_format, format);
        apply!(id_token_claims, in_id_tokens);
        apply!(subject_type, subjects);
        apply!(sector_identifier, sector);
        apply!(request_uris, new_request_uris);
        apply!(policy_uri, policy);
        apply!(tos_uri, terms);
        apply!(
            logo_uri,
            logo.as_ref()
                .map(|l| l.as_ref().map(|(uri, _)| uri.clone()))
        );
        // The image is kept even when the URI is the same: fetching again refreshes it.
        match &logo {
            Some(Some((_, png))) => client_logos::put(c, &client.id, png, now)?,
            Some(None) => client_logos::delete(c, &client.id)?,
            None => {}
        }
        apply!(
            require_pushed_authorization_requests,
            changes.require_pushed_authorization_requests
        );
        apply!(backchannel_logout_uri, backchannel);
        apply!(frontchannel_logout_uri, frontchannel);
        apply!(dpop_bound_access_tokens, changes.dpop_bound_access_tokens);
        apply!(
            tls_client_certificate_bound_access_tokens,
            changes.tls_client_certificate_bound_access_tokens
        );
        apply!(id_token_encrypted_response_alg, enc_alg);
        apply!(id_token_encrypted_response_enc, enc_enc);
        apply!(userinfo_signed_response_alg, userinfo_alg);
        apply!(userinfo_encrypted_response_alg, userinfo_enc_alg);
        apply!(userinfo_encrypted_response_enc, userinfo_enc_enc);
        apply!(default_max_age, default_max_age);
        apply!(default_acr_values, default_acr_values);
        apply!(profile, new_profile);
        // A profile's settings are turned on with it (and stay when it is dropped).
        let before = (
            client.require_pushed_authorization_requests,
            client.dpop_bound_access_tokens,
        );
        apply_profile(&mut client);
        if before.0 != client.require_pushed_authorization_requests {
            changed.insert("require_pushed_authorization_requests".into(), json!(true));
        }
        if before.1 != client.dpop_bound_access_tokens {
            changed.insert("dpop_bound_access_tokens".into(), json!(true));
        }
        let sector_before = client.sector_identifier.clone();
        fix_sector(&mut client)?;
        if client.sector_identifier != sector_before {
            changed.insert("sector_identifier".into(), json!(client.sector_identifier));
        }
        let names: Vec<&'static str> = FIELDS
            .iter()
            .copied()
            .filter(|f| changed.contains_key(*f))
            .collect();
        if names.is_empty() {
            return Ok(Updated {
                client: ClientView::from(&client),
                changed: names,
            });
        }
        consistent(&client)?;
        store::update(c, &client, now)?;
        let detail = json!({ "changed": changed });
        record(
            c,
            actor,
            Kind::ClientUpdated,
            Subject::Client(&client.id),
            detail,
            now,
        )?;
        Ok(Updated {
            client: ClientView::from(&client),
            changed: names,
        })
    })
}

/// The settings `update` can change, as `ClientView` names them.
const FIELDS: [&str; 31] = [
    "name",
    "redirect_uris",
    "post_logout_redirect_uris",
    "scopes",
    "grant_types",
    "id_token_alg",
    "risk_level",
    "access_token_ttl",
    "refresh_token_ttl",
    "resource_server",
    "access_token_format",
    "id_token_claims",
    "subject_type",
    "sector_identifier",
    "request_uris",
    "policy_uri",
    "tos_uri",
    "logo_uri",
    "require_pushed_authorization_requests",
    "backchannel_logout_uri",
    "frontchannel_logout_uri",
    "dpop_bound_access_tokens",
    "tls_client_certificate_bound_access_tokens",
    "id_token_encrypted_response_alg",
    "id_token_encrypted_response_enc",
    "userinfo_signed_response_alg",
    "userinfo_encrypted_response_alg",
    "userinfo_encrypted_response_enc",
    "default_max_age",
    "default_acr_values",
    "profile",
];

/// The longest an initial access token for dynamic registration lives (30 days).
pub const MAX_REGISTRATION_TOKEN_TTL: i64 = 30 * 24 * 3600;
/// The most registrations one initial access token allows.
pub const MAX_REGISTRATION_TOKEN_USES: i64 = 1000;

/// Makes an initial access token for dynamic client registration (RFC 7591 3), good for
/// `uses` registrations within `ttl` seconds; returns it (shown this once: only its hash
/// is kept).
pub fn issue_registration_token(
    ctx: &Context,
    actor: &Actor,
    ttl: i64,
    uses: i64,
    now: i64,
) -> AdminResult<String> {
    let ttl = self::ttl("ttl", ttl, MAX_REGISTRATION_TOKEN_TTL)?;
    if !(1..=MAX_REGISTRATION_TOKEN_USES).contains(&uses) {
        return Err(invalid(
            "uses",
            format!("between 1 and {MAX_REGISTRATION_TOKEN_USES}"),
        ));
    }
    let token = crypto::random_token();
    ctx.db.try_tx(|c| {
        crate::store::registration_tokens::insert(
            c,
            &crypto::secret_hash(&token),
            uses,
            now + ttl,
            now,
        )?;
        let detail = json!({ "uses": uses, "expires_at": now + ttl });
        record(
            c,
            actor,
            Kind::RegistrationTokenIssued,
            Subject::Provider,
            detail,
            now,
        )?;
        Ok::<_, AdminError>(())
    })?;
    Ok(token)
}

/// Replaces a confidential client's secret; the old one stops working at once. Returns
/// the new secret when it was generated (shown this once).
pub fn rotate_secret(
    ctx: &Context,
    actor: &Actor,
    id: &str,
    new: NewSecret,
    now: i64,
) -> AdminResult<Option<String>> {
    let (value, generated) = match new {
        NewSecret::Generate => (crypto::random_token(), true),
        NewSecret::Given(s) => (secret(s)?, false),
    };
    let secrets = ctx.kek.client_secrets();
    ctx.db.try_tx(|c| {
        let mut client = found(store::find(c, id)?, id)?;
        if client.auth_method == AuthMethod::SecretJwt {
            let value = hmac_secret(value.clone())?;
            client.sealed_secret = Some(secrets.seal(id, &value));
        } else if client.auth_method != AuthMethod::Secret {
            return Err(invalid(
                "secret",
                format!(
                    "client {id} authenticates with {}, not a secret",
                    client.auth_method.as_str()
                ),
            ));
        }
        client.secret_hash = Some(secrets.hash(&value));
        store::update(c, &client, now)?;
        record(
            c,
            actor,
            Kind::ClientSecretRotated,
            Subject::Client(id),
            json!({}),
            now,
        )?;
        Ok(())
    })?;
    Ok(generated.then_some(value))
}

/// Removes a client and everything issued to it (grants, tokens, consents); its JWT
/// access tokens are denied.
pub fn remove(ctx: &Context, actor: &Actor, id: &str, now: i64) -> AdminResult<()> {
    ctx.db.try_tx(|c| {
        let client = found(store::find(c, id)?, id)?;
        super::console::refuse_removal(&ClientView::from(&client))?;
        store::remove(c, &client.id, now)?;
        client_logos::delete(c, &client.id)?;
        let until = denials::outliving_tokens(now);
        denials::insert(c, Denied::Client(&client.id), until, now)?;
        let detail = json!({ "name": client.name });
        record(
            c,
            actor,
            Kind::ClientRemoved,
            Subject::Client(id),
            detail,
            now,
        )?;
        Ok(())
    })
}

pub fn list(ctx: &Context) -> AdminResult<Vec<ClientView>> {
    let all = ctx.db.run(store::list)?;
    Ok(all.iter().map(ClientView::from).collect())
}

pub fn show(ctx: &Context, id: &str) -> AdminResult<ClientView> {
    let client = found(ctx.db.run(|c| store::find(c, id))?, id)?;
    Ok(ClientView::from(&client))
}

fn found(client: Option<Client>, id: &str) -> AdminResult<Client> {
    client.ok_or_else(|| AdminError::NotFound {
        resource: Resource::Client,
        id: id.to_string(),
    })
}

fn client_id(id: &str) -> AdminResult<String> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !ok {
        return Err(invalid(
            "id",
            format!("1-{MAX_ID_LEN} characters of A-Z a-z 0-9 . _ -"),
        ));
    }
    Ok(id.to_string())
}

/// The fewest bytes of a `client_secret_jwt` secret: HS256's key is at least as long as
/// its hash (RFC 7518 3.2).
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

fn hmac_secret(s: String) -> AdminResult<String> {
    let s = secret(s)?;
    if s.len() < MIN_HMAC_SECRET_BYTES {
        return Err(invalid(
            "secret",
            format!("at least {MIN_HMAC_SECRET_BYTES} bytes for client_secret_jwt"),
        ));
    }
    Ok(s)
}

fn secret(s: String) -> AdminResult<String> {
    let n = s.chars().count();
    if n < MIN_SECRET_CHARS {
        return Err(invalid(
            "secret",
            format!("at least {MIN_SECRET_CHARS} characters"),
        ));
    }
    if n > MAX_SECRET_CHARS {
        return Err(invalid(
            "secret",
            format!("at most {MAX_SECRET_CHARS} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(invalid("secret", "may not contain control characters"));
    }
    Ok(s)
}

/// A JWK set of public keys, as given.
/// A URI the provider will fetch from on the client's behalf (`oidc::fetch`).
fn fetched_uri(ctx: &Context, field: &'static str, uri: &str) -> AdminResult<String> {
    if uri.len() > MAX_URI_LEN {
        return Err(invalid(
            field,
            format!("longer than {MAX_URI_LEN} characters"),
        ));
    }
    crate::oidc::fetch::check_uri(uri, ctx.config.fetch_private_addresses)
        .map_err(|e| invalid(field, e))?;
    Ok(uri.to_string())
}

/// The most request URIs a client may register.
const MAX_REQUEST_URIS: usize = 10;

fn request_uris(ctx: &Context, uris: &[String]) -> AdminResult<Vec<String>> {
    if uris.len() > MAX_REQUEST_URIS {
        return Err(invalid(
            "request_uris",
            format!("at most {MAX_REQUEST_URIS}"),
        ));
    }
    uris.iter()
        .map(|u| fetched_uri(ctx, "request_uris", u))
        .collect()
}

fn jwk_set(text: &str) -> AdminResult<String> {
    crate::oidc::client_keys::public_key_set(text).map_err(|e| invalid("jwks", e))?;
    Ok(text.to_string())
}

/// Checks one redirect URI (see the module's first lines).
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    if uri.len() > MAX_URI_LEN {
        return Err(format!("longer than {MAX_URI_LEN} characters"));
    }
    if uri.contains('*') {
        return Err("wildcards are not allowed; register each URI exactly".into());
    }
    let u = url::Url::parse(uri).map_err(|e| format!("not an absolute URI: {e}"))?;
    if u.fragment().is_some() {
        return Err("may not have a fragment".into());
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("may not contain user information".into());
    }
    let loopback = matches!(u.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    match u.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err("must use https (plain http only on 127.0.0.1, [::1] or localhost)".into()),
        // Private-use schemes of native apps are reverse domain names (RFC 8252 7.1).
        s if s.contains('.') => Ok(()),
        s => Err(format!("the scheme {s} is not allowed")),
    }
}

/// A back- or front-channel logout URI: https (plain http on a loopback host), absolute,
/// without fragment or user information (OIDC Back-Channel Logout 1.0, 2.2).
fn logout_uri(field: &'static str, uri: &str) -> AdminResult<String> {
    let web = url::Url::parse(uri).is_ok_and(|u| matches!(u.scheme(), "https" | "http"));
    check_redirect_uri(uri)
        .and_then(|()| {
            web.then_some(())
                .ok_or_else(|| "must be an https address".to_string())
        })
        .map_err(|reason| invalid(field, format!("{uri}: {reason}")))?;
    Ok(uri.to_string())
}

/// Fetches the client's logo now (see `oidc::logo`): its URI and the PNG to keep.
fn client_logo(ctx: &Context, uri: &str) -> AdminResult<(String, Vec<u8>)> {
    if uri.len() > MAX_URI_LEN {
        return Err(invalid(
            "logo_uri",
            format!("longer than {MAX_URI_LEN} characters"),
        ));
    }
    let png = crate::oidc::logo::fetch(uri, ctx.config.fetch_private_addresses)
        .map_err(|e| invalid("logo_uri", format!("{uri}: {e}")))?;
    Ok((uri.to_string(), png))
}

/// A page of the client's that citizens are sent to (its privacy notice, its terms): https.
fn page_uri(field: &'static str, uri: &str) -> AdminResult<String> {
    let https = url::Url::parse(uri).is_ok_and(|u| u.scheme() == "https" && u.host().is_some());
    if uri.len() > MAX_URI_LEN || !https {
        return Err(invalid(field, format!("{uri}: must be an https address")));
    }
    Ok(uri.to_string())
}

fn redirect_uris(field: &'static str, uris: &[String]) -> AdminResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for u in uris {
        check_redirect_uri(u).map_err(|reason| invalid(field, format!("{u}: {reason}")))?;
        if !out.contains(u) {
            out.push(u.clone());
        }
    }
    Ok(out)
}

fn scopes(ctx: &Context, scopes: &[String]) -> AdminResult<Vec<String>> {
    let supported = scopes_supported(&ctx.rules.policy);
    let mut out: Vec<String> = Vec::new();
    for s in scopes {
        if !supported.contains(s) {
            return Err(invalid(
                "scopes",
                format!(
                    "unknown scope {s} (supported: {}; API scopes are declared with their risk level in [policy.scopes])",
                    supported.join(" ")
                ),
            ));
        }
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    Ok(out)
}

fn grant_types(grants: &[String]) -> AdminResult<Vec<String>> {
    if grants.is_empty() {
        return Err(invalid("grant_types", "at least one grant type is needed"));
    }
    let mut out: Vec<String> = Vec::new();
    for g in grants {
        let Some(grant) = GrantType::parse(g) else {
            let known: Vec<&str> = GrantType::ALL.iter().map(|g| g.name()).collect();
            return Err(invalid(
                "grant_types",
                format!("unknown grant type {g} (supported: {})", known.join(" ")),
            ));
        };
        let name = grant.name().to_string();
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// `value` as one of `known`, matched by name; otherwise why not, naming them all.
fn one_of<T: Copy>(
    field: &'static str,
    value: &str,
    known: &[T],
    name: fn(T) -> &'static str,
) -> AdminResult<T> {
    known
        .iter()
        .copied()
        .find(|k| name(*k) == value)
        .ok_or_else(|| {
            let names: Vec<&str> = known.iter().map(|k| name(*k)).collect();
            invalid(field, format!("{value} is not one of {}", names.join(" ")))
        })
}

fn id_token_alg(alg: &str) -> AdminResult<String> {
    signing_alg("id_token_alg", alg)
}

fn id_token_claims(which: &str) -> AdminResult<IdTokenClaims> {
    one_of(
        "id_token_claims",
        which,
        &IdTokenClaims::ALL,
        IdTokenClaims::as_str,
    )
}

fn access_token_format(format: &str) -> AdminResult<AccessTokenFormat> {
    one_of(
        "access_token_format",
        format,
        &AccessTokenFormat::ALL,
        AccessTokenFormat::as_str,
    )
}

fn subject_type(t: &str) -> AdminResult<SubjectType> {
    one_of("subject_type", t, &SubjectType::ALL, SubjectType::as_str)
}

/// A sector identifier is a host name (OIDC Core 8.1 takes the host of a URI).
fn sector_identifier(s: &str) -> AdminResult<String> {
    let host = s.trim().to_ascii_lowercase();
    let parsed = url::Url::parse(&format!("https://{host}/")).ok();
    if host.is_empty() || parsed.as_ref().and_then(|u| u.host_str()) != Some(host.as_str()) {
        return Err(invalid(
            "sector_identifier",
            format!("{s} is not a host name (such as tax.example.gov)"),
        ));
    }
    Ok(host)
}

/// Fetches the sector identifier document at `uri` (OIDC Core 8.1: a JSON array of
/// redirect URIs) and checks that it lists every one of `redirect_uris`; returns the URI and
/// its host, the sector.
fn sector_document(
    ctx: &Context,
    uri: &str,
    redirect_uris: &[String],
) -> AdminResult<(String, String)> {
    let field = "sector_identifier_uri";
    if uri.len() > MAX_URI_LEN {
        return Err(invalid(
            field,
            format!("longer than {MAX_URI_LEN} characters"),
        ));
    }
    let private = ctx.config.fetch_private_addresses;
    let url = crate::oidc::fetch::check_uri(uri, private).map_err(|e| invalid(field, e))?;
    let text = crate::oidc::fetch::fetch(uri, private)
        .map_err(|e| invalid(field, format!("could not be fetched: {e}")))?;
    let listed: Vec<String> = serde_json::from_str(&text)
        .map_err(|_| invalid(field, "is not a JSON array of redirect URIs"))?;
    if let Some(missing) = redirect_uris.iter().find(|r| !listed.contains(r)) {
        return Err(invalid(
            field,
            format!("does not list the redirect URI {missing}"),
        ));
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    Ok((uri.to_string(), host))
}

/// A pairwise client's sector, once it can be told: given, or the one host of its
/// redirect URIs. Kept from then on, so that citizens' `sub` stays put when redirect URIs
/// change; redirect URIs on several hosts need it given.
fn fix_sector(c: &mut Client) -> AdminResult<()> {
    if c.subject_type != SubjectType::Pairwise || c.sector_identifier.is_some() {
        return Ok(());
    }
    if c.redirect_uris.is_empty() {
        return Ok(());
    }
    match crate::oidc::subject::sector_of(&c.redirect_uris) {
        Some(sector) => {
            c.sector_identifier = Some(sector);
            Ok(())
        }
        None => Err(invalid(
            "sector_identifier",
            "the redirect URIs are on several hosts: give the sector (a host name) whose citizens share pairwise identifiers",
        )),
    }
}

/// A change that an empty value undoes: none (left as it is), `Some(None)` (removed) or
/// `Some(Some(v))` (set, once `parse` accepts it).
fn clearable<T>(
    value: Option<&str>,
    parse: impl Fn(&str) -> AdminResult<T>,
) -> AdminResult<Option<Option<T>>> {
    value
        .map(|v| match v {
            "" => Ok(None),
            v => parse(v).map(Some),
        })
        .transpose()
}

fn profile(name: &str) -> AdminResult<Profile> {
    one_of("profile", name, &Profile::ALL, Profile::as_str)
}

/// Turns on what a profile asks of every request: for FAPI 2.0, pushed authorization
/// requests, and DPoP unless the client's tokens are bound to its TLS certificate. (What
/// it forbids is checked by `consistent`.)
fn apply_profile(c: &mut Client) {
    if c.is_fapi2() {
        c.require_pushed_authorization_requests = true;
        if !c.tls_client_certificate_bound_access_tokens {
            c.dpop_bound_access_tokens = true;
        }
    }
}

/// A `self_signed_tls_client_auth` client's JWK set: every `x5c` certificate readable,
/// and at least one.
fn self_signed_jwks(jwks: &str) -> AdminResult<String> {
    let set = jwk_set(jwks)?;
    let certificates = mtls::registered_certificates(&set);
    if certificates.is_empty()
        || certificates
            .into_iter()
            .any(|c| mtls::Certificate::new(vec![c]).is_none())
    {
        return Err(invalid(
            "jwks",
            "self_signed_tls_client_auth needs the client's certificates in x5c (base64 DER)",
        ));
    }
    Ok(set)
}

fn signing_alg(field: &'static str, alg: &str) -> AdminResult<String> {
    one_of(field, alg, &Alg::ALL, Alg::as_str).map(|a| a.as_str().to_string())
}

fn encryption_alg(field: &'static str, alg: &str) -> AdminResult<String> {
    one_of(field, alg, &crate::oidc::encryption::ALGS, |a| a).map(str::to_string)
}

fn encryption_enc(field: &'static str, enc: &str) -> AdminResult<String> {
    one_of(field, enc, &crate::oidc::encryption::ENCS, |e| e).map(str::to_string)
}

/// The longest `default_max_age`: a year.
const MAX_DEFAULT_MAX_AGE: i64 = 365 * 24 * 3600;

fn max_age(seconds: i64) -> AdminResult<i64> {
    if !(0..=MAX_DEFAULT_MAX_AGE).contains(&seconds) {
        return Err(invalid(
            "default_max_age",
            format!("between 0 and {MAX_DEFAULT_MAX_AGE} seconds"),
        ));
    }
    Ok(seconds)
}

/// `default_acr_values`: eIDAS levels of assurance, each once, in the client's order.
fn acr_values(values: &[String]) -> AdminResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let acr = one_of("default_acr_values", v, &Level::ALL, Level::acr)?.acr();
        if !out.iter().any(|o| o == acr) {
            out.push(acr.to_string());
        }
    }
    Ok(out)
}

fn risk_level(level: &str) -> AdminResult<String> {
    one_of("risk_level", level, &Level::ALL, Level::name).map(|l| l.name().to_string())
}

fn ttl(field: &'static str, seconds: i64, max: i64) -> AdminResult<i64> {
    if !(1..=max).contains(&seconds) {
        return Err(invalid(field, format!("between 1 and {max} seconds")));
    }
    Ok(seconds)
}

/// The rules that concern several settings together, checked on the client as it would
/// be stored.
fn consistent(c: &Client) -> AdminResult<()> {
    if c.is_fapi2() {
        if !matches!(
            c.auth_method,
            AuthMethod::PrivateKeyJwt
                | AuthMethod::TlsClientAuth
                | AuthMethod::SelfSignedTlsClientAuth
        ) {
            return Err(invalid(
                "profile",
                "a FAPI 2.0 client authenticates with private_key_jwt or a TLS client certificate",
            ));
        }
        let rs256 = [
            Some(&c.id_token_alg),
            c.userinfo_signed_response_alg.as_ref(),
        ]
        .into_iter()
        .flatten()
        .any(|a| a == "RS256");
        if rs256 {
            return Err(invalid(
                "profile",
                "FAPI 2.0 does not allow RS256: sign with ES256",
            ));
        }
    }
    for e in c.encryptions() {
        let [alg_field, enc_field] = e.names;
        // Keys at a URI are checked when they are used.
        if let Some(alg) = e.alg
            && c.jwks_uri.is_none()
            && !crate::oidc::encryption::has_key_for(c.jwks.as_deref(), alg)
        {
            return Err(invalid(
                alg_field,
                format!("the client's jwks holds no key to encrypt to with {alg}"),
            ));
        }
        if e.enc.is_some() && e.alg.is_none() {
            return Err(invalid(enc_field, format!("needs {alg_field}")));
        }
    }
    let has = |g: GrantType| c.allows_grant(g.name());
    if c.is_public() && has(GrantType::ClientCredentials) {
        return Err(invalid(
            "grant_types",
            "a public client cannot use client_credentials",
        ));
    }
    if c.is_public() && c.resource_server {
        return Err(invalid(
            "resource_server",
            "a public client cannot be a resource server (it cannot authenticate)",
        ));
    }
    if has(GrantType::RefreshToken) && !has(GrantType::AuthorizationCode) {
        return Err(invalid(
            "grant_types",
            "refresh_token needs authorization_code",
        ));
    }
    if has(GrantType::AuthorizationCode) {
        if c.redirect_uris.is_empty() {
            return Err(invalid(
                "redirect_uris",
                "a client that signs citizens in (authorization_code) needs a redirect URI",
            ));
        }
        if !c.scopes.iter().any(|s| s == "openid") {
            return Err(invalid(
                "scopes",
                "a client that signs citizens in (authorization_code) needs the openid scope",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::keys::kek::SecretCheck;
    use crate::service::for_tests;

    const CB: &str = "https://portal.example.gov/cb";

    fn portal() -> NewClient {
        NewClient::new(
            "portal",
            Credentials::Secret("a-client-secret-of-good-length".into()),
            vec![CB.into()],
        )
    }

    #[test]
    fn redirect_uris_are_exact_https_or_loopback() {
        for ok in [
            CB,
            "http://127.0.0.1:8081/callback",
            "http://[::1]/cb",
            "http://localhost:3000/cb",
            "gov.example.app:/oauth2redirect",
            "https://portal.example.gov/cb?tenant=1",
        ] {
            assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
        }
        for bad in [
            "https://*.example.gov/cb",
            "https://portal.example.gov/*",
            "https://portal.example.gov/cb#x",
            "https://portal.example.gov/cb#",
            "https://user:pw@portal.example.gov/cb",
            "https://user@portal.example.gov/cb",
            "http://portal.example.gov/cb",
            "http://localhost.example.gov/cb",
            "/cb",
            "portal.example.gov/cb",
            "javascript:alert(1)",
            "file:///etc/passwd",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn create_writes_the_client_and_its_entry_together() {
        let (_dir, svc) = for_tests();
        let ctx = Context::from(&svc);
        let before = events(&svc.db).len();
        let mut new = portal();
        new.name = Some("Tax portal".into());
        new.scopes = vec!["openid".into(), "email".into(), "openid".into()];
        let created = create(&ctx, &cli(), new, T0).expect("created");
        assert_eq!(created.secret, None, "a given secret is not echoed");
        assert_eq!(created.client.scopes, vec!["openid", "email"]);
        assert_eq!(show(&ctx, "portal").unwrap(), created.client);
        let all = events(&svc.db);
        assert_eq!(all.len(), before + 1);
        let e = all.last().unwrap();
        assert_eq!(e.kind(), Some(Kind::ClientCreated));
        assert_eq!(e.client_id.as_deref(), Some("portal"));
        assert_eq!(e.at, T0);
        let d = detail(e);
        assert_eq!(d["by"], json!({"via": "cli", "os_user": "operator"}));
        assert_eq!(d["name"], "Tax portal");
        assert!(!e.detail.contains("a-client-secret"), "{}", e.detail);
        // The secret is stored as its keyed hash and checks.
        let stored = svc.db.run(|c| store::find(c, "portal")).unwrap().unwrap();
        let hash = stored.secret_hash.unwrap();
        assert_eq!(
            svc.kek
                .client_secrets()
                .check(&hash, "a-client-secret-of-good-length"),
            SecretCheck::Matches
        );
        // The same id again is a conflict, and writes nothing.
        let again = create(&ctx, &cli(), portal(), T0 + 1);
        assert!(
            matches!(
                again,
                Err(AdminError::Conflict {
                    resource: Resource::Client,
                    ..
                })
            ),
            "{again:?}"
        );
        assert_eq!(events(&svc.db).len(), before + 1);
    }

    #[test]
    fn invalid_clients_are_refused_without_an_entry() {
        let (_dir, svc) = for_tests();
        let ctx = Context::from(&svc);
        let before = events(&svc.db).len();
        type Change = fn(&mut NewClient);
        let cases: Vec<(&str, Change)> = vec![
            ("redirect_uris", |c| {
                c.redirect_uris = vec!["https://*.example.gov/cb".into()]
            }),
            ("redirect_uris", |c| c.redirect_uris = vec![]),
            ("post_logout_redirect_uris", |c| {
                c.post_logout_redirect_uris = vec!["http://rp.example/bye".into()]
            }),
            ("scopes", |c| {
                c.scopes = vec!["openid".into(), "payments".into()]
            }),
            ("scopes", |c| c.scopes = vec!["email".into()]),
            ("grant_types", |c| c.grant_types = vec!["password".into()]),
            ("grant_types", |c| {
                c.grant_types = vec!["refresh_token".into()]
            }),
            ("risk_level", |c| c.risk_level = Some("extreme".into())),
            ("id_token_alg", |c| c.id_token_alg = Some("HS256".into())),
            ("access_token_ttl", |c| c.access_token_ttl = Some(0)),
            ("id", |c| c.id = "a b".into()),
            ("name", |c| c.name = Some("  ".into())),
            ("secret", |c| {
                c.credentials = Credentials::Secret("short".into())
            }),
            ("jwks", |c| c.credentials = Credentials::Jwks("{}".into())),
            ("grant_types", |c| {
                c.credentials = Credentials::Public;
                c.grant_types = vec!["client_credentials".into()];
            }),
            ("resource_server", |c| {
                c.credentials = Credentials::Public;
                c.resource_server = true;
            }),
            ("default_acr_values", |c| {
                c.default_acr_values = vec!["urn:mace:incommon:iap:silver".into()]
            }),
        ];
        for (field, change) in cases {
            let mut new = portal();
            change(&mut new);
            match create(&ctx, &cli(), new.clone(), T0) {
                Err(AdminError::Invalid { field: f, reason }) => {
                    assert_eq!(f, field, "{new:?}: {reason}")
                }
                other => panic!("{new:?} must be refused on {field}: {other:?}"),
            }
        }
        assert_eq!(
            events(&svc.db).len(),
            before,
            "a refused change writes no entry"
        );
        assert!(list(&ctx).unwrap().is_empty());
    }

    #[test]
    fn api_scopes_are_those_the_policy_declares() {
        let (_dir, svc) = crate::service::for_tests_with(|f| {
            f.policy = Some(crate::policy::PolicyConfig {
                scopes: [("tax.read".to_string(), "low".to_string())].into(),
                ..Default::default()
            });
        });
        let ctx = Context::from(&svc);
        let mut new = NewClient::new("service", Credentials::GenerateSecret, vec![]);
        new.grant_types = vec!["client_credentials".into()];
        new.scopes = vec!["tax.read".into()];
        let created = create(&ctx, &cli(), new, T0).expect("a declared API scope");
        assert_eq!(created.client.scopes, vec!["tax.read"]);
        let secret = created.secret.expect("a generated secret is returned once");
        assert!(secret.len() >= MIN_SECRET_CHARS);
        let mut new = NewClient::new("other", Credentials::GenerateSecret, vec![]);
        new.grant_types = vec!["client_credentials".into()];
        new.scopes = vec!["tax.write".into()];
        let refused = create(&ctx, &cli(), new, T0);
        assert!(
            matches!(refused, Err(AdminError::Invalid { field: "scopes", ref reason }) if reason.contains("tax.write")),
            "{refused:?}"
        );
    }

    #[test]
    fn update_changes_what_is_given_and_records_it() {
        let (_dir, svc) = for_tests();
        let ctx = Context::from(&svc);
        create(&ctx, &cli(), portal(), T0).unwrap();
        let before = events(&svc.db).len();
        let changes = ClientChanges {
            redirect_uris: Some(vec![CB.into(), "https://portal.example.gov/cb2".into()]),
            risk_level: Some("substantial".into()),
            name: Some("Tax portal".into()),
            ..Default::default()
        };
        let updated = update(&ctx, &cli(), "portal", changes, T0 + 10).unwrap();
        assert_eq!(updated.changed, vec!["name", "redirect_uris", "risk_level"]);
        assert_eq!(updated.client.risk_level, "substantial");
        let stored = show(&ctx, "portal").unwrap();
        assert_eq!(stored, updated.client);
        assert_eq!(stored.scopes, vec!["openid", "profile", "email"], "kept");
        let all = events(&svc.db);
        assert_eq!(all.len(), before + 1);
        let e = all.last().unwrap();
        assert_eq!(e.kind(), Some(Kind::ClientUpdated));
        let d = detail(e);
        assert_eq!(d["changed"]["risk_level"], "substantial");
        assert!(d["changed"].get("scopes").is_none());

        // Nothing different: nothing written.
        let same = ClientChanges {
            risk_level: Some("substantial".into()),
            ..Default::default()
        };
        assert!(
            update(&ctx, &cli(), "portal", same, T0 + 11)
                .unwrap()
                .changed
                .is_empty()
        );
        // Refused: a wildcard, an unknown scope, a combination that does not hold.
        for bad in [
            ClientChanges {
                redirect_uris: Some(vec!["https://*.example.gov/cb".into()]),
                ..Default::default()
            },
            ClientChanges {
                scopes: Some(vec!["openid".into(), "everything".into()]),
                ..Default::default()
            },
            ClientChanges {
                scopes: Some(vec!["profile".into()]),
                ..Default::default()
            },
            ClientChanges {
                redirect_uris: Some(vec![]),
                ..Default::default()
            },
        ] {
            let r = update(&ctx, &cli(), "portal", bad.clone(), T0 + 12);
            assert!(
                matches!(r, Err(AdminError::Invalid { .. })),
                "{bad:?}: {r:?}"
            );
        }
        assert_eq!(events(&svc.db).len(), before + 1);
        assert_eq!(show(&ctx, "portal").unwrap(), updated.client);
        let missing = update(&ctx, &cli(), "nobody", ClientChanges::default(), T0);
        assert!(
            matches!(missing, Err(AdminError::NotFound { .. })),
            "{missing:?}"
        );
    }

    #[test]
    fn rotating_the_secret_replaces_it_and_removing_records_it() {
        let (_dir, svc) = for_tests();
        let ctx = Context::from(&svc);
        create(&ctx, &cli(), portal(), T0).unwrap();
        let secret = rotate_secret(&ctx, &cli(), "portal", NewSecret::Generate, T0 + 1)
            .unwrap()
            .expect("the generated secret");
        let hash = svc
            .db
            .run(|c| store::find(c, "portal"))
            .unwrap()
            .unwrap()
            .secret_hash
            .unwrap();
        let hasher = svc.kek.client_secrets();
        assert_eq!(hasher.check(&hash, &secret), SecretCheck::Matches);
        assert_eq!(
            hasher.check(&hash, "a-client-secret-of-good-length"),
            SecretCheck::Wrong
        );
        let given = rotate_secret(
            &ctx,
            &cli(),
            "portal",
            NewSecret::Given("another-secret-of-good-length".into()),
            T0 + 2,
        )
        .unwrap();
        assert_eq!(given, None);

        let mut public = NewClient::new("app", Credentials::Public, vec![CB.into()]);
        public.name = Some("App".into());
        create(&ctx, &cli(), public, T0).unwrap();
        let refused = rotate_secret(&ctx, &cli(), "app", NewSecret::Generate, T0 + 3);
        assert!(matches!(
            refused,
            Err(AdminError::Invalid {
                field: "secret",
                ..
            })
        ));

        remove(&ctx, &cli(), "portal", T0 + 4).unwrap();
        assert!(matches!(
            remove(&ctx, &cli(), "portal", T0 + 5),
            Err(AdminError::NotFound { .. })
        ));
        let kinds = kinds(&svc.db);
        let tail = &kinds[kinds.len() - 4..];
        assert_eq!(
            tail,
            [
                Kind::ClientSecretRotated,
                Kind::ClientSecretRotated,
                Kind::ClientCreated,
                Kind::ClientRemoved
            ]
        );
        assert_eq!(
            list(&ctx)
                .unwrap()
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>(),
            vec!["app"]
        );
    }

    #[test]
    fn a_fapi2_client_gets_pushed_requests_and_dpop_and_no_secret_or_rs256() {
        let (_dir, svc) = crate::service::for_tests();
        let ctx = Context::from(&svc);
        let key = josekit::jws::ES256.generate_key_pair().unwrap();
        let jwks = serde_json::json!({ "keys": [
            Value::Object(josekit::jwk::KeyPair::to_jwk_public_key(&key).as_ref().clone())
        ] });
        let fapi = |id: &str, credentials| {
            let mut new = NewClient::new(id, credentials, vec![CB.into()]);
            new.profile = Some("fapi2".into());
            new
        };
        let with_secret = create(&ctx, &cli(), fapi("a", Credentials::GenerateSecret), T0);
        assert!(matches!(
            with_secret,
            Err(AdminError::Invalid {
                field: "profile",
                ..
            })
        ));
        let mut rs256 = fapi("b", Credentials::Jwks(jwks.to_string()));
        rs256.id_token_alg = Some("RS256".into());
        assert!(matches!(
            create(&ctx, &cli(), rs256, T0),
            Err(AdminError::Invalid {
                field: "profile",
                ..
            })
        ));
        let made = create(
            &ctx,
            &cli(),
            fapi("c", Credentials::Jwks(jwks.to_string())),
            T0,
        )
        .unwrap()
        .client;
        assert_eq!(made.profile, Some("fapi2"));
        assert!(made.require_pushed_authorization_requests && made.dpop_bound_access_tokens);
        // Held to it: a request object, assertion or DPoP proof signed otherwise than with
        // PS256, ES256 or EdDSA is refused unread.
        let client = svc.db.run(|c| store::find(c, "c")).unwrap().unwrap();
        let header = |alg: &str| crate::crypto::b64url(format!("{{\"alg\":\"{alg}\"}}").as_bytes());
        let rs = format!("{}.e30.x", header("RS256"));
        for alg in ["RS256", "ES384", "HS256", "none"] {
            let jws = format!("{}.e30.x", header(alg));
            assert!(
                crate::oidc::client_auth::forbidden_alg(&client, &jws),
                "{alg}"
            );
        }
        for alg in ["PS256", "ES256", "EdDSA"] {
            let jws = format!("{}.e30.x", header(alg));
            assert!(
                !crate::oidc::client_auth::forbidden_alg(&client, &jws),
                "{alg}"
            );
        }
        let plain = svc.db.run(|c| store::find(c, "portal")).unwrap();
        assert!(plain.is_none_or(|p| !crate::oidc::client_auth::forbidden_alg(&p, &rs)));
        // Dropping the profile keeps what it turned on.
        let changes = ClientChanges {
            profile: Some(String::new()),
            ..Default::default()
        };
        let after = update(&ctx, &cli(), "c", changes, T0).unwrap().client;
        assert_eq!(after.profile, None);
        assert!(after.require_pushed_authorization_requests && after.dpop_bound_access_tokens);
    }
}
