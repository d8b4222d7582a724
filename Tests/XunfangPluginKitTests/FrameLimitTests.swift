import Foundation
import XunfangTestSupport
import Testing
import XunfangBus
import XunfangBusServer
import XunfangPluginKit

@Suite("Each receiver's frame limit")
struct FrameLimitTests {
    func randomBytes(_ count: Int) -> Data {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    @Test("a subscriber that takes 1 KiB frames gets larger messages compressed, is told of one that cannot fit, and keeps going")
    func smallReceiver() async throws {
        let harness = try await Harness.start(.socket)
        let small = BusClient(transport: harness.transport, manifest: PluginManifest(name: "tester", version: "1.0.0"),
                              instance: "small", credential: secret, logger: quiet, maxFrameBytes: 1_024)
        try await small.start()
        let subscription = try await small.subscribe("template.>")
        let publisher = try await harness.client(instance: "pub")
        let compressible = Data(repeating: 0x41, count: 4_000)
        try await publisher.publish("template.big", payload: compressible, messageID: "compressible")
        try await publisher.publish("template.big", payload: randomBytes(4_000), messageID: "random")
        try await publisher.publish("template.small", payload: Data("after".utf8), messageID: "after")
        var received: [(String, Data)] = []
        for await delivery in subscription {
            received.append((delivery.messageID, delivery.payload))
            if received.count == 2 { break }
        }
        #expect(received.map(\.0) == ["compressible", "after"])
        #expect(received.first?.1 == compressible)
        let refused = try await harness.server.withBroker { $0.stats.oversizeRefused }
        #expect(refused == 1)
        await small.close()
        await publisher.close()
        await harness.server.stop()
    }

    @Test("a 10 MiB message published compressed reaches a subscriber with the default 4 MiB frames compressed")
    func compressedThrough() async throws {
        let harness = try await Harness.start(.socket)
        let subscriber = try await harness.client(instance: "sub")
        let subscription = try await subscriber.subscribe("template.>")
        let publisher = try await harness.client(instance: "pub")
        let payload = Data(repeating: 0, count: 10 * 1024 * 1024)
        try await publisher.publish("template.huge", payload: payload)
        var iterator = subscription.makeAsyncIterator()
        let delivery = try #require(await iterator.next())
        #expect(delivery.payload == payload)
        await subscriber.close()
        await publisher.close()
        await harness.server.stop()
    }

    @Test("a durable message too large for its consumer is skipped for it once, not redelivered forever")
    func durableTooLarge() async throws {
        let directory = temporaryDirectory()
        let harness = try await Harness.start(.socket, directory: directory)
        let consumer = BusClient(transport: harness.transport, manifest: PluginManifest(name: "tester", version: "1.0.0"),
                                 instance: "small", credential: secret, logger: quiet, maxFrameBytes: 1_024)
        try await consumer.start()
        let subscription = try await consumer.subscribe("incident.>", durable: "small")
        let publisher = try await harness.client(instance: "pub")
        try await publisher.publishConfirmed("incident.created", payload: randomBytes(4_000), messageID: "too-big")
        try await publisher.publishConfirmed("incident.created", payload: Data("fits".utf8), messageID: "fits")
        var iterator = subscription.makeAsyncIterator()
        let first = try #require(await iterator.next())
        #expect(first.messageID == "fits")
        first.ack()
        _ = try await consumer.callRaw("/xunfang.bus.v1.Bus/Stats", payload: Data())
        let pending = try await harness.server.withBroker { broker in broker.durableSnapshots().first { $0.name == "small" }?.pending }
        #expect(pending == 0, "nothing is left for the consumer")
        await consumer.close()
        await publisher.close()
        await harness.server.stop()
    }
}
