//! Token revocation (RFC 7009). Revoking a refresh token revokes its whole grant, and
//! with it every access token issued under it; revoking an access token revokes just it.

use super::error::{ErrorCode, OidcError, OidcResult};
use super::params::Params;
use crate::crypto;
use crate::store::AnyConnection;
use crate::store::clients::Client;
use crate::store::tokens;

pub fn revoke(conn: &mut AnyConnection, client: &Client, params: &Params) -> OidcResult<()> {
    let token = params.require("token")?;
    let hash = crypto::secret_hash(token);
    let not_yours = || {
        OidcError::new(
            ErrorCode::UnauthorizedClient,
            "the token was not issued to this client",
        )
    };
    let refresh_first = params.get("token_type_hint") != Some("access_token");
    for refresh in [refresh_first, !refresh_first] {
        if refresh {
            if let Some((_, grant)) = tokens::find_refresh_token(conn, &hash)? {
                if grant.client_id != client.id {
                    return Err(not_yours());
                }
                tokens::revoke_grant(conn, &grant.id)?;
                return Ok(());
            }
        } else if let Some((_, grant)) = tokens::find_access_token(conn, &hash)? {
            if grant.client_id != client.id {
                return Err(not_yours());
            }
            tokens::revoke_access_token(conn, &hash)?;
            return Ok(());
        }
    }
    // Unknown or expired tokens: nothing to do, and success (RFC 7009 2.2).
    Ok(())
}
