//! 9P2000.L open flags (`P9_DOTL_*`, used by Tlopen and Tlcreate), the
//! Tunlinkat flag, and conversion to and from the host's `O_*` flags.
//!
//! The `P9_DOTL_*` values are fixed by the protocol (they are the x86 Linux
//! values), while the host's `O_*` values differ between architectures (e.g.
//! `O_DIRECT`/`O_DIRECTORY` on arm64), so servers must convert rather than
//! pass the bits through.

/// Open read-only.
pub const P9_DOTL_RDONLY: u32 = 0o0000_0000;
/// Open write-only.
pub const P9_DOTL_WRONLY: u32 = 0o0000_0001;
/// Open read-write.
pub const P9_DOTL_RDWR: u32 = 0o0000_0002;
/// Open with no access (access mode 3).
pub const P9_DOTL_NOACCESS: u32 = 0o0000_0003;
/// Mask of the access-mode bits.
pub const P9_DOTL_ACCMODE: u32 = 0o0000_0003;
/// Create the file if missing.
pub const P9_DOTL_CREATE: u32 = 0o0000_0100;
/// With `CREATE`, fail if the file exists.
pub const P9_DOTL_EXCL: u32 = 0o0000_0200;
/// Do not make the file the controlling terminal.
pub const P9_DOTL_NOCTTY: u32 = 0o0000_0400;
/// Truncate on open.
pub const P9_DOTL_TRUNC: u32 = 0o0000_1000;
/// Append mode.
pub const P9_DOTL_APPEND: u32 = 0o0000_2000;
/// Non-blocking I/O.
pub const P9_DOTL_NONBLOCK: u32 = 0o0000_4000;
/// Synchronous data writes.
pub const P9_DOTL_DSYNC: u32 = 0o0001_0000;
/// Signal-driven I/O.
pub const P9_DOTL_FASYNC: u32 = 0o0002_0000;
/// Direct I/O.
pub const P9_DOTL_DIRECT: u32 = 0o0004_0000;
/// Large file.
pub const P9_DOTL_LARGEFILE: u32 = 0o0010_0000;
/// Fail unless a directory.
pub const P9_DOTL_DIRECTORY: u32 = 0o0020_0000;
/// Do not follow a final symlink.
pub const P9_DOTL_NOFOLLOW: u32 = 0o0040_0000;
/// Do not update atime.
pub const P9_DOTL_NOATIME: u32 = 0o0100_0000;
/// Close on exec.
pub const P9_DOTL_CLOEXEC: u32 = 0o0200_0000;
/// Synchronous writes (data and metadata).
pub const P9_DOTL_SYNC: u32 = 0o0400_0000;

/// Tunlinkat flag: remove a directory (like `AT_REMOVEDIR`).
pub const P9_DOTL_AT_REMOVEDIR: u32 = 0x200;

/// Pairs of (protocol bit, host flag) for every non-access-mode flag.
fn flag_map() -> [(u32, libc::c_int); 15] {
    [
        (P9_DOTL_CREATE, libc::O_CREAT),
        (P9_DOTL_EXCL, libc::O_EXCL),
        (P9_DOTL_NOCTTY, libc::O_NOCTTY),
        (P9_DOTL_TRUNC, libc::O_TRUNC),
        (P9_DOTL_APPEND, libc::O_APPEND),
        (P9_DOTL_NONBLOCK, libc::O_NONBLOCK),
        (P9_DOTL_DSYNC, libc::O_DSYNC),
        (P9_DOTL_FASYNC, libc::O_ASYNC),
        (P9_DOTL_DIRECT, libc::O_DIRECT),
        (P9_DOTL_LARGEFILE, libc::O_LARGEFILE),
        (P9_DOTL_DIRECTORY, libc::O_DIRECTORY),
        (P9_DOTL_NOFOLLOW, libc::O_NOFOLLOW),
        (P9_DOTL_NOATIME, libc::O_NOATIME),
        (P9_DOTL_CLOEXEC, libc::O_CLOEXEC),
        (P9_DOTL_SYNC, libc::O_SYNC),
    ]
}

/// Converts protocol `P9_DOTL_*` flags to host `O_*` flags.
///
/// Every defined bit is translated faithfully (unknown bits are dropped);
/// the access mode is kept as is. Policy (e.g. a server stripping
/// `O_NOCTTY`, `O_ASYNC`, `O_DIRECT`, `O_CREAT` from Tlopen, or adding
/// `O_NOFOLLOW`) is the caller's business.
pub fn dotl_to_host_oflags(flags: u32) -> libc::c_int {
    let mut host = (flags & P9_DOTL_ACCMODE) as libc::c_int;
    for (p9, h) in flag_map() {
        if flags & p9 != 0 {
            host |= h;
        }
    }
    host
}

/// Converts host `O_*` flags to protocol `P9_DOTL_*` flags (what a client
/// puts in Tlopen/Tlcreate). Unknown host bits are dropped; host flags that
/// are 0 on this platform (e.g. `O_LARGEFILE` on 64-bit) are never set.
pub fn host_to_dotl_oflags(flags: libc::c_int) -> u32 {
    let mut p9 = (flags & libc::O_ACCMODE) as u32;
    for (bit, h) in flag_map() {
        if h != 0 && flags & h == h {
            p9 |= bit;
        }
    }
    p9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_modes_pass_through() {
        assert_eq!(dotl_to_host_oflags(P9_DOTL_RDONLY), libc::O_RDONLY);
        assert_eq!(dotl_to_host_oflags(P9_DOTL_WRONLY), libc::O_WRONLY);
        assert_eq!(dotl_to_host_oflags(P9_DOTL_RDWR), libc::O_RDWR);
        assert_eq!(host_to_dotl_oflags(libc::O_RDWR), P9_DOTL_RDWR);
    }

    #[test]
    fn each_flag_maps_both_ways() {
        for (p9, host) in flag_map() {
            if host == 0 {
                continue;
            }
            let h = dotl_to_host_oflags(p9 | P9_DOTL_WRONLY);
            assert_eq!(h, host | libc::O_WRONLY, "p9 flag {p9:o}");
            let back = host_to_dotl_oflags(h);
            // O_SYNC includes O_DSYNC on Linux, so SYNC comes back with DSYNC.
            if p9 == P9_DOTL_SYNC && libc::O_SYNC & libc::O_DSYNC != 0 {
                assert_eq!(back, P9_DOTL_SYNC | P9_DOTL_DSYNC | P9_DOTL_WRONLY);
            } else {
                assert_eq!(back, p9 | P9_DOTL_WRONLY, "host flag {host:o}");
            }
        }
    }

    #[test]
    fn kernel_values() {
        // Values as in the Linux kernel's include/net/9p/9p.h.
        assert_eq!(P9_DOTL_CREATE, 0x40);
        assert_eq!(P9_DOTL_DIRECTORY, 0x10000);
        assert_eq!(P9_DOTL_SYNC, 0x100000);
        let all = host_to_dotl_oflags(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_RDWR);
        assert_eq!(
            all,
            P9_DOTL_CREATE | P9_DOTL_EXCL | P9_DOTL_TRUNC | P9_DOTL_RDWR
        );
    }
}
