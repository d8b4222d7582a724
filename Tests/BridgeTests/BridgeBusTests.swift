import Foundation
import Logging
import Synchronization
import Testing
import BridgePlugin
import BridgeContract
import DispatchContract
import XunfangBusServer
import XunfangConfig
import XunfangNATS
import XunfangPluginKit

/// Counties and a city, each its own bus (in process), linked through a real nats-server
/// with JetStream by the bridge plugin.
@Suite("Bridge between county buses over JetStream", .serialized)
struct BridgeBusTests {
    static let secret = "bridge-test-secret-0123456789abcd"
    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    final class Site: @unchecked Sendable {
        let name: String
        let server: BusServer
        let bus: InProcessBus
        var bridge: (client: BusClient, task: Task<Void, any Error>)?

        init(name: String, server: BusServer) {
            self.name = name
            self.server = server
            bus = InProcessBus(broker: server.broker!, eventLoop: server.eventLoop)
        }
    }

    func site(_ name: String, in directory: String) async throws -> Site {
        var config = CountyConfig(county: name, dataDirectory: "\(directory)/\(name)", principals: ["bridge", "desk"].map {
            PrincipalConfig(name: $0, credential: Self.secret, acl: .unrestricted)
        })
        config.bus.pingIntervalMilliseconds = 600_000
        config.bus.durableTopics = [try TopicPattern("incident.>"), try TopicPattern("checkpoint.seal")]
        let server = BusServer(config: config, credentials: ["bridge": Self.secret, "desk": Self.secret], logger: quiet)
        _ = try await server.start()
        return Site(name: name, server: server)
    }

    func client(_ site: Site, _ name: String, manifest: PluginManifest? = nil) async throws -> BusClient {
        let client = BusClient(transport: .inProcess(site.bus), manifest: manifest ?? PluginManifest(name: name, version: "1.0.0"),
                               credential: Self.secret, logger: quiet, callTimeout: .seconds(120))
        try await client.start()
        return client
    }

    func startBridge(_ site: Site, nats: LocalNATSCluster, settings: [String: String]) async throws {
        let context = PluginContext(instance: "bridge", dataDirectory: NSTemporaryDirectory(),
                                    settings: ["BRIDGE_COUNTY": site.name, "BRIDGE_NATS": nats.addresses.map(\.description).joined(separator: ",")]
                                        .merging(settings) { $1 }, logger: quiet)
        let plugin = try BridgePlugin(context: context)
        let client = BusClient(transport: .inProcess(site.bus), manifest: BridgePlugin.manifest, credential: Self.secret,
                               logger: quiet, callTimeout: .seconds(120))
        plugin.register(on: client)
        try await client.start()
        site.bridge = (client, Task { try await plugin.run(on: client) })
    }

    func stopBridge(_ site: Site) async {
        guard let (client, task) = site.bridge else { return }
        task.cancel()
        _ = await task.result
        await client.close()
        site.bridge = nil
    }

    func incident(_ id: String, county: String) -> Xunfang_Dispatch_V1_Incident {
        var incident = Xunfang_Dispatch_V1_Incident()
        incident.id = id
        incident.typeCode = "theft"
        incident.stationID = "\(county)-01"
        incident.report = "words of a caller in \(county)"
        return incident
    }

    /// Reads deliveries until `count` distinct message ids arrived; acknowledges each.
    func collect(_ subscription: Subscription, distinct count: Int) async -> [Delivery] {
        var seen: [Delivery] = []
        var ids = Set<String>()
        for await delivery in subscription {
            seen.append(delivery)
            ids.insert(delivery.messageID)
            delivery.ack()
            if ids.count == count { break }
        }
        return seen
    }

    @Test("incidents of two counties reach the city once each, stripped and labelled; the city's seal reaches both; a bridge stopped and restarted loses nothing")
    func countiesAndCity() async throws {
        let directory = NSTemporaryDirectory() + "xf-bridge-\(UUID().uuidString.prefix(8))"
        let nats = try LocalNATSCluster(in: directory, nodes: 1)
        try nats.start()
        defer { nats.stop() }
        let a = try await site("county-a", in: directory), b = try await site("county-b", in: directory), city = try await site("city", in: directory)
        let cityDesk = try await client(city, "desk")
        let cityIncidents = try await cityDesk.subscribe("incident.>", durable: "analysis")
        let aDesk = try await client(a, "desk"), bDesk = try await client(b, "desk")
        let aSeals = try await aDesk.subscribe("checkpoint.seal", durable: "checkpoints"), bSeals = try await bDesk.subscribe("checkpoint.seal", durable: "checkpoints")

        try await startBridge(a, nats: nats, settings: ["BRIDGE_IMPORT": "city:checkpoint.seal"])
        try await startBridge(b, nats: nats, settings: ["BRIDGE_IMPORT": "city:checkpoint.seal"])
        try await startBridge(city, nats: nats, settings: ["BRIDGE_EXPORT": "checkpoint.seal", "BRIDGE_IMPORT": "*:incident.>"])

        for index in 0..<20 { try await aDesk.publishConfirmed("incident.created", incident("A-\(index)", county: "county-a")) }
        for index in 0..<10 { try await bDesk.publishConfirmed("incident.created", incident("B-\(index)", county: "county-b")) }
        let first = await collect(cityIncidents, distinct: 30)
        #expect(first.count == 30, "each once: \(first.count) deliveries")
        let decoded = try first.map { try $0.decode(Xunfang_Dispatch_V1_Incident.self) }
        #expect(Set(decoded.map(\.id)) == Set((0..<20).map { "A-\($0)" } + (0..<10).map { "B-\($0)" }))
        #expect(decoded.allSatisfy { $0.report.isEmpty }, "the caller's words stayed in the county")
        #expect(first.allSatisfy { $0.headers["xunfang-origin-county"] == ($0.messageID.hasPrefix("county-a:") ? "county-a" : "county-b") })
        #expect(decoded.filter { $0.id.hasPrefix("A-") }.map(\.id) == (0..<20).map { "A-\($0)" }, "one county's incidents in their order")

        try await cityDesk.publishConfirmed("checkpoint.seal", payload: Data("close the city gates".utf8))
        for seals in [aSeals, bSeals] {
            let seal = await collect(seals, distinct: 1)
            #expect(seal.first?.payload == Data("close the city gates".utf8) && seal.first?.headers["xunfang-origin-county"] == "city")
        }

        // County A's bridge stops; A goes on alone; the bridge comes back and sends what it missed, once.
        await stopBridge(a)
        for index in 20..<30 { try await aDesk.publishConfirmed("incident.created", incident("A-\(index)", county: "county-a")) }
        try await startBridge(a, nats: nats, settings: ["BRIDGE_IMPORT": "city:checkpoint.seal"])
        let second = await collect(cityIncidents, distinct: 10)
        #expect(try second.map { try $0.decode(Xunfang_Dispatch_V1_Incident.self).id } == (20..<30).map { "A-\($0)" })

        // The city can have the last one before its PubAck is back at A's bridge: the count is read once it is in.
        var status = Xunfang_Bridge_V1_StatusResponse()
        for _ in 0..<600 {
            status = try await aDesk.call(BridgePlugin.statusMethod, Xunfang_Bridge_V1_StatusRequest(), as: Xunfang_Bridge_V1_StatusResponse.self)
            if let exports = status.exports.first(where: { $0.pattern == "incident.>" }), exports.exported >= 10 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(status.county == "county-a" && status.connected)
        let incidents = try #require(status.exports.first { $0.pattern == "incident.>" })
        // At least the ten it missed; one the stopped bridge had in flight (sent, not yet stored) is stored by the new one.
        #expect(incidents.durable && (10...11).contains(incidents.exported), "the restarted bridge stored the ten it missed: \(incidents)")
        #expect(status.exports.first { $0.pattern == "situation.colours" }?.durable == false, "not a durable topic here: best effort, and said so")
        #expect(status.imports.map(\.subject) == ["xunfang.city.checkpoint.seal"])

        for site in [a, b, city] { await stopBridge(site) }
        for client in [cityDesk, aDesk, bDesk] { await client.close() }
        for site in [a, b, city] { await site.server.stop() }
    }

    @Test("a county asks its neighbour's Dispatch: answered with the asker named; a method the neighbour does not answer, a county with no bridge and a bad request refused with their codes")
    func callAcrossTheBorder() async throws {
        let directory = NSTemporaryDirectory() + "xf-bridge-call-\(UUID().uuidString.prefix(8))"
        let nats = try LocalNATSCluster(in: directory, nodes: 1)
        try nats.start()
        defer { nats.stop() }
        let a = try await site("county-a", in: directory), b = try await site("county-b", in: directory)
        let recommend = "/xunfang.dispatch.v1.Dispatch/Recommend"
        // County B's Dispatch, as far as the bridge can tell: the service on B's bus.
        let dispatchB = BusClient(transport: .inProcess(b.bus), manifest: PluginManifest(name: "desk", version: "1.0.0", serves: [recommend, "/xunfang.dispatch.v1.Dispatch/Assign"]),
                                  credential: Self.secret, logger: quiet, callTimeout: .seconds(120))
        let askedBy = Mutex<[String]>([])
        dispatchB.serve(recommend) { (request: Xunfang_Dispatch_V1_RecommendRequest, context) in
            askedBy.withLock { $0.append(context.metadata["xunfang-origin-county"] ?? "") }
            var unit = Xunfang_Dispatch_V1_Recommendation()
            unit.callSign = "B-07"
            var response = Xunfang_Dispatch_V1_RecommendResponse()
            response.units = [unit]
            response.note = "for \(request.incidentID)"
            return response
        }
        try await dispatchB.start()
        try await startBridge(a, nats: nats, settings: ["BRIDGE_EXPORT": "none"])
        try await startBridge(b, nats: nats, settings: ["BRIDGE_EXPORT": "none", "BRIDGE_ANSWER": recommend])
        let desk = try await client(a, "desk")

        func ask(_ county: String, _ method: String) async throws -> Xunfang_Bridge_V1_CallResponse {
            var request = Xunfang_Bridge_V1_CallRequest()
            request.county = county
            request.method = method
            var recommendation = Xunfang_Dispatch_V1_RecommendRequest()
            recommendation.incidentID = "A-20261203-0042"
            request.payload = try recommendation.serializedData()
            return try await desk.call(BridgePlugin.callMethod, request, as: Xunfang_Bridge_V1_CallResponse.self)
        }
        func code(_ body: () async throws -> Xunfang_Bridge_V1_CallResponse) async -> String {
            do { _ = try await body(); return "OK" } catch let error as BusClientError { return "\(error.code)" } catch { return "\(error)" }
        }
        // B's bridge may still be subscribing: the first answer is awaited, not timed.
        var answer: Xunfang_Bridge_V1_CallResponse?
        let deadline = ContinuousClock.now + .seconds(60)
        while answer == nil && ContinuousClock.now < deadline {
            answer = try? await ask("county-b", recommend)
            if answer == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let response = try Xunfang_Dispatch_V1_RecommendResponse(serializedBytes: try #require(answer).payload)
        #expect(response.units.map(\.callSign) == ["B-07"] && response.note == "for A-20261203-0042" && answer?.answeredBy == "county-b")
        #expect(askedBy.withLock { $0 }.allSatisfy { $0 == "county-a" } && !askedBy.withLock { $0 }.isEmpty, "B's Dispatch knows who asks")
        #expect(await code { try await ask("county-b", "/xunfang.dispatch.v1.Dispatch/Assign") } == "PERMISSION_DENIED")
        #expect(await code { try await ask("county-c", recommend) } == "UNAVAILABLE", "no bridge listens for county C")
        #expect(await code { try await ask("County B", recommend) } == "INVALID_ARGUMENT")
        #expect(await code { try await ask("county-a", recommend) } == "INVALID_ARGUMENT", "a county does not call itself through the bridge")

        for site in [a, b] { await stopBridge(site) }
        await desk.close()
        await dispatchB.close()
        for site in [a, b] { await site.server.stop() }
    }
}
