//! The provider's running state, shared by every request: configuration, database,
//! signing keys, the factors' verifiers and the notification senders. The library's
//! operations (the login flow, administration) take it; `http` only adds cookies.

use crate::config::Config;
use crate::keys::KeySet;
use crate::keys::kek::Kek;
use crate::oidc::Provider;
use crate::policy::settings::{Rules, Settings};
use crate::store::Db;
use authenticators::password::PasswordChecker;
use std::sync::{Arc, PoisonError, RwLock};

/// Everything a request handler needs. Shared by all workers.
pub struct Service {
    pub config: Config,
    pub db: Db,
    pub provider: Provider,
    pub kek: Kek,
    keys: RwLock<Arc<KeySet>>,
    pub passwords: PasswordChecker,
    pub notifier: Arc<crate::notify::Notifier>,
    /// None when the issuer's host is not a domain name (WebAuthn needs one).
    pub webauthn: Option<authenticators::webauthn::WebAuthn>,
    /// Sign-in with X.509 client certificates, when configured.
    pub certificates: Option<authenticators::certificate::Certificates>,
    pub clock: crate::Clock,
    /// The policy in force (the configuration's, or the one an administrator stored) and
    /// the discovery document that lists its scopes, with the stored version they came from.
    rules: RwLock<Arc<Active>>,
    /// The face networks and the bound on concurrent captures.
    pub biometrics: crate::biometrics::Biometrics,
    /// Set when the background work (sealing, housekeeping) must stop; held while a round
    /// of it runs, so that stopping waits for the round in progress.
    pub(crate) background: Background,
    /// Revoked JWT access tokens, as last read from the database.
    pub denials: crate::oidc::access_jwt::DenyList,
    /// JWT access tokens whose signature was checked here.
    pub verified: crate::oidc::access_jwt::Verifications,
}

/// The background loops' stop switch.
#[derive(Default)]
pub(crate) struct Background {
    pub(crate) stopping: std::sync::atomic::AtomicBool,
    pub(crate) running: std::sync::Mutex<()>,
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
        let denials = crate::oidc::access_jwt::DenyList::default();
        denials.sync(&db, now).map_err(|e| e.to_string())?;
        let provider = Provider {
            issuer: config.issuer.clone(),
            id_token_ttl: config.id_token_ttl,
            code_ttl: config.code_ttl,
            client_secrets: kek.client_secrets(),
            pairwise: kek.pairwise(),
            require_pushed_requests: config.require_pushed_authorization_requests,
            dpop_nonces: kek.dpop_nonces(),
            client_keys: crate::oidc::client_keys::ClientKeys::new(config.fetch_private_addresses),
            fetch_private_addresses: config.fetch_private_addresses,
            mtls: mtls(&config)?,
        };
        let rules = db
            .run(|c| active_rules(c, &config, &provider))
            .map_err(|e| e.to_string())??;
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
            notifier: Arc::new(notifier),
            webauthn,
            certificates,
            clock: crate::Clock::default(),
            rules: RwLock::new(Arc::new(rules)),
            biometrics: crate::biometrics::Biometrics::default(),
            background: Background::default(),
            denials,
            verified: Default::default(),
        })
    }

    /// Stops the background loops and waits for a round in progress to end (a test's
    /// server before its database goes away).
    pub fn stop_background(&self) {
        self.background
            .stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        drop(self.background.running.lock());
    }

    /// Whether the background work has been told to stop.
    pub(crate) fn stopping(&self) -> bool {
        self.background
            .stopping
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Runs one round of background work, unless stopping.
    pub(crate) fn in_background(&self, work: impl FnOnce()) {
        let _round = self
            .background
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !self.stopping() {
            work();
        }
    }

    /// Whether this instance can serve: the database answers, and the signing keys it
    /// holds can sign (their private parts were opened with the key-encryption key).
    /// `Err` names what is missing.
    pub fn ready(&self) -> Result<(), &'static str> {
        if let Err(e) = self.db.ping() {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            return Err("database");
        }
        let keys = self.keys();
        for alg in crate::keys::Alg::ALL {
            if let Err(e) = keys.sign(alg, &serde_json::Map::new()) {
                tracing::warn!(error = %e, alg = alg.as_str(), "readiness: no usable signing key");
                return Err("keys");
            }
        }
        Ok(())
    }

    /// The policy in force.
    pub fn rules(&self) -> Arc<Rules> {
        self.active().rules.clone()
    }

    /// The discovery document, for the policy in force.
    pub fn discovery_json(&self) -> Arc<String> {
        self.active().discovery_json.clone()
    }

    fn active(&self) -> Arc<Active> {
        self.rules
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Picks up a policy stored by an administrator (here or on another instance);
    /// returns true when it changed.
    pub fn reload_rules(&self) -> Result<bool, String> {
        let stored = self
            .db
            .run(|c| crate::store::settings::version(c, POLICY))
            .map_err(|e| e.to_string())?;
        if stored == self.active().version {
            return Ok(false);
        }
        let fresh = self
            .db
            .run(|c| active_rules(c, &self.config, &self.provider))
            .map_err(|e| e.to_string())??;
        *self.rules.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
        Ok(true)
    }

    /// Checks bearer access tokens of both formats.
    pub fn bearer(&self) -> crate::oidc::bearer::Checker<'_> {
        crate::oidc::bearer::Checker {
            db: &self.db,
            keys: self.keys(),
            denials: &self.denials,
            verified: &self.verified,
            issuer: &self.provider.issuer,
        }
    }

    pub fn keys(&self) -> Arc<KeySet> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
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

    /// Follows a key rotation or retirement made elsewhere (another instance, `idp keys
    /// rotate`): compares which keys are published, without reading their material, and
    /// reloads them only when that changed. Run every second.
    pub fn follow_keys(&self) -> Result<bool, String> {
        let now = self.clock.now();
        let stored = self
            .db
            .run(|c| crate::keys::published_fingerprint(c, now))
            .map_err(|e| e.to_string())?;
        if stored == self.keys().fingerprint() {
            return Ok(false);
        }
        self.reload_keys()
    }

    /// Deletes the rows that can no longer be used (`store::purge_expired`); how many.
    pub fn purge_expired(&self) -> crate::store::StoreResult<usize> {
        let now = self.clock.now();
        self.db.run(|c| crate::store::purge_expired(c, now))
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
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
        self.verified.forget();
        Ok(true)
    }
}

/// The policy in force as stored (or configured), for the command line.
pub fn stored_rules(db: &Db, config: &Config) -> Result<Arc<Rules>, String> {
    let provider = Provider {
        issuer: config.issuer.clone(),
        id_token_ttl: config.id_token_ttl,
        code_ttl: config.code_ttl,
        client_secrets: crate::keys::kek::Kek::from_bytes(&[0; 32]).client_secrets(),
        pairwise: crate::keys::kek::Kek::from_bytes(&[0; 32]).pairwise(),
        require_pushed_requests: config.require_pushed_authorization_requests,
        dpop_nonces: crate::keys::kek::Kek::from_bytes(&[0; 32]).dpop_nonces(),
        client_keys: Default::default(),
        fetch_private_addresses: config.fetch_private_addresses,
        // The command line reads the rules only, not the discovery document.
        mtls: None,
    };
    let active = db
        .run(|c| active_rules(c, config, &provider))
        .map_err(|e| e.to_string())??;
    Ok(active.rules)
}

/// The name the policy is stored under.
pub const POLICY: &str = "policy";

/// The policy in force and what depends on it.
struct Active {
    rules: Arc<Rules>,
    discovery_json: Arc<String>,
    /// The stored version it came from; none: the configuration file's.
    version: Option<i64>,
}

/// The stored policy if an administrator stored one, else the configuration's.
fn active_rules(
    c: &mut crate::store::AnyConnection,
    config: &Config,
    provider: &Provider,
) -> crate::store::StoreResult<Result<Active, String>> {
    let stored = crate::store::settings::get(c, POLICY)?;
    let settings = match &stored {
        Some((json, _)) => match serde_json::from_str::<Settings>(json) {
            Ok(s) => s,
            Err(e) => return Ok(Err(format!("the stored policy cannot be read: {e}"))),
        },
        None => Settings::from_config(&config.policy, config.session_idle, config.session_max),
    };
    let rules = match settings.compile() {
        Ok(r) => r,
        Err(e) => return Ok(Err(format!("policy: {}: {}", e.field, e.reason))),
    };
    let scopes = crate::oidc::authorize::scopes_supported(&rules.policy);
    let discovery_json = crate::oidc::discovery::metadata(provider, &scopes).to_string();
    Ok(Ok(Active {
        rules: Arc::new(rules),
        discovery_json: Arc::new(discovery_json),
        version: stored.map(|(_, v)| v),
    }))
}

fn mtls(config: &Config) -> Result<Option<crate::oidc::Mtls>, String> {
    let Some(m) = &config.mtls else {
        return Ok(None);
    };
    let read = |files: &[std::path::PathBuf]| {
        files
            .iter()
            .map(|p| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display())))
            .collect::<Result<Vec<_>, _>>()
    };
    let cas = read(&m.ca_files)?;
    let client_cas = match cas.is_empty() {
        true => None,
        false => Some(
            crate::oidc::mtls::ClientCas::new(&cas, &read(&m.crl_files)?)
                .map_err(|e| format!("mtls: {e}"))?,
        ),
    };
    Ok(Some(crate::oidc::Mtls {
        alias_base: m.url.clone(),
        client_cas,
    }))
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
/// unit tests (no HTTP) and its fuzzing, with one account `anna` whose password is
/// `correct horse`.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn for_tests() -> (tempfile::TempDir, Service) {
    for_tests_with(|_| {})
}

/// `for_tests` with settings of the test's own.
#[cfg(any(test, feature = "fuzzing"))]
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
        phone_verified: false,
        address: None,
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
