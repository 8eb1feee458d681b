//! A 9P2000.L file server for the Linux `v9fs` client and other 9P clients.
//!
//! - [`Server`]: the state shared by all connections (a [`Backend`], the qid map, the
//!   limits); [`Server::serve`] runs one connection on any byte stream.
//!
//! The source folders are the roles:
//! - `engine/`: the protocol: what each request does to the connection's fids and to the
//!   backend, with no socket ([`qid`], [`budget`] and the private fids, handlers,
//!   readdir, xattrs and locks);
//! - `transport/`: bytes in and out: [`listen`] (TCP and Unix listeners, the accept loop
//!   and the connection limit), [`peer`] (who is at the other end), [`poller`], and each
//!   connection's session (reading, encoding, writing, sendfile and splice);
//! - [`backend`]: the [`Backend`] trait every fid's [`Node`] goes through, the in-process,
//!   confined [`LocalBackend`], the proxy backend and the layers over any backend;
//! - `process/`: the front end's privilege drop ([`privsep`]) and helper [`spawner`];
//! - `observe/`: [`stats`] (per-operation counters and latency histograms,
//!   [`Server::stats`], as a table, Prometheus text or JSON) and [`trace`] (the
//!   decoded-message log lines of [`ServerConfig::trace`]).
//!
//! Each connection is served by its own thread, which answers requests inline and in
//! order (many may be in flight: they are read and answered in batches). File data goes
//! straight between the frame buffers and the files with `pread`/`pwrite`, large reads
//! with `sendfile` and large writes with `splice`.
//! Errors handling a request are answered with `Rlerror` and never end a connection;
//! only transport errors and frames that cannot be delimited do.
//!
//! ```no_run
//! use std::sync::Arc;
//! use p9_server::{listen, LocalBackend, Server, ServerConfig};
//!
//! let backend = Arc::new(LocalBackend::new("/srv/export")?);
//! let server = Arc::new(Server::new(backend, ServerConfig::default())?);
//! let listener = "tcp:127.0.0.1:5640".parse::<listen::ListenAddr>()?.bind()?;
//! listen::serve(server, vec![listener], listen::Limits::default())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod backend;
mod engine;
pub mod error;
mod observe;
pub mod path;
mod process;
mod transport;

// The public modules keep their flat paths (`p9_server::listen`, …); the folders above
// say which role each plays.
pub use engine::{budget, qid};
pub use observe::{stats, trace};
pub use process::{privsep, spawner};
pub use transport::{listen, peer, poller};

use engine::lock;

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::sync::Arc;

pub use backend::idmap::{IdMapped, IdMapping, IdRange, RangeMap};
pub use backend::local::LocalBackend;
pub use backend::mapped::{Mapped, MetaStore, NoOwnership, SecurityModel};
pub use backend::proxy::{HelperPool, ProxyBackend};
pub use backend::readonly::ReadOnly;
pub use backend::{Attr, AttrExt, Backend, FsStats, Node, SetTime};
pub use engine::ops::MIN_MSIZE;
pub use error::Error;
use qid::QidMap;
use rustix::io::Errno;
use stats::Stats;

/// Default largest msize on Unix sockets and inherited descriptors: 4 MiB.
pub const DEFAULT_MSIZE_UNIX: u32 = 4 * 1024 * 1024;
/// Default largest msize on TCP: 1 MiB.
pub const DEFAULT_MSIZE_TCP: u32 = 1024 * 1024;
/// Default limit of fids per connection.
pub const DEFAULT_MAX_FIDS: usize = 64 * 1024;
/// Default [`ServerConfig::lock_wait`]: Linux's own default `locktimeout`.
pub const DEFAULT_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
/// The uid used for a Tattach without a numeric uid (`n_uname` = `NONUNAME`): nobody.
pub const NOBODY_UID: u32 = 65534;

/// The server's settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Attach names accepted besides the empty one (the export path, as given and in
    /// canonical form).
    pub anames: Vec<Vec<u8>>,
    /// Most fids per connection; past it, new fids get `EMFILE`.
    pub max_fids: usize,
    /// The uid for attaches that give no numeric uid.
    pub default_uid: u32,
    /// How long a blocking Tlock (`P9_LOCK_FLAGS_BLOCK`) on a lock held by someone else
    /// waits for it, without holding up the connection's other requests, before it is
    /// answered `BLOCKED` (Linux then sleeps its `locktimeout` and asks again).
    pub lock_wait: std::time::Duration,
    /// Log every request and reply, decoded (at `TRACE` level; see [`trace`]).
    pub trace: bool,
    /// How connection threads wait for requests (share it with the proxy backend's
    /// helper connections; see [`poller`]). Default: never poll.
    pub poller: Arc<poller::Poller>,
    /// Who may act as whom ([`peer`]). Default: the process's own user is trusted.
    pub policy: peer::Policy,
    /// Finds the owners of loopback TCP peers (opened before any sandbox); without it
    /// TCP peers have no identity.
    pub sock_diag: Option<Arc<peer::SockDiag>>,
    /// The process-wide budgets of fds, fid memory and xattr buffers, shared fairly
    /// between connections (see [`budget`]).
    pub budgets: budget::Budgets,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            anames: Vec::new(),
            max_fids: DEFAULT_MAX_FIDS,
            default_uid: NOBODY_UID,
            lock_wait: DEFAULT_LOCK_WAIT,
            trace: false,
            poller: Arc::new(poller::Poller::off()),
            policy: peer::Policy::for_this_process(),
            sock_diag: peer::SockDiag::open().ok().map(Arc::new),
            budgets: budget::Budgets::default(),
        }
    }
}

/// What all connections share.
pub struct Server {
    backend: Arc<dyn Backend>,
    qids: QidMap,
    config: ServerConfig,
    stats: Arc<Stats>,
    pools: budget::Pools,
    lock_waiters: lock::Waiters,
    peer_slots: peer::PeerSlots,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server exporting what `backend` serves.
    pub fn new(backend: Arc<dyn Backend>, config: ServerConfig) -> Result<Server, Errno> {
        Server::with_stats(backend, config, Arc::new(Stats::new()))
    }

    /// A server exporting what `backend` serves, counting into `stats` (made before the
    /// server, e.g. to count helper respawns or to be read from another thread).
    pub fn with_stats(
        backend: Arc<dyn Backend>,
        config: ServerConfig,
        stats: Arc<Stats>,
    ) -> Result<Server, Errno> {
        let root = backend.root()?;
        let dev = Attr::of(root.fd())?.dev;
        let pools = budget::Pools::new(&config.budgets);
        tracing::debug!(
            fds = pools.fds.limit(),
            fid_memory = pools.fid_memory.limit(),
            xattr = pools.xattr.limit(),
            "budgets"
        );
        Ok(Server {
            backend,
            qids: QidMap::new(dev),
            config,
            stats,
            pools,
            lock_waiters: lock::Waiters::default(),
            peer_slots: peer::PeerSlots::default(),
        })
    }

    /// The connections each untrusted user holds.
    pub(crate) fn peer_slots(&self) -> &peer::PeerSlots {
        &self.peer_slots
    }

    /// The per-operation counters and histograms.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// The backend.
    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
    }

    /// The connections waiting for locks.
    pub(crate) fn lock_waiters(&self) -> &lock::Waiters {
        &self.lock_waiters
    }

    /// The budgets connections draw on.
    pub(crate) fn pools(&self) -> &budget::Pools {
        &self.pools
    }

    /// The qid map.
    pub fn qids(&self) -> &QidMap {
        &self.qids
    }

    /// The settings.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Serves one client on `reader`/`writer` (the two halves of a socket, or the two
    /// fds of the kernel's `trans=fd`) until it disconnects, granting an msize of at
    /// most `msize_cap`. Returns the transport error that ended it, if any.
    pub fn serve(
        &self,
        reader: impl Read + AsFd,
        writer: impl Write + AsFd,
        msize_cap: u32,
    ) -> std::io::Result<()> {
        self.serve_peer(reader, writer, msize_cap, "")
    }

    /// [`Server::serve`], naming the client `peer` in the trace ([`ServerConfig::trace`]).
    pub fn serve_peer(
        &self,
        reader: impl Read + AsFd,
        writer: impl Write + AsFd,
        msize_cap: u32,
        peer: &str,
    ) -> std::io::Result<()> {
        transport::session::run(self, reader, writer, msize_cap.max(MIN_MSIZE), peer, None)
    }

    /// [`Server::serve_peer`], closing the connection if it has not completed its
    /// handshake (a Tversion, then a Tattach answered) within `handshake`.
    pub fn serve_connection(
        &self,
        reader: impl Read + AsFd,
        writer: impl Write + AsFd,
        msize_cap: u32,
        peer: &str,
        handshake: Option<std::time::Duration>,
    ) -> std::io::Result<()> {
        transport::session::run(
            self,
            reader,
            writer,
            msize_cap.max(MIN_MSIZE),
            peer,
            handshake,
        )
    }
}
