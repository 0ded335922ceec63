//! Format detection from content (`cordon_wire::detect::{detect, compression}`).
//!
//! Oracles: no panic; `detect` reads at most `HEAD_LEN` bytes (its documented guarantee), so
//! the input cut there, or with bytes appended past it, is judged the same; `compression`
//! looks only at the magic.
#![no_main]

use cordon_wire::detect::{compression, detect, HEAD_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let f = detect(data);
    if data.len() > HEAD_LEN {
        assert_eq!(detect(&data[..HEAD_LEN]), f, "cut at HEAD_LEN");
    } else {
        let mut longer = data.to_vec();
        longer.resize(HEAD_LEN, b'\n');
        longer.extend_from_slice(b"{\"x\":1}\n\xff\x00");
        assert_eq!(detect(&longer[..data.len()]), f);
        // Only a full head sees past the input: padding may change the answer, but the
        // padded head decides, never the bytes after it.
        let head = detect(&longer[..HEAD_LEN]);
        assert_eq!(
            detect(&longer),
            head,
            "bytes after HEAD_LEN changed the format"
        );
    }
    let c = compression(data);
    assert_eq!(compression(&data[..data.len().min(4)]), c);
});
