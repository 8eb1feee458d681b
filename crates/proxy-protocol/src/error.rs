//! Codec errors. Decoding never panics: every malformed input maps to one of these.

use thiserror::Error;

/// Why bytes from the wire could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// A field runs past the end of the message body.
    #[error("message truncated in field `{what}` at offset {offset}")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Where in the body it started.
        offset: usize,
    },
    /// The body holds bytes after its last field.
    #[error("{count} unexpected trailing byte(s) after the last field")]
    TrailingBytes {
        /// How many bytes were left over.
        count: usize,
    },
    /// The header announces a body larger than `PROXY_MAX_IO_SZ`.
    #[error("message body of {size} bytes exceeds the protocol maximum of {max}")]
    TooLarge {
        /// The announced size.
        size: u32,
        /// The protocol maximum.
        max: usize,
    },
    /// The request type is not one of `hw/9pfs/9p-proxy.h`'s.
    #[error("unknown request type {0}")]
    UnknownRequest(u32),
    /// The reply type is neither T_SUCCESS nor T_ERROR.
    #[error("unknown reply type {0}")]
    UnknownReply(u32),
    /// A reply body has the wrong size for its kind.
    #[error("reply body of {got} bytes where {expected} were expected")]
    BadReplySize {
        /// The size received.
        got: usize,
        /// The size the reply kind has.
        expected: usize,
    },
    /// A T_ERROR reply whose value is not a negative errno.
    #[error("error reply carries {0}, not a negative errno")]
    BadErrno(i32),
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// An `s` field longer than its u16 length can express.
    #[error("string of {len} bytes is longer than 65535")]
    StringTooLong {
        /// Its length.
        len: usize,
    },
    /// The body would exceed `PROXY_MAX_IO_SZ`.
    #[error("message body of {size} bytes exceeds the protocol maximum of {max}")]
    TooLarge {
        /// The body size.
        size: usize,
        /// The protocol maximum.
        max: usize,
    },
}
