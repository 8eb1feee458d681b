//! Escape attempts through the protocol: `..`, absolute paths, symlinks (relative and
//! absolute, in the middle and at the end of a path), and a symlink swapped in by a
//! rename race. None may read, create or change anything outside the export.

mod common;

use std::os::unix::fs::{symlink, MetadataExt};
use std::path::Path;

use common::*;
use proxy_protocol::Request;

/// An export inside a sandbox dir, with a "secret" beside it that must stay untouched.
fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let sandbox = tempfile::tempdir().unwrap();
    let export = sandbox.path().join("export");
    std::fs::create_dir(&export).unwrap();
    std::fs::write(sandbox.path().join("secret"), b"outside").unwrap();
    std::fs::create_dir(sandbox.path().join("outdir")).unwrap();
    symlink("/etc", export.join("etclink")).unwrap();
    symlink("../secret", export.join("up")).unwrap();
    symlink(sandbox.path().join("outdir"), export.join("abs_outdir")).unwrap();
    symlink("../../../../../../../../", export.join("deep_up")).unwrap();
    (sandbox, export)
}

#[test]
fn dotdot_absolute_and_symlinks_stay_inside() {
    require_root!();
    let (sandbox, export) = setup();
    let mut h = Helper::start(&export, false);
    // Reading outside: every one of these names a path outside the export if followed
    // naively; inside the export none of them exists.
    for p in [
        &b"/../secret"[..],
        b"../secret",
        b"//../../secret",
        b"/etclink/passwd",
        b"/deep_up/etc/passwd",
        b"/up",
        b"/abs_outdir/../secret",
    ] {
        let r = h.call_fd(&Request::Open {
            path: p,
            flags: libc::O_RDONLY,
        });
        assert!(
            r.is_err(),
            "open {:?} must fail, got an fd",
            String::from_utf8_lossy(p)
        );
        let r = h.call(&Request::Lstat { path: p });
        if let Ok(st) = r {
            // Only the symlinks themselves may be lstat'ed.
            assert_eq!(
                st.stat().mode & libc::S_IFMT,
                libc::S_IFLNK,
                "{:?}",
                String::from_utf8_lossy(p)
            );
        }
    }
    // `/..` is the export root itself.
    let root = h.call(&Request::Lstat { path: b"/.." }).unwrap().stat();
    assert_eq!(root.ino, std::fs::metadata(&export).unwrap().ino());
    // Writing outside: creations through escaping names land inside or fail.
    let _ = h.call(&Request::Mkdir {
        uid: 0,
        gid: 0,
        path: b"/../escaped_dir",
        mode: 0o755,
    });
    let _ = h.call_fd(&Request::Create {
        path: b"/abs_outdir/evil",
        flags: libc::O_RDWR,
        mode: 0o644,
        uid: 0,
        gid: 0,
    });
    let _ = h.call_fd(&Request::Create {
        path: b"/up",
        flags: libc::O_RDWR,
        mode: 0o644,
        uid: 0,
        gid: 0,
    });
    let _ = h.call(&Request::Symlink {
        uid: 0,
        gid: 0,
        target: b"x",
        path: b"/deep_up/tmp/evil_link",
    });
    let _ = h.call(&Request::Chmod {
        path: b"/up",
        mode: 0o777,
    });
    let _ = h.call(&Request::Chown {
        path: b"/abs_outdir",
        uid: 4321,
        gid: 4321,
    });
    let _ = h.call(&Request::Truncate {
        path: b"/up",
        size: 0,
    });
    let _ = h.call(&Request::Rename {
        oldpath: b"/etclink",
        newpath: b"/../moved",
    });
    let _ = h.call(&Request::Link {
        oldpath: b"/../secret",
        newpath: b"/hardlinked",
    });
    let _ = h.call(&Request::Lsetxattr {
        path: b"/abs_outdir/",
        name: b"user.x",
        value: b"1",
        size: 1,
        flags: 0,
    });
    let _ = h.call(&Request::Remove {
        path: b"/../secret",
    });
    let (code, err) = h.finish();
    assert_eq!(code, Some(0), "{err}");
    // Outside is untouched.
    assert_eq!(
        std::fs::read(sandbox.path().join("secret")).unwrap(),
        b"outside"
    );
    let secret = std::fs::metadata(sandbox.path().join("secret")).unwrap();
    assert_ne!(secret.mode() & 0o777, 0o777);
    assert_eq!(
        std::fs::read_dir(sandbox.path().join("outdir"))
            .unwrap()
            .count(),
        0
    );
    assert_ne!(
        std::fs::metadata(sandbox.path().join("outdir"))
            .unwrap()
            .uid(),
        4321
    );
    let names: Vec<_> = std::fs::read_dir(sandbox.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 3, "nothing new beside the export: {names:?}");
    assert!(!Path::new("/tmp/evil_link").exists());
    assert!(std::fs::symlink_metadata("/moved").is_err());
    // What was created went inside.
    assert!(export.join("escaped_dir").is_dir());
}

#[test]
fn unprivileged_helper_is_confined_too() {
    // Without root there is no chroot: confinement rests on openat2 alone.
    require_root!(); // to make the export readable by nobody and run setpriv
    let (sandbox, export) = setup();
    std::fs::set_permissions(
        sandbox.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&export, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let mut h = Helper::start(&export, true);
    for p in [
        &b"/../secret"[..],
        b"/up",
        b"/deep_up/etc/passwd",
        b"/abs_outdir/../secret",
    ] {
        assert!(h
            .call_fd(&Request::Open {
                path: p,
                flags: libc::O_RDONLY
            })
            .is_err());
    }
    // /etc/passwd is world-readable: reachable only if the symlink escaped.
    assert_eq!(
        h.call_fd(&Request::Open {
            path: b"/etclink/passwd",
            flags: 0
        })
        .unwrap_err(),
        ENOENT
    );
    let _ = h.call(&Request::Mkdir {
        uid: 0,
        gid: 0,
        path: b"/deep_up/tmp/escaped",
        mode: 0o777,
    });
    let (code, err) = h.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(!Path::new("/tmp/escaped").exists());
}

#[test]
fn rename_race_never_escapes() {
    require_root!();
    let (sandbox, export) = setup();
    let outdir = sandbox.path().join("outdir");
    std::fs::create_dir(export.join("real")).unwrap();
    symlink(&outdir, export.join("bad")).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let (export, stop) = (export.clone(), stop.clone());
        std::thread::spawn(move || {
            // Swap "swap" between a real directory and a symlink pointing outside.
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::rename(export.join("real"), export.join("swap"));
                let _ = std::fs::rename(export.join("swap"), export.join("real"));
                let _ = std::fs::rename(export.join("bad"), export.join("swap"));
                let _ = std::fs::rename(export.join("swap"), export.join("bad"));
                n += 1;
            }
            n
        })
    };
    let mut h = Helper::start(&export, false);
    for i in 0..3000 {
        let name = format!("/swap/f{i}");
        if let Ok(fd) = h.call_fd(&Request::Create {
            path: name.as_bytes(),
            flags: libc::O_RDWR | libc::O_EXCL,
            mode: 0o644,
            uid: 0,
            gid: 0,
        }) {
            drop(fd);
        }
        let _ = h.call(&Request::Mkdir {
            uid: 0,
            gid: 0,
            path: format!("/swap/d{i}").as_bytes(),
            mode: 0o755,
        });
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    let (code, err) = h.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(swaps > 10, "the race ran ({swaps} swaps)");
    let leaked: Vec<_> = std::fs::read_dir(&outdir).unwrap().collect();
    assert!(
        leaked.is_empty(),
        "{} entries escaped into the outside dir",
        leaked.len()
    );
}

#[test]
fn special_files_are_never_opened() {
    require_root!();
    let (_sandbox, export) = setup();
    let mut h = Helper::start(&export, false);
    // A char device (1:3 is /dev/null's numbers), a FIFO and a socket, made by the client.
    h.call(&Request::Mknod {
        uid: 0,
        gid: 0,
        path: b"/null",
        mode: libc::S_IFCHR | 0o666,
        rdev: libc::makedev(1, 3),
    })
    .unwrap();
    h.call(&Request::Mknod {
        uid: 0,
        gid: 0,
        path: b"/fifo",
        mode: libc::S_IFIFO | 0o666,
        rdev: 0,
    })
    .unwrap();
    h.call(&Request::Mknod {
        uid: 0,
        gid: 0,
        path: b"/sock",
        mode: libc::S_IFSOCK | 0o666,
        rdev: 0,
    })
    .unwrap();
    symlink("null", export.join("to_null")).unwrap();
    for p in [&b"/null"[..], b"/fifo", b"/sock", b"/to_null"] {
        for flags in [libc::O_RDONLY, libc::O_WRONLY, libc::O_RDWR] {
            // A FIFO opened for reading would block: the request must still be answered.
            let e = h.call_fd(&Request::Open { path: p, flags }).unwrap_err();
            assert!(
                [ENXIO, EACCES].contains(&e),
                "{:?} flags {flags}: errno {e}",
                String::from_utf8_lossy(p)
            );
        }
    }
    // They can be stat'ed.
    let st = h.call(&Request::Lstat { path: b"/null" }).unwrap().stat();
    assert_eq!(st.mode & libc::S_IFMT, libc::S_IFCHR);
    assert_eq!(st.rdev, libc::makedev(1, 3));
    // An O_PATH handle is fine (it opens nothing).
    assert!(h
        .call_fd(&Request::Open {
            path: b"/null",
            flags: libc::O_PATH
        })
        .is_ok());
    // Creating over an existing special file without O_EXCL does not open it either.
    let e = h
        .call_fd(&Request::Create {
            path: b"/fifo",
            flags: libc::O_RDWR,
            mode: 0o644,
            uid: 0,
            gid: 0,
        })
        .unwrap_err();
    assert!([ENXIO, EACCES].contains(&e), "errno {e}");
    let (code, err) = h.finish();
    assert_eq!(code, Some(0), "{err}");
}

/// The fds the helper hands out are the front end's (or QEMU's) to use as they like,
/// without RESOLVE_IN_ROOT: even `..` from them must not leave the export. The helper
/// serves from a detached copy of the export's mounts, whose root has no parent.
#[test]
fn dotdot_from_handed_out_fds_stays_in_the_export() {
    require_root!();
    let (sandbox, export) = setup();
    std::fs::create_dir_all(export.join("a/b")).unwrap();
    std::fs::write(export.join("inside"), b"in").unwrap();
    let mut h = Helper::start(&export, false);
    let root_ino = std::fs::metadata(&export).unwrap().ino();
    for (path, flags) in [
        (&b"/"[..], libc::O_PATH),
        (b"/a/b", libc::O_PATH),
        (b"/a", libc::O_RDONLY | libc::O_DIRECTORY),
    ] {
        let fd = h.call_fd(&Request::Open { path, flags }).unwrap();
        // Climbing far above the export ends at its root.
        let up = rustix::fs::openat(
            &fd,
            "../../../../../../../..",
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
        assert_eq!(
            rustix::fs::fstat(&up).unwrap().st_ino,
            root_ino,
            "`..` from {:?} climbed above the export",
            String::from_utf8_lossy(path)
        );
        // What lies beside the export cannot be named; what is inside still can.
        let beside = rustix::fs::openat(
            &fd,
            "../../../../../../../../secret",
            rustix::fs::OFlags::RDONLY,
            rustix::fs::Mode::empty(),
        );
        assert_eq!(beside.unwrap_err(), rustix::io::Errno::NOENT);
        let inside = rustix::fs::openat(
            &fd,
            "../../../../../../../../inside",
            rustix::fs::OFlags::RDONLY,
            rustix::fs::Mode::empty(),
        );
        assert!(inside.is_ok(), "the export's own files stay reachable");
    }
    assert_eq!(
        std::fs::read(sandbox.path().join("secret")).unwrap(),
        b"outside"
    );
    let (code, err) = h.finish();
    assert_eq!(code, Some(0), "{err}");
}
