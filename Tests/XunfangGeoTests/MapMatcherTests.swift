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

    static func handBuiltFixes() -> [MapMatcher.Fix] {
        let projection = LocalProjection(origin: GeoPoint(longitude: 104.28, latitude: 30.97))
        var fixes: [MapMatcher.Fix] = []
        for step in 0...12 { fixes.append(MapMatcher.Fix(time: Double(step) * 5, point: projection.unproject(PlanarPoint(x: 10 + Double(step) * 50, y: 6)))) }
        fixes.append(MapMatcher.Fix(time: 62, point: projection.unproject(PlanarPoint(x: 300, y: 700))))
        for step in 1...6 { fixes.append(MapMatcher.Fix(time: 65 + Double(step) * 5, point: projection.unproject(PlanarPoint(x: 606, y: 10 + Double(step) * 50)))) }
        return fixes
    }

    @Test("online, fix by fix: each answer is final and comes `lag` moving fixes late; all answers together are the offline match")
    func onlineHandBuilt() {
        let matcher = MapMatcher(graph: Self.lattice), search = matcher.makeSearch(), fixes = Self.handBuiltFixes()
        for lag in [1, 3, 50] {
            var online = OnlineMatch(lag: lag), arcs: [MapMatcher.MatchedArc] = []
            for (index, fix) in fixes.enumerated() {
                let settled = online.add(fix, matcher: matcher, search: search)
                #expect(settled.allSatisfy { $0.entered <= fix.time }, "lag \(lag), fix \(index)")
                arcs += settled
                if lag == 50 { #expect(settled.isEmpty) }
            }
            #expect(lag == 50 || online.settledUpTo != nil)
            arcs += online.finish(matcher: matcher, search: search)
            #expect(arcs == matcher.match(fixes).arcs, "lag \(lag)")
            #expect(online.unmatched == 1 && online.breaks == 0)
        }
    }

    @Test("online with a lag of eight moving fixes matches simulated drives about as well as offline")
    func onlineSimulated() {
        let graph = SyntheticRoads.county(.demoCounty)
        for (interval, noise) in [(1.0, 20.0), (5.0, 10.0)] {
            var settings = MapMatcher.Settings()
            settings.sigma = noise
            let matcher = MapMatcher(graph: graph, settings: settings), search = matcher.makeSearch()
            let drives = SyntheticDrives.make(on: graph, count: 12, interval: interval, noise: noise, seed: 11)
            var offline = 0.0, online = 0.0
            for drive in drives {
                offline += SyntheticDrives.score(matched: matcher.match(drive.fixes).arcs.map(\.arc), truth: drive.truth, graph: graph).f1
                var track = OnlineMatch(lag: 8)
                let arcs = drive.fixes.flatMap { track.add($0, matcher: matcher, search: search) } + track.finish(matcher: matcher, search: search)
                online += SyntheticDrives.score(matched: arcs.map(\.arc), truth: drive.truth, graph: graph).f1
            }
            #expect(online / 12 >= offline / 12 - 0.03, "every \(interval) s, \(noise) m: online F1 \(online / 12), offline \(offline / 12)")
        }
    }
}
