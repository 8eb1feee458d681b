//! [`ReadOnly`]: a read-only export as a type wrapping any backend, rather than checks
//! scattered through the handlers. Every change answers `EROFS`; opens for writing too,
//! so the server's own fd operations (writes, ftruncate) never get a writable fd.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use confined_fs::Name;
use rustix::fs::{OFlags, XattrFlags};
use rustix::io::Errno;

use super::{Attr, Backend, FsStats, NewEntry, Node, SetTime};

/// A backend, read-only.
#[derive(Debug)]
pub struct ReadOnly(pub Arc<dyn Backend>);

const WRITE: OFlags = OFlags::WRONLY
    .union(OFlags::RDWR)
    .union(OFlags::TRUNC)
    .union(OFlags::APPEND)
    .union(OFlags::CREATE);

impl Backend for ReadOnly {
    forward!(
        0;
        act_as, actor, root, lookup, walk, getxattr, getxattrs, listxattr, readlink, statfs, getattr,
        hidden_names, dirent_types
    );

    fn open(&self, node: &Node, flags: OFlags) -> Result<OwnedFd, Errno> {
        if flags.intersects(WRITE) {
            return Err(Errno::ROFS);
        }
        self.0.open(node, flags)
    }
    fn create(&self, _: NewEntry, _: OFlags, _: u32) -> Result<(Node, OwnedFd), Errno> {
        Err(Errno::ROFS)
    }
    fn mkdir(&self, _: NewEntry, _: u32) -> Result<Attr, Errno> {
        Err(Errno::ROFS)
    }
    fn mknod(&self, _: NewEntry, _: u32, _: u64) -> Result<Attr, Errno> {
        Err(Errno::ROFS)
    }
    fn symlink(&self, _: NewEntry, _: &[u8]) -> Result<Attr, Errno> {
        Err(Errno::ROFS)
    }
    fn link(&self, _: &Node, _: &Node, _: Name) -> Result<(), Errno> {
        Err(Errno::ROFS)
    }
    fn rename(&self, _: &Node, _: Name, _: &Node, _: Name) -> Result<(), Errno> {
        Err(Errno::ROFS)
    }
    fn unlink(&self, _: &Node, _: Name, _: bool) -> Result<(), Errno> {
        Err(Errno::ROFS)
    }
    fn chmod(&self, _: &Node, _: u32) -> Result<(), Errno> {
        Err(Errno::ROFS)
    }
    fn chown(&self, _: &Node, _: Option<u32>, _: Option<u32>) -> Result<(), Errno> {
        Err(Errno::ROFS)
    }
    fn truncate(&self, _: &Node, _: u64) -> Result<(), Errno> {
        Err(Errno::ROFS)
    }
    fn utimens(&self, _: &Node, _: SetTime, _: SetTime) -> Result<(), Errno> {
        Err(Errno::ROFS)
    }
    fn setxattr(&self, _: &Node, _: &[u8], _: &[u8], _: XattrFlags) -> Result<(), Errno> {
        Err(Errno::ROFS)
    }
    fn removexattr(&self, _: &Node, _: &[u8]) -> Result<(), Errno> {
        Err(Errno::ROFS)
    }
}
