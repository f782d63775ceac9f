//! RFC 9470 round trip: a resource server using `idp::resource` refuses a token whose
//! authentication is too weak with `insufficient_user_authentication`; the relying party
//! reads the challenge, sends the citizen back with `acr_values` and `max_age`; the
//! provider asks only for the missing factor; the new token is accepted.

use crate::*;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use authenticators::totp;
use idp::policy::Level;
use idp::resource::{Needs, Verdict, check, parse_challenge};

const API_SECRET: &str = "resource-server-secret-0123";

/// The payments API: needs substantial assurance from within the last 10 minutes.
async fn payments(req: HttpRequest, issuer: web::Data<String>) -> HttpResponse {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string();
    let introspection: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/introspect", issuer.get_ref()))
        .basic_auth("api", Some(API_SECRET))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let needs = Needs {
        audiences: vec!["portal".into()],
        scopes: vec!["openid".into()],
        acr_values: vec![Level::Substantial.acr().to_string()],
        max_age: Some(600),
    };
    match check(&introspection, &needs, idp::now()) {
        Verdict::Allowed => HttpResponse::Ok().body("paid"),
        Verdict::Challenge(h) => HttpResponse::Unauthorized()
            .insert_header(("www-authenticate", h))
            .finish(),
        Verdict::Forbidden(h) => HttpResponse::Forbidden()
            .insert_header(("www-authenticate", h))
            .finish(),
    }
}

async fn rfc9470_round_trip(backend: Backend) {
    let s = server_with_client(backend).await;
    s.add_client(&[
        "--id",
        "api",
        "--secret",
        API_SECRET,
        "--redirect-uri",
        REDIRECT,
        "--resource-server",
    ]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let api = format!("http://{}/payments", listener.local_addr().unwrap());
    let issuer = web::Data::new(s.issuer.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(issuer.clone())
            .route("/payments", web::get().to(payments))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);

    let b = Browser::new();
    let secret = crate::factors::enroll_totp(&s, &b).await;
    // A token from a password-only sign-in.
    let low = tokens(&s, &b).await;
    let call = |token: String| {
        let api = api.clone();
        async move {
            reqwest::Client::new()
                .get(api)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    let refused = call(low["access_token"].as_str().unwrap().to_string()).await;
    assert_eq!(refused.status(), 401);
    let header = refused.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    let (acr_values, max_age) = parse_challenge(&header).expect("an RFC 9470 challenge");
    assert_eq!(acr_values.as_deref(), Some(Level::Substantial.acr()));
    assert_eq!(
        max_age, None,
        "the login is recent; only the level is missing"
    );

    // The relying party sends the citizen back asking for that level.
    let acr =
        url::form_urlencoded::byte_serialize(acr_values.unwrap().as_bytes()).collect::<String>();
    let (u, verifier) = authorize_url(&s, &format!("&acr_values={acr}&max_age=600"));
    let page = b.follow(&s.issuer, b.get(&u).await).await;
    assert!(
        page.form_action().ends_with("/factor"),
        "only the missing factor is asked"
    );
    s.state.clock.advance(30);
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
    let back = b.follow(&s.issuer, next).await.location.unwrap();
    let (status, strong) = redeem(&s, &query(&back)["code"], &verifier).await;
    assert_eq!(status, 200);
    let ok = call(strong["access_token"].as_str().unwrap().to_string()).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "paid");
}

on_both_databases!(rfc9470_round_trip);
