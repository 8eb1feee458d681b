//! Decoding complete frames into borrowed messages.
//!
//! Decoding is strict and bounded: the `size` field must equal the frame
//! length, every field must lie inside the frame, no bytes may be left over,
//! walks are limited to 16 elements, and nothing is allocated on the heap
//! (names and data borrow the frame; walk lists are stored inline).

use crate::constants::*;
use crate::error::WireError;
use crate::messages::*;
use crate::wire::Reader;

/// The `size[4] type[1] tag[2]` header that starts every frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Total frame size, header included.
    pub size: u32,
    /// Message type number.
    pub ty: u8,
    /// Tag pairing a reply with its request.
    pub tag: u16,
}

/// Reads the header at the start of `buf` without requiring the rest of the
/// frame. Fails if fewer than 7 bytes are given or if `size` is smaller than
/// the header. Useful to learn a frame's length from a stream, and to find
/// the tag of a request that failed to decode so it can still be answered.
pub fn peek_header(buf: &[u8]) -> Result<Header, WireError> {
    let mut r = Reader::new(buf);
    let (size, ty, tag) = match (r.u32(), r.u8(), r.u16()) {
        (Ok(size), Ok(ty), Ok(tag)) => (size, ty, tag),
        _ => return Err(WireError::ShortHeader { len: buf.len() }),
    };
    if size < HEADER_SIZE as u32 {
        return Err(WireError::SizeMismatch {
            declared: size,
            actual: buf.len(),
        });
    }
    Ok(Header { size, ty, tag })
}

/// Checks the header against the whole frame and returns it with the body.
fn split_frame(frame: &[u8]) -> Result<(Header, Reader<'_>), WireError> {
    let h = peek_header(frame)?;
    if usize::try_from(h.size).ok() != Some(frame.len()) {
        return Err(WireError::SizeMismatch {
            declared: h.size,
            actual: frame.len(),
        });
    }
    Ok((h, Reader::with_base(&frame[HEADER_SIZE..], HEADER_SIZE)))
}

fn finish(r: &Reader<'_>, ty: u8) -> Result<(), WireError> {
    match r.remaining() {
        0 => Ok(()),
        count => Err(WireError::TrailingBytes { ty, count }),
    }
}

/// Decodes a complete request frame (starting with its `size` field).
///
/// Returns the tag and the message, which borrows names and Twrite data from
/// `frame`. Types that are not 9P2000.L requests (including legacy 9P2000
/// Topen/Tcreate/Tstat/Twstat and any R type) give
/// [`WireError::UnknownType`] carrying the tag.
pub fn decode_tmessage(frame: &[u8]) -> Result<(u16, Tmessage<'_>), WireError> {
    let (h, mut r) = split_frame(frame)?;
    let msg = Tmessage::decode_body(h.ty, h.tag, &mut r)?;
    finish(&r, h.ty)?;
    Ok((h.tag, msg))
}

/// Decodes a complete reply frame (starting with its `size` field).
///
/// Returns the tag and the message, which borrows strings and data from
/// `frame`. The legacy 9P2000 `Rerror` and other non-9P2000.L types give
/// [`WireError::UnknownType`].
pub fn decode_rmessage(frame: &[u8]) -> Result<(u16, Rmessage<'_>), WireError> {
    let (h, mut r) = split_frame(frame)?;
    let msg = Rmessage::decode_body(h.ty, h.tag, &mut r)?;
    finish(&r, h.ty)?;
    Ok((h.tag, msg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_checks() {
        assert_eq!(
            peek_header(&[7, 0, 0, 0, 120]),
            Err(WireError::ShortHeader { len: 5 })
        );
        assert_eq!(
            peek_header(&[6, 0, 0, 0, 120, 1, 0]),
            Err(WireError::SizeMismatch {
                declared: 6,
                actual: 7
            })
        );
        assert_eq!(
            peek_header(&[11, 0, 0, 0, 120, 1, 0]),
            Ok(Header {
                size: 11,
                ty: 120,
                tag: 1
            })
        );
    }

    #[test]
    fn size_must_match_frame() {
        // Tclunk fid 5, tag 1, with a size field one too large / too small.
        let good = [11u8, 0, 0, 0, 120, 1, 0, 5, 0, 0, 0];
        assert!(decode_tmessage(&good).is_ok());
        let mut big = good;
        big[0] = 12;
        assert_eq!(
            decode_tmessage(&big),
            Err(WireError::SizeMismatch {
                declared: 12,
                actual: 11
            })
        );
        let mut small = good;
        small[0] = 10;
        assert!(matches!(
            decode_tmessage(&small),
            Err(WireError::SizeMismatch { .. })
        ));
    }

    #[test]
    fn trailing_and_truncated() {
        let trailing = [12u8, 0, 0, 0, 120, 1, 0, 5, 0, 0, 0, 9];
        assert_eq!(
            decode_tmessage(&trailing),
            Err(WireError::TrailingBytes { ty: 120, count: 1 })
        );
        let truncated = [10u8, 0, 0, 0, 120, 1, 0, 5, 0, 0];
        assert_eq!(
            decode_tmessage(&truncated),
            Err(WireError::Truncated {
                offset: 7,
                needed: 4,
                remaining: 3
            })
        );
    }

    #[test]
    fn unknown_types_carry_tag() {
        // Legacy Topen (112) and an R type are not requests.
        let topen = [12u8, 0, 0, 0, 112, 0x34, 0x12, 1, 0, 0, 0, 0];
        assert_eq!(
            decode_tmessage(&topen),
            Err(WireError::UnknownType {
                ty: 112,
                tag: 0x1234
            })
        );
        let rclunk = [7u8, 0, 0, 0, 121, 9, 0];
        assert_eq!(
            decode_tmessage(&rclunk),
            Err(WireError::UnknownType { ty: 121, tag: 9 })
        );
        assert_eq!(
            decode_rmessage(&[7u8, 0, 0, 0, 120, 9, 0]),
            Err(WireError::UnknownType { ty: 120, tag: 9 })
        );
        assert_eq!(
            WireError::UnknownType { ty: 1, tag: 2 }.suggested_errno(),
            libc::EOPNOTSUPP as u32
        );
    }

    #[test]
    fn walk_limit() {
        let mut f = vec![0u8, 0, 0, 0, P9_TWALK, 1, 0, 1, 0, 0, 0, 2, 0, 0, 0];
        f.extend_from_slice(&17u16.to_le_bytes());
        for _ in 0..17 {
            f.extend_from_slice(&[1, 0, b'a']);
        }
        let len = f.len() as u32;
        f[..4].copy_from_slice(&len.to_le_bytes());
        assert_eq!(
            decode_tmessage(&f),
            Err(WireError::TooManyWalkElements { count: 17 })
        );
        let mut r = vec![9u8, 0, 0, 0, P9_RWALK, 1, 0, 17, 0];
        r[0] = r.len() as u8;
        assert_eq!(
            decode_rmessage(&r),
            Err(WireError::TooManyWalkElements { count: 17 })
        );
    }

    #[test]
    fn twrite_borrows_frame() {
        let mut f = vec![0u8, 0, 0, 0, P9_TWRITE, 3, 0];
        f.extend_from_slice(&7u32.to_le_bytes());
        f.extend_from_slice(&100u64.to_le_bytes());
        f.extend_from_slice(&3u32.to_le_bytes());
        f.extend_from_slice(b"xyz");
        let len = f.len() as u32;
        f[..4].copy_from_slice(&len.to_le_bytes());
        let (tag, msg) = decode_tmessage(&f).unwrap();
        assert_eq!(tag, 3);
        let Tmessage::Write(w) = msg else {
            panic!("not a write")
        };
        assert_eq!(w.data, b"xyz");
        assert!(std::ptr::eq(w.data.as_ptr(), f[f.len() - 3..].as_ptr()));
        // A count larger than the rest of the frame is truncation.
        let mut bad = f.clone();
        bad[19] = 4;
        assert!(matches!(
            decode_tmessage(&bad),
            Err(WireError::Truncated { .. })
        ));
    }
}
