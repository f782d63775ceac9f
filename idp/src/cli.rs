//! The `idp` command: serve, migrate, keys, client and user administration, audit. Every
//! command reads the same settings (flags, `IDP_*` variables, a TOML file). The commands
//! only parse their arguments and print; what is allowed and what is recorded is decided
//! by `admin`, the layer the Admin API uses too.

use crate::admin::clients::{self, ClientChanges, Credentials, NewClient, NewSecret};
use crate::admin::users::{self, NewUser, UserChanges, UserRef};
use crate::admin::{self, Actor, AdminError, Context};
use crate::config::{Config, FileConfig};
use crate::crypto;
use crate::keys::kek::Kek;
use crate::oidc::mtls::SubjectName;
use crate::store::users::Address;
use crate::store::{Db, StoreError};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use std::io::{IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "idp",
    version,
    about = "OpenID Connect provider for government services",
    after_help = "Examples:\n  \
        idp --data-dir /var/lib/idp migrate\n  \
        idp --data-dir /var/lib/idp client add --id tax-portal --generate-secret --redirect-uri https://tax.example.gov/cb\n  \
        echo \"$PASSWORD\" | idp --data-dir /var/lib/idp user add --username maria --password-stdin\n  \
        idp --data-dir /var/lib/idp serve --issuer https://id.example.gov\n\n\
        Every command but serve and migrate refuses a data directory or database that does not\n\
        exist yet, so that a mistyped path cannot start an empty installation."
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
    /// Run the provider (creates the database and key file on the first start).
    #[command(after_help = "Examples:\n  \
        idp serve --issuer https://id.example.gov --listen 0.0.0.0:8080\n  \
        idp serve --dev          # http://localhost:8080 with a demo client and user")]
    Serve(ServeArgs),
    /// Create the database and key file if needed, apply pending migrations, and exit.
    #[command(after_help = "Example:\n  idp --data-dir /var/lib/idp migrate")]
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
    /// Seal the pending events, then recompute the hash chain and check every signed
    /// checkpoint; fails naming the first event that was altered, removed or moved.
    #[command(after_help = "Example:\n  idp audit verify")]
    Verify,
    /// Write the log as JSON lines (events and signed checkpoints, ending at a checkpoint).
    #[command(after_help = "Examples:\n  \
        idp audit export > audit.jsonl\n  \
        idp audit export --from 1767225600 --until 1769904000 > january.jsonl")]
    Export {
        /// Events appended at or after this time (Unix seconds).
        #[arg(long)]
        from: Option<i64>,
        /// Events appended before this time (Unix seconds).
        #[arg(long)]
        until: Option<i64>,
    },
    /// The public keys that sign checkpoints, as a JWK set (also served at /audit/keys).
    #[command(after_help = "Example:\n  idp audit keys > audit-keys.json")]
    Keys,
    /// Verify an export offline against the published checkpoint keys; needs no database.
    #[command(after_help = "Example:\n  \
        idp audit verify-export audit.jsonl --keys audit-keys.json")]
    VerifyExport {
        /// The export (JSON lines), `-` for standard input.
        file: PathBuf,
        /// The JWK set of the audit keys (from `idp audit keys` or GET /audit/keys).
        #[arg(long)]
        keys: PathBuf,
    },
    /// The newest events of one account (JSON).
    #[command(after_help = "Example:\n  idp audit list --username maria --limit 20")]
    List {
        /// The account whose events to show.
        #[arg(long)]
        username: String,
        /// How many events, newest first (at most 10000).
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "IDP_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Public issuer URL [default: http://localhost:PORT when listening on loopback, else
    /// http://LISTEN; plain http is allowed only with --dev].
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
    #[command(after_help = "Example:\n  idp keys rotate")]
    Rotate,
    /// List the published signing keys (JSON).
    #[command(after_help = "Example:\n  idp keys list")]
    List,
    /// Renew the secret transform of the face and voice templates (cancellable
    /// templates): all of them move to a new one, so that a copy of the old ones is
    /// unlinkable to what is stored. Scores and sign-ins are unchanged.
    #[command(after_help = "Example:\n  idp keys renew-biometric-transform")]
    RenewBiometricTransform,
    /// Put the key-encryption key into the hardware security module of the settings'
    /// [pkcs11] section: the key file's, so that everything sealed, every pairwise sub
    /// and every client secret stays valid (then delete the key file), or, for a new
    /// installation, a new one that is never written to disk.
    #[command(
        after_help = "Example:\n  idp --config /etc/idp/idp.toml keys import-kek\n  \
        shred -u /var/lib/idp/kek.key"
    )]
    ImportKek {
        /// A new key instead of the key file's (a new installation only: nothing sealed
        /// under another key could be read).
        #[arg(long)]
        new: bool,
    },
    /// Make a new key-encryption key file (mode 0600) for a rotation; refuses a file
    /// that exists. Then follow the steps of `rotate-kek`.
    #[command(after_help = "Example:\n  idp keys new-kek --file /etc/idp/kek-2027.key")]
    NewKek {
        /// Where to write the new key.
        #[arg(long)]
        file: PathBuf,
    },
    /// Re-seal under the current key-encryption key everything sealed by the extra one
    /// (`extra_kek_file`), in one transaction, while the instances keep serving.
    #[command(after_help = "A rotation without downtime:\n  \
        1. idp keys new-kek --file NEW; every instance gets extra_kek_file = NEW, restart them one by one\n  \
        2. every instance: kek_file = NEW, extra_kek_file = OLD; restart them one by one\n  \
        3. idp keys rotate-kek\n  \
        4. remove extra_kek_file everywhere, restart them one by one, destroy OLD")]
    RotateKek,
}

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Register a relying party.
    #[command(after_help = "Examples:\n  \
        idp client add --id tax-portal --name \"Tax portal\" --generate-secret \\\n      \
        --redirect-uri https://tax.example.gov/cb --post-logout-redirect-uri https://tax.example.gov/\n  \
        idp client add --id mobile-app --public --redirect-uri gov.example.app:/cb\n  \
        idp client add --id tax-api --jwks-file tax-api.jwks.json --grant client_credentials --scope tax.read\n\n\
        API scopes (anything but openid, profile, email) must be declared with their risk level\n\
        in the configuration's [policy.scopes].")]
    Add(Box<ClientAddArgs>),
    /// Change a relying party's settings; what is not given stays as it is.
    #[command(after_help = "Examples:\n  \
        idp client update --id tax-portal --redirect-uri https://tax.example.gov/cb \\\n      \
        --redirect-uri https://tax.example.gov/cb2\n  \
        idp client update --id tax-portal --risk-level substantial --access-token-ttl 300")]
    Update(Box<ClientUpdateArgs>),
    /// Replace a confidential client's secret; the old one stops working at once.
    #[command(after_help = "Examples:\n  \
        idp client rotate-secret --id tax-portal        # prints the new secret once\n  \
        openssl rand -base64 32 | idp client rotate-secret --id tax-portal --secret-stdin")]
    RotateSecret {
        /// The client's id.
        #[arg(long)]
        id: String,
        /// Read the new secret (at least 16 characters) from standard input instead of
        /// generating one.
        #[arg(long)]
        secret_stdin: bool,
    },
    /// Make an initial access token for dynamic client registration (RFC 7591) at
    /// /register; printed once.
    #[command(after_help = "Example:\n  idp client registration-token --ttl 86400 --uses 5")]
    RegistrationToken {
        /// Seconds it stays usable (at most 30 days).
        #[arg(long, default_value_t = 86400)]
        ttl: i64,
        /// How many clients it may register.
        #[arg(long, default_value_t = 1)]
        uses: i64,
    },
    /// Remove a relying party and everything issued to it.
    #[command(after_help = "Example:\n  idp client remove --id tax-portal")]
    Remove {
        /// The client's id.
        #[arg(long)]
        id: String,
    },
    /// List relying parties (JSON).
    #[command(after_help = "Example:\n  idp client list")]
    List,
    /// Show one relying party (JSON).
    #[command(after_help = "Example:\n  idp client show --id tax-portal")]
    Show {
        /// The client's id.
        #[arg(long)]
        id: String,
    },
}

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("auth").required(true).args(["secret", "secret_stdin", "generate_secret", "public", "jwks_file", "jwks_uri", "tls_client_auth"]))]
pub struct ClientAddArgs {
    /// The client_id: 1-64 characters of A-Z a-z 0-9 . _ -
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
    /// The secret signs the client's assertions (client_secret_jwt: HS256, HS384 or
    /// HS512) instead of being sent; a given secret then has at least 32 bytes.
    #[arg(long, conflicts_with_all = ["public", "jwks_file", "jwks_uri"])]
    pub secret_jwt: bool,
    /// A public client (no secret; PKCE required).
    #[arg(long)]
    pub public: bool,
    /// JWK set file of the client's public keys, for private_key_jwt.
    #[arg(long)]
    pub jwks_file: Option<PathBuf>,
    /// Or the https URI where the client publishes them, for private_key_jwt (fetched and
    /// cached; fetched again when the client rotates its keys).
    #[arg(long, value_name = "URI")]
    pub jwks_uri: Option<String>,
    /// The client authenticates with a TLS certificate of its own, one of those in the
    /// x5c of --jwks-file (self_signed_tls_client_auth, RFC 8705 2.2).
    #[arg(long, requires = "jwks_file")]
    pub self_signed_tls: bool,
    /// The client authenticates with a TLS certificate from a CA of mtls.ca_files that
    /// carries this name (tls_client_auth, RFC 8705 2.1): subject_dn=DN, san_dns=NAME,
    /// san_uri=URI, san_ip=ADDRESS or san_email=ADDRESS.
    #[arg(long, value_name = "KIND=VALUE")]
    pub tls_client_auth: Option<String>,
    /// Where citizens return after signing in (repeat for several): https, or http on
    /// 127.0.0.1, [::1] or localhost; no wildcard or fragment.
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// Where citizens may return after signing out (repeat for several).
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    /// A scope the client may request (repeat for several) [default: openid profile email].
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// A grant type: authorization_code, refresh_token, client_credentials (repeat for
    /// several) [default: authorization_code refresh_token].
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
    /// Lifetime of access tokens, in seconds (at most a day).
    #[arg(long, default_value_t = clients::DEFAULT_ACCESS_TOKEN_TTL)]
    pub access_token_ttl: i64,
    /// Lifetime of refresh tokens, in seconds (at most a year).
    #[arg(long, default_value_t = clients::DEFAULT_REFRESH_TOKEN_TTL)]
    pub refresh_token_ttl: i64,
    /// The client is a resource server (an API): it may introspect tokens issued to other
    /// clients. Requires client authentication (a secret or a JWK set).
    #[arg(long)]
    pub resource_server: bool,
    /// Access tokens as stored references (revoked at once) or as signed JWTs (RFC 9068:
    /// checked without a database read, revoked within a second).
    #[arg(long, default_value = "opaque", value_name = "opaque|jwt")]
    pub access_token_format: String,
    /// The claims about the citizen in ID tokens: those the client asks for with the
    /// claims parameter (the scopes' claims come from UserInfo, OIDC Core 5.4), or every
    /// claim of the granted scopes, for a client that reads no UserInfo.
    #[arg(long, default_value = "requested", value_name = "requested|scopes")]
    pub id_token_claims: String,
    /// The `sub` citizens have at this client: one of its own per sector (pairwise, so
    /// that portals cannot correlate citizens) or the account id (public).
    #[arg(long, default_value = "pairwise", value_name = "pairwise|public")]
    pub subject_type: String,
    /// The sector of pairwise subjects, a host name [default: the redirect URIs' host];
    /// needed when the redirect URIs are on several hosts.
    #[arg(long)]
    pub sector_identifier: Option<String>,
    /// Or an https document listing the redirect URIs (OIDC Core 8.1), fetched now; its
    /// host is the sector.
    #[arg(long, value_name = "URI", conflicts_with = "sector_identifier")]
    pub sector_identifier_uri: Option<String>,
    /// An https URI where the client publishes request objects to pass by reference
    /// (request_uri; repeat for several).
    #[arg(long = "request-uri", value_name = "URI")]
    pub request_uris: Vec<String>,
    /// The client's privacy notice (https), linked from the sign-in and consent pages.
    #[arg(long, value_name = "URI")]
    pub policy_uri: Option<String>,
    /// The client's terms of use (https), linked likewise.
    #[arg(long, value_name = "URI")]
    pub tos_uri: Option<String>,
    /// The client's logo (https, PNG or JPEG): fetched now and served by the provider on
    /// the sign-in and consent pages.
    #[arg(long, value_name = "URI")]
    pub logo_uri: Option<String>,
    /// The client must push its authorization requests (RFC 9126) to /par.
    #[arg(long)]
    pub require_par: bool,
    /// Where the client hears of ended sessions (OIDC Back-Channel Logout 1.0).
    #[arg(long)]
    pub backchannel_logout_uri: Option<String>,
    /// Where the browser tells the client of an ended session (Front-Channel Logout 1.0).
    #[arg(long)]
    pub frontchannel_logout_uri: Option<String>,
    /// Every token request must carry a DPoP proof (RFC 9449): tokens bound to a key.
    #[arg(long)]
    pub dpop_bound_access_tokens: bool,
    /// Access tokens bound to the TLS client certificate presented at the token endpoint
    /// (RFC 8705 3).
    #[arg(long)]
    pub tls_bound_access_tokens: bool,
    /// Encrypt ID tokens to a key of the client's JWK set (--jwks-file) with this algorithm.
    #[arg(
        long,
        value_name = "RSA-OAEP|RSA-OAEP-256|ECDH-ES|ECDH-ES+A128KW|ECDH-ES+A256KW"
    )]
    pub id_token_encrypted_response_alg: Option<String>,
    /// The content encryption of encrypted ID tokens [default: A128CBC-HS256].
    #[arg(long, value_name = "A128CBC-HS256|A256CBC-HS512|A128GCM|A256GCM")]
    pub id_token_encrypted_response_enc: Option<String>,
    /// Answer UserInfo as a JWT signed with this algorithm.
    #[arg(long, value_name = "ES256|RS256")]
    pub userinfo_signed_response_alg: Option<String>,
    /// Encrypt UserInfo answers to a key of --jwks with this algorithm.
    #[arg(
        long,
        value_name = "RSA-OAEP|RSA-OAEP-256|ECDH-ES|ECDH-ES+A128KW|ECDH-ES+A256KW"
    )]
    pub userinfo_encrypted_response_alg: Option<String>,
    /// The content encryption of encrypted UserInfo answers [default: A128CBC-HS256].
    #[arg(long, value_name = "A128CBC-HS256|A256CBC-HS512|A128GCM|A256GCM")]
    pub userinfo_encrypted_response_enc: Option<String>,
    /// The max_age (seconds) of the client's requests that name none.
    #[arg(long, value_name = "SECONDS")]
    pub default_max_age: Option<i64>,
    /// An acr value (eIDAS level URI) of the client's requests that name none (repeat for
    /// several, in order of preference).
    #[arg(long = "default-acr-value", value_name = "ACR")]
    pub default_acr_values: Vec<String>,
    /// Hold the client to a security profile: fapi2 (FAPI 2.0: pushed requests, PKCE,
    /// private_key_jwt, DPoP, no RS256).
    #[arg(long, value_name = "fapi2")]
    pub profile: Option<String>,
}

#[derive(Args, Debug)]
pub struct ClientUpdateArgs {
    /// The client's id.
    #[arg(long)]
    pub id: String,
    /// New display name shown to citizens.
    #[arg(long)]
    pub name: Option<String>,
    /// Replace the redirect URIs with these (repeat for several).
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// Replace the post-logout redirect URIs with these (repeat for several).
    #[arg(
        long = "post-logout-redirect-uri",
        conflicts_with = "clear_post_logout_redirect_uris"
    )]
    pub post_logout_redirect_uris: Vec<String>,
    /// Remove every post-logout redirect URI.
    #[arg(long)]
    pub clear_post_logout_redirect_uris: bool,
    /// Replace the scopes with these (repeat for several).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Replace the grant types with these (repeat for several).
    #[arg(long = "grant")]
    pub grants: Vec<String>,
    /// ID token signing algorithm: ES256 or RS256.
    #[arg(long)]
    pub id_token_alg: Option<String>,
    /// Default risk level: low, substantial or high.
    #[arg(long)]
    pub risk_level: Option<String>,
    /// Lifetime of access tokens, in seconds.
    #[arg(long)]
    pub access_token_ttl: Option<i64>,
    /// Lifetime of refresh tokens, in seconds.
    #[arg(long)]
    pub refresh_token_ttl: Option<i64>,
    /// Whether the client is a resource server that may introspect others' tokens.
    #[arg(long, value_name = "true|false")]
    pub resource_server: Option<bool>,
    #[arg(long, value_name = "opaque|jwt")]
    pub access_token_format: Option<String>,
    /// The claims about the citizen in ID tokens.
    #[arg(long, value_name = "requested|scopes")]
    pub id_token_claims: Option<String>,
    /// Changes the `sub` of every citizen at this client.
    #[arg(long, value_name = "pairwise|public")]
    pub subject_type: Option<String>,
    /// Changes the pairwise `sub` of every citizen at this client.
    #[arg(long)]
    pub sector_identifier: Option<String>,
    /// Whether the client must push its authorization requests (RFC 9126).
    #[arg(long, value_name = "true|false")]
    pub require_par: Option<bool>,
    /// Where the client hears of ended sessions; an empty value removes it.
    #[arg(long)]
    pub backchannel_logout_uri: Option<String>,
    /// Where the browser tells the client of an ended session; an empty value removes it.
    #[arg(long)]
    pub frontchannel_logout_uri: Option<String>,
    /// Whether every token request must carry a DPoP proof.
    #[arg(long, value_name = "true|false")]
    pub dpop_bound_access_tokens: Option<bool>,
    /// Whether access tokens are bound to the TLS client certificate (RFC 8705 3).
    #[arg(long, value_name = "true|false")]
    pub tls_bound_access_tokens: Option<bool>,
    /// Encrypt ID tokens with this algorithm; an empty value stops encrypting them.
    #[arg(long)]
    pub id_token_encrypted_response_alg: Option<String>,
    #[arg(long)]
    pub id_token_encrypted_response_enc: Option<String>,
    /// Answer UserInfo as a signed JWT (ES256, RS256); an empty value answers plain JSON.
    #[arg(long)]
    pub userinfo_signed_response_alg: Option<String>,
    /// Encrypt UserInfo answers with this algorithm; an empty value stops encrypting them.
    #[arg(long)]
    pub userinfo_encrypted_response_alg: Option<String>,
    #[arg(long)]
    pub userinfo_encrypted_response_enc: Option<String>,
    /// The max_age of the client's requests that name none; a negative value removes it.
    #[arg(long, allow_hyphen_values = true)]
    pub default_max_age: Option<i64>,
    /// The client's privacy notice (https); an empty value removes it.
    #[arg(long, value_name = "URI")]
    pub policy_uri: Option<String>,
    /// The client's terms of use (https); an empty value removes it.
    #[arg(long, value_name = "URI")]
    pub tos_uri: Option<String>,
    /// The client's logo (https, PNG or JPEG), fetched now (again, if it is the same);
    /// an empty value removes it.
    #[arg(long, value_name = "URI")]
    pub logo_uri: Option<String>,
    /// Replace the default acr values with these (repeat for several).
    #[arg(
        long = "default-acr-value",
        value_name = "ACR",
        conflicts_with = "clear_default_acr_values"
    )]
    pub default_acr_values: Vec<String>,
    /// Remove the default acr values.
    #[arg(long)]
    pub clear_default_acr_values: bool,
    /// Hold the client to a security profile (fapi2); an empty value drops it.
    #[arg(long)]
    pub profile: Option<String>,
}

/// A postal address, part by part (OIDC Core 5.1.1; released with the address scope).
#[derive(Args, Debug, Default)]
#[group(id = "address_parts", multiple = true)]
pub struct AddressArgs {
    /// The whole postal address as written on an envelope (lines separated by newlines).
    #[arg(long = "formatted-address", value_name = "TEXT")]
    formatted: Option<String>,
    /// Street, house number, floor and door (lines separated by newlines).
    #[arg(long, value_name = "TEXT")]
    street_address: Option<String>,
    /// City or locality.
    #[arg(long, value_name = "TEXT")]
    locality: Option<String>,
    /// State, province or region.
    #[arg(long, value_name = "TEXT")]
    region: Option<String>,
    #[arg(long, value_name = "TEXT")]
    postal_code: Option<String>,
    /// Country, as a name or a code.
    #[arg(long, value_name = "TEXT")]
    country: Option<String>,
}

impl AddressArgs {
    /// The address the flags give; none when no part was given.
    fn address(self) -> Option<Address> {
        let a = Address {
            formatted: self.formatted,
            street_address: self.street_address,
            locality: self.locality,
            region: self.region,
            postal_code: self.postal_code,
            country: self.country,
        };
        (a != Address::default()).then_some(a)
    }
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account; the password is read from standard input.
    #[command(after_help = "Example:\n  \
        echo \"$PASSWORD\" | idp user add --username maria --password-stdin \\\n      \
        --name \"Maria Kovács\" --email maria@example.gov --phone +36301234567 \\\n      \
        --street-address \"Fő utca 1.\" --postal-code 1011 --locality Budapest --country HU\n\n\
        Passwords need at least 8 characters and must not be easy to guess (common, a\n\
        pattern, or made of the account's own data); a few unrelated words make a good one.")]
    Add {
        /// Username: letters, digits and . _ - @ +, beginning with a letter or digit.
        #[arg(long)]
        username: String,
        /// Read the password from standard input (required: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// E-mail address for one-time codes and security notices.
        #[arg(long)]
        email: Option<String>,
        /// The e-mail address was verified (relying parties see email_verified: true).
        #[arg(long, requires = "email")]
        email_verified: bool,
        /// Full name shown to relying parties with the profile scope.
        #[arg(long)]
        name: Option<String>,
        /// Mobile number for one-time codes by SMS, in E.164 form (+36301234567).
        #[arg(long)]
        phone: Option<String>,
        /// The mobile number was verified (relying parties see phone_number_verified: true).
        #[arg(long, requires = "phone")]
        phone_verified: bool,
        #[command(flatten)]
        address: AddressArgs,
    },
    /// Change an account's name and contact data; what is not given stays as it is.
    #[command(after_help = "Examples:\n  \
        idp user update --username maria --email maria.kovacs@example.gov\n  \
        idp user update --username maria --clear-phone\n  \
        idp user update --username maria --street-address \"Kossuth tér 2.\" --postal-code 4024 \\\n      \
        --locality Debrecen --country HU")]
    Update {
        /// The account's username.
        #[arg(long)]
        username: String,
        /// New full name.
        #[arg(long, conflicts_with = "clear_name")]
        name: Option<String>,
        /// Remove the name.
        #[arg(long)]
        clear_name: bool,
        /// New e-mail address (unverified unless --email-verified true).
        #[arg(long, conflicts_with = "clear_email")]
        email: Option<String>,
        /// Remove the e-mail address.
        #[arg(long)]
        clear_email: bool,
        /// Whether the e-mail address was verified.
        #[arg(long, value_name = "true|false")]
        email_verified: Option<bool>,
        /// New mobile number, E.164 (+36301234567).
        #[arg(long, conflicts_with = "clear_phone")]
        phone: Option<String>,
        /// Remove the mobile number.
        #[arg(long)]
        clear_phone: bool,
        /// Whether the mobile number was verified.
        #[arg(long, value_name = "true|false")]
        phone_verified: Option<bool>,
        /// A postal address given here replaces the whole stored one.
        #[command(flatten)]
        address: AddressArgs,
        /// Remove the postal address.
        #[arg(long, conflicts_with = "address_parts")]
        clear_address: bool,
    },
    /// Refuse the account's sign-in: ends its sessions and revokes its tokens.
    #[command(after_help = "Example:\n  idp user disable --username maria")]
    Disable {
        /// The account's username.
        #[arg(long)]
        username: String,
    },
    /// Allow a disabled account to sign in again.
    #[command(after_help = "Example:\n  idp user enable --username maria")]
    Enable {
        /// The account's username.
        #[arg(long)]
        username: String,
    },
    /// Lift the locks that failed attempts put on an account's sign-in methods.
    #[command(after_help = "Example:\n  idp user unlock --username maria")]
    Unlock {
        /// The account's username.
        #[arg(long)]
        username: String,
    },
    /// Set an account's password, read from standard input.
    #[command(
        after_help = "Example:\n  echo \"$NEW_PASSWORD\" | idp user set-password --username maria --password-stdin"
    )]
    SetPassword {
        /// The account's username.
        #[arg(long)]
        username: String,
        /// Read the password from standard input (required: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Remove an account with its sign-in methods, sessions, consents and data key.
    #[command(after_help = "Example:\n  idp user remove --username maria")]
    Remove {
        /// The account's username.
        #[arg(long)]
        username: String,
    },
    /// List accounts (JSON).
    #[command(after_help = "Example:\n  idp user list")]
    List,
    /// Show an account with its sign-in methods, sessions and locks (JSON).
    #[command(after_help = "Example:\n  idp user show --username maria")]
    Show {
        /// The account's username.
        #[arg(long)]
        username: String,
    },
    /// Give an account an administrative role for the Admin API.
    #[command(
        after_help = "Example:\n  idp user grant-role --username maria --role administrator\n\n\
        administrator: everything; auditor: reads only; clerk: the registration queue.\n\
        The Admin API also needs an access token with the admin scope from a sign-in at\n\
        level high."
    )]
    GrantRole {
        /// The account's username.
        #[arg(long)]
        username: String,
        /// administrator, clerk or auditor.
        #[arg(long)]
        role: admin::roles::Role,
    },
    /// Take an administrative role away from an account.
    #[command(after_help = "Example:\n  idp user revoke-role --username maria --role auditor")]
    RevokeRole {
        /// The account's username.
        #[arg(long)]
        username: String,
        /// administrator, clerk or auditor.
        #[arg(long)]
        role: admin::roles::Role,
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

/// `idp keys import-kek`: the key file's key (or a new one) into the security module.
fn import_kek(config: &Config, new: bool) -> CliResult {
    let module = config
        .pkcs11
        .as_ref()
        .ok_or("the settings have no [pkcs11] section naming the security module")?
        .resolve()?;
    let key: [u8; 32] = if new {
        crate::crypto::random_bytes::<32>()
    } else {
        let bytes = std::fs::read(&config.kek_file)
            .map_err(|e| format!("{}: {e}", config.kek_file.display()))?;
        bytes
            .as_slice()
            .try_into()
            .map_err(|_| format!("{}: not a key file", config.kek_file.display()))?
    };
    crate::keys::hsm::Hsm::import(&module, &key).map_err(|e| e.to_string())?;
    println!(
        "the key-encryption key is in token {} as {}{}",
        module.token,
        module.key,
        if new {
            ""
        } else {
            "; delete the key file once every instance uses the module"
        }
    );
    Ok(())
}

/// `idp keys new-kek`: a new key file for a rotation, never over one that exists.
fn new_kek(file: &std::path::Path) -> CliResult {
    if file.exists() {
        return Err(format!(
            "{} exists already; choose a new file",
            file.display()
        ));
    }
    Kek::load_or_create(file).map_err(|e| e.to_string())?;
    println!("a new key-encryption key is in {}", file.display());
    Ok(())
}

/// The key-encryption key: in the security module when the settings name one, else the
/// key file (created when missing if `create`).
fn load_kek(config: &Config, create: bool) -> Result<Kek, String> {
    let kek = if let Some(module) = &config.pkcs11 {
        let hsm = crate::keys::hsm::Hsm::connect(&module.resolve()?).map_err(|e| e.to_string())?;
        Kek::from_provider(std::sync::Arc::new(hsm)).map_err(|e| e.to_string())?
    } else if create {
        Kek::load_or_create(&config.kek_file).map_err(|e| e.to_string())?
    } else {
        Kek::load(&config.kek_file).map_err(|e| e.to_string())?
    };
    Ok(match &config.extra_kek_file {
        Some(extra) => kek.with_extra(Kek::load(extra).map_err(|e| e.to_string())?),
        None => kek,
    })
}

/// Opens the installation, creating what is missing (`serve`, `migrate`).
fn open_or_create(config: &Config) -> Result<(Db, Kek), String> {
    if crate::store::Backend::of_url(&config.database_url) == crate::store::Backend::Sqlite {
        // The database, its WAL and the outbox live here: owner only where created.
        crate::files::create_private_dir(&config.data_dir)
            .map_err(|e| format!("cannot create {}: {e}", config.data_dir.display()))?;
    }
    let kek = load_kek(config, true)?;
    let db = Db::open_pool(
        &config.database_url,
        config.db_pool_size,
        config.db_pool_wait,
        false,
    )
    .map_err(|e| e.to_string())?;
    let kek = kek.pinned(&db, crate::now()).map_err(|e| e.to_string())?;
    Ok((db, kek))
}

/// Opens an installation that exists: creates nothing.
fn open_existing(config: &Config) -> Result<(Db, Kek), String> {
    let hint = "check --data-dir / --database-url (IDP_DATA_DIR, IDP_DATABASE_URL); \
                `idp migrate` or the first `idp serve` creates a new installation";
    let db = Db::open_pool(
        &config.database_url,
        config.db_pool_size,
        config.db_pool_wait,
        true,
    )
    .map_err(|e| match e {
        StoreError::Missing(_) | StoreError::NoSchema(_) => format!("{e}: {hint}"),
        e => e.to_string(),
    })?;
    let kek = load_kek(config, false).map_err(|e| format!("{e}: {hint}"))?;
    let kek = kek.pinned(&db, crate::now()).map_err(|e| e.to_string())?;
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

/// The person at the command line, as far as the system tells.
fn actor() -> Actor {
    Actor::Cli {
        os_user: std::env::var("USER").ok().filter(|u| !u.is_empty()),
    }
}

fn err(e: AdminError) -> String {
    e.to_string()
}

/// A secret from standard input: everything up to the end, without one final line break.
fn read_stdin(what: &str) -> Result<String, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Type the {what}, then press Enter and Ctrl-D:");
    }
    let mut text = String::new();
    stdin
        .lock()
        .read_to_string(&mut text)
        .map_err(|e| format!("reading the {what}: {e}"))?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(text.strip_suffix('\r').unwrap_or(text).to_string())
}

fn print_json(value: &impl Serialize, pretty: bool) -> CliResult {
    let text = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    println!("{}", text.map_err(|e| e.to_string())?);
    Ok(())
}

pub fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Serve(args) => serve(&cli.common, args),
        Command::Migrate => {
            let config = admin_config(&cli.common)?;
            // Opening the database applies the pending migrations.
            open_or_create(&config)?;
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
    let (db, kek) = open_or_create(&config)?;
    let ctx = Context::new(&db, &kek, &config)?;
    // The Admin UI signs in with its own client, which must match this issuer.
    match crate::admin::console::ensure(&ctx, &actor(), crate::now()).map_err(err)? {
        crate::admin::console::Ensured::Created => {
            tracing::info!("created the admin console's client")
        }
        crate::admin::console::Ensured::Repaired(what) => {
            tracing::warn!(settings = ?what, "put back the admin console's client settings")
        }
        crate::admin::console::Ensured::Unchanged => {}
    }
    if config.dev {
        dev_bootstrap(&ctx)?;
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
        let server = crate::http::start(state.clone(), listener).map_err(|e| e.to_string())?;
        tracing::info!(issuer = %issuer, "idp is serving");
        let served = server.await.map_err(|e| e.to_string());
        // Let a round of sealing in progress finish before the process ends.
        tokio::task::spawn_blocking(move || state.stop_background())
            .await
            .map_err(|e| e.to_string())?;
        served
    })
}

/// On the first `--dev` start: a demo client and user, and how to try a login.
fn dev_bootstrap(ctx: &Context) -> CliResult {
    let now = crate::now();
    match clients::show(ctx, "demo") {
        Ok(_) => {
            println!(
                "Development mode: demo client and user exist already (see the first start's output)."
            );
            return Ok(());
        }
        Err(AdminError::NotFound { .. }) => {}
        Err(e) => return Err(e.to_string()),
    }
    let issuer = &ctx.config.issuer;
    let redirect = format!("{issuer}{}", crate::http::DEV_CALLBACK_PATH);
    let mut client = NewClient::new("demo", Credentials::GenerateSecret, vec![redirect.clone()]);
    client.name = Some("Demo portal".into());
    client.post_logout_redirect_uris = vec![redirect.clone()];
    let secret = clients::create(ctx, &actor(), client, now)
        .map_err(err)?
        .secret
        .ok_or("the demo client got no secret")?;
    // 16 random characters of base64url: far beyond what the password policy asks.
    let password = crypto::random_token()[..16].to_string();
    let user = NewUser {
        username: "demo".into(),
        password: password.clone(),
        name: Some("Demo Citizen".into()),
        email: Some("demo@example.invalid".into()),
        email_verified: false,
        phone_verified: false,
        phone: Some("+36301234567".into()),
        address: Some(Address {
            street_address: Some("Fő utca 1.".into()),
            locality: Some("Budapest".into()),
            postal_code: Some("1011".into()),
            country: Some("HU".into()),
            ..Default::default()
        }),
    };
    users::create(ctx, &actor(), user, now).map_err(err)?;
    let encoded: String = url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect();
    println!(
        "\nDevelopment mode: created a demo client and user.\n\
         \n  client_id:     demo\n  client_secret: {secret}\n  redirect_uri:  {redirect}\n  user:          demo / {password}\n\
         \nTry a login: open this in a browser and sign in as demo:\n\
         \n  {issuer}/authorize?client_id=demo&response_type=code&scope=openid%20profile%20email&redirect_uri={encoded}&state=xyz&nonce=n-0S6\n\
         \nThe browser lands on the development callback page, which shows the code and exchanges\n\
         it at the token endpoint with the client secret above (within 60 seconds). By hand:\n\
         \n  curl -s -u demo:{secret} -d grant_type=authorization_code -d redirect_uri={redirect} -d code=CODE {issuer}/token\n\
         \nForgot the demo password? echo NEW-PASSWORD | idp user set-password --username demo --password-stdin\n\
         Discovery: {issuer}/.well-known/openid-configuration\n"
    );
    Ok(())
}

fn client_command(common: &Common, cmd: ClientCommand) -> CliResult {
    let config = admin_config(common)?;
    let (db, kek) = open_existing(&config)?;
    let ctx = Context::new(&db, &kek, &config)?;
    let now = crate::now();
    match cmd {
        ClientCommand::Add(a) => {
            let credentials = if a.generate_secret {
                Credentials::GenerateSecret
            } else if a.secret_stdin {
                Credentials::Secret(read_stdin("client secret")?)
            } else if let Some(s) = a.secret {
                Credentials::Secret(s)
            } else if a.public {
                Credentials::Public
            } else if let Some(p) = &a.jwks_file {
                let text =
                    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                match a.self_signed_tls {
                    true => Credentials::SelfSignedTls(text),
                    false => Credentials::Jwks(text),
                }
            } else if let Some(uri) = a.jwks_uri {
                Credentials::JwksUri(uri)
            } else if let Some(name) = &a.tls_client_auth {
                let named = name.split_once('=').and_then(|(kind, value)| {
                    SubjectName::from_metadata(&format!("tls_client_auth_{kind}"), value)
                });
                Credentials::TlsClientAuth(named.ok_or(
                    "--tls-client-auth: subject_dn=DN, san_dns=NAME, san_uri=URI, san_ip=ADDRESS or san_email=ADDRESS",
                )?)
            } else {
                return Err("say how the client authenticates".into());
            };
            let credentials = match credentials {
                Credentials::GenerateSecret if a.secret_jwt => Credentials::SecretJwt(None),
                Credentials::Secret(s) if a.secret_jwt => Credentials::SecretJwt(Some(s)),
                other => other,
            };
            let new = NewClient {
                id: a.id,
                name: a.name,
                credentials,
                redirect_uris: a.redirect_uris,
                post_logout_redirect_uris: a.post_logout_redirect_uris,
                scopes: a.scopes,
                grant_types: a.grants,
                id_token_alg: Some(a.id_token_alg),
                risk_level: Some(a.risk_level),
                access_token_ttl: Some(a.access_token_ttl),
                refresh_token_ttl: Some(a.refresh_token_ttl),
                resource_server: a.resource_server,
                access_token_format: Some(a.access_token_format),
                id_token_claims: Some(a.id_token_claims),
                subject_type: Some(a.subject_type),
                sector_identifier: a.sector_identifier,
                sector_identifier_uri: a.sector_identifier_uri,
                request_uris: a.request_uris,
                policy_uri: a.policy_uri,
                tos_uri: a.tos_uri,
                logo_uri: a.logo_uri,
                require_pushed_authorization_requests: a.require_par,
                backchannel_logout_uri: a.backchannel_logout_uri,
                frontchannel_logout_uri: a.frontchannel_logout_uri,
                registration_token_hash: None,
                dpop_bound_access_tokens: a.dpop_bound_access_tokens,
                tls_client_certificate_bound_access_tokens: a.tls_bound_access_tokens,
                id_token_encrypted_response_alg: a.id_token_encrypted_response_alg,
                id_token_encrypted_response_enc: a.id_token_encrypted_response_enc,
                userinfo_signed_response_alg: a.userinfo_signed_response_alg,
                userinfo_encrypted_response_alg: a.userinfo_encrypted_response_alg,
                userinfo_encrypted_response_enc: a.userinfo_encrypted_response_enc,
                default_max_age: a.default_max_age,
                default_acr_values: a.default_acr_values,
                profile: a.profile,
            };
            let created = clients::create(&ctx, &actor(), new, now).map_err(err)?;
            println!("client {} added", created.client.id);
            if let Some(s) = created.secret {
                // Shown this once: only the keyed hash is stored.
                println!("client_secret: {s}");
            }
            Ok(())
        }
        ClientCommand::Update(a) => {
            let some = |v: Vec<String>| (!v.is_empty()).then_some(v);
            let post_logout = if a.clear_post_logout_redirect_uris {
                Some(Vec::new())
            } else {
                some(a.post_logout_redirect_uris)
            };
            let default_acr_values = if a.clear_default_acr_values {
                Some(Vec::new())
            } else {
                some(a.default_acr_values)
            };
            let changes = ClientChanges {
                name: a.name,
                redirect_uris: some(a.redirect_uris),
                post_logout_redirect_uris: post_logout,
                scopes: some(a.scopes),
                grant_types: some(a.grants),
                id_token_alg: a.id_token_alg,
                risk_level: a.risk_level,
                access_token_ttl: a.access_token_ttl,
                refresh_token_ttl: a.refresh_token_ttl,
                resource_server: a.resource_server,
                access_token_format: a.access_token_format,
                id_token_claims: a.id_token_claims,
                subject_type: a.subject_type,
                request_uris: None,
                policy_uri: a.policy_uri,
                tos_uri: a.tos_uri,
                logo_uri: a.logo_uri,
                sector_identifier: a.sector_identifier,
                require_pushed_authorization_requests: a.require_par,
                backchannel_logout_uri: a.backchannel_logout_uri,
                frontchannel_logout_uri: a.frontchannel_logout_uri,
                dpop_bound_access_tokens: a.dpop_bound_access_tokens,
                tls_client_certificate_bound_access_tokens: a.tls_bound_access_tokens,
                id_token_encrypted_response_alg: a.id_token_encrypted_response_alg,
                id_token_encrypted_response_enc: a.id_token_encrypted_response_enc,
                userinfo_signed_response_alg: a.userinfo_signed_response_alg,
                userinfo_encrypted_response_alg: a.userinfo_encrypted_response_alg,
                userinfo_encrypted_response_enc: a.userinfo_encrypted_response_enc,
                default_max_age: a.default_max_age,
                default_acr_values,
                profile: a.profile,
            };
            let updated = clients::update(&ctx, &actor(), &a.id, changes, now).map_err(err)?;
            if updated.changed.is_empty() {
                println!("client {}: nothing to change", a.id);
            } else {
                println!("client {} updated: {}", a.id, updated.changed.join(", "));
            }
            Ok(())
        }
        ClientCommand::RotateSecret { id, secret_stdin } => {
            let new = if secret_stdin {
                NewSecret::Given(read_stdin("client secret")?)
            } else {
                NewSecret::Generate
            };
            let secret = clients::rotate_secret(&ctx, &actor(), &id, new, now).map_err(err)?;
            println!(
                "client {id}: secret replaced; running servers refuse the old one within a second"
            );
            if let Some(s) = secret {
                println!("client_secret: {s}");
            }
            Ok(())
        }
        ClientCommand::RegistrationToken { ttl, uses } => {
            let token =
                clients::issue_registration_token(&ctx, &actor(), ttl, uses, now).map_err(err)?;
            println!("initial_access_token: {token}");
            Ok(())
        }
        ClientCommand::Remove { id } => {
            clients::remove(&ctx, &actor(), &id, now).map_err(err)?;
            println!("client {id} removed");
            Ok(())
        }
        ClientCommand::List => print_json(&clients::list(&ctx).map_err(err)?, false),
        ClientCommand::Show { id } => print_json(&clients::show(&ctx, &id).map_err(err)?, true),
    }
}

fn user_command(common: &Common, cmd: UserCommand) -> CliResult {
    let config = admin_config(common)?;
    let (db, kek) = open_existing(&config)?;
    let ctx = Context::new(&db, &kek, &config)?;
    let now = crate::now();
    let by = actor();
    match cmd {
        UserCommand::Add {
            username,
            password_stdin: _,
            email,
            email_verified,
            name,
            phone,
            phone_verified,
            address,
        } => {
            let password = read_stdin("password")?;
            let new = NewUser {
                username,
                password,
                name,
                email,
                email_verified,
                phone,
                phone_verified,
                address: address.address(),
            };
            let user = users::create(&ctx, &by, new, now).map_err(err)?;
            println!("user {} added (sub {})", user.username, user.sub);
            Ok(())
        }
        UserCommand::Update {
            username,
            name,
            clear_name,
            email,
            clear_email,
            email_verified,
            phone,
            clear_phone,
            phone_verified,
            address,
            clear_address,
        } => {
            let change = |value: Option<String>, clear: bool| {
                if clear { Some(None) } else { value.map(Some) }
            };
            let changes = UserChanges {
                name: change(name, clear_name),
                email: change(email, clear_email),
                email_verified,
                phone: change(phone, clear_phone),
                phone_verified,
                address: if clear_address {
                    Some(None)
                } else {
                    address.address().map(Some)
                },
            };
            let who = UserRef::Username(&username);
            let updated = users::update(&ctx, &by, who, changes, now).map_err(err)?;
            if updated.changed.is_empty() {
                println!("user {username}: nothing to change");
            } else {
                println!("user {username} updated: {}", updated.changed.join(", "));
            }
            Ok(())
        }
        UserCommand::Disable { username } => {
            let d = users::disable(&ctx, &by, UserRef::Username(&username), now).map_err(err)?;
            if d.changed {
                println!(
                    "user {username} disabled: {} session(s) ended, {} grant(s) revoked",
                    d.sessions, d.grants
                );
            } else {
                println!("user {username} was disabled already");
            }
            Ok(())
        }
        UserCommand::Enable { username } => {
            if users::enable(&ctx, &by, UserRef::Username(&username), now).map_err(err)? {
                println!("user {username} enabled");
            } else {
                println!("user {username} was not disabled");
            }
            Ok(())
        }
        UserCommand::Unlock { username } => {
            let n = users::unlock(&ctx, &by, UserRef::Username(&username), now).map_err(err)?;
            println!("user {username}: {n} locked sign-in method(s) unlocked");
            Ok(())
        }
        UserCommand::SetPassword {
            username,
            password_stdin: _,
        } => {
            let password = read_stdin("password")?;
            users::set_password(&ctx, &by, UserRef::Username(&username), &password, now)
                .map_err(err)?;
            println!("user {username}: password set");
            Ok(())
        }
        UserCommand::Remove { username } => {
            users::remove(&ctx, &by, UserRef::Username(&username), now).map_err(err)?;
            println!("user {username} removed");
            Ok(())
        }
        UserCommand::List => print_json(&users::list(&ctx).map_err(err)?, false),
        UserCommand::Show { username } => {
            let details = users::show(&ctx, UserRef::Username(&username), now).map_err(err)?;
            print_json(&details, true)
        }
        UserCommand::GrantRole { username, role } => {
            let who = UserRef::Username(&username);
            let changed = admin::roles::grant(&ctx, &by, who, role, now).map_err(err)?;
            let what = if changed { "granted" } else { "held already" };
            println!("user {username}: role {} {what}", role.name());
            Ok(())
        }
        UserCommand::RevokeRole { username, role } => {
            let who = UserRef::Username(&username);
            let changed = admin::roles::revoke(&ctx, &by, who, role, now).map_err(err)?;
            let what = if changed { "revoked" } else { "was not held" };
            println!("user {username}: role {} {what}", role.name());
            Ok(())
        }
    }
}

fn keys_command(common: &Common, cmd: KeysCommand) -> CliResult {
    let config = admin_config(common)?;
    if let KeysCommand::ImportKek { new } = cmd {
        return import_kek(&config, new);
    }
    if let KeysCommand::NewKek { file } = &cmd {
        return new_kek(file);
    }
    let (db, kek) = open_existing(&config)?;
    let ctx = Context::new(&db, &kek, &config)?;
    let now = crate::now();
    match cmd {
        KeysCommand::Rotate => {
            let kids = admin::keys::rotate(&ctx, &actor(), now).map_err(err)?;
            println!("new signing keys: {}", kids.join(" "));
            Ok(())
        }
        KeysCommand::List => print_json(&admin::keys::list(&ctx, now).map_err(err)?, false),
        KeysCommand::RenewBiometricTransform => {
            let svc = crate::service::Service::new(config.clone(), db.clone(), kek.clone())?;
            let (generation, moved) =
                admin::keys::renew_transform(&svc, &actor(), now).map_err(err)?;
            println!("biometric templates: transform generation {generation}, {moved} moved");
            Ok(())
        }
        KeysCommand::RotateKek => {
            if config.extra_kek_file.is_none() {
                return Err("the settings name no extra_kek_file: there is nothing to \
                            rotate from (see `idp keys rotate-kek --help`)"
                    .into());
            }
            let done = admin::keys::rotate_kek(&ctx, &actor(), now).map_err(err)?;
            println!(
                "re-sealed under the current key-encryption key: {} moved, {} already were; \
                 remove extra_kek_file from every instance's settings",
                done.moved, done.already
            );
            Ok(())
        }
        // Handled above, before the installation is opened (its key is not there yet).
        KeysCommand::ImportKek { new } => import_kek(&config, new),
        KeysCommand::NewKek { file } => new_kek(&file),
    }
}

fn audit_command(common: &Common, cmd: AuditCommand) -> CliResult {
    // Verifying an export needs no installation.
    if let AuditCommand::VerifyExport { file, keys } = &cmd {
        return verify_export(file, keys);
    }
    let config = admin_config(common)?;
    let (db, kek) = open_existing(&config)?;
    let ctx = Context::new(&db, &kek, &config)?;
    let now = crate::now();
    match cmd {
        AuditCommand::Verify => {
            admin::audit::seal(&ctx, now).map_err(err)?;
            match admin::audit::verify(&ctx).map_err(err)? {
                Ok(v) => {
                    println!(
                        "audit log intact: {} events, {} signed checkpoints",
                        v.events, v.checkpoints
                    );
                    Ok(())
                }
                Err(broken) => Err(format!("audit log broken: {broken}")),
            }
        }
        AuditCommand::Export { from, until } => {
            admin::audit::seal(&ctx, now).map_err(err)?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut sink = |line: &crate::audit::export::Line| {
                serde_json::to_writer(&mut out, line)?;
                out.write_all(b"\n")
            };
            let range = crate::audit::export::Range { from, until };
            admin::audit::export(&ctx, range, &mut sink)
                .map_err(err)?
                .map_err(|e| format!("writing the export: {e}"))?;
            out.flush().map_err(|e| format!("writing the export: {e}"))
        }
        AuditCommand::Keys => print_json(&admin::audit::keys(&ctx).map_err(err)?, true),
        AuditCommand::VerifyExport { file, keys } => verify_export(&file, &keys),
        AuditCommand::List { username, limit } => {
            let events =
                admin::audit::of_user(&ctx, UserRef::Username(&username), limit).map_err(err)?;
            print_json(&events, false)
        }
    }
}

fn verify_export(file: &std::path::Path, keys: &std::path::Path) -> CliResult {
    let read = |p: &std::path::Path| -> Result<String, String> {
        if p == std::path::Path::new("-") {
            std::io::read_to_string(std::io::stdin()).map_err(|e| format!("standard input: {e}"))
        } else {
            std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))
        }
    };
    let jwks: serde_json::Value = serde_json::from_str(&read(keys)?)
        .map_err(|e| format!("{}: not a JWK set: {e}", keys.display()))?;
    let keys = crate::audit::checkpoint::PublishedKeys::from_jwks(&jwks)
        .map_err(|e| format!("{}: {e}", keys.display()))?;
    match crate::audit::export::verify(&read(file)?, &keys) {
        Ok(v) => {
            println!(
                "export intact: events {} to {}, {} signed checkpoints",
                v.first, v.last, v.checkpoints
            );
            Ok(())
        }
        Err(e) => Err(format!("export broken: {e}")),
    }
}
