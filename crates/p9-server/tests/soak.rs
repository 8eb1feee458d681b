//! Load (issue 4): 64 connections at once for a fixed time, each mixing metadata and data
//! requests (create, write, read, rename, unlink, mkdir, readdir, getattr, setattr, walk,
//! lock) on a subtree of its own and in a shared directory (files of its own there, and
//! its own region of one shared file), on both backends. Every reply is checked against a
//! model the connection keeps; at the end the tree on the host is compared with the union
//! of the models. The server runs in a process of its own (this test binary again), so
//! that one summary line per backend can give requests per second, latency percentiles
//! and the server's own peak RSS (printed, never asserted).
//!
//! Beside them, [`ATTACKERS`] hostile connections (issue 12) run the attacks the
//! server's budgets bound, over and over: deep-path clone floods, fd floods (fids walked
//! and opened), lock floods, xattr-buffer floods, connections that never complete their
//! handshake, garbage frames, and renaming a file from under a fid then changing it
//! through that fid (the new file at the old name must not change). The workload's
//! connections must see no error the model does not expect, and once every client is
//! gone the server's fd count is back at its baseline and its RSS close to it.
//!
//! `P9PROXY_SOAK_SECS` sets the duration (default 10 s, as in CI); `P9PROXY_SOAK_SEED`
//! the pseudo-random seed (default 1).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use p9_client::{Client, Result};

const CONNECTIONS: usize = 64;
/// Hostile connections beside the workload (see the module's doc).
const ATTACKERS: usize = 8;
/// Each connection's region of `shared/log`.
const REGION: usize = 4096;
/// Fids every connection keeps: its subtree, the shared directory, the shared file.
const OWN: u32 = 1;
const SHARED: u32 = 2;
const LOG: u32 = 3;
/// Fids used by one operation and clunked at its end.
const T1: u32 = 10;
const T2: u32 = 11;

fn duration() -> Duration {
    let secs: f64 = std::env::var("P9PROXY_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    Duration::from_secs_f64(secs)
}

fn seed() -> u64 {
    std::env::var("P9PROXY_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

/// xorshift64*: deterministic per connection.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let x = self.next();
        (0..n)
            .map(|i| (x.rotate_left((i % 64) as u32) as u8) ^ (i as u8))
            .collect()
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> Option<&'a T> {
        if v.is_empty() {
            None
        } else {
            Some(&v[self.below(v.len())])
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    File { data: Vec<u8>, mode: u32 },
    Dir { mode: u32 },
}

/// What one connection knows its part of the tree holds.
#[derive(Debug, Default)]
struct Model {
    /// Its subtree `cN/`: paths relative to it (`f1`, `d2`, `d2/f3`); directories one
    /// level deep only.
    own: BTreeMap<String, Entry>,
    /// Its files in `shared/` (`sN-M`).
    shared: BTreeMap<String, Vec<u8>>,
    /// Its region of `shared/log`.
    region: Vec<u8>,
}

fn comps(path: &str) -> Vec<&[u8]> {
    path.split('/')
        .filter(|c| !c.is_empty())
        .map(str::as_bytes)
        .collect()
}

fn split(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some((dir, name)) => (dir, name),
        None => ("", path),
    }
}

/// One connection: its client, the latencies of its requests, its model.
struct Conn {
    id: usize,
    c: Client<UnixStream>,
    lat: Vec<u32>,
    rng: Rng,
    m: Model,
    next_name: u64,
}

impl Conn {
    /// Runs one request, timing it.
    fn rpc<T>(&mut self, f: impl FnOnce(&mut Client<UnixStream>) -> Result<T>) -> Result<T> {
        let t = Instant::now();
        let r = f(&mut self.c);
        self.lat
            .push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
        r
    }

    /// Runs one request that must succeed.
    fn ok<T>(&mut self, what: &str, f: impl FnOnce(&mut Client<UnixStream>) -> Result<T>) -> T {
        let id = self.id;
        self.rpc(f)
            .unwrap_or_else(|e| panic!("connection {id}: {what}: {e}"))
    }

    /// Runs one request that must fail with `want`.
    fn fails<T: std::fmt::Debug>(
        &mut self,
        what: &str,
        want: Errno,
        f: impl FnOnce(&mut Client<UnixStream>) -> Result<T>,
    ) {
        let id = self.id;
        match self.rpc(f) {
            Err(e) if e.errno() == Some(want) => {}
            r => panic!("connection {id}: {what}: expected {want}, got {r:?}"),
        }
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.next_name += 1;
        format!("{prefix}{}", self.next_name)
    }

    fn files(&self) -> Vec<String> {
        self.m
            .own
            .iter()
            .filter(|(_, e)| matches!(e, Entry::File { .. }))
            .map(|(p, _)| p.clone())
            .collect()
    }

    fn dirs(&self) -> Vec<String> {
        self.m
            .own
            .iter()
            .filter(|(_, e)| matches!(e, Entry::Dir { .. }))
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// A directory of the subtree: its root (`""`) or one of its directories.
    fn some_dir(&mut self) -> String {
        let mut dirs = self.dirs();
        dirs.push(String::new());
        self.rng.pick(&dirs).unwrap().clone()
    }

    /// Walks `fid` to `path` of the subtree; checks the qid type.
    fn walk_to(&mut self, fid: u32, path: &str) {
        let names = comps(path);
        let n = names.len();
        let qids = self.ok("walk", |c| c.walk(OWN, fid, &names));
        assert_eq!(qids.len(), n, "connection {}: walk {path}", self.id);
        if let Some(q) = qids.last() {
            let want = match self.m.own.get(path) {
                Some(Entry::Dir { .. }) => QTDIR,
                _ => QTFILE,
            };
            assert_eq!(q.ty, want, "connection {}: qid type of {path}", self.id);
        }
    }

    fn clunk(&mut self, fid: u32) {
        self.ok("clunk", |c| c.clunk(fid));
    }

    fn create(&mut self) {
        let dir = self.some_dir();
        let name = self.fresh("f");
        let path = if dir.is_empty() {
            name.clone()
        } else {
            format!("{dir}/{name}")
        };
        let mode = [0o644, 0o600, 0o640, 0o755][self.rng.below(4)];
        let len = self.rng.below(8192);
        let data = self.rng.bytes(len);
        self.walk_to(T1, &dir);
        let q = self.ok("lcreate", |c| {
            c.lcreate(T1, name.as_bytes(), P9_DOTL_RDWR | P9_DOTL_EXCL, mode, 0)
        });
        assert_eq!(q.ty, QTFILE);
        if !data.is_empty() {
            let n = self.ok("write", |c| c.write(T1, 0, &data));
            assert_eq!(n as usize, data.len());
        }
        self.clunk(T1);
        self.m.own.insert(path, Entry::File { data, mode });
    }

    fn create_existing(&mut self) {
        let Some(path) = self.rng.pick(&self.files()).cloned() else {
            return;
        };
        let (dir, name) = split(&path);
        self.walk_to(T1, dir);
        self.fails("lcreate of an existing name", Errno::EXIST, |c| {
            c.lcreate(T1, name.as_bytes(), P9_DOTL_RDWR | P9_DOTL_EXCL, 0o644, 0)
        });
        self.clunk(T1);
    }

    fn write(&mut self) {
        let Some(path) = self.rng.pick(&self.files()).cloned() else {
            return;
        };
        let Some(Entry::File { data, .. }) = self.m.own.get(&path) else {
            unreachable!()
        };
        let len = data.len();
        let off = self.rng.below(len + 1000);
        let chunk = 1 + self.rng.below(16 << 10);
        let bytes = self.rng.bytes(chunk);
        self.walk_to(T1, &path);
        self.ok("lopen for writing", |c| c.lopen(T1, P9_DOTL_WRONLY));
        let n = self.ok("write", |c| c.write(T1, off as u64, &bytes));
        assert_eq!(n as usize, bytes.len());
        self.clunk(T1);
        let Some(Entry::File { data, .. }) = self.m.own.get_mut(&path) else {
            unreachable!()
        };
        if data.len() < off + chunk {
            data.resize(off + chunk, 0);
        }
        data[off..off + chunk].copy_from_slice(&bytes);
    }

    /// Reads the open `fid` whole, one request per 32 KiB.
    fn read_whole(&mut self, fid: u32) -> Vec<u8> {
        let mut all = Vec::new();
        loop {
            let off = all.len() as u64;
            let chunk = self.ok("read", |c| c.read(fid, off, 32 << 10));
            if chunk.is_empty() {
                return all;
            }
            all.extend(chunk);
        }
    }

    fn read(&mut self) {
        let Some(path) = self.rng.pick(&self.files()).cloned() else {
            return;
        };
        self.walk_to(T1, &path);
        self.ok("lopen for reading", |c| c.lopen(T1, P9_DOTL_RDONLY));
        let got = self.read_whole(T1);
        self.clunk(T1);
        let Some(Entry::File { data, .. }) = self.m.own.get(&path) else {
            unreachable!()
        };
        assert!(
            &got == data,
            "connection {}: {path}: read {} bytes, model has {}",
            self.id,
            got.len(),
            data.len()
        );
    }

    fn getattr(&mut self) {
        let paths: Vec<String> = self.m.own.keys().cloned().collect();
        let Some(path) = self.rng.pick(&paths).cloned() else {
            return;
        };
        self.walk_to(T1, &path);
        let a = self.ok("getattr", |c| c.getattr(T1));
        self.clunk(T1);
        let (ty, perm, size) = match &self.m.own[&path] {
            Entry::File { data, mode } => (libc::S_IFREG, *mode, Some(data.len() as u64)),
            Entry::Dir { mode } => (libc::S_IFDIR, *mode, None),
        };
        assert_eq!(a.mode & libc::S_IFMT, ty, "connection {}: {path}", self.id);
        assert_eq!(a.mode & 0o7777, perm, "connection {}: {path}", self.id);
        if let Some(size) = size {
            assert_eq!(a.size, size, "connection {}: {path}", self.id);
        }
    }

    fn setattr(&mut self) {
        let paths: Vec<String> = self.m.own.keys().cloned().collect();
        let Some(path) = self.rng.pick(&paths).cloned() else {
            return;
        };
        let is_file = matches!(self.m.own[&path], Entry::File { .. });
        let new_mode = [0o600, 0o644, 0o700, 0o755][self.rng.below(4)];
        let new_size = self.rng.below(20_000);
        let truncate = is_file && self.rng.below(2) == 0;
        let t = if truncate {
            Setattr::of(T1).size(new_size as u64)
        } else {
            Setattr::of(T1).mode(new_mode)
        };
        self.walk_to(T1, &path);
        self.ok("setattr", |c| c.setattr(t));
        self.clunk(T1);
        match self.m.own.get_mut(&path).unwrap() {
            Entry::File { data, .. } if truncate => data.resize(new_size, 0),
            Entry::File { mode, .. } | Entry::Dir { mode } => *mode = new_mode,
        }
    }

    fn rename(&mut self) {
        let paths: Vec<String> = self.m.own.keys().cloned().collect();
        let Some(old) = self.rng.pick(&paths).cloned() else {
            return;
        };
        let is_dir = matches!(self.m.own[&old], Entry::Dir { .. });
        // Directories stay one level deep; files go to any directory.
        let (newdir, newname) = if is_dir {
            (String::new(), self.fresh("d"))
        } else {
            (self.some_dir(), self.fresh("f"))
        };
        let new = if newdir.is_empty() {
            newname.clone()
        } else {
            format!("{newdir}/{newname}")
        };
        let (olddir, oldname) = split(&old);
        let olddir = olddir.to_string();
        self.walk_to(T1, &olddir);
        self.walk_to(T2, &newdir);
        self.ok("renameat", |c| {
            c.renameat(T1, oldname.as_bytes(), T2, newname.as_bytes())
        });
        self.clunk(T1);
        self.clunk(T2);
        let moved: Vec<String> = self
            .m
            .own
            .keys()
            .filter(|p| *p == &old || p.starts_with(&format!("{old}/")))
            .cloned()
            .collect();
        for p in moved {
            let e = self.m.own.remove(&p).unwrap();
            self.m.own.insert(format!("{new}{}", &p[old.len()..]), e);
        }
    }

    fn unlink(&mut self) {
        let paths: Vec<String> = self.m.own.keys().cloned().collect();
        let Some(path) = self.rng.pick(&paths).cloned() else {
            return;
        };
        let (dir, name) = split(&path);
        let dir = dir.to_string();
        self.walk_to(T1, &dir);
        match self.m.own[&path] {
            Entry::File { .. } => {
                self.fails("unlinkat(AT_REMOVEDIR) of a file", Errno::NOTDIR, |c| {
                    c.unlinkat(T1, name.as_bytes(), P9_DOTL_AT_REMOVEDIR)
                });
                self.ok("unlinkat", |c| c.unlinkat(T1, name.as_bytes(), 0));
                self.m.own.remove(&path);
            }
            Entry::Dir { .. } => {
                self.fails("unlinkat of a directory", Errno::ISDIR, |c| {
                    c.unlinkat(T1, name.as_bytes(), 0)
                });
                let prefix = format!("{path}/");
                if self.m.own.keys().any(|p| p.starts_with(&prefix)) {
                    self.fails("rmdir of a full directory", Errno::NOTEMPTY, |c| {
                        c.unlinkat(T1, name.as_bytes(), P9_DOTL_AT_REMOVEDIR)
                    });
                } else {
                    self.ok("rmdir", |c| {
                        c.unlinkat(T1, name.as_bytes(), P9_DOTL_AT_REMOVEDIR)
                    });
                    self.m.own.remove(&path);
                }
            }
        }
        self.clunk(T1);
    }

    fn mkdir(&mut self) {
        if self.dirs().len() >= 6 {
            return self.unlink();
        }
        let name = self.fresh("d");
        let mode = [0o755, 0o700, 0o750][self.rng.below(3)];
        let q = self.ok("mkdir", |c| c.mkdir(OWN, name.as_bytes(), mode, 0));
        assert_eq!(q.ty, QTDIR);
        self.m.own.insert(name, Entry::Dir { mode });
    }

    /// The entries of the open directory `fid` (without `.` and `..`): names and types.
    fn list(&mut self, fid: u32) -> BTreeMap<String, u8> {
        let mut names = BTreeMap::new();
        let mut offset = 0;
        loop {
            let batch = self.ok("readdir", |c| c.readdir(fid, offset, 2048));
            let Some(last) = batch.last() else {
                return names;
            };
            offset = last.offset;
            for d in batch {
                if d.name != b"." && d.name != b".." {
                    let n = String::from_utf8(d.name).unwrap();
                    assert!(names.insert(n, d.ty).is_none(), "an entry listed twice");
                }
            }
        }
    }

    fn readdir(&mut self) {
        let dir = self.some_dir();
        self.walk_to(T1, &dir);
        self.ok("lopen of a directory", |c| {
            c.lopen(T1, P9_DOTL_RDONLY | P9_DOTL_DIRECTORY)
        });
        let got = self.list(T1);
        self.clunk(T1);
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let want: BTreeMap<String, u8> = self
            .m
            .own
            .iter()
            .filter_map(|(p, e)| {
                let rest = p.strip_prefix(&prefix)?;
                (!rest.contains('/')).then(|| {
                    let ty = match e {
                        Entry::File { .. } => libc::DT_REG,
                        Entry::Dir { .. } => libc::DT_DIR,
                    };
                    (rest.to_string(), ty)
                })
            })
            .collect();
        assert_eq!(got, want, "connection {}: readdir of {dir:?}", self.id);
    }

    fn walk_missing(&mut self) {
        let name = self.fresh("missing");
        self.fails("walk to nothing", Errno::NOENT, |c| {
            c.walk(OWN, T1, &[name.as_bytes()])
        });
    }

    fn shared_create(&mut self) {
        if self.m.shared.len() >= 24 {
            return self.shared_remove_or_rename();
        }
        let name = {
            let n = self.fresh("");
            format!("s{}-{n}", self.id)
        };
        let len = self.rng.below(4096);
        let data = self.rng.bytes(len);
        self.ok("walk", |c| c.walk(SHARED, T1, &[]));
        let q = self.ok("lcreate in shared", |c| {
            c.lcreate(T1, name.as_bytes(), P9_DOTL_RDWR | P9_DOTL_EXCL, 0o644, 0)
        });
        assert_eq!(q.ty, QTFILE);
        if !data.is_empty() {
            let n = self.ok("write", |c| c.write(T1, 0, &data));
            assert_eq!(n as usize, data.len());
        }
        self.clunk(T1);
        self.m.shared.insert(name, data);
    }

    fn shared_remove_or_rename(&mut self) {
        let names: Vec<String> = self.m.shared.keys().cloned().collect();
        let Some(name) = self.rng.pick(&names).cloned() else {
            return self.shared_create();
        };
        if self.rng.below(2) == 0 {
            self.ok("unlinkat in shared", |c| {
                c.unlinkat(SHARED, name.as_bytes(), 0)
            });
            self.m.shared.remove(&name);
        } else {
            let new = {
                let n = self.fresh("");
                format!("s{}-{n}", self.id)
            };
            self.ok("renameat in shared", |c| {
                c.renameat(SHARED, name.as_bytes(), SHARED, new.as_bytes())
            });
            let data = self.m.shared.remove(&name).unwrap();
            self.m.shared.insert(new, data);
        }
    }

    fn shared_readdir(&mut self) {
        self.ok("walk", |c| c.walk(SHARED, T1, &[]));
        self.ok("lopen of shared", |c| {
            c.lopen(T1, P9_DOTL_RDONLY | P9_DOTL_DIRECTORY)
        });
        let got = self.list(T1);
        self.clunk(T1);
        // Others' files come and go; this connection's are exactly its model.
        let mine = format!("s{}-", self.id);
        let own: BTreeSet<&String> = got.keys().filter(|n| n.starts_with(&mine)).collect();
        let want: BTreeSet<&String> = self.m.shared.keys().collect();
        assert_eq!(own, want, "connection {}: readdir of shared", self.id);
        assert!(got.contains_key("log"));
        for n in got.keys() {
            assert!(n == "log" || n.starts_with('s'), "stray {n:?} in shared");
        }
    }

    fn log_write(&mut self) {
        let off = self.rng.below(REGION);
        let len = 1 + self.rng.below(REGION - off);
        let bytes = self.rng.bytes(len);
        let at = (self.id * REGION + off) as u64;
        // Its own region, under an OFD lock (never contended: regions are disjoint).
        let status = self.ok("lock", |c| {
            c.lock(LOG, P9_LOCK_TYPE_WRLCK, at, len as u64, 1)
        });
        assert_eq!(status, P9_LOCK_SUCCESS);
        let n = self.ok("write to shared/log", |c| c.write(LOG, at, &bytes));
        assert_eq!(n as usize, len);
        let status = self.ok("unlock", |c| {
            c.lock(LOG, P9_LOCK_TYPE_UNLCK, at, len as u64, 1)
        });
        assert_eq!(status, P9_LOCK_SUCCESS);
        self.m.region[off..off + len].copy_from_slice(&bytes);
    }

    fn log_read(&mut self) {
        let at = (self.id * REGION) as u64;
        let got = self.ok("read of shared/log", |c| c.read(LOG, at, REGION as u32));
        assert!(
            got == self.m.region,
            "connection {}: its log region",
            self.id
        );
    }

    /// One operation, chosen at random (most are several requests).
    fn step(&mut self) {
        let files = self.files().len();
        match self.rng.below(100) {
            _ if files < 3 => self.create(),
            0..=9 if files > 48 => self.unlink(),
            0..=9 => self.create(),
            10..=11 => self.create_existing(),
            12..=25 => self.write(),
            26..=39 => self.read(),
            40..=49 => self.getattr(),
            50..=55 => self.setattr(),
            56..=62 => self.rename(),
            63..=70 => self.unlink(),
            71..=73 => self.mkdir(),
            74..=79 => self.readdir(),
            80..=81 => self.walk_missing(),
            82..=85 => self.shared_create(),
            86..=89 => self.shared_remove_or_rename(),
            90..=91 => self.shared_readdir(),
            92..=96 => self.log_write(),
            _ => self.log_read(),
        }
    }
}

/// Levels of the deep chain under `attack/` (250-byte names: a 4 KiB path).
const DEEP_LEVELS: usize = 16;
const DEEP_NAME: [u8; 250] = [b'd'; 250];

/// One hostile connection: runs the attacks in turn until the deadline.
struct Attacker {
    id: usize,
    sock: std::path::PathBuf,
    export: std::path::PathBuf,
    c: Client<UnixStream>,
    rounds: u64,
    refused: BTreeMap<String, u64>,
}

impl Attacker {
    fn new(id: usize, sock: &Path, export: &Path) -> Attacker {
        let mut c = Client::new(UnixStream::connect(sock).unwrap());
        c.version(256 << 10).unwrap();
        c.attach(ROOT, 0).unwrap();
        Attacker {
            id,
            sock: sock.to_path_buf(),
            export: export.to_path_buf(),
            c,
            rounds: 0,
            refused: BTreeMap::new(),
        }
    }

    /// Counts a refusal of `what` (the server bounding the attack).
    fn refused(&mut self, what: &str, e: &p9_client::ClientError) {
        let errno = e
            .errno()
            .unwrap_or_else(|| panic!("attacker {}: {what}: {e}", self.id));
        *self.refused.entry(format!("{what}: {errno}")).or_default() += 1;
    }

    /// Clunks fids `first..first + n`.
    fn clunk_all(&mut self, first: u32, n: u32) {
        for f in first..first + n {
            self.c.clunk(f).unwrap();
        }
    }

    /// Clones a fid at the bottom of the deep chain until refused (at most 3,000).
    fn clone_flood(&mut self) {
        self.c.walk(ROOT, 2, &[b"attack"]).unwrap();
        self.c
            .walk(2, 1, &vec![&DEEP_NAME[..]; DEEP_LEVELS])
            .unwrap();
        self.c.clunk(2).unwrap();
        let mut n = 0;
        while n < 3_000 {
            match self.c.walk(1, 100 + n, &[]) {
                Ok(_) => n += 1,
                Err(e) => {
                    self.refused("clone", &e);
                    break;
                }
            }
        }
        self.clunk_all(100, n);
        self.c.clunk(1).unwrap();
    }

    /// Walks and opens fids of one file until refused (at most 3,000).
    fn fd_flood(&mut self) {
        let mut n = 0;
        while n < 3_000 {
            if let Err(e) = self.c.walk(ROOT, 100 + n, &[b"attack", b"f"]) {
                self.refused("walk", &e);
                break;
            }
            n += 1;
            if let Err(e) = self.c.lopen(100 + n - 1, P9_DOTL_RDONLY) {
                self.refused("open", &e);
                break;
            }
        }
        self.clunk_all(100, n);
    }

    /// Takes disjoint locks on a file of its own until refused (at most 1,100).
    fn lock_flood(&mut self) {
        let name = format!("lk{}", self.id);
        self.c.walk(ROOT, 1, &[b"attack", name.as_bytes()]).unwrap();
        self.c.lopen(1, P9_DOTL_RDWR).unwrap();
        for i in 0..1_100u64 {
            match self.c.lock(1, P9_LOCK_TYPE_WRLCK, 2 * i, 1, self.id as u32) {
                Ok(st) => assert_eq!(st, P9_LOCK_SUCCESS),
                Err(e) => {
                    self.refused("lock", &e);
                    break;
                }
            }
        }
        self.c.clunk(1).unwrap();
    }

    /// Reads a 4,000-byte xattr into fids until refused (at most 3,000).
    fn xattr_flood(&mut self) {
        self.c.walk(ROOT, 1, &[b"attack", b"f"]).unwrap();
        let mut n = 0;
        while n < 3_000 {
            match self.c.xattrwalk(1, 100 + n, b"user.big") {
                Ok(size) => {
                    assert_eq!(size, 4000);
                    n += 1;
                }
                Err(e) => {
                    self.refused("xattrwalk", &e);
                    break;
                }
            }
        }
        self.clunk_all(100, n);
        self.c.clunk(1).unwrap();
    }

    /// Connections that say nothing, or only Tversion, or garbage, then go.
    fn idle_and_garbage(&mut self) {
        let mut held = Vec::new();
        for i in 0..8u8 {
            let Ok(mut s) = UnixStream::connect(&self.sock) else {
                continue;
            };
            match i % 4 {
                0 => {}
                1 => {
                    let mut c = Client::new(s.try_clone().unwrap());
                    let _ = c.version(8192);
                }
                2 => {
                    // A frame claiming 4 GiB.
                    let _ = s.write_all(&[0xff, 0xff, 0xff, 0xff, 100, 0, 0]);
                }
                _ => {
                    // A well-sized frame of an unknown type.
                    let _ = s.write_all(&[11, 0, 0, 0, 255, 1, 0, 1, 2, 3, 4]);
                }
            }
            held.push(s);
        }
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
    }

    /// Holds a fid on a file, renames the file away, makes a new file at the old name,
    /// and changes mode and size through the fid: the new file must not change.
    fn stale_fid(&mut self) {
        let dir = format!("s{}", self.id);
        let (old, new) = ("f", "moved");
        self.c.walk(ROOT, 1, &[b"attack", dir.as_bytes()]).unwrap();
        self.c.walk(1, 2, &[]).unwrap();
        self.c
            .lcreate(2, old.as_bytes(), P9_DOTL_RDWR, 0o600, 0)
            .unwrap();
        self.c.walk(1, 3, &[old.as_bytes()]).unwrap();
        // Someone else (here the host) moves the file and makes a new one in its place:
        // the server cannot have followed that on the fid's name.
        let host_dir = self.export.join("attack").join(&dir);
        std::fs::rename(host_dir.join(old), host_dir.join(new)).unwrap();
        std::fs::write(host_dir.join(old), b"the new file").unwrap();
        std::fs::set_permissions(host_dir.join(old), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        let set = Setattr::of(3).mode(0o777).size(0);
        match self.c.setattr(set) {
            // It acted on the fid's own file, wherever that went.
            Ok(()) => {
                let moved = host_dir.join(new);
                let md = std::fs::metadata(&moved).unwrap();
                assert_eq!((md.permissions().mode() & 0o777, md.len()), (0o777, 0));
            }
            // ESTALE where the backend can only tell that the fid's name moved.
            Err(e) => self.refused("setattr of a moved file", &e),
        }
        let host = host_dir.join(old);
        let md = std::fs::metadata(&host).unwrap();
        assert_eq!(
            (
                md.permissions().mode() & 0o777,
                std::fs::read(&host).unwrap()
            ),
            (0o640, b"the new file".to_vec()),
            "attacker {}: a change through a fid of a moved file hit the new file",
            self.id
        );
        for f in [2, 3] {
            self.c.clunk(f).unwrap();
        }
        self.c.unlinkat(1, old.as_bytes(), 0).unwrap();
        self.c.unlinkat(1, new.as_bytes(), 0).unwrap();
        self.c.clunk(1).unwrap();
    }

    fn run(mut self, deadline: Instant) -> Attacker {
        while Instant::now() < deadline {
            match self.rounds % 6 {
                0 => self.clone_flood(),
                1 => self.fd_flood(),
                2 => self.lock_flood(),
                3 => self.xattr_flood(),
                4 => self.idle_and_garbage(),
                _ => self.stale_fid(),
            }
            self.rounds += 1;
        }
        self
    }
}

/// The attackers' part of the export: the deep chain, a file with a 4,000-byte xattr,
/// a lock file and a directory each.
fn prepare_attack(export: &Path) {
    let attack = export.join("attack");
    let mut deep = attack.clone();
    for _ in 0..DEEP_LEVELS {
        deep.push(std::str::from_utf8(&DEEP_NAME).unwrap());
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(attack.join("f"), b"attack").unwrap();
    rustix::fs::setxattr(
        attack.join("f"),
        "user.big",
        &[b'v'; 4000],
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    for i in 0..ATTACKERS {
        std::fs::write(attack.join(format!("lk{i}")), b"").unwrap();
        std::fs::create_dir(attack.join(format!("s{i}"))).unwrap();
    }
}

/// Open fds of process `pid`.
/// The tree under `dir` on the host, as the model describes it.
fn host_tree(dir: &Path) -> BTreeMap<String, Entry> {
    fn walk(base: &Path, rel: &str, out: &mut BTreeMap<String, Entry>) {
        let here = if rel.is_empty() {
            base.to_path_buf()
        } else {
            base.join(rel)
        };
        for e in std::fs::read_dir(here).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            let path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let md = std::fs::symlink_metadata(e.path()).unwrap();
            let mode = md.permissions().mode() & 0o7777;
            if md.is_dir() {
                out.insert(path.clone(), Entry::Dir { mode });
                walk(base, &path, out);
            } else {
                assert!(md.is_file(), "{path}: not a file or directory");
                let data = std::fs::read(e.path()).unwrap();
                out.insert(path, Entry::File { data, mode });
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

server_process_test!();

fn soak(kind: Kind) {
    let name = kind.name();
    rustix::process::umask(rustix::fs::Mode::empty());
    let tmp = tempfile::tempdir().unwrap();
    let export = tmp.path().join("export");
    std::fs::create_dir(&export).unwrap();
    std::fs::create_dir(export.join("shared")).unwrap();
    std::fs::write(export.join("shared/log"), vec![0u8; CONNECTIONS * REGION]).unwrap();
    for i in 0..CONNECTIONS {
        std::fs::create_dir(export.join(format!("c{i}"))).unwrap();
    }
    prepare_attack(&export);
    let server = ServerProc::start_on(tmp, kind, &[]);
    let sock = server.sock().to_path_buf();
    let (base_fds, base_rss) = (server.fds(), server.status_kib("VmRSS"));
    let run_for = duration();
    let seed = seed();
    let start = Instant::now();
    let deadline = start + run_for;
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|id| {
            let ours = UnixStream::connect(&sock).unwrap();
            std::thread::spawn(move || {
                let mut c = Client::new(ours);
                c.version(256 << 10).unwrap();
                c.attach(ROOT, 0).unwrap();
                c.walk(ROOT, OWN, &[format!("c{id}").as_bytes()]).unwrap();
                c.walk(ROOT, SHARED, &[b"shared"]).unwrap();
                c.walk(SHARED, LOG, &[b"log"]).unwrap();
                c.lopen(LOG, P9_DOTL_RDWR).unwrap();
                let mut conn = Conn {
                    id,
                    c,
                    lat: Vec::with_capacity(1 << 16),
                    rng: Rng::new(seed ^ (id as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)),
                    m: Model {
                        region: vec![0; REGION],
                        ..Model::default()
                    },
                    next_name: 0,
                };
                let mut ops = 0u64;
                while Instant::now() < deadline {
                    conn.step();
                    ops += 1;
                }
                (conn.m, conn.lat, ops)
            })
        })
        .collect();
    let attackers: Vec<_> = (0..ATTACKERS)
        .map(|id| {
            let a = Attacker::new(id, &sock, &export);
            std::thread::spawn(move || a.run(deadline))
        })
        .collect();
    let mut models = Vec::new();
    let mut lat: Vec<u32> = Vec::new();
    let mut ops = 0;
    for t in threads {
        let (m, l, o) = t.join().unwrap();
        models.push(m);
        lat.extend(l);
        ops += o;
    }
    let mut attacks = 0;
    let mut refused: BTreeMap<String, u64> = BTreeMap::new();
    for a in attackers {
        let a = a.join().unwrap();
        attacks += a.rounds;
        for (k, v) in a.refused {
            *refused.entry(k).or_default() += v;
        }
    }
    let elapsed = start.elapsed();
    let (peak, helper_peak) = server.peaks();
    // Every client is gone: what they made the server hold is given back.
    let settle = Instant::now() + Duration::from_secs(30);
    while server.fds() > base_fds && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (end_fds, end_rss) = (server.fds(), server.status_kib("VmRSS"));
    assert!(
        end_fds <= base_fds,
        "{name}: the server holds {end_fds} fds after every client left, {base_fds} before"
    );
    // Freed memory mostly stays with the allocator (thread arenas); it must not grow with
    // the attacks, which the budgets bound far below this.
    assert!(
        end_rss <= base_rss + 64 * 1024,
        "{name}: RSS {end_rss} KiB after every client left, {base_rss} KiB before"
    );
    eprintln!(
        "soak {name}: {ATTACKERS} attackers ran {attacks} attacks, refused: {refused:?}; \
         server fds {base_fds} before, {end_fds} after; RSS {} MiB before, {} MiB after",
        base_rss / 1024,
        end_rss / 1024
    );

    // The tree on the host is what the models say, every byte and mode of it.
    let mut files = 0;
    let mut dirs = 0;
    for (i, m) in models.iter().enumerate() {
        let got = host_tree(&export.join(format!("c{i}")));
        for e in got.values() {
            match e {
                Entry::File { .. } => files += 1,
                Entry::Dir { .. } => dirs += 1,
            }
        }
        if got != m.own {
            let a: BTreeSet<_> = got.keys().collect();
            let b: BTreeSet<_> = m.own.keys().collect();
            panic!(
                "{name}: c{i} differs from its model: only on disk {:?}, only in the model \
                 {:?}, differing {:?}",
                a.difference(&b).collect::<Vec<_>>(),
                b.difference(&a).collect::<Vec<_>>(),
                a.intersection(&b)
                    .filter(|k| got[**k] != m.own[**k])
                    .collect::<Vec<_>>()
            );
        }
    }
    let mut shared = host_tree(&export.join("shared"));
    let log = shared.remove("log").unwrap();
    let want_log: Vec<u8> = models.iter().flat_map(|m| m.region.clone()).collect();
    let Entry::File { data: log, .. } = log else {
        panic!("shared/log is not a file")
    };
    assert!(
        log == want_log,
        "{name}: shared/log differs from the regions written"
    );
    let want_shared: BTreeMap<String, Entry> = models
        .iter()
        .flat_map(|m| m.shared.clone())
        .map(|(n, data)| (n, Entry::File { data, mode: 0o644 }))
        .collect();
    files += shared.len();
    assert!(
        shared == want_shared,
        "{name}: shared/ differs from the models"
    );

    lat.sort_unstable();
    let requests = lat.len();
    eprintln!(
        "soak {name}: {CONNECTIONS} connections, {:.1} s, {ops} operations, {requests} requests \
         ({:.0} req/s), latency p50 {} us, p99 {} us, max {} us; peak RSS (VmHWM) {} MiB{}; \
         final tree {files} files, {dirs} directories: matches the model; seed {seed}, {} build",
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64(),
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(0),
        peak / 1024,
        if kind == Kind::Proxy {
            format!(
                " (server process; largest helper {} MiB)",
                helper_peak / 1024
            )
        } else {
            " (server process)".to_string()
        },
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    server.finish();
}

over_both_backends!(soak);
