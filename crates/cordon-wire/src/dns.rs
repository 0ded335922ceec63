//! DNS messages (RFC 1035) as cordon needs them: the question and the A, AAAA and CNAME
//! answers, in order.
//!
//! [`parse_message`] is pure: it borrows one message (without the TCP length prefix) and
//! returns owned names. **Names are decompressed with a cap on pointer jumps (a loop is
//! reported as [`AnomalyKind::Loop`]), on length ([`MAX_DNS_NAME`]) and on the records kept
//! ([`MAX_DNS_ANSWERS`], [`MAX_CNAME_CHAIN`]); nothing is allocated from a count the message
//! claims.** Names come out lowercase, without the trailing dot; bytes outside printable ASCII
//! and dots inside a label are escaped as `\DDD`.

use crate::obs::AnomalyKind;
use crate::packet::Error;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest name in presentation form, in bytes.
pub const MAX_DNS_NAME: usize = 255;
/// Most compression pointers followed within one name: more is treated as a loop.
pub const MAX_DNS_POINTERS: usize = 32;
/// Most answer records kept from one message.
pub const MAX_DNS_ANSWERS: usize = 64;
/// Most CNAME records kept from one message (a chain longer than this is cut).
pub const MAX_CNAME_CHAIN: usize = 16;
/// Most questions read from one message (real messages carry one).
pub const MAX_DNS_QUESTIONS: usize = 4;

/// DNS resource record type (IANA registry; open).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct DnsType(pub u16);

impl DnsType {
    pub const A: DnsType = DnsType(1);
    pub const NS: DnsType = DnsType(2);
    pub const CNAME: DnsType = DnsType(5);
    pub const SOA: DnsType = DnsType(6);
    pub const PTR: DnsType = DnsType(12);
    pub const MX: DnsType = DnsType(15);
    pub const TXT: DnsType = DnsType(16);
    pub const AAAA: DnsType = DnsType(28);
    pub const SRV: DnsType = DnsType(33);
    pub const OPT: DnsType = DnsType(41);
    pub const HTTPS: DnsType = DnsType(65);
}

/// One question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub name: String,
    pub qtype: DnsType,
}

/// Record data cordon keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RData {
    Addr(IpAddr),
    Cname(String),
}

/// One kept answer record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub ttl: u32,
    pub data: RData,
}

/// The parts of a message cordon uses.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Message {
    pub id: u16,
    /// QR bit: a response.
    pub response: bool,
    pub rcode: u8,
    pub questions: Vec<Question>,
    /// A, AAAA and CNAME answers in message order (capped).
    pub answers: Vec<Record>,
    /// Answer records skipped because of the caps.
    pub dropped: u16,
}

/// Parses one DNS message. Authority and additional sections are not read.
pub fn parse_message(m: &[u8]) -> Result<Message, Error> {
    if m.len() < 12 {
        return Err(Error::truncated("dns header shorter than 12 bytes"));
    }
    let be16 = |i: usize| u16::from_be_bytes([m[i], m[i + 1]]);
    let mut msg = Message {
        id: be16(0),
        response: m[2] & 0x80 != 0,
        rcode: m[3] & 0x0f,
        ..Message::default()
    };
    let qd = be16(4);
    let an = be16(6);
    let mut at = 12usize;
    for i in 0..qd {
        let mut name = String::new();
        let keep = usize::from(i) < MAX_DNS_QUESTIONS;
        at = read_name(m, at, keep.then_some(&mut name))?;
        let q = m
            .get(at..at + 4)
            .ok_or(Error::truncated("dns question truncated"))?;
        if keep {
            msg.questions.push(Question {
                name,
                qtype: DnsType(u16::from_be_bytes([q[0], q[1]])),
            });
        }
        at += 4;
    }
    let mut cnames = 0usize;
    for _ in 0..an {
        let owner_at = at;
        at = read_name(m, at, None)?;
        let h = m
            .get(at..at + 10)
            .ok_or(Error::truncated("dns answer truncated"))?;
        let rtype = DnsType(u16::from_be_bytes([h[0], h[1]]));
        let ttl = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        let rdlen = usize::from(u16::from_be_bytes([h[8], h[9]]));
        let rd_at = at + 10;
        let rd = m
            .get(rd_at..rd_at + rdlen)
            .ok_or(Error::truncated("dns rdata truncated"))?;
        at = rd_at + rdlen;
        let data = match rtype {
            DnsType::A if rdlen == 4 => {
                RData::Addr(IpAddr::V4(Ipv4Addr::new(rd[0], rd[1], rd[2], rd[3])))
            }
            DnsType::AAAA if rdlen == 16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(rd);
                RData::Addr(IpAddr::V6(Ipv6Addr::from(a)))
            }
            DnsType::A | DnsType::AAAA => {
                return Err(Error::malformed("dns address rdata of wrong length"))
            }
            DnsType::CNAME => {
                if cnames >= MAX_CNAME_CHAIN || msg.answers.len() >= MAX_DNS_ANSWERS {
                    msg.dropped = msg.dropped.saturating_add(1);
                    continue;
                }
                let mut target = String::new();
                let end = read_name(m, rd_at, Some(&mut target))?;
                if end > at {
                    return Err(Error::malformed("dns cname runs past its rdata"));
                }
                cnames += 1;
                RData::Cname(target)
            }
            _ => continue,
        };
        if msg.answers.len() >= MAX_DNS_ANSWERS {
            msg.dropped = msg.dropped.saturating_add(1);
            continue;
        }
        let mut name = String::new();
        read_name(m, owner_at, Some(&mut name))?;
        msg.answers.push(Record { name, ttl, data });
    }
    Ok(msg)
}

/// Reads the (possibly compressed) name at `at`, appending its presentation form to `out`
/// when given; returns the offset just after the name's first occurrence.
fn read_name(m: &[u8], mut at: usize, mut out: Option<&mut String>) -> Result<usize, Error> {
    let mut end = None;
    let mut jumps = 0usize;
    let mut len = 0usize;
    loop {
        let b = *m.get(at).ok_or(Error::truncated("dns name truncated"))?;
        match b & 0xc0 {
            0x00 => {
                if b == 0 {
                    return Ok(end.unwrap_or(at + 1));
                }
                let l = usize::from(b);
                let label = m
                    .get(at + 1..at + 1 + l)
                    .ok_or(Error::truncated("dns label truncated"))?;
                len += l + 1;
                if len > MAX_DNS_NAME + 1 {
                    return Err(Error::limit("dns name longer than MAX_DNS_NAME"));
                }
                if let Some(o) = out.as_deref_mut() {
                    if !o.is_empty() {
                        o.push('.');
                    }
                    for &c in label {
                        match c {
                            b'A'..=b'Z' => o.push((c + 32) as char),
                            0x21..=0x7e if c != b'.' && c != b'\\' => o.push(c as char),
                            _ => {
                                o.push('\\');
                                o.push((b'0' + c / 100) as char);
                                o.push((b'0' + c / 10 % 10) as char);
                                o.push((b'0' + c % 10) as char);
                            }
                        }
                    }
                }
                at += 1 + l;
            }
            0xc0 => {
                let lo = *m
                    .get(at + 1)
                    .ok_or(Error::truncated("dns pointer truncated"))?;
                let target = usize::from(b & 0x3f) << 8 | usize::from(lo);
                if end.is_none() {
                    end = Some(at + 2);
                }
                jumps += 1;
                if jumps > MAX_DNS_POINTERS {
                    return Err(Error {
                        kind: AnomalyKind::Loop,
                        detail: "dns compression pointer loop",
                    });
                }
                if target >= m.len() {
                    return Err(Error::malformed("dns pointer beyond the message"));
                }
                at = target;
            }
            _ => return Err(Error::malformed("dns label type reserved")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(qd: u16, an: u16) -> Vec<u8> {
        let mut v = vec![0x12, 0x34, 0x81, 0x80];
        v.extend_from_slice(&qd.to_be_bytes());
        v.extend_from_slice(&an.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 0]);
        v
    }

    fn name(v: &mut Vec<u8>, n: &str) {
        for l in n.split('.') {
            v.push(l.len() as u8);
            v.extend_from_slice(l.as_bytes());
        }
        v.push(0);
    }

    /// www.Example.COM. A? -> CNAME web.example.com -> A 192.0.2.1, with compression.
    fn cname_response() -> Vec<u8> {
        let mut v = header(1, 2);
        name(&mut v, "www.Example.COM");
        v.extend_from_slice(&[0, 1, 0, 1]);
        // Answer 1: owner = pointer to 12, CNAME web + pointer to "example.com" at 16.
        v.extend_from_slice(&[
            0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, b'w', b'e', b'b', 0xc0, 16,
        ]);
        let web_at = (v.len() - 6) as u8;
        v.extend_from_slice(&[0xc0, web_at, 0, 1, 0, 1, 0, 0, 1, 0, 0, 4, 192, 0, 2, 1]);
        v
    }

    /// Expected questions and (owner, data) answers, or the anomaly kind.
    type Expect = Result<(Vec<&'static str>, Vec<(&'static str, &'static str)>), AnomalyKind>;

    #[test]
    fn cases() {
        struct Case {
            what: &'static str,
            input: Vec<u8>,
            want: Expect,
        }
        let mut loop_msg = header(1, 0);
        loop_msg.extend_from_slice(&[0xc0, 12]);
        let mut two_loop = header(1, 0);
        two_loop.extend_from_slice(&[1, b'a', 0xc0, 14, 0xc0, 12]);
        let mut long = header(1, 0);
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'x'; 63]);
        }
        long.push(0);
        let mut huge = header(0xffff, 0xffff);
        huge.extend_from_slice(&[0, 0, 1, 0, 1]);
        let mut beyond = header(1, 0);
        beyond.extend_from_slice(&[0xc0, 0xff]);
        let mut trunc_rdata = cname_response();
        trunc_rdata.truncate(trunc_rdata.len() - 2);
        let mut bad_a = header(0, 1);
        bad_a.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 3, 1, 2, 3]);
        let mut odd = header(1, 0);
        odd.extend_from_slice(&[2, b'a', 0x07, 0]);
        odd.extend_from_slice(&[0, 1, 0, 1]);
        let cases = vec![
            Case {
                what: "cname chain with compression",
                input: cname_response(),
                want: Ok((
                    vec!["www.example.com"],
                    vec![
                        ("www.example.com", "web.example.com"),
                        ("web.example.com", "192.0.2.1"),
                    ],
                )),
            },
            Case {
                what: "short header",
                input: vec![0; 11],
                want: Err(AnomalyKind::Truncated),
            },
            Case {
                what: "self pointer",
                input: loop_msg,
                want: Err(AnomalyKind::Loop),
            },
            Case {
                what: "two-step loop",
                input: two_loop,
                want: Err(AnomalyKind::Loop),
            },
            Case {
                what: "name over 255",
                input: long,
                want: Err(AnomalyKind::Limit),
            },
            Case {
                what: "huge counts",
                input: huge,
                want: Err(AnomalyKind::Truncated),
            },
            Case {
                what: "pointer beyond",
                input: beyond,
                want: Err(AnomalyKind::Malformed),
            },
            Case {
                what: "rdata cut",
                input: trunc_rdata,
                want: Err(AnomalyKind::Truncated),
            },
            Case {
                what: "a record of 3 bytes",
                input: bad_a,
                want: Err(AnomalyKind::Malformed),
            },
            Case {
                what: "control byte escaped",
                input: odd,
                want: Ok((vec!["a\\007"], vec![])),
            },
        ];
        for c in cases {
            let got = parse_message(&c.input);
            match (&got, &c.want) {
                (Ok(m), Ok((qs, ans))) => {
                    let gq: Vec<&str> = m.questions.iter().map(|q| q.name.as_str()).collect();
                    assert_eq!(&gq, qs, "{}", c.what);
                    let ga: Vec<(String, String)> = m
                        .answers
                        .iter()
                        .map(|r| {
                            let d = match &r.data {
                                RData::Addr(a) => a.to_string(),
                                RData::Cname(n) => n.clone(),
                            };
                            (r.name.clone(), d)
                        })
                        .collect();
                    let wa: Vec<(String, String)> = ans
                        .iter()
                        .map(|(a, b)| (a.to_string(), b.to_string()))
                        .collect();
                    assert_eq!(ga, wa, "{}", c.what);
                    assert!(m.response, "{}", c.what);
                }
                (Err(e), Err(k)) => assert_eq!(e.kind, *k, "{}: {e}", c.what),
                _ => panic!("{}: got {got:?}", c.what),
            }
        }
    }

    #[test]
    fn cname_cap_counts_drops() {
        let mut v = header(0, (MAX_CNAME_CHAIN + 3) as u16);
        for _ in 0..MAX_CNAME_CHAIN + 3 {
            v.extend_from_slice(&[1, b'a', 0, 0, 5, 0, 1, 0, 0, 0, 1, 0, 3, 1, b'b', 0]);
        }
        let m = parse_message(&v).unwrap();
        assert_eq!(m.answers.len(), MAX_CNAME_CHAIN);
        assert_eq!(m.dropped, 3);
    }
}
