import CoreMetrics
import Foundation
import Logging
import Testing
import TemplatePlugin
import XunfangBus
import XunfangBusServer
import XunfangConfig
import XunfangPluginKit
import TemplateContract
import XunfangWire
import XunfangTestSupport

let secret = "test-secret-0123456789"
let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

func county(dataDirectory: String) -> CountyConfig {
    let open = AccessControl.unrestricted
    var config = CountyConfig(county: "Test", dataDirectory: dataDirectory, principals: [
        PrincipalConfig(name: "template", credential: secret,
                        acl: AccessControl(publish: [try! TopicPattern("template.>")], subscribe: [try! TopicPattern("template.>")],
                                           serve: [try! MethodPattern("/xunfang.template.v1.Template/*")])),
        PrincipalConfig(name: "tester", credential: secret, acl: open),
    ])
    config.bus.durableTopics = [try! TopicPattern("incident.>")]
    return config
}

/// A running bus reachable over one transport.
struct Harness {
    enum Mode: String, CaseIterable, CustomTestStringConvertible {
        case inProcess, socket
        var testDescription: String { rawValue }
    }

    let server: BusServer
    let transport: BusTransport
    let directory: String

    static func start(_ mode: Mode, directory: String = temporaryDirectory(), segmentFiles: any SegmentFiles = SystemSegmentFiles(),
                      configure: (inout CountyConfig) -> Void = { _ in }) async throws -> Harness {
        var config = county(dataDirectory: directory)
        configure(&config)
        let server = BusServer(config: config, credentials: ["template": secret, "tester": secret], logger: quiet, segmentFiles: segmentFiles)
        let addresses = try await server.start()
        let transport: BusTransport = switch mode {
        case .socket: .socket(.unixSocket(addresses.socketPath))
        case .inProcess: .inProcess(InProcessBus(broker: server.broker!, eventLoop: server.eventLoop))
        }
        return Harness(server: server, transport: transport, directory: directory)
    }

    func client(_ name: String = "tester", instance: String? = nil, manifest: PluginManifest? = nil) async throws -> BusClient {
        let client = BusClient(transport: transport, manifest: manifest ?? PluginManifest(name: name, version: "1.0.0"),
                               instance: instance, credential: secret, logger: quiet, callTimeout: .seconds(120))
        try await client.start()
        return client
    }

    /// Starts the template plugin in this process over the harness's transport.
    func template() async throws -> (BusClient, Task<Void, any Error>) {
        let plugin = try TemplatePlugin(context: PluginContext(instance: "template", dataDirectory: directory, settings: [:], logger: quiet))
        let client = BusClient(transport: transport, manifest: TemplatePlugin.manifest, credential: secret, logger: quiet)
        plugin.register(on: client)
        try await client.start()
        let task = Task { try await plugin.run(on: client) }
        return (client, task)
    }
}

@Suite("SDK over both transports")
struct TransportTests {
    @Test("a typed call reaches the template plugin and comes back", arguments: Harness.Mode.allCases)
    func echo(mode: Harness.Mode) async throws {
        let harness = try await Harness.start(mode)
        let (template, task) = try await harness.template()
        let tester = try await harness.client()
        var request = Xunfang_Template_V1_EchoRequest()
        request.text = "巡防"
        let reply = try await tester.call(TemplatePlugin.echoMethod, request, as: Xunfang_Template_V1_EchoResponse.self)
        #expect(reply.text == "巡防")
        #expect(reply.servedBy == "template")
        task.cancel()
        await template.close()
        await tester.close()
        await harness.server.stop()
    }

    @Test("many concurrent calls of every size each get their own answer", arguments: Harness.Mode.allCases)
    func concurrentCalls(mode: Harness.Mode) async throws {
        let harness = try await Harness.start(mode)
        let method = "/x.Test/Reverse"
        let server = BusClient(transport: harness.transport, manifest: PluginManifest(name: "tester", version: "1.0.0", serves: [method]),
                               instance: "server", credential: secret, logger: quiet)
        server.serveRaw(method) { payload, _ in Data(payload.reversed()) }
        try await server.start()
        let caller = try await harness.client("tester", instance: "caller")
        // Sizes around the compression threshold and enough at once to fill the socket,
        // so that direct writes are cut short and finished by the loop.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<24 {
                group.addTask {
                    for call in 0..<8 {
                        let size = [0, 1, 700, 60_000, 65_535, 65_536][(task + call) % 6]
                        let payload = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ task &+ call) })
                        let answer = try await caller.callRaw(method, payload: payload)
                        #expect(answer == Data(payload.reversed()), "task \(task) call \(call) size \(size)")
                    }
                }
            }
            try await group.waitForAll()
        }
        await caller.close()
        await server.close()
        await harness.server.stop()
    }

    @Test("a service error comes back with its status code", arguments: Harness.Mode.allCases)
    func serviceError(mode: Harness.Mode) async throws {
        let harness = try await Harness.start(mode)
        let (template, task) = try await harness.template()
        let tester = try await harness.client()
        var request = Xunfang_Template_V1_EchoRequest()
        request.text = String(repeating: "x", count: 5_000)
        await #expect(throws: BusClientError(.invalidArgument, "text longer than 4096 bytes")) {
            _ = try await tester.call(TemplatePlugin.echoMethod, request, as: Xunfang_Template_V1_EchoResponse.self)
        }
        task.cancel()
        await template.close()
        await tester.close()
        await harness.server.stop()
    }

    @Test("calling a service nobody serves fails at once with UNAVAILABLE", arguments: Harness.Mode.allCases)
    func unavailable(mode: Harness.Mode) async throws {
        let harness = try await Harness.start(mode)
        let tester = try await harness.client()
        do {
            // At once: a call left to wait would end in DEADLINE_EXCEEDED after its 30 s, not UNAVAILABLE.
            _ = try await tester.callRaw("/xunfang.dispatch.v1.Dispatch/Recommend", payload: Data(), timeout: .seconds(30))
            Issue.record("expected UNAVAILABLE")
        } catch let error as BusClientError {
            #expect(error.code == .unavailable, "\(error)")
        }
        await tester.close()
        await harness.server.stop()
    }

    @Test("published notes reach the subscriber in order", arguments: Harness.Mode.allCases)
    func pubSub(mode: Harness.Mode) async throws {
        let harness = try await Harness.start(mode)
        let subscriber = try await harness.client("tester", instance: "sub")
        let publisher = try await harness.client("tester", instance: "pub")
        let subscription = try await subscriber.subscribe("template.*")
        for index in 0..<100 {
            var note = Xunfang_Template_V1_Note()
            note.text = "\(index)"
            try await publisher.publish(TemplatePlugin.noteTopic, note)
        }
        var received: [String] = []
        var ids: Set<String> = []
        for await delivery in subscription {
            received.append(try delivery.decode(Xunfang_Template_V1_Note.self).text)
            #expect(delivery.publisher == "pub" && delivery.headers.isEmpty)
            ids.insert(delivery.messageID)
            if received.count == 100 { break }
        }
        #expect(received == (0..<100).map(String.init))
        // Numbered by the bus: distinct, and as short as the ids are meant to be.
        #expect(ids.count == 100 && ids.allSatisfy { (9...15).contains($0.utf8.count) })
        await subscriber.close()
        await publisher.close()
        await harness.server.stop()
    }

    @Test("messages with and without headers interleave in order, headers intact", arguments: Harness.Mode.allCases)
    func headersInOrder(mode: Harness.Mode) async throws {
        let harness = try await Harness.start(mode)
        let subscriber = try await harness.client("tester", instance: "sub")
        let publisher = try await harness.client("tester", instance: "pub")
        let subscription = try await subscriber.subscribe("template.>")
        for index in 0..<60 {
            // Every third one carries headers and so takes the general path on both sides.
            let headers = index % 3 == 0 ? ["trace": "t-\(index)", "班次": "夜"] : [:]
            try await publisher.publish("template.note", payload: Data("\(index)".utf8), headers: headers)
        }
        var received: [(String, [String: String])] = []
        for await delivery in subscription {
            received.append((String(decoding: delivery.payload, as: UTF8.self), delivery.headers))
            if received.count == 60 { break }
        }
        #expect(received.map(\.0) == (0..<60).map(String.init))
        for (index, entry) in received.enumerated() {
            #expect(entry.1 == (index % 3 == 0 ? ["trace": "t-\(index)", "班次": "夜"] : [:]))
        }
        await subscriber.close()
        await publisher.close()
        await harness.server.stop()
    }

    @Test("plain publishes to a durable topic reach durable consumers; refused ones reach nobody", arguments: Harness.Mode.allCases)
    func plainPublishPaths(mode: Harness.Mode) async throws {
        let harness = try await Harness.start(mode)
        let consumer = try await harness.client("tester", instance: "consumer")
        let watcher = try await harness.client("tester", instance: "watcher")
        let publisher = try await harness.client("tester", instance: "pub")
        // Connects as the template principal, whose ACL allows only template.>.
        let restricted = try await harness.client("template", instance: "restricted")
        let durable = try await consumer.subscribe("incident.>", durable: "plain-paths")
        let everything = try await watcher.subscribe(">")
        try await publisher.publish("incident.created", payload: Data("kept".utf8), messageID: "kept-1")
        try await restricted.publish("incident.created", payload: Data("refused".utf8))
        try await restricted.publish("template.note", payload: Data("allowed".utf8))
        // The durable one reaches plain subscribers once on disk, so after the others may.
        // Had the refused one got through, it would come before "allowed", from the same connection.
        var seen: [String] = []
        for await delivery in everything {
            seen.append("\(delivery.publisher):\(delivery.topic):\(String(decoding: delivery.payload, as: UTF8.self))")
            if seen.count == 2 || seen.contains("restricted:incident.created:refused") { break }
        }
        #expect(Set(seen) == ["pub:incident.created:kept", "restricted:template.note:allowed"])
        var iterator = durable.makeAsyncIterator()
        let kept = try #require(await iterator.next())
        #expect(kept.messageID == "kept-1" && kept.sequence > 0)
        kept.ack()
        for client in [consumer, watcher, publisher, restricted] { await client.close() }
        await harness.server.stop()
    }

    @Test("a wrong credential is refused with UNAUTHENTICATED", arguments: Harness.Mode.allCases)
    func wrongCredential(mode: Harness.Mode) async throws {
        let harness = try await Harness.start(mode)
        let client = BusClient(transport: harness.transport, manifest: PluginManifest(name: "tester", version: "1.0.0"),
                               credential: "wrong-wrong-wrong-wrong", logger: quiet)
        await #expect(throws: BusClientError.self) { try await client.start() }
        do { try await client.start() } catch let error as BusClientError { #expect(error.code == .unauthenticated) }
        await harness.server.stop()
    }

    @Test("durable messages published while the consumer is gone all arrive when it returns", arguments: Harness.Mode.allCases)
    func durableAcrossConsumerRestart(mode: Harness.Mode) async throws {
        let harness = try await Harness.start(mode)
        let publisher = try await harness.client("tester", instance: "pub")
        var consumer = try await harness.client("tester", instance: "consumer")
        var seen = Set<String>()
        var subscription = try await consumer.subscribe("incident.>", durable: "analysis")
        for index in 0..<20 { try await publisher.publishConfirmed("incident.created", payload: Data("\(index)".utf8), messageID: "m\(index)") }
        var iterator = subscription.makeAsyncIterator()
        for _ in 0..<5 {
            let delivery = await iterator.next()!
            seen.insert(delivery.messageID)
            delivery.ack()
        }
        await consumer.close()  // "killed" after 5 acks
        for index in 20..<30 { try await publisher.publishConfirmed("incident.created", payload: Data("\(index)".utf8), messageID: "m\(index)") }
        consumer = try await harness.client("tester", instance: "consumer")
        subscription = try await consumer.subscribe("incident.>", durable: "analysis")
        for await delivery in subscription {
            seen.insert(delivery.messageID)
            delivery.ack()
            if seen.count == 30 { break }
        }
        #expect(seen == Set((0..<30).map { "m\($0)" }))
        await consumer.close()
        await publisher.close()
        await harness.server.stop()
    }
}

@Suite("Durable log on disk")
struct DurableLogTests {
    @Test("a bus restarted on the same data directory redelivers every acknowledged, unacked message")
    func busRestart() async throws {
        let directory = temporaryDirectory()
        do {
            let harness = try await Harness.start(.socket, directory: directory)
            let publisher = try await harness.client("tester", instance: "pub")
            let consumer = try await harness.client("tester", instance: "consumer")
            let subscription = try await consumer.subscribe("incident.>", durable: "analysis")
            for index in 0..<50 { try await publisher.publishConfirmed("incident.created", payload: Data("\(index)".utf8), messageID: "m\(index)") }
            var iterator = subscription.makeAsyncIterator()
            for _ in 0..<10 { await iterator.next()!.ack() }
            // Acks are fire-and-forget; make sure they reached the bus before it stops.
            _ = try await consumer.callRaw("/xunfang.bus.v1.Bus/Stats", payload: Data())
            await publisher.close()
            await consumer.close()
            await harness.server.stop()
        }
        let harness = try await Harness.start(.socket, directory: directory)
        let consumer = try await harness.client("tester", instance: "consumer")
        var ids: [String] = []
        for await delivery in try await consumer.subscribe("incident.>", durable: "analysis") {
            ids.append(delivery.messageID)
            delivery.ack()
            if ids.count == 40 { break }
        }
        #expect(ids == (10..<50).map { "m\($0)" })
        await consumer.close()
        await harness.server.stop()
    }

    @Test("a torn record at the end of the log is cut off and the rest recovered")
    func tornTail() async throws {
        let directory = temporaryDirectory()
        do {
            let harness = try await Harness.start(.socket, directory: directory)
            let publisher = try await harness.client("tester", instance: "pub")
            for index in 0..<5 { try await publisher.publishConfirmed("incident.created", payload: Data("\(index)".utf8)) }
            await publisher.close()
            await harness.server.stop()
        }
        let segment = "\(directory)/bus-log/00000000000000000001.log"
        let handle = try #require(FileHandle(forWritingAtPath: segment))
        handle.seekToEndOfFile()
        handle.write(Data([0, 0, 0, 200, 1, 2, 3]))  // a record header promising more than was written
        handle.closeFile()
        let harness = try await Harness.start(.socket, directory: directory)
        let consumer = try await harness.client("tester", instance: "consumer")
        var count = 0
        for await delivery in try await consumer.subscribe("incident.>", durable: "late") {
            count += 1
            delivery.ack()
            if count == 5 { break }
        }
        #expect(count == 5)
        await consumer.close()
        await harness.server.stop()
    }
}

@Suite("Durable log segments and memory")
struct DurableSegmentTests {
    func segments(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "\(directory)/bus-log").filter { $0.hasSuffix(".log") }.sorted()
    }

    @Test("segments whose messages every consumer acknowledged are deleted; the consumer survives a restart")
    func deletesAckedSegments() async throws {
        let directory = temporaryDirectory()
        do {
            let harness = try await Harness.start(.socket, directory: directory) { $0.bus.segmentBytes = 4_096 }
            let consumer = try await harness.client("tester", instance: "consumer")
            let subscription = try await consumer.subscribe("incident.>", durable: "analysis", maxInFlight: 1_024)
            let publisher = try await harness.client("tester", instance: "pub")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<32 {
                    group.addTask {
                        for index in 0..<130 {
                            try await publisher.publishConfirmed("incident.created", payload: Data("\(worker)-\(index)".utf8))
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try segments(directory).count > 20)
            var count = 0
            for await delivery in subscription {
                delivery.ack()
                count += 1
                if count == 32 * 130 { break }
            }
            // The bus lets acknowledged messages go within a second of the last ack (its own
            // timer, in another thread), so this waits for the files to go, with a deadline.
            var remaining = try segments(directory)
            let deadline = ContinuousClock.now + .seconds(10)
            while remaining.count > 1 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                remaining = try segments(directory)
            }
            #expect(remaining.count == 1, "only the current segment is left: \(remaining)")
            await consumer.close()
            await publisher.close()
            await harness.server.stop()
        }
        let harness = try await Harness.start(.socket, directory: directory) { $0.bus.segmentBytes = 4_096 }
        let consumer = try await harness.client("tester", instance: "consumer")
        let publisher = try await harness.client("tester", instance: "pub")
        let subscription = try await consumer.subscribe("incident.>", durable: "analysis")
        var iterator = subscription.makeAsyncIterator()
        var unacked = 0
        // Everything before was acknowledged: the first delivery is the new message.
        try await publisher.publishConfirmed("incident.created", payload: Data("after".utf8), messageID: "after")
        while let delivery = await iterator.next() {
            delivery.ack()
            if delivery.messageID == "after" { break }
            unacked += 1
        }
        #expect(unacked == 0)
        await consumer.close()
        await publisher.close()
        await harness.server.stop()
    }

    @Test("a consumer away while thousands arrive gets them all from disk; memory holds only the cached few")
    func readsBackFromDisk() async throws {
        let harness = try await Harness.start(.socket) { $0.bus.durableCacheMessages = 16 }
        var consumer = try await harness.client("tester", instance: "consumer")
        _ = try await consumer.subscribe("incident.>", durable: "late")
        await consumer.close()
        let publisher = try await harness.client("tester", instance: "pub")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<16 {
                group.addTask {
                    for index in 0..<100 {
                        try await publisher.publishConfirmed("incident.created", payload: Data("\(worker)-\(index)".utf8), messageID: "\(worker)-\(index)")
                    }
                }
            }
            try await group.waitForAll()
        }
        let cached = try await harness.server.withBroker { $0.cachedDurablePayloads }
        #expect(cached == 16)
        consumer = try await harness.client("tester", instance: "consumer")
        var seen = Set<String>()
        for await delivery in try await consumer.subscribe("incident.>", durable: "late") {
            #expect(String(decoding: delivery.payload, as: UTF8.self) == delivery.messageID)
            seen.insert(delivery.messageID)
            delivery.ack()
            if seen.count == 1_600 { break }
        }
        #expect(seen.count == 1_600)
        await consumer.close()
        await publisher.close()
        await harness.server.stop()
    }
}

@Suite("Metrics endpoint")
struct MetricsEndpointTests {
    @Test("GET /metrics on the bus serves Prometheus text with per-plugin counters")
    func scrape() async throws {
        var config = county(dataDirectory: temporaryDirectory())
        config.bus.metricsListen = "127.0.0.1:0"
        let server = BusServer(config: config, credentials: ["template": secret, "tester": secret], logger: quiet)
        let addresses = try await server.start()
        let port = try #require(addresses.metricsPort)
        let client = BusClient(transport: .socket(.unixSocket(addresses.socketPath)), manifest: PluginManifest(name: "tester", version: "1.0.0"),
                               credential: secret, logger: quiet)
        try await client.start()
        _ = try? await client.callRaw("/xunfang.nobody.v1.X/Y", payload: Data())
        let text = try httpGet(port: port, path: "/metrics")
        #expect(text.hasPrefix("HTTP/1.1 200"))
        #expect(text.contains("text/plain; version=0.0.4"))
        #expect(text.contains("xunfang_bus_unavailable_total 1"))
        #expect(text.contains(#"xunfang_plugin_frames_in_total{plugin="tester",instance="tester"}"#))
        #expect(try httpGet(port: port, path: "/other").hasPrefix("HTTP/1.1 404"))
        await client.close()
        await server.stop()
    }

    @Test("what the bus process records through swift-metrics is served beside the broker's counters")
    func swiftMetrics() async throws {
        var config = county(dataDirectory: temporaryDirectory())
        config.bus.metricsListen = "127.0.0.1:0"
        let server = BusServer(config: config, credentials: ["tester": secret], logger: quiet)
        let addresses = try await server.start()
        let port = try #require(addresses.metricsPort)
        Counter(label: "xunfang_supervisor_restarts_total", dimensions: [("plugin", "grid-model")], factory: server.metricsFactory)
            .increment(by: 2)
        let text = try httpGet(port: port, path: "/metrics")
        #expect(text.contains(#"xunfang_supervisor_restarts_total{plugin="grid-model"} 2"#))
        #expect(text.contains("# TYPE xunfang_durable_sync_seconds histogram"))
        #expect(text.contains("xunfang_bus_connections_total"))
        await server.stop()
    }

    /// A minimal HTTP/1.1 GET over a blocking socket.
    func httpGet(port: Int, path: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0)
        let request = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            response += chunk[0..<n]
        }
        return String(decoding: response, as: UTF8.self)
    }
}

@Suite("TLS over TCP")
struct TLSTests {
    @Test("the TCP listener speaks TLS when configured; a client trusting the certificate joins, a plain one cannot")
    func tls() async throws {
        let directory = temporaryDirectory()
        let (certificate, key) = try TestCertificate.make(in: directory, name: "bus")
        var config = county(dataDirectory: directory)
        config.bus.tcpListen = "127.0.0.1:0"
        config.bus.tlsCertificate = certificate
        config.bus.tlsPrivateKey = key
        let server = BusServer(config: config, credentials: ["template": secret, "tester": secret], logger: quiet)
        let port = try #require(try await server.start().tcpPort)

        let trusted = BusClient(transport: .socket(.tls(host: "localhost", port: port, trustRoots: certificate)),
                                manifest: PluginManifest(name: "tester", version: "1.0.0"), credential: secret, logger: quiet)
        try await trusted.start()
        let stats = try await trusted.callRaw("/xunfang.bus.v1.Bus/Stats", payload: Data())
        #expect(String(decoding: stats, as: UTF8.self).contains("\"instance\":\"tester\""))
        await trusted.close()

        let plain = BusClient(transport: .socket(.tcp(host: "127.0.0.1", port: port)),
                              manifest: PluginManifest(name: "tester", version: "1.0.0"), instance: "plain", credential: secret, logger: quiet)
        await #expect(throws: BusClientError.self) { try await plain.start() }
        await plain.close()

        let untrusting = BusClient(transport: .socket(.tls(host: "localhost", port: port, trustRoots: nil)),
                                   manifest: PluginManifest(name: "tester", version: "1.0.0"), instance: "untrusting", credential: secret, logger: quiet)
        await #expect(throws: (any Error).self) { try await untrusting.start() }
        await untrusting.close()
        await server.stop()
    }

    @Test("a missing certificate file stops the bus from starting, with the reason")
    func missingCertificate() async throws {
        var config = county(dataDirectory: temporaryDirectory())
        config.bus.tcpListen = "127.0.0.1:0"
        config.bus.tlsCertificate = "/nonexistent/bus.crt"
        config.bus.tlsPrivateKey = "/nonexistent/bus.key"
        let server = BusServer(config: config, credentials: [:], logger: quiet)
        do {
            _ = try await server.start()
            Issue.record("started without its certificate")
        } catch let error as BusError {
            #expect(error.code == .failedPrecondition)
            #expect(error.message.contains("tls"))
        }
    }
}
