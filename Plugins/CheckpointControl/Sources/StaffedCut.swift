/// The smallest set of road nodes cutting every directed path from a source to a set of
/// escape nodes, each held by a distinct unit able to reach it (a unit's options per
/// node). Shared by the interception ring (`Field`) and the seal feasibility map.
///
/// Exact: the fewest points come from a minimum vertex cut (`VertexCutNetwork`) over
/// chains of road (`Chains`); when a minimum cut cannot be staffed by distinct units
/// (Hall's condition fails for some of its points), a best-first branch and bound forbids
/// each point of the failing set in turn, the cut size bounding every branch, and drops a
/// branch whose maximum flow's disjoint escape paths cannot each have a unit of their own.
/// A budget of flows bounds the time; a search it cut short says so. Pure: no I/O.
struct StaffedCut {
    struct Option: Hashable {
        var unit: Int
        var time: Double
        /// The local node the unit would hold (for a chain, its best node on it).
        var node: Int
    }

    struct Ring {
        /// Local node and the unit (index into the problem's units) holding it.
        var points: [(node: Int, unit: Int, time: Double)]
    }

    struct Search {
        /// The smallest ring found, nil when there is none (or none was found in budget).
        var ring: Ring?
        /// Whether `ring` is proved smallest, or no ring proved to exist.
        var proved: Bool
        /// Maximum flows computed, dives included.
        var flows = 0
    }

    /// Flows for a search that refines an answer already found (the earliest latest
    /// arrival, a head start) in all: half the main search's.
    static func refiningBudget(_ budget: Int) -> Int { max(1, budget / 2) }

    /// Flows one bisection step of a refinement may use: a fifth of the refinement's, and
    /// never more than it has left.
    static func stepBudget(of refining: Int, left: Int) -> Int { min(max(1, refining / 5), left) }

    /// Chains of road between junctions, one cut point each: the network is cut by chain.
    let chains: Chains
    let network: VertexCutNetwork
    /// The source's local node.
    let source: Int
    let unitCount: Int
    /// Each chain's nearness to the source (the least of its nodes' `order`).
    let chainOrder: [Double]

    /// - Parameters:
    ///   - nodeCount: local nodes 0..<nodeCount; `arcs` between them.
    ///   - escape: nodes from which escape is complete.
    ///   - order: each node's nearness to the source (the suspect's earliest time, or its
    ///     distance): a dive moves the ring away from the source.
    init(nodeCount: Int, arcs: [(Int, Int)], escape: [Bool], source: Int, unitCount: Int, order: [Double]) {
        let chains = Chains(nodeCount: nodeCount, arcs: arcs, fixed: escape.indices.map { escape[$0] || $0 == source })
        self.chains = chains
        network = VertexCutNetwork(nodeCount: chains.count, arcs: chains.arcs, sinks: escape.indices.filter { escape[$0] }.map { chains.chain[$0] })
        self.source = source
        self.unitCount = unitCount
        chainOrder = chains.members.map { members in members.map { order[$0] }.min()! }
    }

    /// The smallest ring whose every point a distinct unit reaches within `limit`: best
    /// first over branches that each forbid some chains, a branch's maximum flow computed
    /// only when it is the most promising left (its parent's cut size bounds it until
    /// then) and continuing from its parent's flow. A branch is dropped when the disjoint
    /// escape paths of its flow cannot each get a distinct unit: every ring below it cuts
    /// each of those paths at a different point. When the budget of flows runs out, the
    /// best branch left is followed greedily to some ring.
    func smallest(options: [ArraySlice<Option>], within limit: Double = .infinity, atMost: Int = .max, flowLimit: Int) -> Search {
        let allowed = chains.merge(options, within: limit, unitCount: unitCount)
        let pathUnits = UnitSets(allowed.map { $0.map(\.unit) }, unitCount: unitCount)
        struct Branch {
            var forbidden: [Int]
            /// The parent's flow, shared until the branch is evaluated: most branches
            /// never are, and a copy each would cost more than their flows.
            var flow: VertexCutNetwork.Flow
            /// The chain this branch forbids beyond its parent's, not yet applied to `flow`.
            var forbids: Int?
            /// The minimum cut once the branch's flow is maximal.
            var cut: [Int]?
        }
        var queue = BranchQueue<Branch>()
        queue.push(Branch(forbidden: [], flow: network.flow(from: chains.chain[source], cuttable: allowed.map { !$0.isEmpty }), forbids: nil, cut: nil),
                   bound: 0, evaluated: false)
        var seen: Set<[Int]> = [[]]
        var flows = 0
        var scratch = network.scratch()
        while var branch = queue.pop() {
            guard let cut = branch.cut else {
                flows += 1
                if let node = branch.forbids { network.forbid(node, in: &branch.flow) }
                branch.forbids = nil
                guard case .cut(let cut) = network.minimumCut(&branch.flow, scratch: &scratch), cut.count <= atMost,
                      Self.distinctUnitsPossible(network.pathNodes(branch.flow, scratch: &scratch), units: pathUnits) else { continue }
                branch.cut = cut
                queue.push(branch, bound: cut.count, evaluated: true)
                continue
            }
            switch Self.staff(cut, allowed: allowed, unitCount: unitCount) {
            case .staffed(let points):
                return Search(ring: Ring(points: points), proved: true, flows: flows)
            case .short(let failing):
                guard flows < flowLimit else {
                    let dived = dive(branch.flow, allowed: allowed, failing: failing, pathUnits: pathUnits, atMost: atMost, steps: flowLimit, scratch: &scratch)
                    return Search(ring: dived.ring, proved: false, flows: flows + dived.flows)
                }
                // Any staffable ring leaves out at least one node of a set with too few units.
                for node in failing {
                    let forbidden = (branch.forbidden + [node]).sorted()
                    guard seen.insert(forbidden).inserted else { continue }
                    queue.push(Branch(forbidden: forbidden, flow: branch.flow, forbids: node, cut: nil), bound: cut.count, evaluated: false)
                }
            }
        }
        return Search(ring: nil, proved: true, flows: flows)
    }

    /// Among the rings as small as `ring`, one whose latest unit arrives earliest: a
    /// bisection on the arrival times allowed, below `ring`'s own latest, `flowLimit` flows
    /// in all and a fifth of them at most for each step (one cut short, or the flows
    /// spent, leave the answer later than need be, unproved).
    func earliest(options: [ArraySlice<Option>], as ring: Ring, flowLimit: Int) -> Search {
        let times = Array(Set(options.joined().map(\.time))).sorted()
        func index(below latest: Double) -> Int { times.firstIndex { $0 >= latest } ?? times.count - 1 }
        var low = 0, high = index(below: ring.points.map(\.time).max() ?? 0)
        var best = ring, proved = true, flows = 0
        while low < high {
            guard flows < flowLimit else {
                proved = false
                break
            }
            let middle = (low + high) / 2
            let within = smallest(options: options, within: times[middle], atMost: best.points.count,
                                  flowLimit: Self.stepBudget(of: flowLimit, left: flowLimit - flows))
            flows += within.flows
            proved = proved && within.proved
            if let found = within.ring {
                best = found
                // The ring found may arrive earlier than it was allowed to.
                high = min(middle, index(below: found.points.map(\.time).max() ?? 0))
            } else {
                low = middle + 1
            }
        }
        return Search(ring: best, proved: proved, flows: flows)
    }

    /// Some staffable ring, when only whether one exists matters: a greedy dive from the
    /// minimum cut usually finds one at once; only when it does not is the search for the
    /// smallest run to prove there is none.
    func any(options: [ArraySlice<Option>], flowLimit: Int) -> Search {
        let allowed = chains.merge(options, within: .infinity, unitCount: unitCount)
        let pathUnits = UnitSets(allowed.map { $0.map(\.unit) }, unitCount: unitCount)
        var flow = network.flow(from: chains.chain[source], cuttable: allowed.map { !$0.isEmpty })
        var scratch = network.scratch()
        guard case .cut(let cut) = network.minimumCut(&flow, scratch: &scratch),
              Self.distinctUnitsPossible(network.pathNodes(flow, scratch: &scratch), units: pathUnits) else {
            return Search(ring: nil, proved: true, flows: 1)
        }
        switch Self.staff(cut, allowed: allowed, unitCount: unitCount) {
        case .staffed(let points): return Search(ring: Ring(points: points), proved: true, flows: 1)
        case .short(let failing):
            let dived = dive(flow, allowed: allowed, failing: failing, pathUnits: pathUnits, steps: flowLimit, scratch: &scratch)
            let used = 1 + dived.flows
            if let ring = dived.ring { return Search(ring: ring, proved: true, flows: used) }
            var search = smallest(options: options, flowLimit: max(1, flowLimit - used))
            search.flows += used
            return search
        }
    }

    /// Whether the escape paths (each given by the cuttable chains on it, no chain on two)
    /// can each have its own unit, one able to hold some chain on it (Kuhn's matching).
    static func distinctUnitsPossible(_ paths: [[Int]], units: UnitSets) -> Bool {
        let choices = paths.map { units.members(ofUnionOf: $0) }
        var holder = [Int](repeating: -1, count: units.unitCount)  // unit → path
        var visited = [Bool](repeating: false, count: units.unitCount)
        func augment(_ path: Int) -> Bool {
            for unit in choices[path] where !visited[unit] {
                visited[unit] = true
                if holder[unit] >= 0, !augment(holder[unit]) { continue }
                holder[unit] = path
                return true
            }
            return false
        }
        for path in paths.indices {
            for unit in visited.indices { visited[unit] = false }
            guard augment(path) else { return false }
        }
        return true
    }

    /// Some staffable ring, not necessarily smallest: from a branch, forbid the node of
    /// each failing set nearest the source (lowest in `chainOrder`), so the ring moves
    /// out to where units have more time, until the cut is staffed.
    private func dive(_ flow: VertexCutNetwork.Flow, allowed: [[Option]], failing: [Int], pathUnits: UnitSets, atMost: Int = .max, steps: Int,
                      scratch: inout VertexCutNetwork.Scratch) -> (ring: Ring?, flows: Int) {
        var flow = flow, failing = failing
        for step in 1...max(1, steps) {
            network.forbid(failing.min { (chainOrder[$0], $0) < (chainOrder[$1], $1) }!, in: &flow)
            guard case .cut(let cut) = network.minimumCut(&flow, scratch: &scratch), cut.count <= atMost,
                  Self.distinctUnitsPossible(network.pathNodes(flow, scratch: &scratch), units: pathUnits) else { return (nil, step) }
            switch Self.staff(cut, allowed: allowed, unitCount: unitCount) {
            case .staffed(let points): return (Ring(points: points), step)
            case .short(let next): failing = next
            }
        }
        return (nil, max(1, steps))
    }

    enum Staffing {
        case staffed([(node: Int, unit: Int, time: Double)])
        /// Chains that together have fewer units able to reach them than there are chains.
        case short([Int])
    }

    /// A distinct unit for every node (Kuhn's augmenting paths), each node taking its
    /// quickest unit where the matching allows; or a set violating Hall's condition.
    /// `allowed` lists each chain's options quickest first.
    static func staff(_ cut: [Int], allowed: [[Option]], unitCount units: Int) -> Staffing {
        let choices = cut.map { allowed[$0] }
        var holder = [Int](repeating: -1, count: units)  // unit → index in cut
        var visited = [Int](repeating: -1, count: units)  // unit → the round that visited it
        func augment(_ index: Int, round: Int) -> Bool {
            for option in choices[index] where visited[option.unit] != round {
                visited[option.unit] = round
                if holder[option.unit] >= 0 {
                    guard augment(holder[option.unit], round: round) else { continue }
                }
                holder[option.unit] = index
                return true
            }
            return false
        }
        for index in cut.indices where !augment(index, round: index) {
            // Alternating search from the unplaced node: every node it meets competes
            // for the units it meets, which are one fewer.
            var nodes: Set<Int> = [index], frontier = [index], met = [Bool](repeating: false, count: units)
            while let next = frontier.popLast() {
                for option in choices[next] where !met[option.unit] {
                    met[option.unit] = true
                    if holder[option.unit] >= 0, nodes.insert(holder[option.unit]).inserted { frontier.append(holder[option.unit]) }
                }
            }
            return .short(nodes.map { cut[$0] }.sorted())
        }
        var points: [(node: Int, unit: Int, time: Double)] = []
        for (unit, index) in holder.enumerated() where index >= 0 {
            let option = choices[index].first { $0.unit == unit }!
            points.append((option.node, unit, option.time))
        }
        return .staffed(points.sorted { $0.node < $1.node })
    }

}

/// Branch-and-bound nodes best first: the lowest bound, then one already evaluated
/// (it may be a ring) before one not yet, then the oldest. Bounds are cut sizes, small
/// integers, so a list for each; a scan of one list per pop, not of every branch.
struct BranchQueue<Element> {
    /// At 2 × bound for evaluated branches, 2 × bound + 1 for the rest; a popped
    /// branch's slot is emptied so its flow is freed.
    private var lists: [[Element?]] = []
    private var heads: [Int] = []
    private var lowest = 0

    mutating func push(_ element: Element, bound: Int, evaluated: Bool) {
        let list = 2 * bound + (evaluated ? 0 : 1)
        while lists.count <= list {
            lists.append([])
            heads.append(0)
        }
        lists[list].append(element)
        lowest = min(lowest, list)
    }

    mutating func pop() -> Element? {
        while lowest < lists.count {
            let head = heads[lowest]
            if head < lists[lowest].count {
                heads[lowest] = head + 1
                let element = lists[lowest][head]
                lists[lowest][head] = nil
                return element
            }
            lowest += 1
        }
        return nil
    }
}
