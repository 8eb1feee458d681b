//! A pure, no-I/O codec for the 9P2000.L protocol as the Linux kernel's v9fs
//! client speaks it.
//!
//! * Frames are `size[4] type[1] tag[2] body`, little-endian; strings are
//!   `len[2] bytes` and are handled as byte slices (file names are bytes).
//! * [`decode_tmessage`] / [`decode_rmessage`] take one complete frame and
//!   return borrowed messages ([`Tmessage`], [`Rmessage`]) pointing into it;
//!   decoding never panics, never allocates, and rejects anything malformed.
//! * [`encode()`] appends a complete frame for any message to a `Vec<u8>`,
//!   enforcing the negotiated msize.
//! * Each message is declared once, in [`messages`]: numbers, names, structs,
//!   codec and the field visitor all come from that table.
//! * [`begin_rread`]/[`finish_rread`], [`begin_rreaddir`]/[`finish_rreaddir`]
//!   and [`begin_twrite`]/[`finish_twrite`] let payloads be produced directly
//!   in the output buffer; [`DirEntryWriter`] packs directory entries under
//!   a byte budget and [`dir_entries`] unpacks them.
//!
//! ```
//! use p9_wire::*;
//!
//! // Client: Tversion.
//! let mut buf = Vec::new();
//! let t = Tmessage::Version(Tversion { msize: 8192, version: VERSION_9P2000_L });
//! encode(NOTAG, &t, &mut buf, u32::MAX).unwrap();
//!
//! // Server: decode, answer.
//! let (tag, msg) = decode_tmessage(&buf).unwrap();
//! let Tmessage::Version(v) = msg else { unreachable!() };
//! let reply = Rmessage::Version(Rversion {
//!     msize: v.msize.min(65536),
//!     version: negotiate_version(v.version),
//! });
//! let mut out = Vec::new();
//! encode(tag, &reply, &mut out, v.msize).unwrap();
//! assert_eq!(decode_rmessage(&out).unwrap(), (NOTAG, reply));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[macro_use]
mod declare;

pub mod constants;
pub mod decode;
pub mod dirent;
pub mod encode;
pub mod error;
pub mod field;
pub mod flags;
pub mod fuzz;
pub mod messages;
pub mod payload;
pub mod qid;
pub mod wire;

pub use constants::*;
pub use decode::{decode_rmessage, decode_tmessage, peek_header, Header};
pub use dirent::*;
pub use encode::{encode, Encode};
pub use error::WireError;
pub use field::{Field, Form, Value};
pub use flags::*;
pub use fuzz::fuzz_decode;
pub use messages::*;
pub use payload::*;
pub use qid::*;
pub use wire::{Reader, Writer};
