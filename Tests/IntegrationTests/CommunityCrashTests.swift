import CommunityPolicingContract
import Foundation
import SituationAnalysisContract
import Testing
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
        try "id,name,kind,level,station_id,grid_id\nT-1,城关红袖标,red-armband,township,510000-01-01,\n".write(toFile: "\(directory)/teams.csv", atomically: true, encoding: .utf8)
        try ("id,team_id,role,road_segments,hours,case_types,skills,reliability,name,phone\n" + members.joined(separator: "\n"))
            .write(toFile: "\(directory)/members.csv", atomically: true, encoding: .utf8)
        #expect(try await eventually { try await run(["community", "import", "--kind", "teams", "--file", "teams.csv"], in: directory).status == 0 })
        let imported = try await run(["community", "import", "--kind", "members", "--file", "members.csv"], in: directory)
        #expect(imported.status == 0 && imported.output.contains("imported 40000 members"))
        #expect(try await run(["community", "audit"], in: directory).output.split(separator: "\n").filter { $0.contains("import-members") }.count == 2,
                "two parts, each audited")
        let exported = try await run(["community", "export", "--kind", "members", "--out", "exported.csv"], in: directory)
        let exportedLines = try String(contentsOfFile: "\(directory)/exported.csv", encoding: .utf8).split(separator: "\n")
        #expect(exported.status == 0 && exportedLines.count == 4 * count + 1 && exportedLines.filter { $0.hasPrefix("id,") }.count == 1,
                "two pages of 20,000, one header")
        let announced = try await harness.subscribe("community.alert.>", durable: "harness-alerts")

        let now = Int64(Date().timeIntervalSince1970 * 1_000)
        var warning = Xunfang_Situation_V1_Warning()
        warning.stationID = "510000-01-01"
        warning.day = ChinaTime.label(ofDay: ChinaTime.dayNumber(now) - 1)
        warning.hotHours = [UInt32(ChinaTime.hour(now))]
        warning.roadSegments = ["1001-1002"]
        try await harness.publishConfirmed("situation.warning", warning)

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
}
