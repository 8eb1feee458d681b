//! The [`Backend`] trait: what the server asks of the file system, and what it does
//! itself.
//!
//! Every fid holds a [`Node`]: its path relative to the export (`/`-separated bytes, as
//! the proxy protocol wants them: `/` is the root, `/a/b` a file) **and** an `O_PATH` fd
//! of its inode. Backends hand out fds; the server then does everything that needs no
//! privilege or path resolution on those fds itself, with no backend round trip:
//! metadata reads (`getattr` is an `fstat` of the node's fd), reads, writes, readdir,
//! fsync and locks (on fds from [`Backend::open`]/[`Backend::create`]).
//!
//! Two backends implement it, and layers wrap either ([`readonly`], [`idmap`], [`mapped`]):
//! - [`LocalBackend`](crate::backend::local::LocalBackend), in-process, confined with
//!   `confined-fs` (fd-relative `openat2(RESOLVE_IN_ROOT)` lookups of validated names,
//!   `AT_SYMLINK_NOFOLLOW`, special files never opened, per-thread credentials).
//! - [`ProxyBackend`](crate::backend::proxy::ProxyBackend), speaking the proxy protocol
//!   to privileged helpers, which hand back fds over `SCM_RIGHTS`: to ours by fd and one
//!   name (`LookupAt`, `CreateAt`...: the node's or its directory's fd travels with
//!   the request), to QEMU's C helper by [`Node::path`] (`walk` is
//!   `T_OPEN(join(dir.path, name), O_PATH | O_NOFOLLOW)`).
//!
//! Names given to the backend are [`Name`]s: single components that only
//! `confined_fs::check_name` makes (never `.`, `..`, empty, or holding `/` or NUL), so no
//! backend checks them again. `..` never reaches a backend as a name: the server walks it
//! by looking up the parent *path* ([`Backend::lookup`]), and stays at the root at the
//! root.

/// Implements the listed [`Backend`] methods of a layer type by passing them to the
/// backend it wraps (`self.$inner`), so that a layer writes only what it changes and no
/// hook is forgotten in one of them: `forward!(inner; root, walk, getattr)` inside an
/// `impl Backend for Layer`.
macro_rules! forward {
    ($inner:tt; $($method:ident),* $(,)?) => { $( forward!(@ $inner $method); )* };
    (@ $i:tt root) => { fn root(&self) -> Result<Node, Errno> { self.$i.root() } };
    (@ $i:tt act_as) => {
        fn act_as(
            &self,
            who: &std::sync::Arc<confined_fs::Actor>,
        ) -> Result<(), Errno> {
            self.$i.act_as(who)
        }
    };
    (@ $i:tt actor) => {
        fn actor(&self, client: confined_fs::Actor) -> Result<confined_fs::Actor, Errno> {
            self.$i.actor(client)
        }
    };
    (@ $i:tt lookup) => {
        fn lookup(&self, path: &[u8]) -> Result<Node, Errno> { self.$i.lookup(path) }
    };
    (@ $i:tt walk) => {
        fn walk(&self, dir: &Node, name: confined_fs::Name) -> Result<Node, Errno> { self.$i.walk(dir, name) }
    };
    (@ $i:tt open) => {
        fn open(&self, node: &Node, flags: OFlags) -> Result<OwnedFd, Errno> {
            self.$i.open(node, flags)
        }
    };
    (@ $i:tt link) => {
        fn link(&self, node: &Node, dir: &Node, name: confined_fs::Name) -> Result<(), Errno> {
            self.$i.link(node, dir, name)
        }
    };
    (@ $i:tt rename) => {
        fn rename(&self, od: &Node, on: confined_fs::Name, nd: &Node, nn: confined_fs::Name) -> Result<(), Errno> {
            self.$i.rename(od, on, nd, nn)
        }
    };
    (@ $i:tt unlink) => {
        fn unlink(&self, dir: &Node, name: confined_fs::Name, remove_dir: bool) -> Result<(), Errno> {
            self.$i.unlink(dir, name, remove_dir)
        }
    };
    (@ $i:tt chmod) => {
        fn chmod(&self, node: &Node, mode: u32) -> Result<(), Errno> { self.$i.chmod(node, mode) }
    };
    (@ $i:tt chown) => {
        fn chown(&self, node: &Node, uid: Option<u32>, gid: Option<u32>) -> Result<(), Errno> {
            self.$i.chown(node, uid, gid)
        }
    };
    (@ $i:tt truncate) => {
        fn truncate(&self, node: &Node, size: u64) -> Result<(), Errno> {
            self.$i.truncate(node, size)
        }
    };
    (@ $i:tt utimens) => {
        fn utimens(&self, node: &Node, atime: SetTime, mtime: SetTime) -> Result<(), Errno> {
            self.$i.utimens(node, atime, mtime)
        }
    };
    (@ $i:tt getxattr) => {
        fn getxattr(&self, node: &Node, name: &[u8]) -> Result<Vec<u8>, Errno> {
            self.$i.getxattr(node, name)
        }
    };
    (@ $i:tt getxattrs) => {
        fn getxattrs(&self, node: &Node, names: &[&[u8]]) -> Vec<Result<Vec<u8>, Errno>> {
            self.$i.getxattrs(node, names)
        }
    };
    (@ $i:tt listxattr) => {
        fn listxattr(&self, node: &Node) -> Result<Vec<u8>, Errno> { self.$i.listxattr(node) }
    };
    (@ $i:tt setxattr) => {
        fn setxattr(
            &self,
            node: &Node,
            name: &[u8],
            value: &[u8],
            flags: XattrFlags,
        ) -> Result<(), Errno> {
            self.$i.setxattr(node, name, value, flags)
        }
    };
    (@ $i:tt removexattr) => {
        fn removexattr(&self, node: &Node, name: &[u8]) -> Result<(), Errno> {
            self.$i.removexattr(node, name)
        }
    };
    (@ $i:tt readlink) => {
        fn readlink(&self, node: &Node) -> Result<Vec<u8>, Errno> { self.$i.readlink(node) }
    };
    (@ $i:tt statfs) => {
        fn statfs(&self, node: &Node) -> Result<FsStats, Errno> { self.$i.statfs(node) }
    };
    (@ $i:tt getattr) => {
        fn getattr(&self, node: &Node) -> Result<Attr, Errno> { self.$i.getattr(node) }
    };
    (@ $i:tt hidden_names) => {
        fn hidden_names(&self) -> &'static [&'static [u8]] { self.$i.hidden_names() }
    };
    (@ $i:tt dirent_types) => {
        fn dirent_types(&self) -> bool { self.$i.dirent_types() }
    };
}

pub mod idmap;
pub mod local;
pub mod mapped;
pub mod proxy;
pub mod readonly;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use confined_fs::{Actor, Credentials, Name};
use rustix::fs::{OFlags, XattrFlags};
use rustix::io::Errno;

use crate::path;

/// A file of the export as a fid holds it: its path relative to the export and an
/// `O_PATH` fd of its inode, both shared between clones of the fid (a clone costs the
/// same whatever the path's length).
#[derive(Debug, Clone)]
pub struct Node {
    path: Arc<[u8]>,
    fd: Arc<OwnedFd>,
}

impl Node {
    /// A node for `path` (`/`-separated, starting with `/`) whose inode `fd` refers to
    /// (an `O_PATH` fd, or any fd of that inode).
    pub fn new(path: Vec<u8>, fd: OwnedFd) -> Node {
        Node {
            path: path.into(),
            fd: Arc::new(fd),
        }
    }

    /// The path relative to the export: `/` for the root, `/a/b` below it.
    pub fn path(&self) -> &[u8] {
        &self.path
    }

    /// The path, shared.
    pub(crate) fn shared_path(&self) -> Arc<[u8]> {
        Arc::clone(&self.path)
    }

    /// The fd of the inode.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Whether this is the export root.
    pub fn is_root(&self) -> bool {
        *self.path == *path::ROOT
    }

    /// Renames the node (after a rename of it or of a directory above it).
    pub(crate) fn set_path(&mut self, path: Arc<[u8]>) {
        self.path = path;
    }

    /// The same inode under another path (for a walk that did not move, e.g. `..` at
    /// the root).
    pub(crate) fn with_path(&self, path: Vec<u8>) -> Node {
        Node {
            path: path.into(),
            fd: Arc::clone(&self.fd),
        }
    }
}

/// The attributes of a file, as `stat(2)` gives them: what `getattr` answers and qids
/// are made of: the proxy protocol's stat, so the proxy backend passes the helper's
/// through unchanged.
pub type Attr = proxy_protocol::Stat;

/// What the server asks of an [`Attr`] beyond its fields.
pub trait AttrExt: Sized {
    /// `fstat` of `fd` (works on `O_PATH` fds).
    fn of(fd: BorrowedFd<'_>) -> Result<Self, Errno>;
    /// Whether this is a directory.
    fn is_dir(&self) -> bool;
}

impl AttrExt for Attr {
    fn of(fd: BorrowedFd<'_>) -> Result<Attr, Errno> {
        rustix::fs::fstat(fd).map(|st| Attr::from(&st))
    }

    fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }
}

/// File system statistics, as `Rstatfs` carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct FsStats {
    pub fs_type: u32,
    pub bsize: u32,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub fsid: u64,
    pub namelen: u32,
}

/// What a creation (create, mkdir, mknod, symlink) makes: the name `name` in the
/// directory `dir`, and whose it becomes: `creds`, or the server's own (`None`: no
/// credential switch, what the mapped models create as). The id maps
/// ([`idmap::IdMapped`]) turn the client's ids into host ids on the way down.
#[derive(Debug, Clone, Copy)]
pub struct NewEntry<'a> {
    /// The directory.
    pub dir: &'a Node,
    /// The name in it.
    pub name: Name<'a>,
    /// Whose the new file becomes (`None`: the server's).
    pub creds: Option<Credentials>,
}

impl<'a> NewEntry<'a> {
    /// `name` in `dir`, made as `creds`.
    pub fn new(dir: &'a Node, name: Name<'a>, creds: Credentials) -> NewEntry<'a> {
        NewEntry {
            dir,
            name,
            creds: Some(creds),
        }
    }

    /// `name` in `dir`, made as the server itself.
    pub fn as_server(dir: &'a Node, name: Name<'a>) -> NewEntry<'a> {
        NewEntry {
            dir,
            name,
            creds: None,
        }
    }
}

/// One timestamp to set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetTime {
    /// Leave it as it is (`UTIME_OMIT`).
    Omit,
    /// The current time (`UTIME_NOW`).
    Now,
    /// This time: seconds and nanoseconds since the epoch.
    At(i64, i64),
}

impl SetTime {
    /// As a `timespec` for `utimensat(2)`.
    pub fn timespec(self) -> rustix::fs::Timespec {
        let (tv_sec, tv_nsec) = match self {
            SetTime::Omit => (0, rustix::fs::UTIME_OMIT),
            SetTime::Now => (0, rustix::fs::UTIME_NOW),
            SetTime::At(s, ns) => (s, ns as _),
        };
        rustix::fs::Timespec { tv_sec, tv_nsec }
    }
}

/// The file system operations of a 9P server that need path resolution, privilege or
/// credentials: everything else the server does itself on the fds handed out here.
///
/// Errors are errnos, answered to the client as `Rlerror`. Implementations must be
/// confined to their export: nothing here may reach outside it, whatever the names
/// and however the tree changes meanwhile.
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// Makes the operations the calling thread asks for next act as `who` (a host
    /// identity, after [`Backend::actor`]): the kernel then checks every permission as
    /// for that user. Called before every request that names a fid, with the identity
    /// the fid acts as; cheap when the thread already acts so. No default: a layer
    /// that forgets it must not compile.
    fn act_as(&self, who: &Arc<Actor>) -> Result<(), Errno>;

    /// The identity a client identity acts as here: the id maps and squash turn the
    /// client's ids into host ids ([`idmap`]). By default unchanged.
    fn actor(&self, client: Actor) -> Result<Actor, Errno> {
        Ok(client)
    }

    /// The export root (path `/`). Called at every attach: should be cheap.
    fn root(&self) -> Result<Node, Errno>;

    /// Looks up `path` (from the root, `/`-separated, as in [`Node::path`]) without
    /// following a final symlink. Used to walk `..` (by the parent's path) and to find
    /// the parent directory of a fid for `remove` and `rename`.
    fn lookup(&self, path: &[u8]) -> Result<Node, Errno>;

    /// Looks up the validated name `name` in the directory `dir`, without following it
    /// if it is a symlink.
    fn walk(&self, dir: &Node, name: Name) -> Result<Node, Errno>;

    /// Opens the file or directory `node` with host `flags` (`O_CREAT`/`O_EXCL` are never
    /// passed). Devices, FIFOs and sockets are never opened (`ENXIO`), symlinks neither
    /// (`ELOOP`).
    fn open(&self, node: &Node, flags: OFlags) -> Result<OwnedFd, Errno>;

    /// Creates the regular file `new` with `mode`, opened with host `flags`; returns its
    /// node and the open fd.
    fn create(&self, new: NewEntry, flags: OFlags, mode: u32) -> Result<(Node, OwnedFd), Errno>;

    /// Makes the directory `new`; returns its attributes.
    fn mkdir(&self, new: NewEntry, mode: u32) -> Result<Attr, Errno>;

    /// Makes the node `new`: `mode` holds the type (`S_IFCHR`, `S_IFBLK`,
    /// `S_IFIFO`, `S_IFSOCK`, `S_IFREG`) and permission bits; returns its attributes.
    fn mknod(&self, new: NewEntry, mode: u32, rdev: u64) -> Result<Attr, Errno>;

    /// Makes the symlink `new` pointing at `target` (stored as given); returns its
    /// attributes.
    fn symlink(&self, new: NewEntry, target: &[u8]) -> Result<Attr, Errno>;

    /// Links `node` (a symlink itself, not its target) as `name` in `dir`.
    fn link(&self, node: &Node, dir: &Node, name: Name) -> Result<(), Errno>;

    /// Renames `from_dir/from` to `to_dir/to`.
    fn rename(&self, from_dir: &Node, from: Name, to_dir: &Node, to: Name) -> Result<(), Errno>;

    /// Removes `name` from `dir`: a directory (which must be empty) if `remove_dir`,
    /// else anything but a directory.
    fn unlink(&self, dir: &Node, name: Name, remove_dir: bool) -> Result<(), Errno>;

    /// Sets the permission bits of `node` (following nothing: a symlink node is
    /// `EOPNOTSUPP`, as on Linux).
    fn chmod(&self, node: &Node, mode: u32) -> Result<(), Errno>;

    /// Changes the owner and/or group of `node` itself (`None`: unchanged).
    fn chown(&self, node: &Node, uid: Option<u32>, gid: Option<u32>) -> Result<(), Errno>;

    /// Truncates the regular file `node` to `size`.
    fn truncate(&self, node: &Node, size: u64) -> Result<(), Errno>;

    /// Sets the access and modification times of `node` itself.
    fn utimens(&self, node: &Node, atime: SetTime, mtime: SetTime) -> Result<(), Errno>;

    /// The value of the xattr `name` of `node`, whole.
    fn getxattr(&self, node: &Node, name: &[u8]) -> Result<Vec<u8>, Errno>;

    /// The values of several xattrs of `node`, each whole or its error (what the mapped
    /// security models read at every getattr). By default one [`Backend::getxattr`]
    /// each; a backend that can read them together (one reopen of the node) does.
    fn getxattrs(&self, node: &Node, names: &[&[u8]]) -> Vec<Result<Vec<u8>, Errno>> {
        names.iter().map(|n| self.getxattr(node, n)).collect()
    }

    /// The NUL-separated names of the xattrs of `node`.
    fn listxattr(&self, node: &Node) -> Result<Vec<u8>, Errno>;

    /// Sets the xattr `name` of `node`.
    fn setxattr(
        &self,
        node: &Node,
        name: &[u8],
        value: &[u8],
        flags: XattrFlags,
    ) -> Result<(), Errno>;

    /// Removes the xattr `name` of `node`.
    fn removexattr(&self, node: &Node, name: &[u8]) -> Result<(), Errno>;

    /// The target of the symlink `node`. By default read from the node's `O_PATH` fd,
    /// which needs no privilege (`readlinkat(fd, "")`).
    fn readlink(&self, node: &Node) -> Result<Vec<u8>, Errno> {
        match rustix::fs::readlinkat(node.fd(), "", Vec::new()) {
            Err(Errno::NOENT) => Err(Errno::INVAL),
            r => Ok(r?.into_bytes()),
        }
    }

    /// Statistics of the file system holding `node`. By default `fstatfs` on the
    /// node's fd, which needs no privilege.
    fn statfs(&self, node: &Node) -> Result<FsStats, Errno> {
        fs_stats(node.fd())
    }

    /// The attributes the client sees of `node` (getattr, and the qids of walks and
    /// attaches). By default one `fstat` of the node's fd: the passthrough fast path.
    /// The mapped security models overlay the client's owner, mode and device number,
    /// which they keep in xattrs or metadata files ([`mapped`]).
    fn getattr(&self, node: &Node) -> Result<Attr, Errno> {
        Attr::of(node.fd())
    }

    /// Names the client never sees in any directory: readdir skips them, and the
    /// backend refuses to walk to, create, link, rename or remove them. By default none
    /// (the mapped models hide their metadata, [`mapped::META_DIR`] and
    /// [`mapped::META_ROOT_FILE`]).
    fn hidden_names(&self) -> &'static [&'static [u8]] {
        &[]
    }

    /// Whether readdir reports the host's entry types (`d_type`). The mapped models
    /// answer `DT_UNKNOWN`, as QEMU does: the type the client sees is kept in metadata.
    fn dirent_types(&self) -> bool {
        true
    }
}

/// `fstatfs` of `fd` (an `O_PATH` fd will do) as [`FsStats`].
pub fn fs_stats(fd: BorrowedFd<'_>) -> Result<FsStats, Errno> {
    let st = rustix::fs::fstatfs(fd)?;
    let fsid = rustix::fs::fstatvfs(fd)?.f_fsid;
    Ok(FsStats {
        fs_type: st.f_type as u32,
        bsize: st.f_bsize as u32,
        blocks: st.f_blocks,
        bfree: st.f_bfree,
        bavail: st.f_bavail,
        files: st.f_files,
        ffree: st.f_ffree,
        fsid,
        namelen: st.f_namelen as u32,
    })
}
