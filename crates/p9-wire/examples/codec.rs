//! The codec alone, in nanoseconds per message: decoding the requests and encoding the
//! replies a server handles most (Tgetattr/Rgetattr, Tread/Rread header, Twalk/Rwalk,
//! Tlcreate), with no I/O. To compare two builds of the crate, run this example in each,
//! one after the other: `cargo run --release -p p9-wire --example codec`.

use std::hint::black_box;
use std::time::Instant;

use p9_wire::*;

/// Best of `rounds` timings of `n` calls of `f`, in ns per call.
fn best_ns(rounds: u32, n: u32, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        best = best.min(t.elapsed().as_nanos() as f64 / f64::from(n));
    }
    best
}

fn frame(msg: &Tmessage<'_>) -> Vec<u8> {
    let mut buf = Vec::new();
    encode(1, msg, &mut buf, u32::MAX).unwrap();
    buf
}

fn main() {
    let (rounds, n) = (7, 2_000_000);
    let qid = Qid {
        ty: QTFILE,
        version: 7,
        path: 0x1234,
    };
    let names: [&[u8]; 3] = [b"usr", b"share", b"doc"];
    let requests = [
        (
            "Tgetattr",
            frame(&Tmessage::Getattr(Tgetattr {
                fid: 1,
                request_mask: P9_GETATTR_BASIC,
            })),
        ),
        (
            "Tread",
            frame(&Tmessage::Read(Tread {
                fid: 1,
                offset: 4096,
                count: 65536,
            })),
        ),
        (
            "Twalk (3 names)",
            frame(&Tmessage::Walk(Twalk {
                fid: 0,
                newfid: 1,
                wnames: WalkVec::from_slice(&names).unwrap(),
            })),
        ),
        (
            "Tlcreate",
            frame(&Tmessage::Lcreate(Tlcreate {
                fid: 1,
                name: b"new-file.txt",
                flags: 0o102,
                mode: 0o644,
                gid: 0,
            })),
        ),
    ];
    println!("{:24} {:>8}", "message", "ns/op");
    for (name, f) in &requests {
        let ns = best_ns(rounds, n, || {
            black_box(decode_tmessage(black_box(f)).unwrap());
        });
        println!("decode {name:17} {ns:>8.1}");
    }
    // Every field set, as the server answers a stat(2).
    let getattr = Rmessage::Getattr(Rgetattr {
        valid: P9_GETATTR_ALL,
        qid,
        mode: 0o100600,
        uid: 1000,
        gid: 100,
        nlink: 2,
        size: 1 << 20,
        blksize: 4096,
        blocks: 2048,
        atime_sec: 1_700_000_000,
        mtime_sec: 1_700_000_001,
        ctime_sec: 1_700_000_002,
        ..Rgetattr::default()
    });
    let walk = Rmessage::Walk(Rwalk {
        wqids: WalkVec::from_slice(&[qid; 3]).unwrap(),
    });
    let replies = [
        ("Rgetattr", getattr),
        ("Rwalk (3 qids)", walk),
        ("Rlerror", Rmessage::lerror(2)),
    ];
    let mut out = Vec::with_capacity(4096);
    for (name, r) in &replies {
        let ns = best_ns(rounds, n, || {
            out.clear();
            black_box(encode(1, black_box(r), &mut out, 1 << 20).unwrap());
        });
        println!("encode {name:17} {ns:>8.1}");
    }
    let ns = best_ns(rounds, n, || {
        out.clear();
        let start = begin_rread(1, &mut out);
        out.extend_from_slice(black_box(&[0u8; 64]));
        finish_rread(&mut out, start, 64).unwrap();
        black_box(&out);
    });
    println!("encode {:17} {ns:>8.1}", "Rread (64 B, fast)");
}
