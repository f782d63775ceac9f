//! OpenID Connect Back-Channel Logout 1.0: when a session ends, every service that signed
//! the citizen in during it and registered a `backchannel_logout_uri` is told so by a
//! logout token POSTed to that URI, server to server, whether or not the browser is there.
//!
//! The notices are written in the transaction that ends the session (`session_ended`,
//! which also revokes what the session's grants issued), so none is lost when a process
//! dies. Every instance's delivery loop (`deliver_due`) claims the notices that are due,
//! signs a fresh logout token for each and posts it; a service that does not answer 200
//! or 204 is tried again after a growing pause, up to `MAX_ATTEMPTS` times. Each delivery
//! and each notice given up is audited.

use super::error::{OidcError, OidcResult};
use crate::audit::{self, Entry, Kind};
use crate::crypto;
use crate::keys::{Alg, KeySet};
use crate::service::Service;
use crate::store::clients::{self, Client};
use crate::store::logout_deliveries::{self, Delivery};
use crate::store::{AnyConnection, StoreResult, sessions, tokens};
use serde_json::{Map, json};
use std::time::Duration;

/// The event a logout token carries.
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The logout token's `typ` (Back-Channel Logout 1.0, 2.4, as amended).
pub const TOKEN_TYPE: &str = "logout+jwt";
/// How long a logout token is valid (the specification suggests about two minutes).
const TOKEN_TTL: i64 = 120;
/// Attempts before a notice is given up (the last about half an hour after the first).
pub const MAX_ATTEMPTS: i64 = 8;
/// How long a claimed notice stays with the instance that claimed it.
const LEASE: i64 = 60;
/// Notices one round of the delivery loop takes on.
const BATCH: i64 = 20;
/// How long a service may take to answer.
const TIMEOUT: Duration = Duration::from_secs(5);

/// What ending a session did: grants revoked, and the services the session had signed in
/// to (for front-channel logout, which the browser carries).
#[derive(Debug, Default)]
pub struct Ended {
    pub grants_revoked: usize,
    pub clients: Vec<Client>,
}

/// In the caller's transaction: revokes the grants issued in session `sid` (their tokens
/// stop working) and writes a back-channel notice for each of its services that asked for
/// one.
pub fn session_ended(conn: &mut AnyConnection, sid: &str, now: i64) -> StoreResult<Ended> {
    let grants = tokens::live_grants_of_session(conn, sid)?;
    let mut ended = Ended {
        grants_revoked: tokens::revoke_grants_of_session(conn, sid, now)?,
        clients: Vec::new(),
    };
    for grant in &grants {
        let (Some(user_id), Some(subject)) = (grant.user_id.as_deref(), grant.subject()) else {
            continue;
        };
        if ended.clients.iter().any(|c| c.id == grant.client_id) {
            continue;
        }
        let Some(client) = clients::find(conn, &grant.client_id)? else {
            continue;
        };
        if client.backchannel_logout_uri.is_some() {
            let notice = Delivery {
                id: crypto::random_id(),
                client_id: client.id.clone(),
                user_id: user_id.to_string(),
                sid: sid.to_string(),
                subject: subject.to_string(),
                attempts: 0,
                next_at: now,
                created_at: now,
            };
            logout_deliveries::insert(conn, &notice)?;
        }
        ended.clients.push(client);
    }
    Ok(ended)
}

/// In the caller's transaction: ends every session of a user as `session_ended` does, and
/// revokes every grant left (an account disabled, removed or closed); returns how many
/// sessions there were and how many grants were revoked in all.
pub fn end_user(conn: &mut AnyConnection, user_id: &str, now: i64) -> StoreResult<(usize, usize)> {
    let sids = sessions::delete_of_user(conn, user_id)?;
    let mut grants = 0;
    for sid in &sids {
        grants += session_ended(conn, sid, now)?.grants_revoked;
    }
    grants += tokens::revoke_grants_of_user(conn, user_id, now)?;
    Ok((sids.len(), grants))
}

/// The logout token for a notice (Back-Channel Logout 1.0, 2.4): signed with the client's
/// ID token algorithm, naming the session and the person as the client knows them, with
/// the logout event, a fresh `jti` and no `nonce`.
pub fn logout_token(
    keys: &KeySet,
    issuer: &str,
    client: &Client,
    notice: &Delivery,
    now: i64,
) -> OidcResult<String> {
    let mut c = Map::new();
    c.insert("iss".into(), issuer.into());
    c.insert("sub".into(), notice.subject.clone().into());
    c.insert("aud".into(), client.id.clone().into());
    c.insert("iat".into(), now.into());
    c.insert("exp".into(), (now + TOKEN_TTL).into());
    c.insert("jti".into(), crypto::random_id().into());
    c.insert("sid".into(), notice.sid.clone().into());
    c.insert("events".into(), json!({ EVENT: {} }));
    let alg = Alg::parse(&client.id_token_alg).unwrap_or(Alg::Es256);
    keys.sign_typed(alg, TOKEN_TYPE, &c)
        .map_err(OidcError::from)
}

/// Seconds to wait after `attempts` failed attempts: 15 s, doubling, at most an hour.
fn pause(attempts: i64) -> i64 {
    (15i64 << (attempts - 1).clamp(0, 8)).min(3600)
}

/// What became of one notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Tried again later.
    Retried,
    /// The attempts ran out, or the client no longer listens.
    GivenUp,
}

/// One round of the delivery loop: claims the notices due at `now`, posts a logout token
/// for each, and records what happened. Returns each notice's outcome.
pub fn deliver_due(svc: &Service, now: i64) -> OidcResult<Vec<Outcome>> {
    let due = svc
        .db
        .tx(|c| logout_deliveries::claim_due(c, now, LEASE, BATCH))?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    // Clients per round: a blocking client must not live on an async runtime. Neither
    // follows a redirect: the token goes to the registered URI or nowhere. A client that
    // registered itself (RFC 7591) is reached only under `oidc::fetch`'s rules (https, a
    // public address), so that registering cannot aim the provider's requests into its
    // network; one an operator added, where the operator said.
    let http = reqwest::blocking::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(OidcError::server)?;
    let private = svc.provider.fetch_private_addresses;
    let public_only = super::fetch::http_client(private).map_err(OidcError::server)?;
    let keys = svc.keys();
    let mut outcomes = Vec::with_capacity(due.len());
    for notice in due {
        let client = svc.db.run(|c| clients::find(c, &notice.client_id))?;
        let listening = client
            .as_ref()
            .and_then(|c| Some((c, c.backchannel_logout_uri.as_deref()?)));
        let sent = match listening {
            Some((client, uri)) => {
                let token = logout_token(&keys, &svc.provider.issuer, client, &notice, now)?;
                if client.registration_token_hash.is_none() {
                    post(&http, uri, &token)
                } else {
                    super::fetch::check_uri(uri, private)
                        .and_then(|_| post(&public_only, uri, &token))
                }
            }
            None => Err("the client no longer has a back-channel logout URI".to_string()),
        };
        let attempts = notice.attempts + 1;
        let outcome = match &sent {
            Ok(()) => Outcome::Delivered,
            // A client that stopped listening is not tried again.
            Err(_) if listening.is_none() || attempts >= MAX_ATTEMPTS => Outcome::GivenUp,
            Err(_) => Outcome::Retried,
        };
        if let Err(e) = &sent {
            tracing::warn!(client = %notice.client_id, attempt = attempts, error = %e,
                "a back-channel logout notice was not delivered");
        }
        svc.db.tx(|c| {
            if outcome == Outcome::Retried {
                return logout_deliveries::retry_at(c, &notice.id, attempts, now + pause(attempts));
            }
            logout_deliveries::delete(c, &notice.id)?;
            let detail = json!({
                "sid": notice.sid,
                "delivered": outcome == Outcome::Delivered,
                "attempts": attempts,
                "error": sent.as_ref().err(),
            });
            let entry = Entry {
                kind: Kind::LogoutNotified,
                user_id: Some(&notice.user_id),
                client_id: Some(&notice.client_id),
                detail,
            };
            audit::append(c, entry, now).map(drop)
        })?;
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// POSTs the token as `logout_token` (a form); 200 and 204 are success (2.8).
fn post(http: &reqwest::blocking::Client, uri: &str, token: &str) -> Result<(), String> {
    let res = http
        .post(uri)
        .form(&[("logout_token", token)])
        .send()
        .map_err(|e| e.without_url().to_string())?;
    match res.status().as_u16() {
        200 | 204 => Ok(()),
        other => Err(format!("answered {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::clients::{Credentials, NewClient, create};
    use crate::admin::testing::{T0, cli, detail, events};
    use crate::service::for_tests;
    use crate::store::tokens::Grant;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    /// A service's back-channel endpoint on loopback: answers each request with the next
    /// status of `answers` and hands back the bodies it received.
    fn listener(answers: Vec<u16>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let server = TcpListener::bind("127.0.0.1:0").expect("bind");
        let uri = format!("http://{}/logout", server.local_addr().expect("address"));
        let handle = std::thread::spawn(move || {
            let mut bodies = Vec::new();
            for status in answers {
                let (stream, _) = server.accept().expect("accept");
                let mut reader = BufReader::new(stream);
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).expect("header");
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().expect("length");
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).expect("body");
                bodies.push(String::from_utf8(body).expect("text"));
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                reader.get_mut().write_all(reply.as_bytes()).expect("reply");
            }
            bodies
        });
        (uri, handle)
    }

    fn register(svc: &Service, id: &str, backchannel: Option<&str>) {
        let mut new = NewClient::new(
            id,
            Credentials::Secret("a-client-secret-of-good-length".into()),
            vec![format!("https://{id}.example/cb")],
        );
        new.backchannel_logout_uri = backchannel.map(str::to_string);
        create(&crate::admin::Context::from(svc), &cli(), new, T0).expect("client");
    }

    fn signed_in(svc: &Service, client_id: &str, sid: &str) {
        let grant = Grant {
            id: crypto::random_id(),
            client_id: client_id.into(),
            user_id: Some("u-anna".into()),
            scope: "openid".into(),
            sid: Some(sid.into()),
            acr: None,
            amr: "[\"pwd\"]".into(),
            auth_time: Some(T0),
            claims: None,
            revoked: false,
            created_at: T0,
            subject: Some(format!("{client_id}-sub-of-anna")),
            jkt: None,
            x5t: None,
        };
        svc.db
            .tx(|c| tokens::insert_grant(c, &grant))
            .expect("grant");
    }

    fn pending(svc: &Service) -> Vec<Delivery> {
        svc.db
            .run(|c| logout_deliveries::of_user(c, "u-anna"))
            .expect("notices")
    }

    #[test]
    fn an_ended_session_is_told_to_the_services_that_listen_until_one_answers() {
        let (_dir, svc) = for_tests();
        let (uri, server) = listener(vec![503, 200]);
        register(&svc, "listens", Some(&uri));
        register(&svc, "deaf", None);
        signed_in(&svc, "listens", "sid-1");
        signed_in(&svc, "deaf", "sid-1");
        signed_in(&svc, "listens", "sid-2");

        let ended = svc.db.tx(|c| session_ended(c, "sid-1", T0)).expect("ended");
        assert_eq!(ended.grants_revoked, 2);
        let mut named: Vec<&str> = ended.clients.iter().map(|c| c.id.as_str()).collect();
        named.sort_unstable();
        assert_eq!(named, ["deaf", "listens"]);
        let waiting = pending(&svc);
        assert_eq!(waiting.len(), 1, "one notice, for the client that listens");
        assert_eq!((waiting[0].sid.as_str(), waiting[0].attempts), ("sid-1", 0));
        let live = svc.db.run(|c| tokens::live_grants_of_session(c, "sid-2"));
        assert_eq!(
            live.expect("grants").len(),
            1,
            "another session is untouched"
        );

        // The service answers 503 first: tried again 15 s later, not before.
        assert_eq!(deliver_due(&svc, T0).expect("round"), [Outcome::Retried]);
        assert_eq!(pending(&svc)[0].attempts, 1);
        assert_eq!(deliver_due(&svc, T0 + 14).expect("round"), []);
        assert_eq!(
            deliver_due(&svc, T0 + 15).expect("round"),
            [Outcome::Delivered]
        );
        assert!(pending(&svc).is_empty());

        // What the service received: a logout token it can check with the published keys.
        let bodies = server.join().expect("server");
        assert_eq!(bodies.len(), 2);
        let token = bodies[1].strip_prefix("logout_token=").expect("a form");
        let claims = svc
            .keys()
            .verify_typed(token, Some(TOKEN_TYPE))
            .expect("signed by a published key, typ logout+jwt");
        assert_eq!(claims["iss"], svc.provider.issuer.as_str());
        assert_eq!(claims["aud"], "listens");
        assert_eq!(
            claims["sub"], "listens-sub-of-anna",
            "the sub this client knows"
        );
        assert_eq!(claims["sid"], "sid-1");
        assert_eq!(claims["exp"], T0 + 15 + TOKEN_TTL);
        assert!(claims["events"][EVENT].is_object());
        assert!(claims["jti"].is_string() && !claims.contains_key("nonce"));
        let first = bodies[0].strip_prefix("logout_token=").expect("a form");
        assert_ne!(first, token, "each attempt has a token of its own");

        let told: Vec<_> = events(&svc.db)
            .into_iter()
            .filter(|e| e.kind() == Some(Kind::LogoutNotified))
            .collect();
        assert_eq!(told.len(), 1);
        assert_eq!(told[0].client_id.as_deref(), Some("listens"));
        let d = detail(&told[0]);
        assert_eq!(
            (d["delivered"].clone(), d["attempts"].clone()),
            (json!(true), json!(2))
        );
    }

    #[test]
    fn a_service_that_never_answers_is_given_up_after_the_last_attempt() {
        let (_dir, svc) = for_tests();
        // Nothing listens on this port once the listener is gone.
        let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
        let uri = format!("http://{}/logout", closed.local_addr().expect("address"));
        drop(closed);
        register(&svc, "gone", Some(&uri));
        signed_in(&svc, "gone", "sid-1");
        svc.db.tx(|c| session_ended(c, "sid-1", T0)).expect("ended");
        let mut now = T0;
        let mut outcomes = Vec::new();
        for _ in 0..MAX_ATTEMPTS {
            outcomes.extend(deliver_due(&svc, now).expect("round"));
            now += 3600;
        }
        let mut expected = vec![Outcome::Retried; MAX_ATTEMPTS as usize - 1];
        expected.push(Outcome::GivenUp);
        assert_eq!(outcomes, expected);
        assert!(pending(&svc).is_empty());
        let given_up = events(&svc.db)
            .into_iter()
            .find(|e| e.kind() == Some(Kind::LogoutNotified))
            .expect("audited");
        assert_eq!(detail(&given_up)["delivered"], false);
        assert_eq!(detail(&given_up)["attempts"], MAX_ATTEMPTS);
    }

    #[test]
    fn a_client_that_stops_listening_is_not_tried_again() {
        let (_dir, svc) = for_tests();
        register(&svc, "listens", Some("https://listens.example/logout"));
        signed_in(&svc, "listens", "sid-1");
        svc.db.tx(|c| session_ended(c, "sid-1", T0)).expect("ended");
        let changes = crate::admin::clients::ClientChanges {
            backchannel_logout_uri: Some(String::new()),
            ..Default::default()
        };
        let ctx = crate::admin::Context::from(&svc);
        crate::admin::clients::update(&ctx, &cli(), "listens", changes, T0).expect("updated");
        assert_eq!(deliver_due(&svc, T0).expect("round"), [Outcome::GivenUp]);
        assert!(pending(&svc).is_empty());
    }

    #[test]
    fn two_instances_claiming_at_once_take_each_notice_once() {
        let (_dir, svc) = for_tests();
        register(&svc, "listens", Some("https://listens.example/logout"));
        for i in 0..30 {
            let sid = format!("sid-{i}");
            signed_in(&svc, "listens", &sid);
            svc.db.tx(|c| session_ended(c, &sid, T0)).expect("ended");
        }
        let claim = || {
            let db = crate::store::Db::open(&svc.config.database_url, 2).expect("database");
            let mut mine = Vec::new();
            for _ in 0..10 {
                let got = db
                    .tx(|c| logout_deliveries::claim_due(c, T0, LEASE, 4))
                    .expect("claimed");
                mine.extend(got.into_iter().map(|d| d.id));
            }
            mine
        };
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(claim);
            let b = s.spawn(claim);
            (a.join().expect("a"), b.join().expect("b"))
        });
        let mut all: Vec<String> = a.into_iter().chain(b).collect();
        assert_eq!(all.len(), 30, "every notice was claimed");
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 30, "and none twice");
    }

    #[test]
    fn logout_uris_are_https_web_addresses() {
        let (_dir, svc) = for_tests();
        let ctx = crate::admin::Context::from(&svc);
        for bad in [
            "gov.example.app:/logout",
            "http://rp.example/logout",
            "https://rp.example/l#x",
        ] {
            let mut new = NewClient::new(
                "rp",
                Credentials::Public,
                vec!["https://rp.example/cb".into()],
            );
            new.backchannel_logout_uri = Some(bad.into());
            let refused = create(&ctx, &cli(), new, T0).expect_err(bad);
            assert!(
                refused.to_string().contains("backchannel_logout_uri"),
                "{bad}: {refused}"
            );
        }
    }

    #[test]
    fn a_client_that_registered_itself_is_not_told_on_a_private_address() {
        let (_dir, svc) = for_tests();
        let (uri, server) = listener(vec![200]);
        let mut new = NewClient::new(
            "self-made",
            Credentials::Secret("a-client-secret-of-good-length".into()),
            vec!["https://self-made.example/cb".into()],
        );
        new.backchannel_logout_uri = Some(uri.clone());
        new.registration_token_hash = Some("hash-of-its-registration-token".into());
        create(&crate::admin::Context::from(&svc), &cli(), new, T0).expect("client");
        register(&svc, "operators", Some(&uri));
        signed_in(&svc, "self-made", "sid-1");
        signed_in(&svc, "operators", "sid-1");
        svc.db.tx(|c| session_ended(c, "sid-1", T0)).expect("ended");
        let mut outcomes = deliver_due(&svc, T0).expect("round");
        outcomes.sort_by_key(|o| format!("{o:?}"));
        // The operator's client on loopback is told; the self-registered one is not (its
        // plain http address on loopback is refused before anything is sent).
        assert_eq!(outcomes, [Outcome::Delivered, Outcome::Retried]);
        let bodies = server.join().expect("listener");
        assert_eq!(bodies.len(), 1);
        let waiting = pending(&svc);
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].client_id, "self-made");
    }
}
