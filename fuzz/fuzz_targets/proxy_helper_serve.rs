//! A fuzzed byte stream as the proxy-protocol connection to our helper's request loop
//! (`proxy_helper::serve`, on a socketpair) over an export in a temporary directory: it
//! must never panic, and nothing outside the export may change.
#![no_main]

mod fuzz_env;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::OnceLock;

use confined_fs::{Export, ExportOptions};
use libfuzzer_sys::fuzz_target;

struct Target {
    env: fuzz_env::Env,
    export: Export,
}

fn target() -> &'static Target {
    static T: OnceLock<Target> = OnceLock::new();
    T.get_or_init(|| {
        let env = fuzz_env::Env::new();
        let export = Export::new(&env.export, ExportOptions::default()).unwrap();
        Target { env, export }
    })
}

fuzz_target!(|data: &[u8]| {
    let t = target();
    t.env.reset();
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    // Replies (and the fds they carry, closed by the kernel as they are read without
    // room for them) are drained as they come.
    let mut drain = ours.try_clone().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        while matches!(drain.read(&mut buf), Ok(n) if n > 0) {}
    });
    std::thread::scope(|s| {
        let helper = s.spawn(|| {
            let _ = proxy_helper::serve(&t.export, Default::default(), OwnedFd::from(theirs), Default::default());
        });
        // The helper may close early (a request it cannot frame): then writes fail.
        let _ = ours.write_all(data);
        let _ = ours.shutdown(std::net::Shutdown::Write);
        helper.join().unwrap();
    });
    drop(ours);
    reader.join().unwrap();
    t.env.check_outside();
});
