import Foundation
import Testing
import XunfangBus
import XunfangConfig

import XunfangWire

@Suite("Durable retention and consumers")
struct RetentionTests {
    let day: UInt64 = 86_400_000

    func rule(_ topics: String, days: Int? = nil, messages: Int? = nil, discardOld: Bool = true) -> RetentionRule {
        RetentionRule(topics: try! TopicPattern(topics), maxAgeDays: days, maxMessages: messages, discardOld: discardOld)
    }

    /// Publishes `count` durable messages and lets the log sync them.
    func publish(_ fixture: BrokerFixture, _ id: SessionID, count: Int, topic: String = "incident.created", ref: UInt64 = 0) {
        for index in 0..<count { fixture.publish(id, topic, "message \(index)", ref: ref == 0 ? 0 : ref + UInt64(index)) }
        fixture.broker.logSynced(through: UInt64(fixture.log!.records.count))
    }

    @Test("a year of unclaimed incidents at the demo's rate stays within its 30-day rule; older ones are let go from the log")
    func yearAtDemoRate() {
        let fixture = BrokerFixture(retention: [rule("incident.>", days: 30)])
        var most = 0
        // The demo county takes about 150 incidents a day; each becomes a durable message.
        for number in 0..<365 {
            // A day of silence drops a session, so each day's desk connects anew.
            let (_, publisher) = fixture.join("a", instance: "desk-\(number)")
            publish(fixture, publisher, count: 150)
            fixture.clock.advance(day)
            fixture.broker.tick()
            most = max(most, fixture.broker.durableRetained.messages)
        }
        #expect(most <= 31 * 150, "kept at most a month: \(most)")
        #expect(fixture.broker.durableRetained.messages <= 30 * 150)
        #expect(fixture.log!.records.count == 365 * 150)
        #expect(fixture.log!.forgotten.count >= 334 * 150, "the rest may go from disk")
        #expect(fixture.broker.stats.durableDiscarded == UInt64(fixture.log!.forgotten.count))
    }

    @Test("durable topics no rule names keep the default 30 days")
    func defaultRule() {
        let fixture = BrokerFixture()
        let (_, publisher) = fixture.join("a")
        publish(fixture, publisher, count: 10)
        #expect(fixture.broker.durableRetained.messages == 10)
        fixture.clock.advance(UInt64(RetentionRule.defaultMaxAgeDays - 1) * day)
        fixture.broker.tick()
        #expect(fixture.broker.durableRetained.messages == 10)
        fixture.clock.advance(2 * day)
        fixture.broker.tick()
        #expect(fixture.broker.durableRetained.messages == 0)
    }

    @Test("discard old keeps the newest N, acknowledged or not; the consumer gets only those")
    func discardOld() {
        let fixture = BrokerFixture(retention: [rule("incident.>", messages: 10)])
        let (publisherPeer, publisher) = fixture.join("a")
        _ = publisherPeer
        publish(fixture, publisher, count: 25)
        fixture.clock.advance(1_000)
        fixture.broker.tick()
        #expect(fixture.broker.durableRetained.messages == 10)
        #expect(fixture.broker.stats.durableDiscarded == 15)
        let (consumer, consumerID) = fixture.join("b")
        fixture.subscribe(consumerID, 1, "incident.>", durable: "late")
        #expect(consumer.delivers.map(\.sequence) == Array(16...25))
    }

    @Test("discard new refuses publishes at the limit with RESOURCE_EXHAUSTED, and accepts again once consumers let messages go")
    func discardNew() {
        let fixture = BrokerFixture(retention: [rule("incident.>", messages: 5, discardOld: false)])
        let (consumer, consumerID) = fixture.join("b")
        fixture.subscribe(consumerID, 1, "incident.>", durable: "desk", maxInFlight: 100)
        let (publisherPeer, publisher) = fixture.join("a")
        publisherPeer.frames.removeAll()
        publish(fixture, publisher, count: 7, ref: 100)
        let codes = publisherPeer.take().compactMap { frame -> UInt32? in
            if case .receipt(let receipt) = frame.kind { return receipt.code }
            return nil
        }
        #expect(codes.filter { $0 == 0 }.count == 5)
        #expect(codes.filter { $0 == StatusCode.resourceExhausted.rawValue }.count == 2)
        #expect(fixture.broker.stats.durableRefusedByRetention == 2)
        // The consumer acknowledges everything; the messages go, and there is room again.
        var ack = Frame()
        ack.ack.subscriptionID = 1
        ack.ack.sequences = consumer.delivers.map(\.sequence)
        fixture.broker.receive(ack, from: consumerID)
        fixture.clock.advance(1_000)
        fixture.broker.tick()
        publish(fixture, publisher, count: 1, ref: 500)
        guard case .receipt(let receipt)? = publisherPeer.take().last?.kind else {
            Issue.record("no receipt")
            return
        }
        #expect(receipt.code == 0)
    }

    @Test("a consumer is deleted only when nobody is bound; its deletion is logged and what only it needed is let go")
    func deleteConsumer() {
        let fixture = BrokerFixture(retention: [rule("incident.>", days: 365)])
        let (_, consumerID) = fixture.join("b")
        fixture.subscribe(consumerID, 1, "incident.>", durable: "old-desk")
        let (_, publisher) = fixture.join("a")
        publish(fixture, publisher, count: 3)
        #expect(fixture.broker.deleteDurableConsumer("old-desk")?.code == .failedPrecondition)
        #expect(fixture.broker.deleteDurableConsumer("nobody")?.code == .notFound)
        fixture.broker.disconnect(consumerID)
        #expect(fixture.broker.deleteDurableConsumer("old-desk") == nil)
        #expect(fixture.log!.consumers["old-desk"] == "", "the deletion is in the log")
        #expect(fixture.broker.durableSnapshots().isEmpty)
        // Unclaimed now, the messages stay under their rule for the next consumer to come.
        #expect(fixture.broker.durableRetained.messages == 3)
    }
}
