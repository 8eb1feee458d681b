//! A small blocking 9P2000.L client on top of `p9-wire`, shared by the tests, the
//! benchmark (`p9-bench`) and tools: one method per request with typed results, plus raw
//! frames and explicit tags for pipelining and malformed input.
//!
//! Typed calls ([`Client::call`] and the methods on it) decode the reply in place from
//! the client's own buffer: no allocation per request beyond what a method returns, so
//! the benchmark measures the server, not this client.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod setattr;
mod transport;

use std::io::{self, Read, Write};

use p9_wire::*;
use rustix::io::Errno;

pub use error::{ClientError, Result};
pub use setattr::Setattr;
pub use transport::{read_frame, Addr, Stream};

/// The `client_id` of this client's Tlock and Tgetlock.
pub const LOCK_CLIENT_ID: &[u8] = b"p9-client";

/// One reply frame, owned.
#[derive(Debug, Clone)]
pub struct Reply {
    frame: Vec<u8>,
}

impl Reply {
    /// The whole frame.
    pub fn bytes(&self) -> &[u8] {
        &self.frame
    }

    /// The decoded tag and message.
    pub fn decode(&self) -> Result<(u16, Rmessage<'_>)> {
        Ok(decode_rmessage(&self.frame)?)
    }

    /// The tag.
    pub fn tag(&self) -> u16 {
        self.frame
            .get(TAG_AT..TAG_AT + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .unwrap_or(NOTAG)
    }
}

/// A directory entry, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirent {
    /// Its qid.
    pub qid: Qid,
    /// The offset to continue after it.
    pub offset: u64,
    /// `DT_*` type.
    pub ty: u8,
    /// Its name.
    pub name: Vec<u8>,
}

/// What Tgetlock answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    /// `P9_LOCK_TYPE_*`.
    pub ty: u8,
    /// Start.
    pub start: u64,
    /// Length.
    pub length: u64,
    /// Owner process id.
    pub proc_id: u32,
    /// Owner client id.
    pub client_id: Vec<u8>,
}

/// A blocking 9P client on any byte stream.
#[derive(Debug)]
pub struct Client<S> {
    stream: S,
    msize: u32,
    next_tag: u16,
    out: Vec<u8>,
    inb: Vec<u8>,
    twrite: Vec<u8>,
}

fn unexpected(m: &Rmessage<'_>) -> ClientError {
    ClientError::Unexpected(format!("{m:?}"))
}

fn lerror(ecode: u32) -> ClientError {
    ClientError::Lerror(Errno::from_raw_os_error(
        i32::try_from(ecode).unwrap_or(i32::MAX),
    ))
}

/// The msize until a Tversion is agreed (the largest frame a server may send before).
const UNVERSIONED_MSIZE: u32 = 8192;

impl<S: Read + Write> Client<S> {
    /// A client on `stream`; call [`Client::version`] first.
    pub fn new(stream: S) -> Client<S> {
        Client {
            stream,
            msize: UNVERSIONED_MSIZE,
            next_tag: 0,
            out: Vec::with_capacity(256),
            inb: vec![0; UNVERSIONED_MSIZE as usize],
            twrite: Vec::new(),
        }
    }

    /// The stream.
    pub fn stream(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The negotiated msize: no reply may be larger.
    pub fn msize(&self) -> u32 {
        self.msize
    }

    /// A fresh tag (never `NOTAG`).
    pub fn tag(&mut self) -> u16 {
        let t = self.next_tag;
        self.next_tag = self.next_tag.wrapping_add(1);
        if self.next_tag == NOTAG {
            self.next_tag = 0;
        }
        t
    }

    /// The tag a request is sent with by [`Client::rpc`] and [`Client::call`]: `NOTAG`
    /// for Tversion, a fresh one otherwise.
    fn tag_for(&mut self, msg: &Tmessage<'_>) -> u16 {
        if matches!(msg, Tmessage::Version(_)) {
            NOTAG
        } else {
            self.tag()
        }
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Sends `msg` with `tag` (no size limit: the server judges).
    pub fn send(&mut self, tag: u16, msg: &Tmessage<'_>) -> Result<()> {
        let mut buf = std::mem::take(&mut self.out);
        buf.clear();
        encode(tag, msg, &mut buf, u32::MAX)?;
        let r = self.send_raw(&buf);
        self.out = buf;
        Ok(r?)
    }

    /// Reads one reply frame (at most msize bytes), owned.
    pub fn recv(&mut self) -> Result<Reply> {
        let n = read_frame(&mut self.stream, &mut self.inb, self.msize)?;
        Ok(Reply {
            frame: self.inb[..n].to_vec(),
        })
    }

    /// Sends `msg` with a fresh tag and returns its reply.
    pub fn rpc(&mut self, msg: &Tmessage<'_>) -> Result<Reply> {
        let tag = self.tag_for(msg);
        self.send(tag, msg)?;
        let r = self.recv()?;
        if r.tag() != tag {
            return Err(ClientError::Unexpected(format!(
                "reply tag {} to request tag {tag}",
                r.tag()
            )));
        }
        Ok(r)
    }

    /// Sends `msg`, and maps its reply with `f` (`Rlerror` becomes an error; `None`
    /// from `f`, an unexpected reply). The reply is decoded in place.
    pub fn call<T>(
        &mut self,
        msg: &Tmessage<'_>,
        f: impl FnOnce(&Rmessage<'_>) -> Option<T>,
    ) -> Result<T> {
        let tag = self.tag_for(msg);
        self.send(tag, msg)?;
        self.answer(tag, f)
    }

    /// Reads the reply to `tag` and maps it with `f`, as [`Client::call`] does.
    fn answer<T>(&mut self, tag: u16, f: impl FnOnce(&Rmessage<'_>) -> Option<T>) -> Result<T> {
        let n = read_frame(&mut self.stream, &mut self.inb, self.msize)?;
        let (rtag, m) = decode_rmessage(&self.inb[..n])?;
        if rtag != tag {
            return Err(ClientError::Unexpected(format!(
                "reply tag {rtag} to request tag {tag}"
            )));
        }
        if let Rmessage::Lerror(e) = m {
            return Err(lerror(e.ecode));
        }
        f(&m).ok_or_else(|| unexpected(&m))
    }

    /// Tversion for 9P2000.L; remembers the msize granted.
    pub fn version(&mut self, msize: u32) -> Result<(u32, Vec<u8>)> {
        self.version_of(msize, VERSION_9P2000_L)
    }

    /// Tversion offering `version`.
    pub fn version_of(&mut self, msize: u32, version: &[u8]) -> Result<(u32, Vec<u8>)> {
        let (m, v) = self.call(
            &Tmessage::Version(Tversion { msize, version }),
            |m| match m {
                Rmessage::Version(r) => Some((r.msize, r.version.to_vec())),
                _ => None,
            },
        )?;
        if v == VERSION_9P2000_L {
            self.msize = m;
        }
        Ok((m, v))
    }

    /// Tattach of `fid` as `uid` with an empty aname.
    pub fn attach(&mut self, fid: u32, uid: u32) -> Result<Qid> {
        self.attach_to(fid, uid, b"")
    }

    /// Tattach of `fid` as `uid` to `aname`.
    pub fn attach_to(&mut self, fid: u32, uid: u32, aname: &[u8]) -> Result<Qid> {
        self.attach_named(fid, b"", uid, aname)
    }

    /// Tattach of `fid` as `uname`/`uid` to `aname`.
    pub fn attach_named(&mut self, fid: u32, uname: &[u8], uid: u32, aname: &[u8]) -> Result<Qid> {
        let t = Tattach {
            fid,
            afid: NOFID,
            uname,
            aname,
            n_uname: uid,
        };
        self.call(&Tmessage::Attach(t), |m| match m {
            Rmessage::Attach(r) => Some(r.qid),
            _ => None,
        })
    }

    /// Twalk; the qids of the elements walked.
    pub fn walk(&mut self, fid: u32, newfid: u32, names: &[&[u8]]) -> Result<Vec<Qid>> {
        let wnames = WalkVec::from_slice(names)?;
        self.call(
            &Tmessage::Walk(Twalk {
                fid,
                newfid,
                wnames,
            }),
            |m| match m {
                Rmessage::Walk(r) => Some(r.wqids.to_vec()),
                _ => None,
            },
        )
    }

    /// Twalk through every one of `names`; a partial walk is an unexpected reply (not an
    /// errno: the server answered, the caller's tree is not what it expects).
    pub fn walk_all(&mut self, fid: u32, newfid: u32, names: &[&[u8]]) -> Result<()> {
        let wnames = WalkVec::from_slice(names)?;
        let walked = self.call(
            &Tmessage::Walk(Twalk {
                fid,
                newfid,
                wnames,
            }),
            |m| match m {
                Rmessage::Walk(r) => Some(r.wqids.len()),
                _ => None,
            },
        )?;
        if walked != names.len() {
            return Err(ClientError::Unexpected(format!(
                "walk stopped after {walked} of {} names",
                names.len()
            )));
        }
        Ok(())
    }

    /// Walks `newfid` to the `/`-separated `path` from `fid` (all of it, or an error).
    pub fn walk_path(&mut self, fid: u32, newfid: u32, path: &str) -> Result<Qid> {
        let names: Vec<&[u8]> = path
            .split('/')
            .filter(|n| !n.is_empty())
            .map(str::as_bytes)
            .collect();
        let qids = self.walk(fid, newfid, &names)?;
        if qids.len() != names.len() {
            return Err(ClientError::Lerror(Errno::NOENT));
        }
        match qids.last() {
            Some(q) => Ok(*q),
            None => self.getattr(newfid).map(|a| a.qid),
        }
    }

    /// Tlopen.
    pub fn lopen(&mut self, fid: u32, flags: u32) -> Result<Qid> {
        self.call(&Tmessage::Lopen(Tlopen { fid, flags }), |m| match m {
            Rmessage::Lopen(r) => Some(r.qid),
            _ => None,
        })
    }

    /// Tlcreate.
    pub fn lcreate(
        &mut self,
        fid: u32,
        name: &[u8],
        flags: u32,
        mode: u32,
        gid: u32,
    ) -> Result<Qid> {
        let t = Tlcreate {
            fid,
            name,
            flags,
            mode,
            gid,
        };
        self.call(&Tmessage::Lcreate(t), |m| match m {
            Rmessage::Lcreate(r) => Some(r.qid),
            _ => None,
        })
    }

    /// Tread.
    pub fn read(&mut self, fid: u32, offset: u64, count: u32) -> Result<Vec<u8>> {
        self.call(&Tmessage::Read(Tread { fid, offset, count }), |m| match m {
            Rmessage::Read(r) if r.data.len() <= count as usize => Some(r.data.to_vec()),
            _ => None,
        })
    }

    /// Tread; how many bytes came back (not copied out of the reply).
    pub fn read_count(&mut self, fid: u32, offset: u64, count: u32) -> Result<usize> {
        self.call(&Tmessage::Read(Tread { fid, offset, count }), |m| match m {
            Rmessage::Read(r) if r.data.len() <= count as usize => Some(r.data.len()),
            _ => None,
        })
    }

    /// Reads the whole file from `fid` in chunks of the largest count.
    pub fn read_all(&mut self, fid: u32) -> Result<Vec<u8>> {
        let mut data = Vec::new();
        let count = max_io_count(self.msize);
        loop {
            let chunk = self.read(fid, data.len() as u64, count)?;
            if chunk.is_empty() {
                return Ok(data);
            }
            data.extend_from_slice(&chunk);
        }
    }

    /// Twrite.
    pub fn write(&mut self, fid: u32, offset: u64, data: &[u8]) -> Result<u32> {
        self.call(
            &Tmessage::Write(Twrite { fid, offset, data }),
            |m| match m {
                Rmessage::Write(r) => Some(r.count),
                _ => None,
            },
        )
    }

    /// Tclunk.
    pub fn clunk(&mut self, fid: u32) -> Result<()> {
        self.call(&Tmessage::Clunk(Tclunk { fid }), |m| {
            matches!(m, Rmessage::Clunk).then_some(())
        })
    }

    /// Tremove.
    pub fn remove(&mut self, fid: u32) -> Result<()> {
        self.call(&Tmessage::Remove(Tremove { fid }), |m| {
            matches!(m, Rmessage::Remove).then_some(())
        })
    }

    /// Tgetattr of everything.
    pub fn getattr(&mut self, fid: u32) -> Result<Rgetattr> {
        self.getattr_mask(fid, P9_GETATTR_ALL)
    }

    /// Tgetattr of the fields in `request_mask` (`P9_GETATTR_*`).
    pub fn getattr_mask(&mut self, fid: u32, request_mask: u64) -> Result<Rgetattr> {
        let t = Tgetattr { fid, request_mask };
        self.call(&Tmessage::Getattr(t), |m| match m {
            Rmessage::Getattr(r) => Some(*r),
            _ => None,
        })
    }

    /// Tsetattr (a [`Setattr`], or a [`Tsetattr`] written out).
    pub fn setattr(&mut self, t: impl Into<Tsetattr>) -> Result<()> {
        self.call(&Tmessage::Setattr(t.into()), |m| {
            matches!(m, Rmessage::Setattr).then_some(())
        })
    }

    /// Treaddir.
    pub fn readdir(&mut self, fid: u32, offset: u64, count: u32) -> Result<Vec<Dirent>> {
        let t = Treaddir { fid, offset, count };
        self.call(&Tmessage::Readdir(t), |m| match m {
            Rmessage::Readdir(d) => Some(
                dir_entries(d.data)
                    .map(|e| {
                        e.map(|e| Dirent {
                            qid: e.qid,
                            offset: e.offset,
                            ty: e.ty,
                            name: e.name.to_vec(),
                        })
                    })
                    .collect::<std::result::Result<Vec<_>, _>>(),
            ),
            _ => None,
        })?
        .map_err(ClientError::from)
    }

    /// Reads a whole directory from the open `fid`, `count` bytes per Treaddir.
    pub fn readdir_all(&mut self, fid: u32, count: u32) -> Result<Vec<Dirent>> {
        let mut all: Vec<Dirent> = Vec::new();
        let mut offset = 0;
        loop {
            let batch = self.readdir(fid, offset, count)?;
            let Some(last) = batch.last() else {
                return Ok(all);
            };
            offset = last.offset;
            all.extend(batch);
        }
    }

    /// Tstatfs.
    pub fn statfs(&mut self, fid: u32) -> Result<Rstatfs> {
        self.call(&Tmessage::Statfs(Tstatfs { fid }), |m| match m {
            Rmessage::Statfs(r) => Some(*r),
            _ => None,
        })
    }

    /// Tfsync.
    pub fn fsync(&mut self, fid: u32, datasync: u32) -> Result<()> {
        self.call(&Tmessage::Fsync(Tfsync { fid, datasync }), |m| {
            matches!(m, Rmessage::Fsync).then_some(())
        })
    }

    /// Tmkdir.
    pub fn mkdir(&mut self, dfid: u32, name: &[u8], mode: u32, gid: u32) -> Result<Qid> {
        let t = Tmkdir {
            dfid,
            name,
            mode,
            gid,
        };
        self.call(&Tmessage::Mkdir(t), |m| match m {
            Rmessage::Mkdir(r) => Some(r.qid),
            _ => None,
        })
    }

    /// Tsymlink.
    pub fn symlink(&mut self, dfid: u32, name: &[u8], symtgt: &[u8], gid: u32) -> Result<Qid> {
        let t = Tsymlink {
            dfid,
            name,
            symtgt,
            gid,
        };
        self.call(&Tmessage::Symlink(t), |m| match m {
            Rmessage::Symlink(r) => Some(r.qid),
            _ => None,
        })
    }

    /// Tmknod.
    pub fn mknod(
        &mut self,
        dfid: u32,
        name: &[u8],
        mode: u32,
        major: u32,
        minor: u32,
        gid: u32,
    ) -> Result<Qid> {
        let t = Tmknod {
            dfid,
            name,
            mode,
            major,
            minor,
            gid,
        };
        self.call(&Tmessage::Mknod(t), |m| match m {
            Rmessage::Mknod(r) => Some(r.qid),
            _ => None,
        })
    }

    /// Tlink.
    pub fn link(&mut self, dfid: u32, fid: u32, name: &[u8]) -> Result<()> {
        self.call(&Tmessage::Link(Tlink { dfid, fid, name }), |m| {
            matches!(m, Rmessage::Link).then_some(())
        })
    }

    /// Trename.
    pub fn rename(&mut self, fid: u32, dfid: u32, name: &[u8]) -> Result<()> {
        self.call(&Tmessage::Rename(Trename { fid, dfid, name }), |m| {
            matches!(m, Rmessage::Rename).then_some(())
        })
    }

    /// Trenameat.
    pub fn renameat(
        &mut self,
        olddirfid: u32,
        oldname: &[u8],
        newdirfid: u32,
        newname: &[u8],
    ) -> Result<()> {
        let t = Trenameat {
            olddirfid,
            oldname,
            newdirfid,
            newname,
        };
        self.call(&Tmessage::Renameat(t), |m| {
            matches!(m, Rmessage::Renameat).then_some(())
        })
    }

    /// Tunlinkat.
    pub fn unlinkat(&mut self, dirfid: u32, name: &[u8], flags: u32) -> Result<()> {
        let t = Tunlinkat {
            dirfid,
            name,
            flags,
        };
        self.call(&Tmessage::Unlinkat(t), |m| {
            matches!(m, Rmessage::Unlinkat).then_some(())
        })
    }

    /// Treadlink.
    pub fn readlink(&mut self, fid: u32) -> Result<Vec<u8>> {
        self.call(&Tmessage::Readlink(Treadlink { fid }), |m| match m {
            Rmessage::Readlink(r) => Some(r.target.to_vec()),
            _ => None,
        })
    }

    /// Txattrwalk; the size of the value (or name list).
    pub fn xattrwalk(&mut self, fid: u32, newfid: u32, name: &[u8]) -> Result<u64> {
        let t = Txattrwalk { fid, newfid, name };
        self.call(&Tmessage::Xattrwalk(t), |m| match m {
            Rmessage::Xattrwalk(r) => Some(r.size),
            _ => None,
        })
    }

    /// Txattrcreate.
    pub fn xattrcreate(&mut self, fid: u32, name: &[u8], attr_size: u64, flags: u32) -> Result<()> {
        let t = Txattrcreate {
            fid,
            name,
            attr_size,
            flags,
        };
        self.call(&Tmessage::Xattrcreate(t), |m| {
            matches!(m, Rmessage::Xattrcreate).then_some(())
        })
    }

    /// Tlock; the status.
    pub fn lock(&mut self, fid: u32, ty: u8, start: u64, length: u64, proc_id: u32) -> Result<u8> {
        let t = Tlock {
            fid,
            ty,
            flags: 0,
            start,
            length,
            proc_id,
            client_id: LOCK_CLIENT_ID,
        };
        self.call(&Tmessage::Lock(t), |m| match m {
            Rmessage::Lock(r) => Some(r.status),
            _ => None,
        })
    }

    /// Tgetlock.
    pub fn getlock(
        &mut self,
        fid: u32,
        ty: u8,
        start: u64,
        length: u64,
        proc_id: u32,
    ) -> Result<LockInfo> {
        let t = Tgetlock {
            fid,
            ty,
            start,
            length,
            proc_id,
            client_id: LOCK_CLIENT_ID,
        };
        self.call(&Tmessage::Getlock(t), |m| match m {
            Rmessage::Getlock(r) => Some(LockInfo {
                ty: r.ty,
                start: r.start,
                length: r.length,
                proc_id: r.proc_id,
                client_id: r.client_id.to_vec(),
            }),
            _ => None,
        })
    }

    /// Tflush.
    pub fn flush(&mut self, oldtag: u16) -> Result<()> {
        self.call(&Tmessage::Flush(Tflush { oldtag }), |m| {
            matches!(m, Rmessage::Flush).then_some(())
        })
    }

    /// Builds the Twrite frame sent by [`Client::write_prepared`]: `count` bytes of a
    /// fixed pattern to `fid`. Only the tag and offset change between requests, so no
    /// payload is copied per request.
    pub fn prepare_write(&mut self, fid: u32, count: u32) -> Result<()> {
        let mut f = Vec::with_capacity(count as usize + 32);
        let start = begin_twrite(0, fid, 0, &mut f);
        let data_at = f.len();
        f.extend((0..count as usize).map(|i| (i % 251) as u8));
        let count = f.len() - data_at;
        finish_twrite(&mut f, start, count)?;
        // Check where the tag and offset live by patching them and decoding the frame back.
        patch_twrite(&mut f, 0x1234, 0x0123_4567_89ab)?;
        match decode_tmessage(&f)? {
            (0x1234, Tmessage::Write(w)) if w.offset == 0x0123_4567_89ab && w.fid == fid => {}
            _ => return Err(ClientError::Unexpected("Twrite layout check failed".into())),
        }
        self.twrite = f;
        Ok(())
    }

    /// Sends the prepared Twrite at `offset`; the count the server wrote.
    pub fn write_prepared(&mut self, offset: u64) -> Result<u32> {
        let tag = self.tag();
        patch_twrite(&mut self.twrite, tag, offset)?;
        self.stream.write_all(&self.twrite)?;
        self.answer(tag, |m| match m {
            Rmessage::Write(r) => Some(r.count),
            _ => None,
        })
    }
}

/// The tag of a frame: after `size[4] type[1]`.
const TAG_AT: usize = 5;
/// The offset of a Twrite: after `size[4] type[1] tag[2] fid[4]`.
const TWRITE_OFFSET_AT: usize = HEADER_SIZE + 4;

/// Sets the tag and offset of the Twrite `frame`.
fn patch_twrite(frame: &mut [u8], tag: u16, offset: u64) -> Result<()> {
    let h = peek_header(frame)?;
    if h.ty != P9_TWRITE || frame.len() < TWRITE_OFFSET_AT + 8 {
        return Err(ClientError::Unexpected("not a Twrite frame".into()));
    }
    frame[TAG_AT..TAG_AT + 2].copy_from_slice(&tag.to_le_bytes());
    frame[TWRITE_OFFSET_AT..TWRITE_OFFSET_AT + 8].copy_from_slice(&offset.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixStream;

    use super::*;

    #[test]
    fn setattr_sets_each_field_with_its_bit() {
        let t: Tsetattr = Setattr::of(3).mode(0o600).size(4).mtime(5, 6).into();
        assert_eq!(t.fid, 3);
        assert_eq!(
            t.valid,
            P9_SETATTR_MODE | P9_SETATTR_SIZE | P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET
        );
        assert_eq!(
            (t.mode, t.size, t.mtime_sec, t.mtime_nsec),
            (0o600, 4, 5, 6)
        );
        assert_eq!((t.uid, t.gid, t.atime_sec), (0, 0, 0));
        let t: Tsetattr = Setattr::of(1).atime_now().ctime().fid(2).into();
        assert_eq!((t.fid, t.valid), (2, P9_SETATTR_ATIME | P9_SETATTR_CTIME));
    }

    #[test]
    fn frames_out_of_bounds_are_refused() {
        let mut buf = Vec::new();
        for size in [0u32, HEADER_SIZE as u32 - 1, 8193] {
            let mut frame = size.to_le_bytes().to_vec();
            frame.resize(16, 0);
            let r = read_frame(&mut &frame[..], &mut buf, 8192);
            assert!(
                matches!(r, Err(ClientError::Unexpected(_))),
                "{size}: {r:?}"
            );
        }
    }

    #[test]
    fn a_prepared_twrite_goes_out_with_a_fresh_tag_and_its_offset() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let mut c = Client::new(ours);
        c.prepare_write(7, 100).unwrap();
        let server = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut buf = Vec::new();
            for _ in 0..2 {
                let n = read_frame(&mut theirs, &mut buf, 8192).unwrap();
                let (tag, m) = decode_tmessage(&buf[..n]).unwrap();
                let Tmessage::Write(w) = m else {
                    panic!("{m:?}")
                };
                seen.push((tag, w.fid, w.offset, w.data.len()));
                let mut out = Vec::new();
                let count = w.data.len() as u32;
                encode(tag, &Rmessage::Write(Rwrite { count }), &mut out, 8192).unwrap();
                theirs.write_all(&out).unwrap();
            }
            seen
        });
        assert_eq!(c.write_prepared(4096).unwrap(), 100);
        assert_eq!(c.write_prepared(1 << 40).unwrap(), 100);
        let seen = server.join().unwrap();
        assert_eq!(seen, [(0, 7, 4096, 100), (1, 7, 1 << 40, 100)]);
    }
}
