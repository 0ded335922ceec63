#!/usr/bin/env python3
"""Receive export datagrams on a loopback port, append them to a raw datagram file (the
format `cordon scan` reads as netflow-datagrams: datagrams back to back) and forward each
one unchanged to a collector (nfcapd), so both tools decode the same bytes.

usage: bench/udptee.py LISTEN_PORT OUT.dat FORWARD_PORT
Runs until SIGTERM; prints the datagram count on exit.
"""
import signal, socket, sys

port, out, fwd = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
rx.bind(("127.0.0.1", port))
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n = 0


def stop(*_):
    print(f"udptee: {n} datagrams", file=sys.stderr)
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
with open(out, "wb") as f:
    while True:
        d = rx.recv(65535)
        f.write(d)
        f.flush()
        tx.sendto(d, ("127.0.0.1", fwd))
        n += 1
