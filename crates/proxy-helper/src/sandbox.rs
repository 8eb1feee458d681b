//! Confinement, applied in a fixed order before the first request is read:
//! 1. a private mount namespace in which the export is bind-mounted onto itself
//!    `nodev,nosuid` (so no device node in it can ever be opened through us);
//! 2. a detached copy of the export's mounts made (`open_tree(OPEN_TREE_CLONE)`: no
//!    `..` above its root, for anyone holding an fd we hand out), its root opened (root
//!    fd, `/proc/self/fd`), then `chroot` into it;
//! 3. `umask(0)` (modes arrive exact), no supplementary groups;
//! 4. capabilities cut to what file operations need, in every set and the bounding set.
//!
//! Without root (an unprivileged run, e.g. in tests) steps 1, 2's chroot and 4 are
//! skipped with a log line: confinement then rests on `openat2(RESOLVE_IN_ROOT)` alone.

use std::path::Path;

use confined_fs::{Export, ExportOptions};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use crate::mounts::ExportMounts;

use rustix::fs::Mode;
use rustix::io::Errno;
use rustix::process;
use rustix::thread::{self, CapabilitySet, UnshareFlags};

/// The capabilities QEMU's helper keeps, and so do we.
pub const KEPT_CAPS: CapabilitySet = ::sandbox::caps::FILE_SERVER_CAPS;

/// Why confinement failed.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {errno}")]
pub struct SandboxError {
    /// The step that failed.
    pub step: &'static str,
    /// Its errno.
    pub errno: Errno,
}

fn at(step: &'static str) -> impl Fn(Errno) -> SandboxError {
    move |errno| SandboxError { step, errno }
}

/// Confines the process to `export` and returns the export handle to serve from, with
/// the mounts whose fds the peer may hand back ([`ExportMounts`]). `tree`: a detached
/// copy of the export's mounts made by whoever started us (`--tree-fd`), shared with
/// sibling helpers so that fds any of them hands out are accepted by all; without one,
/// the helper makes its own.
pub fn confine(
    export: &Path,
    tree: Option<OwnedFd>,
) -> Result<(Export, ExportMounts), SandboxError> {
    let getversion = Export::supports_getversion(export);
    if !process::geteuid().is_root() {
        tracing::warn!("not running as root: no chroot, no namespace; openat2 confinement only; fd-relative requests refused");
        process::umask(Mode::empty());
        let handle = Export::new(
            export,
            ExportOptions {
                nodev: false,
                getversion,
            },
        )
        .map_err(at("open export"))?;
        return Ok((handle, ExportMounts::none()));
    }
    let nodev = match ::sandbox::mounts::private_namespace(UnshareFlags::empty()).and_then(|()| {
        match &tree {
            // The tree is ours alone to confine: nodev,nosuid on it and its submounts.
            Some(tree) => ::sandbox::mounts::tree_nodev(tree.as_fd()),
            None => ::sandbox::mounts::bind_nodev(export),
        }
    }) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "no private nodev mount; special files are checked before opening instead");
            false
        }
    };
    let mount_points = crate::mounts::submount_points(export);
    // Serve from a detached copy of the export's mounts (submounts included): it has no
    // parent mount, so `..` from its root, or from any fd we hand out, stays there in
    // every process that gets one. The 9P front end and QEMU resolve paths without
    // RESOLVE_IN_ROOT: even compromised, they cannot climb out of the export with `..`.
    let tree = match tree {
        Some(tree) => Some(tree),
        None => match confined_fs::detached_tree(export) {
            Ok(tree) => Some(tree),
            Err(e) => {
                tracing::warn!(errno = %e, "cannot detach a copy of the export's mounts; fds handed out have a parent, fd-relative requests refused");
                None
            }
        },
    };
    let mounts = match &tree {
        Some(tree) => ExportMounts::of_tree(tree.as_fd(), &mount_points),
        None => ExportMounts::none(),
    };
    let handle = match &tree {
        Some(tree) => Export::new(
            format!("/proc/self/fd/{}", tree.as_raw_fd()),
            ExportOptions { nodev, getversion },
        ),
        None => Export::new(export, ExportOptions { nodev, getversion }),
    }
    .map_err(at("open export"))?;
    match &tree {
        Some(tree) => {
            process::fchdir(tree).map_err(at("chdir into the export"))?;
            process::chroot(".").map_err(at("chroot"))?;
        }
        None => process::chroot(export).map_err(at("chroot"))?,
    }
    process::chdir("/").map_err(at("chdir /"))?;
    process::umask(Mode::empty());
    thread::set_thread_groups(&[]).map_err(at("setgroups"))?;
    ::sandbox::caps::keep_only(KEPT_CAPS).map_err(at("capabilities"))?;
    let mut mounts = mounts;
    if let Some(tree) = tree {
        mounts.keep_tree(tree);
    }
    Ok((handle, mounts))
}
