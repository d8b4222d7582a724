/// A contraction hierarchy over one cost per arc: nodes are ranked, and "shortcut" arcs
/// are added so that every best path climbs to its highest-ranked node and then only
/// descends. Built once per graph and metric (seconds), it answers "every node's cost to
/// one target" with a small upward search from the target and one linear sweep over the
/// nodes from the top rank down (PHAST, Delling et al. 2011), instead of a Dijkstra over
/// the whole graph. That is GridModel's Eta: all units to one incident.
///
/// Costs equal Dijkstra's up to floating-point summation order (shortcuts add the same
/// arc costs in a different grouping). Arcs that cost infinity (closed to the mode) are
/// left out. Witness searches are bounded; a bound that gives up only adds a shortcut,
/// which never makes an answer wrong.
public final class ContractionHierarchy: Sendable {
    public let nodeCount: Int
    /// The contraction rank of each node (0 = first contracted, least important).
    let rank: [Int32]
    /// Arcs to higher-ranked nodes, by the tail's rank; heads are ranks.
    let upStart: [Int32]
    let upHead: [Int32]
    let upCost: [Double]
    let upCarried: [Double]
    /// Arcs from higher-ranked nodes, by the head's rank; tails are ranks.
    let downStart: [Int32]
    let downTail: [Int32]
    let downCost: [Double]
    let downCarried: [Double]

    /// Arcs of the hierarchy including shortcuts; `arcCount - graph.arcCount` were added.
    public var arcCount: Int { upHead.count + downTail.count }

    init(rank: [Int32], up: (start: [Int32], head: [Int32], cost: [Double], carried: [Double]),
         down: (start: [Int32], tail: [Int32], cost: [Double], carried: [Double])) {
        nodeCount = rank.count
        self.rank = rank
        (upStart, upHead, upCost, upCarried) = up
        (downStart, downTail, downCost, downCarried) = down
    }

    /// - Parameters:
    ///   - alongside: per-arc values summed along each best path (metres while the weights
    ///     are seconds), carried through shortcuts.
    ///   - witnessLimit: nodes a witness search may settle before it gives up.
    public init(graph: RoadGraph, weights: [Double], alongside: [Double]? = nil, witnessLimit: Int = 400) {
        precondition(weights.count == graph.arcCount, "one weight per arc")
        precondition(alongside == nil || alongside!.count == graph.arcCount, "one alongside value per arc")
        var contraction = Contraction(graph: graph, weights: weights, alongside: alongside, witnessLimit: witnessLimit)
        let order = contraction.run()
        let n = graph.nodeCount
        nodeCount = n
        var rank = [Int32](repeating: 0, count: n)
        for (position, node) in order.enumerated() { rank[Int(node)] = Int32(position) }
        self.rank = rank

        func pack(_ lists: [[Contraction.Edge]]) -> ([Int32], [Int32], [Double], [Double]) {
            var start = [Int32](repeating: 0, count: n + 1)
            var other: [Int32] = [], cost: [Double] = [], carried: [Double] = []
            for position in 0..<n {
                // Higher ranks first: the sweep then reads the slots it wrote most recently.
                for edge in lists[Int(order[position])].sorted(by: { rank[Int($0.other)] > rank[Int($1.other)] }) {
                    other.append(rank[Int(edge.other)])
                    cost.append(edge.cost)
                    carried.append(edge.carried)
                }
                start[position + 1] = Int32(other.count)
            }
            return (start, other, cost, carried)
        }
        (upStart, upHead, upCost, upCarried) = pack(contraction.upward)
        (downStart, downTail, downCost, downCarried) = pack(contraction.downward)
    }
}

/// The bookkeeping of building a hierarchy: a shrinking graph of adjacency lists.
private struct Contraction {
    struct Edge {
        var other: Int32
        var cost: Double
        var carried: Double
    }

    var outgoing: [[Edge]]
    var incoming: [[Edge]]
    var contracted: [Bool]
    var contractedNeighbours: [Int32]
    /// Final arcs of each node to nodes contracted after it (tail's view), and from them.
    var upward: [[Edge]]
    var downward: [[Edge]]
    let witnessLimit: Int
    // Witness search scratch.
    var distance: [Double]
    var touched: [Int32] = []
    var heap = MinHeap()

    init(graph: RoadGraph, weights: [Double], alongside: [Double]?, witnessLimit: Int) {
        let n = graph.nodeCount
        outgoing = [[Edge]](repeating: [], count: n)
        incoming = [[Edge]](repeating: [], count: n)
        for tail in 0..<n {
            for arc in graph.arcs(from: tail) {
                let head = Int(graph.arcHead[arc])
                guard head != tail, weights[arc].isFinite else { continue }
                Self.keepCheaper(&outgoing[tail], Edge(other: Int32(head), cost: weights[arc], carried: alongside?[arc] ?? 0))
                Self.keepCheaper(&incoming[head], Edge(other: Int32(tail), cost: weights[arc], carried: alongside?[arc] ?? 0))
            }
        }
        contracted = [Bool](repeating: false, count: n)
        contractedNeighbours = [Int32](repeating: 0, count: n)
        upward = [[Edge]](repeating: [], count: n)
        downward = [[Edge]](repeating: [], count: n)
        self.witnessLimit = witnessLimit
        distance = [Double](repeating: .infinity, count: n)
    }

    /// Adds `edge` unless an arc to the same node is at least as cheap; replaces a dearer one.
    static func keepCheaper(_ list: inout [Edge], _ edge: Edge) {
        if let index = list.firstIndex(where: { $0.other == edge.other }) {
            if edge.cost < list[index].cost { list[index] = edge }
        } else {
            list.append(edge)
        }
    }

    /// Contracts every node, least important first; returns the contraction order.
    mutating func run() -> [Int32] {
        let n = contracted.count
        var priority = [Double](repeating: 0, count: n)
        var queue = MinHeap()
        for v in 0..<n {
            priority[v] = self.priority(of: v)
            queue.push(priority[v], Int32(v))
        }
        var order: [Int32] = []
        order.reserveCapacity(n)
        while let (key, node) = queue.pop() {
            let v = Int(node)
            if contracted[v] || key != priority[v] { continue }
            // Lazy update: a priority may have risen since it was queued.
            let fresh = self.priority(of: v)
            if fresh > key, let next = queue.peekKey, fresh > next {
                priority[v] = fresh
                queue.push(fresh, node)
                continue
            }
            contract(v)
            order.append(node)
            var neighbours = Set(outgoing[v].map(\.other))
            neighbours.formUnion(incoming[v].map(\.other))
            for neighbour in neighbours {
                let w = Int(neighbour)
                contractedNeighbours[w] += 1
                priority[w] = self.priority(of: w)
                queue.push(priority[w], neighbour)
            }
        }
        return order
    }

    /// Edge difference plus contracted neighbours: prefers nodes whose removal adds few
    /// shortcuts, spread evenly over the graph.
    mutating func priority(of v: Int) -> Double {
        let shortcuts = shortcutsNeeded(v, limit: witnessLimit / 4).count
        return Double(2 * (shortcuts - outgoing[v].count - incoming[v].count)) + Double(contractedNeighbours[v])
    }

    /// The shortcuts removing `v` would need: pairs u → w whose best path runs through v.
    mutating func shortcutsNeeded(_ v: Int, limit: Int) -> [(tail: Int32, edge: Edge)] {
        var needed: [(tail: Int32, edge: Edge)] = []
        let outs = outgoing[v]
        guard !outs.isEmpty else { return [] }
        let longestOut = outs.map(\.cost).max()!
        for inbound in incoming[v] {
            let u = Int(inbound.other)
            witnessSearch(from: u, avoiding: v, within: inbound.cost + longestOut, settleLimit: limit)
            for outbound in outs where Int(outbound.other) != u {
                let via = inbound.cost + outbound.cost
                if distance[Int(outbound.other)] > via {
                    needed.append((Int32(u), Edge(other: outbound.other, cost: via, carried: inbound.carried + outbound.carried)))
                }
            }
        }
        return needed
    }

    mutating func contract(_ v: Int) {
        for (tail, edge) in shortcutsNeeded(v, limit: witnessLimit) {
            Self.keepCheaper(&outgoing[Int(tail)], edge)
            Self.keepCheaper(&incoming[Int(edge.other)], Edge(other: tail, cost: edge.cost, carried: edge.carried))
        }
        contracted[v] = true
        upward[v] = outgoing[v]
        downward[v] = incoming[v]
        for edge in outgoing[v] { incoming[Int(edge.other)].removeAll { $0.other == Int32(v) } }
        for edge in incoming[v] { outgoing[Int(edge.other)].removeAll { $0.other == Int32(v) } }
        outgoing[v] = []
        incoming[v] = []
    }

    /// Dijkstra from `source` over the remaining graph without `avoided`, up to cost
    /// `bound` or `settleLimit` settled nodes; leaves costs in `distance`.
    mutating func witnessSearch(from source: Int, avoiding avoided: Int, within bound: Double, settleLimit: Int) {
        for node in touched { distance[Int(node)] = .infinity }
        touched.removeAll(keepingCapacity: true)
        heap.removeAll()
        distance[source] = 0
        touched.append(Int32(source))
        heap.push(0, Int32(source))
        var settled = 0
        while let (d, node) = heap.pop() {
            let v = Int(node)
            if d > distance[v] { continue }
            if d > bound { break }
            settled += 1
            if settled > settleLimit { break }
            for edge in outgoing[v] where Int(edge.other) != avoided {
                let w = Int(edge.other)
                let next = d + edge.cost
                if next < distance[w] {
                    if distance[w] == .infinity { touched.append(edge.other) }
                    distance[w] = next
                    heap.push(next, edge.other)
                }
            }
        }
    }
}

/// Every node's cost to one target over a `ContractionHierarchy`, with reusable scratch
/// arrays; one per caller at a time.
public final class ManyToOneSearch {
    public let hierarchy: ContractionHierarchy
    /// By rank.
    private var distance: [Double]
    private var carried: [Double]
    private var heap = MinHeap()

    public init(hierarchy: ContractionHierarchy) {
        self.hierarchy = hierarchy
        distance = [Double](repeating: .infinity, count: hierarchy.nodeCount)
        carried = [Double](repeating: 0, count: hierarchy.nodeCount)
    }

    /// Costs from every node to `target`, which is reached at `startCost`.
    public func run(to target: Int, startCost: Double = 0) {
        let h = hierarchy
        var heap = self.heap
        self.heap = MinHeap()
        defer { self.heap = heap }
        heap.removeAll()
        distance.withUnsafeMutableBufferPointer { distance in
            carried.withUnsafeMutableBufferPointer { carried in
                distance.update(repeating: .infinity)
                // Upward from the target over arcs that come down into it.
                let top = Int(h.rank[target])
                distance[top] = startCost
                carried[top] = 0
                heap.push(startCost, Int32(top))
                h.downStart.withUnsafeBufferPointer { start in
                    h.downTail.withUnsafeBufferPointer { tail in
                        h.downCost.withUnsafeBufferPointer { cost in
                            h.downCarried.withUnsafeBufferPointer { along in
                                while let (d, node) = heap.pop() {
                                    let y = Int(node)
                                    if d > distance[y] { continue }
                                    for arc in Int(start[y])..<Int(start[y + 1]) {
                                        let u = Int(tail[arc])
                                        let next = d + cost[arc]
                                        if next < distance[u] {
                                            distance[u] = next
                                            carried[u] = carried[y] + along[arc]
                                            heap.push(next, Int32(u))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                // Then every node from the top rank down: its best path first climbs by
                // one of its upward arcs to a node already final, or starts in the search.
                h.upStart.withUnsafeBufferPointer { start in
                    h.upHead.withUnsafeBufferPointer { head in
                        h.upCost.withUnsafeBufferPointer { cost in
                            h.upCarried.withUnsafeBufferPointer { along in
                                var v = h.nodeCount - 1
                                while v >= 0 {
                                    var best = distance[v], bestCarried = carried[v]
                                    for arc in Int(start[v])..<Int(start[v + 1]) {
                                        let x = Int(head[arc])
                                        let through = cost[arc] + distance[x]
                                        if through < best {
                                            best = through
                                            bestCarried = along[arc] + carried[x]
                                        }
                                    }
                                    distance[v] = best
                                    carried[v] = bestCarried
                                    v -= 1
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Cost from `node` to the last run's target; infinity when it cannot get there.
    public func cost(_ node: Int) -> Double { distance[Int(hierarchy.rank[node])] }

    /// The alongside sum on that best path (0 at the target, undefined when unreachable).
    public func carried(_ node: Int) -> Double { carried[Int(hierarchy.rank[node])] }
}
