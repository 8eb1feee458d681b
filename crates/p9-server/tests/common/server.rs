//! A server in a process of its own: this test binary again, running the
//! `server_process` test that [`server_process_test!`] declares in the test file, told
//! its export, socket, backend and limits by environment variables.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use p9_client::Client;
use p9_server::listen::{self, Limits, ListenAddr};
use p9_server::{Server, ServerConfig};

use super::{known_fd_limit, Kind, ROOT};

const ENV_EXPORT: &str = "P9_TEST_SERVER_EXPORT";
const ENV_SOCK: &str = "P9_TEST_SERVER_SOCK";
const ENV_BACKEND: &str = "P9_TEST_SERVER_BACKEND";
/// A soft limit of open files for the server process, if set.
pub const ENV_NOFILE: &str = "P9_TEST_SERVER_NOFILE";
/// The server process's fid memory budget, if set (bytes).
pub const ENV_FID_MEMORY: &str = "P9_TEST_SERVER_FID_MEMORY";
/// The server process's connection limit, if set (else `Limits::default()`'s).
pub const ENV_MAX_CONNECTIONS: &str = "P9_TEST_SERVER_MAX_CONNECTIONS";

/// Held while this process starts a child. A helper's end of its socketpair is
/// inheritable while it is being started; any other child started then (by a test
/// running in parallel) would inherit it too and keep it open after the helper dies.
pub static SPAWNING: Mutex<()> = Mutex::new(());

/// Declares the `server_process` test, the body of every [`ServerProc`]: it does nothing
/// unless started by one.
#[macro_export]
macro_rules! server_process_test {
    () => {
        /// Not a test: the server process of `ServerProc` (does nothing unless started
        /// by it). Serves its export on a Unix socket until its stdin closes.
        #[test]
        #[ignore = "the server process other tests start; does nothing on its own"]
        fn server_process() {
            $crate::common::server::serve_from_env();
        }
    };
}

fn env_num<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|n| n.parse().ok())
}

/// The `server_process` test: serves as the environment says, until stdin closes.
pub fn serve_from_env() {
    let (Ok(export), Ok(sock), Ok(kind)) = (
        std::env::var(ENV_EXPORT),
        std::env::var(ENV_SOCK),
        std::env::var(ENV_BACKEND),
    ) else {
        return;
    };
    rustix::process::umask(rustix::fs::Mode::empty());
    known_fd_limit();
    if let Some(n) = env_num(ENV_NOFILE) {
        let mut lim = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        lim.current = Some(n);
        rustix::process::setrlimit(rustix::process::Resource::Nofile, lim).unwrap();
    }
    let b = Kind::named(&kind).backend(Path::new(&export));
    let mut config = ServerConfig::default();
    if let Some(n) = env_num(ENV_FID_MEMORY) {
        config.budgets.fid_memory = n;
    }
    let server = Arc::new(Server::new(b, config).unwrap());
    let l = ListenAddr::Unix(PathBuf::from(sock)).bind().unwrap();
    let mut limits = Limits::default();
    if let Some(n) = env_num(ENV_MAX_CONNECTIONS) {
        limits.max_connections = n;
    }
    std::thread::spawn(move || listen::serve(server, vec![l], limits));
    println!("READY");
    std::io::stdout().flush().unwrap();
    let mut b = [0u8; 64];
    while matches!(std::io::stdin().read(&mut b), Ok(n) if n > 0) {}
    std::process::exit(0);
}

/// A server process (see [`serve_from_env`]) on an export.
pub struct ServerProc {
    tmp: tempfile::TempDir,
    child: Option<Child>,
    sock: PathBuf,
    stderr: Option<JoinHandle<String>>,
}

impl ServerProc {
    /// A server of `kind` on a fresh, empty export, with `env` (`ENV_*` above).
    pub fn start(kind: Kind, env: &[(&str, &str)]) -> ServerProc {
        rustix::process::umask(rustix::fs::Mode::empty());
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("export")).unwrap();
        Self::start_on(tmp, kind, env)
    }

    /// A server of `kind` on `tmp/export` (made and filled by the caller), with `env`.
    pub fn start_on(tmp: tempfile::TempDir, kind: Kind, env: &[(&str, &str)]) -> ServerProc {
        let export = tmp.path().join("export");
        let sock = tmp.path().join("p9.sock");
        let spawning = SPAWNING.lock().unwrap_or_else(|p| p.into_inner());
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "server_process",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ENV_EXPORT, &export)
            .env(ENV_SOCK, &sock)
            .env(ENV_BACKEND, kind.name())
            .env("RUST_BACKTRACE", "1")
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(spawning);
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                out.read_line(&mut line).unwrap() > 0,
                "server process exited before READY"
            );
            if line.trim_end().ends_with("READY") {
                break;
            }
        }
        let mut err = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        // Keep draining stdout (libtest's lines) so the child never blocks on it.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        ServerProc {
            tmp,
            child: Some(child),
            sock,
            stderr: Some(stderr),
        }
    }

    /// The export directory.
    pub fn export(&self) -> PathBuf {
        self.tmp.path().join("export")
    }

    /// The Unix socket it listens on.
    pub fn sock(&self) -> &Path {
        &self.sock
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// A raw connection.
    pub fn connect(&self) -> UnixStream {
        UnixStream::connect(&self.sock).unwrap()
    }

    /// A client attached as root (fid `ROOT`), msize 1 MiB.
    pub fn client(&self) -> Client<UnixStream> {
        let mut c = Client::new(self.connect());
        c.version(1 << 20).unwrap();
        c.attach(ROOT, 0).unwrap();
        c
    }

    /// Open fds of the server process.
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .count()
    }

    /// `VmRSS` or `VmHWM` of the server process, in KiB.
    pub fn status_kib(&self, field: &str) -> u64 {
        let pid = self.pid();
        status_kib(pid, field).unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
    }

    /// Peak RSS (`VmHWM`) of the server process and of the largest of its helpers (its
    /// children), in KiB.
    pub fn peaks(&self) -> (u64, u64) {
        let pid = self.pid();
        let helpers = std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&p| {
                let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
                let ppid = stat
                    .rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
                ppid == Some(pid)
            })
            .filter_map(|p| status_kib(p, "VmHWM"))
            .max()
            .unwrap_or(0);
        (self.status_kib("VmHWM"), helpers)
    }

    /// Waits until the server's fd count is `want` (connections are torn down by their
    /// threads shortly after the client goes). Returns the count last seen.
    pub fn settle_fds(&self, want: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let n = self.fds();
            if n == want || Instant::now() > deadline {
                return n;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the server; returns its stderr. Fails if it panicked anywhere.
    pub fn finish(mut self) -> String {
        let mut child = self.child.take().unwrap();
        assert!(
            child.try_wait().unwrap().is_none(),
            "the server process died"
        );
        drop(child.stdin.take());
        let status = child.wait().unwrap();
        let err = self.stderr.take().unwrap().join().unwrap();
        assert!(status.success(), "server process: {status}\n{err}");
        assert!(!err.contains("panicked"), "the server panicked:\n{err}");
        err
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A `/proc/PID/status` field in KiB (`VmRSS`, `VmHWM`), if the process is there.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
