//! Token revocation (RFC 7009). Revoking a refresh token revokes its whole grant, and
//! with it every access token issued under it; revoking an access token revokes just it.
//! A token issued to another client is left alone and answered exactly like an unknown
//! one (RFC 7009 2.2), so that the endpoint tells a caller nothing about other clients'
//! tokens.

use super::error::OidcResult;
use super::params::Params;
use crate::crypto;
use crate::store::AnyConnection;
use crate::store::clients::Client;
use crate::store::tokens;

pub fn revoke(conn: &mut AnyConnection, client: &Client, params: &Params) -> OidcResult<()> {
    let token = params.require("token")?;
    let hash = crypto::secret_hash(token);
    let refresh_first = params.get("token_type_hint") != Some("access_token");
    for refresh in [refresh_first, !refresh_first] {
        if refresh {
            if let Some((_, grant)) = tokens::find_refresh_token(conn, &hash)? {
                if grant.client_id == client.id {
                    tokens::revoke_grant(conn, &grant.id)?;
                } else {
                    tracing::warn!(client = %client.id, "revocation of another client's token ignored");
                }
                return Ok(());
            }
        } else if let Some((_, grant)) = tokens::find_access_token(conn, &hash)? {
            if grant.client_id == client.id {
                tokens::revoke_access_token(conn, &hash)?;
            } else {
                tracing::warn!(client = %client.id, "revocation of another client's token ignored");
            }
            return Ok(());
        }
    }
    // Unknown or expired tokens: nothing to do, and success (RFC 7009 2.2).
    Ok(())
}
