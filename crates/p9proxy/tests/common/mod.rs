//! Helpers shared by the integration tests of the `p9proxy` binary.

use std::collections::HashMap;
use std::process::Child;
use std::sync::Mutex;

/// Whether the tests run as root (those that need it return at once otherwise).
#[allow(dead_code)]
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A free loopback TCP port (bound, then released), never one this test process was
/// given before (a released port is often handed out again at once).
#[allow(dead_code)]
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A child process killed (and reaped) when dropped, also when a test panics.
#[allow(dead_code)]
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Live (not zombie) descendants of `root` running our helper.
#[allow(dead_code)]
pub fn helpers_of(root: u32) -> Vec<u32> {
    let mut parent: HashMap<u32, u32> = HashMap::new();
    let mut helper = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces; it ends at the last ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let (state, ppid) = (f.next().unwrap_or("Z"), f.next().unwrap_or("0"));
        parent.insert(pid, ppid.parse().unwrap_or(0));
        if head.contains("(virtfs-proxy-he") && state != "Z" {
            helper.push(pid);
        }
    }
    helper
        .into_iter()
        .filter(|&h| {
            let mut p = h;
            for _ in 0..8 {
                match parent.get(&p) {
                    Some(&pp) if pp == root => return true,
                    Some(&pp) if pp > 1 => p = pp,
                    _ => return false,
                }
            }
            false
        })
        .collect()
}

/// The process that serves for the `p9proxy serve` started as `pid` (call it once the
/// server answers): with `--sandbox namespace` (the default as root) its child, PID 1 of
/// a PID namespace of its own (`pid` only waits for it); otherwise `pid` itself.
#[allow(dead_code)]
pub fn front_end(pid: u32) -> u32 {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    children
        .split_whitespace()
        .filter_map(|c| c.parse::<u32>().ok())
        .find(|&c| ns_pid(c) == Some(1))
        .unwrap_or(pid)
}

/// The pid of `pid` in its own (innermost) PID namespace.
#[allow(dead_code)]
pub fn ns_pid(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("NSpid:"))?;
    line.split_whitespace().last()?.parse().ok()
}
