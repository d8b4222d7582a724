import CheckpointControlContract
import DispatchContract
import CheckpointControlPlugin
import Foundation
import Logging
import Synchronization
import Testing
import XunfangBusServer
import XunfangConfig
import XunfangGeo
import XunfangPluginKit

/// The registry over a real bus and a real SQLite file: a county's roads of two streets,
/// a checkpoint plugin, and a duty desk calling it.
struct RegistryStack {
    static let secret = "checkpoint-test-secret-0123456789"
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    let server: BusServer
    let transport: InProcessBus
    let directory: String
    let graph: RoadGraph
    let clock: ManualClock

    static func start(directory: String = NSTemporaryDirectory() + "xunfang-checkpoint-\(UUID().uuidString)") async throws -> RegistryStack {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var config = CountyConfig(county: "Test", dataDirectory: directory, principals: ["checkpoint", "desk", "dispatch"].map {
            PrincipalConfig(name: $0, credential: secret, acl: .unrestricted)
        })
        config.bus.pingIntervalMilliseconds = 600_000
        let server = BusServer(config: config, credentials: ["checkpoint": secret, "desk": secret, "dispatch": secret], logger: quiet)
        _ = try await server.start()
        return RegistryStack(server: server, transport: InProcessBus(broker: server.broker!, eventLoop: server.eventLoop), directory: directory,
                             graph: try crossroads(), clock: ManualClock(ChinaTime.parse("2026-12-01 10:00:00")!))
    }

    /// The plugin connected and running; `close` stops it as its runner would.
    struct Running {
        let client: BusClient
        let task: Task<Void, any Error>
        func close() async {
            task.cancel()
            _ = await task.result
            await client.close()
        }
    }

    func plugin(cityOrders: CityOrders? = nil, citySeals: CitySeals? = nil, readiness: Duration? = nil) async throws -> Running {
        let clock = self.clock
        let plugin = try CheckpointControlPlugin(roads: graph, dataDirectory: directory, containmentInterval: .milliseconds(50),
                                                 cityOrders: cityOrders, citySeals: citySeals, readinessInterval: readiness, logger: Self.quiet,
                                                 now: { clock.now })
        let client = BusClient(transport: .inProcess(transport), manifest: CheckpointControlPlugin.manifest, credential: Self.secret, logger: Self.quiet, callTimeout: .seconds(120))
        plugin.register(on: client)
        try await client.start()
        return Running(client: client, task: Task { try await plugin.run(on: client) })
    }

    func desk() async throws -> BusClient {
        let desk = BusClient(transport: .inProcess(transport), manifest: PluginManifest(name: "desk", version: "1.0.0"), credential: Self.secret, logger: Self.quiet, callTimeout: .seconds(120))
        try await desk.start()
        return desk
    }

    /// Dispatch as CheckpointControl sees it: a client serving ListUnits with `units`.
    func dispatch(_ units: [Xunfang_Dispatch_V1_Unit]) async throws -> BusClient {
        let method = "/xunfang.dispatch.v1.Dispatch/ListUnits"
        let dispatch = BusClient(transport: .inProcess(transport), manifest: PluginManifest(name: "dispatch", version: "1.0.0", serves: [method]),
                                 credential: Self.secret, logger: Self.quiet)
        dispatch.serve(method) { (_: Xunfang_Dispatch_V1_ListUnitsRequest, _) in Xunfang_Dispatch_V1_ListUnitsResponse.with { $0.units = units } }
        try await dispatch.start()
        return dispatch
    }

    func advance(minutes: Int64) { clock.advance(minutes * 60_000) }
    var now: Int64 { clock.now }
}

/// China time that moves only when a test says so (unix ms).
final class ManualClock: Sendable {
    private let value: Mutex<Int64>
    init(_ start: Int64) { value = Mutex(start) }
    var now: Int64 { value.withLock { $0 } }
    func advance(_ milliseconds: Int64) { value.withLock { $0 += milliseconds } }
}

let checkpointService = "/xunfang.checkpoint.v1.Checkpoint/"

func register(_ desk: BusClient, _ id: String, node: Int64 = 0, at position: GeoPoint? = nil, kind: Xunfang_Checkpoint_V1_CheckpointKind = .publicSecurity,
              lanes: Int32 = 2) async throws -> Xunfang_Checkpoint_V1_PutResponse {
    let request = Xunfang_Checkpoint_V1_PutRequest.with {
        $0.checkpoint = .with {
            $0.id = id
            $0.name = "卡点 \(id)"
            $0.kind = kind
            $0.node = node
            $0.longitude = position?.longitude ?? 0
            $0.latitude = position?.latitude ?? 0
            $0.lanes = lanes
            $0.capacityPerHour = 80
            $0.staffDay = 4
            $0.staffNight = 3
        }
        $0.officer = "李明"
    }
    return try await desk.call(checkpointService + "Put", request, as: Xunfang_Checkpoint_V1_PutResponse.self)
}

func setStatus(_ desk: BusClient, _ id: String, _ status: Xunfang_Checkpoint_V1_CheckpointStatus, reason: String = "") async throws -> Xunfang_Checkpoint_V1_StatusChange {
    try await desk.call(checkpointService + "SetStatus", Xunfang_Checkpoint_V1_SetStatusRequest.with {
        $0.id = id
        $0.status = status
        $0.officer = "王芳"
        $0.reason = reason
    }, as: Xunfang_Checkpoint_V1_StatusChange.self)
}

@Suite("The checkpoint registry over the bus", .serialized)
struct RegistryTests {
    @Test("checkpoints are snapped to the road, move through the status machine with who and when, and announce every change")
    func statusMachine() async throws {
        let stack = try await RegistryStack.start()
        let plugin = try await stack.plugin()
        let desk = try await stack.desk()
        let changes = try await desk.subscribe("checkpoint.status")

        // By position 30 m off the east street at x = 300: held at node 103, its street named.
        let position = LocalProjection(origin: Roads.origin).unproject(PlanarPoint(x: 310, y: 30))
        let east = try await register(desk, "CP-east", at: position)
        #expect(east.created && east.checkpoint.node == 103 && east.checkpoint.status == .open, "\(east.checkpoint)")
        #expect(Set(east.checkpoint.roads) == ["路102-103", "路103-104"])
        #expect(east.checkpoint.statusBy == "desk / 李明")
        _ = try await register(desk, "EX-north", node: 205, kind: .cityExit, lanes: 4)

        stack.advance(minutes: 1)
        let alert = try await setStatus(desk, "CP-east", .alert, reason: "robbery in the town")
        #expect(alert.from == .open && alert.to == .alert && alert.by == "desk / 王芳" && alert.at == stack.now)
        stack.advance(minutes: 2)
        _ = try await setStatus(desk, "CP-east", .sealed)
        // Sealed goes only to stand-down: refused, naming both states and what is allowed.
        await #expect { try await setStatus(desk, "CP-east", .open) } throws: {
            ($0 as? BusClientError)?.code == .failedPrecondition && "\($0)".contains("sealed cannot go to open") && "\($0)".contains("stand-down")
        }
        // Re-registering changes fields, never the status.
        let again = try await register(desk, "CP-east", node: 103, lanes: 3)
        #expect(!again.created && again.checkpoint.status == .sealed && again.checkpoint.lanes == 3)

        let got = try await desk.call(checkpointService + "Get", Xunfang_Checkpoint_V1_GetRequest.with { $0.id = "CP-east" }, as: Xunfang_Checkpoint_V1_GetResponse.self)
        #expect(got.history.map(\.to) == [.sealed, .alert], "newest first")
        #expect(got.checkpoint.statusSince == stack.now)
        let sealed = try await desk.call(checkpointService + "List", Xunfang_Checkpoint_V1_ListRequest.with { $0.status = .sealed }, as: Xunfang_Checkpoint_V1_ListResponse.self)
        #expect(sealed.checkpoints.map(\.id) == ["CP-east"])
        let exits = try await desk.call(checkpointService + "List", Xunfang_Checkpoint_V1_ListRequest.with { $0.kind = .cityExit }, as: Xunfang_Checkpoint_V1_ListResponse.self)
        #expect(exits.checkpoints.map(\.id) == ["EX-north"])

        var iterator = changes.makeAsyncIterator()
        for expected in [Xunfang_Checkpoint_V1_CheckpointStatus.alert, .sealed] {
            let delivery = try #require(await iterator.next())
            let change = try Xunfang_Checkpoint_V1_StatusChange(serializedBytes: delivery.payload)
            #expect(change.checkpoint == "CP-east" && change.to == expected)
        }

        // Bad input, each named.
        await #expect { try await setStatus(desk, "CP-none", .alert) } throws: { ($0 as? BusClientError)?.code == .notFound && "\($0)".contains("CP-none") }
        await #expect { try await register(desk, "CP-bad", node: 103, lanes: 0) } throws: { "\($0)".contains("lanes") }
        await #expect { try await register(desk, "CP-far", node: 999) } throws: { ($0 as? BusClientError)?.code == .notFound && "\($0)".contains("999") }
        await #expect { try await register(desk, "CP bad id", node: 103) } throws: { "\($0)".contains("checkpoint id \"CP bad id\" must be 1 to 64 bytes") }
        await desk.close()
        await plugin.close()
        await stack.server.stop()
    }

    @Test("reports are counts only, checked, kept once per interval, announced, and summed on today's board")
    func reportsAndBoard() async throws {
        let stack = try await RegistryStack.start()
        let plugin = try await stack.plugin()
        let desk = try await stack.desk()
        let reports = try await desk.subscribe("checkpoint.report")
        _ = try await register(desk, "CP-east", node: 103)
        _ = try await register(desk, "CP-west", node: 97)
        func report(_ id: String, hour: Int64, vehicles: Int32, persons: Int32, hits: Int32) async throws -> Xunfang_Checkpoint_V1_ReportResponse {
            let start = ChinaTime.parse("2026-12-01 00:00:00")! + hour * 3_600_000
            return try await desk.call(checkpointService + "Report", Xunfang_Checkpoint_V1_CheckReport.with {
                $0.checkpoint = id
                $0.from = start
                $0.to = start + 3_600_000
                $0.staffOnPost = 4
                $0.vehiclesChecked = vehicles
                $0.personsChecked = persons
                $0.hits = hits
                $0.reportedBy = "张伟"
            }, as: Xunfang_Checkpoint_V1_ReportResponse.self)
        }
        #expect(try await !report("CP-east", hour: 8, vehicles: 60, persons: 90, hits: 1).duplicate)
        #expect(try await !report("CP-east", hour: 9, vehicles: 55, persons: 70, hits: 0).duplicate)
        #expect(try await report("CP-east", hour: 9, vehicles: 99, persons: 99, hits: 9).duplicate, "the first report of an interval is kept")
        // Yesterday's report is kept but not on today's board.
        #expect(try await !report("CP-west", hour: -3, vehicles: 10, persons: 10, hits: 0).duplicate)

        await #expect { try await report("CP-east", hour: 7, vehicles: 1, persons: 1, hits: 5) } throws: { "\($0)".contains("hits") }
        await #expect { try await report("CP-east", hour: 12, vehicles: 1, persons: 1, hits: 0) } throws: { "\($0)".contains("future") }
        await #expect { try await report("CP-none", hour: 1, vehicles: 1, persons: 1, hits: 0) } throws: { ($0 as? BusClientError)?.code == .notFound }

        let board = try await desk.call(checkpointService + "Board", Xunfang_Checkpoint_V1_BoardRequest(), as: Xunfang_Checkpoint_V1_BoardResponse.self)
        #expect(board.day == "2026-12-01")
        let east = try #require(board.rows.first { $0.checkpoint.id == "CP-east" }), west = try #require(board.rows.first { $0.checkpoint.id == "CP-west" })
        #expect(east.vehiclesToday == 115 && east.personsToday == 160 && east.hitsToday == 1 && east.checkpoint.staffOnPost == 4)
        #expect(west.vehiclesToday == 0 && west.lastReportAt == 0)
        #expect(board.byStatus[Int32(Xunfang_Checkpoint_V1_CheckpointStatus.open.rawValue)] == 2)

        var iterator = reports.makeAsyncIterator()
        var announced: [Int32] = []
        for _ in 0..<3 {
            let delivery = try #require(await iterator.next())
            announced.append(try Xunfang_Checkpoint_V1_CheckReport(serializedBytes: delivery.payload).vehiclesChecked)
        }
        #expect(announced == [60, 55, 10], "each kept report announced once, the duplicate not")
        await desk.close()
        await plugin.close()
        await stack.server.stop()
    }

    @Test("the registry, its statuses and history survive a restart of the plugin on the same file")
    func restart() async throws {
        let stack = try await RegistryStack.start()
        var plugin = try await stack.plugin()
        let desk = try await stack.desk()
        _ = try await register(desk, "CP-east", node: 103)
        _ = try await setStatus(desk, "CP-east", .alert)
        await plugin.close()

        // The plugin comes back on the same file: registry, status and history intact.
        let changes = try await desk.subscribe("checkpoint.status")
        plugin = try await stack.plugin()
        let got = try await desk.call(checkpointService + "Get", Xunfang_Checkpoint_V1_GetRequest.with { $0.id = "CP-east" }, as: Xunfang_Checkpoint_V1_GetResponse.self)
        #expect(got.checkpoint.status == .alert && got.history.count == 1)
        _ = try await setStatus(desk, "CP-east", .sealed)
        var iterator = changes.makeAsyncIterator()
        let delivery = try #require(await iterator.next())
        #expect(try Xunfang_Checkpoint_V1_StatusChange(serializedBytes: delivery.payload).to == .sealed)
        await desk.close()
        await plugin.close()
        await stack.server.stop()
    }
}
