//! One message with at most one descriptor attached (`SCM_RIGHTS`) over a Unix socket:
//! what the helper spawner answers and what the `--config` supervisor hands over.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::net::{
    self, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

/// Sends `bytes` (not empty) with `fd` attached, if any. `flags` should hold
/// `NOSIGNAL`: a peer that is gone is `EPIPE`, not a signal.
pub fn send(
    sock: impl AsFd,
    bytes: &[u8],
    fd: Option<BorrowedFd<'_>>,
    flags: SendFlags,
) -> io::Result<()> {
    let iov = [io::IoSlice::new(bytes)];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds;
    if let Some(fd) = fd {
        fds = [fd];
        if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
            return Err(io::Error::other("control buffer too small"));
        }
    }
    net::sendmsg(sock, &iov, &mut control, flags)?;
    Ok(())
}

/// Receives one message into `buf` (close-on-exec descriptors), retrying `EINTR`:
/// its length (0 at end of file) and the descriptors that came with it.
pub fn recv(sock: impl AsFd, buf: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    loop {
        let mut anc = RecvAncillaryBuffer::new(&mut space);
        let mut iov = [io::IoSliceMut::new(buf)];
        let got = match net::recvmsg(&sock, &mut iov, &mut anc, RecvFlags::CMSG_CLOEXEC) {
            Ok(g) => g,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        let mut fds = Vec::new();
        for msg in anc.drain() {
            if let RecvAncillaryMessage::ScmRights(it) = msg {
                fds.extend(it);
            }
        }
        return Ok((got.bytes, fds));
    }
}
