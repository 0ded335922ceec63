//! Runs the intel build's unit tests until `main.rs` declares `mod intel` (the binary owner
//! wires `cordon intel build`); then this file can go.

#[allow(dead_code)]
#[path = "../src/intel/mod.rs"]
mod intel;
