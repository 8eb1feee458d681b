//! Nobody acts as anyone they are not, proven from the attacker's side: a root
//! `p9proxy serve` (each backend) on TCP loopback and on a world-connectable Unix socket,
//! attacked by a hostile 9P client (`attack/claim_root.py`) running as uid 65534 through
//! `setpriv --reuid 65534 --regid 65534 --clear-groups`, which claims to be root. Then
//! the host is inspected: no root-owned or setuid-root file planted, no device node, no
//! chown to root, root's 0600 file unread, root's program neither rewritten nor made
//! setuid; what the host lets uid 65534 do still works. Also a trusted root peer
//! attaching as another uid acts as that uid, and `--squash` applies to every operation.

mod common;

use std::collections::HashMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, is_root, Killed};
use p9_client::{Client, Setattr};
use p9_wire::*;

const P9PROXY: &str = env!("CARGO_BIN_EXE_p9proxy");
const ATTACK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/attack/claim_root.py");
const NOBODY: u32 = 65534;
/// Debian's (installed by scripts/install-deps.sh): a user-local one may not be
/// reachable by uid 65534.
const PYTHON: &str = "/usr/bin/python3";

/// Runs Python with `args` as uid and gid 65534, with no supplementary groups.
fn python_as_nobody(args: &[&str]) -> std::process::Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", PYTHON])
        .args(args)
        .output()
        .unwrap()
}

fn wait_for(ready: impl Fn() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} never became ready");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An export as a multi-user host has it: root's secret (0600), root's program (0755),
/// a public file (0644), a sticky world-writable `pub/`, and a root directory anyone
/// may create in (so that what the attacker creates shows whose it is).
fn export() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    std::fs::set_permissions(t.path(), PermissionsExt::from_mode(0o755)).unwrap();
    let e = t.path().join("export");
    std::fs::create_dir(&e).unwrap();
    std::fs::set_permissions(&e, PermissionsExt::from_mode(0o777)).unwrap();
    let file = |name: &str, data: &[u8], mode: u32| {
        std::fs::write(e.join(name), data).unwrap();
        std::fs::set_permissions(e.join(name), PermissionsExt::from_mode(mode)).unwrap();
    };
    file("secret", b"SECRET", 0o600);
    file("prog", b"#!/bin/sh\necho hi\n", 0o755);
    file("public", b"hello", 0o644);
    std::fs::create_dir(e.join("pub")).unwrap();
    std::fs::set_permissions(e.join("pub"), PermissionsExt::from_mode(0o1777)).unwrap();
    (t, e)
}

/// `p9proxy serve` as root on `export` with `args`, until dropped.
fn serve(export: &Path, args: &[&str]) -> Killed {
    let child = Command::new(P9PROXY)
        .arg("serve")
        .arg(export)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Killed(child)
}

/// Runs the hostile client as uid 65534 against `addr`, claiming `uname`; its steps'
/// errnos (0: allowed).
fn attack(addr: &str, uname: u32) -> HashMap<String, i64> {
    let out = python_as_nobody(&[ATTACK, addr, &uname.to_string()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "attack client failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.trim().parse().unwrap()))
        .collect()
}

/// What the attack must not have done to the host, and what it may.
fn check_host(export: &Path, steps: &HashMap<String, i64>, label: &str) {
    assert_eq!(steps.get("attach"), Some(&0), "{label}: {steps:?}");
    for entry in walkdir(export) {
        let m = std::fs::symlink_metadata(&entry).unwrap();
        let name = entry.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            !m.file_type().is_block_device() && !m.file_type().is_char_device(),
            "{label}: a device node was made: {}",
            entry.display()
        );
        if m.uid() == 0 && !["secret", "prog", "public", "pub", "export"].contains(&&*name) {
            panic!(
                "{label}: a root-owned file was planted: {}",
                entry.display()
            );
        }
        if m.uid() == 0 || m.gid() == 0 {
            assert_eq!(
                m.mode() & 0o6000,
                0,
                "{label}: setuid/setgid root file: {}",
                entry.display()
            );
        }
    }
    // The attacker's own creation is its own, whatever it claimed.
    if let Ok(m) = std::fs::metadata(export.join("rootshell")) {
        assert_eq!(
            (m.uid(), m.gid()),
            (NOBODY, NOBODY),
            "{label}: rootshell owner"
        );
    }
    assert_ne!(steps["chown_root"], 0, "{label}: chown to root allowed");
    assert_ne!(steps["mknod"], 0, "{label}: device node allowed");
    assert_ne!(
        steps["read_secret"], 0,
        "{label}: root's 0600 file was read"
    );
    assert_ne!(
        steps["open_prog_w"], 0,
        "{label}: root's program opened for writing"
    );
    assert_ne!(steps["chmod_prog"], 0, "{label}: root's program chmodded");
    assert_eq!(
        std::fs::read(export.join("prog")).unwrap(),
        b"#!/bin/sh\necho hi\n"
    );
    assert_eq!(
        std::fs::metadata(export.join("prog")).unwrap().mode() & 0o7777,
        0o755
    );
    // What the host lets uid 65534 do, it still may.
    assert_eq!(steps["read_public"], 0, "{label}: {steps:?}");
    assert_eq!(steps["create_pub"], 0, "{label}: {steps:?}");
    let mine = std::fs::metadata(export.join("pub/mine")).unwrap();
    assert_eq!((mine.uid(), mine.gid()), (NOBODY, NOBODY));
}

/// A root server on a Unix socket in `t` with `args`, and a versioned client of it (as
/// root, a trusted peer).
fn serve_unix(t: &Path, export: &Path, args: &[&str]) -> (Killed, Client<UnixStream>) {
    let sock = t.join("9p.sock");
    let listen = format!("unix:{}", sock.display());
    let server = serve(export, &[args, &["--listen", &listen]].concat());
    wait_for(|| sock.exists(), "unix listener");
    let mut c = Client::new(UnixStream::connect(&sock).unwrap());
    c.version(1 << 20).unwrap();
    (server, c)
}

/// The errno of a failed call.
fn errno<T: std::fmt::Debug>(r: Result<T, p9_client::ClientError>) -> i32 {
    match r.map_err(|e| e.errno()) {
        Err(Some(e)) => e.raw_os_error(),
        other => panic!("expected an Rlerror, got {other:?}"),
    }
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_local_user_claiming_root_gets_nothing_root_has() {
    if !is_root() {
        eprintln!("SKIPPED: needs root (a root server attacked by uid 65534)");
        return;
    }
    for backend in ["proxy", "local"] {
        for transport in ["tcp", "unix"] {
            let (t, export) = export();
            let sock = t.path().join("9p.sock");
            let port = free_port();
            let listen = match transport {
                "tcp" => format!("tcp:127.0.0.1:{port}"),
                _ => format!("unix:{}", sock.display()),
            };
            // A Unix socket the administrator made world-connectable.
            let _server = serve(
                &export,
                &[
                    "--backend",
                    backend,
                    "--listen",
                    &listen,
                    "--socket-mode",
                    "0666",
                ],
            );
            match transport {
                "tcp" => wait_for(
                    || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
                    "tcp listener",
                ),
                _ => wait_for(|| sock.exists(), "unix listener"),
            }
            let label = format!("{backend} over {transport}");
            let steps = attack(&listen, 0);
            check_host(&export, &steps, &label);
        }
    }
}

#[test]
fn unix_listeners_are_private_unless_told() {
    if !is_root() {
        return;
    }
    let (t, export) = export();
    let sock = t.path().join("9p.sock");
    let _server = serve(
        &export,
        &[
            "--backend",
            "local",
            "--listen",
            &format!("unix:{}", sock.display()),
        ],
    );
    wait_for(|| sock.exists(), "unix listener");
    let m = std::fs::metadata(&sock).unwrap();
    assert_eq!((m.mode() & 0o777, m.uid()), (0o600, 0));
    // Nothing of the private directory it was made in is left behind.
    let left: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with(".p9proxy"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // uid 65534 cannot even connect.
    let out = python_as_nobody(&[
        "-c",
        &format!(
            "import socket; s = socket.socket(socket.AF_UNIX); s.connect({:?})",
            sock.display().to_string()
        ),
    ]);
    assert!(
        !out.status.success(),
        "uid 65534 connected to a 0600 socket"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("PermissionError"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A trusted peer (root) attaching as 1234 acts as 1234 on every operation; as 0 it is
/// root, as before. `--squash` makes every fid act as the squashed ids.
#[test]
fn a_trusted_peer_acts_as_whom_it_attaches_as() {
    if !is_root() {
        return;
    }
    for backend in ["proxy", "local"] {
        let (t, export) = export();
        let (_server, mut c) = serve_unix(t.path(), &export, &["--backend", backend]);
        c.attach(0, 1234).unwrap();
        c.walk(0, 1, &[]).unwrap();
        c.lcreate(1, b"by1234", P9_DOTL_RDWR, 0o644, 1234).unwrap();
        let m = std::fs::metadata(export.join("by1234")).unwrap();
        assert_eq!((m.uid(), m.gid()), (1234, 1234), "{backend}");
        let chown_root = |fid| Setattr::of(fid).uid(0);
        assert_eq!(errno(c.setattr(chown_root(1))), libc::EPERM, "{backend}");
        c.walk(0, 2, &[b"secret"]).unwrap();
        assert_eq!(errno(c.lopen(2, P9_DOTL_RDONLY)), libc::EACCES, "{backend}");
        // Attached as 0: root, as before.
        c.attach(10, 0).unwrap();
        c.walk(10, 11, &[b"secret"]).unwrap();
        c.lopen(11, P9_DOTL_RDONLY).unwrap();
        assert_eq!(c.read_all(11).unwrap(), b"SECRET");
        c.walk(10, 12, &[b"by1234"]).unwrap();
        c.setattr(chown_root(12)).unwrap();
        assert_eq!(std::fs::metadata(export.join("by1234")).unwrap().uid(), 0);
    }

    // --squash 1000:1000: an existing root-owned file can be neither rewritten nor made
    // setuid, whoever the client claims to be.
    for backend in ["proxy", "local"] {
        let (t, export) = export();
        let args = ["--backend", backend, "--squash", "1000:1000"];
        let (_server, mut c) = serve_unix(t.path(), &export, &args);
        c.attach(0, 0).unwrap();
        c.walk(0, 1, &[b"prog"]).unwrap();
        assert_eq!(errno(c.lopen(1, P9_DOTL_WRONLY)), libc::EACCES, "{backend}");
        let chmod = Setattr::of(1).mode(0o4755);
        assert_eq!(errno(c.setattr(chmod)), libc::EPERM, "{backend}");
        let m = std::fs::metadata(export.join("prog")).unwrap();
        assert_eq!((m.mode() & 0o7777, m.uid()), (0o755, 0));
        assert_eq!(
            std::fs::read(export.join("prog")).unwrap(),
            b"#!/bin/sh\necho hi\n"
        );
    }
}

/// One untrusted local user cannot take every connection slot: past
/// `--max-connections-per-user` its connections are closed at once; root is still served.
#[test]
fn an_untrusted_user_holds_at_most_its_connections() {
    if !is_root() {
        return;
    }
    let (t, export) = export();
    let args = [
        "--backend",
        "local",
        "--socket-mode",
        "0666",
        "--max-connections-per-user",
        "2",
    ];
    let (_server, mut root) = serve_unix(t.path(), &export, &args);
    let sock = t.path().join("9p.sock");
    // Three connections of uid 65534 held open at once, each saying Tversion.
    let script = format!(
        "import socket, struct\n\
         socks = []\n\
         for i in range(3):\n\
         \x20   s = socket.socket(socket.AF_UNIX); s.connect({:?}); socks.append(s)\n\
         for s in socks:\n\
         \x20   v = b'9P2000.L'\n\
         \x20   body = struct.pack('<I', 8192) + struct.pack('<H', len(v)) + v\n\
         \x20   try:\n\
         \x20       s.sendall(struct.pack('<IBH', 7 + len(body), 100, 0xffff) + body)\n\
         \x20       print('served' if s.recv(64) else 'closed')\n\
         \x20   except OSError:\n\
         \x20       print('closed')\n",
        sock.display().to_string()
    );
    let out = python_as_nobody(&["-c", &script]);
    let text = String::from_utf8_lossy(&out.stdout);
    // Whichever connection's thread counts third is the one closed.
    let mut got: Vec<&str> = text.lines().collect();
    got.sort_unstable();
    assert_eq!(
        got,
        ["closed", "served", "served"],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Root (trusted) is still served.
    root.attach(0, 0).unwrap();
    root.getattr(0).unwrap();
}
