@testable import CommunityPolicingPlugin
import CommunityPolicingContract
import Foundation
import Testing
import XunfangOutbox
import XunfangPluginKit

/// China time `yyyy-mm-dd hh:mm` as Unix ms.
func china(_ text: String) -> Int64 { ChinaTime.parse(text)! }

func post(_ id: String, _ kind: Xunfang_Community_V1_DutyPostKind, station: String = "S1", grid: String = "", officer: String = "") -> Xunfang_Community_V1_DutyPost {
    var post = Xunfang_Community_V1_DutyPost()
    post.id = id
    post.kind = kind
    post.name = id
    post.stationID = station
    post.gridID = grid
    post.officerID = officer
    return post
}

func duty(_ officer: String, at place: String, _ start: String, _ end: String) -> Xunfang_Community_V1_DutyRecord {
    var record = Xunfang_Community_V1_DutyRecord()
    record.officerID = officer
    record.placeID = place
    record.start = china(start)
    record.end = china(end)
    return record
}

@Suite("Duty rules")
struct DutyTests {
    @Test("weeks are Monday to Sunday with ISO numbers; ten days are the 1st, 11th and 21st to the month's end")
    func periods() {
        let week = DutyRules.period(.week, containing: china("2025-12-03 12:00"))
        #expect(week.label == "2025-W49" && week.from == china("2025-12-01 00:00") && week.to == china("2025-12-08 00:00"))
        #expect(DutyRules.period(.week, containing: china("2026-01-01 08:00")).label == "2026-W01", "a week that starts in December, Thursday in January")
        #expect(DutyRules.period(.week, containing: china("2027-01-01 08:00")).label == "2026-W53")
        let middle = DutyRules.period(.tenDays, containing: china("2025-12-15 00:00"))
        #expect(middle.label == "2025-12 中旬" && middle.from == china("2025-12-11 00:00") && middle.to == china("2025-12-21 00:00"))
        let last = DutyRules.period(.tenDays, containing: china("2026-02-28 23:59"))
        #expect(last.label == "2026-02 下旬" && last.days == 8 && last.to == china("2026-03-01 00:00"))
        #expect(DutyRules.lastClosed(.tenDays, at: china("2025-12-01 10:00")).label == "2025-11 下旬")
        #expect(DutyRules.lastClosed(.week, at: china("2025-12-01 00:00")).label == "2025-W48", "a period ends at its last instant")
    }

    /// Week 2025-W49 (Monday 1 to Sunday 7 December), hand-counted.
    let posts = [post("V1", .villagePolice, grid: "G1", officer: "O1"), post("V2", .villagePolice, grid: "G2", officer: "O2"),
                 post("R1", .policeRoom, grid: "G1"), post("C1", .stationChief, officer: "O9"),
                 post("R2", .policeRoom, station: "S2", grid: "G5"), post("C2", .stationChief, station: "S2", officer: "O8")]

    var records: [Xunfang_Community_V1_DutyRecord] {
        var records = [
            // O1 in G1: 5 + 5 + 5 + 4.5 = 19.5 h; a duplicate entry counts once; a day in G2 not at all.
            duty("O1", at: "G1", "2025-12-01 08:00", "2025-12-01 13:00"), duty("O1", at: "G1", "2025-12-02 08:00", "2025-12-02 13:00"),
            duty("O1", at: "G1", "2025-12-03 08:00", "2025-12-03 13:00"), duty("O1", at: "G1", "2025-12-04 08:00", "2025-12-04 12:30"),
            duty("O1", at: "G1", "2025-12-01 10:00", "2025-12-01 12:00"), duty("O1", at: "G2", "2025-12-05 08:00", "2025-12-05 18:00"),
            // O2 in G2: 19.5 h, and 2 h of a night that began in the week before: 21.5 h.
            duty("O2", at: "G2", "2025-11-30 22:00", "2025-12-01 02:00"), duty("O2", at: "G2", "2025-12-02 08:00", "2025-12-03 03:30"),
            // C1 a full day in R1, C2 a full day too but in another station's room.
            duty("O9", at: "R1", "2025-12-02 09:00", "2025-12-02 17:00"), duty("O8", at: "R1", "2025-12-03 09:00", "2025-12-03 17:00"),
        ]
        // R1 and R2 staffed in three shifts a day, but R1 not from Wednesday 00:00 to 06:00.
        for day in 1...7 {
            for (place, shift) in [("R1", 0), ("R1", 8), ("R1", 16), ("R2", 0), ("R2", 8), ("R2", 16)] {
                let start = china(String(format: "2025-12-%02d %02d:00", day, shift))
                var record = Xunfang_Community_V1_DutyRecord()
                record.officerID = "P\(shift)"
                record.placeID = place
                record.start = shift == 0 && place == "R1" && day == 3 ? start + 6 * 3_600_000 : start
                record.end = start + 8 * 3_600_000
                records.append(record)
            }
        }
        return records
    }

    @Test("village hours, a chief's day and a room's gaps are counted by hand: short, met and pending as the rules say")
    func handCounted() throws {
        let week = DutyRules.period(.week, containing: china("2025-12-03 12:00"))
        let report = DutyRules.report(posts: posts, records: records, period: week, now: china("2025-12-08 09:00"))
        let items = Dictionary(uniqueKeysWithValues: report.items.map { ($0.postID, $0) })
        #expect(report.closed && report.label == "2025-W49")
        #expect(items["V1"]?.achieved == 19.5 && items["V1"]?.required == 20 && items["V1"]?.status == .short)
        #expect(items["V1"]?.note == "在村19.5小时，应不少于20.0小时")
        #expect(items["V2"]?.achieved == 21.5 && items["V2"]?.status == .met)
        #expect(items["R1"]?.required == 168 && items["R1"]?.achieved == 162 && items["R1"]?.status == .short)
        #expect(items["R1"]?.note == "无人值守1段：2025-12-03 00:00至06:00")
        #expect(items["R2"]?.status == .met && items["R2"]?.achieved == 168)
        #expect(items["C1"]?.achieved == 1 && items["C1"]?.status == .met)
        #expect(items["C2"]?.achieved == 0 && items["C2"]?.status == .pending, "another station's room does not count, and December is not over")
        #expect(report.exceptions == 2)

        // The same week while under way: nothing is short yet, a room counts only up to now.
        let running = DutyRules.report(posts: posts, records: records, period: week, now: china("2025-12-03 12:00"))
        let live = Dictionary(uniqueKeysWithValues: running.items.map { ($0.postID, $0) })
        #expect(!running.closed && running.exceptions == 0 && live["V1"]?.status == .pending && live["R1"]?.required == 60 && live["R1"]?.status == .pending)

        // December's last ten days, once over: C2 never did a day in its own rooms.
        let last = DutyRules.period(.tenDays, containing: china("2025-12-25 00:00"))
        let month = DutyRules.report(posts: posts, records: records, period: last, now: china("2026-01-02 00:00"))
        let chief = try #require(month.items.first { $0.postID == "C2" })
        #expect(chief.status == .short && chief.note == "2025年12月尚无在警务室工作满一日的记录")
        #expect(month.items.first { $0.postID == "V1" }?.required == 31.4, "20 h a week over 11 days")
    }

    @Test("bad duty ledgers name every bad line, and nothing is kept from them")
    func badLedgers() {
        let posts = """
            id,kind,name,station_id,grid_id,officer_id
            V1,village-police,李建华,S1,G1,O1
            R1,police-room,城关警务室,S1,G1,O5
            C1,chief,王志强,S1,,O9
            V2,village-police,张三,S1,,O2
            """
        guard case .failure(let rejected) = Ledger.dutyPosts(csv: posts) else { Issue.record("accepted"); return }
        #expect(rejected.errors.map(\.line) == [3, 4, 5])
        #expect(rejected.errors[0].message.contains("a police room has no officer_id") && rejected.errors[1].message.contains("kind \"chief\""))
        let records = """
            officer_id,place_id,start,end
            O1,G1,2025-12-01 08:00,2025-12-01 12:00
            O1,G9,2025-12-01 08:00,2025-12-01 12:00
            O1,G1,2025-12-01 12:00,2025-12-01 08:00
            O1,G1,2025-12-01 08:00,2025-12-03 08:00
            O1,G1,1 Dec 08:00,2025-12-01 12:00
            """
        guard case .failure(let bad) = Ledger.dutyRecords(csv: records, places: DutyRules.places(self.posts)) else { Issue.record("accepted"); return }
        #expect(bad.errors.map(\.line) == [3, 4, 5, 6])
        #expect(bad.errors[0].message == "place G9 is neither a police room nor a village in the duty posts ledger")
        #expect(DutyRules.places(self.posts) == ["G1", "G2", "R1", "R2"], "villages and rooms; a chief is no place")
    }

    @Test("a closed period's exceptions go to the outbox once, a day after it ends, with the mark that they did")
    func publishesOnce() throws {
        let directory = NSTemporaryDirectory() + "xunfang-duty-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try CommunityStore(path: "\(directory)/community.sqlite")
        try store.put(posts: posts, audit: Xunfang_Community_V1_AuditEntry())
        try store.put(dutyRecords: records, audit: Xunfang_Community_V1_AuditEntry())
        let early = Duty(store: store, now: { china("2025-12-08 09:00") })
        #expect(try early.publishClosedPeriods() == ["2025-W48", "2025-11 下旬"], "W49 ended 9 hours ago: within the grace, the periods before it go")
        let due = Duty(store: store, now: { china("2025-12-09 01:00") })
        #expect(try due.publishClosedPeriods() == ["2025-W49"])
        #expect(try due.publishClosedPeriods().isEmpty, "once")
        let messages = try Outbox.pending(store.queue, limit: 100).filter { $0.messageID.hasPrefix("compliance 2025-W49") }
        let exceptions = try messages.map { try Xunfang_Community_V1_ComplianceException(serializedBytes: $0.payload) }
        #expect(Set(exceptions.map(\.item.postID)) == ["V1", "R1"] && Set(messages.map(\.topic)) == ["community.compliance.S1"])
    }
}
