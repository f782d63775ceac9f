//! The provider's running state, shared by every request: configuration, database,
//! signing keys, the factors' verifiers and the notification senders. The library's
//! operations (the login flow, administration) take it; `http` only adds cookies.

use crate::config::Config;
use crate::keys::KeySet;
use crate::keys::kek::Kek;
use crate::oidc::Provider;
use crate::store::Db;
use authenticators::password::PasswordChecker;
use std::sync::{Arc, RwLock};

/// Everything a request handler needs. Shared by all workers.
pub struct Service {
    pub config: Config,
    pub db: Db,
    pub provider: Provider,
    pub kek: Kek,
    keys: RwLock<Arc<KeySet>>,
    pub passwords: PasswordChecker,
    pub notifier: crate::notify::Notifier,
    /// None when the issuer's host is not a domain name (WebAuthn needs one).
    pub webauthn: Option<authenticators::webauthn::WebAuthn>,
    /// Sign-in with X.509 client certificates, when configured.
    pub certificates: Option<authenticators::certificate::Certificates>,
    pub clock: crate::Clock,
    pub(crate) discovery_json: String,
    /// The face networks and the bound on concurrent captures.
    pub biometrics: crate::biometrics::Biometrics,
}

impl Service {
    pub fn new(config: Config, db: Db, kek: Kek) -> Result<Service, String> {
        let now = crate::now();
        let keys = db
            .run(|c| {
                Ok(crate::keys::ensure_active(c, &kek, now)
                    .and_then(|_| KeySet::load(c, &kek, now)))
            })
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let provider = Provider {
            issuer: config.issuer.clone(),
            id_token_ttl: config.id_token_ttl,
            code_ttl: config.code_ttl,
            client_secrets: kek.client_secrets(),
        };
        let scopes = crate::oidc::authorize::scopes_supported(&config.policy);
        let discovery_json = crate::oidc::discovery::metadata(&provider, &scopes).to_string();
        let notifier = crate::notify::Notifier::new(&config.notify)?;
        let webauthn =
            match authenticators::webauthn::WebAuthn::new(&config.issuer, "Identity provider") {
                Ok(w) => Some(w),
                Err(e) => {
                    tracing::warn!(error = %e, "WebAuthn is not available");
                    None
                }
            };
        let certificates = match &config.x509 {
            Some(x) => Some(certificates(x)?),
            None => None,
        };
        Ok(Service {
            config,
            db,
            provider,
            kek,
            keys: RwLock::new(Arc::new(keys)),
            passwords: PasswordChecker::new().map_err(|e| e.to_string())?,
            notifier,
            webauthn,
            certificates,
            clock: crate::Clock::default(),
            discovery_json,
            biometrics: crate::biometrics::Biometrics::default(),
        })
    }

    pub fn keys(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The messages in the development outbox.
    #[cfg(test)]
    pub(crate) fn outbox_for_tests(&self) -> Vec<crate::notify::Message> {
        let Some(dir) = &self.config.notify.outbox_dir else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
            .filter_map(|b| serde_json::from_slice::<crate::notify::Message>(&b).ok())
            .collect()
    }

    /// Re-reads the published keys (another instance or `idp keys rotate` may have changed
    /// them); returns true when they changed.
    pub fn reload_keys(&self) -> Result<bool, String> {
        let now = self.clock.now();
        let fresh = self
            .db
            .run(|c| Ok(KeySet::load(c, &self.kek, now)))
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        if fresh.fingerprint() == self.keys().fingerprint() {
            return Ok(false);
        }
        match self.keys.write() {
            Ok(mut k) => *k = Arc::new(fresh),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(fresh),
        }
        Ok(true)
    }
}

fn certificates(
    x: &crate::config::X509Config,
) -> Result<authenticators::certificate::Certificates, String> {
    let read =
        |p: &std::path::PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let cas = x.ca_files.iter().map(read).collect::<Result<Vec<_>, _>>()?;
    let crls = x
        .crl_files
        .iter()
        .map(read)
        .collect::<Result<Vec<_>, _>>()?;
    let mapping = authenticators::certificate::Mapping::parse(&x.mapping)
        .ok_or_else(|| format!("x509.mapping: unknown rule {}", x.mapping))?;
    authenticators::certificate::Certificates::new(&cas, &crls, mapping).map_err(|e| e.to_string())
}

/// A provider over a fresh SQLite database in a temporary directory, for the library's
/// unit tests (no HTTP), with one account `anna` whose password is `correct horse`.
#[cfg(test)]
pub(crate) fn for_tests() -> (tempfile::TempDir, Service) {
    for_tests_with(|_| {})
}

/// `for_tests` with settings of the test's own.
#[cfg(test)]
pub(crate) fn for_tests_with(
    settings: impl FnOnce(&mut crate::config::FileConfig),
) -> (tempfile::TempDir, Service) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = dir.path().join("idp.sqlite").to_string_lossy().into_owned();
    let mut file = crate::config::FileConfig {
        data_dir: Some(dir.path().to_path_buf()),
        issuer: Some("http://127.0.0.1:8080".into()),
        database_url: Some(url.clone()),
        dev: Some(true),
        ..Default::default()
    };
    settings(&mut file);
    let config = Config::resolve(file).expect("config");
    let db = Db::open(&url, 8).expect("database");
    let svc = Service::new(config, db, Kek::from_bytes(&[7; 32])).expect("service");
    let now = crate::now();
    let user = crate::store::users::User {
        id: "u-anna".into(),
        username: "anna".into(),
        email: Some("anna@example.invalid".into()),
        email_verified: true,
        name: None,
        disabled: false,
        created_at: now,
        updated_at: now,
        phone: None,
    };
    let cred = crate::store::users::Credential {
        id: "c-anna".into(),
        user_id: user.id.clone(),
        kind: crate::store::users::PASSWORD,
        label: None,
        data: authenticators::password::hash("correct horse")
            .expect("hash")
            .into_bytes(),
        created_at: now,
        last_used_at: None,
        counter: None,
    };
    svc.db
        .tx(|c| crate::store::users::insert_with_password(c, &user, &cred))
        .expect("user");
    (dir, svc)
}
