//! Malformed input gets a defined answer (an error reply, or a clean close with a log
//! line), never a crash, hang or leak: each case where QEMU's C helper crashes or leaks
//! (PROXY-PROTOCOL.md) included.

mod common;

use common::*;
use proxy_protocol::{Header, Request, HEADER_SIZE, T_ERROR};

fn export() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("f"), b"data").unwrap();
    std::os::unix::fs::symlink("f", d.path().join("l")).unwrap();
    d
}

fn header(kind: u32, size: u32) -> Vec<u8> {
    Header { kind, size }.encode().to_vec()
}

fn s(bytes: &[u8]) -> Vec<u8> {
    let mut v = (bytes.len() as u16).to_ne_bytes().to_vec();
    v.extend_from_slice(bytes);
    v
}

fn frame(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut v = header(kind, body.len() as u32);
    v.extend_from_slice(body);
    v
}

fn expect_status(h: &mut Helper, errno: i32) {
    let (hd, body) = h.read_reply();
    assert_eq!(hd.kind, T_ERROR);
    assert_eq!(body, (-errno).to_ne_bytes());
}

#[test]
fn bad_fields_get_error_replies_and_serving_goes_on() {
    require_root!();
    let d = export();
    let mut h = Helper::start(d.path(), false);
    // Negative and zero readlink sizes (QEMU's helper: SIGTRAP / garbage).
    for size in [-1i32, 0, 1, i32::MIN] {
        let mut body = s(b"/l");
        body.extend_from_slice(&size.to_ne_bytes());
        h.send_raw(&frame(9, &body));
        expect_status(&mut h, EINVAL);
    }
    // Readlink with a size of 2 returns at most 1 byte.
    assert_eq!(
        h.call(&Request::Readlink {
            path: b"/l",
            bufsize: 2
        })
        .unwrap()
        .bytes(),
        b"f"
    );
    // Negative xattr sizes.
    h.send(&Request::Lgetxattr {
        size: -5,
        path: b"/f",
        name: b"user.x",
    });
    expect_status(&mut h, EINVAL);
    h.send(&Request::Llistxattr {
        size: -1,
        path: b"/f",
    });
    expect_status(&mut h, EINVAL);
    // A setxattr size larger than the value (QEMU's helper leaks its memory into the
    // xattr) or negative.
    for size in [100, -1] {
        h.send(&Request::Lsetxattr {
            path: b"/f",
            name: b"user.x",
            value: b"abc",
            size,
            flags: 0,
        });
        expect_status(&mut h, EINVAL);
    }
    assert!(xattr_absent(&d.path().join("f")));
    // Truncated string, missing int, trailing bytes: EINVAL in the request's reply form.
    h.send_raw(&frame(8, &[9, 0, b'/']));
    expect_status(&mut h, EINVAL);
    h.send_raw(&frame(11, &s(b"/f")));
    expect_status(&mut h, EINVAL);
    let mut body = s(b"/f");
    body.push(0);
    h.send_raw(&frame(16, &body));
    expect_status(&mut h, EINVAL);
    // Truncated T_OPEN: the answer is an fd word.
    h.send_raw(&frame(2, &s(b"/f")));
    assert_eq!(
        recv_fd_word(std::os::fd::AsFd::as_fd(&h.sock)).unwrap_err(),
        EINVAL
    );
    // An empty path names nothing (QEMU's helper: ENOENT); "/" is the root.
    h.send(&Request::Lstat { path: b"" });
    expect_status(&mut h, ENOENT);
    assert!(h.call(&Request::Lstat { path: b"/" }).is_ok());
    // QEMU counts the C string's NUL in most paths: one trailing NUL is accepted.
    assert_eq!(
        h.call(&Request::Lstat { path: b"/f\0" })
            .unwrap()
            .stat()
            .size,
        4
    );
    assert_eq!(
        h.call(&Request::Readlink {
            path: b"/l\0",
            bufsize: 64
        })
        .unwrap()
        .bytes(),
        b"f"
    );
    h.send(&Request::Lstat { path: b"/f\0\0" });
    expect_status(&mut h, EINVAL);
    // A NUL inside a path.
    h.send(&Request::Lstat {
        path: b"/f\0/etc/passwd",
    });
    expect_status(&mut h, EINVAL);
    // Invalid xattr flags.
    h.send(&Request::Lsetxattr {
        path: b"/f",
        name: b"user.x",
        value: b"abc",
        size: 3,
        flags: 0x100,
    });
    expect_status(&mut h, EINVAL);
    // A body of exactly 64 KiB is accepted (and answered).
    let long = vec![b'a'; 65534];
    h.send(&Request::Lstat { path: &long });
    expect_status(&mut h, ENAMETOOLONG);
    // Still serving.
    assert_eq!(
        h.call(&Request::Lstat { path: b"/f" }).unwrap().stat().size,
        4
    );
    // getversion: the upper half is defined (zero).
    if let Ok(common::Owned::Version(v)) = h.call(&Request::Getversion { path: b"/f" }) {
        assert_eq!(v >> 32, 0);
    }
    let (code, err) = h.finish();
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("malformed request"),
        "malformed requests are logged: {err}"
    );
}

fn xattr_absent(p: &std::path::Path) -> bool {
    let mut buf = [0u8; 64];
    rustix::fs::getxattr(p, "user.x", &mut buf[..]).is_err()
}

#[test]
fn oversized_header_closes_with_a_log_line() {
    require_root!();
    let d = export();
    for size in [65537u32, u32::MAX, 0x8000_0000] {
        let mut h = Helper::start(d.path(), false);
        h.send_raw(&header(8, size));
        let (code, err) = h.finish();
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains("exceeds the protocol maximum"), "{err}");
    }
}

#[test]
fn unknown_types_close_with_a_log_line() {
    require_root!();
    let d = export();
    for kind in [0u32, 1, 22, 0xffff_ffff] {
        let mut h = Helper::start(d.path(), false);
        h.send_raw(&frame(kind, b""));
        let (code, err) = h.finish();
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains("unknown request type"), "{err}");
    }
}

#[test]
fn peer_disconnecting_mid_message_or_with_replies_pending() {
    require_root!();
    let d = export();
    // Mid-header, mid-body.
    for partial in [
        &header(8, 10)[..5],
        &frame(8, &s(b"/ffff"))[..HEADER_SIZE + 3],
    ] {
        let mut h = Helper::start(d.path(), false);
        h.send_raw(partial);
        let (code, err) = h.finish();
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains("mid-message"), "{err}");
    }
    // Many requests written, no reply read, then close: QEMU's helper dies of SIGPIPE.
    let mut h = Helper::start(d.path(), false);
    let mut burst = Vec::new();
    for _ in 0..2000 {
        Request::Lstat { path: b"/f" }.encode(&mut burst).unwrap();
    }
    h.send_raw(&burst);
    let (code, err) = h.finish();
    assert!(
        matches!(code, Some(0) | Some(1)),
        "exited by itself, not by a signal: {code:?} {err}"
    );
}

#[test]
fn no_fd_leaks() {
    require_root!();
    let d = export();
    let mut h = Helper::start(d.path(), false);
    assert!(h.call(&Request::Lstat { path: b"/f" }).is_ok());
    let baseline = h.fd_count();
    for i in 0..500 {
        drop(
            h.call_fd(&Request::Open {
                path: b"/f",
                flags: libc::O_RDONLY,
            })
            .unwrap(),
        );
        let _ = h.call_fd(&Request::Open {
            path: b"/missing",
            flags: 0,
        });
        let name = format!("/c{i}");
        drop(
            h.call_fd(&Request::Create {
                path: name.as_bytes(),
                flags: libc::O_RDWR,
                mode: 0o600,
                uid: 1,
                gid: 1,
            })
            .unwrap(),
        );
        h.call(&Request::Remove {
            path: name.as_bytes(),
        })
        .unwrap();
        let _ = h.call(&Request::Lgetxattr {
            size: 10,
            path: b"/f",
            name: b"user.none",
        });
        let _ = h.call(&Request::Statfs { path: b"/" });
        let _ = h.call(&Request::Truncate {
            path: b"/f",
            size: 4,
        });
    }
    assert_eq!(h.fd_count(), baseline, "fd count back to baseline");
    let (code, err) = h.finish();
    assert_eq!(code, Some(0), "{err}");
}
