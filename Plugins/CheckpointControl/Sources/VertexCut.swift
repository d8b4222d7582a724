/// Minimum vertex cuts between a source and a set of sinks in a directed graph, by
/// max-flow on the node-split graph (Menger): every node becomes an in-half and an
/// out-half joined by an arc of capacity 1 when the node may be cut and unbounded when it
/// may not; every graph arc runs from its tail's out-half to its head's in-half, unbounded.
/// A maximum flow's value is the fewest nodes whose removal leaves no path, and the
/// nodes whose in-half the residual graph still reaches but whose out-half it does not
/// are such a set. Pure: no I/O.
struct VertexCutNetwork {
    /// Flow-graph arcs: head, residual capacity, and the index of the reverse arc.
    private var head: [Int32] = []
    private var residual: [Int32] = []
    private var first: [Int32]
    private var next: [Int32] = []
    private let nodeCount: Int
    private let sink: Int
    private static let unbounded: Int32 = 1 << 28

    /// - Parameters:
    ///   - nodeCount: nodes 0..<nodeCount.
    ///   - arcs: directed graph arcs (tail, head).
    ///   - sinks: nodes from which escape is complete (each joined to the super-sink).
    init(nodeCount: Int, arcs: [(Int, Int)], sinks: [Int]) {
        precondition(nodeCount < Int(Self.unbounded / 4), "too many nodes for the unbounded capacity")
        self.nodeCount = nodeCount
        sink = 2 * nodeCount
        first = [Int32](repeating: -1, count: 2 * nodeCount + 1)
        for node in 0..<nodeCount { addArc(2 * node, 2 * node + 1, Self.unbounded) }
        for (tail, headNode) in arcs where tail != headNode { addArc(2 * tail + 1, 2 * headNode, Self.unbounded) }
        for node in sinks { addArc(2 * node + 1, sink, Self.unbounded) }
    }

    private mutating func addArc(_ from: Int, _ to: Int, _ capacity: Int32) {
        for (a, b, c) in [(from, to, capacity), (to, from, Int32(0))] {
            head.append(Int32(b))
            residual.append(c)
            next.append(first[a])
            first[a] = Int32(head.count - 1)
        }
    }

    enum Outcome: Equatable {
        /// The fewest cuttable nodes separating the source from every sink.
        case cut([Int])
        /// Some path from the source to a sink passes no cuttable node.
        case inseparable
    }

    /// A flow from one source, kept so a branch that forbids one more node continues from
    /// its parent's flow (still valid: a capacity only grows) instead of starting over.
    struct Flow {
        fileprivate var residual: [Int32]
        fileprivate let source: Int
        fileprivate var cuttable: [Bool]
        fileprivate(set) var value = 0
    }

    /// No flow yet, with only `cuttable` nodes cuttable (the source never is).
    func flow(from source: Int, cuttable: [Bool]) -> Flow {
        var residual = self.residual
        var cuttable = cuttable
        cuttable[source] = false
        // The split arcs were added first, each with its reverse: node v's is arc 2v.
        for node in 0..<nodeCount where cuttable[node] { residual[2 * node] = 1 }
        return Flow(residual: residual, source: source, cuttable: cuttable)
    }

    /// Makes `node` uncuttable in `flow`, keeping the flow already through it.
    func forbid(_ node: Int, in flow: inout Flow) {
        guard flow.cuttable[node] else { return }
        flow.cuttable[node] = false
        flow.residual[2 * node] += Self.unbounded - 1
    }

    /// The minimum cut when only `cuttable` nodes may be cut (the source never is).
    func minimumCut(from source: Int, cuttable: [Bool]) -> Outcome {
        var flow = flow(from: source, cuttable: cuttable)
        return minimumCut(&flow)
    }

    /// Buffers a search reuses from flow to flow (a branch and bound computes hundreds),
    /// sized for one network.
    struct Scratch {
        fileprivate var parentArc: [Int32]
        /// `parentArc[v]` holds for this search only where `stamp[v] == round`.
        fileprivate var stamp: [UInt32]
        fileprivate var round: UInt32 = 0
        fileprivate var queue: [Int32] = []
        fileprivate var left: [Int32]
        fileprivate var onWalk: [Int32]
    }

    func scratch() -> Scratch {
        let vertices = 2 * nodeCount + 1
        return Scratch(parentArc: [Int32](repeating: -1, count: vertices), stamp: [UInt32](repeating: 0, count: vertices),
                       left: [Int32](repeating: 0, count: head.count), onWalk: [Int32](repeating: -1, count: vertices))
    }

    func pathNodes(_ flow: Flow) -> [[Int]] {
        var scratch = scratch()
        return pathNodes(flow, scratch: &scratch)
    }

    /// A maximum flow taken apart into its `value` paths from the source to the sinks,
    /// each given by the cuttable nodes on it. A cuttable node carries one unit of flow, so
    /// none is on two paths; a cycle met on the way is cancelled, not followed.
    func pathNodes(_ flow: Flow, scratch: inout Scratch) -> [[Int]] {
        // Taken out of the scratch for the loop, so each access is a plain array's.
        var left = scratch.left, onWalk = scratch.onWalk
        scratch.left = []
        scratch.onWalk = []
        defer {
            scratch.left = left
            scratch.onWalk = onWalk
        }
        // Flow on a forward arc (even index) is its reverse's residual, which starts at 0.
        for arc in stride(from: 0, to: head.count, by: 2) { left[arc] = flow.residual[arc + 1] }
        let start = 2 * flow.source + 1
        var paths: [[Int]] = []
        var walk: [Int] = [], arcs: [Int] = []
        for _ in 0..<flow.value {
            walk.removeAll(keepingCapacity: true)
            arcs.removeAll(keepingCapacity: true)
            walk.append(start)
            onWalk[start] = 0
            var at = start
            while at != sink {
                var arc = Int(first[at])
                while arc >= 0 && (arc & 1 == 1 || left[arc] == 0) { arc = Int(next[arc]) }
                guard arc >= 0 else { break }  // unreachable for a valid flow
                at = Int(head[arc])
                if onWalk[at] >= 0 {
                    // A cycle: cancel it and carry on from where it began.
                    let back = Int(onWalk[at])
                    left[arc] -= 1
                    for cycleArc in arcs[back...] { left[cycleArc] -= 1 }
                    for vertex in walk[(back + 1)...] { onWalk[vertex] = -1 }
                    walk.removeSubrange((back + 1)...)
                    arcs.removeSubrange(back...)
                } else {
                    onWalk[at] = Int32(walk.count)
                    walk.append(at)
                    arcs.append(arc)
                }
            }
            for vertex in walk { onWalk[vertex] = -1 }
            var cuttable: [Int] = []
            for arc in arcs {
                left[arc] -= 1
                // Split arcs come first: node v's is arc 2v.
                if arc < 2 * nodeCount && flow.cuttable[arc / 2] { cuttable.append(arc / 2) }
            }
            paths.append(cuttable)
        }
        return paths
    }

    func minimumCut(_ flow: inout Flow) -> Outcome {
        var scratch = scratch()
        return minimumCut(&flow, scratch: &scratch)
    }

    /// Augments `flow` to a maximum one and reads the minimum cut from it.
    func minimumCut(_ flow: inout Flow, scratch: inout Scratch) -> Outcome {
        let start = 2 * flow.source + 1
        while true {
            // A new round instead of clearing every vertex's parent.
            scratch.round &+= 1
            if scratch.round == 0 {
                for index in scratch.stamp.indices { scratch.stamp[index] = 0 }
                scratch.round = 1
            }
            let round = scratch.round
            scratch.parentArc[start] = -2
            scratch.stamp[start] = round
            scratch.queue.removeAll(keepingCapacity: true)
            scratch.queue.append(Int32(start))
            var cursor = 0, reachedSink = false
            search: while cursor < scratch.queue.count {
                let vertex = Int(scratch.queue[cursor])
                cursor += 1
                var arc = first[vertex]
                while arc >= 0 {
                    let to = Int(head[Int(arc)])
                    if flow.residual[Int(arc)] > 0 && scratch.stamp[to] != round {
                        scratch.stamp[to] = round
                        scratch.parentArc[to] = arc
                        if to == sink {
                            reachedSink = true
                            break search
                        }
                        scratch.queue.append(Int32(to))
                    }
                    arc = next[Int(arc)]
                }
            }
            guard reachedSink else { break }
            var bottleneck = Self.unbounded
            var vertex = sink
            while vertex != start {
                let arc = Int(scratch.parentArc[vertex])
                bottleneck = min(bottleneck, flow.residual[arc])
                vertex = Int(head[arc ^ 1])
            }
            // Unbounded arcs lose at most one unit per earlier augmentation (fewer than the
            // nodes), so a path of them alone still has a bottleneck above half of it.
            if bottleneck > Self.unbounded / 2 { return .inseparable }
            vertex = sink
            while vertex != start {
                let arc = Int(scratch.parentArc[vertex])
                flow.residual[arc] -= bottleneck
                flow.residual[arc ^ 1] += bottleneck
                vertex = Int(head[arc ^ 1])
            }
            flow.value += Int(bottleneck)
        }
        // The last round's stamps mark what the residual graph reaches from the source.
        let round = scratch.round
        let cut = (0..<nodeCount).filter { flow.cuttable[$0] && scratch.stamp[2 * $0] == round && scratch.stamp[2 * $0 + 1] != round }
        assert(cut.count == flow.value, "a minimum cut has as many nodes as the flow")
        return .cut(cut)
    }
}
