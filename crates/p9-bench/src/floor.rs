//! The floor: a null 9P2000.L server in the bench process. It answers every request at once
//! with a canned, well-formed reply of the right size (an Rread carries `count` bytes) and
//! touches no file system, so a row against it costs the client, the transport and the
//! thread wake-ups: the bare request/reply round trip any server pays on top of its work.

use std::io::{self, IoSlice, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::thread;

use p9_wire::{
    decode_tmessage, encode, Qid, Rattach, Rgetattr, Rlcreate, Rlerror, Rlopen, Rmessage, Rversion,
    Rwalk, Rwrite, Tmessage, WalkVec, P9_GETATTR_BASIC, P9_RREAD, QTDIR, QTFILE, RREAD_HEADER_SIZE,
    VERSION_9P2000_L, VERSION_UNKNOWN,
};

use p9_client::{read_frame, Addr, Stream};

const EOPNOTSUPP: u32 = 95;

/// Starts a floor server on `addr` accepting up to `msize`; it lives until the process ends.
pub fn start(addr: &Addr, msize: u32) -> io::Result<()> {
    let zeros: Arc<[u8]> = vec![0u8; msize as usize].into();
    match addr {
        Addr::Tcp(port) => {
            let l = TcpListener::bind(("127.0.0.1", *port))?;
            thread::Builder::new()
                .name("floor-accept".into())
                .spawn(move || {
                    for s in l.incoming().flatten() {
                        if s.set_nodelay(true).is_ok() {
                            spawn_conn(Stream::Tcp(s), msize, zeros.clone());
                        }
                    }
                })?;
        }
        Addr::Unix(path) => {
            let l = UnixListener::bind(path)?;
            thread::Builder::new()
                .name("floor-accept".into())
                .spawn(move || {
                    for s in l.incoming().flatten() {
                        spawn_conn(Stream::Unix(s), msize, zeros.clone());
                    }
                })?;
        }
    }
    Ok(())
}

fn spawn_conn(s: Stream, msize: u32, zeros: Arc<[u8]>) {
    // A connection that fails just ends; the client reports it.
    let _ = thread::Builder::new()
        .name("floor-conn".into())
        .spawn(move || serve(s, msize, &zeros));
}

/// The `size type tag count` header of an Rread carrying `count` bytes (written without the
/// bytes, which follow from a shared buffer).
pub fn rread_header(tag: u16, count: usize) -> [u8; RREAD_HEADER_SIZE] {
    let mut h = [0u8; RREAD_HEADER_SIZE];
    let size = (RREAD_HEADER_SIZE + count) as u32;
    h[..4].copy_from_slice(&size.to_le_bytes());
    h[4] = P9_RREAD;
    h[5..7].copy_from_slice(&tag.to_le_bytes());
    h[7..11].copy_from_slice(&(count as u32).to_le_bytes());
    h
}

/// Writes `a` then `b` with as few system calls as the kernel allows.
fn write_two(s: &mut impl Write, a: &[u8], b: &[u8]) -> io::Result<()> {
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() || j < b.len() {
        let n = s.write_vectored(&[IoSlice::new(&a[i..]), IoSlice::new(&b[j..])])?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let from_a = n.min(a.len() - i);
        i += from_a;
        j += n - from_a;
    }
    Ok(())
}

fn qid(ty: u8) -> Qid {
    Qid {
        ty,
        version: 0,
        path: 1,
    }
}

fn serve(mut s: Stream, max_msize: u32, zeros: &[u8]) {
    let mut inb = vec![0u8; 8192];
    let mut out = Vec::with_capacity(512);
    let mut msize = max_msize;
    loop {
        let Ok(n) = read_frame(&mut s, &mut inb, msize) else {
            return;
        };
        out.clear();
        let Ok((tag, msg)) = decode_tmessage(&inb[..n]) else {
            return;
        };
        let reply = match msg {
            Tmessage::Version(v) => {
                msize = v.msize.min(max_msize);
                let ok = v.version == VERSION_9P2000_L;
                Rmessage::Version(Rversion {
                    msize,
                    version: if ok {
                        VERSION_9P2000_L
                    } else {
                        VERSION_UNKNOWN
                    },
                })
            }
            Tmessage::Attach(_) => Rmessage::Attach(Rattach { qid: qid(QTDIR) }),
            Tmessage::Walk(w) => {
                let mut wqids = WalkVec::new();
                for _ in w.wnames.iter() {
                    // at most 16 names were decoded, so this cannot overflow
                    let _ = wqids.push(qid(QTFILE));
                }
                Rmessage::Walk(Rwalk { wqids })
            }
            Tmessage::Lopen(_) => Rmessage::Lopen(Rlopen {
                qid: qid(QTFILE),
                iounit: 0,
            }),
            Tmessage::Lcreate(_) => Rmessage::Lcreate(Rlcreate {
                qid: qid(QTFILE),
                iounit: 0,
            }),
            Tmessage::Clunk(_) => Rmessage::Clunk,
            Tmessage::Unlinkat(_) => Rmessage::Unlinkat,
            Tmessage::Getattr(_) => Rmessage::Getattr(Rgetattr {
                valid: P9_GETATTR_BASIC,
                qid: qid(QTFILE),
                mode: 0o100644,
                nlink: 1,
                size: 4096,
                blksize: 4096,
                blocks: 8,
                ..Rgetattr::default()
            }),
            Tmessage::Write(w) => Rmessage::Write(Rwrite {
                count: w.data.len() as u32,
            }),
            Tmessage::Read(r) => {
                let count = (r.count.min(p9_wire::max_io_count(msize)) as usize).min(zeros.len());
                // the header says `count` bytes; they go out straight from `zeros`
                let hdr = rread_header(tag, count);
                if write_two(&mut s, &hdr, &zeros[..count]).is_err() {
                    return;
                }
                continue;
            }
            _ => Rmessage::Lerror(Rlerror { ecode: EOPNOTSUPP }),
        };
        if encode(tag, &reply, &mut out, msize).is_err() || s.write_all(&out).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p9_wire::decode_rmessage;

    #[test]
    fn rread_header_decodes_with_its_data() {
        let data = [7u8; 1000];
        let mut frame = rread_header(9, data.len()).to_vec();
        frame.extend_from_slice(&data);
        let (tag, msg) = decode_rmessage(&frame).unwrap();
        assert_eq!(tag, 9);
        assert!(matches!(msg, Rmessage::Read(r) if r.data == data));
    }
}
