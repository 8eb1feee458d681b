//! Framed I/O over the helper's socket: whole-message sends, exact reads, the bare fd word
//! with its SCM_RIGHTS fd, and the draining of oversized replies.
//!
//! One [`Transport`] is one connection, used by one request at a time (the client holds it
//! behind a mutex). Its buffers are reused from request to request.

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::Instant;

use proxy_protocol::{
    DecodeError, FdWord, Header, Reply, ReplyForm, Request, HEADER_SIZE, MAX_BODY_SIZE,
};
use rustix::io::Errno;
use rustix::net::{
    recv, recvmsg, send, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags,
};

use crate::acting::{thread_identity, Identity};
use crate::error::{Error, Result};
use crate::response::Response;
use crate::wait::{SpinHistory, SpinPolicy};

/// How many fds one fd-word message may carry before the kernel closes the rest for us
/// (`MSG_CTRUNC`). The protocol sends exactly one; any others we do receive are closed.
const MAX_FDS_PER_WORD: usize = 4;

/// One connection to a helper.
#[derive(Debug)]
pub(crate) struct Transport {
    fd: OwnedFd,
    out: Vec<u8>,
    input: Vec<u8>,
    /// Whether to poll for a reply before sleeping (none: sleep at once).
    spin: Option<Arc<dyn SpinPolicy>>,
    /// How those polls went.
    spins: SpinHistory,
    /// The identity the helper acts as on this connection (after our last `T_AS`).
    acting: Option<Identity>,
}

impl Transport {
    /// Wraps a connected AF_UNIX stream socket.
    pub(crate) fn new(fd: OwnedFd) -> Self {
        Transport {
            fd,
            out: Vec::with_capacity(512),
            input: Vec::with_capacity(512),
            spin: None,
            spins: SpinHistory::default(),
            acting: None,
        }
    }

    /// Polls for replies as `policy` allows before sleeping.
    pub(crate) fn set_spin_policy(&mut self, policy: Arc<dyn SpinPolicy>) {
        self.spin = Some(policy);
    }

    /// Encodes `req`, sends it, and reads its reply. When the calling thread acts as an
    /// identity this connection does not act as yet, a `T_AS` goes first, in the same
    /// write ([`crate::acting`]).
    pub(crate) fn call(&mut self, req: &Request<'_>, fds: &[BorrowedFd<'_>]) -> Result<Response> {
        if fds.len() != req.kind().fds() {
            // A caller's mistake: nothing sent, the connection is fine.
            return Err(Error::Errno(Errno::BADF));
        }
        self.out.clear();
        let switch = thread_identity().filter(|w| match &self.acting {
            Some(now) => !now.same(w),
            // Never switched: QEMU's model, root.
            None => !w.is_root(),
        });
        if let Some(who) = &switch {
            self.out.extend_from_slice(who.message());
        }
        if let Err(e) = req.encode(&mut self.out) {
            return Err(Error::Encode(e));
        }
        let sent = Instant::now();
        send_with_fds(self.fd.as_fd(), &self.out, fds)?;
        let Some(who) = switch else {
            return self.receive(req.reply_form(), sent);
        };
        // Until its status says otherwise the helper acts as no one (it refuses all).
        self.acting = None;
        let took = self.receive(ReplyForm::Status, sent);
        // The second reply follows the first: nothing was sent in between.
        let reply = self.receive(req.reply_form(), Instant::now());
        match took {
            Ok(_) => {
                self.acting = Some(who);
                reply
            }
            // The helper refused the request too (EPERM): answer why it refused the
            // identity, unless the connection broke meanwhile.
            Err(e @ Error::Errno(_)) => match reply {
                Err(broken) if broken.breaks_connection() => Err(broken),
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Sends `message` exactly as given and reads a reply of the given form.
    pub(crate) fn call_raw(&mut self, message: &[u8], form: ReplyForm) -> Result<Response> {
        let sent = Instant::now();
        send_all(self.fd.as_fd(), message)?;
        self.receive(form, sent)
    }

    /// Reads the reply to a request whose send started at `sent`.
    fn receive(&mut self, form: ReplyForm, sent: Instant) -> Result<Response> {
        // The helper is at work: poll for its reply first if the policy allows.
        if let Some(policy) = &self.spin {
            self.spins.spin(self.fd.as_fd(), || policy.window(), sent);
        }
        match form {
            ReplyForm::Fd => receive_fd(self.fd.as_fd()).map(Response::Fd),
            ReplyForm::Status | ReplyForm::Data(_) => self.receive_reply(form),
        }
    }

    /// Reads a `{type, size}` header and its body, and decodes it as `form`.
    fn receive_reply(&mut self, form: ReplyForm) -> Result<Response> {
        let mut head = [0u8; HEADER_SIZE];
        recv_exact(self.fd.as_fd(), &mut head)?;
        let header = Header::decode(head);
        let Ok(len) = header.body_len() else {
            // Like QEMU: read the whole body, keep nothing, answer ENOBUFS. The stream
            // stays in step.
            self.drain(header.size as usize)?;
            return Err(Error::ReplyTooLarge { size: header.size });
        };
        self.input.resize(len, 0);
        recv_exact(self.fd.as_fd(), &mut self.input[..len])?;
        let reply = Reply::decode(form, header, &self.input[..len])?;
        Response::from_reply(reply)
    }

    /// Reads and discards `n` bytes.
    fn drain(&mut self, mut n: usize) -> Result<()> {
        self.input.resize(MAX_BODY_SIZE, 0);
        while n > 0 {
            let chunk = n.min(MAX_BODY_SIZE);
            recv_exact(self.fd.as_fd(), &mut self.input[..chunk])?;
            n -= chunk;
        }
        Ok(())
    }
}

/// Writes all of `bytes`, retrying on EINTR. `MSG_NOSIGNAL`: a dead helper is an EPIPE
/// error, never a SIGPIPE.
fn send_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> Result<()> {
    while !bytes.is_empty() {
        match send(fd, bytes, SendFlags::NOSIGNAL) {
            Ok(0) => return Err(Error::Eof),
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::INTR) => continue,
            Err(e) => return Err(Error::Io(e.into())),
        }
    }
    Ok(())
}

/// Writes all of `bytes` with `fds` in SCM_RIGHTS on the first `sendmsg` (the helper
/// takes them for the one request in `bytes` that declares fds); without fds, a plain
/// [`send_all`].
fn send_with_fds(fd: BorrowedFd<'_>, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> Result<()> {
    if fds.is_empty() {
        return send_all(fd, bytes);
    }
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS_PER_WORD))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(Error::Errno(Errno::BADF));
    }
    let iov = [std::io::IoSlice::new(bytes)];
    loop {
        match sendmsg(fd, &iov, &mut control, SendFlags::NOSIGNAL) {
            Ok(0) => return Err(Error::Eof),
            // The fds went with the first bytes; the rest follows plainly.
            Ok(n) => return send_all(fd, &bytes[n..]),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(Error::Io(e.into())),
        }
    }
}

/// Fills `buf` completely, retrying on EINTR and short reads. End of stream is
/// [`Error::Eof`].
fn recv_exact(fd: BorrowedFd<'_>, mut buf: &mut [u8]) -> Result<()> {
    while !buf.is_empty() {
        match recv(fd, &mut *buf, RecvFlags::empty()) {
            Ok((0, _)) => return Err(Error::Eof),
            Ok((n, _)) => buf = &mut buf[n..],
            Err(Errno::INTR) => continue,
            Err(e) => return Err(Error::Io(e.into())),
        }
    }
    Ok(())
}

/// Receives the bare fd word answering T_OPEN and T_CREATE, and the fd that comes with
/// `V9FS_FD_VALID`. Received fds are close-on-exec (`MSG_CMSG_CLOEXEC`). A word split
/// over several reads is completed; fds beyond the first, or any fd sent with an error
/// word, are closed.
fn receive_fd(fd: BorrowedFd<'_>) -> Result<OwnedFd> {
    let mut word = [0u8; 4];
    let mut got = 0;
    let mut fds: Vec<OwnedFd> = Vec::new();
    while got < word.len() {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS_PER_WORD))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut iov = [std::io::IoSliceMut::new(&mut word[got..])];
        match recvmsg(fd, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC) {
            Ok(msg) => {
                for cmsg in control.drain() {
                    if let RecvAncillaryMessage::ScmRights(received) = cmsg {
                        fds.extend(received);
                    }
                }
                if msg.bytes == 0 {
                    return Err(Error::Eof);
                }
                got += msg.bytes;
            }
            Err(Errno::INTR) => continue,
            Err(e) => return Err(Error::Io(e.into())),
        }
    }
    // Any fd not returned below is closed when `fds` drops.
    let mut fds = fds.into_iter();
    match FdWord::decode(word)? {
        FdWord::Valid => fds.next().ok_or(Error::MissingFd),
        FdWord::Error(errno) => Err(Error::Errno(Errno::from_raw_os_error(errno))),
    }
}

impl Response {
    /// Turns a decoded reply into a response; a negative status is the helper's errno.
    fn from_reply(reply: Reply<'_>) -> Result<Response> {
        Ok(match reply {
            Reply::Status(v) if v >= 0 => Response::Status(v),
            Reply::Status(i32::MIN) => return Err(DecodeError::BadErrno(i32::MIN).into()),
            Reply::Status(v) => return Err(Error::Errno(Errno::from_raw_os_error(-v))),
            Reply::Stat(s) => Response::Stat(s),
            Reply::StatFs(s) => Response::StatFs(s),
            Reply::Bytes(b) => Response::Bytes(b.to_vec()),
            Reply::Version(v) => Response::Version(v),
        })
    }
}
