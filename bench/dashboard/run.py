#!/usr/bin/env python3
"""Dashboard render time with a real store: 100 k findings and a year of hourly buckets.

What it does, all on loopback:

1. `cordon scan --format jsonl examples/office.pcap` gives real finding, exposure and device
   records (the templates: every stored record below is one of them with its asset, id and
   times changed).
2. `cordon serve` starts once on an empty store to create its schema, and stops.
3. The store is filled with Python's sqlite3: N findings over A assets and the example's
   companies (statuses: 55 % open, 35 % resolved, 10 % waived; 5 % acknowledged), each with
   its lifecycle events; P exposures (asset x company) with one bucket per hour for D days
   (P x D x 24 rows), their daily rollup, and 500 devices.
4. `cordon serve` starts on the filled store; each page is fetched R times after two warm-up
   fetches, one request at a time. The server time is the page's `Server-Timing` header
   (measured around the handler, database included); the round trip is measured here.

    bench/dashboard/run.py [--findings 100000] [--pairs 1000] [--days 365] [--reps 30]
                           [--md out.md] [--json out.json] [--keep DIR]

Exits 1 when the overview or the findings page has a median server time over --target-ms
(default 200).
"""

import argparse
import http.client
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def stop(proc, timeout=60):
    if proc.poll() is not None:
        return proc.returncode
    os.kill(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(10)


def wait_http(port, proc, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("cordon serve exited with %s" % proc.returncode)
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("cordon serve did not answer within %d s" % timeout)


def templates(cordon):
    out = subprocess.run([cordon, "scan", "--format", "jsonl", os.path.join(ROOT, "examples", "office.pcap")],
                         capture_output=True, text=True)
    recs = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
    by = {}
    for r in recs:
        # The store keeps records without the stream's `type` tag.
        by.setdefault(r.pop("type", None), []).append(r)
    if not by.get("finding") or not by.get("exposure"):
        raise SystemExit("the example scan gave no findings or exposures: %s" % out.stderr)
    return by


def start(cordon, config, log):
    return subprocess.Popen([cordon, "serve", "--config", config], stdout=subprocess.DEVNULL,
                            stderr=open(log, "w"), env=dict(os.environ, CORDON_LOG="warn"))


def fill(db, by, n_findings, n_assets, n_pairs, days, now_ms):
    rnd = random.Random(7)
    finds = by["finding"]
    exps = by["exposure"]
    devs = by.get("device", [])
    c = sqlite3.connect(db)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=OFF")
    sev_level = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
    year_ms = days * 86_400_000
    asset = lambda i: "10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255 or 1)
    rows, events = [], []
    for i in range(n_findings):
        t = dict(finds[i % len(finds)])
        t["id"] = "%016x" % (0x1000000 + i)
        t["asset"] = asset(i % n_assets)
        t["severity"] = ["critical", "high", "high", "medium", "medium", "low", "info"][i % 7]
        first = now_ms - rnd.randrange(year_ms)
        last = min(now_ms, first + rnd.randrange(30 * 86_400_000))
        u = rnd.random()
        status = "ongoing" if u < 0.45 else "new" if u < 0.52 else "reopened" if u < 0.55 else \
            "resolved" if u < 0.90 else "waived"
        if status in ("new", "ongoing", "reopened"):
            last = now_ms - rnd.randrange(86_400_000)
        episode = 2 if status == "reopened" else 0 if status == "waived" else 1
        acked = last if rnd.random() < 0.05 else None
        rows.append((t["id"], t["rule"], t["severity"], sev_level[t["severity"]], t["asset"], t["entity"],
                     t["group"], t["relationship"], status, 1 if status == "waived" else 0, episode, first,
                     last, last, acked, "bench" if acked else None, json.dumps(t)))
        events.append((t["id"], first, "waived" if status == "waived" else "new", episode, None))
        if status in ("resolved", "reopened"):
            events.append((t["id"], last, "resolved", 1, None))
        if status == "reopened":
            events.append((t["id"], last, "reopened", 2, None))
    c.executemany("INSERT INTO finding (id, rule, severity, sev, asset, entity, grp, relationship, status, waived,"
                  " episode, first_ms, last_ms, changed_ms, acked_ms, ack_note, record)"
                  " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    c.executemany("INSERT INTO finding_event (id, at_ms, status, episode, note) VALUES (?,?,?,?,?)", events)
    pairs = []
    for i in range(n_pairs):
        e = dict(exps[i % len(exps)])
        e["asset"] = asset(i % n_assets)
        pairs.append((e["asset"], e["entity"], e["relationship"], e["group"]))
        c.execute("INSERT OR REPLACE INTO exposure (asset, entity, relationship, grp, flows, bytes_out, bytes_in,"
                  " first_seen, last_seen, seen_ms, record) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                  (e["asset"], e["entity"], e["relationship"], e["group"], e["flows"], e["bytes_out"],
                   e["bytes_in"], e["first_seen"], e["last_seen"], now_ms, json.dumps(e)))
    end_h = now_ms // 3_600_000 * 3600
    hours = days * 24

    def buckets():
        for h in range(hours):
            hour = end_h - h * 3600
            for (a, ent, rel, g) in pairs:
                yield (hour, a, ent, rel, g, 3, 9000, 4000)
    c.executemany("INSERT OR IGNORE INTO exposure_hour (hour, asset, entity, relationship, grp, flows, bytes_out,"
                  " bytes_in) VALUES (?,?,?,?,?,?,?,?)", buckets())
    c.execute("DELETE FROM exposure_day")
    c.execute("DELETE FROM exposure_day_count")
    c.execute("INSERT OR IGNORE INTO exposure_day (day, grp, asset) SELECT DISTINCT hour / 86400, grp, asset"
              " FROM exposure_hour")
    c.execute("INSERT INTO exposure_day_count (day, grp, assets) SELECT day, grp, COUNT(*) FROM exposure_day"
              " GROUP BY day, grp")
    for i in range(500 if devs else 0):
        d = dict(devs[i % len(devs)])
        mac = "02:00:00:%02x:%02x:%02x" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)
        d["mac"] = mac
        d["ip"] = asset(i)
        c.execute("INSERT OR REPLACE INTO device (mac, ip, entity, grp, seen_ms, record) VALUES (?,?,?,?,?,?)",
                  (mac, d["ip"], d.get("entity"), d.get("group"), now_ms, json.dumps(d)))
    c.commit()
    counts = {t: c.execute("SELECT COUNT(*) FROM %s" % t).fetchone()[0]
              for t in ("finding", "finding_event", "exposure", "exposure_hour", "exposure_day", "device")}
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    return counts


def fetch(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    t0 = time.perf_counter()
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    rt = (time.perf_counter() - t0) * 1000
    st = r.getheader("server-timing") or ""
    server = float(st.split("dur=")[1]) if "dur=" in st else None
    c.close()
    return r.status, server, rt, len(body)


def machine():
    m = {"nproc": os.cpu_count(), "uname_r": os.uname().release, "python": sys.version.split()[0],
         "sqlite_py": sqlite3.sqlite_version}
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                m["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cordon", default=os.environ.get("CORDON_BIN", os.path.join(ROOT, "target", "release", "cordon")))
    ap.add_argument("--findings", type=int, default=100_000)
    ap.add_argument("--assets", type=int, default=20_000)
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--target-ms", type=float, default=200.0)
    ap.add_argument("--md")
    ap.add_argument("--json")
    ap.add_argument("--keep", help="build the store in this folder and keep it")
    a = ap.parse_args()
    if not os.path.exists(a.cordon):
        raise SystemExit("%s: build it first (cargo build --release --locked -p cordon)" % a.cordon)
    work = a.keep or tempfile.mkdtemp(prefix="cordon-dash-bench-")
    os.makedirs(work, exist_ok=True)
    port = free_port()
    empty = os.path.join(work, "empty")
    os.makedirs(empty, exist_ok=True)
    config = os.path.join(work, "cordon.toml")
    with open(config, "w") as f:
        f.write('[store]\npath = "var"\nretention_days = %d\n[http]\nlisten = "127.0.0.1:%d"\nrate_limit = 10000\n'
                '[[collect.zeek]]\npath = "%s"\n[judge]\ninternal = ["10.0.0.0/8"]\n'
                '[lifecycle]\nresolve_after_secs = %d\n' % (a.days + 30, port, empty, 10 * 365 * 86400))
    by = templates(a.cordon)
    log = os.path.join(work, "serve.log")
    p = start(a.cordon, config, log)
    wait_http(port, p, 60)
    stop(p)
    db = os.path.join(work, "var", "cordon.db")
    now_ms = int(time.time() * 1000)
    t0 = time.time()
    counts = fill(db, by, a.findings, a.assets, a.pairs, a.days, now_ms)
    fill_s = time.time() - t0
    size_mb = os.path.getsize(db) / 1e6
    print("# store filled in %.0f s: %s, %.0f MB" % (fill_s, counts, size_mb), file=sys.stderr)
    t0 = time.time()
    p = start(a.cordon, config, log)
    wait_http(port, p, 600)
    open_s = time.time() - t0
    f0 = by["finding"][0]
    paths = [
        ("overview", "/"),
        ("findings (open, by severity)", "/findings"),
        ("findings page 500 of all", "/findings?status=all&page=500"),
        ("findings sorted by last seen", "/findings?status=all&sort=last&dir=desc"),
        ("findings, critical only", "/findings?severity=critical"),
        ("findings, text search", "/findings?q=10.0.3&status=all"),
        ("findings of one company", "/findings?company=%s" % f0["entity"]),
        ("one finding", "/findings/%016x" % (0x1000000 + 12345)),
        ("one asset", "/assets/10.0.48.57"),
        ("one company", "/companies/%s" % f0["entity"]),
        ("devices", "/devices"),
        ("intel", "/intel"),
    ]
    rows = []
    try:
        for name, path in paths:
            for _ in range(2):
                fetch(port, path)
            server, rt, size, codes = [], [], 0, set()
            for _ in range(a.reps):
                code, s, r, n = fetch(port, path)
                codes.add(code)
                if s is not None:
                    server.append(s)
                rt.append(r)
                size = n
            q = lambda xs, f: round(sorted(xs)[min(len(xs) - 1, int(len(xs) * f))], 1) if xs else None
            row = {"page": name, "path": path, "status": sorted(codes), "bytes": size,
                   "server_ms_median": round(statistics.median(server), 1) if server else None,
                   "server_ms_p95": q(server, 0.95), "server_ms_max": round(max(server), 1) if server else None,
                   "round_trip_ms_median": round(statistics.median(rt), 1)}
            rows.append(row)
            print("# %-32s %s server median %s ms p95 %s ms, round trip %s ms, %d bytes" % (
                name, row["status"], row["server_ms_median"], row["server_ms_p95"], row["round_trip_ms_median"], size),
                file=sys.stderr)
    finally:
        rss = None
        try:
            for line in open("/proc/%d/status" % p.pid):
                if line.startswith("VmHWM"):
                    rss = int(line.split()[1]) // 1024
        except OSError:
            pass
        rc = stop(p)
    gated = [r for r in rows if r["page"].startswith(("overview", "findings (open"))]
    ok = all(r["status"] == [200] for r in rows) and all(
        r["server_ms_median"] is not None and r["server_ms_median"] <= a.target_ms for r in gated)
    result = {"command": " ".join(sys.argv), "machine": machine(), "store": counts, "store_mb": round(size_mb),
              "fill_seconds": round(fill_s), "open_seconds": round(open_s, 1), "serve_peak_rss_mib": rss,
              "serve_exit": rc, "reps": a.reps, "target_ms": a.target_ms, "pages": rows, "ok": ok}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    md = ["# cordon dashboard: server render time with a real store", "",
          "Command: `bench/dashboard/run.py %s`" % " ".join(sys.argv[1:]), "",
          "Machine: %s, nproc %s, kernel %s" % (result["machine"].get("cpu", "?"), result["machine"]["nproc"],
                                               result["machine"]["uname_r"]), "",
          "Store: %s findings, %s lifecycle events, %s exposures with %s hourly buckets (%d days), %s daily rows, "
          "%s devices; %d MB. Filled in %d s; `cordon serve` opened it (quick_check included) and answered in %.1f s; "
          "peak RSS %s MiB." % (counts["finding"], counts["finding_event"], counts["exposure"], counts["exposure_hour"],
                                a.days, counts["exposure_day"], counts["device"], size_mb, fill_s, open_s, rss), "",
          "Each page %d times after two warm-up fetches, one request at a time. Server time: the `Server-Timing` "
          "header (handler and database); round trip: measured by the client on loopback." % a.reps, "",
          "| page | path | status | server ms median | p95 | max | round trip ms median | bytes |",
          "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append("| %s | `%s` | %s | %s | %s | %s | %s | %d |" % (
            r["page"], r["path"], ",".join(map(str, r["status"])), r["server_ms_median"], r["server_ms_p95"],
            r["server_ms_max"], r["round_trip_ms_median"], r["bytes"]))
    md += ["", "Target: overview and findings page under %.0f ms of server time: **%s**." % (
        a.target_ms, "met" if ok else "NOT met")]
    text = "\n".join(md) + "\n"
    if a.md:
        with open(a.md, "w") as f:
            f.write(text)
    print(text)
    if not a.keep:
        subprocess.run(["rm", "-rf", work])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
