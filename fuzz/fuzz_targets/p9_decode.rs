//! Any bytes as a 9P2000.L frame, T or R: decoding never panics, and whatever decodes
//! re-encodes to the same bytes and decodes to the same message (`p9_wire::fuzz_decode`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    p9_wire::fuzz_decode(data);
});
