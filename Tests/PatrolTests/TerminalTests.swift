@testable import PatrolPlugin
import DispatchContract
import DispatchPlugin
import Foundation
import GridModelContract
import Logging
import PatrolContract
import Testing
import XunfangBusServer
import XunfangConfig
import XunfangPluginKit
import XunfangWire

func ping(_ callSign: String, _ longitude: Double, _ latitude: Double, at: Int64) -> Xunfang_Patrol_V1_Ping {
    var ping = Xunfang_Patrol_V1_Ping()
    ping.callSign = callSign
    ping.position.longitude = longitude
    ping.position.latitude = latitude
    ping.at = at
    return ping
}

@Suite("Terminals: fixes and silence")
struct TerminalCheckTests {
    let now = china("2026-12-02 10:00")

    @Test("a fix stands for a rostered unit, in WGS84, from the last hour, newer than the unit's last; each other is refused saying why")
    func check() {
        let pings = [ping("C001", 104.28, 30.97, at: now - 5_000), ping("C999", 104.28, 30.97, at: now), ping("C002", 0, 0, at: now),
                     ping("C002", 104.28, 91, at: now), ping("C003", 104.28, 30.97, at: now - 2 * 3_600_000), ping("C003", 104.28, 30.97, at: now + 600_000),
                     ping("C001", 104.29, 30.98, at: now - 6_000), ping("C001", 104.29, 30.98, at: now), ping("C004", 104.29, 30.98, at: now - 20_000)]
        let (accepted, refused) = Terminals.check(pings, teams: ["C001", "C002", "C003", "C004"], newest: ["C004": now - 10_000], now: now)
        #expect(accepted.map { "\($0.callSign)@\($0.at - now)" } == ["C001@-5000", "C001@0"])
        #expect(refused.map(\.index) == [1, 2, 3, 4, 5, 6, 8])
        #expect(refused[0].reason.contains("unknown unit") && refused[1].reason.contains("WGS84") && refused[2].reason.contains("WGS84"))
        #expect(refused[3].reason.contains("over an hour old") && refused[4].reason.contains("in the future"))
        #expect(refused[5].reason.contains("out of time order") && refused[6].reason.contains("out of time order"))
    }

    @Test("a check-in stands at a must-patrol point of the unit's assignment, from a fresh fix within the radius; otherwise it says why")
    func checkIn() throws {
        var point = Xunfang_Patrol_V1_MustPatrol()
        point.siteID = "PP001"
        point.name = "必巡点1"
        point.position.longitude = 104.28
        point.position.latitude = 30.97
        var assignment = Xunfang_Patrol_V1_Assignment()
        assignment.points = [point]
        var request = Xunfang_Patrol_V1_ActRequest()
        request.callSign = "C001"
        request.action = .checkIn
        request.siteID = "PP001"
        let near = PatrolStore.Fix(at: now - 30_000, longitude: 104.2803, latitude: 30.9701), far = PatrolStore.Fix(at: now - 30_000, longitude: 104.29, latitude: 30.97)
        #expect(try Terminals.checkIn(request, assignment: assignment, newest: near, radius: 50, now: now).siteID == "PP001")
        func refusal(_ body: () throws -> Xunfang_Patrol_V1_MustPatrol) -> String {
            do { _ = try body(); return "" } catch let error as BusClientError { return error.message } catch { return "\(error)" }
        }
        #expect(refusal { try Terminals.checkIn(request, assignment: assignment, newest: far, radius: 50, now: now) }.contains("is 953 m from 必巡点1 (PP001)"))
        #expect(refusal { try Terminals.checkIn(request, assignment: assignment, newest: PatrolStore.Fix(at: now - 300_000, longitude: 104.28, latitude: 30.97), radius: 50, now: now) }
            .contains("no position from the last two minutes"))
        #expect(refusal { try Terminals.checkIn(request, assignment: nil, newest: near, radius: 50, now: now) }.contains("no assignment"))
        request.siteID = "PP999"
        #expect(refusal { try Terminals.checkIn(request, assignment: assignment, newest: near, radius: 50, now: now) }.contains("not a must-patrol point of C001's"))
    }

    @Test("an on-duty unit is silent once nothing came for the setting's time since its last fix or its shift's start")
    func silence() {
        var duty = Xunfang_Patrol_V1_UnitDuty()
        duty.shiftStart = china("2026-12-02 08:00")
        let five: Int64 = 300_000
        #expect(Terminals.silence(of: duty, lastSeen: 0, now: china("2026-12-02 08:04"), after: five) == nil, "the shift has just begun")
        #expect(Terminals.silence(of: duty, lastSeen: 0, now: china("2026-12-02 08:05"), after: five) == duty.shiftStart)
        #expect(Terminals.silence(of: duty, lastSeen: china("2026-12-02 09:58"), now: now, after: five) == nil)
        #expect(Terminals.silence(of: duty, lastSeen: china("2026-12-02 09:50"), now: now, after: five) == china("2026-12-02 09:50"))
        #expect(Terminals.silence(of: duty, lastSeen: china("2026-12-01 23:00"), now: china("2026-12-02 08:06"), after: five) == duty.shiftStart,
                "yesterday's fix does not count for today's shift")
    }
}

@Suite("Terminals over the bus, with Dispatch")
struct TerminalBusTests {
    static let secret = "patrol-test-secret-0123456789"
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    static let patrol = "/xunfang.patrol.v1.Patrol/"
    static let dispatch = "/xunfang.dispatch.v1.Dispatch/"

    /// A real bus in process, in a fresh directory, every principal unrestricted.
    static func bus() async throws -> (directory: String, server: BusServer, bus: InProcessBus) {
        let directory = NSTemporaryDirectory() + "xf-patrol-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let names = ["dispatch", "patrol", "gateway"]
        var config = CountyConfig(county: "Test", dataDirectory: directory, principals: names.map { PrincipalConfig(name: $0, credential: secret, acl: .unrestricted) })
        config.bus.pingIntervalMilliseconds = 600_000
        config.bus.durableTopics = [try TopicPattern("dispatch.order.>"), try TopicPattern("patrol.exception")]
        let server = BusServer(config: config, credentials: Dictionary(uniqueKeysWithValues: names.map { ($0, secret) }), logger: quiet)
        _ = try await server.start()
        return (directory, server, InProcessBus(broker: server.broker!, eventLoop: server.eventLoop))
    }

    @Test("a closed shift is judged once against its assignment: kept, its shortfalls announced; the report then reads it back as closed")
    func closing() async throws {
        let (directory, server, bus) = try await Self.bus()
        let now = china("2026-12-02 16:30")
        var plugin = try PatrolPlugin(dataDirectory: directory, now: { now })
        plugin.logger = Self.quiet
        let client = BusClient(transport: .inProcess(bus), manifest: PatrolPlugin.manifest, credential: Self.secret, logger: Self.quiet, callTimeout: .seconds(120))
        plugin.register(on: client)
        try await client.start()
        let desk = BusClient(transport: .inProcess(bus), manifest: PluginManifest(name: "gateway", version: "1.0.0"), credential: Self.secret, logger: Self.quiet, callTimeout: .seconds(120))
        try await desk.start()
        let exceptions = try await desk.subscribe("patrol.exception", durable: "desk")
        var assignment = Xunfang_Patrol_V1_Assignment()
        assignment.callSign = "C001"
        assignment.shiftStart = china("2026-12-02 08:00")
        assignment.shiftEnd = china("2026-12-02 16:00")
        assignment.onPatrol = true
        var point = Xunfang_Patrol_V1_MustPatrol()
        point.siteID = "PP001"
        point.name = "必巡点1"
        point.position.longitude = 104.30
        point.position.latitude = 30.99
        assignment.points = [point]
        try plugin.duty.store.put(assignment: assignment)
        try plugin.duty.store.record(fixes: (0..<20).map { ("C001", PatrolStore.Fix(at: china("2026-12-02 09:00") + Int64($0) * 10_000, longitude: 104.28, latitude: 30.97)) })

        try await plugin.closeShifts(client)
        var iterator = exceptions.makeAsyncIterator()
        let announced = try #require(await iterator.next())
        let exception = try announced.decode(Xunfang_Patrol_V1_PatrolException.self)
        announced.ack()
        #expect(exception.kind == "shortfall" && exception.callSign == "C001" && exception.note.contains("point 必巡点1 (PP001) not visited"))
        try await plugin.closeShifts(client)
        #expect(try plugin.duty.store.unjudgedShifts().isEmpty, "judged once")
        var request = Xunfang_Patrol_V1_ComplianceRequest()
        request.shiftStart = assignment.shiftStart
        let report = try await desk.call(Self.patrol + "Compliance", request, as: Xunfang_Patrol_V1_ComplianceResponse.self)
        #expect(report.closed && report.units.count == 1 && report.pointsRequired == 1 && report.pointsVisited == 0 && report.units[0].fixes == 20)
        // The day's report, asked for without a date at 16:30: the last whole day (1 December) has
        // nothing; the 2nd named has the judged shift and its site with its place.
        let yesterday = try await desk.call(Self.patrol + "ComplianceReport", Xunfang_Patrol_V1_ComplianceReportRequest(), as: Xunfang_Patrol_V1_ComplianceReportResponse.self)
        #expect(yesterday.from == china("2026-12-01 00:00") && yesterday.to == china("2026-12-02 00:00") && yesterday.shifts == 0)
        var dayRequest = Xunfang_Patrol_V1_ComplianceReportRequest()
        dayRequest.at = china("2026-12-02 12:00")
        let day = try await desk.call(Self.patrol + "ComplianceReport", dayRequest, as: Xunfang_Patrol_V1_ComplianceReportResponse.self)
        #expect(day.shifts == 1 && day.total.unitShifts == 1 && day.total.pointsRequired == 1 && day.total.shortUnitShifts == 1)
        #expect(day.sites.map(\.siteID) == ["PP001"] && day.sites[0].assigned == 1 && day.sites[0].done == 0 && day.sites[0].position.longitude == 104.30)
        dayRequest.period = "week"
        await #expect(throws: BusClientError.self) { try await desk.call(Self.patrol + "ComplianceReport", dayRequest, as: Xunfang_Patrol_V1_ComplianceReportResponse.self) }
        for client in [desk, client] { await client.close() }
        await server.stop()
    }

    @Test("video patrol over the bus: a registry imported, a sighting on a camera becomes Dispatch's incident at the camera (source video), once however often it is retried")
    func seenOnCamera() async throws {
        let (directory, server, bus) = try await Self.bus()
        func client(_ manifest: PluginManifest) async throws -> BusClient {
            let client = BusClient(transport: .inProcess(bus), manifest: manifest, credential: Self.secret, logger: Self.quiet, callTimeout: .seconds(120))
            return client
        }
        try FileManager.default.createDirectory(atPath: "\(directory)/dispatch", withIntermediateDirectories: true)
        let dispatchPlugin = try DispatchPlugin(context: PluginContext(instance: "dispatch", dataDirectory: "\(directory)/dispatch", settings: [:], logger: Self.quiet))
        let dispatchClient = try await client(DispatchPlugin.manifest)
        dispatchPlugin.register(on: dispatchClient)
        try await dispatchClient.start()
        var patrolPlugin = try PatrolPlugin(dataDirectory: directory)
        patrolPlugin.logger = Self.quiet
        let patrolClient = try await client(PatrolPlugin.manifest)
        patrolPlugin.register(on: patrolClient)
        try await patrolClient.start()
        let desk = try await client(PluginManifest(name: "gateway", version: "1.0.0"))
        try await desk.start()

        var registry = Xunfang_Patrol_V1_ImportCamerasRequest()
        registry.csv = "id,name,longitude,latitude,grade,view\nK1,北门路口,104.284,30.978,key,north gate\nG1,东街,104.29,30.98,general,\n"
        #expect(try await desk.call(Self.patrol + "ImportCameras", registry, as: Xunfang_Patrol_V1_ImportCamerasResponse.self).imported == 2)
        registry.csv = "id,name,longitude,latitude,grade,view\nK9,x,104.28,30.97,key,\nK10,x,104.28,95,key,\n"
        let refused = try await desk.call(Self.patrol + "ImportCameras", registry, as: Xunfang_Patrol_V1_ImportCamerasResponse.self)
        #expect(refused.imported == 0 && refused.errors.map(\.line) == [3])
        let listed = try await desk.call(Self.patrol + "Cameras", Xunfang_Patrol_V1_CamerasRequest(), as: Xunfang_Patrol_V1_CamerasResponse.self)
        #expect(listed.cameras.map(\.id) == ["K1", "G1"] && listed.key == 1 && listed.general == 1, "K9 was not kept")

        var seen = Xunfang_Patrol_V1_SeenOnCameraRequest()
        seen.cameraID = "K1"
        seen.typeCode = "fight"
        seen.operator = "视频岗 王"
        seen.note = "two men fighting at the gate"
        seen.externalID = "desk-1"
        let first = try await desk.call(Self.patrol + "SeenOnCamera", seen, as: Xunfang_Patrol_V1_SeenOnCameraResponse.self)
        let again = try await desk.call(Self.patrol + "SeenOnCamera", seen, as: Xunfang_Patrol_V1_SeenOnCameraResponse.self)
        #expect(!first.incidentID.isEmpty && again.incidentID == first.incidentID, "a retry is the same incident")
        let incidents = try await desk.call(Self.dispatch + "ListIncidents", Xunfang_Dispatch_V1_ListIncidentsRequest(), as: Xunfang_Dispatch_V1_ListIncidentsResponse.self).incidents
        let incident = try #require(incidents.first { $0.id == first.incidentID })
        #expect(incidents.count == 1 && incident.source == .video && incident.location.longitude == 104.284, "at the camera; its report is personal data, not listed")
        #expect(try patrolPlugin.duty.store.sightings(of: "K1").map(\.incidentID) == [first.incidentID], "linked from the camera")

        seen.cameraID = "NOPE"
        await #expect(throws: BusClientError.self) { try await desk.call(Self.patrol + "SeenOnCamera", seen, as: Xunfang_Patrol_V1_SeenOnCameraResponse.self) }
        seen.cameraID = "K1"
        seen.typeCode = ""
        await #expect(throws: BusClientError.self) { try await desk.call(Self.patrol + "SeenOnCamera", seen, as: Xunfang_Patrol_V1_SeenOnCameraResponse.self) }
        for client in [desk, patrolClient, dispatchClient] { await client.close() }
        await server.stop()
    }

    @Test("fixes reach Dispatch as positions; acknowledge, arrive, clear and back in service move the unit and its incident; a silent unit is announced once")
    func terminals() async throws {
        let (directory, server, bus) = try await Self.bus()
        func client(_ manifest: PluginManifest) async throws -> BusClient {
            BusClient(transport: .inProcess(bus), manifest: manifest, credential: Self.secret, logger: Self.quiet, callTimeout: .seconds(120))
        }
        try FileManager.default.createDirectory(atPath: "\(directory)/dispatch", withIntermediateDirectories: true)
        let dispatchPlugin = try DispatchPlugin(context: PluginContext(instance: "dispatch", dataDirectory: "\(directory)/dispatch", settings: [:], logger: Self.quiet))
        let dispatchClient = try await client(DispatchPlugin.manifest)
        dispatchPlugin.register(on: dispatchClient)
        try await dispatchClient.start()
        let dispatchRun = Task { try await dispatchPlugin.run(on: dispatchClient) }

        let now = Int64(Date().timeIntervalSince1970 * 1_000)
        var patrolPlugin = try PatrolPlugin(dataDirectory: directory)
        patrolPlugin.drivesDispatch = false
        patrolPlugin.logger = Self.quiet
        let patrolClient = try await client(PatrolPlugin.manifest)
        patrolPlugin.register(on: patrolClient)
        try await patrolClient.start()
        let gateway = try await client(PluginManifest(name: "gateway", version: "1.0.0"))
        try await gateway.start()
        var teams = Xunfang_Patrol_V1_ImportTeamsRequest()
        teams.csv = "call_sign,team\n" + (1...8).map { String(format: "C%03d,%@", $0, ["一班", "二班", "三班", "四班"][$0 % 4]) }.joined(separator: "\n")
        #expect(try await gateway.call(Self.patrol + "ImportTeams", teams, as: Xunfang_Patrol_V1_ImportTeamsResponse.self).imported == 8)

        // Fixes: the good ones reach Dispatch; the bad ones are refused, each saying why.
        var report = Xunfang_Patrol_V1_ReportRequest()
        report.pings = [ping("C001", 104.285, 30.979, at: now - 2_000), ping("C002", 104.29, 30.98, at: now - 1_000), ping("C404", 104.28, 30.97, at: now),
                        ping("C001", 104.2851, 30.9791, at: now - 3_000)]
        let reported = try await gateway.call(Self.patrol + "Report", report, as: Xunfang_Patrol_V1_ReportResponse.self)
        #expect(reported.accepted == 2 && reported.refused.map(\.index) == [2, 3] && reported.refusedCount == 2)
        func unit(_ callSign: String) async throws -> Xunfang_Dispatch_V1_Unit? {
            try await gateway.call(Self.dispatch + "ListUnits", Xunfang_Dispatch_V1_ListUnitsRequest(), as: Xunfang_Dispatch_V1_ListUnitsResponse.self)
                .units.first { $0.callSign == callSign }
        }
        var positioned = false
        for _ in 0..<200 where !positioned {
            positioned = try await unit("C001")?.positionAt == now - 2_000
            if !positioned { try await Task.sleep(for: .milliseconds(25)) }
        }
        #expect(positioned, "Dispatch took C001's fix from unit.position")

        // An incident, assigned to C001: its terminal walks the order through.
        var intake = Xunfang_Dispatch_V1_IntakeRequest()
        intake.typeCode = "theft"
        intake.location.longitude = 104.284
        intake.location.latitude = 30.978
        let incident = try await gateway.call(Self.dispatch + "Intake", intake, as: Xunfang_Dispatch_V1_IntakeResponse.self).incident.id
        var assign = Xunfang_Dispatch_V1_AssignRequest()
        assign.incidentID = incident
        assign.callSign = "C001"
        _ = try await gateway.call(Self.dispatch + "Assign", assign, as: Xunfang_Dispatch_V1_AssignResponse.self)
        func act(_ action: Xunfang_Patrol_V1_TerminalAction, _ incidentID: String = "", as callSign: String = "C001") async throws -> Xunfang_Patrol_V1_ActResponse {
            var request = Xunfang_Patrol_V1_ActRequest()
            request.callSign = callSign
            request.action = action
            request.incidentID = incidentID
            return try await gateway.call(Self.patrol + "Act", request, as: Xunfang_Patrol_V1_ActResponse.self)
        }
        func refusal(_ action: Xunfang_Patrol_V1_TerminalAction, _ incidentID: String = "", as callSign: String = "C001") async -> StatusCode? {
            do { _ = try await act(action, incidentID, as: callSign); return nil } catch { return (error as? BusClientError)?.code }
        }
        #expect(await refusal(.acknowledge) == .invalidArgument, "acknowledge names the incident")
        #expect(await refusal(.acknowledge, incident, as: "C002") == .failedPrecondition, "C002 was not ordered")
        #expect(try await act(.acknowledge, incident).unitStatus == "en route")
        #expect(try await act(.arrive).unitStatus == "on scene")
        var incidents = Xunfang_Dispatch_V1_ListIncidentsRequest()
        incidents.openOnly = true
        let open = try await gateway.call(Self.dispatch + "ListIncidents", incidents, as: Xunfang_Dispatch_V1_ListIncidentsResponse.self).incidents
        #expect(open.first { $0.id == incident }?.status == .onScene && open.first { $0.id == incident }?.times.onScene ?? 0 > 0)
        #expect(await refusal(.clear, incident, as: "C002") == .failedPrecondition, "C002 is not on it")
        #expect(try await act(.clear, incident).unitStatus == "returning")
        #expect(try await unit("C001")?.status == .returning)
        #expect(try await act(.backInService).unitStatus == "available")
        #expect(await refusal(.unspecified) == .invalidArgument)

        // Silence: on-duty units with no fix for the setting's time are announced once.
        var duty = Xunfang_Patrol_V1_UnitDuty()
        duty.callSign = "C003"
        duty.shiftStart = now - 3_600_000
        var quiet = duty
        quiet.callSign = "C002"
        let flagged = try patrolPlugin.terminals.newlySilent([duty, quiet])
        #expect(flagged.map(\.exception.callSign) == ["C003"] && flagged[0].exception.note.contains("no position this shift"), "C002 reported a second ago")
        #expect(try patrolPlugin.terminals.newlySilent([duty, quiet]).map(\.exception.callSign) == ["C003"], "not announced yet (the bus refused it): still to announce")
        try patrolPlugin.terminals.announced(flagged[0])
        #expect(try patrolPlugin.terminals.newlySilent([duty, quiet]).isEmpty, "once a silence")
        let listed = try await gateway.call(Self.patrol + "Terminals", Xunfang_Patrol_V1_TerminalsRequest(), as: Xunfang_Patrol_V1_TerminalsResponse.self)
        let c001 = try #require(listed.terminals.first { $0.callSign == "C001" })
        #expect(c001.lastSeen == now - 2_000 && c001.position.longitude == 104.285 && !c001.silent && c001.team == "二班")

        dispatchRun.cancel()
        for client in [gateway, patrolClient, dispatchClient] { await client.close() }
        await server.stop()
    }
}
