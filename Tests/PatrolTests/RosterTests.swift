@testable import PatrolPlugin
import DispatchContract
import Foundation
import PatrolContract
import Testing
import XunfangPluginKit

/// China time `yyyy-mm-dd hh:mm` as Unix ms.
func china(_ text: String) -> Int64 { ChinaTime.parse(text)! }

@Suite("Duty rosters")
struct RosterTests {
    let rotation = Rotation.fourTeamsThreeRotations

    @Test("four teams in three rotations: every day each shift has one team and one team is off; 48 hours in 8 days; at least 16 hours' rest between shifts")
    func fourTeams() {
        let first = ChinaTime.dayNumber(label: "2026-11-01")!
        for day in first..<(first + 31) {
            let shifts = rotation.teams.indices.compactMap { rotation.shift(team: $0, day: day)?.name }
            #expect(shifts.sorted() == ["中班", "夜班", "白班"], "\(ChinaTime.label(ofDay: day))")
        }
        for team in rotation.teams.indices {
            let worked = (first..<(first + 32)).compactMap { day in
                rotation.shift(team: team, day: day).map { (start: ChinaTime.start(ofDay: day) + Int64($0.start) * 60_000, minutes: $0.minutes) }
            }
            #expect(worked.count == 24 && worked.reduce(0) { $0 + $1.minutes } == 4 * 48 * 60, "six shifts of 8 hours every 8 days")
            let rests = zip(worked, worked.dropFirst()).map { Int(($1.start - $0.start) / 60_000) - $0.minutes }
            #expect(rests.min() == 16 * 60 && rests.filter { $0 < 24 * 60 }.count == 12, "team \(team): 16 hours between two alike, a day or more between changes")
        }
    }

    @Test("who is on shift at an instant, counted by hand from the epoch; a night shift runs past midnight")
    func instants() {
        // 2026-01-01: 一班 day, 四班 evening, 三班 the night from 24:00, 二班 off (after its night to 08:00).
        #expect(rotation.onShift(at: china("2026-01-01 10:00")).map(\.team) == ["一班"])
        #expect(rotation.onShift(at: china("2026-01-01 20:00")).map { "\($0.team)\($0.shift)" } == ["四班中班"])
        let night = rotation.onShift(at: china("2026-01-01 02:00"))
        #expect(night.map { "\($0.team)\($0.shift)" } == ["二班夜班"] && night[0].start == china("2026-01-01 00:00") && night[0].end == china("2026-01-01 08:00"))
        #expect(rotation.onShift(at: china("2026-01-02 03:00")).map(\.team) == ["三班"])
        #expect(rotation.onShift(at: china("2026-01-01 08:00")).map(\.team) == ["一班"], "a shift starts on its minute; the night before has ended")
    }

    @Test("leave takes a unit off; a swap puts the stand-in on the absent unit's shift; the rest are off duty")
    func leaveAndSwaps() {
        let teams = ["T1": "一班", "T2": "一班", "T3": "四班", "T4": "二班"]
        let at = china("2026-01-01 10:00"), shift = china("2026-01-01 08:00")
        #expect(Roster.onDuty(at: at, rotation: rotation, teams: teams, leave: [], swaps: []).onDuty.map(\.callSign) == ["T1", "T2"])
        let leave = [Roster.Leave(callSign: "T2", from: china("2026-01-01 00:00"), to: china("2026-01-02 00:00"))]
        let swaps = [Roster.Swap(absent: "T1", standIn: "T4", shiftStart: shift)]
        let duty = Roster.onDuty(at: at, rotation: rotation, teams: teams, leave: leave, swaps: swaps)
        #expect(duty.onDuty.map { "\($0.callSign) \($0.team) \($0.shift) \($0.note)" } == ["T4 二班 白班 替 T1"] && duty.offDuty == 3)
        #expect(duty.teamsOnShift == ["一班"] && duty.onDuty[0].shiftEnd == china("2026-01-01 16:00"))
        // The swap holds for that shift only.
        let next = Roster.onDuty(at: china("2026-01-02 10:00"), rotation: rotation, teams: teams, leave: leave, swaps: swaps)
        #expect(next.onDuty.map(\.callSign) == ["T1", "T2"])
    }

    @Test("the roster's store: teams import whole or not at all; leave and swaps are checked against the rotation; the calendar names each shift's team")
    func store() throws {
        let directory = NSTemporaryDirectory() + "xunfang-patrol-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let duty = Duty(store: try PatrolStore(path: "\(directory)/patrol.sqlite"), rotation: rotation, now: { china("2026-01-01 10:00") })
        var request = Xunfang_Patrol_V1_ImportTeamsRequest()
        request.csv = "call_sign,team\nT1,一班\nT 2,一班\nT3,五班\nT1,二班\n"
        let refused = try duty.importTeams(request)
        #expect(refused.imported == 0 && refused.errors.map(\.line) == [3, 4, 5] && refused.errors[1].message.contains("五班"))
        #expect(try duty.store.teams().isEmpty, "nothing kept from a ledger with a bad line")
        request.csv = "\u{FEFF}call_sign,team\nT1,一班\nT2,一班\nT3,四班\nT4,三班\nT5,二班\n"
        #expect(try duty.importTeams(request).imported == 5)

        var swap = Xunfang_Patrol_V1_Swap()
        swap.absent = "T1"
        swap.standIn = "T3"
        swap.shiftStart = china("2026-01-01 08:00")
        swap.reason = "家中有事"
        #expect(throws: BusClientError.self, "T3 works the evening that day: no rest") { try duty.record(swap) }
        swap.standIn = "T5"
        #expect(throws: BusClientError.self, "T5 worked the night until 08:00") { try duty.record(swap) }
        swap.standIn = "T4"
        swap.shiftStart = china("2026-01-01 09:00")
        #expect(throws: BusClientError.self, "no shift of T1's starts then") { try duty.record(swap) }
        swap.shiftStart = china("2026-01-01 08:00")
        #expect(try duty.record(swap).note.contains("T4 works T1's 白班"))
        var leave = Xunfang_Patrol_V1_Leave()
        leave.callSign = "T2"
        leave.from = china("2026-01-01 00:00")
        leave.to = china("2026-01-03 00:00")
        leave.reason = "年休假"
        _ = try duty.record(leave)
        leave.callSign = "T9"
        #expect(throws: BusClientError.self) { try duty.record(leave) }
        let now = try duty.onDuty(Xunfang_Patrol_V1_OnDutyRequest())
        #expect(now.onDuty.map { "\($0.callSign) \($0.note)" } == ["T4 替 T1"] && now.offDuty == 4)

        var calendar = Xunfang_Patrol_V1_RosterRequest()
        calendar.from = "2026-01-01"
        calendar.days = 2
        let days = try duty.roster(calendar).days
        #expect(days.map { $0.shifts + [$0.off] } == [["一班", "四班", "三班", "二班"], ["一班", "四班", "三班", "二班"]])
        calendar.days = 63
        #expect(throws: BusClientError.self) { try duty.roster(calendar) }
    }
}

@Suite("Dispatch's availability follows the roster")
struct DutySyncTests {
    func unit(_ callSign: String, _ status: Xunfang_Dispatch_V1_UnitStatus) -> Xunfang_Dispatch_V1_Unit {
        var unit = Xunfang_Dispatch_V1_Unit()
        unit.callSign = callSign
        unit.status = status
        return unit
    }

    @Test("on shift and off duty comes on; off shift and free goes off; busy units finish first; units with no team are left alone")
    func changes() {
        let units = [unit("A1", .offDuty), unit("A2", .available), unit("A3", .enRoute),
                     unit("B1", .available), unit("B2", .returning), unit("B3", .outOfService), unit("B4", .onScene), unit("B5", .assigned), unit("B6", .offDuty),
                     unit("X1", .available), unit("X2", .offDuty)]
        let changes = DutySync.changes(units: units, onDuty: ["A1", "A2", "A3"], rostered: ["A1", "A2", "A3", "B1", "B2", "B3", "B4", "B5", "B6"])
        #expect(changes.map { "\($0.callSign) \($0.status)" } == ["A1 available", "B1 offDuty", "B2 offDuty", "B3 offDuty"])
        #expect(DutySync.changes(units: units, onDuty: [], rostered: []).isEmpty, "no roster: Dispatch's own business")
    }
}

@Suite("A county's own rotation from PATROL_PATTERN")
struct PatternSettingTests {
    @Test("two teams on 12-hour shifts, day and night: who is on when; a bad pattern is refused naming what is wrong")
    func pattern() throws {
        let json = #"{"shifts":[{"name":"日","startMinute":480,"minutes":720},{"name":"夜","startMinute":1200,"minutes":720}],"teams":["甲","乙"],"cycle":["日","夜","休","休"],"offsetDays":2,"epoch":"2026-12-01"}"#
        let rotation = try PatrolPlugin.rotation(json)
        #expect(rotation.onShift(at: china("2026-12-01 10:00")).map(\.team) == ["甲"])
        #expect(rotation.onShift(at: china("2026-12-01 21:00")).map(\.team).isEmpty, "甲 rests its first night; 乙 starts on the 3rd")
        #expect(rotation.onShift(at: china("2026-12-02 23:00")).map { "\($0.team)\($0.shift)" } == ["甲夜"])
        #expect(rotation.onShift(at: china("2026-12-03 09:00")).map { "\($0.team)\($0.shift)" } == ["乙日"], "the night ended at 08:00")
        #expect(try PatrolPlugin.rotation("") == .fourTeamsThreeRotations)
        #expect(throws: SettingError.self) { try PatrolPlugin.rotation(#"{"shifts":[{"name":"日","startMinute":480,"minutes":720}],"teams":["甲"],"cycle":["晚"],"epoch":"2026-12-01"}"#) }
        #expect(throws: SettingError.self) { try PatrolPlugin.rotation("shifts: 日") }
    }
}
