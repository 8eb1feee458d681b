//! What a handler answers: a message, or where the data of an Rread or Rreaddir is to
//! be taken from, or nothing yet. The session encodes it into its reply buffer, so the
//! data goes from the file straight into the frame (or, for large reads, from the page
//! cache to the socket) and handlers never see the transport.

use std::mem::MaybeUninit;
use std::os::fd::BorrowedFd;

use p9_wire::Rmessage;

use crate::engine::qid::QidMap;
use crate::engine::readdir::{self, View};
use crate::error::Result;

/// The answer to one request.
#[derive(Debug)]
pub(crate) enum Answer<'a> {
    /// This message.
    Reply(Rmessage<'a>),
    /// An Rreadlink with this target.
    Readlink(Vec<u8>),
    /// An Rread carrying this data.
    Read(ReadData<'a>),
    /// An Rreaddir carrying these entries.
    Readdir(DirEntries<'a>),
    /// Nothing yet: a blocking Tlock waits as a pending lock of the connection
    /// ([`crate::engine::state::ConnState::retry_locks`] answers it).
    Pending,
}

impl<'a> From<Rmessage<'a>> for Answer<'a> {
    fn from(m: Rmessage<'a>) -> Answer<'a> {
        Answer::Reply(m)
    }
}

/// The data of an Rread.
#[derive(Debug)]
pub(crate) enum ReadData<'a> {
    /// At most `count` bytes from `offset` of the open file `fd` (the fid `fid`).
    File {
        /// The fid read.
        fid: u32,
        /// Its open file.
        fd: BorrowedFd<'a>,
        /// Where from.
        offset: u64,
        /// How many bytes at most (already bounded by the msize).
        count: usize,
    },
    /// These bytes (part of an xattr value).
    Bytes(&'a [u8]),
}

/// The entries of an Rreaddir: those of the open directory `fd` from `offset`, at most
/// `budget` bytes of them.
#[derive(Debug)]
pub(crate) struct DirEntries<'a> {
    pub fd: BorrowedFd<'a>,
    pub dev: u64,
    pub offset: u64,
    pub budget: usize,
    pub view: View,
    pub qids: &'a QidMap,
    pub scratch: &'a mut Vec<MaybeUninit<u8>>,
}

impl DirEntries<'_> {
    /// Appends the entries to `out` (after an Rreaddir header).
    pub fn fill(self, out: &mut Vec<u8>) -> Result<()> {
        readdir::fill(
            self.fd,
            self.dev,
            self.offset,
            self.budget,
            self.view,
            self.qids,
            self.scratch,
            out,
        )
    }
}
