import XunfangGeo

/// The seal feasibility map: for each grid, whether a ring around it can be held within
/// `target` seconds (the 3-minute seal) by distinct units from where they are now, and
/// by whom: the fewest points, and among those the earliest last arrival. A ring around a grid cuts every directed road path from a node inside it to
/// a node more than `reach` metres outside (as a seal plan's ring does); its points lie
/// inside or within the reach. One forward search per unit, limited to the target, serves
/// every grid; each grid is then a `StaffedCut` from a source joined to its inside nodes.
/// Pure: no I/O.
struct SealFeasibility {
    struct Grid: Sendable, Hashable {
        var id: String
        var name: String
        /// The outer ring, WGS84.
        var outline: [GeoPoint]
    }

    struct Point: Sendable, Hashable {
        var node: Int
        /// Index into the units.
        var unit: Int
        var seconds: Double
    }

    struct Cell: Sendable, Hashable {
        var grid: Grid
        var feasible: Bool
        /// False only when the search budget ran out: a ring may exist after all.
        var proved: Bool
        var ring: [Point]
        var insideNodes: Int
        /// The fewest points any ring around the grid needs, units or not.
        var pointsNeeded: Int
        var reason: String
        var latest: Double { ring.map(\.seconds).max() ?? 0 }
    }

    /// One grid's cut problem.
    struct Problem {
        var cut: StaffedCut
        /// Local node → graph node (local 0, the source, is none: -1).
        var nodes: [Int]
        var options: [ArraySlice<StaffedCut.Option>]
        var escape: [Bool]
        var insideNodes: Int
    }

    let graph: RoadGraph
    let units: [Containment.Unit]
    let target: Double
    let reach: Double
    let flowLimit: Int
    private let projection: LocalProjection
    private let planar: [PlanarPoint]
    /// Each unit's nodes within the target, with its seconds to each.
    private let reached: [[(node: Int, seconds: Double)]]

    /// - Parameter weights: seconds per arc for each of the units' weight sets.
    init(graph: RoadGraph, weights: [[Double]], units: [Containment.Unit], target: Double = 180, reach: Double = 1_500,
         flowLimit: Int = Containment.defaultSearchBudget) {
        self.graph = graph
        self.units = units
        self.target = target
        self.reach = reach
        self.flowLimit = flowLimit
        projection = LocalProjection(origin: graph.coordinates.first ?? GeoPoint(longitude: 0, latitude: 0))
        planar = graph.coordinates.map(projection.project)
        var searches: [Int: ShortestPathSearch] = [:]
        reached = units.map { unit in
            if unit.fixed { return [(unit.node, 0)] }
            let search = searches[unit.weightSet] ?? ShortestPathSearch(graph: graph, weights: weights[unit.weightSet], recordsPaths: false)
            searches[unit.weightSet] = search
            search.run(from: [(unit.node, 0)], limit: target)
            return search.reached.map { ($0, search.cost($0)) }
        }
    }

    func cells(_ grids: [Grid]) throws(GeoError) -> [Cell] {
        var cells: [Cell] = []
        for grid in grids { cells.append(try cell(grid)) }
        return cells
    }

    func cell(_ grid: Grid) throws(GeoError) -> Cell {
        let problem = try problem(grid)
        var cell = Cell(grid: grid, feasible: true, proved: true, ring: [], insideNodes: problem.insideNodes, pointsNeeded: 0, reason: "")
        guard problem.insideNodes > 0 else {
            cell.reason = "no road inside the grid"
            return cell
        }
        guard problem.escape.contains(true) else {
            cell.reason = "no road leads more than \(Int(reach)) m away from the grid"
            return cell
        }
        let cut = problem.cut, source = cut.chains.chain[0]
        let anywhere = cut.chains.any(problem.escape.map { !$0 })
        if case .cut(let points) = cut.network.minimumCut(from: source, cuttable: anywhere) { cell.pointsNeeded = points.count }
        let search = cut.smallest(options: problem.options, flowLimit: flowLimit)
        cell.proved = search.proved
        if let smallest = search.ring {
            // The seal is as quick as its last unit: the earliest among the smallest rings.
            let earliest = cut.earliest(options: problem.options, as: smallest, flowLimit: StaffedCut.refiningBudget(flowLimit))
            let ring = earliest.ring ?? smallest
            cell.proved = search.proved && earliest.proved
            cell.ring = ring.points.map { Point(node: problem.nodes[$0.node], unit: $0.unit, seconds: $0.time) }.sorted { $0.node < $1.node }
            return cell
        }
        cell.feasible = false
        let held = cut.chains.any(problem.options.map { !$0.isEmpty })
        if cut.network.minimumCut(from: source, cuttable: held) == .inseparable {
            cell.reason = "some road out of the grid has no node any unit reaches within \(Int(target)) s"
        } else if !search.proved {
            cell.reason = "no ring was found before the search budget of \(flowLimit) flows ran out; one may still exist"
        } else {
            cell.reason = "a ring needs at least \(cell.pointsNeeded) points and too few distinct units reach them within \(Int(target)) s"
        }
        return cell
    }

    /// The grid's nodes and those within the reach (source joined to the inside ones), the
    /// first node beyond the reach on every road (escape), and who can hold what in time.
    func problem(_ grid: Grid) throws(GeoError) -> Problem {
        let area = MultiPolygon(Polygon(outer: try Ring(grid.outline.map(projection.project))))
        let near = area.bounds.expanded(by: reach)
        var local = [Int32](repeating: -1, count: graph.nodeCount)
        var nodes = [-1], order = [0.0], arcs: [(Int, Int)] = []
        for node in 0..<graph.nodeCount where near.contains(planar[node]) {
            let inside = area.contains(planar[node])
            let distance = inside ? 0 : area.distance(to: planar[node])
            guard distance <= reach else { continue }
            local[node] = Int32(nodes.count)
            if inside { arcs.append((0, nodes.count)) }
            nodes.append(node)
            order.append(distance)
        }
        let insideNodes = arcs.count, held = nodes.count
        var escape = [Bool](repeating: false, count: held)
        for position in 1..<held {
            for arc in graph.arcs(from: nodes[position]) {
                let head = Int(graph.arcHead[arc])
                if local[head] < 0 {
                    local[head] = Int32(nodes.count)
                    nodes.append(head)
                    order.append(reach)
                    escape.append(true)
                }
                arcs.append((position, Int(local[head])))
            }
        }
        var options = [[StaffedCut.Option]](repeating: [], count: nodes.count)
        for (unit, reached) in reached.enumerated() {
            for (node, seconds) in reached where local[node] > 0 && Int(local[node]) < held {
                options[Int(local[node])].append(StaffedCut.Option(unit: unit, time: seconds, node: Int(local[node])))
            }
        }
        let cut = StaffedCut(nodeCount: nodes.count, arcs: arcs, escape: escape, source: 0, unitCount: units.count, order: order)
        return Problem(cut: cut, nodes: nodes, options: options.map { $0[...] }, escape: escape, insideNodes: insideNodes)
    }
}
