//! A self-checking entry point for fuzzers.

use crate::decode::{decode_rmessage, decode_tmessage};
use crate::dirent::dir_entries;
use crate::encode::encode;
use crate::messages::Rmessage;

/// Decodes `data` as a request and as a reply; every successful decode is
/// re-encoded and must reproduce `data` byte for byte and decode to an equal
/// message. Rreaddir data that parses as entries must re-encode identically.
///
/// Panics if any of these properties fails, so a fuzzer (or a property
/// test) can call it on arbitrary input; it never panics otherwise.
pub fn fuzz_decode(data: &[u8]) {
    let mut buf = Vec::new();
    if let Ok((tag, msg)) = decode_tmessage(data) {
        let n = encode(tag, &msg, &mut buf, u32::MAX).expect("re-encode request");
        assert_eq!(n, buf.len());
        assert_eq!(buf, data, "request encoding is not canonical");
        let (tag2, msg2) = decode_tmessage(&buf).expect("re-decode request");
        assert_eq!((tag2, msg2), (tag, msg));
    }
    buf.clear();
    if let Ok((tag, msg)) = decode_rmessage(data) {
        encode(tag, &msg, &mut buf, u32::MAX).expect("re-encode reply");
        assert_eq!(buf, data, "reply encoding is not canonical");
        let (tag2, msg2) = decode_rmessage(&buf).expect("re-decode reply");
        assert_eq!((tag2, msg2), (tag, msg));
        if let Rmessage::Readdir(rd) = msg {
            let mut out = Vec::new();
            let mut ok = true;
            for e in dir_entries(rd.data) {
                match e {
                    Ok(e) => e.encode(&mut out).expect("re-encode entry"),
                    Err(_) => ok = false,
                }
            }
            if ok {
                assert_eq!(out, rd.data, "dirent encoding is not canonical");
            }
        }
    }
}
