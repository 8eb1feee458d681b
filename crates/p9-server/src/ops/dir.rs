//! Tmkdir, Tsymlink, Tmknod, Tlink, Trename, Trenameat, Tunlinkat: changes to
//! directories, through the backend, on validated names.

use confined_fs::{check_name, Credentials};
use p9_wire::{
    Rmessage, Rmkdir, Rmknod, Rsymlink, Tlink, Tmkdir, Tmknod, Trename, Trenameat, Tsymlink,
    Tunlinkat, P9_DOTL_AT_REMOVEDIR,
};
use rustix::io::Errno;

use super::parent_of;
use crate::backend::NewEntry;
use crate::error::Result;
use crate::path;
use crate::session::Session;

/// The directory fid `dfid`, and the credentials of creations in it.
fn creds(s: &Session<'_>, dfid: u32, gid: u32) -> Result<Credentials> {
    Ok(s.fids.get(dfid)?.acting.creds(gid))
}

pub(super) fn mkdir(
    s: &mut Session<'_>,
    tag: u16,
    t: &Tmkdir<'_>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let creds = creds(s, t.dfid, t.gid)?;
    let name = check_name(t.name)?;
    let dir = &s.fids.get(t.dfid)?.node;
    let a = s
        .server
        .backend()
        .mkdir(NewEntry::new(dir, name, creds), t.mode)?;
    let qid = s.server.qids().qid(&a);
    s.reply(tag, &Rmessage::Mkdir(Rmkdir { qid }), out)
}

pub(super) fn symlink(
    s: &mut Session<'_>,
    tag: u16,
    t: &Tsymlink<'_>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let creds = creds(s, t.dfid, t.gid)?;
    let name = check_name(t.name)?;
    if t.symtgt.is_empty() {
        return Err(Errno::NOENT.into());
    }
    let dir = &s.fids.get(t.dfid)?.node;
    let a = s
        .server
        .backend()
        .symlink(NewEntry::new(dir, name, creds), t.symtgt)?;
    let qid = s.server.qids().qid(&a);
    s.reply(tag, &Rmessage::Symlink(Rsymlink { qid }), out)
}

pub(super) fn mknod(
    s: &mut Session<'_>,
    tag: u16,
    t: &Tmknod<'_>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let creds = creds(s, t.dfid, t.gid)?;
    let name = check_name(t.name)?;
    let dir = &s.fids.get(t.dfid)?.node;
    let rdev = rustix::fs::makedev(t.major, t.minor);
    let a = s
        .server
        .backend()
        .mknod(NewEntry::new(dir, name, creds), t.mode, rdev)?;
    let qid = s.server.qids().qid(&a);
    s.reply(tag, &Rmessage::Mknod(Rmknod { qid }), out)
}

pub(super) fn link(s: &mut Session<'_>, tag: u16, t: &Tlink<'_>, out: &mut Vec<u8>) -> Result<()> {
    let name = check_name(t.name)?;
    let dir = &s.fids.get(t.dfid)?.node;
    let node = &s.fids.get(t.fid)?.node;
    s.server.backend().link(node, dir, name)?;
    s.reply(tag, &Rmessage::Link, out)
}

pub(super) fn rename(
    s: &mut Session<'_>,
    tag: u16,
    t: &Trename<'_>,
    out: &mut Vec<u8>,
) -> Result<()> {
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
    s.reply(tag, &Rmessage::Rename, out)
}

pub(super) fn renameat(
    s: &mut Session<'_>,
    tag: u16,
    t: &Trenameat<'_>,
    out: &mut Vec<u8>,
) -> Result<()> {
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
    s.reply(tag, &Rmessage::Renameat, out)
}

pub(super) fn unlinkat(
    s: &mut Session<'_>,
    tag: u16,
    t: &Tunlinkat<'_>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let name = check_name(t.name)?;
    if t.flags & !P9_DOTL_AT_REMOVEDIR != 0 {
        return Err(Errno::INVAL.into());
    }
    let dir = &s.fids.get(t.dirfid)?.node;
    s.server
        .backend()
        .unlink(dir, name, t.flags & P9_DOTL_AT_REMOVEDIR != 0)?;
    s.reply(tag, &Rmessage::Unlinkat, out)
}
