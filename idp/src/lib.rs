//! An OpenID Connect provider for government services.
//!
//! Layout: `oidc` is the protocol without HTTP, `login` the decision of what a request
//! needs from the citizen, `policy` the assurance levels, `store` the database, `keys`
//! the signing keys and encryption at rest, `admin` the administration that the CLI and
//! the Admin API share, `http` the actix-web handlers, `cli` the `idp` command.

pub mod admin;
pub mod audit;
pub mod biometrics;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod enrollment;
pub mod files;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod http;
pub mod i18n;
pub mod keys;
pub mod login;
pub mod metrics;
pub mod notify;
pub mod oidc;
pub mod policy;
pub mod privacy;
pub mod resource;
pub mod service;
pub mod store;
pub mod theme;

/// The current time as Unix seconds. Only the CLI and `Clock` call this; every function
/// below the HTTP layer takes the time as an argument.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The server's clock: system time plus an offset that tests move forward to expire
/// codes, tokens and sessions without sleeping.
#[derive(Debug, Default)]
pub struct Clock {
    offset: std::sync::atomic::AtomicI64,
}

impl Clock {
    pub fn now(&self) -> i64 {
        now() + self.offset.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn advance(&self, seconds: i64) {
        self.offset
            .fetch_add(seconds, std::sync::atomic::Ordering::Relaxed);
    }
}
