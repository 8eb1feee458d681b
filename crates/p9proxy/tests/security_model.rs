//! `p9proxy serve --security-model mapped-xattr` run as an ordinary user (uid 65534 through
//! setpriv when the tests run as root): the default backend is then `local`, the seccomp
//! allowlist is on, and creations as other uids keep the client's ids in QEMU's xattrs.
//! Also the combinations the command line refuses.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

use p9_client::Client;

const P9PROXY: &str = env!("CARGO_BIN_EXE_p9proxy");
const NOBODY: u32 = 65534;

fn as_user(args: &[&str]) -> Command {
    if rustix::process::geteuid().is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", P9PROXY]);
        c.args(args);
        c
    } else {
        let mut c = Command::new(P9PROXY);
        c.args(args);
        c
    }
}

#[test]
fn mapped_xattr_unprivileged_over_stdio() {
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let export = d.path().join("export");
    std::fs::create_dir(&export).unwrap();
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::chown(&export, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let (ours, theirs) = UnixStream::pair().unwrap();
    let child = as_user(&["serve", "--security-model", "mapped-xattr", "--stdio"])
        .arg(&export)
        .stdin(std::os::fd::OwnedFd::from(theirs.try_clone().unwrap()))
        .stdout(std::os::fd::OwnedFd::from(theirs))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut c = Client::new(ours);
    c.version(1 << 20).unwrap();
    c.attach(0, 1000).unwrap();
    c.mkdir(0, b"d", libc::S_IFDIR | 0o750, 1001).unwrap();
    c.mknod(0, b"tty", libc::S_IFCHR | 0o620, 4, 1, 5).unwrap();
    c.walk(0, 1, &[b"tty"]).unwrap();
    let a = c.getattr(1).unwrap();
    assert_eq!(
        (a.uid, a.gid, a.mode, a.rdev),
        (1000, 5, libc::S_IFCHR | 0o620, rustix::fs::makedev(4, 1))
    );
    drop(c);
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("mapped-xattr"), "{log}");
    let m = std::fs::symlink_metadata(export.join("tty")).unwrap();
    assert_eq!(m.mode(), libc::S_IFREG | 0o600);
    let mut buf = [0u8; 16];
    let n = rustix::fs::lgetxattr(export.join("d"), "user.virtfs.gid", &mut buf).unwrap();
    assert_eq!(&buf[..n], &1001u32.to_le_bytes());
    let n = rustix::fs::lgetxattr(export.join("tty"), "user.virtfs.rdev", &mut buf).unwrap();
    assert_eq!(&buf[..n], &rustix::fs::makedev(4, 1).to_le_bytes());
}

#[test]
fn refused_combinations() {
    let d = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(P9PROXY)
            .args(["serve", "--stdio", "--backend", "local"])
            .args(args)
            .arg(d.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = run(&["--security-model", "mapped-file", "--uid-map", "0:1000:1"]);
    assert!(
        e.contains("cannot be used with --security-model mapped-file"),
        "{e}"
    );
    let e = run(&["--uid-map", "0:0:10", "--uid-map", "5:100:1"]);
    assert!(e.contains("overlap"), "{e}");
    let out = Command::new(P9PROXY)
        .args(["serve", "--security-model", "bogus", "/tmp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(P9PROXY)
        .args(["serve", "--squash", "1000", "/tmp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
