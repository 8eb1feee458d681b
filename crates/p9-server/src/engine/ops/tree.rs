//! Tversion, Tattach, Twalk, Tclunk, Tremove.

use confined_fs::check_name;
use p9_wire::{
    negotiate_version, Rattach, Rmessage, Rversion, Rwalk, Tattach, Tversion, Twalk, WalkVec,
    NONUNAME, VERSION_UNKNOWN,
};
use rustix::io::Errno;

use super::{node_qid, parent_of, MIN_MSIZE};
use crate::backend::{Attr, AttrExt, Node};
use crate::engine::answer::Answer;
use crate::engine::fid::{Acting, Fid, FidState};
use crate::engine::state::ConnState;
use crate::error::Result;
use crate::path;
use crate::transport::peer::Authority;
use std::sync::Arc;

pub(super) fn version(s: &mut ConnState<'_>, t: &Tversion<'_>) -> Result<Answer<'static>> {
    // A Tversion starts a new session: every fid and waiting lock is forgotten.
    s.pending_locks.clear();
    drop(s.fids.clear());
    let msize = t.msize.min(s.cap);
    let version = negotiate_version(t.version);
    if version == VERSION_UNKNOWN || t.msize < MIN_MSIZE {
        if t.msize < MIN_MSIZE {
            tracing::warn!(msize = t.msize, min = MIN_MSIZE, "Tversion msize too small");
        }
        s.msize = 0;
        let r = Rmessage::Version(Rversion {
            msize,
            version: VERSION_UNKNOWN,
        });
        return Ok(r.into());
    }
    s.msize = msize;
    Ok(Rmessage::Version(Rversion { msize, version }).into())
}

pub(super) fn attach(s: &mut ConnState<'_>, t: &Tattach<'_>) -> Result<Answer<'static>> {
    if !t.aname.is_empty() && !s.server.config().anames.iter().any(|a| a == t.aname) {
        return Err(Errno::NOENT.into());
    }
    s.fids.check_new(t.fid)?;
    let claimed = if t.n_uname == NONUNAME {
        s.server.config().default_uid
    } else {
        t.n_uname
    };
    // Whom the new fid acts as: the connection's authority decides (a trusted peer is
    // who it claims, any other its own kernel-given self), then the backend's id maps.
    let policy = &s.server.config().policy;
    let client = match s.authority.attach_as(claimed, &policy.users) {
        Ok(c) => c,
        Err(e) => {
            s.close_after_reply = true;
            return Err(e.into());
        }
    };
    let backend = s.server.backend();
    let host = Arc::new(backend.actor(client.clone())?);
    backend.act_as(&host)?;
    let acting = Arc::new(Acting {
        client,
        host,
        any_group: s.authority == Authority::Anyone,
    });
    let root = backend.root()?;
    let (qid, _) = node_qid(s, &root)?;
    s.fids.insert_new(t.fid, Fid::walked(root, acting))?;
    s.attached = true;
    Ok(Rmessage::Attach(Rattach { qid }).into())
}

/// One step of a walk from `node`.
fn step(s: &ConnState<'_>, node: &Node, name: &[u8]) -> Result<Node> {
    let backend = s.server.backend();
    if name == b"." {
        // `.` stays (Linux never sends it; diod's tools do, and diod answers so).
        if !Attr::of(node.fd())?.is_dir() {
            return Err(Errno::NOTDIR.into());
        }
        return Ok(node.clone());
    }
    if name == b".." {
        // `..` is the parent *path*, never the parent of the export.
        if !Attr::of(node.fd())?.is_dir() {
            return Err(Errno::NOTDIR.into());
        }
        if node.is_root() {
            return Ok(node.with_path(path::ROOT.to_vec()));
        }
        return Ok(backend.lookup(path::parent(node.path()))?);
    }
    let name = check_name(name)?;
    path::check_join(node.path(), name)?;
    Ok(backend.walk(node, name)?)
}

pub(super) fn walk(s: &mut ConnState<'_>, t: &Twalk<'_>) -> Result<Answer<'static>> {
    let from = s.fids.get(t.fid)?;
    let acting = std::sync::Arc::clone(&from.acting);
    let mut node = from.node.clone();
    if t.newfid != t.fid {
        s.fids.check_new(t.newfid)?;
    }
    let mut wqids = WalkVec::new();
    for (i, name) in t.wnames.iter().enumerate() {
        let next = step(s, &node, name).and_then(|n| node_qid(s, &n).map(|(q, _)| (n, q)));
        match next {
            Ok((n, qid)) => {
                node = n;
                wqids.push(qid)?;
            }
            Err(e) if i == 0 => return Err(e),
            // A partial walk: the qids reached, and newfid is not made.
            Err(_) => break,
        }
    }
    if wqids.len() == t.wnames.len() {
        s.fids.replace(t.newfid, Fid::walked(node, acting))?;
    }
    Ok(Rmessage::Walk(Rwalk { wqids }).into())
}

pub(super) fn clunk(s: &mut ConnState<'_>, fid: u32) -> Result<Answer<'static>> {
    let mut f = s.fids.remove(fid)?;
    // Only an xattr being written is taken out of the fid: an open file stays in it
    // until it drops, which releases its locks first.
    if matches!(f.state, FidState::XattrWrite(_)) {
        if let FidState::XattrWrite(w) = std::mem::replace(&mut f.state, FidState::Walked) {
            w.commit(s.server.backend(), &f.node)?;
        }
    }
    Ok(Rmessage::Clunk.into())
}

pub(super) fn remove(s: &mut ConnState<'_>, fid: u32) -> Result<Answer<'static>> {
    // The fid is clunked whether or not the removal works.
    let f = s.fids.remove(fid)?;
    if f.node.is_root() {
        return Err(Errno::BUSY.into());
    }
    let is_dir = Attr::of(f.node.fd())?.is_dir();
    let (dir, name) = parent_of(s, &f.node)?;
    s.server
        .backend()
        .unlink(&dir, check_name(&name)?, is_dir)?;
    Ok(Rmessage::Remove.into())
}
