//! Faults (issue 4): helpers killed with requests in flight, clients that misbehave
//! (vanish mid-request or mid-frame, flush every tag, flood requests without reading
//! replies, never clunk), a full disk, and the export removed or replaced while serving.
//!
//! Resource counts (fds, RSS) are taken from a server running in a process of its own:
//! this test binary started again as [`server_process`], serving a Unix socket until its
//! stdin closes, so that tests running in parallel in this process cannot disturb them.
//! Helpers of the proxy backend are started by a connector of ours ([`Helpers`]), which
//! keeps their pids and sockets to stop and kill them.

mod common;

use std::collections::BTreeSet;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use p9_client::Client;
use p9_server::backend::proxy::Connector;
use p9_server::{Backend, HelperPool, ProxyBackend, Server, ServerConfig};

// ---------------------------------------------------------------------------------------
// Helpers we start ourselves.

struct Helper {
    child: Child,
    /// The front end's end of its socket.
    sock: RawFd,
}

/// The helpers started by a pool's connector: their processes and sockets.
#[derive(Default)]
struct Helpers {
    live: Mutex<Vec<Helper>>,
    started: AtomicUsize,
}

/// Bytes sent on `fd` that the peer has not read yet (`SIOCOUTQ`: for a Unix stream
/// socket, what sits unread in the peer's receive queue).
#[allow(unsafe_code)]
fn unread_by_peer(fd: RawFd) -> i32 {
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (= SIOCOUTQ) writes one int to the pointer given.
    let r = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut n) };
    assert_eq!(r, 0, "SIOCOUTQ: {}", std::io::Error::last_os_error());
    n
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) on a child of ours that has not been reaped yet.
    #[allow(unsafe_code)]
    let r = unsafe { libc::kill(pid as libc::pid_t, sig) };
    assert_eq!(r, 0, "kill {pid}: {}", std::io::Error::last_os_error());
}

impl Helpers {
    /// A connector starting our `virtfs-proxy-helper` on `export`, recording it here.
    fn connector(self: &Arc<Self>, export: PathBuf) -> Connector {
        let helper = helper_binary();
        let me = Arc::clone(self);
        let tree = p9_server::spawner::SharedTree::default();
        Box::new(move || {
            let mut cmd = Command::new(&helper);
            cmd.arg("-p").arg(&export).arg("-n").stdin(Stdio::null());
            let (sock, child) = {
                let _g = SPAWNING.lock().unwrap_or_else(|p| p.into_inner());
                let tree = tree
                    .fd(&export)
                    .map(|fd| (p9_server::spawner::TREE_FD_FLAG, fd));
                proxy_client::spawn_with_socket_and_fd(cmd, tree)?
            };
            let fd = sock.as_raw_fd();
            me.live.lock().unwrap().push(Helper { child, sock: fd });
            me.started.fetch_add(1, Ordering::SeqCst);
            Ok(proxy_client::ProxyClient::from_fd(sock))
        })
    }

    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// Sends `sig` to every live helper.
    fn signal_all(&self, sig: libc::c_int) {
        for h in self.live.lock().unwrap().iter() {
            signal(h.child.id(), sig);
        }
    }

    /// Whether every live helper has a request waiting unread on its socket.
    fn all_have_unread_requests(&self) -> bool {
        self.live
            .lock()
            .unwrap()
            .iter()
            .all(|h| unread_by_peer(h.sock) > 0)
    }

    /// Kills (SIGKILL) and reaps every live helper; returns how many.
    fn kill_all(&self) -> usize {
        let victims: Vec<Helper> = self.live.lock().unwrap().drain(..).collect();
        let n = victims.len();
        for mut h in victims {
            signal(h.child.id(), libc::SIGKILL);
            assert!(!h.child.wait().unwrap().success());
        }
        n
    }
}

impl Drop for Helpers {
    fn drop(&mut self) {
        for h in self.live.get_mut().unwrap().iter_mut() {
            // They exit when their connection closes; do not leave zombies either way.
            let _ = h.child.kill();
            let _ = h.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------
// In-process servers.

/// A backend for `export`: local, or proxy with two helpers we start (and can kill).
fn backend(export: &Path, kind: Kind) -> (Arc<dyn Backend>, Option<Arc<Helpers>>) {
    match kind {
        Kind::Local => (Kind::Local.backend(export), None),
        Kind::Proxy => {
            let helpers = Arc::new(Helpers::default());
            let pool = HelperPool::new(2, helpers.connector(export.to_path_buf())).unwrap();
            (Arc::new(ProxyBackend::new(pool)), Some(helpers))
        }
    }
}

/// A server in this process on an export, and clients on socketpairs.
struct Fixture {
    /// The temporary directory holding the export, if the fixture made it.
    _tmp: Option<tempfile::TempDir>,
    export: PathBuf,
    server: Arc<Server>,
    helpers: Option<Arc<Helpers>>,
}

impl Fixture {
    fn new(kind: Kind) -> Fixture {
        rustix::process::umask(rustix::fs::Mode::empty());
        let tmp = tempfile::tempdir().unwrap();
        let export = tmp.path().join("export");
        std::fs::create_dir(&export).unwrap();
        Self::at(Some(tmp), export, kind)
    }

    fn at(tmp: Option<tempfile::TempDir>, export: PathBuf, kind: Kind) -> Fixture {
        let (b, helpers) = backend(&export, kind);
        let server = Arc::new(Server::new(b, ServerConfig::default()).unwrap());
        Fixture {
            _tmp: tmp,
            export,
            server,
            helpers,
        }
    }

    fn helpers(&self) -> &Helpers {
        self.helpers.as_deref().expect("a proxy fixture")
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.export.join(rel)
    }

    fn connect_raw(&self) -> (UnixStream, JoinHandle<std::io::Result<()>>) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let server = Arc::clone(&self.server);
        let h = std::thread::spawn(move || server.serve(&theirs, &theirs, 1 << 20));
        (ours, h)
    }

    /// A client attached as root (fid `ROOT`), msize 1 MiB.
    fn client(&self) -> Client<UnixStream> {
        let (s, _) = self.connect_raw();
        attached(Client::new(s))
    }
}

fn attached<S: Read + Write>(mut c: Client<S>) -> Client<S> {
    c.version(1 << 20).unwrap();
    c.attach(ROOT, 0).unwrap();
    c
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) ^ seed) as u8)
        .collect()
}

/// The most a Tread returns at msize 1 MiB.
const CHUNK: usize = (1 << 20) - IOHDRSZ as usize;

fn frame(tag: u16, msg: &Tmessage<'_>) -> Vec<u8> {
    let mut v = Vec::new();
    encode(tag, msg, &mut v, u32::MAX).unwrap();
    v
}

/// Writes `data` to the open `fid` from offset 0 in the largest chunks; every count
/// acknowledged in full.
fn write_all(c: &mut Client<UnixStream>, fid: u32, data: &[u8]) {
    let chunk = max_io_count(c.msize()) as usize;
    for (i, part) in data.chunks(chunk).enumerate() {
        assert_eq!(
            c.write(fid, (i * chunk) as u64, part).unwrap(),
            part.len() as u32
        );
    }
}

// ---------------------------------------------------------------------------------------
// A server in a process of its own (`common::server`).

server_process_test!();

/// Every server process here may hold many connections: ones that vanish are noticed
/// shortly, not at once.
const MANY_CONNECTIONS: (&str, &str) = (ENV_MAX_CONNECTIONS, "4096");

// ---------------------------------------------------------------------------------------
// Helper death.

/// Phases of the helper-death test, driven by the main thread.
const RUN: usize = 0;
const PAUSE: usize = 1;
const IN_FLIGHT: usize = 2;
const AFTER: usize = 3;

#[derive(Debug, Default)]
struct Outcome {
    ok: usize,
    eio: usize,
    /// Directories whose Tmkdir was acknowledged.
    made: Vec<String>,
}

/// Helpers are stopped with no request pending, every client thread then sends one
/// (so each helper has one unread on its socket and the others wait for a connection),
/// and the helpers are killed: exactly the requests the dead helpers had received get
/// EIO; the ones still waiting go to the new helpers; then everything works again.
#[test]
fn helpers_killed_with_requests_in_flight() {
    require_root!();
    const THREADS: usize = 4;
    let f = Fixture::new(Kind::Proxy);
    std::fs::create_dir(f.path("d")).unwrap();
    for i in 0..8 {
        std::fs::write(f.path(&format!("d/f{i}")), b"x").unwrap();
    }
    let phase = Arc::new(AtomicUsize::new(RUN));
    let parked = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let mut c = f.client();
            let (phase, parked) = (Arc::clone(&phase), Arc::clone(&parked));
            std::thread::spawn(move || {
                let mut o = Outcome::default();
                let mut after = 0;
                for i in 0u32.. {
                    match phase.load(Ordering::SeqCst) {
                        PAUSE => {
                            parked.fetch_add(1, Ordering::SeqCst);
                            while phase.load(Ordering::SeqCst) == PAUSE {
                                std::thread::sleep(Duration::from_millis(1));
                            }
                        }
                        AFTER => {
                            after += 1;
                            if after > 30 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    let p = phase.load(Ordering::SeqCst);
                    let name = format!("t{t}-{i}");
                    let r = if i % 2 == 0 {
                        let file = format!("f{}", i % 8);
                        c.walk(ROOT, 1, &[b"d", file.as_bytes()])
                            .and_then(|_| c.clunk(1))
                    } else {
                        c.mkdir(ROOT, name.as_bytes(), 0o755, 0).map(|q| {
                            assert_eq!(q.ty, QTDIR);
                            o.made.push(name.clone());
                        })
                    };
                    match r {
                        Ok(()) => o.ok += 1,
                        Err(e) if e.errno() == Some(Errno::IO) && p == IN_FLIGHT => o.eio += 1,
                        Err(e) => panic!("thread {t} op {i} in phase {p}: {e}"),
                    }
                }
                o
            })
        })
        .collect();
    let wait_for = |what: &str, cond: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    // Let them run a little, then park them between requests.
    std::thread::sleep(Duration::from_millis(100));
    phase.store(PAUSE, Ordering::SeqCst);
    wait_for("the clients to park", &|| {
        parked.load(Ordering::SeqCst) == THREADS
    });
    let helpers = f.helpers();
    helpers.signal_all(libc::SIGSTOP);
    phase.store(IN_FLIGHT, Ordering::SeqCst);
    wait_for("a request on every helper's socket", &|| {
        helpers.all_have_unread_requests()
    });
    assert_eq!(helpers.kill_all(), 2);
    phase.store(AFTER, Ordering::SeqCst);
    let outcomes: Vec<Outcome> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let eio: usize = outcomes.iter().map(|o| o.eio).sum();
    let ok: usize = outcomes.iter().map(|o| o.ok).sum();
    eprintln!(
        "helper death: {ok} requests answered, {eio} EIO; {} helpers started",
        helpers.started()
    );
    // One request was in each dead helper's socket: those two, and only those, failed.
    assert_eq!(eio, 2, "{outcomes:?}");
    // Each slot was replaced once.
    assert_eq!(helpers.started(), 4);
    // Every acknowledged mkdir is there, and nothing else: the failed ones never ran.
    let made: BTreeSet<String> = outcomes.iter().flat_map(|o| o.made.clone()).collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(&f.export)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('t'))
        .collect();
    assert_eq!(made, on_disk);
}

/// Data written and fsynced before the helpers die is on disk; open fids go on (their
/// fds belong to the front end); new requests are served at once by new helpers.
#[test]
fn acknowledged_writes_survive_helper_death() {
    require_root!();
    let f = Fixture::new(Kind::Proxy);
    let mut c = f.client();
    let mut other = f.client();
    c.walk(ROOT, 1, &[]).unwrap();
    c.lcreate(1, b"data", P9_DOTL_RDWR, 0o644, 0).unwrap();
    let mut data = pattern(3 << 20, 7);
    write_all(&mut c, 1, &data);
    c.fsync(1, 0).unwrap();
    for round in 0..3u32 {
        assert_eq!(f.helpers().kill_all(), 2);
        // Acknowledged and synced: on disk.
        assert!(std::fs::read(f.path("data")).unwrap() == data, "data lost");
        // The open fid goes on.
        let tail = format!("round {round}");
        let off = data.len() as u64;
        assert_eq!(c.write(1, off, tail.as_bytes()).unwrap(), tail.len() as u32);
        c.fsync(1, 1).unwrap();
        data.extend_from_slice(tail.as_bytes());
        // New requests (helpers needed) are served, on both connections.
        let name = format!("dir{round}");
        other.mkdir(ROOT, name.as_bytes(), 0o700, 0).unwrap();
        // A second helper request: the pool's other connection (round robin).
        other
            .mkdir(ROOT, format!("{name}b").as_bytes(), 0o700, 0)
            .unwrap();
        other.walk(ROOT, 2, &[b"data"]).unwrap();
        other.lopen(2, P9_DOTL_RDONLY).unwrap();
        assert_eq!(other.read_all(2).unwrap(), data);
        other.clunk(2).unwrap();
        c.walk(ROOT, 3, &[name.as_bytes()]).unwrap();
        c.clunk(3).unwrap();
    }
    assert!(std::fs::read(f.path("data")).unwrap() == data, "data lost");
    assert_eq!(f.helpers().started(), 2 + 3 * 2);
}

// ---------------------------------------------------------------------------------------
// Clients that misbehave.

/// 10,000 connections one after the other, each attaching, walking, opening (a file; some
/// also a directory, an xattr, a lock) and vanishing without a clunk, while another
/// client works throughout: the server's fd count comes back to its baseline, and the
/// other client never sees a wrong answer.
fn connections_that_never_clunk(kind: Kind) {
    const CONNECTIONS: usize = 10_000;
    let sp = ServerProc::start(kind, &[MANY_CONNECTIONS]);
    let export = sp.export();
    std::fs::write(export.join("f"), b"hello").unwrap();
    std::fs::create_dir(export.join("d")).unwrap();
    std::fs::write(export.join("d/g"), b"world").unwrap();
    std::fs::write(export.join("locked"), b"").unwrap();
    let mut other = sp.client();
    other.walk(ROOT, 1, &[b"f"]).unwrap();
    other.lopen(1, P9_DOTL_RDWR).unwrap();
    let baseline = sp.fds();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let worker = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut rounds = 0u64;
            while !stop.load(Ordering::SeqCst) {
                assert_eq!(other.write(1, 0, b"hello").unwrap(), 5);
                assert_eq!(other.read(1, 0, 100).unwrap(), b"hello");
                assert_eq!(other.getattr(1).unwrap().size, 5);
                other.walk(ROOT, 2, &[b"d", b"g"]).unwrap();
                other.lopen(2, P9_DOTL_RDONLY).unwrap();
                assert_eq!(other.read(2, 0, 100).unwrap(), b"world");
                other.clunk(2).unwrap();
                rounds += 1;
            }
            (other, rounds)
        })
    };
    let started = Instant::now();
    let mut peak = baseline;
    for i in 0..CONNECTIONS {
        let mut c = Client::new(sp.connect());
        c.version(64 << 10).unwrap();
        c.attach(ROOT, 0).unwrap();
        c.walk(ROOT, 1, &[b"f"]).unwrap();
        c.lopen(1, P9_DOTL_RDONLY).unwrap();
        match i % 10 {
            1 => {
                c.walk(ROOT, 2, &[b"d"]).unwrap();
                c.lopen(2, P9_DOTL_RDONLY | P9_DOTL_DIRECTORY).unwrap();
                assert_eq!(c.readdir(2, 0, 8192).unwrap().len(), 3);
            }
            2 => {
                c.xattrwalk(ROOT, 3, b"").unwrap();
                c.walk(ROOT, 4, &[b"d", b"g"]).unwrap();
            }
            3 => {
                // The lock of the connection before went with it (retried as Linux
                // does: the server notices the close shortly after it happens).
                c.walk(ROOT, 5, &[b"locked"]).unwrap();
                c.lopen(5, P9_DOTL_RDWR).unwrap();
                let mut tries = 0;
                while c.lock(5, P9_LOCK_TYPE_WRLCK, 0, 0, 1).unwrap() != P9_LOCK_SUCCESS {
                    tries += 1;
                    assert!(tries < 10_000, "a vanished connection's lock stays");
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            _ => {}
        }
        if i % 1000 == 999 {
            peak = peak.max(sp.fds());
        }
        drop(c);
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let (mut other, rounds) = worker.join().unwrap();
    let after = sp.settle_fds(baseline);
    eprintln!(
        "{}: {CONNECTIONS} connections in {:.1} s; server fds: baseline {baseline}, \
         peak sampled {peak}, after {after}; other client: {rounds} rounds",
        kind.name(),
        elapsed.as_secs_f64()
    );
    assert_eq!(after, baseline, "fds leaked by vanished connections");
    assert!(rounds > 0);
    assert_eq!(other.read(1, 0, 100).unwrap(), b"hello");
    drop(other);
    sp.finish();
}

over_both_backends!(connections_that_never_clunk);

/// Clients that go away mid-frame (after part of a header, part of a large Twrite),
/// mid-request (before reading a large reply, or many), after a frame over msize, or
/// half-closing: each costs only its own connection; the server frees everything, never
/// panics, and another client is served throughout.
#[test]
fn clients_vanishing_mid_request_and_mid_frame() {
    let sp = ServerProc::start(Kind::Local, &[MANY_CONNECTIONS]);
    let big = pattern(1 << 20, 3);
    std::fs::write(sp.export().join("big"), &big).unwrap();
    let mut other = sp.client();
    other.walk(ROOT, 1, &[b"big"]).unwrap();
    other.lopen(1, P9_DOTL_RDONLY).unwrap();
    let baseline = sp.fds();
    let open_big = |c: &mut Client<UnixStream>| {
        c.walk(ROOT, 1, &[b"big"]).unwrap();
        c.lopen(1, P9_DOTL_RDWR).unwrap();
    };
    let read_big = |tag| {
        frame(
            tag,
            &Tmessage::Read(Tread {
                fid: 1,
                offset: 0,
                count: 1 << 20,
            }),
        )
    };
    for round in 0..40u32 {
        // Part of a header.
        let mut s = sp.connect();
        s.write_all(&[0x40, 0, 0]).unwrap();
        drop(s);
        // Versioned, then half a Tattach.
        let mut c = Client::new(sp.connect());
        c.version(1 << 20).unwrap();
        let t = frame(
            1,
            &Tmessage::Attach(Tattach {
                fid: 0,
                afid: NOFID,
                uname: b"",
                aname: b"",
                n_uname: 0,
            }),
        );
        c.send_raw(&t[..t.len() / 2]).unwrap();
        drop(c);
        // Part of a 512 KiB Twrite to an open file.
        let mut c = sp.client();
        open_big(&mut c);
        let data = vec![0x5a; 512 << 10];
        let w = frame(
            7,
            &Tmessage::Write(Twrite {
                fid: 1,
                offset: 0,
                data: &data,
            }),
        );
        c.send_raw(&w[..100 << 10]).unwrap();
        drop(c);
        // A large read never read back; then many.
        let mut c = sp.client();
        open_big(&mut c);
        c.send_raw(&read_big(9)).unwrap();
        drop(c);
        let mut c = sp.client();
        open_big(&mut c);
        let many: Vec<u8> = (0..64).flat_map(read_big).collect();
        c.send_raw(&many).unwrap();
        let mut some = [0u8; 4096];
        c.stream().read_exact(&mut some).unwrap();
        drop(c);
        // A frame larger than msize: the server closes the connection.
        let mut c = Client::new(sp.connect());
        c.version(8192).unwrap();
        c.send_raw(&[0, 0, 1, 0, P9_TREAD, 0, 0]).unwrap();
        let mut b = [0u8; 1];
        assert!(matches!(c.stream().read(&mut b), Ok(0) | Err(_)));
        // Half-closed after a request: its reply still comes whole.
        let mut c = sp.client();
        open_big(&mut c);
        c.send_raw(&read_big(11)).unwrap();
        c.stream().shutdown(std::net::Shutdown::Write).unwrap();
        let r = c.recv().unwrap();
        assert_eq!(r.tag(), 11);
        match r.decode().unwrap().1 {
            Rmessage::Read(d) => assert!(d.data == &big[..CHUNK], "wrong data"),
            m => panic!("{m:?}"),
        }
        assert!(matches!(c.stream().read(&mut b), Ok(0)));
        // The file was never written: the partial Twrites did nothing.
        if round % 10 == 0 {
            assert!(
                other.read(1, 0, 1 << 20).unwrap() == big[..CHUNK],
                "wrong data"
            );
        }
    }
    let after = sp.settle_fds(baseline);
    eprintln!("vanishing clients: server fds baseline {baseline}, after {after}");
    assert_eq!(after, baseline);
    assert!(
        std::fs::read(sp.export().join("big")).unwrap() == big,
        "file changed"
    );
    assert!(
        other.read(1, 0, 1 << 20).unwrap() == big[..CHUNK],
        "wrong data"
    );
    drop(other);
    sp.finish();
}

/// A Tflush for every tag, each right behind the request it names (all pipelined):
/// every request is answered, correctly and before its Rflush, and every Tflush is.
#[test]
fn flush_of_every_tag() {
    let f = Fixture::new(Kind::Local);
    std::fs::write(f.path("f"), b"0123456789").unwrap();
    let mut c = f.client();
    c.walk(ROOT, 1, &[b"f"]).unwrap();
    c.lopen(1, P9_DOTL_RDWR).unwrap();
    let request = |tag: u16| -> Vec<u8> {
        let m = match tag % 4 {
            0 => Tmessage::Read(Tread {
                fid: 1,
                offset: 0,
                count: 10,
            }),
            1 => Tmessage::Getattr(Tgetattr {
                fid: ROOT,
                request_mask: P9_GETATTR_BASIC,
            }),
            2 => Tmessage::Write(Twrite {
                fid: 1,
                offset: 0,
                data: b"0123456789",
            }),
            _ => Tmessage::Statfs(Tstatfs { fid: 1 }),
        };
        frame(tag, &m)
    };
    // Two passes, so that tags in flight stay distinct: requests 0..=32766 flushed by
    // 32768.., then requests 32767..=65534 flushed by 0...
    let passes: [Vec<(u16, u16)>; 2] = [
        (0..32767u16).map(|t| (t, t + 32768)).collect(),
        (32767..=65534u16).map(|t| (t, t - 32767)).collect(),
    ];
    let mut flushed = 0usize;
    for pairs in passes {
        let mut w = c.stream().try_clone().unwrap();
        let sent = pairs.clone();
        let writer = std::thread::spawn(move || {
            let mut buf = Vec::new();
            for (i, &(t, ft)) in sent.iter().enumerate() {
                buf.extend(request(t));
                buf.extend(frame(ft, &Tmessage::Flush(Tflush { oldtag: t })));
                if i % 256 == 255 {
                    w.write_all(&buf).unwrap();
                    buf.clear();
                }
            }
            // Flushes of nothing in flight, and of NOTAG.
            buf.extend(frame(1, &Tmessage::Flush(Tflush { oldtag: NOTAG })));
            buf.extend(frame(2, &Tmessage::Flush(Tflush { oldtag: 40000 })));
            w.write_all(&buf).unwrap();
        });
        for &(t, ft) in &pairs {
            let r = c.recv().unwrap();
            assert_eq!(r.tag(), t);
            match (t % 4, r.decode().unwrap().1) {
                (0, Rmessage::Read(d)) => assert_eq!(d.data, b"0123456789"),
                (1, Rmessage::Getattr(a)) => assert_eq!(a.qid.ty, QTDIR),
                (2, Rmessage::Write(w)) => assert_eq!(w.count, 10),
                (3, Rmessage::Statfs(_)) => {}
                (_, m) => panic!("tag {t}: {m:?}"),
            }
            let r = c.recv().unwrap();
            assert_eq!(r.tag(), ft);
            assert!(matches!(r.decode().unwrap().1, Rmessage::Flush));
            flushed += 1;
        }
        for t in [1, 2] {
            let r = c.recv().unwrap();
            assert_eq!(r.tag(), t);
            assert!(matches!(r.decode().unwrap().1, Rmessage::Flush));
        }
        writer.join().unwrap();
    }
    assert_eq!(flushed, 65535);
    // The connection is fine, and so is the file.
    assert_eq!(c.read(1, 0, 100).unwrap(), b"0123456789");
    assert_eq!(std::fs::read(f.path("f")).unwrap(), b"0123456789");
}

/// Waits up to `ms` for `fd` to be writable.
#[allow(unsafe_code)]
fn writable_within(fd: &impl AsRawFd, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) > 0 }
}

/// A client that sends requests and never reads the replies: the server stops reading
/// from it once its replies back up (its memory for the connection stays bounded: a
/// frame's worth of input, a batch's worth of output), and serves other clients
/// meanwhile; read late, every reply is there and right.
#[test]
fn flooding_without_reading_replies_is_bounded() {
    let sp = ServerProc::start(Kind::Local, &[MANY_CONNECTIONS]);
    let big = pattern(1 << 20, 5);
    std::fs::write(sp.export().join("big"), &big).unwrap();
    let mut other = sp.client();
    other.walk(ROOT, 1, &[b"big"]).unwrap();
    let rss0 = sp.status_kib("VmRSS");

    // Small requests with small replies, as fast as the server takes them.
    let mut c = sp.client();
    c.walk(ROOT, 1, &[b"big"]).unwrap();
    let getattr = |tag: u16| {
        frame(
            tag,
            &Tmessage::Getattr(Tgetattr {
                fid: 1,
                request_mask: P9_GETATTR_BASIC,
            }),
        )
    };
    let per = getattr(0).len();
    let batch: Vec<u8> = (0..4096u16).flat_map(getattr).collect();
    let mut s = c.stream().try_clone().unwrap();
    s.set_nonblocking(true).unwrap();
    const LIMIT: usize = 64 << 20;
    let (mut sent, mut off) = (0usize, 0usize);
    loop {
        match s.write(&batch[off..]) {
            Ok(n) => {
                sent += n;
                off = (off + n) % batch.len();
                assert!(sent < LIMIT, "the server kept reading {sent} bytes");
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if !writable_within(&s, 1000) {
                    break; // the server stopped reading
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
    let rss_small = sp.status_kib("VmRSS");
    // Others are served meanwhile.
    assert_eq!(other.getattr(1).unwrap().size, big.len() as u64);
    // Read everything late: each reply right, in order.
    let frames = sent.div_ceil(per);
    let mut reader = c.stream().try_clone().unwrap();
    let drain = std::thread::spawn(move || {
        let mut c = Client::new(&mut reader);
        for i in 0..frames {
            let r = c.recv().unwrap();
            assert_eq!(r.tag(), (i % 4096) as u16);
            match r.decode().unwrap().1 {
                Rmessage::Getattr(a) => assert_eq!(a.size, 1 << 20),
                m => panic!("{m:?}"),
            }
        }
    });
    s.set_nonblocking(false).unwrap();
    let rest = (per - sent % per) % per;
    s.write_all(&batch[off..off + rest]).unwrap();
    drain.join().unwrap();

    // Large replies (64 reads of 1 MiB) never read: they are not all held in memory.
    c.lopen(1, P9_DOTL_RDONLY).unwrap();
    let reads: Vec<u8> = (0..64u16)
        .flat_map(|tag| {
            frame(
                tag,
                &Tmessage::Read(Tread {
                    fid: 1,
                    offset: 0,
                    count: 1 << 20,
                }),
            )
        })
        .collect();
    c.send_raw(&reads).unwrap();
    // Wait until the server is blocked writing (our socket is full), and a little more.
    let fionread = |s: &UnixStream| rustix::io::ioctl_fionread(s).unwrap();
    let mut last = 0;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let n = fionread(c.stream());
        if n > 0 && n == last {
            break;
        }
        last = n;
    }
    let rss_big = sp.status_kib("VmRSS");
    assert_eq!(other.getattr(1).unwrap().size, big.len() as u64);
    for tag in 0..64u16 {
        let r = c.recv().unwrap();
        assert_eq!(r.tag(), tag);
        match r.decode().unwrap().1 {
            Rmessage::Read(d) => assert!(d.data == &big[..CHUNK], "wrong data"),
            m => panic!("{m:?}"),
        }
    }
    eprintln!(
        "flood: {sent} bytes of Tgetattr ({frames} requests) taken before the server \
         stopped reading; server VmRSS {rss0} KiB before, {rss_small} KiB flooded with \
         small requests, {rss_big} KiB with 64 MiB of replies pending; VmHWM {} KiB",
        sp.status_kib("VmHWM")
    );
    assert!(sent < 16 << 20, "{sent} bytes taken unread");
    assert!(rss_small < rss0 + 32 * 1024, "{rss0} -> {rss_small} KiB");
    assert!(rss_big < rss0 + 32 * 1024, "{rss0} -> {rss_big} KiB");
    drop((c, other));
    sp.finish();
}

// ---------------------------------------------------------------------------------------
// The file system under the export.

fn cstr(s: impl AsRef<std::ffi::OsStr>) -> std::ffi::CString {
    std::ffi::CString::new(s.as_ref().as_encoded_bytes()).unwrap()
}

/// Runs `f` on a thread of its own in a private mount namespace: mounts it makes are
/// seen by it and the threads and processes it starts, by nothing else, and vanish with
/// them.
#[allow(unsafe_code)]
fn in_private_mount_namespace<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        // SAFETY: unshare(2) and mount(2) with valid C strings or nulls; CLONE_NEWNS
        // unshares this thread only.
        unsafe {
            assert_eq!(
                libc::unshare(libc::CLONE_NEWNS),
                0,
                "unshare: {}",
                std::io::Error::last_os_error()
            );
            let root = cstr("/");
            let r = libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            );
            assert_eq!(
                r,
                0,
                "mount --make-rprivate /: {}",
                std::io::Error::last_os_error()
            );
        }
        f()
    })
    .join()
    .unwrap()
}

/// A tmpfs mounted (in the calling thread's mount namespace) until dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    #[allow(unsafe_code)]
    fn mount(at: &Path, options: &str) -> Tmpfs {
        let (src, dir, ty, data) = (cstr("tmpfs"), cstr(at), cstr("tmpfs"), cstr(options));
        // SAFETY: mount(2) with valid C strings.
        let r = unsafe {
            libc::mount(
                src.as_ptr(),
                dir.as_ptr(),
                ty.as_ptr(),
                0,
                data.as_ptr().cast(),
            )
        };
        assert_eq!(r, 0, "mount tmpfs: {}", std::io::Error::last_os_error());
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        let dir = cstr(&self.0);
        // SAFETY: umount2(2) with a valid C string.
        unsafe { libc::umount2(dir.as_ptr(), libc::MNT_DETACH) };
    }
}

/// An export on a 1 MiB tmpfs: writes past its capacity answer ENOSPC (after a short
/// write), what was acknowledged is there, every other request is still answered, and
/// once space is freed writes work again.
fn disk_full(kind: Kind) {
    require_root!();
    in_private_mount_namespace(move || {
        rustix::process::umask(rustix::fs::Mode::empty());
        let tmp = tempfile::tempdir().unwrap();
        let mnt = tmp.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let fs = Tmpfs::mount(&mnt, "size=1m,mode=0755");
        let export = mnt.join("export");
        std::fs::create_dir(&export).unwrap();
        let f = Fixture::at(None, export, kind);
        let mut c = f.client();
        let mut other = f.client();
        c.walk(ROOT, 1, &[]).unwrap();
        c.lcreate(1, b"big", P9_DOTL_RDWR, 0o644, 0).unwrap();
        let data = pattern(2 << 20, 11);
        let mut acked = 0usize;
        let mut short = 0;
        loop {
            match c.write(1, acked as u64, &data[acked..acked + (64 << 10)]) {
                Ok(n) => {
                    assert!(n > 0);
                    if n < 64 << 10 {
                        short += 1;
                    }
                    acked += n as usize;
                    assert!(
                        acked <= 1 << 20,
                        "{acked} bytes written to a 1 MiB file system"
                    );
                }
                Err(e) => {
                    assert_eq!(e.errno(), Some(Errno::NOSPC), "{e}");
                    break;
                }
            }
        }
        assert!(acked > 512 << 10, "only {acked} bytes fit");
        c.fsync(1, 0).unwrap();
        let on_disk = std::fs::read(f.path("big")).unwrap();
        assert!(on_disk == data[..acked], "acknowledged data lost");
        // Full: another file is created (no blocks needed) but takes no data.
        c.walk(ROOT, 2, &[]).unwrap();
        c.lcreate(2, b"small", P9_DOTL_RDWR, 0o644, 0).unwrap();
        assert_eq!(errno(c.write(2, 0, b"x")), Errno::NOSPC);
        // Everything else is answered, on both connections.
        let st = other.statfs(ROOT).unwrap();
        assert_eq!(st.bavail, 0);
        other.walk(ROOT, 3, &[b"big"]).unwrap();
        assert_eq!(other.getattr(3).unwrap().size, acked as u64);
        other.lopen(3, P9_DOTL_RDONLY).unwrap();
        assert!(other.read_all(3).unwrap() == data[..acked], "wrong data");
        other.clunk(3).unwrap();
        match other.mkdir(ROOT, b"dir", 0o755, 0) {
            Ok(_) | Err(p9_client::ClientError::Lerror(Errno::NOSPC)) => {}
            Err(e) => panic!("mkdir on a full disk: {e}"),
        }
        // Free the space: writes work again.
        c.clunk(1).unwrap();
        c.unlinkat(ROOT, b"big", 0).unwrap();
        assert_eq!(c.write(2, 0, b"x").unwrap(), 1);
        assert_eq!(std::fs::read(f.path("small")).unwrap(), b"x");
        eprintln!(
            "{}: disk full after {acked} bytes ({short} short write(s)), then ENOSPC",
            kind.name()
        );
        drop((c, other, f));
        drop(fs);
    });
}

over_both_backends!(disk_full);

/// The result of a request as an errno (0 for success), for tables of outcomes.
fn outcome<T>(r: p9_client::Result<T>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e
            .errno()
            .unwrap_or_else(|| panic!("not an Rlerror: {e}"))
            .raw_os_error(),
    }
}

/// The export directory is removed, then another put in its place, while clients are
/// attached: requests get clear errors, open files keep working, new connections are
/// served, and nothing crashes.
fn export_removed_then_replaced(kind: Kind) {
    let f = Fixture::new(kind);
    std::fs::write(f.path("a"), b"alpha").unwrap();
    std::fs::create_dir(f.path("d")).unwrap();
    std::fs::write(f.path("d/b"), b"beta").unwrap();
    let mut c = f.client();
    c.walk(ROOT, 1, &[b"a"]).unwrap();
    c.lopen(1, P9_DOTL_RDWR).unwrap();
    c.walk(ROOT, 2, &[b"d"]).unwrap();
    c.walk(ROOT, 3, &[b"d", b"b"]).unwrap();
    // An unrelated export served by this process meanwhile.
    let elsewhere = Fixture::new(kind);
    std::fs::write(elsewhere.path("x"), b"x").unwrap();
    let mut e = elsewhere.client();

    std::fs::remove_dir_all(&f.export).unwrap();
    let removed = [
        ("read open file", outcome(c.read(1, 0, 100))),
        ("walk a", outcome(c.walk(ROOT, 10, &[b"a"]))),
        ("walk d/b", outcome(c.walk(ROOT, 10, &[b"d", b"b"]))),
        ("getattr root", outcome(c.getattr(ROOT))),
        ("getattr d/b", outcome(c.getattr(3))),
        ("lopen d/b", outcome(c.lopen(3, P9_DOTL_RDONLY))),
        ("mkdir in root", outcome(c.mkdir(ROOT, b"n", 0o755, 0))),
        ("mkdir in d", outcome(c.mkdir(2, b"n", 0o755, 0))),
        ("create in root", {
            c.walk(ROOT, 11, &[]).unwrap();
            outcome(c.lcreate(11, b"n", P9_DOTL_RDWR, 0o644, 0))
        }),
        ("unlink a", outcome(c.unlinkat(ROOT, b"a", 0))),
        ("rename d", outcome(c.renameat(ROOT, b"d", ROOT, b"e"))),
        ("statfs", outcome(c.statfs(ROOT))),
        ("readdir root", {
            c.walk(ROOT, 12, &[]).unwrap();
            c.lopen(12, P9_DOTL_RDONLY | P9_DOTL_DIRECTORY)
                .and_then(|_| c.readdir_all(12, 8192))
                .map(|d| assert!(d.len() <= 2, "{d:?}"))
                .map_or_else(|e| e.errno().unwrap().raw_os_error(), |()| 0)
        }),
        ("new attach", {
            let mut n = Client::new(f.connect_raw().0);
            n.version(8192).unwrap();
            outcome(n.attach(ROOT, 0))
        }),
    ];
    eprintln!("{}: export removed: {removed:?}", kind.name());
    for (what, r) in removed {
        let gone = [libc::ENOENT, libc::ESTALE].contains(&r);
        let ok = match what {
            // The open file, and the inodes the fids hold, stay usable as such.
            "read open file" | "getattr root" | "getattr d/b" | "statfs" | "new attach" => r == 0,
            // Reopening a removed file: the local backend reopens the inode the fid
            // holds, the proxy backend asks its helper by path.
            "lopen d/b" => r == 0 || gone,
            // getdents(2) of a removed directory is ENOENT.
            "readdir root" => r == 0 || r == libc::ENOENT,
            // Nothing can be made in, or found from, directories that are gone.
            _ => gone,
        };
        assert!(ok, "{}: {what}: errno {r}", kind.name());
    }
    assert_eq!(c.read(1, 0, 100).unwrap(), b"alpha");

    // Another directory where the export was.
    std::fs::create_dir(&f.export).unwrap();
    std::fs::write(f.path("new"), b"new").unwrap();
    let replaced = [
        ("walk new", outcome(c.walk(ROOT, 20, &[b"new"]))),
        ("mkdir in root", outcome(c.mkdir(ROOT, b"m", 0o755, 0))),
        ("read open file", outcome(c.read(1, 0, 100))),
    ];
    eprintln!("{}: export replaced: {replaced:?}", kind.name());
    // The server goes on serving the directory it opened (now gone), never the new one.
    for (what, r) in replaced {
        let want: &[i32] = if what == "read open file" {
            &[0]
        } else {
            &[libc::ENOENT, libc::ESTALE]
        };
        assert!(want.contains(&r), "{}: {what}: errno {r}", kind.name());
    }
    assert_eq!(std::fs::read_dir(&f.export).unwrap().count(), 1);
    if kind == Kind::Proxy {
        // New helpers serve the same detached copy of the export's mounts as the first
        // ones (so that each accepts the fds the others handed out): the directory the
        // server opened, now gone, as the local backend. Fids of it keep naming the old
        // inodes (a walk from the old root is looked up in it, by the front end itself,
        // and finds nothing); a new attach gets that old directory too.
        assert_eq!(f.helpers().kill_all(), 2);
        let restarted = [
            (
                "walk new from the old root",
                outcome(c.walk(ROOT, 20, &[b"new"])),
            ),
            ("lopen d/b", outcome(c.lopen(3, P9_DOTL_RDONLY))),
            ("read open file", outcome(c.read(1, 0, 100))),
            ("getattr root", outcome(c.getattr(ROOT))),
            ("new attach", outcome(c.attach(21, 0))),
            (
                "walk new from a new attach",
                outcome(c.walk(21, 22, &[b"new"])),
            ),
        ];
        eprintln!("proxy: export replaced, helpers restarted: {restarted:?}");
        for (what, r) in restarted {
            let want: &[i32] = match what {
                // EBADF: the fid is open already (the front end could reopen the inode
                // it holds in the first phase).
                "lopen d/b" => &[libc::ENOENT, libc::ESTALE, libc::EBADF],
                "walk new from the old root" | "walk new from a new attach" => {
                    &[libc::ENOENT, libc::ESTALE]
                }
                _ => &[0],
            };
            assert!(want.contains(&r), "proxy: {what}: errno {r}");
        }
    }
    // The other export was never disturbed.
    e.walk(ROOT, 1, &[b"x"]).unwrap();
    e.lopen(1, P9_DOTL_RDONLY).unwrap();
    assert_eq!(e.read(1, 0, 10).unwrap(), b"x");
}

over_both_backends!(export_removed_then_replaced);

/// Requests pipelined ahead of a frame that ends the connection (one larger than msize,
/// or one too short to delimit) were carried out: their replies come before the close.
#[test]
fn replies_before_a_bad_frame_are_sent() {
    let f = Fixture::new(Kind::Local);
    for (i, bad) in [
        vec![0u8, 0, 0x20, 0, P9_TREAD, 0, 0],
        vec![3u8, 0, 0, 0, P9_TREAD, 0, 0],
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = f.client();
        let name = format!("made{i}");
        let mut batch = frame(
            1,
            &Tmessage::Getattr(Tgetattr {
                fid: ROOT,
                request_mask: P9_GETATTR_BASIC,
            }),
        );
        batch.extend(frame(
            2,
            &Tmessage::Mkdir(Tmkdir {
                dfid: ROOT,
                name: name.as_bytes(),
                mode: 0o755,
                gid: 0,
            }),
        ));
        batch.extend(bad);
        c.send_raw(&batch).unwrap();
        let r = c.recv().unwrap();
        assert!(matches!(r.decode().unwrap(), (1, Rmessage::Getattr(_))));
        let r = c.recv().unwrap();
        assert!(matches!(r.decode().unwrap(), (2, Rmessage::Mkdir(_))));
        let mut b = [0u8; 1];
        assert!(matches!(c.stream().read(&mut b), Ok(0) | Err(_)));
        assert!(f.path(&name).is_dir());
    }
}

/// A gid of -1 on a creating request (found by fuzzing: a debug-build panic, and in a
/// release build a file created in root's group) is EINVAL; nothing is created. In
/// Tsetattr, -1 leaves an id as it is, as for chown(2).
fn ids_of_minus_one(kind: Kind) {
    require_root!();
    let f = Fixture::new(kind);
    std::fs::write(f.path("a"), b"").unwrap();
    std::os::unix::fs::chown(f.path("a"), Some(1000), Some(1000)).unwrap();
    let mut c = f.client();
    c.attach(1, 1000).unwrap();
    for fid in [ROOT, 1] {
        let m = u32::MAX;
        assert_eq!(errno(c.mkdir(fid, b"m", 0o2755, m)), Errno::INVAL);
        assert_eq!(errno(c.symlink(fid, b"s", b"a", m)), Errno::INVAL);
        assert_eq!(
            errno(c.mknod(fid, b"n", libc::S_IFIFO | 0o644, 0, 0, m)),
            Errno::INVAL
        );
        c.walk(fid, 2, &[]).unwrap();
        assert_eq!(
            errno(c.lcreate(2, b"c", P9_DOTL_RDWR, 0o2755, m)),
            Errno::INVAL
        );
        c.clunk(2).unwrap();
    }
    let names: Vec<_> = std::fs::read_dir(&f.export).unwrap().collect();
    assert_eq!(names.len(), 1, "{names:?}");
    c.walk(ROOT, 3, &[b"a"]).unwrap();
    c.setattr(Setattr::of(3).uid(u32::MAX).gid(u32::MAX))
        .unwrap();
    let a = c.getattr(3).unwrap();
    assert_eq!((a.uid, a.gid), (1000, 1000));
}

over_both_backends!(ids_of_minus_one);

/// Extended attribute values held by fids (Txattrwalk reads a value into its fid;
/// Txattrcreate makes a buffer of the declared size) count against a per-connection
/// budget: a client cannot make the server hold gigabytes with a few bytes per fid.
#[test]
fn xattr_buffers_are_bounded_per_connection() {
    let sp = ServerProc::start(Kind::Local, &[MANY_CONNECTIONS]);
    std::fs::write(sp.export().join("a"), b"").unwrap();
    let mut c = sp.client();
    c.walk(ROOT, 1, &[b"a"]).unwrap();
    let value = set_big_xattr(&mut c, 1, 2);
    let rss0 = sp.status_kib("VmRSS");
    // 20,000 fids each holding the value: 80 MB if nothing bounded them.
    let (held, refused) = xattr_flood(&mut c, 1, 100, 20_000);
    assert!(refused.iter().all(|&e| e == Errno::NOMEM), "{refused:?}");
    let refused = refused.len();
    // Buffers for writing count too.
    c.walk(ROOT, 50, &[b"a"]).unwrap();
    assert_eq!(
        errno(c.xattrcreate(50, b"user.more", 65536, 0)),
        Errno::NOMEM
    );
    let rss1 = sp.status_kib("VmRSS");
    eprintln!("xattr fids: {held} held, {refused} refused; server VmRSS {rss0} -> {rss1} KiB");
    assert!(refused > 0 && held > 0);
    assert!(rss1 < rss0 + 48 * 1024, "{rss0} -> {rss1} KiB");
    // Clunking frees the budget.
    for i in 0..held {
        c.clunk(100 + i).unwrap();
    }
    assert_eq!(c.xattrwalk(1, 3, b"user.big").unwrap(), 4000);
    assert_eq!(c.read(3, 0, 8192).unwrap(), value);
    drop(c);
    sp.finish();
}

/// Every fid holds an fd, and fds are a process-wide budget (3/4 of the open-file
/// limit, here lowered to 256) shared fairly: one connection walking fids until it is
/// refused (`EMFILE`: past its share) leaves enough for the others, which still walk,
/// attach and open meanwhile; once it goes, its fds are all closed.
#[test]
fn one_connection_cannot_take_every_fd() {
    let sp = ServerProc::start(Kind::Local, &[MANY_CONNECTIONS, (ENV_NOFILE, "256")]);
    std::fs::write(sp.export().join("f"), b"data").unwrap();
    let mut other = sp.client();
    other.walk(ROOT, 1, &[b"f"]).unwrap();
    other.lopen(1, P9_DOTL_RDONLY).unwrap();
    let baseline = sp.fds();
    let mut hog = sp.client();
    let mut held = 0u32;
    let refused = loop {
        match hog.walk(ROOT, 100 + held, &[b"f"]) {
            Ok(_) => held += 1,
            Err(e) => break e.errno().expect("an Rlerror"),
        }
        assert!(held < 10_000, "no limit reached");
    };
    assert_eq!(refused, Errno::MFILE);
    // The hog's connection goes on: what it holds still works, and it gets fds back
    // as it clunks.
    hog.getattr(100).unwrap();
    hog.clunk(100).unwrap();
    hog.walk(ROOT, 100, &[b"f"]).unwrap();
    // The other client: open fids go on, new ones too, and a new client attaches,
    // walks and opens.
    assert_eq!(other.read(1, 0, 10).unwrap(), b"data");
    other.walk(ROOT, 2, &[b"f"]).unwrap();
    other.lopen(2, P9_DOTL_RDONLY).unwrap();
    assert_eq!(other.read(2, 0, 10).unwrap(), b"data");
    other.clunk(2).unwrap();
    let mut again = sp.client();
    again.walk(ROOT, 1, &[b"f"]).unwrap();
    again.lopen(1, P9_DOTL_RDONLY).unwrap();
    assert_eq!(again.read(1, 0, 10).unwrap(), b"data");
    drop(again);
    drop(hog);
    let after = sp.settle_fds(baseline);
    assert_eq!(after, baseline);
    eprintln!("fd budget: one connection held {held} fids, then {refused}; others served");
    drop(other);
    sp.finish();
}

/// In the server process's export, a chain of directories `depth` deep, each named
/// with 250 bytes (longer than any path the kernel resolves at once). Returns the name.
fn deep_chain(export: &Path, depth: usize) -> Vec<u8> {
    use rustix::fs::{mkdirat, openat, Mode, OFlags};
    let name = vec![b'd'; 250];
    let mut dir = openat(
        rustix::fs::CWD,
        export,
        OFlags::PATH | OFlags::DIRECTORY,
        Mode::empty(),
    )
    .unwrap();
    for _ in 0..depth {
        mkdirat(&dir, &name[..], Mode::from_raw_mode(0o755)).unwrap();
        dir = openat(
            &dir,
            &name[..],
            OFlags::PATH | OFlags::DIRECTORY,
            Mode::empty(),
        )
        .unwrap();
    }
    name
}

/// Sends the `n` requests `make(0..n)` pipelined (500 at a time); returns how many
/// succeeded and the errnos of those refused.
fn flood<'m>(
    c: &mut Client<UnixStream>,
    n: u32,
    make: impl Fn(u32) -> Tmessage<'m>,
) -> (u32, Vec<Errno>) {
    let (mut held, mut refused) = (0u32, Vec::new());
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let batch: Vec<u8> = chunk
            .iter()
            .flat_map(|&i| frame((i % 500) as u16, &make(i)))
            .collect();
        c.send_raw(&batch).unwrap();
        for _ in chunk {
            match c.recv().unwrap().decode().unwrap().1 {
                Rmessage::Lerror(e) => refused.push(Errno::from_raw_os_error(e.ecode as i32)),
                _ => held += 1,
            }
        }
    }
    (held, refused)
}

/// Sends `n` clones (`Twalk` with no names) of `fid` to new fids from `first` on,
/// pipelined; returns how many were made and the errnos of those refused.
fn clone_flood(c: &mut Client<UnixStream>, fid: u32, first: u32, n: u32) -> (u32, Vec<Errno>) {
    flood(c, n, |i| {
        Tmessage::Walk(Twalk {
            fid,
            newfid: first + i,
            wnames: Default::default(),
        })
    })
}

/// Sends `n` Txattrwalks of `user.big` from `fid` to new fids from `first` on.
fn xattr_flood(c: &mut Client<UnixStream>, fid: u32, first: u32, n: u32) -> (u32, Vec<Errno>) {
    flood(c, n, |i| {
        Tmessage::Xattrwalk(Txattrwalk {
            fid,
            newfid: first + i,
            name: b"user.big",
        })
    })
}

/// Sets `user.big` on fid's file to 4,000 bytes through the server (ext4 keeps up to a
/// block per inode); returns the value.
fn set_big_xattr(c: &mut Client<UnixStream>, fid: u32, tmp: u32) -> Vec<u8> {
    let value = vec![b'v'; 4000];
    c.walk(fid, tmp, &[]).unwrap();
    c.xattrcreate(tmp, b"user.big", value.len() as u64, 0)
        .unwrap();
    assert_eq!(c.write(tmp, 0, &value).unwrap(), 4000);
    c.clunk(tmp).unwrap();
    value
}

/// Xattr buffers are one budget for the server (32 MiB), shared fairly: four
/// connections flooding Txattrwalks hold at most that much together (each as much as
/// it could alone before: 64 MiB), each gets some, and each is refused with `ENOMEM`.
#[test]
fn xattr_buffers_are_a_global_budget() {
    let sp = ServerProc::start(Kind::Local, &[MANY_CONNECTIONS]);
    std::fs::write(sp.export().join("a"), b"").unwrap();
    let mut clients: Vec<Client<UnixStream>> = (0..4).map(|_| sp.client()).collect();
    for c in &mut clients {
        c.walk(ROOT, 1, &[b"a"]).unwrap();
    }
    set_big_xattr(&mut clients[0], 1, 2);
    let mut total = 0u64;
    for c in &mut clients {
        let (held, refused) = xattr_flood(c, 1, 100, 6_000);
        eprintln!(
            "xattr flood: {held} values held, then {:?}",
            refused.first()
        );
        // Its floor (32 MiB / 2 / 256) and a fifth of the pool (16 MiB / 5): some 850.
        assert!(held > 700, "{held}");
        assert!(!refused.is_empty() && refused.iter().all(|&e| e == Errno::NOMEM));
        total += u64::from(held) * 4000;
    }
    assert!(total <= 32 << 20, "{total} bytes of xattr values held");
    drop(clients);
    sp.finish();
}

/// A fid's path is shared with its clones (a clone costs the same for any path) and
/// bounded (`path::MAX_PATH`, four times PATH_MAX): a client that walks a fid down a
/// deep chain and clones it over and over with 17-byte requests makes the server hold
/// little, the walk past the bound is `ENAMETOOLONG`, and another client keeps working.
#[test]
fn deep_path_clone_flood_is_bounded() {
    let sp = ServerProc::start(Kind::Local, &[MANY_CONNECTIONS]);
    let name = deep_chain(&sp.export(), 66);
    std::fs::write(sp.export().join("f"), b"data").unwrap();
    let mut hog = sp.client();
    // 16 levels: a path of 4,016 bytes.
    hog.walk(ROOT, 1, &vec![&name[..]; 16]).unwrap();
    let rss0 = sp.status_kib("VmRSS");
    // 60,000 clones: 240 MB if each kept its own copy of the path.
    let (held, refused) = clone_flood(&mut hog, 1, 100, 60_000);
    let rss1 = sp.status_kib("VmRSS");
    eprintln!(
        "deep clones: {held} held, {} refused ({:?}); server VmRSS {rss0} -> {rss1} KiB",
        refused.len(),
        refused.first()
    );
    assert!(held > 0);
    assert!(
        refused
            .iter()
            .all(|e| [Errno::MFILE, Errno::NFILE, Errno::NOMEM].contains(e)),
        "{refused:?}"
    );
    // Well under a KiB a clone (the path alone is 4 KiB), and bounded whatever the count.
    assert!(
        rss1 < rss0 + 16 * 1024 + u64::from(held) / 2,
        "{rss0} -> {rss1} KiB for {held} clones"
    );
    // 65 levels (16,315 bytes) are within the bound, one more is past it (another
    // client: the hog has used its share of fds).
    let mut deep = sp.client();
    deep.walk(ROOT, 2, &[]).unwrap();
    for _ in 0..4 {
        deep.walk(2, 2, &vec![&name[..]; 16]).unwrap();
    }
    deep.walk(2, 2, &[&name[..]]).unwrap();
    assert_eq!(errno(deep.walk(2, 3, &[&name[..]])), Errno::NAMETOOLONG);
    drop(deep);
    let mut other = sp.client();
    other.walk(ROOT, 1, &[b"f"]).unwrap();
    other.lopen(1, P9_DOTL_RDONLY).unwrap();
    assert_eq!(other.read(1, 0, 10).unwrap(), b"data");
    drop((hog, other));
    sp.finish();
}

/// Fid memory is a process-wide budget with a fair share per connection (here 4 MiB in
/// all): a connection cloning deep fids gets `ENOMEM` past its share, another one still
/// makes its own, and everything held is given back when a connection ends.
#[test]
fn fid_memory_is_a_shared_budget() {
    let sp = ServerProc::start(
        Kind::Local,
        &[MANY_CONNECTIONS, (ENV_FID_MEMORY, "4194304")],
    );
    let name = deep_chain(&sp.export(), 16);
    let deep = vec![&name[..]; 16];
    let mut hog = sp.client();
    hog.walk(ROOT, 1, &deep).unwrap();
    let (held, refused) = clone_flood(&mut hog, 1, 100, 2_000);
    eprintln!(
        "fid memory: {held} deep clones held, then {:?}",
        refused.first()
    );
    // Alone: its floor (4 MiB / 2 / 256 connections) and half of the pool (the other
    // 2 MiB): some 245 fids of 4,272 bytes (path and overhead).
    assert!((200..300).contains(&held), "{held}");
    assert!(refused.iter().all(|&e| e == Errno::NOMEM), "{refused:?}");
    let mut other = sp.client();
    other.walk(ROOT, 1, &deep).unwrap();
    let (other_held, _) = clone_flood(&mut other, 1, 100, 150);
    assert_eq!(other_held, 150);
    drop(hog);
    // Once the hog is gone (its thread notices shortly), its share is free again.
    let mut again = sp.client();
    let deadline = Instant::now() + Duration::from_secs(20);
    let again_held = loop {
        let n = match again.walk(ROOT, 1, &deep) {
            // The deep walk needs fid memory too: refused until the hog's share is back.
            Err(e) if e.errno() == Some(Errno::NOMEM) => 0,
            walked => {
                walked.unwrap();
                // More than the hog left free for a third connection (about 90).
                let (n, _) = clone_flood(&mut again, 1, 100, 150);
                if n == 150 {
                    break n;
                }
                for i in 0..n {
                    again.clunk(100 + i).unwrap();
                }
                again.clunk(1).unwrap();
                n
            }
        };
        if Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(again_held, 150);
    drop((other, again));
    sp.finish();
}

/// Greedy connections one after another, each taking all the fid memory it may, cannot
/// leave a newcomer with nothing: every connection has a floor of every budget that the
/// others cannot take (before, three such connections took the whole budget and the
/// next client's attach failed with `ENOMEM`).
#[test]
fn greedy_connections_leave_a_newcomer_its_floor() {
    let sp = ServerProc::start(
        Kind::Local,
        &[MANY_CONNECTIONS, (ENV_FID_MEMORY, "4194304")],
    );
    let name = deep_chain(&sp.export(), 16);
    let deep = vec![&name[..]; 16];
    std::fs::write(sp.export().join("f"), b"still served").unwrap();
    let mut hogs = Vec::new();
    for i in 0..6 {
        let mut hog = sp.client();
        hog.walk(ROOT, 1, &deep).unwrap();
        let (held, refused) = clone_flood(&mut hog, 1, 100, 2_000);
        eprintln!("hog {i}: {held} deep clones, then {:?}", refused.first());
        hogs.push(hog);
    }
    let mut newcomer = sp.client();
    newcomer.walk(ROOT, 1, &[b"f"]).unwrap();
    newcomer.lopen(1, P9_DOTL_RDONLY).unwrap();
    assert_eq!(newcomer.read(1, 0, 64).unwrap(), b"still served");
    drop((hogs, newcomer));
    sp.finish();
}

/// CPU time (user + system) the process `pid` has used, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = stat.rsplit_once(')').unwrap().1;
    // After "pid (comm)": state is field 3; utime and stime are fields 14 and 15.
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// Locks are bounded: a fid holds at most 1,024 locked ranges (`ENOLCK` past it, the
/// connection goes on, another connection still locks), and blocking locks that wait
/// (4 connections x 1,024) cost little CPU while they wait (retried with a growing delay,
/// and at once when a lock is released in the server), and are granted once released.
#[test]
fn lock_floods_are_bounded() {
    let sp = ServerProc::start(Kind::Local, &[MANY_CONNECTIONS]);
    std::fs::write(sp.export().join("f"), b"").unwrap();
    let open = |c: &mut Client<UnixStream>, fid: u32| {
        c.walk(ROOT, fid, &[b"f"]).unwrap();
        c.lopen(fid, P9_DOTL_RDWR).unwrap();
    };
    let mut hog = sp.client();
    open(&mut hog, 1);
    let mut held = 0u64;
    let refused = loop {
        match hog.lock(1, P9_LOCK_TYPE_WRLCK, 2 * held, 1, 1) {
            Ok(s) => {
                assert_eq!(s, P9_LOCK_SUCCESS);
                held += 1;
            }
            Err(e) => break e.errno().expect("an Rlerror"),
        }
        assert!(held < 20_000, "no limit on locked ranges");
    };
    assert_eq!((held, refused), (1024, Errno::NOLCK));
    // Merging into a held range needs no new one; the connection goes on.
    assert_eq!(
        hog.lock(1, P9_LOCK_TYPE_WRLCK, 0, 2, 1).unwrap(),
        P9_LOCK_SUCCESS
    );
    hog.getattr(1).unwrap();
    // Unlocking all gives them back.
    assert_eq!(
        hog.lock(1, P9_LOCK_TYPE_UNLCK, 0, 0, 1).unwrap(),
        P9_LOCK_SUCCESS
    );
    assert_eq!(
        hog.lock(1, P9_LOCK_TYPE_WRLCK, 0, 0, 1).unwrap(),
        P9_LOCK_SUCCESS
    );
    // The whole file is now write-locked through the hog's fid: four connections queue
    // 1,024 blocking locks each.
    let mut waiters: Vec<Client<UnixStream>> = (0..4).map(|_| sp.client()).collect();
    for (i, w) in (0u64..).zip(&mut waiters) {
        open(w, 1);
        let batch: Vec<u8> = (0..1024u16)
            .flat_map(|tag| {
                frame(
                    tag,
                    &Tmessage::Lock(Tlock {
                        fid: 1,
                        ty: P9_LOCK_TYPE_WRLCK,
                        flags: P9_LOCK_FLAGS_BLOCK,
                        start: 4096 * i + 2 * u64::from(tag),
                        length: 1,
                        proc_id: 2,
                        client_id: b"w",
                    }),
                )
            })
            .collect();
        w.send_raw(&batch).unwrap();
    }
    // Let them wait 3 s (none is answered: the lock is held), then measure 2 s more.
    std::thread::sleep(Duration::from_secs(3));
    let t0 = cpu_ticks(sp.pid());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(sp.pid()) - t0;
    let hz = rustix::param::clock_ticks_per_second();
    eprintln!("4 x 1,024 waiting locks: the server used {used} ticks of CPU in 2 s ({hz} Hz)");
    // Polling all of them every 10 ms took 58 ticks here (2 with the delays and
    // wake-ups); a tenth of a CPU is generous.
    assert!(used < hz / 5, "{used} ticks in 2 s");
    // Another client is served meanwhile.
    let mut other = sp.client();
    other.getattr(ROOT).unwrap();
    // Released: every waiting lock is granted (they are disjoint), long before they
    // would time out (30 s).
    assert_eq!(
        hog.lock(1, P9_LOCK_TYPE_UNLCK, 0, 0, 1).unwrap(),
        P9_LOCK_SUCCESS
    );
    for w in &mut waiters {
        w.stream()
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        for _ in 0..1024 {
            match w.recv().unwrap().decode().unwrap().1 {
                Rmessage::Lock(r) => assert_eq!(r.status, P9_LOCK_SUCCESS),
                m => panic!("{m:?}"),
            }
        }
    }
    drop((hog, waiters, other));
    sp.finish();
}
