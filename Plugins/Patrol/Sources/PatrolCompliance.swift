import Foundation
import XunfangGeo
import XunfangPluginKit
import GridModelContract
import PatrolContract

/// How a unit's shift went against its assignment, from its terminal's fixes (time order,
/// planar metres). Pure: the plugin feeds it the stored fixes and GridModel's grids.
struct PatrolCompliance: Sendable {
    struct Settings: Sendable {
        /// A must-patrol point is visited by staying this near it this long.
        var visitRadius = 50.0
        var dwellSeconds = 60.0
        /// A line's piece counts as passed when the track runs this near it.
        var lineTolerance = 30.0
        /// A line done below this share is a shortfall.
        var lineShare = 0.8
        /// A dosage stop is delivered within this distance of its cell's centre (a 250 m cell's half-diagonal).
        var stopRadius = 180.0
        /// Fixes further apart than this do not make a stretch of track (the terminal was off).
        var maxGapSeconds = 60.0
    }

    struct Fix: Sendable {
        let at: Int64
        let point: PlanarPoint
    }

    struct Grid: Sendable {
        let id: String
        let parts: [Polygon]
        /// The grid's station (its parent in GridModel).
        var station = ""
    }

    let projection: LocalProjection
    let grids: [Grid]
    private let index: SpatialIndex
    var settings = Settings()

    init(projection: LocalProjection, grids: [Grid], settings: Settings = Settings()) {
        self.projection = projection
        self.grids = grids
        index = SpatialIndex(boxes: grids.map { $0.parts.reduce(BoundingBox.empty) { $0.union($1.bounds) } })
        self.settings = settings
    }

    /// A stretch of road or track, planar.
    typealias Segment = (from: PlanarPoint, to: PlanarPoint)

    /// The unit's compliance up to `until` (the shift's end once it is over). Lines count as
    /// driven along `roads`, the arcs its track was matched to, when there are any; along
    /// the straight stretches between its fixes otherwise.
    /// A check-in at a point (`checkIns`: site → first time, each made where the unit's fix was
    /// at the point) counts as a visit.
    /// Standing by for a seal plan (`standby`: its spans) takes the unit off its patrol on
    /// command's ask: that share of the shift's points and lines, and the stops it overlapped
    /// by half, are excused rather than shortfalls.
    func evaluate(_ assignment: Xunfang_Patrol_V1_Assignment, fixes: [Fix], roads: [(Segment, metres: Double)] = [], checkIns: [String: Int64] = [:],
                  standby: [(plan: String, start: Int64, end: Int64)] = [], until: Int64) -> Xunfang_Patrol_V1_UnitCompliance {
        var result = Xunfang_Patrol_V1_UnitCompliance()
        result.callSign = assignment.callSign
        result.stationID = assignment.stationID
        result.shiftStart = assignment.shiftStart
        result.shiftEnd = assignment.shiftEnd
        result.onPatrol = assignment.onPatrol
        result.fixes = UInt32(fixes.count)
        let stretches = zip(fixes, fixes.dropFirst()).filter { Double($1.at - $0.at) / 1_000 <= settings.maxGapSeconds }
        result.kilometres = stretches.reduce(0) { $0 + $1.0.point.distance(to: $1.1.point) } / 1_000
        result.points = assignment.points.map { site in
            var visit = visit(site, fixes: fixes)
            if let at = checkIns[site.siteID] {
                visit.checkedInAt = at
                visit.visitedAt = visit.visitedAt == 0 ? at : min(visit.visitedAt, at)
            }
            return visit
        }
        result.roadKilometres = roads.reduce(0) { $0 + $1.metres } / 1_000
        let driven = roads.isEmpty ? stretches.map { ($0.0.point, $0.1.point) } : roads.map(\.0)
        result.lines = assignment.lines.map { coverage($0, along: driven) }
        result.stops = assignment.stops.map { delivery($0, stretches: stretches, until: until) }
        result.presence = presence(stretches)
        judge(&result, assignment, standby: standby, until: until)
        return result
    }

    /// What was left undone, each item a shortfall or, when the unit stood by for a seal plan
    /// over it, excused; before the shift ends only stops already due are judged.
    private func judge(_ result: inout Xunfang_Patrol_V1_UnitCompliance, _ assignment: Xunfang_Patrol_V1_Assignment,
                       standby: [(plan: String, start: Int64, end: Int64)], until: Int64) {
        func overlap(_ from: Int64, _ to: Int64) -> Int64 { standby.reduce(0) { $0 + max(0, min($1.end, to) - max($1.start, from)) } }
        let standing = overlap(assignment.shiftStart, min(until, assignment.shiftEnd))
        result.standbyMinutes = UInt32(standing / 60_000)
        let share = Double(standing) / Double(max(1, assignment.shiftEnd - assignment.shiftStart))
        let why = "standing by for \(Set(standby.map(\.plan)).sorted().joined(separator: ", ")) \(result.standbyMinutes) min"
        var excused: [String] = [], shortfalls: [String] = []
        func note(_ text: String, excused isExcused: Bool) {
            if isExcused { excused.append("\(text): \(why)") } else { shortfalls.append(text) }
        }
        if until >= assignment.shiftEnd {
            var excusable = Int(Double(result.points.count) * share)
            for point in result.points where point.visitedAt == 0 {
                note("point \(point.name) (\(point.siteID)) not visited", excused: excusable > 0)
                excusable -= 1
            }
            for line in result.lines where line.share < settings.lineShare {
                note("line \(line.name) (\(line.siteID)) \(Int((line.share * 100).rounded()))% covered",
                     excused: line.share >= settings.lineShare * (1 - share))
            }
        }
        for stop in result.stops where stop.start + Int64(stop.plannedMinutes) * 60_000 <= until && stop.deliveredMinutes < Double(stop.plannedMinutes) * 0.8 {
            let end = stop.start + Int64(stop.plannedMinutes) * 60_000
            note("stop at \(stop.cellID) \(ChinaTime.hourMinute(milliseconds: stop.start)): "
                 + "\(Int(stop.deliveredMinutes.rounded())) of \(stop.plannedMinutes) minutes",
                 excused: 2 * overlap(stop.start, end) >= end - stop.start)
        }
        result.shortfalls = shortfalls
        result.excused = excused
    }

    func point(_ position: Xunfang_GridModel_V1_Position) -> PlanarPoint {
        projection.project(GeoPoint(longitude: position.longitude, latitude: position.latitude))
    }

    /// The longest run of consecutive fixes within the radius; visited when it lasts the dwell.
    func visit(_ site: Xunfang_Patrol_V1_MustPatrol, fixes: [Fix]) -> Xunfang_Patrol_V1_PointVisit {
        var visit = Xunfang_Patrol_V1_PointVisit()
        visit.siteID = site.siteID
        visit.name = site.name
        let centre = point(site.position)
        var runStart: Int64?, last: Int64 = 0
        for fix in fixes {
            let inside = fix.point.distance(to: centre) <= settings.visitRadius
            if inside, let begun = runStart, Double(fix.at - last) / 1_000 <= settings.maxGapSeconds {
                let dwell = UInt32((fix.at - begun) / 1_000)
                if dwell > visit.dwellSeconds { visit.dwellSeconds = dwell }
                if visit.visitedAt == 0, Double(dwell) >= settings.dwellSeconds { visit.visitedAt = begun }
            } else {
                runStart = inside ? fix.at : nil
            }
            last = fix.at
        }
        return visit
    }

    /// The share of the line's length (in pieces of at most 25 m) passed within the tolerance.
    func coverage(_ site: Xunfang_Patrol_V1_MustPatrol, along driven: [Segment]) -> Xunfang_Patrol_V1_LineCoverage {
        var coverage = Xunfang_Patrol_V1_LineCoverage()
        coverage.siteID = site.siteID
        coverage.name = site.name
        let path = site.path.map(point)
        var pieces: [(middle: PlanarPoint, metres: Double)] = []
        for (a, b) in zip(path, path.dropFirst()) {
            let length = a.distance(to: b), count = max(1, Int((length / 25).rounded(.up)))
            for index in 0..<count {
                let share = (Double(index) + 0.5) / Double(count)
                pieces.append((PlanarPoint(x: a.x + (b.x - a.x) * share, y: a.y + (b.y - a.y) * share), length / Double(count)))
            }
        }
        coverage.metres = pieces.reduce(0) { $0 + $1.metres }
        guard coverage.metres > 0 else { return coverage }
        let box = BoundingBox(covering: path).expanded(by: settings.lineTolerance)
        let near = driven.filter { box.intersects(BoundingBox(covering: [$0.from, $0.to])) }
        let passed = pieces.filter { piece in near.contains { piece.middle.distance(toSegment: $0.from, $0.to) <= settings.lineTolerance } }
        coverage.share = passed.reduce(0) { $0 + $1.metres } / coverage.metres
        return coverage
    }

    /// Minutes of track within the stop radius between the stop's start and end.
    func delivery(_ stop: Xunfang_Patrol_V1_DosageStop, stretches: [(Fix, Fix)], until: Int64) -> Xunfang_Patrol_V1_StopDelivery {
        var delivery = Xunfang_Patrol_V1_StopDelivery()
        delivery.cellID = stop.cellID
        delivery.start = stop.start
        delivery.plannedMinutes = stop.minutes
        let centre = point(stop.position), end = min(until, stop.start + Int64(stop.minutes) * 60_000)
        let inside = stretches.filter { $0.0.at >= stop.start && $0.1.at <= end && $0.0.point.distance(to: centre) <= settings.stopRadius && $0.1.point.distance(to: centre) <= settings.stopRadius }
        delivery.deliveredMinutes = Double(inside.reduce(0) { $0 + ($1.1.at - $1.0.at) }) / 60_000
        return delivery
    }

    func grid(containing point: PlanarPoint) -> Grid? {
        index.candidates(containing: point).first { grids[$0].parts.contains { $0.contains(point) } }.map { grids[$0] }
    }

    /// Minutes in each grid: each stretch of track counted in the grid its start lies in.
    func presence(_ stretches: [(Fix, Fix)]) -> [Xunfang_Patrol_V1_GridPresence] {
        var minutes: [String: Double] = [:]
        for (from, to) in stretches {
            guard let grid = grid(containing: from.point) else { continue }
            minutes[grid.id, default: 0] += Double(to.at - from.at) / 60_000
        }
        return minutes.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { id, minutes in
            var presence = Xunfang_Patrol_V1_GridPresence()
            presence.gridID = id
            presence.minutes = minutes
            return presence
        }
    }
}
