import CheckpointControlPlugin
import Foundation
import Testing
import XunfangGeo

/// Road graphs by hand: nodes by OSM id at planar metres (x east, y north) from an
/// origin, two-way roads unless one-way.
struct Roads {
    static let origin = GeoPoint(longitude: 104.0, latitude: 30.0)
    var builder = RoadGraphBuilder()
    let projection = LocalProjection(origin: Roads.origin)

    mutating func node(_ id: Int64, _ x: Double, _ y: Double) {
        builder.addNode(osmID: id, at: projection.unproject(PlanarPoint(x: x, y: y)))
    }

    mutating func road(_ a: Int64, _ b: Int64, oneWay: Bool = false) {
        let (tail, head) = (builder.addNode(osmID: a, at: GeoPoint(longitude: 0, latitude: 0)), builder.addNode(osmID: b, at: GeoPoint(longitude: 0, latitude: 0)))
        builder.addArc(from: tail, to: head, class: .residential, name: "路\(a)-\(b)")
        if !oneWay { builder.addArc(from: head, to: tail, class: .residential, name: "路\(a)-\(b)") }
    }

    func graph() throws -> RoadGraph { try builder.build() }
}

/// A ring problem on `graph` in metres, nodes named by OSM id.
func problem(_ graph: RoadGraph, incident: Int64, headStart: Double, boundary: Double, margin: Double = 0,
             units: [(String, Int64)], exits: [Int64] = []) -> Containment.Problem {
    Containment.Problem(graph: graph, suspectWeights: graph.arcLength, policeWeights: [graph.arcLength], incident: graph.node(osmID: incident)!,
                        headStart: headStart, boundary: boundary, margin: margin,
                        units: units.map { Containment.Unit(id: $0.0, node: graph.node(osmID: $0.1)!) }, exits: exits.map { graph.node(osmID: $0)! })
}

@Suite("Containment rings")
struct ContainmentTests {
    /// A cross: the incident (0) at the centre, four arms of 100 m segments, 5 nodes long.
    /// Arm k's nodes are 10k+1 ... 10k+5 outward; a side road of 150 m leaves each arm's
    /// 4th node to 10k+9, where the arm's unit waits.
    func cross() throws -> RoadGraph {
        var roads = Roads()
        roads.node(0, 0, 0)
        let directions = [(1.0, 0.0), (0, 1), (-1, 0), (0, -1)]
        for (arm, direction) in directions.enumerated() {
            var previous: Int64 = 0
            for step in 1...5 {
                let id = Int64(10 * arm + step)
                roads.node(id, direction.0 * Double(step) * 100, direction.1 * Double(step) * 100)
                roads.road(previous, id)
                previous = id
            }
            let side = Int64(10 * arm + 9)
            roads.node(side, direction.0 * 400 - direction.1 * 150, direction.1 * 400 + direction.0 * 150)
            roads.road(Int64(10 * arm + 4), side)
        }
        return try roads.graph()
    }

    @Test("a cross needs one point per arm, each held by the unit on that arm, ahead of the suspect, as early as can be")
    func crossRing() throws {
        let graph = try cross()
        // Suspect 150 m out on every arm by now; the boundary at 450 m; units on the side roads.
        let units = (0..<4).map { ("car-\($0)", Int64(10 * $0 + 9)) }
        let answer = try Containment.solve(problem(graph, incident: 0, headStart: 150, boundary: 450, margin: 10, units: units))
        #expect(answer.feasible && answer.proved)
        #expect(answer.ring.count == 4)
        for point in answer.ring {
            let arm = graph.nodeIDs[point.node] / 10
            #expect(point.unit == "car-\(arm)", "\(point)")
            #expect(point.police + 10 <= point.suspect + 1e-9)
            #expect(graph.nodeIDs[point.node] % 10 >= 2, "not a node the suspect may have passed")
        }
        // The 4th node (150 m from each unit) is the earliest that cuts both the arm and the
        // side road; the 5th (250 m) would also do, later.
        #expect(Set(answer.ring.map { graph.nodeIDs[$0.node] % 10 }) == [4])
        #expect(abs(answer.latestPolice - 150) < 1)
    }

    @Test("one unit short of an arm: no ring, the open road named, and how much less head start would do")
    func crossShort() throws {
        let graph = try cross()
        let units = (0..<3).map { ("car-\($0)", Int64(10 * $0 + 9)) }
        let answer = try Containment.solve(problem(graph, incident: 0, headStart: 150, boundary: 450, units: units))
        #expect(!answer.feasible)
        let open = answer.uncovered.map { (graph.nodeIDs[graph.tail(ofArc: $0)], graph.nodeIDs[Int(graph.arcHead[$0])]) }
        #expect(Set(open.map(\.1)) == [35, 39], "the south arm (3x) escapes at its 5th node and its side road: \(open)")
        #expect(answer.needed.count == 4)
        // No unit reaches that arm in time even with no head start at all.
        #expect(answer.feasibleHeadStart == nil)
    }

    @Test("two roads that merge: one point where a unit is there in time")
    func merge() throws {
        var roads = Roads()
        roads.node(1, 0, 0)        // incident
        roads.node(2, 100, 100)
        roads.node(3, 100, -100)
        roads.node(4, 300, 0)      // merge
        roads.node(5, 500, 0)
        roads.node(6, 700, 0)      // beyond the boundary
        roads.road(1, 2); roads.road(1, 3); roads.road(2, 4); roads.road(3, 4); roads.road(4, 5); roads.road(5, 6)
        let graph = try roads.graph()
        let atMerge = try Containment.solve(problem(graph, incident: 1, headStart: 0, boundary: 550, units: [("a", 5), ("b", 6), ("c", 2)]))
        #expect(atMerge.ring.map { graph.nodeIDs[$0.node] }.sorted() == [4] || atMerge.ring.map { graph.nodeIDs[$0.node] } == [5])
        #expect(atMerge.ring.count == 1)
    }

    @Test("a one-way street into the incident needs no point; the county exit inside the boundary does")
    func directionsAndExits() throws {
        var roads = Roads()
        roads.node(1, 0, 0)
        roads.node(2, 200, 0)
        roads.node(3, 400, 0)
        roads.node(4, -200, 0)
        roads.node(5, -400, 0)
        roads.road(1, 2); roads.road(2, 3)
        roads.road(5, 4, oneWay: true); roads.road(4, 1, oneWay: true)   // traffic only towards the incident
        let graph = try roads.graph()
        let answer = try Containment.solve(problem(graph, incident: 1, headStart: 50, boundary: 300, units: [("east", 3), ("west", 5)]))
        #expect(answer.ring.count == 1 && answer.ring[0].unit == "east")
        // Node 2 is a county exit reached before anyone can be there: no ring, the exit road open.
        let exit = try Containment.solve(problem(graph, incident: 1, headStart: 150, boundary: 300, units: [("east", 3)], exits: [2]))
        #expect(!exit.feasible && exit.uncovered.map { graph.nodeIDs[Int(graph.arcHead[$0])] } == [2])
    }

    @Test("a unit is not two points: when the smallest cut needs one unit twice, the ring moves out to where distinct units hold it")
    func distinctUnits() throws {
        // The incident (1) has roads east to X (2) and west to Y (3), 100 m each, running on
        // to A (4) and C (5) at 400 m and escaping at 600 m (6, 7). Unit u stands at the
        // incident and reaches X and Y as the suspect does; v stands at the east escape.
        var roads = Roads()
        roads.node(1, 0, 0)
        roads.node(2, 100, 0); roads.node(4, 400, 0); roads.node(6, 600, 0)
        roads.node(3, -100, 0); roads.node(5, -400, 0); roads.node(7, -600, 0)
        roads.road(1, 2); roads.road(2, 4); roads.road(4, 6)
        roads.road(1, 3); roads.road(3, 5); roads.road(5, 7)
        let graph = try roads.graph()
        let answer = try Containment.solve(problem(graph, incident: 1, headStart: 0, boundary: 450, units: [("u", 1), ("v", 6)]))
        #expect(answer.feasible && answer.proved)
        let held = Dictionary(uniqueKeysWithValues: answer.ring.map { (graph.nodeIDs[$0.node], $0.unit) })
        #expect(held == [3: "u", 4: "v"] || held == [3: "u", 6: "v"], "\(held)")
        #expect(answer.latestPolice < 101)

        // With a budget of one branch the search stops at the cut u cannot staff twice and
        // says so, giving the ring a greedy dive finds rather than "no ring".
        var hurried = problem(graph, incident: 1, headStart: 0, boundary: 450, units: [("u", 1), ("v", 6)])
        hurried.searchBudget = 1
        let unproved = try Containment.solve(hurried)
        #expect(unproved.feasible && !unproved.proved && unproved.ring.count == 2, "\(unproved.reason) \(unproved.proved) \(unproved.needed)")
        #expect(BruteForce(hurried).separates(Set(unproved.ring.map(\.node))))
        #expect(Set(unproved.ring.map(\.unit)) == ["u", "v"])
    }

    @Test("bad input is refused by name")
    func badInput() throws {
        let graph = try cross()
        #expect(throws: ContainmentError.self) { try Containment.solve(problem(graph, incident: 0, headStart: 500, boundary: 450, units: [])) }
        var unknown = problem(graph, incident: 0, headStart: 10, boundary: 450, units: [("a", 5)])
        unknown.units[0].node = 10_000
        #expect { try Containment.solve(unknown) } throws: { ($0 as? ContainmentError)?.message.contains("unit a") == true }
        // A head start past every road: nothing left to ring.
        #expect { try Containment.solve(problem(graph, incident: 0, headStart: 700, boundary: 800, units: [("a", 5)])) } throws: {
            ($0 as? ContainmentError)?.message.contains("reaches every road") == true
        }
        #expect { try Containment.solve(problem(graph, incident: 0, headStart: 10, boundary: 450, units: [("a", 5), ("a", 15)])) } throws: {
            ($0 as? ContainmentError)?.message.contains("appears twice") == true
        }
        // Roads that end inside the boundary: nothing to ring, and said so.
        let closed = try Containment.solve(problem(graph, incident: 0, headStart: 10, boundary: 650, units: [("a", 5)]))
        #expect(closed.feasible && closed.ring.isEmpty && closed.reason.contains("no road"))
    }

    @Test("on 300 random graphs the ring is as small as brute force finds, as early, it separates, and every unit beats the suspect")
    func bruteForce() throws {
        var random = SyntheticRoads.Generator(state: 14)
        var feasible = 0
        for round in 0..<300 {
            let n = 6 + Int(random.next() % 7)
            var roads = Roads()
            for id in 0..<n { roads.node(Int64(id), Double(random.next() % 1_000), Double(random.next() % 1_000)) }
            for a in 0..<n {
                for b in a + 1..<n where random.next() % 100 < 35 {
                    roads.road(Int64(a), Int64(b), oneWay: random.next() % 4 == 0)
                }
            }
            let graph = try roads.graph()
            let unitCount = 1 + Int(random.next() % 4)
            let units = (0..<unitCount).map { ("u\($0)", Int64(random.next() % UInt64(n))) }
            let headStart = Double(random.next() % 300), boundary = headStart + 100 + Double(random.next() % 900)
            let margin = Double(random.next() % 3) * 20
            let exits = random.next() % 3 == 0 ? [Int64(random.next() % UInt64(n))] : []
            let instance = problem(graph, incident: 0, headStart: headStart, boundary: boundary, margin: margin, units: units, exits: exits)
            let answer: Containment.Answer
            do {
                answer = try Containment.solve(instance)
            } catch {
                // Only "nothing left to ring" may be refused here.
                #expect(error.message.contains("reaches every road"), "round \(round): \(error)")
                continue
            }
            let brute = BruteForce(instance)
            let best = brute.best()
            #expect(answer.feasible == (best != nil), "round \(round)")
            if !answer.feasible {
                // The head start that would have left a ring: it does, and a metre more does not.
                var less = instance
                less.headStart = answer.feasibleHeadStart ?? 0
                let atBest = BruteForce(less).best() != nil
                #expect(atBest == (answer.feasibleHeadStart != nil), "round \(round)")
                if let headStart = answer.feasibleHeadStart, headStart + 1 < instance.headStart {
                    less.headStart = headStart + 1
                    #expect(BruteForce(less).best() == nil, "round \(round): \(headStart) is not the largest")
                }
            }
            // A search cut short never claims more than it knows: any ring it gives is a real
            // ring, and "no ring" comes proved only when there is none.
            var hurried = instance
            hurried.searchBudget = 1
            let unproved = try Containment.solve(hurried)
            if unproved.feasible {
                #expect(brute.separates(Set(unproved.ring.map(\.node))) && Set(unproved.ring.map(\.unit)).count == unproved.ring.count, "round \(round)")
                #expect(unproved.ring.count >= best?.size ?? .max, "round \(round)")
            } else {
                #expect(best == nil || !unproved.proved, "round \(round)")
            }
            guard let best, answer.feasible else { continue }
            feasible += 1
            #expect(answer.ring.count == best.size, "round \(round): \(answer.ring.count) against \(best.size)")
            #expect(abs(answer.latestPolice - best.latest) < 1e-6, "round \(round): latest \(answer.latestPolice) against \(best.latest)")
            #expect(brute.separates(Set(answer.ring.map(\.node))), "round \(round)")
            #expect(Set(answer.ring.map(\.unit)).count == answer.ring.count)
            for point in answer.ring {
                let unit = instance.units.first { $0.id == point.unit }!
                #expect(abs(brute.police[unit.node][point.node] - point.police) < 1e-6)
                #expect(point.police + margin <= point.suspect + 1e-6 && point.node != instance.incident && brute.suspect[point.node] > headStart)
            }
        }
        #expect(feasible > 60, "enough feasible rounds to mean something: \(feasible)")
    }
}

/// The definitions, checked the slow way: all-pairs distances (Floyd–Warshall), every
/// subset of nodes, every assignment of units.
struct BruteForce {
    let instance: Containment.Problem
    let suspect: [Double]
    let police: [[Double]]
    let n: Int

    init(_ instance: Containment.Problem) {
        self.instance = instance
        let graph = instance.graph
        n = graph.nodeCount
        var distance = [[Double]](repeating: [Double](repeating: .infinity, count: n), count: n)
        for v in 0..<n { distance[v][v] = 0 }
        for v in 0..<n {
            for arc in graph.arcs(from: v) { distance[v][Int(graph.arcHead[arc])] = min(distance[v][Int(graph.arcHead[arc])], graph.arcLength[arc]) }
        }
        for k in 0..<n { for i in 0..<n { for j in 0..<n where distance[i][k] + distance[k][j] < distance[i][j] { distance[i][j] = distance[i][k] + distance[k][j] } } }
        suspect = distance[instance.incident]
        police = distance
    }

    func escapes(_ v: Int) -> Bool { suspect[v] > instance.boundary || instance.exits.contains(v) }

    func separates(_ ring: Set<Int>) -> Bool {
        guard !ring.contains(instance.incident) else { return false }
        var reached: Set<Int> = [instance.incident], stack = [instance.incident]
        while let v = stack.popLast() {
            if escapes(v) { return false }
            for arc in instance.graph.arcs(from: v) {
                let w = Int(instance.graph.arcHead[arc])
                if !ring.contains(w), reached.insert(w).inserted { stack.append(w) }
            }
        }
        return true
    }

    /// Arrival of unit `u` at `v` if it may hold `v`, else nil.
    func arrival(_ u: Int, _ v: Int) -> Double? {
        guard v != instance.incident, suspect[v] > instance.headStart else { return nil }
        let time = police[instance.units[u].node][v]
        return time + instance.margin <= suspect[v] - instance.headStart ? time : nil
    }

    /// The smallest latest arrival of an assignment of distinct units to `nodes`.
    func bestAssignment(_ nodes: [Int], from index: Int = 0, used: Set<Int> = [], latest: Double = 0) -> Double? {
        guard index < nodes.count else { return latest }
        var best: Double?
        for u in instance.units.indices where !used.contains(u) {
            guard let time = arrival(u, nodes[index]) else { continue }
            if let found = bestAssignment(nodes, from: index + 1, used: used.union([u]), latest: max(latest, time)) { best = min(best ?? .infinity, found) }
        }
        return best
    }

    func best() -> (size: Int, latest: Double)? {
        var found: (size: Int, latest: Double)?
        for mask in 0..<(1 << n) {
            let nodes = (0..<n).filter { mask & (1 << $0) != 0 }
            if let found, nodes.count > found.size { continue }
            guard nodes.count <= instance.units.count, separates(Set(nodes)), let latest = bestAssignment(nodes) else { continue }
            if found == nil || nodes.count < found!.size || latest < found!.latest { found = (nodes.count, latest) }
        }
        return found
    }
}
