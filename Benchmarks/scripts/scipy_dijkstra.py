#!/usr/bin/env python3
"""Baseline for `xunfang bench geo`: scipy.sparse.csgraph.dijkstra, single source to every
node, on the graphs and sources `xunfang bench geo --export-dir DIR` wrote. Prints JSON
with the same figure names. Reads the graph file format documented in GraphFile.swift.

Parallel arcs are reduced to the shortest first: scipy sums duplicate matrix entries.
Distances are checked against ours on every source before anything is timed.
"""
import json
import struct
import sys
import time

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra


def load(path):
    data = open(path, "rb").read()
    assert data[:8] in (b"XFGRAPH1", b"XFGRAPH2"), path  # the names section after the arcs is not needed here
    n, m = struct.unpack_from("<QQ", data, 8)
    offset = 24
    def take(dtype, count):
        nonlocal offset
        array = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
        offset += array.nbytes
        return array
    take("<i8", n); take("<f8", n); take("<f8", n)
    start = take("<i4", n + 1)
    head = take("<i4", m)
    length = take("<f8", m)
    tail = np.repeat(np.arange(n, dtype=np.int64), np.diff(start))
    order = np.lexsort((length, head, tail))
    tail, head, length = tail[order], head[order], length[order]
    keep = np.ones(m, dtype=bool)
    keep[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
    return n, csr_matrix((length[keep], (tail[keep], head[keep])), shape=(n, n))


def main(directory, names):
    results = {}
    for name in names:
        n, matrix = load(f"{directory}/{name}.graph")
        sources = [int(line) for line in open(f"{directory}/{name}.sources").read().split()]
        ours = np.fromfile(f"{directory}/{name}.check", dtype="<f8")
        theirs = dijkstra(matrix, directed=True, indices=sources[0])
        reached = np.isfinite(ours)
        if not np.array_equal(reached, np.isfinite(theirs)) or not np.allclose(ours[reached], theirs[reached], rtol=1e-12, atol=1e-9):
            sys.exit(f"{name}: distances differ from scipy's")
        results[f"{name}.agreement [nodes]"] = int(reached.sum())
        timings = []
        for source in sources:
            started = time.perf_counter()
            dijkstra(matrix, directed=True, indices=source)
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        results[f"{name}.single-source.full [ms]"] = round(timings[len(timings) // 2], 3)
    print(json.dumps({"bench": "geo", "baseline": "scipy " + __import__("scipy").__version__, "results": results}, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:] or ["demo", "200k"])
