// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* crbpf watch: keeps forwarding working while the machine changes under it.
 * rtnetlink link, address and route events start a repair pass (20 ms
 * after the first event of a burst, so a wg-quick up that adds a device,
 * its address and its routes is one pass; never closer than 100 ms to the
 * previous one, whatever the event rate); a pass also runs every 10 s in
 * case an event was lost. A pass: the config file, while it has not been
 * applied yet (its devices or its backends' routes may come later than the
 * service; retried on events and SIGHUP, not every 10 s); public devices
 * re-created or re-addressed; backends whose route now leaves through
 * another device; home tunnels, served devices and default-route devices.
 * A pass that finds everything in place changes nothing, so its own
 * changes' events end in one quiet pass. Policy rule events start a pass
 * too; a pass and every neighbour event renew the XDP next-hop cache
 * (nexthop.c).
 *
 * crbpf down: removes every edge and home attachment (the unit's stop). */
#include "tool.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#define WATCH_SETTLE_MS 20
/* Between two passes at least this: route churn (a BGP-fed table, a
 * flapping link) must not keep watch dumping the maps back to back. */
#define WATCH_MIN_GAP_MS 100
#define WATCH_PERIOD_MS 10000
/* Failover health checks (failover.c) between passes; CRBPF_FO_TICK_MS in
 * the environment shortens it for tests. */
#define WATCH_FO_MS (CRBPF_FO_INTERVAL_DEFAULT * 1000)

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

struct watch {
	const char *file; /* NULL: repair only */
	bool pending_apply; /* the file has not been applied since start/HUP */
	int waiting; /* devices or routes missing at the last pass */
	int failed; /* the last pass's error, to report changes only */
};

/* periodic: the 10 s pass, which repairs but does not retry the file (a
 * file that cannot apply would repeat its errors every 10 s). */
static void watch_pass(struct watch *w, bool periodic)
{
	long long t0 = now_ms();
	int missing = 0, waiting = 0, ret;

	if (pin_init())
		return;
	info("repair pass (%lld ms for the lock)", now_ms() - t0);
	if (w->pending_apply && !periodic) {
		ret = apply_file(w->file, false);
		if (!ret) {
			notice("applied %s", w->file);
			w->pending_apply = false;
		} else if (ret != w->failed) {
			notice("applying %s failed; retrying when devices or routes change",
			       w->file);
		}
		w->failed = ret;
	}
	ret = edge_repair(&missing);
	if (ret)
		err("repairing the public devices failed: %s", strerror(-ret));
	ret = nh_sync_pinned();
	if (ret)
		err("the XDP next-hop cache stays off: %s", strerror(-ret));
	/* Backends exist only where an edge does. */
	if (pin_count("edge")) {
		ret = backends_refresh(&waiting);
		if (ret < 0)
			err("following the backends' routes failed: %s", strerror(-ret));
	}
	ret = home_repair(&missing);
	if (ret)
		err("repairing the home side failed: %s", strerror(-ret));
	if (missing + waiting != w->waiting && missing + waiting)
		notice("waiting for %d device(s) and %d backend route(s)", missing,
		       waiting);
	else if (missing + waiting != w->waiting)
		notice("everything crbpf uses is in place");
	w->waiting = missing + waiting;
	pin_unlock();
}

#define EV_PASS 1 /* an event a repair pass answers */
#define EV_NEIGH 2 /* a neighbour changed: the next-hop cache only */

/* Reads every queued event: EV_* bits of what came (a lost event, ENOBUFS,
 * counts as EV_PASS). */
static int nl_drain(struct mnl_socket *nl)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const struct nlmsghdr *nlh;
	int seen = 0, left;
	ssize_t n;

	for (;;) {
		n = recv(mnl_socket_get_fd(nl), buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == ENOBUFS) {
			seen |= EV_PASS;
			continue;
		}
		if (n <= 0)
			return seen;
		left = n; /* at most the buffer's size */
		for (nlh = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, left);
		     nlh = mnl_nlmsg_next(nlh, &left))
			seen |= nlh->nlmsg_type == RTM_NEWNEIGH ||
					nlh->nlmsg_type == RTM_DELNEIGH ?
				EV_NEIGH : EV_PASS;
	}
}

int cmd_watch(int argc, char **argv)
{
	const unsigned int groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR |
				    RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
				    RTMGRP_IPV6_ROUTE | RTMGRP_NEIGH;
	/* policy rules have no RTMGRP_ bit: joined by number */
	int rule_groups[] = { RTNLGRP_IPV4_RULE, RTNLGRP_IPV6_RULE };
	struct watch w = { .file = CRBPF_CONF_DEFAULT };
	long long due, next_periodic, last_pass = 0, next_fo, fo_ms = WATCH_FO_MS;
	const char *fo_env = getenv("CRBPF_FO_TICK_MS");
	struct mnl_socket *nl = NULL;
	struct pollfd pfd[2];
	int sfd = -1, rcvbuf = 1 << 22, ev, ret;
	sigset_t mask;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return usage_err("usage: crbpf watch [FILE]");
	if (argc == 2)
		w.file = argv[1];
	else if (access(w.file, F_OK))
		w.file = NULL; /* no default file: repair only */
	if (w.file) {
		/* A broken file is a usage error now, not a retry loop. */
		ret = apply_file(w.file, true);
		if (ret)
			return ret;
		w.pending_apply = true;
	}
	ret = tool_prepare();
	if (ret)
		return ret;
	pin_unlock();

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (sfd < 0 || !nl || mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		err("failed to listen for rtnetlink events: %s", strerror(-ret));
		goto out;
	}
	for (ev = 0; ev < 2; ev++)
		if (mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP,
					  &rule_groups[ev], sizeof(int)) < 0) {
			ret = -errno;
			err("failed to listen for policy rule events: %s",
			    strerror(-ret));
			goto out;
		}
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		   sizeof(rcvbuf));
	notice("watching%s%s", w.file ? " with " : " (no config file)",
	       w.file ? w.file : "");
	pfd[0] = (struct pollfd){ .fd = mnl_socket_get_fd(nl), .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	due = now_ms(); /* a first pass right away */
	next_periodic = due + WATCH_PERIOD_MS;
	if (fo_env && atoi(fo_env) >= 100)
		fo_ms = atoi(fo_env);
	next_fo = due + fo_ms;
	for (;;) {
		long long t = now_ms(), until = next_periodic;
		struct signalfd_siginfo si;

		if (next_fo <= t) {
			/* takes the pin lock itself, after its probes */
			ret = fo_tick();
			if (ret < 0)
				err("failover health checks failed: %s",
				    strerror(-ret));
			fflush(stderr);
			next_fo = now_ms() + fo_ms;
			continue;
		}
		if (next_fo < until)
			until = next_fo;
		if (due >= 0 && due < until)
			until = due;
		if (until <= t) {
			watch_pass(&w, due < 0 || due > t);
			fflush(stderr);
			due = -1;
			last_pass = now_ms();
			next_periodic = last_pass + WATCH_PERIOD_MS;
			continue;
		}
		if (poll(pfd, 2, until - t) < 0 && errno != EINTR) {
			ret = -errno;
			err("poll failed: %s", strerror(-ret));
			goto out;
		}
		ev = pfd[0].revents & POLLIN ? nl_drain(nl) : 0;
		/* A neighbour's new MAC must not wait for the cache's 1 s;
		 * neighbours change too often for a repair pass each. */
		if (ev & EV_NEIGH) {
			info("neighbour event: renewing the next-hop cache");
			ret = nh_sync_pinned();
			if (ret)
				err("the XDP next-hop cache stays off: %s",
				    strerror(-ret));
		}
		if ((ev & EV_PASS) && due < 0) {
			info("rtnetlink event");
			due = now_ms() + WATCH_SETTLE_MS;
			if (last_pass && due < last_pass + WATCH_MIN_GAP_MS)
				due = last_pass + WATCH_MIN_GAP_MS;
		}
		if (!(pfd[1].revents & POLLIN) ||
		    read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			notice("SIGHUP: applying %s again", w.file ? w.file : "(nothing)");
			w.pending_apply = w.file != NULL;
			w.failed = 0;
			due = now_ms();
			continue;
		}
		notice("stopping (forwarding stays in place)");
		ret = 0;
		goto out;
	}
out:
	if (nl)
		mnl_socket_close(nl);
	if (sfd >= 0)
		close(sfd);
	return ret;
}

int cmd_down(int argc, char **argv)
{
	int ret, r;

	(void)argv;
	if (argc != 1)
		return usage_err("usage: crbpf down");
	ret = tool_prepare();
	if (ret)
		return ret;
	ret = edge_detach_all();
	r = home_detach_all();
	return ret ?: r;
}
