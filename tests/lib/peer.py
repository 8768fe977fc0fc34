#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Tiny servers and clients for the integration tests (stdlib only).

serve: a TCP or UDP server that tells each client the address it saw.
  TCP, one request line per connection:
    HELLO        -> "hello ADDR:PORT TAG"       (ADDR in [] for IPv6)
    PUT          -> reads until EOF, replies "NBYTES SHA256 ADDR:PORT"
    GET N SEED   -> sends N deterministic bytes, closes
  UDP: every datagram -> "hello ADDR:PORT TAG"
  Each peer seen is also logged on stdout as "peer ADDR:PORT".
hello/put/get: the matching clients; exit 0 on success, 1 with one line on
stderr otherwise.
refused HOST PORT: UDP from a connected socket; exit 0 printing "refused"
  when an ICMP port-unreachable comes back (ECONNREFUSED), 1 otherwise.
pmtu HOST PORT --size N: sends N-byte UDP datagrams that must not be
  fragmented until the kernel refuses one (EMSGSIZE: an ICMP too-big came
  back) and prints "mtu M", the path MTU the socket learned.
backrefuse --bind ADDR --port P: UDP server for one client that then goes
  away: connects to the first sender, keeps sending to it and prints
  "refused" once the client's ICMP port-unreachable reaches this socket.
udpsink --bind ADDR --port P: UDP server printing "got N SHA256 ADDR:PORT"
  for every datagram (its length and hash, to see it arrived whole).
udpsend HOST PORT --size N [--df]: sends one N-byte datagram, with DF
  (IP_PMTUDISC_DO) or without (IP_PMTUDISC_DONT: the sender's kernel may
  fragment it), and prints "sent N SHA256".
csum DEV [--net PREFIX]...: capture TCP/UDP packets on DEV (both directions)
  and verify their checksums from scratch until SIGTERM/SIGINT, then print
  "csum checked=N partial=P bad=B". A packet the kernel marks CHECKSUM_PARTIAL
  (TP_STATUS_CSUMNOTREADY) must carry the folded pseudo-header sum; every
  other packet a complete checksum.
frag-serve --bind ADDR --port P: UDP server for fragmented datagrams. Each
  datagram is answered "got NBYTES SHA256"; a datagram "BIG N SEED" is
  answered with N deterministic bytes sent as IP fragments in reverse order
  (last first) from a raw socket. Logs "got NBYTES SHA256 ADDR:PORT".
frag-send HOST PORT --bytes N: client. Sends a small datagram (the flow the
  VPS learns), then N deterministic bytes as one UDP datagram in IP fragments
  in reverse order from a raw socket (--plain: through the UDP socket, which
  the kernel fragments in order), and checks the server's "got" line; with
  --reply N also asks for an N-byte reply sent the same reversed way and
  checks it. Prints "forward ok NBYTES SHA256" and "reply ok NBYTES SHA256".
"""
import argparse
import errno
import hashlib
import ipaddress
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import threading
import time


def fmt_peer(addr):
    host, port = addr[0], addr[1]
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    if ":" in host:
        return "[%s]:%d" % (host, port)
    return "%s:%d" % (host, port)


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def make_listener(proto, bind, port):
    fam = family_of(bind) if bind else socket.AF_INET6
    typ = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(fam, typ)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6 and not bind:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        bind = "::"
    elif bind in ("0.0.0.0", "::") and fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((bind, port))
    if proto == "tcp":
        s.listen(64)
    return s


def det_bytes(n, seed):
    return random.Random(seed).randbytes(n)


def log(msg):
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()


def recv_line(conn):
    buf = b""
    while not buf.endswith(b"\n"):
        b = conn.recv(1)
        if not b:
            break
        buf += b
    return buf.decode(errors="replace").strip()


def handle_tcp(conn, addr, tag):
    peer = fmt_peer(addr)
    log("peer " + peer)
    try:
        conn.settimeout(120)
        line = recv_line(conn)
        words = line.split()
        if not words or words[0] == "HELLO":
            conn.sendall(("hello %s %s\n" % (peer, tag)).encode())
        elif words[0] == "PUT":
            h = hashlib.sha256()
            n = 0
            while True:
                b = conn.recv(1 << 16)
                if not b:
                    break
                h.update(b)
                n += len(b)
            log("put %d %s %s" % (n, h.hexdigest(), peer))
            conn.sendall(("%d %s %s\n" % (n, h.hexdigest(), peer)).encode())
        elif words[0] == "GET":
            conn.sendall(det_bytes(int(words[1]), int(words[2])))
    except OSError as e:
        log("error %s %s" % (peer, e))
    finally:
        conn.close()


def serve(a):
    s = make_listener(a.proto, a.bind, a.port)
    log("listening %s %s %d" % (a.proto, a.bind or "*", a.port))
    if a.proto == "udp":
        while True:
            data, addr = s.recvfrom(65535)
            peer = fmt_peer(addr)
            log("peer " + peer)
            # A probe (below) gets its own datagram back, to match replies.
            reply = data if data.startswith(b"P ") else \
                ("hello %s %s\n" % (peer, a.tag)).encode()
            s.sendto(reply, addr)
    while True:
        conn, addr = s.accept()
        threading.Thread(target=handle_tcp, args=(conn, addr, a.tag),
                         daemon=True).start()


def probe(a):
    """UDP datagrams "P <seq>" every --interval s until --until exists (or
    --duration s); prints JSON: the send time of every probe and which seqs
    came back (from the address and port they were sent to)."""
    s = socket.socket(family_of(a.host), socket.SOCK_DGRAM)
    s.setblocking(False)
    sent, answered = [], set()
    end = time.time() + a.duration
    nxt = time.time()

    def receive(wait):
        r, _, _ = select.select([s], [], [], max(0.0, wait))
        while r:
            try:
                data, src = s.recvfrom(2048)
            except BlockingIOError:
                return
            if (data.startswith(b"P ") and src[1] == a.port and
                    ipaddress.ip_address(src[0]) == ipaddress.ip_address(a.host)):
                answered.add(int(data.split()[1]))

    while time.time() < end and not (a.until and os.path.exists(a.until)):
        now = time.time()
        if now >= nxt:
            try:
                s.sendto(b"P %d\n" % len(sent), (a.host, a.port))
            except OSError:
                pass  # no route for a moment: counts as lost
            sent.append(now)
            nxt += a.interval
        receive(nxt - time.time())
    receive(0.5)  # replies still in flight
    json.dump({"interval": a.interval, "sent": sent,
               "answered": sorted(answered)}, sys.stdout)
    print()


def die(msg):
    sys.stderr.write(msg + "\n")
    sys.exit(1)


def connect(a):
    fam = family_of(a.host)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    try:
        s.connect((a.host, a.port))
    except OSError as e:
        die("connect %s port %d: %s" % (a.host, a.port, e))
    return s


def hello(a):
    if a.proto == "udp":
        s = socket.socket(family_of(a.host), socket.SOCK_DGRAM)
        s.settimeout(a.timeout / 3)
        for _ in range(3):
            try:
                s.sendto(b"HELLO\n", (a.host, a.port))
                data, src = s.recvfrom(65535)
                # An unconnected socket takes replies from anywhere: a reply
                # that left home through its ISP line arrives from the CGNAT
                # address, which a real client would never accept.
                if (ipaddress.ip_address(src[0]) != ipaddress.ip_address(a.host)
                        or src[1] != a.port):
                    die("udp %s port %d: reply came from %s port %d"
                        % (a.host, a.port, src[0], src[1]))
                print(data.decode(errors="replace").strip())
                return
            except socket.timeout:
                continue
            except OSError as e:
                die("udp %s port %d: %s" % (a.host, a.port, e))
        die("udp %s port %d: no reply" % (a.host, a.port))
    s = connect(a)
    try:
        s.sendall(b"HELLO\n")
        line = recv_line(s)
    except OSError as e:
        die("tcp %s port %d: %s" % (a.host, a.port, e))
    if not line:
        die("tcp %s port %d: empty reply" % (a.host, a.port))
    print(line)


def put(a):
    s = connect(a)
    h = hashlib.sha256()
    n = 0
    block = os.urandom(1 << 20)
    chunk = 1 << 16
    s.settimeout(a.timeout)
    try:
        s.sendall(b"PUT\n")
        off = 0
        while True:
            if a.until:
                if n >= a.bytes and os.path.exists(a.until):
                    break
            elif n >= a.bytes:
                break
            want = chunk if a.until else min(chunk, a.bytes - n)
            # Vary the data: rotate through the random block and mix in n.
            piece = bytearray(block[off:off + want])
            if len(piece) < want:
                piece += block[:want - len(piece)]
            piece[0:8] = n.to_bytes(8, "little")
            off = (off + want + 7) % len(block)
            s.sendall(piece)
            h.update(piece)
            n += len(piece)
            if a.rate:
                time.sleep(len(piece) / a.rate)
        s.shutdown(socket.SHUT_WR)
        line = recv_line(s)
    except OSError as e:
        die("put to %s port %d after %d bytes: %s" % (a.host, a.port, n, e))
    words = line.split()
    if len(words) < 2:
        die("put to %s port %d: bad reply %r after %d bytes" % (a.host, a.port, line, n))
    if int(words[0]) != n or words[1] != h.hexdigest():
        die("put: sent %d bytes sha256 %s, server got %s bytes sha256 %s" %
            (n, h.hexdigest()[:16], words[0], words[1][:16]))
    print("put ok %d %s %s" % (n, h.hexdigest(), words[2] if len(words) > 2 else ""))


def get(a):
    s = connect(a)
    h = hashlib.sha256()
    n = 0
    try:
        s.sendall(("GET %d %d\n" % (a.bytes, a.seed)).encode())
        while True:
            b = s.recv(1 << 16)
            if not b:
                break
            h.update(b)
            n += len(b)
    except OSError as e:
        die("get from %s port %d after %d bytes: %s" % (a.host, a.port, n, e))
    want = hashlib.sha256(det_bytes(a.bytes, a.seed)).hexdigest()
    if n != a.bytes or h.hexdigest() != want:
        die("get: expected %d bytes sha256 %s, got %d bytes sha256 %s" %
            (a.bytes, want[:16], n, h.hexdigest()[:16]))
    print("get ok %d %s" % (n, want))


SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_CSUMNOTREADY = 1 << 3
ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD


def ocsum(data, start=0):
    if len(data) % 2:
        data += b"\0"
    total = start + sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def csum_check(pkt, partial):
    """Returns (flowdesc, ok) or None when the packet is not checkable."""
    if not pkt:
        return None
    ver = pkt[0] >> 4
    if ver == 4 and len(pkt) >= 20:
        ihl = (pkt[0] & 15) * 4
        tot = struct.unpack("!H", pkt[2:4])[0]
        if struct.unpack("!H", pkt[6:8])[0] & 0x3FFF:
            return None  # fragment
        proto = pkt[9]
        src, dst = pkt[12:16], pkt[16:20]
        l4 = pkt[ihl:tot]
        if len(pkt) < tot:
            return None
        pseudo = src + dst + struct.pack("!BBH", 0, proto, len(l4))
        fam = socket.AF_INET
    elif ver == 6 and len(pkt) >= 40:
        plen = struct.unpack("!H", pkt[4:6])[0]
        proto = pkt[6]
        src, dst = pkt[8:24], pkt[24:40]
        l4 = pkt[40:40 + plen]
        if len(pkt) < 40 + plen:
            return None
        pseudo = src + dst + struct.pack("!IxxxB", len(l4), proto)
        fam = socket.AF_INET6
    else:
        return None
    if proto == 6 and len(l4) >= 20:
        off, field = 16, struct.unpack("!H", l4[16:18])[0]
    elif proto == 17 and len(l4) >= 8:
        off, field = 6, struct.unpack("!H", l4[6:8])[0]
        if field == 0 and fam == socket.AF_INET and not partial:
            return None  # no checksum: allowed for UDP over IPv4
    else:
        return None
    sp, dp = struct.unpack("!HH", l4[0:4])
    desc = "%s %s:%d > %s:%d len %d%s" % (
        "tcp" if proto == 6 else "udp",
        socket.inet_ntop(fam, src), sp, socket.inet_ntop(fam, dst), dp,
        len(l4), " partial" if partial else "")
    if partial:
        want = ocsum(pseudo)
        ok = field == want or {field, want} == {0, 0xFFFF}
    else:
        ok = ocsum(pseudo + l4) == 0xFFFF
    return (desc, ok, socket.inet_ntop(fam, src), socket.inet_ntop(fam, dst))


def csum(a):
    nets = [ipaddress.ip_network(n) for n in a.net]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((a.dev, ETH_P_ALL))
    counts = {"checked": 0, "partial": 0, "bad": 0}
    stop = []

    def finish(*_):
        stop.append(1)
        s.close()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    log("listening csum %s" % a.dev)
    while not stop:
        try:
            pkt, anc, _, addr = s.recvmsg(262144, socket.CMSG_SPACE(32))
        except OSError:
            break
        if addr[1] not in (ETH_P_IP, ETH_P_IPV6):
            continue
        partial = False
        for level, typ, data in anc:
            if level == SOL_PACKET and typ == PACKET_AUXDATA:
                partial = bool(struct.unpack("I", data[:4])[0] & TP_STATUS_CSUMNOTREADY)
        r = csum_check(pkt, partial)
        if r is None:
            continue
        desc, ok, src, dst = r
        if nets and not any(ipaddress.ip_address(x) in n for n in nets for x in (src, dst)
                            if ipaddress.ip_address(x).version == n.version):
            continue
        counts["checked"] += 1
        counts["partial"] += partial
        if not ok:
            counts["bad"] += 1
            if counts["bad"] <= 5:
                log("bad checksum: " + desc)
    log("csum checked=%(checked)d partial=%(partial)d bad=%(bad)d" % counts)


def refused(a):
    s = socket.socket(family_of(a.host), socket.SOCK_DGRAM)
    s.settimeout(1)
    s.connect((a.host, a.port))
    for _ in range(int(a.timeout)):
        try:
            s.send(b"HELLO\n")
            data = s.recv(65535)
            die("udp %s port %d: got a reply %r, want port unreachable"
                % (a.host, a.port, data[:40]))
        except ConnectionRefusedError:
            print("refused")
            return
        except socket.timeout:
            continue
    die("udp %s port %d: no ICMP port unreachable came back" % (a.host, a.port))


def pmtu(a):
    fam = family_of(a.host)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if fam == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_IP, 10, 2)  # IP_MTU_DISCOVER = DO
    else:
        s.setsockopt(socket.IPPROTO_IPV6, 23, 2)  # IPV6_MTU_DISCOVER = DO
    s.connect((a.host, a.port))
    payload = b"x" * a.size
    for _ in range(int(a.timeout * 5)):
        try:
            s.send(payload)
        except OSError as e:
            if e.errno != errno.EMSGSIZE:
                die("udp %s port %d: %s" % (a.host, a.port, e))
            break
        time.sleep(0.2)
    else:
        die("udp %s port %d: %d-byte datagrams never drew a too-big error"
            % (a.host, a.port, a.size))
    if fam == socket.AF_INET:
        mtu = s.getsockopt(socket.IPPROTO_IP, 14)  # IP_MTU
    else:
        mtu = s.getsockopt(socket.IPPROTO_IPV6, 24)  # IPV6_MTU
    print("mtu %d" % mtu)


def backrefuse(a):
    s = make_listener("udp", a.bind, a.port)
    log("listening")
    _, addr = s.recvfrom(65535)
    log("peer " + fmt_peer(addr))
    s.connect(addr[:2])
    s.settimeout(1)
    # The client closes its socket after sending; every datagram now draws
    # a port unreachable, which reaches us only if it was translated back.
    for _ in range(int(a.timeout)):
        try:
            s.send(b"late reply\n")
            s.recv(65535)
        except ConnectionRefusedError:
            log("refused")
            return
        except socket.timeout:
            continue
    log("no error came back")


FRAG_PAYLOAD = 1000  # bytes of the IP payload per fragment (multiple of 8)


def udp_datagram(src, dst, sport, dport, payload):
    """A UDP header + payload with its checksum computed from scratch."""
    v6 = ":" in src
    s = ipaddress.ip_address(src).packed
    d = ipaddress.ip_address(dst).packed
    length = 8 + len(payload)
    if v6:
        pseudo = s + d + struct.pack("!IxxxB", length, socket.IPPROTO_UDP)
    else:
        pseudo = s + d + struct.pack("!xBH", socket.IPPROTO_UDP, length)
    hdr = struct.pack("!HHHH", sport, dport, length, 0)
    c = (~ocsum(pseudo + hdr + payload)) & 0xFFFF
    return struct.pack("!HHHH", sport, dport, length, c or 0xFFFF) + payload


def ip_fragments(src, dst, l4, ident):
    """IP packets carrying l4 (a UDP datagram) in FRAG_PAYLOAD-byte pieces."""
    out = []
    s = ipaddress.ip_address(src).packed
    d = ipaddress.ip_address(dst).packed
    for off in range(0, len(l4), FRAG_PAYLOAD):
        piece = l4[off:off + FRAG_PAYLOAD]
        more = off + FRAG_PAYLOAD < len(l4)
        if ":" in src:
            fh = struct.pack("!BBHI", socket.IPPROTO_UDP, 0,
                             off | (1 if more else 0), ident)
            hdr = struct.pack("!IHBB", 6 << 28, len(fh) + len(piece), 44, 64)
            out.append(hdr + s + d + fh + piece)
        else:
            fo = (off >> 3) | (0x2000 if more else 0)
            hdr = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(piece),
                              ident & 0xFFFF, fo, 64, socket.IPPROTO_UDP, 0)
            c = (~ocsum(hdr + s + d)) & 0xFFFF
            hdr = hdr[:10] + struct.pack("!H", c)
            out.append(hdr + s + d + piece)
    return out


def send_reversed(src, dst, sport, dport, payload):
    """One UDP datagram as IP fragments, last fragment first, from a raw
    socket bound to src (so that source routing rules apply)."""
    v6 = ":" in src
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    # IPPROTO_RAW: the header is ours (IPv6 too, since Linux 4.5)
    r = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_RAW)
    if not v6:
        # IP_NODEFRAG: conntrack on this host (MASQUERADE rules) would
        # otherwise reassemble the fragments on output and send them in order
        r.setsockopt(socket.IPPROTO_IP, 22, 1)
    r.bind((src, 0))
    frags = ip_fragments(src, dst, udp_datagram(src, dst, sport, dport, payload),
                         random.randrange(1, 0xFFFF))
    for f in reversed(frags):
        r.sendto(f, (dst, 0))
    r.close()
    return len(frags)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def frag_serve(a):
    s = make_listener("udp", a.bind, a.port)
    log("listening udp %s %d" % (a.bind, a.port))
    while True:
        data, addr = s.recvfrom(65535)
        log("got %d %s %s" % (len(data), sha(data), fmt_peer(addr)))
        if data.startswith(b"BIG "):
            n, seed = (int(x) for x in data.split()[1:3])
            nf = send_reversed(a.bind, addr[0], a.port, addr[1],
                               det_bytes(n, seed))
            log("sent %d bytes in %d fragments, reversed" % (n, nf))
        else:
            s.sendto(("got %d %s" % (len(data), sha(data))).encode(), addr)


def frag_send(a):
    s = socket.socket(family_of(a.host), socket.SOCK_DGRAM)
    s.settimeout(a.timeout)
    s.connect((a.host, a.port))
    local, lport = s.getsockname()[:2]

    def ask(data, plain):
        if plain:
            s.send(data)
        else:
            send_reversed(local, a.host, lport, a.port, data)
        try:
            return s.recv(65535)
        except OSError as e:
            die("%s port %d: %s" % (a.host, a.port, e))

    want = "got 5 %s" % sha(b"HELLO")
    got = ask(b"HELLO", True).decode(errors="replace")
    if got != want:
        die("hello: reply '%s', want '%s'" % (got, want))
    if a.bytes:
        data = det_bytes(a.bytes, a.seed)
        want = "got %d %s" % (len(data), sha(data))
        got = ask(data, a.plain).decode(errors="replace")
        if got != want:
            die("forward: reply '%s', want '%s'" % (got, want))
        print("forward ok %d %s" % (len(data), sha(data)))
    if a.reply:
        want = det_bytes(a.reply, a.seed + 1)
        got = ask(("BIG %d %d" % (a.reply, a.seed + 1)).encode(), True)
        if got != want:
            die("reply: %d bytes %s, want %d bytes %s"
                % (len(got), sha(got), len(want), sha(want)))
        print("reply ok %d %s" % (len(got), sha(got)))


def udpsink(a):
    s = make_listener("udp", a.bind, a.port)
    log("listening")
    while True:
        data, src = s.recvfrom(65535)
        log("got %d %s %s" % (len(data), hashlib.sha256(data).hexdigest(),
                              fmt_peer(src)))


def udpsend(a):
    fam = family_of(a.host)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    mode = 2 if a.df else 0  # IP(V6)_PMTUDISC_DO / _DONT
    if fam == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_IP, 10, mode)  # IP_MTU_DISCOVER
    else:
        s.setsockopt(socket.IPPROTO_IPV6, 23, mode)  # IPV6_MTU_DISCOVER
    data = det_bytes(a.size, a.seed)
    try:
        s.sendto(data, (a.host, a.port))
    except OSError as e:
        die("udp %s port %d: %s" % (a.host, a.port, e))
    print("sent %d %s" % (len(data), hashlib.sha256(data).hexdigest()))


def udpcount(a):
    """Counts UDP datagrams per source address until the file a.until
    exists (checked each 0.2 s); prints {"ADDR": count, ...}."""
    s = make_listener("udp", a.bind, a.port)
    s.settimeout(0.2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    counts = {}
    sys.stderr.write("listening\n")
    sys.stderr.flush()
    while not os.path.exists(a.until):
        try:
            while True:
                _, src = s.recvfrom(65535)
                host = fmt_peer(src).rsplit(":", 1)[0].strip("[]")
                counts[host] = counts.get(host, 0) + 1
        except socket.timeout:
            pass
    print(json.dumps(counts))


def udpflood(a):
    """UDP datagrams of a.size bytes from a.bind to host:port for
    a.duration seconds: a.pps a second, or as fast as the socket takes
    them (0). Prints the number sent."""
    fam = family_of(a.host)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if a.bind:
        s.bind((a.bind, 0))
    data = det_bytes(a.size, 1)
    sent = 0
    t0 = time.monotonic()
    end = t0 + a.duration
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if a.pps and sent >= (now - t0) * a.pps:
            time.sleep(min(0.001, end - now))
            continue
        try:
            s.sendto(data, (a.host, a.port))
            sent += 1
        except OSError as e:
            if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
                die("udp %s port %d: %s" % (a.host, a.port, e))
    print(sent)


def connburst(a):
    """a.n TCP connections to host:port started at once from a.bind; after
    a.wait seconds, prints how many are established (a SYN the VPS dropped
    is retransmitted only after 1 s: keep a.wait below that)."""
    fam = family_of(a.host)
    socks = []
    for _ in range(a.n):
        s = socket.socket(fam, socket.SOCK_STREAM)
        if a.bind:
            s.bind((a.bind, 0))
        s.setblocking(False)
        s.connect_ex((a.host, a.port))
        socks.append(s)
    time.sleep(a.wait)
    ok = 0
    for s in socks:
        _, w, _ = select.select([], [s], [], 0)
        if w and s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
            ok += 1
        s.close()
    print(ok)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    sv = sub.add_parser("serve")
    sv.add_argument("--proto", choices=["tcp", "udp"], default="tcp")
    sv.add_argument("--bind", default="")
    sv.add_argument("--port", type=int, required=True)
    sv.add_argument("--tag", default="")
    for name in ("hello", "put", "get"):
        c = sub.add_parser(name)
        c.add_argument("host")
        c.add_argument("port", type=int)
        c.add_argument("--proto", choices=["tcp", "udp"], default="tcp")
        c.add_argument("--timeout", type=float, default=5)
        c.add_argument("--bytes", type=int, default=0)
        c.add_argument("--seed", type=int, default=1)
        c.add_argument("--until", default="")
        c.add_argument("--rate", type=float, default=0)
    pr = sub.add_parser("probe")
    pr.add_argument("host")
    pr.add_argument("port", type=int)
    pr.add_argument("--interval", type=float, default=0.01)
    pr.add_argument("--duration", type=float, default=60)
    pr.add_argument("--until", default="")
    rf = sub.add_parser("refused")
    rf.add_argument("host")
    rf.add_argument("port", type=int)
    rf.add_argument("--timeout", type=float, default=5)
    pm = sub.add_parser("pmtu")
    pm.add_argument("host")
    pm.add_argument("port", type=int)
    pm.add_argument("--size", type=int, required=True)
    pm.add_argument("--timeout", type=float, default=5)
    br = sub.add_parser("backrefuse")
    br.add_argument("--bind", default="")
    br.add_argument("--port", type=int, required=True)
    br.add_argument("--timeout", type=float, default=8)
    us = sub.add_parser("udpsink")
    us.add_argument("--bind", default="")
    us.add_argument("--port", type=int, required=True)
    ud = sub.add_parser("udpsend")
    ud.add_argument("host")
    ud.add_argument("port", type=int)
    ud.add_argument("--size", type=int, required=True)
    ud.add_argument("--seed", type=int, default=1)
    ud.add_argument("--df", action="store_true")
    cs = sub.add_parser("csum")
    cs.add_argument("dev")
    cs.add_argument("--net", action="append", default=[])
    fs = sub.add_parser("frag-serve")
    fs.add_argument("--bind", required=True)
    fs.add_argument("--port", type=int, required=True)
    fc = sub.add_parser("frag-send")
    fc.add_argument("host")
    fc.add_argument("port", type=int)
    fc.add_argument("--bytes", type=int, default=0)
    fc.add_argument("--reply", type=int, default=0)
    fc.add_argument("--seed", type=int, default=1)
    fc.add_argument("--plain", action="store_true")
    fc.add_argument("--timeout", type=float, default=5)
    uc = sub.add_parser("udpcount")
    uc.add_argument("--bind", default="")
    uc.add_argument("--port", type=int, required=True)
    uc.add_argument("--until", required=True)
    uf = sub.add_parser("udpflood")
    uf.add_argument("host")
    uf.add_argument("port", type=int)
    uf.add_argument("--bind", default="")
    uf.add_argument("--size", type=int, default=64)
    uf.add_argument("--pps", type=float, default=0)
    uf.add_argument("--duration", type=float, required=True)
    cb = sub.add_parser("connburst")
    cb.add_argument("host")
    cb.add_argument("port", type=int)
    cb.add_argument("--bind", default="")
    cb.add_argument("--n", type=int, default=20)
    cb.add_argument("--wait", type=float, default=0.8)
    a = p.parse_args()
    {"serve": serve, "hello": hello, "put": put, "get": get, "csum": csum,
     "refused": refused, "probe": probe, "backrefuse": backrefuse, "pmtu": pmtu,
     "frag-serve": frag_serve, "frag-send": frag_send,
     "udpsink": udpsink, "udpsend": udpsend, "udpcount": udpcount,
     "udpflood": udpflood, "connburst": connburst}[a.cmd](a)


if __name__ == "__main__":
    main()
