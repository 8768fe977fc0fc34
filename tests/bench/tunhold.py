#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Creates a layer-3 TUN device (IFF_TUN | IFF_NO_PI) named NAME in the
caller's network namespace and holds it open without ever reading it: the
benchmark's stand-in for wg0 without the crypto. The device takes the same
skb hand-off as a WireGuard device; its queue fills and stays full, so what
reaches it is its tx_packets + tx_dropped. Prints "ready" once the device
exists; runs until killed.

  tunhold.py NAME"""
import fcntl
import os
import signal
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def main():
    if len(sys.argv) != 2 or len(sys.argv[1]) > 15:
        sys.exit("usage: tunhold.py NAME (at most 15 characters)")
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", sys.argv[1].encode(), IFF_TUN | IFF_NO_PI))
    print("ready", flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
