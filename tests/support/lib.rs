//! Test harness: a real `idp` on a random loopback port over a fresh SQLite file or a
//! fresh PostgreSQL database, administered through the real CLI, and a cookie-keeping
//! browser stand-in that fills in the login pages.

pub mod fakes;
pub mod pki;

use idp::cli::{Cli, run};
use idp::config::{Config, FileConfig};
use idp::http::AppState;
use idp::keys::kek::Kek;
use idp::store::Db;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server that tests may create databases on: `IDP_TEST_DATABASE_URL`, or
/// the local server (trust authentication, database `test`). A PostgreSQL leg never skips:
/// without a server it fails, saying so.
pub fn postgres_base_url() -> String {
    std::env::var("IDP_TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub struct TestServer {
    pub issuer: String,
    /// Where the server listens (equal to the issuer except in production mode).
    pub base: String,
    pub state: Arc<AppState>,
    pub database_url: String,
    pub kek_file: PathBuf,
    pub dir: tempfile::TempDir,
    handle: actix_web::dev::ServerHandle,
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, None).await
    }

    /// `public_issuer`: run as in production behind TLS termination at that https URL
    /// (no `--dev`); requests still go to the loopback port over plain HTTP.
    pub async fn start_with(backend: Backend, public_issuer: Option<&str>) -> TestServer {
        Self::start_configured(backend, public_issuer.map(|p| p.to_string()), |_, _| {}).await
    }

    /// Full control: `issuer` (None: http on the port, development mode) and a hook that
    /// adjusts the settings, given the port and the temporary directory.
    pub async fn start_configured(
        backend: Backend,
        issuer: Option<String>,
        adjust: impl FnOnce(&mut FileConfig, (u16, &std::path::Path)),
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = match backend {
            Backend::Sqlite => dir.path().join("idp.sqlite").to_string_lossy().into_owned(),
            Backend::Postgres => {
                let base = postgres_base_url();
                drop_stale_databases(&base);
                let name = format!("idp_test_{}_{}", idp::now(), idp::crypto::random_id());
                pg_exec(&base, &format!("CREATE DATABASE {name}"));
                let mut url = url::Url::parse(&base).expect("IDP_TEST_DATABASE_URL is a URL");
                url.set_path(&name);
                url.to_string()
            }
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let public_issuer = issuer;
        let issuer = public_issuer
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let kek_file = dir.path().join("kek.key");
        let mut file = FileConfig {
            data_dir: Some(dir.path().to_path_buf()),
            listen: Some(addr),
            issuer: Some(issuer.clone()),
            database_url: Some(database_url.clone()),
            kek_file: Some(kek_file.clone()),
            dev: Some(public_issuer.is_none()),
            workers: Some(2),
            db_pool_size: Some(8),
            ..FileConfig::default()
        };
        adjust(&mut file, (addr.port(), dir.path()));
        let issuer = file.issuer.clone().unwrap_or(issuer);
        let config = Config::resolve(file).expect("config");
        let kek = Kek::load_or_create(&kek_file).expect("kek");
        let db = tokio::task::spawn_blocking({
            let url = database_url.clone();
            move || Db::open(&url, 8)
        })
        .await
        .expect("join")
        .expect("database opens");
        // As `idp serve` does: the derived keys pinned in the database.
        let kek = kek.pinned(&db, idp::now()).expect("derived keys");
        let state = Arc::new(
            tokio::task::spawn_blocking(move || AppState::new(config, db, kek))
                .await
                .expect("join")
                .expect("state"),
        );
        let server = idp::http::start(state.clone(), listener).expect("server starts");
        let handle = server.handle();
        tokio::spawn(server);
        TestServer {
            issuer,
            base: format!("http://{addr}"),
            state,
            database_url,
            kek_file,
            dir,
            handle,
        }
    }

    /// Runs an `idp` command against this server's database; returns its result.
    pub fn cli(&self, args: &[&str]) -> Result<(), String> {
        let mut argv = vec![
            "idp".to_string(),
            "--database-url".into(),
            self.database_url.clone(),
            "--kek-file".into(),
            self.kek_file.to_string_lossy().into_owned(),
            "--data-dir".into(),
            self.dir.path().to_string_lossy().into_owned(),
        ];
        argv.extend(args.iter().map(|s| s.to_string()));
        let cli = <Cli as clap::Parser>::try_parse_from(argv).map_err(|e| e.to_string())?;
        run(cli)
    }

    pub fn add_client(&self, args: &[&str]) {
        let mut all = vec!["client", "add"];
        all.extend_from_slice(args);
        self.cli(&all).expect("client add");
    }

    /// A user with an e-mail address and a mobile number.
    pub fn add_user(&self, username: &str, password: &str) {
        self.add_user_with(
            username,
            password,
            Some(format!("{username}@example.invalid")),
            Some("+36301234567".into()),
        );
    }

    /// A user created through the administration layer that `idp user add` uses (the
    /// command reads the password from standard input, which tests cannot give it).
    pub fn add_user_with(
        &self,
        username: &str,
        password: &str,
        email: Option<String>,
        phone: Option<String>,
    ) {
        let new = idp::admin::users::NewUser {
            username: username.into(),
            password: password.into(),
            name: Some(format!("Citizen {username}")),
            email_verified: email.is_some(),
            email,
            phone,
            phone_verified: false,
            address: None,
        };
        let actor = idp::admin::Actor::Cli {
            os_user: Some("e2e".into()),
        };
        let ctx = idp::admin::Context::from(&*self.state);
        idp::admin::users::create(&ctx, &actor, new, idp::now()).expect("user add");
    }

    /// A settings file declaring API scopes (at risk level low), for commands that
    /// register clients with them: `--config` and the path.
    pub fn api_scopes_config(&self, scopes: &[&str]) -> [String; 2] {
        let mut toml = String::from("[policy.scopes]\n");
        for s in scopes {
            toml.push_str(&format!("\"{s}\" = \"low\"\n"));
        }
        let path = self.dir.path().join("api-scopes.toml");
        std::fs::write(&path, toml).expect("config file");
        ["--config".into(), path.to_string_lossy().into_owned()]
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // No background round may be talking to the database, or be inside the database
        // library when the process exits. The database itself is left for a later run to
        // drop (`drop_stale_databases`): dropping it now would break the pool's connections
        // and set the pool reconnecting while the process exits.
        self.state.stop_background();
    }
}

/// How old a test database must be before a later test run drops it.
const STALE_SECONDS: i64 = 3600;

/// Drops the test databases (`idp_test_<created>_<random>`) left by runs more than
/// `STALE_SECONDS` ago.
fn drop_stale_databases(base: &str) {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    let Ok(mut c) = idp::store::connect_postgres(base) else {
        return;
    };
    let names: Vec<Name> =
        diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'idp\\_test\\_%'")
            .load(&mut c)
            .unwrap_or_default();
    let now = idp::now();
    for n in names {
        let created = n
            .datname
            .split('_')
            .nth(2)
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or(0);
        if now - created > STALE_SECONDS {
            use diesel::connection::SimpleConnection;
            // Another test process may be dropping it at the same moment: either wins.
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                n.datname
            ));
        }
    }
}

/// Runs SQL on the PostgreSQL server at `base` (creating and dropping test databases).
pub fn pg_exec(base: &str, sql: &str) {
    use diesel::connection::SimpleConnection;
    let mut c = idp::store::connect_postgres(base)
        .unwrap_or_else(|e| panic!("PostgreSQL at IDP_TEST_DATABASE_URL is not reachable: {e}"));
    c.batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A browser stand-in: keeps cookies, does not follow redirects by itself.
#[derive(Clone)]
pub struct Browser {
    pub http: reqwest::Client,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// The value of a hidden input of the page's form.
    pub fn hidden(&self, name: &str) -> String {
        let needle = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&needle)
            .unwrap_or_else(|| panic!("no {name} field in page:\n{}", self.body))
            + needle.len();
        let end = self.body[start..].find('"').expect("closing quote") + start;
        unescape_html(&self.body[start..end])
    }

    /// The form's action attribute.
    pub fn form_action(&self) -> String {
        let needle = "action=\"";
        let start = self.body.find(needle).expect("a form") + needle.len();
        let end = self.body[start..].find('"').expect("closing quote") + start;
        self.body[start..end].to_string()
    }
}

impl Browser {
    pub fn new() -> Browser {
        Self::with(reqwest::Client::builder())
    }

    /// A browser from a client builder (TLS roots, a client certificate, ...).
    pub fn with(builder: reqwest::ClientBuilder) -> Browser {
        Browser {
            http: builder
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    async fn page(res: reqwest::Response) -> Page {
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = res.text().await.unwrap_or_default();
        Page {
            status,
            location,
            body,
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        Self::page(self.http.get(url).send().await.expect("GET")).await
    }

    /// A GET that may fail below HTTP (a refused TLS handshake).
    pub async fn try_get(&self, url: &str) -> Result<Page, reqwest::Error> {
        Ok(Self::page(self.http.get(url).send().await?).await)
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> Page {
        Self::page(self.http.post(url).form(form).send().await.expect("POST")).await
    }

    /// Follows redirects within the provider (`base`) and stops at the first page, or at
    /// a redirect that leaves the provider (to a client).
    pub async fn follow(&self, base: &str, mut page: Page) -> Page {
        for _ in 0..10 {
            let Some(loc) = page.location.clone() else {
                return page;
            };
            let abs = if loc.starts_with('/') {
                format!("{base}{loc}")
            } else {
                loc
            };
            if !abs.starts_with(base) {
                page.location = Some(abs);
                return page;
            }
            page = self.get(&abs).await;
        }
        panic!("redirect loop");
    }

    /// Opens an authorization URL and signs in (and consents) as needed; returns the final
    /// redirect to the client.
    pub async fn login(
        &self,
        base: &str,
        authorize_url: &str,
        username: &str,
        password: &str,
    ) -> String {
        let mut page = self.follow(base, self.get(authorize_url).await).await;
        for _ in 0..4 {
            if page.status >= 300 && page.status < 400 {
                return page.location.expect("location");
            }
            assert_eq!(page.status, 200, "unexpected page:\n{}", page.body);
            let action = format!("{base}{}", page.form_action());
            let csrf = page.hidden("csrf");
            let next = if action.ends_with("/login") {
                self.post(
                    &action,
                    &[
                        ("csrf", &csrf),
                        ("username", username),
                        ("password", password),
                    ],
                )
                .await
            } else if action.ends_with("/consent") {
                self.post(&action, &[("csrf", &csrf), ("decision", "allow")])
                    .await
            } else if action.ends_with("/select") {
                self.post(&action, &[("csrf", &csrf), ("choice", "continue")])
                    .await
            } else {
                panic!("unexpected form {action}");
            };
            page = self.follow(base, next).await;
        }
        panic!("login did not finish: {}", page.body);
    }
}

fn unescape_html(s: &str) -> String {
    s.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// The query parameters of a URL.
pub fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .expect("url")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Declares each async test function `name(Backend)` twice: against SQLite and against
/// PostgreSQL (skipped, with a message, when no test database is configured).
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::Backend::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::Backend::Postgres).await
                }
            }
        )*
    };
}
