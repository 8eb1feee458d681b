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

/// One waiter's record of how its polls went, so that it stops polling where polling
/// does not catch anything: a peer that needs the CPU we would spin on (a guest under
/// emulation, say) answers later *because* we spin. Each poll that times out doubles how
/// many of the following waits sleep at once (up to 64); each poll that catches its bytes
/// halves it.
#[derive(Debug, Default, Clone, Copy)]
pub struct SpinHistory {
    /// Waits left that sleep at once.
    skip: u32,
    /// How many waits the next miss skips.
    penalty: u32,
}

/// Most waits one missed poll makes sleep at once.
const MAX_PENALTY: u32 = 64;

impl SpinHistory {
    /// Polls `fd` for up to `window` unless recent polls missed; records how it went.
    /// Returns whether `fd` became readable while polling.
    pub fn spin(&mut self, fd: impl AsFd, window: Duration) -> bool {
        if window.is_zero() {
            return false;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        let caught = spin_readable(fd, window);
        if caught {
            self.penalty /= 2;
        } else {
            self.penalty = (self.penalty * 2 + 1).min(MAX_PENALTY);
            self.skip = self.penalty;
        }
        caught
    }
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
    fn misses_make_later_waits_sleep_at_once() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut h = SpinHistory::default();
        let w = Duration::from_micros(20);
        // A miss: the next wait skips polling, the one after polls again.
        assert!(!h.spin(&b, w));
        let t = Instant::now();
        assert!(!h.spin(&b, Duration::from_secs(10)), "skipped, at once");
        assert!(t.elapsed() < Duration::from_secs(1));
        assert!(!h.spin(&b, w));
        // Two misses in a row: three waits skip.
        for _ in 0..3 {
            assert!(!h.spin(&b, Duration::from_secs(10)));
        }
        // Misses pile up to the cap.
        for _ in 0..20 {
            while h.skip > 0 {
                h.spin(&b, w);
            }
            h.spin(&b, w);
        }
        assert_eq!(h.penalty, MAX_PENALTY);
        // Catches bring polling back.
        a.write_all(b"x").unwrap();
        while h.skip > 0 {
            h.spin(&b, w);
        }
        assert!(h.spin(&b, w));
        assert_eq!(h.penalty, MAX_PENALTY / 2);
        assert!(h.spin(&b, w), "a catch skips nothing");
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
