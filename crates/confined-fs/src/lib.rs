//! File operations confined to one export directory.
//!
//! Every path a client sends is resolved from an fd of the export root with
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`: `..`, absolute names and symlinks,
//! relative or absolute, all resolve *inside* the export, even when a rename races the
//! lookup. Operations that must not follow a final symlink act on a single, validated
//! name relative to its resolved parent directory with the `*at` syscalls and
//! `AT_SYMLINK_NOFOLLOW`. Special files (devices, FIFOs, sockets) are never opened on a
//! client's behalf: they may be created, listed and stat'ed, not opened.
//!
//! This is the one path-resolution routine of the project, shared by the proxy helper
//! and the 9P server's local backend. Each operation has one implementation, on fds
//! (`at.rs`); its path form (`root.rs`, QEMU's requests) resolves the path and calls it.
//! A name an operation acts on is a [`Name`], which only [`check_name`] makes.

#![warn(missing_docs)]

mod at;
mod creds;
mod ioctl;
mod path;
mod root;

pub use creds::{act_as, acting, Actor, CredSwitch, Credentials, HostGid, HostUid, MAX_GROUPS};
pub use path::{check_name, split_parent, Last, Name, PathError};
pub use root::{detached_tree, Export, ExportOptions, XATTR_SIZE_MAX};

pub use rustix::io::Errno;
