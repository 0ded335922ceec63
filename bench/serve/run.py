#!/usr/bin/env python3
"""Sustained NetFlow v9 / IPFIX ingest: `cordon serve` side by side with nfcapd, on loopback.

Python 3.11, standard library only. See bench/serve/README.md.

  bench/serve/run.py                                  # the ladder, both tools, NetFlow v9
  bench/serve/run.py --rates 100k,500k --seconds 10 --runs 2 --ipfix
  bench/serve/run.py --soak 300 --rate 500k           # cordon only, RSS once a second -> CSV
  bench/serve/run.py --send-only --rate 200k --port 2055   # just the generator

Counting. The generator counts the data records of every datagram the kernel accepted
(sendto returned). Every datagram carries exactly --records data records (the template
set rides along in every 100th datagram, with its data), so a kernel drop of N datagrams
is exactly N x records flows and the check

    received + dropped(queue-full) + kernel-dropped datagrams x records == sent

must hold to the flow. Kernel drops are read from the receiving socket's own counter
(the `drops` column of /proc/net/udp, before the socket is closed), for nfcapd too, and
from cordon's `datagrams_dropped_kernel` when its status has it. Loopback drops before the
socket (the per-CPU backlog, /proc/net/softnet_stat) are read as a whole-machine delta.
"""

import argparse
import csv
import json
import math
import multiprocessing as mp
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

# --------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------

TEMPLATE_ID = 256
# (field type, length). First/last (or start/end) are adjacent so one pack_into stamps both.
V9_FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 4), (2, 4),
             (22, 4), (21, 4),          # FIRST_SWITCHED, LAST_SWITCHED (sysUptime ms)
             (10, 2), (14, 2)]          # INPUT_SNMP, OUTPUT_SNMP
IPFIX_FIELDS = [(8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (1, 4), (2, 4),  # reduced-size counters
                (152, 8), (153, 8),     # flowStartMilliseconds, flowEndMilliseconds
                (10, 2), (14, 2)]
V9_REC = struct.Struct(">IIHHBIIIIHH")   # 33 bytes
IPFIX_REC = struct.Struct(">IIHHBIIQQHH")  # 41 bytes
TIME_OFF = 21                            # offset of the time pair inside a record
V9_HDR = struct.Struct(">HHIIII")        # version, count, sysUptime, unix_secs, sequence, source id
IPFIX_HDR = struct.Struct(">HHIII")      # version, length, export time, sequence, domain
V9_TIMES = struct.Struct(">II")
IPFIX_TIMES = struct.Struct(">QQ")
TEMPLATE_EVERY = 100

ALIBABA = [(0x2F580000, 14), (0x08D00000, 12)]   # 47.88.0.0/14, 8.208.0.0/12
EXCLUDED = [(0x00000000, 8), (0x0A000000, 8), (0x64400000, 10), (0x7F000000, 8),
            (0xA9FE0000, 16), (0xAC100000, 12), (0xC0000200, 24), (0xC0A80000, 16),
            (0xC6120000, 15), (0xE0000000, 3)] + ALIBABA


def in_net(a, net):
    base, bits = net
    return (a >> (32 - bits)) == (base >> (32 - bits))


def public_addr(rng):
    while True:
        a = rng.getrandbits(32)
        if not any(in_net(a, n) for n in EXCLUDED):
            return a


def alibaba_addr(rng):
    base, bits = ALIBABA[rng.randrange(2)]
    return base | rng.getrandbits(32 - bits)


SERVICES = [((6, 443), 55), ((6, 80), 10), ((17, 53), 10), ((17, 443), 5), ((17, 123), 3),
            ((6, 22), 2), ((6, None), 10), ((1, 0), 5)]


def template_set(ipfix):
    fields = IPFIX_FIELDS if ipfix else V9_FIELDS
    body = struct.pack(">HH", TEMPLATE_ID, len(fields)) + b"".join(
        struct.pack(">HH", t, n) for t, n in fields)
    return struct.pack(">HH", 2 if ipfix else 0, 4 + len(body)) + body


class Pool:
    """Pre-built datagrams: header room + one data set of `records` records each."""

    def __init__(self, ipfix, records, size, seed, hosts=3000, alibaba_share=0.10):
        self.ipfix = ipfix
        self.records = records
        self.rec = IPFIX_REC if ipfix else V9_REC
        self.hdr = IPFIX_HDR if ipfix else V9_HDR
        self.times = IPFIX_TIMES if ipfix else V9_TIMES
        self.template = template_set(ipfix)
        hrng = random.Random(4242)           # the same internal hosts for every sender
        internal = [0x0A000000 | hrng.getrandbits(24) for _ in range(hosts)]
        rng = random.Random(seed)
        services, weights = zip(*SERVICES)
        data_len = 4 + records * self.rec.size
        pad = (-data_len) % 4
        self.set_len = data_len + pad
        self.bufs = []
        self.ages = []                       # per datagram: [(end age ms, duration ms)] per record
        self.alibaba = 0
        for _ in range(size):
            buf = bytearray(self.hdr.size + self.set_len)
            struct.pack_into(">HH", buf, self.hdr.size, TEMPLATE_ID, self.set_len)
            ages = []
            for r in range(records):
                src = internal[rng.randrange(hosts)]
                if rng.random() < alibaba_share:
                    dst = alibaba_addr(rng)
                    self.alibaba += 1
                else:
                    dst = public_addr(rng)
                (proto, dport), = rng.choices(services, weights)
                if dport is None:
                    dport = rng.randint(1024, 65535)
                sport = 0 if proto == 1 else rng.randint(32768, 60999)
                pkts = min(int(rng.lognormvariate(1.5, 1.4)) + 1, 1_000_000)
                octets = pkts * rng.randint(40, 1500)
                end_age, dur = rng.randint(0, 30_000), rng.randint(0, 60_000)
                ages.append((end_age, dur))
                self.rec.pack_into(buf, self.hdr.size + 4 + r * self.rec.size,
                                   src, dst, sport, dport, proto, octets, pkts, 0, 0,
                                   rng.randint(1, 48), rng.randint(1, 48))
            self.bufs.append(buf)
            self.ages.append(ages)

    def stamp(self, now_ms, uptime_ms):
        """Flow times relative to now (v9: to sysUptime; IPFIX: absolute milliseconds)."""
        base = self.hdr.size + 4 + TIME_OFF
        rs = self.rec.size
        pack = self.times.pack_into
        ref = now_ms if self.ipfix else uptime_ms
        mask = 0xFFFFFFFFFFFFFFFF if self.ipfix else 0xFFFFFFFF
        for buf, ages in zip(self.bufs, self.ages):
            off = base
            for end_age, dur in ages:
                last = ref - end_age
                pack(buf, off, (last - dur) & mask, last & mask)
                off += rs


def sender(idx, cfg, port, rate, seconds, start_at, ready, out):
    """One sender process: its own socket (source port) and observation domain."""
    domain = 1000 + idx
    pool = Pool(cfg["ipfix"], cfg["records"], cfg["pool"], seed=domain)
    R = cfg["records"]
    hdr = pool.hdr
    tmpl = pool.template
    ipfix = cfg["ipfix"]
    P = len(pool.bufs)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.bind(("127.0.0.1", 0))
    s.connect(("127.0.0.1", port))
    src_port = s.getsockname()[1]
    boot = time.monotonic() - 3600.0 - idx    # the "exporter" booted an hour ago
    up_ms = lambda: int((time.monotonic() - boot) * 1000)
    pool.stamp(int(time.time() * 1000), up_ms())
    ready.set()
    while start_at.value == 0.0:
        time.sleep(0.001)
    t0 = start_at.value
    while time.monotonic() < t0:
        time.sleep(0.0005)
    cpu0 = time.process_time()
    dg_rate = rate / R
    total = int(round(dg_rate * seconds))
    deadline = t0 + seconds
    seq = 0            # v9: packets; IPFIX: data records
    n = 0              # datagrams accepted
    errors = 0
    k = 0
    next_stamp = t0 + cfg["restamp"]
    burst_cap = max(8, int(dg_rate * 0.002))
    stamps = 0
    late_stop = False
    pack_into = hdr.pack_into
    send = s.send
    while n < total:
        now = time.monotonic()
        if now >= deadline + cfg["grace"]:
            late_stop = True
            break
        due = min(total, int((now - t0) * dg_rate) + 1)
        if n >= due:
            time.sleep(max((n / dg_rate) - (now - t0), 0.0002))
            continue
        if now >= next_stamp:
            pool.stamp(int(time.time() * 1000), up_ms())
            stamps += 1
            next_stamp = now + cfg["restamp"]
        secs = int(time.time())
        up = up_ms() & 0xFFFFFFFF
        for _ in range(min(due - n, burst_cap)):
            buf = pool.bufs[k]
            k += 1
            if k == P:
                k = 0
            if (n + errors) % TEMPLATE_EVERY == 0:
                if ipfix:
                    h = hdr.pack(10, hdr.size + len(tmpl) + pool.set_len, secs, seq & 0xFFFFFFFF, domain)
                else:
                    h = hdr.pack(9, R + 1, up, secs, seq & 0xFFFFFFFF, domain)
                dgram = h + tmpl + buf[hdr.size:]
            else:
                if ipfix:
                    pack_into(buf, 0, 10, len(buf), secs, seq & 0xFFFFFFFF, domain)
                else:
                    pack_into(buf, 0, 9, R, up, secs, seq & 0xFFFFFFFF, domain)
                dgram = buf
            try:
                send(dgram)
            except (ConnectionRefusedError, BlockingIOError, OSError):
                errors += 1
                continue
            n += 1
            seq += R if ipfix else 1
    t_end = time.monotonic()
    s.close()
    out.put({"sender": idx, "domain": domain, "source_port": src_port, "datagrams": n,
             "flows": n * R, "send_errors": errors, "target_datagrams": total,
             "elapsed": t_end - t0, "cpu_seconds": time.process_time() - cpu0,
             "restamps": stamps, "stopped_late": late_stop,
             "alibaba_share_in_pool": pool.alibaba / (P * R)})


def send_rate(cfg, port, rate, seconds, senders):
    """Runs `senders` processes at rate/senders each; returns the merged result."""
    ctx = mp.get_context("fork")
    start_at = ctx.Value("d", 0.0)
    out = ctx.Queue()
    readies, procs = [], []
    for i in range(senders):
        ev = ctx.Event()
        p = ctx.Process(target=sender, args=(i, cfg, port, rate / senders, seconds, start_at, ev, out),
                        daemon=True)
        p.start()
        readies.append(ev)
        procs.append(p)
    for ev in readies:
        if not ev.wait(120):
            raise RuntimeError("a sender did not get ready in 120 s")
    start_at.value = time.monotonic() + 0.2
    results = []
    for _ in procs:
        results.append(out.get(timeout=seconds + cfg["grace"] + 60))
    for p in procs:
        p.join(10)
    t0 = start_at.value
    elapsed = max(r["elapsed"] for r in results)
    flows = sum(r["flows"] for r in results)
    return {"senders": senders, "target_rate": rate, "seconds": seconds,
            "datagrams": sum(r["datagrams"] for r in results), "flows": flows,
            "send_errors": sum(r["send_errors"] for r in results),
            "elapsed": elapsed, "achieved_rate": flows / elapsed if elapsed else 0.0,
            "sender_cpu_seconds": sum(r["cpu_seconds"] for r in results),
            "stopped_late": any(r["stopped_late"] for r in results),
            "per_sender": sorted(results, key=lambda r: r["sender"]), "t0": t0}


# --------------------------------------------------------------------------------------
# Machine and process facts
# --------------------------------------------------------------------------------------

def read(path, default=""):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def loadavg():
    return read("/proc/loadavg").split()[:3]


def softnet_dropped():
    total = 0
    for line in read("/proc/net/softnet_stat").splitlines():
        cols = line.split()
        if len(cols) > 1:
            total += int(cols[1], 16)
    return total


def udp_socket(port):
    """(rx_queue bytes, drops) of the IPv4 UDP socket bound to 127.0.0.1:port, or None."""
    want = "0100007F:%04X" % port
    for line in read("/proc/net/udp").splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 13 and cols[1] == want:
            rx = int(cols[4].split(":")[1], 16)
            return rx, int(cols[-1])
    return None


def socket_rcvbuf(port):
    """The receive buffer the kernel granted (ss's skmem rb), or None."""
    try:
        out = subprocess.run(["ss", "-uamnH", "sport", "=", ":%d" % port], capture_output=True,
                             text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    i = out.find(",rb")
    if i < 0:
        return None
    j = i + 3
    while j < len(out) and out[j].isdigit():
        j += 1
    return int(out[i + 3:j]) if j > i + 3 else None


def rss_kb(pid):
    for line in read("/proc/%d/status" % pid).splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    s = read("/proc/%d/stat" % pid)
    if not s:
        return None
    f = s[s.rfind(")") + 2:].split()
    return (int(f[11]) + int(f[12])) / CLK


class Sampler(threading.Thread):
    """RSS (and optionally a callback) every `every` seconds."""

    def __init__(self, pid, every, extra=None):
        super().__init__(daemon=True)
        self.pid, self.every, self.extra = pid, every, extra
        self.series = []
        self.stop_ev = threading.Event()

    def run(self):
        t0 = time.monotonic()
        while not self.stop_ev.is_set():
            r = rss_kb(self.pid)
            if r is not None:
                row = {"t": round(time.monotonic() - t0, 2), "rss_kb": r}
                if self.extra:
                    try:
                        row.update(self.extra())
                    except Exception:
                        pass
                self.series.append(row)
            self.stop_ev.wait(self.every)

    def stop(self):
        self.stop_ev.set()
        self.join(5)

    @property
    def peak(self):
        return max((r["rss_kb"] for r in self.series), default=None)

    @property
    def last(self):
        return self.series[-1]["rss_kb"] if self.series else None


class Reloader(threading.Thread):
    """POST /api/v1/reload every `every` seconds while the load runs: each swap's time as
    cordon measured it (took_ms) and as the client saw it."""

    def __init__(self, http, every):
        super().__init__(daemon=True)
        self.http, self.every = http, every
        self.swaps = []
        self.stop_ev = threading.Event()

    def run(self):
        while not self.stop_ev.wait(self.every):
            t0 = time.monotonic()
            row = {"at": round(t0, 2)}
            try:
                req = urllib.request.Request("http://%s/api/v1/reload" % self.http, data=b"", method="POST")
                with urllib.request.urlopen(req, timeout=30) as r:
                    body = json.loads(r.read())
                    row.update({"status": r.status, "took_ms": body.get("took_ms"),
                                "generation": body.get("generation")})
            except urllib.error.HTTPError as e:
                row.update({"status": e.code, "error": e.read().decode(errors="replace")[:300]})
            except (urllib.error.URLError, OSError, ValueError) as e:
                row.update({"status": None, "error": str(e)})
            row["client_ms"] = round((time.monotonic() - t0) * 1000, 1)
            self.swaps.append(row)

    def stop(self):
        self.stop_ev.set()
        self.join(35)

    def summary(self):
        ok = [r for r in self.swaps if r.get("status") == 200]
        took = [r["took_ms"] for r in ok if r.get("took_ms") is not None]
        return {"reloads": len(self.swaps), "ok": len(ok),
                "took_ms_max": max(took) if took else None,
                "took_ms_median": sorted(took)[len(took) // 2] if took else None,
                "client_ms_max": max((r["client_ms"] for r in ok), default=None),
                "generations": [r.get("generation") for r in ok]}


def free_port(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def machine():
    m = {"nproc": os.cpu_count(), "uname_r": os.uname().release,
         "rmem_max": int(read("/proc/sys/net/core/rmem_max", "0") or 0),
         "netdev_max_backlog": int(read("/proc/sys/net/core/netdev_max_backlog", "0") or 0),
         "python": sys.version.split()[0]}
    for line in read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            m["cpu"] = line.split(":", 1)[1].strip()
            break
    for line in read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal"):
            m["mem_total_kb"] = int(line.split()[1])
    try:
        m["nproc"] = int(subprocess.run(["nproc"], capture_output=True, text=True).stdout)
        m["nfcapd"] = subprocess.run(["nfcapd", "-V"], capture_output=True, text=True).stdout.strip()
    except (OSError, ValueError):
        pass
    return m


def stop(proc, timeout=30):
    """SIGTERM by PID, bounded wait, then SIGKILL."""
    if proc.poll() is not None:
        return proc.returncode
    os.kill(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(10)


def wait_drained(port, timeout=30):
    """Until the socket's receive queue is empty (the reader has taken everything)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        u = udp_socket(port)
        if u is None or u[0] == 0:
            return True
        time.sleep(0.1)
    return False


# --------------------------------------------------------------------------------------
# The two tools
# --------------------------------------------------------------------------------------

def run_nfcapd(cfg, rate, seconds, senders, tmp):
    port = free_port(socket.SOCK_DGRAM)
    d = os.path.join(tmp, "nfcapd")
    os.makedirs(d)
    cmd = ["nfcapd", "-b", "127.0.0.1", "-p", str(port), "-w", d, "-B", str(cfg["rcvbuf"]),
           "-t", "3600", "-S", "0"]
    log = open(os.path.join(tmp, "nfcapd.log"), "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    end = time.monotonic() + 15
    while udp_socket(port) is None:
        if proc.poll() is not None or time.monotonic() > end:
            stop(proc)
            raise RuntimeError("nfcapd did not bind: " + read(os.path.join(tmp, "nfcapd.log")))
        time.sleep(0.05)
    time.sleep(0.3)
    row = {"tool": "nfcapd", "command": " ".join(cmd), "loadavg_before": loadavg(),
           "rcvbuf_granted": socket_rcvbuf(port)}
    sn0 = softnet_dropped()
    cpu0 = cpu_seconds(proc.pid)
    samp = Sampler(proc.pid, cfg["sample_every"])
    samp.start()
    sent = send_rate(cfg, port, rate, seconds, senders)
    drained = wait_drained(port)
    u = udp_socket(port)
    cpu1 = cpu_seconds(proc.pid)
    samp.stop()
    rc = stop(proc)
    log.close()
    stored = nfdump_flows(d)
    row.update({
        "send": sent, "drained": drained, "exit": rc,
        "kernel_dropped_datagrams": u[1] if u else None,
        "softnet_dropped": softnet_dropped() - sn0,
        "cpu_seconds": (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None,
        "rss_peak_kb": samp.peak, "rss_last_kb": samp.last,
        "stored": stored, "sent": sent["flows"],
    })
    row["received"] = stored
    row["lost"] = sent["flows"] - stored if stored is not None else None
    kd = row["kernel_dropped_datagrams"]
    if stored is not None and kd is not None:
        row["check"] = {"equation": "stored + kernel x %d = sent" % cfg["records"],
                        "lhs": stored + kd * cfg["records"], "rhs": sent["flows"],
                        "ok": stored + kd * cfg["records"] == sent["flows"]}
    shutil.rmtree(d, ignore_errors=True)
    return row


def nfdump_flows(d):
    try:
        out = subprocess.run(["nfdump", "-R", d, "-I"], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return None
    total = None
    for line in out.stdout.splitlines():
        if line.startswith("Flows:"):
            total = (total or 0) + int(line.split()[1])
    return total


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def cordon_status(http):
    _, body = http_get("http://%s/api/v1/status" % http, timeout=10)
    return json.loads(body)


def collector_counts(st):
    c = st["collectors"][0]
    e = st.get("engine", {})
    return {"flows_received": c.get("flows_received"), "queue_depth": c.get("queue_depth"),
            "dropped": c.get("dropped", {}), "datagrams_dropped_kernel": c.get("datagrams_dropped_kernel"),
            "units_received": c.get("units_received"), "flows_ingested": c.get("flows_ingested"),
            "anomalies": c.get("anomalies", {}), "engine_flows": e.get("flows"),
            "engine_observations": e.get("observations"), "store_errors": e.get("store_errors"),
            "store": st.get("store"), "datasets": len(st.get("snapshot", {}).get("datasets") or [])}


def start_cordon(cfg, tmp):
    udp = free_port(socket.SOCK_DGRAM)
    http = "127.0.0.1:%d" % free_port(socket.SOCK_STREAM)
    var = os.path.join(tmp, "var")
    conf = os.path.join(tmp, "cordon.toml")
    with open(conf, "w") as f:
        f.write('[store]\npath = "%s"\n\n[http]\nlisten = "%s"\n\n'
                '[[collect.netflow]]\nlisten = "127.0.0.1:%d"\nreceive_buffer = %d\n%s\n'
                '[judge]\ninternal = ["10.0.0.0/8"]\n'
                % (var, http, udp, cfg["rcvbuf"],
                   ("queue = %d\n" % cfg["queue"]) if cfg["queue"] else ""))
    log = open(os.path.join(tmp, "cordon.log"), "w")
    cmd = [cfg["cordon"], "serve", "--config", conf]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    end = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            log.close()
            raise RuntimeError("cordon serve exited %s: %s" % (proc.returncode,
                                                               read(os.path.join(tmp, "cordon.log"))[-2000:]))
        try:
            if http_get("http://%s/healthz" % http, timeout=2)[0] == 200 and udp_socket(udp):
                break
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > end:
            stop(proc)
            log.close()
            raise RuntimeError("cordon serve not healthy in 60 s: " + read(os.path.join(tmp, "cordon.log"))[-2000:])
        time.sleep(0.1)
    return proc, log, udp, http, cmd, conf


def wait_cordon_settled(http, timeout=120):
    """Until queue_depth == 0 and flows stop increasing (two polls 0.5 s apart)."""
    end = time.monotonic() + timeout
    last = c = None
    stable = 0
    while time.monotonic() < end:
        try:
            c = collector_counts(cordon_status(http))
        except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError):
            time.sleep(0.5)
            continue
        key = (c["flows_received"], c["engine_flows"], c["flows_ingested"])
        if c["queue_depth"] == 0 and key == last:
            stable += 1
            if stable >= 2:
                return c, True
        else:
            stable = 0
        last = key
        time.sleep(0.5)
    return c if last else None, False


def run_cordon(cfg, rate, seconds, senders, tmp):
    proc, log, port, http, cmd, conf = start_cordon(cfg, tmp)
    row = {"tool": "cordon", "command": " ".join(cmd), "config": read(conf),
           "loadavg_before": loadavg(), "rcvbuf_granted": socket_rcvbuf(port)}
    try:
        sn0 = softnet_dropped()
        cpu0 = cpu_seconds(proc.pid)
        samp = Sampler(proc.pid, cfg["sample_every"])
        samp.start()
        rel = Reloader(http, cfg["reload_every"]) if cfg["reload_every"] else None
        if rel:
            rel.start()
        sent = send_rate(cfg, port, rate, seconds, senders)
        if rel:
            rel.stop()
            row["reload"] = rel.summary()
        wait_drained(port)
        counts, settled = wait_cordon_settled(http)
        u = udp_socket(port)
        cpu1 = cpu_seconds(proc.pid)
        samp.stop()
    finally:
        rc = stop(proc)
        log.close()
    R = cfg["records"]
    kd_sock = u[1] if u else None
    kd = counts.get("datagrams_dropped_kernel") if counts else None
    if kd is None:
        kd = kd_sock
    qf = (counts or {}).get("dropped", {}).get("queue-full", 0)
    rec = (counts or {}).get("flows_received")
    row.update({
        "send": sent, "settled": settled, "exit": rc, "status": counts,
        "kernel_dropped_datagrams": kd, "kernel_dropped_socket": kd_sock,
        "softnet_dropped": softnet_dropped() - sn0,
        "cpu_seconds": (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None,
        "rss_peak_kb": samp.peak, "rss_last_kb": samp.last,
        "received": rec, "dropped_queue_full": qf, "sent": sent["flows"],
        "engine_flows": (counts or {}).get("engine_flows"),
    })
    if rec is not None and kd is not None:
        lhs = rec + qf + kd * R
        row["check"] = {"equation": "received + queue-full + kernel x %d = sent" % R,
                        "lhs": lhs, "rhs": sent["flows"], "ok": lhs == sent["flows"]}
        row["lost"] = sent["flows"] - rec
    return row


# --------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------

def parse_rate(s):
    s = s.strip().lower()
    mult = 1
    if s.endswith("k"):
        mult, s = 1_000, s[:-1]
    elif s.endswith("m"):
        mult, s = 1_000_000, s[:-1]
    return int(float(s) * mult)


def fmt_rate(r):
    if r is None:
        return "-"
    return ("%.0fk" % (r / 1e3)) if r < 1e6 else ("%.2fM" % (r / 1e6))


def pct(lost, sent):
    return "-" if lost is None or not sent else "%.3f" % (100.0 * lost / sent)


def mib(kb):
    return "-" if kb is None else "%.1f" % (kb / 1024)


def md_rows(rows, records):
    out = ["| target | run | tool | sent (achieved/s) | stored or received | queue-full | kernel dgrams (x%d) | loss %% | check | CPU s | peak RSS MiB | load before |" % records,
           "|---:|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---|"]
    for r in rows:
        s = r["send"]
        chk = r.get("check")
        out.append("| %s | %d | %s | %d (%s) | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            fmt_rate(s["target_rate"]), r["run"], r["tool"], s["flows"], fmt_rate(s["achieved_rate"]),
            r.get("received"), r.get("dropped_queue_full", "-"), r.get("kernel_dropped_datagrams"),
            pct(r.get("lost"), s["flows"]), ("ok" if chk["ok"] else "**%+d**" % (chk["lhs"] - chk["rhs"])) if chk else "-",
            "-" if r.get("cpu_seconds") is None else "%.1f" % r["cpu_seconds"],
            mib(r.get("rss_peak_kb")), " ".join(r["loadavg_before"])))
    return out


def side_by_side(rows):
    by = {}
    for r in rows:
        by.setdefault(r["send"]["target_rate"], {}).setdefault(r["tool"], []).append(r)
    out = ["| target | achieved | nfcapd stored/sent | cordon received/sent | ratio (cordon/nfcapd delivered) | CPU s per M flows, nfcapd / cordon (ratio) | peak RSS MiB, nfcapd / cordon |",
           "|---:|---:|---:|---:|---:|---:|---:|"]

    def frac(rs, key):
        sent = sum(r["sent"] for r in rs)
        got = sum(r[key] or 0 for r in rs)
        return got / sent if sent else None, sent

    noloss = {}
    for rate in sorted(by):
        t = by[rate]
        ach = [r["send"]["achieved_rate"] for rs in t.values() for r in rs]
        n, c = t.get("nfcapd", []), t.get("cordon", [])
        fn = frac(n, "received")[0] if n else None
        fc = frac(c, "received")[0] if c else None
        for tool, rs in t.items():
            if rs and all(r.get("lost") == 0 for r in rs):
                noloss[tool] = max(noloss.get(tool, 0), rate)

        def cpm(rs):
            cs = [r["cpu_seconds"] for r in rs if r.get("cpu_seconds") is not None]
            sent = sum(r["sent"] for r in rs)
            return sum(cs) / (sent / 1e6) if cs and sent else None
        cn, cc = cpm(n), cpm(c)
        pn = max((r["rss_peak_kb"] or 0 for r in n), default=None)
        pc = max((r["rss_peak_kb"] or 0 for r in c), default=None)
        out.append("| %s | %s | %s | %s | %s | %s / %s (%s) | %s / %s |" % (
            fmt_rate(rate), fmt_rate(min(ach)) + ("-" + fmt_rate(max(ach)) if len(ach) > 1 else ""),
            "-" if fn is None else "%.4f" % fn, "-" if fc is None else "%.4f" % fc,
            "%.3f" % (fc / fn) if fn and fc is not None else "-",
            "-" if cn is None else "%.2f" % cn, "-" if cc is None else "%.2f" % cc,
            "%.2f" % (cc / cn) if cn and cc else "-", mib(pn), mib(pc)))
    return out, noloss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="100k,250k,500k,1M,2M,3M,4M", help="flows/s, comma separated")
    ap.add_argument("--seconds", type=float, default=10.0, help="sending time per run")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--ipfix", action="store_true", help="IPFIX instead of NetFlow v9")
    ap.add_argument("--records", type=int, default=30, help="data records per datagram")
    ap.add_argument("--pool", type=int, default=2048, help="distinct pre-built datagrams per sender")
    ap.add_argument("--senders", default="auto", help="sender processes, or auto (one per --per-sender flows/s)")
    ap.add_argument("--per-sender", default="4M", help="auto: flows/s one sender process is given")
    ap.add_argument("--tools", default="nfcapd,cordon")
    ap.add_argument("--cordon", default=os.environ.get("CORDON_BIN", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "target", "release", "cordon")))
    ap.add_argument("--rcvbuf", type=int, default=8388608, help="socket buffer asked by both tools")
    ap.add_argument("--queue", type=int, default=0, help="cordon [[collect.netflow]] queue (0: its default)")
    ap.add_argument("--rmem-max", type=int, default=0,
                    help="as root, raise net.core.rmem_max to this for the run and restore it after")
    ap.add_argument("--reload-every", type=float, default=0.0,
                    help="cordon: POST /api/v1/reload every this many seconds while sending")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--md", help="write the Markdown here too")
    ap.add_argument("--soak", type=float, help="seconds: one long cordon run at --rate, RSS once a second")
    ap.add_argument("--rate", default="500k", help="--soak / --send-only rate")
    ap.add_argument("--csv", help="--soak: the RSS series (default bench/serve/soak.csv)")
    ap.add_argument("--max-growth", type=float,
                    help="--soak: exit 1 if RSS grows more than this many %% from the first to the last "
                         "tenth of the loaded run (after warm-up), or if the counts do not add up")
    ap.add_argument("--send-only", action="store_true", help="just send to 127.0.0.1:--port")
    ap.add_argument("--port", type=int, default=2055)
    a = ap.parse_args()

    cfg = {"ipfix": a.ipfix, "records": a.records, "pool": a.pool, "cordon": a.cordon,
           "rcvbuf": a.rcvbuf, "queue": a.queue, "reload_every": a.reload_every, "restamp": 5.0, "grace": 2.0, "sample_every": 0.5}
    per = parse_rate(a.per_sender)

    def nsend(rate):
        return int(a.senders) if a.senders != "auto" else max(1, math.ceil(rate / per))

    if a.send_only:
        rate = parse_rate(a.rate)
        r = send_rate(cfg, a.port, rate, a.seconds, nsend(rate))
        r.pop("per_sender")
        print(json.dumps(r, indent=1))
        return

    mach = machine()
    old_rmem = None
    if a.rmem_max and mach["rmem_max"] < a.rmem_max:
        if os.geteuid() != 0:
            sys.exit("--rmem-max needs root")
        old_rmem = mach["rmem_max"]
        with open("/proc/sys/net/core/rmem_max", "w") as f:
            f.write(str(a.rmem_max))
        mach["rmem_max_raised_from"] = old_rmem
        mach["rmem_max"] = int(read("/proc/sys/net/core/rmem_max"))
    try:
        if a.soak:
            soak(a, cfg, mach, nsend)
        else:
            ladder(a, cfg, mach, nsend)
    finally:
        if old_rmem is not None:
            with open("/proc/sys/net/core/rmem_max", "w") as f:
                f.write(str(old_rmem))


def header(a, cfg, mach):
    fmt = "IPFIX" if a.ipfix else "NetFlow v9"
    lines = ["# cordon serve vs nfcapd: sustained %s ingest on loopback" % fmt, "",
             "Command: `%s`" % " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:]), "",
             "Machine: %s, nproc %s, kernel %s, %.1f GiB, %s; net.core.rmem_max %d%s; netdev_max_backlog %d; Python %s" % (
                 mach.get("cpu"), mach["nproc"], mach["uname_r"], mach.get("mem_total_kb", 0) / 2**20,
                 mach.get("nfcapd", "nfcapd ?"), mach["rmem_max"],
                 (" (raised from %d for the run)" % mach["rmem_max_raised_from"]) if "rmem_max_raised_from" in mach else "",
                 mach["netdev_max_backlog"], mach["python"]),
             "",
             "Datagrams: %d records each (%s), template every %d datagrams; socket buffer asked %d bytes (the kernel grants min(asked, rmem_max) x 2)." % (
                 cfg["records"], fmt, TEMPLATE_EVERY, cfg["rcvbuf"]), ""]
    return lines


def ladder(a, cfg, mach, nsend):
    rates = [parse_rate(r) for r in a.rates.split(",") if r.strip()]
    tools = [t.strip() for t in a.tools.split(",") if t.strip()]
    rows = []
    t_start = time.monotonic()
    for run in range(1, a.runs + 1):
        for i, rate in enumerate(rates):
            order = tools if (i + run) % 2 == 0 else list(reversed(tools))
            for tool in order:
                tmp = tempfile.mkdtemp(prefix="cordon-serve-bench-")
                try:
                    fn = run_nfcapd if tool == "nfcapd" else run_cordon
                    r = fn(cfg, rate, a.seconds, nsend(rate), tmp)
                except Exception as e:
                    print("run %d %s %s: %s" % (run, tool, fmt_rate(rate), e), file=sys.stderr)
                    r = None
                finally:
                    logs = {n: read(os.path.join(tmp, n))[-4000:] for n in ("cordon.log", "nfcapd.log")}
                    shutil.rmtree(tmp, ignore_errors=True)
                if r is None:
                    continue
                r["run"] = run
                r["log_tail"] = logs["cordon.log" if tool == "cordon" else "nfcapd.log"]
                rows.append(r)
                s = r["send"]
                print("# run %d %-6s target %s achieved %s sent %d received %s lost %s kernel %s check %s rss %s MiB (%.0f s in)" % (
                    run, tool, fmt_rate(rate), fmt_rate(s["achieved_rate"]), s["flows"], r.get("received"),
                    r.get("lost"), r.get("kernel_dropped_datagrams"),
                    (r.get("check") or {}).get("ok"), mib(r.get("rss_peak_kb")), time.monotonic() - t_start),
                    file=sys.stderr, flush=True)
    table, noloss = side_by_side(rows)
    lines = header(a, cfg, mach)
    lines += ["## Side by side", ""] + table + [""]
    if noloss:
        nl = ", ".join("%s %s flows/s" % (t, fmt_rate(v)) for t, v in sorted(noloss.items()))
        lines += ["Highest tested no-loss rate (every run at that rate lossless): %s%s." % (
            nl, (" (cordon/nfcapd %.2f)" % (noloss["cordon"] / noloss["nfcapd"]))
            if "cordon" in noloss and "nfcapd" in noloss else ""), ""]
    lines += ["## Every run", ""] + md_rows(rows, cfg["records"]) + [""]
    rl = [r for r in rows if r.get("reload")]
    if rl:
        lines += ["Reloads under load (POST /api/v1/reload every %g s while sending):" % cfg["reload_every"], ""]
        lines += ["| target | run | reloads | accepted | swap median ms | swap max ms | client max ms | check |",
                  "|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in rl:
            x = r["reload"]
            lines.append("| %s | %d | %d | %d | %s | %s | %s | %s |" % (
                fmt_rate(r["send"]["target_rate"]), r["run"], x["reloads"], x["ok"], x["took_ms_median"],
                x["took_ms_max"], x["client_ms_max"], "ok" if (r.get("check") or {}).get("ok") else "no"))
        lines.append("")
    senders = sorted({(r["send"]["target_rate"], r["send"]["senders"]) for r in rows})
    lines += ["Sender processes per rate: " + ", ".join("%s: %d" % (fmt_rate(t), n) for t, n in senders),
              "Sender CPU (s per run, all processes): " + ", ".join(
                  "%s %s: %.1f" % (fmt_rate(r["send"]["target_rate"]), r["tool"], r["send"]["sender_cpu_seconds"]) for r in rows),
              "Backlog (softnet) drops during runs: %d" % sum(r.get("softnet_dropped") or 0 for r in rows),
              "Kernel rcvbuf granted (ss rb): " + ", ".join(sorted({"%s %s" % (r["tool"], r.get("rcvbuf_granted")) for r in rows})),
              "Total benchmark time: %.0f s" % (time.monotonic() - t_start), ""]
    text = "\n".join(lines)
    print(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": mach, "config": cfg, "argv": sys.argv, "noloss": noloss, "rows": rows},
                      f, indent=1, default=str)


def rss_trend(series, warm, until):
    """RSS over the loaded part of a soak, after warm-up: the medians of its first and last
    tenths, their ratio, and the least-squares slope."""
    pts = [(r["t"], r["rss_kb"]) for r in series if warm <= r["t"] <= until]
    if len(pts) < 10:
        return None
    k = max(1, len(pts) // 10)
    med = lambda xs: sorted(xs)[len(xs) // 2]
    first, last = med([v for _, v in pts[:k]]), med([v for _, v in pts[-k:]])
    n = len(pts)
    mt = sum(t for t, _ in pts) / n
    mv = sum(v for _, v in pts) / n
    var = sum((t - mt) ** 2 for t, _ in pts)
    slope = sum((t - mt) * (v - mv) for t, v in pts) / var if var else 0.0  # kB per s
    return {"first_mib": round(first / 1024, 1), "last_mib": round(last / 1024, 1),
            "growth_pct": round(100.0 * (last - first) / first, 2),
            "slope_mib_per_hour": round(slope * 3600 / 1024, 2), "samples": n}


def soak(a, cfg, mach, nsend):
    rate = parse_rate(a.rate)
    tools = [t.strip() for t in a.tools.split(",") if t.strip()]
    if tools == ["nfcapd", "cordon"]:
        tools = ["cordon"]
    cfg = dict(cfg, sample_every=1.0)
    path = a.csv or os.path.join(os.path.dirname(os.path.abspath(__file__)), "soak.csv")
    tmp = tempfile.mkdtemp(prefix="cordon-serve-soak-")
    try:
        if tools != ["cordon"]:
            sys.exit("--soak runs cordon only")
        proc, log, port, http, cmd, conf = start_cordon(cfg, tmp)
        res = {}
        try:
            def extra():
                c = collector_counts(cordon_status(http))
                return {"flows_received": c["flows_received"], "queue_depth": c["queue_depth"],
                        "queue_full": c["dropped"].get("queue-full", 0),
                        "kernel_dropped": (udp_socket(port) or (0, None))[1],
                        "engine_flows": c["engine_flows"], "cpu_s": cpu_seconds(proc.pid)}
            load = loadavg()
            samp = Sampler(proc.pid, 1.0, extra)
            samp.start()
            rel = Reloader(http, cfg["reload_every"]) if cfg["reload_every"] else None
            if rel:
                rel.start()
            sent = send_rate(cfg, port, rate, a.soak, nsend(rate))
            if rel:
                rel.stop()
                res["reload"] = rel.summary()
            wait_drained(port)
            counts, settled = wait_cordon_settled(http)
            u = udp_socket(port)
            samp.stop()
        finally:
            stop(proc)
            log.close()
        with open(path, "w", newline="") as f:
            keys = ["t", "rss_kb", "flows_received", "queue_depth", "queue_full", "kernel_dropped", "engine_flows", "cpu_s"]
            w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
            w.writeheader()
            for row in samp.series:
                w.writerow(row)
        s = samp.series
        steady = [r["rss_kb"] for r in s if r["t"] >= min(60.0, a.soak / 4)]
        R = cfg["records"]
        kd = counts.get("datagrams_dropped_kernel") if counts else None
        if kd is None:
            kd = u[1] if u else None
        qf = counts["dropped"].get("queue-full", 0)
        lhs = counts["flows_received"] + qf + (kd or 0) * R
        warm = min(60.0, a.soak / 4)
        trend = rss_trend(s, warm, a.soak)
        ok = lhs == sent["flows"]
        lines = header(a, cfg, mach) + [
            "## Soak: cordon at %s flows/s for %.0f s" % (fmt_rate(rate), a.soak), "",
            "| sent | achieved/s | received | queue-full | kernel dgrams | check | RSS MiB first / min / max / last (after %.0f s) | load before |" % min(60.0, a.soak / 4),
            "|---:|---:|---:|---:|---:|---|---|---|",
            "| %d | %s | %d | %d | %s | %s | %s / %s / %s / %s | %s |" % (
                sent["flows"], fmt_rate(sent["achieved_rate"]), counts["flows_received"], qf, kd,
                "ok" if lhs == sent["flows"] else "%+d" % (lhs - sent["flows"]),
                mib(s[0]["rss_kb"] if s else None), mib(min(steady) if steady else None),
                mib(max(steady) if steady else None), mib(s[-1]["rss_kb"] if s else None), " ".join(load)),
            ""]
        if trend:
            lines += ["RSS while loaded, after %.0f s of warm-up: first tenth %s MiB, last tenth %s MiB (%+.1f %%); least-squares slope %+.1f MiB/hour over %d samples." % (
                warm, trend["first_mib"], trend["last_mib"], trend["growth_pct"], trend["slope_mib_per_hour"], trend["samples"]), ""]
        lines += ["RSS series (1 s): %s (%d samples)" % (os.path.relpath(path), len(s)), ""]
        if res.get("reload"):
            rs = res["reload"]
            lines += ["Reloads under load (POST /api/v1/reload every %g s): %d, %d accepted; swap (took_ms) median %s ms, max %s ms; client round trip max %s ms." % (
                cfg["reload_every"], rs["reloads"], rs["ok"], rs["took_ms_median"], rs["took_ms_max"], rs["client_ms_max"]), ""]
        res.update({"machine": mach, "config": cfg, "argv": sys.argv, "send": sent, "status": counts, "rss_trend": trend,
               "settled": settled, "kernel_dropped_datagrams": kd, "series": s})
        text = "\n".join(lines)
        print(text)
        if a.md:
            with open(a.md, "w") as f:
                f.write(text)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(res, f, indent=1, default=str)
        if a.max_growth is not None:
            bad = []
            if not ok:
                bad.append("received + queue-full + kernel-dropped x records = %d, sent %d" % (lhs, sent["flows"]))
            if trend is None:
                bad.append("too few RSS samples to judge the trend")
            elif trend["growth_pct"] > a.max_growth:
                bad.append("RSS grew %.1f %% (> %g %%)" % (trend["growth_pct"], a.max_growth))
            if bad:
                sys.exit("soak failed: " + "; ".join(bad))
            print("soak ok: counts add up; RSS %+.1f %% (limit %g %%)" % (trend["growth_pct"], a.max_growth), file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
