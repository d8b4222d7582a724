import Foundation
import XunfangPluginKit
import PatrolContract
import GridModelContract

/// `xunfang patrol on-duty|roster`: the roster from a shell, over the bus as the ctl client.
enum RosterCommands {
    static func onDuty(_ arguments: [String]) async -> Int32 {
        guard let options = commandOptions(arguments, allowed: ["--at", "--data-dir", "--bus"]) else {
            return fail("on-duty", "usage: xunfang patrol on-duty [--at \"YYYY-MM-DD HH:MM\"] [--data-dir DIR] [--bus ENDPOINT]")
        }
        var request = Xunfang_Patrol_V1_OnDutyRequest()
        if let at = options["--at"] {
            guard let time = ChinaTime.parse(at) else { return fail("on-duty", "--at \(at) is not YYYY-MM-DD HH:MM (China time)") }
            request.at = time
        }
        do {
            let answer = try await ToolConnection(options: options).callOnce(PatrolPlugin.service + "OnDuty", request, as: Xunfang_Patrol_V1_OnDutyResponse.self)
            print("\(ChinaTime.format(milliseconds: answer.at)): \(answer.onDuty.count) units on duty (\(answer.teamsOnShift.joined(separator: "、"))), \(answer.offDuty) off")
            for (shift, units) in Dictionary(grouping: answer.onDuty, by: { "\($0.team) \($0.shift) \(ChinaTime.minute(milliseconds: $0.shiftStart))-\(ChinaTime.hourMinute(milliseconds: $0.shiftEnd))" })
                .sorted(by: { $0.key < $1.key }) {
                print("\(shift): " + units.map { $0.note.isEmpty ? $0.callSign : "\($0.callSign)(\($0.note))" }.joined(separator: " "))
            }
            if answer.onDuty.isEmpty && answer.offDuty == 0 { print("no units have a team: import them with ImportTeams (call_sign,team)") }
            return 0
        } catch {
            return fail("on-duty", "\(error)")
        }
    }

    static func roster(_ arguments: [String]) async -> Int32 {
        guard let options = commandOptions(arguments, allowed: ["--from", "--days", "--data-dir", "--bus"]) else {
            return fail("roster", "usage: xunfang patrol roster [--from YYYY-MM-DD] [--days N] [--data-dir DIR] [--bus ENDPOINT]")
        }
        var request = Xunfang_Patrol_V1_RosterRequest()
        request.from = options["--from"] ?? ""
        if let days = options["--days"] {
            guard let value = UInt32(days), (1...62).contains(value) else { return fail("roster", "--days must be 1 to 62") }
            request.days = value
        }
        do {
            let answer = try await ToolConnection(options: options).callOnce(PatrolPlugin.service + "Roster", request, as: Xunfang_Patrol_V1_RosterResponse.self)
            let shifts = answer.pattern.shifts
            print((["日期"] + shifts.map { "\($0.name)(\(clock($0.startMinute))起\($0.minutes / 60)小时)" } + ["休息"]).joined(separator: "  "))
            for day in answer.days {
                print(([day.day + " " + ChinaTime.weekdayName(ChinaTime.weekday(ChinaTime.start(ofDay: ChinaTime.dayNumber(label: day.day)!)))] + day.shifts + [day.off])
                    .joined(separator: "  "))
            }
            return 0
        } catch {
            return fail("roster", "\(error)")
        }
    }

    /// `terminals [--silent]`: each on-duty unit's newest fix and how long ago, silent ones marked.
    static func terminals(_ arguments: [String]) async -> Int32 {
        let flags = Set(arguments.filter { $0 == "--silent" })
        guard let options = commandOptions(arguments.filter { !flags.contains($0) }, allowed: ["--data-dir", "--bus"]) else {
            return fail("terminals", "usage: xunfang patrol terminals [--silent] [--data-dir DIR] [--bus ENDPOINT]")
        }
        var request = Xunfang_Patrol_V1_TerminalsRequest()
        request.silentOnly = !flags.isEmpty
        do {
            let answer = try await ToolConnection(options: options).callOnce(PatrolPlugin.service + "Terminals", request, as: Xunfang_Patrol_V1_TerminalsResponse.self)
            print("\(ChinaTime.format(milliseconds: answer.at)): \(answer.terminals.filter(\.onDuty).count) units on duty, \(answer.silent) silent")
            for terminal in answer.terminals {
                let seen = terminal.lastSeen == 0 ? "no position yet"
                    : String(format: "%.5f,%.5f  %@ (%ds ago)", terminal.position.longitude, terminal.position.latitude,
                             ChinaTime.format(milliseconds: terminal.lastSeen).dropFirst(11).prefix(8).description, Int((answer.at - terminal.lastSeen) / 1_000))
                print("\(terminal.callSign)  \(terminal.team.isEmpty ? "-" : terminal.team)  \(terminal.onDuty ? "on duty" : "off duty")  \(seen)\(terminal.silent ? "  SILENT" : "")")
            }
            return 0
        } catch {
            return fail("terminals", "\(error)")
        }
    }

    /// `assignments [--unit C001]`: each on-duty unit's grids, must-patrol sites and stops.
    static func assignments(_ arguments: [String]) async -> Int32 {
        guard let options = commandOptions(arguments, allowed: ["--unit", "--data-dir", "--bus"]) else {
            return fail("assignments", "usage: xunfang patrol assignments [--unit CALL_SIGN] [--data-dir DIR] [--bus ENDPOINT]")
        }
        var request = Xunfang_Patrol_V1_AssignmentsRequest()
        request.callSign = options["--unit"] ?? ""
        do {
            let answer = try await ToolConnection(options: options).callOnce(PatrolPlugin.service + "Assignments", request, as: Xunfang_Patrol_V1_AssignmentsResponse.self)
            print("\(answer.planNote): \(answer.assignments.count) assignments, \(answer.assignments.filter(\.onPatrol).count) on patrol")
            for assignment in answer.assignments {
                let stops = assignment.stops.map { "\($0.cellID) \(ChinaTime.hourMinute(milliseconds: $0.start)) \($0.minutes)min" }
                print("\(assignment.callSign) r\(assignment.revision)  " + (assignment.onPatrol
                    ? "grids \(assignment.gridIds.joined(separator: ",")); \(assignment.points.count) points, \(assignment.lines.count) lines; stops: \(stops.joined(separator: ", "))"
                    : "station duties") + "  (\(assignment.note))")
            }
            return 0
        } catch {
            return fail("assignments", "\(error)")
        }
    }

    /// `compliance [--shift "YYYY-MM-DD HH:MM"] [--station S] [--unit U] [--format text|json|html] [--out F]`.
    static func compliance(_ arguments: [String]) async -> Int32 {
        let usage = "usage: xunfang patrol compliance [--shift \"YYYY-MM-DD HH:MM\"] [--station ID] [--unit CALL_SIGN] [--format text|json|html] [--out FILE]"
        guard let options = commandOptions(arguments, allowed: ["--shift", "--station", "--unit", "--format", "--out", "--data-dir", "--bus"]),
              ["text", "json", "html"].contains(options["--format"] ?? "text") else { return fail("compliance", usage) }
        var request = Xunfang_Patrol_V1_ComplianceRequest()
        if let shift = options["--shift"] {
            guard let start = ChinaTime.parse(shift) else { return fail("compliance", "--shift \(shift) is not YYYY-MM-DD HH:MM (China time)") }
            request.shiftStart = start
        }
        request.stationID = options["--station"] ?? ""
        request.callSign = options["--unit"] ?? ""
        do {
            let client = try await ToolConnection(options: options).connect()
            let answer = try await client.call(PatrolPlugin.service + "Compliance", request, as: Xunfang_Patrol_V1_ComplianceResponse.self)
            // Stations and grids by name where GridModel answers, by id where it does not.
            let areas = (try? await client.call(PatrolPlugin.listAreas, Xunfang_GridModel_V1_ListAreasRequest(), as: Xunfang_GridModel_V1_ListAreasResponse.self))?.areas ?? []
            await client.close()
            let names = Dictionary(areas.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
            let text: String
            switch options["--format"] ?? "text" {
            case "json": text = try answer.jsonString()
            case "html": text = ComplianceText.html(answer, names: names)
            default: text = ComplianceText.lines(answer, names: names).joined(separator: "\n")
            }
            return write(text, to: options["--out"])
        } catch {
            return fail("compliance", "\(error)")
        }
    }

    /// `report [--period day|ten-day] [--date YYYY-MM-DD] [--station ID] [--format text|json|html] [--out FILE]`.
    static func report(_ arguments: [String]) async -> Int32 {
        let usage = "usage: xunfang patrol report [--period day|ten-day] [--date YYYY-MM-DD] [--station ID] [--format text|json|html] [--out FILE]"
        guard let options = commandOptions(arguments, allowed: ["--period", "--date", "--station", "--format", "--out", "--data-dir", "--bus"]),
              ["text", "json", "html"].contains(options["--format"] ?? "text") else { return fail("report", usage) }
        var request = Xunfang_Patrol_V1_ComplianceReportRequest()
        request.period = options["--period"] ?? "day"
        if let date = options["--date"] {
            guard let day = ChinaTime.dayNumber(label: date) else { return fail("report", "--date \(date) is not YYYY-MM-DD") }
            request.at = ChinaTime.start(ofDay: day)
        }
        request.stationID = options["--station"] ?? ""
        do {
            let client = try await ToolConnection(options: options).connect()
            let answer = try await client.call(PatrolPlugin.service + "ComplianceReport", request, as: Xunfang_Patrol_V1_ComplianceReportResponse.self)
            var areas = Xunfang_GridModel_V1_ListAreasRequest()
            areas.withOutlines = options["--format"] == "html"
            let known = (try? await client.call(PatrolPlugin.listAreas, areas, as: Xunfang_GridModel_V1_ListAreasResponse.self))?.areas ?? []
            await client.close()
            let names = Dictionary(known.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
            let text: String
            switch options["--format"] ?? "text" {
            case "json": text = try answer.jsonString()
            case "html": text = PeriodReportPage.html(answer, names: names, outlines: known.filter { $0.kind == .grid })
            default: text = PeriodReportPage.lines(answer, names: names).joined(separator: "\n")
            }
            return write(text, to: options["--out"])
        } catch {
            return fail("report", "\(error)")
        }
    }

    /// The answer on standard output, or into a file (written whole).
    static func write(_ text: String, to path: String?) -> Int32 {
        guard let path else {
            print(text)
            return 0
        }
        do {
            try Data((text + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            print("wrote \(path)")
            return 0
        } catch {
            return fail("report", "\(path): \(error.localizedDescription)")
        }
    }

    static func clock(_ minute: UInt32) -> String { String(format: "%02d:%02d", minute / 60, minute % 60) }

    static func fail(_ command: String, _ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang patrol \(command): \(message)\n".utf8))
        return 1
    }
}
