//! Little-endian wire primitives: a bounds-checked read cursor over a
//! borrowed frame and an appending writer.

use crate::error::WireError;
use crate::qid::Qid;

/// A bounds-checked cursor over a borrowed byte slice.
///
/// Every read checks the remaining length first and fails with
/// [`WireError::Truncated`] instead of panicking. Strings and data are
/// returned as sub-slices of the input (zero-copy).
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` within the whole frame, for error messages.
    base: usize,
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self::with_base(buf, 0)
    }

    /// A cursor at the start of `buf`, reporting offsets in errors as if
    /// `buf` started at `base` within a larger frame.
    pub fn with_base(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Current position relative to the start of the slice.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The unconsumed bytes, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Consumes exactly `n` bytes.
    #[inline]
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let rest = self.rest();
        if n > rest.len() {
            return Err(WireError::Truncated {
                offset: self.base + self.pos,
                needed: n,
                remaining: rest.len(),
            });
        }
        self.pos += n;
        Ok(&rest[..n])
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let rest = self.rest();
        match rest.first_chunk::<N>() {
            Some(a) => {
                self.pos += N;
                Ok(*a)
            }
            None => Err(WireError::Truncated {
                offset: self.base + self.pos,
                needed: N,
                remaining: rest.len(),
            }),
        }
    }

    /// Reads a `u8`.
    #[inline]
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a little-endian `u16`.
    #[inline]
    pub fn u16(&mut self) -> Result<u16, WireError> {
        self.array().map(u16::from_le_bytes)
    }

    /// Reads a little-endian `u32`.
    #[inline]
    pub fn u32(&mut self) -> Result<u32, WireError> {
        self.array().map(u32::from_le_bytes)
    }

    /// Reads a little-endian `u64`.
    #[inline]
    pub fn u64(&mut self) -> Result<u64, WireError> {
        self.array().map(u64::from_le_bytes)
    }

    /// Reads a 9P string: `len[2] bytes[len]`, borrowed.
    #[inline]
    pub fn string(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.u16()?;
        self.bytes(usize::from(n))
    }

    /// Reads counted data: `count[4] bytes[count]`, borrowed.
    #[inline]
    pub fn data(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.u32()?;
        // On 16-bit targets a u32 may not fit in usize; saturate so the
        // bounds check fails cleanly.
        self.bytes(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// Reads a 13-byte qid.
    #[inline]
    pub fn qid(&mut self) -> Result<Qid, WireError> {
        Ok(Qid {
            ty: self.u8()?,
            version: self.u32()?,
            path: self.u64()?,
        })
    }
}

/// Appends little-endian primitives to a `Vec<u8>`.
#[derive(Debug)]
pub struct Writer<'b> {
    buf: &'b mut Vec<u8>,
}

impl<'b> Writer<'b> {
    /// A writer appending to `buf`.
    pub fn new(buf: &'b mut Vec<u8>) -> Self {
        Writer { buf }
    }

    /// Current length of the underlying buffer.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether the underlying buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Appends a `u8`.
    #[inline]
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// Appends a little-endian `u16`.
    #[inline]
    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends a little-endian `u32`.
    #[inline]
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends a little-endian `u64`.
    #[inline]
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends raw bytes with no length prefix.
    #[inline]
    pub fn raw(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    /// Appends a 9P string (`len[2] bytes`); fails if longer than `u16::MAX`.
    #[inline]
    pub fn string(&mut self, s: &[u8]) -> Result<(), WireError> {
        let n = u16::try_from(s.len()).map_err(|_| WireError::StringTooLong { len: s.len() })?;
        self.u16(n);
        self.raw(s);
        Ok(())
    }

    /// Appends counted data (`count[4] bytes`); fails if longer than `u32::MAX`.
    #[inline]
    pub fn data(&mut self, d: &[u8]) -> Result<(), WireError> {
        let n = u32::try_from(d.len()).map_err(|_| WireError::FrameTooLarge {
            size: d.len(),
            msize: u32::MAX,
        })?;
        self.u32(n);
        self.raw(d);
        Ok(())
    }

    /// Appends a 13-byte qid.
    #[inline]
    pub fn qid(&mut self, q: &Qid) {
        self.u8(q.ty);
        self.u32(q.version);
        self.u64(q.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_reads_little_endian() {
        let b = [1u8, 0x34, 0x12, 0x78, 0x56, 0x34, 0x12, 2, 0, b'h', b'i'];
        let mut r = Reader::new(&b);
        assert_eq!(r.u8().unwrap(), 1);
        assert_eq!(r.u16().unwrap(), 0x1234);
        assert_eq!(r.u32().unwrap(), 0x1234_5678);
        assert_eq!(r.string().unwrap(), b"hi");
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn reader_truncation_is_an_error() {
        let b = [5u8, 0, b'a'];
        let mut r = Reader::with_base(&b, 7);
        assert_eq!(
            r.string(),
            Err(WireError::Truncated {
                offset: 9,
                needed: 5,
                remaining: 1
            })
        );
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(r.data(), Err(WireError::Truncated { .. })));
        assert!(Reader::new(&[1, 2, 3]).u64().is_err());
    }

    #[test]
    fn writer_rejects_long_strings() {
        let mut v = Vec::new();
        let mut w = Writer::new(&mut v);
        let long = vec![0u8; 65536];
        assert_eq!(
            w.string(&long),
            Err(WireError::StringTooLong { len: 65536 })
        );
        assert!(w.string(&long[..65535]).is_ok());
        assert_eq!(v.len(), 65537);
    }
}
