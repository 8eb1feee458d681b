//! QEMU's mapped-file format: the metadata of `DIR/NAME` as text in
//! `DIR/.virtfs_metadata/NAME`, the export root's in `.virtfs_metadata_root`.

use confined_fs::Name;

use super::Meta;

/// The metadata directory of the mapped-file model, in every directory with entries
/// that have metadata.
pub const META_DIR: &[u8] = b".virtfs_metadata";
/// The metadata file of the export root in the mapped-file model.
pub const META_ROOT_FILE: &[u8] = b".virtfs_metadata_root";
pub(super) const HIDDEN: &[&[u8]] = &[META_DIR, META_ROOT_FILE];
/// [`META_DIR`] and [`META_ROOT_FILE`] as the names the backends take, checked when this
/// compiles.
pub(super) const META_DIR_NAME: Name<'static> = fixed_name(META_DIR);
pub(super) const META_ROOT_NAME: Name<'static> = fixed_name(META_ROOT_FILE);

const fn fixed_name(name: &'static [u8]) -> Name<'static> {
    match confined_fs::check_name(name) {
        Ok(n) => n,
        Err(_) => panic!("a fixed name is not a valid name"),
    }
}

impl Meta {
    /// The mapped-file text, exactly as QEMU's `fprintf("virtfs.uid=%d\n", ...)` writes
    /// it (ids and mode as C `int`, the device number truncated to an `int`).
    pub fn to_file_text(self) -> Vec<u8> {
        let mut s = String::new();
        if let Some(v) = self.uid {
            s += &format!("virtfs.uid={}\n", v as i32);
        }
        if let Some(v) = self.gid {
            s += &format!("virtfs.gid={}\n", v as i32);
        }
        if let Some(v) = self.mode {
            s += &format!("virtfs.mode={}\n", v as i32);
        }
        if let Some(v) = self.rdev {
            s += &format!("virtfs.rdev={}\n", v as u32 as i32);
        }
        s.into_bytes()
    }

    /// Parses a mapped-file text as QEMU does (`strncmp` of the key, `atoi` of what
    /// follows); anything else is ignored.
    pub fn from_file_text(text: &[u8]) -> Meta {
        let mut m = Meta::default();
        for line in text.split(|&c| c == b'\n') {
            let at = |n: usize| atoi(line.get(n..).unwrap_or(&[]));
            if line.starts_with(b"virtfs.uid") {
                m.uid = Some(at(11) as u32);
            } else if line.starts_with(b"virtfs.gid") {
                m.gid = Some(at(11) as u32);
            } else if line.starts_with(b"virtfs.mode") {
                m.mode = Some(at(12) as u32);
            } else if line.starts_with(b"virtfs.rdev") {
                // An int widened to dev_t, as QEMU assigns it.
                m.rdev = Some(at(12) as i64 as u64);
            }
        }
        m
    }
}

/// C's `atoi` on bytes: leading blanks, a sign, digits (wrapping like the int it is).
fn atoi(s: &[u8]) -> i32 {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut n: i64 = 0;
    while let Some(d) = s.get(i).filter(|c| c.is_ascii_digit()) {
        n = (n * 10 + i64::from(d - b'0')) & 0xffff_ffff_ffff;
        i += 1;
    }
    let n = if neg { -n } else { n };
    n as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_text_round_trip() {
        let m = Meta {
            uid: Some(1000),
            gid: Some(u32::MAX - 1),
            mode: Some(0o20640),
            rdev: Some(rustix::fs::makedev(4, 64)),
        };
        let t = m.to_file_text();
        assert_eq!(
            t,
            b"virtfs.uid=1000\nvirtfs.gid=-2\nvirtfs.mode=8608\nvirtfs.rdev=1088\n"
        );
        assert_eq!(Meta::from_file_text(&t), m);
        assert_eq!(
            Meta::from_file_text(b"virtfs.mode=\nvirtfs.uidx\njunk\n"),
            Meta {
                uid: Some(0),
                mode: Some(0),
                ..Meta::default()
            }
        );
    }

    #[test]
    fn atoi_like_c() {
        assert_eq!(atoi(b" 42\n"), 42);
        assert_eq!(atoi(b"-7x"), -7);
        assert_eq!(atoi(b"+3"), 3);
        assert_eq!(atoi(b""), 0);
        assert_eq!(atoi(b"4294967295"), -1);
        assert_eq!(atoi(&[b'9'; 200]), atoi(&[b'9'; 200]));
    }
}
