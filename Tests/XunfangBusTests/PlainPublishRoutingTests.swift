import Foundation
import NIOCore
import SwiftProtobuf
import Testing
import XunfangBus
import XunfangProto
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
        #expect(fixture.broker.receivePlainPublish(try plain("unit.position", "fast", ref: 9, messageID: "m-2"), from: publisherID))
        #expect(fixture.broker.receivePlainPublish(try plain("unit.position", "fast"), from: publisherID))
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

    @Test("durable, refused and pre-handshake publishes are left to the general path")
    func declines() throws {
        let fixture = BrokerFixture()
        let (_, limitedID) = fixture.join("limited")
        #expect(!fixture.broker.receivePlainPublish(try plain("grid.changed", "x"), from: limitedID))
        #expect(!fixture.broker.receivePlainPublish(try plain("bad..topic", "x"), from: limitedID))
        let (_, aID) = fixture.join("a")
        #expect(!fixture.broker.receivePlainPublish(try plain("incident.created", "x"), from: aID))
        let early = fixture.broker.connect(FakePeer())
        #expect(!fixture.broker.receivePlainPublish(try plain("unit.position", "x"), from: early))
        #expect(fixture.broker.stats.published == 0)
    }
}
