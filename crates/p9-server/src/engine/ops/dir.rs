//! Tmkdir, Tsymlink, Tmknod, Tlink, Trename, Trenameat, Tunlinkat: changes to
//! directories, through the backend, on validated names.

use confined_fs::check_name;
use p9_wire::{
    Qid, Rmessage, Rmkdir, Rmknod, Rsymlink, Tlink, Tmkdir, Tmknod, Trename, Trenameat, Tsymlink,
    Tunlinkat, P9_DOTL_AT_REMOVEDIR,
};
use rustix::io::Errno;

use super::parent_of;
use crate::backend::{Attr, Backend, NewEntry};
use crate::engine::answer::Answer;
use crate::engine::state::ConnState;
use crate::error::Result;
use crate::path;

/// Makes `name` in the directory fid `dfid` with `make` (given the backend and the new
/// entry: the directory, the checked name and the credentials of the fid's identity with
/// `gid`); the qid of what it made.
fn create_in(
    s: &ConnState<'_>,
    dfid: u32,
    gid: u32,
    name: &[u8],
    make: impl FnOnce(&dyn Backend, NewEntry) -> Result<Attr>,
) -> Result<Qid> {
    let f = s.fids.get(dfid)?;
    let creds = f.acting.creds(gid);
    let name = check_name(name)?;
    let a = make(s.server.backend(), NewEntry::new(&f.node, name, creds))?;
    Ok(s.server.qids().qid(&a))
}

pub(super) fn mkdir(s: &mut ConnState<'_>, t: &Tmkdir<'_>) -> Result<Answer<'static>> {
    let qid = create_in(s, t.dfid, t.gid, t.name, |b, new| Ok(b.mkdir(new, t.mode)?))?;
    Ok(Rmessage::Mkdir(Rmkdir { qid }).into())
}

pub(super) fn symlink(s: &mut ConnState<'_>, t: &Tsymlink<'_>) -> Result<Answer<'static>> {
    let qid = create_in(s, t.dfid, t.gid, t.name, |b, new| {
        if t.symtgt.is_empty() {
            return Err(Errno::NOENT.into());
        }
        Ok(b.symlink(new, t.symtgt)?)
    })?;
    Ok(Rmessage::Symlink(Rsymlink { qid }).into())
}

pub(super) fn mknod(s: &mut ConnState<'_>, t: &Tmknod<'_>) -> Result<Answer<'static>> {
    let qid = create_in(s, t.dfid, t.gid, t.name, |b, new| {
        let rdev = rustix::fs::makedev(t.major, t.minor);
        Ok(b.mknod(new, t.mode, rdev)?)
    })?;
    Ok(Rmessage::Mknod(Rmknod { qid }).into())
}

pub(super) fn link(s: &mut ConnState<'_>, t: &Tlink<'_>) -> Result<Answer<'static>> {
    let name = check_name(t.name)?;
    let dir = &s.fids.get(t.dfid)?.node;
    let node = &s.fids.get(t.fid)?.node;
    s.server.backend().link(node, dir, name)?;
    Ok(Rmessage::Link.into())
}

pub(super) fn rename(s: &mut ConnState<'_>, t: &Trename<'_>) -> Result<Answer<'static>> {
    let name = check_name(t.name)?;
    let node = s.fids.get(t.fid)?.node.clone();
    let newdir = s.fids.get(t.dfid)?.node.clone();
    if node.is_root() {
        return Err(Errno::BUSY.into());
    }
    let (olddir, oldname) = parent_of(s, &node)?;
    s.server
        .backend()
        .rename(&olddir, check_name(&oldname)?, &newdir, name)?;
    s.fids.rebase(node.path(), &path::join(newdir.path(), name));
    Ok(Rmessage::Rename.into())
}

pub(super) fn renameat(s: &mut ConnState<'_>, t: &Trenameat<'_>) -> Result<Answer<'static>> {
    let oldname = check_name(t.oldname)?;
    let newname = check_name(t.newname)?;
    let olddir = s.fids.get(t.olddirfid)?.node.clone();
    let newdir = s.fids.get(t.newdirfid)?.node.clone();
    s.server
        .backend()
        .rename(&olddir, oldname, &newdir, newname)?;
    s.fids.rebase(
        &path::join(olddir.path(), oldname),
        &path::join(newdir.path(), newname),
    );
    Ok(Rmessage::Renameat.into())
}

pub(super) fn unlinkat(s: &mut ConnState<'_>, t: &Tunlinkat<'_>) -> Result<Answer<'static>> {
    let name = check_name(t.name)?;
    if t.flags & !P9_DOTL_AT_REMOVEDIR != 0 {
        return Err(Errno::INVAL.into());
    }
    let dir = &s.fids.get(t.dirfid)?.node;
    s.server
        .backend()
        .unlink(dir, name, t.flags & P9_DOTL_AT_REMOVEDIR != 0)?;
    Ok(Rmessage::Unlinkat.into())
}
