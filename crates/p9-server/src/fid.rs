//! The fids of one connection: what each refers to and what state it is in, with a
//! per-connection limit.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use confined_fs::{Actor, Credentials};

use rustix::fs::OFlags;
use rustix::io::Errno;

use crate::backend::Node;
use crate::path;
use crate::xattr::XattrWrite;

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
}

/// Whom a fid acts as: decided at its attach by the connection's authority
/// ([`crate::peer::Authority`]) and the backend's id mapping, inherited by every fid
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
        Credentials {
            uid: self.client.uid,
            gid,
        }
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
            crate::lock::unlock_all(fd.as_fd());
        }
    }
}

/// Most bytes of extended attribute values the fids of one connection hold (values read
/// by Txattrwalk, buffers made by Txattrcreate); past it, new ones get `ENOMEM`. Without
/// it, a few bytes of request per fid could make the server hold gigabytes.
pub const XATTR_BUDGET: usize = 16 << 20;

/// The bytes of xattr value `f` holds.
fn xattr_bytes(f: &Fid) -> usize {
    match &f.state {
        FidState::XattrRead(v) => v.len(),
        FidState::XattrWrite(w) => w.size(),
        _ => 0,
    }
}

/// The fid table of one connection.
#[derive(Debug)]
pub struct FidTable {
    fids: HashMap<u32, Fid>,
    max: usize,
    /// The sum of [`xattr_bytes`] over the fids.
    xattr: usize,
}

impl FidTable {
    /// An empty table holding at most `max` fids.
    pub fn new(max: usize) -> FidTable {
        FidTable {
            fids: HashMap::new(),
            max,
            xattr: 0,
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

    /// The fid `fid`, to change (`EBADF` if unknown).
    pub fn get_mut(&mut self, fid: u32) -> Result<&mut Fid, Errno> {
        self.fids.get_mut(&fid).ok_or(Errno::BADF)
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

    /// Adds a new fid (see [`FidTable::check_new`]).
    pub fn insert_new(&mut self, fid: u32, f: Fid) -> Result<(), Errno> {
        self.check_new(fid)?;
        self.xattr += xattr_bytes(&f);
        self.fids.insert(fid, f);
        Ok(())
    }

    /// Sets `fid` to `f`, replacing it if in use (a walk with `newfid == fid`).
    pub fn replace(&mut self, fid: u32, f: Fid) -> Result<(), Errno> {
        if !self.fids.contains_key(&fid) {
            self.check_new(fid)?;
        }
        self.xattr += xattr_bytes(&f);
        if let Some(old) = self.fids.insert(fid, f) {
            self.xattr = self.xattr.saturating_sub(xattr_bytes(&old));
        }
        Ok(())
    }

    /// Sets the state of `fid` (`EBADF` if unknown).
    pub fn set_state(&mut self, fid: u32, state: FidState) -> Result<(), Errno> {
        let f = self.fids.get_mut(&fid).ok_or(Errno::BADF)?;
        self.xattr = self.xattr.saturating_sub(xattr_bytes(f));
        f.state = state;
        self.xattr += xattr_bytes(f);
        Ok(())
    }

    /// Checks that `more` bytes of xattr values still fit in [`XATTR_BUDGET`] (`ENOMEM`
    /// if not).
    pub fn check_xattr_budget(&self, more: usize) -> Result<(), Errno> {
        if self.xattr.saturating_add(more) > XATTR_BUDGET {
            return Err(Errno::NOMEM);
        }
        Ok(())
    }

    /// Removes `fid` and returns it (`EBADF` if unknown).
    pub fn remove(&mut self, fid: u32) -> Result<Fid, Errno> {
        let f = self.fids.remove(&fid).ok_or(Errno::BADF)?;
        self.xattr = self.xattr.saturating_sub(xattr_bytes(&f));
        Ok(f)
    }

    /// Forgets every fid (a new Tversion).
    pub fn clear(&mut self) -> Vec<Fid> {
        self.xattr = 0;
        self.fids.drain().map(|(_, f)| f).collect()
    }

    /// After `from` was renamed to `to`, updates the path of every fid at or below it.
    pub fn rebase(&mut self, from: &[u8], to: &[u8]) {
        for f in self.fids.values_mut() {
            if let Some(p) = path::rebase(f.node.path(), from, to) {
                f.node.set_path(p);
            }
        }
    }
}
