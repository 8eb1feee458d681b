//! Many requests in flight on one connection, and many connections at once.

mod common;

use common::*;

#[test]
fn pipelined_requests_are_answered_in_order() {
    let h = Harness::new();
    std::fs::write(h.path("f"), b"pipelined").unwrap();
    let mut c = h.client();
    c.walk(ROOT, 1, &[b"f"]).unwrap();
    c.lopen(1, P9_DOTL_RDONLY).unwrap();
    let n = 300u16;
    for tag in 0..n {
        let m = match tag % 3 {
            0 => Tmessage::Getattr(Tgetattr {
                fid: 1,
                request_mask: P9_GETATTR_BASIC,
            }),
            1 => Tmessage::Read(Tread {
                fid: 1,
                offset: 0,
                count: 100,
            }),
            _ => Tmessage::Walk(Twalk {
                fid: ROOT,
                newfid: 1000 + u32::from(tag),
                wnames: WalkVec::from_slice(&[&b"f"[..]]).unwrap(),
            }),
        };
        c.send(tag, &m).unwrap();
    }
    for tag in 0..n {
        let r = c.recv().unwrap();
        assert_eq!(r.tag(), tag);
        match (tag % 3, r.decode().unwrap().1) {
            (0, Rmessage::Getattr(a)) => assert_eq!(a.size, 9),
            (1, Rmessage::Read(d)) => assert_eq!(d.data, b"pipelined"),
            (2, Rmessage::Walk(w)) => assert_eq!(w.wqids.len(), 1),
            (_, m) => panic!("tag {tag}: {m:?}"),
        }
    }
}

#[test]
fn flush_follows_the_reply_it_flushes() {
    let h = Harness::new();
    let mut c = h.client();
    c.send(
        1,
        &Tmessage::Getattr(Tgetattr {
            fid: ROOT,
            request_mask: P9_GETATTR_BASIC,
        }),
    )
    .unwrap();
    c.send(2, &Tmessage::Flush(Tflush { oldtag: 1 })).unwrap();
    c.send(3, &Tmessage::Flush(Tflush { oldtag: 999 })).unwrap();
    let tags: Vec<(u16, u8)> = (0..3)
        .map(|_| {
            let r = c.recv().unwrap();
            (r.tag(), r.decode().unwrap().1.msg_type())
        })
        .collect();
    assert_eq!(tags, [(1, P9_RGETATTR), (2, P9_RFLUSH), (3, P9_RFLUSH)]);
}

#[test]
fn many_connections_at_once() {
    let h = Harness::new();
    let threads: Vec<_> = (0..8u32)
        .map(|t| {
            let mut c = h.client();
            std::thread::spawn(move || {
                let data: Vec<u8> = (0..(256 * 1024)).map(|i| (i as u32 ^ t) as u8).collect();
                let name = format!("file-{t}");
                c.walk(ROOT, 1, &[]).unwrap();
                c.lcreate(1, name.as_bytes(), P9_DOTL_RDWR, 0o644, 0)
                    .unwrap();
                for (i, chunk) in data.chunks(60_000).enumerate() {
                    c.write(1, (i * 60_000) as u64, chunk).unwrap();
                }
                for round in 0..50u32 {
                    let fid = 10 + round;
                    c.walk(ROOT, fid, &[name.as_bytes()]).unwrap();
                    assert_eq!(c.getattr(fid).unwrap().size, data.len() as u64);
                    c.clunk(fid).unwrap();
                }
                assert_eq!(c.read_all(1).unwrap(), data);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(std::fs::read_dir(h.export()).unwrap().count(), 8);
}
