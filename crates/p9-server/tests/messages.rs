//! Every 9P2000.L message against a real tree, with checked results, on both backends.

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use common::*;
use p9_client::Client;

const RW_CREATE: u32 = P9_DOTL_RDWR;

/// Creates `name` in the directory fid `dir` through a clone `fid`, writes `data`,
/// and leaves `fid` open on it.
fn create_file(
    c: &mut Client<std::os::unix::net::UnixStream>,
    dir: u32,
    fid: u32,
    name: &str,
    data: &[u8],
) {
    c.walk(dir, fid, &[]).unwrap();
    c.lcreate(fid, name.as_bytes(), RW_CREATE, 0o644, 0)
        .unwrap();
    if !data.is_empty() {
        assert_eq!(c.write(fid, 0, data).unwrap() as usize, data.len());
    }
}

fn version_negotiation(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    let (s, _) = h.connect_raw();
    let mut c = Client::new(s);
    // Requests before a version are refused, the connection stays.
    assert_eq!(errno(c.attach(ROOT, 0)), Errno::PROTO);
    assert_eq!(c.version_of(8192, b"9P2000.u").unwrap().1, b"unknown");
    assert_eq!(c.version_of(8192, b"9P2000").unwrap().1, b"unknown");
    assert_eq!(errno(c.attach(ROOT, 0)), Errno::PROTO);
    assert_eq!(c.version(8192).unwrap(), (8192, b"9P2000.L".to_vec()));
    c.attach(ROOT, 0).unwrap();
    // A new Tversion forgets every fid.
    c.version(8192).unwrap();
    assert_eq!(errno(c.getattr(ROOT)), Errno::BADF);
    c.attach(ROOT, 0).unwrap();
}

fn auth_and_attach(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    let mut c = h.client_versioned(8192);
    let t = Tauth {
        afid: 9,
        uname: b"root",
        aname: b"",
        n_uname: 0,
    };
    let r = c.call(&Tmessage::Auth(t), |_| Some(()));
    assert_eq!(
        errno(r),
        Errno::NOENT,
        "no auth required (diod's convention)"
    );
    let export = h.export();
    let q = c
        .attach_to(1, 0, export.as_os_str().as_encoded_bytes())
        .unwrap();
    assert_eq!(q.ty, QTDIR);
    assert_eq!(q.path, std::fs::metadata(&export).unwrap().ino());
    assert_eq!(errno(c.attach_to(2, 0, b"/etc")), Errno::NOENT);
    assert_eq!(errno(c.attach(1, 0)), Errno::EXIST);
    assert_eq!(c.attach(2, 0).unwrap(), q);
}

fn walks_full_partial_and_clone(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    std::fs::create_dir_all(h.path("a/b/c")).unwrap();
    std::fs::write(h.path("a/b/c/f"), b"x").unwrap();
    let mut c = h.client();
    let q = c.walk(ROOT, 1, &[b"a", b"b", b"c", b"f"]).unwrap();
    assert_eq!(q.len(), 4);
    assert_eq!(
        q[3].path,
        std::fs::metadata(h.path("a/b/c/f")).unwrap().ino()
    );
    // Partial: the qids reached; newfid is not made.
    let q = c.walk(ROOT, 2, &[b"a", b"b", b"nope", b"f"]).unwrap();
    assert_eq!(q.len(), 2);
    assert_eq!(errno(c.getattr(2)), Errno::BADF);
    // The first element failing is an error.
    assert_eq!(errno(c.walk(ROOT, 2, &[b"nope", b"a"])), Errno::NOENT);
    // Through a file.
    let q = c.walk(ROOT, 2, &[b"a", b"b", b"c", b"f", b"x"]).unwrap();
    assert_eq!(q.len(), 4);
    // Clone, and a walk in place (newfid == fid).
    assert!(c.walk(1, 3, &[]).unwrap().is_empty());
    assert_eq!(c.getattr(3).unwrap().size, 1);
    c.walk(ROOT, 4, &[b"a"]).unwrap();
    c.walk(4, 4, &[b"b", b"c"]).unwrap();
    assert_eq!(
        c.getattr(4).unwrap().qid.path,
        std::fs::metadata(h.path("a/b/c")).unwrap().ino()
    );
    // A failed in-place walk leaves the fid as it was.
    c.walk(4, 4, &[b"nope"]).unwrap_err();
    assert_eq!(
        c.getattr(4).unwrap().qid.path,
        std::fs::metadata(h.path("a/b/c")).unwrap().ino()
    );
    // 16 names at most.
    std::fs::create_dir_all(h.path("d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d")).unwrap();
    let sixteen = [&b"d"[..]; 16];
    assert_eq!(c.walk(ROOT, 5, &sixteen).unwrap().len(), 16);
}

fn dotdot_walks_by_path(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    std::fs::create_dir_all(h.path("a/b")).unwrap();
    let root_ino = std::fs::metadata(h.export()).unwrap().ino();
    let a_ino = std::fs::metadata(h.path("a")).unwrap().ino();
    let mut c = h.client();
    let q = c
        .walk(ROOT, 1, &[b"a", b"b", b"..", b"..", b"..", b"..", b"a"])
        .unwrap();
    let paths: Vec<u64> = q.iter().map(|q| q.path).collect();
    assert_eq!(paths[2], a_ino);
    assert_eq!(paths[3..6], [root_ino, root_ino, root_ino]);
    assert_eq!(paths[6], a_ino);
    assert_eq!(c.walk(ROOT, 2, &[b".."]).unwrap()[0].path, root_ino);
}

fn getattr_matches_the_host(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    std::fs::write(h.path("f"), vec![7u8; 5000]).unwrap();
    std::fs::set_permissions(h.path("f"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let m = std::fs::symlink_metadata(h.path("f")).unwrap();
    let mut c = h.client();
    c.walk(ROOT, 1, &[b"f"]).unwrap();
    let a = c.getattr(1).unwrap();
    assert_eq!(a.valid & P9_GETATTR_BASIC, P9_GETATTR_BASIC);
    assert_eq!(a.mode, m.mode());
    assert_eq!((a.uid, a.gid), (m.uid(), m.gid()));
    assert_eq!(a.nlink, m.nlink());
    assert_eq!(a.size, 5000);
    assert_eq!(a.blocks, m.blocks());
    assert_eq!(a.blksize, m.blksize());
    assert_eq!(
        (a.mtime_sec as i64, a.mtime_nsec as i64),
        (m.mtime(), m.mtime_nsec())
    );
    assert_eq!(
        (a.atime_sec as i64, a.atime_nsec as i64),
        (m.atime(), m.atime_nsec())
    );
    assert_eq!(
        (a.ctime_sec as i64, a.ctime_nsec as i64),
        (m.ctime(), m.ctime_nsec())
    );
    assert_eq!(a.qid.path, m.ino());
    assert_eq!(a.qid.ty, QTFILE);
}

fn lcreate_write_read(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    let mut c = h.client();
    create_file(&mut c, ROOT, 1, "new", b"0123456789");
    assert_eq!(c.read(1, 2, 3).unwrap(), b"234");
    assert_eq!(c.write(1, 20, b"end").unwrap(), 3);
    let host = std::fs::read(h.path("new")).unwrap();
    assert_eq!(host.len(), 23);
    assert_eq!(&host[20..], b"end");
    let m = std::fs::metadata(h.path("new")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o644);
    assert_eq!(c.getattr(1).unwrap().qid.path, m.ino());
    c.clunk(1).unwrap();
    // O_EXCL on an existing name; without it, the existing file is opened.
    c.walk(ROOT, 2, &[]).unwrap();
    assert_eq!(
        errno(c.lcreate(2, b"new", P9_DOTL_RDWR | P9_DOTL_EXCL, 0o600, 0)),
        Errno::EXIST
    );
    c.lcreate(2, b"new", P9_DOTL_RDONLY, 0o600, 0).unwrap();
    assert_eq!(c.read(2, 0, 4).unwrap(), b"0123");
    // Read-only fid: writes fail.
    assert_eq!(errno(c.write(2, 0, b"x")), Errno::BADF);
    // Opening twice is refused; reading a fid never opened too.
    assert_eq!(errno(c.lopen(2, P9_DOTL_RDONLY)), Errno::BADF);
    c.walk(ROOT, 3, &[b"new"]).unwrap();
    assert_eq!(errno(c.read(3, 0, 1)), Errno::BADF);
    // O_TRUNC through lopen.
    c.lopen(3, P9_DOTL_WRONLY | P9_DOTL_TRUNC).unwrap();
    assert_eq!(std::fs::metadata(h.path("new")).unwrap().len(), 0);
    // Bad names.
    c.walk(ROOT, 4, &[]).unwrap();
    for bad in hostile_names(h.outside()) {
        assert_eq!(
            errno(c.lcreate(4, &bad, P9_DOTL_RDWR, 0o644, 0)),
            Errno::INVAL,
            "{bad:?}"
        );
    }
}

fn append_mode(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    std::fs::write(h.path("log"), b"one\n").unwrap();
    let mut c = h.client();
    c.walk(ROOT, 1, &[b"log"]).unwrap();
    c.lopen(1, P9_DOTL_WRONLY | P9_DOTL_APPEND).unwrap();
    c.write(1, 0, b"two\n").unwrap();
    assert_eq!(std::fs::read(h.path("log")).unwrap(), b"one\ntwo\n");
}

fn remove_and_unlinkat(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    std::fs::create_dir_all(h.path("d/full")).unwrap();
    std::fs::write(h.path("d/full/x"), b"").unwrap();
    std::fs::write(h.path("d/f"), b"").unwrap();
    std::fs::create_dir(h.path("d/empty")).unwrap();
    let mut c = h.client();
    c.walk(ROOT, 1, &[b"d", b"f"]).unwrap();
    c.remove(1).unwrap();
    assert!(!h.path("d/f").exists());
    assert_eq!(errno(c.getattr(1)), Errno::BADF, "remove clunks");
    c.walk(ROOT, 1, &[b"d", b"full"]).unwrap();
    assert_eq!(errno(c.remove(1)), Errno::NOTEMPTY);
    assert_eq!(errno(c.getattr(1)), Errno::BADF, "clunked even on failure");
    c.walk(ROOT, 1, &[b"d", b"empty"]).unwrap();
    c.remove(1).unwrap();
    assert!(!h.path("d/empty").exists());
    assert_eq!(errno(c.remove(ROOT)), Errno::BUSY);
    c.attach(ROOT, 0).unwrap();

    c.walk(ROOT, 2, &[b"d"]).unwrap();
    assert_eq!(errno(c.unlinkat(2, b"full", 0)), Errno::ISDIR);
    assert_eq!(
        errno(c.unlinkat(2, b"full", P9_DOTL_AT_REMOVEDIR)),
        Errno::NOTEMPTY
    );
    c.walk(2, 3, &[b"full"]).unwrap();
    c.unlinkat(3, b"x", 0).unwrap();
    c.unlinkat(2, b"full", P9_DOTL_AT_REMOVEDIR).unwrap();
    assert!(!h.path("d/full").exists());
    assert_eq!(errno(c.unlinkat(2, b"nope", 0)), Errno::NOENT);
    assert_eq!(errno(c.unlinkat(2, b"x", 0x4)), Errno::INVAL);
    assert_eq!(
        errno(c.unlinkat(2, b"..", P9_DOTL_AT_REMOVEDIR)),
        Errno::INVAL
    );
}

/// One Tsetattr ends with exactly the attributes it names, whatever it also changes on the
/// way: owner, then mode (a chown clears setuid/setgid, the mode sets them again), then
/// size, then times (a truncate sets mtime to now, the given mtime then wins). QEMU's order
/// (mode, times, owner, size) ends with neither.
fn setattr_ends_with_what_it_names(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    let mut c = h.client();
    let none = Setattr::of(1);
    // Owner and setuid/setgid mode together.
    std::fs::write(h.path("s"), b"x").unwrap();
    c.walk(ROOT, 1, &[b"s"]).unwrap();
    c.setattr(none.uid(1000).gid(1000).mode(0o106755)).unwrap();
    let m = std::fs::metadata(h.path("s")).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (1000, 1000, 0o6755));
    // Size and explicit times, by path (a walked fid) and through an open fid.
    for (fid, name, open) in [(2, "p", false), (3, "o", true)] {
        std::fs::write(h.path(name), b"0123456789").unwrap();
        c.walk(ROOT, fid, &[name.as_bytes()]).unwrap();
        if open {
            c.lopen(fid, P9_DOTL_RDWR).unwrap();
        }
        let t = none.fid(fid).size(3);
        c.setattr(t.atime(1_900_000_000, 1).mtime(1_000_000_000, 2))
            .unwrap();
        let m = std::fs::metadata(h.path(name)).unwrap();
        assert_eq!(
            (
                m.len(),
                m.atime(),
                m.atime_nsec(),
                m.mtime(),
                m.mtime_nsec()
            ),
            (3, 1_900_000_000, 1, 1_000_000_000, 2),
            "{name}: size, then the given times"
        );
    }
    // Everything at once.
    std::fs::write(h.path("a"), b"0123456789").unwrap();
    c.walk(ROOT, 4, &[b"a"]).unwrap();
    let t = none.fid(4).uid(2000).gid(2000).mode(0o102750).size(5);
    c.setattr(t.atime(1_500_000_000, 0).mtime(1_600_000_000, 0))
        .unwrap();
    let m = std::fs::metadata(h.path("a")).unwrap();
    assert_eq!(
        (
            m.uid(),
            m.gid(),
            m.mode() & 0o7777,
            m.len(),
            m.atime(),
            m.mtime()
        ),
        (2000, 2000, 0o2750, 5, 1_500_000_000, 1_600_000_000)
    );
}

fn setattr_mode_size_times(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    std::fs::write(h.path("f"), b"0123456789").unwrap();
    let mut c = h.client();
    c.walk(ROOT, 1, &[b"f"]).unwrap();
    let none = Setattr::of(1);
    c.setattr(none.mode(0o100600)).unwrap();
    assert_eq!(
        std::fs::metadata(h.path("f")).unwrap().mode() & 0o7777,
        0o600
    );
    // Truncate by path (a walked fid) ...
    c.setattr(none.size(4)).unwrap();
    assert_eq!(std::fs::read(h.path("f")).unwrap(), b"0123");
    // ... and through an open fid.
    c.walk(ROOT, 2, &[b"f"]).unwrap();
    c.lopen(2, P9_DOTL_RDWR).unwrap();
    c.setattr(none.fid(2).size(2)).unwrap();
    assert_eq!(std::fs::read(h.path("f")).unwrap(), b"01");
    // Times: given values.
    let set = none.atime(1000, 5).mtime(2000, 7);
    c.setattr(set).unwrap();
    let m = std::fs::metadata(h.path("f")).unwrap();
    assert_eq!(
        (m.atime(), m.atime_nsec(), m.mtime(), m.mtime_nsec()),
        (1000, 5, 2000, 7)
    );
    // Only mtime, to now: atime untouched.
    c.setattr(none.mtime_now()).unwrap();
    let m = std::fs::metadata(h.path("f")).unwrap();
    assert_eq!((m.atime(), m.atime_nsec()), (1000, 5));
    assert!(m.mtime() > 1_000_000_000, "mtime set to now");
    // ctime alone changes nothing and succeeds.
    c.setattr(none.ctime()).unwrap();
    // A directory cannot be truncated.
    assert_eq!(errno(c.setattr(none.fid(ROOT).size(0))), Errno::ISDIR);
    // Times of a symlink itself.
    std::os::unix::fs::symlink("f", h.path("l")).unwrap();
    c.walk(ROOT, 3, &[b"l"]).unwrap();
    c.setattr(set.fid(3)).unwrap();
    let m = std::fs::symlink_metadata(h.path("l")).unwrap();
    assert_eq!((m.mtime(), m.mtime_nsec()), (2000, 7));
}

fn setattr_owner(kind: Kind) {
    require_root!();
    let h = Harness::over(kind, Default::default());
    std::fs::write(h.path("f"), b"").unwrap();
    std::os::unix::fs::symlink("f", h.path("l")).unwrap();
    let mut c = h.client();
    c.walk(ROOT, 1, &[b"f"]).unwrap();
    let t = Setattr::of(1).uid(1234).gid(5678);
    c.setattr(t).unwrap();
    let m = std::fs::metadata(h.path("f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1234, 5678));
    c.setattr(Setattr::of(1).gid(42)).unwrap();
    let m = std::fs::metadata(h.path("f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1234, 42));
    // A symlink's own owner (lchown).
    c.walk(ROOT, 2, &[b"l"]).unwrap();
    c.setattr(t.fid(2)).unwrap();
    let m = std::fs::symlink_metadata(h.path("l")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1234, 5678));
    assert_eq!(std::fs::metadata(h.path("f")).unwrap().gid(), 42);
}

fn creations_belong_to_the_client(kind: Kind) {
    require_root!();
    let h = Harness::over(kind, Default::default());
    let mut c = h.client_as(1000);
    c.walk(ROOT, 1, &[]).unwrap();
    c.lcreate(1, b"file", P9_DOTL_RDWR, 0o640, 1001).unwrap();
    c.mkdir(ROOT, b"dir", 0o750, 1002).unwrap();
    c.symlink(ROOT, b"sym", b"file", 1003).unwrap();
    c.mknod(ROOT, b"fifo", libc::S_IFIFO | 0o600, 0, 0, 1004)
        .unwrap();
    for (name, gid, mode) in [
        ("file", 1001, 0o640),
        ("dir", 1002, 0o750),
        ("fifo", 1004, 0o600),
    ] {
        let m = std::fs::symlink_metadata(h.path(name)).unwrap();
        assert_eq!(
            (m.uid(), m.gid(), m.mode() & 0o7777),
            (1000, gid, mode),
            "{name}"
        );
    }
    let m = std::fs::symlink_metadata(h.path("sym")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1000, 1003));
    // The server's own identity is back after each creation.
    assert!(rustix::process::geteuid().is_root());
}

fn statfs_matches_the_host(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    let mut c = h.client();
    let s = c.statfs(ROOT).unwrap();
    let host = rustix::fs::statvfs(h.export()).unwrap();
    assert_eq!(s.bsize as u64, host.f_bsize);
    assert_eq!(s.blocks, host.f_blocks);
    assert_eq!(s.files, host.f_files);
    assert_eq!(s.fsid, host.f_fsid);
    assert_eq!(s.namelen as u64, host.f_namemax);
    assert_ne!(s.ty, 0);
}

fn fsync_open_fids(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    let mut c = h.client();
    create_file(&mut c, ROOT, 1, "f", b"data");
    c.fsync(1, 0).unwrap();
    c.fsync(1, 1).unwrap();
    c.walk(ROOT, 2, &[]).unwrap();
    c.lopen(2, P9_DOTL_RDONLY).unwrap();
    c.fsync(2, 0).unwrap();
    c.walk(ROOT, 3, &[b"f"]).unwrap();
    assert_eq!(errno(c.fsync(3, 0)), Errno::BADF);
}

fn mkdir_symlink_readlink_link(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    let mut c = h.client();
    let q = c.mkdir(ROOT, b"d", 0o711, 0).unwrap();
    assert_eq!(q.ty, QTDIR);
    let m = std::fs::metadata(h.path("d")).unwrap();
    assert!(m.is_dir());
    assert_eq!((m.mode() & 0o7777, m.ino()), (0o711, q.path));
    assert_eq!(errno(c.mkdir(ROOT, b"d", 0o755, 0)), Errno::EXIST);
    assert_eq!(errno(c.mkdir(ROOT, b"..", 0o755, 0)), Errno::INVAL);

    let q = c.symlink(ROOT, b"s", b"some/where/../else", 0).unwrap();
    assert_eq!(q.ty, QTSYMLINK);
    assert_eq!(
        std::fs::read_link(h.path("s")).unwrap().as_os_str(),
        "some/where/../else"
    );
    c.walk(ROOT, 1, &[b"s"]).unwrap();
    assert_eq!(c.readlink(1).unwrap(), b"some/where/../else");
    assert_eq!(errno(c.readlink(ROOT)), Errno::INVAL);
    assert_eq!(errno(c.symlink(ROOT, b"s2", b"", 0)), Errno::NOENT);

    std::fs::write(h.path("f"), b"x").unwrap();
    c.walk(ROOT, 2, &[b"f"]).unwrap();
    c.walk(ROOT, 3, &[b"d"]).unwrap();
    c.link(3, 2, b"hard").unwrap();
    let a = std::fs::metadata(h.path("f")).unwrap();
    let b = std::fs::metadata(h.path("d/hard")).unwrap();
    assert_eq!((a.ino(), a.nlink()), (b.ino(), 2));
    assert_eq!(c.getattr(2).unwrap().nlink, 2);
    // A link to the symlink itself.
    c.link(3, 1, b"slink").unwrap();
    assert_eq!(
        std::fs::read_link(h.path("d/slink")).unwrap().as_os_str(),
        "some/where/../else"
    );
    assert_eq!(errno(c.link(3, 2, b"hard")), Errno::EXIST);
}

fn mknod_fifo_and_socket(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    let mut c = h.client();
    let q = c
        .mknod(ROOT, b"fifo", libc::S_IFIFO | 0o644, 0, 0, 0)
        .unwrap();
    assert_eq!(q.ty, QTFILE);
    assert!(std::fs::symlink_metadata(h.path("fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    c.mknod(ROOT, b"sock", libc::S_IFSOCK | 0o644, 0, 0, 0)
        .unwrap();
    assert!(std::fs::symlink_metadata(h.path("sock"))
        .unwrap()
        .file_type()
        .is_socket());
    c.mknod(ROOT, b"reg", 0o600, 0, 0, 0).unwrap();
    assert!(std::fs::symlink_metadata(h.path("reg")).unwrap().is_file());
    assert_eq!(
        errno(c.mknod(ROOT, b"dir", libc::S_IFDIR | 0o755, 0, 0, 0)),
        Errno::INVAL
    );
    // Listed and stat'ed, never opened.
    c.walk(ROOT, 1, &[b"fifo"]).unwrap();
    assert_eq!(c.getattr(1).unwrap().mode & libc::S_IFMT, libc::S_IFIFO);
    assert_eq!(errno(c.lopen(1, P9_DOTL_RDONLY)), Errno::NXIO);
    assert_eq!(errno(c.lopen(1, P9_DOTL_WRONLY)), Errno::NXIO);
}

fn mknod_devices(kind: Kind) {
    require_root!();
    let h = Harness::over(kind, Default::default());
    let mut c = h.client();
    c.mknod(ROOT, b"null", libc::S_IFCHR | 0o666, 1, 3, 0)
        .unwrap();
    c.mknod(ROOT, b"blk", libc::S_IFBLK | 0o600, 7, 0, 0)
        .unwrap();
    let m = std::fs::symlink_metadata(h.path("null")).unwrap();
    assert!(m.file_type().is_char_device());
    assert_eq!(m.rdev(), libc::makedev(1, 3));
    c.walk(ROOT, 1, &[b"null"]).unwrap();
    assert_eq!(c.getattr(1).unwrap().rdev, libc::makedev(1, 3));
    assert_eq!(errno(c.lopen(1, P9_DOTL_RDWR)), Errno::NXIO);
}

fn rename_moves_fids(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    std::fs::create_dir_all(h.path("a/sub")).unwrap();
    std::fs::write(h.path("a/sub/f"), b"x").unwrap();
    std::fs::create_dir(h.path("b")).unwrap();
    let mut c = h.client();
    c.walk(ROOT, 1, &[b"a"]).unwrap();
    c.walk(ROOT, 2, &[b"a", b"sub", b"f"]).unwrap();
    c.walk(ROOT, 3, &[b"b"]).unwrap();
    c.walk(ROOT, 7, &[b"a", b"sub"]).unwrap();
    c.rename(1, 3, b"moved").unwrap();
    assert!(h.path("b/moved/sub/f").exists());
    assert!(!h.path("a").exists());
    // The fids follow: the file's fid removes the file at its new place, and a walk
    // of `..` from the subdirectory lands in the moved directory.
    c.walk(7, 4, &[b".."]).unwrap();
    assert_eq!(
        c.getattr(4).unwrap().qid.path,
        std::fs::metadata(h.path("b/moved")).unwrap().ino()
    );
    assert_eq!(errno(c.walk(2, 8, &[b".."])), Errno::NOTDIR);
    c.remove(2).unwrap();
    assert!(!h.path("b/moved/sub/f").exists());
    // renameat, and its fids.
    c.walk(3, 5, &[b"moved", b"sub"]).unwrap();
    c.renameat(3, b"moved", ROOT, b"top").unwrap();
    assert!(h.path("top/sub").is_dir());
    c.walk(5, 6, &[b"..", b".."]).unwrap();
    assert_eq!(
        c.getattr(6).unwrap().qid.path,
        std::fs::metadata(h.export()).unwrap().ino()
    );
    c.remove(5).unwrap();
    assert!(!h.path("top/sub").exists());
    assert_eq!(errno(c.renameat(ROOT, b"nope", ROOT, b"x")), Errno::NOENT);
    assert_eq!(errno(c.renameat(ROOT, b"top", ROOT, b"..")), Errno::INVAL);
    assert_eq!(errno(c.rename(ROOT, 3, b"root")), Errno::BUSY);
}

fn open_unlink_fstat(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    let mut c = h.client();
    create_file(&mut c, ROOT, 1, "f", b"still here");
    c.walk(ROOT, 2, &[b"f"]).unwrap();
    c.unlinkat(ROOT, b"f", 0).unwrap();
    assert!(!h.path("f").exists());
    for fid in [1, 2] {
        let a = c.getattr(fid).unwrap();
        assert_eq!((a.nlink, a.size), (0, 10));
    }
    assert_eq!(c.read(1, 0, 100).unwrap(), b"still here");
    c.write(1, 10, b"!").unwrap();
    assert_eq!(c.getattr(2).unwrap().size, 11);
    // ftruncate of the open, unlinked file.
    c.setattr(Setattr::of(1).size(5)).unwrap();
    assert_eq!(c.getattr(1).unwrap().size, 5);
}

/// Whether the file system under `p` takes user xattrs (tmpfs before Linux 6.6 does not).
fn user_xattrs(p: &std::path::Path) -> bool {
    match rustix::fs::setxattr(p, "user.probe", b"1", rustix::fs::XattrFlags::empty()) {
        Ok(()) => {
            let _ = rustix::fs::removexattr(p, "user.probe");
            true
        }
        Err(_) => false,
    }
}

fn xattrs(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    std::fs::write(h.path("f"), b"").unwrap();
    if !user_xattrs(&h.path("f")) {
        eprintln!("SKIPPED: no user xattrs on this file system");
        return;
    }
    let mut c = h.client();
    c.walk(ROOT, 1, &[b"f"]).unwrap();
    // Set: create, write in two pieces, clunk.
    c.walk(1, 2, &[]).unwrap();
    c.xattrcreate(2, b"user.greeting", 11, 0).unwrap();
    assert_eq!(c.write(2, 0, b"hello").unwrap(), 5);
    assert_eq!(c.write(2, 5, b" world").unwrap(), 6);
    c.clunk(2).unwrap();
    let mut buf = [0u8; 64];
    let n = rustix::fs::getxattr(h.path("f"), "user.greeting", &mut buf[..]).unwrap();
    assert_eq!(&buf[..n], b"hello world");
    // Get.
    assert_eq!(c.xattrwalk(1, 3, b"user.greeting").unwrap(), 11);
    assert_eq!(c.read(3, 0, 100).unwrap(), b"hello world");
    assert_eq!(c.read(3, 6, 3).unwrap(), b"wor");
    c.clunk(3).unwrap();
    // List.
    let n = c.xattrwalk(1, 3, b"").unwrap();
    let list = c.read(3, 0, 4096).unwrap();
    assert_eq!(list.len() as u64, n);
    assert!(list.split(|&b| b == 0).any(|n| n == b"user.greeting"));
    c.clunk(3).unwrap();
    // XATTR_CREATE on an existing one.
    c.walk(1, 4, &[]).unwrap();
    c.xattrcreate(4, b"user.greeting", 1, 1).unwrap();
    c.write(4, 0, b"x").unwrap();
    assert_eq!(errno(c.clunk(4)), Errno::EXIST);
    // A value not written whole is not set.
    c.walk(1, 4, &[]).unwrap();
    c.xattrcreate(4, b"user.partial", 10, 0).unwrap();
    c.write(4, 0, b"abc").unwrap();
    assert_eq!(errno(c.clunk(4)), Errno::INVAL);
    assert_eq!(errno(c.xattrwalk(1, 5, b"user.partial")), Errno::NODATA);
    // Too large.
    c.walk(1, 4, &[]).unwrap();
    assert_eq!(
        errno(c.xattrcreate(4, b"user.big", 65537, 0)),
        Errno::TOOBIG
    );
    // Size 0 removes.
    c.xattrcreate(4, b"user.greeting", 0, 0).unwrap();
    c.clunk(4).unwrap();
    assert_eq!(errno(c.xattrwalk(1, 5, b"user.greeting")), Errno::NODATA);
    // An open fid cannot become an xattr fid; an xattr fid cannot be read as a file.
    create_file(&mut c, ROOT, 6, "g", b"");
    assert_eq!(errno(c.xattrcreate(6, b"user.x", 1, 0)), Errno::BADF);
}

fn locks_conflict_between_fids_and_connections(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    std::fs::write(h.path("f"), b"0123456789").unwrap();
    let mut a = h.client();
    let mut b = h.client();
    for fid in [1, 2] {
        a.walk(ROOT, fid, &[b"f"]).unwrap();
        a.lopen(fid, P9_DOTL_RDWR).unwrap();
    }
    b.walk(ROOT, 1, &[b"f"]).unwrap();
    b.lopen(1, P9_DOTL_RDWR).unwrap();
    assert_eq!(
        a.lock(1, P9_LOCK_TYPE_WRLCK, 0, 5, 100).unwrap(),
        P9_LOCK_SUCCESS
    );
    // Another fid of the same connection, and another connection: blocked, never hung.
    assert_eq!(
        a.lock(2, P9_LOCK_TYPE_WRLCK, 0, 1, 100).unwrap(),
        P9_LOCK_BLOCKED
    );
    assert_eq!(
        b.lock(1, P9_LOCK_TYPE_RDLCK, 4, 10, 200).unwrap(),
        P9_LOCK_BLOCKED
    );
    assert_eq!(
        b.lock(1, P9_LOCK_TYPE_WRLCK, 5, 0, 200).unwrap(),
        P9_LOCK_SUCCESS
    );
    let g = b.getlock(1, P9_LOCK_TYPE_WRLCK, 0, 0, 200).unwrap();
    assert_eq!((g.ty, g.start, g.length), (P9_LOCK_TYPE_WRLCK, 0, 5));
    let g = a.getlock(1, P9_LOCK_TYPE_RDLCK, 0, 5, 100).unwrap();
    assert_eq!(g.ty, P9_LOCK_TYPE_UNLCK, "own locks do not conflict");
    // Unlock, and clunk releases.
    assert_eq!(
        a.lock(1, P9_LOCK_TYPE_UNLCK, 0, 0, 100).unwrap(),
        P9_LOCK_SUCCESS
    );
    assert_eq!(
        a.lock(2, P9_LOCK_TYPE_WRLCK, 0, 5, 100).unwrap(),
        P9_LOCK_SUCCESS
    );
    b.clunk(1).unwrap();
    assert_eq!(
        a.lock(1, P9_LOCK_TYPE_WRLCK, 5, 0, 100).unwrap(),
        P9_LOCK_SUCCESS
    );
    // Not open: EBADF; a write lock on a read-only fid: EBADF.
    a.walk(ROOT, 3, &[b"f"]).unwrap();
    assert_eq!(errno(a.lock(3, P9_LOCK_TYPE_WRLCK, 0, 0, 1)), Errno::BADF);
    a.lopen(3, P9_DOTL_RDONLY).unwrap();
    assert_eq!(errno(a.lock(3, P9_LOCK_TYPE_WRLCK, 20, 1, 1)), Errno::BADF);
    assert_eq!(errno(a.lock(3, 9, 0, 0, 1)), Errno::INVAL);
}

fn flush_and_unknown_types(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    let mut c = h.client();
    c.flush(1234).unwrap();
    // Legacy 9P2000 Topen and a reply type sent as a request: EOPNOTSUPP, and the
    // connection goes on.
    for ty in [P9_TOPEN, P9_RVERSION, 0, 255] {
        let frame = [11, 0, 0, 0, ty, 9, 0, 0, 0, 0, 0];
        c.send_raw(&frame).unwrap();
        let r = c.recv().unwrap();
        assert_eq!(r.tag(), 9);
        let (_, m) = r.decode().unwrap();
        assert_eq!(m, Rmessage::lerror(libc::EOPNOTSUPP as u32), "type {ty}");
    }
    c.getattr(ROOT).unwrap();
}

/// Tlcreate over an existing symlink never follows it (`ELOOP`; `EEXIST` with
/// `O_EXCL`), and over an existing special file never opens it (`ENXIO`): with both
/// backends (the proxy backend's helper creates the name exclusively, without following,
/// and looks at what exists before opening it).
fn lcreate_over_a_symlink_or_special_file(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    std::fs::write(h.path("target"), b"keep").unwrap();
    std::os::unix::fs::symlink("target", h.path("link")).unwrap();
    make_fifo(&h.path("fifo"));
    let mut c = h.client();
    c.walk(ROOT, 1, &[]).unwrap();
    assert_eq!(
        errno(c.lcreate(1, b"link", P9_DOTL_RDWR | P9_DOTL_TRUNC, 0o644, 0)),
        Errno::LOOP
    );
    assert_eq!(
        errno(c.lcreate(1, b"link", P9_DOTL_RDWR | P9_DOTL_EXCL, 0o644, 0)),
        Errno::EXIST
    );
    assert_eq!(
        errno(c.lcreate(1, b"fifo", P9_DOTL_RDWR, 0o644, 0)),
        Errno::NXIO
    );
    assert_eq!(std::fs::read(h.path("target")).unwrap(), b"keep");
    // An existing regular file is opened (and truncated when asked).
    c.lcreate(1, b"target", P9_DOTL_RDWR | P9_DOTL_TRUNC, 0o644, 0)
        .unwrap();
    assert_eq!(std::fs::read(h.path("target")).unwrap(), b"");
}

/// A fid acts on its own file, whatever its path names now: client A holds `d/f`;
/// client B renames it to `d/moved` and creates a new `d/f`; A's truncate, chmod, utimes
/// and setxattr hit A's file, on both backends (both act on the fid's fd: the proxy
/// backend sends it to the helper with the request), and never change B's new file.
fn operations_on_a_renamed_fid_never_hit_the_new_file(kind: Kind) {
    let h = Harness::over(kind, Default::default());
    std::fs::create_dir(h.path("d")).unwrap();
    std::fs::write(h.path("d/f"), b"A's file").unwrap();
    let mut a = h.client();
    a.walk(ROOT, 1, &[b"d", b"f"]).unwrap();
    let mut b = h.client();
    b.walk(ROOT, 1, &[b"d"]).unwrap();
    b.renameat(1, b"f", 1, b"moved").unwrap();
    b.walk(1, 2, &[]).unwrap();
    b.lcreate(2, b"f", P9_DOTL_RDWR, 0o644, 0).unwrap();
    assert_eq!(b.write(2, 0, b"B's new file").unwrap(), 12);
    let none = Setattr::of(1);
    let truncated = a.setattr(none.size(1));
    let chmodded = a.setattr(none.mode(0o100600));
    let utimed = a.setattr(none.mtime(1_000_000, 7));
    a.walk(1, 3, &[]).unwrap();
    let xattr = a
        .xattrcreate(3, b"user.a", 1, 0)
        .and_then(|()| a.write(3, 0, b"a"))
        .and_then(|_| a.clunk(3));
    // B's file is untouched.
    assert_eq!(std::fs::read(h.path("d/f")).unwrap(), b"B's new file");
    assert_eq!(
        std::fs::metadata(h.path("d/f")).unwrap().mode() & 0o7777,
        0o644
    );
    let mut buf = [0u8; 8];
    assert_eq!(
        rustix::fs::getxattr(h.path("d/f"), "user.a", &mut buf[..]),
        Err(Errno::NODATA)
    );
    assert_ne!(std::fs::metadata(h.path("d/f")).unwrap().mtime(), 1_000_000);
    // A's file changed.
    let moved = h.path("d/moved");
    truncated.unwrap();
    chmodded.unwrap();
    utimed.unwrap();
    xattr.unwrap();
    assert_eq!(std::fs::read(&moved).unwrap(), b"A");
    let m = std::fs::metadata(&moved).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o600);
    assert_eq!((m.mtime(), m.mtime_nsec()), (1_000_000, 7));
    assert_eq!(rustix::fs::getxattr(&moved, "user.a", &mut buf[..]), Ok(1));
}

over_both_backends!(
    version_negotiation,
    auth_and_attach,
    walks_full_partial_and_clone,
    dotdot_walks_by_path,
    getattr_matches_the_host,
    lcreate_write_read,
    append_mode,
    remove_and_unlinkat,
    setattr_ends_with_what_it_names,
    setattr_mode_size_times,
    setattr_owner,
    creations_belong_to_the_client,
    statfs_matches_the_host,
    fsync_open_fids,
    mkdir_symlink_readlink_link,
    mknod_fifo_and_socket,
    mknod_devices,
    rename_moves_fids,
    open_unlink_fstat,
    xattrs,
    locks_conflict_between_fids_and_connections,
    flush_and_unknown_types,
    lcreate_over_a_symlink_or_special_file,
    operations_on_a_renamed_fid_never_hit_the_new_file,
);
