//! Token, introspection, revocation and pushed-authorization-request endpoints: form
//! posts from authenticated clients, answered in JSON.

use super::{
    AppState, blocking, blocking_deferred, client_ip, form_params, json_error, no_store_json, tls,
};
use crate::oidc::client_auth;
use crate::oidc::error::{OidcError, OidcResult};
use crate::oidc::grants::{self, TokenContext};
use crate::oidc::mtls::Certificate;
use crate::oidc::params::Params;
use crate::oidc::{
    INTROSPECT_PATH, PAR_PATH, REVOKE_PATH, introspect as introspection, par as pushed,
    revoke as revocation,
};
use crate::store::clients::Client;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

fn authorization(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The `DPoP` header (RFC 9449 4.1): one proof, or none. Several headers are kept as an
/// unreadable proof, so that they are refused rather than ignored.
pub(super) fn dpop_header(req: &HttpRequest) -> Option<String> {
    let mut all = req.headers().get_all("DPoP");
    let first = all.next()?;
    if all.next().is_some() {
        return Some(String::new());
    }
    Some(first.to_str().unwrap_or("").to_string())
}

pub async fn token(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let params = match form_params(&req, &body) {
        Ok(p) => p,
        Err(e) => return json_error(&e),
    };
    let auth = authorization(&req);
    let proof = dpop_header(&req);
    let sent_proof = proof.is_some();
    let address = client_ip(&state, &req).map(|a| a.to_string());
    let certificate = tls::client_certificate(&state, &req);
    let alias = tls::via_alias(&state, &req);
    let st = state.into_inner();
    let now = st.clock.now();
    let nonces = st.provider.dpop_nonces.clone();
    let result = blocking_deferred(move || {
        let keys = st.keys();
        let ctx = TokenContext {
            db: &st.db,
            provider: &st.provider,
            keys: &keys,
            client_address: address.as_deref(),
            dpop_proof: proof.as_deref(),
            certificate: certificate.as_ref(),
            alias,
            now,
        };
        let (response, durability) = grants::token_deferred(&ctx, &params, auth.as_deref());
        let body = response.and_then(|r| serde_json::to_string(&r).map_err(OidcError::server));
        (body, durability)
    })
    .await;
    let res = match result {
        Ok(body) => no_store_json(body),
        Err(e) => json_error(&e),
    };
    with_dpop_nonce(res, sent_proof.then_some(&nonces), now)
}

/// A client that sent a DPoP proof always learns the nonce its next proof must carry (RFC
/// 9449 8): with `use_dpop_nonce`, and with every other answer.
fn with_dpop_nonce(
    mut res: HttpResponse,
    nonces: Option<&crate::oidc::dpop::Nonces>,
    now: i64,
) -> HttpResponse {
    if let Some(nonces) = nonces
        && let Ok(v) = header::HeaderValue::from_str(&nonces.current(now))
    {
        res.headers_mut()
            .insert(header::HeaderName::from_static("dpop-nonce"), v);
    }
    res
}

/// How a client called the introspection, revocation or PAR endpoint.
struct Caller {
    params: Params,
    authorization: Option<String>,
    address: Option<String>,
    certificate: Option<Certificate>,
    /// It came to the endpoint's mutual-TLS alias.
    alias: bool,
}

/// Authenticates the calling client for introspection, revocation or PAR (the same
/// methods as the token endpoint, with the endpoint's own URLs as accepted audiences).
fn authenticated_client(
    st: &AppState,
    caller: &Caller,
    path: &str,
    now: i64,
) -> OidcResult<Client> {
    let presented = client_auth::presented(caller.authorization.as_deref(), &caller.params)?;
    // The issuer, or the endpoint's or the token endpoint's URL, at the issuer or the alias.
    let endpoints = [path, crate::oidc::TOKEN_PATH]
        .into_iter()
        .flat_map(|p| [st.provider.endpoint(p), st.provider.endpoint_at(p, true)]);
    let endpoints: Vec<String> = endpoints.collect();
    let mut audiences = vec![st.provider.issuer.as_str()];
    audiences.extend(endpoints.iter().map(String::as_str));
    client_auth::authenticate_throttled(
        &st.db,
        &st.provider,
        &presented,
        caller.certificate.as_ref(),
        &audiences,
        caller.address.as_deref(),
        now,
    )
}

/// Runs `op` on a blocking thread for the client that authenticated at `path` (the
/// introspection, revocation and PAR endpoints), with the request's parameters.
async fn for_client<T: Send + 'static>(
    req: &HttpRequest,
    state: web::Data<AppState>,
    body: &web::Bytes,
    path: &'static str,
    op: impl FnOnce(&AppState, &Client, &Caller, i64) -> OidcResult<T> + Send + 'static,
) -> OidcResult<T> {
    let caller = Caller {
        params: form_params(req, body)?,
        authorization: authorization(req),
        address: client_ip(&state, req).map(|a| a.to_string()),
        certificate: tls::client_certificate(&state, req),
        alias: tls::via_alias(&state, req),
    };
    let st = state.into_inner();
    let now = st.clock.now();
    blocking(move || {
        let client = authenticated_client(&st, &caller, path, now)?;
        op(&st, &client, &caller, now)
    })
    .await
}

pub async fn introspect(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let result = for_client(
        &req,
        state,
        &body,
        INTROSPECT_PATH,
        |st, client, caller, now| {
            introspection::introspect(&st.bearer(), &st.provider, client, &caller.params, now)
        },
    )
    .await;
    match result {
        Ok(v) => no_store_json(v.to_string()),
        Err(e) => json_error(&e),
    }
}

pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let result = for_client(
        &req,
        state,
        &body,
        REVOKE_PATH,
        |st, client, caller, now| revocation::revoke(&st.bearer(), client, &caller.params, now),
    )
    .await;
    match result {
        Ok(()) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(e) => json_error(&e),
    }
}

/// Pushed authorization requests (RFC 9126): `201 Created` with the `request_uri`.
pub async fn par(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let proof = dpop_header(&req);
    let sent_proof = proof.is_some();
    let nonces = state.provider.dpop_nonces.clone();
    let now = state.clock.now();
    let result = for_client(
        &req,
        state,
        &body,
        PAR_PATH,
        move |st, client, caller, now| {
            let rules = st.rules();
            let keys = st.keys();
            let pushed = pushed::push(
                &st.db,
                &st.provider,
                &keys,
                &rules.policy,
                client,
                &caller.params,
                proof.as_deref(),
                caller.alias,
                now,
            )?;
            serde_json::to_string(&pushed).map_err(OidcError::server)
        },
    )
    .await;
    let res = match result {
        Ok(body) => HttpResponse::Created()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .content_type("application/json")
            .body(body),
        Err(e) => json_error(&e),
    };
    with_dpop_nonce(res, sent_proof.then_some(&nonces), now)
}
