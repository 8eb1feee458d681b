//! Statistics and tracing of the real `p9proxy serve`: 9P traffic (walks, getattrs, a
//! read, failing walks) is counted by `p9proxy stats` (table, `--prometheus`, `--json`)
//! and by `GET /metrics`; slow and garbage clients of the control socket do not stop it
//! from answering the next one; `--trace` logs decoded Twalk/Rwalk lines. Run with the
//! proxy backend as root (front end chrooted into an empty tmpfs, as nobody, under the
//! seccomp allowlist: the hard case for the control socket, bound before the sandbox),
//! and with the local backend.

mod common;
use common::{free_port, helpers_of, Killed};

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use p9_client::Client;
use p9_wire::*;
use rustix::io::Errno;

const P9PROXY: &str = env!("CARGO_BIN_EXE_p9proxy");

struct Served {
    server: Killed,
    _tmp: tempfile::TempDir,
    sock: PathBuf,
    control: PathBuf,
    metrics_port: u16,
    log: PathBuf,
}

fn serve(backend: &str) -> Served {
    let tmp = tempfile::tempdir().unwrap();
    let export = tmp.path().join("export");
    std::fs::create_dir(&export).unwrap();
    std::fs::write(export.join("hello"), b"hello from p9proxy").unwrap();
    let sock = tmp.path().join("p9.sock");
    // A directory of its own that does not exist yet: `serve` makes it.
    let control = tmp.path().join("run/control.sock");
    let log = tmp.path().join("stderr.log");
    let metrics_port = free_port();
    let child = Command::new(P9PROXY)
        .arg("serve")
        .arg(&export)
        .args(["--backend", backend, "--trace", "--listen"])
        .arg(format!("unix:{}", sock.display()))
        .arg("--control")
        .arg(&control)
        .arg("--metrics-listen")
        .arg(format!("tcp:127.0.0.1:{metrics_port}"))
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut server = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sock.exists() || !control.exists() {
        assert!(server.0.try_wait().unwrap().is_none(), "server exited");
        assert!(Instant::now() < deadline, "server never listened");
        std::thread::sleep(Duration::from_millis(10));
    }
    Served {
        server,
        _tmp: tmp,
        sock,
        control,
        metrics_port,
        log,
    }
}

/// `p9proxy stats ARGS --control PATH`: its stdout.
fn stats(control: &Path, args: &[&str]) -> String {
    let out = Command::new(P9PROXY)
        .arg("stats")
        .args(args)
        .arg("--control")
        .arg(control)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "p9proxy stats {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The traffic counted: 3 walks that succeed and 2 that fail with ENOENT, 5 getattrs,
/// one read of the 18-byte file. Returns the client, still connected.
fn traffic(sock: &Path) -> Client<UnixStream> {
    let mut c = Client::new(UnixStream::connect(sock).unwrap());
    c.version(1 << 20).unwrap();
    c.attach(0, 0).unwrap();
    c.walk(0, 1, &[b"hello"]).unwrap();
    c.walk(0, 2, &[]).unwrap();
    c.walk(0, 3, &[b"hello"]).unwrap();
    for _ in 0..2 {
        let e = c.walk(0, 4, &[b"missing"]).unwrap_err();
        assert_eq!(e.errno(), Some(Errno::NOENT));
    }
    for fid in [0, 1, 1, 2, 3] {
        c.getattr(fid).unwrap();
    }
    c.lopen(1, P9_DOTL_RDONLY).unwrap();
    assert_eq!(c.read(1, 0, 4096).unwrap(), b"hello from p9proxy");
    c
}

/// The columns of the table row of `op`.
fn row(table: &str, op: &str) -> Vec<String> {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(op))
        .unwrap_or_else(|| panic!("no {op} row in:\n{table}"))
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Parses the Prometheus text format, checking it on the way: HELP then TYPE before a
/// family's samples, counters named `_total`, histogram samples `_bucket` (cumulative,
/// `le` increasing, `+Inf` last and equal to `_count`), `_sum`, `_count`; no duplicates.
fn prometheus(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    let mut family: Option<(String, String)> = None;
    let mut help: Option<String> = None;
    let mut bucket: Option<(String, f64, f64)> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help = Some(rest.split_once(' ').unwrap().0.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').unwrap();
            assert_eq!(help.as_deref(), Some(name), "HELP before TYPE: {line}");
            assert!(matches!(ty, "counter" | "gauge" | "histogram"), "{line}");
            assert!(ty != "counter" || name.ends_with("_total"), "{line}");
            family = Some((name.into(), ty.into()));
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap();
        let name = series.split('{').next().unwrap();
        let (fam, ty) = family.clone().expect("TYPE before samples");
        if ty == "histogram" {
            let labels = &series[name.len()..];
            let label = |k: &str| {
                labels
                    .split(&format!("{k}=\""))
                    .nth(1)
                    .map(|v| v.split('"').next().unwrap().to_string())
            };
            match name.strip_prefix(fam.as_str()) {
                Some("_bucket") => {
                    let le = match label("le").unwrap().as_str() {
                        "+Inf" => f64::INFINITY,
                        v => v.parse().unwrap(),
                    };
                    let op = label("op").unwrap();
                    if let Some((pop, ple, pv)) = &bucket {
                        if *pop == op {
                            assert!(le > *ple && value >= *pv, "cumulative: {line}");
                        }
                    }
                    bucket = Some((op, le, value));
                }
                Some("_count") => {
                    let (_, le, v) = bucket.clone().unwrap();
                    assert!(le.is_infinite() && v == value, "+Inf == _count: {line}");
                }
                Some("_sum") => assert!(value >= 0.0),
                _ => panic!("not a histogram sample: {line}"),
            }
        } else {
            assert_eq!(name, fam, "{line}");
        }
        assert!(
            samples.insert(series.to_string(), value).is_none(),
            "{line}"
        );
    }
    samples
}

/// `promtool` (Debian's package prometheus), if on PATH: `promtool check metrics`
/// then also judges the format.
fn promtool() -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join("promtool"))
        .find(|p| p.is_file())
}

fn http_get(port: u16, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

fn check(backend: &str) {
    let served = serve(backend);
    let mode = std::fs::metadata(&served.control)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "control socket mode {mode:o}");

    // Nothing yet.
    let table = stats(&served.control, &[]);
    assert!(table.contains("no requests yet"), "{table}");

    let _client = traffic(&served.sock);

    let table = stats(&served.control, &[]);
    assert_eq!(&row(&table, "walk")[1..4], ["5", "2", "-"], "{table}");
    assert_eq!(&row(&table, "getattr")[1..3], ["5", "0"], "{table}");
    assert_eq!(&row(&table, "read")[1..4], ["1", "0", "18"], "{table}");
    assert!(table.contains("connections open 1 (total 1)"), "{table}");
    assert!(table.contains("errors by errno: ENOENT 2"), "{table}");

    let m = prometheus(&stats(&served.control, &["--prometheus"]));
    assert_eq!(m[r#"p9proxy_requests_total{op="walk"}"#], 5.0);
    assert_eq!(m[r#"p9proxy_request_errors_total{op="walk"}"#], 2.0);
    assert_eq!(m[r#"p9proxy_requests_total{op="getattr"}"#], 5.0);
    assert_eq!(m[r#"p9proxy_errors_total{errno="ENOENT"}"#], 2.0);
    assert_eq!(m[r#"p9proxy_data_bytes_total{op="read"}"#], 18.0);
    assert_eq!(
        m[r#"p9proxy_request_duration_seconds_count{op="getattr"}"#],
        5.0
    );
    assert_eq!(
        m[r#"p9proxy_request_duration_seconds_bucket{op="walk",le="+Inf"}"#],
        5.0
    );
    assert_eq!(m["p9proxy_connections_open"], 1.0);
    // Fids 0..=3 are held by the open client.
    assert_eq!(m["p9proxy_fids_open"], 4.0);

    let j: serde_json::Value = serde_json::from_str(&stats(&served.control, &["--json"])).unwrap();
    assert_eq!(j["ops"]["walk"]["requests"], 5);
    assert_eq!(j["ops"]["walk"]["errors"], 2);
    assert_eq!(j["ops"]["getattr"]["requests"], 5);
    assert_eq!(j["ops"]["read"]["bytes"], 18);
    assert_eq!(j["ops"]["version"]["requests"], 1);
    assert_eq!(j["errors_by_errno"]["ENOENT"], 2);
    assert_eq!(j["connections_open"], 1);
    let buckets: u64 = j["ops"]["getattr"]["latency_buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(buckets, 5);

    // The same counts over HTTP.
    let (head, body) = http_get(served.metrics_port, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    let m = prometheus(&body);
    assert_eq!(m[r#"p9proxy_requests_total{op="walk"}"#], 5.0);
    let (head, _) = http_get(served.metrics_port, "/nothing");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");

    // Bad control clients: one that says nothing and stays, one that floods bytes with no
    // newline, one with an unknown request. The next one is answered all the same.
    let _silent = UnixStream::connect(&served.control).unwrap();
    let mut flood = UnixStream::connect(&served.control).unwrap();
    flood
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = flood.write_all(&[b'x'; 64 * 1024]);
    let mut bogus = UnixStream::connect(&served.control).unwrap();
    bogus.write_all(b"gimme\n").unwrap();
    let mut answer = String::new();
    bogus
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    bogus.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("error: unknown request"), "{answer}");
    let table = stats(&served.control, &[]);
    assert_eq!(&row(&table, "walk")[1..3], ["5", "2"], "{table}");
    let out = Command::new(P9PROXY)
        .args(["stats", "--control"])
        .arg(&served.control)
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success());

    if let Some(promtool) = promtool() {
        let mut child = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let text = stats(&served.control, &["--prometheus"]);
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "promtool check metrics");
    }

    if backend == "proxy" {
        // A helper killed: the spawner starts another, counted.
        let helpers = helpers_of(served.server.0.id());
        assert!(!helpers.is_empty(), "no helper found");
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(helpers[0] as i32).unwrap(),
            rustix::process::Signal::KILL,
        )
        .unwrap();
        let mut c = Client::new(UnixStream::connect(&served.sock).unwrap());
        c.version(1 << 20).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        // The attach itself may reach the dead helper first: EIO, then a new one.
        while let Err(e) = c.attach(0, 0) {
            assert_eq!(e.errno(), Some(Errno::IO));
            assert!(Instant::now() < deadline, "attach keeps failing");
        }
        for n in 0.. {
            // Creations go to the helpers in turn (walks and reads need none): one reaches
            // the dead one (EIO, or a retry on the new one).
            let name = format!("respawn-probe-{n}");
            let _ = c.mkdir(0, name.as_bytes(), 0o755, 0);
            let j: serde_json::Value =
                serde_json::from_str(&stats(&served.control, &["--json"])).unwrap();
            if j["helper_respawns"].as_u64().unwrap() >= 1 {
                break;
            }
            assert!(Instant::now() < deadline, "no helper respawn counted: {j}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    // The server is alive (seccomp did not kill it for anything the endpoints did).
    let mut server = served.server;
    assert!(server.0.try_wait().unwrap().is_none(), "server died");
    drop(server);

    let log = std::fs::read_to_string(&served.log).unwrap();
    // The tag of the first Twalk, and its answer.
    let twalk = log
        .lines()
        .find_map(|l| {
            let rest = l.split("<- Twalk tag ").nth(1)?;
            let (tag, rest) = rest.split_once(' ')?;
            rest.starts_with("fid 0 newfid 1 nwname 1 'hello'")
                .then(|| tag.to_string())
        })
        .unwrap_or_else(|| panic!("no Twalk line in:\n{log}"));
    let has = |needle: &str| log.lines().any(|l| l.contains(needle));
    assert!(has(&format!("-> Rwalk tag {twalk} nwqid 1 (")), "{log}");
    assert!(has("fid 0 newfid 4 nwname 1 'missing'"), "{log}");
    assert!(has("ecode 2 (ENOENT)"), "{log}");
    assert!(has("<- Tread tag "), "{log}");
    assert!(has(" count 18"), "{log}");
    assert!(
        log.lines()
            .filter(|l| l.contains("<- Twalk"))
            .all(|l| l.contains(&format!("peer={}", served.sock.display()))),
        "{log}"
    );
}

#[test]
fn stats_and_trace_local_backend() {
    check("local");
}

#[test]
fn stats_and_trace_proxy_backend_sandboxed() {
    let helper = Path::new(P9PROXY).with_file_name("virtfs-proxy-helper");
    if !rustix::process::geteuid().is_root() || !helper.exists() {
        eprintln!("SKIPPED: needs root and the helper built next to p9proxy");
        return;
    }
    check("proxy");
}

#[test]
fn stats_without_a_server_fails_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(P9PROXY)
        .args(["stats", "--control"])
        .arg(tmp.path().join("none.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot connect to the control socket"),
        "{err}"
    );
}
