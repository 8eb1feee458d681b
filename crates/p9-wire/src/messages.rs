//! The 9P2000.L messages, requests (`T*`) and replies (`R*`), each declared once.
//!
//! The table below is the only place a message is written: its type number (as in
//! the Linux kernel's `enum p9_msg_t`, include/net/9p/9p.h), its name, and its fields
//! in wire order with their types. The `messages!` macro (in `declare.rs`) generates
//! from it the `P9_T*`/`P9_R*` constants, the structs, [`Tmessage`]/[`Rmessage`],
//! [`msg_type_name`], the decoder ([`crate::decode_tmessage`]), the encoder
//! ([`crate::encode()`]) and the field visitor ([`Tmessage::visit_fields`]) that
//! traces and tools print from. `as Data` marks counted `data[4]` (a byte string is
//! a `string[2]` otherwise); `as Oct`/`Hex`/`Signed`/`Errno` say how a number reads.
//!
//! All messages borrow their names and data (`&'a [u8]`): a decoded request
//! points into the frame it came from, and a reply to encode points into the
//! server's own buffers. File names are bytes, not UTF-8.

use std::fmt;
use std::ops::Deref;

use crate::constants::MAXWELEM;
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
    #[inline]
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
    #[inline]
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
    #[inline]
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

messages! {
    requests
    /// A request, as decoded by [`crate::decode_tmessage`].
    {
        /// Tversion: `msize[4] version[s]`. Sent with tag [`NOTAG`](crate::NOTAG).
        Version = P9_TVERSION 100, Tversion<'a> {
            /// Largest frame the client will send or accept.
            msize: u32,
            /// Protocol version offered, e.g. `b"9P2000.L"`.
            version: &'a [u8],
        }
        /// Tauth: `afid[4] uname[s] aname[s] n_uname[4]`.
        Auth = P9_TAUTH 102, Tauth<'a> {
            /// Fid to use for the authentication file.
            afid: u32,
            /// User name.
            uname: &'a [u8],
            /// File tree to access.
            aname: &'a [u8],
            /// Numeric uid, or [`NONUNAME`](crate::NONUNAME).
            n_uname: u32,
        }
        /// Tattach: `fid[4] afid[4] uname[s] aname[s] n_uname[4]`.
        Attach = P9_TATTACH 104, Tattach<'a> {
            /// Fid to bind to the root.
            fid: u32,
            /// Authentication fid, or [`NOFID`](crate::NOFID).
            afid: u32 as Signed,
            /// User name.
            uname: &'a [u8],
            /// File tree to access.
            aname: &'a [u8],
            /// Numeric uid, or [`NONUNAME`](crate::NONUNAME).
            n_uname: u32,
        }
        /// Tflush: `oldtag[2]`.
        Flush = P9_TFLUSH 108, Tflush {
            /// Tag of the request to abort.
            oldtag: u16,
        }
        /// Twalk: `fid[4] newfid[4] nwname[2] nwname*(wname[s])`, at most 16 names.
        Walk = P9_TWALK 110, Twalk<'a> {
            /// Starting fid.
            fid: u32,
            /// Fid to bind to the result (may equal `fid`).
            newfid: u32,
            /// Path elements to walk (0 to 16).
            wnames: WalkVec<&'a [u8]>,
        }
        /// Tlopen: `fid[4] flags[4]`.
        Lopen = P9_TLOPEN 12, Tlopen {
            /// Fid to open.
            fid: u32,
            /// `P9_DOTL_*` open flags.
            flags: u32 as Oct,
        }
        /// Tlcreate: `fid[4] name[s] flags[4] mode[4] gid[4]`.
        Lcreate = P9_TLCREATE 14, Tlcreate<'a> {
            /// Directory fid; on success it becomes the new open file.
            fid: u32,
            /// Name of the file to create.
            name: &'a [u8],
            /// `P9_DOTL_*` open flags.
            flags: u32 as Oct,
            /// Permission bits.
            mode: u32 as Oct,
            /// Group id of the new file.
            gid: u32,
        }
        /// Tread: `fid[4] offset[8] count[4]`.
        Read = P9_TREAD 116, Tread {
            /// Open fid.
            fid: u32,
            /// File offset.
            offset: u64,
            /// Bytes requested.
            count: u32,
        }
        /// Twrite: `fid[4] offset[8] count[4] data[count]`; `data` borrows the frame.
        /// Servers may take the data straight from the socket with [`crate::peek_twrite`].
        Write = P9_TWRITE 118, Twrite<'a> {
            /// Open fid.
            fid: u32,
            /// File offset.
            offset: u64,
            /// Bytes to write.
            data: &'a [u8] as Data,
        }
        /// Tclunk: `fid[4]`.
        Clunk = P9_TCLUNK 120, Tclunk {
            /// Fid to forget.
            fid: u32,
        }
        /// Tremove: `fid[4]`.
        Remove = P9_TREMOVE 122, Tremove {
            /// Fid of the file to remove (clunked either way).
            fid: u32,
        }
        /// Tgetattr: `fid[4] request_mask[8]`.
        Getattr = P9_TGETATTR 24, Tgetattr {
            /// Fid to stat.
            fid: u32,
            /// `P9_GETATTR_*` bits wanted.
            request_mask: u64 as Hex,
        }
        /// Tsetattr: `fid[4] valid[4] mode[4] uid[4] gid[4] size[8] atime_sec[8]
        /// atime_nsec[8] mtime_sec[8] mtime_nsec[8]`.
        Setattr = P9_TSETATTR 26, Tsetattr {
            /// Fid to change.
            fid: u32,
            /// `P9_SETATTR_*` bits saying which fields apply.
            valid: u32 as Hex,
            /// New permission bits.
            mode: u32 as Oct,
            /// New owner.
            uid: u32 as Signed,
            /// New group.
            gid: u32 as Signed,
            /// New size.
            size: u64,
            /// New atime, seconds (with `P9_SETATTR_ATIME_SET`).
            atime_sec: u64,
            /// New atime, nanoseconds.
            atime_nsec: u64,
            /// New mtime, seconds (with `P9_SETATTR_MTIME_SET`).
            mtime_sec: u64,
            /// New mtime, nanoseconds.
            mtime_nsec: u64,
        }
        /// Treaddir: `fid[4] offset[8] count[4]`.
        Readdir = P9_TREADDIR 40, Treaddir {
            /// Open directory fid.
            fid: u32,
            /// 0, or the `offset` of the last entry previously returned.
            offset: u64,
            /// Maximum bytes of entries to return.
            count: u32,
        }
        /// Tstatfs: `fid[4]`.
        Statfs = P9_TSTATFS 8, Tstatfs {
            /// Any fid on the file system.
            fid: u32,
        }
        /// Tfsync: `fid[4] datasync[4]`.
        Fsync = P9_TFSYNC 50, Tfsync {
            /// Open fid.
            fid: u32,
            /// Non-zero for `fdatasync` semantics.
            datasync: u32,
        }
        /// Tmkdir: `dfid[4] name[s] mode[4] gid[4]`.
        Mkdir = P9_TMKDIR 72, Tmkdir<'a> {
            /// Parent directory fid.
            dfid: u32,
            /// Name of the new directory.
            name: &'a [u8],
            /// Permission bits.
            mode: u32 as Oct,
            /// Group id.
            gid: u32,
        }
        /// Tsymlink: `dfid[4] name[s] symtgt[s] gid[4]`.
        Symlink = P9_TSYMLINK 16, Tsymlink<'a> {
            /// Parent directory fid.
            dfid: u32,
            /// Name of the new link.
            name: &'a [u8],
            /// Link target.
            symtgt: &'a [u8],
            /// Group id.
            gid: u32,
        }
        /// Tmknod: `dfid[4] name[s] mode[4] major[4] minor[4] gid[4]`.
        Mknod = P9_TMKNOD 18, Tmknod<'a> {
            /// Parent directory fid.
            dfid: u32,
            /// Name of the new node.
            name: &'a [u8],
            /// File type and permission bits.
            mode: u32 as Oct,
            /// Device major number.
            major: u32,
            /// Device minor number.
            minor: u32,
            /// Group id.
            gid: u32,
        }
        /// Tlink: `dfid[4] fid[4] name[s]`.
        Link = P9_TLINK 70, Tlink<'a> {
            /// Directory in which to create the link.
            dfid: u32,
            /// Existing file.
            fid: u32,
            /// Name of the new link.
            name: &'a [u8],
        }
        /// Trename: `fid[4] dfid[4] name[s]`.
        Rename = P9_TRENAME 20, Trename<'a> {
            /// File to rename.
            fid: u32,
            /// Target directory.
            dfid: u32,
            /// New name.
            name: &'a [u8],
        }
        /// Trenameat: `olddirfid[4] oldname[s] newdirfid[4] newname[s]`.
        Renameat = P9_TRENAMEAT 74, Trenameat<'a> {
            /// Source directory.
            olddirfid: u32,
            /// Source name.
            oldname: &'a [u8],
            /// Target directory.
            newdirfid: u32,
            /// Target name.
            newname: &'a [u8],
        }
        /// Tunlinkat: `dirfid[4] name[s] flags[4]`.
        Unlinkat = P9_TUNLINKAT 76, Tunlinkat<'a> {
            /// Directory fid.
            dirfid: u32,
            /// Name to remove.
            name: &'a [u8],
            /// 0 or [`crate::P9_DOTL_AT_REMOVEDIR`].
            flags: u32 as Hex,
        }
        /// Treadlink: `fid[4]`.
        Readlink = P9_TREADLINK 22, Treadlink {
            /// Symlink fid.
            fid: u32,
        }
        /// Txattrwalk: `fid[4] newfid[4] name[s]`.
        Xattrwalk = P9_TXATTRWALK 30, Txattrwalk<'a> {
            /// File whose attribute to read.
            fid: u32,
            /// Fid to bind to the attribute (read with Tread).
            newfid: u32,
            /// Attribute name; empty to list attribute names.
            name: &'a [u8],
        }
        /// Txattrcreate: `fid[4] name[s] attr_size[8] flags[4]`.
        Xattrcreate = P9_TXATTRCREATE 32, Txattrcreate<'a> {
            /// Fid that becomes the attribute (written with Twrite, set on clunk).
            fid: u32,
            /// Attribute name.
            name: &'a [u8],
            /// Total size of the value.
            attr_size: u64,
            /// `setxattr(2)` flags (`XATTR_CREATE`, `XATTR_REPLACE`).
            flags: u32,
        }
        /// Tlock: `fid[4] type[1] flags[4] start[8] length[8] proc_id[4] client_id[s]`.
        Lock = P9_TLOCK 52, Tlock<'a> {
            /// Open fid.
            fid: u32,
            /// `P9_LOCK_TYPE_*`.
            ty: u8,
            /// `P9_LOCK_FLAGS_*`.
            flags: u32,
            /// Start offset.
            start: u64,
            /// Length (0 = to end of file).
            length: u64,
            /// Process id of the lock owner.
            proc_id: u32,
            /// Client identifier.
            client_id: &'a [u8],
        }
        /// Tgetlock: `fid[4] type[1] start[8] length[8] proc_id[4] client_id[s]`.
        Getlock = P9_TGETLOCK 54, Tgetlock<'a> {
            /// Open fid.
            fid: u32,
            /// `P9_LOCK_TYPE_*`.
            ty: u8,
            /// Start offset.
            start: u64,
            /// Length (0 = to end of file).
            length: u64,
            /// Process id of the lock owner.
            proc_id: u32,
            /// Client identifier.
            client_id: &'a [u8],
        }
    }

    replies
    /// A reply, as encoded by a server or decoded by [`crate::decode_rmessage`].
    /// Replies with an empty body are unit variants.
    {
        /// Rversion: `msize[4] version[s]`.
        Version = P9_RVERSION 101, Rversion<'a> {
            /// Negotiated msize (at most the client's).
            msize: u32,
            /// `b"9P2000.L"`, or `b"unknown"` to refuse.
            version: &'a [u8],
        }
        /// Rauth: `aqid[13]`.
        Auth = P9_RAUTH 103, Rauth {
            /// Qid of the authentication file.
            aqid: Qid,
        }
        /// Rattach: `qid[13]`.
        Attach = P9_RATTACH 105, Rattach {
            /// Qid of the root.
            qid: Qid,
        }
        /// Rwalk: `nwqid[2] nwqid*(wqid[13])`.
        Walk = P9_RWALK 111, Rwalk {
            /// Qids of the elements walked (fewer than asked means partial walk).
            wqids: WalkVec<Qid>,
        }
        /// Rlopen: `qid[13] iounit[4]`.
        Lopen = P9_RLOPEN 13, Rlopen {
            /// Qid of the opened file.
            qid: Qid,
            /// Preferred I/O size, or 0.
            iounit: u32,
        }
        /// Rlcreate: `qid[13] iounit[4]`.
        Lcreate = P9_RLCREATE 15, Rlcreate {
            /// Qid of the created file.
            qid: Qid,
            /// Preferred I/O size, or 0.
            iounit: u32,
        }
        /// Rread: `count[4] data[count]`. Servers should prefer
        /// [`crate::begin_rread`]/[`crate::finish_rread`] to avoid a copy.
        Read = P9_RREAD 117, Rread<'a> {
            /// Bytes read.
            data: &'a [u8] as Data,
        }
        /// Rwrite: `count[4]`.
        Write = P9_RWRITE 119, Rwrite {
            /// Bytes written.
            count: u32,
        }
        /// Rgetattr: `valid[8] qid[13] mode[4] uid[4] gid[4] nlink[8] rdev[8]
        /// size[8] blksize[8] blocks[8] atime_sec[8] atime_nsec[8] mtime_sec[8]
        /// mtime_nsec[8] ctime_sec[8] ctime_nsec[8] btime_sec[8] btime_nsec[8]
        /// gen[8] data_version[8]`.
        #[derive(Default)]
        Getattr = P9_RGETATTR 25, Rgetattr {
            /// `P9_GETATTR_*` bits saying which fields are valid.
            valid: u64 as Hex,
            /// Qid of the file.
            qid: Qid,
            /// `st_mode` (type and permission bits).
            mode: u32 as Oct,
            /// Owner.
            uid: u32,
            /// Group.
            gid: u32,
            /// Link count.
            nlink: u64,
            /// Device number for device nodes.
            rdev: u64,
            /// Size in bytes.
            size: u64,
            /// Preferred block size.
            blksize: u64,
            /// Number of 512-byte blocks.
            blocks: u64,
            /// Access time, seconds.
            atime_sec: u64,
            /// Access time, nanoseconds.
            atime_nsec: u64,
            /// Modification time, seconds.
            mtime_sec: u64,
            /// Modification time, nanoseconds.
            mtime_nsec: u64,
            /// Status change time, seconds.
            ctime_sec: u64,
            /// Status change time, nanoseconds.
            ctime_nsec: u64,
            /// Birth time, seconds.
            btime_sec: u64,
            /// Birth time, nanoseconds.
            btime_nsec: u64,
            /// Inode generation.
            gen: u64,
            /// Data version.
            data_version: u64,
        }
        /// Rreaddir: `count[4] data[count]`, where data is a sequence of directory
        /// entries (see [`crate::DirEntry`], [`crate::DirEntryWriter`] and
        /// [`crate::dir_entries`]). Servers should prefer
        /// [`crate::begin_rreaddir`]/[`crate::finish_rreaddir`].
        Readdir = P9_RREADDIR 41, Rreaddir<'a> {
            /// Raw encoded entries.
            data: &'a [u8] as Data,
        }
        /// Rstatfs: `type[4] bsize[4] blocks[8] bfree[8] bavail[8] files[8]
        /// ffree[8] fsid[8] namelen[4]`.
        #[derive(Default)]
        Statfs = P9_RSTATFS 9, Rstatfs {
            /// File system type magic.
            ty: u32 as Hex,
            /// Block size.
            bsize: u32,
            /// Total blocks.
            blocks: u64,
            /// Free blocks.
            bfree: u64,
            /// Blocks available to unprivileged users.
            bavail: u64,
            /// Total inodes.
            files: u64,
            /// Free inodes.
            ffree: u64,
            /// File system id.
            fsid: u64,
            /// Maximum name length.
            namelen: u32,
        }
        /// Rmkdir: `qid[13]`.
        Mkdir = P9_RMKDIR 73, Rmkdir {
            /// Qid of the new directory.
            qid: Qid,
        }
        /// Rsymlink: `qid[13]`.
        Symlink = P9_RSYMLINK 17, Rsymlink {
            /// Qid of the new symlink.
            qid: Qid,
        }
        /// Rmknod: `qid[13]`.
        Mknod = P9_RMKNOD 19, Rmknod {
            /// Qid of the new node.
            qid: Qid,
        }
        /// Rreadlink: `target[s]`.
        Readlink = P9_RREADLINK 23, Rreadlink<'a> {
            /// Link target.
            target: &'a [u8],
        }
        /// Rxattrwalk: `size[8]`.
        Xattrwalk = P9_RXATTRWALK 31, Rxattrwalk {
            /// Size of the attribute value (or of the name list).
            size: u64,
        }
        /// Rlock: `status[1]`.
        Lock = P9_RLOCK 53, Rlock {
            /// `P9_LOCK_SUCCESS`, `_BLOCKED`, `_ERROR` or `_GRACE`.
            status: u8,
        }
        /// Rgetlock: `type[1] start[8] length[8] proc_id[4] client_id[s]`.
        Getlock = P9_RGETLOCK 55, Rgetlock<'a> {
            /// `P9_LOCK_TYPE_*`; `UNLCK` if the range is free.
            ty: u8,
            /// Start of the conflicting lock.
            start: u64,
            /// Length of the conflicting lock.
            length: u64,
            /// Owner process id.
            proc_id: u32,
            /// Owner client id.
            client_id: &'a [u8],
        }
        /// Rlerror: `ecode[4]`, the answer to any request that failed.
        Lerror = P9_RLERROR 7, Rlerror {
            /// Linux errno value.
            ecode: u32 as Errno,
        }
    }

    empty replies {
        Flush = P9_RFLUSH 109, Rflush;
        Clunk = P9_RCLUNK 121, Rclunk;
        Remove = P9_RREMOVE 123, Rremove;
        Setattr = P9_RSETATTR 27, Rsetattr;
        Fsync = P9_RFSYNC 51, Rfsync;
        Link = P9_RLINK 71, Rlink;
        Rename = P9_RRENAME 21, Rrename;
        Renameat = P9_RRENAMEAT 75, Rrenameat;
        Unlinkat = P9_RUNLINKAT 77, Runlinkat;
        Xattrcreate = P9_RXATTRCREATE 33, Rxattrcreate;
    }

    not decoded {
        /// Tlerror: not used (there is no request for it).
        P9_TLERROR = 6, Tlerror;
        /// Terror (legacy 9P2000, never sent; not decoded by this crate).
        P9_TERROR = 106, Terror;
        /// Rerror (legacy 9P2000 string error; not decoded by this crate).
        P9_RERROR = 107, Rerror;
        /// Topen (legacy 9P2000; not decoded by this crate).
        P9_TOPEN = 112, Topen;
        /// Ropen (legacy 9P2000; not decoded by this crate).
        P9_ROPEN = 113, Ropen;
        /// Tcreate (legacy 9P2000; not decoded by this crate).
        P9_TCREATE = 114, Tcreate;
        /// Rcreate (legacy 9P2000; not decoded by this crate).
        P9_RCREATE = 115, Rcreate;
        /// Tstat (legacy 9P2000; not decoded by this crate).
        P9_TSTAT = 124, Tstat;
        /// Rstat (legacy 9P2000; not decoded by this crate).
        P9_RSTAT = 125, Rstat;
        /// Twstat (legacy 9P2000; not decoded by this crate).
        P9_TWSTAT = 126, Twstat;
        /// Rwstat (legacy 9P2000; not decoded by this crate).
        P9_RWSTAT = 127, Rwstat;
    }
}

impl Rmessage<'_> {
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
