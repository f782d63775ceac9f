//! Authentication factors. Each factor is a module that checks what a citizen presents
//! against the credential it is handed; none of them knows about HTTP or storage.

pub mod password;

/// Authentication method reference values (RFC 8176) that a factor proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Amr {
    Pwd,
}

impl Amr {
    pub fn as_str(self) -> &'static str {
        match self {
            Amr::Pwd => "pwd",
        }
    }
}
