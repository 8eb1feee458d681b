//! External servers (diod, `p9proxy serve`): started in their own process group, stopped
//! with the whole group (TERM, then KILL), and tied to the bench with a parent-death signal
//! (`setpriv --pdeathsig KILL`) so that even a killed bench leaves nothing running.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{kill_process_group, Pid, Signal};

use p9_client::{Addr, Stream};

use crate::client::{BenchError, Result};

/// A running server process (group).
pub struct ServerProc {
    child: Child,
    log: PathBuf,
}

/// Finds `name` in PATH (and /usr/sbin, /sbin, where Debian puts diod).
pub fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found
}

impl ServerProc {
    /// Starts `argv` with stdout and stderr going to `log`, then waits until `addr` accepts
    /// a connection (at most `ready_within`).
    pub fn start(argv: &[String], log: &Path, addr: &Addr, ready_within: Duration) -> Result<Self> {
        let (prog, args) = argv
            .split_first()
            .ok_or_else(|| BenchError::msg("empty server command"))?;
        let out = File::create(log)?;
        let err = out.try_clone()?;
        let mut cmd = match which("setpriv") {
            Some(setpriv) => {
                let mut c = Command::new(setpriv);
                c.args(["--pdeathsig", "KILL", "--"]).arg(prog);
                c
            }
            None => Command::new(prog),
        };
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| BenchError::msg(format!("cannot start {prog}: {e}")))?;
        let mut me = ServerProc {
            child,
            log: log.to_owned(),
        };
        let deadline = Instant::now() + ready_within;
        loop {
            if let Ok(Some(status)) = me.child.try_wait() {
                return Err(BenchError::msg(format!(
                    "{prog} exited ({status}) before listening on {addr}: {}",
                    me.log_tail()
                )));
            }
            if Stream::connect(addr).is_ok() {
                return Ok(me);
            }
            if Instant::now() > deadline {
                return Err(BenchError::msg(format!(
                    "{prog} does not listen on {addr} after {ready_within:?}: {}",
                    me.log_tail()
                )));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last lines of the server's log, on one line.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
        if tail.is_empty() {
            format!("(empty log {})", self.log.display())
        } else {
            tail
        }
    }

    /// Whether the server is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let Some(pgid) = i32::try_from(self.child.id()).ok().and_then(Pid::from_raw) else {
            let _ = self.child.kill();
            let _ = self.child.wait();
            return;
        };
        let _ = kill_process_group(pgid, Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        // whatever is left of the group (helpers the server spawned) goes too
        let _ = kill_process_group(pgid, Signal::KILL);
        let _ = self.child.wait();
    }
}
