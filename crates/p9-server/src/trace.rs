//! `--trace`: one line per decoded request and per reply, in the style of diod's debug
//! output (`Twalk tag 1 fid 0 newfid 1 nwname 2 'a' 'b'`, `Rwalk tag 1 nwqid 2 (…)`).
//! Data payloads (Twrite, Rread, Rreaddir) are summarized by their byte count; strings
//! are quoted with non-printable bytes escaped and cut at [`MAX_STR`] bytes.
//!
//! The session checks one bool ([`crate::ServerConfig::trace`]) per message before
//! calling in here, so tracing costs nothing when it is off.

use std::fmt::{self, Write as _};

use p9_wire::{decode_rmessage, msg_type_name, peek_header, Qid, Rmessage, Tmessage};

/// Longest string shown whole; longer ones end with `...`.
pub const MAX_STR: usize = 128;

/// A byte string, quoted and escaped.
struct Q<'a>(&'a [u8]);

impl fmt::Display for Q<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('\'')?;
        for &b in self.0.iter().take(MAX_STR) {
            if b == b'\'' || b == b'\\' {
                write!(f, "\\{}", b as char)?;
            } else {
                write!(f, "{}", std::ascii::escape_default(b))?;
            }
        }
        f.write_char('\'')?;
        if self.0.len() > MAX_STR {
            f.write_str("...")?;
        }
        Ok(())
    }
}

/// A qid as diod prints it: `(path version type)`, the type as letters.
struct QidFmt<'a>(&'a Qid);

impl fmt::Display for QidFmt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = self.0;
        let mut ty = String::new();
        for (bit, c) in [
            (p9_wire::QTDIR, 'd'),
            (p9_wire::QTAPPEND, 'a'),
            (p9_wire::QTEXCL, 'l'),
            (p9_wire::QTMOUNT, 'm'),
            (p9_wire::QTAUTH, 'A'),
            (p9_wire::QTTMP, 't'),
            (p9_wire::QTSYMLINK, 'L'),
            (p9_wire::QTLINK, 'h'),
        ] {
            if q.ty & bit != 0 {
                ty.push(c);
            }
        }
        write!(f, "({:016x} {} '{}')", q.path, q.version, ty)
    }
}

/// The line for request `msg` with `tag`.
pub fn request(tag: u16, msg: &Tmessage<'_>) -> String {
    let mut s = String::with_capacity(96);
    let _ = write_request(&mut s, tag, msg);
    s
}

fn write_request(s: &mut String, tag: u16, msg: &Tmessage<'_>) -> fmt::Result {
    let name = msg_type_name(msg.msg_type()).unwrap_or("T?");
    write!(s, "{name} tag {tag}")?;
    match msg {
        Tmessage::Version(t) => write!(s, " msize {} version {}", t.msize, Q(t.version)),
        Tmessage::Auth(t) => write!(
            s,
            " afid {} uname {} aname {} n_uname {}",
            t.afid,
            Q(t.uname),
            Q(t.aname),
            t.n_uname
        ),
        Tmessage::Attach(t) => write!(
            s,
            " fid {} afid {} uname {} aname {} n_uname {}",
            t.fid,
            t.afid as i32,
            Q(t.uname),
            Q(t.aname),
            t.n_uname
        ),
        Tmessage::Flush(t) => write!(s, " oldtag {}", t.oldtag),
        Tmessage::Walk(t) => {
            let names = t.wnames.as_slice();
            write!(
                s,
                " fid {} newfid {} nwname {}",
                t.fid,
                t.newfid,
                names.len()
            )?;
            for n in names {
                write!(s, " {}", Q(n))?;
            }
            Ok(())
        }
        Tmessage::Lopen(t) => write!(s, " fid {} flags 0{:o}", t.fid, t.flags),
        Tmessage::Lcreate(t) => write!(
            s,
            " fid {} name {} flags 0{:o} mode 0{:o} gid {}",
            t.fid,
            Q(t.name),
            t.flags,
            t.mode,
            t.gid
        ),
        Tmessage::Read(t) => write!(s, " fid {} offset {} count {}", t.fid, t.offset, t.count),
        Tmessage::Write(t) => write!(
            s,
            " fid {} offset {} count {}",
            t.fid,
            t.offset,
            t.data.len()
        ),
        Tmessage::Clunk(t) => write!(s, " fid {}", t.fid),
        Tmessage::Remove(t) => write!(s, " fid {}", t.fid),
        Tmessage::Getattr(t) => write!(s, " fid {} request_mask 0x{:x}", t.fid, t.request_mask),
        Tmessage::Setattr(t) => write!(
            s,
            " fid {} valid 0x{:x} mode 0{:o} uid {} gid {} size {} atime {}.{:09} mtime {}.{:09}",
            t.fid,
            t.valid,
            t.mode,
            t.uid as i32,
            t.gid as i32,
            t.size,
            t.atime_sec,
            t.atime_nsec,
            t.mtime_sec,
            t.mtime_nsec
        ),
        Tmessage::Readdir(t) => write!(s, " fid {} offset {} count {}", t.fid, t.offset, t.count),
        Tmessage::Statfs(t) => write!(s, " fid {}", t.fid),
        Tmessage::Fsync(t) => write!(s, " fid {} datasync {}", t.fid, t.datasync),
        Tmessage::Mkdir(t) => write!(
            s,
            " dfid {} name {} mode 0{:o} gid {}",
            t.dfid,
            Q(t.name),
            t.mode,
            t.gid
        ),
        Tmessage::Symlink(t) => write!(
            s,
            " dfid {} name {} symtgt {} gid {}",
            t.dfid,
            Q(t.name),
            Q(t.symtgt),
            t.gid
        ),
        Tmessage::Mknod(t) => write!(
            s,
            " dfid {} name {} mode 0{:o} major {} minor {} gid {}",
            t.dfid,
            Q(t.name),
            t.mode,
            t.major,
            t.minor,
            t.gid
        ),
        Tmessage::Link(t) => write!(s, " dfid {} fid {} name {}", t.dfid, t.fid, Q(t.name)),
        Tmessage::Rename(t) => write!(s, " fid {} dfid {} name {}", t.fid, t.dfid, Q(t.name)),
        Tmessage::Renameat(t) => write!(
            s,
            " olddirfid {} oldname {} newdirfid {} newname {}",
            t.olddirfid,
            Q(t.oldname),
            t.newdirfid,
            Q(t.newname)
        ),
        Tmessage::Unlinkat(t) => write!(
            s,
            " dirfid {} name {} flags 0x{:x}",
            t.dirfid,
            Q(t.name),
            t.flags
        ),
        Tmessage::Readlink(t) => write!(s, " fid {}", t.fid),
        Tmessage::Xattrwalk(t) => {
            write!(s, " fid {} newfid {} name {}", t.fid, t.newfid, Q(t.name))
        }
        Tmessage::Xattrcreate(t) => write!(
            s,
            " fid {} name {} size {} flags {}",
            t.fid,
            Q(t.name),
            t.attr_size,
            t.flags
        ),
        Tmessage::Lock(t) => write!(
            s,
            " fid {} type {} flags {} start {} length {} proc_id {} client_id {}",
            t.fid,
            t.ty,
            t.flags,
            t.start,
            t.length,
            t.proc_id,
            Q(t.client_id)
        ),
        Tmessage::Getlock(t) => write!(
            s,
            " fid {} type {} start {} length {} proc_id {} client_id {}",
            t.fid,
            t.ty,
            t.start,
            t.length,
            t.proc_id,
            Q(t.client_id)
        ),
    }
}

/// The line for the reply frame `frame` (as encoded by the server). An Rread whose data
/// goes out separately (`sendfile`) has only its header here: its count is shown.
pub fn reply(frame: &[u8]) -> String {
    let mut s = String::with_capacity(96);
    match decode_rmessage(frame) {
        Ok((tag, msg)) => {
            let _ = write_reply(&mut s, tag, &msg);
        }
        Err(_) => match peek_header(frame) {
            Ok(h) if h.ty == p9_wire::P9_RREAD => {
                let count = frame
                    .get(7..11)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_le_bytes)
                    .unwrap_or(0);
                let _ = write!(s, "Rread tag {} count {count}", h.tag);
            }
            Ok(h) => {
                let name = msg_type_name(h.ty).unwrap_or("R?");
                let _ = write!(s, "{name} tag {} (undecodable, {} bytes)", h.tag, h.size);
            }
            Err(_) => s.push_str("(undecodable reply)"),
        },
    }
    s
}

fn write_reply(s: &mut String, tag: u16, msg: &Rmessage<'_>) -> fmt::Result {
    let name = msg_type_name(msg.msg_type()).unwrap_or("R?");
    write!(s, "{name} tag {tag}")?;
    match msg {
        Rmessage::Version(r) => write!(s, " msize {} version {}", r.msize, Q(r.version)),
        Rmessage::Auth(r) => write!(s, " aqid {}", QidFmt(&r.aqid)),
        Rmessage::Attach(r) => write!(s, " qid {}", QidFmt(&r.qid)),
        Rmessage::Walk(r) => {
            let q = r.wqids.as_slice();
            write!(s, " nwqid {}", q.len())?;
            for q in q {
                write!(s, " {}", QidFmt(q))?;
            }
            Ok(())
        }
        Rmessage::Lopen(r) => write!(s, " qid {} iounit {}", QidFmt(&r.qid), r.iounit),
        Rmessage::Lcreate(r) => write!(s, " qid {} iounit {}", QidFmt(&r.qid), r.iounit),
        Rmessage::Read(r) => write!(s, " count {}", r.data.len()),
        Rmessage::Write(r) => write!(s, " count {}", r.count),
        Rmessage::Getattr(r) => write!(
            s,
            " valid 0x{:x} qid {} mode 0{:o} uid {} gid {} nlink {} rdev {} size {} \
             blksize {} blocks {} atime {}.{:09} mtime {}.{:09} ctime {}.{:09}",
            r.valid,
            QidFmt(&r.qid),
            r.mode,
            r.uid,
            r.gid,
            r.nlink,
            r.rdev,
            r.size,
            r.blksize,
            r.blocks,
            r.atime_sec,
            r.atime_nsec,
            r.mtime_sec,
            r.mtime_nsec,
            r.ctime_sec,
            r.ctime_nsec
        ),
        Rmessage::Readdir(r) => write!(s, " count {}", r.data.len()),
        Rmessage::Statfs(r) => write!(
            s,
            " type 0x{:x} bsize {} blocks {} bfree {} bavail {} files {} ffree {} fsid {} namelen {}",
            r.ty, r.bsize, r.blocks, r.bfree, r.bavail, r.files, r.ffree, r.fsid, r.namelen
        ),
        Rmessage::Mkdir(r) => write!(s, " qid {}", QidFmt(&r.qid)),
        Rmessage::Symlink(r) => write!(s, " qid {}", QidFmt(&r.qid)),
        Rmessage::Mknod(r) => write!(s, " qid {}", QidFmt(&r.qid)),
        Rmessage::Readlink(r) => write!(s, " target {}", Q(r.target)),
        Rmessage::Xattrwalk(r) => write!(s, " size {}", r.size),
        Rmessage::Lock(r) => write!(s, " status {}", r.status),
        Rmessage::Getlock(r) => write!(
            s,
            " type {} start {} length {} proc_id {} client_id {}",
            r.ty,
            r.start,
            r.length,
            r.proc_id,
            Q(r.client_id)
        ),
        Rmessage::Lerror(r) => write!(
            s,
            " ecode {} ({})",
            r.ecode,
            crate::stats::errno_name(r.ecode as i32)
        ),
        Rmessage::Flush
        | Rmessage::Clunk
        | Rmessage::Remove
        | Rmessage::Setattr
        | Rmessage::Fsync
        | Rmessage::Link
        | Rmessage::Rename
        | Rmessage::Renameat
        | Rmessage::Unlinkat
        | Rmessage::Xattrcreate => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p9_wire::*;

    fn frame_of(tag: u16, msg: &Rmessage<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        encode(tag, msg, &mut out, 1 << 20).unwrap();
        out
    }

    #[test]
    fn requests() {
        let t = Tmessage::Walk(Twalk {
            fid: 0,
            newfid: 1,
            wnames: WalkVec::from_slice(&[b"a".as_slice(), b"it's\n"]).unwrap(),
        });
        assert_eq!(
            request(1, &t),
            r"Twalk tag 1 fid 0 newfid 1 nwname 2 'a' 'it\'s\n'"
        );
        let data = vec![7u8; 5000];
        let t = Tmessage::Write(Twrite {
            fid: 3,
            offset: 8,
            data: &data,
        });
        assert_eq!(request(9, &t), "Twrite tag 9 fid 3 offset 8 count 5000");
        let long = vec![b'x'; 300];
        let t = Tmessage::Mkdir(Tmkdir {
            dfid: 1,
            name: &long,
            mode: 0o755,
            gid: 0,
        });
        let line = request(2, &t);
        assert!(line.ends_with("'... mode 0755 gid 0"), "{line}");
        assert!(line.len() < 200);
    }

    /// Whatever decodes formats without panicking (random bodies for every type).
    #[test]
    fn any_decoded_message_formats() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut decoded = 0;
        for ty in 0..=255u8 {
            for _ in 0..300 {
                let len = (next() % 96) as usize;
                let mut f = vec![0u8; 7 + len];
                f[..4].copy_from_slice(&((7 + len) as u32).to_le_bytes());
                f[4] = ty;
                for b in &mut f[7..] {
                    // Small values make short strings and counts likely to decode.
                    *b = if next() % 3 == 0 { next() as u8 } else { 1 };
                }
                if let Ok((tag, m)) = decode_tmessage(&f) {
                    assert!(request(tag, &m).starts_with('T'));
                    decoded += 1;
                }
                let _ = reply(&f);
            }
        }
        assert!(decoded >= 20, "{decoded}");
    }

    #[test]
    fn replies() {
        let q = Qid {
            ty: QTDIR,
            version: 0,
            path: 0x1234,
        };
        let r = Rmessage::Walk(Rwalk {
            wqids: WalkVec::from_slice(&[q, Qid::default()]).unwrap(),
        });
        assert_eq!(
            reply(&frame_of(1, &r)),
            "Rwalk tag 1 nwqid 2 (0000000000001234 0 'd') (0000000000000000 0 '')"
        );
        let r = Rmessage::lerror(2);
        assert_eq!(reply(&frame_of(4, &r)), "Rlerror tag 4 ecode 2 (ENOENT)");
        let data = [1u8; 100];
        let f = frame_of(5, &Rmessage::Read(Rread { data: &data }));
        assert_eq!(reply(&f), "Rread tag 5 count 100");
        // Only the header of a sendfile'd Rread: its count.
        let mut head = f[..11].to_vec();
        head[..4].copy_from_slice(&(f.len() as u32).to_le_bytes());
        assert_eq!(reply(&head), "Rread tag 5 count 100");
        assert_eq!(reply(&[1, 2]), "(undecodable reply)");
        assert_eq!(reply(&frame_of(6, &Rmessage::Clunk)), "Rclunk tag 6");
    }
}
