//! The `idp` command: serve, migrate, keys, client and user administration. Every
//! command reads the same settings (flags, `IDP_*` variables, a TOML file).

use crate::config::{Config, FileConfig};
use crate::crypto;
use crate::keys::{self, kek::Kek};
use crate::store::Db;
use crate::store::clients::{self, AuthMethod, Client};
use crate::store::users::{self, Credential, User};
use clap::{Args, Parser, Subcommand};
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "idp",
    version,
    about = "OpenID Connect provider for government services"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every command accepts.
#[derive(Args, Debug, Clone, Default)]
pub struct Common {
    /// TOML file with settings (flags and IDP_* variables override it).
    #[arg(long, global = true, env = "IDP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database and the key-encryption key [default: ./data].
    #[arg(long, global = true, env = "IDP_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// postgres://... for PostgreSQL; otherwise a SQLite file path [default: DATA_DIR/idp.sqlite].
    #[arg(long, global = true, env = "IDP_DATABASE_URL")]
    pub database_url: Option<String>,
    /// File holding the 32-byte key-encryption key [default: DATA_DIR/kek.key].
    #[arg(long, global = true, env = "IDP_KEK_FILE")]
    pub kek_file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the provider.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Relying parties.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Citizens' accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Recompute the hash chain; fails if an event was removed or altered.
    Verify,
    /// The newest events of one account (JSON).
    List {
        #[arg(long)]
        username: String,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "IDP_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Public issuer URL [default: http://LISTEN, allowed only with --dev].
    #[arg(long, env = "IDP_ISSUER")]
    pub issuer: Option<String>,
    /// Development mode: creates a demo client and user on first start, and allows plain
    /// HTTP (cookies without Secure) on a loopback address.
    #[arg(long, env = "IDP_DEV")]
    pub dev: bool,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Add new signing keys; the old ones stay published until their tokens expire.
    Rotate,
    /// List the published signing keys.
    List,
}

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Register a relying party.
    Add(Box<ClientAddArgs>),
    /// List relying parties (JSON).
    List,
    /// Remove a relying party and everything issued to it.
    Remove {
        #[arg(long)]
        id: String,
    },
}

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("auth").required(true).args(["secret", "secret_stdin", "generate_secret", "public", "jwks_file"]))]
pub struct ClientAddArgs {
    #[arg(long)]
    pub id: String,
    /// Client secret (at least 16 characters) for client_secret_basic / client_secret_post.
    /// Prefer --generate-secret or --secret-stdin: a command line is visible to other
    /// users of the machine and kept in shell history.
    #[arg(long)]
    pub secret: Option<String>,
    /// Read the client secret (at least 16 characters) from standard input.
    #[arg(long)]
    pub secret_stdin: bool,
    /// Generate a random client secret and print it once; only its keyed hash is stored.
    #[arg(long)]
    pub generate_secret: bool,
    /// A public client (no secret; PKCE required).
    #[arg(long)]
    pub public: bool,
    /// JWK set file of the client's public keys, for private_key_jwt.
    #[arg(long)]
    pub jwks_file: Option<PathBuf>,
    #[arg(long = "redirect-uri", required = true)]
    pub redirect_uris: Vec<String>,
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Scopes the client may request [default: openid profile email].
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Grant types [default: authorization_code refresh_token].
    #[arg(long = "grant")]
    pub grants: Vec<String>,
    /// Display name shown to citizens [default: the id].
    #[arg(long)]
    pub name: Option<String>,
    /// ID token signing algorithm: ES256 or RS256.
    #[arg(long, default_value = "ES256")]
    pub id_token_alg: String,
    /// Default risk level of the client's operations: low, substantial or high.
    #[arg(long, default_value = "low")]
    pub risk_level: String,
    #[arg(long, default_value_t = 600)]
    pub access_token_ttl: i64,
    #[arg(long, default_value_t = 8 * 3600)]
    pub refresh_token_ttl: i64,
    /// The client is a resource server (an API): it may introspect tokens issued to other
    /// clients. Requires client authentication (a secret or a JWK set).
    #[arg(long)]
    pub resource_server: bool,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account; the password is read from standard input.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// Mobile number for one-time codes by SMS, in E.164 form (+36301234567).
        #[arg(long)]
        phone: Option<String>,
    },
    /// List accounts (JSON).
    List,
    /// Lift the locks that failed attempts put on an account's sign-in methods.
    Unlock {
        #[arg(long)]
        username: String,
    },
}

pub type CliResult = Result<(), String>;

fn file_config(common: &Common) -> Result<FileConfig, String> {
    let mut f = match &common.config {
        Some(p) => FileConfig::load(p)?,
        None => FileConfig::default(),
    };
    if common.data_dir.is_some() {
        f.data_dir = common.data_dir.clone();
    }
    if common.database_url.is_some() {
        f.database_url = common.database_url.clone();
    }
    if common.kek_file.is_some() {
        f.kek_file = common.kek_file.clone();
    }
    Ok(f)
}

fn open(config: &Config) -> Result<(Db, Kek), String> {
    if crate::store::Backend::of_url(&config.database_url) == crate::store::Backend::Sqlite {
        // The database, its WAL and the outbox live here: owner only where created.
        crate::files::create_private_dir(&config.data_dir)
            .map_err(|e| format!("cannot create {}: {e}", config.data_dir.display()))?;
    }
    let kek = Kek::load_or_create(&config.kek_file).map_err(|e| e.to_string())?;
    let db = Db::open(&config.database_url, config.db_pool_size).map_err(|e| e.to_string())?;
    Ok((db, kek))
}

/// Settings for commands other than `serve`: the issuer does not matter to them.
fn admin_config(common: &Common) -> Result<Config, String> {
    let mut f = file_config(common)?;
    f.dev = Some(true);
    f.issuer = None;
    f.listen = None;
    Config::resolve(f)
}

pub fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Serve(args) => serve(&cli.common, args),
        Command::Migrate => {
            let config = admin_config(&cli.common)?;
            // Opening the database applies the pending migrations.
            open(&config)?;
            println!("database schema is up to date");
            Ok(())
        }
        Command::Keys(k) => keys_command(&cli.common, k),
        Command::Client(c) => client_command(&cli.common, c),
        Command::User(u) => user_command(&cli.common, u),
        Command::Audit(a) => audit_command(&cli.common, a),
    }
}

fn serve(common: &Common, args: ServeArgs) -> CliResult {
    let mut f = file_config(common)?;
    if args.listen.is_some() {
        f.listen = args.listen;
    }
    if args.issuer.is_some() {
        f.issuer = args.issuer;
    }
    if args.dev {
        f.dev = Some(true);
    }
    let config = Config::resolve(f)?;
    let (db, kek) = open(&config)?;
    if config.dev {
        dev_bootstrap(&db, &kek, &config)?;
    }
    let listener = std::net::TcpListener::bind(config.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let issuer = config.issuer.clone();
    let state = Arc::new(crate::service::Service::new(config, db, kek)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let server = crate::http::start(state, listener).map_err(|e| e.to_string())?;
        tracing::info!(issuer = %issuer, "idp is serving");
        server.await.map_err(|e| e.to_string())
    })
}

/// On the first `--dev` start: a demo client and user, and how to try a login.
fn dev_bootstrap(db: &Db, kek: &Kek, config: &Config) -> CliResult {
    let now = crate::now();
    if db
        .run(|c| clients::find(c, "demo"))
        .map_err(|e| e.to_string())?
        .is_some()
    {
        println!(
            "Development mode: demo client and user exist already (see the first start's output)."
        );
        return Ok(());
    }
    let secret = crypto::random_token();
    let password = crypto::random_token()[..12].to_string();
    let redirect = "http://127.0.0.1:8081/callback".to_string();
    let client = new_client(
        "demo",
        "Demo portal",
        AuthMethod::Secret,
        Some(kek.client_secrets().hash(&secret)),
        None,
        vec![redirect.clone()],
        vec!["http://127.0.0.1:8081/".into()],
        vec![],
        vec![],
        now,
    );
    db.run(|c| clients::insert(c, &client))
        .map_err(|e| e.to_string())?;
    let contact = Contact {
        email: Some("demo@example.invalid".into()),
        name: Some("Demo Citizen".into()),
        phone: Some("+36301234567".into()),
    };
    add_user(db, "demo", &password, contact, now)?;
    let issuer = &config.issuer;
    println!(
        "\nDevelopment mode: created a demo client and user.\n\
         \n  client_id:     demo\n  client_secret: {secret}\n  redirect_uri:  {redirect}\n  user:          demo / {password}\n\
         \nTry a login: open this in a browser and sign in as demo:\n\
         \n  {issuer}/authorize?client_id=demo&response_type=code&scope=openid%20profile%20email&redirect_uri=http%3A%2F%2F127.0.0.1%3A8081%2Fcallback&state=xyz&nonce=n-0S6\n\
         \nThe browser lands on {redirect}?code=...; exchange the code within 60 seconds:\n\
         \n  curl -s -u demo:{secret} -d grant_type=authorization_code -d redirect_uri={redirect} -d code=CODE {issuer}/token\n\
         \nDiscovery: {issuer}/.well-known/openid-configuration\n"
    );
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn new_client(
    id: &str,
    name: &str,
    auth_method: AuthMethod,
    secret_hash: Option<String>,
    jwks: Option<String>,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    scopes: Vec<String>,
    grants: Vec<String>,
    now: i64,
) -> Client {
    let or = |v: Vec<String>, d: &[&str]| {
        if v.is_empty() {
            d.iter().map(|s| s.to_string()).collect()
        } else {
            v
        }
    };
    Client {
        id: id.to_string(),
        name: name.to_string(),
        secret_hash,
        auth_method,
        jwks,
        redirect_uris,
        post_logout_redirect_uris,
        grant_types: or(grants, &["authorization_code", "refresh_token"]),
        scopes: or(scopes, &["openid", "profile", "email"]),
        id_token_alg: "ES256".into(),
        risk_level: "low".into(),
        access_token_ttl: 600,
        refresh_token_ttl: 8 * 3600,
        created_at: now,
        resource_server: false,
    }
}

/// Redirect URIs: absolute, no fragment, https unless the host is loopback.
fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let u = url::Url::parse(uri).map_err(|e| format!("redirect URI {uri}: {e}"))?;
    if u.fragment().is_some() {
        return Err(format!("redirect URI {uri} may not have a fragment"));
    }
    let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match u.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(format!(
            "redirect URI {uri} must use https (http only on loopback)"
        )),
        // Private-use schemes of native apps (RFC 8252 7.1) contain a dot.
        s if s.contains('.') => Ok(()),
        s => Err(format!("redirect URI scheme {s} is not allowed")),
    }
}

fn client_command(common: &Common, cmd: ClientCommand) -> CliResult {
    let config = admin_config(common)?;
    let (db, kek) = open(&config)?;
    let now = crate::now();
    match cmd {
        ClientCommand::Add(a) => {
            let id_ok = !a.id.is_empty()
                && a.id.len() <= 64
                && a.id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !id_ok {
                return Err("the client id must be 1-64 characters of A-Z a-z 0-9 . _ -".into());
            }
            for u in a.redirect_uris.iter().chain(&a.post_logout_redirect_uris) {
                check_redirect_uri(u)?;
            }
            let secret = if a.generate_secret {
                Some(crypto::random_token())
            } else if a.secret_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_to_string(&mut line)
                    .map_err(|e| format!("reading the secret: {e}"))?;
                let line = line.strip_suffix('\n').unwrap_or(&line);
                Some(line.strip_suffix('\r').unwrap_or(line).to_string())
            } else {
                a.secret.clone()
            };
            if let Some(s) = &secret
                && s.chars().count() < 16
            {
                return Err("the client secret must be at least 16 characters".into());
            }
            let known_grants = ["authorization_code", "refresh_token", "client_credentials"];
            if let Some(g) = a
                .grants
                .iter()
                .find(|g| !known_grants.contains(&g.as_str()))
            {
                return Err(format!("unknown grant type {g}"));
            }
            if a.public && a.grants.iter().any(|g| g == "client_credentials") {
                return Err("a public client cannot use client_credentials".into());
            }
            if keys::Alg::parse(&a.id_token_alg).is_none() {
                return Err("--id-token-alg must be ES256 or RS256".into());
            }
            if crate::policy::Level::from_name(&a.risk_level).is_none() {
                return Err("--risk-level must be low, substantial or high".into());
            }
            let (method, jwks) = match &a.jwks_file {
                Some(p) => {
                    let text =
                        std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                    josekit::jwk::JwkSet::from_bytes(text.as_bytes())
                        .map_err(|e| format!("{}: not a JWK set: {e}", p.display()))?;
                    (AuthMethod::PrivateKeyJwt, Some(text))
                }
                None if a.public => (AuthMethod::None, None),
                None => (AuthMethod::Secret, None),
            };
            let mut client = new_client(
                &a.id,
                a.name.as_deref().unwrap_or(&a.id),
                method,
                secret.as_deref().map(|s| kek.client_secrets().hash(s)),
                jwks,
                a.redirect_uris,
                a.post_logout_redirect_uris,
                a.scopes,
                a.grants,
                now,
            );
            client.id_token_alg = a.id_token_alg;
            client.risk_level = a.risk_level;
            client.access_token_ttl = a.access_token_ttl.max(1);
            client.refresh_token_ttl = a.refresh_token_ttl.max(1);
            if a.resource_server && a.public {
                return Err("a public client cannot be a resource server".into());
            }
            client.resource_server = a.resource_server;
            if !db
                .run(|c| clients::insert(c, &client))
                .map_err(|e| e.to_string())?
            {
                return Err(format!("a client with id {} exists already", client.id));
            }
            println!("client {} added", client.id);
            if a.generate_secret
                && let Some(s) = &secret
            {
                // Shown this once: only the keyed hash is stored.
                println!("client_secret: {s}");
            }
            Ok(())
        }
        ClientCommand::List => {
            let list = db.run(clients::list).map_err(|e| e.to_string())?;
            let out: Vec<_> = list
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "id": c.id, "name": c.name, "auth_method": c.auth_method.as_str(),
                        "redirect_uris": c.redirect_uris,
                        "post_logout_redirect_uris": c.post_logout_redirect_uris,
                        "grant_types": c.grant_types, "scopes": c.scopes,
                        "id_token_alg": c.id_token_alg, "risk_level": c.risk_level,
                        "resource_server": c.resource_server,
                    })
                })
                .collect();
            println!("{}", serde_json::Value::from(out));
            Ok(())
        }
        ClientCommand::Remove { id } => {
            if db
                .run(|c| clients::remove(c, &id))
                .map_err(|e| e.to_string())?
            {
                println!("client {id} removed");
                Ok(())
            } else {
                Err(format!("no client with id {id}"))
            }
        }
    }
}

/// How to reach a citizen, and what to call them.
struct Contact {
    email: Option<String>,
    name: Option<String>,
    phone: Option<String>,
}

fn add_user(db: &Db, username: &str, password: &str, contact: Contact, now: i64) -> CliResult {
    let username = username.trim();
    if username.is_empty() || username.len() > 128 {
        return Err("the username must be 1-128 characters".into());
    }
    if let Some(p) = &contact.phone {
        let digits = p.strip_prefix('+').unwrap_or("");
        if !(8..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "the phone number {p} is not in E.164 form (+ and 8-15 digits)"
            ));
        }
    }
    let Contact { email, name, phone } = contact;
    let hash = authenticators::password::hash(password).map_err(|e| e.to_string())?;
    let user = User {
        id: crypto::random_id(),
        username: username.to_string(),
        email,
        email_verified: false,
        name,
        disabled: false,
        created_at: now,
        updated_at: now,
        phone,
    };
    let cred = Credential {
        id: crypto::random_id(),
        user_id: user.id.clone(),
        kind: users::PASSWORD,
        label: None,
        data: hash.into_bytes(),
        created_at: now,
        last_used_at: None,
        counter: None,
    };
    if !db
        .tx(|c| users::insert_with_password(c, &user, &cred))
        .map_err(|e| e.to_string())?
    {
        return Err(format!("the username {username} is taken"));
    }
    Ok(())
}

fn user_command(common: &Common, cmd: UserCommand) -> CliResult {
    let config = admin_config(common)?;
    let (db, _) = open(&config)?;
    let now = crate::now();
    match cmd {
        UserCommand::Add {
            username,
            password_stdin: _,
            email,
            name,
            phone,
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .map_err(|e| format!("reading the password: {e}"))?;
            let password = password.strip_suffix('\n').unwrap_or(&password);
            let password = password.strip_suffix('\r').unwrap_or(password);
            add_user(
                &db,
                &username,
                password,
                Contact { email, name, phone },
                now,
            )?;
            println!("user {} added", username.trim());
            Ok(())
        }
        UserCommand::List => {
            let list = db.run(users::list).map_err(|e| e.to_string())?;
            let out: Vec<_> = list
                .iter()
                .map(|u| serde_json::json!({"sub": u.id, "username": u.username, "email": u.email, "phone": u.phone, "name": u.name, "disabled": u.disabled}))
                .collect();
            println!("{}", serde_json::Value::from(out));
            Ok(())
        }
        UserCommand::Unlock { username } => {
            let n = db
                .tx(|c| {
                    let Some(user) = users::find_by_username(c, &username)? else {
                        return Ok(None);
                    };
                    crate::login::lockout::unlock(c, &user.id, now).map(Some)
                })
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("there is no user {username}"))?;
            println!("user {username}: {n} locked sign-in method(s) unlocked");
            Ok(())
        }
    }
}

fn keys_command(common: &Common, cmd: KeysCommand) -> CliResult {
    let config = admin_config(common)?;
    let (db, kek) = open(&config)?;
    let now = crate::now();
    match cmd {
        KeysCommand::Rotate => {
            // Old keys stay published for the longest ID token lifetime plus clock skew.
            let publish_for = config.id_token_ttl + 300;
            let kids = db
                .tx(|c| Ok(keys::rotate(c, &kek, now, publish_for)))
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            println!("new signing keys: {}", kids.join(" "));
            Ok(())
        }
        KeysCommand::List => {
            let rows = db
                .run(|c| keys::published_rows(c, now))
                .map_err(|e| e.to_string())?;
            let out: Vec<_> = rows
                .iter()
                .map(|k| serde_json::json!({"kid": k.kid, "alg": k.alg, "active": k.active, "created_at": k.created_at, "retire_at": k.retire_at}))
                .collect();
            println!("{}", serde_json::Value::from(out));
            Ok(())
        }
    }
}

fn audit_command(common: &Common, cmd: AuditCommand) -> CliResult {
    let config = admin_config(common)?;
    let (db, _) = open(&config)?;
    match cmd {
        AuditCommand::Verify => match db.run(crate::audit::verify).map_err(|e| e.to_string())? {
            Ok(n) => {
                println!("audit log intact: {n} events");
                Ok(())
            }
            Err(broken) => Err(format!("audit log broken: {broken}")),
        },
        AuditCommand::List { username, limit } => {
            let user = db
                .run(|c| users::find_by_username(c, &username))
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no user {username}"))?;
            let events = db
                .run(|c| crate::audit::of_user(c, &user.id, limit.clamp(1, 10_000)))
                .map_err(|e| e.to_string())?;
            let out: Vec<_> = events
                .iter()
                .map(|e| {
                    let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or_default();
                    serde_json::json!({"seq": e.seq, "at": e.at, "kind": e.kind, "client_id": e.client_id, "detail": detail})
                })
                .collect();
            println!("{}", serde_json::Value::from(out));
            Ok(())
        }
    }
}
