//! NetFlow v5, NetFlow v9 and IPFIX export datagrams, decoded into [`Flow`] observations.
//!
//! A [`Collector`] holds what an export stream carries across datagrams: templates and
//! options-announced sampling rates. Both are scoped per *(exporter address, version,
//! source id / observation domain id)*, so two routers that reuse a template id never see
//! each other's layout.
//!
//! Guarantees:
//! - **No panics, no unbounded work**: every length is checked against the bytes that are
//!   really there and against the named caps below; a set whose length is below its own
//!   header ends the datagram instead of looping.
//! - **No allocation sized by the input**: templates grow field by field, only up to
//!   [`MAX_TEMPLATE_FIELDS`] and only from bytes present; data records allocate nothing.
//! - **Bad input is data**: each problem becomes an [`Anomaly`] whose offset is the datagram's
//!   offset plus the position of the bad set or record; decoding goes on with the next set.
//! - Counters are reported as exported (never multiplied); the declared rate is in
//!   [`Flow::sampling`]. `export_records` counts data records of data templates (what nfdump
//!   calls flows) and `export_bytes` sums their octet counters.
//!
//! Speed: a template is compiled once into a plan of `(slot, offset, length)` for the fields
//! cordon uses, so a fixed-length record costs a handful of loads; variable-length templates
//! walk their field list per record without allocating.

use crate::obs::{
    Anomaly, AnomalyKind, DecodeStats, Flow, IpProto, Mac, Micros, Observation, Sink,
};
use crate::sflow::{parse_frame, FrameInfo};
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most fields cordon accepts in one template (real exporters stay below ~120).
pub const MAX_TEMPLATE_FIELDS: usize = 512;
/// Most templates one collector keeps, over all exporters and domains (see [`Collector`] for
/// which template makes room when it is reached).
pub const MAX_TEMPLATES: usize = 16_384;
/// Most templates one scope (exporter address, version, observation domain) keeps; beyond it
/// the scope's own least recently used template makes room. Real exporters define a few dozen.
pub const MAX_SCOPE_TEMPLATES: usize = 1_024;
/// Most (exporter, domain) scopes one collector keeps sampling state for.
pub const MAX_DOMAINS: usize = 4_096;
/// Largest octet counter taken at face value from one record (256 TiB, far above what a
/// 400 Gbit/s link carries in an hour). Larger values are clamped and reported, so sums over
/// a file cannot overflow.
pub const MAX_RECORD_OCTETS: u64 = 1 << 48;
/// Most sampler ids remembered per scope.
pub const MAX_SAMPLERS: usize = 256;

const V5_HEADER: usize = 24;
const V5_RECORD: usize = 48;
const V9_HEADER: usize = 20;
const IPFIX_HEADER: usize = 16;
/// Field length that marks an IPFIX variable-length field.
const VARLEN: u16 = 0xFFFF;
/// Seconds between the NTP epoch (1900) and the Unix epoch.
const NTP_UNIX_OFFSET: i64 = 2_208_988_800;
/// IANA private enterprise number under which RFC 5103 reverse (biflow) elements live.
pub const REVERSE_PEN: u32 = 29305;

/// Export protocol version, the first two bytes of every datagram (open registry).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExportVersion(pub u16);

impl ExportVersion {
    pub const NETFLOW_V5: ExportVersion = ExportVersion(5);
    pub const NETFLOW_V9: ExportVersion = ExportVersion(9);
    pub const IPFIX: ExportVersion = ExportVersion(10);
}

/// FlowSet (v9) / Set (IPFIX) id (open registry; 256 and up are data sets).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SetId(pub u16);

impl SetId {
    pub const V9_TEMPLATE: SetId = SetId(0);
    pub const V9_OPTIONS_TEMPLATE: SetId = SetId(1);
    pub const IPFIX_TEMPLATE: SetId = SetId(2);
    pub const IPFIX_OPTIONS_TEMPLATE: SetId = SetId(3);
    pub const FIRST_DATA: SetId = SetId(256);
}

/// NetFlow v9 field type / IPFIX information element id (IANA registry, shared below 128).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldType(pub u16);

impl FieldType {
    pub const IN_BYTES: FieldType = FieldType(1);
    pub const IN_PKTS: FieldType = FieldType(2);
    pub const PROTOCOL: FieldType = FieldType(4);
    pub const L4_SRC_PORT: FieldType = FieldType(7);
    pub const IPV4_SRC_ADDR: FieldType = FieldType(8);
    pub const L4_DST_PORT: FieldType = FieldType(11);
    pub const IPV4_DST_ADDR: FieldType = FieldType(12);
    pub const LAST_SWITCHED: FieldType = FieldType(21);
    pub const FIRST_SWITCHED: FieldType = FieldType(22);
    pub const OUT_BYTES: FieldType = FieldType(23);
    pub const OUT_PKTS: FieldType = FieldType(24);
    pub const IPV6_SRC_ADDR: FieldType = FieldType(27);
    pub const IPV6_DST_ADDR: FieldType = FieldType(28);
    pub const SAMPLING_INTERVAL: FieldType = FieldType(34);
    pub const SAMPLING_ALGORITHM: FieldType = FieldType(35);
    pub const FLOW_SAMPLER_ID: FieldType = FieldType(48);
    pub const FLOW_SAMPLER_MODE: FieldType = FieldType(49);
    pub const FLOW_SAMPLER_RANDOM_INTERVAL: FieldType = FieldType(50);
    pub const IN_SRC_MAC: FieldType = FieldType(56);
    pub const OUT_DST_MAC: FieldType = FieldType(57);
    pub const IN_DST_MAC: FieldType = FieldType(80);
    pub const OUT_SRC_MAC: FieldType = FieldType(81);
    pub const OCTET_TOTAL_COUNT: FieldType = FieldType(85);
    pub const PACKET_TOTAL_COUNT: FieldType = FieldType(86);
    pub const FLOW_START_SECONDS: FieldType = FieldType(150);
    pub const FLOW_END_SECONDS: FieldType = FieldType(151);
    pub const FLOW_START_MILLISECONDS: FieldType = FieldType(152);
    pub const FLOW_END_MILLISECONDS: FieldType = FieldType(153);
    pub const FLOW_START_MICROSECONDS: FieldType = FieldType(154);
    pub const FLOW_END_MICROSECONDS: FieldType = FieldType(155);
    pub const FLOW_START_NANOSECONDS: FieldType = FieldType(156);
    pub const FLOW_END_NANOSECONDS: FieldType = FieldType(157);
    pub const FLOW_START_DELTA_MICROSECONDS: FieldType = FieldType(158);
    pub const FLOW_END_DELTA_MICROSECONDS: FieldType = FieldType(159);
    pub const SYSTEM_INIT_TIME_MILLISECONDS: FieldType = FieldType(160);
    pub const INITIATOR_OCTETS: FieldType = FieldType(231);
    pub const RESPONDER_OCTETS: FieldType = FieldType(232);
    pub const INITIATOR_PACKETS: FieldType = FieldType(298);
    pub const RESPONDER_PACKETS: FieldType = FieldType(299);
    pub const SELECTOR_ID: FieldType = FieldType(302);
    pub const SAMPLING_PACKET_INTERVAL: FieldType = FieldType(305);
    pub const SAMPLING_PACKET_SPACE: FieldType = FieldType(306);
    pub const DATA_LINK_FRAME_SIZE: FieldType = FieldType(312);
    pub const DATA_LINK_FRAME_SECTION: FieldType = FieldType(315);
}

/// Where a template field's value goes; `NONE` fields are skipped.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Slot(u8);

impl Slot {
    const NONE: Slot = Slot(0);
    const SRC4: Slot = Slot(1);
    const DST4: Slot = Slot(2);
    const SRC6: Slot = Slot(3);
    const DST6: Slot = Slot(4);
    const SPORT: Slot = Slot(5);
    const DPORT: Slot = Slot(6);
    const PROTO: Slot = Slot(7);
    const IN_BYTES: Slot = Slot(8);
    const OUT_BYTES: Slot = Slot(9);
    const TOTAL_BYTES: Slot = Slot(10);
    const IN_PKTS: Slot = Slot(11);
    const OUT_PKTS: Slot = Slot(12);
    const TOTAL_PKTS: Slot = Slot(13);
    const FIRST_UPTIME: Slot = Slot(14);
    const LAST_UPTIME: Slot = Slot(15);
    const START_SEC: Slot = Slot(16);
    const END_SEC: Slot = Slot(17);
    const START_MS: Slot = Slot(18);
    const END_MS: Slot = Slot(19);
    const START_NTP: Slot = Slot(20);
    const END_NTP: Slot = Slot(21);
    const START_DELTA_US: Slot = Slot(22);
    const END_DELTA_US: Slot = Slot(23);
    const IN_SRC_MAC: Slot = Slot(24);
    const IN_DST_MAC: Slot = Slot(25);
    const OUT_SRC_MAC: Slot = Slot(26);
    const OUT_DST_MAC: Slot = Slot(27);
    const SAMPLER_ID: Slot = Slot(28);
    const SAMPLING_INTERVAL: Slot = Slot(29);
    const PACKET_INTERVAL: Slot = Slot(30);
    const PACKET_SPACE: Slot = Slot(31);
    const SYS_INIT_MS: Slot = Slot(32);
    const FRAME_SIZE: Slot = Slot(33);
    const FRAME_SECTION: Slot = Slot(34);
    const REV_BYTES: Slot = Slot(35);
    const REV_PKTS: Slot = Slot(36);

    fn of(enterprise: u32, ty: FieldType) -> Slot {
        if enterprise == REVERSE_PEN {
            return match ty {
                FieldType::IN_BYTES | FieldType::OCTET_TOTAL_COUNT => Slot::REV_BYTES,
                FieldType::IN_PKTS | FieldType::PACKET_TOTAL_COUNT => Slot::REV_PKTS,
                _ => Slot::NONE,
            };
        }
        if enterprise != 0 {
            return Slot::NONE;
        }
        match ty {
            FieldType::IPV4_SRC_ADDR => Slot::SRC4,
            FieldType::IPV4_DST_ADDR => Slot::DST4,
            FieldType::IPV6_SRC_ADDR => Slot::SRC6,
            FieldType::IPV6_DST_ADDR => Slot::DST6,
            FieldType::L4_SRC_PORT => Slot::SPORT,
            FieldType::L4_DST_PORT => Slot::DPORT,
            FieldType::PROTOCOL => Slot::PROTO,
            FieldType::IN_BYTES | FieldType::INITIATOR_OCTETS => Slot::IN_BYTES,
            FieldType::RESPONDER_OCTETS => Slot::REV_BYTES,
            FieldType::INITIATOR_PACKETS => Slot::IN_PKTS,
            FieldType::RESPONDER_PACKETS => Slot::REV_PKTS,
            FieldType::OUT_BYTES => Slot::OUT_BYTES,
            FieldType::OCTET_TOTAL_COUNT => Slot::TOTAL_BYTES,
            FieldType::IN_PKTS => Slot::IN_PKTS,
            FieldType::OUT_PKTS => Slot::OUT_PKTS,
            FieldType::PACKET_TOTAL_COUNT => Slot::TOTAL_PKTS,
            FieldType::FIRST_SWITCHED => Slot::FIRST_UPTIME,
            FieldType::LAST_SWITCHED => Slot::LAST_UPTIME,
            FieldType::FLOW_START_SECONDS => Slot::START_SEC,
            FieldType::FLOW_END_SECONDS => Slot::END_SEC,
            FieldType::FLOW_START_MILLISECONDS => Slot::START_MS,
            FieldType::FLOW_END_MILLISECONDS => Slot::END_MS,
            FieldType::FLOW_START_MICROSECONDS | FieldType::FLOW_START_NANOSECONDS => {
                Slot::START_NTP
            }
            FieldType::FLOW_END_MICROSECONDS | FieldType::FLOW_END_NANOSECONDS => Slot::END_NTP,
            FieldType::FLOW_START_DELTA_MICROSECONDS => Slot::START_DELTA_US,
            FieldType::FLOW_END_DELTA_MICROSECONDS => Slot::END_DELTA_US,
            FieldType::IN_SRC_MAC => Slot::IN_SRC_MAC,
            FieldType::IN_DST_MAC => Slot::IN_DST_MAC,
            FieldType::OUT_SRC_MAC => Slot::OUT_SRC_MAC,
            FieldType::OUT_DST_MAC => Slot::OUT_DST_MAC,
            FieldType::FLOW_SAMPLER_ID | FieldType::SELECTOR_ID => Slot::SAMPLER_ID,
            FieldType::SAMPLING_INTERVAL | FieldType::FLOW_SAMPLER_RANDOM_INTERVAL => {
                Slot::SAMPLING_INTERVAL
            }
            FieldType::SAMPLING_PACKET_INTERVAL => Slot::PACKET_INTERVAL,
            FieldType::SAMPLING_PACKET_SPACE => Slot::PACKET_SPACE,
            FieldType::SYSTEM_INIT_TIME_MILLISECONDS => Slot::SYS_INIT_MS,
            FieldType::DATA_LINK_FRAME_SIZE => Slot::FRAME_SIZE,
            FieldType::DATA_LINK_FRAME_SECTION => Slot::FRAME_SECTION,
            _ => Slot::NONE,
        }
    }
}

/// Which stream a template or sampling rate belongs to.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
struct Scope {
    exporter: IpAddr,
    version: u16,
    domain: u32,
}

#[derive(Copy, Clone, Debug)]
struct FieldDef {
    slot: Slot,
    /// Bytes, or [`VARLEN`].
    len: u16,
}

#[derive(Copy, Clone, Debug)]
struct PlanItem {
    slot: Slot,
    off: u16,
    len: u16,
}

/// A compiled template.
#[derive(Debug)]
struct Template {
    options: bool,
    fields: Box<[FieldDef]>,
    /// Record length when no field is variable-length.
    fixed_len: Option<usize>,
    /// Shortest possible record: fixed lengths plus one byte per variable-length field.
    min_len: usize,
    /// For fixed-length templates: the fields cordon reads, with their offsets.
    plan: Box<[PlanItem]>,
}

impl Template {
    fn compile(options: bool, fields: Vec<FieldDef>) -> Template {
        let mut fixed = true;
        let mut min_len = 0usize;
        let mut plan = Vec::new();
        for f in &fields {
            if f.len == VARLEN {
                fixed = false;
                min_len += 1;
            } else {
                if fixed && f.slot != Slot::NONE && f.len > 0 {
                    // Offsets fit in u16: fields come from one datagram of at most 64 KiB.
                    plan.push(PlanItem {
                        slot: f.slot,
                        off: min_len as u16,
                        len: f.len,
                    });
                }
                min_len += f.len as usize;
            }
        }
        Template {
            options,
            fields: fields.into_boxed_slice(),
            fixed_len: fixed.then_some(min_len),
            min_len,
            plan: if fixed {
                plan.into_boxed_slice()
            } else {
                Box::default()
            },
        }
    }
}

/// A cached template with its recency: `used` is the stamp of its last definition or data
/// set, `filed` the stamp under which [`ScopeTemplates::order`] holds it.
#[derive(Debug)]
struct Cached {
    template: Template,
    used: u64,
    filed: u64,
}

/// The templates of one scope.
#[derive(Debug, Default)]
struct ScopeTemplates {
    by_id: HashMap<u16, Cached, foldhash::fast::RandomState>,
    /// Filing stamp -> template id, oldest first: the scope's eviction order. A template used
    /// after it was filed is re-filed under its newer stamp when it reaches the front (so a
    /// data set costs two stamp writes, not a tree update).
    order: BTreeMap<u64, u16>,
    /// Stamp of the scope's last template or data set.
    used: u64,
    /// Stamp under which [`TemplateCache::rank`] holds the scope.
    filed: u64,
}

impl ScopeTemplates {
    /// Removes the least recently used template; returns its id.
    fn evict_lru(&mut self) -> Option<u16> {
        // Each pass either evicts or re-files one template under its (newer) use stamp, after
        // which its stamps agree: at most `len + 1` passes.
        while let Some((stamp, id)) = self.order.pop_first() {
            match self.by_id.get_mut(&id) {
                Some(c) if c.used != stamp => {
                    c.filed = c.used;
                    self.order.insert(c.used, id);
                }
                Some(_) => {
                    self.by_id.remove(&id);
                    return Some(id);
                }
                None => {}
            }
        }
        None
    }
}

/// Why a template was evicted to make room, for the anomaly.
enum Eviction {
    /// The defining scope was at [`MAX_SCOPE_TEMPLATES`]: its own LRU template went.
    OwnCap(u16),
    /// The cache was at [`MAX_TEMPLATES`]: the LRU template of the largest scope went.
    Full(Scope, u16),
}

/// Templates kept per scope, bounded per scope and in total.
///
/// **Eviction policy (fair share).** A scope keeps at most [`MAX_SCOPE_TEMPLATES`]; a new
/// template beyond that replaces the scope's own least recently used one (a definition or a
/// data set is a use). When the whole cache holds [`MAX_TEMPLATES`], the room is taken from
/// the scope holding the *most* templates (the least recently used of those when several tie),
/// and within it from its least recently used template, unless the defining scope is itself
/// among the largest, in which case it gives up its own. So a flood from one exporter, or from
/// many, only ever shrinks the scopes that hold more than the others; a scope is squeezed
/// below its share only when more scopes than [`MAX_TEMPLATES`] are active, and then the
/// least recently used go first. Memory: at most [`MAX_TEMPLATES`] templates (each at most
/// [`MAX_TEMPLATE_FIELDS`] fields) and as many scopes, since a scope without templates is
/// dropped. Every eviction is reported as a `Limit` anomaly by the caller.
#[derive(Debug, Default)]
struct TemplateCache {
    scopes: HashMap<Scope, ScopeTemplates, foldhash::fast::RandomState>,
    /// (size, filing stamp) -> scope for every scope, largest then least recently used first
    /// (stamps are unique, so is the key). Sizes are kept exact; a stamp that lags the
    /// scope's use is refreshed lazily when the entry reaches the front.
    rank: BTreeMap<(Reverse<usize>, u64), Scope>,
    total: usize,
    clock: u64,
}

impl TemplateCache {
    #[cfg(test)]
    fn len(&self) -> usize {
        self.total
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// The template for a data set, marked as used.
    fn get(&mut self, scope: Scope, id: u16) -> Option<&Template> {
        self.clock += 1;
        let now = self.clock;
        let s = self.scopes.get_mut(&scope)?;
        let c = s.by_id.get_mut(&id)?;
        c.used = now;
        s.used = now;
        Some(&c.template)
    }

    /// Re-files `scope` in the rank after its size changed from `old_len`, or drops it once
    /// empty.
    fn rerank(&mut self, scope: Scope, old_len: usize) {
        let Some(s) = self.scopes.get_mut(&scope) else {
            return;
        };
        if old_len > 0 {
            self.rank.remove(&(Reverse(old_len), s.filed));
        }
        let len = s.by_id.len();
        if len == 0 {
            self.scopes.remove(&scope);
        } else {
            s.filed = s.used;
            self.rank.insert((Reverse(len), s.filed), scope);
        }
    }

    /// Withdraws a template (IPFIX template withdrawal).
    fn remove(&mut self, scope: Scope, id: u16) {
        let Some(s) = self.scopes.get_mut(&scope) else {
            return;
        };
        let old_len = s.by_id.len();
        if let Some(c) = s.by_id.remove(&id) {
            s.order.remove(&c.filed);
            self.total = self.total.saturating_sub(1);
            self.rerank(scope, old_len);
        }
    }

    /// The largest scope, least recently used among equals, after refreshing lagging stamps.
    fn largest(&mut self) -> Option<(Scope, usize)> {
        // Each pass either answers or re-files one scope under its newer use stamp.
        loop {
            let (&(Reverse(len), filed), &scope) = self.rank.first_key_value()?;
            match self.scopes.get_mut(&scope) {
                Some(s) if s.used != filed => {
                    s.filed = s.used;
                    self.rank.remove(&(Reverse(len), filed));
                    self.rank.insert((Reverse(len), s.filed), scope);
                }
                Some(_) => return Some((scope, len)),
                None => {
                    self.rank.remove(&(Reverse(len), filed));
                }
            }
        }
    }

    /// Takes the least recently used template of `scope`.
    fn evict_from(&mut self, scope: Scope) -> Option<u16> {
        let s = self.scopes.get_mut(&scope)?;
        let old_len = s.by_id.len();
        let id = s.evict_lru()?;
        self.total = self.total.saturating_sub(1);
        self.rerank(scope, old_len);
        Some(id)
    }

    /// Stores (or replaces) a template, making room first as the type's policy says.
    fn insert(&mut self, scope: Scope, id: u16, template: Template) -> Option<Eviction> {
        let now = self.tick();
        let have = match self.scopes.get_mut(&scope) {
            Some(s) => {
                if let Some(c) = s.by_id.get_mut(&id) {
                    // A refresh or a redefinition: no room needed.
                    c.template = template;
                    c.used = now;
                    s.used = now;
                    return None;
                }
                s.by_id.len()
            }
            None => 0,
        };
        // Who makes room: nobody, this scope (its size and place in the rank then stay the
        // same, but for the stamp, refreshed lazily), or the largest scope.
        let mut evicted = None;
        let mut own = None;
        if have >= MAX_SCOPE_TEMPLATES {
            own = Some(true);
        } else if self.total >= MAX_TEMPLATES {
            match self.largest() {
                Some((big, len)) if len > have => {
                    evicted = self.evict_from(big).map(|old| Eviction::Full(big, old));
                }
                Some(_) => own = Some(false),
                None => {}
            }
        }
        let cached = Cached {
            template,
            used: now,
            filed: now,
        };
        if let Some(at_cap) = own {
            if let Some(s) = self.scopes.get_mut(&scope) {
                if let Some(old) = s.evict_lru() {
                    s.used = now;
                    s.order.insert(now, id);
                    s.by_id.insert(id, cached);
                    return Some(if at_cap {
                        Eviction::OwnCap(old)
                    } else {
                        Eviction::Full(scope, old)
                    });
                }
            }
            // Not reached (a scope at its cap, or the largest, holds templates); if it were,
            // the template is kept anyway.
        }
        let s = self.scopes.entry(scope).or_default();
        let old_len = s.by_id.len();
        s.used = now;
        s.order.insert(now, id);
        s.by_id.insert(id, cached);
        self.total += 1;
        self.rerank(scope, old_len);
        evicted
    }
}

/// Sampling and clock state announced by options data for one scope.
#[derive(Debug, Default)]
struct ScopeState {
    /// Latest rate announced without or with a sampler id (0 = none yet).
    default_rate: u32,
    samplers: Vec<(u64, u32)>,
    sys_init_ms: Option<i64>,
}

impl ScopeState {
    fn rate_for(&self, sampler: Option<u64>) -> u32 {
        if let Some(id) = sampler {
            if let Some(&(_, r)) = self.samplers.iter().find(|(s, _)| *s == id) {
                return r;
            }
        }
        self.default_rate
    }
}

/// Values read from one record; reset for every record, lives on the stack.
#[derive(Default)]
struct Rec<'a> {
    src4: Option<[u8; 4]>,
    dst4: Option<[u8; 4]>,
    src6: Option<[u8; 16]>,
    dst6: Option<[u8; 16]>,
    sport: u16,
    dport: u16,
    proto: u8,
    in_bytes: Option<u64>,
    out_bytes: Option<u64>,
    total_bytes: Option<u64>,
    in_pkts: Option<u64>,
    out_pkts: Option<u64>,
    total_pkts: Option<u64>,
    rev_bytes: Option<u64>,
    rev_pkts: Option<u64>,
    first_uptime: Option<u32>,
    last_uptime: Option<u32>,
    start_us: Option<i64>,
    end_us: Option<i64>,
    start_delta_us: Option<u64>,
    end_delta_us: Option<u64>,
    in_src_mac: Option<Mac>,
    in_dst_mac: Option<Mac>,
    out_src_mac: Option<Mac>,
    out_dst_mac: Option<Mac>,
    sampler_id: Option<u64>,
    sampling_interval: Option<u64>,
    packet_interval: Option<u64>,
    packet_space: Option<u64>,
    sys_init_ms: Option<u64>,
    frame_size: Option<u64>,
    frame: Option<&'a [u8]>,
}

fn uint(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 8 {
        return None;
    }
    Some(v.iter().fold(0u64, |acc, &b| acc << 8 | b as u64))
}

fn ntp_to_micros(v: &[u8]) -> Option<i64> {
    let a: [u8; 8] = v.try_into().ok()?;
    let secs = u32::from_be_bytes([a[0], a[1], a[2], a[3]]) as i64;
    let frac = u32::from_be_bytes([a[4], a[5], a[6], a[7]]) as i64;
    Some((secs - NTP_UNIX_OFFSET) * 1_000_000 + ((frac * 1_000_000) >> 32))
}

/// `n` units of `unit` microseconds, saturating (the input may claim any time).
fn micros(n: u64, unit: i64) -> i64 {
    (n.min(i64::MAX as u64) as i64).saturating_mul(unit)
}

fn mac(v: &[u8]) -> Option<Mac> {
    v.try_into().ok().map(Mac)
}

impl<'a> Rec<'a> {
    #[inline]
    fn put(&mut self, slot: Slot, v: &'a [u8]) {
        match slot {
            Slot::SRC4 => self.src4 = v.try_into().ok(),
            Slot::DST4 => self.dst4 = v.try_into().ok(),
            Slot::SRC6 => self.src6 = v.try_into().ok(),
            Slot::DST6 => self.dst6 = v.try_into().ok(),
            Slot::SPORT => self.sport = uint(v).unwrap_or(0) as u16,
            Slot::DPORT => self.dport = uint(v).unwrap_or(0) as u16,
            Slot::PROTO => self.proto = uint(v).unwrap_or(0) as u8,
            Slot::IN_BYTES => self.in_bytes = uint(v),
            Slot::OUT_BYTES => self.out_bytes = uint(v),
            Slot::TOTAL_BYTES => self.total_bytes = uint(v),
            Slot::IN_PKTS => self.in_pkts = uint(v),
            Slot::OUT_PKTS => self.out_pkts = uint(v),
            Slot::TOTAL_PKTS => self.total_pkts = uint(v),
            Slot::REV_BYTES => self.rev_bytes = uint(v),
            Slot::REV_PKTS => self.rev_pkts = uint(v),
            Slot::FIRST_UPTIME => self.first_uptime = uint(v).map(|x| x as u32),
            Slot::LAST_UPTIME => self.last_uptime = uint(v).map(|x| x as u32),
            Slot::START_SEC => self.start_us = uint(v).map(|s| micros(s, 1_000_000)),
            Slot::END_SEC => self.end_us = uint(v).map(|s| micros(s, 1_000_000)),
            Slot::START_MS => self.start_us = uint(v).map(|s| micros(s, 1_000)),
            Slot::END_MS => self.end_us = uint(v).map(|s| micros(s, 1_000)),
            Slot::START_NTP => self.start_us = ntp_to_micros(v),
            Slot::END_NTP => self.end_us = ntp_to_micros(v),
            Slot::START_DELTA_US => self.start_delta_us = uint(v),
            Slot::END_DELTA_US => self.end_delta_us = uint(v),
            Slot::IN_SRC_MAC => self.in_src_mac = mac(v),
            Slot::IN_DST_MAC => self.in_dst_mac = mac(v),
            Slot::OUT_SRC_MAC => self.out_src_mac = mac(v),
            Slot::OUT_DST_MAC => self.out_dst_mac = mac(v),
            Slot::SAMPLER_ID => self.sampler_id = uint(v),
            Slot::SAMPLING_INTERVAL => self.sampling_interval = uint(v),
            Slot::PACKET_INTERVAL => self.packet_interval = uint(v),
            Slot::PACKET_SPACE => self.packet_space = uint(v),
            Slot::SYS_INIT_MS => self.sys_init_ms = uint(v),
            Slot::FRAME_SIZE => self.frame_size = uint(v),
            Slot::FRAME_SECTION => self.frame = Some(v),
            _ => {}
        }
    }

    /// The sampling rate this record itself declares (options data, or inline fields).
    fn declared_rate(&self) -> Option<u32> {
        if let Some(i) = self.sampling_interval.filter(|&i| i > 0) {
            return Some(i.min(u32::MAX as u64) as u32);
        }
        match (self.packet_interval, self.packet_space) {
            (Some(i), space) if i > 0 => {
                // In u128: interval and space are exporter-given 64-bit values.
                let r = (u128::from(i) + u128::from(space.unwrap_or(0))) / u128::from(i);
                Some(r.clamp(1, u128::from(u32::MAX)) as u32)
            }
            _ => None,
        }
    }

    /// Octets from source to destination: IN_BYTES / octetDeltaCount, initiatorOctets or
    /// octetTotalCount; OUT_BYTES only when the record has none of those.
    fn octets(&self) -> u64 {
        self.in_bytes
            .or(self.total_bytes)
            .or(self.out_bytes)
            .unwrap_or(0)
    }

    fn packets(&self) -> u64 {
        self.in_pkts
            .or(self.total_pkts)
            .or(self.out_pkts)
            .unwrap_or(0)
    }

    /// Every octet counter the record carries, as nfdump totals them: forward (or total)
    /// plus OUT_BYTES plus reverse/responder octets. This is what `export_bytes` sums.
    fn all_octets(&self) -> u64 {
        let fwd = self.in_bytes.or(self.total_bytes).unwrap_or(0);
        fwd.saturating_add(self.out_bytes.unwrap_or(0))
            .saturating_add(self.rev_bytes.unwrap_or(0))
    }

    /// True when an octet counter exceeds [`MAX_RECORD_OCTETS`].
    fn implausible(&self) -> bool {
        [
            self.in_bytes,
            self.total_bytes,
            self.out_bytes,
            self.rev_bytes,
        ]
        .iter()
        .any(|c| c.is_some_and(|c| c > MAX_RECORD_OCTETS))
    }
}

/// Per-datagram context.
struct Header {
    scope: Scope,
    /// Export time, Unix microseconds.
    export_us: Micros,
    /// Exporter uptime at export, milliseconds (v5/v9).
    uptime_ms: Option<u32>,
    /// Datagram's offset in the enclosing input.
    offset: u64,
}

impl Header {
    fn uptime_to_micros(&self, t: u32, state: Option<&ScopeState>) -> Micros {
        match (self.uptime_ms, state.and_then(|s| s.sys_init_ms)) {
            (Some(up), _) => self.export_us - uptime_age_ms(up, t) * 1_000,
            (None, Some(init)) => init.saturating_add(t as i64).saturating_mul(1_000),
            (None, None) => self.export_us,
        }
    }
}

/// How long before the export a switched time `t` was, from the exporter's uptime `up` (both
/// milliseconds, wrapping every 49.7 days). The difference is signed: exporters such as
/// softflowd replaying a capture (`-a`) stamp flows a little *after* the header's uptime, and
/// nfdump then places them just after the export time; read unsigned, they would land 49.7
/// days in the past. Differences beyond ±24.8 days are taken as the counter's wrap.
fn uptime_age_ms(up: u32, t: u32) -> i64 {
    i64::from(up.wrapping_sub(t) as i32)
}

fn anomaly(
    sink: &mut dyn Sink,
    stats: &mut DecodeStats,
    offset: u64,
    kind: AnomalyKind,
    detail: String,
) {
    stats.anomalies += 1;
    sink.anomaly(Anomaly {
        offset,
        kind,
        detail,
    });
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_be_bytes([s[0], s[1]]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Decodes export datagrams, keeping template caches scoped per (exporter address, source id /
/// observation domain), and options-template sampling rates.
///
/// Templates are kept per scope with a fair-share bound (see `TemplateCache`): at most
/// [`MAX_SCOPE_TEMPLATES`] per scope and [`MAX_TEMPLATES`] in all, room being taken from the
/// scope that holds the most, so one exporter's template flood cannot evict or block another
/// exporter's templates.
#[derive(Default)]
pub struct Collector {
    templates: TemplateCache,
    scopes: HashMap<Scope, ScopeState>,
}

impl Collector {
    pub fn new() -> Collector {
        Collector::default()
    }

    /// Decodes one export datagram (NetFlow v5, v9 or IPFIX) received from `exporter`.
    /// `offset` is the datagram's byte offset in the enclosing input, for anomalies.
    pub fn datagram(
        &mut self,
        exporter: IpAddr,
        payload: &[u8],
        offset: u64,
        sink: &mut dyn Sink,
    ) -> DecodeStats {
        let mut stats = DecodeStats::default();
        match be16(payload, 0).map(ExportVersion) {
            Some(ExportVersion::NETFLOW_V5) => v5(exporter, payload, offset, sink, &mut stats),
            Some(ExportVersion::NETFLOW_V9) => self.v9(exporter, payload, offset, sink, &mut stats),
            Some(ExportVersion::IPFIX) => self.ipfix(exporter, payload, offset, sink, &mut stats),
            Some(v) => anomaly(
                sink,
                &mut stats,
                offset,
                AnomalyKind::Unsupported,
                format!("export version {} is not netflow v5, v9 or ipfix", v.0),
            ),
            None => anomaly(
                sink,
                &mut stats,
                offset,
                AnomalyKind::Truncated,
                format!("export datagram of {} bytes has no version", payload.len()),
            ),
        }
        stats
    }

    fn v9(
        &mut self,
        exporter: IpAddr,
        p: &[u8],
        offset: u64,
        sink: &mut dyn Sink,
        stats: &mut DecodeStats,
    ) {
        if p.len() < V9_HEADER {
            let d = format!(
                "netflow v9 header needs {V9_HEADER} bytes, datagram has {}",
                p.len()
            );
            return anomaly(sink, stats, offset, AnomalyKind::Truncated, d);
        }
        let uptime = be32(p, 4).unwrap_or(0);
        let secs = be32(p, 8).unwrap_or(0);
        let domain = be32(p, 16).unwrap_or(0);
        let hdr = Header {
            scope: Scope {
                exporter,
                version: 9,
                domain,
            },
            export_us: secs as i64 * 1_000_000,
            uptime_ms: Some(uptime),
            offset,
        };
        self.sets(&hdr, p, V9_HEADER, sink, stats);
    }

    fn ipfix(
        &mut self,
        exporter: IpAddr,
        p: &[u8],
        offset: u64,
        sink: &mut dyn Sink,
        stats: &mut DecodeStats,
    ) {
        if p.len() < IPFIX_HEADER {
            let d = format!(
                "ipfix header needs {IPFIX_HEADER} bytes, datagram has {}",
                p.len()
            );
            return anomaly(sink, stats, offset, AnomalyKind::Truncated, d);
        }
        let len = be16(p, 2).unwrap_or(0) as usize;
        let p = if len < IPFIX_HEADER {
            let d = format!("ipfix message length {len} is shorter than its header");
            return anomaly(sink, stats, offset, AnomalyKind::Malformed, d);
        } else if len > p.len() {
            let d = format!(
                "ipfix message length {len} exceeds the {} bytes present",
                p.len()
            );
            anomaly(sink, stats, offset, AnomalyKind::Truncated, d);
            p
        } else {
            if p.len() > len && p[len..].iter().any(|&b| b != 0) {
                // Like nfdump, read only the first message of a datagram; say what was left.
                let d = format!(
                    "{} bytes after the {len}-byte ipfix message ignored",
                    p.len() - len
                );
                anomaly(sink, stats, offset + len as u64, AnomalyKind::Malformed, d);
            }
            &p[..len]
        };
        let secs = be32(p, 4).unwrap_or(0);
        let domain = be32(p, 12).unwrap_or(0);
        let hdr = Header {
            scope: Scope {
                exporter,
                version: 10,
                domain,
            },
            export_us: secs as i64 * 1_000_000,
            uptime_ms: None,
            offset,
        };
        self.sets(&hdr, p, IPFIX_HEADER, sink, stats);
    }

    /// Walks the (flow)sets of a v9 or IPFIX message.
    fn sets(
        &mut self,
        hdr: &Header,
        p: &[u8],
        mut pos: usize,
        sink: &mut dyn Sink,
        stats: &mut DecodeStats,
    ) {
        let ipfix = hdr.scope.version == 10;
        while pos < p.len() {
            let at = hdr.offset + pos as u64;
            let (Some(id), Some(len)) = (be16(p, pos), be16(p, pos + 2)) else {
                if p[pos..].iter().any(|&b| b != 0) {
                    let d = format!(
                        "{} bytes after the last set are too short for a set header",
                        p.len() - pos
                    );
                    anomaly(sink, stats, at, AnomalyKind::Truncated, d);
                }
                return;
            };
            let len = len as usize;
            if len < 4 {
                // Zero padding after the last set is common (PAN-OS); anything else is broken
                // and the rest of the datagram cannot be framed.
                if p[pos..].iter().any(|&b| b != 0) {
                    let d = format!("set length {len} is shorter than the 4-byte set header");
                    anomaly(sink, stats, at, AnomalyKind::Malformed, d);
                }
                return;
            }
            let Some(body) = p.get(pos + 4..pos + len) else {
                let d = format!(
                    "set {id} length {len} exceeds the {} bytes left",
                    p.len() - pos
                );
                anomaly(sink, stats, at, AnomalyKind::Truncated, d);
                return;
            };
            let body_at = at + 4;
            match (SetId(id), ipfix) {
                (SetId::V9_TEMPLATE, false) | (SetId::IPFIX_TEMPLATE, true) => {
                    self.templates_set(hdr, body, body_at, false, sink, stats)
                }
                (SetId::V9_OPTIONS_TEMPLATE, false) | (SetId::IPFIX_OPTIONS_TEMPLATE, true) => {
                    self.templates_set(hdr, body, body_at, true, sink, stats)
                }
                (SetId(d), _) if d >= SetId::FIRST_DATA.0 => {
                    self.data_set(hdr, d, body, body_at, sink, stats)
                }
                (SetId(d), _) => {
                    let kind = if ipfix {
                        "ipfix set"
                    } else {
                        "netflow v9 flowset"
                    };
                    let detail = format!("{kind} id {d} is reserved");
                    anomaly(sink, stats, at, AnomalyKind::Unsupported, detail);
                }
            }
            pos += len;
        }
    }

    /// Parses a (options) template set, storing every template it can frame.
    fn templates_set(
        &mut self,
        hdr: &Header,
        body: &[u8],
        at: u64,
        options: bool,
        sink: &mut dyn Sink,
        stats: &mut DecodeStats,
    ) {
        let ipfix = hdr.scope.version == 10;
        let mut pos = 0usize;
        // A template needs at least its 4-byte header; anything shorter is padding.
        while body.len() - pos >= 4 {
            let rec_at = at + pos as u64;
            let id = be16(body, pos).unwrap_or(0);
            // (fields, scope fields) to read, and where the field specs start.
            let (count, scope_count, start) = if !options {
                (be16(body, pos + 2).unwrap_or(0) as usize, 0, pos + 4)
            } else if ipfix {
                let Some(scope) = be16(body, pos + 4) else {
                    let d = "ipfix options template header truncated".to_string();
                    return anomaly(sink, stats, rec_at, AnomalyKind::Truncated, d);
                };
                (
                    be16(body, pos + 2).unwrap_or(0) as usize,
                    scope as usize,
                    pos + 6,
                )
            } else {
                let Some(opt_len) = be16(body, pos + 4) else {
                    let d = "netflow v9 options template header truncated".to_string();
                    return anomaly(sink, stats, rec_at, AnomalyKind::Truncated, d);
                };
                let scope_len = be16(body, pos + 2).unwrap_or(0) as usize;
                let opt_len = opt_len as usize;
                if scope_len & 3 != 0 || opt_len & 3 != 0 {
                    let d = format!("options template {id}: scope length {scope_len} or option length {opt_len} is not a multiple of 4");
                    return anomaly(sink, stats, rec_at, AnomalyKind::Malformed, d);
                }
                ((scope_len + opt_len) / 4, scope_len / 4, pos + 6)
            };
            if id < SetId::FIRST_DATA.0 {
                if id == 0 && count == 0 && body[pos..].iter().all(|&b| b == 0) {
                    return; // padding
                }
                let d = format!("template id {id} is below 256");
                return anomaly(sink, stats, rec_at, AnomalyKind::Malformed, d);
            }
            if options && (scope_count > count || (ipfix && scope_count == 0)) {
                let d = format!("options template {id}: {scope_count} scope fields of {count}");
                return anomaly(sink, stats, rec_at, AnomalyKind::Malformed, d);
            }
            if count > MAX_TEMPLATE_FIELDS {
                let d =
                    format!("template {id} declares {count} fields, cap is {MAX_TEMPLATE_FIELDS}");
                return anomaly(sink, stats, rec_at, AnomalyKind::Limit, d);
            }
            if count == 0 {
                // IPFIX template withdrawal (RFC 7011 8.1); v9 has none but it means the same.
                self.templates.remove(hdr.scope, id);
                pos = start;
                continue;
            }
            let mut fields = Vec::with_capacity(count);
            let mut fp = start;
            for i in 0..count {
                let (Some(raw), Some(len)) = (be16(body, fp), be16(body, fp + 2)) else {
                    let d = format!("template {id} ends inside its field list");
                    return anomaly(sink, stats, rec_at, AnomalyKind::Truncated, d);
                };
                fp += 4;
                let mut enterprise = 0u32;
                let mut ty = raw;
                if ipfix && raw & 0x8000 != 0 {
                    let Some(pen) = be32(body, fp) else {
                        let d = format!("template {id} ends inside an enterprise number");
                        return anomaly(sink, stats, rec_at, AnomalyKind::Truncated, d);
                    };
                    enterprise = pen;
                    ty = raw & 0x7FFF;
                    fp += 4;
                }
                // Length 65535 is IPFIX's variable-length marker; some v9 exporters (H3C)
                // use it the same way, and nfdump accepts it there too.
                // v9 scope fields use their own small registry (1 = system, 2 = interface...).
                let slot = if !ipfix && i < scope_count {
                    Slot::NONE
                } else {
                    Slot::of(enterprise, FieldType(ty))
                };
                fields.push(FieldDef { slot, len });
            }
            pos = fp;
            let t = Template::compile(options, fields);
            if t.min_len == 0 {
                let d = format!("template {id} describes zero-length records");
                anomaly(sink, stats, rec_at, AnomalyKind::Malformed, d);
                continue;
            }
            match self.templates.insert(hdr.scope, id, t) {
                None => {}
                Some(Eviction::OwnCap(old)) => {
                    let d = format!("template {id} evicts this exporter's least recently used template {old}: {MAX_SCOPE_TEMPLATES} templates per exporter and domain");
                    anomaly(sink, stats, rec_at, AnomalyKind::Limit, d);
                }
                Some(Eviction::Full(victim, old)) => {
                    let d = format!(
                        "template {id} evicts template {old} of exporter {} domain {}, the largest scope: {MAX_TEMPLATES} templates cached",
                        victim.exporter, victim.domain
                    );
                    anomaly(sink, stats, rec_at, AnomalyKind::Limit, d);
                }
            }
        }
    }

    fn data_set(
        &mut self,
        hdr: &Header,
        id: u16,
        body: &[u8],
        at: u64,
        sink: &mut dyn Sink,
        stats: &mut DecodeStats,
    ) {
        let Some(t) = self.templates.get(hdr.scope, id) else {
            let d = format!(
                "data set for template {id} not seen from this exporter and domain, {} bytes dropped",
                body.len()
            );
            return anomaly(sink, stats, at - 4, AnomalyKind::Missing, d);
        };
        let mut pos = 0usize;
        while body.len() - pos >= t.min_len {
            let rec_at = at + pos as u64;
            let mut rec = Rec::default();
            let rest = &body[pos..];
            let used = match t.fixed_len {
                Some(n) => {
                    for it in t.plan.iter() {
                        let o = it.off as usize;
                        rec.put(it.slot, &rest[o..o + it.len as usize]);
                    }
                    n
                }
                None => match walk_varlen(t, rest, &mut rec) {
                    Some(n) => n,
                    None => {
                        let d = format!("record of template {id} runs past the end of its set");
                        anomaly(sink, stats, rec_at, AnomalyKind::Truncated, d);
                        return;
                    }
                },
            };
            pos += used;
            if t.options {
                options_record(&mut self.scopes, hdr.scope, &rec, sink, stats, rec_at);
            } else {
                let state = self.scopes.get(&hdr.scope);
                emit(hdr, state, &rec, rec_at, sink, stats);
            }
        }
    }
}

/// Records sampling rates and clocks announced by an options data record.
fn options_record(
    scopes: &mut HashMap<Scope, ScopeState>,
    scope: Scope,
    rec: &Rec,
    sink: &mut dyn Sink,
    stats: &mut DecodeStats,
    at: u64,
) {
    let rate = rec.declared_rate();
    if rate.is_none() && rec.sys_init_ms.is_none() {
        return;
    }
    if !scopes.contains_key(&scope) && scopes.len() >= MAX_DOMAINS {
        let d = format!("options data dropped: {MAX_DOMAINS} exporter scopes already tracked");
        return anomaly(sink, stats, at, AnomalyKind::Limit, d);
    }
    let st = scopes.entry(scope).or_default();
    if let Some(init) = rec.sys_init_ms {
        st.sys_init_ms = Some(init.min(i64::MAX as u64) as i64);
    }
    let Some(rate) = rate else { return };
    st.default_rate = rate;
    if let Some(id) = rec.sampler_id {
        if let Some(slot) = st.samplers.iter_mut().find(|(s, _)| *s == id) {
            slot.1 = rate;
        } else if st.samplers.len() < MAX_SAMPLERS {
            st.samplers.push((id, rate));
        } else {
            let d = format!("sampler {id} dropped: {MAX_SAMPLERS} samplers already tracked");
            anomaly(sink, stats, at, AnomalyKind::Limit, d);
        }
    }
}

/// Reads one record of a template with variable-length fields; returns its length.
fn walk_varlen<'a>(t: &Template, rest: &'a [u8], rec: &mut Rec<'a>) -> Option<usize> {
    let mut p = 0usize;
    for f in t.fields.iter() {
        let len = if f.len == VARLEN {
            let l = *rest.get(p)? as usize;
            p += 1;
            if l == 255 {
                let l = be16(rest, p)? as usize;
                p += 2;
                l
            } else {
                l
            }
        } else {
            f.len as usize
        };
        let v = rest.get(p..p + len)?;
        if f.slot != Slot::NONE {
            rec.put(f.slot, v);
        }
        p += len;
    }
    Some(p)
}

/// A record's address: IPv4 unless it is absent or 0.0.0.0 while a non-zero IPv6 address
/// is present (templates carrying both families fill only one of them).
fn address(v4: Option<[u8; 4]>, v6: Option<[u8; 16]>) -> Option<IpAddr> {
    let v4 = v4.map(Ipv4Addr::from);
    let v6 = v6.map(Ipv6Addr::from);
    match (v4, v6) {
        (Some(a), Some(b)) if a.is_unspecified() && !b.is_unspecified() => Some(IpAddr::V6(b)),
        (Some(a), _) => Some(IpAddr::V4(a)),
        (None, b) => b.map(IpAddr::V6),
    }
}

/// Turns a data record into a flow (when it names addresses) and counts it.
fn emit(
    hdr: &Header,
    state: Option<&ScopeState>,
    rec: &Rec,
    at: u64,
    sink: &mut dyn Sink,
    stats: &mut DecodeStats,
) {
    if rec.implausible() {
        let d = format!("octet counter above {MAX_RECORD_OCTETS} clamped");
        anomaly(sink, stats, at, AnomalyKind::Limit, d);
    }
    let octets = rec.octets().min(MAX_RECORD_OCTETS);
    let all = rec.all_octets().min(MAX_RECORD_OCTETS);
    stats.records += 1;
    stats.bytes = stats.bytes.saturating_add(all);
    stats.export_records += 1;
    stats.export_bytes = stats.export_bytes.saturating_add(all);

    let mut src = address(rec.src4, rec.src6);
    let mut dst = address(rec.dst4, rec.dst6);
    let (mut sport, mut dport, mut proto) = (rec.sport, rec.dport, rec.proto);
    let mut src_mac = rec.in_src_mac.or(rec.out_src_mac);
    let mut dst_mac = rec.in_dst_mac.or(rec.out_dst_mac);
    let mut bytes = octets;
    let mut packets = rec.packets();
    // A sampled frame (IE 315) stands in for the flow keys when the record has none.
    if src.is_none() && dst.is_none() {
        let Some(f) = rec.frame.and_then(parse_frame) else {
            return;
        };
        let FrameInfo {
            src: s,
            dst: d,
            sport: sp,
            dport: dp,
            proto: pr,
            src_mac: sm,
            dst_mac: dm,
        } = f;
        (src, dst, sport, dport, proto) = (Some(s), Some(d), sp, dp, pr.0);
        src_mac = src_mac.or(sm);
        dst_mac = dst_mac.or(dm);
        if bytes == 0 {
            bytes = rec.frame_size.unwrap_or(0);
        }
        if packets == 0 {
            packets = 1;
        }
    }
    let unspecified = |other: Option<IpAddr>| match other {
        Some(IpAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    let (src, dst) = (
        src.unwrap_or_else(|| unspecified(dst)),
        dst.unwrap_or_else(|| unspecified(src)),
    );

    let first = rec
        .start_us
        .or(rec
            .start_delta_us
            .map(|d| hdr.export_us - d.min(i64::MAX as u64) as i64))
        .or(rec.first_uptime.map(|t| hdr.uptime_to_micros(t, state)))
        .unwrap_or(hdr.export_us);
    let last = rec
        .end_us
        .or(rec
            .end_delta_us
            .map(|d| hdr.export_us - d.min(i64::MAX as u64) as i64))
        .or(rec.last_uptime.map(|t| hdr.uptime_to_micros(t, state)))
        .unwrap_or(first);
    let sampling = rec
        .declared_rate()
        .or(state.map(|s| s.rate_for(rec.sampler_id)).filter(|&r| r > 0))
        .unwrap_or(1);
    sink.observe(Observation::Flow(Flow {
        first,
        last,
        src,
        dst,
        sport,
        dport,
        proto: IpProto(proto),
        bytes_out: bytes,
        packets_out: packets,
        bytes_in: rec.rev_bytes.unwrap_or(0).min(MAX_RECORD_OCTETS),
        packets_in: rec.rev_pkts.unwrap_or(0),
        src_mac,
        dst_mac,
        uid: None,
        sampling,
    }));
}

/// NetFlow v5: fixed header and records, no templates. Some exporters pack several v5 PDUs
/// into one UDP datagram (logstash's `netflow5.dat`); like nfdump, each is decoded in turn.
fn v5(exporter: IpAddr, p: &[u8], offset: u64, sink: &mut dyn Sink, stats: &mut DecodeStats) {
    let _ = exporter;
    let mut pos = 0usize;
    while let Some(n) = v5_pdu(&p[pos..], offset + pos as u64, sink, stats) {
        pos += n;
        if be16(p, pos) != Some(ExportVersion::NETFLOW_V5.0) {
            return;
        }
    }
}

/// Decodes one v5 PDU; returns its length, or `None` when it was rejected.
fn v5_pdu(p: &[u8], offset: u64, sink: &mut dyn Sink, stats: &mut DecodeStats) -> Option<usize> {
    if p.len() < V5_HEADER {
        let d = format!(
            "netflow v5 header needs {V5_HEADER} bytes, datagram has {}",
            p.len()
        );
        anomaly(sink, stats, offset, AnomalyKind::Truncated, d);
        return None;
    }
    let count = be16(p, 2).unwrap_or(0) as usize;
    let need = V5_HEADER + count * V5_RECORD;
    if need > p.len() {
        // nfdump rejects such datagrams whole, and so do we: the count cannot be trusted.
        let d = format!(
            "netflow v5 header claims {count} records ({need} bytes), datagram has {}",
            p.len()
        );
        anomaly(sink, stats, offset, AnomalyKind::Malformed, d);
        return None;
    }
    if count == 0 {
        return None;
    }
    let uptime = be32(p, 4).unwrap_or(0);
    let secs = be32(p, 8).unwrap_or(0) as i64;
    let nsecs = be32(p, 12).unwrap_or(0) as i64;
    let sampling = (be16(p, 22).unwrap_or(0) & 0x3FFF) as u32;
    let export_us = secs * 1_000_000 + nsecs / 1_000;
    let to_us = |t: u32| export_us - uptime_age_ms(uptime, t) * 1_000;
    for r in p[V5_HEADER..need].chunks_exact(V5_RECORD) {
        let octets = be32(r, 20).unwrap_or(0) as u64;
        stats.records += 1;
        stats.bytes += octets;
        stats.export_records += 1;
        stats.export_bytes += octets;
        sink.observe(Observation::Flow(Flow {
            first: to_us(be32(r, 24).unwrap_or(0)),
            last: to_us(be32(r, 28).unwrap_or(0)),
            src: IpAddr::V4(Ipv4Addr::from(be32(r, 0).unwrap_or(0))),
            dst: IpAddr::V4(Ipv4Addr::from(be32(r, 4).unwrap_or(0))),
            sport: be16(r, 32).unwrap_or(0),
            dport: be16(r, 34).unwrap_or(0),
            proto: IpProto(r[38]),
            bytes_out: octets,
            packets_out: be32(r, 16).unwrap_or(0) as u64,
            bytes_in: 0,
            packets_in: 0,
            src_mac: None,
            dst_mac: None,
            uid: None,
            sampling: sampling.max(1),
        }));
    }
    Some(need)
}

/// True when `payload` plausibly starts a NetFlow v5/v9 or IPFIX datagram.
pub fn looks_like_export(payload: &[u8]) -> bool {
    let p = payload;
    match be16(p, 0).map(ExportVersion) {
        Some(ExportVersion::NETFLOW_V5) => {
            let count = be16(p, 2).unwrap_or(0) as usize;
            (1..=64).contains(&count) && p.len() >= V5_HEADER + count * V5_RECORD
        }
        Some(ExportVersion::NETFLOW_V9) => plausible_first_set(p, V9_HEADER, p.len(), &[0, 1]),
        Some(ExportVersion::IPFIX) => {
            let len = be16(p, 2).unwrap_or(0) as usize;
            len >= IPFIX_HEADER + 4
                && len <= p.len()
                && plausible_first_set(p, IPFIX_HEADER, len, &[2, 3])
        }
        _ => false,
    }
}

fn plausible_first_set(p: &[u8], at: usize, end: usize, template_ids: &[u16]) -> bool {
    match (be16(p, at), be16(p, at + 2)) {
        (Some(id), Some(len)) => {
            (template_ids.contains(&id) || id >= SetId::FIRST_DATA.0)
                && len >= 4
                && at + len as usize <= end
        }
        _ => false,
    }
}

/// Length of the datagram at the start of `p` inside a file of back-to-back datagrams, or
/// `None` when it cannot be framed (the rest of the file is then one datagram).
fn framed_len(p: &[u8]) -> Option<usize> {
    match be16(p, 0).map(ExportVersion)? {
        ExportVersion::NETFLOW_V5 => {
            let n = V5_HEADER + be16(p, 2)? as usize * V5_RECORD;
            (n <= p.len()).then_some(n)
        }
        ExportVersion::IPFIX => {
            let n = be16(p, 2)? as usize;
            (n >= IPFIX_HEADER && n <= p.len()).then_some(n)
        }
        ExportVersion::NETFLOW_V9 => {
            // v9 has no length: walk the flowsets; a flowset id in the reserved range 2..=255
            // cannot be a flowset, so it is the version field of the next datagram.
            let mut pos = V9_HEADER;
            while pos + 4 <= p.len() {
                let id = be16(p, pos)?;
                let len = be16(p, pos + 2)? as usize;
                if (2..SetId::FIRST_DATA.0).contains(&id) {
                    return Some(pos);
                }
                if len < 4 {
                    // Zero padding, then possibly the next datagram (whose version field
                    // starts with a zero byte).
                    let z = pos + p[pos..].iter().position(|&b| b != 0)?;
                    return (z > pos && looks_like_export(&p[z - 1..])).then_some(z - 1);
                }
                if pos + len > p.len() {
                    return None;
                }
                pos += len;
            }
            None
        }
        _ => None,
    }
}

/// Decodes a raw datagram file: one export datagram, or several back to back (as in
/// logstash-codec-netflow's `*.dat` fixtures), from exporter 0.0.0.0, with one template cache.
pub fn decode_file(input: &[u8], sink: &mut dyn Sink) -> DecodeStats {
    let mut c = Collector::new();
    let mut stats = DecodeStats::default();
    let exporter = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let mut pos = 0usize;
    while pos < input.len() {
        let rest = &input[pos..];
        let n = framed_len(rest).filter(|&n| n > 0).unwrap_or(rest.len());
        let st = c.datagram(exporter, &rest[..n], pos as u64, sink);
        stats.records += st.records;
        stats.bytes = stats.bytes.saturating_add(st.bytes);
        stats.anomalies += st.anomalies;
        stats.export_records += st.export_records;
        stats.export_bytes = stats.export_bytes.saturating_add(st.export_bytes);
        pos += n;
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obs::VecSink;

    #[test]
    fn switched_times_after_the_uptime_are_not_49_days_old() {
        assert_eq!(uptime_age_ms(10_000, 4_000), 6_000);
        assert_eq!(uptime_age_ms(10_000, 10_250), -250); // softflowd -a: just after export
        assert_eq!(uptime_age_ms(1_000, u32::MAX - 999), 2_000); // the counter wrapped
        let hdr = Header {
            scope: Scope {
                exporter: IpAddr::V4(Ipv4Addr::LOCALHOST),
                version: 9,
                domain: 0,
            },
            export_us: 1_795_683_699_000_000,
            uptime_ms: Some(10_000),
            offset: 0,
        };
        assert_eq!(hdr.uptime_to_micros(10_250, None), 1_795_683_699_250_000);
        assert_eq!(hdr.uptime_to_micros(9_000, None), 1_795_683_698_000_000);
    }

    /// A NetFlow v9 datagram from observation domain `domain` defining templates `ids`, each
    /// of one field (IPv4 source address), as a flood would.
    fn v9_template_flood(domain: u32, ids: std::ops::Range<u16>) -> Vec<u8> {
        let mut recs = Vec::new();
        for id in ids.clone() {
            recs.extend_from_slice(&id.to_be_bytes());
            recs.extend_from_slice(&1u16.to_be_bytes());
            recs.extend_from_slice(&8u16.to_be_bytes());
            recs.extend_from_slice(&4u16.to_be_bytes());
        }
        let mut p = Vec::new();
        p.extend_from_slice(&9u16.to_be_bytes());
        p.extend_from_slice(&(ids.len() as u16).to_be_bytes());
        p.extend_from_slice(&1000u32.to_be_bytes());
        p.extend_from_slice(&1_795_683_600u32.to_be_bytes());
        p.extend_from_slice(&0u32.to_be_bytes());
        p.extend_from_slice(&domain.to_be_bytes());
        p.extend_from_slice(&0u16.to_be_bytes());
        p.extend_from_slice(&(4 + recs.len() as u16).to_be_bytes());
        p.extend_from_slice(&recs);
        p
    }

    /// A v9 datagram with template 300 (src, dst, bytes, packets, proto, ports) when
    /// `template`, and one data record 10.20.1.7:51514 -> 47.88.1.2:443 when `data`.
    fn v9_legit(template: bool, data: bool) -> Vec<u8> {
        let fields: [(u16, u16); 7] = [(8, 4), (12, 4), (1, 4), (2, 4), (4, 1), (7, 2), (11, 2)];
        let mut p = Vec::new();
        p.extend_from_slice(&9u16.to_be_bytes());
        p.extend_from_slice(&(template as u16 + data as u16).to_be_bytes());
        p.extend_from_slice(&1000u32.to_be_bytes());
        p.extend_from_slice(&1_795_683_600u32.to_be_bytes());
        p.extend_from_slice(&1u32.to_be_bytes());
        p.extend_from_slice(&7u32.to_be_bytes());
        if template {
            p.extend_from_slice(&0u16.to_be_bytes());
            p.extend_from_slice(&(8 + 4 * fields.len() as u16).to_be_bytes());
            p.extend_from_slice(&300u16.to_be_bytes());
            p.extend_from_slice(&(fields.len() as u16).to_be_bytes());
            for (ty, len) in fields {
                p.extend_from_slice(&ty.to_be_bytes());
                p.extend_from_slice(&len.to_be_bytes());
            }
        }
        if data {
            let mut d = vec![10, 20, 1, 7, 47, 88, 1, 2];
            d.extend_from_slice(&1234u32.to_be_bytes());
            d.extend_from_slice(&3u32.to_be_bytes());
            d.push(6);
            d.extend_from_slice(&51514u16.to_be_bytes());
            d.extend_from_slice(&443u16.to_be_bytes());
            d.resize(24, 0);
            p.extend_from_slice(&300u16.to_be_bytes());
            p.extend_from_slice(&(4 + d.len() as u16).to_be_bytes());
            p.extend_from_slice(&d);
        }
        p
    }

    fn flows_to_alibaba(sink: &VecSink) -> usize {
        let dst: IpAddr = Ipv4Addr::new(47, 88, 1, 2).into();
        sink.observations
            .iter()
            .filter(|o| matches!(o, Observation::Flow(f) if f.dst == dst))
            .count()
    }

    /// Finding 11: exporter `i` of a flood (100.64.x.y).
    fn flooder(i: u32) -> IpAddr {
        Ipv4Addr::from(0x6440_0000 | i).into()
    }

    #[test]
    fn template_flood_from_many_exporters_does_not_hide_a_later_exporter() {
        // 100 exporters x 256 templates = 25,600, above the 16,384 the collector keeps.
        let legit: IpAddr = Ipv4Addr::new(192, 0, 2, 99).into();
        let early: IpAddr = Ipv4Addr::new(192, 0, 2, 98).into();
        let mut c = Collector::new();
        let mut sink = VecSink::default();
        // One exporter announces its template before the flood and sends data after it.
        c.datagram(early, &v9_legit(true, false), 0, &mut sink);
        let mut anomalies = 0;
        for e in 0..100 {
            let st = c.datagram(flooder(e), &v9_template_flood(0, 256..512), 0, &mut sink);
            anomalies += st.anomalies;
        }
        assert!(anomalies > 0, "evictions are counted as anomalies");
        assert!(sink.anomalies.iter().any(|a| a.kind == AnomalyKind::Limit));
        assert!(c.templates.len() <= MAX_TEMPLATES, "memory stays bounded");
        // An exporter that starts after the flood gets its template and its flow through.
        c.datagram(legit, &v9_legit(true, true), 0, &mut sink);
        assert_eq!(flows_to_alibaba(&sink), 1, "later exporter's flow lost");
        c.datagram(early, &v9_legit(false, true), 0, &mut sink);
        assert_eq!(flows_to_alibaba(&sink), 2, "earlier exporter's flow lost");
        assert!(c.templates.len() <= MAX_TEMPLATES);
    }

    #[test]
    fn one_exporters_template_flood_evicts_only_its_own_templates() {
        let early: IpAddr = Ipv4Addr::new(192, 0, 2, 98).into();
        let legit: IpAddr = Ipv4Addr::new(192, 0, 2, 99).into();
        let mut c = Collector::new();
        let mut sink = VecSink::default();
        c.datagram(early, &v9_legit(true, false), 0, &mut sink);
        // One exporter and domain defines 20,000 distinct templates.
        for k in 0..100u16 {
            let ids = 256 + k * 200..256 + (k + 1) * 200;
            c.datagram(flooder(1), &v9_template_flood(0, ids), 0, &mut sink);
        }
        assert!(sink.anomalies.iter().any(|a| a.kind == AnomalyKind::Limit));
        let scope = Scope {
            exporter: flooder(1),
            version: 9,
            domain: 0,
        };
        let own = c.templates.scopes.get(&scope).map_or(0, |s| s.by_id.len());
        assert_eq!(
            own, MAX_SCOPE_TEMPLATES,
            "the flooder keeps only its own quota"
        );
        c.datagram(legit, &v9_legit(true, true), 0, &mut sink);
        assert_eq!(
            flows_to_alibaba(&sink),
            1,
            "blocked by another exporter's flood"
        );
        c.datagram(early, &v9_legit(false, true), 0, &mut sink);
        assert_eq!(
            flows_to_alibaba(&sink),
            2,
            "evicted by another exporter's flood"
        );
    }

    /// Found by the netflow fuzz target: samplingPacketInterval and samplingPacketSpace near
    /// 2^64 overflowed their sum (a panic where overflow checks are on).
    #[test]
    fn huge_packet_interval_and_space_do_not_overflow() {
        let rec = Rec {
            packet_interval: Some(u64::MAX),
            packet_space: Some(u64::MAX),
            ..Rec::default()
        };
        assert_eq!(rec.declared_rate(), Some(2)); // one in two packets sampled
        let rec = Rec {
            packet_interval: Some(1),
            packet_space: Some(u64::MAX),
            ..Rec::default()
        };
        assert_eq!(rec.declared_rate(), Some(u32::MAX));
    }

    #[test]
    fn empty_and_short_inputs_are_anomalies() {
        for input in [
            &[][..],
            &[0, 9][..],
            &[0, 10, 0, 16][..],
            &[0, 5, 0, 1][..],
            &[0, 7][..],
        ] {
            let mut sink = VecSink::default();
            let st =
                Collector::new().datagram(IpAddr::V4(Ipv4Addr::LOCALHOST), input, 100, &mut sink);
            assert_eq!(st.export_records, 0);
            assert_eq!(sink.anomalies.len(), 1, "{input:?}");
            assert_eq!(sink.anomalies[0].offset, 100);
        }
    }
}
