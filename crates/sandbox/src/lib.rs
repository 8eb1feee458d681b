//! Seccomp allowlists as data: each process declares the syscalls it needs (with argument
//! conditions where a syscall is dangerous in general, e.g. `ioctl`), and [`apply`] turns
//! the list into a BPF filter with `seccompiler` and installs it, after
//! `PR_SET_NO_NEW_PRIVS`. Anything not listed kills the process (`kill`), is logged by the
//! kernel and allowed (`log`, for finding a missing syscall), or the filter is skipped
//! (`off`).

#![warn(missing_docs)]

pub mod caps;
pub mod lists;
pub mod mounts;

use std::collections::BTreeMap;
use std::str::FromStr;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// What happens on a syscall outside the allowlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeccompMode {
    /// The process is killed (SIGSYS); the kernel logs it (audit).
    #[default]
    Kill,
    /// The syscall is allowed and the kernel logs it (`SECCOMP_RET_LOG`).
    Log,
    /// No filter.
    Off,
}

impl FromStr for SeccompMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "kill" => Ok(SeccompMode::Kill),
            "log" => Ok(SeccompMode::Log),
            "off" => Ok(SeccompMode::Off),
            other => Err(format!("unknown seccomp mode {other:?} (kill, log or off)")),
        }
    }
}

impl std::fmt::Display for SeccompMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SeccompMode::Kill => "kill",
            SeccompMode::Log => "log",
            SeccompMode::Off => "off",
        })
    }
}

/// One allowed syscall, unconditionally or when its argument `arg` equals one of `values`.
#[derive(Debug, Clone, Copy)]
pub enum Allow {
    /// Any arguments.
    Any(i64),
    /// Only with argument number `arg` (32-bit compare) equal to one of `values`.
    ArgIn {
        /// The syscall number.
        nr: i64,
        /// Which argument (0-based).
        arg: u8,
        /// The permitted values.
        values: &'static [u64],
    },
    /// Not run: answered with `errno` instead. For a syscall whose arguments a filter
    /// cannot inspect but whose caller falls back to one it can (glibc's `pthread_create`
    /// falls back from `clone3`, whose flags are in memory, to `clone`, whose flags are
    /// a register, on `ENOSYS`).
    Refuse {
        /// The syscall number.
        nr: i64,
        /// The error it returns.
        errno: u32,
    },
}

/// Why the filter could not be built or installed.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// seccompiler refused the rules.
    #[error("building the seccomp filter: {0}")]
    Build(String),
    /// `PR_SET_NO_NEW_PRIVS` failed.
    #[error("no_new_privs: {0}")]
    NoNewPrivs(rustix::io::Errno),
    /// The kernel refused the filter.
    #[error("installing the seccomp filter: {0}")]
    Install(String),
}

/// Syscalls any Rust process of ours needs to run at all (allocation, signals, exit,
/// clocks, stderr/syslog logging, futexes).
pub const RUNTIME: &[Allow] = &[
    Allow::Any(libc::SYS_brk),
    Allow::Any(libc::SYS_mmap),
    Allow::Any(libc::SYS_munmap),
    Allow::Any(libc::SYS_mremap),
    Allow::Any(libc::SYS_madvise),
    Allow::Any(libc::SYS_mprotect),
    Allow::Any(libc::SYS_rt_sigreturn),
    Allow::Any(libc::SYS_rt_sigprocmask),
    Allow::Any(libc::SYS_rt_sigaction),
    Allow::Any(libc::SYS_sigaltstack),
    Allow::Any(libc::SYS_exit),
    Allow::Any(libc::SYS_exit_group),
    Allow::Any(libc::SYS_futex),
    Allow::Any(libc::SYS_sched_yield),
    Allow::Any(libc::SYS_clock_gettime),
    Allow::Any(libc::SYS_gettid),
    Allow::Any(libc::SYS_getpid),
    Allow::Any(libc::SYS_getrandom),
    Allow::Any(libc::SYS_write),
    Allow::Any(libc::SYS_writev),
    Allow::Any(libc::SYS_close),
];

/// Builds the BPF programs for the `allow` lists (plus [`RUNTIME`]) with `mode`'s
/// mismatch action: the allowlist, and (when a list refuses syscalls with an errno) a
/// second filter answering those. The kernel runs every filter and the strictest
/// verdict wins (kill over errno over allow), so a refused syscall is allowed by the
/// first and answered with its errno by the second.
pub fn build(mode: SeccompMode, allow: &[&[Allow]]) -> Result<Vec<BpfProgram>, SeccompError> {
    let mismatch = match mode {
        SeccompMode::Off => return Ok(Vec::new()),
        SeccompMode::Kill => SeccompAction::KillProcess,
        SeccompMode::Log => SeccompAction::Log,
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let mut refused: BTreeMap<u32, BTreeMap<i64, Vec<SeccompRule>>> = BTreeMap::new();
    let mut unconditional = std::collections::BTreeSet::new();
    for a in RUNTIME.iter().chain(allow.iter().flat_map(|l| l.iter())) {
        match *a {
            Allow::Any(nr) => {
                unconditional.insert(nr);
                rules.insert(nr, Vec::new());
            }
            Allow::ArgIn { nr, .. } if unconditional.contains(&nr) => {}
            Allow::ArgIn { nr, arg, values } => {
                let entry = rules.entry(nr).or_default();
                for &v in values {
                    let cond =
                        SeccompCondition::new(arg, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, v)
                            .map_err(|e| SeccompError::Build(e.to_string()))?;
                    entry.push(
                        SeccompRule::new(vec![cond])
                            .map_err(|e| SeccompError::Build(e.to_string()))?,
                    );
                }
            }
            Allow::Refuse { nr, errno } => {
                unconditional.insert(nr);
                rules.insert(nr, Vec::new());
                refused.entry(errno).or_default().insert(nr, Vec::new());
            }
        }
    }
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| SeccompError::Build(e.to_string()))?;
    let compile = |filter: Result<SeccompFilter, seccompiler::BackendError>| {
        filter
            .and_then(BpfProgram::try_from)
            .map_err(|e| SeccompError::Build(e.to_string()))
    };
    let mut progs = vec![compile(SeccompFilter::new(
        rules,
        mismatch,
        SeccompAction::Allow,
        arch,
    ))?];
    for (errno, nrs) in refused {
        progs.push(compile(SeccompFilter::new(
            nrs,
            SeccompAction::Allow,
            SeccompAction::Errno(errno),
            arch,
        ))?);
    }
    Ok(progs)
}

/// Sets `no_new_privs` and installs the filters for the `allow` lists on every thread of
/// the process (threads started later inherit them).
pub fn apply(mode: SeccompMode, allow: &[&[Allow]]) -> Result<(), SeccompError> {
    let progs = build(mode, allow)?;
    if progs.is_empty() {
        tracing::warn!("seccomp filter off");
        return Ok(());
    }
    rustix::thread::set_no_new_privs(true).map_err(SeccompError::NoNewPrivs)?;
    // The allowlist last: it does not allow seccomp(2) itself.
    for prog in progs.iter().rev() {
        seccompiler::apply_filter_all_threads(prog)
            .map_err(|e| SeccompError::Install(e.to_string()))?;
    }
    Ok(())
}

/// Test hook, run right after [`apply`]: with `P9PROXY_SECCOMP_SELFTEST` set, makes a
/// syscall no allowlist of ours permits, so that tests can see the filter kill the
/// process (`kill`) or let it live (`log`, `off`): `socket(2)` (any value), or starting a
/// process (`spawn`: `clone` without `CLONE_THREAD`). `thread` starts a thread, which the
/// filter must allow (glibc's `clone3` refused with `ENOSYS`, then `clone` with thread
/// flags), and carries on.
pub fn selftest_if_requested() {
    let Some(what) = std::env::var_os("P9PROXY_SECCOMP_SELFTEST") else {
        return;
    };
    match what.to_str() {
        Some("spawn") => {
            tracing::warn!(
                "seccomp self-test: calling clone(2) for a process, which the allowlist forbids"
            );
            let r = std::process::Command::new("/bin/true").status();
            tracing::warn!(result = ?r, "seccomp self-test: still alive");
        }
        Some("thread") => {
            let r = std::thread::spawn(|| 42).join();
            tracing::warn!(result = ?r, "seccomp self-test: thread started and joined");
        }
        _ => {
            tracing::warn!("seccomp self-test: calling socket(2), which the allowlist forbids");
            let _ = rustix::net::socket(
                rustix::net::AddressFamily::INET,
                rustix::net::SocketType::DGRAM,
                None,
            );
            tracing::warn!("seccomp self-test: still alive");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse() {
        assert_eq!("kill".parse::<SeccompMode>(), Ok(SeccompMode::Kill));
        assert_eq!("log".parse::<SeccompMode>(), Ok(SeccompMode::Log));
        assert_eq!("off".parse::<SeccompMode>(), Ok(SeccompMode::Off));
        assert!("nope".parse::<SeccompMode>().is_err());
    }

    #[test]
    fn filters_build() {
        assert!(build(SeccompMode::Off, &[]).unwrap().is_empty());
        let list = [
            Allow::Any(libc::SYS_read),
            Allow::ArgIn {
                nr: libc::SYS_ioctl,
                arg: 1,
                values: &[0x1234, 0x5678],
            },
        ];
        assert!(build(SeccompMode::Kill, &[&list]).unwrap().len() == 1);
        assert!(build(SeccompMode::Log, &[&list]).unwrap().len() == 1);
        // Every list of the project builds, alone and combined (duplicates merge).
        use lists::*;
        let helper = [PROXY_CONNECTION, FILE_OPS, CREDENTIALS];
        assert_eq!(build(SeccompMode::Kill, &helper).unwrap().len(), 1);
        // The front end refuses clone3 (ENOSYS) in a second filter.
        for combo in [&[FRONT_END][..], &[FRONT_END, FILE_OPS, CREDENTIALS][..]] {
            assert_eq!(build(SeccompMode::Kill, combo).unwrap().len(), 2);
        }
        assert_eq!(FS_IOC_GETVERSION, 0x8008_7601);
    }
}
