//! Golden byte vectors: every request and reply form, against an independent oracle that
//! marshals the way QEMU's `v9fs_marshal(out, 1, offset, 0 /* no bswap */, fmt, ...)` does
//! for the format strings in `hw/9pfs/9p-proxy.c` and `fsdev/virtfs-proxy-helper.c`,
//! plus literal little-endian bytes for a few messages written out by hand.

use proxy_protocol::*;

/// One argument of QEMU's marshaller.
enum A<'a> {
    D(i32),
    Q(u64),
    S(&'a [u8]),
}

/// QEMU's `proxy_marshal` with a format string: `d` int32, `q` int64, `s` u16 + bytes,
/// host order, preceded by the `dd` header `{type, size}`.
fn qemu_marshal(kind: u32, fmt: &str, args: &[A]) -> Vec<u8> {
    assert_eq!(fmt.len(), args.len());
    let mut body = Vec::new();
    for (c, a) in fmt.chars().zip(args) {
        match (c, a) {
            ('d', A::D(v)) => body.extend_from_slice(&v.to_ne_bytes()),
            ('q', A::Q(v)) => body.extend_from_slice(&v.to_ne_bytes()),
            ('s', A::S(s)) => {
                body.extend_from_slice(&(s.len() as u16).to_ne_bytes());
                body.extend_from_slice(s);
            }
            _ => panic!("format {c} does not match its argument"),
        }
    }
    let mut out = Vec::new();
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&(body.len() as u32).to_ne_bytes());
    out.extend_from_slice(&body);
    out
}

fn enc(req: Request) -> Vec<u8> {
    let mut buf = Vec::new();
    req.encode(&mut buf).unwrap();
    // And it decodes back to itself.
    assert_eq!(decode_request(&buf).unwrap(), req);
    buf
}

#[test]
fn request_type_numbers_match_qemu_header() {
    let qemu = || RequestType::ALL.iter().filter(|t| t.is_qemu());
    let names: Vec<&str> = qemu().map(|t| t.name()).collect();
    assert_eq!(
        names,
        [
            "T_Open",
            "T_Create",
            "T_Mknod",
            "T_Mkdir",
            "T_Symlink",
            "T_Link",
            "T_Lstat",
            "T_Readlink",
            "T_Statfs",
            "T_Chmod",
            "T_Chown",
            "T_Truncate",
            "T_Utime",
            "T_Rename",
            "T_Remove",
            "T_Lgetxattr",
            "T_Llistxattr",
            "T_Lsetxattr",
            "T_Lremovexattr",
            "T_Getversion"
        ]
    );
    for (i, t) in qemu().enumerate() {
        assert_eq!(*t as u32, i as u32 + 2, "{t:?}"); // T_SUCCESS = 0, T_ERROR = 1
        assert_eq!(RequestType::from_u32(*t as u32), Some(*t));
    }
    assert_eq!(RequestType::from_u32(0), None);
    assert_eq!(RequestType::from_u32(22), None);
}

#[test]
fn every_request_matches_qemu_marshalling() {
    use A::*;
    let p: &[u8] = b"//dir/file";
    let q: &[u8] = b"//dir/other";
    let cases: Vec<(Request, Vec<u8>)> = vec![
        (
            Request::Open {
                path: p,
                flags: 0o100002,
            },
            qemu_marshal(2, "sd", &[S(p), D(0o100002)]),
        ),
        (
            Request::Create {
                path: p,
                flags: 0o301,
                mode: 0o644,
                uid: 1234,
                gid: 2345,
            },
            qemu_marshal(3, "sdddd", &[S(p), D(0o301), D(0o644), D(1234), D(2345)]),
        ),
        (
            Request::Mknod {
                uid: 1,
                gid: 2,
                path: p,
                mode: 0o20644,
                rdev: 0x0103,
            },
            qemu_marshal(4, "ddsdq", &[D(1), D(2), S(p), D(0o20644), Q(0x0103)]),
        ),
        (
            Request::Mkdir {
                uid: 7,
                gid: 8,
                path: p,
                mode: 0o755,
            },
            qemu_marshal(5, "ddsd", &[D(7), D(8), S(p), D(0o755)]),
        ),
        (
            Request::Symlink {
                uid: 0,
                gid: 0,
                target: b"../t",
                path: p,
            },
            qemu_marshal(6, "ddss", &[D(0), D(0), S(b"../t"), S(p)]),
        ),
        (
            Request::Link {
                oldpath: p,
                newpath: q,
            },
            qemu_marshal(7, "ss", &[S(p), S(q)]),
        ),
        (Request::Lstat { path: p }, qemu_marshal(8, "s", &[S(p)])),
        (
            Request::Readlink {
                path: p,
                bufsize: 4096,
            },
            qemu_marshal(9, "sd", &[S(p), D(4096)]),
        ),
        (
            Request::Statfs { path: b"/" },
            qemu_marshal(10, "s", &[S(b"/")]),
        ),
        (
            Request::Chmod {
                path: p,
                mode: 0o4755,
            },
            qemu_marshal(11, "sd", &[S(p), D(0o4755)]),
        ),
        (
            Request::Chown {
                path: p,
                uid: u32::MAX,
                gid: 5,
            },
            qemu_marshal(12, "sdd", &[S(p), D(-1), D(5)]),
        ),
        (
            Request::Truncate {
                path: p,
                size: 1 << 33,
            },
            qemu_marshal(13, "sq", &[S(p), Q(1 << 33)]),
        ),
        (
            Request::Utime {
                path: p,
                atime_sec: 100,
                atime_nsec: 1,
                mtime_sec: 200,
                mtime_nsec: 2,
            },
            qemu_marshal(14, "sqqqq", &[S(p), Q(100), Q(1), Q(200), Q(2)]),
        ),
        (
            Request::Rename {
                oldpath: p,
                newpath: q,
            },
            qemu_marshal(15, "ss", &[S(p), S(q)]),
        ),
        (Request::Remove { path: p }, qemu_marshal(16, "s", &[S(p)])),
        (
            Request::Lgetxattr {
                size: 0,
                path: p,
                name: b"user.a",
            },
            qemu_marshal(17, "dss", &[D(0), S(p), S(b"user.a")]),
        ),
        (
            Request::Llistxattr { size: 64, path: p },
            qemu_marshal(18, "ds", &[D(64), S(p)]),
        ),
        (
            Request::Lsetxattr {
                path: p,
                name: b"user.a",
                value: b"v\0x",
                size: 3,
                flags: 1,
            },
            qemu_marshal(19, "sssdd", &[S(p), S(b"user.a"), S(b"v\0x"), D(3), D(1)]),
        ),
        (
            Request::Lremovexattr {
                path: p,
                name: b"user.a",
            },
            qemu_marshal(20, "ss", &[S(p), S(b"user.a")]),
        ),
        (
            Request::Getversion { path: p },
            qemu_marshal(21, "s", &[S(p)]),
        ),
    ];
    let ours = RequestType::ALL.iter().filter(|t| !t.is_qemu()).count();
    assert_eq!(cases.len(), RequestType::ALL.len() - ours);
    for (req, expected) in cases {
        assert_eq!(enc(req), expected, "{req:?}");
    }
}

#[test]
fn literal_bytes_little_endian() {
    if cfg!(target_endian = "big") {
        return;
    }
    // T_LSTAT "/a": type 8, size 4, len 2, "/a".
    assert_eq!(
        enc(Request::Lstat { path: b"/a" }),
        [8, 0, 0, 0, 4, 0, 0, 0, 2, 0, b'/', b'a']
    );
    // T_OPEN "/" O_RDWR.
    assert_eq!(
        enc(Request::Open {
            path: b"/",
            flags: 2
        }),
        [2, 0, 0, 0, 7, 0, 0, 0, 1, 0, b'/', 2, 0, 0, 0]
    );
    // Status replies.
    let mut b = Vec::new();
    Reply::Status(-2).encode(&mut b).unwrap();
    assert_eq!(b, [1, 0, 0, 0, 4, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff]);
    b.clear();
    Reply::Status(0).encode(&mut b).unwrap();
    assert_eq!(b, [0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0]);
    // Fd words.
    assert_eq!(FdWord::Valid.encode(), [0xff, 0xff, 0xff, 0x7f]);
    assert_eq!(FdWord::Error(13).encode(), [0xf3, 0xff, 0xff, 0xff]);
}

#[test]
fn data_replies_match_helper_marshalling() {
    use A::*;
    let st = Stat {
        dev: 0x801,
        ino: 42,
        nlink: 2,
        mode: 0o100644,
        uid: 1000,
        gid: 100,
        rdev: 0,
        size: 12345,
        blksize: 4096,
        blocks: 32,
        atime_sec: 1_700_000_000,
        atime_nsec: 1,
        mtime_sec: 1_700_000_001,
        mtime_nsec: 2,
        ctime_sec: 1_700_000_002,
        ctime_nsec: 3,
    };
    let expected = qemu_marshal(
        0,
        "qqqdddqqqqqqqqqq",
        &[
            Q(0x801),
            Q(42),
            Q(2),
            D(0o100644),
            D(1000),
            D(100),
            Q(0),
            Q(12345),
            Q(4096),
            Q(32),
            Q(1_700_000_000),
            Q(1),
            Q(1_700_000_001),
            Q(2),
            Q(1_700_000_002),
            Q(3),
        ],
    );
    assert_eq!(expected.len(), HEADER_SIZE + STAT_SIZE);
    check_reply(Reply::Stat(st), ReplyForm::Data(DataKind::Stat), expected);

    let sf = StatFs {
        fs_type: 0xEF53,
        bsize: 4096,
        blocks: 10,
        bfree: 5,
        bavail: 4,
        files: 100,
        ffree: 50,
        fsid: [0xffff_ffff_8000_0000, 7],
        namelen: 255,
        frsize: 4096,
    };
    let expected = qemu_marshal(
        0,
        "qqqqqqqqqqq",
        &[
            Q(0xEF53),
            Q(4096),
            Q(10),
            Q(5),
            Q(4),
            Q(100),
            Q(50),
            Q(0xffff_ffff_8000_0000),
            Q(7),
            Q(255),
            Q(4096),
        ],
    );
    check_reply(
        Reply::StatFs(sf),
        ReplyForm::Data(DataKind::StatFs),
        expected,
    );
    check_reply(
        Reply::Bytes(b"target"),
        ReplyForm::Data(DataKind::Bytes),
        qemu_marshal(0, "s", &[S(b"target")]),
    );
    check_reply(
        Reply::Version(0x1122_3344_5566_7788),
        ReplyForm::Data(DataKind::Version),
        qemu_marshal(0, "q", &[Q(0x1122_3344_5566_7788)]),
    );
    // getxattr with size 0: a T_SUCCESS status carrying the length.
    check_reply(
        Reply::Status(17),
        ReplyForm::Status,
        qemu_marshal(0, "d", &[D(17)]),
    );
    // Any data request may fail with a T_ERROR status.
    check_reply(
        Reply::Status(-61),
        ReplyForm::Data(DataKind::Bytes),
        qemu_marshal(1, "d", &[D(-61)]),
    );
}

fn check_reply(reply: Reply, form: ReplyForm, expected: Vec<u8>) {
    let mut buf = Vec::new();
    reply.encode(&mut buf).unwrap();
    assert_eq!(buf, expected, "{reply:?}");
    let header = Header::decode(buf[..HEADER_SIZE].try_into().unwrap());
    assert_eq!(header.body_len().unwrap(), buf.len() - HEADER_SIZE);
    assert_eq!(
        Reply::decode(form, header, &buf[HEADER_SIZE..]).unwrap(),
        reply
    );
}

#[test]
fn reply_forms_follow_qemu_client() {
    use RequestType as T;
    assert_eq!(ReplyForm::for_request(T::Open, None), ReplyForm::Fd);
    assert_eq!(ReplyForm::for_request(T::Create, None), ReplyForm::Fd);
    assert_eq!(
        ReplyForm::for_request(T::Lgetxattr, Some(0)),
        ReplyForm::Status
    );
    assert_eq!(
        ReplyForm::for_request(T::Lgetxattr, Some(5)),
        ReplyForm::Data(DataKind::Bytes)
    );
    assert_eq!(
        ReplyForm::for_request(T::Llistxattr, Some(0)),
        ReplyForm::Status
    );
    assert_eq!(
        ReplyForm::for_request(T::Readlink, None),
        ReplyForm::Data(DataKind::Bytes)
    );
    for t in [
        T::Mknod,
        T::Mkdir,
        T::Symlink,
        T::Link,
        T::Chmod,
        T::Chown,
        T::Truncate,
        T::Utime,
        T::Rename,
        T::Remove,
        T::Lsetxattr,
        T::Lremovexattr,
    ] {
        assert_eq!(ReplyForm::for_request(t, None), ReplyForm::Status, "{t:?}");
    }
}

#[test]
fn size_limits() {
    // A body of exactly 64 KiB is accepted, one byte more is not.
    assert_eq!(
        Header {
            kind: 8,
            size: 65536
        }
        .body_len(),
        Ok(65536)
    );
    assert!(matches!(
        Header {
            kind: 8,
            size: 65537
        }
        .body_len(),
        Err(DecodeError::TooLarge { .. })
    ));
    assert!(matches!(
        Header {
            kind: 8,
            size: u32::MAX
        }
        .body_len(),
        Err(DecodeError::TooLarge { .. })
    ));
    // Strings longer than u16 and bodies over the maximum are refused at encode time.
    let long = vec![b'a'; 70_000];
    let mut buf = vec![1, 2, 3];
    assert!(matches!(
        Request::Lstat { path: &long }.encode(&mut buf),
        Err(EncodeError::StringTooLong { .. })
    ));
    assert_eq!(buf, [1, 2, 3], "buffer left as it was");
    let big = vec![b'a'; 40_000];
    assert!(matches!(
        Request::Link {
            oldpath: &big,
            newpath: &big
        }
        .encode(&mut buf),
        Err(EncodeError::TooLarge { .. })
    ));
    assert_eq!(buf, [1, 2, 3]);
    // A data reply over the maximum: the helper turns this into ENOBUFS.
    let val = vec![0u8; 65535];
    assert!(matches!(
        Reply::Bytes(&val).encode(&mut buf),
        Err(EncodeError::TooLarge { .. })
    ));
    let val = vec![0u8; 65534];
    buf.clear();
    Reply::Bytes(&val).encode(&mut buf).unwrap();
    assert_eq!(buf.len(), HEADER_SIZE + 65536);
}

#[test]
fn malformed_requests_are_errors() {
    // Truncated string.
    assert!(matches!(
        Request::decode(8, &[5, 0, b'a']),
        Err(DecodeError::Truncated { .. })
    ));
    // Missing int.
    assert!(matches!(
        Request::decode(2, &[1, 0, b'/']),
        Err(DecodeError::Truncated { .. })
    ));
    // Trailing bytes.
    assert!(matches!(
        Request::decode(8, &[1, 0, b'/', 0]),
        Err(DecodeError::TrailingBytes { count: 1 })
    ));
    // Unknown types.
    assert_eq!(Request::decode(0, &[]), Err(DecodeError::UnknownRequest(0)));
    assert_eq!(
        Request::decode(99, &[]),
        Err(DecodeError::UnknownRequest(99))
    );
    // Whole-message decode: header size disagreeing with the buffer.
    let mut m = Vec::new();
    Request::Remove { path: b"/x" }.encode(&mut m).unwrap();
    assert!(decode_request(&m[..m.len() - 1]).is_err());
    m.push(0);
    assert!(decode_request(&m).is_err());
    assert!(decode_request(&[1, 2, 3]).is_err());
}

#[test]
fn malformed_replies_are_errors() {
    let h = |kind, size| Header { kind, size };
    // Error with a non-negative value.
    assert_eq!(
        Reply::decode(ReplyForm::Status, h(1, 4), &0i32.to_ne_bytes()),
        Err(DecodeError::BadErrno(0))
    );
    // Status of the wrong size.
    assert!(matches!(
        Reply::decode(ReplyForm::Status, h(0, 8), &[0; 8]),
        Err(DecodeError::BadReplySize { .. })
    ));
    // Stat of the wrong size.
    assert!(matches!(
        Reply::decode(ReplyForm::Data(DataKind::Stat), h(0, 100), &[0; 100]),
        Err(DecodeError::BadReplySize { .. })
    ));
    // Unknown reply type.
    assert_eq!(
        Reply::decode(ReplyForm::Status, h(7, 4), &[0; 4]),
        Err(DecodeError::UnknownReply(7))
    );
    // Fd words.
    assert_eq!(
        FdWord::decode(0i32.to_ne_bytes()),
        Err(DecodeError::BadErrno(0))
    );
    assert_eq!(
        FdWord::decode(5i32.to_ne_bytes()),
        Err(DecodeError::BadErrno(5))
    );
    assert_eq!(
        FdWord::decode(i32::MIN.to_ne_bytes()),
        Err(DecodeError::BadErrno(i32::MIN))
    );
    assert_eq!(FdWord::decode((-2i32).to_ne_bytes()), Ok(FdWord::Error(2)));
}

#[test]
fn the_identity_request_is_ours_and_round_trips() {
    use proxy_protocol::{decode_groups, encode_groups, FIRST_EXTENSION};
    assert!(!RequestType::As.is_qemu());
    assert!(RequestType::As as u32 >= FIRST_EXTENSION);
    let groups = encode_groups(&[4, 24, 1000]);
    let bytes = enc(Request::As {
        uid: 1000,
        gid: 100,
        groups: &groups,
    });
    let mut want = vec![0u8, 1, 0, 0]; // type 256, little-endian
    want.extend_from_slice(&(8u32 + 2 + 12).to_le_bytes());
    want.extend_from_slice(&1000u32.to_le_bytes());
    want.extend_from_slice(&100u32.to_le_bytes());
    want.extend_from_slice(&12u16.to_le_bytes());
    want.extend_from_slice(&groups);
    assert_eq!(bytes, want);
    assert_eq!(decode_groups(&groups).unwrap(), vec![4, 24, 1000]);
    assert_eq!(decode_groups(&[1, 2, 3]), None);
}

/// Our fd-relative requests: past QEMU's range, each declaring one or two fds (QEMU's
/// none), encoded from the table's field order, decoded strictly (a truncated body or
/// trailing bytes are errors, never panics).
#[test]
fn fd_relative_requests_are_ours_and_declare_their_fds() {
    use proxy_protocol::{decode_request, FIRST_EXTENSION};
    for &t in RequestType::ALL {
        if t.is_qemu() || t == RequestType::As {
            assert_eq!(t.fds(), 0, "{}", t.name());
        } else {
            assert!(t as u32 > FIRST_EXTENSION);
            assert!((1..=2).contains(&t.fds()), "{}", t.name());
        }
    }
    assert_eq!(RequestType::RenameAt.fds(), 2);
    assert_eq!(RequestType::LinkAt.fds(), 2);
    assert_eq!(RequestType::ChmodNode.fds(), 1);
    let req = Request::CreateAt {
        name: b"f",
        flags: 0o102,
        mode: 0o644,
        uid: 1,
        gid: 2,
    };
    let bytes = enc(req);
    let mut want = 259u32.to_le_bytes().to_vec();
    want.extend_from_slice(&(2u32 + 1 + 4 * 4).to_le_bytes());
    want.extend_from_slice(&1u16.to_le_bytes());
    want.push(b'f');
    for v in [0o102u32, 0o644, 1, 2] {
        want.extend_from_slice(&v.to_le_bytes());
    }
    assert_eq!(bytes, want);
    assert_eq!(decode_request(&bytes).unwrap(), req);
    assert_eq!(req.reply_form(), ReplyForm::Fd);
    assert_eq!(
        Request::MkdirAt {
            uid: 0,
            gid: 0,
            name: b"d",
            mode: 0o755
        }
        .reply_form(),
        ReplyForm::Data(proxy_protocol::DataKind::Stat)
    );
    assert_eq!(
        Request::GetxattrNode {
            size: 0,
            name: b"user.a"
        }
        .reply_form(),
        ReplyForm::Status
    );
    let st = enc(Request::StatfsNode {});
    assert_eq!(st.len(), 8);
    assert!(decode_request(&st).is_ok());
    for cut in 8..bytes.len() {
        let mut short = bytes[..cut].to_vec();
        short[4..8].copy_from_slice(&((cut - 8) as u32).to_le_bytes());
        assert!(decode_request(&short).is_err(), "cut at {cut}");
    }
    let mut long = bytes.clone();
    long.push(0);
    let body = (long.len() - 8) as u32;
    long[4..8].copy_from_slice(&body.to_le_bytes());
    assert!(decode_request(&long).is_err());
}
