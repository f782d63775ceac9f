//! Sign-in or step-up with an X.509 client certificate, from the TLS connection or from a
//! trusted reverse proxy.

use super::*;

/// Percent-decoding as reverse proxies escape certificates (`%XX`; `+` is a plus sign).
pub(super) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The client certificate of this request: from the TLS connection, or from the
/// configured header when the request comes from a trusted reverse proxy.
pub(super) fn presented_chain(state: &AppState, req: &HttpRequest) -> Option<Vec<Vec<u8>>> {
    if let Some(peer) = req.conn_data::<crate::http::PeerCertificates>() {
        return Some(peer.0.clone());
    }
    let x509 = state.config.x509.as_ref()?;
    let from_proxy = req
        .peer_addr()
        .is_some_and(|a| state.config.trusted_proxies.contains(&a.ip()));
    if !from_proxy {
        return None;
    }
    let encoded = req
        .headers()
        .get(x509.proxy_header.as_str())?
        .to_str()
        .ok()?;
    let pem = percent_decode(encoded)?;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let chain: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .filter_map(Result::ok)
        .map(|c| c.to_vec())
        .collect();
    (!chain.is_empty()).then_some(chain)
}

/// Sign-in, or step-up, with an X.509 client certificate.
pub async fn certificate(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let chain = presented_chain(&state, &req);
    on_post(req, state, path, body, move |st, p, now| {
        let Posted {
            loaded, cookie, ip, ..
        } = p;

        crate::http::throttle(st, ip, now)?;
        let certs = st
            .certificates
            .as_ref()
            .ok_or_else(|| OidcError::invalid_request("certificate sign-in is not configured"))?;
        let refused = |loaded: Loaded| {
            Ok((
                Shown::LoginRefused(Box::new(loaded), String::new(), Refusal::Certificate),
                None,
            ))
        };
        let Some(chain) = chain else {
            return refused(loaded);
        };
        let Ok(name) = certs.identify(&chain, now) else {
            crate::http::audit(
                st,
                "auth.failed",
                None,
                None,
                serde_json::json!({ "factor": "x509", "reason": "certificate" }),
                now,
            )?;
            return refused(loaded);
        };
        let user = st.db.run(|c| {
            if certs.mapping().is_email() {
                users::find_by_email(c, &name)
            } else {
                users::find_by_username(c, &name)
            }
        })?;
        let Some(user) = user.filter(|u| !u.disabled) else {
            let detail = serde_json::json!({ "factor": "x509", "reason": "no account" });
            crate::http::audit(st, "auth.failed", None, None, detail, now)?;
            return refused(loaded);
        };
        let kind = FactorKind::Certificate;
        let current = st
            .db
            .run(|c| session::resume(c, cookie.as_deref(), st.config.session_idle, now))?;
        let (new_cookie, _) = st.db.tx(|c| {
            transactions::set_user(c, &loaded.tx.id, &user.id)?;
            let detail = serde_json::json!({ "factor": "x509" });
            let entry = crate::audit::Entry {
                kind: "auth.succeeded",
                user_id: Some(&user.id),
                client_id: None,
                detail,
            };
            crate::audit::append(c, entry, now)?;
            match current.as_ref().filter(|s| s.user_id == user.id) {
                // Signed in already: the certificate is one more factor.
                Some(s) => session::step_up(c, s, kind, &st.config.policy, &times(st), now),
                None => session::start(
                    c,
                    cookie.as_deref(),
                    &user.id,
                    kind,
                    &st.config.policy,
                    &times(st),
                    now,
                ),
            }
        })?;
        Ok((
            Shown::Next(format!("/interaction/{}", loaded.tx.id)),
            Some(new_cookie),
        ))
    })
    .await
}
