//! Token introspection (RFC 7662) for resource servers, which authenticate as
//! confidential clients. A client registered as a resource server may introspect any
//! token; any other client only the tokens issued to it. For a token the caller may not
//! see, the answer is `{"active": false}`, the same as for an unknown one (RFC 7662 2.2),
//! so that a client cannot learn about another client's users.

use super::Provider;
use super::error::{OidcError, OidcResult};
use super::params::Params;
use super::userinfo::active_access_token;
use crate::crypto;
use crate::store::AnyConnection;
use crate::store::clients::Client;
use crate::store::tokens::{self, Grant};
use serde_json::{Map, Value, json};

pub fn introspect(
    conn: &mut AnyConnection,
    provider: &Provider,
    client: &Client,
    params: &Params,
    now: i64,
) -> OidcResult<Value> {
    if client.is_public() {
        return Err(OidcError::invalid_client(
            "public clients cannot use introspection",
        ));
    }
    let token = params.require("token")?;
    let may_see = |grant: &Grant| client.resource_server || grant.client_id == client.id;
    if let Some((at, grant)) = active_access_token(conn, token, now)?.filter(|(_, g)| may_see(g)) {
        return Ok(describe(
            provider,
            &grant,
            &at.scope,
            "Bearer",
            at.created_at,
            at.expires_at,
        ));
    }
    let refresh = tokens::find_refresh_token(conn, &crypto::secret_hash(token))?
        .filter(|(t, g)| !t.rotated && !g.revoked && t.expires_at > now && may_see(g));
    if let Some((rt, grant)) = refresh {
        return Ok(describe(
            provider,
            &grant,
            &rt.scope,
            "refresh_token",
            rt.created_at,
            rt.expires_at,
        ));
    }
    Ok(json!({ "active": false }))
}

fn describe(
    provider: &Provider,
    grant: &Grant,
    scope: &str,
    token_type: &str,
    iat: i64,
    exp: i64,
) -> Value {
    let mut m = Map::new();
    m.insert("active".into(), true.into());
    m.insert("scope".into(), scope.into());
    m.insert("client_id".into(), grant.client_id.clone().into());
    m.insert(
        "sub".into(),
        grant
            .user_id
            .clone()
            .unwrap_or_else(|| grant.client_id.clone())
            .into(),
    );
    m.insert("aud".into(), grant.client_id.clone().into());
    m.insert("iss".into(), provider.issuer.clone().into());
    m.insert("token_type".into(), token_type.into());
    m.insert("iat".into(), iat.into());
    m.insert("exp".into(), exp.into());
    if let Some(acr) = &grant.acr {
        m.insert("acr".into(), acr.clone().into());
    }
    if let Some(t) = grant.auth_time {
        m.insert("auth_time".into(), t.into());
    }
    if grant.user_id.is_some() {
        m.insert("amr".into(), grant.amr_list().into());
    }
    if let Some(sid) = &grant.sid {
        m.insert("sid".into(), sid.clone().into());
    }
    Value::Object(m)
}
