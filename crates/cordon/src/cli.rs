//! Command-line syntax (clap derive). Meaning — loading intel, opening files — is given to
//! these values in `main.rs` and the command modules, not here.

use crate::model::Severity;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// `--fail-on`: the severities by name, so the judge's [`Severity`] does not depend on clap
/// (the help lists the same possible values).
fn severity_parser() -> impl TypedValueParser<Value = Severity> {
    PossibleValuesParser::new(Severity::ALL.map(Severity::as_str))
        .try_map(|s| s.parse::<Severity>())
}

#[derive(Parser, Debug)]
#[command(
    name = "cordon",
    version,
    about = "Find, prove and track exposure to untrusted vendors in network telemetry",
    long_about = "cordon attributes the addresses, host names and devices in your telemetry to \
the companies behind them, and says why: which prefix, AS, domain rule or MAC block, which \
company and parent, and which designation (DoD 1260H, FCC Covered List, NDAA §889, OFAC \
NS-CMIC, state bans), with sources and dataset dates. It works offline on a bundled snapshot \
and never sends anything anywhere.",
    after_help = "Examples:\n  cordon explain 47.88.1.2 dashscope.aliyuncs.com 28:6f:b9:00:00:01 hikvision\n  cordon explain --format json 2408:4000::1\n  cordon intel status\n  cordon intel import asn-ipv4.csv asn-ipv6.csv\n\nExit status: 0 ok; 1 findings at or above --fail-on; 2 usage error or nothing could be read."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Read the intel text files from this folder (laid out like the repository: DIR/intel/...)
    /// instead of the snapshot compiled into cordon.
    #[arg(long, global = true, env = "CORDON_INTEL_DIR", value_name = "DIR")]
    pub intel_dir: Option<PathBuf>,
    /// Where imported datasets live [default: $XDG_DATA_HOME/cordon or ~/.local/share/cordon].
    #[arg(long, global = true, env = "CORDON_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Attribute every flow, name and device in telemetry to the companies behind it.
    ///
    /// Reads packet captures (pcap, pcapng), Zeek logs (TSV and JSON; a folder of them is one
    /// input set), Suricata EVE JSON, NetFlow v5/v9 and IPFIX (captures of export traffic or
    /// raw datagrams), sFlow v5, AWS VPC flow logs, Route 53 Resolver query logs, and CSV or
    /// NDJSON flow tables. Formats are detected from content; gzip and zstd are read
    /// transparently; folders are walked. A bad file is reported and counted; the rest is
    /// scanned.
    #[command(
        after_help = "Examples:\n  cordon scan examples/office.pcap\n  cordon scan /var/log/zeek/2026-11-25/ --format jsonl > scan.jsonl\n  cordon scan exports/*.pcap --internal 10.0.0.0/8 198.51.100.0/24\n  cordon scan flows.csv.zst --format jsonl | jq 'select(.type==\"exposure\")'\n\nExit status: 0 when the scan ran (per-file problems are reported and counted); 2 for usage\nerrors or when no input could be read."
    )]
    Scan(ScanArgs),
    /// Explain who is behind IP addresses, host names, MAC addresses or company names.
    #[command(
        after_help = "Examples:\n  cordon explain 47.88.1.2\n  cordon explain img.alicdn.com qianfan.baidubce.com\n  cordon explain 44:19:b6:12:34:56     # a MAC: its maker from the IEEE registry\n  cordon explain 'China Telecom'       # a company: its parents and designations\n  cordon explain --format json 8.8.8.8 | jq ."
    )]
    Explain(ExplainArgs),
    /// Show, import or rebuild the intel snapshot.
    #[command(subcommand)]
    Intel(IntelCommand),
    /// Render a scan's JSONL as a self-contained HTML report, Markdown or CSV.
    #[command(
        after_help = "Examples:\n  cordon scan --format jsonl logs/ > scan.jsonl\n  cordon report scan.jsonl --html report.html --md report.md --csv findings.csv"
    )]
    Report(ReportArgs),
    /// Compare the findings of two scans: new, resolved and persisting (by finding id).
    Diff(DiffArgs),
    /// Check policy files.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Check threat-indicator files (STIX 2.1, MISP, plain lists) without scanning.
    #[command(subcommand)]
    Indicators(IndicatorsCommand),
    /// Keep watching: collect NetFlow/IPFIX, sFlow, Zeek and EVE live, keep exposures and
    /// findings in a store, send alerts, serve an API and /metrics (docs/serve.md).
    #[cfg(feature = "serve")]
    #[command(
        after_help = "Examples:\n  cordon serve --check-config examples/serve/cordon.toml\n  cordon serve --config examples/serve/cordon.toml\n  curl -s 127.0.0.1:8470/api/v1/findings?status=new | jq .\n  kill -HUP $(pidof cordon)      # reload intel, indicators, inventory, policy, waivers\n\nExit status: 0 after a clean stop (SIGTERM, SIGINT) or a valid --check-config; 2 when the\nconfiguration, its files or a listen address cannot be used."
    )]
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("out").required(true).multiple(true))]
pub struct ReportArgs {
    /// The JSONL written by `cordon scan --format jsonl`.
    #[arg(value_name = "SCAN.jsonl")]
    pub input: PathBuf,
    /// Write a self-contained HTML report (`-` for stdout).
    #[arg(long, value_name = "FILE", group = "out")]
    pub html: Option<PathBuf>,
    /// Write a Markdown report (`-` for stdout).
    #[arg(long, value_name = "FILE", group = "out")]
    pub md: Option<PathBuf>,
    /// Write the findings as CSV (`-` for stdout).
    #[arg(long, value_name = "FILE", group = "out")]
    pub csv: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    #[arg(value_name = "OLD.jsonl")]
    pub old: PathBuf,
    #[arg(value_name = "NEW.jsonl")]
    pub new: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Validate a policy file (TOML); errors name the file and line.
    Check {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
}

/// Threat-indicator options, for `scan` to flatten into its arguments.
#[derive(Args, Debug, Clone, Default)]
pub struct IndicatorArgs {
    /// Threat indicators to match: STIX 2.1 bundles, MISP events or feed folders, plain
    /// lists (repeatable; folders are walked).
    #[arg(long = "indicators", value_name = "FILE")]
    pub indicators: Vec<PathBuf>,
    /// Let a domain indicator match its subdomains too (by default only the name itself).
    #[arg(long)]
    pub indicator_subdomains: bool,
}

#[derive(Subcommand, Debug)]
pub enum IndicatorsCommand {
    /// Load indicator files or folders and print what loaded, what did not, and why.
    #[command(
        after_help = "Example:\n  cordon indicators check advisory.stix.json misp-feed/ blocklist.txt\n\nExit status: 0 all loaded cleanly; 2 a file was unreadable or had malformed entries."
    )]
    Check {
        /// Indicator files or folders.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Readable on a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// A summary people read.
    Text,
    /// The wire format (docs/wire-format.md): one JSON record per line.
    Jsonl,
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Files or folders of telemetry.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = ScanFormat::Text)]
    pub format: ScanFormat,
    /// The organisation's own address ranges: the asset of a flow is its internal end
    /// [default: 10/8, 172.16/12, 192.168/16, 100.64/10, 169.254/16, fc00::/7, fe80::/10].
    #[arg(long, value_name = "CIDR", num_args = 1..)]
    pub internal: Option<Vec<ipnet::IpNet>>,
    /// Report every device seen, not only those made by companies of concern.
    #[arg(long)]
    pub all_devices: bool,
    /// Read input files instead of mapping them into memory. Mapping is faster; files
    /// written to in the last few seconds are read anyway, and a mapped file that another
    /// program truncates during the scan is reported as damaged.
    #[arg(long)]
    pub no_mmap: bool,
    /// Show the progress bar even with --format jsonl (it goes to stderr, and only to a
    /// terminal).
    #[arg(long)]
    pub progress: bool,
    /// Asset inventory (CSV or JSON: cidr|ip|mac, name, owner, tags, data) that names assets
    /// and gives findings their data categories and tags.
    #[arg(long, value_name = "FILE")]
    pub assets: Option<PathBuf>,
    /// A policy file (TOML) that overrides severities and adds rules (docs/policy.md).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Waivers (TOML `[[waiver]]`): matching findings stay in the output marked waived until
    /// they expire.
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
    /// Exit 1 when an unwaived finding is at or above this severity.
    #[arg(long, value_name = "SEVERITY", value_parser = severity_parser())]
    pub fail_on: Option<Severity>,
    #[command(flatten)]
    pub indicators: IndicatorArgs,
}

#[cfg(feature = "serve")]
#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("mode").required(true).args(["config", "check_config"]))]
pub struct ServeArgs {
    /// Run the daemon with this configuration (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Check this configuration and the files it names, print it with every default, exit.
    #[arg(long, value_name = "FILE")]
    pub check_config: Option<PathBuf>,
    /// Log lines as text (default) or JSON (one object a line, for a log shipper).
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"])]
    pub log_format: Option<String>,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// IP addresses, host names, MAC addresses or company names.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Subcommand, Debug)]
pub enum IntelCommand {
    /// What is loaded: datasets with their dates and ages, row counts, warnings when stale.
    Status {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Import a full IP-to-AS table so every address gets its AS and organisation.
    ///
    /// Accepts ip-location-db CSV (asn-ipv4.csv, asn-ipv6.csv, or the -num variants from the
    /// npm package @ip-location-db/asn), iptoasn TSV (ip2asn-v4.tsv, ip2asn-v6.tsv) and
    /// MaxMind GeoLite2-ASN databases (GeoLite2-ASN.mmdb, uncompressed; every IPv4 and IPv6
    /// network is read once). Formats are told apart by content; all files given must be of
    /// one format. Every row is checked before anything is replaced: a bad file is refused and
    /// the table in use stays.
    #[command(
        after_help = "Example:\n  npm pack @ip-location-db/asn && tar xzf ip-location-db-asn-*.tgz\n  cordon intel import package/asn-ipv4.csv package/asn-ipv6.csv --date 2026-06-17"
    )]
    Import {
        /// Dataset files; give the IPv4 and IPv6 files of one dataset together.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Date of the dataset (YYYY-MM-DD) [default: the newest file's modification date].
        #[arg(long, value_name = "DATE")]
        date: Option<String>,
    },
    /// Remove the imported table and go back to the bundled subset.
    Reset,
    /// Regenerate intel/derived/ from the curated rules and the raw public datasets.
    ///
    /// Checks every curated file first (a malformed row fails the build with file and line),
    /// then rewrites the derived files atomically and deterministically.
    #[command(
        after_help = "Example (fetches the pinned datasets by package name):\n  eval \"$(scripts/fetch-intel-sources.sh)\"\n  cordon intel build --repo . --asn-v4 \"$ASN_V4\" --asn-v6 \"$ASN_V6\" --ieee-dir \"$IEEE_DIR\""
    )]
    Build {
        /// The repository root holding intel/.
        #[arg(long, value_name = "DIR", default_value = ".")]
        repo: PathBuf,
        /// ip-location-db asn-ipv4.csv.
        #[arg(long, value_name = "FILE")]
        asn_v4: PathBuf,
        /// ip-location-db asn-ipv6.csv.
        #[arg(long, value_name = "FILE")]
        asn_v6: PathBuf,
        /// Folder with the IEEE registry files oui.csv, mam.csv, oui36.csv.
        #[arg(long, value_name = "DIR", default_value = "/usr/share/ieee-data")]
        ieee_dir: PathBuf,
    },
}
