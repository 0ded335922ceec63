#!/usr/bin/env python3
"""Builds the hostile inputs of the reliability matrix (bench/hostile/run.sh).

usage: gen.py OUTDIR [GIB]   GIB scales the big cases (default 1: bombs of 2 GiB decompressed,
                             1 GiB lines; the review's figures used up to 20 GiB).
Every file is deterministic. Written for cordon; no third-party generator is reused.
"""
import gzip, json, os, struct, subprocess, sys, zlib

out = sys.argv[1]
GIB = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
os.makedirs(out, exist_ok=True)
P = lambda name: os.path.join(out, name)

CONN_FIELDS = ("ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes "
               "resp_bytes conn_state local_orig local_resp missed_bytes history orig_pkts "
               "orig_ip_bytes resp_pkts resp_ip_bytes tunnel_parents").split()
CONN_TYPES = ("time string addr port addr port enum string interval count count string bool bool "
              "count string count count count count set[string]").split()
HEADER = ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
          "#fields\t" + "\t".join(CONN_FIELDS) + "\n#types\t" + "\t".join(CONN_TYPES) + "\n")


def conn_line(i, src="10.20.1.7", dst="47.88.1.2"):
    return (f"{1795683600 + i % 86400}.400000\tC{i:017d}\t{src}\t51514\t{dst}\t443\ttcp\tssl\t0.5\t600\t900"
            "\tSF\tT\tF\t0\tShADadFf\t5\t800\t5\t1100\t-\n")


def eve_line(i, dst="47.88.1.2"):
    ts = "2026-11-26T09:00:00.400000+0000"
    return json.dumps({"timestamp": ts, "flow_id": i, "event_type": "flow", "src_ip": "10.20.1.7",
                       "src_port": 51514, "dest_ip": dst, "dest_port": 443, "proto": "TCP",
                       "flow": {"pkts_toserver": 5, "pkts_toclient": 5, "bytes_toserver": 800,
                                "bytes_toclient": 1100, "start": ts, "end": ts}},
                      separators=(",", ":")) + "\n"


def write(name, data):
    with open(P(name), "wb") as f:
        f.write(data)


def bomb(name, head, unit, total, zstd=False):
    """`head`, then `unit` repeated to `total` bytes, compressed: one member per 256 MiB."""
    block = unit * max(1, (256 << 20) // len(unit))
    if zstd:
        # zstd: frames concatenate; compress one block with the zstd command line.
        raw = P(name + ".block")
        with open(raw, "wb") as f:
            f.write(block)
        frame = subprocess.run(["zstd", "-q", "-19", "-c", raw], capture_output=True, check=True).stdout
        os.remove(raw)
        hframe = subprocess.run(["zstd", "-q", "-c"], input=head, capture_output=True, check=True).stdout
        members, first = frame, hframe
    else:
        members, first = gzip.compress(block, 9), gzip.compress(head, 9)
    with open(P(name), "wb") as f:
        f.write(first)
        for _ in range(max(1, int(total // len(block)))):
            f.write(members)


def pcap_header(link=1, snap=262144):
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snap, link)


def rec(data, ts=1795683600, caplen=None, origlen=None):
    return struct.pack("<IIII", ts, 0, len(data) if caplen is None else caplen,
                       len(data) if origlen is None else origlen) + data


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_packet(src, dst, sport, dport, payload):
    u = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(u), 0, 0x4000, 64, 17, 0, bytes(src), bytes(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + ip + u


GOOD = udp_packet([10, 20, 1, 7], [47, 88, 1, 2], 40000, 443, b"x" * 32)

G = int(GIB * (1 << 30))

# ---- decompression bombs
bomb("bomb-zeros.gz", b"\0" * 64, b"\0" * 4096, 2 * G)
bomb("bomb-pcap.gz", pcap_header(), b"\0" * 4096, 2 * G)
bomb("bomb-eve.gz", eve_line(0).encode(), "".join(eve_line(i) for i in range(64)).encode(), 2 * G)
bomb("bomb-conn.gz", HEADER.encode(), "".join(conn_line(i) for i in range(64)).encode(), 2 * G)
if subprocess.run(["sh", "-c", "command -v zstd"], capture_output=True).returncode == 0:
    bomb("bomb-zeros.zst", b"\0" * 64, b"\0" * 4096, 2 * G, zstd=True)
    bomb("bomb-eve.zst", eve_line(0).encode(), "".join(eve_line(i) for i in range(64)).encode(), 2 * G, zstd=True)

# ---- long lines and no newline (mapped, read, compressed)
with open(P("longline.log"), "wb") as f:
    f.write((HEADER + conn_line(0)).encode())
    mib = b"A" * (1 << 20)
    for _ in range(int(GIB * 1024)):
        f.write(mib)
    f.write(b"\n" + conn_line(1).encode())
with open(P("longline.log"), "rb") as src, gzip.open(P("longline.log.gz"), "wb", 1) as dst:
    while True:
        b = src.read(1 << 24)
        if not b:
            break
        dst.write(b)
with open(P("nonewline.log"), "wb") as f:
    f.write(b"#separator \\x09\t#fields\tts\tuid\t")
    for _ in range(int(GIB * 1024)):
        f.write(b"A" * (1 << 20))

# ---- deep and huge JSON
deep = "[" * 100000 + "]" * 100000
write("deep-eve.json", (eve_line(1)[:-2] + ',"x":' + deep + "}\n" + eve_line(2)).encode())
write("deep-ndjson.json", ('{"src_ip":"10.20.1.7","dst_ip":"47.88.1.2","x":' + deep + "}\n").encode())
with open(P("bigstring-eve.json"), "wb") as f:
    f.write(eve_line(3).encode())
    f.write(b'{"event_type":"dns","dns":{"rrname":"')
    for _ in range(int(GIB * 256)):
        f.write(b"a" * (1 << 20))
    f.write(b'"}}\n')
    f.write(eve_line(4).encode())

# ---- captures
write("caplen.pcap", pcap_header() + rec(GOOD) + rec(b"", caplen=0xFFFFFFFF, origlen=0xFFFFFFFF)
      + rec(GOOD, ts=1795683601))


def block(t, body):
    n = 12 + len(body)
    return struct.pack("<II", t, n) + body + struct.pack("<I", n)


pad = GOOD + b"\0" * ((4 - len(GOOD) % 4) % 4)
epb = block(6, struct.pack("<IIIII", 0, 0, 0, len(GOOD), len(GOOD)) + pad)
write("hugeblock.pcapng", block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
      + block(1, struct.pack("<HHI", 1, 0, 262144)) + epb + struct.pack("<II", 6, 0xFFFFFFF0)
      + b"\0" * 28 + epb)

# ---- NetFlow v9: many exporters flood templates, then one real exporter
with open(P("nf-flood.pcap"), "wb") as f:
    f.write(pcap_header())
    n_exp, n_tpl = int(20000 * GIB), 256
    for e in range(n_exp):
        recs = b"".join(struct.pack("!HHHH", 256 + t, 1, 8, 4) for t in range(n_tpl))
        pay = struct.pack("!HHIIII", 9, n_tpl, 1000, 1795683600, e, 0) + struct.pack("!HH", 0, 4 + len(recs)) + recs
        f.write(rec(udp_packet([100, 64 + (e >> 16 & 63), e >> 8 & 255, e & 255], [10, 0, 0, 1], 50000, 2055, pay)))
    fields = [(8, 4), (12, 4), (1, 4), (2, 4), (4, 1), (7, 2), (11, 2)]
    trec = struct.pack("!HH", 300, len(fields)) + b"".join(struct.pack("!HH", *x) for x in fields)
    data = bytes([10, 20, 1, 7, 47, 88, 1, 2]) + struct.pack("!IIBHH", 1234, 3, 6, 51514, 443)
    data += b"\0" * ((4 - len(data) % 4) % 4)
    pay = (struct.pack("!HHIIII", 9, 2, 1000, 1795683600, 1, 7) + struct.pack("!HH", 0, 4 + len(trec)) + trec
           + struct.pack("!HH", 300, 4 + len(data)) + data)
    f.write(rec(udp_packet([192, 0, 2, 99], [10, 0, 0, 1], 50000, 2055, pay)))

# ---- damaged compression
member = gzip.compress("".join([HEADER] + [conn_line(i) for i in range(20000)]).encode(), 1)
write("padded.log.gz", member + b"\0" * 512)
write("garbage.log.gz", member + b"\0\1garbage")
eve = gzip.compress("".join(eve_line(i) for i in range(200000)).encode(), 1)
write("cut-eve.json.gz", eve[: len(eve) * 9 // 10])

# ---- big inventory and the conn log that meets it
with open(P("inventory-1m.csv"), "w") as f:
    f.write("ip,name,owner,tags,data\n")
    for j in range(1000000):
        f.write(f"10.{j >> 16}.{j >> 8 & 255}.{j & 255},host-{j},it,ot,personal\n")
with open(P("conn-2k-assets.log"), "w") as f:
    f.write(HEADER)
    for i in range(2000):
        j = 999999 - i
        f.write(conn_line(i, src=f"10.{j >> 16}.{j >> 8 & 255}.{j & 255}"))

# ---- a dns.log of 2 M unique answers
dns = open(os.path.join(os.path.dirname(__file__), "../../examples/zeek/dns.log")).read().split("\n")
with open(P("dns-2m.log"), "w") as f:
    f.write("\n".join(l for l in dns if l.startswith("#")) + "\n")
    for i in range(2000000):
        f.write(f"1795683610.200000\tC{i:017d}\t10.20.{i >> 8 & 255}.{i & 255}\t41838\t8.8.8.8\t53\tudp\t60961\t0.01"
                f"\thost{i}.example-{i % 1000}.com\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0"
                f"\tcdn{i}.example.net,{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}.9\t300.0,60.0\tF\n")

# ---- indicator list with a multi-byte character across byte 7 (refang)
write("refang.txt", "47.88.1.3\nxxxxxx\u00e9\nhxxps://x\u00e9\u00e9.example\n".encode())

# ---- TOML nested deep, waivers with impossible dates
write("deep.toml", ("x = " + "[" * 100000 + "]" * 100000 + "\n").encode())
write("waiver-date.toml", b'[[waiver]]\ngroup = "alibaba"\nreason = "t"\nexpires = "2026-02-30"\n')

print(f"hostile inputs in {out} (scale {GIB} GiB)")
