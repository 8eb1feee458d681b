//! [`NoOwnership`]: QEMU's `none` model as a layer over a backend.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use confined_fs::{Credentials, Name};
use rustix::fs::{OFlags, XattrFlags};
use rustix::io::Errno;

use super::filter_names;
use crate::backend::{Attr, Backend, FsStats, NewEntry, Node, SetTime};

/// QEMU's `none` model over a backend: creations are made as the server's own user,
/// then given to the client's uid/gid with a chown whose failure is ignored; POSIX ACLs
/// are not supported (`EOPNOTSUPP`, and not listed). Everything else passes through.
#[derive(Debug)]
pub struct NoOwnership(pub Arc<dyn Backend>);

impl NoOwnership {
    fn give(&self, dir: &Node, name: Name, creds: Option<Credentials>) {
        let Some(creds) = creds else {
            return;
        };
        if let Ok(node) = self.0.walk(dir, name) {
            if let Err(e) = self
                .0
                .chown(&node, Some(creds.uid.as_raw()), Some(creds.gid.as_raw()))
            {
                tracing::trace!(errno = %e, "none model: ownership of a new file not changed");
            }
        }
    }

    fn no_acl(name: &[u8]) -> Result<(), Errno> {
        if name.starts_with(b"system.posix_acl_") {
            return Err(Errno::OPNOTSUPP);
        }
        Ok(())
    }
}

impl Backend for NoOwnership {
    forward!(
        0;
        act_as, actor, root, lookup, walk, open, link, rename, unlink, chmod, chown, truncate, utimens,
        readlink, statfs, getattr, hidden_names, dirent_types
    );

    fn create(&self, new: NewEntry, flags: OFlags, mode: u32) -> Result<(Node, OwnedFd), Errno> {
        let NewEntry { dir, name, creds } = new;
        let r = self.0.create(NewEntry::as_server(dir, name), flags, mode)?;
        self.give(dir, name, creds);
        Ok(r)
    }
    fn mkdir(&self, new: NewEntry, mode: u32) -> Result<Attr, Errno> {
        let NewEntry { dir, name, creds } = new;
        self.0.mkdir(NewEntry::as_server(dir, name), mode)?;
        self.give(dir, name, creds);
        self.0.getattr(&self.0.walk(dir, name)?)
    }
    fn mknod(&self, new: NewEntry, mode: u32, rdev: u64) -> Result<Attr, Errno> {
        let NewEntry { dir, name, creds } = new;
        self.0.mknod(NewEntry::as_server(dir, name), mode, rdev)?;
        self.give(dir, name, creds);
        self.0.getattr(&self.0.walk(dir, name)?)
    }
    fn symlink(&self, new: NewEntry, target: &[u8]) -> Result<Attr, Errno> {
        let NewEntry { dir, name, creds } = new;
        self.0.symlink(NewEntry::as_server(dir, name), target)?;
        self.give(dir, name, creds);
        self.0.getattr(&self.0.walk(dir, name)?)
    }
    fn getxattr(&self, node: &Node, name: &[u8]) -> Result<Vec<u8>, Errno> {
        Self::no_acl(name)?;
        self.0.getxattr(node, name)
    }
    fn listxattr(&self, node: &Node) -> Result<Vec<u8>, Errno> {
        let list = self.0.listxattr(node)?;
        Ok(filter_names(&list, |name| {
            Self::no_acl(name).is_ok().then_some(name)
        }))
    }
    fn setxattr(&self, node: &Node, name: &[u8], value: &[u8], f: XattrFlags) -> Result<(), Errno> {
        Self::no_acl(name)?;
        self.0.setxattr(node, name, value, f)
    }
    fn removexattr(&self, node: &Node, name: &[u8]) -> Result<(), Errno> {
        Self::no_acl(name)?;
        self.0.removexattr(node, name)
    }
}
