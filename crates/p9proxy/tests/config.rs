//! The config file: `p9proxy check-config` on good and bad files (each error at its
//! line and column), and `p9proxy serve --config` (as root): a supervisor serving two
//! exports (proxy and local backends) on TCP and Unix sockets, restarting a server that
//! dies, reloading on SIGHUP (an export added, one removed, one made read-only) while
//! connections opened before the reload go on, keeping the running config when the new
//! file is invalid, and leaving no process behind on SIGTERM.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::{free_port, is_root};

use p9_client::Client;
use p9_wire::*;
use rustix::io::Errno;

const P9PROXY: &str = env!("CARGO_BIN_EXE_p9proxy");

fn check(file: &Path) -> (i32, String, String) {
    let out = Command::new(P9PROXY)
        .arg("check-config")
        .arg(file)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `check-config` on `text`: its exit status and the `LINE:COL: message` of each error.
fn check_text(dir: &Path, text: &str) -> (i32, Vec<String>) {
    let f = dir.join("p9proxy.toml");
    std::fs::write(&f, text).unwrap();
    let (code, _, err) = check(&f);
    let prefix = format!("{}:", f.display());
    let lines = err
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(str::to_string)
        .collect();
    (code, lines)
}

#[test]
fn check_config_good_file() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    let f = t.path().join("p9proxy.toml");
    std::fs::write(
        &f,
        format!(
            r#"# Two exports.
[defaults]
backend = "local"
max_connections = 16

[[export]]
name = "src"
path = "{}"
listen = ["tcp:127.0.0.1:5641", "unix:{}/a.sock"]
readonly = true
msize_max = "512K"

[[export]]
path = "{}"
listen = ["tcp:[::1]:5641"]
backend = "proxy"
user = "nobody"
helpers = 4
sandbox = "namespace"
seccomp = "kill"
max_fids = 1000
"#,
            a.display(),
            t.path().display(),
            b.display()
        ),
    )
    .unwrap();
    let (code, out, err) = check(&f);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with(&format!("{}: OK, 2 exports\n", f.display())),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "src: {} on tcp:127.0.0.1:5641, unix:{}/a.sock (local backend, read-only)",
            a.display(),
            t.path().display()
        )),
        "{out}"
    );
    assert!(out.contains("on tcp:[::1]:5641 (proxy backend)"), "{out}");
}

#[test]
fn check_config_errors_at_their_lines() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().display().to_string();
    let file = t.path().join("file");
    std::fs::write(&file, b"").unwrap();
    // Each kind of error, alone, at its line and column.
    let cases: Vec<(String, &str)> = vec![
        // Syntax.
        (
            "[[export]]\npath = \"/tmp\nlisten = []\n".into(),
            "2:13: invalid basic string",
        ),
        // An unknown key (a typo).
        (
            format!("[[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:5641\"]\nreadnly = true\n"),
            "4:1: unknown field `readnly`",
        ),
        // A value of the wrong type.
        (
            format!("[[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:5641\"]\nhelpers = \"two\"\n"),
            "4:11: invalid type: string \"two\", expected u64",
        ),
        // A path that does not exist, one that is a file, a relative one.
        (
            "[[export]]\npath = \"/nonexistent/p9proxy\"\nlisten = [\"tcp:127.0.0.1:5641\"]\n".into(),
            "2:8: path /nonexistent/p9proxy: No such file or directory",
        ),
        (
            format!("[[export]]\nlisten = [\"tcp:127.0.0.1:5641\"]\npath = \"{}\"\n", file.display()),
            "3:8: path ",
        ),
        (
            "[[export]]\nlisten = [\"tcp:127.0.0.1:5641\"]\n\npath = \"srv\"\n".into(),
            "4:8: path \"srv\" is not absolute",
        ),
        // Listen addresses: malformed, unresolvable, a Unix one in a missing directory,
        // the same address twice (at the second, naming the first's line).
        (
            format!("[[export]]\npath = \"{d}\"\nlisten = [\"udp:1.2.3.4:5\"]\n"),
            "3:11: listen: \"udp:1.2.3.4:5\": expected tcp:HOST:PORT or unix:PATH",
        ),
        (
            format!("[[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:99999\"]\n"),
            "3:11: listen: \"tcp:127.0.0.1:99999\": cannot resolve",
        ),
        (
            format!("[[export]]\npath = \"{d}\"\nlisten = [\"unix:/nonexistent/p9.sock\"]\n"),
            "3:11: listen: /nonexistent/p9.sock: its directory does not exist",
        ),
        (
            format!(
                "[[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:5641\"]\n\n\
                 [[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:5641\", \"unix:{d}/x.sock\"]\n"
            ),
            "7:11: listen address tcp:127.0.0.1:5641 is already used at line 3",
        ),
        // A missing path and listen: at the [[export]].
        (
            "\n[[export]]\nname = \"x\"\nlisten = [\"tcp:127.0.0.1:5641\"]\n".into(),
            "2:1: this [[export]] has no `path`",
        ),
        (
            format!("# no listen\n[[export]]\npath = \"{d}\"\n"),
            "2:1: this [[export]] has no `listen`",
        ),
        // Values out of their sets.
        (
            format!("[[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:5641\"]\nbackend = \"nfs\"\n"),
            "4:11: backend = \"nfs\": expected one of proxy, local",
        ),
        (
            format!("[[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:5641\"]\nsecurity_model = \"mapped\"\n"),
            "4:18: security_model = \"mapped\": expected one of passthrough, mapped-xattr, mapped-file, none",
        ),
        (
            format!("[[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:5641\"]\nseccomp = \"strict\"\n"),
            "4:11: seccomp: unknown seccomp mode",
        ),
        // A user that does not exist.
        (
            format!("[[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:5641\"]\nuser = \"no-such-user-p9\"\n"),
            "4:8: user: ",
        ),
        // Numbers and sizes.
        (
            format!("[[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:5641\"]\nmax_fids = 0\n"),
            "4:12: max_fids = 0: expected at least 1",
        ),
        (
            format!("[[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:5641\"]\nmsize_max = \"1K\"\n"),
            "4:13: msize_max: msize must be at least",
        ),
        // Maps.
        (
            format!(
                "[[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:5641\"]\n\
                 uid_map = [\"0:1000:1\",\n  \"5:6\"]\n"
            ),
            "5:3: uid_map: \"5:6\": expected \"CLIENT:HOST:COUNT\"",
        ),
        (
            format!("[[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:5641\"]\nsquash = \"nobody\"\n"),
            "4:10: squash = \"nobody\": expected \"UID:GID\"",
        ),
        // Identity and socket keys.
        (
            format!("[[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:5641\"]\nallow_users = [\"root\", \"no-such-user-p9\"]\n"),
            "4:24: allow_users: \"no-such-user-p9\": no such user",
        ),
        (
            format!("[[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:5641\"]\nsocket_mode = \"999\"\n"),
            "4:15: socket_mode: \"999\" is not an octal mode",
        ),
        (
            format!("[[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:5641\"]\nsocket_group = \"no-such-group-p9\"\n"),
            "4:16: socket_group: no-such-group-p9: no such group",
        ),
        // Every serve option is a key, checked as its flag is: a metrics address taken
        // by a listener.
        (
            format!("[[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:5641\"]\nmetrics_listen = \"tcp:127.0.0.1:5641\"\n"),
            "4:18: listen address tcp:127.0.0.1:5641 is already used at line 3",
        ),
        // A wrong key of [defaults]: once, not once per export inheriting it.
        (
            format!(
                "[defaults]\nhelpers = 0\n[[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:5641\"]\n\
                 [[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:5642\"]\n"
            ),
            "2:11: helpers = 0: expected at least 1",
        ),
        // path in [defaults].
        (
            format!("[defaults]\npath = \"{d}\"\n[[export]]\npath = \"{d}\"\nlisten = [\"tcp:127.0.0.1:5641\"]\n"),
            "2:8: `path` belongs in an [[export]], not in [defaults]",
        ),
    ];
    for (text, want) in &cases {
        let (code, errors) = check_text(t.path(), text);
        assert_eq!(code, 1, "{text}");
        assert_eq!(errors.len(), 1, "{text}\n{errors:?}");
        assert!(
            errors[0].starts_with(want),
            "{text}\nwant {want}\ngot  {}",
            errors[0]
        );
    }
    // Several errors: all reported, in file order.
    let (code, errors) = check_text(
        t.path(),
        "[[export]]\npath = \"/nonexistent/a\"\nlisten = [\"tcp:nohost\"]\n\
         [[export]]\npath = \"/nonexistent/b\"\nlisten = [\"unix:/tmp/p9-check.sock\"]\n",
    );
    assert_eq!(code, 1);
    let at: Vec<&str> = errors
        .iter()
        .map(|e| e.split(": ").next().unwrap())
        .collect();
    assert_eq!(at, ["2:8", "3:11", "5:8"], "{errors:?}");
    // A file that cannot be read.
    let (code, _, err) = check(&t.path().join("missing.toml"));
    assert_eq!(code, 1);
    assert!(err.contains("missing.toml: cannot read"), "{err}");
}

// ---------------------------------------------------------------------------------------
// The supervisor (root).

/// `p9proxy serve --config FILE`, its stderr collected; stopped (SIGTERM) when dropped.
struct Supervisor {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Supervisor {
    fn start(config: &Path) -> Supervisor {
        let mut child = Command::new(P9PROXY)
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (err, l) = (child.stderr.take().unwrap(), Arc::clone(&log));
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("supervisor: {line}");
                let mut l = l.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let s = Supervisor { child, log };
        s.wait_log("supervisor running", 1);
        s
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits until `what` was logged `n` times.
    fn wait_log(&self, what: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.log.lock().unwrap().matches(what).count() >= n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "never logged {what:?} ({n}×):\n{}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, sig: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.pid()).unwrap();
        rustix::process::kill_process(pid, sig).unwrap();
    }

    fn hup(&self) {
        let n = self
            .log
            .lock()
            .unwrap()
            .matches("SIGHUP: reloading")
            .count();
        self.signal(rustix::process::Signal::HUP);
        self.wait_log("SIGHUP: reloading", n + 1);
    }

    /// SIGTERM; the supervisor exits and no process it started is left.
    fn stop(mut self) {
        let before = descendants(self.pid());
        assert!(!before.is_empty());
        self.signal(rustix::process::Signal::TERM);
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}");
        let left: Vec<i32> = before.into_iter().filter(|&p| alive(p)).collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal(rustix::process::Signal::TERM);
            let _ = self.child.wait();
        }
    }
}

/// The parent of each process.
fn parents() -> HashMap<i32, i32> {
    let mut m = HashMap::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        if let Some(rest) = stat.rsplit_once(") ").map(|x| x.1) {
            if let Some(ppid) = rest.split(' ').nth(1).and_then(|p| p.parse().ok()) {
                m.insert(pid, ppid);
            }
        }
    }
    m
}

fn descendants(root: i32) -> Vec<i32> {
    let p = parents();
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(x) = todo.pop() {
        for (&c, &pp) in &p {
            if pp == x {
                out.push(c);
                todo.push(c);
            }
        }
    }
    out
}

/// Whether `pid` exists and is not a zombie.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s.rsplit_once(") ").is_some_and(|x| x.1.starts_with('Z')),
        Err(_) => false,
    }
}

enum Addr {
    Tcp(u16),
    Unix(PathBuf),
}

impl Addr {
    fn config(&self) -> String {
        match self {
            Addr::Tcp(p) => format!("tcp:127.0.0.1:{p}"),
            Addr::Unix(p) => format!("unix:{}", p.display()),
        }
    }

    fn try_connect(&self) -> std::io::Result<Box<dyn Stream>> {
        Ok(match self {
            Addr::Tcp(p) => Box::new(TcpStream::connect(("127.0.0.1", *p))?),
            Addr::Unix(p) => Box::new(UnixStream::connect(p)?),
        })
    }

    /// A client attached (fid 0) as root.
    fn client(&self) -> Client<Box<dyn Stream>> {
        let mut c = Client::new(self.try_connect().unwrap());
        c.version(1 << 16).unwrap();
        c.attach(0, 0).unwrap();
        c
    }
}

trait Stream: std::io::Read + std::io::Write + Send {}
impl<T: std::io::Read + std::io::Write + Send> Stream for T {}

fn read_file(c: &mut Client<Box<dyn Stream>>, fid: u32, name: &str) -> Vec<u8> {
    c.walk_path(0, fid, name).unwrap();
    c.lopen(fid, P9_DOTL_RDONLY).unwrap();
    let data = c.read_all(fid).unwrap();
    c.clunk(fid).unwrap();
    data
}

fn mkdir(c: &mut Client<Box<dyn Stream>>, name: &str) -> Result<(), Option<Errno>> {
    c.mkdir(0, name.as_bytes(), 0o755, 0)
        .map(|_| ())
        .map_err(|e| e.errno())
}

fn export(root: &Path, name: &str) -> PathBuf {
    let e = root.join(name);
    std::fs::create_dir(&e).unwrap();
    std::fs::write(e.join("hello"), format!("hello from {name}")).unwrap();
    e
}

fn export_toml(name: &str, path: &Path, listen: &Addr, extra: &str) -> String {
    format!(
        "[[export]]\nname = \"{name}\"\npath = \"{}\"\nlisten = [\"{}\"]\n{extra}\n",
        path.display(),
        listen.config()
    )
}

/// Two exports, one per backend, on TCP and a Unix socket; a server that dies is started
/// again; SIGTERM leaves nothing behind.
#[test]
fn supervisor_serves_two_exports() {
    if !is_root() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (export(t.path(), "a"), export(t.path(), "b"));
    let (la, lb) = (Addr::Tcp(free_port()), Addr::Unix(t.path().join("b.sock")));
    let cfg = t.path().join("p9proxy.toml");
    std::fs::write(
        &cfg,
        export_toml("a", &a, &la, "backend = \"proxy\"")
            + &export_toml("b", &b, &lb, "backend = \"local\"\nreadonly = true"),
    )
    .unwrap();
    let sup = Supervisor::start(&cfg);
    let mut ca = la.client();
    assert_eq!(read_file(&mut ca, 1, "hello"), b"hello from a");
    mkdir(&mut ca, "made-through-a").unwrap();
    assert!(a.join("made-through-a").is_dir());
    let mut cb = lb.client();
    assert_eq!(read_file(&mut cb, 1, "hello"), b"hello from b");
    assert_eq!(mkdir(&mut cb, "nope"), Err(Some(Errno::ROFS)));
    // Each export's server is its own confined process (the proxy one runs as nobody).
    let kids = descendants(sup.pid());
    assert!(kids.len() >= 4, "{kids:?}"); // 2 servers, a spawner, helpers

    // The server of export b dies: it is started again, and serves new connections.
    drop(cb);
    let direct: Vec<i32> = parents()
        .into_iter()
        .filter(|&(_, pp)| pp == sup.pid())
        .map(|(p, _)| p)
        .collect();
    let b_server = direct
        .iter()
        .copied()
        .find(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("--backend\0local"))
        })
        .unwrap();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(b_server).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    sup.wait_log("restarting it", 1);
    sup.wait_log("server started", 3);
    let mut cb = lb.client();
    assert_eq!(read_file(&mut cb, 1, "hello"), b"hello from b");
    // Export a was not disturbed.
    assert_eq!(read_file(&mut ca, 1, "hello"), b"hello from a");
    drop((ca, cb));
    sup.stop();
    assert!(!t.path().join("b.sock").exists());
}

/// SIGHUP: an invalid file keeps the running config; a valid one adds an export, removes
/// one and makes one read-only, while connections opened before go on to their end.
#[test]
fn sighup_reloads_without_dropping_connections() {
    if !is_root() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        export(t.path(), "a"),
        export(t.path(), "b"),
        export(t.path(), "c"),
    );
    let la = Addr::Tcp(free_port());
    let lb = Addr::Unix(t.path().join("b.sock"));
    let lc = Addr::Tcp(free_port());
    let cfg = t.path().join("p9proxy.toml");
    let v1 = export_toml("a", &a, &la, "") + &export_toml("b", &b, &lb, "");
    std::fs::write(&cfg, format!("[defaults]\nbackend = \"local\"\n\n{v1}")).unwrap();
    let sup = Supervisor::start(&cfg);

    // Connections opened before the reloads, with a fid walked already.
    let mut old_a = la.client();
    old_a.walk_path(0, 1, "hello").unwrap();
    let mut old_b = lb.client();
    old_b.walk_path(0, 1, "hello").unwrap();

    // 1. An invalid file: logged with its line, the running config stays.
    std::fs::write(
        &cfg,
        format!("[defaults]\nbackend = \"local\"\n\n{v1}\nreadonly = maybe\n"),
    )
    .unwrap();
    sup.hup();
    sup.wait_log("invalid config: keeping the running one", 1);
    let log = sup.log.lock().unwrap().clone();
    assert!(log.contains(&format!("{}:15:12: ", cfg.display())), "{log}");
    let mut new_b = lb.client();
    assert_eq!(read_file(&mut new_b, 1, "hello"), b"hello from b");
    let mut new_a = la.client();
    mkdir(&mut new_a, "still-writable").unwrap();
    drop((new_a, new_b));

    // 2. a becomes read-only, b goes, c comes (proxy backend).
    let v2 = export_toml("a", &a, &la, "readonly = true")
        + &export_toml("c", &c, &lc, "backend = \"proxy\"");
    std::fs::write(&cfg, format!("[defaults]\nbackend = \"local\"\n\n{v2}")).unwrap();
    sup.hup();
    sup.wait_log("reloaded", 1);

    // New connections get the new config.
    let mut new_a = la.client();
    assert_eq!(read_file(&mut new_a, 2, "hello"), b"hello from a");
    assert_eq!(mkdir(&mut new_a, "refused"), Err(Some(Errno::ROFS)));
    let mut new_c = lc.client();
    assert_eq!(read_file(&mut new_c, 1, "hello"), b"hello from c");
    mkdir(&mut new_c, "made-through-c").unwrap();
    assert!(c.join("made-through-c").is_dir());
    assert!(lb.try_connect().is_err(), "b's listener is closed");
    assert!(!t.path().join("b.sock").exists());

    // Connections from before go on with the config they started with: a (writable)
    // walks, reads and writes; b, removed, still serves its client.
    old_a.lopen(1, P9_DOTL_RDWR).unwrap();
    assert_eq!(old_a.read_all(1).unwrap(), b"hello from a");
    assert_eq!(old_a.write(1, 0, b"HELLO").unwrap(), 5);
    mkdir(&mut old_a, "after-the-reload").unwrap();
    assert!(a.join("after-the-reload").is_dir());
    assert_eq!(
        std::fs::read(a.join("hello")).unwrap(),
        b"HELLO from a",
        "written through the old connection"
    );
    old_b.lopen(1, P9_DOTL_RDONLY).unwrap();
    assert_eq!(old_b.read_all(1).unwrap(), b"hello from b");
    mkdir(&mut old_b, "b-after-the-reload").unwrap();

    // The retired servers (a's old one, b's) exit once their last connection ends.
    drop(old_a);
    drop(old_b);
    sup.wait_log("retired server exited", 2);
    let mut again = la.client();
    assert_eq!(mkdir(&mut again, "refused"), Err(Some(Errno::ROFS)));
    drop((again, new_a, new_c));
    sup.stop();
}

/// The example shipped in the package (packaging/p9proxy.toml) is valid once its
/// directories exist, and p9proxy.service keeps the capabilities of p9proxy@.service.
#[test]
fn packaged_example_and_unit() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging");
    let t = tempfile::tempdir().unwrap();
    for d in ["srv/shared", "srv/images", "run"] {
        std::fs::create_dir_all(t.path().join(d)).unwrap();
    }
    let text = std::fs::read_to_string(root.join("p9proxy.toml"))
        .unwrap()
        .replace("/srv/p9proxy", &t.path().join("srv").display().to_string())
        .replace("/run/p9proxy", &t.path().join("run").display().to_string())
        // Ports others may use on this machine: any free one.
        .replace("127.0.0.1:5640", &format!("127.0.0.1:{}", free_port()))
        .replace("127.0.0.1:5641", &format!("127.0.0.1:{}", free_port()));
    let f = t.path().join("p9proxy.toml");
    std::fs::write(&f, text).unwrap();
    let (code, out, err) = check(&f);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("OK, 2 exports"), "{out}");
    assert!(
        out.contains("images: ") && out.contains("read-only"),
        "{out}"
    );

    let caps = |unit: &str| {
        std::fs::read_to_string(root.join("systemd").join(unit))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("CapabilityBoundingSet=").map(str::to_string))
            .unwrap()
    };
    assert_eq!(caps("p9proxy.service"), caps("p9proxy@.service"));
    let unit = std::fs::read_to_string(root.join("systemd/p9proxy.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/p9proxy serve --config /etc/p9proxy/p9proxy.toml"));
    assert!(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
}

/// The keys that become the identity and stats flags reach the export's server: a
/// mapped-xattr export keeps the client's ids in QEMU's xattrs, a squashed passthrough
/// export creates as the squashed ids, and `control` gives a stats socket.
#[test]
fn identity_and_control_keys_reach_the_server() {
    if !is_root() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (m, s) = (export(t.path(), "m"), export(t.path(), "s"));
    // The squashed export's fids act as 4242 on the host: let it create there.
    std::fs::set_permissions(&s, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let (lm, ls) = (
        Addr::Unix(t.path().join("m.sock")),
        Addr::Unix(t.path().join("s.sock")),
    );
    let ctl = t.path().join("m.ctl");
    let cfg = t.path().join("p9proxy.toml");
    std::fs::write(
        &cfg,
        export_toml(
            "m",
            &m,
            &lm,
            &format!(
                "backend = \"local\"\nsecurity_model = \"mapped-xattr\"\ncontrol = \"{}\"",
                ctl.display()
            ),
        ) + &export_toml(
            "s",
            &s,
            &ls,
            "backend = \"local\"\nsquash = \"4242:4343\"\nsocket_mode = \"0660\"\n\
             allow_users = [\"nobody\"]",
        ),
    )
    .unwrap();
    let sup = Supervisor::start(&cfg);
    sup.wait_log("server started", 2);

    let mut cm = lm.client();
    cm.mkdir(0, b"as-1000", 0o750, 1000).unwrap();
    let meta = std::fs::metadata(m.join("as-1000")).unwrap();
    use std::os::unix::fs::MetadataExt;
    // Mapped: the host directory is the server's (0700), the client's ids are in xattrs.
    assert_eq!(meta.mode() & 0o777, 0o700);
    // Attached as uid 0; Tmkdir carries the gid.
    assert_eq!(
        xattr(&m.join("as-1000"), "user.virtfs.uid"),
        0u32.to_le_bytes()
    );
    assert_eq!(
        xattr(&m.join("as-1000"), "user.virtfs.gid"),
        1000u32.to_le_bytes()
    );

    // The supervisor bound the Unix listeners with the keys' modes (0600 by default).
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |a: &Addr| match a {
        Addr::Unix(p) => std::fs::metadata(p).unwrap().permissions().mode() & 0o777,
        _ => unreachable!(),
    };
    assert_eq!((mode(&lm), mode(&ls)), (0o600, 0o660));
    let mut cs = ls.client();
    cs.mkdir(0, b"squashed", 0o755, 1000).unwrap();
    let meta = std::fs::metadata(s.join("squashed")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (4242, 4343));

    // The control socket answers for export m.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ctl.exists() {
        assert!(Instant::now() < deadline, "no control socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = Command::new(P9PROXY)
        .args(["stats", "--json", "--control"])
        .arg(&ctl)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("mkdir"));
    drop((cm, cs));
    sup.stop();
}

fn xattr(path: &Path, name: &str) -> Vec<u8> {
    let mut buf = vec![0u8; 64];
    let n = rustix::fs::lgetxattr(path, name, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// `serve --config` with the flag of an export option (which the file sets per export):
/// refused with status 2 and a message naming the flag and its key, not ignored. -v and
/// --trace (every export) are taken.
#[test]
fn config_refuses_export_flags() {
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("p9proxy.toml");
    // A file the supervisor refuses (status 1) once it reads it: the flags are refused
    // before.
    std::fs::write(
        &cfg,
        "[[export]]\npath = \"/nonexistent/p9proxy\"\nlisten = [\"tcp:127.0.0.1:5641\"]\n",
    )
    .unwrap();
    let serve = |flags: &[&str]| {
        let out = Command::new(P9PROXY)
            .args(["serve", "--config"])
            .arg(&cfg)
            .args(flags)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for (flags, key) in [
        (&["--seccomp", "off"][..], "seccomp"),
        (&["--security-model", "mapped-xattr"], "security_model"),
        (&["--squash", "1000:1000"], "squash"),
        (&["--uid-map", "0:1000:1"], "uid_map"),
        (&["--gid-map", "0:1000:1"], "gid_map"),
        (&["--backend", "local"], "backend"),
        (&["--helpers", "2"], "helpers"),
        (&["--helper-arg=--poll-us=0"], "helper_args"),
        (&["--max-fids", "5"], "max_fids"),
        (&["--max-connections", "5"], "max_connections"),
        (
            &["--max-connections-per-user", "5"],
            "max_connections_per_user",
        ),
        (&["--handshake-timeout", "0"], "handshake_timeout"),
        (&["--poll-us", "0"], "poll_us"),
        (&["--control", "/tmp/p9proxy-test.ctl"], "control"),
        (&["--metrics-listen", "tcp:127.0.0.1:9"], "metrics_listen"),
        (&["--allow-user", "root"], "allow_users"),
        (&["--trust-network"], "trust_network"),
        (&["--socket-mode", "0600"], "socket_mode"),
        (&["--socket-group", "root"], "socket_group"),
        (&["--readonly"], "readonly"),
        (&["--user", "nobody"], "user"),
        (&["--sandbox", "none"], "sandbox"),
        (&["--msize-max", "64K"], "msize_max"),
    ] {
        let flag = flags[0].split('=').next().unwrap();
        let (code, err) = serve(flags);
        assert_eq!(code, Some(2), "{flags:?}: {err}");
        assert!(
            err.contains(&format!("{flag} cannot be used with --config"))
                && err.contains(&format!("`{key}`")),
            "{flags:?}: {err}"
        );
    }
    // Logging flags apply to every export: the file is read (and refused, status 1).
    let (code, err) = serve(&["-v", "--trace"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("invalid config"), "{err}");
}

/// Every serve option is a config key, `metrics_listen` too (once missing): the export's
/// server answers GET /metrics there.
#[test]
fn metrics_listen_key_reaches_the_server() {
    if !is_root() {
        return;
    }
    use std::io::{Read, Write};
    let t = tempfile::tempdir().unwrap();
    let e = export(t.path(), "e");
    let (l, metrics) = (Addr::Unix(t.path().join("e.sock")), free_port());
    let cfg = t.path().join("p9proxy.toml");
    std::fs::write(
        &cfg,
        export_toml(
            "e",
            &e,
            &l,
            &format!("backend = \"local\"\nmetrics_listen = \"tcp:127.0.0.1:{metrics}\""),
        ),
    )
    .unwrap();
    let sup = Supervisor::start(&cfg);
    sup.wait_log("server started", 1);
    let mut c = l.client();
    assert_eq!(read_file(&mut c, 1, "hello"), b"hello from e");
    // The server binds it as it starts: connect once it listens.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut s = loop {
        match TcpStream::connect(("127.0.0.1", metrics)) {
            Ok(s) => break s,
            Err(e) => {
                assert!(Instant::now() < deadline, "metrics_listen: {e}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("p9proxy_"), "{body}");
    drop(c);
    sup.stop();
}
