//! X.509 client certificates (smart cards, eID cards, soft certificates): the chain must
//! lead to a configured CA, be within its validity period and not be revoked by a
//! configured CRL; a mapping rule then names the account the certificate belongs to. The
//! same verifier serves the TLS handshake (when `idp` terminates TLS) and certificates
//! forwarded by a trusted reverse proxy.

use crate::{Factor, FactorError, FactorKind, Verified};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use std::sync::Arc;
use std::time::Duration;
use x509_parser::prelude::*;

/// Which part of the certificate names the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// The subject's common name is the username.
    SubjectCn,
    /// The subject's serialNumber attribute (a personal identification number on many
    /// national eID cards) is the username.
    SubjectSerialNumber,
    /// The first e-mail address among the subject alternative names is the account's
    /// e-mail address.
    SanEmail,
}

impl Mapping {
    pub const ALL: [Mapping; 3] = [
        Mapping::SubjectCn,
        Mapping::SubjectSerialNumber,
        Mapping::SanEmail,
    ];

    pub fn parse(s: &str) -> Option<Mapping> {
        match s {
            "subject-cn" => Some(Mapping::SubjectCn),
            "subject-serial-number" => Some(Mapping::SubjectSerialNumber),
            "san-email" => Some(Mapping::SanEmail),
            _ => None,
        }
    }

    /// Whether the mapped value is an e-mail address (else a username).
    pub fn is_email(self) -> bool {
        self == Mapping::SanEmail
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CertificateSetupError {
    #[error("{0}")]
    Pem(String),
    #[error("client certificate verifier: {0}")]
    Verifier(String),
}

pub struct Certificates {
    cas: TrustedCas,
    mapping: Mapping,
}

/// A presented chain, leaf first, DER.
pub type Chain = [Vec<u8>];

/// Certificate authorities and their revocation lists: whether a chain leads to one of
/// them, is within its validity period and is not revoked. Citizens' certificates
/// (`Certificates`) and relying parties' (mutual TLS) are checked alike.
#[derive(Debug, Clone)]
pub struct TrustedCas {
    verifier: Arc<dyn ClientCertVerifier>,
}

impl TrustedCas {
    /// `cas` and `crls` are PEM files' contents.
    pub fn new(cas: &[Vec<u8>], crls: &[Vec<u8>]) -> Result<TrustedCas, CertificateSetupError> {
        let mut roots = RootCertStore::empty();
        for pem in cas {
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| CertificateSetupError::Pem(format!("CA file: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| CertificateSetupError::Pem(format!("CA certificate: {e}")))?;
            }
        }
        let mut revoked = Vec::new();
        for pem in crls {
            for crl in CertificateRevocationListDer::pem_slice_iter(pem) {
                revoked
                    .push(crl.map_err(|e| CertificateSetupError::Pem(format!("CRL file: {e}")))?);
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .with_crls(revoked)
            // A browser without a certificate may still connect and use other factors.
            .allow_unauthenticated()
            .build()
            .map_err(|e| CertificateSetupError::Verifier(e.to_string()))?;
        Ok(TrustedCas { verifier })
    }

    /// Whether `chain` (leaf first) leads to one of the CAs and is valid at `now`.
    pub fn verifies(&self, chain: &Chain, now: i64) -> bool {
        let Some((leaf, intermediates)) = chain.split_first() else {
            return false;
        };
        let intermediates: Vec<CertificateDer> = intermediates
            .iter()
            .map(|c| CertificateDer::from(c.as_slice()))
            .collect();
        let at = UnixTime::since_unix_epoch(Duration::from_secs(now.max(0) as u64));
        self.verifier
            .verify_client_cert(&CertificateDer::from(leaf.as_slice()), &intermediates, at)
            .is_ok()
    }
}

impl Certificates {
    /// `cas` and `crls` are PEM files' contents.
    pub fn new(
        cas: &[Vec<u8>],
        crls: &[Vec<u8>],
        mapping: Mapping,
    ) -> Result<Certificates, CertificateSetupError> {
        Ok(Certificates {
            cas: TrustedCas::new(cas, crls)?,
            mapping,
        })
    }

    /// The verifier for a TLS server configuration.
    pub fn tls_verifier(&self) -> Arc<dyn ClientCertVerifier> {
        self.cas.verifier.clone()
    }

    pub fn mapping(&self) -> Mapping {
        self.mapping
    }

    /// Checks the chain at `now` (chain, validity, revocation) and returns the account
    /// name the mapping rule reads from the leaf.
    pub fn identify(&self, chain: &Chain, now: i64) -> Result<String, FactorError> {
        let leaf = chain.first().ok_or(FactorError::Malformed)?;
        if !self.cas.verifies(chain, now) {
            return Err(FactorError::Mismatch);
        }
        identity(leaf, self.mapping).ok_or(FactorError::Malformed)
    }
}

/// The account name a certificate carries under `mapping`.
pub fn identity(der: &[u8], mapping: Mapping) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let subject = cert.subject();
    let value = match mapping {
        Mapping::SubjectCn => subject
            .iter_common_name()
            .next()?
            .as_str()
            .ok()?
            .to_string(),
        Mapping::SubjectSerialNumber => subject
            .iter_by_oid(&oid_registry::OID_X509_SERIALNUMBER)
            .next()?
            .as_str()
            .ok()?
            .to_string(),
        Mapping::SanEmail => cert
            .subject_alternative_name()
            .ok()??
            .value
            .general_names
            .iter()
            .find_map(|n| match n {
                GeneralName::RFC822Name(e) => Some(e.to_string()),
                _ => None,
            })?,
    };
    let value = value.trim().to_string();
    (!value.is_empty()).then_some(value)
}

/// The certificate factor: the credential is the account name the certificate must map to.
impl Factor for Certificates {
    type Credential = String;
    type Challenge = ();
    type Response = Chain;

    fn kind(&self) -> FactorKind {
        FactorKind::Certificate
    }

    fn begin(&self, _credential: &String, _now: i64) {}

    fn finish(
        &self,
        credential: &String,
        _challenge: &(),
        chain: &Chain,
        now: i64,
    ) -> Result<Verified<String>, FactorError> {
        let name = self.identify(chain, now)?;
        let same = if self.mapping.is_email() {
            name.eq_ignore_ascii_case(credential)
        } else {
            name == *credential
        };
        if !same {
            return Err(FactorError::Mismatch);
        }
        Ok(Verified {
            updated: None,
            kind: FactorKind::Certificate,
        })
    }
}
