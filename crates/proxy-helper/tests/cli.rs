//! The command line behaves like QEMU's helper's: same flags, status 1 on wrong or
//! missing ones; `--help`/`--version` succeed; `-s` makes a 0770 socket owned by `-u:-g`,
//! serves one connection and exits.

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(common::HELPER)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_and_version() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for flag in ["--path", "--fd", "--socket", "--uid", "--gid", "--nodaemon"] {
        assert!(out.contains(flag), "--help mentions {flag}: {out}");
    }
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("virtfs-proxy-helper "), "{out}");
}

#[test]
fn wrong_or_missing_flags_exit_1_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"").unwrap();
    for args in [
        vec![],                                                         // nothing
        vec!["-p", d],                                                  // no channel
        vec!["-f", "3"],                                                // no path
        vec!["-p", d, "-f", "3", "-s", "/tmp/x", "-u", "0", "-g", "0"], // both channels
        vec!["-p", d, "-s", "/tmp/x"],                                  // socket without owner
        vec!["-p", d, "-s", "/tmp/x", "-u", "0"],                       // socket without gid
        vec!["-p", d, "-f", "notanumber"],
        vec!["-p", d, "-f", "3", "--bogus"],
        vec!["-p", "/nonexistent/export", "-f", "0", "-n"],
        vec!["-p", file.to_str().unwrap(), "-f", "0", "-n"], // not a directory
        vec!["-p", d, "-f", "987", "-n"],                    // not an open fd
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, 1, "{args:?} exits 1; stderr: {err}");
        assert!(!err.trim().is_empty(), "{args:?} says why");
    }
    let (_, _, err) = run(&["-p", "/nonexistent/export", "-f", "0", "-n"]);
    assert!(err.contains("invalid path"), "{err}");
    let (_, _, err) = run(&["-p", file.to_str().unwrap(), "-f", "0", "-n"]);
    assert!(err.contains("is not directory"), "{err}");
}

#[test]
fn named_socket_mode() {
    require_root!();
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    std::fs::create_dir(&export).unwrap();
    std::fs::write(export.join("f"), b"abc").unwrap();
    let sock = dir.path().join("helper.sock");
    let mut child = Command::new(common::HELPER)
        .args([
            "-p",
            export.to_str().unwrap(),
            "-s",
            sock.to_str().unwrap(),
            "-u",
            "1234",
            "-g",
            "2345",
            "-n",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "socket never appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
    let m = std::fs::symlink_metadata(&sock).unwrap();
    assert!(m.file_type().is_socket());
    assert_eq!(m.permissions().mode() & 0o777, 0o770);
    assert_eq!((m.uid(), m.gid()), (1234, 2345));
    // An existing socket path makes a second helper refuse to start.
    let (code, _, _) = run(&[
        "-p",
        export.to_str().unwrap(),
        "-s",
        sock.to_str().unwrap(),
        "-u",
        "0",
        "-g",
        "0",
        "-n",
    ]);
    assert_eq!(code, 1);
    let client = proxy_client::ProxyClient::connect(&sock).unwrap();
    assert_eq!(client.lstat("/f").unwrap().size, 3);
    drop(client);
    let status = child.wait().unwrap();
    assert!(status.success(), "one connection served, then a clean exit");
}

#[test]
fn daemonizes_without_n() {
    require_root!();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("d.sock");
    // Without -n the command returns at once (the daemon goes on in the background).
    let status = Command::new(common::HELPER)
        .args([
            "-p",
            dir.path().to_str().unwrap(),
            "-s",
            sock.to_str().unwrap(),
            "-u",
            "0",
            "-g",
            "0",
        ])
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(Instant::now() < deadline, "daemon never made its socket");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Serve it its one connection so that it exits.
    let client = proxy_client::ProxyClient::connect(&sock).unwrap();
    assert!(client.lstat("/").is_ok());
}

/// A helper whose stderr went away (a closed pipe: the log reader exited) loses its log
/// lines and goes on: it used to panic on the next one (tracing's report of the failed
/// write) and die under its own filter (the panic's backtrace calls `getcwd`).
#[test]
fn a_closed_stderr_loses_log_lines_not_the_helper() {
    require_root!();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(common::HELPER);
    cmd.arg("-p")
        .arg(dir.path())
        .arg("-n")
        .stderr(Stdio::piped());
    let mut h = proxy_client::spawn_helper_command(cmd).unwrap();
    assert!(h.client.lstat("/").is_ok());
    drop(h.child.stderr.take());
    assert!(h.client.lstat("/").is_ok());
    // The end of the connection is logged ("connection closed"), then it exits.
    drop(h.client);
    let st = h.child.wait().unwrap();
    assert!(st.success(), "{st:?}");
}
