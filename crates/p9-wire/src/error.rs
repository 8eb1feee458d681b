//! Errors produced while decoding or encoding 9P frames.

use thiserror::Error;

/// Everything that can go wrong while decoding or encoding a 9P frame.
///
/// Decoding never panics: every malformed input maps to one of these
/// variants. A server that fails to decode a request can still answer it
/// when the header was readable: see [`crate::peek_header`] and
/// [`WireError::suggested_errno`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    /// The buffer is shorter than the 7-byte `size[4] type[1] tag[2]` header.
    #[error("frame of {len} bytes is shorter than the 7-byte header")]
    ShortHeader {
        /// Number of bytes that were available.
        len: usize,
    },

    /// The `size` field disagrees with the length of the frame handed in,
    /// or is smaller than the header itself.
    #[error("size field says {declared} bytes but the frame has {actual}")]
    SizeMismatch {
        /// Value of the `size[4]` field.
        declared: u32,
        /// Actual number of bytes in the frame.
        actual: usize,
    },

    /// A field extends past the end of the frame.
    #[error("truncated frame: needed {needed} more bytes at offset {offset}, {remaining} left")]
    Truncated {
        /// Offset (from the start of the frame) of the field being read.
        offset: usize,
        /// Bytes the field needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },

    /// The message body was decoded but bytes were left over.
    #[error("{count} trailing bytes after message type {ty}")]
    TrailingBytes {
        /// Message type being decoded.
        ty: u8,
        /// Number of bytes left over.
        count: usize,
    },

    /// A Twalk or Rwalk carries more than [`crate::MAXWELEM`] elements.
    #[error("walk with {count} elements exceeds the maximum of 16")]
    TooManyWalkElements {
        /// Element count found (or attempted).
        count: usize,
    },

    /// The message type is not a 9P2000.L message of the expected direction
    /// (T or R). The header was valid, so a server can answer `tag` with
    /// `Rlerror` (see [`WireError::suggested_errno`]).
    #[error("unknown message type {ty} (tag {tag})")]
    UnknownType {
        /// The unrecognised type byte.
        ty: u8,
        /// Tag of the frame, for the reply.
        tag: u16,
    },

    /// A string to encode is longer than `u16::MAX` bytes.
    #[error("string of {len} bytes exceeds the 65535-byte limit")]
    StringTooLong {
        /// Length of the offending string.
        len: usize,
    },

    /// The encoded frame would be larger than the negotiated msize (or than
    /// `u32::MAX`).
    #[error("frame of {size} bytes exceeds msize {msize}")]
    FrameTooLarge {
        /// Size the frame would have.
        size: usize,
        /// Limit that was exceeded.
        msize: u32,
    },

    /// A zero-copy `finish_*` helper was handed a buffer that does not hold
    /// a frame started by the matching `begin_*` helper at that offset, or a
    /// count larger than the bytes appended.
    #[error("invalid pending frame: {reason}")]
    InvalidPending {
        /// What was wrong.
        reason: &'static str,
    },
}

impl WireError {
    /// The errno a server should put in an `Rlerror` when a request could not
    /// be decoded: `EOPNOTSUPP` for unknown message types (what QEMU answers),
    /// `EINVAL` for anything malformed.
    pub fn suggested_errno(&self) -> u32 {
        match self {
            WireError::UnknownType { .. } => libc::EOPNOTSUPP as u32,
            _ => libc::EINVAL as u32,
        }
    }
}
