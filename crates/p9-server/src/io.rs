//! Reading file data straight into a reply buffer's spare capacity (no zeroing, no
//! copy).

use std::os::fd::BorrowedFd;

use rustix::io::Errno;

/// `pread(fd, count, offset)` appended to `buf` without initializing the bytes first.
/// Returns the count read.
#[allow(unsafe_code)]
pub fn pread_append(
    fd: BorrowedFd<'_>,
    buf: &mut Vec<u8>,
    count: usize,
    offset: u64,
) -> Result<usize, Errno> {
    buf.reserve(count);
    let len = buf.len();
    let n = {
        let spare = &mut buf.spare_capacity_mut()[..count];
        let (init, _) = rustix::io::pread(fd, spare, offset)?;
        init.len()
    };
    // SAFETY: `pread` initialized the first `n` bytes of the spare capacity (rustix
    // returns them as the initialized part), and `n <= count <= capacity - len`.
    unsafe { buf.set_len(len + n) };
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn appends() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello world").unwrap();
        let f = std::fs::File::open(&p).unwrap();
        let mut buf = b"head".to_vec();
        assert_eq!(pread_append(f.as_fd(), &mut buf, 5, 6), Ok(5));
        assert_eq!(buf, b"headworld");
        assert_eq!(pread_append(f.as_fd(), &mut buf, 100, 6), Ok(5));
        assert_eq!(buf, b"headworldworld");
        assert_eq!(pread_append(f.as_fd(), &mut buf, 100, 600), Ok(0));
    }
}
