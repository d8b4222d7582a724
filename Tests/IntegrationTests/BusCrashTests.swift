import Foundation
import Logging
import Testing
import XunfangPluginKit

@Suite("Out of process: kill -9 of the bus", .serialized)
struct BusCrashTests {
    static let secret = "crash-secret-0123456789abcdef"
    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func startBus(in directory: String) throws -> Process {
        try startXunfang(["bus", "--config", "county.yaml"], in: directory)
    }

    func connect(_ directory: String, instance: String) async throws -> BusClient {
        let client = BusClient(transport: .socket(.unixSocket("\(directory)/data/bus.sock")),
                               manifest: PluginManifest(name: "tester", version: "1.0.0"), instance: instance,
                               credential: Self.secret, logger: quiet)
        for _ in 0..<400 {
            do {
                try await client.start()
                return client
            } catch let error as BusClientError where error.code == .unavailable {
                try await Task.sleep(for: .milliseconds(25))
            }
        }
        throw BusClientError(.unavailable, "bus did not come up")
    }

    @Test("every message the bus acknowledged before kill -9 is delivered after it restarts")
    func killNine() async throws {
        let directory = NSTemporaryDirectory() + "xf-crash-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
        county: Crash
        data_dir: data
        bus:
          durable_topics: ["incident.>"]
        clients:
          - name: tester
            credential: \(Self.secret)
            acl: { publish: ["incident.>"], subscribe: ["incident.>"], call: ["*"] }
        """.write(toFile: "\(directory)/county.yaml", atomically: true, encoding: .utf8)

        var bus = try startBus(in: directory)
        let consumer = try await connect(directory, instance: "consumer")
        let subscription = try await consumer.subscribe("incident.>", durable: "analysis")
        let publisher = try await connect(directory, instance: "publisher")

        // 8 publishers race the kill; only receipts count as acknowledged.
        let acknowledged = Acknowledged()
        let publishing = Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        for index in 0..<100_000 {
                            let id = "w\(worker)-\(index)"
                            do {
                                try await publisher.publishConfirmed("incident.created", payload: Data(id.utf8), messageID: id)
                                acknowledged.insert(id)
                            } catch {
                                return
                            }
                        }
                    }
                }
            }
        }
        // The consumer acks what it sees until the bus dies.
        var acked = Set<String>()
        for await delivery in subscription {
            delivery.ack()
            acked.insert(delivery.messageID)
            if acked.count == 300 { break }
        }
        kill(bus.processIdentifier, SIGKILL)
        try await exited(bus)
        await publishing.value
        await consumer.close()
        await publisher.close()
        let confirmed = acknowledged.all
        #expect(confirmed.count >= 300)

        bus = try startBus(in: directory)
        defer {
            bus.terminate()
            bus.waitUntilExit()
        }
        let restarted = try await connect(directory, instance: "consumer")
        var seen = Set<String>()
        let missing = confirmed.subtracting(acked)
        for await delivery in try await restarted.subscribe("incident.>", durable: "analysis") {
            seen.insert(delivery.messageID)
            delivery.ack()
            if missing.isSubset(of: seen) { break }
        }
        #expect(missing.isSubset(of: seen), "every acknowledged, unconsumed message survived kill -9")
        await restarted.close()
    }
}

extension BusCrashTests {
    @Test("after kill -9 of a bus whose every message segment was deleted, new messages get new sequences and reach the consumer")
    func noSequenceReuseAfterKill() async throws {
        let directory = NSTemporaryDirectory() + "xf-crash-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
        county: Crash
        data_dir: data
        bus:
          durable_topics: ["incident.>"]
          segment_bytes: 4096
        clients:
          - name: tester
            credential: \(Self.secret)
            acl: { publish: ["incident.>"], subscribe: ["incident.>"], call: ["*"] }
        """.write(toFile: "\(directory)/county.yaml", atomically: true, encoding: .utf8)
        var highest: UInt64 = 0
        for round in 0..<3 {
            let bus = try startBus(in: directory)
            defer { if bus.isRunning { kill(bus.processIdentifier, SIGKILL) } }
            let consumer = try await connect(directory, instance: "consumer")
            let subscription = try await consumer.subscribe("incident.>", durable: "analysis", maxInFlight: 1_024)
            let publisher = try await connect(directory, instance: "publisher")
            var sequences: [UInt64] = []
            for index in 0..<300 {
                sequences.append(try await publisher.publishConfirmed("incident.created", payload: Data("\(round)-\(index)".utf8),
                                                                      messageID: "\(round)-\(index)").sequence)
            }
            #expect(sequences.min()! > highest, "round \(round): no sequence handed out twice")
            highest = sequences.max()!
            var received = 0
            for await delivery in subscription {
                delivery.ack()
                if delivery.messageID.hasPrefix("\(round)-") { received += 1 }
                if received == 300 { break }
            }
            #expect(received == 300)
            // The acks reach disk and the old segments go; then the bus dies without a word.
            let log = "\(directory)/data/bus-log"
            let deadline = ContinuousClock.now + .seconds(60)
            func segments() -> Int { ((try? FileManager.default.contentsOfDirectory(atPath: log)) ?? []).filter { $0.hasSuffix(".log") }.count }
            while segments() > 1 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(segments() == 1)
            kill(bus.processIdentifier, SIGKILL)
            try await exited(bus)
            await consumer.close()
            await publisher.close()
        }
    }
}

final class Acknowledged: @unchecked Sendable {
    private let lock = NSLock()
    private var ids = Set<String>()
    func insert(_ id: String) { lock.withLock { _ = ids.insert(id) } }
    var all: Set<String> { lock.withLock { ids } }
}
