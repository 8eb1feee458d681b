//! msize negotiation and the limits it sets: caps per transport, the floor, I/O at the
//! largest msize, and frames past it.

mod common;

use std::io::Read;

use common::*;
use p9_client::Client;
use p9_server::{DEFAULT_MSIZE_TCP, DEFAULT_MSIZE_UNIX, MIN_MSIZE};

#[test]
fn negotiation() {
    let h = Harness::new();
    let mut c = Client::new(h.connect_raw().0);
    assert_eq!(c.version(64 << 20).unwrap().0, DEFAULT_MSIZE_UNIX);
    assert_eq!(c.version(u32::MAX).unwrap().0, DEFAULT_MSIZE_UNIX);
    assert_eq!(c.version(8192).unwrap().0, 8192);
    assert_eq!(
        c.version(MIN_MSIZE).unwrap(),
        (MIN_MSIZE, b"9P2000.L".to_vec())
    );
    // Below the floor: refused, and nothing else is allowed until a good version.
    assert_eq!(c.version(MIN_MSIZE - 1).unwrap().1, b"unknown");
    assert_eq!(c.version(512).unwrap().1, b"unknown");
    assert_eq!(errno(c.attach(ROOT, 0)), Errno::PROTO);
    c.version(8192).unwrap();
    c.attach(ROOT, 0).unwrap();

    let mut tcp_like = Harness::new();
    tcp_like.cap = DEFAULT_MSIZE_TCP;
    let mut c = Client::new(tcp_like.connect_raw().0);
    assert_eq!(c.version(4 << 20).unwrap().0, 1 << 20);
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 4096) as u8).collect()
}

#[test]
fn io_at_the_largest_msize() {
    let h = Harness::new();
    let mut c = h.client_versioned(DEFAULT_MSIZE_UNIX);
    c.attach(ROOT, 0).unwrap();
    let max = max_io_count(DEFAULT_MSIZE_UNIX) as usize;
    let data = pattern(2 * max + 1000);
    c.walk(ROOT, 1, &[]).unwrap();
    c.lcreate(1, b"big", P9_DOTL_RDWR, 0o644, 0).unwrap();
    // A Twrite frame of exactly msize (its header is 23 bytes, IOHDRSZ is 24).
    assert_eq!(c.write(1, 0, &data[..max + 1]).unwrap() as usize, max + 1);
    assert_eq!(
        c.write(1, max as u64 + 1, &data[max + 1..2 * max]).unwrap() as usize,
        max - 1
    );
    c.write(1, 2 * max as u64, &data[2 * max..]).unwrap();
    assert_eq!(std::fs::read(h.path("big")).unwrap(), data);
    // Treads ask for more than fits: the server clamps to msize.
    let r = c.read(1, 0, u32::MAX).unwrap();
    assert_eq!(r.len(), max);
    assert_eq!(r, data[..max]);
    assert_eq!(c.read_all(1).unwrap(), data);
    // One byte more than msize: the connection closes.
    let mut f = Vec::new();
    let extra = pattern(max + 2);
    encode(
        9,
        &Tmessage::Write(Twrite {
            fid: 1,
            offset: 0,
            data: &extra,
        }),
        &mut f,
        u32::MAX,
    )
    .unwrap();
    assert_eq!(f.len() as u32, DEFAULT_MSIZE_UNIX + 1);
    c.send_raw(&f).unwrap_or(());
    let mut b = [0u8; 1];
    assert!(matches!(c.stream().read(&mut b), Ok(0) | Err(_)));
    assert_eq!(
        std::fs::read(h.path("big")).unwrap(),
        data,
        "nothing written"
    );
}

#[test]
fn small_msize_clamps_reads() {
    let h = Harness::new();
    std::fs::write(h.path("f"), pattern(100_000)).unwrap();
    let mut c = h.client_versioned(MIN_MSIZE);
    c.attach(ROOT, 0).unwrap();
    c.walk(ROOT, 1, &[b"f"]).unwrap();
    c.lopen(1, P9_DOTL_RDONLY).unwrap();
    assert_eq!(c.read(1, 0, 1 << 20).unwrap().len(), 4096);
    assert_eq!(c.read_all(1).unwrap(), pattern(100_000));
    // The longest symlink target still fits the smallest msize.
    let target = "t".repeat(4095);
    std::os::unix::fs::symlink(&target, h.path("long")).unwrap();
    c.walk(ROOT, 2, &[b"long"]).unwrap();
    assert_eq!(c.readlink(2).unwrap(), target.as_bytes());
}

#[test]
fn unversioned_frames_are_small() {
    let h = Harness::new();
    // A Tversion padded past 8 KiB: no version yet, so no large frames.
    let (s, server) = h.connect_raw();
    let mut c = Client::new(s);
    let long = vec![b'9'; 9000];
    c.send(
        NOTAG,
        &Tmessage::Version(Tversion {
            msize: 8192,
            version: &long,
        }),
    )
    .unwrap();
    let mut b = [0u8; 1];
    assert!(matches!(c.stream().read(&mut b), Ok(0) | Err(_)));
    assert!(server.join().unwrap().is_ok());
    // A long but reasonable version string is answered.
    let mut c = Client::new(h.connect_raw().0);
    assert_eq!(c.version_of(8192, &vec![b'9'; 4000]).unwrap().1, b"unknown");
    assert_eq!(c.version(8192).unwrap().1, b"9P2000.L");
}

#[test]
fn large_reads_of_write_only_fids_fail_cleanly() {
    let h = Harness::new();
    std::fs::write(h.path("f"), pattern(1 << 20)).unwrap();
    let mut c = h.client();
    c.walk(ROOT, 1, &[b"f"]).unwrap();
    c.lopen(1, P9_DOTL_WRONLY).unwrap();
    assert_eq!(errno(c.read(1, 0, 1 << 20)), Errno::BADF);
    assert_eq!(errno(c.read(1, 0, 10)), Errno::BADF);
    c.getattr(ROOT).unwrap();
}
