//! Where a server listens, a connected stream of either kind, and reading one frame.

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use p9_wire::HEADER_SIZE;

use crate::{ClientError, Result};

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
#[derive(Debug)]
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

    /// Sets the read timeout (a server that stops answering must not hang the caller).
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
        return Err(ClientError::Unexpected(format!(
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
