//! `--sandbox namespace`: the front end runs as PID 1 of a PID namespace of its own, as
//! virtiofsd's does. `unshare(CLONE_NEWPID)` only moves the caller's *children*, so the
//! process forks once, early (single-threaded, before the backend starts its helper
//! spawner): the child serves, in the new namespace, with its spawner and helpers; the
//! parent stays outside and only waits.
//!
//! The parent keeps nothing of the server (it closes the listeners and connections it was
//! handed, and its stdin/stdout), keeps only `CAP_KILL`, runs under a seccomp allowlist of
//! a few syscalls, and:
//! - when the server exits, exits the same way (the same code, or the same signal), so a
//!   supervisor, systemd or a test sees what it saw before;
//! - on SIGTERM, SIGINT, SIGHUP or SIGQUIT kills the server (the init of a PID namespace
//!   ignores signals it has no handler for; SIGKILL always goes through) and then dies of
//!   that signal. When the server, PID 1, dies, the kernel kills everything else in its
//!   namespace: no helper or spawner outlives it.
//!
//! The server gets SIGKILL if the parent dies (`PR_SET_PDEATHSIG`, armed again after the
//! server drops its privileges, which clears it).

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};
use rustix::thread::UnshareFlags;

/// Signals the parent acts on (blocked, and taken with `sigwait`).
const FORWARDED: [Signal; 4] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// The parent's syscalls, beyond the runtime's: waiting, taking signals, killing the
/// server, and dying of a signal.
const PARENT: &[sandbox::Allow] = &[
    sandbox::Allow::Any(libc::SYS_wait4),
    sandbox::Allow::Any(libc::SYS_waitid),
    sandbox::Allow::Any(libc::SYS_rt_sigtimedwait),
    sandbox::Allow::Any(libc::SYS_kill),
    sandbox::Allow::Any(libc::SYS_tgkill),
    sandbox::Allow::Any(libc::SYS_exit_group),
];

/// Enters a new PID namespace: returns `keep` in the child (PID 1 there), which goes on
/// serving; the parent drops `keep` and never returns.
pub fn enter<T>(keep: T) -> Result<T, String> {
    let threads = std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0);
    if threads != 1 {
        return Err(format!(
            "internal: {threads} threads before the PID namespace's fork (must be 1)"
        ));
    }
    unshare_pid()?;
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set.add(Signal::SIGCHLD);
    // Blocked before the fork, so that none is lost; the child unblocks them.
    set.thread_block()
        .map_err(|e| format!("sigprocmask: {e}"))?;
    match fork()? {
        ForkResult::Child => {
            rearm_parent_death_signal()?;
            own_proc();
            set.thread_unblock()
                .map_err(|e| format!("sigprocmask: {e}"))?;
            tracing::info!("front end is PID 1 of a new PID namespace");
            Ok(keep)
        }
        ForkResult::Parent { child } => {
            drop(keep);
            parent(child, &set)
        }
    }
}

/// Mounts a procfs of the new PID namespace over `/proc`, in a mount namespace of our own
/// (the host's `/proc` is untouched). Everything opened from `/proc` from here on (the
/// proxy backend's and the helpers' `/proc/self/fd`, which they reopen their fds
/// through) shows this namespace only: the server, its spawner and its helpers, not the
/// host's processes, whose `/proc/PID/root` a compromised front end could otherwise try
/// to enter (as any other process of its user). `subset=pid` leaves out everything but
/// the processes. Best effort: where a fresh procfs cannot be mounted (a container that
/// masks parts of `/proc`), a warning, and the host's `/proc` as before.
fn own_proc() {
    use rustix::mount::{mount, MountFlags};
    let result = sandbox::mounts::private_namespace(UnshareFlags::empty())
        .map_err(|e| e.to_string())
        .and_then(|()| {
            let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
            mount("proc", "/proc", "proc", flags, c"subset=pid")
                .map_err(|e| format!("mount proc: {e}"))
        });
    if let Err(e) = result {
        tracing::warn!(error = %e, "no procfs of our own PID namespace; /proc shows the host's processes");
    }
}

#[allow(unsafe_code)]
fn unshare_pid() -> Result<(), String> {
    // SAFETY: CLONE_NEWPID shares neither memory nor the fd table differently (what makes
    // unshare unsafe); it only sets the namespace of children to come.
    unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWPID) }
        .map_err(|e| format!("unshare(CLONE_NEWPID): {e}"))
}

#[allow(unsafe_code)]
fn fork() -> Result<ForkResult, String> {
    // SAFETY: the process has one thread (checked by the caller), so the child's memory
    // is consistent (no lock held by a thread that does not exist there).
    unsafe { nix::unistd::fork() }.map_err(|e| format!("fork: {e}"))
}

/// Arms the parent-death signal again: the kernel clears it when the process changes
/// its uid or gid (dropping privileges does). Call after that, before seccomp.
pub fn rearm_parent_death_signal() -> Result<(), String> {
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
        .map_err(|e| format!("PR_SET_PDEATHSIG: {e}"))
}

/// The parent: waits for the server and exits as it did, or kills it on a signal.
fn parent(child: Pid, set: &SigSet) -> ! {
    // Nothing of the server stays open here: not even stdin/stdout (`--stdio`).
    if let Ok(null) = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = rustix::stdio::dup2_stdin(&null);
        let _ = rustix::stdio::dup2_stdout(&null);
    }
    if let Err(e) = confine_parent() {
        tracing::warn!(error = %e, "PID namespace parent: not confined");
    }
    loop {
        let sig = match set.wait() {
            Ok(s) => s,
            Err(_) => continue,
        };
        if sig == Signal::SIGCHLD {
            match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => std::process::exit(code),
                Ok(WaitStatus::Signaled(_, s, _)) => die_of(s),
                _ => continue,
            }
        }
        // The server, as a namespace's init, ignores `sig`: end it for good, then die of
        // `sig` ourselves.
        let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        die_of(sig);
    }
}

/// Only `CAP_KILL` (the server becomes another user), and the allowlist.
fn confine_parent() -> Result<(), String> {
    if rustix::process::geteuid().is_root() {
        sandbox::caps::keep_only(rustix::thread::CapabilitySet::KILL)
            .map_err(|e| format!("capabilities: {e}"))?;
    }
    sandbox::apply(sandbox::SeccompMode::Kill, &[PARENT]).map_err(|e| e.to_string())
}

/// Terminates this process by `sig` (its default action), as the server was.
fn die_of(sig: Signal) -> ! {
    let _ = nix::sys::signal::raise(sig);
    let mut only = SigSet::empty();
    only.add(sig);
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&only), None);
    // A signal whose default action is not to terminate (none of ours): exit anyway.
    std::process::exit(128 + sig as i32);
}
