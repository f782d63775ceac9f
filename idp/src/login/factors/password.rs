//! Password sign-in. The argon2 verification runs before the check transaction (it is the
//! slow part and needs no lock) and always once, whether or not the username exists; the
//! transaction then accepts it only for the stored hash it was made against.

use crate::service::Service;
use crate::store::users::{self, Credential, User};
use crate::store::{AnyConnection, StoreResult};
use authenticators::Factor;

/// A password attempt whose hash verification is done.
pub struct Verified {
    pub username: String,
    pub user: Option<User>,
    credential: Option<Credential>,
    matches: bool,
}

pub fn prepare(svc: &Service, username: &str, password: &str, now: i64) -> StoreResult<Verified> {
    let username = username.trim().to_string();
    let (user, credential) = svc.db.run(|c| {
        let Some(user) = users::find_by_username(c, &username)? else {
            return Ok((None, None));
        };
        let cred = users::credential(c, &user.id, users::PASSWORD)?;
        Ok((Some(user), cred))
    })?;
    let phc = credential
        .as_ref()
        .and_then(|c| String::from_utf8(c.data.clone()).ok());
    let matches = crate::metrics::get()
        .password_hashing(|| svc.passwords.finish(&phc, &(), password, now).is_ok());
    Ok(Verified {
        username,
        user,
        credential,
        matches,
    })
}

impl Verified {
    /// The lockout subject of this attempt.
    pub fn subject(&self) -> String {
        super::lockout::subject(self.user.as_ref().map(|u| u.id.as_str()), &self.username)
    }

    /// Inside the check transaction: the account, if the password matched its current
    /// hash and the account may sign in.
    pub fn verify(&self, conn: &mut AnyConnection, now: i64) -> StoreResult<Option<User>> {
        let (Some(user), Some(checked), true) = (&self.user, &self.credential, self.matches) else {
            return Ok(None);
        };
        let Some(user) = users::find(conn, &user.id)?.filter(|u| !u.disabled) else {
            return Ok(None);
        };
        // The password may have been changed since it was verified.
        let current = users::credential(conn, &user.id, users::PASSWORD)?;
        if current.is_none_or(|c| c.id != checked.id || c.data != checked.data) {
            return Ok(None);
        }
        users::touch_credential(conn, &checked.id, now)?;
        Ok(Some(user))
    }
}
