//! The accept loops: TCP and Unix listeners, their msize caps, and the connection limit.

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use common::*;
use p9_server::listen::{self, Limits, ListenAddr};
use p9_server::testclient::Client;

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
