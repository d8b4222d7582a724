@testable import CommunityPolicingPlugin
import CommunityPolicingContract
import Foundation
import SituationAnalysisContract
import Testing
import XunfangGeo
import GridModelPlugin
import XunfangPluginKit

/// Monday 2025-12-01 10:00 China time.
let mondayTen: Int64 = 1_764_554_400_000
let hour: Int64 = 3_600_000

func member(_ id: String, segments: [String], slots: [(day: UInt32, from: UInt32, to: UInt32)], types: [String] = []) -> Xunfang_Community_V1_Member {
    var member = Xunfang_Community_V1_Member()
    member.id = id
    member.roadSegments = segments
    member.caseTypes = types
    member.hours = slots.map { slot in
        var weekly = Xunfang_Community_V1_WeeklySlot()
        weekly.day = slot.day
        weekly.startMinute = slot.from * 60
        weekly.endMinute = slot.to * 60
        return weekly
    }
    return member
}

@Suite("Targeted alerts: matching and policy")
struct AlertMatchingTests {
    @Test("hot windows are the next occurrence of each hot hour; the hour under way counts while it lasts")
    func windows() {
        let windows = HotWindow.coming(segments: ["1-2", "bad", "3-4"], hours: [10, 7, 30], now: mondayTen + 30 * 60_000)
        #expect(windows.map(\.segment) == ["1-2", "3-4", "1-2", "3-4"])
        #expect(windows[0].start == mondayTen && windows[0].weekday == 1 && windows[0].hour == 10)
        #expect(windows[2].start == mondayTen + 21 * hour && windows[2].weekday == 2 && windows[2].hour == 7)
        #expect(windows.allSatisfy { $0.end == $0.start + hour })
    }

    @Test("a member on the hot segment or one touching it, in a slot overlapping the window, is matched; the rest are not (hand-counted)")
    func handCounted() {
        let members = [
            member("on-it", segments: ["100-101"], slots: [(1, 9, 12)]),
            member("touching", segments: ["101-102"], slots: [(1, 10, 11)]),
            member("two-segments", segments: ["99-100", "101-102"], slots: [(1, 8, 18)]),
            member("far", segments: ["200-201"], slots: [(1, 0, 24)]),
            member("ends-at-ten", segments: ["100-101"], slots: [(1, 7, 10)]),
            member("tuesday", segments: ["100-101"], slots: [(2, 10, 11)]),
            member("evening", segments: ["100-101"], slots: [(1, 18, 22)]),
        ]
        let windows = HotWindow.coming(segments: ["100-101"], hours: [10, 19], now: mondayTen)
        let matcher = AlertMatcher(members: members)
        let found = matcher.match(windows)
        let byID = Dictionary(uniqueKeysWithValues: found.windows.map { (members[$0.key].id, $0.value) })
        #expect(byID == ["on-it": [0], "touching": [0], "two-segments": [0], "evening": [1]])
        #expect(found.onSegments == 6, "everyone but far works on or next to the segment")
        #expect(AlertMatcher.scan(members, windows) == found.windows)
    }

    @Test("on random ledgers the index finds exactly what scanning every member finds")
    func againstScan() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let members = CommunityBenchmark.members(2_000, random: &random)
            let segments = (0..<30).map { _ -> String in
                let node = Int.random(in: 0..<(CommunityBenchmark.side * 20), using: &random)
                return "\(node)-\(node + 1)"
            }
            let windows = HotWindow.coming(segments: segments, hours: (0..<24).map { UInt32($0) }.filter { _ in Bool.random(using: &random) },
                                           now: mondayTen + Int64.random(in: 0..<(7 * 24), using: &random) * hour)
            #expect(AlertMatcher(members: members).match(windows).windows == AlertMatcher.scan(members, windows))
        }
    }

    @Test("the policy skips who opted out, is off duty, has an open alert, hit the daily limit or watches other types; quiet hours hold the rest")
    func policy() throws {
        let policy = AlertPolicy()
        let day = member("day", segments: ["1-2"], slots: [(1, 8, 18), (2, 6, 9)], types: ["theft"])
        let windows = HotWindow.coming(segments: ["1-2"], hours: [11, 7], now: mondayTen)
        func decide(_ member: Xunfang_Community_V1_Member = day, status: Xunfang_Community_V1_MemberStatus? = nil,
                    recent: [AlertPolicy.Recent] = [], types: [String] = ["theft", "fight"], now: Int64 = mondayTen) -> AlertPolicy.Outcome {
            policy.decide(member: member, status: status, recent: recent, windows: windows, matched: [0, 1], warningTypes: types, now: now)
        }
        #expect(decide() == .send(at: mondayTen, windows: [0, 1], types: ["theft"]))
        #expect(decide(types: []) == .send(at: mondayTen, windows: [0, 1], types: []), "a warning without types concerns everyone")
        var status = Xunfang_Community_V1_MemberStatus()
        status.alertsOptedOut = true
        #expect(decide(status: status) == .skip(.optedOut))
        status.alertsOptedOut = false
        status.offDutyUntil = mondayTen + hour
        #expect(decide(status: status) == .skip(.offDuty))
        status.offDutyUntil = mondayTen - 1
        #expect(decide(status: status) == .send(at: mondayTen, windows: [0, 1], types: ["theft"]))
        #expect(decide(recent: [AlertPolicy.Recent(created: mondayTen - hour, expires: mondayTen + 1)]) == .skip(.committed))
        let three = (1...3).map { AlertPolicy.Recent(created: mondayTen - Int64($0) * hour, expires: mondayTen - Int64($0) * hour + 1) }
        #expect(decide(recent: three) == .skip(.rateLimited))
        #expect(decide(recent: three.map { AlertPolicy.Recent(created: $0.created - 24 * hour, expires: $0.expires - 24 * hour) })
                == .send(at: mondayTen, windows: [0, 1], types: ["theft"]), "the limit counts the last 24 hours only")
        #expect(decide(types: ["fraud"]) == .skip(.otherTypes))
        // 23:00 Monday: quiet until 07:00; the 07:00 window survives, Monday's 11:00 one is over.
        let late = mondayTen + 13 * hour
        #expect(decide(now: late) == .send(at: mondayTen + 21 * hour, windows: [1], types: ["theft"]))
        let night = member("night", segments: ["1-2"], slots: [(1, 22, 24)])
        #expect(decide(night, now: late) == .send(at: late, windows: [1], types: ["theft", "fight"]), "working now: no need to wait")
        let early = HotWindow.coming(segments: ["1-2"], hours: [23], now: late)
        #expect(policy.decide(member: day, status: nil, recent: [], windows: early, matched: [0], warningTypes: [], now: late) == .skip(.quietHours))
        #expect(try AlertPolicy.quietHours("off") == nil)
        #expect(try AlertPolicy.quietHours("21:30-06:00")! == (21 * 60 + 30, 360))
        #expect(throws: SettingError.self) { try AlertPolicy.quietHours("22-07") }
    }
}

@Suite("Targeted alerts: CAP 1.2")
struct CapTests {
    static let schema = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Plugins/CommunityPolicing/schema/CAP-v1.2.xsd").path

    /// xmllint's verdict on `document` against the OASIS schema (nil: valid).
    static func schemaErrors(_ document: String) throws -> String? {
        let file = NSTemporaryDirectory() + "cap-\(UUID().uuidString).xml"
        try document.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/xmllint")
        process.arguments = ["--noout", "--schema", Self.schema, file]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return process.terminationStatus == 0 ? nil : text
    }

    func alert() -> Xunfang_Community_V1_Alert {
        var alert = Xunfang_Community_V1_Alert()
        alert.id = "CA-7"
        alert.memberID = "M-1"
        alert.stationID = "510000-01-01"
        alert.source = "warning 510000-01-01 2025-11-30"
        alert.sendAt = mondayTen
        alert.createdAt = mondayTen
        alert.expires = mondayTen + 2 * hour
        var window = Xunfang_Community_V1_HotWindow()
        window.segment = "100-101"
        window.start = mondayTen + hour
        window.end = mondayTen + 2 * hour
        alert.windows = [window]
        alert.caseTypeNames = ["盗窃", "A&B <test>"]
        alert.headline = "城关派出所辖区11:00起盗窃高发，请留意所列路段"
        return alert
    }

    @Test("an alert is a valid CAP 1.2 document (polygon area and description-only area), China time, no personal data")
    func valid() throws {
        let outline = [(104.28, 30.97), (104.29, 30.97), (104.29, 30.98)].map { GeoPoint(longitude: $0.0, latitude: $0.1) }
        let document = Cap.document(alert(), sender: "xunfang.community",
                                    areas: [Cap.Area(description: "城关一网格", outline: outline), Cap.Area(description: "城关二网格", outline: [])])
        #expect(try Self.schemaErrors(document) == nil)
        #expect(document.contains("<sent>2025-12-01T10:00:00+08:00</sent>") && document.contains("<addresses>M-1</addresses>"))
        #expect(document.contains("<polygon>30.970000,104.280000 30.970000,104.290000 30.980000,104.290000 30.970000,104.280000</polygon>"))
        #expect(document.contains("A&amp;B &lt;test&gt;"))
        // The check is real: a document without its sender is refused.
        let broken = document.replacingOccurrences(of: "<sender>xunfang.community</sender>\n", with: "")
        #expect(try Self.schemaErrors(broken) != nil)
    }

    @Test("a text says the headline and the windows in China time within 200 characters; a gateway address must be http://host[:port]/path")
    func smsText() throws {
        let text = SmsGatewayNotifier.text(alert())
        #expect(text == "【巡防】城关派出所辖区11:00起盗窃高发，请留意所列路段。11:00-12:00 100-101。发现可疑情况请立即报告，不要自行处置。")
        var long = alert()
        long.headline = String(repeating: "长", count: 300)
        #expect(SmsGatewayNotifier.text(long).count == 200 && SmsGatewayNotifier.text(long).hasSuffix("…"))
        #expect(try SmsGatewayEndpoint("http://10.1.2.3:8080/sms/send") == SmsGatewayEndpoint("http://10.1.2.3:8080/sms/send"))
        let endpoint = try SmsGatewayEndpoint("http://gateway.county/send")
        #expect(endpoint.host == "gateway.county" && endpoint.port == 80 && endpoint.path == "/send")
        for bad in ["https://gateway/send", "gateway:80", "http://:80/send", "http://host:99999/"] {
            #expect(throws: SettingError.self, "\(bad)") { try SmsGatewayEndpoint(bad) }
        }
    }
}

@Suite("Targeted alerts over the bus")
struct AlertBusTests {
    func warning(day: String, segments: [String], hours: [UInt32] = [10], types: [String] = ["theft"]) -> Xunfang_Situation_V1_Warning {
        var warning = Xunfang_Situation_V1_Warning()
        warning.day = day
        warning.stationID = "510000-01-01"
        warning.stationName = "城关派出所"
        warning.hotHours = hours
        warning.roadSegments = segments
        warning.topTypes = types
        warning.topTypeNames = types.map { $0 == "theft" ? "盗窃" : $0 }
        return warning
    }

    @Test("a warning on situation.warning alerts the members who work there then, once: announced, written as CAP, listed; repeats, open alerts and empty matches say why")
    func warningToAlerts() async throws {
        let stack = try await CommunityStack.start()
        let plugin = try await stack.plugin()
        let desk = try await stack.client("desk")
        let service = CommunityStack.service
        try await stack.importLedgers(by: desk)
        let announced = try await desk.subscribe("community.alert.>")
        // M-1 works 1002-1003 on weekdays 07-11; M-2 the same segment on Sundays only.
        try await desk.publishConfirmed("situation.warning", warning(day: "2025-11-30", segments: ["1002-1003"]))
        var iterator = announced.makeAsyncIterator()
        let delivery = try #require(await iterator.next())
        let alert = try delivery.decode(Xunfang_Community_V1_Alert.self)
        #expect(delivery.topic == "community.alert.510000-01-01" && alert.memberID == "M-1" && alert.caseTypeNames == ["盗窃"])
        #expect(alert.windows.map(\.segment) == ["1002-1003"] && alert.windows[0].start == mondayTen && alert.expires == mondayTen + hour)

        // The notifier's file appears once the delivery is recorded; it is a valid CAP document.
        var listRequest = Xunfang_Community_V1_ListAlertsRequest()
        listRequest.memberID = "M-1"
        var listed: [Xunfang_Community_V1_Alert] = []
        for _ in 0..<2_400 where listed.first?.deliveredAt ?? 0 == 0 {
            listed = try await desk.call(service + "ListAlerts", listRequest, as: Xunfang_Community_V1_ListAlertsResponse.self).alerts
            if listed.first?.deliveredAt ?? 0 == 0 { try await Task.sleep(for: .milliseconds(25)) }
        }
        #expect(listed.map(\.id) == [alert.id] && listed[0].deliveredAt == mondayTen)
        let document = try String(contentsOfFile: "\(stack.directory)/alerts/\(alert.id).xml", encoding: .utf8)
        #expect(try CapTests.schemaErrors(document) == nil && document.contains("<addresses>M-1</addresses>") && !document.contains("13800000001"))

        // The same warning again (a redelivery, or a desk's retry) issues nothing new.
        var issue = Xunfang_Community_V1_IssueAlertsRequest()
        issue.warning = warning(day: "2025-11-30", segments: ["1002-1003"])
        let again = try await desk.call(service + "IssueAlerts", issue, as: Xunfang_Community_V1_IssueAlertsResponse.self)
        #expect(again.alreadyHandled && again.alerts.map(\.id) == [alert.id] && again.note.contains("handled before"))
        // Another day's warning while M-1's alert is open: matched, skipped, said.
        issue.warning = warning(day: "2025-11-29", segments: ["1001-1002"])
        let open = try await desk.call(service + "IssueAlerts", issue, as: Xunfang_Community_V1_IssueAlertsResponse.self)
        #expect(open.alerts.isEmpty && open.inHours == 1 && open.skipped.committed == 1 && open.note.contains("1 with an open alert"))
        issue.warning = warning(day: "2025-11-28", segments: ["5000-5001"])
        let nobody = try await desk.call(service + "IssueAlerts", issue, as: Xunfang_Community_V1_IssueAlertsResponse.self)
        #expect(nobody.alerts.isEmpty && nobody.onSegments == 0 && nobody.note.contains("no member works"))
        issue.warning = warning(day: "2025-11-27", segments: ["1002-1003"], hours: [3])
        #expect(try await desk.call(service + "IssueAlerts", issue, as: Xunfang_Community_V1_IssueAlertsResponse.self).note.contains("none in the hot hours"))

        // Bad input is refused by name and changes nothing.
        issue.warning = warning(day: "2025-11-26", segments: ["1003-1002"])
        await #expect { _ = try await desk.call(service + "IssueAlerts", issue, as: Xunfang_Community_V1_IssueAlertsResponse.self) } throws: {
            ($0 as? BusClientError)?.code == .invalidArgument && "\($0)".contains("1003-1002")
        }
        var status = Xunfang_Community_V1_MemberStatus()
        status.memberID = "M-404"
        await #expect { _ = try await desk.call(service + "SetMemberStatus", status, as: Xunfang_Community_V1_MemberStatusResponse.self) } throws: {
            ($0 as? BusClientError)?.code == .notFound
        }
        let all = try await desk.call(service + "ListAlerts", Xunfang_Community_V1_ListAlertsRequest(), as: Xunfang_Community_V1_ListAlertsResponse.self)
        #expect(all.alerts.count == 1)
        plugin.task.cancel()
        await plugin.client.close()
        await desk.close()
        await stack.server.stop()
    }
}

@Suite("The demo county's community ledger")
struct DemoLedgerTests {
    @Test("an empty store takes teams at the documents' sizes on GridModel's areas, members on its roads, and a warning there alerts them")
    func seeded() async throws {
        let (stack, gridModel, plugin, desk, members) = try await CommunityStack.demo()
        let service = CommunityStack.service
        let teams = try await desk.call(service + "ListTeams", Xunfang_Community_V1_ListTeamsRequest(), as: Xunfang_Community_V1_ListTeamsResponse.self).teams
        let township = teams.filter { $0.level == .township }, village = teams.filter { $0.level == .village }
        #expect(township.count == 24 && Set(township.map(\.stationID)).count == 12, "two teams a station")
        #expect(village.count == 129 && Set(village.map(\.gridID)).count == 129, "one team a grid")
        #expect(township.allSatisfy { $0.members >= 15 } && village.allSatisfy { $0.members >= 5 })
        #expect(members.count == teams.reduce(0) { $0 + Int($1.members) } && members.allSatisfy(\.contactKept))
        #expect(members.filter(\.roadSegments.isEmpty).map { "\($0.teamID)" } == [], "every member works some road")
        // The demo's duty records give last week's compliance: a room missed a night, every
        // fourth chief skipped the month, some village officers fell short of 20 hours.
        var compliance = Xunfang_Community_V1_ComplianceRequest()
        compliance.period = .week
        let report = try await desk.call(service + "Compliance", compliance, as: Xunfang_Community_V1_ComplianceReport.self)
        let short = Dictionary(grouping: report.items.filter { $0.status == .short }, by: \.kind)
        #expect(report.label == "2025-W48" && report.closed && report.items.count == 12 + 24 + 129)
        #expect(short[.policeRoom]?.map(\.postID) == ["R-011"] && short[.policeRoom]?.first?.note == "无人值守1段：2025-11-27 00:00至08:00")
        #expect(short[.stationChief]?.count == 3)
        #expect((1...40).contains(short[.villagePolice]?.count ?? 0) && report.exceptions == UInt32(report.items.filter { $0.status == .short }.count))
        compliance.stationID = report.items[0].stationID
        compliance.day = "2025-11-30"
        let station = try await desk.call(service + "Compliance", compliance, as: Xunfang_Community_V1_ComplianceReport.self)
        #expect(station.label == "2025-W48" && !station.items.isEmpty && station.items.allSatisfy { $0.stationID == compliance.stationID })
        compliance.period = .unspecified
        await #expect(throws: BusClientError.self) { try await desk.call(service + "Compliance", compliance, as: Xunfang_Community_V1_ComplianceReport.self) }

        // A warning on a village team's road in its evening hours reaches that team's members.
        let villager = try #require(members.first { $0.teamID == village[0].id })
        var issue = Xunfang_Community_V1_IssueAlertsRequest()
        issue.warning.stationID = village[0].stationID
        issue.warning.day = "2025-11-30"
        issue.warning.hotHours = [20]
        issue.warning.roadSegments = [villager.roadSegments[0]]
        let issued = try await desk.call(service + "IssueAlerts", issue, as: Xunfang_Community_V1_IssueAlertsResponse.self)
        #expect(issued.alerts.contains { $0.memberID == villager.id } && issued.alerts.allSatisfy { $0.windows[0].start == mondayTen + 10 * hour })
        plugin.task.cancel()
        await plugin.client.close()
        await gridModel.close()
        await desk.close()
        await stack.server.stop()
    }
}
