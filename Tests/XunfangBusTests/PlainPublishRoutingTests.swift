import Foundation
import NIOCore
import SwiftProtobuf
import Testing
import XunfangBus

import XunfangWire

@Suite("Plain publish through the broker")
struct PlainPublishRoutingTests {
    func plain(_ topic: String, _ text: String, ref: UInt64 = 0, messageID: String = "") throws -> PlainPublish {
        var frame = Frame()
        frame.publish.topic = topic
        frame.publish.payload = Data(text.utf8)
        frame.publish.receiptRef = ref
        frame.publish.messageID = messageID
        return try #require(PlainPublish(frame: try frame.serializedBytes() as ByteBuffer))
    }

    @Test("the fast path delivers what the general path delivers")
    func sameDelivery() throws {
        let fixture = BrokerFixture()
        let (subscriber, subscriberID) = fixture.join("a")
        let (publisher, publisherID) = fixture.join("b")
        fixture.subscribe(subscriberID, 1, "unit.*")
        _ = subscriber.take()
        fixture.publish(publisherID, "unit.position", "slow", messageID: "m-1")
        #expect(fixture.fast(try plain("unit.position", "fast", ref: 9, messageID: "m-2"), from: publisherID))
        #expect(fixture.fast(try plain("unit.position", "fast"), from: publisherID))
        let delivers = subscriber.delivers
        #expect(delivers.count == 3)
        guard delivers.count == 3 else { return }
        var general = delivers[0]
        var fast = delivers[1]
        #expect(String(decoding: fast.payload, as: UTF8.self) == "fast")
        #expect(fast.messageID == "m-2")
        #expect(!delivers[2].messageID.isEmpty && delivers[2].messageID != fast.messageID)
        general.payload = Data()
        general.messageID = ""
        fast.payload = Data()
        fast.messageID = ""
        #expect(general == fast)
        guard case .receipt(let receipt) = publisher.frames.last?.kind else {
            Issue.record("no receipt: \(publisher.frames)")
            return
        }
        #expect(receipt.ref == 9 && receipt.code == 0 && receipt.messageID == "m-2")
    }

    @Test("a remembered route follows subscribes, unsubscribes and disconnects")
    func routeFollowsChanges() throws {
        let fixture = BrokerFixture()
        let (publisher, publisherID) = fixture.join("a")
        let (first, firstID) = fixture.join("b")
        fixture.subscribe(firstID, 1, "unit.position")
        #expect(fixture.fast(try plain("unit.position", "1"), from: publisherID))
        let (second, secondID) = fixture.join("c")
        fixture.subscribe(secondID, 7, "unit.>")
        #expect(fixture.fast(try plain("unit.position", "2"), from: publisherID))
        var unsubscribe = Frame()
        unsubscribe.unsubscribe.subscriptionID = 1
        fixture.broker.receive(unsubscribe, from: firstID)
        #expect(fixture.fast(try plain("unit.position", "3"), from: publisherID))
        fixture.broker.disconnect(secondID)
        #expect(fixture.fast(try plain("unit.position", "4"), from: publisherID))
        #expect(first.delivers.map { String(decoding: $0.payload, as: UTF8.self) } == ["1", "2"])
        #expect(second.delivers.map { String(decoding: $0.payload, as: UTF8.self) } == ["2", "3"])
        #expect(second.delivers.allSatisfy { $0.subscriptionID == 7 && $0.publisher == "a" })
        #expect(publisher.delivers.isEmpty)
        #expect(fixture.broker.stats.published == 4 && fixture.broker.stats.delivered == 4)
    }

    @Test("a message held for a slow subscriber, or sent to several, arrives whole")
    func heldAndShared() throws {
        let fixture = BrokerFixture()
        let (_, publisherID) = fixture.join("a")
        let (slow, slowID) = fixture.join("b")
        let (quick, quickID) = fixture.join("c")
        fixture.subscribe(slowID, 1, "unit.position")
        fixture.subscribe(quickID, 2, "unit.position")
        slow.isWritable = false
        let payloads = (0..<3).map { String(repeating: "p\($0)", count: 40) }
        for payload in payloads { #expect(fixture.fast(try plain("unit.position", payload), from: publisherID)) }
        #expect(slow.delivers.isEmpty)
        slow.isWritable = true
        fixture.broker.peerBecameWritable(slowID)
        for peer in [slow, quick] {
            #expect(peer.delivers.map { String(decoding: $0.payload, as: UTF8.self) } == payloads)
            #expect(Set(peer.delivers.map(\.messageID)).count == 3)
            #expect(peer.delivers.allSatisfy { $0.publishedAtUnixMs == fixture.clock.unixMilliseconds() && $0.deliveryAttempt == 1 })
        }
        #expect(slow.delivers.map(\.messageID) == quick.delivers.map(\.messageID))
    }

    @Test("durable, refused and pre-handshake publishes are left to the general path")
    func declines() throws {
        let fixture = BrokerFixture()
        let (_, limitedID) = fixture.join("limited")
        #expect(!fixture.fast(try plain("grid.changed", "x"), from: limitedID))
        #expect(!fixture.fast(try plain("bad..topic", "x"), from: limitedID))
        let early = fixture.broker.connect(FakePeer())
        #expect(!fixture.fast(try plain("unit.position", "x"), from: early))
        #expect(fixture.broker.stats.published == 0)
        // Without a log the general path answers a durable topic with UNAVAILABLE.
        let logless = BrokerFixture(log: nil)
        let (_, aID) = logless.join("a")
        #expect(!logless.fast(try plain("incident.created", "x", ref: 3), from: aID))
    }

    @Test("a durable plain publish goes to the log, its receipt and deliveries after the sync", arguments: [false, true])
    func durable(framesPeer: Bool) throws {
        let fixture = BrokerFixture()
        let (publisher, publisherID) = fixture.join("a")
        let (subscriber, subscriberID) = fixture.join("b")
        publisher.takesFrames = framesPeer
        fixture.subscribe(subscriberID, 4, "incident.>")
        _ = subscriber.take()
        #expect(fixture.fast(try plain("incident.created", "fire", ref: 8, messageID: "i-1"), from: publisherID))
        #expect(fixture.fast(try plain("incident.created", "flood"), from: publisherID))
        #expect(fixture.log!.records.map { String(decoding: $0.payload, as: UTF8.self) } == ["fire", "flood"])
        #expect(fixture.log!.records.allSatisfy { $0.publisher == "a" && !$0.messageID.isEmpty && $0.publishedAtUnixMs > 0 })
        #expect(publisher.frames.isEmpty && subscriber.delivers.isEmpty)
        fixture.broker.logSynced(through: 2)
        guard case .receipt(let receipt) = publisher.frames.first?.kind else {
            Issue.record("no receipt after the sync: \(publisher.frames)")
            return
        }
        #expect(receipt.ref == 8 && receipt.sequence == 1 && receipt.messageID == "i-1" && receipt.code == 0)
        #expect(subscriber.delivers.map(\.messageID) == fixture.log!.records.map(\.messageID))
    }
}

extension BrokerFixture {
    /// The transport's fast path, at the fixture clock's time.
    func fast(_ publish: PlainPublish, from id: SessionID) -> Bool {
        broker.receivePlainPublish(publish, from: id, at: ArrivalTime(clock))
    }
}
