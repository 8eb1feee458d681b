//! The path operations (QEMU's helper requests) answer what they answered when each had
//! its own implementation, now that they resolve the path and call the fd form: every
//! operation against every kind of path, errnos included, as one table (recorded from the
//! separate implementations; as root, as the helper runs).

use std::fmt::Write as _;
use std::os::unix::fs::{symlink, PermissionsExt};

use confined_fs::{Credentials, Errno, Export, ExportOptions};
use rustix::fs::OFlags;

/// One fresh export: a file, a directory with a file, symlinks (good and dangling), a FIFO.
fn export() -> (tempfile::TempDir, Export) {
    let tmp = tempfile::tempdir().unwrap();
    let ex = tmp.path().join("export");
    std::fs::create_dir(&ex).unwrap();
    std::fs::write(ex.join("f"), b"content").unwrap();
    std::fs::set_permissions(ex.join("f"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::create_dir(ex.join("d")).unwrap();
    std::fs::write(ex.join("d/x"), b"x").unwrap();
    std::fs::create_dir(ex.join("e")).unwrap();
    symlink("f", ex.join("l")).unwrap();
    symlink("/nowhere", ex.join("dl")).unwrap();
    symlink("d", ex.join("ld")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        ex.join("p"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    let e = Export::new(&ex, ExportOptions::default()).unwrap();
    (tmp, e)
}

const PATHS: &[&str] = &[
    "/f", "f", "/d", "/d/", "/e", "/l", "/l/", "/dl", "/ld", "/ld/x", "/p", "/", "", "/d/..",
    "/d/.", "/nope", "/nope/x", "/f/x", "/d/x", "a\0b",
];

const ROOT: Credentials = Credentials::new(0, 0);

fn show<T>(r: Result<T, Errno>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.raw_os_error().to_string(),
    }
}

fn table() -> String {
    type Op = fn(&Export, &[u8]) -> String;
    let ops: &[(&str, Op)] = &[
        ("lstat", |e, p| show(e.lstat(p))),
        ("statfs", |e, p| show(e.statfs(p))),
        ("readlink", |e, p| show(e.readlink(p))),
        ("chmod", |e, p| show(e.chmod(p, 0o600))),
        ("chown", |e, p| show(e.chown(p, 0, 0))),
        ("truncate", |e, p| show(e.truncate(p, 2))),
        ("utimens", |e, p| show(e.utimens(p, (5, 0), (6, 0)))),
        ("getxattr", |e, p| show(get(e, p, b"user.none"))),
        ("getxattr-nul", |e, p| show(get(e, p, b"user.\0"))),
        ("listxattr", |e, p| show(list(e, p))),
        ("setxattr", |e, p| show(e.setxattr(p, b"user.a", b"v", 0))),
        ("setxattr-flags", |e, p| {
            show(e.setxattr(p, b"user.a", b"v", 99))
        }),
        ("removexattr", |e, p| show(e.removexattr(p, b"user.none"))),
        ("remove", |e, p| show(e.remove(p))),
        ("rename-from", |e, p| show(e.rename(p, b"/new"))),
        ("rename-to", |e, p| show(e.rename(b"/f", p))),
        ("rename-onto-e", |e, p| show(e.rename(p, b"/e"))),
        ("link-from", |e, p| show(e.link(p, b"/new"))),
        ("link-to", |e, p| show(e.link(b"/f", p))),
        ("mkdir", |e, p| show(e.mkdir(p, 0o755, ROOT))),
        ("open", |e, p| show(e.open(p, OFlags::RDONLY.bits() as i32))),
        ("create", |e, p| {
            show(e.create(p, OFlags::RDWR.bits() as i32, 0o644, ROOT))
        }),
    ];
    let mut out = String::new();
    for (name, op) in ops {
        write!(out, "{name}:").unwrap();
        for p in PATHS {
            let (_tmp, e) = export();
            write!(out, " {}", op(&e, p.as_bytes())).unwrap();
        }
        out.push('\n');
    }
    out
}

fn get(e: &Export, p: &[u8], name: &[u8]) -> Result<Vec<u8>, Errno> {
    e.getxattr(p, name)
}

fn list(e: &Export, p: &[u8]) -> Result<Vec<u8>, Errno> {
    e.listxattr(p)
}

#[test]
fn every_path_operation_answers_as_before() {
    let got = table();
    println!("{got}");
    assert_eq!(got, EXPECTED);
}

/// What the separate path implementations answered (each row: one operation, the
/// results for [`PATHS`] in order; a number is the errno).
const EXPECTED: &str = "\
lstat: ok ok ok ok ok ok 20 ok ok ok ok ok 2 ok ok 2 2 20 ok 22\n\
statfs: ok ok ok ok ok ok 20 2 ok ok ok ok 2 ok ok 2 2 20 ok 22\n\
readlink: 22 22 22 22 22 ok ok ok ok 22 22 22 2 22 22 2 2 20 22 22\n\
chmod: ok ok ok ok ok ok 20 2 ok ok ok ok 2 ok ok 2 2 20 ok 22\n\
chown: ok ok ok ok ok ok ok ok ok ok ok ok 2 ok ok 2 2 20 ok 22\n\
truncate: ok ok 21 21 21 ok 20 2 21 ok 22 21 2 21 21 2 2 20 ok 22\n\
utimens: ok ok ok ok ok ok ok ok ok ok ok ok 2 ok ok 2 2 20 ok 22\n\
getxattr: 61 61 61 61 61 61 20 61 61 61 61 61 2 61 61 2 2 20 61 22\n\
getxattr-nul: 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22 22\n\
listxattr: ok ok ok ok ok ok 20 ok ok ok ok ok 2 ok ok 2 2 20 ok 22\n\
setxattr: ok ok ok ok ok 1 20 1 1 ok 1 ok 2 ok ok 2 2 20 ok 22\n\
setxattr-flags: 22 22 22 22 22 1 20 1 1 22 1 22 2 22 22 2 2 20 22 22\n\
removexattr: 61 61 61 61 61 61 20 61 61 61 61 61 2 61 61 2 2 20 61 22\n\
remove: ok ok 39 39 ok ok ok ok ok ok ok 16 2 16 16 2 2 20 ok 22\n\
rename-from: ok ok ok ok ok ok ok ok ok ok ok 16 2 16 16 2 2 20 ok 22\n\
rename-to: ok ok 21 21 21 ok ok ok ok ok ok 16 2 16 16 ok 2 20 ok 22\n\
rename-onto-e: 21 21 ok ok ok 21 21 21 21 21 21 16 2 16 16 2 2 20 21 22\n\
link-from: ok ok 1 1 1 ok ok ok ok ok ok 1 2 1 1 2 2 20 ok 22\n\
link-to: 17 17 17 17 17 17 17 17 17 17 17 17 2 17 17 ok 2 20 17 22\n\
mkdir: 17 17 17 17 17 17 17 17 17 17 17 17 2 17 17 ok 2 20 17 22\n\
open: ok ok ok ok ok ok 20 2 ok ok 6 ok 2 ok ok 2 2 20 ok 22\n\
create: ok ok 21 21 21 40 40 40 40 ok 6 21 2 21 21 ok 2 20 ok 22\n\
";
