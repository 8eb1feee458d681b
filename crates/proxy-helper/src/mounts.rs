//! Which fds the front end may hand back: [`ExportMounts`], the mount ids of the
//! helper's detached copy of the export's mounts.
//!
//! Fd-relative requests carry fds from the unprivileged front end, which may be
//! compromised: an fd of a host directory, of `/proc`, or a socket would let a request
//! act outside the export, as root. An fd is accepted only when its mount
//! (`statx(STATX_MNT_ID)`) is one of the detached tree's: that tree has no parent mount,
//! is reachable by no path outside it, and only this helper and its siblings (sharing
//! one tree made by whoever starts them, see `--tree-fd`) hand out fds on it. Its mounts
//! stay mounted while the helper lives, so their ids cannot be reused by another mount.
//! Without a detached tree (an unprivileged run) no fd is accepted.

use std::collections::HashSet;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{self, AtFlags, FileType, Mode, OFlags, ResolveFlags, StatxFlags};
use rustix::io::Errno;

/// The most mount ids remembered (submounts of an export are few; this bounds memory
/// whatever the peer does).
const MAX_MOUNTS: usize = 4096;

/// The mount ids of the export's detached tree.
#[derive(Debug, Default)]
pub struct ExportMounts {
    ids: HashSet<u64>,
    /// The tree's fd, held for the helper's life: a detached tree is dissolved when its
    /// last `open_tree` fd closes, and its mounts' ids must stay theirs.
    tree: Option<OwnedFd>,
}

/// The mount id and file type of `fd`'s inode.
fn mount_of(fd: BorrowedFd<'_>) -> Result<(u64, FileType), Errno> {
    let st = fs::statx(
        fd,
        "",
        AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW,
        StatxFlags::MNT_ID | StatxFlags::TYPE,
    )?;
    if !StatxFlags::from_bits_retain(st.stx_mask).contains(StatxFlags::MNT_ID) {
        // A kernel before 5.8: no way to tell where the fd is.
        return Err(Errno::XDEV);
    }
    Ok((st.stx_mnt_id, FileType::from_raw_mode(st.stx_mode.into())))
}

impl ExportMounts {
    /// No tree: every fd is refused.
    pub fn none() -> ExportMounts {
        ExportMounts::default()
    }

    /// The mounts of the detached tree `tree`: its root's, and those of the submounts at
    /// `mount_points` (paths relative to the export, from the mount table read before the
    /// tree was entered), as the tree has them. A mount point that does not resolve in
    /// the tree (without symlinks) is skipped: fds on it are then refused (`EXDEV`).
    pub fn of_tree(tree: BorrowedFd<'_>, mount_points: &[Vec<u8>]) -> ExportMounts {
        let mut m = ExportMounts::default();
        m.learn(tree);
        let how = ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        for rel in mount_points {
            match fs::openat2(
                tree,
                rel.as_slice(),
                OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
                how,
            ) {
                Ok(fd) => m.learn(fd.as_fd()),
                Err(e) => tracing::warn!(mount_point = %String::from_utf8_lossy(rel), errno = %e,
                    "submount not found in the detached tree: fds on it will be refused"),
            }
        }
        m
    }

    /// Holds the tree's `open_tree` fd for as long as these mounts are checked against.
    pub fn keep_tree(&mut self, tree: OwnedFd) {
        self.tree = Some(tree);
    }

    /// Remembers the mount of `fd`, an fd this helper made on its tree (bounded).
    fn learn(&mut self, fd: BorrowedFd<'_>) {
        if self.ids.len() >= MAX_MOUNTS {
            return;
        }
        if let Ok((id, _)) = mount_of(fd) {
            self.ids.insert(id);
        }
    }

    /// Accepts `fd` from the peer if it is on one of the tree's mounts (`EXDEV`
    /// otherwise), returning its file type.
    pub fn check(&self, fd: BorrowedFd<'_>) -> Result<FileType, Errno> {
        let (id, ty) = mount_of(fd).map_err(|_| Errno::XDEV)?;
        if !self.ids.contains(&id) {
            return Err(Errno::XDEV);
        }
        Ok(ty)
    }

    /// Accepts `fd` if it is a directory on the tree (`ENOTDIR` for another kind).
    pub fn check_dir(&self, fd: BorrowedFd<'_>) -> Result<(), Errno> {
        match self.check(fd)? {
            FileType::Directory => Ok(()),
            _ => Err(Errno::NOTDIR),
        }
    }

    /// How many mounts are known.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether none is (no fd is accepted).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The mount points strictly below `export` in `/proc/self/mountinfo`, relative to it
/// (at most [`MAX_MOUNTS`]). Read before the chroot; an unreadable table gives none.
pub fn submount_points(export: &Path) -> Vec<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let Ok(table) = std::fs::read("/proc/self/mountinfo") else {
        tracing::warn!("cannot read /proc/self/mountinfo: submounts' fds will be refused");
        return Vec::new();
    };
    let mut prefix = export.as_os_str().as_bytes().to_vec();
    if prefix.last() != Some(&b'/') {
        prefix.push(b'/');
    }
    let mut out = Vec::new();
    for line in table.split(|&c| c == b'\n') {
        // ID PARENT MAJ:MIN ROOT MOUNT_POINT ...
        let Some(point) = line.split(|&c| c == b' ').nth(4) else {
            continue;
        };
        let point = unescape(point);
        if let Some(rel) = point.strip_prefix(prefix.as_slice()) {
            if !rel.is_empty() && out.len() < MAX_MOUNTS {
                out.push(rel.to_vec());
            }
        }
    }
    out
}

/// Undoes mountinfo's octal escapes (`\040` for a space...).
fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && i + 4 <= s.len() {
            let digits = &s[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let v = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(b) = u8::try_from(v) {
                    out.push(b);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape(br"/a\040b"), b"/a b");
        assert_eq!(unescape(br"/a\"), b"/a\\");
        assert_eq!(unescape(br"/a\9"), b"/a\\9");
    }

    #[test]
    fn no_tree_refuses_everything() {
        let m = ExportMounts::none();
        let dir = std::fs::File::open("/").unwrap();
        assert_eq!(m.check(dir.as_fd()).unwrap_err(), Errno::XDEV);
    }
}
