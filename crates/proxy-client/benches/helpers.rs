//! Side-by-side benchmark: QEMU's C helper against ours, driven by the same client, in two
//! CPU placements, with a bare round trip as the floor.
//!
//! `cargo bench -p proxy-client --bench helpers` (as root: both helpers chroot). Each
//! helper runs on its own socketpair with its own fresh export. For each operation the
//! sides take turns in short rounds (the side that goes first rotates), so drift in the
//! machine's load hits all alike; a ratio is printed both from the totals and as the
//! median of the rounds' ratios. Next to wall time, the CPU time the client and the
//! helper spent per op (from `/proc/PID/task/*/schedstat`): on a busy machine wall time
//! is noisy, while CPU time per op is what a helper costs a host that has no CPU to spare.
//! Two floors, each the same client against a thread of the bench:
//! - `floor (echo)` answers every request with a 12-byte status reply: the cost of the
//!   client, the socket and the context switches, with no helper work at all;
//! - `least` (a column of every row) does the least any helper must do for that request:
//!   one `recv`, the request's own syscall on a path relative to the export's fd (`fstatat`,
//!   `openat`, `mkdirat`, `unlinkat`), the reply (`send`, or `sendmsg` with the fd and
//!   `close`) and, for a create or mkdir as a user, the credential switch of QEMU's model
//!   around it; no confinement, no checks. It is this bench run again
//!   as `--least-helper`, a process of its own as every helper is. `C/least` is the most
//!   any helper could be faster than C's in that row and placement: a target above it
//!   cannot be met by any helper.
//!
//! Placements:
//! - `floating`: client and helpers free to run on any CPU;
//! - `pinned`: the bench, its floor thread and every helper confined to one CPU
//!   (`sched_setaffinity` before they start, inherited), as on a host with more busy VMs
//!   than cores: each side's request and reply cost two context switches on that CPU, and
//!   polling can only lose there.
//!
//! Environment:
//! - `P9PROXY_HELPER`: our helper (default `<workspace>/target/release/virtfs-proxy-helper`);
//! - `P9PROXY_C_HELPER`: QEMU's (default `/usr/lib/qemu/virtfs-proxy-helper`);
//! - `P9PROXY_BENCH_VARIANTS`: more runs of our helper with extra flags, `;`-separated
//!   `NAME=FLAGS` (default `no-poll=--poll-us 0`: ours without polling; empty: none);
//! - `P9PROXY_BENCH_PLACEMENTS`: `floating,pinned` (default), or either;
//! - `P9PROXY_BENCH_CPU`: the CPU of the pinned placement (default: the last one allowed);
//! - `P9PROXY_BENCH_SECS`: seconds per row per side (default 2);
//! - `P9PROXY_BENCH_ROUNDS`: rounds those seconds are split into (default 8).

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use proxy_client::{spawn_helper_command, OFlags, ProxyClient, SpawnedHelper};
use proxy_protocol::{FdWord, Header, Reply, Request, HEADER_SIZE};
use rustix::fs::{AtFlags, Mode};
use rustix::io::Errno;
use rustix::net::{
    recv, send, sendmsg, socketpair, AddressFamily, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};
use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};

const DEFAULT_C_HELPER: &str = "/usr/lib/qemu/virtfs-proxy-helper";
/// The first argument that makes this bench the least-work helper ([`least_helper`]).
const LEAST_HELPER: &str = "--least-helper";
/// A non-root guest user, as QEMU passes it for a guest's `touch`/`mkdir`.
const GUEST_ID: u32 = 1000;
/// Operations between two looks at the clock.
const BATCH: u64 = 32;

type Op = fn(&ProxyClient);

/// A measured operation: name, one iteration, and the targets (ours/C) floating and pinned.
struct Row {
    name: &'static str,
    op: Op,
    target: [f64; 2],
}

const ROWS: &[Row] = &[
    Row {
        name: "T_LSTAT",
        op: |c| {
            c.lstat("/bench-file").expect("lstat");
        },
        target: [1.5, 1.25],
    },
    Row {
        name: "T_LSTAT d/f",
        op: |c| {
            c.lstat("/bench-dir-kept/bench-file").expect("lstat");
        },
        target: [1.5, 1.25],
    },
    Row {
        name: "T_OPEN+close",
        op: |c| {
            drop(c.open("/bench-file", OFlags::RDONLY).expect("open"));
        },
        target: [1.5, 1.25],
    },
    Row {
        name: "T_CREATE+T_REMOVE",
        op: |c| {
            let fd = c
                .create(
                    "/bench-new",
                    OFlags::RDWR | OFlags::EXCL,
                    0o644,
                    GUEST_ID,
                    GUEST_ID,
                )
                .expect("create");
            drop(fd);
            c.remove("/bench-new").expect("remove");
        },
        target: [2.0, 1.5],
    },
    Row {
        name: "T_MKDIR+T_REMOVE",
        op: |c| {
            c.mkdir("/bench-dir", 0o755, GUEST_ID, GUEST_ID)
                .expect("mkdir");
            c.remove("/bench-dir").expect("remove");
        },
        target: [2.0, 1.5],
    },
];

/// A helper to run: a name for the table, the program and extra flags.
#[derive(Clone)]
struct Program {
    name: String,
    path: PathBuf,
    args: Vec<String>,
}

/// One helper under test: its export (kept alive), process and client.
struct Side {
    name: String,
    _export: tempfile::TempDir,
    helper: Option<SpawnedHelper>,
}

/// An export with the files the rows use.
fn fresh_export() -> std::io::Result<tempfile::TempDir> {
    let export = tempfile::tempdir()?;
    std::fs::write(export.path().join("bench-file"), b"benchmark file\n")?;
    std::fs::create_dir(export.path().join("bench-dir-kept"))?;
    std::fs::write(
        export.path().join("bench-dir-kept/bench-file"),
        b"benchmark file\n",
    )?;
    Ok(export)
}

/// CPU nanoseconds spent so far by every thread of process `pid` (`self` or a number).
fn cpu_ns(pid: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

impl Side {
    fn start(program: &Program) -> std::io::Result<Side> {
        let export = fresh_export()?;
        let mut cmd = Command::new(&program.path);
        cmd.args(&program.args)
            .arg("-p")
            .arg(export.path())
            .arg("-n")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let helper = spawn_helper_command(cmd)?;
        Ok(Side {
            name: program.name.clone(),
            _export: export,
            helper: Some(helper),
        })
    }

    /// Starts the least-work helper ([`least_helper`]): this bench run again as
    /// `--least-helper EXPORT`, its end of the socketpair as stdin.
    fn start_least() -> std::io::Result<Side> {
        let export = fresh_export()?;
        let (ours, theirs) = socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::CLOEXEC,
            None,
        )?;
        let child = Command::new(std::env::current_exe()?)
            .arg(LEAST_HELPER)
            .arg(export.path())
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Side {
            name: "least".into(),
            _export: export,
            helper: Some(SpawnedHelper {
                client: ProxyClient::from_fd(ours),
                child,
            }),
        })
    }

    fn client(&self) -> &ProxyClient {
        &self.helper.as_ref().expect("helper").client
    }

    /// The helper's process id, for its CPU time.
    fn pid(&self) -> String {
        self.helper.as_ref().expect("helper").child.id().to_string()
    }

    /// Ends the connection and reaps the helper.
    fn stop(mut self) {
        if let Some(SpawnedHelper { client, mut child }) = self.helper.take() {
            drop(client);
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match child.try_wait() {
                    Ok(Some(status)) if !status.success() => {
                        eprintln!("note: {} exited with {status}", self.name);
                        break;
                    }
                    Ok(None) if Instant::now() < deadline => {
                        thread::sleep(Duration::from_millis(10))
                    }
                    Ok(None) => {
                        eprintln!("note: {} did not exit; killing it", self.name);
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    _ => break,
                }
            }
        }
    }
}

/// Ops done, wall time taken and CPU time spent (client and helper).
#[derive(Default, Clone, Copy)]
struct Tally {
    ops: u64,
    secs: f64,
    cpu_ns: u64,
}

impl Tally {
    fn micros_per_op(self) -> f64 {
        self.secs * 1e6 / self.ops as f64
    }
    fn cpu_micros_per_op(self) -> f64 {
        self.cpu_ns as f64 / 1e3 / self.ops as f64
    }
    fn add(&mut self, t: Tally) {
        self.ops += t.ops;
        self.secs += t.secs;
        self.cpu_ns += t.cpu_ns;
    }
}

/// A client to drive and the helper process behind it (none: in this process).
struct Target<'a> {
    client: &'a ProxyClient,
    pid: Option<String>,
}

impl Target<'_> {
    fn cpu_ns(&self) -> u64 {
        cpu_ns("self") + self.pid.as_deref().map_or(0, cpu_ns)
    }

    /// Runs `op` for about `dur`, with the CPU time it took.
    fn run_for(&self, op: Op, dur: Duration) -> Tally {
        let before = self.cpu_ns();
        let mut t = run_for(self.client, op, dur);
        t.cpu_ns = self.cpu_ns().saturating_sub(before);
        t
    }
}

/// Runs `op` in batches for about `dur`.
fn run_for(client: &ProxyClient, op: Op, dur: Duration) -> Tally {
    let start = Instant::now();
    let mut ops = 0;
    loop {
        for _ in 0..BATCH {
            op(client);
        }
        ops += BATCH;
        let elapsed = start.elapsed();
        if elapsed >= dur {
            return Tally {
                ops,
                secs: elapsed.as_secs_f64(),
                cpu_ns: 0,
            };
        }
    }
}

/// Runs `op` on every client in `rounds` rounds of `slice`, the first side rotating.
/// Returns each side's total and, per round, each side's µs/op.
fn interleave(
    clients: &[Target<'_>],
    op: Op,
    rounds: u32,
    slice: Duration,
) -> (Vec<Tally>, Vec<Vec<f64>>) {
    let n = clients.len();
    for c in clients {
        // Warm-up: caches, the first credential switch, page faults.
        run_for(c.client, op, Duration::from_millis(50));
    }
    let mut totals = vec![Tally::default(); n];
    let mut per_round = Vec::new();
    for round in 0..rounds as usize {
        let mut us = vec![0.0; n];
        for k in 0..n {
            let i = (round + k) % n;
            let t = clients[i].run_for(op, slice);
            totals[i].add(t);
            us[i] = t.micros_per_op();
        }
        per_round.push(us);
    }
    (totals, per_round)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A fake helper thread answering every request with `{T_SUCCESS, 4, 0}`; returns the
/// client's end.
fn echo_floor() -> OwnedFd {
    let (ours, theirs) = socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .expect("socketpair");
    thread::spawn(move || {
        let mut reply = Vec::new();
        Reply::Status(0).encode(&mut reply).expect("encode");
        assert_eq!(reply.len(), 12);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let mut head = [0u8; HEADER_SIZE];
            if !read_exact(&theirs, &mut head) {
                return;
            }
            let size = Header::decode(head).size as usize;
            if size > buf.len() || !read_exact(&theirs, &mut buf[..size]) {
                return;
            }
            if send(&theirs, &reply, SendFlags::NOSIGNAL) != Ok(reply.len()) {
                return;
            }
        }
    });
    ours
}

/// The least any helper must do for the rows' requests in `export` (see the module's
/// doc), answering on `theirs` until it closes: the bench run again as
/// `helpers --least-helper EXPORT` with the socket as stdin ([`Side::start_least`]), a
/// process of its own as a helper is.
fn least_helper(export: &Path, theirs: BorrowedFd<'_>) {
    let dir = rustix::fs::open(
        export,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        Mode::empty(),
    )
    .expect("open the export");
    let caps = rustix::thread::capabilities(None).expect("capget");
    {
        let mut buf = vec![0u8; 64 * 1024];
        let mut out = Vec::new();
        loop {
            // One receive for header and body, as our helper does (requests are small).
            let n = match recv(theirs, &mut buf, RecvFlags::empty()) {
                Ok((n, _)) if n >= HEADER_SIZE => n,
                _ => return,
            };
            let head = Header::decode(buf[..HEADER_SIZE].try_into().expect("header"));
            let body = &buf[HEADER_SIZE..n];
            let rel = |path: &[u8]| path.strip_prefix(b"/").unwrap_or(path).to_vec();
            let status = |r: rustix::io::Result<()>| r.map_or_else(|e| -e.raw_os_error(), |()| 0);
            let reply = match Request::decode(head.kind, body) {
                Ok(Request::Lstat { path }) => {
                    match rustix::fs::statat(&dir, rel(path), AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(st) => Reply::Stat((&st).into()),
                        Err(e) => Reply::Status(-e.raw_os_error()),
                    }
                }
                Ok(Request::Open { path, flags }) => {
                    let flags = rustix::fs::OFlags::from_bits_retain(flags as u32);
                    send_fd(
                        theirs,
                        rustix::fs::openat(&dir, rel(path), flags, Mode::empty()),
                    );
                    continue;
                }
                Ok(Request::Create {
                    path,
                    flags,
                    mode,
                    uid,
                    gid,
                }) => {
                    let flags = rustix::fs::OFlags::from_bits_retain(flags as u32)
                        | rustix::fs::OFlags::CREATE;
                    let mode = Mode::from_raw_mode(mode);
                    let fd = as_client(caps, uid, gid, || {
                        rustix::fs::openat(&dir, rel(path), flags, mode)
                    });
                    send_fd(theirs, fd);
                    continue;
                }
                Ok(Request::Mkdir {
                    path,
                    mode,
                    uid,
                    gid,
                }) => Reply::Status(status(as_client(caps, uid, gid, || {
                    rustix::fs::mkdirat(&dir, rel(path), Mode::from_raw_mode(mode))
                }))),
                Ok(Request::Remove { path }) => {
                    let path = rel(path);
                    Reply::Status(status(
                        match rustix::fs::unlinkat(&dir, &path, AtFlags::empty()) {
                            Err(Errno::ISDIR) => {
                                rustix::fs::unlinkat(&dir, &path, AtFlags::REMOVEDIR)
                            }
                            r => r,
                        },
                    ))
                }
                _ => Reply::Status(0),
            };
            out.clear();
            reply.encode(&mut out).expect("encode");
            if send(theirs, &out, SendFlags::NOSIGNAL) != Ok(out.len()) {
                return;
            }
        }
    }
}

/// Runs `op` with the calling thread switched to `uid:gid` in QEMU's model (what its
/// helper and ours do for a creating request): effective ids switched, only
/// `CAP_DAC_OVERRIDE` left effective, root restored after. No checks, no error recovery:
/// the least such a switch costs.
fn as_client<T>(
    caps: rustix::thread::CapabilitySets,
    uid: u32,
    gid: u32,
    op: impl FnOnce() -> rustix::io::Result<T>,
) -> rustix::io::Result<T> {
    use rustix::process::{Gid, Uid};
    use rustix::thread::{set_capabilities, set_thread_res_gid, set_thread_res_uid};
    if uid == 0 && gid == 0 {
        return op();
    }
    set_thread_res_gid(None, Gid::from_raw(gid), None).expect("setresgid");
    set_thread_res_uid(None, Uid::from_raw(uid), None).expect("setresuid");
    let effective = caps.permitted & rustix::thread::CapabilitySet::DAC_OVERRIDE;
    set_capabilities(None, rustix::thread::CapabilitySets { effective, ..caps }).expect("capset");
    let result = op();
    set_thread_res_uid(None, Uid::ROOT, None).expect("restore uid");
    set_thread_res_gid(None, Gid::ROOT, None).expect("restore gid");
    result
}

/// Answers an open or create as a helper does: the fd word, the fd in SCM_RIGHTS; then
/// closes our copy.
fn send_fd(sock: BorrowedFd<'_>, fd: rustix::io::Result<OwnedFd>) {
    let (word, fd) = match fd {
        Ok(fd) => (FdWord::Valid.encode(), Some(fd)),
        Err(e) => (FdWord::Error(e.raw_os_error()).encode(), None),
    };
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds;
    if let Some(fd) = &fd {
        fds = [fd.as_fd()];
        control.push(SendAncillaryMessage::ScmRights(&fds));
    }
    let iov = [std::io::IoSlice::new(&word)];
    let _ = sendmsg(sock, &iov, &mut control, SendFlags::NOSIGNAL);
}

fn read_exact(fd: &OwnedFd, mut buf: &mut [u8]) -> bool {
    while !buf.is_empty() {
        match recv(fd, &mut *buf, RecvFlags::empty()) {
            Ok((0, _)) | Err(_) => return false,
            Ok((n, _)) => buf = &mut buf[n..],
        }
    }
    true
}

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v: &f64| *v > 0.0)
        .unwrap_or(default)
}

/// Where the bench and the helpers it starts may run.
#[derive(Clone, Copy, PartialEq)]
enum Placement {
    Floating,
    Pinned(usize),
}

impl Placement {
    /// Confines this thread (and so every helper and thread it starts next) to the
    /// placement's CPUs.
    fn apply(self, all: &CpuSet) -> rustix::io::Result<()> {
        match self {
            Placement::Floating => sched_setaffinity(None, all),
            Placement::Pinned(cpu) => {
                let mut one = CpuSet::new();
                one.set(cpu);
                sched_setaffinity(None, &one)
            }
        }
    }

    fn index(self) -> usize {
        match self {
            Placement::Floating => 0,
            Placement::Pinned(_) => 1,
        }
    }

    fn describe(self) -> String {
        match self {
            Placement::Floating => "floating: client and helpers free to run on any CPU".into(),
            Placement::Pinned(cpu) => {
                format!("pinned: client and helpers all on CPU {cpu} (sched_setaffinity)")
            }
        }
    }
}

/// Starts every program's helper, checks it answers, measures every row and the floor,
/// prints the table and stops the helpers.
fn run_placement(
    placement: Placement,
    programs: &[Program],
    rounds: u32,
    slice: Duration,
) -> Result<(), String> {
    let mut sides = Vec::new();
    for p in programs {
        let side = Side::start(p).map_err(|e| format!("cannot start {}: {e}", p.name))?;
        sides.push(side);
    }
    for side in &sides {
        side.client()
            .lstat("/bench-file")
            .map_err(|e| format!("{} does not answer: {e}", side.name))?;
    }
    println!("== {}", placement.describe());
    let mut head = format!("{:<18} {:>7}", "wall µs/op", "C");
    for p in &programs[1..] {
        head += &format!(" {:>8} {:>11}", short(&p.name), "/C (median)");
    }
    head += &format!(" {:>6} {:>7} {:>7}", "target", "least", "C/least");
    head += &format!(" | {:<10}", "CPU µs/op");
    for p in programs {
        head += &format!(" {:>8}", short(&p.name));
    }
    head += &format!(" {:>8}", "least");
    println!("{head}");
    // Last: the least any helper must do, interleaved with the helpers.
    let least_side =
        Side::start_least().map_err(|e| format!("cannot start the least helper: {e}"))?;
    let least = sides.len();
    sides.push(least_side);
    let targets: Vec<Target<'_>> = sides
        .iter()
        .map(|s| Target {
            client: s.client(),
            pid: Some(s.pid()),
        })
        .collect();
    for row in ROWS {
        let (totals, per_round) = interleave(&targets, row.op, rounds, slice);
        let c = totals[0].micros_per_op();
        let mut line = format!("{:<18} {:>7.2}", row.name, c);
        for i in 1..least {
            let t = totals[i].micros_per_op();
            let med = median(per_round.iter().map(|r| r[0] / r[i]).collect());
            line += &format!(" {:>8.2} {:>5.2} ({:>4.2})", t, c / t, med);
        }
        let l = totals[least].micros_per_op();
        line += &format!(
            " {:>5.2}x {:>7.2} {:>7.2}",
            row.target[placement.index()],
            l,
            c / l
        );
        line += &format!(" | {:<10}", "");
        for t in &totals {
            line += &format!(" {:>8.2}", t.cpu_micros_per_op());
        }
        println!("{line}");
    }
    let floor_client = ProxyClient::from_fd(echo_floor());
    let chmod: Op = |c| c.chmod("/bench-file", 0o644).expect("echo");
    let floor_target = Target {
        client: &floor_client,
        pid: None,
    };
    let (floor, _) = interleave(&[floor_target], chmod, rounds, slice);
    println!(
        "{:<18} {:>7.2} {:>w$} | {:<10} {:>8.2}",
        "floor (echo)",
        floor[0].micros_per_op(),
        "",
        "",
        floor[0].cpu_micros_per_op(),
        w = 27 * (programs.len() - 1) + 22,
    );
    println!();
    for side in sides {
        side.stop();
    }
    Ok(())
}

/// A column heading of at most 8 characters.
fn short(name: &str) -> String {
    name.chars().take(8).collect()
}

/// `--least-helper EXPORT`, the socket as stdin: serves as the least-work helper.
fn least_helper_main(args: &[String]) -> ExitCode {
    let [export] = args else {
        eprintln!("helpers bench: {LEAST_HELPER} needs EXPORT (and the socket as stdin)");
        return ExitCode::FAILURE;
    };
    let stdin = std::io::stdin();
    least_helper(Path::new(export), stdin.as_fd());
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(LEAST_HELPER) {
        return least_helper_main(&args[2..]);
    }
    let c_helper = PathBuf::from(
        std::env::var_os("P9PROXY_C_HELPER").unwrap_or_else(|| DEFAULT_C_HELPER.into()),
    );
    let ours = std::env::var_os("P9PROXY_HELPER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/virtfs-proxy-helper")
        });
    let secs = env_f64("P9PROXY_BENCH_SECS", 2.0);
    let rounds = env_f64("P9PROXY_BENCH_ROUNDS", 8.0).round().max(1.0) as u32;
    let variants = std::env::var("P9PROXY_BENCH_VARIANTS").unwrap_or("no-poll=--poll-us 0".into());
    let placements = std::env::var("P9PROXY_BENCH_PLACEMENTS").unwrap_or("floating,pinned".into());

    if !rustix::process::geteuid().is_root() {
        eprintln!("helpers bench: must run as root (both helpers chroot and switch credentials)");
        return ExitCode::FAILURE;
    }
    if !c_helper.exists() {
        eprintln!(
            "helpers bench: QEMU's C helper is missing at {}: install qemu-system-common \
             (scripts/install-deps.sh) or set P9PROXY_C_HELPER",
            c_helper.display()
        );
        return ExitCode::FAILURE;
    }
    if !ours.exists() {
        eprintln!(
            "helpers bench: our helper is missing at {}.\n\
             Build it first:  cargo build --release -p proxy-helper --bin virtfs-proxy-helper\n\
             or point P9PROXY_HELPER at a virtfs-proxy-helper binary.",
            ours.display()
        );
        return ExitCode::FAILURE;
    }
    let ours = ours.canonicalize().unwrap_or(ours);

    let mut programs = vec![
        Program {
            name: "C helper".into(),
            path: c_helper.clone(),
            args: Vec::new(),
        },
        Program {
            name: "ours".into(),
            path: ours.clone(),
            args: Vec::new(),
        },
    ];
    for v in variants.split(';').map(str::trim).filter(|v| !v.is_empty()) {
        let (name, flags) = v.split_once('=').unwrap_or((v, v));
        programs.push(Program {
            name: name.trim().into(),
            path: ours.clone(),
            args: flags.split_whitespace().map(String::from).collect(),
        });
    }

    let all = match sched_getaffinity(None) {
        Ok(set) => set,
        Err(e) => {
            eprintln!("helpers bench: sched_getaffinity: {e}");
            return ExitCode::FAILURE;
        }
    };
    let last_cpu = (0..CpuSet::MAX_CPU)
        .rev()
        .find(|&c| all.is_set(c))
        .unwrap_or(0);
    let cpu = std::env::var("P9PROXY_BENCH_CPU")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(last_cpu);

    println!("C helper: {}", c_helper.display());
    println!("ours:     {}", ours.display());
    for p in &programs[2..] {
        println!(
            "{:<9} ours with {}",
            format!("{}:", short(&p.name)),
            p.args.join(" ")
        );
    }
    println!(
        "{secs} s per row per side, in {rounds} rounds, the first side rotating; one op = \
         the whole pair where two requests are named; create/mkdir as uid:gid \
         {GUEST_ID}:{GUEST_ID}; X/C = C's µs/op over X's (above 1: X is faster), from the \
         totals and (median) of the rounds' ratios; {} CPUs allowed",
        all.count()
    );
    println!();
    let slice = Duration::from_secs_f64(secs / f64::from(rounds));
    for name in placements.split(',').map(str::trim) {
        let placement = match name {
            "floating" => Placement::Floating,
            "pinned" => Placement::Pinned(cpu),
            other => {
                eprintln!("helpers bench: unknown placement {other:?} (floating, pinned)");
                return ExitCode::FAILURE;
            }
        };
        if let Err(e) = placement.apply(&all) {
            eprintln!("helpers bench: sched_setaffinity: {e}");
            return ExitCode::FAILURE;
        }
        if let Err(e) = run_placement(placement, &programs, rounds, slice) {
            eprintln!("helpers bench: {e}");
            return ExitCode::FAILURE;
        }
    }
    let _ = Placement::Floating.apply(&all);
    println!(
        "floor: the same client, a request to a thread that answers a 12-byte status reply \
         at once (in the same placement); least: a process doing the least any helper must \
         (the request's one syscall relative to the export's fd, with QEMU's credential \
         switch around a create or mkdir; no confinement or checks); C/least: the most any helper could be faster than C's"
    );
    ExitCode::SUCCESS
}
