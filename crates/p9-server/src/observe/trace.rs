//! `--trace`: one line per decoded request and per reply, in the style of diod's debug
//! output (`Twalk tag 1 fid 0 newfid 1 nwname 2 'a' 'b'`, `Rwalk tag 1 nwqid 2 (…)`):
//! every field the message declares (in `p9_wire::messages`), by name, in wire order.
//! Data payloads (Twrite, Rread, Rreaddir) are summarized by their byte count; strings
//! are quoted with non-printable bytes escaped and cut at [`MAX_STR`] bytes.
//!
//! The session checks one bool ([`crate::ServerConfig::trace`]) per message before
//! calling in here, so tracing costs nothing when it is off.

use std::fmt::{self, Write as _};

use p9_wire::{decode_rmessage, msg_type_name, peek_header, Form, Qid, Tmessage, Value};

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
    let _ = write!(s, "{} tag {tag}", msg.name());
    msg.visit_fields(&mut |name, form, value| write_field(&mut s, name, form, value));
    s
}

/// The line for the reply frame `frame` (as encoded by the server). An Rread whose data
/// goes out separately (`sendfile`) has only its header here: its count is shown.
pub fn reply(frame: &[u8]) -> String {
    let mut s = String::with_capacity(96);
    match decode_rmessage(frame) {
        Ok((tag, msg)) => {
            let _ = write!(s, "{} tag {tag}", msg.name());
            msg.visit_fields(&mut |name, form, value| write_field(&mut s, name, form, value));
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

/// Appends ` name value` for one field, as declared in [`p9_wire::messages`]: numbers in
/// their declared form, strings quoted, data and walk lists by their count (named as
/// the protocol names the count: `count`, `nwname`, `nwqid`).
fn write_field(s: &mut String, name: &str, form: Form, value: Value<'_>) {
    let name = if name == "ty" { "type" } else { name };
    let _ = match value {
        Value::U8(v) => write_number(s, name, form, v.into()),
        Value::U16(v) => write_number(s, name, form, v.into()),
        Value::U32(v) => write_number(s, name, form, v.into()),
        Value::U64(v) => write_number(s, name, form, v),
        Value::Str(v) => write!(s, " {name} {}", Q(v)),
        Value::Data(v) => write!(s, " count {}", v.len()),
        Value::Qid(q) => write!(s, " {name} {}", QidFmt(&q)),
        Value::Names(names) => {
            let _ = write!(s, " nwname {}", names.len());
            names.iter().try_for_each(|n| write!(s, " {}", Q(n)))
        }
        Value::Qids(qids) => {
            let _ = write!(s, " nwqid {}", qids.len());
            qids.iter().try_for_each(|q| write!(s, " {}", QidFmt(q)))
        }
    };
}

fn write_number(s: &mut String, name: &str, form: Form, v: u64) -> fmt::Result {
    match form {
        Form::Oct => write!(s, " {name} 0{v:o}"),
        Form::Hex => write!(s, " {name} 0x{v:x}"),
        Form::Signed => write!(s, " {name} {}", v as u32 as i32),
        Form::Errno => write!(
            s,
            " {name} {v} ({})",
            crate::observe::stats::errno_name(v as i32)
        ),
        Form::Plain | Form::Data => write!(s, " {name} {v}"),
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
