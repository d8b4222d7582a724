/// Dijkstra over a `RoadGraph` with one cost per arc, reusable across queries: only the
/// nodes a search touched are reset before the next, so many small searches on a large
/// graph cost what they explore, not the graph's size.
///
/// Forward searches give costs *from* the sources; backward searches run on the reversed
/// arcs and give costs *to* the sources, which is how all units' times to one incident
/// come out of a single search. Results are exact (no heuristics, no pruning beyond the
/// caller's limit); equal-cost ties are broken by heap order.
public final class ShortestPathSearch {
    public enum Direction: Sendable { case forward, backward }

    public let direction: Direction
    /// Whether `pathArcs` is available; searches that only need costs skip the bookkeeping.
    public let recordsPaths: Bool
    private let nodeCount: Int
    private let start: [Int32]
    private let head: [Int32]
    private let cost: [Double]
    /// Backward searches walk reversed arcs; this maps each to the forward arc it mirrors.
    private let forwardArc: [Int32]?
    /// A second quantity summed along each best path (metres while minimising time, say).
    private let alongside: [Double]?
    private var carried: [Double]
    private var distance: [Double]
    private var parent: [Int32]
    private var touched: [Int32] = []
    private var heap = MinHeap()

    /// - Parameter alongside: per-arc values summed along each best path without steering
    ///   it (metres when the weights are seconds); read with `carried(_:)`.
    public init(graph: RoadGraph, weights: [Double], direction: Direction = .forward, recordsPaths: Bool = true, alongside: [Double]? = nil) {
        precondition(weights.count == graph.arcCount, "one weight per arc")
        precondition(alongside == nil || alongside!.count == graph.arcCount, "one alongside value per arc")
        self.direction = direction
        self.recordsPaths = recordsPaths
        nodeCount = graph.nodeCount
        switch direction {
        case .forward:
            start = graph.arcStart
            head = graph.arcHead
            cost = weights
            forwardArc = nil
            self.alongside = alongside
        case .backward:
            var reverseStart = [Int32](repeating: 0, count: graph.nodeCount + 1)
            for h in graph.arcHead { reverseStart[Int(h) + 1] += 1 }
            for v in 0..<graph.nodeCount { reverseStart[v + 1] += reverseStart[v] }
            var cursor = reverseStart
            var reverseHead = [Int32](repeating: 0, count: graph.arcCount)
            var reverseCost = [Double](repeating: 0, count: graph.arcCount)
            var mirror = [Int32](repeating: 0, count: graph.arcCount)
            for tail in 0..<graph.nodeCount {
                for arc in graph.arcs(from: tail) {
                    let h = Int(graph.arcHead[arc])
                    let slot = Int(cursor[h])
                    cursor[h] += 1
                    reverseHead[slot] = Int32(tail)
                    reverseCost[slot] = weights[arc]
                    mirror[slot] = Int32(arc)
                }
            }
            start = reverseStart
            head = reverseHead
            cost = reverseCost
            forwardArc = mirror
            self.alongside = alongside.map { values in mirror.map { values[Int($0)] } }
        }
        distance = [Double](repeating: .infinity, count: graph.nodeCount)
        parent = [Int32](repeating: -1, count: recordsPaths ? graph.nodeCount : 0)
        carried = [Double](repeating: 0, count: alongside == nil ? 0 : graph.nodeCount)
    }

    /// Runs from `sources` (node, starting cost). Stops at `limit` (nodes beyond it stay
    /// unreached), or as soon as every node in `targets` is settled. A node settled later
    /// than its `expandWithin` is reached but not gone through: for a caller who knows
    /// nothing beyond it can be of use (one entry per node).
    public func run(from sources: [(node: Int, cost: Double)], limit: Double = .infinity, targets: [Int]? = nil, expandWithin: [Double]? = nil) {
        precondition(expandWithin == nil || expandWithin!.count == nodeCount, "one expansion limit per node")
        reset()
        var remaining = 0
        var isTarget: [Bool] = []
        if let targets {
            isTarget = [Bool](repeating: false, count: nodeCount)
            for target in targets where !isTarget[target] {
                isTarget[target] = true
                remaining += 1
            }
        }
        // The loop works on buffers taken out of the object: class properties would pay a
        // dynamic exclusivity check on every access, which tripled the time per arc.
        var heap = self.heap, touched = self.touched, carried = self.carried
        self.heap = MinHeap()
        self.touched = []
        self.carried = []
        defer {
            self.heap = heap
            self.touched = touched
            self.carried = carried
        }
        let carries = alongside != nil, records = recordsPaths
        let alongside = self.alongside ?? []
        distance.withUnsafeMutableBufferPointer { distance in
            parent.withUnsafeMutableBufferPointer { parent in
                carried.withUnsafeMutableBufferPointer { carried in
                    Self.loop(sources: sources, limit: limit, stopAfter: targets == nil ? nil : remaining, isTarget: &isTarget,
                              expandWithin: expandWithin ?? [], start: start, head: head, cost: cost, alongside: alongside,
                              distance: distance, parent: records ? parent : nil, carried: carries ? carried : nil,
                              heap: &heap, touched: &touched)
                }
            }
        }
    }

    private static func loop(sources: [(node: Int, cost: Double)], limit: Double, stopAfter: Int?, isTarget: inout [Bool],
                             expandWithin: [Double], start: [Int32], head: [Int32], cost: [Double], alongside: [Double],
                             distance: UnsafeMutableBufferPointer<Double>, parent: UnsafeMutableBufferPointer<Int32>?,
                             carried: UnsafeMutableBufferPointer<Double>?, heap: inout MinHeap, touched: inout [Int32]) {
        var remaining = stopAfter ?? 0
        for source in sources where source.cost <= limit && source.cost < distance[source.node] {
            if distance[source.node] == .infinity { touched.append(Int32(source.node)) }
            distance[source.node] = source.cost
            parent?[source.node] = -1
            carried?[source.node] = 0
            heap.push(source.cost, Int32(source.node))
        }
        let limitsExpansion = !expandWithin.isEmpty
        start.withUnsafeBufferPointer { start in
            head.withUnsafeBufferPointer { head in
                cost.withUnsafeBufferPointer { cost in
                    alongside.withUnsafeBufferPointer { alongside in
                        expandWithin.withUnsafeBufferPointer { expandWithin in
                            while let (d, node) = heap.pop() {
                                let v = Int(node)
                                if d > distance[v] { continue }  // a stale entry: v was settled cheaper
                                if stopAfter != nil && isTarget[v] {
                                    isTarget[v] = false
                                    remaining -= 1
                                    if remaining == 0 { break }
                                }
                                if limitsExpansion && d > expandWithin[v] { continue }
                                for arc in Int(start[v])..<Int(start[v + 1]) {
                                    let next = d + cost[arc]
                                    guard next <= limit else { continue }
                                    let w = Int(head[arc])
                                    if next < distance[w] {
                                        if distance[w] == .infinity { touched.append(Int32(w)) }
                                        distance[w] = next
                                        parent?[w] = Int32(arc)
                                        if let carried { carried[w] = carried[v] + alongside[arc] }
                                        heap.push(next, Int32(w))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The `alongside` sum on the best path to (or from) `node`; 0 at the sources.
    public func carried(_ node: Int) -> Double {
        precondition(!carried.isEmpty, "this search was made without alongside values")
        return carried[node]
    }

    /// Cost from the sources (forward) or to them (backward); infinity when unreached.
    public func cost(_ node: Int) -> Double { distance[node] }

    /// Every node's cost after the last run.
    public var costs: [Double] { distance }

    /// Nodes reached by the last run.
    public var reached: [Int] { touched.map(Int.init) }

    /// The arcs (forward arc indices) of the best path between a source and `node`, in
    /// travel order: source → node for forward searches, node → source for backward ones.
    public func pathArcs(to node: Int) -> [Int]? {
        precondition(recordsPaths, "this search was made without recordsPaths")
        guard distance[node] < .infinity else { return nil }
        var arcs: [Int] = []
        var v = node
        while parent[v] >= 0 {
            let arc = Int(parent[v])
            arcs.append(forwardArc.map { Int($0[arc]) } ?? arc)
            v = tail(ofSearchArc: arc)
        }
        return direction == .forward ? arcs.reversed() : arcs
    }

    /// The node an arc of this search's own (possibly reversed) CSR leaves from.
    private func tail(ofSearchArc arc: Int) -> Int {
        RoadGraph.owner(ofArc: arc, offsets: start)
    }

    private func reset() {
        for node in touched { distance[Int(node)] = .infinity }
        if recordsPaths { for node in touched { parent[Int(node)] = -1 } }
        touched.removeAll(keepingCapacity: true)
        heap.removeAll()
    }
}

/// A 4-ary min-heap of (key, node) with lazy deletion (stale entries are skipped by the
/// caller), faster in practice than decrease-key on road graphs: shallower than a binary
/// heap, and each entry's key and node share a cache line.
struct MinHeap {
    private struct Entry {
        var key: Double
        var node: Int32
    }

    private var entries: [Entry] = []

    var isEmpty: Bool { entries.isEmpty }

    var peekKey: Double? { entries.first?.key }

    mutating func removeAll() { entries.removeAll(keepingCapacity: true) }

    mutating func push(_ key: Double, _ node: Int32) {
        entries.append(Entry(key: key, node: node))
        entries.withUnsafeMutableBufferPointer { heap in
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) >> 2
                guard heap[parent].key > key else { break }
                heap[child] = heap[parent]
                child = parent
            }
            heap[child] = Entry(key: key, node: node)
        }
    }

    mutating func pop() -> (Double, Int32)? {
        guard let top = entries.first else { return nil }
        let last = entries.removeLast()
        entries.withUnsafeMutableBufferPointer { heap in
            let count = heap.count
            guard count > 0 else { return }
            var position = 0
            while true {
                let first = 4 * position + 1
                if first >= count { break }
                var smallest = first
                var smallestKey = heap[first].key
                let end = min(first + 4, count)
                var child = first + 1
                while child < end {
                    if heap[child].key < smallestKey {
                        smallest = child
                        smallestKey = heap[child].key
                    }
                    child += 1
                }
                guard smallestKey < last.key else { break }
                heap[position] = heap[smallest]
                position = smallest
            }
            heap[position] = last
        }
        return (top.key, top.node)
    }
}

/// A best path and what it costs.
public struct Route: Sendable, Hashable {
    /// Dense node indices, from origin to destination.
    public var nodes: [Int]
    public var metres: Double
    public var seconds: Double
}

extension RoadGraph {
    /// The best path from `origin` to `destination` under `metric`, with its length and
    /// its time for `mode` (by default the metric's mode when it is a time, else `.car`).
    public func route(from origin: Int, to destination: Int, metric: Metric, mode: TravelMode? = nil,
                      speeds: SpeedTable = .default) -> Route? {
        let metricMode: TravelMode = if case .time(let m) = metric { m } else { .car }
        return route(from: origin, to: destination, weights: weights(metric, speeds: speeds), mode: mode ?? metricMode, speeds: speeds)
    }

    /// The same over `weights` already made for the metric (`weights(_:speeds:)`): a caller
    /// routing often keeps them instead of rebuilding one per arc for every route.
    public func route(from origin: Int, to destination: Int, weights: [Double], mode: TravelMode, speeds: SpeedTable = .default) -> Route? {
        let search = ShortestPathSearch(graph: self, weights: weights)
        search.run(from: [(origin, 0)], targets: [destination])
        guard let arcs = search.pathArcs(to: destination) else { return nil }
        var nodes = [origin]
        var metres = 0.0, seconds = 0.0
        for arc in arcs {
            nodes.append(Int(arcHead[arc]))
            metres += arcLength[arc]
            let speed = speeds.metresPerSecond(mode, arcClass[arc])
            seconds += speed > 0 ? arcLength[arc] / speed : .infinity
        }
        return Route(nodes: nodes, metres: metres, seconds: seconds)
    }

    /// How many nodes lie within each limit of `origin` (the origin included).
    public func reachableCounts(from origin: Int, within limits: [Double], metric: Metric, speeds: SpeedTable = .default) -> [Int] {
        let search = ShortestPathSearch(graph: self, weights: weights(metric, speeds: speeds), recordsPaths: false)
        search.run(from: [(origin, 0)], limit: limits.max() ?? 0)
        let reached = search.reached.map { search.cost($0) }
        return limits.map { limit in reached.count { $0 <= limit } }
    }
}
