//! The JSONL reader behind `cordon report` and `cordon diff` (`report::ScanData::parse`),
//! then the HTML, Markdown and CSV renderers, and a diff of the input against itself.
//!
//! Oracles: no panic; no markup from the input reaches the HTML: outside the report's own
//! closing `<script>` (its inline JS), the page has no `<script` and no `<img`, and the
//! page has exactly one `<script` in all.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let d = cordon::report::ScanData::parse("fuzz", s);
    let h = cordon::report::html::render(&d, "fuzz");
    let lower = h.to_ascii_lowercase();
    let own = lower.rfind("<script>").expect("the report's own script");
    let body = &lower[..own];
    assert!(!body.contains("<script"), "unescaped script tag");
    assert!(!body.contains("<img"), "unescaped img tag");
    assert!(!lower[own + 1..].contains("<script"), "a second script tag");
    let _ = cordon::report::text::markdown(&d, "fuzz");
    let _ = cordon::report::text::csv(&d);
});
