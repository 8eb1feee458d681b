//! Logging: stderr in the foreground, syslog (`/dev/log`, facility daemon) as a daemon,
//! as QEMU's helper does.

use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::sync::OnceLock;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

static READY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether [`init`] has run (before it, errors go to stderr directly).
pub fn ready() -> bool {
    READY.load(std::sync::atomic::Ordering::Relaxed)
}

/// Installs the global subscriber. `verbose` turns on per-failure debug lines.
pub fn init(daemon: bool, verbose: bool) {
    READY.store(true, std::sync::atomic::Ordering::Relaxed);
    let default = if verbose { "debug" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if daemon {
        // Connect now: after the chroot /dev/log is out of reach.
        let _ = SYSLOG.set(
            UnixDatagram::unbound()
                .and_then(|s| s.connect("/dev/log").map(|_| s))
                .ok(),
        );
        let _ = builder
            .without_time()
            .with_ansi(false)
            .with_writer(Syslog)
            .try_init();
    } else {
        let _ = builder.with_writer(LossyStderr).try_init();
    }
}

/// Standard error for log lines, losing a line it cannot write rather than failing: a
/// failed write makes `tracing-subscriber` report it with `eprintln!`, which panics when
/// stderr is gone (a closed pipe, a log reader that exited), so a daemon whose stderr
/// went away died on its next log line.
#[derive(Clone, Copy, Debug, Default)]
pub struct LossyStderr;

impl Write for LossyStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = io::stderr().write_all(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LossyStderr {
    type Writer = LossyStderr;
    fn make_writer(&'a self) -> Self::Writer {
        LossyStderr
    }
}

static SYSLOG: OnceLock<Option<UnixDatagram>> = OnceLock::new();

/// One datagram to `/dev/log` per log line.
#[derive(Clone, Copy)]
struct Syslog;

struct SyslogLine(Vec<u8>);

impl Write for SyslogLine {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine {
    fn drop(&mut self) {
        // <26> = facility daemon (3) * 8 + severity crit (2), like QEMU's LOG_CRIT.
        let line = String::from_utf8_lossy(&self.0);
        let msg = format!(
            "<26>virtfs-proxy-helper[{}]: {}",
            std::process::id(),
            line.trim_end()
        );
        if let Some(Some(sock)) = SYSLOG.get() {
            let _ = sock.send(msg.as_bytes());
        }
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogLine;
    fn make_writer(&'a self) -> Self::Writer {
        SyslogLine(Vec::new())
    }
}
