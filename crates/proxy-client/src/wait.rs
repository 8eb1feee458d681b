//! Adaptive polling: poll a socket for a short window before a blocking read sleeps.
//!
//! Sleeping between a request and its reply costs a wakeup, and waking an idle CPU is
//! expensive (on a virtual machine, more than a whole round trip on a Unix socket). A
//! waiter that polls briefly catches a quick reply on a CPU that never went idle. Polling
//! only pays while CPUs are free, so *whether* to poll is a [`SpinPolicy`]'s call, made at
//! each wait by whoever knows how busy the process is (the 9P server counts its busy
//! connections). After the window the caller's blocking read sleeps as usual.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};

/// How long a waiter may poll before it sleeps.
pub trait SpinPolicy: Send + Sync + std::fmt::Debug {
    /// The polling window for a wait starting now; zero: sleep at once.
    fn window(&self) -> Duration;
}

/// Polls `fd` (`poll(2)` with a zero timeout) until it is readable or hung up, for up to
/// `window`. Returns whether it became so; errors count as "no" (the caller's read will
/// report them).
pub fn spin_readable(fd: impl AsFd, window: Duration) -> bool {
    if window.is_zero() {
        return false;
    }
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let start = Instant::now();
    loop {
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match poll(&mut fds, Some(&zero)) {
            Ok(n) if n > 0 => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
        if start.elapsed() >= window {
            return false;
        }
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn readable_at_once_when_bytes_wait() {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(b"x").unwrap();
        assert!(spin_readable(&b, Duration::from_micros(50)));
    }

    #[test]
    fn gives_up_after_the_window() {
        let (_a, b) = UnixStream::pair().unwrap();
        let t = Instant::now();
        assert!(!spin_readable(&b, Duration::from_micros(300)));
        assert!(t.elapsed() >= Duration::from_micros(300));
        assert!(
            !spin_readable(&b, Duration::ZERO),
            "a zero window never polls"
        );
    }

    #[test]
    fn a_hang_up_is_readable() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(a);
        assert!(spin_readable(&b, Duration::from_micros(10)));
    }

    #[test]
    fn a_reply_arriving_while_polling_is_caught() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(2));
            a.write_all(b"y").unwrap();
            a
        });
        assert!(spin_readable(&b, Duration::from_secs(5)));
        drop(t.join().unwrap());
    }
}
