//! The audit log's chain, checkpoints and exports, on a fresh store each.

use super::chain::{self, Break};
use super::checkpoint::PublishedKeys;
use super::export::{self, Line, Range, Refused};
use super::{Entry, Kind, append};
use crate::service::Service;
use crate::store::schema::audit_events;
use diesel::prelude::*;
use serde_json::json;

const T0: i64 = 1_800_000_000;
const ISSUER: &str = "https://id.example.gov";

fn add(svc: &Service, n: usize, at: i64) {
    svc.db
        .tx(|c| {
            for i in 0..n {
                let e = Entry {
                    kind: Kind::SignedIn,
                    user_id: Some("u-anna"),
                    client_id: None,
                    detail: json!({ "factor": "password", "i": i }),
                };
                append(c, e, at)?;
            }
            Ok(())
        })
        .unwrap();
}

fn seal(svc: &Service, now: i64) -> chain::Sealed {
    super::seal_pending(&svc.db, &svc.kek, ISSUER, 0, now).unwrap()
}

fn verify(svc: &Service) -> Result<chain::Verified, Break> {
    svc.db.run(chain::verify).unwrap()
}

fn sql(svc: &Service, statement: &str) {
    use diesel::connection::SimpleConnection;
    svc.db.run(|c| Ok(c.batch_execute(statement)?)).unwrap();
}

/// A log of ten sealed events with one checkpoint, the unit tests' starting point.
fn sealed_log() -> (tempfile::TempDir, Service) {
    let (dir, svc) = crate::service::for_tests();
    add(&svc, 10, T0);
    let s = seal(&svc, T0);
    assert_eq!(s.events, 10);
    assert_eq!(s.checkpoint, Some(10));
    (dir, svc)
}

#[test]
fn concurrent_appends_wait_for_nothing_and_are_all_sealed_in_one_unbroken_chain() {
    let (_dir, svc) = crate::service::for_tests();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| add(&svc, 25, T0));
        }
        // A sealer runs while they append.
        s.spawn(|| {
            for i in 0..5 {
                seal(&svc, T0 + i);
            }
        });
    });
    seal(&svc, T0 + 10);
    let v = verify(&svc).expect("intact");
    assert_eq!((v.events, v.pending), (200, 0));
    assert!(v.checkpoints >= 1);
    let seqs: Vec<Option<i64>> = svc
        .db
        .run(|c| {
            Ok(audit_events::table
                .order(audit_events::seq)
                .select(audit_events::seq)
                .load(c)?)
        })
        .unwrap();
    assert_eq!(seqs, (1..=200).map(Some).collect::<Vec<_>>());
}

#[test]
fn a_checkpoint_is_signed_no_more_often_than_configured() {
    let (_dir, svc) = crate::service::for_tests();
    add(&svc, 1, T0);
    let every = 10;
    let first = super::seal_pending(&svc.db, &svc.kek, ISSUER, every, T0).unwrap();
    assert_eq!(first.checkpoint, Some(1), "the first one at once");
    add(&svc, 1, T0 + 1);
    let soon = super::seal_pending(&svc.db, &svc.kek, ISSUER, every, T0 + 1).unwrap();
    assert_eq!((soon.events, soon.checkpoint), (1, None));
    let later = super::seal_pending(&svc.db, &svc.kek, ISSUER, every, T0 + 11).unwrap();
    assert_eq!((later.events, later.checkpoint), (0, Some(2)));
    // Nothing new: no checkpoint, however long it has been.
    let idle = super::seal_pending(&svc.db, &svc.kek, ISSUER, every, T0 + 100).unwrap();
    assert_eq!(idle, chain::Sealed::default());
}

#[test]
fn an_altered_event_is_named() {
    let (_dir, svc) = sealed_log();
    assert_eq!(verify(&svc).unwrap().events, 10);
    sql(
        &svc,
        "UPDATE audit_events SET detail = '{\"factor\":\"totp\"}' WHERE seq = 4",
    );
    assert_eq!(verify(&svc), Err(Break::Altered(4)));
}

#[test]
fn an_event_rewritten_with_a_fresh_hash_is_named_by_the_next_one() {
    let (_dir, svc) = sealed_log();
    let e: super::Event = svc
        .db
        .run(|c| {
            Ok(audit_events::table
                .filter(audit_events::seq.eq(4))
                .select(super::Event::as_select())
                .first(c)?)
        })
        .unwrap();
    let forged = super::Event {
        detail: "{}".into(),
        ..e.clone()
    };
    let hash = chain::hash_of(e.prev_hash.as_deref().unwrap(), 4, &forged);
    sql(
        &svc,
        &format!("UPDATE audit_events SET detail = '{{}}', hash = '{hash}' WHERE seq = 4"),
    );
    assert_eq!(verify(&svc), Err(Break::Altered(4)));
}

#[test]
fn a_removed_event_is_named_also_when_the_rest_were_renumbered() {
    let (_dir, svc) = sealed_log();
    sql(&svc, "DELETE FROM audit_events WHERE seq = 6");
    assert_eq!(verify(&svc), Err(Break::Missing { from: 6, to: 6 }));
    sql(&svc, "UPDATE audit_events SET seq = seq - 1 WHERE seq > 6");
    assert_eq!(verify(&svc), Err(Break::Missing { from: 6, to: 6 }));
}

#[test]
fn a_reordered_event_is_named_with_its_place() {
    let (_dir, svc) = sealed_log();
    sql(
        &svc,
        "UPDATE audit_events SET seq = -1 WHERE seq = 3; \
         UPDATE audit_events SET seq = 3 WHERE seq = 4; \
         UPDATE audit_events SET seq = 4 WHERE seq = -1;",
    );
    assert_eq!(verify(&svc), Err(Break::Moved { at: 3, was: 4 }));
}

#[test]
fn removing_the_newest_events_is_caught_by_the_head_and_the_checkpoint() {
    let (_dir, svc) = sealed_log();
    sql(&svc, "DELETE FROM audit_events WHERE seq > 8");
    assert_eq!(
        verify(&svc),
        Err(Break::Truncated {
            ends_at: 8,
            covered: 10
        })
    );
    // Rolling the head back too leaves the signed checkpoint.
    let hash_8: Option<String> = svc
        .db
        .run(|c| {
            Ok(audit_events::table
                .filter(audit_events::seq.eq(8))
                .select(audit_events::hash)
                .first(c)?)
        })
        .unwrap();
    sql(
        &svc,
        &format!(
            "UPDATE audit_head SET seq = 8, hash = '{}' WHERE id = 1",
            hash_8.unwrap()
        ),
    );
    assert_eq!(
        verify(&svc),
        Err(Break::Truncated {
            ends_at: 8,
            covered: 10
        })
    );
}

#[test]
fn a_forged_checkpoint_is_refused() {
    let (_dir, svc) = sealed_log();
    add(&svc, 2, T0 + 20);
    seal(&svc, T0 + 20);
    assert_eq!(verify(&svc).unwrap().checkpoints, 2);
    // Pointed at another place: its signature says otherwise.
    sql(
        &svc,
        "UPDATE audit_checkpoints SET hash = (SELECT hash FROM audit_events WHERE seq = 11) \
         WHERE seq = 12",
    );
    assert_eq!(verify(&svc), Err(Break::Checkpoint(12)));
}

fn exported(svc: &Service, range: Range) -> String {
    let mut out = String::new();
    svc.db
        .run(|c| {
            export::write(c, range, &mut |l| {
                out.push_str(&serde_json::to_string(l)?);
                out.push('\n');
                Ok(())
            })
        })
        .unwrap()
        .unwrap();
    out
}

fn keys(svc: &Service) -> PublishedKeys {
    svc.db.run(super::checkpoint::published).unwrap()
}

#[test]
fn an_export_verifies_against_the_published_keys_and_names_what_was_changed() {
    let (_dir, svc) = sealed_log();
    add(&svc, 5, T0 + 100);
    seal(&svc, T0 + 100);
    let text = exported(&svc, Range::default());
    assert_eq!(text.lines().count(), 15 + 2, "15 events and 2 checkpoints");
    // A third party has only the export and the published JWK set.
    let published = PublishedKeys::from_jwks(keys(&svc).jwks()).unwrap();
    let v = export::verify(&text, &published).expect("intact");
    assert_eq!((v.first, v.last, v.checkpoints), (1, 15, 2));

    let mut lines: Vec<Line> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let render = |lines: &[Line]| {
        lines
            .iter()
            .map(|l| serde_json::to_string(l).unwrap() + "\n")
            .collect::<String>()
    };
    let mut altered = lines.clone();
    if let Line::Event { detail, .. } = &mut altered[6] {
        *detail = "{}".into();
    }
    assert_eq!(
        export::verify(&render(&altered), &published),
        Err(Refused::Chain(Break::Altered(7)))
    );
    let mut removed = lines.clone();
    removed.remove(3);
    assert_eq!(
        export::verify(&render(&removed), &published),
        Err(Refused::Chain(Break::Missing { from: 4, to: 4 }))
    );
    let mut swapped = lines.clone();
    swapped.swap(2, 3);
    assert!(matches!(
        export::verify(&render(&swapped), &published),
        Err(Refused::Chain(Break::Missing { .. } | Break::Moved { .. }))
    ));
    // Without its last checkpoint, the tail is not covered by a signature.
    lines.pop();
    assert_eq!(
        export::verify(&render(&lines), &published),
        Err(Refused::Uncovered { from: 11, to: 15 })
    );
    // Another provider's keys verify nothing.
    let (_other_dir, other) = sealed_log();
    assert!(matches!(
        export::verify(&text, &keys(&other)),
        Err(Refused::Chain(Break::Checkpoint(10)))
    ));
}

#[test]
fn a_partial_export_runs_to_the_next_checkpoint_and_verifies_on_its_own() {
    let (_dir, svc) = sealed_log();
    add(&svc, 5, T0 + 100);
    seal(&svc, T0 + 100);
    add(&svc, 5, T0 + 200);
    seal(&svc, T0 + 200);
    let text = exported(
        &svc,
        Range {
            from: Some(T0 + 100),
            until: Some(T0 + 101),
        },
    );
    let v = export::verify(&text, &keys(&svc)).expect("intact");
    assert_eq!((v.first, v.last, v.checkpoints), (11, 15, 1));
}
