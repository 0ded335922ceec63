//! Input format detection from content, never from file names.
//!
//! [`detect`] looks at the first few KB of (already decompressed) content: capture magics,
//! flow-export headers, Zeek's `#separator` line, the keys of the first JSON object, the
//! words of an AWS flow log header, or a CSV header naming address columns.
//! [`compression`] recognises gzip and zstd by their magic.
//!
//! **Guarantees: pure, never panics, reads at most [`HEAD_LEN`] bytes of its input.**

/// How much of the input [`detect`] looks at.
pub const HEAD_LEN: usize = 8192;

/// An input format cordon can decode (or `Unknown`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Pcap,
    Pcapng,
    NetflowDatagrams,
    Sflow,
    ZeekTsv,
    ZeekJson,
    SuricataEve,
    AwsVpcFlow,
    AwsVpcFlowCloudWatch,
    Route53,
    Csv,
    Ndjson,
    Unknown,
}

impl Format {
    /// Stable name, as used in reports and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::Pcapng => "pcapng",
            Format::NetflowDatagrams => "netflow-datagrams",
            Format::Sflow => "sflow",
            Format::ZeekTsv => "zeek-tsv",
            Format::ZeekJson => "zeek-json",
            Format::SuricataEve => "suricata-eve",
            Format::AwsVpcFlow => "aws-vpc-flow",
            Format::AwsVpcFlowCloudWatch => "aws-vpc-flow-cloudwatch",
            Format::Route53 => "route53-resolver",
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
            Format::Unknown => "unknown",
        }
    }
}

/// A compression wrapper.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    Gzip,
    Zstd,
}

/// Recognises gzip (`1f 8b`) and zstd (`28 b5 2f fd`) by their magic.
pub fn compression(head: &[u8]) -> Option<Compression> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(Compression::Gzip)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Compression::Zstd)
    } else {
        None
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// NetFlow v5 (count 1..=30 and length 24 + 48·count, or a whole number of records), v9 (count < 1000, sane uptime) or IPFIX
/// (length ≥ 16 and not beyond a datagram) header at the start.
fn looks_like_netflow(b: &[u8]) -> bool {
    match be16(b, 0) {
        Some(5) => {
            let Some(count) = be16(b, 2) else {
                return false;
            };
            // A datagram with a corrupt count is still a v5 datagram (to be reported as
            // such by the decoder) when its length is a whole number of records.
            ((1..=30).contains(&count) && b.len() >= 24 + 48 * count as usize)
                || (b.len() >= 72 && b.len() <= 24 + 48 * 30 && b.len() % 48 == 24)
        }
        Some(9) => {
            let (Some(count), Some(fs_id)) = (be16(b, 2), be16(b, 20)) else {
                return false;
            };
            // The first flowset id is a template (0), options template (1) or data (≥ 256).
            count < 1000 && (fs_id <= 1 || fs_id >= 256)
        }
        Some(10) => {
            let (Some(len), Some(set_id)) = (be16(b, 2), be16(b, 16)) else {
                return false;
            };
            len >= 16 && (set_id == 2 || set_id == 3 || set_id >= 256)
        }
        _ => false,
    }
}

/// sFlow v5: version 5, agent address type 1 (IPv4) or 2 (IPv6).
fn looks_like_sflow(b: &[u8]) -> bool {
    be32(b, 0) == Some(5) && matches!(be32(b, 4), Some(1) | Some(2))
}

fn first_line(b: &[u8]) -> &[u8] {
    let end = memchr::memchr(b'\n', b).unwrap_or(b.len());
    let line = &b[..end];
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// Classifies a JSON object line by its keys.
fn json_format(line: &[u8]) -> Format {
    let has = |k: &str| contains(line, format!("\"{k}\"").as_bytes());
    if has("event_type") {
        Format::SuricataEve
    } else if has("query_name") && (has("resolver_ip") || has("srcaddr") || has("query_type")) {
        Format::Route53
    } else if has("logEvents") || (has("message") && !has("id.orig_h")) {
        Format::AwsVpcFlowCloudWatch
    } else if has("id.orig_h") || has("_path") || (has("uid") && has("ts")) {
        Format::ZeekJson
    } else {
        Format::Ndjson
    }
}

/// Guesses the format of `head`, the first bytes of the content.
pub fn detect(head: &[u8]) -> Format {
    let b = &head[..head.len().min(HEAD_LEN)];
    if let Some(magic) = be32(b, 0) {
        match magic {
            0xa1b2c3d4 | 0xd4c3b2a1 | 0xa1b23c4d | 0x4d3cb2a1 => return Format::Pcap,
            0x0a0d0d0a => return Format::Pcapng,
            _ => {}
        }
    }
    if looks_like_netflow(b) {
        return Format::NetflowDatagrams;
    }
    if looks_like_sflow(b) {
        return Format::Sflow;
    }
    // Text formats: skip a byte-order mark and leading blank space.
    let mut t = b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b);
    while let [c, rest @ ..] = t {
        if c.is_ascii_whitespace() {
            t = rest;
        } else {
            break;
        }
    }
    if t.starts_with(b"#separator") || (t.starts_with(b"#") && contains(t, b"\n#separator")) {
        return Format::ZeekTsv;
    }
    let line = first_line(t);
    if line.starts_with(b"{") {
        return json_format(line);
    }
    let words: Vec<&[u8]> = line
        .split(|c| *c == b' ')
        .filter(|w| !w.is_empty())
        .collect();
    let vpc_words = [
        &b"srcaddr"[..],
        b"dstaddr",
        b"log-status",
        b"interface-id",
        b"account-id",
    ];
    if words.len() >= 3 && words.iter().filter(|w| vpc_words.contains(w)).count() >= 2 {
        return Format::AwsVpcFlow;
    }
    // A header-less default-format VPC record: "2 <account> eni-... <src> <dst> ... OK".
    if words.len() >= 14
        && words[0].iter().all(u8::is_ascii_digit)
        && (words[2].starts_with(b"eni-") || words[1].starts_with(b"eni-"))
    {
        return Format::AwsVpcFlow;
    }
    if is_csv_header(line) {
        return Format::Csv;
    }
    Format::Unknown
}

/// A CSV header naming both a source and a destination address column.
fn is_csv_header(line: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(line) else {
        return false;
    };
    let delim = [',', '\t', ';', '|']
        .into_iter()
        .max_by_key(|d| s.matches(*d).count())
        .unwrap_or(',');
    let names: Vec<String> = s
        .split(delim)
        .map(|n| n.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let any = |set: &[&str]| names.iter().any(|n| set.contains(&n.as_str()));
    names.len() >= 2
        && any(&[
            "src",
            "source",
            "src_ip",
            "srcip",
            "src_addr",
            "srcaddr",
            "saddr",
            "source_ip",
            "sa",
            "ipv4_src_addr",
        ])
        && any(&[
            "dst",
            "dest",
            "destination",
            "dst_ip",
            "dest_ip",
            "dstip",
            "dst_addr",
            "dstaddr",
            "daddr",
            "destination_ip",
            "da",
            "ipv4_dst_addr",
        ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_inputs() {
        let cases: &[(&[u8], Format)] = &[
            (b"", Format::Unknown),
            (b"\xd4\xc3\xb2\xa1\x02\x00", Format::Pcap),
            (b"\x0a\x0d\x0d\x0a", Format::Pcapng),
            (b"#separator \\x09\n#set_separator\t,\n", Format::ZeekTsv),
            (
                b"{\"timestamp\":\"x\",\"event_type\":\"flow\"}\n",
                Format::SuricataEve,
            ),
            (
                b"{\"ts\":1.0,\"uid\":\"C1\",\"id.orig_h\":\"1.2.3.4\"}\n",
                Format::ZeekJson,
            ),
            (
                b"{\"query_name\":\"a.\",\"srcaddr\":\"1.2.3.4\"}",
                Format::Route53,
            ),
            (b"{\"logEvents\":[]}", Format::AwsVpcFlowCloudWatch),
            (b"{\"src\":\"1.2.3.4\",\"dst\":\"5.6.7.8\"}", Format::Ndjson),
            (
                b"version account-id interface-id srcaddr dstaddr\n",
                Format::AwsVpcFlow,
            ),
            (b"ts,src_ip,dst_ip,bytes\n1,2,3,4\n", Format::Csv),
            (b"time;Source;Destination\n", Format::Csv),
            (b"hello world\n", Format::Unknown),
            (b"Phony unsupported log format.", Format::Unknown),
        ];
        for (input, want) in cases {
            assert_eq!(detect(input), *want, "{:?}", String::from_utf8_lossy(input));
        }
        assert_eq!(compression(b"\x1f\x8b\x08"), Some(Compression::Gzip));
        assert_eq!(compression(b"\x28\xb5\x2f\xfd"), Some(Compression::Zstd));
        assert_eq!(compression(b"\x28\xb5"), None);
    }
}
