//! File data between files and the transport, with as few copies as the kernel allows:
//! small reads straight into a reply buffer's spare capacity ([`pread_append`], no
//! zeroing), large reads sent from the page cache after their Rread header
//! ([`FileSegment`], [`send_file`]), and large writes moved from the socket to the file
//! through pipes ([`SpliceBuffer`], `splice(2)`).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use p9_wire::{begin_rread, WireError, HEADER_SIZE, RREAD_HEADER_SIZE};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::pipe::{splice, PipeFlags, SpliceFlags};

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

/// Twrites at least this large take their data from the transport with `splice(2)`.
pub const SPLICE_WRITE_MIN: usize = 128 * 1024;
/// The pipe size asked for (the unprivileged limit, `fs.pipe-max-size`, is 1 MiB by
/// default; smaller pipes only mean more of them).
const SPLICE_PIPE_SIZE: usize = 1 << 20;
/// Most pipes one Twrite's data may fill before the rest is read the usual way.
const SPLICE_MAX_PIPES: usize = 8;

/// What writing a Twrite's data to its file came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Bytes written to the file, from the start of the data, with no gap.
    pub bytes: usize,
    /// The error that stopped writing early, if one did (a short write without an
    /// error also stops it, as `Some(ENOSPC)`; with `bytes > 0` the reply is the count).
    pub error: Option<Errno>,
}

/// Where a Twrite's data went while it arrived.
#[derive(Debug)]
pub enum Taken {
    /// All of it is held in the pipes, for [`SpliceBuffer::write_to`].
    Held,
    /// The pipes ran out of room (tiny pipe buffers): all of it is here instead.
    Spilled(Vec<u8>),
}

#[derive(Debug)]
struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    /// Bytes in the pipe.
    held: usize,
}

/// Kernel pipes that take a large Twrite's data from the transport with `splice(2)` and
/// give it to the file the same way, instead of copying it through a user-space buffer
/// (from TCP the socket's pages move into a pipe without a copy, so the data is copied
/// once, into the page cache, not twice). The whole data is taken before any of it is
/// written: a Twrite whose client vanishes mid-frame changes nothing, as with any
/// request that never arrived whole.
#[derive(Debug)]
pub struct SpliceBuffer {
    pipes: Vec<Pipe>,
    max_pipes: usize,
    pipe_size: usize,
}

impl Default for SpliceBuffer {
    fn default() -> Self {
        SpliceBuffer::with_limits(SPLICE_MAX_PIPES, SPLICE_PIPE_SIZE)
    }
}

impl SpliceBuffer {
    /// At most `max_pipes` pipes of (asked) `pipe_size` bytes, made when first needed.
    pub fn with_limits(max_pipes: usize, pipe_size: usize) -> SpliceBuffer {
        SpliceBuffer {
            pipes: Vec::new(),
            max_pipes: max_pipes.max(1),
            pipe_size,
        }
    }

    fn pipe(&mut self, i: usize) -> Result<&mut Pipe, Errno> {
        while self.pipes.len() <= i {
            let (read, write) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?;
            // Smaller is fine (the user's pipe quota may be spent): more pipes then.
            let _ = rustix::pipe::fcntl_setpipe_size(&write, self.pipe_size);
            self.pipes.push(Pipe {
                read,
                write,
                held: 0,
            });
        }
        Ok(&mut self.pipes[i])
    }

    /// Takes the next `len` bytes of the stream `from` into the pipes, or, if they run
    /// out of room, into memory. An error reading the stream, or its end before `len`
    /// bytes, is the `Err` (the connection is over; nothing was written anywhere).
    pub fn take(&mut self, from: BorrowedFd<'_>, len: usize) -> std::io::Result<Taken> {
        let taken = self.fill(from, len);
        if taken.is_err() {
            // Whatever the pipes hold belongs to a request that will never be answered.
            self.pipes.clear();
        }
        taken
    }

    fn fill(&mut self, from: BorrowedFd<'_>, len: usize) -> std::io::Result<Taken> {
        debug_assert!(self.pipes.iter().all(|p| p.held == 0));
        let (mut left, mut i) = (len, 0);
        while left > 0 {
            // Out of pipes (too small, or none can be made): the rest goes to memory.
            if i == self.max_pipes || self.pipe(i).is_err() {
                return self.spill(from, len - left, left).map(Taken::Spilled);
            }
            let pipe = &mut self.pipes[i];
            match splice(
                from,
                None,
                &pipe.write,
                None,
                left,
                SpliceFlags::MOVE | SpliceFlags::NONBLOCK,
            ) {
                Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    pipe.held += n;
                    left -= n;
                }
                Err(Errno::AGAIN) => {
                    // The pipe is full (next pipe), or the stream has nothing yet (wait).
                    let mut fds = [
                        PollFd::new(&pipe.write, PollFlags::OUT),
                        PollFd::new(&from, PollFlags::IN),
                    ];
                    let zero = Timespec {
                        tv_sec: 0,
                        tv_nsec: 0,
                    };
                    rustix::event::poll(&mut fds[..1], Some(&zero))?;
                    if !fds[0].revents().contains(PollFlags::OUT) {
                        i += 1;
                    } else {
                        match rustix::event::poll(&mut fds[1..], None) {
                            Ok(_) | Err(Errno::INTR) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Taken::Held)
    }

    /// The pipes' `held` bytes and the stream's next `left` bytes, in memory.
    fn spill(
        &mut self,
        from: BorrowedFd<'_>,
        held: usize,
        left: usize,
    ) -> std::io::Result<Vec<u8>> {
        let mut data = vec![0u8; held + left];
        let mut at = 0;
        for p in &mut self.pipes {
            read_exact(p.read.as_fd(), &mut data[at..at + p.held])?;
            at += p.held;
            p.held = 0;
        }
        read_exact(from, &mut data[at..])?;
        Ok(data)
    }

    /// Writes what [`SpliceBuffer::take`] held to `file` at `offset`, after the `written`
    /// part already written; the first error or short write stops the writing (the rest
    /// is dropped). The pipes are empty afterwards. An `Err` is a pipe failure.
    pub fn write_to(
        &mut self,
        file: BorrowedFd<'_>,
        mut offset: u64,
        mut written: Written,
    ) -> std::io::Result<Written> {
        for p in &mut self.pipes {
            while p.held > 0 && written.error.is_none() {
                match splice(
                    &p.read,
                    None,
                    file,
                    Some(&mut offset),
                    p.held,
                    SpliceFlags::MOVE,
                ) {
                    Ok(0) => written.error = Some(Errno::IO),
                    Ok(n) => {
                        p.held -= n;
                        written.bytes += n;
                    }
                    Err(Errno::INTR) => {}
                    Err(e) => written.error = Some(e),
                }
            }
            if p.held > 0 {
                let mut drop_buf = vec![0u8; p.held.min(64 * 1024)];
                while p.held > 0 {
                    let n = p.held.min(drop_buf.len());
                    read_exact(p.read.as_fd(), &mut drop_buf[..n])?;
                    p.held -= n;
                }
            }
        }
        Ok(written)
    }
}

/// Fills `buf` from `fd` (a pipe or the connection's socket), retrying on EINTR.
fn read_exact(fd: BorrowedFd<'_>, mut buf: &mut [u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        match rustix::io::read(fd, &mut *buf) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => buf = &mut buf[n..],
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => {
                let mut fds = [PollFd::new(&fd, PollFlags::IN)];
                match rustix::event::poll(&mut fds, None) {
                    Ok(_) | Err(Errno::INTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// The file `f` in `dir` holding `content`, open read-only.
    fn read_only_file(
        dir: &tempfile::TempDir,
        content: &[u8],
    ) -> (std::path::PathBuf, std::fs::File) {
        let p = dir.path().join("f");
        std::fs::write(&p, content).unwrap();
        let f = std::fs::File::open(&p).unwrap();
        (p, f)
    }

    #[test]
    fn appends() {
        let dir = tempfile::tempdir().unwrap();
        let (_p, f) = read_only_file(&dir, b"hello world");
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
        let (_p, f) = read_only_file(&dir, b"0123456789");
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

    /// Sends `data` then "NEXT" on a socket, takes `data.len()` bytes with `buf` and
    /// writes them to `file` at `offset`; checks the stream is left at "NEXT".
    fn spliced(
        buf: &mut SpliceBuffer,
        data: &[u8],
        file: &std::fs::File,
        offset: u64,
    ) -> (bool, Written) {
        use std::io::Write;
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let rest = data.to_vec();
        let t = std::thread::spawn(move || {
            a.write_all(&rest).unwrap();
            a.write_all(b"NEXT").unwrap();
            a
        });
        let start = Written {
            bytes: 0,
            error: None,
        };
        let (held, w) = match buf.take(b.as_fd(), data.len()).unwrap() {
            Taken::Held => (true, buf.write_to(file.as_fd(), offset, start).unwrap()),
            Taken::Spilled(v) => {
                assert_eq!(v, data);
                let n = rustix::io::pwrite(file.as_fd(), &v, offset).unwrap();
                (
                    false,
                    Written {
                        bytes: n,
                        error: None,
                    },
                )
            }
        };
        let mut next = [0u8; 4];
        std::io::Read::read_exact(&mut &b, &mut next).unwrap();
        assert_eq!(&next, b"NEXT");
        drop(t.join().unwrap());
        (held, w)
    }

    fn rw_file(dir: &tempfile::TempDir) -> (std::path::PathBuf, std::fs::File) {
        let p = dir.path().join("f");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&p)
            .unwrap();
        (p, f)
    }

    #[test]
    fn splices_a_stream_into_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let (p, f) = rw_file(&dir);
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut buf = SpliceBuffer::default();
        let (held, w) = spliced(&mut buf, &data, &f, 5);
        assert!(held);
        assert_eq!(
            w,
            Written {
                bytes: data.len(),
                error: None
            }
        );
        let got = std::fs::read(&p).unwrap();
        assert_eq!(&got[..5], &[0u8; 5]);
        assert_eq!(&got[5..], &data[..]);
        // The pipes are empty and serve again.
        let (_, w) = spliced(&mut buf, &data[..200_000], &f, 0);
        assert_eq!(w.bytes, 200_000);
        assert_eq!(std::fs::read(&p).unwrap()[..200_000], data[..200_000]);
    }

    #[test]
    fn too_little_pipe_room_spills_to_memory() {
        let dir = tempfile::tempdir().unwrap();
        let (p, f) = rw_file(&dir);
        let data: Vec<u8> = (0..500_000u32).map(|i| (i % 13) as u8).collect();
        // Two pipes of one page: far too small.
        let mut buf = SpliceBuffer::with_limits(2, 4096);
        let (held, w) = spliced(&mut buf, &data, &f, 0);
        assert!(!held);
        assert_eq!(w.bytes, data.len());
        assert_eq!(std::fs::read(&p).unwrap(), data);
        // Still usable.
        let (_, w) = spliced(&mut buf, &data[..1000], &f, 0);
        assert_eq!(w.bytes, 1000);
    }

    #[test]
    fn a_file_error_drops_the_rest_and_empties_the_pipes() {
        let dir = tempfile::tempdir().unwrap();
        // Read-only: every write fails with EBADF.
        let (p, f) = read_only_file(&dir, b"x");
        let data = vec![7u8; 300_000];
        let mut buf = SpliceBuffer::default();
        let (_, w) = spliced(&mut buf, &data, &f, 0);
        assert_eq!(
            w,
            Written {
                bytes: 0,
                error: Some(Errno::BADF)
            }
        );
        assert_eq!(std::fs::read(&p).unwrap(), b"x");
        assert!(buf.pipes.iter().all(|p| p.held == 0));
    }

    #[test]
    fn a_stream_ending_early_writes_nothing() {
        use std::io::Write;
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.write_all(&[1u8; 1000]).unwrap();
        drop(a);
        let mut buf = SpliceBuffer::default();
        let e = buf.take(b.as_fd(), 5000).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    }
}
