//! systemd socket activation: `p9proxy serve` under `systemd-socket-activate` takes the
//! listening socket it is passed (`LISTEN_FDS`) instead of binding `--listen`, on a Unix
//! socket and on a loopback TCP port, and serves 9P on it.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use p9_client::Client;
use p9_wire::*;

const P9PROXY: &str = env!("CARGO_BIN_EXE_p9proxy");
const ACTIVATE: &str = "systemd-socket-activate";

/// A child that is killed when the test ends, whatever happens.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have_activate() -> bool {
    let ok = Command::new(ACTIVATE)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("SKIP: {ACTIVATE} not found (Debian package systemd; scripts/install-deps.sh)");
    }
    ok
}

fn export(dir: &Path) -> std::path::PathBuf {
    let e = dir.join("export");
    std::fs::create_dir(&e).unwrap();
    std::fs::write(e.join("hello"), b"hello from p9proxy").unwrap();
    e
}

/// Starts `systemd-socket-activate -l LISTEN p9proxy serve --backend local EXPORT`, with
/// a `--listen` that must be ignored (binding it would fail: the port is taken).
fn activate(listen: &str, export: &Path, taken: &std::net::TcpListener) -> Killed {
    activate_with(listen, export, taken, "local")
}

fn activate_with(
    listen: &str,
    export: &Path,
    taken: &std::net::TcpListener,
    backend: &str,
) -> Killed {
    let ignored = format!("tcp:{}", taken.local_addr().unwrap());
    let child = Command::new(ACTIVATE)
        .args(["-l", listen, "--", P9PROXY, "serve", "--backend", backend])
        .args(["--listen", &ignored])
        .arg(export)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Killed(child)
}

fn retry<T>(mut f: impl FnMut() -> std::io::Result<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match f() {
            Ok(t) => return t,
            Err(e) if Instant::now() > deadline => panic!("cannot connect: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn read_hello<S: std::io::Read + std::io::Write>(c: &mut Client<S>) {
    let (_, v) = c.version(1 << 20).unwrap();
    assert_eq!(v, b"9P2000.L");
    c.attach(0, 0).unwrap();
    c.walk(0, 1, &[b"hello"]).unwrap();
    c.lopen(1, P9_DOTL_RDONLY).unwrap();
    assert_eq!(c.read_all(1).unwrap(), b"hello from p9proxy");
}

/// The server's own announcement: it serves on the passed socket.
fn check_announced(child: &mut Killed, want: &str) {
    let out = child.0.stdout.take().unwrap();
    let line = BufReader::new(out).lines().next().unwrap().unwrap();
    assert!(line.contains(want), "{line}");
}

#[test]
fn unix_socket() {
    if !have_activate() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let e = export(d.path());
    let sock = d.path().join("p9.sock");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut child = activate(sock.to_str().unwrap(), &e, &taken);
    // systemd-socket-activate binds first and starts the server on the first connection.
    let s = retry(|| UnixStream::connect(&sock));
    let mut c = Client::new(s);
    read_hello(&mut c);
    // A second client on the same listener (the server keeps accepting).
    let mut c2 = Client::new(UnixStream::connect(&sock).unwrap());
    read_hello(&mut c2);
    check_announced(&mut child, &format!("on unix:{}", sock.display()));
}

#[test]
fn tcp_loopback() {
    if !have_activate() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let e = export(d.path());
    // A free port: bound and released (systemd-socket-activate cannot report port 0).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut child = activate(&addr, &e, &taken);
    let s = retry(|| TcpStream::connect(&addr));
    let mut c = Client::new(s);
    read_hello(&mut c);
    check_announced(&mut child, &format!("on tcp:{addr}"));
    // The log says where the listener came from.
    drop(c);
    let _ = child.0.kill();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.0.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("socket-activated"), "{err}");
    assert!(err.contains("--listen is ignored"), "{err}");
}

/// The processes below `pid` (children, recursively).
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let kids = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            for k in kids.split_whitespace().filter_map(|k| k.parse().ok()) {
                out.push(k);
                todo.push(k);
            }
        }
    }
    out
}

/// With the proxy backend (root: it starts the helper spawner and helpers after taking
/// the passed socket), the listening socket is close-on-exec: no helper holds it.
#[test]
fn helpers_do_not_inherit_the_listener() {
    if !have_activate() {
        return;
    }
    if !rustix::process::geteuid().is_root() {
        println!("SKIP: the proxy backend starts its own helpers only as root");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let e = export(d.path());
    let sock = d.path().join("p9.sock");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let child = activate_with(sock.to_str().unwrap(), &e, &taken, "proxy");
    let mut c = Client::new(retry(|| UnixStream::connect(&sock)));
    read_hello(&mut c);
    // systemd-socket-activate execs the server: same pid; the passed socket is fd 3.
    // (The server proper is PID 1 of a PID namespace below it.)
    let pid = common::front_end(child.0.id());
    let listener = std::fs::read_link(format!("/proc/{pid}/fd/3")).unwrap();
    assert!(
        listener.to_string_lossy().starts_with("socket:["),
        "{listener:?}"
    );
    let kids = descendants(pid);
    assert!(kids.len() >= 2, "no helper spawner and helpers below {pid}");
    for k in kids {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{k}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let target = std::fs::read_link(fd.path()).unwrap_or_default();
            assert_ne!(target, listener, "process {k} inherited the listener");
        }
    }
}
