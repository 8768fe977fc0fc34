/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IP fragments of mapped traffic (edge, tc only).
 *
 * Only the first fragment (offset 0) carries the ports, so it decides the
 * mapping as an unfragmented packet would, and the decision is remembered in
 * crbpf_frags under (source, destination, IP id, protocol, family); the
 * later fragments of that datagram find it there and get only their address
 * rewritten (the L4 checksum lives in the first fragment, and its update for
 * the address and port change is right for the whole datagram).
 *
 * A later fragment that arrives before its first (reordering) has no entry
 * yet. It is sent on when the address pair alone answers: every flow that
 * client has through that public address leads to one backend address
 * (forward), every flow between that backend and client to one public
 * address (reverse). The pair entries (crbpf_fragpairs) are written when a
 * flow is created and confirmed by every translated first fragment, and only
 * for mapped traffic; one unconfirmed for CRBPF_FRAG_PAIR_TIMEOUT_NS is gone,
 * and `crbpf port del` removes those of the backends it unmaps. Without a
 * pair entry the fragment is no part of mapped traffic (the VPS's own, or
 * home traffic the VPS routes) and passes untouched; with an ambiguous one
 * it is dropped and counted. A pair is ambiguous for
 * CRBPF_FRAG_PAIR_TIMEOUT_NS after its last contradiction (a second answer,
 * or a first fragment of the VPS's own), then gone until traffic confirms it
 * again: a spoofed packet cannot mark a client for good. The decision is
 * remembered like a first fragment's, so the rest of the datagram follows
 * the same way.
 *
 * Datagram entries are written for mapped datagrams; one that says "pass" (a
 * first fragment of the VPS's own) only when a pair or an earlier guess
 * would otherwise steer the rest, and one that says "drop" when the first
 * fragment was a reply crbpf could not translate (its rest must not leave
 * untranslated either).
 *
 * XDP leaves every fragment to tc: fragments are rare, tc must handle them
 * anyway for layer-3 backends, and one implementation is one to verify.
 * The tc programs' parser (parse_skb() with frags, parsing.h) tells which
 * fragment a packet is (struct pkt's frag, frag_id); this file holds only
 * what follows from that.
 */
#ifndef CRBPF_FRAG_H
#define CRBPF_FRAG_H

#include "edge_maps.h"
#include "parsing.h"

/* A datagram entry older than the kernel's reassembly timeout (ipfrag_time,
 * 30 s) belongs to a datagram no receiver still waits for: the 16-bit IPv4
 * id wraps, and an old decision must not steer a new datagram. */
#define CRBPF_FRAG_TIMEOUT_NS (30ULL * 1000000000ULL)
/* A pair entry lives this long after the traffic that last confirmed it (a
 * new flow, a translated first fragment): twice the reassembly timeout, so a
 * flow's fragmented datagrams a few seconds apart keep it; an ambiguous one
 * this long after its last contradiction. */
#define CRBPF_FRAG_PAIR_TIMEOUT_NS (60ULL * 1000000000ULL)
/* A live pair is confirmed (written) at most this often. */
#define CRBPF_FRAG_PAIR_STEP_NS 1000000000ULL

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRBPF_MAX_FRAGS);
	__type(key, struct crbpf_frag_key);
	__type(value, struct crbpf_frag);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_frags SEC(".maps");

/* Named in at most 15 characters, as every pinned map: the tool lists the
 * pins it removes by kernel map name (BPF_OBJ_NAME_LEN). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRBPF_MAX_FRAG_PAIRS);
	__type(key, struct crbpf_frag_key);
	__type(value, struct crbpf_frag);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} crbpf_fragpairs SEC(".maps");

static __always_inline void frag_key(struct crbpf_frag_key *k, __u8 kind,
				     __u8 family, __u8 proto,
				     const __be32 *src, const __be32 *dst,
				     __be32 id)
{
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->src, src, sizeof(k->src));
	__builtin_memcpy(k->dst, dst, sizeof(k->dst));
	k->id = id;
	k->family = family;
	k->proto = proto;
	k->kind = kind;
}

static __always_inline void frag_datagram_key(struct crbpf_frag_key *k,
					      __u8 kind, const struct pkt *p)
{
	frag_key(k, kind, p->family, p->proto, p->saddr, p->daddr, p->frag_id);
}

static __always_inline bool frag_pair_stale(const struct crbpf_frag *v,
					   __u64 now)
{
	return now > v->written_ns &&
	       now - v->written_ns > CRBPF_FRAG_PAIR_TIMEOUT_NS;
}

/* The live pair entry under k, or NULL. */
static __always_inline struct crbpf_frag *
frag_pair_get(const struct crbpf_frag_key *k, __u64 now)
{
	struct crbpf_frag *cur = bpf_map_lookup_elem(&crbpf_fragpairs, k);

	if (cur && frag_pair_stale(cur, now))
		return NULL;
	return cur;
}

/* Mapped traffic confirms the pair's answer v (written_ns unset). Lookup
 * first, as record_flow(): an LRU update of an existing key would churn the
 * free lists. A pair that meets a second answer is ambiguous from now on
 * (and keeps the newer answer for when that ends); a stale one starts over. */
static __always_inline void frag_pair_put(const struct crbpf_frag_key *k,
					  struct crbpf_frag *v, __u64 now)
{
	struct crbpf_frag *cur = bpf_map_lookup_elem(&crbpf_fragpairs, k);

	v->written_ns = now;
	if (!cur) {
		bpf_map_update_elem(&crbpf_fragpairs, k, v, BPF_NOEXIST);
		return;
	}
	if (frag_pair_stale(cur, now)) {
		*cur = *v;
		return;
	}
	if (!addr_eq(cur->addr, v->addr) || cur->ifindex != v->ifindex) {
		v->flags |= CRBPF_FRAG_AMBIGUOUS;
		*cur = *v;
		return;
	}
	/* an ambiguous pair ages from its last contradiction */
	if (!(cur->flags & CRBPF_FRAG_AMBIGUOUS) &&
	    now - cur->written_ns >= CRBPF_FRAG_PAIR_STEP_NS)
		cur->written_ns = now;
}

/* Client p->saddr reached backend be through public address p->daddr. */
static __always_inline void frag_pair_fwd_note(const struct pkt *p,
					       const struct crbpf_backend *be,
					       __u64 now)
{
	struct crbpf_frag_key k;
	struct crbpf_frag v;

	frag_key(&k, CRBPF_FRAG_PAIR_FWD, p->family, p->proto, p->saddr,
		 p->daddr, 0);
	__builtin_memset(&v, 0, sizeof(v));
	__builtin_memcpy(v.addr, be->addr, sizeof(v.addr));
	v.ifindex = be->ifindex;
	v.flags = be->flags & CRBPF_BE_L2;
	frag_pair_put(&k, &v, now);
}

/* Backend reached client through public address public_addr on ifindex. */
static __always_inline void frag_pair_rev_note(__u8 family, __u8 proto,
					       const __be32 *backend,
					       const __be32 *client,
					       const __be32 *public_addr,
					       __u32 ifindex, __u64 now)
{
	struct crbpf_frag_key k;
	struct crbpf_frag v;

	frag_key(&k, CRBPF_FRAG_PAIR_REV, family, proto, backend, client, 0);
	__builtin_memset(&v, 0, sizeof(v));
	__builtin_memcpy(v.addr, public_addr, sizeof(v.addr));
	v.ifindex = ifindex;
	frag_pair_put(&k, &v, now);
}

/* A flow was created or a first fragment translated: client p->saddr
 * reached backend be through public address p->daddr on ifindex. */
static __always_inline void frag_pair_note(const struct pkt *p,
					   const struct crbpf_backend *be,
					   __u32 ifindex, __u64 now)
{
	frag_pair_fwd_note(p, be, now);
	frag_pair_rev_note(p->family, p->proto, be->addr, p->saddr, p->daddr,
			   ifindex, now);
}

/* Something other than the pair's answer went on between them (a first
 * fragment of the VPS's own): a live pair becomes ambiguous for a while.
 * Whether there was a live pair. */
static __always_inline bool frag_pair_contradict(const struct crbpf_frag_key *k,
						 __u64 now)
{
	struct crbpf_frag *pair = frag_pair_get(k, now);

	if (!pair)
		return false;
	pair->flags |= CRBPF_FRAG_AMBIGUOUS;
	pair->written_ns = now;
	return true;
}

/* The datagram entry under k, unless it has outlived its datagram. */
static __always_inline struct crbpf_frag *
frag_datagram_get(const struct crbpf_frag_key *k, __u64 now)
{
	struct crbpf_frag *cur = bpf_map_lookup_elem(&crbpf_frags, k);

	if (cur && now - cur->written_ns > CRBPF_FRAG_TIMEOUT_NS)
		return NULL;
	return cur;
}

/* Remembers the first fragment's decision for the rest of its datagram;
 * counts an earlier guess from the address pair that it contradicts.
 * !create: only an entry there already (a guess) is replaced. */
static __always_inline void frag_remember(const struct crbpf_frag_key *k,
					  struct crbpf_frag *v, __u64 now,
					  bool create)
{
	struct crbpf_frag *cur;

	v->written_ns = now;
	cur = bpf_map_lookup_elem(&crbpf_frags, k);
	if (cur) {
		if (v->written_ns - cur->written_ns <= CRBPF_FRAG_TIMEOUT_NS &&
		    (cur->flags & CRBPF_FRAG_GUESS) &&
		    (!addr_eq(cur->addr, v->addr) ||
		     (v->flags & CRBPF_FRAG_PASS)))
			count(CRBPF_ST_FRAG_EARLY_WRONG);
		*cur = *v;
		return;
	}
	if (create)
		bpf_map_update_elem(&crbpf_frags, k, v, BPF_ANY);
}

/*
 * Forward direction, first fragment: ret is lookup_mapping()'s answer. A
 * mapped one confirms the address pairs. A fragment to an unmapped port of
 * a public address is the VPS's own: the rest of it passes too, and the
 * client's address pair, if it has one, does not answer for early fragments
 * for a while (it has fragmented traffic of both kinds). Without a pair
 * nothing would steer the rest: no entry is written for it.
 */
static __always_inline void frag_first_fwd(const struct pkt *p, int ret,
					   const struct crbpf_port_key *pk,
					   const struct crbpf_backend *be)
{
	__u64 now = bpf_ktime_get_ns();
	struct crbpf_frag_key k;
	struct crbpf_frag v;
	bool create = true;

	/* What an `all` entry leaves alone passes like an unmapped port. */
	if (ret != PKT_OK && ret != CRBPF_ST_PASS_NO_MAPPING &&
	    ret != CRBPF_ST_PASS_EXCEPT && ret != CRBPF_ST_PASS_LOCAL_SOCK)
		return;
	__builtin_memset(&v, 0, sizeof(v));
	if (ret == PKT_OK) {
		__builtin_memcpy(v.addr, be->addr, sizeof(v.addr));
		v.ifindex = be->ifindex;
		v.mapping = be->mapping;
		v.flags = be->flags & CRBPF_BE_L2;
		count(CRBPF_ST_FRAG_FIRST);
		frag_pair_note(p, be, pk->ifindex, now);
	} else {
		v.flags = CRBPF_FRAG_PASS;
		frag_key(&k, CRBPF_FRAG_PAIR_FWD, p->family, p->proto, p->saddr,
			 p->daddr, 0);
		create = frag_pair_contradict(&k, now);
	}
	frag_datagram_key(&k, CRBPF_FRAG_FWD, p);
	frag_remember(&k, &v, now, create);
}

/* The address pair's answer for a fragment ahead of its first: PKT_OK with
 * *v filled (and remembered for the datagram), or the reason to pass/drop. */
static __always_inline int frag_early(const struct pkt *p, __u8 kind,
				      const __be32 *a, const __be32 *b,
				      struct crbpf_frag *v)
{
	__u64 now = bpf_ktime_get_ns();
	struct crbpf_frag_key k;
	struct crbpf_frag *pair;

	frag_key(&k, kind, p->family, p->proto, a, b, 0);
	pair = frag_pair_get(&k, now);
	if (!pair)
		return CRBPF_ST_PASS_FRAGMENT;
	if (pair->flags & CRBPF_FRAG_AMBIGUOUS)
		return CRBPF_ST_DROP_FRAG_AMBIGUOUS;
	*v = *pair;
	v->flags |= CRBPF_FRAG_GUESS;
	v->mapping = 0;
	v->written_ns = now;
	frag_datagram_key(&k, kind == CRBPF_FRAG_PAIR_FWD ? CRBPF_FRAG_FWD :
							    CRBPF_FRAG_REV,
			  p);
	bpf_map_update_elem(&crbpf_frags, &k, v, BPF_ANY);
	count(CRBPF_ST_FRAG_EARLY);
	return PKT_OK;
}

static __always_inline bool frag_is_local(const struct pkt *p)
{
	struct crbpf_addr_key ak;

	__builtin_memset(&ak, 0, sizeof(ak));
	ak.family = p->family;
	__builtin_memcpy(ak.addr, p->daddr, sizeof(ak.addr));
	return bpf_map_lookup_elem(&crbpf_local, &ak);
}

/*
 * Forward direction, later fragment: where its first fragment went, or the
 * address pair's answer. Fills be (port 0: nothing to rewrite; mapping 0,
 * not counted, when only the pair answered) and pk. Returns
 * PKT_OK, a reason to pass, or CRBPF_ST_DROP_FRAG_AMBIGUOUS.
 */
static __always_inline int frag_later_fwd(const struct pkt *p, __u32 ifindex,
					  struct crbpf_port_key *pk,
					  struct crbpf_backend *be)
{
	struct crbpf_frag_key k;
	struct crbpf_frag *cur, v;
	int ret;

	if (!frag_is_local(p))
		return CRBPF_ST_PASS_NOT_LOCAL;
	frag_datagram_key(&k, CRBPF_FRAG_FWD, p);
	cur = frag_datagram_get(&k, bpf_ktime_get_ns());
	if (cur) {
		if (cur->flags & CRBPF_FRAG_PASS)
			return CRBPF_ST_PASS_FRAGMENT;
		v = *cur;
		count(CRBPF_ST_FRAG_FOLLOW);
	} else {
		ret = frag_early(p, CRBPF_FRAG_PAIR_FWD, p->saddr, p->daddr,
				 &v);
		if (ret != PKT_OK)
			return ret;
	}
	__builtin_memset(be, 0, sizeof(*be));
	__builtin_memcpy(be->addr, v.addr, sizeof(be->addr));
	be->ifindex = v.ifindex;
	be->flags = v.flags & CRBPF_BE_L2;
	be->mapping = v.mapping;
	__builtin_memset(pk, 0, sizeof(*pk));
	pk->ifindex = ifindex;
	pk->family = p->family;
	pk->proto = p->proto;
	return PKT_OK;
}

/* Reverse direction, first fragment: ret is lookup_reverse()'s answer
 * (after rev_no_xlate()). Not a reply: the rest passes too (an entry only
 * where a pair would steer it). A reply crbpf cannot translate is dropped:
 * so is the rest, which the stack would forward with the backend's source.
 * A translated one confirms the pair. */
static __always_inline void frag_first_rev(const struct pkt *p, int ret,
					   const __be32 *public_addr,
					   __u32 mapping, __u32 ifindex)
{
	__u64 now = bpf_ktime_get_ns();
	struct crbpf_frag_key k;
	struct crbpf_frag v;
	bool create = true;

	__builtin_memset(&v, 0, sizeof(v));
	if (ret == CRBPF_ST_PASS_REV_MISS) {
		v.flags = CRBPF_FRAG_PASS;
		frag_key(&k, CRBPF_FRAG_PAIR_REV, p->family, p->proto, p->saddr,
			 p->daddr, 0);
		create = frag_pair_get(&k, now);
	} else if (ret == CRBPF_ST_DROP_NO_XLATE) {
		v.flags = CRBPF_FRAG_DROP;
	} else {
		__builtin_memcpy(v.addr, public_addr, sizeof(v.addr));
		v.ifindex = ifindex;
		v.mapping = mapping;
		count(CRBPF_ST_FRAG_FIRST);
		frag_pair_rev_note(p->family, p->proto, p->saddr, p->daddr,
				   public_addr, ifindex, now);
	}
	frag_datagram_key(&k, CRBPF_FRAG_REV, p);
	frag_remember(&k, &v, now, create);
}

/* Reverse direction, later fragment: the public address it leaves with and
 * the mapping it counts for. Returns as frag_later_fwd(), or
 * CRBPF_ST_DROP_NO_XLATE when its first fragment was dropped as such. */
static __always_inline int frag_later_rev(const struct pkt *p,
					  __be32 *public_addr,
					  __u32 *mapping, __u32 *ifindex)
{
	struct crbpf_frag_key k;
	struct crbpf_frag *cur, v;
	int ret;

	frag_datagram_key(&k, CRBPF_FRAG_REV, p);
	cur = frag_datagram_get(&k, bpf_ktime_get_ns());
	if (cur) {
		if (cur->flags & CRBPF_FRAG_DROP)
			return CRBPF_ST_DROP_NO_XLATE;
		if (cur->flags & CRBPF_FRAG_PASS)
			return CRBPF_ST_PASS_FRAGMENT;
		v = *cur;
		count(CRBPF_ST_FRAG_FOLLOW);
	} else {
		ret = frag_early(p, CRBPF_FRAG_PAIR_REV, p->saddr, p->daddr,
				 &v);
		if (ret != PKT_OK)
			return ret;
	}
	__builtin_memcpy(public_addr, v.addr, sizeof(v.addr));
	*mapping = v.mapping;
	*ifindex = v.ifindex;
	return PKT_OK;
}

#endif /* CRBPF_FRAG_H */
