import Foundation
import XunfangPluginKit
import PatrolContract

/// The roster's requests over the store: teams from CSV, leave, swaps, who is on duty, and
/// the rotation's calendar.
struct Duty: Sendable {
    let store: PatrolStore
    let rotation: Rotation
    let now: @Sendable () -> Int64
    static let maxCSVBytes = 1_024 * 1_024

    /// `call_sign,team` lines after that header; all or nothing, every bad line named.
    func importTeams(_ request: Xunfang_Patrol_V1_ImportTeamsRequest) throws -> Xunfang_Patrol_V1_ImportTeamsResponse {
        var response = Xunfang_Patrol_V1_ImportTeamsResponse()
        func fail(_ line: Int, _ message: String) {
            var error = Xunfang_Patrol_V1_LineError()
            error.line = UInt32(line)
            error.message = message
            if response.errors.count < 100 { response.errors.append(error) }
        }
        guard request.csv.utf8.count <= Self.maxCSVBytes else { throw BusClientError(.invalidArgument, "the CSV is over 1 MiB") }
        let lines = request.csv.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard lines.first?.replacingOccurrences(of: "\u{FEFF}", with: "") == "call_sign,team" else {
            fail(1, "the header must be call_sign,team")
            return response
        }
        var teams: [(callSign: String, team: String)] = [], seen = Set<String>()
        for (index, line) in lines.enumerated().dropFirst() where !line.isEmpty {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 2 else { fail(index + 1, "\(fields.count) fields; a line is call_sign,team"); continue }
            guard (1...32).contains(fields[0].count), fields[0].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                fail(index + 1, "call_sign \"\(fields[0])\" must be 1 to 32 letters, digits, - or _"); continue
            }
            guard rotation.teams.contains(fields[1]) else { fail(index + 1, "team \"\(fields[1])\" is not one of \(rotation.teams.joined(separator: ", "))"); continue }
            guard seen.insert(fields[0]).inserted else { fail(index + 1, "unit \(fields[0]) appears twice"); continue }
            teams.append((fields[0], fields[1]))
        }
        if teams.isEmpty && response.errors.isEmpty { fail(2, "no units") }
        guard response.errors.isEmpty else { return response }
        try store.put(teams: teams)
        response.imported = UInt32(teams.count)
        return response
    }

    func record(_ leave: Xunfang_Patrol_V1_Leave) throws -> Xunfang_Patrol_V1_RecordResponse {
        guard try store.teams()[leave.callSign] != nil else { throw BusClientError(.notFound, "unit \(leave.callSign) has no team") }
        guard leave.to > leave.from, leave.to - leave.from <= 366 * 86_400_000 else { throw BusClientError(.invalidArgument, "leave must end after it starts, within a year") }
        guard (1...200).contains(leave.reason.count) else { throw BusClientError(.invalidArgument, "reason: 1 to 200 characters") }
        try store.add(leave: leave)
        var response = Xunfang_Patrol_V1_RecordResponse()
        response.note = "\(leave.callSign) off duty \(ChinaTime.format(milliseconds: leave.from)) to \(ChinaTime.format(milliseconds: leave.to))"
        return response
    }

    /// A swap must name a shift the absent unit's team really starts then.
    func record(_ swap: Xunfang_Patrol_V1_Swap) throws -> Xunfang_Patrol_V1_RecordResponse {
        let teams = try store.teams()
        guard let team = teams[swap.absent] else { throw BusClientError(.notFound, "unit \(swap.absent) has no team") }
        guard teams[swap.standIn] != nil, swap.standIn != swap.absent else { throw BusClientError(.invalidArgument, "stand_in must be another unit with a team") }
        guard (1...200).contains(swap.reason.count) else { throw BusClientError(.invalidArgument, "reason: 1 to 200 characters") }
        guard let duty = rotation.onShift(at: swap.shiftStart).first(where: { $0.team == team && $0.start == swap.shiftStart }) else {
            throw BusClientError(.failedPrecondition, "\(swap.absent)'s team \(team) starts no shift at \(ChinaTime.format(milliseconds: swap.shiftStart))")
        }
        // The stand-in's own shifts must leave 8 hours' rest on either side.
        let rest: Int64 = 8 * 3_600_000
        if let clash = rotation.duties(overlapping: (duty.start - rest)..<(duty.end + rest)).first(where: { $0.team == teams[swap.standIn] }) {
            throw BusClientError(.failedPrecondition, "\(swap.standIn) works \(clash.shift) from \(ChinaTime.format(milliseconds: clash.start)) with \(clash.team): no 8 hours' rest")
        }
        try store.add(swap: swap)
        var response = Xunfang_Patrol_V1_RecordResponse()
        response.note = "\(swap.standIn) works \(swap.absent)'s \(duty.shift) from \(ChinaTime.format(milliseconds: duty.start))"
        return response
    }

    func onDuty(_ request: Xunfang_Patrol_V1_OnDutyRequest) throws -> Xunfang_Patrol_V1_OnDutyResponse {
        let time = request.at == 0 ? now() : request.at
        let (leave, swaps) = try store.changes(around: time)
        return Roster.onDuty(at: time, rotation: rotation, teams: try store.teams(), leave: leave, swaps: swaps)
    }

    func roster(_ request: Xunfang_Patrol_V1_RosterRequest) throws -> Xunfang_Patrol_V1_RosterResponse {
        guard request.days <= 62 else { throw BusClientError(.invalidArgument, "days: at most 62") }
        let first: Int64
        if request.from.isEmpty {
            first = ChinaTime.dayNumber(now())
        } else {
            guard let day = ChinaTime.dayNumber(label: request.from) else { throw BusClientError(.invalidArgument, "from \"\(request.from)\" is not YYYY-MM-DD") }
            first = day
        }
        var response = Xunfang_Patrol_V1_RosterResponse()
        response.pattern = rotation.pattern
        response.days = (first..<(first + Int64(request.days == 0 ? 7 : request.days))).map { day in
            var entry = Xunfang_Patrol_V1_RosterDay()
            entry.day = ChinaTime.label(ofDay: day)
            let working = rotation.teams.indices.map { (team: rotation.teams[$0], shift: rotation.shift(team: $0, day: day)?.name) }
            entry.shifts = rotation.shifts.map { shift in working.filter { $0.shift == shift.name }.map(\.team).joined(separator: "、") }
            entry.off = working.filter { $0.shift == nil }.map(\.team).joined(separator: "、")
            return entry
        }
        return response
    }
}
