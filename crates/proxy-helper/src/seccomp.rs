//! The helper's seccomp allowlist: what serving proxy requests needs, nothing else. It is
//! installed after the sandbox (namespace, chroot, capabilities), right before the first
//! request is read.

use sandbox::Allow;

/// `FS_IOC_GETVERSION`, `_IOR('v', 1, long)`: the only ioctl the helper issues.
pub const FS_IOC_GETVERSION: u64 =
    (2 << 30) | ((std::mem::size_of::<std::ffi::c_long>() as u64) << 16) | ((b'v' as u64) << 8) | 1;

/// Syscalls of the request loop (on top of [`sandbox::RUNTIME`]).
pub const HELPER_SYSCALLS: &[Allow] = &[
    // The connection.
    Allow::Any(libc::SYS_recvfrom),
    Allow::Any(libc::SYS_sendto),
    Allow::Any(libc::SYS_sendmsg),
    Allow::Any(libc::SYS_read),
    // Resolving and opening inside the export.
    Allow::Any(libc::SYS_openat2),
    Allow::Any(libc::SYS_openat),
    Allow::Any(libc::SYS_fcntl),
    Allow::Any(libc::SYS_fstat),
    Allow::Any(libc::SYS_newfstatat),
    Allow::Any(libc::SYS_statx),
    Allow::Any(libc::SYS_fstatfs),
    // The operations.
    Allow::Any(libc::SYS_mkdirat),
    Allow::Any(libc::SYS_mknodat),
    Allow::Any(libc::SYS_symlinkat),
    Allow::Any(libc::SYS_linkat),
    Allow::Any(libc::SYS_renameat),
    Allow::Any(libc::SYS_renameat2),
    Allow::Any(libc::SYS_unlinkat),
    Allow::Any(libc::SYS_readlinkat),
    Allow::Any(libc::SYS_fchmodat),
    Allow::Any(libc::SYS_fchownat),
    Allow::Any(libc::SYS_utimensat),
    Allow::Any(libc::SYS_ftruncate),
    Allow::Any(libc::SYS_fgetxattr),
    Allow::Any(libc::SYS_flistxattr),
    Allow::Any(libc::SYS_fsetxattr),
    Allow::Any(libc::SYS_fremovexattr),
    Allow::ArgIn {
        nr: libc::SYS_ioctl,
        arg: 1,
        values: &[FS_IOC_GETVERSION],
    },
    // Per-request credentials.
    Allow::Any(libc::SYS_geteuid),
    Allow::Any(libc::SYS_setresuid),
    Allow::Any(libc::SYS_setresgid),
    Allow::Any(libc::SYS_capget),
    Allow::Any(libc::SYS_capset),
];

#[cfg(test)]
mod tests {
    #[test]
    fn getversion_opcode() {
        assert_eq!(super::FS_IOC_GETVERSION, 0x8008_7601);
    }
}
