//! The UserInfo endpoint: the access token in the `Authorization` header (GET or POST),
//! as `Bearer` or, bound to a key, as `DPoP` with a proof (RFC 9449 7), or, for POST, in
//! the form body (RFC 6750 2.1, 2.2).

use super::{AppState, blocking, form_params, no_store_json};
use crate::oidc::dpop::Presentation;
use crate::oidc::error::{ErrorCode, OidcError};
use crate::oidc::userinfo::{self, Answer};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// An access token and whether it came with the `DPoP` scheme.
type Token = (String, bool);

fn bearer(req: &HttpRequest) -> Option<Result<Token, OidcError>> {
    let h = req.headers().get(header::AUTHORIZATION)?;
    let v = h.to_str().unwrap_or("");
    let (scheme, token) = v.split_once(' ').unwrap_or((v, ""));
    let token = token.trim().to_string();
    Some(match scheme {
        _ if token.is_empty() => Err(OidcError::invalid_request(
            "the Authorization header has no token",
        )),
        s if s.eq_ignore_ascii_case("bearer") => Ok((token, false)),
        s if s.eq_ignore_ascii_case("dpop") => Ok((token, true)),
        _ => Err(OidcError::invalid_request(
            "the Authorization header must be a Bearer or DPoP token",
        )),
    })
}

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let token = bearer(&req);
    answer(&req, state, token).await
}

pub async fn post(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let from_header = bearer(&req);
    let token = if body.is_empty() {
        from_header
    } else {
        match form_params(&req, &body) {
            Err(e) => Some(Err(e)),
            Ok(p) => match (from_header, p.get("access_token")) {
                (Some(_), Some(_)) => Some(Err(OidcError::invalid_request(
                    "the access token was given more than once",
                ))),
                (Some(h), None) => Some(h),
                (None, t) => t.map(|t| Ok((t.to_string(), false))),
            },
        }
    };
    answer(&req, state, token).await
}

async fn answer(
    req: &HttpRequest,
    state: web::Data<AppState>,
    token: Option<Result<Token, OidcError>>,
) -> HttpResponse {
    let token = match token {
        None => {
            return HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"idp\""))
                .finish();
        }
        Some(Err(e)) => return bearer_error(&e, false),
        Some(Ok(t)) => t,
    };
    let (token, dpop_scheme) = token;
    let proof = super::token::dpop_header(req);
    let method = req.method().as_str().to_string();
    let certificate = super::tls::client_certificate(&state, req);
    let alias = super::tls::via_alias(&state, req);
    let st = state.into_inner();
    let now = st.clock.now();
    let result = blocking(move || {
        let htu = st.provider.endpoint_at(crate::oidc::USERINFO_PATH, alias);
        let presented = Presentation {
            token: &token,
            dpop_scheme,
            proof: proof.as_deref(),
            htm: &method,
            htu: &htu,
        };
        userinfo::userinfo(
            &st.bearer(),
            &st.provider.client_keys,
            &presented,
            certificate.as_ref(),
            now,
        )
    })
    .await;
    match result {
        Ok(Answer::Json(claims)) => no_store_json(serde_json::Value::Object(claims).to_string()),
        Ok(Answer::Jwt(jwt)) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .content_type("application/jwt")
            .body(jwt),
        Err(e) => bearer_error(&e, dpop_scheme),
    }
}

/// RFC 6750 3 and RFC 9449 7.1: the error in `WWW-Authenticate`, in the scheme the token
/// was presented with (or that the error is about), as well as in the body.
fn bearer_error(e: &OidcError, dpop_scheme: bool) -> HttpResponse {
    let status = match e.code {
        ErrorCode::InvalidRequest => 400,
        ErrorCode::InvalidDpopProof => 401,
        other => other.status(),
    };
    let scheme = if dpop_scheme || e.code == ErrorCode::InvalidDpopProof {
        format!("DPoP algs=\"{}\"", crate::oidc::dpop::ALGS.join(" "))
    } else {
        "Bearer realm=\"idp\"".to_string()
    };
    let challenge = format!(
        "{scheme}, error=\"{}\", error_description=\"{}\"",
        e.code.as_str(),
        e.description.replace(['"', '\\'], "'")
    );
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::UNAUTHORIZED),
    )
    .insert_header((header::WWW_AUTHENTICATE, challenge))
    .insert_header((header::CACHE_CONTROL, "no-store"))
    .json(serde_json::json!({ "error": e.code.as_str(), "error_description": e.description }))
}
