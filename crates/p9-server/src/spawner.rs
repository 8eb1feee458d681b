//! The helper spawner: a privileged process that starts `virtfs-proxy-helper`s for the
//! unprivileged front end, so that a helper that died can be replaced after the front end
//! dropped its privileges. The front end sends one byte per helper it wants; the spawner
//! answers one byte with the new helper's socket in SCM_RIGHTS (or with no fd if the
//! helper could not be started). It cannot be made to start anything else: the helper
//! program, the export and the helper's flags are fixed when the spawner starts. It exits
//! when the front end closes its socket.

use std::ffi::OsString;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use proxy_client::ProxyClient;
use rustix::io::Errno;
use rustix::net::{
    self, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

/// What the spawner starts: `HELPER -p EXPORT -n ARGS... -f N`.
#[derive(Debug, Clone)]
pub struct SpawnConfig {
    /// The helper program.
    pub helper: PathBuf,
    /// The export.
    pub export: PathBuf,
    /// Extra helper flags (e.g. `--seccomp kill`).
    pub args: Vec<OsString>,
}

impl SpawnConfig {
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.helper);
        cmd.arg("-p")
            .arg(&self.export)
            .arg("-n")
            .args(&self.args)
            .stdin(Stdio::null());
        cmd
    }

    /// Starts one helper directly (the caller must be privileged) and connects to it.
    pub fn start_helper(&self) -> io::Result<ProxyClient> {
        let (sock, _child) = proxy_client::spawn_with_socket(self.command())?;
        Ok(ProxyClient::from_fd(sock))
    }
}

/// The spawner's main loop (run it in a process of its own, as root): serves requests
/// on `sock` until the front end closes it.
pub fn serve(sock: OwnedFd, cfg: &SpawnConfig) -> io::Result<()> {
    let mut children: Vec<Child> = Vec::new();
    loop {
        let mut byte = [0u8; 1];
        match net::recv(&sock, &mut byte, RecvFlags::empty()) {
            Ok((0, _)) => break,
            Ok(_) => {}
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        children.retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
        let started = proxy_client::spawn_with_socket(cfg.command());
        let fd = match started {
            Ok((fd, child)) => {
                children.push(child);
                Some(fd)
            }
            Err(e) => {
                tracing::error!(error = %e, helper = %cfg.helper.display(), "cannot start a helper");
                None
            }
        };
        send_fd(&sock, fd.as_ref())?;
    }
    // Helpers exit by themselves when their connection closes; reap what is left.
    for mut c in children {
        let _ = c.wait();
    }
    Ok(())
}

fn send_fd(sock: impl AsFd, fd: Option<&OwnedFd>) -> io::Result<()> {
    let byte = [1u8];
    let iov = [io::IoSlice::new(&byte)];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds;
    if let Some(fd) = fd {
        fds = [fd.as_fd()];
        control.push(SendAncillaryMessage::ScmRights(&fds));
    }
    net::sendmsg(sock, &iov, &mut control, SendFlags::NOSIGNAL)?;
    Ok(())
}

/// The front end's end of a spawner.
#[derive(Debug)]
pub struct Spawner {
    sock: Mutex<Option<OwnedFd>>,
    child: Option<Child>,
}

impl Spawner {
    /// Starts the spawner process with `cmd` (`-f N` is appended: its end of the socket).
    pub fn start(cmd: Command) -> io::Result<Spawner> {
        let (sock, child) = proxy_client::spawn_with_socket(cmd)?;
        Ok(Spawner {
            sock: Mutex::new(Some(sock)),
            child: Some(child),
        })
    }

    /// Asks for a new helper and connects to it.
    pub fn helper(&self) -> io::Result<ProxyClient> {
        let guard = self.sock.lock().unwrap_or_else(|p| p.into_inner());
        let sock = guard
            .as_ref()
            .ok_or_else(|| io::Error::other("the helper spawner is gone"))?;
        net::send(sock, &[1u8], SendFlags::NOSIGNAL)?;
        let mut byte = [0u8; 1];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut anc = RecvAncillaryBuffer::new(&mut space);
        let mut iov = [io::IoSliceMut::new(&mut byte)];
        let got = net::recvmsg(sock, &mut iov, &mut anc, RecvFlags::CMSG_CLOEXEC)?;
        if got.bytes == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the helper spawner exited",
            ));
        }
        let mut fds: Vec<OwnedFd> = Vec::new();
        for msg in anc.drain() {
            if let RecvAncillaryMessage::ScmRights(it) = msg {
                fds.extend(it);
            }
        }
        match fds.pop() {
            Some(fd) => Ok(ProxyClient::from_fd(fd)),
            None => Err(io::Error::other(
                "the helper spawner could not start a helper",
            )),
        }
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        // Closing our end makes the spawner exit; reap it.
        drop(
            self.sock
                .get_mut()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }
}
