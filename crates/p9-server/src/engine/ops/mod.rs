//! One function per request: each works on the connection's [`ConnState`] and returns
//! what to answer ([`Answer`]), or the error the session answers as `Rlerror`.

mod dir;
mod file;
mod meta;
mod tree;

use p9_wire::{Rmessage, Tmessage};
use rustix::io::Errno;

use crate::backend::{Attr, AttrExt, Node};
use crate::engine::answer::Answer;
use crate::engine::state::ConnState;
use crate::error::Result;

/// The smallest msize the server negotiates: a page of data plus the I/O header,
/// as the Linux client itself requires.
pub const MIN_MSIZE: u32 = 4096 + p9_wire::IOHDRSZ;

/// What to answer to `msg` (tagged `tag`); the answer may borrow from the state (an
/// open file to read) and from the request.
pub(crate) fn dispatch<'a>(
    s: &'a mut ConnState<'_>,
    tag: u16,
    msg: &'a Tmessage<'a>,
) -> Result<Answer<'a>> {
    if s.msize == 0 && !matches!(msg, Tmessage::Version(_)) {
        // Nothing but Tversion before a version is agreed.
        return Err(Errno::PROTO.into());
    }
    // Every operation on a fid runs as the identity that fid acts as.
    if let Some(fid) = acting_fid(msg) {
        if let Ok(f) = s.fids.get(fid) {
            s.server.backend().act_as(&f.acting.host)?;
        }
    }
    match msg {
        Tmessage::Version(t) => tree::version(s, t),
        Tmessage::Auth(_) => {
            // ENOENT is how 9P2000.L servers say "no authentication required": diod
            // answers so, and its client library (diodls, diodcat...) depends on it.
            tracing::debug!("Tauth: no authentication is required; answering ENOENT");
            Err(Errno::NOENT.into())
        }
        Tmessage::Attach(t) => tree::attach(s, t),
        Tmessage::Flush(t) => {
            // Requests are answered in order, except blocking locks still waiting: a
            // flushed one is dropped unanswered.
            s.pending_locks.retain(|p| p.tag != t.oldtag);
            Ok(Rmessage::Flush.into())
        }
        Tmessage::Walk(t) => tree::walk(s, t),
        Tmessage::Clunk(t) => tree::clunk(s, t.fid),
        Tmessage::Remove(t) => tree::remove(s, t.fid),
        Tmessage::Lopen(t) => file::lopen(s, t),
        Tmessage::Lcreate(t) => file::lcreate(s, t),
        Tmessage::Read(t) => file::read(s, t),
        Tmessage::Write(t) => file::write(s, t),
        Tmessage::Readdir(t) => file::readdir(s, t),
        Tmessage::Fsync(t) => file::fsync(s, t),
        Tmessage::Lock(t) => file::lock(s, tag, t),
        Tmessage::Getlock(t) => file::getlock(s, t),
        Tmessage::Getattr(t) => meta::getattr(s, t),
        Tmessage::Setattr(t) => meta::setattr(s, t),
        Tmessage::Statfs(t) => meta::statfs(s, t.fid),
        Tmessage::Readlink(t) => meta::readlink(s, t.fid),
        Tmessage::Xattrwalk(t) => meta::xattrwalk(s, t),
        Tmessage::Xattrcreate(t) => meta::xattrcreate(s, t),
        Tmessage::Mkdir(t) => dir::mkdir(s, t),
        Tmessage::Symlink(t) => dir::symlink(s, t),
        Tmessage::Mknod(t) => dir::mknod(s, t),
        Tmessage::Link(t) => dir::link(s, t),
        Tmessage::Rename(t) => dir::rename(s, t),
        Tmessage::Renameat(t) => dir::renameat(s, t),
        Tmessage::Unlinkat(t) => dir::unlinkat(s, t),
    }
}

/// The fid whose identity a request acts as: the one it names first (a request naming
/// two fids, as link and rename do, acts as the first: every permission the kernel
/// checks is then checked for that identity, whoever walked the other).
fn acting_fid(msg: &Tmessage<'_>) -> Option<u32> {
    Some(match msg {
        Tmessage::Version(_) | Tmessage::Auth(_) | Tmessage::Attach(_) | Tmessage::Flush(_) => {
            return None
        }
        Tmessage::Walk(t) => t.fid,
        Tmessage::Clunk(t) => t.fid,
        Tmessage::Remove(t) => t.fid,
        Tmessage::Lopen(t) => t.fid,
        Tmessage::Lcreate(t) => t.fid,
        Tmessage::Read(t) => t.fid,
        Tmessage::Write(t) => t.fid,
        Tmessage::Readdir(t) => t.fid,
        Tmessage::Fsync(t) => t.fid,
        Tmessage::Lock(t) => t.fid,
        Tmessage::Getlock(t) => t.fid,
        Tmessage::Getattr(t) => t.fid,
        Tmessage::Setattr(t) => t.fid,
        Tmessage::Statfs(t) => t.fid,
        Tmessage::Readlink(t) => t.fid,
        Tmessage::Xattrwalk(t) => t.fid,
        Tmessage::Xattrcreate(t) => t.fid,
        Tmessage::Mkdir(t) => t.dfid,
        Tmessage::Symlink(t) => t.dfid,
        Tmessage::Mknod(t) => t.dfid,
        Tmessage::Link(t) => t.dfid,
        Tmessage::Rename(t) => t.fid,
        Tmessage::Renameat(t) => t.olddirfid,
        Tmessage::Unlinkat(t) => t.dirfid,
    })
}

/// The qid of `node` (by default an `fstat` of its fd; the mapped models give the type
/// the client sees).
fn node_qid(s: &ConnState<'_>, node: &Node) -> Result<(p9_wire::Qid, Attr)> {
    let a = s.server.backend().getattr(node)?;
    Ok((s.server.qids().qid(&a), a))
}

/// Finds the directory holding `node` and its name there, checking that the name still
/// refers to the same inode (`ESTALE` if the tree changed under the fid's path).
fn parent_of(s: &ConnState<'_>, node: &Node) -> Result<(Node, Vec<u8>)> {
    let name = crate::path::last(node.path()).ok_or(Errno::BUSY)?.to_vec();
    let backend = s.server.backend();
    let dir = backend.lookup(crate::path::parent(node.path()))?;
    let here = backend.walk(&dir, confined_fs::check_name(&name)?)?;
    let (a, b) = (Attr::of(node.fd())?, Attr::of(here.fd())?);
    if (a.dev, a.ino) != (b.dev, b.ino) {
        return Err(Errno::STALE.into());
    }
    Ok((dir, name))
}
