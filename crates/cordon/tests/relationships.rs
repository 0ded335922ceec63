//! The relationship vocabulary is one: `cordon_index::Relationship`. The curated intel files
//! admit exactly [`Relationship::FOOTPRINT`] for AS and domain rows (what `intel build`
//! checks), and a policy rule exactly [`Relationship::JUDGED`]; every other spelling is
//! refused with the file and line.

use cordon::intel::build;
use cordon::policy::Policy;
use cordon_index::Relationship;
use std::fs;
use std::path::{Path, PathBuf};

/// The repository's curated files (not `derived/`) in a fresh folder, with `asn.csv`'s first
/// row given `relationship`.
fn curated_with_asn_relationship(rel: &str) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../intel");
    let dir = std::env::temp_dir().join(format!("cordon-rel-{}-{rel}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    for e in fs::read_dir(&repo).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    let asn = fs::read_to_string(dir.join("asn.csv")).unwrap();
    let mut lines: Vec<String> = asn.lines().map(str::to_string).collect();
    let mut cols: Vec<&str> = lines[1].split(',').collect();
    cols[3] = rel;
    lines[1] = cols.join(",");
    fs::write(dir.join("asn.csv"), lines.join("\n") + "\n").unwrap();
    dir
}

#[test]
fn intel_build_admits_the_footprint_relationships() {
    for rel in Relationship::ALL {
        let dir = curated_with_asn_relationship(rel.as_str());
        let got = build::validate(&dir);
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            got.is_ok(),
            Relationship::FOOTPRINT.contains(&rel),
            "{rel}: {:?}",
            got.err().map(|e| e.to_string())
        );
    }
    let dir = curated_with_asn_relationship("hosted");
    let e = build::validate(&dir).unwrap_err().to_string();
    fs::remove_dir_all(&dir).unwrap();
    assert!(e.contains("asn.csv:2: relationship \"hosted\""), "{e}");
}

#[test]
fn policy_rules_admit_the_judged_relationships() {
    for rel in Relationship::ALL {
        let text =
            format!("[[rule]]\nid = \"x\"\nseverity = \"low\"\nrelationship = [\"{rel}\"]\n");
        let got = Policy::parse(Path::new("p.toml"), &text);
        assert_eq!(
            got.is_ok(),
            Relationship::JUDGED.contains(&rel),
            "{rel}: {:?}",
            got.err().map(|e| e.to_string())
        );
    }
}
