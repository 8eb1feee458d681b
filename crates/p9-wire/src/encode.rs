//! Encoding messages into complete frames.

use crate::constants::HEADER_SIZE;
use crate::error::WireError;
use crate::messages::*;
use crate::wire::Writer;

mod sealed {
    use crate::error::WireError;
    use crate::wire::Writer;

    /// Body encoding, kept private so only this crate's messages implement
    /// [`super::Encode`].
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

impl sealed::EncodeBody for Tmessage<'_> {
    fn msg_type(&self) -> u8 {
        Tmessage::msg_type(self)
    }

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        match self {
            Tmessage::Version(m) => {
                w.u32(m.msize);
                w.string(m.version)?;
            }
            Tmessage::Auth(m) => {
                w.u32(m.afid);
                w.string(m.uname)?;
                w.string(m.aname)?;
                w.u32(m.n_uname);
            }
            Tmessage::Attach(m) => {
                w.u32(m.fid);
                w.u32(m.afid);
                w.string(m.uname)?;
                w.string(m.aname)?;
                w.u32(m.n_uname);
            }
            Tmessage::Flush(m) => w.u16(m.oldtag),
            Tmessage::Walk(m) => {
                w.u32(m.fid);
                w.u32(m.newfid);
                // At most 16 by construction of WalkVec.
                w.u16(m.wnames.len() as u16);
                for name in m.wnames.iter() {
                    w.string(name)?;
                }
            }
            Tmessage::Lopen(m) => {
                w.u32(m.fid);
                w.u32(m.flags);
            }
            Tmessage::Lcreate(m) => {
                w.u32(m.fid);
                w.string(m.name)?;
                w.u32(m.flags);
                w.u32(m.mode);
                w.u32(m.gid);
            }
            Tmessage::Read(m) => {
                w.u32(m.fid);
                w.u64(m.offset);
                w.u32(m.count);
            }
            Tmessage::Write(m) => {
                w.u32(m.fid);
                w.u64(m.offset);
                w.data(m.data)?;
            }
            Tmessage::Clunk(m) => w.u32(m.fid),
            Tmessage::Remove(m) => w.u32(m.fid),
            Tmessage::Getattr(m) => {
                w.u32(m.fid);
                w.u64(m.request_mask);
            }
            Tmessage::Setattr(m) => {
                w.u32(m.fid);
                w.u32(m.valid);
                w.u32(m.mode);
                w.u32(m.uid);
                w.u32(m.gid);
                w.u64(m.size);
                w.u64(m.atime_sec);
                w.u64(m.atime_nsec);
                w.u64(m.mtime_sec);
                w.u64(m.mtime_nsec);
            }
            Tmessage::Readdir(m) => {
                w.u32(m.fid);
                w.u64(m.offset);
                w.u32(m.count);
            }
            Tmessage::Statfs(m) => w.u32(m.fid),
            Tmessage::Fsync(m) => {
                w.u32(m.fid);
                w.u32(m.datasync);
            }
            Tmessage::Mkdir(m) => {
                w.u32(m.dfid);
                w.string(m.name)?;
                w.u32(m.mode);
                w.u32(m.gid);
            }
            Tmessage::Symlink(m) => {
                w.u32(m.dfid);
                w.string(m.name)?;
                w.string(m.symtgt)?;
                w.u32(m.gid);
            }
            Tmessage::Mknod(m) => {
                w.u32(m.dfid);
                w.string(m.name)?;
                w.u32(m.mode);
                w.u32(m.major);
                w.u32(m.minor);
                w.u32(m.gid);
            }
            Tmessage::Link(m) => {
                w.u32(m.dfid);
                w.u32(m.fid);
                w.string(m.name)?;
            }
            Tmessage::Rename(m) => {
                w.u32(m.fid);
                w.u32(m.dfid);
                w.string(m.name)?;
            }
            Tmessage::Renameat(m) => {
                w.u32(m.olddirfid);
                w.string(m.oldname)?;
                w.u32(m.newdirfid);
                w.string(m.newname)?;
            }
            Tmessage::Unlinkat(m) => {
                w.u32(m.dirfid);
                w.string(m.name)?;
                w.u32(m.flags);
            }
            Tmessage::Readlink(m) => w.u32(m.fid),
            Tmessage::Xattrwalk(m) => {
                w.u32(m.fid);
                w.u32(m.newfid);
                w.string(m.name)?;
            }
            Tmessage::Xattrcreate(m) => {
                w.u32(m.fid);
                w.string(m.name)?;
                w.u64(m.attr_size);
                w.u32(m.flags);
            }
            Tmessage::Lock(m) => {
                w.u32(m.fid);
                w.u8(m.ty);
                w.u32(m.flags);
                w.u64(m.start);
                w.u64(m.length);
                w.u32(m.proc_id);
                w.string(m.client_id)?;
            }
            Tmessage::Getlock(m) => {
                w.u32(m.fid);
                w.u8(m.ty);
                w.u64(m.start);
                w.u64(m.length);
                w.u32(m.proc_id);
                w.string(m.client_id)?;
            }
        }
        Ok(())
    }
}

impl sealed::EncodeBody for Rmessage<'_> {
    fn msg_type(&self) -> u8 {
        Rmessage::msg_type(self)
    }

    fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        match self {
            Rmessage::Version(m) => {
                w.u32(m.msize);
                w.string(m.version)?;
            }
            Rmessage::Auth(m) => w.qid(&m.aqid),
            Rmessage::Attach(m) => w.qid(&m.qid),
            Rmessage::Walk(m) => {
                // At most 16 by construction of WalkVec.
                w.u16(m.wqids.len() as u16);
                for q in m.wqids.iter() {
                    w.qid(q);
                }
            }
            Rmessage::Lopen(m) => {
                w.qid(&m.qid);
                w.u32(m.iounit);
            }
            Rmessage::Lcreate(m) => {
                w.qid(&m.qid);
                w.u32(m.iounit);
            }
            Rmessage::Read(m) => w.data(m.data)?,
            Rmessage::Write(m) => w.u32(m.count),
            Rmessage::Getattr(m) => {
                w.u64(m.valid);
                w.qid(&m.qid);
                w.u32(m.mode);
                w.u32(m.uid);
                w.u32(m.gid);
                w.u64(m.nlink);
                w.u64(m.rdev);
                w.u64(m.size);
                w.u64(m.blksize);
                w.u64(m.blocks);
                w.u64(m.atime_sec);
                w.u64(m.atime_nsec);
                w.u64(m.mtime_sec);
                w.u64(m.mtime_nsec);
                w.u64(m.ctime_sec);
                w.u64(m.ctime_nsec);
                w.u64(m.btime_sec);
                w.u64(m.btime_nsec);
                w.u64(m.gen);
                w.u64(m.data_version);
            }
            Rmessage::Readdir(m) => w.data(m.data)?,
            Rmessage::Statfs(m) => {
                w.u32(m.ty);
                w.u32(m.bsize);
                w.u64(m.blocks);
                w.u64(m.bfree);
                w.u64(m.bavail);
                w.u64(m.files);
                w.u64(m.ffree);
                w.u64(m.fsid);
                w.u32(m.namelen);
            }
            Rmessage::Mkdir(m) => w.qid(&m.qid),
            Rmessage::Symlink(m) => w.qid(&m.qid),
            Rmessage::Mknod(m) => w.qid(&m.qid),
            Rmessage::Readlink(m) => w.string(m.target)?,
            Rmessage::Xattrwalk(m) => w.u64(m.size),
            Rmessage::Lock(m) => w.u8(m.status),
            Rmessage::Getlock(m) => {
                w.u8(m.ty);
                w.u64(m.start);
                w.u64(m.length);
                w.u32(m.proc_id);
                w.string(m.client_id)?;
            }
            Rmessage::Lerror(m) => w.u32(m.ecode),
            Rmessage::Flush
            | Rmessage::Clunk
            | Rmessage::Remove
            | Rmessage::Setattr
            | Rmessage::Fsync
            | Rmessage::Link
            | Rmessage::Rename
            | Rmessage::Renameat
            | Rmessage::Unlinkat
            | Rmessage::Xattrcreate => {}
        }
        Ok(())
    }
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
