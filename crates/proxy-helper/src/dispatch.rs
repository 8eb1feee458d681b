//! From a decoded request to its answer: one function per request kind, all on the
//! confined [`Export`]. Errors are values (`Errno`), never fatal.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use confined_fs::{Actor, Credentials, Export, XattrValue, MAX_GROUPS};
use proxy_protocol::{decode_groups, Request, Stat, StatFs, MAX_BODY_SIZE};
use rustix::io::Errno;

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

fn creds(uid: u32, gid: u32) -> Credentials {
    Credentials { uid, gid }
}

/// A size field from the wire: negative is `EINVAL` (QEMU's helper crashes on it).
fn wire_size(size: i32) -> Result<usize, Errno> {
    usize::try_from(size).map_err(|_| Errno::INVAL)
}

fn xattr_answer(v: XattrValue) -> Result<Answer, Errno> {
    match v {
        XattrValue::Len(n) => Ok(Answer::Status(i32::try_from(n).map_err(|_| Errno::NOBUFS)?)),
        XattrValue::Data(d) if d.len() > MAX_REPLY_STRING => Err(Errno::NOBUFS),
        XattrValue::Data(d) => Ok(Answer::Bytes(d)),
    }
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
fn z(s: &[u8]) -> &[u8] {
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

/// Performs `req` on `export`, with the connection's `authority` (which a `T_AS`
/// changes).
pub fn dispatch(
    export: &Export,
    authority: &mut Authority,
    req: &Request<'_>,
) -> Result<Answer, Errno> {
    if let Request::As { uid, gid, groups } = *req {
        return authority.take(uid, gid, groups);
    }
    authority.enter()?;
    match *req {
        Request::Open { path, flags } => export.open(z(path), flags).map(Answer::Fd),
        Request::Create {
            path,
            flags,
            mode,
            uid,
            gid,
        } => export
            .create(z(path), flags, mode, creds(uid, gid))
            .map(Answer::Fd),
        Request::Mknod {
            uid,
            gid,
            path,
            mode,
            rdev,
        } => ok(export.mknod(z(path), mode, rdev, creds(uid, gid))),
        Request::Mkdir {
            uid,
            gid,
            path,
            mode,
        } => ok(export.mkdir(z(path), mode, creds(uid, gid))),
        Request::Symlink {
            uid,
            gid,
            target,
            path,
        } => ok(export.symlink(z(target), z(path), creds(uid, gid))),
        Request::Link { oldpath, newpath } => ok(export.link(z(oldpath), z(newpath))),
        Request::Lstat { path } => export
            .lstat(z(path))
            .map(|st| Answer::Stat(Stat::from(&st))),
        Request::Readlink { path, bufsize } => {
            // The size counts the NUL: at most size - 1 bytes come back.
            // 0 or 1 leave no room for a byte: EINVAL, as readlink(2) with size 0.
            let room = wire_size(bufsize)?.saturating_sub(1);
            if room == 0 {
                return Err(Errno::INVAL);
            }
            let mut target = export.readlink(z(path))?;
            target.truncate(room.min(MAX_REPLY_STRING));
            Ok(Answer::Bytes(target))
        }
        Request::Statfs { path } => export
            .statfs(z(path))
            .map(|(st, fsid)| Answer::StatFs(proxy_statfs(&st, fsid))),
        Request::Chmod { path, mode } => ok(export.chmod(z(path), mode)),
        Request::Chown { path, uid, gid } => ok(export.chown(z(path), uid, gid)),
        Request::Truncate { path, size } => ok(export.truncate(z(path), size)),
        Request::Utime {
            path,
            atime_sec,
            atime_nsec,
            mtime_sec,
            mtime_nsec,
        } => ok(export.utimens(z(path), (atime_sec, atime_nsec), (mtime_sec, mtime_nsec))),
        Request::Rename { oldpath, newpath } => ok(export.rename(z(oldpath), z(newpath))),
        Request::Remove { path } => ok(export.remove(z(path))),
        Request::Lgetxattr { size, path, name } => {
            xattr_answer(export.getxattr(z(path), z(name), wire_size(size)?)?)
        }
        Request::Llistxattr { size, path } => {
            xattr_answer(export.listxattr(z(path), wire_size(size)?)?)
        }
        Request::Lsetxattr {
            path,
            name,
            value,
            size,
            flags,
        } => {
            // The size must describe the value sent (QEMU's helper reads past it).
            let size = wire_size(size)?;
            let value = value.get(..size).ok_or(Errno::INVAL)?;
            ok(export.setxattr(z(path), z(name), value, flags))
        }
        Request::Lremovexattr { path, name } => ok(export.removexattr(z(path), z(name))),
        Request::Getversion { path } => export.getversion(z(path)).map(Answer::Version),
        // Taken above, before the connection's authority is entered.
        Request::As { .. } => Err(Errno::INVAL),
    }
}
