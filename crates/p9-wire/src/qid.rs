//! The 13-byte qid (server-unique file identity) and its type bits.

/// Qid type bit: directory.
pub const QTDIR: u8 = 0x80;
/// Qid type bit: append-only file.
pub const QTAPPEND: u8 = 0x40;
/// Qid type bit: exclusive-use file.
pub const QTEXCL: u8 = 0x20;
/// Qid type bit: mount point.
pub const QTMOUNT: u8 = 0x10;
/// Qid type bit: authentication file.
pub const QTAUTH: u8 = 0x08;
/// Qid type bit: non-backed-up file.
pub const QTTMP: u8 = 0x04;
/// Qid type bit: symbolic link.
pub const QTSYMLINK: u8 = 0x02;
/// Qid type bit: hard link.
pub const QTLINK: u8 = 0x01;
/// Qid type: plain file (no bits set).
pub const QTFILE: u8 = 0x00;

/// Encoded size of a qid on the wire.
pub const QID_SIZE: usize = 13;

/// A qid: `type[1] version[4] path[8]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Qid {
    /// Type bits (`QT*`).
    pub ty: u8,
    /// Version, typically changed on modification (0 for "do not cache").
    pub version: u32,
    /// Server-unique path (inode-like) number.
    pub path: u64,
}

/// The qid type for a host `st_mode`: `QTDIR` for directories, `QTSYMLINK`
/// for symlinks, `QTFILE` for everything else (as QEMU and diod do).
pub fn qid_type_from_mode(mode: u32) -> u8 {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => QTDIR,
        libc::S_IFLNK => QTSYMLINK,
        _ => QTFILE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qid_type_from_host_modes() {
        assert_eq!(qid_type_from_mode(libc::S_IFDIR | 0o755), QTDIR);
        assert_eq!(qid_type_from_mode(libc::S_IFLNK | 0o777), QTSYMLINK);
        assert_eq!(qid_type_from_mode(libc::S_IFREG | 0o644), QTFILE);
        assert_eq!(qid_type_from_mode(libc::S_IFIFO), QTFILE);
    }
}
