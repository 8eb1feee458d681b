//! The fids of one connection: what each refers to and what state it is in, with a
//! per-connection limit.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use confined_fs::{Actor, Credentials};

use rustix::fs::OFlags;
use rustix::io::Errno;

use crate::backend::Node;
use crate::engine::budget::{fd_errno, Over, Pools, Share, FID_OVERHEAD};
use crate::engine::lock::{self, Range, MAX_RANGES_PER_FID};
use crate::engine::xattr::XattrWrite;
use crate::path;
use p9_wire::{P9_LOCK_SUCCESS, P9_LOCK_TYPE_UNLCK};

/// One fid.
#[derive(Debug)]
pub struct Fid {
    /// The file it refers to.
    pub node: Node,
    /// Whom it acts as, from the attach it descends from.
    pub acting: Arc<Acting>,
    /// Open or not, and how.
    pub state: FidState,
    /// Whether a lock was ever taken through this fid: its locks are released when it
    /// goes, even if another reference to its open file description lives on (an fd a
    /// proxy helper has not closed yet).
    pub locked: bool,
    /// The ranges it holds locked (counted against the lock budget).
    ranges: crate::engine::lock::Held,
}

/// Whom a fid acts as: decided at its attach by the connection's authority
/// ([`crate::transport::peer::Authority`]) and the backend's id mapping, inherited by every fid
/// walked from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acting {
    /// The ids as the client names them: the owner (and groups) of its creations.
    pub client: Actor,
    /// The host identity its operations run as ([`crate::Backend::act_as`]).
    pub host: Arc<Actor>,
    /// Whether the client may give its creations any group (a trusted peer), or only
    /// its own group or one of its supplementary groups.
    pub any_group: bool,
}

impl Acting {
    /// The credentials of a creation the client asks to give group `gid`: a group that
    /// is not the client's to give becomes its own group, as on the host.
    pub fn creds(&self, gid: u32) -> Credentials {
        let gid = if self.any_group || self.client.in_group(gid) {
            gid
        } else {
            self.client.gid
        };
        Credentials::new(self.client.uid, gid)
    }
}

/// What a fid is doing.
#[derive(Debug)]
pub enum FidState {
    /// Walked to, not opened.
    Walked,
    /// An open regular file, with its (host) open flags.
    File {
        /// The open fd.
        fd: OwnedFd,
        /// How it was opened.
        flags: OFlags,
    },
    /// An open directory, read with Treaddir.
    Dir {
        /// The open fd.
        fd: OwnedFd,
        /// The device it lives on (for the qids of its entries).
        dev: u64,
    },
    /// The value (or name list) of an xattr, read with Tread (from Txattrwalk).
    XattrRead(Vec<u8>),
    /// An xattr being written with Twrite, set at clunk (from Txattrcreate).
    XattrWrite(XattrWrite),
}

impl Fid {
    /// A fid that was walked to.
    pub fn walked(node: Node, acting: Arc<Acting>) -> Fid {
        Fid::new(node, acting, FidState::Walked)
    }

    /// A fid in `state`.
    pub fn new(node: Node, acting: Arc<Acting>, state: FidState) -> Fid {
        Fid {
            node,
            acting,
            state,
            locked: false,
            ranges: crate::engine::lock::Held::default(),
        }
    }

    /// Whether it has been opened (or turned into an xattr fid).
    pub fn is_open(&self) -> bool {
        !matches!(self.state, FidState::Walked)
    }
}

impl Drop for Fid {
    fn drop(&mut self) {
        if !self.locked {
            return;
        }
        if let FidState::File { fd, .. } | FidState::Dir { fd, .. } = &self.state {
            crate::engine::lock::unlock_all(fd.as_fd());
        }
    }
}

/// A fid's cost to each budget (see [`crate::engine::budget`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Cost {
    /// Fds: one for its node, one more while open.
    fds: usize,
    /// Bytes of fid memory: [`FID_OVERHEAD`] and its path.
    memory: usize,
    /// Bytes of xattr value it holds.
    xattr: usize,
    /// Byte ranges it holds locked.
    locks: usize,
}

impl Cost {
    fn of(f: &Fid) -> Cost {
        let (open, xattr) = match &f.state {
            FidState::Walked => (0, 0),
            FidState::File { .. } | FidState::Dir { .. } => (1, 0),
            FidState::XattrRead(v) => (0, v.len()),
            FidState::XattrWrite(w) => (0, w.size()),
        };
        Cost {
            fds: 1 + open,
            memory: FID_OVERHEAD + f.node.path().len(),
            xattr,
            locks: f.ranges.len(),
        }
    }
}

/// The fid table of one connection, with its shares of the server's budgets.
#[derive(Debug)]
pub struct FidTable {
    fids: HashMap<u32, Fid>,
    max: usize,
    fds: Share,
    memory: Share,
    xattr: Share,
    locks: Share,
    /// Whether locks were released since [`FidTable::take_released`] (for waiters).
    released: bool,
}

impl FidTable {
    /// An empty table holding at most `max` fids, drawing on `pools`.
    pub(crate) fn new(max: usize, pools: &Pools) -> FidTable {
        FidTable {
            fids: HashMap::new(),
            max,
            fds: Share::new(&pools.fds),
            memory: Share::new(&pools.fid_memory),
            xattr: Share::new(&pools.xattr),
            locks: Share::new(&pools.locks),
            released: false,
        }
    }

    /// How many fids are in use.
    pub fn len(&self) -> usize {
        self.fids.len()
    }

    /// The fid `fid` (`EBADF` if unknown).
    pub fn get(&self, fid: u32) -> Result<&Fid, Errno> {
        self.fids.get(&fid).ok_or(Errno::BADF)
    }

    /// The state of `fid`, to write into its xattr buffer (never to replace it: that
    /// goes through [`FidTable::set_state`]); `EBADF` if unknown.
    pub fn state_mut(&mut self, fid: u32) -> Result<&mut FidState, Errno> {
        Ok(&mut self.fids.get_mut(&fid).ok_or(Errno::BADF)?.state)
    }

    /// Checks that `fid` could be added: `EEXIST` if it is in use, `EMFILE` past the
    /// limit, `EBADF` for `NOFID`.
    pub fn check_new(&self, fid: u32) -> Result<(), Errno> {
        if fid == p9_wire::NOFID {
            return Err(Errno::BADF);
        }
        if self.fids.contains_key(&fid) {
            return Err(Errno::EXIST);
        }
        if self.fids.len() >= self.max {
            return Err(Errno::MFILE);
        }
        Ok(())
    }

    /// Moves this connection's shares from what `old` costs to what `new` does:
    /// `EMFILE`/`ENFILE` past the fd budget, `ENOMEM` past the memory or xattr ones,
    /// `ENOLCK` past the lock one (nothing changed then).
    fn charge(&mut self, old: Cost, new: Cost) -> Result<(), Errno> {
        if old.locks > new.locks {
            self.released = true;
        }
        fn step(s: &mut Share, old: usize, new: usize) -> Result<(), Over> {
            if new > old {
                s.take(new - old)
            } else {
                s.give(old - new);
                Ok(())
            }
        }
        step(&mut self.fds, old.fds, new.fds).map_err(fd_errno)?;
        if step(&mut self.memory, old.memory, new.memory).is_err() {
            step(&mut self.fds, new.fds, old.fds).ok();
            return Err(Errno::NOMEM);
        }
        if step(&mut self.xattr, old.xattr, new.xattr).is_err() {
            step(&mut self.memory, new.memory, old.memory).ok();
            step(&mut self.fds, new.fds, old.fds).ok();
            return Err(Errno::NOMEM);
        }
        if step(&mut self.locks, old.locks, new.locks).is_err() {
            step(&mut self.xattr, new.xattr, old.xattr).ok();
            step(&mut self.memory, new.memory, old.memory).ok();
            step(&mut self.fds, new.fds, old.fds).ok();
            return Err(Errno::NOLCK);
        }
        Ok(())
    }

    /// Tlock `r` on `fid`'s open file: `P9_LOCK_SUCCESS` or `P9_LOCK_BLOCKED`;
    /// `ENOLCK` if the fid would hold more than [`MAX_RANGES_PER_FID`] ranges or the
    /// connection more than its share of the lock budget (then nothing is asked of the
    /// kernel).
    pub fn lock(&mut self, fid: u32, r: &Range) -> Result<u8, Errno> {
        let f = self.fids.get_mut(&fid).ok_or(Errno::BADF)?;
        if !matches!(f.state, FidState::File { .. } | FidState::Dir { .. }) {
            return Err(Errno::BADF);
        }
        if r.ty != P9_LOCK_TYPE_UNLCK {
            f.locked = true;
        }
        let was_released = self.released;
        let old = Cost::of(f);
        let undo = f.ranges.apply(r);
        let new = Cost::of(f);
        let fits = if new.locks > MAX_RANGES_PER_FID && new.locks > old.locks {
            Err(Errno::NOLCK)
        } else {
            self.charge(old, new)
        };
        let f = self.fids.get_mut(&fid).ok_or(Errno::BADF)?;
        let status = fits.and_then(|()| match &f.state {
            FidState::File { fd, .. } | FidState::Dir { fd, .. } => lock::lock(fd.as_fd(), r),
            _ => Err(Errno::BADF),
        });
        if status != Ok(P9_LOCK_SUCCESS) {
            f.ranges.undo(undo);
            if fits.is_ok() {
                // Back to what it held (gives back, so it cannot fail).
                let back = Cost::of(f);
                let _ = self.charge(new, back);
                self.released = was_released;
            }
        }
        status
    }

    /// Whether any locks were released (unlocked, or their fids gone) since the last
    /// call.
    pub fn take_released(&mut self) -> bool {
        std::mem::take(&mut self.released)
    }

    /// Adds a new fid (see [`FidTable::check_new`]; and the budgets).
    pub fn insert_new(&mut self, fid: u32, f: Fid) -> Result<(), Errno> {
        self.check_new(fid)?;
        self.charge(Cost::default(), Cost::of(&f))?;
        self.fids.insert(fid, f);
        Ok(())
    }

    /// Sets `fid` to `f`, replacing it if in use (a walk with `newfid == fid`).
    pub fn replace(&mut self, fid: u32, f: Fid) -> Result<(), Errno> {
        let old = match self.fids.get(&fid) {
            Some(old) => Cost::of(old),
            None => {
                self.check_new(fid)?;
                Cost::default()
            }
        };
        self.charge(old, Cost::of(&f))?;
        self.fids.insert(fid, f);
        Ok(())
    }

    /// Sets the state of `fid` (`EBADF` if unknown), and its node if `node` is given
    /// (a Tlcreate). If the budgets refuse it, the fid is left as it was.
    pub fn set_state(
        &mut self,
        fid: u32,
        node: Option<Node>,
        state: FidState,
    ) -> Result<(), Errno> {
        let f = self.fids.get_mut(&fid).ok_or(Errno::BADF)?;
        let old_cost = Cost::of(f);
        let old_state = std::mem::replace(&mut f.state, state);
        let old_node = node.map(|n| std::mem::replace(&mut f.node, n));
        let new_cost = Cost::of(f);
        if let Err(e) = self.charge(old_cost, new_cost) {
            let f = self.fids.get_mut(&fid).ok_or(Errno::BADF)?;
            f.state = old_state;
            if let Some(n) = old_node {
                f.node = n;
            }
            return Err(e);
        }
        Ok(())
    }

    /// Checks that `more` bytes of xattr values may still be held by this connection
    /// (`ENOMEM` if not), before they are read or allocated.
    pub fn check_xattr_budget(&mut self, more: usize) -> Result<(), Errno> {
        self.xattr.take(more).map_err(|_| Errno::NOMEM)?;
        self.xattr.give(more);
        Ok(())
    }

    /// Removes `fid` and returns it (`EBADF` if unknown).
    pub fn remove(&mut self, fid: u32) -> Result<Fid, Errno> {
        let f = self.fids.remove(&fid).ok_or(Errno::BADF)?;
        self.charge(Cost::of(&f), Cost::default())?;
        Ok(f)
    }

    /// Forgets every fid (a new Tversion).
    pub fn clear(&mut self) -> Vec<Fid> {
        let (fds, memory, xattr) = (self.fds.held(), self.memory.held(), self.xattr.held());
        self.fds.give(fds);
        self.memory.give(memory);
        self.xattr.give(xattr);
        let locks = self.locks.held();
        self.released |= locks > 0;
        self.locks.give(locks);
        self.fids.drain().map(|(_, f)| f).collect()
    }

    /// After `from` was renamed to `to`, updates the path of every fid at or below it.
    /// Fids that shared a path share the new one; a path that grew is counted whatever
    /// the budget (the rename happened).
    pub fn rebase(&mut self, from: &[u8], to: &[u8]) {
        // Keyed by the old path's address; the old path is kept (alive, so the address
        // stays its own) with the new one.
        type OldNew = (Arc<[u8]>, Arc<[u8]>);
        let mut moved: HashMap<*const u8, OldNew> = HashMap::new();
        let (mut grew, mut shrank) = (0usize, 0usize);
        for f in self.fids.values_mut() {
            let old = f.node.shared_path();
            let new = match moved.get(&old.as_ptr()) {
                Some((_, p)) => Arc::clone(p),
                None => match path::rebase(&old, from, to) {
                    Some(p) => {
                        let p: Arc<[u8]> = p.into();
                        moved.insert(old.as_ptr(), (Arc::clone(&old), Arc::clone(&p)));
                        p
                    }
                    None => continue,
                },
            };
            grew += new.len().saturating_sub(old.len());
            shrank += old.len().saturating_sub(new.len());
            f.node.set_path(new);
        }
        self.memory.force(grew);
        self.memory.give(shrank);
    }
}
