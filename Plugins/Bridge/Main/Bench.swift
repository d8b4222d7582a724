import DispatchContract
import Foundation
import Logging
import Synchronization
import XunfangNATS
import XunfangPluginKit

/// `xunfang bench bridge` (run by this plugin's executable): a 3-node nats-server cluster
/// with JetStream on loopback and two county stacks (`xunfang up`: the bus and the bridge as
/// processes), county A exporting `incident.>`, county B importing it. It times a message
/// from A's bus to a subscriber on B's bus, at a steady rate and in a burst, beside plain
/// NATS publish → subscribe and JetStream's acknowledged publish on the same cluster. Not a test.
enum BridgeBenchmark {
    struct Options {
        var rate = 200
        var seconds = 10
        var burst = 5_000
        var payload = 300
        var replicas = 3
        var json = false
    }

    static let secret = "bench-bridge-secret-0123456789abc"
    static let quiet = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })

    static func run(_ arguments: [String]) async -> Int32 {
        var options = Options()
        var index = 0
        while index < arguments.count {
            let name = arguments[index], value = index + 1 < arguments.count ? Int(arguments[index + 1]) : nil
            switch name {
            case "--rate": guard let value, (1...20_000).contains(value) else { return fail("--rate 1 to 20000 a second") }; options.rate = value; index += 1
            case "--seconds": guard let value, (2...600).contains(value) else { return fail("--seconds 2 to 600") }; options.seconds = value; index += 1
            case "--burst": guard let value, (1...1_000_000).contains(value) else { return fail("--burst 1 to 1000000") }; options.burst = value; index += 1
            case "--payload": guard let value, (16...65_536).contains(value) else { return fail("--payload 16 to 65536 bytes") }; options.payload = value; index += 1
            case "--replicas": guard let value, [1, 3].contains(value) else { return fail("--replicas 1 or 3") }; options.replicas = value; index += 1
            case "--json": options.json = true
            default: return fail("unknown option \(name) (--rate N --seconds N --burst N --payload BYTES --replicas 1|3 --json)")
            }
            index += 1
        }
        do {
            try await measure(options)
            return 0
        } catch {
            return fail("\(error)")
        }
    }

    static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang bench bridge: \(message)\n".utf8))
        return 2
    }

    static func measure(_ options: Options) async throws {
        let directory = NSTemporaryDirectory() + "xunfang-bench-bridge-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let nats = try LocalNATSCluster(in: directory, nodes: 3)
        try nats.start()
        defer { nats.stop() }
        var results: [(String, String, Double)] = []
        results += try await plainNATS(nats, options: options)
        results += try await jetStreamPublish(nats, options: options)
        results += try await bridged(nats, directory: directory, options: options)
        BenchReport.print(bench: "bridge", title: "xunfang bench bridge (3 nats-server nodes on loopback, stream replicas \(options.replicas); county A's bus → bridge → JetStream → bridge → county B's bus; \(options.payload)-byte messages)",
                          parameters: ["rate": Double(options.rate), "seconds": Double(options.seconds), "burst": Double(options.burst),
                                       "payload": Double(options.payload), "replicas": Double(options.replicas)],
                          results: results, jsonOnly: options.json)
    }

    // MARK: The baselines

    static func connect(_ address: NATSServerAddress, name: String) async throws -> NATSConnection {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                return try await NATSConnection.connect(NATSOptions(servers: [address], name: name), logger: quiet)
            } catch {
                guard ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// Publisher on node 1, subscriber on node 2: the same hop between servers a county
    /// pair makes.
    static func plainNATS(_ nats: LocalNATSCluster, options: Options) async throws -> [(String, String, Double)] {
        let publisher = try await connect(nats.addresses[0], name: "bench-publisher")
        let subscriber = try await connect(nats.addresses[1], name: "bench-subscriber")
        defer { Task { await publisher.close(); await subscriber.close() } }
        let subscription = try subscriber.subscribe("bench.plain")
        try await subscriber.flush()
        try await Task.sleep(for: .milliseconds(300))   // the interest reaches node 1
        let latency = Task { await readDelays(subscription.messages.map(\.payload), count: options.rate * options.seconds) }
        try await steady(options) { try publisher.publish("bench.plain", payload: $0) }
        let delays = await latency.value

        let burstSubscription = try subscriber.subscribe("bench.burst")
        try await subscriber.flush()
        try await Task.sleep(for: .milliseconds(300))
        let counted = Task { await readDelays(burstSubscription.messages.map(\.payload), count: options.burst) }
        let started = ContinuousClock.now
        for _ in 0..<options.burst { try publisher.publish("bench.burst", payload: stamped(options.payload)) }
        let received = await counted.value
        let elapsed = (ContinuousClock.now - started).seconds
        return [("plain NATS publish→subscribe p50", "ms", BenchReport.percentile(delays, 0.5)),
                ("plain NATS publish→subscribe p99", "ms", BenchReport.percentile(delays, 0.99)),
                ("plain NATS burst", "msg/s", Double(received.count) / elapsed)]
    }

    /// What the bridge pays on its way out: one acknowledged, replicated store.
    static func jetStreamPublish(_ nats: LocalNATSCluster, options: Options) async throws -> [(String, String, Double)] {
        let connection = try await connect(nats.addresses[0], name: "bench-jetstream")
        defer { Task { await connection.close() } }
        let jetStream = JetStream(connection, timeout: .seconds(10))
        try await jetStream.waitUntilReady()
        try await jetStream.ensureStream(.init(name: "BENCH", subjects: ["bench.js.>"], replicas: options.replicas))
        var delays: [Double] = []
        let count = min(options.burst, options.rate * options.seconds)
        let started = ContinuousClock.now
        for index in 0..<count {
            let sent = ContinuousClock.now
            _ = try await jetStream.publish("bench.js.a", payload: stamped(options.payload), messageID: "js-\(index)")
            delays.append((ContinuousClock.now - sent).seconds * 1_000)
        }
        let elapsed = (ContinuousClock.now - started).seconds
        try await jetStream.deleteStream("BENCH")
        return [("JetStream acknowledged publish p50", "ms", BenchReport.percentile(delays, 0.5)),
                ("JetStream acknowledged publish p99", "ms", BenchReport.percentile(delays, 0.99)),
                ("JetStream publish one at a time", "msg/s", Double(count) / elapsed)]
    }

    // MARK: Through the bridge

    static func county(_ name: String, nats: LocalNATSCluster, first: Int, replicas: Int, env: String) -> String {
        // Each county lists the servers from a different one, as counties near different nodes would.
        let servers = (nats.addresses[first...] + nats.addresses[..<first]).map(\.description).joined(separator: ",")
        return """
        county: \(name)
        data_dir: data
        bus:
          socket: bus.sock
          durable_topics: ["incident.>"]
        plugins:
          - name: bridge
            env: { BRIDGE_COUNTY: \(name), BRIDGE_NATS: "\(servers)", BRIDGE_REPLICAS: "\(replicas)", \(env) }
            acl: { subscribe: ["incident.>"], publish: ["incident.>"], serve: ["/xunfang.bridge.v1.Bridge/*"] }
        clients:
          - name: bench
            credential: \(secret)
            acl: { publish: ["incident.>"], subscribe: ["incident.>"], call: ["*"] }
        """
    }

    static func bridged(_ nats: LocalNATSCluster, directory: String, options: Options) async throws -> [(String, String, Double)] {
        var stacks: [Process] = []
        defer { for stack in stacks { stack.terminate(); stack.waitUntilExit() } }
        var clients: [BusClient] = []
        for (index, (name, env)) in [("a", "BRIDGE_EXPORT: \"incident.>\""), ("b", "BRIDGE_EXPORT: none, BRIDGE_IMPORT: \"a:incident.>\"")].enumerated() {
            let countyDirectory = "\(directory)/county-\(name)"
            try FileManager.default.createDirectory(atPath: countyDirectory, withIntermediateDirectories: true)
            try county(name, nats: nats, first: index, replicas: options.replicas, env: env)
                .write(toFile: "\(countyDirectory)/county.yaml", atomically: true, encoding: .utf8)
            stacks.append(try ToolConnection.startStack(in: countyDirectory))
            let client = BusClient(transport: .socket(.unixSocket("\(countyDirectory)/data/bus.sock")),
                                   manifest: PluginManifest(name: "bench", version: "0.1.0"), credential: secret, logger: quiet)
            try await PluginMain.connectWithRetry(client, logger: quiet)
            clients.append(client)
        }
        let (a, b) = (clients[0], clients[1])
        defer { Task { await a.close(); await b.close() } }
        let arrivals = try await b.subscribe("incident.>", durable: "bench")
        let (payloads, continuation) = AsyncStream.makeStream(of: Data.self)
        let reader = Task {
            for await delivery in arrivals {
                delivery.ack()
                continuation.yield(delivery.payload)
            }
        }
        defer { reader.cancel() }
        var iterator = payloads.makeAsyncIterator()
        // Warm up: both bridges linked and the import consumer made.
        try await a.publishConfirmed("incident.warm", payload: stamped(options.payload))
        _ = await iterator.next()

        let latency = Task { [payloads] in await readDelays(payloads, count: options.rate * options.seconds) }
        try await steady(options) { try await a.publish("incident.created", payload: $0) }
        let delays = await latency.value

        let burst = Task { [payloads] in await readDelays(payloads, count: options.burst) }
        let started = ContinuousClock.now
        for _ in 0..<options.burst { try await a.publish("incident.created", payload: stamped(options.payload)) }
        let received = await burst.value
        let elapsed = (ContinuousClock.now - started).seconds
        return [("bridged bus A→bus B p50", "ms", BenchReport.percentile(delays, 0.5)),
                ("bridged bus A→bus B p99", "ms", BenchReport.percentile(delays, 0.99)),
                ("bridged share arrived", "share", Double(delays.count) / Double(options.rate * options.seconds)),
                ("bridged burst", "msg/s", Double(received.count) / elapsed)]
    }

    // MARK: Timing

    /// An incident of about `size` bytes whose id is the monotonic send time in nanoseconds
    /// (the bridge sends only incidents it can strip of personal data, so the baselines
    /// carry the same bytes).
    static func stamped(_ size: Int) -> Data {
        var incident = Xunfang_Dispatch_V1_Incident()
        incident.id = String(monotonicNanoseconds())
        incident.typeCode = "theft"
        incident.typeName = "盗窃"
        incident.stationID = "510182-01"
        incident.gridID = "510182-01-007"
        incident.location.longitude = 103.95
        incident.location.latitude = 30.99
        let bare = (try? incident.serializedData().count) ?? 0
        incident.note = String(repeating: "x", count: max(0, size - bare - 3))
        return (try? incident.serializedData()) ?? Data()
    }

    static func sentAt(_ payload: Data) -> UInt64 {
        UInt64((try? Xunfang_Dispatch_V1_Incident(serializedBytes: payload))?.id ?? "") ?? 0
    }

    static func monotonicNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Milliseconds from each payload's stamp to its arrival, for `count` payloads (fewer
    /// if the stream ends or 30 s pass without one).
    static func readDelays(_ payloads: some AsyncSequence<Data, Never> & Sendable, count: Int) async -> [Double] {
        let delays = Mutex<[Double]>([])
        let reading = Task {
            for await payload in payloads {
                let sent = sentAt(payload)
                let delay = Double(monotonicNanoseconds() &- sent) / 1e6
                if delays.withLock({ $0.append(delay); return $0.count }) >= count { return }
            }
        }
        var last = 0, progressed = ContinuousClock.now
        while true {
            try? await Task.sleep(for: .milliseconds(50))
            let now = delays.withLock { $0.count }
            if now >= count { break }
            if now != last {
                (last, progressed) = (now, ContinuousClock.now)
            } else if ContinuousClock.now - progressed > .seconds(30) {
                break
            }
        }
        reading.cancel()
        return delays.withLock { $0 }
    }

    /// `rate` messages a second for `seconds`, evenly spaced.
    static func steady(_ options: Options, _ send: (Data) async throws -> Void) async throws {
        let interval = Duration.seconds(1) / options.rate
        var next = ContinuousClock.now
        for _ in 0..<(options.rate * options.seconds) {
            try await send(stamped(options.payload))
            next += interval
            try await Task.sleep(until: next)
        }
    }
}
