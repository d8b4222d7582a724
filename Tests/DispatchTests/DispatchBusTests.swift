import DispatchPlugin
import Foundation
import XunfangTestSupport
import GridModelPlugin
import Logging
import Testing
import XunfangBusServer
import XunfangConfig
import XunfangGeo
import XunfangPluginKit
import GridModelContract
import DispatchContract

let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
let secret = "dispatch-test-secret-0123456789"
let demoCounty: CountyModel = try! DemoCounty.build()

/// The store in `directory`, sealed with the key file beside it.
func openStore(_ directory: String) throws -> DispatchStore {
    try DispatchStore(path: directory + "/dispatch.sqlite", keys: SealingKeys(path: directory + "/sealing.key"))
}

/// A real bus (with its durable log) reached in process, Dispatch on a store in `directory`,
/// and optionally GridModel on the demo county.
struct Stack {
    let server: BusServer
    let bus: InProcessBus
    let dispatch: BusClient
    let running: Task<Void, any Error>
    let clients: [BusClient]

    static func start(directory: String, gridModel: Bool, clock: any DispatchClock = SystemDispatchClock(), autoMoveUp: Bool = false,
                      retentionDays: Int = 180, acceptOutsideMetres: Double = 0, settings: Dispatcher.Settings = .init()) async throws -> Stack {
        let open = AccessControl.unrestricted
        var config = CountyConfig(county: "Test", dataDirectory: directory, principals: ["dispatch", "grid-model", "desk"].map {
            PrincipalConfig(name: $0, credential: secret, acl: open)
        })
        config.bus.durableTopics = [try TopicPattern("incident.>"), try TopicPattern("dispatch.order.>"), try TopicPattern("dispatch.escalation")]
        // Liveness has its own tests; here a busy machine (heavy tests beside these on two
        // cores) must not make the bus drop an in-process client that missed its pings.
        config.bus.pingIntervalMilliseconds = 600_000
        let server = BusServer(config: config, credentials: ["dispatch": secret, "grid-model": secret, "desk": secret], logger: quiet)
        _ = try await server.start()
        let bus = InProcessBus(broker: server.broker!, eventLoop: server.eventLoop)
        var clients: [BusClient] = []
        var settings = settings
        if gridModel {
            // These tests check GridModel's answers, not how fast a busy test machine gives them.
            settings.gridModelWaitMilliseconds = 120_000
            let plugin = GridModelPlugin(model: demoCounty, logger: quiet)
            let client = BusClient(transport: .inProcess(bus), manifest: GridModelPlugin.manifest, credential: secret, logger: quiet, callTimeout: .seconds(120))
            plugin.register(on: client)
            try await client.start()
            clients.append(client)
        }
        let plugin = try DispatchPlugin(store: openStore(directory), clock: clock, logger: quiet, settings: settings, autoMoveUp: autoMoveUp,
                                        retentionDays: retentionDays, acceptOutsideMetres: acceptOutsideMetres)
        let dispatch = BusClient(transport: .inProcess(bus), manifest: DispatchPlugin.manifest, credential: secret, logger: quiet, callTimeout: .seconds(120))
        plugin.register(on: dispatch)
        try await dispatch.start()
        let running = Task { try await plugin.run(on: dispatch) }
        return Stack(server: server, bus: bus, dispatch: dispatch, running: running, clients: clients)
    }

    func desk() async throws -> BusClient {
        let client = BusClient(transport: .inProcess(bus), manifest: PluginManifest(name: "desk", version: "1.0.0"), credential: secret, logger: quiet, callTimeout: .seconds(120))
        try await client.start()
        return client
    }

    func stop() async {
        running.cancel()
        await dispatch.close()
        for client in clients { await client.close() }
        await server.stop()
    }
}

func position(_ point: GeoPoint) -> Xunfang_GridModel_V1_Position {
    var position = Xunfang_GridModel_V1_Position()
    position.longitude = point.longitude
    position.latitude = point.latitude
    return position
}

let centre = DemoCounty.parameters.origin
let projection = LocalProjection(origin: centre)
func at(_ x: Double, _ y: Double) -> GeoPoint { projection.unproject(PlanarPoint(x: x, y: y)) }

func report(_ desk: BusClient, _ callSign: String, _ point: GeoPoint) async throws {
    var update = Xunfang_Dispatch_V1_UnitPosition()
    update.callSign = callSign
    update.position = position(point)
    try await desk.publishConfirmed("unit.position", update)
}

func intake(_ desk: BusClient, _ type: String, _ point: GeoPoint, external: String = "") async throws -> Xunfang_Dispatch_V1_IntakeResponse {
    var request = Xunfang_Dispatch_V1_IntakeRequest()
    request.typeCode = type
    request.location = position(point)
    request.externalID = external
    return try await desk.call("/xunfang.dispatch.v1.Dispatch/Intake", request, as: Xunfang_Dispatch_V1_IntakeResponse.self)
}

func recommend(_ desk: BusClient, _ incident: String) async throws -> Xunfang_Dispatch_V1_RecommendResponse {
    var request = Xunfang_Dispatch_V1_RecommendRequest()
    request.incidentID = incident
    return try await desk.call("/xunfang.dispatch.v1.Dispatch/Recommend", request, as: Xunfang_Dispatch_V1_RecommendResponse.self)
}

/// Terminals report positions over and over; Dispatch's subscription starts on its own
/// task, so keep reporting until Dispatch shows them all (an observed event, not a guess).
func report(_ desk: BusClient, _ positions: [(String, GeoPoint)]) async throws {
    for _ in 0..<1_000 {
        for (callSign, point) in positions { try await report(desk, callSign, point) }
        let units = try await desk.call("/xunfang.dispatch.v1.Dispatch/ListUnits", Xunfang_Dispatch_V1_ListUnitsRequest(), as: Xunfang_Dispatch_V1_ListUnitsResponse.self)
        let seen = Set(units.units.filter { $0.positionAt > 0 }.map(\.callSign))
        if positions.allSatisfy({ seen.contains($0.0) }) { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("positions never arrived")
}

@Suite("Dispatch over the bus", .serialized)
struct DispatchBusTests {
    @Test("with GridModel: road ETAs, the scene's own zone first, the incident located; the order reaches the unit's durable topic")
    func withGridModel() async throws {
        let stack = try await Stack.start(directory: temporaryDirectory(), gridModel: true)
        let desk = try await stack.desk()
        let orders = try await desk.subscribe("dispatch.order.>", durable: "terminal-c001")
        let created = try await desk.subscribe("incident.created", durable: "analysis")
        // C001 (station 510000-01-01, the north-east quadrant) near the scene, C002 (north-west) farther.
        // The town's streets run every 250 m (x and y = 165, 415, ...): both on one, a block apart.
        try await report(desk, [("C001", at(415, 300)), ("C002", at(-1_500, 900)), ("C003", at(-800, -900))])
        let answer = try await intake(desk, "theft", at(300, 165))
        #expect(answer.incident.stationID == "510000-01-01" && !answer.incident.gridID.isEmpty)
        let ranking = try await recommend(desk, answer.incident.id)
        #expect(!ranking.straightLineEstimates)
        #expect(ranking.units.first?.callSign == "C001")
        #expect(ranking.units.first?.zone == .own && ranking.units.first?.meetsResponseCircle == true)
        #expect(ranking.units.first?.targetSeconds == 60, "the scene is in the core: 1-minute circle")

        var assign = Xunfang_Dispatch_V1_AssignRequest()
        assign.incidentID = answer.incident.id
        let assigned = try await desk.call("/xunfang.dispatch.v1.Dispatch/Assign", assign, as: Xunfang_Dispatch_V1_AssignResponse.self)
        #expect(assigned.unit.callSign == "C001" && assigned.unit.status == .assigned)
        var iterator = orders.makeAsyncIterator()
        let order = try #require(await iterator.next())
        #expect(order.topic == "dispatch.order.C001")
        #expect(try order.decode(Xunfang_Dispatch_V1_Order.self).incidentID == answer.incident.id)
        order.ack()
        var createdIterator = created.makeAsyncIterator()
        let announced = try #require(await createdIterator.next())
        #expect(try announced.decode(Xunfang_Dispatch_V1_Incident.self).id == answer.incident.id)
        announced.ack()
        await desk.close()
        await stack.stop()
    }

    @Test("move-up after a dispatch: numbers that add up, moves only when they raise coverage")
    func moveUp() async throws {
        let stack = try await Stack.start(directory: temporaryDirectory(), gridModel: true)
        let desk = try await stack.desk()
        try await report(desk, [("C001", at(200, 200)), ("C002", at(-300, 400)), ("C003", at(1_500, -1_200)), ("C004", at(-1_800, -1_500))])
        let answer = try await intake(desk, "theft", at(150, 150))
        var assign = Xunfang_Dispatch_V1_AssignRequest()
        assign.incidentID = answer.incident.id
        assign.callSign = "C001"
        _ = try await desk.call("/xunfang.dispatch.v1.Dispatch/Assign", assign, as: Xunfang_Dispatch_V1_AssignResponse.self)
        var request = Xunfang_Dispatch_V1_MoveUpRequest()
        request.incidentID = answer.incident.id
        let plan = try await desk.call("/xunfang.dispatch.v1.Dispatch/MoveUp", request, as: Xunfang_Dispatch_V1_MoveUpResponse.self,
                                       timeout: .seconds(60))
        #expect(plan.coverageBefore > 0 && plan.coverageBefore <= 1)
        #expect(plan.coverageNow <= plan.coverageBefore)
        #expect(plan.coverageAfter >= plan.coverageNow)
        #expect(plan.moves.allSatisfy { $0.callSign != "C001" }, "the dispatched unit is not moved up")
        if let last = plan.moves.last { #expect(last.coverageAfter == plan.coverageAfter && plan.coverageAfter > plan.coverageNow) }
        await desk.close()
        await stack.stop()
    }

    @Test("move-up is published after a dispatch and accepted into relocation orders; a used, unknown or foreign choice is refused")
    func moveUpAccepted() async throws {
        let stack = try await Stack.start(directory: temporaryDirectory(), gridModel: true, autoMoveUp: true)
        let desk = try await stack.desk()
        let suggestions = try await desk.subscribe("dispatch.moveup")
        // C001 holds the core; the others stand far out, so taking C001 away leaves a gap only a move fills.
        try await report(desk, [("C001", at(100, 100)), ("C002", at(-9_000, -9_000)), ("C003", at(9_000, 9_000)), ("C004", at(-9_000, 9_000))])
        let answer = try await intake(desk, "theft", at(150, 150))
        var assign = Xunfang_Dispatch_V1_AssignRequest()
        assign.incidentID = answer.incident.id
        assign.callSign = "C001"
        _ = try await desk.call("/xunfang.dispatch.v1.Dispatch/Assign", assign, as: Xunfang_Dispatch_V1_AssignResponse.self)
        var iterator = suggestions.makeAsyncIterator()
        let plan = try #require(await iterator.next()).decode(Xunfang_Dispatch_V1_MoveUpResponse.self)
        #expect(plan.incidentID == answer.incident.id)
        #expect(plan.coreCoverageNow < plan.coreCoverageBefore, "the core lost its unit")
        #expect(plan.coreCoverageAfter > plan.coreCoverageNow && !plan.moves.isEmpty && !plan.planID.isEmpty)
        #expect(plan.moves.allSatisfy { $0.callSign != "C001" })

        let mover = try #require(plan.moves.first).callSign
        let orders = try await desk.subscribe("dispatch.order.\(mover)")
        var accept = Xunfang_Dispatch_V1_AcceptMoveUpRequest()
        accept.planID = plan.planID
        accept.callSigns = ["C001"]
        await #expect(throws: BusClientError.self) {
            try await desk.call("/xunfang.dispatch.v1.Dispatch/AcceptMoveUp", accept, as: Xunfang_Dispatch_V1_AcceptMoveUpResponse.self)
        }
        accept.callSigns = [mover]
        let accepted = try await desk.call("/xunfang.dispatch.v1.Dispatch/AcceptMoveUp", accept, as: Xunfang_Dispatch_V1_AcceptMoveUpResponse.self)
        #expect(accepted.orders.map(\.callSign) == [mover] && accepted.refused.isEmpty)
        var orderIterator = orders.makeAsyncIterator()
        let delivered = try #require(await orderIterator.next())
        let order = try delivered.decode(Xunfang_Dispatch_V1_Order.self)
        delivered.ack()
        #expect(order.moveUpPlan == plan.planID && order.incidentID.isEmpty)
        #expect(order.relocateTo.longitude == plan.moves[0].to.longitude && order.relocateTo.latitude == plan.moves[0].to.latitude)
        do {
            _ = try await desk.call("/xunfang.dispatch.v1.Dispatch/AcceptMoveUp", accept, as: Xunfang_Dispatch_V1_AcceptMoveUpResponse.self)
            Issue.record("a plan was accepted twice")
        } catch let error as BusClientError {
            #expect(error.code == .notFound)
        }
        await desk.close()
        await stack.stop()
    }

    @Test("each ended shift's KPIs are published once, with the shift's window and name")
    func shiftKpis() async throws {
        let clock = ManualClock()
        let stack = try await Stack.start(directory: temporaryDirectory(), gridModel: false, clock: clock)
        let desk = try await stack.desk()
        let published = try await desk.subscribe("dispatch.kpis.shift")
        _ = try await intake(desk, "theft", at(0, 0))
        let nightStart = clock.now()  // the clock starts at 00:00 China time
        clock.advance(seconds: 8 * 3_600 + 1)
        var iterator = published.makeAsyncIterator()
        let kpis = try #require(await iterator.next()).decode(Xunfang_Dispatch_V1_ShiftKpis.self)
        #expect(kpis.from == nightStart && kpis.to == nightStart + 8 * 3_600_000)
        #expect(kpis.shift.hasSuffix(" night") && kpis.shift.hasPrefix("2025-11-25"))
        #expect(kpis.kpis.overall.incidents == 1)
        clock.advance(seconds: 3_600)
        var again = Xunfang_Dispatch_V1_KpisRequest()
        again.from = nightStart
        _ = try await desk.call("/xunfang.dispatch.v1.Dispatch/Kpis", again, as: Xunfang_Dispatch_V1_KpisResponse.self)  // a round trip past a few ticks
        try await Task.sleep(for: .milliseconds(600))
        clock.advance(seconds: 7 * 3_600)
        let next = try #require(await iterator.next()).decode(Xunfang_Dispatch_V1_ShiftKpis.self)
        #expect(next.from == kpis.to && next.shift.hasSuffix(" day"), "the day shift follows, the night is not sent twice")
        await desk.close()
        await stack.stop()
    }

    @Test("without GridModel: straight-line estimates, and the answer says so")
    func fallback() async throws {
        let stack = try await Stack.start(directory: temporaryDirectory(), gridModel: false)
        let desk = try await stack.desk()
        try await report(desk, [("C001", at(400, 300)), ("C002", at(3_000, 3_000))])
        let answer = try await intake(desk, "theft", at(300, 250))
        #expect(answer.incident.stationID.isEmpty, "no GridModel, no station")
        let ranking = try await recommend(desk, answer.incident.id)
        #expect(ranking.straightLineEstimates)
        #expect(ranking.note.contains("straight-line"))
        #expect(ranking.units.map(\.callSign).prefix(2) == ["C001", "C002"])
        let expected = Haversine.metres(at(400, 300), at(300, 250)) * 1.3 / (40 / 3.6)
        #expect(abs((ranking.units.first?.etaSeconds ?? 0) - expected) < 1e-6)
        // Place ids are GridModel's: without it, an intake by id is refused, saying why.
        var byPlace = Xunfang_Dispatch_V1_IntakeRequest()
        byPlace.typeCode = "theft"
        byPlace.placeID = "510000-PP001"
        do {
            _ = try await desk.call("/xunfang.dispatch.v1.Dispatch/Intake", byPlace, as: Xunfang_Dispatch_V1_IntakeResponse.self)
            Issue.record("an intake by place id went through without GridModel")
        } catch let error as BusClientError {
            #expect(error.code == .failedPrecondition && error.message.contains("coordinates"))
        }
        await desk.close()
        await stack.stop()
    }

    @Test("an incident placed by a site or grid id lands there, located; unknown or doubled places are refused")
    func intakeByPlace() async throws {
        let stack = try await Stack.start(directory: temporaryDirectory(), gridModel: true)
        let desk = try await stack.desk()
        let point = try #require(demoCounty.sites.first { $0.id == "510000-PP010" })
        var request = Xunfang_Dispatch_V1_IntakeRequest()
        request.typeCode = "theft"
        request.placeID = point.id
        let atPoint = try await desk.call("/xunfang.dispatch.v1.Dispatch/Intake", request, as: Xunfang_Dispatch_V1_IntakeResponse.self)
        #expect(Haversine.metres(GeoPoint(longitude: atPoint.incident.location.longitude, latitude: atPoint.incident.location.latitude), point.position) < 0.01)
        #expect(atPoint.incident.gridID == demoCounty.locate(point.position)?.grid.id)
        for grid in demoCounty.areas where grid.level == .grid && grid.id.hasSuffix("-001") {
            request.placeID = grid.id
            request.externalID = "grid-\(grid.id)"
            let inGrid = try await desk.call("/xunfang.dispatch.v1.Dispatch/Intake", request, as: Xunfang_Dispatch_V1_IntakeResponse.self)
            #expect(inGrid.incident.gridID == grid.id, "\(grid.id)")
        }
        request.placeID = "510000-NOWHERE"
        await #expect(throws: BusClientError.self) {
            try await desk.call("/xunfang.dispatch.v1.Dispatch/Intake", request, as: Xunfang_Dispatch_V1_IntakeResponse.self)
        }
        request.placeID = point.id
        request.location = position(point.position)
        do {
            _ = try await desk.call("/xunfang.dispatch.v1.Dispatch/Intake", request, as: Xunfang_Dispatch_V1_IntakeResponse.self)
            Issue.record("took both a location and a place")
        } catch let error as BusClientError {
            #expect(error.code == .invalidArgument)
        }
        await desk.close()
        await stack.stop()
    }

    @Test("incidents survive a restart of Dispatch, and a retried intake is stored once")
    func restart() async throws {
        let directory = temporaryDirectory()
        var stack = try await Stack.start(directory: directory, gridModel: false)
        var desk = try await stack.desk()
        let first = try await intake(desk, "help", at(0, 0), external: "desk-1")
        await desk.close()
        await stack.stop()

        stack = try await Stack.start(directory: directory, gridModel: false)
        desk = try await stack.desk()
        let again = try await intake(desk, "help", at(0, 0), external: "desk-1")
        #expect(again.incident.id == first.incident.id)
        let second = try await intake(desk, "help", at(5_000, 5_000), external: "desk-2")
        #expect(second.incident.id != first.incident.id)
        let list = try await desk.call("/xunfang.dispatch.v1.Dispatch/ListIncidents", Xunfang_Dispatch_V1_ListIncidentsRequest(),
                                       as: Xunfang_Dispatch_V1_ListIncidentsResponse.self)
        #expect(Set(list.incidents.map(\.id)) == [first.incident.id, second.incident.id])
        var bad = Xunfang_Dispatch_V1_UpdateUnitRequest()
        bad.callSign = "C001"
        bad.status = .onScene
        await #expect(throws: BusClientError.self) {
            _ = try await desk.call("/xunfang.dispatch.v1.Dispatch/UpdateUnit", bad, as: Xunfang_Dispatch_V1_Unit.self)
        }
        await desk.close()
        await stack.stop()
    }
}

extension DispatchBusTests {
    @Test("incidents listed by id (unknown ids left out) and by station")
    func listByIdAndStation() async throws {
        let stack = try await Stack.start(directory: temporaryDirectory(), gridModel: true)
        let desk = try await stack.desk()
        let near = try await intake(desk, "theft", at(0, 0), external: "list-1").incident
        let far = try await intake(desk, "theft", at(9_000, 9_000), external: "list-2").incident
        #expect(!near.stationID.isEmpty && near.stationID != far.stationID, "two stations: \(near.stationID), \(far.stationID)")
        func list(_ fill: (inout Xunfang_Dispatch_V1_ListIncidentsRequest) -> Void) async throws -> [String] {
            var request = Xunfang_Dispatch_V1_ListIncidentsRequest()
            fill(&request)
            return try await desk.call("/xunfang.dispatch.v1.Dispatch/ListIncidents", request, as: Xunfang_Dispatch_V1_ListIncidentsResponse.self).incidents.map(\.id)
        }
        #expect(try await list { $0.ids = [far.id, "INC-none"] } == [far.id])
        #expect(try await list { $0.stationID = near.stationID } == [near.id])
        #expect(try await list { $0.ids = [near.id]; $0.stationID = far.stationID } == [])
        await desk.close()
        await stack.stop()
    }
}

@Suite("Dispatch refuses unbounded and out-of-domain input", .serialized)
struct DispatchInputBoundsTests {
    @Test("a call outside every grid is refused naming the nearest grid and distance, or taken as a neighbouring county's within the setting")
    func outsideTheCounty() async throws {
        let far = at(40_000, 3_000)
        let nearest = try #require(demoCounty.nearestGrid(to: far))
        #expect(nearest.metres > 10_000)
        let strict = try await Stack.start(directory: temporaryDirectory(), gridModel: true)
        let desk = try await strict.desk()
        do {
            _ = try await intake(desk, "theft", far)
            Issue.record("a call far outside the county was taken")
        } catch let error as BusClientError {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains(nearest.grid.id) && error.message.contains(String(format: "%.1f km outside", nearest.metres / 1_000)), "\(error.message)")
        }
        let inside = try await intake(desk, "theft", at(300, 250))
        #expect(!inside.incident.gridID.isEmpty && inside.incident.outsideCountyMetres == 0)
        let listed = try await desk.call("/xunfang.dispatch.v1.Dispatch/ListIncidents", Xunfang_Dispatch_V1_ListIncidentsRequest(),
                                         as: Xunfang_Dispatch_V1_ListIncidentsResponse.self)
        #expect(listed.incidents.count == 1, "the refused call stored nothing")
        await desk.close()
        await strict.stop()

        let lenient = try await Stack.start(directory: temporaryDirectory(), gridModel: true, acceptOutsideMetres: 50_000)
        let border = try await lenient.desk()
        let taken = try await intake(border, "theft", far).incident
        #expect(abs(taken.outsideCountyMetres - nearest.metres) < 1)
        #expect(taken.gridID.isEmpty && taken.stationID == nearest.station?.id)
        #expect(taken.note.contains("neighbouring county"))
        await border.close()
        await lenient.stop()
    }

    @Test("oversized ids and text, unknown enums and datum conversions outside China are INVALID_ARGUMENT; nothing is stored")
    func refusals() async throws {
        let stack = try await Stack.start(directory: temporaryDirectory(), gridModel: false)
        let desk = try await stack.desk()
        func refused(_ change: (inout Xunfang_Dispatch_V1_IntakeRequest) -> Void) async -> String? {
            var request = Xunfang_Dispatch_V1_IntakeRequest()
            request.typeCode = "theft"
            request.location = position(at(300, 250))
            change(&request)
            do {
                _ = try await desk.call("/xunfang.dispatch.v1.Dispatch/Intake", request, as: Xunfang_Dispatch_V1_IntakeResponse.self)
                return nil
            } catch let error as BusClientError {
                return error.code == .invalidArgument ? error.message : "code \(error.code)"
            } catch {
                return "\(error)"
            }
        }
        let cases: [(String, (inout Xunfang_Dispatch_V1_IntakeRequest) -> Void)] = [
            ("100 KB external id", { $0.externalID = String(repeating: "x", count: 100_000) }),
            ("129-byte external id", { $0.externalID = String(repeating: "x", count: 129) }),
            ("1 MB report", { $0.report = String(repeating: "报", count: 350_000) }),
            ("datum 99", { $0.location.datum = .UNRECOGNIZED(99) }),
            ("source 42", { $0.source = .UNRECOGNIZED(42) }),
            ("GCJ-02 at latitude 90", { $0.location = .with { $0.longitude = 104.28; $0.latitude = 90; $0.datum = .gcj02 } }),
            ("BD-09 at longitude 180", { $0.location = .with { $0.longitude = 180; $0.latitude = 30.97; $0.datum = .bd09 } }),
            ("GCJ-02 in Europe", { $0.location = .with { $0.longitude = 2.35; $0.latitude = 48.85; $0.datum = .gcj02 } }),
        ]
        for (name, change) in cases {
            let message = await refused(change)
            #expect(message != nil && !message!.hasPrefix("code"), "\(name) was not refused as INVALID_ARGUMENT: \(message ?? "accepted")")
        }
        // A unit position with a 1 MB call sign never becomes a unit.
        var huge = Xunfang_Dispatch_V1_UnitPosition()
        huge.callSign = String(repeating: "C", count: 1 << 20)
        huge.position = position(at(100, 100))
        try await desk.publishConfirmed("unit.position", huge)
        try await report(desk, "C001", at(400, 300))
        let roster = try await desk.call("/xunfang.dispatch.v1.Dispatch/ListUnits", Xunfang_Dispatch_V1_ListUnitsRequest(),
                                         as: Xunfang_Dispatch_V1_ListUnitsResponse.self)
        #expect(!roster.units.contains { $0.callSign.utf8.count > 32 })
        let incidents = try await desk.call("/xunfang.dispatch.v1.Dispatch/ListIncidents", Xunfang_Dispatch_V1_ListIncidentsRequest(),
                                            as: Xunfang_Dispatch_V1_ListIncidentsResponse.self)
        #expect(incidents.incidents.isEmpty, "no refused intake was stored")
        // A GCJ-02 position inside China is still taken and converted.
        let taken = await refused { $0.location = .with { $0.longitude = 104.2867; $0.latitude = 30.9745; $0.datum = .gcj02 } }
        #expect(taken == nil)
        await desk.close()
        await stack.stop()
    }
}
