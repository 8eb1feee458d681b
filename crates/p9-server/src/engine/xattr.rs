//! Extended attributes the 9P2000.L way: Txattrwalk reads a value (or the name list)
//! into a fid, read back with Tread; Txattrcreate turns a fid into a buffer written with
//! Twrite and set when the fid is clunked (a size of 0 removes the attribute, as QEMU
//! does).

use confined_fs::XATTR_SIZE_MAX;
use rustix::fs::XattrFlags;
use rustix::io::Errno;

use crate::backend::{Backend, Node};

/// An xattr being written through a fid.
#[derive(Debug)]
pub struct XattrWrite {
    name: Vec<u8>,
    flags: XattrFlags,
    value: Vec<u8>,
    copied: u64,
}

impl XattrWrite {
    /// Starts writing `size` bytes to the xattr `name` with `setxattr(2)` `flags`.
    pub fn new(name: &[u8], size: u64, flags: u32) -> Result<XattrWrite, Errno> {
        if name.is_empty() || name.contains(&0) {
            return Err(Errno::INVAL);
        }
        let known = XattrFlags::CREATE | XattrFlags::REPLACE;
        let flags = XattrFlags::from_bits(flags)
            .filter(|f| known.contains(*f))
            .ok_or(Errno::INVAL)?;
        let size = usize::try_from(size)
            .ok()
            .filter(|&s| s <= XATTR_SIZE_MAX)
            .ok_or(Errno::TOOBIG)?;
        Ok(XattrWrite {
            name: name.to_vec(),
            flags,
            value: vec![0; size],
            copied: 0,
        })
    }

    /// The declared size of the value (the bytes its buffer holds).
    pub fn size(&self) -> usize {
        self.value.len()
    }

    /// Copies `data` at `offset` into the value; bytes past its declared size are
    /// dropped. Returns the count taken.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Result<usize, Errno> {
        let off = usize::try_from(offset)
            .ok()
            .filter(|&o| o <= self.value.len())
            .ok_or(Errno::NOSPC)?;
        let n = data.len().min(self.value.len() - off);
        self.value[off..off + n].copy_from_slice(&data[..n]);
        self.copied += n as u64;
        Ok(n)
    }

    /// Sets (or, for size 0, removes) the xattr on `node`. A value not written whole
    /// is `EINVAL`.
    pub fn commit(self, backend: &dyn Backend, node: &Node) -> Result<(), Errno> {
        if self.copied != self.value.len() as u64 {
            return Err(Errno::INVAL);
        }
        if self.value.is_empty() {
            backend.removexattr(node, &self.name)
        } else {
            backend.setxattr(node, &self.name, &self.value, self.flags)
        }
    }
}

/// Reads what Txattrwalk names: the value of `name`, or the list of names if empty.
pub fn read_for_walk(backend: &dyn Backend, node: &Node, name: &[u8]) -> Result<Vec<u8>, Errno> {
    if name.is_empty() {
        backend.listxattr(node)
    } else {
        if name.contains(&0) {
            return Err(Errno::INVAL);
        }
        backend.getxattr(node, name)
    }
}

/// Tread on an xattr fid: `count` bytes of `value` from `offset`.
pub fn read(value: &[u8], offset: u64, count: usize) -> &[u8] {
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(value.len());
    let end = start.saturating_add(count).min(value.len());
    &value[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_bounds() {
        assert_eq!(
            XattrWrite::new(b"user.x", XATTR_SIZE_MAX as u64 + 1, 0).unwrap_err(),
            Errno::TOOBIG
        );
        assert_eq!(XattrWrite::new(b"", 1, 0).unwrap_err(), Errno::INVAL);
        assert_eq!(XattrWrite::new(b"user.x", 1, 8).unwrap_err(), Errno::INVAL);
        let mut w = XattrWrite::new(b"user.x", 4, 0).unwrap();
        assert_eq!(w.write(0, b"ab"), Ok(2));
        assert_eq!(w.write(2, b"cdef"), Ok(2));
        assert_eq!(w.write(5, b"x"), Err(Errno::NOSPC));
        assert_eq!(w.value, b"abcd");
    }

    #[test]
    fn read_bounds() {
        assert_eq!(read(b"hello", 1, 3), b"ell");
        assert_eq!(read(b"hello", 4, 3), b"o");
        assert_eq!(read(b"hello", 9, 3), b"");
        assert_eq!(read(b"hello", u64::MAX, usize::MAX), b"");
    }
}
