//! The connection: framed request reads and reply writes, fds over SCM_RIGHTS.

use std::mem::MaybeUninit;
use std::ops::Range;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use proxy_protocol::{FdWord, Header, HEADER_SIZE, MAX_MESSAGE_SIZE};
use rustix::io::Errno;
use rustix::net::{self, RecvFlags, SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
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

/// One proxy-protocol connection.
#[derive(Debug)]
pub struct Conn {
    sock: OwnedFd,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    out: Vec<u8>,
    poll: Poll,
}

/// Adaptive polling: after a reply, wait for the next request by polling the socket for
/// a short window before sleeping in `recv`, but only while the peer is in a burst (its
/// last request came within the window). This saves the helper's wakeup on every
/// request of a burst, and costs nothing while the peer is idle.
#[derive(Debug, Clone, Copy)]
struct Poll {
    window: Duration,
    /// When the last reply went out, until the next request arrives.
    replied_at: Option<Instant>,
    /// Whether the last request arrived within the window after its reply.
    bursting: bool,
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
            poll: Poll {
                window: Duration::ZERO,
                replied_at: None,
                bursting: true,
            },
        }
    }

    /// Polls for up to `window` after each reply while the peer sends in bursts
    /// (zero: always sleep in `recv`).
    pub fn set_poll_window(&mut self, window: Duration) {
        self.poll.window = window;
    }

    /// Spins for the next bytes while the peer is bursting; true if some arrived.
    /// Returns false at once when polling is off or the peer was idle last time.
    fn poll_burst(&mut self) -> Result<bool, ConnEnd> {
        let Some(replied_at) = self.poll.replied_at else {
            return Ok(false);
        };
        if self.poll.window.is_zero() || !self.poll.bursting {
            return Ok(false);
        }
        loop {
            match net::recv(&self.sock, &mut self.buf[self.end..], RecvFlags::DONTWAIT) {
                Ok((0, _)) => return Ok(false), // EOF: let the blocking path report it
                Ok((got, _)) => {
                    self.end += got;
                    return Ok(true);
                }
                Err(Errno::AGAIN) | Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
            if replied_at.elapsed() > self.poll.window {
                return Ok(false);
            }
            std::hint::spin_loop();
        }
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
        if self.end < n && self.poll_burst()? {
            self.poll.replied_at = None;
            if self.end >= n {
                return Ok(());
            }
        }
        while self.end < n {
            match net::recv(&self.sock, &mut self.buf[self.end..], RecvFlags::empty()) {
                Ok((0, _)) if self.end == 0 => return Err(ConnEnd::Closed),
                Ok((0, _)) => {
                    return Err(ConnEnd::Truncated {
                        got: self.end,
                        want: n,
                    })
                }
                Ok((got, _)) => {
                    self.end += got;
                    // Poll next time only if this request came within the window.
                    if let Some(at) = self.poll.replied_at.take() {
                        self.poll.bursting = at.elapsed() <= self.poll.window;
                    }
                }
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
        self.poll.replied_at = Some(Instant::now());
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
        self.poll.replied_at = Some(Instant::now());
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
