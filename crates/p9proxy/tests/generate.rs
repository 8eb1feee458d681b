//! `p9proxy __generate DIR` writes man pages and shell completions (packaged by
//! scripts/build-deb.sh), and keeps them out of `--help`.

use std::process::Command;

const P9PROXY: &str = env!("CARGO_BIN_EXE_p9proxy");

#[test]
fn man_pages_and_completions() {
    let d = tempfile::tempdir().unwrap();
    let st = Command::new(P9PROXY)
        .arg("__generate")
        .arg(d.path())
        .status()
        .unwrap();
    assert!(st.success());
    let read = |p: &str| std::fs::read_to_string(d.path().join(p)).unwrap();
    let serve = read("man/p9proxy-serve.1");
    assert!(
        serve.starts_with(".ie") || serve.contains(".TH p9proxy-serve 1"),
        "{serve}"
    );
    for word in ["\\-\\-listen", "\\-\\-backend", "LISTEN_FDS"] {
        assert!(serve.contains(word), "p9proxy-serve.1 lacks {word}");
    }
    assert!(read("man/p9proxy.1").contains("serve"));
    assert!(
        serve.contains("\\-\\-config"),
        "p9proxy-serve.1 lacks --config"
    );
    assert!(
        !serve.contains("connections\\-fd"),
        "internal flag in p9proxy-serve.1"
    );
    assert!(read("man/p9proxy-check-config.1").contains("LINE"));
    assert!(read("man/p9proxy-stats.1").contains("\\-\\-prometheus"));
    let helper = read("man/virtfs-proxy-helper.1");
    assert!(
        helper.contains("virtfs\\-proxy\\-helper") && helper.contains("\\-\\-nodaemon"),
        "{helper}"
    );
    assert!(!d.path().join("man/p9proxy-__helper-spawner.1").exists());
    assert!(read("completions/p9proxy.bash").contains("--listen"));
    assert!(read("completions/_p9proxy").contains("--listen"));
    assert!(read("completions/p9proxy.fish").contains("listen"));
    let help = Command::new(P9PROXY).arg("--help").output().unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains("__generate"));
}
