//! Reading file data straight into a reply buffer's spare capacity (no zeroing, no
//! copy).

use std::os::fd::BorrowedFd;

use p9_wire::{begin_rread, WireError, HEADER_SIZE, RREAD_HEADER_SIZE};
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

/// Reads at least this large are sent with `sendfile(2)`.
pub const SENDFILE_MIN: usize = 64 * 1024;

/// A file's bytes that follow the reply buffer on the transport: the data of an Rread
/// whose header ([`rread_header`]) ends the buffer.
#[derive(Debug, Clone, Copy)]
pub struct FileSegment {
    /// The (open) fid to read.
    pub fid: u32,
    /// Where from.
    pub offset: u64,
    /// How many bytes; the header says so.
    pub len: usize,
}

/// Appends the header of an Rread carrying `count` bytes that will follow it on the
/// transport (not in `out`).
pub fn rread_header(tag: u16, count: usize, out: &mut Vec<u8>) -> Result<(), WireError> {
    let start = begin_rread(tag, out);
    let count32 = u32::try_from(count).map_err(|_| WireError::FrameTooLarge {
        size: count,
        msize: u32::MAX,
    })?;
    let size = count32
        .checked_add(RREAD_HEADER_SIZE as u32)
        .ok_or(WireError::FrameTooLarge {
            size: count,
            msize: u32::MAX,
        })?;
    // begin_rread wrote size[4] type[1] tag[2] count[4] with placeholders; the data is
    // not in the buffer, so fill in both counts here.
    out[start..start + 4].copy_from_slice(&size.to_le_bytes());
    out[start + HEADER_SIZE..start + RREAD_HEADER_SIZE].copy_from_slice(&count32.to_le_bytes());
    Ok(())
}

/// Sends `len` bytes of `file` from `offset` to `sock` with `sendfile(2)`. If the file
/// shrank meanwhile, the rest is zeros: the header already promised `len` bytes.
pub fn send_file(
    sock: BorrowedFd<'_>,
    file: BorrowedFd<'_>,
    mut offset: u64,
    mut len: usize,
) -> std::io::Result<()> {
    while len > 0 {
        match rustix::fs::sendfile(sock, file, Some(&mut offset), len) {
            Ok(0) => {
                let zeros = vec![0u8; len.min(64 * 1024)];
                while len > 0 {
                    let n = len.min(zeros.len());
                    let mut w = &zeros[..n];
                    while !w.is_empty() {
                        match rustix::io::write(sock, w) {
                            Ok(k) => w = &w[k..],
                            Err(Errno::INTR) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                    len -= n;
                }
            }
            Ok(n) => len -= n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
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

    #[test]
    fn sendfile_pads_a_shrunk_file() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        let f = std::fs::File::open(&p).unwrap();
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        // 6 bytes from offset 7: three exist, three are promised anyway.
        send_file(b.as_fd(), f.as_fd(), 7, 6).unwrap();
        drop(b);
        let mut got = Vec::new();
        a.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"789\0\0\0");
    }

    #[test]
    fn rread_headers() {
        let mut out = vec![1, 2];
        rread_header(9, 70000, &mut out).unwrap();
        assert_eq!(out.len(), 2 + RREAD_HEADER_SIZE);
        let h = p9_wire::peek_header(&out[2..]).unwrap();
        assert_eq!((h.size, h.ty, h.tag), (70011, p9_wire::P9_RREAD, 9));
        assert_eq!(out[9..13], 70000u32.to_le_bytes());
    }
}
