import Foundation

/// Drives with known truth for judging a map matcher: a car takes the fastest road route
/// between two random junctions 1.5 to 5 km apart (less in a small extract) at 70 to 100% of each road's speed;
/// its GPS reports every `interval` seconds with a normal error of `noise` metres in each
/// coordinate. Seeded, so every run judges the same drives.
public enum SyntheticDrives {
    public struct Drive: Sendable {
        public let fixes: [MapMatcher.Fix]
        /// The arcs driven, in order.
        public let truth: [Int]
    }

    public static func make(on graph: RoadGraph, count: Int, interval: Double, noise: Double, seed: UInt64, speeds: SpeedTable = .default) -> [Drive] {
        var random = SyntheticRoads.Generator(state: seed)
        func uniform() -> Double { Double(random.next() >> 11) / Double(1 << 53) }
        let projection = LocalProjection(origin: GeoPoint.middle(of: graph.coordinates) ?? GeoPoint(longitude: 0, latitude: 0))
        let points = graph.coordinates.map(projection.project)
        // 1.5 to 5 km apart, or a third of a small extract's width and more.
        let extent = BoundingBox(covering: points), shortest = min(1_500, (extent.maxX - extent.minX) / 3)
        var drives: [Drive] = []
        var attempts = 0
        while drives.count < count && attempts < count * 100 {
            attempts += 1
            let from = Int(random.next() % UInt64(graph.nodeCount)), to = Int(random.next() % UInt64(graph.nodeCount))
            let metres = points[from].distance(to: points[to])
            guard from != to, (shortest...5_000).contains(metres),
                  let route = graph.route(from: from, to: to, metric: .time(.car), speeds: speeds), route.nodes.count > 2 else { continue }
            let arcs = zip(route.nodes, route.nodes.dropFirst()).compactMap { a, b in
                graph.arcs(from: a).filter { Int(graph.arcHead[$0]) == b }.min { graph.arcLength[$0] < graph.arcLength[$1] }
            }
            // Each arc's entry time at its own pace.
            var time = 0.0, pieces: [(arc: Int, start: Double, seconds: Double)] = []
            for arc in arcs {
                let seconds = graph.arcLength[arc] / max(1, speeds.metresPerSecond(.car, graph.arcClass[arc]) * (0.7 + 0.3 * uniform()))
                pieces.append((arc, time, seconds))
                time += seconds
            }
            var fixes: [MapMatcher.Fix] = [], piece = 0, sample = 0.0
            while sample <= time {
                while piece < pieces.count - 1 && pieces[piece].start + pieces[piece].seconds < sample { piece += 1 }
                let (arc, start, seconds) = pieces[piece]
                let share = seconds > 0 ? min(1, (sample - start) / seconds) : 1
                let a = points[graph.tail(ofArc: arc)], b = points[Int(graph.arcHead[arc])]
                let radius = (-2 * log(max(uniform(), .leastNonzeroMagnitude))).squareRoot() * noise, angle = 2 * Double.pi * uniform()
                let point = PlanarPoint(x: a.x + (b.x - a.x) * share + radius * cos(angle), y: a.y + (b.y - a.y) * share + radius * sin(angle))
                fixes.append(MapMatcher.Fix(time: sample, point: projection.unproject(point)))
                sample += interval
            }
            drives.append(Drive(fixes: fixes, truth: arcs))
        }
        return drives
    }

    /// Length-weighted precision, recall and F1 of matched arcs against the truth (each arc
    /// counted as often as it was driven).
    public static func score(matched: [Int], truth: [Int], graph: RoadGraph) -> (precision: Double, recall: Double, f1: Double) {
        var left = Dictionary(truth.map { ($0, 1) }, uniquingKeysWith: +)
        var common = 0.0
        for arc in matched where (left[arc] ?? 0) > 0 {
            left[arc]! -= 1
            common += graph.arcLength[arc]
        }
        let matchedLength = matched.reduce(0) { $0 + graph.arcLength[$1] }, truthLength = truth.reduce(0) { $0 + graph.arcLength[$1] }
        let precision = matchedLength > 0 ? common / matchedLength : 0, recall = truthLength > 0 ? common / truthLength : 0
        return (precision, recall, precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0)
    }
}
