//! Protocol constants: message type numbers (the Linux kernel's
//! `enum p9_msg_t`), magic numbers, header sizes, attribute masks and lock
//! values.

// ---- message types (include/net/9p/9p.h, enum p9_msg_t) ----

/// Tlerror: not used (there is no request for it).
pub const P9_TLERROR: u8 = 6;
/// Rlerror: error reply carrying an errno.
pub const P9_RLERROR: u8 = 7;
/// Tstatfs.
pub const P9_TSTATFS: u8 = 8;
/// Rstatfs.
pub const P9_RSTATFS: u8 = 9;
/// Tlopen.
pub const P9_TLOPEN: u8 = 12;
/// Rlopen.
pub const P9_RLOPEN: u8 = 13;
/// Tlcreate.
pub const P9_TLCREATE: u8 = 14;
/// Rlcreate.
pub const P9_RLCREATE: u8 = 15;
/// Tsymlink.
pub const P9_TSYMLINK: u8 = 16;
/// Rsymlink.
pub const P9_RSYMLINK: u8 = 17;
/// Tmknod.
pub const P9_TMKNOD: u8 = 18;
/// Rmknod.
pub const P9_RMKNOD: u8 = 19;
/// Trename.
pub const P9_TRENAME: u8 = 20;
/// Rrename.
pub const P9_RRENAME: u8 = 21;
/// Treadlink.
pub const P9_TREADLINK: u8 = 22;
/// Rreadlink.
pub const P9_RREADLINK: u8 = 23;
/// Tgetattr.
pub const P9_TGETATTR: u8 = 24;
/// Rgetattr.
pub const P9_RGETATTR: u8 = 25;
/// Tsetattr.
pub const P9_TSETATTR: u8 = 26;
/// Rsetattr.
pub const P9_RSETATTR: u8 = 27;
/// Txattrwalk.
pub const P9_TXATTRWALK: u8 = 30;
/// Rxattrwalk.
pub const P9_RXATTRWALK: u8 = 31;
/// Txattrcreate.
pub const P9_TXATTRCREATE: u8 = 32;
/// Rxattrcreate.
pub const P9_RXATTRCREATE: u8 = 33;
/// Treaddir.
pub const P9_TREADDIR: u8 = 40;
/// Rreaddir.
pub const P9_RREADDIR: u8 = 41;
/// Tfsync.
pub const P9_TFSYNC: u8 = 50;
/// Rfsync.
pub const P9_RFSYNC: u8 = 51;
/// Tlock.
pub const P9_TLOCK: u8 = 52;
/// Rlock.
pub const P9_RLOCK: u8 = 53;
/// Tgetlock.
pub const P9_TGETLOCK: u8 = 54;
/// Rgetlock.
pub const P9_RGETLOCK: u8 = 55;
/// Tlink.
pub const P9_TLINK: u8 = 70;
/// Rlink.
pub const P9_RLINK: u8 = 71;
/// Tmkdir.
pub const P9_TMKDIR: u8 = 72;
/// Rmkdir.
pub const P9_RMKDIR: u8 = 73;
/// Trenameat.
pub const P9_TRENAMEAT: u8 = 74;
/// Rrenameat.
pub const P9_RRENAMEAT: u8 = 75;
/// Tunlinkat.
pub const P9_TUNLINKAT: u8 = 76;
/// Runlinkat.
pub const P9_RUNLINKAT: u8 = 77;
/// Tversion.
pub const P9_TVERSION: u8 = 100;
/// Rversion.
pub const P9_RVERSION: u8 = 101;
/// Tauth.
pub const P9_TAUTH: u8 = 102;
/// Rauth.
pub const P9_RAUTH: u8 = 103;
/// Tattach.
pub const P9_TATTACH: u8 = 104;
/// Rattach.
pub const P9_RATTACH: u8 = 105;
/// Terror (legacy 9P2000, never sent; not decoded by this crate).
pub const P9_TERROR: u8 = 106;
/// Rerror (legacy 9P2000 string error; not decoded by this crate).
pub const P9_RERROR: u8 = 107;
/// Tflush.
pub const P9_TFLUSH: u8 = 108;
/// Rflush.
pub const P9_RFLUSH: u8 = 109;
/// Twalk.
pub const P9_TWALK: u8 = 110;
/// Rwalk.
pub const P9_RWALK: u8 = 111;
/// Topen (legacy 9P2000; not decoded by this crate).
pub const P9_TOPEN: u8 = 112;
/// Ropen (legacy 9P2000; not decoded by this crate).
pub const P9_ROPEN: u8 = 113;
/// Tcreate (legacy 9P2000; not decoded by this crate).
pub const P9_TCREATE: u8 = 114;
/// Rcreate (legacy 9P2000; not decoded by this crate).
pub const P9_RCREATE: u8 = 115;
/// Tread.
pub const P9_TREAD: u8 = 116;
/// Rread.
pub const P9_RREAD: u8 = 117;
/// Twrite.
pub const P9_TWRITE: u8 = 118;
/// Rwrite.
pub const P9_RWRITE: u8 = 119;
/// Tclunk.
pub const P9_TCLUNK: u8 = 120;
/// Rclunk.
pub const P9_RCLUNK: u8 = 121;
/// Tremove.
pub const P9_TREMOVE: u8 = 122;
/// Rremove.
pub const P9_RREMOVE: u8 = 123;
/// Tstat (legacy 9P2000; not decoded by this crate).
pub const P9_TSTAT: u8 = 124;
/// Rstat (legacy 9P2000; not decoded by this crate).
pub const P9_RSTAT: u8 = 125;
/// Twstat (legacy 9P2000; not decoded by this crate).
pub const P9_TWSTAT: u8 = 126;
/// Rwstat (legacy 9P2000; not decoded by this crate).
pub const P9_RWSTAT: u8 = 127;

/// Human-readable name of a message type number, for logging.
pub fn msg_type_name(ty: u8) -> Option<&'static str> {
    Some(match ty {
        P9_TLERROR => "Tlerror",
        P9_RLERROR => "Rlerror",
        P9_TSTATFS => "Tstatfs",
        P9_RSTATFS => "Rstatfs",
        P9_TLOPEN => "Tlopen",
        P9_RLOPEN => "Rlopen",
        P9_TLCREATE => "Tlcreate",
        P9_RLCREATE => "Rlcreate",
        P9_TSYMLINK => "Tsymlink",
        P9_RSYMLINK => "Rsymlink",
        P9_TMKNOD => "Tmknod",
        P9_RMKNOD => "Rmknod",
        P9_TRENAME => "Trename",
        P9_RRENAME => "Rrename",
        P9_TREADLINK => "Treadlink",
        P9_RREADLINK => "Rreadlink",
        P9_TGETATTR => "Tgetattr",
        P9_RGETATTR => "Rgetattr",
        P9_TSETATTR => "Tsetattr",
        P9_RSETATTR => "Rsetattr",
        P9_TXATTRWALK => "Txattrwalk",
        P9_RXATTRWALK => "Rxattrwalk",
        P9_TXATTRCREATE => "Txattrcreate",
        P9_RXATTRCREATE => "Rxattrcreate",
        P9_TREADDIR => "Treaddir",
        P9_RREADDIR => "Rreaddir",
        P9_TFSYNC => "Tfsync",
        P9_RFSYNC => "Rfsync",
        P9_TLOCK => "Tlock",
        P9_RLOCK => "Rlock",
        P9_TGETLOCK => "Tgetlock",
        P9_RGETLOCK => "Rgetlock",
        P9_TLINK => "Tlink",
        P9_RLINK => "Rlink",
        P9_TMKDIR => "Tmkdir",
        P9_RMKDIR => "Rmkdir",
        P9_TRENAMEAT => "Trenameat",
        P9_RRENAMEAT => "Rrenameat",
        P9_TUNLINKAT => "Tunlinkat",
        P9_RUNLINKAT => "Runlinkat",
        P9_TVERSION => "Tversion",
        P9_RVERSION => "Rversion",
        P9_TAUTH => "Tauth",
        P9_RAUTH => "Rauth",
        P9_TATTACH => "Tattach",
        P9_RATTACH => "Rattach",
        P9_TERROR => "Terror",
        P9_RERROR => "Rerror",
        P9_TFLUSH => "Tflush",
        P9_RFLUSH => "Rflush",
        P9_TWALK => "Twalk",
        P9_RWALK => "Rwalk",
        P9_TOPEN => "Topen",
        P9_ROPEN => "Ropen",
        P9_TCREATE => "Tcreate",
        P9_RCREATE => "Rcreate",
        P9_TREAD => "Tread",
        P9_RREAD => "Rread",
        P9_TWRITE => "Twrite",
        P9_RWRITE => "Rwrite",
        P9_TCLUNK => "Tclunk",
        P9_RCLUNK => "Rclunk",
        P9_TREMOVE => "Tremove",
        P9_RREMOVE => "Rremove",
        P9_TSTAT => "Tstat",
        P9_RSTAT => "Rstat",
        P9_TWSTAT => "Twstat",
        P9_RWSTAT => "Rwstat",
        _ => return None,
    })
}

// ---- magic numbers and sizes ----

/// "No tag": the tag Tversion uses.
pub const NOTAG: u16 = u16::MAX;
/// "No fid": e.g. the afid of a Tattach without authentication.
pub const NOFID: u32 = u32::MAX;
/// "No numeric uname" in Tattach/Tauth `n_uname`.
pub const NONUNAME: u32 = u32::MAX;
/// Maximum number of names in a Twalk (and qids in an Rwalk).
pub const MAXWELEM: usize = 16;
/// Size of the `size[4] type[1] tag[2]` header every frame starts with.
pub const HEADER_SIZE: usize = 7;
/// Overhead the Linux client reserves for Tread/Twrite/Rread headers: the
/// largest data payload it asks for is `msize - IOHDRSZ`.
pub const IOHDRSZ: u32 = 24;
/// Overhead the Linux client reserves for the Rreaddir header: the largest
/// Treaddir count it sends is `msize - READDIRHDRSZ`.
pub const READDIRHDRSZ: u32 = 24;
/// Bytes before the data in an Rread: header + `count[4]`.
pub const RREAD_HEADER_SIZE: usize = HEADER_SIZE + 4;
/// Bytes before the data in an Rreaddir: header + `count[4]`.
pub const RREADDIR_HEADER_SIZE: usize = HEADER_SIZE + 4;
/// Bytes before the data in a Twrite: header + `fid[4] offset[8] count[4]`.
pub const TWRITE_HEADER_SIZE: usize = HEADER_SIZE + 16;
/// Maximum length of an error string (legacy Rerror).
pub const ERRMAX: usize = 128;

/// The protocol version this crate speaks.
pub const VERSION_9P2000_L: &[u8] = b"9P2000.L";
/// Plain 9P2000, which clients may offer in Tversion.
pub const VERSION_9P2000: &[u8] = b"9P2000";
/// What a server answers in Rversion to a version it does not speak.
pub const VERSION_UNKNOWN: &[u8] = b"unknown";

/// The version string a 9P2000.L-only server answers to a Tversion carrying
/// `offered`: `"9P2000.L"` if offered exactly, else `"unknown"`.
pub fn negotiate_version(offered: &[u8]) -> &'static [u8] {
    if offered == VERSION_9P2000_L {
        VERSION_9P2000_L
    } else {
        VERSION_UNKNOWN
    }
}

// ---- Tgetattr request_mask / Rgetattr valid bits ----

/// Getattr: `mode` field.
pub const P9_GETATTR_MODE: u64 = 0x0000_0001;
/// Getattr: `nlink` field.
pub const P9_GETATTR_NLINK: u64 = 0x0000_0002;
/// Getattr: `uid` field.
pub const P9_GETATTR_UID: u64 = 0x0000_0004;
/// Getattr: `gid` field.
pub const P9_GETATTR_GID: u64 = 0x0000_0008;
/// Getattr: `rdev` field.
pub const P9_GETATTR_RDEV: u64 = 0x0000_0010;
/// Getattr: atime fields.
pub const P9_GETATTR_ATIME: u64 = 0x0000_0020;
/// Getattr: mtime fields.
pub const P9_GETATTR_MTIME: u64 = 0x0000_0040;
/// Getattr: ctime fields.
pub const P9_GETATTR_CTIME: u64 = 0x0000_0080;
/// Getattr: `qid.path` (inode number).
pub const P9_GETATTR_INO: u64 = 0x0000_0100;
/// Getattr: `size` field.
pub const P9_GETATTR_SIZE: u64 = 0x0000_0200;
/// Getattr: `blocks` field.
pub const P9_GETATTR_BLOCKS: u64 = 0x0000_0400;
/// Getattr: btime fields.
pub const P9_GETATTR_BTIME: u64 = 0x0000_0800;
/// Getattr: `gen` field.
pub const P9_GETATTR_GEN: u64 = 0x0000_1000;
/// Getattr: `data_version` field.
pub const P9_GETATTR_DATA_VERSION: u64 = 0x0000_2000;
/// Getattr: every field up to `blocks` (what `stat(2)` needs).
pub const P9_GETATTR_BASIC: u64 = 0x0000_07ff;
/// Getattr: every field.
pub const P9_GETATTR_ALL: u64 = 0x0000_3fff;

// ---- Tsetattr valid bits ----

/// Setattr: set `mode`.
pub const P9_SETATTR_MODE: u32 = 0x0000_0001;
/// Setattr: set `uid`.
pub const P9_SETATTR_UID: u32 = 0x0000_0002;
/// Setattr: set `gid`.
pub const P9_SETATTR_GID: u32 = 0x0000_0004;
/// Setattr: set `size` (truncate).
pub const P9_SETATTR_SIZE: u32 = 0x0000_0008;
/// Setattr: change atime (to now unless `P9_SETATTR_ATIME_SET`).
pub const P9_SETATTR_ATIME: u32 = 0x0000_0010;
/// Setattr: change mtime (to now unless `P9_SETATTR_MTIME_SET`).
pub const P9_SETATTR_MTIME: u32 = 0x0000_0020;
/// Setattr: change ctime (to now).
pub const P9_SETATTR_CTIME: u32 = 0x0000_0040;
/// Setattr: atime is given in `atime_sec`/`atime_nsec`.
pub const P9_SETATTR_ATIME_SET: u32 = 0x0000_0080;
/// Setattr: mtime is given in `mtime_sec`/`mtime_nsec`.
pub const P9_SETATTR_MTIME_SET: u32 = 0x0000_0100;

// ---- locks ----

/// Lock type: read (shared) lock.
pub const P9_LOCK_TYPE_RDLCK: u8 = 0;
/// Lock type: write (exclusive) lock.
pub const P9_LOCK_TYPE_WRLCK: u8 = 1;
/// Lock type: unlock.
pub const P9_LOCK_TYPE_UNLCK: u8 = 2;
/// Rlock status: lock granted.
pub const P9_LOCK_SUCCESS: u8 = 0;
/// Rlock status: lock is held by someone else.
pub const P9_LOCK_BLOCKED: u8 = 1;
/// Rlock status: error.
pub const P9_LOCK_ERROR: u8 = 2;
/// Rlock status: server is in its grace period.
pub const P9_LOCK_GRACE: u8 = 3;
/// Tlock flag: the client would block (F_SETLKW).
pub const P9_LOCK_FLAGS_BLOCK: u32 = 1;
/// Tlock flag: reclaim a lock after server restart.
pub const P9_LOCK_FLAGS_RECLAIM: u32 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_pairs() {
        for ty in 0..=255u8 {
            if let Some(n) = msg_type_name(ty) {
                // Every T type has its R type at ty + 1, named alike.
                let first = n.as_bytes()[0];
                if first == b'T' {
                    let r = msg_type_name(ty + 1).unwrap();
                    assert_eq!(&r[1..], &n[1..]);
                    assert_eq!(ty % 2, 0);
                }
            }
        }
        assert_eq!(msg_type_name(0), None);
    }

    #[test]
    fn version_negotiation() {
        assert_eq!(negotiate_version(b"9P2000.L"), b"9P2000.L");
        assert_eq!(negotiate_version(b"9P2000.u"), b"unknown");
        assert_eq!(negotiate_version(b"9P2000"), b"unknown");
    }
}
