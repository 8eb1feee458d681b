//! Fd-relative operations, for servers that hold an `O_PATH` fd per file (the 9P
//! server's fids): a lookup of one validated name beneath a directory fd, operations on
//! (directory fd, validated name), and operations on the inode of an `O_PATH` fd itself,
//! through `/proc/self/fd` where Linux has no `f*` call that takes one.
//!
//! The fds given here must come from this export (its root, or [`Export::lookup_at`],
//! [`Export::resolve_at`] and friends): a name is only ever looked up one component at a
//! time beneath them, with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` and without
//! following a final symlink, so nothing here can leave the export. As with the path
//! operations, special files are never opened.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::fs::{self, AtFlags, FileType, Mode, OFlags, StatFs, Timestamps, XattrFlags};
use rustix::io::Errno;

use crate::creds::Credentials;
use crate::path::Name;
use crate::root::{Export, XATTR_SIZE_MAX};

/// The `/proc/self/fd` entry naming `fd`.
pub(crate) fn proc_name(fd: BorrowedFd<'_>) -> CString {
    CString::new(fd.as_raw_fd().to_string()).expect("decimal digits have no NUL")
}

pub(crate) fn file_type_of(fd: BorrowedFd<'_>) -> Result<FileType, Errno> {
    Ok(FileType::from_raw_mode(fs::fstat(fd)?.st_mode))
}

/// Checks that an fd opened with `O_NONBLOCK` is a regular file or directory, and gives
/// it the status flags the client asked for.
pub(crate) fn finish_open(fd: OwnedFd, flags: OFlags) -> Result<OwnedFd, Errno> {
    match file_type_of(fd.as_fd())? {
        FileType::RegularFile | FileType::Directory => {}
        _ => return Err(Errno::NXIO),
    }
    status_flags(fd, flags)
}

/// Gives an fd opened with `O_NONBLOCK` the status flags the client asked for (none to
/// change if it asked for `O_NONBLOCK` too).
fn status_flags(fd: OwnedFd, flags: OFlags) -> Result<OwnedFd, Errno> {
    if !flags.contains(OFlags::NONBLOCK) {
        let settable = OFlags::APPEND | OFlags::DIRECT | OFlags::NOATIME;
        fs::fcntl_setfl(&fd, flags & settable)?;
    }
    Ok(fd)
}

/// An inode to act on, itself if it is a symlink: an fd of it (any fd of this export,
/// `O_PATH` included), or a name in a directory, which the path operations have at hand
/// once they resolved the parent (then one `*at` syscall does what takes a lookup, the
/// operation through `/proc/self/fd` and a close from an fd).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Inode<'a> {
    /// An fd of the inode.
    Fd(BorrowedFd<'a>),
    /// A name in a directory, not followed.
    At(BorrowedFd<'a>, Name<'a>),
}

/// Flags a client may not pass to an open of an existing inode.
fn open_flags(flags: OFlags) -> Result<OFlags, Errno> {
    if flags.contains(OFlags::TMPFILE) {
        return Err(Errno::INVAL);
    }
    Ok(flags & !(OFlags::CREATE | OFlags::EXCL | OFlags::PATH | OFlags::NOFOLLOW))
}

impl Export {
    /// Looks up the single name `name` in the directory `dir` without following it if it
    /// is a symlink: an `O_PATH` fd of what it names.
    pub fn lookup_at(&self, dir: BorrowedFd<'_>, name: Name<'_>) -> Result<OwnedFd, Errno> {
        self.resolve_at(
            dir,
            name.as_bytes(),
            OFlags::PATH | OFlags::NOFOLLOW,
            Mode::empty(),
        )
    }

    /// An `O_PATH` fd of the inode `fd` refers to (any kind of fd of this export).
    pub fn path_fd(&self, fd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
        fs::openat(
            self.proc_dir(),
            proc_name(fd),
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
        )
    }

    /// Opens the inode of the `O_PATH` fd `node` with the client's `flags` (host `O_*`):
    /// regular files and directories only. Symlinks are `ELOOP` (clients resolve them),
    /// devices, FIFOs and sockets `ENXIO`. `O_CREAT`, `O_EXCL` and `O_NOFOLLOW` are
    /// ignored, `O_TMPFILE` is `EINVAL`. The inode cannot change under us: it is reopened
    /// through `/proc/self/fd`, with no lookup.
    pub fn open_node(&self, node: BorrowedFd<'_>, flags: OFlags) -> Result<OwnedFd, Errno> {
        let flags = open_flags(flags)?;
        match file_type_of(node)? {
            FileType::RegularFile | FileType::Directory => {}
            FileType::Symlink => return Err(Errno::LOOP),
            _ => return Err(Errno::NXIO),
        }
        // The type was checked on `node` and the reopen reaches that same inode: only
        // the status flags are left to set.
        let fd = fs::openat(
            self.proc_dir(),
            proc_name(node),
            flags | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
            Mode::empty(),
        )?;
        status_flags(fd, flags)
    }

    /// Creates the regular file `name` in `dir` as `creds` (`None`: as the process) with
    /// `mode` and opens it with `flags` (host `O_*`). Without `O_EXCL` an existing regular
    /// file is opened instead; an existing symlink is `ELOOP` and an existing special file
    /// `ENXIO` (never opened).
    pub fn create_at(
        &self,
        dir: BorrowedFd<'_>,
        name: Name<'_>,
        flags: OFlags,
        mode: u32,
        creds: Option<Credentials>,
    ) -> Result<OwnedFd, Errno> {
        if flags.intersects(OFlags::PATH | OFlags::DIRECTORY | OFlags::TMPFILE) {
            return Err(Errno::INVAL);
        }
        let base = flags & !(OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW);
        let mode = Mode::from_raw_mode(mode & 0o7777);
        let created = {
            let _as_client = Credentials::switch_to(creds)?;
            // Always exclusive: an existing name is looked up and checked before it is
            // opened, so a device node is never opened by a create.
            self.resolve_at(
                dir,
                name.as_bytes(),
                base | OFlags::CREATE
                    | OFlags::EXCL
                    | OFlags::NOFOLLOW
                    | OFlags::NONBLOCK
                    | OFlags::NOCTTY,
                mode,
            )
        };
        match created {
            Ok(fd) => finish_open(fd, base),
            Err(Errno::EXIST) if !flags.contains(OFlags::EXCL) => {
                let node = self.lookup_at(dir, name)?;
                match file_type_of(node.as_fd())? {
                    FileType::RegularFile => self.open_node(node.as_fd(), base),
                    FileType::Directory => Err(Errno::ISDIR),
                    FileType::Symlink => Err(Errno::LOOP),
                    _ => Err(Errno::NXIO),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// `mkdirat(dir, name, mode)` as `creds` (`None`: as the process).
    pub fn mkdir_at(
        &self,
        dir: BorrowedFd<'_>,
        name: Name<'_>,
        mode: u32,
        creds: Option<Credentials>,
    ) -> Result<(), Errno> {
        let _as_client = Credentials::switch_to(creds)?;
        fs::mkdirat(dir, name.as_bytes(), Mode::from_raw_mode(mode & 0o7777))
    }

    /// `mknodat(dir, name, mode, rdev)` as `creds` (`None`: as the process): devices,
    /// FIFOs, sockets, regular files (no type bits: a regular file).
    pub fn mknod_at(
        &self,
        dir: BorrowedFd<'_>,
        name: Name<'_>,
        mode: u32,
        rdev: u64,
        creds: Option<Credentials>,
    ) -> Result<(), Errno> {
        let ty = match FileType::from_raw_mode(mode) {
            _ if mode & 0o170000 == 0 => FileType::RegularFile,
            t @ (FileType::RegularFile
            | FileType::CharacterDevice
            | FileType::BlockDevice
            | FileType::Fifo
            | FileType::Socket) => t,
            _ => return Err(Errno::INVAL),
        };
        let _as_client = Credentials::switch_to(creds)?;
        fs::mknodat(
            dir,
            name.as_bytes(),
            ty,
            Mode::from_raw_mode(mode & 0o7777),
            rdev,
        )
    }

    /// `symlinkat(target, dir, name)` as `creds` (`None`: as the process). The target is
    /// stored as given; it is only ever followed inside the export.
    pub fn symlink_at(
        &self,
        dir: BorrowedFd<'_>,
        name: Name<'_>,
        target: &[u8],
        creds: Option<Credentials>,
    ) -> Result<(), Errno> {
        if target.contains(&0) {
            return Err(Errno::INVAL);
        }
        let _as_client = Credentials::switch_to(creds)?;
        fs::symlinkat(target, dir, name.as_bytes())
    }

    /// Links the inode of the `O_PATH` fd `node` (a symlink itself, not its target) as
    /// `name` in `dir`.
    pub fn link_at(
        &self,
        node: BorrowedFd<'_>,
        dir: BorrowedFd<'_>,
        name: Name<'_>,
    ) -> Result<(), Errno> {
        self.link_inode(Inode::Fd(node), dir, name)
    }

    /// Links `old` (a symlink itself, not its target) as `name` in `dir`.
    pub(crate) fn link_inode(
        &self,
        old: Inode<'_>,
        dir: BorrowedFd<'_>,
        name: Name<'_>,
    ) -> Result<(), Errno> {
        let name = name.as_bytes();
        match old {
            // Following the /proc magic link lands on the inode itself, without needing
            // CAP_DAC_READ_SEARCH as AT_EMPTY_PATH would.
            Inode::Fd(node) => fs::linkat(
                self.proc_dir(),
                proc_name(node),
                dir,
                name,
                AtFlags::SYMLINK_FOLLOW,
            ),
            Inode::At(odir, oname) => {
                fs::linkat(odir, oname.as_bytes(), dir, name, AtFlags::empty())
            }
        }
    }

    /// `renameat(olddir, oldname, newdir, newname)`.
    pub fn rename_at(
        &self,
        olddir: BorrowedFd<'_>,
        oldname: Name<'_>,
        newdir: BorrowedFd<'_>,
        newname: Name<'_>,
    ) -> Result<(), Errno> {
        fs::renameat(olddir, oldname.as_bytes(), newdir, newname.as_bytes())
    }

    /// `unlinkat(dir, name)`, with `AT_REMOVEDIR` if `remove_dir`.
    pub fn unlink_at(
        &self,
        dir: BorrowedFd<'_>,
        name: Name<'_>,
        remove_dir: bool,
    ) -> Result<(), Errno> {
        let flags = if remove_dir {
            AtFlags::REMOVEDIR
        } else {
            AtFlags::empty()
        };
        fs::unlinkat(dir, name.as_bytes(), flags)
    }

    /// The target of the symlink `node` (an `O_PATH` fd), whole.
    pub fn readlink_node(&self, node: BorrowedFd<'_>) -> Result<Vec<u8>, Errno> {
        self.readlink_inode(Inode::Fd(node))
    }

    /// The target of the symlink `link`, whole; anything else is `EINVAL`.
    pub(crate) fn readlink_inode(&self, link: Inode<'_>) -> Result<Vec<u8>, Errno> {
        match link {
            Inode::Fd(node) => match fs::readlinkat(node, "", Vec::new()) {
                // Not a symlink: readlinkat with an empty path says ENOENT.
                Err(Errno::NOENT) => Err(Errno::INVAL),
                r => Ok(r?.into_bytes()),
            },
            Inode::At(dir, name) => {
                Ok(fs::readlinkat(dir, name.as_bytes(), Vec::new())?.into_bytes())
            }
        }
    }

    /// `chmod` of the inode of `node` (symlinks: `EOPNOTSUPP`, as Linux has it).
    pub fn chmod_node(&self, node: BorrowedFd<'_>, mode: u32) -> Result<(), Errno> {
        fs::chmodat(
            self.proc_dir(),
            proc_name(node),
            Mode::from_raw_mode(mode & 0o7777),
            AtFlags::empty(),
        )
    }

    /// `lchown` of the inode of `node`; `None` leaves an id as it is.
    pub fn chown_node(
        &self,
        node: BorrowedFd<'_>,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> Result<(), Errno> {
        self.chown_inode(Inode::Fd(node), uid, gid)
    }

    /// `lchown` of `inode`; `None` (or -1, as for chown(2)) leaves an id as it is.
    pub(crate) fn chown_inode(
        &self,
        inode: Inode<'_>,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> Result<(), Errno> {
        let uid = uid
            .filter(|&u| u != u32::MAX)
            .map(rustix::process::Uid::from_raw);
        let gid = gid
            .filter(|&g| g != u32::MAX)
            .map(rustix::process::Gid::from_raw);
        match inode {
            Inode::Fd(node) => fs::chownat(node, "", uid, gid, AtFlags::EMPTY_PATH),
            Inode::At(dir, name) => {
                fs::chownat(dir, name.as_bytes(), uid, gid, AtFlags::SYMLINK_NOFOLLOW)
            }
        }
    }

    /// Truncates the regular file `node` to `size`.
    pub fn truncate_node(&self, node: BorrowedFd<'_>, size: u64) -> Result<(), Errno> {
        match file_type_of(node)? {
            FileType::RegularFile => {}
            FileType::Directory => return Err(Errno::ISDIR),
            _ => return Err(Errno::INVAL),
        }
        let file = self.open_node(node, OFlags::WRONLY)?;
        fs::ftruncate(&file, size)
    }

    /// Sets the times of the inode of `node` (a symlink itself, not its target);
    /// `UTIME_NOW`/`UTIME_OMIT` work as usual.
    pub fn utimens_node(&self, node: BorrowedFd<'_>, times: &Timestamps) -> Result<(), Errno> {
        self.utimens_inode(Inode::Fd(node), times)
    }

    /// Sets the times of `inode` (a symlink itself, not its target).
    pub(crate) fn utimens_inode(&self, inode: Inode<'_>, times: &Timestamps) -> Result<(), Errno> {
        match inode {
            Inode::Fd(node) => {
                fs::utimensat(self.proc_dir(), proc_name(node), times, AtFlags::empty())
            }
            Inode::At(dir, name) => {
                fs::utimensat(dir, name.as_bytes(), times, AtFlags::SYMLINK_NOFOLLOW)
            }
        }
    }

    /// `fstatfs` of the file system holding `node`, with the two halves of `f_fsid`.
    pub fn statfs_node(&self, node: BorrowedFd<'_>) -> Result<(StatFs, [i32; 2]), Errno> {
        let st = fs::fstatfs(node)?;
        let packed = fs::fstatvfs(node)?.f_fsid;
        Ok((st, [packed as u32 as i32, (packed >> 32) as u32 as i32]))
    }

    /// An fd to read or write xattrs of `node`; symlinks and special files are not
    /// opened (`None`), as for the path operations.
    fn xattr_fd_node(&self, node: BorrowedFd<'_>) -> Result<Option<OwnedFd>, Errno> {
        match file_type_of(node)? {
            FileType::RegularFile | FileType::Directory => {
                self.open_node(node, OFlags::RDONLY).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// The value of the xattr `name` of `node`, whole (at most [`XATTR_SIZE_MAX`]
    /// bytes). Symlinks and special files have none here (`ENODATA`).
    pub fn getxattr_node(&self, node: BorrowedFd<'_>, name: &[u8]) -> Result<Vec<u8>, Errno> {
        let mut values = self.getxattrs_node(node, &[name])?;
        values.pop().unwrap_or(Err(Errno::NODATA))
    }

    /// The values of several xattrs of `node` (each whole, or its error), reopening the
    /// node once for all of them. Symlinks and special files have none (`ENODATA`).
    pub fn getxattrs_node(
        &self,
        node: BorrowedFd<'_>,
        names: &[&[u8]],
    ) -> Result<Vec<Result<Vec<u8>, Errno>>, Errno> {
        let Some(fd) = self.xattr_fd_node(node)? else {
            let none = |n: &&[u8]| {
                Err(if n.contains(&0) {
                    Errno::INVAL
                } else {
                    Errno::NODATA
                })
            };
            return Ok(names.iter().map(none).collect());
        };
        Ok(names
            .iter()
            .map(|name| {
                let name = CString::new(*name).map_err(|_| Errno::INVAL)?;
                whole(
                    |buf| fs::fgetxattr(&fd, &name, buf),
                    || fs::fgetxattr_query(&fd, &name),
                )
            })
            .collect())
    }

    /// The NUL-separated xattr names of `node`, whole. Symlinks and special files list
    /// nothing.
    pub fn listxattr_node(&self, node: BorrowedFd<'_>) -> Result<Vec<u8>, Errno> {
        let Some(fd) = self.xattr_fd_node(node)? else {
            return Ok(Vec::new());
        };
        whole(|buf| fs::flistxattr(&fd, buf), || fs::flistxattr_query(&fd))
    }

    /// Sets the xattr `name` of `node`. Symlinks and special files: `EPERM`.
    pub fn setxattr_node(
        &self,
        node: BorrowedFd<'_>,
        name: &[u8],
        value: &[u8],
        flags: XattrFlags,
    ) -> Result<(), Errno> {
        let name = CString::new(name).map_err(|_| Errno::INVAL)?;
        let Some(fd) = self.xattr_fd_node(node)? else {
            return Err(Errno::PERM);
        };
        fs::fsetxattr(&fd, &name, value, flags)
    }

    /// Removes the xattr `name` of `node`. Symlinks and special files: `ENODATA`.
    pub fn removexattr_node(&self, node: BorrowedFd<'_>, name: &[u8]) -> Result<(), Errno> {
        let name = CString::new(name).map_err(|_| Errno::INVAL)?;
        let Some(fd) = self.xattr_fd_node(node)? else {
            return Err(Errno::NODATA);
        };
        fs::fremovexattr(&fd, &name)
    }
}

/// Reads a whole xattr value or list: asks for its size, reads it, and retries if it
/// grew meanwhile (`ERANGE`).
fn whole(
    mut read: impl FnMut(&mut [u8]) -> Result<usize, Errno>,
    mut query: impl FnMut() -> Result<usize, Errno>,
) -> Result<Vec<u8>, Errno> {
    for _ in 0..4 {
        let len = query()?.min(XATTR_SIZE_MAX);
        if len == 0 {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u8; len];
        match read(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(Errno::RANGE) if len < XATTR_SIZE_MAX => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Errno::RANGE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{check_name, ExportOptions};
    use std::os::unix::fs::MetadataExt;

    fn setup() -> (tempfile::TempDir, Export) {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("export")).unwrap();
        std::fs::write(tmp.path().join("secret"), b"SECRET").unwrap();
        let e = Export::new(tmp.path().join("export"), ExportOptions::default()).unwrap();
        (tmp, e)
    }

    const ROOT: Option<Credentials> = Some(Credentials::new(0, 0));

    /// A name the tests know to be valid.
    fn n(name: &[u8]) -> Name<'_> {
        check_name(name).unwrap()
    }

    #[test]
    fn lookups_are_single_names() {
        let (tmp, e) = setup();
        std::fs::create_dir(tmp.path().join("export/d")).unwrap();
        let root = e.root_fd();
        for bad in [&b""[..], b".", b"..", b"d/..", b"/d", b"a\0"] {
            assert_eq!(check_name(bad).unwrap_err(), Errno::INVAL, "{bad:?}");
        }
        let d = e.lookup_at(root, n(b"d")).unwrap();
        assert!(fs::fstat(&d).unwrap().st_mode & 0o170000 == 0o040000);
        assert_eq!(e.lookup_at(d.as_fd(), n(b"x")).unwrap_err(), Errno::NOENT);
    }

    #[test]
    fn several_xattrs_through_one_reopen() {
        let (tmp, e) = setup();
        let ex = tmp.path().join("export");
        std::fs::write(ex.join("f"), b"").unwrap();
        std::os::unix::fs::symlink("f", ex.join("l")).unwrap();
        let root = e.root_fd();
        let f = e.lookup_at(root, n(b"f")).unwrap();
        e.setxattr_node(f.as_fd(), b"user.a", b"1", fs::XattrFlags::empty())
            .unwrap();
        e.setxattr_node(f.as_fd(), b"user.b", b"22", fs::XattrFlags::empty())
            .unwrap();
        let got = e
            .getxattrs_node(f.as_fd(), &[b"user.a", b"user.none", b"user.b", b"bad\0"])
            .unwrap();
        assert_eq!(
            got,
            vec![
                Ok(b"1".to_vec()),
                Err(Errno::NODATA),
                Ok(b"22".to_vec()),
                Err(Errno::INVAL)
            ]
        );
        // A symlink has none here (and is never opened).
        let l = e.lookup_at(root, n(b"l")).unwrap();
        assert_eq!(
            e.getxattrs_node(l.as_fd(), &[b"user.a"]).unwrap(),
            vec![Err(Errno::NODATA)]
        );
    }

    #[test]
    fn symlinks_are_links() {
        let (tmp, e) = setup();
        let ex = tmp.path().join("export");
        std::os::unix::fs::symlink(tmp.path().join("secret"), ex.join("l")).unwrap();
        let root = e.root_fd();
        let l = e.lookup_at(root, n(b"l")).unwrap();
        assert_eq!(
            e.open_node(l.as_fd(), OFlags::RDONLY).unwrap_err(),
            Errno::LOOP
        );
        assert_eq!(
            e.create_at(root, n(b"l"), OFlags::RDWR, 0o644, ROOT)
                .unwrap_err(),
            Errno::LOOP
        );
        assert_eq!(
            e.readlink_node(l.as_fd()).unwrap(),
            tmp.path().join("secret").as_os_str().as_encoded_bytes()
        );
        assert_eq!(e.readlink_node(root).unwrap_err(), Errno::INVAL);
        let times = Timestamps {
            last_access: rustix::fs::Timespec {
                tv_sec: 5,
                tv_nsec: 0,
            },
            last_modification: rustix::fs::Timespec {
                tv_sec: 6,
                tv_nsec: 0,
            },
        };
        e.utimens_node(l.as_fd(), &times).unwrap();
        assert_eq!(std::fs::symlink_metadata(ex.join("l")).unwrap().mtime(), 6);
        assert_ne!(
            std::fs::metadata(tmp.path().join("secret"))
                .unwrap()
                .mtime(),
            6
        );
        e.link_at(l.as_fd(), root, n(b"l2")).unwrap();
        assert!(std::fs::symlink_metadata(ex.join("l2"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(e.truncate_node(l.as_fd(), 0).unwrap_err(), Errno::INVAL);
        assert_eq!(std::fs::read(tmp.path().join("secret")).unwrap(), b"SECRET");
    }

    #[test]
    fn special_files_are_never_opened() {
        let (tmp, e) = setup();
        let root = e.root_fd();
        e.mknod_at(root, n(b"fifo"), 0o010644, 0, ROOT).unwrap();
        let f = e.lookup_at(root, n(b"fifo")).unwrap();
        for flags in [OFlags::RDONLY, OFlags::WRONLY, OFlags::RDWR] {
            assert_eq!(e.open_node(f.as_fd(), flags).unwrap_err(), Errno::NXIO);
            assert_eq!(
                e.create_at(root, n(b"fifo"), flags, 0o644, ROOT)
                    .unwrap_err(),
                Errno::NXIO
            );
        }
        assert_eq!(
            e.getxattr_node(f.as_fd(), b"user.x").unwrap_err(),
            Errno::NODATA
        );
        assert!(e.listxattr_node(f.as_fd()).unwrap().is_empty());
        assert!(tmp.path().join("export/fifo").exists());
    }

    #[test]
    fn create_open_rename_unlink() {
        let (tmp, e) = setup();
        let ex = tmp.path().join("export");
        let root = e.root_fd();
        let fd = e
            .create_at(root, n(b"f"), OFlags::RDWR, 0o600, ROOT)
            .unwrap();
        rustix::io::write(&fd, b"abc").unwrap();
        assert_eq!(
            e.create_at(root, n(b"f"), OFlags::RDWR | OFlags::EXCL, 0o600, ROOT)
                .unwrap_err(),
            Errno::EXIST
        );
        let again = e
            .create_at(root, n(b"f"), OFlags::RDONLY, 0o600, ROOT)
            .unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(rustix::io::read(&again, &mut buf).unwrap(), 3);
        let node = e.path_fd(fd.as_fd()).unwrap();
        e.truncate_node(node.as_fd(), 1).unwrap();
        assert_eq!(std::fs::read(ex.join("f")).unwrap(), b"a");
        e.mkdir_at(root, n(b"d"), 0o700, ROOT).unwrap();
        let d = e.lookup_at(root, n(b"d")).unwrap();
        e.rename_at(root, n(b"f"), d.as_fd(), n(b"g")).unwrap();
        assert!(ex.join("d/g").exists());
        assert_eq!(e.unlink_at(root, n(b"d"), false).unwrap_err(), Errno::ISDIR);
        e.unlink_at(d.as_fd(), n(b"g"), false).unwrap();
        e.unlink_at(root, n(b"d"), true).unwrap();
        assert_eq!(std::fs::read_dir(&ex).unwrap().count(), 0);
        // The open (now unlinked) file is still there through its fds.
        assert_eq!(fs::fstat(&node).unwrap().st_nlink, 0);
    }
}
