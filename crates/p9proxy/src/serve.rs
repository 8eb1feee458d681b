//! `p9proxy serve`: set-up in a fixed order, then serving.
//!
//! 1. take the transport: inherited descriptors (`--stdio`, `--fd`), the listening
//!    sockets systemd passed (socket activation, `LISTEN_FDS`), or bind every listener
//!    (a privileged port needs root, so this comes first);
//! 2. open the backend: the export in-process (`local`), or (proxy) start the privileged
//!    helper spawner and the first helpers over socketpairs, or connect to
//!    `--helper-socket`;
//! 3. confine (`--sandbox`: namespaces and a chroot), drop privileges (with the proxy
//!    backend the server becomes `--user` with `no_new_privs`; the local backend keeps
//!    the identity it was started with), install the seccomp allowlist (`--seccomp`):
//!    all before reading a single client byte;
//! 4. announce (how to mount) and serve.

use std::net::SocketAddr;
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use p9_server::listen::{self, Limits, ListenAddr, Listener};
use p9_server::{
    Backend, LocalBackend, Server, ServerConfig, DEFAULT_MSIZE_TCP, DEFAULT_MSIZE_UNIX,
};

use p9_server::poller::Poller;
use p9_server::spawner::{self, SpawnConfig, Spawner};
use p9_server::stats::Stats;
use p9_server::{HelperPool, ProxyBackend};
use proxy_client::SpinPolicy;

use crate::cli::{ServeArgs, SpawnerArgs};
use crate::options::BackendKind;

/// The default listener.
pub const DEFAULT_LISTEN: &str = "tcp:127.0.0.1:5640";

/// Where clients come from.
enum Transport {
    /// Bound listeners.
    Listeners(Vec<Listener>),
    /// One client on a read and a write descriptor.
    Fds(OwnedFd, OwnedFd),
    /// Connections handed over a channel by the `--config` supervisor.
    Channel(OwnedFd),
}

/// Takes ownership of the inherited descriptor `n`.
#[allow(unsafe_code)]
fn inherited_fd(n: RawFd) -> Result<OwnedFd, String> {
    // SAFETY: F_GETFD only reads the descriptor's flags; any integer is acceptable.
    if unsafe { libc::fcntl(n, libc::F_GETFD) } == -1 {
        return Err(format!("--fd {n}: {}", std::io::Error::last_os_error()));
    }
    // This runs first thing in `serve`, before the process opens descriptors of its own,
    // and each number is taken once (the R,W forms with R == W dup it).
    // SAFETY: `n` is open (checked above), handed to us for this use, owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(n) };
    // Ours now: the processes we start (spawner, helpers) must not inherit it.
    rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC)
        .map_err(|e| format!("fd {n}: {e}"))?;
    Ok(fd)
}

fn dup(fd: &OwnedFd) -> Result<OwnedFd, String> {
    fd.try_clone().map_err(|e| format!("dup: {e}"))
}

fn take_transport(args: &ServeArgs) -> Result<Transport, String> {
    if args.stdio {
        let r = std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| format!("stdin: {e}"))?;
        let w = std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| format!("stdout: {e}"))?;
        return Ok(Transport::Fds(r, w));
    }
    if let Some((r, w)) = args.fd {
        let rfd = inherited_fd(r)?;
        let wfd = if w == r { dup(&rfd)? } else { inherited_fd(w)? };
        return Ok(Transport::Fds(rfd, wfd));
    }
    if let Some(n) = args.connections_fd {
        return Ok(Transport::Channel(inherited_fd(n)?));
    }
    if let Some(listeners) = crate::activation::listeners()? {
        if !args.listen.is_empty() {
            tracing::warn!("socket-activated: --listen is ignored");
        }
        tracing::info!(sockets = listeners.len(), "socket-activated (LISTEN_FDS)");
        return Ok(Transport::Listeners(listeners));
    }
    let addrs = if args.listen.is_empty() {
        vec![DEFAULT_LISTEN.parse::<ListenAddr>()?]
    } else {
        args.listen.clone()
    };
    let mut listeners = Vec::new();
    for a in &addrs {
        listeners.push(
            a.bind_with(&crate::trust::socket_perms(&args.options)?)
                .map_err(|e| format!("cannot listen on {a}: {e}"))?,
        );
    }
    Ok(Transport::Listeners(listeners))
}

fn open_backend(
    args: &ServeArgs,
    stats: &Arc<Stats>,
    poller: &Arc<Poller>,
) -> Result<Arc<dyn Backend>, String> {
    match args.options.backend {
        BackendKind::Local => {
            if args.options.user.is_some() || args.options.helper_socket.is_some() {
                tracing::warn!(
                    "--user and --helper-socket apply to the proxy backend only; ignored"
                );
            }
            let b = LocalBackend::new(&args.dir)
                .map_err(|e| format!("cannot open the export {}: {e}", args.dir.display()))?;
            Ok(Arc::new(b))
        }
        BackendKind::Proxy => open_proxy_backend(args, stats, poller),
    }
}

/// The helper next to this program (both come from the same build or package).
fn default_helper() -> Result<std::path::PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    Ok(exe.with_file_name("virtfs-proxy-helper"))
}

/// The proxy backend. Its helper connections poll for replies as `poller` allows.
fn open_proxy_backend(
    args: &ServeArgs,
    stats: &Arc<Stats>,
    poller: &Arc<Poller>,
) -> Result<Arc<dyn Backend>, String> {
    let policy: Arc<dyn SpinPolicy> = poller.clone();
    if let Some(sock) = &args.options.helper_socket {
        // One connection: QEMU's helper (and ours) serve one connection each. It may be
        // QEMU's C helper, which knows no identities (T_AS): only root is served there.
        let client = proxy_client::ProxyClient::connect(sock)
            .map_err(|e| format!("cannot connect to the helper at {}: {e}", sock.display()))?
            .with_spin_policy(policy);
        let backend = ProxyBackend::new(HelperPool::fixed(vec![client])).without_identities();
        return Ok(Arc::new(backend));
    }
    if !rustix::process::geteuid().is_root() {
        return Err(
            "--backend proxy starts a privileged helper and must run as root \
                    (or use --helper-socket, or --backend local)"
                .into(),
        );
    }
    let helper = match &args.options.helper {
        Some(h) => h.clone(),
        None => default_helper()?,
    };
    if !helper.exists() {
        return Err(format!(
            "helper {} not found (use --helper PATH)",
            helper.display()
        ));
    }
    let export = std::fs::canonicalize(&args.dir)
        .map_err(|e| format!("export {}: {e}", args.dir.display()))?;
    // The spawner stays root after we drop privileges, to replace helpers that die.
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("__helper-spawner")
        .arg("--helper")
        .arg(&helper)
        .arg("-p")
        .arg(&export);
    for a in &args.options.helper_args {
        cmd.arg(format!("--helper-arg={a}"));
    }
    cmd.arg(format!("--seccomp={}", args.options.seccomp));
    cmd.stdin(std::process::Stdio::null());
    let spawner =
        Arc::new(Spawner::start(cmd).map_err(|e| format!("cannot start the helper spawner: {e}"))?);
    // Calls past the first `helpers` replace helpers that died.
    let (initial, started, stats) = (
        args.options.helpers.max(1),
        AtomicUsize::new(0),
        Arc::clone(stats),
    );
    let connect = move || {
        if started.fetch_add(1, Ordering::Relaxed) >= initial {
            stats.helper_respawned();
        }
        Ok(spawner.helper()?.with_spin_policy(Arc::clone(&policy)))
    };
    let pool = HelperPool::new(args.options.helpers, Box::new(connect))
        .map_err(|e| format!("cannot start the helpers: {e}"))?;
    tracing::info!(helper = %helper.display(), connections = pool.len(), "proxy backend: helpers started");
    Ok(Arc::new(ProxyBackend::new(pool)))
}

/// Runs `p9proxy __helper-spawner` (root, started by `serve`). It keeps only the
/// capabilities a helper needs (bounding set included: a helper it starts gets no more),
/// sets `no_new_privs` and installs its syscall allowlist (`--seccomp`): its own few
/// syscalls and what a helper needs until the helper's own, narrower filter is on.
pub fn run_spawner(args: SpawnerArgs) -> Result<(), String> {
    let sock = inherited_fd(args.fd)?;
    if rustix::process::geteuid().is_root() {
        sandbox::caps::keep_only(sandbox::caps::HELPER_START_CAPS)
            .map_err(|e| format!("helper spawner: capabilities: {e}"))?;
    }
    rustix::thread::set_no_new_privs(true)
        .map_err(|e| format!("helper spawner: no_new_privs: {e}"))?;
    crate::sandbox::spawner_seccomp(args.seccomp)?;
    let cfg = SpawnConfig {
        helper: args.helper,
        export: args.export,
        args: args.helper_args.into_iter().map(Into::into).collect(),
        tree: Default::default(),
    };
    spawner::serve(sock, &cfg).map_err(|e| format!("helper spawner: {e}"))
}

/// The dedicated system user the proxy backend's front end becomes by default.
pub const SERVER_USER: &str = "p9proxy";

/// The user the proxy backend's front end becomes, looked up while /etc/passwd is still
/// reachable (before the sandbox's chroot).
fn target_user(args: &ServeArgs) -> Result<Option<(String, u32, u32)>, String> {
    if args.options.backend != BackendKind::Proxy || !rustix::process::geteuid().is_root() {
        return Ok(None);
    }
    let user = match &args.options.user {
        Some(u) => u.clone(),
        None => match p9_server::privsep::lookup(SERVER_USER) {
            Ok((uid, gid)) => return Ok(Some((SERVER_USER.to_string(), uid, gid))),
            Err(_) => {
                tracing::warn!(
                    "no user {SERVER_USER} (the Debian package creates it; or `adduser \
                     --system --group p9proxy`): dropping to nobody, whose other processes \
                     could signal the server"
                );
                "nobody".to_string()
            }
        },
    };
    let (uid, gid) =
        p9_server::privsep::lookup(&user).map_err(|e| format!("--user {user}: {e}"))?;
    Ok(Some((user, uid, gid)))
}

fn drop_privileges(args: &ServeArgs, target: Option<(String, u32, u32)>) -> Result<(), String> {
    match (args.options.backend, target) {
        (BackendKind::Local, _) => {
            if rustix::process::geteuid().is_root() {
                sandbox::caps::keep_only(sandbox::caps::FILE_SERVER_CAPS)
                    .map_err(|e| format!("capabilities: {e}"))?;
                tracing::info!(
                    "local backend: keeping root with the seven file-server capabilities \
                     (creations are made as the client's uid/gid)"
                );
            }
            Ok(())
        }
        (BackendKind::Proxy, Some((user, uid, gid))) => {
            // Nothing an execve could grant either (the spawner was started before).
            sandbox::caps::trim_bounding_set(rustix::thread::CapabilitySet::empty())
                .map_err(|e| format!("capability bounding set: {e}"))?;
            p9_server::privsep::drop_to(uid, gid)
                .map_err(|e| format!("cannot drop privileges to {user}: {e}"))?;
            tracing::info!(
                user,
                uid,
                gid,
                "privileges dropped (no_new_privs, no capabilities)"
            );
            Ok(())
        }
        (BackendKind::Proxy, None) => Ok(()),
    }
}

pub(crate) fn mount_hint(addr: &ListenAddr, msize: u32) -> String {
    match addr {
        ListenAddr::Tcp(hp) => {
            let (host, port) = match hp.parse::<SocketAddr>() {
                Ok(sa) => (sa.ip().to_string(), sa.port().to_string()),
                Err(_) => match hp.rsplit_once(':') {
                    Some((h, p)) => (h.to_string(), p.to_string()),
                    None => (hp.clone(), "564".into()),
                },
            };
            format!(
                "mount -t 9p -o trans=tcp,port={port},version=9p2000.L,msize={msize} {host} /mnt"
            )
        }
        ListenAddr::Unix(p) => format!(
            "mount -t 9p -o trans=unix,version=9p2000.L,msize={msize} {} /mnt",
            p.display()
        ),
    }
}

/// Every fid holds an fd: lift the soft limit on open files to the hard one (often 1024
/// against 500k+), before privileges go.
fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        lim.current = lim.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, lim) {
            tracing::warn!(errno = %e, "cannot raise the open file limit");
        }
    }
}

/// Runs `p9proxy serve`.
pub fn run(args: ServeArgs) -> Result<(), String> {
    // 1. Inherited descriptors are taken before this process opens any of its own.
    let transport = take_transport(&args)?;
    let endpoints = crate::control::bind(
        args.options.control.as_deref(),
        args.options.metrics_listen.as_ref(),
    )?;
    let sandbox_mode = args
        .options
        .sandbox
        .unwrap_or(if rustix::process::geteuid().is_root() {
            crate::sandbox::SandboxMode::Namespace
        } else {
            crate::sandbox::SandboxMode::None
        });
    // A PID namespace of its own (`--sandbox namespace`): from here on this is its PID 1
    // (the process that was started only waits for it, outside).
    let (transport, endpoints) = if sandbox_mode == crate::sandbox::SandboxMode::Namespace {
        crate::pidns::enter((transport, endpoints))?
    } else {
        (transport, endpoints)
    };
    let stats = Arc::new(Stats::new());
    let poller = Arc::new(Poller::new(Duration::from_micros(args.options.poll_us)));
    // The client applies the user's umask; modes reach the file system exactly.
    rustix::process::umask(rustix::fs::Mode::empty());
    raise_fd_limit();
    // The fd budget is a share of that limit, read now (the seccomp filter allows no
    // getrlimit later).
    let budgets = p9_server::budget::Budgets {
        connections: args.options.max_connections,
        ..Default::default()
    }
    .resolved();
    // 2. The backend.
    let mut backend = crate::identity::layer(&args.options, open_backend(&args, &stats, &poller)?)?;
    if args.options.readonly {
        backend = Arc::new(p9_server::ReadOnly(backend));
    }
    // 3. Confinement (namespaces, chroot), privileges, seccomp.
    let export = std::fs::canonicalize(&args.dir)
        .map_err(|e| format!("export {}: {e}", args.dir.display()))?;
    let target = target_user(&args)?;
    // The export as given and in canonical form (computed before the chroot); who may
    // act as whom (the user database and the netlink socket, before the sandbox).
    let anames = vec![
        args.dir.as_os_str().as_encoded_bytes().to_vec(),
        export.as_os_str().as_encoded_bytes().to_vec(),
    ];
    let mut policy = crate::trust::policy(&args.options)?;
    if args.options.helper_socket.is_some() {
        // A helper we did not start may be QEMU's C one, which takes no identities:
        // serve trusted peers only.
        policy.can_switch = false;
    }
    let trust_line = crate::trust::describe(&policy);
    let config = ServerConfig {
        anames,
        max_fids: args.options.max_fids,
        trace: args.trace,
        poller,
        budgets,
        policy,
        sock_diag: p9_server::peer::SockDiag::open().ok().map(Arc::new),
        ..ServerConfig::default()
    };
    crate::sandbox::confine(sandbox_mode, args.options.backend, &export)?;
    drop_privileges(&args, target)?;
    if sandbox_mode == crate::sandbox::SandboxMode::Namespace {
        crate::pidns::rearm_parent_death_signal()?;
    }
    crate::sandbox::seccomp(args.options.seccomp, args.options.backend)?;

    let server = Arc::new(
        Server::with_stats(backend, config, Arc::clone(&stats))
            .map_err(|e| format!("cannot serve {}: {e}", args.dir.display()))?,
    );
    let limits = Limits {
        max_connections: args.options.max_connections,
        handshake_timeout: (args.options.handshake_timeout > 0)
            .then(|| Duration::from_secs(args.options.handshake_timeout)),
        msize_tcp: args.options.msize_max.unwrap_or(DEFAULT_MSIZE_TCP),
        msize_unix: args.options.msize_max.unwrap_or(DEFAULT_MSIZE_UNIX),
    };

    // 4. Serve (statistics on their own threads).
    crate::control::spawn(endpoints, &stats)?;
    match transport {
        Transport::Fds(r, w) => {
            tracing::info!(export = %args.dir.display(), "serving one client on inherited descriptors");
            listen::serve_fds(&server, r, w, limits.msize_unix)
                .map_err(|e| format!("transport: {e}"))
        }
        Transport::Channel(c) => {
            tracing::info!(export = %args.dir.display(), "serving connections from the supervisor");
            listen::serve_channel(server, c, limits).map_err(|e| format!("channel: {e}"))
        }
        Transport::Listeners(listeners) => {
            for l in &listeners {
                let addr = l.addr().map_err(|e| e.to_string())?;
                let msize = match addr {
                    ListenAddr::Tcp(_) => limits.msize_tcp,
                    ListenAddr::Unix(_) => limits.msize_unix,
                };
                tracing::info!(export = %args.dir.display(), %addr, "listening");
                println!(
                    "p9proxy: serving {} on {addr}; mount it with:",
                    args.dir.display()
                );
                println!("  {}", mount_hint(&addr, msize));
                println!("  {trust_line}");
            }
            listen::serve(server, listeners, limits).map_err(|e| format!("serving: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints() {
        assert_eq!(
            mount_hint(&"tcp:127.0.0.1:5640".parse().unwrap(), 1 << 20),
            "mount -t 9p -o trans=tcp,port=5640,version=9p2000.L,msize=1048576 127.0.0.1 /mnt"
        );
        assert_eq!(
            mount_hint(&"tcp:[::1]:99".parse().unwrap(), 8192),
            "mount -t 9p -o trans=tcp,port=99,version=9p2000.L,msize=8192 ::1 /mnt"
        );
        assert_eq!(
            mount_hint(&"unix:/run/p9.sock".parse().unwrap(), 8192),
            "mount -t 9p -o trans=unix,version=9p2000.L,msize=8192 /run/p9.sock /mnt"
        );
    }
}
