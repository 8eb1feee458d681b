//! Property tests: decoding arbitrary or damaged bytes never panics, and
//! encode/decode is the identity on generated messages.

mod common;

use common::*;
use p9_wire::*;
use proptest::prelude::*;

fn pool() -> impl Strategy<Value = Pool> {
    (
        prop::array::uniform20(any::<u64>()),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..24), 1..18),
        prop::collection::vec(any::<u8>(), 0..300),
        0..=MAXWELEM,
    )
        .prop_map(|(nums, strs, data, nwalk)| Pool {
            nums,
            strs,
            data,
            nwalk,
        })
}

/// A damaging edit to a valid frame.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, xor: u8 },
    Truncate { len: usize },
    Insert { at: usize, byte: u8 },
    Remove { at: usize },
    SetSize { size: u32 },
    SetType { ty: u8 },
    FixSizeAfter(Box<Mutation>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let leaf = prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Remove { at }),
        any::<u32>().prop_map(|size| Mutation::SetSize { size }),
        any::<u8>().prop_map(|ty| Mutation::SetType { ty }),
    ];
    leaf.prop_recursive(1, 2, 1, |inner| {
        inner.prop_map(|m| Mutation::FixSizeAfter(Box::new(m)))
    })
}

fn apply(frame: &mut Vec<u8>, m: &Mutation) {
    let len = frame.len();
    match m {
        Mutation::Flip { at, xor } => frame[at % len] ^= xor,
        Mutation::Truncate { len: l } => frame.truncate(l % len),
        Mutation::Insert { at, byte } => frame.insert(at % (len + 1), *byte),
        Mutation::Remove { at } => {
            frame.remove(at % len);
        }
        Mutation::SetSize { size } => frame[..4].copy_from_slice(&size.to_le_bytes()),
        Mutation::SetType { ty } => frame[4] = *ty,
        Mutation::FixSizeAfter(inner) => {
            apply(frame, inner);
            if frame.len() >= 4 {
                fix_size(frame);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..256)) {
        fuzz_decode(&data);
        let _ = peek_header(&data);
        for e in dir_entries(&data) {
            let _ = e;
        }
    }

    #[test]
    fn arbitrary_body_with_valid_header_never_panics(
        ty in any::<u8>(),
        tag in any::<u16>(),
        body in prop::collection::vec(any::<u8>(), 0..128),
    ) {
        let mut f = vec![0, 0, 0, 0, ty];
        f.extend_from_slice(&tag.to_le_bytes());
        f.extend_from_slice(&body);
        fix_size(&mut f);
        fuzz_decode(&f);
        if let Err(WireError::UnknownType { ty: t, tag: g }) = decode_tmessage(&f) {
            prop_assert_eq!((t, g), (ty, tag));
        }
    }

    #[test]
    fn tmessage_roundtrip(sel in 0..T_VARIANTS, tag in any::<u16>(), p in pool()) {
        let msg = build_t(sel, &p);
        let frame = enc(tag, &msg);
        prop_assert_eq!(decode_tmessage(&frame), Ok((tag, msg)));
        fuzz_decode(&frame);
    }

    #[test]
    fn rmessage_roundtrip(sel in 0..R_VARIANTS, tag in any::<u16>(), p in pool()) {
        let msg = build_r(sel, &p);
        let frame = enc(tag, &msg);
        prop_assert_eq!(decode_rmessage(&frame), Ok((tag, msg)));
        fuzz_decode(&frame);
    }

    #[test]
    fn mutated_tmessages_never_panic(
        sel in 0..T_VARIANTS, p in pool(), muts in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut frame = enc(1, &build_t(sel, &p));
        for m in &muts {
            if frame.len() < 5 {
                break;
            }
            apply(&mut frame, m);
        }
        fuzz_decode(&frame);
    }

    #[test]
    fn mutated_rmessages_never_panic(
        sel in 0..R_VARIANTS, p in pool(), muts in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut frame = enc(1, &build_r(sel, &p));
        for m in &muts {
            if frame.len() < 5 {
                break;
            }
            apply(&mut frame, m);
        }
        fuzz_decode(&frame);
    }

    #[test]
    fn msize_is_enforced(sel in 0..T_VARIANTS, p in pool(), msize in 0u32..400) {
        let msg = build_t(sel, &p);
        let full = enc(3, &msg);
        let mut buf = vec![0xee];
        let r = encode(3, &msg, &mut buf, msize);
        if full.len() <= msize as usize {
            prop_assert_eq!(r, Ok(full.len()));
            prop_assert_eq!(&buf[1..], &full[..]);
        } else {
            prop_assert!(
                matches!(r, Err(WireError::FrameTooLarge { .. })),
                "expected FrameTooLarge, got {:?}",
                r
            );
            prop_assert_eq!(buf, vec![0xee]);
        }
    }

    #[test]
    fn dirent_writer_respects_budget(
        names in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..20),
        budget in 0usize..600,
    ) {
        let mut buf = Vec::new();
        let start = begin_rreaddir(1, &mut buf);
        let mut w = DirEntryWriter::new(&mut buf, budget);
        let mut pushed = 0;
        for (i, name) in names.iter().enumerate() {
            let e = DirEntry {
                qid: Qid { ty: QTFILE, version: i as u32, path: i as u64 },
                offset: i as u64 + 1,
                ty: DT_REG,
                name,
            };
            if !w.push(&e).unwrap() {
                break;
            }
            pushed += 1;
        }
        prop_assert!(w.written() <= budget);
        let count = finish_rreaddir(&mut buf, start).unwrap() as usize;
        prop_assert!(count <= budget);
        let (_, msg) = decode_rmessage(&buf).unwrap();
        let Rmessage::Readdir(rd) = msg else { panic!("not Rreaddir") };
        let got: Vec<&[u8]> = dir_entries(rd.data).map(|e| e.unwrap().name).collect();
        let want: Vec<&[u8]> = names[..pushed].iter().map(|n| &n[..]).collect();
        prop_assert_eq!(got, want);
        fuzz_decode(&buf);
    }

    #[test]
    fn rread_helpers_match_encode(data in prop::collection::vec(any::<u8>(), 0..300), extra in 0usize..50, tag in any::<u16>()) {
        let mut buf = Vec::new();
        let start = begin_rread(tag, &mut buf);
        buf.extend_from_slice(&data);
        buf.resize(buf.len() + extra, 0xaa);
        finish_rread(&mut buf, start, data.len()).unwrap();
        prop_assert_eq!(buf, enc(tag, &Rmessage::Read(Rread { data: &data })));
    }

    #[test]
    fn open_flags_roundtrip(flags in any::<u32>()) {
        // Protocol -> host -> protocol keeps every defined bit, except that
        // on Linux O_SYNC includes O_DSYNC, and O_LARGEFILE may be 0.
        let known = P9_DOTL_ACCMODE | P9_DOTL_CREATE | P9_DOTL_EXCL | P9_DOTL_NOCTTY
            | P9_DOTL_TRUNC | P9_DOTL_APPEND | P9_DOTL_NONBLOCK | P9_DOTL_DSYNC
            | P9_DOTL_FASYNC | P9_DOTL_DIRECT | P9_DOTL_LARGEFILE | P9_DOTL_DIRECTORY
            | P9_DOTL_NOFOLLOW | P9_DOTL_NOATIME | P9_DOTL_CLOEXEC | P9_DOTL_SYNC;
        let mut want = flags & known;
        if libc::O_LARGEFILE == 0 {
            want &= !P9_DOTL_LARGEFILE;
        }
        if want & P9_DOTL_SYNC != 0 && libc::O_SYNC & libc::O_DSYNC != 0 {
            want |= P9_DOTL_DSYNC;
        }
        prop_assert_eq!(host_to_dotl_oflags(dotl_to_host_oflags(flags)), want);
    }
}
