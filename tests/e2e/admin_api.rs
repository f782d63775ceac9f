//! The Admin API: bearer tokens with scope `admin` from a sign-in at `high` and an
//! administrative role, problem details, every change audited with who made it, and the
//! OpenAPI document that describes every route.

use crate::*;
use idp::policy::Level;
use serde_json::{Value, json};

const API: &str = "/admin/api/v1";
const HIGH: &str = "http://eidas.europa.eu/LoA/high";

/// An access token for the account `username`, issued under a new grant to the client
/// `admin-console` as the token endpoint issues one after a sign-in that reached `acr`
/// (the library's own issuing function; a passkey sign-in in the browser tests).
async fn token_for(s: &TestServer, username: &str, scope: &str, acr: Option<&str>) -> String {
    let state = s.state.clone();
    let (username, scope, acr) = (
        username.to_string(),
        scope.to_string(),
        acr.map(str::to_string),
    );
    tokio::task::spawn_blocking(move || {
        let now = state.clock.now();
        state
            .db
            .tx(|c| {
                let user = idp::store::users::find_by_username(c, &username)?.expect("user");
                let grant = idp::store::tokens::Grant {
                    id: idp::crypto::random_id(),
                    client_id: "admin-console".into(),
                    user_id: Some(user.id),
                    scope: scope.clone(),
                    sid: None,
                    acr,
                    amr: r#"["hwk","pwd","mfa"]"#.into(),
                    auth_time: Some(now),
                    claims: None,
                    revoked: false,
                    created_at: now,
                    subject: None,
                    jkt: None,
                    x5t: None,
                };
                idp::store::tokens::insert_grant(c, &grant)?;
                idp::oidc::tokens::issue_access_token(c, &grant, &scope, 600, now)
            })
            .expect("token issued")
    })
    .await
    .expect("join")
}

struct Answer {
    status: u16,
    content_type: String,
    challenge: String,
    body: Value,
}

async fn api(
    s: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = reqwest::Client::new().request(method, s.url(&format!("{API}{path}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("admin API request");
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (content_type, challenge) = (header("content-type"), header("www-authenticate"));
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    Answer {
        status,
        content_type,
        challenge,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

fn is_problem(a: &Answer, status: u16) {
    assert_eq!(a.status, status, "{:?}", a.body);
    assert_eq!(a.content_type, "application/problem+json", "{:?}", a.body);
    assert_eq!(a.body["status"], status);
    assert!(
        a.body["type"].is_string() && a.body["title"].is_string() && a.body["detail"].is_string()
    );
}

fn user_id(s: &TestServer, username: &str) -> String {
    let ctx = idp::admin::Context::from(&*s.state);
    idp::admin::users::show(
        &ctx,
        idp::admin::users::UserRef::Username(username),
        idp::now(),
    )
    .expect("user")
    .user
    .sub
}

async fn server(backend: Backend) -> TestServer {
    let s = server_with_client(backend).await;
    // The console the administrators sign in to: registered for the built-in admin scope.
    s.add_client(&[
        "--id",
        "admin-console",
        "--public",
        "--redirect-uri",
        "https://admin.example.gov/cb",
        "--scope",
        "openid",
        "--scope",
        "admin",
    ]);
    for (name, role) in [
        ("root", "administrator"),
        ("audrey", "auditor"),
        ("clara", "clerk"),
    ] {
        s.add_user(name, PASSWORD);
        s.cli(&["user", "grant-role", "--username", name, "--role", role])
            .expect("grant-role");
    }
    s
}

async fn authorisation(backend: Backend) {
    let s = server(backend).await;
    // No token, or one the provider did not issue.
    let a = api(&s, "GET", "/clients", None, None).await;
    is_problem(&a, 401);
    assert!(a.challenge.starts_with("Bearer"), "{}", a.challenge);
    let a = api(&s, "GET", "/clients", Some("not-a-token"), None).await;
    is_problem(&a, 401);
    assert!(
        a.challenge.contains("error=\"invalid_token\""),
        "{}",
        a.challenge
    );

    // A real token from a password sign-in at the token endpoint, without the admin scope.
    let t = tokens(&s, &Browser::new()).await;
    let a = api(&s, "GET", "/clients", t["access_token"].as_str(), None).await;
    is_problem(&a, 403);
    assert!(
        a.challenge.contains("insufficient_scope"),
        "{}",
        a.challenge
    );
    // An administrator's token without the admin scope.
    let t = token_for(&s, "root", "openid", Some(HIGH)).await;
    is_problem(&api(&s, "GET", "/clients", Some(&t), None).await, 403);

    // The admin scope, but a sign-in below high: RFC 9470 step-up challenge.
    let t = token_for(&s, "root", "openid admin", Some(Level::Substantial.acr())).await;
    let a = api(&s, "GET", "/clients", Some(&t), None).await;
    is_problem(&a, 401);
    assert!(
        a.challenge
            .contains("error=\"insufficient_user_authentication\"")
            && a.challenge.contains(&format!("acr_values=\"{HIGH}\"")),
        "{}",
        a.challenge
    );

    // A citizen without a role, and a clerk: refused.
    for name in ["anna", "clara"] {
        let t = token_for(&s, name, "openid admin", Some(HIGH)).await;
        is_problem(&api(&s, "GET", "/clients", Some(&t), None).await, 403);
        let new = json!({ "id": "nope", "redirect_uris": ["https://nope.example/cb"] });
        is_problem(&api(&s, "POST", "/clients", Some(&t), Some(new)).await, 403);
        is_problem(&api(&s, "GET", "/audit", Some(&t), None).await, 403);
    }

    // An auditor reads, but changes nothing.
    let auditor = token_for(&s, "audrey", "admin", Some(HIGH)).await;
    assert_eq!(
        api(&s, "GET", "/clients", Some(&auditor), None)
            .await
            .status,
        200
    );
    assert_eq!(
        api(&s, "GET", "/audit", Some(&auditor), None).await.status,
        200
    );
    assert_eq!(
        api(&s, "GET", "/audit/verify", Some(&auditor), None)
            .await
            .status,
        200
    );
    let new = json!({ "id": "nope", "redirect_uris": ["https://nope.example/cb"] });
    is_problem(
        &api(&s, "POST", "/clients", Some(&auditor), Some(new)).await,
        403,
    );
    is_problem(
        &api(&s, "POST", "/keys/rotate", Some(&auditor), None).await,
        403,
    );
    let anna = user_id(&s, "anna");
    is_problem(
        &api(
            &s,
            "POST",
            &format!("/users/{anna}/disable"),
            Some(&auditor),
            None,
        )
        .await,
        403,
    );

    // Taking the role away takes effect on the next request.
    s.cli(&[
        "user",
        "revoke-role",
        "--username",
        "audrey",
        "--role",
        "auditor",
    ])
    .expect("revoke-role");
    is_problem(&api(&s, "GET", "/clients", Some(&auditor), None).await, 403);

    // A revoked grant's token no longer works.
    let root = token_for(&s, "root", "admin", Some(HIGH)).await;
    assert_eq!(
        api(&s, "GET", "/users", Some(&root), None).await.status,
        200
    );
    let root_id = user_id(&s, "root");
    let ctx = idp::admin::Context::from(&*s.state);
    idp::admin::users::disable(
        &ctx,
        &idp::admin::Actor::Cli { os_user: None },
        idp::admin::users::UserRef::Id(&root_id),
        idp::now(),
    )
    .unwrap();
    is_problem(&api(&s, "GET", "/users", Some(&root), None).await, 401);
}

async fn administration_is_audited(backend: Backend) {
    let s = server(backend).await;
    let root = token_for(&s, "root", "openid admin", Some(HIGH)).await;
    let root_id = user_id(&s, "root");
    let t = Some(root.as_str());

    // Clients: create, validation errors, show, change, rotate the secret, remove.
    let new = json!({
        "id": "tax-portal",
        "name": "Tax portal",
        "redirect_uris": ["https://tax.example.gov/cb"],
        "risk_level": "substantial",
    });
    let a = api(&s, "POST", "/clients", t, Some(new.clone())).await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    assert_eq!(a.body["client"]["id"], "tax-portal");
    assert_eq!(a.body["client"]["risk_level"], "substantial");
    assert!(a.body["secret"].as_str().is_some_and(|s| s.len() >= 16));
    is_problem(&api(&s, "POST", "/clients", t, Some(new)).await, 409);
    let wildcard = json!({ "id": "w", "redirect_uris": ["https://*.example.gov/cb"] });
    let a = api(&s, "POST", "/clients", t, Some(wildcard)).await;
    is_problem(&a, 400);
    assert_eq!(a.body["field"], "redirect_uris");
    let scope = json!({ "id": "w", "redirect_uris": ["https://w.example/cb"], "scopes": ["openid", "nonsense"] });
    let a = api(&s, "POST", "/clients", t, Some(scope)).await;
    is_problem(&a, 400);
    assert_eq!(a.body["field"], "scopes");
    let a = api(&s, "POST", "/clients", t, Some(json!({ "id": 7 }))).await;
    is_problem(&a, 400);
    assert_eq!(a.body["field"], "body");
    let a = api(
        &s,
        "PATCH",
        "/clients/tax-portal",
        t,
        Some(json!({ "access_token_ttl": -1 })),
    )
    .await;
    is_problem(&a, 400);
    assert_eq!(a.body["field"], "access_token_ttl");
    is_problem(&api(&s, "GET", "/clients/none-such", t, None).await, 404);
    is_problem(&api(&s, "GET", "/no-such-resource", t, None).await, 404);
    is_problem(&api(&s, "PUT", "/clients", t, None).await, 405);

    let a = api(&s, "GET", "/clients/tax-portal", t, None).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["name"], "Tax portal");
    let change =
        json!({ "redirect_uris": ["https://tax.example.gov/cb2"], "scopes": ["openid", "admin"] });
    let a = api(&s, "PATCH", "/clients/tax-portal", t, Some(change)).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["changed"], json!(["redirect_uris", "scopes"]));
    let a = api(&s, "POST", "/clients/tax-portal/secret", t, None).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert!(a.body["secret"].is_string());
    let a = api(&s, "GET", "/clients", t, None).await;
    assert!(
        a.body
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == "tax-portal")
    );
    assert_eq!(
        api(&s, "DELETE", "/clients/tax-portal", t, None)
            .await
            .status,
        204
    );
    is_problem(&api(&s, "GET", "/clients/tax-portal", t, None).await, 404);

    // Users: search, show, disable, enable, unlock, remove.
    let a = api(&s, "GET", "/users?q=ANN", t, None).await;
    assert_eq!(a.status, 200);
    let found: Vec<&str> = a
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["anna"]);
    let anna = user_id(&s, "anna");
    let a = api(&s, "GET", &format!("/users/{anna}"), t, None).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["username"], "anna");
    assert!(a.body["factors"].is_array());
    assert_eq!(a.body["roles"], json!([]));
    let a = api(&s, "GET", &format!("/users/{root_id}"), t, None).await;
    assert_eq!(a.body["roles"], json!(["administrator"]));
    let a = api(&s, "POST", &format!("/users/{anna}/disable"), t, None).await;
    assert_eq!(
        (a.status, &a.body["changed"]),
        (200, &json!(true)),
        "{:?}",
        a.body
    );
    let a = api(&s, "POST", &format!("/users/{anna}/enable"), t, None).await;
    assert_eq!((a.status, &a.body["changed"]), (200, &json!(true)));
    let a = api(&s, "POST", &format!("/users/{anna}/unlock"), t, None).await;
    assert_eq!((a.status, &a.body["unlocked"]), (200, &json!(0)));
    is_problem(&api(&s, "GET", "/users/nobody", t, None).await, 404);
    is_problem(&api(&s, "GET", "/users?bogus=1", t, None).await, 400);
    let clara = user_id(&s, "clara");
    assert_eq!(
        api(&s, "DELETE", &format!("/users/{clara}"), t, None)
            .await
            .status,
        204
    );

    // Keys.
    let a = api(&s, "POST", "/keys/rotate", t, None).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let kids = a.body["kids"].clone();
    let a = api(&s, "GET", "/keys", t, None).await;
    assert!(
        a.body
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == kids[0] && k["active"] == true)
    );

    // Every change is in the log, by this administrator through the API; pages chain.
    let a = api(&s, "GET", "/audit?kind=role.granted&limit=2", t, None).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["events"].as_array().unwrap().len(), 2);
    let after = a.body["next_after"].as_i64().expect("a next page");
    let a = api(
        &s,
        "GET",
        &format!("/audit?kind=role.granted&after={after}"),
        t,
        None,
    )
    .await;
    assert_eq!(a.body["events"].as_array().unwrap().len(), 1);
    assert!(a.body["next_after"].is_null());
    assert_eq!(a.body["events"][0]["detail"]["by"]["via"], "cli");

    let start = idp::now() - 3600;
    let a = api(
        &s,
        "GET",
        &format!("/audit?from={start}&limit=1000"),
        t,
        None,
    )
    .await;
    let by_api: Vec<(String, Option<String>)> = a.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["detail"]["by"] == json!({ "via": "admin_api", "user_id": root_id }))
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["client_id"]
                    .as_str()
                    .or(e["user_id"].as_str())
                    .map(str::to_string),
            )
        })
        .collect();
    let expected: Vec<(String, Option<String>)> = [
        ("client.created", Some("tax-portal")),
        ("client.updated", Some("tax-portal")),
        ("client.secret-rotated", Some("tax-portal")),
        ("client.removed", Some("tax-portal")),
        ("user.disabled", Some(anna.as_str())),
        ("user.enabled", Some(anna.as_str())),
        ("factor.unlocked", Some(anna.as_str())),
        ("user.removed", Some(clara.as_str())),
        ("keys.rotated", None),
    ]
    .iter()
    .map(|(k, s)| (k.to_string(), s.map(str::to_string)))
    .collect();
    assert_eq!(by_api, expected);
    let a = api(
        &s,
        "GET",
        &format!("/audit?user={anna}&kind=user.disabled"),
        t,
        None,
    )
    .await;
    assert_eq!(a.body["events"].as_array().unwrap().len(), 1);
    is_problem(&api(&s, "GET", "/audit?kind=no.such", t, None).await, 400);
    is_problem(&api(&s, "GET", "/audit?limit=0", t, None).await, 400);
    is_problem(&api(&s, "GET", "/audit?from=abc", t, None).await, 400);
    let a = api(&s, "GET", "/audit/verify", t, None).await;
    assert_eq!(a.body["intact"], true, "{:?}", a.body);
    s.cli(&["audit", "verify"]).expect("the chain is intact");
}

async fn openapi_describes_every_route(backend: Backend) {
    let s = TestServer::start(backend).await;
    let res = reqwest::get(s.url(&format!("{API}/openapi.json")))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let doc: Value = serde_json::from_str(&res.text().await.unwrap()).expect("JSON");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    let served = [
        ("get", "/clients"),
        ("post", "/clients"),
        ("get", "/clients/{id}"),
        ("patch", "/clients/{id}"),
        ("delete", "/clients/{id}"),
        ("post", "/clients/{id}/secret"),
        ("get", "/users"),
        ("post", "/users"),
        ("patch", "/users/{id}"),
        ("get", "/me"),
        ("get", "/users/lookup"),
        ("post", "/users/{id}/enrolment/check"),
        ("get", "/users/{id}"),
        ("delete", "/users/{id}"),
        ("post", "/users/{id}/disable"),
        ("post", "/users/{id}/enable"),
        ("post", "/users/{id}/unlock"),
        ("post", "/users/{id}/sessions/end"),
        ("delete", "/users/{id}/factors/{factor}"),
        ("delete", "/sessions/{id}"),
        ("get", "/policy"),
        ("put", "/policy"),
        ("post", "/users/{id}/enrolment/face/begin"),
        ("post", "/users/{id}/enrolment/face"),
        ("post", "/users/{id}/enrolment/voice/begin"),
        ("post", "/users/{id}/enrolment/voice"),
        ("get", "/audit"),
        ("get", "/audit/verify"),
        ("get", "/audit/export"),
        ("get", "/audit/checkpoints"),
        ("get", "/audit/stats"),
        ("get", "/keys"),
        ("post", "/keys/rotate"),
        ("post", "/keys/{id}/retire"),
        ("get", "/registrations"),
        ("get", "/registrations/{id}"),
        ("get", "/registrations/{id}/images/{which}"),
        ("post", "/registrations/{id}/approve"),
        ("post", "/registrations/{id}/reject"),
        ("get", "/openapi.json"),
    ];
    let paths = doc["paths"].as_object().expect("paths");
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        served.len(),
        "{:?}",
        paths.keys().collect::<Vec<_>>()
    );
    for (method, path) in served {
        let op = &doc["paths"][format!("{API}{path}")][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        assert!(op["responses"].is_object(), "{method} {path}");
        // And it is served: without a token, the answer is 401, not 404 or 405.
        if path != "/openapi.json" {
            let a = api(
                &s,
                &method.to_uppercase(),
                &path
                    .replace("{id}", "x")
                    .replace("{which}", "face")
                    .replace("{factor}", "f"),
                None,
                None,
            )
            .await;
            assert_eq!(a.status, 401, "{method} {path}");
        }
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

on_both_databases!(
    authorisation,
    administration_is_audited,
    openapi_describes_every_route
);

/// Asking for the admin scope makes the sign-in require level high: a password does not
/// get an authorization code.
async fn the_admin_scope_requires_high(backend: Backend) {
    let s = server_with_client(backend).await;
    s.cli(&[
        "client", "update", "--id", "portal", "--scope", "openid", "--scope", "admin",
    ])
    .expect("client update");
    let verifier = idp::crypto::random_token();
    let url = s.url(&format!(
        "/authorize?client_id=portal&response_type=code&scope=openid%20admin&redirect_uri={}&state=st&nonce=n&code_challenge={}&code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        idp::crypto::pkce_s256(&verifier),
    ));
    let b = Browser::new();
    let page = b.follow(&s.issuer, b.get(&url).await).await;
    let action = format!("{}{}", s.issuer, page.form_action());
    let next = b
        .post(
            &action,
            &[
                ("csrf", &page.hidden("csrf")),
                ("username", "anna"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let after = b.follow(&s.issuer, next).await;
    let location = after.location.clone().expect("back to the client");
    let q = query(&location);
    assert!(!q.contains_key("code"), "{location}");
    assert_eq!(
        q.get("error").map(String::as_str),
        Some("unmet_authentication_requirements"),
        "{location}"
    );
}

on_both_databases!(the_admin_scope_requires_high);

/// Malformed input is refused with a problem detail, never a server error.
async fn garbage_is_a_client_error(backend: Backend) {
    let s = server(backend).await;
    let root = token_for(&s, "root", "admin", Some(HIGH)).await;
    let client = reqwest::Client::new();
    let bodies: [&[u8]; 8] = [
        b"{",
        b"[]",
        b"null",
        b"\xff\xfe",
        br#"{"id": "x", "redirect_uris": "https://x.example/cb"}"#,
        br#"{"id": "x", "access_token_ttl": 1e300}"#,
        br#"{"id": "x", "redirect_uris": ["https://x.example/cb"], "unknown": 1}"#,
        br#"{"id": "\u0000", "redirect_uris": ["https://x.example/cb"]}"#,
    ];
    for path in ["/clients", "/clients/portal/secret"] {
        for b in bodies {
            let res = client
                .post(s.url(&format!("{API}{path}")))
                .bearer_auth(&root)
                .header("content-type", "application/json")
                .body(b.to_vec())
                .send()
                .await
                .unwrap();
            assert_eq!(
                res.status().as_u16(),
                400,
                "{path} {:?}",
                String::from_utf8_lossy(b)
            );
        }
    }
    for path in [
        "/audit?limit=abc",
        "/audit?after=99999999999999999999999",
        "/audit?from=10&until=5",
        "/users?q=%FF",
        "/users/%00",
        "/clients/..%2F..",
    ] {
        let a = api(&s, "GET", path, Some(&root), None).await;
        assert!(a.status < 500, "{path}: {}", a.status);
        if a.status >= 400 {
            assert_eq!(a.content_type, "application/problem+json", "{path}");
        }
    }
    let res = client
        .get(s.url(&format!("{API}/clients")))
        .header("authorization", "Bearer")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
}

on_both_databases!(garbage_is_a_client_error);

/// GET with a bearer token; the body as text.
async fn get_text(s: &TestServer, path: &str, token: &str) -> (u16, String, String) {
    let res = reqwest::Client::new()
        .get(s.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, res.text().await.unwrap_or_default())
}

/// The audit log leaves the provider as JSON lines that a third party verifies with the
/// published checkpoint keys alone; one changed line is named. Checkpoints and sign-in
/// statistics are there for auditors, not for clerks.
async fn the_audit_export_verifies_offline(backend: Backend) {
    let s = server(backend).await;
    let b = Browser::new();
    tokens(&s, &b).await;
    // Seals what is pending and signs a checkpoint at once.
    s.cli(&["audit", "verify"]).expect("intact");
    let auditor = token_for(&s, "audrey", "openid admin", Some(HIGH)).await;
    let (status, ct, export) = get_text(&s, &format!("{API}/audit/export"), &auditor).await;
    assert_eq!(status, 200, "{export}");
    assert_eq!(ct, "application/x-ndjson");
    assert!(export.lines().count() > 5, "{export}");
    let keys = reqwest::get(s.url("/audit/keys")).await.unwrap();
    assert_eq!(keys.status(), 200);
    let keys = keys.text().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (export_file, keys_file) = (dir.path().join("audit.jsonl"), dir.path().join("keys.json"));
    std::fs::write(&export_file, &export).unwrap();
    std::fs::write(&keys_file, &keys).unwrap();
    let verify = |file: &std::path::Path| {
        s.cli(&[
            "audit",
            "verify-export",
            file.to_str().unwrap(),
            "--keys",
            keys_file.to_str().unwrap(),
        ])
    };
    verify(&export_file).expect("the export verifies");
    // The third event's detail changed on the way.
    let mut lines: Vec<Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let third = lines
        .iter_mut()
        .find(|l| l["type"] == "event" && l["seq"] == 3)
        .unwrap();
    third["detail"] = json!("{\"by\":{\"via\":\"cli\"}}");
    let altered: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&export_file, altered).unwrap();
    let refused = verify(&export_file).unwrap_err();
    assert!(refused.contains("event 3 was altered"), "{refused}");

    let a = api(
        &s,
        "GET",
        "/audit/checkpoints?limit=5",
        Some(&auditor),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert!(a.body[0]["jws"].as_str().unwrap().split('.').count() == 3);
    let public = reqwest::get(s.url("/audit/checkpoint"))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(public["seq"], a.body[0]["seq"]);

    let now = idp::now();
    let path = format!(
        "/audit/stats?from={}&until={}&bucket=60",
        now - 600,
        now + 60
    );
    let a = api(&s, "GET", &path, Some(&auditor), None).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let buckets = a.body["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 11);
    let succeeded: i64 = buckets
        .iter()
        .map(|b| b["succeeded"].as_i64().unwrap())
        .sum();
    assert_eq!(succeeded, 1, "one password sign-in");
    let a = api(
        &s,
        "GET",
        "/audit/stats?from=10&until=5",
        Some(&auditor),
        None,
    )
    .await;
    is_problem(&a, 400);
    assert_eq!(a.body["field"], "until");

    let clerk = token_for(&s, "clara", "openid admin", Some(HIGH)).await;
    let (status, _, _) = get_text(&s, &format!("{API}/audit/export"), &clerk).await;
    assert_eq!(status, 403);
}

on_both_databases!(the_audit_export_verifies_offline);

/// A key rotated out can be withdrawn at once (it leaked); the key that signs cannot.
async fn a_retired_key_is_no_longer_published(backend: Backend) {
    let s = server(backend).await;
    let root = token_for(&s, "root", "openid admin", Some(HIGH)).await;
    let old: Vec<String> = api(&s, "GET", "/keys", Some(&root), None)
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    let a = api(
        &s,
        "POST",
        &format!("/keys/{}/retire", old[0]),
        Some(&root),
        None,
    )
    .await;
    is_problem(&a, 400);
    assert_eq!(a.body["field"], "kid");
    assert_eq!(
        api(&s, "POST", "/keys/rotate", Some(&root), None)
            .await
            .status,
        200
    );
    let auditor = token_for(&s, "audrey", "openid admin", Some(HIGH)).await;
    let path = format!("/keys/{}/retire", old[0]);
    is_problem(&api(&s, "POST", &path, Some(&auditor), None).await, 403);
    let a = api(&s, "POST", &path, Some(&root), None).await;
    assert_eq!(a.status, 204, "{:?}", a.body);
    let jwks = reqwest::get(s.url("/jwks"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!jwks.contains(&old[0]), "{jwks}");
    assert!(
        jwks.contains(&old[1]),
        "the other old key is still published"
    );
    is_problem(&api(&s, "POST", &path, Some(&root), None).await, 404);
}

on_both_databases!(a_retired_key_is_no_longer_published);

/// The registration queue is the clerks' (and administrators'); an auditor does not see
/// citizens' document photos. Bad input is a problem detail naming the field.
async fn the_registration_queue_is_for_clerks(backend: Backend) {
    let s = server(backend).await;
    let clerk = token_for(&s, "clara", "openid admin", Some(HIGH)).await;
    let root = token_for(&s, "root", "openid admin", Some(HIGH)).await;
    let auditor = token_for(&s, "audrey", "openid admin", Some(HIGH)).await;
    for t in [&clerk, &root] {
        let a = api(&s, "GET", "/registrations?state=pending", Some(t), None).await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        assert_eq!(a.body["items"], json!([]));
    }
    is_problem(
        &api(&s, "GET", "/registrations", Some(&auditor), None).await,
        403,
    );
    let a = api(&s, "GET", "/registrations?state=draft", Some(&clerk), None).await;
    is_problem(&a, 400);
    assert_eq!(a.body["field"], "state");
    is_problem(
        &api(&s, "GET", "/registrations/nope", Some(&clerk), None).await,
        404,
    );
    let a = api(
        &s,
        "GET",
        "/registrations/nope/images/passport",
        Some(&clerk),
        None,
    )
    .await;
    is_problem(&a, 400);
    assert_eq!(a.body["field"], "which");
    is_problem(
        &api(
            &s,
            "POST",
            "/registrations/nope/approve",
            Some(&clerk),
            None,
        )
        .await,
        404,
    );
    let a = api(
        &s,
        "POST",
        "/registrations/nope/reject",
        Some(&clerk),
        Some(json!({ "why": "x" })),
    )
    .await;
    is_problem(&a, 400);
    assert_eq!(a.body["field"], "body");
}

on_both_databases!(the_registration_queue_is_for_clerks);

/// The policy is read by auditors and changed by administrators: a new scope level shows
/// in discovery at once, a new lockout rule applies to the next attempts, and a policy
/// that cannot be is refused naming its part.
async fn the_policy_is_changed_over_the_api(backend: Backend) {
    let s = server(backend).await;
    let root = token_for(&s, "root", "openid admin", Some(HIGH)).await;
    let auditor = token_for(&s, "audrey", "openid admin", Some(HIGH)).await;
    let a = api(&s, "GET", "/policy", Some(&auditor), None).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["scopes"]["admin"], "high");
    assert_eq!(a.body["lockout"]["attempts"], 3);
    let mut policy = a.body.clone();
    is_problem(
        &api(&s, "PUT", "/policy", Some(&auditor), Some(policy.clone())).await,
        403,
    );

    let mut bad = policy.clone();
    bad["lockout"]["attempts"] = json!(0);
    let a = api(&s, "PUT", "/policy", Some(&root), Some(bad)).await;
    is_problem(&a, 400);
    assert_eq!(a.body["field"], "lockout");
    let mut bad = policy.clone();
    bad["levels"]["substantial"] = json!([["voice"]]);
    let a = api(&s, "PUT", "/policy", Some(&root), Some(bad)).await;
    assert_eq!(a.body["field"], "levels");

    policy["scopes"]["payments"] = json!("high");
    policy["lockout"]["attempts"] = json!(5);
    let a = api(&s, "PUT", "/policy", Some(&root), Some(policy.clone())).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let discovery = discovery(&s).await;
    assert!(
        discovery["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("payments")),
        "{discovery}"
    );
    // The command line follows the stored policy: a client may be given the new scope.
    s.add_client(&[
        "--id",
        "bank",
        "--generate-secret",
        "--grant",
        "client_credentials",
        "--scope",
        "payments",
    ]);
    // Three wrong passwords no longer lock: five do.
    let b = Browser::new();
    for _ in 0..3 {
        let (u, _) = authorize_url(&s, "");
        let page = b.follow(&s.issuer, b.get(&u).await).await;
        let action = format!("{}{}", s.issuer, page.form_action());
        let form = [
            ("csrf", page.hidden("csrf")),
            ("username", "anna".into()),
            ("password", "wrong".into()),
        ];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        b.post(&action, &form).await;
    }
    let anna = user_id(&s, "anna");
    let a = api(&s, "GET", &format!("/users/{anna}"), Some(&auditor), None).await;
    assert_eq!(a.body["locked"], json!([]), "{:?}", a.body);
    let events = api(
        &s,
        "GET",
        "/audit?kind=policy.changed",
        Some(&auditor),
        None,
    )
    .await;
    let by = &events.body["events"][0]["detail"]["by"];
    assert_eq!(by["user_id"], user_id(&s, "root"));
}

on_both_databases!(the_policy_is_changed_over_the_api);

/// An administrator ends a citizen's session (its tokens stop working) and removes a lost
/// sign-in method (the citizen is told); the password is not removed that way.
async fn sessions_and_factors_are_ended_over_the_api(backend: Backend) {
    let s = server(backend).await;
    let root = token_for(&s, "root", "openid admin", Some(HIGH)).await;
    let b = Browser::new();
    crate::factors::enroll_totp(&s, &b).await;
    let t = tokens(&s, &Browser::new()).await;
    let access = t["access_token"].as_str().unwrap().to_string();
    let url = s.url("/userinfo");
    let userinfo = |token: String| {
        let url = url.clone();
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(userinfo(access.clone()).await, 200);
    let anna = user_id(&s, "anna");
    let details = api(&s, "GET", &format!("/users/{anna}"), Some(&root), None).await;
    let sessions = details.body["sessions"].as_array().unwrap().clone();
    assert!(sessions.len() >= 2, "{sessions:?}");
    for session in &sessions {
        let sid = session["sid"].as_str().unwrap();
        let a = api(&s, "DELETE", &format!("/sessions/{sid}"), Some(&root), None).await;
        assert_eq!(a.status, 204, "{:?}", a.body);
    }
    assert_eq!(
        userinfo(access).await,
        401,
        "the session's tokens are revoked"
    );
    is_problem(
        &api(&s, "DELETE", "/sessions/gone", Some(&root), None).await,
        404,
    );
    let a = api(
        &s,
        "POST",
        &format!("/users/{anna}/sessions/end"),
        Some(&root),
        None,
    )
    .await;
    assert_eq!(a.body["ended"], 0);

    let factors = details.body["factors"].as_array().unwrap();
    let id_of = |kind: &str| {
        factors
            .iter()
            .find(|f| f["kind"] == kind)
            .map(|f| f["id"].as_str().unwrap().to_string())
            .unwrap()
    };
    let a = api(
        &s,
        "DELETE",
        &format!("/users/{anna}/factors/{}", id_of("password")),
        Some(&root),
        None,
    )
    .await;
    is_problem(&a, 400);
    assert_eq!(a.body["field"], "factor");
    let totp = id_of("totp");
    let path = format!("/users/{anna}/factors/{totp}");
    let auditor = token_for(&s, "audrey", "openid admin", Some(HIGH)).await;
    is_problem(&api(&s, "DELETE", &path, Some(&auditor), None).await, 403);
    assert_eq!(
        api(&s, "DELETE", &path, Some(&root), None).await.status,
        204
    );
    is_problem(&api(&s, "DELETE", &path, Some(&root), None).await, 404);
    let after = api(&s, "GET", &format!("/users/{anna}"), Some(&root), None).await;
    assert!(
        after.body["factors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["kind"] != "totp")
    );
    let outbox = std::fs::read_dir(s.dir.path().join("outbox")).unwrap();
    let told = outbox
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .any(|m| {
            m.contains("anna@example.invalid") && m.contains("the help desk removed one of your")
        });
    assert!(told, "the citizen is told");
}

on_both_databases!(sessions_and_factors_are_ended_over_the_api);

/// A postal address is set with the account or changed over the API (replaced as a whole,
/// `null` removes it), checked like every other value; the audit log says only that it
/// changed.
async fn an_address_is_set_over_the_api(backend: Backend) {
    let s = server(backend).await;
    let root = token_for(&s, "root", "openid admin", Some(HIGH)).await;
    let address = json!({ "street_address": "Fő utca 1.\n2. emelet 3.", "locality": "Budapest",
                          "postal_code": "1011", "country": "HU" });
    let new =
        |address: Value| json!({ "username": "bea", "password": PASSWORD, "address": address });
    for bad in [
        json!({}),
        json!({ "locality": "x".repeat(201) }),
        json!({ "region": "a\tb" }),
    ] {
        let a = api(&s, "POST", "/users", Some(&root), Some(new(bad))).await;
        is_problem(&a, 400);
        assert_eq!(a.body["field"], "address", "{:?}", a.body);
    }
    // A part the claim does not have is refused, not dropped.
    let a = api(
        &s,
        "POST",
        "/users",
        Some(&root),
        Some(new(json!({ "city": "Budapest" }))),
    )
    .await;
    is_problem(&a, 400);
    let a = api(
        &s,
        "POST",
        "/users",
        Some(&root),
        Some(new(address.clone())),
    )
    .await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    assert_eq!(a.body["address"], address);
    let sub = a.body["sub"].as_str().unwrap().to_string();
    let path = format!("/users/{sub}");
    let moved = json!({ "locality": "Debrecen", "country": "Hungary" });
    let a = api(
        &s,
        "PATCH",
        &path,
        Some(&root),
        Some(json!({ "address": moved })),
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["address"], moved, "replaced as a whole");
    assert_eq!(a.body["changed"], json!(["address"]));
    let shown = api(&s, "GET", &path, Some(&root), None).await;
    assert_eq!(shown.body["address"], moved);
    let a = api(
        &s,
        "PATCH",
        &path,
        Some(&root),
        Some(json!({ "name": "Bea" })),
    )
    .await;
    assert_eq!(a.body["address"], moved, "left out, kept");
    let a = api(
        &s,
        "PATCH",
        &path,
        Some(&root),
        Some(json!({ "address": null })),
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["address"], Value::Null);
    let log = api(&s, "GET", &format!("/audit?user={sub}"), Some(&root), None).await;
    assert_eq!(log.status, 200, "{:?}", log.body);
    // Whether there is an address after each change, never what it is.
    let mut changes: Vec<String> = log.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["detail"]["changed"]["address"])
        .filter(|c| !c.is_null())
        .map(Value::to_string)
        .collect();
    changes.sort();
    assert_eq!(changes, ["false", "true"], "{:?}", log.body);
    let text = log.body.to_string();
    for value in ["Budapest", "Debrecen", "Fő utca"] {
        assert!(!text.contains(value), "{value} in the audit log: {text}");
    }
}

on_both_databases!(an_address_is_set_over_the_api);

/// Accounts are created and changed over the API by the same rules as on the command line;
/// anyone with a role learns who they are and what they may do.
async fn users_are_created_and_changed_over_the_api(backend: Backend) {
    let s = server(backend).await;
    let root = token_for(&s, "root", "openid admin", Some(HIGH)).await;
    let new = |password: &str| {
        json!({ "username": "bea", "password": password, "email": "bea@example.invalid",
                "name": "Bea Example" })
    };
    let a = api(&s, "POST", "/users", Some(&root), Some(new("password"))).await;
    is_problem(&a, 400);
    assert_eq!(a.body["field"], "password");
    let a = api(&s, "POST", "/users", Some(&root), Some(new(PASSWORD))).await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    let sub = a.body["sub"].as_str().unwrap().to_string();
    is_problem(
        &api(&s, "POST", "/users", Some(&root), Some(new(PASSWORD))).await,
        409,
    );
    let a = api(
        &s,
        "PATCH",
        &format!("/users/{sub}"),
        Some(&root),
        Some(json!({ "email": null, "phone": "+36301112233" })),
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["email"], Value::Null);
    assert_eq!(a.body["phone"], "+36301112233");
    let a = api(
        &s,
        "PATCH",
        &format!("/users/{sub}"),
        Some(&root),
        Some(json!({ "phone": "0630" })),
    )
    .await;
    is_problem(&a, 400);
    assert_eq!(a.body["field"], "phone");
    let clerk = token_for(&s, "clara", "openid admin", Some(HIGH)).await;
    is_problem(
        &api(&s, "POST", "/users", Some(&clerk), Some(new(PASSWORD))).await,
        403,
    );
    let me = api(&s, "GET", "/me", Some(&clerk), None).await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    assert_eq!(
        (me.body["username"].clone(), me.body["roles"].clone()),
        (json!("clara"), json!(["clerk"]))
    );
    // Service-centre enrolment is a clerk's: the auditor may not start it.
    let auditor = token_for(&s, "audrey", "openid admin", Some(HIGH)).await;
    let path = format!("/users/{sub}/enrolment/face/begin");
    is_problem(&api(&s, "POST", &path, Some(&auditor), None).await, 403);
    let a = api(&s, "POST", &path, Some(&clerk), None).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert!(a.body["cue"]["frames"].as_u64().unwrap() > 0);
    let a = api(
        &s,
        "POST",
        &format!("/users/{sub}/enrolment/face"),
        Some(&clerk),
        Some(json!({ "document": {}, "consent": false, "guardian": null,
                     "challenge": a.body["challenge"], "frames": [] })),
    )
    .await;
    is_problem(&a, 400);
    assert_eq!(a.body["field"], "consent");
}

on_both_databases!(users_are_created_and_changed_over_the_api);

/// Whether the OpenAPI document lists `status` among the answers of `method path`.
fn documents(doc: &Value, method: &str, path: &str, status: u16) -> bool {
    doc["paths"][format!("{API}{path}")][method]["responses"]
        .get(status.to_string())
        .is_some()
}

/// What the schema-driven fuzzer (`conformance/fuzz/run`) found: a server error on an
/// interval overflowing 64 bits, 405 answers without `Allow`, answers the document did not
/// list, and a request body documented as required that is not.
async fn answers_are_as_documented(backend: Backend) {
    let s = server(backend).await;
    let root = token_for(&s, "root", "admin", Some(HIGH)).await;
    let doc: Value = reqwest::get(s.url(&format!("{API}/openapi.json")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // `until - from` beyond 64 bits is refused, not a panic; the widest span that fits works.
    let a = api(
        &s,
        "GET",
        "/audit/stats?from=-41709763555459&until=9223372036854775806&bucket=8388609",
        Some(&root),
        None,
    )
    .await;
    is_problem(&a, 400);
    assert_eq!(a.body["field"], "until");
    let widest = format!(
        "/audit/stats?from=0&until={}&bucket={}",
        i64::MAX,
        i64::MAX / 1000 + 1
    );
    let a = api(&s, "GET", &widest, Some(&root), None).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["buckets"].as_array().map(Vec::len), Some(1000));

    // A method a resource does not have: 405 naming those it has (RFC 9110 15.5.6), which
    // are the ones the document describes, before any token is looked at.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let mut documented: Vec<String> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_uppercase())
            .collect();
        documented.sort();
        let concrete = path
            .trim_start_matches(API)
            .replace("{which}", "face")
            .replace(['{', '}'], "");
        let res = reqwest::Client::new()
            .request(reqwest::Method::TRACE, s.url(&format!("{API}{concrete}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 405, "TRACE {path}");
        let allow = res
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("TRACE {path}: no Allow header"));
        let mut allowed: Vec<String> = allow.split(',').map(|m| m.trim().to_string()).collect();
        allowed.sort();
        assert_eq!(allowed, documented, "{path}");
    }

    // The console's own client cannot be removed: 400, as documented.
    let a = api(&s, "DELETE", "/clients/admin-console", Some(&root), None).await;
    is_problem(&a, 400);
    assert!(documents(&doc, "delete", "/clients/{id}", 400));

    // A picture other than `document` or `face`: 400, as documented, and the document
    // names the two.
    let a = api(
        &s,
        "GET",
        "/registrations/x/images/selfie",
        Some(&root),
        None,
    )
    .await;
    is_problem(&a, 400);
    assert_eq!(a.body["field"], "which");
    assert!(documents(
        &doc,
        "get",
        "/registrations/{id}/images/{which}",
        400
    ));
    let which =
        doc["paths"][format!("{API}/registrations/{{id}}/images/{{which}}")]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "which")
            .cloned()
            .expect("which");
    let schema = match which["schema"]["$ref"].as_str() {
        Some(r) => doc
            .pointer(r.trim_start_matches('#'))
            .cloned()
            .expect("$ref"),
        None => which["schema"].clone(),
    };
    assert_eq!(schema["enum"], json!(["document", "face"]));

    // A PATCH without a body changes nothing; the document does not require one.
    let a = api(&s, "PATCH", "/clients/portal", Some(&root), None).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["changed"], json!([]));
    // A body of white space alone is not JSON: refused, not taken for no body.
    let res = reqwest::Client::new()
        .patch(s.url(&format!("{API}/clients/portal")))
        .bearer_auth(&root)
        .header("content-type", "application/json")
        .body("\n ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body = &doc["paths"][format!("{API}/clients/{{id}}")]["patch"]["requestBody"];
    assert!(
        body.is_object() && body["required"] != json!(true),
        "{body}"
    );
}

on_both_databases!(answers_are_as_documented);

/// A clerk at the counter finds the citizen by username or account ID and has what they recorded checked
/// before anything is filmed; nothing is written by the check.
async fn a_clerk_finds_the_citizen_and_checks_the_record(backend: Backend) {
    let s = server(backend).await;
    let clerk = token_for(&s, "clara", "openid admin", Some(HIGH)).await;
    let a = api(&s, "GET", "/users/lookup?account=anna", Some(&clerk), None).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["name"], "Citizen anna");
    let sub = a.body["sub"].as_str().unwrap().to_string();
    let by_id = api(
        &s,
        "GET",
        &format!("/users/lookup?account={sub}"),
        Some(&clerk),
        None,
    )
    .await;
    assert_eq!(by_id.body, a.body);
    is_problem(
        &api(
            &s,
            "GET",
            "/users/lookup?account=nobody",
            Some(&clerk),
            None,
        )
        .await,
        404,
    );
    let auditor = token_for(&s, "audrey", "openid admin", Some(HIGH)).await;
    is_problem(
        &api(
            &s,
            "GET",
            "/users/lookup?account=anna",
            Some(&auditor),
            None,
        )
        .await,
        403,
    );
    let path = format!("/users/{sub}/enrolment/check");
    let record = |born: &str, guardian: Value| {
        json!({ "document": { "kind": "id_card", "number": "AB123456", "country": "HUN",
                              "expires": "2031-03-27", "born": born },
                "consent": true, "guardian": guardian })
    };
    let a = api(
        &s,
        "POST",
        &path,
        Some(&clerk),
        Some(record("1970-01-01", Value::Null)),
    )
    .await;
    assert_eq!(a.status, 204, "{:?}", a.body);
    let year = 2026 - 10;
    let a = api(
        &s,
        "POST",
        &path,
        Some(&clerk),
        Some(record(&format!("{year}-01-01"), Value::Null)),
    )
    .await;
    is_problem(&a, 400);
    assert_eq!(a.body["field"], "guardian");
    let guardian = json!({ "name": "Maria", "relation": "parent", "document_number": "HU1" });
    let a = api(
        &s,
        "POST",
        &path,
        Some(&clerk),
        Some(record(&format!("{year}-01-01"), guardian)),
    )
    .await;
    assert_eq!(a.status, 204, "{:?}", a.body);
    let before = api(&s, "GET", "/registrations", Some(&clerk), None).await;
    assert_eq!(before.body["items"], json!([]), "a check writes nothing");
}

on_both_databases!(a_clerk_finds_the_citizen_and_checks_the_record);
