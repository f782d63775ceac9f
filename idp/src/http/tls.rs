//! TLS: the listeners' configurations, and the client certificate of a request, from the
//! TLS connection or from a trusted reverse proxy's header.
//!
//! The main listener asks for client certificates only when X.509 sign-in is configured,
//! and takes only those of the citizens' CAs. The `[mtls]` listener (RFC 8705 5, the
//! endpoints' aliases for clients) asks every client for one and takes any certificate
//! whose key the client proves it holds: whether the certificate is trusted is decided by
//! client authentication (`oidc::mtls`), by the client's registration.

use super::AppState;
use crate::config::TlsConfig;
use crate::oidc::mtls::Certificate;
use actix_web::HttpRequest;
use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use std::sync::Arc;

/// The client certificate chain a TLS connection presented (leaf first, DER).
#[derive(Clone)]
pub struct PeerCertificates(pub Vec<Vec<u8>>);

/// The connection is TLS that `idp` terminates: a proxy's certificate header means
/// nothing on it.
#[derive(Clone, Copy)]
pub struct TlsConnection;

/// The connection came to the `[mtls]` listener: the endpoints' mutual-TLS aliases.
#[derive(Clone, Copy)]
pub struct AliasListener;

/// The main listener's TLS configuration: the server's certificate, TLS 1.3 only if
/// asked, and client certificates of the citizens' CAs requested (not required) when
/// X.509 sign-in is configured.
pub(super) fn main_config(
    state: &AppState,
    tls: &TlsConfig,
) -> std::io::Result<rustls::ServerConfig> {
    let verifier = state.certificates.as_ref().map(|c| c.tls_verifier());
    config(tls, verifier)
}

/// The `[mtls]` listener's: the same server certificate, and any client certificate.
pub(super) fn alias_config(tls: &TlsConfig) -> std::io::Result<rustls::ServerConfig> {
    let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms;
    config(tls, Some(Arc::new(AnyCertificate { algorithms })))
}

fn config(
    tls: &TlsConfig,
    verifier: Option<Arc<dyn ClientCertVerifier>>,
) -> std::io::Result<rustls::ServerConfig> {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;
    let bad = |what: &str, e: &dyn std::fmt::Display| std::io::Error::other(format!("{what}: {e}"));
    let certs = CertificateDer::pem_file_iter(&tls.cert_file)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad(&tls.cert_file.display().to_string(), &e))?;
    let key = PrivateKeyDer::from_pem_file(&tls.key_file)
        .map_err(|e| bad(&tls.key_file.display().to_string(), &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = if tls.tls13_only {
        &[&rustls::version::TLS13]
    } else {
        rustls::ALL_VERSIONS
    };
    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| bad("TLS versions", &e))?;
    let builder = match verifier {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    builder
        .with_single_cert(certs, key)
        .map_err(|e| bad("TLS certificate", &e))
}

/// Takes any client certificate whose key signs the handshake (see the module's first
/// lines); a connection without one is taken too, for requests that need none.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Percent-decoding as reverse proxies escape certificates (`%XX`; `+` is a plus sign).
fn percent_decode(s: &str) -> Option<String> {
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

/// The client certificate chain of this request: from the TLS connection, or, on a
/// plain HTTP connection from a trusted reverse proxy, from its `header`.
fn presented_chain(
    state: &AppState,
    req: &HttpRequest,
    header: Option<&str>,
) -> Option<Vec<Vec<u8>>> {
    if let Some(peer) = req.conn_data::<PeerCertificates>() {
        return Some(peer.0.clone());
    }
    let from_proxy = req
        .peer_addr()
        .is_some_and(|a| state.config.trusted_proxies.contains(&a.ip()));
    if !from_proxy || req.conn_data::<TlsConnection>().is_some() {
        return None;
    }
    proxy_chain(req.headers().get(header?)?.to_str().ok()?)
}

/// The certificate chain in a reverse proxy's header: percent-encoded PEM.
pub(crate) fn proxy_chain(encoded: &str) -> Option<Vec<Vec<u8>>> {
    let pem = percent_decode(encoded)?;
    use rustls::pki_types::pem::PemObject;
    let chain: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .filter_map(Result::ok)
        .map(|c| c.to_vec())
        .collect();
    (!chain.is_empty()).then_some(chain)
}

/// The citizen's certificate for X.509 sign-in (the proxy's header: `x509.proxy_header`).
pub(super) fn citizen_chain(state: &AppState, req: &HttpRequest) -> Option<Vec<Vec<u8>>> {
    let header = state.config.x509.as_ref().map(|x| x.proxy_header.as_str());
    presented_chain(state, req, header)
}

/// The request's client certificate for client authentication and bound tokens (RFC
/// 8705), where `[mtls]` is configured (the proxy's header: `mtls.proxy_header`).
pub(super) fn client_certificate(state: &AppState, req: &HttpRequest) -> Option<Certificate> {
    let mtls = state.config.mtls.as_ref()?;
    Certificate::new(presented_chain(state, req, mtls.proxy_header.as_deref())?)
}

/// Whether the request came to the endpoints' mutual-TLS aliases: to the `[mtls]`
/// listener, or, through a proxy, to the host of `mtls.url`. (It decides which of the
/// provider's own URLs a DPoP proof must name.)
pub(super) fn via_alias(state: &AppState, req: &HttpRequest) -> bool {
    if req.conn_data::<AliasListener>().is_some() {
        return true;
    }
    let Some(alias) = state.config.mtls.as_ref().and_then(|m| m.url.as_deref()) else {
        return false;
    };
    let host = req.connection_info().host().to_ascii_lowercase();
    url::Url::parse(alias).is_ok_and(|u| {
        let authority = match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => return false,
        };
        authority.eq_ignore_ascii_case(&host)
    })
}
