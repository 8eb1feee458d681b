//! The allowlists, as data. Each process applies the lists it needs:
//! - the proxy helper: [`PROXY_CONNECTION`] + [`FILE_OPS`] + [`CREDENTIALS`];
//! - the 9P front end with the proxy backend: [`FRONT_END`] (its handles come from the
//!   helpers; by name it only looks up and stats one validated name at a time relative
//!   to a handle, reads links through handles and reopens them through
//!   `/proc/self/fd`: it creates, changes and removes nothing);
//! - the 9P front end with the local backend: [`FRONT_END`] + [`FILE_OPS`] +
//!   [`CREDENTIALS`].
//!
//! [`crate::RUNTIME`] is always added.
//!
//! The numbers are `libc::SYS_*` of the target. Syscalls that only some architectures
//! have (x86_64's `renameat`, `poll`) are listed under `#[cfg(target_arch)]`, beside the
//! generic form every architecture has, so an aarch64 build gets its own list.

use crate::Allow;

/// `FS_IOC_GETVERSION`, `_IOR('v', 1, long)`: the only ioctl a file server here issues.
pub const FS_IOC_GETVERSION: u64 =
    (2 << 30) | ((std::mem::size_of::<std::ffi::c_long>() as u64) << 16) | ((b'v' as u64) << 8) | 1;

/// `PR_SET_NAME`: naming threads is the only `prctl` after start-up.
const PR_SET_NAME: u64 = 15;

/// The `clone` flags of glibc's `pthread_create` (2.34 and later): a thread sharing
/// everything, nothing else.
pub const THREAD_CLONE_FLAGS: u64 = (libc::CLONE_VM
    | libc::CLONE_FS
    | libc::CLONE_FILES
    | libc::CLONE_SYSVSEM
    | libc::CLONE_SIGHAND
    | libc::CLONE_THREAD
    | libc::CLONE_SETTLS
    | libc::CLONE_PARENT_SETTID
    | libc::CLONE_CHILD_CLEARTID) as u64;

/// The helper's one connection.
pub const PROXY_CONNECTION: &[Allow] = &[
    Allow::Any(libc::SYS_recvfrom),
    // Requests that carry fds (SCM_RIGHTS).
    Allow::Any(libc::SYS_recvmsg),
    Allow::Any(libc::SYS_sendto),
    Allow::Any(libc::SYS_sendmsg),
    Allow::Any(libc::SYS_read),
];

/// Resolving, opening and changing files inside an export by fd (confined-fs).
pub const FILE_OPS: &[Allow] = &[
    Allow::Any(libc::SYS_openat2),
    Allow::Any(libc::SYS_openat),
    Allow::Any(libc::SYS_fcntl),
    Allow::Any(libc::SYS_fstat),
    Allow::Any(libc::SYS_newfstatat),
    Allow::Any(libc::SYS_statx),
    Allow::Any(libc::SYS_fstatfs),
    Allow::Any(libc::SYS_mkdirat),
    Allow::Any(libc::SYS_mknodat),
    Allow::Any(libc::SYS_symlinkat),
    Allow::Any(libc::SYS_linkat),
    // x86_64 only: aarch64 has renameat2 alone (listed too).
    #[cfg(target_arch = "x86_64")]
    Allow::Any(libc::SYS_renameat),
    Allow::Any(libc::SYS_renameat2),
    Allow::Any(libc::SYS_unlinkat),
    Allow::Any(libc::SYS_readlinkat),
    Allow::Any(libc::SYS_fchmodat),
    Allow::Any(libc::SYS_fchmod),
    Allow::Any(libc::SYS_fchownat),
    Allow::Any(libc::SYS_fchown),
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
];

/// Per-request credential switches: QEMU's model (`setresuid`/`setresgid` and
/// capabilities) and ours (per-thread `setfsuid`/`setfsgid`/`setgroups`).
pub const CREDENTIALS: &[Allow] = &[
    Allow::Any(libc::SYS_geteuid),
    Allow::Any(libc::SYS_setresuid),
    Allow::Any(libc::SYS_setresgid),
    Allow::Any(libc::SYS_setfsuid),
    Allow::Any(libc::SYS_setfsgid),
    Allow::Any(libc::SYS_setgroups),
    Allow::Any(libc::SYS_capget),
    Allow::Any(libc::SYS_capset),
];

/// The 9P front end: listeners, a thread per connection, I/O on the fds it was handed
/// (reads, writes, readdir, fsync, locks, metadata), and its helper connections.
pub const FRONT_END: &[Allow] = &[
    // Listeners and connections.
    Allow::Any(libc::SYS_accept4),
    Allow::Any(libc::SYS_accept),
    Allow::Any(libc::SYS_setsockopt),
    Allow::Any(libc::SYS_getsockopt),
    Allow::Any(libc::SYS_getsockname),
    Allow::Any(libc::SYS_getpeername),
    Allow::Any(libc::SYS_shutdown),
    Allow::Any(libc::SYS_recvfrom),
    Allow::Any(libc::SYS_sendto),
    Allow::Any(libc::SYS_recvmsg),
    Allow::Any(libc::SYS_sendmsg),
    Allow::Any(libc::SYS_read),
    Allow::Any(libc::SYS_readv),
    // x86_64 only: aarch64 has ppoll alone (listed too).
    #[cfg(target_arch = "x86_64")]
    Allow::Any(libc::SYS_poll),
    Allow::Any(libc::SYS_ppoll),
    // Threads, and only threads: `clone` with exactly glibc's pthread_create flags (no
    // process, no namespace: nothing a PID namespace would have to contain); `clone3`,
    // whose flags a filter cannot read, answers ENOSYS and glibc falls back to `clone`.
    Allow::Refuse {
        nr: libc::SYS_clone3,
        errno: libc::ENOSYS as u32,
    },
    Allow::ArgIn {
        nr: libc::SYS_clone,
        arg: 0,
        values: &[THREAD_CLONE_FLAGS],
    },
    Allow::Any(libc::SYS_set_robust_list),
    Allow::Any(libc::SYS_rseq),
    Allow::Any(libc::SYS_sched_getaffinity),
    Allow::ArgIn {
        nr: libc::SYS_prctl,
        arg: 0,
        values: &[PR_SET_NAME],
    },
    Allow::Any(libc::SYS_nanosleep),
    Allow::Any(libc::SYS_clock_nanosleep),
    // Reaping its own child, the helper spawner, when the server ends (`--stdio`).
    Allow::Any(libc::SYS_wait4),
    // File I/O on handed-out fds.
    Allow::Any(libc::SYS_pread64),
    Allow::Any(libc::SYS_pwrite64),
    // Large reads go from the page cache to the socket with sendfile.
    Allow::Any(libc::SYS_sendfile),
    // Large writes go from the socket to the file through a pipe with splice.
    Allow::Any(libc::SYS_splice),
    Allow::Any(libc::SYS_pipe2),
    Allow::Any(libc::SYS_preadv),
    Allow::Any(libc::SYS_pwritev),
    Allow::Any(libc::SYS_lseek),
    Allow::Any(libc::SYS_getdents64),
    Allow::Any(libc::SYS_fsync),
    Allow::Any(libc::SYS_fdatasync),
    Allow::Any(libc::SYS_ftruncate),
    Allow::Any(libc::SYS_fallocate),
    Allow::Any(libc::SYS_fcntl),
    Allow::Any(libc::SYS_fstat),
    Allow::Any(libc::SYS_newfstatat),
    Allow::Any(libc::SYS_statx),
    Allow::Any(libc::SYS_fstatfs),
    Allow::Any(libc::SYS_readlinkat),
    Allow::Any(libc::SYS_openat),
];

/// The helper spawner's own work: wait for the front end's requests and for helpers to
/// exit, start a helper (glibc's `posix_spawn`: `clone3(CLONE_VM | CLONE_VFORK)`, then
/// `execve` in the child), pass its socket back, reap it.
pub const SPAWNER: &[Allow] = &[
    Allow::Any(libc::SYS_recvfrom),
    Allow::Any(libc::SYS_recvmsg),
    Allow::Any(libc::SYS_sendmsg),
    Allow::Any(libc::SYS_socketpair),
    #[cfg(target_arch = "x86_64")]
    Allow::Any(libc::SYS_poll),
    Allow::Any(libc::SYS_ppoll),
    Allow::Any(libc::SYS_pidfd_open),
    Allow::Any(libc::SYS_wait4),
    Allow::Any(libc::SYS_waitid),
    // A process, not a thread: the child runs the next two lines and `execve`.
    Allow::Any(libc::SYS_clone3),
    Allow::Any(libc::SYS_clone),
    Allow::Any(libc::SYS_execve),
    // The export's detached tree, made once and handed to every helper.
    Allow::Any(libc::SYS_dup),
    #[cfg(target_arch = "x86_64")]
    Allow::Any(libc::SYS_dup2),
    Allow::Any(libc::SYS_dup3),
    Allow::Any(libc::SYS_fcntl),
    Allow::Any(libc::SYS_read),
];

/// What a helper does between its `execve` and its own filter (which then narrows this
/// list to the helper's): the loader, its mount namespace and detached export tree,
/// chroot, capabilities, its log socket, and installing that filter. The spawner's
/// filter is inherited by every helper it starts, so the spawner allows these too.
pub const HELPER_START: &[Allow] = &[
    // The dynamic loader and std's start-up.
    #[cfg(target_arch = "x86_64")]
    Allow::Any(libc::SYS_arch_prctl),
    #[cfg(target_arch = "x86_64")]
    Allow::Any(libc::SYS_access),
    Allow::Any(libc::SYS_faccessat),
    Allow::Any(libc::SYS_faccessat2),
    #[cfg(target_arch = "x86_64")]
    Allow::Any(libc::SYS_open),
    #[cfg(target_arch = "x86_64")]
    Allow::Any(libc::SYS_readlink),
    Allow::Any(libc::SYS_pread64),
    Allow::Any(libc::SYS_prlimit64),
    Allow::Any(libc::SYS_set_tid_address),
    Allow::Any(libc::SYS_set_robust_list),
    Allow::Any(libc::SYS_rseq),
    Allow::Any(libc::SYS_sched_getaffinity),
    Allow::Any(libc::SYS_getcwd),
    Allow::Any(libc::SYS_getuid),
    Allow::Any(libc::SYS_getgid),
    Allow::Any(libc::SYS_getegid),
    // Confinement: a private mount namespace, the detached export tree, chroot.
    Allow::Any(libc::SYS_unshare),
    Allow::Any(libc::SYS_mount),
    Allow::Any(libc::SYS_umount2),
    Allow::Any(libc::SYS_open_tree),
    Allow::Any(libc::SYS_mount_setattr),
    Allow::Any(libc::SYS_move_mount),
    Allow::Any(libc::SYS_statfs),
    Allow::Any(libc::SYS_chroot),
    Allow::Any(libc::SYS_chdir),
    Allow::Any(libc::SYS_fchdir),
    Allow::Any(libc::SYS_umask),
    Allow::Any(libc::SYS_prctl),
    Allow::Any(libc::SYS_seccomp),
    // The daemon's log: syslog's `/dev/log`.
    Allow::Any(libc::SYS_socket),
    Allow::Any(libc::SYS_connect),
];
