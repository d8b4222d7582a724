import ArgumentParser
import Foundation
import XunfangGeo
import XunfangPluginKit

/// `xunfang bench geo`: the road-network figures issue 3 sets targets for, on the demo
/// county and on a generated 200,000-node graph. `Benchmarks/run-geo` runs it beside
/// scipy's csgraph.dijkstra on the same exported graphs and sources.
struct GeoBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "geo", abstract: "Road-network search, coverage and locate speed.")
    @Option(help: "Repetitions per figure (the median is reported).") var repeats: Int = 15
    @Option(help: "Units for ETA and coverage.") var units: Int = 500
    @Option(help: "Write each graph and its benchmark sources here, for the scipy baseline.") var exportDir: String?
    @Flag(help: "Print only the JSON line.") var json = false

    func run() throws {
        var results: [(String, String, Double)] = []
        for (name, parameters) in [("demo", SyntheticRoads.Parameters.demoCounty), ("200k", .large)] {
            let started = ContinuousClock.now
            let graph = SyntheticRoads.county(parameters)
            results.append(("\(name).generate", "ms", milliseconds(ContinuousClock.now - started)))
            results.append(("\(name).nodes", "count", Double(graph.nodeCount)))
            results.append(("\(name).arcs", "count", Double(graph.arcCount)))
            results += measure(graph, name: name)
        }
        BenchReport.print(bench: "geo", title: "xunfang bench geo (median of \(repeats); \(units) units)",
                         parameters: ["units": Double(units), "repeats": Double(repeats)], results: results, jsonOnly: json)
    }

    func measure(_ graph: RoadGraph, name: String) -> [(String, String, Double)] {
        var random = SyntheticRoads.Generator(state: 2026)
        var results: [(String, String, Double)] = []
        let sources = (0..<repeats).map { _ in Int.random(in: 0..<graph.nodeCount, using: &random) }
        if let exportDir {
            try? FileManager.default.createDirectory(atPath: exportDir, withIntermediateDirectories: true)
            try? GraphFile.write(graph, to: "\(exportDir)/\(name).graph")
            try? sources.map(String.init).joined(separator: "\n").write(toFile: "\(exportDir)/\(name).sources", atomically: true, encoding: .utf8)
        }

        // Single source, every node, by distance: the figure compared with scipy.
        let distance = graph.weights(.distance)
        let forward = ShortestPathSearch(graph: graph, weights: distance, recordsPaths: false)
        results.append(("\(name).single-source.full", "ms", median(sources.map { source in
            time { forward.run(from: [(source, 0)]) }
        })))
        if let exportDir {
            // Our distances from the first source, for the baseline script to compare with its own.
            forward.run(from: [(sources[0], 0)])
            let costs = forward.costs
            try? costs.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: "\(exportDir)/\(name).check"))
        }

        // Many-to-one: all units' driving times to one incident in one backward search.
        let carTime = graph.weights(.time(.car))
        let backward = ShortestPathSearch(graph: graph, weights: carTime, direction: .backward, recordsPaths: false)
        let unitNodes = (0..<units).map { _ in Int.random(in: 0..<graph.nodeCount, using: &random) }
        results.append(("\(name).eta.\(units)-to-1", "ms", median(sources.map { incident in
            time { backward.run(from: [(incident, 0)], targets: unitNodes) }
        })))
        // The same with road metres carried along each path (what GridModel's Eta answers).
        let carrying = ShortestPathSearch(graph: graph, weights: carTime, direction: .backward, recordsPaths: false, alongside: graph.arcLength)
        results.append(("\(name).eta.\(units)-to-1.with-metres", "ms", median(sources.map { incident in
            time { carrying.run(from: [(incident, 0)], targets: unitNodes) }
        })))

        // The same through a contraction hierarchy (built once per graph and mode): one
        // small upward search from the incident and a sweep over the nodes.
        var hierarchy: ContractionHierarchy?
        results.append(("\(name).hierarchy.build", "ms", time {
            hierarchy = ContractionHierarchy(graph: graph, weights: carTime, alongside: graph.arcLength)
        }))
        results.append(("\(name).hierarchy.arcs", "count", Double(hierarchy!.arcCount)))
        // What a restart pays instead: reading it back from its file.
        let fingerprint = HierarchyFile.fingerprint(graph: graph, weights: carTime, alongside: graph.arcLength)
        let file = NSTemporaryDirectory() + "xunfang-bench-\(getpid())-\(name).xfch"
        if (try? HierarchyFile.write(hierarchy!, fingerprint: fingerprint, to: file)) != nil {
            results.append(("\(name).hierarchy.load", "ms", time { _ = try? HierarchyFile.read(from: file, fingerprint: fingerprint) }))
            try? FileManager.default.removeItem(atPath: file)
        }
        let manyToOne = ManyToOneSearch(hierarchy: hierarchy!)
        results.append(("\(name).eta.\(units)-to-1.hierarchy", "ms", median(sources.map { incident in
            time { manyToOne.run(to: incident) }
        })))
        carrying.run(from: [(sources[0], 0)], targets: unitNodes)
        manyToOne.run(to: sources[0])
        precondition(unitNodes.allSatisfy { abs(carrying.cost($0) - manyToOne.cost($0)) < 1e-6 || carrying.cost($0) == manyToOne.cost($0) },
                     "the hierarchy agrees with Dijkstra")

        // Coverage: share of road within 1, 3 and 5 minutes of the nearest of the units.
        let outward = ShortestPathSearch(graph: graph, weights: carTime, recordsPaths: false)
        var shares: [Double] = []
        let total = graph.totalMetres()
        results.append(("\(name).coverage.1-3-5min", "ms", median((0..<repeats).map { round in
            let placed = (0..<units).map { _ in (node: Int.random(in: 0..<graph.nodeCount, using: &random), cost: 0.0) }
            return time {
                outward.run(from: placed, limit: 300)
                let covered = graph.coveredMetres(after: outward, weights: carTime, thresholds: [60, 180, 300])
                if round == 0 { shares = covered.map { $0 / total } }
            }
        })))
        for (minutes, share) in zip([1, 3, 5], shares) { results.append(("\(name).coverage.\(minutes)min", "share", share)) }

        // Locate: points among square grids of about 1 km² (the county's 129 grids scale).
        let projection = LocalProjection(origin: graph.coordinates[0])
        let planar = graph.coordinates.map(projection.project)
        let bounds = BoundingBox(covering: planar)
        let side = 1_000.0
        var grids: [Polygon] = []
        var y = bounds.minY
        while y < bounds.maxY {
            var x = bounds.minX
            while x < bounds.maxX {
                let corners = [PlanarPoint(x: x, y: y), PlanarPoint(x: x + side, y: y), PlanarPoint(x: x + side, y: y + side), PlanarPoint(x: x, y: y + side)]
                grids.append(Polygon(outer: try! Ring(corners)))
                x += side
            }
            y += side
        }
        let index = SpatialIndex(boxes: grids.map(\.bounds))
        let points = (0..<100_000).map { _ in
            PlanarPoint(x: Double.random(in: bounds.minX..<bounds.maxX, using: &random), y: Double.random(in: bounds.minY..<bounds.maxY, using: &random))
        }
        var located = 0
        let seconds = time {
            for point in points where index.candidates(containing: point).contains(where: { grids[$0].contains(point) }) { located += 1 }
        } / 1_000
        results.append(("\(name).locate.\(grids.count)-grids", "points/s", Double(points.count) / seconds))
        precondition(located == points.count, "every point lies in a grid")

        // PlacePosts: 20 posts among 400 candidate sites for 5,000 weighted demand points, 1 km reach.
        let demand = (0..<5_000).map { _ in planar[Int.random(in: 0..<graph.nodeCount, using: &random)] }
        let demandWeights = demand.map { _ in Double(Int.random(in: 1...10, using: &random)) }
        let candidates = (0..<400).map { _ in planar[Int.random(in: 0..<graph.nodeCount, using: &random)] }
        var coveredShare = 0.0
        results.append(("\(name).place-posts.k20", "ms", median((0..<max(3, repeats / 5)).map { _ in
            time {
                let covers = PostPlacement.coverageWithin(1_000, demands: demand, sites: candidates) { $0.distance(to: $1) }
                let solution = try! PostPlacement(weights: demandWeights, covers: covers).solve(k: 20)
                coveredShare = solution.coveredWeight / solution.totalWeight
            }
        })))
        results.append(("\(name).place-posts.k20.covered", "share", coveredShare))
        return results
    }

    func time(_ body: () -> Void) -> Double {
        let started = ContinuousClock.now
        body()
        return milliseconds(ContinuousClock.now - started)
    }

    func milliseconds(_ duration: Duration) -> Double { duration.seconds * 1_000 }

    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
}
