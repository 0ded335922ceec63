#!/usr/bin/env python3
"""Writes the intel_import seeds (run from fuzz/): the target's first byte picks the entry
point (even: a dataset file for parse_files; 1: the body of a version-2 stored table; 3: the
body of a version-1 table), so each seed is that byte and then the file.
The MaxMind DB is built as in the reliability review's gen_mmdb.py ("ok" kind)."""
import json, os, struct

out = "seeds/intel_import"
os.makedirs(out, exist_ok=True)

def put(name, sel, body):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([sel]) + body)

put("ip-location-db.csv", 0,
    b"1.0.0.0,1.0.0.255,13335,Cloudflare, Inc.\n47.88.0.0,47.89.255.255,45102,\"Alibaba (US) Technology Co., Ltd.\"\n2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,64496,Example\n")
put("ip-location-db-num.csv", 0, b"16777216,16777471,13335,Cloudflare\n793247744,793378815,45102,Alibaba\n")
put("iptoasn.tsv", 2,
    b"1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n47.88.0.0\t47.89.255.255\t45102\tUS\tALIBABA-CN-NET\n")

# MaxMind DB: IPv4, one node, both halves pointing at one data record.
def ctrl(t, size):
    b0, ext = (t << 5, b"") if t <= 7 else (0, bytes([t - 7]))
    if size < 29:
        return bytes([b0 | size]) + ext
    return bytes([b0 | 29]) + ext + bytes([size - 29])
def s(x):
    b = x.encode(); return ctrl(2, len(b)) + b
def u16(v): b = v.to_bytes(2, "big").lstrip(b"\0"); return ctrl(5, len(b)) + b
def u32(v): b = v.to_bytes(4, "big").lstrip(b"\0"); return ctrl(6, len(b)) + b
def u64(v): b = v.to_bytes(8, "big").lstrip(b"\0"); return ctrl(9, len(b)) + b
def mp(items): return ctrl(7, len(items)) + b"".join(k + v for k, v in items)
def arr(items): return ctrl(11, len(items)) + b"".join(items)
data = mp([(s("autonomous_system_number"), u32(45102)), (s("autonomous_system_organization"), s("OK"))])
rec = 1 + 16
tree = struct.pack(">I", rec)[1:] * 2
meta = mp([(s("node_count"), u32(1)), (s("record_size"), u16(24)), (s("ip_version"), u16(4)),
           (s("database_type"), s("GeoLite2-ASN")), (s("languages"), arr([s("en")])),
           (s("binary_format_major_version"), u16(2)), (s("binary_format_minor_version"), u16(0)),
           (s("build_epoch"), u64(1700000000)), (s("description"), mp([(s("en"), s("x"))]))])
put("geolite2-asn.mmdb", 4, tree + b"\0" * 16 + data + b"\xab\xcd\xefMaxMind.com" + meta)

def table(v4, v6, names):
    b = struct.pack("<QQQ", len(v4), len(v6), len(names))
    for s_, e, a in v4:
        b += struct.pack("<III", s_, e, a)
    for s_, e, a in v6:
        b += s_.to_bytes(16, "little") + e.to_bytes(16, "little") + struct.pack("<I", a)
    for a, n in sorted(names.items()):
        b += struct.pack("<IH", a, len(n)) + n.encode()
    return b

v4 = [(0x01000000, 0x010000FF, 13335), (0x2F580000, 0x2F59FFFF, 45102)]
v6 = [(0x20010db8 << 96, (0x20010db8 << 96) | ((1 << 96) - 1), 64496)]
names = {13335: "Cloudflare", 45102: "Alibaba", 64496: "Example"}
info = {"format": "ip-location-db", "files": ["asn.csv"], "date": "2026-01-01",
        "imported": "2026-01-02", "v4_ranges": 2, "v6_ranges": 1, "asns": 3}
j = json.dumps(info, separators=(",", ":")).encode()
put("table-v2.bin", 1, struct.pack("<I", len(j)) + j + table(v4, v6, names))
# Version 1: the target writes a fixed ip-asn.json (1 IPv4 range, 1 name) beside it.
put("table-v1.bin", 3, table([(0x2F580000, 0x2F59FFFF, 45102)], [], {45102: "Alibaba"}))
