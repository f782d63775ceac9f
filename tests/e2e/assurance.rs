//! The holes through which a password alone reached a higher assurance: factors changed
//! with a password-only session, `prompt=login` skipped through the account chooser, and
//! the lockout outrun by concurrent guesses. Each test tries what an attacker did.

use crate::factors::{account_sign_in, account_with_step_up, enroll_totp};
use crate::*;

fn outbox_subjects(s: &TestServer, to: &str) -> Vec<String> {
    let dir = s.dir.path().join("outbox");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| {
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(e.ok()?.path()).ok()?).ok()?;
            (v["to"] == to).then(|| v["subject"].as_str().unwrap_or("").to_string())
        })
        .collect()
}

/// Finding 1: with only the password, nothing about the citizen's factors can be changed;
/// a change after the step-up is told to the citizen.
async fn a_password_alone_cannot_change_factors(backend: Backend) {
    let s = server_with_client(backend).await;
    let attacker = Browser::new();
    enroll_totp(&s, &attacker).await;
    let account = attacker.get(&s.url("/account")).await;
    assert!(account.body.contains("Authenticator app: Active"));
    let csrf = account.hidden("csrf");
    let before = outbox_subjects(&s, "anna@example.invalid").len();
    for action in [
        "/account/totp/remove",
        "/account/recovery",
        "/account/totp/start",
    ] {
        let r = attacker.post(&s.url(action), &[("csrf", &csrf)]).await;
        assert_eq!(r.status, 303, "{action}: {}", r.body);
        let to = r.location.unwrap_or_default();
        assert!(
            to.starts_with("/interaction/"),
            "{action} sends a password-only session to a step-up, not {to}"
        );
        let step_up = attacker.get(&s.url(&to)).await;
        assert!(
            step_up.body.contains("Additional verification"),
            "{}",
            step_up.body
        );
    }
    // A passkey cannot be registered either (the page's script is told to step up).
    let r = attacker
        .post(
            &s.url("/account/webauthn/begin"),
            &[("csrf", &csrf), ("name", "Attacker's key")],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let answer: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(answer["error"], "step_up_required");
    // Nothing changed.
    let account = attacker.get(&s.url("/account")).await;
    assert!(account.body.contains("Authenticator app: Active"));
    assert_eq!(
        outbox_subjects(&s, "anna@example.invalid").len(),
        before,
        "no change was made, so nothing was told"
    );

    // After a fresh step-up to the account's strongest level the change is made, and the
    // citizen is told.
    let (owner, account) = account_with_step_up(&s).await;
    let r = owner
        .post(
            &s.url("/account/totp/remove"),
            &[("csrf", &account.hidden("csrf"))],
        )
        .await;
    assert_eq!(
        r.location.as_deref(),
        Some("/account?changed=totp-removed"),
        "{}",
        r.body
    );
    let notices: Vec<String> = outbox_subjects(&s, "anna@example.invalid")
        .into_iter()
        .filter(|m| m.contains("changed"))
        .collect();
    assert_eq!(notices.len(), 2, "enrolment and removal told: {notices:?}");

    // A step-up older than five minutes is not fresh.
    s.state.clock.advance(301);
    let account = owner.get(&s.url("/account")).await;
    let r = owner
        .post(
            &s.url("/account/recovery"),
            &[("csrf", &account.hidden("csrf"))],
        )
        .await;
    assert!(
        r.location
            .as_deref()
            .is_some_and(|l| l.starts_with("/interaction/")),
        "{:?}",
        r.location
    );
}

/// Finding 2: the account chooser's form cannot stand in for the login that `prompt=login`
/// or `max_age=0` require.
async fn reauthentication_cannot_be_skipped(backend: Backend) {
    let s = server_with_client(backend).await;
    let b = Browser::new();
    let first = tokens(&s, &b).await;
    let first_auth_time = id_token_claims(&first)["auth_time"].as_i64().unwrap();
    s.state.clock.advance(5);
    for extra in [
        "&prompt=login",
        "&max_age=0",
        "&prompt=login%20select_account",
    ] {
        let (u, _) = authorize_url(&s, extra);
        let page = b.follow(&s.issuer, b.get(&u).await).await;
        assert!(
            page.form_action().ends_with("/login"),
            "{extra}: {}",
            page.body
        );
        let tx = page.form_action().split('/').nth(2).unwrap().to_string();
        let skipped = b
            .post(
                &s.url(&format!("/interaction/{tx}/select")),
                &[("csrf", &page.hidden("csrf")), ("choice", "continue")],
            )
            .await;
        assert_eq!(skipped.status, 400, "{extra}: the chooser is not open");
        let after = b
            .follow(
                &s.issuer,
                b.get(&s.url(&format!("/interaction/{tx}"))).await,
            )
            .await;
        assert!(
            after.form_action().ends_with("/login"),
            "{extra}: still at the login: {}",
            after.body
        );
        assert!(after.location.is_none(), "no code");
        // The consent form is not open either.
        let consent = b
            .post(
                &s.url(&format!("/interaction/{tx}/consent")),
                &[("csrf", &page.hidden("csrf")), ("decision", "allow")],
            )
            .await;
        assert_eq!(consent.status, 400);
    }
    // Signing in again gives a new auth_time.
    let (u, verifier) = authorize_url(&s, "&prompt=login");
    let back = b.login(&s.issuer, &u, "anna", PASSWORD).await;
    let (status, t) = redeem(&s, &query(&back)["code"], &verifier).await;
    assert_eq!(status, 200);
    assert!(id_token_claims(&t)["auth_time"].as_i64().unwrap() > first_auth_time);
}

fn id_token_claims(tokens: &serde_json::Value) -> serde_json::Value {
    jwt_payload(tokens["id_token"].as_str().unwrap())
}

/// Finding 3: 20 simultaneous sign-ins, 19 with a wrong password and one with the right
/// one. No answer is a server error, every attempt is counted in the audit log, and the
/// right password signs in only if it was checked before the third failure locked the
/// password.
async fn concurrent_guesses_cannot_outrun_the_lock(backend: Backend) {
    let s = server_with_client(backend).await;
    let b = Browser::new();
    let (u, _) = authorize_url(&s, "");
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    let action = format!("{}{}", s.issuer, page.form_action());
    let csrf = page.hidden("csrf");
    let attempts: Vec<_> = (0..20)
        .map(|i| {
            let (b, action, csrf) = (b.http.clone(), action.clone(), csrf.clone());
            let password = if i == 13 { PASSWORD } else { "wrong password" };
            tokio::spawn(async move {
                b.post(&action)
                    .form(&[
                        ("csrf", csrf.as_str()),
                        ("username", "anna"),
                        ("password", password),
                    ])
                    .send()
                    .await
                    .expect("answer")
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for a in attempts {
        statuses.push(a.await.expect("attempt"));
    }
    assert!(
        statuses.iter().all(|s| *s < 500),
        "no server errors: {statuses:?}"
    );
    let signed_in = statuses.iter().filter(|s| **s == 303).count();
    assert!(signed_in <= 1, "{statuses:?}");

    let db = idp::store::Db::open(&s.database_url, 1).unwrap();
    let anna = db
        .run(|c| idp::store::users::find_by_username(c, "anna"))
        .unwrap()
        .unwrap();
    let mut events = db.run(|c| idp::audit::of_user(c, &anna.id, 100)).unwrap();
    events.reverse();
    let password_events: Vec<&idp::audit::Event> = events
        .iter()
        .filter(|e| e.kind.starts_with("auth.") && e.detail.contains("\"password\""))
        .collect();
    assert_eq!(password_events.len(), 20, "every attempt is counted");
    let failures_before_success = password_events
        .iter()
        .take_while(|e| e.kind != "auth.succeeded")
        .count();
    if signed_in == 1 {
        assert!(
            failures_before_success < 3,
            "the right password was accepted after {failures_before_success} failures"
        );
    } else {
        assert!(
            password_events.iter().all(|e| e.kind == "auth.failed"),
            "refused"
        );
        assert!(events.iter().any(|e| e.kind == "factor.locked"));
    }
    // Exactly three failures in a row lock; the rest were refused as locked.
    let counted = password_events
        .iter()
        .filter(|e| e.kind == "auth.failed" && !e.detail.contains("locked"))
        .count();
    if signed_in == 0 {
        assert_eq!(counted, 3, "three counted failures set the lock");
    }
}

/// The account page signs in through the same flow: a password-only sign-in there is
/// enough to look, and the sign-in cannot be completed by the chooser either.
async fn the_account_page_signs_in_through_the_flow(backend: Backend) {
    let s = server_with_client(backend).await;
    let b = Browser::new();
    let account = account_sign_in(&s, &b).await;
    assert!(account.body.contains("Your account"));
    // Ending a session is not a change of factors: no step-up.
    let sid_marker = "action=end-session&amp;sid=";
    let start = account.body.find(sid_marker).unwrap() + sid_marker.len();
    let sid = &account.body[start..start + account.body[start..].find('"').unwrap()];
    let r = b
        .post(
            &s.url("/account/sessions/end"),
            &[("csrf", &account.hidden("csrf")), ("sid", sid)],
        )
        .await;
    // It was this browser's own session: signed out, the cookie removed.
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("You have been signed out"));
    let again = b.get(&s.url("/account")).await;
    assert_eq!(again.status, 303, "signed out: to a sign-in");
}

/// An administrator lifts a lock that anonymous attempts set (`idp user unlock`).
async fn an_administrator_can_unlock(backend: Backend) {
    let s = server_with_client(backend).await;
    let b = Browser::new();
    let (u, _) = authorize_url(&s, "");
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    let action = format!("{}{}", s.issuer, page.form_action());
    let csrf = page.hidden("csrf");
    let attempt = |password: &'static str| {
        let (b, action, csrf) = (&b, action.clone(), csrf.clone());
        async move {
            b.post(
                &action,
                &[
                    ("csrf", csrf.as_str()),
                    ("username", "anna"),
                    ("password", password),
                ],
            )
            .await
        }
    };
    for _ in 0..3 {
        attempt("wrong").await;
    }
    let locked = attempt(PASSWORD).await;
    assert!(
        locked.body.contains("Too many failed attempts"),
        "{}",
        locked.body
    );
    assert!(s.cli(&["user", "unlock", "--username", "nobody"]).is_err());
    s.cli(&["user", "unlock", "--username", "anna"])
        .expect("unlock");
    let ok = attempt(PASSWORD).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
}

on_both_databases!(
    an_administrator_can_unlock,
    a_password_alone_cannot_change_factors,
    reauthentication_cannot_be_skipped,
    concurrent_guesses_cannot_outrun_the_lock,
    the_account_page_signs_in_through_the_flow,
);
