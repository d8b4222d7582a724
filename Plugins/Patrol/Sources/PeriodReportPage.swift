import Foundation
import XunfangGeo
import XunfangPluginKit
import GridModelContract
import PatrolContract

/// A period's compliance as the bureau reads it: text lines, or one HTML page with a map of
/// the county's grids shaded by patrol presence and the must-patrol sites coloured by how
/// often they were done. Names from GridModel where it answers, ids where it does not.
enum PeriodReportPage {
    static func span(_ report: Xunfang_Patrol_V1_ComplianceReportResponse) -> String {
        let first = ChinaTime.label(ofDay: ChinaTime.dayNumber(report.from)), last = ChinaTime.label(ofDay: ChinaTime.dayNumber(report.to - 1))
        return report.period == "day" ? "day \(first)" : "ten days \(first) – \(last)"
    }

    static func summary(_ total: Xunfang_Patrol_V1_StationTotal) -> String {
        let percent = ComplianceText.percent
        return "\(total.unitShifts) unit-shifts on patrol; points \(total.pointsVisited)/\(total.pointsRequired) visited (\(percent(Double(total.pointsVisited), Double(total.pointsRequired))))"
            + "; lines \(Int((total.lineShare * 100).rounded()))% covered; dosage \(Int(total.stopMinutesDelivered.rounded()))/\(Int(total.stopMinutesPlanned)) min"
            + String(format: "; %.0f km", total.kilometres) + "; \(total.shortUnitShifts) with something left undone"
    }

    static func heading(_ report: Xunfang_Patrol_V1_ComplianceReportResponse) -> String {
        let pending = report.unjudgedShifts.isEmpty ? "" : "; not yet judged: " + report.unjudgedShifts.map { ChinaTime.minute(milliseconds: $0) }.joined(separator: ", ")
        return "\(span(report)) (China time): \(report.shifts) shifts judged\(pending)"
    }

    static func lines(_ report: Xunfang_Patrol_V1_ComplianceReportResponse, names: [String: String]) -> [String] {
        guard report.shifts > 0 else { return [heading(report), "no shift of this period has been judged yet (a shift is judged 10 minutes after it ends)"] }
        return [heading(report), "county: " + summary(report.total)]
            + report.stations.map { "\(names[$0.stationID] ?? $0.stationID): " + summary($0) }
            + ["most presence: " + report.grids.prefix(5).map { "\(names[$0.gridID] ?? $0.gridID) \(Int($0.minutes.rounded())) min" }.joined(separator: ", ")]
            + ["least presence: " + report.grids.suffix(5).reversed().map { "\(names[$0.gridID] ?? $0.gridID) \(Int($0.minutes.rounded())) min" }.joined(separator: ", ")]
    }

    /// `outlines`: GridModel's grids (with their outlines) for the map.
    static func html(_ report: Xunfang_Patrol_V1_ComplianceReportResponse, names: [String: String], outlines: [Xunfang_GridModel_V1_Area]) -> String {
        let escape = SVGFrame.escape
        let rows = ([report.total] + report.stations).map { total in
            let label = total.stationID.isEmpty ? "全县 county" : names[total.stationID] ?? total.stationID
            let cells = [label, "\(total.unitShifts)", "\(total.pointsVisited)/\(total.pointsRequired)", "\(Int((total.lineShare * 100).rounded()))%",
                         "\(Int(total.stopMinutesDelivered.rounded()))/\(Int(total.stopMinutesPlanned))", String(format: "%.0f", total.kilometres), "\(total.shortUnitShifts)"]
            return "<tr>" + cells.map { "<td>\(escape($0))</td>" }.joined() + "</tr>"
        }.joined(separator: "\n")
        let sites = report.sites.map { site in
            let done = site.path.isEmpty ? "\(site.done)/\(site.assigned) visited" : "\(site.done)/\(site.assigned) covered, mean \(Int((site.share * 100).rounded()))%"
            return "<tr><td>\(escape(site.name))</td><td>\(escape(site.siteID))</td><td>\(escape(done))</td></tr>"
        }.joined(separator: "\n")
        return """
        <!doctype html>
        <html lang="zh-CN"><head><meta charset="utf-8"><title>巡逻勤务\(report.period == "day" ? "日" : "旬")报 Patrol compliance</title>
        <style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #bbb;padding:.25em .5em;text-align:left}</style>
        </head><body>
        <h1>巡逻勤务\(report.period == "day" ? "日" : "旬")报 Patrol compliance</h1>
        <p>\(escape(heading(report)))</p>
        <table><thead><tr><th>派出所 station</th><th>unit-shifts</th><th>必巡点 points</th><th>必巡线 lines</th><th>dosage min</th><th>km</th><th>short</th></tr></thead>
        <tbody>
        \(rows)
        </tbody></table>
        <h2>见警率 Presence by grid, must-patrol sites</h2>
        <p>Grids shaded by unit-minutes of presence (darker: more); lines and points green when done in every assigned shift, amber when in some, red when in none.</p>
        \(map(report, names: names, outlines: outlines))
        <table><thead><tr><th>site</th><th>id</th><th>done</th></tr></thead><tbody>
        \(sites)
        </tbody></table></body></html>
        """
    }

    static func colour(done: UInt32, of assigned: UInt32) -> String {
        done >= assigned ? "#2e7d32" : done > 0 ? "#f9a825" : "#c62828"
    }

    static func map(_ report: Xunfang_Patrol_V1_ComplianceReportResponse, names: [String: String], outlines: [Xunfang_GridModel_V1_Area]) -> String {
        func geo(_ position: Xunfang_GridModel_V1_Position) -> GeoPoint { GeoPoint(longitude: position.longitude, latitude: position.latitude) }
        let rings = Dictionary(outlines.map { area in (area.id, area.outline.map { $0.points.map(geo) }) }, uniquingKeysWith: { first, _ in first })
        let everything = rings.values.flatMap { $0.flatMap { $0 } } + report.sites.flatMap { [geo($0.position)] + $0.path.map(geo) }
        guard let frame = SVGFrame(covering: everything.filter { $0.latitude != 0 || $0.longitude != 0 }) else { return "<p>无位置 No grids or sites to draw.</p>" }
        let minutes = Dictionary(report.grids.map { ($0.gridID, $0.minutes) }, uniquingKeysWith: +), most = max(minutes.values.max() ?? 0, 1)
        var shapes = rings.sorted { $0.key < $1.key }.map { id, rings in
            let share = (minutes[id] ?? 0) / most
            return "<path d=\"\(frame.path(rings, closed: true))\" fill=\"#1565c0\" fill-opacity=\"\(String(format: "%.2f", 0.05 + 0.6 * share))\" stroke=\"#777\" stroke-width=\"0.5\">"
                + "<title>\(SVGFrame.escape("\(names[id] ?? id): \(Int((minutes[id] ?? 0).rounded())) unit-min"))</title></path>"
        }
        for site in report.sites {
            let title = "<title>\(SVGFrame.escape("\(site.name) (\(site.siteID)): \(site.done)/\(site.assigned)"))</title>"
            if site.path.isEmpty {
                shapes.append(String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%@\" stroke=\"#fff\">", frame.x(geo(site.position)), frame.y(geo(site.position)),
                                     colour(done: site.done, of: site.assigned)) + title + "</circle>")
            } else {
                shapes.append("<path d=\"\(frame.path([site.path.map(geo)], closed: false))\" fill=\"none\" stroke=\"\(colour(done: site.done, of: site.assigned))\" stroke-width=\"3\">\(title)</path>")
            }
        }
        return frame.open(label: "grids by patrol presence, must-patrol sites by completion") + shapes.joined(separator: "\n") + "</svg>"
    }
}
