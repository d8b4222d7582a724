import Foundation
import XunfangTestSupport
import Logging
import SituationAnalysisPlugin
import Synchronization
import Testing
import XunfangBusServer
import XunfangConfig
import XunfangGeo
import XunfangPluginKit
import DispatchContract
import GridModelContract
import SituationAnalysisContract

@Suite("SituationAnalysis over the bus", .serialized)
struct SituationBusTests {
    static let secret = "situation-test-secret-0123456789"
    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func incident(_ id: String, at: Int64, station: String = "510000-01-01", status: Xunfang_Dispatch_V1_IncidentStatus = .accepted) -> Xunfang_Dispatch_V1_Incident {
        var incident = Xunfang_Dispatch_V1_Incident()
        incident.id = id
        incident.typeCode = "theft"
        incident.typeName = "盗窃"
        incident.location.longitude = 104.28
        incident.location.latitude = 30.97
        incident.stationID = station
        incident.gridID = station + "-001"
        incident.status = status
        incident.times.received = at
        incident.report = "personal words the history must not keep"
        return incident
    }

    /// Whether the daily run marks `day` done in the store (polled, not timed).
    func dayDone(_ day: Int64, in store: HistoryStore) async throws -> Bool {
        for _ in 0..<2_000 {
            if try store.meta("colours_day") == String(ChinaTime.dayNumber(day)) { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// A bus with a durable log, and `client(name)` to join it.
    func bus(_ directory: String) async throws -> (server: BusServer, client: (String) async throws -> BusClient) {
        var config = CountyConfig(county: "Test", dataDirectory: directory, principals: ["situation", "dispatch", "desk", "grid-model"].map {
            PrincipalConfig(name: $0, credential: Self.secret, acl: .unrestricted)
        })
        // Liveness has its own tests; here a busy machine (heavy tests beside these on two
        // cores) must not make the bus drop an in-process client that missed its pings.
        config.bus.pingIntervalMilliseconds = 600_000
        config.bus.durableTopics = [try TopicPattern("incident.>"), try TopicPattern("situation.warning")]
        let server = BusServer(config: config, credentials: ["situation": Self.secret, "dispatch": Self.secret, "desk": Self.secret, "grid-model": Self.secret], logger: quiet)
        _ = try await server.start()
        let bus = InProcessBus(broker: server.broker!, eventLoop: server.eventLoop)
        let quiet = self.quiet
        return (server, { name in
            let manifest = switch name {
            case "situation": SituationAnalysisPlugin.manifest
            case "grid-model": PluginManifest(name: name, version: "1.0.0", serves: ["ListAreas", "Locate"].map { "/xunfang.grid_model.v1.GridModel/" + $0 })
            default: PluginManifest(name: name, version: "1.0.0")
            }
            let client = BusClient(transport: .inProcess(bus), manifest: manifest,
                                   credential: Self.secret, logger: quiet, callTimeout: .seconds(120))
            return client
        })
    }

    @Test("an import that adds history recomputes yesterday and warns of a rise; run-daily does any day; no day is warned twice")
    func importThenWarn() async throws {
        let directory = temporaryDirectory()
        let (server, client) = try await bus(directory)
        let store = try HistoryStore(path: directory + "/situation.sqlite")
        let clock = Clock(monday + ChinaTime.day + hour)   // Tuesday 01:00: Monday is due
        let plugin = SituationAnalysisPlugin(store: store, logger: quiet, now: { clock.now }, dailyCheck: .milliseconds(50))
        let situation = try await client("situation")
        plugin.register(on: situation)
        try await situation.start()
        let desk = try await client("desk")
        try await desk.start()
        let warnings = try await desk.subscribe("situation.warning", durable: "community")
        let running = Task { try await plugin.run(on: situation) }
        #expect(try await dayDone(monday, in: store), "Monday was done on an empty history: nothing to warn of")

        // An import: fifteen quiet Mondays and a busy one for station 01, as `xunfang situation import` leaves them.
        func records(_ station: String, busy: Int) -> [HistoryRecord] {
            (1...15).map { week in
                HistoryRecord(id: "\(station)-W\(week)", at: monday - Int64(week) * 7 * ChinaTime.day + 10 * hour, type: "theft",
                              longitude: 104.28, latitude: 30.97, grid: station + "-001", station: station)
            } + (0..<busy).map { index in
                HistoryRecord(id: "\(station)-M\(index)", at: monday + Int64(9 + index % 3) * hour, type: "theft",
                              longitude: 104.28, latitude: 30.97, grid: station + "-001", station: station)
            }
        }
        try store.upsert(records("510000-01-01", busy: 12))
        try store.markImported()
        var iterator = warnings.makeAsyncIterator()
        let first = try #require(await iterator.next())
        let warning = try first.decode(Xunfang_Situation_V1_Warning.self)
        first.ack()
        #expect(warning.day == "2026-01-05" && warning.stationID == "510000-01-01" && warning.colour == .red)

        var request = Xunfang_Situation_V1_RunDailyRequest()
        request.day = "2026-01-05"
        let again = try await desk.call("/xunfang.situation.v1.Situation/RunDaily", request, as: Xunfang_Situation_V1_RunDailyResponse.self)
        #expect(again.warned.isEmpty && again.alreadyWarned == ["510000-01-01"])

        // A second import makes station 02 red too: only 02 is warned (01 first would mean a repeat).
        try store.upsert(records("510000-01-02", busy: 12))
        try store.markImported()
        let second = try #require(await iterator.next())
        #expect(try second.decode(Xunfang_Situation_V1_Warning.self).stationID == "510000-01-02")
        second.ack()
        let settled = try await desk.call("/xunfang.situation.v1.Situation/RunDaily", request, as: Xunfang_Situation_V1_RunDailyResponse.self)
        #expect(settled.warned.isEmpty && settled.alreadyWarned == ["510000-01-01", "510000-01-02"])
        request.day = "2026-13-01"
        await #expect(throws: BusClientError.self) {
            try await desk.call("/xunfang.situation.v1.Situation/RunDaily", request, as: Xunfang_Situation_V1_RunDailyResponse.self)
        }
        // Monday's 24 incidents as a density layer.
        var density = Xunfang_Situation_V1_DensityRequest()
        density.day = "2026-01-05"
        density.days = 1
        let surface = try await desk.call("/xunfang.situation.v1.Situation/Density", density, as: Xunfang_Situation_V1_DensityResponse.self)
        #expect(surface.incidents == 24 && surface.perKm2.count == Int(surface.columns * surface.rows) && surface.columns > 0)
        #expect(surface.peaks.count == 1 && abs(surface.peaks[0].longitude - 104.28) < 0.001, "every incident at one place")
        density.cellMetres = 1
        await #expect(throws: BusClientError.self) {
            try await desk.call("/xunfang.situation.v1.Situation/Density", density, as: Xunfang_Situation_V1_DensityResponse.self)
        }
        running.cancel()
        for client in [situation, desk] { await client.close() }
        await server.stop()
    }

    @Test("the demo history seeds an empty store once; imported incidents are placed before their day is coloured, so its rise is warned")
    func demoHistory() async throws {
        let directory = temporaryDirectory()
        let (server, makeClient) = try await bus(directory)
        // GridModel's answer: within 400 m of the demo's burglary run is one station, the rest another.
        let gridModel = try await makeClient("grid-model")
        let projection = LocalProjection(origin: SyntheticRoads.Parameters.demoCounty.origin)
        let run = PlanarPoint(x: -1_200, y: -1_100)
        @Sendable func inRun(_ longitude: Double, _ latitude: Double) -> Bool {
            projection.project(GeoPoint(longitude: longitude, latitude: latitude)).distance(to: run) < 400
        }
        @Sendable func area(_ id: String, _ kind: Xunfang_GridModel_V1_AreaKind) -> Xunfang_GridModel_V1_Area {
            Xunfang_GridModel_V1_Area.with { $0.id = id; $0.name = id; $0.kind = kind }
        }
        gridModel.serve("/xunfang.grid_model.v1.GridModel/ListAreas") { (_: Xunfang_GridModel_V1_ListAreasRequest, _) in
            Xunfang_GridModel_V1_ListAreasResponse.with {
                $0.areas = [area("510000-01-01", .station), area("510000-01-03", .station), area("510000-01-01-001", .grid), area("510000-01-03-001", .grid)]
            }
        }
        gridModel.serve("/xunfang.grid_model.v1.GridModel/Locate") { (request: Xunfang_GridModel_V1_LocateRequest, _) in
            let station = inRun(request.position.longitude, request.position.latitude) ? "510000-01-03" : "510000-01-01"
            return Xunfang_GridModel_V1_LocateResponse.with { $0.found = true; $0.grid = area(station + "-001", .grid); $0.station = area(station, .station) }
        }
        try await gridModel.start()
        let desk = try await makeClient("desk")
        try await desk.start()
        let warnings = try await desk.subscribe("situation.warning", durable: "community")

        let store = try HistoryStore(path: directory + "/situation.sqlite")
        let today = ChinaTime.dayNumber(label: "2026-12-01")!
        let clock = Clock(ChinaTime.start(ofDay: today) + 2 * hour)
        let plugin = SituationAnalysisPlugin(store: store, logger: quiet, now: { clock.now }, dailyCheck: .milliseconds(50), demoHistoryDays: 120)
        let situation = try await makeClient("situation")
        plugin.register(on: situation)
        try await situation.start()
        let running = Task { try await plugin.run(on: situation) }
        var iterator = warnings.makeAsyncIterator()
        let message = try #require(await iterator.next())
        message.ack()
        let warning = try message.decode(Xunfang_Situation_V1_Warning.self)
        let seeded = try store.count()
        let expected = DemoIncidents().incidents(days: today - 120...today - 1)
        #expect(seeded == expected.count)
        #expect(seeded > 60 * 120)
        // Every seeded incident was placed before the day was coloured: the count is the whole county's day.
        #expect(warning.day == "2026-11-30" && warning.stationID == "510000-01-03")
        #expect(Int(warning.count) == expected.count { ChinaTime.dayNumber($0.at) == today - 1 && inRun($0.longitude, $0.latitude) }, "\(warning.count)")
        let unplaced = try store.unlocated(limit: 1)
        #expect(unplaced.isEmpty)
        running.cancel()
        _ = await running.result
        await situation.close()

        // A day later the store is not empty: a second start seeds nothing (not even the new yesterday).
        clock.set(clock.now + ChinaTime.day)
        let again = SituationAnalysisPlugin(store: store, logger: quiet, now: { clock.now }, dailyCheck: .milliseconds(50), demoHistoryDays: 120)
        let second = try await makeClient("situation")
        again.register(on: second)
        try await second.start()
        let rerun = Task { try await again.run(on: second) }
        #expect(try await dayDone(ChinaTime.start(ofDay: today), in: store))
        let after = try store.count()
        #expect(after == expected.count)
        rerun.cancel()
        for client in [second, desk, gridModel] { await client.close() }
        await server.stop()
    }

    @Test("a city's history: two counties' INC-000001 are both kept, told apart by the bridge's origin header, and broken down by county")
    func cityHistory() async throws {
        let directory = temporaryDirectory()
        let (server, makeClient) = try await bus(directory)
        let store = try HistoryStore(path: directory + "/situation.sqlite")
        let gridModel = try await makeClient("grid-model")
        gridModel.serve("/xunfang.grid_model.v1.GridModel/ListAreas") { (_: Xunfang_GridModel_V1_ListAreasRequest, _) in Xunfang_GridModel_V1_ListAreasResponse() }
        gridModel.serve("/xunfang.grid_model.v1.GridModel/Locate") { (_: Xunfang_GridModel_V1_LocateRequest, _) in Xunfang_GridModel_V1_LocateResponse() }
        try await gridModel.start()
        let clock = Clock(monday + 12 * hour)
        let plugin = SituationAnalysisPlugin(store: store, logger: quiet, now: { clock.now }, dailyCheck: .milliseconds(50))
        let situation = try await makeClient("situation")
        plugin.register(on: situation)
        try await situation.start()
        let running = Task { try await plugin.run(on: situation) }
        // The city's bridge publishes each county's incidents with their county named.
        let bridge = try await makeClient("dispatch")
        try await bridge.start()
        for (county, count) in [("county-a", 3), ("county-b", 2), ("", 1)] {
            for number in 1...count {
                let message = incident(String(format: "INC-%06d", number), at: monday + Int64(number) * hour)
                let headers = county.isEmpty ? [:] : ["xunfang-origin-county": county]
                try await bridge.publishConfirmed("incident.created", payload: message.serializedData(), headers: headers, messageID: "\(county):\(number)")
            }
        }
        let desk = try await makeClient("desk")
        try await desk.start()
        var breakdown = Xunfang_Situation_V1_BreakdownRequest()
        breakdown.from = monday
        breakdown.to = monday + ChinaTime.day
        breakdown.by = [.county]
        var answer = Xunfang_Situation_V1_BreakdownResponse()
        for _ in 0..<500 {
            answer = try await desk.call("/xunfang.situation.v1.Situation/Breakdown", breakdown, as: Xunfang_Situation_V1_BreakdownResponse.self)
            if answer.total >= 6 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(answer.total == 6, "three INC-000001s, each kept")
        #expect(answer.rows.map { "\($0.key[0])=\($0.count)" } == ["county-a=3", "county-b=2", "=1"])
        #expect(answer.rows.map { $0.names[0] } == ["county-a", "county-b", "本级"])
        #expect(Set(try store.records().map(\.id)) == ["county-a/INC-000001", "county-a/INC-000002", "county-a/INC-000003",
                                                        "county-b/INC-000001", "county-b/INC-000002", "INC-000001"])
        running.cancel()
        _ = await running.result
        for client in [situation, gridModel, bridge, desk] { await client.close() }
        await server.stop()
    }

    @Test("incidents from the durable topic are kept once; breakdowns, colours and the daily warning come out of them")
    func history() async throws {
        let directory = temporaryDirectory()
        let (server, makeClient) = try await bus(directory)
        func client(_ name: String) async throws -> BusClient {
            let client = try await makeClient(name)
            try await client.start()
            return client
        }

        // Fifteen quiet Mondays in the store already (as an import would leave them), then a busy one over the bus.
        let store = try HistoryStore(path: directory + "/situation.sqlite")
        var old: [HistoryRecord] = []
        for week in 1...15 {
            let day = monday - Int64(week) * 7 * ChinaTime.day
            old.append(HistoryRecord(id: "OLD-\(week)", at: day + 10 * hour, type: "theft", longitude: 104.28, latitude: 30.97,
                                     grid: "510000-01-01-001", station: "510000-01-01"))
        }
        try store.upsert(old)
        // GridModel's side of its contract: the county's names and where incidents lie.
        let gridModel = try await makeClient("grid-model")
        let station = Xunfang_GridModel_V1_Area.with { $0.id = "510000-01-01"; $0.name = "雒城派出所"; $0.kind = .station }
        let grid = Xunfang_GridModel_V1_Area.with { $0.id = "510000-01-01-001"; $0.name = "文庙社区一网格"; $0.kind = .grid }
        gridModel.serve("/xunfang.grid_model.v1.GridModel/ListAreas") { (_: Xunfang_GridModel_V1_ListAreasRequest, _) in
            Xunfang_GridModel_V1_ListAreasResponse.with { $0.areas = [station, grid] }
        }
        gridModel.serve("/xunfang.grid_model.v1.GridModel/Locate") { (_: Xunfang_GridModel_V1_LocateRequest, _) in
            Xunfang_GridModel_V1_LocateResponse.with {
                $0.found = true
                $0.grid = grid
                $0.station = station
                $0.roadSegmentID = "11-12"
                $0.roadName = "中山大道"
            }
        }
        try await gridModel.start()
        let dispatch = try await client("dispatch")
        for index in 0..<12 {
            let message = incident("INC-\(index)", at: monday + Int64(9 + index % 3) * hour)
            try await dispatch.publishConfirmed("incident.created", payload: message.serializedData(), messageID: "c\(index)")
            // A redelivery or an update of the same incident: stored once.
            try await dispatch.publishConfirmed("incident.updated", payload: message.serializedData(), messageID: "u\(index)")
        }
        try await dispatch.publishConfirmed("incident.created", payload: incident("INC-linked", at: monday, status: .linked).serializedData(), messageID: "l")

        let clock = Clock(monday + ChinaTime.day + 10 * 60_000)  // Tuesday 00:10, before the daily run's time
        let plugin = SituationAnalysisPlugin(store: store, logger: quiet, now: { clock.now }, dailyCheck: .milliseconds(50))
        let situation = try await makeClient("situation")
        plugin.register(on: situation)
        try await situation.start()
        let desk = try await client("desk")
        let warnings = try await desk.subscribe("situation.warning", durable: "community")
        let running = Task { try await plugin.run(on: situation) }
        // The first daily run (Sunday, once the stored incidents are placed) asks GridModel for names.
        #expect(try await dayDone(monday - ChinaTime.day, in: store))

        var breakdown = Xunfang_Situation_V1_BreakdownRequest()
        breakdown.from = monday
        breakdown.to = monday + ChinaTime.day
        breakdown.by = [.station, .hour]
        var answer = Xunfang_Situation_V1_BreakdownResponse()
        for _ in 0..<200 {
            answer = try await desk.call("/xunfang.situation.v1.Situation/Breakdown", breakdown, as: Xunfang_Situation_V1_BreakdownResponse.self)
            if answer.total >= 12 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(answer.total == 12, "each incident once, the linked call not at all")
        #expect(answer.rows.map(\.count).sorted() == [4, 4, 4] && answer.rows.allSatisfy { $0.key[0] == "510000-01-01" })
        #expect(answer.rows.first { $0.key[1] == "10" }?.previousWeek == 1)
        #expect(answer.rows.first { $0.key[1] == "10" }?.names == ["雒城派出所", "10:00-11:00"], "named as GridModel names it (the first daily run asked)")
        #expect(try store.count() == 27)

        var colours = Xunfang_Situation_V1_ColoursRequest()
        colours.day = "2026-01-05"
        let judged = try await desk.call("/xunfang.situation.v1.Situation/Colours", colours, as: Xunfang_Situation_V1_ColoursResponse.self)
        let judgedStation = try #require(judged.stations.first { $0.areaID == "510000-01-01" })
        #expect(judgedStation.areaName == "雒城派出所", "named as GridModel names it")
        #expect(judgedStation.colour == .red && judgedStation.count == 12 && judgedStation.deploymentLevel == 1 && judgedStation.minimumPatrolShare == 0.8)
        // Once Colours has asked GridModel, the names are kept: breakdowns use them, types are in Chinese,
        // and every incident is placed on a named road.
        breakdown.by = [.station, .type, .weekday, .roadSegment]
        var named = Xunfang_Situation_V1_BreakdownRow()
        for _ in 0..<500 {
            named = try await desk.call("/xunfang.situation.v1.Situation/Breakdown", breakdown, as: Xunfang_Situation_V1_BreakdownResponse.self).rows.first ?? named
            if named.names.last == "中山大道" { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(named.key == ["510000-01-01", "theft", "1", "11-12"] && named.names == ["雒城派出所", "盗窃", "星期一", "中山大道"])
        colours.day = "2026-13-01"
        await #expect(throws: BusClientError.self) {
            try await desk.call("/xunfang.situation.v1.Situation/Colours", colours, as: Xunfang_Situation_V1_ColoursResponse.self)
        }

        // At 01:00 the daily run warns about Monday, once.
        // (On its first start the plugin did the day before: Sunday, a quiet day without warnings.)
        #expect(try store.meta("colours_day") == String(ChinaTime.dayNumber(monday) - 1))
        clock.set(monday + ChinaTime.day + hour)
        var iterator = warnings.makeAsyncIterator()
        let delivery = try #require(await iterator.next())
        let warning = try delivery.decode(Xunfang_Situation_V1_Warning.self)
        delivery.ack()
        #expect(warning.day == "2026-01-05" && warning.stationID == "510000-01-01" && warning.colour == .red)
        #expect(warning.topTypes == ["theft"] && warning.hotHours.first.map { (9...11).contains($0) } == true)
        #expect(warning.stationName == "雒城派出所" && warning.topTypeNames == ["盗窃"] && warning.hotGridNames == ["文庙社区一网格"])
        #expect(warning.roadSegments == ["11-12"] && warning.roadNames == ["中山大道"])
        // The day is marked done just after its warnings go out.
        #expect(try await dayDone(monday, in: store))

        // Tuesday's day shift: Monday was red for the station, so four in five of its units patrol.
        let deployments = try await desk.subscribe("situation.deployment")
        var plan = Xunfang_Situation_V1_PlanRequest()
        plan.shiftStart = monday + ChinaTime.day + 8 * hour
        plan.seed = 11
        plan.units = (1...10).map { index in
            var unit = Xunfang_Situation_V1_PlanUnit()
            unit.callSign = "C\(index)"
            unit.stationID = index <= 5 ? "510000-01-01" : "510000-01-02"
            return unit
        }
        let made = try await desk.call("/xunfang.situation.v1.Situation/Plan", plan, as: Xunfang_Situation_V1_DeploymentPlan.self)
        #expect(made.coloursDay == "2026-01-05" && made.shiftEnd == plan.shiftStart + 8 * hour)
        let red = try #require(made.stations.first { $0.stationID == "510000-01-01" })
        #expect(red.colour == .red && red.units == 5 && red.onPatrol == 4)
        #expect(made.stations.first { $0.stationID == "510000-01-02" }?.onPatrol == 1)
        #expect(made.hotCells.count == 1 && made.hotCells[0].stationID == "510000-01-01", "every incident lies in one cell")
        #expect(made.assignments.filter { $0.onPatrol }.flatMap(\.stops).count >= 4 && made.longestRevisitMinutes <= 120)
        var reportRequest = Xunfang_Situation_V1_ReportRequest()
        reportRequest.kind = .tenDay
        reportRequest.day = "2026-01-05"
        let report = try await desk.call("/xunfang.situation.v1.Situation/Report", reportRequest, as: Xunfang_Situation_V1_ReportResponse.self)
        #expect(report.from == "2026-01-01" && report.to == "2026-01-10" && report.json.contains("\"incidents\" : 12") && report.html.contains("<svg"))
        var emerging = Xunfang_Situation_V1_EmergingRequest()
        emerging.day = "2026-01-05"
        emerging.weeks = 4
        let trend = try await desk.call("/xunfang.situation.v1.Situation/Emerging", emerging, as: Xunfang_Situation_V1_EmergingResponse.self)
        #expect(trend.from == "2025-12-09" && trend.to == "2026-01-05")
        // Every incident lies in one cell with nothing around it: hot each week (Gi* weighs a
        // cell against its surroundings, not against its own past), without a trend.
        #expect(trend.cells.map(\.class) == [.persistent] && trend.cells.first?.z.count == 4)
        emerging.weeks = 60
        await #expect(throws: BusClientError.self) {
            try await desk.call("/xunfang.situation.v1.Situation/Emerging", emerging, as: Xunfang_Situation_V1_EmergingResponse.self)
        }
        var deploymentIterator = deployments.makeAsyncIterator()
        let published = try #require(await deploymentIterator.next()).decode(Xunfang_Situation_V1_DeploymentPlan.self)
        #expect(published == made)

        running.cancel()
        for client in [dispatch, situation, desk, gridModel] { await client.close() }
        await server.stop()
    }
}

/// A settable clock the plugin reads.
final class Clock: Sendable {
    private let value: Mutex<Int64>
    init(_ value: Int64) { self.value = Mutex(value) }
    var now: Int64 { value.withLock { $0 } }
    func set(_ new: Int64) { value.withLock { $0 = new } }
}
