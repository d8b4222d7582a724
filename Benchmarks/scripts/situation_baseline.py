"""Baselines for `xunfang bench situation`, on the very data our run exported:
PySAL esda's G_Local (Gi*, binary weights with the cell itself, 999 conditional
permutations; numba when installed) on the same queen lattice, and pandas groupby over
the same million incidents. Prints JSON: timings, and how far esda's z scores are from
ours (they must agree; the p-values are random draws and are compared as counts)."""
import json, sys, time
import numpy as np
import pandas as pd
import libpysal
from esda.getisord import G_Local

directory = sys.argv[1]
with open(f"{directory}/lattice.txt") as f:
    rows, columns, permutations = map(int, f.readline().split())
    data = np.loadtxt(f)
values, our_z, our_p = data[:, 0], data[:, 1], data[:, 2]
w = libpysal.weights.lat2W(rows, columns, rook=False)
w.transform = "B"
G_Local(values, w, transform="B", star=True, permutations=1, seed=1)  # compiles numba outside the timing
started = time.perf_counter()
g = G_Local(values, w, transform="B", star=True, permutations=permutations, seed=1, keep_simulations=False)
gi_ms = (time.perf_counter() - started) * 1000
z_gap = float(np.max(np.abs(g.Zs - our_z)))
hot_esda = int(np.sum((g.Zs > 0) & (g.p_sim <= 0.01)))
hot_ours = int(np.sum((our_z > 0) & (our_p <= 0.01)))

incidents = pd.read_csv(f"{directory}/incidents.csv")
started = time.perf_counter()
local = pd.to_datetime(incidents["at"], unit="ms") + pd.Timedelta(hours=8)
counts = incidents.assign(hour=local.dt.hour).groupby(["station", "hour", "type"]).size()
pandas_ms = (time.perf_counter() - started) * 1000

print(json.dumps({"baseline": "esda/pandas", "results": {
    f"gi-star.{permutations}-permutations [ms]": round(gi_ms, 3),
    "gi-star.z-max-difference [abs]": z_gap,
    "gi-star.hot-cells.p<=0.01 [count]": hot_esda,
    "gi-star.hot-cells.ours [count]": hot_ours,
    "aggregate.breakdown.station-hour-type.year [ms]": round(pandas_ms, 3),
    "aggregate.breakdown.groups [count]": int(len(counts)),
}}))
