//! Server settings, from (highest first) command-line flags, `IDP_*` environment
//! variables, a TOML file, and defaults.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Settings as they may appear in the TOML file; every field is optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub issuer: Option<String>,
    pub database_url: Option<String>,
    pub kek_file: Option<PathBuf>,
    /// A second key-encryption key, which opens what it sealed but seals nothing: the next
    /// key or the previous one during a rotation (`keys::rotation`).
    pub extra_kek_file: Option<PathBuf>,
    /// The key-encryption key in a hardware security module instead of `kek_file`.
    pub pkcs11: Option<Pkcs11Config>,
    pub dev: Option<bool>,
    pub session_idle_seconds: Option<i64>,
    pub session_max_seconds: Option<i64>,
    pub id_token_ttl_seconds: Option<i64>,
    pub workers: Option<usize>,
    pub db_pool_size: Option<u32>,
    /// Seconds a request waits for a database connection before it is answered 503.
    pub db_pool_wait_seconds: Option<u64>,
    /// Clients' `jwks_uri` may be plain http and name loopback or private addresses:
    /// for development and tests only [default: false].
    pub fetch_private_addresses: Option<bool>,
    pub policy: Option<crate::policy::PolicyConfig>,
    pub notify: Option<crate::notify::NotifyConfig>,
    /// Reverse proxies whose `X-Forwarded-For` names the client, and which may forward a
    /// client certificate.
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Credential checks (passwords, codes, keys, certificates) allowed per client
    /// address and minute.
    pub attempts_per_minute: Option<i32>,
    pub tls: Option<TlsConfig>,
    pub x509: Option<X509Config>,
    /// Mutual-TLS client authentication and certificate-bound tokens (RFC 8705).
    pub mtls: Option<MtlsConfig>,
    pub biometrics: Option<BiometricsConfig>,
    /// A signed checkpoint of the audit chain at most this often (seconds) while events
    /// come in.
    pub audit_checkpoint_seconds: Option<i64>,
    /// Every client must push its authorization requests (RFC 9126) [default: false].
    pub require_pushed_authorization_requests: Option<bool>,
    /// The operator's name, logo, colour and links on the citizen's pages.
    pub theme: Option<crate::theme::ThemeConfig>,
}

/// The key-encryption key in a hardware security module, through PKCS#11 (`keys::hsm`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pkcs11Config {
    /// The module (a shared library), e.g. /usr/lib/softhsm/libsofthsm2.so.
    pub module: PathBuf,
    /// The label of the token that holds the key.
    pub token: String,
    /// The label of the key's objects [default: idp-kek].
    #[serde(default = "default_pkcs11_key")]
    pub key: String,
    /// A file (owner-only) holding the user PIN; or the environment variable
    /// IDP_PKCS11_PIN, which wins.
    pub pin_file: Option<PathBuf>,
}

fn default_pkcs11_key() -> String {
    "idp-kek".into()
}

impl Pkcs11Config {
    /// The module's settings with the PIN read now.
    pub fn resolve(&self) -> Result<crate::keys::hsm::HsmConfig, String> {
        let pin = match (std::env::var("IDP_PKCS11_PIN"), &self.pin_file) {
            (Ok(pin), _) => pin,
            (Err(_), Some(path)) => {
                let meta = std::fs::metadata(path)
                    .map_err(|e| format!("pkcs11 pin_file {}: {e}", path.display()))?;
                if crate::files::readable_by_others(&meta) {
                    return Err(format!(
                        "pkcs11 pin_file {}: accessible to group or others; chmod 600 it",
                        path.display()
                    ));
                }
                std::fs::read_to_string(path)
                    .map_err(|e| format!("pkcs11 pin_file {}: {e}", path.display()))?
                    .trim()
                    .to_string()
            }
            (Err(_), None) => {
                return Err(
                    "pkcs11: give pin_file or the environment variable IDP_PKCS11_PIN".into(),
                );
            }
        };
        Ok(crate::keys::hsm::HsmConfig {
            module: self.module.clone(),
            token: self.token.clone(),
            pin,
            key: self.key.clone(),
        })
    }
}

/// Biometric sign-in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BiometricsConfig {
    /// "Sign in with your face" without a username: 1:N identification over the templates
    /// of the citizens who enrolled (and so consented). Off unless a deployment turns it on.
    #[serde(default)]
    pub identify: bool,
    /// The best candidate must score at least this much more than the second best.
    #[serde(default = "default_identify_margin")]
    pub identify_margin: f32,
    /// How a citizen's face becomes a sign-in factor.
    #[serde(default)]
    pub enrolment: Enrolment,
    /// Biometric enrolment of citizens younger than this (by the birth date on their
    /// document) needs a guardian's recorded consent.
    #[serde(default = "default_adult_age")]
    pub adult_age: u32,
}

/// How a citizen's face becomes a sign-in factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Enrolment {
    /// A registration with an identity document, approved by a clerk (online, or in
    /// person at a service centre).
    #[default]
    Registration,
    /// On the account page, after a fresh step-up, without a document or a clerk: the
    /// face is then a convenience factor of an account proven otherwise.
    #[serde(rename = "self")]
    SelfService,
}

fn default_adult_age() -> u32 {
    18
}

fn default_identify_margin() -> f32 {
    0.03
}

impl Default for BiometricsConfig {
    fn default() -> Self {
        BiometricsConfig {
            identify: false,
            identify_margin: default_identify_margin(),
            enrolment: Enrolment::default(),
            adult_age: default_adult_age(),
        }
    }
}

/// TLS terminated by `idp` itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM: the server certificate chain.
    pub cert_file: PathBuf,
    /// PEM: its private key.
    pub key_file: PathBuf,
    /// Refuse TLS 1.2.
    #[serde(default)]
    pub tls13_only: bool,
}

/// Sign-in with X.509 client certificates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct X509Config {
    /// PEM files of the CAs client certificates must chain to.
    pub ca_files: Vec<PathBuf>,
    /// PEM files of certificate revocation lists.
    #[serde(default)]
    pub crl_files: Vec<PathBuf>,
    /// `subject-cn`, `subject-serial-number` (both matched to the username) or
    /// `san-email` (matched to the account's e-mail address).
    pub mapping: String,
    /// Header in which a trusted proxy forwards the URL-encoded PEM client certificate
    /// (nginx: `$ssl_client_escaped_cert`).
    #[serde(default = "default_proxy_header")]
    pub proxy_header: String,
}

/// Mutual-TLS client authentication and certificate-bound access tokens (RFC 8705).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MtlsConfig {
    /// A second TLS listener that asks every client for a certificate; it serves the same
    /// endpoints, at `url`. Either this or `proxy_header`.
    pub listen: Option<SocketAddr>,
    /// PEM: that listener's certificate chain and key, for the host name of `url`
    /// [default: those of `[tls]`].
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// The public https URL of the endpoints where clients present certificates, published
    /// as `mtls_endpoint_aliases` (RFC 8705 5) [default: none, the issuer's endpoints].
    pub url: Option<String>,
    /// PEM files of the CAs whose certificates `tls_client_auth` clients present (RFC
    /// 8705 2.1) [default: none: only `self_signed_tls_client_auth`].
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
    /// PEM files of those CAs' certificate revocation lists.
    #[serde(default)]
    pub crl_files: Vec<PathBuf>,
    /// Or: the header in which a trusted reverse proxy that terminates TLS forwards the
    /// client's certificate (URL-encoded PEM). The proxy must set or remove it on every
    /// request; it is read only from `trusted_proxies`, over plain HTTP.
    pub proxy_header: Option<String>,
}

impl MtlsConfig {
    /// The `[mtls]` listener's server certificate: its own, or `[tls]`'s.
    pub fn server_tls(&self, tls: Option<&TlsConfig>) -> Option<TlsConfig> {
        match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => Some(TlsConfig {
                cert_file: cert.clone(),
                key_file: key.clone(),
                tls13_only: tls.is_some_and(|t| t.tls13_only),
            }),
            (None, None) => tls.cloned(),
            _ => None,
        }
    }
}

fn default_proxy_header() -> String {
    "x-client-cert".into()
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Without a trailing slash.
    pub issuer: String,
    pub database_url: String,
    pub kek_file: PathBuf,
    /// A second key-encryption key during a rotation (`keys::rotation`).
    pub extra_kek_file: Option<PathBuf>,
    /// Where the key-encryption key is when it is not in `kek_file`.
    pub pkcs11: Option<Pkcs11Config>,
    pub dev: bool,
    pub session_idle: i64,
    pub session_max: i64,
    pub id_token_ttl: i64,
    pub code_ttl: i64,
    pub login_ttl: i64,
    pub workers: Option<usize>,
    pub db_pool_size: u32,
    pub db_pool_wait: std::time::Duration,
    pub policy: crate::policy::Policy,
    pub notify: crate::notify::NotifyConfig,
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub attempts_per_minute: i32,
    pub tls: Option<TlsConfig>,
    pub x509: Option<X509Config>,
    pub mtls: Option<MtlsConfig>,
    pub biometrics: BiometricsConfig,
    pub audit_checkpoint_seconds: i64,
    pub require_pushed_authorization_requests: bool,
    pub theme: crate::theme::Theme,
    /// See `FileConfig::fetch_private_addresses`.
    pub fetch_private_addresses: bool,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

impl Config {
    /// Fills defaults: database and key file in the data directory, issuer from the
    /// listen address (plain HTTP only makes sense in development).
    pub fn resolve(f: FileConfig) -> Result<Config, String> {
        let data_dir = f.data_dir.unwrap_or_else(|| PathBuf::from("data"));
        let listen = match f.listen {
            Some(l) => l,
            None => DEFAULT_LISTEN.parse().map_err(|e| format!("{e}"))?,
        };
        let dev = f.dev.unwrap_or(false);
        // In development on a loopback address the issuer is named `localhost`: WebAuthn
        // needs a domain name, and browsers treat localhost as a secure context.
        let issuer = f
            .issuer
            .unwrap_or_else(|| match listen.ip().is_loopback() {
                true => format!("http://localhost:{}", listen.port()),
                false => format!("http://{listen}"),
            })
            .trim_end_matches('/')
            .to_string();
        let url = url::Url::parse(&issuer).map_err(|e| format!("issuer {issuer}: {e}"))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err("the issuer may not have a query or fragment".into());
        }
        if let Some(x) = &f.x509
            && authenticators::certificate::Mapping::parse(&x.mapping).is_none()
        {
            return Err(format!("x509.mapping: unknown rule {}", x.mapping));
        }
        if let Some(m) = &f.mtls {
            match (m.listen, &m.proxy_header, &m.url) {
                (None, None, _) => {
                    return Err(
                        "[mtls] needs listen (a listener of its own) or proxy_header".into(),
                    );
                }
                (Some(_), Some(_), _) => {
                    return Err(
                        "[mtls]: listen or proxy_header, not both (certificates come one way)"
                            .into(),
                    );
                }
                (Some(_), None, None) => {
                    return Err(
                        "mtls.listen needs mtls.url, published as mtls_endpoint_aliases".into(),
                    );
                }
                _ => {}
            }
            if m.listen.is_some() && m.server_tls(f.tls.as_ref()).is_none() {
                return Err(
                    "mtls.listen needs a server certificate: mtls.cert_file and mtls.key_file, or [tls]"
                        .into(),
                );
            }
            if let Some(u) = &m.url {
                let parsed = url::Url::parse(u).map_err(|e| format!("mtls.url {u}: {e}"))?;
                if parsed.scheme() != "https" && !(dev && is_loopback_url(&parsed)) {
                    return Err(format!("mtls.url must be an https URL: {u}"));
                }
            }
        }
        if url.scheme() != "https" && !(dev && is_loopback_url(&url)) {
            return Err(format!(
                "the issuer must be an https URL (plain http is only allowed with --dev on a loopback address): {issuer}"
            ));
        }
        let database_url = f
            .database_url
            .unwrap_or_else(|| data_dir.join("idp.sqlite").to_string_lossy().into_owned());
        let kek_file = f.kek_file.unwrap_or_else(|| data_dir.join("kek.key"));
        let policy = crate::policy::Policy::from_config(&f.policy.unwrap_or_default())
            .map_err(|e| format!("policy: {e}"))?;
        let mut notify = f.notify.unwrap_or_default();
        if dev && notify.outbox_dir.is_none() {
            notify.outbox_dir = Some(data_dir.join("outbox"));
        }
        Ok(Config {
            data_dir,
            listen,
            issuer,
            database_url,
            kek_file,
            extra_kek_file: f.extra_kek_file.clone(),
            pkcs11: f.pkcs11.clone(),
            dev,
            session_idle: f.session_idle_seconds.unwrap_or(15 * 60),
            session_max: f.session_max_seconds.unwrap_or(12 * 3600),
            id_token_ttl: f.id_token_ttl_seconds.unwrap_or(600),
            code_ttl: 60,
            login_ttl: 30 * 60,
            workers: f.workers,
            db_pool_size: f.db_pool_size.unwrap_or(16),
            db_pool_wait: f
                .db_pool_wait_seconds
                .map_or(crate::store::DEFAULT_POOL_WAIT, |s| {
                    std::time::Duration::from_secs(s.clamp(1, 600))
                }),
            policy,
            notify,
            trusted_proxies: f.trusted_proxies,
            attempts_per_minute: f.attempts_per_minute.unwrap_or(30).max(1),
            tls: f.tls,
            x509: f.x509,
            mtls: f.mtls.map(|mut m| {
                m.url = m.url.map(|u| u.trim_end_matches('/').to_string());
                m
            }),
            biometrics: f.biometrics.unwrap_or_default(),
            audit_checkpoint_seconds: f.audit_checkpoint_seconds.unwrap_or(10).max(0),
            require_pushed_authorization_requests: f
                .require_pushed_authorization_requests
                .unwrap_or(false),
            theme: crate::theme::Theme::from_config(f.theme.unwrap_or_default())?,
            fetch_private_addresses: f.fetch_private_addresses.unwrap_or(false),
        })
    }

    /// Cookies go without `Secure` (and so without the `__Host-` prefix) only in
    /// development on a loopback address.
    pub fn secure_cookies(&self) -> bool {
        !(self.dev && self.listen.ip().is_loopback() && self.issuer.starts_with("http://"))
    }
}

fn is_loopback_url(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_issuer_only_in_dev_on_loopback() {
        let f = FileConfig::default();
        assert!(Config::resolve(f.clone()).is_err());
        let dev = FileConfig {
            dev: Some(true),
            ..f.clone()
        };
        let c = Config::resolve(dev).unwrap();
        assert_eq!(c.issuer, "http://localhost:8080");
        assert!(!c.secure_cookies());
        let https = FileConfig {
            issuer: Some("https://id.example.gov/".into()),
            ..f
        };
        let c = Config::resolve(https).unwrap();
        assert_eq!(c.issuer, "https://id.example.gov");
        assert!(c.secure_cookies());
        assert!(c.database_url.ends_with("idp.sqlite"));
    }

    #[test]
    fn mutual_tls_comes_one_way_with_what_it_needs() {
        let with = |toml: &str| {
            let f: FileConfig =
                toml::from_str(&format!("issuer = \"https://id.example.gov\"\n{toml}")).unwrap();
            Config::resolve(f).err()
        };
        let tls = "[tls]\ncert_file = \"s.pem\"\nkey_file = \"s.key\"\n";
        let refused = [
            ("[mtls]\n", "or proxy_header"),
            (
                "[mtls]\nlisten = \"127.0.0.1:8443\"\nurl = \"https://m.example.gov\"\nproxy_header = \"x-c\"\n",
                "not both",
            ),
            ("[mtls]\nlisten = \"127.0.0.1:8443\"\n", "mtls.url"),
            (
                "[mtls]\nlisten = \"127.0.0.1:8443\"\nurl = \"https://m.example.gov\"\n",
                "server certificate",
            ),
            (
                "[mtls]\nproxy_header = \"x-c\"\nurl = \"http://m.example.gov\"\n",
                "https",
            ),
        ];
        for (toml, why) in refused {
            let e = with(toml).unwrap_or_else(|| panic!("accepted: {toml}"));
            assert!(e.contains(why), "{toml}: {e}");
        }
        assert_eq!(with("[mtls]\nproxy_header = \"x-c\"\n"), None);
        let listener =
            format!("[mtls]\nlisten = \"127.0.0.1:8443\"\nurl = \"https://m.example.gov\"\n{tls}");
        // [tls] after [mtls] would be read as part of it: the tables in order.
        let listener = format!("{tls}{}", listener.replace(tls, ""));
        assert_eq!(with(&listener), None);
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("idp.toml");
        std::fs::write(&p, "listen = \"127.0.0.1:9000\"\nbogus = 1\n").unwrap();
        assert!(FileConfig::load(&p).is_err());
        std::fs::write(
            &p,
            "listen = \"127.0.0.1:9000\"\ndev = true\n[policy]\nsubstantial = [[\"password\", \"totp\"]]\n[policy.scopes]\npayments = \"high\"\n",
        )
        .unwrap();
        let c = Config::resolve(FileConfig::load(&p).unwrap()).unwrap();
        assert_eq!(c.listen.port(), 9000);
    }
}
