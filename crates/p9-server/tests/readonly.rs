//! A read-only export (`ReadOnly`, `p9proxy serve --readonly`): reads work; every change,
//! and every open for writing, answers EROFS; the tree on the host is unchanged.

use std::os::unix::net::UnixStream;
use std::sync::Arc;

use p9_client::{Client, Setattr};
use p9_server::{LocalBackend, ReadOnly, Server, ServerConfig};
use p9_wire::*;
use rustix::io::Errno;

fn errno<T: std::fmt::Debug>(r: p9_client::Result<T>) -> Errno {
    match r {
        Err(e) => e.errno().unwrap_or_else(|| panic!("not an Rlerror: {e}")),
        Ok(v) => panic!("expected EROFS, got {v:?}"),
    }
}

#[test]
fn every_change_is_erofs() {
    let tmp = tempfile::tempdir().unwrap();
    let export = tmp.path().join("export");
    std::fs::create_dir(&export).unwrap();
    std::fs::write(export.join("f"), b"contents").unwrap();
    std::fs::create_dir(export.join("d")).unwrap();
    let local: Arc<dyn p9_server::Backend> = Arc::new(LocalBackend::new(&export).unwrap());
    let server = Arc::new(Server::new(Arc::new(ReadOnly(local)), ServerConfig::default()).unwrap());
    let (ours, theirs) = UnixStream::pair().unwrap();
    let s2 = Arc::clone(&server);
    std::thread::spawn(move || s2.serve(&theirs, &theirs, 1 << 20));
    let mut c = Client::new(ours);
    c.version(1 << 20).unwrap();
    c.attach(0, 0).unwrap();

    // Reads work.
    c.walk_path(0, 1, "f").unwrap();
    c.lopen(1, P9_DOTL_RDONLY).unwrap();
    assert_eq!(c.read_all(1).unwrap(), b"contents");
    assert_eq!(c.getattr(1).unwrap().size, 8);
    c.walk_path(0, 2, "f").unwrap();
    // Opens for writing, creations, removals, renames, links, attribute changes: EROFS.
    for flags in [
        P9_DOTL_WRONLY,
        P9_DOTL_RDWR,
        P9_DOTL_RDONLY | P9_DOTL_TRUNC,
        P9_DOTL_WRONLY | P9_DOTL_APPEND,
    ] {
        assert_eq!(errno(c.lopen(2, flags)), Errno::ROFS, "flags {flags:#x}");
    }
    c.walk_path(0, 3, "d").unwrap();
    assert_eq!(
        errno(c.lcreate(3, b"new", P9_DOTL_RDWR, 0o644, 0)),
        Errno::ROFS
    );
    assert_eq!(errno(c.mkdir(0, b"newdir", 0o755, 0)), Errno::ROFS);
    assert_eq!(errno(c.symlink(0, b"sym", b"f", 0)), Errno::ROFS);
    assert_eq!(errno(c.link(0, 2, b"hard")), Errno::ROFS);
    assert_eq!(errno(c.unlinkat(0, b"f", 0)), Errno::ROFS);
    assert_eq!(
        errno(c.unlinkat(0, b"d", P9_DOTL_AT_REMOVEDIR)),
        Errno::ROFS
    );
    assert_eq!(errno(c.renameat(0, b"f", 0, b"g")), Errno::ROFS);
    let set = Setattr::of(2);
    assert_eq!(errno(c.setattr(set.mode(0o777))), Errno::ROFS);
    assert_eq!(errno(c.setattr(set.size(0))), Errno::ROFS);
    assert_eq!(errno(c.setattr(set.mtime_now())), Errno::ROFS);
    // The host's tree is as it was.
    assert_eq!(std::fs::read(export.join("f")).unwrap(), b"contents");
    let mut names: Vec<_> = std::fs::read_dir(&export)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["d", "f"]);
}
