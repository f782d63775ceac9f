//! Subject identifiers (OIDC Core 8): the `sub` a client sees for a person.
//!
//! - `public`: the account id, the same at every client.
//! - `pairwise` (8.1): a value of its own per sector, so that portals cannot tell from
//!   `sub` that two of their users are the same citizen. The sector is the host of the
//!   client's redirect URIs, or a sector identifier an administrator registered for a
//!   group of clients run by one organisation; it is fixed when the client is registered
//!   (`admin::clients`), so that a later change of redirect URIs does not change anyone's
//!   `sub`. The value is HMAC-SHA256 of the sector and the account id under a key derived
//!   from the key-encryption key (`Kek::pairwise`), base64url: stable, and without that
//!   key impossible to link back to the account or across sectors.
//!
//! The subject is computed once, when a grant is made, and kept with the grant, so that
//! every token of the grant (ID token, access token, UserInfo, introspection) says the same.

use crate::crypto;
use crate::store::clients::{Client, SubjectType};

/// The key of pairwise subjects.
#[derive(Clone)]
pub struct PairwiseKey(pub(crate) [u8; 32]);

impl std::fmt::Debug for PairwiseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairwiseKey(..)")
    }
}

impl PairwiseKey {
    fn subject(&self, sector: &str, user_id: &str) -> String {
        let mac = crypto::hmac_sha256(&self.0, &[sector.as_bytes(), &[0], user_id.as_bytes()]);
        crypto::b64url(&mac)
    }
}

/// The `sub` that `client` sees for the account `user_id`.
pub fn of(key: &PairwiseKey, client: &Client, user_id: &str) -> String {
    match (client.subject_type, client.sector_identifier.as_deref()) {
        (SubjectType::Pairwise, Some(sector)) => key.subject(sector, user_id),
        // A pairwise client always has its sector (the registration sees to it); the
        // client id stands in should a row lack one.
        (SubjectType::Pairwise, None) => key.subject(&client.id, user_id),
        (SubjectType::Public, _) => user_id.to_string(),
    }
}

/// The sector of redirect URIs (OIDC Core 8.1): their one host (for a private-use scheme
/// without a host, the scheme). `None` when they name several, or none.
pub fn sector_of(redirect_uris: &[String]) -> Option<String> {
    let mut sectors = redirect_uris.iter().filter_map(|u| {
        let u = url::Url::parse(u).ok()?;
        Some(match u.host_str() {
            Some(h) => h.to_ascii_lowercase(),
            None => u.scheme().to_ascii_lowercase(),
        })
    });
    let first = sectors.next()?;
    sectors.all(|s| s == first).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::clients::{self, Credentials, NewClient};
    use crate::admin::testing::{T0, cli};

    fn key(b: u8) -> PairwiseKey {
        PairwiseKey([b; 32])
    }

    #[test]
    fn sectors_are_the_one_host_of_the_redirect_uris() {
        let v = |u: &[&str]| u.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            sector_of(&v(&[
                "https://Tax.Example.gov/cb",
                "https://tax.example.gov/other"
            ]))
            .as_deref(),
            Some("tax.example.gov")
        );
        assert_eq!(
            sector_of(&v(&["gov.example.app:/cb"])).as_deref(),
            Some("gov.example.app")
        );
        assert_eq!(
            sector_of(&v(&["https://a.example/cb", "https://b.example/cb"])),
            None
        );
        assert_eq!(sector_of(&[]), None);
    }

    #[test]
    fn pairwise_subjects_differ_per_sector_and_key_and_stay_put() {
        let (_dir, svc) = crate::service::for_tests();
        let ctx = crate::admin::Context::from(&svc);
        let new =
            |id: &str, uri: &str| NewClient::new(id, Credentials::GenerateSecret, vec![uri.into()]);
        let portal = clients::create(
            &ctx,
            &cli(),
            new("portal", "https://tax.example.gov/cb"),
            T0,
        )
        .unwrap();
        assert_eq!(portal.client.subject_type, "pairwise");
        assert_eq!(
            portal.client.sector_identifier.as_deref(),
            Some("tax.example.gov")
        );
        let mut legacy = new("legacy", "https://old.example.gov/cb");
        legacy.subject_type = Some("public".into());
        clients::create(&ctx, &cli(), legacy, T0).unwrap();
        let find = |id: &str| {
            svc.db
                .run(|c| crate::store::clients::find(c, id))
                .unwrap()
                .unwrap()
        };
        let (portal, legacy) = (find("portal"), find("legacy"));
        let k = key(1);
        let a = of(&k, &portal, "u-anna");
        assert_eq!(a, of(&k, &portal, "u-anna"), "stable");
        assert_ne!(a, of(&k, &portal, "u-bela"), "per person");
        assert_ne!(a, of(&key(2), &portal, "u-anna"), "per key");
        assert_eq!(a.len(), 43);
        assert_eq!(of(&k, &legacy, "u-anna"), "u-anna");
        // New redirect URIs elsewhere do not move the sector, so nobody's sub changes.
        let changes = clients::ClientChanges {
            redirect_uris: Some(vec!["https://new.example.gov/cb".into()]),
            ..Default::default()
        };
        clients::update(&ctx, &cli(), "portal", changes, T0 + 1).unwrap();
        assert_eq!(of(&k, &find("portal"), "u-anna"), a);
        // Public to pairwise on redirect URIs spread over hosts needs a sector.
        let spread = clients::ClientChanges {
            redirect_uris: Some(vec![
                "https://a.example/cb".into(),
                "https://b.example/cb".into(),
            ]),
            subject_type: Some("pairwise".into()),
            ..Default::default()
        };
        let e = clients::update(&ctx, &cli(), "legacy", spread.clone(), T0 + 2).unwrap_err();
        assert!(e.to_string().contains("several hosts"), "{e}");
        let given = clients::ClientChanges {
            sector_identifier: Some("Example.gov".into()),
            ..spread
        };
        let u = clients::update(&ctx, &cli(), "legacy", given, T0 + 3).unwrap();
        assert_eq!(u.client.sector_identifier.as_deref(), Some("example.gov"));
        let bad = clients::ClientChanges {
            sector_identifier: Some("https://example.gov/x".into()),
            ..Default::default()
        };
        assert!(clients::update(&ctx, &cli(), "legacy", bad, T0 + 4).is_err());
    }
}
