//! [`ProxyClient`]: the typed API over one connection to a helper, one request at a time.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use proxy_protocol::{ReplyForm, Request, Stat, StatFs};
use rustix::fs::{OFlags, XattrFlags};
use rustix::io::Errno;

use crate::error::{Error, Result};
use crate::response::Response;
use crate::timestamp::Timestamp;
use crate::transport::Transport;
use crate::wait::SpinPolicy;

/// The `bufsize` sent with T_READLINK: `PATH_MAX`. It counts the terminating NUL, so up
/// to 4095 bytes come back, the longest target Linux stores.
pub const READLINK_BUFSIZE: i32 = 4096;

/// An id that [`ProxyClient::chown`] leaves unchanged (`(uid_t)-1`).
pub const UNCHANGED_ID: u32 = u32::MAX;

/// How often [`ProxyClient::getxattr`] and [`ProxyClient::listxattr`] retry when the value
/// grows between the size query and the fetch (ERANGE).
const XATTR_RETRIES: usize = 8;

/// A connection to a `virtfs-proxy-helper` (QEMU's C one or ours).
///
/// `Send + Sync`: every method takes `&self`; requests are serialized by an internal mutex,
/// since the protocol allows one request in flight. After a transport or protocol error
/// the socket is closed and every later call fails with [`Error::Broken`] (EIO).
///
/// Paths and names are bytes (anything `AsRef<[u8]>`), sent as they are: the helper
/// resolves them inside its export (QEMU sends `/` for the root and `//a/b` below it).
#[derive(Debug)]
pub struct ProxyClient {
    conn: Mutex<Option<Transport>>,
}

impl ProxyClient {
    /// Uses `fd`, a connected AF_UNIX stream socket (QEMU's `sock_fd=`).
    pub fn from_fd(fd: OwnedFd) -> ProxyClient {
        ProxyClient {
            conn: Mutex::new(Some(Transport::new(fd))),
        }
    }

    /// Connects to the helper listening at `path` (`-s SOCKET`). The socket file stays;
    /// see [`ProxyClient::connect_and_unlink`].
    pub fn connect(path: impl AsRef<Path>) -> io::Result<ProxyClient> {
        let stream = UnixStream::connect(path)?;
        Ok(ProxyClient::from_fd(OwnedFd::from(stream)))
    }

    /// Connects like [`ProxyClient::connect`], then removes the socket file, as QEMU does
    /// ("for security reasons": no one else can connect to it afterwards).
    pub fn connect_and_unlink(path: impl AsRef<Path>) -> io::Result<ProxyClient> {
        let client = ProxyClient::connect(path.as_ref())?;
        std::fs::remove_file(path)?;
        Ok(client)
    }

    /// Polls for each reply for as long as `policy` allows before sleeping (by default a
    /// client sleeps at once); see [`crate::wait`].
    pub fn with_spin_policy(self, policy: Arc<dyn SpinPolicy>) -> ProxyClient {
        if let Some(t) = self.lock().as_mut() {
            t.set_spin_policy(policy);
        }
        self
    }

    /// Whether an earlier transport or protocol error closed the connection.
    pub fn is_broken(&self) -> bool {
        self.lock().is_none()
    }

    /// Sends `req` as the codec encodes it and returns its reply. The helper's errno is
    /// [`Error::Errno`].
    pub fn request(&self, req: &Request<'_>) -> Result<Response> {
        self.request_with_fds(req, &[])
    }

    /// Sends `req` with `fds` in SCM_RIGHTS (exactly as many as its type declares, else
    /// `EBADF` and nothing is sent) and returns its reply. Our helper's fd-relative
    /// requests; QEMU's C helper knows none of them (it closes the connection).
    pub fn request_with_fds(&self, req: &Request<'_>, fds: &[BorrowedFd<'_>]) -> Result<Response> {
        self.with_conn(|t| t.call(req, fds))
    }

    /// Sends `message` byte for byte (header included, nothing checked) and reads a reply
    /// of `form`. For tests of how a helper treats malformed requests; a reply that does
    /// not come, or comes malformed, breaks the connection like any other.
    pub fn request_raw(&self, message: &[u8], form: ReplyForm) -> Result<Response> {
        self.with_conn(|t| t.call_raw(message, form))
    }

    /// `lstat(path)`.
    pub fn lstat(&self, path: impl AsRef<[u8]>) -> Result<Stat> {
        self.stat_with(
            &Request::Lstat {
                path: path.as_ref(),
            },
            &[],
        )
    }

    /// Opens `path` with `flags` (host `open(2)` flags) in the helper and returns the fd.
    pub fn open(&self, path: impl AsRef<[u8]>, flags: OFlags) -> Result<OwnedFd> {
        self.fd(&Request::Open {
            path: path.as_ref(),
            flags: flags.bits() as i32,
        })
    }

    /// Creates and opens `path` with `flags` plus `O_CREAT` (sent on the wire, as QEMU
    /// does: QEMU's C helper passes the flags to `open` unchanged) and `mode`
    /// (exact: the helper's umask is 0), owned by `uid:gid`.
    pub fn create(
        &self,
        path: impl AsRef<[u8]>,
        flags: OFlags,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<OwnedFd> {
        self.fd(&Request::Create {
            path: path.as_ref(),
            flags: (flags | OFlags::CREATE).bits() as i32,
            mode,
            uid,
            gid,
        })
    }

    /// `mknod(path, mode, rdev)` as `uid:gid`; `mode` holds the file type bits
    /// (`S_IFIFO`, `S_IFCHR`...).
    pub fn mknod(
        &self,
        path: impl AsRef<[u8]>,
        mode: u32,
        rdev: u64,
        uid: u32,
        gid: u32,
    ) -> Result<()> {
        self.unit(&Request::Mknod {
            uid,
            gid,
            path: path.as_ref(),
            mode,
            rdev,
        })
    }

    /// `mkdir(path, mode)` as `uid:gid`.
    pub fn mkdir(&self, path: impl AsRef<[u8]>, mode: u32, uid: u32, gid: u32) -> Result<()> {
        self.unit(&Request::Mkdir {
            uid,
            gid,
            path: path.as_ref(),
            mode,
        })
    }

    /// `symlink(target, path)` as `uid:gid`.
    pub fn symlink(
        &self,
        target: impl AsRef<[u8]>,
        path: impl AsRef<[u8]>,
        uid: u32,
        gid: u32,
    ) -> Result<()> {
        self.unit(&Request::Symlink {
            uid,
            gid,
            target: target.as_ref(),
            path: path.as_ref(),
        })
    }

    /// `link(oldpath, newpath)`.
    pub fn link(&self, oldpath: impl AsRef<[u8]>, newpath: impl AsRef<[u8]>) -> Result<()> {
        self.unit(&Request::Link {
            oldpath: oldpath.as_ref(),
            newpath: newpath.as_ref(),
        })
    }

    /// `readlink(path)`, with a buffer of [`READLINK_BUFSIZE`] (the whole target).
    pub fn readlink(&self, path: impl AsRef<[u8]>) -> Result<Vec<u8>> {
        self.bytes(&Request::Readlink {
            path: path.as_ref(),
            bufsize: READLINK_BUFSIZE,
        })
    }

    /// `statfs(path)`.
    pub fn statfs(&self, path: impl AsRef<[u8]>) -> Result<StatFs> {
        match self.request(&Request::Statfs {
            path: path.as_ref(),
        })? {
            Response::StatFs(s) => Ok(s),
            other => Err(unexpected(other)),
        }
    }

    /// `chmod(path, mode)`.
    pub fn chmod(&self, path: impl AsRef<[u8]>, mode: u32) -> Result<()> {
        self.unit(&Request::Chmod {
            path: path.as_ref(),
            mode,
        })
    }

    /// `lchown(path, uid, gid)`; [`UNCHANGED_ID`] leaves an id as it is.
    pub fn chown(&self, path: impl AsRef<[u8]>, uid: u32, gid: u32) -> Result<()> {
        self.unit(&Request::Chown {
            path: path.as_ref(),
            uid,
            gid,
        })
    }

    /// `truncate(path, size)`.
    pub fn truncate(&self, path: impl AsRef<[u8]>, size: u64) -> Result<()> {
        self.unit(&Request::Truncate {
            path: path.as_ref(),
            size,
        })
    }

    /// `utimensat(path, [atime, mtime], AT_SYMLINK_NOFOLLOW)`. Sends the layout the helper
    /// decodes (atime sec, atime nsec, mtime sec, mtime nsec), not QEMU 7.2's, which puts
    /// mtime's nanoseconds in atime's place.
    pub fn utimensat(
        &self,
        path: impl AsRef<[u8]>,
        atime: Timestamp,
        mtime: Timestamp,
    ) -> Result<()> {
        let (atime_sec, atime_nsec) = atime.to_wire();
        let (mtime_sec, mtime_nsec) = mtime.to_wire();
        self.unit(&Request::Utime {
            path: path.as_ref(),
            atime_sec,
            atime_nsec,
            mtime_sec,
            mtime_nsec,
        })
    }

    /// `rename(oldpath, newpath)`.
    pub fn rename(&self, oldpath: impl AsRef<[u8]>, newpath: impl AsRef<[u8]>) -> Result<()> {
        self.unit(&Request::Rename {
            oldpath: oldpath.as_ref(),
            newpath: newpath.as_ref(),
        })
    }

    /// `remove(path)`: unlinks a non-directory or removes an empty directory.
    pub fn remove(&self, path: impl AsRef<[u8]>) -> Result<()> {
        self.unit(&Request::Remove {
            path: path.as_ref(),
        })
    }

    /// The length of xattr `name` of `path` (not following symlinks): a size-0 query.
    pub fn getxattr_size(&self, path: impl AsRef<[u8]>, name: impl AsRef<[u8]>) -> Result<usize> {
        self.length(&Request::Lgetxattr {
            size: 0,
            path: path.as_ref(),
            name: name.as_ref(),
        })
    }

    /// The value of xattr `name` of `path` (not following symlinks): a size query, then a
    /// fetch of that size, again if the value grew in between (ERANGE).
    pub fn getxattr(&self, path: impl AsRef<[u8]>, name: impl AsRef<[u8]>) -> Result<Vec<u8>> {
        let (path, name) = (path.as_ref(), name.as_ref());
        self.sized_fetch(
            || self.getxattr_size(path, name),
            |size| (Request::Lgetxattr { size, path, name }, &[]),
        )
    }

    /// The length of `path`'s xattr name list (not following symlinks).
    pub fn listxattr_size(&self, path: impl AsRef<[u8]>) -> Result<usize> {
        self.length(&Request::Llistxattr {
            size: 0,
            path: path.as_ref(),
        })
    }

    /// `path`'s xattr names, each NUL-terminated, as `llistxattr(2)` gives them; fetched
    /// like [`ProxyClient::getxattr`].
    pub fn listxattr(&self, path: impl AsRef<[u8]>) -> Result<Vec<u8>> {
        let path = path.as_ref();
        self.sized_fetch(
            || self.listxattr_size(path),
            |size| (Request::Llistxattr { size, path }, &[]),
        )
    }

    /// `lsetxattr(path, name, value, flags)`.
    pub fn setxattr(
        &self,
        path: impl AsRef<[u8]>,
        name: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        flags: XattrFlags,
    ) -> Result<()> {
        let value = value.as_ref();
        // A value too long for an `s` field is refused by the encoder before the size
        // field could matter.
        let size = i32::try_from(value.len()).unwrap_or(i32::MAX);
        self.unit(&Request::Lsetxattr {
            path: path.as_ref(),
            name: name.as_ref(),
            value,
            size,
            flags: flags.bits() as i32,
        })
    }

    /// `lremovexattr(path, name)`.
    pub fn removexattr(&self, path: impl AsRef<[u8]>, name: impl AsRef<[u8]>) -> Result<()> {
        self.unit(&Request::Lremovexattr {
            path: path.as_ref(),
            name: name.as_ref(),
        })
    }

    /// The inode generation number (`FS_IOC_GETVERSION`; 0 where the filesystem has none).
    pub fn getversion(&self, path: impl AsRef<[u8]>) -> Result<u64> {
        match self.request(&Request::Getversion {
            path: path.as_ref(),
        })? {
            Response::Version(v) => Ok(v),
            other => Err(unexpected(other)),
        }
    }

    /// The `O_PATH` handle of the single name `name` in `dir`, not following it.
    pub fn lookup_at(&self, dir: impl AsFd, name: impl AsRef<[u8]>) -> Result<OwnedFd> {
        let req = Request::LookupAt {
            name: name.as_ref(),
        };
        self.fd_with(&req, &[dir.as_fd()])
    }

    /// Reopens the inode of `node` with `flags` (regular files and directories only).
    pub fn open_node(&self, node: impl AsFd, flags: OFlags) -> Result<OwnedFd> {
        let req = Request::OpenNode {
            flags: flags.bits() as i32,
        };
        self.fd_with(&req, &[node.as_fd()])
    }

    /// Creates the regular file `name` in `dir` (never following a symlink: `ELOOP`) as
    /// `uid:gid` with `mode`, opened with `flags`; without `O_EXCL` an existing regular
    /// file is opened.
    pub fn create_at(
        &self,
        dir: impl AsFd,
        name: impl AsRef<[u8]>,
        flags: OFlags,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<OwnedFd> {
        let req = Request::CreateAt {
            name: name.as_ref(),
            flags: (flags | OFlags::CREATE).bits() as i32,
            mode,
            uid,
            gid,
        };
        self.fd_with(&req, &[dir.as_fd()])
    }

    /// `mkdirat(dir, name, mode)` as `uid:gid`; the new directory's stat.
    pub fn mkdir_at(
        &self,
        dir: impl AsFd,
        name: impl AsRef<[u8]>,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<Stat> {
        let req = Request::MkdirAt {
            uid,
            gid,
            name: name.as_ref(),
            mode,
        };
        self.stat_with(&req, &[dir.as_fd()])
    }

    /// `mknodat(dir, name, mode, rdev)` as `uid:gid`; the new node's stat.
    pub fn mknod_at(
        &self,
        dir: impl AsFd,
        name: impl AsRef<[u8]>,
        mode: u32,
        rdev: u64,
        uid: u32,
        gid: u32,
    ) -> Result<Stat> {
        let req = Request::MknodAt {
            uid,
            gid,
            name: name.as_ref(),
            mode,
            rdev,
        };
        self.stat_with(&req, &[dir.as_fd()])
    }

    /// `symlinkat(target, dir, name)` as `uid:gid`; the new link's stat.
    pub fn symlink_at(
        &self,
        dir: impl AsFd,
        name: impl AsRef<[u8]>,
        target: impl AsRef<[u8]>,
        uid: u32,
        gid: u32,
    ) -> Result<Stat> {
        let req = Request::SymlinkAt {
            uid,
            gid,
            name: name.as_ref(),
            target: target.as_ref(),
        };
        self.stat_with(&req, &[dir.as_fd()])
    }

    /// `unlinkat(dir, name)`, with `AT_REMOVEDIR` if `remove_dir` (`EISDIR`/`ENOTDIR`
    /// when the kind differs, as the kernel answers).
    pub fn unlink_at(
        &self,
        dir: impl AsFd,
        name: impl AsRef<[u8]>,
        remove_dir: bool,
    ) -> Result<()> {
        let flags = if remove_dir {
            rustix::fs::AtFlags::REMOVEDIR.bits() as i32
        } else {
            0
        };
        let req = Request::UnlinkAt {
            name: name.as_ref(),
            flags,
        };
        self.status_with(&req, &[dir.as_fd()]).map(drop)
    }

    /// `renameat(olddir, oldname, newdir, newname)`.
    pub fn rename_at(
        &self,
        olddir: impl AsFd,
        oldname: impl AsRef<[u8]>,
        newdir: impl AsFd,
        newname: impl AsRef<[u8]>,
    ) -> Result<()> {
        let req = Request::RenameAt {
            oldname: oldname.as_ref(),
            newname: newname.as_ref(),
        };
        self.status_with(&req, &[olddir.as_fd(), newdir.as_fd()])
            .map(drop)
    }

    /// Links the inode of `node` (a symlink itself) as `name` in `dir`.
    pub fn link_at(&self, node: impl AsFd, dir: impl AsFd, name: impl AsRef<[u8]>) -> Result<()> {
        let req = Request::LinkAt {
            name: name.as_ref(),
        };
        self.status_with(&req, &[node.as_fd(), dir.as_fd()])
            .map(drop)
    }

    /// The target of the symlink `node`, whole ([`READLINK_BUFSIZE`]).
    pub fn readlink_node(&self, node: impl AsFd) -> Result<Vec<u8>> {
        let req = Request::ReadlinkNode {
            bufsize: READLINK_BUFSIZE,
        };
        self.bytes_with(&req, &[node.as_fd()])
    }

    /// `fstatfs` of `node`'s file system.
    pub fn statfs_node(&self, node: impl AsFd) -> Result<StatFs> {
        match self.request_with_fds(&Request::StatfsNode {}, &[node.as_fd()])? {
            Response::StatFs(s) => Ok(s),
            other => Err(unexpected(other)),
        }
    }

    /// `chmod` of `node`'s inode.
    pub fn chmod_node(&self, node: impl AsFd, mode: u32) -> Result<()> {
        self.status_with(&Request::ChmodNode { mode }, &[node.as_fd()])
            .map(drop)
    }

    /// `lchown` of `node`'s inode; [`UNCHANGED_ID`] leaves an id as it is.
    pub fn chown_node(&self, node: impl AsFd, uid: u32, gid: u32) -> Result<()> {
        self.status_with(&Request::ChownNode { uid, gid }, &[node.as_fd()])
            .map(drop)
    }

    /// Truncates the regular file `node`.
    pub fn truncate_node(&self, node: impl AsFd, size: u64) -> Result<()> {
        self.status_with(&Request::TruncateNode { size }, &[node.as_fd()])
            .map(drop)
    }

    /// Sets the times of `node`'s inode (a symlink itself).
    pub fn utimens_node(&self, node: impl AsFd, atime: Timestamp, mtime: Timestamp) -> Result<()> {
        let (atime_sec, atime_nsec) = atime.to_wire();
        let (mtime_sec, mtime_nsec) = mtime.to_wire();
        let req = Request::UtimeNode {
            atime_sec,
            atime_nsec,
            mtime_sec,
            mtime_nsec,
        };
        self.status_with(&req, &[node.as_fd()]).map(drop)
    }

    /// The value of `node`'s xattr `name`: a size query, then a fetch of that size
    /// (again if the value grew meanwhile).
    pub fn getxattr_node(&self, node: impl AsFd, name: impl AsRef<[u8]>) -> Result<Vec<u8>> {
        let (node, name) = (node.as_fd(), name.as_ref());
        self.sized_fetch_with(&[node], |size| Request::GetxattrNode { size, name })
    }

    /// `node`'s xattr names, each NUL-terminated.
    pub fn listxattr_node(&self, node: impl AsFd) -> Result<Vec<u8>> {
        let node = node.as_fd();
        self.sized_fetch_with(&[node], |size| Request::ListxattrNode { size })
    }

    /// Sets `node`'s xattr `name`.
    pub fn setxattr_node(
        &self,
        node: impl AsFd,
        name: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        flags: XattrFlags,
    ) -> Result<()> {
        let value = value.as_ref();
        let req = Request::SetxattrNode {
            name: name.as_ref(),
            value,
            size: i32::try_from(value.len()).unwrap_or(i32::MAX),
            flags: flags.bits() as i32,
        };
        self.status_with(&req, &[node.as_fd()]).map(drop)
    }

    /// Removes `node`'s xattr `name`.
    pub fn removexattr_node(&self, node: impl AsFd, name: impl AsRef<[u8]>) -> Result<()> {
        let req = Request::RemovexattrNode {
            name: name.as_ref(),
        };
        self.status_with(&req, &[node.as_fd()]).map(drop)
    }

    fn status_with(&self, req: &Request<'_>, fds: &[BorrowedFd<'_>]) -> Result<i32> {
        match self.request_with_fds(req, fds)? {
            Response::Status(v) => Ok(v),
            other => Err(unexpected(other)),
        }
    }

    fn fd_with(&self, req: &Request<'_>, fds: &[BorrowedFd<'_>]) -> Result<OwnedFd> {
        match self.request_with_fds(req, fds)? {
            Response::Fd(fd) => Ok(fd),
            other => Err(unexpected(other)),
        }
    }

    fn stat_with(&self, req: &Request<'_>, fds: &[BorrowedFd<'_>]) -> Result<Stat> {
        match self.request_with_fds(req, fds)? {
            Response::Stat(s) => Ok(s),
            other => Err(unexpected(other)),
        }
    }

    fn bytes_with(&self, req: &Request<'_>, fds: &[BorrowedFd<'_>]) -> Result<Vec<u8>> {
        match self.request_with_fds(req, fds)? {
            Response::Bytes(b) => Ok(b),
            other => Err(unexpected(other)),
        }
    }

    /// [`ProxyClient::sized_fetch`] for the fd-relative xattr reads: `fetch(0)` is the
    /// size query.
    fn sized_fetch_with<'a>(
        &self,
        fds: &[BorrowedFd<'_>],
        fetch: impl Fn(i32) -> Request<'a>,
    ) -> Result<Vec<u8>> {
        self.sized_fetch(
            || {
                self.status_with(&fetch(0), fds)
                    .map(|v| v.unsigned_abs() as usize)
            },
            |size| (fetch(size), fds),
        )
    }

    /// Runs `f` on the connection, unless it is broken; breaks it after a transport or
    /// protocol error (closing the socket) or after a panic mid-request.
    fn with_conn<T>(&self, f: impl FnOnce(&mut Transport) -> Result<T>) -> Result<T> {
        let mut guard = self.lock();
        let transport = guard.as_mut().ok_or(Error::Broken)?;
        let result = f(transport);
        if let Err(e) = &result {
            if e.breaks_connection() {
                *guard = None;
            }
        }
        result
    }

    /// Locks the connection. A panic while it was held may have left a reply unread:
    /// the connection is then treated as broken.
    fn lock(&self) -> MutexGuard<'_, Option<Transport>> {
        match self.conn.lock() {
            Ok(guard) => guard,
            Err(poisoned) => {
                let mut guard = poisoned.into_inner();
                *guard = None;
                self.conn.clear_poison();
                guard
            }
        }
    }

    fn status(&self, req: &Request<'_>) -> Result<i32> {
        self.status_with(req, &[])
    }

    fn unit(&self, req: &Request<'_>) -> Result<()> {
        self.status(req).map(drop)
    }

    fn length(&self, req: &Request<'_>) -> Result<usize> {
        // Non-negative by construction: a negative status is an errno.
        self.status(req).map(|v| v.unsigned_abs() as usize)
    }

    fn fd(&self, req: &Request<'_>) -> Result<OwnedFd> {
        self.fd_with(req, &[])
    }

    fn bytes(&self, req: &Request<'_>) -> Result<Vec<u8>> {
        self.bytes_with(req, &[])
    }

    /// The size-query-then-fetch dance of the xattr reads.
    fn sized_fetch<'a, 'f>(
        &self,
        query: impl Fn() -> Result<usize>,
        fetch: impl Fn(i32) -> (Request<'a>, &'f [BorrowedFd<'f>]),
    ) -> Result<Vec<u8>> {
        for _ in 0..XATTR_RETRIES {
            let size = query()?;
            if size == 0 {
                // A size-0 fetch would be another length query.
                return Ok(Vec::new());
            }
            let size = i32::try_from(size).map_err(|_| Error::Errno(Errno::TOOBIG))?;
            let (req, fds) = fetch(size);
            match self.bytes_with(&req, fds) {
                Err(Error::Errno(Errno::RANGE)) => continue,
                other => return other,
            }
        }
        Err(Error::Errno(Errno::RANGE))
    }
}

/// The error for a well-formed reply of the wrong form (impossible with the codec's
/// reply forms, which the transport decodes by).
fn unexpected(got: Response) -> Error {
    Error::UnexpectedReply(got.form_name())
}
