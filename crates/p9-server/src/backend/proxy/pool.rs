//! [`HelperPool`]: proxy-protocol connections to helpers, used round-robin, each replaced
//! when its helper dies.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use proxy_client::{Error, ProxyClient};
use rustix::io::Errno;

/// Makes a new helper connection (spawns a helper, or connects to one).
pub type Connector = Box<dyn Fn() -> std::io::Result<ProxyClient> + Send + Sync>;

/// Helper connections. The proxy protocol is one request at a time per connection, so
/// several connections let several 9P requests reach helpers at once.
pub struct HelperPool {
    slots: Vec<RwLock<Arc<ProxyClient>>>,
    next: AtomicUsize,
    connect: Option<Connector>,
}

impl std::fmt::Debug for HelperPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelperPool")
            .field("connections", &self.slots.len())
            .finish()
    }
}

impl HelperPool {
    /// A pool of `size` connections made by `connect`, which is called again to replace
    /// a connection whose helper died.
    pub fn new(size: usize, connect: Connector) -> std::io::Result<HelperPool> {
        let slots = (0..size.max(1))
            .map(|_| connect().map(|c| RwLock::new(Arc::new(c))))
            .collect::<std::io::Result<_>>()?;
        Ok(HelperPool {
            slots,
            next: AtomicUsize::new(0),
            connect: Some(connect),
        })
    }

    /// A pool of fixed connections (e.g. to helpers someone else started), never replaced.
    pub fn fixed(clients: Vec<ProxyClient>) -> HelperPool {
        assert!(!clients.is_empty(), "a pool needs a connection");
        HelperPool {
            slots: clients
                .into_iter()
                .map(|c| RwLock::new(Arc::new(c)))
                .collect(),
            next: AtomicUsize::new(0),
            connect: None,
        }
    }

    /// Runs `op` on one of the connections and maps its error to an errno. A connection
    /// error (the helper died, or broke the protocol) replaces that connection for the
    /// next requests. A request the helper may have received answers `EIO`; one it
    /// certainly never saw (the connection was already broken, or sending it failed
    /// with `EPIPE`: the helper was gone) runs once more on the new connection, so that
    /// only requests in flight when a helper dies fail.
    pub fn call<T>(&self, op: impl Fn(&ProxyClient) -> Result<T, Error>) -> Result<T, Errno> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut retried = false;
        loop {
            let client = Arc::clone(&self.slots[i].read().unwrap_or_else(|p| p.into_inner()));
            match op(&client) {
                Ok(v) => return Ok(v),
                Err(e) if e.breaks_connection() => {
                    self.replace(i, &client);
                    if !retried && never_sent(&e) {
                        tracing::info!(error = %e, slot = i, "helper connection lost before the request was sent; retrying on a new one");
                        retried = true;
                        continue;
                    }
                    tracing::warn!(error = %e, slot = i, "helper connection lost; answering EIO");
                    return Err(Errno::IO);
                }
                Err(e) => return Err(e.errno()),
            }
        }
    }

    /// Replaces connection `i` if it is still the broken `old`.
    fn replace(&self, i: usize, old: &Arc<ProxyClient>) {
        let Some(connect) = &self.connect else { return };
        let mut slot = self.slots[i].write().unwrap_or_else(|p| p.into_inner());
        if !Arc::ptr_eq(&slot, old) {
            return; // someone else replaced it already
        }
        match connect() {
            Ok(c) => {
                tracing::info!(slot = i, "new helper connection");
                *slot = Arc::new(c);
            }
            Err(e) => tracing::error!(error = %e, slot = i, "cannot start a new helper"),
        }
    }

    /// How many connections the pool has.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Always false: a pool has at least one connection.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Whether a connection error happened before the helper could have seen the request:
/// the connection was already broken, or sending failed with `EPIPE` (the peer was gone;
/// a helper never acts on a request it did not read whole).
fn never_sent(e: &Error) -> bool {
    match e {
        Error::Broken => true,
        Error::Io(io) => io.raw_os_error() == Some(libc::EPIPE),
        _ => false,
    }
}
