//! Adaptive polling: whether a connection thread (or, through the proxy backend, its
//! request to a helper) polls briefly before it sleeps, by how busy the server is.
//!
//! A connection thread that sleeps between requests is woken for each one, and waking an
//! idle CPU costs more than a whole request (on a virtual machine, tens of µs: more than a
//! Unix-socket round trip). While few connections are busy, a thread that has just
//! answered therefore polls its socket for a short window before its blocking read, and a
//! request to a helper polls for the helper's reply the same way
//! ([`proxy_client::wait`]); the next request, or the reply, then finds a CPU that never
//! went idle. Polling only pays while CPUs are free: once more connections are *hot*
//! (their client sent a request within the last [`HOT_GAP`]) than half the CPUs, every
//! wait sleeps at once and CPU time goes to requests, not to spinning.
//!
//! A connection whose polls keep missing or losing their CPU (a client that needs the CPU
//! we would spin on, pinned with us or a guest under emulation on the same host, answers
//! later *because* we spin) stops polling for a while ([`proxy_client::SpinHistory`]).
//!
//! Each connection notes when its last request came in a slot of a small fixed table
//! (connections past [`SLOTS`] share slots, which can only make polling more likely); a
//! connection that goes quiet stops counting [`HOT_GAP`] later without doing anything.

use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use proxy_client::{SpinHistory, SpinPolicy};

/// A connection whose client sent a request within this long counts as hot (busy).
pub const HOT_GAP: Duration = Duration::from_millis(1);
/// Slots of the table of when connections last had a request.
pub const SLOTS: usize = 64;

/// The polling policy of one server: the window, and when each connection was last busy.
#[derive(Debug)]
pub struct Poller {
    window: Duration,
    /// Polling is allowed while at most this many connections are hot.
    max_hot: usize,
    epoch: Instant,
    /// Per slot: nanoseconds since `epoch` of its connection's last request (0: none).
    slots: [AtomicU64; SLOTS],
    next_slot: AtomicUsize,
}

impl Poller {
    /// Polls for up to `window` (zero: never) while at most half the CPUs' worth of
    /// connections are hot. Counts the CPUs this thread may run on: make it before a
    /// sandbox hides them.
    pub fn new(window: Duration) -> Poller {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Poller::with_max_hot(window, (cpus / 2).max(1))
    }

    /// Polls for up to `window` while at most `max_hot` connections are hot.
    pub fn with_max_hot(window: Duration, max_hot: usize) -> Poller {
        Poller {
            window,
            max_hot,
            epoch: Instant::now(),
            slots: std::array::from_fn(|_| AtomicU64::new(0)),
            next_slot: AtomicUsize::new(0),
        }
    }

    /// Never polls: every wait sleeps at once.
    pub fn off() -> Poller {
        Poller::with_max_hot(Duration::ZERO, 0)
    }

    /// How many connections are hot now (at most `limit + 1` are counted).
    fn hot_up_to(&self, limit: usize) -> usize {
        let now = self.now();
        let gap = HOT_GAP.as_nanos() as u64;
        let mut hot = 0;
        for slot in &self.slots {
            let t = slot.load(Ordering::Relaxed);
            if t != 0 && now.saturating_sub(t) < gap {
                hot += 1;
                if hot > limit {
                    break;
                }
            }
        }
        hot
    }

    /// How many connections are hot now.
    pub fn hot(&self) -> usize {
        self.hot_up_to(SLOTS)
    }

    /// Nanoseconds since the epoch, never 0.
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    }
}

impl SpinPolicy for Poller {
    fn window(&self) -> Duration {
        if self.window.is_zero() || self.hot_up_to(self.max_hot) > self.max_hot {
            Duration::ZERO
        } else {
            self.window
        }
    }
}

/// One connection's waits for its client's requests, and its slot.
#[derive(Debug)]
pub(crate) struct RequestWait<'p> {
    poller: &'p Poller,
    slot: usize,
    spins: SpinHistory,
    /// When the last replies started out, if not waited after yet.
    sent: Option<Instant>,
}

impl<'p> RequestWait<'p> {
    pub(crate) fn new(poller: &'p Poller) -> Self {
        let slot = poller.next_slot.fetch_add(1, Ordering::Relaxed) % SLOTS;
        RequestWait {
            poller,
            slot,
            spins: SpinHistory::default(),
            sent: None,
        }
    }

    /// Before a blocking read of the next request: polls `fd` for the window the policy
    /// allows now, unless this connection's recent polls missed ([`SpinHistory`]).
    pub(crate) fn before_read(&mut self, fd: impl AsFd) {
        let sent = self.sent.take().unwrap_or_else(Instant::now);
        self.spins.spin(fd, || self.poller.window(), sent);
    }

    /// Replies are about to go out: the next wait's first look counts from now (a client
    /// on our CPU runs during that send; see [`proxy_client::spin_until`]).
    pub(crate) fn replying(&mut self) {
        self.sent = Some(Instant::now());
    }

    /// A request came in: the connection is hot.
    pub(crate) fn arrived(&self) {
        self.poller.slots[self.slot].store(self.poller.now(), Ordering::Relaxed);
    }
}

impl Drop for RequestWait<'_> {
    fn drop(&mut self) {
        self.poller.slots[self.slot].store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_only_while_few_connections_are_hot() {
        let p = Poller::with_max_hot(Duration::from_micros(50), 1);
        assert_eq!(p.window(), Duration::from_micros(50));
        let (w1, w2) = (RequestWait::new(&p), RequestWait::new(&p));
        w1.arrived();
        assert_eq!(p.hot(), 1);
        assert_eq!(
            p.window(),
            Duration::from_micros(50),
            "one hot connection may poll"
        );
        w2.arrived();
        assert_eq!(p.hot(), 2);
        assert_eq!(
            p.window(),
            Duration::ZERO,
            "two hot connections on max_hot 1 sleep"
        );
        drop(w2);
        assert_eq!(p.hot(), 1, "a connection that ends is no longer hot");
    }

    #[test]
    fn a_quiet_connection_cools_down_by_itself() {
        let p = Poller::with_max_hot(Duration::from_micros(20), 1);
        let (w1, w2) = (RequestWait::new(&p), RequestWait::new(&p));
        w1.arrived();
        w2.arrived();
        assert_eq!(p.window(), Duration::ZERO);
        std::thread::sleep(HOT_GAP * 2);
        assert_eq!(p.hot(), 0);
        w1.arrived();
        assert_eq!(p.window(), Duration::from_micros(20), "w2 went quiet");
    }

    #[test]
    fn off_never_polls() {
        let p = Poller::off();
        RequestWait::new(&p).arrived();
        assert_eq!(p.window(), Duration::ZERO);
    }
}
