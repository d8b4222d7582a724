import Foundation
import XunfangPluginKit
import PatrolContract

/// A shift's compliance as the duty officer reads it: a summary line, then a line a unit;
/// or the same as one HTML page.
enum ComplianceText {
    static func percent(_ part: Double, of whole: Double) -> String { whole > 0 ? "\(Int((part / whole * 100).rounded()))%" : "-" }

    static func heading(_ answer: Xunfang_Patrol_V1_ComplianceResponse) -> String {
        let span = "\(ChinaTime.minute(milliseconds: answer.shiftStart))–\(ChinaTime.hourMinute(milliseconds: answer.shiftEnd))"
        return "shift \(span) " + (answer.closed ? "(closed)" : "(so far, to \(ChinaTime.hourMinute(milliseconds: answer.at)))")
            + ": \(answer.units.count) units; points \(answer.pointsVisited)/\(answer.pointsRequired) visited"
            + " (\(percent(Double(answer.pointsVisited), of: Double(answer.pointsRequired)))); lines \(Int((answer.lineShare * 100).rounded()))% covered"
            + "; dosage \(Int(answer.stopMinutesDelivered.rounded()))/\(Int(answer.stopMinutesPlanned)) min"
    }

    /// `names`: GridModel's area names by id (empty: ids are shown).
    static func row(_ unit: Xunfang_Patrol_V1_UnitCompliance, names: [String: String]) -> [String] {
        let visited = unit.points.filter { $0.visitedAt > 0 }.count
        let metres = unit.lines.reduce(0) { $0 + $1.metres }, covered = unit.lines.reduce(0) { $0 + $1.share * $1.metres }
        let delivered = unit.stops.reduce(0) { $0 + $1.deliveredMinutes }, planned = unit.stops.reduce(0) { $0 + Double($1.plannedMinutes) }
        let top = unit.presence.first.map { "\(names[$0.gridID] ?? $0.gridID) \(Int($0.minutes.rounded())) min" } ?? "-"
        return [unit.callSign, names[unit.stationID] ?? unit.stationID, unit.onPatrol ? "patrol" : "station", "\(visited)/\(unit.points.count)", percent(covered, of: metres),
                "\(Int(delivered.rounded()))/\(Int(planned))", String(format: "%.1f", unit.kilometres), top,
                unit.standbyMinutes > 0 ? "\(unit.standbyMinutes) min" : "", unit.shortfalls.joined(separator: "; "), unit.excused.joined(separator: "; ")]
    }

    static let columns = ["unit", "station", "duty", "points", "lines", "dosage min", "km", "most time in", "standby", "left undone", "excused"]

    static func lines(_ answer: Xunfang_Patrol_V1_ComplianceResponse, names: [String: String] = [:]) -> [String] {
        [heading(answer), columns.joined(separator: "  ")] + answer.units.map { row($0, names: names).filter { !$0.isEmpty }.joined(separator: "  ") }
    }

    static func html(_ answer: Xunfang_Patrol_V1_ComplianceResponse, names: [String: String] = [:]) -> String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        let header = columns.map { "<th>\(escape($0))</th>" }.joined()
        let body = answer.units.map { unit in
            "<tr\(unit.shortfalls.isEmpty ? "" : " class=\"short\"")>" + row(unit, names: names).map { "<td>\(escape($0))</td>" }.joined() + "</tr>"
        }.joined(separator: "\n")
        return """
        <!doctype html>
        <html lang="zh-CN"><head><meta charset="utf-8"><title>巡逻勤务考核</title>
        <style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.25em .5em;text-align:left}tr.short td{background:#fde8e8}</style>
        </head><body>
        <h1>巡逻勤务考核 Patrol compliance</h1>
        <p>\(escape(heading(answer)))</p>
        <table><thead><tr>\(header)</tr></thead><tbody>
        \(body)
        </tbody></table></body></html>
        """
    }
}
