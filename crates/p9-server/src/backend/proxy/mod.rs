//! The proxy backend: the front end runs unprivileged and asks privileged
//! `virtfs-proxy-helper` processes (ours, or QEMU's C one) for everything that needs path
//! resolution or privilege, over the proxy protocol. Walks are
//! `T_OPEN(path, O_PATH | O_NOFOLLOW)`, so the helper hands the front end `O_PATH` fds and
//! every metadata read (`getattr`), readdir, read and write then costs no helper round
//! trip. [`HelperPool`] spreads requests over a few helper connections and replaces one
//! whose helper died.
//!
//! With our helpers (`identities`), everything after the walk to the root is
//! fd-relative: each request carries the fid's own fd (or its directory's) and a single
//! name (`proxy_protocol`'s requests from `T_LookupAt` on), so it acts on that inode
//! whatever was renamed meanwhile, no path is re-walked and no path length limit
//! applies. QEMU's C helper (`--helper-socket`) gets QEMU's path requests, each checked
//! against the fid's inode first (a window remains there).

mod pool;

pub use pool::{Connector, HelperPool};

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use crate::backend::{Attr, Backend, NewEntry, Node, SetTime};
use crate::path;
use std::sync::Arc;

use confined_fs::{Actor, Credentials, Name};
use proxy_client::{set_thread_identity, Identity, OFlags, Timestamp, XattrFlags};
use rustix::fs::{AtFlags, FileType};
use rustix::io::Errno;

thread_local! {
    /// The identity the calling thread's requests act as, and its `T_AS` form.
    static ACTING: std::cell::RefCell<Option<(Arc<Actor>, Identity)>> =
        const { std::cell::RefCell::new(None) };
}

/// Whether the calling thread acts as root (or was never told otherwise): only then may
/// the front end take a shortcut through its own lookups and opens, since root may do
/// whatever its unprivileged user may. Any other identity may be refused where the front
/// end's user is not (a named-user ACL, a group), so its every lookup goes to a helper.
fn acting_as_root() -> bool {
    ACTING.with(|a| !a.borrow().as_ref().is_some_and(|(who, _)| who.uid != 0))
}

/// The proxy backend: every operation is a request to a helper, by fd (ours) or by path
/// (QEMU's C helper).
#[derive(Debug)]
pub struct ProxyBackend {
    pool: HelperPool,
    /// `/proc/self/fd`, opened at start (before any chroot): reopening our own `O_PATH`
    /// fds there needs no lookup and no helper.
    proc_fd: Option<OwnedFd>,
    /// Whether the helpers are ours: they take identities (`T_AS`) and fd-relative
    /// requests; QEMU's C helper does neither.
    identities: bool,
}

fn timestamp(t: SetTime) -> Timestamp {
    match t {
        SetTime::Omit => Timestamp::Omit,
        SetTime::Now => Timestamp::Now,
        SetTime::At(s, ns) => Timestamp::At {
            sec: s,
            nsec: ns.clamp(0, 999_999_999) as u32,
        },
    }
}

/// The type of the inode behind an fd of ours (an `O_PATH` fd will do).
fn file_type(fd: impl AsFd) -> Result<FileType, Errno> {
    Ok(FileType::from_raw_mode(rustix::fs::fstat(fd)?.st_mode))
}

/// Whether two fds are the same inode.
fn same_inode(a: impl AsFd, b: impl AsFd) -> Result<bool, Errno> {
    let (a, b) = (rustix::fs::fstat(a)?, rustix::fs::fstat(b)?);
    Ok(a.st_dev == b.st_dev && a.st_ino == b.st_ino)
}

const OPATH: OFlags = OFlags::PATH.union(OFlags::NOFOLLOW);

impl ProxyBackend {
    /// A backend on `pool`. Call before any chroot: it opens `/proc/self/fd`.
    pub fn new(pool: HelperPool) -> ProxyBackend {
        let proc_fd = rustix::fs::open(
            "/proc/self/fd",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .ok();
        ProxyBackend {
            pool,
            proc_fd,
            identities: true,
        }
    }

    /// For helpers that know no identities (QEMU's C helper): every operation runs in
    /// QEMU's model (root, the client's ids for creations), so the server must serve
    /// trusted peers only (`Policy::can_switch` false).
    pub fn without_identities(mut self) -> ProxyBackend {
        self.identities = false;
        self
    }

    /// Opens what the unprivileged front end may open itself, saving a helper round trip:
    /// a read-only open of a regular file or directory it has read permission on,
    /// reopened through `/proc/self/fd` from the node's own `O_PATH` fd (same inode, no
    /// lookup, no race). `None`: ask the helper.
    fn open_locally(&self, node: &Node, flags: OFlags) -> Option<OwnedFd> {
        if !acting_as_root() {
            return None;
        }
        let proc_fd = self.proc_fd.as_ref()?;
        let write = OFlags::WRONLY | OFlags::RDWR | OFlags::TRUNC | OFlags::APPEND | OFlags::CREATE;
        if flags.intersects(write) {
            return None;
        }
        let name = node.fd().as_raw_fd().to_string();
        let fd = rustix::fs::openat(
            proc_fd,
            name,
            flags | OFlags::CLOEXEC | OFlags::NOCTTY,
            rustix::fs::Mode::empty(),
        );
        fd.ok()
    }

    /// An `O_PATH` handle of `path`, not following a final symlink.
    fn handle(&self, path: Vec<u8>) -> Result<Node, Errno> {
        let fd = self.pool.call(|c| c.open(&path, OPATH))?;
        Ok(Node::new(path, fd))
    }

    /// Checks that `node`'s path still names `node`'s inode (`ESTALE` if not: renamed
    /// away and replaced, by another client or on the host), before a request that acts
    /// by path changes it. The proxy protocol names files by path only, so a window
    /// remains between this check and the request.
    fn check_inode(&self, node: &Node) -> Result<(), Errno> {
        let now = self.pool.call(|c| c.open(node.path(), OPATH))?;
        if !same_inode(&now, node.fd())? {
            tracing::debug!("the fid's path names another file now");
            return Err(Errno::STALE);
        }
        Ok(())
    }

    fn lstat(&self, path: &[u8]) -> Result<Attr, Errno> {
        self.pool.call(|c| c.lstat(path))
    }
}

/// The ids a creation sends a helper: QEMU's protocol has no "as the helper itself", and
/// `0:0` is what a helper creates as without switching.
fn wire_ids(creds: Option<Credentials>) -> (u32, u32) {
    creds.map_or((0, 0), |c| (c.uid.as_raw(), c.gid.as_raw()))
}

impl Backend for ProxyBackend {
    fn act_as(&self, who: &Arc<Actor>) -> Result<(), Errno> {
        ACTING.with(|a| {
            let mut a = a.borrow_mut();
            if a.as_ref()
                .is_some_and(|(now, _)| Arc::ptr_eq(now, who) || **now == **who)
            {
                return Ok(());
            }
            let id = Identity::new(who.uid, who.gid, &who.groups).map_err(|_| Errno::INVAL)?;
            if !self.identities {
                // QEMU's model for every fid; the policy serves trusted peers only.
                return Ok(());
            }
            // Sent to a helper connection with the next request that reaches it as
            // someone else (proxy_client::acting).
            set_thread_identity(Some(id.clone()));
            *a = Some((Arc::clone(who), id));
            Ok(())
        })
    }

    fn root(&self) -> Result<Node, Errno> {
        self.handle(path::ROOT.to_vec())
    }

    fn lookup(&self, p: &[u8]) -> Result<Node, Errno> {
        self.handle(p.to_vec())
    }

    fn walk(&self, dir: &Node, name: Name) -> Result<Node, Errno> {
        let p = path::join(dir.path(), name);
        // A validated single name, not followed, relative to the directory's own fd: the
        // front end looks it up itself when it may search the directory (no helper round
        // trip); the helper does it when it may not.
        let flags = OPATH | OFlags::CLOEXEC;
        if acting_as_root() {
            match rustix::fs::openat(dir.fd(), name.as_bytes(), flags, rustix::fs::Mode::empty()) {
                Ok(fd) => return Ok(Node::new(p, fd)),
                Err(Errno::ACCESS) | Err(Errno::PERM) => {}
                Err(e) => return Err(e),
            }
        }
        if !self.identities {
            return self.handle(p);
        }
        let fd = self.pool.call(|c| c.lookup_at(dir.fd(), name))?;
        Ok(Node::new(p, fd))
    }

    fn open(&self, node: &Node, flags: OFlags) -> Result<OwnedFd, Errno> {
        // Refuse what a helper must not open (ours refuses too; QEMU's would open it).
        match file_type(node.fd())? {
            FileType::RegularFile | FileType::Directory => {}
            FileType::Symlink => return Err(Errno::LOOP),
            _ => return Err(Errno::NXIO),
        }
        let flags = flags & !(OFlags::CREATE | OFlags::EXCL);
        if let Some(fd) = self.open_locally(node, flags) {
            return Ok(fd);
        }
        if self.identities {
            return self.pool.call(|c| c.open_node(node.fd(), flags));
        }
        let fd = self
            .pool
            .call(|c| c.open(node.path(), flags | OFlags::NOFOLLOW))?;
        // The path may name another file by now (renamed on the host): never hand out
        // an fd of a file other than the fid's.
        if !same_inode(&fd, node.fd())? {
            return Err(Errno::STALE);
        }
        Ok(fd)
    }

    fn create(&self, new: NewEntry, flags: OFlags, mode: u32) -> Result<(Node, OwnedFd), Errno> {
        let NewEntry { dir, name, creds } = new;
        let (uid, gid) = wire_ids(creds);
        let p = path::join(dir.path(), name);
        let mode = mode & 0o7777;
        let fd = if self.identities {
            // Exclusive and never following a symlink (ELOOP), as the local backend.
            self.pool
                .call(|c| c.create_at(dir.fd(), name, flags, mode, uid, gid))?
        } else {
            self.pool.call(|c| c.create(&p, flags, mode, uid, gid))?
        };
        if file_type(&fd)? != FileType::RegularFile {
            return Err(Errno::NXIO);
        }
        // The node's handle is a duplicate of the open fd: same inode, no round trip.
        let handle = rustix::io::fcntl_dupfd_cloexec(&fd, 0)?;
        Ok((Node::new(p, handle), fd))
    }

    fn mkdir(&self, new: NewEntry, mode: u32) -> Result<Attr, Errno> {
        let NewEntry { dir, name, creds } = new;
        let (uid, gid) = wire_ids(creds);
        let mode = mode & 0o7777;
        if self.identities {
            return self
                .pool
                .call(|c| c.mkdir_at(dir.fd(), name, mode, uid, gid));
        }
        let p = path::join(dir.path(), name);
        self.pool.call(|c| c.mkdir(&p, mode, uid, gid))?;
        self.lstat(&p)
    }

    fn mknod(&self, new: NewEntry, mode: u32, rdev: u64) -> Result<Attr, Errno> {
        let NewEntry { dir, name, creds } = new;
        let (uid, gid) = wire_ids(creds);
        if self.identities {
            return self
                .pool
                .call(|c| c.mknod_at(dir.fd(), name, mode, rdev, uid, gid));
        }
        let p = path::join(dir.path(), name);
        self.pool.call(|c| c.mknod(&p, mode, rdev, uid, gid))?;
        self.lstat(&p)
    }

    fn symlink(&self, new: NewEntry, target: &[u8]) -> Result<Attr, Errno> {
        let NewEntry { dir, name, creds } = new;
        let (uid, gid) = wire_ids(creds);
        if self.identities {
            return self
                .pool
                .call(|c| c.symlink_at(dir.fd(), name, target, uid, gid));
        }
        let p = path::join(dir.path(), name);
        self.pool.call(|c| c.symlink(target, &p, uid, gid))?;
        self.lstat(&p)
    }

    fn link(&self, node: &Node, dir: &Node, name: Name) -> Result<(), Errno> {
        if self.identities {
            return self.pool.call(|c| c.link_at(node.fd(), dir.fd(), name));
        }
        let p = path::join(dir.path(), name);
        self.check_inode(node)?;
        self.pool.call(|c| c.link(node.path(), &p))
    }

    fn rename(&self, from_dir: &Node, from: Name, to_dir: &Node, to: Name) -> Result<(), Errno> {
        if self.identities {
            return self
                .pool
                .call(|c| c.rename_at(from_dir.fd(), from, to_dir.fd(), to));
        }
        let (old, new) = (
            path::join(from_dir.path(), from),
            path::join(to_dir.path(), to),
        );
        self.pool.call(|c| c.rename(&old, &new))
    }

    fn unlink(&self, dir: &Node, name: Name, remove_dir: bool) -> Result<(), Errno> {
        if self.identities {
            // The kernel checks the kind asked for (EISDIR, ENOTDIR).
            return self.pool.call(|c| c.unlink_at(dir.fd(), name, remove_dir));
        }
        let p = path::join(dir.path(), name);
        // T_REMOVE removes either kind: check the kind asked for first. Locally when the
        // front end may search the directory, else through the helper.
        let mode = match rustix::fs::statat(dir.fd(), name.as_bytes(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st.st_mode,
            Err(Errno::ACCESS) => self.lstat(&p)?.mode,
            Err(e) => return Err(e),
        };
        let is_dir = FileType::from_raw_mode(mode) == FileType::Directory;
        match (remove_dir, is_dir) {
            (true, false) => Err(Errno::NOTDIR),
            (false, true) => Err(Errno::ISDIR),
            _ => self.pool.call(|c| c.remove(&p)),
        }
    }

    fn chmod(&self, node: &Node, mode: u32) -> Result<(), Errno> {
        if file_type(node.fd())? == FileType::Symlink {
            return Err(Errno::OPNOTSUPP);
        }
        let mode = mode & 0o7777;
        if self.identities {
            return self.pool.call(|c| c.chmod_node(node.fd(), mode));
        }
        self.check_inode(node)?;
        self.pool.call(|c| c.chmod(node.path(), mode))
    }

    fn chown(&self, node: &Node, uid: Option<u32>, gid: Option<u32>) -> Result<(), Errno> {
        let (uid, gid) = (uid.unwrap_or(u32::MAX), gid.unwrap_or(u32::MAX));
        if self.identities {
            return self.pool.call(|c| c.chown_node(node.fd(), uid, gid));
        }
        self.check_inode(node)?;
        self.pool.call(|c| c.chown(node.path(), uid, gid))
    }

    fn truncate(&self, node: &Node, size: u64) -> Result<(), Errno> {
        match file_type(node.fd())? {
            FileType::RegularFile if self.identities => {
                self.pool.call(|c| c.truncate_node(node.fd(), size))
            }
            FileType::RegularFile => {
                self.check_inode(node)?;
                self.pool.call(|c| c.truncate(node.path(), size))
            }
            FileType::Directory => Err(Errno::ISDIR),
            _ => Err(Errno::INVAL),
        }
    }

    fn utimens(&self, node: &Node, atime: SetTime, mtime: SetTime) -> Result<(), Errno> {
        let (atime, mtime) = (timestamp(atime), timestamp(mtime));
        if self.identities {
            return self.pool.call(|c| c.utimens_node(node.fd(), atime, mtime));
        }
        self.check_inode(node)?;
        self.pool.call(|c| c.utimensat(node.path(), atime, mtime))
    }

    fn getxattr(&self, node: &Node, name: &[u8]) -> Result<Vec<u8>, Errno> {
        if self.identities {
            return self.pool.call(|c| c.getxattr_node(node.fd(), name));
        }
        self.pool.call(|c| c.getxattr(node.path(), name))
    }

    fn listxattr(&self, node: &Node) -> Result<Vec<u8>, Errno> {
        if self.identities {
            return self.pool.call(|c| c.listxattr_node(node.fd()));
        }
        self.pool.call(|c| c.listxattr(node.path()))
    }

    fn setxattr(
        &self,
        node: &Node,
        name: &[u8],
        value: &[u8],
        flags: XattrFlags,
    ) -> Result<(), Errno> {
        if self.identities {
            return self
                .pool
                .call(|c| c.setxattr_node(node.fd(), name, value, flags));
        }
        self.check_inode(node)?;
        self.pool
            .call(|c| c.setxattr(node.path(), name, value, flags))
    }

    fn removexattr(&self, node: &Node, name: &[u8]) -> Result<(), Errno> {
        if self.identities {
            return self.pool.call(|c| c.removexattr_node(node.fd(), name));
        }
        self.check_inode(node)?;
        self.pool.call(|c| c.removexattr(node.path(), name))
    }
}
