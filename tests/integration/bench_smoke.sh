#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Smoke test of the benchmark: `bench.sh --quick` must produce a number for
# every row (receive limit, bare redirect, iptables, nftables, crbpf XDP and
# tc, iptables and crbpf into a TUN, the TUN floor, replies with and without
# flows), every micro-benchmark case (microbench checks each case's verdict,
# output and counters, and gives no figure for a case that fails them), the
# live-update count and a status for every issue-12 target, with the
# generator this kernel allows (bench.sh names it). A generator that cannot
# run is a FAIL naming why. Speeds are not asserted.
set -u
cd "$(dirname "$0")/../.." || exit 1
name=integration/bench_smoke
out=$(mktemp /tmp/crb-bench-smoke.XXXXXX)
trap 'rm -f "$out"' EXIT

rm -f build/bench/latest.json
bash tests/bench/bench.sh --quick >"$out" 2>&1
rc=$?
gen=$(sed -n 's/^generator: //p' "$out")
echo "  generator: ${gen:-none}"
if [ "$rc" -ne 0 ]; then
	sed 's/^/  /' "$out" | tail -n 40
	why=$(grep -E '^bench: ' "$out" | tail -n1)
	echo "[$name] FAIL (bench.sh --quick exited $rc${why:+: $why})"
	exit 1
fi
if ! python3 - build/bench/latest.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
rows = ["rxlimit", "redirect", "iptables", "nftables", "xdp", "tc",
        "tun-iptables", "tun-crbpf", "tun-floor", "reply-flows", "reply-static"]
bad = [r for r in rows
       if not all((f.get("pps") or {}).get("median", 0) > 0
                  for s in d["results"].get(r, {}).values() for f in s.values())
       or not d["results"].get(r)]
for k in ("hit_ns", "hit_many_ns", "miss_ns", "rev_ns", "tc_ns", "tun_ns"):
    if k not in d["micro"]:
        bad.append("micro/" + k)
if not d["live"].get("sent"):
    bad.append("live update")
# Every target gets a status; the micro-benchmark's are measured here (the
# cost ratios of 0.3 s trials may come out "not measured" when noise puts a
# cost at <= 0, and --quick has no 1M-flow set).
names = [t["name"] for t in d.get("targets", [])]
for want in ("xdp x less vs iptables, 1 flow", "tun-crbpf x less vs tun-iptables, 1 flow",
             "tc x less vs iptables, 1 flow", "xdp +ns / bare XDP redirect +ns, 1 flow",
             "xdp rate 1M flows / 1 flow", "micro hit_ns", "micro tun_ns",
             "micro hit_many_ns / hit_ns"):
    if want not in names:
        bad.append("target line " + want)
for t in d.get("targets", []):
    if t["status"] not in ("met", "missed", "not measured") or \
       (t["name"].startswith("micro") and t["status"] == "not measured"):
        bad.append("target " + t["name"] + ": " + t["status"])
if bad or not d.get("complete"):
    print("  rows without a number:", ", ".join(bad + d.get("missing", [])))
    sys.exit(1)
PY
then
	sed 's/^/  /' "$out" | tail -n 30
	echo "[$name] FAIL"
	exit 1
fi
echo "[$name] PASS"
