//! The authorization endpoint's request, checked in the order OIDC Core 3.1.2.6 needs:
//! first the client and its redirect URI (errors before that are shown to the person,
//! never redirected), then everything else (errors redirected to the client).

use super::error::{ErrorCode, OidcError};
use super::params::{Params, space_list};
use crate::keys::KeySet;
use crate::policy::{self, Level, Policy, Requirement};
use crate::store::clients::Client;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The OpenID Connect scopes this provider releases claims for (OIDC Core 5.4).
pub const STANDARD_SCOPES: [&str; 5] = ["openid", "profile", "email", "phone", "address"];
/// The scopes of a client registered without any.
pub const DEFAULT_SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// Every scope a client may be registered for: the standard ones and the deployment's API
/// scopes, which are the scopes its policy gives a risk level (`[policy.scopes]`).
pub fn scopes_supported(policy: &Policy) -> Vec<String> {
    let mut all: Vec<String> = STANDARD_SCOPES.iter().map(|s| s.to_string()).collect();
    let mut api: Vec<String> = policy
        .declared_scopes()
        .filter(|s| !STANDARD_SCOPES.contains(s))
        .map(str::to_string)
        .collect();
    api.sort();
    all.extend(api);
    all
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Prompt {
    None,
    Login,
    Consent,
    SelectAccount,
}

impl Prompt {
    fn parse(s: &str) -> Option<Prompt> {
        match s {
            "none" => Some(Prompt::None),
            "login" => Some(Prompt::Login),
            "consent" => Some(Prompt::Consent),
            "select_account" => Some(Prompt::SelectAccount),
            _ => None,
        }
    }
}

/// A validated authorization request. It is stored in the login transaction, so the
/// login pages work from this and never from the original query.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// Requested scopes the client may have; unknown ones are dropped (OIDC Core 3.1.2.1).
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Vec<Prompt>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// The subject of a valid `id_token_hint`.
    pub hint_subject: Option<String>,
    pub ui_locales: Vec<String>,
    pub acr_values: Vec<String>,
    /// The `claims` request parameter, parsed.
    pub claims: Option<Value>,
    pub requirement: Requirement,
    #[serde(default)]
    pub response_mode: ResponseMode,
    /// The thumbprint of the DPoP key the code is bound to (`dpop_jkt`, RFC 9449 10).
    #[serde(default)]
    pub dpop_jkt: Option<String>,
}

/// How the authorization response reaches the client: in the redirect URI's query, or
/// posted by the browser as a form (OAuth 2.0 Form Post Response Mode), which keeps the
/// code out of the address bar, browser history and `Referer` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    #[default]
    Query,
    FormPost,
}

impl ResponseMode {
    pub const ALL: [ResponseMode; 2] = [ResponseMode::Query, ResponseMode::FormPost];

    pub fn name(self) -> &'static str {
        match self {
            ResponseMode::Query => "query",
            ResponseMode::FormPost => "form_post",
        }
    }

    pub fn parse(s: &str) -> Option<ResponseMode> {
        Self::ALL.into_iter().find(|m| m.name() == s)
    }
}

/// An authorization response (a code, or an error) on its way to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientResponse {
    pub redirect_uri: String,
    pub params: Vec<(String, String)>,
    pub mode: ResponseMode,
}

impl ClientResponse {
    /// The redirect URI with the parameters added to its query (the `query` mode).
    pub fn location(&self) -> String {
        match url::Url::parse(&self.redirect_uri) {
            Ok(mut url) => {
                url.query_pairs_mut().extend_pairs(&self.params);
                url.to_string()
            }
            // Registered URIs are validated when added; this keeps a bad row from panicking.
            Err(_) => self.redirect_uri.clone(),
        }
    }
}

/// The pseudo-client of the citizen's own account pages: a login for them is an
/// authorization request that ends at `/account` instead of at a client. Registered
/// client ids cannot contain `#`.
pub const ACCOUNT_CLIENT: &str = "#account";

impl AuthorizeRequest {
    pub fn for_account(requirement: Requirement) -> AuthorizeRequest {
        AuthorizeRequest {
            client_id: ACCOUNT_CLIENT.into(),
            redirect_uri: "/account".into(),
            scopes: Vec::new(),
            state: None,
            nonce: None,
            code_challenge: None,
            prompt: Vec::new(),
            max_age: None,
            login_hint: None,
            hint_subject: None,
            ui_locales: Vec::new(),
            acr_values: Vec::new(),
            claims: None,
            requirement,
            response_mode: ResponseMode::Query,
            dpop_jkt: None,
        }
    }

    pub fn is_account(&self) -> bool {
        self.client_id == ACCOUNT_CLIENT
    }

    pub fn has_prompt(&self, p: Prompt) -> bool {
        self.prompt.contains(&p)
    }

    pub fn scope_string(&self) -> String {
        self.scopes.join(" ")
    }

    /// Where the answer goes.
    pub fn to_client(&self) -> ClientRedirect {
        ClientRedirect {
            redirect_uri: self.redirect_uri.clone(),
            state: self.state.clone(),
            mode: self.response_mode,
        }
    }
}

/// Where an error may be sent back to the client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientRedirect {
    pub redirect_uri: String,
    pub state: Option<String>,
    /// The requested mode when it is one of ours, else `query`.
    pub mode: ResponseMode,
}

#[derive(Debug)]
pub struct AuthorizeError {
    pub error: OidcError,
    /// None when the client or redirect URI could not be trusted: show a page instead.
    pub redirect: Option<ClientRedirect>,
}

impl AuthorizeError {
    fn page(error: OidcError) -> Self {
        AuthorizeError {
            error,
            redirect: None,
        }
    }
}

/// First stage: the client and its redirect URI. `find_client` looks the client up.
pub fn check_client<E>(
    params: &Params,
    find_client: impl FnOnce(&str) -> Result<Option<Client>, E>,
) -> Result<Result<(Client, ClientRedirect), AuthorizeError>, E> {
    let Some(client_id) = params.get("client_id") else {
        return Ok(Err(AuthorizeError::page(OidcError::invalid_request(
            "client_id is missing",
        ))));
    };
    let Some(client) = find_client(client_id)? else {
        return Ok(Err(AuthorizeError::page(OidcError::new(
            ErrorCode::InvalidClient,
            "the client is not registered",
        ))));
    };
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return Ok(Err(AuthorizeError::page(OidcError::invalid_request(
            "redirect_uri is missing",
        ))));
    };
    if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
        return Ok(Err(AuthorizeError::page(OidcError::invalid_request(
            "redirect_uri is not registered for this client",
        ))));
    }
    let redirect = ClientRedirect {
        redirect_uri: redirect_uri.to_string(),
        state: params.get("state").map(str::to_string),
        mode: params
            .get("response_mode")
            .and_then(ResponseMode::parse)
            .unwrap_or_default(),
    };
    Ok(Ok((client, redirect)))
}

/// An authorization request as it reached the endpoint, made whole: its pushed request
/// taken out (`par`), its request object fetched when passed by reference and opened
/// (`request_object`), its client found and redirect URI checked, then every parameter
/// validated. An error says where it goes: back to the client (a redirect URI it registered)
/// or to a page. A refused request object or request URI goes back to the client when the
/// request's own redirect URI is one it registered (OIDC Core 6.1, 6.2).
pub fn receive(
    db: &crate::store::Db,
    params: Params,
    keys: &KeySet,
    provider: &super::Provider,
    policy: &Policy,
    now: i64,
) -> super::error::OidcResult<Result<AuthorizeRequest, AuthorizeError>> {
    use crate::store::clients;
    let (params, pushed) = match super::par::resolve(db, params, now) {
        Ok(p) => p,
        Err(e) => return Ok(Err(AuthorizeError::page(e))),
    };
    let outer = params.clone();
    let by_reference = super::request_object::by_reference(
        params,
        |id| db.run(|c| clients::find(c, id)),
        provider,
    )?;
    let unpacked = match by_reference {
        Ok(params) => db.run(|c| {
            super::request_object::unpack_for(params, |id| clients::find(c, id), provider, now)
        })?,
        Err(e) => Err(e),
    };
    let params = match unpacked {
        Ok(p) => p,
        Err(error) => {
            let checked = db.run(|c| check_client(&outer, |id| clients::find(c, id)))?;
            let redirect = checked.ok().map(|(_, redirect)| redirect);
            return Ok(Err(AuthorizeError { error, redirect }));
        }
    };
    let (client, redirect) = match db.run(|c| check_client(&params, |id| clients::find(c, id)))? {
        Ok(x) => x,
        Err(e) => return Ok(Err(AuthorizeError::page(e.error))),
    };
    Ok(validate(
        &params, &client, redirect, keys, provider, policy, pushed,
    ))
}

/// Second stage: everything else, with errors that may be redirected to the client.
/// `pushed`: the parameters came from a pushed request (`par`).
pub fn validate(
    params: &Params,
    client: &Client,
    redirect: ClientRedirect,
    keys: &KeySet,
    provider: &super::Provider,
    policy: &Policy,
    pushed: bool,
) -> Result<AuthorizeRequest, AuthorizeError> {
    let must_push =
        provider.require_pushed_requests || client.require_pushed_authorization_requests;
    if must_push && !pushed {
        return Err(AuthorizeError {
            error: OidcError::invalid_request(
                "this client must push its authorization requests (RFC 9126) to the PAR endpoint",
            ),
            redirect: Some(redirect),
        });
    }
    check_rest(params, client, keys, &provider.issuer, policy)
        .map(|mut req| {
            req.redirect_uri = redirect.redirect_uri.clone();
            req.state = redirect.state.clone();
            req.response_mode = redirect.mode;
            req
        })
        .map_err(|error| AuthorizeError {
            error,
            redirect: Some(redirect),
        })
}

fn check_rest(
    params: &Params,
    client: &Client,
    keys: &KeySet,
    issuer: &str,
    policy: &Policy,
) -> Result<AuthorizeRequest, OidcError> {
    if params.contains("request") {
        return Err(OidcError::new(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if params.contains("request_uri") {
        return Err(OidcError::new(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    if params.contains("registration") {
        return Err(OidcError::new(
            ErrorCode::RegistrationNotSupported,
            "the registration parameter is not supported",
        ));
    }
    match params.get("response_type") {
        None => return Err(OidcError::invalid_request("response_type is missing")),
        Some("code") => {}
        Some(_) => {
            return Err(OidcError::new(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    if let Some(mode) = params.get("response_mode")
        && ResponseMode::parse(mode).is_none()
    {
        return Err(OidcError::invalid_request(
            "response_mode must be query or form_post",
        ));
    }
    if !client.allows_grant("authorization_code") {
        return Err(OidcError::new(
            ErrorCode::UnauthorizedClient,
            "the client may not use the authorization code flow",
        ));
    }

    let requested = space_list(params.get("scope"));
    if !requested.iter().any(|s| s == "openid") {
        return Err(OidcError::new(
            ErrorCode::InvalidScope,
            "the openid scope is required",
        ));
    }
    let mut scopes: Vec<String> = Vec::new();
    for s in requested {
        if client.scopes.contains(&s) && !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    if !scopes.iter().any(|s| s == "openid") {
        return Err(OidcError::new(
            ErrorCode::InvalidScope,
            "the client may not request the openid scope",
        ));
    }

    let code_challenge = check_pkce(params, client)?;

    let mut prompt = Vec::new();
    for p in space_list(params.get("prompt")) {
        let p = Prompt::parse(&p)
            .ok_or_else(|| OidcError::invalid_request(format!("unknown prompt value {p}")))?;
        if !prompt.contains(&p) {
            prompt.push(p);
        }
    }
    if prompt.contains(&Prompt::None) && prompt.len() > 1 {
        return Err(OidcError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }

    let max_age = match params.get("max_age") {
        // The client's registered default (OIDC Dynamic Registration 2).
        None => client.default_max_age,
        Some(v) => Some(
            v.parse::<u32>()
                .map_err(|_| OidcError::invalid_request("max_age must be a non-negative integer"))?
                as i64,
        ),
    };

    let claims = match params.get("claims") {
        None => None,
        Some(c) => {
            let v: Value = serde_json::from_str(c)
                .map_err(|_| OidcError::invalid_request("claims is not valid JSON"))?;
            if !v.is_object() {
                return Err(OidcError::invalid_request("claims must be a JSON object"));
            }
            Some(v)
        }
    };
    let essential_acr = claims.as_ref().and_then(essential_acr_values);

    let hint_subject = match params.get("id_token_hint") {
        None => None,
        Some(hint) => {
            let claims = keys
                .verify(hint)
                .filter(|c| c.get("iss").and_then(Value::as_str) == Some(issuer))
                .ok_or_else(|| {
                    OidcError::invalid_request(
                        "id_token_hint is not a valid ID token of this provider",
                    )
                })?;
            // A hint issued to another client would let that client's token steer this
            // login (and learn whether the citizen is signed in here).
            if !super::audience_contains(&claims, &client.id) {
                return Err(OidcError::invalid_request(
                    "id_token_hint was not issued to this client",
                ));
            }
            claims
                .get("sub")
                .and_then(Value::as_str)
                .map(str::to_string)
        }
    };

    let acr_values = match params.get("acr_values") {
        // The client's registered default (OIDC Dynamic Registration 2).
        None => client.default_acr_values.clone(),
        Some(v) => space_list(Some(v)),
    };
    // The client's risk level and the scopes' levels are a floor the request cannot lower.
    let client_level = Level::from_name(&client.risk_level).unwrap_or(Level::Low);
    let floor = client_level.max(policy.scope_level(&scopes));
    let requirement = policy::requirement(floor, &acr_values, essential_acr.as_deref());

    Ok(AuthorizeRequest {
        client_id: client.id.clone(),
        redirect_uri: String::new(),
        scopes,
        state: None,
        nonce: params.get("nonce").map(str::to_string),
        code_challenge,
        prompt,
        max_age,
        login_hint: params.get("login_hint").map(str::to_string),
        hint_subject,
        ui_locales: space_list(params.get("ui_locales")),
        acr_values,
        claims,
        requirement,
        response_mode: ResponseMode::Query,
        dpop_jkt: check_dpop_jkt(params)?,
    })
}

/// `dpop_jkt` (RFC 9449 10): a JWK SHA-256 thumbprint, 43 base64url characters.
fn check_dpop_jkt(params: &Params) -> Result<Option<String>, OidcError> {
    let Some(jkt) = params.get("dpop_jkt") else {
        return Ok(None);
    };
    let well_formed = jkt.len() == 43
        && jkt
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(OidcError::invalid_request(
            "dpop_jkt is not a base64url SHA-256 thumbprint",
        ));
    }
    Ok(Some(jkt.to_string()))
}

/// PKCE (RFC 7636): only S256; required for public clients and FAPI 2.0 clients, honoured
/// for all.
fn check_pkce(params: &Params, client: &Client) -> Result<Option<String>, OidcError> {
    match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, Some(_)) => Err(OidcError::invalid_request(
            "code_challenge_method without code_challenge",
        )),
        (None, None) if client.is_public() => Err(OidcError::invalid_request(
            "public clients must use PKCE (code_challenge with S256)",
        )),
        (None, None) if client.is_fapi2() => Err(OidcError::invalid_request(
            "this client must use PKCE (code_challenge with S256): FAPI 2.0",
        )),
        (None, None) => Ok(None),
        (Some(_), method) if method != Some("S256") => Err(OidcError::invalid_request(
            "code_challenge_method must be S256",
        )),
        (Some(c), _) => {
            // BASE64URL of a SHA-256 digest is always 43 characters.
            let well_formed = c.len() == 43
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if well_formed {
                Ok(Some(c.to_string()))
            } else {
                Err(OidcError::invalid_request(
                    "code_challenge is not a base64url SHA-256 value",
                ))
            }
        }
    }
}

/// The values of `claims.id_token.acr` when it is requested as essential.
fn essential_acr_values(claims: &Value) -> Option<Vec<String>> {
    let acr = claims.get("id_token")?.get("acr")?;
    if acr.get("essential").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    if let Some(v) = acr.get("value").and_then(Value::as_str) {
        return Some(vec![v.to_string()]);
    }
    let values = acr.get("values")?.as_array()?;
    Some(
        values
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
    )
}

/// Names of the claims individually requested for `target` ("id_token" or "userinfo").
pub fn requested_claims(claims: Option<&Value>, target: &str) -> Vec<String> {
    claims
        .and_then(|c| c.get(target))
        .and_then(Value::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}
