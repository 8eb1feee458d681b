//! [`Timestamp`]: one of the two times of T_UTIME, with `UTIME_NOW` and `UTIME_OMIT`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `tv_nsec` that asks for the current time (`UTIME_NOW`).
pub const UTIME_NOW: i64 = (1 << 30) - 1;
/// `tv_nsec` that leaves a time unchanged (`UTIME_OMIT`).
pub const UTIME_OMIT: i64 = (1 << 30) - 2;

/// An access or modification time for [`ProxyClient::utimensat`](crate::ProxyClient::utimensat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timestamp {
    /// Set to the helper's current time (`UTIME_NOW`).
    Now,
    /// Leave unchanged (`UTIME_OMIT`).
    Omit,
    /// Set to this time: seconds since the epoch (may be negative) and nanoseconds
    /// (below 1e9; the helper's kernel rejects others with EINVAL).
    At {
        /// Seconds since the epoch.
        sec: i64,
        /// Nanoseconds.
        nsec: u32,
    },
}

impl Timestamp {
    /// A time of `sec` seconds and `nsec` nanoseconds since the epoch.
    pub fn at(sec: i64, nsec: u32) -> Timestamp {
        Timestamp::At { sec, nsec }
    }

    /// The `(tv_sec, tv_nsec)` pair sent on the wire.
    pub fn to_wire(self) -> (i64, i64) {
        match self {
            Timestamp::Now => (0, UTIME_NOW),
            Timestamp::Omit => (0, UTIME_OMIT),
            Timestamp::At { sec, nsec } => (sec, i64::from(nsec)),
        }
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Timestamp {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp::At {
                sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nsec: d.subsec_nanos(),
            },
            Err(before) => {
                // Before the epoch: floor the seconds so nsec stays in [0, 1e9).
                let d: Duration = before.duration();
                let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                if d.subsec_nanos() == 0 {
                    Timestamp::At {
                        sec: -secs,
                        nsec: 0,
                    }
                } else {
                    Timestamp::At {
                        sec: -secs - 1,
                        nsec: 1_000_000_000 - d.subsec_nanos(),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values() {
        assert_eq!(UTIME_NOW, rustix::fs::UTIME_NOW);
        assert_eq!(UTIME_OMIT, rustix::fs::UTIME_OMIT);
        assert_eq!(Timestamp::Now.to_wire(), (0, UTIME_NOW));
        assert_eq!(Timestamp::Omit.to_wire(), (0, UTIME_OMIT));
        assert_eq!(Timestamp::at(-5, 7).to_wire(), (-5, 7));
    }

    #[test]
    fn from_system_time() {
        let t = UNIX_EPOCH + Duration::new(10, 250);
        assert_eq!(Timestamp::from(t), Timestamp::at(10, 250));
        let t = UNIX_EPOCH - Duration::new(1, 250_000_000);
        assert_eq!(Timestamp::from(t), Timestamp::at(-2, 750_000_000));
        let t = UNIX_EPOCH - Duration::new(3, 0);
        assert_eq!(Timestamp::from(t), Timestamp::at(-3, 0));
    }
}
