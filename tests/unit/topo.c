// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Private network namespace for the unit tests, so bpf_fib_lookup answers from
 * a FIB we control and nothing touches the host:
 *
 *   pub0 (VPS public NIC) 203.0.113.10/24 2001:db8:203::10/64, peer pub1 is
 *        "the router" 203.0.113.1 / 2001:db8:203::1 (permanent neighbours);
 *        clients 198.51.100.0/24, 2001:db8:100::/64 routed via the router;
 *        192.0.2.0/24, 2001:db8:192::/64 on-link without neighbours.
 *   nh0  Ethernet next hop 10.0.1.1/24 2001:db8:1::1/64, peer nh1 is the L2
 *        backend .2 (permanent neighbour); backend .3 has no neighbour.
 *   nh2  second next hop 10.0.2.1/24, backend 10.0.2.2 (nh3), clients
 *        198.18.0.0/24 routed through it; NOT in crbpf_txports.
 *   tun0 L3 tunnel (TUN, like wg0) 10.0.0.1/24 2001:db8:10::1/64.
 *   wgh  home tunnel (TUN), docker0 home bridge.
 *   line0 home line to the ISP 100.64.0.2/24 2001:db8:64::2/64, peer line1
 *        is the ISP gateway (crbpf_home_out sees replies leaving through it).
 *
 * Forwarding is enabled only where the brief's addendum says the tool enables
 * it (tunnel and next-hop devices), never on the public NIC: the programs must
 * pass bpf_fib_lookup the devices the addendum names.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "unit.h"

struct topo topo;

static const char *const dev_names[DEV__MAX] = {
	[DEV_PUB] = "pub0", [DEV_NH] = "nh0", [DEV_TUN] = "tun0",
	[DEV_HTUN] = "wgh", [DEV_SRV] = "docker0", [DEV_NH2] = "nh2",
	[DEV_LINE] = "line0",
};

const char *dev_name(enum dev d)
{
	return d > DEV_NONE && d < DEV__MAX ? dev_names[d] : "(none)";
}

static const __u8 mac_pub0[6] = { 0x02, 0, 0, 0, 0x00, 0x10 };
static const __u8 mac_rtr[6] = { 0x02, 0, 0, 0, 0x00, 0x01 };
static const __u8 mac_nh0[6] = { 0x02, 0, 0, 0, 0x01, 0x01 };
static const __u8 mac_be[6] = { 0x02, 0, 0, 0, 0x01, 0x02 };
static const __u8 mac_nh2[6] = { 0x02, 0, 0, 0, 0x02, 0x01 };
static const __u8 mac_nh3[6] = { 0x02, 0, 0, 0, 0x02, 0x02 };
static const __u8 mac_srv[6] = { 0x02, 0, 0, 0, 0x17, 0x01 };
static const __u8 mac_ctr[6] = { 0x02, 0, 0, 0, 0x17, 0x02 };
static const __u8 mac_line0[6] = { 0x02, 0, 0, 0, 0x64, 0x02 };
static const __u8 mac_isp[6] = { 0x02, 0, 0, 0, 0x64, 0x01 };

static int run(const char *cmd)
{
	char buf[512];
	int rc;

	snprintf(buf, sizeof(buf), "%s >/dev/null 2>&1", cmd);
	rc = system(buf);
	if (rc != 0) {
		fprintf(stderr, "unit: topology command failed: %s\n", cmd);
		return -1;
	}
	return 0;
}

static int write_sysctl(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0) {
		fprintf(stderr, "unit: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

static int forwarding_on(const char *dev)
{
	char p[128];

	snprintf(p, sizeof(p), "/proc/sys/net/ipv4/conf/%s/forwarding", dev);
	if (write_sysctl(p, "1"))
		return -1;
	snprintf(p, sizeof(p), "/proc/sys/net/ipv6/conf/%s/forwarding", dev);
	return write_sysctl(p, "1");
}

int topo_setup(void)
{
	static const char *const cmds[] = {
		"ip link set lo up",
		"ip link add pub0 address 02:00:00:00:00:10 type veth peer name pub1 address 02:00:00:00:00:01",
		"ip link add nh0 address 02:00:00:00:01:01 type veth peer name nh1 address 02:00:00:00:01:02",
		"ip link add nh2 address 02:00:00:00:02:01 type veth peer name nh3 address 02:00:00:00:02:02",
		"ip tuntap add dev tun0 mode tun",
		"ip tuntap add dev wgh mode tun",
		"ip link add docker0 address 02:00:00:00:17:01 type bridge",
		"ip link add line0 address 02:00:00:00:64:02 type veth peer name line1 address 02:00:00:00:64:01",
		"sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0",
		"ip link set pub0 up", "ip link set pub1 up",
		"ip link set nh0 up", "ip link set nh1 up",
		"ip link set nh2 up", "ip link set nh3 up",
		"ip link set line0 up", "ip link set line1 up",
		"ip addr add 100.64.0.2/24 dev line0",
		"ip addr add 2001:db8:64::2/64 dev line0 nodad",
		"ip addr add 10.0.2.1/24 dev nh2",
		"ip neigh replace 10.0.2.2 lladdr 02:00:00:00:02:02 dev nh2 nud permanent",
		"ip route add 198.18.0.0/24 via 10.0.2.2 dev nh2",
		"ip link set tun0 up", "ip link set wgh up", "ip link set docker0 up",
		"ip addr add 203.0.113.10/24 dev pub0",
		"ip addr add 2001:db8:203::10/64 dev pub0 nodad",
		"ip addr add 203.0.113.11/24 dev pub0",
		"ip addr add 10.0.1.1/24 dev nh0",
		"ip addr add 2001:db8:1::1/64 dev nh0 nodad",
		"ip addr add 10.0.0.1/24 dev tun0",
		"ip addr add 2001:db8:10::1/64 dev tun0 nodad",
		"ip addr add 172.17.0.1/16 dev docker0",
		"ip neigh replace 203.0.113.1 lladdr 02:00:00:00:00:01 dev pub0 nud permanent",
		"ip neigh replace 2001:db8:203::1 lladdr 02:00:00:00:00:01 dev pub0 nud permanent",
		"ip neigh replace 10.0.1.2 lladdr 02:00:00:00:01:02 dev nh0 nud permanent",
		"ip neigh replace 2001:db8:1::2 lladdr 02:00:00:00:01:02 dev nh0 nud permanent",
		"ip route add 198.51.100.0/24 via 203.0.113.1 dev pub0",
		"ip -6 route add 2001:db8:100::/64 via 2001:db8:203::1 dev pub0",
		"ip route add 192.0.2.0/24 dev pub0",
		"ip -6 route add 2001:db8:192::/64 dev pub0",
	};
	size_t i;
	int d;

	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "unit: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (run(cmds[i]))
			return -1;
	if (forwarding_on("nh0") || forwarding_on("nh2") || forwarding_on("tun0") ||
	    forwarding_on("wgh"))
		return -1;

	for (d = DEV_PUB; d < DEV__MAX; d++) {
		topo.ifindex[d] = if_nametoindex(dev_names[d]);
		if (!topo.ifindex[d]) {
			fprintf(stderr, "unit: no device %s\n", dev_names[d]);
			return -1;
		}
	}
	memcpy(topo.mac[DEV_PUB], mac_pub0, 6);
	memcpy(topo.peer_mac[DEV_PUB], mac_rtr, 6);
	memcpy(topo.mac[DEV_NH], mac_nh0, 6);
	memcpy(topo.peer_mac[DEV_NH], mac_be, 6);
	memcpy(topo.mac[DEV_NH2], mac_nh2, 6);
	memcpy(topo.peer_mac[DEV_NH2], mac_nh3, 6);
	memcpy(topo.mac[DEV_SRV], mac_srv, 6);
	memcpy(topo.peer_mac[DEV_SRV], mac_ctr, 6);
	memcpy(topo.mac[DEV_LINE], mac_line0, 6);
	memcpy(topo.peer_mac[DEV_LINE], mac_isp, 6);
	/* TUN devices have no MAC: frames fed to them carry zero addresses */
	return 0;
}
