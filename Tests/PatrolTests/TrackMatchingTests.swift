@testable import PatrolPlugin
import Foundation
import GridModelContract
import PatrolContract
import Testing
import XunfangGeo

@Suite("Tracks matched to the roads as fixes come in")
struct TrackMatchingTests {
    /// A town of 30 × 30 junctions 100 m apart, two-way streets: short arcs, so a matcher
    /// that dropped a few fixes would drop arcs.
    static let graph: RoadGraph = {
        let projection = LocalProjection(origin: GeoPoint(longitude: 104.28, latitude: 30.97))
        var builder = RoadGraphBuilder()
        var nodes: [[Int32]] = []
        for row in 0..<30 {
            nodes.append((0..<30).map { column in
                let point = projection.unproject(PlanarPoint(x: Double(column) * 100, y: Double(row) * 100))
                return builder.addNode(osmID: Int64(row * 100 + column + 1), at: point)
            })
        }
        for row in 0..<30 {
            for column in 0..<30 {
                for (r, c) in [(row, column + 1), (row + 1, column)] where r < 30 && c < 30 {
                    builder.addArc(from: nodes[row][column], to: nodes[r][c], class: .residential)
                    builder.addArc(from: nodes[r][c], to: nodes[row][column], class: .residential)
                }
            }
        }
        return try! builder.build()
    }()
    let t0 = china("2026-12-02 08:00")

    func store() throws -> PatrolStore {
        let directory = NSTemporaryDirectory() + "xunfang-patrol-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return try PatrolStore(path: "\(directory)/patrol.sqlite")
    }

    func arcs(_ driven: [PatrolStore.DrivenArc]) -> [Int] {
        let graph = Self.graph
        return driven.compactMap { arc in
            graph.node(osmID: arc.fromNode).flatMap { tail in graph.arcs(from: tail).first { graph.nodeIDs[Int(graph.arcHead[$0])] == arc.toNode } }
        }
    }

    /// Feeds a drive's fixes in 5-second reports, as the gateway does, restarting the
    /// matcher (a new process) after `restartAfter` reports; settles it when the unit goes quiet.
    func run(_ drive: SyntheticDrives.Drive, store: PatrolStore, restartAfter: Int?) throws -> [PatrolStore.DrivenArc] {
        var matching = TrackMatching(graph: Self.graph)
        let fixes = drive.fixes.map { PatrolStore.Fix(at: t0 + Int64(($0.time * 1_000).rounded()), longitude: $0.point.longitude, latitude: $0.point.latitude) }
        for (index, start) in stride(from: 0, to: fixes.count, by: 5).enumerated() {
            if index == restartAfter { matching = TrackMatching(graph: Self.graph) }
            let batch = fixes[start..<min(start + 5, fixes.count)].map { (callSign: "C001", fix: $0) }
            try store.record(fixes: batch)
            try matching.take(batch, store: store, now: batch.last!.fix.at)
        }
        try matching.settleQuiet(store: store, now: fixes.last!.at + 120_000)
        return try store.driven(of: "C001", from: t0, to: t0 + 86_400_000)
    }

    @Test("a drive reported every 5 seconds is kept as the road arcs it took, in order, entered within the drive; a restart mid-drive loses no arc")
    func drivenArcsSurviveRestart() throws {
        let drive = SyntheticDrives.make(on: Self.graph, count: 1, interval: 5, noise: 8, seed: 5)[0]
        let whole = try run(drive, store: store(), restartAfter: nil)
        let restarted = try run(drive, store: store(), restartAfter: drive.fixes.count / 10)
        for driven in [whole, restarted] {
            let score = SyntheticDrives.score(matched: arcs(driven), truth: drive.truth, graph: Self.graph)
            #expect(score.f1 >= 0.95, "F1 \(score.f1) over \(driven.count) arcs, truth \(drive.truth.count)")
            #expect(driven.map(\.entered) == driven.map(\.entered).sorted() && driven.first!.entered >= t0)
            #expect(driven.last!.entered <= t0 + Int64(drive.fixes.last!.time * 1_000))
        }
        #expect(Set(arcs(restarted)).isSuperset(of: Set(arcs(whole))), "the restarted matcher picked up the fixes the first left open")
    }

    @Test("a must-patrol line round a corner counts along the matched roads where the straight stretches between sparse fixes cut the corner")
    func linesAlongRoads() {
        let projection = LocalProjection(origin: GeoPoint(longitude: 104.2817, latitude: 30.9769))
        func position(_ x: Double, _ y: Double) -> Xunfang_GridModel_V1_Position {
            let point = projection.unproject(PlanarPoint(x: x, y: y))
            var position = Xunfang_GridModel_V1_Position()
            (position.longitude, position.latitude) = (point.longitude, point.latitude)
            return position
        }
        var assignment = Xunfang_Patrol_V1_Assignment()
        assignment.shiftStart = t0
        assignment.shiftEnd = t0 + 8 * 3_600_000
        var line = Xunfang_Patrol_V1_MustPatrol()
        line.siteID = "L1"
        line.path = [position(0, 0), position(300, 0), position(300, 300)]
        assignment.lines = [line]
        let fixes = [PatrolCompliance.Fix(at: t0, point: PlanarPoint(x: 0, y: 0)), PatrolCompliance.Fix(at: t0 + 50_000, point: PlanarPoint(x: 300, y: 300))]
        let evaluator = PatrolCompliance(projection: projection, grids: [])
        let straight = evaluator.evaluate(assignment, fixes: fixes, until: assignment.shiftEnd)
        let roads = [((PlanarPoint(x: 0, y: 0), PlanarPoint(x: 300, y: 0)), metres: 300.0), ((PlanarPoint(x: 300, y: 0), PlanarPoint(x: 300, y: 300)), metres: 300.0)]
        let matched = evaluator.evaluate(assignment, fixes: fixes, roads: roads, until: assignment.shiftEnd)
        #expect(straight.lines[0].share < 0.3, "\(straight.lines[0].share)")
        #expect(matched.lines[0].share == 1 && matched.roadKilometres == 0.6 && straight.roadKilometres == 0)
    }
}
