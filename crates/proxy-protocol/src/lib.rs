//! The wire protocol between QEMU's 9p "proxy" fs driver (`hw/9pfs/9p-proxy.c`) and
//! `virtfs-proxy-helper`, as QEMU 7.2 speaks it: pure encode/decode, no I/O, shared by the
//! helper and the client.
//!
//! Framing: every request and every non-fd reply is a [`Header`] `{u32 type, u32 size}`
//! followed by `size` bytes (at most [`MAX_BODY_SIZE`]), all in HOST byte order.
//! T_OPEN and T_CREATE are answered by a bare [`FdWord`] instead.
//!
//! Ours, from [`FIRST_EXTENSION`] on (QEMU never sends them): `T_As` (the identity of
//! later requests) and the fd-relative requests, which carry [`RequestType::fds`] fds in
//! SCM_RIGHTS on the same `sendmsg` as the request and name at most one path component
//! (the helper checks each fd is on its export's mounts); see `request.rs`.
//!
//! ```
//! use proxy_protocol::{Header, Reply, ReplyForm, Request, HEADER_SIZE};
//! let mut buf = Vec::new();
//! Request::Lstat { path: b"/etc" }.encode(&mut buf).unwrap();
//! let header = Header::decode(buf[..HEADER_SIZE].try_into().unwrap());
//! let req = Request::decode(header.kind, &buf[HEADER_SIZE..]).unwrap();
//! assert_eq!(req, Request::Lstat { path: b"/etc" });
//! assert_eq!(req.reply_form(), ReplyForm::Data(proxy_protocol::DataKind::Stat));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod field;
mod header;
mod reply;
mod request;
pub mod wire;

pub use error::{DecodeError, EncodeError};
pub use header::{Header, HEADER_SIZE, T_ERROR, T_SUCCESS};
pub use reply::{
    DataKind, FdWord, Reply, ReplyForm, Stat, StatFs, FD_VALID, STATFS_SIZE, STAT_SIZE,
};
pub use request::{decode_groups, encode_groups, Request, RequestType, FIRST_EXTENSION};

/// The largest message body either side accepts (`PROXY_MAX_IO_SZ`, 64 KiB).
pub const MAX_BODY_SIZE: usize = 64 * 1024;

/// The largest whole message, header included.
pub const MAX_MESSAGE_SIZE: usize = HEADER_SIZE + MAX_BODY_SIZE;

/// Decodes a complete request message (header and body) from `msg`, which must hold
/// exactly one message. For fuzzing and tests; streams use [`Header`] then
/// [`Request::decode`].
pub fn decode_request(msg: &[u8]) -> Result<Request<'_>, DecodeError> {
    let head: [u8; HEADER_SIZE] = msg
        .get(..HEADER_SIZE)
        .and_then(|h| h.try_into().ok())
        .ok_or(DecodeError::Truncated {
            what: "header",
            offset: 0,
        })?;
    let header = Header::decode(head);
    let len = header.body_len()?;
    let body = &msg[HEADER_SIZE..];
    if body.len() < len {
        return Err(DecodeError::Truncated {
            what: "body",
            offset: body.len(),
        });
    }
    if body.len() > len {
        return Err(DecodeError::TrailingBytes {
            count: body.len() - len,
        });
    }
    Request::decode(header.kind, body)
}
