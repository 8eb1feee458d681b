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

/// Builds the BPF program for the `allow` lists (plus [`RUNTIME`]) with `mode`'s
/// mismatch action.
pub fn build(mode: SeccompMode, allow: &[&[Allow]]) -> Result<Option<BpfProgram>, SeccompError> {
    let mismatch = match mode {
        SeccompMode::Off => return Ok(None),
        SeccompMode::Kill => SeccompAction::KillProcess,
        SeccompMode::Log => SeccompAction::Log,
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
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
        }
    }
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| SeccompError::Build(e.to_string()))?;
    let filter = SeccompFilter::new(rules, mismatch, SeccompAction::Allow, arch)
        .map_err(|e| SeccompError::Build(e.to_string()))?;
    let prog: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| SeccompError::Build(e.to_string()))?;
    Ok(Some(prog))
}

/// Sets `no_new_privs` and installs the filter for the `allow` lists on every thread of
/// the process (threads started later inherit it).
pub fn apply(mode: SeccompMode, allow: &[&[Allow]]) -> Result<(), SeccompError> {
    let Some(prog) = build(mode, allow)? else {
        tracing::warn!("seccomp filter off");
        return Ok(());
    };
    rustix::thread::set_no_new_privs(true).map_err(SeccompError::NoNewPrivs)?;
    seccompiler::apply_filter_all_threads(&prog).map_err(|e| SeccompError::Install(e.to_string()))
}

/// Test hook, run right after [`apply`]: with `P9PROXY_SECCOMP_SELFTEST` set, makes a
/// syscall no allowlist of ours has (`socket(2)`), so that tests can see the filter kill
/// the process (`kill`) or let it live (`log`, `off`).
pub fn selftest_if_requested() {
    if std::env::var_os("P9PROXY_SECCOMP_SELFTEST").is_some() {
        tracing::warn!("seccomp self-test: calling socket(2), which the allowlist forbids");
        let _ = rustix::net::socket(
            rustix::net::AddressFamily::INET,
            rustix::net::SocketType::DGRAM,
            None,
        );
        tracing::warn!("seccomp self-test: still alive");
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
        assert!(build(SeccompMode::Off, &[]).unwrap().is_none());
        let list = [
            Allow::Any(libc::SYS_read),
            Allow::ArgIn {
                nr: libc::SYS_ioctl,
                arg: 1,
                values: &[0x1234, 0x5678],
            },
        ];
        assert!(build(SeccompMode::Kill, &[&list]).unwrap().is_some());
        assert!(build(SeccompMode::Log, &[&list]).unwrap().is_some());
        // Every list of the project builds, alone and combined (duplicates merge).
        use lists::*;
        for combo in [
            &[PROXY_CONNECTION, FILE_OPS, CREDENTIALS][..],
            &[FRONT_END][..],
            &[FRONT_END, FILE_OPS, CREDENTIALS][..],
        ] {
            assert!(build(SeccompMode::Kill, combo).unwrap().is_some());
        }
        assert_eq!(FS_IOC_GETVERSION, 0x8008_7601);
    }
}
