//! The frozen intel snapshot: companies, designations, footprint rules and the lookup tables
//! built from them.
//!
//! [`IntelBuilder`] takes rows that refer to each other by company id, checks them (every id
//! resolves, parents form no cycle, values are from their closed sets) and freezes them into an
//! [`Intel`]: **immutable, lookups take `&self` and never lock**, so one `Arc<Intel>` is shared
//! by every thread and replaced whole when newer data is loaded.

use crate::domain::DomainTable;
use crate::ipv4::Ipv4Table;
use crate::ipv6::Ipv6Table;
use crate::mac::{MacMatch, MacTable};
use foldhash::HashMap;
use std::fmt;
use std::net::IpAddr;

/// How a company stands behind an endpoint.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Relationship {
    /// The company's own service.
    OperatedBy,
    /// The company's cloud or CDN, serving any tenant.
    HostedOn,
    /// The company's carrier network.
    TransitVia,
    /// The company made the device (or its network chip).
    MadeBy,
    /// The company supplies software or services (supplier lists, SBOMs).
    SuppliedBy,
}

impl Relationship {
    /// Every relationship: the one vocabulary. The subsets below are the places that admit
    /// fewer, named here so that no list of spellings is written anywhere else.
    pub const ALL: [Relationship; 5] = [
        Relationship::OperatedBy,
        Relationship::HostedOn,
        Relationship::TransitVia,
        Relationship::MadeBy,
        Relationship::SuppliedBy,
    ];
    /// What a footprint row (an AS or a domain rule) says about an endpoint, and so what an
    /// exposure can be: `made-by` comes from MAC blocks only.
    pub const FOOTPRINT: [Relationship; 3] = [
        Relationship::OperatedBy,
        Relationship::HostedOn,
        Relationship::TransitVia,
    ];
    /// What the policy judges and a policy rule may select: exposures and devices. Nothing
    /// produces `supplied-by` yet.
    pub const JUDGED: [Relationship; 4] = [
        Relationship::OperatedBy,
        Relationship::HostedOn,
        Relationship::TransitVia,
        Relationship::MadeBy,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Relationship::OperatedBy => "operated-by",
            Relationship::HostedOn => "hosted-on",
            Relationship::TransitVia => "transit-via",
            Relationship::MadeBy => "made-by",
            Relationship::SuppliedBy => "supplied-by",
        }
    }
    pub fn parse(s: &str) -> Option<Relationship> {
        Relationship::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Relationship {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure the source of a footprint row is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
    pub fn parse(s: &str) -> Option<Confidence> {
        [Confidence::Low, Confidence::Medium, Confidence::High]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// Whether a designation is a legal act or credible reporting.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Reported,
    Designated,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Reported => "reported",
            Status::Designated => "designated",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "reported" => Some(Status::Reported),
            "designated" => Some(Status::Designated),
            _ => None,
        }
    }
}

pub type EntityId = u32;

/// Designation list ids with a fixed name; state bans are `state-ban-<xx>` ([`is_list_id`]).
pub const LIST_IDS: [&str; 8] = [
    "dod-1260h",
    "fcc-covered",
    "ndaa-889",
    "ndaa-5949",
    "ndaa-154",
    "ofac-ns-cmic",
    "bis-entity-list",
    "reported",
];

/// True for a known list id: one of [`LIST_IDS`] or `state-ban-` and a two-letter state.
pub fn is_list_id(s: &str) -> bool {
    LIST_IDS.contains(&s)
        || s.strip_prefix("state-ban-")
            .is_some_and(|st| st.len() == 2 && st.bytes().all(|c| c.is_ascii_lowercase()))
}

#[derive(Clone, Debug)]
pub struct Entity {
    pub id: Box<str>,
    pub name: Box<str>,
    pub aliases: Vec<Box<str>>,
    pub country: Box<str>,
    pub parent: Option<EntityId>,
    /// Kind of link to the parent (`subsidiary`, `brand`, ...).
    pub link: Box<str>,
    /// Percent held by the parent, when known.
    pub ownership: Option<f32>,
    pub source: Box<str>,
}

#[derive(Clone, Debug)]
pub struct Designation {
    pub entity: EntityId,
    /// List id: `dod-1260h`, `fcc-covered`, `ndaa-889`, `ofac-ns-cmic`, `state-ban-tx`, ...
    pub list: Box<str>,
    /// Date of the list edition read.
    pub edition: Box<str>,
    /// When the entity first appeared on the list.
    pub date_added: Box<str>,
    pub status: Status,
    pub source: Box<str>,
    pub note: Box<str>,
}

/// A footprint rule's attribution: company, relationship, confidence and source.
#[derive(Clone, Debug)]
pub struct Attribution {
    pub entity: EntityId,
    pub relationship: Relationship,
    pub confidence: Confidence,
    pub source: Box<str>,
}

#[derive(Clone, Debug)]
pub struct AsnRule {
    pub asn: u32,
    pub as_org: Box<str>,
    pub attribution: Attribution,
    pub note: Box<str>,
}

#[derive(Clone, Debug)]
pub struct DomainRule {
    pub suffix: Box<str>,
    pub service: Box<str>,
    pub attribution: Attribution,
}

/// An IEEE registry block: its maker, and the company when the block is of concern.
#[derive(Clone, Debug)]
pub struct MacBlock {
    pub prefix: u64,
    pub bits: u8,
    pub registry: Box<str>,
    pub organization: Box<str>,
    pub entity: Option<EntityId>,
    pub source: Box<str>,
}

/// An autonomous system as known to the IP tables.
#[derive(Clone, Debug)]
pub struct AsInfo {
    pub asn: u32,
    pub org: Box<str>,
    /// Index into [`Intel::asn_rules`] when the AS is of concern.
    pub rule: Option<u32>,
}

/// A dataset the snapshot was built from.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    pub id: Box<str>,
    pub name: Box<str>,
    pub version: Box<str>,
    /// Date of the snapshot of the dataset (YYYY-MM-DD).
    pub date: Box<str>,
    pub url: Box<str>,
    pub licence: Box<str>,
    pub credit: Box<str>,
}

/// An IP range → AS row, as loaded from a dataset.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct AsRange<A> {
    pub start: A,
    pub end: A,
    pub asn: u32,
}

/// What an IP lookup found.
#[derive(Copy, Clone, Debug)]
pub struct IpMatch<'a> {
    pub asn: &'a AsInfo,
    /// The dataset the range came from.
    pub dataset: &'a str,
    /// The range the address fell in, inclusive (IPv4 addresses as IPv4).
    pub range: (IpAddr, IpAddr),
}

/// A row's place in its file, for error messages: `intel/asn.csv:14`.
pub type Origin = Box<str>;

/// Errors found while freezing: each names the row it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    pub origin: String,
    pub message: String,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

impl std::error::Error for BuildError {}

fn err(origin: &str, message: impl Into<String>) -> BuildError {
    BuildError {
        origin: origin.to_string(),
        message: message.into(),
    }
}

/// A company row before ids are resolved.
#[derive(Clone, Debug, Default)]
pub struct EntityRow {
    pub id: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub country: String,
    pub parent: String,
    pub link: String,
    pub ownership: Option<f32>,
    pub source: String,
}

/// A footprint or designation row's company reference before ids are resolved.
#[derive(Clone, Debug)]
pub struct Ref<T> {
    pub origin: Origin,
    pub entity: String,
    pub row: T,
}

/// Collects rows, then checks and freezes them.
#[derive(Default)]
pub struct IntelBuilder {
    entities: Vec<(Origin, EntityRow)>,
    designations: Vec<Ref<Designation>>,
    asn_rules: Vec<Ref<AsnRule>>,
    domain_rules: Vec<Ref<DomainRule>>,
    mac_blocks: Vec<(Origin, String, MacBlock)>,
    datasets: Vec<Dataset>,
    as_names: HashMap<u32, Box<str>>,
    v4: Vec<AsRange<u32>>,
    v6: Vec<AsRange<u128>>,
    ip_dataset: Box<str>,
}

impl IntelBuilder {
    pub fn new() -> IntelBuilder {
        IntelBuilder::default()
    }
    pub fn entity(&mut self, origin: &str, row: EntityRow) {
        self.entities.push((origin.into(), row));
    }
    /// `row.entity` is ignored; `entity` names the company.
    pub fn designation(&mut self, origin: &str, entity: &str, row: Designation) {
        self.designations.push(Ref {
            origin: origin.into(),
            entity: entity.into(),
            row,
        });
    }
    pub fn asn_rule(&mut self, origin: &str, entity: &str, row: AsnRule) {
        self.asn_rules.push(Ref {
            origin: origin.into(),
            entity: entity.into(),
            row,
        });
    }
    pub fn domain_rule(&mut self, origin: &str, entity: &str, row: DomainRule) {
        self.domain_rules.push(Ref {
            origin: origin.into(),
            entity: entity.into(),
            row,
        });
    }
    /// Room for `additional` more MAC blocks (the IEEE registry has tens of thousands).
    pub fn reserve_mac_blocks(&mut self, additional: usize) {
        self.mac_blocks.reserve(additional);
    }
    /// `entity` empty for a block of no concern (maker name only).
    pub fn mac_block(&mut self, origin: &str, entity: &str, row: MacBlock) {
        self.mac_blocks.push((origin.into(), entity.into(), row));
    }
    pub fn dataset(&mut self, d: Dataset) {
        self.datasets.push(d);
    }
    /// The organisation name of an AS, from any source; the first name given wins.
    pub fn as_name(&mut self, asn: u32, name: &str) {
        self.as_names.entry(asn).or_insert_with(|| name.into());
    }
    /// IP → AS ranges and the id of the dataset they come from. Replaces earlier ranges.
    pub fn ip_ranges(&mut self, dataset: &str, v4: Vec<AsRange<u32>>, v6: Vec<AsRange<u128>>) {
        self.ip_dataset = dataset.into();
        self.v4 = v4;
        self.v6 = v6;
    }

    /// Checks every row and builds the lookup tables. Fails on the first bad row.
    pub fn freeze(self) -> Result<Intel, BuildError> {
        let mut entity_by_id: HashMap<Box<str>, EntityId> = HashMap::default();
        for (i, (origin, e)) in self.entities.iter().enumerate() {
            if !is_slug(&e.id) {
                return Err(err(
                    origin,
                    format!("company id {:?} is not a lowercase slug", e.id),
                ));
            }
            if entity_by_id
                .insert(e.id.as_str().into(), i as EntityId)
                .is_some()
            {
                return Err(err(
                    origin,
                    format!("company id {:?} is defined twice", e.id),
                ));
            }
        }
        let resolve = |origin: &str, id: &str| -> Result<EntityId, BuildError> {
            entity_by_id
                .get(id)
                .copied()
                .ok_or_else(|| err(origin, format!("unknown company id {id:?}")))
        };
        let mut entities = Vec::with_capacity(self.entities.len());
        for (origin, e) in &self.entities {
            let parent = match e.parent.as_str() {
                "" => None,
                p => Some(resolve(origin, p)?),
            };
            entities.push(Entity {
                id: e.id.as_str().into(),
                name: e.name.as_str().into(),
                aliases: e.aliases.iter().map(|a| a.as_str().into()).collect(),
                country: e.country.as_str().into(),
                parent,
                link: e.link.as_str().into(),
                ownership: e.ownership,
                source: e.source.as_str().into(),
            });
        }
        // Parents must form trees: walking up from any entity ends within n steps.
        for (i, (origin, _)) in self.entities.iter().enumerate() {
            let mut cur = i as EntityId;
            for _ in 0..=entities.len() {
                match entities[cur as usize].parent {
                    Some(p) => cur = p,
                    None => break,
                }
                if cur == i as EntityId {
                    return Err(err(origin, "the parent chain loops back to this company"));
                }
            }
        }
        let mut designations = Vec::new();
        for d in self.designations {
            let mut row = d.row;
            row.entity = resolve(&d.origin, &d.entity)?;
            designations.push(row);
        }
        let mut asn_rules = Vec::new();
        let mut rule_by_asn = HashMap::default();
        for r in self.asn_rules {
            let mut row = r.row;
            row.attribution.entity = resolve(&r.origin, &r.entity)?;
            if rule_by_asn
                .insert(row.asn, asn_rules.len() as u32)
                .is_some()
            {
                return Err(err(&r.origin, format!("AS{} has two rules", row.asn)));
            }
            asn_rules.push(row);
        }
        let mut domains = DomainTable::default();
        let mut domain_rules = Vec::new();
        for r in self.domain_rules {
            let mut row = r.row;
            row.attribution.entity = resolve(&r.origin, &r.entity)?;
            let Some(n) = crate::domain::normalize(&row.suffix) else {
                return Err(err(
                    &r.origin,
                    format!("{:?} is not a domain name", row.suffix),
                ));
            };
            if domains.lookup(&n).is_some_and(|(m, _)| m == n) {
                return Err(err(&r.origin, format!("suffix {n:?} has two rules")));
            }
            domains.insert(&n, domain_rules.len() as u32);
            row.suffix = n.into();
            domain_rules.push(row);
        }
        let mut macs = MacTable::default();
        macs.reserve(self.mac_blocks.len());
        let mut mac_blocks = Vec::with_capacity(self.mac_blocks.len());
        for (origin, entity, mut b) in self.mac_blocks {
            if !entity.is_empty() {
                b.entity = Some(resolve(&origin, &entity)?);
            }
            // A block of concern replaces a plain maker row for the same block.
            macs.insert(b.prefix, b.bits, mac_blocks.len() as u32);
            mac_blocks.push(b);
        }

        // AS table: every AS with a range or a rule.
        let mut as_names = self.as_names;
        for r in &asn_rules {
            as_names.entry(r.asn).or_insert_with(|| r.as_org.clone());
        }
        let mut asns: Vec<AsInfo> = Vec::new();
        let mut as_index: HashMap<u32, u32> = HashMap::default();
        let mut intern = |asn: u32| -> u32 {
            *as_index.entry(asn).or_insert_with(|| {
                asns.push(AsInfo {
                    asn,
                    org: as_names.get(&asn).cloned().unwrap_or_default(),
                    rule: rule_by_asn.get(&asn).copied(),
                });
                (asns.len() - 1) as u32
            })
        };
        let v4: Vec<(u32, u32, u32)> = self
            .v4
            .iter()
            .map(|r| (r.start, r.end, intern(r.asn)))
            .collect();
        let v6: Vec<(u128, u128, u32)> = self
            .v6
            .iter()
            .map(|r| (r.start, r.end, intern(r.asn)))
            .collect();
        for r in &asn_rules {
            intern(r.asn);
        }
        // Which /16 and /24 blocks a range of an AS of concern touches.
        let mut concern16 = vec![0u64; 1 << 10];
        let mut concern24 = vec![0u64; 1 << 18];
        for &(start, end, i) in &v4 {
            if asns.get(i as usize).is_some_and(|a| a.rule.is_some()) {
                for b in (start >> 8)..=(end >> 8) {
                    concern24[(b >> 6) as usize] |= 1 << (b & 63);
                }
                for b in (start >> 16)..=(end >> 16) {
                    concern16[(b >> 6) as usize] |= 1 << (b & 63);
                }
            }
        }
        let v4 = Ipv4Table::build(&v4).map_err(|m| err(&self.ip_dataset, m))?;
        let v6 = Ipv6Table::build(&v6);

        let mut intel = Intel {
            groups: Vec::new(),
            entities,
            entity_by_id,
            designations,
            asn_rules,
            domain_rules,
            mac_blocks,
            datasets: self.datasets,
            asns,
            as_index,
            v4,
            concern16,
            concern24,
            v6,
            domains,
            macs,
            ip_dataset: self.ip_dataset,
        };
        intel.groups = (0..intel.entities.len() as EntityId)
            .map(|id| *intel.ownership_chain(id).last().unwrap_or(&id))
            .collect();
        Ok(intel)
    }
}

/// True for `[a-z0-9]+(-[a-z0-9]+)*`.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// The frozen snapshot.
pub struct Intel {
    pub entities: Vec<Entity>,
    /// The ultimate parent of each entity (hot: asked once per exposure).
    groups: Vec<EntityId>,
    entity_by_id: HashMap<Box<str>, EntityId>,
    pub designations: Vec<Designation>,
    pub asn_rules: Vec<AsnRule>,
    pub domain_rules: Vec<DomainRule>,
    pub mac_blocks: Vec<MacBlock>,
    pub datasets: Vec<Dataset>,
    pub asns: Vec<AsInfo>,
    as_index: HashMap<u32, u32>,
    v4: Ipv4Table,
    /// One bit per IPv4 /16, then per /24: set when a range of an AS of concern touches
    /// it. Most addresses of a scan are cleared by the first (8 KiB, in the fastest cache)
    /// without reading the second (2 MiB) or the table (tens of megabytes; a miss to memory
    /// each).
    concern16: Vec<u64>,
    concern24: Vec<u64>,
    v6: Ipv6Table,
    domains: DomainTable,
    macs: MacTable,
    /// Id of the dataset the IP ranges come from.
    pub ip_dataset: Box<str>,
}

/// Bit `b` of a bitmap.
#[inline(always)]
fn bit(map: &[u64], b: u32) -> bool {
    map.get((b >> 6) as usize)
        .is_some_and(|w| w & (1 << (b & 63)) != 0)
}

/// A designation that applies to an entity, possibly through its owner.
#[derive(Copy, Clone, Debug)]
pub struct AppliedDesignation<'a> {
    pub designation: &'a Designation,
    /// The entity on the list: the queried one or one of its owners.
    pub holder: EntityId,
}

impl Intel {
    pub fn entity(&self, id: EntityId) -> &Entity {
        &self.entities[id as usize]
    }

    pub fn entity_by_id(&self, id: &str) -> Option<EntityId> {
        self.entity_by_id.get(id).copied()
    }

    /// The entity and its owners, nearest first.
    pub fn ownership_chain(&self, id: EntityId) -> Vec<EntityId> {
        let mut out = vec![id];
        let mut cur = id;
        while let Some(p) = self.entities[cur as usize].parent {
            if out.contains(&p) {
                break; // unreachable after freeze's cycle check; kept as a guard
            }
            out.push(p);
            cur = p;
        }
        out
    }

    /// The ultimate parent.
    pub fn group(&self, id: EntityId) -> EntityId {
        self.groups.get(id as usize).copied().unwrap_or(id)
    }

    /// Designations of the entity and of every owner up the chain.
    pub fn designations(&self, id: EntityId) -> Vec<AppliedDesignation<'_>> {
        let chain = self.ownership_chain(id);
        let mut out = Vec::new();
        for holder in chain {
            for d in self.designations.iter().filter(|d| d.entity == holder) {
                out.push(AppliedDesignation {
                    designation: d,
                    holder,
                });
            }
        }
        out
    }

    /// The AS holding `ip`, from the loaded IP → AS ranges.
    pub fn lookup_ip(&self, ip: IpAddr) -> Option<IpMatch<'_>> {
        use std::net::{Ipv4Addr, Ipv6Addr};
        let v4 = match ip {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(a) => a.to_ipv4_mapped(),
        };
        let (i, range) = match (v4, ip) {
            (Some(a), _) => {
                let a = u32::from(a);
                let (s, e) = self.v4.range_of(a)?;
                let r = (IpAddr::V4(Ipv4Addr::from(s)), IpAddr::V4(Ipv4Addr::from(e)));
                (self.v4.lookup(a)?, r)
            }
            (None, IpAddr::V6(a)) => {
                let a = u128::from(a);
                let (s, e) = self.v6.range_of(a)?;
                let r = (IpAddr::V6(Ipv6Addr::from(s)), IpAddr::V6(Ipv6Addr::from(e)));
                (self.v6.lookup(a)?, r)
            }
            (None, IpAddr::V4(_)) => return None,
        };
        Some(IpMatch {
            asn: &self.asns[i as usize],
            dataset: &self.ip_dataset,
            range,
        })
    }

    /// IPv4 lookup returning the AS table index: the hot path for scans.
    #[inline]
    pub fn lookup_v4(&self, ip: u32) -> Option<u32> {
        self.v4.lookup(ip)
    }

    /// False when no AS of concern has a range in `ip`'s /24: [`Intel::lookup_v4`] then
    /// finds no AS with a rule. (True means maybe.)
    #[inline]
    pub fn may_be_of_concern_v4(&self, ip: u32) -> bool {
        self.may_be_of_concern_v4_16(ip) && bit(&self.concern24, ip >> 8)
    }

    /// The first level of [`Intel::may_be_of_concern_v4`] alone: false when no AS of
    /// concern has a range in `ip`'s /16. Always in the fastest cache, where the /24 level
    /// is a miss to memory for an address that passes this one.
    #[inline]
    pub fn may_be_of_concern_v4_16(&self, ip: u32) -> bool {
        bit(&self.concern16, ip >> 16)
    }

    pub fn as_info(&self, asn: u32) -> Option<&AsInfo> {
        self.as_index.get(&asn).map(|&i| &self.asns[i as usize])
    }

    /// The longest domain rule matching a normalised name: `(matched suffix, rule)`.
    pub fn lookup_domain<'n>(&self, name: &'n str) -> Option<(&'n str, &DomainRule)> {
        self.domains
            .lookup(name)
            .map(|(s, i)| (s, &self.domain_rules[i as usize]))
    }

    /// The registry block of a MAC address, or why there is none.
    pub fn lookup_mac(&self, mac: [u8; 6]) -> (MacMatch, Option<&MacBlock>) {
        let m = self.macs.lookup(mac);
        let block = match m {
            MacMatch::Block { value, .. } => Some(&self.mac_blocks[value as usize]),
            _ => None,
        };
        (m, block)
    }

    pub fn dataset(&self, id: &str) -> Option<&Dataset> {
        self.datasets.iter().find(|d| &*d.id == id)
    }

    /// Counts for `intel status`.
    pub fn stats(&self) -> IntelStats {
        IntelStats {
            entities: self.entities.len(),
            designations: self.designations.len(),
            asn_rules: self.asn_rules.len(),
            domain_rules: self.domain_rules.len(),
            mac_blocks: self.mac_blocks.len(),
            mac_blocks_of_concern: self
                .mac_blocks
                .iter()
                .filter(|b| b.entity.is_some())
                .count(),
            asns: self.asns.len(),
            v4_segments: self.v4.segments(),
            v6_segments: self.v6.segments(),
            memory_bytes: self.v4.memory_bytes() + self.v6.memory_bytes(),
        }
    }
}

#[derive(Copy, Clone, Debug, Default)]
pub struct IntelStats {
    pub entities: usize,
    pub designations: usize,
    pub asn_rules: usize,
    pub domain_rules: usize,
    pub mac_blocks: usize,
    pub mac_blocks_of_concern: usize,
    pub asns: usize,
    pub v4_segments: usize,
    pub v6_segments: usize,
    /// Bytes held by the IP tables.
    pub memory_bytes: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(id: &str, parent: &str) -> EntityRow {
        EntityRow {
            id: id.into(),
            name: id.into(),
            parent: parent.into(),
            ..Default::default()
        }
    }

    fn designation(list: &str) -> Designation {
        Designation {
            entity: 0,
            list: list.into(),
            edition: "2026-06-08".into(),
            date_added: "".into(),
            status: Status::Designated,
            source: "https://example.gov".into(),
            note: "".into(),
        }
    }

    /// One spelling per relationship, and the subsets nest: footprint ⊂ judged ⊂ all.
    #[test]
    fn relationship_vocabulary_is_one() {
        for r in Relationship::ALL {
            assert_eq!(Relationship::parse(r.as_str()), Some(r));
            assert_eq!(r.to_string(), r.as_str());
        }
        let mut spellings: Vec<&str> = Relationship::ALL.iter().map(|r| r.as_str()).collect();
        spellings.sort();
        spellings.dedup();
        assert_eq!(spellings.len(), Relationship::ALL.len());
        assert!(Relationship::FOOTPRINT
            .iter()
            .all(|r| Relationship::JUDGED.contains(r)));
        assert!(Relationship::JUDGED
            .iter()
            .all(|r| Relationship::ALL.contains(r)));
        assert!(!Relationship::FOOTPRINT.contains(&Relationship::MadeBy));
        assert_eq!(Relationship::parse("hosted"), None);
    }

    #[test]
    fn designations_follow_the_ownership_chain() {
        let mut b = IntelBuilder::new();
        b.entity("c:1", entity("alibaba", ""));
        b.entity("c:2", entity("alibaba-cloud", "alibaba"));
        b.entity("c:3", entity("unrelated", ""));
        b.designation("d:1", "alibaba", designation("dod-1260h"));
        let intel = b.freeze().unwrap();
        let cloud = intel.entity_by_id("alibaba-cloud").unwrap();
        let group = intel.entity_by_id("alibaba").unwrap();
        assert_eq!(intel.group(cloud), group);
        let ds = intel.designations(cloud);
        assert_eq!(ds.len(), 1);
        assert_eq!(&*ds[0].designation.list, "dod-1260h");
        assert_eq!(ds[0].holder, group);
        assert!(intel
            .designations(intel.entity_by_id("unrelated").unwrap())
            .is_empty());
    }

    #[test]
    fn bad_rows_are_refused_with_their_origin() {
        let mut b = IntelBuilder::new();
        b.entity("intel/companies.csv:2", entity("a", "b"));
        b.entity("intel/companies.csv:3", entity("b", "a"));
        let e = b.freeze().err().unwrap();
        assert_eq!(e.origin, "intel/companies.csv:2");
        assert!(e.message.contains("loops"), "{e}");

        let mut b = IntelBuilder::new();
        b.entity("intel/companies.csv:2", entity("Bad Id", ""));
        assert!(b.freeze().err().unwrap().message.contains("slug"));

        let mut b = IntelBuilder::new();
        b.entity("intel/companies.csv:2", entity("a", ""));
        b.designation(
            "intel/designations.csv:7",
            "nobody",
            designation("fcc-covered"),
        );
        let e = b.freeze().err().unwrap();
        assert_eq!(
            e.to_string(),
            "intel/designations.csv:7: unknown company id \"nobody\""
        );
    }

    #[test]
    fn slugs() {
        for good in ["alibaba", "alibaba-cloud", "tp-link", "360"] {
            assert!(is_slug(good), "{good}");
        }
        for bad in ["", "-a", "a-", "a--b", "A", "a_b", "a b"] {
            assert!(!is_slug(bad), "{bad}");
        }
    }
}
