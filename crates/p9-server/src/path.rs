//! Node paths: `/`-separated byte strings relative to the export, as the proxy
//! protocol wants them (`/` is the export root, `/a/b` a file in it). Components are
//! names validated with `confined_fs::check_name`, so a path never holds `.`, `..`,
//! empty components or NULs.

/// The export root's path.
pub const ROOT: &[u8] = b"/";

/// The longest path a fid may have: four times `PATH_MAX` (less a NUL). Clients may name
/// files further than `PATH_MAX` from the export root (a path relative to their working
/// directory is what the kernel limits: pjdfstest's `*/03.t`), and both backends act on
/// them by fd, never resolving the whole path at once. Fids are walked and created only
/// up to this, so a fid's path costs at most this much (a rename above it may make it
/// longer later, by at most as much again); fid memory counts it.
pub const MAX_PATH: usize = 4 * libc::PATH_MAX as usize - 1;

/// Checks that `parent/name` ([`join`]) fits in [`MAX_PATH`] (`ENAMETOOLONG` if not).
pub fn check_join(parent: &[u8], name: impl AsRef<[u8]>) -> Result<(), rustix::io::Errno> {
    let name = name.as_ref();
    if parent.len() + 1 + name.len() > MAX_PATH {
        return Err(rustix::io::Errno::NAMETOOLONG);
    }
    Ok(())
}

/// `parent/name`.
pub fn join(parent: &[u8], name: impl AsRef<[u8]>) -> Vec<u8> {
    let name = name.as_ref();
    let mut p = Vec::with_capacity(parent.len() + 1 + name.len());
    p.extend_from_slice(parent);
    if p.last() != Some(&b'/') {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// The parent of `path` (the root is its own parent).
pub fn parent(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&c| c == b'/') {
        Some(0) | None => ROOT,
        Some(i) => &path[..i],
    }
}

/// The last component of `path`; `None` for the root.
pub fn last(path: &[u8]) -> Option<&[u8]> {
    let i = path.iter().rposition(|&c| c == b'/')?;
    let name = &path[i + 1..];
    (!name.is_empty()).then_some(name)
}

/// If `path` is `from` or lies beneath it, the same path moved to `to`.
pub fn rebase(path: &[u8], from: &[u8], to: &[u8]) -> Option<Vec<u8>> {
    let rest = path.strip_prefix(from)?;
    if rest.is_empty() {
        return Some(to.to_vec());
    }
    if rest.first() != Some(&b'/') || from == ROOT {
        return None;
    }
    let mut p = to.to_vec();
    p.extend_from_slice(rest);
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(join(b"/", b"a"), b"/a");
        assert_eq!(join(b"/a", b"b"), b"/a/b");
        assert_eq!(parent(b"/a/b"), b"/a");
        assert_eq!(parent(b"/a"), b"/");
        assert_eq!(parent(b"/"), b"/");
        assert_eq!(last(b"/a/b"), Some(&b"b"[..]));
        assert_eq!(last(b"/"), None);
        assert_eq!(rebase(b"/a/b", b"/a", b"/x").as_deref(), Some(&b"/x/b"[..]));
        assert_eq!(rebase(b"/a", b"/a", b"/x/y").as_deref(), Some(&b"/x/y"[..]));
        assert_eq!(rebase(b"/ab", b"/a", b"/x"), None);
        assert_eq!(rebase(b"/b", b"/a", b"/x"), None);
        assert_eq!(rebase(b"/b", b"/", b"/x"), None);
    }
}
