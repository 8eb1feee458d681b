//! One connection's protocol state: what 9P2000.L makes a connection remember between
//! requests (the msize, the fids, the blocking locks still waiting, whom it may attach
//! as), apart from the transport that carries its requests.

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use p9_wire::P9_LOCK_BLOCKED;
use rustix::fs::OFlags;
use rustix::io::Errno;

use crate::engine::fid::{FidState, FidTable};
use crate::engine::lock::Range;
use crate::transport::peer::Authority;
use crate::Server;

/// The largest frame accepted before a version is agreed.
const PRE_VERSION_FRAME: u32 = 8192;
/// How soon a pending blocking lock is first tried again (besides whenever a lock is
/// released in this server); the delay doubles after each try, up to
/// [`LOCK_RETRY_MAX`] (for locks held outside the server, which cannot wake it).
const LOCK_RETRY: Duration = Duration::from_millis(10);
/// The longest delay between two tries of a pending blocking lock.
const LOCK_RETRY_MAX: Duration = Duration::from_secs(1);

/// The protocol state of one connection; the handlers ([`crate::engine::ops`]) work on
/// it and say what to answer, the session does the rest.
pub(crate) struct ConnState<'s> {
    /// The server this connection belongs to.
    pub server: &'s Server,
    /// The negotiated msize; 0 until a Tversion succeeds.
    pub msize: u32,
    /// The largest msize this transport allows.
    pub cap: u32,
    /// The connection's fids.
    pub fids: FidTable,
    /// A getdents buffer reused by Treaddir.
    pub scratch: Vec<MaybeUninit<u8>>,
    /// Blocking Tlocks waiting for their lock, oldest first.
    pub pending_locks: Vec<PendingLock>,
    /// What the peer may act as (from the kernel's word on who it is).
    pub authority: Authority,
    /// Close the connection once the replies so far are sent (a refused attach).
    pub close_after_reply: bool,
    /// Whether a Tattach has succeeded (the handshake is complete).
    pub attached: bool,
}

impl<'s> ConnState<'s> {
    /// A connection granting an msize of at most `cap`, whose peer has `authority`.
    pub fn new(server: &'s Server, cap: u32, authority: Authority) -> ConnState<'s> {
        ConnState {
            server,
            msize: 0,
            cap,
            fids: FidTable::new(server.config().max_fids, server.pools()),
            scratch: Vec::new(),
            pending_locks: Vec::new(),
            authority,
            close_after_reply: false,
            attached: false,
        }
    }

    /// The largest frame sent now.
    pub fn limit(&self) -> u32 {
        if self.msize == 0 {
            self.cap
        } else {
            self.msize
        }
    }

    /// The largest frame accepted now: until a version is agreed, only what a Tversion
    /// needs (a client cannot make the server hold msize-sized buffers unversioned).
    pub fn frame_limit(&self) -> u32 {
        if self.msize == 0 {
            PRE_VERSION_FRAME.min(self.cap)
        } else {
            self.msize
        }
    }

    /// The open fd of `fid` if it is a file, with the flags it was opened with.
    pub fn open_file(&self, fid: u32) -> Option<(BorrowedFd<'_>, OFlags)> {
        match &self.fids.get(fid).ok()?.state {
            FidState::File { fd, flags } => Some((fd.as_fd(), *flags)),
            _ => None,
        }
    }

    /// Tries again the pending blocking locks that are due (all of them if `woken`: a
    /// lock was released), handing `answer` the tag and outcome of each one granted,
    /// failed or expired (it is then no longer pending).
    pub fn retry_locks(&mut self, woken: bool, mut answer: impl FnMut(u16, Result<u8, Errno>)) {
        let now = Instant::now();
        let mut i = 0;
        while i < self.pending_locks.len() {
            let p = &self.pending_locks[i];
            if !woken && now < p.next && now < p.deadline {
                i += 1;
                continue;
            }
            let (fid, range) = (p.fid, p.range);
            let result = self.fids.lock(fid, &range);
            let p = &mut self.pending_locks[i];
            if matches!(result, Ok(P9_LOCK_BLOCKED)) && now < p.deadline {
                p.delay = (p.delay * 2).min(LOCK_RETRY_MAX);
                p.next = now + p.delay;
                i += 1;
                continue;
            }
            let p = self.pending_locks.remove(i);
            answer(p.tag, result);
        }
    }

    /// Until the next pending lock is due, or `None` if none waits.
    pub fn next_lock_retry(&self) -> Option<Duration> {
        let due = self
            .pending_locks
            .iter()
            .map(|p| p.next.min(p.deadline))
            .min()?;
        Some(due.saturating_duration_since(Instant::now()))
    }
}

/// A blocking Tlock on a lock someone else holds: retried while the connection goes on
/// with other requests, answered when it is granted, fails, times out (`BLOCKED`), or is
/// flushed (no answer).
#[derive(Debug)]
pub(crate) struct PendingLock {
    /// The request's tag.
    pub tag: u16,
    /// Its fid.
    pub fid: u32,
    /// The range wanted.
    pub range: Range,
    /// When to give up and answer `BLOCKED`.
    pub deadline: Instant,
    /// When to try again, unless a release wakes it first.
    pub next: Instant,
    /// The delay before the try after that.
    pub delay: Duration,
}

impl PendingLock {
    /// A blocking lock just refused, waiting up to `wait`.
    pub fn new(tag: u16, fid: u32, range: Range, wait: Duration) -> PendingLock {
        let now = Instant::now();
        PendingLock {
            tag,
            fid,
            range,
            deadline: now + wait,
            next: now + LOCK_RETRY,
            delay: LOCK_RETRY,
        }
    }
}
