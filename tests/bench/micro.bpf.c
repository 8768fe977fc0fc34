// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Harness for the BPF_PROG_TEST_RUN micro-benchmark (microbench.c).
 * A repeated test run reuses one buffer without resetting it, so after the
 * first pass the edge program would see its own rewritten output (a miss).
 * crb_micro restores the headers from a template, then tail-calls the
 * program under test; crb_null stands in for it to measure the harness,
 * whose cost is subtracted. crb_micro_cycle does the same from a table of
 * templates, the next one each run: many flows, so the program's map
 * lookups miss the CPU caches as they do under real traffic.
 *
 * crb_micro_tc and crb_null_tc are the same for tc programs: a tc test run
 * does not reset the skb between repeats either. Their template is slot 1
 * of micro_tmpl, their prog array a separate one. The
 * restore covers the whole frame microbench sends (MICRO_HDR bytes); a frame
 * of another length means a program changed its size, and the harness then
 * returns MICRO_BROKEN, which no program returns, instead of running it.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#define MICRO_HDR 64 /* bytes restored: Ethernet + IPv4/IPv6 + UDP fit */
#define MICRO_BROKEN 0x7e57 /* no XDP or tc verdict; microbench.c checks */

struct micro_tmpl {
	__u8 bytes[MICRO_HDR];
};

/* [0]: the frame crb_micro restores, [1]: crb_micro_tc's */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct micro_tmpl);
} micro_tmpl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} micro_jmp SEC(".maps");

/* Restore the frame from template t, then run the program under test
 * through prog array jmp; for XDP and tc contexts alike. len is the frame's
 * length now: a program that moved data (adjust_head) leaves it moved, and
 * the harness then returns broken instead. */
#define RUN_FROM(ctx, len, t, jmp, broken)                                     \
	({                                                                     \
		const struct micro_tmpl *t_ = (t);                             \
		void *data_ = (void *)(long)(ctx)->data;                       \
		void *end_ = (void *)(long)(ctx)->data_end;                    \
                                                                               \
		if (t_ && (len) == MICRO_HDR && data_ + MICRO_HDR <= end_) {   \
			__builtin_memcpy(data_, t_->bytes, MICRO_HDR);         \
			bpf_tail_call((ctx), (jmp), 0);                        \
		}                                                              \
		(broken);                                                      \
	})

static __always_inline int run_from(struct xdp_md *ctx, const struct micro_tmpl *t)
{
	return RUN_FROM(ctx, ctx->data_end - ctx->data, t, &micro_jmp, XDP_ABORTED);
}

SEC("xdp")
int crb_micro(struct xdp_md *ctx)
{
	__u32 zero = 0;

	return run_from(ctx, bpf_map_lookup_elem(&micro_tmpl, &zero));
}

/* Sized by user space before load: one frame per flow. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct micro_tmpl);
} micro_cycle SEC(".maps");

__u32 cycle_n;
__u32 cycle_next;

SEC("xdp")
int crb_micro_cycle(struct xdp_md *ctx)
{
	__u32 i = cycle_next;

	if (i >= cycle_n)
		i = 0;
	cycle_next = i + 1;
	return run_from(ctx, bpf_map_lookup_elem(&micro_cycle, &i));
}

SEC("xdp")
int crb_null(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* The tc side: a prog array holds programs of one type only. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} micro_jmp_tc SEC(".maps");

SEC("tc")
int crb_micro_tc(struct __sk_buff *skb)
{
	__u32 one = 1;

	return RUN_FROM(skb, skb->len, bpf_map_lookup_elem(&micro_tmpl, &one),
			&micro_jmp_tc, MICRO_BROKEN);
}

SEC("tc")
int crb_null_tc(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
