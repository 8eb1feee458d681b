//! The security models of QEMU's `local` backend (`-fsdev local,security_model=...`), as
//! layers over any backend, with QEMU's on-disk formats so one export reads the same
//! whether our server or QEMU serves it.
//!
//! - `passthrough`: files belong to the client's uid/gid on the host (the backends as
//!   they are; no layer).
//! - `mapped-xattr` ([`Mapped`] with [`MetaStore::Xattr`]): the server needs no
//!   privilege. Host files are created as the server's user, regular files and the
//!   stand-ins of devices and symlinks with mode 0600 (`SM_LOCAL_MODE_BITS`), directories
//!   0700 (`SM_LOCAL_DIR_MODE_BITS`); the client's uid, gid, mode (with the file type)
//!   and device number live in the xattrs `user.virtfs.uid`, `.gid`, `.mode` (4 bytes
//!   each, little-endian) and `.rdev` (8 bytes, little-endian). A symlink is a regular
//!   file holding its target; a device, FIFO or socket is an empty regular file.
//!   getattr overlays what is there; chmod and chown only rewrite it.
//! - `mapped-file` ([`Mapped`] with [`MetaStore::File`]): the same values as text
//!   (`virtfs.uid=%d\n`, `virtfs.gid=`, `virtfs.mode=`, `virtfs.rdev=`, only those that
//!   are set, in that order) in `DIR/.virtfs_metadata/NAME` (directory 0700, files 0600),
//!   and for the export root in `.virtfs_metadata_root`. Renames, links and removals
//!   carry the metadata file along.
//! - `none` ([`NoOwnership`]): like passthrough, but creations are made as the server's
//!   own user and then handed to the client's uid/gid with a chown whose failure is
//!   ignored (so an unprivileged server works, and files are the server's); POSIX ACLs
//!   are not supported.
//!
//! In both mapped models the client can never reach the metadata (the CVE-2017-7493
//! class): the names `.virtfs_metadata` and `.virtfs_metadata_root` are hidden from
//! readdir and refused (`EINVAL`, as QEMU) by walk, create, mkdir, mknod, symlink, link,
//! rename and unlink; xattrs under `user.virtfs.` are hidden from listxattr, read as
//! `ENODATA` and refused as `EACCES` on set and remove; POSIX ACLs
//! (`system.posix_acl_access`/`_default`) are kept as `user.virtfs.system.posix_acl_*`
//! (as QEMU's mapped model does), other namespaces than `user.` are `EOPNOTSUPP`. QEMU
//! applies the name and xattr rules to `mapped-file` and `mapped-xattr` respectively;
//! we apply both to both models.
//!
//! Here: the model's selection ([`SecurityModel`]); [`Meta`], what the models keep, in
//! `meta.rs`; QEMU's two formats for it, `xattr_format.rs` and `file_format.rs`; the
//! two layers, [`Mapped`] in `layer.rs` and [`NoOwnership`] in `none.rs`.

mod file_format;
mod layer;
mod meta;
mod none;
mod xattr_format;

use std::sync::Arc;

use super::Backend;

pub use file_format::{META_DIR, META_ROOT_FILE};
pub use layer::Mapped;
pub use meta::{Meta, MetaStore};
pub use none::NoOwnership;
pub use xattr_format::{XATTR_GID, XATTR_MODE, XATTR_PREFIX, XATTR_RDEV, XATTR_UID};

/// QEMU's `security_model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityModel {
    /// Files belong to the client's ids on the host (needs root for other ids).
    #[default]
    Passthrough,
    /// Ids, modes and device numbers in `user.virtfs.*` xattrs.
    MappedXattr,
    /// Ids, modes and device numbers in `.virtfs_metadata` files.
    MappedFile,
    /// Like passthrough, with ownership changes of creations best effort.
    None,
}

impl SecurityModel {
    /// Every model.
    pub const ALL: [SecurityModel; 4] = [
        SecurityModel::Passthrough,
        SecurityModel::MappedXattr,
        SecurityModel::MappedFile,
        SecurityModel::None,
    ];

    /// The name QEMU gives it.
    pub fn name(self) -> &'static str {
        match self {
            SecurityModel::Passthrough => "passthrough",
            SecurityModel::MappedXattr => "mapped-xattr",
            SecurityModel::MappedFile => "mapped-file",
            SecurityModel::None => "none",
        }
    }

    /// Whether the client's ids are kept in metadata rather than in the host's owners.
    pub fn is_mapped(self) -> bool {
        matches!(self, SecurityModel::MappedXattr | SecurityModel::MappedFile)
    }

    /// `backend` under this model.
    pub fn over(self, backend: Arc<dyn Backend>) -> Arc<dyn Backend> {
        match self {
            SecurityModel::Passthrough => backend,
            SecurityModel::MappedXattr => Arc::new(Mapped::new(backend, MetaStore::Xattr)),
            SecurityModel::MappedFile => Arc::new(Mapped::new(backend, MetaStore::File)),
            SecurityModel::None => Arc::new(NoOwnership(backend)),
        }
    }
}

impl std::fmt::Display for SecurityModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for SecurityModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "passthrough" => SecurityModel::Passthrough,
            // QEMU takes "mapped" as "mapped-xattr".
            "mapped-xattr" | "mapped" => SecurityModel::MappedXattr,
            "mapped-file" => SecurityModel::MappedFile,
            "none" => SecurityModel::None,
            _ => {
                return Err(format!(
                    "unknown security model {s:?} (passthrough, mapped-xattr, mapped-file, none)"
                ))
            }
        })
    }
}

/// Host mode of regular files and stand-ins (QEMU's `SM_LOCAL_MODE_BITS`).
pub const FILE_MODE: u32 = 0o600;
/// Host mode of directories (QEMU's `SM_LOCAL_DIR_MODE_BITS`).
pub const DIR_MODE: u32 = 0o700;

/// A NUL-separated xattr name list with each name replaced by what `show` makes of it
/// (`None`: left out).
fn filter_names<'l>(list: &'l [u8], show: impl Fn(&'l [u8]) -> Option<&'l [u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(list.len());
    for name in list.split(|&c| c == 0).filter(|n| !n.is_empty()) {
        if let Some(shown) = show(name) {
            out.extend_from_slice(shown);
            out.push(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_parse() {
        for m in [
            SecurityModel::Passthrough,
            SecurityModel::MappedXattr,
            SecurityModel::MappedFile,
            SecurityModel::None,
        ] {
            assert_eq!(m.name().parse::<SecurityModel>(), Ok(m));
        }
        assert_eq!("mapped".parse(), Ok(SecurityModel::MappedXattr));
        assert!("x".parse::<SecurityModel>().is_err());
    }
}
