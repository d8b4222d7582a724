import Testing
@testable import XunfangGeo

/// A seeded generator so a failing graph can be rebuilt from the test's arguments.
typealias SplitMix64 = SyntheticRoads.Generator

/// A random directed graph on a small patch of the earth, with parallel arcs and
/// one-way streets, as the builder would make it from OSM.
func randomGraph(nodes: Int, arcs: Int, seed: UInt64) throws -> RoadGraph {
    var random = SplitMix64(state: seed)
    var builder = RoadGraphBuilder()
    for id in 0..<nodes {
        builder.addNode(osmID: Int64(id * 7 + 1),
                        at: GeoPoint(longitude: 104.2 + Double.random(in: 0..<0.1, using: &random),
                                     latitude: 30.9 + Double.random(in: 0..<0.1, using: &random)))
    }
    for _ in 0..<arcs {
        let tail = Int32.random(in: 0..<Int32(nodes), using: &random)
        let head = Int32.random(in: 0..<Int32(nodes), using: &random)
        builder.addArc(from: tail, to: head, class: RoadClass.allCases.randomElement(using: &random)!)
    }
    return try builder.build()
}

/// The textbook O(V²) Dijkstra, written to be obviously right rather than fast.
func referenceDistances(_ graph: RoadGraph, weights: [Double], from source: Int, reverse: Bool = false,
                        expands: (_ node: Int, _ distance: Double) -> Bool = { _, _ in true }) -> [Double] {
    var distance = [Double](repeating: .infinity, count: graph.nodeCount)
    var done = [Bool](repeating: false, count: graph.nodeCount)
    distance[source] = 0
    var arcsInto = [[Int]](repeating: [], count: graph.nodeCount)
    var tails = [Int](repeating: 0, count: graph.arcCount)
    for v in 0..<graph.nodeCount {
        for arc in graph.arcs(from: v) {
            tails[arc] = v
            arcsInto[Int(graph.arcHead[arc])].append(arc)
        }
    }
    for _ in 0..<graph.nodeCount {
        var best = -1
        for v in 0..<graph.nodeCount where !done[v] && distance[v] < .infinity && (best < 0 || distance[v] < distance[best]) { best = v }
        if best < 0 { break }
        done[best] = true
        guard expands(best, distance[best]) else { continue }
        if reverse {
            for arc in arcsInto[best] { distance[tails[arc]] = min(distance[tails[arc]], distance[best] + weights[arc]) }
        } else {
            for arc in graph.arcs(from: best) {
                let head = Int(graph.arcHead[arc])
                distance[head] = min(distance[head], distance[best] + weights[arc])
            }
        }
    }
    return distance
}

@Suite("Shortest paths")
struct ShortestPathTests {
    @Test("forward and backward searches equal the reference Dijkstra on random graphs", arguments: 0..<40)
    func equalsReference(seed: Int) throws {
        let graph = try randomGraph(nodes: 5 + seed * 3, arcs: 10 + seed * 9, seed: UInt64(seed))
        for metric in [Metric.distance, .time(.car), .time(.foot)] {
            let weights = graph.weights(metric)
            let forward = ShortestPathSearch(graph: graph, weights: weights)
            let backward = ShortestPathSearch(graph: graph, weights: weights, direction: .backward)
            for source in stride(from: 0, to: graph.nodeCount, by: max(1, graph.nodeCount / 5)) {
                forward.run(from: [(source, 0)])
                backward.run(from: [(source, 0)])
                let expectedFrom = referenceDistances(graph, weights: weights, from: source)
                let expectedTo = referenceDistances(graph, weights: weights, from: source, reverse: true)
                for v in 0..<graph.nodeCount {
                    #expect(close(forward.cost(v), expectedFrom[v]), "seed \(seed) \(metric) \(source)->\(v)")
                    #expect(close(backward.cost(v), expectedTo[v]), "seed \(seed) \(metric) \(v)->\(source)")
                }
            }
        }
    }

    @Test("paths are made of real arcs and cost what the search says", arguments: 0..<10)
    func pathsAddUp(seed: Int) throws {
        let graph = try randomGraph(nodes: 60, arcs: 240, seed: UInt64(100 + seed))
        let weights = graph.weights(.time(.car))
        for direction in [ShortestPathSearch.Direction.forward, .backward] {
            let search = ShortestPathSearch(graph: graph, weights: weights, direction: direction)
            search.run(from: [(0, 0)])
            for v in 0..<graph.nodeCount {
                guard let arcs = search.pathArcs(to: v) else {
                    #expect(search.cost(v) == .infinity)
                    continue
                }
                var position = direction == .forward ? 0 : v
                var total = 0.0
                for arc in arcs {
                    #expect(graph.arcs(from: position).contains(arc))
                    position = Int(graph.arcHead[arc])
                    total += weights[arc]
                }
                #expect(position == (direction == .forward ? v : 0))
                #expect(close(total, search.cost(v)))
            }
        }
    }

    @Test("values carried alongside equal their sum over the chosen path, both directions", arguments: 0..<6)
    func carriedAlongside(seed: Int) throws {
        let graph = try randomGraph(nodes: 80, arcs: 320, seed: UInt64(300 + seed))
        let weights = graph.weights(.time(.car))
        for direction in [ShortestPathSearch.Direction.forward, .backward] {
            let search = ShortestPathSearch(graph: graph, weights: weights, direction: direction, alongside: graph.arcLength)
            search.run(from: [(1, 0)])
            for v in 0..<graph.nodeCount {
                guard let arcs = search.pathArcs(to: v) else { continue }
                #expect(close(search.carried(v), arcs.reduce(0) { $0 + graph.arcLength[$1] }), "\(direction) \(v)")
            }
        }
    }

    @Test("a limit leaves farther nodes unreached; targets stop the search once settled")
    func limitsAndTargets() throws {
        let graph = try randomGraph(nodes: 200, arcs: 800, seed: 7)
        let weights = graph.weights(.distance)
        let full = referenceDistances(graph, weights: weights, from: 3)
        let search = ShortestPathSearch(graph: graph, weights: weights)
        let limit = full.filter { $0 < .infinity }.sorted()[50]
        search.run(from: [(3, 0)], limit: limit)
        for v in 0..<graph.nodeCount {
            #expect(search.cost(v) == (full[v] <= limit ? full[v] : .infinity))
        }
        let reachable = (0..<graph.nodeCount).filter { full[$0] < .infinity && $0 != 3 }
        let targets = Array(reachable.prefix(3))
        search.run(from: [(3, 0)], targets: targets)
        for target in targets { #expect(close(search.cost(target), full[target])) }
    }

    @Test("a node settled beyond its expansion limit is reached but not gone through", arguments: 0..<10)
    func expansionLimits(seed: UInt64) throws {
        let graph = try randomGraph(nodes: 150, arcs: 600, seed: 100 + seed)
        let weights = graph.weights(.distance)
        // From the node with most roads out, which reaches most of the graph.
        let source = (0..<graph.nodeCount).max { graph.arcs(from: $0).count < graph.arcs(from: $1).count }!
        let free = referenceDistances(graph, weights: weights, from: source)
        var random = SplitMix64(state: seed)
        // Each node's limit: about half beyond its distance (gone through), half before it.
        let expandWithin = free.map { $0 * (Double.random(in: 0..<1, using: &random) < 0.5 ? 2 : 0.5) }
        let expected = referenceDistances(graph, weights: weights, from: source) { node, distance in distance <= expandWithin[node] }
        let search = ShortestPathSearch(graph: graph, weights: weights)
        search.run(from: [(source, 0)], expandWithin: expandWithin)
        for v in 0..<graph.nodeCount { #expect(search.cost(v) == expected[v], "node \(v)") }
        #expect(expected.filter { $0 < .infinity }.count < free.filter { $0 < .infinity }.count, "the limits cut something off")
    }

    @Test("multi-source: each node gets the cost from its nearest source, offsets included")
    func multiSource() throws {
        let graph = try randomGraph(nodes: 120, arcs: 500, seed: 11)
        let weights = graph.weights(.distance)
        let sources = [(node: 5, cost: 0.0), (node: 40, cost: 250.0), (node: 99, cost: 10.0)]
        let search = ShortestPathSearch(graph: graph, weights: weights)
        search.run(from: sources)
        let each = sources.map { referenceDistances(graph, weights: weights, from: $0.node).map { d in d } }
        for v in 0..<graph.nodeCount {
            let expected = zip(sources, each).map { $0.cost + $1[v] }.min()!
            #expect(close(search.cost(v), expected))
        }
    }

    @Test("routes report metres and seconds along the chosen path")
    func route() throws {
        var builder = RoadGraphBuilder()
        let a = builder.addNode(osmID: 1, at: GeoPoint(longitude: 104.0, latitude: 31.0))
        let b = builder.addNode(osmID: 2, at: GeoPoint(longitude: 104.01, latitude: 31.0))
        let c = builder.addNode(osmID: 3, at: GeoPoint(longitude: 104.02, latitude: 31.0))
        builder.addArc(from: a, to: b, class: .residential)
        builder.addArc(from: b, to: c, class: .primary)
        builder.addArc(from: a, to: c, class: .livingStreet)  // shorter (straight) but slow
        let graph = try builder.build()
        let byDistance = try #require(graph.route(from: 0, to: 2, metric: .distance))
        let byTime = try #require(graph.route(from: 0, to: 2, metric: .time(.car)))
        let ab = Haversine.metres(graph.coordinates[0], graph.coordinates[1])
        let bc = Haversine.metres(graph.coordinates[1], graph.coordinates[2])
        #expect(byTime.nodes == [0, 1, 2])
        #expect(close(byTime.seconds, ab / (25 / 3.6) + bc / (50 / 3.6)))
        #expect(byDistance.metres <= byTime.metres)
        #expect(graph.route(from: 2, to: 0, metric: .distance) == nil)
        #expect(graph.reachableCounts(from: 0, within: [0, ab + 1, 1e9], metric: .distance) == [1, 2, 3])
    }
}

func close(_ a: Double, _ b: Double) -> Bool {
    if a == b { return true }
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b))
}

@Suite("Coverage and synthetic roads")
struct CoverageTests {
    @Test("road coverage counts arcs in part where the threshold runs out, by hand on a line")
    func partialArcs() throws {
        // 0 -> 1 -> 2 east along a parallel, residential (25 km/h), one-way.
        var builder = RoadGraphBuilder()
        let nodes = (0..<3).map { builder.addNode(osmID: Int64($0 + 1), at: GeoPoint(longitude: 104.0 + 0.002 * Double($0), latitude: 31.0)) }
        builder.addArc(from: nodes[0], to: nodes[1], class: .residential)
        builder.addArc(from: nodes[1], to: nodes[2], class: .residential)
        let graph = try builder.build()
        let weights = graph.weights(.time(.car))
        let first = try #require(graph.node(osmID: 1))
        let search = ShortestPathSearch(graph: graph, weights: weights, recordsPaths: false)
        search.run(from: [(first, 0)], limit: 1_000)
        let arcSeconds = weights[0], total = graph.totalMetres()
        let covered = graph.coveredMetres(after: search, weights: weights, thresholds: [0, arcSeconds / 2, arcSeconds * 1.5, 1_000])
        #expect(covered[0] == 0)
        #expect(abs(covered[1] - total / 4) < 1e-6)
        #expect(abs(covered[2] - total * 3 / 4) < 1e-6)
        #expect(abs(covered[3] - total) < 1e-6)
        // From the far end nothing is reachable against the one-way arcs.
        let last = try #require(graph.node(osmID: 3))
        search.run(from: [(last, 0)], limit: 1_000)
        #expect(graph.coveredMetres(after: search, weights: weights, thresholds: [1_000]) == [0])
    }

    @Test("the demo county network is deterministic, county-sized and almost all one component")
    func demoCounty() {
        let a = SyntheticRoads.county(.demoCounty), b = SyntheticRoads.county(.demoCounty)
        #expect((500...5_000).contains(a.nodeCount), "a county at real road density: \(a.nodeCount) junctions")
        #expect(a.nodeIDs == b.nodeIDs && a.arcHead == b.arcHead && a.arcLength == b.arcLength)
        let search = ShortestPathSearch(graph: a, weights: a.weights(.distance), recordsPaths: false)
        search.run(from: [(a.nodeCount / 2, 0)])
        #expect(Double(search.reached.count) > 0.99 * Double(a.nodeCount))
        #expect(Set(a.arcClass).isSuperset(of: [.trunk, .primary, .residential, .unclassified, .secondary]))
    }
}
