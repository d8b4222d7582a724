import XunfangGeo

/// A seal plan's area on the road graph: the nodes inside its boundary, and the nodes
/// "away" (more than the plan's reach outside it: a suspect there has got out). Pure.
struct PlanArea {
    let inside: [Bool]
    let away: [Bool]
    var insideCount: Int { inside.lazy.filter { $0 }.count }

    init(graph: RoadGraph, boundary: [GeoPoint], reach: Double) throws(GeoError) {
        let projection = LocalProjection(origin: boundary[0])
        let area = MultiPolygon(Polygon(outer: try Ring(boundary.map(projection.project))))
        let near = area.bounds.expanded(by: reach)
        var inside = [Bool](repeating: false, count: graph.nodeCount)
        var away = [Bool](repeating: false, count: graph.nodeCount)
        for node in 0..<graph.nodeCount {
            let point = projection.project(graph.coordinates[node])
            if area.contains(point) {
                inside[node] = true
            } else {
                away[node] = !near.contains(point) || area.distance(to: point) > reach
            }
        }
        self.inside = inside
        self.away = away
    }
}

/// Whether a set of ring nodes seals an area: every directed road path from a node inside
/// to a node away passes through one of them. Pure: no I/O.
struct RingCheck {
    /// An arc leaving the area through which a suspect still gets away.
    struct Gap: Hashable {
        var arc: Int
        var insideNode: Int
    }

    let graph: RoadGraph
    let area: PlanArea
    private let reverseStart: [Int32]
    private let reverseTail: [Int32]

    init(graph: RoadGraph, area: PlanArea) {
        self.graph = graph
        self.area = area
        var counts = [Int32](repeating: 0, count: graph.nodeCount + 1)
        for head in graph.arcHead { counts[Int(head) + 1] += 1 }
        for node in 0..<graph.nodeCount { counts[node + 1] += counts[node] }
        var fill = counts, tails = [Int32](repeating: 0, count: graph.arcCount)
        for node in 0..<graph.nodeCount {
            for arc in graph.arcs(from: node) {
                let head = Int(graph.arcHead[arc])
                tails[Int(fill[head])] = Int32(node)
                fill[head] += 1
            }
        }
        reverseStart = counts
        reverseTail = tails
    }

    /// Every arc from an unheld inside node to an unheld outside node from which the
    /// suspect gets away without coming back in. Empty exactly when the ring seals: an
    /// escape path's last crossing of the boundary is such an arc.
    func gaps(ring: Set<Int>) -> [Gap] {
        // Outside nodes that reach "away" through unheld outside nodes (a search backwards from away).
        var escapes = [Bool](repeating: false, count: graph.nodeCount)
        var stack: [Int] = []
        for node in 0..<graph.nodeCount where area.away[node] && !ring.contains(node) {
            escapes[node] = true
            stack.append(node)
        }
        while let node = stack.popLast() {
            for index in Int(reverseStart[node])..<Int(reverseStart[node + 1]) {
                let tail = Int(reverseTail[index])
                guard !escapes[tail], !area.inside[tail], !ring.contains(tail) else { continue }
                escapes[tail] = true
                stack.append(tail)
            }
        }
        var gaps: [Gap] = []
        for node in 0..<graph.nodeCount where area.inside[node] && !ring.contains(node) {
            for arc in graph.arcs(from: node) where escapes[Int(graph.arcHead[arc])] {
                gaps.append(Gap(arc: arc, insideNode: node))
            }
        }
        return gaps
    }

    /// The ring's members no path out needs: each alone could be left out and the rest still seal.
    func redundant(ring: [Int]) -> [Int] {
        let all = Set(ring)
        return ring.filter { gaps(ring: all.subtracting([$0])).isEmpty }
    }

    /// The smallest ring: the `fixed` nodes (staffed checkpoints, free to use) that some
    /// path out needs, and the fewest other nodes (a minimum vertex cut, never an away
    /// node) to close the rest. Nil when no ring exists (an inside node is next to away).
    func draft(fixed: [Int]) -> (fixed: [Int], posts: [Int])? {
        let fixedSet = Set(fixed)
        let source = graph.nodeCount
        var arcs: [(Int, Int)] = []
        for node in 0..<graph.nodeCount where !fixedSet.contains(node) {
            if area.inside[node] { arcs.append((source, node)) }
            for arc in graph.arcs(from: node) where !fixedSet.contains(Int(graph.arcHead[arc])) {
                arcs.append((node, Int(graph.arcHead[arc])))
            }
        }
        let sinks = (0..<graph.nodeCount).filter { area.away[$0] && !fixedSet.contains($0) }
        let network = VertexCutNetwork(nodeCount: graph.nodeCount + 1, arcs: arcs, sinks: sinks)
        let cuttable = (0...graph.nodeCount).map { $0 < graph.nodeCount && !area.away[$0] }
        guard case .cut(let posts) = network.minimumCut(from: source, cuttable: cuttable) else { return nil }
        // Drop the fixed nodes no path needs, one at a time, so each kept one is needed.
        var kept = fixed.sorted()
        var ring = Set(posts).union(kept)
        for node in fixed.sorted() {
            ring.remove(node)
            if gaps(ring: ring).isEmpty {
                kept.removeAll { $0 == node }
            } else {
                ring.insert(node)
            }
        }
        return (kept, posts)
    }
}
