//! A client's public keys: registered with it (`jwks`) or published at its `jwks_uri`
//! (RFC 7591 2, OIDC Dynamic Registration 2), fetched (under the rules of `oidc::fetch`)
//! and kept here for a while. A client that rotates its keys is honoured at once: a
//! signature no cached key verifies makes the provider fetch the set again (at most once
//! per `MIN_REFETCH` per URI).

use crate::store::clients::Client;
use josekit::jwk::JwkSet;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// A fetched set is used for this long before it is fetched again.
pub const MAX_AGE: i64 = 300;
/// The shortest time between two fetches of one URI.
pub const MIN_REFETCH: i64 = 30;
/// A set that cannot be fetched again is still used for this long after its last fetch.
pub const MAX_STALE: i64 = 24 * 3600;

/// The keys of clients that publish them at a URI, shared by every request of this
/// instance (each instance fetches for itself).
#[derive(Clone, Default)]
pub struct ClientKeys {
    cache: Arc<Mutex<HashMap<String, Fetched>>>,
    /// Whether loopback and private addresses, and plain http, may be fetched.
    private_addresses: bool,
}

impl std::fmt::Debug for ClientKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKeys")
            .field("private_addresses", &self.private_addresses)
            .finish_non_exhaustive()
    }
}

/// A URI's keys as `ClientKeys::current` found them.
enum Keys {
    /// Fetched just now.
    Fetched(String),
    /// Those held from before (none when there are none, or only stale ones).
    Held(Option<String>),
}

#[derive(Clone)]
struct Fetched {
    /// The JWK set's text.
    keys: String,
    fetched_at: i64,
    /// The last attempt, successful or not.
    tried_at: i64,
}

impl ClientKeys {
    pub fn new(private_addresses: bool) -> ClientKeys {
        ClientKeys {
            cache: Arc::default(),
            private_addresses,
        }
    }

    /// The client with its keys in `jwks` when it publishes them at a URI (fetched when
    /// not cached or older than `MAX_AGE`); `jwks` stays empty when they cannot be had.
    pub fn filled(&self, mut client: Client, now: i64) -> Client {
        if let Some(uri) = &client.jwks_uri {
            client.jwks = match self.current(uri, now, MAX_AGE) {
                Keys::Fetched(keys) => Some(keys),
                Keys::Held(keys) => keys,
            };
        }
        client
    }

    /// Verifies a JWS with one of the client's keys (`verify`); when none does and the
    /// keys come from a URI, fetches them again (the client may have rotated them) and
    /// tries once more.
    pub fn verify(
        &self,
        client: &Client,
        jws: &str,
        now: i64,
        verify: impl Fn(&str, &JwkSet) -> Option<Map<String, Value>>,
    ) -> Option<Map<String, Value>> {
        let with = |text: Option<String>| {
            let set = JwkSet::from_bytes(text?.as_bytes()).ok()?;
            verify(jws, &set)
        };
        let Some(uri) = &client.jwks_uri else {
            return with(client.jwks.clone());
        };
        match self.current(uri, now, MAX_AGE) {
            Keys::Fetched(keys) => with(Some(keys)),
            Keys::Held(keys) => with(keys).or_else(|| match self.current(uri, now, 0) {
                Keys::Fetched(keys) => with(Some(keys)),
                // The same keys again: they verified nothing the first time.
                Keys::Held(_) => None,
            }),
        }
    }

    /// The set at `uri`, fetched again when the cached one is older than `max_age` and
    /// the last attempt older than `MIN_REFETCH`; a failed fetch keeps the cached set
    /// until `MAX_STALE`.
    fn current(&self, uri: &str, now: i64, max_age: i64) -> Keys {
        let (due, cached) = {
            let mut cache = self.lock();
            let entry = cache.get_mut(uri);
            let due = entry.as_ref().is_none_or(|c| {
                now - c.fetched_at >= max_age.max(1) && now - c.tried_at >= MIN_REFETCH
            });
            let cached = entry.as_ref().map(|c| (*c).clone());
            // Claimed: requests meanwhile use the set held, rather than fetch it too.
            if due && let Some(c) = entry {
                c.tried_at = now;
            }
            (due, cached.filter(|c| now - c.fetched_at < MAX_STALE))
        };
        let held = || Keys::Held(cached.clone().map(|c| c.keys));
        if !due {
            return held();
        }
        match fetch(uri, self.private_addresses) {
            Ok(keys) => {
                let entry = Fetched {
                    keys: keys.clone(),
                    fetched_at: now,
                    tried_at: now,
                };
                self.lock().insert(uri.to_string(), entry);
                Keys::Fetched(keys)
            }
            Err(e) => {
                tracing::warn!(uri, error = %e, "a client's jwks_uri could not be fetched");
                // Remembered as tried, so that failures are not retried at once.
                let never = Fetched {
                    keys: String::new(),
                    fetched_at: i64::MIN / 2,
                    tried_at: now,
                };
                self.lock().entry(uri.to_string()).or_insert(never);
                held()
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Fetched>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A JWK set of public keys only, with at least one key.
pub fn public_key_set(text: &str) -> Result<JwkSet, String> {
    let set = JwkSet::from_bytes(text.as_bytes()).map_err(|e| format!("not a JWK set: {e}"))?;
    if set.keys().is_empty() {
        return Err("the JWK set has no key".into());
    }
    // Private parts: "d" (EC, RSA, OKP), the RSA primes, "k" (symmetric keys).
    let private = ["d", "p", "q", "dp", "dq", "qi", "k"];
    if set
        .keys()
        .iter()
        .any(|k| private.iter().any(|p| k.parameter(p).is_some()))
    {
        return Err(
            "the JWK set holds a private or symmetric key; publish only public keys".into(),
        );
    }
    Ok(set)
}

/// The JWK set at `uri`, when it is one of public keys.
fn fetch(uri: &str, private_addresses: bool) -> Result<String, String> {
    let text = super::fetch::fetch(uri, private_addresses)?;
    public_key_set(&text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_keys_are_refused() {
        let pair = josekit::jws::ES256.generate_key_pair().unwrap();
        let public = josekit::jwk::KeyPair::to_jwk_public_key(&pair);
        let private = josekit::jwk::KeyPair::to_jwk_private_key(&pair);
        assert!(public_key_set(&format!("{{\"keys\":[{public}]}}")).is_ok());
        assert!(public_key_set(&format!("{{\"keys\":[{private}]}}")).is_err());
        assert!(public_key_set("{\"keys\":[]}").is_err());
    }
}
