//! The helper spawner: a privileged process that starts `virtfs-proxy-helper`s for the
//! unprivileged front end, so that a helper that died can be replaced after the front end
//! dropped its privileges. The front end sends one byte per helper it wants; the spawner
//! answers one byte with the new helper's socket in SCM_RIGHTS (or with no fd if the
//! helper could not be started). It cannot be made to start anything else: the helper
//! program, the export and the helper's flags are fixed when the spawner starts. It exits
//! when the front end closes its socket.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use proxy_client::ProxyClient;
use rustix::io::Errno;
use rustix::net::{self, RecvFlags, SendFlags};

/// What the spawner starts: `HELPER -p EXPORT -n ARGS... -f N`.
#[derive(Debug, Clone)]
pub struct SpawnConfig {
    /// The helper program.
    pub helper: PathBuf,
    /// The export.
    pub export: PathBuf,
    /// Extra helper flags (e.g. `--seccomp kill`).
    pub args: Vec<OsString>,
    /// The detached copy of the export's mounts every helper started from this config
    /// serves from (`--tree-fd`), made at the first start.
    pub tree: SharedTree,
}

/// The helper flag that hands it the shared tree's fd.
pub const TREE_FD_FLAG: &str = "--tree-fd";

/// One detached copy of an export's mounts (`open_tree(OPEN_TREE_CLONE | AT_RECURSIVE)`),
/// made once and handed to every helper: the fds one helper hands out are on mounts its
/// siblings know, so each accepts the others' in fd-relative requests. Without the
/// privilege to make one (not root), each helper makes its own, or none.
#[derive(Debug, Clone, Default)]
pub struct SharedTree(Arc<OnceLock<Option<OwnedFd>>>);

impl SharedTree {
    /// The tree of `export`, made at the first call (`None`: not root, or it failed).
    pub fn fd(&self, export: &Path) -> Option<BorrowedFd<'_>> {
        self.0
            .get_or_init(|| {
                if !rustix::process::geteuid().is_root() {
                    return None;
                }
                confined_fs::detached_tree(export)
                    .map_err(|e| tracing::warn!(errno = %e, "cannot detach a copy of the export's mounts: each helper makes its own (fds are not shared between them)"))
                    .ok()
            })
            .as_ref()
            .map(|fd| fd.as_fd())
    }
}

impl SpawnConfig {
    /// Starts `command()` on a fresh socketpair, with the shared tree.
    fn spawn(&self) -> io::Result<(OwnedFd, Child)> {
        let tree = self.tree.fd(&self.export).map(|fd| (TREE_FD_FLAG, fd));
        proxy_client::spawn_with_socket_and_fd(self.command(), tree)
    }

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
        let (sock, _child) = self.spawn()?;
        Ok(ProxyClient::from_fd(sock))
    }
}

/// A helper the spawner started, with a pidfd that becomes readable when it exits, so
/// that it is reaped at once rather than lingering as a zombie until the next request.
struct Helper {
    child: Child,
    pidfd: Option<OwnedFd>,
}

/// The spawner's main loop (run it in a process of its own, as root): serves requests
/// on `sock` until the front end closes it, and reaps each helper as soon as it exits.
pub fn serve(sock: OwnedFd, cfg: &SpawnConfig) -> io::Result<()> {
    let mut helpers: Vec<Helper> = Vec::new();
    loop {
        let (request, exited) = wait_event(&sock, &helpers)?;
        if exited {
            // `try_wait` reaps; a helper whose pidfd could not be opened is checked too.
            helpers.retain_mut(|h| !matches!(h.child.try_wait(), Ok(Some(_))));
        }
        if !request {
            continue;
        }
        let mut byte = [0u8; 1];
        match net::recv(&sock, &mut byte, RecvFlags::DONTWAIT) {
            Ok((0, _)) => break,
            Ok(_) => {}
            Err(Errno::INTR) | Err(Errno::AGAIN) => continue,
            Err(e) => return Err(e.into()),
        }
        helpers.retain_mut(|h| !matches!(h.child.try_wait(), Ok(Some(_))));
        let started = cfg.spawn();
        let fd = match started {
            Ok((fd, child)) => {
                let pidfd = rustix::process::pidfd_open(
                    rustix::process::Pid::from_child(&child),
                    rustix::process::PidfdFlags::empty(),
                )
                .map_err(|e| tracing::warn!(errno = %e, "pidfd_open: helper reaped late"))
                .ok();
                helpers.push(Helper { child, pidfd });
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
    for mut h in helpers {
        let _ = h.child.wait();
    }
    Ok(())
}

/// Waits until the front end sends something (or hangs up) or a helper exits: returns
/// (a request or hang-up is pending, a helper exited).
fn wait_event(sock: &OwnedFd, helpers: &[Helper]) -> io::Result<(bool, bool)> {
    use rustix::event::{poll, PollFd, PollFlags};
    let mut fds = Vec::with_capacity(helpers.len() + 1);
    fds.push(PollFd::new(sock, PollFlags::IN));
    for h in helpers {
        if let Some(p) = &h.pidfd {
            fds.push(PollFd::new(p, PollFlags::IN));
        }
    }
    loop {
        match poll(&mut fds, None) {
            Ok(_) => break,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let request = !fds[0].revents().is_empty();
    let exited = fds[1..].iter().any(|f| !f.revents().is_empty());
    Ok((request, exited))
}

fn send_fd(sock: impl AsFd, fd: Option<&OwnedFd>) -> io::Result<()> {
    crate::transport::fdpass::send(sock, &[1], fd.map(|f| f.as_fd()), SendFlags::NOSIGNAL)
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
        receive_helper(sock).map(ProxyClient::from_fd)
    }
}

/// Receives the spawner's answer to one request on `sock`: the new helper's socket.
pub fn receive_helper(sock: impl AsFd) -> io::Result<OwnedFd> {
    let (n, mut fds) = crate::transport::fdpass::recv(sock, &mut [0u8; 1])?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the helper spawner exited",
        ));
    }
    fds.pop()
        .ok_or_else(|| io::Error::other("the helper spawner could not start a helper"))
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
