//! Adaptive polling: poll a socket for a short window before a blocking read sleeps.
//!
//! Sleeping between a request and its reply costs a wakeup, and waking an idle CPU is
//! expensive (on a virtual machine, more than a whole round trip on a Unix socket). A
//! waiter that polls briefly catches a quick reply on a CPU that never went idle. Polling
//! only pays while CPUs are free, so *whether* to poll is a [`SpinPolicy`]'s call, made at
//! each wait by whoever knows how busy the process is (the 9P server counts its busy
//! connections). After the window the caller's blocking read sleeps as usual.

use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};

/// How long a waiter may poll before it sleeps.
pub trait SpinPolicy: Send + Sync + std::fmt::Debug {
    /// The polling window for a wait starting now; zero: sleep at once.
    fn window(&self) -> Duration;
}

/// One waiter's record of how its polls went, so that it stops polling where polling
/// cannot win. Polling wins only when the peer runs on another CPU meanwhile; a peer that
/// needs the CPU we spin on (one pinned with us, or a guest under emulation on a busy
/// host) answers later *because* we spin. So a poll that times out, and a poll during
/// which this thread lost its CPU (a gap of [`LOST_CPU`] between two looks: someone else
/// ran here, whether or not the bytes came meanwhile), count as misses: each doubles how
/// many of the following waits sleep at once (up to [`MAX_PENALTY`]); each poll that
/// catches its bytes without losing the CPU halves it.
#[derive(Debug, Default, Clone, Copy)]
pub struct SpinHistory {
    /// Waits left that sleep at once.
    skip: u32,
    /// How many waits the next miss skips.
    penalty: u32,
}

/// Most waits one missed poll makes sleep at once. Where polling keeps missing (a peer on
/// our CPU), one wait in this many still polls to find out whether it would win again;
/// that probe costs at most a window, so a pinned peer pays at most window / 1025 per
/// request on average.
pub const MAX_PENALTY: u32 = 1024;

/// A gap between two looks while polling (each a non-blocking syscall of well under a
/// µs) longer than this means this thread was descheduled: the CPU was wanted by another
/// task, perhaps the very peer we wait for.
pub const LOST_CPU: Duration = Duration::from_micros(10);

/// How a poll ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spin {
    /// Not polled: a zero window, or recent polls missed.
    Skipped,
    /// Ready while we kept the CPU: polling saved a sleep and a wakeup.
    Caught,
    /// Ready, but only after this thread lost its CPU meanwhile: polling gained nothing.
    CaughtLate,
    /// This thread lost its CPU and is still not ready: stop, the CPU is wanted.
    LostCpu,
    /// The window passed.
    TimedOut,
}

impl Spin {
    /// Whether the waited-for event happened (the caller's read will not sleep).
    pub fn ready(self) -> bool {
        matches!(self, Spin::Caught | Spin::CaughtLate)
    }
}

impl SpinHistory {
    /// Polls `fd` for up to `window()` unless recent polls missed; records how it went.
    /// `sent` is when our last message to the peer started out (see [`spin_until`]).
    /// Returns whether `fd` became readable while polling. `window` is asked only when
    /// this wait may poll: a wait that skips (the usual case where polling loses, e.g. a
    /// peer on our CPU) costs a counter, not the policy's look at the other connections.
    pub fn spin(
        &mut self,
        fd: impl AsFd,
        window: impl FnOnce() -> Duration,
        sent: Instant,
    ) -> bool {
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        self.spin_with(window(), sent, || readable_now(fd.as_fd()))
            .ready()
    }

    /// Calls `ready` until it returns true, for up to `window`, unless recent polls
    /// missed ([`SpinHistory`]); records how it went. `ready` should be one cheap
    /// non-blocking check (a `poll`, or a `recv` with `MSG_DONTWAIT` that keeps what
    /// it gets).
    pub fn spin_with(
        &mut self,
        window: Duration,
        sent: Instant,
        ready: impl FnMut() -> bool,
    ) -> Spin {
        if window.is_zero() {
            return Spin::Skipped;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return Spin::Skipped;
        }
        let outcome = spin_until(window, sent, ready);
        self.record(outcome);
        outcome
    }

    /// Counts one poll's outcome.
    fn record(&mut self, outcome: Spin) {
        match outcome {
            Spin::Skipped => {}
            Spin::Caught => self.penalty /= 2,
            Spin::CaughtLate | Spin::LostCpu | Spin::TimedOut => {
                self.penalty = (self.penalty * 2 + 1).min(MAX_PENALTY);
                self.skip = self.penalty;
            }
        }
    }
}

/// Calls `ready` until it returns true, for up to `window`, and tells how that went. Stops
/// early when this thread lost its CPU (more than [`LOST_CPU`] between two looks).
///
/// `sent` is when our last message to the peer (the one it answers) started out, or now:
/// the first look counts from there. A peer on our CPU that runs as soon as our message
/// wakes it takes the CPU in the middle of our send, and its answer is there at our first
/// look: that catch saved nothing, the peer could only answer because we lost the CPU. A
/// slow send whose answer is not there yet ends nothing: on this 2-vCPU machine under load
/// a send that wakes a peer on the other CPU took 8 µs at the median, 12.5 at p90.
pub fn spin_until(window: Duration, sent: Instant, mut ready: impl FnMut() -> bool) -> Spin {
    if window.is_zero() {
        return Spin::Skipped;
    }
    let start = Instant::now();
    let mut last = sent.min(start);
    let mut first = true;
    loop {
        let got = ready();
        let now = Instant::now();
        let lost = now.duration_since(last) > LOST_CPU;
        match (got, lost) {
            (true, false) => return Spin::Caught,
            (true, true) => return Spin::CaughtLate,
            // A slow send with no answer yet is not a lost CPU by itself: waking a peer on
            // another (virtual) CPU can take that long.
            (false, true) if !first => return Spin::LostCpu,
            _ if now.duration_since(start) >= window => return Spin::TimedOut,
            _ => {}
        }
        first = false;
        last = now;
        std::hint::spin_loop();
    }
}

/// Polls `fd` (`poll(2)` with a zero timeout) until it is readable or hung up, for up to
/// `window`, or until this thread loses its CPU ([`spin_until`]). Returns whether it became
/// so; an error ends the poll (the caller's read reports it).
pub fn spin_readable(fd: impl AsFd, window: Duration) -> bool {
    spin_until(window, Instant::now(), || readable_now(fd.as_fd())).ready()
}

/// Whether `fd` is readable or hung up now; an error counts as "yes" (the caller's read
/// reports it).
fn readable_now(fd: BorrowedFd<'_>) -> bool {
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    !matches!(poll(&mut fds, Some(&zero)), Ok(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    /// A check that takes this thread off its CPU for far longer than [`LOST_CPU`].
    fn off_cpu() {
        std::thread::sleep(Duration::from_millis(2));
    }

    #[test]
    fn readable_at_once_when_bytes_wait() {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(b"x").unwrap();
        assert!(spin_readable(&b, Duration::from_micros(50)));
    }

    #[test]
    fn gives_up_without_bytes() {
        let (_a, b) = UnixStream::pair().unwrap();
        assert!(!spin_readable(&b, Duration::from_micros(300)));
        let calls = Cell::new(0);
        let outcome = spin_until(Duration::ZERO, Instant::now(), || {
            calls.set(calls.get() + 1);
            true
        });
        assert_eq!(outcome, Spin::Skipped);
        assert_eq!(calls.get(), 0, "a zero window never looks");
    }

    #[test]
    fn a_hang_up_is_readable() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(a);
        assert!(spin_readable(&b, Duration::from_micros(10)));
    }

    #[test]
    fn losing_the_cpu_ends_the_poll() {
        // Not ready after a look that lost the CPU: stop at once, even with a long window.
        let calls = Cell::new(0);
        let outcome = spin_until(Duration::from_secs(60), Instant::now(), || {
            calls.set(calls.get() + 1);
            off_cpu();
            false
        });
        assert_eq!(outcome, Spin::LostCpu);
        assert_eq!(
            calls.get(),
            2,
            "the first look's gap counts only with an answer"
        );
        assert!(!outcome.ready());
        // Ready, but only after losing the CPU: the caller reads, the history counts a miss.
        let late = spin_until(Duration::from_secs(60), Instant::now(), || {
            off_cpu();
            true
        });
        assert_eq!(late, Spin::CaughtLate);
        assert!(late.ready());
    }

    #[test]
    fn an_answer_there_at_once_after_a_slow_send_is_late() {
        // Our send took the CPU away (the peer ran meanwhile and answered): the first
        // look finds the answer, but polling gained nothing.
        let sent = Instant::now();
        off_cpu();
        assert_eq!(
            spin_until(Duration::from_secs(60), sent, || true),
            Spin::CaughtLate
        );
    }

    #[test]
    fn a_slow_send_alone_does_not_end_the_poll() {
        // The send took long, the answer is not there at the first look: keep polling.
        let sent = Instant::now();
        off_cpu();
        let calls = Cell::new(0);
        let outcome = spin_until(Duration::from_secs(60), sent, || {
            calls.set(calls.get() + 1);
            calls.get() == 2
        });
        assert!(outcome.ready(), "{outcome:?}");
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn a_quick_check_polls_until_the_window_or_a_lost_cpu() {
        let outcome = spin_until(Duration::from_micros(200), Instant::now(), || false);
        assert!(
            matches!(outcome, Spin::TimedOut | Spin::LostCpu),
            "{outcome:?}"
        );
    }

    #[test]
    fn misses_make_later_waits_sleep_at_once() {
        let mut h = SpinHistory::default();
        let w = Duration::from_secs(60);
        let looks = Cell::new(0);
        let never = || {
            looks.set(looks.get() + 1);
            off_cpu();
            false
        };
        // A miss: the next wait skips polling (without looking), the one after polls again.
        assert_eq!(h.spin_with(w, Instant::now(), never), Spin::LostCpu);
        assert_eq!(h.spin_with(w, Instant::now(), never), Spin::Skipped);
        assert_eq!(looks.get(), 2);
        assert_eq!(h.spin_with(w, Instant::now(), never), Spin::LostCpu);
        // Two misses in a row: three waits skip.
        for _ in 0..3 {
            assert_eq!(h.spin_with(w, Instant::now(), never), Spin::Skipped);
        }
        // Misses pile up to the cap (counted without polling).
        for _ in 0..20 {
            h.skip = 0;
            h.record(Spin::TimedOut);
        }
        assert_eq!(h.penalty, MAX_PENALTY);
        assert_eq!(h.skip, MAX_PENALTY);
        // A late catch is a miss too: the bytes came only once we had lost the CPU.
        h.skip = 0;
        h.penalty = 4;
        h.record(Spin::CaughtLate);
        assert_eq!((h.penalty, h.skip), (9, 9));
        // Catches bring polling back.
        h.skip = 0;
        h.record(Spin::Caught);
        assert_eq!((h.penalty, h.skip), (4, 0), "a catch skips nothing");
        h.record(Spin::Caught);
        assert_eq!(h.penalty, 2);
    }

    #[test]
    fn a_reply_arriving_while_polling_is_caught() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(2));
            a.write_all(b"y").unwrap();
            a
        });
        // The poll may lose its CPU on a busy machine: then it stops and we wait as the
        // caller would, by a blocking read; either way the bytes arrive.
        spin_readable(&b, Duration::from_secs(5));
        let mut buf = [0u8; 1];
        (&b).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"y");
        drop(t.join().unwrap());
    }
}
