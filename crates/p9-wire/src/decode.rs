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

fn walk_count(r: &mut Reader<'_>) -> Result<usize, WireError> {
    let n = usize::from(r.u16()?);
    if n > MAXWELEM {
        return Err(WireError::TooManyWalkElements { count: n });
    }
    Ok(n)
}

/// Decodes a complete request frame (starting with its `size` field).
///
/// Returns the tag and the message, which borrows names and Twrite data from
/// `frame`. Types that are not 9P2000.L requests (including legacy 9P2000
/// Topen/Tcreate/Tstat/Twstat and any R type) give
/// [`WireError::UnknownType`] carrying the tag.
pub fn decode_tmessage(frame: &[u8]) -> Result<(u16, Tmessage<'_>), WireError> {
    let (h, mut r) = split_frame(frame)?;
    let r = &mut r;
    let msg = match h.ty {
        P9_TVERSION => Tmessage::Version(Tversion {
            msize: r.u32()?,
            version: r.string()?,
        }),
        P9_TAUTH => Tmessage::Auth(Tauth {
            afid: r.u32()?,
            uname: r.string()?,
            aname: r.string()?,
            n_uname: r.u32()?,
        }),
        P9_TATTACH => Tmessage::Attach(Tattach {
            fid: r.u32()?,
            afid: r.u32()?,
            uname: r.string()?,
            aname: r.string()?,
            n_uname: r.u32()?,
        }),
        P9_TFLUSH => Tmessage::Flush(Tflush { oldtag: r.u16()? }),
        P9_TWALK => {
            let fid = r.u32()?;
            let newfid = r.u32()?;
            let n = walk_count(r)?;
            let mut wnames = WalkVec::new();
            for _ in 0..n {
                wnames.push(r.string()?)?;
            }
            Tmessage::Walk(Twalk {
                fid,
                newfid,
                wnames,
            })
        }
        P9_TLOPEN => Tmessage::Lopen(Tlopen {
            fid: r.u32()?,
            flags: r.u32()?,
        }),
        P9_TLCREATE => Tmessage::Lcreate(Tlcreate {
            fid: r.u32()?,
            name: r.string()?,
            flags: r.u32()?,
            mode: r.u32()?,
            gid: r.u32()?,
        }),
        P9_TREAD => Tmessage::Read(Tread {
            fid: r.u32()?,
            offset: r.u64()?,
            count: r.u32()?,
        }),
        P9_TWRITE => Tmessage::Write(Twrite {
            fid: r.u32()?,
            offset: r.u64()?,
            data: r.data()?,
        }),
        P9_TCLUNK => Tmessage::Clunk(Tclunk { fid: r.u32()? }),
        P9_TREMOVE => Tmessage::Remove(Tremove { fid: r.u32()? }),
        P9_TGETATTR => Tmessage::Getattr(Tgetattr {
            fid: r.u32()?,
            request_mask: r.u64()?,
        }),
        P9_TSETATTR => Tmessage::Setattr(Tsetattr {
            fid: r.u32()?,
            valid: r.u32()?,
            mode: r.u32()?,
            uid: r.u32()?,
            gid: r.u32()?,
            size: r.u64()?,
            atime_sec: r.u64()?,
            atime_nsec: r.u64()?,
            mtime_sec: r.u64()?,
            mtime_nsec: r.u64()?,
        }),
        P9_TREADDIR => Tmessage::Readdir(Treaddir {
            fid: r.u32()?,
            offset: r.u64()?,
            count: r.u32()?,
        }),
        P9_TSTATFS => Tmessage::Statfs(Tstatfs { fid: r.u32()? }),
        P9_TFSYNC => Tmessage::Fsync(Tfsync {
            fid: r.u32()?,
            datasync: r.u32()?,
        }),
        P9_TMKDIR => Tmessage::Mkdir(Tmkdir {
            dfid: r.u32()?,
            name: r.string()?,
            mode: r.u32()?,
            gid: r.u32()?,
        }),
        P9_TSYMLINK => Tmessage::Symlink(Tsymlink {
            dfid: r.u32()?,
            name: r.string()?,
            symtgt: r.string()?,
            gid: r.u32()?,
        }),
        P9_TMKNOD => Tmessage::Mknod(Tmknod {
            dfid: r.u32()?,
            name: r.string()?,
            mode: r.u32()?,
            major: r.u32()?,
            minor: r.u32()?,
            gid: r.u32()?,
        }),
        P9_TLINK => Tmessage::Link(Tlink {
            dfid: r.u32()?,
            fid: r.u32()?,
            name: r.string()?,
        }),
        P9_TRENAME => Tmessage::Rename(Trename {
            fid: r.u32()?,
            dfid: r.u32()?,
            name: r.string()?,
        }),
        P9_TRENAMEAT => Tmessage::Renameat(Trenameat {
            olddirfid: r.u32()?,
            oldname: r.string()?,
            newdirfid: r.u32()?,
            newname: r.string()?,
        }),
        P9_TUNLINKAT => Tmessage::Unlinkat(Tunlinkat {
            dirfid: r.u32()?,
            name: r.string()?,
            flags: r.u32()?,
        }),
        P9_TREADLINK => Tmessage::Readlink(Treadlink { fid: r.u32()? }),
        P9_TXATTRWALK => Tmessage::Xattrwalk(Txattrwalk {
            fid: r.u32()?,
            newfid: r.u32()?,
            name: r.string()?,
        }),
        P9_TXATTRCREATE => Tmessage::Xattrcreate(Txattrcreate {
            fid: r.u32()?,
            name: r.string()?,
            attr_size: r.u64()?,
            flags: r.u32()?,
        }),
        P9_TLOCK => Tmessage::Lock(Tlock {
            fid: r.u32()?,
            ty: r.u8()?,
            flags: r.u32()?,
            start: r.u64()?,
            length: r.u64()?,
            proc_id: r.u32()?,
            client_id: r.string()?,
        }),
        P9_TGETLOCK => Tmessage::Getlock(Tgetlock {
            fid: r.u32()?,
            ty: r.u8()?,
            start: r.u64()?,
            length: r.u64()?,
            proc_id: r.u32()?,
            client_id: r.string()?,
        }),
        ty => return Err(WireError::UnknownType { ty, tag: h.tag }),
    };
    finish(r, h.ty)?;
    Ok((h.tag, msg))
}

/// Decodes a complete reply frame (starting with its `size` field).
///
/// Returns the tag and the message, which borrows strings and data from
/// `frame`. The legacy 9P2000 `Rerror` and other non-9P2000.L types give
/// [`WireError::UnknownType`].
pub fn decode_rmessage(frame: &[u8]) -> Result<(u16, Rmessage<'_>), WireError> {
    let (h, mut r) = split_frame(frame)?;
    let r = &mut r;
    let msg = match h.ty {
        P9_RVERSION => Rmessage::Version(Rversion {
            msize: r.u32()?,
            version: r.string()?,
        }),
        P9_RAUTH => Rmessage::Auth(Rauth { aqid: r.qid()? }),
        P9_RATTACH => Rmessage::Attach(Rattach { qid: r.qid()? }),
        P9_RFLUSH => Rmessage::Flush,
        P9_RWALK => {
            let n = walk_count(r)?;
            let mut wqids = WalkVec::new();
            for _ in 0..n {
                wqids.push(r.qid()?)?;
            }
            Rmessage::Walk(Rwalk { wqids })
        }
        P9_RLOPEN => Rmessage::Lopen(Rlopen {
            qid: r.qid()?,
            iounit: r.u32()?,
        }),
        P9_RLCREATE => Rmessage::Lcreate(Rlcreate {
            qid: r.qid()?,
            iounit: r.u32()?,
        }),
        P9_RREAD => Rmessage::Read(Rread { data: r.data()? }),
        P9_RWRITE => Rmessage::Write(Rwrite { count: r.u32()? }),
        P9_RCLUNK => Rmessage::Clunk,
        P9_RREMOVE => Rmessage::Remove,
        P9_RGETATTR => Rmessage::Getattr(Rgetattr {
            valid: r.u64()?,
            qid: r.qid()?,
            mode: r.u32()?,
            uid: r.u32()?,
            gid: r.u32()?,
            nlink: r.u64()?,
            rdev: r.u64()?,
            size: r.u64()?,
            blksize: r.u64()?,
            blocks: r.u64()?,
            atime_sec: r.u64()?,
            atime_nsec: r.u64()?,
            mtime_sec: r.u64()?,
            mtime_nsec: r.u64()?,
            ctime_sec: r.u64()?,
            ctime_nsec: r.u64()?,
            btime_sec: r.u64()?,
            btime_nsec: r.u64()?,
            gen: r.u64()?,
            data_version: r.u64()?,
        }),
        P9_RSETATTR => Rmessage::Setattr,
        P9_RREADDIR => Rmessage::Readdir(Rreaddir { data: r.data()? }),
        P9_RSTATFS => Rmessage::Statfs(Rstatfs {
            ty: r.u32()?,
            bsize: r.u32()?,
            blocks: r.u64()?,
            bfree: r.u64()?,
            bavail: r.u64()?,
            files: r.u64()?,
            ffree: r.u64()?,
            fsid: r.u64()?,
            namelen: r.u32()?,
        }),
        P9_RFSYNC => Rmessage::Fsync,
        P9_RMKDIR => Rmessage::Mkdir(Rmkdir { qid: r.qid()? }),
        P9_RSYMLINK => Rmessage::Symlink(Rsymlink { qid: r.qid()? }),
        P9_RMKNOD => Rmessage::Mknod(Rmknod { qid: r.qid()? }),
        P9_RLINK => Rmessage::Link,
        P9_RRENAME => Rmessage::Rename,
        P9_RRENAMEAT => Rmessage::Renameat,
        P9_RUNLINKAT => Rmessage::Unlinkat,
        P9_RREADLINK => Rmessage::Readlink(Rreadlink {
            target: r.string()?,
        }),
        P9_RXATTRWALK => Rmessage::Xattrwalk(Rxattrwalk { size: r.u64()? }),
        P9_RXATTRCREATE => Rmessage::Xattrcreate,
        P9_RLOCK => Rmessage::Lock(Rlock { status: r.u8()? }),
        P9_RGETLOCK => Rmessage::Getlock(Rgetlock {
            ty: r.u8()?,
            start: r.u64()?,
            length: r.u64()?,
            proc_id: r.u32()?,
            client_id: r.string()?,
        }),
        P9_RLERROR => Rmessage::Lerror(Rlerror { ecode: r.u32()? }),
        ty => return Err(WireError::UnknownType { ty, tag: h.tag }),
    };
    finish(r, h.ty)?;
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
