//! Any bytes as a reply of any form: decoding never panics, and whatever decodes
//! re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proxy_protocol::{DataKind, FdWord, Header, Reply, ReplyForm, HEADER_SIZE};

const FORMS: [ReplyForm; 6] = [
    ReplyForm::Fd,
    ReplyForm::Status,
    ReplyForm::Data(DataKind::Stat),
    ReplyForm::Data(DataKind::StatFs),
    ReplyForm::Data(DataKind::Bytes),
    ReplyForm::Data(DataKind::Version),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, msg)) = data.split_first() else { return };
    let form = FORMS[selector as usize % FORMS.len()];
    if form == ReplyForm::Fd {
        if let Some(word) = msg.get(..4) {
            if let Ok(w) = FdWord::decode(word.try_into().unwrap()) {
                assert_eq!(&w.encode()[..], word);
            }
        }
        return;
    }
    let Some(head) = msg.get(..HEADER_SIZE) else { return };
    let header = Header::decode(head.try_into().unwrap());
    let Ok(len) = header.body_len() else { return };
    let Some(body) = msg[HEADER_SIZE..].get(..len) else { return };
    if let Ok(reply) = Reply::decode(form, header, body) {
        let mut out = Vec::new();
        reply.encode(&mut out).expect("a decoded reply re-encodes");
        assert_eq!(&out[HEADER_SIZE..], body);
    }
});
