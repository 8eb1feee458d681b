//! Parsing client paths: the one name validator.

use rustix::io::Errno;

/// Why a path was refused before touching the file system.
pub type PathError = Errno;

/// The last component of a path, as an operation on "a name in a directory" needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name<'a> {
    /// A plain name: no `/`, not empty, not `.` or `..`.
    Plain(&'a [u8]),
    /// The path names a directory by `.`, `..` or the root itself (`/`, empty).
    Dir,
}

/// Splits `path` into its parent directory part and its last component.
///
/// Trailing slashes are ignored (`a/b/` is `a/b`). A path with a NUL byte is
/// `EINVAL`. The parent part is returned as given (possibly empty, meaning the root),
/// to be resolved inside the export.
pub fn split_parent(path: &[u8]) -> Result<(&[u8], Name<'_>), PathError> {
    if path.contains(&0) {
        return Err(Errno::INVAL);
    }
    let mut end = path.len();
    while end > 0 && path[end - 1] == b'/' {
        end -= 1;
    }
    let trimmed = &path[..end];
    let (parent, last) = match trimmed.iter().rposition(|&c| c == b'/') {
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => (&trimmed[..0], trimmed),
    };
    match last {
        b"" | b"." | b".." => Ok((trimmed, Name::Dir)),
        name => Ok((parent, Name::Plain(name))),
    }
}

/// Checks a single name from the wire (for protocols that send names, not paths).
pub fn check_name(name: &[u8]) -> Result<&[u8], PathError> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0)
    {
        return Err(Errno::INVAL);
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits() {
        assert_eq!(split_parent(b"//a/b"), Ok((&b"//a"[..], Name::Plain(b"b"))));
        assert_eq!(split_parent(b"a"), Ok((&b""[..], Name::Plain(b"a"))));
        assert_eq!(
            split_parent(b"/a/b///"),
            Ok((&b"/a"[..], Name::Plain(b"b")))
        );
        assert_eq!(split_parent(b"/"), Ok((&b""[..], Name::Dir)));
        assert_eq!(split_parent(b""), Ok((&b""[..], Name::Dir)));
        assert_eq!(split_parent(b"/a/.."), Ok((&b"/a/.."[..], Name::Dir)));
        assert_eq!(split_parent(b"/a/."), Ok((&b"/a/."[..], Name::Dir)));
        assert_eq!(split_parent(b"/a\0b"), Err(Errno::INVAL));
    }

    #[test]
    fn names() {
        assert!(check_name(b"ok").is_ok());
        for bad in [&b""[..], b".", b"..", b"a/b", b"a\0"] {
            assert_eq!(check_name(bad), Err(Errno::INVAL));
        }
    }
}
