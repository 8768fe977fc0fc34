#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Checks `crbpf stats --prometheus` output against `crbpf stats --json`
read just before and after it. Parses with python3-prometheus-client's text
parser (independent of crbpf), then checks the naming rules: crbpf_ prefix,
counters end in _total, every sample a whole number, no label value that is
a client address. Prints one line per problem and exits 1 if any.

  promcheck.py PROM_FILE JSON_BEFORE JSON_AFTER CLIENT_ADDR..."""
import json
import re
import sys

from prometheus_client.parser import text_string_to_metric_families


def mkey(m):
    return (m["dev"], m["family"], m["proto"],
            m["ports"], m["addr"] or "*")


def main():
    text = open(sys.argv[1]).read()
    before, after = (json.load(open(p)) for p in sys.argv[2:4])
    clients = set(sys.argv[4:])
    bad = []
    fams = {}
    try:
        for fam in text_string_to_metric_families(text):
            fams[fam.name] = fam
    except Exception as e:  # the parser raises ValueError on bad syntax
        print("unparsable: %s" % e)
        return 1
    if not re.search(r"^# TYPE \S+ counter$", text, re.M):
        bad.append("no TYPE lines")
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name = line.split("{")[0].split(" ")[0]
        if not name.startswith("crbpf_") or not name.endswith("_total"):
            bad.append("metric %s: wants the crbpf_ prefix and _total" % name)
        if not re.fullmatch(r"\d+", line.rsplit(" ", 1)[1]):
            bad.append("sample not a whole number: %s" % line)
    for fam in fams.values():
        if fam.type != "counter":
            bad.append("%s is %s, not a counter" % (fam.name, fam.type))
        for s in fam.samples:
            for k, v in s.labels.items():
                if v in clients:
                    bad.append("client address %s as label %s of %s" % (v, k, s.name))

    outcomes = {s.labels["outcome"]: s.value
                for s in fams.get("crbpf_outcomes", {}).samples if s.name.endswith("_total")} \
        if "crbpf_outcomes" in fams else {}
    if set(outcomes) != set(before["counters"]):
        bad.append("outcome labels differ from stats --json counters: %s"
                   % sorted(set(outcomes) ^ set(before["counters"])))
    for k, v in outcomes.items():
        lo, hi = before["counters"].get(k, -1), after["counters"].get(k, -1)
        if not lo <= v <= hi:
            bad.append("outcome %s = %d, --json said %d before and %d after" % (k, v, lo, hi))

    per = {}
    for name in ("crbpf_mapping_packets", "crbpf_mapping_bytes", "crbpf_mapping_flows"):
        for s in fams[name].samples if name in fams else []:
            lb = s.labels
            key = (lb["interface"], lb["family"], lb["protocol"], lb["port"], lb["address"])
            per[(name, lb.get("direction", "")) + key] = s.value
    jfield = {("crbpf_mapping_packets", "in"): "in_packets", ("crbpf_mapping_packets", "out"): "out_packets",
              ("crbpf_mapping_bytes", "in"): "in_bytes", ("crbpf_mapping_bytes", "out"): "out_bytes",
              ("crbpf_mapping_flows", ""): "new_flows"}
    b = {mkey(m): m for m in before["mappings"]}
    a = {mkey(m): m for m in after["mappings"]}
    if not b:
        bad.append("stats --json lists no mapping")
    for key in b:
        for (name, d), field in jfield.items():
            v = per.get((name, d) + key)
            if v is None:
                bad.append("no %s{direction=%s} for mapping %s" % (name, d, key))
            elif not b[key][field] <= v <= a.get(key, b[key])[field]:
                bad.append("%s%s = %d outside --json's %d..%d" % (name, key, v, b[key][field],
                                                                  a[key][field]))
    if len(per) != len(b) * len(jfield):
        bad.append("%d mapping samples for %d mappings" % (len(per), len(b)))
    for line in bad:
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
