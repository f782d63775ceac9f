//! The audit log: sign-in attempts, enrolments and token replays are recorded in a hash
//! chain that `idp audit verify` checks, and citizens see their own events.

use crate::*;
use diesel::connection::SimpleConnection;

async fn events_are_chained_and_shown_to_the_citizen(backend: Backend) {
    let s = server_with_client(backend).await;
    let b = Browser::new();
    let (u, verifier) = authorize_url(&s, "");
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    let action = format!("{}{}", s.issuer, page.form_action());
    b.post(
        &action,
        &[
            ("csrf", &page.hidden("csrf")),
            ("username", "anna"),
            ("password", "wrong"),
        ],
    )
    .await;
    let code = query(&b.login(&s.issuer, &u, "anna", PASSWORD).await)
        .remove("code")
        .unwrap();
    let (status, _) = redeem(&s, &code, &verifier).await;
    assert_eq!(status, 200);
    let (status, _) = redeem(&s, &code, &verifier).await;
    assert_eq!(status, 400);

    let db = s.state.db.clone();
    let events = tokio::task::spawn_blocking(move || {
        let user = db
            .run(|c| idp::store::users::find_by_username(c, "anna"))
            .unwrap()
            .unwrap();
        db.run(|c| idp::audit::of_user(c, &user.id, 50)).unwrap()
    })
    .await
    .unwrap();
    let kinds: Vec<&str> = events.iter().rev().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "user.created",
            "auth.failed",
            "auth.succeeded",
            "consent.given",
            "token.issued"
        ],
        "{events:?}"
    );
    assert!(events.iter().all(|e| !e.detail.contains(PASSWORD)));
    // Sign-in attempts say where they came from.
    assert!(
        events
            .iter()
            .filter(|e| e.kind.starts_with("auth."))
            .all(|e| e.ip.as_deref() == Some("127.0.0.1")),
        "{events:?}"
    );
    s.cli(&["audit", "verify"]).expect("the chain is intact");

    let account = b.get(&s.url("/account")).await;
    assert!(account.body.contains("Recent activity"));
    assert!(account.body.contains("Failed sign-in attempt (Password)"));

    // The replayed code is on record for the client; altering any event breaks the chain.
    let db = s.state.db.clone();
    let replays = tokio::task::spawn_blocking(move || {
        use diesel::prelude::*;
        use idp::store::schema::audit_events::dsl::*;
        db.run(|c| {
            Ok(audit_events
                .filter(kind.eq("token.replayed"))
                .select(client_id)
                .load::<Option<String>>(c)?)
        })
        .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(replays, vec![Some("portal".to_string())]);
    let url = s.database_url.clone();
    tokio::task::spawn_blocking(move || {
        let sql = "UPDATE audit_events SET detail = '{\"factor\":\"totp\"}' WHERE seq = 1";
        if url.starts_with("postgres") {
            let mut c = idp::store::connect_postgres(&url).unwrap();
            c.batch_execute(sql).unwrap();
        } else {
            let mut c = <diesel::SqliteConnection as diesel::Connection>::establish(&url).unwrap();
            c.batch_execute(sql).unwrap();
        }
    })
    .await
    .unwrap();
    let broken = s.cli(&["audit", "verify"]).unwrap_err();
    assert!(broken.contains("event 1 was altered"), "{broken}");
}

on_both_databases!(events_are_chained_and_shown_to_the_citizen);
