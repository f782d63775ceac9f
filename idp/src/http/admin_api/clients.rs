//! `/clients`: relying parties.

use super::{AppState, Reply, body, call, json, ok, path_id};
use crate::admin::clients::{self, ClientChanges, ClientView, Credentials, NewClient, NewSecret};
use crate::admin::invalid;
use crate::admin::roles::Access;
use crate::oidc::mtls::SubjectName;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A client to register. Lists left out take the defaults.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClient {
    /// 1-64 characters of A-Z a-z 0-9 . _ -
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    pub id: String,
    /// Shown to citizens [default: the id].
    pub name: Option<String>,
    /// `client_secret` (a secret: `secret` if given, otherwise generated and returned
    /// once), `client_secret_jwt` (the same, used to sign assertions with HMAC; a given
    /// secret has at least 32 bytes), `none` (a public client, PKCE required),
    /// `private_key_jwt` (give `jwks`), `tls_client_auth` (a certificate from a CA of
    /// `mtls.ca_files`: give `tls_client_auth`) or `self_signed_tls_client_auth` (a
    /// certificate in the `x5c` of `jwks`) [default: client_secret].
    #[schema(
        pattern = "^(client_secret|client_secret_jwt|none|private_key_jwt|tls_client_auth|self_signed_tls_client_auth)$"
    )]
    pub auth_method: Option<String>,
    /// For `tls_client_auth`: the one name the client's certificate carries, by its
    /// metadata name (RFC 8705 2.1.2), e.g. `{"tls_client_auth_san_dns": "portal.example"}`.
    #[schema(value_type = Option<Object>)]
    pub tls_client_auth: Option<serde_json::Map<String, Value>>,
    /// At least 16 characters; only for `client_secret` and `client_secret_jwt`.
    pub secret: Option<String>,
    /// The client's public keys (a JWK set), for `private_key_jwt`.
    #[schema(value_type = Option<Object>)]
    pub jwks: Option<Value>,
    /// Or the https URI where the client publishes them (fetched and cached; fetched
    /// again when the client rotates them).
    pub jwks_uri: Option<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// [default: openid profile email]
    #[serde(default)]
    pub scopes: Vec<String>,
    /// [default: authorization_code refresh_token]
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// ES256 or RS256 [default: ES256].
    #[schema(pattern = "^(ES256|RS256)$")]
    pub id_token_alg: Option<String>,
    /// low, substantial or high [default: low].
    #[schema(pattern = "^(low|substantial|high)$")]
    pub risk_level: Option<String>,
    /// Seconds, at most a day [default: 600].
    #[schema(minimum = 1, maximum = 86400)]
    pub access_token_ttl: Option<i64>,
    /// Seconds, at most a year [default: 28800].
    #[schema(minimum = 1, maximum = 31536000)]
    pub refresh_token_ttl: Option<i64>,
    /// May introspect tokens issued to other clients (an API).
    #[serde(default)]
    pub resource_server: bool,
    /// Access tokens as stored references or as signed JWTs (RFC 9068) [default: opaque].
    #[schema(pattern = "^(opaque|jwt)$")]
    pub access_token_format: Option<String>,
    /// The claims about the citizen in ID tokens: those asked for with the `claims`
    /// parameter (the scopes' claims come from UserInfo, OIDC Core 5.4), or every claim of
    /// the granted scopes, for a client that reads no UserInfo [default: requested].
    #[schema(pattern = "^(requested|scopes)$")]
    pub id_token_claims: Option<String>,
    /// The `sub` citizens have at this client: the account id (public) or one of its own
    /// per sector (pairwise, OIDC Core 8.1) [default: pairwise].
    #[schema(pattern = "^(public|pairwise)$")]
    pub subject_type: Option<String>,
    /// The sector of pairwise subjects, a host name [default: the redirect URIs' host].
    pub sector_identifier: Option<String>,
    /// Or an https document listing the redirect URIs (OIDC Core 8.1), fetched now; its
    /// host is the sector.
    pub sector_identifier_uri: Option<String>,
    /// https URIs where the client publishes request objects to pass by reference
    /// (`request_uri`); nothing else is fetched.
    #[serde(default)]
    pub request_uris: Vec<String>,
    /// The client's privacy notice (https), linked from the sign-in and consent pages.
    pub policy_uri: Option<String>,
    /// The client's terms of use (https), linked likewise.
    pub tos_uri: Option<String>,
    /// The client's logo (https, PNG or JPEG): fetched now, kept and served by the
    /// provider, shown on the sign-in and consent pages.
    pub logo_uri: Option<String>,
    /// Authorization requests must be pushed (RFC 9126).
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// Where the client hears of ended sessions (OIDC Back-Channel Logout 1.0): https.
    #[schema(max_length = 2000)]
    pub backchannel_logout_uri: Option<String>,
    /// Where the browser tells the client of an ended session (Front-Channel Logout 1.0).
    #[schema(max_length = 2000)]
    pub frontchannel_logout_uri: Option<String>,
    /// Every token request must carry a DPoP proof (RFC 9449 5.2).
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// Access tokens are bound to the TLS client certificate (RFC 8705 3).
    #[serde(default)]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// Encrypt ID tokens to a key of `jwks` with this algorithm.
    #[schema(pattern = "^(RSA-OAEP|RSA-OAEP-256|ECDH-ES|ECDH-ES\\+A128KW|ECDH-ES\\+A256KW)$")]
    pub id_token_encrypted_response_alg: Option<String>,
    /// The content encryption of encrypted ID tokens [default: A128CBC-HS256].
    #[schema(pattern = "^(A128CBC-HS256|A256CBC-HS512|A128GCM|A256GCM)$")]
    pub id_token_encrypted_response_enc: Option<String>,
    /// Answer UserInfo as a JWT signed with this algorithm.
    #[schema(pattern = "^(ES256|RS256)$")]
    pub userinfo_signed_response_alg: Option<String>,
    /// Encrypt UserInfo answers to a key of `jwks` with this algorithm.
    #[schema(pattern = "^(RSA-OAEP|RSA-OAEP-256|ECDH-ES|ECDH-ES\\+A128KW|ECDH-ES\\+A256KW)$")]
    pub userinfo_encrypted_response_alg: Option<String>,
    /// The content encryption of encrypted UserInfo answers [default: A128CBC-HS256].
    #[schema(pattern = "^(A128CBC-HS256|A256CBC-HS512|A128GCM|A256GCM)$")]
    pub userinfo_encrypted_response_enc: Option<String>,
    /// The `max_age` (seconds) of the client's requests that name none.
    #[schema(minimum = 0, maximum = 31536000)]
    pub default_max_age: Option<i64>,
    /// The `acr_values` of the client's requests that name none (eIDAS level URIs).
    #[serde(default)]
    pub default_acr_values: Vec<String>,
    /// `fapi2`: held to the FAPI 2.0 Security Profile.
    #[schema(pattern = "^fapi2$")]
    pub profile: Option<String>,
}

/// Changes to a client: what is left out stays as it is; a list replaces the registered one.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    #[schema(pattern = "^(ES256|RS256)$")]
    pub id_token_alg: Option<String>,
    #[schema(pattern = "^(low|substantial|high)$")]
    pub risk_level: Option<String>,
    #[schema(minimum = 1, maximum = 86400)]
    pub access_token_ttl: Option<i64>,
    #[schema(minimum = 1, maximum = 31536000)]
    pub refresh_token_ttl: Option<i64>,
    pub resource_server: Option<bool>,
    #[schema(pattern = "^(opaque|jwt)$")]
    pub access_token_format: Option<String>,
    #[schema(pattern = "^(requested|scopes)$")]
    pub id_token_claims: Option<String>,
    /// Changing it changes every citizen's `sub` at this client.
    #[schema(pattern = "^(public|pairwise)$")]
    pub subject_type: Option<String>,
    pub sector_identifier: Option<String>,
    /// Replaces the request URIs; an empty list removes them.
    pub request_uris: Option<Vec<String>>,
    /// An empty value removes it.
    pub policy_uri: Option<String>,
    /// An empty value removes it.
    pub tos_uri: Option<String>,
    /// Fetched now (again, when it is the same); an empty value removes it.
    pub logo_uri: Option<String>,
    pub require_pushed_authorization_requests: Option<bool>,
    /// An empty value removes it.
    #[schema(max_length = 2000)]
    pub backchannel_logout_uri: Option<String>,
    /// An empty value removes it.
    #[schema(max_length = 2000)]
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
    #[schema(maximum = 31536000)]
    pub default_max_age: Option<i64>,
    /// Replaces the default acr values; an empty list removes them.
    pub default_acr_values: Option<Vec<String>>,
    /// An empty value drops the profile.
    pub profile: Option<String>,
}

/// A registered client, and its secret when it was generated (shown this once).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedClient {
    pub client: ClientView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// A changed client and the settings that changed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UpdatedClient {
    pub client: ClientView,
    pub changed: Vec<String>,
}

/// A new secret: the given one, or (when left out) a generated one.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    pub secret: Option<String>,
}

/// The new secret when it was generated (shown this once).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RotatedSecret {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Every registered client.
#[utoipa::path(
    operation_id = "listClients",
    get,
    path = "/admin/api/v1/clients",
    tag = "clients",
    responses(
        (status = 200, body = Vec<ClientView>),
        (status = 401, body = super::Problem, content_type = "application/problem+json"),
        (status = 403, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    call(&req, &state, Access::Read, |c| ok(clients::list(&c.ctx)?)).await
}

/// Registers a client.
#[utoipa::path(
    operation_id = "createClient",
    post,
    path = "/admin/api/v1/clients",
    tag = "clients",
    request_body(content = CreateClient, example = json!({
        "id": "tax-portal",
        "name": "Tax portal",
        "redirect_uris": ["https://tax.example.gov/oidc/callback"],
        "post_logout_redirect_uris": ["https://tax.example.gov/"]
    })),
    responses(
        (status = 201, body = CreatedClient),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
        (status = 401, body = super::Problem, content_type = "application/problem+json"),
        (status = 403, body = super::Problem, content_type = "application/problem+json"),
        (status = 409, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    bytes: web::Bytes,
) -> HttpResponse {
    call(&req, &state, Access::Change, move |c| {
        let b: CreateClient = body(&bytes)?;
        let method = b.auth_method.as_deref().unwrap_or("client_secret");
        if b.tls_client_auth.is_some() && method != "tls_client_auth" {
            return Err(invalid(
                "tls_client_auth",
                "a certificate's name only goes with tls_client_auth",
            ));
        }
        let credentials = match (method, b.secret, b.jwks, b.jwks_uri) {
            ("tls_client_auth", None, None, None) => {
                let named = b
                    .tls_client_auth
                    .as_ref()
                    .filter(|m| m.len() == 1)
                    .and_then(|m| m.iter().next())
                    .and_then(|(k, v)| SubjectName::from_metadata(k, v.as_str()?));
                Credentials::TlsClientAuth(named.ok_or_else(|| {
                    invalid(
                        "tls_client_auth",
                        "one of tls_client_auth_subject_dn, tls_client_auth_san_dns, tls_client_auth_san_uri, tls_client_auth_san_ip, tls_client_auth_san_email, with a usable value",
                    )
                })?)
            }
            ("self_signed_tls_client_auth", None, Some(j), None) => {
                Credentials::SelfSignedTls(j.to_string())
            }
            ("tls_client_auth" | "self_signed_tls_client_auth", ..) => {
                return Err(invalid(
                    "auth_method",
                    "tls_client_auth takes a certificate's name only, self_signed_tls_client_auth the client's JWK set only",
                ));
            }
            (_, Some(_), Some(_), _) => {
                return Err(invalid("jwks", "give a secret or a JWK set, not both"));
            }
            (_, _, Some(_), Some(_)) => {
                return Err(invalid("jwks_uri", "give jwks or jwks_uri, not both"));
            }
            ("client_secret", Some(s), None, None) => Credentials::Secret(s),
            ("client_secret", None, None, None) => Credentials::GenerateSecret,
            ("client_secret_jwt", s, None, None) => Credentials::SecretJwt(s),
            ("none", None, None, None) => Credentials::Public,
            ("private_key_jwt", None, Some(j), None) => Credentials::Jwks(j.to_string()),
            ("private_key_jwt", None, None, Some(uri)) => Credentials::JwksUri(uri),
            ("private_key_jwt", None, None, None) => {
                return Err(invalid(
                    "jwks",
                    "private_key_jwt needs the client's JWK set or its jwks_uri",
                ));
            }
            ("none" | "private_key_jwt", Some(_), _, _) => {
                return Err(invalid(
                    "secret",
                    "a secret only goes with client_secret or client_secret_jwt",
                ));
            }
            ("client_secret" | "client_secret_jwt" | "none", None, Some(_), _) => {
                return Err(invalid("jwks", "a JWK set only goes with private_key_jwt"));
            }
            ("client_secret" | "client_secret_jwt" | "none", _, None, Some(_)) => {
                return Err(invalid(
                    "jwks_uri",
                    "a jwks_uri only goes with private_key_jwt",
                ));
            }
            (other, ..) => {
                return Err(invalid(
                    "auth_method",
                    format!(
                        "{other} is not one of client_secret client_secret_jwt none private_key_jwt tls_client_auth self_signed_tls_client_auth"
                    ),
                ));
            }
        };
        let new = NewClient {
            id: b.id,
            name: b.name,
            credentials,
            redirect_uris: b.redirect_uris,
            post_logout_redirect_uris: b.post_logout_redirect_uris,
            scopes: b.scopes,
            grant_types: b.grant_types,
            id_token_alg: b.id_token_alg,
            risk_level: b.risk_level,
            access_token_ttl: b.access_token_ttl,
            refresh_token_ttl: b.refresh_token_ttl,
            resource_server: b.resource_server,
            access_token_format: b.access_token_format,
            id_token_claims: b.id_token_claims,
            subject_type: b.subject_type,
            sector_identifier: b.sector_identifier,
            sector_identifier_uri: b.sector_identifier_uri,
            request_uris: b.request_uris,
            policy_uri: b.policy_uri,
            tos_uri: b.tos_uri,
            logo_uri: b.logo_uri,
            require_pushed_authorization_requests: b.require_pushed_authorization_requests,
            backchannel_logout_uri: b.backchannel_logout_uri,
            frontchannel_logout_uri: b.frontchannel_logout_uri,
            registration_token_hash: None,
            dpop_bound_access_tokens: b.dpop_bound_access_tokens,
            tls_client_certificate_bound_access_tokens: b
                .tls_client_certificate_bound_access_tokens,
            id_token_encrypted_response_alg: b.id_token_encrypted_response_alg,
            id_token_encrypted_response_enc: b.id_token_encrypted_response_enc,
            userinfo_signed_response_alg: b.userinfo_signed_response_alg,
            userinfo_encrypted_response_alg: b.userinfo_encrypted_response_alg,
            userinfo_encrypted_response_enc: b.userinfo_encrypted_response_enc,
            default_max_age: b.default_max_age,
            default_acr_values: b.default_acr_values,
            profile: b.profile,
        };
        let created = clients::create(&c.ctx, &c.principal.actor(), new, c.now)?;
        json(
            StatusCode::CREATED,
            CreatedClient {
                client: created.client,
                secret: created.secret,
            },
        )
    })
    .await
}

/// One client.
#[utoipa::path(
    operation_id = "showClient",
    get,
    path = "/admin/api/v1/clients/{id}",
    tag = "clients",
    params(("id" = String, Path, description = "The client id")),
    responses(
        (status = 200, body = ClientView),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let id = path_id(&req);
    call(&req, &state, Access::Read, move |c| {
        ok(clients::show(&c.ctx, &id)?)
    })
    .await
}

/// Changes a client's settings.
#[utoipa::path(
    operation_id = "updateClient",
    patch,
    path = "/admin/api/v1/clients/{id}",
    tag = "clients",
    params(("id" = String, Path, description = "The client id")),
    request_body(content = Option<ClientPatch>, description = "Only the settings to change; left out, nothing changes"),
    responses(
        (status = 200, body = UpdatedClient),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    bytes: web::Bytes,
) -> HttpResponse {
    let id = path_id(&req);
    call(&req, &state, Access::Change, move |c| {
        let p: ClientPatch = body(&bytes)?;
        let changes = ClientChanges {
            name: p.name,
            redirect_uris: p.redirect_uris,
            post_logout_redirect_uris: p.post_logout_redirect_uris,
            scopes: p.scopes,
            grant_types: p.grant_types,
            id_token_alg: p.id_token_alg,
            risk_level: p.risk_level,
            access_token_ttl: p.access_token_ttl,
            refresh_token_ttl: p.refresh_token_ttl,
            resource_server: p.resource_server,
            access_token_format: p.access_token_format,
            id_token_claims: p.id_token_claims,
            subject_type: p.subject_type,
            request_uris: p.request_uris,
            policy_uri: p.policy_uri,
            tos_uri: p.tos_uri,
            logo_uri: p.logo_uri,
            sector_identifier: p.sector_identifier,
            require_pushed_authorization_requests: p.require_pushed_authorization_requests,
            backchannel_logout_uri: p.backchannel_logout_uri,
            frontchannel_logout_uri: p.frontchannel_logout_uri,
            dpop_bound_access_tokens: p.dpop_bound_access_tokens,
            tls_client_certificate_bound_access_tokens: p
                .tls_client_certificate_bound_access_tokens,
            id_token_encrypted_response_alg: p.id_token_encrypted_response_alg,
            id_token_encrypted_response_enc: p.id_token_encrypted_response_enc,
            userinfo_signed_response_alg: p.userinfo_signed_response_alg,
            userinfo_encrypted_response_alg: p.userinfo_encrypted_response_alg,
            userinfo_encrypted_response_enc: p.userinfo_encrypted_response_enc,
            default_max_age: p.default_max_age,
            default_acr_values: p.default_acr_values,
            profile: p.profile,
        };
        let u = clients::update(&c.ctx, &c.principal.actor(), &id, changes, c.now)?;
        ok(UpdatedClient {
            client: u.client,
            changed: u.changed.iter().map(|s| s.to_string()).collect(),
        })
    })
    .await
}

/// Removes a client and everything issued to it.
#[utoipa::path(
    operation_id = "removeClient",
    delete,
    path = "/admin/api/v1/clients/{id}",
    tag = "clients",
    params(("id" = String, Path, description = "The client id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "The admin console's own client cannot be removed", body = super::Problem, content_type = "application/problem+json"),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn remove(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let id = path_id(&req);
    call(&req, &state, Access::Change, move |c| {
        clients::remove(&c.ctx, &c.principal.actor(), &id, c.now)?;
        Ok(Reply::NoContent)
    })
    .await
}

/// Replaces a confidential client's secret; the old one stops working at once.
#[utoipa::path(
    operation_id = "rotateClientSecret",
    post,
    path = "/admin/api/v1/clients/{id}/secret",
    tag = "clients",
    params(("id" = String, Path, description = "The client id")),
    request_body(content = Option<RotateSecret>, description = "Leave out for a generated secret"),
    responses(
        (status = 200, body = RotatedSecret),
        (status = 400, body = super::Problem, content_type = "application/problem+json"),
        (status = 404, body = super::Problem, content_type = "application/problem+json"),
    )
)]
pub(super) async fn rotate_secret(
    req: HttpRequest,
    state: web::Data<AppState>,
    bytes: web::Bytes,
) -> HttpResponse {
    let id = path_id(&req);
    call(&req, &state, Access::Change, move |c| {
        let b: RotateSecret = body(&bytes)?;
        let new = match b.secret {
            Some(s) => NewSecret::Given(s),
            None => NewSecret::Generate,
        };
        let secret = clients::rotate_secret(&c.ctx, &c.principal.actor(), &id, new, c.now)?;
        ok(RotatedSecret { secret })
    })
    .await
}
