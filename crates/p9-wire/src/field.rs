//! The field types a message is made of, and how each is read, written and shown.
//!
//! [`crate::messages`] declares every message once as a list of typed fields; the codec
//! and the field visitor ([`crate::Tmessage::visit_fields`]) are generated from that list
//! through [`Field`]. A field's [`Form`] refines its type where the type alone does not
//! say it: counted `data[4]` instead of a `string[2]`, or a number best read in octal.

use crate::error::WireError;
use crate::messages::WalkVec;
use crate::qid::Qid;
use crate::wire::{Reader, Writer};

/// How a field is encoded (for byte strings) and shown (for numbers), as declared with
/// its message (`mode: u32 as Oct`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Byte strings as `string[2]`, numbers in decimal.
    Plain,
    /// A byte string as counted `data[4]` (file data, directory entries), shown by size.
    Data,
    /// A number shown in octal (modes, open flags).
    Oct,
    /// A number shown in hexadecimal (bit masks).
    Hex,
    /// A number shown as signed (ids where `-1` means "none").
    Signed,
    /// A Linux errno.
    Errno,
}

/// A field's value, borrowed, as handed to a visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'m> {
    /// `[1]`.
    U8(u8),
    /// `[2]`.
    U16(u16),
    /// `[4]`.
    U32(u32),
    /// `[8]`.
    U64(u64),
    /// `string[2]`.
    Str(&'m [u8]),
    /// Counted `data[4]`.
    Data(&'m [u8]),
    /// `qid[13]`.
    Qid(Qid),
    /// `nwname[2] nwname*(wname[s])`.
    Names(&'m [&'m [u8]]),
    /// `nwqid[2] nwqid*(qid[13])`.
    Qids(&'m [Qid]),
}

/// A type a message field can have: its wire encoding, in one place.
pub trait Field<'a>: Sized {
    /// Reads the field; never panics, fails on truncation or a bound.
    fn read(r: &mut Reader<'a>, form: Form) -> Result<Self, WireError>;
    /// Appends the field.
    fn write(&self, w: &mut Writer<'_>, form: Form) -> Result<(), WireError>;
    /// The field's value for a visitor.
    fn value(&self, form: Form) -> Value<'_>;
}

macro_rules! number_fields {
    ($($t:ident => $v:ident),*) => {$(
        impl Field<'_> for $t {
            #[inline(always)]
            fn read(r: &mut Reader<'_>, _: Form) -> Result<Self, WireError> {
                r.$t()
            }
            #[inline(always)]
            fn write(&self, w: &mut Writer<'_>, _: Form) -> Result<(), WireError> {
                w.$t(*self);
                Ok(())
            }
            fn value(&self, _: Form) -> Value<'_> {
                Value::$v(*self)
            }
        }
    )*};
}

number_fields!(u8 => U8, u16 => U16, u32 => U32, u64 => U64);

impl<'a> Field<'a> for &'a [u8] {
    #[inline(always)]
    fn read(r: &mut Reader<'a>, form: Form) -> Result<Self, WireError> {
        match form {
            Form::Data => r.data(),
            _ => r.string(),
        }
    }
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>, form: Form) -> Result<(), WireError> {
        match form {
            Form::Data => w.data(self),
            _ => w.string(self),
        }
    }
    fn value(&self, form: Form) -> Value<'_> {
        match form {
            Form::Data => Value::Data(self),
            _ => Value::Str(self),
        }
    }
}

impl Field<'_> for Qid {
    #[inline(always)]
    fn read(r: &mut Reader<'_>, _: Form) -> Result<Self, WireError> {
        r.qid()
    }
    #[inline(always)]
    fn write(&self, w: &mut Writer<'_>, _: Form) -> Result<(), WireError> {
        w.qid(self);
        Ok(())
    }
    fn value(&self, _: Form) -> Value<'_> {
        Value::Qid(*self)
    }
}

/// A walk list: `n[2]` then `n` elements, `n` at most 16 (checked before any element
/// is read).
macro_rules! walk_fields {
    ($($item:ty => $value:ident),*) => {$(
        impl<'a> Field<'a> for WalkVec<$item> {
            #[inline(always)]
            fn read(r: &mut Reader<'a>, _: Form) -> Result<Self, WireError> {
                let n = usize::from(r.u16()?);
                if n > crate::constants::MAXWELEM {
                    return Err(WireError::TooManyWalkElements { count: n });
                }
                let mut v = WalkVec::new();
                for _ in 0..n {
                    v.push(Field::read(r, Form::Plain)?)?;
                }
                Ok(v)
            }
            #[inline(always)]
            fn write(&self, w: &mut Writer<'_>, _: Form) -> Result<(), WireError> {
                // At most 16 by construction of WalkVec.
                w.u16(self.len() as u16);
                for item in self.iter() {
                    item.write(w, Form::Plain)?;
                }
                Ok(())
            }
            fn value(&self, _: Form) -> Value<'_> {
                Value::$value(self.as_slice())
            }
        }
    )*};
}

walk_fields!(&'a [u8] => Names, Qid => Qids);
