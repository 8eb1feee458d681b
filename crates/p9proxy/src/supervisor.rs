//! `p9proxy serve --config FILE`: a small supervisor for several exports.
//!
//! The confined, unprivileged `serve` process cannot re-read a config or open a new
//! export, so the supervisor stays outside: it validates the file, binds every listen
//! address, and starts one ordinary `p9proxy serve` child per export (this program again,
//! with the export's options as flags and `--connections-fd N`: its end of a
//! `SOCK_SEQPACKET` socketpair instead of a listener). It accepts each connection and
//! hands the socket to the export's child (`SCM_RIGHTS`); it never reads a client byte.
//!
//! One thread, one `poll` over a signalfd and the listeners:
//! - SIGHUP: re-read the file. An invalid file is logged (`FILE:LINE:COL: message`) and
//!   the running config stays. Otherwise new listen addresses are bound first (a failure
//!   keeps the running config too), then: an export whose child flags and path are
//!   unchanged keeps its child; a new or changed export gets a new child; the child of a
//!   removed or changed export is *retired*: its channel is closed, so it gets no new
//!   connections and exits once its last connection ends. Listen addresses no longer
//!   used are closed. No connection is dropped.
//! - SIGCHLD: a child serving an export that exits is started again (after 0.1 s,
//!   doubling up to 12.8 s while it keeps dying young). Connections accepted while an
//!   export has no child are closed.
//! - SIGTERM, SIGINT: close the listeners, SIGTERM every child, wait for every
//!   descendant (the supervisor is a child subreaper, so the children's helper spawners
//!   and helpers are reaped by it too), exit.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal as NixSignal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use p9_server::listen::{self, ListenAddr, Listener, SocketPerms};
use p9_server::{DEFAULT_MSIZE_TCP, DEFAULT_MSIZE_UNIX};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{Pid, Signal, WaitOptions};

use crate::config::{self, Config, Export};

/// How long stopping waits for the children before killing them.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// An export and the child serving it.
struct Slot {
    export: Export,
    /// The running child and our end of its channel.
    child: Option<(Pid, OwnedFd)>,
    started: Instant,
    failures: u32,
    /// When to start the child (none running).
    start_at: Option<Instant>,
}

/// A bound listen address and the export it serves.
struct Bound {
    key: String,
    listener: Listener,
    slot: usize,
}

/// A retired child: it finishes its connections, then exits.
struct Retired {
    name: String,
    pid: Pid,
}

struct Supervisor {
    file: PathBuf,
    exe: PathBuf,
    /// Flags every child gets (-v, --trace).
    common: Vec<String>,
    slots: Vec<Slot>,
    listeners: Vec<Bound>,
    retired: Vec<Retired>,
}

/// Runs the supervisor until SIGTERM or SIGINT.
pub fn run(file: &Path, verbose: u8, trace: bool) -> Result<(), String> {
    let cfg = config::load(file).map_err(|e| format!("invalid config:\n{e}"))?;
    // Signals arrive on a descriptor polled with the listeners. Blocked before any other
    // thread or child exists (children get an empty mask from std's spawn).
    let mut mask = SigSet::empty();
    for s in [
        NixSignal::SIGHUP,
        NixSignal::SIGTERM,
        NixSignal::SIGINT,
        NixSignal::SIGCHLD,
    ] {
        mask.add(s);
    }
    mask.thread_block()
        .map_err(|e| format!("sigprocmask: {e}"))?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| format!("signalfd: {e}"))?;
    // Orphaned descendants (a child's helpers) are reparented to us and reaped here.
    if let Err(e) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
        tracing::warn!(errno = %e, "cannot become a child subreaper");
    }
    let mut common = vec!["-v".to_string(); usize::from(verbose)];
    if trace {
        common.push("--trace".into());
    }
    let mut sup = Supervisor {
        file: file.to_path_buf(),
        exe: std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?,
        common,
        slots: Vec::new(),
        listeners: Vec::new(),
        retired: Vec::new(),
    };
    sup.apply(cfg)?;
    sup.announce();
    tracing::info!(file = %file.display(), exports = sup.slots.len(), "supervisor running (SIGHUP reloads)");
    loop {
        sup.start_due();
        let timeout = sup
            .slots
            .iter()
            .filter_map(|s| s.start_at)
            .min()
            .map(|t| t.saturating_duration_since(Instant::now()));
        let ready = sup.wait(&signals, timeout)?;
        let (mut hup, mut term, mut chld) = (false, false, false);
        if ready.signals {
            while let Ok(Some(info)) = signals.read_signal() {
                match NixSignal::try_from(info.ssi_signo as i32) {
                    Ok(NixSignal::SIGHUP) => hup = true,
                    Ok(NixSignal::SIGTERM | NixSignal::SIGINT) => term = true,
                    Ok(NixSignal::SIGCHLD) => chld = true,
                    _ => {}
                }
            }
        }
        if term {
            sup.stop();
            return Ok(());
        }
        if chld {
            sup.reap();
        }
        if hup {
            sup.reload();
            // New exports get their child before the next connection is handed over.
            sup.start_due();
        }
        for i in ready.listeners {
            sup.accept(i);
        }
    }
}

/// What `poll` found ready.
struct Ready {
    signals: bool,
    listeners: Vec<usize>,
}

/// Closes a listener (a Unix socket's path is removed).
fn close(l: Listener) {
    if let Listener::Unix(sock, path) = l {
        drop(sock);
        let _ = std::fs::remove_file(path);
    }
}

/// The key of a listen address across reloads.
fn key(a: &ListenAddr) -> String {
    a.to_string()
}

/// The restart delay after `failures` quick deaths in a row.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis(100) * (1u32 << failures.min(7))
}

impl Supervisor {
    fn wait(&self, signals: &SignalFd, timeout: Option<Duration>) -> Result<Ready, String> {
        let mut fds = Vec::with_capacity(1 + self.listeners.len());
        fds.push(PollFd::new(signals, PollFlags::IN));
        for b in &self.listeners {
            fds.push(PollFd::from_borrowed_fd(b.listener.as_fd(), PollFlags::IN));
        }
        let ts = timeout.map(|d| Timespec {
            tv_sec: d.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: d.subsec_nanos().into(),
        });
        match rustix::event::poll(&mut fds, ts.as_ref()) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {
                return Ok(Ready {
                    signals: false,
                    listeners: Vec::new(),
                })
            }
            Err(e) => return Err(format!("poll: {e}")),
        }
        let signals = !fds[0].revents().is_empty();
        let listeners = fds[1..]
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.revents().is_empty())
            .map(|(i, _)| i)
            .collect();
        Ok(Ready { signals, listeners })
    }

    /// Makes `cfg` the running config (see the module's documentation). On error (a
    /// listen address cannot be bound) nothing changes.
    fn apply(&mut self, cfg: Config) -> Result<(), String> {
        // 1. Bind the new addresses first, so a failure changes nothing.
        let mut fresh: Vec<(String, Listener)> = Vec::new();
        for e in &cfg.exports {
            for a in &e.listen {
                let k = key(a);
                if self.listeners.iter().any(|b| b.key == k) {
                    continue;
                }
                match bind(a, &e.socket_perms) {
                    Ok(l) => fresh.push((k, l)),
                    Err(err) => {
                        for (_, l) in fresh {
                            close(l);
                        }
                        return Err(format!("cannot listen on {a}: {err}"));
                    }
                }
            }
        }
        // 2. Exports: an unchanged one keeps its child, others get a new one.
        let mut old: Vec<Option<Slot>> = std::mem::take(&mut self.slots)
            .into_iter()
            .map(Some)
            .collect();
        let now = Instant::now();
        for e in cfg.exports {
            let k = e.child_key();
            let kept = old
                .iter_mut()
                .find(|s| s.as_ref().is_some_and(|s| s.export.child_key() == k))
                .and_then(Option::take);
            match kept {
                Some(mut s) => {
                    s.export = e;
                    self.slots.push(s);
                }
                None => {
                    if !old.is_empty() || !self.listeners.is_empty() {
                        tracing::info!(export = %e.name, "new or changed export: starting a server");
                    }
                    self.slots.push(Slot {
                        export: e,
                        child: None,
                        started: now,
                        failures: 0,
                        start_at: Some(now),
                    });
                }
            }
        }
        for s in old.into_iter().flatten() {
            self.retire(s);
        }
        // 3. Listeners: route each address to its export, close the ones not used.
        let mut all: Vec<(String, Listener)> = std::mem::take(&mut self.listeners)
            .into_iter()
            .map(|b| (b.key, b.listener))
            .collect();
        all.extend(fresh);
        for (k, l) in all {
            let slot = self
                .slots
                .iter()
                .position(|s| s.export.listen.iter().any(|a| key(a) == k));
            match slot {
                Some(slot) => self.listeners.push(Bound {
                    key: k,
                    listener: l,
                    slot,
                }),
                None => {
                    tracing::info!(listen = %k, "listen address removed: closed");
                    close(l);
                }
            }
        }
        Ok(())
    }

    /// Closes the child's channel: it serves its connections to their end, then exits.
    fn retire(&mut self, s: Slot) {
        match s.child {
            Some((pid, channel)) => {
                drop(channel);
                tracing::info!(
                    export = %s.export.name,
                    pid = pid.as_raw_nonzero().get(),
                    "export removed or changed: its server takes no new connections and \
                     exits after its last one"
                );
                self.retired.push(Retired {
                    name: s.export.name,
                    pid,
                });
            }
            None => tracing::info!(export = %s.export.name, "export removed"),
        }
    }

    fn announce(&self) {
        for s in &self.slots {
            for a in &s.export.listen {
                let msize = s.export.options.msize_max.unwrap_or(match a {
                    ListenAddr::Tcp(_) => DEFAULT_MSIZE_TCP,
                    ListenAddr::Unix(_) => DEFAULT_MSIZE_UNIX,
                });
                println!(
                    "p9proxy: serving {} ({}) on {a}; mount it with:",
                    s.export.path.display(),
                    s.export.name
                );
                println!("  {}", crate::serve::mount_hint(a, msize));
            }
        }
    }

    fn reload(&mut self) {
        tracing::info!(file = %self.file.display(), "SIGHUP: reloading");
        let cfg = match config::load(&self.file) {
            Ok(c) => c,
            Err(e) => {
                for d in &e.list {
                    tracing::error!("{}:{d}", e.file.display());
                }
                tracing::error!("invalid config: keeping the running one");
                return;
            }
        };
        match self.apply(cfg) {
            Ok(()) => {
                for s in &self.slots {
                    tracing::info!("{}", config::summary(&s.export));
                }
                tracing::info!(exports = self.slots.len(), "reloaded");
            }
            Err(e) => tracing::error!("{e}: keeping the running config"),
        }
    }

    /// Starts the children that are due.
    fn start_due(&mut self) {
        let now = Instant::now();
        for i in 0..self.slots.len() {
            let due =
                self.slots[i].child.is_none() && self.slots[i].start_at.is_some_and(|t| t <= now);
            if !due {
                continue;
            }
            let s = &mut self.slots[i];
            match spawn(&self.exe, &self.common, &s.export) {
                Ok((pid, channel)) => {
                    tracing::info!(export = %s.export.name, pid = pid.as_raw_nonzero().get(), "server started");
                    s.child = Some((pid, channel));
                    s.started = now;
                    s.start_at = None;
                }
                Err(e) => {
                    let d = backoff(s.failures);
                    s.failures += 1;
                    s.start_at = Some(now + d);
                    tracing::error!(export = %s.export.name, error = %e, retry_in = ?d, "cannot start the server");
                }
            }
        }
    }

    /// Reaps every child that exited; schedules restarts.
    fn reap(&mut self) {
        loop {
            let (pid, status) = match rustix::process::waitpid(None, WaitOptions::NOHANG) {
                Ok(Some(x)) => x,
                Ok(None) | Err(_) => return,
            };
            if let Some(s) = self
                .slots
                .iter_mut()
                .find(|s| s.child.as_ref().is_some_and(|(p, _)| *p == pid))
            {
                s.child = None;
                if s.started.elapsed() > Duration::from_secs(10) {
                    s.failures = 0;
                }
                let d = backoff(s.failures);
                s.failures += 1;
                s.start_at = Some(Instant::now() + d);
                tracing::warn!(export = %s.export.name, pid = pid.as_raw_nonzero().get(), ?status, restart_in = ?d, "server exited; restarting it");
            } else if let Some(i) = self.retired.iter().position(|r| r.pid == pid) {
                let r = self.retired.swap_remove(i);
                tracing::info!(export = %r.name, pid = pid.as_raw_nonzero().get(), "retired server exited");
            }
        }
    }

    /// Accepts what is waiting on listener `i` and hands it to its export's child.
    fn accept(&mut self, i: usize) {
        let Some(b) = self.listeners.get(i) else {
            return;
        };
        loop {
            let accepted = b.listener.accept();
            let (conn, kind, peer) = match accepted {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and the like: the connection waits in the backlog; poll
                    // reports it again.
                    tracing::warn!(listen = %b.key, error = %e, "accept failed");
                    return;
                }
            };
            let slot = &self.slots[b.slot];
            match &slot.child {
                Some((_, channel)) => {
                    if let Err(e) = listen::send_connection(channel, conn.as_fd(), kind, &peer) {
                        tracing::warn!(export = %slot.export.name, %peer, error = %e, "cannot hand the connection to its server; closed");
                    }
                }
                None => {
                    tracing::warn!(export = %slot.export.name, %peer, "the export's server is restarting; connection closed");
                }
            }
        }
    }

    /// SIGTERM, SIGINT: stop everything.
    fn stop(&mut self) {
        tracing::info!("stopping");
        for b in std::mem::take(&mut self.listeners) {
            close(b.listener);
        }
        let mut pids: Vec<Pid> = self.retired.iter().map(|r| r.pid).collect();
        for s in &mut self.slots {
            if let Some((pid, channel)) = s.child.take() {
                drop(channel);
                pids.push(pid);
            }
        }
        for &pid in &pids {
            let _ = rustix::process::kill_process(pid, Signal::TERM);
        }
        // Wait for every descendant (adopted ones too) until none is left.
        let mut deadline = Instant::now() + STOP_GRACE;
        let mut killed = false;
        loop {
            match rustix::process::waitpid(None, WaitOptions::NOHANG) {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(_) => break, // ECHILD: nothing left.
            }
            if Instant::now() > deadline {
                if killed {
                    tracing::warn!("descendants still running after SIGKILL; leaving them");
                    break;
                }
                tracing::warn!("servers still running: killing them");
                for &pid in &pids {
                    let _ = rustix::process::kill_process(pid, Signal::KILL);
                }
                killed = true;
                deadline = Instant::now() + STOP_GRACE;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::info!("stopped");
    }
}

fn bind(a: &ListenAddr, perms: &SocketPerms) -> std::io::Result<Listener> {
    let l = a.bind_with(perms)?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Starts `p9proxy serve --connections-fd N FLAGS -- DIR` for `e`; returns its pid and
/// our end of its channel.
fn spawn(exe: &Path, common: &[String], e: &Export) -> std::io::Result<(Pid, OwnedFd)> {
    use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
    let (ours, theirs) = socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?;
    // The child's end is inherited. The supervisor is single-threaded, so no other
    // process is started while this descriptor lacks close-on-exec.
    rustix::io::fcntl_setfd(&theirs, rustix::io::FdFlags::empty())?;
    let child = Command::new(exe)
        .arg("serve")
        .arg("--connections-fd")
        .arg(theirs.as_raw_fd().to_string())
        .args(common)
        .args(&e.flags)
        .arg("--")
        .arg(&e.path)
        .stdin(Stdio::null())
        .spawn()?;
    drop(theirs);
    let pid = i32::try_from(child.id())
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| std::io::Error::other("bad child pid"))?;
    // Reaped by `reap` (waitpid), not through `child`.
    drop(child);
    Ok((pid, ours))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stops_growing() {
        assert_eq!(backoff(0), Duration::from_millis(100));
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(7), Duration::from_millis(12800));
        assert_eq!(backoff(1000), Duration::from_millis(12800));
    }
}
