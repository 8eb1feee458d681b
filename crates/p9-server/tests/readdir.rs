//! Treaddir over thousands of entries: every entry exactly once, and offsets that stay
//! valid across calls, fids and restarts.

mod common;

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;

use common::*;

const N: usize = 3000;

fn name(i: usize) -> String {
    // Names of varying length, so entries straddle reply boundaries differently.
    format!("entry-{i:05}-{}", "x".repeat(i % 37))
}

fn populate(h: &Harness) {
    std::fs::create_dir(h.path("big")).unwrap();
    for i in 0..N {
        std::fs::write(h.path(&format!("big/{}", name(i))), b"").unwrap();
    }
}

#[test]
fn thousands_of_entries_small_replies() {
    let h = Harness::new();
    populate(&h);
    let mut c = h.client();
    c.walk(ROOT, 1, &[b"big"]).unwrap();
    c.lopen(1, P9_DOTL_RDONLY | P9_DOTL_DIRECTORY).unwrap();
    let all = c.readdir_all(1, 700).unwrap();
    assert_eq!(all.len(), N + 2);
    let names: HashSet<Vec<u8>> = all.iter().map(|e| e.name.clone()).collect();
    assert_eq!(names.len(), N + 2, "no duplicates");
    for i in 0..N {
        assert!(names.contains(name(i).as_bytes()));
    }
    assert!(names.contains(&b"."[..]) && names.contains(&b".."[..]));
    // Types and qids.
    for e in all
        .iter()
        .filter(|e| e.name.starts_with(b"entry-"))
        .take(20)
    {
        let path = h.path(&format!("big/{}", String::from_utf8_lossy(&e.name)));
        assert_eq!(e.ty, DT_REG);
        assert_eq!(e.qid.path, std::fs::metadata(path).unwrap().ino());
    }
    let dot = all.iter().find(|e| e.name == b".").unwrap();
    assert_eq!(dot.ty, DT_DIR);
    assert_eq!(dot.qid.ty, QTDIR);

    // Any offset handed out resumes right after its entry, now and later, on this fid
    // and on another.
    c.walk(ROOT, 2, &[b"big"]).unwrap();
    c.lopen(2, P9_DOTL_RDONLY).unwrap();
    for k in [0, 1, 2, 777, N / 2, N, N + 1] {
        let offset = all[k].offset;
        let rest = c.readdir(1, offset, 8192).unwrap();
        let again = c.readdir(2, offset, 8192).unwrap();
        assert_eq!(rest, again, "offset of entry {k}");
        if k + 1 < all.len() {
            assert_eq!(rest[0], all[k + 1], "after entry {k}");
        } else {
            assert!(rest.is_empty(), "past the end");
        }
    }
    // Offset 0 starts over.
    assert_eq!(c.readdir(1, 0, 8192).unwrap()[0], all[0]);
    // Interleaved readers on one directory.
    let (mut o1, mut o2) = (0, 0);
    let (mut n1, mut n2) = (0, 0);
    loop {
        let b1 = c.readdir(1, o1, 500).unwrap();
        let b2 = c.readdir(2, o2, 900).unwrap();
        if b1.is_empty() && b2.is_empty() {
            break;
        }
        if let Some(e) = b1.last() {
            o1 = e.offset;
        }
        if let Some(e) = b2.last() {
            o2 = e.offset;
        }
        n1 += b1.len();
        n2 += b2.len();
    }
    assert_eq!((n1, n2), (N + 2, N + 2));
}

#[test]
fn counts_are_clamped_to_msize() {
    let h = Harness::new();
    populate(&h);
    let mut c = h.client_versioned(8192);
    c.attach(ROOT, 0).unwrap();
    c.walk(ROOT, 1, &[b"big"]).unwrap();
    c.lopen(1, P9_DOTL_RDONLY).unwrap();
    let r = c
        .rpc(&Tmessage::Readdir(Treaddir {
            fid: 1,
            offset: 0,
            count: u32::MAX,
        }))
        .unwrap();
    assert!(r.bytes().len() <= 8192);
    assert!(r.bytes().len() > 8192 - 300, "filled up to msize");
    // A reply too small for any entry is empty.
    assert!(c.readdir(1, 0, 10).unwrap().is_empty());
}

#[test]
fn readdir_needs_an_open_directory() {
    let h = Harness::new();
    std::fs::write(h.path("f"), b"").unwrap();
    let mut c = h.client();
    assert_eq!(errno(c.readdir(ROOT, 0, 8192)), Errno::BADF);
    c.walk(ROOT, 1, &[b"f"]).unwrap();
    c.lopen(1, P9_DOTL_RDONLY).unwrap();
    assert_eq!(errno(c.readdir(1, 0, 8192)), Errno::NOTDIR);
    c.walk(ROOT, 2, &[]).unwrap();
    c.lopen(2, P9_DOTL_RDONLY).unwrap();
    assert_eq!(errno(c.read(2, 0, 10)), Errno::ISDIR);
    assert_eq!(errno(c.readdir(2, u64::MAX, 8192)), Errno::INVAL);
}
