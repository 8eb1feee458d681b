//! Helpers of the real `p9proxy serve --backend proxy` (started by its privileged
//! spawner; the front end confined, as nobody) killed with SIGKILL again and again while
//! clients work: every reply is a success or, for a request a dead helper had taken,
//! EIO; the server replaces its helpers and goes on; what was acknowledged (data written
//! and fsynced, directories made) is on disk. (The in-process version, with requests
//! held in flight deterministically, is `p9-server`'s `tests/faults.rs`.)

mod common;
use common::{helpers_of, Killed};

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use p9_client::Client;
use p9_wire::*;
use rustix::io::Errno;

const P9PROXY: &str = env!("CARGO_BIN_EXE_p9proxy");

fn client(sock: &Path) -> Client<UnixStream> {
    let mut c = Client::new(UnixStream::connect(sock).unwrap());
    c.version(1 << 20).unwrap();
    c.attach(0, 0).unwrap();
    c
}

#[derive(Debug, Default)]
struct Tally {
    ok: usize,
    eio: usize,
    made: Vec<String>,
}

#[test]
fn helpers_killed_again_and_again() {
    let helper = Path::new(P9PROXY).with_file_name("virtfs-proxy-helper");
    if !rustix::process::geteuid().is_root() || !helper.exists() {
        eprintln!("SKIPPED: needs root and the helper built next to p9proxy");
        return;
    }
    rustix::process::umask(rustix::fs::Mode::empty());
    let tmp = tempfile::tempdir().unwrap();
    let export = tmp.path().join("export");
    std::fs::create_dir_all(export.join("d")).unwrap();
    for i in 0..8 {
        std::fs::write(export.join(format!("d/f{i}")), b"x").unwrap();
    }
    let sock = tmp.path().join("p9.sock");
    let child = Command::new(P9PROXY)
        .arg("serve")
        .arg(&export)
        .args(["--backend", "proxy", "--listen"])
        .arg(format!("unix:{}", sock.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Killed(child);
    let pid = server.0.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !sock.exists() {
        assert!(server.0.try_wait().unwrap().is_none(), "server exited");
        assert!(Instant::now() < deadline, "server never listened");
        std::thread::sleep(Duration::from_millis(10));
    }

    // Data written and synced before the helpers die.
    let mut w = client(&sock);
    w.walk(0, 1, &[]).unwrap();
    w.lcreate(1, b"data", P9_DOTL_RDWR, 0o644, 0).unwrap();
    let data: Vec<u8> = (0..(2u32 << 20)).map(|i| (i * 31 + 7) as u8).collect();
    let chunk = max_io_count(w.msize()) as usize;
    for (i, part) in data.chunks(chunk).enumerate() {
        assert_eq!(
            w.write(1, (i * chunk) as u64, part).unwrap(),
            part.len() as u32
        );
    }
    w.fsync(1, 0).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let mut c = client(&sock);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut tally = Tally::default();
                let mut after = 0;
                for i in 0u32.. {
                    let stopped = stop.load(Ordering::SeqCst);
                    if stopped {
                        after += 1;
                        if after > 20 {
                            break;
                        }
                    }
                    let name = format!("t{t}-{i}");
                    let r = match i % 3 {
                        0 => {
                            // One name per walk: a walk of several that fails past the
                            // first name is a partial Rwalk, not an error.
                            let f = format!("f{}", i % 8);
                            c.walk(0, 1, &[b"d"])
                                .and_then(|_| c.walk(1, 1, &[f.as_bytes()]))
                                .and_then(|_| c.clunk(1))
                        }
                        1 => c.mkdir(0, name.as_bytes(), 0o755, 0).map(|_| {
                            tally.made.push(name.clone());
                        }),
                        _ => c.walk(0, 2, &[b"d"]).and_then(|_| {
                            c.lopen(2, P9_DOTL_RDONLY | P9_DOTL_DIRECTORY)?;
                            let n = c.readdir_all(2, 4096)?.len();
                            assert_eq!(n, 10, "d holds . .. and 8 files");
                            c.clunk(2)
                        }),
                    };
                    match r {
                        Ok(()) => tally.ok += 1,
                        // Only while helpers are being killed.
                        Err(e) if e.errno() == Some(Errno::IO) && !stopped => {
                            tally.eio += 1;
                            // A failed request may leave fid 1 or 2 behind: start over.
                            let _ = c.clunk(1);
                            let _ = c.clunk(2);
                        }
                        Err(e) => panic!("thread {t} op {i}: {e}"),
                    }
                }
                tally
            })
        })
        .collect();

    let mut killed = 0;
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(150));
        for h in helpers_of(pid) {
            // SAFETY: kill(2) of a helper of our server (it may have exited meanwhile).
            #[allow(unsafe_code)]
            if unsafe { libc::kill(h as libc::pid_t, libc::SIGKILL) } == 0 {
                killed += 1;
            }
        }
    }
    std::thread::sleep(Duration::from_millis(150));
    stop.store(true, Ordering::SeqCst);
    let tallies: Vec<Tally> = workers.into_iter().map(|t| t.join().unwrap()).collect();
    let ok: usize = tallies.iter().map(|t| t.ok).sum();
    let eio: usize = tallies.iter().map(|t| t.eio).sum();
    eprintln!(
        "p9proxy --backend proxy: {killed} helpers killed in 6 rounds; {ok} requests \
         answered, {eio} EIO; {} helpers now",
        helpers_of(pid).len()
    );
    assert!(killed >= 6, "found only {killed} helpers to kill");
    assert!(ok > 0);

    // Acknowledged: on disk.
    assert!(
        std::fs::read(export.join("data")).unwrap() == data,
        "data lost"
    );
    let made: BTreeSet<String> = tallies.iter().flat_map(|t| t.made.clone()).collect();
    for m in &made {
        assert!(export.join(m).is_dir(), "{m} acknowledged but missing");
    }
    // The writer's open fid goes on; new requests are served.
    assert_eq!(w.write(1, data.len() as u64, b"end").unwrap(), 3);
    w.fsync(1, 0).unwrap();
    w.walk(0, 3, &[b"data"]).unwrap();
    assert_eq!(w.getattr(3).unwrap().size, data.len() as u64 + 3);
    w.mkdir(0, b"last", 0o755, 0).unwrap();
    assert!(export.join("last").is_dir());

    assert!(server.0.try_wait().unwrap().is_none(), "the server died");
    drop((w, tallies));
    let _ = server.0.kill();
    let _ = server.0.wait();
    let mut err = String::new();
    server
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!err.contains("panicked"), "{err}");
}
