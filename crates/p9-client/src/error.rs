//! Why a client call failed.

use std::io;

use p9_wire::WireError;
use rustix::io::Errno;

/// Why a client call failed.
#[derive(Debug)]
pub enum ClientError {
    /// The transport failed (or the server closed the connection).
    Io(io::Error),
    /// The server answered `Rlerror` (the connection is still in step).
    Lerror(Errno),
    /// The reply could not be decoded.
    Wire(WireError),
    /// The reply was of the wrong type, tag or size.
    Unexpected(String),
}

impl ClientError {
    /// The errno of an `Rlerror`.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            ClientError::Lerror(e) => Some(*e),
            _ => None,
        }
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "transport: {e}"),
            ClientError::Lerror(e) => write!(f, "Rlerror: {e}"),
            ClientError::Wire(e) => write!(f, "bad reply: {e}"),
            ClientError::Unexpected(s) => write!(f, "unexpected reply: {s}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Io(e)
    }
}

impl From<WireError> for ClientError {
    fn from(e: WireError) -> Self {
        ClientError::Wire(e)
    }
}

/// The result of a client call.
pub type Result<T> = std::result::Result<T, ClientError>;
