//! The client against a fake helper: a thread on the other end of a socketpair that reads
//! requests and writes crafted replies, byte for byte. Covers what a real helper rarely
//! does: split fd words, missing or extra fds, malformed and oversized replies.

use std::io::{IoSlice, Read};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use proxy_client::{Errno, Error, OFlags, ProxyClient, Request, Response, Timestamp, XattrFlags};
use proxy_protocol::{
    decode_request, FdWord, Header, Reply, Stat, FD_VALID, HEADER_SIZE, MAX_BODY_SIZE, T_ERROR,
    T_SUCCESS,
};
use rustix::net::{
    recv, send, sendmsg, socketpair, AddressFamily, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};

/// The fake helper's end of the connection.
struct Fake {
    fd: OwnedFd,
}

impl Fake {
    /// Reads one whole request: header and body.
    fn read_request(&self) -> Vec<u8> {
        let mut msg = vec![0u8; HEADER_SIZE];
        self.read_exact(&mut msg);
        let header = Header::decode(msg[..].try_into().unwrap());
        let start = msg.len();
        msg.resize(start + header.size as usize, 0);
        self.read_exact(&mut msg[start..]);
        msg
    }

    fn read_exact(&self, mut buf: &mut [u8]) {
        while !buf.is_empty() {
            let (n, _) = recv(&self.fd, &mut *buf, RecvFlags::empty()).unwrap();
            assert!(n > 0, "client closed the connection mid-request");
            buf = &mut buf[n..];
        }
    }

    /// Whether the client closed its end (the next read sees end of stream).
    fn sees_eof(&self) -> bool {
        let mut b = [0u8; 1];
        matches!(recv(&self.fd, &mut b, RecvFlags::empty()), Ok((0, _)))
    }

    fn write(&self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let n = send(&self.fd, bytes, SendFlags::NOSIGNAL).unwrap();
            bytes = &bytes[n..];
        }
    }

    fn reply(&self, reply: Reply<'_>) {
        let mut buf = Vec::new();
        reply.encode(&mut buf).unwrap();
        self.write(&buf);
    }

    fn raw_reply(&self, kind: u32, body: &[u8]) {
        let mut buf = Header {
            kind,
            size: body.len() as u32,
        }
        .encode()
        .to_vec();
        buf.extend_from_slice(body);
        self.write(&buf);
    }

    /// Sends `word` with `fds` attached in one SCM_RIGHTS message.
    fn send_word(&self, word: &[u8], fds: &[BorrowedFd<'_>]) {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(4))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !fds.is_empty() {
            assert!(control.push(SendAncillaryMessage::ScmRights(fds)));
        }
        let n = sendmsg(
            &self.fd,
            &[IoSlice::new(word)],
            &mut control,
            SendFlags::NOSIGNAL,
        )
        .unwrap();
        assert_eq!(n, word.len());
    }
}

/// A client, and a fake helper thread running `script` on the other end.
fn with_fake(script: impl FnOnce(Fake) + Send + 'static) -> (ProxyClient, JoinHandle<()>) {
    let (ours, theirs) = socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .unwrap();
    let handle = thread::spawn(move || script(Fake { fd: theirs }));
    (ProxyClient::from_fd(ours), handle)
}

/// A pipe whose read end tells, by reaching EOF, that every copy of the write end is
/// closed.
fn pipe() -> (std::fs::File, OwnedFd) {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    (std::fs::File::from(r), w)
}

fn assert_closed_everywhere(mut read_end: std::fs::File) {
    let mut buf = Vec::new();
    // Returns only once no write end is left open, in this process or the client's.
    read_end.read_to_end(&mut buf).unwrap();
    assert!(buf.is_empty());
}

fn a_file() -> (tempfile::NamedTempFile, u64) {
    let f = tempfile::NamedTempFile::new().unwrap();
    let ino = std::os::unix::fs::MetadataExt::ino(&f.as_file().metadata().unwrap());
    (f, ino)
}

fn ino_of(fd: &OwnedFd) -> u64 {
    rustix::fs::fstat(fd).unwrap().st_ino
}

#[test]
fn fd_word_split_over_two_reads_is_completed() {
    let (file, ino) = a_file();
    let (client, fake) = with_fake(move |f| {
        let req = f.read_request();
        assert!(matches!(
            decode_request(&req).unwrap(),
            Request::Open {
                path: b"/x",
                flags: 0
            }
        ));
        let word = FdWord::Valid.encode();
        f.send_word(&word[..1], &[file.as_file().as_fd()]);
        thread::sleep(Duration::from_millis(50));
        f.write(&word[1..]);
        // Still in step: the next request is answered normally.
        f.read_request();
        f.reply(Reply::Status(0));
    });
    let fd = client.open(b"/x", OFlags::RDONLY).unwrap();
    assert_eq!(ino_of(&fd), ino);
    assert!(rustix::io::fcntl_getfd(&fd)
        .unwrap()
        .contains(rustix::io::FdFlags::CLOEXEC));
    client.remove(b"/y").unwrap();
    fake.join().unwrap();
}

#[test]
fn fd_valid_without_fd_is_enfile_and_keeps_the_connection() {
    let (client, fake) = with_fake(|f| {
        f.read_request();
        f.write(&FD_VALID.to_ne_bytes());
        f.read_request();
        f.reply(Reply::Status(0));
    });
    let err = client
        .create(b"/c", OFlags::WRONLY, 0o644, 0, 0)
        .unwrap_err();
    assert!(matches!(err, Error::MissingFd), "{err:?}");
    assert_eq!(err.errno(), Errno::NFILE);
    assert_eq!(
        std::io::Error::from(err).raw_os_error(),
        Some(Errno::NFILE.raw_os_error())
    );
    assert!(!client.is_broken());
    client.mkdir(b"/d", 0o755, 0, 0).unwrap();
    fake.join().unwrap();
}

#[test]
fn extra_fds_are_closed() {
    let (file, ino) = a_file();
    let (read_end, write_end) = pipe();
    let (client, fake) = with_fake(move |f| {
        f.read_request();
        f.send_word(
            &FdWord::Valid.encode(),
            &[file.as_file().as_fd(), write_end.as_fd()],
        );
        drop(write_end);
    });
    let fd = client.open(b"/x", OFlags::RDONLY).unwrap();
    assert_eq!(ino_of(&fd), ino);
    fake.join().unwrap();
    assert_closed_everywhere(read_end);
}

#[test]
fn fd_sent_with_an_error_word_is_closed() {
    let (read_end, write_end) = pipe();
    let (client, fake) = with_fake(move |f| {
        f.read_request();
        f.send_word(&FdWord::Error(13).encode(), &[write_end.as_fd()]);
        drop(write_end);
    });
    let err = client.open(b"/x", OFlags::RDONLY).unwrap_err();
    assert!(matches!(err, Error::Errno(Errno::ACCESS)), "{err:?}");
    fake.join().unwrap();
    assert_closed_everywhere(read_end);
}

#[test]
fn positive_fd_word_is_a_protocol_error() {
    let (client, fake) = with_fake(|f| {
        f.read_request();
        f.write(&5i32.to_ne_bytes());
        assert!(f.sees_eof());
    });
    let err = client.open(b"/x", OFlags::RDONLY).unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
    assert!(client.is_broken());
    fake.join().unwrap();
}

#[test]
fn t_error_with_positive_value_breaks_the_connection() {
    let (client, fake) = with_fake(|f| {
        f.read_request();
        f.raw_reply(T_ERROR, &2i32.to_ne_bytes());
        // The client closed the socket, as QEMU does, and sends nothing more.
        assert!(f.sees_eof());
    });
    let err = client.chmod(b"/x", 0o600).unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
    assert_eq!(err.errno(), Errno::IO);
    assert!(client.is_broken());
    fake.join().unwrap();
    // Later calls fail at once without touching the socket.
    let err = client.lstat(b"/").unwrap_err();
    assert!(matches!(err, Error::Broken), "{err:?}");
    assert_eq!(
        std::io::Error::from(err).raw_os_error(),
        Some(Errno::IO.raw_os_error())
    );
}

#[test]
fn oversized_reply_is_drained_as_enobufs() {
    let (client, fake) = with_fake(|f| {
        f.read_request();
        let body = vec![0xa5u8; MAX_BODY_SIZE * 2 + 3];
        f.raw_reply(T_SUCCESS, &body);
        f.read_request();
        f.reply(Reply::Bytes(b"target"));
    });
    let err = client.readlink(b"/l").unwrap_err();
    assert!(matches!(err, Error::ReplyTooLarge { .. }), "{err:?}");
    assert_eq!(err.errno(), Errno::NOBUFS);
    assert!(!client.is_broken());
    assert_eq!(client.readlink(b"/l").unwrap(), b"target");
    fake.join().unwrap();
}

#[test]
fn reply_of_exactly_the_maximum_is_accepted() {
    let (client, fake) = with_fake(|f| {
        f.read_request();
        let value = vec![7u8; MAX_BODY_SIZE - 2];
        f.reply(Reply::Bytes(&value));
    });
    let got = client
        .request(&Request::Lgetxattr {
            size: MAX_BODY_SIZE as i32,
            path: b"/f",
            name: b"user.big",
        })
        .unwrap();
    assert!(matches!(got, Response::Bytes(v) if v.len() == MAX_BODY_SIZE - 2));
    fake.join().unwrap();
}

#[test]
fn wrong_status_size_and_unknown_reply_type_break() {
    let (client, fake) = with_fake(|f| {
        f.read_request();
        f.raw_reply(T_SUCCESS, &[0u8; 8]);
    });
    assert!(matches!(client.remove(b"/x"), Err(Error::Protocol(_))));
    assert!(client.is_broken());
    fake.join().unwrap();

    let (client, fake) = with_fake(|f| {
        f.read_request();
        f.raw_reply(7, &[0u8; 4]);
    });
    assert!(matches!(client.remove(b"/x"), Err(Error::Protocol(_))));
    fake.join().unwrap();
}

#[test]
fn eof_mid_reply_breaks_the_connection() {
    let (client, fake) = with_fake(|f| {
        f.read_request();
        f.write(
            &Header {
                kind: T_SUCCESS,
                size: 200,
            }
            .encode(),
        );
        f.write(&[0u8; 10]);
    });
    let err = client.lstat(b"/x").unwrap_err();
    assert!(matches!(err, Error::Eof), "{err:?}");
    assert!(client.is_broken());
    fake.join().unwrap();
}

#[test]
fn helper_errno_is_returned_faithfully() {
    let (client, fake) = with_fake(|f| {
        for errno in [2, 17, 39, 95, 4095] {
            f.read_request();
            f.reply(Reply::Status(-errno));
        }
    });
    for errno in [2, 17, 39, 95, 4095] {
        let err = client.rename(b"/a", b"/b").unwrap_err();
        assert!(matches!(err, Error::Errno(e) if e.raw_os_error() == errno));
        assert_eq!(std::io::Error::from(err).raw_os_error(), Some(errno));
    }
    assert!(!client.is_broken());
    fake.join().unwrap();
}

#[test]
fn requests_go_out_in_the_documented_layout() {
    let (client, fake) = with_fake(|f| {
        let req = f.read_request();
        assert_eq!(
            decode_request(&req).unwrap(),
            Request::Utime {
                path: b"/t",
                atime_sec: 11,
                atime_nsec: 22,
                mtime_sec: 33,
                mtime_nsec: 44,
            }
        );
        // The same bytes, spelled out: path, atime s, atime ns, mtime s, mtime ns.
        let mut expected = Vec::new();
        expected.extend_from_slice(&14u32.to_ne_bytes());
        expected.extend_from_slice(&36u32.to_ne_bytes());
        expected.extend_from_slice(&2u16.to_ne_bytes());
        expected.extend_from_slice(b"/t");
        for v in [11i64, 22, 33, 44] {
            expected.extend_from_slice(&v.to_ne_bytes());
        }
        assert_eq!(req, expected);
        f.reply(Reply::Status(0));

        let req = f.read_request();
        assert_eq!(
            decode_request(&req).unwrap(),
            Request::Utime {
                path: b"/t",
                atime_sec: 0,
                atime_nsec: proxy_client::UTIME_OMIT,
                mtime_sec: 0,
                mtime_nsec: proxy_client::UTIME_NOW,
            }
        );
        f.reply(Reply::Status(0));

        let req = f.read_request();
        assert_eq!(
            decode_request(&req).unwrap(),
            Request::Readlink {
                path: b"/l",
                bufsize: 4096
            }
        );
        f.reply(Reply::Bytes(b"x"));

        let req = f.read_request();
        assert_eq!(
            decode_request(&req).unwrap(),
            Request::Lsetxattr {
                path: b"/f",
                name: b"user.k",
                value: b"abc",
                size: 3,
                flags: 1,
            }
        );
        f.reply(Reply::Status(0));

        let req = f.read_request();
        assert_eq!(
            decode_request(&req).unwrap(),
            Request::Mknod {
                uid: 5,
                gid: 6,
                path: b"/n",
                mode: 0o10640,
                rdev: 0x1234_5678_9abc,
            }
        );
        f.reply(Reply::Status(0));

        let req = f.read_request();
        assert_eq!(
            decode_request(&req).unwrap(),
            Request::Chown {
                path: b"/o",
                uid: u32::MAX,
                gid: 9,
            }
        );
        f.reply(Reply::Status(0));
    });
    client
        .utimensat(b"/t", Timestamp::at(11, 22), Timestamp::at(33, 44))
        .unwrap();
    client
        .utimensat(b"/t", Timestamp::Omit, Timestamp::Now)
        .unwrap();
    assert_eq!(client.readlink(b"/l").unwrap(), b"x");
    client
        .setxattr(b"/f", b"user.k", b"abc", XattrFlags::CREATE)
        .unwrap();
    client
        .mknod(b"/n", 0o10640, 0x1234_5678_9abc, 5, 6)
        .unwrap();
    client.chown(b"/o", proxy_client::UNCHANGED_ID, 9).unwrap();
    fake.join().unwrap();
}

#[test]
fn getxattr_retries_when_the_value_grows() {
    let (client, fake) = with_fake(|f| {
        let sizes = [3, 5];
        for (i, size) in sizes.iter().enumerate() {
            let req = f.read_request();
            assert!(matches!(
                decode_request(&req).unwrap(),
                Request::Lgetxattr { size: 0, .. }
            ));
            f.reply(Reply::Status(*size));
            let req = f.read_request();
            assert!(matches!(
                decode_request(&req).unwrap(),
                Request::Lgetxattr { size: s, path: b"/f", name: b"user.v" } if s == *size
            ));
            if i == 0 {
                f.reply(Reply::Status(-(Errno::RANGE.raw_os_error())));
            } else {
                f.reply(Reply::Bytes(b"grown"));
            }
        }
        // A zero-length value needs no fetch.
        f.read_request();
        f.reply(Reply::Status(0));
    });
    assert_eq!(client.getxattr(b"/f", b"user.v").unwrap(), b"grown");
    assert_eq!(client.getxattr(b"/f", b"user.v").unwrap(), b"");
    fake.join().unwrap();
}

#[test]
fn unencodable_request_is_refused_locally() {
    let (client, fake) = with_fake(|f| {
        // The first thing that arrives is the lstat after the refusal.
        let req = f.read_request();
        assert!(matches!(
            decode_request(&req).unwrap(),
            Request::Lstat { path: b"/" }
        ));
        f.reply(Reply::Stat(Stat {
            ino: 2,
            mode: 0o40755,
            ..Stat::default()
        }));
    });
    let long = vec![b'a'; 70_000];
    let err = client.lstat(&long).unwrap_err();
    assert!(matches!(err, Error::Encode(_)), "{err:?}");
    assert_eq!(err.errno(), Errno::NAMETOOLONG);
    assert!(!client.is_broken());
    assert_eq!(client.lstat(b"/").unwrap().ino, 2);
    fake.join().unwrap();
}

#[test]
fn concurrent_callers_are_serialized() {
    const THREADS: usize = 4;
    const EACH: usize = 200;
    let (client, fake) = with_fake(|f| {
        for _ in 0..THREADS * EACH {
            let req = f.read_request();
            let Request::Lstat { path } = decode_request(&req).unwrap() else {
                panic!("not an lstat");
            };
            // Answer with the number in the path, so a mixed-up reply shows.
            let n: u64 = std::str::from_utf8(&path[1..]).unwrap().parse().unwrap();
            f.reply(Reply::Stat(Stat {
                ino: n,
                ..Stat::default()
            }));
        }
    });
    thread::scope(|s| {
        for t in 0..THREADS {
            let client = &client;
            s.spawn(move || {
                for i in 0..EACH {
                    let n = (t * EACH + i) as u64;
                    let st = client.lstat(format!("/{n}")).unwrap();
                    assert_eq!(st.ino, n);
                }
            });
        }
    });
    fake.join().unwrap();
}

#[test]
fn request_raw_sends_exact_bytes() {
    let (client, fake) = with_fake(|f| {
        let mut head = [0u8; HEADER_SIZE];
        f.read_exact(&mut head);
        assert_eq!(Header::decode(head), Header { kind: 8, size: 1 });
        let mut body = [0u8; 1];
        f.read_exact(&mut body);
        f.reply(Reply::Status(-(Errno::INVAL.raw_os_error())));
    });
    let mut msg = Header { kind: 8, size: 1 }.encode().to_vec();
    msg.push(0);
    let err = client
        .request_raw(&msg, proxy_client::ReplyForm::Status)
        .unwrap_err();
    assert!(matches!(err, Error::Errno(Errno::INVAL)));
    fake.join().unwrap();
}

#[test]
fn dead_helper_is_an_error_not_a_signal() {
    let (client, fake) = with_fake(drop);
    fake.join().unwrap();
    let err = client.lstat(b"/").unwrap_err();
    assert!(err.breaks_connection(), "{err:?}");
    assert!(client.is_broken());
}
