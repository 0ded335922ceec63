//! The files checked before a scan starts: the asset inventory (CSV, or JSON when it starts
//! with `[`), the policy TOML and the waiver TOML, all on the same text.
//!
//! Oracles: no panic; an error that names a line names one inside the file (the CLI prints
//! `file:line` and a reviewer opens that line).
#![no_main]

use cordon::error::FileError;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fn line_inside<T>(r: &Result<T, FileError>, text: &str, what: &str) {
    if let Err(e) = r {
        if let Some(l) = e.line {
            let lines = text.split('\n').count();
            assert!(
                (1..=lines).contains(&l),
                "{what}: line {l} of a {lines}-line file: {}",
                e.message
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let p = Path::new("fuzz");
    line_inside(&cordon::assets::Inventory::parse(p, s), s, "inventory");
    line_inside(&cordon::policy::Policy::parse(p, s), s, "policy");
    line_inside(&cordon::waivers::Waivers::parse(p, s), s, "waivers");
});
