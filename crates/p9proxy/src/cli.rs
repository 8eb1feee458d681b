//! The command line.

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};
use p9_server::listen::ListenAddr;

use crate::options::ServeOptions;

/// A 9P2000.L file server for Linux v9fs and other 9P clients.
#[derive(Debug, Parser)]
#[command(name = "p9proxy", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once
pub enum Command {
    /// Export a directory over 9P2000.L.
    #[command(long_about = SERVE_ABOUT)]
    Serve(ServeArgs),
    /// Check a config file (of `serve --config`): print each error as FILE:LINE:COL.
    #[command(name = "check-config")]
    CheckConfig {
        /// The config file (TOML).
        file: PathBuf,
    },
    /// Show a running server's statistics (per request type: count, errors, latency).
    #[command(long_about = STATS_ABOUT)]
    Stats(StatsArgs),
    /// Internal: the privileged helper spawner of `serve --backend proxy`.
    #[command(name = "__helper-spawner", hide = true)]
    HelperSpawner(SpawnerArgs),
    /// Internal: write man pages and shell completions under DIR (for packaging).
    #[command(name = "__generate", hide = true)]
    Generate {
        /// Where: DIR/man and DIR/completions.
        dir: PathBuf,
    },
}

/// `p9proxy __helper-spawner` (started by `serve`, never by hand).
#[derive(Debug, clap::Args)]
pub struct SpawnerArgs {
    /// The helper program.
    #[arg(long)]
    pub helper: PathBuf,
    /// The export.
    #[arg(short = 'p')]
    pub export: PathBuf,
    /// The socket to the front end.
    #[arg(short = 'f')]
    pub fd: i32,
    /// Extra flags for each helper.
    #[arg(long = "helper-arg", allow_hyphen_values = true)]
    pub helper_args: Vec<String>,
    /// The spawner's own syscall filter (serve's `--seccomp`).
    #[arg(long = "seccomp", value_name = "MODE", default_value = "kill")]
    pub seccomp: sandbox::SeccompMode,
}

const SERVE_ABOUT: &str = "\
Export DIR over 9P2000.L (the protocol of Linux's v9fs client).

By default it listens on tcp:127.0.0.1:5640 and prints how to mount the export, e.g.:

    mount -t 9p -o trans=tcp,port=5640,version=9p2000.L,msize=1048576 127.0.0.1 /mnt

Every path is resolved inside DIR: `..`, absolute names and symlinks (including ones
swapped in by a racing rename) never lead out of it, and device nodes, FIFOs and
sockets may be created and listed but are never opened by the server. No
authentication is done: anyone who can connect may attach as any uid. Keep TCP
listeners on loopback or trusted networks, and Unix sockets in private directories.

Backends:
  proxy  (default) privileged virtfs-proxy-helper processes do the file system work,
         and the server drops to --user (p9proxy) with no_new_privs before it reads a
         single client byte. Started as root it spawns its own helpers (and replaces
         one that dies); --helper-socket uses a helper someone else started (ours or
         QEMU's C one), then root is not needed.
  local  the server does the file system work itself, confined in the same way. Run as
         root it keeps root's seven file-server capabilities (creations then belong to
         the client's uid/gid, as with QEMU's passthrough model); run as a user it can
         only do what that user can.

Confinement (as root): --sandbox namespace gives the server its own PID (it runs as
PID 1 there, the process started waits outside), mount, network, IPC and UTS
namespaces and chroots it (into an empty directory with the proxy backend,
the export with the local one); --seccomp kill installs a syscall allowlist.

Started by systemd with listening sockets (socket activation: LISTEN_PID, LISTEN_FDS) it
serves on those instead of binding --listen.

With --config FILE instead of DIR it serves every export of a TOML file (see
`p9proxy check-config --help`): a supervisor binds the listen addresses and starts one
confined server per export, handing it each connection. SIGHUP re-reads the file (an
invalid one is logged with its line and the running config stays; changed exports get a
new server while the old one finishes its connections); SIGTERM stops all.

Security models (--security-model, QEMU's security_model of -fsdev local):
  passthrough  (default) files belong to the client's uid/gid on the host (as root)
  mapped-xattr the server needs no privilege: files belong to the server's user, and
               the client's uid, gid, mode and device numbers are kept in the
               user.virtfs.* xattrs exactly as QEMU keeps them
  mapped-file  the same in .virtfs_metadata/NAME files (.virtfs_metadata_root for
               the root), as QEMU keeps them
  none         like passthrough, but the owner of creations is set best effort
An export written under a mapped model by QEMU reads the same through p9proxy and the
other way round; the metadata is never reachable by the client. --squash and
--uid-map/--gid-map translate the client's ids (see their help).

The attach name (aname) may be empty or DIR.
Statistics: --control serves them to `p9proxy stats` (a table, --prometheus, --json),
--metrics-listen to Prometheus (GET /metrics).

Logs go to stderr; RUST_LOG (e.g. RUST_LOG=p9_server=debug) overrides -v/--trace.";

const CHECK_CONFIG_ABOUT: &str = "\
Check a config file of `p9proxy serve --config` without serving it.

Reads FILE as `serve --config` would and checks it: TOML syntax, unknown keys, value
types, and meaning (each path exists and is a directory, listen addresses parse and
resolve and no two exports share one, users exist, modes and maps are well formed).
Each error is printed on stderr as FILE:LINE:COL: message, and the exit status is 1;
otherwise a summary of the exports is printed and the exit status is 0.

The file: an optional [defaults] table, whose keys every export inherits, and one
[[export]] table per export:

    [defaults]
    backend = \"local\"

    [[export]]
    name = \"shared\"                  # for logs (default: the path)
    path = \"/srv/shared\"             # required: an absolute directory
    listen = [\"tcp:127.0.0.1:5640\", \"unix:/run/p9proxy/shared.sock\"]   # required
    readonly = true

Every other key is the `serve` flag of the same name (`_` for `-`), with the value the
flag takes (repeatable flags: an array, e.g. uid_map = [\"0:100000:65536\"]; switches:
true or false; numbers: integers); an export's server gets the flags of the keys not at
their default. The supervisor binds Unix listeners with socket_mode (\"0660\") and
socket_group. The keys:
";
const STATS_ABOUT: &str = "\
Show a running server's statistics, read from its control socket (p9proxy serve
--control PATH): per 9P request type the requests answered, the errors (Rlerror), the
file data bytes (read, write) and the latency (mean, and p50/p99 from a histogram of
log2 buckets from 1 us to 16.8 s), then connections open, fids open, helper respawns,
and failed requests by errno.

--prometheus prints the Prometheus text format instead (what --metrics-listen serves
on GET /metrics), --json a JSON document. The control socket speaks one line: a
client sends stats, prometheus or json and a newline, and reads until EOF, e.g.

    echo json | socat - UNIX-CONNECT:/run/p9proxy/control.sock";

/// The command line: [`Cli`]'s, with the config keys listed in `check-config --help`
/// (from the options' own declarations).
pub fn command() -> clap::Command {
    let keys = crate::options::ServeOptions::keys_and_flags().join(", ");
    let about = format!("{CHECK_CONFIG_ABOUT}{}", textwrap(&keys, 88));
    Cli::command().mut_subcommand("check-config", |c| c.long_about(about))
}

/// `text` wrapped at spaces to lines of at most `width` characters.
fn textwrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split(' ') {
        if line > 0 && line + 1 + word.len() > width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.len();
    }
    out
}

/// Exits (status 2, as clap's usage errors) for an option `flag` given with `--config`:
/// its value would be lost (each export's options come from the file).
pub fn refuse_with_config(command: &mut clap::Command, flag: &str, key: &str) -> ! {
    let msg = format!(
        "{flag} cannot be used with --config: an export's options come from the file; set \
         `{key}` in its [[export]] or in [defaults]"
    );
    let serve = command.find_subcommand_mut("serve").map(|c| c.clone());
    let mut err = clap::Error::raw(clap::error::ErrorKind::ArgumentConflict, format!("{msg}\n"));
    if let Some(mut serve) = serve {
        err = err.format(&mut serve);
    }
    err.exit()
}

/// `p9proxy stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// The server's control socket.
    #[arg(long, value_name = "PATH", default_value = crate::control::DEFAULT_CONTROL)]
    pub control: PathBuf,

    /// Print the Prometheus text exposition format.
    #[arg(long, conflicts_with = "json")]
    pub prometheus: bool,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `p9proxy serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The directory to export (or --config).
    #[arg(
        required_unless_present = "config",
        default_value = ".",
        hide_default_value = true
    )]
    pub dir: PathBuf,

    /// Serve the exports of a config file (TOML: `[[export]]` tables with path, listen,
    /// readonly, backend, ...; see `check-config`) from a supervisor that starts one
    /// confined server per export and hands each accepted connection to it. SIGHUP
    /// reloads the file without dropping connections; SIGTERM stops all. The export
    /// options come from the file (giving one of their flags here is an error); -v and
    /// --trace apply to every export.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["dir", "listen", "stdio", "fd", "connections_fd"]
    )]
    pub config: Option<PathBuf>,

    /// Internal (the --config supervisor's children): serve the connections handed over
    /// the inherited SOCK_SEQPACKET socket N instead of listening.
    #[arg(long, value_name = "N", hide = true, conflicts_with_all = ["listen", "stdio", "fd"])]
    pub connections_fd: Option<i32>,

    /// Where to listen: tcp:HOST:PORT or unix:PATH. Repeatable.
    /// [default: tcp:127.0.0.1:5640]
    #[arg(long = "listen", value_name = "ADDR", value_parser = parse_listen)]
    pub listen: Vec<ListenAddr>,

    /// Serve one client on stdin/stdout, then exit (stdout carries the protocol; logs
    /// stay on stderr).
    #[arg(long, conflicts_with_all = ["listen", "fd"])]
    pub stdio: bool,

    /// Serve one client on the inherited descriptor N (a socket), or R,W (a read and a
    /// write descriptor, as the kernel's trans=fd takes them), then exit.
    #[arg(long, value_name = "N|R,W", value_parser = parse_fds, conflicts_with = "listen")]
    pub fd: Option<(i32, i32)>,

    /// The export's options (also the config file's keys).
    #[command(flatten)]
    pub options: ServeOptions,

    /// Log one line per failed request (with its errno). Twice: more.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Log every request and reply decoded, one line each with the client's address, as
    /// diod's debug output does (`<- Twalk tag 1 fid 0 newfid 1 nwname 2 'a' 'b'`,
    /// `-> Rwalk tag 1 nwqid 2 ...`); data is shown by its byte count only. Very verbose.
    #[arg(long)]
    pub trace: bool,
}

fn parse_listen(s: &str) -> Result<ListenAddr, String> {
    s.parse()
}

fn parse_fds(s: &str) -> Result<(i32, i32), String> {
    let num = |x: &str| {
        x.trim()
            .parse::<i32>()
            .ok()
            .filter(|&n| n >= 0)
            .ok_or_else(|| format!("{x:?} is not a descriptor number"))
    };
    match s.split_once(',') {
        Some((r, w)) => Ok((num(r)?, num(w)?)),
        None => {
            let n = num(s)?;
            Ok((n, n))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fds() {
        assert_eq!(parse_fds("3"), Ok((3, 3)));
        assert_eq!(parse_fds("3,4"), Ok((3, 4)));
        assert!(parse_fds("-1").is_err());
        assert!(parse_fds("a,b").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
