//! Encoding messages into complete frames.

use crate::constants::HEADER_SIZE;
use crate::error::WireError;
use crate::messages::*;
use crate::wire::Writer;

pub(crate) mod sealed {
    use crate::error::WireError;
    use crate::wire::Writer;

    /// Body encoding, kept private so only this crate's messages implement
    /// [`super::Encode`]; generated for each message by `messages!`.
    pub trait EncodeBody {
        fn msg_type(&self) -> u8;
        fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), WireError>;
    }
}

/// A message that can be encoded into a frame with [`encode`]: implemented
/// by [`Tmessage`] and [`Rmessage`].
pub trait Encode: sealed::EncodeBody {}

impl Encode for Tmessage<'_> {}
impl Encode for Rmessage<'_> {}

/// Appends the complete frame `size[4] type[1] tag[2] body` for `msg` to
/// `buf` and returns the frame's length.
///
/// Fails with [`WireError::StringTooLong`] if a string exceeds 65535 bytes
/// or [`WireError::FrameTooLarge`] if the frame would exceed `msize` (pass
/// `u32::MAX` for no limit). On error `buf` is left as it was. `buf` is
/// appended to, not cleared, so several replies can be batched.
pub fn encode<M: Encode + ?Sized>(
    tag: u16,
    msg: &M,
    buf: &mut Vec<u8>,
    msize: u32,
) -> Result<usize, WireError> {
    let start = buf.len();
    let result = encode_inner(tag, msg, buf, msize, start);
    if result.is_err() {
        buf.truncate(start);
    }
    result
}

fn encode_inner<M: Encode + ?Sized>(
    tag: u16,
    msg: &M,
    buf: &mut Vec<u8>,
    msize: u32,
    start: usize,
) -> Result<usize, WireError> {
    let mut w = Writer::new(buf);
    w.u32(0);
    w.u8(msg.msg_type());
    w.u16(tag);
    msg.encode_body(&mut w)?;
    let len = buf.len() - start;
    patch_size(buf, start, len, msize)?;
    Ok(len)
}

/// Writes `len` into the size field at `start`, checking it against `msize`.
pub(crate) fn patch_size(
    buf: &mut [u8],
    start: usize,
    len: usize,
    msize: u32,
) -> Result<(), WireError> {
    let size = match u32::try_from(len) {
        Ok(s) if s <= msize => s,
        _ => return Err(WireError::FrameTooLarge { size: len, msize }),
    };
    match buf.get_mut(start..start + 4) {
        Some(field) => {
            field.copy_from_slice(&size.to_le_bytes());
            Ok(())
        }
        None => Err(WireError::InvalidPending {
            reason: "size field outside buffer",
        }),
    }
}

/// Writes a frame header with a zero size placeholder; returns its offset.
pub(crate) fn begin_frame(buf: &mut Vec<u8>, ty: u8, tag: u16) -> usize {
    let start = buf.len();
    let mut w = Writer::new(buf);
    w.u32(0);
    w.u8(ty);
    w.u16(tag);
    debug_assert_eq!(buf.len() - start, HEADER_SIZE);
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_and_respects_msize() {
        let mut buf = vec![0xaa];
        let n = encode(1, &Rmessage::Clunk, &mut buf, 7).unwrap();
        assert_eq!(n, 7);
        assert_eq!(buf, [0xaa, 7, 0, 0, 0, 121, 1, 0]);
        let err = encode(1, &Rmessage::lerror(2), &mut buf, 10).unwrap_err();
        assert_eq!(
            err,
            WireError::FrameTooLarge {
                size: 11,
                msize: 10
            }
        );
        assert_eq!(buf.len(), 8, "buffer restored on error");
    }

    #[test]
    fn long_string_is_an_error() {
        let long = vec![b'x'; 70000];
        let mut buf = Vec::new();
        let msg = Rmessage::Readlink(Rreadlink { target: &long });
        assert_eq!(
            encode(0, &msg, &mut buf, u32::MAX),
            Err(WireError::StringTooLong { len: 70000 })
        );
        assert!(buf.is_empty());
    }
}
