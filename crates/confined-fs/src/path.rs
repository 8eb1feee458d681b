//! Parsing client paths: the one name validator.

use rustix::io::Errno;

/// Why a path was refused before touching the file system.
pub type PathError = Errno;

/// A single file name, valid to act on in a directory: not empty, not `.` or `..`, no `/`
/// and no NUL. Only [`check_name`] makes one, so an operation taking a `Name` need not
/// check it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Name<'a>(&'a [u8]);

impl<'a> Name<'a> {
    /// The name's bytes.
    pub const fn as_bytes(self) -> &'a [u8] {
        self.0
    }
}

impl AsRef<[u8]> for Name<'_> {
    fn as_ref(&self) -> &[u8] {
        self.0
    }
}

/// The last component of a path, as an operation on "a name in a directory" needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Last<'a> {
    /// A plain name.
    Plain(Name<'a>),
    /// The path names a directory by `.`, `..` or the root itself (`/`, empty).
    Dir,
}

/// Splits `path` into its parent directory part and its last component.
///
/// Trailing slashes are ignored (`a/b/` is `a/b`). A path with a NUL byte is
/// `EINVAL`. The parent part is returned as given (possibly empty, meaning the root),
/// to be resolved inside the export.
pub fn split_parent(path: &[u8]) -> Result<(&[u8], Last<'_>), PathError> {
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
        b"" | b"." | b".." => Ok((trimmed, Last::Dir)),
        name => Ok((parent, Last::Plain(check_name(name)?))),
    }
}

/// Checks a single name from the wire (for protocols that send names, not paths): the
/// only way to make a [`Name`]. `const`, so that a name the code itself uses (a
/// metadata directory's) is checked when it compiles.
pub const fn check_name(name: &[u8]) -> Result<Name<'_>, PathError> {
    if name.is_empty() || matches!(name, b"." | b"..") {
        return Err(Errno::INVAL);
    }
    let mut i = 0;
    while i < name.len() {
        if name[i] == b'/' || name[i] == 0 {
            return Err(Errno::INVAL);
        }
        i += 1;
    }
    Ok(Name(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(n: &[u8]) -> Last<'_> {
        Last::Plain(check_name(n).unwrap())
    }

    #[test]
    fn splits() {
        assert_eq!(split_parent(b"//a/b"), Ok((&b"//a"[..], plain(b"b"))));
        assert_eq!(split_parent(b"a"), Ok((&b""[..], plain(b"a"))));
        assert_eq!(split_parent(b"/a/b///"), Ok((&b"/a"[..], plain(b"b"))));
        assert_eq!(split_parent(b"/"), Ok((&b""[..], Last::Dir)));
        assert_eq!(split_parent(b""), Ok((&b""[..], Last::Dir)));
        assert_eq!(split_parent(b"/a/.."), Ok((&b"/a/.."[..], Last::Dir)));
        assert_eq!(split_parent(b"/a/."), Ok((&b"/a/."[..], Last::Dir)));
        assert_eq!(split_parent(b"/a\0b"), Err(Errno::INVAL));
    }

    #[test]
    fn names() {
        assert_eq!(check_name(b"ok").map(Name::as_bytes), Ok(&b"ok"[..]));
        for bad in [&b""[..], b".", b"..", b"a/b", b"a\0", b"/", b"\0"] {
            assert_eq!(check_name(bad), Err(Errno::INVAL));
        }
    }
}
