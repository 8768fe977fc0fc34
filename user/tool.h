/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Internal interfaces of the crbpf tool. Every tool source includes this
 * first: <net/if.h> must come before the linux/if_link.h family.
 * Functions return 0 or -errno unless noted; USAGE (positive) means "bad
 * command line", which main maps to exit 2.
 *
 * Layers, each file calling only files below it (tests/integration/
 * 23_layers.sh fails on a cycle): main; the commands (watch, apply, conf,
 * doctor, status, flows, stats, port, home, edge, match); maps.c, the map
 * layer; model.c, the mapping rules, which call nothing of the tool and no
 * kernel; at the bottom link, probe, pin, undo, timeouts, nl, wg, parse,
 * log. */
#ifndef CRBPF_TOOL_H
#define CRBPF_TOOL_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <linux/types.h>
#include "crbpf.h"

#define USAGE 2

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Not in the 6.1 UAPI headers this is built against. */
#ifndef BPF_TCX_INGRESS
#define BPF_TCX_INGRESS 46
#define BPF_TCX_EGRESS 47
#endif
/* clsact fallback for kernels without tcx: detach finds our filter by these. */
#define CRBPF_TC_HANDLE 0xcb
#define CRBPF_TC_PRIO 0xcb
/* Priority of crbpf's ip rules and metric of its routes. */
#define CRBPF_RULE_PRIO 1203

/* log.c */
extern int verbose;
void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_setup_libbpf(void);
void log_where(const char *file, int line);

/* main.c */
void usage(FILE *f);

/* util (parse.c) */
struct addr {
	__u8 family; /* CRBPF_V4 | CRBPF_V6 */
	__be32 a[4];
};
int parse_port_range(const char *s, __u16 *first, __u16 *last);
int parse_proto(const char *s, __u8 *proto);
int parse_backend(const char *s, struct addr *addr, __u16 *port);
int parse_u32(const char *s, __u32 *v);
int parse_flows(const char *what, const char *s, __u32 *v);
int parse_iface(const char *s);
int af_of(__u8 family);
__u8 family_of_af(int af);
const char *addr_str(const struct addr *a, char *buf, size_t len);
const char *proto_str(__u8 proto);
const char *family_str(__u8 family);
int resolve_iface(const char *name, int *ifindex);
bool if_is_up(const char *name);
bool addr_is_private(const struct addr *a);
void port_set_text(const __u8 *bits, char *buf, size_t len);
const char *ifname(int ifindex, char *buf);
void json_str(FILE *f, const char *s);

struct undo;
struct bpf_object;

/* pin.c */
#define PIN_ROOT_MAX 1024
extern char pin_root[PIN_ROOT_MAX];
int pin_root_resolve(void);
int pin_init(void);
/* Why a pin root is unsafe, and what to do about it. */
struct pin_why {
	char what[PATH_MAX + 128];
	char fix[2 * PATH_MAX + 64];
};
int pin_root_check(struct pin_why *w);
bool on_bpffs(const char *path);
int pin_path(char *buf, size_t len, const char *dir, const char *kind,
	     const char *dev);
bool pin_exists(const char *path);
int pin_dirs_create(struct undo *u);
void pin_dirs_remove_if_empty(void);
void pin_unlock(void);
int pin_record_store(const char *dir, const char *name, const char *map_name,
		     const void *val, __u32 len);
int pin_record_load(const char *dir, const char *name, void *val, __u32 len);
int pin_map_open(const char *name);
int pin_map_open_quiet(const char *name);
typedef int (*pin_iter_cb)(const char *dev, const char *path, void *data);
int pin_iter(const char *kind, pin_iter_cb cb, void *data);
int pin_count(const char *kind);
int pin_names(const char *kind, char names[][IF_NAMESIZE * 2], int max);
void pin_name_decode(const char *enc, char *dev, size_t len);
int pin_unlink(const char *path);
int need_root(void);
int tool_prepare(void);
int tool_prepare_read(void);
/* What is attached, from the pins alone. */
int edge_attached_count(char *only, size_t len);
int edge_is_attached(const char *dev);
int home_attached_count(void);

/* undo.c: journal of changes, replayed backwards on failure. A journal
 * opened while another is open is part of it (apply around port add). While
 * one is open, SIGINT/SIGTERM/SIGHUP/SIGQUIT make undo_map() and
 * undo_check() return -EINTR, until undo_no_return(). */
struct undo *undo_new(void);
int undo_check(struct undo *u);
int undo_interrupted(void);
void undo_no_return(void);
bool undo_nested(const struct undo *u);
int undo_map(struct undo *u, int map_fd, const void *key, size_t ksz,
	     size_t vsz);
int undo_unpin(struct undo *u, const char *path);
int undo_unlink_dir(struct undo *u, const char *path);
int undo_link_prog(struct undo *u, int link_fd, int old_prog_fd);
int undo_sysctl(struct undo *u, const char *path, const char *old);
int undo_tc(struct undo *u, int ifindex);
void undo_rollback(struct undo *u);
extern void (*undo_map_restored)(void);
void undo_free(struct undo *u);
/* A pin holds either a link or (clsact fallback) a program. */
bool fd_is_link(int fd);
void link_release(const char *pinpath);

/* attach.c helpers shared by edge, port, home */
int tc_attach(int prog_fd, int ifindex, const char *pinpath, struct undo *u);
int tcx_attach_egress(int prog_fd, int ifindex, const char *pinpath,
		      struct undo *u);
int tc_replace(int prog_fd, int ifindex, const char *pinpath, struct undo *u);
int tc_detach_pin(const char *pinpath, int ifindex);
int link_prog_id(const char *pinpath, __u32 *prog_id, bool *is_link);
int pin_alive(const char *pinpath, int ifindex);
int pin_prog_fd(const char *pinpath);
bool prog_is(int prog_fd, const char *name);

/* probe.c */
int probe_xdp_meta(void);
int probe_tcx(void);
void probe_status(FILE *f, bool json);
const char *tc_pin_kind(const char *pinpath);
int prog_name_by_id(__u32 id, char *name, size_t len);
int sysctl_forwarding(const char *dev, struct undo *u);
int map_sync_pins(struct bpf_object *obj);

/* timeouts.c */
int timeouts_parse(const char *arg, struct crbpf_timeouts *t, __u32 *set);
int timeouts_apply(int fd, const struct crbpf_timeouts *t, __u32 set,
		   struct undo *u);
const char *timeout_name(unsigned int i);
__u32 timeout_value(const struct crbpf_timeouts *t, unsigned int i);
__u32 timeout_default(unsigned int i);

/* nl.c: rtnetlink and sock_diag with libmnl */
struct nl_addr {
	struct addr addr;
	__u8 prefixlen;
	__u8 scope;
	__u32 flags;
};
int nl_link_type(int ifindex, unsigned short *type);
int nl_link_info(int ifindex, unsigned short *type, char *kind, size_t kind_len);
int nl_addrs(int ifindex, int af, struct nl_addr **out, int *n);
int nl_primary_addr(int ifindex, __u8 family, struct addr *out);
int nl_route_get(const struct addr *dst, int *oif, unsigned char *rtype);
int nl_route_gateway(const struct addr *dst);
int nl_rule(bool add, __u8 family, const struct addr *src, __u32 mark,
	    __u32 table);
int nl_route_default(bool add, __u8 family, int oif, __u32 table);
int nl_default_oifs(int *oifs, int max, int *n);
struct listener {
	__u32 inode;
	__u16 port;
	__u8 family;
};
int nl_listeners(__u8 proto, __u16 first, __u16 last, struct listener *out,
		 int max);
struct nlmsghdr;
int nl_talk(int bus, struct nlmsghdr *nlh,
	    int (*cb)(const struct nlmsghdr *nlh, void *data), void *data);
int nl_link_mtu(int ifindex, __u32 *mtu);
int nl_link_l2(int ifindex, __u8 mac[6], int *master);
struct nl_route {
	struct addr dst;
	__u8 dst_len;
	__u8 protocol;
	__u8 type; /* RTN_* */
	__u32 table;
	int oif; /* 0: none or multipath */
};
int nl_routes(int af, struct nl_route **out, int *n);
struct nl_rule {
	__u8 family;
	__u8 action; /* FR_ACT_* */
	__u8 src_len;
	__u8 protocol;
	bool has_fwmark;
	__u32 flags; /* FIB_RULE_INVERT: "not" */
	__u32 table;
	__u32 priority;
	__u32 fwmark;
	int suppress_prefixlen; /* -1: none */
	/* selectors besides src and fwmark: dst, tos, iif, oif, l3mdev,
	 * uid, ipproto, ports, tun_id, or a goto */
	bool selects;
};
int nl_rules(int af, struct nl_rule **out, int *n);

/* nexthop.c: the switch of crbpf_edge_xdp's next-hop cache. */
int nh_rules_default(void);
int nh_sync(int cfg_fd);
int nh_sync_pinned(void);
void cache_gen_bump(void);

/* model.c: the mapping rules as plain functions over entries in memory
 * (no bpf syscall, no netlink): what follows from the entries of
 * crbpf_ports. */
struct except_list {
	__u16 first[64], last[64];
	int n;
};
/* Allow and deny lists (acl.c): prefixes read, not yet in any map. */
struct acl_list {
	struct crbpf_acl_key *k;
	int n, cap;
};
/* The lists a `port add` (or a config line) gives its mapping. */
struct acl_args {
	struct acl_list list[2]; /* by enum crbpf_acl_kind */
	bool given[2];
};
/* --limit-pps RATE[:BURST], --limit-flows RATE[:BURST], --limit-prefix
 * V4LEN[,V6LEN] (limit.c); a rate of 0: no such limit. */
struct limit_args {
	bool given; /* any of them: the mapping's limits are these */
	bool prefix_given;
	__u32 pps, pps_burst, flows, flows_burst;
	__u32 prefix4, prefix6;
};
/* port add's failover options (failover.c). */
struct fo_args {
	int n; /* backups */
	struct addr be[CRBPF_FO_MAX - 1];
	__u8 probe_proto; /* 0: no probe */
	__u16 probe_port;
	__u32 handshake_max; /* 0: CRBPF_FO_HANDSHAKE_DEFAULT */
};
/* The words of `port add/del/list`; family (not a word) narrows a del
 * without --addr to one family. */
struct port_args {
	const char *dev;
	const char *pos[4];
	int npos;
	const char *addr;
	struct except_list except;
	bool force;
	bool xdp_veth;
	bool json;
	__u8 family;
	struct acl_args acl; /* port add: --allow, --deny, ... */
	struct limit_args limit; /* port add: --limit-pps, ... */
	struct fo_args fo; /* port add: --backup, --probe, --handshake-max */
};
/* A `port add`, checked: all = `PROTO all` (first = last = CRBPF_PORT_ALL),
 * bport 0 = same port as the public one, paddr.family 0 = no --addr. */
struct port_spec {
	__u8 proto;
	bool all;
	__u16 first, last, bport;
	struct addr be, paddr;
};
/* crbpf_ports values before mapping ids (layouts 1 and 2): the first 24
 * bytes of struct crbpf_backend. */
#define OLD_BACKEND_SIZE 24
/* crbpf_flow before mapping ids (layout 2): the first 72 bytes. */
#define OLD_FLOW_SIZE 72
/* Keys of crbpf_ports before public addresses were part of them. */
struct old_port_key {
	__u32 ifindex;
	__u8 family;
	__u8 proto;
	__be16 port;
};
bool key_has_addr(const struct crbpf_port_key *k);
int port_key_cmp(const void *a, const void *b);
bool same_scope(const struct crbpf_port_key *a, const struct crbpf_port_key *b);
void rev_key_of(struct crbpf_rev_key *rk, const struct crbpf_port_key *k,
		const struct crbpf_backend *be);
struct model_local;
struct rev_index {
	struct rev_src *src; /* entries by reverse key */
	struct crbpf_rev_key *allb; /* reverse keys of `all` entries */
	int ns, na;
	/* crbpf_local (may be none) and one address about to join it (or
	 * NULL): which devices have several addresses */
	const struct model_local *local, *extra;
	int nl;
};
struct model_port {
	struct crbpf_port_key k;
	struct crbpf_backend v;
};
struct model_local {
	struct crbpf_addr_key k;
	struct crbpf_local v;
};
int rev_index_build(struct rev_index *ix, const struct model_port *ports, int n);
void rev_index_free(struct rev_index *ix);
/* A public device's primary address of family (nl_primary_addr). */
typedef int (*primary_addr_fn)(int ifindex, __u8 family, struct addr *out);
int rev_rule_of(const struct rev_index *ix, const struct crbpf_rev_key *rk,
		primary_addr_fn primary, struct crbpf_rev *rev);
int rev_touched_expand(const struct crbpf_rev_key *in, int nin,
		       const struct crbpf_rev_key *rev_keys, int nrev,
		       struct crbpf_rev_key **out);
__u32 local_flags_of(const struct crbpf_addr_key *ak,
		     const struct model_port *ports, int n);
int except_keys(const struct crbpf_port_key *scope,
		const struct except_list *x, struct crbpf_port_key **out);
void port_entry_of(const struct port_spec *s, __u32 pub_ifindex, __u32 oif,
		   bool l2, __u16 p, struct crbpf_port_key *key,
		   struct crbpf_backend *nb);
bool purge_hits(const struct crbpf_port_key *k, int pub_ifindex,
		bool (*exists)(int ifindex));
bool port_key_moved(const struct crbpf_port_key *k, __u32 from, __u32 to,
		    struct crbpf_port_key *nk);
bool public_ifindex_moved(__u32 *public_ifindex, __u32 from, __u32 to);
void port_keys_from_old(const void *old, int n, struct crbpf_port_key *out);
/* The entries the rules read (sorted by model_sort() once filled). */
struct model {
	struct model_port *ports; /* crbpf_ports */
	struct crbpf_port_key *except; /* keys of crbpf_except */
	struct crbpf_rev_key *rev; /* keys of crbpf_rev */
	struct model_local *local; /* crbpf_local */
	int np, nx, nr, nl;
};
/* What a command writes, in order: a put or delete per entry. mstats puts
 * zero the slot of a mapping id before any entry takes it; except puts
 * have the value 1. */
enum model_map { MODEL_PORTS, MODEL_MSTATS, MODEL_EXCEPT, MODEL_REV, MODEL_LOCAL };
struct model_op {
	__u8 map; /* enum model_map */
	bool del;
	union {
		struct crbpf_port_key port; /* ports, except */
		__u32 id; /* mstats: the mapping id */
		struct crbpf_rev_key rev;
		struct crbpf_addr_key addr; /* local */
	} k;
	union {
		struct crbpf_backend be;
		struct crbpf_rev rev;
		struct crbpf_local local;
	} v;
};
struct model_ops {
	struct model_op *op;
	int n, cap;
};
int mapping_id_alloc(const struct model *m);
void model_sort(struct model *m);
void model_free(struct model *m);
void model_ops_free(struct model_ops *o);
const struct model_port *model_port_find(const struct model *m,
					 const struct crbpf_port_key *k);
/* Each appends to o what the command writes and leaves m as the maps will
 * be once it is written. */
int model_port_add(struct model *m, const struct port_spec *s, __u32 pub_ifindex,
		   __u32 oif, bool l2, const struct except_list *x,
		   primary_addr_fn primary, struct model_ops *o);
int model_port_del(struct model *m, const struct crbpf_port_key *keys, int n,
		   primary_addr_fn primary, struct model_ops *o);
int model_purge(struct model *m, int pub_ifindex, bool (*exists)(int ifindex),
		primary_addr_fn primary, struct model_ops *o);
int model_restore(struct model *m, const struct crbpf_port_key *keys,
		  const struct crbpf_backend *vals, int n,
		  primary_addr_fn primary, struct model_ops *o);
int model_rev_refresh(struct model *m, primary_addr_fn primary,
		      struct model_ops *o);
int model_local_sync(struct model *m, struct model_ops *o);

/* maps.c: the pinned maps read into the model and written from it through
 * the undo journal. */
struct edge_maps {
	int ports, mstats, rev, txports, except, local;
};
#define EDGE_MAPS_NONE { -1, -1, -1, -1, -1, -1 }
int edge_maps_open(struct edge_maps *m);
void edge_maps_close(struct edge_maps *m);
int map_dump(int fd, size_t ksz, size_t vsz, void **keys, void **vals);
void primary_memo_reset(void);
int primary_memo(int ifindex, __u8 family, struct addr *out);
int model_load(struct model *mod, const struct edge_maps *m);
int maps_write(const struct edge_maps *m, const struct model_ops *o,
	       struct undo *u, bool best_effort);
bool acl_slot_used(int outer, __u32 slot);
bool acl_applies(int outer, __u32 mapping);
int local_flags_sync(struct undo *u);
int txport_ensure(int fd, __u32 ifindex, struct undo *u);
int tun_release_unused(int ports_fd, int txports_fd);
void flows_purge(int pub_ifindex, __u8 proto, __u16 first, __u16 last,
		 __u8 match, const __be32 *addr, __u8 family);
/* Backends of removed mappings, whose fragment state frags_purge() drops. */
struct frag_backends {
	struct crbpf_addr_key *v;
	int n, cap;
};
int backend_gone(struct frag_backends *g, const struct model_port *e);
void frags_purge(const struct frag_backends *g);
int mappings_purge(int pub_ifindex);
int ports_move_public(__u32 from, __u32 to);
int rev_refresh_all(struct undo *u);
int ports_restore(const struct crbpf_port_key *keys,
		  const struct crbpf_backend *vals, int n, struct undo *u);

/* edge.c */
enum xdp_mode { MODE_AUTO, MODE_NATIVE, MODE_GENERIC, MODE_TC };
extern const char *const mode_names[]; /* indexed by enum xdp_mode */
/* --mss: unset keeps what the device has (auto on a first attach). */
struct mss_opt {
	bool set;
	struct crbpf_mss_cfg cfg;
};
int parse_mss(const char *s, struct mss_opt *m);
int edge_attach(const char *dev, int ifindex, enum xdp_mode mode,
		__u32 flows, const struct crbpf_timeouts *to, __u32 to_set,
		const struct mss_opt *mss);
int edge_detach(const char *dev);
int edge_mode(const char *dev, int ifindex);
int xdp_current_mode(int ifindex);
int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int edge_cleanup_idle(void);
int edge_repair(int *missing);
int edge_detach_all(void);
/* port.c */
int port_args_parse(int argc, char **argv, struct port_args *a,
		    bool allow_force, bool allow_json);
int port_add_spec(const struct port_args *a, struct port_spec *s);
int port_add(struct port_args *a);
int port_del(struct port_args *a);
int cmd_port(int argc, char **argv);
int port_pick_dev(const char *dev, char *name, int *ifindex);
int read_cmd_prepare(int argc, char **argv, const char *use, const char *map,
		     bool *json, int *only);
int backends_refresh(int *waiting);
int ephemeral_overlap(__u8 proto, __u16 first, __u16 last, char *msg,
		      size_t len);
void owner_of_inode(__u32 inode, char *buf, size_t len);
/* match.c: --addr and `all` */
int parse_except(const char *s, struct except_list *x);
int parse_public_addr(const char *s, struct addr *a);
int addr_on_dev(int ifindex, const struct addr *a);
#define MAPS_UPGRADE_N 4
struct maps_upgrade {
	int fd[MAPS_UPGRADE_N]; /* old maps whose pins were set aside */
	struct crbpf_port_key *port_keys; /* old mappings, converted keys */
	struct crbpf_backend *port_vals;
	int nports;
	struct crbpf_addr_key *local_keys;
	__u32 *local_ifs;
	int nlocal;
	bool warned;
};
int maps_upgrade_prepare(struct maps_upgrade *m);
int maps_upgrade_finish(struct maps_upgrade *m, struct undo *u);
void maps_upgrade_abort(struct maps_upgrade *m);
void maps_upgrade_free(struct maps_upgrade *m);
/* layout.c: the pinned state's layout number and the conversion of maps
 * pinned by an older crbpf. 2: mappings in BPF_F_NO_PREALLOC maps, flow
 * table sized by --flows. 3: mapping ids (32-byte crbpf_backend, 80-byte
 * flows, 32-byte reverse rules), crbpf_mstats an array indexed by them. */
#define CRBPF_LAYOUT 3
#define LAYOUT_MAX_MAPS 48
struct layout_old {
	char name[16];
	int fd; /* the old map */
	__u32 type, key_size, value_size, max_entries;
	bool copy; /* same key and value layout: entries copied */
	bool widen; /* flows of layout 2: converted (layout_flows_convert) */
	bool unpinned;
};
struct layout_conv {
	struct layout_old m[LAYOUT_MAX_MAPS];
	int n;
	bool warned;
};
int layout_check(void);
int layout_store(void);
int layout_handoff(const __u8 dev_mac[6], __u8 out[6]);
void layout_remove(void);
__u32 layout_pinned_entries(const char *name);
__u32 layout_flows_size(__u32 asked);
int layout_prepare(struct bpf_object *obj, struct layout_conv *c);
int layout_finish(struct bpf_object *obj, struct layout_conv *c);
int layout_flows_convert(struct bpf_object *obj, struct layout_conv *c);
void layout_abort(struct layout_conv *c);
void layout_free(struct layout_conv *c);
__u64 layout_memlock(void (*cb)(const char *name, __u64 bytes, void *data),
		     void *data);
/* acl.c: allow and deny lists (crbpf_acl); aclcmd.c: crbpf acl */
extern const char *const acl_kind_names[]; /* by enum crbpf_acl_kind */
int acl_kind_parse(const char *s);
int acl_prefix_parse(const char *s, struct crbpf_acl_key *k, char *why,
		     size_t len);
int acl_list_add_prefix(struct acl_list *l, const char *s);
int acl_list_add_file(struct acl_list *l, const char *path);
void acl_list_free(struct acl_list *l);
int acl_trie_build(const struct acl_list *l);
int acl_open(void);
int acl_slot_get(int outer, __u32 slot);
int acl_slot_set(int outer, __u32 slot, int trie);
int acl_slot_count(int outer, __u32 slot);
int acl_slot_dump(int outer, __u32 slot, struct acl_list *out);
__u64 acl_slot_drops(int stats, __u32 slot);
int acl_slot_drops_zero(int stats, __u32 slot);
const char *acl_key_str(const struct crbpf_acl_key *k, char *buf, size_t len);
int acl_flags_sync(void);
void acl_gc_note(__u32 id);
int acl_gc(void);
bool acl_is_option(const char *opt);
int acl_args_option(struct acl_args *a, const char *opt, const char *val);
void acl_args_free(struct acl_args *a);
int acl_mapping_install(int outer, __u32 mapping, const struct acl_args *a,
			int saved[2]);
void acl_mapping_done(int outer, __u32 mapping, int saved[2], bool put_back);
int acl_lists_print(FILE *f, bool json, const char *indent);
int cmd_acl(int argc, char **argv);
/* limit.c: per-source limits (crbpf_limits, crbpf_limstats) */
bool limit_is_option(const char *opt);
int limit_args_option(struct limit_args *a, const char *opt, const char *val);
int limit_args_check(const struct limit_args *a);
void limit_of_args(const struct limit_args *a, struct crbpf_limit *l);
bool limit_on(const struct crbpf_limit *l);
void limit_get(int fd, __u32 id, struct crbpf_limit *l);
const char *limit_words(const struct crbpf_limit *l, char *buf, size_t len);
void limit_drops(int stats, __u32 id, __u64 *pkt, __u64 *flow);
int limit_before_write(const struct limit_args *a, __u32 id, bool fresh,
		       struct undo *u);
/* status.c */
int cmd_status(int argc, char **argv);
/* stats.c */
int cmd_stats(int argc, char **argv);
/* flows.c */
int cmd_flows(int argc, char **argv);
/* watch.c */
int cmd_watch(int argc, char **argv);
int cmd_down(int argc, char **argv);
/* apply.c: crbpf apply / config. apply_file() returns 0, -errno (-ENODEV:
 * a device the file names does not exist yet, nothing was changed) or
 * USAGE (the file is wrong, nothing was changed). */
#define CRBPF_CONF_DEFAULT "/etc/crbpf/crbpf.conf"
int apply_file(const char *path, bool check_only);
int cmd_apply(int argc, char **argv);
int cmd_config(int argc, char **argv);
/* home.c */
#define HOME_MAX_SERVE 16
/* The arguments of home attach. */
struct home_args {
	const char *tunnel;
	const char *serve[HOME_MAX_SERVE];
	int nserve;
	__u32 table;
	__u32 mark;
	/* crbpf watch: a served device that is not there (Docker re-creates
	 * its bridges) stays in the record, to be attached when it is back. */
	bool keep_missing;
};
int parse_home_attach(int argc, char **argv, struct home_args *a);
int home_attach(const struct home_args *a);
int home_detach(const char *tunnel);
int cmd_home(int argc, char **argv);
int home_status_json(FILE *f);
int home_status_text(FILE *f);
int home_repair(int *missing);
int home_detach_all(void);
struct home_info {
	__u32 table, mark;
	int nserve;
	char serve[HOME_MAX_SERVE][IF_NAMESIZE];
};
int home_info_load(const char *tunnel, struct home_info *hi);
/* wg.c: WireGuard devices read through genetlink (kernel module) or the
 * userspace implementation's UAPI socket; never by running wg. */
struct wg_allowed {
	struct addr addr;
	__u8 cidr;
};
struct wg_peer {
	__u8 key[32];
	bool has_endpoint;
	struct addr endpoint;
	__u16 endpoint_port;
	long long last_handshake; /* seconds since the epoch, 0: never */
	__u16 keepalive;
	int nallowed, cap;
	struct wg_allowed *allowed;
};
struct wg_dev {
	char name[IF_NAMESIZE];
	const char *via; /* "genetlink" or "uapi" */
	__u16 listen_port;
	int npeers, cap;
	struct wg_peer *peers;
};
int wg_dev_get(const char *name, struct wg_dev *d);
void wg_dev_free(struct wg_dev *d);
void wg_key_str(const __u8 key[32], char out[45]);
bool wg_allowed_covers(const struct wg_peer *p, const struct addr *a, __u8 len);
/* failover.c */
#define FO_WG_CACHE 16
struct fo_wg_cache {
	int n;
	char name[FO_WG_CACHE][IF_NAMESIZE];
	bool ok[FO_WG_CACHE];
	struct wg_dev dev[FO_WG_CACHE];
};
int fo_open(void);
int fo_get(int fd, __u32 id, struct crbpf_fo *f);
struct crbpf_fo *fo_get_all(int fd);
bool fo_is_option(const char *s);
int fo_args_option(struct fo_args *a, const char *opt, const char *val);
int fo_args_check(const struct fo_args *a, const struct addr *primary);
void fo_model_view(int fd, struct crbpf_backend *v);
void fo_entry_apply(const struct crbpf_fo *f, struct crbpf_backend *v);
int fo_entries_sync(int ports, __u32 id, const struct crbpf_fo *f,
		    struct undo *u);
int fo_install(__u32 id, const struct addr *primary, const struct fo_args *a,
	       struct crbpf_fo *out, struct undo *u);
bool fo_device_in_use(int ifindex);
int fo_gc(void);
struct wg_dev *fo_wg_dev(struct fo_wg_cache *wc, const char *name);
int fo_tick(void);
const char *fo_why_str(const struct crbpf_fo *f, const struct crbpf_fo_backend *b,
		       char *buf, size_t len);
void fo_status_print(FILE *o, bool json);
void fo_backups_str(int fd, __u32 id, char *buf, size_t len);
int fo_words(__u32 id, char *buf, size_t len);
int tun_ensure(int oif, const char *oifname, bool l2, struct undo *u);
/* doctor.c */
int cmd_doctor(int argc, char **argv);

#endif /* CRBPF_TOOL_H */
