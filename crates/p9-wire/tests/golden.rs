//! Golden byte vectors, written out field by field from the protocol
//! description (little-endian; `size[4] type[1] tag[2]` header; strings are
//! `len[2] bytes`).

mod common;

use common::enc;
use p9_wire::*;

fn check_t(bytes: &[u8], tag: u16, msg: Tmessage<'_>) {
    assert_eq!(enc(tag, &msg), bytes, "encoding of {msg:?}");
    assert_eq!(decode_tmessage(bytes), Ok((tag, msg)));
}

fn check_r(bytes: &[u8], tag: u16, msg: Rmessage<'_>) {
    assert_eq!(enc(tag, &msg), bytes, "encoding of {msg:?}");
    assert_eq!(decode_rmessage(bytes), Ok((tag, msg)));
}

#[test]
fn tversion_8192_9p2000l() {
    #[rustfmt::skip]
    let bytes = [
        21, 0, 0, 0,            // size = 7 + 4 + 2 + 8
        100,                    // Tversion
        0xff, 0xff,             // NOTAG
        0x00, 0x20, 0, 0,       // msize 8192
        8, 0,                   // version length
        b'9', b'P', b'2', b'0', b'0', b'0', b'.', b'L',
    ];
    check_t(
        &bytes,
        NOTAG,
        Tmessage::Version(Tversion {
            msize: 8192,
            version: b"9P2000.L",
        }),
    );
}

#[test]
fn rversion_unknown() {
    #[rustfmt::skip]
    let bytes = [
        20, 0, 0, 0,            // size = 7 + 4 + 2 + 7
        101,                    // Rversion
        0xff, 0xff,             // NOTAG
        0x00, 0x20, 0, 0,       // msize 8192
        7, 0,
        b'u', b'n', b'k', b'n', b'o', b'w', b'n',
    ];
    check_r(
        &bytes,
        NOTAG,
        Rmessage::Version(Rversion {
            msize: 8192,
            version: VERSION_UNKNOWN,
        }),
    );
}

#[test]
fn tattach_root_no_auth() {
    #[rustfmt::skip]
    let bytes = [
        27, 0, 0, 0,            // size = 7 + 4 + 4 + 6 + 2 + 4
        104,                    // Tattach
        1, 0,                   // tag 1
        0, 0, 0, 0,             // fid 0
        0xff, 0xff, 0xff, 0xff, // afid NOFID
        4, 0, b'r', b'o', b'o', b't',
        0, 0,                   // aname ""
        0, 0, 0, 0,             // n_uname 0
    ];
    check_t(
        &bytes,
        1,
        Tmessage::Attach(Tattach {
            fid: 0,
            afid: NOFID,
            uname: b"root",
            aname: b"",
            n_uname: 0,
        }),
    );
}

#[test]
fn twalk_two_names() {
    #[rustfmt::skip]
    let bytes = [
        27, 0, 0, 0,            // size = 7 + 4 + 4 + 2 + 5 + 5
        110,                    // Twalk
        2, 0,                   // tag 2
        1, 0, 0, 0,             // fid 1
        2, 0, 0, 0,             // newfid 2
        2, 0,                   // nwname 2
        3, 0, b'u', b's', b'r',
        3, 0, b'b', b'i', b'n',
    ];
    let names: [&[u8]; 2] = [b"usr", b"bin"];
    check_t(
        &bytes,
        2,
        Tmessage::Walk(Twalk {
            fid: 1,
            newfid: 2,
            wnames: WalkVec::from_slice(&names).unwrap(),
        }),
    );
}

#[test]
fn rwalk_one_qid() {
    #[rustfmt::skip]
    let bytes = [
        22, 0, 0, 0,            // size = 7 + 2 + 13
        111,                    // Rwalk
        2, 0,
        1, 0,                   // nwqid 1
        0x80,                   // qid.type QTDIR
        5, 0, 0, 0,             // qid.version 5
        0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, // qid.path
    ];
    let qid = Qid {
        ty: QTDIR,
        version: 5,
        path: 0x0123_4567_89ab_cdef,
    };
    check_r(
        &bytes,
        2,
        Rmessage::Walk(Rwalk {
            wqids: WalkVec::from_slice(&[qid]).unwrap(),
        }),
    );
}

#[test]
fn rgetattr_all_fields() {
    let mut bytes = vec![
        160, 0, 0, 0,  // size = 7 + 8 + 13 + 3*4 + 15*8
        25, // Rgetattr
        3, 0, // tag 3
        0xff, 0x3f, 0, 0, 0, 0, 0, 0,    // valid = P9_GETATTR_ALL
        0x00, // qid.type QTFILE
        9, 0, 0, 0, // qid.version 9
        0x2a, 0, 0, 0, 0, 0, 0, 0, // qid.path 42
        0xa4, 0x81, 0, 0, // mode 0o100644
        0xe8, 0x03, 0, 0, // uid 1000
        0xe9, 0x03, 0, 0, // gid 1001
    ];
    // nlink, rdev, size, blksize, blocks, atime, mtime, ctime, btime
    // (sec, nsec each), gen, data_version: the values 1..=15.
    for v in 1u8..=15 {
        bytes.extend_from_slice(&[v, 0, 0, 0, 0, 0, 0, 0]);
    }
    assert_eq!(bytes.len(), 160);
    check_r(
        &bytes,
        3,
        Rmessage::Getattr(Rgetattr {
            valid: P9_GETATTR_ALL,
            qid: Qid {
                ty: QTFILE,
                version: 9,
                path: 42,
            },
            mode: 0o100644,
            uid: 1000,
            gid: 1001,
            nlink: 1,
            rdev: 2,
            size: 3,
            blksize: 4,
            blocks: 5,
            atime_sec: 6,
            atime_nsec: 7,
            mtime_sec: 8,
            mtime_nsec: 9,
            ctime_sec: 10,
            ctime_nsec: 11,
            btime_sec: 12,
            btime_nsec: 13,
            gen: 14,
            data_version: 15,
        }),
    );
}

#[test]
fn tgetattr_basic() {
    #[rustfmt::skip]
    let bytes = [
        19, 0, 0, 0,            // size = 7 + 4 + 8
        24,                     // Tgetattr
        4, 0,
        7, 0, 0, 0,             // fid 7
        0xff, 0x07, 0, 0, 0, 0, 0, 0, // P9_GETATTR_BASIC
    ];
    check_t(
        &bytes,
        4,
        Tmessage::Getattr(Tgetattr {
            fid: 7,
            request_mask: P9_GETATTR_BASIC,
        }),
    );
}

#[test]
fn twrite_and_rread() {
    #[rustfmt::skip]
    let twrite = [
        26, 0, 0, 0,            // size = 7 + 4 + 8 + 4 + 3
        118,                    // Twrite
        5, 0,
        3, 0, 0, 0,             // fid 3
        0, 0x10, 0, 0, 0, 0, 0, 0, // offset 4096
        3, 0, 0, 0,             // count 3
        b'a', b'b', b'c',
    ];
    check_t(
        &twrite,
        5,
        Tmessage::Write(Twrite {
            fid: 3,
            offset: 4096,
            data: b"abc",
        }),
    );
    #[rustfmt::skip]
    let rread = [
        14, 0, 0, 0,            // size = 7 + 4 + 3
        117,                    // Rread
        5, 0,
        3, 0, 0, 0,
        b'a', b'b', b'c',
    ];
    check_r(&rread, 5, Rmessage::Read(Rread { data: b"abc" }));
    // The zero-copy helpers produce the same bytes.
    let mut buf = Vec::new();
    let s = begin_rread(5, &mut buf);
    buf.extend_from_slice(b"abc");
    finish_rread(&mut buf, s, 3).unwrap();
    assert_eq!(buf, rread);
    buf.clear();
    let s = begin_twrite(5, 3, 4096, &mut buf);
    buf.extend_from_slice(b"abc");
    finish_twrite(&mut buf, s, 3).unwrap();
    assert_eq!(buf, twrite);
}

#[test]
fn rreaddir_one_entry() {
    #[rustfmt::skip]
    let bytes = [
        38, 0, 0, 0,            // size = 7 + 4 + 27
        41,                     // Rreaddir
        6, 0,
        27, 0, 0, 0,            // count = 13 + 8 + 1 + 2 + 3
        0x80, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, // qid dir, path 2
        1, 0, 0, 0, 0, 0, 0, 0, // offset 1
        4,                      // DT_DIR
        3, 0, b's', b'u', b'b',
    ];
    let entry = DirEntry {
        qid: Qid {
            ty: QTDIR,
            version: 0,
            path: 2,
        },
        offset: 1,
        ty: DT_DIR,
        name: b"sub",
    };
    let mut buf = Vec::new();
    let s = begin_rreaddir(6, &mut buf);
    assert!(DirEntryWriter::new(&mut buf, 27).push(&entry).unwrap());
    assert_eq!(finish_rreaddir(&mut buf, s).unwrap(), 27);
    assert_eq!(buf, bytes);
    check_r(
        &bytes,
        6,
        Rmessage::Readdir(Rreaddir { data: &bytes[11..] }),
    );
    let entries: Vec<_> = dir_entries(&bytes[11..]).collect();
    assert_eq!(entries, vec![Ok(entry)]);
}

#[test]
fn tlcreate_and_rlcreate() {
    #[rustfmt::skip]
    let t = [
        30, 0, 0, 0,            // size = 7 + 4 + 7 + 4 + 4 + 4
        14,                     // Tlcreate
        8, 0,
        9, 0, 0, 0,             // fid 9
        5, 0, b'n', b'e', b'w', b'.', b'c',
        0x42, 0x80, 0x08, 0,    // flags RDWR|CREATE|LARGEFILE|CLOEXEC
        0xa4, 0x01, 0, 0,       // mode 0o644
        0x64, 0, 0, 0,          // gid 100
    ];
    let flags = P9_DOTL_RDWR | P9_DOTL_CREATE | P9_DOTL_LARGEFILE | P9_DOTL_CLOEXEC;
    assert_eq!(flags, 0x0008_8042);
    check_t(
        &t,
        8,
        Tmessage::Lcreate(Tlcreate {
            fid: 9,
            name: b"new.c",
            flags,
            mode: 0o644,
            gid: 100,
        }),
    );
    #[rustfmt::skip]
    let r = [
        24, 0, 0, 0,            // size = 7 + 13 + 4
        15,                     // Rlcreate
        8, 0,
        0, 1, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, // qid file, version 1, path 16
        0, 0x20, 0, 0,          // iounit 8192
    ];
    check_r(
        &r,
        8,
        Rmessage::Lcreate(Rlcreate {
            qid: Qid {
                ty: QTFILE,
                version: 1,
                path: 16,
            },
            iounit: 8192,
        }),
    );
}

#[test]
fn tlock_and_rlock() {
    #[rustfmt::skip]
    let t = [
        43, 0, 0, 0,            // size = 7 + 4 + 1 + 4 + 8 + 8 + 4 + 7
        52,                     // Tlock
        9, 0,
        1, 0, 0, 0,             // fid 1
        1,                      // WRLCK
        1, 0, 0, 0,             // flags BLOCK
        0, 0, 0, 0, 0, 0, 0, 0, // start 0
        0, 0, 0, 0, 0, 0, 0, 0, // length 0 (to EOF)
        0x39, 0x30, 0, 0,       // proc_id 12345
        5, 0, b'h', b'o', b's', b't', b'1',
    ];
    check_t(
        &t,
        9,
        Tmessage::Lock(Tlock {
            fid: 1,
            ty: P9_LOCK_TYPE_WRLCK,
            flags: P9_LOCK_FLAGS_BLOCK,
            start: 0,
            length: 0,
            proc_id: 12345,
            client_id: b"host1",
        }),
    );
    check_r(
        &[8, 0, 0, 0, 53, 9, 0, 1],
        9,
        Rmessage::Lock(Rlock {
            status: P9_LOCK_BLOCKED,
        }),
    );
}

#[test]
fn rlerror_enoent_and_empty_replies() {
    check_r(
        &[11, 0, 0, 0, 7, 0x0a, 0, 2, 0, 0, 0],
        10,
        Rmessage::lerror(2),
    );
    check_r(&[7, 0, 0, 0, 121, 10, 0], 10, Rmessage::Clunk);
    check_r(&[7, 0, 0, 0, 27, 10, 0], 10, Rmessage::Setattr);
}

#[test]
fn tfsync_datasync_and_tunlinkat() {
    check_t(
        &[15, 0, 0, 0, 50, 1, 0, 4, 0, 0, 0, 1, 0, 0, 0],
        1,
        Tmessage::Fsync(Tfsync {
            fid: 4,
            datasync: 1,
        }),
    );
    #[rustfmt::skip]
    let t = [
        19, 0, 0, 0,            // size = 7 + 4 + 4 + 4
        76,                     // Tunlinkat
        1, 0,
        4, 0, 0, 0,             // dirfid 4
        2, 0, b'd', b'x',
        0x00, 0x02, 0, 0,       // AT_REMOVEDIR
    ];
    check_t(
        &t,
        1,
        Tmessage::Unlinkat(Tunlinkat {
            dirfid: 4,
            name: b"dx",
            flags: P9_DOTL_AT_REMOVEDIR,
        }),
    );
}
