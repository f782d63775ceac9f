//! The X.509 client certificate of a request: from the TLS connection, or from a trusted
//! reverse proxy's header.

use super::AppState;
use actix_web::HttpRequest;

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
