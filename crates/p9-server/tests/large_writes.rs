//! Large Twrites (up to a whole msize, arriving over many reads): the bytes land
//! exactly, over Unix sockets and TCP, pipelined with other requests; every error is the
//! errno the same write gets when small, a full file system gives a short write and then
//! ENOSPC, and after any error or short write the connection is still in step.

mod common;

use std::net::{TcpListener, TcpStream};

use common::*;
use p9_client::Client;
use p9_server::{DEFAULT_MSIZE_TCP, DEFAULT_MSIZE_UNIX};

/// Bytes that differ at every offset of a large write.
fn pattern(n: usize, seed: u32) -> Vec<u8> {
    (0..n)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) ^ seed).to_le_bytes()[1])
        .collect()
}

/// Writes several large chunks (the first ones cross the splice threshold, the last is
/// a whole msize) and a small one, then checks the file and that a read still works.
fn writes_land_exactly<S: std::io::Read + std::io::Write>(
    c: &mut Client<S>,
    h: &Harness,
    msize: u32,
) {
    c.walk(ROOT, 1, &[]).unwrap();
    c.lcreate(1, b"big", P9_DOTL_RDWR, 0o644, 0).unwrap();
    let max = max_io_count(msize) as usize;
    let sizes = [128 * 1024, 128 * 1024 + 1, 300_001, max, 17];
    let mut want = Vec::new();
    for (i, n) in sizes.into_iter().enumerate() {
        let data = pattern(n, i as u32);
        assert_eq!(c.write(1, want.len() as u64, &data).unwrap() as usize, n);
        want.extend_from_slice(&data);
    }
    // A write at an offset past the end leaves a hole of zeros.
    let tail = pattern(200_000, 99);
    let at = want.len() + 4096;
    assert_eq!(c.write(1, at as u64, &tail).unwrap() as usize, tail.len());
    want.resize(at, 0);
    want.extend_from_slice(&tail);
    assert_eq!(std::fs::read(h.path("big")).unwrap(), want);
    assert_eq!(c.read(1, 5, 10).unwrap(), want[5..15]);
    c.clunk(1).unwrap();
}

#[test]
fn large_writes_over_a_unix_socket() {
    let h = Harness::new();
    let mut c = h.client_versioned(DEFAULT_MSIZE_UNIX);
    c.attach(ROOT, 0).unwrap();
    writes_land_exactly(&mut c, &h, DEFAULT_MSIZE_UNIX);
}

#[test]
fn large_writes_over_tcp() {
    let h = Harness::new();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = std::sync::Arc::clone(&h.server);
    let t = std::thread::spawn(move || {
        let (s, _) = l.accept().unwrap();
        server.serve(&s, &s, DEFAULT_MSIZE_TCP)
    });
    let mut c = Client::new(TcpStream::connect(addr).unwrap());
    assert_eq!(c.version(DEFAULT_MSIZE_TCP).unwrap().0, DEFAULT_MSIZE_TCP);
    c.attach(ROOT, 0).unwrap();
    writes_land_exactly(&mut c, &h, DEFAULT_MSIZE_TCP);
    drop(c);
    t.join().unwrap().unwrap();
}

#[test]
fn pipelined_behind_and_ahead_of_other_requests() {
    let h = Harness::new();
    let mut c = h.client_versioned(DEFAULT_MSIZE_UNIX);
    c.attach(ROOT, 0).unwrap();
    c.walk(ROOT, 1, &[]).unwrap();
    c.lcreate(1, b"f", P9_DOTL_RDWR, 0o644, 0).unwrap();
    let data = pattern(1 << 20, 5);
    // One send: a getattr, a large write, a read of what it wrote, a clunk.
    let mut frames = Vec::new();
    encode(
        10,
        &Tmessage::Getattr(Tgetattr {
            fid: 1,
            request_mask: P9_GETATTR_BASIC,
        }),
        &mut frames,
        u32::MAX,
    )
    .unwrap();
    encode(
        11,
        &Tmessage::Write(Twrite {
            fid: 1,
            offset: 3,
            data: &data,
        }),
        &mut frames,
        u32::MAX,
    )
    .unwrap();
    encode(
        12,
        &Tmessage::Read(Tread {
            fid: 1,
            offset: 1000,
            count: 16,
        }),
        &mut frames,
        u32::MAX,
    )
    .unwrap();
    encode(
        13,
        &Tmessage::Clunk(Tclunk { fid: 1 }),
        &mut frames,
        u32::MAX,
    )
    .unwrap();
    c.send_raw(&frames).unwrap();
    let tags: Vec<u16> = (0..4).map(|_| c.recv().unwrap().tag()).collect();
    assert_eq!(tags, [10, 11, 12, 13]);
    let mut want = vec![0u8; 3];
    want.extend_from_slice(&data);
    assert_eq!(std::fs::read(h.path("f")).unwrap(), want);
}

/// Large and small writes to the same kind of fid get the same answer.
#[test]
fn errors_are_those_of_a_small_write() {
    let h = Harness::new();
    std::fs::write(h.path("ro"), b"read only").unwrap();
    std::fs::create_dir(h.path("d")).unwrap();
    let mut c = h.client_versioned(DEFAULT_MSIZE_UNIX);
    c.attach(ROOT, 0).unwrap();
    c.walk(ROOT, 1, &[b"ro"]).unwrap();
    c.lopen(1, P9_DOTL_RDONLY).unwrap();
    c.walk(ROOT, 2, &[b"d"]).unwrap();
    c.lopen(2, P9_DOTL_RDONLY).unwrap();
    c.walk(ROOT, 3, &[b"ro"]).unwrap(); // walked, never opened
    let big = pattern(1 << 20, 1);
    for fid in [1, 2, 3, 77] {
        let small = errno(c.write(fid, 0, b"x"));
        assert_eq!(errno(c.write(fid, 0, &big)), small, "fid {fid}");
        // Still in step.
        c.getattr(ROOT).unwrap();
    }
    assert_eq!(std::fs::read(h.path("ro")).unwrap(), b"read only");
}

#[test]
fn append_mode_appends() {
    let h = Harness::new();
    std::fs::write(h.path("log"), b"start:").unwrap();
    let mut c = h.client_versioned(DEFAULT_MSIZE_UNIX);
    c.attach(ROOT, 0).unwrap();
    c.walk(ROOT, 1, &[b"log"]).unwrap();
    c.lopen(1, P9_DOTL_WRONLY | P9_DOTL_APPEND).unwrap();
    let data = pattern(700_000, 3);
    assert_eq!(c.write(1, 0, &data).unwrap() as usize, data.len());
    let mut want = b"start:".to_vec();
    want.extend_from_slice(&data);
    assert_eq!(std::fs::read(h.path("log")).unwrap(), want);
}

/// A file system that fills up mid-write: the reply counts what was written (or is
/// ENOSPC when nothing was), the file holds exactly that, and the connection goes on.
#[test]
fn a_full_file_system_gives_a_short_write_then_enospc() {
    require_root!();
    let h = Harness::new();
    let small = h.path("small");
    std::fs::create_dir(&small).unwrap();
    let ok = std::process::Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=1m",
            "p9test",
            small.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(ok.success());
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(small.clone());
    let mut c = h.client_versioned(DEFAULT_MSIZE_UNIX);
    c.attach(ROOT, 0).unwrap();
    c.walk(ROOT, 1, &[b"small"]).unwrap();
    c.lcreate(1, b"f", P9_DOTL_RDWR, 0o644, 0).unwrap();
    let data = pattern(3 << 20, 7);
    let n = c.write(1, 0, &data).unwrap() as usize;
    assert!(n > 0 && n < data.len(), "short write expected, got {n}");
    assert_eq!(std::fs::read(small.join("f")).unwrap(), data[..n]);
    // Nothing fits any more.
    assert_eq!(errno(c.write(1, n as u64, &data)), Errno::NOSPC);
    c.getattr(1).unwrap();
    assert_eq!(c.read(1, 0, 8).unwrap(), data[..8]);
}
