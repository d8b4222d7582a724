import Foundation
import XunfangGeo
import XunfangPluginKit

/// `xunfang bench checkpoint` (run by this plugin's executable): containment rings on a
/// county-size road graph, the demo county's roads drawn as OSM draws them (a shape node
/// every few tens of metres, so at least 50,000 nodes and the same junctions), with 30
/// patrol cars. Prints the whole ring's latency (field, unit reaches, cut, branch and
/// bound, bisection) and the minimum vertex cut alone, then the 3-minute seal
/// feasibility map of all 129 grids (total and per grid); `--export-dir` writes each
/// incident's and grid's cut problem for `Benchmarks/run-checkpoint`, which times
/// networkx on the very same problems. Not a test.
public enum CheckpointBenchmark {
    struct Options {
        var incidents = 300
        var units = 30
        var headStart = 60.0
        var boundary = 240.0
        var margin = 10.0
        var shapeEvery = 20.0
        var exportDirectory: String?
        var json = false
    }

    public static func run(_ arguments: [String]) -> Int32 {
        var options = Options()
        var index = 0
        func fail(_ message: String) -> Int32 {
            FileHandle.standardError.write(Data("xunfang bench checkpoint: \(message)\n".utf8))
            return 2
        }
        while index < arguments.count {
            let name = arguments[index]
            let value = index + 1 < arguments.count ? arguments[index + 1] : ""
            index += 2
            switch name {
            case "--incidents": options.incidents = Int(value) ?? -1
            case "--units": options.units = Int(value) ?? -1
            case "--head-start": options.headStart = Double(value) ?? -1
            case "--boundary": options.boundary = Double(value) ?? -1
            case "--margin": options.margin = Double(value) ?? -1
            case "--shape-every": options.shapeEvery = Double(value) ?? -1
            case "--export-dir": options.exportDirectory = value
            case "--json": options.json = true; index -= 1
            default: return fail("unknown option \(name) (--incidents N --units N --head-start S --boundary S --margin S --shape-every M --export-dir D --json)")
            }
        }
        guard options.incidents >= 1, options.units >= 1, options.headStart >= 0, options.boundary > options.headStart, options.margin >= 0,
              options.shapeEvery >= 5 else {
            return fail("--incidents ≥ 1, --units ≥ 1, --head-start ≥ 0, --boundary > head start, --margin ≥ 0, --shape-every ≥ 5")
        }
        do {
            let results = try rings(options)
            BenchReport.print(bench: "checkpoint",
                              title: "xunfang bench checkpoint (\(options.incidents) incidents, \(options.units) cars, head start \(Int(options.headStart)) s, boundary \(Int(options.boundary)) s, margin \(Int(options.margin)) s)",
                              parameters: ["incidents": Double(options.incidents), "units": Double(options.units), "head_start": options.headStart,
                                           "boundary": options.boundary, "margin": options.margin],
                              results: results, jsonOnly: options.json)
            return 0
        } catch {
            FileHandle.standardError.write(Data("xunfang bench checkpoint: \(error)\n".utf8))
            return 1
        }
    }

    static func rings(_ options: Options) throws -> [(String, String, Double)] {
        let parameters = SyntheticRoads.Parameters.demoCounty
        let graph = try SyntheticRoads.county(parameters).withShapeNodes(every: options.shapeEvery)
        let projection = LocalProjection(origin: parameters.origin)
        let planar = graph.coordinates.map(projection.project)
        func nodes(within half: Double) -> [Int] { planar.indices.filter { abs(planar[$0].x) < half && abs(planar[$0].y) < half } }
        // Incidents in the town. Three shifts of patrol cars: "core", every car inside the
        // town; "town", in the town or within 2 km of it; "county", one in three anywhere in
        // the county as on a day shift. The suspect left a minute ago by car; the ring must
        // hold what it can reach in the next three minutes (the seal target).
        let town = nodes(within: parameters.coreSideMetres / 2), fringe = nodes(within: parameters.coreSideMetres / 2 + 2_000)
        var random = SyntheticRoads.Generator(state: 14)
        let incidents = (0..<options.incidents).map { _ in town[Int(random.next() % UInt64(town.count))] }
        if let directory = options.exportDirectory { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        var results: [(String, String, Double)] = [("graph.nodes", "count", Double(graph.nodeCount)), ("graph.arcs", "count", Double(graph.arcCount))]
        var units: [Containment.Unit] = []
        for shift in ["core", "town", "county"] {
            units = (0..<options.units).map { index in
                let pool = shift == "county" && index % 3 == 2 ? Array(graph.nodeIDs.indices) : shift == "core" ? town : fringe
                return Containment.Unit(id: "car-\(index + 1)", node: pool[Int(random.next() % UInt64(pool.count))])
            }
            results += try rings(graph, incidents: incidents, units: units, options: options, name: shift)
        }
        // The 3-minute seal map of every grid, from the county shift's cars.
        let grids = parameters.gridBoxes.enumerated().map { index, box in
            SealFeasibility.Grid(id: "grid-\(index + 1)", name: "网格\(index + 1)",
                                 outline: [PlanarPoint(x: box.minX, y: box.minY), PlanarPoint(x: box.maxX, y: box.minY),
                                           PlanarPoint(x: box.maxX, y: box.maxY), PlanarPoint(x: box.minX, y: box.maxY)].map(projection.unproject))
        }
        return results + (try feasibilityMap(graph, grids: grids, units: units, options: options))
    }

    /// The whole map's time (unit searches included), each grid's, and each grid's cut
    /// alone as networkx is timed on it.
    static func feasibilityMap(_ graph: RoadGraph, grids: [SealFeasibility.Grid], units: [Containment.Unit], options: Options) throws -> [(String, String, Double)] {
        var cells: [SealFeasibility.Cell] = [], perGrid: [Double] = [], cuts: [Double] = []
        var built: SealFeasibility?
        let total = try BenchReport.milliseconds {
            let map = SealFeasibility(graph: graph, weights: [graph.weights(.time(.car))], units: units)
            for grid in grids { perGrid.append(try BenchReport.milliseconds { cells.append(try map.cell(grid)) }) }
            built = map
        }
        guard let map = built else { return [] }
        for (number, grid) in grids.enumerated() {
            let problem = try map.problem(grid)
            let chains = problem.cut.chains, source = chains.chain[0]
            let cuttable = chains.any(problem.options.map { !$0.isEmpty }), anyChain = chains.any(problem.escape.map { !$0 })
            var outcome = VertexCutNetwork.Outcome.inseparable, plain = VertexCutNetwork.Outcome.inseparable
            cuts.append(BenchReport.milliseconds { outcome = problem.cut.network.minimumCut(from: source, cuttable: cuttable) })
            plain = problem.cut.network.minimumCut(from: source, cuttable: anyChain)
            if let directory = options.exportDirectory {
                try export(problem.cut, escape: problem.escape, cuttable: cuttable, sizes: (outcome.size, plain.size), to: "\(directory)/map-\(number).txt")
            }
        }
        return [("map.grids", "count", Double(grids.count)), ("map.total", "ms", total),
                ("map.grid.p50", "ms", BenchReport.percentile(perGrid, 0.5)), ("map.grid.p99", "ms", BenchReport.percentile(perGrid, 0.99)),
                ("map.feasible", "count", Double(cells.filter(\.feasible).count)), ("map.proved", "count", Double(cells.filter(\.proved).count)),
                ("map.cut.held.p50", "ms", BenchReport.percentile(cuts, 0.5)), ("map.cut.held.p99", "ms", BenchReport.percentile(cuts, 0.99)),
                ("map.cut.held.total", "ms", cuts.reduce(0, +))]
    }

    static func rings(_ graph: RoadGraph, incidents: [Int], units: [Containment.Unit], options: Options, name: String) throws -> [(String, String, Double)] {
        let weights = graph.weights(.time(.car))

        var ring: [Double] = [], cut: [Double] = [], plainCut: [Double] = []
        var feasible = 0, proved = 0, points = 0, fieldNodes = 0, fieldChains = 0
        for (number, incident) in incidents.enumerated() {
            let problem = Containment.Problem(graph: graph, suspectWeights: weights, policeWeights: [weights], incident: incident,
                                              headStart: options.headStart, boundary: options.boundary, margin: options.margin, units: units)
            var answer: Containment.Answer?
            ring.append(BenchReport.milliseconds { answer = try? Containment.solve(problem) })
            guard let answer else { continue }
            feasible += answer.feasible ? 1 : 0
            proved += answer.proved ? 1 : 0
            points += answer.ring.count
            // The cut alone, as networkx is timed: the cut over the nodes a unit can hold,
            // and the plain cut where any node may be cut.
            let field = try Field(problem)
            fieldNodes += field.nodes.count
            fieldChains += field.chains.count
            let source = field.chains.chain[field.incident]
            let cuttable = field.chains.any(field.options(headStart: options.headStart).map { !$0.isEmpty })
            let anyChain = (0..<field.chains.count).map { $0 != source }
            var outcome = VertexCutNetwork.Outcome.inseparable, plain = VertexCutNetwork.Outcome.inseparable
            cut.append(BenchReport.milliseconds { outcome = field.network.minimumCut(from: source, cuttable: cuttable) })
            plainCut.append(BenchReport.milliseconds { plain = field.network.minimumCut(from: source, cuttable: anyChain) })
            if let directory = options.exportDirectory {
                try export(field.cut, escape: field.isEscape, cuttable: cuttable, sizes: (outcome.size, plain.size), to: "\(directory)/\(name)-\(number).txt")
            }
        }
        let solved = Double(max(ring.count, 1))
        return [("field.nodes.mean", "count", Double(fieldNodes) / solved), ("field.chains.mean", "count", Double(fieldChains) / solved),
                ("ring.p50", "ms", BenchReport.percentile(ring, 0.5)), ("ring.p99", "ms", BenchReport.percentile(ring, 0.99)), ("ring.max", "ms", ring.max() ?? 0),
                ("ring.feasible", "count", Double(feasible)), ("ring.proved", "count", Double(proved)),
                ("ring.points.mean", "count", Double(points) / Double(max(feasible, 1))),
                ("cut.held.p50", "ms", BenchReport.percentile(cut, 0.5)), ("cut.held.p99", "ms", BenchReport.percentile(cut, 0.99)),
                ("cut.any.p50", "ms", BenchReport.percentile(plainCut, 0.5)), ("cut.any.p99", "ms", BenchReport.percentile(plainCut, 0.99))]
            .map { ("\(name).\($0.0)", $0.1, $0.2) }
    }

    /// One cut problem as text, by chain (what the search cuts): `chains source`, the
    /// sinks, the cuttable chains, the cut sizes we found (-1: inseparable; cuttable
    /// chains, then any chain), then one `tail head` line per arc.
    static func export(_ cut: StaffedCut, escape: [Bool], cuttable: [Bool], sizes: (Int, Int), to path: String) throws {
        let chains = cut.chains
        var text = "\(chains.count) \(chains.chain[cut.source])\n"
        text += Set(escape.indices.filter { escape[$0] }.map { chains.chain[$0] }).sorted().map(String.init).joined(separator: " ") + "\n"
        text += cuttable.indices.filter { cuttable[$0] }.map(String.init).joined(separator: " ") + "\n"
        text += "\(sizes.0) \(sizes.1)\n"
        text += chains.arcs.map { "\($0.0) \($0.1)" }.joined(separator: "\n") + "\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}

extension VertexCutNetwork.Outcome {
    /// The cut's size, -1 when inseparable.
    var size: Int {
        if case .cut(let nodes) = self { return nodes.count }
        return -1
    }
}
