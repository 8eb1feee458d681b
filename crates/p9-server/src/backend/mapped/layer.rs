//! [`Mapped`]: the mapped-xattr and mapped-file models as a layer over a backend.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use confined_fs::{Actor, Name};
use rustix::fs::{OFlags, XattrFlags};
use rustix::io::Errno;

use super::file_format::{HIDDEN, META_DIR_NAME, META_ROOT_NAME};
use super::xattr_format::{host_xattr, HostName, ACL_NAMES, META_XATTRS};
use super::{filter_names, Meta, MetaStore, DIR_MODE, FILE_MODE, XATTR_PREFIX};
use crate::backend::{Attr, AttrExt, Backend, FsStats, NewEntry, Node, SetTime};
use crate::path;

thread_local! {
    /// The identity the calling thread's requests act as ([`Backend::act_as`]): under
    /// the mapped models the server's own user does the work, and this identity only
    /// decides what the metadata may be changed to ([`Mapped::may_change`]).
    static ACTOR: std::cell::RefCell<Option<Arc<Actor>>> = const { std::cell::RefCell::new(None) };
}

/// The server's own identity, which acts on the host under the mapped models.
fn server_actor() -> &'static Arc<Actor> {
    static SERVER: std::sync::OnceLock<Arc<Actor>> = std::sync::OnceLock::new();
    SERVER.get_or_init(|| Arc::new(Actor::root()))
}

/// The identity the calling thread acts as (root if none was set).
fn current_actor() -> Arc<Actor> {
    ACTOR
        .with(|a| a.borrow().clone())
        .unwrap_or_else(|| Arc::clone(server_actor()))
}
/// Longest metadata file or symlink target read back.
const MAX_META: usize = 4096;

const S_IFMT: u32 = libc::S_IFMT;

fn ignore_enoent(r: Result<(), Errno>) -> Result<(), Errno> {
    match r {
        Err(Errno::NOENT) => Ok(()),
        r => r,
    }
}

/// Refuses the mapped models' reserved names.
fn check_visible(name: Name) -> Result<(), Errno> {
    if HIDDEN.contains(&name.as_bytes()) {
        return Err(Errno::INVAL);
    }
    Ok(())
}

/// Reads a whole small file (at most [`MAX_META`] bytes) from an open fd.
fn read_small(fd: &OwnedFd) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; MAX_META];
    let mut n = 0;
    while n < buf.len() {
        match rustix::io::pread(fd.as_fd(), &mut buf[n..], n as u64)? {
            0 => break,
            k => n += k,
        }
    }
    buf.truncate(n);
    Ok(buf)
}

/// Writes all of `data` at offset 0 of an open fd.
fn write_all(fd: &OwnedFd, data: &[u8]) -> Result<(), Errno> {
    let mut n = 0;
    while n < data.len() {
        match rustix::io::pwrite(fd.as_fd(), &data[n..], n as u64)? {
            0 => return Err(Errno::IO),
            k => n += k,
        }
    }
    Ok(())
}

/// A mapped security model over a backend (see the module documentation).
#[derive(Debug)]
pub struct Mapped {
    inner: Arc<dyn Backend>,
    store: MetaStore,
}

impl Mapped {
    /// `inner` under the mapped model keeping metadata in `store`.
    pub fn new(inner: Arc<dyn Backend>, store: MetaStore) -> Mapped {
        Mapped { inner, store }
    }

    /// The metadata kept for `node` (nothing where there is none or it cannot be read).
    pub fn meta(&self, node: &Node) -> Meta {
        match self.store {
            MetaStore::Xattr => self.xattr_meta(node),
            MetaStore::File => self.file_meta(node).unwrap_or_default(),
        }
    }

    fn xattr_meta(&self, node: &Node) -> Meta {
        // Read together: one reopen of the node for the four (local backend).
        Meta::from_xattrs(self.inner.getxattrs(node, &META_XATTRS))
    }

    /// The directory holding `node`'s metadata file and the file's name there: the
    /// root's is `.virtfs_metadata_root` in the root, others' `.virtfs_metadata/NAME`
    /// in their parent (looked up by path, as QEMU does).
    fn meta_file_of(&self, node: &Node) -> Result<Option<Node>, Errno> {
        if node.is_root() {
            let root = self.inner.root()?;
            return ignore_missing(self.inner.walk(&root, META_ROOT_NAME));
        }
        let name = confined_fs::check_name(path::last(node.path()).ok_or(Errno::INVAL)?)?;
        let dir = self.inner.lookup(path::parent(node.path()))?;
        self.meta_file_in(&dir, name)
    }

    /// The metadata directory of `dir` (mapped-file), made if it is not there.
    fn meta_dir(&self, dir: &Node) -> Result<Node, Errno> {
        match self
            .inner
            .mkdir(NewEntry::as_server(dir, META_DIR_NAME), DIR_MODE)
        {
            Ok(_) | Err(Errno::EXIST) => self.inner.walk(dir, META_DIR_NAME),
            Err(e) => Err(e),
        }
    }

    /// The metadata file of `name` in `dir`, if there is one.
    fn meta_file_in(&self, dir: &Node, name: Name) -> Result<Option<Node>, Errno> {
        let Some(mdir) = ignore_missing(self.inner.walk(dir, META_DIR_NAME))? else {
            return Ok(None);
        };
        ignore_missing(self.inner.walk(&mdir, name))
    }

    fn file_meta(&self, node: &Node) -> Result<Meta, Errno> {
        let Some(file) = self.meta_file_of(node)? else {
            return Ok(Meta::default());
        };
        let fd = self.inner.open(&file, OFlags::RDONLY)?;
        Ok(Meta::from_file_text(&read_small(&fd)?))
    }

    /// Merges `update` into the metadata of `name` in `dir` (`None`: the export root,
    /// with `dir` the root) and writes it back.
    fn set_meta_at(&self, dir: &Node, name: Option<Name>, update: Meta) -> Result<(), Errno> {
        match self.store {
            MetaStore::Xattr => {
                let node = match name {
                    Some(n) => self.inner.walk(dir, n)?,
                    None => dir.clone(),
                };
                for (xname, value) in update.to_xattrs() {
                    self.inner
                        .setxattr(&node, xname, &value, XattrFlags::empty())?;
                }
                Ok(())
            }
            MetaStore::File => {
                let (mdir, fname) = match name {
                    Some(n) => (self.meta_dir(dir)?, n),
                    None => (dir.clone(), META_ROOT_NAME),
                };
                let old = match ignore_missing(self.inner.walk(&mdir, fname))? {
                    Some(f) => {
                        Meta::from_file_text(&read_small(&self.inner.open(&f, OFlags::RDONLY)?)?)
                    }
                    None => Meta::default(),
                };
                let text = old.merge(update).to_file_text();
                let (file, fd) = self.inner.create(
                    NewEntry::as_server(&mdir, fname),
                    OFlags::WRONLY | OFlags::TRUNC,
                    FILE_MODE,
                )?;
                write_all(&fd, &text)?;
                // QEMU makes it 0600 whatever it was.
                self.inner.chmod(&file, FILE_MODE)
            }
        }
    }

    /// Merges `update` into the metadata of `node`.
    fn set_meta(&self, node: &Node, update: Meta) -> Result<(), Errno> {
        if node.is_root() {
            return self.set_meta_at(node, None, update);
        }
        let name = confined_fs::check_name(path::last(node.path()).ok_or(Errno::INVAL)?)?;
        match self.store {
            // The node's own inode: right even for an open-unlinked file.
            MetaStore::Xattr => self.set_meta_at(node, None, update),
            MetaStore::File => {
                let dir = self.inner.lookup(path::parent(node.path()))?;
                self.set_meta_at(&dir, Some(name), update)
            }
        }
    }

    /// After creating `name` in `dir`: records `meta`, or removes the new file and
    /// answers the error.
    fn finish_create(
        &self,
        dir: &Node,
        name: Name,
        meta: Meta,
        is_dir: bool,
    ) -> Result<Attr, Errno> {
        let done = self
            .set_meta_at(dir, Some(name), meta)
            .and_then(|()| self.inner.walk(dir, name));
        match done {
            Ok(node) => {
                let mut a = AttrExt::of(node.fd())?;
                meta.apply(&mut a);
                Ok(a)
            }
            Err(e) => {
                tracing::debug!(errno = %e, "cannot record the metadata of a new file; removing it");
                let _ = self.unlink_meta(dir, name, is_dir);
                let _ = self.inner.unlink(dir, name, is_dir);
                Err(e)
            }
        }
    }

    /// Removes the mapped-file metadata of `name` in `dir` (a directory's own
    /// metadata directory too), tolerating what is not there.
    fn unlink_meta(&self, dir: &Node, name: Name, is_dir: bool) -> Result<(), Errno> {
        if self.store != MetaStore::File {
            return Ok(());
        }
        if is_dir {
            if let Some(child) = ignore_missing(self.inner.walk(dir, name))? {
                ignore_enoent(self.inner.unlink(&child, META_DIR_NAME, true))?;
            }
        }
        if let Some(mdir) = ignore_missing(self.inner.walk(dir, META_DIR_NAME))? {
            ignore_enoent(self.inner.unlink(&mdir, name, false))?;
        }
        Ok(())
    }

    /// The client's type and permission bits of `node` now.
    fn current_mode(&self, node: &Node) -> Result<u32, Errno> {
        let mut a = AttrExt::of(node.fd())?;
        self.meta(node).apply(&mut a);
        Ok(a.mode)
    }
}

fn ignore_missing(r: Result<Node, Errno>) -> Result<Option<Node>, Errno> {
    match r {
        Ok(n) => Ok(Some(n)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

impl Mapped {
    /// Checks what the calling thread's identity may change of `node`'s metadata, as the
    /// kernel would for the owners and modes kept here (the host cannot: the server's
    /// own user owns every file): only root gives a file away or sets explicit times on
    /// another's file; only the owner (or root) changes the mode or the group, and the
    /// group only to one of the owner's groups. Returns the mode to store: a setgid bit
    /// on a file of a group the changer is not in is dropped, as chmod(2) does.
    fn may_change(&self, node: &Node, change: MetaChange) -> Result<Option<u32>, Errno> {
        let who = current_actor();
        if who.uid == 0 {
            return Ok(match change {
                MetaChange::Mode(m) => Some(m),
                _ => None,
            });
        }
        let now = self.getattr(node)?;
        let owner = who.uid == now.uid;
        match change {
            MetaChange::Mode(_) | MetaChange::Times if !owner => Err(Errno::PERM),
            MetaChange::Mode(m) if !who.in_group(now.gid) => Ok(Some(m & !libc::S_ISGID)),
            MetaChange::Mode(m) => Ok(Some(m)),
            MetaChange::Times => Ok(None),
            MetaChange::Owner(uid, gid) => {
                let gives_away = uid.is_some_and(|u| u != now.uid);
                let regroups = gid.is_some_and(|g| g != now.gid);
                if gives_away || (regroups && !(owner && gid.is_some_and(|g| who.in_group(g)))) {
                    return Err(Errno::PERM);
                }
                Ok(None)
            }
        }
    }
}

/// A change of metadata to check with [`Mapped::may_change`].
enum MetaChange {
    /// chmod to this mode (type bits included).
    Mode(u32),
    /// chown (`None`: unchanged).
    Owner(Option<u32>, Option<u32>),
    /// Explicit times.
    Times,
}

impl Backend for Mapped {
    forward!(
        inner;
        root, lookup, open, truncate, statfs
    );

    fn act_as(&self, who: &Arc<Actor>) -> Result<(), Errno> {
        ACTOR.with(|a| *a.borrow_mut() = Some(Arc::clone(who)));
        self.inner.act_as(server_actor())
    }

    fn utimens(&self, node: &Node, atime: SetTime, mtime: SetTime) -> Result<(), Errno> {
        if matches!(atime, SetTime::At(..)) || matches!(mtime, SetTime::At(..)) {
            self.may_change(node, MetaChange::Times)?;
        }
        self.inner.utimens(node, atime, mtime)
    }

    fn walk(&self, dir: &Node, name: Name) -> Result<Node, Errno> {
        check_visible(name)?;
        self.inner.walk(dir, name)
    }

    fn create(&self, new: NewEntry, flags: OFlags, mode: u32) -> Result<(Node, OwnedFd), Errno> {
        let NewEntry { dir, name, creds } = new;
        check_visible(name)?;
        // Only a file this call makes gets the client's metadata (an existing one opened
        // without O_EXCL keeps its own).
        let created = self.inner.create(
            NewEntry::as_server(dir, name),
            flags | OFlags::EXCL,
            FILE_MODE,
        );
        let (node, fd) = match created {
            Err(Errno::EXIST) if !flags.contains(OFlags::EXCL) => {
                return self
                    .inner
                    .create(NewEntry::as_server(dir, name), flags, FILE_MODE)
            }
            r => r?,
        };
        let meta = Meta::created(creds, (mode & 0o7777) | libc::S_IFREG, None);
        self.finish_create(dir, name, meta, false)?;
        Ok((node, fd))
    }

    fn mkdir(&self, new: NewEntry, mode: u32) -> Result<Attr, Errno> {
        let NewEntry { dir, name, creds } = new;
        check_visible(name)?;
        self.inner.mkdir(NewEntry::as_server(dir, name), DIR_MODE)?;
        let meta = Meta::created(creds, mode | libc::S_IFDIR, None);
        self.finish_create(dir, name, meta, true)
    }

    fn mknod(&self, new: NewEntry, mode: u32, rdev: u64) -> Result<Attr, Errno> {
        let NewEntry { dir, name, creds } = new;
        check_visible(name)?;
        let ty = mode & S_IFMT;
        let mode = match ty {
            0 => mode | libc::S_IFREG,
            libc::S_IFREG | libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO | libc::S_IFSOCK => mode,
            _ => return Err(Errno::INVAL),
        };
        self.inner
            .mknod(NewEntry::as_server(dir, name), libc::S_IFREG | FILE_MODE, 0)?;
        let meta = Meta::created(creds, mode, Some(rdev));
        self.finish_create(dir, name, meta, false)
    }

    fn symlink(&self, new: NewEntry, target: &[u8]) -> Result<Attr, Errno> {
        let NewEntry { dir, name, creds } = new;
        check_visible(name)?;
        if target.contains(&0) {
            return Err(Errno::INVAL);
        }
        let (_, fd) = self.inner.create(
            NewEntry::as_server(dir, name),
            OFlags::RDWR | OFlags::EXCL,
            FILE_MODE,
        )?;
        if let Err(e) = write_all(&fd, target) {
            let _ = self.inner.unlink(dir, name, false);
            return Err(e);
        }
        drop(fd);
        let meta = Meta::created(creds, 0o777 | libc::S_IFLNK, None);
        self.finish_create(dir, name, meta, false)
    }

    fn link(&self, node: &Node, dir: &Node, name: Name) -> Result<(), Errno> {
        check_visible(name)?;
        self.inner.link(node, dir, name)?;
        if self.store == MetaStore::File && !node.is_root() {
            let linked = (|| {
                let Some(meta) = self.meta_file_of(node)? else {
                    return Ok(());
                };
                self.inner.link(&meta, &self.meta_dir(dir)?, name)
            })();
            if let Err(e) = linked {
                let _ = self.inner.unlink(dir, name, false);
                return Err(e);
            }
        }
        Ok(())
    }

    fn rename(&self, from_dir: &Node, from: Name, to_dir: &Node, to: Name) -> Result<(), Errno> {
        check_visible(from)?;
        check_visible(to)?;
        self.inner.rename(from_dir, from, to_dir, to)?;
        if self.store != MetaStore::File {
            return Ok(());
        }
        let moved = (|| {
            match self.meta_file_in(from_dir, from)? {
                Some(_) => {
                    let nmdir = self.meta_dir(to_dir)?;
                    let omdir = self.inner.walk(from_dir, META_DIR_NAME)?;
                    self.inner.rename(&omdir, from, &nmdir, to)
                }
                // No metadata moves in: whatever the replaced file had goes.
                None => match ignore_missing(self.inner.walk(to_dir, META_DIR_NAME))? {
                    Some(nmdir) => ignore_enoent(self.inner.unlink(&nmdir, to, false)),
                    None => Ok(()),
                },
            }
        })();
        if let Err(e) = moved {
            let _ = self.inner.rename(to_dir, to, from_dir, from);
            return Err(e);
        }
        Ok(())
    }

    fn unlink(&self, dir: &Node, name: Name, remove_dir: bool) -> Result<(), Errno> {
        check_visible(name)?;
        if self.store == MetaStore::File && remove_dir {
            // A directory's own metadata directory goes first (if it still holds
            // entries, so does the directory: ENOTEMPTY).
            let child = self.inner.walk(dir, name)?;
            ignore_enoent(self.inner.unlink(&child, META_DIR_NAME, true))?;
        }
        self.inner.unlink(dir, name, remove_dir)?;
        self.unlink_meta(dir, name, false)
    }

    fn chmod(&self, node: &Node, mode: u32) -> Result<(), Errno> {
        let ty = self.current_mode(node)? & S_IFMT;
        let mode = self.may_change(node, MetaChange::Mode(ty | (mode & 0o7777)))?;
        self.set_meta(
            node,
            Meta {
                mode,
                ..Meta::default()
            },
        )
    }

    fn chown(&self, node: &Node, uid: Option<u32>, gid: Option<u32>) -> Result<(), Errno> {
        if uid.is_none() && gid.is_none() {
            return Ok(());
        }
        self.may_change(node, MetaChange::Owner(uid, gid))?;
        self.set_meta(
            node,
            Meta {
                uid,
                gid,
                ..Meta::default()
            },
        )
    }

    fn getxattr(&self, node: &Node, name: &[u8]) -> Result<Vec<u8>, Errno> {
        let host = host_xattr(name, Errno::NODATA)?;
        self.inner.getxattr(node, host.get())
    }

    fn listxattr(&self, node: &Node) -> Result<Vec<u8>, Errno> {
        let list = self.inner.listxattr(node)?;
        Ok(filter_names(&list, |name| {
            match name.strip_prefix(XATTR_PREFIX) {
                Some(rest) if ACL_NAMES.contains(&rest) => Some(rest),
                Some(_) => None,
                None => name.starts_with(b"user.").then_some(name),
            }
        }))
    }

    fn setxattr(
        &self,
        node: &Node,
        name: &[u8],
        value: &[u8],
        flags: XattrFlags,
    ) -> Result<(), Errno> {
        let host = host_xattr(name, Errno::ACCESS)?;
        self.inner.setxattr(node, host.get(), value, flags)
    }

    fn removexattr(&self, node: &Node, name: &[u8]) -> Result<(), Errno> {
        let host = host_xattr(name, Errno::ACCESS)?;
        match (self.inner.removexattr(node, host.get()), &host) {
            // QEMU: removing an ACL that is not there is no error.
            (Err(Errno::NODATA), HostName::Mapped(_)) => Ok(()),
            (r, _) => r,
        }
    }

    fn readlink(&self, node: &Node) -> Result<Vec<u8>, Errno> {
        let a: Attr = AttrExt::of(node.fd())?;
        if a.mode & S_IFMT != libc::S_IFREG {
            // A real symlink (made on the host): read as such.
            return self.inner.readlink(node);
        }
        if self.current_mode(node)? & S_IFMT != libc::S_IFLNK {
            return Err(Errno::INVAL);
        }
        read_small(&self.inner.open(node, OFlags::RDONLY)?)
    }

    fn getattr(&self, node: &Node) -> Result<Attr, Errno> {
        let mut a = self.inner.getattr(node)?;
        self.meta(node).apply(&mut a);
        Ok(a)
    }

    fn hidden_names(&self) -> &'static [&'static [u8]] {
        HIDDEN
    }

    fn dirent_types(&self) -> bool {
        false
    }
}
