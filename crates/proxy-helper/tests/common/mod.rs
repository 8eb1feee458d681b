//! Test harness: our helper binary on one end of a socketpair, raw frames on the other.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use proxy_protocol::{FdWord, Header, Reply, ReplyForm, Request, HEADER_SIZE};
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SocketFlags, SocketType,
};

pub const HELPER: &str = env!("CARGO_BIN_EXE_virtfs-proxy-helper");

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Skips the calling test (with a line saying so) unless running as root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !common::is_root() {
            eprintln!("SKIPPED: needs root (CI runs as root)");
            return;
        }
    };
}

pub struct Helper {
    pub child: Child,
    pub sock: UnixStream,
}

impl Helper {
    /// Starts our helper on `export`, optionally through `setpriv` as an unprivileged user.
    pub fn start(export: &Path, unprivileged: bool) -> Helper {
        let (ours, theirs) = rustix::net::socketpair(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::empty(),
            None,
        )
        .unwrap();
        rustix::io::fcntl_setfd(&ours, rustix::io::FdFlags::CLOEXEC).unwrap();
        let n = theirs.as_raw_fd().to_string();
        let mut cmd = if unprivileged {
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
                HELPER,
            ]);
            c
        } else {
            Command::new(HELPER)
        };
        cmd.args(["-f", &n, "-p"])
            .arg(export)
            .arg("-n")
            .stdin(Stdio::null())
            .stderr(Stdio::piped());
        let child = cmd.spawn().expect("spawn helper");
        drop(theirs);
        Helper {
            child,
            sock: UnixStream::from(ours),
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.sock.write_all(bytes).unwrap();
    }

    pub fn send(&mut self, req: &Request) {
        let mut buf = Vec::new();
        req.encode(&mut buf).unwrap();
        self.send_raw(&buf);
    }

    /// Reads one header+body reply.
    pub fn read_reply(&mut self) -> (Header, Vec<u8>) {
        let mut h = [0u8; HEADER_SIZE];
        self.sock.read_exact(&mut h).unwrap();
        let header = Header::decode(h);
        let mut body = vec![0u8; header.body_len().unwrap()];
        self.sock.read_exact(&mut body).unwrap();
        (header, body)
    }

    /// Sends `req` and returns its status/data reply, decoded (owned copy of bytes).
    pub fn call(&mut self, req: &Request) -> Result<Owned, i32> {
        self.send(req);
        let (header, body) = self.read_reply();
        let reply = Reply::decode(req.reply_form(), header, &body).expect("well-formed reply");
        match reply {
            Reply::Status(v) if v < 0 => Err(-v),
            Reply::Status(v) => Ok(Owned::Status(v)),
            Reply::Stat(s) => Ok(Owned::Stat(s)),
            Reply::StatFs(s) => Ok(Owned::StatFs(s)),
            Reply::Bytes(b) => Ok(Owned::Bytes(b.to_vec())),
            Reply::Version(v) => Ok(Owned::Version(v)),
        }
    }

    /// Sends an fd request; returns the fd or the errno.
    pub fn call_fd(&mut self, req: &Request) -> Result<OwnedFd, i32> {
        assert_eq!(req.reply_form(), ReplyForm::Fd);
        self.send(req);
        recv_fd_word(self.sock.as_fd())
    }

    /// Waits (bounded) for the helper to exit; returns its status code and stderr.
    pub fn finish(mut self) -> (Option<i32>, String) {
        drop(self.sock);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                let mut err = String::new();
                self.child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                return (st.code(), err);
            }
            if Instant::now() > deadline {
                self.child.kill().unwrap();
                panic!("helper did not exit after its peer closed");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Number of fds the helper process holds.
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .unwrap()
            .count()
    }
}

pub fn recv_fd_word(sock: std::os::fd::BorrowedFd<'_>) -> Result<OwnedFd, i32> {
    let mut word = [0u8; 4];
    let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut anc = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [std::io::IoSliceMut::new(&mut word)];
    let r = rustix::net::recvmsg(sock, &mut iov, &mut anc, RecvFlags::CMSG_CLOEXEC).unwrap();
    assert_eq!(r.bytes, 4, "whole fd word in one message");
    let mut fds: Vec<OwnedFd> = Vec::new();
    for msg in anc.drain() {
        if let RecvAncillaryMessage::ScmRights(it) = msg {
            fds.extend(it);
        }
    }
    match FdWord::decode(word).expect("valid fd word") {
        FdWord::Valid => {
            assert_eq!(fds.len(), 1, "exactly one fd with FD_VALID");
            Ok(fds.pop().unwrap())
        }
        FdWord::Error(e) => {
            assert!(fds.is_empty(), "no fd with an error");
            Err(e)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Owned {
    Status(i32),
    Stat(proxy_protocol::Stat),
    StatFs(proxy_protocol::StatFs),
    Bytes(Vec<u8>),
    Version(u64),
}

impl Owned {
    pub fn stat(self) -> proxy_protocol::Stat {
        match self {
            Owned::Stat(s) => s,
            o => panic!("not a stat: {o:?}"),
        }
    }
    pub fn bytes(self) -> Vec<u8> {
        match self {
            Owned::Bytes(b) => b,
            o => panic!("not bytes: {o:?}"),
        }
    }
}

pub const ENOENT: i32 = 2;
pub const EPERM: i32 = 1;
pub const EACCES: i32 = 13;
pub const EEXIST: i32 = 17;
pub const EINVAL: i32 = 22;
pub const ENXIO: i32 = 6;
pub const ENOTEMPTY: i32 = 39;
pub const ENAMETOOLONG: i32 = 36;
pub const ERANGE: i32 = 34;
pub const ENODATA: i32 = 61;
