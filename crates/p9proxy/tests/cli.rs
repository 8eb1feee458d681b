//! The `p9proxy` command line: help and errors, and serving real clients over
//! `--stdio`, `--fd` and a Unix listener with the local backend.

use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

use p9_client::Client;
use p9_wire::*;

const P9PROXY: &str = env!("CARGO_BIN_EXE_p9proxy");

/// A child that is killed when the test ends, whatever happens.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn export() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("export")).unwrap();
    std::fs::write(d.path().join("export/hello"), b"hello from p9proxy").unwrap();
    d
}

fn read_hello<S: std::io::Read + std::io::Write>(c: &mut Client<S>) {
    let (msize, v) = c.version(1 << 20).unwrap();
    assert_eq!(v, b"9P2000.L");
    assert!(msize >= 8192);
    c.attach(0, 0).unwrap();
    c.walk(0, 1, &[b"hello"]).unwrap();
    c.lopen(1, P9_DOTL_RDONLY).unwrap();
    assert_eq!(c.read_all(1).unwrap(), b"hello from p9proxy");
}

#[test]
fn help_and_errors() {
    let out = Command::new(P9PROXY)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for word in [
        "--listen",
        "--stdio",
        "--fd",
        "--backend",
        "--user",
        "--msize-max",
        "--max-connections",
        "--max-fids",
        "--trace",
        "--control",
        "--metrics-listen",
        "mount -t 9p",
    ] {
        assert!(help.contains(word), "help mentions {word}");
    }
    // Usage errors: clap's exit status 2.
    let out = Command::new(P9PROXY).args(["serve"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(P9PROXY)
        .args(["serve", "--listen", "udp:1.2.3.4:5", "/tmp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcp:HOST:PORT"));
    let out = Command::new(P9PROXY)
        .args(["serve", "--msize-max", "100", "/tmp"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // A missing export: a one-line error and status 1.
    let out = Command::new(P9PROXY)
        .args([
            "serve",
            "--backend",
            "local",
            "--stdio",
            "/nonexistent/export",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/export"));
}

#[test]
fn serves_stdio() {
    let d = export();
    let (ours, theirs) = UnixStream::pair().unwrap();
    let child = Command::new(P9PROXY)
        .args(["serve", "--backend", "local", "--stdio"])
        .arg(d.path().join("export"))
        .stdin(std::os::fd::OwnedFd::from(theirs.try_clone().unwrap()))
        .stdout(std::os::fd::OwnedFd::from(theirs))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    let mut c = Client::new(ours);
    read_hello(&mut c);
    drop(c);
    // One client, then it exits.
    assert!(child.0.wait().unwrap().success());
}

/// Two pipes as one client stream (what `--stdio` gets from `ssh` or a pipeline).
struct Pipes {
    from_server: std::fs::File,
    to_server: std::fs::File,
}

impl std::io::Read for Pipes {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        self.from_server.read(b)
    }
}

impl std::io::Write for Pipes {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.to_server.write(b)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.to_server.flush()
    }
}

/// `--stdio` on pipes, with each backend (the proxy one as root: sandboxed, under its
/// seccomp filter): one client, then a clean exit. The proxy backend's front end was
/// killed by its filter twice here: identifying a pipe's peer called `geteuid`, and
/// reaping the helper spawner at exit `wait4`.
#[test]
fn serves_stdio_pipes_and_exits_cleanly() {
    let backends: &[&str] = if rustix::process::geteuid().is_root() {
        &["local", "proxy"]
    } else {
        &["local"]
    };
    for backend in backends {
        let d = export();
        let (in_r, in_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let (out_r, out_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        let child = Command::new(P9PROXY)
            .args(["serve", "--backend", backend, "--stdio"])
            .arg(d.path().join("export"))
            .stdin(in_r)
            .stdout(out_w)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut child = Killed(child);
        let mut c = Client::new(Pipes {
            from_server: std::fs::File::from(out_r),
            to_server: std::fs::File::from(in_w),
        });
        read_hello(&mut c);
        drop(c);
        let st = child.0.wait().unwrap();
        assert!(st.success(), "{backend}: {st:?}");
    }
}

#[test]
fn serves_an_inherited_fd() {
    let d = export();
    let (ours, theirs) = UnixStream::pair().unwrap();
    // The child inherits `theirs` (no CLOEXEC on the dup) as the same number.
    let fd = rustix::io::dup(&theirs).unwrap();
    let n = fd.as_raw_fd();
    let child = Command::new(P9PROXY)
        .args(["serve", "--backend", "local", "--fd", &n.to_string()])
        .arg(d.path().join("export"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(fd);
    drop(theirs);
    let mut child = Killed(child);
    let mut c = Client::new(ours);
    read_hello(&mut c);
    drop(c);
    assert!(child.0.wait().unwrap().success());
    // A descriptor that is not open.
    let out = Command::new(P9PROXY)
        .args(["serve", "--backend", "local", "--fd", "987"])
        .arg(d.path().join("export"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--fd 987"));
}

#[test]
fn serves_a_unix_listener_and_prints_the_mount_command() {
    let d = export();
    let sock = d.path().join("p9.sock");
    let child = Command::new(P9PROXY)
        .args(["serve", "--backend", "local", "--max-connections", "4"])
        .arg("--listen")
        .arg(format!("unix:{}", sock.display()))
        .arg(d.path().join("export"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    // The announcement comes once the listener is bound.
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("unix:"), "{first}");
    let hint = lines.next().unwrap().unwrap();
    assert!(
        hint.contains("mount -t 9p -o trans=unix,version=9p2000.L,msize=4194304"),
        "{hint}"
    );
    for _ in 0..2 {
        let mut c = Client::new(UnixStream::connect(&sock).unwrap());
        read_hello(&mut c);
        // The aname may be the export path.
        let export = d.path().join("export");
        c.attach_to(5, 0, export.as_os_str().as_encoded_bytes())
            .unwrap();
    }
}
