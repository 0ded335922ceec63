//! Test-only helpers shared by the flow-export tests: a minimal pcap reader that yields the
//! UDP payloads of export traffic, and a reader for nfdump's CSV answer key.
//!
//! The capture decoders proper live in `capture.rs` (another owner); this reader only knows
//! what the export corpora need: classic pcap (both byte orders, µs or ns), Ethernet with
//! VLAN tags, Linux cooked (SLL) and raw IP, IPv4/IPv6, UDP.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One UDP datagram found in a capture.
pub struct Datagram {
    pub src: IpAddr,
    pub dst_port: u16,
    /// Byte offset of the UDP payload within the pcap file.
    pub offset: u64,
    pub payload: Vec<u8>,
}

fn u16be(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

/// The UDP payloads of a classic pcap file, in capture order.
pub fn udp_payloads(file: &[u8]) -> Vec<Datagram> {
    assert!(file.len() >= 24, "pcap shorter than its header");
    let le = match &file[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        m => panic!("not a classic pcap: magic {m:02x?}"),
    };
    let u32at = |i: usize| {
        let a = [file[i], file[i + 1], file[i + 2], file[i + 3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let link = u32at(20);
    let mut out = Vec::new();
    let mut pos = 24;
    while pos + 16 <= file.len() {
        let caplen = u32at(pos + 8) as usize;
        let start = pos + 16;
        let end = (start + caplen).min(file.len());
        let frame = &file[start..end];
        pos = start + caplen;
        let ip_at = match link {
            1 => {
                if frame.len() < 14 {
                    continue;
                }
                let mut ty = u16be(frame, 12);
                let mut at = 14;
                while (ty == 0x8100 || ty == 0x88a8) && frame.len() >= at + 4 {
                    ty = u16be(frame, at + 2);
                    at += 4;
                }
                if ty != 0x0800 && ty != 0x86dd {
                    continue;
                }
                at
            }
            113 => 16,
            276 => 20,
            101 | 12 | 14 => 0,
            other => panic!("link type {other} not handled by the test reader"),
        };
        let Some(ip) = frame.get(ip_at..) else {
            continue;
        };
        let Some(&v) = ip.first() else { continue };
        let (src, proto, l4) = match v >> 4 {
            4 if ip.len() >= 20 => {
                let ihl = (ip[0] & 0x0f) as usize * 4;
                let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
                (IpAddr::V4(src), ip[9], ihl)
            }
            6 if ip.len() >= 40 => {
                let a: [u8; 16] = ip[8..24].try_into().unwrap();
                (IpAddr::V6(Ipv6Addr::from(a)), ip[6], 40)
            }
            _ => continue,
        };
        if proto != 17 || ip.len() < l4 + 8 {
            continue;
        }
        let udp_len = u16be(ip, l4 + 4) as usize;
        let pl_end = (l4 + udp_len.max(8)).min(ip.len());
        let payload = ip[l4 + 8..pl_end].to_vec();
        out.push(Datagram {
            src,
            dst_port: u16be(ip, l4 + 2),
            offset: (start + ip_at + l4 + 8) as u64,
            payload,
        });
    }
    out
}

/// One flow row of nfdump's CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct NfRow {
    pub sa: IpAddr,
    pub da: IpAddr,
    pub sp: u16,
    pub dp: u16,
    /// Protocol as nfdump prints it (`TCP`, `UDP`, `ICMP`, `ICMP6`, or a number).
    pub pr: String,
    pub ibyt: u64,
    pub ipkt: u64,
}

/// nfdump's verdict for one replay group: flow rows and the summary totals.
#[derive(Debug, Clone)]
pub struct NfKey {
    pub rows: Vec<NfRow>,
    pub flows: u64,
    pub bytes: u64,
    pub packets: u64,
}

/// Parses `nfdump -o csv` output (header, rows, `Summary`, totals header, totals).
pub fn nfdump_csv(text: &str) -> NfKey {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("csv header").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (sa, da, sp, dp, ibyt, ipkt) = (
        col("sa"),
        col("da"),
        col("sp"),
        col("dp"),
        col("ibyt"),
        col("ipkt"),
    );
    let pr = col("pr");
    let mut rows = Vec::new();
    for line in lines.by_ref() {
        if line == "Summary" {
            break;
        }
        if line == "No matching flows" {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        rows.push(NfRow {
            sa: v4_compatible(f[sa].trim().parse().expect("sa")),
            da: v4_compatible(f[da].trim().parse().expect("da")),
            pr: f[pr].trim().to_string(),
            sp: f[sp].trim().parse().expect("sp"),
            dp: f[dp].trim().parse().expect("dp"),
            ibyt: f[ibyt].trim().parse().expect("ibyt"),
            ipkt: f[ipkt].trim().parse().expect("ipkt"),
        });
    }
    let _ = lines.next();
    let totals: Vec<u64> = lines
        .next()
        .expect("totals line")
        .split(',')
        .map(|x| x.trim().parse().expect("total"))
        .collect();
    NfKey {
        rows,
        flows: totals[0],
        bytes: totals[1],
        packets: totals[2],
    }
}

/// nfdump prints the IPv4 addresses of a record whose template also has IPv6 fields as
/// IPv4-compatible IPv6 (`::8abb:3a0d`); cordon reports them as IPv4.
fn v4_compatible(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6)
            if v6.segments()[..6] == [0; 6] && !v6.is_unspecified() && !v6.is_loopback() =>
        {
            let o = v6.octets();
            IpAddr::V4(Ipv4Addr::new(o[12], o[13], o[14], o[15]))
        }
        a => a,
    }
}
