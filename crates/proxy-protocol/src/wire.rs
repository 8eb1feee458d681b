//! Marshalling primitives of the proxy protocol: `d` (32-bit), `q` (64-bit) and `s`
//! (u16 length + bytes, no NUL), all in HOST byte order, as QEMU's
//! `v9fs_marshal(..., bswap = 0, ...)` writes them.

use crate::error::{DecodeError, EncodeError};

/// A bounded reader over one message body. Every read checks the remaining length.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Reads from `buf`, starting at its first byte.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let rest = &self.buf[self.pos..];
        if rest.len() < n {
            return Err(DecodeError::Truncated {
                what,
                offset: self.pos,
            });
        }
        self.pos += n;
        Ok(&rest[..n])
    }

    /// A `d` field as an unsigned value.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A `d` field as a signed value (QEMU marshals C `int`s).
    pub fn i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        self.u32(what).map(|v| v as i32)
    }

    /// A `q` field.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_ne_bytes(a))
    }

    /// A `q` field as a signed value.
    pub fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        self.u64(what).map(|v| v as i64)
    }

    /// An `s` field, borrowed from the message.
    pub fn string(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let b = self.take(2, what)?;
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        self.take(len, what)
    }

    /// Fails unless every byte has been consumed.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                count: self.buf.len() - self.pos,
            })
        }
    }
}

/// An appending writer; the caller checks the final size against the protocol maximum.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    /// Appends to `buf`.
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        Writer { buf }
    }

    /// Appends a `d` field.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_ne_bytes());
        self
    }

    /// Appends a signed `d` field.
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.u32(v as u32)
    }

    /// Appends a `q` field.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_ne_bytes());
        self
    }

    /// Appends a signed `q` field.
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.u64(v as u64)
    }

    /// Appends an `s` field; fails if it is longer than a u16 length can say.
    pub fn string(&mut self, s: &[u8]) -> Result<&mut Self, EncodeError> {
        let len =
            u16::try_from(s.len()).map_err(|_| EncodeError::StringTooLong { len: s.len() })?;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(s);
        Ok(self)
    }
}
