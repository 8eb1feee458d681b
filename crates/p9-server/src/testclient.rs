//! A small blocking 9P2000.L client on top of `p9-wire`, for tests and benchmarks: one
//! method per request with typed results, plus raw frames and explicit tags for
//! pipelining and malformed input.

use std::io::{self, Read, Write};

use p9_wire::*;
use rustix::io::Errno;

/// Why a client call failed.
#[derive(Debug)]
pub enum ClientError {
    /// The transport failed (or the server closed the connection).
    Io(io::Error),
    /// The server answered `Rlerror`.
    Lerror(Errno),
    /// The reply could not be decoded.
    Wire(WireError),
    /// The reply was of the wrong type or tag.
    Unexpected(String),
}

impl ClientError {
    /// The errno of an `Rlerror`.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            ClientError::Lerror(e) => Some(*e),
            _ => None,
        }
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "transport: {e}"),
            ClientError::Lerror(e) => write!(f, "Rlerror: {e}"),
            ClientError::Wire(e) => write!(f, "bad reply: {e}"),
            ClientError::Unexpected(s) => write!(f, "unexpected reply: {s}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Io(e)
    }
}

impl From<WireError> for ClientError {
    fn from(e: WireError) -> Self {
        ClientError::Wire(e)
    }
}

/// The result of a client call.
pub type Result<T> = std::result::Result<T, ClientError>;

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
            .get(5..7)
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
}

fn unexpected(m: &Rmessage<'_>) -> ClientError {
    ClientError::Unexpected(format!("{m:?}"))
}

impl<S: Read + Write> Client<S> {
    /// A client on `stream`; call [`Client::version`] first.
    pub fn new(stream: S) -> Client<S> {
        Client {
            stream,
            msize: 8192,
            next_tag: 0,
            out: Vec::new(),
        }
    }

    /// The stream.
    pub fn stream(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The negotiated msize.
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

    /// Reads one reply frame.
    pub fn recv(&mut self) -> Result<Reply> {
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size)?;
        let n = u32::from_le_bytes(size) as usize;
        if !(HEADER_SIZE..=64 << 20).contains(&n) {
            return Err(ClientError::Unexpected(format!("reply size {n}")));
        }
        let mut frame = vec![0u8; n];
        frame[..4].copy_from_slice(&size);
        self.stream.read_exact(&mut frame[4..])?;
        Ok(Reply { frame })
    }

    /// Sends `msg` with a fresh tag and returns its reply.
    pub fn rpc(&mut self, msg: &Tmessage<'_>) -> Result<Reply> {
        let tag = if matches!(msg, Tmessage::Version(_)) {
            NOTAG
        } else {
            self.tag()
        };
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

    /// Sends `msg`, and maps its reply with `f` (`Rlerror` becomes an error).
    pub fn call<T>(
        &mut self,
        msg: &Tmessage<'_>,
        f: impl FnOnce(&Rmessage<'_>) -> Option<T>,
    ) -> Result<T> {
        let r = self.rpc(msg)?;
        let (_, m) = r.decode()?;
        if let Rmessage::Lerror(e) = m {
            return Err(ClientError::Lerror(Errno::from_raw_os_error(
                e.ecode as i32,
            )));
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
        let t = Tattach {
            fid,
            afid: NOFID,
            uname: b"",
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
            Rmessage::Read(r) => Some(r.data.to_vec()),
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
        let t = Tgetattr {
            fid,
            request_mask: P9_GETATTR_ALL,
        };
        self.call(&Tmessage::Getattr(t), |m| match m {
            Rmessage::Getattr(r) => Some(*r),
            _ => None,
        })
    }

    /// Tsetattr.
    pub fn setattr(&mut self, t: Tsetattr) -> Result<()> {
        self.call(&Tmessage::Setattr(t), |m| {
            matches!(m, Rmessage::Setattr).then_some(())
        })
    }

    /// Treaddir.
    pub fn readdir(&mut self, fid: u32, offset: u64, count: u32) -> Result<Vec<Dirent>> {
        let r = self.rpc(&Tmessage::Readdir(Treaddir { fid, offset, count }))?;
        match r.decode()?.1 {
            Rmessage::Readdir(d) => dir_entries(d.data)
                .map(|e| {
                    e.map(|e| Dirent {
                        qid: e.qid,
                        offset: e.offset,
                        ty: e.ty,
                        name: e.name.to_vec(),
                    })
                    .map_err(ClientError::from)
                })
                .collect(),
            Rmessage::Lerror(e) => Err(ClientError::Lerror(Errno::from_raw_os_error(
                e.ecode as i32,
            ))),
            m => Err(unexpected(&m)),
        }
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
            client_id: b"testclient",
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
            client_id: b"testclient",
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
}
