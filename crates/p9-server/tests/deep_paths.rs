//! Files further than `PATH_MAX` from the export root (legal for a client, which names
//! them relative to a directory it holds: pjdfstest's `*/03.t`) work on both backends:
//! each acts on the fids' fds (the proxy backend sends them to its helpers), never on a
//! whole path.

mod common;

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use common::*;
use rustix::fs::{AtFlags, Mode, OFlags};

/// 40 directories of 250-byte names: a path of 10,040 bytes.
const DEPTH: usize = 40;

fn name() -> Vec<u8> {
    vec![b'd'; 250]
}

/// The host's `O_PATH` fd of the bottom of the chain, opened one level at a time (the
/// host cannot resolve the whole path either).
fn host_bottom(h: &Harness) -> OwnedFd {
    let mut dir = rustix::fs::open(h.export(), OFlags::PATH, Mode::empty()).unwrap();
    for _ in 0..DEPTH {
        dir = rustix::fs::openat(&dir, name(), OFlags::PATH, Mode::empty()).unwrap();
    }
    dir
}

fn mode_at(dir: impl AsFd, name: &str) -> u32 {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .unwrap()
        .st_mode
}

fn deep_tree_past_path_max(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    let mut c = h.client();
    let n = name();
    // Fid 1 walks down as the chain is made, 16 names a walk at most.
    c.walk(ROOT, 1, &[]).unwrap();
    for _ in 0..DEPTH {
        c.mkdir(1, &n, 0o755, 0).unwrap();
        c.walk(1, 1, &[&n[..]]).unwrap();
    }
    // A fresh walk from the root to the bottom, in walks of 16 names.
    let mut left = DEPTH;
    c.walk(ROOT, 2, &[]).unwrap();
    while left > 0 {
        let k = left.min(16);
        c.walk(2, 2, &vec![&n[..]; k]).unwrap();
        left -= k;
    }
    // mkdir, create, chmod, rename, link, symlink, unlink at the bottom.
    c.mkdir(2, b"sub", 0o700, 0).unwrap();
    c.walk(2, 3, &[]).unwrap();
    c.lcreate(3, b"f", P9_DOTL_RDWR | P9_DOTL_CREATE, 0o644, 0)
        .unwrap();
    assert_eq!(c.write(3, 0, b"deep").unwrap(), 4);
    c.setattr(Setattr::of(3).mode(0o100600)).unwrap();
    c.renameat(2, b"f", 2, b"g").unwrap();
    c.walk(2, 4, &[b"g"]).unwrap();
    c.link(2, 4, b"h").unwrap();
    c.symlink(2, b"s", b"g", 0).unwrap();
    c.walk(2, 5, &[b"s"]).unwrap();
    assert_eq!(c.readlink(5).unwrap(), b"g");
    c.unlinkat(2, b"h", 0).unwrap();
    // `..` from the bottom (a lookup of a path past PATH_MAX) and back.
    c.walk(2, 6, &[b"..", &n[..], b"g"]).unwrap();
    c.lopen(6, P9_DOTL_RDONLY).unwrap();
    assert_eq!(c.read(6, 0, 10).unwrap(), b"deep");
    // The host sees it all where it should be.
    let bottom = host_bottom(&h);
    assert_eq!(mode_at(&bottom, "sub") & 0o170777, 0o040700);
    assert_eq!(mode_at(&bottom, "g") & 0o7777, 0o600);
    assert_eq!(mode_at(&bottom, "s") & 0o170000, 0o120000);
    assert!(rustix::fs::statat(&bottom, "f", AtFlags::SYMLINK_NOFOLLOW).is_err());
    assert!(rustix::fs::statat(&bottom, "h", AtFlags::SYMLINK_NOFOLLOW).is_err());
    let g = rustix::fs::openat(&bottom, "g", OFlags::RDONLY, Mode::empty()).unwrap();
    assert_eq!(rustix::fs::fstat(&g).unwrap().st_nlink, 1);
    let mut buf = [0u8; 8];
    assert_eq!(rustix::io::read(&g, &mut buf).unwrap(), 4);
    assert_eq!(std::fs::metadata(h.export()).unwrap().nlink(), 3);
    drop(c);
}

/// Past the fid path bound ([`p9_server::path::MAX_PATH`]): `ENAMETOOLONG`, the
/// connection goes on.
fn past_the_fid_path_bound(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    let mut c = h.client();
    let n = name();
    c.walk(ROOT, 1, &[]).unwrap();
    let mut depth = 0;
    let err = loop {
        c.mkdir(1, &n, 0o755, 0).unwrap();
        if let Err(e) = c.walk(1, 1, &[&n[..]]) {
            break e;
        }
        depth += 1;
        assert!(depth < 1000);
    };
    assert_eq!(err.errno(), Some(rustix::io::Errno::NAMETOOLONG));
    assert!(depth * 251 > 8 * 1024, "{depth}");
    c.walk(ROOT, 2, &[]).unwrap();
    c.getattr(2).unwrap();
}

over_both_backends!(deep_tree_past_path_max, past_the_fid_path_bound);
