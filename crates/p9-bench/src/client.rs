//! The one 9P2000.L client every side is measured with: blocking, one request in flight per
//! connection (tag 1), frames built and parsed by `p9-wire`.

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use p9_wire::{
    begin_twrite, decode_rmessage, decode_tmessage, encode, finish_twrite, peek_header, Rmessage,
    Tattach, Tclunk, Tgetattr, Tlcreate, Tlopen, Tmessage, Tread, Tremove, Tunlinkat, Tversion,
    Twalk, WalkVec, HEADER_SIZE, NOFID, P9_GETATTR_BASIC, VERSION_9P2000_L,
};

/// Any failure of the benchmark client: I/O, protocol, or an Rlerror from the server.
#[derive(Debug)]
pub struct BenchError(pub String, pub Option<u32>);

impl BenchError {
    /// A failure that leaves the connection unusable (I/O, framing, protocol).
    pub fn msg(s: impl Into<String>) -> Self {
        BenchError(s.into(), None)
    }
    /// The errno of an Rlerror (the connection is still in step).
    pub fn errno(&self) -> Option<u32> {
        self.1
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BenchError {}

impl From<io::Error> for BenchError {
    fn from(e: io::Error) -> Self {
        BenchError::msg(format!("i/o: {e}"))
    }
}

impl From<p9_wire::WireError> for BenchError {
    fn from(e: p9_wire::WireError) -> Self {
        BenchError::msg(format!("protocol: {e}"))
    }
}

/// Result of the benchmark client.
pub type Result<T> = std::result::Result<T, BenchError>;

/// Where a server listens.
#[derive(Debug, Clone)]
pub enum Addr {
    /// `127.0.0.1:port`.
    Tcp(u16),
    /// A Unix stream socket.
    Unix(PathBuf),
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Tcp(p) => write!(f, "tcp:127.0.0.1:{p}"),
            Addr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// A connected stream of either kind.
pub enum Stream {
    /// TCP with `TCP_NODELAY`.
    Tcp(TcpStream),
    /// Unix stream socket.
    Unix(UnixStream),
}

impl Stream {
    /// Connects to `addr` (TCP_NODELAY on TCP).
    pub fn connect(addr: &Addr) -> io::Result<Stream> {
        match addr {
            Addr::Tcp(port) => {
                let s = TcpStream::connect(("127.0.0.1", *port))?;
                s.set_nodelay(true)?;
                Ok(Stream::Tcp(s))
            }
            Addr::Unix(path) => Ok(Stream::Unix(UnixStream::connect(path)?)),
        }
    }

    /// Sets the read timeout (a server that stops answering must not hang the bench).
    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(t),
            Stream::Unix(s) => s.set_read_timeout(t),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            Stream::Unix(s) => s.write_vectored(bufs),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads one frame (size-prefixed) from `s` into `buf`, refusing frames larger than
/// `max` or smaller than a header. Returns the frame length.
pub fn read_frame(s: &mut impl Read, buf: &mut Vec<u8>, max: u32) -> Result<usize> {
    let mut size = [0u8; 4];
    s.read_exact(&mut size)?;
    let n = u32::from_le_bytes(size);
    if n < HEADER_SIZE as u32 || n > max {
        return Err(BenchError::msg(format!(
            "frame of {n} bytes (limit {max}): the peer is out of sync"
        )));
    }
    let n = n as usize;
    if buf.len() < n {
        buf.resize(n, 0);
    }
    buf[..4].copy_from_slice(&size);
    s.read_exact(&mut buf[4..n])?;
    Ok(n)
}

/// Writes `a` then `b` with as few system calls as the kernel allows.
pub fn write_two(s: &mut impl Write, a: &[u8], b: &[u8]) -> io::Result<()> {
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() || j < b.len() {
        let n = s.write_vectored(&[IoSlice::new(&a[i..]), IoSlice::new(&b[j..])])?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let from_a = n.min(a.len() - i);
        i += from_a;
        j += n - from_a;
    }
    Ok(())
}

const TAG: u16 = 1;
/// How long a reply may take before the bench gives up on that side.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// The root fid every connection attaches.
pub const ROOT_FID: u32 = 1;

/// One client connection.
pub struct Conn {
    s: Stream,
    /// The negotiated msize.
    pub msize: u32,
    out: Vec<u8>,
    inb: Vec<u8>,
    twrite: Vec<u8>,
}

fn errno_text(ecode: u32) -> String {
    let e = io::Error::from_raw_os_error(i32::try_from(ecode).unwrap_or(i32::MAX));
    format!("Rlerror {ecode} ({e})")
}

impl Conn {
    /// Connects, negotiates 9P2000.L with `want_msize` offered, attaches `aname` as root.
    pub fn open(addr: &Addr, want_msize: u32, aname: &[u8]) -> Result<Conn> {
        let s =
            Stream::connect(addr).map_err(|e| BenchError::msg(format!("connect {addr}: {e}")))?;
        s.set_read_timeout(Some(REPLY_TIMEOUT))?;
        let mut c = Conn {
            s,
            msize: want_msize,
            out: Vec::with_capacity(256),
            inb: vec![0; 8192],
            twrite: Vec::new(),
        };
        let v = Tmessage::Version(Tversion {
            msize: want_msize,
            version: VERSION_9P2000_L,
        });
        let msize = match c.rpc_tag(p9_wire::NOTAG, &v)? {
            Rmessage::Version(r) if r.version == VERSION_9P2000_L => r.msize,
            Rmessage::Version(r) => {
                return Err(BenchError::msg(format!(
                    "server refused 9P2000.L (answered {:?})",
                    String::from_utf8_lossy(r.version)
                )))
            }
            other => return Err(unexpected("Rversion", &other)),
        };
        if msize < 4096 || msize > want_msize {
            return Err(BenchError::msg(format!("server negotiated msize {msize}")));
        }
        c.msize = msize;
        let a = Tmessage::Attach(Tattach {
            fid: ROOT_FID,
            afid: NOFID,
            uname: b"root",
            aname,
            n_uname: 0,
        });
        match c.rpc(&a)? {
            Rmessage::Attach(_) => Ok(c),
            other => Err(unexpected("Rattach", &other)),
        }
    }

    fn rpc_tag(&mut self, tag: u16, msg: &Tmessage<'_>) -> Result<Rmessage<'_>> {
        self.out.clear();
        encode(tag, msg, &mut self.out, self.msize)?;
        self.s.write_all(&self.out)?;
        self.recv(tag)
    }

    fn recv(&mut self, tag: u16) -> Result<Rmessage<'_>> {
        let n = read_frame(&mut self.s, &mut self.inb, self.msize)?;
        let (rtag, msg) = decode_rmessage(&self.inb[..n])?;
        if rtag != tag {
            return Err(BenchError::msg(format!(
                "reply tag {rtag} for request tag {tag}"
            )));
        }
        Ok(msg)
    }

    /// One request/reply with the bench's tag.
    pub fn rpc(&mut self, msg: &Tmessage<'_>) -> Result<Rmessage<'_>> {
        self.rpc_tag(TAG, msg)
    }

    /// Twalk `fid` → `newfid` through every name; a partial walk is an error.
    pub fn walk(&mut self, fid: u32, newfid: u32, names: &[&[u8]]) -> Result<()> {
        let m = Tmessage::Walk(Twalk {
            fid,
            newfid,
            wnames: WalkVec::from_slice(names)?,
        });
        match self.rpc(&m)? {
            Rmessage::Walk(r) if r.wqids.len() == names.len() => Ok(()),
            Rmessage::Walk(r) => Err(BenchError::msg(format!(
                "walk stopped after {} of {} names",
                r.wqids.len(),
                names.len()
            ))),
            other => Err(unexpected("Rwalk", &other)),
        }
    }

    /// Tlopen.
    pub fn lopen(&mut self, fid: u32, flags: u32) -> Result<()> {
        match self.rpc(&Tmessage::Lopen(Tlopen { fid, flags }))? {
            Rmessage::Lopen(_) => Ok(()),
            other => Err(unexpected("Rlopen", &other)),
        }
    }

    /// Tclunk.
    pub fn clunk(&mut self, fid: u32) -> Result<()> {
        match self.rpc(&Tmessage::Clunk(Tclunk { fid }))? {
            Rmessage::Clunk => Ok(()),
            other => Err(unexpected("Rclunk", &other)),
        }
    }

    /// Tgetattr with the mask the Linux client uses for stat.
    pub fn getattr(&mut self, fid: u32) -> Result<u64> {
        let m = Tmessage::Getattr(Tgetattr {
            fid,
            request_mask: P9_GETATTR_BASIC,
        });
        match self.rpc(&m)? {
            Rmessage::Getattr(r) => Ok(r.size),
            other => Err(unexpected("Rgetattr", &other)),
        }
    }

    /// Tlcreate in the directory `fid` (which becomes the new open file).
    pub fn lcreate(&mut self, fid: u32, name: &[u8], flags: u32, mode: u32) -> Result<()> {
        let m = Tmessage::Lcreate(Tlcreate {
            fid,
            name,
            flags,
            mode,
            gid: 0,
        });
        match self.rpc(&m)? {
            Rmessage::Lcreate(_) => Ok(()),
            other => Err(unexpected("Rlcreate", &other)),
        }
    }

    /// Tunlinkat.
    pub fn unlinkat(&mut self, dirfid: u32, name: &[u8], flags: u32) -> Result<()> {
        let m = Tmessage::Unlinkat(Tunlinkat {
            dirfid,
            name,
            flags,
        });
        match self.rpc(&m)? {
            Rmessage::Unlinkat => Ok(()),
            other => Err(unexpected("Runlinkat", &other)),
        }
    }

    /// Tremove (the fid is clunked either way).
    pub fn remove(&mut self, fid: u32) -> Result<()> {
        match self.rpc(&Tmessage::Remove(Tremove { fid }))? {
            Rmessage::Remove => Ok(()),
            other => Err(unexpected("Rremove", &other)),
        }
    }

    /// Tread of up to `count` bytes; returns how many came back.
    pub fn read(&mut self, fid: u32, offset: u64, count: u32) -> Result<usize> {
        let m = Tmessage::Read(Tread { fid, offset, count });
        match self.rpc(&m)? {
            Rmessage::Read(r) if r.data.len() <= count as usize => Ok(r.data.len()),
            Rmessage::Read(r) => Err(BenchError::msg(format!(
                "Rread of {} bytes for a Tread of {count}",
                r.data.len()
            ))),
            other => Err(unexpected("Rread", &other)),
        }
    }

    /// Builds the Twrite frame reused by [`Conn::write_at`]: `count` bytes of a fixed
    /// pattern to `fid`. Only the offset changes between requests, so no payload is copied
    /// per request (the same for every side).
    pub fn prepare_write(&mut self, fid: u32, count: u32) -> Result<()> {
        let mut f = Vec::with_capacity(count as usize + 32);
        let start = begin_twrite(TAG, fid, 0, &mut f);
        let data_at = f.len();
        f.extend((0..count as usize).map(|i| (i % 251) as u8));
        let count = f.len() - data_at;
        finish_twrite(&mut f, start, count)?;
        // Check where the offset lives by patching it and decoding the frame back.
        patch_offset(&mut f, 0x0123_4567_89ab)?;
        match decode_tmessage(&f)? {
            (_, Tmessage::Write(w)) if w.offset == 0x0123_4567_89ab && w.fid == fid => {}
            _ => return Err(BenchError::msg("Twrite layout check failed")),
        }
        self.twrite = f;
        Ok(())
    }

    /// Sends the prepared Twrite at `offset`; returns the count the server wrote.
    pub fn write_at(&mut self, offset: u64) -> Result<u32> {
        patch_offset(&mut self.twrite, offset)?;
        self.s.write_all(&self.twrite)?;
        match self.recv(TAG)? {
            Rmessage::Write(r) => Ok(r.count),
            other => Err(unexpected("Rwrite", &other)),
        }
    }
}

/// The offset of a Twrite: after `size[4] type[1] tag[2] fid[4]`.
const TWRITE_OFFSET_AT: usize = HEADER_SIZE + 4;

fn patch_offset(frame: &mut [u8], offset: u64) -> Result<()> {
    let h = peek_header(frame)?;
    match frame.get_mut(TWRITE_OFFSET_AT..TWRITE_OFFSET_AT + 8) {
        Some(slot) if h.ty == p9_wire::P9_TWRITE => {
            slot.copy_from_slice(&offset.to_le_bytes());
            Ok(())
        }
        _ => Err(BenchError::msg("not a Twrite frame")),
    }
}

fn unexpected(want: &str, got: &Rmessage<'_>) -> BenchError {
    match got {
        Rmessage::Lerror(e) => BenchError(
            format!("{want} expected, got {}", errno_text(e.ecode)),
            Some(e.ecode),
        ),
        other => BenchError::msg(format!(
            "{want} expected, got message type {}",
            other.msg_type()
        )),
    }
}
