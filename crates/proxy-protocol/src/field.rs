//! The mapping from Rust field types to the proxy protocol's marshalling codes, so that
//! each message is declared once, field by field, and both directions follow from it:
//! `u32`/`i32` are `d`, `u64`/`i64` are `q`, `&[u8]` is `s`.

use crate::error::{DecodeError, EncodeError};
use crate::wire::{Reader, Writer};

/// A value with a proxy-protocol wire form.
pub trait Field<'a>: Sized + Copy {
    /// Reads one value.
    fn read(r: &mut Reader<'a>, what: &'static str) -> Result<Self, DecodeError>;
    /// Appends one value.
    fn write(self, w: &mut Writer<'_>) -> Result<(), EncodeError>;
}

impl<'a> Field<'a> for u32 {
    fn read(r: &mut Reader<'a>, what: &'static str) -> Result<Self, DecodeError> {
        r.u32(what)
    }
    fn write(self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u32(self);
        Ok(())
    }
}

impl<'a> Field<'a> for i32 {
    fn read(r: &mut Reader<'a>, what: &'static str) -> Result<Self, DecodeError> {
        r.i32(what)
    }
    fn write(self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.i32(self);
        Ok(())
    }
}

impl<'a> Field<'a> for u64 {
    fn read(r: &mut Reader<'a>, what: &'static str) -> Result<Self, DecodeError> {
        r.u64(what)
    }
    fn write(self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u64(self);
        Ok(())
    }
}

impl<'a> Field<'a> for i64 {
    fn read(r: &mut Reader<'a>, what: &'static str) -> Result<Self, DecodeError> {
        r.i64(what)
    }
    fn write(self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.i64(self);
        Ok(())
    }
}

impl<'a> Field<'a> for &'a [u8] {
    fn read(r: &mut Reader<'a>, what: &'static str) -> Result<Self, DecodeError> {
        r.string(what)
    }
    fn write(self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string(self).map(|_| ())
    }
}

/// Two `q`s (`f_fsid`'s halves); a decode error names the field.
impl<'a> Field<'a> for [u64; 2] {
    fn read(r: &mut Reader<'a>, what: &'static str) -> Result<Self, DecodeError> {
        Ok([r.u64(what)?, r.u64(what)?])
    }
    fn write(self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u64(self[0]).u64(self[1]);
        Ok(())
    }
}
