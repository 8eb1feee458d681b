//! POSIX byte-range locks (Tlock, Tgetlock) as open-file-description locks
//! (`F_OFD_SETLK`, `F_OFD_GETLK`) on the fid's open fd: each open fid is its own lock
//! owner, so locks held through two fids (of one connection or two) conflict, and
//! clunking a fid releases its locks. No thread ever blocks on a lock: a lock held by
//! someone else is `P9_LOCK_BLOCKED` at once; a blocking Tlock then waits as a pending
//! lock of its connection, tried again when a lock is released here ([`Waiters`]) or
//! after a growing delay, while the connection answers its other requests.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex};

use p9_wire::{
    P9_LOCK_BLOCKED, P9_LOCK_SUCCESS, P9_LOCK_TYPE_RDLCK, P9_LOCK_TYPE_UNLCK, P9_LOCK_TYPE_WRLCK,
};
use rustix::io::Errno;

/// A byte range lock request or answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// `P9_LOCK_TYPE_*`.
    pub ty: u8,
    /// Start offset.
    pub start: u64,
    /// Length (0: to the end of the file, however long it grows).
    pub length: u64,
    /// The owning process id, where known (0 otherwise).
    pub proc_id: u32,
}

fn to_flock(r: &Range) -> Result<libc::flock, Errno> {
    let l_type = match r.ty {
        P9_LOCK_TYPE_RDLCK => libc::F_RDLCK,
        P9_LOCK_TYPE_WRLCK => libc::F_WRLCK,
        P9_LOCK_TYPE_UNLCK => libc::F_UNLCK,
        _ => return Err(Errno::INVAL),
    };
    let l_start = i64::try_from(r.start).map_err(|_| Errno::INVAL)?;
    let l_len = i64::try_from(r.length).map_err(|_| Errno::INVAL)?;
    if l_start.checked_add(l_len).is_none() {
        return Err(Errno::INVAL);
    }
    Ok(libc::flock {
        l_type: l_type as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start,
        l_len,
        // OFD locks require l_pid == 0.
        l_pid: 0,
    })
}

/// `fcntl(fd, cmd, &mut fl)` for the two OFD lock commands.
#[allow(unsafe_code)]
fn fcntl_ofd(fd: BorrowedFd<'_>, cmd: libc::c_int, fl: &mut libc::flock) -> Result<(), Errno> {
    debug_assert!(cmd == libc::F_OFD_SETLK || cmd == libc::F_OFD_GETLK);
    // F_OFD_SETLK/GETLK read (GETLK also writes) exactly one `struct flock`; neither blocks.
    // SAFETY: `fd` is live for the call and `fl` points to one `flock` that outlives it.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), cmd, fl as *mut libc::flock) };
    if r == -1 {
        return Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO));
    }
    Ok(())
}

/// Tlock: takes or releases the range; `P9_LOCK_BLOCKED` if someone else holds a
/// conflicting lock. Other failures are errors (answered as Rlerror).
pub fn lock(fd: BorrowedFd<'_>, r: &Range) -> Result<u8, Errno> {
    let mut fl = to_flock(r)?;
    match fcntl_ofd(fd, libc::F_OFD_SETLK, &mut fl) {
        Ok(()) => Ok(P9_LOCK_SUCCESS),
        Err(Errno::AGAIN) | Err(Errno::ACCESS) => Ok(P9_LOCK_BLOCKED),
        Err(e) => Err(e),
    }
}

/// Most ranges one fid may hold locked (as the kernel counts them: adjacent or
/// overlapping ranges of one type merge); past it, Tlock is `ENOLCK`.
pub const MAX_RANGES_PER_FID: usize = 1024;

/// The ranges one open file description holds locked, kept as the kernel keeps them (a
/// lock replaces what it overlaps, merges with adjacent ranges of its type; an unlock
/// may split a range in two), to bound how many there are before the kernel is asked.
#[derive(Debug, Default)]
pub struct Held {
    /// Start -> (end, exclusive; `u64::MAX` for "to the end of the file"), type.
    map: BTreeMap<u64, (u64, u8)>,
}

/// What [`Held::apply`] changed, to take it back.
#[derive(Debug)]
pub struct Undo {
    removed: Vec<(u64, (u64, u8))>,
    inserted: Vec<u64>,
}

impl Held {
    /// How many ranges are held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Records `r` (a lock or an unlock) as the kernel would apply it.
    pub fn apply(&mut self, r: &Range) -> Undo {
        let start = r.start;
        let end = if r.length == 0 {
            u64::MAX
        } else {
            r.start.saturating_add(r.length)
        };
        let mut undo = Undo {
            removed: Vec::new(),
            inserted: Vec::new(),
        };
        // Every range overlapping [start, end), or touching it (to merge).
        let first = self
            .map
            .range(..start)
            .next_back()
            .filter(|(_, &(e, _))| e >= start)
            .map(|(&s, _)| s)
            .unwrap_or(start);
        let hit: Vec<(u64, (u64, u8))> =
            self.map.range(first..=end).map(|(&s, &v)| (s, v)).collect();
        let (mut lo, mut hi) = (start, end);
        let mut pieces = Vec::new();
        for &(s, (e, ty)) in &hit {
            self.map.remove(&s);
            undo.removed.push((s, (e, ty)));
            if r.ty != P9_LOCK_TYPE_UNLCK && ty == r.ty {
                // Same type, overlapping or adjacent: merged into the new range.
                lo = lo.min(s);
                hi = hi.max(e);
                continue;
            }
            if s < start {
                pieces.push((s, (start.min(e), ty)));
            }
            if e > end {
                pieces.push((end.max(s), (e, ty)));
            }
        }
        if r.ty != P9_LOCK_TYPE_UNLCK {
            pieces.push((lo, (hi, r.ty)));
        }
        for (s, v) in pieces {
            if s < v.0 {
                self.map.insert(s, v);
                undo.inserted.push(s);
            }
        }
        undo
    }

    /// Takes back what [`Held::apply`] did.
    pub fn undo(&mut self, undo: Undo) {
        for s in undo.inserted {
            self.map.remove(&s);
        }
        self.map.extend(undo.removed);
    }
}

/// The connections with blocking locks waiting, woken when any connection releases a
/// lock (they then try theirs again at once, instead of every few milliseconds).
#[derive(Debug, Default)]
pub struct Waiters {
    /// The write end of each waiting connection's wake-up pipe.
    list: Mutex<Vec<Arc<OwnedFd>>>,
}

impl Waiters {
    fn list(&self) -> std::sync::MutexGuard<'_, Vec<Arc<OwnedFd>>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes every waiting connection.
    pub fn wake_all(&self) {
        for w in self.list().iter() {
            // Full (already woken) is as good.
            let _ = rustix::io::write(w.as_fd(), &[1]);
        }
    }
}

/// One connection's wake-up pipe, registered with [`Waiters`] while it has blocking
/// locks waiting.
#[derive(Debug)]
pub struct Wake {
    read: OwnedFd,
    write: Arc<OwnedFd>,
    registered: bool,
}

impl Wake {
    /// A new (unregistered) pipe.
    pub fn new() -> Result<Wake, Errno> {
        let flags = rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK;
        let (read, write) = rustix::pipe::pipe_with(flags)?;
        Ok(Wake {
            read,
            write: Arc::new(write),
            registered: false,
        })
    }

    /// What becomes readable when woken.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// Registers (`on`) or unregisters this pipe with `waiters`.
    pub fn register(&mut self, waiters: &Waiters, on: bool) {
        if self.registered == on {
            return;
        }
        let mut list = waiters.list();
        if on {
            list.push(Arc::clone(&self.write));
        } else {
            list.retain(|w| !Arc::ptr_eq(w, &self.write));
        }
        self.registered = on;
    }

    /// Empties the pipe (after a wake-up).
    pub fn drain(&self) {
        let mut b = [0u8; 64];
        while matches!(rustix::io::read(&self.read, &mut b), Ok(n) if n > 0) {}
    }
}

/// Releases every lock held through the open file description of `fd`.
pub fn unlock_all(fd: BorrowedFd<'_>) {
    let all = Range {
        ty: P9_LOCK_TYPE_UNLCK,
        start: 0,
        length: 0,
        proc_id: 0,
    };
    if let Err(e) = lock(fd, &all) {
        tracing::debug!(errno = %e, "releasing locks");
    }
}

/// Tgetlock: the first lock that would conflict with `r`, or `r` itself with type
/// `UNLCK` if none would.
///
/// Linux's client always asks with type `UNLCK` (it has no type to test with: F_GETLK's
/// type was used for its local check): that is tested as a write lock, which any lock
/// held by someone else conflicts with.
pub fn getlock(fd: BorrowedFd<'_>, r: &Range) -> Result<Range, Errno> {
    let probe = if r.ty == P9_LOCK_TYPE_UNLCK {
        Range {
            ty: P9_LOCK_TYPE_WRLCK,
            ..*r
        }
    } else {
        *r
    };
    let mut fl = to_flock(&probe)?;
    fcntl_ofd(fd, libc::F_OFD_GETLK, &mut fl)?;
    if i32::from(fl.l_type) == libc::F_UNLCK {
        return Ok(Range {
            ty: P9_LOCK_TYPE_UNLCK,
            ..*r
        });
    }
    let ty = if i32::from(fl.l_type) == libc::F_WRLCK {
        P9_LOCK_TYPE_WRLCK
    } else {
        P9_LOCK_TYPE_RDLCK
    };
    Ok(Range {
        ty,
        start: fl.l_start.max(0) as u64,
        length: fl.l_len.max(0) as u64,
        // OFD locks have no owning process (-1); host pids of others are not shown.
        proc_id: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// A file holding `content`, opened twice for reading and writing: two open file
    /// descriptions (two lock owners).
    fn two_opens(content: &[u8]) -> (tempfile::TempDir, std::fs::File, std::fs::File) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, content).unwrap();
        let open = || {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&p)
                .unwrap()
        };
        (dir, open(), open())
    }

    fn range(ty: u8, start: u64, length: u64) -> Range {
        Range {
            ty,
            start,
            length,
            proc_id: 7,
        }
    }

    #[test]
    fn two_descriptions_conflict() {
        let (_dir, a, b) = two_opens(b"0123456789");
        let w = range(P9_LOCK_TYPE_WRLCK, 0, 5);
        assert_eq!(lock(a.as_fd(), &w), Ok(P9_LOCK_SUCCESS));
        assert_eq!(lock(b.as_fd(), &w), Ok(P9_LOCK_BLOCKED));
        assert_eq!(
            lock(b.as_fd(), &range(P9_LOCK_TYPE_WRLCK, 5, 0)),
            Ok(P9_LOCK_SUCCESS)
        );
        let g = getlock(b.as_fd(), &range(P9_LOCK_TYPE_RDLCK, 2, 1)).unwrap();
        assert_eq!((g.ty, g.start, g.length), (P9_LOCK_TYPE_WRLCK, 0, 5));
        // Linux asks with UNLCK: tested as a write lock.
        let g = getlock(b.as_fd(), &range(P9_LOCK_TYPE_UNLCK, 0, 0)).unwrap();
        assert_eq!((g.ty, g.start, g.length), (P9_LOCK_TYPE_WRLCK, 0, 5));
        assert_eq!(
            lock(a.as_fd(), &range(P9_LOCK_TYPE_UNLCK, 0, 0)),
            Ok(P9_LOCK_SUCCESS)
        );
        let g = getlock(b.as_fd(), &range(P9_LOCK_TYPE_WRLCK, 0, 5)).unwrap();
        assert_eq!(g.ty, P9_LOCK_TYPE_UNLCK);
        assert_eq!(g.proc_id, 7);
        assert_eq!(lock(a.as_fd(), &range(9, 0, 0)), Err(Errno::INVAL));
        assert_eq!(
            lock(a.as_fd(), &range(P9_LOCK_TYPE_WRLCK, u64::MAX, 0)),
            Err(Errno::INVAL)
        );
    }

    #[test]
    fn held_ranges_merge_and_split_as_the_kernel_does() {
        let mut h = Held::default();
        let w = |s, l| range(P9_LOCK_TYPE_WRLCK, s, l);
        let r = |s, l| range(P9_LOCK_TYPE_RDLCK, s, l);
        let u = |s, l| range(P9_LOCK_TYPE_UNLCK, s, l);
        h.apply(&w(0, 10));
        h.apply(&w(10, 10)); // adjacent, same type: merged
        assert_eq!(h.len(), 1);
        h.apply(&r(5, 2)); // splits the write lock in two around it
        assert_eq!(h.len(), 3);
        let undo = h.apply(&u(0, 0)); // everything
        assert_eq!(h.len(), 0);
        h.undo(undo);
        assert_eq!(h.len(), 3);
        h.apply(&u(8, 4)); // [0,5) and [5,7) stay, [7,8) and [12,20) of the write lock
        assert_eq!(h.len(), 4);
        for i in 0..100 {
            h.apply(&w(1000 + 2 * i, 1));
        }
        assert_eq!(h.len(), 104);
        h.apply(&w(1000, 200)); // covers them all
        assert_eq!(h.len(), 5);
        let undo = h.apply(&r(0, 0));
        assert_eq!(h.len(), 1);
        h.undo(undo);
        assert_eq!(h.len(), 5);
    }

    #[test]
    fn unlock_all_releases_a_shared_description() {
        let (_dir, a, other) = two_opens(b"x");
        // A second fd of the same description (a helper's copy) keeps its locks alive.
        let copy = a.try_clone().unwrap();
        assert_eq!(
            lock(a.as_fd(), &range(P9_LOCK_TYPE_WRLCK, 0, 0)),
            Ok(P9_LOCK_SUCCESS)
        );
        unlock_all(a.as_fd());
        drop(a);
        assert_eq!(
            lock(other.as_fd(), &range(P9_LOCK_TYPE_WRLCK, 0, 0)),
            Ok(P9_LOCK_SUCCESS)
        );
        drop(copy);
    }
}
