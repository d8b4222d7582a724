import Foundation
import XunfangPluginKit
import PatrolContract

/// A county's shift rotation: every team runs the same cycle of days (a shift's name or
/// off), each team `offsetDays` behind the one before, from an epoch. Pure arithmetic:
/// which team works which shift on a day, and which shifts are under way at an instant.
struct Rotation: Sendable, Equatable {
    struct Shift: Sendable, Equatable {
        let name: String
        /// Minutes after the labelled day's midnight, up to 1440 (24:00: a night shift that
        /// starts as the day ends, so an evening shift's team rests a day before it).
        let start: Int
        let minutes: Int
    }

    static let off = "休"
    let shifts: [Shift]
    let teams: [String]
    let cycle: [String]
    let offsetDays: Int
    let epochDay: Int64

    /// The documents' four teams in three rotations (四班三运转): day, evening and night
    /// shifts of 8 hours, each team two days on each then two off, two days apart, so every
    /// shift has one team each day and every change of shift leaves a day's rest.
    static let fourTeamsThreeRotations = Rotation(
        shifts: [Shift(name: "白班", start: 8 * 60, minutes: 480), Shift(name: "中班", start: 16 * 60, minutes: 480),
                 Shift(name: "夜班", start: 24 * 60, minutes: 480)],
        teams: ["一班", "二班", "三班", "四班"], cycle: ["白班", "白班", "中班", "中班", "夜班", "夜班", off, off], offsetDays: 2,
        epochDay: ChinaTime.dayNumber(label: "2026-01-01")!)

    init(shifts: [Shift], teams: [String], cycle: [String], offsetDays: Int, epochDay: Int64) {
        self.shifts = shifts
        self.teams = teams
        self.cycle = cycle
        self.offsetDays = offsetDays
        self.epochDay = epochDay
    }

    /// A county's own pattern, checked: every cycle day a shift of it or off.
    init(_ pattern: Xunfang_Patrol_V1_Pattern) throws {
        guard (1...6).contains(pattern.shifts.count), (1...12).contains(pattern.teams.count), (1...56).contains(pattern.cycle.count) else {
            throw BusClientError(.invalidArgument, "a pattern has 1 to 6 shifts, 1 to 12 teams and a cycle of 1 to 56 days")
        }
        let shifts = try pattern.shifts.map { shift in
            guard (1...16).contains(shift.name.count), shift.name != Self.off, shift.startMinute <= 1_440, (60...1_440).contains(shift.minutes) else {
                throw BusClientError(.invalidArgument, "shift \"\(shift.name)\": a name of 1 to 16 characters (not 休), start 0 to 1440 minutes, 60 to 1440 minutes long")
            }
            return Shift(name: shift.name, start: Int(shift.startMinute), minutes: Int(shift.minutes))
        }
        guard Set(shifts.map(\.name)).count == shifts.count, Set(pattern.teams).count == pattern.teams.count,
              pattern.teams.allSatisfy({ (1...16).contains($0.count) }) else {
            throw BusClientError(.invalidArgument, "shift and team names must be distinct, teams 1 to 16 characters")
        }
        if let bad = pattern.cycle.first(where: { $0 != Self.off && !shifts.map(\.name).contains($0) }) {
            throw BusClientError(.invalidArgument, "cycle day \"\(bad)\" is neither a shift of the pattern nor 休")
        }
        guard let epoch = ChinaTime.dayNumber(label: pattern.epoch) else { throw BusClientError(.invalidArgument, "epoch \"\(pattern.epoch)\" is not YYYY-MM-DD") }
        self.init(shifts: shifts, teams: pattern.teams, cycle: pattern.cycle, offsetDays: Int(pattern.offsetDays), epochDay: epoch)
    }

    var pattern: Xunfang_Patrol_V1_Pattern {
        var pattern = Xunfang_Patrol_V1_Pattern()
        pattern.shifts = shifts.map { shift in
            var message = Xunfang_Patrol_V1_Shift()
            message.name = shift.name
            message.startMinute = UInt32(shift.start)
            message.minutes = UInt32(shift.minutes)
            return message
        }
        pattern.teams = teams
        pattern.cycle = cycle
        pattern.offsetDays = UInt32(offsetDays)
        pattern.epoch = ChinaTime.label(ofDay: epochDay)
        return pattern
    }

    /// The shift team `team` (an index) works on China day `day`; nil when off.
    func shift(team: Int, day: Int64) -> Shift? {
        let count = Int64(cycle.count)
        let position = Int(((day - epochDay - Int64(team * offsetDays)) % count + count) % count)
        return shifts.first { $0.name == cycle[position] }
    }

    struct Duty: Equatable {
        let team: String
        let shift: String
        let start: Int64
        let end: Int64
    }

    /// The shifts under way at `time`, with their teams: a shift labelled the day before may
    /// still run (a night shift).
    func onShift(at time: Int64) -> [Duty] {
        duties(overlapping: time..<(time + 1))
    }

    /// Every team's shifts that overlap `window` (of at most a day or two).
    func duties(overlapping window: Range<Int64>) -> [Duty] {
        (ChinaTime.dayNumber(window.lowerBound) - 1...ChinaTime.dayNumber(window.upperBound - 1)).flatMap { day in
            teams.indices.compactMap { index -> Duty? in
                guard let shift = shift(team: index, day: day) else { return nil }
                let start = ChinaTime.start(ofDay: day) + Int64(shift.start) * 60_000
                let end = start + Int64(shift.minutes) * 60_000
                return start < window.upperBound && window.lowerBound < end ? Duty(team: teams[index], shift: shift.name, start: start, end: end) : nil
            }
        }
    }
}

/// Who is on duty: the teams on shift, less units on leave or swapped out, plus stand-ins.
enum Roster {
    struct Leave: Equatable {
        let callSign: String
        let from: Int64
        let to: Int64
    }

    struct Swap: Equatable {
        let absent: String
        let standIn: String
        let shiftStart: Int64
    }

    static func onDuty(at time: Int64, rotation: Rotation, teams: [String: String], leave: [Leave], swaps: [Swap]) -> Xunfang_Patrol_V1_OnDutyResponse {
        let duties = rotation.onShift(at: time)
        func away(_ callSign: String) -> Bool { leave.contains { $0.callSign == callSign && $0.from <= time && time < $0.to } }
        var response = Xunfang_Patrol_V1_OnDutyResponse()
        response.at = time
        response.teamsOnShift = duties.map(\.team)
        var onDuty: [String: Xunfang_Patrol_V1_UnitDuty] = [:]
        for duty in duties {
            let swapped = swaps.filter { $0.shiftStart == duty.start }
            for (callSign, team) in teams where team == duty.team && !away(callSign) && !swapped.contains(where: { $0.absent == callSign }) {
                onDuty[callSign] = unit(callSign, team: team, duty: duty, note: "")
            }
            for swap in swapped where teams[swap.absent] == duty.team && !away(swap.standIn) {
                onDuty[swap.standIn] = unit(swap.standIn, team: teams[swap.standIn] ?? "", duty: duty, note: "替 \(swap.absent)")
            }
        }
        response.onDuty = onDuty.values.sorted { $0.callSign < $1.callSign }
        response.offDuty = UInt32(Set(teams.keys).subtracting(onDuty.keys).count)
        return response
    }

    private static func unit(_ callSign: String, team: String, duty: Rotation.Duty, note: String) -> Xunfang_Patrol_V1_UnitDuty {
        var unit = Xunfang_Patrol_V1_UnitDuty()
        unit.callSign = callSign
        unit.team = team
        unit.shift = duty.shift
        unit.shiftStart = duty.start
        unit.shiftEnd = duty.end
        unit.note = note
        return unit
    }
}
