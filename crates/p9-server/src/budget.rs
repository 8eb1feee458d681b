//! Process-wide budgets of what clients can make the server hold (fds, fid memory,
//! xattr buffers), each shared fairly between connections.
//!
//! A [`Budget`] is a limit on the sum over all connections; each connection draws from
//! it through its own [`Share`]. A connection may hold at most `limit / (connections +
//! 1)`, counted when it asks: alone it gets half, so whatever one connection does, at
//! least half of every budget is left for the others (and a newcomer's share is always
//! left by those that were there when they took theirs). Past its share or past the
//! budget, a request fails (with `EMFILE`/`ENFILE` or `ENOMEM`, see [`Over`]) and the
//! connection goes on; what a connection holds is given back as its fids go, and all of
//! it when it ends.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rustix::io::Errno;

/// Default [`Budgets::fid_memory`]: 256 MiB.
pub const DEFAULT_FID_MEMORY: usize = 256 << 20;
/// Default [`Budgets::lock_ranges`]: 65,536 (a kernel lock entry is some 200 bytes).
pub const DEFAULT_LOCK_RANGES: usize = 1 << 16;
/// Default [`Budgets::xattr`]: 32 MiB (alone, a connection may hold 16 MiB).
pub const DEFAULT_XATTR: usize = 32 << 20;
/// The share of `RLIMIT_NOFILE` (its soft limit when the server starts) that fids may
/// hold by default, in quarters: 3/4, the rest left for sockets, helpers' fds, and the
/// fds a request holds for a moment before it is counted.
pub const DEFAULT_FD_QUARTERS: usize = 3;

/// The limits of the process-wide budgets ([`crate::ServerConfig::budgets`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    /// Most fds all fids may hold (each fid counts one for its file, one more while
    /// open, even when clones share them); `None`: 3/4 of the soft `RLIMIT_NOFILE` at
    /// [`crate::Server::new`].
    pub fds: Option<usize>,
    /// Most bytes of fids, each counted as [`FID_OVERHEAD`] plus its path (in full, even
    /// when clones share it).
    pub fid_memory: usize,
    /// Most bytes of extended attribute values held by fids (read by Txattrwalk,
    /// buffers of Txattrcreate).
    pub xattr: usize,
    /// Most byte ranges all fids may hold locked (as the kernel counts them).
    pub lock_ranges: usize,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            fds: None,
            fid_memory: DEFAULT_FID_MEMORY,
            xattr: DEFAULT_XATTR,
            lock_ranges: DEFAULT_LOCK_RANGES,
        }
    }
}

impl Budgets {
    /// These budgets with [`Budgets::fds`] set (to [`Budgets::fd_limit`]): for a
    /// server made after a seccomp filter that allows no `getrlimit`.
    pub fn resolved(self) -> Budgets {
        Budgets {
            fds: Some(self.fd_limit()),
            ..self
        }
    }

    /// The fd limit: [`Budgets::fds`], or 3/4 of the soft `RLIMIT_NOFILE` now.
    pub fn fd_limit(&self) -> usize {
        self.fds.unwrap_or_else(|| {
            let lim = rustix::process::getrlimit(rustix::process::Resource::Nofile);
            let soft = lim.current.unwrap_or(1 << 20);
            usize::try_from(soft).unwrap_or(usize::MAX) / 4 * DEFAULT_FD_QUARTERS
        })
    }
}

/// What a fid costs [`Budgets::fid_memory`] besides its path: its table entry, its
/// node and its fd's shared handle, rounded up generously.
pub const FID_OVERHEAD: usize = 256;

/// Which bound a request went past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    /// This connection's share.
    Share,
    /// The process-wide budget.
    Total,
}

/// A process-wide limit shared by connections.
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    used: AtomicUsize,
    users: AtomicUsize,
}

impl Budget {
    /// A budget of `limit` units.
    pub fn new(limit: usize) -> Budget {
        Budget {
            limit,
            used: AtomicUsize::new(0),
            users: AtomicUsize::new(0),
        }
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Units held by all connections now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// One connection's draw on a [`Budget`]; gives back what it holds when dropped.
#[derive(Debug)]
pub struct Share {
    budget: Arc<Budget>,
    held: usize,
}

impl Share {
    /// A new connection's share of `budget`.
    pub fn new(budget: &Arc<Budget>) -> Share {
        budget.users.fetch_add(1, Ordering::Relaxed);
        Share {
            budget: Arc::clone(budget),
            held: 0,
        }
    }

    /// Units this connection holds.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Takes `n` more units, if they fit in this connection's fair share and in the
    /// budget.
    pub fn take(&mut self, n: usize) -> Result<(), Over> {
        if n == 0 {
            return Ok(());
        }
        let b = &*self.budget;
        let fair = b.limit / (b.users.load(Ordering::Relaxed) + 1);
        if self.held.saturating_add(n) > fair {
            return Err(Over::Share);
        }
        b.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                u.checked_add(n).filter(|&t| t <= b.limit)
            })
            .map_err(|_| Over::Total)?;
        self.held += n;
        Ok(())
    }

    /// Takes `n` more units whatever the bounds (for what has already happened, e.g. a
    /// path that grew with a rename): later requests then find less.
    pub fn force(&mut self, n: usize) {
        self.budget.used.fetch_add(n, Ordering::Relaxed);
        self.held += n;
    }

    /// Gives back `n` units (at most what it holds).
    pub fn give(&mut self, n: usize) {
        let n = n.min(self.held);
        self.budget.used.fetch_sub(n, Ordering::Relaxed);
        self.held -= n;
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        self.give(self.held);
        self.budget.users.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The three budgets of a server, made from [`Budgets`].
#[derive(Debug)]
pub(crate) struct Pools {
    pub fds: Arc<Budget>,
    pub fid_memory: Arc<Budget>,
    pub xattr: Arc<Budget>,
    pub locks: Arc<Budget>,
}

impl Pools {
    pub fn new(b: &Budgets) -> Pools {
        Pools {
            fds: Arc::new(Budget::new(b.fd_limit())),
            fid_memory: Arc::new(Budget::new(b.fid_memory)),
            xattr: Arc::new(Budget::new(b.xattr)),
            locks: Arc::new(Budget::new(b.lock_ranges)),
        }
    }
}

/// The errno for going past the fd budget: `EMFILE` for this connection's share (as
/// for a process's own limit), `ENFILE` for the whole server's.
pub fn fd_errno(o: Over) -> Errno {
    match o {
        Over::Share => Errno::MFILE,
        Over::Total => Errno::NFILE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_fair_and_given_back() {
        let b = Arc::new(Budget::new(120));
        let mut a = Share::new(&b);
        // Alone: half.
        assert_eq!(a.take(60), Ok(()));
        assert_eq!(a.take(1), Err(Over::Share));
        let mut c = Share::new(&b);
        // Two: a third each, counted when asking.
        assert_eq!(c.take(40), Ok(()));
        assert_eq!(c.take(1), Err(Over::Share));
        let mut d = Share::new(&b);
        assert_eq!(d.take(20), Ok(()));
        assert_eq!(b.used(), 120);
        drop(c);
        // A new one finds what c held.
        let mut e = Share::new(&b);
        assert_eq!(e.take(24), Ok(()));
        assert_eq!(d.take(1), Ok(()));
        assert_eq!(e.take(1), Ok(()));
        assert_eq!(a.take(0), Ok(()));
        assert_eq!(b.used(), 106);
        d.force(100);
        assert_eq!(e.take(1), Err(Over::Total));
        d.give(1000);
        assert_eq!(d.held(), 0);
        drop((a, d, e));
        assert_eq!(b.used(), 0);
    }
}
