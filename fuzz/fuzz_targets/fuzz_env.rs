//! What the two request-handling targets share: an export in a temporary directory
//! (on /dev/shm when there is one), seeded with a few files and reset before every
//! input, and a sibling directory outside it whose every byte, mode and name must
//! survive every input.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub struct Env {
    _tmp: tempfile::TempDir,
    pub export: PathBuf,
    outside: PathBuf,
    top: PathBuf,
    before: Snapshot,
}

/// Names, types, modes, owners, sizes and contents of a tree (symlinks not followed).
pub type Snapshot = BTreeMap<PathBuf, (u32, u32, u32, Vec<u8>)>;

pub fn snapshot(dir: &Path) -> Snapshot {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let md = std::fs::symlink_metadata(&d).unwrap();
        out.insert(d.clone(), (md.mode(), md.uid(), md.gid(), Vec::new()));
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            if md.is_dir() {
                stack.push(p);
            } else {
                let content = if md.is_file() {
                    std::fs::read(&p).unwrap()
                } else if md.is_symlink() {
                    std::fs::read_link(&p)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes()
                } else {
                    Vec::new()
                };
                out.insert(p, (md.mode(), md.uid(), md.gid(), content));
            }
        }
    }
    out
}

/// Makes everything under `dir` removable by anyone, then removes it.
fn clear(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let md = std::fs::symlink_metadata(&p).unwrap();
        if md.is_dir() {
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o700));
            clear(&p);
            std::fs::remove_dir(&p).unwrap();
        } else {
            std::fs::remove_file(&p).unwrap();
        }
    }
}

impl Env {
    pub fn new() -> Env {
        rustix::process::umask(rustix::fs::Mode::empty());
        let base = if Path::new("/dev/shm").is_dir() {
            tempfile::tempdir_in("/dev/shm")
        } else {
            tempfile::tempdir()
        };
        let tmp = base.unwrap();
        let top = tmp.path().to_path_buf();
        let export = top.join("export");
        let outside = top.join("outside");
        std::fs::create_dir(&export).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("secret"), b"SECRET").unwrap();
        std::fs::create_dir(outside.join("dir")).unwrap();
        std::fs::write(outside.join("dir/inner"), b"INNER").unwrap();
        // Ways out that a request might try: links pointing outside, from inside.
        let mut env = Env {
            _tmp: tmp,
            export,
            outside,
            top,
            before: Snapshot::new(),
        };
        env.reset();
        env.before = env.outside_state();
        env
    }

    /// The export as every input starts with it.
    pub fn reset(&self) {
        let e = &self.export;
        std::fs::set_permissions(e, std::fs::Permissions::from_mode(0o755)).unwrap();
        if rustix::process::geteuid().is_root() {
            let _ = std::os::unix::fs::lchown(e, Some(0), Some(0));
        }
        clear(e);
        std::fs::write(e.join("a"), b"hello, world\n").unwrap();
        std::fs::write(e.join("empty"), b"").unwrap();
        std::fs::create_dir(e.join("d")).unwrap();
        std::fs::write(e.join("d/b"), vec![7u8; 10000]).unwrap();
        std::fs::create_dir(e.join("d/sub")).unwrap();
        std::os::unix::fs::symlink("a", e.join("ln")).unwrap();
        std::os::unix::fs::symlink(&self.outside, e.join("out")).unwrap();
        std::os::unix::fs::symlink("../outside/secret", e.join("d/up")).unwrap();
    }

    /// Everything outside the export: the sibling tree, and the names at the top.
    fn outside_state(&self) -> Snapshot {
        let mut s = snapshot(&self.outside);
        for e in std::fs::read_dir(&self.top).unwrap() {
            let p = e.unwrap().path();
            s.entry(p).or_insert((0, 0, 0, Vec::new()));
        }
        let md = std::fs::symlink_metadata(&self.top).unwrap();
        s.insert(
            self.top.clone(),
            (md.mode(), md.uid(), md.gid(), Vec::new()),
        );
        s
    }

    /// Fails if anything outside the export changed.
    pub fn check_outside(&self) {
        let now = self.outside_state();
        if now != self.before {
            let changed: Vec<_> = now
                .iter()
                .filter(|(k, v)| self.before.get(*k) != Some(v))
                .map(|(k, _)| k)
                .chain(self.before.keys().filter(|k| !now.contains_key(*k)))
                .collect();
            panic!("changed outside the export: {changed:?}");
        }
    }
}
