//! QEMU's security models (`mapped-xattr`, `mapped-file`, `none`) and the id maps, with
//! the server running unprivileged (its thread drops to uid/gid 65534 when the test runs
//! as root): what the client sees, the exact bytes kept on the host (QEMU's), and that
//! the metadata is out of the client's reach by any message (the CVE-2017-7493 class).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use p9_client::{Client, Setattr};
use p9_server::backend::idmap::{HostGid, HostUid};
use p9_server::backend::mapped::{META_DIR, META_ROOT_FILE};
use p9_server::{
    Backend, IdMapped, IdMapping, IdRange, LocalBackend, RangeMap, SecurityModel, Server,
    ServerConfig,
};
use p9_wire::*;
use rustix::io::Errno;

const NOBODY: u32 = 65534;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A server for a fresh export under `model` and `map`, on a thread that (as root)
/// drops to nobody first if `unprivileged`.
/// Lets every user create in `dir` (fids act as their own host ids).
fn open_to_all(dir: &std::path::Path) {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
}

fn serve(
    model: SecurityModel,
    map: IdMapping,
    unprivileged: bool,
) -> (Client<UnixStream>, PathBuf, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let export = tmp.path().join("export");
    std::fs::create_dir(&export).unwrap();
    let drop = unprivileged && is_root();
    if drop {
        std::os::unix::fs::chown(&export, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let local: Arc<dyn Backend> = Arc::new(LocalBackend::new(&export).unwrap());
    let backend = IdMapped::over(model.over(local), map);
    let server = Arc::new(Server::new(backend, ServerConfig::default()).unwrap());
    let (ours, theirs) = UnixStream::pair().unwrap();
    std::thread::spawn(move || {
        if drop {
            // This thread only: real, effective and saved ids, so no capability is left.
            rustix::thread::set_thread_res_gid(
                rustix::process::Gid::from_raw(NOBODY),
                rustix::process::Gid::from_raw(NOBODY),
                rustix::process::Gid::from_raw(NOBODY),
            )
            .unwrap();
            rustix::thread::set_thread_res_uid(
                rustix::process::Uid::from_raw(NOBODY),
                rustix::process::Uid::from_raw(NOBODY),
                rustix::process::Uid::from_raw(NOBODY),
            )
            .unwrap();
        }
        let _ = server.serve(&theirs, &theirs, 1 << 20);
    });
    let mut c = Client::new(ours);
    c.version(1 << 20).unwrap();
    (c, export, tmp)
}

fn errno<T: std::fmt::Debug>(r: p9_client::Result<T>) -> Errno {
    match r {
        Err(e) => e.errno().unwrap_or_else(|| panic!("not an Rlerror: {e}")),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    match rustix::fs::lgetxattr(path, name, &mut buf) {
        Ok(n) => Some(buf[..n].to_vec()),
        Err(Errno::NODATA) => None,
        Err(e) => panic!("getxattr {} {name}: {e}", path.display()),
    }
}

fn user_virtfs(path: &Path) -> Vec<String> {
    let mut buf = vec![0u8; 4096];
    let n = rustix::fs::llistxattr(path, &mut buf).unwrap();
    let mut v: Vec<String> = buf[..n]
        .split(|&c| c == 0)
        .filter(|n| n.starts_with(b"user.virtfs."))
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect();
    v.sort();
    v
}

/// The creations of the scenario: root (fid 0), uid 1000 (fid 10), uid 2000 (fid 20).
fn create_as_several_uids(c: &mut Client<UnixStream>) {
    c.attach(0, 0).unwrap();
    c.attach(10, 1000).unwrap();
    c.attach(20, 2000).unwrap();
    c.walk(10, 11, &[]).unwrap();
    c.lcreate(11, b"f1000", P9_DOTL_RDWR, 0o640, 1000).unwrap();
    c.write(11, 0, b"data").unwrap();
    c.mkdir(20, b"d2000", libc::S_IFDIR | 0o750, 2000).unwrap();
    c.mknod(0, b"chr", libc::S_IFCHR | 0o620, 4, 64, 5).unwrap();
    c.mknod(10, b"blk", libc::S_IFBLK | 0o660, 8, 1, 6).unwrap();
    c.mknod(20, b"fifo", libc::S_IFIFO | 0o644, 0, 0, 2000)
        .unwrap();
    c.symlink(10, b"sym", b"../some/target", 1000).unwrap();
    c.walk_path(20, 21, "d2000").unwrap();
    c.mkdir(21, b"sub", libc::S_IFDIR | 0o700, 2000).unwrap();
}

/// (uid, gid, mode, rdev) through getattr.
fn attrs(c: &mut Client<UnixStream>, path: &str) -> (u32, u32, u32, u64) {
    c.walk_path(0, 99, path).unwrap();
    let a = c.getattr(99).unwrap();
    c.clunk(99).unwrap();
    (a.uid, a.gid, a.mode, a.rdev)
}

fn check_client_view(c: &mut Client<UnixStream>) {
    assert_eq!(attrs(c, "f1000"), (1000, 1000, libc::S_IFREG | 0o640, 0));
    assert_eq!(attrs(c, "d2000"), (2000, 2000, libc::S_IFDIR | 0o750, 0));
    assert_eq!(
        attrs(c, "chr"),
        (0, 5, libc::S_IFCHR | 0o620, rustix::fs::makedev(4, 64))
    );
    assert_eq!(
        attrs(c, "blk"),
        (1000, 6, libc::S_IFBLK | 0o660, rustix::fs::makedev(8, 1))
    );
    assert_eq!(attrs(c, "fifo"), (2000, 2000, libc::S_IFIFO | 0o644, 0));
    assert_eq!(attrs(c, "sym"), (1000, 1000, libc::S_IFLNK | 0o777, 0));
    c.walk_path(0, 98, "sym").unwrap();
    assert_eq!(c.readlink(98).unwrap(), b"../some/target");
    c.clunk(98).unwrap();
    // Walk qids carry the client's type.
    let q = c.walk(0, 97, &[b"sym"]).unwrap();
    assert_eq!(q[0].ty, QTSYMLINK);
    c.clunk(97).unwrap();
}

/// Host side common to both mapped models: plain files and directories with QEMU's
/// modes, owned by the server's user.
fn check_host_files(export: &Path) {
    let owner = if is_root() {
        NOBODY
    } else {
        rustix::process::geteuid().as_raw()
    };
    for (name, mode) in [
        ("f1000", libc::S_IFREG | 0o600),
        ("chr", libc::S_IFREG | 0o600),
        ("blk", libc::S_IFREG | 0o600),
        ("fifo", libc::S_IFREG | 0o600),
        ("sym", libc::S_IFREG | 0o600),
        ("d2000", libc::S_IFDIR | 0o700),
    ] {
        let m = std::fs::symlink_metadata(export.join(name)).unwrap();
        assert_eq!(m.mode(), mode, "{name}");
        assert_eq!(m.uid(), owner, "{name}");
    }
    assert_eq!(
        std::fs::read(export.join("sym")).unwrap(),
        b"../some/target"
    );
}

#[test]
fn mapped_xattr_keeps_qemus_xattrs() {
    let (mut c, export, _t) = serve(SecurityModel::MappedXattr, IdMapping::default(), true);
    create_as_several_uids(&mut c);
    check_client_view(&mut c);
    check_host_files(&export);
    let le32 = |v: u32| Some(v.to_le_bytes().to_vec());
    let f = export.join("f1000");
    assert_eq!(xattr(&f, "user.virtfs.uid"), le32(1000));
    assert_eq!(xattr(&f, "user.virtfs.gid"), le32(1000));
    assert_eq!(xattr(&f, "user.virtfs.mode"), le32(libc::S_IFREG | 0o640));
    assert_eq!(
        user_virtfs(&f),
        ["user.virtfs.gid", "user.virtfs.mode", "user.virtfs.uid"]
    );
    let chr = export.join("chr");
    assert_eq!(xattr(&chr, "user.virtfs.mode"), le32(libc::S_IFCHR | 0o620));
    assert_eq!(
        xattr(&chr, "user.virtfs.rdev"),
        Some(rustix::fs::makedev(4, 64).to_le_bytes().to_vec())
    );
    assert_eq!(xattr(&chr, "user.virtfs.uid"), le32(0));
    assert_eq!(xattr(&chr, "user.virtfs.gid"), le32(5));
    let d = export.join("d2000");
    assert_eq!(xattr(&d, "user.virtfs.mode"), le32(libc::S_IFDIR | 0o750));
    assert_eq!(user_virtfs(&d).len(), 3);
    assert_eq!(
        xattr(&export.join("sym"), "user.virtfs.mode"),
        le32(0o120777)
    );
    assert_eq!(
        xattr(&export.join("fifo"), "user.virtfs.rdev"),
        Some(vec![0; 8])
    );

    // chmod and chown rewrite the metadata only.
    c.walk_path(0, 30, "f1000").unwrap();
    c.setattr(Setattr::of(30).mode(libc::S_IFREG | 0o4711))
        .unwrap();
    c.setattr(Setattr::of(30).uid(3000).gid(3001)).unwrap();
    assert_eq!(
        attrs(&mut c, "f1000"),
        (3000, 3001, libc::S_IFREG | 0o4711, 0)
    );
    assert_eq!(xattr(&f, "user.virtfs.mode"), le32(libc::S_IFREG | 0o4711));
    assert_eq!(xattr(&f, "user.virtfs.uid"), le32(3000));
    assert_eq!(
        std::fs::metadata(&f).unwrap().permissions().mode() & 0o7777,
        0o600
    );
    // A device stays a device through chmod.
    c.walk_path(0, 31, "chr").unwrap();
    c.setattr(Setattr::of(31).mode(0o600)).unwrap();
    assert_eq!(attrs(&mut c, "chr").2, libc::S_IFCHR | 0o600);
    // Rename and link keep it (it is the inode's); unlink takes it away.
    c.renameat(0, b"f1000", 20, b"moved").unwrap();
    assert_eq!(attrs(&mut c, "moved").0, 3000);
    c.walk_path(0, 32, "moved").unwrap();
    c.link(21, 32, b"hard").unwrap();
    assert_eq!(
        attrs(&mut c, "d2000/hard"),
        (3000, 3001, libc::S_IFREG | 0o4711, 0)
    );
    c.unlinkat(0, b"moved", 0).unwrap();
    c.unlinkat(21, b"hard", 0).unwrap();
    assert!(!export.join("moved").exists());
    // Reads and writes see the real data.
    c.walk_path(0, 33, "d2000").unwrap();
    c.lcreate(33, b"g", P9_DOTL_RDWR, 0o644, 2000).unwrap();
    c.write(33, 0, b"hello").unwrap();
    assert_eq!(std::fs::read(export.join("d2000/g")).unwrap(), b"hello");
    // The export root: its own xattrs.
    c.setattr(Setattr::of(0).uid(4242)).unwrap();
    assert_eq!(c.getattr(0).unwrap().uid, 4242);
    assert_eq!(xattr(&export, "user.virtfs.uid"), le32(4242));
}

#[test]
fn mapped_xattr_reads_what_qemu_wrote() {
    // Files as QEMU's mapped-xattr model leaves them, made on the host directly.
    let (mut c, export, _t) = serve(SecurityModel::MappedXattr, IdMapping::default(), false);
    let dev = export.join("dev");
    std::fs::write(&dev, b"").unwrap();
    let set = |p: &Path, n: &str, v: &[u8]| {
        rustix::fs::lsetxattr(p, n, v, rustix::fs::XattrFlags::empty()).unwrap()
    };
    set(&dev, "user.virtfs.uid", &77u32.to_le_bytes());
    set(&dev, "user.virtfs.gid", &88u32.to_le_bytes());
    set(
        &dev,
        "user.virtfs.mode",
        &(libc::S_IFBLK | 0o640).to_le_bytes(),
    );
    set(
        &dev,
        "user.virtfs.rdev",
        &rustix::fs::makedev(7, 3).to_le_bytes(),
    );
    let link = export.join("ln");
    std::fs::write(&link, b"dev").unwrap();
    set(
        &link,
        "user.virtfs.mode",
        &(libc::S_IFLNK | 0o777).to_le_bytes(),
    );
    // Unknown sizes are ignored, as QEMU's ERANGE.
    let odd = export.join("odd");
    std::fs::write(&odd, b"").unwrap();
    set(&odd, "user.virtfs.uid", &[1, 2, 3, 4, 5]);
    c.attach(0, 0).unwrap();
    assert_eq!(
        attrs(&mut c, "dev"),
        (77, 88, libc::S_IFBLK | 0o640, rustix::fs::makedev(7, 3))
    );
    assert_eq!(attrs(&mut c, "ln").2, libc::S_IFLNK | 0o777);
    c.walk_path(0, 5, "ln").unwrap();
    assert_eq!(c.readlink(5).unwrap(), b"dev");
    assert_eq!(
        attrs(&mut c, "odd").0,
        std::fs::metadata(&odd).unwrap().uid()
    );
    // Readdir reports no types (the client asks getattr, as with QEMU).
    c.walk(0, 6, &[]).unwrap();
    c.lopen(6, P9_DOTL_RDONLY).unwrap();
    let ents = c.readdir_all(6, 8192).unwrap();
    let dev_ent = ents.iter().find(|e| e.name == b"dev").unwrap();
    assert_eq!(dev_ent.ty, 0);
}

fn meta_text(export: &Path, rel: &str) -> String {
    std::fs::read_to_string(export.join(rel)).unwrap()
}

#[test]
fn mapped_file_keeps_qemus_metadata_files() {
    let (mut c, export, _t) = serve(SecurityModel::MappedFile, IdMapping::default(), true);
    create_as_several_uids(&mut c);
    check_client_view(&mut c);
    check_host_files(&export);
    assert_eq!(
        meta_text(&export, ".virtfs_metadata/f1000"),
        "virtfs.uid=1000\nvirtfs.gid=1000\nvirtfs.mode=33184\n"
    );
    assert_eq!(
        meta_text(&export, ".virtfs_metadata/chr"),
        format!(
            "virtfs.uid=0\nvirtfs.gid=5\nvirtfs.mode={}\nvirtfs.rdev={}\n",
            libc::S_IFCHR | 0o620,
            rustix::fs::makedev(4, 64)
        )
    );
    assert_eq!(
        meta_text(&export, ".virtfs_metadata/sym"),
        "virtfs.uid=1000\nvirtfs.gid=1000\nvirtfs.mode=41471\n"
    );
    assert_eq!(
        meta_text(&export, "d2000/.virtfs_metadata/sub"),
        format!(
            "virtfs.uid=2000\nvirtfs.gid=2000\nvirtfs.mode={}\n",
            libc::S_IFDIR | 0o700
        )
    );
    let md = std::fs::metadata(export.join(".virtfs_metadata")).unwrap();
    assert_eq!(md.mode(), libc::S_IFDIR | 0o700);
    let mf = std::fs::metadata(export.join(".virtfs_metadata/f1000")).unwrap();
    assert_eq!(mf.mode(), libc::S_IFREG | 0o600);
    // No xattrs in this model.
    assert!(user_virtfs(&export.join("f1000")).is_empty());

    // chmod/chown rewrite the file, keeping the other values.
    c.walk_path(0, 30, "chr").unwrap();
    c.setattr(Setattr::of(30).uid(4294967294)).unwrap();
    assert_eq!(
        meta_text(&export, ".virtfs_metadata/chr"),
        format!(
            "virtfs.uid=-2\nvirtfs.gid=5\nvirtfs.mode={}\nvirtfs.rdev={}\n",
            libc::S_IFCHR | 0o620,
            rustix::fs::makedev(4, 64)
        )
    );
    assert_eq!(attrs(&mut c, "chr").0, 4294967294);
    // The root's metadata lives in .virtfs_metadata_root.
    c.setattr(Setattr::of(0).mode(libc::S_IFDIR | 0o711))
        .unwrap();
    assert_eq!(
        meta_text(&export, ".virtfs_metadata_root"),
        format!("virtfs.mode={}\n", libc::S_IFDIR | 0o711)
    );
    assert_eq!(c.getattr(0).unwrap().mode, libc::S_IFDIR | 0o711);

    // Rename carries the metadata file to the new directory's metadata directory.
    c.renameat(0, b"f1000", 21, b"moved").unwrap();
    assert!(!export.join(".virtfs_metadata/f1000").exists());
    assert_eq!(
        meta_text(&export, "d2000/.virtfs_metadata/moved"),
        "virtfs.uid=1000\nvirtfs.gid=1000\nvirtfs.mode=33184\n"
    );
    assert_eq!(attrs(&mut c, "d2000/moved").0, 1000);
    // Trename too.
    c.walk_path(0, 31, "blk").unwrap();
    c.rename(31, 0, b"blk2").unwrap();
    assert_eq!(attrs(&mut c, "blk2").2, libc::S_IFBLK | 0o660);
    assert!(!export.join(".virtfs_metadata/blk").exists());
    // Link links it; unlink removes it.
    c.walk_path(0, 32, "sym").unwrap();
    c.link(0, 32, b"sym2").unwrap();
    assert_eq!(
        attrs(&mut c, "sym2"),
        (1000, 1000, libc::S_IFLNK | 0o777, 0)
    );
    c.unlinkat(0, b"sym", 0).unwrap();
    assert!(!export.join(".virtfs_metadata/sym").exists());
    assert!(export.join(".virtfs_metadata/sym2").exists());
    // A renamed-over name loses its stale metadata.
    std::fs::write(export.join("plain"), b"").unwrap();
    c.renameat(0, b"plain", 0, b"sym2").unwrap();
    assert!(!export.join(".virtfs_metadata/sym2").exists());
    // rmdir takes the directory's metadata directory and its entry in the parent's.
    c.unlinkat(21, b"moved", 0).unwrap();
    c.unlinkat(21, b"sub", P9_DOTL_AT_REMOVEDIR).unwrap();
    c.clunk(21).unwrap();
    c.unlinkat(0, b"d2000", P9_DOTL_AT_REMOVEDIR).unwrap();
    assert!(!export.join("d2000").exists());
    assert!(!export.join(".virtfs_metadata/d2000").exists());
}

/// Every message that names a file, against the metadata: refused or hidden.
fn metadata_unreachable(model: SecurityModel) {
    let (mut c, export, _t) = serve(model, IdMapping::default(), true);
    c.attach(0, 1000).unwrap();
    c.lcreate(0, b"f", P9_DOTL_RDWR, 0o644, 1000).unwrap();
    c.clunk(0).unwrap();
    c.attach(0, 1000).unwrap();
    c.mkdir(0, b"d", 0o755, 1000).unwrap();
    c.walk_path(0, 1, "d").unwrap();
    c.mkdir(1, b"e", 0o755, 1000).unwrap();
    c.walk_path(0, 2, "f").unwrap();
    // Make sure the host has every kind of metadata to be reached.
    std::fs::create_dir_all(export.join(META_DIR.escape_ascii().to_string())).ok();
    std::fs::write(export.join(".virtfs_metadata_root"), b"virtfs.uid=0\n").ok();

    for name in [META_DIR, META_ROOT_FILE] {
        let n = String::from_utf8_lossy(name).into_owned();
        assert_eq!(errno(c.walk(0, 3, &[name])), Errno::INVAL, "walk {n}");
        // Past the first name a refused step ends the walk there (a partial walk).
        assert_eq!(c.walk(0, 3, &[b"d", name]).unwrap().len(), 1, "walk d/{n}");
        assert_eq!(
            c.walk(1, 3, &[b"..", name]).unwrap().len(),
            1,
            "walk ../{n}"
        );
        assert_eq!(
            c.walk(0, 3, &[b"d", name, b"e"]).unwrap().len(),
            1,
            "partial walk stops before {n}"
        );
        c.walk(0, 4, &[]).unwrap();
        assert_eq!(
            errno(c.lcreate(4, name, P9_DOTL_RDWR, 0o644, 0)),
            Errno::INVAL
        );
        assert_eq!(errno(c.mkdir(0, name, 0o755, 0)), Errno::INVAL);
        assert_eq!(
            errno(c.mknod(0, name, libc::S_IFREG | 0o644, 0, 0, 0)),
            Errno::INVAL
        );
        assert_eq!(errno(c.symlink(0, name, b"x", 0)), Errno::INVAL);
        assert_eq!(errno(c.link(0, 2, name)), Errno::INVAL);
        assert_eq!(errno(c.renameat(0, b"f", 0, name)), Errno::INVAL);
        assert_eq!(errno(c.renameat(0, name, 0, b"g")), Errno::INVAL);
        assert_eq!(errno(c.rename(2, 0, name)), Errno::INVAL);
        assert_eq!(errno(c.unlinkat(0, name, 0)), Errno::INVAL);
        assert_eq!(
            errno(c.unlinkat(0, name, P9_DOTL_AT_REMOVEDIR)),
            Errno::INVAL
        );
        c.clunk(4).unwrap();
    }
    // Hidden from readdir, in the root and below.
    for fid in [0, 1] {
        c.walk(fid, 5, &[]).unwrap();
        c.lopen(5, P9_DOTL_RDONLY).unwrap();
        let names: Vec<Vec<u8>> = c
            .readdir_all(5, 8192)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert!(
            !names.iter().any(|n| n.starts_with(b".virtfs_metadata")),
            "{names:?}"
        );
        assert!(names.iter().any(|n| n == b"." || n == b"e" || n == b"f"));
        c.clunk(5).unwrap();
    }
    // The user.virtfs.* xattrs: not listed, not read, not written, not removed.
    for fid in [0, 1, 2] {
        let size = c.xattrwalk(fid, 6, b"").unwrap();
        let list = c.read(6, 0, size as u32).unwrap();
        assert!(!list.windows(12).any(|w| w == b"user.virtfs."), "{list:?}");
        c.clunk(6).unwrap();
        for n in [
            &b"user.virtfs.uid"[..],
            b"user.virtfs.mode",
            b"user.virtfs.rdev",
            b"user.virtfs.x",
        ] {
            assert_eq!(errno(c.xattrwalk(fid, 6, n)), Errno::NODATA);
            c.walk(fid, 7, &[]).unwrap();
            c.xattrcreate(7, n, 4, 0).unwrap();
            c.write(7, 0, &0u32.to_le_bytes()).unwrap();
            assert_eq!(errno(c.clunk(7)), Errno::ACCESS, "set {n:?}");
            c.walk(fid, 7, &[]).unwrap();
            c.xattrcreate(7, n, 0, 0).unwrap();
            assert_eq!(errno(c.clunk(7)), Errno::ACCESS, "remove {n:?}");
        }
    }
    // The owner the client gave is still there, and ordinary user xattrs work.
    assert_eq!(attrs(&mut c, "f").0, 1000);
    c.walk(2, 8, &[]).unwrap();
    c.xattrcreate(8, b"user.mine", 2, 0).unwrap();
    c.write(8, 0, b"ok").unwrap();
    c.clunk(8).unwrap();
    assert_eq!(c.xattrwalk(2, 9, b"user.mine").unwrap(), 2);
    // POSIX ACLs are kept as QEMU's mapped model keeps them.
    if model == SecurityModel::MappedXattr {
        c.walk(2, 10, &[]).unwrap();
        c.xattrcreate(10, b"system.posix_acl_access", 4, 0).unwrap();
        c.write(10, 0, b"\x02\0\0\0").unwrap();
        c.clunk(10).unwrap();
        assert_eq!(
            xattr(&export.join("f"), "user.virtfs.system.posix_acl_access"),
            Some(b"\x02\0\0\0".to_vec())
        );
        let size = c.xattrwalk(2, 11, b"").unwrap();
        let list = c.read(11, 0, size as u32).unwrap();
        assert!(list.windows(23).any(|w| w == b"system.posix_acl_access"));
    }
}

#[test]
fn mapped_xattr_metadata_unreachable() {
    metadata_unreachable(SecurityModel::MappedXattr);
}

#[test]
fn mapped_file_metadata_unreachable() {
    metadata_unreachable(SecurityModel::MappedFile);
}

#[test]
fn none_model_creates_unprivileged() {
    let (mut c, export, _t) = serve(SecurityModel::None, IdMapping::default(), true);
    c.attach(0, 1000).unwrap();
    c.mkdir(0, b"d", 0o750, 1000).unwrap();
    c.mknod(0, b"fifo", libc::S_IFIFO | 0o600, 0, 0, 1000)
        .unwrap();
    c.symlink(0, b"s", b"d", 1000).unwrap();
    let m = std::fs::symlink_metadata(export.join("d")).unwrap();
    assert_eq!(m.mode(), libc::S_IFDIR | 0o750);
    if is_root() {
        // The chown to 1000 failed (unprivileged) and was ignored.
        assert_eq!(m.uid(), NOBODY);
    }
    assert_eq!(
        std::fs::read_link(export.join("s")).unwrap(),
        PathBuf::from("d")
    );
}

#[test]
fn passthrough_maps_and_squash() {
    if !is_root() {
        eprintln!("skipped: needs root (creations as other uids)");
        return;
    }
    let map = IdMapping {
        squash: None,
        uids: RangeMap::new(vec![IdRange {
            client: 0,
            host: 100000,
            count: 2000,
        }])
        .unwrap(),
        gids: RangeMap::new(vec!["0:200000:2000".parse().unwrap()]).unwrap(),
    };
    let (mut c, export, _t) = serve(SecurityModel::Passthrough, map, false);
    // Fids act as their mapped host ids, checked by the kernel: the export must let
    // them in.
    open_to_all(&export);
    c.attach(0, 1000).unwrap();
    c.mkdir(0, b"d", 0o755, 1000).unwrap();
    let m = std::fs::metadata(export.join("d")).unwrap();
    assert_eq!((m.uid(), m.gid()), (101000, 201000));
    assert_eq!(attrs(&mut c, "d").0, 1000);
    assert_eq!(attrs(&mut c, "d").1, 1000);
    // The export root (host 0:0) is unmapped: nobody.
    let root = c.getattr(0).unwrap();
    assert_eq!((root.uid, root.gid), (NOBODY, NOBODY));
    // chown into the map works, outside it is EINVAL; creating as an unmapped id too.
    c.walk_path(0, 1, "d").unwrap();
    let chown = |uid| Setattr::of(1).uid(uid);
    // A mapped id is no host root: giving a file away is the kernel's EPERM.
    assert_eq!(errno(c.setattr(chown(5))), Errno::PERM);
    assert_eq!(errno(c.setattr(chown(5000))), Errno::INVAL);
    // An unmapped client id cannot act at all.
    assert_eq!(errno(c.attach(2, 5000)), Errno::INVAL);

    // Squash: every creation is UID:GID on the host.
    let squash = IdMapping {
        squash: Some((HostUid::from_raw(1234), HostGid::from_raw(4321))),
        ..IdMapping::default()
    };
    let (mut c, export, _t) = serve(SecurityModel::Passthrough, squash.clone(), false);
    open_to_all(&export);
    c.attach(0, 0).unwrap();
    c.walk(0, 1, &[]).unwrap();
    c.lcreate(1, b"f", P9_DOTL_RDWR, 0o644, 0).unwrap();
    let m = std::fs::metadata(export.join("f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1234, 4321));
    assert_eq!(attrs(&mut c, "f").0, 1234);

    // Squash under mapped-xattr: the metadata holds UID:GID, the server is unprivileged.
    let (mut c, export, _t) = serve(SecurityModel::MappedXattr, squash, true);
    c.attach(0, 0).unwrap();
    c.mkdir(0, b"d", 0o755, 0).unwrap();
    assert_eq!(
        xattr(&export.join("d"), "user.virtfs.uid"),
        Some(1234u32.to_le_bytes().to_vec())
    );
    assert_eq!(attrs(&mut c, "d"), (1234, 4321, libc::S_IFDIR | 0o755, 0));
}

/// Under the mapped models the server's user does the work on the host, so the acting
/// identity decides what the metadata may become, as the guest kernel would: only root
/// gives files away or sets times on another's file, only the owner chmods, and a
/// setgid bit on a file of a group the changer is not in is dropped.
#[test]
fn mapped_metadata_changes_follow_the_acting_identity() {
    for model in [SecurityModel::MappedXattr, SecurityModel::MappedFile] {
        let (mut c, _export, _t) = serve(model, IdMapping::default(), true);
        c.attach(0, 0).unwrap();
        c.attach(10, 1000).unwrap();
        c.attach(20, 2000).unwrap();
        c.walk(20, 21, &[]).unwrap();
        c.lcreate(21, b"f2000", P9_DOTL_RDWR, 0o644, 2000).unwrap();
        c.walk(10, 11, &[]).unwrap();
        c.lcreate(11, b"f1000", P9_DOTL_RDWR, 0o644, 1000).unwrap();
        c.walk(10, 12, &[]).unwrap();
        c.lcreate(12, b"f1000g", P9_DOTL_RDWR, 0o644, 3000).unwrap();
        // uid 1000 on 2000's file: no chmod, no chown, no explicit times.
        c.walk_path(10, 13, "f2000").unwrap();
        let label = format!("{model}");
        assert_eq!(
            errno(c.setattr(Setattr::of(13).mode(0o777))),
            Errno::PERM,
            "{label}"
        );
        assert_eq!(
            errno(c.setattr(Setattr::of(13).uid(1000))),
            Errno::PERM,
            "{label}"
        );
        assert_eq!(
            errno(c.setattr(Setattr::of(13).atime(5, 0).mtime(5, 0))),
            Errno::PERM,
            "{label}"
        );
        // On its own file: no giving it away, no group it is not in; chmod works, and a
        // setgid bit on a group it is not in is dropped.
        c.walk_path(10, 14, "f1000").unwrap();
        assert_eq!(
            errno(c.setattr(Setattr::of(14).uid(0))),
            Errno::PERM,
            "{label}"
        );
        assert_eq!(
            errno(c.setattr(Setattr::of(14).gid(50))),
            Errno::PERM,
            "{label}"
        );
        c.setattr(Setattr::of(14).mode(0o2755)).unwrap();
        assert_eq!(attrs(&mut c, "f1000").2 & 0o7777, 0o2755, "{label}");
        c.setattr(Setattr::of(14).atime(5, 0).mtime(5, 0)).unwrap();
        c.walk_path(10, 15, "f1000g").unwrap();
        c.setattr(Setattr::of(15).mode(0o2755)).unwrap();
        assert_eq!(attrs(&mut c, "f1000g").2 & 0o7777, 0o755, "{label}");
        // Root may do all of it.
        c.walk_path(0, 1, "f1000").unwrap();
        c.setattr(Setattr::of(1).uid(2000).gid(50)).unwrap();
        assert_eq!(attrs(&mut c, "f1000").0, 2000, "{label}");
    }
}
