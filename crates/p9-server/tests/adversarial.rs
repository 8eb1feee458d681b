//! Hostile clients: names and walks that try to leave the export, symlinks pointing
//! out of it (also swapped in by a racing rename), special files, malformed frames,
//! fid reuse and exhaustion. Each either gets an error or loses its own connection;
//! the export never leaks and other connections keep working.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;
use p9_client::Client;
use p9_server::ServerConfig;

/// A secret outside the export: `outdir/inside` and `secret`.
fn plant_secrets(h: &Harness) {
    std::fs::create_dir(h.outside().join("outdir")).unwrap();
    std::fs::write(h.outside().join("outdir/inside"), b"SECRET").unwrap();
    std::fs::write(h.outside().join("secret"), b"SECRET").unwrap();
}

/// The xattr name list of `path` on the host.
fn xattr_names(path: &std::path::Path) -> Vec<u8> {
    let mut names = vec![0u8; 4096];
    let n = rustix::fs::listxattr(path, &mut names[..]).unwrap();
    names.truncate(n);
    names
}

/// Every operation that takes a name refuses every hostile name of the table
/// ([`hostile_names`]) with EINVAL and changes nothing, inside the export or out of it,
/// over either backend.
fn bad_names_are_refused(kind: Kind) {
    let h = Harness::over(kind, ServerConfig::default());
    plant_secrets(&h);
    std::fs::create_dir(h.path("d")).unwrap();
    std::fs::write(h.path("f"), b"f").unwrap();
    let mut c = h.client();
    c.walk(ROOT, 2, &[b"f"]).unwrap();
    let xattrs_before = xattr_names(&h.path("f"));
    for bad in hostile_names(h.outside()) {
        let bad = &bad[..];
        if bad != b"." && bad != b".." {
            assert_eq!(errno(c.walk(ROOT, 1, &[bad])), Errno::INVAL, "walk {bad:?}");
            // Later in a walk: a partial walk.
            assert_eq!(c.walk(ROOT, 1, &[b"d", bad]).unwrap().len(), 1, "{bad:?}");
        }
        c.walk(ROOT, 3, &[]).unwrap();
        let refused: [(&str, Result<(), _>); 10] = [
            (
                "lcreate",
                c.lcreate(3, bad, P9_DOTL_RDWR, 0o644, 0).map(drop),
            ),
            ("mkdir", c.mkdir(ROOT, bad, 0o755, 0).map(drop)),
            ("symlink", c.symlink(ROOT, bad, b"x", 0).map(drop)),
            (
                "mknod",
                c.mknod(ROOT, bad, libc::S_IFIFO | 0o600, 0, 0, 0).map(drop),
            ),
            ("link", c.link(ROOT, 2, bad)),
            ("rename", c.rename(2, ROOT, bad)),
            ("renameat to", c.renameat(ROOT, b"d", ROOT, bad)),
            ("renameat from", c.renameat(ROOT, bad, ROOT, b"e")),
            ("unlinkat", c.unlinkat(ROOT, bad, 0)),
            ("unlinkat dir", c.unlinkat(ROOT, bad, P9_DOTL_AT_REMOVEDIR)),
        ];
        for (op, r) in refused {
            assert_eq!(errno(r), Errno::INVAL, "{op} {bad:?}");
        }
        c.clunk(3).unwrap();
        if bad.contains(&0) {
            assert_eq!(
                errno(c.xattrwalk(2, 4, bad)),
                Errno::INVAL,
                "xattrwalk {bad:?}"
            );
        }
        if bad.contains(&0) || bad.is_empty() {
            c.walk(2, 4, &[]).unwrap();
            let r = c.xattrcreate(4, bad, 1, 0);
            assert_eq!(errno(r), Errno::INVAL, "xattrcreate {bad:?}");
            c.clunk(4).unwrap();
        }
    }
    // No attribute was made either: the name lists are as they were.
    assert_eq!(xattr_names(&h.path("f")), xattrs_before);
    c.walk(2, 4, &[]).unwrap();
    assert_eq!(c.xattrwalk(4, 5, b"").unwrap(), xattrs_before.len() as u64);
    c.clunk(5).unwrap();
    c.clunk(4).unwrap();
    assert_eq!(errno(c.getattr(1)), Errno::BADF);
    // Nothing changed, inside or outside.
    let mut inside: Vec<_> = std::fs::read_dir(h.export())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    inside.sort();
    assert_eq!(inside, ["d", "f"]);
    assert!(h.path("d").is_dir());
    assert_eq!(std::fs::read(h.path("f")).unwrap(), b"f");
    assert_eq!(
        std::fs::read(h.outside().join("outdir/inside")).unwrap(),
        b"SECRET"
    );
    assert_eq!(
        std::fs::read(h.outside().join("secret")).unwrap(),
        b"SECRET"
    );
    // A walk of `.` stays where it is (diod's tools send it), in directories only.
    let root = c.getattr(ROOT).unwrap().qid;
    assert_eq!(c.walk(ROOT, 1, &[b".", b".", b"."]).unwrap(), [root; 3]);
    assert_eq!(c.walk(ROOT, 4, &[b"f", b"."]).unwrap().len(), 1);
}

over_both_backends!(bad_names_are_refused);

#[test]
fn dotdot_stays_inside() {
    let h = Harness::new();
    plant_secrets(&h);
    std::fs::create_dir(h.path("d")).unwrap();
    let root_ino = std::fs::metadata(h.export()).unwrap().ino();
    let mut c = h.client();
    let up = [&b".."[..]; 16];
    for q in c.walk(ROOT, 1, &up).unwrap() {
        assert_eq!(q.path, root_ino);
    }
    // From the top, `..` then a name of the export's parent: not found inside.
    assert_eq!(c.walk(ROOT, 2, &[b"..", b"secret"]).unwrap().len(), 1);
    assert_eq!(
        c.walk(ROOT, 2, &[b"d", b"..", b"..", b"outdir"])
            .unwrap()
            .len(),
        3
    );
    assert_eq!(errno(c.getattr(2)), Errno::BADF);
}

#[test]
fn symlinks_out_are_never_followed() {
    let h = Harness::new();
    plant_secrets(&h);
    let outdir = h.outside().join("outdir");
    std::os::unix::fs::symlink(&outdir, h.path("abs")).unwrap();
    std::os::unix::fs::symlink("../outdir", h.path("rel")).unwrap();
    std::os::unix::fs::symlink(h.outside().join("secret"), h.path("file")).unwrap();
    std::os::unix::fs::symlink("/", h.path("slash")).unwrap();
    let secret = h.outside().join("secret");
    let before = std::fs::metadata(&secret).unwrap();
    let mut c = h.client();
    for link in [&b"abs"[..], b"rel", b"slash"] {
        let q = c.walk(ROOT, 1, &[link]).unwrap();
        assert_eq!(q[0].ty, QTSYMLINK);
        // Not a directory to walk, create or open in.
        assert_eq!(c.walk(ROOT, 2, &[link, b"inside"]).unwrap().len(), 1);
        assert_eq!(errno(c.lopen(1, P9_DOTL_RDONLY)), Errno::LOOP);
        assert_eq!(
            errno(c.lopen(1, P9_DOTL_RDONLY | P9_DOTL_DIRECTORY)),
            Errno::LOOP
        );
        assert_eq!(errno(c.mkdir(1, b"x", 0o755, 0)), Errno::NOTDIR);
        assert_eq!(
            errno(c.lcreate(1, b"x", P9_DOTL_RDWR, 0o644, 0)),
            Errno::NOTDIR
        );
        c.clunk(1).unwrap();
    }
    c.walk(ROOT, 1, &[b"file"]).unwrap();
    assert_eq!(errno(c.lopen(1, P9_DOTL_RDWR)), Errno::LOOP);
    // Creating over the symlink's name opens nothing through it.
    c.walk(ROOT, 3, &[]).unwrap();
    assert_eq!(
        errno(c.lcreate(3, b"file", P9_DOTL_RDWR, 0o644, 0)),
        Errno::LOOP
    );
    assert_eq!(
        errno(c.lcreate(3, b"file", P9_DOTL_RDWR | P9_DOTL_EXCL, 0o644, 0)),
        Errno::EXIST
    );
    // Truncate, chmod, times and xattrs of the symlink act on the link, not the target.
    let t = Setattr::of(1);
    assert_eq!(errno(c.setattr(t.size(0))), Errno::INVAL);
    c.setattr(t.mode(0o777)).unwrap_err();
    c.setattr(t.mtime(1, 0)).unwrap();
    assert_eq!(errno(c.xattrwalk(1, 4, b"user.x")), Errno::NODATA);
    c.walk(1, 5, &[]).unwrap();
    c.xattrcreate(5, b"user.x", 1, 0).unwrap();
    c.write(5, 0, b"x").unwrap();
    assert_eq!(errno(c.clunk(5)), Errno::PERM);
    // A hard link of the symlink is a symlink.
    c.link(ROOT, 1, b"file2").unwrap();
    assert!(std::fs::symlink_metadata(h.path("file2"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read(&secret).unwrap(), b"SECRET");
    let m = std::fs::metadata(&secret).unwrap();
    assert_eq!(
        (m.mtime(), m.mode(), m.nlink()),
        (before.mtime(), before.mode(), 1)
    );
}

#[test]
fn rename_race_cannot_escape() {
    let h = Harness::new();
    plant_secrets(&h);
    std::fs::create_dir_all(h.path("d/sub")).unwrap();
    std::fs::write(h.path("d/inside"), b"inside").unwrap();
    std::os::unix::fs::symlink(h.outside().join("outdir"), h.path("link")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, export) = (Arc::clone(&stop), h.export());
        std::thread::spawn(move || {
            let dir =
                rustix::fs::open(&export, rustix::fs::OFlags::PATH, rustix::fs::Mode::empty())
                    .unwrap();
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // `d` and `link` trade places atomically, over and over.
                rustix::fs::renameat_with(
                    &dir,
                    "d",
                    &dir,
                    "link",
                    rustix::fs::RenameFlags::EXCHANGE,
                )
                .unwrap();
                swaps += 1;
            }
            swaps
        })
    };
    let mut c = h.client();
    c.walk(ROOT, 1, &[b"d", b"sub"]).unwrap();
    let mut opened = 0;
    for i in 0..3000u32 {
        let fid = 100;
        match c.walk(ROOT, fid, &[b"d", b"inside"]) {
            Ok(q) if q.len() == 2 => {
                if c.lopen(fid, P9_DOTL_RDONLY).is_ok() {
                    assert_eq!(c.read(fid, 0, 64).unwrap(), b"inside", "iteration {i}");
                    opened += 1;
                }
                c.clunk(fid).unwrap();
            }
            _ => {}
        }
        // `..` from inside the swapped directory: the path, looked up without following.
        if let Ok(q) = c.walk(1, fid, &[b"..", b"inside"]) {
            if q.len() == 2 {
                c.lopen(fid, P9_DOTL_RDONLY).unwrap();
                assert_eq!(c.read(fid, 0, 64).unwrap(), b"inside", "iteration {i}");
                c.clunk(fid).unwrap();
            }
        }
        // Creations beneath it land inside (or fail), never in outdir.
        let _ = c.walk(ROOT, fid, &[b"d"]).and_then(|q| {
            if q.len() == 1 && q[0].ty == QTDIR {
                let _ = c.mkdir(fid, b"made", 0o755, 0);
            }
            c.clunk(fid)
        });
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    eprintln!("opened {opened} of 3000 under {swaps} swaps");
    assert!(!h.outside().join("outdir/made").exists());
    assert_eq!(
        std::fs::read_dir(h.outside().join("outdir"))
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn special_files_are_never_opened() {
    let h = Harness::new();
    make_fifo(&h.path("fifo"));
    let mut names = vec![&b"fifo"[..]];
    if is_root() {
        for (n, dev) in [("null", libc::makedev(1, 3)), ("zero", libc::makedev(1, 5))] {
            rustix::fs::mknodat(
                rustix::fs::CWD,
                h.path(n),
                rustix::fs::FileType::CharacterDevice,
                rustix::fs::Mode::from_raw_mode(0o666),
                dev,
            )
            .unwrap();
        }
        names.extend([&b"null"[..], b"zero"]);
    } else {
        eprintln!("device nodes: SKIPPED (needs root)");
    }
    let mut c = h.client();
    for n in names {
        c.walk(ROOT, 1, &[n]).unwrap();
        for flags in [
            P9_DOTL_RDONLY,
            P9_DOTL_WRONLY,
            P9_DOTL_RDWR,
            P9_DOTL_RDONLY | P9_DOTL_NONBLOCK,
        ] {
            assert_eq!(errno(c.lopen(1, flags)), Errno::NXIO, "{n:?}");
        }
        c.walk(ROOT, 2, &[]).unwrap();
        assert_eq!(
            errno(c.lcreate(2, n, P9_DOTL_WRONLY, 0o644, 0)),
            Errno::NXIO,
            "{n:?}"
        );
        assert_eq!(errno(c.xattrwalk(1, 3, b"user.x")), Errno::NODATA);
        assert_eq!(c.xattrwalk(1, 3, b"").unwrap(), 0);
        c.clunk(3).unwrap();
        c.clunk(1).unwrap();
        c.clunk(2).unwrap();
    }
}

/// Sends `bytes` on a fresh connection and says whether the server closed it without
/// answering; a second connection must work afterwards either way.
fn closes(h: &Harness, bytes: &[u8]) -> bool {
    let mut other = h.client();
    let mut c = h.client_versioned(8192);
    c.send_raw(bytes).unwrap();
    let mut b = [0u8; 1];
    let closed = matches!(c.stream().read(&mut b), Ok(0));
    other.getattr(ROOT).unwrap();
    h.client().getattr(ROOT).unwrap();
    closed
}

/// Sends `bytes` and returns the errno of the Rlerror answering tag 5, checking the
/// connection still works after it.
fn rlerror(h: &Harness, bytes: &[u8]) -> u32 {
    let mut c = h.client();
    c.send_raw(bytes).unwrap();
    let r = c.recv().unwrap();
    assert_eq!(r.tag(), 5);
    let e = match r.decode().unwrap().1 {
        Rmessage::Lerror(e) => e.ecode,
        m => panic!("not an Rlerror: {m:?}"),
    };
    c.getattr(ROOT).unwrap();
    e
}

fn frame(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut f = ((7 + body.len()) as u32).to_le_bytes().to_vec();
    f.push(ty);
    f.extend_from_slice(&5u16.to_le_bytes());
    f.extend_from_slice(body);
    f
}

#[test]
fn malformed_frames() {
    let h = Harness::new();
    // Sizes that cannot delimit a frame: the connection goes.
    assert!(closes(&h, &[0, 0, 0, 0, P9_TCLUNK, 5, 0]));
    assert!(closes(&h, &[6, 0, 0, 0, P9_TCLUNK, 5, 0]));
    // Larger than msize (8192 here).
    let mut big = 8193u32.to_le_bytes().to_vec();
    big.extend_from_slice(&[P9_TWRITE, 5, 0]);
    assert!(closes(&h, &big));
    let mut huge = u32::MAX.to_le_bytes().to_vec();
    huge.extend_from_slice(&[P9_TWRITE, 5, 0]);
    assert!(closes(&h, &huge));

    let einval = libc::EINVAL as u32;
    // A string longer than its frame.
    let mut walk = Vec::new();
    walk.extend_from_slice(&0u32.to_le_bytes());
    walk.extend_from_slice(&1u32.to_le_bytes());
    walk.extend_from_slice(&1u16.to_le_bytes());
    walk.extend_from_slice(&100u16.to_le_bytes());
    walk.extend_from_slice(b"abc");
    assert_eq!(rlerror(&h, &frame(P9_TWALK, &walk)), einval);
    // 17 walk names.
    let mut walk = Vec::new();
    walk.extend_from_slice(&0u32.to_le_bytes());
    walk.extend_from_slice(&1u32.to_le_bytes());
    walk.extend_from_slice(&17u16.to_le_bytes());
    for _ in 0..17 {
        walk.extend_from_slice(&1u16.to_le_bytes());
        walk.push(b'a');
    }
    assert_eq!(rlerror(&h, &frame(P9_TWALK, &walk)), einval);
    // Fields missing; trailing bytes.
    assert_eq!(rlerror(&h, &frame(P9_TCLUNK, &[1, 0])), einval);
    assert_eq!(rlerror(&h, &frame(P9_TCLUNK, &[0, 0, 0, 0, 9])), einval);
    // A Twrite whose count exceeds its data.
    let mut w = Vec::new();
    w.extend_from_slice(&0u32.to_le_bytes());
    w.extend_from_slice(&0u64.to_le_bytes());
    w.extend_from_slice(&1000u32.to_le_bytes());
    w.extend_from_slice(b"short");
    assert_eq!(rlerror(&h, &frame(P9_TWRITE, &w)), einval);
    // Unknown types.
    assert_eq!(rlerror(&h, &frame(200, &[])), libc::EOPNOTSUPP as u32);
    assert_eq!(
        rlerror(&h, &frame(P9_TSTAT, &[0, 0, 0, 0])),
        libc::EOPNOTSUPP as u32
    );
}

#[test]
fn frames_in_pieces_and_cut_short() {
    let h = Harness::new();
    let mut c = h.client();
    let mut f = Vec::new();
    encode(
        3,
        &Tmessage::Getattr(Tgetattr {
            fid: ROOT,
            request_mask: P9_GETATTR_ALL,
        }),
        &mut f,
        8192,
    )
    .unwrap();
    for b in &f {
        c.stream().write_all(std::slice::from_ref(b)).unwrap();
    }
    assert_eq!(c.recv().unwrap().tag(), 3);
    // A client that leaves mid-frame ends only its own connection.
    let (mut s, server) = h.connect_raw();
    let mut v = Vec::new();
    encode(
        NOTAG,
        &Tmessage::Version(Tversion {
            msize: 8192,
            version: VERSION_9P2000_L,
        }),
        &mut v,
        8192,
    )
    .unwrap();
    s.write_all(&v[..v.len() - 2]).unwrap();
    drop(s);
    assert!(server.join().unwrap().is_ok());
    c.getattr(ROOT).unwrap();
}

#[test]
fn fid_reuse() {
    let h = Harness::new();
    std::fs::write(h.path("f"), b"").unwrap();
    let mut c = h.client();
    c.walk(ROOT, 1, &[b"f"]).unwrap();
    assert_eq!(errno(c.attach(1, 0)), Errno::EXIST);
    assert_eq!(errno(c.walk(ROOT, 1, &[])), Errno::EXIST);
    assert_eq!(errno(c.xattrwalk(ROOT, 1, b"")), Errno::EXIST);
    assert_eq!(c.getattr(1).unwrap().size, 0, "fid 1 intact");
    assert_eq!(errno(c.walk(ROOT, NOFID, &[])), Errno::BADF);
    assert_eq!(errno(c.attach(NOFID, 0)), Errno::BADF);
    assert_eq!(errno(c.walk(77, 2, &[])), Errno::BADF);
    c.lopen(1, P9_DOTL_RDONLY).unwrap();
    assert_eq!(errno(c.lopen(1, P9_DOTL_RDONLY)), Errno::BADF);
    assert_eq!(
        errno(c.lcreate(1, b"g", P9_DOTL_RDWR, 0o644, 0)),
        Errno::BADF
    );
}

#[test]
fn too_many_fids() {
    let h = Harness::with_config(ServerConfig {
        max_fids: 8,
        ..ServerConfig::default()
    });
    let mut c = h.client();
    for fid in 1..8 {
        c.walk(ROOT, fid, &[]).unwrap();
    }
    assert_eq!(errno(c.walk(ROOT, 8, &[])), Errno::MFILE);
    assert_eq!(errno(c.attach(8, 0)), Errno::MFILE);
    assert_eq!(errno(c.xattrwalk(ROOT, 8, b"")), Errno::MFILE);
    // Replacing a fid in place needs no new one.
    c.walk(1, 1, &[]).unwrap();
    c.clunk(7).unwrap();
    c.walk(ROOT, 8, &[]).unwrap();
    // The limit is per connection.
    let mut other = h.client();
    for fid in 1..8 {
        other.walk(ROOT, fid, &[]).unwrap();
    }
}

#[test]
fn garbage_does_not_hurt_other_connections() {
    let h = Harness::new();
    let mut good = h.client();
    // Deterministic pseudo-random bytes on many connections.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..50 {
        let (mut s, server) = h.connect_raw();
        let mut bytes = Vec::new();
        // A valid Tversion first, then noise.
        encode(
            NOTAG,
            &Tmessage::Version(Tversion {
                msize: 8192,
                version: VERSION_9P2000_L,
            }),
            &mut bytes,
            8192,
        )
        .unwrap();
        for _ in 0..512 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            bytes.push(x as u8);
        }
        let _ = s.write_all(&bytes);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
        drop(s);
        server.join().unwrap().ok();
        good.getattr(ROOT).unwrap();
    }
    let _ = Client::new(h.connect_raw().0);
}
