//! The `{u32 type, u32 size}` header that frames every request and every non-fd reply.

use crate::error::{DecodeError, EncodeError};
use crate::wire::Writer;
use crate::MAX_BODY_SIZE;

/// Size of [`Header`] on the wire (`PROXY_HDR_SZ`).
pub const HEADER_SIZE: usize = 8;

/// Reply type of a successful reply.
pub const T_SUCCESS: u32 = 0;
/// Reply type of an error reply (body: `-errno`).
pub const T_ERROR: u32 = 1;

/// A message header: the request or reply type, and the size of the body that follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Request type (`T_OPEN`...) or reply type (`T_SUCCESS`/`T_ERROR`).
    pub kind: u32,
    /// Body size in bytes, not counting the header.
    pub size: u32,
}

impl Header {
    /// Decodes a header. Infallible: any 8 bytes are a header; see [`Header::body_len`].
    pub fn decode(bytes: [u8; HEADER_SIZE]) -> Header {
        Header {
            kind: u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            size: u32::from_ne_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        }
    }

    /// Encodes the header.
    pub fn encode(self) -> [u8; HEADER_SIZE] {
        let mut out = [0u8; HEADER_SIZE];
        out[..4].copy_from_slice(&self.kind.to_ne_bytes());
        out[4..].copy_from_slice(&self.size.to_ne_bytes());
        out
    }

    /// The body length, checked against the protocol maximum (a body of exactly
    /// `PROXY_MAX_IO_SZ` is accepted, as by QEMU's helper).
    pub fn body_len(self) -> Result<usize, DecodeError> {
        let size = self.size as usize;
        if size > MAX_BODY_SIZE {
            return Err(DecodeError::TooLarge {
                size: self.size,
                max: MAX_BODY_SIZE,
            });
        }
        Ok(size)
    }
}

/// Appends one framed message to `buf`: a header, then the body `body` writes (it returns
/// the message type). On `body`'s error, or a body over `PROXY_MAX_IO_SZ`, `buf` is left
/// as it was.
pub(crate) fn encode_frame(
    buf: &mut Vec<u8>,
    body: impl FnOnce(&mut Writer<'_>) -> Result<u32, EncodeError>,
) -> Result<(), EncodeError> {
    let start = buf.len();
    buf.extend_from_slice(&[0u8; HEADER_SIZE]);
    let kind = match body(&mut Writer::new(buf)) {
        Ok(kind) => kind,
        Err(e) => {
            buf.truncate(start);
            return Err(e);
        }
    };
    let size = buf.len() - start - HEADER_SIZE;
    if size > MAX_BODY_SIZE {
        buf.truncate(start);
        return Err(EncodeError::TooLarge {
            size,
            max: MAX_BODY_SIZE,
        });
    }
    let header = Header {
        kind,
        size: size as u32,
    };
    buf[start..start + HEADER_SIZE].copy_from_slice(&header.encode());
    Ok(())
}
