//! Zero-copy framing for bulk payloads: Rread and Rreaddir (server side)
//! and Twrite (client side).
//!
//! Each `begin_*` helper appends the frame header and the fixed fields,
//! leaving the data area to the caller, and returns the offset of the frame
//! within the buffer. The caller appends the payload directly after it (e.g.
//! by resizing the buffer and reading a file into the new tail), then calls
//! the matching `finish_*` helper, which trims the buffer to the payload and
//! fills in the `size` and `count` fields.
//!
//! ```
//! use p9_wire::{begin_rread, finish_rread, decode_rmessage, Rmessage};
//!
//! let mut buf = Vec::new();
//! let start = begin_rread(7, &mut buf);
//! let data_at = buf.len();
//! buf.resize(data_at + 4096, 0); // room for the largest read
//! // let n = file.read_at(&mut buf[data_at..], offset)?;
//! buf[data_at..data_at + 5].copy_from_slice(b"hello");
//! let n = 5;
//! finish_rread(&mut buf, start, n).unwrap();
//! let (tag, msg) = decode_rmessage(&buf[start..]).unwrap();
//! assert_eq!(tag, 7);
//! assert!(matches!(msg, Rmessage::Read(r) if r.data == b"hello"));
//! ```

use crate::constants::*;
use crate::encode::{begin_frame, patch_size};
use crate::error::WireError;
use crate::messages::{P9_RREAD, P9_RREADDIR, P9_TWRITE};
use crate::wire::Writer;

/// The largest data payload the Linux client asks for in one Tread/Twrite,
/// and the largest a server should put in an Rread: `msize - IOHDRSZ`.
pub fn max_io_count(msize: u32) -> u32 {
    msize.saturating_sub(IOHDRSZ)
}

/// The largest entry payload an Rreaddir may carry within `msize`.
pub fn max_readdir_count(msize: u32) -> u32 {
    msize.saturating_sub(RREADDIR_HEADER_SIZE as u32)
}

/// Appends an Rread header (`size type tag count`, with placeholders) to
/// `buf`. Returns the frame's offset; the data goes at
/// `start + RREAD_HEADER_SIZE`, i.e. the current end of `buf`.
pub fn begin_rread(tag: u16, buf: &mut Vec<u8>) -> usize {
    let start = begin_frame(buf, P9_RREAD, tag);
    Writer::new(buf).u32(0);
    start
}

/// Completes an Rread started at `start` with `count` data bytes: truncates
/// `buf` to the end of those bytes and fills in `size` and `count`.
///
/// Fails with [`WireError::InvalidPending`] (leaving `buf` unchanged) if no
/// Rread header is at `start` or fewer than `count` bytes were appended, and
/// with [`WireError::FrameTooLarge`] if the frame exceeds `u32::MAX`. The
/// caller is responsible for keeping `count` within the request and
/// [`max_io_count`].
pub fn finish_rread(buf: &mut Vec<u8>, start: usize, count: usize) -> Result<(), WireError> {
    finish_counted(buf, start, P9_RREAD, RREAD_HEADER_SIZE, count)
}

/// Appends an Rreaddir header to `buf` and returns the frame's offset.
/// Append entries with a [`crate::DirEntryWriter`] created right after,
/// whose budget is the Treaddir `count` (capped by [`max_readdir_count`]).
pub fn begin_rreaddir(tag: u16, buf: &mut Vec<u8>) -> usize {
    let start = begin_frame(buf, P9_RREADDIR, tag);
    Writer::new(buf).u32(0);
    start
}

/// Completes an Rreaddir started at `start`: everything appended after the
/// header is the entry data. Returns the data byte count.
pub fn finish_rreaddir(buf: &mut Vec<u8>, start: usize) -> Result<u32, WireError> {
    let count = buf
        .len()
        .checked_sub(start.saturating_add(RREADDIR_HEADER_SIZE))
        .ok_or(WireError::InvalidPending {
            reason: "buffer shorter than the Rreaddir header",
        })?;
    finish_counted(buf, start, P9_RREADDIR, RREADDIR_HEADER_SIZE, count)?;
    // finish_counted checked that count fits in u32.
    Ok(count as u32)
}

/// Appends a Twrite header (`size type tag fid offset count`) to `buf` and
/// returns the frame's offset; the data goes at the end of `buf`.
pub fn begin_twrite(tag: u16, fid: u32, offset: u64, buf: &mut Vec<u8>) -> usize {
    let start = begin_frame(buf, P9_TWRITE, tag);
    let mut w = Writer::new(buf);
    w.u32(fid);
    w.u64(offset);
    w.u32(0);
    start
}

/// Completes a Twrite started at `start` with `count` data bytes (see
/// [`finish_rread`] for the contract).
pub fn finish_twrite(buf: &mut Vec<u8>, start: usize, count: usize) -> Result<(), WireError> {
    finish_counted(buf, start, P9_TWRITE, TWRITE_HEADER_SIZE, count)
}

fn finish_counted(
    buf: &mut Vec<u8>,
    start: usize,
    ty: u8,
    header_len: usize,
    count: usize,
) -> Result<(), WireError> {
    let data_start = start
        .checked_add(header_len)
        .filter(|&d| d <= buf.len())
        .ok_or(WireError::InvalidPending {
            reason: "buffer shorter than the frame header",
        })?;
    if buf.get(start + 4) != Some(&ty) {
        return Err(WireError::InvalidPending {
            reason: "no frame of the expected type at this offset",
        });
    }
    let end = data_start
        .checked_add(count)
        .filter(|&e| e <= buf.len())
        .ok_or(WireError::InvalidPending {
            reason: "count exceeds the bytes appended",
        })?;
    let count32 = u32::try_from(count).map_err(|_| WireError::FrameTooLarge {
        size: end - start,
        msize: u32::MAX,
    })?;
    patch_size(buf, start, end - start, u32::MAX)?;
    buf[data_start - 4..data_start].copy_from_slice(&count32.to_le_bytes());
    buf.truncate(end);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode_rmessage, decode_tmessage, Rmessage, Tmessage};

    #[test]
    fn rread_after_other_frames() {
        let mut buf = vec![1, 2, 3];
        let start = begin_rread(9, &mut buf);
        assert_eq!(start, 3);
        assert_eq!(buf.len(), 3 + RREAD_HEADER_SIZE);
        buf.extend_from_slice(b"abcdefgh");
        finish_rread(&mut buf, start, 3).unwrap();
        assert_eq!(buf.len(), 3 + RREAD_HEADER_SIZE + 3);
        let (tag, msg) = decode_rmessage(&buf[start..]).unwrap();
        assert_eq!(tag, 9);
        assert_eq!(msg, Rmessage::Read(crate::Rread { data: b"abc" }));
    }

    #[test]
    fn finish_rejects_bad_input() {
        let mut buf = Vec::new();
        let start = begin_rread(1, &mut buf);
        buf.extend_from_slice(b"ab");
        let before = buf.clone();
        assert!(matches!(
            finish_rread(&mut buf, start, 3),
            Err(WireError::InvalidPending { .. })
        ));
        assert!(matches!(
            finish_twrite(&mut buf, start, 1),
            Err(WireError::InvalidPending { .. })
        ));
        assert!(matches!(
            finish_rread(&mut buf, start + 5, 0),
            Err(WireError::InvalidPending { .. })
        ));
        assert!(matches!(
            finish_rreaddir(&mut buf, usize::MAX),
            Err(WireError::InvalidPending { .. })
        ));
        assert_eq!(buf, before);
    }

    #[test]
    fn empty_rread_and_rreaddir() {
        let mut buf = Vec::new();
        let s = begin_rread(2, &mut buf);
        finish_rread(&mut buf, s, 0).unwrap();
        assert_eq!(buf, [11, 0, 0, 0, P9_RREAD, 2, 0, 0, 0, 0, 0]);
        buf.clear();
        let s = begin_rreaddir(2, &mut buf);
        assert_eq!(finish_rreaddir(&mut buf, s).unwrap(), 0);
        assert_eq!(buf, [11, 0, 0, 0, P9_RREADDIR, 2, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn twrite_zero_copy() {
        let mut buf = Vec::new();
        let s = begin_twrite(4, 10, 4096, &mut buf);
        buf.extend_from_slice(b"payload");
        finish_twrite(&mut buf, s, 7).unwrap();
        let (tag, msg) = decode_tmessage(&buf).unwrap();
        assert_eq!(tag, 4);
        let Tmessage::Write(w) = msg else {
            panic!("not a write")
        };
        assert_eq!((w.fid, w.offset, w.data), (10, 4096, &b"payload"[..]));
    }

    #[test]
    fn io_limits() {
        assert_eq!(max_io_count(8192), 8192 - 24);
        assert_eq!(max_io_count(10), 0);
        assert_eq!(max_readdir_count(8192), 8192 - 11);
    }
}

/// The fixed part of a Twrite, read before its data (see [`peek_twrite`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwriteHeader {
    /// The request's tag.
    pub tag: u16,
    /// The fid written to.
    pub fid: u32,
    /// Where in the file.
    pub offset: u64,
    /// How many data bytes follow the header.
    pub count: u32,
}

/// Reads a Twrite's header from the first [`TWRITE_HEADER_SIZE`] bytes of its frame,
/// before its data has arrived, so a server can move the data straight from the transport
/// to a file. `None` unless `buf` starts with a Twrite header whose `count` is exactly the
/// rest of the frame (any other frame goes through [`crate::decode_tmessage`], which says
/// what is wrong with it).
pub fn peek_twrite(buf: &[u8]) -> Option<TwriteHeader> {
    let h = crate::peek_header(buf).ok()?;
    if h.ty != P9_TWRITE {
        return None;
    }
    let mut r = crate::wire::Reader::new(buf.get(HEADER_SIZE..TWRITE_HEADER_SIZE)?);
    let (fid, offset, count) = (r.u32().ok()?, r.u64().ok()?, r.u32().ok()?);
    let data_len = (h.size as usize).checked_sub(TWRITE_HEADER_SIZE)?;
    (count as usize == data_len).then_some(TwriteHeader {
        tag: h.tag,
        fid,
        offset,
        count,
    })
}

#[cfg(test)]
mod peek_twrite_tests {
    use super::*;
    use crate::P9_TREAD;

    #[test]
    fn reads_the_header_of_a_partial_frame() {
        let mut buf = Vec::new();
        let start = begin_twrite(7, 3, 1 << 40, &mut buf);
        buf.extend_from_slice(&[9u8; 1000]);
        finish_twrite(&mut buf, start, 1000).unwrap();
        let want = TwriteHeader {
            tag: 7,
            fid: 3,
            offset: 1 << 40,
            count: 1000,
        };
        assert_eq!(peek_twrite(&buf), Some(want));
        assert_eq!(peek_twrite(&buf[..TWRITE_HEADER_SIZE]), Some(want));
        assert_eq!(peek_twrite(&buf[..TWRITE_HEADER_SIZE - 1]), None);
    }

    #[test]
    fn refuses_what_is_not_a_consistent_twrite() {
        let mut buf = Vec::new();
        let start = begin_twrite(7, 3, 0, &mut buf);
        buf.extend_from_slice(&[1u8; 10]);
        finish_twrite(&mut buf, start, 10).unwrap();
        // A count that disagrees with the frame size.
        let mut bad = buf.clone();
        bad[19..23].copy_from_slice(&11u32.to_le_bytes());
        assert_eq!(peek_twrite(&bad), None);
        // Another type.
        let mut other = buf.clone();
        other[4] = P9_TREAD;
        assert_eq!(peek_twrite(&other), None);
        // A size below the Twrite header.
        let mut small = buf;
        small[0..4].copy_from_slice(&20u32.to_le_bytes());
        assert_eq!(peek_twrite(&small), None);
    }
}
