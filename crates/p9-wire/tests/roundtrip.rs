//! Round trip of every 9P2000.L message, plus truncation/trailing-byte
//! rejection on each.

mod common;

use std::collections::BTreeSet;

use common::*;
use p9_wire::*;

/// The requests built by `build_t` for one type, over several walk lengths.
fn t_samples(ty: u8) -> Vec<(Pool, u8)> {
    let sel = (0..T_VARIANTS)
        .find(|&s| build_t(s, &Pool::sample(0)).msg_type() == ty)
        .unwrap_or_else(|| panic!("no request builder for type {ty}"));
    [0, 1, 5, 16].map(|n| (Pool::sample(n), sel)).into()
}

fn r_samples(ty: u8) -> Vec<(Pool, u8)> {
    let sel = (0..R_VARIANTS)
        .find(|&s| build_r(s, &Pool::sample(0)).msg_type() == ty)
        .unwrap_or_else(|| panic!("no reply builder for type {ty}"));
    [0, 1, 5, 16].map(|n| (Pool::sample(n), sel)).into()
}

/// Every strict prefix of the body (with the size fixed up) must fail, and
/// so must one extra trailing byte.
fn check_rejects_damage(frame: &[u8], decode: fn(&[u8]) -> Result<(), WireError>) {
    for cut in HEADER_SIZE..frame.len() {
        let mut f = frame[..cut].to_vec();
        fix_size(&mut f);
        let err = decode(&f).expect_err("truncated frame decoded");
        assert!(
            matches!(
                err,
                WireError::Truncated { .. } | WireError::TooManyWalkElements { .. }
            ),
            "cut {cut}: {err:?}"
        );
    }
    let mut f = frame.to_vec();
    f.push(0);
    fix_size(&mut f);
    assert!(matches!(
        decode(&f),
        Err(WireError::TrailingBytes { count: 1, .. })
    ));
    // A size field that disagrees with the frame.
    let mut f = frame.to_vec();
    f[0] ^= 1;
    assert!(matches!(decode(&f), Err(WireError::SizeMismatch { .. })));
}

fn roundtrip_t(ty: u8) {
    for (pool, sel) in t_samples(ty) {
        let msg = build_t(sel, &pool);
        assert_eq!(msg.msg_type(), ty);
        let frame = enc(0x1234, &msg);
        assert_eq!(frame[4], ty);
        assert_eq!(peek_header(&frame).unwrap().size as usize, frame.len());
        assert_eq!(decode_tmessage(&frame), Ok((0x1234, msg)));
        // A request is not a reply.
        assert!(decode_rmessage(&frame).is_err());
        check_rejects_damage(&frame, |f| decode_tmessage(f).map(|_| ()));
        // msize is enforced exactly.
        let mut buf = Vec::new();
        let len = frame.len() as u32;
        assert_eq!(encode(1, &msg, &mut buf, len), Ok(frame.len()));
        buf.clear();
        assert!(matches!(
            encode(1, &msg, &mut buf, len - 1),
            Err(WireError::FrameTooLarge { .. })
        ));
        assert!(buf.is_empty());
        fuzz_decode(&frame);
    }
}

fn roundtrip_r(ty: u8) {
    for (pool, sel) in r_samples(ty) {
        let msg = build_r(sel, &pool);
        assert_eq!(msg.msg_type(), ty);
        let frame = enc(7, &msg);
        assert_eq!(frame[4], ty);
        assert_eq!(decode_rmessage(&frame), Ok((7, msg)));
        assert!(decode_tmessage(&frame).is_err());
        if frame.len() > HEADER_SIZE {
            check_rejects_damage(&frame, |f| decode_rmessage(f).map(|_| ()));
        }
        let mut buf = Vec::new();
        let len = frame.len() as u32;
        assert!(encode(1, &msg, &mut buf, len - 1).is_err());
        fuzz_decode(&frame);
    }
}

macro_rules! roundtrip_tests {
    ($f:ident: $($name:ident => $ty:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $f($ty);
            }
        )*
    };
}

roundtrip_tests! { roundtrip_t:
    tversion => P9_TVERSION,
    tauth => P9_TAUTH,
    tattach => P9_TATTACH,
    tflush => P9_TFLUSH,
    twalk => P9_TWALK,
    tlopen => P9_TLOPEN,
    tlcreate => P9_TLCREATE,
    tread => P9_TREAD,
    twrite => P9_TWRITE,
    tclunk => P9_TCLUNK,
    tremove => P9_TREMOVE,
    tgetattr => P9_TGETATTR,
    tsetattr => P9_TSETATTR,
    treaddir => P9_TREADDIR,
    tstatfs => P9_TSTATFS,
    tfsync => P9_TFSYNC,
    tmkdir => P9_TMKDIR,
    tsymlink => P9_TSYMLINK,
    tmknod => P9_TMKNOD,
    tlink => P9_TLINK,
    trename => P9_TRENAME,
    trenameat => P9_TRENAMEAT,
    tunlinkat => P9_TUNLINKAT,
    treadlink => P9_TREADLINK,
    txattrwalk => P9_TXATTRWALK,
    txattrcreate => P9_TXATTRCREATE,
    tlock => P9_TLOCK,
    tgetlock => P9_TGETLOCK,
}

roundtrip_tests! { roundtrip_r:
    rversion => P9_RVERSION,
    rauth => P9_RAUTH,
    rattach => P9_RATTACH,
    rflush => P9_RFLUSH,
    rwalk => P9_RWALK,
    rlopen => P9_RLOPEN,
    rlcreate => P9_RLCREATE,
    rread => P9_RREAD,
    rwrite => P9_RWRITE,
    rclunk => P9_RCLUNK,
    rremove => P9_RREMOVE,
    rgetattr => P9_RGETATTR,
    rsetattr => P9_RSETATTR,
    rreaddir => P9_RREADDIR,
    rstatfs => P9_RSTATFS,
    rfsync => P9_RFSYNC,
    rmkdir => P9_RMKDIR,
    rsymlink => P9_RSYMLINK,
    rmknod => P9_RMKNOD,
    rlink => P9_RLINK,
    rrename => P9_RRENAME,
    rrenameat => P9_RRENAMEAT,
    runlinkat => P9_RUNLINKAT,
    rreadlink => P9_RREADLINK,
    rxattrwalk => P9_RXATTRWALK,
    rxattrcreate => P9_RXATTRCREATE,
    rlock => P9_RLOCK,
    rgetlock => P9_RGETLOCK,
    rlerror => P9_RLERROR,
}

/// The 9P2000.L types: every named type except the legacy 9P2000-only ones
/// and the unused Tlerror.
fn dotl_types() -> BTreeSet<u8> {
    let legacy = [
        P9_TLERROR, P9_TERROR, P9_RERROR, P9_TOPEN, P9_ROPEN, P9_TCREATE, P9_RCREATE, P9_TSTAT,
        P9_RSTAT, P9_TWSTAT, P9_RWSTAT,
    ];
    (0..=255u8)
        .filter(|&t| msg_type_name(t).is_some() && !legacy.contains(&t))
        .collect()
}

#[test]
fn every_message_type_is_covered() {
    let pool = Pool::sample(2);
    let ts: BTreeSet<u8> = (0..T_VARIANTS)
        .map(|s| build_t(s, &pool).msg_type())
        .collect();
    let rs: BTreeSet<u8> = (0..R_VARIANTS)
        .map(|s| build_r(s, &pool).msg_type())
        .collect();
    assert_eq!(ts.len(), T_VARIANTS as usize);
    assert_eq!(rs.len(), R_VARIANTS as usize);
    let all: BTreeSet<u8> = ts.union(&rs).copied().collect();
    assert_eq!(all, dotl_types());
    for t in &ts {
        assert!(msg_type_name(*t).unwrap().starts_with('T'));
        // Every request has its reply at type + 1.
        assert!(rs.contains(&(t + 1)));
    }
}

#[test]
fn every_other_type_is_unknown() {
    let known = dotl_types();
    for ty in 0..=255u8 {
        let frame = [7, 0, 0, 0, ty, 0xcd, 0xab];
        let is_t = known.contains(&ty) && msg_type_name(ty).unwrap().starts_with('T');
        let is_r = known.contains(&ty) && !is_t;
        match decode_tmessage(&frame) {
            Err(WireError::UnknownType { ty: t, tag }) => {
                assert!(!is_t, "type {ty}");
                assert_eq!((t, tag), (ty, 0xabcd));
            }
            _ => assert!(is_t, "type {ty}"),
        }
        match decode_rmessage(&frame) {
            Err(WireError::UnknownType { ty: t, tag }) => {
                assert!(!is_r, "type {ty}");
                assert_eq!((t, tag), (ty, 0xabcd));
            }
            _ => assert!(is_r, "type {ty}"),
        }
    }
}

#[test]
fn rreaddir_via_helpers_matches_plain_encode() {
    let names: [&[u8]; 3] = [b".", b"..", b"\xff\xfename"];
    let mut buf = Vec::new();
    let start = begin_rreaddir(5, &mut buf);
    let mut w = DirEntryWriter::new(&mut buf, 1000);
    for (i, name) in names.iter().enumerate() {
        let e = DirEntry {
            qid: Qid {
                ty: QTDIR,
                version: 0,
                path: i as u64,
            },
            offset: i as u64 + 1,
            ty: DT_DIR,
            name,
        };
        assert!(w.push(&e).unwrap());
    }
    let count = finish_rreaddir(&mut buf, start).unwrap();
    let (tag, msg) = decode_rmessage(&buf).unwrap();
    assert_eq!(tag, 5);
    let Rmessage::Readdir(rd) = msg else {
        panic!("not Rreaddir")
    };
    assert_eq!(rd.data.len(), count as usize);
    assert_eq!(enc(5, &msg), buf);
    let got: Vec<_> = dir_entries(rd.data).map(|e| e.unwrap().name).collect();
    assert_eq!(got, names);
}
