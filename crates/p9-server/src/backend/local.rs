//! The in-process backend: the export opened with `confined-fs`, every operation
//! fd-relative on the nodes' `O_PATH` fds, confined exactly like the proxy helper
//! (`openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` lookups of validated names,
//! final symlinks never followed, special files never opened, creations under the
//! client's credentials when running as root).

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use confined_fs::{Actor, Export, ExportOptions, Name};
use rustix::fs::{AtFlags, Mode, OFlags, Timestamps, XattrFlags};
use rustix::io::Errno;

use super::{Attr, Backend, NewEntry, Node, SetTime};
use crate::path;

/// Serves a directory of this machine in-process.
#[derive(Debug)]
pub struct LocalBackend {
    export: Export,
    root: Node,
}

impl LocalBackend {
    /// Opens the export directory `dir`.
    pub fn new(dir: impl AsRef<Path>) -> Result<LocalBackend, Errno> {
        let export = Export::new(dir, ExportOptions::default())?;
        let root_fd = export.root_fd().try_clone_to_owned().map_err(|e| {
            e.raw_os_error()
                .map(Errno::from_raw_os_error)
                .unwrap_or(Errno::IO)
        })?;
        Ok(LocalBackend {
            export,
            root: Node::new(path::ROOT.to_vec(), root_fd),
        })
    }

    /// The confined export this backend works on.
    pub fn export(&self) -> &Export {
        &self.export
    }

    /// The attributes of `name` in `dir`, not following a symlink.
    fn stat_at(dir: &Node, name: Name) -> Result<Attr, Errno> {
        rustix::fs::statat(dir.fd(), name.as_bytes(), AtFlags::SYMLINK_NOFOLLOW)
            .map(|st| Attr::from(&st))
    }
}

impl Backend for LocalBackend {
    fn act_as(&self, who: &Arc<Actor>) -> Result<(), Errno> {
        // The connection thread's own fsuid, fsgid and groups: every syscall it makes
        // next (lookups, opens, writes, chmod...) is checked by the kernel as `who`.
        confined_fs::act_as(Some(who))
    }

    fn root(&self) -> Result<Node, Errno> {
        Ok(self.root.clone())
    }

    fn lookup(&self, p: &[u8]) -> Result<Node, Errno> {
        if p == path::ROOT {
            return Ok(self.root.clone());
        }
        let fd = self
            .export
            .resolve(p, OFlags::PATH | OFlags::NOFOLLOW, Mode::empty())?;
        Ok(Node::new(p.to_vec(), fd))
    }

    fn walk(&self, dir: &Node, name: Name) -> Result<Node, Errno> {
        let fd = self.export.lookup_at(dir.fd(), name)?;
        Ok(Node::new(path::join(dir.path(), name), fd))
    }

    fn open(&self, node: &Node, flags: OFlags) -> Result<OwnedFd, Errno> {
        self.export.open_node(node.fd(), flags)
    }

    fn create(&self, new: NewEntry, flags: OFlags, mode: u32) -> Result<(Node, OwnedFd), Errno> {
        let NewEntry { dir, name, creds } = new;
        let fd = self.export.create_at(dir.fd(), name, flags, mode, creds)?;
        let opath = self.export.path_fd(fd.as_fd())?;
        Ok((Node::new(path::join(dir.path(), name), opath), fd))
    }

    fn mkdir(&self, new: NewEntry, mode: u32) -> Result<Attr, Errno> {
        let NewEntry { dir, name, creds } = new;
        self.export.mkdir_at(dir.fd(), name, mode, creds)?;
        Self::stat_at(dir, name)
    }

    fn mknod(&self, new: NewEntry, mode: u32, rdev: u64) -> Result<Attr, Errno> {
        let NewEntry { dir, name, creds } = new;
        self.export.mknod_at(dir.fd(), name, mode, rdev, creds)?;
        Self::stat_at(dir, name)
    }

    fn symlink(&self, new: NewEntry, target: &[u8]) -> Result<Attr, Errno> {
        let NewEntry { dir, name, creds } = new;
        self.export.symlink_at(dir.fd(), name, target, creds)?;
        Self::stat_at(dir, name)
    }

    fn link(&self, node: &Node, dir: &Node, name: Name) -> Result<(), Errno> {
        self.export.link_at(node.fd(), dir.fd(), name)
    }

    fn rename(&self, from_dir: &Node, from: Name, to_dir: &Node, to: Name) -> Result<(), Errno> {
        self.export.rename_at(from_dir.fd(), from, to_dir.fd(), to)
    }

    fn unlink(&self, dir: &Node, name: Name, remove_dir: bool) -> Result<(), Errno> {
        self.export.unlink_at(dir.fd(), name, remove_dir)
    }

    fn chmod(&self, node: &Node, mode: u32) -> Result<(), Errno> {
        self.export.chmod_node(node.fd(), mode)
    }

    fn chown(&self, node: &Node, uid: Option<u32>, gid: Option<u32>) -> Result<(), Errno> {
        self.export.chown_node(node.fd(), uid, gid)
    }

    fn truncate(&self, node: &Node, size: u64) -> Result<(), Errno> {
        self.export.truncate_node(node.fd(), size)
    }

    fn utimens(&self, node: &Node, atime: SetTime, mtime: SetTime) -> Result<(), Errno> {
        let times = Timestamps {
            last_access: atime.timespec(),
            last_modification: mtime.timespec(),
        };
        self.export.utimens_node(node.fd(), &times)
    }

    fn getxattr(&self, node: &Node, name: &[u8]) -> Result<Vec<u8>, Errno> {
        self.export.getxattr_node(node.fd(), name)
    }

    fn getxattrs(&self, node: &Node, names: &[&[u8]]) -> Vec<Result<Vec<u8>, Errno>> {
        match self.export.getxattrs_node(node.fd(), names) {
            Ok(values) => values,
            Err(e) => names.iter().map(|_| Err(e)).collect(),
        }
    }

    fn listxattr(&self, node: &Node) -> Result<Vec<u8>, Errno> {
        self.export.listxattr_node(node.fd())
    }

    fn setxattr(
        &self,
        node: &Node,
        name: &[u8],
        value: &[u8],
        flags: XattrFlags,
    ) -> Result<(), Errno> {
        self.export.setxattr_node(node.fd(), name, value, flags)
    }

    fn removexattr(&self, node: &Node, name: &[u8]) -> Result<(), Errno> {
        self.export.removexattr_node(node.fd(), name)
    }
}
