@testable import PatrolPlugin
import GridModelContract
import PatrolContract
import Testing
import XunfangPluginKit

@Suite("Daily and ten-day compliance reports")
struct PeriodReportTests {
    @Test("a day runs midnight to midnight in China; ten-day periods are the 1st–10th, 11th–20th and 21st to the month's end")
    func bounds() {
        #expect(PeriodReport.bounds(.day, containing: china("2026-12-02 00:00")) == (china("2026-12-02 00:00"), china("2026-12-03 00:00")))
        #expect(PeriodReport.bounds(.day, containing: china("2026-12-02 23:59")) == (china("2026-12-02 00:00"), china("2026-12-03 00:00")))
        #expect(PeriodReport.bounds(.tenDay, containing: china("2026-12-10 23:59")) == (china("2026-12-01 00:00"), china("2026-12-11 00:00")))
        #expect(PeriodReport.bounds(.tenDay, containing: china("2026-12-25 08:00")) == (china("2026-12-21 00:00"), china("2027-01-01 00:00")), "11 days to the year's end")
        #expect(PeriodReport.bounds(.tenDay, containing: china("2028-02-29 08:00")) == (china("2028-02-21 00:00"), china("2028-03-01 00:00")), "9 days in a leap February")
        #expect(PeriodReport.bounds(.tenDay, containing: china("2027-02-21 00:00")) == (china("2027-02-21 00:00"), china("2027-03-01 00:00")), "8 days otherwise")
    }

    func result(_ callSign: String, station: String, shift: String, visited: Bool, share: Double, grid: (String, Double)) -> Xunfang_Patrol_V1_UnitCompliance {
        var result = Xunfang_Patrol_V1_UnitCompliance()
        result.callSign = callSign
        result.stationID = station
        result.shiftStart = china(shift)
        result.onPatrol = true
        var point = Xunfang_Patrol_V1_PointVisit()
        point.siteID = "P1"
        point.visitedAt = visited ? china(shift) + 60_000 : 0
        var line = Xunfang_Patrol_V1_LineCoverage()
        line.siteID = "L1"
        line.metres = 400
        line.share = share
        var presence = Xunfang_Patrol_V1_GridPresence()
        (presence.gridID, presence.minutes) = grid
        result.points = [point]
        result.lines = [line]
        result.presence = [presence]
        result.kilometres = 30
        result.roadKilometres = 32
        if !visited || share < 0.8 { result.shortfalls = ["something"] }
        return result
    }

    @Test("a period's totals: per station and county, presence per grid with distinct units, each site with how many of its unit-shifts did it; a page with a map")
    func totals() {
        let results = [result("A1", station: "S1", shift: "2026-12-02 00:00", visited: true, share: 0.9, grid: ("G1", 100)),
                       result("A2", station: "S1", shift: "2026-12-02 08:00", visited: false, share: 0.5, grid: ("G1", 50)),
                       result("B1", station: "S2", shift: "2026-12-02 08:00", visited: true, share: 1.0, grid: ("G2", 30))]
        var line = Xunfang_Patrol_V1_MustPatrol()
        line.siteID = "L1"
        line.name = "必巡线1"
        for (lon, lat) in [(104.28, 30.97), (104.29, 30.97)] {
            var position = Xunfang_GridModel_V1_Position()
            (position.longitude, position.latitude) = (lon, lat)
            line.path.append(position)
        }
        var assignment = Xunfang_Patrol_V1_Assignment()
        assignment.lines = [line]
        let report = PeriodReport.total(.day, from: china("2026-12-02 00:00"), to: china("2026-12-03 00:00"), results: results, assignments: [assignment],
                                        unjudged: [china("2026-12-02 16:00")], lineShare: 0.8)
        #expect(report.shifts == 2 && report.total.unitShifts == 3 && report.total.pointsVisited == 2 && report.total.pointsRequired == 3)
        #expect(abs(report.total.lineShare - 0.8) < 1e-9 && report.total.shortUnitShifts == 1 && report.total.kilometres == 96)
        #expect(report.stations.map(\.stationID) == ["S1", "S2"] && report.stations[0].unitShifts == 2 && report.stations[0].pointsVisited == 1)
        #expect(report.grids.map(\.gridID) == ["G1", "G2"] && report.grids[0].minutes == 150 && report.grids[0].units == 2)
        let sites = Dictionary(uniqueKeysWithValues: report.sites.map { ($0.siteID, $0) })
        #expect(sites["L1"]?.assigned == 3 && sites["L1"]?.done == 2 && sites["L1"]?.path.count == 2 && sites["L1"]?.name == "必巡线1")
        #expect(sites["P1"]?.assigned == 3 && sites["P1"]?.done == 2 && sites["P1"]?.path.isEmpty == true)
        let lines = PeriodReportPage.lines(report, names: ["S1": "城东派出所", "G1": "城区网格1"])
        #expect(lines[0].contains("day 2026-12-02") && lines[0].contains("2 shifts judged; not yet judged: 2026-12-02 16:00"), "\(lines)")
        #expect(lines[2].hasPrefix("城东派出所: 2 unit-shifts") && lines[4].contains("城区网格1 150 min"), "\(lines)")

        var grid = Xunfang_GridModel_V1_Area()
        grid.id = "G1"
        grid.kind = .grid
        var ring = Xunfang_GridModel_V1_Ring()
        for (lon, lat) in [(104.27, 30.96), (104.30, 30.96), (104.30, 30.98), (104.27, 30.98), (104.27, 30.96)] {
            var position = Xunfang_GridModel_V1_Position()
            (position.longitude, position.latitude) = (lon, lat)
            ring.points.append(position)
        }
        grid.outline = [ring]
        let page = PeriodReportPage.html(report, names: ["G1": "城区网格<1>"], outlines: [grid])
        #expect(page.contains("<svg") && page.contains("城区网格&lt;1&gt;: 150 unit-min") && page.contains("stroke=\"#f9a825\""), "L1 done in 2 of 3: amber")
        #expect(page.components(separatedBy: "<path d=\"M").count == 3, "one grid and one line drawn")
    }
}
