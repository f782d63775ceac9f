//! X.509 client certificates (smart cards, eID cards). The chain is checked before the
//! transaction (pure: CA, validity, CRL); the account it maps to is found inside it. A
//! mapping that fits several accounts (two sharing an e-mail address) maps to none.

use crate::service::Service;
use crate::store::users::{self, User};
use crate::store::{AnyConnection, StoreResult};

/// The name the certificate maps to, if its chain is valid.
pub fn identify(svc: &Service, chain: Option<&[Vec<u8>]>, now: i64) -> Option<String> {
    let certs = svc.certificates.as_ref()?;
    certs.identify(chain?, now).ok()
}

/// The one account that the mapped name stands for.
pub fn account(svc: &Service, conn: &mut AnyConnection, name: &str) -> StoreResult<Option<User>> {
    let by_email = svc
        .certificates
        .as_ref()
        .is_some_and(|c| c.mapping().is_email());
    let user = if by_email {
        let mut all = users::find_all_by_email(conn, name)?;
        if all.len() == 1 { all.pop() } else { None }
    } else {
        users::find_by_username(conn, name)?
    };
    Ok(user.filter(|u| !u.disabled))
}
