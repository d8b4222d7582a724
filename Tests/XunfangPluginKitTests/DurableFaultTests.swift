import Foundation
import XunfangTestSupport
import Synchronization
import Testing
import XunfangBus
import XunfangBusServer
import XunfangPluginKit
#if canImport(Glibc)
import Glibc
#endif

/// The system's file calls, with faults switched on and off by the test: a full disk
/// (a write stores half its bytes, then fails with ENOSPC) or a failing fdatasync.
final class FaultySegmentFiles: SegmentFiles {
    enum Fault { case none, diskFull, syncFails }
    private let system = SystemSegmentFiles()
    private let fault = Mutex(Fault.none)
    private let writeCount = Mutex(0)

    func set(_ fault: Fault) { self.fault.withLock { $0 = fault } }
    /// Writes tried so far, failed ones included.
    var writes: Int { writeCount.withLock { $0 } }

    func openForAppend(_ path: String, create: Bool) throws -> Int32 { try system.openForAppend(path, create: create) }

    func write(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        writeCount.withLock { $0 += 1 }
        guard fault.withLock({ $0 }) == .diskFull else { return try system.write(descriptor, bytes, path: path) }
        try system.write(descriptor, UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count / 2)]), path: path)
        throw SegmentFileError("write", path, code: ENOSPC)
    }

    func sync(_ descriptor: Int32, path: String) throws {
        guard fault.withLock({ $0 }) == .syncFails else { return try system.sync(descriptor, path: path) }
        throw SegmentFileError("fdatasync", path, code: EIO)
    }

    func truncate(_ descriptor: Int32, to length: Int, path: String) throws { try system.truncate(descriptor, to: length, path: path) }
    func close(_ descriptor: Int32) { system.close(descriptor) }
    func remove(_ path: String) throws { try system.remove(path) }
    func syncDirectory(_ path: String) { system.syncDirectory(path) }
}

@Suite("Durable log under faults")
struct DurableFaultTests {
    func segments(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "\(directory)/bus-log").filter { $0.hasSuffix(".log") }.sorted()
    }

    /// Every message the durable consumer `name` is given from now on, acked, until `count` arrived.
    func drain(_ client: BusClient, durable name: String, count: Int) async throws -> [Delivery] {
        var seen: [Delivery] = []
        guard count > 0 else { return seen }
        for await delivery in try await client.subscribe("incident.>", durable: name, maxInFlight: 1_024) {
            delivery.ack()
            seen.append(delivery)
            if seen.count == count { break }
        }
        return seen
    }

    @Test("sequences are never handed out twice, though restarts follow rotations that deleted every segment with a message")
    func noSequenceReuse() async throws {
        let directory = temporaryDirectory()
        var sequences: [UInt64] = []
        for round in 0..<3 {
            let harness = try await Harness.start(.socket, directory: directory) { $0.bus.segmentBytes = 4_096 }
            let consumer = try await harness.client("tester", instance: "consumer")
            let publisher = try await harness.client("tester", instance: "pub")
            let subscription = try await consumer.subscribe("incident.>", durable: "analysis", maxInFlight: 1_024)
            for index in 0..<300 {
                let receipt = try await publisher.publishConfirmed("incident.created", payload: Data("\(round)-\(index)".utf8),
                                                                   messageID: "\(round)-\(index)")
                sequences.append(receipt.sequence)
            }
            var received: [String] = []
            for await delivery in subscription {
                delivery.ack()
                received.append(delivery.messageID)
                if received.count == 300 { break }
            }
            #expect(received == (0..<300).map { "\(round)-\($0)" }, "round \(round): every new message reaches the consumer")
            // The bus lets acknowledged segments go on its own timer; wait for the log to hold acks only.
            let deadline = ContinuousClock.now + .seconds(120)
            while try segments(directory).count > 1 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(try segments(directory).count == 1, "round \(round): every segment but the current one is deleted")
            await consumer.close()
            await publisher.close()
            await harness.server.stop()
        }
        #expect(Set(sequences).count == sequences.count, "no sequence was reused")
        #expect(sequences == sequences.sorted())
    }

    @Test("a full disk refuses exactly the messages it could not write; none is acknowledged later, none reappears", arguments: [
        FaultySegmentFiles.Fault.diskFull, .syncFails,
    ])
    func diskFull(fault: FaultySegmentFiles.Fault) async throws {
        let directory = temporaryDirectory()
        let files = FaultySegmentFiles()
        var acknowledged: [String] = []
        var lastSequence: UInt64 = 0
        do {
            let harness = try await Harness.start(.socket, directory: directory, segmentFiles: files) { $0.bus.segmentBytes = 2_048 }
            let consumer = try await harness.client("tester", instance: "consumer")
            _ = try await consumer.subscribe("incident.>", durable: "analysis")
            let publisher = try await harness.client("tester", instance: "pub")
            let bystander = try await harness.client("tester", instance: "bystander")
            for index in 0..<30 {
                let receipt = try await publisher.publishConfirmed("incident.created", payload: Data(repeating: 7, count: 100), messageID: "ok-\(index)")
                acknowledged.append("ok-\(index)")
                lastSequence = receipt.sequence
            }
            files.set(fault)
            for index in 0..<10 {
                let refusal = await #expect(throws: BusClientError.self) {
                    try await publisher.publishConfirmed("incident.created", payload: Data(repeating: 7, count: 100), messageID: "lost-\(index)")
                }
                #expect(refusal?.code == (fault == .diskFull ? .resourceExhausted : .unavailable), "\(String(describing: refusal))")
            }
            // A publisher that does not resend: once others write again, its message must not be acknowledged or kept.
            await #expect(throws: BusClientError.self) {
                try await bystander.publishConfirmed("incident.created", payload: Data(repeating: 7, count: 100), messageID: "given-up")
            }
            files.set(.none)
            for index in 0..<30 {
                // A write still in flight may fail after the disk recovered: publishers resend what was refused.
                var receipt: PublishReceipt?
                while receipt == nil {
                    receipt = try? await publisher.publishConfirmed("incident.created", payload: Data(repeating: 7, count: 100),
                                                                    messageID: "after-\(index)")
                }
                guard let receipt else { return }
                #expect(receipt.sequence > lastSequence)
                lastSequence = receipt.sequence
                acknowledged.append("after-\(index)")
            }
            let failures = try await harness.server.withBroker { $0.stats.durableWriteFailures }
            #expect(failures >= 1)
            await consumer.close()
            await publisher.close()
            await bystander.close()
            await harness.server.stop()
        }
        #expect(try LogSalvage.check(directory: "\(directory)/bus-log").allSatisfy(\.isIntact), "the log is consistent on disk")
        let harness = try await Harness.start(.socket, directory: directory)
        let consumer = try await harness.client("tester", instance: "consumer")
        let received = try await drain(consumer, durable: "analysis", count: acknowledged.count)
        #expect(received.map(\.messageID) == acknowledged)
        // Nothing else is waiting: a message published now is the next one delivered.
        let publisher = try await harness.client("tester", instance: "pub")
        try await publisher.publishConfirmed("incident.created", payload: Data(), messageID: "probe")
        #expect(try await drain(consumer, durable: "analysis", count: 1).map(\.messageID) == ["probe"])
        await consumer.close()
        await publisher.close()
        await harness.server.stop()
    }

    /// Publishes `count` confirmed messages `m0`, `m1`, ... and stops the bus.
    func fill(_ directory: String, count: Int, segmentBytes: Int = 64 * 1024 * 1024) async throws {
        let harness = try await Harness.start(.socket, directory: directory) { $0.bus.segmentBytes = segmentBytes }
        let consumer = try await harness.client("tester", instance: "consumer")
        _ = try await consumer.subscribe("incident.>", durable: "analysis")
        let publisher = try await harness.client("tester", instance: "pub")
        for index in 0..<count {
            try await publisher.publishConfirmed("incident.created", payload: Data("payload \(index)".utf8), messageID: "m\(index)")
        }
        await consumer.close()
        await publisher.close()
        await harness.server.stop()
    }

    func flipByte(in path: String, at offset: Int) throws {
        var bytes = try #require(FileManager.default.contents(atPath: path))
        bytes[offset] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: path))
    }

    @Test("one flipped byte in the middle of the last segment costs one record: the rest is kept, the damage quarantined and counted")
    func corruptLastSegment() async throws {
        let directory = temporaryDirectory()
        try await fill(directory, count: 600)
        let segment = "\(directory)/bus-log/00000000000000000001.log"
        let size = try #require(FileManager.default.attributesOfItem(atPath: segment)[.size] as? Int)
        try flipByte(in: segment, at: size / 2)

        let harness = try await Harness.start(.socket, directory: directory)
        let (corrupt, quarantined) = try await harness.server.withBroker { ($0.stats.durableCorruptRanges, $0.stats.durableQuarantinedBytes) }
        #expect(corrupt == 1 && quarantined > 0)
        let quarantine = try FileManager.default.contentsOfDirectory(atPath: "\(directory)/bus-log/quarantine")
        #expect(quarantine.count == 1)
        let consumer = try await harness.client("tester", instance: "consumer")
        let received = try await drain(consumer, durable: "analysis", count: 599)
        let ids = Set(received.map(\.messageID))
        #expect(ids.count == 599 && ids.isSubset(of: Set((0..<600).map { "m\($0)" })))
        #expect(ids.contains("m599"), "records after the damage are kept")
        await consumer.close()
        await harness.server.stop()
    }

    @Test("damage in an earlier segment stops the bus with directions; check names what is hit, repair keeps every intact record")
    func corruptEarlySegment() async throws {
        let directory = temporaryDirectory()
        try await fill(directory, count: 400, segmentBytes: 4_096)
        let log = "\(directory)/bus-log"
        let first = "\(log)/00000000000000000002.log"
        let size = try #require(FileManager.default.attributesOfItem(atPath: first)[.size] as? Int)
        try flipByte(in: first, at: size / 2)

        await #expect {
            _ = try await Harness.start(.socket, directory: directory) { $0.bus.segmentBytes = 4_096 }
        } throws: { error in
            "\(error)".contains("xunfang bus log repair") && "\(error)".contains("00000000000000000002.log")
        }
        let checked = try LogSalvage.check(directory: log)
        #expect(checked.filter { !$0.isIntact }.map(\.number) == [2])
        let repaired = try LogSalvage.repair(directory: log)
        #expect(repaired.first { $0.number == 2 }?.damage.first?.quarantinedTo != nil)
        #expect(try LogSalvage.check(directory: log).allSatisfy(\.isIntact))

        let harness = try await Harness.start(.socket, directory: directory) { $0.bus.segmentBytes = 4_096 }
        let consumer = try await harness.client("tester", instance: "consumer")
        let received = try await drain(consumer, durable: "analysis", count: 399)
        #expect(Set(received.map(\.messageID)).count == 399)
        await consumer.close()
        await harness.server.stop()
    }

    @Test("acks that cannot be written while the disk is full are tried again after a pause, not in a loop")
    func fullDiskRetriesAcksCalmly() async throws {
        let files = FaultySegmentFiles()
        let harness = try await Harness.start(.socket, segmentFiles: files)
        let publisher = try await harness.client("tester", instance: "pub")
        for index in 0..<20 {
            _ = try await publisher.publishConfirmed("incident.created", payload: Data(repeating: 7, count: 100), messageID: "m-\(index)")
        }
        let consumer = try await harness.client("tester", instance: "consumer")
        files.set(.diskFull)
        _ = try await drain(consumer, durable: "analysis", count: 20)   // each ack is a record to write
        try await Task.sleep(for: .milliseconds(300))
        let before = files.writes
        try await Task.sleep(for: .seconds(2))
        let tried = files.writes - before
        #expect(tried >= 1 && tried <= 20, "writes tried in 2 s of a full disk with acks waiting: \(tried)")
        files.set(.none)
        await consumer.close()
        await publisher.close()
        await harness.server.stop()
    }

    @Test("DropSession closes a plugin's connection as a network would: it reconnects by itself and its subscription hears again; an unknown instance is refused")
    func droppedSessionReconnects() async throws {
        let harness = try await Harness.start(.socket)
        let worker = try await harness.client(instance: "worker")
        let jobs = try await worker.subscribe("jobs.>")
        let operator_ = try await harness.client(instance: "operator")
        let heard = Task { () -> Int in
            var count = 0
            for await _ in jobs {
                count += 1
                if count == 2 { break }
            }
            return count
        }
        try await operator_.publish("jobs.before", payload: Data("1".utf8))
        let dropped = try await operator_.callRaw("/xunfang.bus.v1.Bus/DropSession", payload: Data(#"{"instance":"worker"}"#.utf8))
        #expect(String(decoding: dropped, as: UTF8.self).contains("\"dropped\":\"worker\""))
        let back = await eventually(within: 30) {
            (try? await harness.server.withBroker { $0.sessionSnapshots().contains { $0.instance == "worker" && $0.subscriptions == 1 } }) ?? false
        }
        #expect(back, "the worker connected again with its subscription")
        // Published until the reconnected subscription has heard (a plain one hears nothing while away).
        let publishing = Task {
            while !Task.isCancelled {
                try? await operator_.publish("jobs.after", payload: Data("2".utf8))
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        let watchdog = Task { try await Task.sleep(for: .seconds(30)); heard.cancel() }
        #expect(await heard.value == 2, "heard again after the drop")
        publishing.cancel()
        watchdog.cancel()
        await #expect(throws: BusClientError.self) {
            _ = try await operator_.callRaw("/xunfang.bus.v1.Bus/DropSession", payload: Data(#"{"instance":"nobody"}"#.utf8))
        }
        await operator_.close()
        await worker.close()
        await harness.server.stop()
    }

    @Test("ctl's DeleteConsumer removes a durable consumer for good: it is gone after a restart")
    func deletedConsumerStaysDeleted() async throws {
        let directory = temporaryDirectory()
        do {
            let harness = try await Harness.start(.socket, directory: directory)
            let consumer = try await harness.client(instance: "consumer")
            _ = try await consumer.subscribe("incident.>", durable: "retired")
            await consumer.close()
            let operator_ = try await harness.client(instance: "operator")
            let listed = try await operator_.callRaw("/xunfang.bus.v1.Bus/Consumers", payload: Data())
            #expect(String(decoding: listed, as: UTF8.self).contains("\"retired\""))
            _ = try await operator_.callRaw("/xunfang.bus.v1.Bus/DeleteConsumer", payload: Data(#"{"name":"retired"}"#.utf8))
            await #expect(throws: BusClientError.self) {
                _ = try await operator_.callRaw("/xunfang.bus.v1.Bus/DeleteConsumer", payload: Data(#"{"name":"retired"}"#.utf8))
            }
            await operator_.close()
            await harness.server.stop()
        }
        let harness = try await Harness.start(.socket, directory: directory)
        let consumers = try await harness.server.withBroker { $0.durableSnapshots().map(\.name) }
        #expect(consumers.isEmpty)
        await harness.server.stop()
    }
}
