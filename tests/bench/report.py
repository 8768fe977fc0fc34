#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Turns bench.sh's raw records (row, size, flows, key, value; tab separated)
into the result table (stdout) and JSON. With --check, exits 1 unless every
row that was asked for produced a number for every size and flow count (and
the micro-benchmark and live-update figures exist when the xdp row ran).
Speeds are reported, never asserted.

The statistic: a row's cost per packet is 1e9/best(row) - 1e9/best(rxlimit)
ns, from the best (highest) rate of its trials. Interference on a shared VM
only ever slows a trial down, so the best trial is the least disturbed
estimate; the median and the min-max of the rates are printed beside it to
show the spread. Ratios to a baseline are ratios of these costs."""
import argparse
import json
import statistics
import sys

# row, label, baseline row for the cost ratio
ROWS = [
    ("rxlimit", "receive limit (XDP_DROP on the public veth)", None),
    ("redirect", "bare XDP redirect to the next hop", "iptables"),
    ("iptables", "iptables DNAT + conntrack -> Ethernet", "iptables"),
    ("nftables", "nftables DNAT -> Ethernet", "iptables"),
    ("xdp", "crbpf auto (XDP) -> Ethernet", "iptables"),
    ("tc", "crbpf --mode tc -> Ethernet", "iptables"),
    ("tun-iptables", "iptables DNAT -> TUN (L3 tunnel)", "tun-iptables"),
    ("tun-crbpf", "crbpf auto -> TUN (L3 tunnel)", "tun-iptables"),
    ("reply-flows", "crbpf reply, flows established", None),
    ("reply-static", "crbpf reply, static reverse rule", None),
]
MICRO = ("hit_ns", "hit_many_ns", "miss_ns", "rev_ns")


def stat(values):
    return {"median": statistics.median(values), "min": min(values),
            "max": max(values), "trials": values}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--meta", action="append", default=[])
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()

    meta = dict(m.split("=", 1) for m in a.meta)
    rec = {}
    errors = set()
    extra = {"micro": {}, "live": {}}
    for line in open(a.raw):
        f = line.rstrip("\n").split("\t")
        if len(f) != 5:
            continue
        row, size, flows, key, val = f
        if key == "error":
            errors.add(row)
            continue
        if row in extra:
            extra[row][key] = float(val)
            continue
        rec.setdefault((row, int(size), int(flows)), {}).setdefault(key, []).append(float(val))

    sizes = [int(s) for s in meta.get("sizes", "64").split()]
    flowsets = [int(x) for x in meta.get("flows", "1").split()]
    wanted = meta.get("rows", ",".join(r for r, _, _ in ROWS)).split(",")
    base_of = {r: b for r, _, b in ROWS}

    results = {}
    loads = []
    for (row, size, flows), kv in rec.items():
        e = {k: stat(v) for k, v in kv.items() if v}
        if "pps" in e:
            e["best_pps"] = e["pps"]["max"]
        loads += kv.get("load", [])
        results.setdefault(row, {}).setdefault(str(size), {})[str(flows)] = e

    def get(row, size, flows):
        return results.get(row, {}).get(str(size), {}).get(str(flows))

    for row in results:
        for size in results[row]:
            for flows, e in results[row][size].items():
                lim = get("rxlimit", size, flows)
                if "best_pps" not in e or not lim or "best_pps" not in lim:
                    continue
                e["ns"] = 1e9 / e["best_pps"] - 1e9 / lim["best_pps"]
                e["ns_median"] = 1e9 / e["pps"]["median"] - 1e9 / lim["pps"]["median"]
    for row in results:
        for size in results[row]:
            for flows, e in results[row][size].items():
                b = get(base_of.get(row), size, flows) if base_of.get(row) else None
                if b and b.get("ns") and e.get("ns") and e["ns"] > 0:
                    e["cost_ratio"] = b["ns"] / e["ns"]

    out = sys.stdout
    out.write("\ncrbpf bench %s  kernel %s  %s x %s CPUs  generator %s\n"
              % (meta.get("ts"), meta.get("kernel"), meta.get("cpu_model"),
                 meta.get("cpus"), meta.get("generator")))
    out.write("%s interleaved trials x %s s per figure; load average during trials %s\n"
              % (meta.get("trials"), meta.get("seconds"),
                 "%.2f-%.2f" % (min(loads), max(loads)) if loads else "-"))
    out.write("+ns/pkt: cost above the receive limit, 1e9/best(row) - 1e9/best(rxlimit), best of the trials;\n"
              "x less: the baseline's +ns/pkt over the row's (iptables for Ethernet rows, iptables to TUN for tun rows)\n")
    for size in sizes:
        for flows in flowsets:
            out.write("\n%d-byte frames, %s flow%s\n" % (size, format(flows, ","), "" if flows == 1 else "s"))
            out.write("  %-46s %-24s %7s %8s %7s\n" % ("path", "Mpps median [min-max]", "best", "+ns/pkt", "x less"))
            for row, label, _ in ROWS:
                if row not in wanted:
                    continue
                e = get(row, size, flows)
                if not e or "pps" not in e:
                    out.write("  %-46s %s\n" % (label, "not measured" + (" (row failed)" if row in errors else "")))
                    continue
                p = e["pps"]
                spread = "%.3f [%.3f-%.3f]" % (p["median"] / 1e6, p["min"] / 1e6, p["max"] / 1e6)
                ns = "%.0f" % e["ns"] if "ns" in e else "-"
                ratio = "%.2fx" % e["cost_ratio"] if "cost_ratio" in e else "-"
                out.write("  %-46s %-24s %7.3f %8s %7s\n" % (label, spread, e["best_pps"] / 1e6, ns, ratio))

    micro = extra["micro"]
    if micro:
        out.write("\nBPF_PROG_TEST_RUN (ns/packet): edge XDP hit %s, hit cycling %s flows %s, miss %s, reverse XDP %s\n"
                  % ("%.1f" % micro["hit_ns"] if "hit_ns" in micro else "-",
                     format(int(micro.get("many_flows", 0)), ","),
                     "%.1f" % micro["hit_many_ns"] if "hit_many_ns" in micro else "-",
                     "%.1f" % micro["miss_ns"] if "miss_ns" in micro else "-",
                     "%.1f" % micro["rev_ns"] if "rev_ns" in micro else "-"))
    live = extra["live"]
    if live:
        out.write("live update: %d port add/del ops in %.1fs (%d failed) while sending %d pps on the mapped port: "
                  "sent %d, received %d, lost %d (rx drops on the public veth: %d)\n"
                  % (live.get("ops", 0), live.get("ops_seconds", 0), live.get("ops_failed", 0),
                     live.get("rate", 0), live.get("sent", 0), live.get("received", 0),
                     live.get("lost", 0), live.get("veth_drops", 0)))

    missing = []
    for row in wanted:
        for size in sizes:
            for flows in flowsets:
                e = get(row, size, flows)
                if not e or not e.get("best_pps"):
                    missing.append("%s/%dB/%d flows" % (row, size, flows))
    if "xdp" in wanted:
        missing += ["micro/" + k for k in MICRO if k not in micro]
        if not live.get("sent") or live.get("received", -1) < 0 or live.get("ops_failed", 1) > 0:
            missing.append("live/update")
    doc = {"meta": meta, "results": results, "micro": micro, "live": live,
           "failed_rows": sorted(errors), "complete": not missing, "missing": missing}
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    out.write("\nJSON: %s\n" % a.json)
    if missing:
        out.write("rows without a number: %s\n" % ", ".join(missing))
    if a.check and missing:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
