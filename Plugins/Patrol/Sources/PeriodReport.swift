import Foundation
import XunfangPluginKit
import PatrolContract

/// A day's or ten-day period's patrol compliance (the documents' daily and 旬 reports),
/// totalled from the shifts judged in it: per station, per grid (the presence that stands
/// for police visibility) and per must-patrol site, as assigned. Pure.
enum PeriodReport {
    enum Period: String, CaseIterable {
        case day
        case tenDay = "ten-day"
    }

    /// The period holding `time`: China days, ten-day periods as the calendar has them.
    static func bounds(_ period: Period, containing time: Int64) -> (from: Int64, to: Int64) {
        let day = ChinaTime.dayNumber(time)
        switch period {
        case .day: return (ChinaTime.start(ofDay: day), ChinaTime.start(ofDay: day + 1))
        case .tenDay:
            let tenDays = ChinaTime.tenDays(containing: day)
            return (ChinaTime.start(ofDay: tenDays.first), ChinaTime.start(ofDay: tenDays.next))
        }
    }

    /// The period's totals from its judged results; a line counts as done in a unit-shift
    /// covered to `lineShare`, as in the shift's shortfalls.
    static func total(_ period: Period, from: Int64, to: Int64, results: [Xunfang_Patrol_V1_UnitCompliance], assignments: [Xunfang_Patrol_V1_Assignment],
                      unjudged: [Int64], lineShare: Double) -> Xunfang_Patrol_V1_ComplianceReportResponse {
        var report = Xunfang_Patrol_V1_ComplianceReportResponse()
        report.period = period.rawValue
        report.from = from
        report.to = to
        report.shifts = UInt32(Set(results.map(\.shiftStart)).count)
        report.unjudgedShifts = unjudged
        let patrolling = results.filter(\.onPatrol)
        report.total = stationTotal("", patrolling)
        report.stations = Dictionary(grouping: patrolling, by: \.stationID).sorted { $0.key < $1.key }.map { stationTotal($0.key, $0.value) }
        report.grids = gridTotals(results)
        report.sites = siteTotals(patrolling, assignments: assignments, lineShare: lineShare)
        return report
    }

    static func stationTotal(_ station: String, _ results: [Xunfang_Patrol_V1_UnitCompliance]) -> Xunfang_Patrol_V1_StationTotal {
        var total = Xunfang_Patrol_V1_StationTotal()
        total.stationID = station
        total.unitShifts = UInt32(results.count)
        let points = results.flatMap(\.points), lines = results.flatMap(\.lines), stops = results.flatMap(\.stops)
        total.pointsRequired = UInt32(points.count)
        total.pointsVisited = UInt32(points.filter { $0.visitedAt > 0 }.count)
        let metres = lines.reduce(0) { $0 + $1.metres }
        total.lineShare = metres > 0 ? lines.reduce(0) { $0 + $1.share * $1.metres } / metres : 0
        total.stopMinutesPlanned = Double(stops.reduce(0) { $0 + $1.plannedMinutes })
        total.stopMinutesDelivered = stops.reduce(0) { $0 + min($1.deliveredMinutes, Double($1.plannedMinutes)) }
        total.kilometres = results.reduce(0) { $0 + max($1.roadKilometres, $1.kilometres) }
        total.shortUnitShifts = UInt32(results.filter { !$0.shortfalls.isEmpty }.count)
        return total
    }

    /// Every unit's time in each grid, patrolling or not: visibility is anyone in uniform seen.
    static func gridTotals(_ results: [Xunfang_Patrol_V1_UnitCompliance]) -> [Xunfang_Patrol_V1_GridTotal] {
        var minutes: [String: Double] = [:], units: [String: Set<String>] = [:]
        for result in results {
            for presence in result.presence {
                minutes[presence.gridID, default: 0] += presence.minutes
                units[presence.gridID, default: []].insert(result.callSign)
            }
        }
        return minutes.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { grid, minutes in
            var total = Xunfang_Patrol_V1_GridTotal()
            total.gridID = grid
            total.minutes = minutes
            total.units = UInt32(units[grid]?.count ?? 0)
            return total
        }
    }

    /// Each must-patrol site assigned in the period, its place from the assignments, with how
    /// many of the unit-shifts it was assigned in did it.
    static func siteTotals(_ results: [Xunfang_Patrol_V1_UnitCompliance], assignments: [Xunfang_Patrol_V1_Assignment], lineShare: Double) -> [Xunfang_Patrol_V1_SiteTotal] {
        var sites: [String: Xunfang_Patrol_V1_SiteTotal] = [:]
        for site in assignments.flatMap({ $0.points + $0.lines }) where sites[site.siteID] == nil {
            var total = Xunfang_Patrol_V1_SiteTotal()
            total.siteID = site.siteID
            total.name = site.name
            total.position = site.position
            total.path = site.path
            sites[site.siteID] = total
        }
        var shares: [String: [Double]] = [:]
        for result in results {
            for point in result.points {
                sites[point.siteID, default: placeless(point.siteID, point.name)].assigned += 1
                if point.visitedAt > 0 { sites[point.siteID]!.done += 1 }
            }
            for line in result.lines {
                sites[line.siteID, default: placeless(line.siteID, line.name)].assigned += 1
                if line.share >= lineShare { sites[line.siteID]!.done += 1 }
                shares[line.siteID, default: []].append(line.share)
            }
        }
        for (site, values) in shares { sites[site]?.share = values.reduce(0, +) / Double(values.count) }
        return sites.values.filter { $0.assigned > 0 }.sorted { $0.siteID < $1.siteID }
    }

    static func placeless(_ id: String, _ name: String) -> Xunfang_Patrol_V1_SiteTotal {
        var total = Xunfang_Patrol_V1_SiteTotal()
        total.siteID = id
        total.name = name
        return total
    }
}
