//! Side-by-side benchmark: QEMU's C helper against ours, driven by the same client.
//!
//! `cargo bench -p proxy-client --bench helpers` (as root: both helpers chroot). Each
//! helper runs on its own socketpair with its own fresh export. For each operation the two
//! sides take turns in short rounds (the side that goes first alternates), so drift in the
//! machine's load hits both alike. The floor is the same client against a thread that
//! answers every request with a 12-byte status reply: the cost of the client, the socket
//! and two context switches, with no helper work at all.
//!
//! Environment:
//! - `P9PROXY_HELPER`: our helper (default `<workspace>/target/release/virtfs-proxy-helper`);
//! - `P9PROXY_C_HELPER`: QEMU's (default `/usr/lib/qemu/virtfs-proxy-helper`);
//! - `P9PROXY_BENCH_SECS`: seconds per row per side (default 2);
//! - `P9PROXY_BENCH_ROUNDS`: rounds those seconds are split into (default 8).

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use proxy_client::{spawn_helper_command, OFlags, ProxyClient, SpawnedHelper};
use proxy_protocol::{Header, Reply, HEADER_SIZE};
use rustix::net::{
    recv, send, socketpair, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType,
};

const DEFAULT_C_HELPER: &str = "/usr/lib/qemu/virtfs-proxy-helper";
/// A non-root guest user, as QEMU passes it for a guest's `touch`/`mkdir`.
const GUEST_ID: u32 = 1000;
/// Operations between two looks at the clock.
const BATCH: u64 = 32;

type Op = fn(&ProxyClient);

/// The measured operations: name and one iteration.
const OPS: &[(&str, Op)] = &[
    ("T_LSTAT", |c| {
        c.lstat("/bench-file").expect("lstat");
    }),
    ("T_OPEN+close", |c| {
        drop(c.open("/bench-file", OFlags::RDONLY).expect("open"));
    }),
    ("T_CREATE+T_REMOVE", |c| {
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
    }),
    ("T_MKDIR+T_REMOVE", |c| {
        c.mkdir("/bench-dir", 0o755, GUEST_ID, GUEST_ID)
            .expect("mkdir");
        c.remove("/bench-dir").expect("remove");
    }),
];

/// One helper under test: its export (kept alive), process and client.
struct Side {
    name: &'static str,
    _export: tempfile::TempDir,
    helper: Option<SpawnedHelper>,
}

impl Side {
    fn start(name: &'static str, program: &Path) -> std::io::Result<Side> {
        let export = tempfile::tempdir()?;
        std::fs::write(export.path().join("bench-file"), b"benchmark file\n")?;
        let mut cmd = Command::new(program);
        cmd.arg("-p")
            .arg(export.path())
            .arg("-n")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let helper = spawn_helper_command(cmd)?;
        Ok(Side {
            name,
            _export: export,
            helper: Some(helper),
        })
    }

    fn client(&self) -> &ProxyClient {
        &self.helper.as_ref().expect("helper").client
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

/// Ops done and time taken.
#[derive(Default, Clone, Copy)]
struct Tally {
    ops: u64,
    secs: f64,
}

impl Tally {
    fn ops_per_sec(self) -> f64 {
        self.ops as f64 / self.secs
    }
    fn micros_per_op(self) -> f64 {
        self.secs * 1e6 / self.ops as f64
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
            };
        }
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

fn main() -> ExitCode {
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
    let sides = match (
        Side::start("C helper", &c_helper),
        Side::start("ours", &ours),
    ) {
        (Ok(c), Ok(o)) => [c, o],
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("helpers bench: cannot start a helper: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Both must answer before anything is timed.
    for side in &sides {
        if let Err(e) = side.client().lstat("/bench-file") {
            eprintln!("helpers bench: {} does not answer: {e}", side.name);
            return ExitCode::FAILURE;
        }
    }

    println!("C helper: {}", c_helper.display());
    println!("ours:     {}", ours.display());
    println!(
        "{secs} s per row per side, in {rounds} alternating rounds; one op = the whole \
         pair where two requests are named; create/mkdir as uid:gid {GUEST_ID}:{GUEST_ID}"
    );
    println!();
    println!(
        "{:<20} {:>14} {:>14} {:>8} {:>10} {:>10}",
        "op", "C ops/s", "ours ops/s", "ours/C", "C µs/op", "ours µs/op"
    );
    let slice = Duration::from_secs_f64(secs / f64::from(rounds));
    for (name, op) in OPS {
        let mut tallies = [Tally::default(); 2];
        for side in &sides {
            // Warm-up: caches, the first credential switch, page faults.
            run_for(side.client(), *op, Duration::from_millis(50));
        }
        for round in 0..rounds {
            let order: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                let t = run_for(sides[i].client(), *op, slice);
                tallies[i].ops += t.ops;
                tallies[i].secs += t.secs;
            }
        }
        let [c, o] = tallies;
        println!(
            "{:<20} {:>14.0} {:>14.0} {:>8.2} {:>10.2} {:>10.2}",
            name,
            c.ops_per_sec(),
            o.ops_per_sec(),
            o.ops_per_sec() / c.ops_per_sec(),
            c.micros_per_op(),
            o.micros_per_op()
        );
    }

    let floor_client = ProxyClient::from_fd(echo_floor());
    let chmod: Op = |c| c.chmod("/bench-file", 0o644).expect("echo");
    run_for(&floor_client, chmod, Duration::from_millis(50));
    let floor = run_for(&floor_client, chmod, Duration::from_secs_f64(secs));
    println!(
        "{:<20} {:>14.0} {:>14} {:>8} {:>10.2} {:>10}",
        "floor (echo thread)",
        floor.ops_per_sec(),
        "",
        "",
        floor.micros_per_op(),
        ""
    );
    println!(
        "\nfloor: the same client, a request to a thread that answers a 12-byte status \
         reply at once"
    );

    for side in sides {
        side.stop();
    }
    ExitCode::SUCCESS
}
