//! `p9proxy serve` confines its front end: with the proxy backend it runs as nobody with
//! no capabilities, `no_new_privs`, a seccomp filter, an empty root and its own network
//! namespace; with the local backend it is chrooted into the export with the seven
//! file-server capabilities. A syscall outside the allowlist kills it.

mod common;
use common::is_root;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const P9PROXY: &str = env!("CARGO_BIN_EXE_p9proxy");

/// A temporary directory with an empty `export` directory in it.
fn temp_export() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    std::fs::create_dir(&export).unwrap();
    (dir, export)
}

/// Starts `p9proxy serve EXPORT --listen unix:SOCK ARGS...` and waits for the socket.
fn serve(export: &Path, sock: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(P9PROXY);
    cmd.arg("serve")
        .arg(export)
        .arg("--listen")
        .arg(format!("unix:{}", sock.display()));
    cmd.args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sock.exists() {
        if let Some(st) = child.try_wait().unwrap() {
            return_with(child, st);
            unreachable!();
        }
        assert!(Instant::now() < deadline, "server never listened");
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

fn return_with(child: Child, st: std::process::ExitStatus) {
    let out = child.wait_with_output().unwrap();
    panic!(
        "server exited early ({st:?}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn field(pid: u32, name: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap()
        .trim()
        .to_string()
}

/// One attach over the Unix socket, so that set-up is surely over.
fn poke(sock: &Path) {
    // The socket file appears at bind(2), a moment before listen(2): retry a refusal.
    let deadline = Instant::now() + Duration::from_secs(20);
    let s = loop {
        match std::os::unix::net::UnixStream::connect(sock) {
            Ok(s) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                assert!(Instant::now() < deadline, "{}: {e}", sock.display());
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("{}: {e}", sock.display()),
        }
    };
    let mut c = p9_client::Client::new(s);
    c.version(65536).unwrap();
    c.attach(0, 0).unwrap();
}

fn helper_next_to_p9proxy() -> bool {
    Path::new(P9PROXY)
        .with_file_name("virtfs-proxy-helper")
        .exists()
}

#[test]
fn proxy_front_end_is_unprivileged_and_confined() {
    if !is_root() || !helper_next_to_p9proxy() {
        eprintln!("SKIPPED: needs root and the helper built next to p9proxy");
        return;
    }
    let (dir, export) = temp_export();
    let sock = dir.path().join("s");
    let mut child = common::Killed(serve(&export, &sock, &[], &[]));
    poke(&sock);
    let pid = common::front_end(child.0.id());
    // PID 1 of a PID namespace of its own, below the process that was started.
    assert_ne!(pid, child.0.id());
    assert_eq!(common::ns_pid(pid), Some(1));
    // The dedicated user p9proxy where it exists (the Debian package makes it), else
    // nobody.
    let uid = p9_server::privsep::lookup("p9proxy").map_or(65534, |(uid, _)| uid);
    assert_eq!(
        field(pid, "Uid").split_whitespace().collect::<Vec<_>>(),
        [uid.to_string().as_str(); 4]
    );
    assert_eq!(u64::from_str_radix(&field(pid, "CapEff"), 16).unwrap(), 0);
    assert_eq!(u64::from_str_radix(&field(pid, "CapPrm"), 16).unwrap(), 0);
    assert_eq!(field(pid, "NoNewPrivs"), "1");
    assert_eq!(field(pid, "Seccomp"), "2");
    // Its root is an empty directory, not the host's / nor the export.
    let root = std::fs::read_link(format!("/proc/{pid}/root")).unwrap();
    assert_ne!(root, Path::new("/"));
    assert_ne!(root, export);
    // Its own network namespace: nothing new can be reached from it.
    assert_ne!(
        std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap(),
        std::fs::read_link("/proc/self/ns/net").unwrap()
    );
    child.0.kill().unwrap();
    let _ = child.0.wait();
}

#[test]
fn local_front_end_is_chrooted_with_seven_capabilities() {
    if !is_root() {
        eprintln!("SKIPPED: needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let export = std::fs::canonicalize(dir.path()).unwrap().join("export");
    std::fs::create_dir(&export).unwrap();
    let sock = dir.path().join("s");
    let mut child = common::Killed(serve(&export, &sock, &["--backend", "local"], &[]));
    poke(&sock);
    let pid = common::front_end(child.0.id());
    // PID 1 of a PID namespace of its own, below the process that was started.
    assert_ne!(pid, child.0.id());
    assert_eq!(common::ns_pid(pid), Some(1));
    let kept = (1u64 << 0) | (1 << 1) | (1 << 3) | (1 << 4) | (1 << 6) | (1 << 7) | (1 << 27);
    assert_eq!(
        u64::from_str_radix(&field(pid, "CapEff"), 16).unwrap(),
        kept
    );
    assert_eq!(
        u64::from_str_radix(&field(pid, "CapBnd"), 16).unwrap(),
        kept
    );
    assert_eq!(field(pid, "Seccomp"), "2");
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/root")).unwrap(),
        export
    );
    child.0.kill().unwrap();
    let _ = child.0.wait();
}

/// `--sandbox chroot` with the proxy backend: the front end's root is an empty directory
/// already removed (nothing can be created in it), and no `p9proxy-empty.PID` directory
/// is left in the temp dir, while the server runs or after.
#[test]
fn chroot_sandbox_root_is_removed_and_nothing_is_left_behind() {
    if !is_root() || !helper_next_to_p9proxy() {
        eprintln!("SKIPPED: needs root and the helper built next to p9proxy");
        return;
    }
    let (dir, export) = temp_export();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let sock = dir.path().join("s");
    let mut child = common::Killed(serve(
        &export,
        &sock,
        &["--sandbox", "chroot"],
        &[("TMPDIR", tmp.to_str().unwrap())],
    ));
    poke(&sock);
    let pid = common::front_end(child.0.id());
    let root = std::fs::read_link(format!("/proc/{pid}/root")).unwrap();
    assert!(
        root.to_string_lossy().ends_with(" (deleted)"),
        "{}",
        root.display()
    );
    let left = || -> Vec<_> {
        std::fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect()
    };
    assert_eq!(left(), Vec::<std::ffi::OsString>::new());
    child.0.kill().unwrap();
    let _ = child.0.wait();
    assert_eq!(left(), Vec::<std::ffi::OsString>::new());
}

fn forbidden_syscall_kills_the_front_end_with(selftest: &str, says: &str) {
    if !is_root() {
        eprintln!("SKIPPED: needs root");
        return;
    }
    let mut backends = vec!["local"];
    if helper_next_to_p9proxy() {
        backends.push("proxy");
    }
    for backend in backends {
        let (dir, export) = temp_export();
        let out = Command::new(P9PROXY)
            .arg("serve")
            .arg(&export)
            .args(["--backend", backend, "--listen"])
            .arg(format!("unix:{}", dir.path().join("s").display()))
            .env("P9PROXY_SECCOMP_SELFTEST", selftest)
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGSYS),
            "{backend}: {:?}",
            out.status
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{backend}: {err}");
        assert!(!err.contains("still alive"), "{backend}");
    }
}

#[test]
fn forbidden_syscall_kills_the_front_end() {
    forbidden_syscall_kills_the_front_end_with("1", "seccomp self-test: calling socket(2)");
}

/// The front end may start threads but not processes (`clone` is allowed with thread
/// flags only), so it can neither fork nor enter new namespaces.
#[test]
fn starting_a_process_kills_the_front_end() {
    forbidden_syscall_kills_the_front_end_with("spawn", "seccomp self-test: calling clone(2)");
}

/// Threads still start under the filter (glibc's clone3 answered ENOSYS, then clone).
#[test]
fn threads_start_under_the_filter() {
    if !is_root() {
        eprintln!("SKIPPED: needs root");
        return;
    }
    let (dir, export) = temp_export();
    let sock = dir.path().join("s");
    let mut child = serve(
        &export,
        &sock,
        &["--backend", "local"],
        &[("P9PROXY_SECCOMP_SELFTEST", "thread")],
    );
    // The server serves (a connection gets a thread of its own) after the self-test.
    poke(&sock);
    assert_eq!(child.try_wait().unwrap(), None, "the front end died");
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("seccomp self-test: thread started and joined"),
        "{err}"
    );
}

/// All processes below `pid` (from /proc).
fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let kids =
            std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
        for k in kids
            .split_whitespace()
            .filter_map(|k| k.parse::<u32>().ok())
        {
            out.push(k);
            todo.push(k);
        }
    }
    out
}

fn gone(pids: &[u32]) -> bool {
    pids.iter().all(|p| {
        std::fs::read_to_string(format!("/proc/{p}/stat"))
            .map(|s| s.rsplit_once(") ").is_some_and(|x| x.1.starts_with('Z')))
            .unwrap_or(true)
    })
}

/// `--sandbox namespace`: the process started waits outside (only CAP_KILL, under
/// seccomp) while its child serves as PID 1 of a PID namespace with the spawner and the
/// helpers inside; SIGTERM to the started process, or SIGKILL, takes them all down, and
/// SIGTERM is its exit status, as without the namespace.
#[test]
fn pid_namespace_parent_waits_and_takes_everything_down() {
    if !is_root() || !helper_next_to_p9proxy() {
        eprintln!("SKIPPED: needs root and the helper built next to p9proxy");
        return;
    }
    for sig in [libc::SIGTERM, libc::SIGKILL] {
        let (dir, export) = temp_export();
        let sock = dir.path().join("s");
        // Killed: a failed assertion below still takes the server down.
        let mut child = common::Killed(serve(&export, &sock, &[], &[]));
        poke(&sock);
        let parent = child.0.id();
        assert_eq!(field(parent, "CapEff"), format!("{:016x}", 1u64 << 5));
        assert_eq!(field(parent, "Seccomp"), "2");
        let below = descendants(parent);
        assert!(below.len() >= 4, "front end, spawner, helpers: {below:?}");
        assert!(below.iter().all(|&p| common::ns_pid(p) != Some(p)));
        // The namespace has a procfs of its own: the front end (PID 1 there) reopens its
        // fds through it, and no host process is in it.
        let front = *below
            .iter()
            .find(|&&p| common::ns_pid(p) == Some(1))
            .expect("a PID 1 below the parent");
        let links: Vec<String> = std::fs::read_dir(format!("/proc/{front}/fd"))
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
            .map(|l| l.display().to_string())
            .collect();
        assert!(
            links.iter().any(|l| l == "/proc/1/fd"),
            "the front end's /proc/self/fd is its namespace's: {links:?}"
        );
        let spawner = *below
            .iter()
            .find(|&&p| {
                common::ns_pid(p) != Some(1)
                    && std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default()
                        == "p9proxy\n"
            })
            .expect("the spawner");
        let mounts = std::fs::read_to_string(format!("/proc/{spawner}/mountinfo")).unwrap();
        assert!(
            mounts
                .lines()
                .any(|l| l.contains(" /proc ") && l.ends_with("subset=pid")),
            "{mounts}"
        );
        // SAFETY: kill(2) of our own child with a valid signal number.
        assert_eq!(unsafe { libc::kill(parent as i32, sig) }, 0);
        let st = child.0.wait().unwrap();
        assert_eq!(st.signal(), Some(sig), "{st:?}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !gone(&below) {
            assert!(Instant::now() < deadline, "left behind after signal {sig}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Every process of `serve --backend proxy` has a trimmed bounding set: the front end
/// none (as nobody), the helper spawner only what a helper needs to confine itself
/// (the file server's seven, SYS_ADMIN, SYS_CHROOT, SETPCAP), effective and bounding
/// alike, with `no_new_privs` and a syscall filter; the helpers it starts the file
/// server's seven.
#[test]
fn every_process_keeps_only_the_capabilities_it_needs() {
    if !is_root() || !helper_next_to_p9proxy() {
        eprintln!("SKIPPED: needs root and the helper built next to p9proxy");
        return;
    }
    let (dir, export) = temp_export();
    let sock = dir.path().join("s");
    let child = common::Killed(serve(&export, &sock, &[], &[]));
    poke(&sock);
    let front = common::front_end(child.0.id());
    let caps = |pid: u32, set: &str| u64::from_str_radix(&field(pid, set), 16).unwrap();
    let bits = |s: rustix::thread::CapabilitySet| s.bits();
    assert_eq!(caps(front, "CapBnd"), 0, "front end");
    let cmdline = |p: u32| std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
    let spawner = descendants(front)
        .into_iter()
        .find(|&p| {
            cmdline(p)
                .split(|&b| b == 0)
                .any(|a| a == b"__helper-spawner")
        })
        .expect("a helper spawner below the front end");
    let spawner_caps = bits(sandbox::caps::HELPER_START_CAPS);
    assert_eq!(caps(spawner, "CapBnd"), spawner_caps, "spawner");
    assert_eq!(caps(spawner, "CapEff"), spawner_caps, "spawner");
    assert_eq!(caps(spawner, "CapPrm"), spawner_caps, "spawner");
    assert_eq!(field(spawner, "NoNewPrivs"), "1", "spawner");
    assert_eq!(field(spawner, "Seccomp"), "2", "spawner: a syscall filter");
    let helpers = common::helpers_of(front);
    assert!(!helpers.is_empty());
    let file_server = bits(sandbox::caps::FILE_SERVER_CAPS);
    for h in helpers {
        // The pool starts a standby helper as the first is taken: one seen between its
        // exec and its own confinement still holds the spawner's set for a moment. Wait
        // for it to finish starting (it must, or this fails at the deadline).
        let deadline = Instant::now() + Duration::from_secs(20);
        let settled = |h: u32| {
            let Ok(status) = std::fs::read_to_string(format!("/proc/{h}/status")) else {
                return true; // gone: nothing to check
            };
            let get = |name: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}:")))
                    .map(|v| v.trim().to_string())
            };
            get("NoNewPrivs").as_deref() == Some("1")
                && get("CapBnd").and_then(|v| u64::from_str_radix(&v, 16).ok()) == Some(file_server)
        };
        while !settled(h) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if std::fs::metadata(format!("/proc/{h}")).is_err() {
            continue;
        }
        assert_eq!(caps(h, "CapBnd"), file_server, "helper");
        assert_eq!(caps(h, "CapEff"), file_server, "helper");
        assert_eq!(field(h, "NoNewPrivs"), "1", "helper");
        assert_eq!(field(h, "Seccomp"), "2", "helper");
    }
    drop(child);
}

/// A mount inside the export (here a tmpfs at `sub`) is `nodev,nosuid` for the helpers
/// too, not just the export's own mount: the fd the front end holds for a fid on it
/// (from the helpers' detached copy of the export's mounts) is on a nodev, nosuid mount.
#[test]
fn submounts_are_nodev_nosuid() {
    if !is_root() || !helper_next_to_p9proxy() {
        eprintln!("SKIPPED: needs root and the helper built next to p9proxy");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = rustix::mount::unmount(&self.0, rustix::mount::UnmountFlags::DETACH);
        }
    }
    let (dir, export) = temp_export();
    let sub = export.join("sub");
    std::fs::create_dir(&sub).unwrap();
    rustix::mount::mount(
        "tmpfs",
        &sub,
        "tmpfs",
        rustix::mount::MountFlags::empty(),
        Some(c"size=1m"),
    )
    .unwrap();
    let _unmount = Unmount(sub.clone());
    std::fs::write(sub.join("marker"), b"").unwrap();
    let sock = dir.path().join("s");
    let child = common::Killed(serve(&export, &sock, &[], &[]));
    poke(&sock);
    let front = common::front_end(child.0.id());
    let mut c = p9_client::Client::new(std::os::unix::net::UnixStream::connect(&sock).unwrap());
    c.version(65536).unwrap();
    c.attach(0, 0).unwrap();
    c.walk(0, 1, &[b"sub", b"marker"]).unwrap();
    // The front end's fds of files on the tmpfs (its magic links reach them).
    let dev = std::os::unix::fs::MetadataExt::dev(&std::fs::metadata(&sub).unwrap());
    let on_sub: Vec<rustix::fs::StatVfs> = std::fs::read_dir(format!("/proc/{front}/fd"))
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::metadata(e.path())
                .is_ok_and(|m| std::os::unix::fs::MetadataExt::dev(&m) == dev)
        })
        .map(|e| rustix::fs::statvfs(e.path()).unwrap())
        .collect();
    assert!(
        !on_sub.is_empty(),
        "no fd of the front end is on the submount"
    );
    for st in on_sub {
        use rustix::fs::StatVfsMountFlags as V;
        assert!(st.f_flag.contains(V::NODEV | V::NOSUID), "{:?}", st.f_flag);
    }
    drop(c);
    drop(child);
}
