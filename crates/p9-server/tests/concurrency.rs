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

fn blocking_lock(fid: u32, ty: u8) -> Tmessage<'static> {
    Tmessage::Lock(Tlock {
        fid,
        ty,
        flags: P9_LOCK_FLAGS_BLOCK,
        start: 0,
        length: 0,
        proc_id: 1,
        client_id: b"t",
    })
}

fn status(r: &p9_client::Reply) -> u8 {
    match r.decode().unwrap().1 {
        Rmessage::Lock(l) => l.status,
        m => panic!("not an Rlock: {m:?}"),
    }
}

fn open_rw(c: &mut p9_client::Client<std::os::unix::net::UnixStream>, fid: u32) {
    c.walk(ROOT, fid, &[b"f"]).unwrap();
    c.lopen(fid, P9_DOTL_RDWR).unwrap();
}

/// A client with the file `f` open on fids 1 and 2, fid 1 holding a write lock on all of it.
fn write_locked(h: &Harness) -> p9_client::Client<std::os::unix::net::UnixStream> {
    std::fs::write(h.path("f"), b"").unwrap();
    let mut c = h.client();
    open_rw(&mut c, 1);
    open_rw(&mut c, 2);
    assert_eq!(
        c.lock(1, P9_LOCK_TYPE_WRLCK, 0, 0, 1).unwrap(),
        P9_LOCK_SUCCESS
    );
    c
}

#[test]
fn blocking_lock_waits_without_holding_up_the_connection() {
    let h = Harness::new();
    let mut c = write_locked(&h);
    // The waiter's blocking Tlock arrives before the holder's unlock (as with Linux,
    // whose local lock wakes the waiter first): it waits, other requests go on.
    c.send(60010, &blocking_lock(2, P9_LOCK_TYPE_WRLCK))
        .unwrap();
    c.getattr(ROOT).unwrap();
    c.send(
        60011,
        &Tmessage::Lock(Tlock {
            fid: 1,
            ty: P9_LOCK_TYPE_UNLCK,
            flags: 0,
            start: 0,
            length: 0,
            proc_id: 1,
            client_id: b"t",
        }),
    )
    .unwrap();
    let r = c.recv().unwrap();
    assert_eq!((r.tag(), status(&r)), (60011, P9_LOCK_SUCCESS));
    let r = c.recv().unwrap();
    assert_eq!((r.tag(), status(&r)), (60010, P9_LOCK_SUCCESS));
    // The waiter holds it now.
    assert_eq!(
        c.lock(1, P9_LOCK_TYPE_WRLCK, 0, 0, 1).unwrap(),
        P9_LOCK_BLOCKED
    );

    // Released by another connection: granted too.
    let mut other = h.client();
    open_rw(&mut other, 1);
    other
        .send(60005, &blocking_lock(1, P9_LOCK_TYPE_RDLCK))
        .unwrap();
    c.clunk(2).unwrap();
    let r = other.recv().unwrap();
    assert_eq!((r.tag(), status(&r)), (60005, P9_LOCK_SUCCESS));
}

#[test]
fn blocking_lock_flushed_or_clunked() {
    let h = Harness::new();
    let mut c = write_locked(&h);
    // Flushed: only the Rflush comes, and the lock is not taken later.
    c.send(60020, &blocking_lock(2, P9_LOCK_TYPE_WRLCK))
        .unwrap();
    c.flush(60020).unwrap();
    assert_eq!(
        c.lock(1, P9_LOCK_TYPE_UNLCK, 0, 0, 1).unwrap(),
        P9_LOCK_SUCCESS
    );
    c.getattr(ROOT).unwrap();
    let mut other = h.client();
    open_rw(&mut other, 1);
    assert_eq!(
        other.lock(1, P9_LOCK_TYPE_WRLCK, 0, 0, 2).unwrap(),
        P9_LOCK_SUCCESS
    );
    // The waiting fid is clunked: EBADF for the waiter.
    c.send(60030, &blocking_lock(2, P9_LOCK_TYPE_WRLCK))
        .unwrap();
    c.clunk(2).unwrap();
    let r = c.recv().unwrap();
    assert_eq!(r.tag(), 60030);
    assert_eq!(r.decode().unwrap().1, Rmessage::lerror(libc::EBADF as u32));
}

#[test]
fn blocking_lock_times_out_as_blocked() {
    let h = Harness::with_config(p9_server::ServerConfig {
        lock_wait: std::time::Duration::from_millis(30),
        ..Default::default()
    });
    std::fs::write(h.path("f"), b"").unwrap();
    let mut c = h.client();
    open_rw(&mut c, 1);
    open_rw(&mut c, 2);
    assert_eq!(
        c.lock(1, P9_LOCK_TYPE_WRLCK, 0, 0, 1).unwrap(),
        P9_LOCK_SUCCESS
    );
    c.send(60040, &blocking_lock(2, P9_LOCK_TYPE_WRLCK))
        .unwrap();
    let r = c.recv().unwrap();
    assert_eq!((r.tag(), status(&r)), (60040, P9_LOCK_BLOCKED));
    // Without waiting at all: BLOCKED at once.
    let h = Harness::with_config(p9_server::ServerConfig {
        lock_wait: std::time::Duration::ZERO,
        ..Default::default()
    });
    std::fs::write(h.path("f"), b"").unwrap();
    let mut c = h.client();
    open_rw(&mut c, 1);
    open_rw(&mut c, 2);
    c.lock(1, P9_LOCK_TYPE_WRLCK, 0, 0, 1).unwrap();
    let r = c.rpc(&blocking_lock(2, P9_LOCK_TYPE_WRLCK)).unwrap();
    assert_eq!(status(&r), P9_LOCK_BLOCKED);
}
