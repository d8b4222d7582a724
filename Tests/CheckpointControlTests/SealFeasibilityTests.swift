@testable import CheckpointControlPlugin
import Testing
import XunfangGeo

@Suite("The seal feasibility map")
struct SealFeasibilityTests {
    /// A square grid of ±`half` metres around `centre`.
    func grid(_ half: Double, at centre: PlanarPoint) -> SealFeasibility.Grid {
        let projection = LocalProjection(origin: Roads.origin)
        let corners = [(-1.0, -1.0), (1, -1), (1, 1), (-1, 1)].map { PlanarPoint(x: centre.x + $0.0 * half, y: centre.y + $0.1 * half) }
        return SealFeasibility.Grid(id: "g", name: "网格", outline: corners.map(projection.unproject))
    }

    func units(_ graph: RoadGraph, _ list: [(String, Int64, Bool)]) -> [Containment.Unit] {
        list.map { Containment.Unit(id: $0.0, node: graph.node(osmID: $0.1)!, fixed: $0.2) }
    }

    @Test("a grid with four roads out is sealed by a unit on each, not by one unit twice; a staffed checkpoint holds its own road")
    func fourRoadsOut() throws {
        // The crossroads: the centre 100, arms of 100 m steps (east 101…, west 99…, north 201…, south 199…).
        let graph = try crossroads()
        // Reach 300 m: the nodes 400 m out and beyond are away. Target 150 (metres as seconds).
        func map(_ list: [(String, Int64, Bool)]) -> SealFeasibility {
            SealFeasibility(graph: graph, weights: [graph.arcLength], units: units(graph, list), target: 150, reach: 300)
        }
        let centred = grid(50, at: PlanarPoint(x: 0, y: 0))
        let four = try map([("e", 102, false), ("w", 98, false), ("n", 202, false), ("s", 198, false)]).cell(centred)
        #expect(four.feasible && four.proved && four.ring.count == 4 && four.pointsNeeded == 1 && four.insideNodes == 1)
        #expect(Set(four.ring.map(\.unit)).count == 4 && four.ring.allSatisfy { $0.seconds <= 150 })
        let check = RingCheck(graph: graph, area: try PlanArea(graph: graph, boundary: centred.outline, reach: 300))
        #expect(check.gaps(ring: Set(four.ring.map(\.node))).isEmpty)

        // The south unit gone: nobody reaches the south road in time.
        let three = try map([("e", 102, false), ("w", 98, false), ("n", 202, false)]).cell(centred)
        #expect(!three.feasible && three.proved && three.reason.contains("no node any unit reaches"), "\(three.reason)")
        // One unit at the centre holds every road at once: the centre itself is a ring of one.
        let centre = try map([("c", 100, false)]).cell(centred)
        #expect(centre.feasible && centre.ring.map(\.node) == [graph.node(osmID: 100)!])
        // A staffed checkpoint on the south road closes it, at once.
        let fixed = try map([("e", 102, false), ("w", 98, false), ("n", 202, false), ("cp", 199, true)]).cell(centred)
        #expect(fixed.feasible && fixed.ring.contains { $0.node == graph.node(osmID: 199)! && $0.seconds == 0 })
        // A grid with no road inside.
        let empty = try map([("c", 100, false)]).cell(grid(20, at: PlanarPoint(x: 250, y: 250)))
        #expect(empty.feasible && empty.ring.isEmpty && empty.reason.contains("no road inside"))
    }

    @Test("on 200 random graphs the map is as small as brute force finds, seals the grid, and every unit is there in time")
    func bruteForce() throws {
        var random = SyntheticRoads.Generator(state: 129)
        var feasible = 0, infeasible = 0
        for round in 0..<200 {
            let n = 6 + Int(random.next() % 6)
            var roads = Roads()
            for id in 0..<n { roads.node(Int64(id), Double(random.next() % 1_000), Double(random.next() % 1_000)) }
            for a in 0..<n {
                for b in a + 1..<n where random.next() % 100 < 35 { roads.road(Int64(a), Int64(b), oneWay: random.next() % 4 == 0) }
            }
            let graph = try roads.graph()
            let list = (0..<(1 + Int(random.next() % 4))).map { ("u\($0)", Int64(random.next() % UInt64(n)), random.next() % 5 == 0) }
            let target = Double(100 + random.next() % 600), reach = Double(100 + random.next() % 300)
            let projection = LocalProjection(origin: Roads.origin)
            let grid = self.grid(Double(60 + random.next() % 150), at: projection.project(graph.coordinates[Int(random.next() % UInt64(n))]))
            let unitList = units(graph, list)
            let cell = try SealFeasibility(graph: graph, weights: [graph.arcLength], units: unitList, target: target, reach: reach).cell(grid)
            let check = RingCheck(graph: graph, area: try PlanArea(graph: graph, boundary: grid.outline, reach: reach))
            let best = smallestStaffedRing(check, units: unitList, target: target)
            #expect(cell.feasible == (best != nil), "round \(round): \(cell.reason)")
            guard let best, cell.feasible else {
                infeasible += 1
                continue
            }
            feasible += 1
            #expect(cell.ring.count == best, "round \(round): \(cell.ring.count) against \(best)")
            #expect(check.gaps(ring: Set(cell.ring.map(\.node))).isEmpty, "round \(round)")
            #expect(Set(cell.ring.map(\.unit)).count == cell.ring.count && cell.ring.allSatisfy { $0.seconds <= target }, "round \(round)")
        }
        #expect(feasible > 40 && infeasible > 10, "both kinds of grid, enough to mean something: \(feasible) and \(infeasible)")
    }

    /// The fewest nodes (never away) that seal the area with a distinct unit at each within
    /// the target, by trying every subset; nil when none does.
    func smallestStaffedRing(_ check: RingCheck, units: [Containment.Unit], target: Double) -> Int? {
        let graph = check.graph, n = graph.nodeCount
        var distance = [[Double]](repeating: [Double](repeating: .infinity, count: n), count: n)
        for v in 0..<n { distance[v][v] = 0 }
        for v in 0..<n {
            for arc in graph.arcs(from: v) { distance[v][Int(graph.arcHead[arc])] = min(distance[v][Int(graph.arcHead[arc])], graph.arcLength[arc]) }
        }
        for k in 0..<n { for i in 0..<n { for j in 0..<n where distance[i][k] + distance[k][j] < distance[i][j] { distance[i][j] = distance[i][k] + distance[k][j] } } }
        func holds(_ unit: Containment.Unit, _ node: Int) -> Bool { unit.fixed ? unit.node == node : distance[unit.node][node] <= target }
        func staffed(_ ring: [Int]) -> Bool {
            var holder: [Int: Int] = [:]
            func augment(_ index: Int, _ seen: inout Set<Int>) -> Bool {
                for (unit, candidate) in units.enumerated() where holds(candidate, ring[index]) && seen.insert(unit).inserted {
                    if let other = holder[unit], !augment(other, &seen) { continue }
                    holder[unit] = index
                    return true
                }
                return false
            }
            return ring.indices.allSatisfy { index in
                var seen: Set<Int> = []
                return augment(index, &seen)
            }
        }
        let candidates = (0..<n).filter { !check.area.away[$0] }
        var best: Int?
        for mask in 0..<(1 << candidates.count) {
            let ring = candidates.indices.filter { mask & (1 << $0) != 0 }.map { candidates[$0] }
            guard ring.count < best ?? .max, check.gaps(ring: Set(ring)).isEmpty, staffed(ring) else { continue }
            best = ring.count
        }
        return best
    }
}
