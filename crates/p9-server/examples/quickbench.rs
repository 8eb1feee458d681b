//! A quick in-process measurement of the server over a Unix socketpair with the local
//! backend: getattr, walk+open+clunk, create+unlink, sequential read, against a bare
//! echo round trip. `cargo run --release -p p9-server --example quickbench [DIR]`.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Instant;

use p9_client::Client;
use p9_server::{LocalBackend, Server, ServerConfig};
use p9_wire::*;

fn rate(name: &str, n: u32, f: impl FnMut(u32)) {
    let mut f = f;
    let t = Instant::now();
    for i in 0..n {
        f(i);
    }
    let dt = t.elapsed().as_secs_f64();
    println!(
        "{name:24} {:>10.0}/s  {:>7.2} us",
        n as f64 / dt,
        dt * 1e6 / n as f64
    );
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let d = std::env::temp_dir().join("p9-quickbench");
            let _ = std::fs::create_dir_all(&d);
            d
        });
    rustix::process::umask(rustix::fs::Mode::empty());
    std::fs::write(dir.join("small"), b"x").unwrap();
    let big = dir.join("big");
    if std::fs::metadata(&big).map(|m| m.len()).unwrap_or(0) != 256 << 20 {
        std::fs::write(&big, vec![0x5au8; 256 << 20]).unwrap();
    }
    let server = Arc::new(
        Server::new(
            Arc::new(LocalBackend::new(&dir).unwrap()),
            ServerConfig::default(),
        )
        .unwrap(),
    );
    let (a, b) = UnixStream::pair().unwrap();
    {
        let server = Arc::clone(&server);
        std::thread::spawn(move || server.serve(&b, &b, 4 << 20));
    }
    let mut c = Client::new(a);
    c.version(4 << 20).unwrap();
    c.attach(0, 0).unwrap();
    c.walk(0, 1, &[b"small"]).unwrap();

    // Floor: an echo of the same sizes (Tgetattr 15 bytes, Rgetattr 160).
    let (mut ea, eb) = UnixStream::pair().unwrap();
    std::thread::spawn(move || {
        let mut eb = eb;
        let mut buf = [0u8; 15];
        let reply = [0u8; 160];
        while eb.read_exact(&mut buf).is_ok() {
            if eb.write_all(&reply).is_err() {
                break;
            }
        }
    });
    let mut rbuf = [0u8; 160];
    rate("echo floor", 100_000, |_| {
        ea.write_all(&[0u8; 15]).unwrap();
        ea.read_exact(&mut rbuf).unwrap();
    });
    // What the statistics add to every request: two clock reads and a record.
    let stats = p9_server::stats::Stats::new();
    let conn = stats.connect();
    let getattr = p9_server::stats::op_index(P9_TGETATTR);
    rate("stats: 2 clocks + record", 10_000_000, |i| {
        let t = Instant::now();
        let ns = u64::try_from(t.elapsed().as_nanos()).unwrap_or(0);
        conn.record(getattr, ns, 0, u64::from(i & 1));
    });
    rate("getattr", 100_000, |_| {
        c.getattr(1).unwrap();
    });
    rate("walk+open+clunk", 50_000, |_| {
        c.walk(0, 2, &[b"small"]).unwrap();
        c.lopen(2, P9_DOTL_RDONLY).unwrap();
        c.clunk(2).unwrap();
    });
    rate("create+unlink", 20_000, |i| {
        let name = format!("f{i}");
        c.walk(0, 3, &[]).unwrap();
        c.lcreate(3, name.as_bytes(), P9_DOTL_RDWR, 0o644, 0)
            .unwrap();
        c.clunk(3).unwrap();
        c.unlinkat(0, name.as_bytes(), 0).unwrap();
    });
    c.walk(0, 4, &[b"big"]).unwrap();
    c.lopen(4, P9_DOTL_RDONLY).unwrap();
    for _ in 0..3 {
        let t = Instant::now();
        let count = max_io_count(c.msize());
        let mut off = 0u64;
        let tag = 1;
        // Pipelined two deep, as the kernel does with several readers.
        loop {
            c.send(
                tag,
                &Tmessage::Read(Tread {
                    fid: 4,
                    offset: off,
                    count,
                }),
            )
            .unwrap();
            let r = c.recv().unwrap();
            let n = r.bytes().len() - 11;
            if n == 0 {
                break;
            }
            off += n as u64;
        }
        let dt = t.elapsed().as_secs_f64();
        println!(
            "read 4 MiB msize        {:>10.2} GB/s",
            off as f64 / dt / 1e9
        );
    }
}
