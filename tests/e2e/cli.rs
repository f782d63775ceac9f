//! The `idp` command line against a live server's database, and production cookie names.

use crate::*;

async fn client_and_user_administration(backend: Backend) {
    let s = TestServer::start(backend).await;
    s.cli(&["migrate"])
        .expect("migrate on an up-to-date database");
    s.add_client(&["--id", "a", "--secret", SECRET, "--redirect-uri", REDIRECT]);
    let refused: [&[&str]; 10] = [
        &[
            "client",
            "add",
            "--id",
            "a",
            "--secret",
            SECRET,
            "--redirect-uri",
            REDIRECT,
        ],
        &[
            "client",
            "add",
            "--id",
            "b",
            "--secret",
            "short",
            "--redirect-uri",
            REDIRECT,
        ],
        &[
            "client",
            "add",
            "--id",
            "b",
            "--secret",
            SECRET,
            "--redirect-uri",
            "http://rp.example/cb",
        ],
        &[
            "client",
            "add",
            "--id",
            "b",
            "--secret",
            SECRET,
            "--redirect-uri",
            "https://rp.example/cb#frag",
        ],
        &[
            "client",
            "add",
            "--id",
            "b c",
            "--secret",
            SECRET,
            "--redirect-uri",
            REDIRECT,
        ],
        &["client", "add", "--id", "b", "--redirect-uri", REDIRECT],
        &[
            "client",
            "add",
            "--id",
            "b",
            "--public",
            "--grant",
            "client_credentials",
            "--redirect-uri",
            REDIRECT,
        ],
        &[
            "client",
            "add",
            "--id",
            "b",
            "--secret",
            SECRET,
            "--redirect-uri",
            "https://*.example.gov/cb",
        ],
        &[
            "client",
            "add",
            "--id",
            "b",
            "--secret",
            SECRET,
            "--redirect-uri",
            REDIRECT,
            "--scope",
            "openid",
            "--scope",
            "payments",
        ],
        &[
            "client",
            "add",
            "--id",
            "b",
            "--secret",
            SECRET,
            "--redirect-uri",
            REDIRECT,
            "--risk-level",
            "extreme",
        ],
    ];
    // Each refused for its own reason (a renamed flag would be refused for another).
    let reasons = [
        "a client a exists already",
        "secret: at least 16 characters",
        "redirect_uris: http://rp.example/cb: must use https",
        "redirect_uris: https://rp.example/cb#frag: may not have a fragment",
        "id: 1-64 characters",
        "the following required arguments were not provided:\n  <--secret <SECRET>|--secret-stdin|--generate-secret|--public",
        "grant_types: a public client cannot use client_credentials",
        "redirect_uris: https://*.example.gov/cb: wildcards are not allowed",
        "scopes: unknown scope payments",
        "risk_level: extreme is not one of low substantial high",
    ];
    for (args, reason) in refused.iter().zip(reasons) {
        let refusal = s.cli(args).expect_err("refused");
        assert!(refusal.contains(reason), "{args:?}: {refusal}");
    }
    let unknown = s
        .cli(&[
            "client",
            "update",
            "--id",
            "a",
            "--scope",
            "openid",
            "--scope",
            "everything",
        ])
        .unwrap_err();
    assert!(unknown.contains("unknown scope everything"), "{unknown}");
    let wildcard = s
        .cli(&[
            "client",
            "update",
            "--id",
            "a",
            "--redirect-uri",
            "https://*.example.gov/cb",
        ])
        .unwrap_err();
    assert!(wildcard.contains("wildcards"), "{wildcard}");
    s.cli(&[
        "client",
        "update",
        "--id",
        "a",
        "--name",
        "Land registry",
        "--risk-level",
        "substantial",
        "--redirect-uri",
        REDIRECT,
        "--redirect-uri",
        "https://rp.example/cb2",
    ])
    .unwrap();
    s.cli(&["client", "show", "--id", "a"]).unwrap();
    assert_eq!(
        s.cli(&["client", "show", "--id", "nobody"]),
        Err("there is no client nobody".into())
    );
    let client = read(&s, |c| idp::store::clients::find(c, "a"))
        .await
        .unwrap();
    assert_eq!(client.name, "Land registry");
    assert_eq!(client.risk_level, "substantial");
    assert_eq!(client.redirect_uris, [REDIRECT, "https://rp.example/cb2"]);

    // The old secret stops working when it is rotated: the client is authenticated
    // (and refused the grant) before, and unknown after, as soon as the running server
    // has followed the change the command line made (within a second).
    let client_credentials = || async {
        reqwest::Client::new()
            .post(s.url("/token"))
            .basic_auth("a", Some(SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(client_credentials().await, 400);
    s.cli(&["client", "rotate-secret", "--id", "a"]).unwrap();
    let rotated = std::time::Instant::now();
    while client_credentials().await != 401 {
        assert!(
            rotated.elapsed() < std::time::Duration::from_millis(2500),
            "the old secret still works"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    s.cli(&["client", "list"]).unwrap();
    s.cli(&["client", "remove", "--id", "a"]).unwrap();
    assert_eq!(
        s.cli(&["client", "remove", "--id", "a"]),
        Err("there is no client a".into())
    );
    s.cli(&["user", "list"]).unwrap();
    s.cli(&["keys", "list"]).unwrap();
    s.cli(&["keys", "rotate"]).unwrap();
    let clients = read(&s, idp::store::clients::list).await;
    assert!(clients.is_empty());

    // Every act is on record, with who did it; the refused ones are not.
    let events = read(&s, |c| {
        use diesel::prelude::*;
        use idp::store::schema::audit_events;
        // In the order they were appended: the newest may not have their place in the chain
        // (`seq`) yet, which the sealer gives them within a second.
        Ok(audit_events::table
            .order(audit_events::id)
            .select(idp::audit::Event::as_select())
            .load(c)?)
    })
    .await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "client.created",
            "client.updated",
            "client.secret-rotated",
            "client.removed",
            "keys.rotated"
        ]
    );
    for e in &events {
        let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
        assert_eq!(detail["by"]["via"], "cli", "{detail}");
    }
    assert_eq!(events[0].client_id.as_deref(), Some("a"));
    s.cli(&["audit", "verify"]).expect("the chain is intact");
}

/// Runs a read on the server's database off the async executor.
async fn read<T: Send + 'static>(
    s: &TestServer,
    f: impl FnOnce(&mut idp::store::AnyConnection) -> idp::store::StoreResult<T> + Send + 'static,
) -> T {
    let db = s.state.db.clone();
    tokio::task::spawn_blocking(move || db.run(f))
        .await
        .unwrap()
        .unwrap()
}

/// Signs in with a password through the pages; returns the page the form leads to.
async fn password_attempt(s: &TestServer, browser: &Browser) -> Page {
    let (url, _) = authorize_url(s, "");
    let page = browser.follow(&s.issuer, browser.get(&url).await).await;
    let action = format!("{}{}", s.issuer, page.form_action());
    let csrf = page.hidden("csrf");
    let form = [
        ("csrf", csrf.as_str()),
        ("username", "anna"),
        ("password", PASSWORD),
    ];
    browser.post(&action, &form).await
}

/// An administrator disables an account: its sessions end, its refresh tokens stop
/// working, it cannot sign in; enabled again, it can. Contact data is validated.
async fn disabling_a_user_ends_sessions_and_tokens(backend: Backend) {
    let s = server_with_client(backend).await;
    let browser = Browser::new();
    let issued = tokens(&s, &browser).await;
    let refresh = issued["refresh_token"].as_str().expect("refresh token");
    let account = browser.get(&s.url("/account")).await;
    assert!(account.body.contains("Recent activity"), "signed in");
    s.cli(&["user", "show", "--username", "anna"]).unwrap();

    s.cli(&["user", "disable", "--username", "anna"]).unwrap();
    let account = browser
        .follow(&s.issuer, browser.get(&s.url("/account")).await)
        .await;
    assert!(!account.body.contains("Recent activity"), "session ended");
    let (status, body) = post_token(
        &s,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let refused = password_attempt(&s, &Browser::new()).await;
    assert_eq!(refused.status, 401, "no redirect to the client");
    assert!(refused.body.contains("incorrect"), "{}", refused.body);

    s.cli(&["user", "enable", "--username", "anna"]).unwrap();
    let accepted = password_attempt(&s, &Browser::new()).await;
    assert_eq!(accepted.status, 303, "{}", accepted.body);

    for (bad, reason) in [
        (
            ["--email", "not-an-email"],
            "email: \"not-an-email\" is not an e-mail address",
        ),
        (
            ["--phone", "0630 123 4567"],
            "phone: \"0630 123 4567\" is not in E.164 form",
        ),
        (["--name", " "], "name: may not be empty"),
    ] {
        let mut args = vec!["user", "update", "--username", "anna"];
        args.extend(bad);
        let refusal = s.cli(&args).expect_err("refused");
        assert!(refusal.contains(reason), "{args:?}: {refusal}");
    }
    s.cli(&[
        "user",
        "update",
        "--username",
        "anna",
        "--name",
        "Anna Nagy",
        "--clear-phone",
    ])
    .unwrap();
    let anna = read(&s, |c| idp::store::users::find_by_username(c, "anna"))
        .await
        .unwrap();
    assert_eq!(
        (anna.name.as_deref(), anna.phone),
        (Some("Anna Nagy"), None)
    );
    let kinds: Vec<String> = read(&s, move |c| idp::audit::of_user(c, &anna.id, 100))
        .await
        .into_iter()
        .rev()
        .map(|e| e.kind)
        .filter(|k| k.starts_with("user."))
        .collect();
    assert_eq!(
        kinds,
        [
            "user.created",
            "user.disabled",
            "user.enabled",
            "user.updated"
        ]
    );

    assert_eq!(
        s.cli(&["user", "disable", "--username", "nobody"]),
        Err("there is no user nobody".into())
    );
    s.cli(&["user", "remove", "--username", "anna"]).unwrap();
    assert_eq!(
        s.cli(&["user", "show", "--username", "anna"]),
        Err("there is no user anna".into())
    );
    let refused = password_attempt(&s, &Browser::new()).await;
    assert_eq!(refused.status, 401, "the account is gone");
}

/// Every command but `serve` and `migrate` refuses an installation that does not exist:
/// a mistyped data directory, a missing key file, a PostgreSQL database without the
/// schema. `migrate` creates it.
async fn commands_refuse_a_missing_installation(backend: Backend) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("typo");
    let mut settings = vec!["--data-dir".to_string(), dir.to_string_lossy().into_owned()];
    let mut pg_cleanup = None;
    if backend == Backend::Postgres {
        let base = postgres_base_url();
        let name = format!("idp_empty_{}", idp::crypto::random_id());
        let mut url = url::Url::parse(&base).unwrap();
        pg_exec(&base, &format!("CREATE DATABASE {name}"));
        url.set_path(&name);
        settings.extend(["--database-url".to_string(), url.to_string()]);
        pg_cleanup = Some((base, name));
    }
    let cli = |args: &[&str]| {
        let mut argv = vec!["idp".to_string()];
        argv.extend(settings.iter().cloned());
        argv.extend(args.iter().map(|s| s.to_string()));
        let cli =
            <idp::cli::Cli as clap::Parser>::try_parse_from(argv).map_err(|e| e.to_string())?;
        idp::cli::run(cli)
    };
    let commands: [&[&str]; 6] = [
        &["client", "list"],
        &[
            "client",
            "add",
            "--id",
            "portal",
            "--secret",
            SECRET,
            "--redirect-uri",
            REDIRECT,
        ],
        &["user", "list"],
        &["user", "disable", "--username", "anna"],
        &["keys", "list"],
        &["audit", "verify"],
    ];
    for args in commands {
        let refused = cli(args).expect_err("refused");
        let expected = match backend {
            Backend::Sqlite => "does not exist",
            Backend::Postgres => "holds no identity provider data",
        };
        assert!(refused.contains(expected), "{args:?}: {refused}");
        assert!(
            refused.contains("idp migrate"),
            "says what to do: {refused}"
        );
    }
    assert!(!dir.exists(), "nothing was created");
    cli(&["migrate"]).expect("migrate creates the installation");
    cli(&["client", "list"]).expect("now it exists");
    std::fs::remove_file(dir.join("kek.key")).unwrap();
    let refused = cli(&["client", "list"]).expect_err("no key file");
    assert!(refused.contains("kek.key"), "{refused}");
    if let Some((base, name)) = pg_cleanup {
        pg_exec(
            &base,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        );
    }
}

/// Outside development mode, cookies are `__Host-` prefixed and Secure.
async fn production_cookies(backend: Backend) {
    let s = TestServer::start_with(backend, Some("https://id.example.gov")).await;
    s.add_client(&[
        "--id",
        "portal",
        "--secret",
        SECRET,
        "--redirect-uri",
        REDIRECT,
    ]);
    let (url, _) = authorize_url(&s, "");
    let url = url.replace(&s.issuer, &s.base);
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&url)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("__Host-idp_browser="), "{cookie}");
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    let d: serde_json::Value = reqwest::get(format!("{}/.well-known/openid-configuration", s.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["token_endpoint"], "https://id.example.gov/token");
}

/// The key-encryption key moves from its file into a security module (SoftHSM2 through
/// PKCS#11): once imported, the commands work from the module, without the file.
async fn the_key_encryption_key_moves_into_a_security_module(backend: Backend) {
    let s = server_with_client(backend).await;
    let dir = s.dir.path();
    // A SoftHSM2 token of this test's own (SoftHSM2 finds it through the environment;
    // each test runs in a process of its own).
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    unsafe { std::env::set_var("SOFTHSM2_CONF", &conf) };
    let init = std::process::Command::new("softhsm2-util")
        .args([
            "--init-token",
            "--free",
            "--label",
            "idp",
            "--pin",
            "user-pin-1234",
            "--so-pin",
            "so-pin-5678",
        ])
        .output()
        .expect("softhsm2-util (Debian package softhsm2)");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let pin = dir.join("hsm-pin");
    std::fs::write(&pin, "user-pin-1234\n").unwrap();
    std::fs::set_permissions(&pin, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let settings = dir.join("hsm.toml");
    std::fs::write(
        &settings,
        format!(
            "[pkcs11]\nmodule = \"/usr/lib/softhsm/libsofthsm2.so\"\ntoken = \"idp\"\npin_file = \"{}\"\n",
            pin.display()
        ),
    )
    .unwrap();
    let with_module = |args: &[&str]| {
        let mut all = vec!["--config", settings.to_str().unwrap()];
        all.extend_from_slice(args);
        s.cli(&all)
    };
    let before = with_module(&["keys", "list"]).unwrap_err();
    assert!(before.contains("idp keys import-kek"), "{before}");
    with_module(&["keys", "import-kek"]).expect("imported");
    let again = with_module(&["keys", "import-kek"]).unwrap_err();
    assert!(again.contains("already"), "{again}");
    // Without the key file: from the module only.
    std::fs::remove_file(&s.kek_file).unwrap();
    assert!(s.cli(&["keys", "list"]).is_err(), "the key file is gone");
    with_module(&["keys", "rotate"]).expect("a new signing key sealed in the module");
    with_module(&["keys", "list"]).expect("keys listed");
}

/// The key-encryption key is rotated while the server keeps serving (`keys::rotation`):
/// a new key file, the instances taught it as an extra key, the two swapped, everything
/// re-sealed, the old key destroyed. Client secrets, signing keys and the derived keys
/// stay valid throughout.
async fn the_key_encryption_key_is_rotated_without_downtime(backend: Backend) {
    let s = server_with_client(backend).await;
    let dir = s.dir.path();
    let portal_authenticates = || async {
        let res = reqwest::Client::new()
            .post(s.url("/introspect"))
            .basic_auth("portal", Some(SECRET))
            .form(&[("token", "no such token")])
            .send()
            .await
            .expect("request");
        res.status().as_u16() == 200
    };
    assert!(portal_authenticates().await);
    let new = dir.join("kek-next.key");
    let new_arg = new.to_str().unwrap();
    s.cli(&["keys", "new-kek", "--file", new_arg])
        .expect("new key");
    let exists = s.cli(&["keys", "new-kek", "--file", new_arg]).unwrap_err();
    assert!(exists.contains("exists already"), "{exists}");
    let nothing = s.cli(&["keys", "rotate-kek"]).unwrap_err();
    assert!(nothing.contains("extra_kek_file"), "{nothing}");
    let with_extra = |name: &str, extra: &std::path::Path, args: &[&str]| {
        let settings = dir.join(name);
        std::fs::write(
            &settings,
            format!("extra_kek_file = \"{}\"\n", extra.display()),
        )
        .unwrap();
        let mut all = vec!["--config", settings.to_str().unwrap()];
        all.extend_from_slice(args);
        s.cli(&all)
    };
    // 1. The instances learn the next key.
    with_extra("step1.toml", &new, &["keys", "list"]).expect("both keys");
    // 2. The next key becomes the current one (the file the instances read), the old one
    //    the extra one; a signing key made now is sealed under the new key.
    let old = dir.join("kek-old.key");
    std::fs::rename(&s.kek_file, &old).unwrap();
    std::fs::rename(&new, &s.kek_file).unwrap();
    with_extra("step2.toml", &old, &["keys", "rotate"]).expect("signing keys rotated");
    // 3. Everything re-sealed.
    with_extra("step2.toml", &old, &["keys", "rotate-kek"]).expect("re-sealed");
    // 4. The old key destroyed: the new one alone opens everything.
    std::fs::remove_file(&old).unwrap();
    s.cli(&["keys", "list"]).expect("the new key alone");
    let db = idp::store::Db::open(&s.database_url, 1).unwrap();
    let kek = idp::keys::kek::Kek::load(&s.kek_file)
        .unwrap()
        .pinned(&db, idp::now())
        .expect("the derived keys open under the new key");
    let now = idp::now();
    db.run(|c| {
        assert!(
            idp::keys::KeySet::load(c, &kek, now).is_ok(),
            "signing keys"
        );
        let portal = idp::store::clients::find(c, "portal")?.unwrap();
        let check = kek
            .client_secrets()
            .check(portal.secret_hash.as_deref().unwrap(), SECRET);
        assert_eq!(check, idp::keys::kek::SecretCheck::Matches);
        Ok(())
    })
    .unwrap();
    // The server never stopped, and the client still authenticates.
    assert!(portal_authenticates().await);
    let kinds: Vec<String> = db
        .run(|c| {
            use diesel::prelude::*;
            use idp::store::schema::audit_events;
            Ok(audit_events::table
                .order(audit_events::id)
                .select(audit_events::kind)
                .load(c)?)
        })
        .unwrap();
    assert!(kinds.iter().any(|k| k == "kek.rotated"), "{kinds:?}");
    s.cli(&["audit", "verify"]).expect("the chain is intact");
}

on_both_databases!(
    the_key_encryption_key_is_rotated_without_downtime,
    the_key_encryption_key_moves_into_a_security_module,
    client_and_user_administration,
    disabling_a_user_ends_sessions_and_tokens,
    commands_refuse_a_missing_installation,
    production_cookies
);
