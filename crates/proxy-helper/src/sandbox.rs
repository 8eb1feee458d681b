//! Confinement, applied in a fixed order before the first request is read:
//! 1. a private mount namespace in which the export is bind-mounted onto itself
//!    `nodev,nosuid` (so no device node in it can ever be opened through us);
//! 2. the export opened (root fd, `/proc/self/fd`), then `chroot` into it;
//! 3. `umask(0)` (modes arrive exact), no supplementary groups;
//! 4. capabilities cut to what file operations need, in every set and the bounding set.
//!
//! Without root (an unprivileged run, e.g. in tests) steps 1, 2's chroot and 4 are
//! skipped with a log line: confinement then rests on `openat2(RESOLVE_IN_ROOT)` alone.

use std::path::Path;

use confined_fs::{Export, ExportOptions};
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

/// Confines the process to `export` and returns the export handle to serve from.
pub fn confine(export: &Path) -> Result<Export, SandboxError> {
    let getversion = Export::supports_getversion(export);
    if !process::geteuid().is_root() {
        tracing::warn!("not running as root: no chroot, no namespace; openat2 confinement only");
        process::umask(Mode::empty());
        return Export::new(
            export,
            ExportOptions {
                nodev: false,
                getversion,
            },
        )
        .map_err(at("open export"));
    }
    let nodev = match ::sandbox::mounts::private_namespace(UnshareFlags::empty())
        .and_then(|()| ::sandbox::mounts::bind_nodev(export))
    {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "no private nodev mount; special files are checked before opening instead");
            false
        }
    };
    let handle =
        Export::new(export, ExportOptions { nodev, getversion }).map_err(at("open export"))?;
    process::chroot(export).map_err(at("chroot"))?;
    process::chdir("/").map_err(at("chdir /"))?;
    process::umask(Mode::empty());
    thread::set_thread_groups(&[]).map_err(at("setgroups"))?;
    ::sandbox::caps::keep_only(KEPT_CAPS).map_err(at("capabilities"))?;
    Ok(handle)
}
