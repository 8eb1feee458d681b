//! The client drives our helper over a socketpair through every operation, with results
//! checked on the host side, and through the error paths (ENOENT, EEXIST, ENOTEMPTY,
//! ERANGE, EACCES for an unprivileged helper, EPERM for a non-root device node).

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::process::{Command, Stdio};

use proxy_client::{spawn_helper_command, Error, SpawnedHelper, Timestamp};
use rustix::fs::OFlags;
use rustix::io::Errno;

fn start(export: &std::path::Path, unprivileged: bool) -> SpawnedHelper {
    let mut cmd = if unprivileged {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            common::HELPER,
        ]);
        c
    } else {
        Command::new(common::HELPER)
    };
    cmd.arg("-p").arg(export).arg("-n").stderr(Stdio::inherit());
    spawn_helper_command(cmd).expect("spawn helper")
}

fn errno<T: std::fmt::Debug>(r: Result<T, Error>) -> Errno {
    r.expect_err("expected an errno").errno()
}

fn finish(h: SpawnedHelper) {
    let SpawnedHelper { client, mut child } = h;
    drop(client);
    let st = child.wait().unwrap();
    assert!(st.success(), "helper exit status {st}");
}

#[test]
fn every_operation_with_host_side_checks() {
    require_root!();
    let dir = tempfile::tempdir().unwrap();
    let ex = dir.path();
    let h = start(ex, false);
    let c = &h.client;

    // mkdir as 1234:2345 in a root-owned 0755 directory: allowed, owned by the client.
    c.mkdir("//d", 0o750, 1234, 2345).unwrap();
    let m = std::fs::metadata(ex.join("d")).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (1234, 2345, 0o750));

    // create + write through the fd; modes exact (umask 0).
    let fd = c
        .create("//d/f", OFlags::RDWR | OFlags::EXCL, 0o664, 1234, 2345)
        .unwrap();
    rustix::io::write(&fd, b"hello world").unwrap();
    drop(fd);
    let m = std::fs::metadata(ex.join("d/f")).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.mode() & 0o7777, m.len()),
        (1234, 2345, 0o664, 11)
    );
    assert_eq!(
        errno(c.create("//d/f", OFlags::RDWR | OFlags::EXCL, 0o644, 0, 0)),
        Errno::EXIST
    );

    // open + read back, lstat agrees with the host.
    let fd = c.open("//d/f", OFlags::RDONLY).unwrap();
    let mut buf = [0u8; 32];
    let n = rustix::io::read(&fd, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello world");
    let st = c.lstat("//d/f").unwrap();
    assert_eq!((st.ino, st.size, st.uid, st.nlink), (m.ino(), 11, 1234, 1));
    assert_eq!(errno(c.lstat("//nope")), Errno::NOENT);
    assert_eq!(errno(c.open("//nope", OFlags::RDONLY)), Errno::NOENT);

    // hard link: nlink 2 on the host.
    c.link("//d/f", "//d/hard").unwrap();
    assert_eq!(std::fs::metadata(ex.join("d/f")).unwrap().nlink(), 2);
    assert_eq!(errno(c.link("//d/f", "//d/hard")), Errno::EXIST);

    // symlink + readlink, owned by the client.
    c.symlink("f", "//d/sym", 1234, 2345).unwrap();
    assert_eq!(c.readlink("//d/sym").unwrap(), b"f");
    assert_eq!(
        std::fs::symlink_metadata(ex.join("d/sym")).unwrap().uid(),
        1234
    );
    assert_eq!(
        std::fs::read_link(ex.join("d/sym")).unwrap().as_os_str(),
        "f"
    );

    // mknod: FIFO and (as root) a character device with exact numbers.
    c.mknod("//d/fifo", libc::S_IFIFO | 0o600, 0, 1234, 2345)
        .unwrap();
    assert!(std::fs::metadata(ex.join("d/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    c.mknod("//d/chr", libc::S_IFCHR | 0o600, libc::makedev(4, 5), 0, 0)
        .unwrap();
    let m = std::fs::metadata(ex.join("d/chr")).unwrap();
    assert!(m.file_type().is_char_device());
    assert_eq!(m.rdev(), libc::makedev(4, 5));
    // A non-root character device: EPERM (CAP_MKNOD is not effective while switched).
    assert_eq!(
        errno(c.mknod(
            "//d/chr2",
            libc::S_IFCHR | 0o600,
            libc::makedev(1, 3),
            1234,
            2345
        )),
        Errno::PERM
    );

    // chmod, chown (-1 keeps), truncate.
    c.chmod("//d/f", 0o4711).unwrap();
    assert_eq!(
        std::fs::metadata(ex.join("d/f")).unwrap().mode() & 0o7777,
        0o4711
    );
    c.chown("//d/f", 42, u32::MAX).unwrap();
    let m = std::fs::metadata(ex.join("d/f")).unwrap();
    assert_eq!((m.uid(), m.gid()), (42, 2345));
    c.chown("//d/sym", 7, 8).unwrap(); // lchown: the link, not its target
    assert_eq!(
        std::fs::symlink_metadata(ex.join("d/sym")).unwrap().uid(),
        7
    );
    assert_eq!(std::fs::metadata(ex.join("d/f")).unwrap().uid(), 42);
    c.truncate("//d/f", 5).unwrap();
    assert_eq!(std::fs::read(ex.join("d/f")).unwrap(), b"hello");
    c.truncate("//d/f", 1 << 20).unwrap();
    assert_eq!(std::fs::metadata(ex.join("d/f")).unwrap().len(), 1 << 20);

    // utimensat with distinct atime and mtime (and distinct nanoseconds).
    c.utimensat(
        "//d/f",
        Timestamp::at(1_000_000_000, 111),
        Timestamp::at(1_500_000_000, 222),
    )
    .unwrap();
    let m = std::fs::metadata(ex.join("d/f")).unwrap();
    assert_eq!(
        (m.atime(), m.atime_nsec(), m.mtime(), m.mtime_nsec()),
        (1_000_000_000, 111, 1_500_000_000, 222)
    );
    c.utimensat("//d/f", Timestamp::Omit, Timestamp::at(1_600_000_000, 0))
        .unwrap();
    let m = std::fs::metadata(ex.join("d/f")).unwrap();
    assert_eq!((m.atime(), m.mtime()), (1_000_000_000, 1_600_000_000));
    // On the symlink itself (AT_SYMLINK_NOFOLLOW).
    c.utimensat("//d/sym", Timestamp::at(5, 0), Timestamp::at(6, 0))
        .unwrap();
    assert_eq!(
        std::fs::symlink_metadata(ex.join("d/sym")).unwrap().mtime(),
        6
    );

    // xattrs: set, size query, get, list, remove; ERANGE for a too-small buffer.
    c.setxattr(
        "//d/f",
        "user.color",
        b"blue",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    assert_eq!(c.getxattr_size("//d/f", "user.color").unwrap(), 4);
    assert_eq!(c.getxattr("//d/f", "user.color").unwrap(), b"blue");
    assert!(c
        .listxattr("//d/f")
        .unwrap()
        .split(|&b| b == 0)
        .any(|n| n == b"user.color"));
    let r = c.request(&proxy_protocol::Request::Lgetxattr {
        size: 2,
        path: b"//d/f",
        name: b"user.color",
    });
    assert_eq!(errno(r), Errno::RANGE);
    assert_eq!(
        errno(c.setxattr("//d/f", "user.color", b"x", rustix::fs::XattrFlags::CREATE)),
        Errno::EXIST
    );
    let mut host = [0u8; 16];
    let n = rustix::fs::getxattr(ex.join("d/f"), "user.color", &mut host[..]).unwrap();
    assert_eq!(&host[..n], b"blue");
    c.removexattr("//d/f", "user.color").unwrap();
    assert_eq!(errno(c.getxattr("//d/f", "user.color")), Errno::NODATA);

    // statfs matches the host's.
    let sf = c.statfs("/").unwrap();
    let host = rustix::fs::statfs(ex).unwrap();
    assert_eq!(
        (sf.bsize, sf.blocks, sf.fs_type),
        (host.f_bsize as u64, host.f_blocks, host.f_type as u64)
    );

    // getversion: a value (ext4 has one; elsewhere 0), upper half defined.
    assert_eq!(c.getversion("//d/f").unwrap() >> 32, 0);

    // rename a directory with contents; ENOTEMPTY on a non-empty remove.
    c.mkdir("//d/sub", 0o755, 0, 0).unwrap();
    c.mknod("//d/sub/x", libc::S_IFREG | 0o644, 0, 0, 0)
        .unwrap();
    c.rename("//d", "//renamed").unwrap();
    assert!(ex.join("renamed/sub/x").exists() && !ex.join("d").exists());
    assert_eq!(errno(c.remove("//renamed/sub")), Errno::NOTEMPTY);
    c.remove("//renamed/sub/x").unwrap();
    c.remove("//renamed/sub").unwrap();
    assert!(!ex.join("renamed/sub").exists());
    assert_eq!(errno(c.remove("//renamed/sub")), Errno::NOENT);

    // unlink while open: the fd still reads.
    let fd = c.open("//renamed/hard", OFlags::RDONLY).unwrap();
    c.remove("//renamed/hard").unwrap();
    c.remove("//renamed/f").unwrap();
    let mut buf = [0u8; 5];
    assert_eq!(rustix::io::pread(&fd, &mut buf, 0).unwrap(), 5);
    assert_eq!(&buf, b"hello");
    drop(fd);

    // Directories open too (QEMU's opendir sends T_OPEN with O_DIRECTORY).
    let dfd = c
        .open("//renamed", OFlags::DIRECTORY | OFlags::RDONLY)
        .unwrap();
    assert!(rustix::fs::fstat(&dfd).is_ok());
    assert_eq!(
        errno(c.open("//renamed/sym", OFlags::DIRECTORY)),
        Errno::NOENT
    ); // target f is gone
    finish(h);
}

#[test]
fn unprivileged_helper_gets_eacces() {
    require_root!();
    let dir = tempfile::tempdir().unwrap();
    let ex = dir.path();
    std::fs::set_permissions(ex, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(ex.join("rootonly")).unwrap();
    std::fs::set_permissions(ex.join("rootonly"), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(ex.join("secret"), b"x").unwrap();
    std::fs::set_permissions(ex.join("secret"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let h = start(ex, true);
    let c = &h.client;
    // Creating in a root-owned 0755 directory as nobody: EACCES.
    assert_eq!(
        errno(c.mkdir("/newdir", 0o755, 65534, 65534)),
        Errno::ACCESS
    );
    assert_eq!(
        errno(c.create("/newfile", OFlags::RDWR, 0o644, 65534, 65534)),
        Errno::ACCESS
    );
    assert_eq!(errno(c.open("/secret", OFlags::RDONLY)), Errno::ACCESS);
    assert_eq!(errno(c.lstat("/rootonly/x")), Errno::ACCESS);
    // What nobody may do still works.
    assert_eq!(c.lstat("/secret").unwrap().size, 1);
    finish(h);
}

/// T_LSTAT of a name right under the root takes a shorter path (one fstatat) than a
/// deeper one: both must give the same answers, for the root and unprivileged helpers.
#[test]
fn lstat_right_under_the_root_and_deeper_agree() {
    let dir = tempfile::tempdir().unwrap();
    let ex = dir.path();
    std::fs::set_permissions(ex, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(ex.join("d")).unwrap();
    std::fs::write(ex.join("f"), b"abc").unwrap();
    std::fs::write(ex.join("d/f"), b"abcdef").unwrap();
    std::os::unix::fs::symlink("d", ex.join("l")).unwrap();
    std::os::unix::fs::symlink("../../..", ex.join("d/up")).unwrap();
    for unprivileged in [false, true] {
        if !unprivileged && !common::is_root() {
            continue;
        }
        let h = start(ex, unprivileged);
        let c = &h.client;
        for path in ["f", "/f", "//f"] {
            let st = c.lstat(path).unwrap();
            assert_eq!(st.size, 3, "{path}");
            assert_eq!(st.mode & 0o170000, 0o100000, "{path}");
        }
        assert_eq!(c.lstat("/d/f").unwrap().size, 6);
        // A final symlink is not followed, at any depth; with a trailing slash it is
        // (to a directory inside the export).
        let link = c.lstat("/l").unwrap();
        assert_eq!(link.mode & 0o170000, 0o120000);
        assert_eq!(link.size, 1);
        assert_eq!(c.lstat("/d/up").unwrap().mode & 0o170000, 0o120000);
        let followed = c.lstat("/l/").unwrap();
        assert_eq!(followed.mode & 0o170000, 0o040000);
        assert_eq!(followed.ino, std::fs::metadata(ex.join("d")).unwrap().ino());
        // The root by any name, and names that are not there.
        let root_ino = std::fs::metadata(ex).unwrap().ino();
        for path in ["/", ".", "/..", "..", "/d/.."] {
            assert_eq!(c.lstat(path).unwrap().ino, root_ino, "{path}");
        }
        assert_eq!(errno(c.lstat("/nope")), Errno::NOENT);
        assert_eq!(errno(c.lstat("nope")), Errno::NOENT);
        assert_eq!(errno(c.lstat("/f/")), Errno::NOTDIR);
        assert_eq!(errno(c.lstat("")), Errno::NOENT);
        finish(h);
    }
}
