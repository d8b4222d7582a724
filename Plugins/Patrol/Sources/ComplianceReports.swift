import Foundation
import XunfangGeo
import XunfangPluginKit
import GridModelContract
import PatrolContract

/// Compliance on the bus: a shift's so far on request, each closed shift's judged once
/// (kept, its shortfalls announced on `patrol.exception`), old fixes let go.
extension PatrolPlugin {
    static let listAreas = "/xunfang.grid_model.v1.GridModel/ListAreas"
    /// A closed shift is judged this long after its end: fixes come in late.
    static let closingGrace: Int64 = 10 * 60_000

    /// GridModel's grids, for the time in each; none (and presence left out) without GridModel.
    func evaluator(_ bus: BusClient) async -> PatrolCompliance {
        var request = Xunfang_GridModel_V1_ListAreasRequest()
        request.kind = .grid
        request.withOutlines = true
        let areas = (try? await bus.call(Self.listAreas, request, as: Xunfang_GridModel_V1_ListAreasResponse.self).areas) ?? []
        let corners = areas.flatMap { $0.outline.flatMap { $0.points.map { GeoPoint(longitude: $0.longitude, latitude: $0.latitude) } } }
        let projection = LocalProjection(origin: GeoPoint.middle(of: corners) ?? GeoPoint(longitude: 104.2817, latitude: 30.9769))
        let grids = areas.map { area in
            PatrolCompliance.Grid(id: area.id, parts: area.outline.compactMap { ring in
                (try? Ring(ring.points.map { projection.project(GeoPoint(longitude: $0.longitude, latitude: $0.latitude)) })).map { Polygon(outer: $0) }
            }, station: area.parentID)
        }
        var evaluator = PatrolCompliance(projection: projection, grids: grids)
        evaluator.settings = complianceSettings
        return evaluator
    }

    /// Every assigned unit of the shift judged up to `until`.
    func judge(shiftStart: Int64, until: Int64, using evaluator: PatrolCompliance, filter: (Xunfang_Patrol_V1_Assignment) -> Bool = { _ in true }) throws -> [Xunfang_Patrol_V1_UnitCompliance] {
        try duty.store.assignments(shiftStart: shiftStart).values.filter(filter).sorted { $0.callSign < $1.callSign }.map { assignment in
            let end = min(until, assignment.shiftEnd), project = evaluator.projection.project
            let fixes = try duty.store.fixes(of: assignment.callSign, from: shiftStart, to: end).map {
                PatrolCompliance.Fix(at: $0.at, point: project(GeoPoint(longitude: $0.longitude, latitude: $0.latitude)))
            }
            let roads = try duty.store.driven(of: assignment.callSign, from: shiftStart, to: end).map { ((project($0.from), project($0.to)), metres: $0.metres) }
            let checkIns = try duty.store.checkIns(of: assignment.callSign, from: shiftStart, to: end)
            let standby = try duty.store.standbys(of: assignment.callSign, from: shiftStart, to: end)
            return evaluator.evaluate(assignment, fixes: fixes, roads: roads, checkIns: checkIns, standby: standby, until: until)
        }
    }

    func compliance(_ request: Xunfang_Patrol_V1_ComplianceRequest, bus: BusClient) async throws -> Xunfang_Patrol_V1_ComplianceResponse {
        let now = duty.now()
        let shiftStart: Int64
        if request.shiftStart != 0 {
            shiftStart = request.shiftStart
        } else if let current = try duty.onDuty(Xunfang_Patrol_V1_OnDutyRequest()).onDuty.map(\.shiftStart).max() {
            shiftStart = current
        } else {
            throw BusClientError(.failedPrecondition, "no unit is on duty: name a shift_start")
        }
        let wanted: @Sendable (String, String) -> Bool = { callSign, station in
            (request.callSign.isEmpty || callSign == request.callSign) && (request.stationID.isEmpty || station == request.stationID)
        }
        var response = Xunfang_Patrol_V1_ComplianceResponse()
        response.shiftStart = shiftStart
        if let kept = try duty.store.results(shiftStart: shiftStart) {
            response.units = kept.filter { wanted($0.callSign, $0.stationID) }
            response.closed = true
            response.at = kept.first?.shiftEnd ?? now
        } else {
            guard try !duty.store.assignments(shiftStart: shiftStart).isEmpty else {
                throw BusClientError(.notFound, "no assignments for the shift from \(ChinaTime.format(milliseconds: shiftStart))")
            }
            let evaluator = await evaluator(bus)
            response.units = try await onOwnThread { try judge(shiftStart: shiftStart, until: now, using: evaluator) { wanted($0.callSign, $0.stationID) } }
            response.at = now
        }
        response.shiftEnd = response.units.first?.shiftEnd ?? shiftStart + 8 * 3_600_000
        Self.total(&response)
        return response
    }

    /// A day's or ten-day period's totals from the shifts judged in it.
    func complianceReport(_ request: Xunfang_Patrol_V1_ComplianceReportRequest) throws -> Xunfang_Patrol_V1_ComplianceReportResponse {
        guard let period = PeriodReport.Period(rawValue: request.period.isEmpty ? "day" : request.period) else {
            throw BusClientError(.invalidArgument, "period \"\(request.period)\": use day or ten-day")
        }
        let at = request.at != 0 ? request.at : PeriodReport.bounds(period, containing: duty.now()).from - 1
        let (from, to) = PeriodReport.bounds(period, containing: at)
        var (results, assignments) = try duty.store.judged(from: from, to: to)
        if !request.stationID.isEmpty {
            results = results.filter { $0.stationID == request.stationID }
            assignments = assignments.filter { $0.stationID == request.stationID }
        }
        let unjudged = try duty.store.unjudgedShifts().map(\.start).filter { $0 >= from && $0 < to }
        return PeriodReport.total(period, from: from, to: to, results: results, assignments: assignments, unjudged: unjudged, lineShare: complianceSettings.lineShare)
    }

    /// The shift's totals over its units, summed as a period's are.
    static func total(_ response: inout Xunfang_Patrol_V1_ComplianceResponse) {
        let total = PeriodReport.stationTotal("", response.units)
        response.pointsRequired = total.pointsRequired
        response.pointsVisited = total.pointsVisited
        response.lineShare = total.lineShare
        response.stopMinutesPlanned = total.stopMinutesPlanned
        response.stopMinutesDelivered = total.stopMinutesDelivered
    }

    /// Shifts over (and their grace) not yet judged: judged, kept, shortfalls announced.
    func closeShifts(_ bus: BusClient) async throws {
        let now = duty.now()
        for shift in try duty.store.unjudgedShifts() where shift.end + Self.closingGrace <= now {
            let evaluator = await evaluator(bus)
            let results = try await onOwnThread { try judge(shiftStart: shift.start, until: shift.end, using: evaluator) }
            for result in results where !result.shortfalls.isEmpty && result.onPatrol {
                var exception = Xunfang_Patrol_V1_PatrolException()
                exception.kind = "shortfall"
                exception.callSign = result.callSign
                exception.at = now
                exception.note = "\(result.callSign), shift from \(ChinaTime.format(milliseconds: shift.start)): " + result.shortfalls.joined(separator: "; ")
                _ = try await bus.publishConfirmed(Self.exceptionTopic, exception)
            }
            try duty.store.put(results: results)
            logger.info("shift judged", metadata: ["xunfang.shift": "\(ChinaTime.format(milliseconds: shift.start))", "xunfang.units": "\(results.count)",
                                                   "xunfang.short": "\(results.filter { !$0.shortfalls.isEmpty }.count)"])
        }
        try duty.store.pruneFixes(before: now - trackDays * 86_400_000)
    }
}
