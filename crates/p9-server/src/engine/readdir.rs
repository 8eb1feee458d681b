//! Treaddir: directory entries with offsets that stay valid across calls.
//!
//! The offset of each entry is the kernel's own `d_off` cookie from `getdents64` (the
//! position *after* that entry), and every Treaddir seeks the directory to the offset
//! the client sends (0 to start over) before reading. Entries that did not fit in a
//! reply are simply read again by the next call, so nothing is cached per fid and any
//! offset handed out stays usable, whatever the client does in between.

use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;

use p9_wire::{dirent_type_from_mode, DirEntry, DirEntryWriter, Qid};
use rustix::fs::{FileType, RawDir, SeekFrom};
use rustix::io::Errno;

use crate::engine::qid::QidMap;
use crate::error::Result;

/// Smallest getdents buffer: one entry with a 255-byte name always fits.
const MIN_GETDENTS: usize = 4096;
/// Largest getdents buffer per call.
const MAX_GETDENTS: usize = 256 * 1024;

/// What the backend lets the client see of a directory.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// Names skipped (the mapped models' metadata).
    pub hidden: &'static [&'static [u8]],
    /// Whether entry types are reported (else `DT_UNKNOWN`, and the qid type is a file's).
    pub types: bool,
}

/// Appends the entries of the open directory `fd` from `offset` to `out`, at most
/// `budget` bytes of them. `scratch` is a reusable getdents buffer; `dev` is the
/// directory's device (for the qids).
#[allow(clippy::too_many_arguments)]
pub fn fill(
    fd: BorrowedFd<'_>,
    dev: u64,
    offset: u64,
    budget: usize,
    view: View,
    qids: &QidMap,
    scratch: &mut Vec<MaybeUninit<u8>>,
    out: &mut Vec<u8>,
) -> Result<()> {
    let pos = i64::try_from(offset).map_err(|_| Errno::INVAL)?;
    rustix::fs::seek(fd, SeekFrom::Start(pos as u64))?;
    // getdents64 entries take about as many bytes as 9P ones: read about one reply's
    // worth, so little is read twice.
    let want = budget.clamp(MIN_GETDENTS, MAX_GETDENTS);
    if scratch.len() < want {
        scratch.resize(want, MaybeUninit::uninit());
    }
    let mut w = DirEntryWriter::new(out, budget);
    let mut dir = RawDir::new(fd, &mut scratch[..want]);
    while let Some(entry) = dir.next() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if !view.hidden.is_empty() && view.hidden.contains(&name) {
            continue;
        }
        let ty = entry.file_type();
        let mode = if ty == FileType::Unknown || !view.types {
            0
        } else {
            ty.as_raw_mode()
        };
        let e = DirEntry {
            qid: Qid {
                ty: p9_wire::qid_type_from_mode(mode),
                version: 0,
                path: qids.path(dev, entry.ino()),
            },
            offset: entry.next_entry_cookie(),
            ty: dirent_type_from_mode(mode),
            name,
        };
        if !w.push(&e)? {
            break;
        }
        if w.remaining() < p9_wire::DIRENT_FIXED_SIZE {
            break;
        }
    }
    Ok(())
}
