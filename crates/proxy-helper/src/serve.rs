//! The request loop: read, decode, dispatch, reply; one request at a time, as QEMU sends
//! them. Every malformed request gets a defined answer or a clean close with a log line.

use std::os::fd::OwnedFd;
use std::time::Duration;

use confined_fs::Export;
use proxy_protocol::{DataKind, Reply, ReplyForm, Request, RequestType};
use rustix::io::Errno;

use crate::conn::{Conn, ConnEnd};
use crate::dispatch::{dispatch, Answer, Authority};
use crate::mounts::ExportMounts;

/// How a connection is served.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServeOptions {
    /// Adaptive polling window after each reply (zero: off); see [`Conn::set_poll_window`].
    pub poll: Duration,
}

/// Serves requests on `sock` until the peer closes it. `Ok` on a clean close.
/// `mounts`: those whose fds the fd-relative requests may carry (the export's detached
/// tree, known from the start).
pub fn serve(
    export: &Export,
    mounts: ExportMounts,
    sock: OwnedFd,
    opts: ServeOptions,
) -> Result<(), ConnEnd> {
    let mut conn = Conn::new(sock);
    conn.set_poll_window(opts.poll);
    let mut authority = Authority::default();
    loop {
        let frame = match conn.read_request() {
            Ok(f) => f,
            Err(ConnEnd::Closed) => return Ok(()),
            Err(e) => return Err(e),
        };
        let Some(kind) = RequestType::from_u32(frame.header.kind) else {
            // No reply form exists for an unknown type: close, as QEMU's helper does.
            return Err(ConnEnd::Protocol(format!(
                "unknown request type {}",
                frame.header.kind
            )));
        };
        // Taken whatever the body holds, so that the next request finds its own fds.
        let fds = conn.take_fds(kind.fds());
        let body = conn.body(&frame);
        let (form, result) = match Request::decode(frame.header.kind, body) {
            Ok(req) => {
                let result =
                    fds.and_then(|fds| dispatch(export, &mounts, &mut authority, &req, fds));
                if let Err(e) = &result {
                    tracing::debug!(request = ?req, errno = %e, "request failed");
                }
                (req.reply_form(), result)
            }
            Err(e) => {
                tracing::warn!(request = kind.name(), error = %e, "malformed request, answered EINVAL");
                (malformed_form(kind, body), Err(Errno::INVAL))
            }
        };
        reply(&mut conn, form, result)?;
    }
}

/// The reply form of a request that could not be decoded: the xattr reads' form depends
/// on their leading size field, if it arrived.
fn malformed_form(kind: RequestType, body: &[u8]) -> ReplyForm {
    let size = body
        .get(..4)
        .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
    ReplyForm::for_request(kind, size)
}

fn reply(conn: &mut Conn, form: ReplyForm, result: Result<Answer, Errno>) -> Result<(), ConnEnd> {
    if form == ReplyForm::Fd {
        let fd = result.and_then(|a| match a {
            Answer::Fd(fd) => Ok(fd),
            other => {
                tracing::error!(answer = ?other, "internal error: non-fd answer to an fd request");
                Err(Errno::IO)
            }
        });
        return conn.send_fd(fd);
    }
    let out = conn.out();
    let encoded = match &result {
        Ok(answer) => encode_answer(answer, form, out),
        Err(e) => Reply::Status(-e.raw_os_error())
            .encode(out)
            .map_err(|_| Errno::IO),
    };
    if let Err(e) = encoded {
        // Too large for the protocol (QEMU's helper answers ENOBUFS too).
        let out = conn.out();
        Reply::Status(-e.raw_os_error())
            .encode(out)
            .expect("a status reply always fits");
    }
    conn.send_out()
}

fn encode_answer(answer: &Answer, form: ReplyForm, out: &mut Vec<u8>) -> Result<(), Errno> {
    let reply = match (answer, form) {
        (Answer::Status(v), ReplyForm::Status) => Reply::Status(*v),
        (Answer::Stat(st), ReplyForm::Data(DataKind::Stat)) => Reply::Stat(*st),
        (Answer::StatFs(st), ReplyForm::Data(DataKind::StatFs)) => Reply::StatFs(*st),
        (Answer::Bytes(b), ReplyForm::Data(DataKind::Bytes)) => Reply::Bytes(b),
        (Answer::Version(v), ReplyForm::Data(DataKind::Version)) => Reply::Version(*v),
        (other, form) => {
            tracing::error!(answer = ?other, ?form, "internal error: answer does not fit the reply form");
            return Err(Errno::IO);
        }
    };
    reply.encode(out).map_err(|_| Errno::NOBUFS)
}
