import BridgeContract
import DispatchContract
import Foundation
import Testing
import XunfangNATS
import XunfangPluginKit

/// Issue 19's proof on one machine: a 3-node nats-server cluster with JetStream, three
/// county stacks and one city stack (`xunfang up`, the bridge as a real plugin process),
/// and kill -9 of a NATS node, of a county's bus and of a bridge while incidents flow.
@Suite("Out of process: counties linked into a city over a JetStream cluster", .serialized)
struct BridgeClusterTests {
    static let secret = "bridge-harness-secret-0123456789"
    static let counties = ["county-a", "county-b", "county-c"]

    func config(_ name: String, nats: LocalNATSCluster) -> String {
        let city = name == "city"
        let servers = nats.addresses.map(\.description).joined(separator: ",")
        let bridgeEnv = city ? "BRIDGE_EXPORT: checkpoint.seal, BRIDGE_IMPORT: \"*:incident.>\""
                             : "BRIDGE_EXPORT: \"incident.>\", BRIDGE_IMPORT: city:checkpoint.seal"
        return """
        county: \(name)
        data_dir: data
        bus:
          socket: bus.sock
          durable_topics: ["incident.>", "checkpoint.seal"]
        plugins:
          - name: bridge
            env: { BRIDGE_COUNTY: \(name), BRIDGE_NATS: "\(servers)", BRIDGE_REPLICAS: "3", \(bridgeEnv) }
            acl:
              subscribe: [\(city ? "\"checkpoint.seal\"" : "\"incident.>\"")]
              publish: [\(city ? "\"incident.>\"" : "\"checkpoint.seal\"")]
              serve: ["/xunfang.bridge.v1.Bridge/*"]
        clients:
          - name: harness
            credential: \(Self.secret)
            acl: { publish: ["incident.>", "checkpoint.seal"], subscribe: ["incident.>", "checkpoint.seal"], call: ["*"] }
        """
    }

    /// Publishes incidents `range` of `county`, each retried with its own id until the bus
    /// acknowledges it (the bus may be down meanwhile).
    func publish(_ range: Range<Int>, county: String, on client: BusClient) async throws {
        for index in range {
            var incident = Xunfang_Dispatch_V1_Incident()
            incident.id = "\(county)-\(index)"
            incident.stationID = "\(county)-01"
            incident.report = "the caller's words"
            let payload = try incident.serializedData()
            let deadline = ContinuousClock.now + .seconds(120)
            while true {
                do {
                    _ = try await client.publishConfirmed("incident.created", payload: payload, messageID: incident.id)
                    break
                } catch {
                    guard ContinuousClock.now < deadline else { throw error }
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
        }
    }

    @Test("incidents of three counties reach the city through kill -9 of a NATS node, a county bus and a bridge; a city seal reaches every county")
    func cityThroughFaults() async throws {
        let root = NSTemporaryDirectory() + "xf-bridge-cluster-\(UUID().uuidString.prefix(8))"
        let nats = try LocalNATSCluster(in: root, nodes: 3)
        try nats.start()
        defer { nats.stop() }
        var directories: [String: String] = [:]
        var stacks: [String: Process] = [:]
        defer { for process in stacks.values where process.isRunning { process.terminate(); process.waitUntilExit() } }
        for name in ["city"] + Self.counties {
            let directory = "\(root)/\(name)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try config(name, nats: nats).write(toFile: "\(directory)/county.yaml", atomically: true, encoding: .utf8)
            directories[name] = directory
        }
        // The city listens first, so nothing it is sent is missed.
        stacks["city"] = try startXunfang(["up", "--config", "county.yaml"], in: directories["city"]!)
        let city = try #require(await harnessClient(in: directories["city"]!, secret: Self.secret))
        let arrivals = try await city.subscribe("incident.>", durable: "city-analysis")
        var desks: [String: BusClient] = [:]
        var seals: [String: Subscription] = [:]
        for name in Self.counties {
            stacks[name] = try startXunfang(["up", "--config", "county.yaml"], in: directories[name]!)
            let desk = try #require(await harnessClient(in: directories[name]!, secret: Self.secret))
            desks[name] = desk
            seals[name] = try await desk.subscribe("checkpoint.seal", durable: "checkpoints")
        }
        let perPhase = 25
        func phase(_ number: Int) async throws {
            for name in Self.counties { try await publish(number * perPhase..<(number + 1) * perPhase, county: name, on: desks[name]!) }
        }

        try await phase(0)
        nats.kill(node: 0)                       // every bridge linked to it first
        try await phase(1)
        try nats.start(node: 0)
        let busKilled = stacks["county-a"]!
        kill(busKilled.processIdentifier, SIGKILL)   // the county's bus, and so its bridge with it
        try await exited(busKilled)
        stacks["county-a"] = try startXunfang(["up", "--config", "county.yaml"], in: directories["county-a"]!)
        try await phase(2)
        let bridgeB = try #require(try await pluginChild("xunfang-plugin-bridge", of: stacks["county-b"]!.processIdentifier))
        kill(bridgeB, SIGKILL)                   // the supervisor starts it again
        try await phase(3)

        let expected = Set(Self.counties.flatMap { name in (0..<(4 * perPhase)).map { "\(name)-\($0)" } })
        var seen = Set<String>()
        var deliveries = 0
        var strippedEverywhere = true
        var labelled = true
        let collector = Task { () -> (Set<String>, Int, Bool, Bool) in
            for await delivery in arrivals {
                deliveries += 1
                delivery.ack()
                guard let incident = try? delivery.decode(Xunfang_Dispatch_V1_Incident.self) else { continue }
                seen.insert(incident.id)
                strippedEverywhere = strippedEverywhere && incident.report.isEmpty
                labelled = labelled && incident.id.hasPrefix(delivery.headers["xunfang-origin-county"] ?? "?")
                if seen.isSuperset(of: expected) { break }
            }
            return (seen, deliveries, strippedEverywhere, labelled)
        }
        // Bounded so a lost message fails the test instead of hanging CI.
        let watchdog = Task { try await Task.sleep(for: .seconds(240)); collector.cancel() }
        let (arrived, count, stripped, fromTheirCounty) = await collector.value
        watchdog.cancel()
        #expect(arrived == expected, "missing at the city: \(expected.subtracting(arrived).sorted().prefix(10)) (logs under \(root))")
        #expect(stripped && fromTheirCounty)
        print("bridge cluster: \(expected.count) incidents acknowledged by their county buses, \(arrived.count) arrived, \(count) deliveries (\(count - arrived.count) repeats, recognised by id)")

        let status = try await desks["county-c"]!.call("/xunfang.bridge.v1.Bridge/Status", Xunfang_Bridge_V1_StatusRequest(),
                                                       as: Xunfang_Bridge_V1_StatusResponse.self)
        #expect(status.connected && status.reconnects >= 1, "county C's bridge lost its NATS node and found another")
        #expect(status.exports.first?.exported == UInt64(4 * perPhase) && status.exports.first?.durable == true)

        try await city.publishConfirmed("checkpoint.seal", payload: Data("close the city gates".utf8), messageID: "seal-1")
        for name in Self.counties {
            let seal = Task { () -> Delivery? in
                for await delivery in seals[name]! { delivery.ack(); return delivery }
                return nil
            }
            let sealWatchdog = Task { try await Task.sleep(for: .seconds(120)); seal.cancel() }
            let delivery = await seal.value
            sealWatchdog.cancel()
            #expect(delivery?.payload == Data("close the city gates".utf8) && delivery?.headers["xunfang-origin-county"] == "city", "\(name) got the seal")
        }
        for client in desks.values { await client.close() }
        await city.close()
    }
}
