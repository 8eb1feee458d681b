//! Protocol constants: magic numbers, header sizes, attribute masks and lock
//! values. The message type numbers (`P9_TWALK`...) and
//! [`msg_type_name`](crate::msg_type_name) are declared with the messages, in
//! [`crate::messages`].

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
    use crate::messages::msg_type_name;

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
