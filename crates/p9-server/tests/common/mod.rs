//! Test harness: a real tree in a temp dir served in-process by the local backend, and
//! clients on socketpairs (each connection served by its own server thread).
#![allow(dead_code, unused_imports)]

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use p9_client::Client;
use p9_server::{LocalBackend, Server, ServerConfig, DEFAULT_MSIZE_UNIX};

pub mod server;

pub use p9_client::Setattr;
pub use p9_wire::*;
pub use rustix::io::Errno;
pub use server::{ServerProc, ENV_FID_MEMORY, ENV_MAX_CONNECTIONS, ENV_NOFILE, SPAWNING};

/// Gives a test's server process a known open-file limit, whatever the machine's
/// default (the fd budget is 3/4 of it, as `p9proxy serve` raises its soft limit to the
/// hard one): 65,536, or the hard limit where this process may not raise it.
#[allow(dead_code)]
pub fn known_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    const WANT: u64 = 65_536;
    let lim = getrlimit(Resource::Nofile);
    let want = Rlimit {
        current: Some(WANT),
        maximum: Some(WANT.max(lim.maximum.unwrap_or(WANT))),
    };
    if setrlimit(Resource::Nofile, want).is_err() {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: lim.maximum,
                maximum: lim.maximum,
            },
        );
    }
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Skips the calling test (with a line saying so) unless running as root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !common::is_root() {
            eprintln!("SKIPPED: needs root (CI runs as root)");
            return;
        }
    };
}

/// Root fid of every `Harness::client`.
pub const ROOT: u32 = 0;

pub struct Harness {
    pub tmp: tempfile::TempDir,
    pub server: Arc<Server>,
    pub cap: u32,
}

impl Harness {
    /// An empty export, served by the local backend.
    pub fn new() -> Harness {
        Self::with_config(ServerConfig::default())
    }

    /// An empty export served by the local backend with `config`.
    pub fn with_config(config: ServerConfig) -> Harness {
        Self::over(Kind::Local, config)
    }

    /// An empty export served by a backend of `kind`.
    pub fn over(kind: Kind, mut config: ServerConfig) -> Harness {
        // Modes are exact, as in the server binary: the client applies its umask.
        rustix::process::umask(rustix::fs::Mode::empty());
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("export")).unwrap();
        let export = tmp.path().join("export");
        config
            .anames
            .push(export.as_os_str().as_encoded_bytes().to_vec());
        let server = Arc::new(Server::new(kind.backend(&export), config).unwrap());
        Harness {
            tmp,
            server,
            cap: DEFAULT_MSIZE_UNIX,
        }
    }

    /// The export directory.
    pub fn export(&self) -> PathBuf {
        self.tmp.path().join("export")
    }

    /// A path inside the export.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.export().join(rel)
    }

    /// Outside the export (a sibling directory in the temp dir).
    pub fn outside(&self) -> &Path {
        self.tmp.path()
    }

    /// A raw connection, and the server thread serving it.
    pub fn connect_raw(&self) -> (UnixStream, JoinHandle<std::io::Result<()>>) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let server = Arc::clone(&self.server);
        let cap = self.cap;
        let h = std::thread::spawn(move || server.serve(&theirs, &theirs, cap));
        (ours, h)
    }

    /// A client that negotiated `msize` and did nothing else.
    pub fn client_versioned(&self, msize: u32) -> Client<UnixStream> {
        let (s, _) = self.connect_raw();
        let mut c = Client::new(s);
        let (_, v) = c.version(msize).unwrap();
        assert_eq!(v, b"9P2000.L");
        c
    }

    /// A client attached as root (fid `ROOT`), msize 1 MiB.
    pub fn client(&self) -> Client<UnixStream> {
        self.client_as(0)
    }

    /// A client attached as `uid` (fid `ROOT`).
    pub fn client_as(&self, uid: u32) -> Client<UnixStream> {
        let mut c = self.client_versioned(1 << 20);
        c.attach(ROOT, uid).unwrap();
        c
    }
}

/// The backends a test runs over. The one way to run a test over both is
/// [`over_both_backends!`]; a server process of its own is told [`Kind::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `LocalBackend`: the server does the file system work itself.
    Local,
    /// `ProxyBackend`, with two of our `virtfs-proxy-helper`s.
    Proxy,
}

impl Kind {
    /// `local` or `proxy`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Local => "local",
            Kind::Proxy => "proxy",
        }
    }

    /// The kind named `name` (as [`Kind::name`] gives it); local for anything else.
    pub fn named(name: &str) -> Kind {
        if name == Kind::Proxy.name() {
            Kind::Proxy
        } else {
            Kind::Local
        }
    }

    /// A backend of this kind on `export`.
    pub fn backend(self, export: &Path) -> Arc<dyn p9_server::Backend> {
        match self {
            Kind::Local => Arc::new(LocalBackend::new(export).unwrap()),
            Kind::Proxy => {
                let cfg = p9_server::spawner::SpawnConfig {
                    helper: helper_binary(),
                    export: export.to_path_buf(),
                    args: Vec::new(),
                    tree: Default::default(),
                };
                let pool =
                    p9_server::HelperPool::new(2, Box::new(move || cfg.start_helper())).unwrap();
                Arc::new(p9_server::ProxyBackend::new(pool))
            }
        }
    }
}

/// For each `test(kind: Kind)` named, the tests `test::local` and `test::proxy` (as root:
/// helpers switch credentials), each running it over its backend.
#[macro_export]
macro_rules! over_both_backends {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[test]
            fn local() {
                super::$test($crate::common::Kind::Local);
            }

            #[test]
            fn proxy() {
                if !$crate::common::is_root() {
                    eprintln!("SKIPPED: needs root (CI runs as root)");
                    return;
                }
                super::$test($crate::common::Kind::Proxy);
            }
        }
    )*};
}

/// `target/<profile>/virtfs-proxy-helper`, next to the `deps/` directory of this test.
pub fn helper_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let helper = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("virtfs-proxy-helper");
    assert!(
        helper.exists(),
        "{} missing: build it first (cargo build -p proxy-helper)",
        helper.display()
    );
    helper
}

/// The one table of hostile names: every operation that takes a file name (walk,
/// lcreate, mkdir, symlink, mknod, link, rename, renameat, unlinkat) must refuse each with
/// EINVAL, on both backends: empty, the dot entries (walk alone gives them a meaning),
/// separators, NUL, relative and absolute paths out of the export, and the absolute path
/// of `outside/outdir`, a directory that exists outside. Where a name is an xattr name,
/// the ones that cannot be one are refused with EINVAL too: with a NUL (Txattrwalk,
/// Txattrcreate), or empty (Txattrcreate; an empty Txattrwalk lists the names).
pub fn hostile_names(outside: &Path) -> Vec<Vec<u8>> {
    let mut names: Vec<Vec<u8>> = [
        &b""[..],
        b".",
        b"..",
        b"/",
        b"a/b",
        b"d/",
        b"/d",
        b"../secret",
        b"x\0y",
        b"\0",
        b"/etc/passwd",
    ]
    .iter()
    .map(|n| n.to_vec())
    .collect();
    names.push(outside.join("outdir").into_os_string().into_encoded_bytes());
    names
}

/// Makes a FIFO (mode 0666) at `path` on the host.
pub fn make_fifo(path: &Path) {
    let mode = rustix::fs::Mode::from_raw_mode(0o666);
    rustix::fs::mknodat(rustix::fs::CWD, path, rustix::fs::FileType::Fifo, mode, 0).unwrap();
}

/// The errno of a failed call.
pub fn errno<T: std::fmt::Debug>(r: p9_client::Result<T>) -> Errno {
    match r {
        Err(e) => e.errno().unwrap_or_else(|| panic!("not an Rlerror: {e}")),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}
