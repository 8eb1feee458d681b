//! The core messages: version, attach, walk, getattr, clunk, lopen, read, readdir.

mod common;

use common::*;

#[test]
fn version_attach_walk_read() {
    let h = Harness::new();
    std::fs::create_dir(h.path("d")).unwrap();
    std::fs::write(h.path("d/f"), b"hello world").unwrap();
    let mut c = h.client();
    let q = c.walk(ROOT, 1, &[b"d", b"f"]).unwrap();
    assert_eq!(q.len(), 2);
    assert_eq!(q[0].ty, QTDIR);
    assert_eq!(q[1].ty, QTFILE);
    let a = c.getattr(1).unwrap();
    assert_eq!(a.size, 11);
    assert_eq!(a.qid, q[1]);
    c.lopen(1, P9_DOTL_RDONLY).unwrap();
    assert_eq!(c.read(1, 6, 100).unwrap(), b"world");
    assert_eq!(c.read_all(1).unwrap(), b"hello world");
    c.clunk(1).unwrap();
    assert_eq!(errno(c.clunk(1)), Errno::BADF);
}

#[test]
fn readdir_lists() {
    let h = Harness::new();
    for n in ["a", "b", "c"] {
        std::fs::write(h.path(n), n).unwrap();
    }
    let mut c = h.client();
    c.walk(ROOT, 1, &[]).unwrap();
    c.lopen(1, P9_DOTL_RDONLY | P9_DOTL_DIRECTORY).unwrap();
    let mut names: Vec<_> = c
        .readdir_all(1, 8192)
        .unwrap()
        .into_iter()
        .map(|e| String::from_utf8(e.name).unwrap())
        .collect();
    names.sort();
    assert_eq!(names, [".", "..", "a", "b", "c"]);
}
