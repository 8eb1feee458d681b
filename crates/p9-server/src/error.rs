//! The one mapping from any error met while handling a request to the errno of its
//! `Rlerror`. Errors handling a request are never fatal to the connection; only
//! transport errors (reading or writing the socket) end it.

use std::io;

use p9_wire::WireError;
use rustix::io::Errno;

/// An error while handling one request.
#[derive(Debug)]
pub enum Error {
    /// A system call (or a backend) failed with this errno.
    Errno(Errno),
    /// A request could not be decoded, or a reply could not be encoded.
    Wire(WireError),
    /// An I/O error from the standard library.
    Io(io::Error),
}

/// The result of handling part of a request.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The errno the client gets in `Rlerror`.
    pub fn errno(&self) -> Errno {
        match self {
            Error::Errno(e) => *e,
            Error::Wire(WireError::FrameTooLarge { .. }) => Errno::MSGSIZE,
            Error::Wire(WireError::StringTooLong { .. }) => Errno::NAMETOOLONG,
            Error::Wire(w) => Errno::from_raw_os_error(w.suggested_errno() as i32),
            Error::Io(e) => e
                .raw_os_error()
                .map(Errno::from_raw_os_error)
                .unwrap_or(Errno::IO),
        }
    }

    /// The `ecode` field of the `Rlerror`.
    pub fn ecode(&self) -> u32 {
        self.errno().raw_os_error() as u32
    }
}

impl From<Errno> for Error {
    fn from(e: Errno) -> Self {
        Error::Errno(e)
    }
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        Error::Wire(e)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Errno(e) => write!(f, "{e}"),
            Error::Wire(e) => write!(f, "{e}"),
            Error::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping() {
        assert_eq!(Error::from(Errno::NOENT).ecode(), libc::ENOENT as u32);
        assert_eq!(
            Error::from(WireError::UnknownType { ty: 1, tag: 2 }).errno(),
            Errno::OPNOTSUPP
        );
        assert_eq!(
            Error::from(WireError::ShortHeader { len: 1 }).errno(),
            Errno::INVAL
        );
        assert_eq!(
            Error::from(WireError::FrameTooLarge { size: 9, msize: 8 }).errno(),
            Errno::MSGSIZE
        );
        assert_eq!(
            Error::from(io::Error::from_raw_os_error(libc::EPIPE)).errno(),
            Errno::PIPE
        );
        assert_eq!(Error::from(io::Error::other("x")).errno(), Errno::IO);
    }
}
