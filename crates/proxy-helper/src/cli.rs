//! The command line, flag for flag that of QEMU's `virtfs-proxy-helper`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgGroup, Parser};

/// virtfs-proxy-helper: serves QEMU's 9p "proxy" fs driver (`-fsdev proxy,...`) from
/// an export directory, over one AF_UNIX connection.
///
/// A drop-in replacement for QEMU's helper: the same flags, the same bytes. Runs as root,
/// confines itself to the export (private nodev mount, chroot, openat2 RESOLVE_IN_ROOT)
/// and keeps only the capabilities file operations need. Serves one connection, then
/// exits.
#[derive(Debug, Parser)]
#[command(name = "virtfs-proxy-helper", version, about, long_about)]
#[command(group(ArgGroup::new("channel").required(true).args(["fd", "socket"])))]
pub struct Cli {
    /// The directory to export (9p path to export).
    #[arg(short = 'p', long = "path", value_name = "PATH")]
    pub path: PathBuf,

    /// An inherited, connected AF_UNIX socket to serve (QEMU's `sock_fd=`).
    #[arg(short = 'f', long = "fd", value_name = "FD", conflicts_with = "socket")]
    pub fd: Option<i32>,

    /// Listen on this socket path, serve the first connection (QEMU's `socket=`).
    #[arg(short = 's', long = "socket", value_name = "SOCKET", requires_all = ["uid", "gid"])]
    pub socket: Option<PathBuf>,

    /// Owner uid of the socket file (who may connect).
    #[arg(short = 'u', long = "uid", value_name = "UID")]
    pub uid: Option<u32>,

    /// Owner gid of the socket file.
    #[arg(short = 'g', long = "gid", value_name = "GID")]
    pub gid: Option<u32>,

    /// Stay in the foreground and log to stderr (otherwise: daemonize, log to syslog).
    #[arg(short = 'n', long = "nodaemon")]
    pub nodaemon: bool,

    /// Adaptive polling: after a reply, poll up to this many microseconds for the next
    /// request, saving a wakeup per request while the peer runs on another CPU; polls
    /// that time out or lose the CPU (a peer on the same CPU, a busy host) back off
    /// (0: off).
    #[arg(long = "poll-us", value_name = "US", default_value_t = 50)]
    pub poll_us: u64,

    /// What a syscall outside the helper's allowlist does: kill the helper (default),
    /// be logged by the kernel and allowed (log), or no filter at all (off).
    #[arg(long = "seccomp", value_name = "MODE", default_value = "kill")]
    pub seccomp: sandbox::SeccompMode,

    /// Ours, for `p9proxy serve`'s helper spawner: an inherited fd of a detached copy of
    /// the export's mounts (`open_tree(OPEN_TREE_CLONE)`) to serve from, shared by the
    /// helpers of one front end so that each accepts the fds the others hand out.
    #[arg(long = "tree-fd", value_name = "FD", hide = true)]
    pub tree_fd: Option<i32>,

    /// Log each failed request (one line with the request and errno); also RUST_LOG.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
}

/// What to do after parsing the command line.
#[derive(Debug)]
pub enum Parsed {
    /// Run with these options.
    Run(Cli),
    /// Exit with this status after printing this text (help, version, or an error).
    Exit {
        /// The exit status.
        code: i32,
        /// What to print.
        text: String,
        /// Print it on stderr rather than stdout.
        to_stderr: bool,
    },
}

/// Parses `args`. Errors exit with status 1, as QEMU's helper's do; `--help` and
/// `--version` exit 0.
pub fn parse<I, T>(args: I) -> Parsed
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match Cli::try_parse_from(args) {
        Ok(cli) => Parsed::Run(cli),
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            Parsed::Exit {
                code,
                text: e.render().to_string(),
                to_stderr: e.use_stderr(),
            }
        }
    }
}
