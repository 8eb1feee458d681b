//! [`Setattr`]: a Tsetattr built by naming what it changes.

use p9_wire::*;

/// A Tsetattr built by naming what it changes: each setter fills its field and sets its
/// `P9_SETATTR_*` bit in `valid`, so the two never disagree; every other field is zero.
/// `Setattr::of(fid).mode(0o600).size(4)` chmods and truncates. [`Client::setattr`]
/// takes it (or a [`Tsetattr`] written out, for requests no setter makes).
///
/// [`Client::setattr`]: crate::Client::setattr
#[derive(Debug, Clone, Copy)]
pub struct Setattr(Tsetattr);

impl Setattr {
    /// A Tsetattr of `fid` that changes nothing (`valid` 0).
    pub fn of(fid: u32) -> Setattr {
        Setattr(Tsetattr {
            fid,
            valid: 0,
            mode: 0,
            uid: 0,
            gid: 0,
            size: 0,
            atime_sec: 0,
            atime_nsec: 0,
            mtime_sec: 0,
            mtime_nsec: 0,
        })
    }

    /// The same request for another fid.
    pub fn fid(mut self, fid: u32) -> Setattr {
        self.0.fid = fid;
        self
    }

    /// Also sets the raw `valid` bits `bits` (none of the values).
    pub fn valid(mut self, bits: u32) -> Setattr {
        self.0.valid |= bits;
        self
    }

    /// chmod to `mode` (`P9_SETATTR_MODE`).
    pub fn mode(mut self, mode: u32) -> Setattr {
        self.0.mode = mode;
        self.valid(P9_SETATTR_MODE)
    }

    /// chown to the owner `uid` (`P9_SETATTR_UID`).
    pub fn uid(mut self, uid: u32) -> Setattr {
        self.0.uid = uid;
        self.valid(P9_SETATTR_UID)
    }

    /// chown to the group `gid` (`P9_SETATTR_GID`).
    pub fn gid(mut self, gid: u32) -> Setattr {
        self.0.gid = gid;
        self.valid(P9_SETATTR_GID)
    }

    /// truncate to `size` (`P9_SETATTR_SIZE`).
    pub fn size(mut self, size: u64) -> Setattr {
        self.0.size = size;
        self.valid(P9_SETATTR_SIZE)
    }

    /// atime to the given time (`P9_SETATTR_ATIME | P9_SETATTR_ATIME_SET`).
    pub fn atime(mut self, sec: u64, nsec: u64) -> Setattr {
        (self.0.atime_sec, self.0.atime_nsec) = (sec, nsec);
        self.valid(P9_SETATTR_ATIME | P9_SETATTR_ATIME_SET)
    }

    /// atime to now (`P9_SETATTR_ATIME`).
    pub fn atime_now(self) -> Setattr {
        self.valid(P9_SETATTR_ATIME)
    }

    /// mtime to the given time (`P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET`).
    pub fn mtime(mut self, sec: u64, nsec: u64) -> Setattr {
        (self.0.mtime_sec, self.0.mtime_nsec) = (sec, nsec);
        self.valid(P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET)
    }

    /// mtime to now (`P9_SETATTR_MTIME`).
    pub fn mtime_now(self) -> Setattr {
        self.valid(P9_SETATTR_MTIME)
    }

    /// ctime (`P9_SETATTR_CTIME`).
    pub fn ctime(self) -> Setattr {
        self.valid(P9_SETATTR_CTIME)
    }
}

impl From<Setattr> for Tsetattr {
    fn from(s: Setattr) -> Tsetattr {
        s.0
    }
}
