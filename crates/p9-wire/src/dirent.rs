//! Directory entries carried in Rreaddir: `qid[13] offset[8] type[1]
//! name[s]`, packed back to back.

use crate::error::WireError;
use crate::qid::{Qid, QID_SIZE};
use crate::wire::{Reader, Writer};

/// Dirent type: unknown.
pub const DT_UNKNOWN: u8 = 0;
/// Dirent type: named pipe.
pub const DT_FIFO: u8 = 1;
/// Dirent type: character device.
pub const DT_CHR: u8 = 2;
/// Dirent type: directory.
pub const DT_DIR: u8 = 4;
/// Dirent type: block device.
pub const DT_BLK: u8 = 6;
/// Dirent type: regular file.
pub const DT_REG: u8 = 8;
/// Dirent type: symbolic link.
pub const DT_LNK: u8 = 10;
/// Dirent type: socket.
pub const DT_SOCK: u8 = 12;
/// Dirent type: whiteout.
pub const DT_WHT: u8 = 14;

/// Bytes an entry takes besides its name: qid, offset, type, name length.
pub const DIRENT_FIXED_SIZE: usize = QID_SIZE + 8 + 1 + 2;

/// The `DT_*` type for a host `st_mode` (`(mode & S_IFMT) >> 12`, as
/// `IFTODT` does).
pub fn dirent_type_from_mode(mode: u32) -> u8 {
    ((mode & libc::S_IFMT) >> 12) as u8
}

/// The `S_IF*` file type bits for a `DT_*` type (`DTTOIF`); 0 for
/// `DT_UNKNOWN`.
pub fn mode_from_dirent_type(ty: u8) -> u32 {
    (u32::from(ty) << 12) & libc::S_IFMT
}

/// One directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirEntry<'a> {
    /// Qid of the entry.
    pub qid: Qid,
    /// Offset to pass in the next Treaddir to continue after this entry.
    pub offset: u64,
    /// `DT_*` type.
    pub ty: u8,
    /// Entry name (bytes).
    pub name: &'a [u8],
}

impl DirEntry<'_> {
    /// Encoded size of this entry.
    pub fn encoded_len(&self) -> usize {
        DIRENT_FIXED_SIZE + self.name.len()
    }

    /// Appends this entry to `buf` (no budget check); fails if the name is
    /// longer than 65535 bytes, leaving `buf` unchanged.
    pub fn encode(&self, buf: &mut Vec<u8>) -> Result<(), WireError> {
        if self.name.len() > usize::from(u16::MAX) {
            return Err(WireError::StringTooLong {
                len: self.name.len(),
            });
        }
        let mut w = Writer::new(buf);
        w.qid(&self.qid);
        w.u64(self.offset);
        w.u8(self.ty);
        w.string(self.name)
    }
}

/// Appends directory entries to a buffer without exceeding a byte budget
/// (the Treaddir `count`). Entries are appended whole or not at all.
///
/// ```
/// use p9_wire::*;
///
/// let mut buf = Vec::new();
/// let start = begin_rreaddir(1, &mut buf);
/// let mut w = DirEntryWriter::new(&mut buf, 60);
/// let e = DirEntry { qid: Qid::default(), offset: 1, ty: DT_REG, name: b"file" };
/// assert!(w.push(&e).unwrap()); // 28 bytes
/// assert!(w.push(&e).unwrap()); // 56 bytes
/// assert!(!w.push(&e).unwrap()); // would be 84 > 60: not appended
/// finish_rreaddir(&mut buf, start).unwrap();
/// ```
#[derive(Debug)]
pub struct DirEntryWriter<'b> {
    buf: &'b mut Vec<u8>,
    start: usize,
    budget: usize,
}

impl<'b> DirEntryWriter<'b> {
    /// A writer appending to the end of `buf`, at most `budget` bytes in
    /// total.
    pub fn new(buf: &'b mut Vec<u8>, budget: usize) -> Self {
        let start = buf.len();
        DirEntryWriter { buf, start, budget }
    }

    /// Appends `entry` if it fits in the remaining budget. Returns
    /// `Ok(false)`, appending nothing, if it does not fit (the caller
    /// stops and resumes at this entry in the next Treaddir).
    pub fn push(&mut self, entry: &DirEntry<'_>) -> Result<bool, WireError> {
        if entry.encoded_len() > self.remaining() {
            return Ok(false);
        }
        entry.encode(self.buf)?;
        Ok(true)
    }

    /// Bytes appended so far.
    pub fn written(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Bytes of budget left.
    pub fn remaining(&self) -> usize {
        self.budget.saturating_sub(self.written())
    }
}

/// Iterates over the entries packed in Rreaddir data (client side).
/// Yields an error, then stops, if the data is malformed.
pub fn dir_entries(data: &[u8]) -> DirEntries<'_> {
    DirEntries {
        r: Reader::new(data),
        failed: false,
    }
}

/// Iterator returned by [`dir_entries`].
#[derive(Debug, Clone)]
pub struct DirEntries<'a> {
    r: Reader<'a>,
    failed: bool,
}

impl<'a> DirEntries<'a> {
    fn next_entry(&mut self) -> Result<DirEntry<'a>, WireError> {
        Ok(DirEntry {
            qid: self.r.qid()?,
            offset: self.r.u64()?,
            ty: self.r.u8()?,
            name: self.r.string()?,
        })
    }
}

impl<'a> Iterator for DirEntries<'a> {
    type Item = Result<DirEntry<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.r.remaining() == 0 {
            return None;
        }
        let e = self.next_entry();
        self.failed = e.is_err();
        Some(e)
    }
}

impl std::iter::FusedIterator for DirEntries<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &[u8], off: u64) -> DirEntry<'_> {
        DirEntry {
            qid: Qid {
                ty: crate::QTFILE,
                version: 1,
                path: off * 10,
            },
            offset: off,
            ty: DT_REG,
            name,
        }
    }

    #[test]
    fn budget_is_respected() {
        let mut buf = vec![9u8];
        let mut w = DirEntryWriter::new(&mut buf, 50);
        assert!(w.push(&entry(b"a", 1)).unwrap()); // 25
        assert!(w.push(&entry(b"b", 2)).unwrap()); // 50
        assert!(!w.push(&entry(b"", 3)).unwrap());
        assert_eq!(w.written(), 50);
        assert_eq!(w.remaining(), 0);
        assert_eq!(buf.len(), 51);
        let got: Vec<_> = dir_entries(&buf[1..]).collect::<Result<_, _>>().unwrap();
        assert_eq!(got, vec![entry(b"a", 1), entry(b"b", 2)]);
    }

    #[test]
    fn golden_entry_bytes() {
        let mut buf = Vec::new();
        let e = DirEntry {
            qid: Qid {
                ty: 0x80,
                version: 2,
                path: 0x0102,
            },
            offset: 3,
            ty: DT_DIR,
            name: b"ab",
        };
        e.encode(&mut buf).unwrap();
        assert_eq!(
            buf,
            [
                0x80, 2, 0, 0, 0, 0x02, 0x01, 0, 0, 0, 0, 0, 0, // qid
                3, 0, 0, 0, 0, 0, 0, 0, // offset
                4, // type
                2, 0, b'a', b'b' // name
            ]
        );
        assert_eq!(e.encoded_len(), buf.len());
    }

    #[test]
    fn malformed_entries_stop_iteration() {
        let mut buf = Vec::new();
        entry(b"xyz", 1).encode(&mut buf).unwrap();
        buf.extend_from_slice(&[1, 2, 3]);
        let mut it = dir_entries(&buf);
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn long_name_rejected() {
        let name = vec![b'n'; 65536];
        let mut buf = Vec::new();
        let mut w = DirEntryWriter::new(&mut buf, usize::MAX);
        assert_eq!(
            w.push(&entry(&name, 1)),
            Err(WireError::StringTooLong { len: 65536 })
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn dirent_types() {
        assert_eq!(dirent_type_from_mode(libc::S_IFDIR | 0o755), DT_DIR);
        assert_eq!(dirent_type_from_mode(libc::S_IFREG | 0o644), DT_REG);
        assert_eq!(dirent_type_from_mode(libc::S_IFLNK), DT_LNK);
        assert_eq!(dirent_type_from_mode(libc::S_IFSOCK), DT_SOCK);
        assert_eq!(dirent_type_from_mode(libc::S_IFIFO), DT_FIFO);
        assert_eq!(dirent_type_from_mode(libc::S_IFCHR), DT_CHR);
        assert_eq!(dirent_type_from_mode(libc::S_IFBLK), DT_BLK);
        assert_eq!(mode_from_dirent_type(DT_DIR), libc::S_IFDIR);
        assert_eq!(mode_from_dirent_type(DT_UNKNOWN), 0);
    }
}
