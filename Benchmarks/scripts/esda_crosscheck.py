#!/usr/bin/env python3
"""Reference values from PySAL (esda, libpysal) for the statistics in
`xunfang situation hotspots`, on a polygon GeoJSON file. Prints JSON; the Swift test
Tests/SituationAnalysisTests compares against values this script produced for libpysal's
Columbus example, and `--compare BIN` runs our command beside it.

    python3 -m venv .venv && .venv/bin/pip install esda libpysal
    .venv/bin/python Benchmarks/scripts/esda_crosscheck.py columbus.json CRIME [--compare .build/debug/xunfang-plugin-situation]
"""
import json
import subprocess
import sys

import numpy as np
import esda
import libpysal
from libpysal.weights import Queen, Rook, KNN, DistanceBand


def reference(path, field):
    features = json.load(open(path))["features"]
    polygons = [libpysal.cg.asShape(f["geometry"]) for f in features]
    y = np.array([f["properties"][field] for f in features], dtype=float)
    centroids = np.array([p.centroid for p in polygons])
    weights = {
        "queen": Queen.from_iterable(polygons),
        "rook": Rook.from_iterable(polygons),
        "knn:4": KNN.from_array(centroids, k=4),
        "distance:1.5": DistanceBand.from_array(centroids, threshold=1.5, binary=True, silence_warnings=True),
    }
    out = {}
    for name, w in weights.items():
        w.transform = "o"
        raw = esda.Moran(y, w, transformation="b", permutations=0)
        rowed = esda.Moran(y, w, transformation="r", permutations=0)
        local = esda.Moran_Local(y, w, transformation="r", permutations=0)
        gi = esda.G_Local(y, w, transform="B", star=True, permutations=0)
        gi_r = esda.G_Local(y, w, transform="R", star=True, permutations=0)
        out[name] = {
            "moran_binary": [raw.I, raw.EI, raw.VI_norm, raw.z_norm],
            "moran_row": [rowed.I, rowed.EI, rowed.VI_norm, rowed.z_norm],
            "local_moran_row": list(local.Is),
            "gi_star_binary_z": list(gi.Zs),
            "gi_star_row_z": list(gi_r.Zs),
        }
    return out


def ours(binary, path, field):
    out = {}
    for name in ("queen", "rook", "knn:4", "distance:1.5"):
        def run(*extra):
            text = subprocess.check_output([binary, "hotspots", "--polygons", path, "--value", field, "--weights", name, "--planar", "--json", *extra])
            return json.loads(text)
        raw, rowed = run("--statistic", "moran"), run("--statistic", "moran", "--row-standardize")
        out[name] = {
            "moran_binary": [raw["I"], raw["expected"], raw["variance"], raw["z"]],
            "moran_row": [rowed["I"], rowed["expected"], rowed["variance"], rowed["z"]],
            "local_moran_row": [a["I"] for a in run("--statistic", "local-moran", "--row-standardize")["areas"]],
            "gi_star_binary_z": [a["z"] for a in run("--statistic", "gi-star")["areas"]],
            "gi_star_row_z": [a["z"] for a in run("--statistic", "gi-star", "--row-standardize")["areas"]],
        }
    return out


if __name__ == "__main__":
    path, field = sys.argv[1], sys.argv[2]
    expected = reference(path, field)
    if "--compare" in sys.argv:
        got = ours(sys.argv[sys.argv.index("--compare") + 1], path, field)
        worst = 0.0
        for name, figures in expected.items():
            for key, values in figures.items():
                difference = float(np.max(np.abs(np.array(values) - np.array(got[name][key]))))
                worst = max(worst, difference)
                print(f"{name:14} {key:18} max |esda - ours| = {difference:.3g}")
        print(f"worst difference: {worst:.3g}")
    else:
        print(json.dumps(expected))
