//! The confinement holds: a forbidden syscall kills the helper, and a running helper is
//! chrooted into the export (mounted nodev,nosuid in its own namespace), with no_new_privs,
//! a seccomp filter and only the seven capabilities it needs.

mod common;

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};

use proxy_client::spawn_helper_command;

fn helper(export: &std::path::Path, args: &[&str], selftest: bool) -> proxy_client::SpawnedHelper {
    let mut cmd = Command::new(common::HELPER);
    cmd.arg("-p")
        .arg(export)
        .arg("-n")
        .args(args)
        .stderr(Stdio::piped());
    if selftest {
        cmd.env("P9PROXY_SECCOMP_SELFTEST", "1");
    }
    spawn_helper_command(cmd).unwrap()
}

#[test]
fn forbidden_syscall_kills_the_helper() {
    require_root!();
    let dir = tempfile::tempdir().unwrap();
    let h = helper(dir.path(), &[], true);
    let proxy_client::SpawnedHelper { client, mut child } = h;
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGSYS),
        "killed by seccomp: {status:?}"
    );
    assert!(client.lstat("/").is_err(), "nothing serves after the kill");
}

#[test]
fn seccomp_log_and_off_modes_let_it_live() {
    require_root!();
    for mode in ["log", "off"] {
        let dir = tempfile::tempdir().unwrap();
        let proxy_client::SpawnedHelper { client, child } =
            helper(dir.path(), &["--seccomp", mode], true);
        assert!(client.lstat("/").is_ok(), "{mode}: still serving");
        drop(client);
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{mode}: {:?}", out.status);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("still alive"),
            "{mode}"
        );
    }
    let (code, _, _) = {
        let out = Command::new(common::HELPER)
            .args(["-p", "/", "-f", "0", "--seccomp", "bogus"])
            .output()
            .unwrap();
        (out.status.code(), (), ())
    };
    assert_eq!(code, Some(1));
}

fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

#[test]
fn running_helper_is_confined() {
    require_root!();
    let dir = tempfile::tempdir().unwrap();
    let export = std::fs::canonicalize(dir.path()).unwrap();
    let h = helper(&export, &[], false);
    // One round trip: confinement is complete before the first request is read.
    assert!(h.client.lstat("/").is_ok());
    let pid = h.child.id();
    // CHOWN(0) DAC_OVERRIDE(1) FOWNER(3) FSETID(4) SETGID(6) SETUID(7) MKNOD(27).
    let kept = (1u64 << 0) | (1 << 1) | (1 << 3) | (1 << 4) | (1 << 6) | (1 << 7) | (1 << 27);
    for field in ["CapPrm", "CapEff", "CapBnd"] {
        let v = u64::from_str_radix(&status_field(pid, field), 16).unwrap();
        assert_eq!(v, kept, "{field} = {v:#x}");
    }
    assert_eq!(
        u64::from_str_radix(&status_field(pid, "CapInh"), 16).unwrap(),
        0
    );
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    assert_eq!(status_field(pid, "Seccomp"), "2", "filter mode");
    // Chrooted into the export: its root is the export's directory, on a detached copy
    // of the export's mounts (no parent: the kernel shows its path as "/", and it is in
    // no mount table), mounted nodev,nosuid.
    let root = format!("/proc/{pid}/root");
    let (theirs_root, export_meta) = (
        std::fs::metadata(&root).unwrap(),
        std::fs::metadata(&export).unwrap(),
    );
    assert_eq!(
        (theirs_root.dev(), theirs_root.ino()),
        (export_meta.dev(), export_meta.ino())
    );
    assert_eq!(std::fs::read_link(&root).unwrap(), Path::new("/"));
    let flags = rustix::fs::statvfs(&root).unwrap().f_flag;
    assert!(
        flags.contains(rustix::fs::StatVfsMountFlags::NODEV)
            && flags.contains(rustix::fs::StatVfsMountFlags::NOSUID),
        "{flags:?}"
    );
    // Its own mount namespace.
    let ours = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap();
    assert_ne!(ours, theirs, "private mount namespace");
    // Nothing leaked into our namespace.
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!host
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(export.to_str().unwrap())));
}
