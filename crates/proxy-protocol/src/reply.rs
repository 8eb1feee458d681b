//! Replies, helper to QEMU. Three forms exist:
//! - a status: `{T_SUCCESS or T_ERROR, 4}` then one `d` (a result or `-errno`);
//! - data: `{T_SUCCESS, n}` then the data, or an error status;
//! - an fd word (T_OPEN, T_CREATE): one bare 4-byte word with NO header, either
//!   [`FD_VALID`] with the fd in SCM_RIGHTS, or `-errno` with no fd.

use crate::error::{DecodeError, EncodeError};
use crate::field::Field;
use crate::header::{encode_frame, Header, T_ERROR, T_SUCCESS};
use crate::request::RequestType;
use crate::wire::{Reader, Writer};

/// The fd word that says an fd travels in SCM_RIGHTS (`V9FS_FD_VALID`, `INT_MAX`).
pub const FD_VALID: i32 = i32::MAX;

/// A fixed-size reply body declared once, its fields in wire order with the C names a
/// decode error reports: the struct, its size on the wire, its encoder and decoder.
macro_rules! fixed_body {
    (
        $(#[$doc:meta])* $name:ident, $size_doc:literal $size:ident {
            $($field:ident: $ty:ty = $cname:literal,)*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        #[allow(missing_docs)]
        pub struct $name {
            $(pub $field: $ty,)*
        }

        #[doc = $size_doc]
        pub const $size: usize = 0 $(+ std::mem::size_of::<$ty>())*;

        impl $name {
            fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                $(Field::write(self.$field, w)?;)*
                Ok(())
            }

            fn read(r: &mut Reader<'_>) -> Result<$name, DecodeError> {
                Ok($name {
                    $($field: Field::read(r, $cname)?,)*
                })
            }
        }
    };
}

/// What a data reply carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// A [`Stat`] (T_LSTAT).
    Stat,
    /// A [`StatFs`] (T_STATFS).
    StatFs,
    /// An `s` string: a link target or an xattr value or list.
    Bytes,
    /// A `q` generation number (T_GETVERSION).
    Version,
}

/// The form of the reply a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyForm {
    /// A bare fd word, with the fd in SCM_RIGHTS on success.
    Fd,
    /// A status reply.
    Status,
    /// A data reply, or an error status.
    Data(DataKind),
}

impl ReplyForm {
    /// The reply form of a request type; `xattr_size` is the `size` field of
    /// T_LGETXATTR/T_LLISTXATTR (0 asks for a length, which comes as a status).
    pub fn for_request(kind: RequestType, xattr_size: Option<i32>) -> ReplyForm {
        use RequestType as T;
        match kind {
            T::Open | T::Create | T::LookupAt | T::OpenNode | T::CreateAt => ReplyForm::Fd,
            T::Lstat | T::MkdirAt | T::MknodAt | T::SymlinkAt => ReplyForm::Data(DataKind::Stat),
            T::Statfs | T::StatfsNode => ReplyForm::Data(DataKind::StatFs),
            T::Readlink | T::ReadlinkNode => ReplyForm::Data(DataKind::Bytes),
            T::Getversion => ReplyForm::Data(DataKind::Version),
            T::Lgetxattr | T::Llistxattr | T::GetxattrNode | T::ListxattrNode => match xattr_size {
                Some(0) | None => ReplyForm::Status,
                Some(_) => ReplyForm::Data(DataKind::Bytes),
            },
            T::Mknod
            | T::Mkdir
            | T::Symlink
            | T::Link
            | T::Chmod
            | T::Chown
            | T::Truncate
            | T::Utime
            | T::Rename
            | T::Remove
            | T::Lsetxattr
            | T::Lremovexattr
            | T::As
            | T::UnlinkAt
            | T::RenameAt
            | T::LinkAt
            | T::ChmodNode
            | T::ChownNode
            | T::TruncateNode
            | T::UtimeNode
            | T::SetxattrNode
            | T::RemovexattrNode => ReplyForm::Status,
        }
    }
}

fixed_body! {
    /// `ProxyStat`: what T_LSTAT returns.
    Stat, "Size of the lstat reply body (`qqqdddqqqqqqqqqq`)." STAT_SIZE {
        dev: u64 = "st_dev",
        ino: u64 = "st_ino",
        nlink: u64 = "st_nlink",
        mode: u32 = "st_mode",
        uid: u32 = "st_uid",
        gid: u32 = "st_gid",
        rdev: u64 = "st_rdev",
        size: u64 = "st_size",
        blksize: u64 = "st_blksize",
        blocks: u64 = "st_blocks",
        atime_sec: i64 = "st_atim_sec",
        atime_nsec: i64 = "st_atim_nsec",
        mtime_sec: i64 = "st_mtim_sec",
        mtime_nsec: i64 = "st_mtim_nsec",
        ctime_sec: i64 = "st_ctim_sec",
        ctime_nsec: i64 = "st_ctim_nsec",
    }
}

#[cfg(feature = "rustix")]
impl From<&rustix::fs::Stat> for Stat {
    /// The kernel's stat as the protocol carries it (QEMU's helper's `stat_to_prstat`).
    // `st_nlink` is a u64 on x86_64 but a u32 on aarch64: the cast is needed there.
    #[allow(clippy::unnecessary_cast)]
    fn from(st: &rustix::fs::Stat) -> Stat {
        Stat {
            dev: st.st_dev,
            ino: st.st_ino,
            nlink: st.st_nlink as u64,
            mode: st.st_mode,
            uid: st.st_uid,
            gid: st.st_gid,
            rdev: st.st_rdev,
            size: st.st_size as u64,
            blksize: st.st_blksize as u64,
            blocks: st.st_blocks as u64,
            atime_sec: st.st_atime,
            atime_nsec: st.st_atime_nsec as i64,
            mtime_sec: st.st_mtime,
            mtime_nsec: st.st_mtime_nsec as i64,
            ctime_sec: st.st_ctime,
            ctime_nsec: st.st_ctime_nsec as i64,
        }
    }
}

fixed_body! {
    /// `ProxyStatFS`: what T_STATFS returns. `fsid` halves are sign-extended 32-bit values.
    StatFs, "Size of the statfs reply body (11 × `q`)." STATFS_SIZE {
        fs_type: u64 = "f_type",
        bsize: u64 = "f_bsize",
        blocks: u64 = "f_blocks",
        bfree: u64 = "f_bfree",
        bavail: u64 = "f_bavail",
        files: u64 = "f_files",
        ffree: u64 = "f_ffree",
        fsid: [u64; 2] = "f_fsid",
        namelen: u64 = "f_namelen",
        frsize: u64 = "f_frsize",
    }
}

/// A decoded or to-be-encoded reply (every form but the fd word, see [`FdWord`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// A status: a non-negative result (T_SUCCESS) or `-errno` (T_ERROR).
    Status(i32),
    /// T_LSTAT data.
    Stat(Stat),
    /// T_STATFS data.
    StatFs(StatFs),
    /// T_READLINK, T_LGETXATTR, T_LLISTXATTR data.
    Bytes(&'a [u8]),
    /// T_GETVERSION data.
    Version(u64),
}

impl Reply<'_> {
    /// Appends header and body to `buf`. A body over `PROXY_MAX_IO_SZ` is refused,
    /// leaving `buf` as it was; the helper then answers `-ENOBUFS`, as QEMU's does.
    pub fn encode(&self, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
        encode_frame(buf, |w| {
            Ok(match *self {
                Reply::Status(v) => {
                    w.i32(v);
                    if v < 0 {
                        T_ERROR
                    } else {
                        T_SUCCESS
                    }
                }
                Reply::Stat(s) => {
                    s.write(w)?;
                    T_SUCCESS
                }
                Reply::StatFs(s) => {
                    s.write(w)?;
                    T_SUCCESS
                }
                Reply::Bytes(b) => {
                    w.string(b)?;
                    T_SUCCESS
                }
                Reply::Version(v) => {
                    w.u64(v);
                    T_SUCCESS
                }
            })
        })
    }

    /// Decodes the body of a reply to a request whose reply form is `form` (never
    /// [`ReplyForm::Fd`], which has no header: see [`FdWord`]).
    pub fn decode<'a>(
        form: ReplyForm,
        header: Header,
        body: &'a [u8],
    ) -> Result<Reply<'a>, DecodeError> {
        let mut r = Reader::new(body);
        let reply = match (header.kind, form) {
            (T_ERROR, _) => {
                expect_len(body, 4)?;
                let v = r.i32("status")?;
                if v >= 0 {
                    return Err(DecodeError::BadErrno(v));
                }
                Reply::Status(v)
            }
            (T_SUCCESS, ReplyForm::Status) | (T_SUCCESS, ReplyForm::Fd) => {
                expect_len(body, 4)?;
                Reply::Status(r.i32("status")?)
            }
            (T_SUCCESS, ReplyForm::Data(DataKind::Stat)) => {
                expect_len(body, STAT_SIZE)?;
                Reply::Stat(Stat::read(&mut r)?)
            }
            (T_SUCCESS, ReplyForm::Data(DataKind::StatFs)) => {
                expect_len(body, STATFS_SIZE)?;
                Reply::StatFs(StatFs::read(&mut r)?)
            }
            (T_SUCCESS, ReplyForm::Data(DataKind::Bytes)) => Reply::Bytes(r.string("data")?),
            (T_SUCCESS, ReplyForm::Data(DataKind::Version)) => {
                expect_len(body, 8)?;
                Reply::Version(r.u64("version")?)
            }
            (other, _) => return Err(DecodeError::UnknownReply(other)),
        };
        r.finish()?;
        Ok(reply)
    }
}

fn expect_len(body: &[u8], expected: usize) -> Result<(), DecodeError> {
    if body.len() == expected {
        Ok(())
    } else {
        Err(DecodeError::BadReplySize {
            got: body.len(),
            expected,
        })
    }
}

/// The bare word answering T_OPEN and T_CREATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdWord {
    /// An fd follows in SCM_RIGHTS.
    Valid,
    /// The request failed with this errno (positive).
    Error(i32),
}

impl FdWord {
    /// The 4 bytes on the wire.
    pub fn encode(self) -> [u8; 4] {
        match self {
            FdWord::Valid => FD_VALID.to_ne_bytes(),
            FdWord::Error(errno) => (-errno.abs()).to_ne_bytes(),
        }
    }

    /// Decodes the word. Anything but [`FD_VALID`] or a negative errno is an error.
    pub fn decode(bytes: [u8; 4]) -> Result<FdWord, DecodeError> {
        match i32::from_ne_bytes(bytes) {
            FD_VALID => Ok(FdWord::Valid),
            v if v < 0 && v != i32::MIN => Ok(FdWord::Error(-v)),
            v => Err(DecodeError::BadErrno(v)),
        }
    }
}
