import CommunityPolicingContract
import Foundation
import SituationAnalysisContract
import Testing
import XunfangTestSupport
import XunfangPluginKit

@Suite("Out of process: CommunityPolicing killed while alerts go out", .serialized)
struct CommunityCrashTests {
    static let secret = "harness-secret-0123456789abcdef"
    static let service = "/xunfang.community.v1.Community/"

    let county = """
    county: Crash County
    data_dir: data
    bus:
      socket: bus.sock
      durable_topics: ["situation.warning", "community.alert.>"]
    plugins:
      - name: community
        env: { COMMUNITY_QUIET_HOURS: "off" }
        acl:
          publish: ["community.>"]
          subscribe: ["situation.warning"]
          serve: ["/xunfang.community.v1.Community/*"]
          call: ["/xunfang.grid_model.v1.GridModel/ListAreas", "/xunfang.grid_model.v1.GridModel/Locate"]
    clients:
      - name: ctl
        acl: { call: ["/xunfang.community.v1.Community/*"] }
      - name: harness
        credential: \(secret)
        acl: { publish: ["situation.warning"], subscribe: ["community.alert.>"], call: ["*"] }
    """

    @Test("a warning for 10,000 members, the plugin killed -9 as their CAP files go out: after its restart each alert is written once, recorded delivered, and announced")
    func killDuringFanOut() async throws {
        let directory = try countyDirectory("xf-community-crash", county: county)
        let up = try startXunfang(["up", "--config", "county.yaml"], in: directory)
        defer {
            if up.isRunning { up.terminate() }
            up.waitUntilExit()
        }
        let harness = try #require(await harnessClient(in: directory, secret: Self.secret))
        // 40,000 members (a ledger over one call's 3 MiB, so the command sends it in parts),
        // 10,000 of them on the road segment the warning names.
        let count = 10_000
        let members = (0..<(4 * count)).map { String(format: "M-%05d,T-1,patroller,%@,1-7@00:00-24:00,theft;burglary,first-aid,0.8,,", $0, $0 < count ? "1001-1002" : "2001-2002") }
        let imported = try await importLedger(members, in: directory)
        #expect(imported.status == 0 && imported.output.contains("imported 40000 members"))
        #expect(try await run(["community", "audit"], in: directory).output.split(separator: "\n").filter { $0.contains("import-members") }.count == 2,
                "two parts, each audited")
        let exported = try await run(["community", "export", "--kind", "members", "--out", "exported.csv"], in: directory)
        let exportedLines = try String(contentsOfFile: "\(directory)/exported.csv", encoding: .utf8).split(separator: "\n")
        #expect(exported.status == 0 && exportedLines.count == 4 * count + 1 && exportedLines.filter { $0.hasPrefix("id,") }.count == 1,
                "two pages of 20,000, one header")
        let announced = try await harness.subscribe("community.alert.>", durable: "harness-alerts")

        try await warnNow(harness)

        // Kill the plugin as soon as the first CAP file appears, while the rest are written.
        let outbox = "\(directory)/data/community/alerts"
        func files() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: outbox)) ?? []) }
        #expect(await eventually(within: 120) { files().contains { $0.hasSuffix(".xml") } })
        let plugin = try #require(try await pluginChild("xunfang-plugin-community", of: up.processIdentifier))
        #expect(kill(plugin, SIGKILL) == 0)
        let writtenAtKill = files().filter { $0.hasSuffix(".xml") }.count

        // After the restart every alert is recorded delivered, each file once and whole.
        var list = Xunfang_Community_V1_ListAlertsRequest()
        list.limit = 10_000
        var alerts: [Xunfang_Community_V1_Alert] = []
        #expect(try await eventually(within: 180) {
            alerts = (try? await harness.call(Self.service + "ListAlerts", list, as: Xunfang_Community_V1_ListAlertsResponse.self))?.alerts ?? []
            return alerts.count == count && alerts.allSatisfy { $0.deliveredAt > 0 }
        }, "written at the kill: \(writtenAtKill)")
        let written = files()
        #expect(Set(alerts.map { "\($0.id).xml" }) == Set(written), "one file an alert, no other file left behind")
        let sample = try String(contentsOfFile: "\(outbox)/\(alerts[0].id).xml", encoding: .utf8)
        #expect(sample.contains("<identifier>xunfang.community.\(alerts[0].id)</identifier>") && sample.hasSuffix("</alert>\n"))
        #expect(Set(alerts.map(\.memberID)).count == count, "one alert a member")

        // Every alert is announced (at least once; a repeat carries the same message id).
        var seen = Set<String>()
        var iterator = announced.makeAsyncIterator()
        while seen.count < count, let delivery = await iterator.next() {
            seen.insert(try delivery.decode(Xunfang_Community_V1_Alert.self).id)
            delivery.ack()
        }
        #expect(seen == Set(alerts.map(\.id)))
        await harness.close()
    }

    @Test("alerts as texts through a real SMS gateway process that refuses some requests, the plugin killed -9 mid-batch: each text is sent once, to the member's phone, every phone read audited")
    func smsExactlyOnce() async throws {
        let directory = try countyDirectory("xf-community-sms", county: "")
        try "gateway-token-0123456789\n".write(toFile: "\(directory)/sms.token", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: "\(directory)/sms.token")
        let gateway = Process()
        gateway.executableURL = URL(fileURLWithPath: "\(binDirectory())/xunfang-plugin-community")
        gateway.arguments = ["sms-gateway", "--log", "\(directory)/sms.log", "--token-file", "\(directory)/sms.token", "--fail-every", "97"]
        FileManager.default.createFile(atPath: "\(directory)/gateway.out", contents: nil)
        gateway.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(directory)/gateway.out"))
        try gateway.run()
        defer {
            gateway.terminate()
            gateway.waitUntilExit()
        }
        var port = ""
        #expect(await eventually {
            let line = (try? String(contentsOfFile: "\(directory)/gateway.out", encoding: .utf8)) ?? ""
            port = line.split(separator: ":").dropFirst().first?.split(separator: ",").first.map(String.init) ?? ""
            return Int(port) != nil
        })
        let sms = #"COMMUNITY_SMS_GATEWAY: "http://127.0.0.1:\#(port)/send", COMMUNITY_SMS_TOKEN_FILE: "\#(directory)/sms.token""#
        try county.replacingOccurrences(of: #"COMMUNITY_QUIET_HOURS: "off""#, with: #"COMMUNITY_QUIET_HOURS: "off", "# + sms)
            .write(toFile: "\(directory)/county.yaml", atomically: true, encoding: .utf8)
        let up = try startXunfang(["up", "--config", "county.yaml"], in: directory)
        defer {
            if up.isRunning { up.terminate() }
            up.waitUntilExit()
        }
        let harness = try #require(await harnessClient(in: directory, secret: Self.secret))
        // 3,000 members with phones on the hot segment, 100 without one.
        let count = 3_000
        func phone(_ index: Int) -> String { String(format: "139%08d", index) }
        let members = (0..<(count + 100)).map { index in
            String(format: "M-%05d,T-1,patroller,1001-1002,1-7@00:00-24:00,theft,,0.8,队员%d,%@", index, index, index < count ? phone(index) : "")
        }
        #expect(try await importLedger(members, in: directory).status == 0)

        try await warnNow(harness)

        // Kill the plugin once the gateway has taken the first texts, while the rest go out.
        func logged() -> [SmsLogLine] {
            ((try? String(contentsOfFile: "\(directory)/sms.log", encoding: .utf8)) ?? "").split(separator: "\n")
                .compactMap { try? JSONDecoder().decode(SmsLogLine.self, from: Data($0.utf8)) }
        }
        #expect(await eventually(within: 120) { !logged().isEmpty })
        let plugin = try #require(try await pluginChild("xunfang-plugin-community", of: up.processIdentifier))
        #expect(kill(plugin, SIGKILL) == 0)
        let sentAtKill = logged().count

        var list = Xunfang_Community_V1_ListAlertsRequest()
        list.limit = 10_000
        var alerts: [Xunfang_Community_V1_Alert] = []
        #expect(try await eventually(within: 180) {
            alerts = (try? await harness.call(Self.service + "ListAlerts", list, as: Xunfang_Community_V1_ListAlertsResponse.self))?.alerts ?? []
            return alerts.count == count + 100 && alerts.allSatisfy { $0.deliveredAt > 0 }
        }, "sent at the kill: \(sentAtKill)")
        let lines = logged()
        let sent = lines.filter { $0.outcome == "sent" }
        let withPhone = alerts.filter { Int($0.memberID.dropFirst(2))! < count }
        #expect(sent.count == count && Set(sent.map(\.id)) == Set(withPhone.map(\.id)), "each text sent once; repeats logged: \(lines.count - sent.count)")
        let memberOf = Dictionary(uniqueKeysWithValues: alerts.map { ($0.id, $0.memberID) })
        #expect(sent.allSatisfy { $0.to == phone(Int(memberOf[$0.id]!.dropFirst(2))!) && $0.text.hasPrefix("【巡防】") })

        var audit = Xunfang_Community_V1_AuditRequest()
        audit.limit = 10_000
        let reads = try await harness.call(Self.service + "Audit", audit, as: Xunfang_Community_V1_AuditResponse.self).entries
            .filter { $0.action == "read-contact" && $0.who == "community (SMS gateway)" }
        #expect(Set(reads.map(\.purpose)).isSuperset(of: sent.map { "SMS alert \($0.id)" }), "every phone read audited, with the alert it was for")
        await harness.close()
    }

    /// Writes the test's one team and `members` as ledger files and imports both with the CLI.
    func importLedger(_ members: [String], in directory: String) async throws -> (status: Int32, output: String) {
        try "id,name,kind,level,station_id,grid_id\nT-1,城关红袖标,red-armband,township,510000-01-01,\n".write(toFile: "\(directory)/teams.csv", atomically: true, encoding: .utf8)
        try ("id,team_id,role,road_segments,hours,case_types,skills,reliability,name,phone\n" + members.joined(separator: "\n"))
            .write(toFile: "\(directory)/members.csv", atomically: true, encoding: .utf8)
        #expect(try await eventually { try await run(["community", "import", "--kind", "teams", "--file", "teams.csv"], in: directory).status == 0 })
        return try await run(["community", "import", "--kind", "members", "--file", "members.csv"], in: directory)
    }

    /// A warning for segment 1001-1002 in the hour under way, published by the harness.
    func warnNow(_ harness: BusClient) async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1_000)
        var warning = Xunfang_Situation_V1_Warning()
        warning.stationID = "510000-01-01"
        warning.day = ChinaTime.label(ofDay: ChinaTime.dayNumber(now) - 1)
        warning.hotHours = [UInt32(ChinaTime.hour(now))]
        warning.roadSegments = ["1001-1002"]
        try await harness.publishConfirmed("situation.warning", warning)
    }

    struct SmsLogLine: Decodable {
        var id: String
        var to: String
        var text: String
        var outcome: String
    }
}
