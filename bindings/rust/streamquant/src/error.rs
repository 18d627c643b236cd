use std::ffi::{CStr, CString};
use std::fmt;

use streamquant_sys as sys;

/// An error returned by libstreamquant: the pinned SQ_ERR_* code and the library's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: i32,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The code's stable name, e.g. "SQ_ERR_IO".
    pub fn code_name(&self) -> String {
        unsafe { CStr::from_ptr(sys::sq_error_code_name(self.code)) }.to_string_lossy().into_owned()
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error { code: sys::SQ_ERR_INVALID_ARGUMENT, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code_name(), self.message)
    }
}

impl std::error::Error for Error {}

/// Turns a returned `sq_error*` into a Result, freeing the error.
pub(crate) fn check(err: *mut sys::sq_error) -> Result<()> {
    if err.is_null() {
        return Ok(());
    }
    let e = unsafe {
        Error {
            code: sys::sq_error_code(err),
            message: CStr::from_ptr(sys::sq_error_message(err)).to_string_lossy().into_owned(),
        }
    };
    unsafe { sys::sq_error_free(err) };
    Err(e)
}

/// A NUL-terminated copy of a Rust string; an interior NUL is an invalid argument.
pub(crate) fn cstring(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::invalid(format!("{what} '{}' contains a NUL byte", s.escape_debug())))
}
