#!/usr/bin/env python3
"""Runs the hostile-input matrix against a cordon binary and prints it as a Markdown table.

usage: run.py CORDON DATADIR [OUT.md]      (DATADIR made by gen.py)

Each case runs beside a small valid input (examples/flows.csv) under an 8 GiB address-space
limit and a 120 s deadline. A case passes when cordon exits 0, 1 or 2 (never a panic's 101,
an abort's 134, SIGBUS's 135 or a kill's 137), its JSONL is whole (every line parses, the
last is the summary) and, where the case says so, the valid input still gave its records.
Exit status: 0 when every case passes.
"""
import json, os, resource, shutil, signal, subprocess, sys, threading, time

cordon, data = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
out_md = sys.argv[3] if len(sys.argv) > 3 else None
root = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
ok_csv = os.path.join(root, "examples/flows.csv")
D = lambda n: os.path.join(data, n)
scratch = D("scratch")
shutil.rmtree(scratch, ignore_errors=True)
os.makedirs(scratch)
S = lambda n: os.path.join(scratch, n)


def age(path):
    """Old enough to be mapped (files written in the last minute are read)."""
    t = time.time() - 3600
    os.utime(path, (t, t))


def run(args, nofile=None, during=None, limit=120, env=None):
    def pre():
        resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        os.nice(5)
    outf, errf = open(S("stdout"), "wb"), open(S("stderr"), "wb")
    start = time.time()
    p = subprocess.Popen([cordon, "scan"] + args, stdout=outf, stderr=errf, stdin=subprocess.DEVNULL,
                         preexec_fn=pre, env=dict(os.environ, **(env or {})))
    timer = threading.Timer(limit, lambda: p.send_signal(signal.SIGKILL))
    timer.start()
    if during:
        during()
    _, status, usage = os.wait4(p.pid, 0)
    timer.cancel()
    p.returncode = 0
    wall = time.time() - start
    outf.close(); errf.close()
    code = os.waitstatus_to_exitcode(status)
    code = 128 - code if code < 0 else code
    stdout = open(S("stdout"), "rb").read()
    stderr = open(S("stderr"), "rb").read().decode(errors="replace")
    return code, usage.ru_maxrss >> 10, wall, stdout, stderr


def jsonl_state(stdout):
    try:
        recs = [json.loads(l) for l in stdout.splitlines() if l.strip()]
    except ValueError:
        return None, "broken"
    if not recs or recs[-1].get("type") != "summary":
        return recs, "cut"
    return recs, "valid"


def others_ok(recs):
    if not recs:
        return False
    s = recs[-1]
    return any(i.get("path", "").endswith("flows.csv") and i.get("records", 0) > 0 and not i.get("error")
               for i in s.get("inputs", []))


rows, failures = [], 0


def case(name, args, beside=True, jsonl=True, nofile=None, during=None, note=None, expect=None, env=None):
    global failures
    full = list(args) + ([ok_csv] if beside else []) + (["--format", "jsonl"] if jsonl else [])
    code, rss, wall, stdout, stderr = run(full, nofile=nofile, during=during, env=env)
    recs, state = jsonl_state(stdout) if jsonl else (None, "-")
    others = ("yes" if others_ok(recs) else "**no**") if beside and jsonl else "-"
    msg = (note(recs, stderr) if note else "") or (stderr.strip().splitlines() or [""])[-1][:110]
    good = code in (0, 1, 2) and (not jsonl or state == "valid" or code == 2) and others != "**no**"
    if expect is not None:
        good = good and expect(code, recs, stderr)
    failures += 0 if good else 1
    rows.append((name, code, msg.replace("|", "\\|"), rss, wall, others, state, "pass" if good else "**FAIL**"))
    print(f"{'pass' if good else 'FAIL'}  {name}: exit {code}, {rss} MiB, {wall:.1f} s", file=sys.stderr)


def summary_note(recs, stderr):
    if not recs:
        return ""
    inputs = [i for i in recs[-1].get("inputs", []) if not i.get("path", "").endswith("flows.csv")]
    bits = []
    for i in inputs[:1]:
        bits.append(f"{i.get('records', 0)} records, {i.get('anomalies', 0)} anomalies")
        if i.get("error"):
            bits.append(i["error"][:80])
    if len(inputs) > 1:
        bits.append(f"{len(inputs)} inputs")
    return "; ".join(bits)


def exposures(recs):
    return sum(1 for r in recs or [] if r.get("type") == "exposure")


# ---- decompression bombs and long lines
for f in ["bomb-zeros.gz", "bomb-zeros.zst", "bomb-pcap.gz", "bomb-eve.gz", "bomb-eve.zst", "bomb-conn.gz"]:
    if os.path.exists(D(f)):
        case(f, [D(f)], note=summary_note)
for f in ["longline.log", "nonewline.log"]:
    age(D(f))
    case(f + " (mapped)", [D(f)], note=summary_note)
    case(f + " --no-mmap", [D(f), "--no-mmap"], note=summary_note)
case("longline.log.gz", [D("longline.log.gz")], note=summary_note)
for f in ["deep-eve.json", "deep-ndjson.json", "bigstring-eve.json", "caplen.pcap", "hugeblock.pcapng"]:
    case(f, [D(f)], note=summary_note)
case("nf-flood.pcap: the real exporter's flow survives", [D("nf-flood.pcap")], beside=False,
     note=lambda r, e: f"{exposures(r)} exposure(s); " + summary_note(r, e), expect=lambda c, r, e: exposures(r) == 1)
for f in ["padded.log.gz", "garbage.log.gz", "cut-eve.json.gz"]:
    case(f, [D(f)], note=summary_note)
case("dns.log, 2 M unique answers", [D("dns-2m.log")], note=summary_note, expect=lambda c, r, e: True)

# ---- many files, loops, FIFOs, devices
many = S("many")
os.makedirs(many)
header = open(D("conn-2k-assets.log")).read().split("\n")
head = "\n".join(l for l in header if l.startswith("#")) + "\n"
benign = head + "1795683600.400000\tCbenign\t10.20.1.8\t51514\t192.0.2.1\t443\ttcp\tssl\t0.5\t600\t900\tSF\tT\tF\t0\tS\t5\t800\t5\t1100\t-\n"
for i in range(20000):
    with open(os.path.join(many, f"a-{i:05d}.log"), "w") as f:
        f.write(benign)
with open(os.path.join(many, "z-real.log"), "w") as f:
    f.write(head + "\n".join(header[-2:]))
case("20,000 files, ulimit -n 1024, --fail-on medium", [many, "--fail-on", "medium"], nofile=1024,
     note=lambda r, e: f"{len(r[-1]['inputs']) if r else 0} inputs, {exposures(r)} exposure(s)",
     expect=lambda c, r, e: c == 1 and exposures(r) >= 1)
for n in (1, 2):
    d = S(f"loop{n}")
    os.makedirs(d)
    shutil.copy(os.path.join(root, "examples/zeek/conn.log"), d)
    for k in range(n):
        os.symlink(".", os.path.join(d, f"l{k}"))
    case(f"symlink loop x{n}", [d], note=lambda r, e: f"{len(r[-1]['inputs']) - 1 if r else 0} input(s) besides ok.csv",
         expect=lambda c, r, e: r is not None and len(r[-1]["inputs"]) == 2)
fifo = S("fifo")
os.makedirs(fifo)
os.mkfifo(os.path.join(fifo, "pipe.log"))
os.mkfifo(S("pipe.toml"))
case("FIFO in a scanned folder", [fifo], note=summary_note)
ind = S("fifo-ind")
os.makedirs(ind)
os.mkfifo(os.path.join(ind, "feed.txt"))
with open(os.path.join(ind, "a.txt"), "w") as f:
    f.write("47.88.1.2\n")
case("FIFO in an --indicators folder", [ok_csv, "--indicators", ind], beside=False)
for flag in ["--indicators", "--assets", "--policy", "--waivers"]:
    case(f"FIFO as {flag}", [ok_csv, flag, S("pipe.toml")], beside=False, jsonl=False)
for flag in ["--indicators", "--assets"]:
    case(f"/dev/zero as {flag}", [ok_csv, flag, "/dev/zero"], beside=False, jsonl=False)

# ---- truncated while mapped
big = S("conn-1g.log")
with open(big, "wb") as f:
    f.write(head.encode())
    chunk = ("".join(header[-2:-1]) + "\n").encode() * 20000
    while f.tell() < (1 << 30):
        f.write(chunk)
age(big)
case("1 GiB conn log truncated to 1 MiB during the scan (mapped)", [big],
     during=lambda: (time.sleep(0.3), os.truncate(big, 1 << 20)), note=summary_note)

# ---- inventory, configuration, indicators
case("inventory 1 M rows x 2,000 exposures", [D("conn-2k-assets.log"), "--assets", D("inventory-1m.csv")],
     note=lambda r, e: f"{sum(1 for x in r or [] if x.get('type') == 'finding')} findings")
case("indicator list with a multi-byte char at byte 7", [ok_csv, "--indicators", D("refang.txt")], beside=False)
case("policy TOML nested 100k deep", [ok_csv, "--policy", D("deep.toml")], beside=False, jsonl=False)
case("waiver expires 2026-02-30", [ok_csv, "--waivers", D("waiver-date.toml")], beside=False, jsonl=False)

lines = ["| case | exit | message / result | peak RSS MiB | wall s | others | JSONL | verdict |",
         "|---|---|---|---|---|---|---|---|"]
for r in rows:
    lines.append("| {} | {} | {} | {} | {:.1f} | {} | {} | {} |".format(*r))
table = "\n".join(lines)
print(table)
if out_md:
    open(out_md, "w").write(table + "\n")
print(f"{len(rows) - failures} passed, {failures} failed", file=sys.stderr)
shutil.rmtree(scratch, ignore_errors=True)
sys.exit(1 if failures else 0)
