//! Listening: `tcp:HOST:PORT` and `unix:PATH` addresses, the accept loops (one thread
//! per connection, up to a limit), and serving one client on inherited descriptors.

use std::fmt;
use std::fs::File;
use std::io;
use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::{Server, DEFAULT_MSIZE_TCP, DEFAULT_MSIZE_UNIX};

/// Where to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// `tcp:HOST:PORT` (`HOST:PORT` as `std::net` resolves it, e.g. `[::1]:5640`).
    Tcp(String),
    /// `unix:PATH`.
    Unix(PathBuf),
}

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(hostport) = s.strip_prefix("tcp:") {
            if !hostport.contains(':') {
                return Err(format!("{s:?}: expected tcp:HOST:PORT"));
            }
            Ok(ListenAddr::Tcp(hostport.to_string()))
        } else if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(format!("{s:?}: expected unix:PATH"));
            }
            Ok(ListenAddr::Unix(PathBuf::from(path)))
        } else {
            Err(format!("{s:?}: expected tcp:HOST:PORT or unix:PATH"))
        }
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(a) => write!(f, "tcp:{a}"),
            ListenAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// A bound listener.
#[derive(Debug)]
pub enum Listener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A Unix stream socket listener and its path.
    Unix(UnixListener, PathBuf),
}

impl ListenAddr {
    /// Binds the address, a Unix socket with the default [`SocketPerms`] (0600).
    pub fn bind(&self) -> io::Result<Listener> {
        self.bind_with(&SocketPerms::default())
    }

    /// Binds the address. A Unix socket path left over by a server that is gone
    /// (nobody accepts on it) is replaced; anything else in the way is an error. A Unix
    /// socket is made in a private directory (mode 0700) next to its path, given `perms`
    /// there, where no one else can swap it, and only then renamed into place, listening:
    /// the path never exists with other permissions, nor while connections are refused.
    pub fn bind_with(&self, perms: &SocketPerms) -> io::Result<Listener> {
        match self {
            ListenAddr::Tcp(a) => Ok(Listener::Tcp(TcpListener::bind(a.as_str())?)),
            ListenAddr::Unix(p) => {
                if let Ok(m) = std::fs::symlink_metadata(p) {
                    // A stale socket (nothing accepts on it) is replaced; anything else
                    // there is an error.
                    if !m.file_type().is_socket() || UnixStream::connect(p).is_ok() {
                        return Err(io::Error::from(io::ErrorKind::AddrInUse));
                    }
                }
                let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
                let dir = dir.unwrap_or(std::path::Path::new("."));
                let private = dir.join(format!(".p9proxy.{}.{}", std::process::id(), unique()));
                std::fs::DirBuilder::new().mode(0o700).create(&private)?;
                let tmp = private.join("s");
                let result = UnixListener::bind(&tmp)
                    .and_then(|l| perms.apply(&tmp).map(|()| l))
                    .and_then(|l| std::fs::rename(&tmp, p).map(|()| l));
                let _ = std::fs::remove_file(&tmp);
                let _ = std::fs::remove_dir(&private);
                Ok(Listener::Unix(result?, p.clone()))
            }
        }
    }
}

/// A name no other bind of this process uses at the same time.
fn unique() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Who may connect to a Unix listening socket: its permission bits and group (the
/// owner is the user that binds it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketPerms {
    /// Permission bits (default 0600: the owner only).
    pub mode: u32,
    /// The group, if not the binding user's.
    pub gid: Option<u32>,
}

impl Default for SocketPerms {
    fn default() -> Self {
        SocketPerms {
            mode: 0o600,
            gid: None,
        }
    }
}

impl SocketPerms {
    /// Gives the socket at `path` (in a directory only we can enter) these permissions.
    fn apply(&self, path: &std::path::Path) -> io::Result<()> {
        if let Some(gid) = self.gid {
            std::os::unix::fs::lchown(path, None, Some(gid))?;
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(self.mode & 0o777))
    }
}

impl Listener {
    /// The bound address, as `tcp:HOST:PORT` or `unix:PATH`.
    pub fn addr(&self) -> io::Result<ListenAddr> {
        match self {
            Listener::Tcp(l) => Ok(ListenAddr::Tcp(l.local_addr()?.to_string())),
            Listener::Unix(_, p) => Ok(ListenAddr::Unix(p.clone())),
        }
    }

    /// Accepts one connection: its socket, its kind and a description of the peer (the
    /// TCP address, or the listening socket's path). TCP connections get `TCP_NODELAY`
    /// (requests and replies are small and latency-bound).
    pub fn accept(&self) -> io::Result<(OwnedFd, ConnKind, String)> {
        match self {
            Listener::Tcp(l) => {
                let (s, peer) = l.accept()?;
                s.set_nodelay(true)?;
                Ok((s.into(), ConnKind::Tcp, peer.to_string()))
            }
            Listener::Unix(l, p) => {
                let (s, _) = l.accept()?;
                Ok((s.into(), ConnKind::Unix, p.display().to_string()))
            }
        }
    }

    /// Makes `accept` return `WouldBlock` rather than wait (for a poll loop).
    pub fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.set_nonblocking(on),
            Listener::Unix(l, _) => l.set_nonblocking(on),
        }
    }
}

impl std::os::fd::AsFd for Listener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l, _) => l.as_fd(),
        }
    }
}

/// Limits of the accept loops.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections served at once (over all listeners); more are closed at once.
    pub max_connections: usize,
    /// Largest msize granted on TCP.
    pub msize_tcp: u32,
    /// Largest msize granted on Unix sockets and inherited descriptors.
    pub msize_unix: u32,
    /// How long an accepted connection has to complete its handshake (Tversion, then an
    /// answered Tattach) before it is closed; `None`: forever.
    pub handshake_timeout: Option<Duration>,
}

/// Default [`Limits::max_connections`] (and [`crate::engine::budget::Budgets::connections`]).
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// Default [`Limits::handshake_timeout`]: 5 s (a kernel client attaches at once).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            msize_tcp: DEFAULT_MSIZE_TCP,
            msize_unix: DEFAULT_MSIZE_UNIX,
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
        }
    }
}

/// Decrements the connection count when a connection ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn take_slot(active: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
    let mut n = active.load(Ordering::Acquire);
    loop {
        if n >= max {
            return None;
        }
        match active.compare_exchange(n, n + 1, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Some(Slot(Arc::clone(active))),
            Err(now) => n = now,
        }
    }
}

/// Serves the connection `conn` on a thread of its own, if the connection limit lets
/// it in (else closes it); its msize is capped by its transport. Both the listeners and
/// a connection channel start connections here.
fn start_connection(
    server: &Arc<Server>,
    conn: OwnedFd,
    kind: ConnKind,
    peer: String,
    limits: Limits,
    active: &Arc<AtomicUsize>,
) -> Option<std::thread::JoinHandle<()>> {
    let Some(slot) = take_slot(active, limits.max_connections) else {
        tracing::warn!(
            %peer,
            max = limits.max_connections,
            "connection limit reached; closing the new connection"
        );
        return None;
    };
    let msize = match kind {
        ConnKind::Tcp => limits.msize_tcp,
        ConnKind::Unix => limits.msize_unix,
    };
    let server = Arc::clone(server);
    let spawned = std::thread::Builder::new()
        .name("p9-conn".into())
        .spawn(move || {
            let _slot = slot;
            let s = File::from(conn);
            tracing::info!(%peer, "connection");
            match server.serve_connection(&s, &s, msize, &peer, limits.handshake_timeout) {
                Ok(()) => tracing::info!(%peer, "connection closed"),
                Err(e) => tracing::info!(%peer, error = %e, "connection ended"),
            }
        });
    spawned
        .map_err(|e| tracing::warn!(error = %e, "cannot start a connection thread"))
        .ok()
}

fn accept_loop(
    server: Arc<Server>,
    l: Listener,
    limits: Limits,
    active: Arc<AtomicUsize>,
) -> io::Result<()> {
    loop {
        let (conn, kind, peer) = match l.accept() {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOBUFS)
                ) =>
            {
                tracing::warn!(error = %e, "accept failed; retrying shortly");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::ECONNABORTED | libc::EPROTO)) => {
                continue
            }
            Err(e) => return Err(e),
        };
        start_connection(&server, conn, kind, peer, limits, &active);
    }
}

/// Accepts and serves connections on every listener (a thread each) until one fails
/// for good; returns that error.
pub fn serve(server: Arc<Server>, listeners: Vec<Listener>, limits: Limits) -> io::Result<()> {
    let active = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = std::sync::mpsc::channel();
    let mut n = 0;
    for l in listeners {
        let (server, active, tx) = (Arc::clone(&server), Arc::clone(&active), tx.clone());
        std::thread::Builder::new()
            .name("p9-accept".into())
            .spawn(move || {
                let _ = tx.send(accept_loop(server, l, limits, active));
            })?;
        n += 1;
    }
    drop(tx);
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "nothing to listen on",
        ));
    }
    match rx.recv() {
        Ok(r) => r,
        Err(_) => Err(io::Error::other("accept threads ended")),
    }
}

/// The kind of a connection handed over a connection channel (it decides the msize cap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnKind {
    /// A TCP connection (`Limits::msize_tcp`).
    Tcp,
    /// A Unix stream connection (`Limits::msize_unix`).
    Unix,
}

/// Longest peer description carried with a handed-over connection.
const MAX_PEER: usize = 256;

/// Hands the accepted connection `conn` to the process serving the other end of
/// `channel` (a `SOCK_SEQPACKET` socket, see [`serve_channel`]): one message of a kind
/// byte (`T` or `U`) and the peer's description (for logs), with `conn` as `SCM_RIGHTS`.
/// Never blocks (`EAGAIN` when the receiver's queue is full) and never raises SIGPIPE
/// (`EPIPE` when the receiver is gone).
pub fn send_connection(
    channel: impl std::os::fd::AsFd,
    conn: std::os::fd::BorrowedFd<'_>,
    kind: ConnKind,
    peer: &str,
) -> io::Result<()> {
    let mut msg = Vec::with_capacity(1 + peer.len().min(MAX_PEER));
    msg.push(match kind {
        ConnKind::Tcp => b'T',
        ConnKind::Unix => b'U',
    });
    msg.extend_from_slice(&peer.as_bytes()[..peer.len().min(MAX_PEER)]);
    use rustix::net::SendFlags;
    crate::transport::fdpass::send(
        channel,
        &msg,
        Some(conn),
        SendFlags::NOSIGNAL | SendFlags::DONTWAIT,
    )
}

/// One handed-over connection: its kind, peer description and socket.
type Received = (ConnKind, String, OwnedFd);

/// Receives one connection from a channel; `None` at end of file (the sender closed
/// it). A message without a descriptor or with an unknown kind is skipped (logged).
fn recv_connection(channel: &OwnedFd) -> io::Result<Option<Received>> {
    loop {
        let mut buf = [0u8; 1 + MAX_PEER];
        let (bytes, mut fds) = crate::transport::fdpass::recv(channel, &mut buf)?;
        if bytes == 0 && fds.is_empty() {
            return Ok(None);
        }
        let kind = match buf[0] {
            b'T' => Some(ConnKind::Tcp),
            b'U' => Some(ConnKind::Unix),
            _ => None,
        };
        match (kind, fds.pop(), bytes > 0) {
            (Some(kind), Some(fd), true) if fds.is_empty() => {
                let peer = String::from_utf8_lossy(&buf[1..bytes]).into_owned();
                return Ok(Some((kind, peer, fd)));
            }
            _ => tracing::warn!(
                bytes,
                "malformed message on the connection channel; skipped"
            ),
        }
    }
}

/// Serves connections handed over `channel` by [`send_connection`] (a supervisor
/// accepts them; this process needs no listener): a thread per connection, the same
/// limits as [`serve`] (`max_connections`, msize by transport). When the channel
/// reaches end of file (the sender closed it), no more connections come: returns once
/// the last connection being served has ended.
pub fn serve_channel(server: Arc<Server>, channel: OwnedFd, limits: Limits) -> io::Result<()> {
    let active = Arc::new(AtomicUsize::new(0));
    let mut threads: Vec<std::thread::JoinHandle<()>> = Vec::new();
    let result = loop {
        let (kind, peer, fd) = match recv_connection(&channel) {
            Ok(Some(c)) => c,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        threads.retain(|t| !t.is_finished());
        threads.extend(start_connection(&server, fd, kind, peer, limits, &active));
    };
    if result.is_ok() {
        tracing::info!(
            connections = active.load(Ordering::Acquire),
            "connection channel closed: finishing the connections being served"
        );
    }
    for t in threads {
        let _ = t.join();
    }
    result
}

/// Serves one client on inherited descriptors (`--stdio`: 0 and 1; the kernel's
/// `trans=fd` gives a read and a write fd, possibly the same socket).
pub fn serve_fds(server: &Server, read: OwnedFd, write: OwnedFd, msize_cap: u32) -> io::Result<()> {
    let (r, w) = (File::from(read), File::from(write));
    server.serve_peer(&r, &w, msize_cap, "fd")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(
            "tcp:127.0.0.1:5640".parse(),
            Ok(ListenAddr::Tcp("127.0.0.1:5640".into()))
        );
        assert_eq!(
            "tcp:[::1]:5640".parse(),
            Ok(ListenAddr::Tcp("[::1]:5640".into()))
        );
        assert_eq!(
            "unix:/run/p9.sock".parse(),
            Ok(ListenAddr::Unix("/run/p9.sock".into()))
        );
        assert!("tcp:5640".parse::<ListenAddr>().is_err());
        assert!("unix:".parse::<ListenAddr>().is_err());
        assert!("5640".parse::<ListenAddr>().is_err());
        assert_eq!(ListenAddr::Tcp("h:1".into()).to_string(), "tcp:h:1");
    }

    #[test]
    fn slots() {
        let active = Arc::new(AtomicUsize::new(0));
        let a = take_slot(&active, 2).unwrap();
        let _b = take_slot(&active, 2).unwrap();
        assert!(take_slot(&active, 2).is_none());
        drop(a);
        assert!(take_slot(&active, 2).is_some());
    }
}
