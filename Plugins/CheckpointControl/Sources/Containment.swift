public import XunfangGeo

/// A containment problem the plugin or the CLI could not take, naming what is wrong.
public struct ContainmentError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable { case invalidArgument, notFound }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { message }
}

/// "Who gets there first": the interception ring around an incident. The suspect left the
/// incident node `headStart` ago and may be anywhere it could have reached; the ring is a
/// set of road nodes that every directed road path from the incident to the escape set
/// passes through, each held by a distinct unit that reaches it at least `margin` before
/// the suspect can. Escape: the first node beyond `boundary` on every road, and the
/// county's exits. All quantities are in the weights' unit (seconds, or metres when
/// everyone moves at one speed).
///
/// Exact: the fewest points come from a minimum vertex cut (`VertexCutNetwork`); when a
/// minimum cut cannot be staffed by distinct units (Hall's condition fails for some of its
/// points), a best-first branch and bound forbids each point of the failing set in turn,
/// the cut size bounding every branch. Among the smallest rings the latest police arrival
/// is minimised by bisecting on the arrivals allowed. Pure: no I/O.
public enum Containment {
    public struct Unit: Sendable, Hashable {
        public var id: String
        public var node: Int
        /// Index into `Problem.policeWeights`.
        public var weightSet: Int
        /// A staffed checkpoint: holds its own node at once and nothing else.
        public var fixed: Bool

        public init(id: String, node: Int, weightSet: Int = 0, fixed: Bool = false) {
            self.id = id
            self.node = node
            self.weightSet = weightSet
            self.fixed = fixed
        }
    }

    public struct Problem: Sendable {
        public var graph: RoadGraph
        public var suspectWeights: [Double]
        public var policeWeights: [[Double]]
        public var incident: Int
        public var headStart: Double
        public var boundary: Double
        public var margin: Double
        public var units: [Unit]
        public var exits: [Int]
        /// Branch-and-bound nodes explored before the best ring found is given as not proved.
        public var searchBudget: Int

        public init(graph: RoadGraph, suspectWeights: [Double], policeWeights: [[Double]], incident: Int, headStart: Double, boundary: Double,
                    margin: Double = 0, units: [Unit], exits: [Int] = [], searchBudget: Int = Containment.defaultSearchBudget) {
            self.graph = graph
            self.suspectWeights = suspectWeights
            self.policeWeights = policeWeights
            self.incident = incident
            self.headStart = headStart
            self.boundary = boundary
            self.margin = margin
            self.units = units
            self.exits = exits
            self.searchBudget = searchBudget
        }
    }

    public struct Point: Sendable, Hashable {
        public var node: Int
        /// The unit holding it ("" in `needed`).
        public var unit: String
        /// When the suspect can first be there, from now.
        public var suspect: Double
        /// When the unit is there, from now (in `needed`: the latest a unit may arrive).
        public var police: Double
    }

    public struct Answer: Sendable, Hashable {
        public var feasible: Bool
        public var ring: [Point]
        /// Escape arcs (graph arc indices) that no possible ring point cuts.
        public var uncovered: [Int]
        /// Whether the ring is proved smallest with the earliest latest arrival, or no ring
        /// proved to exist (false only when the search ran out of budget).
        public var proved: Bool
        /// When infeasible: the largest head start at which a ring could be held (nil if
        /// none, even with no head start).
        public var feasibleHeadStart: Double?
        /// When infeasible: the points of the smallest ring any units could hold, with
        /// the time by which each must be held.
        public var needed: [Point]
        public var reason: String

        public var latestPolice: Double { ring.map(\.police).max() ?? 0 }
    }

    public static let defaultSearchBudget = 500

    public static func solve(_ problem: Problem) throws(ContainmentError) -> Answer {
        try validate(problem)
        let field = try Field(problem)
        guard field.isEscape.contains(true) else {
            return Answer(feasible: true, ring: [], uncovered: [], proved: true, feasibleHeadStart: nil, needed: [],
                          reason: "no road from the incident leads beyond the boundary or to an exit")
        }
        let options = field.options(headStart: problem.headStart)
        let search = field.smallestRing(options: options, within: .infinity)
        guard let smallest = search.ring else {
            var answer = field.infeasible(options: options)
            if !search.proved {
                answer.proved = false
                answer.reason = "no ring was found before the search budget of \(problem.searchBudget) branches ran out; one may still exist"
            }
            return answer
        }
        // The smallest size is known; now the earliest latest arrival that still allows it.
        let times = Array(Set(options.joined().map(\.time))).sorted()
        var low = 0, high = times.count - 1
        var best = smallest
        var proved = search.proved
        while low < high {
            let middle = (low + high) / 2
            let within = field.smallestRing(options: options, within: times[middle])
            proved = proved && within.proved
            if let ring = within.ring, ring.points.count <= best.points.count {
                best = ring
                high = middle
            } else {
                low = middle + 1
            }
        }
        return Answer(feasible: true, ring: best.points.map { field.point($0.node, unit: problem.units[$0.unit].id, police: $0.time) },
                      uncovered: [], proved: proved, feasibleHeadStart: nil, needed: [], reason: "")
    }

    static func validate(_ problem: Problem) throws(ContainmentError) {
        let graph = problem.graph
        guard graph.nodeCount > 0, (0..<graph.nodeCount).contains(problem.incident) else {
            throw ContainmentError(.notFound, "incident node \(problem.incident) is not in the road graph")
        }
        guard problem.suspectWeights.count == graph.arcCount, problem.policeWeights.allSatisfy({ $0.count == graph.arcCount }) else {
            throw ContainmentError(.invalidArgument, "one weight per arc is needed for the suspect and for every police weight set")
        }
        guard problem.headStart.isFinite, problem.headStart >= 0 else { throw ContainmentError(.invalidArgument, "head start \(problem.headStart) must be 0 or more") }
        guard problem.margin.isFinite, problem.margin >= 0 else { throw ContainmentError(.invalidArgument, "margin \(problem.margin) must be 0 or more") }
        guard problem.boundary.isFinite, problem.boundary > problem.headStart else {
            throw ContainmentError(.invalidArgument, "boundary \(problem.boundary) must be beyond the head start \(problem.headStart)")
        }
        guard problem.searchBudget >= 1 else { throw ContainmentError(.invalidArgument, "search budget \(problem.searchBudget) must be at least 1") }
        var seen: Set<String> = []
        for unit in problem.units {
            guard seen.insert(unit.id).inserted else { throw ContainmentError(.invalidArgument, "unit \(unit.id) appears twice") }
            guard (0..<graph.nodeCount).contains(unit.node) else { throw ContainmentError(.notFound, "unit \(unit.id): node \(unit.node) is not in the road graph") }
            guard problem.policeWeights.indices.contains(unit.weightSet) else {
                throw ContainmentError(.invalidArgument, "unit \(unit.id): weight set \(unit.weightSet) does not exist")
            }
        }
        for exit in problem.exits where !(0..<graph.nodeCount).contains(exit) {
            throw ContainmentError(.notFound, "exit node \(exit) is not in the road graph")
        }
    }
}

/// One incident's search space: the nodes the suspect can reach within the boundary, the
/// first node beyond it on every road (the escape set, with the exits inside), the
/// suspect's earliest time at each and every unit's.
struct Field {
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

    let problem: Containment.Problem
    /// Local node → graph node, and back (-1: outside the field).
    let nodes: [Int]
    let local: [Int32]
    /// The suspect's earliest time at each local node, from the incident.
    let suspect: [Double]
    let isEscape: [Bool]
    /// Local arcs and the graph arc each came from.
    let arcs: [(Int, Int)]
    let graphArcs: [Int]
    /// Each unit's (index, time) at each local node it reaches before the suspect could
    /// with no head start at all; `options(headStart:)` narrows them.
    let reach: [[Field.Option]]
    /// Chains of road between junctions, one cut point each: the network is cut by chain.
    let chains: Chains
    /// The suspect's earliest time on each chain.
    let chainSuspect: [Double]
    let network: VertexCutNetwork
    let incident: Int

    init(_ problem: Containment.Problem) throws(ContainmentError) {
        self.problem = problem
        let graph = problem.graph
        let search = ShortestPathSearch(graph: graph, weights: problem.suspectWeights, recordsPaths: false)
        // One arc past the boundary, so the first node beyond it on every road has its
        // true earliest time (its best path may come from another node beyond).
        let longestArc = problem.suspectWeights.lazy.filter(\.isFinite).max() ?? 0
        search.run(from: [(problem.incident, 0)], limit: problem.boundary + longestArc)
        var local = [Int32](repeating: -1, count: graph.nodeCount)
        var nodes: [Int] = [], suspect: [Double] = []
        for node in search.reached where search.cost(node) <= problem.boundary {
            local[node] = Int32(nodes.count)
            nodes.append(node)
            suspect.append(search.cost(node))
        }
        let inside = nodes.count
        var isEscape = [Bool](repeating: false, count: inside)
        for exit in problem.exits where local[exit] >= 0 { isEscape[Int(local[exit])] = true }
        var arcs: [(Int, Int)] = [], graphArcs: [Int] = []
        var leavesHeadStart = false
        for position in 0..<inside {
            let tail = nodes[position]
            for arc in graph.arcs(from: tail) where problem.suspectWeights[arc].isFinite {
                let head = Int(graph.arcHead[arc])
                if suspect[position] <= problem.headStart, search.cost(head) > problem.headStart { leavesHeadStart = true }
                if local[head] < 0 {
                    local[head] = Int32(nodes.count)
                    nodes.append(head)
                    suspect.append(search.cost(head))
                    isEscape.append(true)
                }
                arcs.append((position, Int(local[head])))
                graphArcs.append(arc)
            }
        }
        guard leavesHeadStart else {
            let farthest = suspect.max() ?? 0
            throw ContainmentError(.invalidArgument,
                                   "head start \(problem.headStart) reaches every road the incident leads to (the farthest node is \(farthest) away): nothing is left to ring")
        }
        self.nodes = nodes
        self.local = local
        self.suspect = suspect
        self.isEscape = isEscape
        self.arcs = arcs
        self.graphArcs = graphArcs
        let incident = Int(local[problem.incident])
        let chains = Chains(nodeCount: nodes.count, arcs: arcs, fixed: isEscape.indices.map { isEscape[$0] || $0 == incident })
        self.incident = incident
        self.chains = chains
        chainSuspect = chains.members.map { members in members.map { suspect[$0] }.min()! }
        network = VertexCutNetwork(nodeCount: chains.count, arcs: chains.arcs, sinks: isEscape.indices.filter { isEscape[$0] }.map { chains.chain[$0] })
        reach = Self.unitReach(problem, nodes: nodes, local: local, suspect: suspect)
    }

    /// Every unit's time to every field node it could hold were the head start 0.
    private static func unitReach(_ problem: Containment.Problem, nodes: [Int], local: [Int32], suspect: [Double]) -> [[Option]] {
        var reach = [[Option]](repeating: [], count: nodes.count)
        let limit = (suspect.max() ?? 0) - problem.margin
        guard limit >= 0 else { return reach }
        var searches: [Int: ShortestPathSearch] = [:]
        for (index, unit) in problem.units.enumerated() {
            if unit.fixed {
                if local[unit.node] >= 0 { reach[Int(local[unit.node])].append(Option(unit: index, time: 0, node: Int(local[unit.node]))) }
                continue
            }
            let search = searches[unit.weightSet] ?? ShortestPathSearch(graph: problem.graph, weights: problem.policeWeights[unit.weightSet], recordsPaths: false)
            searches[unit.weightSet] = search
            search.run(from: [(unit.node, 0)], limit: limit)
            for node in search.reached {
                let position = local[node]
                guard position >= 0 else { continue }
                let time = search.cost(node)
                if time + problem.margin <= suspect[Int(position)] { reach[Int(position)].append(Option(unit: index, time: time, node: Int(position))) }
            }
        }
        return reach
    }

    /// Who can hold each node with this head start: the suspect not yet past it, and the
    /// unit there at least the margin before the suspect could be.
    func options(headStart: Double) -> [[Option]] {
        reach.indices.map { node in
            guard node != incident, suspect[node] > headStart else { return [] }
            return reach[node].filter { $0.time + problem.margin <= suspect[node] - headStart }
        }
    }

    struct RingSearch {
        /// The smallest ring found, nil when there is none (or none was found in budget).
        var ring: Ring?
        /// Whether `ring` is proved smallest, or no ring proved to exist.
        var proved: Bool
    }

    /// The smallest ring whose every point a distinct unit reaches within `limit`. When
    /// the budget runs out, the best branch left is followed greedily to some ring. The
    /// search cuts chains; each point is its unit's best node on the chain.
    func smallestRing(options: [[Option]], within limit: Double) -> RingSearch {
        let allowed = chains.merge(options.map { $0.filter { $0.time <= limit } })
        let root = network.flow(from: chains.chain[incident], cuttable: allowed.map { !$0.isEmpty })
        // Units that can hold some node at all: no ring has more points than these.
        let usable = Set(allowed.joined().map(\.unit)).count
        var queue: [(size: Int, forbidden: [Int], cut: [Int])] = []
        var seen: Set<[Int]> = []
        // A branch's cut, continuing from its parent's flow; none when some escape path
        // avoids every node left, or the cut has more points than there are units that
        // can hold any (each point needs its own).
        func push(_ forbidden: [Int], from parent: VertexCutNetwork.Flow) {
            guard seen.insert(forbidden).inserted else { return }
            var flow = parent
            for node in forbidden { network.forbid(node, in: &flow) }
            guard case .cut(let cut) = network.minimumCut(&flow), cut.count <= usable else { return }
            queue.append((cut.count, forbidden, cut))
        }
        push([], from: root)
        var explored = 0
        while !queue.isEmpty {
            // Best first: the smallest cut in the queue is a bound on every ring left.
            let best = queue.indices.min { queue[$0].size < queue[$1].size }!
            let (_, forbidden, cut) = queue.remove(at: best)
            explored += 1
            switch Self.staff(cut, allowed: allowed) {
            case .staffed(let points):
                return RingSearch(ring: Ring(points: points), proved: true)
            case .short(let failing):
                // The branch's own maximum flow again (kept for none: too many to hold),
                // from which each child continues.
                var flow = root
                for node in forbidden { network.forbid(node, in: &flow) }
                _ = network.minimumCut(&flow)
                guard explored < problem.searchBudget else {
                    return RingSearch(ring: dive(flow, allowed: allowed, failing: failing, usable: usable), proved: false)
                }
                // Any staffable ring leaves out at least one node of a set with too few units.
                for node in failing { push((forbidden + [node]).sorted(), from: flow) }
            }
        }
        return RingSearch(ring: nil, proved: true)
    }

    /// Some staffable ring, not necessarily smallest: from a branch, forbid the node of
    /// each failing set nearest the incident (the suspect's earliest), so the ring moves
    /// out to where units have more time, until the cut is staffed.
    private func dive(_ flow: VertexCutNetwork.Flow, allowed: [[Option]], failing: [Int], usable: Int) -> Ring? {
        var flow = flow, failing = failing
        for _ in 0..<Self.diveSteps {
            network.forbid(failing.min { (chainSuspect[$0], $0) < (chainSuspect[$1], $1) }!, in: &flow)
            guard case .cut(let cut) = network.minimumCut(&flow), cut.count <= usable else { return nil }
            switch Self.staff(cut, allowed: allowed) {
            case .staffed(let points): return Ring(points: points)
            case .short(let next): failing = next
            }
        }
        return nil
    }

    /// Points a dive may move before it gives up.
    static let diveSteps = 1_000

    enum Staffing {
        case staffed([(node: Int, unit: Int, time: Double)])
        /// Chains that together have fewer units able to reach them than there are chains.
        case short([Int])
    }

    /// A distinct unit for every node (Kuhn's augmenting paths), each node taking its
    /// quickest unit where the matching allows; or a set violating Hall's condition.
    static func staff(_ cut: [Int], allowed: [[Option]]) -> Staffing {
        let choices = cut.map { allowed[$0].sorted { $0.time < $1.time } }
        var holder: [Int: Int] = [:]  // unit → index in cut
        func augment(_ index: Int, _ visited: inout Set<Int>) -> Bool {
            for option in choices[index] where visited.insert(option.unit).inserted {
                if let other = holder[option.unit] {
                    guard augment(other, &visited) else { continue }
                }
                holder[option.unit] = index
                return true
            }
            return false
        }
        for index in cut.indices {
            var visited: Set<Int> = []
            if !augment(index, &visited) {
                // Alternating search from the unplaced node: every node it meets competes
                // for the units it meets, which are one fewer.
                var nodes: Set<Int> = [index], frontier = [index], units: Set<Int> = []
                while let next = frontier.popLast() {
                    for option in choices[next] where units.insert(option.unit).inserted {
                        if let other = holder[option.unit], nodes.insert(other).inserted { frontier.append(other) }
                    }
                }
                return .short(nodes.map { cut[$0] }.sorted())
            }
        }
        var points: [(node: Int, unit: Int, time: Double)] = []
        for (unit, index) in holder {
            let option = choices[index].first { $0.unit == unit }!
            points.append((option.node, unit, option.time))
        }
        return .staffed(points.sorted { $0.node < $1.node })
    }

    func point(_ node: Int, unit: String, police: Double) -> Containment.Point {
        Containment.Point(node: nodes[node], unit: unit, suspect: suspect[node] - problem.headStart, police: police)
    }

    /// Why no ring can be held, what is open, and what would close it.
    func infeasible(options: [[Option]]) -> Containment.Answer {
        let headStart = problem.headStart
        var answer = Containment.Answer(feasible: false, ring: [], uncovered: [], proved: true, feasibleHeadStart: nil, needed: [], reason: "")
        let cuttable = options.map { !$0.isEmpty }
        if isEscape[incident] {
            answer.reason = "the incident is at a county exit"
        } else if network.minimumCut(from: chains.chain[incident], cuttable: chains.any(cuttable)) == .inseparable {
            answer.uncovered = openEscapes(cuttable: cuttable)
            answer.reason = "\(answer.uncovered.count) escape road(s) can be reached by the suspect before any unit can hold a node on them"
        } else {
            answer.reason = "the smallest rings need more distinct units than can reach their points in time"
        }
        // Police anywhere: the smallest ring at all, with the time each point must be held by.
        let anywhere = suspect.indices.map { $0 != incident && suspect[$0] > headStart + problem.margin }
        if case .cut(let cut) = network.minimumCut(from: chains.chain[incident], cuttable: chains.any(anywhere)) {
            // On each chain, the node with the most time to get there.
            answer.needed = cut.map { chain in
                let node = chains.members[chain].filter { anywhere[$0] }.max { suspect[$0] < suspect[$1] }!
                return Containment.Point(node: nodes[node], unit: "", suspect: suspect[node] - headStart, police: suspect[node] - headStart - problem.margin)
            }
        }
        // The largest head start that would have left a ring, to the second or metre
        // (bisection; feasibility only grows as the head start shrinks).
        if smallestRing(options: self.options(headStart: 0), within: .infinity).ring != nil {
            var low = 0.0, high = headStart
            for _ in 0..<12 where high - low > 1 {
                let middle = (low + high) / 2
                if smallestRing(options: self.options(headStart: middle), within: .infinity).ring != nil { low = middle } else { high = middle }
            }
            answer.feasibleHeadStart = low
        }
        return answer
    }

    /// Arcs into the escape set from nodes the suspect reaches without meeting a node
    /// any unit could hold.
    private func openEscapes(cuttable: [Bool]) -> [Int] {
        var outgoing = [[Int]](repeating: [], count: nodes.count)
        for (index, arc) in arcs.enumerated() { outgoing[arc.0].append(index) }
        var reached = [Bool](repeating: false, count: nodes.count)
        reached[incident] = true
        var stack = [incident], open: [Int] = []
        while let node = stack.popLast() {
            guard !isEscape[node] else { continue }
            for index in outgoing[node] {
                let head = arcs[index].1
                guard !cuttable[head] else { continue }
                if isEscape[head] { open.append(graphArcs[index]) }
                if !reached[head] {
                    reached[head] = true
                    stack.append(head)
                }
            }
        }
        return open.sorted()
    }
}

/// A field's roads between junctions. An interior node of a road (two neighbours, neither
/// the incident nor an escape node, and either a two-way road through it or a one-way
/// road in one side and out the other) lies on every path that uses the road, so cutting
/// any one of a run of them cuts the same paths: the run is one cut point, its chain, and
/// a unit may hold it at whichever of its nodes suits the unit best. Runs never mix
/// two-way and one-way nodes, so a chain is passable exactly where its road is. Cutting
/// by chain is exact, and a graph drawn with a node every few metres cuts as fast as its
/// junctions.
struct Chains {
    /// Chain of each local node, and the nodes of each chain.
    let chain: [Int]
    let members: [[Int]]
    /// Arcs between chains (each road arc whose ends lie on different chains, once).
    let arcs: [(Int, Int)]
    var count: Int { members.count }

    private enum Through { case none, twoWay, oneWay }

    init(nodeCount: Int, arcs nodeArcs: [(Int, Int)], fixed: [Bool]) {
        var outgoing = [Set<Int>](repeating: [], count: nodeCount), incoming = [Set<Int>](repeating: [], count: nodeCount)
        for (tail, head) in nodeArcs where tail != head {
            outgoing[tail].insert(head)
            incoming[head].insert(tail)
        }
        let through: [Through] = (0..<nodeCount).map { node in
            guard !fixed[node], outgoing[node].union(incoming[node]).count == 2 else { return .none }
            if outgoing[node].count == 2 && incoming[node] == outgoing[node] { return .twoWay }
            if outgoing[node].count == 1 && incoming[node].count == 1 && outgoing[node] != incoming[node] { return .oneWay }
            return .none
        }
        var parent = Array(0..<nodeCount)
        func root(_ node: Int) -> Int {
            var node = node
            while parent[node] != node {
                parent[node] = parent[parent[node]]
                node = parent[node]
            }
            return node
        }
        for (tail, head) in nodeArcs where through[tail] != .none && through[tail] == through[head] { parent[root(tail)] = root(head) }
        var index = [Int](repeating: -1, count: nodeCount), chain = [Int](repeating: 0, count: nodeCount), members: [[Int]] = []
        for node in 0..<nodeCount {
            let top = root(node)
            if index[top] < 0 {
                index[top] = members.count
                members.append([])
            }
            chain[node] = index[top]
            members[index[top]].append(node)
        }
        var seen: Set<[Int]> = [], arcs: [(Int, Int)] = []
        for (tail, head) in nodeArcs where chain[tail] != chain[head] && seen.insert([chain[tail], chain[head]]).inserted {
            arcs.append((chain[tail], chain[head]))
        }
        self.chain = chain
        self.members = members
        self.arcs = arcs
    }

    /// Whether any node of each chain has the property.
    func any(_ nodes: [Bool]) -> [Bool] { members.map { $0.contains { nodes[$0] } } }

    /// Each chain's options: every unit that can hold one of its nodes, at its quickest.
    func merge(_ options: [[Field.Option]]) -> [[Field.Option]] {
        members.map { members in
            guard members.count > 1 else { return options[members[0]] }
            var best: [Int: Field.Option] = [:]
            for node in members {
                for option in options[node] where option.time < best[option.unit]?.time ?? .infinity { best[option.unit] = option }
            }
            return best.values.sorted { ($0.time, $0.unit) < ($1.time, $1.unit) }
        }
    }
}
