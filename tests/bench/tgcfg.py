#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Writes a trafgen (netsniff-ng) packet configuration for the benchmark:
IPv4/UDP frames of one size, FLOWS distinct flows, every checksum correct
(trafgen's ipv4()/udp() header functions recompute them when a dynamic field
changes).

  tgcfg.py --dst-mac MAC --src-mac MAC --src ADDR:PORT --dst ADDR:PORT
           [--flows N] [--size BYTES] [--vary-dst]

FLOWS = A addresses x P ports: A packet blocks, one per client address
(ADDR, ADDR+1, ...), each with a port that counts through P values from
PORT (dinc). trafgen sends the blocks round robin, so consecutive packets
belong to different flows and one pass over all flows takes FLOWS packets.
A is the smallest divisor of FLOWS that keeps P within 64,000 ports.
--vary-dst varies the destination address and port instead (replies from
one backend to many clients: the same set of client endpoints)."""
import argparse
import ipaddress
import sys

MAX_PORTS = 64000
MAX_ADDRS = 240  # stays inside one documentation /24 from .10


def split(flows):
    for a in range(1, MAX_ADDRS + 1):
        if flows % a == 0 and flows // a <= MAX_PORTS:
            return a, flows // a
    raise ValueError("%d flows cannot be split into <= %d addresses x <= %d ports"
                     % (flows, MAX_ADDRS, MAX_PORTS))


def endpoint(s):
    host, port = s.rsplit(":", 1)
    return ipaddress.IPv4Address(host), int(port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--src-mac", required=True)
    ap.add_argument("--src", required=True, type=endpoint)
    ap.add_argument("--dst", required=True, type=endpoint)
    ap.add_argument("--flows", type=int, default=1)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--vary-dst", action="store_true")
    a = ap.parse_args()

    fill = a.size - 14 - 20 - 8
    if fill < 0 or a.size > 1514:
        sys.exit("tgcfg: --size %d: expected 42..1514 bytes (frame without FCS)" % a.size)
    try:
        naddr, nport = split(a.flows)
    except ValueError as e:
        sys.exit("tgcfg: %s" % e)
    (saddr, sport), (daddr, dport) = a.src, a.dst
    var_addr, var_port = (daddr, dport) if a.vary_dst else (saddr, sport)
    if var_port + nport - 1 > 65535:
        sys.exit("tgcfg: ports %d..%d do not fit" % (var_port, var_port + nport - 1))
    port = "%d" % var_port if nport == 1 else "dinc(%d, %d)" % (var_port, var_port + nport - 1)
    for i in range(naddr):
        addr = var_addr + i
        if a.vary_dst:
            ip = "saddr=%s, daddr=%s" % (saddr, addr)
            udp = "sp=%d, dp=%s" % (sport, port)
        else:
            ip = "saddr=%s, daddr=%s" % (addr, daddr)
            udp = "sp=%s, dp=%d" % (port, dport)
        print("{ eth(da=%s, sa=%s), ipv4(%s, ttl=64, df), udp(%s), fill(0x00, %d) }"
              % (a.dst_mac, a.src_mac, ip, udp, fill))


if __name__ == "__main__":
    main()
