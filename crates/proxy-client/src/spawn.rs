//! Starting a helper on one end of a fresh socketpair, as QEMU's `-fsdev proxy,sock_fd=N`
//! setup does: the child gets its end as `-f N`, the client keeps the other.
//!
//! No `pre_exec`: the child's end is created without close-on-exec and handed down by
//! plain inheritance. So that no other child spawned meanwhile inherits it too, socketpair
//! creation, spawn and the parent's close of that end happen under one process-wide lock;
//! children spawned by code that does not go through this module can still inherit it
//! during that short window.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command};
use std::sync::Mutex;

use rustix::io::{fcntl_setfd, FdFlags};
use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};

use crate::client::ProxyClient;

static SPAWN_LOCK: Mutex<()> = Mutex::new(());

/// A helper process and the client connected to it.
#[derive(Debug)]
pub struct SpawnedHelper {
    /// The client end of the socketpair.
    pub client: ProxyClient,
    /// The helper process. It exits once the client is dropped (end of its one connection).
    pub child: Child,
}

/// Starts `program -f N -p EXPORT -n`: a helper in the foreground serving `export` over
/// the socketpair end `N`.
pub fn spawn_helper(
    program: impl AsRef<OsStr>,
    export: impl AsRef<Path>,
) -> io::Result<SpawnedHelper> {
    let mut cmd = Command::new(program);
    cmd.arg("-p").arg(export.as_ref()).arg("-n");
    spawn_helper_command(cmd)
}

/// Spawns `cmd` with `-f N` appended, `N` being the child's end of a fresh AF_UNIX stream
/// socketpair; the caller sets everything else (program, `-p`, `-n`, stdio).
pub fn spawn_helper_command(cmd: Command) -> io::Result<SpawnedHelper> {
    let (ours, child) = spawn_with_socket(cmd)?;
    Ok(SpawnedHelper {
        client: ProxyClient::from_fd(ours),
        child,
    })
}

/// Spawns `cmd` with `-f N` appended, `N` being the child's end of a fresh AF_UNIX stream
/// socketpair, and returns the parent's end (close-on-exec) with the child.
pub fn spawn_with_socket(cmd: Command) -> io::Result<(OwnedFd, Child)> {
    spawn_with_socket_and_fd(cmd, None)
}

/// Like [`spawn_with_socket`], also handing the child a copy of `extra` (flag, fd): the
/// child gets `FLAG N` before `-f`, `N` being its inherited copy.
pub fn spawn_with_socket_and_fd(
    mut cmd: Command,
    extra: Option<(&str, BorrowedFd<'_>)>,
) -> io::Result<(OwnedFd, Child)> {
    let _guard = SPAWN_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    // Not close-on-exec (dup), closed here once the child has its copy.
    let extra = match extra {
        Some((flag, fd)) => {
            let copy = rustix::io::dup(fd)?;
            cmd.arg(flag).arg(copy.as_raw_fd().to_string());
            Some(copy)
        }
        None => None,
    };
    let (ours, theirs) = socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    // The child's end must survive exec.
    fcntl_setfd(&theirs, FdFlags::empty())?;
    cmd.arg("-f").arg(theirs.as_raw_fd().to_string());
    let child = cmd.spawn()?;
    drop(theirs);
    drop(extra);
    Ok((ours, child))
}
