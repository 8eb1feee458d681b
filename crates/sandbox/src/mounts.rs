//! Mount-namespace confinement shared by the helper and the 9P front end.

use std::path::Path;

use rustix::io::Errno;
use rustix::mount::{self, MountFlags, MountPropagationFlags};
use rustix::thread::{self, UnshareFlags};

/// Why a mount step failed.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {errno}")]
pub struct MountError {
    /// The step that failed.
    pub step: &'static str,
    /// Its errno.
    pub errno: Errno,
}

fn at(step: &'static str) -> impl Fn(Errno) -> MountError {
    move |errno| MountError { step, errno }
}

/// Enters a new mount namespace (and, with `more`, further namespaces such as
/// `CLONE_NEWNET`), where every mount is private, so nothing done here is seen outside.
pub fn private_namespace(more: UnshareFlags) -> Result<(), MountError> {
    // Callers limit `more` to NEWNET, NEWIPC and NEWUTS.
    // SAFETY: these flags unshare neither memory nor the fd table (what makes unshare unsafe).
    unsafe { thread::unshare_unsafe(UnshareFlags::NEWNS | more) }.map_err(at("unshare"))?;
    mount::mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )
    .map_err(at("make mounts private"))
}

/// In a private mount namespace (see [`private_namespace`]): bind-mounts `dir` (and,
/// recursively, the mounts below it) onto itself, then remounts the top bind
/// `nodev,nosuid`, carrying over its read-only, noexec, noatime and nodiratime flags
/// (which a bind remount would otherwise clear). The kernel then refuses to open device
/// nodes on `dir`'s own file system; mounts below `dir` keep their own flags, so callers
/// still check what they open (confined-fs's `finish_open`).
pub fn bind_nodev(dir: &Path) -> Result<(), MountError> {
    mount::mount_bind_recursive(dir, dir).map_err(at("bind-mount export"))?;
    let keep = match rustix::fs::statvfs(dir) {
        Ok(st) => {
            use rustix::fs::StatVfsMountFlags as V;
            let f = st.f_flag;
            let mut m = MountFlags::empty();
            for (v, flag) in [
                (V::RDONLY, MountFlags::RDONLY),
                (V::NOEXEC, MountFlags::NOEXEC),
                (V::NOATIME, MountFlags::NOATIME),
                (V::NODIRATIME, MountFlags::NODIRATIME),
            ] {
                if f.contains(v) {
                    m |= flag;
                }
            }
            m
        }
        Err(e) => {
            return Err(MountError {
                step: "statvfs export",
                errno: e,
            })
        }
    };
    mount::mount_remount(
        dir,
        MountFlags::BIND | MountFlags::NODEV | MountFlags::NOSUID | keep,
        "",
    )
    .map_err(at("remount export nodev,nosuid"))
}

/// In a private mount namespace: mounts an empty, read-only tmpfs on `dir`, to chroot
/// into when a process needs no file system at all.
pub fn empty_root(dir: &Path) -> Result<(), MountError> {
    mount::mount(
        "p9proxy-empty",
        dir,
        "tmpfs",
        MountFlags::RDONLY | MountFlags::NODEV | MountFlags::NOSUID | MountFlags::NOEXEC,
        Some(c"size=4k,mode=0555"),
    )
    .map_err(at("mount empty tmpfs"))
}
