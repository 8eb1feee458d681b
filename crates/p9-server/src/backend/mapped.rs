//! The security models of QEMU's `local` backend (`-fsdev local,security_model=...`), as
//! layers over any backend, with QEMU's on-disk formats so one export reads the same
//! whether our server or QEMU serves it.
//!
//! - `passthrough`: files belong to the client's uid/gid on the host (the backends as
//!   they are; no layer).
//! - `mapped-xattr` ([`Mapped`] with [`MetaStore::Xattr`]): the server needs no
//!   privilege. Host files are created as the server's user, regular files and the
//!   stand-ins of devices and symlinks with mode 0600 (`SM_LOCAL_MODE_BITS`), directories
//!   0700 (`SM_LOCAL_DIR_MODE_BITS`); the client's uid, gid, mode (with the file type)
//!   and device number live in the xattrs `user.virtfs.uid`, `.gid`, `.mode` (4 bytes
//!   each, little-endian) and `.rdev` (8 bytes, little-endian). A symlink is a regular
//!   file holding its target; a device, FIFO or socket is an empty regular file.
//!   getattr overlays what is there; chmod and chown only rewrite it.
//! - `mapped-file` ([`Mapped`] with [`MetaStore::File`]): the same values as text
//!   (`virtfs.uid=%d\n`, `virtfs.gid=`, `virtfs.mode=`, `virtfs.rdev=`, only those that
//!   are set, in that order) in `DIR/.virtfs_metadata/NAME` (directory 0700, files 0600),
//!   and for the export root in `.virtfs_metadata_root`. Renames, links and removals
//!   carry the metadata file along.
//! - `none` ([`NoOwnership`]): like passthrough, but creations are made as the server's
//!   own user and then handed to the client's uid/gid with a chown whose failure is
//!   ignored (so an unprivileged server works, and files are the server's); POSIX ACLs
//!   are not supported.
//!
//! In both mapped models the client can never reach the metadata (the CVE-2017-7493
//! class): the names `.virtfs_metadata` and `.virtfs_metadata_root` are hidden from
//! readdir and refused (`EINVAL`, as QEMU) by walk, create, mkdir, mknod, symlink, link,
//! rename and unlink; xattrs under `user.virtfs.` are hidden from listxattr, read as
//! `ENODATA` and refused as `EACCES` on set and remove; POSIX ACLs
//! (`system.posix_acl_access`/`_default`) are kept as `user.virtfs.system.posix_acl_*`
//! (as QEMU's mapped model does), other namespaces than `user.` are `EOPNOTSUPP`. QEMU
//! applies the name and xattr rules to `mapped-file` and `mapped-xattr` respectively;
//! we apply both to both models.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use confined_fs::{Actor, Credentials, Name};
use rustix::fs::{OFlags, XattrFlags};
use rustix::io::Errno;

use super::{Attr, Backend, FsStats, Node, SetTime};
use crate::path;

/// QEMU's `security_model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityModel {
    /// Files belong to the client's ids on the host (needs root for other ids).
    #[default]
    Passthrough,
    /// Ids, modes and device numbers in `user.virtfs.*` xattrs.
    MappedXattr,
    /// Ids, modes and device numbers in `.virtfs_metadata` files.
    MappedFile,
    /// Like passthrough, with ownership changes of creations best effort.
    None,
}

impl SecurityModel {
    /// Every model.
    pub const ALL: [SecurityModel; 4] = [
        SecurityModel::Passthrough,
        SecurityModel::MappedXattr,
        SecurityModel::MappedFile,
        SecurityModel::None,
    ];

    /// The name QEMU gives it.
    pub fn name(self) -> &'static str {
        match self {
            SecurityModel::Passthrough => "passthrough",
            SecurityModel::MappedXattr => "mapped-xattr",
            SecurityModel::MappedFile => "mapped-file",
            SecurityModel::None => "none",
        }
    }

    /// Whether the client's ids are kept in metadata rather than in the host's owners.
    pub fn is_mapped(self) -> bool {
        matches!(self, SecurityModel::MappedXattr | SecurityModel::MappedFile)
    }

    /// `backend` under this model.
    pub fn wrap(self, backend: Arc<dyn Backend>) -> Arc<dyn Backend> {
        match self {
            SecurityModel::Passthrough => backend,
            SecurityModel::MappedXattr => Arc::new(Mapped::new(backend, MetaStore::Xattr)),
            SecurityModel::MappedFile => Arc::new(Mapped::new(backend, MetaStore::File)),
            SecurityModel::None => Arc::new(NoOwnership(backend)),
        }
    }
}

impl std::fmt::Display for SecurityModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for SecurityModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "passthrough" => SecurityModel::Passthrough,
            // QEMU takes "mapped" as "mapped-xattr".
            "mapped-xattr" | "mapped" => SecurityModel::MappedXattr,
            "mapped-file" => SecurityModel::MappedFile,
            "none" => SecurityModel::None,
            _ => {
                return Err(format!(
                    "unknown security model {s:?} (passthrough, mapped-xattr, mapped-file, none)"
                ))
            }
        })
    }
}

/// The metadata directory of the mapped-file model, in every directory with entries
/// that have metadata.
pub const META_DIR: &[u8] = b".virtfs_metadata";
/// The metadata file of the export root in the mapped-file model.
pub const META_ROOT_FILE: &[u8] = b".virtfs_metadata_root";
/// The xattr holding the client's uid (4 bytes, little-endian).
pub const XATTR_UID: &[u8] = b"user.virtfs.uid";
/// The xattr holding the client's gid (4 bytes, little-endian).
pub const XATTR_GID: &[u8] = b"user.virtfs.gid";
/// The xattr holding the client's mode, file type included (4 bytes, little-endian).
pub const XATTR_MODE: &[u8] = b"user.virtfs.mode";
/// The xattr holding the client's device number (8 bytes, little-endian `dev_t`).
pub const XATTR_RDEV: &[u8] = b"user.virtfs.rdev";
/// The reserved xattr prefix.
pub const XATTR_PREFIX: &[u8] = b"user.virtfs.";
/// Host mode of regular files and stand-ins (QEMU's `SM_LOCAL_MODE_BITS`).
pub const FILE_MODE: u32 = 0o600;
/// Host mode of directories (QEMU's `SM_LOCAL_DIR_MODE_BITS`).
pub const DIR_MODE: u32 = 0o700;

const HIDDEN: &[&[u8]] = &[META_DIR, META_ROOT_FILE];
/// [`META_DIR`] and [`META_ROOT_FILE`] as the names the backends take, checked when this
/// compiles.
const META_DIR_NAME: Name<'static> = fixed_name(META_DIR);
const META_ROOT_NAME: Name<'static> = fixed_name(META_ROOT_FILE);

const fn fixed_name(name: &'static [u8]) -> Name<'static> {
    match confined_fs::check_name(name) {
        Ok(n) => n,
        Err(_) => panic!("a fixed name is not a valid name"),
    }
}
const ACL_NAMES: &[&[u8]] = &[b"system.posix_acl_access", b"system.posix_acl_default"];
/// The server's own identity for host creations (no credential switch).
const AS_SERVER: Credentials = Credentials { uid: 0, gid: 0 };

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

/// Where the mapped models keep the client's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaStore {
    /// `user.virtfs.*` xattrs (mapped-xattr).
    Xattr,
    /// `.virtfs_metadata` files (mapped-file).
    File,
}

/// What the client sees of a file, where it differs from the host (QEMU's `FsCred`,
/// `None` for -1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meta {
    /// Owner.
    pub uid: Option<u32>,
    /// Group.
    pub gid: Option<u32>,
    /// Mode with the file type.
    pub mode: Option<u32>,
    /// Device number.
    pub rdev: Option<u64>,
}

impl Meta {
    /// What a creation by `creds` records: owner, group, `mode` (with the file type) and
    /// the device number of a device.
    fn created(creds: Credentials, mode: u32, rdev: Option<u64>) -> Meta {
        Meta {
            uid: Some(creds.uid),
            gid: Some(creds.gid),
            mode: Some(mode),
            rdev,
        }
    }

    /// `other`'s values where it has them, ours elsewhere.
    fn merge(self, other: Meta) -> Meta {
        Meta {
            uid: other.uid.or(self.uid),
            gid: other.gid.or(self.gid),
            mode: other.mode.or(self.mode),
            rdev: other.rdev.or(self.rdev),
        }
    }

    /// Overlays the values on host attributes.
    pub fn apply(self, a: &mut Attr) {
        if let Some(v) = self.uid {
            a.uid = v;
        }
        if let Some(v) = self.gid {
            a.gid = v;
        }
        if let Some(v) = self.mode {
            a.mode = v;
        }
        if let Some(v) = self.rdev {
            a.rdev = v;
        }
    }

    /// The mapped-file text, exactly as QEMU's `fprintf("virtfs.uid=%d\n", ...)` writes
    /// it (ids and mode as C `int`, the device number truncated to an `int`).
    pub fn to_file_text(self) -> Vec<u8> {
        let mut s = String::new();
        if let Some(v) = self.uid {
            s += &format!("virtfs.uid={}\n", v as i32);
        }
        if let Some(v) = self.gid {
            s += &format!("virtfs.gid={}\n", v as i32);
        }
        if let Some(v) = self.mode {
            s += &format!("virtfs.mode={}\n", v as i32);
        }
        if let Some(v) = self.rdev {
            s += &format!("virtfs.rdev={}\n", v as u32 as i32);
        }
        s.into_bytes()
    }

    /// Parses a mapped-file text as QEMU does (`strncmp` of the key, `atoi` of what
    /// follows); anything else is ignored.
    pub fn from_file_text(text: &[u8]) -> Meta {
        let mut m = Meta::default();
        for line in text.split(|&c| c == b'\n') {
            let at = |n: usize| atoi(line.get(n..).unwrap_or(&[]));
            if line.starts_with(b"virtfs.uid") {
                m.uid = Some(at(11) as u32);
            } else if line.starts_with(b"virtfs.gid") {
                m.gid = Some(at(11) as u32);
            } else if line.starts_with(b"virtfs.mode") {
                m.mode = Some(at(12) as u32);
            } else if line.starts_with(b"virtfs.rdev") {
                // An int widened to dev_t, as QEMU assigns it.
                m.rdev = Some(at(12) as i64 as u64);
            }
        }
        m
    }

    /// The values as QEMU's `local_set_xattrat` stores them: `(name, bytes)`.
    pub fn to_xattrs(self) -> Vec<(&'static [u8], Vec<u8>)> {
        let mut v = Vec::new();
        if let Some(x) = self.uid {
            v.push((XATTR_UID, x.to_le_bytes().to_vec()));
        }
        if let Some(x) = self.gid {
            v.push((XATTR_GID, x.to_le_bytes().to_vec()));
        }
        if let Some(x) = self.mode {
            v.push((XATTR_MODE, x.to_le_bytes().to_vec()));
        }
        if let Some(x) = self.rdev {
            v.push((XATTR_RDEV, x.to_le_bytes().to_vec()));
        }
        v
    }
}

/// C's `atoi` on bytes: leading blanks, a sign, digits (wrapping like the int it is).
fn atoi(s: &[u8]) -> i32 {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut n: i64 = 0;
    while let Some(d) = s.get(i).filter(|c| c.is_ascii_digit()) {
        n = (n * 10 + i64::from(d - b'0')) & 0xffff_ffff_ffff;
        i += 1;
    }
    let n = if neg { -n } else { n };
    n as i32
}

/// A little-endian value of at most `N` bytes, zero-extended (QEMU reads into a
/// `uid_t`/`dev_t` and takes any non-empty value; a longer one fails with `ERANGE`).
fn le<const N: usize>(v: &[u8]) -> Option<[u8; N]> {
    if v.is_empty() || v.len() > N {
        return None;
    }
    let mut b = [0u8; N];
    b[..v.len()].copy_from_slice(v);
    Some(b)
}

fn ignore_enoent(r: Result<(), Errno>) -> Result<(), Errno> {
    match r {
        Err(Errno::NOENT) => Ok(()),
        r => r,
    }
}

/// Refuses the mapped models' reserved names.
fn check_visible(name: Name<'_>) -> Result<(), Errno> {
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
pub struct Mapped {
    inner: Arc<dyn Backend>,
    store: MetaStore,
}

impl std::fmt::Debug for Mapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapped")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
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
        let mut values = self
            .inner
            .getxattrs(node, &[XATTR_UID, XATTR_GID, XATTR_MODE, XATTR_RDEV])
            .into_iter()
            .map(Result::ok);
        let mut next = || values.next().flatten();
        let u32_of = |v: Option<Vec<u8>>| v.and_then(|v| le::<4>(&v)).map(u32::from_le_bytes);
        Meta {
            uid: u32_of(next()),
            gid: u32_of(next()),
            mode: u32_of(next()),
            rdev: next().and_then(|v| le::<8>(&v)).map(u64::from_le_bytes),
        }
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
        match self.inner.mkdir(dir, META_DIR_NAME, DIR_MODE, AS_SERVER) {
            Ok(_) | Err(Errno::EXIST) => self.inner.walk(dir, META_DIR_NAME),
            Err(e) => Err(e),
        }
    }

    /// The metadata file of `name` in `dir`, if there is one.
    fn meta_file_in(&self, dir: &Node, name: Name<'_>) -> Result<Option<Node>, Errno> {
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
    fn set_meta_at(&self, dir: &Node, name: Option<Name<'_>>, update: Meta) -> Result<(), Errno> {
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
                    &mdir,
                    fname,
                    OFlags::WRONLY | OFlags::TRUNC,
                    FILE_MODE,
                    AS_SERVER,
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
        name: Name<'_>,
        meta: Meta,
        is_dir: bool,
    ) -> Result<Attr, Errno> {
        let done = self
            .set_meta_at(dir, Some(name), meta)
            .and_then(|()| self.inner.walk(dir, name));
        match done {
            Ok(node) => {
                let mut a = super::AttrExt::of(node.fd())?;
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
    fn unlink_meta(&self, dir: &Node, name: Name<'_>, is_dir: bool) -> Result<(), Errno> {
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
        let mut a = super::AttrExt::of(node.fd())?;
        self.meta(node).apply(&mut a);
        Ok(a.mode)
    }

    /// Host xattr name for a client's, or the error QEMU's mapped model answers.
    fn host_xattr<'n>(name: &'n [u8], on_reserved: Errno) -> Result<HostName<'n>, Errno> {
        if name.starts_with(XATTR_PREFIX) {
            return Err(on_reserved);
        }
        if ACL_NAMES.contains(&name) {
            let mut n = XATTR_PREFIX.to_vec();
            n.extend_from_slice(name);
            return Ok(HostName::Mapped(n));
        }
        if name.starts_with(b"user.") {
            return Ok(HostName::Same(name));
        }
        Err(Errno::OPNOTSUPP)
    }
}

enum HostName<'n> {
    Same(&'n [u8]),
    Mapped(Vec<u8>),
}

impl HostName<'_> {
    fn get(&self) -> &[u8] {
        match self {
            HostName::Same(n) => n,
            HostName::Mapped(n) => n,
        }
    }
}

/// A NUL-separated xattr name list with each name replaced by what `show` makes of it
/// (`None`: left out).
fn filter_names<'l>(list: &'l [u8], show: impl Fn(&'l [u8]) -> Option<&'l [u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(list.len());
    for name in list.split(|&c| c == 0).filter(|n| !n.is_empty()) {
        if let Some(shown) = show(name) {
            out.extend_from_slice(shown);
            out.push(0);
        }
    }
    out
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

    fn walk(&self, dir: &Node, name: Name<'_>) -> Result<Node, Errno> {
        check_visible(name)?;
        self.inner.walk(dir, name)
    }

    fn create(
        &self,
        dir: &Node,
        name: Name<'_>,
        flags: OFlags,
        mode: u32,
        creds: Credentials,
    ) -> Result<(Node, OwnedFd), Errno> {
        check_visible(name)?;
        // Only a file this call makes gets the client's metadata (an existing one opened
        // without O_EXCL keeps its own).
        let created = self
            .inner
            .create(dir, name, flags | OFlags::EXCL, FILE_MODE, AS_SERVER);
        let (node, fd) = match created {
            Err(Errno::EXIST) if !flags.contains(OFlags::EXCL) => {
                return self.inner.create(dir, name, flags, FILE_MODE, AS_SERVER)
            }
            r => r?,
        };
        let meta = Meta::created(creds, (mode & 0o7777) | libc::S_IFREG, None);
        self.finish_create(dir, name, meta, false)?;
        Ok((node, fd))
    }

    fn mkdir(
        &self,
        dir: &Node,
        name: Name<'_>,
        mode: u32,
        creds: Credentials,
    ) -> Result<Attr, Errno> {
        check_visible(name)?;
        self.inner.mkdir(dir, name, DIR_MODE, AS_SERVER)?;
        let meta = Meta::created(creds, mode | libc::S_IFDIR, None);
        self.finish_create(dir, name, meta, true)
    }

    fn mknod(
        &self,
        dir: &Node,
        name: Name<'_>,
        mode: u32,
        rdev: u64,
        creds: Credentials,
    ) -> Result<Attr, Errno> {
        check_visible(name)?;
        let ty = mode & S_IFMT;
        let mode = match ty {
            0 => mode | libc::S_IFREG,
            libc::S_IFREG | libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO | libc::S_IFSOCK => mode,
            _ => return Err(Errno::INVAL),
        };
        self.inner
            .mknod(dir, name, libc::S_IFREG | FILE_MODE, 0, AS_SERVER)?;
        let meta = Meta::created(creds, mode, Some(rdev));
        self.finish_create(dir, name, meta, false)
    }

    fn symlink(
        &self,
        dir: &Node,
        name: Name<'_>,
        target: &[u8],
        creds: Credentials,
    ) -> Result<Attr, Errno> {
        check_visible(name)?;
        if target.contains(&0) {
            return Err(Errno::INVAL);
        }
        let (_, fd) =
            self.inner
                .create(dir, name, OFlags::RDWR | OFlags::EXCL, FILE_MODE, AS_SERVER)?;
        if let Err(e) = write_all(&fd, target) {
            let _ = self.inner.unlink(dir, name, false);
            return Err(e);
        }
        drop(fd);
        let meta = Meta::created(creds, 0o777 | libc::S_IFLNK, None);
        self.finish_create(dir, name, meta, false)
    }

    fn link(&self, node: &Node, dir: &Node, name: Name<'_>) -> Result<(), Errno> {
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

    fn rename(
        &self,
        olddir: &Node,
        oldname: Name<'_>,
        newdir: &Node,
        newname: Name<'_>,
    ) -> Result<(), Errno> {
        check_visible(oldname)?;
        check_visible(newname)?;
        self.inner.rename(olddir, oldname, newdir, newname)?;
        if self.store != MetaStore::File {
            return Ok(());
        }
        let moved = (|| {
            match self.meta_file_in(olddir, oldname)? {
                Some(_) => {
                    let nmdir = self.meta_dir(newdir)?;
                    let omdir = self.inner.walk(olddir, META_DIR_NAME)?;
                    self.inner.rename(&omdir, oldname, &nmdir, newname)
                }
                // No metadata moves in: whatever the replaced file had goes.
                None => match ignore_missing(self.inner.walk(newdir, META_DIR_NAME))? {
                    Some(nmdir) => ignore_enoent(self.inner.unlink(&nmdir, newname, false)),
                    None => Ok(()),
                },
            }
        })();
        if let Err(e) = moved {
            let _ = self.inner.rename(newdir, newname, olddir, oldname);
            return Err(e);
        }
        Ok(())
    }

    fn unlink(&self, dir: &Node, name: Name<'_>, remove_dir: bool) -> Result<(), Errno> {
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
        let host = Self::host_xattr(name, Errno::NODATA)?;
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
        let host = Self::host_xattr(name, Errno::ACCESS)?;
        self.inner.setxattr(node, host.get(), value, flags)
    }

    fn removexattr(&self, node: &Node, name: &[u8]) -> Result<(), Errno> {
        let host = Self::host_xattr(name, Errno::ACCESS)?;
        match (self.inner.removexattr(node, host.get()), &host) {
            // QEMU: removing an ACL that is not there is no error.
            (Err(Errno::NODATA), HostName::Mapped(_)) => Ok(()),
            (r, _) => r,
        }
    }

    fn readlink(&self, node: &Node) -> Result<Vec<u8>, Errno> {
        let a: Attr = super::AttrExt::of(node.fd())?;
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

/// QEMU's `none` model over a backend: creations are made as the server's own user,
/// then given to the client's uid/gid with a chown whose failure is ignored; POSIX ACLs
/// are not supported (`EOPNOTSUPP`, and not listed). Everything else passes through.
pub struct NoOwnership(pub Arc<dyn Backend>);

impl std::fmt::Debug for NoOwnership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoOwnership")
    }
}

impl NoOwnership {
    fn give(&self, dir: &Node, name: Name<'_>, creds: Credentials) {
        if let Ok(node) = self.0.walk(dir, name) {
            if let Err(e) = self.0.chown(&node, Some(creds.uid), Some(creds.gid)) {
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

    fn create(
        &self,
        dir: &Node,
        name: Name<'_>,
        flags: OFlags,
        mode: u32,
        creds: Credentials,
    ) -> Result<(Node, OwnedFd), Errno> {
        let r = self.0.create(dir, name, flags, mode, AS_SERVER)?;
        self.give(dir, name, creds);
        Ok(r)
    }
    fn mkdir(
        &self,
        dir: &Node,
        name: Name<'_>,
        mode: u32,
        creds: Credentials,
    ) -> Result<Attr, Errno> {
        self.0.mkdir(dir, name, mode, AS_SERVER)?;
        self.give(dir, name, creds);
        self.0.getattr(&self.0.walk(dir, name)?)
    }
    fn mknod(
        &self,
        dir: &Node,
        name: Name<'_>,
        mode: u32,
        rdev: u64,
        creds: Credentials,
    ) -> Result<Attr, Errno> {
        self.0.mknod(dir, name, mode, rdev, AS_SERVER)?;
        self.give(dir, name, creds);
        self.0.getattr(&self.0.walk(dir, name)?)
    }
    fn symlink(
        &self,
        dir: &Node,
        name: Name<'_>,
        target: &[u8],
        creds: Credentials,
    ) -> Result<Attr, Errno> {
        self.0.symlink(dir, name, target, AS_SERVER)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_text_round_trip() {
        let m = Meta {
            uid: Some(1000),
            gid: Some(u32::MAX - 1),
            mode: Some(0o20640),
            rdev: Some(rustix::fs::makedev(4, 64)),
        };
        let t = m.to_file_text();
        assert_eq!(
            t,
            b"virtfs.uid=1000\nvirtfs.gid=-2\nvirtfs.mode=8608\nvirtfs.rdev=1088\n"
        );
        assert_eq!(Meta::from_file_text(&t), m);
        assert_eq!(
            Meta::from_file_text(b"virtfs.mode=\nvirtfs.uidx\njunk\n"),
            Meta {
                uid: Some(0),
                mode: Some(0),
                ..Meta::default()
            }
        );
    }

    #[test]
    fn atoi_like_c() {
        assert_eq!(atoi(b" 42\n"), 42);
        assert_eq!(atoi(b"-7x"), -7);
        assert_eq!(atoi(b"+3"), 3);
        assert_eq!(atoi(b""), 0);
        assert_eq!(atoi(b"4294967295"), -1);
        assert_eq!(atoi(&[b'9'; 200]), atoi(&[b'9'; 200]));
    }

    #[test]
    fn xattr_bytes() {
        let m = Meta {
            uid: Some(0x01020304),
            rdev: Some(0x0102),
            ..Meta::default()
        };
        assert_eq!(
            m.to_xattrs(),
            vec![
                (XATTR_UID, vec![4, 3, 2, 1]),
                (XATTR_RDEV, vec![2, 1, 0, 0, 0, 0, 0, 0])
            ]
        );
        assert_eq!(le::<4>(&[1]), Some([1, 0, 0, 0]));
        assert_eq!(le::<4>(&[1, 2, 3, 4, 5]), None);
        assert_eq!(le::<4>(&[]), None);
    }

    #[test]
    fn models_parse() {
        for m in [
            SecurityModel::Passthrough,
            SecurityModel::MappedXattr,
            SecurityModel::MappedFile,
            SecurityModel::None,
        ] {
            assert_eq!(m.name().parse::<SecurityModel>(), Ok(m));
        }
        assert_eq!("mapped".parse(), Ok(SecurityModel::MappedXattr));
        assert!("x".parse::<SecurityModel>().is_err());
    }
}
