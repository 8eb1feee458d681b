//! A fuzzed byte stream as one 9P connection to a real `Server` (local backend) on an
//! export in a temporary directory: after a fixed Tversion and Tattach (fid 0, uid 0),
//! the input is the rest of the stream. The server must never panic, every reply it
//! writes must be a well-formed R-message, and nothing outside the export may change.
#![no_main]

mod fuzz_env;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use p9_server::{LocalBackend, Server, ServerConfig};
use p9_wire::*;

struct Target {
    env: fuzz_env::Env,
    server: Server,
    prelude: Vec<u8>,
}

fn target() -> &'static Target {
    static T: OnceLock<Target> = OnceLock::new();
    T.get_or_init(|| {
        let env = fuzz_env::Env::new();
        let backend = Arc::new(LocalBackend::new(&env.export).unwrap());
        let config = ServerConfig {
            // A blocking Tlock on a lock held through another fid waits this long.
            lock_wait: Duration::from_millis(10),
            ..ServerConfig::default()
        };
        let server = Server::new(backend, config).unwrap();
        let mut prelude = Vec::new();
        let v = Tmessage::Version(Tversion {
            msize: 65536,
            version: VERSION_9P2000_L,
        });
        encode(NOTAG, &v, &mut prelude, u32::MAX).unwrap();
        let a = Tmessage::Attach(Tattach {
            fid: 0,
            afid: NOFID,
            uname: b"",
            aname: b"",
            n_uname: 0,
        });
        encode(0, &a, &mut prelude, u32::MAX).unwrap();
        Target {
            env,
            server,
            prelude,
        }
    })
}

/// Checks each reply frame as it is written, keeping none.
#[derive(Default)]
struct Replies {
    partial: Vec<u8>,
    count: usize,
}

impl Write for Replies {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.partial.extend_from_slice(buf);
        let mut at = 0;
        while self.partial.len() - at >= 4 {
            let size = u32::from_le_bytes(self.partial[at..at + 4].try_into().unwrap()) as usize;
            assert!(size >= HEADER_SIZE && size <= 65536, "reply size {size}");
            if self.partial.len() - at < size {
                break;
            }
            let frame = &self.partial[at..at + size];
            if let Err(e) = decode_rmessage(frame) {
                panic!("malformed reply {:?}: {e}", &frame[..frame.len().min(32)]);
            }
            self.count += 1;
            at += size;
        }
        self.partial.drain(..at);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let t = target();
    t.env.reset();
    // The server wants a real descriptor (it polls it, and sends file data with
    // sendfile): a socketpair, fed and drained by two threads.
    let (ours, theirs) = UnixStream::pair().unwrap();
    let mut feed = ours.try_clone().unwrap();
    let input: Vec<u8> = t.prelude.iter().chain(data).copied().collect();
    let feeder = std::thread::spawn(move || {
        // The server may close first (a frame it cannot delimit): then writes fail.
        let _ = feed.write_all(&input);
        let _ = feed.shutdown(Shutdown::Write);
    });
    let checker = std::thread::spawn(move || {
        let mut replies = Replies::default();
        let mut r = ours;
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(n @ 1..) = r.read(&mut buf) {
            replies.write_all(&buf[..n]).unwrap();
        }
        replies
    });
    // The stream ends where the input does (a clean close): any result is fine.
    let served = t.server.serve(&theirs, &theirs, 65536);
    drop(theirs);
    feeder.join().unwrap();
    let replies = checker.join().unwrap();
    assert!(
        replies.count >= 2,
        "Rversion and Rattach: {} replies, serve: {served:?}",
        replies.count
    );
    assert!(replies.partial.is_empty(), "a reply written in part");
    t.env.check_outside();
});
