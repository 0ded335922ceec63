//! Runs the intel build from the command line until `cordon intel build` is wired:
//! `cargo run -p cordon --example intel_build -- INTEL_DIR ASN_V4 ASN_V6 IEEE_DIR`.

#[allow(dead_code)]
#[path = "../src/intel/mod.rs"]
mod intel;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [intel_dir, asn_v4_csv, asn_v6_csv, ieee_dir] = args.as_slice() else {
        eprintln!("usage: intel_build INTEL_DIR ASN_V4_CSV ASN_V6_CSV IEEE_DIR");
        return ExitCode::from(2);
    };
    let inputs = intel::build::BuildInputs {
        intel_dir: intel_dir.clone(),
        asn_v4_csv: asn_v4_csv.clone(),
        asn_v6_csv: asn_v6_csv.clone(),
        ieee_dir: ieee_dir.clone(),
    };
    match intel::build::build(&inputs) {
        Ok(report) => {
            for (file, rows) in report.curated_rows.iter().chain(&report.derived_rows) {
                println!("{file}: {rows} rows");
            }
            for warning in &report.warnings {
                eprintln!("warning: {warning}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
