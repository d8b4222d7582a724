import Foundation
import Testing
@testable import XunfangGeo

@Suite("Map matching (hidden Markov model)")
struct MapMatcherTests {
    /// A 4 × 3 lattice of two-way residential streets 200 m apart.
    static let lattice: RoadGraph = {
        let origin = GeoPoint(longitude: 104.28, latitude: 30.97), projection = LocalProjection(origin: origin)
        var builder = RoadGraphBuilder()
        var nodes: [[Int32]] = []
        for row in 0..<3 { nodes.append((0..<4).map { column in builder.addNode(osmID: Int64(row * 10 + column + 1), at: projection.unproject(PlanarPoint(x: Double(column) * 200, y: Double(row) * 200))) }) }
        for row in 0..<3 {
            for column in 0..<4 {
                if column < 3 { builder.addArc(from: nodes[row][column], to: nodes[row][column + 1], class: .residential); builder.addArc(from: nodes[row][column + 1], to: nodes[row][column], class: .residential) }
                if row < 2 { builder.addArc(from: nodes[row][column], to: nodes[row + 1][column], class: .residential); builder.addArc(from: nodes[row + 1][column], to: nodes[row][column], class: .residential) }
            }
        }
        return try! builder.build()
    }()

    func arc(_ graph: RoadGraph, _ from: Int64, _ to: Int64) -> Int {
        graph.arcs(from: graph.node(osmID: from)!).first { graph.nodeIDs[Int(graph.arcHead[$0])] == to }!
    }

    @Test("a drive along the bottom street and up the side is matched arc by arc, in order, with entry times; a fix far off every road is left unmatched")
    func handBuilt() {
        let graph = Self.lattice, projection = LocalProjection(origin: GeoPoint(longitude: 104.28, latitude: 30.97))
        // Every 5 s at 10 m/s, 6 m to the north of the bottom street, then 6 m east of the side street.
        var fixes: [MapMatcher.Fix] = []
        for step in 0...12 { fixes.append(MapMatcher.Fix(time: Double(step) * 5, point: projection.unproject(PlanarPoint(x: 10 + Double(step) * 50, y: 6)))) }
        fixes.append(MapMatcher.Fix(time: 62, point: projection.unproject(PlanarPoint(x: 300, y: 700))))
        for step in 1...6 { fixes.append(MapMatcher.Fix(time: 65 + Double(step) * 5, point: projection.unproject(PlanarPoint(x: 606, y: 10 + Double(step) * 50)))) }
        let result = MapMatcher(graph: graph).match(fixes)
        let ids = result.arcs.map { [graph.nodeIDs[graph.tail(ofArc: $0.arc)], graph.nodeIDs[Int(graph.arcHead[$0.arc])]] }
        #expect(ids == [[1, 2], [2, 3], [3, 4], [4, 14], [14, 24]], "\(ids)")
        #expect(result.unmatched == [13] && result.breaks == 0)
        #expect(result.arcs.map(\.entered) == result.arcs.map(\.entered).sorted() && result.arcs[1].entered > 15 && result.arcs[1].entered < 25)
    }

    @Test("on simulated drives in the demo county the matched arcs agree with the driven ones (length-weighted F1), sparse or noisy")
    func simulatedDrives() {
        let graph = SyntheticRoads.county(.demoCounty)
        for (interval, noise, floor) in [(5.0, 10.0, 0.95), (1.0, 20.0, 0.8), (15.0, 5.0, 0.95)] {
            var settings = MapMatcher.Settings()
            settings.sigma = noise
            let matcher = MapMatcher(graph: graph, settings: settings)
            let drives = SyntheticDrives.make(on: graph, count: 12, interval: interval, noise: noise, seed: 7)
            let scores = drives.map { SyntheticDrives.score(matched: matcher.match($0.fixes).arcs.map(\.arc), truth: $0.truth, graph: graph).f1 }
            let mean = scores.reduce(0, +) / Double(scores.count)
            #expect(drives.count == 12 && mean >= floor, "every \(interval) s, \(noise) m: F1 \(mean)")
        }
    }
}
