//! cordon as a library: the command modules behind the `cordon` binary, exposed so that
//! integration tests and benchmarks can drive them. The binary (`main.rs`) is glue.

pub mod assets;
pub mod attribute;
pub mod cli;
pub mod date;
pub mod error;
pub mod explain;
pub mod findings;
pub mod indicators;
pub mod intel;
pub mod intel_cmd;
pub mod judge;
pub mod metrics;
pub mod model;
pub mod output;
pub mod policy;
pub mod report;
pub mod report_cmd;
pub mod scan;
#[cfg(feature = "serve")]
pub mod serve;
pub mod snapshot;
pub mod waivers;

/// How a command ended, when it did not fail outright.
pub enum Outcome {
    Ok,
    /// Findings at or above the threshold.
    Findings,
    /// Some input was unusable (reported already); exit 2.
    Usage,
}
