//! Tlopen, Tlcreate, Tread, Twrite, Treaddir, Tfsync, Tlock, Tgetlock: the server's own
//! work on the open fds its backend handed out.

use std::os::fd::{AsFd, BorrowedFd};

use confined_fs::check_name;
use p9_wire::{
    dotl_to_host_oflags, max_io_count, max_readdir_count, Rgetlock, Rlcreate, Rlock, Rlopen,
    Rmessage, Rwrite, Tfsync, Tgetlock, Tlcreate, Tlock, Tlopen, Tread, Treaddir, Twrite,
};
use rustix::fs::OFlags;
use rustix::io::Errno;

use crate::backend::{Attr, AttrExt, NewEntry};
use crate::engine::answer::{Answer, DirEntries, ReadData};
use crate::engine::fid::FidState;
use crate::engine::lock::{self, Range};
use crate::engine::state::{ConnState, PendingLock};
use crate::engine::{readdir, xattr};
use crate::error::Result;

/// Most blocking locks waiting at once on one connection; more are answered `BLOCKED`.
const MAX_PENDING_LOCKS: usize = 1024;

/// Host open flags for a client's `P9_DOTL_*` flags: creation bits, `O_NOCTTY`,
/// `O_ASYNC` and `O_DIRECT` (a buffer alignment the server cannot promise) dropped.
fn open_flags(dotl: u32) -> OFlags {
    let host = dotl_to_host_oflags(dotl)
        & !(libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY | libc::O_ASYNC | libc::O_DIRECT);
    OFlags::from_bits_retain(host as u32)
}

pub(super) fn lopen(s: &mut ConnState<'_>, t: &Tlopen) -> Result<Answer<'static>> {
    let f = s.fids.get(t.fid)?;
    if f.is_open() {
        return Err(Errno::BADF.into());
    }
    let flags = open_flags(t.flags);
    let fd = s.server.backend().open(&f.node, flags)?;
    let a = Attr::of(fd.as_fd())?;
    let qid = s.server.qids().qid(&a);
    let state = if a.is_dir() {
        FidState::Dir { fd, dev: a.dev }
    } else {
        FidState::File { fd, flags }
    };
    s.fids.set_state(t.fid, None, state)?;
    Ok(Rmessage::Lopen(Rlopen { qid, iounit: 0 }).into())
}

pub(super) fn lcreate(s: &mut ConnState<'_>, t: &Tlcreate<'_>) -> Result<Answer<'static>> {
    let f = s.fids.get(t.fid)?;
    if f.is_open() {
        return Err(Errno::BADF.into());
    }
    let name = check_name(t.name)?;
    crate::path::check_join(f.node.path(), name)?;
    let flags = open_flags(t.flags)
        | (OFlags::from_bits_retain(dotl_to_host_oflags(t.flags) as u32) & OFlags::EXCL);
    let creds = f.acting.creds(t.gid);
    let (node, fd) =
        s.server
            .backend()
            .create(NewEntry::new(&f.node, name, creds), flags, t.mode)?;
    let a = Attr::of(fd.as_fd())?;
    let qid = s.server.qids().qid(&a);
    s.fids
        .set_state(t.fid, Some(node), FidState::File { fd, flags })?;
    Ok(Rmessage::Lcreate(Rlcreate { qid, iounit: 0 }).into())
}

pub(super) fn read<'a>(s: &'a mut ConnState<'_>, t: &Tread) -> Result<Answer<'a>> {
    let count = t.count.min(max_io_count(s.msize)) as usize;
    let data = match &s.fids.get(t.fid)?.state {
        FidState::File { fd, flags } => {
            if flags.contains(OFlags::WRONLY) {
                return Err(Errno::BADF.into());
            }
            ReadData::File {
                fid: t.fid,
                fd: fd.as_fd(),
                offset: t.offset,
                count,
            }
        }
        FidState::Dir { .. } => return Err(Errno::ISDIR.into()),
        FidState::XattrRead(value) => ReadData::Bytes(xattr::read(value, t.offset, count)),
        FidState::Walked | FidState::XattrWrite(_) => return Err(Errno::BADF.into()),
    };
    Ok(Answer::Read(data))
}

pub(super) fn write(s: &mut ConnState<'_>, t: &Twrite<'_>) -> Result<Answer<'static>> {
    let n = match s.fids.state_mut(t.fid)? {
        FidState::File { fd, .. } => rustix::io::pwrite(fd.as_fd(), t.data, t.offset)?,
        FidState::XattrWrite(w) => w.write(t.offset, t.data)?,
        FidState::Dir { .. } => return Err(Errno::ISDIR.into()),
        FidState::Walked | FidState::XattrRead(_) => return Err(Errno::BADF.into()),
    };
    let count = u32::try_from(n).map_err(|_| Errno::OVERFLOW)?;
    Ok(Rmessage::Write(Rwrite { count }).into())
}

pub(super) fn readdir<'a>(s: &'a mut ConnState<'_>, t: &Treaddir) -> Result<Answer<'a>> {
    let budget = t.count.min(max_readdir_count(s.msize)) as usize;
    let ConnState {
        server,
        fids,
        scratch,
        ..
    } = s;
    let (fd, dev) = match &fids.get(t.fid)?.state {
        FidState::Dir { fd, dev } => (fd.as_fd(), *dev),
        FidState::File { .. } => return Err(Errno::NOTDIR.into()),
        _ => return Err(Errno::BADF.into()),
    };
    let backend = server.backend();
    Ok(Answer::Readdir(DirEntries {
        fd,
        dev,
        offset: t.offset,
        budget,
        view: readdir::View {
            hidden: backend.hidden_names(),
            types: backend.dirent_types(),
        },
        qids: server.qids(),
        scratch,
    }))
}

/// The open fd of a fid (file or directory).
fn open_fd<'f>(s: &'f ConnState<'_>, fid: u32) -> Result<BorrowedFd<'f>> {
    match &s.fids.get(fid)?.state {
        FidState::File { fd, .. } | FidState::Dir { fd, .. } => Ok(fd.as_fd()),
        _ => Err(Errno::BADF.into()),
    }
}

pub(super) fn fsync(s: &mut ConnState<'_>, t: &Tfsync) -> Result<Answer<'static>> {
    let fd = open_fd(s, t.fid)?;
    if t.datasync != 0 {
        rustix::fs::fdatasync(fd)?;
    } else {
        rustix::fs::fsync(fd)?;
    }
    Ok(Rmessage::Fsync.into())
}

pub(super) fn lock(s: &mut ConnState<'_>, tag: u16, t: &Tlock<'_>) -> Result<Answer<'static>> {
    let range = Range {
        ty: t.ty,
        start: t.start,
        length: t.length,
        proc_id: t.proc_id,
    };
    let status = s.fids.lock(t.fid, &range)?;
    let wait = s.server.config().lock_wait;
    if status == p9_wire::P9_LOCK_BLOCKED
        && t.flags & p9_wire::P9_LOCK_FLAGS_BLOCK != 0
        && !wait.is_zero()
        && s.pending_locks.len() < MAX_PENDING_LOCKS
    {
        // Answered when granted (or at the deadline); the connection goes on meanwhile.
        s.pending_locks
            .push(PendingLock::new(tag, t.fid, range, wait));
        return Ok(Answer::Pending);
    }
    Ok(Rmessage::Lock(Rlock { status }).into())
}

pub(super) fn getlock<'a>(s: &mut ConnState<'_>, t: &Tgetlock<'a>) -> Result<Answer<'a>> {
    let fd = open_fd(s, t.fid)?;
    let r = lock::getlock(
        fd,
        &Range {
            ty: t.ty,
            start: t.start,
            length: t.length,
            proc_id: t.proc_id,
        },
    )?;
    let reply = Rmessage::Getlock(Rgetlock {
        ty: r.ty,
        start: r.start,
        length: r.length,
        proc_id: r.proc_id,
        client_id: t.client_id,
    });
    Ok(reply.into())
}
