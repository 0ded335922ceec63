//! The records of cordon's JSONL wire format (`docs/wire-format.md`), as Rust types.
//!
//! `cordon scan --format jsonl` writes them; `cordon report`, `cordon diff` and integrations
//! read them back. **Fields are only ever added, never renamed or retyped**; readers ignore
//! what they do not know (no `deny_unknown_fields` here, on purpose).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::marker::PhantomData;

pub use cordon_index::{Relationship, Status};

/// Version of the wire format, written in every summary record. Bumped only when a field
/// changes meaning or is removed (which the growth rule forbids within a major version).
pub const WIRE_VERSION: u32 = 1;

/// How much a finding matters, in order.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Least severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// 0 (info) to 4 (critical).
    pub fn level(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Severity, String> {
        Severity::parse(s).ok_or_else(|| {
            let all: Vec<&str> = Severity::ALL.iter().map(|v| v.as_str()).collect();
            format!("severity {s:?}: expected one of {}", all.join(", "))
        })
    }
}

/// A closed set of words with one spelling each on the wire: [`Severity`], [`Relationship`],
/// [`Status`].
pub trait Vocabulary: Copy + 'static {
    fn as_str(self) -> &'static str;
    fn parse(s: &str) -> Option<Self>;
}

impl Vocabulary for Severity {
    fn as_str(self) -> &'static str {
        Severity::as_str(self)
    }
    fn parse(s: &str) -> Option<Severity> {
        Severity::parse(s)
    }
}

impl Vocabulary for Relationship {
    fn as_str(self) -> &'static str {
        Relationship::as_str(self)
    }
    fn parse(s: &str) -> Option<Relationship> {
        Relationship::parse(s)
    }
}

impl Vocabulary for Status {
    fn as_str(self) -> &'static str {
        Status::as_str(self)
    }
    fn parse(s: &str) -> Option<Status> {
        Status::parse(s)
    }
}

/// A word of a [`Vocabulary`] as a record carries it. **Readers never refuse a word they do
/// not know**: a newer cordon may write one, and it is kept as written (and written back the
/// same) instead of failing the record. Serialised as the bare string, so the JSON is the
/// same as a `String` field's.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Open<T> {
    Known(T),
    /// Not a word of `T`: from a newer writer, or (for a finding's relationship)
    /// [`INDICATOR_MATCH`].
    Other(String),
}

impl<T: Vocabulary> Open<T> {
    /// The word read from a record.
    pub fn read(s: &str) -> Open<T> {
        T::parse(s).map_or_else(|| Open::Other(s.to_string()), Open::Known)
    }

    pub fn known(&self) -> Option<T> {
        match self {
            Open::Known(t) => Some(*t),
            Open::Other(_) => None,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Open::Known(t) => t.as_str(),
            Open::Other(s) => s,
        }
    }
}

impl<T> From<T> for Open<T> {
    fn from(t: T) -> Open<T> {
        Open::Known(t)
    }
}

impl<T: Vocabulary + PartialEq> PartialEq<T> for Open<T> {
    fn eq(&self, other: &T) -> bool {
        self.known().is_some_and(|t| t == *other)
    }
}

impl<T: Vocabulary> fmt::Display for Open<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl<T: Vocabulary> Serialize for Open<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de, T: Vocabulary> Deserialize<'de> for Open<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Open<T>, D::Error> {
        struct Word<T>(PhantomData<T>);
        impl<T: Vocabulary> serde::de::Visitor<'_> for Word<T> {
            type Value = Open<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Open<T>, E> {
                Ok(Open::read(s))
            }
        }
        d.deserialize_str(Word(PhantomData))
    }
}

/// The `relationship` of a threat-indicator finding: it names an indicator, not a company.
pub const INDICATOR_MATCH: &str = "indicator-match";

/// One step of an evidence chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// `address`, `prefix`, `asn`, `organisation`, `rule`, `name`, `suffix`, `dns`, `tls`,
    /// `http`, `x509`, `mac`, `block`, `dhcp`, `company`, `parent`, `hosted-on`, ...
    pub kind: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

/// A designation that applies to the record's entity (directly or through an owner).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DesignationRef {
    /// `dod-1260h`, `fcc-covered`, `ndaa-889`, `ofac-ns-cmic`, `state-ban-tx`, `reported`, ...
    pub list: String,
    /// When the entity was added to the list (or the edition date when unknown).
    pub date: String,
    /// `designated` or `reported`.
    pub status: Open<Status>,
    /// Official source URL.
    pub source: String,
    /// The entity that is on the list: the record's entity or one of its owners.
    pub holder: String,
}

/// Traffic between one internal asset and infrastructure of one company, in one relationship.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exposure {
    /// The internal endpoint (IP address).
    pub asset: String,
    /// The most specific company (stable id) and its ultimate parent.
    pub entity: String,
    pub group: String,
    /// `operated-by`, `hosted-on` or `transit-via`.
    pub relationship: Open<Relationship>,
    /// 0..1, two decimals.
    pub confidence: f64,
    pub flows: u64,
    /// Bytes from the asset to the company's side, and back.
    pub bytes_out: u64,
    pub bytes_in: u64,
    /// RFC 3339 UTC.
    pub first_seen: String,
    pub last_seen: String,
    /// Host names seen for the remote side (DNS, TLS, HTTP), at most 20.
    pub names: Vec<String>,
    /// Example remote addresses, at most 10.
    pub remotes: Vec<String>,
    /// Remote ports, at most 20.
    #[serde(default)]
    pub ports: Vec<u16>,
    /// Kinds of service from domain rules (`ai-model-api`, `cdn`, `payment`, ...).
    #[serde(default)]
    pub services: Vec<String>,
    /// The evidence chain of the strongest attribution, then other signals.
    pub evidence: Vec<Evidence>,
    pub designations: Vec<DesignationRef>,
}

/// A device on the network whose maker is a company of concern (or, with `--all-devices`,
/// any device).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub mac: String,
    /// Last address seen for it.
    pub ip: Option<String>,
    pub entity: Option<String>,
    pub group: Option<String>,
    /// Always `made-by` when `entity` is set.
    pub relationship: Option<Open<Relationship>>,
    /// IEEE registry organisation name.
    pub maker: Option<String>,
    pub host_name: Option<String>,
    pub vendor_class: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub evidence: Vec<Evidence>,
    pub designations: Vec<DesignationRef>,
}

/// One malformed record, as reported by a decoder (capped per input; the summary counts all).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnomalyRecord {
    pub path: String,
    pub offset: u64,
    pub kind: String,
    pub detail: String,
}

/// What was read from one input file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InputSummary {
    pub path: String,
    /// Detected format (`pcap`, `zeek-tsv`, `netflow`, ...), or `unknown`.
    pub format: String,
    /// Records decoded: packets, flow-export records, or log lines.
    pub records: u64,
    /// For flow exports: the sum of octet counters (as nfdump totals them); for captures:
    /// captured bytes; for logs: the sum of flow byte counters.
    pub bytes: u64,
    pub anomalies: u64,
    /// A problem that stopped this input (unreadable, unknown format), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The dataset dates behind the run's attributions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetRef {
    pub id: String,
    pub date: String,
}

/// The last record of a scan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub wire_version: u32,
    pub cordon_version: String,
    /// When the scan ran (RFC 3339 UTC).
    pub scanned_at: String,
    pub inputs: Vec<InputSummary>,
    pub records: u64,
    pub bytes: u64,
    pub anomalies: u64,
    pub flows: u64,
    pub exposures: u64,
    pub devices: u64,
    /// Earliest and latest observation time, RFC 3339.
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub datasets: Vec<DatasetRef>,
    /// The threat-indicator load report, when `--indicators` was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indicators: Option<crate::indicators::LoadReport>,
    /// Threat-indicator match records written.
    #[serde(default)]
    pub indicator_matches: u64,
    /// Findings written (0 when no finding evaluation ran).
    #[serde(default)]
    pub findings: u64,
    /// Waivers from `--waivers` whose `expires` date has passed: they waive nothing.
    #[serde(default)]
    pub expired_waivers: Vec<ExpiredWaiver>,
    /// What each stage counted (`metrics::Counters`; added in cordon 0.1, absent before).
    #[serde(default)]
    pub counters: crate::metrics::Counters,
}

/// A waiver whose expiry date has passed, listed in the summary so it gets renewed or removed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExpiredWaiver {
    /// `FILE:LINE` of the `[[waiver]]` table.
    pub at: String,
    pub asset: Option<String>,
    pub group: Option<String>,
    pub entity: Option<String>,
    pub reason: String,
    /// `YYYY-MM-DD`.
    pub expires: String,
    /// Findings that this waiver would have waived had it not expired.
    pub matched: u64,
}

/// The regulatory context of a finding: which act or rule, and from when it applies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Regulation {
    /// Stable id: `fcc-covered-list`, `ndaa-889`, `ndaa-fy24-805`, `doj-dsp`, `state-ban-tx`, ...
    pub id: String,
    /// Human-readable name.
    pub title: String,
    /// Legal citation (`47 CFR 1.50002`, `FAR 52.204-25`, `28 CFR 202.205`, ...).
    pub citation: String,
    /// The date that matters for this finding (`YYYY-MM-DD`): effective date, designation
    /// date or the start of a contracting bar.
    pub date: String,
    /// What it means here, one or two sentences.
    pub note: String,
    /// Official source URL.
    pub source: String,
}

/// A policy decision about one exposure or device: what rule it breaks, how bad, why, and
/// what to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable across runs for the same asset, company group and rule (16 hex digits).
    pub id: String,
    /// Rule id from the built-in policy (`docs/policy.md`) or the user's policy file.
    pub rule: String,
    /// `info`, `low`, `medium`, `high` or `critical`.
    pub severity: Open<Severity>,
    /// The internal asset: IP address for exposures, MAC address for devices.
    pub asset: String,
    /// Name from the asset inventory, when it has one.
    pub asset_name: Option<String>,
    pub entity: String,
    pub group: String,
    /// `operated-by`, `hosted-on`, `transit-via` or `made-by`; [`INDICATOR_MATCH`] for a
    /// threat-indicator finding.
    pub relationship: Open<Relationship>,
    pub designations: Vec<DesignationRef>,
    pub regulations: Vec<Regulation>,
    /// Why the rule fired (inventory match, service, data categories), then the
    /// attribution chain of the exposure or device.
    pub evidence: Vec<Evidence>,
    /// What to do about it.
    pub remediation: String,
    /// True when an active waiver covers it: it stays in the output and does not count for
    /// `--fail-on`.
    pub waived: bool,
    /// The reason and expiry of the waiver, when waived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver: Option<String>,
    /// Inventory owner of the asset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Traffic behind an exposure finding (0 for devices).
    #[serde(default)]
    pub flows: u64,
    #[serde(default)]
    pub bytes_out: u64,
    #[serde(default)]
    pub first_seen: Option<String>,
    #[serde(default)]
    pub last_seen: Option<String>,
}

impl Finding {
    /// The severity to sort by: one this build does not know (from a newer scan) counts as
    /// `info`.
    pub fn rank(&self) -> Severity {
        self.severity.known().unwrap_or(Severity::Info)
    }
}

/// The indicator behind an [`IndicatorMatch`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndicatorRef {
    /// STIX object id, MISP attribute uuid, or `<list file name>:<line>`.
    pub id: String,
    /// The STIX pattern (STIX indicators).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The value (MISP attributes and list lines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// STIX name, MISP event info, or the list line's comment.
    pub name: Option<String>,
    /// The indicator file, as given.
    pub source: String,
}

/// Traffic between one asset and one threat indicator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndicatorMatch {
    /// The internal endpoint (IP address); the client side when neither end is internal.
    pub asset: String,
    /// The remote side first seen matching: an address, or a name when no address is known.
    pub remote: String,
    pub indicator: IndicatorRef,
    /// RFC 3339 UTC.
    pub first_seen: String,
    pub last_seen: String,
    /// Observations that matched (flows, DNS answers, TLS/HTTP names).
    pub count: u64,
    /// What matched, at most 10 distinct items: `address`, `dns`, `cname`, `dns-answer`,
    /// `tls`, `http`, `x509`.
    pub evidence: Vec<Evidence>,
}

/// A record of the JSONL stream, tagged by `type`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Record {
    Exposure(Exposure),
    Device(Device),
    IndicatorMatch(IndicatorMatch),
    Anomaly(AnomalyRecord),
    Summary(Summary),
    Finding(Finding),
}

/// [`Record`] by reference, for writing: the same JSON without cloning the record first.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum RecordRef<'a> {
    Exposure(&'a Exposure),
    Device(&'a Device),
    IndicatorMatch(&'a IndicatorMatch),
    Anomaly(&'a AnomalyRecord),
    Summary(&'a Summary),
    Finding(&'a Finding),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each word is written as its one spelling (`as_str`), the same in serde, `FromStr` and
    /// the index; and a word this build does not know is read, kept and written back as is.
    #[test]
    fn words_have_one_spelling_and_unknown_ones_survive() {
        for s in Severity::ALL {
            let json = format!("\"{}\"", s.as_str());
            assert_eq!(serde_json::to_string(&s).unwrap(), json);
            assert_eq!(serde_json::from_str::<Severity>(&json).unwrap(), s);
            assert_eq!(serde_json::to_string(&Open::Known(s)).unwrap(), json);
            assert_eq!(s.as_str().parse::<Severity>(), Ok(s));
            assert_eq!(Severity::ALL[s.level() as usize], s);
        }
        for r in Relationship::ALL {
            let json = format!("\"{}\"", r.as_str());
            assert_eq!(serde_json::to_string(&Open::Known(r)).unwrap(), json);
            assert_eq!(
                serde_json::from_str::<Open<Relationship>>(&json).unwrap(),
                r
            );
        }
        for st in [Status::Designated, Status::Reported] {
            let json = format!("\"{}\"", st.as_str());
            assert_eq!(serde_json::from_str::<Open<Status>>(&json).unwrap(), st);
        }
        assert!("urgent".parse::<Severity>().is_err());
        assert!(serde_json::from_str::<Severity>("\"urgent\"").is_err());
        let sev: Open<Severity> = serde_json::from_str("\"urgent\"").unwrap();
        assert_eq!(sev, Open::Other("urgent".into()));
        assert_eq!((sev.known(), sev.as_str()), (None, "urgent"));
        assert_eq!(serde_json::to_string(&sev).unwrap(), "\"urgent\"");
        assert_eq!(
            format!("{:<8}|", Open::<Severity>::Known(Severity::Low)),
            "low     |"
        );
        assert!(serde_json::from_str::<Open<Severity>>("3").is_err());
    }

    /// A finding from a newer cordon, with a severity, relationship and status this build
    /// does not know, is read (not refused) and written back byte for byte.
    #[test]
    fn newer_findings_are_read_and_written_back_unchanged() {
        let line = r#"{"type":"finding","id":"0123456789abcdef","rule":"r","severity":"severe","asset":"10.0.0.1","asset_name":null,"entity":"e","group":"g","relationship":"licensed-from","designations":[{"list":"dod-1260h","date":"2026-06-08","status":"delisted","source":"https://example.gov","holder":"g"}],"regulations":[],"evidence":[],"remediation":"x","waived":false,"flows":0,"bytes_out":0,"first_seen":null,"last_seen":null}"#;
        let r: Record = serde_json::from_str(line).unwrap();
        let Record::Finding(f) = &r else {
            panic!("not a finding: {r:?}")
        };
        assert_eq!(f.rank(), Severity::Info);
        assert_eq!(f.relationship.known(), None);
        assert_eq!(f.designations[0].status.as_str(), "delisted");
        assert_eq!(serde_json::to_string(&r).unwrap(), line);
    }
}
