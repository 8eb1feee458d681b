//! The named-socket set-up (`-s PATH -u UID -g GID`) cannot be raced into chowning
//! another file: a racer swaps the socket path for a symlink to a root-owned victim (and
//! for a hard link to it) while the helper starts, 300 times; the victim's owner never
//! changes. (QEMU's C helper, and ours before, chowned the path after binding it.)

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The helper under test: ours, or another one named by `P9PROXY_RACE_HELPER` (to show
/// that the test fails on a helper that chowns by path).
fn helper() -> String {
    std::env::var("P9PROXY_RACE_HELPER").unwrap_or_else(|_| common::HELPER.to_string())
}

/// Replaces `path` with a symlink (or hard link) to `victim` whenever a socket shows up
/// there, until `stop`.
fn race(path: &Path, victim: &Path, stop: &AtomicBool) {
    let dir = path.parent().unwrap();
    let (link, hard) = (dir.join("link.tmp"), dir.join("hard.tmp"));
    let mut symlink = false;
    while !stop.load(Ordering::Relaxed) {
        let is_socket = std::fs::symlink_metadata(path)
            .map(|m| m.file_type().is_socket_like())
            .unwrap_or(false);
        if is_socket {
            symlink = !symlink;
            let _ = std::fs::remove_file(&link);
            let _ = std::fs::remove_file(&hard);
            if symlink {
                let _ = std::os::unix::fs::symlink(victim, &link);
                let _ = std::fs::rename(&link, path);
            } else if std::fs::hard_link(victim, &hard).is_ok() {
                let _ = std::fs::rename(&hard, path);
            }
        } else {
            std::hint::spin_loop();
        }
    }
}

trait SocketLike {
    fn is_socket_like(&self) -> bool;
}

impl SocketLike for std::fs::FileType {
    fn is_socket_like(&self) -> bool {
        use std::os::unix::fs::FileTypeExt;
        self.is_socket()
    }
}

#[test]
fn a_racer_never_gets_a_file_chowned() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: needs root (the helper chowns its socket as root)");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let export = t.path().join("export");
    std::fs::create_dir(&export).unwrap();
    // The directory the socket is made in, where the racer works.
    let dir = t.path().join("sockets");
    std::fs::create_dir(&dir).unwrap();
    let victim = dir.join("victim");
    std::fs::write(&victim, b"root's").unwrap();
    let path = dir.join("p9.sock");
    for round in 0..300 {
        let _ = std::fs::remove_file(&path);
        let stop = Arc::new(AtomicBool::new(false));
        let racer = {
            let (path, victim, stop) = (path.clone(), victim.clone(), Arc::clone(&stop));
            std::thread::spawn(move || race(&path, &victim, &stop))
        };
        let mut child = Command::new(helper())
            .arg("-p")
            .arg(&export)
            .arg("-s")
            .arg(&path)
            .args(["-u", "1000", "-g", "1000", "-n"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Long enough for the helper to bind (and, if it does, chown) its socket.
        let deadline = Instant::now() + Duration::from_millis(30);
        while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = child.kill();
        let _ = child.wait();
        stop.store(true, Ordering::Relaxed);
        racer.join().unwrap();
        let m = std::fs::metadata(&victim).unwrap();
        assert_eq!(
            (m.uid(), m.gid()),
            (0, 0),
            "round {round}: the victim was chowned through the socket path"
        );
    }
}
