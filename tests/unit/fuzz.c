// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packet fuzzer: mutated frames through every program of the unit objects
 * (BPF_PROG_TEST_RUN), each output checked by
 *
 *  - a checksum verifier of its own, from the RFCs (IPv4 header, RFC 791;
 *    TCP/UDP/ICMPv6 with their pseudo headers, RFC 9293, 768, 8200 8.1,
 *    4443; ICMP, RFC 792; the headers an ICMP error quotes): every checksum
 *    that was right in the input must be right in a changed output; a tc run
 *    with BPF_F_TEST_SKB_CHECKSUM_COMPLETE also has the kernel compare
 *    skb->csum with the bytes (EBADMSG when the program left it stale);
 *  - a model of the configured mappings (read back from crbpf_ports,
 *    crbpf_except, crbpf_local and the namespace's sockets): a frame crbpf
 *    does not own (not to a mapped (proto, port, address), an --except port,
 *    a port a local socket owns under `all`, not IP, a header the kernel
 *    refuses) must pass byte for byte; one it owns may only be rewritten
 *    towards the backend its mapping names (forward) or from the public port
 *    that maps to its source (replies).
 *
 *   build/unit_tests --fuzz SECONDS [SEED]   (SEED 0 or none: from the clock)
 *
 * Prints the seed first, "[fuzz-packets] PASS|FAIL" and the counts last; on
 * a failure also the seed, iteration, input and output in hex, and writes
 * the input as a reproducer (FUZZ_REPRO_DIR, default build/fuzz-repro).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "unit.h"
#include "crbpf_stat_names.h"

/* ---- random numbers (xorshift64*: the same seed gives the same run) ---- */

static __u64 rng;

static __u32 rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (__u32)((rng * 0x2545f4914f6cdd1dULL) >> 32);
}

static __u32 below(__u32 n)
{
	return n ? rnd() % n : 0;
}

static bool chance(int pct)
{
	return below(100) < (__u32)pct;
}

#define PICK(a) ((a)[below(sizeof(a) / sizeof((a)[0]))])

/* ---- checksums, RFC 1071 ---- */

static __u32 sum16(__u32 s, const __u8 *p, int len)
{
	int i;

	for (i = 0; i + 1 < len; i += 2)
		s += (__u32)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (__u32)(p[len - 1] << 8);
	return s;
}

static __u16 fold(__u32 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

static __u16 rd16(const __u8 *p)
{
	return (__u16)(p[0] << 8 | p[1]);
}

/* ---- an independent parser of what the verifier and the model read ---- */

enum ck { CK_NONE, CK_OK, CK_BAD, CK_ZERO }; /* ZERO: IPv4 UDP "no checksum" */
enum { SLOT_IP, SLOT_L4, SLOT_QIP, SLOT_QL4, SLOT__MAX };

struct view {
	int family; /* 0: not IP (or not parsed) */
	bool hdr_ok; /* the kernel would take the IP header */
	bool trunc; /* the frame ends before the IP datagram does */
	bool later; /* a non-first fragment: no transport header */
	bool frag;
	bool ports; /* sport/dport read from a complete TCP/UDP header */
	bool icmp_err;
	bool udp6_zero; /* IPv6 UDP checksum field 0 (invalid, RFC 8200 8.1) */
	__u8 proto, ttl;
	__u8 saddr[16], daddr[16];
	__u16 sport, dport;
	int l3, l4, end; /* end: of the datagram, within the frame */
	int ntags;
	enum ck ck[SLOT__MAX];
	struct view *q; /* the quoted packet of an ICMP error */
};

static bool is_err_type(int family, __u8 type)
{
	if (family == 4)
		return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
	return type >= 1 && type <= 4;
}

/* Transport checksum of [l4, end) (RFC 768/9293/4443, RFC 792 for ICMP). */
static enum ck l4_check(const __u8 *f, const struct view *v)
{
	int n = v->end - v->l4, alen = v->family == 6 ? 16 : 4;
	__u32 s = 0;

	switch (v->proto) {
	case IPPROTO_TCP:
		if (n < 20)
			return CK_NONE;
		break;
	case IPPROTO_UDP:
		if (n < 8 || rd16(f + v->l4 + 4) < 8 || rd16(f + v->l4 + 4) > n)
			return CK_NONE;
		n = rd16(f + v->l4 + 4);
		if (rd16(f + v->l4 + 6) == 0)
			return v->family == 4 ? CK_ZERO : CK_BAD;
		break;
	case IPPROTO_ICMP:
		if (v->family != 4 || n < 8)
			return CK_NONE;
		return fold(sum16(0, f + v->l4, n)) == 0xffff ? CK_OK : CK_BAD;
	case IPPROTO_ICMPV6:
		if (v->family != 6 || n < 8)
			return CK_NONE;
		break;
	default:
		return CK_NONE;
	}
	s = sum16(s, v->saddr, alen);
	s = sum16(s, v->daddr, alen);
	s += v->proto;
	s += (__u32)n;
	return fold(sum16(s, f + v->l4, n)) == 0xffff ? CK_OK : CK_BAD;
}

static void parse_ip(const __u8 *f, int len, int off, struct view *v, int depth);

/* frame: Ethernet unless l3only; VLAN stacks (802.1Q, 802.1ad) walked */
static void parse_frame(const __u8 *f, int len, bool l3only, struct view *v)
{
	int off = 0;
	__u16 type;

	memset(v, 0, sizeof(*v));
	if (l3only) {
		parse_ip(f, len, 0, v, 0);
		return;
	}
	if (len < 14)
		return;
	type = rd16(f + 12);
	off = 14;
	while ((type == 0x8100 || type == 0x88a8) && off + 4 <= len && v->ntags < 8) {
		type = rd16(f + off + 2);
		off += 4;
		v->ntags++;
	}
	if ((type == 0x0800 || type == 0x86dd) && off < len &&
	    (f[off] >> 4) == (type == 0x0800 ? 4 : 6))
		parse_ip(f, len, off, v, 0);
}

static struct view qviews[2];

static void parse_ip(const __u8 *f, int len, int off, struct view *v, int depth)
{
	int ver = off < len ? f[off] >> 4 : 0, l4, end, i;
	__u8 nh;

	v->l3 = off;
	if (ver == 4) {
		int ihl = (f[off] & 15) * 4, tot;

		if (off + 20 > len)
			return;
		v->family = 4;
		tot = rd16(f + off + 2);
		memcpy(v->saddr, f + off + 12, 4);
		memcpy(v->daddr, f + off + 16, 4);
		v->ttl = f[off + 8];
		v->proto = f[off + 9];
		if (ihl < 20 || off + ihl > len || tot < ihl)
			return;
		v->hdr_ok = true;
		v->ck[SLOT_IP] = fold(sum16(0, f + off, ihl)) == 0xffff ? CK_OK : CK_BAD;
		end = off + tot;
		v->frag = rd16(f + off + 6) & 0x3fff;
		v->later = rd16(f + off + 6) & 0x1fff;
		l4 = off + ihl;
	} else if (ver == 6) {
		if (off + 40 > len)
			return;
		v->family = 6;
		memcpy(v->saddr, f + off + 8, 16);
		memcpy(v->daddr, f + off + 24, 16);
		v->ttl = f[off + 7];
		end = off + 40 + rd16(f + off + 4);
		/* payload length 0: BIG TCP, the frame's length counts (as
		 * crbpf's parser has it) */
		if (end == off + 40)
			end = len;
		nh = f[off + 6];
		l4 = off + 40;
		for (i = 0; i < 16; i++) {
			if (nh != 0 && nh != 43 && nh != 44 && nh != 60)
				break;
			if (l4 + 8 > len || l4 + 8 > end)
				return;
			if (nh == 44) {
				v->frag = true;
				v->later = rd16(f + l4 + 2) & 0xfff8;
				nh = f[l4];
				l4 += 8;
			} else {
				int hl = (f[l4 + 1] + 1) * 8;

				nh = f[l4];
				l4 += hl;
			}
		}
		if (i == 16 || l4 > end)
			return;
		v->proto = nh;
		v->hdr_ok = true;
	} else {
		return;
	}
	v->trunc = end > len;
	v->end = end > len ? len : end;
	v->l4 = l4;
	if (v->later || l4 > v->end)
		return;
	/* a quote has the ports in its first 8 bytes (RFC 792) */
	if ((v->proto == IPPROTO_TCP && v->end - l4 >= (depth ? 8 : 20)) ||
	    (v->proto == IPPROTO_UDP && v->end - l4 >= 8)) {
		v->ports = true;
		v->sport = rd16(f + l4);
		v->dport = rd16(f + l4 + 2);
		v->udp6_zero = v->family == 6 && v->proto == IPPROTO_UDP &&
			       depth == 0 && !rd16(f + l4 + 6);
	}
	if (!v->frag && !v->trunc)
		v->ck[SLOT_L4] = l4_check(f, v);
	if ((v->proto == IPPROTO_ICMP || v->proto == IPPROTO_ICMPV6) &&
	    v->end - l4 >= 8 + 20 && depth == 0 &&
	    is_err_type(v->family, f[l4]) && !v->frag) {
		struct view *q = &qviews[0];

		v->icmp_err = true;
		memset(q, 0, sizeof(*q));
		parse_ip(f, v->end, l4 + 8, q, 1);
		if (q->family == v->family) {
			v->q = q;
			v->ck[SLOT_QIP] = q->ck[SLOT_IP];
			v->ck[SLOT_QL4] = q->ck[SLOT_L4];
		}
	}
}

/* ---- the model of the mappings, read from the maps the cases wrote ---- */

struct mdl_map {
	struct crbpf_port_key k;
	struct crbpf_backend be;
};

static struct mdl_map mdl[512];
static int n_mdl;
static struct crbpf_port_key mdl_except[256];
static int n_except;
static struct crbpf_addr_key mdl_local[16];
static int n_local;

struct mdl_sock {
	int family;
	__u8 proto;
	bool listen; /* or connected: raddr/rport set */
	__u8 laddr[16], raddr[16];
	__u16 lport, rport;
};
static struct mdl_sock socks[64];
static int n_socks;

static bool zero16(const __u8 *a)
{
	static const __u8 z[16];

	return !memcmp(a, z, 16);
}

static int alen_of(int family)
{
	return family == 6 ? 16 : 4;
}

/* /proc/net/{tcp,udp}{,6}: hex addresses in host word order */
static void read_socks(const char *path, int family, __u8 proto)
{
	char line[512], la[40], ra[40];
	unsigned int lp, rp, st;
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && n_socks < 64) {
		struct mdl_sock *s = &socks[n_socks];
		int i, w;

		if (sscanf(line, " %*d: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %x", la,
			   &lp, ra, &rp, &st) != 5)
			continue;
		memset(s, 0, sizeof(*s));
		s->family = family;
		s->proto = proto;
		s->lport = lp;
		s->rport = rp;
		for (w = 0; w < alen_of(family) / 4; w++) {
			unsigned int a, b;

			sscanf(la + 8 * w, "%8x", &a);
			sscanf(ra + 8 * w, "%8x", &b);
			for (i = 0; i < 4; i++) {
				s->laddr[4 * w + i] = (a >> (8 * i)) & 0xff;
				s->raddr[4 * w + i] = (b >> (8 * i)) & 0xff;
			}
		}
		/* TCP: LISTEN (0x0a); UDP: unconnected (no remote port) */
		s->listen = proto == IPPROTO_TCP ? st == 0x0a : rp == 0;
		if (proto == IPPROTO_TCP && st != 0x0a && st != 0x01 && st != 0x02)
			continue; /* only listeners, established and SYN_SENT */
		n_socks++;
	}
	fclose(f);
}

/* Sockets come and go (all_setup()'s unanswered connects give up after
 * about two minutes): read again every second and before a failure counts.
 * Returns whether the list changed. */
static bool model_socks(void)
{
	static struct mdl_sock before[64];
	int n = n_socks;

	memcpy(before, socks, sizeof(before));
	n_socks = 0;
	memset(socks, 0, sizeof(socks));
	read_socks("/proc/net/tcp", 4, IPPROTO_TCP);
	read_socks("/proc/net/tcp6", 6, IPPROTO_TCP);
	read_socks("/proc/net/udp", 4, IPPROTO_UDP);
	read_socks("/proc/net/udp6", 6, IPPROTO_UDP);
	return n != n_socks || memcmp(before, socks, sizeof(before));
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct crbpf_port_key));
}

static void model_load(void)
{
	int fd = edge_map_fd("crbpf_ports");
	struct crbpf_port_key k, *prev = NULL;
	struct crbpf_addr_key ak, *aprev = NULL;

	n_mdl = n_except = n_local = n_socks = 0;
	while (n_mdl < 512 && !bpf_map_get_next_key(fd, prev, &k)) {
		mdl[n_mdl].k = k;
		bpf_map_lookup_elem(fd, &k, &mdl[n_mdl].be);
		prev = &mdl[n_mdl].k;
		n_mdl++;
	}
	fd = edge_map_fd("crbpf_except");
	prev = NULL;
	while (n_except < 256 && !bpf_map_get_next_key(fd, prev, &k)) {
		mdl_except[n_except] = k;
		prev = &mdl_except[n_except++];
	}
	fd = edge_map_fd("crbpf_local");
	while (n_local < 16 && !bpf_map_get_next_key(fd, aprev, &ak)) {
		mdl_local[n_local] = ak;
		aprev = &mdl_local[n_local++];
	}
	/* hash order differs from run to run; the seed must not */
	qsort(mdl, n_mdl, sizeof(mdl[0]), key_cmp);
	model_socks();
}

static __u8 fam_code(int family)
{
	return family == 6 ? CRBPF_V6 : CRBPF_V4;
}

static bool is_local(int family, const __u8 *a)
{
	int i;

	for (i = 0; i < n_local; i++)
		if (mdl_local[i].family == fam_code(family) &&
		    !memcmp(mdl_local[i].addr, a, alen_of(family)))
			return true;
	return false;
}

static const struct mdl_map *model_find(int family, __u8 proto, const __u8 *addr,
					__u16 port, bool any_addr)
{
	__u8 want[16] = {};
	int i;

	if (!any_addr)
		memcpy(want, addr, alen_of(family));
	for (i = 0; i < n_mdl; i++)
		if (mdl[i].k.ifindex == (__u32)topo.ifindex[DEV_PUB] &&
		    mdl[i].k.family == fam_code(family) && mdl[i].k.proto == proto &&
		    ntohs(mdl[i].k.port) == port &&
		    !memcmp(mdl[i].k.addr, want, 16))
			return &mdl[i];
	return NULL;
}

/* What a packet to (addr, port) maps to: the port on this address, on any
 * address, then `all` on this address, on any (README: port add --addr). */
static const struct mdl_map *model_lookup(int family, __u8 proto,
					  const __u8 *daddr, __u16 dport)
{
	const struct mdl_map *m;

	if (!is_local(family, daddr))
		return NULL;
	if (dport && ((m = model_find(family, proto, daddr, dport, false)) ||
		      (m = model_find(family, proto, daddr, dport, true))))
		return m;
	if ((m = model_find(family, proto, daddr, 0, false)))
		return m;
	return model_find(family, proto, daddr, 0, true);
}

static bool is_all(const struct mdl_map *m)
{
	return m->k.port == CRBPF_PORT_ALL;
}

static bool excepted(const struct mdl_map *m, __u16 dport)
{
	int i;

	for (i = 0; i < n_except; i++) {
		struct crbpf_port_key e = mdl_except[i];

		if (e.ifindex == m->k.ifindex && e.family == m->k.family &&
		    e.proto == m->k.proto && ntohs(e.port) == dport &&
		    !memcmp(e.addr, m->k.addr, 16))
			return true;
	}
	return false;
}

/* 1: a local socket owns the packet; -1: perhaps (an IPv6 wildcard listener
 * may or may not take IPv4); 0: none */
static int socket_owns(const struct view *v)
{
	int i, r = 0, al = alen_of(v->family);

	for (i = 0; i < n_socks; i++) {
		const struct mdl_sock *s = &socks[i];

		if (s->proto != v->proto || s->lport != v->dport)
			continue;
		if (s->family != v->family) {
			if (s->family == 6 && s->listen && zero16(s->laddr))
				r = -1;
			continue;
		}
		if (!zero16(s->laddr) && memcmp(s->laddr, v->daddr, al))
			continue;
		if (s->listen)
			return 1;
		if (s->rport == v->sport && !memcmp(s->raddr, v->saddr, al))
			return 1;
	}
	return r;
}

static bool is_backend(int family, __u8 proto, const __u8 *a)
{
	int i;

	for (i = 0; i < n_mdl; i++)
		if (mdl[i].k.family == fam_code(family) &&
		    (!proto || mdl[i].k.proto == proto) &&
		    !memcmp(mdl[i].be.addr, a, alen_of(family)))
			return true;
	return false;
}

/* The public port a reply from backend (addr, port) may leave from, per
 * mapping m: its public port, or the same port for `all`. */
static bool rev_fits(const struct mdl_map *m, int family, __u8 proto,
		     const __u8 *be, __u16 bport, const __u8 *pub, __u16 pport)
{
	if (m->k.family != fam_code(family) || m->k.proto != proto ||
	    memcmp(m->be.addr, be, alen_of(family)))
		return false;
	if (!zero16((const __u8 *)m->k.addr) &&
	    memcmp(m->k.addr, pub, alen_of(family)))
		return false;
	if (is_all(m))
		return pport == bport;
	return ntohs(m->be.port) == bport && ntohs(m->k.port) == pport;
}

static bool rev_any_fits(int family, __u8 proto, const __u8 *be, __u16 bport,
			 const __u8 *pub, __u16 pport)
{
	int i;

	for (i = 0; i < n_mdl; i++)
		if (rev_fits(&mdl[i], family, proto, be, bport, pub, pport))
			return true;
	return false;
}

/* Some mapping has (be, bport) as its backend: a reply crbpf may own. */
static bool rev_owned(int family, __u8 proto, const __u8 *be, __u16 bport)
{
	int i;

	for (i = 0; i < n_mdl; i++)
		if (mdl[i].k.family == fam_code(family) && mdl[i].k.proto == proto &&
		    !memcmp(mdl[i].be.addr, be, alen_of(family)) &&
		    (is_all(&mdl[i]) || ntohs(mdl[i].be.port) == bport))
			return true;
	return false;
}

/* ---- the programs and what may come out of them ---- */

static const struct {
	enum prog prog;
	const char *name;
	enum dev dev;
	bool xdp, l3only;
} progs[] = {
	{ P_EDGE_XDP, "crbpf_edge_xdp", DEV_PUB, true, false },
	{ P_EDGE_TC, "crbpf_edge_tc", DEV_PUB, false, false },
	{ P_REV_TC, "crbpf_rev_tc", DEV_NH, false, false },
	{ P_TUN_TC, "crbpf_tun_tc", DEV_TUN, false, true },
	{ P_HOME_TUN, "crbpf_home_tun", DEV_HTUN, false, true },
	{ P_HOME_SRV, "crbpf_home_srv", DEV_SRV, false, false },
	{ P_HOME_OUT, "crbpf_home_out", DEV_LINE, false, false },
};
#define N_PROGS ((int)(sizeof(progs) / sizeof(progs[0])))

static char why[256];

#define BAD(...) ({ snprintf(why, sizeof(why), __VA_ARGS__); false; })

static bool verdict_pass(bool xdp, int v)
{
	return xdp ? v == XDP_PASS : v == TC_ACT_UNSPEC || v == TC_ACT_OK;
}

static bool verdict_valid(bool xdp, int v)
{
	if (xdp)
		return v == XDP_PASS || v == XDP_DROP || v == XDP_TX || v == XDP_REDIRECT;
	return v == TC_ACT_UNSPEC || v == TC_ACT_OK || v == TC_ACT_SHOT ||
	       v == TC_ACT_REDIRECT;
}

static bool verdict_drop(bool xdp, int v)
{
	return xdp ? v == XDP_DROP : v == TC_ACT_SHOT;
}

enum own { OWN_NOT, OWN_FWD, OWN_REV, OWN_MAYBE };

/* Edge, forward: what the input is to crbpf; *m the mapping it hits. */
static enum own own_fwd(const struct view *v, const struct mdl_map **m)
{
	const struct view *q = v->q;

	*m = NULL;
	if (!v->family || !v->hdr_ok || v->ck[SLOT_IP] == CK_BAD)
		return OWN_NOT; /* the kernel refuses it: crbpf leaves it alone */
	if (!is_local(v->family, v->daddr))
		return OWN_NOT;
	if (v->icmp_err) {
		/* about a packet the VPS sent from a public port */
		if (!q || !q->ports || !is_local(q->family, q->saddr))
			return OWN_MAYBE;
		*m = model_lookup(q->family, q->proto, q->saddr, q->sport);
		if (*m && is_all(*m)) {
			/* about the VPS's own traffic: its socket's, or an
			 * --except port's */
			struct view r = *q;
			int s;

			memcpy(r.saddr, q->daddr, 16);
			memcpy(r.daddr, q->saddr, 16);
			r.sport = q->dport;
			r.dport = q->sport;
			s = socket_owns(&r);
			if (excepted(*m, q->sport) || s > 0)
				return OWN_NOT;
			if (s < 0)
				return OWN_MAYBE;
		}
		return *m ? OWN_FWD : OWN_MAYBE;
	}
	if (v->proto != IPPROTO_TCP && v->proto != IPPROTO_UDP)
		return v->proto == IPPROTO_ICMP || v->proto == IPPROTO_ICMPV6 ?
			       OWN_MAYBE : OWN_NOT;
	if (!v->ports)
		return OWN_MAYBE; /* later fragment, truncated header */
	*m = model_lookup(v->family, v->proto, v->daddr, v->dport);
	if (!*m)
		return OWN_NOT;
	if (is_all(*m)) {
		int s = socket_owns(v);

		if (excepted(*m, v->dport) || s > 0)
			return OWN_NOT;
		if (s < 0)
			return OWN_MAYBE;
	}
	return OWN_FWD;
}

static bool check_fwd(const struct view *in, const struct view *out,
		      enum own own, const struct mdl_map *m)
{
	int al = alen_of(in->family);

	if (out->family != in->family)
		return BAD("forwarded output is not the input's family");
	if (memcmp(out->saddr, in->saddr, al))
		return BAD("forward changed the source address");
	if (own == OWN_MAYBE || !m) {
		if (!is_backend(in->family, 0, out->daddr))
			return BAD("forwarded to an address no mapping names");
		return true;
	}
	if (memcmp(out->daddr, m->be.addr, al))
		return BAD("forwarded to another address than the mapping's backend");
	if (in->icmp_err) {
		if (!out->q || !out->q->ports)
			return BAD("forwarded ICMP error lost its quote");
		if (memcmp(out->q->saddr, m->be.addr, al) ||
		    out->q->sport != (is_all(m) ? in->q->sport : ntohs(m->be.port)))
			return BAD("forwarded ICMP error quotes another endpoint than the backend");
		return true;
	}
	if (in->ports && out->ports &&
	    (out->sport != in->sport ||
	     out->dport != (is_all(m) ? in->dport : ntohs(m->be.port))))
		return BAD("forwarded to another port than the mapping's");
	return true;
}

/* Replies from a backend: owned when some mapping has its source. */
static enum own own_rev(const struct view *v)
{
	const struct view *q = v->q;

	if (!v->family || !v->hdr_ok || v->ck[SLOT_IP] == CK_BAD)
		return OWN_NOT;
	if (v->icmp_err)
		return q && q->ports && rev_owned(q->family, q->proto, q->daddr, q->dport) ?
			       OWN_REV : OWN_MAYBE;
	if (v->proto != IPPROTO_TCP && v->proto != IPPROTO_UDP)
		return v->proto == IPPROTO_ICMP || v->proto == IPPROTO_ICMPV6 ?
			       OWN_MAYBE : OWN_NOT;
	if (!v->ports)
		return OWN_MAYBE;
	return rev_owned(v->family, v->proto, v->saddr, v->sport) ? OWN_REV : OWN_NOT;
}

static bool check_rev(const struct view *in, const struct view *out, enum own own)
{
	int al = alen_of(in->family);

	if (out->family != in->family)
		return BAD("translated reply is not the input's family");
	if (memcmp(out->daddr, in->daddr, al))
		return BAD("reply's destination changed");
	if (in->icmp_err) {
		if (memcmp(out->saddr, in->saddr, al) && !is_local(in->family, out->saddr))
			return BAD("ICMP error leaves from a non-public address");
		if (own == OWN_REV &&
		    (!out->q || !out->q->ports ||
		     !rev_any_fits(in->family, in->q->proto, in->q->daddr, in->q->dport,
				   out->q->daddr, out->q->dport)))
			return BAD("ICMP error quotes a public endpoint no mapping leads to");
		return true;
	}
	if (!is_local(in->family, out->saddr))
		return BAD("reply leaves from a non-public address");
	if (own == OWN_REV && in->ports &&
	    (!out->ports || out->dport != in->dport ||
	     !rev_any_fits(in->family, in->proto, in->saddr, in->sport, out->saddr,
			   out->sport)))
		return BAD("reply leaves from a public port no mapping leads to");
	return true;
}

static bool check_home_out(const struct view *in, const struct view *out)
{
	__be32 t[4];

	parse_addr(in->family, in->family == 6 ? HTUN6 : HTUN4, t);
	if (out->family != in->family || memcmp(out->saddr, t, alen_of(in->family)))
		return BAD("home_out rewrote to another source than the tunnel address");
	if (memcmp(out->daddr, in->daddr, alen_of(in->family)) ||
	    out->sport != in->sport || out->dport != in->dport)
		return BAD("home_out changed more than the source address");
	return true;
}

/* The device the namespace's routing table sends a packet to addr by: the
 * one holding the source address a connected UDP socket gets (cached). */
static __u64 route_dev(int family, const __u8 *addr)
{
	static struct {
		int family;
		__u8 addr[16];
		__u64 ifindex;
	} cache[256];
	static int n;
	struct sockaddr_storage ss = {}, local = {};
	socklen_t sl = sizeof(local);
	struct ifaddrs *ifa, *i;
	__u64 dev = 0;
	int fd, k;

	for (k = 0; k < n; k++)
		if (cache[k].family == family && !memcmp(cache[k].addr, addr, 16))
			return cache[k].ifindex;
	if (family == 4) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(9);
		memcpy(&a->sin_addr, addr, 4);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(9);
		memcpy(&a->sin6_addr, addr, 16);
	}
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	if (fd >= 0 && !connect(fd, (struct sockaddr *)&ss, sizeof(ss)) &&
	    !getsockname(fd, (struct sockaddr *)&local, &sl) && !getifaddrs(&ifa)) {
		for (i = ifa; i; i = i->ifa_next) {
			if (!i->ifa_addr || i->ifa_addr->sa_family != local.ss_family)
				continue;
			if (family == 4 ? !memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr,
						  &((struct sockaddr_in *)&local)->sin_addr, 4) :
					  !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
						  &((struct sockaddr_in6 *)&local)->sin6_addr, 16)) {
				dev = if_nametoindex(i->ifa_name);
				break;
			}
		}
		freeifaddrs(ifa);
	}
	if (fd >= 0)
		close(fd);
	if (n < 256) {
		cache[n].family = family;
		memcpy(cache[n].addr, addr, 16);
		cache[n++].ifindex = dev;
	}
	return dev;
}

/* A forward leaves by the device the mapping's backend is reached through
 * (any backend's, when the model cannot tell which mapping), a reply or
 * home_out's packet by the device the routing table has for its
 * destination. XDP_TX (back out where it came in) is never right. */
static bool check_target(int pi, int verdict, const struct crbpf_unit_redirect *r,
			 const struct mdl_map *m, const struct view *out)
{
	__u64 want;
	int i;

	if (progs[pi].xdp ? verdict == XDP_TX : false)
		return BAD("XDP_TX: sent back out of the device it came in by");
	if (verdict != (progs[pi].xdp ? XDP_REDIRECT : TC_ACT_REDIRECT))
		return true;
	if (!r->calls)
		return BAD("redirect verdict without a redirect helper call");
	switch (progs[pi].prog) {
	case P_EDGE_XDP:
	case P_EDGE_TC:
		if (m)
			return r->target == m->be.ifindex ||
				       BAD("redirected to ifindex %llu, the backend is behind %u",
					   (unsigned long long)r->target, m->be.ifindex);
		for (i = 0; i < n_mdl; i++)
			if (r->target == mdl[i].be.ifindex)
				return true;
		return BAD("redirected to ifindex %llu, no backend's device",
			   (unsigned long long)r->target);
	case P_HOME_OUT:
		return r->target == (__u64)topo.ifindex[DEV_HTUN] ||
		       BAD("home_out redirected to ifindex %llu, not the tunnel",
			   (unsigned long long)r->target);
	default:
		want = route_dev(out->family, out->daddr);
		return r->target == want ||
		       BAD("reply redirected to ifindex %llu, its destination's route is by %llu",
			   (unsigned long long)r->target, (unsigned long long)want);
	}
}

static bool check_csums(const struct view *in, const struct view *out)
{
	static const char *const slot[] = { "IPv4 header", "transport",
					    "quoted IPv4 header", "quoted transport" };
	int s;

	for (s = 0; s < SLOT__MAX; s++) {
		if (in->ck[s] == CK_OK && out->ck[s] != CK_OK && out->ck[s] != CK_NONE)
			return BAD("%s checksum wrong in the output%s", slot[s],
				   out->ck[s] == CK_ZERO ? " (UDP checksum became 0)" : "");
		if (in->ck[s] == CK_ZERO && s == SLOT_L4 && out->ck[s] == CK_BAD)
			return BAD("UDP checksum 0 became a wrong one");
	}
	return true;
}

/* ---- frames ---- */

static const char *const pool4[] = { VPS4, VPS4_2, CLI4, BE3_4, BE2_4, BENN_4,
				     L3SRC4_BE, L3SRC4_CLI, RTR4, "203.0.113.99",
				     LINE4, HTUN4 };
static const char *const pool6[] = { VPS6, CLI6, BE3_6, BE2_6, L3SRC6_BE,
				     L3SRC6_CLI, RTR6, "2001:db8:203::99", LINE6 };
static const __u16 ports[] = { 80, 8080, 53, 443, 5000, 8000, 8005, 8010, 2222, 2223,
			       7000, 3333, 9443, 9053, 5555, 4444, 22, 23, 6000, 6005,
			       7200, 7201, 7202, 7300, 7301, 5353, 8443, 6000, 9000,
			       51820, 2500, 2600, 45000, 45001, 8000, 123, 33, 1, 65535,
			       40000, 12345 };

static const char *addr_for(int family, bool l3only, bool src)
{
	if (l3only && src)
		return family == 6 ? PICK(((const char *[]){ L3SRC6_BE, L3SRC6_CLI })) :
				     PICK(((const char *[]){ L3SRC4_BE, L3SRC4_CLI }));
	return family == 6 ? PICK(pool6) : PICK(pool4);
}

static __u8 opts_buf[40];

/* TCP options: NOPs, MSS at any offset, window scale, SACK-permitted,
 * timestamps, EOL, and now and then a kind with any length */
static int gen_tcp_opts(void)
{
	static const struct {
		__u8 kind, len, fill;
	} known[] = {
		{ 1, 1, 0 }, { 1, 1, 0 }, { 2, 4, 0 }, { 2, 4, 0 }, /* NOP, MSS */
		{ 3, 3, 7 }, { 8, 10, 0x11 }, { 4, 2, 0 }, { 0, 1, 0 },
	};
	int n = 0, max = 4 * (1 + below(10)), k, len;

	while (n < max) {
		k = below(sizeof(known) / sizeof(known[0]) + 1);
		if (k == sizeof(known) / sizeof(known[0])) {
			opts_buf[n++] = (__u8)below(40);
			if (n < max)
				opts_buf[n++] = (__u8)below(12);
			continue;
		}
		len = known[k].len;
		if (n + len > max)
			break;
		opts_buf[n] = known[k].kind;
		if (len > 1) {
			opts_buf[n + 1] = (__u8)len;
			memset(opts_buf + n + 2, known[k].fill, len - 2);
		}
		if (known[k].kind == 2) { /* MSS: often 1280-1535, any value */
			opts_buf[n + 2] = (__u8)(chance(50) ? 0x05 : below(256));
			opts_buf[n + 3] = (__u8)below(256);
		}
		n += len;
	}
	while (n % 4)
		opts_buf[n++] = 1;
	return n;
}

static void fill_l4(struct pkt_spec *s, int family, bool l3only, bool reply)
{
	s->family = family;
	s->proto = PICK(((const __u8[]){ IPPROTO_TCP, IPPROTO_TCP, IPPROTO_UDP,
					 IPPROTO_UDP }));
	s->src = addr_for(family, l3only, true);
	s->dst = addr_for(family, false, false);
	s->sport = PICK(ports);
	s->dport = PICK(ports);
	if (chance(20))
		s->sport = (__u16)rnd();
	if (reply && chance(50)) {
		/* a backend's reply: source is a mapping's backend endpoint */
		int i = below(n_mdl);

		if (n_mdl && mdl[i].k.family == fam_code(family)) {
			static char b[64];

			inet_ntop(family == 6 ? AF_INET6 : AF_INET, mdl[i].be.addr, b, sizeof(b));
			if (!l3only) {
				s->src = b;
				s->proto = mdl[i].k.proto;
				s->sport = mdl[i].be.port ? ntohs(mdl[i].be.port) : s->sport;
			}
		}
		s->dst = family == 6 ? CLI6 : CLI4;
	} else if (!reply && chance(60)) {
		s->dst = family == 6 ? VPS6 : PICK(((const char *[]){ VPS4, VPS4_2 }));
		s->src = l3only ? s->src : family == 6 ? CLI6 : CLI4;
	}
	if (s->proto == IPPROTO_TCP) {
		s->tcp_flags = PICK(((const __u8[]){ 0x02, 0x12, 0x10, 0x18, 0x11, 0x04 }));
		if (chance(50)) {
			s->tcp_opts_len = gen_tcp_opts();
			s->tcp_opts = opts_buf;
		}
	}
	s->plen = chance(10) ? -1 : (int)below(200) + 1;
	s->csum0 = s->proto == IPPROTO_UDP && family == 4 && chance(10);
}

static struct pkt_spec inner_spec;

/* One frame for a program: a valid packet built by pkt_build(), then
 * mutated. Returns its length. */
static int gen_frame(int pi, __u8 *buf, struct pkt_spec *s)
{
	bool l3only = progs[pi].l3only, reply = pi >= 2 && pi <= 4;
	int family = chance(50) ? 6 : 4, len, i, n;

	memset(s, 0, sizeof(*s));
	s->dev = progs[pi].dev;
	s->l3only = l3only;
	s->ttl = chance(5) ? (int)below(3) : 0;
	fill_l4(s, family, l3only, reply);
	if (!l3only && chance(25)) {
		s->vlan = (__u16)(1 + below(4094));
		s->vlan_proto = chance(30) ? 0x88a8 : 0;
		if (chance(30))
			s->vlan_inner = (__u16)(1 + below(4094));
	}
	if (family == 4) {
		if (chance(15))
			s->opt_words = (int)below(11);
		if (chance(15))
			s->frag = PICK(((const __u16[]){ 0x2000, 0x2001, 0x0002, 0x4000,
							 0x2000 | 185, 0x0100 }));
		if (chance(3))
			s->ip_csum_bad = true;
	} else {
		s->v6hbh = chance(15);
		if (chance(15))
			s->v6frag = PICK(((const int[]){ 1, 8, 9, 0x100, 0x101 }));
	}
	if (chance(20)) {
		/* an ICMP error quoting a packet (of the other direction) */
		inner_spec = *s;
		inner_spec.l3only = false;
		inner_spec.vlan = inner_spec.vlan_inner = 0;
		inner_spec.frag = 0;
		inner_spec.v6frag = 0;
		inner_spec.v6hbh = false;
		inner_spec.opt_words = 0;
		inner_spec.ip_csum_bad = false;
		inner_spec.src = s->dst;
		inner_spec.dst = addr_for(family, false, false);
		inner_spec.sport = s->dport;
		inner_spec.dport = s->sport;
		inner_spec.tcp_opts_len = 0;
		inner_spec.tcp_opts = NULL;
		if (!reply && chance(50))
			inner_spec.src = family == 6 ? VPS6 : VPS4;
		s->proto = family == 6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
		s->icmp_type = family == 6 ? PICK(((const __u8[]){ 1, 2, 3, 4, 128 })) :
					     PICK(((const __u8[]){ 3, 3, 11, 12, 8 }));
		s->icmp_code = s->icmp_type == 3 && chance(50) ? 4 : (__u8)below(4);
		s->icmp_info = chance(50) ? 1280 : 576;
		s->inner = &inner_spec;
		s->quote_len = chance(50) ? -1 : 0;
		s->tcp_opts_len = 0;
		s->tcp_opts = NULL;
	}
	s->pad = chance(10) ? (int)below(20) : 0;
	len = pkt_build(s, buf);

	/* IPv6 extension chains: destination options / routing (segments
	 * left 0: the pseudo header keeps its destination) spliced in */
	if (family == 6 && chance(15)) {
		int l3 = s->l3_off, k = 1 + below(3), e;

		for (e = 0; e < k && len + 8 <= PKT_MAX; e++) {
			__u8 hdr[8] = { buf[l3 + 6], 0, 0, 0, 0, 0, 0, 0 };
			__u8 type = PICK(((const __u8[]){ 60, 43, 0 }));

			if (type == 43)
				hdr[2] = 253;
			memmove(buf + l3 + 48, buf + l3 + 40, len - l3 - 40);
			memcpy(buf + l3 + 40, hdr, 8);
			buf[l3 + 6] = type;
			n = rd16(buf + l3 + 4) + 8;
			buf[l3 + 4] = n >> 8;
			buf[l3 + 5] = n & 0xff;
			len += 8;
		}
	}
	/* a third VLAN tag */
	if (!l3only && s->vlan_inner && chance(30) && len + 4 <= PKT_MAX) {
		memmove(buf + 16, buf + 12, len - 12);
		buf[12] = 0x81;
		buf[13] = 0x00;
		buf[14] = 0;
		buf[15] = 7;
		len += 4;
	}
	/* byte mutations, biased to the headers */
	n = chance(50) ? 0 : 1 + below(4);
	for (i = 0; i < n; i++) {
		int where = below(100) < 70 ? (int)below(len < 80 ? len : 80) : (int)below(len);

		switch (below(5)) {
		case 0:
			buf[where] ^= (__u8)(1 << below(8));
			break;
		case 1:
			buf[where] = (__u8)rnd();
			break;
		case 2: /* IHL / version nibble */
			if (s->l3_off < len)
				buf[s->l3_off] = (__u8)((buf[s->l3_off] & 0xf0) | below(16));
			break;
		case 3: /* lengths: IPv4 total / IPv6 payload */
			if (s->l3_off + 6 <= len) {
				int at = s->l3_off + (family == 4 ? 2 : 4);

				buf[at] = (__u8)below(3);
				buf[at + 1] = (__u8)rnd();
			}
			break;
		default: /* next header / protocol */
			if (s->l3_off + 10 <= len)
				buf[s->l3_off + (family == 4 ? 9 : 6)] =
					PICK(((const __u8[]){ 0, 6, 17, 1, 58, 43, 44, 60, 51 }));
			break;
		}
	}
	/* truncation */
	if (chance(15)) {
		len = 14 + (int)below(len - 14 + 1);
		/* now and then with an IP length that agrees: the kernel takes
		 * the IP header, what follows it is cut short */
		if (chance(50) && s->l3_off + 40 <= len && !s->vlan) {
			int l = len - s->l3_off - (family == 6 ? 40 : 0);

			buf[s->l3_off + (family == 4 ? 2 : 4)] = (__u8)(l >> 8);
			buf[s->l3_off + (family == 4 ? 3 : 5)] = (__u8)l;
		}
	}
	/* mostly with the IPv4 header checksum made right again, so that a
	 * mutation reaches past the header check */
	if (family == 4 && chance(70) && s->l3_off + 20 <= len &&
	    (buf[s->l3_off] >> 4) == 4 && (buf[s->l3_off] & 15) >= 5 &&
	    s->l3_off + (buf[s->l3_off] & 15) * 4 <= len) {
		int hl = (buf[s->l3_off] & 15) * 4;

		buf[s->l3_off + 10] = buf[s->l3_off + 11] = 0;
		n = (__u16)~fold(sum16(0, buf + s->l3_off, hl));
		buf[s->l3_off + 10] = (__u8)(n >> 8);
		buf[s->l3_off + 11] = (__u8)n;
	}
	return len < 14 ? 14 : len;
}

/* ---- running ---- */

static __u64 runs, checked, changed_n, refused, changed_prog[16], icmp_changed;

static void hex(const char *what, const __u8 *p, int len)
{
	int i;

	printf("    %s (%d bytes):", what, len);
	for (i = 0; i < len; i++)
		printf("%s%02x", i % 32 ? "" : "\n      ", p[i]);
	printf("\n");
}

/* The counters a frame moves, for a failure's report: it runs once more. */
static void stats_sum(int fd, __u64 *out)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	__u64 v[512];
	__u32 k;

	for (k = 0; k < CRBPF_ST__MAX; k++) {
		out[k] = 0;
		if (ncpu > 512 || bpf_map_lookup_elem(fd, &k, v))
			continue;
		for (c = 0; c < ncpu; c++)
			out[k] += v[c];
	}
}

static bool run_one(int pi, __u32 flags, const __u8 *in, int len, __u8 *out,
		    int *out_len, int *verdict);

static void why_counted(int pi, __u32 flags, const __u8 *in, int len)
{
	static __u8 out[PKT_MAX * 2];
	__u64 a[CRBPF_ST__MAX], b[CRBPF_ST__MAX];
	int fd = pi >= 5 ? -1 : edge_map_fd("crbpf_stats"), k, ol, v;
	char saved[sizeof(why)];

	if (fd < 0)
		return;
	memcpy(saved, why, sizeof(why));
	stats_sum(fd, a);
	run_one(pi, flags, in, len, out, &ol, &v);
	stats_sum(fd, b);
	printf("    counted (run again):");
	for (k = 0; k < CRBPF_ST__MAX; k++)
		if (a[k] != b[k])
			printf(" %s", crbpf_stat_names[k]);
	printf("\n");
	memcpy(why, saved, sizeof(why));
}

static void save_repro(__u64 seed, __u64 iter, int pi, __u32 flags, const __u8 *in,
		       int len)
{
	const char *dir = getenv("FUZZ_REPRO_DIR") ?: "build/fuzz-repro";
	char path[512];
	FILE *f;
	int i;

	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/%s-%llu-%llu.hex", dir, progs[pi].name,
		 (unsigned long long)seed, (unsigned long long)iter);
	f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "# build/unit_tests --fuzz-replay %s\nprog %s\nflags %u\n", path,
		progs[pi].name, flags);
	for (i = 0; i < len; i++)
		fprintf(f, "%02x", in[i]);
	fprintf(f, "\n");
	fclose(f);
	printf("    reproducer: %s\n", path);
}

static bool csum_complete_ok = true; /* the kernel takes the flag */

/* Runs one frame and checks it; false with why[] set on a failure. */
static bool run_one(int pi, __u32 flags, const __u8 *in, int len, __u8 *out,
		    int *out_len, int *verdict)
{
	static struct view vin, vout;
	static struct view qin, qout;
	const struct mdl_map *m = NULL;
	struct __sk_buff skb = {};
	struct xdp_md xdp = {};
	bool xdp_prog = progs[pi].xdp, l3only = progs[pi].l3only, changed;
	struct crbpf_unit_redirect *redir;
	enum own own = OWN_NOT;
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int err;

	opts.data_in = in;
	opts.data_size_in = len;
	opts.data_out = out;
	opts.data_size_out = PKT_MAX * 2;
	opts.flags = flags;
	if (xdp_prog) {
		xdp.data_end = len;
		xdp.ingress_ifindex = topo.ifindex[progs[pi].dev];
		opts.ctx_in = &xdp;
		opts.ctx_size_in = sizeof(xdp);
	} else {
		skb.ifindex = skb.ingress_ifindex = topo.ifindex[progs[pi].dev];
		opts.ctx_in = &skb;
		opts.ctx_size_in = sizeof(skb);
	}
	*out_len = 0;
	*verdict = 0;
	redir = unit_redirect_seen(progs[pi].prog);
	memset(redir, 0, sizeof(*redir));
	err = bpf_prog_test_run_opts(unit_prog_fd(progs[pi].prog), &opts);
	runs++;
	if (err) {
		err = -errno;
		/* test_run wants the IP header skb->protocol names (the frame's
		 * bytes 12-13) whole in a tc frame; a shorter one never runs */
		if (err == -EINVAL && !xdp_prog &&
		    len < 14 + (rd16(in + 12) == 0x86dd ? 40 : rd16(in + 12) == 0x0800 ? 20 : 0)) {
			refused++;
			return true;
		}
		if (err == -EBADMSG)
			return BAD("skb->csum disagrees with the packet after the run (EBADMSG)");
		return BAD("BPF_PROG_TEST_RUN: %s", strerror(-err));
	}
	*out_len = opts.data_size_out;
	*verdict = (int)opts.retval;
	checked++;
	if (!verdict_valid(xdp_prog, *verdict))
		return BAD("verdict %d is none the program returns", *verdict);

	parse_frame(in, len, l3only, &vin);
	if (vin.q) {
		qin = *vin.q;
		vin.q = &qin;
	}
	changed = *out_len != len || memcmp(in, out, len) ||
		  !(verdict_pass(xdp_prog, *verdict) || verdict_drop(xdp_prog, *verdict));
	switch (progs[pi].prog) {
	case P_EDGE_XDP:
	case P_EDGE_TC:
		own = own_fwd(&vin, &m);
		break;
	case P_REV_TC:
	case P_TUN_TC:
		own = own_rev(&vin);
		break;
	case P_HOME_OUT:
		own = vin.family && vin.hdr_ok ? OWN_MAYBE : OWN_NOT;
		break;
	default:
		own = OWN_NOT; /* home_tun, home_srv only learn and mark */
		break;
	}
	/* crbpf_rev_tc/crbpf_tun_tc drop IPv6 UDP without a checksum from
	 * the backend side: forwarded as it is, every receiver drops it
	 * (CRBPF_ST_DROP_INVALID); it must still not change */
	if (own == OWN_NOT && vin.udp6_zero && !xdp_prog &&
	    (progs[pi].prog == P_REV_TC || progs[pi].prog == P_TUN_TC) &&
	    verdict_drop(false, *verdict))
		own = OWN_MAYBE;
	if (own == OWN_NOT) {
		if (!verdict_pass(xdp_prog, *verdict))
			return BAD("a packet crbpf does not own got verdict %d", *verdict);
		if (changed)
			return BAD("a packet crbpf does not own was changed");
		return true;
	}
	if (!changed)
		return true;
	changed_n++;
	changed_prog[pi]++;
	icmp_changed += vin.icmp_err;
	parse_frame(out, *out_len,
		    l3only && *out_len != len + 14 && (out[0] >> 4) != 0, &vout);
	if (vout.q) {
		qout = *vout.q;
		vout.q = &qout;
	}
	if (!vout.family)
		return BAD("changed output is not an IP packet");
	switch (progs[pi].prog) {
	case P_EDGE_XDP:
	case P_EDGE_TC:
		if (!check_fwd(&vin, &vout, own, m))
			return false;
		break;
	case P_HOME_OUT:
		if (!check_home_out(&vin, &vout))
			return false;
		break;
	default:
		if (!check_rev(&vin, &vout, own))
			return false;
		break;
	}
	if (!check_target(pi, *verdict, redir, m, &vout))
		return false;
	return check_csums(&vin, &vout);
}

static int pick_flags(int pi, const __u8 *in, int len)
{
	struct view v;

	if (progs[pi].xdp || !csum_complete_ok || chance(50))
		return 0;
	/* test_run (net/bpf/test_run.c) sets skb->csum to the sum from
	 * skb_network_offset() (14: after the bytes eth_type_trans() took) to
	 * the end, and after the run fails with EBADMSG unless skb->csum still
	 * folds to that sum of the bytes. With a VLAN tag in the data, the
	 * tag's TCI lies inside that range and a pop adjusts skb->csum for
	 * TPID+TCI; on an l3only frame the range starts inside the IP
	 * header. Neither is the layout a real tc hook sees (the stack has
	 * untagged the skb; a tunnel's skb->csum starts at the IP header). */
	parse_frame(in, len, progs[pi].l3only, &v);
	if (progs[pi].l3only || v.ntags)
		return 0;
	return BPF_F_TEST_SKB_CHECKSUM_COMPLETE;
}

int fuzz_main(int argc, char **argv)
{
	static __u8 in[PKT_MAX], out[PKT_MAX * 2];
	__u64 seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 0, iter;
	double secs = argc > 0 ? atof(argv[0]) : 60;
	struct timespec t0, t;
	time_t last_socks = 0;
	__u64 per_prog[N_PROGS] = {}, st[CRBPF_ST__MAX];
	int failures = 0, pi;

	if (!seed) {
		clock_gettime(CLOCK_REALTIME, &t0);
		seed = (__u64)t0.tv_sec * 1000003ULL ^ (__u64)t0.tv_nsec;
	}
	rng = seed ? seed : 1;
	printf("# fuzz-packets: seed %llu, %.0f s (build/unit_tests --fuzz %.0f %llu repeats it)\n",
	       (unsigned long long)seed, secs, secs, (unsigned long long)seed);
	if (unit_fuzz_setup()) {
		printf("[fuzz-packets] FAIL (objects or maps not set up)\n");
		return 1;
	}
	model_load();
	printf("# fuzz-packets: model of %d crbpf_ports entries, %d exceptions, %d local addresses, %d sockets\n",
	       n_mdl, n_except, n_local, n_socks);
	{
		/* does this kernel know BPF_F_TEST_SKB_CHECKSUM_COMPLETE? */
		struct pkt_spec s = { .dev = DEV_PUB, UDP4(CLI4, 1, "192.0.2.9", 2) };
		int l = pkt_build(&s, in), ol, v;

		if (!run_one(1, BPF_F_TEST_SKB_CHECKSUM_COMPLETE, in, l, out, &ol, &v) &&
		    strstr(why, "Invalid argument")) {
			csum_complete_ok = false;
			printf("# fuzz-packets: kernel lacks BPF_F_TEST_SKB_CHECKSUM_COMPLETE: runs without it\n");
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (iter = 0;; iter++) {
		struct pkt_spec s;
		int len, out_len, verdict;
		__u32 flags;

		if (!(iter & 63)) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 >= secs)
				break;
			if (t.tv_sec != last_socks) {
				model_socks();
				last_socks = t.tv_sec;
			}
		}
		pi = below(N_PROGS);
		len = gen_frame(pi, in, &s);
		flags = pick_flags(pi, in, len);
		per_prog[pi]++;
		if (run_one(pi, flags, in, len, out, &out_len, &verdict))
			continue;
		/* a socket that closed since the last read: judge once more */
		if (model_socks() &&
		    run_one(pi, flags, in, len, out, &out_len, &verdict))
			continue;
		failures++;
		printf("# fuzz-packets: FAILURE seed %llu iteration %llu: %s%s: %s (verdict %d)\n",
		       (unsigned long long)seed, (unsigned long long)iter, progs[pi].name,
		       flags ? " +CHECKSUM_COMPLETE" : "", why, verdict);
		hex("input", in, len);
		hex("output", out, out_len);
		why_counted(pi, flags, in, len);
		save_repro(seed, iter, pi, flags, in, len);
		if (failures >= 5)
			break;
	}
	for (pi = 0; pi < N_PROGS; pi++)
		printf("# fuzz-packets: %s: %llu frames, %llu changed\n", progs[pi].name,
		       (unsigned long long)per_prog[pi],
		       (unsigned long long)changed_prog[pi]);
	/* what the programs made of them: the edge object's counters */
	stats_sum(edge_map_fd("crbpf_stats"), st);
	printf("# fuzz-packets: edge counters:");
	for (pi = 0; pi < CRBPF_ST__MAX; pi++)
		if (st[pi])
			printf(" %s=%llu", crbpf_stat_names[pi], (unsigned long long)st[pi]);
	printf("\n");
	printf("# fuzz-packets: %llu runs, %llu outputs checked, %llu changed (translated) outputs verified (%llu ICMP errors), %llu frames too short for test_run\n",
	       (unsigned long long)runs, (unsigned long long)checked,
	       (unsigned long long)changed_n, (unsigned long long)icmp_changed,
	       (unsigned long long)refused);
	if (failures)
		printf("[fuzz-packets] FAIL (%d failing frames, seed %llu)\n", failures,
		       (unsigned long long)seed);
	else
		printf("[fuzz-packets] PASS (%llu runs, %llu outputs checked)\n",
		       (unsigned long long)runs, (unsigned long long)checked);
	return failures ? 1 : 0;
}

/* One saved frame through its program again, with the same checks. */
int fuzz_replay(const char *path)
{
	static __u8 in[PKT_MAX], out[PKT_MAX * 2];
	char line[PKT_MAX * 2 + 64], name[64] = "";
	unsigned int flags = 0;
	int len = 0, out_len, verdict, pi;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "fuzz: %s: %s\n", path, strerror(errno));
		return 2;
	}
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#')
			continue;
		if (sscanf(line, "prog %63s", name) == 1 || sscanf(line, "flags %u", &flags) == 1)
			continue;
		for (len = 0; len < PKT_MAX && sscanf(line + 2 * len, "%2hhx", &in[len]) == 1; len++)
			;
	}
	fclose(f);
	for (pi = 0; pi < N_PROGS && strcmp(progs[pi].name, name); pi++)
		;
	if (pi == N_PROGS || len < 14) {
		fprintf(stderr, "fuzz: %s: no program or frame in it\n", path);
		return 2;
	}
	if (unit_fuzz_setup())
		return 1;
	model_load();
	if (run_one(pi, flags, in, len, out, &out_len, &verdict)) {
		printf("[fuzz-replay] PASS (%s, verdict %d)\n", name, verdict);
		return 0;
	}
	printf("[fuzz-replay] FAIL (%s: %s, verdict %d)\n", name, why, verdict);
	hex("input", in, len);
	hex("output", out, out_len);
	return 1;
}
