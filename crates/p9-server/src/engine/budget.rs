//! Process-wide budgets of what clients can make the server hold (fds, fid memory,
//! xattr buffers, lock ranges), each shared fairly between connections.
//!
//! A [`Budget`] is a limit on the sum over all connections; each connection draws from
//! it through its own [`Share`], in two parts:
//! - a **floor** of `limit / (2 × connections)` ([`Budgets::connections`]: the most
//!   connections served at once) that is its own: together the floors are half the
//!   budget, so whatever the others hold, every connection can always take its floor;
//! - beyond it, the **pool** (the other half), of which a connection may hold at most
//!   `pool / (connections now + 1)`, counted when it asks: alone it gets half the pool.
//!
//! So no number of greedy connections (first ones taking their fair part of the pool,
//! later ones theirs) can leave a newcomer with nothing. Past its share or past the
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
    /// Most connections served at once (the listeners' `max_connections`): each
    /// connection's floor is `limit / (2 × connections)` of every budget.
    pub connections: usize,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            fds: None,
            fid_memory: DEFAULT_FID_MEMORY,
            xattr: DEFAULT_XATTR,
            lock_ranges: DEFAULT_LOCK_RANGES,
            connections: crate::transport::listen::DEFAULT_MAX_CONNECTIONS,
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
    /// What each connection may always take (see the module's doc).
    floor: usize,
    /// What the floors may hold together; the pool is the rest of `limit`.
    floors: usize,
    floors_used: AtomicUsize,
    pool_used: AtomicUsize,
    users: AtomicUsize,
}

impl Budget {
    /// A budget of `limit` units for at most `connections` connections at once.
    pub fn new(limit: usize, connections: usize) -> Budget {
        let floor = limit / 2 / connections.max(1);
        Budget {
            limit,
            floor,
            floors: floor * connections.max(1),
            floors_used: AtomicUsize::new(0),
            pool_used: AtomicUsize::new(0),
            users: AtomicUsize::new(0),
        }
    }

    /// The limit.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// What every connection may take whatever the others hold.
    pub fn floor(&self) -> usize {
        self.floor
    }

    fn pool(&self) -> usize {
        self.limit - self.floors
    }

    /// Units held by all connections now.
    pub fn used(&self) -> usize {
        self.floors_used.load(Ordering::Relaxed) + self.pool_used.load(Ordering::Relaxed)
    }
}

/// Adds `n` to `counter` if the sum stays within `max`.
fn add_within(counter: &AtomicUsize, n: usize, max: usize) -> bool {
    counter
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
            u.checked_add(n).filter(|&t| t <= max)
        })
        .is_ok()
}

/// One connection's draw on a [`Budget`]; gives back what it holds when dropped.
#[derive(Debug)]
pub struct Share {
    budget: Arc<Budget>,
    /// Held of this connection's floor.
    floor: usize,
    /// Held of the pool.
    pool: usize,
}

impl Share {
    /// A new connection's share of `budget`.
    pub fn new(budget: &Arc<Budget>) -> Share {
        budget.users.fetch_add(1, Ordering::Relaxed);
        Share {
            budget: Arc::clone(budget),
            floor: 0,
            pool: 0,
        }
    }

    /// Units this connection holds.
    pub fn held(&self) -> usize {
        self.floor + self.pool
    }

    /// Takes `n` more units: what is left of this connection's floor first, the rest
    /// from the pool if it fits in this connection's fair part of it and in the pool.
    pub fn take(&mut self, n: usize) -> Result<(), Over> {
        if n == 0 {
            return Ok(());
        }
        let b = &*self.budget;
        let from_floor = n.min(b.floor - self.floor);
        let from_pool = n - from_floor;
        if from_pool > 0 {
            let fair = b.pool() / (b.users.load(Ordering::Relaxed) + 1);
            if self.pool.saturating_add(from_pool) > fair {
                return Err(Over::Share);
            }
        }
        // Floors are full only with more connections than the budget was made for.
        if !add_within(&b.floors_used, from_floor, b.floors) {
            return Err(Over::Total);
        }
        if !add_within(&b.pool_used, from_pool, b.pool()) {
            b.floors_used.fetch_sub(from_floor, Ordering::Relaxed);
            return Err(Over::Total);
        }
        self.floor += from_floor;
        self.pool += from_pool;
        Ok(())
    }

    /// Takes `n` more units whatever the bounds (for what has already happened, e.g. a
    /// path that grew with a rename): later requests then find less.
    pub fn force(&mut self, n: usize) {
        self.budget.pool_used.fetch_add(n, Ordering::Relaxed);
        self.pool += n;
    }

    /// Gives back `n` units (at most what it holds): the pool's first.
    pub fn give(&mut self, n: usize) {
        let from_pool = n.min(self.pool);
        let from_floor = (n - from_pool).min(self.floor);
        let b = &*self.budget;
        b.pool_used.fetch_sub(from_pool, Ordering::Relaxed);
        b.floors_used.fetch_sub(from_floor, Ordering::Relaxed);
        self.pool -= from_pool;
        self.floor -= from_floor;
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        self.give(self.held());
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
            fds: Arc::new(Budget::new(b.fd_limit(), b.connections)),
            fid_memory: Arc::new(Budget::new(b.fid_memory, b.connections)),
            xattr: Arc::new(Budget::new(b.xattr, b.connections)),
            locks: Arc::new(Budget::new(b.lock_ranges, b.connections)),
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
        // 240 units for 4 connections: floors of 30 each (120), a pool of 120.
        let b = Arc::new(Budget::new(240, 4));
        assert_eq!(b.floor(), 30);
        let mut a = Share::new(&b);
        // Alone: its floor and half the pool.
        assert_eq!(a.take(90), Ok(()));
        assert_eq!(a.take(1), Err(Over::Share));
        let mut c = Share::new(&b);
        // Two: the floor and a third of the pool each, counted when asking.
        assert_eq!(c.take(70), Ok(()));
        assert_eq!(c.take(1), Err(Over::Share));
        let mut d = Share::new(&b);
        assert_eq!(d.take(30 + 20), Ok(()));
        assert_eq!(d.take(1), Err(Over::Total));
        assert_eq!(b.used(), 210);
        // The pool is gone, and still a newcomer has its floor.
        let mut e = Share::new(&b);
        assert_eq!(e.take(30), Ok(()));
        assert_eq!(e.take(1), Err(Over::Total));
        drop(c);
        // What c held of the pool is there for the others again.
        assert_eq!(e.take(24), Ok(()));
        assert_eq!(d.take(1), Ok(()));
        assert_eq!(a.take(0), Ok(()));
        assert_eq!(b.used(), 30 + 60 + 30 + 21 + 54);
        d.force(100);
        assert!(e.take(1).is_err());
        d.give(1000);
        assert_eq!(d.held(), 0);
        drop((a, d, e));
        assert_eq!(b.used(), 0);
    }

    /// However many greedy connections came first, each taking all it may, a newcomer
    /// still gets its floor (it got nothing before the floors: three took everything).
    #[test]
    fn greedy_connections_leave_every_newcomer_its_floor() {
        let b = Arc::new(Budget::new(1024, 8));
        let mut greedy = Vec::new();
        for _ in 0..7 {
            let mut s = Share::new(&b);
            while s.take(1).is_ok() {}
            greedy.push(s);
        }
        let mut last = Share::new(&b);
        assert_eq!(last.take(b.floor()), Ok(()));
        assert_eq!(b.floor(), 64);
    }
}
