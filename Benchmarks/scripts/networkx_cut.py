#!/usr/bin/env python3
"""Baseline for `xunfang bench checkpoint`: networkx on the very cut problems our run
exported (`--export-dir DIR`, one file per incident and shift, by road chain):

- held: the minimum cut when only the chains some unit can hold may be cut, as networkx
  `minimum_cut` on the node-split graph (capacity 1 through a cuttable chain, unbounded
  otherwise), which is how networkx's own `minimum_node_cut` works inside;
- any: networkx `minimum_node_cut` from the incident to a super-sink joined from every
  escape chain, any chain cuttable.

Files `map-N.txt` are the seal feasibility map's grids (the source joined to the grid's
inside nodes), timed the same way.

Each cut size must equal ours before anything is timed. Prints JSON with our figure names.
"""
import glob
import json
import os
import sys
import time

import networkx as nx


def load(path):
    with open(path) as f:
        n, source = map(int, f.readline().split())
        sinks = [int(x) for x in f.readline().split()]
        cuttable = {int(x) for x in f.readline().split()}
        held, anywhere = map(int, f.readline().split())
        arcs = [tuple(map(int, line.split())) for line in f if line.strip()]
    return n, source, sinks, cuttable, held, anywhere, arcs


def held_cut(n, source, sinks, cuttable, arcs):
    g = nx.DiGraph()
    for v in range(n):
        if v in cuttable and v != source:
            g.add_edge(("in", v), ("out", v), capacity=1)
        else:
            g.add_edge(("in", v), ("out", v))
    for a, b in arcs:
        g.add_edge(("out", a), ("in", b))
    for s in sinks:
        g.add_edge(("out", s), "sink")
    try:
        value, _ = nx.minimum_cut(g, ("out", source), "sink")
    except nx.NetworkXUnbounded:
        return -1
    return int(value)


def any_cut(n, source, sinks, arcs):
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from(arcs)
    for s in sinks:
        g.add_edge(s, "sink")
    try:
        return len(nx.minimum_node_cut(g, source, "sink"))
    except nx.NetworkXError:
        return -1  # the incident is next to the escape set: no node separates them


def percentile(values, share):
    values = sorted(values)
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(-(-(len(values) - 1) * share // 1)))]


def main(directory):
    times = {}
    mismatches = 0
    for path in sorted(glob.glob(os.path.join(directory, "*-*.txt"))):
        shift = os.path.basename(path).split("-")[0]
        n, source, sinks, cuttable, held, anywhere, arcs = load(path)
        started = time.perf_counter()
        ours_held = held_cut(n, source, sinks, cuttable, arcs)
        times.setdefault(f"{shift}.cut.held", []).append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        ours_any = any_cut(n, source, sinks, arcs)
        times.setdefault(f"{shift}.cut.any", []).append((time.perf_counter() - started) * 1000)
        if ours_held != held or (anywhere >= 0 and ours_any != anywhere):
            mismatches += 1
            print(f"{path}: networkx {ours_held}/{ours_any}, xunfang {held}/{anywhere}", file=sys.stderr)
    results = {"mismatches [count]": mismatches}
    for key, values in times.items():
        results[f"{key}.p50 [ms]"] = round(percentile(values, 0.5), 3)
        results[f"{key}.p99 [ms]"] = round(percentile(values, 0.99), 3)
        results[f"{key}.total [ms]"] = round(sum(values), 3)
    print(json.dumps({"baseline": f"networkx {nx.__version__}", "results": results}, sort_keys=True))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
