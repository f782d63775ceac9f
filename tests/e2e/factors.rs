//! Second factors over HTTP: enrolling an authenticator app and recovery codes on the
//! account page, step-up asking only for the missing factor, lockout with notification,
//! sessions and consents the citizen can end.

use crate::*;
use authenticators::totp;

fn base32_decode(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buf, mut bits, mut out) = (0u32, 0, Vec::new());
    for c in s.bytes() {
        buf = (buf << 5) | A.iter().position(|&x| x == c).expect("base32") as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    out
}

/// Signs `b` in on the account page with the password alone; returns the account page.
pub async fn account_sign_in(s: &TestServer, b: &Browser) -> Page {
    let page = b.follow(&s.issuer, b.get(&s.url("/account")).await).await;
    assert!(
        page.form_action().ends_with("/login"),
        "account needs a sign-in first"
    );
    let action = format!("{}{}", s.issuer, page.form_action());
    let signed = b
        .post(
            &action,
            &[
                ("csrf", &page.hidden("csrf")),
                ("username", "anna"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let account = b.follow(&s.issuer, signed).await;
    assert!(account.body.contains("Sign-in methods"), "{}", account.body);
    account
}

/// A browser signed in on the account page as a change of sign-in methods needs: a
/// password alone may not add a factor, and the account (password, e-mail and SMS codes)
/// reaches substantial, so an e-mail code follows. Returns it and the account page.
pub async fn account_with_step_up(s: &TestServer) -> (Browser, Page) {
    let b = Browser::new();
    let account = account_sign_in(s, &b).await;
    let refused = b
        .post(
            &s.url("/account/totp/start"),
            &[("csrf", &account.hidden("csrf"))],
        )
        .await;
    let step_up = b.follow(&s.issuer, refused).await;
    assert!(
        step_up.body.contains("Additional verification"),
        "a step-up first:\n{}",
        step_up.body
    );
    let account = step_up_by_email(s, &b, step_up).await;
    assert!(account.body.contains("Sign-in methods"), "{}", account.body);
    (b, account)
}

/// Enrolls an authenticator app (in a browser of its own, stepped up as the change
/// needs), then signs `b` in with the password alone; returns the app's secret.
pub async fn enroll_totp(s: &TestServer, b: &Browser) -> Vec<u8> {
    let secret = enroll_totp_in(s).await;
    account_sign_in(s, b).await;
    secret
}

async fn enroll_totp_in(s: &TestServer) -> Vec<u8> {
    let (b, account) = account_with_step_up(s).await;
    let b = &b;
    let csrf = account.hidden("csrf");
    let setup = b
        .follow(
            &s.issuer,
            b.post(&s.url("/account/totp/start"), &[("csrf", &csrf)])
                .await,
        )
        .await;
    assert!(setup.body.contains("<svg"), "a QR code is shown");
    let key = {
        let start = setup.body.find("id=\"totp-key\">").unwrap() + "id=\"totp-key\">".len();
        let end = setup.body[start..].find('<').unwrap() + start;
        // Shown in groups of four.
        setup.body[start..end].replace(' ', "")
    };
    let secret = base32_decode(&key);
    // A wrong first code does not activate it.
    let wrong = b
        .post(
            &s.url("/account/totp/confirm"),
            &[("csrf", &csrf), ("code", "000000")],
        )
        .await;
    assert_eq!(wrong.status, 400);
    let code = totp::code_at(&secret, totp::step_of(s.state.clock.now()));
    let done = b
        .post(
            &s.url("/account/totp/confirm"),
            &[("csrf", &csrf), ("code", &code)],
        )
        .await;
    assert_eq!(done.location.as_deref(), Some("/account"));
    let account = b.get(&s.url("/account")).await;
    assert!(
        account.body.contains("Authenticator app: Active"),
        "{}",
        account.body
    );
    secret
}

/// The bodies of the development outbox's messages.
fn mail_bodies(s: &TestServer) -> Vec<String> {
    outbox(s)
        .iter()
        .filter_map(|m| m["body"].as_str().map(str::to_string))
        .collect()
}

/// Answers a step-up page with a code sent by e-mail (read from the development outbox);
/// returns the page the browser lands on after it.
pub async fn step_up_by_email(s: &TestServer, b: &Browser, page: Page) -> Page {
    let tx = page.form_action().split('/').nth(2).unwrap().to_string();
    let page = b
        .get(&s.url(&format!("/interaction/{tx}?factor=email")))
        .await;
    let before = mail_bodies(s);
    let sent = b
        .post(
            &s.url(&format!("/interaction/{tx}/code")),
            &[("csrf", &page.hidden("csrf")), ("factor", "email")],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let code = mail_bodies(s)
        .into_iter()
        .filter(|m| !before.contains(m))
        .find_map(|m| idp_e2e::fakes::six_digits(&m))
        .expect("a code in the outbox");
    let page = b.get(&s.url(sent.location.as_deref().unwrap())).await;
    let done = b
        .post(
            &format!("{}{}", s.issuer, page.form_action()),
            &[
                ("csrf", &page.hidden("csrf")),
                ("factor", "email"),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    b.follow(&s.issuer, done).await
}

const SUBSTANTIAL: &str = "http%3A%2F%2Feidas.europa.eu%2FLoA%2Fsubstantial";

async fn step_up_asks_only_for_the_missing_factor(backend: Backend) {
    let s = server_with_client(backend).await;
    let b = Browser::new();
    let secret = enroll_totp(&s, &b).await;

    // The client's registered default_acr_values count for requests that name none, and
    // a request's own acr_values replace them.
    let defaults = |args: &[&str]| {
        let mut all = vec!["client", "update", "--id", "portal"];
        all.extend_from_slice(args);
        s.cli(&all).unwrap();
    };
    defaults(&[
        "--default-acr-value",
        "http://eidas.europa.eu/LoA/substantial",
    ]);
    let page_for = |extra: &str| {
        let (u, _) = authorize_url(&s, extra);
        let (s, b) = (&s, &b);
        async move { b.follow(&s.issuer, b.get(&u).await).await }
    };
    // The next step: the missing factor, or (no consent given yet) the consent page.
    let step = |page: Page| page.form_action().rsplit('/').next().unwrap().to_string();
    assert_eq!(step(page_for("").await), "factor", "default_acr_values");
    let low = "&acr_values=http%3A%2F%2Feidas.europa.eu%2FLoA%2Flow";
    assert_eq!(step(page_for(low).await), "consent");
    defaults(&["--clear-default-acr-values"]);
    assert_eq!(step(page_for("").await), "consent", "removed");

    // Signed in with a password already: a substantial request asks only for the code.
    let (u, verifier) = authorize_url(&s, &format!("&acr_values={SUBSTANTIAL}"));
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    assert!(page.form_action().ends_with("/factor"), "{}", page.body);
    assert!(page.body.contains("authenticator app"));
    let action = format!("{}{}", s.issuer, page.form_action());
    // The code used at enrollment cannot be used again.
    let used = totp::code_at(&secret, totp::step_of(s.state.clock.now()));
    let replay = b
        .post(
            &action,
            &[
                ("csrf", &page.hidden("csrf")),
                ("factor", "totp"),
                ("code", &used),
            ],
        )
        .await;
    assert_eq!(replay.status, 401);
    s.state.clock.advance(30);
    let code = totp::code_at(&secret, totp::step_of(s.state.clock.now()));
    let next = b
        .post(
            &action,
            &[
                ("csrf", &page.hidden("csrf")),
                ("factor", "totp"),
                ("code", &code),
            ],
        )
        .await;
    let back = b
        .login(
            &s.issuer,
            &s.url(next.location.as_deref().unwrap()),
            "anna",
            PASSWORD,
        )
        .await;
    let (status, t) = redeem(&s, &query(&back)["code"], &verifier).await;
    assert_eq!(status, 200, "{t}");
    let intro = introspect(&s, t["access_token"].as_str().unwrap()).await;
    assert_eq!(intro["acr"], "http://eidas.europa.eu/LoA/substantial");
    assert_eq!(intro["amr"], serde_json::json!(["pwd", "otp", "mfa"]));

    // The session is now substantial: no further prompt.
    let (u, _) = authorize_url(&s, &format!("&acr_values={SUBSTANTIAL}&prompt=none"));
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    assert!(query(page.location.as_deref().unwrap()).contains_key("code"));
}

async fn a_client_at_substantial_needs_a_second_factor(backend: Backend) {
    let s = server_with_client(backend).await;
    s.add_client(&[
        "--id",
        "tax",
        "--secret",
        SECRET,
        "--redirect-uri",
        REDIRECT,
        "--risk-level",
        "substantial",
    ]);
    let (u, _) = crate::flow::authorize_url_for(&s, "tax", "");
    // Without a second factor (no app, no phone, no e-mail) the login cannot reach the
    // client's level.
    s.add_user_with("bare", PASSWORD, None, None);
    let back = Browser::new().login(&s.issuer, &u, "bare", PASSWORD).await;
    assert_eq!(query(&back)["error"], "unmet_authentication_requirements");
    let b = Browser::new();
    let secret = enroll_totp(&s, &b).await;
    s.state.clock.advance(30);
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    assert!(page.form_action().ends_with("/factor"));
    let code = totp::code_at(&secret, totp::step_of(s.state.clock.now()));
    let next = b
        .post(
            &format!("{}{}", s.issuer, page.form_action()),
            &[
                ("csrf", &page.hidden("csrf")),
                ("factor", "totp"),
                ("code", &code),
            ],
        )
        .await;
    let back = b
        .login(
            &s.issuer,
            &s.url(next.location.as_deref().unwrap()),
            "anna",
            PASSWORD,
        )
        .await;
    assert!(query(&back).contains_key("code"), "{back}");
}

async fn recovery_codes_work_once(backend: Backend) {
    let s = server_with_client(backend).await;
    let b = Browser::new();
    enroll_totp(&s, &b).await;
    // Minting codes is a change too: from a stepped-up browser.
    let (admin, account) = account_with_step_up(&s).await;
    let codes_page = admin
        .post(
            &s.url("/account/recovery"),
            &[("csrf", &account.hidden("csrf"))],
        )
        .await;
    assert_eq!(codes_page.status, 200);
    let codes: Vec<String> = codes_page
        .body
        .match_indices("<code>")
        .map(|(i, _)| codes_page.body[i + 6..i + 20].to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    let (u, _) = authorize_url(&s, &format!("&acr_values={SUBSTANTIAL}"));
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    let tx_page = page.form_action().replace("/factor", "?factor=recovery");
    let page = b.get(&s.url(&tx_page)).await;
    assert!(page.body.contains("Recovery code"));
    let action = format!("{}{}", s.issuer, page.form_action());
    let ok = b
        .post(
            &action,
            &[
                ("csrf", &page.hidden("csrf")),
                ("factor", "recovery"),
                ("code", &codes[0]),
            ],
        )
        .await;
    assert_eq!(ok.status, 303);
    // The same code in a new sign-in is refused.
    let b2 = Browser::new();
    let (u, _) = authorize_url(&s, &format!("&acr_values={SUBSTANTIAL}"));
    let login = b2.follow(&s.issuer, b2.get(&u).await).await;
    let after = b2
        .post(
            &format!("{}{}", s.issuer, login.form_action()),
            &[
                ("csrf", &login.hidden("csrf")),
                ("username", "anna"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let page = b2.follow(&s.issuer, after).await;
    let action = format!("{}{}", s.issuer, page.form_action());
    let again = b2
        .post(
            &action,
            &[
                ("csrf", &page.hidden("csrf")),
                ("factor", "recovery"),
                ("code", &codes[0]),
            ],
        )
        .await;
    assert_eq!(again.status, 401);
    let other = b2
        .post(
            &action,
            &[
                ("csrf", &page.hidden("csrf")),
                ("factor", "recovery"),
                ("code", &codes[1]),
            ],
        )
        .await;
    assert_eq!(other.status, 303);
}

fn outbox(s: &TestServer) -> Vec<serde_json::Value> {
    let dir = s.dir.path().join("outbox");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|e| serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect()
}

async fn lockout_after_three_failures(backend: Backend) {
    let s = server_with_client(backend).await;
    let b = Browser::new();
    let (u, _) = authorize_url(&s, "");
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    let action = format!("{}{}", s.issuer, page.form_action());
    let csrf = page.hidden("csrf");
    let attempt = |user: &'static str, pw: &'static str| {
        let (b, action, csrf) = (&b, action.clone(), csrf.clone());
        async move {
            b.post(
                &action,
                &[
                    ("csrf", csrf.as_str()),
                    ("username", user),
                    ("password", pw),
                ],
            )
            .await
        }
    };
    for _ in 0..2 {
        let r = attempt("anna", "wrong").await;
        assert!(r.body.contains("incorrect"));
    }
    let third = attempt("anna", "wrong").await;
    assert!(
        third.body.contains("Too many failed attempts"),
        "{}",
        third.body
    );
    let right = attempt("anna", PASSWORD).await;
    assert_eq!(right.status, 401, "locked even with the right password");
    assert!(right.body.contains("Too many failed attempts"));
    let mail = outbox(&s);
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0]["to"], "anna@example.invalid");
    assert!(!mail[0]["body"].as_str().unwrap().contains(PASSWORD));

    // An unknown username behaves the same.
    for i in 0..3 {
        let r = attempt("nobody", "wrong").await;
        assert_eq!(r.body.contains("Too many failed attempts"), i == 2);
    }

    // After the lock runs out the right password works.
    s.state.clock.advance(61);
    let ok = attempt("anna", PASSWORD).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
}

async fn sessions_and_consents_can_be_ended(backend: Backend) {
    let s = server_with_client(backend).await;
    let phone = Browser::new();
    let t = tokens(&s, &phone).await;
    let laptop = Browser::new();
    enroll_totp(&s, &laptop).await;
    let account = laptop.get(&s.url("/account")).await;
    let ends: Vec<String> = account
        .body
        .split("href=\"/account/confirm?action=end-session&amp;sid=")
        .skip(1)
        .map(|r| r.split('"').next().unwrap().to_string())
        .collect();
    assert_eq!(
        ends.len(),
        3,
        "all sessions listed (the phone, the laptop, the one that enrolled the app)"
    );
    // Each names the browser and system it was signed in from, and the services used.
    assert!(
        account.body.contains("Unknown browser"),
        "reqwest names no browser"
    );
    assert!(account.body.contains("IP address: 127.0.0.1"));
    assert!(account.body.contains("Signed in to: Tax portal"));
    let consent = account
        .body
        .split("Tax portal</strong>: ")
        .nth(1)
        .unwrap_or("");
    assert!(
        consent.starts_with(
            "Your identifier in this service; Your name and username; Your e-mail address"
        ),
        "the consent is listed in words: {consent}"
    );

    // End the other sessions (the phone's among them), each after a confirmation page:
    // the phone's silent sign-in fails and its tokens are revoked.
    let mut ended = 0;
    for sid in &ends {
        let confirm = laptop
            .get(&s.url(&format!("/account/confirm?action=end-session&sid={sid}")))
            .await;
        assert_eq!(confirm.status, 200);
        assert!(
            confirm.body.contains("End the session on Unknown browser?"),
            "{}",
            confirm.body
        );
        if confirm
            .body
            .contains("You will be signed out of this browser.")
        {
            continue;
        }
        let res = laptop
            .post(
                &s.url(&confirm.form_action()),
                &[
                    ("csrf", &confirm.hidden("csrf")),
                    ("sid", &confirm.hidden("sid")),
                ],
            )
            .await;
        assert_eq!(
            res.location.as_deref(),
            Some("/account?changed=session-ended")
        );
        ended += 1;
    }
    assert_eq!(ended, 2);
    let account = laptop.get(&s.url("/account?changed=session-ended")).await;
    assert!(account.body.contains("The session was ended."));
    let csrf = account.hidden("csrf");
    assert_eq!(
        introspect(&s, t["refresh_token"].as_str().unwrap()).await["active"],
        false
    );
    let (u, _) = authorize_url(&s, "&prompt=none");
    let page = phone.follow(&s.issuer, phone.get(&u).await).await;
    assert_eq!(
        query(page.location.as_deref().unwrap())["error"],
        "login_required"
    );

    // Withdrawing consent revokes what the portal holds.
    let t = tokens(&s, &Browser::new()).await;
    let forged = laptop
        .post(
            &s.url("/account/consents/revoke"),
            &[("csrf", "forged"), ("client_id", "portal")],
        )
        .await;
    assert_eq!(forged.status, 400);
    assert_eq!(
        introspect(&s, t["refresh_token"].as_str().unwrap()).await["active"],
        true
    );
    let res = laptop
        .post(
            &s.url("/account/consents/revoke"),
            &[("csrf", &csrf), ("client_id", "portal")],
        )
        .await;
    assert_eq!(
        res.location.as_deref(),
        Some("/account?changed=consent-withdrawn")
    );
    assert_eq!(
        introspect(&s, t["refresh_token"].as_str().unwrap()).await["active"],
        false
    );
    let account = laptop
        .get(&s.url("/account?changed=consent-withdrawn"))
        .await;
    assert!(account.body.contains("Your permission was withdrawn."));
    assert!(
        !account.body.contains("Tax portal</strong>:"),
        "no consent left"
    );
    assert!(
        account.body.contains("(Tax portal)"),
        "the activity names the service"
    );
}

async fn attempts_are_rate_limited_per_address(backend: Backend) {
    let s =
        TestServer::start_configured(backend, None, |f, _| f.attempts_per_minute = Some(5)).await;
    s.add_client(&[
        "--id",
        "portal",
        "--secret",
        SECRET,
        "--redirect-uri",
        REDIRECT,
    ]);
    s.add_user("anna", PASSWORD);
    // Attempts are counted per minute of the clock: start at the beginning of one, so that
    // the six attempts below do not straddle two.
    let now = s.state.clock.now();
    s.state.clock.advance(60 - now.rem_euclid(60));
    let b = Browser::new();
    let (u, _) = authorize_url(&s, "");
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    let action = format!("{}{}", s.issuer, page.form_action());
    let csrf = page.hidden("csrf");
    for i in 0..5 {
        let user = format!("guess{i}");
        let r = b
            .post(
                &action,
                &[("csrf", &csrf), ("username", &user), ("password", "x")],
            )
            .await;
        assert_eq!(r.status, 401);
    }
    let r = b
        .post(
            &action,
            &[
                ("csrf", &csrf),
                ("username", "anna"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.body.contains("too many sign-in attempts"));
    s.state.clock.advance(60);
    let r = b
        .post(
            &action,
            &[
                ("csrf", &csrf),
                ("username", "anna"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
}

on_both_databases!(
    attempts_are_rate_limited_per_address,
    step_up_asks_only_for_the_missing_factor,
    a_client_at_substantial_needs_a_second_factor,
    recovery_codes_work_once,
    lockout_after_three_failures,
    sessions_and_consents_can_be_ended,
    a_forgotten_password_is_reset,
);

/// "Forgot your password?": the citizen proves it is them with a code by e-mail on the one
/// check path, then sets a new password once (eight at once: one is taken), every session
/// ends, and the new password signs in.
async fn a_forgotten_password_is_reset(backend: Backend) {
    let s = server_with_client(backend).await;
    let elsewhere = Browser::new();
    let t = tokens(&s, &elsewhere).await;
    let b = Browser::new();
    let (u, verifier) = authorize_url(&s, "");
    let login = b.follow(&s.issuer, b.get(&u).await).await;
    let tx = login.form_action().split('/').nth(2).unwrap().to_string();
    assert!(login.body.contains(&format!("/interaction/{tx}?forgot=1")));
    let forgot = b.get(&s.url(&format!("/interaction/{tx}?forgot=1"))).await;
    assert!(
        forgot.body.contains("Reset your password"),
        "{}",
        forgot.body
    );
    let offered = b
        .post(
            &s.url(&forgot.form_action()),
            &[("csrf", &forgot.hidden("csrf")), ("username", "anna")],
        )
        .await;
    assert_eq!(offered.status, 200, "{}", offered.body);
    let proved = step_up_by_email(&s, &b, offered).await;
    assert!(
        proved.body.contains("Choose a new password"),
        "{}",
        proved.body
    );
    assert!(
        b.get(&s.url("/account")).await.status == 303,
        "proving signs nobody in"
    );

    let action = s.url(&proved.form_action());
    let csrf = proved.hidden("csrf");
    // The same browser (its cookies shared) sends the form eight times at once.
    let attempts: Vec<_> = (0..8)
        .map(|i| {
            let (b, action, csrf) = (b.clone(), action.clone(), csrf.clone());
            tokio::spawn(async move {
                let password = format!("a fresh passphrase number {i}");
                let form = [
                    ("csrf", csrf.as_str()),
                    ("password", password.as_str()),
                    ("confirm", password.as_str()),
                ];
                (password.clone(), b.post(&action, &form).await)
            })
        })
        .collect();
    let mut results = Vec::new();
    for a in attempts {
        results.push(a.await.expect("task"));
    }
    let set: Vec<&(String, Page)> = results
        .iter()
        .filter(|(_, p)| p.body.contains("Your new password is set."))
        .collect();
    assert_eq!(set.len(), 1, "one reset of eight");
    assert!(results.iter().all(|(_, p)| p.status < 500));
    let fresh = set[0].0.clone();

    // Every session of the account ended with what it was given; the old password is gone.
    assert_eq!(
        introspect(&s, t["refresh_token"].as_str().unwrap()).await["active"],
        false
    );
    let action = format!("{}{}", s.issuer, set[0].1.form_action());
    let csrf = set[0].1.hidden("csrf");
    let old = b
        .post(
            &action,
            &[
                ("csrf", &csrf),
                ("username", "anna"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(old.status, 401);
    let new = b
        .post(
            &action,
            &[("csrf", &csrf), ("username", "anna"), ("password", &fresh)],
        )
        .await;
    let back = b.follow(&s.issuer, new).await;
    let code = query(back.location.as_deref().expect("back at the client"))
        .remove("code")
        .expect("a code");
    assert_eq!(redeem(&s, &code, &verifier).await.0, 200);
    assert!(
        mail_bodies(&s)
            .iter()
            .any(|m| m.contains("your password was changed"))
    );
}

/// One-time codes by e-mail (through a real SMTP exchange) and by SMS (through an HTTP
/// gateway): a code works once, a wrong one counts toward lockout, and sending is limited
/// per recipient.
async fn codes_by_email_and_sms(backend: Backend) {
    use idp::notify::{NotifyConfig, SmsConfig, SmtpConfig};
    use idp_e2e::fakes;
    let (smtp_port, mails) = fakes::smtp_server();
    let (gateway, texts) = fakes::http_gateway();
    let s = TestServer::start_configured(backend, None, |f, (_, dir)| {
        std::fs::write(
            dir.join("sms-auth"),
            "Authorization: Bearer gateway-token\n",
        )
        .unwrap();
        f.notify = Some(NotifyConfig {
            outbox_dir: None,
            smtp: Some(SmtpConfig {
                host: "127.0.0.1".into(),
                port: Some(smtp_port),
                username: None,
                password_file: None,
                from: "Gov ID <no-reply@id.example.gov>".into(),
                security: Some("none".into()),
            }),
            sms: Some(SmsConfig {
                url: gateway.clone(),
                auth_header_file: Some(dir.join("sms-auth")),
                body_template: r#"{"recipient": "{to}", "message": "{text}"}"#.into(),
                content_type: None,
            }),
        });
    })
    .await;
    s.add_client(&[
        "--id",
        "portal",
        "--secret",
        SECRET,
        "--redirect-uri",
        REDIRECT,
    ]);
    s.add_user("anna", PASSWORD);
    let b = Browser::new();
    let substantial =
        |extra: &str| authorize_url(&s, &format!("&acr_values={SUBSTANTIAL}{extra}")).0;

    // E-mail: sign in with the password, choose the e-mail code, send it, enter it.
    let login = b.follow(&s.issuer, b.get(&substantial("")).await).await;
    let after = b
        .post(
            &format!("{}{}", s.issuer, login.form_action()),
            &[
                ("csrf", &login.hidden("csrf")),
                ("username", "anna"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let page = b.follow(&s.issuer, after).await;
    let tx = page.form_action().split('/').nth(2).unwrap().to_string();
    let page = b
        .get(&s.url(&format!("/interaction/{tx}?factor=email")))
        .await;
    assert!(
        page.body.contains("registered with your account"),
        "{}",
        page.body
    );
    let sent = b
        .post(
            &s.url(&format!("/interaction/{tx}/code")),
            &[("csrf", &page.hidden("csrf")), ("factor", "email")],
        )
        .await;
    assert_eq!(
        sent.location.as_deref(),
        Some(format!("/interaction/{tx}?factor=email&sent=1").as_str())
    );
    let mail = mails
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("an e-mail over SMTP");
    assert!(mail.contains("anna@example.invalid") && mail.contains("Your sign-in code"));
    let code =
        fakes::six_digits(mail.split("\r\n\r\n").nth(1).unwrap()).expect("a code in the mail");
    let page = b.get(&s.url(sent.location.as_deref().unwrap())).await;
    let action = format!("{}{}", s.issuer, page.form_action());
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let r = b
        .post(
            &action,
            &[
                ("csrf", &page.hidden("csrf")),
                ("factor", "email"),
                ("code", wrong),
            ],
        )
        .await;
    assert_eq!(r.status, 401);
    let r = b
        .post(
            &action,
            &[
                ("csrf", &page.hidden("csrf")),
                ("factor", "email"),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let back = b
        .login(
            &s.issuer,
            &s.url(r.location.as_deref().unwrap()),
            "anna",
            PASSWORD,
        )
        .await;
    assert!(query(&back).contains_key("code"));

    // SMS, in a new browser: through the gateway, with its header and JSON body.
    let b = Browser::new();
    let login = b.follow(&s.issuer, b.get(&substantial("")).await).await;
    let after = b
        .post(
            &format!("{}{}", s.issuer, login.form_action()),
            &[
                ("csrf", &login.hidden("csrf")),
                ("username", "anna"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let page = b.follow(&s.issuer, after).await;
    let tx = page.form_action().split('/').nth(2).unwrap().to_string();
    let csrf = page.hidden("csrf");
    let sent = b
        .post(
            &s.url(&format!("/interaction/{tx}/code")),
            &[("csrf", &csrf), ("factor", "sms")],
        )
        .await;
    assert_eq!(sent.status, 303);
    let request = texts
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("a request to the gateway");
    assert!(
        request
            .to_ascii_lowercase()
            .contains("authorization: bearer gateway-token")
    );
    let body: serde_json::Value =
        serde_json::from_str(request.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["recipient"], "+36301234567");
    let code = fakes::six_digits(body["message"].as_str().unwrap()).unwrap();
    // Two more codes are allowed in ten minutes; the fourth is refused.
    for _ in 0..2 {
        let again = b
            .post(
                &s.url(&format!("/interaction/{tx}/code")),
                &[("csrf", &csrf), ("factor", "sms")],
            )
            .await;
        assert_eq!(again.status, 303);
    }
    let too_many = b
        .post(
            &s.url(&format!("/interaction/{tx}/code")),
            &[("csrf", &csrf), ("factor", "sms")],
        )
        .await;
    assert_eq!(too_many.status, 429);
    // Only the newest code counts; the first one no longer works.
    let latest = texts.lock().unwrap().last().cloned().unwrap();
    let latest: serde_json::Value =
        serde_json::from_str(latest.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let newest = fakes::six_digits(latest["message"].as_str().unwrap()).unwrap();
    let action = s.url(&format!("/interaction/{tx}/factor"));
    if newest != code {
        let old = b
            .post(
                &action,
                &[("csrf", &csrf), ("factor", "sms"), ("code", &code)],
            )
            .await;
        assert_eq!(old.status, 401);
    }
    let ok = b
        .post(
            &action,
            &[("csrf", &csrf), ("factor", "sms"), ("code", &newest)],
        )
        .await;
    assert_eq!(ok.status, 303);
    let reuse = b
        .post(
            &action,
            &[("csrf", &csrf), ("factor", "sms"), ("code", &newest)],
        )
        .await;
    assert_ne!(reuse.status, 303, "a code works once");
}

on_both_databases!(codes_by_email_and_sms);
