//! `cordon scan --format jsonl` through the binary on an output larger than the write
//! buffer: every record arrives whole, in order, ending with the summary, and the exposure
//! counts add up to the flows of concern in the input.

mod common;

use common::{json_lines, stdout_of};
use serde_json::Value;
use std::process::Command;

#[test]
fn jsonl_output_larger_than_the_buffer_is_complete() {
    let dir = std::env::temp_dir().join(format!("cordon-scan-jsonl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // 3,000 internal assets each with one flow to an Alibaba Cloud address (AS45102), and
    // 1,000 flows to a documentation address of no concern: 3,000 exposures, ~1 KB each.
    let mut log = String::from(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n\
         #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\n\
         #types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\n",
    );
    for i in 0..4000u32 {
        let resp = if i < 3000 { "47.88.1.2" } else { "192.0.2.1" };
        log.push_str(&format!(
            "{}.0\tC{i}\t10.1.{}.{}\t40000\t{resp}\t443\ttcp\tssl\t1.0\t100\t200\n",
            1_700_000_000 + i,
            i / 250,
            i % 250 + 1
        ));
    }
    let path = dir.join("conn.log");
    std::fs::write(&path, log).unwrap();

    let text = stdout_of(
        Command::new(env!("CARGO_BIN_EXE_cordon"))
            .args(["scan", "--format", "jsonl"])
            .arg(&path),
    );
    assert!(
        text.len() > 1 << 17,
        "output should exceed the write buffer, got {} bytes",
        text.len()
    );
    let records = json_lines(&text);
    let exposures: Vec<&Value> = records.iter().filter(|r| r["type"] == "exposure").collect();
    assert_eq!(exposures.len(), 3000);
    assert!(exposures
        .iter()
        .all(|e| e["group"] == "alibaba" && e["flows"] == 1));
    let last = records.last().unwrap();
    assert_eq!(last["type"], "summary");
    assert_eq!(last["records"], 4000);
    let _ = std::fs::remove_dir_all(&dir);
}
