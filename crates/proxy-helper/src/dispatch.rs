//! From a decoded request to its answer: one function per request kind, all on the
//! confined [`Export`]. Errors are values (`Errno`), never fatal.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use confined_fs::{check_name, Actor, Credentials, Export, Name, MAX_GROUPS};
use proxy_protocol::{decode_groups, Request, Stat, StatFs, MAX_BODY_SIZE};
use rustix::fs::{AtFlags, OFlags, Timespec, Timestamps, XattrFlags};
use rustix::io::Errno;

use crate::mounts::ExportMounts;

/// The answer to one request, before it is put in its reply form.
#[derive(Debug)]
pub enum Answer {
    /// An fd (T_OPEN, T_CREATE).
    Fd(OwnedFd),
    /// A status value (0, or a length for a size-0 xattr query).
    Status(i32),
    /// T_LSTAT.
    Stat(Stat),
    /// T_STATFS.
    StatFs(StatFs),
    /// T_READLINK, T_LGETXATTR, T_LLISTXATTR data.
    Bytes(Vec<u8>),
    /// T_GETVERSION.
    Version(u64),
}

/// The longest `s` string a data reply can carry (`PROXY_MAX_IO_SZ` less its length).
const MAX_REPLY_STRING: usize = MAX_BODY_SIZE - 2;

fn ok(r: Result<(), Errno>) -> Result<Answer, Errno> {
    r.map(|()| Answer::Status(0))
}

/// The ids a QEMU request creates as: host ids (QEMU maps nothing), always switched to.
fn creds(uid: u32, gid: u32) -> Credentials {
    Credentials::new(uid, gid)
}

/// A size field from the wire: negative is `EINVAL` (QEMU's helper crashes on it).
fn wire_size(size: i32) -> Result<usize, Errno> {
    usize::try_from(size).map_err(|_| Errno::INVAL)
}

/// Converts a kernel statfs into the protocol's; the fsid halves are sign-extended, as
/// QEMU's helper's `int` to `uint64_t` assignment does.
pub fn proxy_statfs(st: &rustix::fs::StatFs, fsid: [i32; 2]) -> StatFs {
    StatFs {
        fs_type: st.f_type as u64,
        bsize: st.f_bsize as u64,
        blocks: st.f_blocks,
        bfree: st.f_bfree,
        bavail: st.f_bavail,
        files: st.f_files,
        ffree: st.f_ffree,
        fsid: [fsid[0] as i64 as u64, fsid[1] as i64 as u64],
        namelen: st.f_namelen as u64,
        frsize: st.f_frsize as u64,
    }
}

/// QEMU sends most paths with their C string's terminating NUL counted in the length
/// (those it keeps on record: `V9fsPath`), and names it builds on the fly without one.
/// One trailing NUL is dropped; any other NUL makes the path invalid downstream.
fn without_trailing_nul(s: &[u8]) -> &[u8] {
    s.strip_suffix(b"\0").unwrap_or(s)
}

/// Whose authority the requests of one connection use.
#[derive(Debug, Default)]
pub enum Authority {
    /// QEMU's model: root, with the client's ids for creations ([`Credentials`]).
    #[default]
    Qemu,
    /// Every request as this identity, checked by the kernel (after a `T_AS`).
    As(Arc<Actor>),
    /// A `T_AS` failed: every request fails with `EPERM` until one succeeds, so that
    /// nothing runs as an identity other than the one asked for.
    Refused,
}

impl Authority {
    /// Takes the identity of a `T_AS` request.
    fn take(&mut self, uid: u32, gid: u32, groups: &[u8]) -> Result<Answer, Errno> {
        *self = Authority::Refused;
        let groups = decode_groups(groups).ok_or(Errno::INVAL)?;
        if groups.len() > MAX_GROUPS {
            return Err(Errno::INVAL);
        }
        let actor = Arc::new(Actor { uid, gid, groups });
        confined_fs::act_as(Some(&actor))?;
        *self = Authority::As(actor);
        Ok(Answer::Status(0))
    }

    /// Makes the calling thread act as this authority says before a request.
    fn enter(&self) -> Result<(), Errno> {
        match self {
            Authority::Qemu => Ok(()),
            Authority::As(actor) => confined_fs::act_as(Some(actor)),
            Authority::Refused => Err(Errno::PERM),
        }
    }
}

/// The `readlink` answer: the size counts the NUL, so at most `bufsize - 1` bytes come
/// back; 0 or 1 leave no room for a byte: `EINVAL`, as readlink(2) with size 0.
fn readlink_answer(
    bufsize: i32,
    read: impl FnOnce() -> Result<Vec<u8>, Errno>,
) -> Result<Answer, Errno> {
    let room = wire_size(bufsize)?.saturating_sub(1);
    if room == 0 {
        return Err(Errno::INVAL);
    }
    let mut target = read()?;
    target.truncate(room.min(MAX_REPLY_STRING));
    Ok(Answer::Bytes(target))
}

/// The `setxattr` value: `size` must describe the value sent (QEMU's helper reads past
/// it).
fn sized_value(value: &[u8], size: i32) -> Result<&[u8], Errno> {
    value.get(..wire_size(size)?).ok_or(Errno::INVAL)
}

/// An xattr value or list read into a buffer of `size` bytes (0: only the length), from
/// the whole value: `ERANGE` when it does not fit, as the kernel answers.
fn sized_xattr(whole: Vec<u8>, size: i32) -> Result<Answer, Errno> {
    let size = wire_size(size)?;
    if size == 0 {
        return Ok(Answer::Status(
            i32::try_from(whole.len()).map_err(|_| Errno::NOBUFS)?,
        ));
    }
    if whole.len() > size {
        return Err(Errno::RANGE);
    }
    if whole.len() > MAX_REPLY_STRING {
        return Err(Errno::NOBUFS);
    }
    Ok(Answer::Bytes(whole))
}

/// The stat of `name` in `dir` (not followed), after a creation there.
fn stat_at(dir: BorrowedFd<'_>, name: Name<'_>) -> Result<Answer, Errno> {
    let st = rustix::fs::statat(dir, name.as_bytes(), AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(Answer::Stat(Stat::from(&st)))
}

/// Checks the fds of an fd-relative request against the export's mounts: `EXDEV` for
/// any fd not on them, `ENOTDIR` for a "dir" that is not one.
struct Fds(Vec<OwnedFd>);

impl Fds {
    fn node(&self, mounts: &ExportMounts, i: usize) -> Result<BorrowedFd<'_>, Errno> {
        let fd = self.0.get(i).ok_or(Errno::BADF)?.as_fd();
        mounts.check(fd)?;
        Ok(fd)
    }

    fn dir(&self, mounts: &ExportMounts, i: usize) -> Result<BorrowedFd<'_>, Errno> {
        let fd = self.0.get(i).ok_or(Errno::BADF)?.as_fd();
        mounts.check_dir(fd)?;
        Ok(fd)
    }
}

/// Performs `req` on `export`, with the connection's `authority` (which a `T_AS`
/// changes). `fds` are those the request carried (as many as its type declares), checked
/// against `mounts` before use.
pub fn dispatch(
    export: &Export,
    mounts: &ExportMounts,
    authority: &mut Authority,
    req: &Request<'_>,
    fds: Vec<OwnedFd>,
) -> Result<Answer, Errno> {
    if let Request::As { uid, gid, groups } = *req {
        return authority.take(uid, gid, groups);
    }
    authority.enter()?;
    if !req.kind().is_qemu() {
        return dispatch_fds(export, mounts, req, &Fds(fds));
    }
    match *req {
        Request::Open { path, flags } => export
            .open(without_trailing_nul(path), flags)
            .map(Answer::Fd),
        Request::Create {
            path,
            flags,
            mode,
            uid,
            gid,
        } => export
            .create(without_trailing_nul(path), flags, mode, creds(uid, gid))
            .map(Answer::Fd),
        Request::Mknod {
            uid,
            gid,
            path,
            mode,
            rdev,
        } => ok(export.mknod(without_trailing_nul(path), mode, rdev, creds(uid, gid))),
        Request::Mkdir {
            uid,
            gid,
            path,
            mode,
        } => ok(export.mkdir(without_trailing_nul(path), mode, creds(uid, gid))),
        Request::Symlink {
            uid,
            gid,
            target,
            path,
        } => ok(export.symlink(
            without_trailing_nul(target),
            without_trailing_nul(path),
            creds(uid, gid),
        )),
        Request::Link { oldpath, newpath } => {
            ok(export.link(without_trailing_nul(oldpath), without_trailing_nul(newpath)))
        }
        Request::Lstat { path } => export
            .lstat(without_trailing_nul(path))
            .map(|st| Answer::Stat(Stat::from(&st))),
        Request::Readlink { path, bufsize } => {
            readlink_answer(bufsize, || export.readlink(without_trailing_nul(path)))
        }
        Request::Statfs { path } => export
            .statfs(without_trailing_nul(path))
            .map(|(st, fsid)| Answer::StatFs(proxy_statfs(&st, fsid))),
        Request::Chmod { path, mode } => ok(export.chmod(without_trailing_nul(path), mode)),
        Request::Chown { path, uid, gid } => ok(export.chown(without_trailing_nul(path), uid, gid)),
        Request::Truncate { path, size } => ok(export.truncate(without_trailing_nul(path), size)),
        Request::Utime {
            path,
            atime_sec,
            atime_nsec,
            mtime_sec,
            mtime_nsec,
        } => ok(export.utimens(
            without_trailing_nul(path),
            (atime_sec, atime_nsec),
            (mtime_sec, mtime_nsec),
        )),
        Request::Rename { oldpath, newpath } => {
            ok(export.rename(without_trailing_nul(oldpath), without_trailing_nul(newpath)))
        }
        Request::Remove { path } => ok(export.remove(without_trailing_nul(path))),
        Request::Lgetxattr { size, path, name } => {
            wire_size(size)?;
            let whole = export.getxattr(without_trailing_nul(path), without_trailing_nul(name))?;
            sized_xattr(whole, size)
        }
        Request::Llistxattr { size, path } => {
            wire_size(size)?;
            sized_xattr(export.listxattr(without_trailing_nul(path))?, size)
        }
        Request::Lsetxattr {
            path,
            name,
            value,
            size,
            flags,
        } => {
            let value = sized_value(value, size)?;
            ok(export.setxattr(
                without_trailing_nul(path),
                without_trailing_nul(name),
                value,
                flags,
            ))
        }
        Request::Lremovexattr { path, name } => {
            ok(export.removexattr(without_trailing_nul(path), without_trailing_nul(name)))
        }
        Request::Getversion { path } => export
            .getversion(without_trailing_nul(path))
            .map(Answer::Version),
        // Taken above, before the connection's authority is entered; ours below.
        _ => Err(Errno::INVAL),
    }
}

/// Our fd-relative requests: every fd checked to be on the export's mounts first.
fn dispatch_fds(
    export: &Export,
    mounts: &ExportMounts,
    req: &Request<'_>,
    fds: &Fds,
) -> Result<Answer, Errno> {
    let node = || fds.node(mounts, 0);
    let dir = || fds.dir(mounts, 0);
    match *req {
        Request::LookupAt { name } => {
            let d = dir()?;
            export.lookup_at(d, check_name(name)?).map(Answer::Fd)
        }
        Request::OpenNode { flags } => export
            .open_node(node()?, OFlags::from_bits_retain(flags as u32))
            .map(Answer::Fd),
        Request::CreateAt {
            name,
            flags,
            mode,
            uid,
            gid,
        } => {
            let d = dir()?;
            export
                .create_at(
                    d,
                    check_name(name)?,
                    OFlags::from_bits_retain(flags as u32),
                    mode,
                    Some(creds(uid, gid)),
                )
                .map(Answer::Fd)
        }
        Request::MkdirAt {
            uid,
            gid,
            name,
            mode,
        } => {
            let (d, name) = (dir()?, check_name(name)?);
            export.mkdir_at(d, name, mode, Some(creds(uid, gid)))?;
            stat_at(d, name)
        }
        Request::MknodAt {
            uid,
            gid,
            name,
            mode,
            rdev,
        } => {
            let (d, name) = (dir()?, check_name(name)?);
            export.mknod_at(d, name, mode, rdev, Some(creds(uid, gid)))?;
            stat_at(d, name)
        }
        Request::SymlinkAt {
            uid,
            gid,
            name,
            target,
        } => {
            let (d, name) = (dir()?, check_name(name)?);
            export.symlink_at(d, name, target, Some(creds(uid, gid)))?;
            stat_at(d, name)
        }
        Request::UnlinkAt { name, flags } => {
            let remove_dir = match flags {
                0 => false,
                f if f == AtFlags::REMOVEDIR.bits() as i32 => true,
                _ => return Err(Errno::INVAL),
            };
            let d = dir()?;
            ok(export.unlink_at(d, check_name(name)?, remove_dir))
        }
        Request::RenameAt { oldname, newname } => {
            let (old, new) = (dir()?, fds.dir(mounts, 1)?);
            ok(export.rename_at(old, check_name(oldname)?, new, check_name(newname)?))
        }
        Request::LinkAt { name } => {
            let (n, d) = (node()?, fds.dir(mounts, 1)?);
            ok(export.link_at(n, d, check_name(name)?))
        }
        Request::ReadlinkNode { bufsize } => {
            let n = node()?;
            readlink_answer(bufsize, || export.readlink_node(n))
        }
        Request::StatfsNode {} => export
            .statfs_node(node()?)
            .map(|(st, fsid)| Answer::StatFs(proxy_statfs(&st, fsid))),
        Request::ChmodNode { mode } => ok(export.chmod_node(node()?, mode)),
        Request::ChownNode { uid, gid } => ok(export.chown_node(node()?, Some(uid), Some(gid))),
        Request::TruncateNode { size } => ok(export.truncate_node(node()?, size)),
        Request::UtimeNode {
            atime_sec,
            atime_nsec,
            mtime_sec,
            mtime_nsec,
        } => {
            let times = Timestamps {
                last_access: Timespec {
                    tv_sec: atime_sec,
                    tv_nsec: atime_nsec as _,
                },
                last_modification: Timespec {
                    tv_sec: mtime_sec,
                    tv_nsec: mtime_nsec as _,
                },
            };
            ok(export.utimens_node(node()?, &times))
        }
        Request::GetxattrNode { size, name } => {
            let n = node()?;
            wire_size(size)?;
            sized_xattr(export.getxattr_node(n, name)?, size)
        }
        Request::ListxattrNode { size } => {
            let n = node()?;
            wire_size(size)?;
            sized_xattr(export.listxattr_node(n)?, size)
        }
        Request::SetxattrNode {
            name,
            value,
            size,
            flags,
        } => {
            let value = sized_value(value, size)?;
            let flags = XattrFlags::from_bits(flags as u32).ok_or(Errno::INVAL)?;
            ok(export.setxattr_node(node()?, name, value, flags))
        }
        Request::RemovexattrNode { name } => ok(export.removexattr_node(node()?, name)),
        _ => Err(Errno::INVAL),
    }
}
