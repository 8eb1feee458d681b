//! Any bytes as a whole proxy request: decoding never panics, and whatever decodes
//! re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proxy_protocol::decode_request;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = decode_request(data) {
        let mut out = Vec::new();
        req.encode(&mut out).expect("a decoded request re-encodes");
        assert_eq!(out, data, "decode then encode is the identity");
        let _ = req.reply_form();
    }
});
