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

/// `mount_setattr(AT_FDCWD, dir, AT_RECURSIVE, {attr_set: nodev|nosuid})`: the mount at
/// `dir` and every mount below it become `nodev,nosuid`, their other flags unchanged.
/// `ENOSYS` before Linux 5.12.
fn set_nodev_nosuid_recursive(dir: &Path) -> Result<(), Errno> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).map_err(|_| Errno::INVAL)?;
    mount_setattr_nodev_nosuid(None, &path, libc::AT_RECURSIVE as libc::c_uint)
}

/// `mount_setattr(dirfd or AT_FDCWD, path, flags, {attr_set: nodev|nosuid})`.
#[allow(unsafe_code)]
fn mount_setattr_nodev_nosuid(
    dirfd: Option<std::os::fd::BorrowedFd<'_>>,
    path: &std::ffi::CStr,
    flags: libc::c_uint,
) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    let dirfd = dirfd.map_or(libc::AT_FDCWD, |fd| fd.as_raw_fd());
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOSUID,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `dirfd` is AT_FDCWD or a borrowed fd open for the call, `path` a
    // NUL-terminated string and `attr` one `struct mount_attr` of the size passed, both
    // live for the call; the kernel only reads them.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            flags,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if r == -1 {
        return Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO));
    }
    Ok(())
}

/// In a private mount namespace (see [`private_namespace`]): bind-mounts `dir` onto
/// itself `nodev,nosuid`, submounts included (`mount_setattr` with `AT_RECURSIVE`; on
/// kernels without it, `dir`'s own mount only, keeping the flags a bind remount must
/// keep: read-only, noexec...), so that no device node under it can be opened through
/// this process.
pub fn bind_nodev(dir: &Path) -> Result<(), MountError> {
    mount::mount_bind_recursive(dir, dir).map_err(at("bind-mount export"))?;
    match set_nodev_nosuid_recursive(dir) {
        Ok(()) => return Ok(()),
        Err(Errno::NOSYS) => {}
        Err(e) => return Err(at("mount_setattr export nodev,nosuid")(e)),
    }
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

/// Makes the detached mount tree `tree` (from `open_tree(OPEN_TREE_CLONE)`) and every
/// mount in it `nodev,nosuid` (`mount_setattr(AT_EMPTY_PATH | AT_RECURSIVE)`).
pub fn tree_nodev(tree: std::os::fd::BorrowedFd<'_>) -> Result<(), MountError> {
    mount_setattr_nodev_nosuid(
        Some(tree),
        c"",
        (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint,
    )
    .map_err(at("mount_setattr tree nodev,nosuid"))
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
