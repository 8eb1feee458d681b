//! Tlopen, Tlcreate, Tread, Twrite, Treaddir, Tfsync, Tlock, Tgetlock: the server's own
//! work on the open fds its backend handed out.

use std::os::fd::{AsFd, BorrowedFd};

use confined_fs::check_name;
use p9_wire::{
    begin_rread, begin_rreaddir, dotl_to_host_oflags, finish_rread, finish_rreaddir, max_io_count,
    max_readdir_count, Rgetlock, Rlcreate, Rlock, Rlopen, Rmessage, Rwrite, Tfsync, Tgetlock,
    Tlcreate, Tlock, Tlopen, Tread, Treaddir, Twrite,
};
use rustix::fs::OFlags;
use rustix::io::Errno;

use crate::backend::{Attr, AttrExt, NewEntry};
use crate::error::Result;
use crate::fid::FidState;
use crate::lock::{self, Range};
use crate::session::{PendingLock, Session};

/// Most blocking locks waiting at once on one connection; more are answered `BLOCKED`.
const MAX_PENDING_LOCKS: usize = 1024;
use crate::{io, readdir, xattr};

/// Host open flags for a client's `P9_DOTL_*` flags: creation bits, `O_NOCTTY`,
/// `O_ASYNC` and `O_DIRECT` (a buffer alignment the server cannot promise) dropped.
fn open_flags(dotl: u32) -> OFlags {
    let host = dotl_to_host_oflags(dotl)
        & !(libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY | libc::O_ASYNC | libc::O_DIRECT);
    OFlags::from_bits_retain(host as u32)
}

pub(super) fn lopen(s: &mut Session<'_>, tag: u16, t: &Tlopen, out: &mut Vec<u8>) -> Result<()> {
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
    s.reply(tag, &Rmessage::Lopen(Rlopen { qid, iounit: 0 }), out)
}

pub(super) fn lcreate(
    s: &mut Session<'_>,
    tag: u16,
    t: &Tlcreate<'_>,
    out: &mut Vec<u8>,
) -> Result<()> {
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
    s.reply(tag, &Rmessage::Lcreate(Rlcreate { qid, iounit: 0 }), out)
}

pub(super) fn read(s: &mut Session<'_>, tag: u16, t: &Tread, out: &mut Vec<u8>) -> Result<()> {
    let count = t.count.min(max_io_count(s.msize)) as usize;
    let f = s.fids.get(t.fid)?;
    if let FidState::File { fd, flags } = &f.state {
        // Errors must be known before the header goes out.
        if flags.contains(OFlags::WRONLY) {
            return Err(Errno::BADF.into());
        }
        if count >= io::SENDFILE_MIN {
            // Large reads go from the page cache to the transport with sendfile: the
            // session sends this header, then the file's bytes.
            let size = Attr::of(fd.as_fd())?.size;
            let n = (size.saturating_sub(t.offset)).min(count as u64) as usize;
            if n >= io::SENDFILE_MIN {
                io::rread_header(tag, n, out)?;
                s.deferred = Some(io::FileSegment {
                    fid: t.fid,
                    offset: t.offset,
                    len: n,
                });
                return Ok(());
            }
        }
    }
    let start = begin_rread(tag, out);
    let n = match &f.state {
        FidState::File { fd, .. } => io::pread_append(fd.as_fd(), out, count, t.offset)?,
        FidState::Dir { .. } => return Err(Errno::ISDIR.into()),
        FidState::XattrRead(value) => {
            let data = xattr::read(value, t.offset, count);
            out.extend_from_slice(data);
            data.len()
        }
        FidState::Walked | FidState::XattrWrite(_) => return Err(Errno::BADF.into()),
    };
    finish_rread(out, start, n)?;
    Ok(())
}

pub(super) fn write(
    s: &mut Session<'_>,
    tag: u16,
    t: &Twrite<'_>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let n = match s.fids.state_mut(t.fid)? {
        FidState::File { fd, .. } => rustix::io::pwrite(fd.as_fd(), t.data, t.offset)?,
        FidState::XattrWrite(w) => w.write(t.offset, t.data)?,
        FidState::Dir { .. } => return Err(Errno::ISDIR.into()),
        FidState::Walked | FidState::XattrRead(_) => return Err(Errno::BADF.into()),
    };
    let count = u32::try_from(n).map_err(|_| Errno::OVERFLOW)?;
    s.reply(tag, &Rmessage::Write(Rwrite { count }), out)
}

pub(super) fn readdir(
    s: &mut Session<'_>,
    tag: u16,
    t: &Treaddir,
    out: &mut Vec<u8>,
) -> Result<()> {
    let budget = t.count.min(max_readdir_count(s.msize)) as usize;
    let f = s.fids.get(t.fid)?;
    let (fd, dev) = match &f.state {
        FidState::Dir { fd, dev } => (fd.as_fd(), *dev),
        FidState::File { .. } => return Err(Errno::NOTDIR.into()),
        _ => return Err(Errno::BADF.into()),
    };
    let backend = s.server.backend();
    let view = readdir::View {
        hidden: backend.hidden_names(),
        types: backend.dirent_types(),
    };
    let start = begin_rreaddir(tag, out);
    readdir::fill(
        fd,
        dev,
        t.offset,
        budget,
        view,
        s.server.qids(),
        &mut s.scratch,
        out,
    )?;
    finish_rreaddir(out, start)?;
    Ok(())
}

/// The open fd of a fid (file or directory).
fn open_fd<'f>(s: &'f Session<'_>, fid: u32) -> Result<BorrowedFd<'f>> {
    match &s.fids.get(fid)?.state {
        FidState::File { fd, .. } | FidState::Dir { fd, .. } => Ok(fd.as_fd()),
        _ => Err(Errno::BADF.into()),
    }
}

pub(super) fn fsync(s: &mut Session<'_>, tag: u16, t: &Tfsync, out: &mut Vec<u8>) -> Result<()> {
    let fd = open_fd(s, t.fid)?;
    if t.datasync != 0 {
        rustix::fs::fdatasync(fd)?;
    } else {
        rustix::fs::fsync(fd)?;
    }
    s.reply(tag, &Rmessage::Fsync, out)
}

pub(super) fn lock(s: &mut Session<'_>, tag: u16, t: &Tlock<'_>, out: &mut Vec<u8>) -> Result<()> {
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
        return Ok(());
    }
    s.reply(tag, &Rmessage::Lock(Rlock { status }), out)
}

pub(super) fn getlock(
    s: &mut Session<'_>,
    tag: u16,
    t: &Tgetlock<'_>,
    out: &mut Vec<u8>,
) -> Result<()> {
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
    s.reply(tag, &reply, out)
}
