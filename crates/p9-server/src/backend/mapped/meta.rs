//! [`Meta`]: what the client sees of a file where the mapped models keep it apart from
//! the host's attributes, and [`MetaStore`]: where they keep it.

use confined_fs::Credentials;

use crate::backend::Attr;

/// Where the mapped models keep the client's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaStore {
    /// `user.virtfs.*` xattrs (mapped-xattr).
    Xattr,
    /// `.virtfs_metadata` files (mapped-file).
    File,
}

/// What the client sees of a file, where it differs from the host (QEMU's `FsCred`,
/// `None` for -1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meta {
    /// Owner.
    pub uid: Option<u32>,
    /// Group.
    pub gid: Option<u32>,
    /// Mode with the file type.
    pub mode: Option<u32>,
    /// Device number.
    pub rdev: Option<u64>,
}

impl Meta {
    /// What a creation by `creds` records: owner, group, `mode` (with the file type) and
    /// the device number of a device.
    pub(super) fn created(creds: Option<Credentials>, mode: u32, rdev: Option<u64>) -> Meta {
        Meta {
            uid: creds.map(|c| c.uid.as_raw()),
            gid: creds.map(|c| c.gid.as_raw()),
            mode: Some(mode),
            rdev,
        }
    }

    /// `other`'s values where it has them, ours elsewhere.
    pub(super) fn merge(self, other: Meta) -> Meta {
        Meta {
            uid: other.uid.or(self.uid),
            gid: other.gid.or(self.gid),
            mode: other.mode.or(self.mode),
            rdev: other.rdev.or(self.rdev),
        }
    }

    /// Overlays the values on host attributes.
    pub fn apply(self, a: &mut Attr) {
        if let Some(v) = self.uid {
            a.uid = v;
        }
        if let Some(v) = self.gid {
            a.gid = v;
        }
        if let Some(v) = self.mode {
            a.mode = v;
        }
        if let Some(v) = self.rdev {
            a.rdev = v;
        }
    }
}
