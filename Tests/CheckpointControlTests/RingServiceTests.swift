import CheckpointControlContract
import CheckpointControlPlugin
import Foundation
import Logging
import Testing
import XunfangBusServer
import XunfangConfig
import XunfangGeo
import XunfangPluginKit

@Suite("The Ring service over the bus")
struct RingServiceTests {
    static let secret = "checkpoint-test-secret-0123456789"

    // Calls wait up to 120 s: the test is about answers, and a busy CI machine may stall
    // the process for longer than the default 10 s deadline.
    @Test("a ring by positions and per-unit modes; unknown nodes and a bad boundary refused by name")
    func ring() async throws {
        let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let directory = NSTemporaryDirectory() + "xunfang-checkpoint-\(UUID().uuidString)"
        var config = CountyConfig(county: "Test", dataDirectory: directory, principals: ["checkpoint", "desk"].map {
            PrincipalConfig(name: $0, credential: Self.secret, acl: .unrestricted)
        })
        config.bus.pingIntervalMilliseconds = 600_000
        let server = BusServer(config: config, credentials: ["checkpoint": Self.secret, "desk": Self.secret], logger: quiet)
        _ = try await server.start()
        let transport = InProcessBus(broker: server.broker!, eventLoop: server.eventLoop)

        // A road east–west through the incident: two ways out, a unit waiting on each side.
        var roads = Roads()
        for step in -5...5 { roads.node(Int64(100 + step), Double(step) * 100, 0) }
        for step in -5..<5 { roads.road(Int64(100 + step), Int64(101 + step)) }
        let graph = try roads.graph()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let plugin = try CheckpointControlPlugin(roads: graph, dataDirectory: directory, logger: quiet)
        let checkpoint = BusClient(transport: .inProcess(transport), manifest: CheckpointControlPlugin.manifest, credential: Self.secret, logger: quiet, callTimeout: .seconds(120))
        plugin.register(on: checkpoint)
        try await checkpoint.start()
        let desk = BusClient(transport: .inProcess(transport), manifest: PluginManifest(name: "desk", version: "1.0.0"), credential: Self.secret, logger: quiet, callTimeout: .seconds(120))
        try await desk.start()

        let projection = LocalProjection(origin: Roads.origin)
        func unit(_ id: String, x: Double, mode: String) -> Xunfang_Checkpoint_V1_RingUnit {
            let position = projection.unproject(PlanarPoint(x: x, y: 30))   // 30 m off the road: joined to the nearest node
            return Xunfang_Checkpoint_V1_RingUnit.with { $0.id = id; $0.longitude = position.longitude; $0.latitude = position.latitude; $0.mode = mode }
        }
        var request = Xunfang_Checkpoint_V1_RingRequest()
        request.incidentNode = 100
        request.headStart = 10
        request.boundary = 40
        request.units = [unit("east", x: 400, mode: "car"), unit("west", x: -300, mode: "foot")]
        let answer = try await desk.call(CheckpointControlPlugin.ringMethod, request, as: Xunfang_Checkpoint_V1_RingResponse.self)
        #expect(answer.feasible && answer.ring.count == 2, "\(answer)")   // the walker holds the node it stands at
        let east = try #require(answer.ring.first { $0.unit == "east" }), west = try #require(answer.ring.first { $0.unit == "west" })
        #expect(east.node > 100 && west.node < 100 && east.police + 0 <= east.suspect && west.police <= west.suspect)
        #expect(west.roadName.hasPrefix("路"))

        request.units[1].node = 999
        await #expect { try await desk.call(CheckpointControlPlugin.ringMethod, request, as: Xunfang_Checkpoint_V1_RingResponse.self) } throws: {
            ($0 as? BusClientError)?.code == .notFound && "\($0)".contains("999")
        }
        request.units[1].node = 0
        request.boundary = 5
        await #expect { try await desk.call(CheckpointControlPlugin.ringMethod, request, as: Xunfang_Checkpoint_V1_RingResponse.self) } throws: {
            ($0 as? BusClientError)?.code == .invalidArgument && "\($0)".contains("boundary")
        }
        await desk.close()
        await checkpoint.close()
        await server.stop()
    }
}
