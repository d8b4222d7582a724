"""Valhalla (Meili) beside `xunfang bench patrol`: the same drives, matched by Valhalla's
trace_attributes on tiles built from the same OSM extract, and both matchers judged the
same way: a length-weighted F1 of the matched line against the driven one (a piece of
either counts as agreeing when it lies within 5 m of the other), and points a second.

usage: valhalla_match.py EXPORT_DIR VALHALLA_CONFIG
"""
import json
import math
import sys
import time

import valhalla


def planar(points, origin):
    lat0 = math.radians(origin[1])
    k = 6371008.8
    return [((lon - origin[0]) * math.radians(1) * k * math.cos(lat0), (lat - origin[1]) * math.radians(1) * k) for lon, lat in points]


def pieces(line, step=5.0):
    out = []
    for (ax, ay), (bx, by) in zip(line, line[1:]):
        length = math.hypot(bx - ax, by - ay)
        count = max(1, int(math.ceil(length / step)))
        for i in range(count):
            t = (i + 0.5) / count
            out.append(((ax + (bx - ax) * t, ay + (by - ay) * t), length / count))
    return out


def near(point, line, tolerance):
    px, py = point
    for (ax, ay), (bx, by) in zip(line, line[1:]):
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = 0 if length2 == 0 else max(0, min(1, ((px - ax) * dx + (py - ay) * dy) / length2))
        if math.hypot(px - (ax + t * dx), py - (ay + t * dy)) <= tolerance:
            return True
    return False


def f1(matched, truth, tolerance=5.0):
    if len(matched) < 2 or len(truth) < 2:
        return 0.0
    m, t = pieces(matched), pieces(truth)
    precision = sum(w for p, w in m if near(p, truth, tolerance)) / max(1e-9, sum(w for _, w in m))
    recall = sum(w for p, w in t if near(p, matched, tolerance)) / max(1e-9, sum(w for _, w in t))
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def decode(encoded, precision=6):
    coords, index, lat, lon = [], 0, 0, 0
    while index < len(encoded):
        for which in range(2):
            shift, result = 0, 0
            while True:
                b = ord(encoded[index]) - 63
                index += 1
                result |= (b & 0x1F) << shift
                shift += 5
                if b < 0x20:
                    break
            delta = ~(result >> 1) if result & 1 else result >> 1
            if which == 0:
                lat += delta
            else:
                lon += delta
        coords.append((lon / 10 ** precision, lat / 10 ** precision))
    return coords


def main():
    directory, config = sys.argv[1], sys.argv[2]
    drives = json.load(open(f"{directory}/drives.json"))
    actor = valhalla.Actor(config)
    origin = drives[0]["truth"][0]
    cases = {}
    for drive in drives:
        key = (int(drive["interval"]), int(drive["noise"]))
        shape = [{"lon": lon, "lat": lat, "time": t, "type": "via"} for t, lon, lat in drive["fixes"]]
        request = {"shape": shape, "costing": "auto", "shape_match": "map_snap",
                   "trace_options": {"gps_accuracy": drive["noise"], "search_radius": 50},
                   "filters": {"attributes": ["shape"], "action": "include"}}
        started = time.perf_counter()
        try:
            answer = json.loads(actor.trace_attributes(json.dumps(request)))
            matched = decode(answer.get("shape", ""))
        except RuntimeError:
            matched = []
        elapsed = time.perf_counter() - started
        truth = planar(drive["truth"], origin)
        case = cases.setdefault(key, {"valhalla": [], "ours": [], "seconds": 0.0, "points": 0})
        case["valhalla"].append(f1(planar(matched, origin), truth))
        case["ours"].append(f1(planar(drive["ours"], origin), truth))
        case["seconds"] += elapsed
        case["points"] += len(shape)
    results = {}
    for (interval, noise), case in sorted(cases.items()):
        results[f"geometric F1 every {interval} s, {noise} m, valhalla"] = sum(case["valhalla"]) / len(case["valhalla"])
        results[f"geometric F1 every {interval} s, {noise} m, xunfang"] = sum(case["ours"]) / len(case["ours"])
    seconds = sum(c["seconds"] for c in cases.values())
    points = sum(c["points"] for c in cases.values())
    results["valhalla matching, one core [points/s]"] = points / seconds
    print(json.dumps({"baseline": "valhalla", "results": results}, sort_keys=True))


main()
