import Foundation
import SwiftProtobuf
import XunfangPluginKit
import CommunityPolicingContract
import GridModelContract

/// `xunfang community compliance`: the duty rules' report for a week or ten days, over the
/// bus as the ctl client, as text for a terminal, JSON for a program or HTML for the file.
enum DutyCommands {
    static let usage = """
    usage: xunfang community compliance [--period week|ten-days] [--day YYYY-MM-DD] [--station ID]
                                        [--format text|json|html] [--out FILE] [--data-dir DIR] [--bus ENDPOINT]
    The period holding --day (China time), or the last one over. Exit 0 when every post met
    its rule or is still pending, 1 when any fell short.
    """

    static func compliance(_ arguments: [String]) async -> Int32 {
        guard let options = commandOptions(arguments, allowed: ["--period", "--day", "--station", "--format", "--out", "--data-dir", "--bus"]),
              let period = ["week": Xunfang_Community_V1_CompliancePeriod.week, "ten-days": .tenDays][options["--period"] ?? "week"],
              let format = options["--format"] ?? "text" as String?, ["text", "json", "html"].contains(format) else {
            return LedgerCommands.fail("compliance", usage)
        }
        var request = Xunfang_Community_V1_ComplianceRequest()
        request.period = period
        request.day = options["--day"] ?? ""
        request.stationID = options["--station"] ?? ""
        do {
            let client = try await ToolConnection(options: options).connect()
            let report = try await client.call(CommunityPlugin.service + "Compliance", request, as: Xunfang_Community_V1_ComplianceReport.self)
            // Stations and grids by name where GridModel answers, by id where it does not.
            let areas = (try? await client.call(CommunityPlugin.listAreas, Xunfang_GridModel_V1_ListAreasRequest(), as: Xunfang_GridModel_V1_ListAreasResponse.self))?.areas ?? []
            await client.close()
            let names = Dictionary(areas.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
            let output = switch format {
            case "json": try report.jsonString(options: JSONEncodingOptions()) + "\n"
            case "html": html(report, names: names)
            default: text(report, names: names)
            }
            if let path = options["--out"] {
                try output.write(toFile: path, atomically: true, encoding: .utf8)
                print("\(report.label): \(report.items.count) posts, \(report.exceptions) short; wrote \(path)")
            } else {
                FileHandle.standardOutput.write(Data(output.utf8))
            }
            return report.exceptions == 0 ? 0 : 1
        } catch {
            return LedgerCommands.fail("compliance", "\(error)")
        }
    }

    static let kindNames: [Xunfang_Community_V1_DutyPostKind: String] = [.villagePolice: "驻村(社区)民警", .stationChief: "所长", .policeRoom: "警务室"]
    static let statusNames: [Xunfang_Community_V1_ComplianceStatus: String] = [.met: "达标", .short: "未达标", .pending: "进行中"]

    static func heading(_ report: Xunfang_Community_V1_ComplianceReport) -> String {
        let last = ChinaTime.label(ofDay: ChinaTime.dayNumber(report.to - 1))
        return "\(report.label) 勤务合规 (\(ChinaTime.label(ofDay: ChinaTime.dayNumber(report.from))) 至 \(last)\(report.closed ? "" : "，未结束"))"
    }

    static func measure(_ item: Xunfang_Community_V1_ComplianceItem) -> String {
        item.unit == "days" ? "\(Int(item.achieved))/\(Int(item.required)) 日" : String(format: "%.1f/%.1f 小时", item.achieved, item.required)
    }

    static func text(_ report: Xunfang_Community_V1_ComplianceReport, names: [String: String]) -> String {
        var lines = [heading(report) + "：\(report.items.count) 个岗位，\(report.exceptions) 个未达标"]
        for item in report.items {
            lines.append([statusNames[item.status] ?? "-", kindNames[item.kind] ?? "-", item.name, names[item.stationID] ?? item.stationID,
                          item.gridID.isEmpty ? "-" : names[item.gridID] ?? item.gridID, measure(item), item.note].filter { !$0.isEmpty }.joined(separator: "  "))
        }
        if report.items.isEmpty { lines.append("no duty posts: import them with xunfang community import --kind duty-posts") }
        return lines.joined(separator: "\n") + "\n"
    }

    static func html(_ report: Xunfang_Community_V1_ComplianceReport, names: [String: String]) -> String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
                .replacingOccurrences(of: "\"", with: "&quot;")
        }
        let rows = report.items.map { item in
            let cells = [statusNames[item.status] ?? "-", kindNames[item.kind] ?? "-", item.name, names[item.stationID] ?? item.stationID,
                         names[item.gridID] ?? item.gridID, measure(item), item.note]
            return "<tr class=\"\(item.status == .short ? "short" : item.status == .pending ? "pending" : "met")\">"
                + cells.map { "<td>\(escape($0))</td>" }.joined() + "</tr>"
        }
        return """
        <!DOCTYPE html>
        <html lang="zh-CN"><head><meta charset="utf-8"><title>\(escape(heading(report)))</title>
        <style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 8px}.short{background:#fdd}.pending{background:#ffd}</style>
        </head><body>
        <h1>\(escape(heading(report)))</h1>
        <p>\(report.items.count) 个岗位，\(report.exceptions) 个未达标。规则：驻村(社区)民警每周在村不少于20小时；所长每月在警务室工作不少于1日；警务室全天候有人值守。</p>
        <table><thead><tr><th>状态</th><th>岗位</th><th>名称</th><th>派出所</th><th>网格</th><th>实际/应达</th><th>说明</th></tr></thead><tbody>
        \(rows.joined(separator: "\n"))
        </tbody></table></body></html>

        """
    }
}
