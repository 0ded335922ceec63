#!/usr/bin/env python3
"""Writes the synthetic sFlow v5 seeds in fuzz/seeds/sflow (run from fuzz/)."""
import struct

def w(*xs):
    return b"".join(struct.pack(">I", x) for x in xs)

def frame(v6=False):
    eth = bytes.fromhex("020000000002" "020000000001") + (b"\x86\xdd" if v6 else b"\x08\x00")
    tcp = struct.pack(">HHIIBBHHH", 40000, 443, 1, 0, 0x50, 0x02, 65535, 0, 0)
    if v6:
        ip = struct.pack(">IHBB", 0x60000000, len(tcp), 6, 64)
        ip += bytes.fromhex("20010db8000000000000000000000001") + bytes.fromhex("20010db8000000000000000000000002")
    else:
        ip = struct.pack(">BBHHHBBH", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0)
        ip += bytes([192, 0, 2, 1]) + bytes([198, 51, 100, 7])
    return eth + ip + tcp

def raw_record(fr):
    pad = fr + b"\0" * (-len(fr) % 4)
    body = w(1, len(fr) + 4, 4, len(fr)) + pad  # ethernet, frame length, stripped, header length
    return w(1, len(body)) + body

def flow_sample(records, expanded=False):
    recs = b"".join(records)
    if expanded:
        head = w(7, 0, 3, 1000, 5000, 0, 0, 1, 0, 2, len(records))
        tag = 3
    else:
        head = w(7, 3, 1000, 5000, 0, 1, 2, len(records))
        tag = 1
    body = head + recs
    return w(tag, len(body)) + body

def counter_sample():
    body = w(9, 3, 0)
    return w(2, len(body)) + body

def datagram(samples, v6_agent=False):
    agent = w(2) + bytes(16) if v6_agent else w(1) + bytes([192, 0, 2, 254])
    return w(5) + agent + w(0, 42, 123456, len(samples)) + b"".join(samples)

seeds = {
    "v4-flow-sample.bin": datagram([flow_sample([raw_record(frame())])]),
    "v6-agent-expanded.bin": datagram([flow_sample([raw_record(frame(True))], True)], True),
    "mixed-samples.bin": datagram([counter_sample(), flow_sample([raw_record(frame()), raw_record(frame(True))])]),
}
for name, data in seeds.items():
    with open(f"seeds/sflow/{name}", "wb") as f:
        f.write(data)
