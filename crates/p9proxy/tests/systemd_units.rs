//! The systemd units under packaging/systemd pass `systemd-analyze verify` (with no
//! warning at all: unknown keys are only warnings there), as instances, against a root
//! holding the built binary at /usr/bin/p9proxy; their capability names are real.

use std::path::Path;
use std::process::Command;

const P9PROXY: &str = env!("CARGO_BIN_EXE_p9proxy");

fn units_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/systemd")
}

fn have_analyze() -> bool {
    let ok = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!(
            "SKIP: systemd-analyze not found (Debian package systemd; scripts/install-deps.sh)"
        );
    }
    ok
}

#[test]
fn verify() {
    if !have_analyze() {
        return;
    }
    // A root with the system's own units (sysinit.target and friends), ours, and the
    // binary where ExecStart= names it.
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    for d in ["usr/bin", "bin", "etc/systemd/system", "usr/lib/systemd"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    let st = Command::new("cp")
        .args(["-r", "/usr/lib/systemd/system"])
        .arg(r.join("usr/lib/systemd/"))
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::copy(P9PROXY, r.join("usr/bin/p9proxy")).unwrap();
    // p9proxy.service's ExecReload= (kill -HUP).
    std::fs::copy("/bin/kill", r.join("bin/kill")).unwrap();
    for u in ["p9proxy@.service", "p9proxy@.socket", "p9proxy.service"] {
        std::fs::copy(units_dir().join(u), r.join("etc/systemd/system").join(u)).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", r.display()))
        .arg("--man=no")
        .args([
            "p9proxy@srv-export.socket",
            "p9proxy@srv-export.service",
            "p9proxy.service",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{err}"
    );
    assert!(
        err.trim().is_empty(),
        "systemd-analyze verify warned:\n{err}"
    );
}

#[test]
fn capabilities_are_known() {
    if !have_analyze() {
        return;
    }
    let unit = std::fs::read_to_string(units_dir().join("p9proxy@.service")).unwrap();
    let caps: Vec<&str> = unit
        .lines()
        .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .expect("CapabilityBoundingSet= in p9proxy@.service")
        .split_whitespace()
        .collect();
    assert!(caps.contains(&"CAP_SYS_ADMIN") && caps.contains(&"CAP_MKNOD"));
    let out = Command::new("systemd-analyze")
        .arg("capability")
        .output()
        .unwrap();
    if !out.status.success() {
        println!("SKIP: this systemd-analyze has no `capability` verb");
        return;
    }
    let known = String::from_utf8_lossy(&out.stdout).to_lowercase();
    for c in caps {
        assert!(
            known.split_whitespace().any(|w| w == c.to_lowercase()),
            "{c} is not a capability systemd knows"
        );
    }
}

/// The service's `NoNewPrivileges=yes` and `CapabilityBoundingSet=` (applied with
/// `setpriv`, as systemd would) leave the default proxy backend room to start its
/// helpers, confine itself and serve clients that create a directory as uid 1000 and a
/// device node as root; without CAP_SYS_ADMIN it cannot start (the set is not too big there).
#[test]
fn bounding_set_suffices() {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    use std::os::unix::net::UnixStream;

    use p9_client::Client;

    if !rustix::process::geteuid().is_root() {
        println!("SKIP: needs root (the proxy backend starts privileged helpers)");
        return;
    }
    if Command::new("setpriv").arg("--help").output().is_err() {
        println!("SKIP: setpriv (util-linux) not found");
        return;
    }
    let unit = std::fs::read_to_string(units_dir().join("p9proxy@.service")).unwrap();
    let caps: Vec<String> = unit
        .lines()
        .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .unwrap()
        .split_whitespace()
        .map(|c| c.trim_start_matches("CAP_").to_lowercase())
        .collect();
    let bounding = |caps: &[String]| {
        let mut s = String::from("-all");
        for c in caps {
            s.push_str(",+");
            s.push_str(c);
        }
        s
    };
    let d = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        d.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let export = d.path().join("export");
    std::fs::create_dir(&export).unwrap();
    std::fs::set_permissions(&export, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let serve = |set: &str, sock: &Path| {
        Command::new("setpriv")
            .args(["--no-new-privs", "--bounding-set", set, P9PROXY, "serve"])
            .arg(format!("--listen=unix:{}", sock.display()))
            .arg(&export)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };

    // Without CAP_SYS_ADMIN: no namespaces, the server gives up.
    let without: Vec<String> = caps.iter().filter(|c| *c != "sys_admin").cloned().collect();
    let out = serve(&bounding(&without), &d.path().join("no.sock"))
        .wait_with_output()
        .unwrap();
    assert!(!out.status.success());

    let sock = d.path().join("p9.sock");
    let mut child = serve(&bounding(&caps), &sock);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let stream = loop {
        match UnixStream::connect(&sock) {
            Ok(s) => break s,
            Err(e) => {
                if std::time::Instant::now() > deadline || child.try_wait().unwrap().is_some() {
                    let _ = child.kill();
                    let out = child.wait_with_output().unwrap();
                    panic!(
                        "server did not come up ({e}):\n{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    };
    let mut c = Client::new(stream);
    let result = (|| -> p9_client::Result<()> {
        c.version(1 << 20)?;
        c.attach(0, 1000)?;
        c.mkdir(0, b"dir", 0o755, 1000)?;
        c.attach(10, 0)?;
        c.mknod(10, b"null", libc::S_IFCHR | 0o644, 1, 3, 0)?;
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    result.unwrap();
    let dir = std::fs::metadata(export.join("dir")).unwrap();
    assert!(dir.is_dir() && dir.uid() == 1000 && dir.gid() == 1000);
    let node = std::fs::symlink_metadata(export.join("null")).unwrap();
    assert!(node.file_type().is_char_device() && node.uid() == 0);
    assert_eq!(node.rdev(), libc::makedev(1, 3));
}
