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
    for d in ["usr/bin", "etc/systemd/system", "usr/lib/systemd"] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    let st = Command::new("cp")
        .args(["-r", "/usr/lib/systemd/system"])
        .arg(r.join("usr/lib/systemd/"))
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::copy(P9PROXY, r.join("usr/bin/p9proxy")).unwrap();
    for u in ["p9proxy@.service", "p9proxy@.socket"] {
        std::fs::copy(units_dir().join(u), r.join("etc/systemd/system").join(u)).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", r.display()))
        .arg("--man=no")
        .args(["p9proxy@srv-export.socket", "p9proxy@srv-export.service"])
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
