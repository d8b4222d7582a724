import ArgumentParser
import Foundation
import Logging
import XunfangConfig
import XunfangPluginKit

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks (not tests): print a table and JSON.", subcommands: [BusBench.self, GeoBench.self, PlacementBench.self, DispatchBench.self, SituationBench.self, CheckpointBench.self, CommunityBench.self, PatrolBench.self, ConsoleBench.self, BridgeBench.self, HarnessBench.self])
}

/// `xunfang bench bus`: the bus in its own process (`xunfang bus`), a serving plugin and
/// the clients in this one, all over the Unix socket; plus pub/sub over the in-process
/// transport. Every message and call crosses the broker.
struct BusBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bus", abstract: "Bus latency and throughput.")
    @Option(help: "Sequential calls for the latency figures.") var calls: Int = 20_000
    @Option(help: "Messages per pub/sub run.") var messages: Int = 200_000
    @Option(help: "Durable messages (each fdatasync'ed before its receipt).") var durableMessages: Int = 20_000
    @Option(help: "Payload bytes.") var payloadBytes: Int = 128
    @Flag(help: "Print only the JSON line.") var json = false
    @Option(help: "How clients reach the bus: unix (its socket), tcp (loopback) or tls (loopback, TLS 1.2+).")
    var transport: String = "unix"
    @Option(help: "Run only these parts (rpc, rpc-sequential, rpc-16, pubsub, pubsub-1-1, pubsub-1-8, durable, in-process), comma-separated; for profiling.")
    var only: String?

    func wants(_ part: String) -> Bool { only.map { $0.split(separator: ",").contains(Substring(part)) } ?? true }

    static let secret = "bench-secret-0123456789abcdef"
    static let echo = "/xunfang.bench.v1.Bench/Echo"
    var quiet: Logger { Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }) }

    func run() async throws {
        let directory = NSTemporaryDirectory() + "xunfang-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (endpoint, busSection) = try prepareTransport(in: directory)
        try Self.countyYAML.replacingOccurrences(of: "bus:\n", with: "bus:\n" + busSection)
            .write(toFile: "\(directory)/county.yaml", atomically: true, encoding: .utf8)
        let bus = Process()
        bus.executableURL = URL(fileURLWithPath: "\(executableDirectory())/xunfang")
        bus.arguments = ["bus", "--config", "\(directory)/county.yaml"]
        bus.standardError = FileHandle.nullDevice
        try bus.run()
        defer {
            bus.terminate()
            bus.waitUntilExit()
        }
        let payload = Data(repeating: 0x5A, count: payloadBytes)
        var results: [(String, String, Double)] = []

        let server = try await connect(.socket(endpoint), "bench-server") { client in
            client.serveRaw(Self.echo, placement: .arrivingThread) { data, _ in data }
        }
        let caller = try await connect(.socket(endpoint), "bench-client")

        if wants("rpc") || wants("rpc-sequential") {
            // Request/response, sequential.
            for _ in 0..<1_000 { _ = try await caller.callRaw(Self.echo, payload: payload) }
            var latencies: [Double] = []
            latencies.reserveCapacity(calls)
            let sequentialStart = ContinuousClock.now
            for _ in 0..<calls {
                let start = ContinuousClock.now
                _ = try await caller.callRaw(Self.echo, payload: payload)
                latencies.append(Self.microseconds(ContinuousClock.now - start))
            }
            let sequentialSeconds = Self.seconds(ContinuousClock.now - sequentialStart)
            latencies.sort()
            results.append(("rpc.sequential.p50", "µs", latencies[latencies.count / 2]))
            results.append(("rpc.sequential.p99", "µs", latencies[latencies.count * 99 / 100]))
            results.append(("rpc.sequential", "calls/s", Double(calls) / sequentialSeconds))
        }
        if wants("rpc") || wants("rpc-16") {
            // Request/response, 16 in flight.
            let parallelCalls = calls * 2
            let parallelStart = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<16 {
                    group.addTask { for _ in 0..<(parallelCalls / 16) { _ = try await caller.callRaw(Self.echo, payload: payload) } }
                }
                try await group.waitForAll()
            }
            results.append(("rpc.16-in-flight", "calls/s", Double(parallelCalls) / Self.seconds(ContinuousClock.now - parallelStart)))
        }

        // Pub/sub over the socket.
        if wants("pubsub") || wants("pubsub-1-1") {
            results.append(("pubsub.socket.1-1", "msg/s", try await pubSub(.socket(endpoint), subscribers: 1, payload: payload)))
        }
        if wants("pubsub") || wants("pubsub-1-8") {
            results.append(("pubsub.socket.1-8", "deliveries/s", try await pubSub(.socket(endpoint), subscribers: 8, payload: payload)))
        }

        // Durable: 64 (then 256) publishers in flight, each message on disk before its
        // receipt; the bus lets every receipt waiting at a sync share it.
        if wants("durable") {
            for inFlight in [64, 256] {
                let durableStart = ContinuousClock.now
                let each = durableMessages / inFlight
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<inFlight {
                        group.addTask {
                            for _ in 0..<each { try await caller.publishConfirmed("bench.durable.x", payload: payload) }
                        }
                    }
                    try await group.waitForAll()
                }
                results.append(("durable.\(inFlight)-in-flight", "msg/s", Double(each * inFlight) / Self.seconds(ContinuousClock.now - durableStart)))
            }
        }
        await caller.close()
        await server.close()

        // The same pub/sub over the in-process transport.
        if wants("in-process") {
            let config = try ConfigLoader.parse(yaml: Self.countyYAML)
            let inProcess = InProcessBus(config: config, credentials: ["bench-server": Self.secret, "bench-client": Self.secret], logger: quiet)
            results.append(("pubsub.in-process.1-1", "msg/s", try await pubSub(.inProcess(inProcess), subscribers: 1, payload: payload)))
            await inProcess.shutdown()
        }

        report(results)
    }

    /// One publisher, `subscribers` subscriber connections; returns deliveries per second,
    /// timed from the first publish until every subscriber has every message.
    func pubSub(_ transport: BusTransport, subscribers: Int, payload: Data) async throws -> Double {
        var clients: [BusClient] = []
        var streams: [Subscription] = []
        for index in 0..<subscribers {
            let client = try await connect(transport, "bench-client", instance: "sub-\(index)")
            clients.append(client)
            streams.append(try await client.subscribe("bench.pubsub", bufferLimit: messages))
        }
        let publisher = try await connect(transport, "bench-client", instance: "pub")
        let count = messages
        let start = ContinuousClock.now
        let received = try await withThrowingTaskGroup(of: Int.self) { group in
            for stream in streams {
                group.addTask {
                    var seen = 0
                    for await _ in stream {
                        seen += 1
                        if seen == count { break }
                    }
                    return seen
                }
            }
            group.addTask {
                for _ in 0..<count { try await publisher.publish("bench.pubsub", payload: payload) }
                return 0
            }
            var total = 0
            for try await seen in group { total += seen }
            return total
        }
        let elapsed = Self.seconds(ContinuousClock.now - start)
        await publisher.close()
        for client in clients { await client.close() }
        return Double(received) / elapsed
    }

    func connect(_ transport: BusTransport, _ name: String, instance: String? = nil,
                 register: (BusClient) -> Void = { _ in }) async throws -> BusClient {
        let manifest = PluginManifest(name: name, version: "0.1.0", serves: name == "bench-server" ? [Self.echo] : [])
        let client = BusClient(transport: transport, manifest: manifest, instance: instance, credential: Self.secret, logger: quiet)
        register(client)
        for attempt in 0..<200 {
            do {
                try await client.start()
                return client
            } catch let error as BusClientError where error.code == .unavailable && attempt < 199 {
                try await Task.sleep(for: .milliseconds(25))
            }
        }
        throw BusClientError(.unavailable, "bus did not come up")
    }

    /// Where clients connect, and the `bus:` keys that make the bus listen there. TLS uses
    /// a throwaway self-signed certificate for localhost (openssl), trusted by the clients.
    func prepareTransport(in directory: String) throws -> (BusEndpoint, String) {
        let port = Int.random(in: 20_000..<40_000)
        switch transport {
        case "unix":
            return (.unixSocket("\(directory)/data/bus.sock"), "")
        case "tcp":
            return (.tcp(host: "127.0.0.1", port: port), "  tcp: \"127.0.0.1:\(port)\"\n")
        case "tls":
            let openssl = Process()
            openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            openssl.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                 "-keyout", "\(directory)/key.pem", "-out", "\(directory)/cert.pem", "-days", "1",
                                 "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"]
            openssl.standardError = FileHandle.nullDevice
            try openssl.run()
            openssl.waitUntilExit()
            guard openssl.terminationStatus == 0 else { throw ValidationError("openssl could not make a test certificate") }
            return (.tls(host: "localhost", port: port, trustRoots: "\(directory)/cert.pem"), """
                  tcp: "127.0.0.1:\(port)"
                  tls_certificate: \(directory)/cert.pem
                  tls_private_key: \(directory)/key.pem

                """)
        default:
            throw ValidationError("--transport is unix, tcp or tls")
        }
    }

    func report(_ results: [(String, String, Double)]) {
        let over = ["unix": "Unix socket", "tcp": "TCP loopback", "tls": "TLS over TCP loopback"][transport] ?? transport
        BenchReport.print(bench: "bus", title: "xunfang bench bus (payload \(payloadBytes) B, \(over), bus in its own process)",
                         parameters: ["payload_bytes": Double(payloadBytes)], results: results, jsonOnly: json)
    }

    static func seconds(_ duration: Duration) -> Double { duration.seconds }
    static func microseconds(_ duration: Duration) -> Double { duration.seconds * 1e6 }

    static let countyYAML = """
    county: Bench
    data_dir: data
    bus:
      durable_topics: ["bench.durable.>"]
      subscriber_queue_limit: 1000000
      session_buffer_bytes: 4294967296
      total_buffer_bytes: 8589934592
    plugins:
      - name: bench-server
        enabled: true
        credential: \(secret)
        acl: { serve: ["/xunfang.bench.v1.Bench/*"], subscribe: [">"], publish: [">"] }
    clients:
      - name: bench-client
        credential: \(secret)
        acl: { publish: [">"], subscribe: [">"], call: ["*"] }
    """
}

