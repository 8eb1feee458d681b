//! The helper spawner reaps each helper as soon as it exits, even while the front end asks
//! for nothing: killed helpers must not linger as zombies until the next spawn request.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use p9_server::spawner::{self, SpawnConfig};

/// A stand-in helper: writes its pid on the socket it is given (the argument after `-f`,
/// always last) and sleeps with that pid.
const FAKE_HELPER: &str = r#"#!/bin/bash
for a; do fd=$a; done
eval "echo \$\$ >&$fd"
exec sleep 1000
"#;

/// The process state letter of `pid` (`Z` for a zombie), or None once it is gone.
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.trim_start().chars().next()
}

fn request_helper(front: &mut UnixStream) -> OwnedFd {
    front.write_all(&[1]).unwrap();
    spawner::receive_helper(&*front).expect("the spawner sent a helper socket")
}

/// The pid line a fake helper writes on its socket.
fn helper_pid(s: &mut UnixStream) -> u32 {
    let mut line = String::new();
    let mut b = [0u8; 1];
    while s.read(&mut b).unwrap() == 1 && b[0] != b'\n' {
        line.push(b[0] as char);
    }
    line.trim().parse::<u32>().expect("the helper's pid")
}

#[test]
fn killed_helpers_are_reaped_without_a_new_request() {
    let dir = tempfile::tempdir().unwrap();
    let helper = dir.path().join("fake-helper");
    std::fs::write(&helper, FAKE_HELPER).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = SpawnConfig {
        helper: helper.clone(),
        export: dir.path().to_path_buf(),
        args: Vec::new(),
        tree: Default::default(),
    };
    let (mut front, spawner_end) = UnixStream::pair().unwrap();
    let spawner = std::thread::spawn(move || spawner::serve(OwnedFd::from(spawner_end), &cfg));

    let mut pids = Vec::new();
    let mut socks = Vec::new();
    for _ in 0..3 {
        let mut s = UnixStream::from(request_helper(&mut front));
        pids.push(helper_pid(&mut s));
        socks.push(s);
    }
    for &pid in &pids {
        assert!(
            matches!(state(pid), Some(c) if c != 'Z'),
            "helper {pid} runs"
        );
        // SAFETY: kill(2) with a pid of our own child and a valid signal number.
        assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    }
    // No request is sent: the spawner must notice the exits by itself. Wait (bounded)
    // until every helper is gone from the process table.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left: Vec<_> = pids
            .iter()
            .filter_map(|&p| state(p).map(|s| (p, s)))
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "helpers not reaped (pid, state): {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // And it still serves: a new helper after the reaping, then a clean exit on hang-up.
    let mut sock = UnixStream::from(request_helper(&mut front));
    let last = helper_pid(&mut sock);
    drop(sock);
    drop(front);
    drop(socks);
    // The last fake helper sleeps; the spawner waits for it at exit, so end it (by the
    // pid it wrote: a scan of /proc for `sleep` could run before its exec).
    // SAFETY: kill(2) of our own child with a valid signal number.
    assert_eq!(unsafe { libc::kill(last as i32, libc::SIGKILL) }, 0);
    spawner.join().unwrap().unwrap();
    assert!(Path::new(&helper).exists());
}
