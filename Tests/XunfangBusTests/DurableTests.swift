import Foundation
import Logging
import Testing
import XunfangBus

import XunfangWire

@Suite("Durable delivery")
struct DurableTests {
    func ack(_ fixture: BrokerFixture, _ id: SessionID, _ subscription: UInt64, _ sequences: [UInt64]) {
        var frame = Frame()
        frame.ack.subscriptionID = subscription
        frame.ack.sequences = sequences
        fixture.broker.receive(frame, from: id)
    }

    @Test("a durable publish is acknowledged only after the log has synced it")
    func receiptAfterSync() throws {
        let fixture = BrokerFixture()
        let (publisher, publisherID) = fixture.join("b")
        fixture.publish(publisherID, "incident.created", "fire", ref: 1)
        #expect(publisher.frames.isEmpty)
        #expect(fixture.log!.syncRequested)
        fixture.broker.logSynced(through: 1)
        guard case .receipt(let receipt) = publisher.frames.first?.kind else {
            Issue.record("no receipt after sync")
            return
        }
        #expect(receipt.sequence == 1)
        #expect(receipt.code == 0)
    }

    @Test("a durable consumer that dies mid-stream gets the unacknowledged rest after it comes back")
    func resumeAfterSubscriberDeath() {
        let fixture = BrokerFixture()
        let (_, publisherID) = fixture.join("b")
        var (consumer, consumerID) = fixture.join("a")
        fixture.subscribe(consumerID, 1, "incident.*", durable: "analysis")
        for index in 1...10 { fixture.publish(publisherID, "incident.created", "\(index)") }
        fixture.broker.logSynced(through: 10)
        #expect(consumer.delivers.count == 10)
        ack(fixture, consumerID, 1, [1, 2, 3, 4])
        fixture.broker.disconnect(consumerID)  // killed before acking 5...10
        for index in 11...12 { fixture.publish(publisherID, "incident.created", "\(index)") }
        fixture.broker.logSynced(through: 12)
        (consumer, consumerID) = fixture.join("a")
        fixture.subscribe(consumerID, 7, "incident.*", durable: "analysis")
        let received = consumer.delivers.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(received == (5...12).map(String.init))
        #expect(consumer.delivers.allSatisfy { $0.subscriptionID == 7 })
        #expect(consumer.delivers.prefix(6).allSatisfy { $0.deliveryAttempt == 2 })
        #expect(consumer.delivers.last?.deliveryAttempt == 1)
    }

    @Test("deliveries pause at the in-flight limit and resume as acks arrive")
    func inFlightLimit() {
        let fixture = BrokerFixture()
        let (_, publisherID) = fixture.join("b")
        let (consumer, consumerID) = fixture.join("a")
        fixture.subscribe(consumerID, 1, "incident.>", durable: "d", maxInFlight: 3)
        for index in 1...8 { fixture.publish(publisherID, "incident.x", "\(index)") }
        fixture.broker.logSynced(through: 8)
        #expect(consumer.delivers.map(\.sequence) == [1, 2, 3])
        ack(fixture, consumerID, 1, [1, 2])
        #expect(consumer.delivers.map(\.sequence) == [1, 2, 3, 4, 5])
    }

    @Test("unacknowledged deliveries are sent again after the redelivery timeout")
    func redeliveryTimeout() {
        let fixture = BrokerFixture()
        let (_, publisherID) = fixture.join("b")
        let (consumer, consumerID) = fixture.join("a")
        fixture.subscribe(consumerID, 1, "incident.>", durable: "d")
        fixture.publish(publisherID, "incident.x", "1")
        fixture.broker.logSynced(through: 1)
        _ = consumer.take()
        for _ in 0..<30 {
            fixture.clock.advance(1_000)
            var pong = Frame()
            pong.pong.nonce = 0
            fixture.broker.receive(pong, from: consumerID)
            fixture.broker.tick()
        }
        #expect(consumer.delivers.map(\.deliveryAttempt) == [2])
        #expect(fixture.broker.stats.redelivered == 1)
    }

    @Test("after a bus restart from the log, acknowledged-to-publisher messages reach the consumer and acked ones do not")
    func restartFromLog() {
        let log = MemoryLog()
        do {
            let fixture = BrokerFixture(log: log)
            let (_, publisherID) = fixture.join("b")
            let (_, consumerID) = fixture.join("a")
            fixture.subscribe(consumerID, 1, "incident.>", durable: "d")
            for index in 1...5 { fixture.publish(publisherID, "incident.x", "\(index)") }
            fixture.broker.logSynced(through: 5)
            log.synced = 5
            ack(fixture, consumerID, 1, [1, 2])
            fixture.publish(publisherID, "incident.x", "never-synced")  // not acknowledged: may be lost
        }
        let restarted = BrokerFixture(log: log)
        let (consumer, consumerID) = restarted.join("a")
        restarted.subscribe(consumerID, 1, "incident.>", durable: "d")
        #expect(consumer.delivers.map { String(decoding: $0.payload, as: UTF8.self) } == ["3", "4", "5"])
    }

    @Test("two bindings of one durable consumer share its messages")
    func sharedDurable() {
        let fixture = BrokerFixture()
        let (_, publisherID) = fixture.join("b")
        let (first, firstID) = fixture.join("a", instance: "a-1")
        let (second, secondID) = fixture.join("a", instance: "a-2")
        fixture.subscribe(firstID, 1, "incident.>", durable: "d")
        fixture.subscribe(secondID, 1, "incident.>", durable: "d")
        for index in 1...10 { fixture.publish(publisherID, "incident.x", "\(index)") }
        fixture.broker.logSynced(through: 10)
        #expect(first.delivers.count + second.delivers.count == 10)
        #expect(first.delivers.count == 5)
    }

    @Test("durable subscriptions are refused on non-durable topics")
    func durableNeedsDurableTopic() {
        let fixture = BrokerFixture()
        let (peer, id) = fixture.join("a")
        var frame = Frame()
        frame.subscribe.subscriptionID = 1
        frame.subscribe.pattern = "unit.position"
        frame.subscribe.durableName = "d"
        frame.subscribe.receiptRef = 9
        fixture.broker.receive(frame, from: id)
        guard case .receipt(let receipt) = peer.frames.first?.kind else {
            Issue.record("no receipt")
            return
        }
        #expect(receipt.code == StatusCode.invalidArgument.rawValue)
    }
}

@Suite("Durable memory bound")
struct DurableMemoryTests {
    @Test("a consumer that is away costs disk, not memory: only the newest payloads stay cached, the rest are read back")
    func cacheBound() {
        let fixture = BrokerFixture(durableCacheLimit: 8)
        let (_, publisherID) = fixture.join("b")
        var (consumer, consumerID) = fixture.join("a")
        fixture.subscribe(consumerID, 1, "incident.>", durable: "d")
        fixture.broker.disconnect(consumerID)
        for index in 1...100 { fixture.publish(publisherID, "incident.x", "\(index)") }
        fixture.broker.logSynced(through: 100)
        #expect(fixture.broker.cachedDurablePayloads == 8)
        (consumer, consumerID) = fixture.join("a")
        fixture.subscribe(consumerID, 1, "incident.>", durable: "d", maxInFlight: 1_000)
        #expect(consumer.delivers.map { String(decoding: $0.payload, as: UTF8.self) } == (1...100).map(String.init))
        #expect(fixture.log!.reads == 92)
    }

    @Test("a few acknowledged messages are forgotten within a second, on the tick")
    func forgetOnTick() {
        let fixture = BrokerFixture()
        let (_, publisherID) = fixture.join("b")
        let (_, consumerID) = fixture.join("a")
        fixture.subscribe(consumerID, 1, "incident.>", durable: "d")
        for index in 1...3 { fixture.publish(publisherID, "incident.x", "\(index)") }
        fixture.broker.logSynced(through: 3)
        var ack = Frame()
        ack.ack.subscriptionID = 1
        ack.ack.sequences = [1, 2]
        fixture.broker.receive(ack, from: consumerID)
        fixture.broker.tick()
        #expect(fixture.log!.forgotten.isEmpty || fixture.log!.forgotten == [1, 2])
        fixture.clock.advance(1_000)
        var pong = Frame()
        pong.pong.nonce = 0
        fixture.broker.receive(pong, from: consumerID)
        fixture.broker.tick()
        #expect(fixture.log!.forgotten == [1, 2])
    }

    @Test("messages every consumer acknowledged are forgotten by the log, so it can drop their segments")
    func forgetAcked() {
        let fixture = BrokerFixture()
        let (_, publisherID) = fixture.join("b")
        let (_, consumerID) = fixture.join("a")
        fixture.subscribe(consumerID, 1, "incident.>", durable: "d", maxInFlight: 5_000)
        for index in 1...4_096 { fixture.publish(publisherID, "incident.x", "\(index)") }
        fixture.broker.logSynced(through: 4_096)
        var ack = Frame()
        ack.ack.subscriptionID = 1
        ack.ack.sequences = Array(1...4_096)
        fixture.broker.receive(ack, from: consumerID)
        #expect(fixture.log!.forgotten.count == 4_096)
    }
}
