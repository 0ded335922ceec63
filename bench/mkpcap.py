#!/usr/bin/env python3
"""Build a large classic pcap for the pcap-throughput benchmark from small corpus captures.

usage: bench/mkpcap.py OUT.pcap TARGET_MB INPUT.pcap...

The inputs' packets are written again and again until OUT reaches TARGET_MB. Copy k:
  - shifts every timestamp by k hours, so time moves forward and flows from different
    copies never overlap in time;
  - rewrites private IPv4 addresses (10/8, 172.16/12, 192.168/16) to 10.(k>>8).(k&255).x,
    keeping the last octet, so each copy is a new set of internal hosts talking to the same
    public servers (distinct flows for cordon and softflowd, as in a real network) and the
    IPv4 header checksum is recomputed. TCP/UDP checksums are left stale: neither cordon nor
    softflowd verifies them.
Only Ethernet (linktype 1) microsecond/nanosecond little-endian inputs are accepted; IPv6
packets are copied unchanged. Deterministic: same inputs, same output.
"""
import struct, sys


def read_pcap(path):
    data = open(path, "rb").read()
    magic, = struct.unpack_from("<I", data, 0)
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        sys.exit(f"{path}: not a little-endian classic pcap")
    linktype, = struct.unpack_from("<I", data, 20)
    if linktype != 1:
        sys.exit(f"{path}: linktype {linktype}, only Ethernet is supported")
    nano = magic == 0xA1B23C4D
    pos, pkts = 24, []
    while pos + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack_from("<IIII", data, pos)
        pkts.append((sec, frac * 1000 if not nano else frac, orig, data[pos + 16:pos + 16 + incl]))
        pos += 16 + incl
    return pkts


def private(a):
    return a[0] == 10 or (a[0] == 172 and 16 <= a[1] < 32) or (a[0] == 192 and a[1] == 168)


def checksum(hdr):
    s = sum(struct.unpack(f"!{len(hdr) // 2}H", hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def rewrite(frame, k):
    off, ethertype = 12, None
    ethertype, = struct.unpack_from("!H", frame, off)
    while ethertype in (0x8100, 0x88A8) and len(frame) >= off + 6:
        off += 4
        ethertype, = struct.unpack_from("!H", frame, off)
    ip = off + 2
    if ethertype != 0x0800 or len(frame) < ip + 20:
        return frame
    ihl = (frame[ip] & 0x0F) * 4
    if ihl < 20 or len(frame) < ip + ihl:
        return frame
    b = bytearray(frame)
    for a in (ip + 12, ip + 16):
        if private(b[a:a + 4]):
            b[a:a + 3] = bytes((10, (k >> 8) & 0xFF, k & 0xFF))
    b[ip + 10:ip + 12] = b"\0\0"
    b[ip + 10:ip + 12] = struct.pack("!H", checksum(bytes(b[ip:ip + ihl])))
    return bytes(b)


def main():
    out, target_mb, inputs = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    pkts = [p for path in inputs for p in read_pcap(path)]
    t0 = min(p[0] for p in pkts)
    target = int(target_mb * 1e6)
    written, k = 24, 0
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))
        while written < target:
            for sec, nsec, orig, frame in pkts:
                fr = rewrite(frame, k)
                f.write(struct.pack("<IIII", sec - t0 + 1_600_000_000 + 3600 * k, nsec, len(fr), orig))
                f.write(fr)
                written += 16 + len(fr)
            k += 1
    print(f"{out}: {written} bytes, {k} copies of {len(pkts)} packets")


if __name__ == "__main__":
    main()
