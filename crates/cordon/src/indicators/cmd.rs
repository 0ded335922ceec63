//! `cordon indicators check`: load indicator files and print the load report.

use super::load;
use crate::cli::{Format, IndicatorsCommand};
use crate::Outcome;
use std::io::Write;

pub fn run(c: &IndicatorsCommand) -> anyhow::Result<Outcome> {
    match c {
        IndicatorsCommand::Check { files, format } => {
            let (set, report) = load(files);
            let mut out = std::io::stdout().lock();
            match format {
                Format::Text => {
                    write!(out, "{report}")?;
                    writeln!(
                        out,
                        "index: {} indicators, {} bytes",
                        set.len(),
                        set.memory_bytes()
                    )?;
                }
                Format::Json => {
                    serde_json::to_writer(&mut out, &report)?;
                    writeln!(out)?;
                }
            }
            Ok(if report.has_errors() {
                Outcome::Usage
            } else {
                Outcome::Ok
            })
        }
    }
}
