//! The bench's errors and connections: every side is measured with the one 9P2000.L
//! client, `p9-client` (blocking, one request in flight per connection, replies decoded in
//! place).

use std::fmt;
use std::time::Duration;

use p9_client::{Addr, Client, ClientError, Stream};
use p9_wire::VERSION_9P2000_L;

/// Any failure of the bench: I/O, protocol, or an Rlerror from the server (its errno).
#[derive(Debug)]
pub struct BenchError(pub String, pub Option<u32>);

impl BenchError {
    /// A failure that leaves the connection unusable (I/O, framing, protocol).
    pub fn msg(s: impl Into<String>) -> Self {
        BenchError(s.into(), None)
    }
    /// The errno of an Rlerror (the connection is still in step).
    pub fn errno(&self) -> Option<u32> {
        self.1
    }
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BenchError {}

impl From<std::io::Error> for BenchError {
    fn from(e: std::io::Error) -> Self {
        BenchError::msg(format!("i/o: {e}"))
    }
}

impl From<ClientError> for BenchError {
    fn from(e: ClientError) -> Self {
        let errno = e.errno().map(|e| e.raw_os_error().unsigned_abs());
        BenchError(e.to_string(), errno)
    }
}

/// Result of the bench.
pub type Result<T> = std::result::Result<T, BenchError>;

/// One client connection.
pub type Conn = Client<Stream>;

/// How long a reply may take before the bench gives up on that side.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// The root fid every connection attaches.
pub const ROOT_FID: u32 = 1;

/// Connects, negotiates 9P2000.L with `want_msize` offered, attaches `aname` as root.
pub fn open(addr: &Addr, want_msize: u32, aname: &[u8]) -> Result<Conn> {
    let s = Stream::connect(addr).map_err(|e| BenchError::msg(format!("connect {addr}: {e}")))?;
    s.set_read_timeout(Some(REPLY_TIMEOUT))?;
    let mut c = Client::new(s);
    let (msize, version) = c.version(want_msize)?;
    if version != VERSION_9P2000_L {
        return Err(BenchError::msg(format!(
            "server refused 9P2000.L (answered {:?})",
            String::from_utf8_lossy(&version)
        )));
    }
    if msize < 4096 || msize > want_msize {
        return Err(BenchError::msg(format!("server negotiated msize {msize}")));
    }
    c.attach_named(ROOT_FID, b"root", 0, aname)?;
    Ok(c)
}
