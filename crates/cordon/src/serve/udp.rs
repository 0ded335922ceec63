//! UDP collectors: NetFlow v5/v9/IPFIX and sFlow v5, one thread each.
//!
//! A collector reads datagrams, decodes them with `cordon-wire` (templates and options
//! data kept per exporter address and observation domain), and queues batches of
//! observations to the engine. Its templates are part of its state: restored from the store
//! at start, so data records decode at once after a restart, and handed to the engine with
//! the next batch whenever they change, to be stored in the same transaction as the flows
//! they decoded.

use super::engine::{Batch, Queue};
use super::stats::{now_ms, DropReason};
use cordon_wire::{netflow, sflow, Sink};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Observations per batch at most, and the longest a partial batch waits.
pub const BATCH: usize = 4096;
pub const BATCH_WAIT: Duration = Duration::from_millis(100);

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Protocol {
    NetFlow,
    SFlow,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::NetFlow => "netflow",
            Protocol::SFlow => "sflow",
        }
    }
}

/// Binds `listen` with a receive buffer of `rcvbuf` bytes (the kernel may grant less).
pub fn bind(listen: SocketAddr, rcvbuf: usize) -> std::io::Result<UdpSocket> {
    let sock = UdpSocket::bind(listen)?;
    set_rcvbuf(&sock, rcvbuf);
    sock.set_read_timeout(Some(BATCH_WAIT))?;
    Ok(sock)
}

#[allow(unsafe_code)]
fn set_rcvbuf(sock: &UdpSocket, bytes: usize) {
    use std::os::fd::AsRawFd;
    let v: libc::c_int = bytes.min(i32::MAX as usize) as libc::c_int;
    // SAFETY: a valid socket descriptor, an int option of the right size.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// A running UDP collector's decoder state.
pub struct Decoder {
    pub protocol: Protocol,
    netflow: netflow::Collector,
    templates: Templates,
    generation: u64,
}

impl Decoder {
    /// A decoder, its NetFlow templates restored from `state` when given. A state that
    /// cannot be read is set aside (the exporter resends its templates) and said so.
    pub fn new(protocol: Protocol, state: Option<&[u8]>) -> (Decoder, Option<String>) {
        let mut d = Decoder {
            protocol,
            netflow: netflow::Collector::new(),
            templates: Templates::default(),
            generation: 0,
        };
        let mut warning = None;
        if let (Protocol::NetFlow, Some(s)) = (protocol, state) {
            match serde_json::from_slice::<Templates>(s) {
                Ok(t) if t.version == Templates::VERSION => {
                    // Replayed through the decoder as the exporter first sent them.
                    let mut none = cordon_wire::VecSink::default();
                    for (exporter, payload) in t.datagrams() {
                        d.netflow.datagram(exporter, &payload, 0, &mut none);
                    }
                    d.templates = t;
                    d.templates.reindex();
                }
                Ok(t) => {
                    warning = Some(format!(
                        "stored templates have version {}, not {}: not used",
                        t.version,
                        Templates::VERSION
                    ))
                }
                Err(e) => warning = Some(format!("stored templates not used: {e}")),
            }
        }
        (d, warning)
    }

    pub fn datagram(&mut self, from: SocketAddr, payload: &[u8], offset: u64, sink: &mut dyn Sink) {
        match self.protocol {
            Protocol::NetFlow => {
                self.templates.learn(from.ip(), payload);
                self.netflow.datagram(from.ip(), payload, offset, sink);
            }
            Protocol::SFlow => {
                sflow::datagram(payload, offset, sink);
            }
        }
    }

    /// The templates, when they changed since the last call.
    pub fn changed_state(&mut self) -> Option<Vec<u8>> {
        if self.protocol != Protocol::NetFlow || self.templates.generation == self.generation {
            return None;
        }
        self.generation = self.templates.generation;
        serde_json::to_vec(&self.templates).ok()
    }
}

/// Template records at most per scope, and in all (as the decoder's own caps).
pub const MAX_SCOPE_TEMPLATES: usize = 1024;
pub const MAX_TEMPLATES: usize = 16_384;

/// What a NetFlow v9 / IPFIX exporter has told the collector that later data needs: its
/// template and options-template records and its latest options data (sampling rates,
/// system init time), per scope (exporter address, version, source id / observation
/// domain), kept as the bytes the exporter sent. Restoring replays them through a fresh
/// decoder, which then decodes data sets exactly as before the restart.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Templates {
    pub version: u32,
    scopes: Vec<ScopeTemplates>,
    #[serde(skip)]
    generation: u64,
    #[serde(skip)]
    records: usize,
    /// (exporter, version, domain, template id) of the options templates: a data set of
    /// one is options data, kept; any other data set is passed over with one lookup.
    #[serde(skip)]
    options: std::collections::HashSet<(std::net::IpAddr, u16, u32, u16)>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct ScopeTemplates {
    exporter: std::net::IpAddr,
    /// 9 or 10.
    export_version: u16,
    domain: u32,
    /// (set id: 0/1 v9, 2/3 IPFIX, or the options template id for options data; template
    /// id; the record, or the whole options data set body).
    sets: Vec<(u16, u16, Vec<u8>)>,
}

impl Templates {
    pub const VERSION: u32 = 1;

    /// The counts and the options-template index, after reading a stored state.
    fn reindex(&mut self) {
        self.records = self.scopes.iter().map(|s| s.sets.len()).sum();
        self.options = (self.scopes.iter())
            .flat_map(|s| {
                let opt = if s.export_version == 9 { 1 } else { 3 };
                (s.sets.iter())
                    .filter(move |(k, _, _)| *k == opt)
                    .map(move |(_, id, _)| (s.exporter, s.export_version, s.domain, *id))
            })
            .collect();
    }

    fn scope(&mut self, exporter: std::net::IpAddr, v: u16, domain: u32) -> &mut ScopeTemplates {
        let i = match self
            .scopes
            .iter()
            .position(|s| s.exporter == exporter && s.export_version == v && s.domain == domain)
        {
            Some(i) => i,
            None => {
                self.scopes.push(ScopeTemplates {
                    exporter,
                    export_version: v,
                    domain,
                    sets: Vec::new(),
                });
                self.scopes.len() - 1
            }
        };
        &mut self.scopes[i]
    }

    /// Keeps (or replaces) a record; bumps the generation when its bytes are new.
    fn keep(
        &mut self,
        exporter: std::net::IpAddr,
        v: u16,
        domain: u32,
        kind: u16,
        id: u16,
        bytes: &[u8],
    ) {
        let total = self.records;
        let scope = self.scope(exporter, v, domain);
        if let Some(slot) = scope
            .sets
            .iter_mut()
            .find(|(k, i, _)| *k == kind && *i == id)
        {
            if slot.2 != bytes {
                slot.2 = bytes.to_vec();
                self.generation += 1;
            }
            return;
        }
        if scope.sets.len() >= MAX_SCOPE_TEMPLATES || total >= MAX_TEMPLATES {
            return;
        }
        scope.sets.push((kind, id, bytes.to_vec()));
        self.records += 1;
        self.generation += 1;
        if kind == if v == 9 { 1 } else { 3 } {
            self.options.insert((exporter, v, domain, id));
        }
    }

    /// Takes the template records and options data of one export datagram (a malformed
    /// one is left to the decoder to report).
    pub fn learn(&mut self, exporter: std::net::IpAddr, d: &[u8]) {
        self.version = Self::VERSION;
        let be16 =
            |b: &[u8], at: usize| b.get(at..at + 2).map(|x| u16::from_be_bytes([x[0], x[1]]));
        let Some(v) = be16(d, 0) else { return };
        let (head, domain) = match v {
            9 if d.len() >= 20 => (20, u32::from_be_bytes([d[16], d[17], d[18], d[19]])),
            10 if d.len() >= 16 => (16, u32::from_be_bytes([d[12], d[13], d[14], d[15]])),
            _ => return,
        };
        let mut at = head;
        while let (Some(id), Some(len)) = (be16(d, at), be16(d, at + 2)) {
            let len = len as usize;
            if len < 4 || at + len > d.len() {
                return;
            }
            let body = &d[at + 4..at + len];
            match (v, id) {
                (9, 0) | (10, 2) | (9, 1) | (10, 3) => {
                    let mut p = 0;
                    while let Some(n) = record_len(v, id, &body[p..]) {
                        let Some(tid) = be16(body, p) else { break };
                        self.keep(exporter, v, domain, id, tid, &body[p..p + n]);
                        p += n;
                    }
                }
                (_, id) if id >= 256 && self.options.contains(&(exporter, v, domain, id)) => {
                    self.keep(exporter, v, domain, id, id, body);
                }
                _ => {}
            }
            at += len;
        }
    }

    /// Datagrams that carry every kept record: templates first, then options data.
    pub fn datagrams(&self) -> Vec<(std::net::IpAddr, Vec<u8>)> {
        let mut out = Vec::new();
        for s in &self.scopes {
            let (tmpl, opt) = if s.export_version == 9 {
                (0, 1)
            } else {
                (2, 3)
            };
            let order = s
                .sets
                .iter()
                .filter(|(k, _, _)| *k == tmpl || *k == opt)
                .chain(s.sets.iter().filter(|(k, _, _)| *k != tmpl && *k != opt));
            for (kind, _, bytes) in order {
                let mut d = Vec::with_capacity(24 + bytes.len());
                if s.export_version == 9 {
                    d.extend_from_slice(&9u16.to_be_bytes());
                    d.extend_from_slice(&1u16.to_be_bytes());
                    d.extend_from_slice(&[0; 12]);
                } else {
                    d.extend_from_slice(&10u16.to_be_bytes());
                    d.extend_from_slice(&[0; 10]);
                }
                d.extend_from_slice(&s.domain.to_be_bytes());
                d.extend_from_slice(&kind.to_be_bytes());
                d.extend_from_slice(&((bytes.len() + 4) as u16).to_be_bytes());
                d.extend_from_slice(bytes);
                if s.export_version == 10 {
                    let l = d.len() as u16;
                    d[2..4].copy_from_slice(&l.to_be_bytes());
                }
                out.push((s.exporter, d));
            }
        }
        out
    }
}

/// The length of the template record at the start of `b` (`None`: none there).
fn record_len(v: u16, set: u16, b: &[u8]) -> Option<usize> {
    let be16 = |at: usize| {
        b.get(at..at + 2)
            .map(|x| u16::from_be_bytes([x[0], x[1]]) as usize)
    };
    let n = match (v, set) {
        // v9 template: id, count, count × (type, length).
        (9, 0) => 4 + 4 * be16(2)?,
        // v9 options template: id, scope bytes, option bytes, then the fields.
        (9, 1) => 6 + be16(2)? + be16(4)?,
        // IPFIX template / options template: id, count (, scope count), fields with an
        // enterprise number when the type's top bit is set.
        (10, 2) | (10, 3) => {
            let count = be16(2)?;
            let mut p = if set == 2 { 4 } else { 6 };
            for _ in 0..count {
                let ty = be16(p)?;
                p += if ty & 0x8000 != 0 { 8 } else { 4 };
            }
            p
        }
        _ => return None,
    };
    // A template id below 256 is padding or damage, not a record.
    (be16(0)? >= 256 && n >= 4 && n <= b.len()).then_some(n)
}

/// Receives until `stop`; returns when the socket fails for good or `stop` is set.
pub fn run(sock: UdpSocket, mut decoder: Decoder, queue: Queue, stop: Arc<AtomicBool>) {
    let mut buf = vec![0u8; 65_536];
    let mut batch = Batch::new(&queue.stats, BATCH);
    let mut since = Instant::now();
    let mut datagrams: u64 = 0;
    // Templates that changed but whose batch was dropped wait for the next batch.
    let mut state: Option<Vec<u8>> = None;
    let inode = socket_inode(&sock);
    let mut drops_read = Instant::now();
    while !stop.load(Relaxed) {
        if drops_read.elapsed() >= Duration::from_secs(1) {
            if let Some(n) = inode.and_then(kernel_drops) {
                queue.stats.kernel_drops.store(n, Relaxed);
            }
            drops_read = Instant::now();
        }
        match sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                datagrams += 1;
                queue.stats.units_received.fetch_add(1, Relaxed);
                queue.stats.last_received_ms.store(now_ms(), Relaxed);
                let before = batch.obs.len();
                decoder.datagram(from, &buf[..n], datagrams, &mut batch);
                if batch.obs.len() == before
                    && n > 0
                    && looks_undecodable(decoder.protocol, &buf[..n])
                {
                    queue.stats.dropped(DropReason::Undecodable, 1);
                }
                if let Some(s) = decoder.changed_state() {
                    state = Some(s);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::warn!(collector = %queue.stats.name, error = %e, "receive failed");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        if batch.obs.len() >= BATCH
            || (since.elapsed() >= BATCH_WAIT && (!batch.obs.is_empty() || state.is_some()))
        {
            let obs = std::mem::replace(&mut batch.obs, queue.spares.take(BATCH));
            if queue.try_send(obs, state.clone()) {
                state = None;
            }
            since = Instant::now();
        }
    }
    let obs = std::mem::take(&mut batch.obs);
    if !obs.is_empty() || state.is_some() {
        queue.try_send(obs, state);
    }
    if let Some(n) = inode.and_then(kernel_drops) {
        queue.stats.kernel_drops.store(n, Relaxed);
    }
}

/// The socket's inode, which names it in `/proc/net/udp`.
fn socket_inode(sock: &UdpSocket) -> Option<u64> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/self/fd/{}", sock.as_raw_fd()))
        .ok()
        .map(|m| m.ino())
}

/// Datagrams the kernel dropped for the socket with this inode: the last column of its
/// line in `/proc/net/udp` or `/proc/net/udp6`.
pub fn kernel_drops(inode: u64) -> Option<u64> {
    for table in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() >= 13 && cols[9].parse::<u64>().ok() == Some(inode) {
                return cols[12].parse().ok();
            }
        }
    }
    None
}

/// A datagram that gave nothing and is not even an export (a stray packet).
fn looks_undecodable(p: Protocol, payload: &[u8]) -> bool {
    match p {
        Protocol::NetFlow => !netflow::looks_like_export(payload),
        Protocol::SFlow => !sflow::looks_like_sflow(payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cordon_wire::VecSink;

    /// A NetFlow v9 datagram: a template (id 300: IPv4 src, dst, bytes) and one data
    /// record for it, from source id 7.
    fn v9(with_template: bool) -> Vec<u8> {
        let mut d = vec![
            0, 9, 0, 2, 0, 0, 0, 1, 0x69, 0x30, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7,
        ];
        if with_template {
            d.extend_from_slice(&[
                0, 0, 0, 20, 1, 44, 0, 3, 0, 8, 0, 4, 0, 12, 0, 4, 0, 1, 0, 4,
            ]);
        }
        d.extend_from_slice(&[1, 44, 0, 16, 10, 0, 0, 5, 47, 88, 1, 2, 0, 0, 5, 220]);
        d
    }

    fn flows(dec: &mut Decoder, d: &[u8]) -> Vec<cordon_wire::Observation> {
        let mut sink = VecSink::default();
        dec.datagram("127.0.0.1:9".parse().unwrap(), d, 0, &mut sink);
        sink.observations
    }

    #[test]
    fn stored_templates_decode_data_at_once_after_a_restart() {
        let (mut a, w) = Decoder::new(Protocol::NetFlow, None);
        assert!(w.is_none());
        let first = flows(&mut a, &v9(true));
        assert_eq!(first.len(), 1, "{first:?}");
        let state = a.changed_state().expect("the template changed the state");
        assert_eq!(a.changed_state(), None, "unchanged since");
        // Data alone changes nothing.
        let _ = flows(&mut a, &v9(false));
        assert_eq!(a.changed_state(), None);
        // A fresh decoder without the state cannot decode the data; with it, it can, and
        // gives the same flow.
        let (mut cold, _) = Decoder::new(Protocol::NetFlow, None);
        assert!(flows(&mut cold, &v9(false)).is_empty());
        let (mut b, w) = Decoder::new(Protocol::NetFlow, Some(&state));
        assert!(w.is_none(), "{w:?}");
        assert_eq!(b.templates.records, 1, "the caps count what was restored");
        assert_eq!(flows(&mut b, &v9(false)), first);
        // Learning the same template again is not a change.
        let _ = flows(&mut b, &v9(true));
        assert_eq!(b.changed_state(), None);
    }

    #[test]
    fn a_damaged_state_is_set_aside_and_said_so() {
        for bad in [&b"not json"[..], b"{\"version\": 99, \"scopes\": []}", b""] {
            let (mut d, w) = Decoder::new(Protocol::NetFlow, Some(bad));
            assert!(w.is_some(), "{bad:?}");
            assert!(flows(&mut d, &v9(false)).is_empty());
            assert_eq!(flows(&mut d, &v9(true)).len(), 1);
        }
    }

    #[test]
    fn hostile_datagrams_never_panic_the_template_keeper() {
        let good = v9(true);
        let mut t = Templates::default();
        for cut in 0..good.len() {
            t.learn("127.0.0.1".parse().unwrap(), &good[..cut]);
        }
        // Byte flips from a small deterministic generator.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            let mut d = good.clone();
            for _ in 0..3 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x as usize) % d.len();
                d[i] = (x >> 32) as u8;
            }
            t.learn("127.0.0.1".parse().unwrap(), &d);
        }
        assert!(t.records <= MAX_TEMPLATES);
        for s in &t.scopes {
            assert!(s.sets.len() <= MAX_SCOPE_TEMPLATES);
        }
        // Whatever was kept replays without panicking.
        let mut c = netflow::Collector::new();
        for (ip, d) in t.datagrams() {
            c.datagram(ip, &d, 0, &mut VecSink::default());
        }
    }
}
