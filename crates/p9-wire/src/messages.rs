//! The 9P2000.L messages, requests (`T*`) and replies (`R*`).
//!
//! All messages borrow their names and data (`&'a [u8]`): a decoded request
//! points into the frame it came from, and a reply to encode points into the
//! server's own buffers. File names are bytes, not UTF-8.

use std::fmt;
use std::ops::Deref;

use crate::constants::*;
use crate::error::WireError;
use crate::qid::Qid;

/// A fixed-capacity list of at most [`MAXWELEM`] (16) elements, stored
/// inline (no heap allocation). Used for Twalk names and Rwalk qids.
#[derive(Clone, Copy)]
pub struct WalkVec<T: Copy + Default> {
    items: [T; MAXWELEM],
    len: u8,
}

impl<T: Copy + Default> WalkVec<T> {
    /// An empty list.
    pub fn new() -> Self {
        WalkVec {
            items: [T::default(); MAXWELEM],
            len: 0,
        }
    }

    /// Copies `items`; fails with [`WireError::TooManyWalkElements`] if there
    /// are more than 16.
    pub fn from_slice(items: &[T]) -> Result<Self, WireError> {
        if items.len() > MAXWELEM {
            return Err(WireError::TooManyWalkElements { count: items.len() });
        }
        let mut v = Self::new();
        for &item in items {
            v.push(item)?;
        }
        Ok(v)
    }

    /// Appends an element; fails if the list already holds 16.
    pub fn push(&mut self, item: T) -> Result<(), WireError> {
        let len = usize::from(self.len);
        match self.items.get_mut(len) {
            Some(slot) => {
                *slot = item;
                self.len += 1;
                Ok(())
            }
            None => Err(WireError::TooManyWalkElements { count: len + 1 }),
        }
    }

    /// The elements as a slice.
    pub fn as_slice(&self) -> &[T] {
        &self.items[..usize::from(self.len)]
    }
}

impl<T: Copy + Default> Default for WalkVec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy + Default> Deref for WalkVec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.as_slice()
    }
}

impl<T: Copy + Default + PartialEq> PartialEq for WalkVec<T> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Copy + Default + Eq> Eq for WalkVec<T> {}

impl<T: Copy + Default + fmt::Debug> fmt::Debug for WalkVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<'s, T: Copy + Default> TryFrom<&'s [T]> for WalkVec<T> {
    type Error = WireError;
    fn try_from(items: &'s [T]) -> Result<Self, WireError> {
        Self::from_slice(items)
    }
}

// ------------------------------------------------------------------------
// Requests
// ------------------------------------------------------------------------

/// Tversion: `msize[4] version[s]`. Sent with tag [`NOTAG`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tversion<'a> {
    /// Largest frame the client will send or accept.
    pub msize: u32,
    /// Protocol version offered, e.g. `b"9P2000.L"`.
    pub version: &'a [u8],
}

/// Tauth: `afid[4] uname[s] aname[s] n_uname[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tauth<'a> {
    /// Fid to use for the authentication file.
    pub afid: u32,
    /// User name.
    pub uname: &'a [u8],
    /// File tree to access.
    pub aname: &'a [u8],
    /// Numeric uid, or [`NONUNAME`].
    pub n_uname: u32,
}

/// Tattach: `fid[4] afid[4] uname[s] aname[s] n_uname[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tattach<'a> {
    /// Fid to bind to the root.
    pub fid: u32,
    /// Authentication fid, or [`NOFID`].
    pub afid: u32,
    /// User name.
    pub uname: &'a [u8],
    /// File tree to access.
    pub aname: &'a [u8],
    /// Numeric uid, or [`NONUNAME`].
    pub n_uname: u32,
}

/// Tflush: `oldtag[2]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tflush {
    /// Tag of the request to abort.
    pub oldtag: u16,
}

/// Twalk: `fid[4] newfid[4] nwname[2] nwname*(wname[s])`, at most 16 names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Twalk<'a> {
    /// Starting fid.
    pub fid: u32,
    /// Fid to bind to the result (may equal `fid`).
    pub newfid: u32,
    /// Path elements to walk (0 to 16).
    pub wnames: WalkVec<&'a [u8]>,
}

/// Tlopen: `fid[4] flags[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlopen {
    /// Fid to open.
    pub fid: u32,
    /// `P9_DOTL_*` open flags.
    pub flags: u32,
}

/// Tlcreate: `fid[4] name[s] flags[4] mode[4] gid[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlcreate<'a> {
    /// Directory fid; on success it becomes the new open file.
    pub fid: u32,
    /// Name of the file to create.
    pub name: &'a [u8],
    /// `P9_DOTL_*` open flags.
    pub flags: u32,
    /// Permission bits.
    pub mode: u32,
    /// Group id of the new file.
    pub gid: u32,
}

/// Tread: `fid[4] offset[8] count[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tread {
    /// Open fid.
    pub fid: u32,
    /// File offset.
    pub offset: u64,
    /// Bytes requested.
    pub count: u32,
}

/// Twrite: `fid[4] offset[8] count[4] data[count]`; `data` borrows the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Twrite<'a> {
    /// Open fid.
    pub fid: u32,
    /// File offset.
    pub offset: u64,
    /// Bytes to write.
    pub data: &'a [u8],
}

/// Tclunk: `fid[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tclunk {
    /// Fid to forget.
    pub fid: u32,
}

/// Tremove: `fid[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tremove {
    /// Fid of the file to remove (clunked either way).
    pub fid: u32,
}

/// Tgetattr: `fid[4] request_mask[8]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tgetattr {
    /// Fid to stat.
    pub fid: u32,
    /// `P9_GETATTR_*` bits wanted.
    pub request_mask: u64,
}

/// Tsetattr: `fid[4] valid[4] mode[4] uid[4] gid[4] size[8] atime_sec[8]
/// atime_nsec[8] mtime_sec[8] mtime_nsec[8]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tsetattr {
    /// Fid to change.
    pub fid: u32,
    /// `P9_SETATTR_*` bits saying which fields apply.
    pub valid: u32,
    /// New permission bits.
    pub mode: u32,
    /// New owner.
    pub uid: u32,
    /// New group.
    pub gid: u32,
    /// New size.
    pub size: u64,
    /// New atime, seconds (with `P9_SETATTR_ATIME_SET`).
    pub atime_sec: u64,
    /// New atime, nanoseconds.
    pub atime_nsec: u64,
    /// New mtime, seconds (with `P9_SETATTR_MTIME_SET`).
    pub mtime_sec: u64,
    /// New mtime, nanoseconds.
    pub mtime_nsec: u64,
}

/// Treaddir: `fid[4] offset[8] count[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Treaddir {
    /// Open directory fid.
    pub fid: u32,
    /// 0, or the `offset` of the last entry previously returned.
    pub offset: u64,
    /// Maximum bytes of entries to return.
    pub count: u32,
}

/// Tstatfs: `fid[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tstatfs {
    /// Any fid on the file system.
    pub fid: u32,
}

/// Tfsync: `fid[4] datasync[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tfsync {
    /// Open fid.
    pub fid: u32,
    /// Non-zero for `fdatasync` semantics.
    pub datasync: u32,
}

/// Tmkdir: `dfid[4] name[s] mode[4] gid[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tmkdir<'a> {
    /// Parent directory fid.
    pub dfid: u32,
    /// Name of the new directory.
    pub name: &'a [u8],
    /// Permission bits.
    pub mode: u32,
    /// Group id.
    pub gid: u32,
}

/// Tsymlink: `dfid[4] name[s] symtgt[s] gid[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tsymlink<'a> {
    /// Parent directory fid.
    pub dfid: u32,
    /// Name of the new link.
    pub name: &'a [u8],
    /// Link target.
    pub symtgt: &'a [u8],
    /// Group id.
    pub gid: u32,
}

/// Tmknod: `dfid[4] name[s] mode[4] major[4] minor[4] gid[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tmknod<'a> {
    /// Parent directory fid.
    pub dfid: u32,
    /// Name of the new node.
    pub name: &'a [u8],
    /// File type and permission bits.
    pub mode: u32,
    /// Device major number.
    pub major: u32,
    /// Device minor number.
    pub minor: u32,
    /// Group id.
    pub gid: u32,
}

/// Tlink: `dfid[4] fid[4] name[s]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlink<'a> {
    /// Directory in which to create the link.
    pub dfid: u32,
    /// Existing file.
    pub fid: u32,
    /// Name of the new link.
    pub name: &'a [u8],
}

/// Trename: `fid[4] dfid[4] name[s]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trename<'a> {
    /// File to rename.
    pub fid: u32,
    /// Target directory.
    pub dfid: u32,
    /// New name.
    pub name: &'a [u8],
}

/// Trenameat: `olddirfid[4] oldname[s] newdirfid[4] newname[s]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trenameat<'a> {
    /// Source directory.
    pub olddirfid: u32,
    /// Source name.
    pub oldname: &'a [u8],
    /// Target directory.
    pub newdirfid: u32,
    /// Target name.
    pub newname: &'a [u8],
}

/// Tunlinkat: `dirfid[4] name[s] flags[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tunlinkat<'a> {
    /// Directory fid.
    pub dirfid: u32,
    /// Name to remove.
    pub name: &'a [u8],
    /// 0 or [`crate::P9_DOTL_AT_REMOVEDIR`].
    pub flags: u32,
}

/// Treadlink: `fid[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Treadlink {
    /// Symlink fid.
    pub fid: u32,
}

/// Txattrwalk: `fid[4] newfid[4] name[s]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Txattrwalk<'a> {
    /// File whose attribute to read.
    pub fid: u32,
    /// Fid to bind to the attribute (read with Tread).
    pub newfid: u32,
    /// Attribute name; empty to list attribute names.
    pub name: &'a [u8],
}

/// Txattrcreate: `fid[4] name[s] attr_size[8] flags[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Txattrcreate<'a> {
    /// Fid that becomes the attribute (written with Twrite, set on clunk).
    pub fid: u32,
    /// Attribute name.
    pub name: &'a [u8],
    /// Total size of the value.
    pub attr_size: u64,
    /// `setxattr(2)` flags (`XATTR_CREATE`, `XATTR_REPLACE`).
    pub flags: u32,
}

/// Tlock: `fid[4] type[1] flags[4] start[8] length[8] proc_id[4] client_id[s]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlock<'a> {
    /// Open fid.
    pub fid: u32,
    /// `P9_LOCK_TYPE_*`.
    pub ty: u8,
    /// `P9_LOCK_FLAGS_*`.
    pub flags: u32,
    /// Start offset.
    pub start: u64,
    /// Length (0 = to end of file).
    pub length: u64,
    /// Process id of the lock owner.
    pub proc_id: u32,
    /// Client identifier.
    pub client_id: &'a [u8],
}

/// Tgetlock: `fid[4] type[1] start[8] length[8] proc_id[4] client_id[s]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tgetlock<'a> {
    /// Open fid.
    pub fid: u32,
    /// `P9_LOCK_TYPE_*`.
    pub ty: u8,
    /// Start offset.
    pub start: u64,
    /// Length (0 = to end of file).
    pub length: u64,
    /// Process id of the lock owner.
    pub proc_id: u32,
    /// Client identifier.
    pub client_id: &'a [u8],
}

/// A request, as decoded by [`crate::decode_tmessage`].
///
/// The walk variant stores up to 16 elements inline so decoding never
/// touches the heap; that makes the enum a few hundred bytes, which is
/// deliberate.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tmessage<'a> {
    /// Tversion (100).
    Version(Tversion<'a>),
    /// Tauth (102).
    Auth(Tauth<'a>),
    /// Tattach (104).
    Attach(Tattach<'a>),
    /// Tflush (108).
    Flush(Tflush),
    /// Twalk (110).
    Walk(Twalk<'a>),
    /// Tlopen (12).
    Lopen(Tlopen),
    /// Tlcreate (14).
    Lcreate(Tlcreate<'a>),
    /// Tread (116).
    Read(Tread),
    /// Twrite (118).
    Write(Twrite<'a>),
    /// Tclunk (120).
    Clunk(Tclunk),
    /// Tremove (122).
    Remove(Tremove),
    /// Tgetattr (24).
    Getattr(Tgetattr),
    /// Tsetattr (26).
    Setattr(Tsetattr),
    /// Treaddir (40).
    Readdir(Treaddir),
    /// Tstatfs (8).
    Statfs(Tstatfs),
    /// Tfsync (50).
    Fsync(Tfsync),
    /// Tmkdir (72).
    Mkdir(Tmkdir<'a>),
    /// Tsymlink (16).
    Symlink(Tsymlink<'a>),
    /// Tmknod (18).
    Mknod(Tmknod<'a>),
    /// Tlink (70).
    Link(Tlink<'a>),
    /// Trename (20).
    Rename(Trename<'a>),
    /// Trenameat (74).
    Renameat(Trenameat<'a>),
    /// Tunlinkat (76).
    Unlinkat(Tunlinkat<'a>),
    /// Treadlink (22).
    Readlink(Treadlink),
    /// Txattrwalk (30).
    Xattrwalk(Txattrwalk<'a>),
    /// Txattrcreate (32).
    Xattrcreate(Txattrcreate<'a>),
    /// Tlock (52).
    Lock(Tlock<'a>),
    /// Tgetlock (54).
    Getlock(Tgetlock<'a>),
}

impl Tmessage<'_> {
    /// The message type number (`P9_T*`).
    pub fn msg_type(&self) -> u8 {
        match self {
            Tmessage::Version(_) => P9_TVERSION,
            Tmessage::Auth(_) => P9_TAUTH,
            Tmessage::Attach(_) => P9_TATTACH,
            Tmessage::Flush(_) => P9_TFLUSH,
            Tmessage::Walk(_) => P9_TWALK,
            Tmessage::Lopen(_) => P9_TLOPEN,
            Tmessage::Lcreate(_) => P9_TLCREATE,
            Tmessage::Read(_) => P9_TREAD,
            Tmessage::Write(_) => P9_TWRITE,
            Tmessage::Clunk(_) => P9_TCLUNK,
            Tmessage::Remove(_) => P9_TREMOVE,
            Tmessage::Getattr(_) => P9_TGETATTR,
            Tmessage::Setattr(_) => P9_TSETATTR,
            Tmessage::Readdir(_) => P9_TREADDIR,
            Tmessage::Statfs(_) => P9_TSTATFS,
            Tmessage::Fsync(_) => P9_TFSYNC,
            Tmessage::Mkdir(_) => P9_TMKDIR,
            Tmessage::Symlink(_) => P9_TSYMLINK,
            Tmessage::Mknod(_) => P9_TMKNOD,
            Tmessage::Link(_) => P9_TLINK,
            Tmessage::Rename(_) => P9_TRENAME,
            Tmessage::Renameat(_) => P9_TRENAMEAT,
            Tmessage::Unlinkat(_) => P9_TUNLINKAT,
            Tmessage::Readlink(_) => P9_TREADLINK,
            Tmessage::Xattrwalk(_) => P9_TXATTRWALK,
            Tmessage::Xattrcreate(_) => P9_TXATTRCREATE,
            Tmessage::Lock(_) => P9_TLOCK,
            Tmessage::Getlock(_) => P9_TGETLOCK,
        }
    }
}

// ------------------------------------------------------------------------
// Replies
// ------------------------------------------------------------------------

/// Rversion: `msize[4] version[s]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rversion<'a> {
    /// Negotiated msize (at most the client's).
    pub msize: u32,
    /// `b"9P2000.L"`, or `b"unknown"` to refuse.
    pub version: &'a [u8],
}

/// Rauth: `aqid[13]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rauth {
    /// Qid of the authentication file.
    pub aqid: Qid,
}

/// Rattach: `qid[13]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rattach {
    /// Qid of the root.
    pub qid: Qid,
}

/// Rwalk: `nwqid[2] nwqid*(wqid[13])`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rwalk {
    /// Qids of the elements walked (fewer than asked means partial walk).
    pub wqids: WalkVec<Qid>,
}

/// Rlopen: `qid[13] iounit[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlopen {
    /// Qid of the opened file.
    pub qid: Qid,
    /// Preferred I/O size, or 0.
    pub iounit: u32,
}

/// Rlcreate: `qid[13] iounit[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlcreate {
    /// Qid of the created file.
    pub qid: Qid,
    /// Preferred I/O size, or 0.
    pub iounit: u32,
}

/// Rread: `count[4] data[count]`. Servers should prefer
/// [`crate::begin_rread`]/[`crate::finish_rread`] to avoid a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rread<'a> {
    /// Bytes read.
    pub data: &'a [u8],
}

/// Rwrite: `count[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rwrite {
    /// Bytes written.
    pub count: u32,
}

/// Rgetattr: `valid[8] qid[13] mode[4] uid[4] gid[4] nlink[8] rdev[8]
/// size[8] blksize[8] blocks[8] atime_sec[8] atime_nsec[8] mtime_sec[8]
/// mtime_nsec[8] ctime_sec[8] ctime_nsec[8] btime_sec[8] btime_nsec[8]
/// gen[8] data_version[8]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rgetattr {
    /// `P9_GETATTR_*` bits saying which fields are valid.
    pub valid: u64,
    /// Qid of the file.
    pub qid: Qid,
    /// `st_mode` (type and permission bits).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Link count.
    pub nlink: u64,
    /// Device number for device nodes.
    pub rdev: u64,
    /// Size in bytes.
    pub size: u64,
    /// Preferred block size.
    pub blksize: u64,
    /// Number of 512-byte blocks.
    pub blocks: u64,
    /// Access time, seconds.
    pub atime_sec: u64,
    /// Access time, nanoseconds.
    pub atime_nsec: u64,
    /// Modification time, seconds.
    pub mtime_sec: u64,
    /// Modification time, nanoseconds.
    pub mtime_nsec: u64,
    /// Status change time, seconds.
    pub ctime_sec: u64,
    /// Status change time, nanoseconds.
    pub ctime_nsec: u64,
    /// Birth time, seconds.
    pub btime_sec: u64,
    /// Birth time, nanoseconds.
    pub btime_nsec: u64,
    /// Inode generation.
    pub gen: u64,
    /// Data version.
    pub data_version: u64,
}

/// Rreaddir: `count[4] data[count]`, where data is a sequence of directory
/// entries (see [`crate::DirEntry`], [`crate::DirEntryWriter`] and
/// [`crate::dir_entries`]). Servers should prefer
/// [`crate::begin_rreaddir`]/[`crate::finish_rreaddir`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rreaddir<'a> {
    /// Raw encoded entries.
    pub data: &'a [u8],
}

/// Rstatfs: `type[4] bsize[4] blocks[8] bfree[8] bavail[8] files[8]
/// ffree[8] fsid[8] namelen[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rstatfs {
    /// File system type magic.
    pub ty: u32,
    /// Block size.
    pub bsize: u32,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Blocks available to unprivileged users.
    pub bavail: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub ffree: u64,
    /// File system id.
    pub fsid: u64,
    /// Maximum name length.
    pub namelen: u32,
}

/// Rmkdir: `qid[13]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rmkdir {
    /// Qid of the new directory.
    pub qid: Qid,
}

/// Rsymlink: `qid[13]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rsymlink {
    /// Qid of the new symlink.
    pub qid: Qid,
}

/// Rmknod: `qid[13]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rmknod {
    /// Qid of the new node.
    pub qid: Qid,
}

/// Rreadlink: `target[s]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rreadlink<'a> {
    /// Link target.
    pub target: &'a [u8],
}

/// Rxattrwalk: `size[8]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rxattrwalk {
    /// Size of the attribute value (or of the name list).
    pub size: u64,
}

/// Rlock: `status[1]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlock {
    /// `P9_LOCK_SUCCESS`, `_BLOCKED`, `_ERROR` or `_GRACE`.
    pub status: u8,
}

/// Rgetlock: `type[1] start[8] length[8] proc_id[4] client_id[s]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgetlock<'a> {
    /// `P9_LOCK_TYPE_*`; `UNLCK` if the range is free.
    pub ty: u8,
    /// Start of the conflicting lock.
    pub start: u64,
    /// Length of the conflicting lock.
    pub length: u64,
    /// Owner process id.
    pub proc_id: u32,
    /// Owner client id.
    pub client_id: &'a [u8],
}

/// Rlerror: `ecode[4]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlerror {
    /// Linux errno value.
    pub ecode: u32,
}

/// A reply, as encoded by a server or decoded by [`crate::decode_rmessage`].
/// Replies with an empty body are unit variants.
///
/// The walk variant stores up to 16 elements inline so decoding never
/// touches the heap; that makes the enum a few hundred bytes, which is
/// deliberate.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rmessage<'a> {
    /// Rversion (101).
    Version(Rversion<'a>),
    /// Rauth (103).
    Auth(Rauth),
    /// Rattach (105).
    Attach(Rattach),
    /// Rflush (109).
    Flush,
    /// Rwalk (111).
    Walk(Rwalk),
    /// Rlopen (13).
    Lopen(Rlopen),
    /// Rlcreate (15).
    Lcreate(Rlcreate),
    /// Rread (117).
    Read(Rread<'a>),
    /// Rwrite (119).
    Write(Rwrite),
    /// Rclunk (121).
    Clunk,
    /// Rremove (123).
    Remove,
    /// Rgetattr (25).
    Getattr(Rgetattr),
    /// Rsetattr (27).
    Setattr,
    /// Rreaddir (41).
    Readdir(Rreaddir<'a>),
    /// Rstatfs (9).
    Statfs(Rstatfs),
    /// Rfsync (51).
    Fsync,
    /// Rmkdir (73).
    Mkdir(Rmkdir),
    /// Rsymlink (17).
    Symlink(Rsymlink),
    /// Rmknod (19).
    Mknod(Rmknod),
    /// Rlink (71).
    Link,
    /// Rrename (21).
    Rename,
    /// Rrenameat (75).
    Renameat,
    /// Runlinkat (77).
    Unlinkat,
    /// Rreadlink (23).
    Readlink(Rreadlink<'a>),
    /// Rxattrwalk (31).
    Xattrwalk(Rxattrwalk),
    /// Rxattrcreate (33).
    Xattrcreate,
    /// Rlock (53).
    Lock(Rlock),
    /// Rgetlock (55).
    Getlock(Rgetlock<'a>),
    /// Rlerror (7).
    Lerror(Rlerror),
}

impl Rmessage<'_> {
    /// The message type number (`P9_R*`).
    pub fn msg_type(&self) -> u8 {
        match self {
            Rmessage::Version(_) => P9_RVERSION,
            Rmessage::Auth(_) => P9_RAUTH,
            Rmessage::Attach(_) => P9_RATTACH,
            Rmessage::Flush => P9_RFLUSH,
            Rmessage::Walk(_) => P9_RWALK,
            Rmessage::Lopen(_) => P9_RLOPEN,
            Rmessage::Lcreate(_) => P9_RLCREATE,
            Rmessage::Read(_) => P9_RREAD,
            Rmessage::Write(_) => P9_RWRITE,
            Rmessage::Clunk => P9_RCLUNK,
            Rmessage::Remove => P9_RREMOVE,
            Rmessage::Getattr(_) => P9_RGETATTR,
            Rmessage::Setattr => P9_RSETATTR,
            Rmessage::Readdir(_) => P9_RREADDIR,
            Rmessage::Statfs(_) => P9_RSTATFS,
            Rmessage::Fsync => P9_RFSYNC,
            Rmessage::Mkdir(_) => P9_RMKDIR,
            Rmessage::Symlink(_) => P9_RSYMLINK,
            Rmessage::Mknod(_) => P9_RMKNOD,
            Rmessage::Link => P9_RLINK,
            Rmessage::Rename => P9_RRENAME,
            Rmessage::Renameat => P9_RRENAMEAT,
            Rmessage::Unlinkat => P9_RUNLINKAT,
            Rmessage::Readlink(_) => P9_RREADLINK,
            Rmessage::Xattrwalk(_) => P9_RXATTRWALK,
            Rmessage::Xattrcreate => P9_RXATTRCREATE,
            Rmessage::Lock(_) => P9_RLOCK,
            Rmessage::Getlock(_) => P9_RGETLOCK,
            Rmessage::Lerror(_) => P9_RLERROR,
        }
    }

    /// Shorthand for `Rmessage::Lerror(Rlerror { ecode })`.
    pub fn lerror(ecode: u32) -> Self {
        Rmessage::Lerror(Rlerror { ecode })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walkvec_bounds() {
        let mut v: WalkVec<u32> = WalkVec::new();
        for i in 0..16 {
            v.push(i).unwrap();
        }
        assert_eq!(v.len(), 16);
        assert_eq!(
            v.push(16),
            Err(WireError::TooManyWalkElements { count: 17 })
        );
        let many = [0u32; 17];
        assert!(WalkVec::from_slice(&many).is_err());
        assert_eq!(
            WalkVec::from_slice(&many[..3]).unwrap().as_slice(),
            &[0, 0, 0]
        );
        assert_eq!(
            format!("{:?}", WalkVec::from_slice(&[1u8, 2]).unwrap()),
            "[1, 2]"
        );
    }
}
