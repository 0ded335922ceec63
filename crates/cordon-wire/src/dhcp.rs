//! DHCPv4 messages (RFC 2131/2132): the client's hardware address, its address, host name
//! (option 12) and vendor class (option 60).
//!
//! [`parse`] is pure and borrows the UDP payload. **Options are walked with each length
//! checked against the bytes left; strings are at most 255 bytes (an option's length byte),
//! so nothing is sized by anything larger than that.**

use crate::obs::Mac;
use crate::packet::Error;
use std::net::Ipv4Addr;

/// The BOOTP fixed header plus the magic cookie.
pub const DHCP_FIXED_LEN: usize = 240;
/// Most options walked in one message (the option area is otherwise unbounded).
pub const MAX_DHCP_OPTIONS: usize = 256;

/// DHCP option code (IANA; open).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct DhcpOption(pub u8);

impl DhcpOption {
    pub const PAD: DhcpOption = DhcpOption(0);
    pub const HOST_NAME: DhcpOption = DhcpOption(12);
    pub const REQUESTED_ADDRESS: DhcpOption = DhcpOption(50);
    pub const MESSAGE_TYPE: DhcpOption = DhcpOption(53);
    pub const VENDOR_CLASS: DhcpOption = DhcpOption(60);
    pub const END: DhcpOption = DhcpOption(255);
}

/// What cordon reads from one DHCP message.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Message {
    /// 1 = BOOTREQUEST (from a client), 2 = BOOTREPLY.
    pub op: u8,
    /// chaddr, when htype is Ethernet (1) and hlen is 6.
    pub chaddr: Option<Mac>,
    pub ciaddr: Option<Ipv4Addr>,
    pub yiaddr: Option<Ipv4Addr>,
    pub requested: Option<Ipv4Addr>,
    pub message_type: Option<u8>,
    pub host_name: Option<String>,
    pub vendor_class: Option<String>,
}

impl Message {
    /// The client's address: yiaddr, else ciaddr, else the requested address (option 50).
    pub fn client_ip(&self) -> Option<Ipv4Addr> {
        self.yiaddr.or(self.ciaddr).or(self.requested)
    }
}

fn nonzero(b: &[u8]) -> Option<Ipv4Addr> {
    let a = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
    (!a.is_unspecified()).then_some(a)
}

/// Option text: trailing NULs dropped, control bytes and non-UTF-8 replaced.
fn text(b: &[u8]) -> Option<String> {
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    let s: String = String::from_utf8_lossy(&b[..end])
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    (!s.is_empty()).then_some(s)
}

/// Parses one DHCPv4 message (a UDP payload).
pub fn parse(b: &[u8]) -> Result<Message, Error> {
    if b.len() < DHCP_FIXED_LEN {
        return Err(Error::truncated("dhcp message shorter than 240 bytes"));
    }
    if b[236..240] != [99, 130, 83, 99] {
        return Err(Error::malformed("dhcp magic cookie missing"));
    }
    let op = b[0];
    if op != 1 && op != 2 {
        return Err(Error::malformed("dhcp op is neither request nor reply"));
    }
    let mut m = Message {
        op,
        ciaddr: nonzero(&b[12..16]),
        yiaddr: nonzero(&b[16..20]),
        ..Message::default()
    };
    if b[1] == 1 && b[2] == 6 {
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&b[28..34]);
        m.chaddr = Some(Mac(mac));
    }
    let mut at = DHCP_FIXED_LEN;
    for _ in 0..MAX_DHCP_OPTIONS {
        let Some(&code) = b.get(at) else {
            // Options may end without END when the packet is padded exactly.
            return Ok(m);
        };
        let code = DhcpOption(code);
        if code == DhcpOption::PAD {
            at += 1;
            continue;
        }
        if code == DhcpOption::END {
            return Ok(m);
        }
        let len = usize::from(
            *b.get(at + 1)
                .ok_or(Error::truncated("dhcp option truncated"))?,
        );
        let v = b
            .get(at + 2..at + 2 + len)
            .ok_or(Error::truncated("dhcp option truncated"))?;
        match code {
            DhcpOption::HOST_NAME => m.host_name = text(v),
            DhcpOption::VENDOR_CLASS => m.vendor_class = text(v),
            DhcpOption::MESSAGE_TYPE if len == 1 => m.message_type = Some(v[0]),
            DhcpOption::REQUESTED_ADDRESS if len == 4 => m.requested = nonzero(v),
            _ => {}
        }
        at += 2 + len;
    }
    Err(Error::limit("more dhcp options than MAX_DHCP_OPTIONS"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obs::AnomalyKind;

    pub(crate) fn message(htype: u8, hlen: u8, yiaddr: [u8; 4], opts: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; 240];
        v[0] = 1;
        v[1] = htype;
        v[2] = hlen;
        v[16..20].copy_from_slice(&yiaddr);
        v[28..34].copy_from_slice(&[0x28, 0xcf, 0xda, 1, 2, 3]);
        v[236..240].copy_from_slice(&[99, 130, 83, 99]);
        v.extend_from_slice(opts);
        v
    }

    #[test]
    fn cases() {
        let opts = [
            53, 1, 3, 12, 4, b'h', b'o', b's', b't', 60, 8, b'M', b'S', b'F', b'T', b' ', b'5',
            b'.', b'0', 50, 4, 10, 0, 0, 9, 0, 255,
        ];
        let m = parse(&message(1, 6, [0; 4], &opts)).unwrap();
        assert_eq!(m.chaddr, Some(Mac([0x28, 0xcf, 0xda, 1, 2, 3])));
        assert_eq!(m.host_name.as_deref(), Some("host"));
        assert_eq!(m.vendor_class.as_deref(), Some("MSFT 5.0"));
        assert_eq!(m.client_ip(), Some(Ipv4Addr::new(10, 0, 0, 9)));
        assert_eq!(m.message_type, Some(3));

        let m = parse(&message(0, 6, [192, 0, 2, 7], &[12, 3, b'R', b'0', 0, 255])).unwrap();
        assert_eq!(m.chaddr, None, "hardware type 0 has no usable chaddr");
        assert_eq!(m.host_name.as_deref(), Some("R0"));
        assert_eq!(m.client_ip(), Some(Ipv4Addr::new(192, 0, 2, 7)));

        let bad: &[(Vec<u8>, AnomalyKind)] = &[
            (vec![0; 100], AnomalyKind::Truncated),
            (
                message(1, 6, [0; 4], &[12, 200, b'x']),
                AnomalyKind::Truncated,
            ),
            (message(1, 6, [0; 4], &[12]), AnomalyKind::Truncated),
            (
                message(1, 6, [0; 4], &[1, 0].repeat(MAX_DHCP_OPTIONS + 1)),
                AnomalyKind::Limit,
            ),
            (
                {
                    let mut v = message(1, 6, [0; 4], &[255]);
                    v[236] = 0;
                    v
                },
                AnomalyKind::Malformed,
            ),
        ];
        for (input, kind) in bad {
            assert_eq!(parse(input).map_err(|e| e.kind), Err(*kind), "{input:?}");
        }
    }
}
