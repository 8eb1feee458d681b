//! Decoding arbitrary bytes never panics; encoding then decoding is the identity.

use proptest::prelude::*;
use proxy_protocol::*;

fn forms() -> impl Strategy<Value = ReplyForm> {
    prop_oneof![
        Just(ReplyForm::Status),
        Just(ReplyForm::Fd),
        Just(ReplyForm::Data(DataKind::Stat)),
        Just(ReplyForm::Data(DataKind::StatFs)),
        Just(ReplyForm::Data(DataKind::Bytes)),
        Just(ReplyForm::Data(DataKind::Version)),
    ]
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn request_decode_never_panics(kind in 0u32..24, body in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = Request::decode(kind, &body);
    }

    #[test]
    fn whole_message_decode_never_panics(msg in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_request(&msg);
    }

    #[test]
    fn reply_decode_never_panics(form in forms(), kind in 0u32..3, body in prop::collection::vec(any::<u8>(), 0..200)) {
        let header = Header { kind, size: body.len() as u32 };
        let _ = Reply::decode(form, header, &body);
    }

    #[test]
    fn request_roundtrip(
        kind in 2u32..22,
        a in bytes(), b in bytes(), c in bytes(),
        d1 in any::<i32>(), d2 in any::<u32>(), d3 in any::<u32>(), d4 in any::<u32>(),
        q1 in any::<i64>(), q2 in any::<i64>(),
    ) {
        let req = match kind {
            2 => Request::Open { path: &a, flags: d1 },
            3 => Request::Create { path: &a, flags: d1, mode: d2, uid: d3, gid: d4 },
            4 => Request::Mknod { uid: d2, gid: d3, path: &a, mode: d4, rdev: q1 as u64 },
            5 => Request::Mkdir { uid: d2, gid: d3, path: &a, mode: d4 },
            6 => Request::Symlink { uid: d2, gid: d3, target: &a, path: &b },
            7 => Request::Link { oldpath: &a, newpath: &b },
            8 => Request::Lstat { path: &a },
            9 => Request::Readlink { path: &a, bufsize: d1 },
            10 => Request::Statfs { path: &a },
            11 => Request::Chmod { path: &a, mode: d2 },
            12 => Request::Chown { path: &a, uid: d2, gid: d3 },
            13 => Request::Truncate { path: &a, size: q1 as u64 },
            14 => Request::Utime { path: &a, atime_sec: q1, atime_nsec: q2, mtime_sec: q2, mtime_nsec: q1 },
            15 => Request::Rename { oldpath: &a, newpath: &b },
            16 => Request::Remove { path: &a },
            17 => Request::Lgetxattr { size: d1, path: &a, name: &b },
            18 => Request::Llistxattr { size: d1, path: &a },
            19 => Request::Lsetxattr { path: &a, name: &b, value: &c, size: d1, flags: d2 as i32 },
            20 => Request::Lremovexattr { path: &a, name: &b },
            _ => Request::Getversion { path: &a },
        };
        let mut buf = Vec::new();
        req.encode(&mut buf).unwrap();
        prop_assert_eq!(decode_request(&buf).unwrap(), req);
        // Every strict prefix fails to decode, without panicking.
        for cut in 0..buf.len() {
            prop_assert!(decode_request(&buf[..cut]).is_err());
        }
    }

    #[test]
    fn reply_roundtrip(v in any::<i32>(), data in bytes(), ver in any::<u64>(), words in prop::array::uniform16(any::<u64>())) {
        let st = Stat {
            dev: words[0], ino: words[1], nlink: words[2], mode: words[3] as u32, uid: words[4] as u32,
            gid: words[5] as u32, rdev: words[6], size: words[7], blksize: words[8], blocks: words[9],
            atime_sec: words[10] as i64, atime_nsec: words[11] as i64, mtime_sec: words[12] as i64,
            mtime_nsec: words[13] as i64, ctime_sec: words[14] as i64, ctime_nsec: words[15] as i64,
        };
        let cases = [
            (Reply::Status(v), ReplyForm::Status),
            (Reply::Stat(st), ReplyForm::Data(DataKind::Stat)),
            (Reply::Bytes(&data), ReplyForm::Data(DataKind::Bytes)),
            (Reply::Version(ver), ReplyForm::Data(DataKind::Version)),
        ];
        for (reply, form) in cases {
            let mut buf = Vec::new();
            reply.encode(&mut buf).unwrap();
            let header = Header::decode(buf[..HEADER_SIZE].try_into().unwrap());
            prop_assert_eq!(Reply::decode(form, header, &buf[HEADER_SIZE..]).unwrap(), reply);
        }
    }
}
