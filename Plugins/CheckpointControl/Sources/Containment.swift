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
/// Exact: the fewest points, then among them the earliest latest police arrival, by
/// `StaffedCut` (minimum vertex cuts, branch and bound where a cut cannot be staffed by
/// distinct units). A budget of flows bounds the time; an answer it cut short says so
/// (`proved`). Pure: no I/O.
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
        /// Maximum flows (one per branch-and-bound node) the search for the smallest ring
        /// may compute before the best ring found is given as not proved; each refinement
        /// (the earliest latest arrival, the largest feasible head start) gets half of it
        /// in all. Bounds the time an answer takes.
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
        /// proved to exist with the largest head start that would leave one (false only
        /// when a search ran out of budget: the ring may be larger or later than need be,
        /// or the head start understated).
        public var proved: Bool
        /// When infeasible: the largest head start at which a ring could be held (nil if
        /// none, even with no head start, or if that could not be settled).
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
        let search = field.cut.smallest(options: options, flowLimit: problem.searchBudget)
        guard let smallest = search.ring else {
            var answer = field.infeasible(options: options)
            if !search.proved {
                answer.proved = false
                answer.reason = "no ring was found before the search budget of \(problem.searchBudget) flows ran out; one may still exist"
            }
            return answer
        }
        // The smallest size is known; now the earliest latest arrival that still allows it.
        let earliest = field.cut.earliest(options: options, as: smallest, flowLimit: field.refiningBudget)
        let best = earliest.ring ?? smallest, proved = search.proved && earliest.proved
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
    typealias Option = StaffedCut.Option
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
    /// with no head start at all, quickest first; `options(headStart:)` narrows them.
    let reach: [[StaffedCut.Option]]
    /// The ring's search, moving out from the incident by the suspect's earliest time.
    let cut: StaffedCut
    let incident: Int
    var chains: Chains { cut.chains }
    var network: VertexCutNetwork { cut.network }

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
        self.incident = incident
        cut = StaffedCut(nodeCount: nodes.count, arcs: arcs, escape: isEscape, source: incident, unitCount: problem.units.count, order: suspect)
        reach = Self.unitReach(problem, nodes: nodes, local: local, suspect: suspect)
    }

    /// Every unit's time to every field node it could hold were the head start 0.
    private static func unitReach(_ problem: Containment.Problem, nodes: [Int], local: [Int32], suspect: [Double]) -> [[Option]] {
        var reach = [[Option]](repeating: [], count: nodes.count)
        let limit = (suspect.max() ?? 0) - problem.margin
        guard limit >= 0 else { return reach }
        var searches: [Int: ShortestPathSearch] = [:]
        // A unit the suspect beats to a node loses every node beyond it too when the unit
        // is nowhere faster than the suspect (the suspect can follow the unit's own road),
        // so its search need not go on through it: most of a search, as a unit behind the
        // suspect is behind it everywhere after.
        var lost = [Double](repeating: .infinity, count: problem.graph.nodeCount)
        for (position, node) in nodes.enumerated() { lost[node] = suspect[position] - problem.margin }
        let neverFaster = problem.policeWeights.map { police in zip(police, problem.suspectWeights).allSatisfy { $0 >= $1 } }
        for (index, unit) in problem.units.enumerated() {
            if unit.fixed {
                if local[unit.node] >= 0 { reach[Int(local[unit.node])].append(Option(unit: index, time: 0, node: Int(local[unit.node]))) }
                continue
            }
            let search = searches[unit.weightSet] ?? ShortestPathSearch(graph: problem.graph, weights: problem.policeWeights[unit.weightSet], recordsPaths: false)
            searches[unit.weightSet] = search
            search.run(from: [(unit.node, 0)], limit: limit, expandWithin: neverFaster[unit.weightSet] ? lost : nil)
            for node in search.reached {
                let position = local[node]
                guard position >= 0 else { continue }
                let time = search.cost(node)
                if time + problem.margin <= suspect[Int(position)] { reach[Int(position)].append(Option(unit: index, time: time, node: Int(position))) }
            }
        }
        for node in reach.indices { reach[node].sort { ($0.time, $0.unit) < ($1.time, $1.unit) } }
        return reach
    }

    /// Who can hold each node with this head start: the suspect not yet past it, and the
    /// unit there at least the margin before the suspect could be.
    /// Each is a prefix of the node's `reach`, quickest first: no copies.
    func options(headStart: Double) -> [ArraySlice<Option>] {
        reach.indices.map { node in
            guard node != incident, suspect[node] > headStart else { return [] }
            return reach[node].prefix { $0.time + problem.margin <= suspect[node] - headStart }
        }
    }

    /// Flows each refining search may compute.
    var refiningBudget: Int { StaffedCut.refiningBudget(problem.searchBudget) }

    func point(_ node: Int, unit: String, police: Double) -> Containment.Point {
        Containment.Point(node: nodes[node], unit: unit, suspect: suspect[node] - problem.headStart, police: police)
    }

    /// Why no ring can be held, what is open, and what would close it.
    func infeasible(options: [ArraySlice<Option>]) -> Containment.Answer {
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
        // (bisection; feasibility only grows as the head start shrinks), with the
        // refining flows in all: whether any head start leaves a ring, then each step at
        // most a fifth of them.
        var flowsLeft = refiningBudget
        let atZero = cut.any(options: self.options(headStart: 0), flowLimit: flowsLeft)
        flowsLeft -= atZero.flows
        answer.proved = atZero.ring != nil || atZero.proved
        if let ring = atZero.ring {
            // A ring found holds up to its own slack, often well past where it was found.
            var low = min(slack(ring), headStart), high = headStart
            for _ in 0..<12 where high - low > 1 {
                guard flowsLeft > 0 else {
                    answer.proved = false
                    break
                }
                let middle = (low + high) / 2
                let search = cut.any(options: self.options(headStart: middle), flowLimit: StaffedCut.stepBudget(of: refiningBudget, left: flowsLeft))
                flowsLeft -= search.flows
                answer.proved = answer.proved && (search.ring != nil || search.proved)
                if let ring = search.ring { low = min(max(middle, slack(ring)), high) } else { high = middle }
            }
            answer.feasibleHeadStart = low
        }
        return answer
    }

    /// The largest head start at which `ring` still holds: every unit there the margin
    /// before the suspect could be.
    func slack(_ ring: StaffedCut.Ring) -> Double {
        ring.points.map { suspect[$0.node] - problem.margin - $0.time }.min() ?? 0
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

/// A set of units for each chain, as bits, so a path's units are a few word-wide ORs.
struct UnitSets {
    let unitCount: Int
    private let words: Int
    private var bits: [UInt64]

    init(_ sets: [[Int]], unitCount: Int) {
        self.unitCount = unitCount
        words = (unitCount + 63) / 64
        bits = [UInt64](repeating: 0, count: sets.count * words)
        for (set, units) in sets.enumerated() {
            for unit in units { bits[set * words + unit / 64] |= 1 << UInt64(unit % 64) }
        }
    }

    /// The units in any of the given sets.
    func members(ofUnionOf sets: [Int]) -> [Int] {
        var union = [UInt64](repeating: 0, count: words)
        for set in sets {
            for word in 0..<words { union[word] |= bits[set * words + word] }
        }
        var units: [Int] = []
        for (word, value) in union.enumerated() {
            var value = value
            while value != 0 {
                units.append(word * 64 + value.trailingZeroBitCount)
                value &= value - 1
            }
        }
        return units
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
        let outgoing = Self.neighbours(nodeCount: nodeCount, nodeArcs.lazy.filter { $0.0 != $0.1 }.map { ($0.0, $0.1) })
        let incoming = Self.neighbours(nodeCount: nodeCount, nodeArcs.lazy.filter { $0.0 != $0.1 }.map { ($0.1, $0.0) })
        let through: [Through] = (0..<nodeCount).map { node in
            let out = outgoing[node], into = incoming[node]
            guard !fixed[node], Self.unionCount(out, into) == 2 else { return .none }
            if out.count == 2 && into == out { return .twoWay }
            if out.count == 1 && into.count == 1 && out != into { return .oneWay }
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
        var seen: Set<Int> = [], arcs: [(Int, Int)] = []
        for (tail, head) in nodeArcs where chain[tail] != chain[head] && seen.insert(chain[tail] * members.count + chain[head]).inserted {
            arcs.append((chain[tail], chain[head]))
        }
        self.chain = chain
        self.members = members
        self.arcs = arcs
    }

    /// Whether any node of each chain has the property.
    func any(_ nodes: [Bool]) -> [Bool] { members.map { $0.contains { nodes[$0] } } }

    /// Each node's distinct neighbours along `pairs` (node, neighbour), ascending: a
    /// junction has a handful, so sorted arrays, not sets.
    private static func neighbours(nodeCount: Int, _ pairs: some Sequence<(Int, Int)>) -> [ArraySlice<Int>] {
        var start = [Int](repeating: 0, count: nodeCount + 1)
        for (node, _) in pairs { start[node + 1] += 1 }
        for node in 0..<nodeCount { start[node + 1] += start[node] }
        var filled = start, list = [Int](repeating: 0, count: start[nodeCount])
        for (node, neighbour) in pairs {
            list[filled[node]] = neighbour
            filled[node] += 1
        }
        // Sorted and deduplicated in place, each node's run of one shared array.
        var unique = [Int](), bounds = [0]
        unique.reserveCapacity(list.count)
        for node in 0..<nodeCount {
            list[start[node]..<start[node + 1]].sort()
            let first = unique.count
            for neighbour in list[start[node]..<start[node + 1]] where unique.count == first || unique.last != neighbour { unique.append(neighbour) }
            bounds.append(unique.count)
        }
        return (0..<nodeCount).map { unique[bounds[$0]..<bounds[$0 + 1]] }
    }

    /// How many distinct values two ascending lists hold together.
    private static func unionCount(_ a: ArraySlice<Int>, _ b: ArraySlice<Int>) -> Int {
        var i = a.startIndex, j = b.startIndex, count = 0
        while i < a.endIndex || j < b.endIndex {
            count += 1
            if j == b.endIndex || (i < a.endIndex && a[i] < b[j]) {
                i += 1
            } else if i == a.endIndex || b[j] < a[i] {
                j += 1
            } else {
                i += 1
                j += 1
            }
        }
        return count
    }

    /// Each chain's options: every unit that can hold one of its nodes within `limit`, at
    /// its quickest, quickest first.
    func merge(_ options: [ArraySlice<StaffedCut.Option>], within limit: Double, unitCount: Int) -> [[StaffedCut.Option]] {
        var best = [Int](repeating: -1, count: unitCount)  // unit → index into `merged`
        return members.map { members in
            var merged: [StaffedCut.Option] = []
            for node in members {
                for option in options[node] where option.time <= limit {
                    let index = best[option.unit]
                    if index < 0 {
                        best[option.unit] = merged.count
                        merged.append(option)
                    } else if option.time < merged[index].time {
                        merged[index] = option
                    }
                }
            }
            for option in merged { best[option.unit] = -1 }
            return merged.sorted { ($0.time, $0.unit) < ($1.time, $1.unit) }
        }
    }
}
