//! Access tokens as signed JWTs (RFC 9068), for the clients registered with the `jwt`
//! access-token format. Issuing one writes nothing, and checking one (introspection,
//! UserInfo, the Admin API) reads nothing: the signature, the issuer, the expiry and the
//! deny list in memory decide. Revoking one (the token itself, its grant, its client)
//! records a denial in the database (`store::denials`) in the same transaction as the
//! revocation; every instance reads the denials recorded since its last look once a
//! second (`DenyList::sync`), so a revoked JWT stops working everywhere within about a
//! second. Clients that need revocation to act at the same instant keep opaque tokens.
//!
//! Claims (RFC 9068 2.2): `iss`, `exp`, `iat`, `jti`, `client_id`, `aud` (the client,
//! as introspection answers for opaque tokens), `sub` (the person as the client sees
//! them, `oidc::subject`, or the client itself for `client_credentials`), `scope`; for a person also `auth_time`, `acr`, `amr`, `sid`
//! and `grant_id`, which names the grant so that revoking it denies the token. Signed
//! with the provider's active ES256 key, header `typ` `at+jwt`.

use crate::crypto;
use crate::keys::{Alg, KeyError, KeySet};
use crate::store::clients::Client;
use crate::store::denials::{self, Denied};
use crate::store::tokens::Grant;
use crate::store::{Db, StoreResult};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

/// The JOSE `typ` of these tokens (RFC 9068 2.1).
pub const TYP: &str = "at+jwt";

/// Most verified tokens remembered (`Verifications`); beyond that the memory starts over.
const REMEMBERED: usize = 4096;

/// How far back each look at the denials reaches before the previous one: a denial is
/// stamped with the time its transaction began and may be committed a little later, and
/// instances' clocks may differ a little.
const SYNC_OVERLAP: i64 = 30;

/// Whether a bearer token is a JWT rather than an opaque reference (which has no dots).
pub fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

/// Signs an access token for `client` under `grant` (a person's grant; for
/// `client_credentials` a grant that is never stored, with no user).
pub fn issue(
    keys: &KeySet,
    issuer: &str,
    client: &Client,
    grant: &Grant,
    scope: &str,
    now: i64,
) -> Result<String, KeyError> {
    let mut c = Map::new();
    c.insert("iss".into(), issuer.into());
    c.insert("exp".into(), (now + client.access_token_ttl).into());
    c.insert("iat".into(), now.into());
    c.insert("jti".into(), crypto::random_id().into());
    c.insert("client_id".into(), client.id.clone().into());
    c.insert("aud".into(), client.id.clone().into());
    c.insert("scope".into(), scope.into());
    // Bound to the client's DPoP key (RFC 9449 6.1) or TLS certificate (RFC 8705 3.1).
    if let Some(cnf) = super::bearer::confirmation(grant.jkt.as_deref(), grant.x5t.as_deref()) {
        c.insert("cnf".into(), cnf);
    }
    match &grant.user_id {
        Some(user) => {
            c.insert("sub".into(), grant.subject().unwrap_or(user).into());
            c.insert("grant_id".into(), grant.id.clone().into());
            super::tokens::authentication_claims(&mut c, grant);
        }
        None => {
            c.insert("sub".into(), client.id.clone().into());
        }
    }
    keys.sign_typed(Alg::Es256, TYP, &c)
}

/// A verified access JWT's claims, with what the checks need read out.
#[derive(Debug, Clone)]
pub struct Verified {
    pub claims: Map<String, Value>,
    pub jti: String,
    pub client_id: String,
    pub grant_id: Option<String>,
    pub exp: i64,
}

/// The token's claims when it is one of ours: signed by a published key as `at+jwt`, by
/// this issuer, with the claims every such token has. Expiry and denials are not checked
/// here (`DenyList::admits` does both).
pub fn verify(keys: &KeySet, issuer: &str, token: &str) -> Option<Verified> {
    let claims = keys.verify_typed(token, Some(TYP))?;
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return None;
    }
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
    Some(Verified {
        jti: text("jti")?,
        client_id: text("client_id")?,
        grant_id: text("grant_id"),
        exp: claims.get("exp").and_then(Value::as_i64)?,
        claims,
    })
}

/// Access JWTs whose signature this instance has checked, by the SHA-256 of the token: a
/// resource server that introspects the same token again (on each call of its API) costs a
/// hash and a look-up instead of an ECDSA verification (about 0.8 M instructions, two
/// thirds of an introspection). Expiry and denials are still checked on every use, and the
/// memory is forgotten when the signing keys change (a key withdrawn takes its tokens with
/// it), or when it is full.
#[derive(Debug, Default)]
pub struct Verifications {
    known: RwLock<HashMap<[u8; 32], std::sync::Arc<Verified>>>,
}

impl Verifications {
    /// `verify`, answered from memory for a token verified before.
    pub fn verify(
        &self,
        keys: &KeySet,
        issuer: &str,
        token: &str,
    ) -> Option<std::sync::Arc<Verified>> {
        let id = crypto::sha256(token.as_bytes());
        if let Some(v) = self
            .known
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
        {
            return Some(v.clone());
        }
        let v = std::sync::Arc::new(verify(keys, issuer, token)?);
        let mut known = self.known.write().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= REMEMBERED {
            known.clear();
        }
        known.insert(id, v.clone());
        Some(v)
    }

    /// Forgets every verified token (the signing keys changed).
    pub fn forget(&self) {
        self.known
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// Records that `token` (verified) is revoked, in the caller's transaction.
pub fn deny(conn: &mut crate::store::AnyConnection, token: &Verified, now: i64) -> StoreResult<()> {
    denials::insert(conn, Denied::Token(&token.jti), token.exp, now)
}

/// The denials in force, as this instance last read them from the database.
#[derive(Debug, Default)]
pub struct DenyList {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Denial key (`Denied::key`) to the time it lapses.
    denied: HashMap<String, i64>,
    /// When the last look began; `None` before the first.
    synced_at: Option<i64>,
}

impl Inner {
    /// Records a denial; one known already keeps the later expiry.
    fn deny(&mut self, key: String, until: i64) {
        let e = self.denied.entry(key).or_insert(until);
        *e = (*e).max(until);
    }
}

impl DenyList {
    /// Reads the denials recorded since the last look (all of them the first time), and
    /// forgets the lapsed ones. Returns how many were read.
    pub fn sync(&self, db: &Db, now: i64) -> StoreResult<usize> {
        let since = self
            .inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .synced_at
            .map_or(i64::MIN, |t| t - SYNC_OVERLAP);
        let fresh = db.run(|c| denials::recorded_since(c, since, now))?;
        let n = fresh.len();
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.denied.retain(|_, until| *until > now);
        for (key, until) in fresh {
            inner.deny(key, until);
        }
        inner.synced_at = Some(now);
        Ok(n)
    }

    /// Learns a denial this instance just committed, without waiting for the next look.
    pub fn note(&self, denied: Denied, until: i64) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        inner.deny(denied.key(), until);
    }

    /// Whether `token` is usable at `now`: not expired, and neither it, its grant nor its
    /// client denied.
    pub fn admits(&self, token: &Verified, now: i64) -> bool {
        if token.exp <= now {
            return false;
        }
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        if inner.denied.is_empty() {
            return true;
        }
        let mut named = vec![
            Denied::Token(&token.jti).key(),
            Denied::Client(&token.client_id).key(),
        ];
        if let Some(g) = &token.grant_id {
            named.push(Denied::Grant(g).key());
        }
        !named
            .iter()
            .any(|k| inner.denied.get(k).is_some_and(|until| *until > now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::kek::Kek;
    use crate::oidc::bearer::Bearer;
    use crate::service::{Service, for_tests};
    use crate::store::clients::AccessTokenFormat;
    use crate::store::tokens;

    const T0: i64 = 1_800_000_000;

    fn client(format: AccessTokenFormat) -> Client {
        Client {
            access_token_format: format,
            ..crate::store::clients::testing::client()
        }
    }

    fn grant(id: &str) -> Grant {
        Grant {
            id: id.into(),
            client_id: "api".into(),
            user_id: Some("u-anna".into()),
            scope: "openid".into(),
            sid: Some("sid-1".into()),
            acr: Some("low".into()),
            amr: "[\"pwd\"]".into(),
            auth_time: Some(T0),
            claims: None,
            revoked: false,
            created_at: T0,
            subject: None,
            jkt: None,
            x5t: None,
        }
    }

    /// A second instance on the same database.
    fn second(svc: &Service) -> Service {
        let db = crate::store::Db::open(&svc.config.database_url, 2).expect("database");
        Service::new(svc.config.clone(), db, Kek::from_bytes(&[7; 32])).expect("service")
    }

    #[test]
    fn keys_rotated_on_one_instance_are_followed_by_the_other_at_its_next_look() {
        let (_dir, a) = for_tests();
        let b = second(&a);
        assert_eq!(b.follow_keys(), Ok(false), "nothing changed");
        let before = b.keys().fingerprint();
        a.db.tx(|c| {
            crate::keys::rotate(c, &a.kek, T0, 600)
                .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))
        })
        .expect("rotated");
        assert_eq!(b.follow_keys(), Ok(true), "the rotation is seen");
        assert_ne!(b.keys().fingerprint(), before);
        assert_eq!(a.follow_keys(), Ok(true));
        assert_eq!(a.keys().fingerprint(), b.keys().fingerprint());
        assert_eq!(b.follow_keys(), Ok(false), "and reloaded once");
    }

    #[test]
    fn a_revoked_grant_denies_its_tokens_on_every_instance_at_its_next_look() {
        let (_dir, a) = for_tests();
        let c = client(AccessTokenFormat::Jwt);
        a.db.tx(|conn| crate::store::clients::insert(conn, &c))
            .unwrap();
        let g = grant("g-1");
        a.db.tx(|conn| tokens::insert_grant(conn, &g)).unwrap();
        let token = issue(&a.keys(), &a.provider.issuer, &c, &g, "openid", T0).unwrap();
        let b = second(&a);
        let seen = b.bearer().check(&token, T0 + 1).unwrap().expect("usable");
        assert_eq!(seen.subject.as_deref(), Some("u-anna"));
        assert_eq!(
            b.bearer().user_id(&seen).unwrap().as_deref(),
            Some("u-anna")
        );
        assert_eq!(seen.client_id, "api");
        assert_eq!(seen.amr, vec!["pwd".to_string()]);
        assert_eq!((seen.iat, seen.exp), (T0, T0 + 600));

        a.db.tx(|conn| tokens::revoke_grant(conn, "g-1", T0 + 2))
            .unwrap();
        // B has not looked yet; once it has, the token is refused there too.
        assert!(b.bearer().check(&token, T0 + 3).unwrap().is_some());
        assert_eq!(b.denials.sync(&b.db, T0 + 3).unwrap(), 1);
        assert!(b.bearer().check(&token, T0 + 3).unwrap().is_none());
        // A later look reads only what is new (within the overlap), and keeps the denial.
        b.denials.sync(&b.db, T0 + 100).unwrap();
        assert!(b.bearer().check(&token, T0 + 100).unwrap().is_none());
        // Another grant's token is not affected.
        let other = issue(
            &a.keys(),
            &a.provider.issuer,
            &c,
            &grant("g-2"),
            "openid",
            T0,
        )
        .unwrap();
        assert!(b.bearer().check(&other, T0 + 100).unwrap().is_some());
        // Expired: refused by both.
        assert!(a.bearer().check(&other, T0 + 600).unwrap().is_none());
    }

    #[test]
    fn only_access_jwts_of_this_issuer_pass() {
        let (_dir, svc) = for_tests();
        let c = client(AccessTokenFormat::Jwt);
        let keys = svc.keys();
        let g = grant("g-1");
        // An ID token (typ JWT) signed by the same key is not an access token.
        let mut claims = Map::new();
        claims.insert("iss".into(), svc.provider.issuer.clone().into());
        claims.insert("jti".into(), "j".into());
        claims.insert("client_id".into(), "api".into());
        claims.insert("exp".into(), (T0 + 600).into());
        let id_token = keys.sign(Alg::Es256, &claims).unwrap();
        assert!(verify(&keys, &svc.provider.issuer, &id_token).is_none());
        let typed = keys.sign_typed(Alg::Es256, TYP, &claims).unwrap();
        assert!(verify(&keys, &svc.provider.issuer, &typed).is_some());
        // Another issuer's name in it.
        let token = issue(&keys, "https://elsewhere.example", &c, &g, "openid", T0).unwrap();
        assert!(verify(&keys, &svc.provider.issuer, &token).is_none());
        // Not a JWT at all, or three parts of nonsense.
        assert!(svc.bearer().check("a.b.c", T0).unwrap().is_none());
        assert!(!looks_like_jwt(&crate::crypto::random_token()));
    }

    #[test]
    fn a_denial_keeps_the_later_expiry_and_lapses() {
        let (_dir, svc) = for_tests();
        let c = client(AccessTokenFormat::Jwt);
        let keys = svc.keys();
        let issuer = &svc.provider.issuer;
        let token = issue(&keys, issuer, &c, &grant("g-1"), "openid", T0).unwrap();
        let v = verify(&keys, issuer, &token).unwrap();
        svc.db.tx(|conn| deny(conn, &v, T0)).unwrap();
        svc.db
            .tx(|conn| denials::insert(conn, Denied::Token(&v.jti), T0 + 10, T0))
            .unwrap();
        assert!(svc.denials.admits(&v, T0 + 1), "not looked yet");
        svc.denials.sync(&svc.db, T0 + 1).unwrap();
        assert!(!svc.denials.admits(&v, T0 + 1));
        assert_eq!(svc.db.tx(|conn| denials::purge(conn, T0 + 11)).unwrap(), 0);
        assert_eq!(svc.db.tx(|conn| denials::purge(conn, T0 + 600)).unwrap(), 1);
        // The client removed: every token of it denied.
        let fresh = issue(&keys, issuer, &c, &grant("g-2"), "openid", T0 + 1).unwrap();
        let fresh = verify(&keys, issuer, &fresh).unwrap();
        assert!(svc.denials.admits(&fresh, T0 + 2));
        svc.db
            .tx(|conn| denials::insert(conn, Denied::Client("api"), T0 + 700, T0 + 2))
            .unwrap();
        svc.denials.sync(&svc.db, T0 + 2).unwrap();
        assert!(!svc.denials.admits(&fresh, T0 + 2));
    }

    #[test]
    fn a_token_of_a_dpop_bound_grant_names_the_key() {
        let (_dir, svc) = for_tests();
        let c = client(AccessTokenFormat::Jwt);
        let issuer = &svc.provider.issuer;
        let mut g = grant("g-1");
        let unbound = issue(&svc.keys(), issuer, &c, &g, "openid", T0).unwrap();
        let unbound = verify(&svc.keys(), issuer, &unbound).unwrap();
        assert!(!unbound.claims.contains_key("cnf"));
        assert_eq!(Bearer::from_jwt(&unbound).jkt, None);
        g.jkt = Some("thumbprint-of-the-key".into());
        let bound = issue(&svc.keys(), issuer, &c, &g, "openid", T0).unwrap();
        let bound = verify(&svc.keys(), issuer, &bound).unwrap();
        assert_eq!(bound.claims["cnf"]["jkt"], "thumbprint-of-the-key");
        assert_eq!(
            Bearer::from_jwt(&bound).jkt.as_deref(),
            Some("thumbprint-of-the-key")
        );
    }

    #[test]
    fn verified_tokens_are_remembered_until_the_keys_change() {
        let (_dir, svc) = for_tests();
        let c = client(AccessTokenFormat::Jwt);
        let issuer = &svc.provider.issuer;
        let token = issue(&svc.keys(), issuer, &c, &grant("g-1"), "openid", T0).unwrap();
        let first = svc.verified.verify(&svc.keys(), issuer, &token).unwrap();
        let again = svc.verified.verify(&svc.keys(), issuer, &token).unwrap();
        assert!(std::sync::Arc::ptr_eq(&first, &again), "from memory");
        // One character changed: verified afresh, and refused.
        let mut bad = token.clone().into_bytes();
        let last = bad.len() - 2;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        let bad = String::from_utf8(bad).unwrap();
        assert!(svc.verified.verify(&svc.keys(), issuer, &bad).is_none());
        // New signing keys: the memory starts over (the old key still verifies its tokens
        // while it is published).
        svc.db
            .run(|conn| Ok(crate::keys::rotate(conn, &svc.kek, T0, 3600)))
            .unwrap()
            .unwrap();
        assert!(svc.reload_keys().unwrap());
        let after = svc.verified.verify(&svc.keys(), issuer, &token).unwrap();
        assert!(!std::sync::Arc::ptr_eq(&first, &after));
    }
}
