//! [`Export`]: the export root, path resolution inside it, and the operations on paths
//! (QEMU's helper requests): each resolves its path (or the path's parent and last name)
//! and calls the fd form of the operation in `at.rs`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{
    self, AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat, StatFs, Timespec, Timestamps,
    XattrFlags,
};
use rustix::io::Errno;

use crate::at::{file_type_of, finish_open, Inode};
use crate::creds::Credentials;
use crate::path::{check_name, split_parent, Last, Name};

/// How many times a lookup is retried when `openat2` reports a racing rename (`EAGAIN`).
const RESOLVE_RETRIES: usize = 16;

/// The largest xattr value or list the kernel hands out (`XATTR_SIZE_MAX`).
pub const XATTR_SIZE_MAX: usize = 64 * 1024;

/// Options of an [`Export`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportOptions {
    /// The export is mounted `nodev` (e.g. by the helper's private mount namespace), so
    /// the kernel itself refuses to open device nodes and the racy pre-check is skipped.
    pub nodev: bool,
    /// Answer `FS_IOC_GETVERSION` with the real generation number (ext*, btrfs, xfs);
    /// otherwise 0, as QEMU's helper does elsewhere.
    pub getversion: bool,
}

/// An export directory: an `O_PATH` fd of its root, and one of `/proc/self/fd` (taken
/// before any chroot) to act on `O_PATH` fds where Linux has no `f*` call.
#[derive(Debug)]
pub struct Export {
    root: OwnedFd,
    proc_fd: OwnedFd,
    opts: ExportOptions,
}

fn is_reg_or_dir(fd: BorrowedFd<'_>) -> Result<bool, Errno> {
    Ok(matches!(
        file_type_of(fd)?,
        FileType::RegularFile | FileType::Directory
    ))
}

/// An xattr name the path operations are asked for: one with a NUL is `EINVAL`, before
/// the path is looked up (as the kernel's `l*xattr` copy the name first).
fn xattr_name(name: &[u8]) -> Result<(), Errno> {
    if name.contains(&0) {
        return Err(Errno::INVAL);
    }
    Ok(())
}

impl Export {
    /// Opens the export at `path` (which must be a directory) and `/proc/self/fd`.
    pub fn new(path: impl AsRef<Path>, opts: ExportOptions) -> Result<Export, Errno> {
        let root = fs::open(
            path.as_ref(),
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let proc_fd = fs::open(
            "/proc/self/fd",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Export {
            root,
            proc_fd,
            opts,
        })
    }

    /// The root directory fd (`O_PATH`).
    pub fn root_fd(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// The `/proc/self/fd` directory fd, to act on `O_PATH` fds by their number.
    pub(crate) fn proc_dir(&self) -> BorrowedFd<'_> {
        self.proc_fd.as_fd()
    }

    /// The export's options.
    pub fn options(&self) -> ExportOptions {
        self.opts
    }

    /// Changes whether the export is known to be mounted `nodev`.
    pub fn set_nodev(&mut self, nodev: bool) {
        self.opts.nodev = nodev;
    }

    /// Resolves `path` inside the export: `..`, absolute paths and symlinks never leave
    /// it. An empty path is `ENOENT`, as for `open(2)`; `/` is the root.
    pub fn resolve(&self, path: &[u8], flags: OFlags, mode: Mode) -> Result<OwnedFd, Errno> {
        self.resolve_at(self.root.as_fd(), path, flags, mode)
    }

    /// Resolves `path` from `dir`, an fd of a directory inside the export, with the
    /// export root as the root: the 9P server walks from its fids with this.
    pub fn resolve_at(
        &self,
        dir: BorrowedFd<'_>,
        path: &[u8],
        flags: OFlags,
        mode: Mode,
    ) -> Result<OwnedFd, Errno> {
        if path.contains(&0) {
            return Err(Errno::INVAL);
        }
        // An empty path names nothing, as for open(2).
        if path.is_empty() {
            return Err(Errno::NOENT);
        }
        // RESOLVE_IN_ROOT scopes to `dir`; a walk from a subdirectory is scoped to it,
        // which is stricter than the export and never looser.
        if path.len() <= MAX_CHUNK {
            return openat2_in_root(dir, path, flags, mode);
        }
        // Longer than the kernel resolves at once: chunks of whole components, each
        // resolved (following symlinks inside it) as a directory with RESOLVE_IN_ROOT
        // from the last one. Each chunk is scoped to where it starts: `..` and absolute
        // symlinks in a later chunk stop there, never above it (stricter, never looser).
        let (mut chunks, last) = chunks(path)?;
        let Some(first) = chunks.next() else {
            return openat2_in_root(dir, last, flags, mode);
        };
        let dir_flags = OFlags::PATH | OFlags::DIRECTORY;
        let mut cur = openat2_in_root(dir, first, dir_flags, Mode::empty())?;
        for chunk in chunks {
            cur = openat2_in_root(cur.as_fd(), chunk, dir_flags, Mode::empty())?;
        }
        openat2_in_root(cur.as_fd(), last, flags, mode)
    }

    /// Resolves the parent directory of `path` and returns it with the last name. A
    /// parent that is the root itself (`/name`, `//name`, `name`) costs no lookup.
    fn parent<'p>(&self, path: &'p [u8]) -> Result<(Dir<'_>, Last<'p>), Errno> {
        let (parent, last) = split_parent(path)?;
        if parent.iter().all(|&c| c == b'/') && matches!(last, Last::Plain(_)) {
            return Ok((Dir::Root(self.root.as_fd()), last));
        }
        if path.is_empty() {
            return Err(Errno::NOENT);
        }
        // `name` or `/` alone: the root.
        let parent: &[u8] = if parent.is_empty() { b"." } else { parent };
        let dir = self.resolve(parent, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())?;
        Ok((Dir::Owned(dir), last))
    }

    /// Like [`Export::parent`], for operations that need a plain name: `.`, `..` and the
    /// root get `on_dir`.
    fn parent_plain<'p>(
        &self,
        path: &'p [u8],
        on_dir: Errno,
    ) -> Result<(Dir<'_>, Name<'p>), Errno> {
        match self.parent(path)? {
            (dir, Last::Plain(name)) => Ok((dir, name)),
            (_, Last::Dir) => Err(on_dir),
        }
    }

    /// An `O_PATH` fd of what `path` names, a final symlink followed inside the export.
    fn followed(&self, path: &[u8]) -> Result<OwnedFd, Errno> {
        self.resolve(path, OFlags::PATH, Mode::empty())
    }

    /// An `O_PATH` fd of what `path` names, a final symlink itself (for the xattr
    /// operations, which Linux has as `l*xattr`).
    fn not_followed(&self, path: &[u8]) -> Result<OwnedFd, Errno> {
        self.resolve(path, OFlags::PATH | OFlags::NOFOLLOW, Mode::empty())
    }

    /// `lstat(path)`.
    pub fn lstat(&self, path: &[u8]) -> Result<Stat, Errno> {
        // A plain name right under the root (`/name`, `name`): one `fstatat` of that name
        // in the root, which walks nothing and follows nothing (one syscall instead of a
        // lookup, a stat and a close). Anything else, trailing slashes included (which
        // follow a final symlink), goes through the confined lookup.
        let first = path.iter().position(|&c| c != b'/').unwrap_or(path.len());
        if let Ok(name) = check_name(&path[first..]) {
            return fs::statat(&self.root, name.as_bytes(), AtFlags::SYMLINK_NOFOLLOW);
        }
        fs::fstat(self.not_followed(path)?)
    }

    /// `statfs(path)` (follows a final symlink, inside the export), with the two
    /// halves of `f_fsid` (which rustix keeps private in `StatFs`).
    pub fn statfs(&self, path: &[u8]) -> Result<(StatFs, [i32; 2]), Errno> {
        self.statfs_node(self.followed(path)?.as_fd())
    }

    /// Opens `path` with the client's `flags` (a final symlink is followed inside the
    /// export, as QEMU's chrooted helper does). `O_CREAT` is ignored (creation needs
    /// credentials: [`Export::create`]); `O_TMPFILE` is refused. Devices, FIFOs and sockets
    /// are never opened (`ENXIO`), except as `O_PATH` handles.
    pub fn open(&self, path: &[u8], flags: i32) -> Result<OwnedFd, Errno> {
        let flags = OFlags::from_bits_retain(flags as u32) & !(OFlags::CREATE | OFlags::EXCL);
        if flags.contains(OFlags::TMPFILE) {
            return Err(Errno::INVAL);
        }
        if flags.contains(OFlags::PATH) {
            let keep = OFlags::PATH | OFlags::NOFOLLOW | OFlags::DIRECTORY;
            return self.resolve(path, flags & keep, Mode::empty());
        }
        if !self.opts.nodev {
            // Without a nodev mount, refuse special files before opening them (racy,
            // hence also checked after; with nodev the kernel refuses devices itself).
            let pre = self.resolve(
                path,
                OFlags::PATH | (flags & OFlags::NOFOLLOW),
                Mode::empty(),
            )?;
            if !is_reg_or_dir(pre.as_fd())? {
                return Err(Errno::NXIO);
            }
        }
        let fd = self.resolve(
            path,
            flags | OFlags::NONBLOCK | OFlags::NOCTTY,
            Mode::empty(),
        )?;
        finish_open(fd, flags)
    }

    /// Creates (or opens, without `O_EXCL`) the regular file `path` as `creds`: its
    /// parent is resolved, then [`Export::create_at`] creates the name exclusively and
    /// never following a symlink; an existing regular file is opened (without
    /// `O_EXCL`), an existing symlink is `ELOOP`, a special file `ENXIO` (never opened).
    pub fn create(
        &self,
        path: &[u8],
        flags: i32,
        mode: u32,
        creds: Credentials,
    ) -> Result<OwnedFd, Errno> {
        let flags = OFlags::from_bits_retain(flags as u32);
        let (dir, name) = self.parent_plain(path, Errno::ISDIR)?;
        self.create_at(dir.as_fd(), name, flags, mode, Some(creds))
    }

    /// `mknod(path, mode, rdev)` as `creds`: devices, FIFOs, sockets, regular files.
    pub fn mknod(
        &self,
        path: &[u8],
        mode: u32,
        rdev: u64,
        creds: Credentials,
    ) -> Result<(), Errno> {
        let (dir, name) = self.parent_plain(path, Errno::EXIST)?;
        self.mknod_at(dir.as_fd(), name, mode, rdev, Some(creds))
    }

    /// `mkdir(path, mode)` as `creds`.
    pub fn mkdir(&self, path: &[u8], mode: u32, creds: Credentials) -> Result<(), Errno> {
        let (dir, name) = self.parent_plain(path, Errno::EXIST)?;
        self.mkdir_at(dir.as_fd(), name, mode, Some(creds))
    }

    /// `symlink(target, path)` as `creds`. The target is stored as given; it is only ever
    /// followed inside the export.
    pub fn symlink(&self, target: &[u8], path: &[u8], creds: Credentials) -> Result<(), Errno> {
        let (dir, name) = self.parent_plain(path, Errno::EXIST)?;
        self.symlink_at(dir.as_fd(), name, target, Some(creds))
    }

    /// `link(oldpath, newpath)`; a final symlink in `oldpath` is linked, not followed.
    pub fn link(&self, oldpath: &[u8], newpath: &[u8]) -> Result<(), Errno> {
        let (odir, oname) = self.parent_plain(oldpath, Errno::PERM)?;
        let (ndir, nname) = self.parent_plain(newpath, Errno::EXIST)?;
        self.link_inode(Inode::At(odir.as_fd(), oname), ndir.as_fd(), nname)
    }

    /// `readlink(path)`, whole.
    pub fn readlink(&self, path: &[u8]) -> Result<Vec<u8>, Errno> {
        let (dir, name) = self.parent_plain(path, Errno::INVAL)?;
        self.readlink_inode(Inode::At(dir.as_fd(), name))
    }

    /// `chmod(path, mode)`: follows a final symlink inside the export, as `chmod` does.
    pub fn chmod(&self, path: &[u8], mode: u32) -> Result<(), Errno> {
        self.chmod_node(self.followed(path)?.as_fd(), mode)
    }

    /// `lchown(path, uid, gid)`; `u32::MAX` leaves an id as it is.
    pub fn chown(&self, path: &[u8], uid: u32, gid: u32) -> Result<(), Errno> {
        let (dir, last) = self.parent(path)?;
        self.chown_inode(inode(&dir, last), Some(uid), Some(gid))
    }

    /// `truncate(path, size)`: follows a final symlink inside the export.
    pub fn truncate(&self, path: &[u8], size: u64) -> Result<(), Errno> {
        self.truncate_node(self.followed(path)?.as_fd(), size)
    }

    /// `utimensat(path, [atime, mtime], AT_SYMLINK_NOFOLLOW)`; `UTIME_NOW`/`UTIME_OMIT`
    /// in a nanoseconds field work as usual.
    pub fn utimens(&self, path: &[u8], atime: (i64, i64), mtime: (i64, i64)) -> Result<(), Errno> {
        let times = Timestamps {
            last_access: Timespec {
                tv_sec: atime.0,
                tv_nsec: atime.1 as _,
            },
            last_modification: Timespec {
                tv_sec: mtime.0,
                tv_nsec: mtime.1 as _,
            },
        };
        let (dir, last) = self.parent(path)?;
        self.utimens_inode(inode(&dir, last), &times)
    }

    /// `rename(oldpath, newpath)`.
    pub fn rename(&self, oldpath: &[u8], newpath: &[u8]) -> Result<(), Errno> {
        let (odir, oname) = self.parent_plain(oldpath, Errno::BUSY)?;
        let (ndir, nname) = self.parent_plain(newpath, Errno::BUSY)?;
        self.rename_at(odir.as_fd(), oname, ndir.as_fd(), nname)
    }

    /// `remove(path)`: unlinks a file, or removes an empty directory.
    pub fn remove(&self, path: &[u8]) -> Result<(), Errno> {
        let (dir, name) = self.parent_plain(path, Errno::BUSY)?;
        match self.unlink_at(dir.as_fd(), name, false) {
            Err(Errno::ISDIR) => self.unlink_at(dir.as_fd(), name, true),
            r => r,
        }
    }

    /// `lgetxattr(path, name)`, whole (at most [`XATTR_SIZE_MAX`] bytes). Symlinks and
    /// special files have no xattrs here (`ENODATA`).
    pub fn getxattr(&self, path: &[u8], name: &[u8]) -> Result<Vec<u8>, Errno> {
        xattr_name(name)?;
        self.getxattr_node(self.not_followed(path)?.as_fd(), name)
    }

    /// `llistxattr(path)`, whole. Symlinks and special files list nothing.
    pub fn listxattr(&self, path: &[u8]) -> Result<Vec<u8>, Errno> {
        self.listxattr_node(self.not_followed(path)?.as_fd())
    }

    /// `lsetxattr(path, name, value, flags)`. Symlinks and special files: `EPERM`.
    pub fn setxattr(
        &self,
        path: &[u8],
        name: &[u8],
        value: &[u8],
        flags: i32,
    ) -> Result<(), Errno> {
        xattr_name(name)?;
        let flags = XattrFlags::from_bits(flags as u32).ok_or(Errno::INVAL)?;
        self.setxattr_node(self.not_followed(path)?.as_fd(), name, value, flags)
    }

    /// `lremovexattr(path, name)`. Symlinks and special files: `ENODATA`.
    pub fn removexattr(&self, path: &[u8], name: &[u8]) -> Result<(), Errno> {
        xattr_name(name)?;
        self.removexattr_node(self.not_followed(path)?.as_fd(), name)
    }

    /// The inode generation number (`FS_IOC_GETVERSION`) where the file system has one,
    /// else 0. Special files: `ENOTTY`.
    pub fn getversion(&self, path: &[u8]) -> Result<u64, Errno> {
        if !self.opts.getversion {
            return Ok(0);
        }
        // Readable for the ioctl, regular files and directories only; `O_NONBLOCK` kept
        // (nothing reads it), so no status-flag change. QEMU asks this after nearly every
        // lookup: 6 syscalls.
        let fd = match self.open_node(
            self.followed(path)?.as_fd(),
            OFlags::RDONLY | OFlags::NONBLOCK,
        ) {
            Err(Errno::NXIO) => return Err(Errno::NOTTY),
            r => r?,
        };
        crate::ioctl::get_version(&fd).map(u64::from)
    }

    /// Whether the file system at `path` supports `FS_IOC_GETVERSION` (by its magic, as
    /// QEMU's helper decides).
    pub fn supports_getversion(path: impl AsRef<Path>) -> bool {
        const EXT2: i64 = 0xEF53;
        const BTRFS: i64 = 0x9123683E;
        const REISERFS: i64 = 0x52654973;
        const XFS: i64 = 0x58465342;
        match fs::statfs(path.as_ref()) {
            Ok(st) => matches!(st.f_type, EXT2 | BTRFS | REISERFS | XFS),
            Err(_) => false,
        }
    }

    /// Stat of an fd, for callers holding one (the 9P server's fids).
    pub fn fstat(fd: impl AsFd) -> Result<Stat, Errno> {
        fs::fstat(fd)
    }
}

/// A detached copy of the mounts at `export`, submounts included
/// (`open_tree(OPEN_TREE_CLONE | AT_RECURSIVE)`): no parent mount, no path to it from
/// outside, so `..` from its root or from any fd on it stays there in every process that
/// gets one. Needs `CAP_SYS_ADMIN`.
pub fn detached_tree(export: &Path) -> Result<OwnedFd, Errno> {
    use rustix::mount::OpenTreeFlags as F;
    rustix::mount::open_tree(
        fs::CWD,
        export,
        F::OPEN_TREE_CLONE | F::OPEN_TREE_CLOEXEC | F::AT_RECURSIVE,
    )
}

/// The longest path resolved in one `openat2` (`PATH_MAX` less its NUL).
const MAX_CHUNK: usize = 4096 - 1;

/// `openat2(dir, path, flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, retried
/// when a racing rename makes it `EAGAIN`.
fn openat2_in_root(
    dir: BorrowedFd<'_>,
    path: &[u8],
    flags: OFlags,
    mode: Mode,
) -> Result<OwnedFd, Errno> {
    let how = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    let mut tries = 0;
    loop {
        match fs::openat2(dir, path, flags | OFlags::CLOEXEC, mode, how) {
            Err(Errno::AGAIN) if tries < RESOLVE_RETRIES => tries += 1,
            r => return r,
        }
    }
}

/// Splits a path longer than [`MAX_CHUNK`] at `/`s into the leading chunks, each at
/// most [`MAX_CHUNK`] bytes of whole components, and the last one (which keeps any
/// trailing `/`). A component longer than a chunk is `ENAMETOOLONG`.
fn chunks(path: &[u8]) -> Result<(impl Iterator<Item = &[u8]>, &[u8]), Errno> {
    let mut cuts = Vec::new();
    let mut start = 0;
    while path.len() - start > MAX_CHUNK {
        // The last `/` within the window ends this chunk (kept in it: `a/b/`).
        let window = &path[start..start + MAX_CHUNK];
        let cut = window
            .iter()
            .rposition(|&c| c == b'/')
            .ok_or(Errno::NAMETOOLONG)?;
        cuts.push(start..start + cut + 1);
        start += cut + 1;
    }
    let last = &path[start..];
    let last = if last.is_empty() { &b"."[..] } else { last };
    Ok((cuts.into_iter().map(move |r| &path[r]), last))
}

/// What a path's resolved parent and last component name, itself if it is a symlink:
/// the name in the directory, or (`.`, `..`, the root) the directory.
fn inode<'a>(dir: &'a Dir<'_>, last: Last<'a>) -> Inode<'a> {
    match last {
        Last::Plain(name) => Inode::At(dir.as_fd(), name),
        Last::Dir => Inode::Fd(dir.as_fd()),
    }
}

/// A resolved parent directory: the export root (borrowed) or a looked-up one.
#[derive(Debug)]
enum Dir<'a> {
    Root(BorrowedFd<'a>),
    Owned(OwnedFd),
}

impl AsFd for Dir<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Dir::Root(fd) => fd.as_fd(),
            Dir::Owned(fd) => fd.as_fd(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_paths_split_at_slashes() {
        let name = [b'd'; 200];
        let mut path = Vec::new();
        for _ in 0..50 {
            path.push(b'/');
            path.extend_from_slice(&name);
        }
        let (leading, last) = chunks(&path).unwrap();
        let leading: Vec<&[u8]> = leading.collect();
        assert!(leading.len() >= 2);
        assert!(leading
            .iter()
            .all(|c| c.len() <= MAX_CHUNK && c.ends_with(b"/")));
        let total: usize = leading.iter().map(|c| c.len()).sum::<usize>() + last.len();
        assert_eq!(total, path.len());
        assert!(last.len() <= MAX_CHUNK && last.ends_with(&name) && !last.starts_with(b"/"));
        // A component as long as a chunk cannot be split.
        assert_eq!(chunks(&[b'x'; 5000]).err(), Some(Errno::NAMETOOLONG));
    }

    #[test]
    fn paths_past_path_max_resolve_inside() {
        let tmp = tempfile::tempdir().unwrap();
        let e = Export::new(tmp.path(), ExportOptions::default()).unwrap();
        let name = vec![b'n'; 250];
        let name = crate::check_name(&name).unwrap();
        let mut path = Vec::new();
        let mut dir = e.resolve(b"/", OFlags::PATH, Mode::empty()).unwrap();
        for _ in 0..40 {
            e.mkdir_at(dir.as_fd(), name, 0o755, Some(Credentials::new(0, 0)))
                .or_else(|err| if err == Errno::PERM { Ok(()) } else { Err(err) })
                .unwrap();
            dir = e.lookup_at(dir.as_fd(), name).unwrap();
            path.push(b'/');
            path.extend_from_slice(name.as_bytes());
        }
        assert!(path.len() > 8192);
        let mut file = path.clone();
        file.extend_from_slice(b"/f");
        let fd = e
            .create(
                &file,
                OFlags::RDWR.bits() as i32,
                0o644,
                Credentials::new(0, 0),
            )
            .unwrap();
        drop(fd);
        e.chmod(&file, 0o600).unwrap();
        assert_eq!(e.lstat(&file).unwrap().st_mode & 0o777, 0o600);
        let mut moved = path.clone();
        moved.extend_from_slice(b"/g");
        e.rename(&file, &moved).unwrap();
        e.remove(&moved).unwrap();
        // `..` at a chunk's start stops there: still inside.
        let mut up = path.clone();
        up.extend_from_slice(&b"/..".repeat(50));
        let fd = e
            .resolve(&up, OFlags::PATH | OFlags::DIRECTORY, Mode::empty())
            .unwrap();
        let st = fs::fstat(&fd).unwrap();
        let outside = fs::stat(tmp.path().parent().unwrap()).unwrap();
        assert!(!(st.st_ino == outside.st_ino && st.st_dev == outside.st_dev));
    }
}
