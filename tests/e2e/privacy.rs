//! The citizen's own data: what biometric data is kept and how it was used, everything
//! as a JSON download (after a fresh step-up; no secret in it), and closing the account,
//! which deletes it all and is told to the citizen.

use crate::factors::{account_sign_in, account_with_step_up};
use crate::*;

async fn the_citizen_sees_downloads_and_deletes_their_data(backend: Backend) {
    let s = server_with_client(backend).await;
    s.cli(&[
        "user",
        "update",
        "--username",
        "anna",
        "--street-address",
        "Fő utca 1.",
        "--postal-code",
        "1011",
        "--locality",
        "Budapest",
    ])
    .unwrap();
    // Viewing needs a sign-in; downloading needs a fresh step-up.
    let b = Browser::new();
    account_sign_in(&s, &b).await;
    let account = b.get(&s.url("/account")).await;
    assert!(
        account
            .body
            .contains("Postal address: Fő utca 1., 1011 Budapest"),
        "the postal address is shown: {}",
        account.body
    );
    let data = b.get(&s.url("/account/data")).await;
    assert_eq!(data.status, 200);
    assert!(
        data.body.contains("No biometric data is kept about you."),
        "{}",
        data.body
    );
    let export = b.get(&s.url("/account/data/export")).await;
    assert_eq!(
        export.status, 303,
        "a password alone does not download everything"
    );

    let (b, _) = account_with_step_up(&s).await;
    let export = b.get(&s.url("/account/data/export")).await;
    assert_eq!(export.status, 200, "{}", export.body);
    let json: serde_json::Value = serde_json::from_str(&export.body).expect("JSON");
    assert_eq!(json["account"]["username"], "anna");
    assert_eq!(
        json["account"]["address"],
        serde_json::json!({ "street_address": "Fő utca 1.", "postal_code": "1011", "locality": "Budapest" })
    );
    let methods = json["sign_in_methods"].as_array().unwrap();
    assert!(methods.iter().any(|m| m["kind"] == "password"));
    assert!(!export.body.contains("$argon2"), "no password hash");
    assert!(
        json["activity"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "auth.succeeded" && e["from"] == "127.0.0.1"),
        "{}",
        json["activity"]
    );

    // Closing needs the box ticked.
    let page = b.get(&s.url("/account/data")).await;
    let csrf = page.hidden("csrf");
    let refused = b.post(&s.url("/account/close"), &[("csrf", &csrf)]).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("There is a problem"));
    let closed = b
        .post(
            &s.url("/account/close"),
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert!(closed.body.contains("Your account was closed"));
    let ctx = idp::admin::Context::from(&*s.state);
    let gone = idp::admin::users::show(
        &ctx,
        idp::admin::users::UserRef::Username("anna"),
        idp::now(),
    );
    assert!(gone.is_err(), "the account is deleted");
    let outbox = std::fs::read_dir(s.dir.path().join("outbox")).unwrap();
    assert!(
        outbox
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .any(|m| m.contains("Your account was closed")),
        "the citizen is told"
    );
}

on_both_databases!(the_citizen_sees_downloads_and_deletes_their_data);
