//! Tgetattr, Tsetattr, Tstatfs, Treadlink, Txattrwalk, Txattrcreate.

use std::os::fd::AsFd;
use std::sync::Arc;

use p9_wire::*;
use rustix::fs::OFlags;
use rustix::io::Errno;

use crate::backend::SetTime;
use crate::engine::answer::Answer;
use crate::engine::fid::{Fid, FidState};
use crate::engine::state::ConnState;
use crate::engine::xattr::{self, XattrWrite};
use crate::error::Result;

pub(super) fn getattr(s: &mut ConnState<'_>, t: &Tgetattr) -> Result<Answer<'static>> {
    // The node's own fd: an unlinked but still open (or walked) file keeps working.
    let a = s.server.backend().getattr(&s.fids.get(t.fid)?.node)?;
    let r = Rgetattr {
        valid: P9_GETATTR_BASIC,
        qid: s.server.qids().qid(&a),
        mode: a.mode,
        uid: a.uid,
        gid: a.gid,
        nlink: a.nlink,
        rdev: a.rdev,
        size: a.size,
        blksize: a.blksize,
        blocks: a.blocks,
        atime_sec: a.atime_sec as u64,
        atime_nsec: a.atime_nsec as u64,
        mtime_sec: a.mtime_sec as u64,
        mtime_nsec: a.mtime_nsec as u64,
        ctime_sec: a.ctime_sec as u64,
        ctime_nsec: a.ctime_nsec as u64,
        ..Rgetattr::default()
    };
    Ok(Rmessage::Getattr(r).into())
}

fn set_time(valid: u32, change: u32, given: u32, sec: u64, nsec: u64) -> SetTime {
    if valid & change == 0 {
        SetTime::Omit
    } else if valid & given != 0 {
        SetTime::At(sec as i64, nsec as i64)
    } else {
        SetTime::Now
    }
}

pub(super) fn setattr(s: &mut ConnState<'_>, t: &Tsetattr) -> Result<Answer<'static>> {
    let f = s.fids.get(t.fid)?;
    let backend = s.server.backend();
    // Owner, then mode, then size, then times: one Tsetattr ends with exactly what it names
    // (a chown clears setuid/setgid bits the mode then sets; a truncate sets mtime, which
    // an explicit mtime then overrides). QEMU's order (mode, times, owner, size) loses both.
    // A ctime change alone has nothing to do (any other change sets it).
    if t.valid & (P9_SETATTR_UID | P9_SETATTR_GID) != 0 {
        let uid = (t.valid & P9_SETATTR_UID != 0).then_some(t.uid);
        let gid = (t.valid & P9_SETATTR_GID != 0).then_some(t.gid);
        backend.chown(&f.node, uid, gid)?;
    }
    if t.valid & P9_SETATTR_MODE != 0 {
        backend.chmod(&f.node, t.mode & 0o7777)?;
    }
    // A size change through an open fd (ftruncate) sets mtime and ctime to now by
    // itself: the "now" times that come with it need no path (which an unlinked file no
    // longer has, and the proxy backend needs).
    let truncates_by_fd = t.valid & P9_SETATTR_SIZE != 0
        && matches!(&f.state, FidState::File { flags, .. } if flags.intersects(OFlags::WRONLY | OFlags::RDWR));
    if t.valid & P9_SETATTR_SIZE != 0 {
        match &f.state {
            // An fd open for writing truncates with no lookup and no permission check
            // beyond the open's (as ftruncate(2) in the client).
            FidState::File { fd, .. } if truncates_by_fd => {
                rustix::fs::ftruncate(fd.as_fd(), t.size)?
            }
            _ => backend.truncate(&f.node, t.size)?,
        }
    }
    let times_implied = truncates_by_fd
        && t.valid & (P9_SETATTR_ATIME | P9_SETATTR_ATIME_SET | P9_SETATTR_MTIME_SET) == 0;
    if t.valid & (P9_SETATTR_ATIME | P9_SETATTR_MTIME) != 0 && !times_implied {
        let atime = set_time(
            t.valid,
            P9_SETATTR_ATIME,
            P9_SETATTR_ATIME_SET,
            t.atime_sec,
            t.atime_nsec,
        );
        let mtime = set_time(
            t.valid,
            P9_SETATTR_MTIME,
            P9_SETATTR_MTIME_SET,
            t.mtime_sec,
            t.mtime_nsec,
        );
        backend.utimens(&f.node, atime, mtime)?;
    }
    Ok(Rmessage::Setattr.into())
}

pub(super) fn statfs(s: &mut ConnState<'_>, fid: u32) -> Result<Answer<'static>> {
    let st = s.server.backend().statfs(&s.fids.get(fid)?.node)?;
    let r = Rstatfs {
        ty: st.fs_type,
        bsize: st.bsize,
        blocks: st.blocks,
        bfree: st.bfree,
        bavail: st.bavail,
        files: st.files,
        ffree: st.ffree,
        fsid: st.fsid,
        namelen: st.namelen,
    };
    Ok(Rmessage::Statfs(r).into())
}

pub(super) fn readlink(s: &mut ConnState<'_>, fid: u32) -> Result<Answer<'static>> {
    let target = s.server.backend().readlink(&s.fids.get(fid)?.node)?;
    Ok(Answer::Readlink(target))
}

pub(super) fn xattrwalk(s: &mut ConnState<'_>, t: &Txattrwalk<'_>) -> Result<Answer<'static>> {
    let f = s.fids.get(t.fid)?;
    let (node, acting) = (f.node.clone(), Arc::clone(&f.acting));
    if t.newfid != t.fid {
        s.fids.check_new(t.newfid)?;
    }
    let value = xattr::read_for_walk(s.server.backend(), &node, t.name)?;
    s.fids.check_xattr_budget(value.len())?;
    let size = value.len() as u64;
    s.fids
        .replace(t.newfid, Fid::new(node, acting, FidState::XattrRead(value)))?;
    Ok(Rmessage::Xattrwalk(Rxattrwalk { size }).into())
}

pub(super) fn xattrcreate(s: &mut ConnState<'_>, t: &Txattrcreate<'_>) -> Result<Answer<'static>> {
    if s.fids.get(t.fid)?.is_open() {
        return Err(Errno::BADF.into());
    }
    let w = XattrWrite::new(t.name, t.attr_size, t.flags)?;
    s.fids.check_xattr_budget(w.size())?;
    s.fids.set_state(t.fid, None, FidState::XattrWrite(w))?;
    Ok(Rmessage::Xattrcreate.into())
}
