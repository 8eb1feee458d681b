//! Requests, QEMU to helper: `{type, size}` then the fields below, in this order.
//!
//! Each request is declared once (field names, types and order); decoding, encoding and
//! the request type numbers all follow from that declaration.

use crate::error::{DecodeError, EncodeError};
use crate::field::Field;
use crate::header::encode_frame;
use crate::reply::ReplyForm;
use crate::wire::{Reader, Writer};

macro_rules! requests {
    ($(
        $(#[$doc:meta])*
        $name:ident = $num:literal $([fds $fds:literal])? { $($field:ident : $ty:ty),* $(,)? }
    )*) => {
        /// The request types of `hw/9pfs/9p-proxy.h`, with their wire numbers.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum RequestType {
            $( $(#[$doc])* $name = $num, )*
        }

        impl RequestType {
            /// Every request type, in wire-number order.
            pub const ALL: &'static [RequestType] = &[$(RequestType::$name),*];

            /// The type for a wire number, if it is a request type.
            pub fn from_u32(v: u32) -> Option<RequestType> {
                match v {
                    $( $num => Some(RequestType::$name), )*
                    _ => None,
                }
            }

            /// How many fds travel with it (SCM_RIGHTS, on the same `sendmsg` as its
            /// first byte): 0 for QEMU's requests; 1 or 2 for our fd-relative ones.
            pub fn fds(self) -> usize {
                match self {
                    $( RequestType::$name => 0 $(+ $fds)?, )*
                }
            }

            /// The name QEMU's header gives it (`T_OPEN`...).
            pub fn name(self) -> &'static str {
                match self {
                    $( RequestType::$name => concat!("T_", stringify!($name)), )*
                }
            }
        }

        /// A decoded request; byte strings borrow from the message buffer.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum Request<'a> {
            $( $(#[$doc])* $name { $($field: $ty),* }, )*
        }

        impl<'a> Request<'a> {
            /// The request type.
            pub fn kind(&self) -> RequestType {
                match self {
                    $( Request::$name { .. } => RequestType::$name, )*
                }
            }

            /// Decodes a request body of type `kind`. Strict: truncated fields and
            /// trailing bytes are errors.
            pub fn decode(kind: u32, body: &'a [u8]) -> Result<Request<'a>, DecodeError> {
                let mut r = Reader::new(body);
                let req = match kind {
                    $( $num => Request::$name {
                        $($field: <$ty as Field<'a>>::read(&mut r, stringify!($field))?),*
                    }, )*
                    other => return Err(DecodeError::UnknownRequest(other)),
                };
                r.finish()?;
                Ok(req)
            }

            fn encode_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                match *self {
                    $( Request::$name { $($field),* } => {
                        $( Field::write($field, w)?; )*
                    } )*
                }
                Ok(())
            }
        }
    };
}

requests! {
    /// Open `path` with `flags`; the reply is an fd.
    Open = 2 { path: &'a [u8], flags: i32 }
    /// Create and open `path` as `uid:gid`; the reply is an fd.
    Create = 3 { path: &'a [u8], flags: i32, mode: u32, uid: u32, gid: u32 }
    /// Make a device node, FIFO or socket as `uid:gid`.
    Mknod = 4 { uid: u32, gid: u32, path: &'a [u8], mode: u32, rdev: u64 }
    /// Make a directory as `uid:gid`.
    Mkdir = 5 { uid: u32, gid: u32, path: &'a [u8], mode: u32 }
    /// Make a symlink at `path` pointing to `target`, as `uid:gid`.
    Symlink = 6 { uid: u32, gid: u32, target: &'a [u8], path: &'a [u8] }
    /// Hard link `newpath` to `oldpath`.
    Link = 7 { oldpath: &'a [u8], newpath: &'a [u8] }
    /// `lstat(path)`.
    Lstat = 8 { path: &'a [u8] }
    /// `readlink(path)`; `bufsize` counts the NUL.
    Readlink = 9 { path: &'a [u8], bufsize: i32 }
    /// `statfs(path)`.
    Statfs = 10 { path: &'a [u8] }
    /// `chmod(path, mode)`.
    Chmod = 11 { path: &'a [u8], mode: u32 }
    /// `lchown(path, uid, gid)`; `u32::MAX` leaves an id unchanged.
    Chown = 12 { path: &'a [u8], uid: u32, gid: u32 }
    /// `truncate(path, size)`.
    Truncate = 13 { path: &'a [u8], size: u64 }
    /// `utimensat(path, [atime, mtime], AT_SYMLINK_NOFOLLOW)`.
    Utime = 14 { path: &'a [u8], atime_sec: i64, atime_nsec: i64, mtime_sec: i64, mtime_nsec: i64 }
    /// `rename(oldpath, newpath)`.
    Rename = 15 { oldpath: &'a [u8], newpath: &'a [u8] }
    /// `remove(path)`: unlink a file or remove an empty directory.
    Remove = 16 { path: &'a [u8] }
    /// `lgetxattr`; `size` 0 asks for the value's length.
    Lgetxattr = 17 { size: i32, path: &'a [u8], name: &'a [u8] }
    /// `llistxattr`; `size` 0 asks for the list's length.
    Llistxattr = 18 { size: i32, path: &'a [u8] }
    /// `lsetxattr`; `size` repeats the value's length.
    Lsetxattr = 19 { path: &'a [u8], name: &'a [u8], value: &'a [u8], size: i32, flags: i32 }
    /// `lremovexattr`.
    Lremovexattr = 20 { path: &'a [u8], name: &'a [u8] }
    /// `FS_IOC_GETVERSION` on `path`.
    Getversion = 21 { path: &'a [u8] }
    /// Ours, never sent by QEMU: every later request on this connection acts as host
    /// uid `uid`, gid `gid` and the supplementary `groups` (u32 little-endian each), with
    /// the kernel's permission checks (see `confined_fs::act_as`). Answered with a
    /// status; after a failed one every request fails with `EPERM` until one succeeds.
    As = 256 { uid: u32, gid: u32, groups: &'a [u8] }

    // Ours, never sent by QEMU: fd-relative requests. The fds travel in SCM_RIGHTS with
    // the request ([`RequestType::fds`]), in the order named: a "node" is an fd of the
    // inode acted on (any `O_PATH` fd the helpers handed out, or one derived from it), a
    // "dir" an fd of a directory, and a `name` one path component in it (no `/`, not `.`
    // or `..`). No path: no length limit, no walk per request, and the inode cannot
    // change under the request. The helper refuses fds not on its export's mounts.

    /// Lookup of `name` in dir, not following it: an `O_PATH` fd (fd reply).
    LookupAt = 257 [fds 1] { name: &'a [u8] }
    /// Reopens node with `flags` (regular files and directories only; fd reply).
    OpenNode = 258 [fds 1] { flags: i32 }
    /// Creates the regular file `name` in dir, exclusively and never following a
    /// symlink, as `uid:gid` (fd reply; without `O_EXCL` an existing regular file is
    /// opened).
    CreateAt = 259 [fds 1] { name: &'a [u8], flags: i32, mode: u32, uid: u32, gid: u32 }
    /// `mkdirat(dir, name)` as `uid:gid`; the reply is the new directory's stat.
    MkdirAt = 260 [fds 1] { uid: u32, gid: u32, name: &'a [u8], mode: u32 }
    /// `mknodat(dir, name)` as `uid:gid`; the reply is the new node's stat.
    MknodAt = 261 [fds 1] { uid: u32, gid: u32, name: &'a [u8], mode: u32, rdev: u64 }
    /// `symlinkat(target, dir, name)` as `uid:gid`; the reply is the new link's stat.
    SymlinkAt = 262 [fds 1] { uid: u32, gid: u32, name: &'a [u8], target: &'a [u8] }
    /// `unlinkat(dir, name, flags)`; `flags` 0 or `AT_REMOVEDIR`.
    UnlinkAt = 263 [fds 1] { name: &'a [u8], flags: i32 }
    /// `renameat(olddir, oldname, newdir, newname)`: two fds, old dir then new dir.
    RenameAt = 264 [fds 2] { oldname: &'a [u8], newname: &'a [u8] }
    /// Links node (a symlink itself, not its target) as `name` in dir: two fds, node
    /// then dir.
    LinkAt = 265 [fds 2] { name: &'a [u8] }
    /// `readlink` of the symlink node; `bufsize` counts the NUL, as for T_READLINK.
    ReadlinkNode = 266 [fds 1] { bufsize: i32 }
    /// `fstatfs` of node's file system.
    StatfsNode = 267 [fds 1] { }
    /// `chmod` of node.
    ChmodNode = 268 [fds 1] { mode: u32 }
    /// `lchown` of node; `u32::MAX` leaves an id unchanged.
    ChownNode = 269 [fds 1] { uid: u32, gid: u32 }
    /// Truncates the regular file node.
    TruncateNode = 270 [fds 1] { size: u64 }
    /// Sets node's times (a symlink itself); `UTIME_NOW`/`UTIME_OMIT` as usual.
    UtimeNode = 271 [fds 1] { atime_sec: i64, atime_nsec: i64, mtime_sec: i64, mtime_nsec: i64 }
    /// Node's xattr `name`; `size` 0 asks for its length, as T_LGETXATTR.
    GetxattrNode = 272 [fds 1] { size: i32, name: &'a [u8] }
    /// Node's xattr names; `size` 0 asks for the list's length, as T_LLISTXATTR.
    ListxattrNode = 273 [fds 1] { size: i32 }
    /// Sets node's xattr `name`; `size` repeats the value's length, as T_LSETXATTR.
    SetxattrNode = 274 [fds 1] { name: &'a [u8], value: &'a [u8], size: i32, flags: i32 }
    /// Removes node's xattr `name`.
    RemovexattrNode = 275 [fds 1] { name: &'a [u8] }
}

/// The first wire number of our own requests; QEMU's are below it.
pub const FIRST_EXTENSION: u32 = 256;

impl RequestType {
    /// Whether QEMU's `9p-proxy.h` defines it (else it is one of ours).
    pub fn is_qemu(self) -> bool {
        (self as u32) < FIRST_EXTENSION
    }
}

/// The groups of a [`Request::As`] as its `groups` bytes.
pub fn encode_groups(groups: &[u32]) -> Vec<u8> {
    groups.iter().flat_map(|g| g.to_le_bytes()).collect()
}

/// The groups of a [`Request::As`] from its `groups` bytes (`None`: not a whole number
/// of u32s).
pub fn decode_groups(bytes: &[u8]) -> Option<Vec<u32>> {
    if !bytes.chunks_exact(4).remainder().is_empty() {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

impl Request<'_> {
    /// Appends header and body to `buf`. Fails, leaving `buf` as it was, when a string
    /// is too long or the body exceeds `PROXY_MAX_IO_SZ`.
    pub fn encode(&self, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
        encode_frame(buf, |w| {
            self.encode_body(w)?;
            Ok(self.kind() as u32)
        })
    }

    /// How the helper answers this request.
    pub fn reply_form(&self) -> ReplyForm {
        ReplyForm::for_request(self.kind(), self.xattr_size())
    }

    /// The `size` field of the xattr reads, which selects their reply form.
    pub fn xattr_size(&self) -> Option<i32> {
        match *self {
            Request::Lgetxattr { size, .. }
            | Request::Llistxattr { size, .. }
            | Request::GetxattrNode { size, .. }
            | Request::ListxattrNode { size, .. } => Some(size),
            _ => None,
        }
    }
}
