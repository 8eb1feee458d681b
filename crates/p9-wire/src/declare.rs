//! The `messages!` macro: from one declaration per message (its number, name and typed
//! fields) it generates the type-number constants, the message structs, the
//! [`crate::Tmessage`]/[`crate::Rmessage`] enums, their type numbers and names, the
//! decoder, the encoder and the field visitor. The table itself is in
//! [`crate::messages`].

/// The [`crate::field::Form`] of a field: `Plain` unless declared (`mode: u32 as Oct`).
macro_rules! form {
    () => {
        $crate::field::Form::Plain
    };
    ($form:ident) => {
        $crate::field::Form::$form
    };
}

macro_rules! messages {
    (
        requests $(#[$tdoc:meta])* { $($trows:tt)* }
        replies $(#[$rdoc:meta])* { $($rrows:tt)* }
        empty replies { $($runits:tt)* }
        not decoded { $( $(#[$ldoc:meta])* $lconst:ident = $lnum:literal, $lname:ident; )* }
    ) => {
        messages!(@enum $(#[$tdoc])* Tmessage { $($trows)* } {});
        messages!(@enum $(#[$rdoc])* Rmessage { $($rrows)* } { $($runits)* });

        $( $(#[$ldoc])* pub const $lconst: u8 = $lnum; )*

        /// Human-readable name of a message type number (`Twalk`), for logging.
        pub fn msg_type_name(ty: u8) -> Option<&'static str> {
            Tmessage::name_of(ty).or_else(|| Rmessage::name_of(ty)).or(match ty {
                $( $lconst => Some(stringify!($lname)), )*
                _ => None,
            })
        }
    };

    (@enum $(#[$edoc:meta])* $enum:ident {
        $(
            $(#[$doc:meta])*
            $op:ident = $const:ident $num:literal, $name:ident $(<$lt:lifetime>)? {
                $( $(#[$fdoc:meta])* $field:ident : $fty:ty $(as $form:ident)? ),* $(,)?
            }
        )*
    } {
        $( $uop:ident = $uconst:ident $unum:literal, $uname:ident; )*
    }) => {
        $( #[doc = concat!(stringify!($name), ".")] pub const $const: u8 = $num; )*
        $( #[doc = concat!(stringify!($uname), " (empty body).")] pub const $uconst: u8 = $unum; )*

        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub struct $name $(<$lt>)? {
                $( $(#[$fdoc])* pub $field: $fty, )*
            }
        )*

        $(#[$edoc])*
        ///
        /// The walk variant stores up to 16 elements inline so decoding never
        /// touches the heap; that makes the enum a few hundred bytes, which is
        /// deliberate.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $enum<'a> {
            $(
                #[doc = concat!(stringify!($name), " (", stringify!($num), ").")]
                $op($name $(<$lt>)?),
            )*
            $(
                #[doc = concat!(stringify!($uname), " (", stringify!($unum), ").")]
                $uop,
            )*
        }

        impl<'a> $enum<'a> {
            /// Every type number, in declaration order.
            pub const TYPES: &'static [u8] = &[$($const,)* $($uconst,)*];
            /// Every name (`Twalk`), in declaration order.
            pub const NAMES: &'static [&'static str] =
                &[$(stringify!($name),)* $(stringify!($uname),)*];

            /// The message type number.
            pub fn msg_type(&self) -> u8 {
                match self {
                    $( $enum::$op(_) => $const, )*
                    $( $enum::$uop => $uconst, )*
                }
            }

            /// The message's name (`Twalk`).
            pub fn name(&self) -> &'static str {
                match self {
                    $( $enum::$op(_) => stringify!($name), )*
                    $( $enum::$uop => stringify!($uname), )*
                }
            }

            fn name_of(ty: u8) -> Option<&'static str> {
                match ty {
                    $( $const => Some(stringify!($name)), )*
                    $( $uconst => Some(stringify!($uname)), )*
                    _ => None,
                }
            }

            /// Calls `f` with each field's name, form and value, in wire order.
            pub fn visit_fields(&self, f: &mut dyn FnMut(&'static str, $crate::field::Form, $crate::field::Value<'_>)) {
                match self {
                    $( $enum::$op(m) => {
                        $({
                            let form = form!($($form)?);
                            f(stringify!($field), form, $crate::field::Field::value(&m.$field, form));
                        })*
                    } )*
                    $( $enum::$uop => {} )*
                }
            }

            /// Decodes the body of a message of type `ty` (`tag` is for the error).
            #[inline]
            pub(crate) fn decode_body(
                ty: u8,
                tag: u16,
                r: &mut $crate::wire::Reader<'a>,
            ) -> Result<Self, $crate::error::WireError> {
                Ok(match ty {
                    $( $const => $enum::$op($name {
                        $( $field: $crate::field::Field::read(r, form!($($form)?))?, )*
                    }), )*
                    $( $uconst => $enum::$uop, )*
                    ty => return Err($crate::error::WireError::UnknownType { ty, tag }),
                })
            }
        }

        impl $crate::encode::sealed::EncodeBody for $enum<'_> {
            fn msg_type(&self) -> u8 {
                $enum::msg_type(self)
            }

            #[inline]
            fn encode_body(
                &self,
                w: &mut $crate::wire::Writer<'_>,
            ) -> Result<(), $crate::error::WireError> {
                match self {
                    $( $enum::$op(m) => {
                        $( $crate::field::Field::write(&m.$field, w, form!($($form)?))?; )*
                    } )*
                    $( $enum::$uop => {} )*
                }
                Ok(())
            }
        }
    };
}
