//! Stable qids: one per inode, for as long as the server runs.
//!
//! A qid's `path` must be unique per file. Inodes of the export's own file system use
//! their inode number (when below 2^63); inodes of other file systems mounted inside
//! the export (and the rare inode number at or above 2^63) get `2^63 | n` from a
//! counter, remembered per `(dev, ino)`. The two ranges cannot collide.

use std::collections::HashMap;
use std::sync::Mutex;

use p9_wire::{qid_type_from_mode, Qid};

use crate::backend::Attr;

const HIGH: u64 = 1 << 63;

/// The map from host `(dev, ino)` to qid paths, shared by all connections.
#[derive(Debug)]
pub struct QidMap {
    export_dev: u64,
    others: Mutex<Others>,
}

#[derive(Debug, Default)]
struct Others {
    map: HashMap<(u64, u64), u64>,
    next: u64,
}

impl QidMap {
    /// A map for an export whose root lives on `export_dev`.
    pub fn new(export_dev: u64) -> QidMap {
        QidMap {
            export_dev,
            others: Mutex::new(Others::default()),
        }
    }

    /// The qid path of inode `ino` of device `dev`.
    pub fn path(&self, dev: u64, ino: u64) -> u64 {
        if dev == self.export_dev && ino < HIGH {
            return ino;
        }
        let mut o = self.others.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&p) = o.map.get(&(dev, ino)) {
            return p;
        }
        o.next += 1;
        let p = HIGH | (o.next & !HIGH);
        o.map.insert((dev, ino), p);
        p
    }

    /// The qid of a file with these attributes. The version changes with the
    /// modification time and size, as QEMU's.
    pub fn qid(&self, a: &Attr) -> Qid {
        Qid {
            ty: qid_type_from_mode(a.mode),
            version: (a.mtime_sec as u64 ^ (a.size << 8)) as u32,
            path: self.path(a.dev, a.ino),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_collisions() {
        let m = QidMap::new(7);
        assert_eq!(m.path(7, 42), 42);
        let a = m.path(8, 42);
        let b = m.path(7, u64::MAX);
        let c = m.path(9, 42);
        assert!(a >= HIGH && b >= HIGH && c >= HIGH);
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_ne!(b, c);
        assert_eq!(m.path(8, 42), a, "stable");
        assert_eq!(m.path(7, u64::MAX), b, "stable");
    }
}
