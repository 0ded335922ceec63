//! MAC address prefix match over the IEEE registry's block sizes.
//!
//! The IEEE assigns MA-L (24-bit), MA-M (28-bit) and MA-S (36-bit) blocks; a lookup tries the
//! longest first. **Locally administered (randomised) and group (multicast) addresses carry
//! no maker and are never matched**: [`MacTable::lookup`] says which of these it was.

use foldhash::HashMap;

/// The registry block sizes, longest first.
pub const PREFIX_BITS: [u8; 3] = [36, 28, 24];

/// What a MAC lookup found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MacMatch {
    /// A registered block: its size in bits and the value stored for it.
    Block { bits: u8, value: u32 },
    /// Locally administered address (the U/L bit is set): randomised or assigned locally.
    Local,
    /// Group address (the I/G bit is set): multicast or broadcast.
    Multicast,
    /// A universally administered unicast address in no known block.
    Unknown,
}

#[derive(Default)]
pub struct MacTable {
    blocks: HashMap<u64, u32>,
}

fn key(mac: u64, bits: u8) -> u64 {
    (mac >> (48 - bits as u32)) | (bits as u64) << 48
}

/// The 48-bit MAC as an integer.
pub fn mac_to_u64(mac: [u8; 6]) -> u64 {
    mac.iter().fold(0u64, |a, &b| a << 8 | b as u64)
}

/// Parses a registry prefix in hex (6, 7 or 9 digits for MA-L, MA-M, MA-S; separators
/// allowed) into `(prefix bits as a 48-bit-aligned integer, bits)`.
pub fn parse_prefix(s: &str) -> Option<(u64, u8)> {
    let (mut v, mut n) = (0u64, 0u32);
    for c in s.bytes() {
        if matches!(c, b':' | b'-' | b'.') {
            continue;
        }
        let d = (c as char).to_digit(16)?;
        n += 1;
        if n > 9 {
            return None;
        }
        v = v << 4 | d as u64;
    }
    let bits: u8 = match n {
        6 => 24,
        7 => 28,
        9 => 36,
        _ => return None,
    };
    Some((v << (48 - bits as u32), bits))
}

impl MacTable {
    /// Room for `additional` more blocks without rehashing.
    pub fn reserve(&mut self, additional: usize) {
        self.blocks.reserve(additional);
    }

    /// Adds a block (`prefix` as returned by [`parse_prefix`]). A later insert of the same
    /// block replaces the earlier one.
    pub fn insert(&mut self, prefix: u64, bits: u8, value: u32) {
        self.blocks.insert(key(prefix, bits), value);
    }

    pub fn lookup(&self, mac: [u8; 6]) -> MacMatch {
        if mac[0] & 0x01 != 0 {
            return MacMatch::Multicast;
        }
        if mac[0] & 0x02 != 0 {
            return MacMatch::Local;
        }
        let m = mac_to_u64(mac);
        for bits in PREFIX_BITS {
            if let Some(&value) = self.blocks.get(&key(m, bits)) {
                return MacMatch::Block { bits, value };
            }
        }
        MacMatch::Unknown
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_block_wins_and_local_is_never_matched() {
        let mut t = MacTable::default();
        let (p, b) = parse_prefix("001122").unwrap();
        t.insert(p, b, 1);
        let (p, b) = parse_prefix("0011223").unwrap();
        t.insert(p, b, 2);
        let (p, b) = parse_prefix("00:11:22:33:4").unwrap();
        t.insert(p, b, 3);
        let cases = [
            (
                [0x00, 0x11, 0x22, 0x33, 0x45, 0x66],
                MacMatch::Block { bits: 36, value: 3 },
            ),
            (
                [0x00, 0x11, 0x22, 0x33, 0x55, 0x66],
                MacMatch::Block { bits: 28, value: 2 },
            ),
            (
                [0x00, 0x11, 0x22, 0x43, 0x55, 0x66],
                MacMatch::Block { bits: 24, value: 1 },
            ),
            ([0x00, 0x11, 0x23, 0x00, 0x00, 0x00], MacMatch::Unknown),
            ([0x02, 0x11, 0x22, 0x33, 0x45, 0x66], MacMatch::Local),
            ([0x01, 0x11, 0x22, 0x33, 0x45, 0x66], MacMatch::Multicast),
            ([0xff; 6], MacMatch::Multicast),
        ];
        for (mac, want) in cases {
            assert_eq!(t.lookup(mac), want, "{mac:02x?}");
        }
        assert_eq!(parse_prefix("00112"), None);
        assert_eq!(parse_prefix("0011zz"), None);
        assert_eq!(parse_prefix("+01122"), None);
        assert_eq!(parse_prefix("0011223344"), None);
        assert_eq!(parse_prefix("00-11-2Ä"), None);
        assert_eq!(parse_prefix("00-1b-21"), Some((0x001b21 << 24, 24)));
    }
}
