//! The accept loops: TCP and Unix listeners, their msize caps, and the connection limit.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use common::*;
use p9_client::Client;
use p9_server::listen::{self, Limits, ListenAddr};

#[test]
fn tcp_and_unix_listeners() {
    let h = Harness::new();
    let sock = h.outside().join("p9.sock");
    // A stale socket left by a server that is gone is replaced.
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    let tcp = "tcp:127.0.0.1:0"
        .parse::<ListenAddr>()
        .unwrap()
        .bind()
        .unwrap();
    let unix = ListenAddr::Unix(sock.clone()).bind().unwrap();
    let Ok(ListenAddr::Tcp(addr)) = tcp.addr() else {
        panic!()
    };
    let limits = Limits {
        max_connections: 2,
        msize_tcp: 1 << 20,
        msize_unix: 4 << 20,
        handshake_timeout: None,
    };
    let server = Arc::clone(&h.server);
    std::thread::spawn(move || listen::serve(server, vec![tcp, unix], limits));

    let mut t = Client::new(TcpStream::connect(&addr).unwrap());
    assert_eq!(t.version(8 << 20).unwrap().0, 1 << 20);
    t.attach(ROOT, 0).unwrap();
    let mut u = Client::new(UnixStream::connect(&sock).unwrap());
    assert_eq!(u.version(8 << 20).unwrap().0, 4 << 20);
    u.attach(ROOT, 0).unwrap();
    // Two are served: a third is closed at once, the others go on.
    let mut third = TcpStream::connect(&addr).unwrap();
    let mut b = [0u8; 1];
    assert!(matches!(third.read(&mut b), Ok(0) | Err(_)));
    t.getattr(ROOT).unwrap();
    u.getattr(ROOT).unwrap();
    // Once one leaves, its slot frees up (the server notices the close shortly).
    drop(u);
    let mut served = false;
    for _ in 0..500 {
        let mut c = Client::new(UnixStream::connect(&sock).unwrap());
        if c.version(8192).is_ok() {
            served = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(served);
    // Something else in the way of a Unix socket path is an error, not replaced.
    std::fs::write(h.outside().join("file"), b"").unwrap();
    assert!(ListenAddr::Unix(h.outside().join("file")).bind().is_err());
    assert!(h.outside().join("file").exists());
}

/// Connections that never complete their handshake are closed after the handshake
/// timeout: 256 idle connections (one that sent only a Tversion) hold every slot for
/// a moment, then a new client is served; a client that attached and then idles for
/// longer is not affected.
#[test]
fn idle_connections_do_not_hold_every_slot() {
    use std::io::Write;
    use std::time::{Duration, Instant};
    let h = Harness::new();
    let sock = h.outside().join("p9.sock");
    let unix = ListenAddr::Unix(sock.clone()).bind().unwrap();
    let limits = Limits {
        max_connections: 256,
        handshake_timeout: Some(Duration::from_secs(1)),
        ..Limits::default()
    };
    let server = Arc::clone(&h.server);
    std::thread::spawn(move || listen::serve(server, vec![unix], limits));
    let mut early = Client::new(UnixStream::connect(&sock).unwrap());
    early.version(8192).unwrap();
    early.attach(ROOT, 0).unwrap();
    let mut idle: Vec<UnixStream> = (0..255)
        .map(|_| UnixStream::connect(&sock).unwrap())
        .collect();
    // One sends its Tversion (and reads the answer), never a Tattach.
    let mut half = Client::new(idle.pop().unwrap());
    half.version(8192).unwrap();
    idle.push(half.stream().try_clone().unwrap());
    drop(half);
    // Every slot is held: a newcomer is closed at once.
    let mut refused = UnixStream::connect(&sock).unwrap();
    let mut b = [0u8; 1];
    assert!(matches!(refused.read(&mut b), Ok(0) | Err(_)));
    // The idle ones are closed by the server (a generous bound: never before the
    // timeout, surely within 30 s).
    for s in &mut idle {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let r = s.read(&mut b);
        assert!(matches!(r, Ok(0)), "{r:?}");
    }
    // The server notices the slots free shortly after.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut c = loop {
        let mut c = Client::new(UnixStream::connect(&sock).unwrap());
        if c.version(8192).is_ok() {
            break c;
        }
        assert!(Instant::now() < deadline, "never served");
        std::thread::sleep(Duration::from_millis(10));
    };
    c.attach(ROOT, 0).unwrap();
    c.getattr(ROOT).unwrap();
    // The early client idled past the timeout, attached: still served.
    early.getattr(ROOT).unwrap();
    early.stream().flush().unwrap();
}

/// Unix listeners: what may and may not be at the path, and paths near sun_path's limit.
#[test]
fn unix_listener_paths() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file, or a socket something listens on, is never replaced.
    let file = dir.path().join("file");
    std::fs::write(&file, b"keep").unwrap();
    let e = ListenAddr::Unix(file.clone()).bind().err().unwrap();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    assert_eq!(std::fs::read(&file).unwrap(), b"keep");
    let live = dir.path().join("live");
    let _l = ListenAddr::Unix(live.clone()).bind().unwrap();
    let e = ListenAddr::Unix(live.clone()).bind().err().unwrap();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    UnixStream::connect(&live).unwrap();
    // Bound under a temporary name and renamed: nothing else is left in the directory.
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["file", "live"]);
    // A path that fits sun_path (108 bytes with its NUL) but not with the temporary
    // suffix is bound in place.
    let base = dir.path().as_os_str().len() + 1;
    let long = dir.path().join("x".repeat(107 - base));
    assert_eq!(long.as_os_str().len(), 107);
    let _l2 = ListenAddr::Unix(long.clone()).bind().unwrap();
    UnixStream::connect(&long).unwrap();
}

/// Connections handed over a channel (as `p9proxy serve --config`'s supervisor does):
/// each served with its transport's msize cap; closing the channel stops new ones while
/// the connections being served go on, and `serve_channel` returns after the last.
#[test]
fn connections_over_a_channel() {
    use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
    use std::os::fd::AsFd;
    let h = Harness::new();
    let (ours, theirs) = socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .unwrap();
    let limits = Limits {
        max_connections: 8,
        msize_tcp: 1 << 20,
        msize_unix: 4 << 20,
        handshake_timeout: None,
    };
    let server = Arc::clone(&h.server);
    let served = std::thread::spawn(move || listen::serve_channel(server, theirs, limits));

    // A Unix connection and a TCP one.
    let (a, b) = UnixStream::pair().unwrap();
    listen::send_connection(&ours, b.as_fd(), listen::ConnKind::Unix, "unix-peer").unwrap();
    drop(b);
    let tl = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tc = TcpStream::connect(tl.local_addr().unwrap()).unwrap();
    let (ts, peer) = tl.accept().unwrap();
    listen::send_connection(&ours, ts.as_fd(), listen::ConnKind::Tcp, &peer.to_string()).unwrap();
    drop(ts);
    let mut u = Client::new(a);
    assert_eq!(u.version(8 << 20).unwrap().0, 4 << 20);
    u.attach(ROOT, 0).unwrap();
    let mut t = Client::new(tc);
    assert_eq!(t.version(8 << 20).unwrap().0, 1 << 20);
    t.attach(ROOT, 0).unwrap();

    // A malformed message (no descriptor) is skipped; the channel goes on.
    rustix::net::send(&ours, b"U", rustix::net::SendFlags::empty()).unwrap();
    let (c, d) = UnixStream::pair().unwrap();
    listen::send_connection(&ours, d.as_fd(), listen::ConnKind::Unix, "third").unwrap();
    drop(d);
    let mut third = Client::new(c);
    third.version(8192).unwrap();
    drop(third);

    // The channel closes: the connections being served go on.
    drop(ours);
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(!served.is_finished());
    u.getattr(ROOT).unwrap();
    t.getattr(ROOT).unwrap();
    drop(u);
    t.getattr(ROOT).unwrap();
    drop(t);
    served.join().unwrap().unwrap();
}
