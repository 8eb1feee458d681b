//! `p9-bench`: our 9P2000.L server (`p9proxy serve`, each backend) and diod side by side, over
//! loopback TCP and a Unix socket, with one client (`p9-wire`) and a floor.
//!
//! Run as root from the workspace (`cargo run --release -p p9-bench`, or the built binary);
//! `p9-bench --help` lists the rows and the environment variables.

#![forbid(unsafe_code)]

mod client;
mod floor;
mod servers;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use client::{BenchError, Conn, Result, ROOT_FID};
use p9_client::Addr;
use p9_wire::{max_io_count, P9_DOTL_CREATE, P9_DOTL_RDONLY, P9_DOTL_WRONLY, P9_GETATTR_BASIC};
use rustix::io::Errno;
use servers::{which, ServerProc};

const HELP: &str = "\
p9-bench: our 9P2000.L server against diod, side by side, with the same client

usage: p9-bench            (as root; both servers export a fresh directory as root)

Sides:  floor  a null 9P server in this process: canned replies of the right size, no file
               system (the bare request/reply round trip over the same transport)
        diod   Debian's diod: diod -f -n -L stderr -l ADDR -e EXPORT
        local  $P9PROXY_SERVER serve EXPORT --listen ADDR --backend local
        proxy  the same with --backend proxy (privilege-separated)
Rows:   getattr          Tgetattr of one file
        walk-open-clunk  Twalk (1 name) + Tlopen + Tclunk
        create-unlink    Twalk (clone) + Tlcreate + Tclunk + Tunlinkat
        read             sequential Tread of a large file at the side's largest msize
        write            sequential Twrite to a file at the side's largest msize
        each at 1 connection and at 8 (8 threads, one connection each).
Every side runs each row for P9BENCH_SECS, split in P9BENCH_ROUNDS rounds whose side order
alternates. Columns: ops/s (MB/s for read/write) and us/op = 1e6 / (ops/s), i.e. the latency
on 1 connection and the inverse throughput on 8; x/floor = time per op against the floor's
(1.00 = at the floor); ours/diod and proxy/local = throughput ratios (>1 = faster).

Environment (defaults in brackets):
  P9PROXY_SERVER        our server [<workspace>/target/release/p9proxy]; missing: skipped
  P9BENCH_DIOD          diod [diod from PATH or /usr/sbin]; missing: skipped
  P9BENCH_SECS [2]  P9BENCH_ROUNDS [2]  P9BENCH_CONNS [1 8]
  P9BENCH_TRANSPORTS [tcp unix]  P9BENCH_SIDES [floor diod local proxy]
  P9BENCH_ROWS [getattr walk-open-clunk create-unlink read write]
  P9BENCH_MSIZE         msize the client offers [8388608]
  P9BENCH_FLOOR_MSIZE_TCP [1048576]  P9BENCH_FLOOR_MSIZE_UNIX [4194304]
  P9BENCH_FILE_MB       size of the read file; write files wrap at half of it [64]
  P9BENCH_DIR           where the export is made [$TMPDIR or /tmp]; P9BENCH_KEEP=1 keeps it
";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Floor,
    Diod,
    Local,
    Proxy,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Floor => "floor",
            Side::Diod => "diod",
            Side::Local => "local",
            Side::Proxy => "proxy",
        }
    }
    fn parse(s: &str) -> Option<Side> {
        [Side::Floor, Side::Diod, Side::Local, Side::Proxy]
            .into_iter()
            .find(|x| x.name() == s)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Row {
    Getattr,
    WalkOpenClunk,
    CreateUnlink,
    Read,
    Write,
}

impl Row {
    const ALL: [Row; 5] = [
        Row::Getattr,
        Row::WalkOpenClunk,
        Row::CreateUnlink,
        Row::Read,
        Row::Write,
    ];
    fn name(self) -> &'static str {
        match self {
            Row::Getattr => "getattr",
            Row::WalkOpenClunk => "walk-open-clunk",
            Row::CreateUnlink => "create-unlink",
            Row::Read => "read",
            Row::Write => "write",
        }
    }
    fn bulk(self) -> bool {
        matches!(self, Row::Read | Row::Write)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Transport {
    Tcp,
    Unix,
}

struct Config {
    secs: f64,
    rounds: u32,
    conns: Vec<usize>,
    transports: Vec<Transport>,
    sides: Vec<Side>,
    rows: Vec<Row>,
    msize: u32,
    floor_msize_tcp: u32,
    floor_msize_unix: u32,
    file_bytes: u64,
    dir: PathBuf,
    keep: bool,
    server: PathBuf,
    diod: Option<PathBuf>,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| BenchError::msg(format!("{name}={v:?} is not a valid number"))),
        Err(_) => Ok(default),
    }
}

fn list<T>(name: &str, default: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Vec<T>> {
    let v = env_or(name, default);
    let items: Option<Vec<T>> = v.split_whitespace().map(&parse).collect();
    match items {
        Some(items) if !items.is_empty() => Ok(items),
        _ => Err(BenchError::msg(format!(
            "{name}={v:?}: expected some of '{default}'"
        ))),
    }
}

impl Config {
    fn from_env() -> Result<Config> {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let secs: f64 = env_num("P9BENCH_SECS", 2.0)?;
        let rounds: u32 = env_num("P9BENCH_ROUNDS", 2)?;
        if !(secs > 0.0 && secs <= 3600.0) || rounds == 0 || rounds > 1000 {
            return Err(BenchError::msg(
                "P9BENCH_SECS must be in (0, 3600] and P9BENCH_ROUNDS in 1..=1000",
            ));
        }
        let conns = list("P9BENCH_CONNS", "1 8", |s| {
            s.parse().ok().filter(|n| (1..=64).contains(n))
        })?;
        let file_mb: u64 = env_num("P9BENCH_FILE_MB", 64)?;
        if !(1..=4096).contains(&file_mb) {
            return Err(BenchError::msg("P9BENCH_FILE_MB must be in 1..=4096"));
        }
        let msize: u32 = env_num("P9BENCH_MSIZE", 8 << 20)?;
        let floor_msize_tcp: u32 = env_num("P9BENCH_FLOOR_MSIZE_TCP", 1 << 20)?;
        let floor_msize_unix: u32 = env_num("P9BENCH_FLOOR_MSIZE_UNIX", 4 << 20)?;
        for (n, v) in [
            ("P9BENCH_MSIZE", msize),
            ("P9BENCH_FLOOR_MSIZE_TCP", floor_msize_tcp),
            ("P9BENCH_FLOOR_MSIZE_UNIX", floor_msize_unix),
        ] {
            if !(8192..=(64 << 20)).contains(&v) {
                return Err(BenchError::msg(format!("{n} must be in 8192..=64 MiB")));
            }
        }
        Ok(Config {
            secs,
            rounds,
            conns,
            transports: list("P9BENCH_TRANSPORTS", "tcp unix", |s| match s {
                "tcp" => Some(Transport::Tcp),
                "unix" => Some(Transport::Unix),
                _ => None,
            })?,
            sides: list("P9BENCH_SIDES", "floor diod local proxy", Side::parse)?,
            rows: list(
                "P9BENCH_ROWS",
                "getattr walk-open-clunk create-unlink read write",
                |s| Row::ALL.into_iter().find(|r| r.name() == s),
            )?,
            msize,
            floor_msize_tcp,
            floor_msize_unix,
            file_bytes: file_mb << 20,
            dir: PathBuf::from(env_or(
                "P9BENCH_DIR",
                &std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into()),
            )),
            keep: std::env::var_os("P9BENCH_KEEP").is_some_and(|v| v == "1"),
            server: std::env::var_os("P9PROXY_SERVER")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace.join("target/release/p9proxy")),
            diod: match std::env::var_os("P9BENCH_DIOD") {
                Some(p) => Some(PathBuf::from(p)),
                None => which("diod"),
            },
        })
    }
}

// ---- the export ------------------------------------------------------------------------------

/// The bench's work directory; removed on drop unless kept.
struct Work {
    root: PathBuf,
    export: PathBuf,
    keep: bool,
}

impl Drop for Work {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("p9-bench: kept {}", self.root.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

const WRITERS: usize = 64;

fn make_work(cfg: &Config) -> Result<Work> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let root = cfg.dir.join(format!("p9bench.{}", std::process::id()));
    std::fs::create_dir(&root)
        .map_err(|e| BenchError::msg(format!("mkdir {}: {e}", root.display())))?;
    let work = Work {
        export: root.join("export"),
        root,
        keep: cfg.keep,
    };
    let bench = work.export.join("bench");
    std::fs::create_dir_all(bench.join("cu"))?;
    std::fs::create_dir_all(work.root.join("sock"))?;
    std::fs::create_dir_all(work.root.join("logs"))?;
    for d in [&work.root, &work.export, &bench] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755))?;
    }
    std::fs::write(bench.join("getattr.txt"), vec![b'g'; 4096])?;
    let mut f = std::fs::File::create(bench.join("read.bin"))?;
    let chunk: Vec<u8> = (0..1usize << 20).map(|i| (i * 7 % 253) as u8).collect();
    for _ in 0..cfg.file_bytes >> 20 {
        f.write_all(&chunk)?;
    }
    f.sync_all()?;
    for i in 0..WRITERS {
        std::fs::File::create(bench.join(format!("w{i}.bin")))?;
    }
    Ok(work)
}

fn fs_name(p: &Path) -> String {
    match rustix::fs::statfs(p) {
        Ok(s) => match s.f_type {
            0xEF53 => "ext4".into(),
            0x0102_1994 => "tmpfs".into(),
            0x5846_5342 => "xfs".into(),
            0x9123_683E => "btrfs".into(),
            0x794C_7630 => "overlayfs".into(),
            t => format!("fs type {t:#x}"),
        },
        Err(e) => format!("statfs failed: {e}"),
    }
}

// ---- one side: its server, its connections ------------------------------------------------

const FID_FILE: u32 = 2;
const FID_DIR: u32 = 3;
const FID_CU: u32 = 4;
const FID_READ: u32 = 5;
const FID_WRITE: u32 = 6;
const FID_TMP: u32 = 10;
const FID_TMP2: u32 = 11;

struct ConnState {
    c: Conn,
    read_off: u64,
    write_off: u64,
    name: Vec<u8>,
    /// The server answered Tunlinkat with EOPNOTSUPP: remove with Twalk + Tremove, as the
    /// Linux client then does (diod).
    use_remove: bool,
}

struct SideRun {
    side: Side,
    proc: Option<ServerProc>,
    conns: Vec<ConnState>,
    /// Why the side is out of the run (a connection failed out of step).
    dead: Option<String>,
    dead_reported: bool,
}

impl SideRun {
    /// After an Rlerror in the middle of a row: forget the temporary fid and file.
    fn reset(&mut self) {
        for s in &mut self.conns {
            let _ = s.c.clunk(FID_TMP);
            let _ = s.c.clunk(FID_TMP2);
            let _ = s.c.unlinkat(FID_CU, &s.name, 0);
        }
    }
}

fn prepare_conn(
    addr: &Addr,
    cfg: &Config,
    aname: &[u8],
    side: Side,
    i: usize,
) -> Result<ConnState> {
    let mut c = client::open(addr, cfg.msize, aname)?;
    c.walk_all(ROOT_FID, FID_FILE, &[b"bench", b"getattr.txt"])?;
    c.walk_all(ROOT_FID, FID_DIR, &[b"bench"])?;
    c.walk_all(ROOT_FID, FID_CU, &[b"bench", b"cu"])?;
    c.walk_all(ROOT_FID, FID_READ, &[b"bench", b"read.bin"])?;
    c.lopen(FID_READ, P9_DOTL_RDONLY)?;
    let w = format!("w{i}.bin");
    c.walk_all(ROOT_FID, FID_WRITE, &[b"bench", w.as_bytes()])?;
    c.lopen(FID_WRITE, P9_DOTL_WRONLY)?;
    c.prepare_write(FID_WRITE, max_io_count(c.msize()))?;
    Ok(ConnState {
        c,
        read_off: (i as u64 * cfg.file_bytes / 8) & !4095,
        write_off: 0,
        name: format!("{}-{i}", side.name()).into_bytes(),
        use_remove: false,
    })
}

fn start_side(
    side: Side,
    tr: Transport,
    cfg: &Config,
    work: &Work,
    nconns: usize,
) -> Result<SideRun> {
    let addr = match tr {
        Transport::Tcp => Addr::Tcp(free_port()?),
        Transport::Unix => Addr::Unix(work.root.join("sock").join(format!("{}.sock", side.name()))),
    };
    let export = work.export.to_string_lossy().into_owned();
    let listen = match &addr {
        Addr::Tcp(p) => format!("127.0.0.1:{p}"),
        Addr::Unix(p) => p.to_string_lossy().into_owned(),
    };
    let argv: Option<Vec<String>> = match side {
        Side::Floor => None,
        Side::Diod => {
            let diod = cfg
                .diod
                .as_ref()
                .ok_or_else(|| BenchError::msg("skipped: diod not found (apt-get install diod)"))?;
            Some(vec![
                diod.to_string_lossy().into_owned(),
                "-f".into(),
                "-n".into(),
                "-L".into(),
                "stderr".into(),
                "-l".into(),
                listen,
                "-e".into(),
                export.clone(),
            ])
        }
        Side::Local | Side::Proxy => {
            if !cfg.server.is_file() {
                return Err(BenchError::msg(format!(
                    "skipped: our server {} does not exist yet (cargo build --release -p p9proxy, \
                     or set P9PROXY_SERVER)",
                    cfg.server.display()
                )));
            }
            Some(vec![
                cfg.server.to_string_lossy().into_owned(),
                "serve".into(),
                export.clone(),
                "--listen".into(),
                addr.to_string(),
                "--backend".into(),
                side.name().into(),
            ])
        }
    };
    let proc = match argv {
        None => {
            let msize = match tr {
                Transport::Tcp => cfg.floor_msize_tcp,
                Transport::Unix => cfg.floor_msize_unix,
            };
            floor::start(&addr, msize)?;
            None
        }
        Some(argv) => {
            let log = work
                .root
                .join("logs")
                .join(format!("{}-{tr:?}.log", side.name()));
            Some(ServerProc::start(
                &argv,
                &log,
                &addr,
                Duration::from_secs(10),
            )?)
        }
    };
    let mut conns = Vec::new();
    for i in 0..nconns {
        conns.push(
            prepare_conn(&addr, cfg, export.as_bytes(), side, i).map_err(|e| {
                let tail = proc.as_ref().map(|p| p.log_tail()).unwrap_or_default();
                BenchError::msg(format!("connection {i}: {e} {tail}"))
            })?,
        );
    }
    Ok(SideRun {
        side,
        proc,
        conns,
        dead: None,
        dead_reported: false,
    })
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?.port())
}

// ---- measuring ------------------------------------------------------------------------------

#[derive(Default, Clone, Copy)]
struct Tally {
    ops: u64,
    bytes: u64,
    secs: f64,
}

impl Tally {
    fn add(&mut self, o: Tally) {
        self.ops += o.ops;
        self.bytes += o.bytes;
        self.secs += o.secs;
    }
    fn ops_per_sec(&self) -> f64 {
        if self.secs > 0.0 {
            self.ops as f64 / self.secs
        } else {
            0.0
        }
    }
    fn mb_per_sec(&self) -> f64 {
        if self.secs > 0.0 {
            self.bytes as f64 / self.secs / 1e6
        } else {
            0.0
        }
    }
    /// The row's figure of merit: ops/s, or bytes/s for bulk rows.
    fn rate(&self, row: Row) -> f64 {
        if row.bulk() {
            self.mb_per_sec()
        } else {
            self.ops_per_sec()
        }
    }
}

fn one_op(s: &mut ConnState, row: Row, file_bytes: u64) -> Result<u64> {
    match row {
        Row::Getattr => {
            s.c.getattr_mask(FID_FILE, P9_GETATTR_BASIC)?;
            Ok(0)
        }
        Row::WalkOpenClunk => {
            s.c.walk_all(FID_DIR, FID_TMP, &[b"getattr.txt"])?;
            s.c.lopen(FID_TMP, P9_DOTL_RDONLY)?;
            s.c.clunk(FID_TMP)?;
            Ok(0)
        }
        Row::CreateUnlink => {
            s.c.walk_all(FID_CU, FID_TMP, &[])?;
            s.c.lcreate(FID_TMP, &s.name, P9_DOTL_WRONLY | P9_DOTL_CREATE, 0o644, 0)?;
            s.c.clunk(FID_TMP)?;
            if !s.use_remove {
                match s.c.unlinkat(FID_CU, &s.name, 0) {
                    Err(e) if e.errno() == Some(Errno::OPNOTSUPP) => s.use_remove = true,
                    other => return Ok(other.map(|_| 0)?),
                }
            }
            s.c.walk_all(FID_CU, FID_TMP2, &[&s.name])?;
            s.c.remove(FID_TMP2)?;
            Ok(0)
        }
        Row::Read => {
            let count = max_io_count(s.c.msize());
            let n = s.c.read_count(FID_READ, s.read_off, count)? as u64;
            s.read_off += n;
            if n == 0 || s.read_off >= file_bytes {
                s.read_off = 0;
            }
            Ok(n)
        }
        Row::Write => {
            let n = u64::from(s.c.write_prepared(s.write_off)?);
            if n == 0 {
                return Err(BenchError::msg("Rwrite of 0 bytes"));
            }
            s.write_off += n;
            if s.write_off >= file_bytes / 2 {
                s.write_off = 0;
            }
            Ok(n)
        }
    }
}

/// Runs `row` on the first `n` connections of `run`, one thread each, for `dur`.
fn measure(run: &mut SideRun, row: Row, n: usize, dur: Duration, file_bytes: u64) -> Result<Tally> {
    let conns = run.conns.iter_mut().take(n);
    let results: Vec<Result<Tally>> = thread::scope(|scope| {
        let handles: Vec<_> = conns
            .map(|s| {
                scope.spawn(move || -> Result<Tally> {
                    let start = Instant::now();
                    let end = start + dur;
                    let mut t = Tally::default();
                    loop {
                        t.bytes += one_op(s, row, file_bytes)?;
                        t.ops += 1;
                        if Instant::now() >= end {
                            break;
                        }
                    }
                    t.secs = start.elapsed().as_secs_f64();
                    Ok(t)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(BenchError::msg("a client thread panicked")))
            })
            .collect()
    });
    // Aggregate: operations of all connections over the longest thread's time.
    let mut total = Tally::default();
    for r in results {
        let t = r?;
        total.ops += t.ops;
        total.bytes += t.bytes;
        total.secs = total.secs.max(t.secs);
    }
    Ok(total)
}

// ---- printing -------------------------------------------------------------------------------

fn human_bytes(n: u32) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

fn cell(row: Row, t: Option<&Tally>) -> String {
    match t {
        None => format!("{:>19}", "-"),
        Some(t) if t.ops == 0 => format!("{:>19}", "-"),
        Some(t) => {
            let us = 1e6 / t.ops_per_sec();
            if row.bulk() {
                format!("{:>8.0} MB/s {:>5.0}us", t.mb_per_sec(), us)
            } else {
                format!("{:>8.0}/s {:>7.1}us", t.ops_per_sec(), us)
            }
        }
    }
}

fn ratio(a: f64, b: f64) -> String {
    if a > 0.0 && b > 0.0 {
        format!("{:>7.2}", a / b)
    } else {
        format!("{:>7}", "-")
    }
}

fn run_transport(cfg: &Config, work: &Work, tr: Transport) {
    let max_conns = cfg.conns.iter().copied().max().unwrap_or(1);
    let mut runs: Vec<SideRun> = Vec::new();
    let mut header = Vec::new();
    for &side in &cfg.sides {
        match start_side(side, tr, cfg, work, max_conns) {
            Ok(r) => {
                header.push(format!(
                    "{} {}",
                    side.name(),
                    human_bytes(r.conns[0].c.msize())
                ));
                runs.push(r);
            }
            Err(e) => println!("  {}: {e}", side.name()),
        }
    }
    let trname = match tr {
        Transport::Tcp => "TCP 127.0.0.1",
        Transport::Unix => "Unix socket",
    };
    println!("== {trname}; msize: {}", header.join(", "));
    if runs.is_empty() {
        return;
    }
    let names: Vec<Side> = runs.iter().map(|r| r.side).collect();
    let mut line = format!("{:<16}{:>3}", "row", "c");
    for s in &names {
        line += &format!(" {:>19}", s.name());
    }
    let has = |s: Side| names.contains(&s);
    let mut ratio_names = Vec::new();
    if has(Side::Floor) {
        for s in names.iter().filter(|s| **s != Side::Floor) {
            ratio_names.push(format!("{}/fl", s.name()));
        }
    }
    if has(Side::Diod) {
        for s in [Side::Local, Side::Proxy].into_iter().filter(|s| has(*s)) {
            ratio_names.push(format!("{}/diod", s.name()));
        }
    }
    if has(Side::Local) && has(Side::Proxy) {
        ratio_names.push("prx/loc".into());
    }
    line += " |";
    for r in &ratio_names {
        line += &format!(" {r:>10}");
    }
    println!("{line}");

    let dur = Duration::from_secs_f64(cfg.secs / f64::from(cfg.rounds));
    for &row in &cfg.rows {
        for &n in &cfg.conns {
            let mut tallies: Vec<Option<Tally>> = vec![Some(Tally::default()); runs.len()];
            let mut row_errors: Vec<Option<String>> = vec![None; runs.len()];
            for round in 0..cfg.rounds {
                let mut order: Vec<usize> = (0..runs.len()).collect();
                order.rotate_left(round as usize % runs.len().max(1));
                if round % 2 == 1 {
                    order.reverse();
                }
                for i in order {
                    let run = &mut runs[i];
                    if run.dead.is_some() || row_errors[i].is_some() {
                        tallies[i] = None;
                        continue;
                    }
                    // round 0 starts with a warm-up that is not counted (page cache, server
                    // threads, fid tables)
                    let warm = (round == 0)
                        .then(|| measure(run, row, n, Duration::from_millis(100), cfg.file_bytes));
                    let result = match warm {
                        Some(Err(e)) => Err(e),
                        _ => measure(run, row, n, dur, cfg.file_bytes),
                    };
                    match result {
                        Ok(t) => {
                            if let Some(acc) = tallies[i].as_mut() {
                                acc.add(t)
                            }
                        }
                        Err(e) if e.errno().is_some() => {
                            // the server refused something: this row fails, the side goes on
                            row_errors[i] = Some(e.0);
                            tallies[i] = None;
                            run.reset();
                        }
                        Err(e) => {
                            run.dead = Some(e.0);
                            tallies[i] = None;
                        }
                    }
                }
            }
            let mut line = format!("{:<16}{:>3}", row.name(), n);
            for t in &tallies {
                line += &format!(" {}", cell(row, t.as_ref()));
            }
            let rate = |s: Side| -> f64 {
                names
                    .iter()
                    .position(|x| *x == s)
                    .and_then(|i| tallies[i])
                    .map(|t| t.rate(row))
                    .unwrap_or(0.0)
            };
            line += " |";
            if has(Side::Floor) {
                for s in names.iter().filter(|s| **s != Side::Floor) {
                    // time per op relative to the floor's
                    line += &format!(" {:>10}", ratio(rate(Side::Floor), rate(*s)));
                }
            }
            if has(Side::Diod) {
                for s in [Side::Local, Side::Proxy].into_iter().filter(|s| has(*s)) {
                    line += &format!(" {:>10}", ratio(rate(s), rate(Side::Diod)));
                }
            }
            if has(Side::Local) && has(Side::Proxy) {
                line += &format!(" {:>10}", ratio(rate(Side::Proxy), rate(Side::Local)));
            }
            println!("{line}");
            for (run, err) in runs.iter_mut().zip(&row_errors) {
                if let Some(e) = err {
                    println!("  {} failed on {} x{n}: {e}", run.side.name(), row.name());
                }
                if let (Some(e), false) = (&run.dead, run.dead_reported) {
                    run.dead_reported = true;
                    let exited = match run.proc.as_mut() {
                        Some(p) => {
                            if p.alive() {
                                String::new()
                            } else {
                                format!(" (server exited: {})", p.log_tail())
                            }
                        }
                        None => String::new(),
                    };
                    println!(
                        "  {} out of the run after {} x{n}: {e}{exited}",
                        run.side.name(),
                        row.name()
                    );
                }
            }
        }
    }
    for run in &runs {
        if run.conns.iter().any(|s| s.use_remove) {
            println!(
                "  note: {} answers Tunlinkat with EOPNOTSUPP; its create-unlink rows remove with \
                 Twalk + Tremove, as the Linux client then does",
                run.side.name()
            );
        }
    }
}

fn main() -> ExitCode {
    if std::env::args().skip(1).any(|a| a == "-h" || a == "--help") {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    if let Some(a) = std::env::args().nth(1) {
        eprintln!(
            "p9-bench: unexpected argument {a:?} (configuration is by environment; see --help)"
        );
        return ExitCode::from(2);
    }
    let cfg = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("p9-bench: {e}");
            return ExitCode::from(2);
        }
    };
    if !rustix::process::geteuid().is_root() {
        eprintln!("p9-bench: run as root (diod and p9proxy serve export a root-owned directory)");
        return ExitCode::from(2);
    }
    let work = match make_work(&cfg) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("p9-bench: cannot prepare the export: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "p9-bench: {} s per row and side in {} alternating rounds; {} CPUs; export {} ({}); \
         read file {} MiB; client offers msize {}",
        cfg.secs,
        cfg.rounds,
        thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        work.export.display(),
        fs_name(&work.export),
        cfg.file_bytes >> 20,
        human_bytes(cfg.msize),
    );
    println!(
        "columns: ops/s (MB/s) and us/op = 1e6/(ops/s); x/fl = time per op / the floor's; \
         x/diod, prx/loc = throughput ratios"
    );
    for &tr in &cfg.transports {
        run_transport(&cfg, &work, tr);
    }
    ExitCode::SUCCESS
}
