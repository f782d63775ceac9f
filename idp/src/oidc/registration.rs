//! Dynamic client registration (RFC 7591, with the metadata of OpenID Connect Dynamic
//! Client Registration 1.0) and its management protocol (RFC 7592).
//!
//! A client registers itself at `/register` with an initial access token an operator made
//! (`idp client registration-token`), whose use and the new client are one transaction.
//! The client's metadata goes through the same rules as the command line's and the Admin
//! API's (`admin::clients`); metadata this provider cannot honour is refused by name, not
//! silently dropped. The answer carries a registration access token with which the client
//! reads, replaces or removes its registration at `/register/{client_id}`.

use crate::admin::clients::{self, ClientChanges, ClientView, Credentials, NewClient};
use crate::admin::{Actor, AdminError, Context};
use crate::crypto;
use crate::oidc::mtls::SubjectName;
use crate::service::Service;
use crate::store::clients as store;
use crate::store::registration_tokens;
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub const REGISTRATION_PATH: &str = "/register";

/// Metadata a client may send that this provider does not implement: refused by name
/// when given with a value (`invalid_client_metadata`).
const NOT_SUPPORTED: [&str; 2] = ["request_object_encryption_alg", "initiate_login_uri"];

/// Why a registration request was refused (RFC 7591 3.2.2, RFC 7592 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

impl Refused {
    fn metadata(description: impl Into<String>) -> Refused {
        Refused {
            status: 400,
            error: "invalid_client_metadata",
            description: description.into(),
        }
    }

    fn token() -> Refused {
        Refused {
            status: 401,
            error: "invalid_token",
            description: "the access token is missing, unknown, expired or used up".into(),
        }
    }

    pub fn body(&self) -> Value {
        json!({ "error": self.error, "error_description": self.description })
    }
}

impl From<AdminError> for Refused {
    fn from(e: AdminError) -> Refused {
        match e {
            AdminError::Invalid { field, reason } => {
                let error = if field == "redirect_uris" {
                    "invalid_redirect_uri"
                } else {
                    "invalid_client_metadata"
                };
                Refused {
                    status: 400,
                    error,
                    description: format!("{}: {reason}", metadata_name(field)),
                }
            }
            AdminError::NotFound { .. } => Refused::token(),
            other => {
                tracing::error!(error = %other, "client registration failed");
                Refused {
                    status: 500,
                    error: "server_error",
                    description: "the registration could not be completed".into(),
                }
            }
        }
    }
}

/// The metadata name of a setting `admin::clients` names otherwise.
fn metadata_name(field: &str) -> &str {
    match field {
        "name" => "client_name",
        "scopes" => "scope",
        "id_token_alg" => "id_token_signed_response_alg",
        other => other,
    }
}

/// The metadata of RFC 7591 2 and OIDC Dynamic Client Registration 2 that are honoured.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Metadata {
    client_id: Option<String>,
    redirect_uris: Vec<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    client_name: Option<String>,
    scope: Option<String>,
    jwks: Option<Value>,
    jwks_uri: Option<String>,
    sector_identifier_uri: Option<String>,
    request_uris: Vec<String>,
    policy_uri: Option<String>,
    tos_uri: Option<String>,
    logo_uri: Option<String>,
    id_token_signed_response_alg: Option<String>,
    subject_type: Option<String>,
    post_logout_redirect_uris: Vec<String>,
    backchannel_logout_uri: Option<String>,
    frontchannel_logout_uri: Option<String>,
    require_pushed_authorization_requests: bool,
    dpop_bound_access_tokens: bool,
    request_object_signing_alg: Option<String>,
    id_token_encrypted_response_alg: Option<String>,
    id_token_encrypted_response_enc: Option<String>,
    userinfo_signed_response_alg: Option<String>,
    userinfo_encrypted_response_alg: Option<String>,
    userinfo_encrypted_response_enc: Option<String>,
    default_max_age: Option<i64>,
    default_acr_values: Vec<String>,
    tls_client_certificate_bound_access_tokens: bool,
    /// Read from whichever `tls_client_auth_*` member was given (`SubjectName::NAMES`).
    #[serde(skip)]
    tls_client_auth: Option<SubjectName>,
}

impl Metadata {
    fn parse(body: &[u8]) -> Result<Metadata, Refused> {
        let raw: Map<String, Value> = serde_json::from_slice(body)
            .map_err(|_| Refused::metadata("the body must be a JSON object of client metadata"))?;
        for name in NOT_SUPPORTED {
            if raw.get(name).is_some_and(|v| !v.is_null()) {
                return Err(Refused::metadata(format!(
                    "{name} is not supported by this provider"
                )));
            }
        }
        // `require_auth_time` needs nothing: every ID token carries `auth_time`.
        let mut names = SubjectName::NAMES
            .iter()
            .filter_map(|n| Some((*n, raw.get(*n)?)))
            .filter(|(_, v)| !v.is_null());
        let tls_name = match (names.next(), names.next()) {
            (None, _) => None,
            (Some((name, value)), None) => Some(
                value
                    .as_str()
                    .and_then(|v| SubjectName::from_metadata(name, v))
                    .ok_or_else(|| Refused::metadata(format!("{name}: not a usable value")))?,
            ),
            (Some(_), Some(_)) => {
                return Err(Refused::metadata(
                    "give exactly one tls_client_auth_* name (RFC 8705 2.1.2)",
                ));
            }
        };
        let mut m: Metadata = serde_json::from_value(Value::Object(raw))
            .map_err(|e| Refused::metadata(format!("malformed metadata: {e}")))?;
        m.tls_client_auth = tls_name;
        if m.request_object_signing_alg
            .as_deref()
            .is_some_and(|a| !["RS256", "PS256", "ES256"].contains(&a))
        {
            return Err(Refused::metadata(
                "request_object_signing_alg: RS256, PS256 or ES256 (signed with the client's jwks)",
            ));
        }
        if let Some(types) = &m.response_types
            && types.iter().any(|t| t != "code")
        {
            return Err(Refused::metadata(
                "response_types: only code (implicit and hybrid flows are not offered)",
            ));
        }
        Ok(m)
    }

    /// A client that registers itself is told of logouts only at an address the provider
    /// would fetch from (`oidc::fetch`: https, not a private or loopback address).
    fn check_reachable(&self, private_addresses: bool) -> Result<(), Refused> {
        if let Some(uri) = &self.backchannel_logout_uri {
            super::fetch::check_uri(uri, private_addresses)
                .map_err(|e| Refused::metadata(format!("backchannel_logout_uri: {e}")))?;
        }
        Ok(())
    }

    /// How the client will authenticate at the token endpoint. `mtls`: whether this
    /// provider takes TLS client certificates.
    fn credentials(&self, mtls: bool) -> Result<Credentials, Refused> {
        let method = self
            .token_endpoint_auth_method
            .as_deref()
            .unwrap_or("client_secret_basic");
        if self.jwks_uri.is_some() && method != "private_key_jwt" {
            return Err(Refused::metadata("jwks_uri goes only with private_key_jwt"));
        }
        if self.tls_client_auth.is_some() && method != "tls_client_auth" {
            return Err(Refused::metadata(
                "tls_client_auth_* names go only with tls_client_auth",
            ));
        }
        let tls =
            method.contains("tls_client_auth") || self.tls_client_certificate_bound_access_tokens;
        if tls && !mtls {
            return Err(Refused::metadata(
                "this provider is not configured for TLS client certificates",
            ));
        }
        match method {
            "tls_client_auth" => self
                .tls_client_auth
                .clone()
                .map(Credentials::TlsClientAuth)
                .ok_or_else(|| {
                    Refused::metadata("tls_client_auth needs one tls_client_auth_* name")
                }),
            "self_signed_tls_client_auth" => match &self.jwks {
                Some(jwks) => Ok(Credentials::SelfSignedTls(jwks.to_string())),
                None => Err(Refused::metadata(
                    "self_signed_tls_client_auth needs jwks with the certificates in x5c",
                )),
            },
            "client_secret_basic" | "client_secret_post" => Ok(Credentials::GenerateSecret),
            "client_secret_jwt" => Ok(Credentials::SecretJwt(None)),
            "none" => Ok(Credentials::Public),
            "private_key_jwt" => match (&self.jwks, &self.jwks_uri) {
                (Some(_), Some(_)) => Err(Refused::metadata(
                    "give jwks or jwks_uri, not both (RFC 7591 2)",
                )),
                (Some(jwks), None) => Ok(Credentials::Jwks(jwks.to_string())),
                (None, Some(uri)) => Ok(Credentials::JwksUri(uri.clone())),
                (None, None) => Err(Refused::metadata("private_key_jwt needs jwks or jwks_uri")),
            },
            other => Err(Refused::metadata(format!(
                "token_endpoint_auth_method {other} is not supported (client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt, tls_client_auth, self_signed_tls_client_auth, none)"
            ))),
        }
    }

    /// `id_token_signed_response_alg`, RS256 when absent (OIDC Dynamic Registration 2).
    fn id_token_alg(&self) -> String {
        self.id_token_signed_response_alg
            .clone()
            .unwrap_or_else(|| "RS256".into())
    }

    fn scopes(&self) -> Vec<String> {
        crate::oidc::params::space_list(self.scope.as_deref())
    }
}

/// Registers a client (RFC 7591 3.1): returns the `201` body with its credentials.
pub fn register(
    svc: &Service,
    initial_token: Option<&str>,
    body: &[u8],
    actor: &Actor,
    now: i64,
) -> Result<Value, Refused> {
    let token = initial_token.ok_or_else(Refused::token)?;
    let token_hash = crypto::secret_hash(token);
    // Checked before anything is fetched for the metadata (a sector document, a logo), so
    // that nobody without a token makes the provider fetch; used up in the transaction
    // that writes the client.
    if !svc
        .db
        .run(|c| registration_tokens::usable(c, &token_hash, now))
        .map_err(|e| Refused::from(crate::admin::AdminError::from(e)))?
    {
        return Err(Refused::token());
    }
    let m = Metadata::parse(body)?;
    m.check_reachable(svc.provider.fetch_private_addresses)?;
    let credentials = m.credentials(svc.provider.mtls.is_some())?;
    let id = format!("dyn-{}", crypto::random_id());
    let registration_token = crypto::random_token();
    let mut new = NewClient::new(&id, credentials, m.redirect_uris.clone());
    new.name = m.client_name.clone();
    new.post_logout_redirect_uris = m.post_logout_redirect_uris.clone();
    new.scopes = m.scopes();
    new.grant_types = m.grant_types.clone().unwrap_or_default();
    // RS256 when the client names none (OIDC Dynamic Registration 2).
    new.id_token_alg = Some(m.id_token_alg());
    new.subject_type = m.subject_type.clone();
    new.sector_identifier_uri = m.sector_identifier_uri.clone();
    new.request_uris = m.request_uris.clone();
    new.policy_uri = m.policy_uri.clone();
    new.tos_uri = m.tos_uri.clone();
    new.logo_uri = m.logo_uri.clone();
    new.backchannel_logout_uri = m.backchannel_logout_uri.clone();
    new.frontchannel_logout_uri = m.frontchannel_logout_uri.clone();
    new.require_pushed_authorization_requests = m.require_pushed_authorization_requests;
    new.registration_token_hash = Some(crypto::secret_hash(&registration_token));
    new.dpop_bound_access_tokens = m.dpop_bound_access_tokens;
    new.tls_client_certificate_bound_access_tokens = m.tls_client_certificate_bound_access_tokens;
    new.id_token_encrypted_response_alg = m.id_token_encrypted_response_alg.clone();
    new.id_token_encrypted_response_enc = m.id_token_encrypted_response_enc.clone();
    new.userinfo_signed_response_alg = m.userinfo_signed_response_alg.clone();
    new.userinfo_encrypted_response_alg = m.userinfo_encrypted_response_alg.clone();
    new.userinfo_encrypted_response_enc = m.userinfo_encrypted_response_enc.clone();
    new.default_max_age = m.default_max_age;
    new.default_acr_values = m.default_acr_values.clone();
    let ctx = Context::from(svc);
    let mut token_refused = false;
    let created = clients::create_with(&ctx, actor, new, now, |c| {
        if registration_tokens::use_once(c, &token_hash, now)? {
            return Ok(());
        }
        token_refused = true;
        Err(crate::admin::invalid("initial_access_token", "refused"))
    });
    let created = match created {
        Ok(c) => c,
        Err(_) if token_refused => return Err(Refused::token()),
        Err(e) => return Err(e.into()),
    };
    let mut out = describe(
        svc,
        &created.client,
        m.token_endpoint_auth_method.as_deref(),
    );
    if let Some(secret) = created.secret {
        out["client_secret"] = secret.into();
        out["client_secret_expires_at"] = 0.into();
    }
    out["registration_access_token"] = registration_token.into();
    Ok(out)
}

/// The registered client `id` when `token` is its registration access token; an unknown
/// client and a wrong token are answered alike (RFC 7592 2.1).
fn registered(svc: &Service, id: &str, token: Option<&str>) -> Result<ClientView, Refused> {
    let token = token.ok_or_else(Refused::token)?;
    let client = svc
        .db
        .run(|c| store::find(c, id))
        .map_err(|e| Refused::from(AdminError::from(e)))?
        .ok_or_else(Refused::token)?;
    let presented = crypto::secret_hash(token);
    let matches = client
        .registration_token_hash
        .as_deref()
        .is_some_and(|stored| crypto::constant_time_eq(stored, &presented));
    if !matches {
        return Err(Refused::token());
    }
    Ok(ClientView::from(&client))
}

/// Reads a registration (RFC 7592 2.1).
pub fn read(svc: &Service, id: &str, token: Option<&str>) -> Result<Value, Refused> {
    let client = registered(svc, id, token)?;
    Ok(describe(svc, &client, None))
}

/// Replaces a registration's metadata (RFC 7592 2.2): what is left out takes its default.
/// The way the client authenticates cannot change.
pub fn replace(
    svc: &Service,
    id: &str,
    token: Option<&str>,
    body: &[u8],
    actor: &Actor,
    now: i64,
) -> Result<Value, Refused> {
    let current = registered(svc, id, token)?;
    let m = Metadata::parse(body)?;
    m.check_reachable(svc.provider.fetch_private_addresses)?;
    if m.sector_identifier_uri != current.sector_identifier_uri {
        return Err(Refused::metadata(
            "sector_identifier_uri cannot change (every pairwise sub would); register a new client",
        ));
    }
    if m.client_id.as_deref() != Some(id) {
        return Err(Refused::metadata(
            "client_id must be the registered client's",
        ));
    }
    let method = m.credentials(svc.provider.mtls.is_some())?.auth_method();
    if method.as_str() != current.auth_method {
        return Err(Refused::metadata(
            "token_endpoint_auth_method cannot change; register a new client",
        ));
    }
    if m.tls_client_auth != current.tls_client_auth {
        return Err(Refused::metadata(
            "the tls_client_auth_* name cannot change; register a new client",
        ));
    }
    let changes = ClientChanges {
        name: Some(m.client_name.clone().unwrap_or_else(|| id.to_string())),
        redirect_uris: Some(m.redirect_uris.clone()),
        post_logout_redirect_uris: Some(m.post_logout_redirect_uris.clone()),
        scopes: Some(if m.scopes().is_empty() {
            crate::oidc::authorize::DEFAULT_SCOPES
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            m.scopes()
        }),
        grant_types: Some(m.grant_types.clone().unwrap_or_else(|| {
            clients::DEFAULT_GRANTS
                .iter()
                .map(|g| g.name().to_string())
                .collect()
        })),
        id_token_alg: Some(m.id_token_alg()),
        subject_type: m.subject_type.clone(),
        request_uris: Some(m.request_uris.clone()),
        // Absent from the new metadata: removed.
        policy_uri: Some(m.policy_uri.clone().unwrap_or_default()),
        tos_uri: Some(m.tos_uri.clone().unwrap_or_default()),
        logo_uri: Some(m.logo_uri.clone().unwrap_or_default()),
        backchannel_logout_uri: Some(m.backchannel_logout_uri.clone().unwrap_or_default()),
        frontchannel_logout_uri: Some(m.frontchannel_logout_uri.clone().unwrap_or_default()),
        require_pushed_authorization_requests: Some(m.require_pushed_authorization_requests),
        dpop_bound_access_tokens: Some(m.dpop_bound_access_tokens),
        tls_client_certificate_bound_access_tokens: Some(
            m.tls_client_certificate_bound_access_tokens,
        ),
        id_token_encrypted_response_alg: Some(
            m.id_token_encrypted_response_alg
                .clone()
                .unwrap_or_default(),
        ),
        id_token_encrypted_response_enc: Some(
            m.id_token_encrypted_response_enc
                .clone()
                .unwrap_or_default(),
        ),
        userinfo_signed_response_alg: Some(
            m.userinfo_signed_response_alg.clone().unwrap_or_default(),
        ),
        userinfo_encrypted_response_alg: Some(
            m.userinfo_encrypted_response_alg
                .clone()
                .unwrap_or_default(),
        ),
        userinfo_encrypted_response_enc: Some(
            m.userinfo_encrypted_response_enc
                .clone()
                .unwrap_or_default(),
        ),
        // Absent from the new metadata: removed.
        default_max_age: Some(m.default_max_age.unwrap_or(-1)),
        default_acr_values: Some(m.default_acr_values.clone()),
        ..Default::default()
    };
    let updated = clients::update(&Context::from(svc), actor, id, changes, now)?;
    Ok(describe(
        svc,
        &updated.client,
        m.token_endpoint_auth_method.as_deref(),
    ))
}

/// Removes a registration (RFC 7592 2.3) and everything issued to the client.
pub fn remove(
    svc: &Service,
    id: &str,
    token: Option<&str>,
    actor: &Actor,
    now: i64,
) -> Result<(), Refused> {
    registered(svc, id, token)?;
    clients::remove(&Context::from(svc), actor, id, now)?;
    Ok(())
}

/// A client's registered metadata, as RFC 7591 3.2.1 answers it.
fn describe(svc: &Service, c: &ClientView, asked_method: Option<&str>) -> Value {
    let method = match c.auth_method {
        "client_secret" => match asked_method {
            Some("client_secret_post") => "client_secret_post",
            _ => "client_secret_basic",
        },
        other => other,
    };
    let mut out = json!({
        "client_id": c.id,
        "client_id_issued_at": c.created_at,
        "client_name": c.name,
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "grant_types": c.grant_types,
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
        "scope": c.scopes.join(" "),
        "id_token_signed_response_alg": c.id_token_alg,
        "subject_type": c.subject_type,
        "require_pushed_authorization_requests": c.require_pushed_authorization_requests,
        "dpop_bound_access_tokens": c.dpop_bound_access_tokens,
        "tls_client_certificate_bound_access_tokens": c.tls_client_certificate_bound_access_tokens,
        "registration_client_uri": svc.provider.endpoint(&format!("{REGISTRATION_PATH}/{}", c.id)),
    });
    if let Some(jwks) = &c.jwks {
        out["jwks"] = jwks.clone();
    }
    if let Some(uri) = &c.jwks_uri {
        out["jwks_uri"] = uri.as_str().into();
    }
    if let Some(name) = &c.tls_client_auth {
        out[name.metadata_name()] = name.value().into();
    }
    if let Some(uri) = &c.sector_identifier_uri {
        out["sector_identifier_uri"] = uri.as_str().into();
    }
    if !c.request_uris.is_empty() {
        out["request_uris"] = json!(c.request_uris);
    }
    for (name, uri) in [
        ("policy_uri", &c.policy_uri),
        ("tos_uri", &c.tos_uri),
        ("logo_uri", &c.logo_uri),
    ] {
        if let Some(uri) = uri {
            out[name] = uri.as_str().into();
        }
    }
    if let Some(alg) = &c.userinfo_signed_response_alg {
        out["userinfo_signed_response_alg"] = alg.as_str().into();
    }
    if let Some(seconds) = c.default_max_age {
        out["default_max_age"] = seconds.into();
    }
    if !c.default_acr_values.is_empty() {
        out["default_acr_values"] = json!(c.default_acr_values);
    }
    let encryptions = [
        (
            [
                "id_token_encrypted_response_alg",
                "id_token_encrypted_response_enc",
            ],
            &c.id_token_encrypted_response_alg,
            &c.id_token_encrypted_response_enc,
        ),
        (
            [
                "userinfo_encrypted_response_alg",
                "userinfo_encrypted_response_enc",
            ],
            &c.userinfo_encrypted_response_alg,
            &c.userinfo_encrypted_response_enc,
        ),
    ];
    for ([alg_name, enc_name], alg, enc) in encryptions {
        if let Some(alg) = alg {
            out[alg_name] = alg.as_str().into();
            out[enc_name] = enc
                .as_deref()
                .unwrap_or(crate::oidc::encryption::ENCS[0])
                .into();
        }
    }
    if let Some(uri) = &c.backchannel_logout_uri {
        out["backchannel_logout_uri"] = uri.as_str().into();
        out["backchannel_logout_session_required"] = true.into();
    }
    if let Some(uri) = &c.frontchannel_logout_uri {
        out["frontchannel_logout_uri"] = uri.as_str().into();
        out["frontchannel_logout_session_required"] = true.into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::testing::{T0, cli, events};
    use crate::audit::Kind;
    use crate::service::for_tests;

    const METADATA: &[u8] = br#"{"redirect_uris":["https://rp.example/cb"],"client_name":"RP"}"#;

    fn registering() -> Actor {
        Actor::Registration { ip: None }
    }

    #[test]
    fn an_initial_token_registers_as_many_clients_as_it_allows_even_at_once() {
        let (_dir, svc) = for_tests();
        let ctx = Context::from(&svc);
        let token = clients::issue_registration_token(&ctx, &cli(), 600, 2, T0).unwrap();
        let registered: Vec<bool> = std::thread::scope(|s| {
            let tries: Vec<_> = (0..5)
                .map(|_| {
                    s.spawn(|| register(&svc, Some(&token), METADATA, &registering(), T0).is_ok())
                })
                .collect();
            tries.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert_eq!(
            registered.iter().filter(|r| **r).count(),
            2,
            "{registered:?}"
        );
        let refused = register(&svc, Some(&token), METADATA, &registering(), T0).unwrap_err();
        assert_eq!((refused.status, refused.error), (401, "invalid_token"));
        let kinds: Vec<Kind> = events(&svc.db).iter().filter_map(|e| e.kind()).collect();
        assert_eq!(
            kinds.iter().filter(|k| **k == Kind::ClientCreated).count(),
            2,
            "a refused registration stores nothing"
        );
        assert!(kinds.contains(&Kind::RegistrationTokenIssued));
    }

    #[test]
    fn tokens_expire_and_their_limits_are_checked() {
        let (_dir, svc) = for_tests();
        let ctx = Context::from(&svc);
        let token = clients::issue_registration_token(&ctx, &cli(), 60, 5, T0).unwrap();
        let late = register(&svc, Some(&token), METADATA, &registering(), T0 + 60).unwrap_err();
        assert_eq!(late.status, 401);
        for (ttl, uses) in [
            (0, 1),
            (clients::MAX_REGISTRATION_TOKEN_TTL + 1, 1),
            (60, 0),
        ] {
            assert!(
                clients::issue_registration_token(&ctx, &cli(), ttl, uses, T0).is_err(),
                "{ttl} {uses}"
            );
        }
    }

    #[test]
    fn a_registration_is_managed_only_with_its_own_token() {
        let (_dir, svc) = for_tests();
        let ctx = Context::from(&svc);
        let initial = clients::issue_registration_token(&ctx, &cli(), 600, 2, T0).unwrap();
        let a = register(&svc, Some(&initial), METADATA, &registering(), T0).unwrap();
        let b = register(&svc, Some(&initial), METADATA, &registering(), T0).unwrap();
        let (a_id, b_token) = (
            a["client_id"].as_str().unwrap(),
            b["registration_access_token"].as_str().unwrap(),
        );
        assert_eq!(read(&svc, a_id, Some(b_token)).unwrap_err().status, 401);
        assert_eq!(read(&svc, a_id, Some(&initial)).unwrap_err().status, 401);
        let a_token = a["registration_access_token"].as_str().unwrap();
        assert_eq!(
            read(&svc, a_id, Some(a_token)).unwrap()["client_name"],
            "RP"
        );
        assert_eq!(
            remove(&svc, a_id, Some(b_token), &registering(), T0)
                .unwrap_err()
                .status,
            401
        );
        remove(&svc, a_id, Some(a_token), &registering(), T0).unwrap();
        assert_eq!(read(&svc, a_id, Some(a_token)).unwrap_err().status, 401);
        // A client registered by an administrator has no registration to manage.
        let portal = NewClient::new(
            "portal",
            Credentials::GenerateSecret,
            vec!["https://portal.example/cb".into()],
        );
        clients::create(&ctx, &cli(), portal, T0).unwrap();
        assert_eq!(read(&svc, "portal", Some("")).unwrap_err().status, 401);
    }

    #[test]
    fn certificate_clients_register_where_mutual_tls_is_configured() {
        let mtls = r#"{"redirect_uris":["https://rp.example/cb"],
            "token_endpoint_auth_method":"tls_client_auth",
            "tls_client_auth_subject_dn":"CN=portal, O=Ministry",
            "tls_client_certificate_bound_access_tokens":true}"#;
        // Without [mtls], refused by name.
        let (_dir, svc) = for_tests();
        let ctx = Context::from(&svc);
        let token = clients::issue_registration_token(&ctx, &cli(), 600, 9, T0).unwrap();
        let refused =
            register(&svc, Some(&token), mtls.as_bytes(), &registering(), T0).unwrap_err();
        assert_eq!(refused.error, "invalid_client_metadata");
        assert!(refused.description.contains("TLS client certificates"));

        let (_dir, svc) = crate::service::for_tests_with(|f| {
            f.mtls = Some(crate::config::MtlsConfig {
                cert_file: None,
                key_file: None,
                listen: None,
                url: None,
                ca_files: Vec::new(),
                crl_files: Vec::new(),
                proxy_header: Some("x-client-cert".into()),
            });
        });
        let ctx = Context::from(&svc);
        let token = clients::issue_registration_token(&ctx, &cli(), 600, 9, T0).unwrap();
        let made = register(&svc, Some(&token), mtls.as_bytes(), &registering(), T0).unwrap();
        assert_eq!(made["token_endpoint_auth_method"], "tls_client_auth");
        assert_eq!(made["tls_client_auth_subject_dn"], "CN=portal, O=Ministry");
        assert_eq!(made["tls_client_certificate_bound_access_tokens"], true);
        assert!(made.get("client_secret").is_none(), "no secret");
        // The name cannot change; exactly one name; names only with tls_client_auth.
        let id = made["client_id"].as_str().unwrap();
        let own = made["registration_access_token"].as_str().unwrap();
        let renamed = mtls
            .replace("CN=portal", "CN=other")
            .replace('{', &format!(r#"{{"client_id":"{id}","#));
        let e = replace(&svc, id, Some(own), renamed.as_bytes(), &registering(), T0).unwrap_err();
        assert!(e.description.contains("cannot change"), "{e:?}");
        for bad in [
            mtls.replace('{', r#"{"tls_client_auth_san_dns":"portal.example","#),
            mtls.replace("CN=portal, O=Ministry", "portal"),
            mtls.replace(r#""tls_client_auth""#, r#""private_key_jwt""#),
            r#"{"redirect_uris":["https://rp.example/cb"],"token_endpoint_auth_method":"self_signed_tls_client_auth"}"#.to_string(),
        ] {
            let e = register(&svc, Some(&token), bad.as_bytes(), &registering(), T0).unwrap_err();
            assert_eq!(e.error, "invalid_client_metadata", "{bad}");
        }
    }
}
