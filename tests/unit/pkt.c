// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packet fixtures: builders for Ethernet (+802.1Q), IPv4 (with options and
 * fragments), IPv6 (with a fragment header), TCP, UDP, ICMP, ARP, and a
 * checksum verifier that re-derives every checksum from scratch. Nothing here
 * shares code with the BPF side: expected bytes come from these builders only.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "unit.h"

#define ETH_HLEN 14
#define VLAN_HLEN 4
#define IP4_HLEN 20
#define IP6_HLEN 40
#define TCP_HLEN 20
#define UDP_HLEN 8
#define ICMP_HLEN 8
#define IP6_FRAG_HLEN 8
#define IP6_HBH_HLEN 8

__u32 csum_add(__u32 sum, const void *data, size_t len)
{
	const __u8 *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (__u32)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (__u32)p[len - 1] << 8;
	return sum;
}

__u16 csum_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(__u8 *p, __u32 v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static __u16 get16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

void parse_addr(int family, const char *str, __be32 addr[4])
{
	memset(addr, 0, 16);
	if (inet_pton(family == 6 ? AF_INET6 : AF_INET, str, addr) != 1) {
		fprintf(stderr, "unit: bad fixture address %s\n", str);
		exit(2);
	}
}

void fref_key(const struct fref *f, struct crbpf_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	parse_addr(f->family, f->backend, k->backend);
	parse_addr(f->family, f->client, k->client);
	k->backend_port = htons(f->bport);
	k->client_port = htons(f->cport);
	k->family = f->family == 6 ? CRBPF_V6 : CRBPF_V4;
	k->proto = f->proto;
}

bool fget(const struct fref *f, struct crbpf_flow *v)
{
	struct crbpf_flow_key k;

	fref_key(f, &k);
	if (flow_lookup(&k, v) < 0) {
		unit_fail("no flow entry for client port %u", f->cport);
		return false;
	}
	return true;
}

void fput(const struct fref *f, const struct crbpf_flow *v)
{
	struct crbpf_flow_key k;

	fref_key(f, &k);
	flow_store(&k, v);
}

void mac_str(const __u8 *mac, char *out)
{
	sprintf(out, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
		mac[3], mac[4], mac[5]);
}

/* Sum of the pseudo header: addresses, protocol, transport length. */
static __u32 pseudo_sum(int family, const __u8 *src, const __u8 *dst,
			__u8 proto, __u32 l4len)
{
	int alen = family == 6 ? 16 : 4;
	__u32 sum = 0;

	sum = csum_add(sum, src, alen);
	sum = csum_add(sum, dst, alen);
	sum += proto;
	sum += l4len >> 16;
	sum += l4len & 0xffff;
	return sum;
}

int pkt_build(struct pkt_spec *s, __u8 *buf)
{
	return pkt_build_macs(s, NULL, NULL, buf);
}

int pkt_build_macs(struct pkt_spec *s, const __u8 *dmac, const __u8 *smac,
		   __u8 *buf)
{
	int plen = s->plen > 0 ? s->plen : s->plen < 0 ? 0 : 24;
	int off = 0, l3, l4, iphl = 0, l4hl = 0, len, i;
	__u8 src[16] = {}, dst[16] = {};
	__u8 proto = s->proto;
	static __u8 quote[PKT_MAX];
	bool later = false;

	if (s->inner) {
		/* the quoted packet, built like any other, without its MACs */
		struct pkt_spec in = *s->inner;
		int ilen;

		in.dev = s->dev;
		in.l3only = false;
		ilen = pkt_build(&in, quote);
		memmove(quote, quote + in.l3_off, ilen - in.l3_off);
		ilen -= in.l3_off;
		plen = s->quote_len > 0 ? s->quote_len :
		       s->quote_len < 0 ? ilen : in.l4_off - in.l3_off + 8;
		if (plen > ilen) {
			fprintf(stderr, "unit: fixture: quote of %d bytes from a %d-byte packet\n",
				plen, ilen);
			exit(2);
		}
	}

	memcpy(s->dmac, dmac ? dmac : topo.mac[s->dev], 6);
	memcpy(s->smac, smac ? smac : topo.peer_mac[s->dev], 6);
	memset(buf, 0, PKT_MAX);
	memcpy(buf, s->dmac, 6);
	memcpy(buf + 6, s->smac, 6);
	off = 12;
	if (s->vlan) {
		put16(buf + off, s->vlan_proto ? s->vlan_proto : 0x8100);
		put16(buf + off + 2, s->vlan);
		off += VLAN_HLEN;
	}
	if (s->vlan_inner) {
		put16(buf + off, 0x8100);
		put16(buf + off + 2, s->vlan_inner);
		off += VLAN_HLEN;
	}
	if (s->family == 4)
		put16(buf + off, 0x0800);
	else if (s->family == 6)
		put16(buf + off, 0x86dd);
	else
		put16(buf + off, s->ethertype);
	off += 2;
	l3 = off;
	s->l3_off = l3;

	if (s->family == 0) {
		if (s->ethertype == 0x0806) {
			/* ARP request who-has VPS4 tell RTR4 */
			__u8 *a = buf + l3;

			put16(a, 1);
			put16(a + 2, 0x0800);
			a[4] = 6;
			a[5] = 4;
			put16(a + 6, 1);
			memcpy(a + 8, s->smac, 6);
			inet_pton(AF_INET, RTR4, a + 14);
			inet_pton(AF_INET, VPS4, a + 24);
			len = l3 + 28;
		} else {
			for (i = 0; i < plen; i++)
				buf[l3 + i] = (__u8)(0x5a ^ i);
			len = l3 + plen;
		}
		s->l4_off = s->pay_off = len;
		goto cut;
	}

	inet_pton(s->family == 6 ? AF_INET6 : AF_INET, s->src, src);
	inet_pton(s->family == 6 ? AF_INET6 : AF_INET, s->dst, dst);
	if (s->family == 4)
		iphl = IP4_HLEN + 4 * s->opt_words;
	else
		iphl = IP6_HLEN + (s->v6frag ? IP6_FRAG_HLEN : 0) +
		       (s->v6hbh ? IP6_HBH_HLEN : 0);
	l4 = l3 + iphl;
	s->l4_off = l4;
	/* a later fragment carries payload only, no transport header */
	later = s->family == 4 ? (s->frag & 0x1fff) != 0 : (s->v6frag & 0xfff8) != 0;
	switch (later ? 0 : proto) {
	case 0:
		l4hl = 0;
		break;
	case IPPROTO_TCP:
		l4hl = TCP_HLEN + s->tcp_opts_len;
		break;
	case IPPROTO_UDP:
		l4hl = UDP_HLEN;
		break;
	default:
		l4hl = ICMP_HLEN;
		break;
	}
	s->pay_off = l4 + l4hl;
	len = s->pay_off + plen;
	for (i = 0; i < plen; i++)
		buf[s->pay_off + i] = (__u8)(i * 7 + 3);
	if (s->inner)
		memcpy(buf + s->pay_off, quote, plen);
	if (s->pay_word_on && plen >= 2)
		put16(buf + s->pay_off, s->pay_word);

	/* transport header */
	if (later) {
		/* payload only */
	} else if (proto == IPPROTO_TCP) {
		__u8 *t = buf + l4;

		put16(t, s->sport);
		put16(t + 2, s->dport);
		put32(t + 4, 0x11223344);
		put32(t + 8, 0x55667788);
		t[12] = (__u8)((5 + s->tcp_opts_len / 4) << 4);
		t[13] = s->tcp_flags ? s->tcp_flags : 0x18; /* PSH|ACK */
		put16(t + 14, 64240);
		if (s->tcp_opts_len)
			memcpy(t + TCP_HLEN, s->tcp_opts, s->tcp_opts_len);
	} else if (proto == IPPROTO_UDP) {
		__u8 *u = buf + l4;

		put16(u, s->sport);
		put16(u + 2, s->dport);
		put16(u + 4, l4hl + plen);
	} else {
		__u8 *c = buf + l4;

		if (s->icmp_type) {
			c[0] = s->icmp_type;
			c[1] = s->icmp_code;
			put32(c + 4, s->icmp_info);
		} else {
			c[0] = proto == IPPROTO_ICMPV6 ? 128 : 8; /* echo request */
			put16(c + 4, 0x4242);
			put16(c + 6, 1);
		}
	}

	/* IP header */
	if (s->family == 4) {
		__u8 *ip = buf + l3;

		ip[0] = 0x40 | (s->ihl_raw ? s->ihl_raw : 5 + s->opt_words);
		ip[1] = 0xb8; /* DSCP EF: must survive the rewrite */
		put16(ip + 2, s->len_raw ? s->len_raw : iphl + l4hl + plen);
		put16(ip + 4, s->frag_id ? s->frag_id : 0x1234);
		put16(ip + 6, s->frag);
		ip[8] = s->ttl ? s->ttl : 64;
		ip[9] = proto;
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		/* options: NOPs, ending with EOL when there is room */
		for (i = 0; i < 4 * s->opt_words; i++)
			ip[IP4_HLEN + i] = 1;
		if (s->opt_words)
			ip[iphl - 1] = 0;
		put16(ip + 10, csum_fold(csum_add(0, ip, iphl)) + s->ip_csum_bad);
	} else {
		__u8 *ip = buf + l3;

		put32(ip, 0x6b812345); /* traffic class + flow label survive */
		put16(ip + 4, s->len_raw ? s->len_raw : iphl - IP6_HLEN + l4hl + plen);
		ip[6] = s->v6hbh ? 0 : s->v6frag ? 44 : proto;
		ip[7] = s->ttl ? s->ttl : 64;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst, 16);
		if (s->v6hbh) {
			/* hop-by-hop options: one PadN option filling 8 bytes */
			__u8 *h = ip + IP6_HLEN;

			h[0] = s->v6frag ? 44 : proto;
			h[1] = 0;
			h[2] = 1;
			h[3] = 4;
		}
		if (s->v6frag) {
			__u8 *f = ip + IP6_HLEN + (s->v6hbh ? IP6_HBH_HLEN : 0);

			f[0] = proto;
			put16(f + 2, s->v6frag);
			put32(f + 4, s->frag_id ? s->frag_id : 0xabcd);
		}
	}

	/* transport checksum over pseudo header + whole segment */
	if (!later && !(s->proto == IPPROTO_UDP && s->csum0)) {
		__u32 l4len = l4hl + plen, sum;
		int coff = proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 2;
		__u16 c;

		if (proto == IPPROTO_ICMP)
			sum = 0;
		else
			sum = pseudo_sum(s->family, src, dst, proto, l4len);
		c = csum_fold(csum_add(sum, buf + l4, l4len));
		if (proto == IPPROTO_UDP && c == 0)
			c = 0xffff;
		if (s->csum_partial)
			c = (__u16)~csum_fold(sum);
		put16(buf + l4 + coff, c);
	}

	if (s->pad) {
		memset(buf + len, 0, s->pad);
		len += s->pad;
	}
cut:
	if (s->l3only && s->family) {
		memmove(buf, buf + l3, len - l3);
		memset(buf + len - l3, 0, l3);
		len -= l3;
		s->l4_off -= l3;
		s->pay_off -= l3;
		s->l3_off = 0;
		if (len < 14 || get16(buf + 12) != (s->family == 6 ? 0x86dd : 0x0800)) {
			fprintf(stderr, "unit: fixture %s: an l3only frame needs a source in %s\n",
				s->src, s->family == 6 ? "2001:db8:86dd::/48" : "8.0.0.0/16");
			exit(2);
		}
	}
	switch (s->cut) {
	case CUT_L2:
		len = s->cut_len;
		break;
	case CUT_L3:
		len = s->l3_off + s->cut_len;
		break;
	case CUT_L4:
		len = s->l4_off + s->cut_len;
		break;
	default:
		break;
	}
	return len;
}

/* ---- verification from scratch ---- */

bool pkt_verify_csums(const __u8 *f, int len, bool *udp_zero)
{
	int off = 12, l4 = 0, family, l4len;
	__u16 type, c;
	const __u8 *src, *dst;
	__u8 proto;
	__u32 sum;

	*udp_zero = false;
	if (len < 14)
		return true;
	type = get16(f + off);
	while (type == 0x8100 || type == 0x88a8) {
		if (len < off + 6)
			return true;
		off += 4;
		type = get16(f + off);
	}
	off += 2;
	if (type == 0x0800) {
		int ihl, tot;

		if (len < off + IP4_HLEN)
			return true;
		ihl = (f[off] & 0xf) * 4;
		if (ihl < IP4_HLEN || len < off + ihl)
			return true;
		c = csum_fold(csum_add(0, f + off, ihl));
		if (c != 0) {
			unit_fail("output IPv4 header checksum wrong (field 0x%04x, sum off by 0x%04x)",
				  get16(f + off + 10), c);
			return false;
		}
		tot = get16(f + off + 2);
		/* A later fragment has no L4 header. A fixture's first fragment
		 * has its L4 checksum over the bytes it carries (a synthetic
		 * datagram of one fragment), so it is checked like a whole one. */
		if (get16(f + off + 6) & 0x1fff)
			return true;
		family = 4;
		proto = f[off + 9];
		src = f + off + 12;
		dst = f + off + 16;
		l4 = off + ihl;
		l4len = tot - ihl;
		if (off + tot > len || l4len < 0)
			return true;
	} else if (type == 0x86dd) {
		if (len < off + IP6_HLEN)
			return true;
		family = 6;
		proto = f[off + 6];
		src = f + off + 8;
		dst = f + off + 24;
		l4 = off + IP6_HLEN;
		l4len = get16(f + off + 4);
		if (l4 + l4len > len)
			return true;
		/* hop-by-hop, then a Fragment header: as for IPv4 above */
		if (proto == 0 && l4len >= 8) {
			proto = f[l4];
			l4len -= (f[l4 + 1] + 1) * 8;
			l4 += (f[l4 + 1] + 1) * 8;
		}
		if (proto == 44 && l4len >= IP6_FRAG_HLEN) {
			if (get16(f + l4 + 2) & 0xfff8)
				return true;
			proto = f[l4];
			l4 += IP6_FRAG_HLEN;
			l4len -= IP6_FRAG_HLEN;
		}
	} else {
		return true;
	}

	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	    proto == IPPROTO_ICMPV6)
		sum = pseudo_sum(family, src, dst, proto, l4len);
	else if (proto == IPPROTO_ICMP)
		sum = 0;
	else
		return true;
	if ((proto == IPPROTO_TCP && l4len < TCP_HLEN) ||
	    (proto == IPPROTO_UDP && l4len < UDP_HLEN))
		return true;
	if (proto == IPPROTO_UDP && family == 4 && get16(f + l4 + 6) == 0) {
		*udp_zero = true;
		return true;
	}
	if (proto == IPPROTO_UDP && family == 6 && get16(f + l4 + 6) == 0) {
		unit_fail("output IPv6 UDP checksum is 0 (mandatory in IPv6)");
		return false;
	}
	c = csum_fold(csum_add(sum, f + l4, l4len));
	if (c != 0) {
		unit_fail("output %s checksum wrong (field 0x%04x, sum off by 0x%04x)",
			  proto == IPPROTO_TCP ? "TCP" : proto == IPPROTO_UDP ? "UDP" : "ICMP",
			  get16(f + l4 + (proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 2)),
			  c);
		return false;
	}
	return true;
}

/* Names the field at offset off of a quoted IP packet q (ICMP errors). */
static const char *quote_name(const __u8 *q, int len, int off)
{
	int l4;

	if (len < 1)
		return "icmp.quote";
	if (q[0] >> 4 == 4) {
		l4 = (q[0] & 0xf) * 4;
		if (off < 10)
			return "quote.ip.hdr";
		if (off < 12)
			return "quote.ip.csum";
		if (off < 16)
			return "quote.ip.saddr";
		if (off < 20)
			return "quote.ip.daddr";
		if (off < l4)
			return "quote.ip.options";
	} else {
		l4 = IP6_HLEN;
		if (off < 8)
			return "quote.ip6.hdr";
		if (off < 24)
			return "quote.ip6.saddr";
		if (off < 40)
			return "quote.ip6.daddr";
	}
	if (off - l4 < 2)
		return "quote.l4.sport";
	if (off - l4 < 4)
		return "quote.l4.dport";
	if (off - l4 < 6)
		return "quote.l4.4";
	if (off - l4 < 8)
		return "quote.l4.6 (udp.csum)";
	if (off - l4 >= 16 && off - l4 < 18)
		return "quote.l4.16 (tcp.csum)";
	return "quote.l4.data";
}

/* Names the field at offset off of an Ethernet frame laid out like f. */
static const char *field_name(const __u8 *f, int len, int off)
{
	int l3 = 14, l4;
	__u16 type;

	if (off < 6)
		return "eth.dst";
	if (off < 12)
		return "eth.src";
	type = len >= 14 ? get16(f + 12) : 0;
	if (type == 0x8100 || type == 0x88a8) {
		if (off < 16)
			return "vlan.tpid";
		if (off < 18)
			return "vlan.tci";
		l3 = 18;
		type = len >= 18 ? get16(f + 16) : 0;
	}
	if (off < l3)
		return "eth.type";
	if (type == 0x0800 && len >= l3 + IP4_HLEN) {
		static const char *n4[] = { "ip.vihl", "ip.tos", "ip.len", "ip.len",
					    "ip.id", "ip.id", "ip.frag", "ip.frag",
					    "ip.ttl", "ip.proto", "ip.csum", "ip.csum" };
		int ihl = (f[l3] & 0xf) * 4;

		if (off - l3 < 12)
			return n4[off - l3];
		if (off - l3 < 16)
			return "ip.saddr";
		if (off - l3 < 20)
			return "ip.daddr";
		if (off - l3 < ihl)
			return "ip.options";
		l4 = l3 + ihl;
		switch (f[l3 + 9]) {
		case IPPROTO_TCP:
			goto tcp;
		case IPPROTO_UDP:
			goto udp;
		case IPPROTO_ICMP:
			goto icmp;
		}
		return "ip.payload";
	}
	if (type == 0x86dd && len >= l3 + IP6_HLEN) {
		if (off - l3 < 4)
			return "ip6.flow";
		if (off - l3 < 6)
			return "ip6.plen";
		if (off - l3 < 7)
			return "ip6.nexthdr";
		if (off - l3 < 8)
			return "ip6.hoplimit";
		if (off - l3 < 24)
			return "ip6.saddr";
		if (off - l3 < 40)
			return "ip6.daddr";
		l4 = l3 + IP6_HLEN;
		switch (f[l3 + 6]) {
		case IPPROTO_TCP:
			goto tcp;
		case IPPROTO_UDP:
			goto udp;
		case IPPROTO_ICMPV6:
			goto icmp;
		}
		return "ip6.payload";
	}
	return "l3";
tcp:
	if (off - l4 < 2)
		return "tcp.sport";
	if (off - l4 < 4)
		return "tcp.dport";
	if (off - l4 < 16)
		return "tcp.seq/ack/flags";
	if (off - l4 < 18)
		return "tcp.csum";
	if (off - l4 < 20)
		return "tcp.urg";
	return "payload";
icmp:
	if (off - l4 < 2)
		return "icmp.type/code";
	if (off - l4 < 4)
		return "icmp.csum";
	if (off - l4 < 8)
		return "icmp.info";
	return quote_name(f + l4 + 8, len - l4 - 8, off - l4 - 8);
udp:
	if (off - l4 < 2)
		return "udp.sport";
	if (off - l4 < 4)
		return "udp.dport";
	if (off - l4 < 6)
		return "udp.len";
	if (off - l4 < 8)
		return "udp.csum";
	return "payload";
}

bool pkt_compare(const __u8 *want, int want_len, const __u8 *got, int got_len,
		 int from)
{
	int n = want_len < got_len ? want_len : got_len, i, shown = 0;
	bool ok = true;

	if (want_len != got_len) {
		unit_fail("output length %d, expected %d", got_len, want_len);
		ok = false;
	}
	for (i = from; i < n;) {
		const char *name;
		char e[64] = "", g[64] = "";
		int j, k = 0;

		if (want[i] == got[i]) {
			i++;
			continue;
		}
		name = field_name(want, want_len, i);
		for (j = i; j < n && field_name(want, want_len, j) == name &&
			    k < 20; j++, k++) {
			sprintf(e + strlen(e), "%02x", want[j]);
			sprintf(g + strlen(g), "%02x", got[j]);
		}
		if (ok)
			unit_fail("output differs at byte %d (%s): expected %s got %s",
				  i, name, e, g);
		else if (shown < 12)
			unit_note("byte %d (%s): expected %s got %s", i, name, e, g);
		shown++;
		ok = false;
		i = j;
	}
	return ok;
}
