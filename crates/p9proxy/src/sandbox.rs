//! The front end's confinement, applied in a fixed order once the backend is open and
//! before a single client byte is read:
//! 0. `--sandbox namespace`: a PID namespace, entered before the backend starts (see
//!    `pidns`: the server is its PID 1, with its spawner and helpers);
//! 1. `--sandbox namespace` (default as root): new mount, network, IPC and UTS
//!    namespaces (listening sockets were bound before and keep working; nothing new can
//!    be connected to); with the proxy backend the root becomes an empty read-only
//!    tmpfs (the front end needs no file system: its fds come from the helpers); with
//!    the local backend the export, bind-mounted `nodev,nosuid`;
//!    `--sandbox chroot`: the same roots without namespaces (an empty directory, removed
//!    before the chroot into it, or the export); `none`: nothing;
//! 2. privileges dropped (proxy backend, see `serve`);
//! 3. the seccomp allowlist (`--seccomp`, default kill): only the syscalls of the
//!    backend in use.

use std::path::Path;

use clap::ValueEnum;
use rustix::thread::UnshareFlags;
use sandbox::lists::{CREDENTIALS, FILE_OPS, FRONT_END, HELPER_START, PROXY_CONNECTION, SPAWNER};
use sandbox::{Allow, SeccompMode};

use crate::options::BackendKind;

/// How the front end confines itself (as virtiofsd's `--sandbox`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SandboxMode {
    /// New PID, mount, network, IPC and UTS namespaces, and a chroot (needs root).
    Namespace,
    /// A chroot only (needs root).
    Chroot,
    /// Nothing beyond the backend's own confinement.
    None,
}

/// Step 1 (as root, before privileges are dropped).
pub fn confine(mode: SandboxMode, backend: BackendKind, export: &Path) -> Result<(), String> {
    if mode == SandboxMode::None {
        return Ok(());
    }
    if !rustix::process::geteuid().is_root() {
        return Err(format!("--sandbox {mode} needs root (use --sandbox none)"));
    }
    let root = match (mode, backend) {
        (SandboxMode::Namespace, BackendKind::Proxy) => {
            sandbox::mounts::private_namespace(namespaces()).map_err(|e| e.to_string())?;
            // An empty read-only tmpfs over /tmp (in our namespace only) becomes the root.
            let empty = Path::new("/tmp");
            sandbox::mounts::empty_root(empty).map_err(|e| e.to_string())?;
            empty.to_path_buf()
        }
        (SandboxMode::Namespace, BackendKind::Local) => {
            sandbox::mounts::private_namespace(namespaces()).map_err(|e| e.to_string())?;
            sandbox::mounts::bind_nodev(export).map_err(|e| e.to_string())?;
            export.to_path_buf()
        }
        (SandboxMode::Chroot, BackendKind::Proxy) => {
            // An empty directory, removed while it is our working directory: the chroot
            // into "." below makes the root an unlinked, empty directory in which
            // nothing can be created, and nothing is left behind in the temp dir.
            let dir = std::env::temp_dir().join(format!("p9proxy-empty.{}", std::process::id()));
            std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let entered = rustix::process::chdir(&dir);
            let removed = std::fs::remove_dir(&dir);
            entered.map_err(|e| format!("chdir {}: {e}", dir.display()))?;
            removed.map_err(|e| format!("rmdir {}: {e}", dir.display()))?;
            dir
        }
        (SandboxMode::Chroot, BackendKind::Local) => export.to_path_buf(),
        (SandboxMode::None, _) => unreachable!("handled above"),
    };
    // The removed directory can only be reached as the working directory.
    let target = match (mode, backend) {
        (SandboxMode::Chroot, BackendKind::Proxy) => Path::new("."),
        _ => root.as_path(),
    };
    rustix::process::chroot(target).map_err(|e| format!("chroot {}: {e}", root.display()))?;
    rustix::process::chdir("/").map_err(|e| format!("chdir /: {e}"))?;
    tracing::info!(sandbox = ?mode, root = %root.display(), "front end confined");
    Ok(())
}

fn namespaces() -> UnshareFlags {
    UnshareFlags::NEWNET | UnshareFlags::NEWIPC | UnshareFlags::NEWUTS
}

/// The front end's allowlists for `backend`.
pub fn allowlist(backend: BackendKind) -> &'static [&'static [Allow]] {
    match backend {
        BackendKind::Proxy => &[FRONT_END],
        BackendKind::Local => &[FRONT_END, FILE_OPS, CREDENTIALS],
    }
}

/// Step 3: the seccomp filter, for every thread (connection threads start later and
/// inherit it).
pub fn seccomp(mode: SeccompMode, backend: BackendKind) -> Result<(), String> {
    sandbox::apply(mode, allowlist(backend)).map_err(|e| format!("seccomp ({mode}): {e}"))?;
    sandbox::selftest_if_requested();
    Ok(())
}

/// The helper spawner's allowlist: its own syscalls, plus everything a helper it starts
/// calls until it installs its own filter (filters are inherited across `execve` and
/// stack: the helper ends up with its own list, which is narrower).
pub const SPAWNER_LISTS: &[&[sandbox::Allow]] = &[
    SPAWNER,
    HELPER_START,
    PROXY_CONNECTION,
    FILE_OPS,
    CREDENTIALS,
];

/// The helper spawner's filter (see [`SPAWNER_LISTS`]).
pub fn spawner_seccomp(mode: SeccompMode) -> Result<(), String> {
    sandbox::apply(mode, SPAWNER_LISTS)
        .map_err(|e| format!("helper spawner: seccomp ({mode}): {e}"))
}
