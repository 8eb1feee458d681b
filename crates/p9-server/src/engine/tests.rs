//! The handlers driven with no socket: a [`ConnState`] over a local backend on a
//! temporary directory, requests handed to [`dispatch`], answers looked at as values.

use std::sync::Arc;

use p9_wire::{
    Rmessage, Tattach, Tclunk, Tflush, Tgetattr, Tlock, Tlopen, Tmessage, Tread, Treaddir,
    Tversion, Twalk, WalkVec, NOFID, P9_DOTL_RDWR, P9_GETATTR_BASIC, P9_LOCK_FLAGS_BLOCK,
    P9_LOCK_SUCCESS, P9_LOCK_TYPE_WRLCK, VERSION_9P2000_L,
};
use rustix::io::Errno;

use super::answer::{Answer, ReadData};
use super::ops::dispatch;
use super::state::ConnState;
use crate::error::Result;
use crate::transport::peer::Authority;
use crate::{LocalBackend, Server, ServerConfig};

/// A server exporting a temporary directory holding `a/b` (11 bytes).
fn server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("a")).unwrap();
    std::fs::write(dir.path().join("a/b"), b"hello world").unwrap();
    let backend = Arc::new(LocalBackend::new(dir.path()).unwrap());
    let server = Server::new(backend, ServerConfig::default()).unwrap();
    (dir, server)
}

/// Answers `msg` on `s`, keeping only whether it is a reply message (and which).
fn ask(s: &mut ConnState<'_>, msg: Tmessage<'_>) -> Result<String> {
    dispatch(s, 1, &msg).map(|a| match a {
        Answer::Reply(m) => format!("{m:?}"),
        other => format!("{other:?}"),
    })
}

fn errno(r: Result<impl std::fmt::Debug>) -> Errno {
    r.unwrap_err().errno()
}

fn walk<'n>(fid: u32, newfid: u32, names: &[&'n [u8]]) -> Tmessage<'n> {
    Tmessage::Walk(Twalk {
        fid,
        newfid,
        wnames: WalkVec::from_slice(names).unwrap(),
    })
}

/// Walks fid 0 to `newfid` along `names` and opens it with `flags`.
fn open(s: &mut ConnState<'_>, newfid: u32, names: &[&[u8]], flags: u32) {
    ask(s, walk(0, newfid, names)).unwrap();
    let lopen = Tmessage::Lopen(Tlopen { fid: newfid, flags });
    assert!(ask(s, lopen).unwrap().starts_with("Lopen"));
}

/// A connection after Tversion and a Tattach of fid 0 as the process's own uid.
fn attached(server: &Server) -> ConnState<'_> {
    let mut s = ConnState::new(server, 64 * 1024, Authority::Anyone);
    let version = Tmessage::Version(Tversion {
        msize: 1 << 20,
        version: VERSION_9P2000_L,
    });
    let Answer::Reply(Rmessage::Version(v)) = dispatch(&mut s, 0, &version).unwrap() else {
        panic!("not an Rversion");
    };
    // The transport's cap bounds the msize.
    assert_eq!((v.msize, v.version), (64 * 1024, VERSION_9P2000_L));
    assert_eq!(s.msize, 64 * 1024);
    let attach = Tmessage::Attach(Tattach {
        fid: 0,
        afid: NOFID,
        uname: b"",
        aname: b"",
        n_uname: rustix::process::getuid().as_raw(),
    });
    assert!(ask(&mut s, attach).unwrap().starts_with("Attach"));
    assert!(s.attached);
    s
}

#[test]
fn nothing_but_tversion_before_a_version() {
    let (_dir, server) = server();
    let mut s = ConnState::new(&server, 64 * 1024, Authority::Anyone);
    let getattr = Tmessage::Getattr(Tgetattr {
        fid: 0,
        request_mask: P9_GETATTR_BASIC,
    });
    assert_eq!(errno(ask(&mut s, getattr)), Errno::PROTO);
}

#[test]
fn walk_getattr_clunk() {
    let (_dir, server) = server();
    let mut s = attached(&server);
    assert!(ask(&mut s, walk(0, 1, &[b"a", b"b"])).is_ok());
    assert_eq!(s.fids.len(), 2);
    let getattr = |fid| {
        Tmessage::Getattr(Tgetattr {
            fid,
            request_mask: P9_GETATTR_BASIC,
        })
    };
    let Answer::Reply(Rmessage::Getattr(a)) = dispatch(&mut s, 1, &getattr(1)).unwrap() else {
        panic!("not an Rgetattr");
    };
    assert_eq!(a.size, 11);
    assert_eq!(a.mode & libc::S_IFMT, libc::S_IFREG);
    assert!(matches!(
        dispatch(&mut s, 1, &Tmessage::Clunk(Tclunk { fid: 1 })),
        Ok(Answer::Reply(Rmessage::Clunk))
    ));
    assert_eq!(s.fids.len(), 1);
    assert_eq!(errno(ask(&mut s, getattr(1))), Errno::BADF);
}

#[test]
fn a_walk_that_fails_past_its_first_name_makes_no_fid() {
    let (_dir, server) = server();
    let mut s = attached(&server);
    let Answer::Reply(Rmessage::Walk(w)) =
        dispatch(&mut s, 1, &walk(0, 1, &[b"a", b"nothing"])).unwrap()
    else {
        panic!("not an Rwalk");
    };
    assert_eq!(w.wqids.len(), 1);
    assert_eq!(s.fids.len(), 1);
    assert_eq!(errno(ask(&mut s, walk(0, 1, &[b"nothing"]))), Errno::NOENT);
    assert_eq!(errno(ask(&mut s, walk(0, 1, &[b"a/b"]))), Errno::INVAL);
}

#[test]
fn a_read_says_where_the_data_is_bounded_by_the_msize() {
    let (_dir, server) = server();
    let mut s = attached(&server);
    open(&mut s, 1, &[b"a", b"b"], P9_DOTL_RDWR);
    let read = Tmessage::Read(Tread {
        fid: 1,
        offset: 6,
        count: u32::MAX,
    });
    match dispatch(&mut s, 1, &read).unwrap() {
        Answer::Read(ReadData::File {
            fid, offset, count, ..
        }) => {
            assert_eq!((fid, offset), (1, 6));
            assert_eq!(count, p9_wire::max_io_count(64 * 1024) as usize);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_directory_is_no_file_and_a_file_no_directory() {
    let (_dir, server) = server();
    let mut s = attached(&server);
    open(&mut s, 1, &[b"a"], 0);
    open(&mut s, 2, &[b"a", b"b"], 0);
    let wrong = [
        (
            Tmessage::Read(Tread {
                fid: 1,
                offset: 0,
                count: 10,
            }),
            Errno::ISDIR,
        ),
        (
            Tmessage::Readdir(Treaddir {
                fid: 2,
                offset: 0,
                count: 4096,
            }),
            Errno::NOTDIR,
        ),
    ];
    for (msg, want) in wrong {
        assert_eq!(errno(ask(&mut s, msg)), want);
    }
}

#[test]
fn a_blocking_lock_waits_until_flushed() {
    let (_dir, server) = server();
    let mut s = attached(&server);
    for fid in [1, 2] {
        open(&mut s, fid, &[b"a", b"b"], P9_DOTL_RDWR);
    }
    let lock = |fid| {
        Tmessage::Lock(Tlock {
            fid,
            ty: P9_LOCK_TYPE_WRLCK,
            flags: P9_LOCK_FLAGS_BLOCK,
            start: 0,
            length: 0,
            proc_id: fid,
            client_id: b"test",
        })
    };
    let Answer::Reply(Rmessage::Lock(r)) = dispatch(&mut s, 7, &lock(1)).unwrap() else {
        panic!("not an Rlock");
    };
    assert_eq!(r.status, P9_LOCK_SUCCESS);
    // Each open fid is its own lock owner: fid 2 waits, answered later.
    assert!(matches!(dispatch(&mut s, 8, &lock(2)), Ok(Answer::Pending)));
    assert_eq!(s.pending_locks.len(), 1);
    assert_eq!(s.pending_locks[0].tag, 8);
    assert!(s.next_lock_retry().is_some());
    // Still held: a retry answers nothing.
    let mut answered = Vec::new();
    s.retry_locks(true, |tag, r| answered.push((tag, r)));
    assert!(answered.is_empty());
    assert!(ask(&mut s, Tmessage::Flush(Tflush { oldtag: 8 })).is_ok());
    assert!(s.pending_locks.is_empty());
    assert!(s.next_lock_retry().is_none());
}

#[test]
fn readdir_answers_entries_the_session_fills_in() {
    let (dir, server) = server();
    std::fs::write(dir.path().join("c"), b"").unwrap();
    let mut s = attached(&server);
    let lopen = Tmessage::Lopen(Tlopen { fid: 0, flags: 0 });
    ask(&mut s, lopen).unwrap();
    let readdir = Tmessage::Readdir(Treaddir {
        fid: 0,
        offset: 0,
        count: 4096,
    });
    let Answer::Readdir(entries) = dispatch(&mut s, 1, &readdir).unwrap() else {
        panic!("not entries");
    };
    let mut data = Vec::new();
    entries.fill(&mut data).unwrap();
    let mut names: Vec<Vec<u8>> = p9_wire::dir_entries(&data)
        .map(|e| e.unwrap().name.to_vec())
        .collect();
    names.sort();
    assert_eq!(names, [&b"."[..], b"..", b"a", b"c"]);
}

#[test]
fn a_refused_peer_is_answered_then_closed() {
    let (_dir, server) = server();
    let mut s = ConnState::new(&server, 64 * 1024, Authority::Refused("test"));
    let version = Tmessage::Version(Tversion {
        msize: 8192,
        version: VERSION_9P2000_L,
    });
    ask(&mut s, version).unwrap();
    let attach = Tmessage::Attach(Tattach {
        fid: 0,
        afid: NOFID,
        uname: b"",
        aname: b"",
        n_uname: 0,
    });
    assert_eq!(errno(ask(&mut s, attach)), Errno::ACCESS);
    assert!(s.close_after_reply);
    assert!(!s.attached);
    assert_eq!(s.fids.len(), 0);
}
