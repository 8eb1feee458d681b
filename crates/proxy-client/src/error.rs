//! The client's error type: the helper's answers, kept apart from failures of the
//! connection itself.
//!
//! Three families:
//! - answers: the helper ran the request and it failed ([`Error::Errno`]), or the reply
//!   could not be taken in whole but the stream is still in step ([`Error::MissingFd`],
//!   [`Error::ReplyTooLarge`], [`Error::UnexpectedReply`]); the connection stays usable;
//! - local refusals: the request could not be encoded ([`Error::Encode`]); nothing was sent;
//! - connection failures: transport ([`Error::Io`], [`Error::Eof`]) and protocol
//!   ([`Error::Protocol`]) errors. After one the connection is
//!   closed and marked broken, as QEMU sets `sockfd = -1`, and every later call fails with
//!   [`Error::Broken`] without touching the socket.
//!
//! Every error has an errno ([`Error::errno`]); converting into [`std::io::Error`] keeps it
//! as `raw_os_error`, so a 9P server can forward it to its guest.

use proxy_protocol::{DecodeError, EncodeError};
use rustix::io::Errno;
use thiserror::Error;

/// What went wrong with a request.
#[derive(Debug, Error)]
pub enum Error {
    /// The helper answered with this errno (its `-errno`, made positive). The connection
    /// is fine.
    #[error("helper: {0}")]
    Errno(Errno),

    /// The fd word said `V9FS_FD_VALID` but no fd came with it (QEMU: "ancillary data
    /// sent but not received", `-ENFILE`). The connection is fine.
    #[error("helper announced an fd but none was received")]
    MissingFd,

    /// The reply announced a body larger than `PROXY_MAX_IO_SZ`; it was read and thrown
    /// away, as QEMU does, and reported as `ENOBUFS`. The connection is fine.
    #[error("reply body of {size} bytes exceeds the protocol maximum; discarded")]
    ReplyTooLarge {
        /// The announced body size.
        size: u32,
    },

    /// The request cannot be encoded (a string over 65535 bytes, a body over 64 KiB).
    /// Nothing was sent; the connection is fine.
    #[error("request not sent: {0}")]
    Encode(EncodeError),

    /// Reading from or writing to the socket failed. The connection is now broken.
    #[error("transport: {0}")]
    Io(#[source] std::io::Error),

    /// The helper closed the connection mid-exchange. The connection is now broken.
    #[error("helper closed the connection")]
    Eof,

    /// The reply could not be decoded. The connection is now broken.
    #[error("protocol: {0}")]
    Protocol(#[from] DecodeError),

    /// A well-formed reply of a form that does not answer the typed call. Cannot happen
    /// (replies are decoded by the request's form); kept so that no path panics. The
    /// reply was read whole, so the connection is fine.
    #[error("protocol: reply of the wrong form for {0}")]
    UnexpectedReply(&'static str),

    /// An earlier transport or protocol error broke the connection; the socket is closed.
    #[error("connection to the helper is broken by an earlier error")]
    Broken,
}

impl Error {
    /// The errno to report for this error (to a 9P guest, say): the helper's own for
    /// [`Error::Errno`], `ENFILE` for [`Error::MissingFd`], `ENOBUFS` for
    /// [`Error::ReplyTooLarge`], `ENAMETOOLONG`/`E2BIG` for encoding refusals, and `EIO`
    /// for every connection failure, as QEMU returns (the socket's own error, if any,
    /// stays in [`Error::Io`]).
    pub fn errno(&self) -> Errno {
        match self {
            Error::Errno(e) => *e,
            Error::MissingFd => Errno::NFILE,
            Error::ReplyTooLarge { .. } => Errno::NOBUFS,
            Error::Encode(EncodeError::StringTooLong { .. }) => Errno::NAMETOOLONG,
            Error::Encode(EncodeError::TooLarge { .. }) => Errno::TOOBIG,
            Error::Io(_)
            | Error::Eof
            | Error::Protocol(_)
            | Error::UnexpectedReply(_)
            | Error::Broken => Errno::IO,
        }
    }

    /// Whether this error closed the connection (a transport or protocol error, or the
    /// connection was already broken).
    pub fn breaks_connection(&self) -> bool {
        matches!(
            self,
            Error::Io(_) | Error::Eof | Error::Protocol(_) | Error::Broken
        )
    }
}

impl From<Errno> for Error {
    fn from(e: Errno) -> Self {
        Error::Errno(e)
    }
}

impl From<Error> for std::io::Error {
    /// Keeps [`Error::errno`] as `raw_os_error`; except that a transport error with an OS
    /// error is passed through as it was (raw_os_error = the socket's error).
    fn from(e: Error) -> Self {
        match e {
            Error::Io(io) if io.raw_os_error().is_some() => io,
            other => std::io::Error::from_raw_os_error(other.errno().raw_os_error()),
        }
    }
}

/// The result of a client call.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_survives_into_io_error() {
        let io: std::io::Error = Error::Errno(Errno::NOTEMPTY).into();
        assert_eq!(io.raw_os_error(), Some(libc_errno(Errno::NOTEMPTY)));
        let io: std::io::Error = Error::MissingFd.into();
        assert_eq!(io.raw_os_error(), Some(libc_errno(Errno::NFILE)));
        let io: std::io::Error = Error::ReplyTooLarge { size: 1 << 20 }.into();
        assert_eq!(io.raw_os_error(), Some(libc_errno(Errno::NOBUFS)));
        let io: std::io::Error = Error::Broken.into();
        assert_eq!(io.raw_os_error(), Some(libc_errno(Errno::IO)));
        let io: std::io::Error = Error::Io(std::io::Error::from_raw_os_error(32)).into();
        assert_eq!(io.raw_os_error(), Some(32));
    }

    #[test]
    fn only_connection_failures_break() {
        assert!(!Error::Errno(Errno::NOENT).breaks_connection());
        assert!(!Error::MissingFd.breaks_connection());
        assert!(!Error::ReplyTooLarge { size: 0 }.breaks_connection());
        assert!(Error::Eof.breaks_connection());
        assert!(Error::Protocol(DecodeError::BadErrno(5)).breaks_connection());
    }

    fn libc_errno(e: Errno) -> i32 {
        e.raw_os_error()
    }
}
