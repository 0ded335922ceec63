//! Counters: what every stage took in, passed on, dropped or found malformed, named here
//! once.
//!
//! Each worker keeps plain `u64`s and the run merges them ([`Counters::merge`] is a sum, so
//! the order does not matter); the scan's `summary` record carries the totals
//! (`docs/wire-format.md`), and the daemon will export the same names as metrics
//! ([`Counters::iter`] gives name, help and value, in a fixed order).

use serde::{Deserialize, Serialize};

/// Declares the counters once: the struct, its merge and its listing.
macro_rules! counters {
    ($($(#[doc = $doc:literal])+ $name:ident,)+) => {
        /// The counters of one run (or one worker, or one daemon window).
        #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct Counters {
            $($(#[doc = $doc])+ pub $name: u64,)+
        }

        impl Counters {
            /// Adds `other`'s counts to these.
            pub fn merge(&mut self, other: &Counters) {
                $(self.$name = self.$name.saturating_add(other.$name);)+
            }

            /// Every counter as (name, help, value), in declaration order.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'static str, u64)> + '_ {
                [$((stringify!($name), concat!($($doc),+), self.$name),)+].into_iter()
            }
        }
    };
}

counters! {
    /// Files the walk listed (each once, by device and inode).
    inputs,
    /// Inputs in no format cordon reads.
    inputs_unknown,
    /// Inputs that could not be read in full: unreadable, damaged, cut by a cap, or
    /// truncated while they were scanned.
    inputs_damaged,
    /// Records decoded: lines, packets, flow records.
    records,
    /// Malformed or refused records, all kinds (each also an anomaly of its input).
    anomalies,
    /// Flows seen.
    flows,
    /// Flows only counted: no MAC, and nothing (name, indicator, AS of concern) could
    /// attribute or match either end.
    flows_counted_only,
    /// Flows attributed, in batches.
    flows_attributed,
    /// Flows of name-carrying logs too many to hold, read again in a second pass.
    flows_second_pass,
    /// Names from telemetry refused because they cannot be host names.
    names_invalid,
    /// DNS answers of no concern not kept once the name budget was spent.
    dns_answers_dropped,
    /// Exposures aggregated.
    exposures,
    /// Devices seen.
    devices,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_and_iter_lists_every_counter_once() {
        let mut a = Counters {
            flows: 3,
            flows_counted_only: 2,
            ..Default::default()
        };
        let b = Counters {
            flows: 4,
            names_invalid: 1,
            records: u64::MAX,
            ..Default::default()
        };
        a.merge(&b);
        a.merge(&b);
        assert_eq!((a.flows, a.flows_counted_only, a.names_invalid), (11, 2, 2));
        assert_eq!(a.records, u64::MAX, "saturates");
        let names: Vec<&str> = a.iter().map(|(n, _, _)| n).collect();
        assert_eq!(names.len(), 13);
        assert_eq!(names[0], "inputs");
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        assert!(a.iter().all(|(_, help, _)| !help.is_empty()));
        // The JSON keys are the names, so the summary and /metrics agree.
        let json = serde_json::to_value(&a).unwrap();
        for (name, _, v) in a.iter() {
            assert_eq!(json[name], v);
        }
    }
}
