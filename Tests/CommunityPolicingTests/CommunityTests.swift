@testable import CommunityPolicingPlugin
import CommunityPolicingContract
import Foundation
import GridModelPlugin
import Logging
import Testing
import XunfangBusServer
import XunfangConfig
import XunfangPluginKit

/// The plugin over a real bus and a real SQLite file: an officer (`desk`) who may read
/// contacts, a `viewer` who may call everything but ReadContact.
struct CommunityStack {
    static let secret = "community-test-secret-0123456789"
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    static let service = "/xunfang.community.v1.Community/"
    let server: BusServer
    let transport: InProcessBus
    let directory: String

    static func start(directory: String = NSTemporaryDirectory() + "xunfang-community-\(UUID().uuidString)") async throws -> CommunityStack {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let viewer = AccessControl(call: ["ImportLedger", "ExportLedger", "ListTeams", "ListMembers", "Audit"].map { try! MethodPattern(service + $0) })
        var config = CountyConfig(county: "Test", dataDirectory: directory, principals: [
            PrincipalConfig(name: "community", credential: secret, acl: .unrestricted),
            PrincipalConfig(name: "desk", credential: secret, acl: .unrestricted),
            PrincipalConfig(name: "viewer", credential: secret, acl: viewer),
            PrincipalConfig(name: "grid-model", credential: secret, acl: .unrestricted),
            PrincipalConfig(name: "dispatch", credential: secret, acl: .unrestricted),
        ])
        config.bus.pingIntervalMilliseconds = 600_000
        config.bus.durableTopics = [try TopicPattern("situation.warning"), try TopicPattern("community.alert.>")]
        let server = BusServer(config: config, credentials: ["community": secret, "desk": secret, "viewer": secret, "grid-model": secret, "dispatch": secret], logger: quiet)
        _ = try await server.start()
        return CommunityStack(server: server, transport: InProcessBus(broker: server.broker!, eventLoop: server.eventLoop), directory: directory)
    }

    func plugin(demoLedger: Bool = false) async throws -> (client: BusClient, task: Task<Void, any Error>) {
        let plugin = try CommunityPlugin(dataDirectory: directory, keyFile: "\(directory)/community.key", policy: AlertPolicy(),
                                         notifier: try OutboxDirectoryNotifier(directory: "\(directory)/alerts"), logger: Self.quiet,
                                         demoLedger: demoLedger, now: { 1_764_554_400_000 })
        let client = BusClient(transport: .inProcess(transport), manifest: CommunityPlugin.manifest, credential: Self.secret, logger: Self.quiet, callTimeout: .seconds(120))
        plugin.register(on: client)
        try await client.start()
        return (client, Task { try await plugin.run(on: client) })
    }

    /// The test teams and members, imported by `client`; both must import whole.
    func importLedgers(by client: BusClient) async throws {
        for (kind, csv) in [(Xunfang_Community_V1_LedgerKind.teams, teamsCSV), (.members, membersCSV)] {
            var request = Xunfang_Community_V1_ImportLedgerRequest()
            request.kind = kind
            request.csv = csv
            let response = try await client.call(Self.service + "ImportLedger", request, as: Xunfang_Community_V1_ImportLedgerResponse.self)
            #expect(response.errors.isEmpty && response.imported > 0)
        }
    }

    /// The plugin seeding the demo county's ledger from a real GridModel on the bus, and a
    /// desk client; answers once the members are in (they go in last).
    static func demo() async throws -> (stack: CommunityStack, gridModel: BusClient, plugin: (client: BusClient, task: Task<Void, any Error>),
                                        desk: BusClient, members: [Xunfang_Community_V1_Member]) {
        let stack = try await start()
        let gridModel = BusClient(transport: .inProcess(stack.transport), manifest: GridModelPlugin.manifest, credential: secret, logger: quiet, callTimeout: .seconds(120))
        GridModelPlugin(model: try DemoCounty.build(), logger: quiet).register(on: gridModel)
        try await gridModel.start()
        let plugin = try await stack.plugin(demoLedger: true)
        let desk = try await stack.client("desk")
        var list = Xunfang_Community_V1_ListMembersRequest()
        list.limit = 20_000
        var members: [Xunfang_Community_V1_Member] = []
        for _ in 0..<4_800 where members.isEmpty {
            members = try await desk.call(service + "ListMembers", list, as: Xunfang_Community_V1_ListMembersResponse.self).members
            if members.isEmpty { try await Task.sleep(for: .milliseconds(25)) }
        }
        return (stack, gridModel, plugin, desk, members)
    }

    func client(_ name: String, serves: [String] = []) async throws -> BusClient {
        let client = BusClient(transport: .inProcess(transport), manifest: PluginManifest(name: name, version: "1.0.0", serves: serves), credential: Self.secret, logger: Self.quiet, callTimeout: .seconds(120))
        try await client.start()
        return client
    }
}

let teamsCSV = """
    id,name,kind,level,station_id,grid_id
    T-01,城东北红袖标队,red-armband,township,510000-01-01,
    T-02,一村联防队,joint-defence,village,510000-02-01,510000-02-01-003
    """

let membersCSV = """
    id,team_id,role,road_segments,hours,case_types,skills,reliability,name,phone
    M-1,T-01,leader,1001-1002;1002-1003,1-5@07:00-11:00;6@19:00-22:00,theft;burglary,first-aid,0.9,张三,13800000001
    M-2,T-01,patroller,1002-1003,7@08:00-12:00,,,,李四,
    M-3,T-02,information-officer,2001-2002,1-7@05:00-07:30,,sanitation,0.7,,
    """

@Suite("Community ledgers")
struct LedgerTests {
    @Test("a good ledger parses: day ranges become a slot a day, weekly hours are summed, contact is marked")
    func parses() throws {
        let teams = try Ledger.teams(csv: teamsCSV).get()
        #expect(teams.map(\.id) == ["T-01", "T-02"] && teams[1].kind == .jointDefence && teams[1].level == .village && teams[0].gridID == "")
        let members = try Ledger.members(csv: membersCSV, teams: ["T-01", "T-02"]).get()
        #expect(members.count == 3)
        #expect(members[0].member.hours.count == 6 && members[0].member.weeklyHours == 5 * 4 + 3)
        #expect(members[0].member.roadSegments == ["1001-1002", "1002-1003"] && members[0].name == "张三" && members[0].member.contactKept)
        #expect(members[1].member.reliability == 0.5 && members[1].member.contactKept)
        #expect(!members[2].member.contactKept && members[2].member.weeklyHours == 7 * 2.5)
        #expect(members[0].member.caseTypes == ["theft", "burglary"] && members[1].member.caseTypes.isEmpty)
        // A spreadsheet's byte-order mark before the header is not part of it.
        #expect(try Ledger.teams(csv: "\u{FEFF}" + teamsCSV).get() == teams)
    }

    @Test("every bad line is named with why, and nothing comes back from a ledger with one")
    func badLines() {
        let csv = """
            id,team_id,role,road_segments,hours,case_types,skills,reliability,name,phone
            M-1,T-01,leader,1001-1002,1-5@07:00-11:00,,,0.9,张三,13800000001
            M-2,T-09,patroller,,,,,,,
            M-3,T-01,chief,,,,,,,
            M-4,T-01,patroller,1002-1001,,,,,,
            M-5,T-01,patroller,,8@07:00-08:00,,,,,
            M-6,T-01,patroller,,1@09:00-08:00,,,,,
            M-7,T-01,patroller,,,,,1.5,,
            M-8,T-01,patroller,,,,,,,phone!
            M-1,T-01,patroller,,,,,,,
            M-9,T-01,patroller,,,盗 窃,,,,
            M-10,T-01,patroller
            """
        guard case .failure(let rejection) = Ledger.members(csv: csv, teams: ["T-01"]) else {
            Issue.record("a bad ledger was accepted")
            return
        }
        #expect(rejection.errors.map(\.line) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
        let messages = rejection.errors.map(\.message)
        #expect(messages[0].contains("T-09") && messages[1].contains("chief") && messages[2].contains("smaller id first"))
        #expect(messages[3].contains("8@07:00-08:00") && messages[4].contains("09:00-08:00") && messages[5].contains("reliability"))
        #expect(messages[6].contains("phone") && messages[7].contains("twice") && messages[8].contains("case type") && messages[9].contains("3 fields"))
        guard case .failure(let header) = Ledger.teams(csv: "name,id\nx,y") else {
            Issue.record("a wrong header was accepted")
            return
        }
        #expect(header.errors.first?.line == 1 && header.errors.first?.message.contains("header") == true)
    }

    @Test("an export reads back as the same ledger, without names and phones")
    func roundTrip() throws {
        let teams = try Ledger.teams(csv: teamsCSV).get()
        #expect(try Ledger.teams(csv: Ledger.csv(teams)).get() == teams)
        let members = try Ledger.members(csv: membersCSV, teams: ["T-01", "T-02"]).get().map(\.member)
        let again = try Ledger.members(csv: Ledger.csv(members), teams: ["T-01", "T-02"]).get()
        #expect(again.map(\.name).allSatisfy(\.isEmpty) && again.map(\.phone).allSatisfy(\.isEmpty))
        #expect(again.map { var member = $0.member; member.contactKept = true; return member } == members.map { var member = $0; member.contactKept = true; return member })
    }
}

@Suite("Community over the bus")
struct CommunityBusTests {
    @Test("ledgers import whole or not at all; contacts are sealed at rest, read only by a role granted it, and every read is audited")
    func privacy() async throws {
        let stack = try await CommunityStack.start()
        let plugin = try await stack.plugin()
        let desk = try await stack.client("desk"), viewer = try await stack.client("viewer")
        let service = CommunityStack.service
        var request = Xunfang_Community_V1_ImportLedgerRequest()
        request.kind = .members
        request.csv = membersCSV
        // Members before their teams: refused line by line, nothing kept.
        let early = try await desk.call(service + "ImportLedger", request, as: Xunfang_Community_V1_ImportLedgerResponse.self)
        #expect(early.imported == 0 && early.errors.map(\.line) == [2, 3, 4])
        request.kind = .teams
        request.csv = teamsCSV
        #expect(try await desk.call(service + "ImportLedger", request, as: Xunfang_Community_V1_ImportLedgerResponse.self).imported == 2)
        request.kind = .members
        request.csv = membersCSV
        #expect(try await viewer.call(service + "ImportLedger", request, as: Xunfang_Community_V1_ImportLedgerResponse.self).imported == 3)

        var list = Xunfang_Community_V1_ListTeamsRequest()
        list.stationID = "510000-01-01"
        let teams = try await viewer.call(service + "ListTeams", list, as: Xunfang_Community_V1_ListTeamsResponse.self).teams
        #expect(teams.map(\.id) == ["T-01"] && teams[0].members == 2)
        let members = try await viewer.call(service + "ListMembers", Xunfang_Community_V1_ListMembersRequest(), as: Xunfang_Community_V1_ListMembersResponse.self)
        #expect(members.members.map(\.id) == ["M-1", "M-2", "M-3"])
        // A page at a time, by id; a page larger than a frame holds is refused.
        var page = Xunfang_Community_V1_ListMembersRequest()
        page.limit = 2
        let first = try await viewer.call(service + "ListMembers", page, as: Xunfang_Community_V1_ListMembersResponse.self)
        page.afterID = first.nextAfterID
        let second = try await viewer.call(service + "ListMembers", page, as: Xunfang_Community_V1_ListMembersResponse.self)
        #expect(first.members.map(\.id) == ["M-1", "M-2"] && first.nextAfterID == "M-2" && second.members.map(\.id) == ["M-3"] && second.nextAfterID.isEmpty)
        page.limit = 20_001
        await #expect { _ = try await viewer.call(service + "ListMembers", page, as: Xunfang_Community_V1_ListMembersResponse.self) } throws: {
            ($0 as? BusClientError)?.code == .invalidArgument
        }
        var exportPage = Xunfang_Community_V1_ExportLedgerRequest()
        exportPage.kind = .members
        exportPage.limit = 2
        let part = try await viewer.call(service + "ExportLedger", exportPage, as: Xunfang_Community_V1_ExportLedgerResponse.self)
        #expect(part.csv.hasPrefix(Ledger.memberHeader) && part.csv.split(separator: "\n").count == 3 && part.nextAfterID == "M-2")
        // Nothing a viewer can list carries a name or a phone, and neither does the file.
        var export = Xunfang_Community_V1_ExportLedgerRequest()
        export.kind = .members
        let exported = try await viewer.call(service + "ExportLedger", export, as: Xunfang_Community_V1_ExportLedgerResponse.self).csv
        let listed = String(decoding: try members.serializedBytes() as Data, as: UTF8.self)
        #expect(exported.contains("M-1,T-01,leader") && !exported.contains("张三") && !exported.contains("13800000001"))
        #expect(!listed.contains("张三") && !listed.contains("13800000001"))
        let file = try Data(contentsOf: URL(fileURLWithPath: "\(stack.directory)/community.sqlite"))
            + ((try? Data(contentsOf: URL(fileURLWithPath: "\(stack.directory)/community.sqlite-wal"))) ?? Data())
        #expect(file.range(of: Data("13800000001".utf8)) == nil && file.range(of: Data("张三".utf8)) == nil)

        var read = Xunfang_Community_V1_ReadContactRequest()
        read.memberID = "M-1"
        read.purpose = "alert follow-up"
        read.onBehalfOf = "officer-07"
        await #expect(throws: BusClientError.self) { _ = try await viewer.call(service + "ReadContact", read, as: Xunfang_Community_V1_Contact.self) }
        let contact = try await desk.call(service + "ReadContact", read, as: Xunfang_Community_V1_Contact.self)
        #expect(contact.name == "张三" && contact.phone == "13800000001")
        read.purpose = ""
        await #expect(throws: BusClientError.self) { _ = try await desk.call(service + "ReadContact", read, as: Xunfang_Community_V1_Contact.self) }
        read.memberID = "M-404"
        read.purpose = "alert follow-up"
        await #expect(throws: BusClientError.self) { _ = try await desk.call(service + "ReadContact", read, as: Xunfang_Community_V1_Contact.self) }

        var audit = Xunfang_Community_V1_AuditRequest()
        audit.memberID = "M-1"
        let entries = try await viewer.call(service + "Audit", audit, as: Xunfang_Community_V1_AuditResponse.self).entries
        #expect(entries.count == 1 && entries[0].who == "desk" && entries[0].onBehalfOf == "officer-07" && entries[0].purpose == "alert follow-up")
        let all = try await viewer.call(service + "Audit", Xunfang_Community_V1_AuditRequest(), as: Xunfang_Community_V1_AuditResponse.self).entries
        #expect(Set(all.map(\.action)) == ["read-contact", "import-teams", "import-members"])

        // A rotation reseals every contact under the new key; the old one is retired.
        let rotated = try await desk.call(service + "RotateKey", Xunfang_Community_V1_RotateKeyRequest(), as: Xunfang_Community_V1_RotateKeyResponse.self)
        #expect(rotated.keyID == 2 && rotated.resealed == 2 && rotated.retired == 1)
        read.memberID = "M-1"
        #expect(try await desk.call(service + "ReadContact", read, as: Xunfang_Community_V1_Contact.self).phone == "13800000001")
        plugin.task.cancel()
        await plugin.client.close()
        await desk.close()
        await viewer.close()
        await stack.server.stop()
    }
}

@Suite("Community ledger files")
struct LedgerFileTests {
    @Test("a large ledger is checked whole and cut at line ends into parts under the limit, each with the header, every row once")
    func parts() throws {
        let rows = (0..<5_000).map { "M-\($0),T-01,patroller,1001-1002,1-5@07:00-11:00,,,0.5,," }
        let csv = "\u{FEFF}" + Ledger.memberHeader + "\n" + rows.joined(separator: "\n") + "\n"
        #expect(Ledger.check(members: csv, teams: ["T-01"]).isEmpty)
        let parts = Ledger.parts(csv, maxBytes: 50_000)
        #expect(parts.count > 1 && parts.allSatisfy { $0.utf8.count <= 50_000 && $0.hasPrefix(Ledger.memberHeader + "\n") })
        let back = try parts.flatMap { try Ledger.members(csv: $0, teams: ["T-01"]).get().map(\.member.id) }
        #expect(back == (0..<5_000).map { "M-\($0)" })
        let bad = csv.replacingOccurrences(of: "M-4999,T-01", with: "M-4999,T-09")
        #expect(Ledger.check(members: bad, teams: ["T-01"]).map(\.line) == [5_001])
    }
}
