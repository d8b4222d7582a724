#!/usr/bin/env python3
"""Independent count of the car network in an OSM PBF file, with pyosmium (libosmium),
by the rules XunfangGeo implements (issue 3). Prints JSON with the same fields as
`xunfang geo import-osm` reports, so the two can be compared.

    python3 -m venv .venv && .venv/bin/pip install osmium
    .venv/bin/python Benchmarks/scripts/osm_car_arcs.py ../shared/data/osm/finland-test.osm.pbf
"""
import json
import sys

import osmium

CLASSES = {"motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential",
           "living_street", "road", "motorway_link", "trunk_link", "primary_link", "secondary_link",
           "tertiary_link"}


def classify(tags):
    highway = tags.get("highway")
    if highway not in CLASSES or tags.get("area") == "yes":
        return None
    for key in ("motorcar", "motor_vehicle", "vehicle", "access"):
        if key in tags:
            parts = [part.strip() for part in tags[key].split(";")]
            if "no" in parts or "private" in parts:
                return None
            break
    oneway = tags.get("oneway")
    if oneway in ("yes", "true", "1"):
        return "forward"
    if oneway in ("-1", "reverse"):
        return "reverse"
    if tags.get("junction") in ("roundabout", "circular") and oneway != "no":
        return "forward"
    return "both"


class Counter(osmium.SimpleHandler):
    def __init__(self):
        super().__init__()
        self.nodes = set()
        self.ways = []
        self.node_count = 0
        self.way_count = 0

    def node(self, n):
        self.node_count += 1
        self.nodes.add(n.id)

    def way(self, w):
        self.way_count += 1
        direction = classify({tag.k: tag.v for tag in w.tags})
        if direction is not None:
            self.ways.append(([ref.ref for ref in w.nodes], direction))


def main(path):
    counter = Counter()
    counter.apply_file(path)
    report = {"nodes": counter.node_count, "ways": counter.way_count, "drivableWays": len(counter.ways),
              "segments": 0, "segmentsMissingNodes": 0, "segmentsDegenerate": 0, "arcs": 0}
    graph_nodes = set()
    for refs, direction in counter.ways:
        for a, b in zip(refs, refs[1:]):
            report["segments"] += 1
            if a not in counter.nodes or b not in counter.nodes:
                report["segmentsMissingNodes"] += 1
                continue
            if a == b:
                report["segmentsDegenerate"] += 1
                continue
            graph_nodes.update((a, b))
            report["arcs"] += 2 if direction == "both" else 1
    report["graphNodes"] = len(graph_nodes)
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
