//! Registered relying parties.

use super::schema::clients;
use super::{AnyConnection, StoreError, StoreResult};
use diesel::prelude::*;

/// How a client proves its identity at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// `client_secret_basic` or `client_secret_post`.
    Secret,
    /// `client_secret_jwt`: assertions signed with an HMAC of the client's secret (RFC
    /// 7523, OIDC Core 9).
    SecretJwt,
    PrivateKeyJwt,
    /// `tls_client_auth`: a certificate from a configured CA naming the client (RFC 8705
    /// 2.1, `oidc::mtls`).
    TlsClientAuth,
    /// `self_signed_tls_client_auth`: a certificate the client registered in its JWK set
    /// (RFC 8705 2.2).
    SelfSignedTlsClientAuth,
    /// A public client (`none`): PKCE is then required.
    None,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Secret => "client_secret",
            AuthMethod::SecretJwt => "client_secret_jwt",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::TlsClientAuth => "tls_client_auth",
            AuthMethod::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
            AuthMethod::None => "none",
        }
    }

    fn parse(s: &str) -> StoreResult<Self> {
        match s {
            "client_secret" => Ok(AuthMethod::Secret),
            "client_secret_jwt" => Ok(AuthMethod::SecretJwt),
            "private_key_jwt" => Ok(AuthMethod::PrivateKeyJwt),
            "tls_client_auth" => Ok(AuthMethod::TlsClientAuth),
            "self_signed_tls_client_auth" => Ok(AuthMethod::SelfSignedTlsClientAuth),
            "none" => Ok(AuthMethod::None),
            other => Err(StoreError::Corrupt(format!("client auth method {other}"))),
        }
    }
}

/// A security profile a client is held to beyond the general rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// FAPI 2.0 Security Profile: pushed requests, PKCE, private_key_jwt, DPoP, and
    /// neither RS256 nor unsigned anything.
    Fapi2,
}

impl Profile {
    pub const ALL: [Profile; 1] = [Profile::Fapi2];

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Fapi2 => "fapi2",
        }
    }
}

/// What the client's access tokens are (per client; RFC 9068 for `Jwt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessTokenFormat {
    /// A random reference, stored hashed: every use reads the database, and revocation
    /// takes effect at once.
    #[default]
    Opaque,
    /// A signed JWT (`at+jwt`, RFC 9068): checked without a database read; revoking one
    /// reaches every instance within a second (`oidc::access_jwt`).
    Jwt,
}

impl AccessTokenFormat {
    pub const ALL: [AccessTokenFormat; 2] = [AccessTokenFormat::Opaque, AccessTokenFormat::Jwt];

    pub fn as_str(self) -> &'static str {
        match self {
            AccessTokenFormat::Opaque => "opaque",
            AccessTokenFormat::Jwt => "jwt",
        }
    }
}

/// Which claims about the citizen the client's ID tokens carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdTokenClaims {
    /// Those the client asked for in the ID token (`claims.id_token`, OIDC Core 5.5) and
    /// a granted scope covers; the scopes' claims come from UserInfo (OIDC Core 5.4). An
    /// ID token then says little about the citizen wherever it travels (an
    /// `id_token_hint` in a logout URL, a relying party's session or logs).
    #[default]
    Requested,
    /// Every claim of the granted scopes, for a relying party that reads no UserInfo.
    Scopes,
}

impl IdTokenClaims {
    pub const ALL: [IdTokenClaims; 2] = [IdTokenClaims::Requested, IdTokenClaims::Scopes];

    pub fn as_str(self) -> &'static str {
        match self {
            IdTokenClaims::Requested => "requested",
            IdTokenClaims::Scopes => "scopes",
        }
    }
}

/// Which `sub` the client sees for a person (OIDC Core 8, `oidc::subject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectType {
    /// The account id, the same at every client (and for clients registered before
    /// subject types existed).
    #[default]
    Public,
    /// A value of its own per sector: portals cannot correlate citizens through it.
    Pairwise,
}

impl SubjectType {
    pub const ALL: [SubjectType; 2] = [SubjectType::Public, SubjectType::Pairwise];

    pub fn as_str(self) -> &'static str {
        match self {
            SubjectType::Public => "public",
            SubjectType::Pairwise => "pairwise",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    /// A `client_secret_jwt` client's secret, sealed (`ClientSecrets::seal`).
    pub sealed_secret: Option<String>,
    pub auth_method: AuthMethod,
    pub jwks: Option<String>,
    /// Where the client publishes its public keys, instead of `jwks` (`oidc::client_keys`).
    pub jwks_uri: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub id_token_alg: String,
    pub risk_level: String,
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub created_at: i64,
    /// A resource server (an API) may introspect tokens issued to other clients; any
    /// other client only its own (RFC 7662 4: the server decides who may see what).
    pub resource_server: bool,
    pub access_token_format: AccessTokenFormat,
    pub id_token_claims: IdTokenClaims,
    pub subject_type: SubjectType,
    /// The sector of pairwise subjects (a host name), fixed at registration.
    pub sector_identifier: Option<String>,
    /// The https document that listed the client's redirect URIs for its sector (OIDC Core
    /// 8.1), when the sector was given that way; its host is the sector.
    pub sector_identifier_uri: Option<String>,
    /// Where the client may publish request objects to pass by reference (`request_uri`,
    /// OIDC Core 6.2); nothing else is fetched.
    pub request_uris: Vec<String>,
    /// The client's privacy notice and terms of use, linked from the sign-in and consent
    /// pages (RFC 7591 `policy_uri`, `tos_uri`).
    pub policy_uri: Option<String>,
    pub tos_uri: Option<String>,
    /// Where the client's logo was fetched from (RFC 7591 `logo_uri`); the provider keeps
    /// and serves the image (`client_logos`).
    pub logo_uri: Option<String>,
    /// Authorization requests must be pushed (RFC 9126).
    pub require_pushed_authorization_requests: bool,
    /// Where the client hears of ended sessions (OIDC Back-Channel Logout 1.0).
    pub backchannel_logout_uri: Option<String>,
    /// Where the browser tells the client of an ended session (Front-Channel Logout 1.0).
    pub frontchannel_logout_uri: Option<String>,
    /// The hash of the token with which a dynamically registered client reads, changes
    /// or removes its registration (RFC 7592); none for clients registered otherwise.
    pub registration_token_hash: Option<String>,
    /// Every token request must carry a DPoP proof (RFC 9449 5.2).
    pub dpop_bound_access_tokens: bool,
    /// The name a `tls_client_auth` client's certificate carries (RFC 8705 2.1.2).
    pub tls_client_auth: Option<crate::oidc::mtls::SubjectName>,
    /// Access tokens are bound to the certificate presented at the token endpoint (RFC
    /// 8705 3).
    pub tls_client_certificate_bound_access_tokens: bool,
    /// ID tokens are encrypted to a key of `jwks` with this algorithm (`oidc::encryption`).
    pub id_token_encrypted_response_alg: Option<String>,
    /// ... and this content encryption [default: A128CBC-HS256].
    pub id_token_encrypted_response_enc: Option<String>,
    /// UserInfo answers as a JWT signed with this algorithm (OIDC Core 5.3.2).
    pub userinfo_signed_response_alg: Option<String>,
    /// UserInfo answers encrypted to a key of `jwks` with this algorithm (OIDC Core 5.3.2).
    pub userinfo_encrypted_response_alg: Option<String>,
    /// ... and this content encryption [default: A128CBC-HS256].
    pub userinfo_encrypted_response_enc: Option<String>,
    /// Seconds since the citizen last proved a factor, when a request names no `max_age`
    /// (OIDC Dynamic Registration 2).
    pub default_max_age: Option<i64>,
    /// The `acr_values` of the client's requests that name none, eIDAS levels in order of
    /// preference (OIDC Dynamic Registration 2).
    pub default_acr_values: Vec<String>,
    /// The security profile the client is held to, if any.
    pub profile: Option<Profile>,
}

impl Client {
    pub fn is_fapi2(&self) -> bool {
        self.profile == Some(Profile::Fapi2)
    }

    pub fn is_public(&self) -> bool {
        self.auth_method == AuthMethod::None
    }

    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    /// The answers the client may have asked to be encrypted to its keys (ID tokens,
    /// UserInfo): the names of the two settings, and their values.
    pub fn encryptions(&self) -> [Encryption<'_>; 2] {
        [
            Encryption {
                names: [
                    "id_token_encrypted_response_alg",
                    "id_token_encrypted_response_enc",
                ],
                alg: self.id_token_encrypted_response_alg.as_deref(),
                enc: self.id_token_encrypted_response_enc.as_deref(),
            },
            Encryption {
                names: [
                    "userinfo_encrypted_response_alg",
                    "userinfo_encrypted_response_enc",
                ],
                alg: self.userinfo_encrypted_response_alg.as_deref(),
                enc: self.userinfo_encrypted_response_enc.as_deref(),
            },
        ]
    }
}

/// One of a client's encryption settings (`Client::encryptions`).
pub struct Encryption<'a> {
    /// The metadata names of the key management algorithm and of the content encryption.
    pub names: [&'static str; 2],
    pub alg: Option<&'a str>,
    pub enc: Option<&'a str>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = clients)]
struct ClientRow {
    id: String,
    name: String,
    secret_hash: Option<String>,
    auth_method: String,
    jwks: Option<String>,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    grant_types: String,
    scopes: String,
    id_token_alg: String,
    risk_level: String,
    access_token_ttl: i64,
    refresh_token_ttl: i64,
    created_at: i64,
    resource_server: bool,
    /// `Options` as JSON.
    options: String,
}

/// The settings kept in the `options` column; a missing member takes its default.
#[derive(Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct Options {
    access_token_format: AccessTokenFormat,
    id_token_claims: IdTokenClaims,
    subject_type: SubjectType,
    #[serde(skip_serializing_if = "Option::is_none")]
    sector_identifier: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    require_pushed_authorization_requests: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    backchannel_logout_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frontchannel_logout_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    registration_token_hash: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    dpop_bound_access_tokens: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_client_auth: Option<crate::oidc::mtls::SubjectName>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_client_certificate_bound_access_tokens: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token_encrypted_response_alg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token_encrypted_response_enc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    userinfo_signed_response_alg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    userinfo_encrypted_response_alg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    userinfo_encrypted_response_enc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    default_max_age: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    default_acr_values: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sealed_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sector_identifier_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    request_uris: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    policy_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tos_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logo_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<Profile>,
}

fn list_from_json(s: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("client list: {e}")))
}

fn list_to_json(v: &[String]) -> String {
    serde_json::Value::from(v.to_vec()).to_string()
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;
    fn try_from(r: ClientRow) -> StoreResult<Client> {
        let options: Options = serde_json::from_str(&r.options)
            .map_err(|e| StoreError::Corrupt(format!("client options: {e}")))?;
        Ok(Client {
            auth_method: AuthMethod::parse(&r.auth_method)?,
            access_token_format: options.access_token_format,
            id_token_claims: options.id_token_claims,
            subject_type: options.subject_type,
            sector_identifier: options.sector_identifier,
            require_pushed_authorization_requests: options.require_pushed_authorization_requests,
            backchannel_logout_uri: options.backchannel_logout_uri,
            frontchannel_logout_uri: options.frontchannel_logout_uri,
            registration_token_hash: options.registration_token_hash,
            dpop_bound_access_tokens: options.dpop_bound_access_tokens,
            tls_client_auth: options.tls_client_auth,
            tls_client_certificate_bound_access_tokens: options
                .tls_client_certificate_bound_access_tokens,
            id_token_encrypted_response_alg: options.id_token_encrypted_response_alg,
            id_token_encrypted_response_enc: options.id_token_encrypted_response_enc,
            userinfo_signed_response_alg: options.userinfo_signed_response_alg,
            userinfo_encrypted_response_alg: options.userinfo_encrypted_response_alg,
            userinfo_encrypted_response_enc: options.userinfo_encrypted_response_enc,
            default_max_age: options.default_max_age,
            default_acr_values: options.default_acr_values,
            sealed_secret: options.sealed_secret,
            jwks_uri: options.jwks_uri,
            sector_identifier_uri: options.sector_identifier_uri,
            request_uris: options.request_uris,
            policy_uri: options.policy_uri,
            tos_uri: options.tos_uri,
            logo_uri: options.logo_uri,
            profile: options.profile,
            redirect_uris: list_from_json(&r.redirect_uris)?,
            post_logout_redirect_uris: list_from_json(&r.post_logout_redirect_uris)?,
            grant_types: list_from_json(&r.grant_types)?,
            scopes: list_from_json(&r.scopes)?,
            id: r.id,
            name: r.name,
            secret_hash: r.secret_hash,
            jwks: r.jwks,
            id_token_alg: r.id_token_alg,
            risk_level: r.risk_level,
            access_token_ttl: r.access_token_ttl,
            refresh_token_ttl: r.refresh_token_ttl,
            created_at: r.created_at,
            resource_server: r.resource_server,
        })
    }
}

impl From<&Client> for ClientRow {
    fn from(c: &Client) -> ClientRow {
        ClientRow {
            id: c.id.clone(),
            name: c.name.clone(),
            secret_hash: c.secret_hash.clone(),
            auth_method: c.auth_method.as_str().to_string(),
            jwks: c.jwks.clone(),
            redirect_uris: list_to_json(&c.redirect_uris),
            post_logout_redirect_uris: list_to_json(&c.post_logout_redirect_uris),
            grant_types: list_to_json(&c.grant_types),
            scopes: list_to_json(&c.scopes),
            id_token_alg: c.id_token_alg.clone(),
            risk_level: c.risk_level.clone(),
            access_token_ttl: c.access_token_ttl,
            refresh_token_ttl: c.refresh_token_ttl,
            created_at: c.created_at,
            resource_server: c.resource_server,
            options: serde_json::to_string(&Options {
                access_token_format: c.access_token_format,
                id_token_claims: c.id_token_claims,
                subject_type: c.subject_type,
                sector_identifier: c.sector_identifier.clone(),
                require_pushed_authorization_requests: c.require_pushed_authorization_requests,
                backchannel_logout_uri: c.backchannel_logout_uri.clone(),
                frontchannel_logout_uri: c.frontchannel_logout_uri.clone(),
                registration_token_hash: c.registration_token_hash.clone(),
                dpop_bound_access_tokens: c.dpop_bound_access_tokens,
                tls_client_auth: c.tls_client_auth.clone(),
                tls_client_certificate_bound_access_tokens: c
                    .tls_client_certificate_bound_access_tokens,
                id_token_encrypted_response_alg: c.id_token_encrypted_response_alg.clone(),
                id_token_encrypted_response_enc: c.id_token_encrypted_response_enc.clone(),
                userinfo_signed_response_alg: c.userinfo_signed_response_alg.clone(),
                userinfo_encrypted_response_alg: c.userinfo_encrypted_response_alg.clone(),
                userinfo_encrypted_response_enc: c.userinfo_encrypted_response_enc.clone(),
                default_max_age: c.default_max_age,
                default_acr_values: c.default_acr_values.clone(),
                sealed_secret: c.sealed_secret.clone(),
                jwks_uri: c.jwks_uri.clone(),
                sector_identifier_uri: c.sector_identifier_uri.clone(),
                request_uris: c.request_uris.clone(),
                policy_uri: c.policy_uri.clone(),
                tos_uri: c.tos_uri.clone(),
                logo_uri: c.logo_uri.clone(),
                profile: c.profile,
            })
            .unwrap_or_else(|_| unreachable!("options serialise")),
        }
    }
}

/// The setting whose version counts the changes to clients, so that every instance hears
/// of them (`Cache::follow`).
const CHANGES: &str = "clients";

thread_local! {
    /// This thread changed a client in the outermost transaction or statement it is in.
    static CHANGED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// How many transactions or statements (`Db::tx`, `Db::run`) this thread is inside.
    static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Counts a change to clients: in the database for the other instances, and for this
/// thread, whose transaction ends every cached client when it returns.
fn changed(conn: &mut AnyConnection, now: i64) -> StoreResult<()> {
    CHANGED.set(true);
    super::settings::put(conn, CHANGES, "{}", now)?;
    Ok(())
}

/// Entries at most: a cache that grows beyond them (clients registered by the thousand)
/// starts again empty.
const CACHE_ENTRIES: usize = 10_000;

/// Seconds an entry serves at most, for changes made without the store (an operator's
/// SQL, a restored backup), which no count of changes announces.
const MAX_AGE: i64 = 60;

/// Clients as last read, for client authentication, which reads its client on every
/// token, introspection and revocation request.
///
/// An entry serves while no client has changed since it was read, for a minute at most. A
/// change made in this process ends every entry when its transaction returns (`Db::tx` and
/// `Db::run` open a `Writes` scope), before the caller can answer anyone: a rotated
/// secret, a removed client are refused at once. A change made elsewhere (another
/// instance, the command line) ends them when this process next follows the stored count
/// of changes, every second: until then another instance may still accept a client as it
/// was, as its deny list of revoked JWT access tokens may still accept a token.
#[derive(Default)]
pub struct Cache {
    /// Changes seen by this process: an entry read under an older count is stale.
    epoch: std::sync::atomic::AtomicU64,
    /// The stored count of changes when `follow` last read it.
    followed: std::sync::Mutex<Option<i64>>,
    entries: std::sync::RwLock<std::collections::HashMap<String, Entry>>,
}

struct Entry {
    epoch: u64,
    read_at: i64,
    client: Client,
}

impl Cache {
    /// The client `id`, from the cache while it holds it unchanged, else from `conn`.
    pub fn find(
        &self,
        conn: &mut AnyConnection,
        id: &str,
        now: i64,
    ) -> StoreResult<Option<Client>> {
        use std::sync::PoisonError;
        // Read before the database: a change that commits after this read bumps the epoch
        // past it, so that what is read now cannot serve once that change has returned.
        let epoch = self.epoch.load(std::sync::atomic::Ordering::Acquire);
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(e) = entries.get(id)
            && e.epoch == epoch
            && (0..MAX_AGE).contains(&(now - e.read_at))
        {
            return Ok(Some(e.client.clone()));
        }
        drop(entries);
        let found = find(conn, id)?;
        if let Some(client) = &found {
            let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
            if entries.len() >= CACHE_ENTRIES {
                entries.clear();
            }
            // Not over an entry read since a later change.
            if entries.get(id).is_none_or(|e| e.epoch <= epoch) {
                let entry = Entry {
                    epoch,
                    read_at: now,
                    client: client.clone(),
                };
                entries.insert(id.to_string(), entry);
            }
        }
        Ok(found)
    }

    /// Every entry is stale.
    pub(super) fn forget(&self) {
        use std::sync::PoisonError;
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// A transaction or statement of this thread, until the scope is dropped: if it
    /// changed a client, every entry is forgotten then. An inner scope forgets them too
    /// but leaves the mark for the outer one, which ends after its commit.
    pub(super) fn writes(&self) -> Writes<'_> {
        DEPTH.set(DEPTH.get() + 1);
        Writes { cache: self }
    }

    /// Forgets every entry if a client changed elsewhere since the last call (another
    /// instance, the command line). Run every second.
    pub fn follow(&self, conn: &mut AnyConnection) -> StoreResult<()> {
        use std::sync::PoisonError;
        let stored = super::settings::version(conn, CHANGES)?;
        let mut followed = self.followed.lock().unwrap_or_else(PoisonError::into_inner);
        if *followed != stored {
            *followed = stored;
            self.forget();
        }
        Ok(())
    }
}

/// See `Cache::writes`.
pub(super) struct Writes<'a> {
    cache: &'a Cache,
}

impl Drop for Writes<'_> {
    fn drop(&mut self) {
        let depth = DEPTH.get().saturating_sub(1);
        DEPTH.set(depth);
        if CHANGED.get() {
            self.cache.forget();
            if depth == 0 {
                CHANGED.set(false);
            }
        }
    }
}

pub fn find(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<Client>> {
    if !super::searchable(id) {
        return Ok(None);
    }
    unique!(clients::table.find(id).select(ClientRow::as_select()), conn)?
        .map(Client::try_from)
        .transpose()
}

pub fn list(conn: &mut AnyConnection) -> StoreResult<Vec<Client>> {
    clients::table
        .order(clients::id)
        .select(ClientRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Client::try_from)
        .collect()
}

/// Inserts a client; returns false when the id is taken.
pub fn insert(conn: &mut AnyConnection, client: &Client) -> StoreResult<bool> {
    if find(conn, &client.id)?.is_some() {
        return Ok(false);
    }
    diesel::insert_into(clients::table)
        .values(ClientRow::from(client))
        .execute(conn)?;
    changed(conn, client.created_at)?;
    Ok(true)
}

pub fn remove(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<bool> {
    let removed = diesel::delete(clients::table.find(id)).execute(conn)? > 0;
    if removed {
        changed(conn, now)?;
    }
    Ok(removed)
}

/// Replaces a client's secret hash, only if it is still `old` (two instances upgrading the
/// same legacy hash at once write the same value; an administrator's change wins).
pub fn replace_secret_hash(
    conn: &mut AnyConnection,
    id: &str,
    old: &str,
    new: &str,
    now: i64,
) -> StoreResult<()> {
    let replaced = diesel::update(clients::table.find(id).filter(clients::secret_hash.eq(old)))
        .set(clients::secret_hash.eq(new))
        .execute(conn)?;
    if replaced > 0 {
        changed(conn, now)?;
    }
    Ok(())
}

/// Replaces every registered setting of a client (not its id or creation time); returns
/// false when there is no such client.
pub fn update(conn: &mut AnyConnection, client: &Client, now: i64) -> StoreResult<bool> {
    let row = ClientRow::from(client);
    let updated = diesel::update(clients::table.find(&client.id))
        .set((
            clients::name.eq(row.name),
            clients::secret_hash.eq(row.secret_hash),
            clients::auth_method.eq(row.auth_method),
            clients::jwks.eq(row.jwks),
            clients::redirect_uris.eq(row.redirect_uris),
            clients::post_logout_redirect_uris.eq(row.post_logout_redirect_uris),
            clients::grant_types.eq(row.grant_types),
            clients::scopes.eq(row.scopes),
            clients::id_token_alg.eq(row.id_token_alg),
            clients::risk_level.eq(row.risk_level),
            clients::access_token_ttl.eq(row.access_token_ttl),
            clients::refresh_token_ttl.eq(row.refresh_token_ttl),
            clients::resource_server.eq(row.resource_server),
            clients::options.eq(row.options),
        ))
        .execute(conn)?;
    if updated > 0 {
        changed(conn, now)?;
    }
    Ok(updated > 0)
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A client registered with private_key_jwt and no keys yet, for unit tests.
    pub fn client() -> Client {
        Client {
            id: "api".into(),
            name: "API".into(),
            secret_hash: None,
            sealed_secret: None,
            auth_method: AuthMethod::PrivateKeyJwt,
            jwks: None,
            jwks_uri: None,
            sector_identifier_uri: None,
            request_uris: Vec::new(),
            policy_uri: None,
            tos_uri: None,
            logo_uri: None,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            grant_types: vec!["authorization_code".into()],
            scopes: vec!["openid".into()],
            id_token_alg: "ES256".into(),
            risk_level: "low".into(),
            access_token_ttl: 600,
            refresh_token_ttl: 3600,
            created_at: 1_800_000_000,
            resource_server: false,
            access_token_format: AccessTokenFormat::Opaque,
            id_token_claims: IdTokenClaims::Requested,
            subject_type: SubjectType::Public,
            sector_identifier: None,
            require_pushed_authorization_requests: false,
            backchannel_logout_uri: None,
            frontchannel_logout_uri: None,
            registration_token_hash: None,
            dpop_bound_access_tokens: false,
            tls_client_auth: None,
            tls_client_certificate_bound_access_tokens: false,
            id_token_encrypted_response_alg: None,
            id_token_encrypted_response_enc: None,
            userinfo_signed_response_alg: None,
            userinfo_encrypted_response_alg: None,
            userinfo_encrypted_response_enc: None,
            default_max_age: None,
            default_acr_values: Vec::new(),
            profile: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn named(svc: &crate::service::Service, at: i64) -> String {
        let db = &svc.db;
        let found = db.run(|c| db.clients().find(c, "api", at)).unwrap();
        found.expect("the client").name
    }

    /// A provider whose client `api` has been read once, so that the cache holds it.
    fn cached() -> (tempfile::TempDir, crate::service::Service) {
        let (dir, svc) = crate::service::for_tests();
        svc.db.tx(|c| insert(c, &testing::client())).unwrap();
        assert_eq!(named(&svc, NOW), "API");
        (dir, svc)
    }

    /// A transaction that changes a client and runs another inside it (which ends first)
    /// still ends the entries read meanwhile when it returns.
    #[test]
    fn a_change_ends_entries_read_while_its_transaction_ran() {
        let (_dir, svc) = cached();
        let db = &svc.db;
        db.tx(|c| {
            let mut renamed = testing::client();
            renamed.name = "Tax office".into();
            update(c, &renamed, NOW)?;
            db.run(|_| Ok(()))?;
            // Read on another thread before this transaction commits: the old name.
            let meanwhile = std::thread::scope(|s| s.spawn(|| named(&svc, NOW)).join().unwrap());
            assert_eq!(meanwhile, "API");
            Ok(())
        })
        .unwrap();
        assert_eq!(named(&svc, NOW), "Tax office");
    }

    /// A change made without the store (SQL by hand) is seen once an entry is a minute
    /// old.
    #[test]
    fn an_entry_serves_a_minute_at_most() {
        let (_dir, svc) = cached();
        let db = &svc.db;
        db.run(|c| {
            diesel::update(clients::table.find("api"))
                .set(clients::name.eq("By hand"))
                .execute(c)?;
            Ok(())
        })
        .unwrap();
        assert_eq!(named(&svc, NOW + MAX_AGE - 1), "API");
        assert_eq!(named(&svc, NOW + MAX_AGE), "By hand");
    }
}
