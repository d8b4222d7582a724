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
