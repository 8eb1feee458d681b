//! Our fd-relative requests (`T_LookupAt` and after): they act on the inodes of the fds
//! they carry, and the helper refuses every fd that is not on its export's detached
//! tree. The attack runs as it would in production: a compromised, unprivileged front
//! end (this test binary re-run as `nobody` through `setpriv`) holding the helper's
//! socket passes fds of its own (`/proc/self`, `/`, a host directory and files in it, a
//! socket) with every fd-relative request type; the host is inspected afterwards.

mod common;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use common::Helper;
use proxy_client::{Error, ProxyClient, Timestamp};
use proxy_protocol::{Request, RequestType};
use rustix::fs::{Mode, OFlags, XattrFlags};
use rustix::io::Errno;

/// Set (to `FD:OUTSIDE`) in the attacker's environment: the helper socket it inherited
/// and the host directory to attack.
const ATTACK_ENV: &str = "FDREQ_ATTACK";

fn client_of(h: &Helper) -> ProxyClient {
    ProxyClient::from_fd(OwnedFd::from(h.sock.try_clone().unwrap()))
}

fn opath(path: impl AsRef<Path>) -> OwnedFd {
    rustix::fs::open(
        path.as_ref(),
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .unwrap()
}

fn errno<T: std::fmt::Debug>(r: Result<T, Error>) -> Errno {
    match r {
        Err(Error::Errno(e)) => e,
        other => panic!("expected a helper errno, got {other:?}"),
    }
}

/// A world-searchable temporary directory with `export/` (holding `inside/` and
/// `inside/f`) and `outside/` (holding `victim`, 0644, and `secret`, 0600, both root's).
fn setup() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let export = tmp.path().join("export");
    std::fs::create_dir_all(export.join("inside")).unwrap();
    std::fs::write(export.join("inside/f"), b"inside").unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(outside.join("victim"), b"HOST").unwrap();
    std::fs::set_permissions(
        outside.join("victim"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::write(outside.join("secret"), b"SECRET").unwrap();
    std::fs::set_permissions(
        outside.join("secret"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    tmp
}

#[test]
fn fd_requests_act_on_the_fds_inodes() {
    require_root!();
    let tmp = setup();
    let export = tmp.path().join("export");
    let h = Helper::start(&export, false);
    let c = client_of(&h);
    let root = c.open("/", OFlags::PATH | OFlags::NOFOLLOW).unwrap();
    let inside = c.lookup_at(&root, "inside").unwrap();
    let f = c.lookup_at(&inside, "f").unwrap();
    // Renamed away and replaced: the node's requests still act on its own inode.
    std::fs::rename(export.join("inside/f"), export.join("inside/moved")).unwrap();
    std::fs::write(export.join("inside/f"), b"new file").unwrap();
    c.chmod_node(&f, 0o600).unwrap();
    c.truncate_node(&f, 2).unwrap();
    c.setxattr_node(&f, "user.k", "v", XattrFlags::empty())
        .unwrap();
    c.utimens_node(
        &f,
        Timestamp::At { sec: 5, nsec: 6 },
        Timestamp::At { sec: 7, nsec: 8 },
    )
    .unwrap();
    let moved = std::fs::metadata(export.join("inside/moved")).unwrap();
    assert_eq!(moved.mode() & 0o7777, 0o600);
    assert_eq!(moved.len(), 2);
    assert_eq!((moved.mtime(), moved.mtime_nsec()), (7, 8));
    assert_eq!(c.getxattr_node(&f, "user.k").unwrap(), b"v");
    let new = std::fs::metadata(export.join("inside/f")).unwrap();
    assert_eq!(new.len(), 8);
    assert_ne!(new.mode() & 0o7777, 0o600);
    // Names are single components, for every request that takes one.
    let listing = |dir: &Path| {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let (outside_before, export_before) = (listing(tmp.path()), listing(&export));
    for bad in [&b".."[..], b"a/b", b"", b".", b"/etc", b"a\0b", b"inside/f"] {
        let fifo = libc::S_IFIFO | 0o600;
        let answers = [
            ("lookup", c.lookup_at(&root, bad).map(drop)),
            (
                "create",
                c.create_at(&root, bad, OFlags::RDWR, 0o644, 0, 0).map(drop),
            ),
            ("mkdir", c.mkdir_at(&root, bad, 0o755, 0, 0).map(drop)),
            ("mknod", c.mknod_at(&root, bad, fifo, 0, 0, 0).map(drop)),
            ("symlink", c.symlink_at(&root, bad, "t", 0, 0).map(drop)),
            ("unlink", c.unlink_at(&root, bad, false)),
            ("rmdir", c.unlink_at(&root, bad, true)),
            ("rename from", c.rename_at(&root, bad, &root, "x")),
            ("rename to", c.rename_at(&inside, "f", &root, bad)),
            ("link", c.link_at(&f, &root, bad)),
        ];
        for (op, answer) in answers {
            assert_eq!(errno(answer), Errno::INVAL, "{op} {bad:?}");
        }
    }
    assert_eq!(listing(tmp.path()), outside_before);
    assert_eq!(listing(&export), export_before);
    // Creations: exclusive, never following a symlink.
    std::os::unix::fs::symlink("inside/f", export.join("l")).unwrap();
    assert_eq!(
        errno(c.create_at(&root, "l", OFlags::RDWR, 0o644, 0, 0)),
        Errno::LOOP
    );
    let st = c.mkdir_at(&root, "d", 0o750, 0, 0).unwrap();
    assert_eq!(st.mode & 0o7777, 0o750);
    let d = c.lookup_at(&root, "d").unwrap();
    c.create_at(&d, "g", OFlags::RDWR, 0o640, 0, 0).unwrap();
    c.symlink_at(&d, "s", "g", 0, 0).unwrap();
    assert_eq!(
        c.readlink_node(c.lookup_at(&d, "s").unwrap()).unwrap(),
        b"g"
    );
    c.link_at(&f, &d, "hard").unwrap();
    c.rename_at(&d, "g", &root, "g2").unwrap();
    assert_eq!(errno(c.unlink_at(&root, "d", false)), Errno::ISDIR);
    assert_eq!(errno(c.unlink_at(&root, "g2", true)), Errno::NOTDIR);
    c.unlink_at(&root, "g2", false).unwrap();
    assert!(
        std::fs::symlink_metadata(export.join("d/hard"))
            .unwrap()
            .len()
            == 2
    );
    drop(c);
    h.finish();
}

/// Sends `req` with exactly `fds` (whatever its type declares) and returns the status.
fn raw_status(sock: BorrowedFd<'_>, req: &Request<'_>, fds: &[BorrowedFd<'_>]) -> i32 {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    let mut buf = Vec::new();
    req.encode(&mut buf).unwrap();
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(8))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() {
        assert!(control.push(SendAncillaryMessage::ScmRights(fds)));
    }
    let iov = [std::io::IoSlice::new(&buf)];
    let n = rustix::net::sendmsg(sock, &iov, &mut control, SendFlags::NOSIGNAL).unwrap();
    assert_eq!(n, buf.len());
    let mut head = [0u8; proxy_protocol::HEADER_SIZE];
    let mut got = 0;
    while got < head.len() {
        got += rustix::net::recv(sock, &mut head[got..], rustix::net::RecvFlags::empty())
            .unwrap()
            .0;
    }
    let mut body = [0u8; 4];
    let mut got = 0;
    while got < body.len() {
        got += rustix::net::recv(sock, &mut body[got..], rustix::net::RecvFlags::empty())
            .unwrap()
            .0;
    }
    i32::from_ne_bytes(body)
}

#[test]
fn wrong_fd_counts_are_refused_and_closed() {
    require_root!();
    let tmp = setup();
    let export = tmp.path().join("export");
    let h = Helper::start(&export, false);
    let c = client_of(&h);
    let root = c.open("/", OFlags::PATH | OFlags::NOFOLLOW).unwrap();
    let f = c
        .lookup_at(c.lookup_at(&root, "inside").unwrap(), "f")
        .unwrap();
    let before = h.fd_count();
    let chmod = Request::ChmodNode { mode: 0o600 };
    assert_eq!(RequestType::ChmodNode.fds(), 1);
    let sock = h.sock.as_fd();
    // None, two, and eight fds for a request that declares one: EBADF, all closed.
    assert_eq!(raw_status(sock, &chmod, &[]), -libc::EBADF);
    assert_eq!(
        raw_status(sock, &chmod, &[f.as_fd(), f.as_fd()]),
        -libc::EBADF
    );
    assert_eq!(raw_status(sock, &chmod, &[f.as_fd(); 8]), -libc::EBADF);
    // The right count works.
    assert_eq!(raw_status(sock, &chmod, &[f.as_fd()]), 0);
    assert_eq!(
        std::fs::metadata(export.join("inside/f")).unwrap().mode() & 0o7777,
        0o600
    );
    // The connection is in step and nothing leaked.
    assert!(c.lstat("/inside").is_ok());
    // (The helper may still have held its copy of the last fd it handed out before.)
    assert!(h.fd_count() <= before, "{} > {before}", h.fd_count());
    drop(c);
    h.finish();
}

/// The attack itself, as `nobody`: only does something when started by
/// [`foreign_fds_are_refused_for_every_request_type`].
#[test]
fn attacker_role() {
    let Ok(arg) = std::env::var(ATTACK_ENV) else {
        return;
    };
    let (fd, outside) = arg.split_once(':').unwrap();
    let outside = Path::new(outside);
    assert_ne!(
        rustix::process::geteuid().as_raw(),
        0,
        "must run unprivileged"
    );
    // SAFETY: the parent handed us this fd (inherited, for us alone).
    let sock = unsafe { OwnedFd::from_raw_fd(fd.parse().unwrap()) };
    let c = ProxyClient::from_fd(sock);
    // The helper's own fds work: fd requests are served.
    let root = c.open("/", OFlags::PATH | OFlags::NOFOLLOW).unwrap();
    let inside = c.lookup_at(&root, "inside").unwrap();
    let f = c.lookup_at(&inside, "f").unwrap();
    assert!(c.getxattr_node(&f, "user.none").is_err());

    let (sock_a, _sock_b) = rustix::net::socketpair(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .unwrap();
    let foreign: Vec<(&str, OwnedFd)> = vec![
        ("/proc/self", opath("/proc/self")),
        ("/", opath("/")),
        ("outside dir", opath(outside)),
        ("outside/victim", opath(outside.join("victim"))),
        ("outside/secret", opath(outside.join("secret"))),
        ("socket", sock_a),
    ];
    let mut refused = 0;
    let mut check = |what: String, e: Errno| {
        assert_eq!(e, Errno::XDEV, "{what}: not refused as foreign");
        refused += 1;
    };
    for (name, fd) in &foreign {
        let fd = fd.as_fd();
        let t = |op: &str| format!("{op} with {name}");
        // As a directory.
        check(t("lookup_at"), errno(c.lookup_at(fd, "victim")));
        check(
            t("create_at"),
            errno(c.create_at(fd, "pwn", OFlags::RDWR, 0o6777, 0, 0)),
        );
        check(
            t("create_at existing"),
            errno(c.create_at(fd, "secret", OFlags::RDWR, 0o644, 0, 0)),
        );
        check(t("mkdir_at"), errno(c.mkdir_at(fd, "pwn", 0o777, 0, 0)));
        check(
            t("mknod_at"),
            errno(c.mknod_at(fd, "pwn", 0o020666, 0x0103, 0, 0)),
        );
        check(t("symlink_at"), errno(c.symlink_at(fd, "pwn", "/", 0, 0)));
        check(t("unlink_at"), errno(c.unlink_at(fd, "victim", false)));
        check(
            t("rename_at from"),
            errno(c.rename_at(fd, "victim", &root, "stolen")),
        );
        check(
            t("rename_at to"),
            errno(c.rename_at(&inside, "f", fd, "planted")),
        );
        check(t("link_at into"), errno(c.link_at(&f, fd, "planted")));
        // As a node.
        check(t("link_at of"), errno(c.link_at(fd, &root, "stolen")));
        check(t("open_node"), errno(c.open_node(fd, OFlags::RDONLY)));
        check(t("open_node rw"), errno(c.open_node(fd, OFlags::RDWR)));
        check(t("chmod_node"), errno(c.chmod_node(fd, 0o6777)));
        check(t("chown_node"), errno(c.chown_node(fd, 65534, 65534)));
        check(t("truncate_node"), errno(c.truncate_node(fd, 0)));
        check(
            t("utimens_node"),
            errno(c.utimens_node(
                fd,
                Timestamp::At { sec: 1, nsec: 0 },
                Timestamp::At { sec: 1, nsec: 0 },
            )),
        );
        check(t("getxattr_node"), errno(c.getxattr_node(fd, "user.k")));
        check(t("listxattr_node"), errno(c.listxattr_node(fd)));
        check(
            t("setxattr_node"),
            errno(c.setxattr_node(fd, "user.pwn", "1", XattrFlags::empty())),
        );
        check(
            t("removexattr_node"),
            errno(c.removexattr_node(fd, "user.k")),
        );
        check(t("readlink_node"), errno(c.readlink_node(fd)));
        check(t("statfs_node"), errno(c.statfs_node(fd)));
    }
    // Still served after all that.
    assert!(c.lookup_at(&root, "inside").is_ok());
    eprintln!("attacker: {refused} fd-relative requests with foreign fds, all refused (EXDEV)");
}

#[test]
fn foreign_fds_are_refused_for_every_request_type() {
    require_root!();
    let tmp = setup();
    let export = tmp.path().join("export");
    let outside = tmp.path().join("outside");
    let xattrs =
        rustix::fs::setxattr(outside.join("victim"), "user.k", b"v", XattrFlags::empty()).is_ok();
    let snapshot = |p: &Path| {
        let m = std::fs::symlink_metadata(p).unwrap();
        (
            m.mode(),
            m.uid(),
            m.gid(),
            m.len(),
            m.mtime(),
            m.ino(),
            std::fs::read(p).unwrap(),
        )
    };
    let victim0 = snapshot(&outside.join("victim"));
    let secret0 = snapshot(&outside.join("secret"));
    let h = Helper::start(&export, false);
    // The attacker's copy of the helper socket, inheritable.
    let theirs = rustix::io::dup(h.sock.as_fd()).unwrap();
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(&exe)
        .args([
            "attacker_role",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            ATTACK_ENV,
            format!("{}:{}", theirs.as_raw_fd(), outside.display()),
        )
        .output()
        .unwrap();
    drop(theirs);
    let log = String::from_utf8_lossy(&out.stderr);
    eprintln!("{log}");
    assert!(
        out.status.success(),
        "attacker failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(log.contains("all refused"), "the attack did not run");
    // The host is untouched.
    assert_eq!(snapshot(&outside.join("victim")), victim0);
    assert_eq!(snapshot(&outside.join("secret")), secret0);
    let mut names: Vec<_> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["secret", "victim"]);
    if xattrs {
        let mut v = [0u8; 8];
        let n = rustix::fs::getxattr(outside.join("victim"), "user.k", &mut v).unwrap();
        assert_eq!(&v[..n], b"v");
        let mut list = [0u8; 64];
        let n = rustix::fs::listxattr(outside.join("victim"), &mut list).unwrap();
        assert_eq!(&list[..n], b"user.k\0");
    }
    assert!(!export.join("stolen").exists());
    assert!(!export.join("inside/planted").exists());
    // The connection is still in step for its owner.
    let c = client_of(&h);
    assert!(c.lstat("/inside/f").is_ok());
    drop(c);
    h.finish();
}

/// QEMU's own path requests reach files past PATH_MAX too: the helper resolves long
/// paths a chunk at a time, each inside the export.
#[test]
fn qemu_path_requests_past_path_max() {
    require_root!();
    let tmp = setup();
    let export = tmp.path().join("export");
    let h = Helper::start(&export, false);
    let c = client_of(&h);
    let name = "n".repeat(250);
    let mut path = String::new();
    for _ in 0..40 {
        path.push('/');
        path.push_str(&name);
        c.mkdir(&path, 0o755, 0, 0).unwrap();
    }
    assert!(path.len() > 8192);
    let p = |rest: &str| format!("{path}/{rest}");
    // QEMU counts the NUL of the paths it keeps.
    let with_nul = format!("{}\0", p("f"));
    drop(c.create(&with_nul, OFlags::RDWR, 0o644, 0, 0).unwrap());
    c.chmod(p("f"), 0o600).unwrap();
    assert_eq!(c.lstat(p("f")).unwrap().mode & 0o7777, 0o600);
    c.rename(p("f"), p("g")).unwrap();
    c.link(p("g"), p("h")).unwrap();
    c.symlink("g", p("s"), 0, 0).unwrap();
    assert_eq!(c.readlink(p("s")).unwrap(), b"g");
    c.truncate(p("g"), 1).unwrap();
    c.remove(p("h")).unwrap();
    let fd = c.open(p("g"), OFlags::RDONLY).unwrap();
    assert_eq!(rustix::fs::fstat(&fd).unwrap().st_size, 1);
    // Climbing with `..` past the last chunk's start stays inside. (Few of them: a
    // rename anywhere on the host while openat2 resolves `..` makes it retry.)
    let up = format!("{path}{}", "/..".repeat(50));
    let st = c.lstat(&up).unwrap();
    let outside = std::fs::metadata(tmp.path()).unwrap();
    assert_ne!((st.dev, st.ino), (outside.dev(), outside.ino()));
    drop(c);
    h.finish();
}

/// Fds on a submount of the export are accepted even when this helper did not hand them
/// out (the front end walks across a mount point itself, or a sibling helper did): the
/// helper learns its tree's submounts from the mount table at start.
#[test]
fn submounts_fds_are_accepted() {
    require_root!();
    let tmp = setup();
    let export = tmp.path().join("export");
    let sub = export.join("sub");
    std::fs::create_dir(&sub).unwrap();
    rustix::mount::mount(
        "p9proxy-test",
        &sub,
        "tmpfs",
        rustix::mount::MountFlags::empty(),
        None,
    )
    .unwrap();
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = rustix::mount::unmount(self.0, rustix::mount::UnmountFlags::DETACH);
        }
    }
    let _unmount = Unmount(&sub);
    std::fs::write(sub.join("f"), b"on the submount").unwrap();
    let h = Helper::start(&export, false);
    let c = client_of(&h);
    let root = c.open("/", OFlags::PATH | OFlags::NOFOLLOW).unwrap();
    // Walked by us (the front end), not by the helper.
    let sub_fd = rustix::fs::openat(&root, "sub", OFlags::PATH, Mode::empty()).unwrap();
    let f = rustix::fs::openat(&sub_fd, "f", OFlags::PATH, Mode::empty()).unwrap();
    c.chmod_node(&f, 0o604).unwrap();
    c.mkdir_at(&sub_fd, "d", 0o700, 0, 0).unwrap();
    assert_eq!(
        std::fs::metadata(sub.join("f")).unwrap().mode() & 0o7777,
        0o604
    );
    assert!(sub.join("d").is_dir());
    // The host's own mount of that tmpfs is not the helper's copy: refused.
    let host_sub = opath(&sub);
    assert_eq!(
        errno(c.mkdir_at(&host_sub, "pwn", 0o700, 0, 0)),
        Errno::XDEV
    );
    assert!(!sub.join("pwn").exists());
    drop(c);
    h.finish();
}
