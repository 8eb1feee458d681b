//! The statistics endpoints of `p9proxy serve` and the `p9proxy stats` client.
//!
//! - `--control PATH`: a Unix socket (mode 0600, owned by whoever started the server)
//!   speaking a one-line protocol: the client sends `stats`, `prometheus` or `json` and a
//!   newline, and reads the answer until EOF.
//! - `--metrics-listen ADDR`: a minimal HTTP/1.x server answering `GET /metrics` with the
//!   Prometheus text format.
//!
//! Both are bound before the sandbox is set up (the front end then chroots into an empty
//! directory and drops to `nobody`) and served afterwards, each by a thread of its own,
//! one client at a time. A client gets [`CLIENT_TIMEOUT`] in all to send a request of at
//! most [`MAX_REQUEST`] bytes (a control line) or [`MAX_HTTP_HEAD`] (an HTTP head), and
//! as long again to take the answer; then it is dropped, so a slow or malicious client
//! delays the next one by a few seconds at most and cannot wedge the thread.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use p9_server::listen::{ListenAddr, Listener};
use p9_server::stats::Stats;
use rustix::net::sockopt::Timeout;

use crate::cli::StatsArgs;

/// Where `p9proxy stats` looks without `--control`.
pub const DEFAULT_CONTROL: &str = "/run/p9proxy/control.sock";
/// Longest control request line.
pub const MAX_REQUEST: usize = 256;
/// Longest HTTP request head.
pub const MAX_HTTP_HEAD: usize = 8192;
/// How long a client may take to send its request, and again to read the answer.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// The bound statistics endpoints, served by [`spawn`] once the sandbox is up.
#[derive(Debug, Default)]
pub struct Endpoints {
    control: Option<Listener>,
    metrics: Option<Listener>,
}

/// Binds `--control` (mode 0600: the umask is tightened while binding) and
/// `--metrics-listen`. Runs before the process starts any thread.
pub fn bind(control: Option<&Path>, metrics: Option<&ListenAddr>) -> Result<Endpoints, String> {
    let mut ep = Endpoints::default();
    if let Some(path) = control {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("--control: cannot create {}: {e}", dir.display()))?;
            }
        }
        // Single-threaded here: the umask change is seen by this bind only.
        let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
        let bound = ListenAddr::Unix(path.to_path_buf()).bind();
        rustix::process::umask(old);
        ep.control = Some(bound.map_err(|e| format!("--control {}: {e}", path.display()))?);
    }
    if let Some(addr) = metrics {
        ep.metrics = Some(
            addr.bind()
                .map_err(|e| format!("--metrics-listen {addr}: {e}"))?,
        );
    }
    Ok(ep)
}

/// Serves the endpoints, each on a thread of its own, reading `stats`.
pub fn spawn(ep: Endpoints, stats: &Arc<Stats>) -> Result<(), String> {
    let endpoints = [
        (
            ep.control,
            "p9-control",
            "control socket",
            control_client as Handler,
        ),
        (
            ep.metrics,
            "p9-metrics",
            "Prometheus metrics on GET /metrics",
            http_client,
        ),
    ];
    for (l, thread, what, handler) in endpoints {
        let Some(l) = l else { continue };
        if let Ok(addr) = l.addr() {
            tracing::info!(%addr, "{what}");
        }
        let stats = Arc::clone(stats);
        std::thread::Builder::new()
            .name(thread.into())
            .spawn(move || serve_clients(&l, &stats, handler))
            .map_err(|e| format!("{thread} thread: {e}"))?;
    }
    Ok(())
}

/// Answers one client of an endpoint.
type Handler = fn(&mut File, &Stats) -> io::Result<()>;

/// Serves the clients of `l` one at a time with `handler`, for ever.
fn serve_clients(l: &Listener, stats: &Stats, handler: Handler) {
    loop {
        let r = l
            .accept()
            .and_then(|(fd, _, _)| handler(&mut File::from(fd), stats));
        match r {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::debug!(error = %e, "statistics client dropped");
                if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
}

/// Sets the receive or send timeout of the socket `s`.
fn timeout(s: &File, which: Timeout, d: Duration) -> io::Result<()> {
    rustix::net::sockopt::set_socket_timeout(s, which, Some(d)).map_err(Into::into)
}

fn remaining(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(io::Error::from(io::ErrorKind::TimedOut))
    } else {
        Ok(left)
    }
}

/// Reads until `done` says the bytes so far are a whole request, at most `max` bytes,
/// before `deadline`.
fn read_request(
    s: &mut File,
    max: usize,
    deadline: Instant,
    done: impl Fn(&[u8]) -> bool,
) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(max.min(1024));
    let mut chunk = [0u8; 512];
    loop {
        if done(&buf) {
            return Ok(buf);
        }
        if buf.len() >= max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request too long",
            ));
        }
        timeout(s, Timeout::Recv, remaining(deadline)?)?;
        let want = (max - buf.len()).min(chunk.len());
        match s.read(&mut chunk[..want]) {
            Ok(0) => return Ok(buf),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes `data` whole before `deadline`, or gives up.
fn write_answer(s: &mut File, mut data: &[u8], deadline: Instant) -> io::Result<()> {
    while !data.is_empty() {
        timeout(s, Timeout::Send, remaining(deadline)?)?;
        match s.write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The answer to the control request `line` (without its newline).
pub fn answer(line: &str, stats: &Stats) -> String {
    match line.trim() {
        "stats" => stats.snapshot().to_table(),
        "prometheus" => stats.snapshot().to_prometheus(),
        "json" => stats.snapshot().to_json(),
        _ => "error: unknown request; send one of: stats, prometheus, json\n".to_string(),
    }
}

fn control_client(s: &mut File, stats: &Stats) -> io::Result<()> {
    let start = Instant::now();
    let req = match read_request(s, MAX_REQUEST, start + CLIENT_TIMEOUT, |b| {
        b.contains(&b'\n')
    }) {
        Ok(r) => r,
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            let msg = format!("error: request longer than {MAX_REQUEST} bytes\n");
            return write_answer(s, msg.as_bytes(), Instant::now() + CLIENT_TIMEOUT);
        }
        Err(e) => return Err(e),
    };
    let line = req.split(|&b| b == b'\n').next().unwrap_or_default();
    let text = answer(&String::from_utf8_lossy(line), stats);
    write_answer(s, text.as_bytes(), Instant::now() + CLIENT_TIMEOUT)
}

/// The status line and body of the answer to an HTTP request head.
pub fn http_answer(head: &[u8], stats: &Stats) -> (&'static str, String) {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let (method, target, version) = (words.next(), words.next(), words.next());
    if !version.is_some_and(|v| v.starts_with("HTTP/1.")) {
        return ("400 Bad Request", "bad request\n".into());
    }
    let path = target.unwrap_or("").split('?').next().unwrap_or("");
    match (method, path) {
        (Some("GET" | "HEAD"), "/metrics") => ("200 OK", stats.snapshot().to_prometheus()),
        (Some("GET" | "HEAD"), _) => ("404 Not Found", "not found; try /metrics\n".into()),
        _ => ("405 Method Not Allowed", "only GET\n".into()),
    }
}

fn http_client(s: &mut File, stats: &Stats) -> io::Result<()> {
    let start = Instant::now();
    let head = match read_request(s, MAX_HTTP_HEAD, start + CLIENT_TIMEOUT, |b| {
        b.windows(4).any(|w| w == b"\r\n\r\n") || b.windows(2).any(|w| w == b"\n\n")
    }) {
        Ok(h) => h,
        Err(e) if e.kind() == io::ErrorKind::InvalidData => b"TOO LONG".to_vec(),
        Err(e) => return Err(e),
    };
    let (status, body) = http_answer(&head, stats);
    let is_head = head.starts_with(b"HEAD ");
    let mut reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if !is_head {
        reply.push_str(&body);
    }
    write_answer(s, reply.as_bytes(), Instant::now() + CLIENT_TIMEOUT)
}

/// `p9proxy stats`: asks the server at `--control` and prints its answer.
pub fn run_client(args: &StatsArgs) -> Result<(), String> {
    let request = if args.prometheus {
        "prometheus"
    } else if args.json {
        "json"
    } else {
        "stats"
    };
    let path = &args.control;
    let mut s = UnixStream::connect(path).map_err(|e| {
        format!(
            "cannot connect to the control socket {}: {e} (is `p9proxy serve --control {}` running?)",
            path.display(),
            path.display()
        )
    })?;
    let timeout = Some(Duration::from_secs(10));
    s.set_read_timeout(timeout)
        .and_then(|()| s.set_write_timeout(timeout))
        .and_then(|()| s.write_all(format!("{request}\n").as_bytes()))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(err) = answer.strip_prefix("error: ") {
        return Err(format!("the server answered: {}", err.trim_end()));
    }
    print!("{answer}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        let stats = Stats::new();
        assert!(answer("stats", &stats).contains("requests"));
        assert!(answer(" json\r", &stats).starts_with('{'));
        assert!(answer("prometheus", &stats).contains("# TYPE p9proxy_requests_total counter"));
        assert!(answer("bogus", &stats).starts_with("error:"));
        let (st, body) = http_answer(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &stats);
        assert_eq!(st, "200 OK");
        assert!(body.contains("p9proxy_connections_open 0"));
        assert_eq!(
            http_answer(b"GET / HTTP/1.0\r\n\r\n", &stats).0,
            "404 Not Found"
        );
        assert_eq!(
            http_answer(b"POST /metrics HTTP/1.1\r\n\r\n", &stats).0,
            "405 Method Not Allowed"
        );
        assert_eq!(http_answer(b"\x00\xff", &stats).0, "400 Bad Request");
    }
}
