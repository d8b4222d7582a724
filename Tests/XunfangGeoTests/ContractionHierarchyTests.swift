import Foundation
import Testing
@testable import XunfangGeo

@Suite("Contraction hierarchy")
struct ContractionHierarchyTests {
    @Test("every node's cost to a target equals the reference Dijkstra on random graphs", arguments: 0..<30)
    func equalsReference(seed: Int) throws {
        let graph = try randomGraph(nodes: 5 + seed * 5, arcs: 10 + seed * 14, seed: UInt64(500 + seed))
        for metric in [Metric.distance, .time(.car), .time(.foot)] {
            let weights = graph.weights(metric)
            let search = ManyToOneSearch(hierarchy: ContractionHierarchy(graph: graph, weights: weights))
            for target in [0, graph.nodeCount / 2, graph.nodeCount - 1] {
                let expected = referenceDistances(graph, weights: weights, from: target, reverse: true)
                search.run(to: target)
                for v in 0..<graph.nodeCount {
                    #expect(close(search.cost(v), expected[v]), "\(metric) \(v) -> \(target)")
                }
            }
        }
    }

    @Test("metres carried through shortcuts equal those a plain backward search carries", arguments: 0..<6)
    func carriedMetres(seed: Int) throws {
        let graph = try randomGraph(nodes: 150, arcs: 600, seed: UInt64(700 + seed))
        let weights = graph.weights(.time(.car))
        let hierarchy = ContractionHierarchy(graph: graph, weights: weights, alongside: graph.arcLength)
        #expect(hierarchy.arcCount >= graph.arcCount / 2)
        let search = ManyToOneSearch(hierarchy: hierarchy)
        let plain = ShortestPathSearch(graph: graph, weights: weights, direction: .backward, recordsPaths: false, alongside: graph.arcLength)
        for target in [3, 77] {
            search.run(to: target, startCost: 12)
            plain.run(from: [(target, 12)])
            for v in 0..<graph.nodeCount {
                #expect(close(search.cost(v), plain.cost(v)))
                if plain.cost(v).isFinite { #expect(close(search.carried(v), plain.carried(v)), "\(v) -> \(target)") }
            }
        }
    }

    @Test("a tight witness limit adds shortcuts but changes no cost")
    func witnessLimit() throws {
        let graph = try randomGraph(nodes: 300, arcs: 1_200, seed: 99)
        let weights = graph.weights(.time(.car))
        let tight = ContractionHierarchy(graph: graph, weights: weights, witnessLimit: 1)
        let loose = ContractionHierarchy(graph: graph, weights: weights)
        #expect(tight.arcCount >= loose.arcCount)
        let a = ManyToOneSearch(hierarchy: tight), b = ManyToOneSearch(hierarchy: loose)
        a.run(to: 10)
        b.run(to: 10)
        for v in 0..<graph.nodeCount { #expect(close(a.cost(v), b.cost(v))) }
    }

    @Test("on a small synthetic county (lattice, core grid, ring road) it agrees with Dijkstra for car and foot")
    func syntheticCounty() {
        var parameters = SyntheticRoads.Parameters.demoCounty
        parameters.sideMetres = 5_000
        parameters.coreSideMetres = 1_200
        let graph = SyntheticRoads.county(parameters)
        for mode in [TravelMode.car, .foot] {
            let weights = graph.weights(.time(mode))
            let search = ManyToOneSearch(hierarchy: ContractionHierarchy(graph: graph, weights: weights))
            let plain = ShortestPathSearch(graph: graph, weights: weights, direction: .backward, recordsPaths: false)
            for target in [0, graph.nodeCount / 3, graph.nodeCount - 1] {
                search.run(to: target)
                plain.run(from: [(target, 0)])
                var worst = 0.0
                for v in 0..<graph.nodeCount { worst = max(worst, abs(search.cost(v) - plain.cost(v))) }
                #expect(worst < 1e-6, "\(mode) to \(target): off by \(worst) s")
            }
        }
    }
}

@Suite("Hierarchy file")
struct HierarchyFileTests {
    func temporaryPath(_ name: String) -> String {
        let directory = NSTemporaryDirectory() + "xf-ch-\(UInt64.random(in: 0..<UInt64.max))"
        try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory + "/" + name
    }

    @Test("a hierarchy read back answers exactly as the one written")
    func roundTrip() throws {
        let graph = try randomGraph(nodes: 400, arcs: 1_600, seed: 31)
        let weights = graph.weights(.time(.car))
        let built = ContractionHierarchy(graph: graph, weights: weights, alongside: graph.arcLength)
        let fingerprint = HierarchyFile.fingerprint(graph: graph, weights: weights, alongside: graph.arcLength)
        let path = temporaryPath("car.xfch")
        try HierarchyFile.write(built, fingerprint: fingerprint, to: path)
        let loaded = try HierarchyFile.read(from: path, fingerprint: fingerprint)
        #expect(loaded.arcCount == built.arcCount && loaded.nodeCount == built.nodeCount)
        let a = ManyToOneSearch(hierarchy: built), b = ManyToOneSearch(hierarchy: loaded)
        for target in [0, 123, 399] {
            a.run(to: target)
            b.run(to: target)
            for v in 0..<graph.nodeCount { #expect(a.cost(v) == b.cost(v) && (a.cost(v).isInfinite || a.carried(v) == b.carried(v))) }
        }
    }

    @Test("a file for other speeds, a damaged one and a stranger are refused, saying why")
    func refusals() throws {
        let graph = try randomGraph(nodes: 100, arcs: 400, seed: 32)
        let car = graph.weights(.time(.car)), foot = graph.weights(.time(.foot))
        let fingerprint = HierarchyFile.fingerprint(graph: graph, weights: car, alongside: nil)
        #expect(fingerprint != HierarchyFile.fingerprint(graph: graph, weights: foot, alongside: nil))
        let path = temporaryPath("car.xfch")
        try HierarchyFile.write(ContractionHierarchy(graph: graph, weights: car), fingerprint: fingerprint, to: path)
        func refusal(_ path: String, _ fingerprint: UInt32) -> String {
            do {
                _ = try HierarchyFile.read(from: path, fingerprint: fingerprint)
                return ""
            } catch {
                return error.message
            }
        }
        #expect(refusal(path, fingerprint ^ 1).contains("another graph"))
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(refusal(path, fingerprint).contains("checksum"))
        try Data("XFGRAPH1 not this".utf8).write(to: URL(fileURLWithPath: path))
        #expect(refusal(path, fingerprint).contains("not a Xunfang hierarchy"))
        #expect(refusal(path + ".missing", fingerprint).contains("cannot read"))
    }
}
