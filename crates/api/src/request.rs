//! A request as a caller sees it: which ceremony ([`Kind`]), the handle it can predict
//! ([`handle_path`], xdg-desktop-portal's convention) and the `Response` codes.

use zbus::names::UniqueName;
use zbus::zvariant::OwnedObjectPath;

use crate::error::Error;
use crate::names::OBJECT_PATH;

/// `Response` code: success.
pub const RESPONSE_SUCCESS: u32 = 0;
/// `Response` code: the user refused or dismissed the prompt.
pub const RESPONSE_CANCELLED: u32 = 1;
/// `Response` code: any other failure.
pub const RESPONSE_ERROR: u32 = 2;

/// Longest `handle_token`.
pub const MAX_HANDLE_TOKEN: usize = 64;

/// Which ceremony a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `navigator.credentials.create()`.
    Create,
    /// `navigator.credentials.get()`.
    Get,
}

impl Kind {
    /// `"create"` / `"get"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Create => "create",
            Kind::Get => "get",
        }
    }
}

/// The request handle for `sender` and `token` (portal convention:
/// `/…/request/SENDER/TOKEN`, SENDER without `:` and with `.` as `_`).
pub fn handle_path(sender: &UniqueName<'_>, token: &str) -> Result<OwnedObjectPath, Error> {
    let valid = !token.is_empty()
        && token.len() <= MAX_HANDLE_TOKEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid {
        return Err(Error::InvalidArgument(format!(
            "handle_token must be 1 to {MAX_HANDLE_TOKEN} characters of [A-Za-z0-9_]"
        )));
    }
    let s = sender.as_str().trim_start_matches(':').replace('.', "_");
    OwnedObjectPath::try_from(format!("{OBJECT_PATH}/request/{s}/{token}"))
        .map_err(|e| Error::InvalidArgument(e.to_string()))
}
