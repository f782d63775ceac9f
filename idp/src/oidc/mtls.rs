//! Mutual-TLS client authentication and certificate-bound access tokens (RFC 8705).
//!
//! A client presents a certificate on its TLS connection: at the `[mtls]` listener, which
//! asks every client for one, or through a trusted reverse proxy's header. It
//! authenticates with it in one of two ways:
//! - `tls_client_auth` (2.1): the chain leads to a CA of `mtls.ca_files`, and the
//!   certificate carries the subject DN or subject alternative name the client registered;
//! - `self_signed_tls_client_auth` (2.2): the certificate is one the client registered in
//!   its JWK set (`x5c`); no chain is checked, the registration is the trust.
//!
//! A client registered with `tls_client_certificate_bound_access_tokens` gets access
//! tokens bound to the certificate it presented at the token endpoint (`cnf.x5t#S256`,
//! 3): they are accepted only from a connection that presents the same certificate.

use super::error::{ErrorCode, OidcError, OidcResult};
use crate::crypto;
use serde_json::Value;
use x509_parser::prelude::*;

/// A client certificate chain presented with a request, leaf first (DER).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    chain: Vec<Vec<u8>>,
}

impl Certificate {
    /// None when the chain is empty or its first certificate cannot be read.
    pub fn new(chain: Vec<Vec<u8>>) -> Option<Certificate> {
        let leaf = chain.first()?;
        X509Certificate::from_der(leaf).ok()?;
        Some(Certificate { chain })
    }

    pub fn leaf(&self) -> &[u8] {
        &self.chain[0]
    }

    /// `x5t#S256` (RFC 8705 3.1): the base64url SHA-256 of the certificate's DER.
    pub fn thumbprint(&self) -> String {
        crypto::b64url(&crypto::sha256(self.leaf()))
    }
}

/// The name a `tls_client_auth` client's certificate must carry (RFC 8705 2.1.2): one of
/// these, as registered, by its metadata name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SubjectName {
    /// The subject distinguished name, as an RFC 4514 string.
    #[serde(rename = "tls_client_auth_subject_dn")]
    Dn(String),
    #[serde(rename = "tls_client_auth_san_dns")]
    SanDns(String),
    #[serde(rename = "tls_client_auth_san_uri")]
    SanUri(String),
    #[serde(rename = "tls_client_auth_san_ip")]
    SanIp(String),
    #[serde(rename = "tls_client_auth_san_email")]
    SanEmail(String),
}

impl SubjectName {
    /// The metadata names, in the order RFC 8705 2.1.2 lists them.
    pub const NAMES: [&'static str; 5] = [
        "tls_client_auth_subject_dn",
        "tls_client_auth_san_dns",
        "tls_client_auth_san_uri",
        "tls_client_auth_san_ip",
        "tls_client_auth_san_email",
    ];

    /// The name registered under metadata `name`; None for an unknown name, an empty
    /// value, a DN that does not parse or an IP that is not an address.
    pub fn from_metadata(name: &str, value: &str) -> Option<SubjectName> {
        let value = value.trim();
        if value.is_empty() || value.len() > 1000 || value.chars().any(char::is_control) {
            return None;
        }
        let v = value.to_string();
        Some(match name {
            "tls_client_auth_subject_dn" => {
                parse_dn(value)?;
                SubjectName::Dn(v)
            }
            "tls_client_auth_san_dns" => SubjectName::SanDns(v),
            "tls_client_auth_san_uri" => SubjectName::SanUri(v),
            "tls_client_auth_san_ip" => {
                let ip: std::net::IpAddr = value.parse().ok()?;
                SubjectName::SanIp(ip.to_string())
            }
            "tls_client_auth_san_email" => SubjectName::SanEmail(v),
            _ => return None,
        })
    }

    pub fn metadata_name(&self) -> &'static str {
        let i = match self {
            SubjectName::Dn(_) => 0,
            SubjectName::SanDns(_) => 1,
            SubjectName::SanUri(_) => 2,
            SubjectName::SanIp(_) => 3,
            SubjectName::SanEmail(_) => 4,
        };
        Self::NAMES[i]
    }

    pub fn value(&self) -> &str {
        match self {
            SubjectName::Dn(v)
            | SubjectName::SanDns(v)
            | SubjectName::SanUri(v)
            | SubjectName::SanIp(v)
            | SubjectName::SanEmail(v) => v,
        }
    }

    /// Whether the certificate carries this name. DNS names and e-mail domains compare
    /// without regard to case. A DN compares RDN by RDN, attribute types in any case: in
    /// the order written or in the reverse one (RFC 4514 writes the last RDN first, many
    /// tools the first), nothing else.
    pub(crate) fn matches(&self, cert: &X509Certificate) -> bool {
        if let SubjectName::Dn(dn) = self {
            let (Some(wanted), Some(mut held)) = (parse_dn(dn), certificate_dn(cert.subject()))
            else {
                return false;
            };
            if held == wanted {
                return true;
            }
            held.reverse();
            return held == wanted;
        }
        let Ok(Some(san)) = cert.subject_alternative_name() else {
            return false;
        };
        san.value.general_names.iter().any(|g| match (self, g) {
            (SubjectName::SanDns(v), GeneralName::DNSName(d)) => v.eq_ignore_ascii_case(d),
            (SubjectName::SanUri(v), GeneralName::URI(u)) => v == u,
            (SubjectName::SanEmail(v), GeneralName::RFC822Name(e)) => same_email(v, e),
            (SubjectName::SanIp(v), GeneralName::IPAddress(bytes)) => {
                ip_from_bytes(bytes).is_some_and(|ip| ip.to_string() == *v)
            }
            _ => false,
        })
    }
}

/// E-mail addresses: the local part as written, the domain in any case.
fn same_email(a: &str, b: &str) -> bool {
    match (a.rsplit_once('@'), b.rsplit_once('@')) {
        (Some((la, da)), Some((lb, db))) => la == lb && da.eq_ignore_ascii_case(db),
        _ => a == b,
    }
}

fn ip_from_bytes(b: &[u8]) -> Option<std::net::IpAddr> {
    match b.len() {
        4 => Some(std::net::IpAddr::from(<[u8; 4]>::try_from(b).ok()?)),
        16 => Some(std::net::IpAddr::from(<[u8; 16]>::try_from(b).ok()?)),
        _ => None,
    }
}

/// One attribute of a distinguished name: its type in upper case (`CN`, `O`, or a dotted
/// OID) and its value.
type Attribute = (String, String);

/// A relative distinguished name: its attributes, sorted (their order within an RDN has
/// no meaning).
type Rdn = Vec<Attribute>;

/// An RFC 4514 string as its RDNs in the order written: `,` separates RDNs, `+` the
/// attributes of one; `\` escapes a special character or starts a hex pair (`\2C`). None
/// when an attribute has no `=`, an empty type, or a value that does not decode.
fn parse_dn(dn: &str) -> Option<Vec<Rdn>> {
    let mut rdns: Vec<Rdn> = Vec::new();
    let mut rdn: Rdn = Vec::new();
    let mut current = String::new();
    let mut chars = dn.chars();
    let end_attribute = |current: &mut String, rdn: &mut Rdn| -> Option<()> {
        rdn.push(attribute(&std::mem::take(current))?);
        Some(())
    };
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                current.push('\\');
                current.push(chars.next()?);
            }
            '+' => end_attribute(&mut current, &mut rdn)?,
            ',' => {
                end_attribute(&mut current, &mut rdn)?;
                rdn.sort();
                rdns.push(std::mem::take(&mut rdn));
            }
            _ => current.push(ch),
        }
    }
    end_attribute(&mut current, &mut rdn)?;
    rdn.sort();
    rdns.push(rdn);
    Some(rdns)
}

/// `type=value` with the value's escapes decoded; spaces around both are not part of
/// them, but an escaped space is.
fn attribute(text: &str) -> Option<Attribute> {
    let (t, v) = text.split_once('=')?;
    let t = t.trim().to_ascii_uppercase();
    if t.is_empty() {
        return None;
    }
    let mut v = v.trim_start();
    while v.ends_with(' ') && !v.ends_with("\\ ") {
        v = &v[..v.len() - 1];
    }
    Some((t, unescape(v)?))
}

/// RFC 4514 2.4: `\` before a special character stands for it, before two hex digits for
/// that byte of the UTF-8 value.
fn unescape(v: &str) -> Option<String> {
    let mut bytes: Vec<u8> = Vec::with_capacity(v.len());
    let mut rest = v.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        let hex = rest
            .get(..2)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(byte) => {
                bytes.push(byte);
                rest = &rest[2..];
            }
            None => {
                let (&next, tail) = rest.split_first()?;
                bytes.push(next);
                rest = tail;
            }
        }
    }
    String::from_utf8(bytes).ok()
}

/// A certificate's subject as its RDNs, in the certificate's order.
fn certificate_dn(name: &X509Name) -> Option<Vec<Rdn>> {
    let registry = x509_parser::objects::oid_registry();
    let mut out = Vec::new();
    for rdn in name.iter_rdn() {
        let mut attributes: Rdn = Vec::new();
        for attr in rdn.iter() {
            let oid = attr.attr_type();
            let t = x509_parser::objects::oid2abbrev(oid, registry)
                .map(str::to_string)
                .unwrap_or_else(|_| oid.to_id_string());
            attributes.push((t.to_ascii_uppercase(), attr.as_str().ok()?.to_string()));
        }
        attributes.sort();
        out.push(attributes);
    }
    Some(out)
}

/// The certificate authorities of `tls_client_auth` clients (`mtls.ca_files`, with
/// `mtls.crl_files`), checked as citizens' certificates are.
pub type ClientCas = authenticators::certificate::TrustedCas;

/// Whether `cert` authenticates a `tls_client_auth` client registered with `name`.
pub fn pki_authenticates(
    cas: Option<&ClientCas>,
    name: Option<&SubjectName>,
    cert: &Certificate,
    now: i64,
) -> bool {
    let (Some(cas), Some(name)) = (cas, name) else {
        return false;
    };
    let Ok((_, parsed)) = X509Certificate::from_der(cert.leaf()) else {
        return false;
    };
    cas.verifies(&cert.chain, now) && name.matches(&parsed)
}

/// Whether `cert` is the first certificate (`x5c[0]`) of a key in the client's JWK set,
/// for `self_signed_tls_client_auth`; its validity dates are checked too.
pub fn self_signed_authenticates(jwks: Option<&str>, cert: &Certificate, now: i64) -> bool {
    let Some(jwks) = jwks else {
        return false;
    };
    let registered = registered_certificates(jwks);
    // A certificate is public: comparing it in constant time would protect nothing.
    let known = registered.iter().any(|der| der == cert.leaf());
    let current = X509Certificate::from_der(cert.leaf()).is_ok_and(|(_, c)| {
        let v = c.validity();
        (v.not_before.timestamp()..=v.not_after.timestamp()).contains(&now)
    });
    known && current
}

/// The first certificate of every key's `x5c` in a JWK set (RFC 7517 4.7: base64 DER).
pub fn registered_certificates(jwks: &str) -> Vec<Vec<u8>> {
    use base64::Engine;
    let Ok(set) = serde_json::from_str::<Value>(jwks) else {
        return Vec::new();
    };
    set.get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|k| k.get("x5c")?.as_array()?.first()?.as_str())
        .filter_map(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .collect()
}

/// At a resource: a token bound to a certificate (`bound`, its `x5t#S256`) is accepted
/// only from a connection that presents that certificate (RFC 8705 3).
pub fn confirm(bound: Option<&str>, presented: Option<&Certificate>) -> OidcResult<()> {
    let Some(thumbprint) = bound else {
        return Ok(());
    };
    match presented {
        Some(c) if crypto::constant_time_eq(&c.thumbprint(), thumbprint) => Ok(()),
        Some(_) => Err(OidcError::new(
            ErrorCode::InvalidToken,
            "the access token is bound to another client certificate",
        )),
        None => Err(OidcError::new(
            ErrorCode::InvalidToken,
            "the access token is bound to a client certificate: present it over mutual TLS",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType,
        ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, RevokedCertParams, SanType,
        SerialNumber, date_time_ymd,
    };

    const NOW: i64 = 1_800_000_000;

    fn ca() -> (Issuer<'static, KeyPair>, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Client CA");
        let cert = params.self_signed(&key).unwrap();
        (Issuer::new(params, key), cert.pem())
    }

    fn client_params() -> CertificateParams {
        let mut p = CertificateParams::new(vec!["client.example".to_string()]).unwrap();
        p.distinguished_name.push(DnType::CountryName, "HU");
        p.distinguished_name
            .push(DnType::OrganizationName, "Ministry, of Tests");
        p.distinguished_name.push(DnType::CommonName, "portal");
        p.subject_alt_names
            .push(SanType::URI("https://portal.example/".try_into().unwrap()));
        p.subject_alt_names
            .push(SanType::IpAddress("192.0.2.7".parse().unwrap()));
        p.subject_alt_names.push(SanType::Rfc822Name(
            "ops@Portal.example".try_into().unwrap(),
        ));
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.not_before = date_time_ymd(2020, 1, 1);
        p.not_after = date_time_ymd(2040, 1, 1);
        p
    }

    fn cert(der: &[u8]) -> Certificate {
        Certificate::new(vec![der.to_vec()]).unwrap()
    }

    #[test]
    fn a_pki_client_needs_the_ca_and_the_registered_name() {
        let (issuer, ca_pem) = ca();
        let cas = ClientCas::new(&[ca_pem.into_bytes()], &[]).unwrap();
        let key = KeyPair::generate().unwrap();
        let issued = cert(client_params().signed_by(&key, &issuer).unwrap().der());
        let name = |n: &str, v: &str| SubjectName::from_metadata(n, v).unwrap();
        // The subject as written in the certificate's order, `,` escaped one way or another.
        let (_, parsed) = X509Certificate::from_der(issued.leaf()).unwrap();
        let rdns: Vec<String> = certificate_dn(parsed.subject())
            .unwrap()
            .into_iter()
            .map(|rdn| format!("{}={}", rdn[0].0, rdn[0].1))
            .collect();
        assert_eq!(rdns.len(), 3, "{rdns:?}");
        let text = |order: &[usize], sep: &str, escape: &str| {
            let parts: Vec<String> = order
                .iter()
                .map(|i| rdns[*i].replace(',', escape))
                .collect();
            parts.join(sep)
        };
        let dn = |t: &str| name("tls_client_auth_subject_dn", t);
        let lower_types = text(&[0, 1, 2], " , ", "\\,")
            .split(" , ")
            .map(|p| {
                let (t, v) = p.split_once('=').unwrap();
                format!("{}={v}", t.to_lowercase())
            })
            .collect::<Vec<_>>()
            .join(" , ");
        for good in [
            dn(&text(&[0, 1, 2], ",", "\\,")),
            dn(&text(&[2, 1, 0], ", ", "\\2C")),
            dn(&lower_types),
            name("tls_client_auth_san_dns", "CLIENT.example"),
            name("tls_client_auth_san_uri", "https://portal.example/"),
            name("tls_client_auth_san_ip", "192.0.2.7"),
            name("tls_client_auth_san_email", "ops@portal.EXAMPLE"),
        ] {
            assert!(
                pki_authenticates(Some(&cas), Some(&good), &issued, NOW),
                "{good:?}"
            );
        }
        let written = text(&[0, 1, 2], ",", "\\,");
        for bad in [
            // Neither the certificate's order nor its reverse; an RDN left out; two RDNs
            // written as one; a value changed.
            dn(&text(&[1, 0, 2], ",", "\\,")),
            dn(&text(&[0, 1], ",", "\\,")),
            dn(&format!(
                "{}+{}",
                text(&[0], ",", "\\,"),
                text(&[1, 2], ",", "\\,")
            )),
            dn(&written.replace("Tests", "Test")),
            name("tls_client_auth_san_dns", "other.example"),
            name("tls_client_auth_san_uri", "https://portal.example/x"),
            name("tls_client_auth_san_ip", "192.0.2.8"),
            name("tls_client_auth_san_email", "OPS@portal.example"),
        ] {
            assert!(
                !pki_authenticates(Some(&cas), Some(&bad), &issued, NOW),
                "{bad:?}"
            );
        }
        let dns = name("tls_client_auth_san_dns", "client.example");
        // Another CA's certificate with the same names; an expired one; no CAs configured.
        let (other, _) = ca();
        let foreign = cert(client_params().signed_by(&key, &other).unwrap().der());
        assert!(!pki_authenticates(Some(&cas), Some(&dns), &foreign, NOW));
        assert!(!pki_authenticates(
            Some(&cas),
            Some(&dns),
            &issued,
            2_300_000_000
        ));
        assert!(!pki_authenticates(None, Some(&dns), &issued, NOW));
    }

    #[test]
    fn a_revoked_certificate_authenticates_no_client() {
        let (issuer, ca_pem) = ca();
        let key = KeyPair::generate().unwrap();
        let mut params = client_params();
        params.serial_number = Some(SerialNumber::from(7u64));
        let revoked = cert(params.signed_by(&key, &issuer).unwrap().der());
        let crl = CertificateRevocationListParams {
            this_update: date_time_ymd(2024, 1, 1),
            next_update: date_time_ymd(2099, 1, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: vec![RevokedCertParams {
                serial_number: SerialNumber::from(7u64),
                revocation_time: date_time_ymd(2024, 1, 1),
                reason_code: None,
                invalidity_date: None,
            }],
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&issuer)
        .unwrap()
        .pem()
        .unwrap();
        let dns = SubjectName::from_metadata("tls_client_auth_san_dns", "client.example").unwrap();
        let without = ClientCas::new(&[ca_pem.clone().into_bytes()], &[]).unwrap();
        assert!(pki_authenticates(Some(&without), Some(&dns), &revoked, NOW));
        let with = ClientCas::new(&[ca_pem.into_bytes()], &[crl.into_bytes()]).unwrap();
        assert!(!pki_authenticates(Some(&with), Some(&dns), &revoked, NOW));
    }

    #[test]
    fn registered_names_are_checked() {
        assert!(SubjectName::from_metadata("tls_client_auth_san_ip", "not an ip").is_none());
        assert!(SubjectName::from_metadata("tls_client_auth_subject_dn", "portal").is_none());
        assert!(SubjectName::from_metadata("tls_client_auth_san_dns", " ").is_none());
        assert!(SubjectName::from_metadata("tls_client_auth_other", "x").is_none());
        let ip = SubjectName::from_metadata("tls_client_auth_san_ip", "2001:DB8::1").unwrap();
        assert_eq!(ip.value(), "2001:db8::1");
        assert_eq!(ip.metadata_name(), "tls_client_auth_san_ip");
        let json = serde_json::to_value(&ip).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"tls_client_auth_san_ip": "2001:db8::1"})
        );
    }

    #[test]
    fn a_self_signed_client_presents_a_registered_certificate() {
        use base64::Engine;
        let key = KeyPair::generate().unwrap();
        let own = client_params().self_signed(&key).unwrap();
        let jwks = serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "x": "x", "y": "y",
            "x5c": [base64::engine::general_purpose::STANDARD.encode(own.der())],
        }]})
        .to_string();
        let presented = cert(own.der());
        assert!(self_signed_authenticates(Some(&jwks), &presented, NOW));
        assert!(!self_signed_authenticates(
            Some(&jwks),
            &presented,
            2_300_000_000
        ));
        assert!(!self_signed_authenticates(None, &presented, NOW));
        let other = client_params()
            .self_signed(&KeyPair::generate().unwrap())
            .unwrap();
        assert!(!self_signed_authenticates(
            Some(&jwks),
            &cert(other.der()),
            NOW
        ));
    }

    #[test]
    fn a_bound_token_needs_its_certificate() {
        let key = KeyPair::generate().unwrap();
        let one = cert(client_params().self_signed(&key).unwrap().der());
        let two = cert(client_params().self_signed(&key).unwrap().der());
        let t = one.thumbprint();
        assert_eq!(t.len(), 43);
        assert!(confirm(None, None).is_ok());
        assert!(confirm(Some(&t), Some(&one)).is_ok());
        assert_eq!(
            confirm(Some(&t), Some(&two)).unwrap_err().code,
            ErrorCode::InvalidToken
        );
        assert_eq!(
            confirm(Some(&t), None).unwrap_err().code,
            ErrorCode::InvalidToken
        );
        assert!(Certificate::new(vec![b"junk".to_vec()]).is_none());
        assert!(Certificate::new(Vec::new()).is_none());
    }
}
