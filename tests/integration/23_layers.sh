#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The tool's files form layers (no topology): which file calls a function or
# reads a variable defined in which other file, from the built objects
# (nm -u against nm --defined-only over build/user/*.o). Commands on top, the
# mapping model below them, pins and netlink at the bottom: a cycle between
# files fails, naming the files of each cycle and one call of every edge in it.
# The mapping model (model.o) calls no other file of the tool, no libbpf and
# no libmnl: its rules run in the unit tests without a kernel.
# kernels: skip, it reads object files: nothing of it depends on the kernel
source "$(dirname "$0")/../lib/common.sh"
t_begin layers
need_crbpf

objs=("$CR_ROOT"/build/user/*.o)
[ -e "${objs[0]}" ] || t_fail "no objects in build/user (run make)"
command -v nm >/dev/null || t_fail "nm (binutils) not found"

# "FILE SYMBOL" per definition, "FILE -> SYMBOL" per undefined reference.
for o in "${objs[@]}"; do
	f=$(basename "$o" .o)
	nm --defined-only -g "$o" | awk -v f="$f" 'NF == 3 { print "def", f, $3 }'
	nm -u "$o" | awk -v f="$f" '{ print "use", f, $NF }'
done >"$TOPO_DIR/symbols"

# Edges FILE TARGET SYMBOL, then the strongly connected components (Tarjan)
# of more than one file.
python3 - "$TOPO_DIR/symbols" >"$TOPO_DIR/cycles" <<'PY' || t_fail "call graph: python3 failed"
import sys
defs, uses = {}, {}
for line in open(sys.argv[1]):
    kind, f, sym = line.split()
    if kind == "def":
        defs[sym] = f
    else:
        uses.setdefault(f, []).append(sym)
    uses.setdefault(f, [])
edges = {f: {} for f in uses}
for f, syms in uses.items():
    for s in syms:
        g = defs.get(s)
        if g and g != f:
            edges[f].setdefault(g, s)
index, low, stack, on, n = {}, {}, [], set(), [0]
sys.setrecursionlimit(10000)
def visit(v):
    index[v] = low[v] = n[0]
    n[0] += 1
    stack.append(v)
    on.add(v)
    for w in sorted(edges[v]):
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            comp = sorted(comp)
            print("cycle: " + " ".join(comp))
            for a in comp:
                for b in sorted(edges[a]):
                    if b in comp:
                        print(f"    {a}.c -> {b}.c ({edges[a][b]})")
for v in sorted(edges):
    if v not in index:
        visit(v)
if "model" in uses:
    io = sorted(s for s in uses["model"] if s in defs or
                s.startswith(("bpf_", "libbpf_", "mnl_", "if_", "socket", "syscall")))
    if io:
        print("model: calls " + " ".join(io))
PY
if [ -s "$TOPO_DIR/cycles" ]; then
	cat "$TOPO_DIR/cycles"
	grep -q '^model:' "$TOPO_DIR/cycles" &&
		t_fail "the mapping model does I/O or calls the tool: $(grep '^model:' "$TOPO_DIR/cycles" | sed 's/^model: //')"
	t_fail "user/ has cycles between files: $(grep -c '^cycle' "$TOPO_DIR/cycles") ($(grep '^cycle' "$TOPO_DIR/cycles" | sed 's/^cycle: //' | paste -sd ';'))"
fi
t_pass
