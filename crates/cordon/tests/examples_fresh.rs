//! The example telemetry committed under `examples/` is exactly what the generator
//! (`crates/cordon/examples/make_examples.rs`) writes today: regenerate into a temporary
//! folder and compare byte for byte, so the two never drift apart.

#[allow(dead_code)]
#[path = "../examples/make_examples.rs"]
mod make_examples;

use std::path::{Path, PathBuf};

fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn committed_examples_match_the_generator() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let fresh = std::env::temp_dir().join(format!("cordon-examples-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&fresh);
    make_examples::write_all(&fresh).unwrap();
    let generated = files(&fresh);
    assert!(generated.len() >= 6, "{generated:?}");
    let mut total = 0;
    for rel in &generated {
        let want = std::fs::read(fresh.join(rel)).unwrap();
        let have = std::fs::read(committed.join(rel)).unwrap_or_else(|e| {
            panic!(
                "examples/{}: {e} (run `cargo run -p cordon --example make_examples -- examples`)",
                rel.display()
            )
        });
        assert!(
            want == have,
            "examples/{} differs from the generator's output: regenerate it",
            rel.display()
        );
        total += have.len();
    }
    // Nothing in examples/ that the generator does not write, but the README and the
    // hand-written daemon set-up in serve/ (configuration, systemd unit, container).
    let extra: Vec<_> = files(&committed)
        .into_iter()
        .filter(|p| {
            !generated.contains(p) && p != Path::new("README.md") && !p.starts_with("serve")
        })
        .collect();
    assert!(
        extra.is_empty(),
        "files in examples/ the generator does not write: {extra:?}"
    );
    assert!(
        total < 200_000,
        "examples are {total} bytes: keep them small"
    );
    let _ = std::fs::remove_dir_all(&fresh);
}
