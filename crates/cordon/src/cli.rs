//! Command-line syntax (clap derive). Meaning — loading intel, opening files — is given to
//! these values in `main.rs` and the command modules, not here.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

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
    /// Explain who is behind IP addresses, host names, MAC addresses or company names.
    #[command(
        after_help = "Examples:\n  cordon explain 47.88.1.2\n  cordon explain img.alicdn.com qianfan.baidubce.com\n  cordon explain 44:19:b6:12:34:56     # a MAC: its maker from the IEEE registry\n  cordon explain 'China Telecom'       # a company: its parents and designations\n  cordon explain --format json 8.8.8.8 | jq ."
    )]
    Explain(ExplainArgs),
    /// Show, import or rebuild the intel snapshot.
    #[command(subcommand)]
    Intel(IntelCommand),
    /// Check threat-indicator files (STIX 2.1, MISP, plain lists) without scanning.
    #[command(subcommand)]
    Indicators(IndicatorsCommand),
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
    /// npm package @ip-location-db/asn) and iptoasn TSV (ip2asn-v4.tsv, ip2asn-v6.tsv). Every
    /// row is checked before anything is replaced: a bad file is refused and the table in use
    /// stays.
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
