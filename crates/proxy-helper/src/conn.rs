//! The connection: framed request reads and reply writes, fds over SCM_RIGHTS.

use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use proxy_client::SpinHistory;
use proxy_protocol::{FdWord, Header, HEADER_SIZE, MAX_MESSAGE_SIZE};
use rustix::io::Errno;
use rustix::net::{
    self, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use thiserror::Error;

/// Why serving a connection ended.
#[derive(Debug, Error)]
pub enum ConnEnd {
    /// The peer closed the connection between messages: the normal end.
    #[error("peer closed the connection")]
    Closed,
    /// The peer closed the connection in the middle of a message.
    #[error("peer disconnected mid-message ({got} of {want} bytes)")]
    Truncated {
        /// Bytes of the message received.
        got: usize,
        /// Bytes the message needed.
        want: usize,
    },
    /// A socket error.
    #[error("socket error: {0}")]
    Io(#[from] Errno),
    /// The peer broke the protocol in a way that leaves no defined reply.
    #[error("protocol violation: {0}")]
    Protocol(String),
}

/// A request read from the connection: its header and where its body is in the buffer.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The header.
    pub header: Header,
    /// The body's range in [`Conn::body`].
    pub body: Range<usize>,
}

/// The most fds one `recvmsg` takes in (more than any request declares); the kernel
/// closes the rest of a larger batch (`MSG_CTRUNC`), which is then refused whole.
const MAX_FDS_PER_READ: usize = 4;

/// The most fd batches held for requests not read yet; later ones are closed at once.
const MAX_PENDING_BATCHES: usize = 4;

/// The fds one `sendmsg` of the peer carried (the kernel never merges two senders'
/// batches into one `recvmsg`): those of one fd-relative request, in order.
#[derive(Debug)]
struct FdBatch {
    fds: Vec<OwnedFd>,
    /// Some were dropped (too many for our buffer, or too many batches pending).
    truncated: bool,
}

/// One proxy-protocol connection.
#[derive(Debug)]
pub struct Conn {
    sock: OwnedFd,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    out: Vec<u8>,
    /// Adaptive polling window before a blocking read (zero: off).
    poll: Duration,
    /// How those polls went.
    spins: SpinHistory,
    /// When the last reply started out, if not waited after yet.
    replied_at: Option<Instant>,
    /// Fd batches received and not yet taken by a request, oldest first (bounded).
    batches: VecDeque<FdBatch>,
}

impl Conn {
    /// Serves `sock`, a connected stream socket.
    pub fn new(sock: OwnedFd) -> Conn {
        Conn {
            sock,
            buf: vec![0; MAX_MESSAGE_SIZE],
            start: 0,
            end: 0,
            out: Vec::with_capacity(256),
            poll: Duration::ZERO,
            spins: SpinHistory::default(),
            replied_at: None,
            batches: VecDeque::new(),
        }
    }

    /// `recvmsg` into `buf[end..]`, keeping any fds that come along as one batch.
    fn recv_some(&mut self, flags: RecvFlags) -> Result<usize, Errno> {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS_PER_READ))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut iov = [std::io::IoSliceMut::new(&mut self.buf[self.end..])];
        let msg = net::recvmsg(
            &self.sock,
            &mut iov,
            &mut control,
            flags | RecvFlags::CMSG_CLOEXEC,
        )?;
        let mut fds = Vec::new();
        for cmsg in control.drain() {
            if let RecvAncillaryMessage::ScmRights(received) = cmsg {
                fds.extend(received);
            }
        }
        if !fds.is_empty() || msg.flags.contains(net::ReturnFlags::CTRUNC) {
            let truncated = msg.flags.contains(net::ReturnFlags::CTRUNC);
            if self.batches.len() >= MAX_PENDING_BATCHES {
                // Closed here; the request they came with finds no batch (EBADF).
                tracing::warn!(count = fds.len(), "too many fd batches pending: closed");
            } else {
                self.batches.push_back(FdBatch { fds, truncated });
            }
        }
        Ok(msg.bytes)
    }

    /// The fds of a request that declares `want` of them: the oldest batch received,
    /// which must hold exactly `want` (else all its fds are closed: `EBADF`). A request
    /// that declares none takes none.
    pub fn take_fds(&mut self, want: usize) -> Result<Vec<OwnedFd>, Errno> {
        if want == 0 {
            return Ok(Vec::new());
        }
        match self.batches.pop_front() {
            Some(b) if !b.truncated && b.fds.len() == want => Ok(b.fds),
            Some(b) => {
                tracing::warn!(
                    got = b.fds.len(),
                    want,
                    truncated = b.truncated,
                    "wrong number of fds with a request: closed"
                );
                Err(Errno::BADF)
            }
            None => Err(Errno::BADF),
        }
    }

    /// Adaptive polling: before sleeping in `recv` for the next request, poll the socket
    /// for up to `window` (zero: always sleep at once). A request caught while polling
    /// saves this thread's sleep and wakeup, but only where the peer runs on another CPU
    /// meanwhile: polls that time out or lose the CPU make the following waits sleep at
    /// once ([`SpinHistory`]), so a peer on our CPU (or a busy host) costs nothing.
    pub fn set_poll_window(&mut self, window: Duration) {
        self.poll = window;
    }

    /// Polls for the next bytes (`recv` with `MSG_DONTWAIT`, keeping what arrives) as
    /// [`SpinHistory`] allows; true if some arrived.
    fn poll_for_bytes(&mut self) -> Result<bool, ConnEnd> {
        let mut failed = None;
        let sent = self.replied_at.take().unwrap_or_else(Instant::now);
        let mut spins = std::mem::take(&mut self.spins);
        let outcome = spins.spin_with(self.poll, sent, || {
            match self.recv_some(RecvFlags::DONTWAIT) {
                // EOF: stop polling; the blocking read that follows reports it.
                Ok(0) => true,
                Ok(got) => {
                    self.end += got;
                    true
                }
                Err(Errno::AGAIN) | Err(Errno::INTR) => false,
                Err(e) => {
                    failed = Some(e);
                    true
                }
            }
        });
        self.spins = spins;
        if let Some(e) = failed {
            return Err(e.into());
        }
        Ok(outcome.ready())
    }

    /// Makes `n` bytes available at `buf[start..]`, reading as much as the socket has.
    fn fill(&mut self, n: usize) -> Result<(), ConnEnd> {
        if self.end - self.start >= n {
            return Ok(());
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        // Poll only for a new request (nothing of it here yet), not for the rest of one.
        if self.end == 0 && self.poll_for_bytes()? && self.end >= n {
            return Ok(());
        }
        while self.end < n {
            match self.recv_some(RecvFlags::empty()) {
                Ok(0) if self.end == 0 => return Err(ConnEnd::Closed),
                Ok(0) => {
                    return Err(ConnEnd::Truncated {
                        got: self.end,
                        want: n,
                    })
                }
                Ok(got) => self.end += got,
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Reads the next request. A body over the protocol maximum ends the connection (no
    /// reply form is defined for it), as it does with QEMU's helper.
    pub fn read_request(&mut self) -> Result<Frame, ConnEnd> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        self.fill(HEADER_SIZE)?;
        let mut head = [0u8; HEADER_SIZE];
        head.copy_from_slice(&self.buf[self.start..self.start + HEADER_SIZE]);
        let header = Header::decode(head);
        let len = header
            .body_len()
            .map_err(|e| ConnEnd::Protocol(format!("request type {}: {e}", header.kind)))?;
        self.fill(HEADER_SIZE + len)?;
        let body_start = self.start + HEADER_SIZE;
        self.start = body_start + len;
        Ok(Frame {
            header,
            body: body_start..body_start + len,
        })
    }

    /// The buffer the [`Frame::body`] range indexes.
    pub fn body(&self, frame: &Frame) -> &[u8] {
        &self.buf[frame.body.clone()]
    }

    /// The reply buffer, to encode into; sent by [`Conn::send_out`].
    pub fn out(&mut self) -> &mut Vec<u8> {
        self.out.clear();
        &mut self.out
    }

    /// Sends the reply buffer.
    pub fn send_out(&mut self) -> Result<(), ConnEnd> {
        self.replied_at = Some(Instant::now());
        let mut sent = 0;
        while sent < self.out.len() {
            match net::send(&self.sock, &self.out[sent..], SendFlags::NOSIGNAL) {
                Ok(n) => sent += n,
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Answers T_OPEN/T_CREATE: the fd in SCM_RIGHTS, or `-errno` and no fd.
    pub fn send_fd(&mut self, result: Result<OwnedFd, Errno>) -> Result<(), ConnEnd> {
        let (word, fd) = match result {
            Ok(fd) => (FdWord::Valid.encode(), Some(fd)),
            Err(e) => (FdWord::Error(e.raw_os_error()).encode(), None),
        };
        let iov = [std::io::IoSlice::new(&word)];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        let fds;
        if let Some(fd) = &fd {
            fds = [fd.as_fd()];
            if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
                return Err(ConnEnd::Protocol("no room for SCM_RIGHTS".into()));
            }
        }
        self.replied_at = Some(Instant::now());
        loop {
            match net::sendmsg(&self.sock, &iov, &mut control, SendFlags::NOSIGNAL) {
                Ok(4) => return Ok(()),
                // The fd went with the first byte; the rest of the word follows plainly.
                Ok(n) => {
                    self.out.clear();
                    self.out.extend_from_slice(&word[n..]);
                    return self.send_out();
                }
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // `fd` (our copy) is closed on return: the peer has its own.
    }
}
