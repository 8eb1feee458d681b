//! QEMU's mapped-xattr format: the metadata in `user.virtfs.*` xattrs, little-endian;
//! and the client's POSIX ACLs kept under that prefix.

use rustix::io::Errno;

use super::Meta;

/// The xattr holding the client's uid (4 bytes, little-endian).
pub const XATTR_UID: &[u8] = b"user.virtfs.uid";
/// The xattr holding the client's gid (4 bytes, little-endian).
pub const XATTR_GID: &[u8] = b"user.virtfs.gid";
/// The xattr holding the client's mode, file type included (4 bytes, little-endian).
pub const XATTR_MODE: &[u8] = b"user.virtfs.mode";
/// The xattr holding the client's device number (8 bytes, little-endian `dev_t`).
pub const XATTR_RDEV: &[u8] = b"user.virtfs.rdev";
/// The reserved xattr prefix.
pub const XATTR_PREFIX: &[u8] = b"user.virtfs.";
/// The metadata xattrs, in the order [`Meta::from_xattrs`] takes their values.
pub(super) const META_XATTRS: [&[u8]; 4] = [XATTR_UID, XATTR_GID, XATTR_MODE, XATTR_RDEV];
/// The POSIX ACLs, kept as [`XATTR_PREFIX`] followed by their names.
pub(super) const ACL_NAMES: &[&[u8]] = &[b"system.posix_acl_access", b"system.posix_acl_default"];

impl Meta {
    /// The values as QEMU's `local_set_xattrat` stores them: `(name, bytes)`.
    pub fn to_xattrs(self) -> Vec<(&'static [u8], Vec<u8>)> {
        let mut v = Vec::new();
        if let Some(x) = self.uid {
            v.push((XATTR_UID, x.to_le_bytes().to_vec()));
        }
        if let Some(x) = self.gid {
            v.push((XATTR_GID, x.to_le_bytes().to_vec()));
        }
        if let Some(x) = self.mode {
            v.push((XATTR_MODE, x.to_le_bytes().to_vec()));
        }
        if let Some(x) = self.rdev {
            v.push((XATTR_RDEV, x.to_le_bytes().to_vec()));
        }
        v
    }

    /// The metadata from the values of [`META_XATTRS`] (each whole, or its error): a
    /// value that is missing, unreadable or too long is not set.
    pub(super) fn from_xattrs(values: Vec<Result<Vec<u8>, Errno>>) -> Meta {
        let mut values = values.into_iter().map(Result::ok);
        let mut next = || values.next().flatten();
        let u32_of = |v: Option<Vec<u8>>| v.and_then(|v| le::<4>(&v)).map(u32::from_le_bytes);
        Meta {
            uid: u32_of(next()),
            gid: u32_of(next()),
            mode: u32_of(next()),
            rdev: next().and_then(|v| le::<8>(&v)).map(u64::from_le_bytes),
        }
    }
}

/// A little-endian value of at most `N` bytes, zero-extended (QEMU reads into a
/// `uid_t`/`dev_t` and takes any non-empty value; a longer one fails with `ERANGE`).
fn le<const N: usize>(v: &[u8]) -> Option<[u8; N]> {
    if v.is_empty() || v.len() > N {
        return None;
    }
    let mut b = [0u8; N];
    b[..v.len()].copy_from_slice(v);
    Some(b)
}

/// The host xattr name for a client's, or the error QEMU's mapped model answers.
pub(super) fn host_xattr<'n>(name: &'n [u8], on_reserved: Errno) -> Result<HostName<'n>, Errno> {
    if name.starts_with(XATTR_PREFIX) {
        return Err(on_reserved);
    }
    if ACL_NAMES.contains(&name) {
        let mut n = XATTR_PREFIX.to_vec();
        n.extend_from_slice(name);
        return Ok(HostName::Mapped(n));
    }
    if name.starts_with(b"user.") {
        return Ok(HostName::Same(name));
    }
    Err(Errno::OPNOTSUPP)
}

pub(super) enum HostName<'n> {
    Same(&'n [u8]),
    Mapped(Vec<u8>),
}

impl HostName<'_> {
    pub(super) fn get(&self) -> &[u8] {
        match self {
            HostName::Same(n) => n,
            HostName::Mapped(n) => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xattr_bytes() {
        let m = Meta {
            uid: Some(0x01020304),
            rdev: Some(0x0102),
            ..Meta::default()
        };
        assert_eq!(
            m.to_xattrs(),
            vec![
                (XATTR_UID, vec![4, 3, 2, 1]),
                (XATTR_RDEV, vec![2, 1, 0, 0, 0, 0, 0, 0])
            ]
        );
        assert_eq!(le::<4>(&[1]), Some([1, 0, 0, 0]));
        assert_eq!(le::<4>(&[1, 2, 3, 4, 5]), None);
        assert_eq!(le::<4>(&[]), None);
    }
}
