@testable import PatrolPlugin
import Foundation
import GridModelContract
import PatrolContract
import Testing
import XunfangGeo

@Suite("Patrol compliance from a terminal's fixes")
struct PatrolComplianceTests {
    let projection = LocalProjection(origin: GeoPoint(longitude: 104.2817, latitude: 30.9769))
    let t0 = china("2026-12-02 08:00")

    func position(_ x: Double, _ y: Double) -> Xunfang_GridModel_V1_Position {
        let point = projection.unproject(PlanarPoint(x: x, y: y))
        var position = Xunfang_GridModel_V1_Position()
        position.longitude = point.longitude
        position.latitude = point.latitude
        return position
    }

    func site(_ id: String, _ x: Double, _ y: Double, path: [(Double, Double)] = []) -> Xunfang_Patrol_V1_MustPatrol {
        var site = Xunfang_Patrol_V1_MustPatrol()
        site.siteID = id
        site.name = id == "L1" ? "必巡线1" : "必巡点\(id.dropFirst())"
        site.position = position(x, y)
        site.path = path.map { position($0.0, $0.1) }
        return site
    }

    var evaluator: PatrolCompliance {
        func square(_ minX: Double) -> Polygon { Polygon(outer: try! Ring([PlanarPoint(x: minX, y: 0), PlanarPoint(x: minX + 500, y: 0), PlanarPoint(x: minX + 500, y: 500), PlanarPoint(x: minX, y: 500), PlanarPoint(x: minX, y: 0)])) }
        return PatrolCompliance(projection: projection, grids: [PatrolCompliance.Grid(id: "G1", parts: [square(0)]), PatrolCompliance.Grid(id: "G2", parts: [square(500)])])
    }

    var assignment: Xunfang_Patrol_V1_Assignment {
        var assignment = Xunfang_Patrol_V1_Assignment()
        assignment.callSign = "C001"
        assignment.stationID = "S1"
        assignment.shiftStart = t0
        assignment.shiftEnd = t0 + 8 * 3_600_000
        assignment.onPatrol = true
        assignment.points = [site("P1", 100, 100), site("P2", 800, 100), site("P3", 300, 400)]
        assignment.lines = [site("L1", 210, 250, path: [(10, 250), (410, 250)])]
        var stop = Xunfang_Patrol_V1_DosageStop()
        stop.cellID = "c2_1"
        stop.position = position(700, 400)
        stop.start = t0 + 600_000
        stop.minutes = 10
        assignment.stops = [stop]
        return assignment
    }

    /// Two minutes at P1; half the line at 10 m/s; 30 s passing P3; five of the stop's ten
    /// minutes; then a terminal off for a quarter of an hour.
    var fixes: [PatrolCompliance.Fix] {
        var fixes: [PatrolCompliance.Fix] = []
        func at(_ seconds: Int64, _ x: Double, _ y: Double) { fixes.append(PatrolCompliance.Fix(at: t0 + seconds * 1_000, point: PlanarPoint(x: x, y: y))) }
        for second in stride(from: 0, through: 120, by: 10) { at(Int64(second), 100, 105) }
        for step in 0...20 { at(130 + Int64(step), 10 + Double(step) * 10, 250) }
        for second in stride(from: 200, through: 230, by: 10) { at(Int64(second), 300, 390) }
        for second in stride(from: 900, through: 1_200, by: 10) { at(Int64(second), 700, 400) }
        at(2_100, 700, 400)
        at(2_110, 700, 410)
        return fixes
    }

    @Test("a point needs its dwell, a line its share, a stop its minutes; time in each grid counts only unbroken track; shortfalls named")
    func judged() {
        let result = evaluator.evaluate(assignment, fixes: fixes, until: assignment.shiftEnd)
        #expect(result.points.map(\.visitedAt) == [t0, 0, 0], "P1 visited; P2 never near; P3 passed for 30 s only")
        #expect(result.points[0].dwellSeconds == 120 && result.points[2].dwellSeconds == 30)
        let share = result.lines[0].share
        #expect(share > 0.55 && share < 0.62 && abs(result.lines[0].metres - 400) < 1, "200 m driven, 30 m of tolerance beyond, the approach near its start: \(share)")
        #expect(abs(result.stops[0].deliveredMinutes - 5) < 0.01, "from 15 to 20 minutes of the stop's 10 to 20")
        let presence = Dictionary(uniqueKeysWithValues: result.presence.map { ($0.gridID, $0.minutes) })
        #expect(abs((presence["G1"] ?? 0) - (120 + 10 + 20 + 50 + 30) / 60.0) < 0.01 && abs((presence["G2"] ?? 0) - (300 + 10) / 60.0) < 0.01, "\(presence)")
        let approach: Double = (90.0 * 90.0 + 145.0 * 145.0).squareRoot(), onward: Double = (90.0 * 90.0 + 140.0 * 140.0).squareRoot()
        let driven: Double = approach + 200 + onward + 10
        #expect(abs(result.kilometres * 1_000 - driven) < 0.5, "the drive with its 50 s pause; the jumps across the long gaps do not count: \(result.kilometres)")
        #expect(result.fixes == 71)
        #expect(result.shortfalls == ["point 必巡点2 (P2) not visited", "point 必巡点3 (P3) not visited", "line 必巡线1 (L1) \(Int((share * 100).rounded()))% covered",
                                      "stop at c2_1 08:10: 5 of 10 minutes"])
        var response = Xunfang_Patrol_V1_ComplianceResponse()
        response.shiftStart = t0
        response.shiftEnd = assignment.shiftEnd
        response.closed = true
        response.units = [result]
        PatrolPlugin.total(&response)
        #expect(response.pointsVisited == 1 && response.pointsRequired == 3 && response.stopMinutesPlanned == 10 && abs(response.stopMinutesDelivered - 5) < 0.01)
        let lines = ComplianceText.lines(response, names: ["S1": "城东北派出所", "G2": "城区网格2"])
        #expect(lines[0].contains("(closed): 1 units; points 1/3 visited (33%)") && lines[2].contains("C001  城东北派出所  patrol  1/3") && lines[2].contains("城区网格2 5 min"),
                "\(lines)")
        let checked = evaluator.evaluate(assignment, fixes: fixes, checkIns: ["P2": t0 + 3_600_000], until: assignment.shiftEnd)
        #expect(checked.points.map(\.visitedAt) == [t0, t0 + 3_600_000, 0] && checked.points[1].checkedInAt == t0 + 3_600_000, "a check-in is a visit")
        #expect(!checked.shortfalls.contains("point 必巡点2 (P2) not visited"))
        let early = evaluator.evaluate(assignment, fixes: fixes, until: t0 + 900_000)
        #expect(early.shortfalls.isEmpty, "mid-shift nothing is due yet: the stop runs to 08:20")
    }

    @Test("standing by for a seal plan excuses that share of the points and lines and the stops it covered by half, said so; a short standby excuses little")
    func standby() throws {
        // From 08:05 to 11:05: three of eight hours (37.5%), over the whole stop (08:10 to 08:20).
        let long = [(plan: "TOWN", start: t0 + 300_000, end: t0 + 300_000 + 3 * 3_600_000)]
        let result = evaluator.evaluate(assignment, fixes: fixes, standby: long, until: assignment.shiftEnd)
        #expect(result.standbyMinutes == 180)
        // One of three points (a third is under 37.5%) and the line (59% covered, 60% asked less 37.5%) excused; the stop too.
        #expect(result.shortfalls == ["point 必巡点3 (P3) not visited"], "\(result.shortfalls)")
        #expect(result.excused.count == 3 && result.excused.allSatisfy { $0.hasSuffix(": standing by for TOWN 180 min") }, "\(result.excused)")
        #expect(result.excused.first == "point 必巡点2 (P2) not visited: standing by for TOWN 180 min")
        var response = Xunfang_Patrol_V1_ComplianceResponse()
        response.units = [result]
        let row = ComplianceText.lines(response)[2]
        #expect(row.contains("180 min  point 必巡点3 (P3) not visited  point 必巡点2"), "the duty officer reads the standby and what it excused: \(row)")
        // Twenty minutes from 09:00: under a third of any point, past the stop, the line still short.
        let short = [(plan: "TOWN", start: t0 + 3_600_000, end: t0 + 3_600_000 + 1_200_000)]
        let brief = evaluator.evaluate(assignment, fixes: fixes, standby: short, until: assignment.shiftEnd)
        #expect(brief.standbyMinutes == 20 && brief.excused.isEmpty && brief.shortfalls.count == 4, "\(brief.shortfalls)")
        // Only the part within the shift counts.
        let across = evaluator.evaluate(assignment, fixes: fixes, standby: [(plan: "TOWN", start: t0 - 3_600_000, end: t0 + 600_000)], until: assignment.shiftEnd)
        #expect(across.standbyMinutes == 10)
    }

    @Test("the store keeps each unit's standby as spans: a pass within the join extends the span, a later one or another plan starts a new one; spans are read clipped to the shift")
    func standbySpans() throws {
        let directory = NSTemporaryDirectory() + "xf-standby-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try PatrolStore(path: "\(directory)/patrol.sqlite")
        for minute in [0, 1, 2, 4] { try store.noteStandby("C001", plan: "TOWN", at: t0 + Int64(minute) * 60_000, join: 5 * 60_000) }
        try store.noteStandby("C001", plan: "TOWN", at: t0 + 20 * 60_000, join: 5 * 60_000)
        try store.noteStandby("C001", plan: "EAST", at: t0 + 21 * 60_000, join: 5 * 60_000)
        try store.noteStandby("C002", plan: "TOWN", at: t0 + 60_000, join: 5 * 60_000)
        let spans = try store.standbys(of: "C001", from: t0 + 60_000, to: t0 + 3_600_000)
        #expect(spans.map { "\($0.plan) \(($0.start - t0) / 60_000)-\(($0.end - t0) / 60_000)" } == ["TOWN 1-4", "TOWN 20-20", "EAST 21-21"], "\(spans)")
    }
}
