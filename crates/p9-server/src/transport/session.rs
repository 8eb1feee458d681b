//! One connection: reading frames (bounded by the negotiated msize), answering each
//! request in order on the connection's own thread, and writing the replies. The engine
//! says what to answer ([`crate::engine::ops::dispatch`] on the connection's
//! [`ConnState`]); the session encodes it (file data read straight into the frame, or
//! sent after it with `sendfile`), counts it, traces it and writes it.
//!
//! Requests are processed inline, in the order they arrive: pipelined requests (many
//! tags in flight) are read in batches and their replies written in one go, so a busy
//! client costs one read and one write per batch. Replies come back in request order,
//! which makes Tflush trivial: by the time a Tflush is read, the request it names has
//! been answered, so the Rflush follows at once (a blocking Tlock still waiting is the
//! one exception: flushed, it is dropped unanswered).
//!
//! Errors handling a request become an `Rlerror` and the connection goes on; a frame
//! that cannot be delimited (size below 7, or above msize) ends the connection (with
//! one warning), as does any error reading or writing the transport.

use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use p9_wire::{
    begin_rread, begin_rreaddir, decode_tmessage, encode, finish_rread, finish_rreaddir,
    msg_type_name, peek_header, Rlock, Rmessage, Rreadlink, TwriteHeader, HEADER_SIZE,
    TWRITE_HEADER_SIZE,
};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{FileType, OFlags};
use rustix::io::Errno;

use crate::backend::{Attr, AttrExt};
use crate::engine::answer::{Answer, ReadData};
use crate::engine::lock;
use crate::engine::ops::dispatch;
use crate::engine::state::ConnState;
use crate::error::Error;
use crate::observe::stats::{op_index, ConnGuard};
use crate::transport::io::{
    pread_append, rread_header, send_file, FileSegment, SpliceBuffer, Taken, Written, SENDFILE_MIN,
    SPLICE_WRITE_MIN,
};
use crate::transport::peer::{identify, Authority, PeerIdentity};
use crate::transport::poller::RequestWait;
use crate::Server;

/// Bytes of replies buffered before they are written even though complete requests
/// remain to be processed.
const FLUSH_AT: usize = 256 * 1024;
/// The read buffer's initial size.
const INITIAL_READ: usize = 64 * 1024;

/// One connection's transport side: its protocol state ([`ConnState`]), and what it
/// takes to carry requests and replies (the file data to send after the replies, the
/// splice pipes, the lock wake-up pipe, the counters and the trace).
pub(crate) struct Session<'s> {
    /// What the protocol remembers between requests.
    state: ConnState<'s>,
    /// The pipe that wakes this connection when a lock is released (made at its first
    /// pending lock).
    wake: Option<lock::Wake>,
    /// Whether a lock was released since the pending ones were last tried.
    woken: bool,
    /// File data to send right after the reply buffer (a large Rread's).
    deferred: Option<FileSegment>,
    /// The pipes large Twrites are spliced through (made at the first one).
    splice: SpliceBuffer,
    warned_fid_limit: bool,
    /// This connection's counters (see [`crate::observe::stats`]).
    stats: ConnGuard<'s>,
    /// Whether to log every message ([`crate::ServerConfig::trace`]).
    trace: bool,
    /// Who is at the other end, for the trace.
    peer: String,
}

impl<'s> Session<'s> {
    fn new(server: &'s Server, cap: u32, peer: &str, authority: Authority) -> Session<'s> {
        Session {
            state: ConnState::new(server, cap, authority),
            stats: server.stats().connect(),
            trace: server.config().trace,
            peer: peer.to_string(),
            wake: None,
            woken: false,
            deferred: None,
            splice: SpliceBuffer::default(),
            warned_fid_limit: false,
        }
    }

    /// Answers one complete frame, appending its reply to `out`.
    fn handle(&mut self, frame: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        let began = Instant::now();
        let (tag, msg) = match decode_tmessage(frame) {
            Ok(m) => m,
            Err(e) => {
                let tag = peek_header(frame).map(|h| h.tag).unwrap_or(p9_wire::NOTAG);
                let ty = frame.get(4).copied().unwrap_or(0);
                tracing::warn!(
                    ty,
                    name = msg_type_name(ty).unwrap_or("?"),
                    tag,
                    error = %e,
                    "malformed request"
                );
                let e = Error::from(e);
                self.reply_error(tag, &e, out);
                self.stats
                    .record(op_index(ty), elapsed_ns(began), e.errno().raw_os_error(), 0);
                if self.trace {
                    self.trace_replies(&out[start..]);
                }
                return;
            }
        };
        if self.trace {
            tracing::trace!(peer = %self.peer, conn = self.stats.id, "<- {}", crate::observe::trace::request(tag, &msg));
        }
        let ty = msg.msg_type();
        // Only a Tversion changes the limit, and an Rversion fits any.
        let limit = self.state.limit();
        let Session {
            state, deferred, ..
        } = self;
        let result = dispatch(state, tag, &msg)
            .and_then(|answer| encode_answer(tag, answer, limit, out, deferred));
        self.finish(ty, tag, began, start, result, out);
    }

    /// Completes the answer to request `ty`/`tag` begun at `out[start..]` at `began`:
    /// counts it, turns an error into an Rlerror (logged at debug level, the fid limit
    /// warned about once), and traces the reply.
    fn finish(
        &mut self,
        ty: u8,
        tag: u16,
        began: Instant,
        start: usize,
        result: crate::error::Result<()>,
        out: &mut Vec<u8>,
    ) {
        let errno = match &result {
            Ok(()) => 0,
            Err(e) => e.errno().raw_os_error(),
        };
        // File data moved: the count of an Rread or Rwrite (both at bytes 7..11).
        let bytes = if errno == 0 && matches!(ty, p9_wire::P9_TREAD | p9_wire::P9_TWRITE) {
            out.get(start + 7..start + 11)
                .and_then(|b| b.try_into().ok())
                .map_or(0, |b| u64::from(u32::from_le_bytes(b)))
        } else {
            0
        };
        self.stats
            .record(op_index(ty), elapsed_ns(began), errno, bytes);
        self.stats.set_fids(self.state.fids.len());
        if let Err(e) = result {
            out.truncate(start);
            if matches!(e.errno(), Errno::MFILE | Errno::NFILE | Errno::NOMEM)
                && !self.warned_fid_limit
            {
                self.warned_fid_limit = true;
                tracing::warn!(
                    max_fids = self.state.server.config().max_fids,
                    fids = self.state.fids.len(),
                    errno = %e.errno(),
                    "this connection reached a bound (its fids, or its share of the fd, fid \
                     memory or xattr budget); requests for more get this errno"
                );
            }
            tracing::debug!(
                request = msg_type_name(ty).unwrap_or("?"),
                tag,
                errno = %e.errno(),
                "request failed"
            );
            self.reply_error(tag, &e, out);
        }
        if self.trace {
            self.trace_replies(&out[start..]);
        }
    }

    /// Answers a large Twrite whose data has not all arrived (`w`, then the first `data`
    /// bytes, are in the read buffer): the rest of its data is taken from the transport
    /// `from` into kernel pipes with `splice(2)` and, once the whole request is in, goes
    /// from there to the file ([`SpliceBuffer`]). Returns false, with nothing consumed,
    /// unless the fid is a file open for writing without O_APPEND: the frame is then read
    /// whole and answered as usual, errors included. An `Err` is a transport error (the
    /// connection ends; nothing of this request was written).
    fn splice_write(
        &mut self,
        w: TwriteHeader,
        data: &[u8],
        from: BorrowedFd<'_>,
        out: &mut Vec<u8>,
    ) -> io::Result<bool> {
        let Session { state, splice, .. } = self;
        let fd = match state.open_file(w.fid) {
            Some((fd, flags))
                if flags.intersects(OFlags::WRONLY | OFlags::RDWR)
                    && !flags.contains(OFlags::APPEND) =>
            {
                fd
            }
            _ => return Ok(false),
        };
        let began = Instant::now();
        let taken = splice.take(from, w.count as usize - data.len())?;
        // The whole request is in: write it, the bytes read with the header first; an
        // error or a short write stops the writing (the reply then says how much).
        let stop = |written: &mut Written, r: Result<usize, Errno>, len: usize| match r {
            Ok(n) => {
                written.bytes += n;
                if n < len {
                    written.error = Some(Errno::NOSPC);
                }
            }
            Err(e) => written.error = Some(e),
        };
        let mut written = Written {
            bytes: 0,
            error: None,
        };
        if !data.is_empty() {
            stop(
                &mut written,
                rustix::io::pwrite(fd, data, w.offset),
                data.len(),
            );
        }
        let at = w.offset + data.len() as u64;
        let written = match taken {
            Taken::Held => splice.write_to(fd, at, written)?,
            Taken::Spilled(rest) => {
                if written.error.is_none() {
                    stop(&mut written, rustix::io::pwrite(fd, &rest, at), rest.len());
                }
                written
            }
        };
        let start = out.len();
        if self.trace {
            tracing::trace!(peer = %self.peer, conn = self.stats.id, "<- Twrite tag {} fid {} offset {} count {} (spliced)", w.tag, w.fid, w.offset, w.count);
        }
        let result = match written.error {
            Some(e) if written.bytes == 0 => Err(Error::from(e)),
            // bytes <= count, a u32.
            _ => {
                let count = written.bytes as u32;
                let m = Rmessage::Write(p9_wire::Rwrite { count });
                encode(w.tag, &m, out, self.state.limit())
                    .map(drop)
                    .map_err(Error::from)
            }
        };
        self.finish(p9_wire::P9_TWRITE, w.tag, began, start, result, out);
        Ok(true)
    }

    /// Logs the replies in `replies` (complete frames, or the header of an Rread whose
    /// data follows with `sendfile`).
    fn trace_replies(&self, mut replies: &[u8]) {
        while let Ok(h) = peek_header(replies) {
            let end = (h.size as usize).min(replies.len());
            tracing::trace!(peer = %self.peer, conn = self.stats.id, "-> {}", crate::observe::trace::reply(&replies[..end]));
            replies = &replies[end..];
        }
    }

    /// Answers the pending blocking locks granted, failed or expired (see
    /// [`ConnState::retry_locks`]).
    fn retry_locks(&mut self, out: &mut Vec<u8>) {
        let first = out.len();
        let woken = std::mem::take(&mut self.woken);
        let limit = self.state.limit();
        self.state.retry_locks(woken, |tag, result| match result {
            Ok(status) => {
                let r = Rmessage::Lock(Rlock { status });
                if encode(tag, &r, out, limit).is_err() {
                    tracing::error!("cannot encode Rlock");
                }
            }
            Err(e) => {
                tracing::debug!(request = "Tlock", tag, errno = %e, "request failed");
                reply_error(tag, &Error::from(e), limit, out);
            }
        });
        if self.trace {
            self.trace_replies(&out[first..]);
        }
    }

    /// Wakes the connections waiting for locks if this one released any.
    fn wake_lock_waiters(&mut self) {
        if self.state.fids.take_released() {
            self.state.server.lock_waiters().wake_all();
        }
    }

    /// Waits until the client sends something (true), a lock is released or the next
    /// pending lock is due (false), with pending locks; registers this connection as a
    /// waiter while it has some.
    fn wait_for_locks(&mut self, reader: BorrowedFd<'_>) -> io::Result<bool> {
        let Some(timeout) = self.state.next_lock_retry() else {
            if let Some(w) = &mut self.wake {
                w.register(self.state.server.lock_waiters(), false);
            }
            return Ok(true);
        };
        if self.wake.is_none() {
            // Without a pipe (fds exhausted) the delays alone drive the retries.
            self.wake = lock::Wake::new()
                .map_err(|e| tracing::warn!(errno = %e, "no lock wake-up pipe"))
                .ok();
        }
        let ts = Timespec::try_from(timeout).unwrap_or(Timespec {
            tv_sec: 0,
            tv_nsec: 10_000_000,
        });
        let n = match &mut self.wake {
            Some(w) => {
                w.register(self.state.server.lock_waiters(), true);
                let wfd = w.fd();
                let mut fds = [
                    PollFd::new(&reader, PollFlags::IN),
                    PollFd::new(&wfd, PollFlags::IN),
                ];
                let n = rustix::event::poll(&mut fds, Some(&ts));
                if !fds[1].revents().is_empty() {
                    w.drain();
                    self.woken = true;
                }
                n.map(|_| !fds[0].revents().is_empty())
            }
            None => {
                let mut fds = [PollFd::new(&reader, PollFlags::IN)];
                rustix::event::poll(&mut fds, Some(&ts)).map(|n| n > 0)
            }
        };
        match n {
            Ok(ready) => Ok(ready),
            Err(Errno::INTR) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn reply_error(&self, tag: u16, e: &Error, out: &mut Vec<u8>) {
        reply_error(tag, e, self.state.limit(), out);
    }
}

/// Appends the Rlerror of `e` to `out`.
fn reply_error(tag: u16, e: &Error, limit: u32, out: &mut Vec<u8>) {
    let r = Rmessage::lerror(e.ecode());
    // An Rlerror is 11 bytes: it fits any msize the server accepts.
    if encode(tag, &r, out, limit.max(64)).is_err() {
        tracing::error!("cannot encode Rlerror");
    }
}

/// Appends the reply that `answer` says to `out`, reading file data straight into
/// it; a large read from a file only gets its header there, its data is sent after
/// the buffer (`deferred`).
fn encode_answer(
    tag: u16,
    answer: Answer<'_>,
    limit: u32,
    out: &mut Vec<u8>,
    deferred: &mut Option<FileSegment>,
) -> crate::error::Result<()> {
    match answer {
        Answer::Reply(m) => {
            encode(tag, &m, out, limit)?;
        }
        Answer::Readlink(target) => {
            let m = Rmessage::Readlink(Rreadlink { target: &target });
            encode(tag, &m, out, limit)?;
        }
        Answer::Read(ReadData::File {
            fid,
            fd,
            offset,
            count,
        }) => {
            if count >= SENDFILE_MIN {
                // Large reads go from the page cache to the transport with sendfile:
                // this header now, then the file's bytes (errors must be known before
                // the header goes out).
                let size = Attr::of(fd)?.size;
                let len = (size.saturating_sub(offset)).min(count as u64) as usize;
                if len >= SENDFILE_MIN {
                    rread_header(tag, len, out)?;
                    *deferred = Some(FileSegment { fid, offset, len });
                    return Ok(());
                }
            }
            let start = begin_rread(tag, out);
            let n = pread_append(fd, out, count, offset)?;
            finish_rread(out, start, n)?;
        }
        Answer::Read(ReadData::Bytes(data)) => {
            let start = begin_rread(tag, out);
            out.extend_from_slice(data);
            finish_rread(out, start, data.len())?;
        }
        Answer::Readdir(entries) => {
            let start = begin_rreaddir(tag, out);
            entries.fill(out)?;
            finish_rreaddir(out, start)?;
        }
        Answer::Pending => {}
    }
    Ok(())
}

/// Nanoseconds since `t` (saturating; a request never takes 584 years).
#[inline]
fn elapsed_ns(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Writes the replies so far (ending with the segment's Rread header), then the
/// segment's file bytes.
fn send_segment(
    s: &Session<'_>,
    writer: &mut (impl Write + AsFd),
    out: &mut Vec<u8>,
    seg: FileSegment,
) -> io::Result<()> {
    writer.write_all(out)?;
    out.clear();
    let Some((file, _)) = s.state.open_file(seg.fid) else {
        // The read handler checked it just before.
        return Err(io::Error::other("sendfile: fid went away"));
    };
    send_file(writer.as_fd(), file, seg.offset, seg.len)
}

/// Whether `fd` becomes readable (or hung up) within `timeout`.
fn readable_within(fd: &impl AsFd, timeout: Duration) -> io::Result<bool> {
    let mut fds = [PollFd::new(fd, PollFlags::IN)];
    let ts = Timespec::try_from(timeout).unwrap_or(Timespec {
        tv_sec: 0,
        tv_nsec: 10_000_000,
    });
    match rustix::event::poll(&mut fds, Some(&ts)) {
        Ok(n) => Ok(n > 0),
        Err(Errno::INTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Reads what the client sent next, after polling for it as `wait` allows.
fn read_next(
    r: &mut (impl Read + AsFd),
    buf: &mut [u8],
    wait: &mut RequestWait<'_>,
) -> io::Result<usize> {
    wait.before_read(&*r);
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Ok(n) => {
                wait.arrived();
                return Ok(n);
            }
            res => return res,
        }
    }
}

/// Serves one connection until the client closes it or a transport error happens.
/// `cap` is the largest msize to grant on this transport. With a `handshake` time, a
/// connection that has not had a Tattach answered (after its Tversion) by then is
/// closed: clients that connect and say nothing do not hold a connection slot.
pub(crate) fn run(
    server: &Server,
    mut reader: impl Read + AsFd,
    mut writer: impl Write + AsFd,
    cap: u32,
    peer: &str,
    handshake: Option<Duration>,
) -> io::Result<()> {
    // The local backend switches the calling thread's file-system identity lazily: give
    // the thread back its own when the connection ends, however it ends.
    struct ActAsSelfAtEnd;
    impl Drop for ActAsSelfAtEnd {
        fn drop(&mut self) {
            if confined_fs::act_as(None).is_err() {
                tracing::error!("cannot restore the thread's own credentials; aborting");
                std::process::abort();
            }
        }
    }
    let _restore = ActAsSelfAtEnd;
    let config = server.config();
    let who = identify(reader.as_fd(), config.sock_diag.as_deref(), &config.policy);
    let authority = config.policy.authority(&who);
    match &authority {
        Authority::Refused(why) => {
            tracing::warn!(%peer, who = %who.describe(), "refusing the peer's attaches: {why}")
        }
        a => tracing::info!(%peer, who = %who.describe(), "peer {}", a.describe()),
    }
    // An untrusted user's connections count against its own limit.
    let _slot = match (&authority, &who) {
        (Authority::Itself(_), PeerIdentity::Local(p)) => {
            let max = config.policy.max_connections_per_user;
            match server.peer_slots().take(p.uid, max) {
                Some(slot) => Some(slot),
                None => {
                    tracing::warn!(%peer, uid = p.uid, max, "this user's connection limit is reached; closing");
                    return Ok(());
                }
            }
        }
        _ => None,
    };
    let mut s = Session::new(server, cap, peer, authority);
    let handshake_by = handshake.map(|t| Instant::now() + t);
    let mut wait = RequestWait::new(&server.config().poller);
    // Large Twrites are spliced from sockets (not from the pipes of `trans=fd`).
    let splice_from = rustix::fs::fstat(&reader)
        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Socket);
    // rbuf[start..end] holds bytes read and not yet processed; the whole of rbuf is
    // initialized (zeroed when it grows), so reads go straight into it.
    let mut rbuf = vec![0u8; INITIAL_READ];
    let (mut start, mut end) = (0usize, 0usize);
    let mut out: Vec<u8> = Vec::with_capacity(INITIAL_READ);
    let result = loop {
        let avail = &rbuf[start..end];
        let need = if avail.len() >= HEADER_SIZE {
            let h = match peek_header(avail) {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(error = %e, "unframeable request; closing the connection");
                    // The requests before it were carried out: their replies go first.
                    let _ = writer.write_all(&out).and_then(|()| writer.flush());
                    break Ok(());
                }
            };
            if h.size > s.state.frame_limit() {
                tracing::warn!(
                    size = h.size,
                    msize = s.state.frame_limit(),
                    tag = h.tag,
                    "frame larger than msize; closing the connection"
                );
                let _ = writer.write_all(&out).and_then(|()| writer.flush());
                break Ok(());
            }
            let size = h.size as usize;
            if avail.len() >= size {
                s.handle(&rbuf[start..start + size], &mut out);
                s.wake_lock_waiters();
                start += size;
                if s.state.close_after_reply {
                    let _ = writer.write_all(&out).and_then(|()| writer.flush());
                    break Ok(());
                }
                if let Some(seg) = s.deferred.take() {
                    if let Err(e) = send_segment(&s, &mut writer, &mut out, seg) {
                        break Err(e);
                    }
                    continue;
                }
                if out.len() >= FLUSH_AT {
                    if let Err(e) = writer.write_all(&out) {
                        break Err(e);
                    }
                    out.clear();
                }
                continue;
            }
            // A large Twrite still arriving: its data goes from the transport to the file.
            if splice_from && size >= SPLICE_WRITE_MIN {
                if let Some(w) = p9_wire::peek_twrite(avail) {
                    let data = &rbuf[start + TWRITE_HEADER_SIZE..end];
                    match s.splice_write(w, data, reader.as_fd(), &mut out) {
                        Ok(true) => {
                            start = end;
                            continue;
                        }
                        Ok(false) => {}
                        Err(e) => break Err(e),
                    }
                }
            }
            size
        } else {
            HEADER_SIZE
        };
        // Everything complete is answered: send the replies before waiting for more.
        if !s.state.pending_locks.is_empty() {
            s.retry_locks(&mut out);
        }
        if !out.is_empty() {
            wait.replying();
            if let Err(e) = writer.write_all(&out).and_then(|()| writer.flush()) {
                break Err(e);
            }
            out.clear();
            // Large replies (reads of several MiB) need not keep their buffer.
            if out.capacity() > 2 * FLUSH_AT + s.state.limit() as usize {
                out = Vec::with_capacity(INITIAL_READ);
            }
        }
        // Blocking locks still wait: look at them again when a lock is released or they
        // are due, reading what comes meanwhile.
        match s.wait_for_locks(reader.as_fd()) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => break Err(e),
        }
        if let Some(by) = handshake_by.filter(|_| !s.state.attached) {
            let left = by.saturating_duration_since(Instant::now());
            match readable_within(&reader, left) {
                Ok(true) => {}
                Ok(false) if Instant::now() < by => continue,
                Ok(false) => {
                    tracing::warn!(
                        peer,
                        timeout_s = handshake.unwrap_or_default().as_secs_f64(),
                        "no Tversion and Tattach in time; closing the connection"
                    );
                    break Ok(());
                }
                Err(e) => break Err(e),
            }
        }
        if rbuf.len() - start < need {
            rbuf.copy_within(start..end, 0);
            end -= start;
            start = 0;
            if rbuf.len() < need {
                rbuf.resize(
                    need.next_power_of_two()
                        .min(s.state.frame_limit() as usize)
                        .max(need),
                    0,
                );
            }
        }
        match read_next(&mut reader, &mut rbuf[end..], &mut wait) {
            Ok(0) => break Ok(()),
            Ok(n) => end += n,
            Err(e) => break Err(e),
        }
    };
    // Fids (and their open files, locks, unset xattrs) go with the connection.
    drop(s.state.fids.clear());
    s.wake_lock_waiters();
    if let Some(w) = &mut s.wake {
        w.register(server.lock_waiters(), false);
    }
    match result {
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => Ok(()),
        r => r,
    }
}
