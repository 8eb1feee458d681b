//! `p9proxy serve --helper-socket` with QEMU's own C helper as the privileged backend
//! (`/usr/lib/qemu/virtfs-proxy-helper`, Debian's qemu-system-common 7.2).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use p9_client::Client;
use p9_wire::*;

const P9PROXY: &str = env!("CARGO_BIN_EXE_p9proxy");
const C_HELPER: &str = "/usr/lib/qemu/virtfs-proxy-helper";

fn wait_for(p: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !p.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", p.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn serves_through_qemus_c_helper() {
    if !rustix::process::geteuid().is_root() || !Path::new(C_HELPER).exists() {
        assert!(
            std::env::var_os("CI").is_none() || !rustix::process::geteuid().is_root(),
            "CI has the C helper"
        );
        eprintln!("SKIPPED: needs root and {C_HELPER}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    std::fs::create_dir(&export).unwrap();
    std::fs::write(export.join("hello"), b"hello from the host").unwrap();
    let helper_sock = dir.path().join("helper.sock");
    let mut helper = Command::new(C_HELPER)
        .arg("-p")
        .arg(&export)
        .arg("-s")
        .arg(&helper_sock)
        .args(["-u", "0", "-g", "0", "-n"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&helper_sock);
    let sock = dir.path().join("9p.sock");
    let mut server = Command::new(P9PROXY)
        .arg("serve")
        .arg(&export)
        .arg("--helper-socket")
        .arg(&helper_sock)
        .arg("--listen")
        .arg(format!("unix:{}", sock.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&sock);
    let mut c = Client::new(std::os::unix::net::UnixStream::connect(&sock).unwrap());
    c.version(1 << 20).unwrap();
    c.attach(0, 0).unwrap();
    // Read through a walk and an open (fds from the C helper).
    c.walk_path(0, 1, "hello").unwrap();
    c.lopen(1, P9_DOTL_RDONLY).unwrap();
    assert_eq!(c.read_all(1).unwrap(), b"hello from the host");
    assert_eq!(c.getattr(1).unwrap().size, 19);
    // Create and write as uid 1000 (the C helper switches credentials).
    c.walk(0, 2, &[]).unwrap();
    c.attach(3, 1000).unwrap();
    c.walk(3, 4, &[]).unwrap();
    c.lcreate(4, b"new", P9_DOTL_RDWR, 0o640, 1000).unwrap();
    assert_eq!(c.write(4, 0, b"written").unwrap(), 7);
    c.clunk(4).unwrap();
    c.mkdir(0, b"dir", 0o750, 0).unwrap();
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(export.join("new")).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o777), (1000, 1000, 0o640));
    assert_eq!(std::fs::read(export.join("new")).unwrap(), b"written");
    assert!(export.join("dir").is_dir());
    drop(c);
    server.kill().unwrap();
    let _ = server.wait();
    let _ = helper.wait(); // its one connection closed with the server
}
