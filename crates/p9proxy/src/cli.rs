//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use p9_server::listen::ListenAddr;

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
    #[command(name = "check-config", long_about = CHECK_CONFIG_ABOUT)]
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

Other keys, each passed as the `serve` flag of the same name when set: backend, user,
helpers, sandbox, seccomp, max_connections, max_connections_per_user, handshake_timeout,
max_fids, msize_max,
security_model, squash (\"UID:GID\"), uid_map and gid_map (arrays of
\"CLIENT:HOST:COUNT\"), control, allow_users (an array of names or uids), trust_network,
socket_mode (\"0660\") and socket_group (the supervisor binds Unix listeners with them).";
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

/// Which backend does the file system work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// Privileged helper processes over the 9p proxy protocol; the server runs unprivileged.
    Proxy,
    /// In-process, confined to the export.
    Local,
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
    /// reloads the file without dropping connections; SIGTERM stops all. The other
    /// export options come from the file; -v and --trace apply to every export.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["dir", "listen", "stdio", "fd", "connections_fd", "readonly",
            "user", "helper_socket", "helper", "sandbox", "msize_max"]
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

    /// Which backend does the file system work [default: proxy as root, local otherwise].
    #[arg(long, value_enum, default_value_t = crate::identity::default_backend(), hide_default_value = true)]
    pub backend: BackendKind,

    #[command(flatten)]
    pub identity: crate::identity::IdentityArgs,

    /// Trust this user's connections (a name or uid; repeatable): they may attach as any
    /// user, as a VM monitor or a root mount needs. Every other local peer, identified by
    /// the kernel (SO_PEERCRED on Unix sockets, the socket's owner for loopback TCP),
    /// acts as itself whatever it claims [default: root when run as root, else the
    /// server's own user].
    #[arg(long = "allow-user", value_name = "NAME|UID")]
    pub allow_users: Vec<String>,

    /// Serve peers the kernel cannot identify (TCP from other hosts) as trusted: they
    /// may attach as any user. Only for listeners that trusted machines alone can reach;
    /// without it such peers are refused (EACCES to their Tattach).
    #[arg(long)]
    pub trust_network: bool,

    /// Mode of Unix listening sockets (octal) [default: 0600: the starting user only].
    #[arg(long, value_name = "OCTAL", value_parser = parse_socket_mode)]
    pub socket_mode: Option<u32>,

    /// Group of Unix listening sockets (a name or gid) [default: the starting user's].
    #[arg(long, value_name = "GROUP")]
    pub socket_group: Option<String>,

    /// Export read-only: every change answers EROFS (opens for writing too).
    #[arg(long)]
    pub readonly: bool,

    /// With --backend proxy: the user the server drops to once the helper runs
    /// [default: p9proxy, the system user the Debian package creates; nobody, with a
    /// warning, where there is none].
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// With --backend proxy: use the helper listening on this Unix socket (ours, or
    /// QEMU's virtfs-proxy-helper) instead of starting one.
    #[arg(long, value_name = "PATH")]
    pub helper_socket: Option<PathBuf>,

    /// With --backend proxy: the helper program to start
    /// [default: virtfs-proxy-helper next to this program].
    #[arg(long, value_name = "PATH", conflicts_with = "helper_socket")]
    pub helper: Option<PathBuf>,

    /// With --backend proxy: an extra flag for every helper started (repeatable), e.g.
    /// --helper-arg=--poll-us=0.
    #[arg(long = "helper-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub helper_args: Vec<String>,

    /// With --backend proxy: how many helper connections serve requests at once (a
    /// connection whose request finds every helper busy waits for one).
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub helpers: usize,

    /// Adaptive polling: while at most half the CPUs' worth of connections are busy, a
    /// connection polls up to this many microseconds for its client's next request (and
    /// for a helper's reply) before it sleeps; a sleeping CPU is slow to wake (0: always
    /// sleep at once).
    #[arg(long = "poll-us", value_name = "US", default_value_t = 50,
          value_parser = clap::value_parser!(u64).range(0..=MAX_POLL_US))]
    pub poll_us: u64,

    /// Largest msize to grant, in bytes (K and M suffixes work)
    /// [default: 4M on Unix sockets and descriptors, 1M on TCP].
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub msize_max: Option<u32>,

    /// Most clients served at once; more are closed as soon as they connect.
    #[arg(long, value_name = "N", default_value_t = p9_server::listen::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Most connections one untrusted local user (a peer that acts as itself) holds at
    /// once; more of its connections are closed as soon as they connect.
    #[arg(long, value_name = "N", default_value_t = p9_server::peer::DEFAULT_MAX_CONNECTIONS_PER_USER,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections_per_user: usize,

    /// Seconds a new connection has to complete its handshake (Tversion, then Tattach)
    /// before it is closed, so that clients that connect and say nothing cannot hold
    /// every connection slot (0: no limit).
    #[arg(long, value_name = "SECS", default_value_t = p9_server::listen::DEFAULT_HANDSHAKE_TIMEOUT.as_secs())]
    pub handshake_timeout: u64,

    /// Most fids per connection; past it, requests making new fids fail with EMFILE.
    #[arg(long, value_name = "N", default_value_t = p9_server::DEFAULT_MAX_FIDS)]
    pub max_fids: usize,

    /// How the server confines itself: new PID/mount/network/IPC/UTS namespaces and a chroot
    /// (an empty root with the proxy backend, the export with the local one), a chroot
    /// only, or nothing [default: namespace as root, none otherwise].
    #[arg(long, value_enum, value_name = "MODE")]
    pub sandbox: Option<crate::sandbox::SandboxMode>,

    /// What a syscall outside the server's allowlist does: kill the server, be logged by
    /// the kernel and allowed, or no filter.
    #[arg(long, value_name = "kill|log|off", default_value = "kill")]
    pub seccomp: sandbox::SeccompMode,

    /// Log one line per failed request (with its errno). Twice: more.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Log every request and reply decoded, one line each with the client's address, as
    /// diod's debug output does (`<- Twalk tag 1 fid 0 newfid 1 nwname 2 'a' 'b'`,
    /// `-> Rwalk tag 1 nwqid 2 ...`); data is shown by its byte count only. Very verbose.
    #[arg(long)]
    pub trace: bool,

    /// Serve statistics on a Unix socket (mode 0600; its directory is made if missing),
    /// for `p9proxy stats` (which looks at /run/p9proxy/control.sock by default).
    #[arg(long, value_name = "PATH")]
    pub control: Option<PathBuf>,

    /// Serve the statistics in the Prometheus text format on GET /metrics (plain HTTP) at
    /// tcp:HOST:PORT or unix:PATH. No authentication: keep it on loopback.
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub metrics_listen: Option<ListenAddr>,
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

/// Parses `65536`, `64K`, `4M`, `4MiB`.
pub fn parse_size(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let (digits, mult) = match t
        .trim_end_matches("iB")
        .trim_end_matches('B')
        .char_indices()
        .last()
    {
        Some((i, 'K' | 'k')) => (&t[..i], 1024u64),
        Some((i, 'M' | 'm')) => (&t[..i], 1024 * 1024),
        _ => (t, 1),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 1048576, 512K, 4M)"))?;
    let v = n
        .checked_mul(mult)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| format!("{s:?} is too large"))?;
    if v < p9_server::MIN_MSIZE {
        return Err(format!("msize must be at least {}", p9_server::MIN_MSIZE));
    }
    Ok(v)
}

/// The largest `--poll-us` (one second: polling longer than that is never useful).
pub const MAX_POLL_US: u64 = 1_000_000;

/// Parses an octal socket mode (`660`, `0660`): permission bits only.
pub fn parse_socket_mode(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s.trim_start_matches("0o"), 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err(format!(
            "{s:?} is not an octal mode of permission bits (e.g. 0660)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("4M"), Ok(4 << 20));
        assert_eq!(parse_size("4MiB"), Ok(4 << 20));
        assert!(parse_size("1K").is_err());
        assert!(parse_size("9999M").is_err());
        assert!(parse_size("x").is_err());
    }

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
